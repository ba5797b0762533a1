"""What the app remembers per profile between sessions.

A resonance assessment recommends a breathing rate; it becomes the profile's default practice
rate (issue #7). The desktop app adds the last strap used and its settings (pacer shape and
holds, session length, feedback difficulty, palette, text size; issue 8). One small JSON
file in the data folder, readable only by its owner, written whole through a temporary file
and a rename, so a crash leaves the old file or the new one. Profile names are keys inside
the file, never parts of a path.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final, Literal, get_args

from pet_biofeedback.errors import ConfigError, StoreError
from pet_biofeedback.paths import data_dir
from pet_biofeedback.session.pacer import PacerSettings, PacerShape, rate_on_grid

__all__ = [
    "PREFERENCES_FILE",
    "CoachSettings",
    "Difficulty",
    "coach_settings",
    "last_device",
    "practice_rate",
    "remember_coach_settings",
    "remember_last_device",
    "remember_practice_rate",
]

logger = logging.getLogger(__name__)

PREFERENCES_FILE: Final = "preferences.json"


def _path() -> Path:
    return data_dir() / PREFERENCES_FILE


def _load() -> dict[str, Any]:
    path = _path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:  # unreadable: start afresh, but say so
        logger.warning("preferences in %s could not be read (%s); using defaults", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def _entry(data: dict[str, Any], profile: str) -> dict[str, Any]:
    profiles = data.get("profiles", {})
    entry = profiles.get(profile, {}) if isinstance(profiles, dict) else {}
    return entry if isinstance(entry, dict) else {}


def practice_rate(profile: str) -> float | None:
    """The profile's practice rate in breaths/min (last assessment or settings), if any."""
    rate = _entry(_load(), profile).get("practice_breaths_per_min")
    if isinstance(rate, int | float) and math.isfinite(rate) and 3.0 <= rate <= 10.0:
        return float(rate)
    return None


def _update(profile: str, entries: dict[str, Any]) -> Path:
    """Merge ``entries`` into the profile's entry and save the file whole.

    Raises
    ------
    StoreError
        The file cannot be written.
    """
    data = _load()
    profiles = data.setdefault("profiles", {})
    if not isinstance(profiles, dict):
        profiles = data["profiles"] = {}
    # Merged, not replaced: a new practice rate must not forget the last strap or the settings.
    profiles[profile] = {**_entry(data, profile), **entries}
    path = _path()
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".preferences-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except OSError as exc:
        message = f"could not save the preferences to {path}: {exc}"
        raise StoreError(message, user_message=message) from exc
    return path


def remember_practice_rate(profile: str, breaths_per_min: float, *, source: str) -> Path:
    """Store ``breaths_per_min`` as the profile's practice rate; returns the file.

    Raises
    ------
    StoreError
        The file cannot be written.
    """
    return _update(profile, {"practice_breaths_per_min": breaths_per_min, "source": source})


def last_device(profile: str) -> str | None:
    """The source (``ble:ADDRESS``, ``sim``…) the profile's last session used, if any."""
    spec = _entry(_load(), profile).get("last_device")
    return spec if isinstance(spec, str) and spec.strip() else None


def remember_last_device(profile: str, spec: str) -> Path:
    """Remember ``spec`` (as `open_source` takes it) as the profile's last strap."""
    return _update(profile, {"last_device": spec})


Difficulty = Literal["easier", "standard", "harder"]
_MINUTES_RANGE: Final = (2.0, 60.0)  # a practice session (engine.PRACTICE_MINUTES)
_MAX_HOLD_S: Final = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class CoachSettings:
    """The desktop app's settings of one profile (validated: `ConfigError` when out of range).

    Attributes
    ----------
    breaths_per_min : float
        Pacer rate, 3–10 in steps of 0.1 (stored as the profile's practice rate).
    inhale_parts, exhale_parts : float
        Inhale:exhale ratio.
    hold_after_inhale_s, hold_after_exhale_s : float
        Holds, 0–10 s.
    shape : {"sine", "linear"}
    minutes : float
        Practice session length, 2–60 min.
    difficulty : {"easier", "standard", "harder"}
        How much it takes to reach medium and high feedback (`feedback_difficulty`).
    colour_blind_palette, large_text : bool
        How the window looks.
    """

    breaths_per_min: float = 6.0
    inhale_parts: float = 4.0
    exhale_parts: float = 6.0
    hold_after_inhale_s: float = 0.0
    hold_after_exhale_s: float = 0.0
    shape: PacerShape = "sine"
    minutes: float = 10.0
    difficulty: Difficulty = "standard"
    colour_blind_palette: bool = False
    large_text: bool = False

    def __post_init__(self) -> None:
        rate_on_grid(self.breaths_per_min)
        self.pacer()  # the pacer's own checks (ratio, holds, shape)
        low, high = _MINUTES_RANGE
        if not (math.isfinite(self.minutes) and low <= self.minutes <= high):
            raise ConfigError(f"a session lasts {low:g}–{high:g} minutes, got {self.minutes!r}")
        for hold in (self.hold_after_inhale_s, self.hold_after_exhale_s):
            if not (math.isfinite(hold) and 0.0 <= hold <= _MAX_HOLD_S):
                raise ConfigError(f"a hold lasts 0–{_MAX_HOLD_S:g} s, got {hold!r}")
        if self.difficulty not in get_args(Difficulty):
            raise ConfigError(
                f"difficulty is one of {', '.join(get_args(Difficulty))}, got {self.difficulty!r}"
            )

    def pacer(self) -> PacerSettings:
        """The pacer these settings describe."""
        return PacerSettings(
            breaths_per_min=self.breaths_per_min,
            inhale_parts=self.inhale_parts,
            exhale_parts=self.exhale_parts,
            hold_after_inhale_s=self.hold_after_inhale_s,
            hold_after_exhale_s=self.hold_after_exhale_s,
            shape=self.shape,
        )


def coach_settings(profile: str) -> CoachSettings:
    """The profile's saved settings; defaults for what is missing or no longer valid."""
    entry = _entry(_load(), profile)
    saved = entry.get("settings", {})
    fields = (
        {k: v for k, v in saved.items() if k in CoachSettings.__slots__}
        if isinstance(saved, dict)
        else {}
    )
    rate = practice_rate(profile)
    if rate is not None:
        fields["breaths_per_min"] = round(rate, 1)
    try:
        return CoachSettings(**fields)
    except (ConfigError, TypeError) as exc:  # an old or hand-edited file: say so, go on
        logger.warning("saved settings of %r not usable (%s); using defaults", profile, exc)
        return CoachSettings()


def remember_coach_settings(profile: str, settings: CoachSettings) -> Path:
    """Save ``settings`` for ``profile``; its pacer rate becomes the practice rate."""
    fields = asdict(settings)
    rate = fields.pop("breaths_per_min")
    return _update(
        profile,
        {"settings": fields, "practice_breaths_per_min": rate, "source": "settings"},
    )
