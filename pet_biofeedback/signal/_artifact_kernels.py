"""Shared kernels of RR artifact detection (hrv-methods.md §5): the Lipponen & Tarvainen
constants and label codes, and the quantile arithmetic of both detectors.

The offline detector (`_artifact_detection`) needs centred rolling quantiles and medians that
equal pandas' ``min_periods=1`` windows bit for bit (that is what makes its flags NeuroKit2's);
the live corrector (`_artifact_live`) takes the same pandas-style quantile of one sorted row.
Public names are re-exported by `pet_biofeedback.signal.artifacts`.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from pet_biofeedback.signal._typing import BoolArray, FloatArray, IntArray

# Physiological gate: 250 ms = 240 bpm, 2500 ms = 24 bpm; wider than hrv-analysis' 300–2000 ms
# (hrv-methods.md §5.4) so that fast exercise HR and slow resting HR of trained people pass.
RR_MIN_MS: Final = 250.0
RR_MAX_MS: Final = 2500.0
# Lipponen & Tarvainen 2019 constants as in NeuroKit2 and systole (hrv-methods.md §5.1).
ALPHA: Final = 5.2
WINDOW_BEATS: Final = 91
MEDFILT_ORDER: Final = 11
C1: Final = 0.13
C2: Final = 0.17

# Codes of `ArtifactCorrection.labels` (and of the live corrector's classes).
LABEL_NORMAL: Final = 0
LABEL_ECTOPIC: Final = 1
LABEL_LONG_SHORT: Final = 2
LABEL_MISSED: Final = 3
LABEL_EXTRA: Final = 4
LABEL_GATED: Final = 5
LABEL_MISSED_SECOND: Final = 6
# Figure 1 of L&T 2019: |mRR| above this many Th2 is long-or-short (hrv-methods.md §5.1 step 4).
MRR_LIMIT: Final = 3.0
# Detection + correction passes at most; like NeuroKit2 we stop when the count stops decreasing
# (hrv-methods.md §5.1 step 5), which on 1 % synthetic artifacts takes 3–4 applied passes.
MAX_PASSES: Final = 5
# Live backstop: Malik et al. 1989 20 % rule (hrv-methods.md §5.4), also the warm-up threshold.
MALIK_FRACTION: Final = 0.2
# Live absolute floor on Th1/Th2 once the 91-beat window is full: keeps a perfectly regular
# rhythm (QD → 0) from turning every millisecond of jitter into an artifact.
TH_FLOOR_MS: Final = 20.0

QUARTILES: Final = (0.25, 0.75)
MS_PER_S: Final = 1000.0
# Window samples sorted per call by the rolling statistics: 512 windows of 91 stay in cache
# (29 ms for 100 000 windows against 43 ms in one call).
_SORT_CHUNK_SAMPLES: Final = 512 * 91
# Rank codes pay for their argsort of the whole series once this many windows, times this
# factor, reach its length (the incremental passes of `correct_rr` sort a few hundred windows).
_RANK_CODE_MIN_FRACTION: Final = 4
_RANK_CODE_MIN_WINDOW: Final = 32  # shorter rows (the 11-beat median) sort fast enough as they are


def frozen_copy(obj: object, field: str, dtype: type[np.generic]) -> None:
    """Replace ``obj.field`` by a read-only 1-D copy (never freezes an array someone else owns)."""
    arr = np.array(getattr(obj, field), dtype=dtype)
    arr.flags.writeable = False
    object.__setattr__(obj, field, arr)


# --------------------------------------------------------------------------------------------
# Rolling statistics with pandas' centred, min_periods=1 semantics
# --------------------------------------------------------------------------------------------
def _order_stats(x: FloatArray, window: int, starts: IntArray, ranks: IntArray) -> FloatArray:
    """Order statistics ``ranks`` (0 = smallest) of the windows ``x[s : s + window]``.

    float64 1-D ``x``; every ``s`` in ``starts`` has ``s + window ≤ x.size``. Shape
    (ranks.size, starts.size); exact sample values, as `scipy.ndimage.rank_filter` gives them,
    from sorted blocks of `sliding_window_view` (numpy's SIMD sort): the RR-file path then never
    imports `scipy.ndimage`, whose import (≈ 0.3 s, with scipy's array-API layer) cost more than
    the filters themselves (issue 9). For many windows the values are replaced by their int32
    ranks in ``x``, which sort in half the time: the k-th smallest rank is the rank of a k-th
    smallest value, ties in any order.
    """
    by_rank = (
        window >= _RANK_CODE_MIN_WINDOW
        and starts.size * _RANK_CODE_MIN_FRACTION >= x.size
        and x.size < 2**31
    )
    # "stable" took half the time of the default on 24 h of 1-ms RR (many ties; 6 vs 13 ms).
    order = np.argsort(x, kind="stable") if by_rank else np.empty(0, dtype=np.intp)
    code: npt.NDArray[np.int32] | FloatArray = x
    if by_rank:
        code = np.empty(x.size, dtype=np.int32)
        code[order] = np.arange(x.size, dtype=np.int32)
    view = sliding_window_view(code, window)
    # Consecutive starts (every row) slice the view instead of gathering it.
    consecutive = starts.size > 0 and int(starts[-1]) - int(starts[0]) + 1 == starts.size
    if consecutive:
        view = view[int(starts[0]) : int(starts[-1]) + 1]
    out = np.empty((ranks.size, starts.size), dtype=code.dtype)
    chunk = max(_SORT_CHUNK_SAMPLES // window, 1)
    for first in range(0, starts.size, chunk):  # ≈ n·window / 46 592 blocks
        rows = slice(first, first + chunk)
        block = view[rows] if consecutive else view[starts[rows]]
        out[:, rows] = np.sort(block, axis=-1)[:, ranks].T
    return np.asarray(x[order[out]] if by_rank else out, dtype=np.float64)


def _full_rows(n: int, half: int, rows: IntArray) -> BoolArray:
    """Which ``rows`` have a whole centred window of ``2·half + 1`` inside ``n`` samples."""
    return np.asarray((rows >= half) & (rows <= n - 1 - half), dtype=np.bool_)


def _sorted_windows(x: FloatArray, half: int, rows: IntArray) -> tuple[FloatArray, IntArray]:
    """Sorted centred windows of float64 1-D ``x`` at ``rows`` and their real-sample counts.

    Windows are ``2·half + 1`` long, padded with +inf beyond either end (so the real samples sort
    first); shape (n_rows, 2·half + 1).
    """
    padded = np.concatenate((np.full(half, np.inf), x, np.full(half, np.inf)))
    windows = np.sort(padded[rows[:, np.newaxis] + np.arange(2 * half + 1)], axis=-1)
    nobs = np.minimum(rows + half, x.size - 1) - np.maximum(rows - half, 0) + 1
    return windows, nobs


def quantiles_at(
    x: FloatArray, half: int, rows: IntArray, quantiles: tuple[float, ...]
) -> FloatArray:
    """Centred rolling quantiles of float64 1-D ``x`` at ``rows``, shape (len(quantiles), n_rows).

    pandas' ``roll_quantile`` arithmetic: position ``q·(nobs − 1)``, exact when integral, else
    ``lo + (hi − lo)·frac`` (not numpy's ``_lerp``, which rounds differently for frac ≥ 0.5).
    Rows with a whole window take their order statistics from `_order_stats`; the truncated
    ones at either end from +inf-padded windows.
    """
    out = np.empty((len(quantiles), rows.size))
    full = _full_rows(x.size, half, rows)
    full_idx = np.flatnonzero(full)
    if full_idx.size:
        # Every row asked for (`rolling_quantiles`): the whole-window rows are one run.
        run = int(full_idx[-1]) - int(full_idx[0]) + 1 == full_idx.size
        put = slice(int(full_idx[0]), int(full_idx[-1]) + 1) if run else full_idx
        window = 2 * half + 1
        pos = [q * (window - 1) for q in quantiles]  # nobs − 1 = window − 1
        needed = sorted({r for p in pos for r in (int(p), int(p) + 1) if r < window})
        stats = _order_stats(x, window, rows[full_idx] - half, np.array(needed, dtype=np.intp))
        stat_of = dict(zip(needed, stats, strict=True))
        for q_row, p in enumerate(pos):  # fixed handful (two quartiles)
            lo = int(p)
            frac = p - lo
            v_lo = stat_of[lo]
            out[q_row, put] = v_lo if frac == 0.0 else v_lo + (stat_of[lo + 1] - v_lo) * frac
    edge = ~full
    if not np.any(edge):
        return out
    windows, nobs = _sorted_windows(x, half, rows[edge])
    take = np.arange(windows.shape[0])
    for q_row, q in enumerate(quantiles):  # fixed handful (two quartiles)
        pos_e = q * (nobs - 1).astype(np.float64)
        lo_e = pos_e.astype(np.intp)
        frac_e = pos_e - lo_e
        e_lo = windows[take, lo_e]
        e_hi = windows[take, np.minimum(lo_e + 1, nobs - 1)]
        out[q_row, edge] = np.where(frac_e == 0.0, e_lo, e_lo + (e_hi - e_lo) * frac_e)
    return out


def median_at(x: FloatArray, half: int, rows: IntArray) -> FloatArray:
    """Centred rolling median of float64 1-D ``x`` at ``rows``; even counts give ``(a + b) / 2``."""
    out = np.empty(rows.size)
    full = _full_rows(x.size, half, rows)
    if np.any(full):  # odd whole windows: the middle value itself
        out[full] = _order_stats(x, 2 * half + 1, rows[full] - half, np.array([half]))[0]
    edge = ~full
    if np.any(edge):
        windows, nobs = _sorted_windows(x, half, rows[edge])
        take = np.arange(windows.shape[0])
        mid = nobs // 2
        upper = windows[take, mid]
        lower = windows[take, np.maximum(mid - 1, 0)]
        out[edge] = np.where(nobs % 2 == 1, upper, (upper + lower) / 2)
    return out


def rolling_quantiles(x: FloatArray, half: int, quantiles: tuple[float, ...]) -> FloatArray:
    """Centred rolling quantiles of float64 1-D ``x``, bit-identical to pandas' ``min_periods=1``.

    Shape (len(quantiles), n); `quantiles_at` of every row.
    """
    return quantiles_at(x, half, np.arange(x.size, dtype=np.intp), quantiles)


def rolling_median(x: FloatArray, half: int) -> FloatArray:
    """Centred rolling median of float64 1-D ``x``, bit-identical to pandas' ``min_periods=1``."""
    return median_at(x, half, np.arange(x.size, dtype=np.intp))


def median_nearest_at(x: FloatArray, half: int, rows: IntArray) -> FloatArray:
    """Median of the ``2·half + 1`` samples centred on each of ``rows`` of float64 1-D ``x``,
    the ends repeated beyond either edge (`scipy.ndimage.median_filter`'s ``mode="nearest"``)."""
    padded = np.concatenate((np.full(half, x[0]), x, np.full(half, x[-1])))
    windows = np.sort(padded[rows[:, np.newaxis] + np.arange(2 * half + 1)], axis=-1)
    return np.asarray(windows[:, half], dtype=np.float64)


def qd_threshold(quartiles: FloatArray) -> FloatArray:
    """``ALPHA · QD`` from stacked (Q1, Q3) rows, written in NeuroKit2's order of operations."""
    th: FloatArray = ALPHA * ((quartiles[1] - quartiles[0]) / 2)
    return th


def sorted_quantile(sorted_row: FloatArray, pos: float) -> float:
    """pandas-style linear quantile at fractional position ``pos`` of a sorted 1-D row."""
    lo = int(pos)
    frac = pos - lo
    v_lo = float(sorted_row[lo])
    if frac == 0.0:
        return v_lo
    return v_lo + (float(sorted_row[lo + 1]) - v_lo) * frac
