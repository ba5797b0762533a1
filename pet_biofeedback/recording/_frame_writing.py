"""ECG and ACC frame lines written many at a time, their samples spelled with numpy.

The writer's per-event path (`_events_json.event_line`) spells the integral samples of a
frame one ``%d`` at a time: about 35 µs an ACC frame, most of the recorder thread's time at
``--speed max``. `frame_lines` spells the samples of all frames of a batch in a few numpy
passes over their digits, byte for byte as `event_line` does (a test holds them equal).

Only frames `event_line` would spell on its own fast path are taken here: ``t`` and ``fs_hz``
floats (``fs_hz`` within `FS_MIN_HZ`–`FS_MAX_HZ`, ``|t|`` ≤ `MAX_ABS_VALUE`), at least one
sample, every sample a float with an integral value within ±`MAX_ABS_VALUE` (ACC: triples).
Every other event is left to `event_line`, which also words the refusal of a bad value.

A frame that holds the line it was read from (`frame_arrays.read_line`: a replay writing the
frames it read) is written as that line; one that holds its samples as an array
(`frame_arrays.with_caches`) is spelled from the array, its float values taken as given.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from pet_biofeedback.events import AccFrame, EcgFrame, Event
from pet_biofeedback.recording._events_json import FS_MAX_HZ, FS_MIN_HZ, MAX_ABS_VALUE
from pet_biofeedback.recording.frame_arrays import kept_array, read_line

__all__ = ["frame_lines"]

_FLOAT_ONLY: Final = frozenset({float})
_POWERS_OF_TEN: Final = 10 ** np.arange(10, dtype=np.int64)  # 1 … 1e9: ≤ 10 digits
_COMMA: Final = ord(",")
_OPEN: Final = ord("[")
_CLOSE: Final = ord("]")
_MINUS: Final = ord("-")
_ZERO: Final = ord("0")


def frame_lines(events: Sequence[Event]) -> list[bytes | None]:
    """The line of each ECG/ACC frame this module takes (its docstring), spelled exactly as
    `event_line` spells it; None for every other event."""
    found: list[bytes | None] = [None] * len(events)
    # Per kind: (index, t, fs_hz, number of samples) of the frames taken, and their values.
    acc: list[tuple[int, float, float, int]] = []
    acc_values: list[npt.NDArray[np.float64]] = []
    ecg: list[tuple[int, float, float, int]] = []
    ecg_values: list[npt.NDArray[np.float64]] = []
    for i, event in enumerate(events):
        if not isinstance(event, AccFrame | EcgFrame):
            continue
        line = read_line(event)
        if line is not None:
            found[i] = line + b"\n"
            continue
        t, fs_hz = event.t, event.fs_hz
        if type(t) is not float or type(fs_hz) is not float:
            continue
        if not (abs(t) <= MAX_ABS_VALUE and FS_MIN_HZ <= fs_hz <= FS_MAX_HZ):
            continue
        taken, into = (acc, acc_values) if isinstance(event, AccFrame) else (ecg, ecg_values)
        kept = kept_array(event)
        if kept is not None:  # float64, equal to the tuple's floats (`frame_arrays`)
            n_samples = len(kept)
            if not n_samples:
                continue
            into.append(kept.reshape(-1))
        else:
            if isinstance(event, AccFrame):
                n_samples = len(event.acc_mg)
                if not n_samples or set(map(len, event.acc_mg)) != {3}:
                    continue
                values = list(itertools.chain.from_iterable(event.acc_mg))
            else:
                n_samples = len(event.ecg_uv)
                if not n_samples:
                    continue
                values = list(event.ecg_uv)
            if not _FLOAT_ONLY.issuperset(map(type, values)):  # in C; bools, ints: event_line's
                continue
            into.append(np.array(values, dtype=np.float64))
        taken.append((i, t, fs_hz, n_samples))
    for taken, arrays, kind in ((acc, acc_values, "acc"), (ecg, ecg_values, "ecg")):
        if taken:
            _spell_frames(found, taken, np.concatenate(arrays), kind)
    return found


def _spell_frames(
    found: list[bytes | None],
    taken: list[tuple[int, float, float, int]],
    values: npt.NDArray[np.float64],
    kind: str,
) -> None:
    """Put the lines of the frames ``taken`` (of one kind, their samples ``values`` in order)
    into ``found``, leaving out any frame with a sample that is not integral or too big."""
    n_channels = 3 if kind == "acc" else 1
    n_values = np.array([n for *_, n in taken], dtype=np.intp) * n_channels
    first_value = np.cumsum(n_values) - n_values
    # NaN and infinities fail both tests.
    bad = ~((np.abs(values) <= MAX_ABS_VALUE) & (np.floor(values) == values))
    if bad.any():
        ok = np.add.reduceat(bad, first_value) == 0
        keep = np.repeat(ok, n_values)
        taken = [frame for frame, good in zip(taken, ok.tolist(), strict=True) if good]
        if not taken:
            return
        values, n_values = values[keep], n_values[ok]
        first_value = np.cumsum(n_values) - n_values
    body, body_ends = _spell(values.astype(np.int64), n_values, first_value, n_channels)
    head = b'{"t":%s,"type":"' + kind.encode() + b'","fs":%s,"'
    head += b'mg":[' if kind == "acc" else b'uv":['
    start = 0
    for (i, t, fs_hz, _), end in zip(taken, body_ends.tolist(), strict=True):
        # float.__repr__ is what json writes for a float: the shortest text that reads back
        found[i] = b"".join(
            (head % (repr(t).encode(), repr(fs_hz).encode()), body[start:end], b"]}\n")
        )
        start = end


def _spell(
    values: npt.NDArray[np.int64],
    n_values: npt.NDArray[np.intp],
    first_value: npt.NDArray[np.intp],
    n_channels: int,
) -> tuple[bytes, npt.NDArray[np.intp]]:
    """The sample lists of consecutive frames as JSON text (ECG ``1,-2,3``, ACC
    ``[1,2,3],[4,5,6]``), one after another, and where each frame's text ends.

    Each value gets a row of fixed width: opening bracket, sign and digits right-aligned in
    columns 0 … ``width`` + 1, then a closing bracket or comma and a comma. Filled column by
    column (bytes, a few vector passes per column), the bytes each value needs — a
    contiguous run of its row — are then picked out row after row in one masked copy.
    """
    n = values.size
    magnitude = np.abs(values).astype(np.int32)  # within 1e9: int32 divides faster
    width = len(str(int(magnitude.max(initial=0))))  # digits of the longest
    n_digits = np.ones(n, dtype=np.int8)
    for k in range(1, width):
        n_digits += magnitude >= _POWERS_OF_TEN[k]
    negative = values < 0
    last = np.zeros(n, dtype=bool)
    last[first_value + n_values - 1] = True
    if n_channels == 3:  # frames hold whole triples: the channel follows from the index
        closes = np.tile(np.array([False, False, True]), n // 3)
        # after x and y a comma; after z a bracket, and a comma unless the frame ends
        n_after = np.where(closes & ~last, 2, 1).astype(np.int8)
    else:
        closes = np.zeros(n, dtype=bool)
        n_after = (~last).astype(np.int8)
    n_columns = width + 4
    rows = np.empty((n, n_columns), dtype=np.uint8)
    for k in range(width):  # a scalar divisor: numpy divides without a division per value
        rows[:, width + 1 - k] = (magnitude // np.int32(_POWERS_OF_TEN[k])) % 10 + _ZERO
    rows[:, width + 2] = np.where(closes, _CLOSE, _COMMA)
    rows[:, width + 3] = _COMMA
    first_digit = (width + 2 - n_digits).astype(np.intp)
    flat = rows.reshape(-1)
    row_start = np.arange(0, n * n_columns, n_columns, dtype=np.intp)
    flat[(row_start + first_digit - 1)[negative]] = _MINUS
    first = first_digit - negative  # the row's first byte used
    if n_channels == 3:  # an opening bracket before every x (every third value)
        first[::3] -= 1
        flat[row_start[::3] + first[::3]] = _OPEN
    # the bytes of each row used: a run from ``first`` to ``stop`` (exclusive)
    stop = (width + 2 + n_after).astype(np.int8)
    first_small = first.astype(np.int8)
    keep = np.empty((n, n_columns), dtype=bool)
    for column in range(n_columns):  # long vector passes, not a short one per row
        keep[:, column] = (first_small <= column) & (stop > column)
    ends = np.cumsum(stop - first)
    return rows[keep].tobytes(), ends[last]
