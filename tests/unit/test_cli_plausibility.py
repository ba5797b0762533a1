"""Typos in an RR file on every path that plays it (issue #9): no eight-day recording, no
stall at --speed 1, and the note ``analyze`` prints."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pet_biofeedback.events import Gap, RRIntervals
from pet_biofeedback.recording import read_recording
from tests.unit.test_cli import run

NOTE = "note: 2 intervals outside 250–2500 ms were"


@pytest.fixture
def typos(tmp_path: Path) -> Path:
    path = tmp_path / "rr.txt"
    path.write_text("800\n810\n99999999\n820\n830\n1e300\n800\n810\n", encoding="utf-8")
    return path


def test_analyze_treats_them_as_artifacts(typos: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["analyze", str(typos)], capsys)
    assert code == 0, err
    assert NOTE in out


def test_replay_at_real_speed_neither_stalls_nor_stretches(
    typos: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    code, out, err = run(["replay", "--headless", "--speed", "1", str(typos)], capsys)
    assert code == 0, err
    assert time.monotonic() - started < 15.0  # 4.1 s of beats, not eight days
    assert "6 beats over 4.1 s, 2 gaps" in out  # the first beat starts the clock
    assert NOTE in out


def test_record_at_real_speed_keeps_counted_gaps(
    typos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_path = tmp_path / "out.jsonl"
    argv = ["record", "--speed", "1", "--source", str(typos), "--out", str(out_path)]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    assert NOTE in out
    events = read_recording(out_path).events
    assert [v for e in events if isinstance(e, RRIntervals) for v in e.rr_ms] == [
        800.0,
        810.0,
        820.0,
        830.0,
        800.0,
        810.0,
    ]
    assert sum(isinstance(e, Gap) for e in events) == 2


def test_session_prints_the_note(
    typos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["session", "--source", str(typos), "--speed", "max", "--out", str(tmp_path / "s.jsonl")]
    ratings = ["--pain-before", "1", "--pain-after", "1", "--mood-before", "1"]
    code, out, err = run([*argv, *ratings, "--mood-after", "1"], capsys)
    assert code == 0, err
    assert NOTE in out
