"""Offline Lipponen & Tarvainen (2019) beat classification (hrv-methods.md §5.1, §10.3).

`detect_artifacts` flags exactly the beats NeuroKit2's Kubios path flags: the same arithmetic,
vectorised. `Stats`, `Classes` and the helpers up to `classify` are shared with the offline
correction (`_artifact_correction`), which re-classifies after every pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt

from pet_biofeedback.signal._artifact_kernels import (
    C1,
    C2,
    MEDFILT_ORDER,
    MRR_LIMIT,
    MS_PER_S,
    QUARTILES,
    WINDOW_BEATS,
    frozen_copy,
    median_at,
    qd_threshold,
    quantiles_at,
    rolling_median,
    rolling_quantiles,
)
from pet_biofeedback.signal._typing import BoolArray, FloatArray, IntArray
from pet_biofeedback.signal._validate import as_1d_float


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
            frozen_copy(self, name, np.intp)

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
# Recompute everything when more than this fraction of rows is dirty (a full pass slices the
# windows where the incremental one gathers them; 0.25 and 0.9 measured alike).
_INCREMENTAL_MAX_FRACTION: Final = 0.25


class Stats(NamedTuple):
    """Th1, centred median and Th2 over the placeholder-prefixed RR (seconds), one row per beat."""

    th1: FloatArray
    medrr: FloatArray
    th2: FloatArray


class Classes(NamedTuple):
    ectopic: BoolArray
    long_short: BoolArray
    missed: BoolArray
    extra: BoolArray


def with_placeholder(rr_ms: FloatArray) -> FloatArray:
    """RR of validated ``rr_ms`` in seconds with NeuroKit2's placeholder first period prepended.

    NeuroKit2 works on peak times; N intervals are N + 1 peaks (its own ``intervals_to_peaks``),
    and the undefined first period becomes the mean of the others. Seconds, as in NeuroKit2, so
    that the arithmetic and hence the flags are identical.
    """
    rr_s = np.empty(rr_ms.size + 1)
    rr_s[1:] = rr_ms / MS_PER_S
    rr_s[0] = np.mean(rr_s[1:]) if rr_ms.size else 1.0
    return rr_s


def raw_drrs(rr_s: FloatArray) -> FloatArray:
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


def _stats_full(rr_s: FloatArray, drrs: FloatArray) -> Stats:
    """Rolling statistics of float64 ``rr_s`` (n ≥ 3) and its raw ``drrs``, all rows."""
    medrr = rolling_median(rr_s, _MED_HALF)
    th1 = qd_threshold(rolling_quantiles(np.abs(drrs), _QD_HALF, QUARTILES))
    th2 = qd_threshold(rolling_quantiles(np.abs(_raw_mrrs(rr_s, medrr)), _QD_HALF, QUARTILES))
    return Stats(th1, medrr, th2)


def rolling_stats(
    rr_s: FloatArray, drrs: FloatArray, prev: Stats | None, changed: BoolArray | None
) -> Stats:
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
    medrr[rows] = median_at(rr_s, _MED_HALF, rows)
    th1 = prev.th1.copy()
    rows = _dilate(changed, _DIRTY_TH1)
    th1[rows] = qd_threshold(quantiles_at(np.abs(drrs), _QD_HALF, rows, QUARTILES))
    th2 = prev.th2.copy()
    abs_mrrs = np.abs(_raw_mrrs(rr_s, medrr))
    th2[rows_th2] = qd_threshold(quantiles_at(abs_mrrs, _QD_HALF, rows_th2, QUARTILES))
    return Stats(th1, medrr, th2)


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


def classify(rr_s: FloatArray, raw_drrs: FloatArray, st: Stats) -> Classes:
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
    return Classes(ectopic, long_short, missed, extra)


def classes_ms(c: Classes) -> Classes:
    """Drop the placeholder row: classes indexed like ``rr_ms``."""
    return Classes(c.ectopic[1:], c.long_short[1:], c.missed[1:], c.extra[1:])


def _classify_rr_ms(rr_ms: FloatArray) -> Classes:
    """L&T classes of validated RR in ms, indexed like ``rr_ms`` (full computation)."""
    if rr_ms.size < 2:
        empty = np.zeros(rr_ms.size, dtype=bool)
        return Classes(empty, empty.copy(), empty.copy(), empty.copy())
    rr_s = with_placeholder(rr_ms)
    drrs = raw_drrs(rr_s)
    return classes_ms(classify(rr_s, drrs, _stats_full(rr_s, drrs)))


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
