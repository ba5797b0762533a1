"""The ECG or ACC samples of a recording, kept compact while reading (issue 6).

A 24-h H10 recording holds 11 million ECG samples and 17 million 3-axis ACC samples. Kept as
the events' tuples of Python floats they took ~285 MB per hour; here they go into growing
float32 buffers (4 bytes a value: the H10 sends whole µV and mG, which float32 holds exactly up
to 16 million) with one (t, fs, n) entry per frame, and are handed out again in time windows.

Sample times are rebuilt from the frames as before: a frame's ``t`` is the time of its last
sample, the others lie ``1/fs`` apart before it. Frames can overlap in time (the host stamps
them on arrival, with jitter) or repeat, so the samples of all frames are ordered by time and
repeated times dropped, the earliest in the file winning -- per time window here, which gives
exactly what one sort of the whole recording gave, in memory bounded by the window.
"""

from __future__ import annotations

import itertools
import logging
import math
import sys
from array import array
from collections.abc import Iterator, Sequence
from typing import Any, Final, TypeAlias

import numpy as np
import numpy.typing as npt

__all__ = ["WINDOW_S", "FrameSamples"]

logger = logging.getLogger(__name__)

FloatArray: TypeAlias = npt.NDArray[np.float64]
Float32Array: TypeAlias = npt.NDArray[np.float32]
IndexArray: TypeAlias = npt.NDArray[np.intp]

WINDOW_S: Final = 300.0  # default time window handed out by `FrameSamples.windows`
# A frame's samples are found by their first sample time; this much slack covers rounding.
_SELECT_SLACK_S: Final = 1.0


class FrameSamples:
    """Samples of one stream's frames (ECG: one channel; ACC: three), appended while reading.

    Parameters
    ----------
    n_channels : int
        Values per sample: 1 for ECG (frames carry numbers), 3 for ACC (frames carry
        ``(x, y, z)`` triples).

    Notes
    -----
    The buffers are `array.array` objects: they grow in place (amortised, no Python object per
    value) and numpy reads them without a copy. Frames with a sampling rate that is not a
    positive finite number cannot be placed in time; they are skipped and counted in
    `n_skipped_frames`.
    """

    def __init__(self, n_channels: int) -> None:
        if n_channels < 1:
            raise ValueError(f"n_channels must be at least 1, got {n_channels}")
        self.n_channels = n_channels
        self.n_skipped_frames = 0
        self._t_last = array("d")
        self._fs = array("d")
        self._n = array("q")
        self._values = array("f")

    @property
    def n_frames(self) -> int:
        """Frames kept."""
        return len(self._n)

    @property
    def n_samples(self) -> int:
        """Samples kept, repeats included."""
        return len(self._values) // self.n_channels

    @property
    def nbytes(self) -> int:
        """Bytes the buffers hold, with what they reserved to grow (memory accounting)."""
        return sum(sys.getsizeof(b) for b in (self._t_last, self._fs, self._n, self._values))

    @property
    def first_fs_hz(self) -> float:
        """Sampling rate of the first frame kept, Hz (the rate the analysis uses)."""
        return self._fs[0]

    def append(self, t: float, fs_hz: float, values: Sequence[Any] | FloatArray) -> None:
        """Add one frame: ``t`` of its last sample (s), its rate (Hz), its samples in order.

        ``values`` are numbers (one channel) or sequences of ``n_channels`` numbers, or an
        array of them, shape ``(n,)`` or ``(n, n_channels)`` (`recording.frame_arrays`: what a
        frame's producer kept, converted in one go).
        """
        if len(values) == 0:
            return
        if not (math.isfinite(fs_hz) and fs_hz > 0.0):
            if self.n_skipped_frames == 0:
                logger.warning("frame at %.3f s skipped: sampling rate %r Hz", t, fs_hz)
            self.n_skipped_frames += 1
            return
        if isinstance(values, np.ndarray):
            # float32 as `array` rounds a double; C order is x, y, z sample after sample
            if values.size != len(values) * self.n_channels:
                raise ValueError(f"expected {self.n_channels} values per sample")
            self._values.frombytes(values.astype(np.float32).tobytes())
        elif self.n_channels == 1:
            self._values.extend(values)
        else:
            self._values.extend(itertools.chain.from_iterable(values))
        self._t_last.append(t)
        self._fs.append(fs_hz)
        self._n.append(len(values))

    def windows(self, window_s: float = WINDOW_S) -> Iterator[tuple[FloatArray, Float32Array]]:
        """The samples in time order, repeats dropped, as consecutive time windows.

        Yields
        ------
        t_s : ndarray of float64, shape (n,)
            Sample times, s, strictly increasing within and across windows.
        values : ndarray of float32, shape (n,) or (n, n_channels)
            The samples at those times (the earliest frame in the file wins a repeated time).

        Notes
        -----
        Concatenated, the windows equal ordering all samples by time (stably, so file order
        breaks ties) and dropping each sample whose time equals the previous one. Windows are
        ``window_s`` long except the last, which reaches to the last sample; after a pause in
        the recording the next window starts at the next frame. Do not `append` while a window
        is alive (the buffers are shared with it; `array` refuses to grow then).
        """
        if not (math.isfinite(window_s) and window_s > 0.0):
            raise ValueError(f"window_s must be a positive number of seconds, got {window_s!r}")
        if self.n_frames == 0:
            return
        t_last = np.frombuffer(self._t_last, dtype=np.float64)
        fs = np.frombuffer(self._fs, dtype=np.float64)
        n = np.frombuffer(self._n, dtype=np.int64)
        values: Float32Array = np.frombuffer(self._values, dtype=np.float32)
        if self.n_channels > 1:
            values = values.reshape(-1, self.n_channels)
        offset = np.cumsum(n) - n
        # The same expression as each frame's first sample time in _frame_sample_times.
        t_first = t_last - (n - 1) / fs
        by_start = np.argsort(t_first, kind="stable")
        start_sorted = t_first[by_start]
        longest_s = float(np.max(t_last - t_first)) + _SELECT_SLACK_S
        t_hi = float(np.max(t_last))
        hi_s = -math.inf
        while hi_s < math.inf:
            # A window starts where the last ended and lasts window_s from there, or from the
            # next frame after a pause in the recording (no runs of empty windows); the last
            # one reaches to the end. Any increasing boundaries give the same samples.
            lo_s = hi_s
            i_next = int(np.searchsorted(start_sorted, lo_s, side="left"))
            base_s = lo_s if i_next == start_sorted.size else max(lo_s, start_sorted[i_next])
            hi_s = base_s + window_s
            if hi_s > t_hi or not hi_s > lo_s:  # the end (or times too large to step)
                hi_s = math.inf
            # Frames whose samples reach [lo_s, hi_s), in file order (ties go to the earliest).
            i0 = int(np.searchsorted(start_sorted, lo_s - longest_s, side="left"))
            i1 = int(np.searchsorted(start_sorted, hi_s, side="left"))
            frames = np.sort(by_start[i0:i1])
            frames = frames[t_last[frames] >= lo_s]
            if frames.size == 0:
                continue
            t_s, idx = _frame_sample_times(t_last[frames], fs[frames], n[frames], offset[frames])
            order = np.argsort(t_s, kind="stable")
            t_s, idx = t_s[order], idx[order]
            a = int(np.searchsorted(t_s, lo_s, side="left"))
            b = int(np.searchsorted(t_s, hi_s, side="left"))
            t_s, idx = t_s[a:b], idx[a:b]
            keep = np.concatenate(([True], np.diff(t_s) > 0)) if t_s.size else np.empty(0, bool)
            if np.any(keep):
                yield t_s[keep], values[idx[keep]]


def _frame_sample_times(
    t_last: FloatArray, fs: FloatArray, n: npt.NDArray[np.int64], offset: npt.NDArray[np.int64]
) -> tuple[FloatArray, IndexArray]:
    """Time and buffer index of every sample of the given frames, frame by frame."""
    frame_idx = np.repeat(np.arange(n.size), n)
    within = np.arange(frame_idx.size) - np.repeat(np.cumsum(n) - n, n)
    t_s: FloatArray = t_last[frame_idx] - (n[frame_idx] - 1 - within) / fs[frame_idx]
    idx: IndexArray = (offset[frame_idx] + within).astype(np.intp)
    return t_s, idx
