"""The fast paths for ECG/ACC frame lines (issue 7): reading (`recording._frame_lines`) and
writing (`recording._frame_writing`).

Reading must take only lines the general path accepts, and give the very same events; lines
it leaves alone go to the general path, which decides and words the problem. Writing must
spell a frame byte for byte as `event_line` does, or leave it to `event_line`.
"""

from __future__ import annotations

import dataclasses
import math
import random
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from pet_biofeedback.errors import RecordingError
from pet_biofeedback.events import AccFrame, EcgFrame, Event, HeartRate
from pet_biofeedback.recording import RecordingWriter, read_recording
from pet_biofeedback.recording._events_json import (
    BadLine,
    Fields,
    decode_event,
    event_line,
    parse_object,
)
from pet_biofeedback.recording._frame_lines import decode_frame_lines
from pet_biofeedback.recording._frame_writing import frame_lines
from pet_biofeedback.recording.frame_arrays import kept_array, read_line, with_caches

ACC = event_line(
    AccFrame(12.345, 200.0, ((426.0, -449.0, 782.0), (0.0, -0.0, 1000.0), (-7.0, 10.0, 0.0)))
).rstrip(b"\n")
ECG = event_line(EcgFrame(0.5615384615384615, 130.0, (-120.0, 0.0, 35.0, 1200.0))).rstrip(b"\n")


def general(raw: bytes) -> Event | None:
    """What the general path makes of a line; None when it refuses it or it is no frame."""
    try:
        event = decode_event(Fields(parse_object(raw), line_number=2))
    except BadLine:
        return None
    return event if isinstance(event, AccFrame | EcgFrame) else None


def check_agrees(lines: list[bytes]) -> list[AccFrame | EcgFrame | None]:
    found = decode_frame_lines(lines)
    for raw, fast in zip(lines, found, strict=True):
        if fast is not None:
            slow = general(raw)
            assert slow == fast, raw
            assert repr(slow) == repr(fast), raw  # the sign of zero too
            check_caches(fast, raw)
    return found


def check_caches(fast: AccFrame | EcgFrame, raw: bytes) -> None:
    """The reader's kept array equals the tuple and is read-only; it keeps the line exactly
    when the writer spells the frame so."""
    kept = kept_array(fast)
    assert kept is not None and kept.dtype == np.float64 and not kept.flags.writeable
    if isinstance(fast, EcgFrame):
        assert kept.shape == (len(fast.ecg_uv),) and kept.tolist() == list(fast.ecg_uv)
    else:
        assert kept.shape == (len(fast.acc_mg), 3)
        assert [tuple(row) for row in kept.tolist()] == list(fast.acc_mg)
    assert not np.signbit(kept[kept == 0]).any()  # integers: no -0.0
    fresh = dataclasses.replace(fast)  # equal, made from its fields: no caches
    assert kept_array(fresh) is None and read_line(fresh) is None
    spelled = event_line(fresh)
    if read_line(fast) is None:
        assert spelled != raw + b"\n", raw
    else:
        assert read_line(fast) == raw and spelled == raw + b"\n", raw


def test_the_writers_frame_lines_take_the_fast_path() -> None:
    found = check_agrees([ACC, ECG, b'{"t":1.0,"type":"hr","bpm":60}', ACC])
    assert [type(e) for e in found] == [AccFrame, EcgFrame, type(None), AccFrame]
    assert isinstance(found[0], AccFrame) and found[0].acc_mg[1] == (0.0, 0.0, 1000.0)


@pytest.mark.parametrize(
    "raw",
    [
        ACC.replace(b"[426,", b"[0426,"),  # a leading zero: not JSON
        ACC.replace(b"[426,", b"[-,"),
        ACC.replace(b"[426,", b"[4-26,"),
        ACC.replace(b"[426,", b"[--426,"),
        ACC.replace(b"[426,", b"[,"),
        ACC.replace(b"[426,", b"[426.5,"),  # a float sample: the general path's
        ACC.replace(b"[426,", b"[426, "),
        ACC.replace(b"[426,", b"[12345678901,"),  # beyond ±1e9
        ACC.replace(b"[426,", b"[1000000001,"),
        ACC.replace(b"[426,-449,782]", b"[426,-449]"),
        ACC.replace(b"[426,-449,782]", b"[426,-449,782,1]"),
        ACC.replace(b"[426,-449,782],", b"[426,-449,782]],["),
        ACC.replace(b"1000],", b"1000]3,"),  # found by the mutation test below
        ACC.replace(b"[[426,", b"[5[426,"),
        ACC.replace(b'"t":12.345', b'"t":12'),  # an integer t: left to the general path
        ACC.replace(b'"t":12.345', b'"t":1e999'),
        ACC.replace(b'"fs":200.0', b'"fs":20000.0'),
        ACC.replace(b'"mg"', b'"uv"'),
        ACC.replace(b'"type":"acc"', b'"type":"ecg"'),
        ACC + b" ",
        ECG.replace(b"-120,", b"-120,,"),
        ECG.replace(b"-120,", b"[-120],"),
        ECG.replace(b'"uv":[-120,0,35,1200]', b'"uv":[]'),
        ECG.replace(b"1200]", b"1200,]"),
        ECG.replace(b"-120", b"-0"),  # valid: -0 is 0
        ACC.replace(b'"t":12.345', b'"t":12.3450'),  # valid, but the writer spells 12.345
        ECG.replace(b'"fs":130.0', b'"fs":1.3e2'),
    ],
)
def test_lines_the_fast_path_leaves_or_agrees_on(raw: bytes) -> None:
    found = check_agrees([raw])
    if raw.endswith(b" ") or b"," in raw[-3:-1] or b"0426" in raw:
        assert found == [None]
    # Alone or among good lines: the same answer, and the good lines are still taken.
    assert check_agrees([ACC, raw, ECG])[1] == found[0]


def test_mutated_lines_never_read_as_other_values() -> None:
    rng = random.Random(7)
    alphabet = b"-0123456789,[]. e"
    lines: list[bytes] = []
    for _ in range(20000):
        line = bytearray(rng.choice((ACC, ECG)))
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(line))
            op = rng.random()
            if op < 0.4:
                line[i] = rng.choice(alphabet)
            elif op < 0.7:
                del line[i]
            else:
                line.insert(i, rng.choice(alphabet))
        lines.append(bytes(line))
    n_taken = 0
    for start in range(0, len(lines), 50):  # in blocks, as the reader hands them
        n_taken += sum(e is not None for e in check_agrees(lines[start : start + 50]))
    assert n_taken > 100  # many mutations are still valid frames (a digit for a digit)


# --- writing ---------------------------------------------------------------------------------


def _frames_to_write() -> list[Event]:
    rng = random.Random(3)
    events: list[Event] = []
    for k in range(200):
        t = k * 0.137 + 0.1
        n = rng.choice((1, 2, 36, 73))
        values = [
            float(rng.choice((0, -1, 9, 10, -10, 99, 999, -1000, 123456, 10**9, -(10**9))))
            for _ in range(3 * n)
        ]
        if rng.random() < 0.3:
            values[rng.randrange(len(values))] = -0.0
        components = iter(values)
        events.append(
            AccFrame(t, 200.0, tuple(zip(components, components, components, strict=True)))
        )
        events.append(EcgFrame(t, 130.0, tuple(values[:n])))
    return events


@pytest.mark.parametrize(
    "odd",
    [
        EcgFrame(1.0, 130.0, ()),
        AccFrame(1.0, 200.0, ()),
        EcgFrame(1.0, 130.0, (1.5, 2.0)),  # not integral
        EcgFrame(1.0, 130.0, (1, 2.0)),  # an int: event_line's
        EcgFrame(1.0, 130.0, (True, 2.0)),  # a bool is no number
        EcgFrame(1.0, 130.0, (1e9 + 1, 2.0)),  # too big: event_line refuses it
        EcgFrame(1.0, 130.0, (math.nan, 2.0)),
        EcgFrame(1.0, 130.0, (math.inf,)),
        EcgFrame(1, 130.0, (1.0,)),  # an int t
        EcgFrame(1.0, 0.5, (1.0,)),  # a sample rate out of range
        AccFrame(1.0, 200.0, ((1.0, 2.0),)),  # type: ignore[arg-type]  # not a triple
    ],
)
def test_frame_lines_spell_as_event_line_or_leave_it(odd: Event) -> None:
    events = [*_frames_to_write()[:6], odd, *_frames_to_write()[6:12]]
    lines = frame_lines(events)
    assert lines[6] is None  # left to event_line
    assert all(line is not None for i, line in enumerate(lines) if i != 6)
    for event, line in zip(events, lines, strict=True):
        if line is not None:
            assert line == event_line(event)


def test_frame_lines_spell_every_frame_as_event_line_does() -> None:
    events = _frames_to_write()
    lines = frame_lines(events)
    assert lines == [event_line(e) for e in events]
    for line in lines:  # and they read back through the fast reading path as well
        assert line is not None
        (back,) = decode_frame_lines([line.rstrip(b"\n")])
        assert back == general(line.rstrip(b"\n"))


def test_write_many_writes_the_file_write_writes(tmp_path: Path) -> None:
    events = [*_frames_to_write(), HeartRate(30.0, 61.0), EcgFrame(31.0, 130.0, (0.5,))]
    one, many = tmp_path / "one.jsonl", tmp_path / "many.jsonl"
    started = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
    for path in (one, many):
        with RecordingWriter(path, device={}, settings={}, started_at=started) as writer:
            if path == one:
                for event in events:
                    writer.write(event)
            else:
                writer.write_many(events[:100])
                writer.write_many(events[100:])
    assert one.read_bytes() == many.read_bytes()


def test_write_many_writes_what_comes_before_a_bad_event(tmp_path: Path) -> None:
    events = _frames_to_write()[:10]
    path = tmp_path / "r.jsonl"
    with RecordingWriter(path, device={}, settings={}) as writer:
        with pytest.raises(RecordingError, match="cannot record"):
            writer.write_many([*events[:4], EcgFrame(1.0, 130.0, (math.nan,)), *events[4:]])
        assert writer.n_events == 4
    assert read_recording(path).events == tuple(events[:4])


def test_frames_with_kept_arrays_are_spelled_as_event_line_does() -> None:
    """Every other frame holding its samples as an array (as the simulator's do), in one batch
    with frames of tuples only: the same lines, in the same order."""
    events: list[Event] = []
    for k, event in enumerate(_frames_to_write()):
        assert isinstance(event, AccFrame | EcgFrame)
        if k % 3:
            samples = np.array(
                event.ecg_uv if isinstance(event, EcgFrame) else event.acc_mg, dtype=np.float64
            )
            samples.flags.writeable = False
            if isinstance(event, EcgFrame):
                event = with_caches(dataclasses.replace(event), samples)
            else:
                event = with_caches(dataclasses.replace(event), samples)
            assert kept_array(event) is not None
        events.append(event)
    assert frame_lines(events) == [event_line(dataclasses.replace(e)) for e in events]
