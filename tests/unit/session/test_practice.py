"""Tests for pet_biofeedback.session.practice, against hand-computed answers."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from pet_biofeedback.session.history_record import SessionRecord
from pet_biofeedback.session.practice import (
    TREND_MEASURES,
    practice_dict,
    practice_summary,
    streaks,
)

CET = timezone(timedelta(hours=1))
CEST = timezone(timedelta(hours=2))


def _at(day: date, hour: int = 9, minute: int = 0, tz: timezone = CET) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)


def _session(when: datetime, protocol: str = "practice", **kwargs: object) -> SessionRecord:
    fields: dict[str, object] = {"started_at": when, "protocol": protocol, "minutes": 10.0}
    fields.update(kwargs)
    return SessionRecord(**fields)  # type: ignore[arg-type]  # test data


def _days(*days: date) -> list[SessionRecord]:
    return [_session(_at(d)) for d in days]


class TestStreaks:
    def test_empty_history_has_no_streak_and_no_weeks(self) -> None:
        summary = practice_summary([], today=date(2026, 2, 1))
        assert (summary.current_streak_days, summary.longest_streak_days) == (0, 0)
        assert (summary.n_sessions, summary.days_practised, summary.total_minutes) == (0, 0, 0.0)
        assert summary.weeks == ()
        assert set(summary.trends) == set(TREND_MEASURES)
        assert all(t.n == 0 and t.slope_per_week is None for t in summary.trends.values())
        assert streaks([], today=date(2026, 2, 1)) == (0, 0)

    def test_a_streak_runs_across_a_month_boundary(self) -> None:
        sessions = _days(date(2026, 1, 30), date(2026, 1, 31), date(2026, 2, 1), date(2026, 2, 2))
        summary = practice_summary(sessions, today=date(2026, 2, 2))
        assert (summary.current_streak_days, summary.longest_streak_days) == (4, 4)

    def test_the_current_streak_is_alive_until_the_end_of_the_next_day(self) -> None:
        sessions = _days(date(2026, 1, 30), date(2026, 1, 31))
        assert practice_summary(sessions, today=date(2026, 2, 1)).current_streak_days == 2
        late = practice_summary(sessions, today=date(2026, 2, 2))
        assert (late.current_streak_days, late.longest_streak_days) == (0, 2)

    def test_a_gap_day_breaks_the_streak(self) -> None:
        # 2, 3 | 5, 6, 7 | 10, 11 March: runs of 2, 3 and 2 days.
        days = [date(2026, 3, d) for d in (2, 3, 5, 6, 7, 10, 11)]
        summary = practice_summary(_days(*days), today=date(2026, 3, 11))
        assert (summary.current_streak_days, summary.longest_streak_days) == (2, 3)
        assert summary.days_practised == 7

    def test_two_sessions_on_one_day_count_as_one_day(self) -> None:
        sessions = [_session(_at(date(2026, 3, 2), 8)), _session(_at(date(2026, 3, 2), 20))]
        summary = practice_summary(sessions, today=date(2026, 3, 2))
        assert (summary.days_practised, summary.current_streak_days, summary.n_sessions) == (
            1,
            1,
            2,
        )

    def test_only_practice_sessions_make_practice_days(self) -> None:
        sessions = [
            _session(_at(date(2026, 3, 2))),
            _session(_at(date(2026, 3, 3)), protocol="baseline"),
            _session(_at(date(2026, 3, 4)), protocol="assessment"),
            _session(_at(date(2026, 3, 5)), protocol="recording"),
        ]
        summary = practice_summary(sessions, today=date(2026, 3, 5))
        assert (summary.days_practised, summary.longest_streak_days) == (1, 1)
        assert summary.current_streak_days == 0
        assert summary.total_minutes == 10.0

    def test_days_are_the_persons_local_days_across_a_dst_change(self) -> None:
        # Europe/Berlin moved its clocks forward on 29 March 2026. In local time these are
        # three days in a row; in UTC (22:30 on the 28th, 21:30 and 22:15 on the 29th) two.
        sessions = [
            _session(datetime(2026, 3, 28, 23, 30, tzinfo=CET)),
            _session(datetime(2026, 3, 29, 23, 30, tzinfo=CEST)),  # 23 hours later
            _session(datetime(2026, 3, 30, 0, 15, tzinfo=CEST)),  # 45 minutes later
        ]
        summary = practice_summary(sessions, today=date(2026, 3, 30))
        assert (summary.days_practised, summary.current_streak_days) == (3, 3)

    def test_days_across_the_autumn_dst_change(self) -> None:
        # Clocks went back on 25 October 2026: that day had 25 hours, so sessions on
        # consecutive days can be more than a day apart.
        sessions = [
            _session(datetime(2026, 10, 25, 0, 30, tzinfo=CEST)),
            _session(datetime(2026, 10, 26, 0, 10, tzinfo=CET)),  # 24 h 40 min later
        ]
        summary = practice_summary(sessions, today=date(2026, 10, 26))
        assert (summary.current_streak_days, summary.longest_streak_days) == (2, 2)
        assert summary.days_practised == 2


class TestWeeks:
    def test_minutes_per_iso_week_include_empty_weeks_up_to_today(self) -> None:
        sessions = [
            _session(_at(date(2026, 11, 30)), minutes=10.0),  # Monday of W49
            _session(_at(date(2026, 12, 6), 23, 50), minutes=5.5),  # Sunday of W49
            _session(_at(date(2026, 12, 16)), minutes=20.0),  # W51
        ]
        summary = practice_summary(sessions, today=date(2026, 12, 21))  # Monday of W52
        got = [(w.week, w.week_start, w.minutes, w.n_sessions) for w in summary.weeks]
        assert got == [
            ("2026-W49", date(2026, 11, 30), 15.5, 2),
            ("2026-W50", date(2026, 12, 7), 0.0, 0),
            ("2026-W51", date(2026, 12, 14), 20.0, 1),
            ("2026-W52", date(2026, 12, 21), 0.0, 0),
        ]
        assert summary.total_minutes == 35.5

    def test_the_first_of_january_can_belong_to_the_last_iso_week(self) -> None:
        summary = practice_summary(_days(date(2027, 1, 1)), today=date(2027, 1, 1))
        assert [w.week for w in summary.weeks] == ["2026-W53"]


class TestTrends:
    def test_weekly_means_and_least_squares_slope_by_hand(self) -> None:
        # Days 0, 0, 7, 14 → x = 0, 0, 1, 2 weeks; y = 1, 3, 2, 5.
        # mean x = 0.75, mean y = 2.75; Σdx·dy = 3.75, Σdx² = 2.75 → slope 15/11 per week.
        monday = date(2026, 6, 1)
        sessions = [
            _session(_at(monday, 8), coherence=1.0),
            _session(_at(monday, 18), coherence=3.0),
            _session(_at(monday + timedelta(days=7)), coherence=2.0),
            _session(_at(monday + timedelta(days=14)), coherence=5.0),
            _session(_at(monday + timedelta(days=15))),  # no coherence: not counted
        ]
        trend = practice_summary(sessions, today=monday + timedelta(days=15)).trends["coherence"]
        assert trend.weeks == ("2026-W23", "2026-W24", "2026-W25")
        assert trend.weekly_mean == (2.0, 2.0, 5.0)
        assert trend.weekly_n == (2, 1, 1)
        assert trend.slope_per_week == pytest.approx(15 / 11)
        assert trend.n == 4

    def test_one_day_of_values_has_no_slope(self) -> None:
        day = date(2026, 6, 1)
        sessions = [_session(_at(day, 8), rmssd_ms=30.0), _session(_at(day, 9), rmssd_ms=40.0)]
        trend = practice_summary(sessions, today=day).trends["rmssd_ms"]
        assert (trend.weekly_mean, trend.slope_per_week, trend.n) == ((35.0,), None, 2)

    def test_resting_hr_comes_from_baselines_when_there_are_any(self) -> None:
        day = date(2026, 6, 1)
        sessions = [
            _session(_at(day), start_hr_bpm=80.0, mean_hr_bpm=75.0),
            _session(_at(day + timedelta(days=7)), protocol="baseline", mean_hr_bpm=70.0),
            _session(_at(day + timedelta(days=14)), protocol="baseline", mean_hr_bpm=68.0),
        ]
        trend = practice_summary(sessions, today=day).trends["resting_hr_bpm"]
        assert trend.source == "baseline sessions"
        assert (trend.weekly_mean, trend.slope_per_week) == ((70.0, 68.0), -2.0)

    def test_resting_hr_falls_back_to_the_first_minutes_of_practice(self) -> None:
        day = date(2026, 6, 1)
        sessions = [
            _session(_at(day), start_hr_bpm=80.0, mean_hr_bpm=75.0),
            _session(_at(day + timedelta(days=7)), start_hr_bpm=77.0, mean_hr_bpm=72.0),
        ]
        trend = practice_summary(sessions, today=day).trends["resting_hr_bpm"]
        assert "first minutes" in trend.source
        assert (trend.weekly_mean, trend.slope_per_week) == ((80.0, 77.0), -3.0)

    def test_pain_and_mood_come_from_every_session(self) -> None:
        day = date(2026, 6, 1)
        sessions = [
            _session(_at(day), pain_before=6.0, pain_after=5.0),
            _session(_at(day + timedelta(days=7)), protocol="baseline", pain_before=4.0),
            _session(_at(day + timedelta(days=14)), mood_after=7.0),
        ]
        trends = practice_summary(sessions, today=day).trends
        assert (trends["pain_before"].weekly_mean, trends["pain_before"].slope_per_week) == (
            (6.0, 4.0),
            -2.0,
        )
        assert (trends["pain_after"].n, trends["mood_after"].n, trends["mood_before"].n) == (
            1,
            1,
            0,
        )


def test_practice_dict_is_plain_json_data() -> None:
    import json

    sessions = _days(date(2026, 6, 1), date(2026, 6, 2))
    data = practice_dict(practice_summary(sessions, today=date(2026, 6, 2)))
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert data["current_streak_days"] == 2
    assert data["weeks"] == [
        {"week": "2026-W23", "week_start": "2026-06-01", "minutes": 20.0, "sessions": 2}
    ]
    assert set(data["trends"]) == set(TREND_MEASURES)
