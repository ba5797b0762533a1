"""Frequency-domain HRV: settings, results and the windowed pipeline; the public face.

Shapes of the same pipeline (hrv-methods.md §2):

* `frequency_metrics` — one window of RR intervals → `FrequencyMetrics`;
* `frequency_metrics_windows` — many beat-index windows in one vectorised call →
  `FrequencyWindows` (equal to `frequency_metrics` on each slice, to rounding);
* `IncrementalLomb` (module `lomb`) — Lomb sums on a fixed frequency grid updated in
  O(n_freqs) per beat;
* `coherence_ratio` / `coherence_windows` / `coherence_series` (module `coherence`) — the
  64-s coherence ratio of §6.1.

Building blocks are public too and re-exported here: `beat_times_s`, `resample_rr`,
`detrend_smoothness_priors`, `welch_psd`, `band_power_ms2` (module `welch`), `lomb_psd`.
Shared kernels live in `_spectral_kernels`, constants in `_spectral_constants`.

Windows variant and single call are *defined* to agree: every window gets its own natural
cubic spline through its own beats, its own uniform grid starting at its first beat, and its
own detrending. The windows variant does this for all windows at once by solving one
block-diagonal banded system (blocks decoupled by construction) instead of one per window.

Import cost: only numpy at module level. ``scipy.linalg`` (banded Cholesky) is imported on
first use; ``scipy.signal`` is never imported (peers.md §5.4).
"""

from __future__ import annotations

import math
from dataclasses import InitVar, dataclass, fields
from typing import Final

import numpy as np
import numpy.typing as npt

from pet_biofeedback.errors import ConfigError
from pet_biofeedback.signal._segments import as_breaks, split_windows
from pet_biofeedback.signal._spectral_constants import (
    _MS_PER_S,
    _POWER_FLOOR,
    _WINDOWS,
    COHERENCE_FS_HZ,
    COHERENCE_NFFT,
    COHERENCE_PEAK_HALF_WIDTH_HZ,
    COHERENCE_SEARCH_BAND_HZ,
    COHERENCE_TOTAL_BAND_HZ,
    COHERENCE_WINDOW_S,
    DETREND_METHODS,
    FREQ_MIN_BEATS,
    FREQ_MIN_DURATION_S,
    HF_BAND_HZ,
    LF_BAND_HZ,
    LOMB_FREQ_STEP_HZ,
    RESAMPLE_FS_HZ,
    SMOOTHNESS_PRIORS_LAMBDA,
    SPECTRAL_METHODS,
    VLF_BAND_HZ,
    WELCH_NFFT_MIN,
    WELCH_OVERLAP,
    WELCH_SEGMENT_S,
    DetrendMethod,
    SpectralMethod,
)
from pet_biofeedback.signal._spectral_kernels import (
    _band_mask,
    _linear_detrend_blocks,
    _mean_detrend_blocks,
    _n_grid,
    _peak_rows,
    _smoothness_priors_blocks,
    _spline_blocks,
    _trapezoid_rows,
    _welch_blocks,
    _window_knots,
)
from pet_biofeedback.signal._typing import BoolArray, FloatArray, IntArray
from pet_biofeedback.signal._validate import as_1d_float, check_choice, check_windows
from pet_biofeedback.signal.coherence import (
    CoherenceResult,
    CoherenceWindows,
    coherence_ratio,
    coherence_series,
    coherence_windows,
)
from pet_biofeedback.signal.lomb import (
    IncrementalLomb,
    _freq_plan,
    _lomb_blocks,
    default_lomb_freqs_hz,
    lomb_psd,
)
from pet_biofeedback.signal.welch import (
    band_power_ms2,
    beat_times_s,
    detrend_smoothness_priors,
    resample_rr,
    welch_psd,
)

__all__ = [
    "COHERENCE_FS_HZ",
    "COHERENCE_NFFT",
    "COHERENCE_PEAK_HALF_WIDTH_HZ",
    "COHERENCE_SEARCH_BAND_HZ",
    "COHERENCE_TOTAL_BAND_HZ",
    "COHERENCE_WINDOW_S",
    "DETREND_METHODS",
    "FREQ_MIN_BEATS",
    "FREQ_MIN_DURATION_S",
    "HF_BAND_HZ",
    "LF_BAND_HZ",
    "LOMB_FREQ_STEP_HZ",
    "RESAMPLE_FS_HZ",
    "SMOOTHNESS_PRIORS_LAMBDA",
    "SPECTRAL_METHODS",
    "VLF_BAND_HZ",
    "WELCH_NFFT_MIN",
    "WELCH_OVERLAP",
    "WELCH_SEGMENT_S",
    "CoherenceResult",
    "CoherenceWindows",
    "DetrendMethod",
    "FrequencyMetrics",
    "FrequencyWindows",
    "IncrementalLomb",
    "SpectralMethod",
    "SpectralSettings",
    "band_power_ms2",
    "beat_times_s",
    "coherence_ratio",
    "coherence_series",
    "coherence_windows",
    "default_lomb_freqs_hz",
    "detrend_smoothness_priors",
    "frequency_metrics",
    "frequency_metrics_windows",
    "lomb_psd",
    "resample_rr",
    "welch_psd",
]


# --- Results ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class SpectralSettings:
    """Every setting that shapes a frequency-domain number (hrv-methods.md §0).

    Attributes
    ----------
    method : {"welch", "lomb"}
        PSD estimator.
    detrend : {"smoothness_priors", "linear", "none"}
        Trend removal before the PSD; the mean is always removed ("none" = mean only).
    fs_hz : float
        Resampling rate of the cubic spline (Welch); for Lomb, the rate whose smoothness-
        priors cut-off the beat-domain detrending reproduces.
    lambda_ : float
        Smoothness-priors regularisation λ at ``fs_hz``.
    segment_s, overlap : float
        Welch segment length (s) and fractional overlap.
    nfft_min : int
        Welch FFT length when it is at least the segment length in samples; otherwise the
        next power of two above the segment length.
    window : str
        Taper, always ``"hann"`` (periodic, as ``scipy.signal.get_window``).
    lomb_freq_step_hz : float
        Lomb grid: ``k · lomb_freq_step_hz`` for k = 1 … up to the HF upper edge.
    vlf_band_hz, lf_band_hz, hf_band_hz : tuple of float
        Band edges (Hz), integrated over [lo, hi).
    min_duration_s : float
        Shortest record that gets numbers instead of NaN (s), judged by `long_enough`.
    min_duration_tolerance_rr : float
        Mean RR intervals a record's first-to-last-beat span may fall short of
        ``min_duration_s`` (default 2: one at either end, see `long_enough`).
    min_beats : int
        Fewest beats that get numbers instead of NaN.
    interpolation : None
        Removed (issue 9): it was accepted and ignored. Welch always resamples with a
        natural cubic spline through (t_k, RR_k) (hrv-methods.md §2.2); passing anything
        raises `ConfigError`.

    Raises
    ------
    SignalInputError
        Unknown ``method``, ``detrend`` or ``window``.
    ConfigError
        Non-positive rates, lengths or λ; overlap outside [0, 1); negative tolerance;
        ``interpolation`` given.
    """

    method: SpectralMethod = "welch"
    detrend: DetrendMethod = "smoothness_priors"
    fs_hz: float = RESAMPLE_FS_HZ
    lambda_: float = SMOOTHNESS_PRIORS_LAMBDA
    segment_s: float = WELCH_SEGMENT_S
    overlap: float = WELCH_OVERLAP
    nfft_min: int = WELCH_NFFT_MIN
    window: str = "hann"
    lomb_freq_step_hz: float = LOMB_FREQ_STEP_HZ
    vlf_band_hz: tuple[float, float] = VLF_BAND_HZ
    lf_band_hz: tuple[float, float] = LF_BAND_HZ
    hf_band_hz: tuple[float, float] = HF_BAND_HZ
    min_duration_s: float = FREQ_MIN_DURATION_S
    min_duration_tolerance_rr: float = 2.0  # one mean RR at either end (`long_enough`)
    min_beats: int = FREQ_MIN_BEATS
    interpolation: InitVar[str | None] = None

    def __post_init__(self, interpolation: str | None) -> None:
        if interpolation is not None:
            raise ConfigError(
                f"interpolation={interpolation!r} is no longer a setting: Welch always "
                "resamples with a natural cubic spline; leave the argument out"
            )
        if not (
            math.isfinite(self.min_duration_tolerance_rr) and self.min_duration_tolerance_rr >= 0
        ):
            raise ConfigError(
                "min_duration_tolerance_rr must be ≥ 0 and finite, "
                f"got {self.min_duration_tolerance_rr!r}"
            )
        check_choice(self.method, "method", SPECTRAL_METHODS)
        check_choice(self.detrend, "detrend", DETREND_METHODS)
        check_choice(self.window, "window", _WINDOWS)
        for name in ("fs_hz", "lambda_", "segment_s", "lomb_freq_step_hz"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{name} must be positive and finite, got {value!r}")
        if not 0.0 <= self.overlap < 1.0:
            raise ConfigError(f"overlap must be in [0, 1), got {self.overlap!r}")
        if self.nfft_min < 0:
            raise ConfigError(f"nfft_min must be ≥ 0, got {self.nfft_min!r}")
        if self.lomb_freq_step_hz > self.hf_band_hz[1]:
            raise ConfigError("lomb_freq_step_hz is wider than the whole spectrum")

    def lomb_freqs_hz(self) -> FloatArray:
        """The Lomb frequency grid (Hz) these settings use."""
        return default_lomb_freqs_hz(self.lomb_freq_step_hz, self.hf_band_hz[1])

    def long_enough(self, n_beats: npt.ArrayLike, duration_s: npt.ArrayLike) -> BoolArray:
        """Which records get numbers: enough beats, and a span that covers ``min_duration_s``.

        Parameters
        ----------
        n_beats : array_like of int
            Beats (RR intervals) of each record.
        duration_s : array_like of float
            First-to-last-beat span of each record (s), same shape.

        Returns
        -------
        ndarray of bool
            True where ``n_beats ≥ max(min_beats, 3)`` and ``duration_s`` plus
            ``min_duration_tolerance_rr`` mean RR intervals (``duration_s / (n_beats − 1)``)
            reaches ``min_duration_s``.

        Notes
        -----
        hrv-methods.md §2.2 step 5. The beats of a record of length T — a 60-s window, a
        one-minute recording — span less than T: from the record's start to its first beat
        and from its last beat to its end each lie within one RR interval. Judging the span
        against T strictly leaves out every 60-s window (issue 9); one mean RR of tolerance
        still leaves out about half of them (52 % kept of 3540 windows of 60 s over a
        4000-beat series at 67 bpm), two (one per end) keep 99.97 %.
        """
        n = np.asarray(n_beats)
        dur = np.asarray(duration_s, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            covered = dur + self.min_duration_tolerance_rr * dur / (n - 1)
        ok: BoolArray = (n >= max(self.min_beats, 3)) & (covered >= self.min_duration_s)
        return ok


@dataclass(frozen=True, slots=True, kw_only=True)
class FrequencyMetrics:
    """Frequency-domain HRV of one window; NaN where the window is too short.

    Attributes
    ----------
    n_beats : int
        Beats (RR intervals) in the window.
    duration_s : float
        Time from the first to the last beat of the window (s).
    vlf_ms2, lf_ms2, hf_ms2 : float
        Band powers (ms²), trapezoid of the PSD over [lo, hi) of each band.
    total_power_ms2 : float
        VLF + LF + HF (ms²); ULF and > 0.4 Hz excluded (§2.1).
    lf_hf : float
        LF / HF.
    lf_nu, hf_nu : float
        Task Force normalised units: 100 · LF / (TP − VLF), 100 · HF / (TP − VLF).
    lf_peak_hz, hf_peak_hz : float
        Frequency of the PSD maximum inside LF and HF (Hz).
    lf_peak_psd_ms2_per_hz : float
        PSD value at ``lf_peak_hz`` (ms²/Hz) — the "LF peak" of §6.3.
    settings : SpectralSettings
        The settings that produced these numbers.
    """

    n_beats: int
    duration_s: float
    vlf_ms2: float
    lf_ms2: float
    hf_ms2: float
    total_power_ms2: float
    lf_hf: float
    lf_nu: float
    hf_nu: float
    lf_peak_hz: float
    hf_peak_hz: float
    lf_peak_psd_ms2_per_hz: float
    settings: SpectralSettings


_METRIC_FIELDS: Final = (
    "vlf_ms2",
    "lf_ms2",
    "hf_ms2",
    "total_power_ms2",
    "lf_hf",
    "lf_nu",
    "hf_nu",
    "lf_peak_hz",
    "hf_peak_hz",
    "lf_peak_psd_ms2_per_hz",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class FrequencyWindows:
    """`FrequencyMetrics` for many windows: every array field has shape (n_windows,).

    Attributes
    ----------
    start_idx, stop_idx : ndarray of intp
        The beat-index windows [start, stop).
    n_beats : ndarray of intp
        ``stop_idx − start_idx``.
    duration_s, vlf_ms2, lf_ms2, hf_ms2, total_power_ms2, lf_hf, lf_nu, hf_nu, lf_peak_hz,
    hf_peak_hz, lf_peak_psd_ms2_per_hz : ndarray of float64
        As in `FrequencyMetrics`; NaN for windows that are too short.
    settings : SpectralSettings
        The settings used for every window.
    """

    start_idx: IntArray
    stop_idx: IntArray
    n_beats: IntArray
    duration_s: FloatArray
    vlf_ms2: FloatArray
    lf_ms2: FloatArray
    hf_ms2: FloatArray
    total_power_ms2: FloatArray
    lf_hf: FloatArray
    lf_nu: FloatArray
    hf_nu: FloatArray
    lf_peak_hz: FloatArray
    hf_peak_hz: FloatArray
    lf_peak_psd_ms2_per_hz: FloatArray
    settings: SpectralSettings

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                value.flags.writeable = False

    def window(self, k: int) -> FrequencyMetrics:
        """Return window ``k`` as a `FrequencyMetrics`."""
        floats = {name: float(getattr(self, name)[k]) for name in _METRIC_FIELDS}
        return FrequencyMetrics(
            n_beats=int(self.n_beats[k]),
            duration_s=float(self.duration_s[k]),
            settings=self.settings,
            **floats,
        )


# --- Frequency metrics -----------------------------------------------------------------------
def _band_metrics(
    freqs_hz: FloatArray, psd: FloatArray, settings: SpectralSettings
) -> dict[str, FloatArray]:
    """All `FrequencyMetrics` numbers for the rows of ``psd``."""
    vlf = _trapezoid_rows(psd, freqs_hz, _band_mask(freqs_hz, settings.vlf_band_hz))
    lf_mask = _band_mask(freqs_hz, settings.lf_band_hz)
    hf_mask = _band_mask(freqs_hz, settings.hf_band_hz)
    lf = _trapezoid_rows(psd, freqs_hz, lf_mask)
    hf = _trapezoid_rows(psd, freqs_hz, hf_mask)
    lf_pk, lf_pk_psd = _peak_rows(psd, freqs_hz, lf_mask)
    hf_pk, _ = _peak_rows(psd, freqs_hz, hf_mask)
    tp = vlf + lf + hf
    lfhf_sum = lf + hf
    with np.errstate(divide="ignore", invalid="ignore"):
        lf_hf = np.where(hf > _POWER_FLOOR, lf / hf, np.nan)
        lf_nu = np.where(lfhf_sum > _POWER_FLOOR, 100.0 * lf / lfhf_sum, np.nan)
        hf_nu = np.where(lfhf_sum > _POWER_FLOOR, 100.0 * hf / lfhf_sum, np.nan)
    return {
        "vlf_ms2": vlf,
        "lf_ms2": lf,
        "hf_ms2": hf,
        "total_power_ms2": tp,
        "lf_hf": lf_hf,
        "lf_nu": lf_nu,
        "hf_nu": hf_nu,
        "lf_peak_hz": lf_pk,
        "hf_peak_hz": hf_pk,
        "lf_peak_psd_ms2_per_hz": lf_pk_psd,
    }


def _frequency_windows_core(
    rr: FloatArray, start: IntArray, stop: IntArray, settings: SpectralSettings
) -> dict[str, FloatArray]:
    """Every metric for validated windows; NaN for windows below the minimum."""
    n_win = start.size
    klen_all = stop - start
    cum_ms = np.cumsum(rr)
    has = klen_all >= 1
    s_i = np.where(has, start, 0)
    e_i = np.where(has, stop - 1, 0)
    dur = (
        np.where(has, (cum_ms[e_i] - cum_ms[s_i]) / _MS_PER_S, 0.0) if rr.size else np.zeros(n_win)
    )
    ok = settings.long_enough(klen_all, dur)
    out = {name: np.full(n_win, np.nan) for name in _METRIC_FIELDS}
    out["duration_s"] = np.where(has, dur, np.nan)
    vs = np.flatnonzero(ok)
    if vs.size == 0:
        return out
    kst, klen = start[vs], klen_all[vs]
    tk, yk = _window_knots(cum_ms, rr, kst, klen)

    if settings.method == "welch":
        fs = settings.fs_hz
        qlen = _n_grid(dur[vs], fs)
        q = (np.arange(int(qlen.sum())) - np.repeat(np.cumsum(qlen) - qlen, qlen)) / fs
        z = _spline_blocks(tk, yk, klen, q, qlen)
        if settings.detrend == "smoothness_priors":
            lam2 = np.full(vs.size, settings.lambda_**2)
            z = _smoothness_priors_blocks(z, qlen, lam2)
        elif settings.detrend == "linear":
            z = _linear_detrend_blocks(q, z, qlen)
        else:
            z = _mean_detrend_blocks(z, qlen)
        nperseg = max(round(settings.segment_s * fs), 1)
        groups = _welch_blocks(
            z, qlen, fs, nperseg, settings.overlap, settings.nfft_min, settings.hf_band_hz[1]
        )
        for blocks, freqs, psd in groups:
            for name, values in _band_metrics(freqs, psd, settings).items():
                out[name][vs[blocks]] = values
        return out

    # Lomb on the beats themselves. Smoothness priors acts on the beat-indexed series with
    # λ scaled so that its cut-off in Hz equals that of the fs_hz pipeline: the cut-off is
    # ∝ f_s/√λ, hence λ_beats = λ·(f̄/f_s)² with f̄ the window's mean beat rate.
    if settings.detrend == "smoothness_priors":
        fbar = (klen - 1) / dur[vs]
        lam2 = (settings.lambda_ * (fbar / settings.fs_hz) ** 2) ** 2
        xk = _smoothness_priors_blocks(yk, klen, lam2)
    elif settings.detrend == "linear":
        xk = _linear_detrend_blocks(tk, yk, klen)
    else:
        xk = yk
    freqs = settings.lomb_freqs_hz()
    psd = _lomb_blocks(tk, xk, klen, _freq_plan(freqs))
    for name, values in _band_metrics(freqs, psd, settings).items():
        out[name][vs] = values
    return out


def _frequency_pieces(
    rr: FloatArray, start: IntArray, stop: IntArray, breaks: IntArray, settings: SpectralSettings
) -> dict[str, FloatArray]:
    """Every metric of windows cut at ``breaks``: long-enough pieces combined (validated).

    Duration-weighted mean band powers of the pieces that pass the minimum; ratios and n.u.
    from those means; peaks of the longest such piece.
    """
    n_win = start.size
    if n_win == 0:
        return _frequency_windows_core(rr, start, stop, settings)
    owner, p_start, p_stop = split_windows(start, stop, breaks)
    res = _frequency_windows_core(rr, p_start, p_stop, settings)
    dur = np.nan_to_num(res["duration_s"])
    ok = settings.long_enough(p_stop - p_start, dur) & np.isfinite(res["total_power_ms2"])
    weight = np.where(ok, dur, 0.0)
    w_sum = np.bincount(owner, weights=weight, minlength=n_win).astype(np.float64)
    has = w_sum > 0
    out = {name: np.full(n_win, np.nan) for name in _METRIC_FIELDS}
    out["duration_s"] = np.bincount(owner, weights=dur, minlength=n_win).astype(np.float64)
    out["duration_s"][stop <= start] = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        for name in ("vlf_ms2", "lf_ms2", "hf_ms2"):  # three bands
            weighted = np.where(ok, weight * res[name], 0.0)
            total = np.bincount(owner, weights=weighted, minlength=n_win).astype(np.float64)
            out[name] = np.where(has, total / w_sum, np.nan)
        vlf, lf, hf = out["vlf_ms2"], out["lf_ms2"], out["hf_ms2"]
        out["total_power_ms2"] = vlf + lf + hf
        lfhf_sum = lf + hf
        out["lf_hf"] = np.where(hf > _POWER_FLOOR, lf / hf, np.nan)
        out["lf_nu"] = np.where(lfhf_sum > _POWER_FLOOR, 100.0 * lf / lfhf_sum, np.nan)
        out["hf_nu"] = np.where(lfhf_sum > _POWER_FLOOR, 100.0 * hf / lfhf_sum, np.nan)
    # Longest usable piece of each window: the last one after sorting by (owner, weight).
    order = np.lexsort((weight, owner))
    last_of_owner = order[np.append(owner[order][1:] != owner[order][:-1], True)]
    best = np.full(n_win, -1, dtype=np.intp)
    best[owner[last_of_owner]] = last_of_owner
    sel = np.flatnonzero(has)
    for name in ("lf_peak_hz", "hf_peak_hz", "lf_peak_psd_ms2_per_hz"):  # three peaks
        out[name][sel] = res[name][best[sel]]
    return out


def frequency_metrics(
    rr_ms: npt.ArrayLike,
    *,
    method: SpectralMethod = "welch",
    detrend: DetrendMethod = "smoothness_priors",
    fs_hz: float = RESAMPLE_FS_HZ,
    lambda_: float = SMOOTHNESS_PRIORS_LAMBDA,
    segment_s: float = WELCH_SEGMENT_S,
    overlap: float = WELCH_OVERLAP,
    nfft_min: int = WELCH_NFFT_MIN,
    lomb_freq_step_hz: float = LOMB_FREQ_STEP_HZ,
) -> FrequencyMetrics:
    """Frequency-domain HRV (VLF, LF, HF, LF/HF, n.u., peaks) of one series of RR intervals.

    Parameters
    ----------
    rr_ms : array_like, shape (n_beats,)
        RR/NN intervals in ms, finite and positive; beat times are their cumulative sum.
    method : {"welch", "lomb"}, default "welch"
        Welch on the 4-Hz spline, or Lomb–Scargle on the beats themselves.
    detrend : {"smoothness_priors", "linear", "none"}, default "smoothness_priors"
        Trend removal; the mean is always removed. For Lomb, smoothness priors acts on the
        beat series with λ scaled to keep the same cut-off in Hz (λ·(f̄/fs_hz)²).
    fs_hz : float, default 4.0
        Spline resampling rate (Hz).
    lambda_ : float, default 500
        Smoothness-priors λ at ``fs_hz``.
    segment_s, overlap, nfft_min :
        Welch settings, see `welch_psd`.
    lomb_freq_step_hz : float, default 0.001
        Spacing of the Lomb grid (Hz).

    Returns
    -------
    FrequencyMetrics
        Band powers in ms², peaks in Hz. All NaN if the record has fewer than
        ``FREQ_MIN_BEATS`` (10) beats or its first-to-last-beat span is shorter than
        ``FREQ_MIN_DURATION_S`` (60 s, the HF minimum of §4). LF needs ≥ 2 min and VLF
        ≥ 5 min to mean anything (§4) — they are returned, not judged.

    Raises
    ------
    SignalInputError
        Bad ``rr_ms``; unknown ``method`` or ``detrend`` (the message lists the valid ones).
    ConfigError
        Nonsensical numeric settings.

    Notes
    -----
    hrv-methods.md §2.1–§2.3: natural cubic spline of RR(t_k) at ``fs_hz`` on a grid from the
    first beat, smoothness priors (λ = 500), Welch (Hann, 256-s segments, 50 % overlap,
    nfft ≥ 4096, one-sided density), trapezoid band power over [lo, hi), Task Force n.u.
    A 5-min record holds one 256-s segment; its last ≈ 44 s do not enter the Welch PSD.

    Examples
    --------
    >>> t = np.arange(360) * 0.85
    >>> rr = 850.0 + 40.0 * np.sin(2 * np.pi * 0.1 * t)
    >>> m = frequency_metrics(rr)
    >>> round(m.lf_peak_hz, 2), m.n_beats
    (0.1, 360)
    """
    rr = as_1d_float(rr_ms, "rr_ms", positive=True)
    settings = SpectralSettings(
        method=method,
        detrend=detrend,
        fs_hz=fs_hz,
        lambda_=lambda_,
        segment_s=segment_s,
        overlap=overlap,
        nfft_min=nfft_min,
        lomb_freq_step_hz=lomb_freq_step_hz,
    )
    res = _frequency_windows_core(
        rr, np.array([0], dtype=np.intp), np.array([rr.size], dtype=np.intp), settings
    )
    return FrequencyMetrics(
        n_beats=rr.size,
        duration_s=float(res["duration_s"][0]),
        settings=settings,
        **{name: float(res[name][0]) for name in _METRIC_FIELDS},
    )


def frequency_metrics_windows(
    rr_ms: npt.ArrayLike,
    start_idx: npt.ArrayLike,
    stop_idx: npt.ArrayLike,
    *,
    method: SpectralMethod = "welch",
    detrend: DetrendMethod = "smoothness_priors",
    fs_hz: float = RESAMPLE_FS_HZ,
    lambda_: float = SMOOTHNESS_PRIORS_LAMBDA,
    segment_s: float = WELCH_SEGMENT_S,
    overlap: float = WELCH_OVERLAP,
    nfft_min: int = WELCH_NFFT_MIN,
    lomb_freq_step_hz: float = LOMB_FREQ_STEP_HZ,
    segment_start_idx: npt.ArrayLike | None = None,
) -> FrequencyWindows:
    """`frequency_metrics` of many windows ``rr_ms[start:stop]`` in one vectorised call.

    Parameters
    ----------
    rr_ms : array_like, shape (n_beats,)
        RR/NN intervals in ms of the whole recording.
    start_idx, stop_idx : array_like of int, shape (n_windows,)
        Half-open beat-index windows (e.g. from time-based edges via ``np.searchsorted`` on
        `beat_times_s`); they may overlap, be empty, and come in any order.
    method, detrend, fs_hz, lambda_, segment_s, overlap, nfft_min, lomb_freq_step_hz :
        As in `frequency_metrics`.
    segment_start_idx : array_like of int, optional
        First beat of each contiguous stretch (a data gap before it). A window that spans a
        gap is cut at it, every piece gets its own spectrum as a window of its own, and the
        pieces long enough for `frequency_metrics` (``FREQ_MIN_DURATION_S``,
        ``FREQ_MIN_BEATS``) are combined: band powers are their duration-weighted mean
        (LF/HF and n.u. follow from those), peaks come from the longest piece and
        ``duration_s`` is the sum of the pieces' first-to-last-beat spans. No piece long
        enough: NaN. Default: one stretch.

    Returns
    -------
    FrequencyWindows
        Arrays of shape (n_windows,), equal to `frequency_metrics(rr_ms[start:stop])` for each
        window without a gap to rounding (≈ 1e-12 relative; bit-identical knots when the RR
        sums are exact).

    Raises
    ------
    SignalInputError
        Bad ``rr_ms`` or windows; unknown ``method``/``detrend``.
    ConfigError
        Nonsensical numeric settings.

    Notes
    -----
    Welch: every window's knots and 4-Hz grid are concatenated; one SPD tridiagonal solve
    gives all natural splines, one pentadiagonal banded Cholesky all smoothness-priors
    detrends (blocks decoupled exactly), one ``rfft`` all segments of all windows (windows
    of different sample counts share the FFT length; each segment carries a Hann of its
    own length). Lomb: all (window, beat) pairs in fixed-size chunks; exp(iωt) by complex
    recurrence. Cost is O(Σ window lengths), no Python loop over windows.

    Examples
    --------
    >>> rr = 850.0 + 40.0 * np.sin(2 * np.pi * 0.1 * np.arange(1000) * 0.85)
    >>> w = frequency_metrics_windows(rr, [0, 300, 600], [400, 700, 1000])
    >>> w.lf_peak_hz.round(2).tolist()
    [0.1, 0.1, 0.1]
    """
    rr = as_1d_float(rr_ms, "rr_ms", positive=True)
    start, stop = check_windows(start_idx, stop_idx, rr.size)
    settings = SpectralSettings(
        method=method,
        detrend=detrend,
        fs_hz=fs_hz,
        lambda_=lambda_,
        segment_s=segment_s,
        overlap=overlap,
        nfft_min=nfft_min,
        lomb_freq_step_hz=lomb_freq_step_hz,
    )
    breaks = as_breaks(segment_start_idx, rr.size)
    if breaks.size:
        res = _frequency_pieces(rr, start, stop, breaks, settings)
    else:
        res = _frequency_windows_core(rr, start, stop, settings)
    return FrequencyWindows(
        start_idx=start.copy(),
        stop_idx=stop.copy(),
        n_beats=(stop - start).astype(np.intp),
        duration_s=res["duration_s"],
        settings=settings,
        **{name: res[name] for name in _METRIC_FIELDS},
    )
