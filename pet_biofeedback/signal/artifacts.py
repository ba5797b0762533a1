"""RR artifact detection and correction (Lipponen & Tarvainen 2019), offline and live.

Offline: `detect_artifacts` classifies beats exactly as NeuroKit2's Kubios path does (same index
sets, hrv-methods.md §10.3) and `correct_rr` gates, detects and corrects iteratively. Live:
`CausalArtifactCorrector` decides about each beat two beats late with trailing windows and a
backstop gate (hrv-methods.md §5.2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from pet_biofeedback.signal import _artifact_gaps as gaps
from pet_biofeedback.signal._segments import as_breaks
from pet_biofeedback.signal._typing import BoolArray, FloatArray, IntArray
from pet_biofeedback.signal._validate import as_1d_float

__all__ = [
    "ALPHA",
    "C1",
    "C2",
    "LABEL_ECTOPIC",
    "LABEL_EXTRA",
    "LABEL_GATED",
    "LABEL_LONG_SHORT",
    "LABEL_MISSED",
    "LABEL_MISSED_SECOND",
    "LABEL_NORMAL",
    "MALIK_FRACTION",
    "MAX_PASSES",
    "MEDFILT_ORDER",
    "MRR_LIMIT",
    "RR_MAX_MS",
    "RR_MIN_MS",
    "TH_FLOOR_MS",
    "WINDOW_BEATS",
    "ArtifactClasses",
    "ArtifactCorrection",
    "CausalArtifactCorrector",
    "FinalNN",
    "correct_rr",
    "detect_artifacts",
]

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

_QUARTILES: Final = (0.25, 0.75)
_MS_PER_S: Final = 1000.0


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------
def _frozen_copy(obj: object, field: str, dtype: type[np.generic]) -> None:
    """Replace ``obj.field`` by a read-only 1-D copy (never freezes an array someone else owns)."""
    arr = np.array(getattr(obj, field), dtype=dtype)
    arr.flags.writeable = False
    object.__setattr__(obj, field, arr)


@dataclass(frozen=True, slots=True, kw_only=True)
class ArtifactClasses:
    """Beat classes found by `detect_artifacts`.

    Attributes
    ----------
    ectopic_idx, long_short_idx, missed_idx, extra_idx : ndarray of intp, shape (n_class,)
        Sorted, disjoint indices into the ``rr_ms`` given to `detect_artifacts`. Copied and
        made read-only on construction.
        ``extra_idx`` ``e`` means interval ``e`` is too short and belongs with ``e + 1``;
        ``missed_idx`` ``m`` means interval ``m`` spans two beats.
    n_beats : int
        Length of the analysed ``rr_ms``.
    """

    ectopic_idx: IntArray
    long_short_idx: IntArray
    missed_idx: IntArray
    extra_idx: IntArray
    n_beats: int

    def __post_init__(self) -> None:
        for name in ("ectopic_idx", "long_short_idx", "missed_idx", "extra_idx"):  # four
            _frozen_copy(self, name, np.intp)

    @property
    def n_ectopic(self) -> int:
        """Number of ectopic beats."""
        return int(self.ectopic_idx.size)

    @property
    def n_long_short(self) -> int:
        """Number of long or short beats (neither missed nor extra)."""
        return int(self.long_short_idx.size)

    @property
    def n_missed(self) -> int:
        """Number of intervals that span a missed beat."""
        return int(self.missed_idx.size)

    @property
    def n_extra(self) -> int:
        """Number of intervals cut short by an extra (false) beat."""
        return int(self.extra_idx.size)

    @property
    def n_artifacts(self) -> int:
        """Total number of flagged beats, all classes."""
        return self.n_ectopic + self.n_long_short + self.n_missed + self.n_extra


@dataclass(frozen=True, slots=True, kw_only=True)
class ArtifactCorrection:
    """Result of `correct_rr`.

    Attributes
    ----------
    nn_ms : ndarray of float64, shape (n_nn,)
        Corrected NN intervals in ms; copied and made read-only on construction. ``n_nn``
        differs from ``n_input_beats`` by the extra beats merged and the missed beats inserted.
    corrected_mask : ndarray of bool, shape (n_nn,)
        True where the value was interpolated, split (both halves) or merged. Read-only.
    labels : ndarray of int8, shape (n_nn,)
        What the last correction of each NN value was: ``LABEL_NORMAL`` (untouched),
        ``LABEL_ECTOPIC``, ``LABEL_LONG_SHORT``, ``LABEL_MISSED`` (first half of a split
        interval; the second half is ``LABEL_MISSED_SECOND``), ``LABEL_EXTRA`` (merged) or
        ``LABEL_GATED``. Counting one class over a range of NN values counts the corrections
        visible in that range, one per event. Read-only.
    n_ectopic, n_long_short, n_missed, n_extra : int
        Beats detected in each class, summed over the applied passes (``n_extra`` also counts
        too-short fragments the gate merged). A beat flagged but absorbed into an extra
        beat's merge still counts.
    n_gated : int
        Input intervals outside ``RR_MIN_MS`` … ``RR_MAX_MS`` (merged or replaced before
        detection).
    corrected_pct : float
        ``100 · corrected_mask.sum() / n_nn``; 0.0 for empty output.
    n_input_beats : int
        Length of the input ``rr_ms``.
    n_passes : int
        Detection + correction passes that changed the series.
    segment_start_idx : ndarray of intp, shape (n_segments,)
        Index into ``nn_ms`` of the first value of each contiguous stretch (``[0]`` without
        gaps; empty for empty output). Read-only.
    """

    nn_ms: FloatArray
    corrected_mask: BoolArray
    labels: npt.NDArray[np.int8]
    n_ectopic: int
    n_long_short: int
    n_missed: int
    n_extra: int
    n_gated: int
    corrected_pct: float
    n_input_beats: int
    n_passes: int
    segment_start_idx: IntArray = field(default_factory=lambda: np.zeros(1, dtype=np.intp))

    def __post_init__(self) -> None:
        _frozen_copy(self, "nn_ms", np.float64)
        _frozen_copy(self, "corrected_mask", np.bool_)
        _frozen_copy(self, "labels", np.int8)
        _frozen_copy(self, "segment_start_idx", np.intp)


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


def _quantiles_at(
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


def _median_at(x: FloatArray, half: int, rows: IntArray) -> FloatArray:
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


def _rolling_quantiles(x: FloatArray, half: int, quantiles: tuple[float, ...]) -> FloatArray:
    """Centred rolling quantiles of float64 1-D ``x``, bit-identical to pandas' ``min_periods=1``.

    Full-width rows use exact order statistics from `scipy.ndimage.rank_filter` (O(n log w));
    the ≤ ``2·half`` truncated edge rows go through `_quantiles_at`. Shape (len(quantiles), n).
    """
    n = x.size
    window = 2 * half + 1
    out = np.empty((len(quantiles), n))
    if n > 2 * half:
        inner = slice(half, n - half)
        for q_row, q in enumerate(quantiles):  # fixed handful (two quartiles)
            pos = q * (window - 1)
            lo = int(pos)
            frac = pos - lo
            v_lo = ndimage.rank_filter(x, lo, size=window, mode="nearest")[inner]
            if frac == 0.0:
                out[q_row, inner] = v_lo
            else:
                v_hi = ndimage.rank_filter(x, lo + 1, size=window, mode="nearest")[inner]
                out[q_row, inner] = v_lo + (v_hi - v_lo) * frac
    edges = _edge_rows(n, half)
    out[:, edges] = _quantiles_at(x, half, edges, quantiles)
    return out


def _rolling_median(x: FloatArray, half: int) -> FloatArray:
    """Centred rolling median of float64 1-D ``x``, bit-identical to pandas' ``min_periods=1``."""
    n = x.size
    out = np.empty(n)
    if n > 2 * half:
        inner = slice(half, n - half)
        out[inner] = ndimage.median_filter(x, size=2 * half + 1, mode="nearest")[inner]
    edges = _edge_rows(n, half)
    out[edges] = _median_at(x, half, edges)
    return out


def _qd_threshold(quartiles: FloatArray) -> FloatArray:
    """``ALPHA · QD`` from stacked (Q1, Q3) rows, written in NeuroKit2's order of operations."""
    th: FloatArray = ALPHA * ((quartiles[1] - quartiles[0]) / 2)
    return th


# --------------------------------------------------------------------------------------------
# Offline detection
# --------------------------------------------------------------------------------------------
_QD_HALF: Final = WINDOW_BEATS // 2
_MED_HALF: Final = MEDFILT_ORDER // 2
# Rows of each statistic that can change when RR changes at one position (window half-width,
# plus one for dRR, plus the median's half-width for Th2).
_DIRTY_TH1: Final = _QD_HALF + 1
_DIRTY_MED: Final = _MED_HALF
_DIRTY_TH2: Final = _QD_HALF + _MED_HALF
# Recompute everything when more than this fraction of rows is dirty (rank_filter is cheaper).
_INCREMENTAL_MAX_FRACTION: Final = 0.25


class _Stats(NamedTuple):
    """Th1, centred median and Th2 over the placeholder-prefixed RR (seconds), one row per beat."""

    th1: FloatArray
    medrr: FloatArray
    th2: FloatArray


class _Classes(NamedTuple):
    ectopic: BoolArray
    long_short: BoolArray
    missed: BoolArray
    extra: BoolArray


def _with_placeholder(rr_ms: FloatArray) -> FloatArray:
    """RR of validated ``rr_ms`` in seconds with NeuroKit2's placeholder first period prepended.

    NeuroKit2 works on peak times; N intervals are N + 1 peaks (its own ``intervals_to_peaks``),
    and the undefined first period becomes the mean of the others. Seconds, as in NeuroKit2, so
    that the arithmetic and hence the flags are identical.
    """
    rr_s = np.empty(rr_ms.size + 1)
    rr_s[1:] = rr_ms / _MS_PER_S
    rr_s[0] = np.mean(rr_s[1:]) if rr_ms.size else 1.0
    return rr_s


def _raw_drrs(rr_s: FloatArray) -> FloatArray:
    """dRR of float64 ``rr_s`` (n ≥ 2) with NeuroKit2's first element: the mean of the others."""
    drrs = np.empty(rr_s.size)
    drrs[1:] = np.diff(rr_s)
    drrs[0] = np.mean(drrs[1:])
    return drrs


def _raw_mrrs(rr_s: FloatArray, medrr: FloatArray) -> FloatArray:
    """Deviation from the median, negative values doubled (short beats weigh double)."""
    mrrs = rr_s - medrr
    mrrs[mrrs < 0] = mrrs[mrrs < 0] * 2
    return mrrs


def _dilate(seed: BoolArray, radius: int) -> IntArray:
    """Indices within ``radius`` of any True in ``seed``."""
    n = seed.size
    csum = np.concatenate(([0], np.cumsum(seed)))
    idx = np.arange(n)
    lo = np.maximum(idx - radius, 0)
    hi = np.minimum(idx + radius + 1, n)
    return np.flatnonzero(csum[hi] > csum[lo])


def _stats_full(rr_s: FloatArray, drrs: FloatArray) -> _Stats:
    """Rolling statistics of float64 ``rr_s`` (n ≥ 3) and its raw ``drrs``, all rows."""
    medrr = _rolling_median(rr_s, _MED_HALF)
    th1 = _qd_threshold(_rolling_quantiles(np.abs(drrs), _QD_HALF, _QUARTILES))
    th2 = _qd_threshold(_rolling_quantiles(np.abs(_raw_mrrs(rr_s, medrr)), _QD_HALF, _QUARTILES))
    return _Stats(th1, medrr, th2)


def _stats(
    rr_s: FloatArray, drrs: FloatArray, prev: _Stats | None, changed: BoolArray | None
) -> _Stats:
    """Rolling statistics of ``rr_s``, recomputing only rows near ``changed`` when ``prev`` exists.

    ``prev`` holds the previous pass's statistics already moved to the current indexing and
    ``changed`` marks the rows whose RR value differs from that pass (placeholder rows included).
    A row farther than the window half-width from every change sees exactly the same samples,
    with the same truncation, as before, so its statistic is reused bit for bit.
    """
    if prev is None or changed is None:
        return _stats_full(rr_s, drrs)
    rows_th2 = _dilate(changed, _DIRTY_TH2)
    if rows_th2.size > _INCREMENTAL_MAX_FRACTION * rr_s.size:
        return _stats_full(rr_s, drrs)
    medrr = prev.medrr.copy()
    rows = _dilate(changed, _DIRTY_MED)
    medrr[rows] = _median_at(rr_s, _MED_HALF, rows)
    th1 = prev.th1.copy()
    rows = _dilate(changed, _DIRTY_TH1)
    th1[rows] = _qd_threshold(_quantiles_at(np.abs(drrs), _QD_HALF, rows, _QUARTILES))
    th2 = prev.th2.copy()
    abs_mrrs = np.abs(_raw_mrrs(rr_s, medrr))
    th2[rows_th2] = _qd_threshold(_quantiles_at(abs_mrrs, _QD_HALF, rows_th2, _QUARTILES))
    return _Stats(th1, medrr, th2)


def _visited(pair: BoolArray) -> BoolArray:
    """Loop positions NeuroKit2's classification ``while`` actually visits.

    NeuroKit2 evaluates beat ``i + 1`` together with ``i`` when ``pair[i]`` (``i`` flagged, not
    ectopic, and ``|dRR[i+1]| < |dRR[i+2]|``) and then skips ``i + 1`` as a loop position. The
    recurrence ``visited[k+1] = not (visited[k] and pair[k])`` alternates inside each run of
    consecutive ``pair`` and resets after it, so it is solved in closed form: inside a run starting
    at ``s``, ``visited[k] = (k − s)`` even. No sequential step remains.
    """
    m = pair.size
    visited = np.ones(m, dtype=bool)
    if m < 2:
        return visited
    starts = pair & ~np.concatenate(([False], pair[:-1]))
    run_start = np.maximum.accumulate(np.where(starts, np.arange(m), 0))
    k = np.arange(1, m)
    visited[1:] = ~pair[:-1] | ((k - run_start[:-1]) % 2 == 0)
    return visited


def _classify(rr_s: FloatArray, raw_drrs: FloatArray, st: _Stats) -> _Classes:
    """L&T classes over the placeholder-prefixed ``rr_s`` (seconds, n ≥ 3) given its statistics.

    A vectorised replica of ``neurokit2.signal.signal_fixpeaks._find_artifacts`` (0.3.0): the
    same arithmetic in the same order, so the flags are the same bit for bit, NaN semantics
    included (a zero threshold turns dRR/mRR into NaN, which fails every comparison).
    """
    n = rr_s.size
    drrs = raw_drrs.copy()
    zero1 = st.th1 == 0
    np.divide(drrs, st.th1, out=drrs, where=~zero1)
    drrs[zero1] = np.nan
    mrrs = _raw_mrrs(rr_s, st.medrr)
    zero2 = st.th2 == 0
    np.divide(mrrs, st.th2, out=mrrs, where=~zero2)
    mrrs[zero2] = np.nan

    pad = np.pad(drrs, 2, mode="reflect")
    prev1, next1, next2 = pad[1:-3], pad[3:-1], pad[4:]
    pos, neg = drrs > 0, drrs < 0
    s12 = np.where(pos, np.maximum(prev1, next1), np.where(neg, np.minimum(prev1, next1), 0.0))
    s22 = np.where(
        neg, np.maximum(next1, next2), np.where(drrs >= 0, np.minimum(next1, next2), 0.0)
    )

    # Loop positions i = 0 … n − 3 (NeuroKit2: ``while i < rr.size - 2``).
    m = n - 2
    d, s12_i = drrs[:m], s12[:m]
    abs_d = np.abs(drrs)
    abs_m = np.abs(mrrs)
    past_gate = ~(abs_d[:m] <= 1)  # NaN passes this gate in NeuroKit2
    eq1 = (d > 1) & (s12_i < (-C1 * d - C2))
    eq2 = (d < -1) & (s12_i > (-C1 * d + C2))
    ectopic_i = past_gate & (eq1 | eq2)
    flagged_i = past_gate & ~ectopic_i & ((abs_d[:m] > 1) | (abs_m[:m] > MRR_LIMIT))
    pair = flagged_i & (abs_d[1 : m + 1] < abs_d[2 : m + 2])
    visited = _visited(pair)

    ectopic = np.zeros(n, dtype=bool)
    ectopic[:m] = visited & ectopic_i
    candidate = np.zeros(n, dtype=bool)
    candidate[:m] = visited & flagged_i
    candidate[1 : m + 1] |= visited & pair

    # Candidates j ≤ n − 2, so rr[j + 1] exists.
    eq3 = (drrs > 1) & (s22 < -1)
    eq4 = abs_m > MRR_LIMIT
    eq5 = (drrs < -1) & (s22 > 1)
    hit = candidate & (eq3 | eq4 | eq5)
    rr_next = np.append(rr_s[1:], np.nan)
    eq6 = np.abs(rr_s / 2 - st.medrr) < st.th2
    eq7 = np.abs(rr_s + rr_next - st.medrr) < st.th2
    extra = hit & eq5 & eq7
    missed = hit & ~extra & eq3 & eq6
    long_short = hit & ~extra & ~missed
    return _Classes(ectopic, long_short, missed, extra)


def _classes_ms(c: _Classes) -> _Classes:
    """Drop the placeholder row: classes indexed like ``rr_ms``."""
    return _Classes(c.ectopic[1:], c.long_short[1:], c.missed[1:], c.extra[1:])


def _classify_rr_ms(rr_ms: FloatArray) -> _Classes:
    """L&T classes of validated RR in ms, indexed like ``rr_ms`` (full computation)."""
    if rr_ms.size < 2:
        empty = np.zeros(rr_ms.size, dtype=bool)
        return _Classes(empty, empty.copy(), empty.copy(), empty.copy())
    rr_s = _with_placeholder(rr_ms)
    drrs = _raw_drrs(rr_s)
    return _classes_ms(_classify(rr_s, drrs, _stats_full(rr_s, drrs)))


def detect_artifacts(rr_ms: npt.ArrayLike) -> ArtifactClasses:
    """Classify RR intervals with the Lipponen & Tarvainen (2019) algorithm (offline, centred).

    Parameters
    ----------
    rr_ms : array_like, shape (n_beats,)
        RR intervals in ms, finite. Not modified.

    Returns
    -------
    ArtifactClasses
        Sorted index arrays (into ``rr_ms``) of ectopic, long/short, missed and extra beats.

    Raises
    ------
    SignalInputError
        If ``rr_ms`` is not 1-D numeric or contains NaN or inf.

    Notes
    -----
    hrv-methods.md §5.1: dRR is normalised by Th1 = α·QD(|dRR|) and mRR (deviation from the
    centred 11-beat median, negative values doubled) by Th2 = α·QD(|mRR|), both over centred
    91-beat windows (α = 5.2); beats are then classified from the subspaces S11/S12 (ectopic,
    c1 = 0.13, c2 = 0.17) and S21/S22 (long, short, missed, extra). The index sets are identical
    to NeuroKit2 0.3.0 ``_find_artifacts`` given the peaks ``[0, cumsum(rr_ms)]`` at 1000 Hz
    (integer-ms RR; hrv-methods.md §10.3), including its edge handling (partial windows, the
    placeholder first period, the pairwise evaluation that skips the next beat) and its quirk
    that a beat with ``|dRR| ≤ 1`` is long/short (``|mRR| > 3``) only when evaluated together
    with the beat before it. Fewer than 2 intervals give empty classes; the last interval is
    never classified.

    References
    ----------
    Lipponen JA, Tarvainen MP. A robust algorithm for heart rate variability time series
    artefact correction using novel beat classification. J Med Eng Technol 43(3):173–181, 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from pet_biofeedback.signal.artifacts import detect_artifacts
    >>> rr_ms = 800.0 + 20.0 * np.sin(np.arange(200) / 3.0)
    >>> rr_ms[100] *= 2.0  # one missed beat
    >>> classes = detect_artifacts(rr_ms)
    >>> classes.missed_idx.tolist(), classes.n_artifacts
    ([100], 1)
    """
    rr = as_1d_float(rr_ms, "rr_ms")
    c = _classify_rr_ms(rr)
    return ArtifactClasses(
        ectopic_idx=np.flatnonzero(c.ectopic),
        long_short_idx=np.flatnonzero(c.long_short),
        missed_idx=np.flatnonzero(c.missed),
        extra_idx=np.flatnonzero(c.extra),
        n_beats=int(rr.size),
    )


# --------------------------------------------------------------------------------------------
# Offline correction
# --------------------------------------------------------------------------------------------
def _interpolate_bad(nn_ms: FloatArray, bad: BoolArray) -> FloatArray:
    """Values for the ``bad`` beats of float64 ``nn_ms`` from the good ones, in beat time.

    Knots are the good beats at their end times ``cumsum(nn_ms)``; each bad beat is evaluated at
    its own end time with a local cubic (Catmull–Rom / cubic Hermite with finite-difference
    tangents) through the two good beats on either side, clipped to those four values; where
    fewer exist (series ends) it falls back to linear interpolation with constant
    extrapolation. Needs ≥ 1 good beat. Results stay within the good beats' range.
    """
    t_ms = np.cumsum(nn_ms)
    good = ~bad
    t_good, v_good = t_ms[good], nn_ms[good]
    t_bad = t_ms[bad]
    linear = np.interp(t_bad, t_good, v_good)
    n_good = t_good.size
    k = np.searchsorted(t_good, t_bad)  # t_good[k-1] < t_bad <= t_good[k]
    cubic_ok = (k >= 2) & (k <= n_good - 2)
    if not np.any(cubic_ok):
        return linear
    out = linear.copy()
    out[cubic_ok] = gaps.catmull_rom_clipped(t_good, v_good, t_bad[cubic_ok], k[cubic_ok])
    return out


class _Pass(NamedTuple):
    nn_ms: FloatArray
    corrected_mask: BoolArray
    labels: npt.NDArray[np.int8]
    new_pos: IntArray  # position in the new series of each old beat; −1 when merged away
    changed: BoolArray  # new positions whose value this pass set
    seg_id: IntArray | None  # stretch number of each new value (None: no gaps)


def _apply_pass(
    nn_ms: FloatArray,
    mask: BoolArray,
    labels: npt.NDArray[np.int8],
    c: _Classes,
    seg_id: IntArray | None = None,
) -> _Pass:
    """One correction pass over validated ``nn_ms`` with classes ``c`` (same length).

    Extra ``e`` merges ``e`` with ``e + 1`` (runs of extras merge further); a beat absorbed into
    a merge loses its own flag. Missed ``m`` is split into two halves. Ectopic and long/short
    beats are interpolated (`_interpolate_bad`) from everything else, after the merges/splits.
    With stretch numbers ``seg_id`` (gaps), no extra merges across a gap (the caller has
    turned such extras into long/short) and interpolation stays inside each stretch; the
    new stretch numbers are in ``_Pass.seg_id``.
    """
    n = nn_ms.size
    keep = np.ones(n, dtype=bool)
    keep[np.flatnonzero(c.extra) + 1] = False  # extra e ≤ n − 2 by construction
    starts = np.flatnonzero(keep)
    merged = np.add.reduceat(nn_ms, starts)
    merged_changed = np.diff(np.append(starts, n)) > 1
    merged_mask = mask[starts] | merged_changed
    merged_labels = np.where(merged_changed, np.int8(LABEL_EXTRA), labels[starts]).astype(np.int8)
    new_of_old = np.cumsum(keep) - 1

    missed_new = new_of_old[c.missed & keep]
    counts = np.ones(merged.size, dtype=np.intp)
    counts[missed_new] = 2
    split = np.repeat(merged, counts)
    changed = np.repeat(merged_changed, counts)
    pos = np.cumsum(counts) - counts
    first = pos[missed_new]
    half_ms = merged[missed_new] / 2
    split[first] = half_ms
    split[first + 1] = half_ms
    changed[first] = True
    changed[first + 1] = True
    new_labels = np.repeat(merged_labels, counts)
    new_labels[first] = LABEL_MISSED
    new_labels[first + 1] = LABEL_MISSED_SECOND

    bad = np.zeros(split.size, dtype=bool)
    bad[pos[new_of_old[(c.ectopic | c.long_short) & keep]]] = True
    new_labels[pos[new_of_old[c.long_short & keep]]] = LABEL_LONG_SHORT
    new_labels[pos[new_of_old[c.ectopic & keep]]] = LABEL_ECTOPIC
    new_seg = None if seg_id is None else np.repeat(seg_id[starts], counts)
    if np.any(bad) and not np.all(bad):
        if new_seg is None:
            split[bad] = _interpolate_bad(split, bad)
        else:
            split[bad] = gaps.interpolate_in_stretches(split, bad, new_seg)
        changed |= bad
    new_pos = np.where(keep, pos[new_of_old], -1)
    return _Pass(
        split, np.repeat(merged_mask, counts) | changed, new_labels, new_pos, changed, new_seg
    )


def _move_stats(st: _Stats, new_pos: IntArray, n_new: int) -> _Stats:
    """Carry per-row statistics (placeholder row 0 included) to the rows of the new series.

    Rows without an old counterpart get NaN; they are always among the changed rows.
    """
    kept = np.flatnonzero(new_pos >= 0)
    dst = np.concatenate(([0], new_pos[kept] + 1))
    src = np.concatenate(([0], kept + 1))
    out = []
    for arr in st:  # three statistics
        moved = np.full(n_new + 1, np.nan)
        moved[dst] = arr[src]
        out.append(moved)
    return _Stats(*out)


class _Gated(NamedTuple):
    nn_ms: FloatArray
    corrected_mask: BoolArray
    labels: npt.NDArray[np.int8]
    n_gated: int  # input intervals outside the range
    n_merged: int  # too-short intervals merged as extra beats
    seg_id: IntArray | None  # stretch number of each value (None: no gaps)


def _gate(rr_ms: FloatArray, seg_id: IntArray | None = None) -> _Gated:
    """Physiological gate over validated ``rr_ms`` (n ≥ 1).

    A too-short interval whose sum with the previous or the next interval lies within
    ``MALIK_FRACTION`` of the local ``MEDFILT_ORDER``-beat median is an extra beat's fragment and
    is merged (the closer sum wins), as the extra rule would do had the gate not hidden it.
    Everything still out of range is interpolated from the in-range intervals; if none is in
    range, clipped to the range (still marked), there being nothing to interpolate from.
    With stretch numbers ``seg_id`` (gaps) nothing merges or interpolates across a gap.
    """
    n = rr_ms.size
    short = rr_ms < RR_MIN_MS
    n_gated = int(np.count_nonzero(short | (rr_ms > RR_MAX_MS)))
    if n_gated == 0:
        return _Gated(
            rr_ms.copy(), np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int8), 0, 0, seg_id
        )
    keep = np.ones(n, dtype=bool)
    if np.any(short) and n > 1:
        med = ndimage.median_filter(rr_ms, size=MEDFILT_ORDER, mode="nearest")
        idx = np.flatnonzero(short)
        tol = MALIK_FRACTION * med[idx]
        err_prev = np.abs(rr_ms[np.maximum(idx - 1, 0)] + rr_ms[idx] - med[idx])
        err_prev[idx == 0] = np.inf
        err_next = np.abs(rr_ms[idx] + rr_ms[np.minimum(idx + 1, n - 1)] - med[idx])
        err_next[idx == n - 1] = np.inf
        if seg_id is not None:  # the neighbour across a gap is no fragment of this beat
            err_prev[seg_id[np.maximum(idx - 1, 0)] != seg_id[idx]] = np.inf
            err_next[seg_id[np.minimum(idx + 1, n - 1)] != seg_id[idx]] = np.inf
        with_prev = (err_prev <= err_next) & (err_prev < tol)
        with_next = ~with_prev & (err_next < tol)
        keep[idx[with_prev]] = False  # drop the boundary before idx
        keep[idx[with_next] + 1] = False  # drop the boundary after idx
    starts = np.flatnonzero(keep)
    nn = np.add.reduceat(rr_ms, starts)
    mask = np.diff(np.append(starts, n)) > 1
    labels = np.where(mask, np.int8(LABEL_EXTRA), np.int8(LABEL_NORMAL)).astype(np.int8)
    n_merged = n - nn.size
    seg = None if seg_id is None else seg_id[starts]
    out_of_range = (nn < RR_MIN_MS) | (nn > RR_MAX_MS)
    if np.any(out_of_range):
        mask |= out_of_range
        labels[out_of_range] = LABEL_GATED
        nn = np.clip(nn, RR_MIN_MS, RR_MAX_MS)
        if not np.all(out_of_range):
            if seg is None:
                nn[out_of_range] = _interpolate_bad(nn, out_of_range)
            else:
                nn[out_of_range] = gaps.interpolate_in_stretches(nn, out_of_range, seg)
    return _Gated(nn, mask, labels, n_gated, n_merged, seg)


def correct_rr(
    rr_ms: npt.ArrayLike,
    *,
    iterative: bool = True,
    gate: bool = True,
    segment_start_idx: npt.ArrayLike | None = None,
) -> ArtifactCorrection:
    """Gate, detect (Lipponen & Tarvainen) and correct RR artifacts offline.

    Parameters
    ----------
    rr_ms : array_like, shape (n_beats,)
        RR intervals in ms, finite. Not modified.
    iterative : bool, default True
        Repeat detection + correction while the number of detected artifacts decreases (at most
        ``MAX_PASSES`` passes), as NeuroKit2 does by default. False: one pass.
    gate : bool, default True
        First handle intervals outside ``RR_MIN_MS`` … ``RR_MAX_MS`` (250–2500 ms), so that
        gross errors do not inflate the adaptive thresholds: a too-short interval that sums
        with a neighbour to within 20 % of the local median is merged with it (an extra beat,
        counted in ``n_extra`` too); everything else out of range is interpolated.
    segment_start_idx : array_like of int, optional
        First interval of each contiguous stretch (a data gap before it; index 0 may be
        given or not). The jump across a gap is not judged (the first beat of a stretch gets
        dRR = 0), an extra beat at the end of a stretch is not merged with the next stretch
        (it is corrected as long/short), and interpolation uses the stretch's own beats.
        The result's ``segment_start_idx`` says where the stretches lie in ``nn_ms``.
        Default: one stretch.

    Returns
    -------
    ArtifactCorrection
        Corrected ``nn_ms``, its ``corrected_mask``, per-class counts, ``n_gated``,
        ``corrected_pct`` and ``n_input_beats``.

    Raises
    ------
    SignalInputError
        If ``rr_ms`` is not 1-D numeric or contains NaN or inf.

    Notes
    -----
    hrv-methods.md §5.1. Each pass classifies with `detect_artifacts`' algorithm, then: extra →
    merged with the next interval; missed → split into two equal halves; ectopic and long/short
    → replaced by a local cubic (Catmull–Rom) interpolation of the good beats in beat time
    (Kubios interpolates with a cubic spline, hrv-methods.md §5.1 step 5). Counts add up the
    detections of every applied pass; the last detection of an iterative run, which did not
    decrease the count, is not applied and not counted. Passes after the first recompute the
    rolling thresholds only within a window of the beats the previous pass changed (the rest
    is reused bit for bit), which keeps 100 000 beats at about 0.1 s. Empty or one-beat input
    is returned unchanged. Output never contains NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from pet_biofeedback.signal.artifacts import correct_rr
    >>> rr_ms = 800.0 + 20.0 * np.sin(np.arange(200) / 3.0)
    >>> rr_ms[100] *= 2.0  # one missed beat
    >>> result = correct_rr(rr_ms)
    >>> result.n_missed, result.nn_ms.size, float(result.corrected_pct)
    (1, 201, 0.9950248756218906)
    """
    rr = as_1d_float(rr_ms, "rr_ms")
    n_input = int(rr.size)
    breaks = as_breaks(segment_start_idx, n_input)
    # Stretch number per value; None without gaps keeps the gap-free path exactly as it was.
    seg_id = gaps.stretch_ids(breaks, n_input) if breaks.size else None
    mask = np.zeros(n_input, dtype=bool)
    labels = np.zeros(n_input, dtype=np.int8)
    nn = rr.copy()
    n_gated = 0
    counts = np.zeros(4, dtype=np.intp)  # ectopic, long/short, missed, extra
    if gate and n_input:
        gated = _gate(rr, seg_id)
        nn, mask, labels, n_gated = gated.nn_ms, gated.corrected_mask, gated.labels, gated.n_gated
        seg_id = gated.seg_id
        counts[3] = gated.n_merged
    n_passes = 0
    previous = -1
    stats: _Stats | None = None
    changed: BoolArray | None = None
    for _ in range(MAX_PASSES if iterative else 1):  # a handful of passes, not beats
        if nn.size < 2:
            break
        rr_s = _with_placeholder(nn)
        drrs = _raw_drrs(rr_s)
        if seg_id is not None:
            gaps.neutral_gap_drrs(drrs, seg_id)
        st = _stats(rr_s, drrs, stats, changed)
        c = _classes_ms(_classify(rr_s, drrs, st))
        if seg_id is not None:
            # An extra beat's partner would lie across the gap: correct it as long/short.
            across = np.append(seg_id[1:] != seg_id[:-1], False) & c.extra
            c = _Classes(c.ectopic, c.long_short | across, c.missed, c.extra & ~across)
        found = np.array([np.count_nonzero(flags) for flags in c])
        total = int(found.sum())
        if total == 0 or (previous >= 0 and total >= previous):
            break
        step = _apply_pass(nn, mask, labels, c, seg_id)
        nn, mask, labels, seg_id = step.nn_ms, step.corrected_mask, step.labels, step.seg_id
        stats = _move_stats(st, step.new_pos, nn.size)
        # The placeholder (mean of all) and dRR[1] change whenever anything changes.
        changed = np.concatenate(([True], step.changed))
        changed[1] = True
        counts += found
        n_passes += 1
        previous = total
    corrected_pct = 100.0 * float(mask.sum()) / nn.size if nn.size else 0.0
    return ArtifactCorrection(
        nn_ms=nn,
        corrected_mask=mask,
        labels=labels,
        n_ectopic=int(counts[0]),
        n_long_short=int(counts[1]),
        n_missed=int(counts[2]),
        n_extra=int(counts[3]),
        n_gated=n_gated,
        corrected_pct=corrected_pct,
        n_input_beats=n_input,
        n_passes=n_passes,
        segment_start_idx=(
            gaps.first_beats(seg_id) if seg_id is not None else np.zeros(min(nn.size, 1), np.intp)
        ),
    )


# --------------------------------------------------------------------------------------------
# Live (causal) correction
# --------------------------------------------------------------------------------------------
# Trailing-median fallback: with fewer finals than this, the reference median also uses the
# pending (not yet decided) beats.
_MIN_FINALS_FOR_MEDIAN: Final = 3
_LOOKAHEAD_BEATS: Final = 2
_Q1_POS: Final = _QUARTILES[0] * (WINDOW_BEATS - 1)
_Q3_POS: Final = _QUARTILES[1] * (WINDOW_BEATS - 1)

_NORMAL: Final = LABEL_NORMAL
_ECTOPIC: Final = LABEL_ECTOPIC
_LONG_SHORT: Final = LABEL_LONG_SHORT
_MISSED: Final = LABEL_MISSED
_EXTRA: Final = LABEL_EXTRA


class FinalNN(NamedTuple):
    """One NN interval that `CausalArtifactCorrector` will not revise any more.

    Attributes
    ----------
    nn_ms : float
        The NN interval in ms.
    corrected : bool
        True when the value is not the raw RR (interpolated, split, merged or gated).
    """

    nn_ms: float
    corrected: bool


def _quartile(sorted_row: FloatArray, pos: float) -> float:
    """pandas-style linear quantile at fractional position ``pos`` of a sorted 1-D row."""
    lo = int(pos)
    frac = pos - lo
    v_lo = float(sorted_row[lo])
    if frac == 0.0:
        return v_lo
    return v_lo + (float(sorted_row[lo + 1]) - v_lo) * frac


class CausalArtifactCorrector:
    """Live Lipponen & Tarvainen artifact correction, one RR interval at a time.

    Each `push` returns the NN intervals that became final on that push as a tuple of
    `FinalNN` ``(nn_ms, corrected)`` pairs: usually one, delayed by two beats (the S12/S22
    subspaces look two beats ahead); two when a missed beat was split; none while the look-ahead
    fills up and on the push after an extra beat was merged. `flush` finalizes what is pending at
    the end of a stream. Concatenated, the outputs of all pushes and the flush are the NN series
    (length = pushes + missed − extra). Never raises or warns per beat.

    Attributes
    ----------
    n_ectopic, n_long_short, n_missed, n_extra : int
        Beats detected and corrected in each class so far.
    n_gated : int
        Pushed values outside ``RR_MIN_MS`` … ``RR_MAX_MS`` (or non-finite), replaced.
    n_final : int
        NN values finalized so far.

    Notes
    -----
    hrv-methods.md §5.2. The offline rules of §5.1 with trailing instead of centred windows:

    * Th1 = α·QD(|dRR|) and Th2 = α·QD(|mRR|) over the last ``WINDOW_BEATS`` (91) *final* beats,
      so corrected beats, not artifacts, feed the thresholds; medRR is the median of the last
      ``MEDFILT_ORDER`` (11) final beats (with fewer than 3 finals, of the finals and pending
      beats). Both live in preallocated ring buffers; each push sorts at most 2 × 91 values.
    * Floors: until 91 finals exist, Th1 and Th2 are at least the Malik 20 % of medRR
      (``MALIK_FRACTION``) — thresholds from few beats are unreliable; afterwards at least
      ``TH_FLOOR_MS`` (20 ms), which keeps a very regular rhythm (QD → 0) from flagging jitter.
    * A beat is long/short when ``|dRR| > 1`` *or* ``|mRR| > 3`` as in the paper (NeuroKit2 skips
      every beat with ``|dRR| ≤ 1``).
    * Backstop for frequent ectopy, where the QD thresholds adapt upwards (§5.2, MIT-BIH 208):
      a beat the L&T rules pass is still an artifact when it differs from the previous NN by
      more than 20 % (Malik) *and* from medRR by more than 20 %; it is missed (extra) if half of
      it (it plus the next interval) is within 20 % of medRR, else ectopic when short and
      long/short when long.
    * Gate: values outside ``RR_MIN_MS`` … ``RR_MAX_MS`` are counted in ``n_gated``; a
      too-short one that sums with its neighbour (in either order) to within 20 % of medRR is
      an extra beat's fragment and is merged (also counted in ``n_extra``), the rest replaced.
    * Corrections: extra → merged with the next interval; missed → two halves; ectopic,
      long/short and gated → the mean of those of medRR, the previous NN and the next RR
      (medRR when unknown) that lie within 20 % of medRR. A local mean, not a spline: the live
      path has no good beat after the gap yet, and the median keeps a run of artifacts from
      dragging the value. Gated look-ahead beats count as medRR in the subspaces.
    * NaN: a non-finite input is gated like an out-of-range one. Only when nothing valid has
      been seen yet (the stream starts with three or more invalid values) is there nothing to
      estimate from: a finite value is then clipped to the range, a NaN stays NaN (and is kept
      out of the trailing windows).
    * Classes can differ from `detect_artifacts` on the same data: beats are judged against
      the already-corrected previous beat, so e.g. the compensatory pause after a corrected
      premature beat counts as long/short where the offline rules call it ectopic.

    Examples
    --------
    >>> from pet_biofeedback.signal.artifacts import CausalArtifactCorrector
    >>> corrector = CausalArtifactCorrector()
    >>> nn = []
    >>> for rr_ms in [800.0, 810.0, 790.0, 805.0, 1600.0, 800.0, 795.0]:
    ...     nn.extend(corrector.push(rr_ms))
    >>> nn.extend(corrector.flush())
    >>> [round(b.nn_ms) for b in nn], corrector.n_missed
    ([800, 810, 790, 805, 800, 800, 800, 795], 1)
    """

    __slots__ = (
        "_last_drr_ms",
        "_last_nn_ms",
        "_n_history",
        "_nn_buf_ms",
        "_pending_gated",
        "_pending_ms",
        "_qd_buf_ms",
        "n_ectopic",
        "n_extra",
        "n_final",
        "n_gated",
        "n_long_short",
        "n_missed",
    )

    def __init__(self) -> None:
        self._nn_buf_ms = np.zeros(MEDFILT_ORDER)
        self._qd_buf_ms = np.zeros((2, WINDOW_BEATS))  # rows: |dRR|, |mRR| of final beats
        self._n_history = 0  # finals written to the rings (ring slot = count % size)
        self._last_nn_ms = np.nan
        self._last_drr_ms = 0.0
        self._pending_ms: list[float] = []
        self._pending_gated: list[bool] = []
        self.n_ectopic = 0
        self.n_long_short = 0
        self.n_missed = 0
        self.n_extra = 0
        self.n_gated = 0
        self.n_final = 0

    def push(self, rr_ms: float) -> tuple[FinalNN, ...]:
        """Add one RR interval; return the NN values that became final.

        Parameters
        ----------
        rr_ms : float
            The next RR interval in ms. Values outside ``RR_MIN_MS`` … ``RR_MAX_MS`` and
            non-finite values are gated (counted in ``n_gated`` and replaced).

        Returns
        -------
        tuple of FinalNN
            Zero, one or two ``(nn_ms, corrected)`` pairs, oldest first.
        """
        value = float(rr_ms)
        gated = not RR_MIN_MS <= value <= RR_MAX_MS  # NaN fails the comparison: gated
        if gated:
            self.n_gated += 1
        self._pending_ms.append(value)
        self._pending_gated.append(gated)
        if len(self._pending_ms) <= _LOOKAHEAD_BEATS:
            return ()
        return self._decide()

    def flush(self) -> tuple[FinalNN, ...]:
        """Finalize the pending beats at the end of a stream (missing look-ahead = medRR).

        Returns
        -------
        tuple of FinalNN
            The remaining ``(nn_ms, corrected)`` pairs, oldest first.
        """
        out: list[FinalNN] = []
        while self._pending_ms:  # at most _LOOKAHEAD_BEATS iterations
            out.extend(self._decide())
        return tuple(out)

    def note_gap(self) -> tuple[FinalNN, ...]:
        """A data gap (a dropout): finalize the pending beats and start a new stretch.

        The pending beats are decided as at the end of a stream (their look-ahead lies in the
        gap); the first beat after the gap is then not compared with the last one before it
        (no dRR across the gap; issue 6). The trailing median and thresholds are kept: they
        describe the same heart a few seconds earlier.

        Returns
        -------
        tuple of FinalNN
            The beats that were pending, oldest first.
        """
        out = self.flush()
        self._last_nn_ms = float("nan")
        self._last_drr_ms = 0.0
        return out

    # -- internals -------------------------------------------------------------------------
    def _median_ms(self) -> float:
        """Trailing median of the final NN (plus pending beats while few finals exist)."""
        n = min(self._n_history, MEDFILT_ORDER)
        if self._n_history >= _MIN_FINALS_FOR_MEDIAN:
            values = np.sort(self._nn_buf_ms[:n])
        else:
            pending = [
                v for v, g in zip(self._pending_ms, self._pending_gated, strict=True) if not g
            ]
            values = np.sort(np.concatenate((self._nn_buf_ms[:n], pending)))
            if values.size == 0:
                return float("nan")
        mid = values.size // 2
        if values.size % 2:
            return float(values[mid])
        return float((values[mid] + values[mid - 1]) / 2)

    def _thresholds_ms(self, med_ms: float) -> tuple[float, float]:
        """(Th1, Th2) in ms from the trailing |dRR|, |mRR| rings, with the documented floors."""
        n = min(self._n_history - 1, WINDOW_BEATS)  # the first final has no dRR
        if n >= WINDOW_BEATS:
            srt = np.sort(self._qd_buf_ms, axis=1)
            q1_pos, q3_pos = _Q1_POS, _Q3_POS
            floor = TH_FLOOR_MS
        else:
            floor = MALIK_FRACTION * med_ms
            if n < 2:
                return floor, floor
            srt = np.sort(self._qd_buf_ms[:, :n], axis=1)
            q1_pos, q3_pos = _QUARTILES[0] * (n - 1), _QUARTILES[1] * (n - 1)
        th1 = ALPHA * ((_quartile(srt[0], q3_pos) - _quartile(srt[0], q1_pos)) / 2)
        th2 = ALPHA * ((_quartile(srt[1], q3_pos) - _quartile(srt[1], q1_pos)) / 2)
        return max(th1, floor), max(th2, floor)

    def _classify(self, r0: float, r1: float, r2: float, med: float, th1: float, th2: float) -> int:
        """Class of pending beat ``r0`` given the look-ahead ``r1``, ``r2`` (all ms)."""
        last = self._last_nn_ms
        has_last = last == last
        d0 = (r0 - last) / th1 if has_last else 0.0
        d_prev = self._last_drr_ms / th1
        d1 = (r1 - r0) / th1
        d2 = (r2 - r1) / th1
        m0 = r0 - med
        m0 = (2 * m0 if m0 < 0 else m0) / th2
        if d0 > 1 and max(d_prev, d1) < -C1 * d0 - C2:
            return _ECTOPIC
        if d0 < -1 and min(d_prev, d1) > -C1 * d0 + C2:
            return _ECTOPIC
        is_long = d0 > 1 and min(d1, d2) < -1
        is_short = d0 < -1 and max(d1, d2) > 1
        if is_long or is_short or abs(m0) > MRR_LIMIT:
            if is_short and abs(r0 + r1 - med) < th2:
                return _EXTRA
            if is_long and abs(r0 / 2 - med) < th2:
                return _MISSED
            return _LONG_SHORT
        tol = MALIK_FRACTION * med
        if has_last and abs(r0 - last) > MALIK_FRACTION * last and abs(r0 - med) > tol:
            if r0 > med and abs(r0 / 2 - med) < tol:
                return _MISSED
            if r0 < med and abs(r0 + r1 - med) < tol:
                return _EXTRA
            return _ECTOPIC if r0 < med else _LONG_SHORT
        return _NORMAL

    def _ahead_ms(self, k: int, med: float) -> float:
        """Pending beat ``k`` for the look-ahead; medRR when it is missing or gated."""
        if k < len(self._pending_ms) and not self._pending_gated[k]:
            return self._pending_ms[k]
        return med

    def _decide(self) -> tuple[FinalNN, ...]:
        """Finalize pending beat 0 (look-ahead: pending beats 1 and 2); pop what was consumed."""
        r0 = self._pending_ms[0]
        gated = self._pending_gated[0]
        med = self._median_ms()
        if med != med:  # nothing valid seen yet (r0 is gated): clip it, NaN stays NaN
            med = min(max(r0, RR_MIN_MS), RR_MAX_MS) if r0 == r0 else r0
        r1 = self._ahead_ms(1, med)
        has_next = len(self._pending_ms) > 1
        raw1 = self._pending_ms[1] if has_next else med
        gated1 = has_next and self._pending_gated[1]
        # An extra beat's fragment below RR_MIN_MS merges with its neighbour like an extra.
        frag0 = gated and 0.0 < r0 < RR_MIN_MS
        frag1 = gated1 and 0.0 < raw1 < RR_MIN_MS
        kind = _NORMAL
        if (
            has_next
            and (frag0 or frag1)
            and (frag0 or not gated)
            and (frag1 or not gated1)
            and abs(r0 + raw1 - med) < MALIK_FRACTION * med
        ):
            kind = _EXTRA
        elif not gated:
            th1, th2 = self._thresholds_ms(med)
            kind = self._classify(r0, r1, self._ahead_ms(2, med), med, th1, th2)
            if kind == _EXTRA and (not has_next or gated1):
                kind = _LONG_SHORT  # nothing real to merge with (end of stream or gated)
        del self._pending_ms[0], self._pending_gated[0]
        if kind == _EXTRA:
            self.n_extra += 1
            del self._pending_ms[0], self._pending_gated[0]
            return (self._finalize(r0 + raw1, True, med),)
        if kind == _MISSED:
            self.n_missed += 1
            first = self._finalize(r0 / 2, True, med)
            return (first, self._finalize(r0 / 2, True, med))
        if kind == _NORMAL and not gated:
            return (self._finalize(r0, False, med),)
        if kind == _ECTOPIC:
            self.n_ectopic += 1
        elif kind == _LONG_SHORT:
            self.n_long_short += 1
        # Replacement: mean of medRR, the previous NN and a plausible next RR.
        total, count = 0.0, 0
        for value in (med, self._last_nn_ms, r1):  # three terms
            if value == value and abs(value - med) <= MALIK_FRACTION * med:
                total, count = total + value, count + 1
        return (self._finalize(total / count if count else med, True, med),)

    def _finalize(self, nn_ms: float, corrected: bool, med_ms: float) -> FinalNN:
        """Record a final beat in the trailing rings and return it (NaN is not recorded)."""
        self.n_final += 1
        if nn_ms != nn_ms:
            return FinalNN(nn_ms, corrected)
        last = self._last_nn_ms
        if last == last:
            drr = nn_ms - last
            mrr = nn_ms - med_ms
            slot = (self._n_history - 1) % WINDOW_BEATS
            self._qd_buf_ms[0, slot] = abs(drr)
            self._qd_buf_ms[1, slot] = abs(2 * mrr if mrr < 0 else mrr)
            self._last_drr_ms = drr
        self._nn_buf_ms[self._n_history % MEDFILT_ORDER] = nn_ms
        self._n_history += 1
        self._last_nn_ms = nn_ms
        return FinalNN(nn_ms, corrected)
