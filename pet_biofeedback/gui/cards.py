"""Feedback cards: the snapshot's numbers in plain words, and the signal quality.

Each card shows one measure with its level (low / medium / high, in words as well as colour, so
it reads without colour vision) and one line on what it means. While the engine pauses the
feedback the cards say why, in the engine's words, instead of showing numbers.
"""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QVBoxLayout, QWidget

from pet_biofeedback.session.breathing_words import breathing_text
from pet_biofeedback.session.feedback import FeedbackSnapshot, Level

__all__ = ["FeedbackCards"]

_LEVEL_COLOURS: Final = {"low": "#E69F00", "medium": "#56B4E9", "high": "#009E73"}
_LEVEL_WORDS: Final = {"low": "low", "medium": "medium", "high": "high"}


class _Card(QFrame):
    def __init__(self, title: str, explanation: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        self.title = QLabel(title)
        self.title.setObjectName("cardTitle")
        self.value = QLabel("—")
        self.value.setObjectName("cardValue")
        self.level = QLabel("")
        self.level.setObjectName("cardLevel")
        self.explanation = QLabel(explanation)
        self.explanation.setObjectName("cardExplanation")
        self.explanation.setWordWrap(True)
        for w in (self.title, self.value, self.level, self.explanation):
            layout.addWidget(w)
        self.setAccessibleName(title)

    def show_value(
        self, text: str, level: Level | None = None, colours: dict[str, str] | None = None
    ) -> None:
        self.value.setText(text)
        if level is None:
            self.level.setText("")
            self.level.setStyleSheet("")
        else:
            colour = (colours or _LEVEL_COLOURS)[level]
            self.level.setText(f"● {_LEVEL_WORDS[level]}")
            self.level.setStyleSheet(f"color: {colour}; font-weight: bold;")


class FeedbackCards(QWidget):
    """The four measure cards, the signal-quality line and the measured breathing."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        self.rsa = _Card(
            "Heart-rate swing", "How much your heart rate rises and falls with each breath."
        )
        self.coherence = _Card(
            "Coherence", "How smooth and wave-like your heart rhythm is (higher is calmer)."
        )
        self.hr = _Card("Heart rate", "Beats per minute, right now.")
        self.rmssd = _Card("RMSSD", "Beat-to-beat variation, a sign of a relaxed body.")
        for k, card in enumerate((self.rsa, self.coherence, self.hr, self.rmssd)):
            grid.addWidget(card, 0, k)
        self.quality = QLabel("Waiting for heartbeats…")
        self.quality.setObjectName("quality")
        self.quality.setWordWrap(True)
        self.quality.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        grid.addWidget(self.quality, 1, 0, 1, 4)
        self.breathing = QLabel("Breathing —")  # the measured rate and where it comes from
        self.breathing.setObjectName("breathing")
        self.breathing.setWordWrap(True)
        grid.addWidget(self.breathing, 2, 0, 1, 4)
        self._colours: dict[str, str] = dict(_LEVEL_COLOURS)

    def set_level_colours(self, *, low: str, medium: str, high: str) -> None:
        """The colours of low / medium / high (the palette chosen in the settings)."""
        self._colours = {"low": low, "medium": medium, "high": high}

    def set_snapshot(self, s: FeedbackSnapshot) -> None:
        self.hr.show_value(f"{s.hr_bpm:.0f} bpm")
        self.breathing.setText(
            f"Breathing {breathing_text(s.breathing_breaths_per_min, s.breathing_source)}"
        )
        if not s.quality.ok:
            for card in (self.rsa, self.coherence, self.rmssd):
                card.show_value("paused")
            self.quality.setText(f"Feedback paused: {s.quality.reason}")
            self.quality.setProperty("paused", True)
        else:
            self.rsa.show_value(
                "—" if s.rsa_bpm is None else f"{s.rsa_bpm:.0f} bpm", s.rsa_level, self._colours
            )
            self.coherence.show_value(
                "—" if s.coherence is None else f"{s.coherence:.1f}",
                s.coherence_level,
                self._colours,
            )
            self.rmssd.show_value("—" if s.rmssd_ms is None else f"{s.rmssd_ms:.0f} ms")
            corrected = f"{s.quality.corrected_pct:.0f} % beats corrected"
            self.quality.setText(f"Signal good ({corrected} in the last 30 s)")
            self.quality.setProperty("paused", False)
        self.quality.style().unpolish(self.quality)
        self.quality.style().polish(self.quality)
