"""The breathing guide: a calm circle that grows while breathing in and shrinks breathing out.

It draws the `PacerState` it is given — the lung fill as the circle's size, what to do in
words and the seconds left in this part of the breath. It computes nothing and owns no clock:
the window asks the engine for the state at display rate and hands it over.

It is repainted about 60 times a second, so each frame only copies two cached pictures and fills
one circle: the background with the dotted full-lungs outline, and each outlined text (its
glyph outlines stroked with a halo, the costly part), are drawn once per size and colour scheme
and kept as pixmaps (benchmarks/gui_session.py: a frame 2.2 → 0.3 ms, offscreen).
"""

from __future__ import annotations

import math
from typing import Final

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPixmap,
    QResizeEvent,
)
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
# Texts in the cache: 3 phrases and the seconds left (≤ 30 s a part) fit many times over.
_MAX_CACHED_TEXTS: Final = 64


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
        self._background: QPixmap | None = None  # background + full-lungs outline, this size
        # (text, pixel size, bold, device pixel ratio) → the outlined text and its top-left
        # from the baseline origin; the key covers text_scale, and set_colours, resizing and a
        # new font empty it
        self._texts: dict[tuple[str, int, bool, float], tuple[QPixmap, QPointF]] = {}

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
        self._forget_pictures()
        self.update()

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._forget_pictures()
        super().resizeEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.FontChange:
            self._forget_pictures()
        super().changeEvent(event)

    def _forget_pictures(self) -> None:
        self._background = None
        self._texts.clear()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        side = min(self.width(), self.height())
        centre = QPointF(self.width() / 2, self.height() / 2)
        r_max = side * 0.46
        state = self._state
        guide = 0.5 if state is None else state.guide
        radius = r_max * (_MIN_RADIUS_SHARE + (1 - _MIN_RADIUS_SHARE) * guide)
        painter.drawPixmap(0, 0, self._background_picture(side, centre, r_max))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.fill)
        painter.drawEllipse(centre, radius, radius)
        words = "Breathe freely" if state is None else _WORDS[state.part]
        words_px = max(12, int(side * 0.085 * self.text_scale))
        self._draw_text(painter, words, words_px, True, centre.y() - side * 0.04, side)
        if state is not None:
            left_px = max(12, int(side * 0.13 * self.text_scale))
            left = f"{math.ceil(state.part_left_s)}"
            self._draw_text(painter, left, left_px, False, centre.y() + side * 0.12, side)
        painter.end()

    def _background_picture(self, side: float, centre: QPointF, r_max: float) -> QPixmap:
        """The background with the outline of full lungs (the target is always visible)."""
        ratio = self.devicePixelRatioF()
        if self._background is not None and self._background.devicePixelRatio() == ratio:
            return self._background  # (moved to a screen of another pixel density: redrawn)
        pixmap = QPixmap(round(self.width() * ratio), round(self.height() * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(self.background)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(self.ring, max(2.0, side / 150), Qt.PenStyle.DotLine))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(centre, r_max, r_max)
        painter.end()
        self._background = pixmap
        return pixmap

    def _draw_text(
        self, painter: QPainter, text: str, pixels: int, bold: bool, baseline_y: float, side: float
    ) -> None:
        """Centred text with a halo, readable on the circle and on the background alike."""
        key = (text, pixels, bold, self.devicePixelRatioF())
        cached = self._texts.get(key)
        if cached is None:
            if len(self._texts) >= _MAX_CACHED_TEXTS:
                self._texts.clear()
            cached = self._texts[key] = self._outlined_text(text, pixels, bold, side)
        pixmap, offset = cached
        width = pixmap.width() / pixmap.devicePixelRatio()
        painter.drawPixmap(QPointF((self.width() - width) / 2, baseline_y + offset.y()), pixmap)

    def _outlined_text(
        self, text: str, pixels: int, bold: bool, side: float
    ) -> tuple[QPixmap, QPointF]:
        """``text`` outlined with a halo in a pixmap, and where the baseline origin lies in it."""
        font = QFont(self.font())
        font.setPixelSize(pixels)
        font.setBold(bold)
        path = QPainterPath()
        path.addText(QPointF(0, 0), font, text)
        halo_px = max(3.0, side / 90)
        advance = QFontMetricsF(font).horizontalAdvance(text)
        # as wide as the text's advance (it is centred by its advance, as before) plus the halo
        box = path.boundingRect().united(QRectF(0, 0, advance, 0))
        box.adjust(-halo_px, -halo_px, halo_px, halo_px)
        # symmetric about the advance's middle, so centring the pixmap centres the text
        half = max(advance / 2 - box.left(), box.right() - advance / 2)
        box = QRectF(advance / 2 - half, box.top(), 2 * half, box.height())
        ratio = self.devicePixelRatioF()
        pixmap = QPixmap(math.ceil(box.width() * ratio), math.ceil(box.height() * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.translate(-box.left(), -box.top())
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.strokePath(path, QPen(self.halo, halo_px))
        painter.fillPath(path, self.text)
        painter.end()
        return pixmap, QPointF(box.left(), box.top())
