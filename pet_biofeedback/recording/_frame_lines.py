"""ECG and ACC frame lines read many at a time, their sample lists parsed with numpy.

ECG and ACC frames are most lines and nearly all numbers of a recording (a 60-min H10
session: 26 000 frame lines holding 2.6 million samples, against 11 000 other lines). Read
one by one through `json` each sample became a Python int, then a float, then part of a
tuple: about 30 µs a frame, most of a replay's reading. Here the lines of a block are matched
against the exact spelling the writer gives them (`_events_json._frame_line`), and the sample
lists of all matching lines are parsed in one pass of numpy over their bytes.

The fast path only ever takes lines the general path (`_events_json.parse_object` and
`decode_event`) would accept, and gives the same events: a line is taken only if it is

* ``{"t":T,"type":"acc","fs":FS,"mg":[[x,y,z],…]}`` or ``{"t":T,"type":"ecg","fs":FS,"uv":[v,…]}``
  byte for byte: these keys in this order, no spaces, no other keys;
* with ``T`` and ``FS`` spelled as JSON floats (a fraction or an exponent, as ``repr`` of a
  float always has), which `json` also turns into ``float(text)``; ``T`` within
  ±`MAX_ABS_VALUE`, ``FS`` within `FS_MIN_HZ`–`FS_MAX_HZ`;
* with at least one sample, every sample a JSON integer (no leading zeros; ``-0`` is 0) of at
  most 10 digits and within ±`MAX_ABS_VALUE`, read as the float of that integer.

Anything else (floats among the samples, spaces, escapes, an empty frame, a value out of
range, a malformed line) is left to the general path, which decides and words the problem.

Each frame keeps its samples as a read-only view of the block's array and, when the writer
would spell it the same (``T`` and ``FS`` as ``repr`` spells their floats, no ``-0`` sample),
its line (`frame_arrays.frame_from_array`): a replay's consumers and its new recording use
them, and its tuple is built only if someone reads it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final, TypeAlias

import numpy as np
import numpy.typing as npt

from pet_biofeedback.events import AccFrame, EcgFrame
from pet_biofeedback.recording._events_json import FS_MAX_HZ, FS_MIN_HZ, MAX_ABS_VALUE
from pet_biofeedback.recording.frame_arrays import frame_from_array

__all__ = ["decode_frame_lines"]

# A JSON number with a fraction or an exponent (what float.__repr__ writes).
_FLOAT: Final = rb"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+(?:[eE][-+]?[0-9]+)?|[eE][-+]?[0-9]+)"
# The frame line as the writer spells it; the sample list is checked in detail below.
_FRAME_LINE: Final = re.compile(
    rb'\{"t":(' + _FLOAT + rb'),"type":"(acc|ecg)","fs":(' + _FLOAT + rb'),"(mg|uv)":\['
    rb"([-0-9,\[\]]+)\]\}"
)
_MAX_DIGITS: Final = 10  # int64 holds any such integer; beyond 1e9 they are refused anyway
_POWERS_OF_TEN: Final = 10 ** np.arange(_MAX_DIGITS + 1, dtype=np.int64)
_COMMA: Final = ord(",")
_MINUS: Final = ord("-")
_ZERO: Final = ord("0")
_NINE: Final = ord("9")
_DIGITS_AND_MINUS: Final = b"-0123456789"
# What is left of an ACC sample list of n triples once its digits and minus signs are gone.
_ACC_SKELETONS: dict[int, bytes] = {}
_MAX_CACHED_SKELETONS: Final = 64
# A line taken: (index, t, fs_hz, number of samples, the line if the writer spells it so).
_Taken: TypeAlias = tuple[int, float, float, int, bytes | None]


def _acc_skeleton(n_triples: int) -> bytes:
    skeleton = _ACC_SKELETONS.get(n_triples)
    if skeleton is None:
        skeleton = b"],".join([b"[,,"] * n_triples) + b"]"
        if len(_ACC_SKELETONS) < _MAX_CACHED_SKELETONS:
            _ACC_SKELETONS[n_triples] = skeleton
    return skeleton


def _parse_integers(flat: bytes) -> npt.NDArray[np.int64] | None:
    """The integers of ``flat`` (JSON integers separated by single commas); None unless every
    one is a JSON integer of at most `_MAX_DIGITS` digits."""
    b = np.frombuffer(flat, dtype=np.uint8)
    n = b.size
    commas = np.flatnonzero(b == _COMMA)
    ends = np.empty(commas.size + 1, dtype=np.intp)  # one past each integer's last digit
    ends[:-1] = commas
    ends[-1] = n
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = commas + 1
    if np.any(starts >= ends):  # an empty one: ",," or a comma at an end
        return None
    negative = b[starts] == _MINUS
    n_digits = ends - starts - negative
    if n_digits.min() < 1 or n_digits.max() > _MAX_DIGITS:
        return None
    # Every byte that is not a separating comma or a leading minus must be a digit: counting
    # the digits checks them all at once.
    if int(np.count_nonzero((b >= _ZERO) & (b <= _NINE))) != int(n_digits.sum()):
        return None
    if np.any((b[ends - n_digits] == _ZERO) & (n_digits > 1)):
        return None  # a leading zero: not JSON
    # Digit by digit from the right, for all integers at once (per integer, not per byte:
    # most have three or four digits).
    values = (b[ends - 1] - _ZERO).astype(np.int64)
    for k in range(1, int(n_digits.max())):
        longer = n_digits > k
        at = np.where(longer, ends - 1 - k, 0)
        values += np.where(longer, b[at] - _ZERO, 0) * _POWERS_OF_TEN[k]
    values[negative] *= -1
    return values


def decode_frame_lines(lines: Sequence[bytes | None]) -> list[AccFrame | EcgFrame | None]:
    """The event of each line that is an ECG or ACC frame as the writer spells it; None for
    every other line (module docstring: the general path decides those)."""
    found: list[AccFrame | EcgFrame | None] = [None] * len(lines)
    # Per kind: (index, t, fs_hz, number of samples, the line if the writer spells it so) of
    # the lines taken, and their samples.
    acc: list[_Taken] = []
    acc_bodies: list[bytes] = []
    ecg: list[_Taken] = []
    ecg_bodies: list[bytes] = []
    for i, raw in enumerate(lines):
        if raw is None or not raw.endswith(b"]}"):
            continue
        m = _FRAME_LINE.fullmatch(raw)
        if m is None:
            continue
        t_text, kind, fs_text, key, body = m.groups()
        t, fs_hz = float(t_text), float(fs_text)
        if not (abs(t) <= MAX_ABS_VALUE and FS_MIN_HZ <= fs_hz <= FS_MAX_HZ):
            continue
        # The writer spells t and fs as repr does and a sample -0.0 as 0 (leading zeros are
        # refused, so "-0" is a sample -0 or no frame line at all).
        canonical = (
            raw
            if repr(t).encode() == t_text and repr(fs_hz).encode() == fs_text and b"-0" not in body
            else None
        )
        if kind == b"acc" and key == b"mg":
            n_samples = body.count(b"[")
            # Triples of three slots, and nothing outside the brackets ("[1,2,3]4,[…").
            if (
                body.translate(None, _DIGITS_AND_MINUS) != _acc_skeleton(n_samples)
                or body.count(b"],[") != n_samples - 1
                or not body.startswith(b"[")
                or not body.endswith(b"]")
            ):
                continue
            acc.append((i, t, fs_hz, n_samples, canonical))
            acc_bodies.append(body.translate(None, b"[]"))
        elif kind == b"ecg" and key == b"uv" and b"[" not in body and b"]" not in body:
            ecg.append((i, t, fs_hz, body.count(b",") + 1, canonical))
            ecg_bodies.append(body)
    for taken, bodies, n_channels in ((acc, acc_bodies, 3), (ecg, ecg_bodies, 1)):
        if taken and not _place(found, taken, bodies, n_channels) and len(taken) > 1:
            # Some line is not what it looked like: each on its own, to find which.
            for i, *_ in taken:
                found[i] = decode_frame_lines([lines[i]])[0]
    return found


def _place(
    found: list[AccFrame | EcgFrame | None],
    taken: list[_Taken],
    bodies: list[bytes],
    n_channels: int,
) -> bool:
    """Parse the samples of the lines ``taken`` (of one kind) and put their events into
    ``found``; False (nothing put) when some sample is not as the module docstring says."""
    values = _parse_integers(b",".join(bodies))
    if values is None or not np.all(np.abs(values) <= MAX_ABS_VALUE):
        return False
    if n_channels != 1 and values.size % n_channels:
        return False
    block = values.astype(np.float64)
    block.flags.writeable = False  # and so every frame's view of it
    # Each frame's tuple is built from its array only if someone reads it (a replay does not).
    at = 0
    if n_channels == 1:
        for i, t, fs_hz, n_samples, line in taken:
            found[i] = frame_from_array(EcgFrame, t, fs_hz, block[at : at + n_samples], line)
            at += n_samples
        return True
    rows = block.reshape(-1, n_channels)
    for i, t, fs_hz, n_samples, line in taken:
        found[i] = frame_from_array(AccFrame, t, fs_hz, rows[at : at + n_samples], line)
        at += n_samples
    return True
