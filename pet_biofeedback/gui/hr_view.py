"""The heart-rate curve over the last minute and a half, with the pacer's wave behind it.

It draws a `TraceArrays` — ready arrays from `session/trace.py` — and nothing else: the wave
behind the curve is where the heart rate should rise (breathing in) and fall (breathing out).
Redrawn once per beat, not per frame (docs/design.md §8: a 60 Hz curve costs a quarter core).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QWidget

from pet_biofeedback.session.trace import TraceArrays

__all__ = ["HeartRateView"]


class HeartRateView(pg.PlotWidget):  # type: ignore[misc]  # pyqtgraph is untyped
    """Heart rate (bpm) against session time (s)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent=parent, background="#FFFFFF")
        self.setAccessibleName("Heart rate with the breathing wave")
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        item = self.getPlotItem()
        item.setLabel("left", "heart rate", units="bpm")
        item.setLabel("bottom", "time", units="s")
        item.showGrid(x=False, y=True, alpha=0.15)
        self._wave = self.plot(pen=pg.mkPen("#56B4E9", width=6))
        self._onsets = self.plot(pen=pg.mkPen("#0072B2", width=1, style=Qt.PenStyle.DotLine))
        self._hr = self.plot(pen=pg.mkPen("#D55E00", width=3))
        self._hr.setZValue(2)

    def set_colours(self, *, heart: str, wave: str, background: str) -> None:
        self.setBackground(background)
        self._hr.setPen(pg.mkPen(heart, width=3))
        self._wave.setPen(pg.mkPen(wave, width=6))

    def set_text_size(self, pixels: int) -> None:
        """Axis numbers and labels at ``pixels`` high (presentation mode: readable when shared)."""
        font = QFont(self.font())
        font.setPixelSize(pixels)
        item = self.getPlotItem()
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setStyle(tickFont=font)
            axis.label.setFont(font)

    def set_arrays(self, arrays: TraceArrays) -> None:
        self._wave.setData(arrays.target_t_s, arrays.target_bpm)
        self._hr.setData(arrays.t_s, arrays.hr_bpm)
        if arrays.onset_t_s.size and arrays.target_bpm.size:
            low, high = float(arrays.target_bpm.min()), float(arrays.target_bpm.max())
            x = np.repeat(arrays.onset_t_s, 2)
            y = np.tile([low, high], arrays.onset_t_s.size)
            self._onsets.setData(x, y, connect="pairs")
        else:
            self._onsets.setData([], [])
        self.setXRange(arrays.t_start_s, arrays.t_end_s, padding=0)
