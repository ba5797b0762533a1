"""Feedback difficulty: a person's choice of how much it takes to reach medium and high.

The settings offer "easier", "standard" and "harder" (issue 8). They scale both thresholds of
coherence and RSA (`feedback_levels`) by one factor, so an adapted profile stays adapted and
only the bar moves; "standard" leaves the levels as they are.
"""

from __future__ import annotations

import dataclasses
from typing import Final

from pet_biofeedback.session.feedback_levels import FeedbackLevels, LevelThresholds
from pet_biofeedback.session.preferences import Difficulty

__all__ = ["DIFFICULTY_FACTORS", "with_difficulty"]

# A quarter lower or higher: one step is noticeable within a session without making "high"
# unreachable or trivial (the adapted thresholds already sit at the person's terciles).
DIFFICULTY_FACTORS: Final[dict[Difficulty, float]] = {
    "easier": 0.75,
    "standard": 1.0,
    "harder": 1.25,
}


def _scaled(t: LevelThresholds, factor: float, difficulty: Difficulty) -> LevelThresholds:
    return dataclasses.replace(
        t, low=t.low * factor, high=t.high * factor, source=f"{t.source}, {difficulty}"
    )


def with_difficulty(levels: FeedbackLevels, difficulty: Difficulty) -> FeedbackLevels:
    """``levels`` with both thresholds of each measure scaled by the difficulty's factor."""
    factor = DIFFICULTY_FACTORS[difficulty]
    if factor == 1.0:
        return levels
    return FeedbackLevels(
        coherence=_scaled(levels.coherence, factor, difficulty),
        rsa_bpm=_scaled(levels.rsa_bpm, factor, difficulty),
    )
