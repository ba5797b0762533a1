"""Coerce-then-validate helpers used once at each public entry point of the signal core."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pet_biofeedback.errors import SignalInputError
from pet_biofeedback.signal._typing import FloatArray, IntArray


def as_1d_float(x: npt.ArrayLike, name: str, *, positive: bool = False) -> FloatArray:
    """Return ``x`` as a new-or-shared float64 1-D array, finite (and > 0 if asked).

    Raises `SignalInputError` naming the parameter otherwise. Never mutates ``x``.
    """
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SignalInputError(f"{name} must be numeric: {exc}") from exc
    if arr.ndim != 1:
        raise SignalInputError(f"{name} must be 1-D, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise SignalInputError(f"{name} must be finite (no NaN or inf)")
    if positive and arr.size and np.min(arr) <= 0:
        raise SignalInputError(f"{name} must be positive")
    return arr


def check_choice(value: str, name: str, choices: tuple[str, ...]) -> str:
    """Raise `SignalInputError` listing the valid values unless ``value`` is one of them."""
    if value not in choices:
        raise SignalInputError(f"unknown {name} {value!r}; valid: {', '.join(choices)}")
    return value


def check_windows(
    start_idx: npt.ArrayLike, stop_idx: npt.ArrayLike, n: int
) -> tuple[IntArray, IntArray]:
    """Validate beat-index windows [start, stop) against a series of ``n`` beats."""
    try:
        start = np.asarray(start_idx, dtype=np.intp)
        stop = np.asarray(stop_idx, dtype=np.intp)
    except (TypeError, ValueError) as exc:
        raise SignalInputError(f"start_idx and stop_idx must be integer arrays: {exc}") from exc
    if start.ndim != 1 or start.shape != stop.shape:
        raise SignalInputError("start_idx and stop_idx must be 1-D arrays of equal length")
    if start.size and (np.min(start) < 0 or np.max(stop) > n or np.any(stop < start)):
        raise SignalInputError(f"windows must satisfy 0 <= start <= stop <= {n}")
    return start, stop
