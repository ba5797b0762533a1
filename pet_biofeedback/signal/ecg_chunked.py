"""R-peak detection in a long ECG (a 24-h H10 recording) in memory bounded by the chunk size.

`find_r_peaks_chunked` finds the peaks `ecg.find_r_peaks` finds, but filters the ECG a chunk at
a time (issue 6: the whole-record detector needs about ten float64 copies of the signal).

How it stays equal to the whole-record detector:

* Every chunk is filtered together with ``OVERLAP_S`` of ECG on each side, and only its middle
  is used. The zero-phase filters' start-up transients at the segment ends decay as
  exp(−2π·0.5 Hz·0.71·t) for the slowest pole (the locating band's 0.5 Hz high-pass edge): after
  20 s they are below 1e-19 of the signal, under float64 rounding. At the record's own ends the
  segments end where the record does, with the whole-record filter's edge padding.
* The detector's whole-record quantities are computed as such: the mean QRS-band energy (the
  threshold offset) and its peak-to-peak (the flatness check) in a first pass over the chunks;
  the lead's polarity from the medians of all blocks' maxima and minima; the refractory rule
  over all candidate peaks at once.
* Each candidate QRS block belongs to the chunk in which it starts and is measured there whole,
  so a peak at a chunk edge is found once. A block longer than ``OVERLAP_S`` (20 s of QRS-band
  energy above its own 0.6-s average -- not seen in ECG) could be cut at a segment end.

The results then agree with `find_r_peaks` to float64 rounding (sub-sample times within
1e-9 s; the indices are equal unless two samples tie to the last bit). A record no longer than
one chunk plus its overlap is handed to `find_r_peaks` unchanged.

The chunks are processed in a loop on purpose: each needs its neighbours' samples, and their
number is the record length over ``chunk_s`` (288 for 24 h at the default), which costs
nothing next to the vectorised filtering inside each chunk.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy import signal as sps

from pet_biofeedback.errors import SignalInputError
from pet_biofeedback.signal._typing import FloatArray, IntArray
from pet_biofeedback.signal.ecg import (
    FLAT_QRS_PTP_UV,
    MIN_BEATS,
    MIN_DURATION_S,
    RPeaks,
    _block_extrema,
    _check_fs,
    _detect_sos,
    _locate_sos,
    _negative_polarity,
    _qrs_blocks,
    _refine_triples,
    _refractory_keep,
    find_r_peaks,
)

__all__ = ["CHUNK_S", "OVERLAP_S", "find_r_peaks_chunked"]

CHUNK_S: Final = 300.0  # default length of ECG whose peaks one step finds, s
OVERLAP_S: Final = 20.0  # ECG filtered on each side of a chunk and then dropped, s


def find_r_peaks_chunked(
    ecg_uv: npt.ArrayLike, fs_hz: float, *, chunk_s: float = CHUNK_S
) -> RPeaks:
    """Find the R peaks of a long single-lead ECG chunk by chunk, as `find_r_peaks` would.

    Parameters
    ----------
    ecg_uv : array_like, shape (n_samples,)
        ECG in µV, finite. float32 input stays float32 (4 bytes a sample); each chunk is
        widened to float64 on its own.
    fs_hz : float
        Sampling rate in Hz (at least 50).
    chunk_s : float, optional
        ECG per step in s (default 300; at least 10). Memory grows with it, not with the record.

    Returns
    -------
    RPeaks
        As ``find_r_peaks(ecg_uv, fs_hz)``, to float64 rounding (module docstring).

    Raises
    ------
    SignalInputError
        As `find_r_peaks`, and if ``chunk_s`` is not a number of at least 10 s.

    Examples
    --------
    >>> import numpy as np
    >>> from pet_biofeedback.signal.ecg_chunked import find_r_peaks_chunked
    >>> fs_hz = 130.0
    >>> t_s = np.arange(int(600 * fs_hz)) / fs_hz
    >>> phase = (t_s - 0.5) % 0.8
    >>> ecg_uv = 1000 * np.exp(-0.5 * (np.minimum(phase, 0.8 - phase) / 0.012) ** 2)
    >>> peaks = find_r_peaks_chunked(ecg_uv.astype(np.float32), fs_hz, chunk_s=60.0)
    >>> peaks.n_beats
    750
    >>> bool(np.allclose(peaks.rr_ms, 800.0, atol=1.0))
    True
    """
    ecg = _as_1d_finite(ecg_uv)
    fs = _check_fs(fs_hz)
    try:
        step_s = float(chunk_s)
    except (TypeError, ValueError) as exc:
        raise SignalInputError(f"chunk_s must be a number, got {chunk_s!r}") from exc
    if not (math.isfinite(step_s) and step_s >= 2 * MIN_DURATION_S):
        raise SignalInputError(
            f"chunk_s must be at least {2 * MIN_DURATION_S:g} s, got {chunk_s!r}"
        )
    chunk_n = max(round(step_s * fs), 1)
    overlap_n = math.ceil(OVERLAP_S * fs)
    n = ecg.size
    if n <= chunk_n + overlap_n:
        return find_r_peaks(np.asarray(ecg, dtype=np.float64), fs)

    detect_sos, locate_sos = _detect_sos(fs), _locate_sos(fs)
    # Pass 1: the whole record's QRS-band energy and peak-to-peak.
    energy_sum = 0.0
    lo_uv, hi_uv = math.inf, -math.inf
    for seg_lo, lo, hi, x in _segments(ecg, chunk_n, overlap_n):
        kept = sps.sosfiltfilt(detect_sos, x)[lo - seg_lo : hi - seg_lo]
        energy_sum += float(np.sum(kept * kept))
        lo_uv, hi_uv = min(lo_uv, float(np.min(kept))), max(hi_uv, float(np.max(kept)))
    qrs_ptp = hi_uv - lo_uv
    if qrs_ptp < FLAT_QRS_PTP_UV:
        raise SignalInputError(
            f"ECG too flat for analysis: the QRS band spans {qrs_ptp:.3g} µV peak to peak "
            f"(at least {FLAT_QRS_PTP_UV:.0f} µV expected). Check that the strap is worn and "
            "the electrodes are moist, and that the values are in µV."
        )
    mean_energy = energy_sum / n

    # Pass 2: the blocks that start in each chunk, their extrema and the samples around them.
    parts: list[tuple[IntArray, FloatArray, FloatArray, IntArray, FloatArray, FloatArray]] = []
    for seg_lo, lo, hi, x in _segments(ecg, chunk_n, overlap_n):
        detect = sps.sosfiltfilt(detect_sos, x)
        locate = sps.sosfiltfilt(locate_sos, x)
        ext = _block_extrema(locate, _qrs_blocks(detect, fs, mean_energy=mean_energy))
        mine = (ext.start_idx >= lo - seg_lo) & (ext.start_idx < hi - seg_lo)
        max_idx, min_idx = ext.max_idx[mine], ext.min_idx[mine]
        parts.append(
            (
                max_idx + seg_lo,
                ext.heights[mine],
                _triples(locate, max_idx, seg_lo, n),
                min_idx + seg_lo,
                ext.depths[mine],
                _triples(locate, min_idx, seg_lo, n),
            )
        )
    max_idx = np.concatenate([p[0] for p in parts])
    heights = np.concatenate([p[1] for p in parts])
    min_idx = np.concatenate([p[3] for p in parts])
    depths = np.concatenate([p[4] for p in parts])
    negative = max_idx.size > 0 and _negative_polarity(heights, depths)
    peak_idx = min_idx if negative else max_idx
    around = np.concatenate([p[5] if negative else p[2] for p in parts])

    # Blocks do not overlap and come in signal order, so peak_idx is sorted and unique.
    if peak_idx.size >= 2:
        keep = _refractory_keep(peak_idx, np.abs(around[:, 1]), fs)
        peak_idx, around = peak_idx[keep], around[keep]
    duration_s = n / fs
    if peak_idx.size < MIN_BEATS:
        raise SignalInputError(
            f"found only {peak_idx.size} heartbeat(s) in {duration_s:.1f} s of ECG "
            f"(at least {MIN_BEATS} needed); the signal may be noise or the strap loose"
        )
    inner = (peak_idx > 0) & (peak_idx < n - 1)
    offset, amplitude = _refine_triples(
        around[:, 0], around[:, 1], around[:, 2], inner, around[:, 1]
    )
    return RPeaks(
        peak_idx=peak_idx,
        t_s=(peak_idx + offset) / fs,
        amplitude_uv=amplitude,
        fs_hz=fs,
    )


def _as_1d_finite(ecg_uv: npt.ArrayLike) -> npt.NDArray[np.floating]:
    """The ECG as a 1-D float array (float32 kept, anything else float64), finite."""
    arr = np.asarray(ecg_uv)
    if arr.dtype != np.float32:
        try:
            arr = np.asarray(arr, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise SignalInputError(f"ecg_uv must be numeric: {exc}") from exc
    if arr.ndim != 1:
        raise SignalInputError(f"ecg_uv must be 1-D, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise SignalInputError("ecg_uv must be finite (no NaN or inf)")
    return arr


def _segments(
    ecg: npt.NDArray[np.floating], chunk_n: int, overlap_n: int
) -> Iterator[tuple[int, int, int, FloatArray]]:
    """(segment start, chunk start, chunk end, float64 segment) for each chunk, in order."""
    n = ecg.size
    for lo in range(0, n, chunk_n):
        hi = min(lo + chunk_n, n)
        seg_lo, seg_hi = max(lo - overlap_n, 0), min(hi + overlap_n, n)
        yield seg_lo, lo, hi, np.asarray(ecg[seg_lo:seg_hi], dtype=np.float64)


def _triples(locate: FloatArray, idx: IntArray, seg_lo: int, n: int) -> FloatArray:
    """``locate`` before, at and after each (segment) index, shape (k, 3).

    At the record's first or last sample the missing neighbour is the sample itself
    (`_refine_triples` does not use it there).
    """
    at = locate[idx]
    before = np.where(idx + seg_lo > 0, locate[np.maximum(idx - 1, 0)], at)
    after = np.where(idx + seg_lo < n - 1, locate[np.minimum(idx + 1, locate.size - 1)], at)
    return np.column_stack((before, at, after))
