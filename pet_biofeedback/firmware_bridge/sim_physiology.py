"""The simulated person's physiology as pure, vectorised functions (no state).

`rsa_response` (respiratory sinus arrhythmia through a resonance filter, hrv-methods.md §6.5),
`breathing_waveform`, `ipfm_beat_times_s` (beats by integral pulse frequency modulation),
`ecg_beat_uv` (a PQRST waveform), `chest_acc_mg` (gravity on a chest tilted by breathing,
hrv-methods.md §8.1) and `fixed_rate_pacer`; plus the device facts of the simulated strap
(ble-protocol.md) and the model's constants. `sim_model.StrapModel` combines them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeAlias

import numpy as np
import numpy.typing as npt

from pet_biofeedback.errors import ConfigError

__all__ = [
    "ACC_FS_HZ",
    "ACC_SAMPLES_PER_FRAME",
    "ECG_FS_HZ",
    "ECG_SAMPLES_PER_FRAME",
    "NOTIFY_INTERVAL_S",
    "PacerFn",
    "breathing_waveform",
    "chest_acc_mg",
    "ecg_beat_uv",
    "fixed_rate_pacer",
    "ipfm_beat_times_s",
    "rsa_response",
]

logger = logging.getLogger(__name__)

_FloatArray: TypeAlias = npt.NDArray[np.float64]
_BoolArray: TypeAlias = npt.NDArray[np.bool_]

PacerFn: TypeAlias = Callable[[float], float]
"""A pacer as the simulated person sees it: ``t`` (s) → breath position.

The breath position is the number of breaths since the pacer started, as a float that never
decreases: its integer values are inhalation onsets, its fractional part the phase within the
breath (inhalation first, for ``SimConfig.inhale_fraction`` of the cycle). It must be a pure
function of ``t`` (the model may call it for any time, in any order) and slower than
5 breaths/s. The simulated person evaluates it at ``t - pacer_lag_s`` on a 0.1 s grid.
"""


# --- Device facts (ble-protocol.md) ----------------------------------------------------------
ECG_FS_HZ: Final = 130.0  # Polar H10 ECG (§4.9)
ACC_FS_HZ: Final = 200.0  # Polar H10 ACC, highest rate (§4.10)
ECG_SAMPLES_PER_FRAME: Final = 73  # at ATT MTU ≥ 232 (§4.9)
ACC_SAMPLES_PER_FRAME: Final = 36  # 16-bit ACC at MTU 232: (229 − 10) / 6 (§4.10)
NOTIFY_INTERVAL_S: Final = 1.0  # Heart Rate Measurement notifications ≈ 1 Hz (§5)
RR_RESOLUTION_S: Final = 1.0 / 1024.0  # HRS RR unit (§1)
HR_AVERAGE_WINDOW_S: Final = 3.0  # the strap reports HR averaged over its recent beats

# --- Model constants -------------------------------------------------------------------------
HR_GRID_HZ: Final = 50.0  # grid on which the heart rate is integrated into beats
HR_LIMITS_BPM: Final = (25.0, 220.0)  # the model's heart rate is clipped to this range
PACER_GRID_S: Final = 0.1  # a pacer callable is sampled on this grid and interpolated
RATE_HALF_WINDOW_S: Final = 0.5  # central difference for the instantaneous breathing rate
RATE_LIMITS_BREATHS_PER_MIN: Final = (0.5, 60.0)
RESONANCE_MIN_WINDOW_S: Final = 1.0  # shortest averaging of the rate the resonance responds to
# Beats are generated this far ahead of the reported time: an ectopic beat moves up to 40 %
# of an RR (≤ 1.2 s at 25 bpm) earlier, and an ECG waveform reaches 0.45 s past its R peak.
LOOKAHEAD_S: Final = 3.0
ECTOPIC_PREMATURITY: Final = (0.25, 0.40)  # fraction of the RR by which an ectopic beat is early
DRIFT_BAND_HZ: Final = (1.0 / 600.0, 1.0 / 90.0)  # slow heart-rate drift: periods 1.5–10 min
MAYER_BAND_HZ: Final = (0.085, 0.115)  # Mayer (blood-pressure) waves near 0.1 Hz
HF_BAND_HZ: Final = (0.15, 0.40)  # high-frequency heart-rate noise
SLOPPINESS_BAND: Final = (0.2, 0.8)  # breathing-error frequencies, × the nominal breathing rate
# Sinusoids per noise component.
N_DRIFT: Final = 6
N_MAYER: Final = 4
N_HF: Final = 12
N_SLOPPINESS: Final = 5
# PQRST as Gaussians (offset from the R peak s, amplitude µV, width s); a premature ventricular
# beat has no P wave, a wide QRS and an inverted T wave.
ECG_WAVES_NORMAL: Final = (
    (-0.200, 120.0, 0.025),
    (-0.028, -120.0, 0.010),
    (0.000, 1000.0, 0.009),
    (0.030, -250.0, 0.010),
    (0.260, 280.0, 0.045),
)
ECG_WAVES_ECTOPIC: Final = (
    (-0.030, -100.0, 0.012),
    (0.000, 1300.0, 0.020),
    (0.050, -400.0, 0.020),
    (0.300, -350.0, 0.060),
)
# Contact between two dropouts lasts at least this long, so that consecutive dropouts stay
# distinguishable in the 1 Hz notifications.
DROPOUT_MIN_GAP_S: Final = 2.0
ECG_SPAN_S: Final = (-0.35, 0.50)  # the waveform is evaluated over this span around a beat
ECG_BREATH_MODULATION: Final = 0.08  # R-amplitude modulation depth by breathing (EDR, §8.2)
ECG_BASELINE_WANDER_UV: Final = 60.0  # baseline wander with breathing
ECG_DROPOUT_NOISE_FACTOR: Final = 5.0  # electrode noise while contact is lost
ACC_BREATH_TILT_RAD: Final = 0.03  # chest tilt per breath (≈ ±30 mG of gravity)
GRAVITY_MG: Final = 1000.0


# --- Pure model functions --------------------------------------------------------------------


def rsa_response(
    breaths_per_min: npt.ArrayLike,
    *,
    resonance_breaths_per_min: float,
    q: float,
) -> tuple[_FloatArray, _FloatArray]:
    """Gain and phase of the heart-rate response to breathing (a resonance, hrv-methods.md §6.5).

    Parameters
    ----------
    breaths_per_min : array_like
        Breathing rate(s) in breaths/min, > 0.
    resonance_breaths_per_min : float
        Resonance rate f_r in breaths/min.
    q : float
        Quality factor Q: larger is sharper.

    Returns
    -------
    gain : ndarray of float64
        Amplitude relative to the amplitude at resonance, in (0, 1].
    phase_rad : ndarray of float64
        Phase of the heart rate relative to breathing, rad, in (−π/2, π/2): positive (heart
        rate leads) below resonance, 0 at resonance, negative (lags) above.

    Notes
    -----
    With x = Q (f/f_r − f_r/f): ``gain = 1 / sqrt(1 + x²)`` and ``phase = −atan(x)``, the
    response of a band-pass resonator. Phase 0 means heart rate peaks at the end of
    inhalation (hrv-methods.md §6.4 convention).
    """
    ratio = np.asarray(breaths_per_min, dtype=np.float64) / resonance_breaths_per_min
    x = q * (ratio - 1.0 / ratio)
    return 1.0 / np.sqrt(1.0 + x * x), -np.arctan(x)


def breathing_waveform(breath_position: npt.ArrayLike, inhale_fraction: float) -> _FloatArray:
    """Normalised lung volume over the breath cycle.

    Parameters
    ----------
    breath_position : array_like
        Breaths since start (see `PacerFn`); only the fractional part matters.
    inhale_fraction : float
        Share of the cycle spent inhaling, in (0, 1).

    Returns
    -------
    ndarray of float64
        In [−1, 1]: −1 at inhalation onset (integer positions), +1 at the end of inhalation,
        a half cosine up during inhalation and down during exhalation.
    """
    phase = np.mod(np.asarray(breath_position, dtype=np.float64), 1.0)
    warped = np.where(
        phase < inhale_fraction,
        0.5 * phase / inhale_fraction,
        0.5 + 0.5 * (phase - inhale_fraction) / (1.0 - inhale_fraction),
    )
    return -np.cos(2.0 * np.pi * warped)


def ipfm_beat_times_s(
    t_s: npt.ArrayLike, hr_bpm: npt.ArrayLike, beats_at_start: float = 0.0
) -> tuple[_FloatArray, float]:
    """Beat times from a heart-rate curve by integral pulse frequency modulation.

    The beat count N(t) = beats_at_start + ∫ hr/60 dt (trapezoids on the given grid); a beat
    falls where N crosses an integer (linear interpolation between grid points).

    Parameters
    ----------
    t_s : array_like, shape (n,)
        Increasing grid times, s.
    hr_bpm : array_like, shape (n,)
        Heart rate at those times, beats/min, > 0.
    beats_at_start : float, default 0
        N at ``t_s[0]``.

    Returns
    -------
    beat_t_s : ndarray of float64
        Times (s) where N crosses an integer, in ``(t_s[0], t_s[-1]]``.
    beats_at_end : float
        N at ``t_s[-1]``, to continue on the next grid.
    """
    t = np.asarray(t_s, dtype=np.float64)
    hr = np.asarray(hr_bpm, dtype=np.float64)
    count = beats_at_start + np.concatenate(
        ([0.0], np.cumsum(0.5 * (hr[1:] + hr[:-1]) * np.diff(t) / 60.0))
    )
    crossings = np.arange(math.floor(beats_at_start) + 1, math.floor(count[-1]) + 1)
    return np.interp(crossings, count, t), float(count[-1])


def ecg_beat_uv(dt_s: npt.ArrayLike, *, ectopic: npt.ArrayLike = False) -> _FloatArray:
    """The synthetic PQRST waveform, R peak at ``dt_s = 0``.

    Parameters
    ----------
    dt_s : array_like
        Time relative to the R peak, s.
    ectopic : array_like of bool, default False
        Where true, a premature ventricular beat (no P wave, wide QRS, inverted T);
        broadcast against ``dt_s``.

    Returns
    -------
    ndarray of float64
        ECG in µV (R peak ≈ 1000 µV for a normal beat).
    """
    dt = np.asarray(dt_s, dtype=np.float64)

    def waves(spec: tuple[tuple[float, float, float], ...]) -> _FloatArray:
        total = np.zeros_like(dt)
        for offset_s, amplitude_uv, width_s in spec:  # a fixed handful of waves
            total += amplitude_uv * np.exp(-0.5 * ((dt - offset_s) / width_s) ** 2)
        return total

    return np.where(
        np.asarray(ectopic, dtype=bool), waves(ECG_WAVES_ECTOPIC), waves(ECG_WAVES_NORMAL)
    )


def chest_acc_mg(
    breathing: npt.ArrayLike, *, theta0_rad: float, phi0_rad: float, tilt_rad: float
) -> _FloatArray:
    """Gravity seen by a chest accelerometer that each breath tilts slightly.

    Parameters
    ----------
    breathing : array_like, shape (n,)
        Breathing waveform in [−1, 1] (`breathing_waveform`).
    theta0_rad, phi0_rad : float
        Polar and azimuthal angle of gravity in the sensor frame at mid-breath, rad.
    tilt_rad : float
        Tilt at full inhalation, rad; the azimuth turns by half as much.

    Returns
    -------
    ndarray of float64, shape (n, 3)
        x, y, z in mG; the vector length is `GRAVITY_MG`.
    """
    tilt = tilt_rad * np.asarray(breathing, dtype=np.float64)
    theta = theta0_rad + tilt
    phi = phi0_rad + 0.5 * tilt
    return GRAVITY_MG * np.column_stack(
        (np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta))
    )


def fixed_rate_pacer(breaths_per_min: float) -> PacerFn:
    """A pacer at a constant rate, inhalation onset at t = 0 (see `PacerFn`).

    Parameters
    ----------
    breaths_per_min : float
        Breathing rate, breaths/min (> 0).
    """
    if not (math.isfinite(breaths_per_min) and breaths_per_min > 0):
        raise ConfigError(f"pacer rate must be a positive number, got {breaths_per_min!r}")
    breaths_per_s = breaths_per_min / 60.0

    def position(t_s: float) -> float:
        return t_s * breaths_per_s

    return position


@dataclass(frozen=True, slots=True)
class _Sinusoids:
    """A sum of sinusoids with random frequencies and phases: smooth, seeded, stateless noise."""

    freqs_hz: _FloatArray
    phases_rad: _FloatArray
    amplitude: float

    @classmethod
    def draw(
        cls, rng: np.random.Generator, band_hz: tuple[float, float], n: int, std: float
    ) -> _Sinusoids:
        """``n`` components in ``band_hz`` whose sum has standard deviation ``std``."""
        freqs = rng.uniform(band_hz[0], band_hz[1], n)
        phases = rng.uniform(0.0, 2.0 * np.pi, n)
        return cls(freqs, phases, std * math.sqrt(2.0 / n))

    def __call__(self, t_s: _FloatArray) -> _FloatArray:
        if self.amplitude == 0.0:
            return np.zeros_like(t_s)
        angles = np.multiply.outer(t_s, 2.0 * np.pi * self.freqs_hz) + self.phases_rad
        total: _FloatArray = np.sin(angles).sum(axis=-1)
        return self.amplitude * total
