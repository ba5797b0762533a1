"""The heart-rate picture of a session, as ready arrays for a view.

The classic HRV-biofeedback picture is the heart-rate curve over the last minute or two with the
pacer's target wave behind it: when breathing is at resonance the heart rate rises with every
inhalation and falls with every exhalation, in step with the wave. `SessionTrace` keeps the beats
in a fixed-size ring (bounded memory, whatever the session length) and turns them, the pacer and
the measured breath onsets into arrays a plot only has to draw (style.md §2.9: widgets compute
nothing).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np

from pet_biofeedback.session.engine import SessionEngine
from pet_biofeedback.session.feedback import FeedbackSnapshot
from pet_biofeedback.signal._typing import FloatArray

__all__ = ["TRACE_SPAN_S", "SessionClock", "SessionTrace", "TraceArrays"]

TRACE_SPAN_S: Final = 90.0  # the plot shows the last minute and a half (9 breaths at 6/min)
TARGET_SAMPLES_PER_S: Final = 10  # the target wave is smooth at this density
_RING_BEATS: Final = 512  # beats kept: ≥ TRACE_SPAN_S even at 300 bpm
_MIN_SWING_BPM: Final = 6.0  # the target wave spans at least this many bpm on the plot
# The display clock follows the events' times; it is re-anchored to them when it has drifted
# further than this (a replay paused by a slow disk, a strap's late packet).
_MAX_CLOCK_DRIFT_S: Final = 2.0


class SessionClock:
    """Session time "now" for a display, between the events that carry session time.

    A display asks 60 times a second; events arrive about once a second, and a strap's RR event
    is stamped with its last beat, up to a second in the past. So the clock runs on the
    monotonic clock (times ``speed``), anchored at the first event, re-anchored only when it
    drifts more than `_MAX_CLOCK_DRIFT_S` from the events, and never runs backwards. At
    ``speed`` infinity (as fast as possible) it simply shows the latest event's time.
    """

    def __init__(self, speed: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._speed = speed
        self._clock = clock
        self._anchor: tuple[float, float] | None = None
        self._latest_s = 0.0
        self._shown_s = -math.inf

    def seen(self, t_s: float) -> None:
        """An event with session time ``t_s`` arrived."""
        self._latest_s = max(self._latest_s, t_s)
        if self._anchor is None or abs(self._extrapolated() - self._latest_s) > _MAX_CLOCK_DRIFT_S:
            self._anchor = (self._latest_s, self._clock())

    def now(self) -> float:
        value = self._extrapolated() if self._anchor is not None else 0.0
        self._shown_s = max(self._shown_s, value)
        return self._shown_s

    def _extrapolated(self) -> float:
        assert self._anchor is not None
        if math.isinf(self._speed):
            return self._latest_s
        t_s, wall_s = self._anchor
        return t_s + (self._clock() - wall_s) * self._speed


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceArrays:
    """What the heart-rate plot draws; times in s of session time, rates in bpm."""

    t_s: FloatArray
    hr_bpm: FloatArray
    target_t_s: FloatArray
    target_bpm: FloatArray
    onset_t_s: FloatArray
    t_start_s: float
    t_end_s: float


class SessionTrace:
    """Beats of the engine's snapshots in a ring, and the target wave of its pacer."""

    def __init__(self, engine: SessionEngine, *, span_s: float = TRACE_SPAN_S) -> None:
        self._engine = engine
        self.span_s = span_s
        self._t = np.full(_RING_BEATS, math.nan)
        self._hr = np.full(_RING_BEATS, math.nan)
        self._n = 0
        engine.subscribe(self.on_snapshot)

    def on_snapshot(self, snapshot: FeedbackSnapshot) -> None:
        k = self._n % _RING_BEATS
        self._t[k] = snapshot.t_s
        self._hr[k] = snapshot.hr_bpm
        self._n += 1

    def arrays(self, now_s: float) -> TraceArrays:
        """The picture up to ``now_s``: the last `span_s` of beats and the target wave."""
        t0 = now_s - self.span_s
        order = np.argsort(self._t[: min(self._n, _RING_BEATS)])
        t, hr = self._t[order], self._hr[order]
        keep = t >= t0
        t, hr = t[keep], hr[keep]
        pacer = self._engine.pacer
        if pacer is None or self._engine.pacer_state(now_s) is None:
            empty = np.empty(0)
            return TraceArrays(
                t_s=t,
                hr_bpm=hr,
                target_t_s=empty,
                target_bpm=empty,
                onset_t_s=empty,
                t_start_s=t0,
                t_end_s=now_s,
            )
        target_t = np.linspace(t0, now_s, int(self.span_s * TARGET_SAMPLES_PER_S) + 1)
        guide = pacer.guide(target_t)
        if hr.size >= 2:
            low, high = float(np.percentile(hr, 5)), float(np.percentile(hr, 95))
        else:
            low = high = float(hr[0]) if hr.size else 60.0
        mid, swing = (low + high) / 2, max(high - low, _MIN_SWING_BPM)
        # the wave fills the heart rate's range: the eye compares shapes, not values
        target = mid - swing / 2 + swing * guide
        return TraceArrays(
            t_s=t,
            hr_bpm=hr,
            target_t_s=target_t,
            target_bpm=target,
            onset_t_s=pacer.breath_starts(t0, now_s),
            t_start_s=t0,
            t_end_s=now_s,
        )
