"""The breathing pacer: a pure function of session time and its settings.

The guide a person follows is the "lung fill" ``guide`` in [0, 1]: it rises from 0 to 1 during
the inhalation, stays at 1 during an optional hold after inhaling, falls back to 0 during the
exhalation and stays at 0 during an optional hold after exhaling. One breath lasts
``60 / breaths_per_min`` s; holds are taken out of that period, the rest is split between
inhalation and exhalation by the ratio (e.g. 4:6) or given in seconds.

Time, not ticks: the pacer never counts frames. Its *breath position* (breaths since the start,
a float whose integer values are inhalation onsets) is piecewise linear in time, one piece per
settings change, so the guide at any time is computed directly from the time the caller passes
(the session's monotonic clock). A display asking 60 times a second, a replay asking once per
beat and a test asking after an hour all get the same answer; nothing drifts (docs/design.md §6).

Changing the rate, ratio, holds or shape mid-breath keeps the guide continuous: at the moment of
the change the new settings take over at the point of their cycle where the guide has the same
value in the same part of the breath (same height while inhaling, same height while exhaling,
same fraction of a hold), so the shape on screen never jumps; only its speed changes. The breath
count is unchanged by a change, so breath boundaries keep their numbering.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Final, Literal, get_args

import numpy as np
import numpy.typing as npt

from pet_biofeedback.errors import ConfigError
from pet_biofeedback.signal._typing import FloatArray

__all__ = [
    "MAX_BREATHS_PER_MIN",
    "MIN_BREATHS_PER_MIN",
    "MIN_PHASE_S",
    "RATE_STEP_BREATHS_PER_MIN",
    "BreathPart",
    "Pacer",
    "PacerChange",
    "PacerSettings",
    "PacerShape",
    "PacerState",
    "parse_ratio",
    "rate_on_grid",
]

MIN_BREATHS_PER_MIN: Final = 3.0  # slowest pacing offered (issue #7)
MAX_BREATHS_PER_MIN: Final = 10.0  # fastest pacing offered
RATE_STEP_BREATHS_PER_MIN: Final = 0.1  # rates are chosen in these steps
MIN_PHASE_S: Final = 1.0  # an inhalation or exhalation shorter than this cannot be followed
_FRACTION_MARGIN: Final = 1e-9  # a cycle fraction stays this far below 1 (a breath's end)
_RATE_GRID_TOLERANCE: Final = 1e-6  # how far from the 0.1 grid a rate may be (float rounding)

PacerShape = Literal["sine", "linear"]
BreathPart = Literal["inhale", "hold_in", "exhale", "hold_out"]


def parse_ratio(text: str) -> tuple[float, float]:
    """``"4:6"`` → ``(4.0, 6.0)``: inhalation and exhalation parts, both positive."""
    parts = text.strip().split(":")
    try:
        inhale, exhale = (float(p) for p in parts)
    except ValueError:
        raise ConfigError(
            f"breathing ratio {text!r} is not two numbers like 4:6 (inhale:exhale)"
        ) from None
    if not (math.isfinite(inhale) and math.isfinite(exhale) and inhale > 0 and exhale > 0):
        raise ConfigError(f"breathing ratio {text!r} needs two positive numbers, like 4:6")
    return inhale, exhale


def rate_on_grid(breaths_per_min: float) -> float:
    """A rate a person chose: 3–10 breaths/min in steps of 0.1, returned rounded to the step.

    Raises
    ------
    ConfigError
        Outside the range or between steps (e.g. 5.55).
    """
    rate = float(breaths_per_min)
    steps = rate / RATE_STEP_BREATHS_PER_MIN
    if not math.isfinite(steps) or abs(steps - round(steps)) > _RATE_GRID_TOLERANCE:
        raise ConfigError(
            f"the pacer rate is set in steps of {RATE_STEP_BREATHS_PER_MIN:g} breaths/min "
            f"(like 5.5 or 6), got {breaths_per_min!r}"
        )
    rounded = round(steps) * RATE_STEP_BREATHS_PER_MIN
    PacerSettings(breaths_per_min=rounded)  # the range check, with its message
    return round(rounded, 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class PacerSettings:
    """How the pacer breathes.

    Parameters
    ----------
    breaths_per_min : float, default 6.0
        Breathing rate, 3–10 breaths/min. People choose it in steps of 0.1 (`rate_on_grid`);
        rates that follow from phases given in seconds (`from_seconds`) may lie between.
    inhale_parts, exhale_parts : float, default 4.0 and 6.0
        The inhale:exhale ratio; only their proportion matters.
    hold_after_inhale_s, hold_after_exhale_s : float, default 0.0
        Pauses with full and with empty lungs, s, taken out of the breath's period.
    shape : {"sine", "linear"}, default "sine"
        How the guide moves within an inhalation or exhalation: a half cosine (slow at the
        turns, as breathing is) or at constant speed.

    Raises
    ------
    ConfigError
        A rate outside 3–10 breaths/min, a non-positive ratio, a negative
        hold, an unknown shape, or holds that leave less than `MIN_PHASE_S` to breathe in or
        out.
    """

    breaths_per_min: float = 6.0
    inhale_parts: float = 4.0
    exhale_parts: float = 6.0
    hold_after_inhale_s: float = 0.0
    hold_after_exhale_s: float = 0.0
    shape: PacerShape = "sine"

    def __post_init__(self) -> None:
        rate = self.breaths_per_min
        if not (
            isinstance(rate, int | float)
            and math.isfinite(rate)
            and MIN_BREATHS_PER_MIN - _RATE_GRID_TOLERANCE
            <= rate
            <= MAX_BREATHS_PER_MIN + _RATE_GRID_TOLERANCE
        ):
            raise ConfigError(
                f"pacer rate must be {MIN_BREATHS_PER_MIN:g}–{MAX_BREATHS_PER_MIN:g} "
                f"breaths/min, got {rate!r}"
            )
        for name in ("inhale_parts", "exhale_parts"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ConfigError(f"pacer {name.replace('_', ' ')} must be positive, got {value!r}")
        for name in ("hold_after_inhale_s", "hold_after_exhale_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ConfigError(
                    f"pacer {name.removesuffix('_s').replace('_', ' ')} must be 0 s or more, "
                    f"got {value!r}"
                )
        if self.shape not in get_args(PacerShape):
            raise ConfigError(
                f"pacer shape must be one of {', '.join(get_args(PacerShape))}, got {self.shape!r}"
            )
        if min(self.inhale_s, self.exhale_s) < MIN_PHASE_S - 1e-9:
            raise ConfigError(
                f"at {rate:g} breaths/min the holds leave {self.inhale_s:.1f} s to breathe in "
                f"and {self.exhale_s:.1f} s to breathe out; each needs at least "
                f"{MIN_PHASE_S:g} s"
            )

    @classmethod
    def from_seconds(
        cls,
        inhale_s: float,
        exhale_s: float,
        *,
        hold_after_inhale_s: float = 0.0,
        hold_after_exhale_s: float = 0.0,
        shape: PacerShape = "sine",
    ) -> PacerSettings:
        """Settings from phase lengths in s; the rate follows from their sum."""
        total_s = inhale_s + exhale_s + hold_after_inhale_s + hold_after_exhale_s
        if not (math.isfinite(total_s) and total_s > 0):
            raise ConfigError(
                f"pacer phases must be positive seconds, got {inhale_s!r}/{exhale_s!r}"
            )
        return cls(
            breaths_per_min=60.0 / total_s,
            inhale_parts=inhale_s,
            exhale_parts=exhale_s,
            hold_after_inhale_s=hold_after_inhale_s,
            hold_after_exhale_s=hold_after_exhale_s,
            shape=shape,
        )

    @property
    def period_s(self) -> float:
        """Length of one breath, s."""
        return 60.0 / self.breaths_per_min

    @property
    def _breathing_s(self) -> float:
        return self.period_s - self.hold_after_inhale_s - self.hold_after_exhale_s

    @property
    def inhale_s(self) -> float:
        """Inhalation time, s."""
        parts = self.inhale_parts / (self.inhale_parts + self.exhale_parts)
        return self._breathing_s * parts

    @property
    def exhale_s(self) -> float:
        """Exhalation time, s."""
        parts = self.exhale_parts / (self.inhale_parts + self.exhale_parts)
        return self._breathing_s * parts

    def _bounds(self) -> tuple[float, float, float]:
        """Cycle fractions where the inhalation, the first hold and the exhalation end."""
        period = self.period_s
        a = self.inhale_s / period
        b = a + self.hold_after_inhale_s / period
        c = b + self.exhale_s / period
        return a, b, c


@dataclass(frozen=True, slots=True, kw_only=True)
class PacerChange:
    """From ``t_s`` on the pacer breathes with ``settings``, at breath position ``position``.

    ``position`` is the number of breaths since the pacer started (integer values are
    inhalation onsets); its fractional part is where in the new settings' cycle the pacer is.
    """

    t_s: float
    position: float
    settings: PacerSettings

    @property
    def cycle_fraction(self) -> float:
        """Where in the breath the change happened, 0 at an inhalation onset, < 1."""
        return self.position - math.floor(self.position)


@dataclass(frozen=True, slots=True, kw_only=True)
class PacerState:
    """The pacer at one moment, ready to draw.

    Attributes
    ----------
    t_s : float
        Session time, s.
    breath_index : int
        Breaths begun since the pacer started, counting from 0.
    part : {"inhale", "hold_in", "exhale", "hold_out"}
        What the person should be doing.
    guide : float
        Lung fill in [0, 1]: 0 empty (before an inhalation), 1 full.
    part_left_s : float
        Seconds left in the current part (for "breathe in … 3").
    settings : PacerSettings
        The settings in force.
    """

    t_s: float
    breath_index: int
    part: BreathPart
    guide: float
    part_left_s: float
    settings: PacerSettings


def _rise(x: FloatArray, shape: PacerShape) -> FloatArray:
    """0 → 1 over x in [0, 1]."""
    if shape == "sine":
        result: FloatArray = 0.5 - 0.5 * np.cos(np.pi * x)
        return result
    return x


def _rise_inverse(g: float, shape: PacerShape) -> float:
    g = min(max(g, 0.0), 1.0)
    if shape == "sine":
        return math.acos(1.0 - 2.0 * g) / math.pi
    return g


class Pacer:
    """The pacer of one session: its settings over time and the guide at any time.

    Parameters
    ----------
    settings : PacerSettings
        Settings at the start.
    t_start_s : float, default 0.0
        Session time of the first inhalation onset, s.

    Notes
    -----
    The state is the list of `changes`; every query is a pure function of it and of the time
    asked about, so asking never changes anything and the order of questions does not matter.
    Times before the start continue the first settings backwards.
    """

    def __init__(self, settings: PacerSettings, *, t_start_s: float = 0.0) -> None:
        if not math.isfinite(t_start_s):
            raise ConfigError(f"pacer start must be a finite time, got {t_start_s!r}")
        self._changes: list[PacerChange] = [
            PacerChange(t_s=float(t_start_s), position=0.0, settings=settings)
        ]
        self._refresh_arrays()

    @property
    def settings(self) -> PacerSettings:
        """The settings in force after the last change."""
        return self._changes[-1].settings

    @property
    def changes(self) -> tuple[PacerChange, ...]:
        """Every settings change, the start first."""
        return tuple(self._changes)

    def change(
        self, t_s: float, settings: PacerSettings, *, position: float | None = None
    ) -> PacerChange:
        """Switch to ``settings`` at ``t_s`` keeping the guide continuous (module docstring).

        ``position`` overrides the breath position the change starts from (a replay re-creates
        a recorded change exactly, whatever the rules were when it was recorded).

        Raises
        ------
        ConfigError
            ``t_s`` is before the last change.
        """
        last = self._changes[-1]
        if not (math.isfinite(t_s) and t_s >= last.t_s):
            raise ConfigError(f"pacer change at {t_s!r} s is before the last one ({last.t_s} s)")
        if position is None or not math.isfinite(position):
            before = self.position_at(t_s)
            breath = math.floor(before)
            position = breath + _remap_fraction(before - breath, last.settings, settings)
        # Two changes at one time are fine: queries take the later one from that time on.
        change = PacerChange(t_s=float(t_s), position=float(position), settings=settings)
        self._changes.append(change)
        self._refresh_arrays()
        return change

    # ------------------------------------------------------------------ queries
    def position_at(self, t_s: float) -> float:
        """Breath position at ``t_s``: breaths since the start (integers are inhalation onsets)."""
        # scalar path without arrays: a simulated person asks this every 0.1 s
        k = max(bisect.bisect_right(self._t_list, t_s) - 1, 0)
        change = self._changes[k]
        return change.position + (t_s - change.t_s) / change.settings.period_s

    def positions(self, t_s: npt.ArrayLike) -> FloatArray:
        """Breath positions at many times (any order), shape of ``t_s``."""
        t = np.asarray(t_s, dtype=np.float64)
        idx = self._segment(t)
        result: FloatArray = self._pos[idx] + (t - self._t[idx]) / self._period[idx]
        return result

    def guide(self, t_s: npt.ArrayLike) -> FloatArray:
        """Lung fill in [0, 1] at many times, for drawing the target wave; shape of ``t_s``."""
        t = np.asarray(t_s, dtype=np.float64)
        idx = self._segment(t)
        pos = self._pos[idx] + (t - self._t[idx]) / self._period[idx]
        frac = pos - np.floor(pos)
        a, b, c = self._a[idx], self._b[idx], self._c[idx]
        sine = self._sine[idx]
        x_in = np.clip(frac / a, 0.0, 1.0)
        x_out = np.clip((frac - b) / (c - b), 0.0, 1.0)
        rise_in = np.where(sine, 0.5 - 0.5 * np.cos(np.pi * x_in), x_in)
        rise_out = np.where(sine, 0.5 - 0.5 * np.cos(np.pi * x_out), x_out)
        result: FloatArray = np.select(
            [frac < a, frac < b, frac < c], [rise_in, np.ones_like(frac), 1.0 - rise_out], 0.0
        )
        return result

    def state_at(self, t_s: float) -> PacerState:
        """Everything a display needs at ``t_s``."""
        k = int(self._segment(np.array([t_s]))[0])
        settings = self._changes[k].settings
        position = self.position_at(t_s)
        breath = math.floor(position)
        frac = position - breath
        a, b, c = settings._bounds()
        period = settings.period_s
        part: BreathPart
        if frac < a:
            part, left = "inhale", (a - frac) * period
            guide = float(_rise(np.array(frac / a), settings.shape))
        elif frac < b:
            part, left, guide = "hold_in", (b - frac) * period, 1.0
        elif frac < c:
            part, left = "exhale", (c - frac) * period
            guide = 1.0 - float(_rise(np.array((frac - b) / (c - b)), settings.shape))
        else:
            part, left, guide = "hold_out", (1.0 - frac) * period, 0.0
        return PacerState(
            t_s=float(t_s),
            breath_index=breath,
            part=part,
            guide=guide,
            part_left_s=left,
            settings=settings,
        )

    def breath_starts(self, t0_s: float, t1_s: float) -> FloatArray:
        """Inhalation onsets in ``(t0_s, t1_s]``, s, ascending.

        A settings change keeps the breath count (the remapping stays within the breath), so
        the onsets are exactly where the breath position reaches an integer.
        """
        if not t1_s > t0_s:
            return np.empty(0)
        found: list[FloatArray] = []
        starts = self._t
        ends = np.append(self._t[1:], math.inf)
        first = int(self._segment(np.array([t0_s]))[0])
        last = int(self._segment(np.array([t1_s]))[0])
        # One iteration per settings change in the interval: a handful, not one per beat.
        for k in range(first, last + 1):
            lo = max(t0_s, float(starts[k])) if k > first else t0_s
            hi = min(t1_s, float(ends[k]))
            p_lo = self._pos[k] + (lo - starts[k]) / self._period[k]
            p_hi = self._pos[k] + (hi - starts[k]) / self._period[k]
            n = np.arange(math.floor(p_lo) + 1, math.floor(p_hi) + 1, dtype=np.float64)
            times = starts[k] + (n - self._pos[k]) * self._period[k]
            found.append(times[(times > t0_s) & (times <= t1_s)])
        return np.concatenate(found) if found else np.empty(0)

    # ------------------------------------------------------------------ internals
    def _segment(self, t: FloatArray) -> npt.NDArray[np.intp]:
        idx: npt.NDArray[np.intp] = np.maximum(np.searchsorted(self._t, t, side="right") - 1, 0)
        return idx

    def _refresh_arrays(self) -> None:
        changes = self._changes
        self._t = np.array([c.t_s for c in changes], dtype=np.float64)
        self._t_list = [c.t_s for c in changes]
        self._pos = np.array([c.position for c in changes], dtype=np.float64)
        self._period = np.array([c.settings.period_s for c in changes], dtype=np.float64)
        bounds = np.array([c.settings._bounds() for c in changes], dtype=np.float64)
        self._a, self._b, self._c = bounds[:, 0], bounds[:, 1], bounds[:, 2]
        self._sine = np.array([c.settings.shape == "sine" for c in changes])


def _remap_fraction(frac: float, old: PacerSettings, new: PacerSettings) -> float:
    """The cycle fraction of ``new`` with the guide of ``frac`` of ``old``, in the same part."""
    a, b, c = old._bounds()
    na, nb, nc = new._bounds()
    if frac < a:  # inhaling: same height on the way up
        g = float(_rise(np.array(frac / a), old.shape))
        return na * _rise_inverse(g, new.shape)
    if frac < b:  # holding full: same share of the hold (its end if the new one has none)
        return na + (nb - na) * (frac - a) / (b - a)
    if frac < c:  # exhaling: same height on the way down
        g = 1.0 - float(_rise(np.array((frac - b) / (c - b)), old.shape))
        return nb + (nc - nb) * _rise_inverse(1.0 - g, new.shape)
    # holding empty: same share of the hold; with no hold in the new settings, the next
    # inhalation starts at once (a margin far above float resolution keeps the breath count)
    share = (frac - c) / (1.0 - c)
    return min(nc + (1.0 - nc) * share, 1.0 - _FRACTION_MARGIN)
