"""`pet-biofeedback session`: a headless session end to end, JSON, repeatability, stopping."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pet_biofeedback.cli import main
from pet_biofeedback.events import Marker, PacerPhase, Rating
from pet_biofeedback.recording import read_recording


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main(["session", *argv, "--json"]) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def test_practice_session_json_has_the_four_parts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "s.jsonl.gz"
    result = run_json(
        capsys,
        "--source",
        "sim:seed=3,resonance=5.5",
        "--minutes",
        "2",
        "--rate",
        "5.5",
        "--speed",
        "max",
        "--pain-before",
        "6",
        "--pain-after",
        "4",
        "--mood-after",
        "7",
        "--out",
        str(out),
    )
    assert set(result) == {"recording", "summary", "protocol", "ratings"}
    assert result["recording"] == str(out)
    assert result["protocol"]["pacer"]["breaths_per_min"] == 5.5
    assert result["ratings"] == {
        "pain_before": 6,
        "mood_before": None,
        "pain_after": 4,
        "mood_after": 7,
    }
    summary = result["summary"]
    assert 100 < summary["n_beats"] < 160
    assert summary["rsa_bpm"] > 5 and summary["coherence_shown"] > 1
    assert summary["breathing_rate_bpm"] == pytest.approx(5.5, abs=0.5)
    assert summary["breathing_source"] == "acc"
    events = list(read_recording(out).events)
    ratings = {e.kind: e.value for e in events if isinstance(e, Rating)}
    assert ratings == {"pain_before": 6, "pain_after": 4, "mood_after": 7}
    assert [e.breaths_per_min for e in events if isinstance(e, PacerPhase)] == [5.5]
    assert any(isinstance(e, Marker) and e.text == "session end: completed" for e in events)


def test_session_from_a_recording_twice_gives_identical_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    first = tmp_path / "first.jsonl.gz"
    run_json(
        capsys, "--source", "sim:seed=8", "--minutes", "3", "--speed", "max", "--out", str(first)
    )
    runs = [
        run_json(
            capsys,
            "--source",
            str(first),
            "--minutes",
            "2",
            "--speed",
            "max",
            "--out",
            str(tmp_path / f"again{k}.jsonl.gz"),
        )
        for k in range(2)
    ]
    for r in runs:
        del r["recording"]
    assert runs[0] == runs[1]
    assert runs[0]["summary"]["n_beats"] > 100


def test_baseline_has_no_pacer_and_refuses_a_rate(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    result = run_json(
        capsys,
        "--source",
        "sim:seed=1",
        "--protocol",
        "baseline",
        "--minutes",
        "2",
        "--speed",
        "max",
        "--out",
        str(tmp_path / "b.jsonl.gz"),
    )
    assert "pacer" not in result["protocol"]
    assert main(["session", "--protocol", "baseline", "--rate", "6", "--json"]) == 2
    assert "free breathing" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--minutes", "1"], "2–60 minutes"),
        (["--rate", "12"], "3–10"),
        (["--rate", "5.55"], "steps of 0.1"),
        (["--ratio", "4-6"], "ratio"),
        (["--pain-before", "11"], "0 to 10"),
    ],
)
def test_nonsense_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], words: str
) -> None:
    try:
        code = main(["session", "--speed", "max", "--json", *argv])
    except SystemExit as exc:  # argparse
        code = int(exc.code or 0)
    assert code == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_ends_early_and_keeps_everything(tmp_path: Path, sig: int) -> None:
    out = tmp_path / "stopped.jsonl.gz"
    argv = [
        sys.executable,
        "-m",
        "pet_biofeedback",
        "session",
        "--source",
        "sim:seed=2",
        "--minutes",
        "10",
        "--speed",
        "5",
        "--pain-after",
        "2",
        "--out",
        str(out),
    ]
    child = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    time.sleep(6.0)
    child.send_signal(sig)
    stdout, stderr = child.communicate(timeout=60)
    assert child.returncode == 0, stderr
    assert "Session finished (stopped early)" in stdout
    events = list(read_recording(out).events)
    assert any(isinstance(e, Rating) and e.kind == "pain_after" for e in events)
    assert any(isinstance(e, Marker) and e.text == "session end: stopped early" for e in events)


def test_a_session_appears_in_the_history(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    result = run_json(
        capsys,
        "--source",
        "sim:seed=5",
        "--minutes",
        "2",
        "--speed",
        "max",
        "--pain-before",
        "7",
        "--pain-after",
        "5",
    )
    assert main(["history", "--json"]) == 0
    sessions = json.loads(capsys.readouterr().out)["sessions"]
    assert [s["recording"] for s in sessions] == [result["recording"]]
    assert sessions[0]["protocol"] == "practice"
    assert (sessions[0]["pain_before"], sessions[0]["pain_after"]) == (7, 5)


@pytest.mark.parametrize(
    ("sim", "source"), [("acc=false", "ecg"), ("acc=false,ecg=false", "rr-estimate")]
)
def test_session_summary_says_where_breathing_comes_from(
    sim: str, source: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Issue 7: a strap with ECG but no ACC gave no breathing rate in the summary.
    out = tmp_path / "s.jsonl.gz"
    argv = ["--source", f"sim:seed=3,resonance=5.5,{sim}", "--minutes", "2", "--rate", "5.5"]
    result = run_json(capsys, *argv, "--speed", "max", "--out", str(out))
    summary = result["summary"]
    assert summary["breathing_source"] == source
    assert summary["breathing_rate_bpm"] == pytest.approx(5.5, abs=0.5)


def test_history_row_carries_the_sessions_rsa_and_a_rebuild_keeps_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Issue 7: history rows had no heart-rate swing (rsa_bpm) although the session had one.
    argv = ["--source", "sim:seed=5,resonance=6", "--minutes", "3", "--rate", "6"]
    result = run_json(capsys, *argv, "--speed", "max")
    shown = result["summary"]["rsa_bpm"]
    assert main(["history", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["sessions"]
    assert main(["history", "--json", "--rebuild"]) == 0
    (rebuilt,) = json.loads(capsys.readouterr().out)["sessions"]
    # the report's swing per paced breath, from the recording: what a rebuild computes again
    assert row["rsa_bpm"] is not None and row["rsa_bpm"] == rebuilt["rsa_bpm"]
    # the feedback's mean over the breaths it showed as valid: close, not identical
    assert row["rsa_bpm"] == pytest.approx(shown, rel=0.05)  # measured 11.31 against 11.49
