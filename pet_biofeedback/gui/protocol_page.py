"""Step one of a session: practice, baseline or resonance assessment (issue 8).

Three large buttons, each with one line on what it is. The descriptions (lengths, rates) come
from the composition root, which knows the settings; the page only emits the choice.
"""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

__all__ = ["PROTOCOLS", "ProtocolChoiceView"]

PROTOCOLS: Final = ("practice", "baseline", "assessment")
_TITLES: Final = {
    "practice": "&Practice — breathe with the guide",
    "baseline": "&Baseline — breathe freely, no guide",
    "assessment": "&Resonance assessment — find your breathing rate",
}
_STYLE: Final = """
QLabel#heading { font-size: 20pt; font-weight: bold; color: #102030; }
QLabel#what { font-size: 12pt; color: #3A4A5A; margin: 0 0 10px 4px; }
QPushButton { font-size: 14pt; padding: 12px; text-align: left; }
"""


class ProtocolChoiceView(QWidget):
    """Choose the kind of session; ``chosen`` carries one of `PROTOCOLS`."""

    chosen = Signal(str)
    back_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.base_style = _STYLE  # scaled by the large-text setting (look.scaled_style)
        self.setStyleSheet(_STYLE)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 24, 32, 24)
        heading = QLabel("What would you like to do?")
        heading.setObjectName("heading")
        layout.addWidget(heading)
        self.buttons: dict[str, QPushButton] = {}
        self.descriptions: dict[str, QLabel] = {}
        for protocol in PROTOCOLS:
            button = QPushButton(_TITLES[protocol])
            button.clicked.connect(lambda _=False, p=protocol: self.chosen.emit(p))
            what = QLabel("")
            what.setObjectName("what")
            what.setWordWrap(True)
            layout.addWidget(button)
            layout.addWidget(what)
            self.buttons[protocol] = button
            self.descriptions[protocol] = what
        layout.addStretch(1)
        self.back_button = QPushButton("&Back to the start")
        self.back_button.clicked.connect(self.back_requested)
        layout.addWidget(self.back_button)

    def set_description(self, protocol: str, text: str) -> None:
        self.descriptions[protocol].setText(text)
        self.buttons[protocol].setAccessibleDescription(text)
