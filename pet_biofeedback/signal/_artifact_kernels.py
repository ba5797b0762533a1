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
from numpy.lib.stride_tricks import sliding_window_view

from pet_biofeedback.signal._typing import FloatArray, IntArray

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
# Windows sorted per call by the rolling statistics: a 512 × 91 block stays in cache (29 ms for
# 100 000 windows of 91 against 43 ms in one call).
_SORT_CHUNK_ROWS: Final = 512


def frozen_copy(obj: object, field: str, dtype: type[np.generic]) -> None:
    """Replace ``obj.field`` by a read-only 1-D copy (never freezes an array someone else owns)."""
    arr = np.array(getattr(obj, field), dtype=dtype)
    arr.flags.writeable = False
    object.__setattr__(obj, field, arr)


# --------------------------------------------------------------------------------------------
# Rolling statistics with pandas' centred, min_periods=1 semantics
# --------------------------------------------------------------------------------------------
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
    """
    windows, nobs = _sorted_windows(x, half, rows)
    take = np.arange(rows.size)
    out = np.empty((len(quantiles), rows.size))
    for q_row, q in enumerate(quantiles):  # fixed handful (two quartiles)
        pos = q * (nobs - 1).astype(np.float64)
        lo = pos.astype(np.intp)
        frac = pos - lo
        v_lo = windows[take, lo]
        v_hi = windows[take, np.minimum(lo + 1, nobs - 1)]
        out[q_row] = np.where(frac == 0.0, v_lo, v_lo + (v_hi - v_lo) * frac)
    return out


def median_at(x: FloatArray, half: int, rows: IntArray) -> FloatArray:
    """Centred rolling median of float64 1-D ``x`` at ``rows``; even counts give ``(a + b) / 2``."""
    windows, nobs = _sorted_windows(x, half, rows)
    take = np.arange(rows.size)
    mid = nobs // 2
    upper = windows[take, mid]
    lower = windows[take, np.maximum(mid - 1, 0)]
    return np.where(nobs % 2 == 1, upper, (upper + lower) / 2)


def _edge_rows(n: int, half: int) -> IntArray:
    """Rows whose centred window of ``2·half + 1`` is truncated by either end of ``n`` samples."""
    rows = np.arange(n, dtype=np.intp)
    return rows[(rows < half) | (rows > n - 1 - half)]


def _full_window_ranks(x: FloatArray, window: int, ranks: tuple[int, ...]) -> FloatArray:
    """Order statistics ``ranks`` (0 = smallest) of every full ``window`` of float64 1-D ``x``.

    Shape (len(ranks), x.size − window + 1); needs x.size ≥ window. Exact sample values, as
    `scipy.ndimage.rank_filter` gives them, from sorted blocks of `sliding_window_view` (numpy's
    SIMD sort): the RR-file path then never imports `scipy.ndimage`, whose import (≈ 0.3 s, with
    scipy's array-API layer) cost more than the filters themselves (issue 9).
    """
    view = sliding_window_view(x, window)
    cols = np.asarray(ranks, dtype=np.intp)
    out = np.empty((cols.size, view.shape[0]))
    for first in range(0, view.shape[0], _SORT_CHUNK_ROWS):  # ≈ n / 512 blocks
        rows = slice(first, first + _SORT_CHUNK_ROWS)
        out[:, rows] = np.sort(view[rows], axis=-1)[:, cols].T
    return out


def rolling_quantiles(x: FloatArray, half: int, quantiles: tuple[float, ...]) -> FloatArray:
    """Centred rolling quantiles of float64 1-D ``x``, bit-identical to pandas' ``min_periods=1``.

    Full-width rows use exact order statistics (`_full_window_ranks`); the ≤ ``2·half``
    truncated edge rows go through `quantiles_at`. Shape (len(quantiles), n).
    """
    n = x.size
    window = 2 * half + 1
    out = np.empty((len(quantiles), n))
    if n > 2 * half:
        inner = slice(half, n - half)
        pos = [q * (window - 1) for q in quantiles]
        lows = [int(p) for p in pos]
        ranks = tuple(sorted({r for lo in lows for r in (lo, lo + 1) if r < window}))
        stats = dict(zip(ranks, _full_window_ranks(x, window, ranks), strict=True))
        for q_row, (p, lo) in enumerate(zip(pos, lows, strict=True)):  # two quartiles
            frac = p - lo
            v_lo = stats[lo]
            if frac == 0.0:
                out[q_row, inner] = v_lo
            else:
                out[q_row, inner] = v_lo + (stats[lo + 1] - v_lo) * frac
    edges = _edge_rows(n, half)
    out[:, edges] = quantiles_at(x, half, edges, quantiles)
    return out


def rolling_median(x: FloatArray, half: int) -> FloatArray:
    """Centred rolling median of float64 1-D ``x``, bit-identical to pandas' ``min_periods=1``."""
    n = x.size
    out = np.empty(n)
    if n > 2 * half:
        out[half : n - half] = _full_window_ranks(x, 2 * half + 1, (half,))[0]
    edges = _edge_rows(n, half)
    out[edges] = median_at(x, half, edges)
    return out


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
