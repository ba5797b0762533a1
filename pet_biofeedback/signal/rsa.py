"""Respiratory sinus arrhythmia: per-breath peak-to-trough HR and HR–breathing phase synchrony.

HR convention (hrv-methods.md §6.2): the instantaneous heart rate of beat k is
``60000 / RR_k`` bpm, placed at the beat time t_k that *ends* interval k. Since an interval
reflects the rate over [t_{k−1}, t_k], this places HR about RR/2 later than the interval's
midpoint (≈ 0.43 s, i.e. ≈ 15° at 0.1 Hz, for 850-ms RR); phase lags below are measured with
this convention, like the spectral pipeline's RR(t_k).

The LF peak (§6.3) is not repeated here: it is ``FrequencyMetrics.lf_peak_hz`` /
``lf_peak_psd_ms2_per_hz`` from `pet_biofeedback.signal.spectral`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from pet_biofeedback.errors import SignalInputError
from pet_biofeedback.signal._typing import FloatArray
from pet_biofeedback.signal._validate import as_1d_float
from pet_biofeedback.signal.welch import resample_rr_unchecked

__all__ = [
    "HR_FS_HZ",
    "PHASE_BAND_HALF_WIDTH_HZ",
    "PhaseSynchrony",
    "instantaneous_hr_bpm",
    "phase_synchrony",
    "phase_synchrony_unchecked",
    "rsa_peak_to_trough_bpm",
]

MS_PER_MIN: Final = 60_000.0
HR_FS_HZ: Final = 4.0  # hrv-methods.md §6.4: instantaneous HR at 4 Hz
PHASE_BAND_HALF_WIDTH_HZ: Final = 0.03  # §6.4: band-pass f_p ± 0.03 Hz
PHASE_EDGE_TRIM_CYCLES: Final = 1.0  # our choice: drop one pacer cycle at each end (filter edges)
PHASE_MIN_CYCLES: Final = 1.0  # our choice: at least one full cycle must remain after trimming


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseSynchrony:
    """Phase relation between heart rate and breathing at the pacer frequency.

    Attributes
    ----------
    lag_deg : float
        Circular mean of Δφ = φ_HR − φ_volume in degrees, in (−180, 180]. 0° = HR peaks at
        the end of inhalation (resonance, §6.5); positive = HR peaks *before* the end of
        inhalation (HR leads breathing), negative = after (HR lags).
    plv : float
        Phase-locking value |mean(exp(iΔφ))| in [0, 1].
    n_beats : int
        Beats given.
    n_samples : int
        4-Hz samples that entered the means (after trimming and reference coverage).
    """

    lag_deg: float
    plv: float
    n_beats: int
    n_samples: int


def _beats(beat_t_s: npt.ArrayLike, rr_ms: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Validate (beat times, RR) as equal-length, finite, increasing times, positive RR."""
    t = as_1d_float(beat_t_s, "beat_t_s")
    rr = as_1d_float(rr_ms, "rr_ms", positive=True)
    if t.shape != rr.shape:
        raise SignalInputError(
            f"beat_t_s and rr_ms must have equal length, got {t.size} and {rr.size}"
        )
    if t.size >= 2 and np.any(np.diff(t) <= 0):
        raise SignalInputError("beat_t_s must be strictly increasing")
    return t, rr


def instantaneous_hr_bpm(rr_ms: npt.ArrayLike) -> FloatArray:
    """Instantaneous heart rate of every beat.

    Parameters
    ----------
    rr_ms : array_like, shape (n_beats,)
        RR/NN intervals in ms, finite and positive.

    Returns
    -------
    ndarray of float64, shape (n_beats,)
        ``60000 / rr_ms`` in beats per minute, belonging to the beat that ends each interval.

    Raises
    ------
    SignalInputError
        If ``rr_ms`` is not 1-D, finite and positive.

    Notes
    -----
    hrv-methods.md §6.2. Their mean is the mean HR of `timedomain` (§1).

    Examples
    --------
    >>> instantaneous_hr_bpm([1000.0, 750.0]).tolist()
    [60.0, 80.0]
    """
    rr = as_1d_float(rr_ms, "rr_ms", positive=True)
    return np.asarray(MS_PER_MIN / rr, dtype=np.float64)


def rsa_peak_to_trough_bpm(
    beat_t_s: npt.ArrayLike, rr_ms: npt.ArrayLike, breath_start_s: npt.ArrayLike
) -> FloatArray:
    """Lehrer peak-to-trough RSA: max − min instantaneous HR within each breath.

    Parameters
    ----------
    beat_t_s : array_like, shape (n_beats,)
        Beat times in s, strictly increasing (e.g. `spectral.beat_times_s`).
    rr_ms : array_like, shape (n_beats,)
        RR interval ending at each beat, ms.
    breath_start_s : array_like, shape (n_breaths + 1,)
        Inhalation onsets in s on the same clock, strictly increasing (from the pacer or
        from detected breaths). Breath k is the cycle [start_k, start_{k+1}).

    Returns
    -------
    ndarray of float64, shape (n_breaths,)
        Peak-to-trough HR in bpm per breath; NaN for a breath with fewer than 2 beats.
        Fewer than 2 starts give an empty array.

    Raises
    ------
    SignalInputError
        Shape mismatch, non-finite values, non-increasing times, non-positive RR.

    Notes
    -----
    hrv-methods.md §6.2 (Lehrer, Vaschillo & Vaschillo 2000 ‡). HR = 60000/RR_k at t_k (module
    docstring). A beat exactly at a start belongs to the breath that starts there. Report
    the mean over breaths (``np.nanmean``). Vectorised with ``np.searchsorted`` and
    ``np.maximum.reduceat``.

    Examples
    --------
    >>> t = np.arange(1, 21) * 1.0
    >>> rr = 60000.0 / (60.0 + 5.0 * np.sin(2 * np.pi * 0.1 * t))
    >>> rsa_peak_to_trough_bpm(t, rr, [0.5, 10.5, 20.5]).round(2).tolist()
    [9.51, 9.51]
    """
    t, rr = _beats(beat_t_s, rr_ms)
    starts = as_1d_float(breath_start_s, "breath_start_s")
    if starts.size >= 2 and np.any(np.diff(starts) <= 0):
        raise SignalInputError("breath_start_s must be strictly increasing")
    n_breaths = starts.size - 1
    if n_breaths < 1:
        return np.zeros(0)
    hr = np.concatenate((MS_PER_MIN / rr, [np.nan]))  # sentinel: index n is valid for reduceat
    edges = np.searchsorted(t, starts, side="left")
    count = np.diff(edges)
    hi = np.maximum.reduceat(hr, edges)[:-1]
    lo = np.minimum.reduceat(hr, edges)[:-1]
    return np.asarray(np.where(count >= 2, hi - lo, np.nan), dtype=np.float64)


@functools.lru_cache(maxsize=32)
def _band_gain(n_fft: int, fs_hz: float, lo_hz: float, hi_hz: float) -> FloatArray:
    """FFT mask of `_analytic_band` (read-only): 2 on positive bins in [lo, hi] Hz, else 0.

    Cached: the live refresh asks for records of nearly the same length every 5 s.
    """
    f = np.fft.fftfreq(n_fft, 1.0 / fs_hz)
    gain = np.where((f > 0) & (f >= lo_hz) & (f <= hi_hz), 2.0, 0.0)
    gain.flags.writeable = False
    return gain


def _analytic_band(
    x: FloatArray, fs_hz: float, lo_hz: float, hi_hz: float
) -> npt.NDArray[np.complex128]:
    """Analytic signal of x band-passed to [lo, hi] Hz by FFT masking; float64, 1-D.

    The record is mirrored (x, reversed x) so that its periodic extension has no jump, then
    only positive frequencies inside the band are kept (doubled): one FFT, one inverse FFT.
    """
    n = x.size
    ext = np.concatenate((x, x[::-1]))
    spec = np.fft.fft(ext)
    spec *= _band_gain(ext.size, fs_hz, lo_hz, hi_hz)
    return np.asarray(np.fft.ifft(spec)[:n], dtype=np.complex128)


def phase_synchrony(
    beat_t_s: npt.ArrayLike,
    rr_ms: npt.ArrayLike,
    ref_t_s: npt.ArrayLike,
    ref_phase_rad: npt.ArrayLike,
    pacer_hz: float,
    *,
    band_half_width_hz: float = PHASE_BAND_HALF_WIDTH_HZ,
    fs_hz: float = HR_FS_HZ,
) -> PhaseSynchrony:
    """Phase lag and phase-locking value between heart rate and breathing.

    Parameters
    ----------
    beat_t_s : array_like, shape (n_beats,)
        Beat times in s, strictly increasing.
    rr_ms : array_like, shape (n_beats,)
        RR interval ending at each beat, ms.
    ref_t_s : array_like, shape (n_ref,)
        Times in s (same clock as the beats) of the breathing reference samples, strictly
        increasing, sampled densely enough that the phase advances < π between samples
        (any rate ≥ 4 × the breathing rate is plenty).
    ref_phase_rad : array_like, shape (n_ref,)
        Breathing phase in rad, wrapped or unwrapped: **0 at inhalation onset, π at the end
        of inhalation**, 2π at the next onset. With unequal inhale/exhale durations map each
        part linearly (inhale 0 → π, exhale π → 2π). From the pacer, or from a measured
        breathing signal.
    pacer_hz : float
        Breathing (pacer) frequency in Hz (6 breaths/min = 0.1 Hz).
    band_half_width_hz : float, default 0.03
        HR band-pass half width around ``pacer_hz``.
    fs_hz : float, default 4.0
        Rate of the interpolated HR series.

    Returns
    -------
    PhaseSynchrony
        NaN lag and PLV (``n_samples`` 0) when less than one pacer cycle remains after
        trimming one cycle at each end, or with fewer than 4 beats.

    Raises
    ------
    SignalInputError
        Bad shapes or values; ``pacer_hz``, ``fs_hz`` or ``band_half_width_hz`` not positive,
        or the band reaching the Nyquist frequency.

    Notes
    -----
    hrv-methods.md §6.4. Instantaneous HR (60000/RR at t_k) → natural cubic spline at 4 Hz
    → mean removed → FFT band-pass f_p ± 0.03 Hz and Hilbert transform in one step (mirrored
    record) → φ_HR. The lung-volume phase is φ_ref − π (volume is lowest at inhalation onset,
    highest at its end), so Δφ = φ_HR − (φ_ref − π) is 0 when HR peaks at the end of
    inhalation. lag = arg mean(exp(iΔφ)), PLV = |mean(exp(iΔφ))|, over the samples covered
    by the reference after dropping one pacer cycle at each end (band-pass edge effects).

    Examples
    --------
    >>> t = np.cumsum(np.full(240, 0.9))
    >>> hr = 67.0 - 5.0 * np.cos(2 * np.pi * 0.1 * t)  # peaks at the end of inhalation
    >>> ref_t = np.arange(0.0, 230.0, 0.1)
    >>> s = phase_synchrony(t, 60000.0 / hr, ref_t, 2 * np.pi * 0.1 * ref_t, 0.1)
    >>> abs(s.lag_deg) < 2.0, s.plv > 0.99
    (True, True)
    """
    t, rr = _beats(beat_t_s, rr_ms)
    ref_t = as_1d_float(ref_t_s, "ref_t_s")
    ref_phase = as_1d_float(ref_phase_rad, "ref_phase_rad")
    if ref_t.shape != ref_phase.shape:
        raise SignalInputError("ref_t_s and ref_phase_rad must have equal length")
    if ref_t.size >= 2 and np.any(np.diff(ref_t) <= 0):
        raise SignalInputError("ref_t_s must be strictly increasing")
    return phase_synchrony_unchecked(
        t,
        rr,
        ref_t,
        np.unwrap(ref_phase),
        pacer_hz,
        band_half_width_hz=band_half_width_hz,
        fs_hz=fs_hz,
    )


def phase_synchrony_unchecked(
    beat_t_s: FloatArray,
    rr_ms: FloatArray,
    ref_t_s: FloatArray,
    ref_phase_unwrapped_rad: FloatArray,
    pacer_hz: float,
    *,
    band_half_width_hz: float = PHASE_BAND_HALF_WIDTH_HZ,
    fs_hz: float = HR_FS_HZ,
) -> PhaseSynchrony:
    """`phase_synchrony` for arrays the caller has already validated (the live refresh).

    The arrays must be what `phase_synchrony` accepts: float64, 1-D, finite, beat and
    reference times strictly increasing, RR positive, equal lengths, and the reference phase
    already unwrapped (`np.unwrap` leaves such a phase unchanged, so the result is
    bit-identical). Skipping the array checks saves a dozen passes per refresh; the scalar
    parameters are still checked and raise `SignalInputError`.
    """
    t, rr, ref_t = beat_t_s, rr_ms, ref_t_s
    for name, value in (
        ("pacer_hz", pacer_hz),
        ("fs_hz", fs_hz),
        ("band_half_width_hz", band_half_width_hz),
    ):
        if not (math.isfinite(value) and value > 0):
            raise SignalInputError(f"{name} must be positive, got {value!r}")
    if pacer_hz + band_half_width_hz >= fs_hz / 2:
        raise SignalInputError("the HR band reaches the Nyquist frequency; raise fs_hz")
    nan = PhaseSynchrony(lag_deg=math.nan, plv=math.nan, n_beats=t.size, n_samples=0)
    if t.size < 4 or ref_t.size < 2:
        return nan
    grid_t, hr = resample_rr_unchecked(t, MS_PER_MIN / rr, fs_hz)  # HR (bpm) on the 4-Hz grid
    analytic = _analytic_band(
        hr - np.mean(hr), fs_hz, pacer_hz - band_half_width_hz, pacer_hz + band_half_width_hz
    )
    trim_s = PHASE_EDGE_TRIM_CYCLES / pacer_hz
    # The grid increases: the samples inside both the trimmed record and the reference are
    # one slice; of those, the ones with a defined phase (|analytic| > 0) are used.
    lo = int(np.searchsorted(grid_t, max(grid_t[0] + trim_s, ref_t[0]), side="left"))
    hi = int(np.searchsorted(grid_t, min(grid_t[-1] - trim_s, ref_t[-1]), side="right"))
    seg, seg_t = analytic[lo:hi], grid_t[lo:hi]
    mag = np.abs(seg)
    if not np.all(mag > 0):
        keep = mag > 0
        seg, seg_t, mag = seg[keep], seg_t[keep], mag[keep]
    n_use = seg.size
    if n_use < PHASE_MIN_CYCLES * fs_hz / pacer_hz:
        return nan
    phi_ref = np.interp(seg_t, ref_t, ref_phase_unwrapped_rad)
    # exp(iΔφ) = (analytic/|analytic|) · exp(−i(φ_ref − π))
    z = seg / mag * np.exp(-1j * (phi_ref - np.pi))
    m = complex(np.mean(z))
    return PhaseSynchrony(
        lag_deg=math.degrees(math.atan2(m.imag, m.real)),
        plv=abs(m),
        n_beats=t.size,
        n_samples=n_use,
    )
