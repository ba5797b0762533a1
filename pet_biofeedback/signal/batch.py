"""Whole-recording analysis: artifact correction, then every HRV measure for the whole series
and, optionally, for sliding windows — each measure computed for all windows in one call.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from typing import Final

import numpy as np
import numpy.typing as npt

from pet_biofeedback.errors import ConfigError, SignalInputError
from pet_biofeedback.signal import artifacts, nonlinear, spectral, timedomain
from pet_biofeedback.signal._segments import as_breaks, split_windows
from pet_biofeedback.signal._typing import FloatArray, IntArray
from pet_biofeedback.signal._validate import as_1d_float

__all__ = [
    "COHERENCE_STEP_S",
    "SAMPEN_MAX_BEATS",
    "AnalysisSettings",
    "BatchAnalysis",
    "CoherenceRun",
    "HrvTable",
    "analyze_rr",
    "coherence_window_means",
    "window_bounds",
]

COHERENCE_STEP_S: Final = 5.0  # coherence is re-evaluated every 5 s (hrv-methods.md §6.1)
# Sample entropy costs O(N²) pairs; above this many beats the whole-series value is not
# computed (windows still are). 20 000 beats ≈ 5 h at 67 bpm.
SAMPEN_MAX_BEATS: Final = 20_000
MIN_WINDOW_S: Final = 10.0  # RMSSD's shortest valid window (hrv-methods.md §4)
MIN_STEP_S: Final = 1.0  # finer steps only repeat nearly identical windows
MAX_WINDOWS: Final = 20_000  # bounds memory and time (24 h at a 5-s step)
_SEGMENT_OVERLAP_TOLERANCE_S: Final = 1.0  # stretch starts this much early are clock jitter
_WORKERS: Final = 2  # summary, windows and coherence run side by side


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalysisSettings:
    """How a recording is analysed.

    Attributes
    ----------
    correction : bool
        Apply the physiological gate and Lipponen–Tarvainen correction (default True).
    window_s, step_s : float or None
        Sliding windows of ``window_s`` seconds every ``step_s`` seconds (default: no
        windows; ``step_s`` defaults to ``window_s``).
    spectral_method : {"welch", "lomb"}
    """

    correction: bool = True
    window_s: float | None = None
    step_s: float | None = None
    spectral_method: spectral.SpectralMethod = "welch"

    def __post_init__(self) -> None:
        if self.window_s is not None and not (
            math.isfinite(self.window_s) and self.window_s >= MIN_WINDOW_S
        ):
            raise ConfigError(
                f"window must be at least {MIN_WINDOW_S:g} seconds, got {self.window_s:g}"
            )
        if self.step_s is not None:
            if self.window_s is None:
                raise ConfigError("a step needs a window")
            if not (math.isfinite(self.step_s) and self.step_s >= MIN_STEP_S):
                raise ConfigError(
                    f"step must be at least {MIN_STEP_S:g} second, got {self.step_s:g}"
                )
        if self.spectral_method not in ("welch", "lomb"):
            raise ConfigError(
                f"unknown spectral method {self.spectral_method!r}; valid: welch, lomb"
            )

    @property
    def effective_step_s(self) -> float | None:
        """The step actually used (the window length when no step was given)."""
        return self.step_s if self.step_s is not None else self.window_s


@dataclass(frozen=True, slots=True, kw_only=True)
class HrvTable:
    """Every measure for a set of windows; each field has shape (n_windows,).

    Units are in the names; ``breathing_rate_breaths_per_min`` is NaN without a breathing
    signal, and every value is NaN where a window is too short for the measure.
    """

    start_s: FloatArray
    end_s: FloatArray
    n_beats: IntArray
    duration_s: FloatArray
    n_ectopic: IntArray
    n_long_short: IntArray
    n_missed: IntArray
    n_extra: IntArray
    corrected_pct: FloatArray
    mean_rr_ms: FloatArray
    sdnn_ms: FloatArray
    rmssd_ms: FloatArray
    sdsd_ms: FloatArray
    pnn50_pct: FloatArray
    mean_hr_bpm: FloatArray
    min_hr_bpm: FloatArray
    max_hr_bpm: FloatArray
    vlf_ms2: FloatArray
    lf_ms2: FloatArray
    hf_ms2: FloatArray
    total_power_ms2: FloatArray
    lf_hf: FloatArray
    lf_nu: FloatArray
    hf_nu: FloatArray
    lf_peak_hz: FloatArray
    hf_peak_hz: FloatArray
    sd1_ms: FloatArray
    sd2_ms: FloatArray
    dfa_alpha1: FloatArray
    sampen: FloatArray
    coherence_ratio: FloatArray
    breathing_rate_breaths_per_min: FloatArray

    def __post_init__(self) -> None:
        for f in fields(self):
            getattr(self, f.name).flags.writeable = False

    def __len__(self) -> int:
        return int(self.start_s.size)


@dataclass(frozen=True, slots=True, kw_only=True)
class CoherenceRun:
    """The 5-s coherence series `analyze_rr` computed, and the beat axis it was computed on.

    Kept so that a caller needing the same series (the breathing estimate of
    `session.analysis`) reuses it instead of computing it again (≈ 0.08 s for 24 h).

    Attributes
    ----------
    series : spectral.CoherenceWindows
        `spectral.coherence_series` of the NN series with ``step_s = COHERENCE_STEP_S``.
    breaks : ndarray of int
        First beat of every stretch after a gap (empty without gaps).
    t_beat_s : ndarray
        The ``t_beat_s`` the series was computed on (s from the first beat's start).
    """

    series: spectral.CoherenceWindows
    breaks: IntArray
    t_beat_s: FloatArray

    def matches(self, breaks: npt.ArrayLike, t_beat_s: npt.ArrayLike) -> bool:
        """True when ``coherence_series`` with these stretches and beat times is `series`."""
        return bool(
            np.array_equal(self.breaks, np.asarray(breaks))
            and np.array_equal(self.t_beat_s, np.asarray(t_beat_s))
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchAnalysis:
    """Result of `analyze_rr`: the whole series (`summary`, one row) and the windows."""

    summary: HrvTable
    windows: HrvTable
    settings: AnalysisSettings
    nn_ms: FloatArray
    beat_t_s: FloatArray
    n_input_beats: int
    notes: tuple[str, ...] = field(default_factory=tuple)
    coherence: CoherenceRun | None = None


def window_bounds(
    beat_t_s: FloatArray, t_start_s: float, t_end_s: float, window_s: float, step_s: float
) -> tuple[FloatArray, FloatArray, IntArray, IntArray]:
    """Full windows ``[start, start + window_s)`` every ``step_s`` from ``t_start_s``.

    A beat belongs to a window when its interval ends inside it. Returns start and end
    times and the half-open beat-index ranges.
    """
    n_win = int(np.floor((t_end_s - t_start_s - window_s) / step_s + 1e-9)) + 1
    starts = t_start_s + step_s * np.arange(max(n_win, 0), dtype=np.float64)
    ends = np.asarray(starts + window_s, dtype=np.float64)
    lo = np.searchsorted(beat_t_s, starts, side="left").astype(np.intp)
    hi = np.searchsorted(beat_t_s, ends, side="left").astype(np.intp)
    return starts, ends, lo, hi


def _class_counts(labels: npt.NDArray[np.int8], lo: IntArray, hi: IntArray, code: int) -> IntArray:
    cum = np.concatenate(([0], np.cumsum(labels == code)))
    return (cum[hi] - cum[lo]).astype(np.intp)


def _table(
    nn: FloatArray,
    beat_t_s: FloatArray,
    labels: npt.NDArray[np.int8],
    corrected: npt.NDArray[np.bool_],
    starts: FloatArray,
    ends: FloatArray,
    lo: IntArray,
    hi: IntArray,
    breath_start_s: FloatArray | None,
    whole_breathing_rate: float | None,
    fd: spectral.FrequencyWindows,
    nonlin: tuple[FloatArray, FloatArray],
    breaks: IntArray,
) -> HrvTable:
    td = timedomain.time_metrics_windows(nn, lo, hi, segment_start_idx=breaks)
    # SD1/SD2 from SDSD and SDNN (hrv-methods.md §3): no second pass over the data.
    sd1 = np.sqrt(0.5) * td.sdsd_ms
    sd2 = np.sqrt(np.maximum(2.0 * td.sdnn_ms**2 - 0.5 * td.sdsd_ms**2, 0.0))
    sampen, dfa = nonlin
    n = hi - lo
    ccum = np.concatenate(([0], np.cumsum(corrected)))
    with np.errstate(invalid="ignore", divide="ignore"):
        corrected_pct = np.where(n > 0, 100.0 * (ccum[hi] - ccum[lo]) / n, np.nan)
    tcum = np.concatenate(([0.0], np.cumsum(nn)))
    if breath_start_s is not None and whole_breathing_rate is None:
        breathing = _breathing_rates(breath_start_s, starts, ends)
    elif whole_breathing_rate is not None:
        breathing = np.full(starts.shape, whole_breathing_rate)
    else:
        breathing = np.full(starts.shape, np.nan)
    return HrvTable(
        start_s=np.asarray(starts, dtype=np.float64),
        end_s=np.asarray(ends, dtype=np.float64),
        n_beats=n.astype(np.intp),
        duration_s=(tcum[hi] - tcum[lo]) / 1000.0,
        n_ectopic=_class_counts(labels, lo, hi, artifacts.LABEL_ECTOPIC),
        n_long_short=_class_counts(labels, lo, hi, artifacts.LABEL_LONG_SHORT),
        n_missed=_class_counts(labels, lo, hi, artifacts.LABEL_MISSED),
        n_extra=_class_counts(labels, lo, hi, artifacts.LABEL_EXTRA),
        corrected_pct=corrected_pct,
        mean_rr_ms=td.mean_rr_ms,
        sdnn_ms=td.sdnn_ms,
        rmssd_ms=td.rmssd_ms,
        sdsd_ms=td.sdsd_ms,
        pnn50_pct=td.pnn50_pct,
        mean_hr_bpm=td.mean_hr_bpm,
        min_hr_bpm=td.min_hr_bpm,
        max_hr_bpm=td.max_hr_bpm,
        vlf_ms2=fd.vlf_ms2,
        lf_ms2=fd.lf_ms2,
        hf_ms2=fd.hf_ms2,
        total_power_ms2=fd.total_power_ms2,
        lf_hf=fd.lf_hf,
        lf_nu=fd.lf_nu,
        hf_nu=fd.hf_nu,
        lf_peak_hz=fd.lf_peak_hz,
        hf_peak_hz=fd.hf_peak_hz,
        sd1_ms=sd1,
        sd2_ms=sd2,
        dfa_alpha1=dfa,
        sampen=sampen,
        coherence_ratio=np.full(starts.shape, np.nan),  # filled in by `analyze_rr`
        breathing_rate_breaths_per_min=breathing,
    )


def _nonlinear(
    nn: FloatArray, lo: IntArray, hi: IntArray, sampen_max_beats: int | None, breaks: IntArray
) -> tuple[FloatArray, FloatArray]:
    """(sample entropy, DFA α1) per window; sample entropy skipped above the beat limit."""
    sampen_hi = hi
    if sampen_max_beats is not None:
        sampen_hi = np.where((hi - lo) > sampen_max_beats, lo, hi)
    return (
        nonlinear.sample_entropy_windows(nn, lo, sampen_hi, segment_start_idx=breaks),
        nonlinear.dfa_alpha1_windows(nn, lo, hi, segment_start_idx=breaks),
    )


def _stretch_beat_times(
    nn: FloatArray, breaks: IntArray, segment_start_s: FloatArray
) -> FloatArray:
    """Time of the beat ending each interval: each stretch from its own start time (s).

    A stretch that would start before the previous one ends (correction changed the sums,
    or clock jitter) starts at that end instead, so beat times always increase.
    """
    cum_ms = np.cumsum(nn)
    first = np.concatenate(([0], breaks)).astype(np.intp)
    before_ms = np.where(first > 0, cum_ms[np.maximum(first - 1, 0)], 0.0)
    # start_k = max(t0_k, start_{k-1} + D_{k-1}) in closed form: with C_k = Σ_{j<k} D_j,
    # start_k − C_k = max(t0_k − C_k, start_{k-1} − C_{k-1}), a running maximum.
    before_s = before_ms / 1000.0
    starts = np.maximum.accumulate(segment_start_s - before_s) + before_s
    sid = np.repeat(np.arange(first.size), np.diff(np.append(first, nn.size)))
    result: FloatArray = starts[sid] + (cum_ms - before_ms[sid]) / 1000.0
    return result


def _spectral_left_out(
    nn: FloatArray, lo: IntArray, hi: IntArray, breaks: IntArray, fd: spectral.FrequencyWindows
) -> tuple[int, int]:
    """(left out because of gaps, left out because too short) frequency measures of windows.

    A window without frequency measures whose beats, gaps ignored, would pass the minimum
    (`spectral.SpectralSettings.long_enough`) lost them to a gap: none of its gap-free pieces
    is long enough. Every other window without them is simply too short.
    """
    left = ~np.isfinite(fd.total_power_ms2)
    if not breaks.size or not lo.size:
        return 0, int(np.count_nonzero(left))
    owner, p_lo, p_hi = split_windows(lo, hi, breaks)
    cum = np.concatenate(([0.0], np.cumsum(nn)))
    # Span each window would have without its gaps: the pieces' sums less the first interval.
    beat_time_s = np.bincount(owner, weights=cum[p_hi] - cum[p_lo], minlength=lo.size) / 1e3
    first_s = np.where(hi > lo, nn[np.minimum(lo, max(nn.size - 1, 0))], 0.0) / 1e3
    by_gap = left & fd.settings.long_enough(hi - lo, beat_time_s - first_s)
    return int(np.count_nonzero(by_gap)), int(np.count_nonzero(left & ~by_gap))


def _left_out_notes(
    nn: FloatArray,
    lo: IntArray,
    hi: IntArray,
    breaks: IntArray,
    fd: spectral.FrequencyWindows,
    coherence_ratio: FloatArray,
    window_s: float | None,
) -> list[str]:
    """Plain-words notes on the frequency measures and coherence that rows lack.

    ``window_s``: the window length for the windows, None for the whole recording.
    """
    notes: list[str] = []
    if not lo.size:
        return notes
    min_s = fd.settings.min_duration_s
    by_gap, too_short = _spectral_left_out(nn, lo, hi, breaks, fd)
    whole = window_s is None
    subject = "of the whole recording" if whole else f"of {{}} of {lo.size} windows"
    their = "its" if whole else "their"
    if by_gap:
        notes.append(
            f"frequency measures {subject.format(by_gap)} were left out: none of {their} "
            f"gap-free stretches lasts {min_s:g} s"
        )
    if too_short:
        if window_s is not None and window_s < min_s:
            why = f"windows of {window_s:g} s are shorter than the {min_s:g} s they need"
        else:
            why = (
                f"{their} beats span less than {min_s:g} s, even allowing one beat at either "
                "end; frequency measures need a minute"
            )
        notes.append(f"frequency measures {subject.format(too_short)} were left out: {why}")
    n_coh = int(np.count_nonzero(~np.isfinite(coherence_ratio)))
    if n_coh:
        coh_s = spectral.COHERENCE_WINDOW_S
        if window_s is not None and window_s < coh_s:
            why = f"windows of {window_s:g} s are shorter than the {coh_s:g} s it needs"
        else:
            why = (
                f"it is the mean of the {coh_s:g}-s coherence windows (one every "
                f"{COHERENCE_STEP_S:g} s) that lie inside without a gap, and there were none"
            )
        notes.append(f"coherence {subject.format(n_coh)} was left out: {why}")
    return notes


def coherence_window_means(
    grid_t_s: npt.ArrayLike, values: npt.ArrayLike, starts: npt.ArrayLike, ends: npt.ArrayLike
) -> FloatArray:
    """Mean of the 64-s coherence windows' values over the ones inside each [start, end].

    Parameters
    ----------
    grid_t_s : array_like, shape (n_grid,)
        End time of each 64-s coherence window (s), ascending (`spectral.coherence_series`).
    values : array_like, shape (n_grid,)
        One value per coherence window (its coherence ratio, its peak as breaths/min, …);
        NaN where it has none.
    starts, ends : array_like, shape (n_windows,)
        The windows to summarise (s, same clock as ``grid_t_s``).

    Returns
    -------
    ndarray of float64, shape (n_windows,)
        The mean of the finite values of the coherence windows that lie wholly inside each
        window (end − `spectral.COHERENCE_WINDOW_S` ≥ start, end ≤ window end); NaN where
        there are none.

    Notes
    -----
    Prefix sums and `np.searchsorted`: O(n_grid + n_windows log n_grid), no loop per window.

    Examples
    --------
    >>> coherence_window_means([64.0, 69.0, 74.0], [1.0, np.nan, 3.0], [0.0, 5.0], [74.0, 70.0])
    array([ 2., nan])
    """
    grid_t_s = np.asarray(grid_t_s, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    starts = np.asarray(starts, dtype=np.float64)
    ends = np.asarray(ends, dtype=np.float64)
    finite = np.isfinite(values)
    csum = np.concatenate(([0.0], np.cumsum(np.where(finite, values, 0.0))))
    ccount = np.concatenate(([0], np.cumsum(finite)))
    lo = np.searchsorted(grid_t_s, starts + spectral.COHERENCE_WINDOW_S - 1e-9, side="left")
    hi = np.maximum(np.searchsorted(grid_t_s, ends + 1e-9, side="right"), lo)
    count = ccount[hi] - ccount[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, (csum[hi] - csum[lo]) / np.maximum(count, 1), np.nan)


def _breathing_rates(
    breath_start_s: FloatArray, starts: FloatArray, ends: FloatArray
) -> FloatArray:
    """Breaths/min from the breath onsets inside each window (complete breaths only)."""
    lo = np.searchsorted(breath_start_s, starts, side="left")
    hi = np.searchsorted(breath_start_s, ends, side="left")
    n_breaths = hi - lo - 1
    ok = n_breaths >= 1
    first = (
        breath_start_s[np.minimum(lo, breath_start_s.size - 1)] if breath_start_s.size else starts
    )
    last = breath_start_s[np.maximum(hi - 1, 0)] if breath_start_s.size else ends
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = 60.0 * n_breaths / (last - first)
    return np.where(ok & (last > first), rate, np.nan)


def _check_segments(
    segment_start_idx: npt.ArrayLike | None, segment_start_s: npt.ArrayLike | None, rr: FloatArray
) -> tuple[IntArray, FloatArray]:
    """Validated (first interval, start time) of every stretch; empty when none were given."""
    if segment_start_idx is None and segment_start_s is None:
        return np.empty(0, dtype=np.intp), np.empty(0)
    if segment_start_idx is None or segment_start_s is None:
        raise SignalInputError("give segment_start_idx and segment_start_s together")
    t0 = as_1d_float(segment_start_s, "segment_start_s")
    idx = np.asarray(segment_start_idx)
    if idx.ndim != 1 or idx.size != t0.size or idx.size == 0 or int(idx[0]) != 0:
        raise SignalInputError(
            "segment_start_idx must start with 0 and match segment_start_s in length"
        )
    breaks = as_breaks(idx, rr.size)
    if breaks.size != idx.size - 1:
        raise SignalInputError("segment_start_idx must be strictly increasing")
    cum_ms = np.concatenate(([0.0], np.cumsum(rr)))
    first = np.concatenate(([0], breaks)).astype(np.intp)
    stop = np.append(breaks, rr.size).astype(np.intp)
    end_s = t0 + (cum_ms[stop] - cum_ms[first]) / 1000.0
    # A little overlap is clock jitter between notification times and RR sums; more is wrong.
    if np.any(t0[1:] < end_s[:-1] - _SEGMENT_OVERLAP_TOLERANCE_S):
        raise SignalInputError("a stretch starts before the previous one ends")
    return first, t0


def analyze_rr(
    rr_ms: npt.ArrayLike,
    settings: AnalysisSettings | None = None,
    *,
    t_first_beat_s: float = 0.0,
    segment_start_idx: npt.ArrayLike | None = None,
    segment_start_s: npt.ArrayLike | None = None,
    breath_start_s: npt.ArrayLike | None = None,
    breathing_rate_breaths_per_min: float | None = None,
) -> BatchAnalysis:
    """Analyse a whole RR series, and sliding windows of it if the settings ask for them.

    Parameters
    ----------
    rr_ms : array_like, shape (n_beats,)
        RR intervals in ms, in order.
    settings : AnalysisSettings, optional
    t_first_beat_s : float
        Time of the beat that *starts* the first interval, on the caller's time axis (0 for
        RR files; the first R peak's time for ECG). Window times are on that axis.
    segment_start_idx : array_like of int, shape (n_segments,), optional
        Index into ``rr_ms`` of the first interval of each contiguous stretch, starting with
        0: the recording has a data gap before every later stretch (a dropout). Give it with
        ``segment_start_s``. Default: one stretch.
    segment_start_s : array_like, shape (n_segments,), optional
        Time of the beat that starts each stretch's first interval (s, the caller's axis,
        gaps included); the first one replaces ``t_first_beat_s``. A stretch may not start
        before the previous one ends.
    breath_start_s : array_like, optional
        Breath onsets (s, same axis) from a breathing signal; gives per-window breathing rates.
    breathing_rate_breaths_per_min : float, optional
        The whole recording's breathing rate (from a spectral estimate), used in the summary.

    Returns
    -------
    BatchAnalysis
        Window times are recording time, gaps included.

    Notes
    -----
    Gaps (hrv-methods.md §1, issue 6): a difference between the beats on either side of a
    gap is not a successive difference. It is left out of RMSSD, SDSD, pNN50 and SD1/SD2;
    DFA boxes and sample-entropy templates never span a gap; artifact detection does not
    judge the jump across a gap and correction does not interpolate or merge across it.
    Spectra and coherence are computed per gap-free stretch and combined (see
    `spectral.frequency_metrics_windows`, `spectral.coherence_series`); a window without a
    long-enough stretch has no frequency measures, and the notes say how many.
    """
    settings = settings or AnalysisSettings()
    rr = as_1d_float(rr_ms, "rr_ms", positive=True)
    seg_idx, seg_t = _check_segments(segment_start_idx, segment_start_s, rr)
    notes: list[str] = []
    n_in_range = int(np.count_nonzero((rr >= artifacts.RR_MIN_MS) & (rr <= artifacts.RR_MAX_MS)))
    if rr.size and n_in_range < 0.5 * rr.size:
        # Mostly out of range is a unit or format problem, not artifacts: correcting would
        # invent a heart rate.
        raise SignalInputError(
            f"{rr.size - n_in_range} of {rr.size} intervals are outside "
            f"{artifacts.RR_MIN_MS:g}–{artifacts.RR_MAX_MS:g} ms (a heart rate of 24–240 bpm); "
            "are the values RR intervals in milliseconds or seconds?"
        )
    breaks = seg_idx[1:]
    if settings.correction:
        corr = artifacts.correct_rr(rr, segment_start_idx=seg_idx if breaks.size else None)
        if corr.n_gated:
            notes.append(
                f"{corr.n_gated} intervals outside {artifacts.RR_MIN_MS:g}–"
                f"{artifacts.RR_MAX_MS:g} ms were treated as artifacts"
            )
        nn = np.asarray(corr.nn_ms, dtype=np.float64)
        labels = corr.labels
        corrected = np.asarray(corr.corrected_mask)
        breaks = np.asarray(corr.segment_start_idx[1:], dtype=np.intp)
    else:
        nn = rr
        labels = np.zeros(rr.size, dtype=np.int8)
        corrected = np.zeros(rr.size, dtype=bool)
    if breaks.size:
        t_first_beat_s = float(seg_t[0])
        beat_t = _stretch_beat_times(nn, breaks, seg_t)
        notes.append(
            f"{breaks.size} difference(s) between beats on either side of a gap were left out "
            "of RMSSD, SDSD, pNN50, SD1/SD2, DFA and sample entropy; spectra and coherence "
            "were computed per gap-free stretch"
        )
    else:
        if seg_t.size:
            t_first_beat_s = float(seg_t[0])
        beat_t = t_first_beat_s + np.cumsum(nn) / 1000.0
    breaths = None if breath_start_s is None else as_1d_float(breath_start_s, "breath_start_s")
    t_end = float(beat_t[-1]) if beat_t.size else t_first_beat_s
    whole_lo = np.array([0], dtype=np.intp)
    whole_hi = np.array([nn.size], dtype=np.intp)
    if nn.size > SAMPEN_MAX_BEATS:
        notes.append(
            f"sample entropy of the whole recording is not computed above {SAMPEN_MAX_BEATS} "
            "beats (use --window)"
        )
    whole_rate = breathing_rate_breaths_per_min
    if whole_rate is not None and not math.isfinite(whole_rate):
        whole_rate = None
    if settings.window_s is not None:
        step = settings.effective_step_s
        assert step is not None
        n_windows = (t_end - t_first_beat_s - settings.window_s) / step + 1
        if n_windows > MAX_WINDOWS:
            raise ConfigError(
                f"{n_windows:.0f} windows of {settings.window_s:g} s every {step:g} s is more "
                f"than {MAX_WINDOWS}; use a larger step"
            )
        starts, ends, lo, hi = window_bounds(beat_t, t_first_beat_s, t_end, settings.window_s, step)
        if starts.size == 0:
            notes.append(
                f"the recording ({t_end - t_first_beat_s:.0f} s) is shorter than one "
                f"{settings.window_s:g}-s window"
            )
    else:
        starts = ends = np.empty(0)
        lo = hi = np.empty(0, dtype=np.intp)
    # Independent pieces of numpy work; numpy releases the GIL in its kernels, so on a
    # multi-core machine they overlap. Results do not depend on the scheduling.
    method = settings.spectral_method
    whole_starts, whole_ends = np.array([t_first_beat_s]), np.array([t_end])
    seg = breaks if breaks.size else None
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        # Largest pieces first so the two workers finish together.
        win_fd = pool.submit(
            spectral.frequency_metrics_windows, nn, lo, hi, method=method, segment_start_idx=seg
        )
        win_nonlin = pool.submit(_nonlinear, nn, lo, hi, None, breaks)
        # Coherence every 5 s over the recording, once, shared by the summary and the windows.
        if breaks.size:
            coh_t = beat_t - t_first_beat_s
            coherence = pool.submit(
                spectral.coherence_series, nn, step_s=COHERENCE_STEP_S,
                segment_start_idx=breaks, t_beat_s=coh_t,
            )  # fmt: skip
        else:
            coh_t = np.cumsum(nn) / 1000.0  # coherence_series' own default axis
            coherence = pool.submit(spectral.coherence_series, nn, step_s=COHERENCE_STEP_S)
        whole_fd = pool.submit(
            spectral.frequency_metrics_windows, nn, whole_lo, whole_hi, method=method,
            segment_start_idx=seg,
        )  # fmt: skip
        whole_nonlin = pool.submit(_nonlinear, nn, whole_lo, whole_hi, SAMPEN_MAX_BEATS, breaks)
        summary = _table(
            nn, beat_t, labels, corrected, whole_starts, whole_ends, whole_lo, whole_hi,
            breaths, whole_rate, whole_fd.result(), whole_nonlin.result(), breaks,
        )  # fmt: skip
        windows = _table(
            nn, beat_t, labels, corrected, starts, ends, lo, hi, breaths, None,
            win_fd.result(), win_nonlin.result(), breaks,
        )  # fmt: skip
        cs = coherence.result()
    dfa_min_beats = 2 * max(nonlinear.DFA_ALPHA1_SCALES_BEATS)
    if breaks.size and nn.size >= dfa_min_beats and not np.isfinite(summary.dfa_alpha1[0]):
        notes.append(
            f"DFA α1 of the whole recording was left out: no gap-free stretch holds "
            f"{dfa_min_beats} beats"
        )
    grid_t = t_first_beat_s + cs.t_end_s
    ratio = np.asarray(cs.ratio)
    summary = replace(
        summary,
        coherence_ratio=coherence_window_means(grid_t, ratio, summary.start_s, summary.end_s),
    )
    windows = replace(
        windows,
        coherence_ratio=coherence_window_means(grid_t, ratio, windows.start_s, windows.end_s),
    )
    # Where a measure is missing, say why (issue 9): the table and the JSON carry the notes.
    notes += _left_out_notes(
        nn, whole_lo, whole_hi, breaks, whole_fd.result(), summary.coherence_ratio, None
    )
    notes += _left_out_notes(
        nn, lo, hi, breaks, win_fd.result(), windows.coherence_ratio, settings.window_s
    )
    return BatchAnalysis(
        summary=summary,
        windows=windows,
        settings=settings,
        nn_ms=nn,
        beat_t_s=beat_t,
        n_input_beats=int(rr.size),
        notes=tuple(notes),
        coherence=CoherenceRun(series=cs, breaks=breaks, t_beat_s=coh_t),
    )
