"""Time-domain HRV: mean RR, heart rate, SDNN, RMSSD, SDSD, pNN50.

Three shapes of the same formulas (hrv-methods.md §1):

* `time_metrics` — one window;
* `time_metrics_windows` — many beat-index windows in one call, from prefix sums;
* `RunningTimeDomain` — an O(1)-per-beat update over the last ``window_beats`` beats.

Conventions: SDNN and SDSD use ddof = 1; RMSSD divides by the number of successive
differences (n − 1); pNN50 counts ``|ΔNN| > 50 ms`` (strict) over the n − 1 differences;
mean HR is the mean of the per-beat heart rates ``mean(60000 / NN)``, as pyHRV and
hrv-analysis compute it (not ``60000 / mean(NN)``, which is lower by Jensen's inequality, by
about 0.3 bpm at an SDNN of 50 ms; hrv-methods.md §1); min/max HR are the per-beat extremes
``60000 / max(NN)``, ``60000 / min(NN)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Final

import numpy as np
import numpy.typing as npt

from pet_biofeedback.errors import SignalInputError
from pet_biofeedback.signal._segments import as_breaks, diff_ok
from pet_biofeedback.signal._typing import FloatArray, IntArray
from pet_biofeedback.signal._validate import as_1d_float, check_windows

__all__ = [
    "NN50_THRESHOLD_MS",
    "RunningTimeDomain",
    "TimeDomainMetrics",
    "TimeDomainWindows",
    "time_metrics",
    "time_metrics_windows",
]

NN50_THRESHOLD_MS: Final = 50.0  # hrv-methods.md §1, strict ">"
MS_PER_MIN: Final = 60_000.0
# Up to this many ranges, min/max reduce each range directly: the sparse table of one 24-h
# range (17 levels × 100 000 beats) cost ≈ 20 ms on the main thread of `analyze` (issue 9).
_DIRECT_RANGES: Final = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeDomainMetrics:
    """Time-domain HRV of one window; NaN where the window is too short.

    Attributes
    ----------
    n_beats : int
        Number of NN intervals used.
    mean_rr_ms, sdnn_ms, rmssd_ms, sdsd_ms : float
        Mean NN, SD of NN (ddof 1), root mean square of successive differences,
        SD of successive differences (ddof 1), all in ms.
    pnn50_pct : float
        Percentage of successive differences whose magnitude exceeds 50 ms, over n − 1.
    mean_hr_bpm, min_hr_bpm, max_hr_bpm : float
        Mean of the per-beat heart rates ``60000 / NN`` and their extremes, in beats per
        minute (hrv-methods.md §1).
    """

    n_beats: int
    mean_rr_ms: float
    sdnn_ms: float
    rmssd_ms: float
    sdsd_ms: float
    pnn50_pct: float
    mean_hr_bpm: float
    min_hr_bpm: float
    max_hr_bpm: float


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeDomainWindows:
    """`TimeDomainMetrics` for many windows: every field an array of shape (n_windows,)."""

    n_beats: IntArray
    mean_rr_ms: FloatArray
    sdnn_ms: FloatArray
    rmssd_ms: FloatArray
    sdsd_ms: FloatArray
    pnn50_pct: FloatArray
    mean_hr_bpm: FloatArray
    min_hr_bpm: FloatArray
    max_hr_bpm: FloatArray

    def __post_init__(self) -> None:
        for f in fields(self):
            getattr(self, f.name).flags.writeable = False

    def window(self, k: int) -> TimeDomainMetrics:
        """Return window ``k`` as a `TimeDomainMetrics`."""
        floats = {
            f.name: float(getattr(self, f.name)[k]) for f in fields(self) if f.name != "n_beats"
        }
        return TimeDomainMetrics(n_beats=int(self.n_beats[k]), **floats)


def time_metrics(nn_ms: npt.ArrayLike) -> TimeDomainMetrics:
    """Time-domain HRV of one series of NN intervals.

    Parameters
    ----------
    nn_ms : array_like, shape (n_beats,)
        NN intervals in ms (artifact-corrected RR), finite and positive.

    Returns
    -------
    TimeDomainMetrics
        Mean-based values need 1 beat, SDNN 2, RMSSD/pNN50 2 (one difference), SDSD 3;
        anything short of that is NaN.

    Raises
    ------
    SignalInputError
        If ``nn_ms`` is not 1-D, not finite or not positive.

    Notes
    -----
    Formulas of hrv-methods.md §1 (Task Force 1996). RMSSD = sqrt(mean(ΔNN²)) over the
    n − 1 differences; pNN50 = 100 · count(|ΔNN| > 50) / (n − 1); mean HR =
    mean(60000 / NN), as pyHRV and hrv-analysis.

    Examples
    --------
    >>> m = time_metrics([800.0, 810.0, 790.0, 860.0])
    >>> round(m.rmssd_ms, 3), round(m.pnn50_pct, 2)
    (42.426, 33.33)
    """
    nn = as_1d_float(nn_ms, "nn_ms", positive=True)
    n = nn.size
    nan = float("nan")
    if n == 0:
        return TimeDomainMetrics(
            n_beats=0, mean_rr_ms=nan, sdnn_ms=nan, rmssd_ms=nan, sdsd_ms=nan,
            pnn50_pct=nan, mean_hr_bpm=nan, min_hr_bpm=nan, max_hr_bpm=nan,
        )  # fmt: skip
    d = np.diff(nn)
    mean_rr = float(np.mean(nn))
    return TimeDomainMetrics(
        n_beats=n,
        mean_rr_ms=mean_rr,
        sdnn_ms=float(np.std(nn, ddof=1)) if n >= 2 else nan,
        rmssd_ms=float(np.sqrt(np.mean(d * d))) if n >= 2 else nan,
        sdsd_ms=float(np.std(d, ddof=1)) if n >= 3 else nan,
        pnn50_pct=float(100.0 * np.count_nonzero(np.abs(d) > NN50_THRESHOLD_MS) / d.size)
        if n >= 2
        else nan,
        mean_hr_bpm=float(np.mean(MS_PER_MIN / nn)),
        min_hr_bpm=MS_PER_MIN / float(np.max(nn)),
        max_hr_bpm=MS_PER_MIN / float(np.min(nn)),
    )


def _range_extreme(x: FloatArray, start: IntArray, stop: IntArray, ufunc: np.ufunc) -> FloatArray:
    """min or max of x[start:stop] for many ranges via a sparse table; empty ranges give NaN.

    O(n log n) build (a loop over the log2(n) levels, not over beats) and O(1) per query.
    """
    out = np.full(start.shape, np.nan)
    length = stop - start
    ok = length > 0
    if not np.any(ok) or x.size == 0:
        return out
    s, ln = start[ok], length[ok]
    if s.size <= _DIRECT_RANGES:  # a handful: each range reduced directly, the same extremes
        out[ok] = [ufunc.reduce(x[a : a + n]) for a, n in zip(s.tolist(), ln.tolist(), strict=True)]
        return out
    levels = [x]
    span = 1
    while 2 * span <= int(np.max(ln)):
        prev = levels[-1]
        levels.append(ufunc(prev[:-span], prev[span:]))
        span *= 2
    k = np.floor(np.log2(ln)).astype(np.intp)
    table_lens = np.array([lv.size for lv in levels])
    # Pad all levels into one 2-D table so a query is one fancy-index per end.
    table = np.full((len(levels), x.size), np.nan)
    for i, lv in enumerate(levels):
        table[i, : table_lens[i]] = lv
    left = table[k, s]
    right = table[k, s + ln - (1 << k)]
    out[ok] = ufunc(left, right)
    return out


def time_metrics_windows(
    nn_ms: npt.ArrayLike,
    start_idx: npt.ArrayLike,
    stop_idx: npt.ArrayLike,
    *,
    segment_start_idx: npt.ArrayLike | None = None,
) -> TimeDomainWindows:
    """Time-domain HRV of many windows ``nn_ms[start:stop]`` in one vectorised call.

    Parameters
    ----------
    nn_ms : array_like, shape (n_beats,)
        NN intervals in ms.
    start_idx, stop_idx : array_like of int, shape (n_windows,)
        Half-open beat-index ranges; windows may overlap and may be empty.
    segment_start_idx : array_like of int, optional
        First beat of each contiguous stretch (a data gap before it); index 0 may be given or
        not. A difference across a gap is not a successive difference: it is left out of
        RMSSD, SDSD and pNN50, whose denominators count only the differences inside stretches.
        Default: one stretch.

    Returns
    -------
    TimeDomainWindows
        Each field of shape (n_windows,), equal to `time_metrics` of each slice (to rounding)
        when the slice holds no break.

    Notes
    -----
    Sums and sums of squares come from prefix sums of values centred on the series mean,
    which keeps the cancellation error of ``Σx² − (Σx)²/n`` near 1e-12 relative on 24-h
    series. Min/max use a sparse table. Cost O(n log n + n_windows).
    """
    nn = as_1d_float(nn_ms, "nn_ms", positive=True)
    start, stop = check_windows(start_idx, stop_idx, nn.size)
    ok_d = diff_ok(as_breaks(segment_start_idx, nn.size), nn.size)
    n = (stop - start).astype(np.intp)
    with np.errstate(invalid="ignore", divide="ignore"):
        ref = float(np.mean(nn)) if nn.size else 0.0
        c = nn - ref
        s1 = np.concatenate(([0.0], np.cumsum(c)))
        s2 = np.concatenate(([0.0], np.cumsum(c * c)))
        w1 = s1[stop] - s1[start]
        w2 = s2[stop] - s2[start]
        mean_c = w1 / n
        mean_rr = ref + mean_c
        var = np.maximum(w2 - w1 * mean_c, 0.0) / (n - 1)
        sdnn = np.where(n >= 2, np.sqrt(var), np.nan)

        d = np.diff(nn)
        # Differences across a gap weigh 0 (×1.0 and ×0.0 are exact, so without gaps the sums
        # are bit for bit those of the plain formulas).
        w = ok_d.astype(np.float64)
        d_in = d[ok_d]
        dref = float(np.mean(d_in)) if d_in.size else 0.0
        dc = (d - dref) * w
        q1 = np.concatenate(([0.0], np.cumsum(dc)))
        q2 = np.concatenate(([0.0], np.cumsum(dc * dc)))
        big = np.concatenate(([0], np.cumsum((np.abs(d) > NN50_THRESHOLD_MS) & ok_d)))
        n_ok = np.concatenate(([0], np.cumsum(ok_d)))
        dstart = start
        dstop = np.maximum(stop - 1, start)
        nd = n_ok[dstop] - n_ok[dstart]
        e1 = q1[dstop] - q1[dstart]
        e2 = q2[dstop] - q2[dstart]
        # Σd² = Σ(dc + dref)² = Σdc² + 2·dref·Σdc + nd·dref²
        sum_d2 = e2 + 2.0 * dref * e1 + nd * dref * dref
        rmssd = np.where(nd >= 1, np.sqrt(np.maximum(sum_d2, 0.0) / nd), np.nan)
        dmean_c = e1 / nd
        sdsd = np.where(nd >= 2, np.sqrt(np.maximum(e2 - e1 * dmean_c, 0.0) / (nd - 1)), np.nan)
        pnn50 = np.where(nd >= 1, 100.0 * (big[dstop] - big[dstart]) / nd, np.nan)
        mean_rr = np.where(n >= 1, mean_rr, np.nan)
        # Mean per-beat HR from prefix sums of HR centred on its series mean, as for NN.
        hr = MS_PER_MIN / nn
        hr_ref = float(np.mean(hr)) if nn.size else 0.0
        h1 = np.concatenate(([0.0], np.cumsum(hr - hr_ref)))
        mean_hr = np.where(n >= 1, hr_ref + (h1[stop] - h1[start]) / n, np.nan)
        rr_min = _range_extreme(nn, start, stop, np.minimum)
        rr_max = _range_extreme(nn, start, stop, np.maximum)
        return TimeDomainWindows(
            n_beats=n,
            mean_rr_ms=mean_rr,
            sdnn_ms=sdnn,
            rmssd_ms=rmssd,
            sdsd_ms=sdsd,
            pnn50_pct=pnn50,
            mean_hr_bpm=mean_hr,
            min_hr_bpm=MS_PER_MIN / rr_max,
            max_hr_bpm=MS_PER_MIN / rr_min,
        )


class RunningTimeDomain:
    """Time-domain HRV over the last ``window_beats`` NN intervals, updated in O(1) per beat.

    Running sums of values centred on a reference are updated as beats enter and leave a
    preallocated ring buffer; a beat pushed with ``new_stretch=True`` (the first after a data
    gap) adds no successive difference, and RMSSD, SDSD and pNN50 count only the differences
    inside stretches (as `time_metrics_windows` with ``segment_start_idx``). Every
    ``window_beats`` pushes the sums are rebuilt from the buffer so rounding cannot drift
    (amortised O(1)). Min/max HR are an O(window) numpy
    reduction over the buffer, which costs about a microsecond for 300 beats.

    Parameters
    ----------
    window_beats : int
        Number of most recent NN intervals the metrics describe (≥ 2).

    Examples
    --------
    >>> run = RunningTimeDomain(window_beats=3)
    >>> for nn in (800.0, 810.0, 790.0, 860.0):
    ...     m = run.push(nn)
    >>> round(m.rmssd_ms, 3)  # over 810, 790, 860
    51.478
    """

    def __init__(self, window_beats: int) -> None:
        if window_beats < 2:
            raise SignalInputError("window_beats must be at least 2")
        self.window_beats = int(window_beats)
        self._nn = np.zeros(self.window_beats)
        # 1.0 where the beat's difference to the beat before it is a successive difference
        # (0.0 for the first beat of a stretch after a gap).
        self._ok = np.zeros(self.window_beats)
        self._nd = 0  # successive differences inside the window
        self._count = 0  # beats pushed in total
        self._since_rebuild = 0
        self._ref = 0.0
        self._s1 = 0.0
        self._s2 = 0.0
        self._h1 = 0.0  # Σ(60000/NN − hr_ref): the mean per-beat HR
        self._hr_ref = 0.0
        self._d1 = 0.0
        self._d2 = 0.0
        self._n50 = 0

    @property
    def n_beats(self) -> int:
        """Number of beats currently in the window."""
        return min(self._count, self.window_beats)

    def values_ms(self) -> FloatArray:
        """The NN intervals in the window, oldest first (a copy)."""
        n = self.n_beats
        idx = (np.arange(self._count - n, self._count)) % self.window_beats
        return self._nn[idx]

    def segment_start_idx(self) -> IntArray:
        """Indices (into `values_ms`) of the beats that start a stretch after a gap."""
        n = self.n_beats
        idx = (np.arange(self._count - n, self._count)) % self.window_beats
        return (np.flatnonzero(self._ok[idx][1:] == 0.0) + 1).astype(np.intp)

    def _rebuild(self) -> None:
        nn = self.values_ms()
        n = nn.size
        ok = self._ok[(np.arange(self._count - n, self._count)) % self.window_beats][1:] != 0.0
        self._ref = float(nn[-1]) if nn.size else 0.0
        c = nn - self._ref
        self._s1 = float(np.sum(c))
        self._s2 = float(np.dot(c, c))
        self._hr_ref = MS_PER_MIN / self._ref if nn.size else 0.0
        self._h1 = float(np.sum(MS_PER_MIN / nn - self._hr_ref))
        d = np.diff(nn)[ok]
        self._d1 = float(np.sum(d))
        self._d2 = float(np.dot(d, d))
        self._n50 = int(np.count_nonzero(np.abs(d) > NN50_THRESHOLD_MS))
        self._nd = int(d.size)
        self._since_rebuild = 0

    def push(self, nn_ms: float, *, new_stretch: bool = False) -> TimeDomainMetrics:
        """Add one NN interval (ms) and return the metrics of the updated window.

        ``new_stretch``: the beat is the first after a data gap; its difference to the beat
        before the gap is not a successive difference and is left out.
        """
        w = self.window_beats
        nn_ms = float(nn_ms)
        if not (math.isfinite(nn_ms) and nn_ms > 0):
            raise SignalInputError(f"nn_ms must be finite and positive, got {nn_ms!r}")
        if self._count >= w:
            # The oldest beat and the oldest difference leave the window.
            old = float(self._nn[self._count % w])
            nxt = float(self._nn[(self._count + 1) % w])
            c = old - self._ref
            self._s1 -= c
            self._s2 -= c * c
            self._h1 -= MS_PER_MIN / old - self._hr_ref
            if self._ok[(self._count + 1) % w]:
                d_old = nxt - old
                self._d1 -= d_old
                self._d2 -= d_old * d_old
                self._n50 -= int(abs(d_old) > NN50_THRESHOLD_MS)
                self._nd -= 1
        ok = self._count >= 1 and not new_stretch
        if ok:
            prev = float(self._nn[(self._count - 1) % w])
            d_new = nn_ms - prev
            self._d1 += d_new
            self._d2 += d_new * d_new
            self._n50 += int(abs(d_new) > NN50_THRESHOLD_MS)
            self._nd += 1
        c = nn_ms - self._ref
        self._s1 += c
        self._s2 += c * c
        self._h1 += MS_PER_MIN / nn_ms - self._hr_ref
        self._ok[self._count % w] = 1.0 if ok else 0.0
        self._nn[self._count % w] = nn_ms
        self._count += 1
        self._since_rebuild += 1
        if self._since_rebuild >= w:
            self._rebuild()
        return self.metrics()

    def metrics(self) -> TimeDomainMetrics:
        """Metrics of the current window."""
        n = self.n_beats
        nan = float("nan")
        if n == 0:
            return time_metrics(np.empty(0))
        mean_c = self._s1 / n
        mean_rr = self._ref + mean_c
        nd = self._nd
        filled = self._nn if self._count >= self.window_beats else self._nn[:n]
        rr_min = float(np.min(filled))
        rr_max = float(np.max(filled))
        return TimeDomainMetrics(
            n_beats=n,
            mean_rr_ms=mean_rr,
            sdnn_ms=math.sqrt(max(self._s2 - self._s1 * mean_c, 0.0) / (n - 1)) if n >= 2 else nan,
            rmssd_ms=math.sqrt(max(self._d2, 0.0) / nd) if nd >= 1 else nan,
            sdsd_ms=math.sqrt(max(self._d2 - self._d1 * self._d1 / nd, 0.0) / (nd - 1))
            if nd >= 2
            else nan,
            pnn50_pct=100.0 * self._n50 / nd if nd >= 1 else nan,
            mean_hr_bpm=self._hr_ref + self._h1 / n,
            min_hr_bpm=MS_PER_MIN / rr_max,
            max_hr_bpm=MS_PER_MIN / rr_min,
        )
