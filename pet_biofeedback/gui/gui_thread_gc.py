"""Python's cyclic garbage collected on the GUI thread only, while Qt runs.

The app runs worker threads beside Qt (the recorder's writer, `asyncio.to_thread` for files and
reports). CPython runs a cyclic collection in whichever thread happens to allocate when a
threshold is crossed; if the garbage holds Qt widgets (pyqtgraph's plots form reference
cycles), their C++ destructors then run on a worker thread and Qt crashes (a segmentation
fault in the test suite, after a replay page was dropped). So, as pyqtgraph recommends
(`pyqtgraph.util.garbage_collector`), automatic collection is switched off while the GUI runs
and a timer on the GUI thread collects with the same generation thresholds.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from PySide6.QtCore import QTimer

__all__ = ["CHECK_INTERVAL_MS", "gui_thread_gc"]

CHECK_INTERVAL_MS: Final = 500  # how often the GUI thread looks at the generation counts


def _collect_as_due(thresholds: tuple[int, int, int]) -> None:
    count0, count1, count2 = gc.get_count()
    if count0 > thresholds[0]:
        generation = 0
        if count1 > thresholds[1]:
            generation = 2 if count2 > thresholds[2] else 1
        gc.collect(generation)


@contextmanager
def gui_thread_gc() -> Iterator[QTimer]:
    """Collect cyclic garbage only on this (the GUI) thread while the block runs; the timer.

    On leaving, everything is collected once more here and automatic collection is restored
    as it was.
    """
    was_enabled = gc.isenabled()
    thresholds = gc.get_threshold()
    timer = QTimer()
    timer.setInterval(CHECK_INTERVAL_MS)
    timer.timeout.connect(lambda: _collect_as_due(thresholds))
    gc.disable()
    timer.start()
    try:
        yield timer
    finally:
        timer.stop()
        gc.collect()
        if was_enabled:
            gc.enable()
