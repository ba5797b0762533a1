"""`pet-biofeedback assess` end to end: simulated people through the engine and the recorder.

The 9-of-10 acceptance over 50 simulated people runs on the model directly
(tests/unit/session/test_assessment.py); here two people per resonance go the whole way —
source, engine, pacer steps, recording, scoring, the saved practice rate — at --speed max.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pet_biofeedback.cli import main
from pet_biofeedback.events import Marker, PacerPhase
from pet_biofeedback.recording import read_recording
from pet_biofeedback.session.preferences import practice_rate


def assess_json(capsys: pytest.CaptureFixture[str], source: str, out: Path) -> dict[str, Any]:
    code = main(["assess", "--source", source, "--speed", "max", "--json", "--out", str(out)])
    assert code == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


@pytest.mark.slow
@pytest.mark.parametrize("resonance", [4.5, 5.0, 5.5, 6.0, 6.5])
def test_simulated_people_get_their_resonance_rate(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, resonance: float
) -> None:
    for seed in (0, 1):
        out = tmp_path / f"assess-{seed}.jsonl.gz"
        result = assess_json(capsys, f"sim:seed={seed},resonance={resonance}", out)
        assert result["recommended_bpm"] == resonance, result
        assert [r["bpm"] for r in result["rates"]] == [6.5, 6.0, 5.5, 5.0, 4.5]
        assert practice_rate("default") == resonance
    events = list(read_recording(out).events)
    rates = [e.breaths_per_min for e in events if isinstance(e, PacerPhase)]
    assert rates == [6.5, 6.0, 5.5, 5.0, 4.5]
    assert sum(isinstance(e, Marker) and e.text.startswith("block") for e in events) == 4
    assert read_recording(out).header.settings["protocol"] == "assessment"


def test_nonsense_rates_are_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["assess", "--rates", "six,five", "--speed", "max"]) == 2
    err = capsys.readouterr().err
    assert "--rates" in err and "Traceback" not in err


@pytest.mark.slow
def test_ecg_without_accelerometer_measures_the_breathing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Issue 7: without ACC the recording's ECG (R-wave amplitude) is the breathing reference.
    out = tmp_path / "assess-ecg.jsonl.gz"
    result = assess_json(capsys, "sim:seed=0,resonance=5.5,acc=false", out)
    assert result["recommended_bpm"] == 5.5, result
    assert {r["reference"] for r in result["rates"]} == {"measured"}
    # measured 0.65–1.05 s, as the accelerometer gives on the same person (0.70–0.95 s)
    assert all(0.3 <= r["breathing_lag_s"] <= 1.5 for r in result["rates"]), result["rates"]
    assert "Breathing was not measured" not in result["explanation"]


@pytest.mark.slow
def test_rr_only_strap_is_told_breathing_was_not_measured(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "assess-rr.jsonl.gz"
    result = assess_json(capsys, "sim:seed=0,resonance=5.5,acc=false,ecg=false", out)
    assert {r["reference"] for r in result["rates"]} == {"pacer"}
    assert (
        "Breathing was not measured (the strap sent no chest movement and no ECG)"
        in (result["explanation"])
    )
