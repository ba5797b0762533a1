"""Resonance-frequency assessment: the six criteria of one paced block.

hrv-methods.md §7. A person breathes at several paced rates (6.5 … 4.5 breaths/min) for a
block each; for every block `rate_criteria` computes the six criteria of Shaffer & Meehan
(2020) from the block's NN intervals and the breathing reference. `signal.resonance_ranking`
ranks the rates on them (the therapist's table); `signal.resonance_estimate` estimates the
resonance from the whole curve across rates and recommends one.

How each criterion is computed (hrv-methods.md §7 table):

1. phase synchrony HR ↔ breathing — `rsa.phase_synchrony` against the breathing phase built
   from the breath onsets (§6.4); best = |lag| closest to 0°. HR of interval k is placed at
   the interval's *midpoint* t_k − NN_k/2, where the average rate over the interval belongs:
   at the beat that ends it (rsa.py's convention) it would lag by NN/2 ≈ 0.45 s ≈ 15° at
   0.1 Hz, and a lag proportional to frequency pushes the 0° crossing to a slower rate.
2. peak-to-trough HR — `rsa.rsa_peak_to_trough_bpm` per complete breath, mean (§6.2).
3. LF power (ms²), 4. LF peak (max PSD in LF, ms²/Hz), 5. smoothness = spectral concentration
   Peak / (Total − Peak) (the coherence ratio's formula, §6.1 steps 4–7), 6. number of LF
   peaks (local PSD maxima in LF above `LF_PEAK_MIN_FRACTION` of the LF peak) — all from one
   PSD of the block.

The block PSD. A block is 2 min (less the settling time), far shorter than the 256-s Welch
segments of the post-session pipeline. hrv-methods.md §2.2 step 3 says "if the record is
shorter than 256 s use one segment of the whole record": so 4-Hz natural cubic spline,
smoothness-priors detrending (λ = 500, §2.2 step 2) and a single Hann-tapered segment
spanning the block, zero-padded to ≥ 4096 points (0.001 Hz grid). A 100-s segment resolves
2/T = 0.02 Hz (Hann main lobe), enough to place one breathing peak; the rates are compared
with each other, all measured the same way. Lomb–Scargle was not chosen: it helps when beats
were *removed* (§2.3), and our NN series are corrected, not gapped. The smoothness-priors
high-pass (≈ 0.035 Hz) attenuates 0.075 Hz (4.5 breaths/min) power by ≈ 4 % and 0.108 Hz
by ≈ 1 %, a small bias against the slowest rate, stated here rather than hidden. Compare
blocks only over windows of equal length: a steady rhythm's LF peak (ms²/Hz) grows with the
window, and so does the share of it inside the ±0.015-Hz smoothness window
(`session.assessment` scores every block over the same length).

The breathing reference. The pacer is exact, but a person follows it late: a lag τ reads as
−360°·f·τ of phase at every rate (−11° at 6 breaths/min for 0.3 s, −36° for 1 s), which makes
"closest to 0°" prefer a slower rate. Measured breathing removes it, either as measured
onsets or as a waveform (the chest accelerometer's) from which `breathing_lag_s` measures τ
and the pacer's onsets are shifted by it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from pet_biofeedback.errors import SignalInputError
from pet_biofeedback.signal._typing import FloatArray
from pet_biofeedback.signal._validate import as_1d_float
from pet_biofeedback.signal.rsa import phase_synchrony, rsa_peak_to_trough_bpm
from pet_biofeedback.signal.spectral import (
    COHERENCE_PEAK_HALF_WIDTH_HZ,
    COHERENCE_TOTAL_BAND_HZ,
    LF_BAND_HZ,
    RESAMPLE_FS_HZ,
    SMOOTHNESS_PRIORS_LAMBDA,
    WELCH_NFFT_MIN,
    band_power_ms2,
    detrend_smoothness_priors,
    resample_rr,
    welch_psd,
)

__all__ = [
    "CRITERIA",
    "LF_PEAK_MIN_FRACTION",
    "MIN_BLOCK_S",
    "RateCriteria",
    "breath_phase_rad",
    "breathing_lag_s",
    "rate_criteria",
]

LF_PEAK_MIN_FRACTION: Final = 0.10  # hrv-methods.md §7 criterion 6: peaks above 10 % of the LF peak
REF_FS_HZ: Final = 10.0  # breathing phase reference samples (≥ 4 × any breathing rate)
MIN_BLOCK_S: Final = 30.0  # our choice: shorter analysis windows give NaN spectral criteria
MIN_BEATS: Final = 10  # guard against degenerate input, as spectral.FREQ_MIN_BEATS
# Lag of the measured breathing behind the pacer (our choices): searched within ± a quarter
# breath (beyond that the waveform's sign ambiguity, respiration.py, cannot be resolved), on a
# 0.05-s grid (≈ 2° at 0.1 Hz); trusted only when the breathing correlates with the pacer's
# lung-volume waveform at least this well (otherwise the person did not follow the pacer and
# the pacer stays the reference).
LAG_SEARCH_FRACTION: Final = 0.25
LAG_STEP_S: Final = 0.05
LAG_MIN_CORRELATION: Final = 0.5

# The criteria, in the order of hrv-methods.md §7's table.
CRITERIA: Final = ("phase", "peak_to_trough", "lf_power", "lf_peak", "smoothness", "lf_peaks")

_TWO_PI: Final = 2.0 * math.pi
_MS_PER_S: Final = 1000.0
_S_PER_MIN: Final = 60.0


@dataclass(frozen=True, slots=True, kw_only=True)
class RateCriteria:
    """The six resonance criteria of one paced block (hrv-methods.md §7); NaN = not enough data.

    Attributes
    ----------
    breaths_per_min : float
        The paced rate of the block.
    phase_lag_deg : float
        Criterion 1: circular mean HR − breathing phase lag in degrees, in (−180, 180]; 0° =
        HR peaks at the end of inhalation; best is closest to 0.
    phase_plv : float
        Phase-locking value of that lag in [0, 1] (reported, not ranked).
    peak_to_trough_bpm : float
        Criterion 2: mean over complete breaths of max − min heart rate, beats/min.
    lf_power_ms2 : float
        Criterion 3: PSD integrated over 0.04–0.15 Hz, ms².
    lf_peak_psd_ms2_per_hz : float
        Criterion 4: the highest PSD value in LF, ms²/Hz.
    lf_peak_hz : float
        Where that peak is, Hz (compare with ``breaths_per_min / 60``).
    smoothness : float
        Criterion 5: spectral concentration Peak / (Total − Peak), dimensionless: Peak = PSD
        integrated over ``lf_peak_hz`` ± 0.015 Hz, Total over 0.0033–0.4 Hz (§6.1's formula
        on the block's PSD).
    n_lf_peaks : int
        Criterion 6: local PSD maxima in LF above 10 % of the LF peak (0 without a PSD).
    n_beats : int
        NN intervals in the block.
    n_breaths : int
        Complete breaths that entered the peak-to-trough mean.
    duration_s : float
        First to last beat of the block, s.
    reference : {"pacer", "measured"}
        Which breath onsets made the breathing reference: the pacer's, or measured ones
        (given, or the pacer's shifted by the measured ``breathing_lag_s``).
    breathing_lag_s : float
        How far the measured breathing lagged the pacer, s (`breathing_lag_s`); NaN when no
        breathing waveform was given or it did not follow the pacer.
    """

    breaths_per_min: float
    phase_lag_deg: float
    phase_plv: float
    peak_to_trough_bpm: float
    lf_power_ms2: float
    lf_peak_psd_ms2_per_hz: float
    lf_peak_hz: float
    smoothness: float
    n_lf_peaks: int
    n_beats: int
    n_breaths: int
    duration_s: float
    reference: Literal["pacer", "measured"]
    breathing_lag_s: float = math.nan


# --- The breathing reference -----------------------------------------------------------------
def breath_phase_rad(
    t_s: npt.ArrayLike, breath_start_s: npt.ArrayLike, *, inhale_fraction: float = 0.5
) -> FloatArray:
    """Unwrapped breathing phase from breath onsets: 0 at an onset, π at the end of inhalation.

    Parameters
    ----------
    t_s : array_like, shape (n,)
        Times in s.
    breath_start_s : array_like, shape (n_breaths + 1,)
        Inhalation onsets in s, strictly increasing, at least 2.
    inhale_fraction : float, default 0.5
        Share of each breath spent inhaling, in (0, 1) (0.4 for a 4:6 pacer).

    Returns
    -------
    ndarray of float64, shape (n,)
        2π·k + π·x/a while inhaling and 2π·k + π + π·(x − a)/(1 − a) while exhaling, with k the
        breath and x its elapsed fraction, a = ``inhale_fraction`` (the linear mapping
        `rsa.phase_synchrony` asks for); NaN outside [first onset, last onset].

    Raises
    ------
    SignalInputError
        Fewer than 2 onsets, onsets not increasing, ``inhale_fraction`` outside (0, 1).

    Examples
    --------
    >>> phase = breath_phase_rad([0.0, 4.0, 10.0, 14.0], [0.0, 10.0, 20.0], inhale_fraction=0.4)
    >>> phase.round(4).tolist()
    [0.0, 3.1416, 6.2832, 9.4248]
    """
    t = as_1d_float(t_s, "t_s")
    starts = as_1d_float(breath_start_s, "breath_start_s")
    if starts.size < 2 or np.any(np.diff(starts) <= 0):
        raise SignalInputError("breath_start_s needs at least 2 strictly increasing onsets")
    if not 0.0 < inhale_fraction < 1.0:
        raise SignalInputError(f"inhale_fraction must be in (0, 1), got {inhale_fraction!r}")
    k = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, starts.size - 2)
    x = (t - starts[k]) / (starts[k + 1] - starts[k])
    a = inhale_fraction
    phase = np.where(x < a, math.pi * x / a, math.pi + math.pi * (x - a) / (1.0 - a))
    inside = (t >= starts[0]) & (t <= starts[-1])
    return np.asarray(np.where(inside, _TWO_PI * k + phase, np.nan), dtype=np.float64)


def breathing_lag_s(
    t_s: npt.ArrayLike,
    breathing: npt.ArrayLike,
    breath_start_s: npt.ArrayLike,
    *,
    inhale_fraction: float = 0.5,
) -> float:
    """How far a measured breathing waveform lags the pacer, in seconds.

    Parameters
    ----------
    t_s : array_like, shape (n,)
        Sample times of ``breathing``, s, strictly increasing (e.g.
        ``BreathingEstimate.signal_t_s`` from `respiration.breathing_from_acc`).
    breathing : array_like, shape (n,)
        The measured breathing waveform, any unit and either sign (the chest accelerometer's
        sign depends on how the strap sits, respiration.py).
    breath_start_s : array_like, shape (n_onsets,)
        The pacer's inhalation onsets, strictly increasing, at least 2.
    inhale_fraction : float, default 0.5
        The pacer's share of each breath spent inhaling.

    Returns
    -------
    float
        τ in s (positive: the person breathes after the pacer), the shift within ± a quarter
        of the mean breath that maximises |correlation| between ``breathing`` and the pacer's
        lung volume −cos(φ(t − τ)) (φ from `breath_phase_rad`) over the samples between the
        first and last onset. NaN with fewer than 2 onsets, fewer than 8 samples inside, no
        variation, or a best |correlation| below 0.5.

    Raises
    ------
    SignalInputError
        Shape mismatch, non-finite values, non-increasing times or onsets.

    Notes
    -----
    hrv-methods.md §6.4 wants HR against the breathing the person actually did; the pacer is
    exact but a person follows it late (0.3–1 s is common). A lag τ read as phase is
    −360°·f·τ at every rate, i.e. −36° at 6 breaths/min for 1 s: enough to make "closest to
    0°" pick a slower rate. Shifting the pacer's onsets by τ keeps the pacer's clean timing
    and removes the person's lag. All candidate shifts are evaluated at once
    ((n_shifts × n_samples) broadcast).

    Examples
    --------
    >>> t = np.arange(0.0, 100.0, 0.25)
    >>> acc = np.cos(2 * np.pi * 0.1 * (t - 0.8))  # inverted sign, 0.8 s late
    >>> round(breathing_lag_s(t, acc, np.arange(0.0, 101.0, 10.0)), 2)
    0.8
    """
    t = as_1d_float(t_s, "t_s")
    b = as_1d_float(breathing, "breathing")
    starts = as_1d_float(breath_start_s, "breath_start_s")
    if t.shape != b.shape:
        raise SignalInputError(f"t_s and breathing must have equal length, got {t.size}, {b.size}")
    if t.size >= 2 and np.any(np.diff(t) <= 0):
        raise SignalInputError("t_s must be strictly increasing")
    if starts.size < 2:
        return math.nan
    period = float(starts[-1] - starts[0]) / (starts.size - 1)
    max_lag = LAG_SEARCH_FRACTION * period
    # Keep samples whose shifted reference stays within the onsets for every candidate lag.
    inside = (t >= starts[0] + max_lag) & (t <= starts[-1] - max_lag)
    if np.count_nonzero(inside) < 8:
        return math.nan
    ti = t[inside]
    bi = b[inside] - np.mean(b[inside])
    lags = np.arange(-math.floor(max_lag / LAG_STEP_S), math.floor(max_lag / LAG_STEP_S) + 1)
    lags_s = lags * LAG_STEP_S
    phase = breath_phase_rad(
        (ti[None, :] - lags_s[:, None]).ravel(), starts, inhale_fraction=inhale_fraction
    ).reshape(lags_s.size, ti.size)
    volume = -np.cos(phase)
    volume -= volume.mean(axis=1, keepdims=True)
    norm = np.sqrt(np.sum(volume * volume, axis=1) * np.sum(bi * bi))
    if not np.all(norm > 0):
        return math.nan
    corr = (volume @ bi) / norm
    best = int(np.argmax(np.abs(corr)))
    if abs(float(corr[best])) < LAG_MIN_CORRELATION:
        return math.nan
    return float(lags_s[best])


# --- One block -------------------------------------------------------------------------------
def _block_psd(beat_t: FloatArray, nn: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(freqs Hz, PSD ms²/Hz) of one block: spline, smoothness priors, one Hann segment; valid."""
    _, nn_grid = resample_rr(beat_t, nn, fs_hz=RESAMPLE_FS_HZ)
    z = detrend_smoothness_priors(nn_grid, lambda_=SMOOTHNESS_PRIORS_LAMBDA)
    segment_s = z.size / RESAMPLE_FS_HZ  # one segment spanning the block (§2.2 step 3)
    return welch_psd(z, RESAMPLE_FS_HZ, segment_s=segment_s, nfft_min=WELCH_NFFT_MIN)


def _spectral_criteria(
    freqs: FloatArray, psd: FloatArray
) -> tuple[float, float, float, float, int]:
    """(LF power, LF peak PSD, LF peak Hz, smoothness, number of LF peaks) of one PSD; finite."""
    lf = (freqs >= LF_BAND_HZ[0]) & (freqs < LF_BAND_HZ[1])
    lf_idx = np.flatnonzero(lf)
    k_pk = int(lf_idx[np.argmax(psd[lf_idx])])
    peak_psd = float(psd[k_pk])
    lf_power = float(band_power_ms2(freqs, psd, LF_BAND_HZ))
    half = COHERENCE_PEAK_HALF_WIDTH_HZ
    peak = float(band_power_ms2(freqs, psd, (freqs[k_pk] - half, freqs[k_pk] + half + 1e-12)))
    total = float(band_power_ms2(freqs, psd, COHERENCE_TOTAL_BAND_HZ))
    smooth = peak / (total - peak) if total > peak > 0 else math.nan
    # Local maxima: higher than the left neighbour, not lower than the right (plateaus once).
    inner = lf_idx[(lf_idx > 0) & (lf_idx < freqs.size - 1)]
    is_max = (psd[inner] > psd[inner - 1]) & (psd[inner] >= psd[inner + 1])
    n_peaks = int(np.count_nonzero(is_max & (psd[inner] >= LF_PEAK_MIN_FRACTION * peak_psd)))
    return lf_power, peak_psd, float(freqs[k_pk]), smooth, n_peaks


def rate_criteria(
    beat_t_s: npt.ArrayLike,
    nn_ms: npt.ArrayLike,
    breath_start_s: npt.ArrayLike,
    *,
    breaths_per_min: float,
    inhale_fraction: float = 0.5,
    measured_breath_start_s: npt.ArrayLike | None = None,
    breathing_t_s: npt.ArrayLike | None = None,
    breathing: npt.ArrayLike | None = None,
) -> RateCriteria:
    """The six resonance criteria of one paced block.

    Parameters
    ----------
    beat_t_s : array_like, shape (n_beats,)
        Times of the beats that end each NN interval, s, strictly increasing: the block's
        analysis window only (settling time already cut off).
    nn_ms : array_like, shape (n_beats,)
        Artifact-corrected NN intervals ending at those beats, ms.
    breath_start_s : array_like, shape (n_onsets,)
        The pacer's inhalation onsets on the same clock, strictly increasing; onsets outside
        the beats' span are ignored.
    breaths_per_min : float
        The paced rate (> 0).
    inhale_fraction : float, default 0.5
        Share of each breath spent inhaling (the pacer's inhale / period).
    measured_breath_start_s : array_like, optional
        Measured inhalation onsets (e.g. from the chest accelerometer). When given (at least 2
        inside the block) they replace the pacer's onsets for criteria 1 and 2: what matters
        is how the heart follows the breathing the person actually did.
    breathing_t_s, breathing : array_like, shape (n,), optional
        A measured breathing waveform (e.g. `respiration.breathing_from_acc`'s
        ``signal_t_s`` and ``signal``), used when no measured onsets are given: the pacer's
        onsets shifted by `breathing_lag_s` become the reference for criteria 1 and 2.

    Returns
    -------
    RateCriteria
        NaN phase with fewer than 4 beats or less than one breath left after trimming; NaN
        peak-to-trough without a complete breath; NaN spectral criteria (and 0 LF peaks)
        with fewer than 10 beats or a span shorter than `MIN_BLOCK_S`.

    Raises
    ------
    SignalInputError
        Bad shapes or values, non-increasing times, ``breaths_per_min`` not positive,
        ``inhale_fraction`` outside (0, 1), only one of ``breathing_t_s`` and ``breathing``.

    Notes
    -----
    hrv-methods.md §7 and the module docstring. Criterion 1 uses HR at interval midpoints
    t_k − NN_k/2; the breathing phase is `breath_phase_rad` sampled at 10 Hz between the
    first and last onset inside the block.

    Examples
    --------
    >>> t = np.cumsum(np.full(120, 0.9))
    >>> hr = 67.0 - 5.0 * np.cos(2 * np.pi * 0.1 * (t - 0.45))  # peaks at end of inhalation
    >>> c = rate_criteria(t, 60000.0 / hr, np.arange(0.0, 110.0, 10.0), breaths_per_min=6.0)
    >>> abs(c.phase_lag_deg) < 3, round(c.peak_to_trough_bpm), c.n_lf_peaks
    (True, 10, 1)
    """
    t = as_1d_float(beat_t_s, "beat_t_s")
    nn = as_1d_float(nn_ms, "nn_ms", positive=True)
    if t.shape != nn.shape:
        raise SignalInputError(
            f"beat_t_s and nn_ms must have equal length, got {t.size} and {nn.size}"
        )
    if t.size >= 2 and np.any(np.diff(t) <= 0):
        raise SignalInputError("beat_t_s must be strictly increasing")
    if not (math.isfinite(breaths_per_min) and breaths_per_min > 0):
        raise SignalInputError(f"breaths_per_min must be positive, got {breaths_per_min!r}")
    if not 0.0 < inhale_fraction < 1.0:
        raise SignalInputError(f"inhale_fraction must be in (0, 1), got {inhale_fraction!r}")
    onsets = as_1d_float(breath_start_s, "breath_start_s")
    if onsets.size >= 2 and np.any(np.diff(onsets) <= 0):
        raise SignalInputError("breath_start_s must be strictly increasing")
    reference: Literal["pacer", "measured"] = "pacer"
    if measured_breath_start_s is not None:
        measured = as_1d_float(measured_breath_start_s, "measured_breath_start_s")
        if measured.size >= 2 and np.any(np.diff(measured) <= 0):
            raise SignalInputError("measured_breath_start_s must be strictly increasing")
        if t.size and np.count_nonzero((measured >= t[0]) & (measured <= t[-1])) >= 2:
            onsets, reference = measured, "measured"
    if (breathing_t_s is None) != (breathing is None):
        raise SignalInputError("give both breathing_t_s and breathing, or neither")
    lag_s = math.nan
    if breathing_t_s is not None and breathing is not None and reference == "pacer" and t.size:
        in_block = onsets[(onsets >= t[0]) & (onsets <= t[-1])]
        lag_s = breathing_lag_s(breathing_t_s, breathing, in_block, inhale_fraction=inhale_fraction)
        if math.isfinite(lag_s):
            onsets, reference = onsets + lag_s, "measured"

    n = t.size
    duration = float(t[-1] - t[0]) if n >= 2 else 0.0
    inside = onsets[(onsets >= t[0]) & (onsets <= t[-1])] if n else onsets[:0]

    lag_deg = plv = math.nan
    if inside.size >= 2 and n >= 4:
        mid_t = t - nn / (2.0 * _MS_PER_S)
        if np.any(np.diff(mid_t) <= 0):
            raise SignalInputError(
                "beat_t_s and nn_ms disagree: interval midpoints t − NN/2 are not increasing"
            )
        # Not np.arange(first, last, step): its last value can round past `last`.
        n_ref = math.floor((inside[-1] - inside[0]) * REF_FS_HZ) + 1
        ref_t = np.minimum(inside[0] + np.arange(n_ref) / REF_FS_HZ, inside[-1])
        ref_phase = breath_phase_rad(ref_t, inside, inhale_fraction=inhale_fraction)
        sync = phase_synchrony(mid_t, nn, ref_t, ref_phase, breaths_per_min / _S_PER_MIN)
        lag_deg, plv = sync.lag_deg, sync.plv

    p2t = math.nan
    n_breaths = 0
    if inside.size >= 2 and n >= 2:
        per_breath = rsa_peak_to_trough_bpm(t, nn, inside)
        n_breaths = int(np.count_nonzero(np.isfinite(per_breath)))
        if n_breaths:
            p2t = float(np.nanmean(per_breath))

    lf_power = lf_peak = lf_peak_hz = smooth = math.nan
    n_peaks = 0
    if n >= MIN_BEATS and duration >= MIN_BLOCK_S:
        freqs, psd = _block_psd(t, nn)
        if float(np.max(psd)) > 0:
            lf_power, lf_peak, lf_peak_hz, smooth, n_peaks = _spectral_criteria(freqs, psd)

    return RateCriteria(
        breaths_per_min=float(breaths_per_min),
        phase_lag_deg=lag_deg,
        phase_plv=plv,
        peak_to_trough_bpm=p2t,
        lf_power_ms2=lf_power,
        lf_peak_psd_ms2_per_hz=lf_peak,
        lf_peak_hz=lf_peak_hz,
        smoothness=smooth,
        n_lf_peaks=n_peaks,
        n_beats=n,
        n_breaths=n_breaths,
        duration_s=duration,
        reference=reference,
        breathing_lag_s=lag_s,
    )
