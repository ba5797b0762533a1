"""The heart-rate curve over the last minute and a half, with the pacer's wave behind it.

It draws a `TraceArrays` — ready arrays from `session/trace.py` — and nothing else: the wave
behind the curve is where the heart rate should rise (breathing in) and fall (breathing out).
Redrawn once per beat, not per frame (docs/design.md §8: a 60 Hz curve costs a quarter core),
and then only once (`set_arrays`), with the faint heart-rate grid drawn as one curve of line
pairs: pyqtgraph's own axis grid repainted the axis across the whole plot and doubled the cost
of a redraw (benchmarks/gui_session.py).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QPen
from PySide6.QtWidgets import QWidget

from pet_biofeedback.session.trace import TraceArrays

__all__ = ["HeartRateView"]

_GRID_ALPHA: Final = 0.15  # faint: a guide to read the numbers, not a pattern to look at
_WAVE_EVERY_NTH: Final = 3


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
        for name in ("left", "bottom"):
            # Seconds stay seconds: after 1000 s pyqtgraph would relabel the axis "time (ks)"
            # with ticks 1.42, 1.43… (and rewrite the label's HTML at every beat).
            item.getAxis(name).enableAutoSIPrefix(False)
        self._grid = pg.PlotDataItem(pen=self._grid_pen())
        self._grid.setZValue(-1)
        item.addItem(self._grid, ignoreBounds=True)  # the grid follows the range, not leads it
        self._wave = self.plot(pen=pg.mkPen("#56B4E9", width=6))
        # The wave comes at 10 samples/s (901 points for 90 s, more than the plot has pixels);
        # every third point still gives ≥ 20 points a breath, and a 6-px pen costs per point.
        self._wave.setDownsampling(ds=_WAVE_EVERY_NTH, method="subsample")
        self._onsets = self.plot(pen=pg.mkPen("#0072B2", width=1, style=Qt.PenStyle.DotLine))
        self._hr = self.plot(pen=pg.mkPen("#D55E00", width=3))
        self._hr.setZValue(2)

    def _grid_pen(self) -> QPen:
        colour = QColor(self.getPlotItem().getAxis("left").pen().color())
        colour.setAlphaF(_GRID_ALPHA)
        pen: QPen = pg.mkPen(colour, width=1)
        return pen

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
        # Room above the plot for half a number: the top tick's label is centred on the
        # plot's upper edge and was cut in half by the window at large text sizes.
        item.setContentsMargins(0, pixels // 2 + 2, 0, pixels // 4)

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
        # Settle the new range and transform now: left to the paint, they would change the
        # scene during it and schedule a second full repaint of the plot for every beat.
        self.scene().prepareForPaint()
        self._draw_grid(arrays.t_start_s, arrays.t_end_s)

    def _draw_grid(self, t_start_s: float, t_end_s: float) -> None:
        """Faint lines at the heart-rate axis's major ticks across the shown time."""
        axis = self.getPlotItem().getAxis("left")
        low, high = self.getPlotItem().getViewBox().viewRange()[1]
        levels = axis.tickValues(low, high, max(axis.height(), 1.0))
        ticks = np.asarray(levels[0][1] if levels else [], dtype=float)
        ticks = ticks[(ticks >= low) & (ticks <= high)]
        self._grid.setData(
            np.tile([t_start_s, t_end_s], ticks.size), np.repeat(ticks, 2), connect="pairs"
        )
