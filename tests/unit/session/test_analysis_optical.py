"""An optical sensor's recording (heart rate only) gets the plain message (issue #9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pet_biofeedback.cli import main
from pet_biofeedback.errors import InputFileError
from pet_biofeedback.events import Event, HeartRate, RawNotification, RRIntervals
from pet_biofeedback.firmware_bridge.hrs import HEART_RATE_MEASUREMENT_UUID
from pet_biofeedback.recording import RecordingWriter
from pet_biofeedback.session.analysis import analyze_file
from pet_biofeedback.signal.batch import AnalysisSettings


def _optical(path: Path, *, raw: bool) -> Path:
    """60 s of an optical sensor: flags 0x00 (8-bit heart rate, no RR), as it notifies."""
    events: list[Event] = []
    for k in range(1, 61):
        if raw:
            events.append(RawNotification(float(k), HEART_RATE_MEASUREMENT_UUID, bytes([0, 58])))
        events.append(HeartRate(float(k), 58.0))
    with RecordingWriter(path, device={"model": "Optical HR"}, settings={}) as writer:
        for event in events:
            writer.write(event)
    return path


@pytest.mark.parametrize("raw", [False, True])
def test_heart_rate_only_recording_says_the_sensor_reports_no_intervals(
    tmp_path: Path, raw: bool
) -> None:
    # Regression (#9): with raw notifications it said "holds only 0 RR intervals".
    path = _optical(tmp_path / "optical.jsonl", raw=raw)
    with pytest.raises(InputFileError) as info:
        analyze_file(path, AnalysisSettings())
    message = info.value.user_message
    assert "reports heart rate only, not beat-to-beat intervals" in message
    assert "58 bpm over 60 readings" in message
    assert "holds only 0" not in message


def test_replay_of_heart_rate_only_recording_says_why_it_has_no_beats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Regression (#9): replay ended in "0 beats" with no word on why.
    path = _optical(tmp_path / "optical.jsonl", raw=True)
    assert main(["replay", str(path), "--headless", "--speed", "max"]) == 0
    out = capsys.readouterr().out
    assert "events: 0 beats over" in out
    note = out.strip().splitlines()[-1]
    assert note.startswith("  note: the recording holds heart rate only (mean 58 bpm over 60")
    assert "reports heart rate only, not beat-to-beat intervals" in note


def test_replay_with_intervals_has_no_heart_rate_only_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "strap.jsonl"
    with RecordingWriter(path, device={"model": "strap"}, settings={}) as writer:
        for k in range(1, 61):
            writer.write(HeartRate(float(k), 58.0))
            writer.write(RRIntervals(float(k), (1034.0,)))
    assert main(["replay", str(path), "--headless", "--speed", "max"]) == 0
    out = capsys.readouterr().out
    assert "60 beats" in out and "heart rate only" not in out


def test_session_from_heart_rate_only_recording_says_no_measures_and_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Regression (#9): the summary line read "Session finished: ." above the note.
    path = _optical(tmp_path / "optical.jsonl", raw=False)
    argv = ["session", "--source", str(path), "--minutes", "2", "--speed", "max"]
    assert main([*argv, "--out", str(tmp_path / "s.jsonl")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "Session finished: no measures (see the note below)." in lines
    assert any(line.startswith("Note:") and "not beat-to-beat intervals" in line for line in lines)
