"""The pacer of a recorded session, rebuilt from its `PacerPhase` events.

A session's pacer is a pure function of its recorded changes (docs/design.md §6), so a report
or a replay can draw the exact target wave and breath onsets the person saw. The engine starts
a fresh `Pacer` whenever pacing (re)starts and switches it with `Pacer.change` otherwise; a
`PacerPhase` with ``breaths_per_min`` 0 stops it (a rest). This module replays those rules.
Older recordings lack ``hold_after_inhale_s``, ``position`` and ``shape``; the event's
defaults (no hold, a sine guide) stand in for them. A missing ``position`` reads as 0.0: at a
(re)start that is what the engine does (a fresh breath at ``t``); at a change of a running
pacer the change is remapped exactly as the engine did when it recorded it (`Pacer.change`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from pet_biofeedback.errors import ConfigError
from pet_biofeedback.events import PacerPhase
from pet_biofeedback.session.engine import settings_from_event
from pet_biofeedback.session.pacer import Pacer
from pet_biofeedback.signal._typing import FloatArray

__all__ = ["PacerSpan", "PacerTrack", "pacer_track"]

# An onset computed at a (re)start or a stop may miss its time by float rounding.
_ONSET_TOLERANCE_S: Final = 1e-9


@dataclass(frozen=True, slots=True)
class PacerSpan:
    """One stretch of pacing: the pacer runs on ``[t_on_s, t_off_s)`` (s, session time)."""

    t_on_s: float
    t_off_s: float
    pacer: Pacer


@dataclass(frozen=True, slots=True)
class PacerTrack:
    """Every stretch of pacing of a session, in time order, and what could not be used."""

    spans: tuple[PacerSpan, ...]
    n_unusable: int = 0  # recorded changes with settings no pacer accepts (a damaged file)

    def guide(self, t_s: npt.ArrayLike) -> FloatArray:
        """Lung fill in [0, 1] at ``t_s`` (any shape); NaN where the pacer was off."""
        t = np.asarray(t_s, dtype=np.float64)
        out = np.full(t.shape, np.nan)
        for span in self.spans:  # one pass per stretch of pacing, a handful per session
            inside = (t >= span.t_on_s) & (t < span.t_off_s)
            if np.any(inside):
                out[inside] = span.pacer.guide(t[inside])
        return out

    def rate_breaths_per_min(self, t_s: npt.ArrayLike) -> FloatArray:
        """The pacer's rate at ``t_s`` (any shape), breaths/min; NaN where it was off."""
        t = np.asarray(t_s, dtype=np.float64)
        out = np.full(t.shape, np.nan)
        for span in self.spans:
            changes = span.pacer.changes
            starts = np.array([c.t_s for c in changes])
            rates = np.array([c.settings.breaths_per_min for c in changes])
            inside = (t >= span.t_on_s) & (t < span.t_off_s)
            idx = np.maximum(np.searchsorted(starts, t[inside], side="right") - 1, 0)
            out[inside] = rates[idx]
        return out

    def breath_starts(self, t0_s: float, t1_s: float) -> FloatArray:
        """Paced inhalation onsets in ``(t0_s, t1_s]``, s, ascending.

        A stretch of pacing owns ``[t_on_s, t_off_s)``: a (re)start at an inhalation onset is
        a breath, an onset exactly at a stop is not.
        """
        found = []
        for span in self.spans:
            lo, hi = max(t0_s, span.t_on_s), min(t1_s, span.t_off_s)
            raw = span.pacer.breath_starts(lo - _ONSET_TOLERANCE_S, hi)
            keep = (
                (raw > t0_s)
                & (raw <= t1_s)
                & (raw >= span.t_on_s - _ONSET_TOLERANCE_S)
                & (raw < span.t_off_s - _ONSET_TOLERANCE_S)
            )
            found.append(raw[keep])
        onsets = np.concatenate(found) if found else np.empty(0)
        return np.asarray(np.unique(onsets), dtype=np.float64)

    @property
    def rates_breaths_per_min(self) -> tuple[float, ...]:
        """The rates paced, in the order first used, each once (breaths/min)."""
        rates: list[float] = []
        for span in self.spans:
            for change in span.pacer.changes:
                rate = round(change.settings.breaths_per_min, 2)  # not float noise
                if rate not in rates:
                    rates.append(rate)
        return tuple(rates)

    @property
    def first_rate_breaths_per_min(self) -> float | None:
        """The rate the session's pacing started with; None when it never paced."""
        if not self.spans:
            return None
        return self.spans[0].pacer.changes[0].settings.breaths_per_min


def pacer_track(events: Iterable[PacerPhase], t_end_s: float) -> PacerTrack:
    """The pacer of a session from its `PacerPhase` events (in time order) up to ``t_end_s``.

    Raises nothing for odd recordings: a change whose settings no pacer accepts (a damaged
    or hand-edited file) ends the current stretch and is counted in ``n_unusable``.
    """
    spans: list[PacerSpan] = []
    current: Pacer | None = None
    t_on = math.nan
    n_unusable = 0
    for event in events:
        try:
            settings = settings_from_event(event)
        except ConfigError:
            settings = None
            n_unusable += 1
        if settings is None:
            if current is not None:
                spans.append(PacerSpan(t_on, event.t, current))
            current = None
            continue
        if current is None:
            # as the engine does: a fresh pacer, at the recorded point of its breath
            fraction = event.position % 1.0 if math.isfinite(event.position) else 0.0
            current = Pacer(settings, t_start_s=event.t - fraction * settings.period_s)
            t_on = event.t
        else:
            # Position 0.0 is the field's default, what recordings without it read as; a
            # running pacer is never at breath 0.0 after its start, so 0.0 means "not
            # recorded" and the change is remapped as the engine does when recording it.
            position = event.position if event.position != 0.0 else None
            try:
                current.change(event.t, settings, position=position)
            except ConfigError:  # out of time order: not something the engine records
                n_unusable += 1
    if current is not None:
        spans.append(PacerSpan(t_on, max(t_end_s, t_on), current))
    return PacerTrack(spans=tuple(spans), n_unusable=n_unusable)
