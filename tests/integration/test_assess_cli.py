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
