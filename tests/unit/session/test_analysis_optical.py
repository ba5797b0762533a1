"""An optical sensor's recording (heart rate only) gets the plain message (issue #9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pet_biofeedback.errors import InputFileError
from pet_biofeedback.events import Event, HeartRate, RawNotification
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
