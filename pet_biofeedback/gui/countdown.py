"""A gentle start: "Get ready — starting in 3", 2, 1 above the session page, then recording.

Calm on purpose (issue 8: nothing flashes): the words change once a second, no colours
blink. "Start now" (or Enter) skips it; "Stop session" during it cancels the session before
anything is recorded. It keeps no clock of its own beyond the one-second steps it awaits.
"""

from __future__ import annotations

import asyncio
from typing import Final, Literal

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

__all__ = ["COUNTDOWN_S", "CountdownBanner", "CountdownEnd"]

COUNTDOWN_S: Final = 3  # seconds of "get ready" before a session records
_STEP_S: Final = 1.0  # the words change this often
_STYLE: Final = """
QFrame#countdown { background: #E8F1F8; border: 1px solid #B6D4EA; border-radius: 8px; }
QLabel#countdownText { color: #102030; font-size: 20pt; font-weight: bold; }
QLabel#countdownHint { color: #3A4A5A; font-size: 12pt; }
QPushButton { font-size: 13pt; padding: 6px 16px; }
"""

CountdownEnd = Literal["started", "skipped", "cancelled"]


class CountdownBanner(QFrame):
    """The "get ready" banner (module docstring); hidden unless counting down."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("countdown")
        self.setStyleSheet(_STYLE)
        self.text = QLabel("")
        self.text.setObjectName("countdownText")
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint = QLabel("Sit comfortably, let your shoulders drop, breathe calmly.")
        self.hint.setObjectName("countdownHint")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setWordWrap(True)
        self.start_button = QPushButton("Start &now")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(lambda: self._end("skipped"))
        words = QVBoxLayout()
        words.addWidget(self.text)
        words.addWidget(self.hint)
        row = QHBoxLayout(self)
        row.setContentsMargins(16, 10, 16, 10)
        row.addLayout(words, 1)
        row.addWidget(self.start_button)
        self.setAccessibleName("Get ready")
        self._ended: asyncio.Future[CountdownEnd] | None = None
        self.hide()

    def cancel(self) -> None:
        """The session is stopped before it started: nothing will be recorded."""
        self._end("cancelled")

    def skip(self) -> None:
        """Start now."""
        self._end("skipped")

    def _end(self, how: CountdownEnd) -> None:
        if self._ended is not None and not self._ended.done():
            self._ended.set_result(how)

    async def run(self, seconds: int = COUNTDOWN_S) -> CountdownEnd:
        """Count ``seconds`` down (one step a second); how it ended."""
        self._ended = asyncio.get_running_loop().create_future()
        self.show()
        self.start_button.setFocus()
        try:
            for left in range(seconds, 0, -1):
                self.text.setText(f"Get ready — starting in {left}")
                self.setAccessibleDescription(self.text.text())
                done, _ = await asyncio.wait({self._ended}, timeout=_STEP_S)
                if done:
                    return self._ended.result()
            return "started"
        finally:
            self._end("started")
            self.hide()
