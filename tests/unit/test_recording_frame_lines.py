"""The reader's fast path for ECG/ACC frame lines (`recording._frame_lines`, issue 7).

It must take only lines the general path accepts, and give the very same events; lines it
leaves alone go to the general path, which decides and words the problem.
"""

from __future__ import annotations

import random

import pytest

from pet_biofeedback.events import AccFrame, EcgFrame, Event
from pet_biofeedback.recording._events_json import (
    BadLine,
    Fields,
    decode_event,
    event_line,
    parse_object,
)
from pet_biofeedback.recording._frame_lines import decode_frame_lines

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
    return found


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
