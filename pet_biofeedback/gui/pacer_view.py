"""The breathing guide: a calm circle that grows while breathing in and shrinks breathing out.

It draws the `PacerState` it is given — the lung fill as the circle's size, what to do in
words and the seconds left in this part of the breath. It computes nothing and owns no clock:
the window asks the engine for the state at display rate and hands it over.
"""

from __future__ import annotations

import math
from typing import Final

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from pet_biofeedback.session.pacer import PacerState

__all__ = ["PacerView"]

_WORDS: Final = {
    "inhale": "Breathe in",
    "hold_in": "Hold",
    "exhale": "Breathe out",
    "hold_out": "Hold",
}
_MIN_RADIUS_SHARE: Final = 0.28  # the empty-lungs circle, as a share of the largest radius


class PacerView(QWidget):
    """Draws a `PacerState`; None shows "Breathe freely"."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(220, 220)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName("Breathing guide")
        self._state: PacerState | None = None
        self.fill = QColor("#56B4E9")  # Okabe–Ito sky blue: colour-blind safe
        self.ring = QColor("#0072B2")
        self.text = QColor("#102030")
        self.background = QColor("#F6F8FA")
        self.halo = QColor("#FFFFFF")
        self.text_scale = 1.0

    @property
    def state(self) -> PacerState | None:
        return self._state

    def set_state(self, state: PacerState | None) -> None:
        if state == self._state:
            return
        self._state = state
        self.update()

    def set_colours(self, *, fill: str, ring: str, text: str, halo: str, background: str) -> None:
        self.fill, self.ring = QColor(fill), QColor(ring)
        self.text, self.halo, self.background = QColor(text), QColor(halo), QColor(background)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), self.background)
        side = min(self.width(), self.height())
        centre = QPointF(self.width() / 2, self.height() / 2)
        r_max = side * 0.46
        state = self._state
        guide = 0.5 if state is None else state.guide
        radius = r_max * (_MIN_RADIUS_SHARE + (1 - _MIN_RADIUS_SHARE) * guide)
        # the outline of full lungs, so the target is always visible
        painter.setPen(QPen(self.ring, max(2.0, side / 150), Qt.PenStyle.DotLine))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(centre, r_max, r_max)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.fill)
        painter.drawEllipse(centre, radius, radius)
        words = "Breathe freely" if state is None else _WORDS[state.part]
        font = QFont(self.font())
        font.setPixelSize(max(12, int(side * 0.085 * self.text_scale)))
        font.setBold(True)
        self._outlined_text(painter, font, words, centre.y() - side * 0.04, side)
        if state is not None:
            font.setPixelSize(max(12, int(side * 0.13 * self.text_scale)))
            font.setBold(False)
            left = f"{math.ceil(state.part_left_s)}"
            self._outlined_text(painter, font, left, centre.y() + side * 0.12, side)
        painter.end()

    def _outlined_text(
        self, painter: QPainter, font: QFont, text: str, baseline_y: float, side: float
    ) -> None:
        """Centred text with a halo, readable on the circle and on the background alike."""
        path = QPainterPath()
        width = QFontMetricsF(font).horizontalAdvance(text)
        path.addText(QPointF((self.width() - width) / 2, baseline_y), font, text)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.strokePath(path, QPen(self.halo, max(3.0, side / 90)))
        painter.fillPath(path, self.text)
