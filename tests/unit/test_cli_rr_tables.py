"""``--column`` and RR tables on every command that reads a file (issue #9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pet_biofeedback.events import RRIntervals
from pet_biofeedback.recording import read_recording
from tests.unit.test_cli import assert_one_line_error, run

RR_MS = [812.0, 790.0, 835.0, 801.0, 778.0, 820.0, 845.0, 799.0, 786.0, 810.0]


@pytest.fixture
def ambiguous(tmp_path: Path) -> Path:
    """A table whose RR column has a name that says nothing (``value``)."""
    path = tmp_path / "beats.csv"
    rows = "".join(f"{k * 0.8:.1f},{v:.0f}\n" for k, v in enumerate(RR_MS))
    path.write_text("time,value\n" + rows, encoding="utf-8")
    return path


def test_analyze_names_the_columns_and_the_option(
    ambiguous: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["analyze", str(ambiguous)], capsys)
    assert code == 2
    assert_one_line_error(err, names="has 2 columns (time, value)")
    assert "--column NAME" in err and "no numbers" not in err


def test_analyze_reads_the_column_asked_for(
    ambiguous: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["analyze", "--json", "--column", "value", str(ambiguous)], capsys)
    assert code == 0, err
    assert f'"n_beats": {len(RR_MS)}' in out


def test_replay_reads_the_column_asked_for(
    ambiguous: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["replay", "--headless", "--speed", "max", "--column", "2", str(ambiguous)]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    assert f"{len(RR_MS)} beats" in out


def test_record_from_a_table_keeps_its_intervals(
    ambiguous: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_path = tmp_path / "out.jsonl"
    argv = ["record", "--speed", "max", "--source", str(ambiguous), "--column", "value"]
    code, _, err = run([*argv, "--out", str(out_path)], capsys)
    assert code == 0, err
    recording = read_recording(out_path)
    assert [v for e in recording.events if isinstance(e, RRIntervals) for v in e.rr_ms] == RR_MS
    # the recording says which column its intervals came from
    assert recording.header.device["column"] == "value"


def test_session_from_a_table(
    ambiguous: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_path = tmp_path / "s.jsonl.gz"
    argv = ["session", "--source", str(ambiguous), "--column", "value", "--speed", "max"]
    ratings = ["--pain-before", "1", "--pain-after", "1", "--mood-before", "1"]
    code, _, err = run([*argv, *ratings, "--mood-after", "1", "--out", str(out_path)], capsys)
    assert code == 0, err
    events = read_recording(out_path).events
    assert [v for e in events if isinstance(e, RRIntervals) for v in e.rr_ms] == RR_MS


def test_column_is_refused_for_other_sources(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["record", "--source", "sim", "--column", "rr"], capsys)
    assert code == 2
    assert_one_line_error(err, names="--column is for RR text and CSV files")


def test_export_reads_the_column_asked_for(
    ambiguous: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_path = tmp_path / "kubios.txt"
    argv = ["export", str(ambiguous), "--to", "kubios", "--out", str(out_path)]
    code, _, err = run([*argv, "--column", "value"], capsys)
    assert code == 0, err
    lines = out_path.read_text().splitlines()
    assert [float(x) for x in lines if not x.startswith("#")] == RR_MS
