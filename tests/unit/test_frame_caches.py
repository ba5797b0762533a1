"""What a frame's producer keeps on it (`recording.frame_arrays`, events module docstring): the
samples as a read-only array and the line it was read from. A frame made from its fields — by
hand or by `dataclasses.replace` — has neither, so a changed frame is never written, checked or
analysed with the samples of the one it came from.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import pickle
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from pet_biofeedback.events import AccFrame, EcgFrame, Event
from pet_biofeedback.firmware_bridge.sim_config import parse_sim_spec
from pet_biofeedback.firmware_bridge.simulated import SimulatedStrap
from pet_biofeedback.recording import RecordingWriter, read_recording
from pet_biofeedback.recording._events_json import event_line, read_back
from pet_biofeedback.recording._frame_writing import frame_lines
from pet_biofeedback.recording.frame_arrays import (
    acc_mg_array,
    ecg_uv_array,
    frame_from_array,
    kept_array,
    read_line,
    with_caches,
)
from pet_biofeedback.session.frame_samples import FrameSamples
from pet_biofeedback.session.plausibility import PlausibilityGate

STARTED = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
ACC = AccFrame(12.345, 50.0, ((426.0, -449.0, 782.0), (0.0, 1.0, 1000.0)))
ECG = EcgFrame(0.5615384615384615, 130.0, (-120.0, 0.0, 35.0, 1200.0))


def _read_back(tmp_path: Path, events: list[Event]) -> list[Event]:
    """The events as the reader's fast path gives them (with their caches)."""
    path = tmp_path / f"in{len(list(tmp_path.glob('in*')))}.jsonl"
    with RecordingWriter(path, device={}, settings={}, started_at=STARTED) as writer:
        writer.write_many(events)
    return list(read_recording(path).events)


def _written(tmp_path: Path, events: list[Event], *, many: bool) -> list[bytes]:
    path = tmp_path / ("many.jsonl" if many else "one.jsonl")
    with RecordingWriter(path, device={}, settings={}, started_at=STARTED) as writer:
        if many:
            writer.write_many(events)
        else:
            for event in events:
                writer.write(event)
    return path.read_bytes().splitlines()[1:]


def test_frames_read_keep_their_samples_and_line(tmp_path: Path) -> None:
    acc, ecg = _read_back(tmp_path, [ACC, ECG])
    assert isinstance(acc, AccFrame) and isinstance(ecg, EcgFrame)
    assert (acc, ecg) == (ACC, ECG)
    for frame, source in ((acc, ACC), (ecg, ECG)):
        kept = kept_array(frame)
        assert kept is not None and not kept.flags.writeable
        assert read_line(frame) == event_line(source).rstrip(b"\n")
        with pytest.raises(ValueError, match="read-only"):
            kept[0] = 5.0
    assert acc_mg_array(acc).tolist() == [list(xyz) for xyz in ACC.acc_mg]
    assert ecg_uv_array(ecg).tolist() == list(ECG.ecg_uv)


def test_caches_take_no_part_in_value_repr_or_hash(tmp_path: Path) -> None:
    acc, ecg = _read_back(tmp_path, [ACC, ECG])
    assert acc == ACC and hash(acc) == hash(ACC) and repr(acc) == repr(ACC)
    assert ecg == ECG and hash(ecg) == hash(ECG) and repr(ecg) == repr(ECG)
    assert [f.name for f in dataclasses.fields(EcgFrame) if f.init] == ["t", "fs_hz", "ecg_uv"]
    assert AccFrame.__match_args__ == ("t", "fs_hz", "acc_mg")


@pytest.mark.parametrize("many", [True, False])
def test_a_replaced_frame_is_written_with_its_own_values(tmp_path: Path, many: bool) -> None:
    acc, ecg = _read_back(tmp_path, [ACC, ECG])
    assert isinstance(acc, AccFrame) and isinstance(ecg, EcgFrame)
    changed: list[Event] = [
        dataclasses.replace(acc, acc_mg=((1.0, 2.0, 3.0),)),
        dataclasses.replace(ecg, ecg_uv=(7.0, 8.0)),
        dataclasses.replace(acc, t=99.5),  # a new time, the same samples
        dataclasses.replace(ecg, fs_hz=250.0),
        acc,  # unchanged: its own line again
    ]
    for frame in changed[:4]:
        assert isinstance(frame, AccFrame | EcgFrame)
        assert kept_array(frame) is None and read_line(frame) is None
    assert _written(tmp_path, changed, many=many) == [
        event_line(e).rstrip(b"\n") for e in [*changed[:4], ACC]
    ]
    assert b'"mg":[[1,2,3]]' in event_line(changed[0]) and b'"t":99.5' in event_line(changed[2])


def test_the_gate_and_the_summary_see_a_replaced_frames_values(tmp_path: Path) -> None:
    acc, ecg = _read_back(tmp_path, [ACC, ECG])
    assert isinstance(acc, AccFrame) and isinstance(ecg, EcgFrame)
    bad_ecg = dataclasses.replace(ecg, ecg_uv=(1.0, math.nan))
    bad_acc = dataclasses.replace(acc, acc_mg=((1.0, 2.0, 1e12),))
    gate = PlausibilityGate()
    assert gate.filter(ecg) == [ecg] and gate.filter(acc) == [acc]
    assert gate.filter(bad_ecg) == [] and gate.filter(bad_acc) == []
    assert gate.n_frames_skipped == 2
    samples = FrameSamples(3)
    samples.append(
        acc.t, acc.fs_hz, acc_mg_array(dataclasses.replace(acc, acc_mg=((5.0, 6.0, 7.0),)))
    )
    samples.append(acc.t + 1.0, acc.fs_hz, acc_mg_array(acc))
    ((_, values),) = samples.windows()
    assert values.tolist() == [[5.0, 6.0, 7.0], *[list(xyz) for xyz in ACC.acc_mg]]


def test_frames_made_by_hand_work_everywhere(tmp_path: Path) -> None:
    by_hand: list[Event] = [ACC, ECG, EcgFrame(1.0, 130.0, (1, 2)), AccFrame(2.0, 50.0, ())]
    assert all(kept_array(e) is None for e in by_hand if isinstance(e, AccFrame | EcgFrame))
    assert frame_lines(by_hand)[:2] == [event_line(ACC), event_line(ECG)]
    assert _written(tmp_path, by_hand, many=True) == _written(tmp_path, by_hand, many=False)
    built = acc_mg_array(ACC)
    assert built.shape == (2, 3) and not built.flags.writeable
    assert acc_mg_array(AccFrame(2.0, 50.0, ())).shape == (0, 3)
    assert ecg_uv_array(EcgFrame(1.0, 130.0, (1, 2))).tolist() == [1.0, 2.0]
    with pytest.raises(ValueError):
        acc_mg_array(AccFrame(1.0, 50.0, ((1.0, 2.0),)))  # type: ignore[arg-type]
    assert [read_back(e) for e in by_hand] == by_hand


def test_only_read_only_float64_arrays_are_kept() -> None:
    writable = np.array([1.0, 2.0])
    with pytest.raises(ValueError, match="read-only float64"):
        with_caches(EcgFrame(1.0, 130.0, (1.0, 2.0)), writable)
    ints = np.array([1, 2])
    ints.flags.writeable = False
    with pytest.raises(ValueError, match="read-only float64"):
        with_caches(EcgFrame(1.0, 130.0, (1.0, 2.0)), ints)


def test_a_kept_minus_zero_still_reads_back_as_zero() -> None:
    samples = np.array([-0.0, 5.0])
    samples.flags.writeable = False
    frame = with_caches(EcgFrame(1.0, 130.0, (-0.0, 5.0)), samples)
    assert (
        event_line(frame) == frame_lines([frame])[0] == event_line(EcgFrame(1.0, 130.0, (0.0, 5.0)))
    )
    back = read_back(frame)
    assert isinstance(back, EcgFrame) and math.copysign(1.0, back.ecg_uv[0]) == 1.0
    assert not np.signbit(ecg_uv_array(back)).any()


def test_simulated_frames_keep_arrays_equal_to_their_tuples() -> None:
    async def events() -> list[Event]:
        strap = SimulatedStrap(parse_sim_spec("sim:seed=3,duration=5"), speed=math.inf)
        async with strap:
            return [e async for e in strap]

    frames = [e for e in asyncio.run(events()) if isinstance(e, AccFrame | EcgFrame)]
    assert {type(f) for f in frames} == {AccFrame, EcgFrame}
    for frame in frames:
        kept = kept_array(frame)
        assert kept is not None and not kept.flags.writeable and read_line(frame) is None
        if isinstance(frame, EcgFrame):
            assert kept.tolist() == list(frame.ecg_uv)
        else:
            assert [tuple(row) for row in kept.tolist()] == list(frame.acc_mg)


def _tuple_built(frame: AccFrame | EcgFrame) -> bool:
    """Whether the frame's tuple slot is filled (read past the frame's __getattr__)."""
    slot = type(frame).__dict__["ecg_uv" if isinstance(frame, EcgFrame) else "acc_mg"]
    try:
        slot.__get__(frame, type(frame))
    except AttributeError:
        return False
    return True


def test_a_read_frames_tuple_is_built_when_first_read(tmp_path: Path) -> None:
    acc, ecg = _read_back(tmp_path, [ACC, ECG])
    assert isinstance(acc, AccFrame) and isinstance(ecg, EcgFrame)
    assert not _tuple_built(acc) and not _tuple_built(ecg)
    assert acc.acc_mg == ACC.acc_mg and acc.acc_mg is acc.acc_mg  # built once, then kept
    assert all(type(xyz) is tuple and all(type(v) is float for v in xyz) for xyz in acc.acc_mg)
    assert ecg.ecg_uv == ECG.ecg_uv and _tuple_built(ecg)
    with pytest.raises(AttributeError, match="no attribute 'acc_uv'"):
        ecg.acc_uv  # type: ignore[attr-defined]  # noqa: B018
    lazy = _read_back(tmp_path, [ACC, ECG])
    assert lazy == [ACC, ECG] and repr(lazy) == repr([ACC, ECG])
    assert pickle.loads(pickle.dumps(lazy)) == [ACC, ECG]
    (lazy_acc,) = _read_back(tmp_path, [ACC])
    assert isinstance(lazy_acc, AccFrame)
    moved = dataclasses.replace(lazy_acc, t=1.0)
    assert moved.acc_mg == ACC.acc_mg and kept_array(moved) is None


def test_a_replay_never_builds_the_tuples(tmp_path: Path) -> None:
    from pet_biofeedback.session.analysis import RecordingAccumulator
    from pet_biofeedback.session.ecg_breathing import EcgBreathingWindow
    from pet_biofeedback.session.engine import _AccWindow

    events = _read_back(tmp_path, [ACC, ECG] * 50)
    frames = [e for e in events if isinstance(e, AccFrame | EcgFrame)]
    gate, gathered = PlausibilityGate(), RecordingAccumulator()
    acc_window, ecg_window = _AccWindow(), EcgBreathingWindow()
    for frame in frames:
        assert gate.filter(frame) == [frame]
        gathered.event(read_back(frame))
        if isinstance(frame, AccFrame):
            acc_window.add(frame)
        else:
            ecg_window.add(frame)
    assert acc_window.window() is not None
    assert _written(tmp_path, events, many=True) == [event_line(e).rstrip(b"\n") for e in events]
    assert not any(_tuple_built(f) for f in frames[:-2])  # the last two: event_line above


def test_frame_from_array_checks_the_array() -> None:
    rows = np.zeros((2, 2))
    rows.flags.writeable = False
    with pytest.raises(ValueError, match="do not fit"):
        frame_from_array(AccFrame, 1.0, 50.0, rows)
    with pytest.raises(ValueError, match="do not fit"):
        frame_from_array(EcgFrame, 1.0, 130.0, rows)
    with pytest.raises(ValueError, match="read-only float64"):
        frame_from_array(EcgFrame, 1.0, 130.0, np.zeros(2))
