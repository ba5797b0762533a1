"""A simulated chest strap driven by a physiological model (issue 3, "Simulated strap").

The model, in one paragraph: a simulated person breathes after a pacer (a fixed rate or a
callable), with a lag and some sloppiness. Their heart rate is a baseline plus a slow drift,
a Mayer wave (≈ 0.1 Hz), high-frequency noise and respiratory sinus arrhythmia (RSA): the
breathing waveform passed through a resonance filter whose gain peaks at the resonance
breathing rate and whose phase passes through zero there (hrv-methods.md §6.5; `rsa_response`).
Beats come from integrating the heart rate (integral pulse frequency modulation,
`ipfm_beat_times_s`); a few are premature ectopic beats with a compensatory pause; contact
drops out now and then. A 130 Hz ECG puts a PQRST waveform at every R peak, its amplitude
modulated by breathing; a 200 Hz chest accelerometer sees gravity (≈ 1000 mG) on a tilted
axis that each breath rotates slightly (hrv-methods.md §8.1).

Layers:

* Pure functions: `rsa_response`, `breathing_waveform`, `ipfm_beat_times_s`, `ecg_beat_uv`,
  `chest_acc_mg`, `fixed_rate_pacer` — vectorised numpy, no state.
* `StrapModel`: the model's state (beat integrator, random streams). `advance(t_end_s)` returns
  everything the strap measured in the next stretch of time as arrays (`SimChunk`); the result
  depends only on the configuration, the seed and the end time, not on how the time is cut
  into chunks. `simulate` runs it in one go.
* `SimulatedStrap`: the async event source (style.md §2.8) that turns chunks into the events of
  `pet_biofeedback.events`, in real time (``speed=1``), faster, or as fast as possible
  (``speed=math.inf``). ``clock`` and ``sleep`` are injectable.

Times: model time ``t`` is seconds since the strap was opened; the events carry it as their
``t``, so the same seed gives the same events at any speed.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from types import TracebackType
from typing import Final, Self, TypeAlias

import numpy as np
import numpy.typing as npt

from pet_biofeedback.errors import ConfigError
from pet_biofeedback.events import (
    AccFrame,
    Battery,
    Contact,
    EcgFrame,
    Event,
    HeartRate,
    Link,
    LinkState,
    RRIntervals,
)

__all__ = [
    "ACC_FS_HZ",
    "ACC_SAMPLES_PER_FRAME",
    "ECG_FS_HZ",
    "ECG_SAMPLES_PER_FRAME",
    "NOTIFY_INTERVAL_S",
    "PacerFn",
    "SimChunk",
    "SimConfig",
    "SimulatedStrap",
    "StrapModel",
    "breathing_waveform",
    "chest_acc_mg",
    "ecg_beat_uv",
    "fixed_rate_pacer",
    "ipfm_beat_times_s",
    "parse_sim_spec",
    "rsa_response",
    "sim_help_text",
    "simulate",
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


# --- Configuration ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SimConfig:
    """Settings of the simulated strap and person; validated on construction.

    Attributes
    ----------
    seed : int, default 0
        Random seed (≥ 0); the same seed gives the same data.
    hr_bpm : float, default 65
        Mean heart rate in beats/min (30–200).
    resonance_breaths_per_min : float, default 5.5
        Breathing rate at which the RSA amplitude peaks and the HR–breathing phase is 0 (2–15).
    resonance_q : float, default 3
        Sharpness of the resonance (0.2–20); see `rsa_response`.
    rsa_peak_to_trough_bpm : float, default 12
        Peak-to-trough heart-rate swing when breathing at resonance, beats/min (0–60).
    breaths_per_min : float, default 5.5
        The pacer's rate when no pacer callable is given (1–40 breaths/min).
    inhale_fraction : float, default 0.5
        Share of each breath spent inhaling (0.2–0.8).
    pacer_lag_s : float, default 0.3
        How far the person lags behind the pacer, s (0–10).
    sloppiness : float, default 0.05
        Relative standard deviation of the person's breath durations (0–0.2): each breath
        lasts the pacer's breath ± this fraction, and the person catches up with the pacer
        again (the error in breath position stays bounded). Calibrated at
        ``breaths_per_min``.
    lf_noise_bpm : float, default 1.0
        Standard deviation of the Mayer wave (≈ 0.1 Hz) in the heart rate, beats/min (0–20).
    hf_noise_bpm : float, default 0.8
        Standard deviation of 0.15–0.4 Hz heart-rate noise, beats/min (0–20).
    drift_bpm : float, default 2.0
        Standard deviation of the slow heart-rate drift (periods of minutes), beats/min (0–30).
    ectopic_fraction : float, default 0
        Share of beats that are premature ectopic beats (0–0.2).
    dropouts_per_min : float, default 0
        Rate of contact dropouts per minute of contact (0–10): the contact time between two
        dropouts is `DROPOUT_MIN_GAP_S` plus an exponential wait with this rate.
    dropout_s : float, default 5
        Length of each dropout, s (0.5–300).
    ecg_enabled : bool, default True
        Stream 130 Hz ECG frames (a Polar H10 does; a generic strap does not).
    acc_enabled : bool, default True
        Stream 200 Hz accelerometer frames.
    ecg_noise_uv : float, default 15
        Standard deviation of ECG noise, µV (0–1000).
    acc_noise_mg : float, default 4
        Standard deviation of accelerometer noise per axis, mG (0–500).
    battery_pct : int, default 87
        Battery level reported at the start, percent (0–100).
    duration_s : float or None, default None
        End the stream after this many seconds; None streams until the consumer stops.

    Raises
    ------
    ConfigError
        A value of the wrong type, not finite, or outside its range.
    """

    seed: int = 0
    hr_bpm: float = 65.0
    resonance_breaths_per_min: float = 5.5
    resonance_q: float = 3.0
    rsa_peak_to_trough_bpm: float = 12.0
    breaths_per_min: float = 5.5
    inhale_fraction: float = 0.5
    pacer_lag_s: float = 0.3
    sloppiness: float = 0.05
    lf_noise_bpm: float = 1.0
    hf_noise_bpm: float = 0.8
    drift_bpm: float = 2.0
    ectopic_fraction: float = 0.0
    dropouts_per_min: float = 0.0
    dropout_s: float = 5.0
    ecg_enabled: bool = True
    acc_enabled: bool = True
    ecg_noise_uv: float = 15.0
    acc_noise_mg: float = 4.0
    battery_pct: int = 87
    duration_s: float | None = None

    def __post_init__(self) -> None:
        for name, (low, high) in _RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"simulation setting {name} must be a number, got {value!r}")
            if not (math.isfinite(value) and low <= value <= high):
                raise ConfigError(
                    f"simulation setting {name} = {value!r} is outside {low:g}–{high:g}"
                )
        for name in ("seed", "battery_pct"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"simulation setting {name} must be an integer, got {value!r}")
        if self.seed < 0:
            raise ConfigError(f"simulation setting seed must be ≥ 0, got {self.seed}")
        if not 0 <= self.battery_pct <= 100:
            raise ConfigError(
                f"simulation setting battery_pct = {self.battery_pct} is outside 0–100"
            )
        for name in ("ecg_enabled", "acc_enabled"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"simulation setting {name} must be true or false")
        if self.duration_s is not None and (
            isinstance(self.duration_s, bool)
            or not isinstance(self.duration_s, int | float)
            or not math.isfinite(self.duration_s)
            or self.duration_s <= 0
        ):
            raise ConfigError(
                f"simulation setting duration_s must be a positive number of seconds, "
                f"got {self.duration_s!r}"
            )


_RANGES: Final[dict[str, tuple[float, float]]] = {
    "hr_bpm": (30.0, 200.0),
    "resonance_breaths_per_min": (2.0, 15.0),
    "resonance_q": (0.2, 20.0),
    "rsa_peak_to_trough_bpm": (0.0, 60.0),
    "breaths_per_min": (1.0, 40.0),
    "inhale_fraction": (0.2, 0.8),
    "pacer_lag_s": (0.0, 10.0),
    "sloppiness": (0.0, 0.2),
    "lf_noise_bpm": (0.0, 20.0),
    "hf_noise_bpm": (0.0, 20.0),
    "drift_bpm": (0.0, 30.0),
    "ectopic_fraction": (0.0, 0.2),
    "dropouts_per_min": (0.0, 10.0),
    "dropout_s": (0.5, 300.0),
    "ecg_noise_uv": (0.0, 1000.0),
    "acc_noise_mg": (0.0, 500.0),
}

# Keys of the CLI source string ``sim:key=value,…`` → SimConfig fields (full field names work too).
SPEC_KEYS: Final[dict[str, str]] = {
    "seed": "seed",
    "hr": "hr_bpm",
    "resonance": "resonance_breaths_per_min",
    "q": "resonance_q",
    "rsa": "rsa_peak_to_trough_bpm",
    "breathing": "breaths_per_min",
    "inhale": "inhale_fraction",
    "lag": "pacer_lag_s",
    "sloppiness": "sloppiness",
    "lf": "lf_noise_bpm",
    "hf": "hf_noise_bpm",
    "drift": "drift_bpm",
    "ectopy": "ectopic_fraction",
    "dropouts": "dropouts_per_min",
    "dropout_s": "dropout_s",
    "ecg": "ecg_enabled",
    "acc": "acc_enabled",
    "ecg_noise": "ecg_noise_uv",
    "acc_noise": "acc_noise_mg",
    "battery": "battery_pct",
    "duration": "duration_s",
}
# What each key means and its unit, for `sim:help`; ranges and defaults come from SimConfig.
_SPEC_HELP: Final[dict[str, tuple[str, str]]] = {
    "seed": ("random seed; the same seed gives the same data", ""),
    "hr": ("mean heart rate", "beats/min"),
    "resonance": ("breathing rate at which the heart-rate swing peaks", "breaths/min"),
    "q": ("sharpness of that resonance", ""),
    "rsa": ("heart-rate swing (peak to trough) when breathing at resonance", "beats/min"),
    "breathing": ("breathing rate when no pacer leads the person", "breaths/min"),
    "inhale": ("share of each breath spent breathing in", "fraction"),
    "lag": ("how far the person lags behind the pacer", "s"),
    "sloppiness": ("breath-to-breath variation of breath length", "fraction"),
    "lf": ("slow (~0.1 Hz) heart-rate waves", "beats/min SD"),
    "hf": ("fast (0.15–0.4 Hz) heart-rate noise", "beats/min SD"),
    "drift": ("slow heart-rate drift over minutes", "beats/min SD"),
    "ectopy": ("share of premature (ectopic) beats", "fraction"),
    "dropouts": ("contact dropouts per minute", "per min"),
    "dropout_s": ("length of each dropout", "s"),
    "ecg": ("stream 130 Hz ECG (as a Polar H10)", ""),
    "acc": ("stream 200 Hz chest acceleration", ""),
    "ecg_noise": ("ECG noise", "µV SD"),
    "acc_noise": ("accelerometer noise per axis", "mG SD"),
    "battery": ("battery level reported", "%"),
    "duration": ("end the stream after this long (none: until stopped)", "s"),
}


def sim_help_text() -> str:
    """The ``sim:help`` text: every key with its meaning, unit, range and default."""
    defaults = SimConfig()
    lines = [
        "Simulated strap: --source sim:KEY=VALUE,KEY=VALUE,… (e.g. sim:resonance=5,seed=3)",
        "",
        f"  {'key':<11} {'default':>8}  {'range':<13} meaning",
    ]
    for key, field_name in SPEC_KEYS.items():
        meaning, unit = _SPEC_HELP[key]
        default = getattr(defaults, field_name)
        shown = "none" if default is None else str(default).lower()
        if field_name in _RANGES:
            low, high = _RANGES[field_name]
            span = f"{low:g}–{high:g}"
        elif field_name == "seed":
            span = "≥ 0"
        elif field_name == "battery_pct":
            span = "0–100"
        elif field_name == "duration_s":
            span = "> 0"
        else:
            span = "true/false"
        suffix = f" ({unit})" if unit else ""
        lines.append(f"  {key:<11} {shown:>8}  {span:<13} {meaning}{suffix}")
    return "\n".join(lines)


_TRUE_WORDS: Final = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS: Final = frozenset({"0", "false", "no", "off"})


def parse_sim_spec(spec: str) -> SimConfig:
    """Parse the settings part of the CLI source string ``sim:key=value,…``.

    Parameters
    ----------
    spec : str
        Comma-separated ``key=value`` pairs, e.g. ``"resonance=5.5,seed=3,ectopy=0.01"``;
        a leading ``"sim:"`` (or a bare ``"sim"``) is allowed, an empty string gives the
        defaults. Keys are the short names of `SPEC_KEYS` or `SimConfig` field names; booleans
        are ``on/off``, ``true/false``, ``yes/no`` or ``1/0``; ``duration=none`` streams forever.

    Returns
    -------
    SimConfig
        The validated configuration.

    Raises
    ------
    ConfigError
        An unknown or repeated key (the message lists the valid keys), a pair without ``=``,
        or a value that is not a number/boolean of the right kind or is out of range.

    Examples
    --------
    >>> parse_sim_spec("sim:resonance=6,seed=3,ectopy=0.01").resonance_breaths_per_min
    6.0
    """
    text = spec.strip()
    if text == "sim" or text.startswith("sim:"):
        text = text[3:].lstrip(":")
    field_types = {f.name: f.type for f in fields(SimConfig)}
    valid = ", ".join(SPEC_KEYS)
    values: dict[str, object] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, raw = item.partition("=")
        key, raw = key.strip().lower(), raw.strip()
        if not sep or not key:
            raise ConfigError(f"simulation setting {item!r} is not key=value; valid keys: {valid}")
        name = SPEC_KEYS.get(key, key if key in field_types else None)
        if name is None:
            raise ConfigError(f"unknown simulation setting {key!r}; valid keys: {valid}")
        if name in values:
            raise ConfigError(f"simulation setting {key!r} is given twice")
        values[name] = _parse_spec_value(key, name, raw)
    return SimConfig(**values)  # type: ignore[arg-type]  # types checked in __post_init__


def _parse_spec_value(key: str, name: str, raw: str) -> object:
    """One ``key=value`` value converted to the field's type (validated later)."""
    lowered = raw.lower()
    if name in ("ecg_enabled", "acc_enabled"):
        if lowered in _TRUE_WORDS:
            return True
        if lowered in _FALSE_WORDS:
            return False
        raise ConfigError(f"simulation setting {key} must be on or off, got {raw!r}")
    if name == "duration_s" and lowered in ("none", "inf", "forever"):
        return None
    try:
        if name in ("seed", "battery_pct"):
            return int(raw)
        return float(raw)
    except ValueError:
        kind = "an integer" if name in ("seed", "battery_pct") else "a number"
        raise ConfigError(f"simulation setting {key} must be {kind}, got {raw!r}") from None


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


# --- The stateful model ----------------------------------------------------------------------


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


def _readonly(array: npt.NDArray[np.generic]) -> None:
    array.flags.writeable = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SimChunk:
    """What the simulated strap measured during ``(t_start_s, t_end_s]``; arrays are read-only.

    Attributes
    ----------
    t_start_s, t_end_s : float
        The stretch of model time, s.
    beat_t_s : ndarray, shape (n_beats,)
        R-peak times, s, on the strap's 1/1024 s grid.
    rr_ms : ndarray, shape (n_beats,)
        The RR interval ending at each beat as the strap reports it, ms; NaN where the strap
        reports none (the first beat, and around and during contact dropouts).
    ectopic_mask : ndarray of bool, shape (n_beats,)
        The beat is a premature ectopic beat.
    contact_mask : ndarray of bool, shape (n_beats,)
        The beat fell outside a contact dropout.
    notify_t_s : ndarray, shape (n_notify,)
        Times of the Heart Rate notifications (every `NOTIFY_INTERVAL_S`). A beat's RR is
        reported in the first notification at or after the beat.
    notify_hr_bpm : ndarray, shape (n_notify,)
        Heart rate in those notifications, whole beats/min (0 without contact).
    notify_contact_mask : ndarray of bool, shape (n_notify,)
        Skin contact in those notifications.
    ecg_t_s, ecg_uv : ndarray, shape (n_ecg,)
        ECG sample times (multiples of 1/`ECG_FS_HZ`) and values in whole µV; empty when
        ECG is disabled.
    acc_t_s : ndarray, shape (n_acc,)
        Accelerometer sample times (multiples of 1/`ACC_FS_HZ`); empty when disabled.
    acc_mg : ndarray, shape (n_acc, 3)
        Accelerometer x, y, z in whole mG.
    """

    t_start_s: float
    t_end_s: float
    beat_t_s: _FloatArray
    rr_ms: _FloatArray
    ectopic_mask: _BoolArray
    contact_mask: _BoolArray
    notify_t_s: _FloatArray
    notify_hr_bpm: _FloatArray
    notify_contact_mask: _BoolArray
    ecg_t_s: _FloatArray
    ecg_uv: _FloatArray
    acc_t_s: _FloatArray
    acc_mg: _FloatArray

    def __post_init__(self) -> None:
        for name in (
            "beat_t_s",
            "rr_ms",
            "ectopic_mask",
            "contact_mask",
            "notify_t_s",
            "notify_hr_bpm",
            "notify_contact_mask",
            "ecg_t_s",
            "ecg_uv",
            "acc_t_s",
            "acc_mg",
        ):
            _readonly(getattr(self, name))


class StrapModel:
    """The simulated person and strap, advanced through time in chunks.

    Deterministic: the output up to a time depends only on the configuration, the seed and
    the pacer, not on how that time was split into `advance` calls (each random stream is
    consumed in beat or sample order).

    Parameters
    ----------
    config : SimConfig
        The settings.
    pacer : PacerFn, optional
        What the person follows; default a pacer at ``config.breaths_per_min``.
    """

    def __init__(self, config: SimConfig, *, pacer: PacerFn | None = None) -> None:
        self.config = config
        self._pacer = pacer
        self._pacer_start: tuple[float, float] | None = None  # positions at 0 and PACER_GRID_S
        streams = [np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(6)]
        params, beats, self._rng_ectopic, self._rng_dropout, self._rng_ecg, self._rng_acc = streams
        # Every parameter is drawn, in a fixed order, whatever the configuration, so that
        # changing one setting does not reshuffle the others.
        self._drift = _Sinusoids.draw(params, DRIFT_BAND_HZ, N_DRIFT, config.drift_bpm)
        self._mayer = _Sinusoids.draw(params, MAYER_BAND_HZ, N_MAYER, config.lf_noise_bpm)
        self._hf = _Sinusoids.draw(params, HF_BAND_HZ, N_HF, config.hf_noise_bpm)
        nominal_hz = config.breaths_per_min / 60.0
        slop = _Sinusoids.draw(
            params,
            (SLOPPINESS_BAND[0] * nominal_hz, SLOPPINESS_BAND[1] * nominal_hz),
            N_SLOPPINESS,
            1.0,
        )
        # Scale the breath-position error δ so that its change over one nominal breath T (the
        # breath-duration error, in breaths) has standard deviation `sloppiness`: for random
        # phases Var[δ(t + T) − δ(t)] = a² Σ 2 sin²(π f_i T).
        duration_std_per_unit = math.sqrt(
            2.0 * float(np.sum(np.sin(np.pi * slop.freqs_hz / nominal_hz) ** 2))
        )
        slop_amplitude = config.sloppiness / duration_std_per_unit
        self._slop = _Sinusoids(slop.freqs_hz, slop.phases_rad, slop_amplitude)
        self._acc_theta0_rad = float(params.uniform(0.4, 1.0))
        self._acc_phi0_rad = float(params.uniform(0.0, 2.0 * np.pi))
        self._ecg_scale = float(params.uniform(0.8, 1.3))

        self._t_s = 0.0  # reported up to here
        # Beat integrator state (grid index, beat count N and HR at the last grid point).
        self._grid_idx = 0
        self._beat_count = float(beats.uniform(0.0, 1.0))
        self._grid_hr_bpm = float(self.heart_rate_bpm(np.zeros(1))[0])
        self._last_normal_beat_t_s = math.nan
        # Generated, not yet reported beats; recent reported beats (for the ECG and HR average).
        self._pending_t_s = np.empty(0)
        self._pending_ectopic = np.empty(0, dtype=bool)
        self._recent_t_s = np.empty(0)
        self._recent_ectopic = np.empty(0, dtype=bool)
        self._recent_rr_t_s = np.empty(0)
        self._recent_rr_ms = np.empty(0)
        self._prev_beat_t_s = math.nan
        self._prev_beat_visible = False
        # Dropout schedule: [start, end) intervals, generated ahead.
        self._dropout_rate_per_s = config.dropouts_per_min / 60.0
        self._dropout_starts = np.empty(0)
        self._dropout_ends = np.empty(0)
        self._next_dropout_s = (
            float(self._rng_dropout.exponential(1.0 / self._dropout_rate_per_s))
            if self._dropout_rate_per_s > 0
            else math.inf
        )
        self._ecg_idx = 0  # last sample index emitted (sample 0 at t = 0 is never emitted)
        self._acc_idx = 0

    @property
    def t_s(self) -> float:
        """Model time reported so far, s."""
        return self._t_s

    # -- continuous signals (pure functions of t) --

    def _pacer_at(self, tau_s: float) -> float:
        assert self._pacer is not None
        if tau_s >= 0.0:
            return float(self._pacer(tau_s))
        if self._pacer_start is None:  # before the pacer starts: extrapolate its first rate
            self._pacer_start = (float(self._pacer(0.0)), float(self._pacer(PACER_GRID_S)))
        p0, p1 = self._pacer_start
        return p0 + tau_s * (p1 - p0) / PACER_GRID_S

    def _pacer_position(self, tau_s: _FloatArray) -> _FloatArray:
        if self._pacer is None:
            return tau_s * (self.config.breaths_per_min / 60.0)
        if tau_s.size == 0:
            return np.empty(0)
        lo = math.floor(float(tau_s.min()) / PACER_GRID_S)
        hi = math.floor(float(tau_s.max()) / PACER_GRID_S) + 1
        grid_s = np.arange(lo, hi + 1) * PACER_GRID_S
        # The pacer is an arbitrary Python callable: one call per 0.1 s grid point.
        positions = np.array([self._pacer_at(float(g)) for g in grid_s])
        result: _FloatArray = np.interp(tau_s, grid_s, positions)
        return result

    def breath_position(self, t_s: npt.ArrayLike) -> _FloatArray:
        """The person's breath position at ``t_s`` (breaths since start, see `PacerFn`).

        The pacer's position at ``t − pacer_lag_s`` plus a smooth, bounded random error that
        makes breath durations vary with relative standard deviation ``sloppiness``.
        """
        t = np.asarray(t_s, dtype=np.float64)
        return self._pacer_position(t - self.config.pacer_lag_s) + self._slop(t)

    def breathing_rate_breaths_per_min(self, t_s: npt.ArrayLike) -> _FloatArray:
        """The person's instantaneous breathing rate, breaths/min (central difference ±0.5 s)."""
        t = np.asarray(t_s, dtype=np.float64)
        h = RATE_HALF_WINDOW_S
        rate = (self.breath_position(t + h) - self.breath_position(t - h)) * (60.0 / (2.0 * h))
        return np.clip(rate, *RATE_LIMITS_BREATHS_PER_MIN)

    def heart_rate_bpm(self, t_s: npt.ArrayLike) -> _FloatArray:
        """The model's instantaneous heart rate, beats/min.

        ``hr_bpm`` + drift + Mayer wave + HF noise + RSA, where RSA is the breathing waveform
        scaled by ``rsa_peak_to_trough_bpm / 2`` × gain and shifted by the phase of
        `rsa_response`; clipped to `HR_LIMITS_BPM`.

        Gain and phase are taken at the breathing rate averaged over the last two time
        constants of the resonator, 2 Q / (π f_r) (≈ 21 s at Q = 3, 5.5 breaths/min): a
        resonance cannot follow breath-to-breath jitter, only the rate the person keeps up.
        """
        config = self.config
        t = np.asarray(t_s, dtype=np.float64)
        window_s = max(
            2.0 * config.resonance_q / (np.pi * config.resonance_breaths_per_min / 60.0),
            RESONANCE_MIN_WINDOW_S,
        )
        position = self.breath_position(t)
        kept_rate = (position - self.breath_position(t - window_s)) * (60.0 / window_s)
        gain, phase_rad = rsa_response(
            np.clip(kept_rate, *RATE_LIMITS_BREATHS_PER_MIN),
            resonance_breaths_per_min=config.resonance_breaths_per_min,
            q=config.resonance_q,
        )
        rsa = (
            0.5
            * config.rsa_peak_to_trough_bpm
            * gain
            * breathing_waveform(position + phase_rad / (2.0 * np.pi), config.inhale_fraction)
        )
        hr = config.hr_bpm + self._drift(t) + self._mayer(t) + self._hf(t) + rsa
        return np.clip(hr, *HR_LIMITS_BPM)

    def in_dropout(self, t_s: npt.ArrayLike) -> _BoolArray:
        """True where ``t_s`` lies in a contact dropout (scheduled up to now + `LOOKAHEAD_S`)."""
        t = np.asarray(t_s, dtype=np.float64)
        idx = np.searchsorted(self._dropout_starts, t, side="right") - 1
        inside = idx >= 0
        inside[inside] = t[inside] < self._dropout_ends[idx[inside]]
        return inside

    # -- generation ahead of the reported time --

    def _schedule_dropouts(self, until_s: float) -> None:
        starts, ends = [], []
        # One draw per dropout, in time order (a handful per minute at most).
        while self._next_dropout_s < until_s:
            start = self._next_dropout_s
            starts.append(start)
            ends.append(start + self.config.dropout_s)
            gap_s = DROPOUT_MIN_GAP_S + float(
                self._rng_dropout.exponential(1.0 / self._dropout_rate_per_s)
            )
            self._next_dropout_s = start + self.config.dropout_s + gap_s
        if starts:
            self._dropout_starts = np.concatenate((self._dropout_starts, starts))
            self._dropout_ends = np.concatenate((self._dropout_ends, ends))

    def _generate_beats(self, until_s: float) -> None:
        grid_end = math.floor(until_s * HR_GRID_HZ)
        if grid_end <= self._grid_idx:
            return
        grid_t = np.arange(self._grid_idx, grid_end + 1) / HR_GRID_HZ
        hr = self.heart_rate_bpm(grid_t[1:])
        normal_t, self._beat_count = ipfm_beat_times_s(
            grid_t, np.concatenate(([self._grid_hr_bpm], hr)), self._beat_count
        )
        self._grid_idx, self._grid_hr_bpm = grid_end, float(hr[-1])
        if normal_t.size == 0:
            return
        # Two draws per beat, in beat order: is it ectopic, and how premature.
        draws = self._rng_ectopic.random((normal_t.size, 2))
        previous = np.concatenate(([self._last_normal_beat_t_s], normal_t[:-1]))
        self._last_normal_beat_t_s = float(normal_t[-1])
        ectopic = (draws[:, 0] < self.config.ectopic_fraction) & np.isfinite(previous)
        prematurity = ECTOPIC_PREMATURITY[0] + draws[:, 1] * (
            ECTOPIC_PREMATURITY[1] - ECTOPIC_PREMATURITY[0]
        )
        shift_s = np.where(ectopic, prematurity * (normal_t - np.nan_to_num(previous)), 0.0)
        beat_t = np.round((normal_t - shift_s) / RR_RESOLUTION_S) * RR_RESOLUTION_S
        self._pending_t_s = np.concatenate((self._pending_t_s, beat_t))
        self._pending_ectopic = np.concatenate((self._pending_ectopic, ectopic))

    # -- reporting --

    def advance(self, t_end_s: float) -> SimChunk:
        """Simulate up to ``t_end_s`` and return what the strap measured since the last call.

        Parameters
        ----------
        t_end_s : float
            End of the stretch, s; later than `t_s`.

        Returns
        -------
        SimChunk
            Beats, notifications and samples in ``(t_s, t_end_s]``.

        Raises
        ------
        ConfigError
            ``t_end_s`` is not after `t_s`.
        """
        t_start = self._t_s
        if not (math.isfinite(t_end_s) and t_end_s > t_start):
            raise ConfigError(f"t_end_s must be after {t_start} s, got {t_end_s!r}")
        self._schedule_dropouts(t_end_s + LOOKAHEAD_S)
        self._generate_beats(t_end_s + LOOKAHEAD_S)

        take = self._pending_t_s <= t_end_s
        beat_t, ectopic = self._pending_t_s[take], self._pending_ectopic[take]
        self._pending_t_s, self._pending_ectopic = (
            self._pending_t_s[~take],
            self._pending_ectopic[~take],
        )
        visible = ~self.in_dropout(beat_t)
        previous_t = np.concatenate(([self._prev_beat_t_s], beat_t[:-1]))
        previous_visible = np.concatenate(([self._prev_beat_visible], visible[:-1]))
        beat_notify_t = self._notify_time(beat_t)
        reported = (
            visible & previous_visible & np.isfinite(previous_t) & ~self.in_dropout(beat_notify_t)
        )
        rr_ms = np.where(reported, (beat_t - np.nan_to_num(previous_t)) * 1000.0, np.nan)
        if beat_t.size:
            self._prev_beat_t_s, self._prev_beat_visible = float(beat_t[-1]), bool(visible[-1])

        notify_t, notify_hr, notify_contact = self._notifications(
            t_start, t_end_s, beat_notify_t[reported], rr_ms[reported]
        )
        ecg_t, ecg_uv = self._ecg(t_end_s, beat_t, ectopic, visible)
        acc_t, acc_mg = self._acc(t_end_s)

        self._recent_t_s = np.concatenate((self._recent_t_s, beat_t[visible]))
        self._recent_ectopic = np.concatenate((self._recent_ectopic, ectopic[visible]))
        keep = self._recent_t_s > t_end_s - (ECG_SPAN_S[1] - ECG_SPAN_S[0])
        self._recent_t_s, self._recent_ectopic = self._recent_t_s[keep], self._recent_ectopic[keep]
        self._t_s = t_end_s
        return SimChunk(
            t_start_s=t_start,
            t_end_s=t_end_s,
            beat_t_s=beat_t,
            rr_ms=rr_ms,
            ectopic_mask=ectopic,
            contact_mask=visible,
            notify_t_s=notify_t,
            notify_hr_bpm=notify_hr,
            notify_contact_mask=notify_contact,
            ecg_t_s=ecg_t,
            ecg_uv=ecg_uv,
            acc_t_s=acc_t,
            acc_mg=acc_mg,
        )

    @staticmethod
    def _notify_time(t_s: _FloatArray) -> _FloatArray:
        """The notification that reports a beat at ``t_s``: the first at or after it."""
        return np.maximum(np.ceil(t_s / NOTIFY_INTERVAL_S), 1.0) * NOTIFY_INTERVAL_S

    def _notifications(
        self, t_start: float, t_end: float, rr_notify_t: _FloatArray, rr_ms: _FloatArray
    ) -> tuple[_FloatArray, _FloatArray, _BoolArray]:
        first = math.floor(t_start / NOTIFY_INTERVAL_S) + 1
        last = math.floor(t_end / NOTIFY_INTERVAL_S)
        notify_t = (np.arange(first, last + 1) * NOTIFY_INTERVAL_S).astype(np.float64)
        contact = ~self.in_dropout(notify_t)
        # The strap's HR: the mean of the RR reported in the last HR_AVERAGE_WINDOW_S, or the
        # model's heart rate when there are none (start, after a dropout).
        hist_t = np.concatenate((self._recent_rr_t_s, rr_notify_t))
        hist_rr = np.concatenate((self._recent_rr_ms, rr_ms))
        cumulative = np.concatenate(([0.0], np.cumsum(hist_rr)))
        lo = np.searchsorted(hist_t, notify_t - HR_AVERAGE_WINDOW_S, side="right")
        hi = np.searchsorted(hist_t, notify_t, side="right")
        n = hi - lo
        mean_rr = (cumulative[hi] - cumulative[lo]) / np.maximum(n, 1)
        model_hr = self.heart_rate_bpm(notify_t) if notify_t.size else np.empty(0)
        hr = np.where(n > 0, 60000.0 / np.where(n > 0, mean_rr, 1.0), model_hr)
        hr = np.where(contact, np.round(hr), 0.0).astype(np.float64)
        keep = hist_t > t_end - HR_AVERAGE_WINDOW_S
        self._recent_rr_t_s, self._recent_rr_ms = hist_t[keep], hist_rr[keep]
        return notify_t, hr, contact

    def _ecg(
        self, t_end: float, beat_t: _FloatArray, ectopic: _BoolArray, visible: _BoolArray
    ) -> tuple[_FloatArray, _FloatArray]:
        if not self.config.ecg_enabled:
            return np.empty(0), np.empty(0)
        first, last = self._ecg_idx + 1, math.floor(t_end * ECG_FS_HZ + 1e-9)
        self._ecg_idx = max(last, self._ecg_idx)
        if last < first:
            return np.empty(0), np.empty(0)
        sample_t = np.arange(first, last + 1) / ECG_FS_HZ
        pending_visible = ~self.in_dropout(self._pending_t_s)
        beats_t = np.concatenate(
            (self._recent_t_s, beat_t[visible], self._pending_t_s[pending_visible])
        )
        beats_ectopic = np.concatenate(
            (self._recent_ectopic, ectopic[visible], self._pending_ectopic[pending_visible])
        )
        near = (beats_t > sample_t[0] - ECG_SPAN_S[1]) & (beats_t < sample_t[-1] - ECG_SPAN_S[0])
        beats_t, beats_ectopic = beats_t[near], beats_ectopic[near]
        # Each beat's waveform over a fixed window of samples: (n_beats × span) at once.
        span = math.ceil((ECG_SPAN_S[1] - ECG_SPAN_S[0]) * ECG_FS_HZ) + 1
        start_idx = np.ceil((beats_t + ECG_SPAN_S[0]) * ECG_FS_HZ).astype(np.int64)
        idx = start_idx[:, None] + np.arange(span)
        amplitude = self._ecg_scale * (
            1.0
            + ECG_BREATH_MODULATION
            * breathing_waveform(self.breath_position(beats_t), self.config.inhale_fraction)
        )
        values = amplitude[:, None] * ecg_beat_uv(
            idx / ECG_FS_HZ - beats_t[:, None], ectopic=beats_ectopic[:, None]
        )
        inside = (idx >= first) & (idx <= last)
        ecg: _FloatArray = np.bincount(
            idx[inside] - first, weights=values[inside], minlength=sample_t.size
        ).astype(np.float64)
        ecg += ECG_BASELINE_WANDER_UV * breathing_waveform(
            self.breath_position(sample_t), self.config.inhale_fraction
        )
        noise_scale = np.where(self.in_dropout(sample_t), ECG_DROPOUT_NOISE_FACTOR, 1.0)
        ecg += self.config.ecg_noise_uv * noise_scale * self._rng_ecg.standard_normal(sample_t.size)
        return sample_t, np.round(ecg)

    def _acc(self, t_end: float) -> tuple[_FloatArray, _FloatArray]:
        if not self.config.acc_enabled:
            return np.empty(0), np.empty((0, 3))
        first, last = self._acc_idx + 1, math.floor(t_end * ACC_FS_HZ + 1e-9)
        self._acc_idx = max(last, self._acc_idx)
        if last < first:
            return np.empty(0), np.empty((0, 3))
        sample_t = np.arange(first, last + 1) / ACC_FS_HZ
        acc = chest_acc_mg(
            breathing_waveform(self.breath_position(sample_t), self.config.inhale_fraction),
            theta0_rad=self._acc_theta0_rad,
            phi0_rad=self._acc_phi0_rad,
            tilt_rad=ACC_BREATH_TILT_RAD,
        )
        acc += self.config.acc_noise_mg * self._rng_acc.standard_normal((sample_t.size, 3))
        return sample_t, np.round(acc)


def simulate(config: SimConfig, duration_s: float, *, pacer: PacerFn | None = None) -> SimChunk:
    """Run the model from 0 to ``duration_s`` in one go.

    Parameters
    ----------
    config : SimConfig
        The settings (``duration_s`` in it is ignored).
    duration_s : float
        Length, s (> 0).
    pacer : PacerFn, optional
        What the person follows; default a pacer at ``config.breaths_per_min``.

    Returns
    -------
    SimChunk
        Everything measured in ``(0, duration_s]``; identical to concatenating the chunks of
        any sequence of `StrapModel.advance` calls ending at ``duration_s``.
    """
    return StrapModel(config, pacer=pacer).advance(duration_s)


# --- The async source ------------------------------------------------------------------------

Clock: TypeAlias = Callable[[], float]
Sleep: TypeAlias = Callable[[float], Awaitable[None]]


class SimulatedStrap:
    """An event source backed by `StrapModel`, shaped like every source (style.md §2.8).

    ``async with strap:`` opens it; ``async for event in strap:`` yields, in time order:
    `Link` connecting → connected, `Battery`, `Link` streaming (all at t = 0); then every
    second `HeartRate`, `RRIntervals` (only when beats with reportable RR completed during
    that second) and `Contact`, with `EcgFrame` (73 samples, 130 Hz) and `AccFrame`
    (36 samples, 200 Hz) in between when enabled; at ``config.duration_s`` a final
    `Link` disconnected. During a contact dropout the strap reports ``Contact(ok=False)``,
    a heart rate of 0 (as a generic strap does) and no RR. Frames are whole frames only, and
    when ``duration_s`` is not a whole number of seconds the beats of the last partial second
    are not reported (no notification comes for them).

    Parameters
    ----------
    config : SimConfig, optional
        The settings; default ``SimConfig()``.
    pacer : PacerFn, optional
        What the simulated person follows; default a pacer at ``config.breaths_per_min``.
    clock : callable () -> float, default time.monotonic
        Monotonic clock in s; real-time pacing waits until ``clock() − clock_at_open``
        reaches ``t / speed``.
    speed : float, default 1.0
        1 = real time, 10 = ten times faster, ``math.inf`` = as fast as possible (never waits,
        but yields to the event loop once per simulated second).
    sleep : callable (float) -> awaitable, default asyncio.sleep
        How to wait (tests inject one that advances a fake clock).

    Raises
    ------
    ConfigError
        ``speed`` is not positive.

    Notes
    -----
    The events' ``t`` is model time, not the measured clock, so every speed yields the same
    events. A slow consumer delays events but never loses them. Single use: it can be opened
    once; iterating before opening raises RuntimeError, after closing it just ends.
    """

    def __init__(
        self,
        config: SimConfig | None = None,
        *,
        pacer: PacerFn | None = None,
        clock: Clock = time.monotonic,
        speed: float = 1.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not speed > 0:  # also rejects NaN
            raise ConfigError(
                f"speed must be positive (math.inf: as fast as possible), got {speed}"
            )
        self.config = config if config is not None else SimConfig()
        self._pacer = pacer
        self._clock = clock
        self._speed = speed
        self._sleep = sleep
        self._state = "new"
        self._model: StrapModel | None = None
        self._t0 = 0.0
        self._pending: deque[Event] = deque()
        self._ecg_t = np.empty(0)
        self._ecg_uv = np.empty(0)
        self._acc_t = np.empty(0)
        self._acc_mg = np.empty((0, 3))
        self._finished = False

    async def __aenter__(self) -> Self:
        if self._state != "new":
            raise RuntimeError("a SimulatedStrap can be opened only once")
        self._state = "open"
        self._model = StrapModel(self.config, pacer=self._pacer)
        self._t0 = self._clock()
        streams = ["HR + RR"]
        if self.config.ecg_enabled:
            streams.append(f"ECG {ECG_FS_HZ:g} Hz")
        if self.config.acc_enabled:
            streams.append(f"ACC {ACC_FS_HZ:g} Hz")
        name = f"simulated strap (seed {self.config.seed})"
        self._pending.extend(
            (
                Link(0.0, LinkState.CONNECTING, name),
                Link(0.0, LinkState.CONNECTED, name),
                Battery(0.0, self.config.battery_pct),
                Link(0.0, LinkState.STREAMING, ", ".join(streams)),
            )
        )
        logger.info("%s opened: %s, speed %s", name, ", ".join(streams), self._speed)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._state = "closed"
        self._pending.clear()
        self._model = None
        logger.info("simulated strap (seed %d) closed", self.config.seed)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        if self._state == "new":
            raise RuntimeError("open the strap with 'async with' before iterating over it")
        while not self._pending:
            if self._state != "open" or self._finished:
                raise StopAsyncIteration
            self._pending.extend(self._next_second())
            if math.isinf(self._speed):
                await self._sleep(0.0)  # let other tasks run
        if self._state != "open":
            raise StopAsyncIteration
        event = self._pending[0]
        if not math.isinf(self._speed):
            delay_s = self._t0 + event.t / self._speed - self._clock()
            if delay_s > 0:
                await self._sleep(delay_s)
            if self._state != "open":  # closed while waiting
                raise StopAsyncIteration
        return self._pending.popleft()

    def _next_second(self) -> list[Event]:
        """The events of the next second of model time (or up to the end)."""
        model = self._model
        assert model is not None
        t_end = math.floor(model.t_s / NOTIFY_INTERVAL_S + 1.0) * NOTIFY_INTERVAL_S
        duration = self.config.duration_s
        if duration is not None and t_end >= duration:
            t_end, self._finished = duration, True
        chunk = model.advance(t_end)
        events: list[Event] = []
        self._ecg_t, self._ecg_uv, ecg_frames = _frames(
            self._ecg_t, self._ecg_uv, chunk.ecg_t_s, chunk.ecg_uv, ECG_SAMPLES_PER_FRAME
        )
        events.extend(EcgFrame(float(t[-1]), ECG_FS_HZ, tuple(v.tolist())) for t, v in ecg_frames)
        self._acc_t, self._acc_mg, acc_frames = _frames(
            self._acc_t, self._acc_mg, chunk.acc_t_s, chunk.acc_mg, ACC_SAMPLES_PER_FRAME
        )
        events.extend(
            AccFrame(float(t[-1]), ACC_FS_HZ, tuple((x, y, z) for x, y, z in v.tolist()))
            for t, v in acc_frames
        )
        reported = np.isfinite(chunk.rr_ms)
        reported_rr = chunk.rr_ms[reported]
        # As a real strap's events: RR intervals are stamped with the beat that ends the last
        # of them (events.RRIntervals), not with the notification's arrival.
        rr_t = float(chunk.beat_t_s[reported][-1]) if reported_rr.size else 0.0
        for t, hr, ok in zip(
            chunk.notify_t_s.tolist(),
            chunk.notify_hr_bpm.tolist(),
            chunk.notify_contact_mask.tolist(),
            strict=True,
        ):  # at most one notification per chunk
            events.append(HeartRate(t, hr))
            if ok and reported_rr.size:
                events.append(RRIntervals(rr_t, tuple(reported_rr.tolist())))
            events.append(Contact(t, ok))
        events.sort(key=lambda e: e.t)  # stable: frames before the notification at the same t
        if self._finished:
            events.append(Link(t_end, LinkState.DISCONNECTED, "simulation ended"))
        logger.debug("simulated %.0f s: %d events", t_end, len(events))
        return events


def _frames(
    buffer_t: _FloatArray,
    buffer_values: _FloatArray,
    new_t: _FloatArray,
    new_values: _FloatArray,
    n_per_frame: int,
) -> tuple[_FloatArray, _FloatArray, list[tuple[_FloatArray, _FloatArray]]]:
    """Cut buffered + new samples into whole frames; return the leftover and the frames."""
    all_t = np.concatenate((buffer_t, new_t))
    all_values = np.concatenate((buffer_values, new_values))
    n_frames = all_t.size // n_per_frame
    frames = [
        (
            all_t[i * n_per_frame : (i + 1) * n_per_frame],
            all_values[i * n_per_frame : (i + 1) * n_per_frame],
        )
        for i in range(n_frames)
    ]
    used = n_frames * n_per_frame
    return all_t[used:], all_values[used:], frames
