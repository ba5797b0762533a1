"""The measured breathing in plain words: how fast, and where the rate comes from.

The engine's snapshot and a session's summary carry ``breathing_source`` in the words of
`analyze`'s report (``"acc"``, ``"ecg"``, ``"rr-estimate"``); a person is told what that means.
The window's card, the terminal view and the summary page all use these words, so they agree.
"""

from __future__ import annotations

import math
from typing import Final

__all__ = ["breathing_source_words", "breathing_text"]

_SOURCE_WORDS: Final = {
    "acc": "from chest movement",
    "ecg": "from the ECG",
    "rr-estimate": "estimated from heart rhythm",
}


def breathing_source_words(source: str | None) -> str | None:
    """``"from chest movement"`` etc. for a ``breathing_source``; None when unknown or None."""
    return None if source is None else _SOURCE_WORDS.get(source)


def breathing_text(breaths_per_min: float | None, source: str | None) -> str:
    """``"6.0/min — from chest movement"``; ``"—"`` while there is no breathing rate."""
    if breaths_per_min is None or not math.isfinite(breaths_per_min):
        return "—"
    words = breathing_source_words(source)
    rate = f"{breaths_per_min:.1f}/min"
    return rate if words is None else f"{rate} — {words}"
