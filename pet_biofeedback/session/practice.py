"""Practice statistics: minutes per week, streaks and trends (issue 7).

The programme's benefit depended on continued practice, so the home view shows how much the
person practised and how their measures and ratings move. Pure functions over history rows
(`SessionRecord`, oldest first or in any order).

Definitions
-----------
* A **practice day** is a local date (the session's own UTC offset, i.e. the person's clock
  when they practised) with at least one ``practice`` session. Baselines, assessments and
  plain recordings are not practice.
* **Weeks** are ISO weeks (Monday to Sunday) of those local dates, from the first practice
  week to the week of ``today``, empty weeks included (with 0 minutes).
* The **current streak** is the run of consecutive practice days that ends today or
  yesterday (a streak is still alive on a day not practised yet); 0 otherwise. The
  **longest streak** is the longest such run ever.
* A **trend** is the per-week mean of a measure (weeks with values only), and the
  least-squares slope of the per-session values against the session's local date in weeks,
  with the number of sessions ``n``; the slope is None with fewer than two distinct days.
  Coherence, RSA and RMSSD come from practice sessions; resting heart rate from baseline
  sessions (their mean HR) or, when there are none, from the first minutes of practice
  sessions; pain and mood ratings from every session.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from pet_biofeedback.session.history_record import SessionRecord

__all__ = [
    "PRACTICE_PROTOCOLS",
    "TREND_MEASURES",
    "PracticeSummary",
    "Trend",
    "WeekMinutes",
    "practice_dict",
    "practice_summary",
    "streaks",
]

PRACTICE_PROTOCOLS: Final = frozenset({"practice"})
_DAYS_PER_WEEK: Final = 7

# name, which sessions, the value; resting HR is special-cased below.
_Getter = Callable[[SessionRecord], "float | None"]
_PRACTICE_MEASURES: Final[tuple[tuple[str, _Getter], ...]] = (
    ("coherence", lambda s: s.coherence),
    ("rsa_bpm", lambda s: s.rsa_bpm),
    ("rmssd_ms", lambda s: s.rmssd_ms),
)
_RATINGS: Final[tuple[tuple[str, _Getter], ...]] = (
    ("pain_before", lambda s: s.pain_before),
    ("pain_after", lambda s: s.pain_after),
    ("mood_before", lambda s: s.mood_before),
    ("mood_after", lambda s: s.mood_after),
)
TREND_MEASURES: Final = (
    *(name for name, _ in _PRACTICE_MEASURES),
    "resting_hr_bpm",
    *(name for name, _ in _RATINGS),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class WeekMinutes:
    """Practice in one ISO week: ``week`` like ``"2026-W49"``, starting Monday ``week_start``."""

    week: str
    week_start: date
    minutes: float
    n_sessions: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Trend:
    """How one measure moved: per-week means and a least-squares slope.

    Attributes
    ----------
    measure : str
        One of `TREND_MEASURES` (unit in the name; ratings are 0–10).
    source : str
        Which sessions it comes from, in words.
    weeks : tuple of str
        ISO weeks that have values, oldest first.
    weekly_mean, weekly_n : tuple
        Mean value and number of sessions per week in ``weeks``.
    slope_per_week : float or None
        Change per week (measure's unit per week); None with fewer than two distinct days.
    n : int
        Sessions with a value.
    """

    measure: str
    source: str
    weeks: tuple[str, ...]
    weekly_mean: tuple[float, ...]
    weekly_n: tuple[int, ...]
    slope_per_week: float | None
    n: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PracticeSummary:
    """Practice of one profile (module docstring for the definitions)."""

    n_sessions: int
    total_minutes: float
    days_practised: int
    current_streak_days: int
    longest_streak_days: int
    weeks: tuple[WeekMinutes, ...]
    trends: Mapping[str, Trend]


def _iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def streaks(days: Sequence[date], *, today: date) -> tuple[int, int]:
    """Current and longest run of consecutive days.

    Parameters
    ----------
    days : sequence of date
        Days with practice (any order, repeats allowed).
    today : date
        The person's today; a run ending today or yesterday is current.

    Returns
    -------
    (int, int)
        ``(current_streak_days, longest_streak_days)``; ``(0, 0)`` for no days.

    Examples
    --------
    >>> from datetime import date
    >>> streaks([date(2026, 1, 31), date(2026, 2, 1), date(2026, 2, 3)], today=date(2026, 2, 4))
    (1, 2)
    """
    if not days:
        return 0, 0
    ordinals = np.unique(np.fromiter((d.toordinal() for d in days), dtype=np.int64))
    # A new run starts wherever the gap to the previous day is not exactly one day.
    starts = np.flatnonzero(np.diff(ordinals, prepend=ordinals[0] - 2) != 1)
    lengths = np.diff(np.append(starts, ordinals.size))
    alive = today.toordinal() - int(ordinals[-1]) <= 1
    return (int(lengths[-1]) if alive else 0), int(lengths.max())


def _slope_per_week(x_weeks: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> float | None:
    """Least-squares slope of y on x; None when x has fewer than two distinct values."""
    dx = x_weeks - x_weeks.mean()
    sxx = float(dx @ dx)
    if sxx == 0.0:
        return None
    return float(dx @ (y - y.mean())) / sxx


def _trend(measure: str, source: str, pairs: Sequence[tuple[date, float]]) -> Trend:
    if not pairs:
        return Trend(
            measure=measure,
            source=source,
            weeks=(),
            weekly_mean=(),
            weekly_n=(),
            slope_per_week=None,
            n=0,
        )
    ordinals = np.fromiter((d.toordinal() for d, _ in pairs), dtype=np.int64, count=len(pairs))
    values = np.fromiter((v for _, v in pairs), dtype=np.float64, count=len(pairs))
    mondays = ordinals - np.fromiter(
        (d.weekday() for d, _ in pairs), dtype=np.int64, count=len(pairs)
    )
    week_ordinals, week_idx = np.unique(mondays, return_inverse=True)
    week_n = np.bincount(week_idx)
    week_mean = np.bincount(week_idx, weights=values) / week_n
    x_weeks = (ordinals - ordinals.min()).astype(np.float64) / _DAYS_PER_WEEK
    return Trend(
        measure=measure,
        source=source,
        weeks=tuple(_iso_week(date.fromordinal(int(o))) for o in week_ordinals),
        weekly_mean=tuple(float(m) for m in week_mean),
        weekly_n=tuple(int(n) for n in week_n),
        slope_per_week=_slope_per_week(x_weeks, values),
        n=len(pairs),
    )


def _pairs(sessions: Sequence[SessionRecord], get: _Getter) -> list[tuple[date, float]]:
    return [(s.local_date, v) for s in sessions if (v := get(s)) is not None]


def _weeks(practice: Sequence[SessionRecord], today: date) -> tuple[WeekMinutes, ...]:
    if not practice:
        return ()
    first = _monday(min(s.local_date for s in practice))
    last = max(_monday(today), _monday(max(s.local_date for s in practice)))
    n_weeks = (last - first).days // _DAYS_PER_WEEK + 1
    idx = np.fromiter(
        ((_monday(s.local_date) - first).days // _DAYS_PER_WEEK for s in practice),
        dtype=np.int64,
        count=len(practice),
    )
    minutes = np.fromiter(
        (s.minutes or 0.0 for s in practice), dtype=np.float64, count=len(practice)
    )
    per_week = np.bincount(idx, weights=minutes, minlength=n_weeks)
    count = np.bincount(idx, minlength=n_weeks)
    starts = [first + timedelta(days=_DAYS_PER_WEEK * k) for k in range(n_weeks)]
    return tuple(
        WeekMinutes(
            week=_iso_week(start),
            week_start=start,
            minutes=float(per_week[k]),
            n_sessions=int(count[k]),
        )
        for k, start in enumerate(starts)
    )


def practice_summary(sessions: Sequence[SessionRecord], *, today: date) -> PracticeSummary:
    """Practice statistics of one profile's sessions.

    Parameters
    ----------
    sessions : sequence of SessionRecord
        One profile's sessions (`HistoryStore.sessions`).
    today : date
        The person's today (``datetime.now().astimezone().date()``), for the current streak
        and the last week.

    Returns
    -------
    PracticeSummary
    """
    practice = [s for s in sessions if s.protocol in PRACTICE_PROTOCOLS]
    days = [s.local_date for s in practice]
    current, longest = streaks(days, today=today)
    trends = {
        name: _trend(name, "practice sessions", _pairs(practice, get))
        for name, get in _PRACTICE_MEASURES
    }
    baseline_hr = _pairs([s for s in sessions if s.protocol == "baseline"], lambda s: s.mean_hr_bpm)
    trends["resting_hr_bpm"] = (
        _trend("resting_hr_bpm", "baseline sessions", baseline_hr)
        if baseline_hr
        else _trend(
            "resting_hr_bpm",
            "the first minutes of practice sessions",
            _pairs(practice, lambda s: s.start_hr_bpm),
        )
    )
    for name, get in _RATINGS:
        trends[name] = _trend(name, "every session", _pairs(sessions, get))
    return PracticeSummary(
        n_sessions=len(practice),
        total_minutes=float(sum(s.minutes or 0.0 for s in practice)),
        days_practised=len(set(days)),
        current_streak_days=current,
        longest_streak_days=longest,
        weeks=_weeks(practice, today),
        trends=trends,
    )


def practice_dict(summary: PracticeSummary) -> dict[str, Any]:
    """The summary as plain JSON-able data (the ``practice`` object of ``history --json``)."""
    return {
        "sessions": summary.n_sessions,
        "total_minutes": summary.total_minutes,
        "days_practised": summary.days_practised,
        "current_streak_days": summary.current_streak_days,
        "longest_streak_days": summary.longest_streak_days,
        "weeks": [
            {
                "week": w.week,
                "week_start": w.week_start.isoformat(),
                "minutes": w.minutes,
                "sessions": w.n_sessions,
            }
            for w in summary.weeks
        ],
        "trends": {
            name: {
                "source": t.source,
                "weeks": list(t.weeks),
                "weekly_mean": list(t.weekly_mean),
                "weekly_n": list(t.weekly_n),
                "slope_per_week": t.slope_per_week,
                "n": t.n,
            }
            for name, t in summary.trends.items()
        },
    }
