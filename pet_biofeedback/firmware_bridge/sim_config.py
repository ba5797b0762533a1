"""Settings of the simulated strap and person (`SimConfig`) and the ``sim:key=value,…`` spec.

`parse_sim_spec` turns the CLI source string into a validated `SimConfig`; `SPEC_KEYS` and
`sim_help_text` list the short keys for ``--source sim:…`` help. The model that uses the
settings is in `sim_model`, the async source in `simulated`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Final

from pet_biofeedback.errors import ConfigError

__all__ = [
    "SPEC_KEYS",
    "SimConfig",
    "parse_sim_spec",
    "sim_help_text",
]

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
