"""Feedback levels that adapt to the person (issue 7).

Coherence and RSA are shown as low / medium / high against two thresholds. Until a profile
has `MIN_OWN_SESSIONS` practice sessions with the measure, the thresholds are fixed defaults;
after that they are the terciles of the session means of the profile's last
`RECENT_SESSIONS` practice sessions, clamped to sensible bounds, so "high" means "good for
you lately" rather than an athlete's number (hrv-methods.md §11: chronic-pain patients often
have low HRV). Pure functions over history rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np

from pet_biofeedback.session.history_record import SessionRecord

__all__ = [
    "COHERENCE_BOUNDS",
    "COHERENCE_DEFAULTS",
    "MIN_OWN_SESSIONS",
    "RECENT_SESSIONS",
    "RSA_BOUNDS_BPM",
    "RSA_DEFAULTS_BPM",
    "FeedbackLevels",
    "Level",
    "LevelThresholds",
    "feedback_levels_from",
]

Level = Literal["low", "medium", "high"]

# hrv-methods.md §6.1: product guidance "0.5 = basic, 2.0 = very good" for the coherence
# ratio's scale; below 1 is typical of spontaneous breathing, above 1 of a clean resonance peak.
COHERENCE_DEFAULTS: Final = (0.5, 2.0)
# hrv-methods.md §6.2: Every Breath You Take's bands are 50 and 150 ms of max − min RR per
# breath; at 60 bpm (RR 1000 ms) that swing is 60000 · ΔRR / RR² ≈ 3 and 9 bpm peak-to-trough.
RSA_DEFAULTS_BPM: Final = (3.0, 9.0)
# Adapted thresholds stay within these (low threshold range, high threshold range).
COHERENCE_BOUNDS: Final = ((0.25, 1.0), (0.75, 4.0))
RSA_BOUNDS_BPM: Final = ((1.5, 6.0), (4.0, 18.0))
MIN_HIGH_OVER_LOW: Final = 1.25  # "high" stays clearly above "low" even for very even sessions
MIN_OWN_SESSIONS: Final = 3  # issue 7: "fixed defaults until there are three"
RECENT_SESSIONS: Final = 10
_TERCILES: Final = (1.0 / 3.0, 2.0 / 3.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class LevelThresholds:
    """Two thresholds splitting a measure into low / medium / high.

    Attributes
    ----------
    low, high : float
        ``value < low`` is low, ``value >= high`` is high, medium in between.
    source : str
        Where they came from, for people: ``"defaults"`` or ``"your last N sessions"``.
    n_sessions : int
        Sessions they were computed from (0 for the defaults).
    """

    low: float
    high: float
    source: str
    n_sessions: int

    def level(self, value: float) -> Level | None:
        """The level of ``value``; None for NaN (no value yet)."""
        if value != value:  # NaN
            return None
        if value < self.low:
            return "low"
        return "high" if value >= self.high else "medium"


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackLevels:
    """Thresholds for the live feedback of one profile.

    Attributes
    ----------
    coherence : LevelThresholds
        For the coherence ratio (hrv-methods.md §6.1), no unit.
    rsa_bpm : LevelThresholds
        For the peak-to-trough RSA (hrv-methods.md §6.2), beats per minute.
    """

    coherence: LevelThresholds
    rsa_bpm: LevelThresholds


def _thresholds(
    values: Sequence[float | None],
    defaults: tuple[float, float],
    bounds: tuple[tuple[float, float], tuple[float, float]],
) -> LevelThresholds:
    """Terciles of the last `RECENT_SESSIONS` values (oldest first; None skipped)."""
    present = np.asarray([v for v in values if v is not None], dtype=np.float64)
    recent = present[-RECENT_SESSIONS:]
    if recent.size < MIN_OWN_SESSIONS:
        return LevelThresholds(low=defaults[0], high=defaults[1], source="defaults", n_sessions=0)
    q_low, q_high = np.quantile(recent, _TERCILES)
    low = float(np.clip(q_low, *bounds[0]))
    high = float(np.clip(max(q_high, low * MIN_HIGH_OVER_LOW), *bounds[1]))
    high = max(high, low * MIN_HIGH_OVER_LOW)  # the clip may have pulled it down again
    return LevelThresholds(
        low=low, high=high, source=f"your last {recent.size} sessions", n_sessions=recent.size
    )


def feedback_levels_from(sessions: Sequence[SessionRecord]) -> FeedbackLevels:
    """Feedback levels from one profile's sessions.

    Parameters
    ----------
    sessions : sequence of SessionRecord
        The profile's sessions, oldest first (`HistoryStore.sessions`); only practice
        sessions count.

    Returns
    -------
    FeedbackLevels
        Per measure: the terciles of the last `RECENT_SESSIONS` practice sessions that have
        it, clamped to `COHERENCE_BOUNDS` / `RSA_BOUNDS_BPM` (and ``high >= 1.25 · low``); the
        defaults `COHERENCE_DEFAULTS` / `RSA_DEFAULTS_BPM` while fewer than
        `MIN_OWN_SESSIONS` have it.
    """
    practice = [s for s in sessions if s.protocol == "practice"]
    return FeedbackLevels(
        coherence=_thresholds(
            [s.coherence for s in practice], COHERENCE_DEFAULTS, COHERENCE_BOUNDS
        ),
        rsa_bpm=_thresholds([s.rsa_bpm for s in practice], RSA_DEFAULTS_BPM, RSA_BOUNDS_BPM),
    )
