"""One row of the session history, and the rules for profile names (issue 7).

A profile is one person's history (a therapist demonstrating on their own strap keeps a
profile of their own). Profile names are free text typed by people: they are checked
(`validate_profile_name`), stored as given, and never used in file paths.

Ratings, notes and profile names are personal: nothing here logs them above DEBUG.
This module imports only the standard library and `pet_biofeedback.errors`.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Final, Literal, get_args

from pet_biofeedback.errors import ConfigError

__all__ = [
    "DEFAULT_PROFILE",
    "PROFILE_NAME_MAX_CHARS",
    "PROTOCOLS",
    "RATING_MAX",
    "RATING_MIN",
    "Protocol",
    "SessionRecord",
    "validate_profile_name",
]

DEFAULT_PROFILE: Final = "default"
PROFILE_NAME_MAX_CHARS: Final = 64  # issue 7: "validate length (1–64)"
RATING_MIN: Final = 0.0  # pain and mood are rated 0–10 (issue 7)
RATING_MAX: Final = 10.0

# "recording" is what a recording without a protocol in its header (made by `record`) is
# indexed as; the engine writes one of the other three.
Protocol = Literal["practice", "baseline", "assessment", "recording"]
PROTOCOLS: Final[tuple[str, ...]] = get_args(Protocol)

# Characters refused in a profile name: control characters (Cc), format characters (Cf: bidi
# overrides can make a name display as another), surrogates (Cs: undecodable command-line
# bytes arrive as these and cannot be stored as UTF-8), line and paragraph separators.
_REFUSED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# …except the zero-width (non-)joiners, which Persian and Indic scripts need in names.
_ALLOWED_FORMAT_CHARS: Final = frozenset({"\u200c", "\u200d"})


def validate_profile_name(name: str) -> str:
    """Check a profile name typed by a person and return it stripped.

    Parameters
    ----------
    name : str
        The name as typed.

    Returns
    -------
    str
        ``name`` without leading and trailing whitespace, otherwise as given (no case
        folding or normalisation: it is stored and shown as typed).

    Raises
    ------
    ConfigError
        Empty after stripping, longer than `PROFILE_NAME_MAX_CHARS` characters, or containing
        a control or invisible formatting character. The message does not repeat the name.
    """
    stripped = name.strip()
    if not stripped:
        raise ConfigError(
            "a profile name cannot be empty",
            user_message="The profile name is empty. Type a name, for example your first name.",
        )
    if len(stripped) > PROFILE_NAME_MAX_CHARS:
        raise ConfigError(
            f"a profile name has at most {PROFILE_NAME_MAX_CHARS} characters, got {len(stripped)}",
            user_message=f"The profile name is too long: use at most "
            f"{PROFILE_NAME_MAX_CHARS} characters.",
        )
    for position, ch in enumerate(stripped, start=1):
        if unicodedata.category(ch) in _REFUSED_CATEGORIES and ch not in _ALLOWED_FORMAT_CHARS:
            raise ConfigError(
                f"a profile name cannot contain control characters "
                f"(U+{ord(ch):04X} at character {position})",
                user_message="The profile name contains a control character (such as a tab, "
                "a line break or an invisible formatting mark). Use letters, digits, spaces "
                "and punctuation only.",
            )
    return stripped


def _finite_or_none(value: float | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionRecord:
    """One session in the history: what was done, how it went, and how the person felt.

    Every field must also be in the session's recording (header settings or `Rating`
    events), because the history is only an index that `HistoryStore.rebuild` restores from
    the recordings (design.md §5).

    Attributes
    ----------
    started_at : datetime
        Wall-clock start, timezone-aware (its UTC offset is the person's local time, which
        decides the practice day).
    profile : str
        Whose session (`validate_profile_name`); default `DEFAULT_PROFILE`.
    protocol : {"practice", "baseline", "assessment", "recording"}
    settings : Mapping
        JSON-serialisable session settings (pacer rate, ratio, minutes planned, …).
    device : Mapping
        JSON-serialisable description of the strap (model, name, …).
    recording : str or None
        Path of the recording file.
    minutes : float or None
        Length of the session, minutes.
    pacer_breaths_per_min : float or None
        The pacer's rate (``rate_bpm`` in the JSON output, which means breaths per minute).
    mean_hr_bpm, start_hr_bpm : float or None
        Mean heart rate of the whole session and of its first minutes, beats per minute.
    rmssd_ms : float or None
    coherence : float or None
        Coherence ratio (hrv-methods.md §6.1), no unit.
    rsa_bpm : float or None
        Peak-to-trough heart-rate swing per breath (hrv-methods.md §6.2), beats per minute.
    breathing_breaths_per_min : float or None
        Measured breathing rate.
    pain_before, pain_after, mood_before, mood_after : float or None
        The person's ratings, 0–10, each optional.
    note : str
        Free text; empty when none.
    id : int or None
        The row id, set by the store (None for a record not stored yet).

    Raises
    ------
    ConfigError
        ``started_at`` without a UTC offset, an unknown protocol, a bad profile name, or a
        rating outside 0–10. Non-finite measures become None.
    """

    started_at: datetime
    profile: str = DEFAULT_PROFILE
    protocol: Protocol = "practice"
    settings: Mapping[str, object] = field(default_factory=dict)
    device: Mapping[str, object] = field(default_factory=dict)
    recording: str | None = None
    minutes: float | None = None
    pacer_breaths_per_min: float | None = None
    mean_hr_bpm: float | None = None
    start_hr_bpm: float | None = None
    rmssd_ms: float | None = None
    coherence: float | None = None
    rsa_bpm: float | None = None
    breathing_breaths_per_min: float | None = None
    pain_before: float | None = None
    pain_after: float | None = None
    mood_before: float | None = None
    mood_after: float | None = None
    note: str = ""
    id: int | None = None

    def __post_init__(self) -> None:
        if self.started_at.tzinfo is None or self.started_at.utcoffset() is None:
            raise ConfigError(f"started_at must carry a UTC offset, got {self.started_at!r}")
        if self.protocol not in PROTOCOLS:
            raise ConfigError(
                f"unknown protocol {self.protocol!r}; expected one of {', '.join(PROTOCOLS)}"
            )
        # Frozen: normalised values are set once, here.
        object.__setattr__(self, "profile", validate_profile_name(self.profile))
        for name in (
            "minutes",
            "pacer_breaths_per_min",
            "mean_hr_bpm",
            "start_hr_bpm",
            "rmssd_ms",
            "coherence",
            "rsa_bpm",
            "breathing_breaths_per_min",
        ):
            object.__setattr__(self, name, _finite_or_none(getattr(self, name)))
        for name in ("pain_before", "pain_after", "mood_before", "mood_after"):
            value = _finite_or_none(getattr(self, name))
            if value is None and getattr(self, name) is not None:
                raise ConfigError(f"{name} must be a number from 0 to 10")
            if value is not None and not RATING_MIN <= value <= RATING_MAX:
                # The value itself is personal: not in the message.
                raise ConfigError(f"{name} must be from 0 to 10")
            object.__setattr__(self, name, value)

    @property
    def local_date(self) -> date:
        """The day of the session in the person's local time (its recorded UTC offset)."""
        return self.started_at.date()
