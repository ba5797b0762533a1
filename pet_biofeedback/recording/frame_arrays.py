"""The samples of ECG and ACC frames as arrays, and the line a frame was read from.

A frame's producer often holds its samples as an array already (the reader parses a block of
lines with numpy, the simulator and the BLE decoder compute arrays) and the reader holds the
very line it parsed. `with_caches` keeps them on a frame (`pet_biofeedback.events`, "What a
frame's producer already has"), and `frame_from_array` makes a frame whose tuple is built from
the array only when someone reads it. `ecg_uv_array` and `acc_mg_array` give every consumer
the array, the kept one or one built from the tuple, and `frame_n_samples` the frame's length, so
that a frame is converted at most once and a hand-made frame of tuples works everywhere;
`read_line` gives the writer the line to write again verbatim.
"""

from __future__ import annotations

from typing import TypeAlias, TypeVar, cast

import numpy as np
import numpy.typing as npt

from pet_biofeedback.events import AccFrame, EcgFrame

__all__ = [
    "acc_mg_array",
    "ecg_uv_array",
    "frame_from_array",
    "frame_n_samples",
    "kept_array",
    "read_line",
    "with_caches",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]
_Frame = TypeVar("_Frame", EcgFrame, AccFrame)


def _check_kept(samples: FloatArray) -> None:
    if samples.flags.writeable or samples.dtype != np.float64:
        raise ValueError("a frame's sample array must be read-only float64")


def with_caches(frame: _Frame, samples: FloatArray, line: bytes | None = None) -> _Frame:
    """``frame`` holding ``samples`` (its samples as an array: ECG shape ``(n,)``, ACC
    ``(n, 3)``) and ``line`` (the recording line it was read from, without the newline, when
    the writer spells the frame exactly so; else None).

    The producer guarantees both: ``samples`` float64, equal to the frame's tuple value for
    value, and not writable (a view of a read-only array is not).
    """
    _check_kept(samples)
    # The caches are no fields of the frozen frame's value (events module docstring).
    object.__setattr__(frame, "_array", samples)
    object.__setattr__(frame, "_line", line)
    return frame


def frame_from_array(
    kind: type[_Frame], t: float, fs_hz: float, samples: FloatArray, line: bytes | None = None
) -> _Frame:
    """A frame of ``kind`` holding ``samples`` and ``line`` as `with_caches` would, its tuple
    (``ecg_uv`` / ``acc_mg``) built from ``samples`` when first read (events module docstring).

    ``samples`` as for `with_caches`, of shape ``(n,)`` for ECG and ``(n, 3)`` for ACC.
    """
    _check_kept(samples)
    if samples.ndim != (1 if kind is EcgFrame else 2) or samples.shape[1:] not in ((), (3,)):
        raise ValueError(f"samples of shape {samples.shape} do not fit a {kind.__name__}")
    frame = kind.__new__(kind)
    # Every field but the tuple: its slot stays empty until the frame's __getattr__ fills it.
    object.__setattr__(frame, "t", t)
    object.__setattr__(frame, "fs_hz", fs_hz)
    object.__setattr__(frame, "_array", samples)
    object.__setattr__(frame, "_line", line)
    return frame


def frame_n_samples(frame: EcgFrame | AccFrame) -> int:
    """The number of samples of ``frame`` (without building its tuple)."""
    kept = kept_array(frame)
    if kept is not None:
        return len(kept)
    return len(frame.ecg_uv) if isinstance(frame, EcgFrame) else len(frame.acc_mg)


def ecg_uv_array(frame: EcgFrame) -> FloatArray:
    """The frame's ``ecg_uv`` as a read-only float64 array, shape ``(n,)``."""
    kept = kept_array(frame)
    if kept is not None:
        return kept
    samples = np.array(frame.ecg_uv, dtype=np.float64)
    samples.flags.writeable = False
    return samples


def acc_mg_array(frame: AccFrame) -> FloatArray:
    """The frame's ``acc_mg`` as a read-only float64 array, shape ``(n, 3)``.

    Raises
    ------
    ValueError
        Some sample is not an ``(x, y, z)`` triple.
    """
    kept = kept_array(frame)
    if kept is not None:
        return kept
    samples = np.array(frame.acc_mg, dtype=np.float64).reshape(len(frame.acc_mg), 3)
    samples.flags.writeable = False
    return samples


def kept_array(frame: EcgFrame | AccFrame) -> FloatArray | None:
    """The array its producer kept on ``frame`` (`with_caches`); None for a frame without."""
    return cast(FloatArray | None, frame._array)


def read_line(frame: EcgFrame | AccFrame) -> bytes | None:
    """The recording line ``frame`` was read from, spelled exactly as the writer spells the
    frame (no newline); None for a frame made any other way."""
    return frame._line
