"""Tests for ``pet-biofeedback history``: the table, the JSON contract, profiles, recovery."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from pet_biofeedback.paths import data_dir
from pet_biofeedback.session.history import DB_NAME
from tests.unit.session.history_helpers import write_recording
from tests.unit.test_cli import assert_one_line_error, run

TZ = timezone(timedelta(hours=1))
SESSION_KEYS = [
    "id",
    "started_at",
    "profile",
    "protocol",
    "minutes",
    "rate_bpm",
    "recording",
    "mean_hr_bpm",
    "rmssd_ms",
    "coherence",
    "rsa_bpm",
    "pain_before",
    "pain_after",
    "mood_before",
    "mood_after",
    "note",
]


def _strict_json(text: str) -> Any:
    def reject(name: str) -> Any:
        raise AssertionError(f"JSON output holds {name}")

    return json.loads(text, parse_constant=reject)


def _practice(day: date, profile: str = "default", note: str = "", **settings: object) -> None:
    write_recording(
        data_dir(),
        f"session-{day.isoformat()}-{len(profile)}.jsonl.gz",
        started_at=datetime(day.year, day.month, day.day, 9, 0, tzinfo=TZ),
        settings={
            "protocol": "practice",
            "profile": profile,
            "pacer": {"breaths_per_min": 6.0},
            "note": note,
            **settings,
        },
        ratings=[("pain_before", 6), ("pain_after", 4), ("mood_before", 3), ("mood_after", 5)],
    )


class TestJson:
    def test_exactly_the_contract_keys(self, capsys: pytest.CaptureFixture[str]) -> None:
        today = datetime.now().astimezone().date()
        _practice(today - timedelta(days=1))
        _practice(today)
        _practice(today, profile="therapist")
        code, out, err = run(["history", "--json"], capsys)
        assert code == 0, err
        assert "Added to the history: 3 recordings." in err
        data = _strict_json(out)
        assert list(data) == ["sessions", "practice"]
        assert len(data["sessions"]) == 2
        first = data["sessions"][0]
        assert list(first) == SESSION_KEYS
        assert (first["profile"], first["protocol"], first["rate_bpm"]) == (
            "default",
            "practice",
            6.0,
        )
        assert (first["pain_before"], first["pain_after"]) == (6.0, 4.0)
        assert (first["mood_before"], first["mood_after"]) == (3.0, 5.0)
        assert first["rsa_bpm"] is None and first["mean_hr_bpm"] > 0
        assert first["recording"].startswith(str(data_dir()))
        assert datetime.fromisoformat(first["started_at"]).utcoffset() == timedelta(hours=1)
        practice = data["practice"]
        assert practice["current_streak_days"] == 2 and practice["days_practised"] == 2
        assert practice["trends"]["pain_after"]["n"] == 2

    def test_profile_selects_whose_history(self, capsys: pytest.CaptureFixture[str]) -> None:
        _practice(date(2026, 5, 1))
        _practice(date(2026, 5, 1), profile="Dr. Ñ")
        code, out, _ = run(["history", "--json", "--profile", "  Dr. Ñ "], capsys)
        assert code == 0
        sessions = _strict_json(out)["sessions"]
        assert [s["profile"] for s in sessions] == ["Dr. Ñ"]

    def test_empty_history(self, capsys: pytest.CaptureFixture[str]) -> None:
        code, out, err = run(["history", "--json"], capsys)
        assert (code, err) == (0, "")
        data = _strict_json(out)
        assert data["sessions"] == [] and data["practice"]["longest_streak_days"] == 0


class TestTable:
    def test_a_session_line_for_people(self, capsys: pytest.CaptureFixture[str]) -> None:
        _practice(date(2026, 5, 1), note="felt calm")
        code, out, _ = run(["history"], capsys)
        assert code == 0
        line = next(ln for ln in out.splitlines() if ln.startswith("2026-05-01 09:00"))
        assert "practice" in line and "6→4" in line and "3→5" in line and "felt calm" in line
        assert "Practice: 1 session" in out and "longest 1 day" in out
        assert "(defaults)" in out

    def test_odd_notes_and_profile_names_are_escaped(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        profile = "Zoë \U0001f469\u200d\u2695\ufe0f"
        note = "a\x1b[2Jb\nc\u202ed\x07"
        _practice(date(2026, 5, 1), profile=profile, note=note)
        code, out, _ = run(["history", "--profile", profile], capsys)
        assert code == 0
        assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
        assert "a\\x1b[2Jb\\x0ac\\u202ed\\x07" in out
        assert f"History of profile '{profile}': 1 session" in out

    def test_empty_history_says_so(self, capsys: pytest.CaptureFixture[str]) -> None:
        code, out, _ = run(["history", "--profile", "nobody yet"], capsys)
        assert (code, out.strip()) == (0, "No sessions yet for profile 'nobody yet'.")


class TestProfileArgument:
    @pytest.mark.parametrize("bad", ["", "   ", "a\tb", "x" * 65])
    def test_bad_names_are_a_usage_error(
        self, bad: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, out, err = run(["history", "--profile", bad], capsys)
        assert code == 2 and out == ""
        assert_one_line_error(err, names="The profile name")
        assert not (data_dir() / DB_NAME).exists()


class TestRecovery:
    def test_rebuild_says_how_many(self, capsys: pytest.CaptureFixture[str]) -> None:
        _practice(date(2026, 5, 1))
        (data_dir() / "recordings" / "broken.jsonl").write_text("{not json\n")
        run(["history"], capsys)
        code, out, err = run(["history", "--rebuild", "--json"], capsys)
        assert code == 0
        assert "Rebuilt the history from 1 recording." in err
        assert "broken.jsonl: skipped, cannot be read" in err
        assert len(_strict_json(out)["sessions"]) == 1

    def test_a_corrupt_database_is_reported_moved_and_rebuilt(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        _practice(date(2026, 5, 1))
        data_dir().mkdir(parents=True, exist_ok=True)
        (data_dir() / DB_NAME).write_bytes(b"garbage" * 1000)
        code, out, err = run(["history", "--json"], capsys)
        assert code == 0
        assert "the history database was damaged" in err
        assert "moved to" in err and "nothing was deleted" in err
        assert len(_strict_json(out)["sessions"]) == 1
        (moved,) = data_dir().glob(f"{DB_NAME}.corrupt-*")
        assert moved.read_bytes() == b"garbage" * 1000
