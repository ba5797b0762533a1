"""Contiguous stretches of beats: where a series breaks (a data gap) and what that means.

A recording with dropouts is several stretches of consecutive beats. A successive difference
between the last beat before a gap and the first beat after it is not a successive difference
(issue 6): measures built on neighbours must leave it out, and windows that span a break are
cut into pieces at it. A break is given as the index of the first beat of a new stretch.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pet_biofeedback.errors import SignalInputError
from pet_biofeedback.signal._typing import BoolArray, IntArray


def as_breaks(segment_start_idx: npt.ArrayLike | None, n: int) -> IntArray:
    """Validated break indices: strictly increasing, inside (0, n); index 0 is dropped.

    ``None`` means one stretch (no breaks).
    """
    if segment_start_idx is None:
        return np.empty(0, dtype=np.intp)
    try:
        idx = np.asarray(segment_start_idx, dtype=np.intp)
    except (TypeError, ValueError) as exc:
        raise SignalInputError(f"segment_start_idx must be integers: {exc}") from exc
    if idx.ndim != 1:
        raise SignalInputError("segment_start_idx must be 1-D")
    if idx.size and (np.any(np.diff(idx) <= 0) or idx[0] < 0 or idx[-1] > max(n - 1, 0)):
        raise SignalInputError(
            f"segment_start_idx must be strictly increasing beat indices in 0…{max(n - 1, 0)}"
        )
    return idx[idx > 0]


def diff_ok(breaks: IntArray, n: int) -> BoolArray:
    """Mask of the n − 1 successive differences that lie inside one stretch."""
    ok = np.ones(max(n - 1, 0), dtype=bool)
    ok[breaks - 1] = False  # difference breaks[k] − 1 → breaks[k] spans the gap
    return ok


def stretch_stop(breaks: IntArray, n: int, idx: IntArray) -> IntArray:
    """Index one past the last beat of the stretch that holds each beat index ``idx``."""
    bounds = np.append(breaks, n).astype(np.intp)
    return bounds[np.searchsorted(breaks, idx, side="right")]


def split_windows(
    start: IntArray, stop: IntArray, breaks: IntArray
) -> tuple[IntArray, IntArray, IntArray]:
    """Cut beat-index windows [start, stop) at the breaks inside them.

    Returns (owner window, piece start, piece stop), one entry per piece, windows in order;
    without breaks every window is its own single piece. Vectorised (ragged ranges).
    """
    lo = np.searchsorted(breaks, start, side="right")
    hi = np.searchsorted(breaks, stop, side="left")
    inner = np.maximum(hi - lo, 0)
    counts = inner + 1
    owner = np.repeat(np.arange(start.size, dtype=np.intp), counts)
    k = np.arange(owner.size, dtype=np.intp) - np.repeat(np.cumsum(counts) - counts, counts)
    is_first = k == 0
    is_last = k == counts[owner] - 1
    if breaks.size:
        top = breaks.size - 1
        b_before = breaks[np.clip(lo[owner] + k - 1, 0, top)]
        b_after = breaks[np.clip(lo[owner] + k, 0, top)]
    else:
        b_before, b_after = start[owner], stop[owner]
    p_start = np.where(is_first, start[owner], b_before).astype(np.intp)
    p_stop = np.where(is_last, stop[owner], b_after).astype(np.intp)
    return owner, p_start, p_stop
