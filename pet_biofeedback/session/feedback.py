"""What a person is shown during a session: the feedback snapshot, its levels, signal quality.

The engine (`session/engine.py`) publishes one `FeedbackSnapshot` per beat; the Qt window and
the terminal view only display it. Three ideas live here:

* **Levels.** Coherence and RSA are shown as low / medium / high against `FeedbackLevels`
  (`session/feedback_levels.py`): fixed defaults until a person has three sessions, then
  levels from their own recent sessions, so feedback stays reachable and meaningful for people
  whose HRV is low — common in chronic pain (docs/hrv-methods.md §11).
* **Quality.** `QualityMonitor` decides, from contact, link, gaps and the share of corrected
  beats in the last 30 s, whether the numbers can be trusted. While they cannot, feedback is
  paused with one plain reason; it resumes by itself once the data is clean again.
* **Validity after trouble.** A coherence ratio covers the last 64 s and an RSA value one
  breath: after bad data they stay hidden until their whole window is clean, so no value
  computed over a dropout or a burst of artifacts is ever shown as valid.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass
from typing import Final

from pet_biofeedback.events import LinkState
from pet_biofeedback.session.feedback_levels import (
    FeedbackLevels,
    Level,
    LevelThresholds,
    feedback_levels_from,
)

__all__ = [
    "DEFAULT_LEVELS",
    "QUALITY_WINDOW_S",
    "FeedbackLevels",
    "FeedbackSnapshot",
    "Level",
    "Quality",
    "QualityMonitor",
    "level_of",
]


QUALITY_WINDOW_S: Final = 30.0  # corrected-beat share is judged over this span (issue #7)
MAX_CORRECTED_PCT: Final = 20.0  # more corrected beats than this in the window pauses feedback
# Two corrected beats this close together are a burst, not an isolated ectopic beat (which
# the corrector handles well): the data is bad from the first of them on.
BURST_SPAN_S: Final = 10.0
# A breath's RSA is shown only if at most this many of its beats were corrected.
MAX_CORRECTED_PER_BREATH: Final = 1
_KEEP_CORRECTED_S: Final = 120.0  # corrected-beat times kept for these checks
# A beat interval longer than this with no gap event is taken as lost beats (a strap that
# stops notifying shows up here before any watchdog fires).
MAX_BEAT_SILENCE_S: Final = 3.0

REASON_CONTACT: Final = (
    "The strap lost contact with the skin — moisten the electrodes and check it sits snugly."
)
REASON_LINK: Final = "The strap's connection dropped — reconnecting; keep breathing with the guide."
REASON_GAP: Final = "Some heartbeats were lost — waiting for a stretch of clean data."
REASON_ARTIFACTS: Final = (
    "Many irregular beats in the last 30 s ({pct:.0f} %) — sit still, relax your shoulders "
    "and check the strap."
)
REASON_NO_BEATS: Final = "No heartbeats yet — check that the strap is on and switched on."


DEFAULT_LEVELS: Final = feedback_levels_from(())


def level_of(value: float | None, thresholds: LevelThresholds) -> Level | None:
    """``value`` as low / medium / high; None when there is no valid value."""
    if value is None or not math.isfinite(value):
        return None
    return thresholds.level(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class Quality:
    """Can the numbers be trusted right now, and if not, why (plain words)."""

    ok: bool
    reason: str | None
    corrected_pct: float
    contact: bool | None
    link: LinkState | None
    clean_since_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackSnapshot:
    """Everything shown after one beat. None: not available or not valid now.

    Times are session time in s (the events' ``t``); heart rates in bpm; breathing in
    breaths/min. ``breathing_source`` says where the breathing rate comes from, in the words of
    `analyze`'s report: ``"acc"`` (chest movement), ``"ecg"`` (the ECG's R-wave amplitude) or
    ``"rr-estimate"`` (estimated from the heart rhythm itself, never compared with the pacer).
    """

    t_s: float
    elapsed_s: float
    remaining_s: float | None
    n_beats: int
    nn_ms: float
    hr_bpm: float
    rmssd_ms: float | None
    rsa_bpm: float | None
    rsa_level: Level | None
    coherence: float | None
    coherence_level: Level | None
    breathing_breaths_per_min: float | None
    breathing_source: str | None
    pacer_breaths_per_min: float | None
    breathing_matches_pacer: bool | None
    quality: Quality
    link: LinkState | None
    battery_pct: int | None
    levels: FeedbackLevels


class QualityMonitor:
    """Signal quality over the session (module docstring).

    Feed it what happens (`contact`, `link`, `gap`, `beat`); ask `quality(t_s)`. Bad data
    moves `clean_since_s` forward; a measure whose window starts before it is not valid.
    """

    def __init__(self) -> None:
        self._contact: bool | None = None
        self._link: LinkState | None = None
        self._beats: collections.deque[tuple[float, bool]] = collections.deque()
        self._n_corrected = 0
        self._gap_until_s = -math.inf
        self._clean_since_s = -math.inf
        self._last_beat_s: float | None = None
        self._corrected_t: collections.deque[float] = collections.deque()

    def contact(self, t_s: float, ok: bool) -> None:
        self._contact = ok
        if not ok:
            self._mark_bad(t_s)

    def link(self, t_s: float, state: LinkState) -> None:
        self._link = state
        if state not in (LinkState.CONNECTED, LinkState.STREAMING):
            self._mark_bad(t_s)

    def gap(self, t_s: float, seconds: float) -> None:
        """Data from ``t_s - seconds`` to ``t_s`` was lost."""
        self._gap_until_s = max(self._gap_until_s, t_s)
        self._mark_bad(t_s)

    def beat(self, t_s: float, corrected: bool) -> None:
        """One NN interval ending at ``t_s``; ``corrected`` when it is not the raw RR."""
        if self._last_beat_s is not None and t_s - self._last_beat_s > MAX_BEAT_SILENCE_S:
            self._gap_until_s = max(self._gap_until_s, t_s)
            self._mark_bad(t_s)
        self._last_beat_s = t_s
        self._beats.append((t_s, corrected))
        self._n_corrected += corrected
        while self._beats and self._beats[0][0] < t_s - QUALITY_WINDOW_S:
            _, old = self._beats.popleft()
            self._n_corrected -= old
        if corrected:
            previous = self._corrected_t[-1] if self._corrected_t else -math.inf
            self._corrected_t.append(t_s)
            if t_s - previous <= BURST_SPAN_S:
                self._mark_bad(previous)  # bad from the first beat of the burst on
        while self._corrected_t and self._corrected_t[0] < t_s - _KEEP_CORRECTED_S:
            self._corrected_t.popleft()
        if self.corrected_pct > MAX_CORRECTED_PCT:
            self._mark_bad(t_s)

    def breath_is_clean(self, t0_s: float, t1_s: float) -> bool:
        """True when the beats ending in ``(t0_s, t1_s]`` had at most one correction."""
        n = sum(1 for t in self._corrected_t if t0_s < t <= t1_s)
        return n <= MAX_CORRECTED_PER_BREATH and t0_s >= self._clean_since_s

    @property
    def corrected_pct(self) -> float:
        return 100.0 * self._n_corrected / len(self._beats) if self._beats else 0.0

    def quality(self, t_s: float) -> Quality:
        reason = self._reason(t_s)
        return Quality(
            ok=reason is None,
            reason=reason,
            corrected_pct=self.corrected_pct,
            contact=self._contact,
            link=self._link,
            clean_since_s=self._clean_since_s,
        )

    def _reason(self, t_s: float) -> str | None:
        if self._contact is False:
            return REASON_CONTACT
        if self._link is not None and self._link not in (LinkState.CONNECTED, LinkState.STREAMING):
            return REASON_LINK
        if self._last_beat_s is None:
            return REASON_NO_BEATS
        pct = self.corrected_pct
        if pct > MAX_CORRECTED_PCT:
            return REASON_ARTIFACTS.format(pct=pct)
        # after a gap, wait until the quality window holds no lost data
        if t_s - self._gap_until_s < QUALITY_WINDOW_S / 3:
            return REASON_GAP
        return None

    def _mark_bad(self, t_s: float) -> None:
        self._clean_since_s = max(self._clean_since_s, t_s)
