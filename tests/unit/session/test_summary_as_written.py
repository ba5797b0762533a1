"""A session's summary is gathered from what the recorder writes, not read back (issue 7).

`record(..., tap=RecordingAccumulator())` hands the accumulating analysis of `analyze_file`
every event as it is written; analysed after the file is closed it must give exactly what
`analyze_file` gives for that file.
"""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Any

import pytest

from pet_biofeedback.cli import main
from pet_biofeedback.events import AccFrame, EcgFrame, Event, Gap, RRIntervals
from pet_biofeedback.firmware_bridge.sim_config import SimConfig
from pet_biofeedback.firmware_bridge.simulated import SimulatedStrap
from pet_biofeedback.recording import read_back, read_recording
from pet_biofeedback.recording._events_json import Fields, decode_event, event_line, parse_object
from pet_biofeedback.session.analysis import RecordingAccumulator, analyze_file, report_dict
from pet_biofeedback.session.recorder import record
from pet_biofeedback.signal.batch import AnalysisSettings

GAP_FROM_S, GAP_TO_S = 100.0, 112.0


async def _events_with_a_gap() -> list[Event]:
    """Four simulated minutes (RR, HR, ECG, ACC) with 12 s lost and a `Gap` saying so; one
    ECG and one ACC frame hold a sample of -0.0 (written as 0)."""
    strap = SimulatedStrap(SimConfig(seed=11, duration_s=240.0), speed=math.inf)
    async with asyncio.timeout(60.0), strap:
        events = [event async for event in strap]
    kept: list[Event] = []
    for event in events:
        if GAP_FROM_S <= event.t < GAP_TO_S:
            continue
        if event.t >= GAP_TO_S and not any(isinstance(e, Gap) for e in kept):
            kept.append(Gap(GAP_TO_S, GAP_TO_S - GAP_FROM_S, "contact lost"))
        kept.append(event)
    ecg_at = next(i for i, e in enumerate(kept) if isinstance(e, EcgFrame) and e.t > 30.0)
    acc_at = next(i for i, e in enumerate(kept) if isinstance(e, AccFrame) and e.t > 30.0)
    ecg, acc = kept[ecg_at], kept[acc_at]
    assert isinstance(ecg, EcgFrame) and isinstance(acc, AccFrame)
    kept[ecg_at] = EcgFrame(ecg.t, ecg.fs_hz, (-0.0, *ecg.ecg_uv[1:]))
    kept[acc_at] = AccFrame(acc.t, acc.fs_hz, ((-0.0, 1.0, -0.0), *acc.acc_mg[1:]))
    return kept


class _Source:
    def __init__(self, events: list[Event]) -> None:
        self.events = events

    async def __aenter__(self) -> _Source:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def __aiter__(self) -> _Source:
        self._it = iter(self.events)
        return self

    async def __anext__(self) -> Event:
        try:
            return next(self._it)
        except StopIteration:
            raise StopAsyncIteration from None


async def test_what_the_recorder_gathered_analyses_as_the_written_file(tmp_path: Path) -> None:
    events = await _events_with_a_gap()
    assert {type(e) for e in events} >= {RRIntervals, EcgFrame, AccFrame, Gap}
    path = tmp_path / "session.jsonl.gz"
    gathered = RecordingAccumulator()
    await record(_Source(events), path, device={"name": "sim"}, settings={}, tap=gathered)

    from_file = analyze_file(path, AnalysisSettings())
    as_written = gathered.result(str(path), AnalysisSettings())
    assert report_dict(as_written) == report_dict(from_file)
    # the recording as the lead asked: beats, ECG, chest movement and a gap all analysed
    assert from_file.details["breathing_source"] == "acc"
    assert from_file.details["gap_events"] == 1 and from_file.details["gaps"] >= 1
    assert len(read_recording(path).events) == len(events)


@pytest.mark.parametrize(
    "event",
    [
        EcgFrame(1.5, 130.0, (-0.0, 2.0, 0.0, -3.0)),
        AccFrame(2.25, 200.0, ((-0.0, 1.0, 2.0), (3.0, -0.0, 0.0))),
        EcgFrame(1.5, 130.0, (-0.5, -0.0)),  # not integral: the general path
        RRIntervals(3.0, (1000, 999.5)),  # integers read back as floats
    ],
)
def test_read_back_is_what_a_reader_reads(event: Event) -> None:
    line = event_line(event)
    read = decode_event(Fields(parse_object(line.rstrip(b"\n")), line_number=2))
    back = read_back(event)
    assert back == read
    # equal, and the same spelling: -0.0 is not 0.0 in a repr
    assert repr(back) == repr(read) or back == event


def test_session_summary_is_analyze_of_its_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Contact dropouts give gaps; ECG and ACC on: the summary gathered while writing must
    # still equal `analyze` of the closed file, key for key.
    out = tmp_path / "s.jsonl.gz"
    sim = "sim:seed=4,resonance=5.5,dropouts=1.5,dropout_s=8"
    argv = ["--source", sim, "--minutes", "3", "--rate", "5.5", "--speed", "max"]
    assert main(["session", *argv, "--out", str(out), "--json"]) == 0
    summary: dict[str, Any] = json.loads(capsys.readouterr().out)["summary"]
    report = report_dict(analyze_file(out, AnalysisSettings()))
    assert report["settings"]["gaps"] >= 1
    assert {k: summary[k] for k in report["summary"]} == report["summary"]
    assert summary["breathing_source"] == report["settings"]["breathing_source"] == "acc"
    assert summary["notes"] == report["settings"]["notes"]
