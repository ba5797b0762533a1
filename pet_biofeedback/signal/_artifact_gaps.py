"""Artifact correction across data gaps: what `correct_rr` does at a break.

The jump between the beats on either side of a gap is not a successive difference (issue 6):
it must neither be judged as an artifact nor bridged by a merge or an interpolation. These
helpers carry a stretch number per beat (non-decreasing) through the correction.
"""

from __future__ import annotations

import numpy as np

from pet_biofeedback.signal._typing import BoolArray, FloatArray, IntArray


def stretch_ids(breaks: IntArray, n: int) -> IntArray:
    """Stretch number of each of ``n`` beats given the first beats of new stretches."""
    seg = np.zeros(n, dtype=np.intp)
    seg[breaks] = 1
    return np.cumsum(seg).astype(np.intp)


def first_beats(seg_id: IntArray) -> IntArray:
    """Index of the first beat of every stretch, 0 included (empty for no beats)."""
    if not seg_id.size:
        return np.empty(0, dtype=np.intp)
    return np.concatenate(([0], np.flatnonzero(np.diff(seg_id)) + 1)).astype(np.intp)


def neutral_gap_drrs(drrs: FloatArray, seg_id: IntArray) -> None:
    """Set dRR of each stretch's first beat to 0 in place (rows offset by the placeholder)."""
    starts = first_beats(seg_id)[1:]
    drrs[starts + 1] = 0.0


def interpolate_in_stretches(nn_ms: FloatArray, bad: BoolArray, seg_id: IntArray) -> FloatArray:
    """Values for the ``bad`` beats from the good beats of their own stretch only.

    As `_artifact_correction._interpolate_bad` (local cubic through two good beats on either
    side, clipped; linear with constant extrapolation at the ends), with the knots limited to
    the bad beat's stretch. A stretch without any good beat keeps its values.
    """
    t_ms = np.cumsum(nn_ms)  # consistent within a stretch, which is all that is used
    good = ~bad
    t_good, v_good, s_good = t_ms[good], nn_ms[good], seg_id[good]
    t_bad, s_bad = t_ms[bad], seg_id[bad]
    g_lo = np.searchsorted(s_good, s_bad, side="left")
    g_hi = np.searchsorted(s_good, s_bad, side="right")
    none = g_hi == g_lo
    k = np.clip(np.searchsorted(t_good, t_bad), g_lo, g_hi)
    n_good = max(t_good.size, 1)
    left = np.clip(k - 1, 0, n_good - 1)
    right = np.clip(k, 0, n_good - 1)
    if not t_good.size:
        return nn_ms[bad].copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = (t_bad - t_good[left]) / (t_good[right] - t_good[left])
        linear = v_good[left] + (v_good[right] - v_good[left]) * frac
    linear = np.where(k == g_lo, v_good[right], linear)
    linear = np.where(k == g_hi, v_good[left], linear)
    out = np.where(none, nn_ms[bad], linear)
    cubic_ok = ~none & (k >= g_lo + 2) & (k <= g_hi - 2)
    if not np.any(cubic_ok):
        return out
    out[cubic_ok] = catmull_rom_clipped(t_good, v_good, t_bad[cubic_ok], k[cubic_ok])
    return out


def catmull_rom_clipped(
    t_good: FloatArray, v_good: FloatArray, t_query: FloatArray, kc: IntArray
) -> FloatArray:
    """Catmull–Rom values at ``t_query`` between knots ``kc - 1`` and ``kc`` (2 ≤ kc ≤ n − 2).

    Catmull–Rom can overshoot next to a jump, so the values never leave the range of the
    four knots around them.
    """
    t0, t1, t2, t3 = t_good[kc - 2], t_good[kc - 1], t_good[kc], t_good[kc + 1]
    y0, y1, y2, y3 = v_good[kc - 2], v_good[kc - 1], v_good[kc], v_good[kc + 1]
    h = t2 - t1
    m1 = (y2 - y0) / (t2 - t0) * h
    m2 = (y3 - y1) / (t3 - t1) * h
    s = (t_query - t1) / h
    s2 = s * s
    s3 = s2 * s
    cubic = (
        (2 * s3 - 3 * s2 + 1) * y1
        + (s3 - 2 * s2 + s) * m1
        + (-2 * s3 + 3 * s2) * y2
        + (s3 - s2) * m2
    )
    low = np.minimum(np.minimum(y0, y1), np.minimum(y2, y3))
    high = np.maximum(np.maximum(y0, y1), np.maximum(y2, y3))
    result: FloatArray = np.clip(cubic, low, high)
    return result
