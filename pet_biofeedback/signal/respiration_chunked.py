"""Breathing from a long chest ACC record in bounded memory (issue 6: 24-h H10 recordings).

`breathing_from_acc_chunks` gives what `respiration.breathing_from_acc` gives for the same
samples and times, but takes them as consecutive chunks and never holds more than about one
``chunk_s`` of the 200 Hz signal. Only the first steps of hrv-methods.md §8.1 see the raw rate
(resample on timestamps → 1 Hz low-pass → 4 Hz grid); they run block by block here. Everything
after (detrend, principal component, breathing band, rate, onsets) runs on the whole 4 Hz
signal as before: 24 h of it is 346 000 samples.

Why the blocks agree with the whole-record filter: each block of the uniform grid is low-passed
together with ``OVERLAP_S`` of signal on both sides, and only its middle is kept. The forward
pass of the zero-phase filter is causal and the backward pass anti-causal, so a block's middle
differs from the whole-record result only by the start-up transients at the segment's ends,
which decay as exp(−2π·0.38·1 Hz·t) for the 4th-order 1 Hz Butterworth (its slowest pole):
after 30 s they are below 1e-31 of the signal, far under float64 rounding. The first block
starts and the last block ends where the record does, with the same edge padding as the whole-
record filter. A record that fits in one block is computed exactly as `breathing_from_acc`.
The only other difference is the constant removed before filtering (the mean of the first
block instead of the whole record); it only conditions the numbers (gravity, ≈ 1000 mG, out)
and the detrend removes it, so the results agree to rounding (≈ 1e-12 relative).

The blocks are processed one after the other on purpose: each needs the samples that follow
it, and their count is bounded by the record length over ``chunk_s`` (288 for 24 h at the
default), so the loop costs nothing next to the vectorised work inside each block.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy import signal as sps

from pet_biofeedback.errors import SignalInputError
from pet_biofeedback.signal._respiration_constants import (
    MIN_ACC_FS_HZ,
    MIN_DURATION_S,
    WORK_FS_HZ,
)
from pet_biofeedback.signal._typing import FloatArray
from pet_biofeedback.signal._validate import as_1d_float
from pet_biofeedback.signal.respiration import (
    BreathingEstimate,
    _acc_lowpass_sos,
    _as_acc,
    _check_rate,
    _empty_estimate,
    _estimate_from_work,
    _interp_columns,
)

__all__ = ["CHUNK_S", "OVERLAP_S", "breathing_from_acc_chunks"]

CHUNK_S: Final = 300.0  # default block of the uniform grid kept per step, s
# Signal low-passed on each side of a block and then dropped (module docstring), s.
OVERLAP_S: Final = 30.0
# Grid-length tolerance of respiration._uniform_grid (kept identical here).
_GRID_EPS: Final = 1e-9


def breathing_from_acc_chunks(
    chunks: Iterable[tuple[npt.ArrayLike, npt.ArrayLike]],
    fs_hz: float,
    *,
    chunk_s: float = CHUNK_S,
) -> BreathingEstimate:
    """Estimate breathing from a long chest ACC record given in time-ordered chunks.

    Parameters
    ----------
    chunks : iterable of (t_s, acc_mg)
        Consecutive pieces of one record: ``t_s`` shape (n,) sample times in s, ``acc_mg``
        shape (n, 3) acceleration in mG (float32 is fine; it is widened per block). The times
        must be finite and strictly increasing within and across chunks; empty chunks are
        skipped. Consumed lazily, so a generator keeps only one chunk in memory.
    fs_hz : float
        Nominal sampling rate in Hz (at least 5): the rate of the uniform grid the samples are
        interpolated onto, as ``t_s`` in `breathing_from_acc`.
    chunk_s : float, optional
        Length of the grid block filtered per step, s (default 300; at least ``OVERLAP_S``).
        Memory grows with it, not with the record.

    Returns
    -------
    BreathingEstimate
        As ``breathing_from_acc(concatenated acc_mg, fs_hz, t_s=concatenated t_s)``, to
        rounding (module docstring); NaN rate and empty arrays for less than 20 s.

    Raises
    ------
    SignalInputError
        If a chunk is not ``(n,)`` times with ``(n, 3)`` finite values, the times are not
        finite and strictly increasing across the whole record, or ``fs_hz``/``chunk_s`` are
        out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from pet_biofeedback.signal.respiration_chunked import breathing_from_acc_chunks
    >>> fs_hz = 50.0
    >>> t = np.arange(int(1200 * fs_hz)) / fs_hz
    >>> tilt = 0.02 * np.sin(2 * np.pi * 0.1 * t)  # rad, 6 breaths/min
    >>> acc_mg = 1000 * np.column_stack([np.sin(0.6 + tilt), 0 * t, np.cos(0.6 + tilt)])
    >>> pieces = ((t[i : i + 9000], acc_mg[i : i + 9000]) for i in range(0, t.size, 9000))
    >>> est = breathing_from_acc_chunks(pieces, fs_hz, chunk_s=120.0)
    >>> round(est.rate_breaths_per_min, 1)
    6.0
    """
    fs = _check_rate(fs_hz, "fs_hz", minimum=MIN_ACC_FS_HZ)
    block_s = _check_rate(chunk_s, "chunk_s", minimum=OVERLAP_S)
    front = _LowpassFrontEnd(fs, block_n=round(block_s * fs), overlap_n=math.ceil(OVERLAP_S * fs))
    for t_chunk, acc_chunk in chunks:
        front.push(*_checked_chunk(t_chunk, acc_chunk))
    if front.n_seen < 2 or front.t_last - front.t_first < MIN_DURATION_S:
        return _empty_estimate()
    work_t, low = front.finish()
    return _estimate_from_work(work_t, low)


def _checked_chunk(
    t_chunk: npt.ArrayLike, acc_chunk: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """One chunk as float64 times (n,) and float64 values (n, 3), validated."""
    t = as_1d_float(t_chunk, "t_s")
    acc = _as_acc(acc_chunk)
    if t.size != acc.shape[0]:
        raise SignalInputError(
            f"t_s must have one time per ACC sample: {t.size} times for {acc.shape[0]} samples"
        )
    if t.size > 1 and np.any(np.diff(t) <= 0):
        raise SignalInputError("t_s must be strictly increasing")
    return t, acc


class _LowpassFrontEnd:
    """Uniform grid → 1 Hz low-pass → 4 Hz grid, one block of the uniform grid at a time.

    Grid index ``k`` is at ``t_first + k / fs`` and 4 Hz index ``j`` at ``t_first + j / 4``,
    computed with the same expressions as `respiration._uniform_grid` so that every value is
    the one the whole-record computation uses.
    """

    def __init__(self, fs: float, *, block_n: int, overlap_n: int) -> None:
        self.fs = fs
        self.block_n = block_n
        self.overlap_n = overlap_n
        self.sos = _acc_lowpass_sos(fs)
        self.n_seen = 0
        self.t_first = math.nan
        self.t_last = -math.inf
        self.k_done = 0  # grid samples [0, k_done) have been low-passed and kept
        self.j_done = 0  # 4 Hz samples [0, j_done) are final
        self.offset_mg: FloatArray | None = None
        self._t = np.empty(0)  # raw samples still needed, times
        self._acc = np.empty((0, 3))
        self._new_t: list[FloatArray] = []  # pushed, not yet in _t/_acc
        self._new_acc: list[FloatArray] = []
        self._out_t: list[FloatArray] = []
        self._out: list[FloatArray] = []

    def push(self, t: FloatArray, acc: FloatArray) -> None:
        if t.size == 0:
            return
        if not t[0] > self.t_last:
            raise SignalInputError("t_s must be strictly increasing across chunks")
        if self.n_seen == 0:
            self.t_first = float(t[0])
        self.n_seen += t.size
        self.t_last = float(t[-1])
        self._new_t.append(t)
        self._new_acc.append(acc)
        # Grid points before the last one are bracketed by samples already seen (the last
        # one may lie a rounding step past the newest sample, whose successor decides it).
        n_grid_known = self._n_grid(self.t_last) - 1
        if self.k_done + self.block_n + self.overlap_n <= n_grid_known:
            self._consolidate()
        while self.k_done + self.block_n + self.overlap_n <= n_grid_known:
            self._block(self.k_done + self.block_n, n_grid=None)

    def finish(self) -> tuple[FloatArray, FloatArray]:
        """The 4 Hz times and low-passed ACC (n_work, 3) of the whole record."""
        self._consolidate()
        n_grid = self._n_grid(self.t_last)
        self._block(n_grid, n_grid=n_grid)
        return np.concatenate(self._out_t), np.concatenate(self._out)

    def _consolidate(self) -> None:
        """Append the chunks pushed since the last block to the raw-sample buffer."""
        if self._new_t:
            self._t = np.concatenate([self._t, *self._new_t])
            self._acc = np.concatenate([self._acc, *self._new_acc])
            self._new_t, self._new_acc = [], []

    def _n_grid(self, t_end: float) -> int:
        return int(np.floor((t_end - self.t_first) * self.fs + _GRID_EPS)) + 1

    def _grid_t(self, k_lo: int, k_hi: int) -> FloatArray:
        grid: FloatArray = self.t_first + np.arange(k_lo, k_hi) / self.fs
        return grid

    def _block(self, k_hi: int, *, n_grid: int | None) -> None:
        """Low-pass grid [k_done − overlap, k_hi + overlap) and keep [k_done, k_hi).

        ``n_grid`` is the final grid length (last block) or None (more samples follow).
        """
        seg_lo = max(self.k_done - self.overlap_n, 0)
        seg_hi = n_grid if n_grid is not None else k_hi + self.overlap_n
        grid = self._grid_t(seg_lo, seg_hi)
        # Raw samples that bracket the segment's grid points (np.interp uses only those).
        i_lo = max(int(np.searchsorted(self._t, grid[0], side="right")) - 1, 0)
        i_hi = int(np.searchsorted(self._t, grid[-1], side="left")) + 1
        values = _interp_columns(grid, self._t[i_lo:i_hi], self._acc[i_lo:i_hi])
        if self.offset_mg is None:
            # For a one-block record this is breathing_from_acc's own mean.
            self.offset_mg = values.mean(axis=0)
        low = sps.sosfiltfilt(self.sos, values - self.offset_mg, axis=0)

        if n_grid is not None:
            t_end = float(grid[-1])
            j_hi = int(np.floor((t_end - self.t_first) * WORK_FS_HZ + _GRID_EPS)) + 1
        else:
            t_end = float(self._grid_t(k_hi, k_hi + 1)[0])
            j_hi = int(np.ceil((t_end - self.t_first) * WORK_FS_HZ)) + 1
        work_t = self.t_first + np.arange(self.j_done, j_hi) / WORK_FS_HZ
        if n_grid is None:
            work_t = work_t[work_t < t_end]  # the rest belongs to the next block
        self._out_t.append(work_t)
        self._out.append(_interp_columns(work_t, grid, low))
        self.j_done += work_t.size
        self.k_done = k_hi
        # Keep the samples the next segment needs: from the one at or before its first point.
        if n_grid is None:
            next_lo = self._grid_t(k_hi - self.overlap_n, k_hi - self.overlap_n + 1)[0]
            keep_from = max(int(np.searchsorted(self._t, next_lo, side="right")) - 1, 0)
            self._t = self._t[keep_from:]
            self._acc = self._acc[keep_from:]
