"""Coherence ratio of the last 64 s of beats (hrv-methods.md §6.1), live and post-session.

`coherence_ratio` (one window), `coherence_windows` (many windows, each with its own spline,
as the live display computes it) and `coherence_series` (one spline over a recording).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from pet_biofeedback.errors import SignalInputError
from pet_biofeedback.signal._segments import as_breaks
from pet_biofeedback.signal._spectral_constants import (
    _COHERENCE_CHUNK,
    _GRID_EPS_SAMPLES,
    _MS_PER_S,
    _POWER_FLOOR,
    COHERENCE_FS_HZ,
    COHERENCE_NFFT,
    COHERENCE_PEAK_HALF_WIDTH_HZ,
    COHERENCE_SEARCH_BAND_HZ,
    COHERENCE_TOTAL_BAND_HZ,
    COHERENCE_WINDOW_S,
)
from pet_biofeedback.signal._spectral_kernels import (
    _nfft_for,
    _ranges,
    _spline_blocks,
    _spline_one,
    _window_knots,
)
from pet_biofeedback.signal._typing import BoolArray, FloatArray, IntArray
from pet_biofeedback.signal._validate import as_1d_float

__all__ = [
    "CoherenceResult",
    "CoherenceWindows",
    "coherence_ratio",
    "coherence_ratio_unchecked",
    "coherence_series",
    "coherence_windows",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class CoherenceResult:
    """Coherence ratio of one 64-s window (hrv-methods.md §6.1); NaN if not computable.

    Attributes
    ----------
    ratio : float
        CR = peak / (total − peak), dimensionless. Not HeartMath's 0–16 score.
    peak_hz : float
        Frequency of the PSD maximum in 0.04–0.26 Hz.
    peak_power_ms2 : float
        PSD integrated over ``peak_hz`` ± 0.015 Hz (ms²).
    total_power_ms2 : float
        PSD integrated over 0.0033–0.4 Hz (ms²).
    n_beats : int
        Beats used as spline knots (the beats in the window plus the one just before it).
    t_end_s : float
        Time of the last beat of the window (s, on the `beat_times_s` axis).
    """

    ratio: float
    peak_hz: float
    peak_power_ms2: float
    total_power_ms2: float
    n_beats: int
    t_end_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CoherenceWindows:
    """`CoherenceResult` for many windows: every field an array of shape (n_windows,)."""

    ratio: FloatArray
    peak_hz: FloatArray
    peak_power_ms2: FloatArray
    total_power_ms2: FloatArray
    n_beats: IntArray
    t_end_s: FloatArray

    def __post_init__(self) -> None:
        for f in fields(self):
            getattr(self, f.name).flags.writeable = False

    def window(self, k: int) -> CoherenceResult:
        """Return window ``k`` as a `CoherenceResult`."""
        return CoherenceResult(
            ratio=float(self.ratio[k]),
            peak_hz=float(self.peak_hz[k]),
            peak_power_ms2=float(self.peak_power_ms2[k]),
            total_power_ms2=float(self.total_power_ms2[k]),
            n_beats=int(self.n_beats[k]),
            t_end_s=float(self.t_end_s[k]),
        )


def _coherence_block(
    cum_ms: FloatArray, rr: FloatArray, st: IntArray, kl: IntArray, last: IntArray, n_samp: int
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """(ratio, peak Hz, peak ms², total ms²) of windows with knots rr[st : st + kl] (valid).

    One block spline solve, one matrix detrend and one rfft for all the windows given.
    """
    fs = COHERENCE_FS_HZ
    n = st.size
    tk, yk = _window_knots(cum_ms, rr, st, kl)
    rel_end = (cum_ms[last] - cum_ms[st]) / _MS_PER_S
    j = np.arange(n_samp)
    q = (rel_end[:, None] - (n_samp - 1 - j) / fs).reshape(-1)
    y = _spline_blocks(tk, yk, kl, q, np.full(n, n_samp, dtype=np.intp)).reshape(n, n_samp)
    return _coherence_spectra(y)


@dataclass(frozen=True, slots=True)
class _SpectrumPlan:
    """What `_coherence_spectra` needs for windows of ``n_samp`` samples (read-only arrays)."""

    basis: FloatArray  # (n_samp, 2) orthonormal: constant and line
    win: FloatArray  # periodic Hann
    win_power: float  # Σ win²
    n_fft: int
    keep: int  # bins up to the total band's upper edge
    freqs: FloatArray  # (keep,)
    search: slice  # bins of the peak search band (frequencies ascend: one run)
    half: int  # bins each side of the peak
    tot_mask: BoolArray  # bins of the total band


@functools.lru_cache(maxsize=8)
def _spectrum_plan(n_samp: int) -> _SpectrumPlan:
    """The fixed parts of the §6.1 spectrum, built once per window length.

    The live display refreshes coherence every 5 s and used to rebuild them, QR included,
    each time.
    """
    fs = COHERENCE_FS_HZ
    j = np.arange(n_samp)
    # Least-squares line removal with one orthonormal basis for all rows.
    basis = np.linalg.qr(np.stack([np.ones(n_samp), j - (n_samp - 1) / 2.0], axis=1))[0]
    win = 0.5 - 0.5 * np.cos(2.0 * np.pi * j / n_samp)
    n_fft = int(_nfft_for(np.array([n_samp]), COHERENCE_NFFT)[0])
    all_freqs = np.fft.rfftfreq(n_fft, 1.0 / fs)
    keep = int(np.searchsorted(all_freqs, COHERENCE_TOTAL_BAND_HZ[1], side="right"))
    freqs = np.asarray(all_freqs[:keep], dtype=np.float64)
    lo, hi = COHERENCE_SEARCH_BAND_HZ
    # The search band as a slice: the peak search reads the spectra without copying them.
    in_band = np.flatnonzero((freqs >= lo) & (freqs <= hi))
    search = slice(int(in_band[0]), int(in_band[-1]) + 1)
    half = math.floor(COHERENCE_PEAK_HALF_WIDTH_HZ / freqs[1] + 1e-9)
    tot_mask = freqs >= COHERENCE_TOTAL_BAND_HZ[0]
    for a in (basis, win, freqs, tot_mask):
        a.flags.writeable = False
    return _SpectrumPlan(
        basis, win, float(np.sum(win * win)), n_fft, keep, freqs, search, half, tot_mask
    )


def _coherence_spectra(y: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """(ratio, peak Hz, peak ms², total ms²) of rows of 2-Hz samples (n_windows, S); valid."""
    fs = COHERENCE_FS_HZ
    plan = _spectrum_plan(y.shape[-1])
    basis, win, n_fft, keep, freqs = plan.basis, plan.win, plan.n_fft, plan.keep, plan.freqs
    y = y - (y @ basis) @ basis.T
    spec = np.fft.rfft(y * win, n=n_fft, axis=-1)[:, :keep]
    psd = (spec.real**2 + spec.imag**2) * (2.0 / (fs * plan.win_power))
    psd[:, 0] *= 0.5  # DC is not doubled (the Nyquist bin lies above 0.4 Hz, cut)
    df = freqs[1]
    search, half = plan.search, plan.half
    k_pk = search.start + np.argmax(psd[:, search], axis=-1)
    band = np.take_along_axis(psd, k_pk[:, None] + np.arange(-half, half + 1), axis=-1)
    pk = df * (band.sum(axis=-1) - 0.5 * (band[:, 0] + band[:, -1]))
    # A boolean mask, not a slice: numpy lays the gathered columns out column-major, which fixes
    # the summation order (a slice of the rows sums pairwise: other last bits).
    tot = np.trapezoid(psd[:, plan.tot_mask], freqs[plan.tot_mask], axis=-1)
    power = tot > _POWER_FLOOR
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(power & (tot > pk), pk / (tot - pk), np.nan)
    return (
        np.asarray(ratio, dtype=np.float64),
        np.asarray(np.where(power, freqs[k_pk], np.nan), dtype=np.float64),
        np.asarray(pk, dtype=np.float64),
        np.asarray(tot, dtype=np.float64),
    )


def coherence_windows(
    rr_ms: npt.ArrayLike, end_t_s: npt.ArrayLike, *, window_s: float = COHERENCE_WINDOW_S
) -> CoherenceWindows:
    """Coherence ratio of many windows, each ending at the last beat at or before ``end_t_s``.

    Parameters
    ----------
    rr_ms : array_like, shape (n_beats,)
        RR/NN intervals in ms of the whole recording.
    end_t_s : array_like, shape (n_windows,)
        Window ends in s on the `beat_times_s` axis (e.g. every 5 s). Window k equals
        ``coherence_ratio(rr_ms[:n_k])`` with n_k the number of beats with t ≤ end_t_s[k].
    window_s : float, default 64
        Window length in s (``round(window_s·2)`` samples at 2 Hz).

    Returns
    -------
    CoherenceWindows
        Arrays of shape (n_windows,); NaN where less than ``window_s`` of beats precede the
        end or fewer than 4 beats are available.

    Raises
    ------
    SignalInputError
        Bad ``rr_ms`` or ``end_t_s``; ``window_s`` ≤ 0.

    Notes
    -----
    hrv-methods.md §6.1 "Definition we implement": natural cubic spline through the beats
    from the last one at or before the first sample to the window's last beat, sampled at
    2 Hz on t_end − (S − 1 − j)/2 s (S = 128 for 64 s); least-squares linear detrend;
    periodic Hann; |rfft(·, 1024)|² as a one-sided density (ms²/Hz, f = rfftfreq(1024,
    0.5 s)); f_pk = argmax over 0.04–0.26 Hz; peak = trapezoid over the bins within
    f_pk ± 0.015 Hz (7 bins each side at 0.00195 Hz); total = trapezoid over
    0.0033–0.4 Hz; CR = peak / (total − peak). All windows in one batch: one block spline
    solve, one matrix detrend, one rfft.

    Examples
    --------
    >>> t = np.arange(400) * 0.85
    >>> rr = 850.0 + 50.0 * np.sin(2 * np.pi * 0.1 * t)
    >>> cw = coherence_windows(rr, [100.0, 200.0, 300.0])
    >>> bool(np.all(cw.ratio > 1.0)), cw.peak_hz.round(2).tolist()
    (True, [0.1, 0.1, 0.1])
    """
    rr = as_1d_float(rr_ms, "rr_ms", positive=True)
    ends = as_1d_float(end_t_s, "end_t_s")
    if not (math.isfinite(window_s) and window_s > 0):
        raise SignalInputError(f"window_s must be positive, got {window_s!r}")
    fs = COHERENCE_FS_HZ
    n_samp = max(round(window_s * fs), 2)
    cum_ms = np.cumsum(rr)
    t = cum_ms / _MS_PER_S
    n_win = ends.size
    last = np.searchsorted(t, ends, side="right") - 1
    has = last >= 0
    last_c = np.where(has, last, 0)
    t_end = np.where(has, t[last_c] if t.size else 0.0, np.nan)
    first_q = t_end - (n_samp - 1) / fs
    i0 = np.searchsorted(t, np.where(has, first_q, 0.0), side="right") - 1
    klen = last_c - i0 + 1
    ok = has & (i0 >= 0) & (klen >= 4)
    ratio = np.full(n_win, np.nan)
    peak_hz = np.full(n_win, np.nan)
    peak_p = np.full(n_win, np.nan)
    total_p = np.full(n_win, np.nan)
    n_beats = np.where(ok, klen, 0).astype(np.intp)
    vs = np.flatnonzero(ok)
    for c0 in range(0, vs.size, _COHERENCE_CHUNK):  # bounded memory: chunks, not windows
        w = vs[c0 : c0 + _COHERENCE_CHUNK]
        ratio[w], peak_hz[w], peak_p[w], total_p[w] = _coherence_block(
            cum_ms, rr, i0[w], klen[w], last_c[w], n_samp
        )
    return CoherenceWindows(
        ratio=ratio,
        peak_hz=peak_hz,
        peak_power_ms2=peak_p,
        total_power_ms2=total_p,
        n_beats=n_beats,
        t_end_s=np.asarray(t_end, dtype=np.float64),
    )


def coherence_series(
    rr_ms: npt.ArrayLike,
    *,
    step_s: float = 5.0,
    window_s: float = COHERENCE_WINDOW_S,
    segment_start_idx: npt.ArrayLike | None = None,
    t_beat_s: npt.ArrayLike | None = None,
) -> CoherenceWindows:
    """Coherence ratio every ``step_s`` over a whole recording, from one 2-Hz beat series.

    Parameters
    ----------
    rr_ms : array_like, shape (n_beats,)
        RR/NN intervals in ms of the whole recording.
    step_s : float, default 5
        Spacing of the window ends in s; rounded to whole 2-Hz samples (0.5 s).
    window_s : float, default 64
        Window length in s.
    segment_start_idx : array_like of int, optional
        First beat of each contiguous stretch (a data gap before it). Each stretch gets its
        own spline; a window whose samples are not all inside one stretch is NaN (there is
        no heart rhythm to analyse in a gap). Needs ``t_beat_s``. Default: one stretch.
    t_beat_s : array_like, shape (n_beats,), optional
        Time of the beat that ends each interval (s), strictly increasing, gaps included.
        Default: `beat_times_s` of ``rr_ms`` (no gaps).

    Returns
    -------
    CoherenceWindows
        One entry per window end ``t_end_s = t_0 + window_s + k · step_s`` up to the last beat,
        on the axis of ``t_beat_s`` (default `beat_times_s`; t_0 = first beat); ``n_beats``
        counts the beats inside.

    Notes
    -----
    The post-session counterpart of `coherence_windows`: HeartMath describes the IBIs as
    "accumulated in an interpolated form every 500 ms" (hrv-methods.md §6.1), so here one
    natural cubic spline runs through all beats, sampled at 2 Hz once, and each window is the
    last ``window_s · 2`` samples before its end. The spectrum of each window is computed
    exactly as in `coherence_windows`; values differ from per-window splines only by the
    spline's end effects (`coherence_windows` re-fits a spline to each window's beats, as the
    live display must). Cost: one spline over the recording plus one FFT per window.

    Examples
    --------
    >>> t = np.arange(600) * 0.85
    >>> cs = coherence_series(850.0 + 50.0 * np.sin(2 * np.pi * 0.1 * t))
    >>> bool(np.all(cs.ratio > 1.0)), float(cs.t_end_s[1] - cs.t_end_s[0])
    (True, 5.0)
    """
    rr = as_1d_float(rr_ms, "rr_ms", positive=True)
    if not (math.isfinite(window_s) and window_s > 0):
        raise SignalInputError(f"window_s must be positive, got {window_s!r}")
    if not (math.isfinite(step_s) and step_s > 0):
        raise SignalInputError(f"step_s must be positive, got {step_s!r}")
    fs = COHERENCE_FS_HZ
    n_samp = max(round(window_s * fs), 2)
    step = max(round(step_s * fs), 1)
    breaks = as_breaks(segment_start_idx, rr.size)
    if t_beat_s is None:
        if breaks.size:
            raise SignalInputError("segment_start_idx needs t_beat_s (the beat times with gaps)")
        t = np.cumsum(rr) / _MS_PER_S
    else:
        t = as_1d_float(t_beat_s, "t_beat_s")
        if t.shape != rr.shape or (t.size >= 2 and np.any(np.diff(t) <= 0)):
            raise SignalInputError("t_beat_s must be strictly increasing, one time per interval")
    empty = CoherenceWindows(
        ratio=np.empty(0), peak_hz=np.empty(0), peak_power_ms2=np.empty(0),
        total_power_ms2=np.empty(0), n_beats=np.empty(0, dtype=np.intp), t_end_s=np.empty(0),
    )  # fmt: skip
    if rr.size < 4:
        return empty
    first_q = t[0] + window_s - (n_samp - 1) / fs
    n_q = int(np.floor((t[-1] - first_q) * fs + 1e-9)) + 1
    if n_q < n_samp:
        return empty
    if breaks.size:
        # Grid points only inside the stretches, on the one global grid: memory follows the
        # data, not the recording's span (a beat stamped a year later must not allocate a
        # year of samples).
        first = np.concatenate(([0], breaks)).astype(np.intp)
        last = np.append(breaks, t.size).astype(np.intp) - 1
        use = last > first
        k_lo = np.maximum(np.ceil((t[first[use]] - first_q) * fs - 1e-9), 0.0)
        k_hi = np.minimum(np.floor((t[last[use]] - first_q) * fs + 1e-9), n_q - 1.0)
        lens = np.maximum(k_hi - k_lo + 1.0, 0.0).astype(np.intp)
        k = _ranges(k_lo.astype(np.intp), lens)
        q = first_q + k / fs
        y = _spline_stretches(t, rr, breaks, q)
        cand = np.flatnonzero(k % step == 0)
        starts = cand[cand + n_samp - 1 < k.size]
        # A window is usable when its samples are consecutive grid points (one stretch) and
        # none of them falls in a gap (prefix count of NaN).
        n_gap = np.concatenate(([0], np.cumsum(np.isnan(y))))
        starts_ok = (k[starts + n_samp - 1] - k[starts] == n_samp - 1) & (
            n_gap[starts + n_samp] == n_gap[starts]
        )
        if starts.size == 0:
            return empty
    else:
        q = first_q + np.arange(n_q) / fs
        starts = np.arange(0, n_q - n_samp + 1, step)
        y = _spline_blocks(t, rr, np.array([rr.size]), q, np.array([n_q]))
        starts_ok = np.ones(starts.size, dtype=bool)
    ends_t = q[starts + n_samp - 1]
    ratio = np.full(starts.size, np.nan)
    peak_hz = np.full(starts.size, np.nan)
    peak_p = np.full(starts.size, np.nan)
    total_p = np.full(starts.size, np.nan)
    view = np.lib.stride_tricks.sliding_window_view(y, n_samp)
    usable = np.flatnonzero(starts_ok)
    for c0 in range(0, usable.size, _COHERENCE_CHUNK):  # bounded memory: chunks, not windows
        k = usable[c0 : c0 + _COHERENCE_CHUNK]
        out = _coherence_spectra(np.ascontiguousarray(view[starts[k]]))
        ratio[k], peak_hz[k], peak_p[k], total_p[k] = out
    lo = np.searchsorted(t, ends_t - window_s, side="right")
    hi = np.searchsorted(t, ends_t, side="right")
    return CoherenceWindows(
        ratio=ratio,
        peak_hz=peak_hz,
        peak_power_ms2=peak_p,
        total_power_ms2=total_p,
        n_beats=(hi - lo).astype(np.intp),
        t_end_s=ends_t,
    )


def _spline_stretches(t: FloatArray, rr: FloatArray, breaks: IntArray, q: FloatArray) -> FloatArray:
    """One natural spline per stretch of ≥ 2 beats at the increasing times ``q``; NaN in gaps.

    ``t`` are the beat times (gaps included), ``breaks`` the first beats of new stretches.
    """
    first = np.concatenate(([0], breaks)).astype(np.intp)
    last = np.append(breaks, t.size).astype(np.intp) - 1
    usable = last > first  # a one-beat stretch has no curve
    sid = np.searchsorted(t[first], q, side="right") - 1
    sid_c = np.maximum(sid, 0)
    eps_s = _GRID_EPS_SAMPLES / COHERENCE_FS_HZ
    inside = (sid >= 0) & usable[sid_c] & (q <= t[last[sid_c]] + eps_s)
    y = np.full(q.size, np.nan)
    if not np.any(inside):
        return y
    klen = (last - first + 1)[usable]
    knots = _ranges(first[usable], klen)
    # Queries grouped by stretch, in the order of the knot blocks (both follow time).
    qlen = np.bincount(sid[inside], minlength=first.size)[usable].astype(np.intp)
    y[inside] = _spline_blocks(t[knots], rr[knots], klen, q[inside], qlen)
    return y


def coherence_ratio(
    rr_ms: npt.ArrayLike, *, window_s: float = COHERENCE_WINDOW_S
) -> CoherenceResult:
    """Coherence ratio of the last ``window_s`` seconds of the given beats.

    Parameters
    ----------
    rr_ms : array_like, shape (n_beats,)
        RR/NN intervals in ms; the window ends at the last beat.
    window_s : float, default 64
        Window length in s.

    Returns
    -------
    CoherenceResult
        NaN fields (and ``n_beats`` 0) when the beats span less than the window.

    Raises
    ------
    SignalInputError
        Bad ``rr_ms`` or ``window_s``.

    Notes
    -----
    hrv-methods.md §6.1, exactly as `coherence_windows` with one window. Expect CR well
    below 1 during spontaneous breathing and above 1 with one clean resonance peak. This is
    not HeartMath's 0–16 score; call it "coherence ratio".

    Examples
    --------
    >>> t = np.arange(100) * 0.85
    >>> r = coherence_ratio(850.0 + 50.0 * np.sin(2 * np.pi * 0.1 * t))
    >>> r.ratio > 1.0, round(r.peak_hz, 2)
    (True, 0.1)
    """
    rr = as_1d_float(rr_ms, "rr_ms", positive=True)
    if not (math.isfinite(window_s) and window_s > 0):
        raise SignalInputError(f"window_s must be positive, got {window_s!r}")
    return coherence_ratio_unchecked(rr, window_s=window_s)


@functools.lru_cache(maxsize=8)
def _sample_lead_s(n_samp: int) -> FloatArray:
    """How far each 2-Hz sample of a window lies before its end (s), oldest first."""
    j = np.arange(n_samp)
    lead = (n_samp - 1 - j) / COHERENCE_FS_HZ
    lead.flags.writeable = False
    return lead


def coherence_ratio_unchecked(
    rr_ms: FloatArray, *, window_s: float = COHERENCE_WINDOW_S
) -> CoherenceResult:
    """`coherence_ratio` of RR the caller has validated (float64, 1-D, finite, > 0).

    ``window_s`` must be positive and finite. The steps of `coherence_windows` for its one
    window with the same operations, so the same result, without the many-window
    bookkeeping (validation twice, index gathers, the block spline's masks): the live
    analyzer refreshes coherence every 5 s.
    """
    rr = rr_ms
    fs = COHERENCE_FS_HZ
    n_samp = max(round(window_s * fs), 2)
    nan = math.nan
    if rr.size == 0:
        return CoherenceResult(
            ratio=nan, peak_hz=nan, peak_power_ms2=nan, total_power_ms2=nan, n_beats=0, t_end_s=nan
        )
    cum_ms = np.cumsum(rr)
    t = cum_ms / _MS_PER_S
    last = int(np.searchsorted(t, cum_ms[-1] / _MS_PER_S, side="right")) - 1
    t_end = float(t[last])
    i0 = int(np.searchsorted(t, t_end - (n_samp - 1) / fs, side="right")) - 1
    klen = last - i0 + 1
    if i0 < 0 or klen < 4:
        return CoherenceResult(
            ratio=nan,
            peak_hz=nan,
            peak_power_ms2=nan,
            total_power_ms2=nan,
            n_beats=0,
            t_end_s=t_end,
        )
    # Knot times relative to the window's first beat, as `_window_knots` forms them.
    tk = (cum_ms[i0 : last + 1] - cum_ms[i0]) / _MS_PER_S
    q = (cum_ms[last] - cum_ms[i0]) / _MS_PER_S - _sample_lead_s(n_samp)
    y = _spline_one(tk, rr[i0 : last + 1], q).reshape(1, n_samp)
    ratio, peak_hz, peak_p, total_p = _coherence_spectra(y)
    return CoherenceResult(
        ratio=float(ratio[0]),
        peak_hz=float(peak_hz[0]),
        peak_power_ms2=float(peak_p[0]),
        total_power_ms2=float(total_p[0]),
        n_beats=klen,
        t_end_s=t_end,
    )
