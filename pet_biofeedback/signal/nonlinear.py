"""Nonlinear HRV: Poincaré SD1/SD2, DFA α1 and sample entropy (hrv-methods.md §3).

Each measure has a one-window function and a ``_windows`` twin that computes many beat-index
windows ``[start, stop)`` of one series in a single vectorised pass.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from pet_biofeedback.errors import SignalInputError
from pet_biofeedback.signal._segments import as_breaks, split_windows, stretch_stop
from pet_biofeedback.signal._typing import FloatArray, IntArray
from pet_biofeedback.signal._validate import as_1d_float, check_windows

__all__ = [
    "DFA_ALPHA1_SCALES_BEATS",
    "SAMPEN_M",
    "SAMPEN_R_SD",
    "PoincareMetrics",
    "dfa_alpha1",
    "dfa_alpha1_windows",
    "poincare_metrics",
    "sample_entropy",
    "sample_entropy_windows",
]

DFA_ALPHA1_SCALES_BEATS: Final = tuple(range(4, 17))  # Kubios α1: boxes of 4–16 beats (§3)
SAMPEN_M: Final = 2  # Richman & Moorman 2000 (§3)
SAMPEN_R_SD: Final = 0.2  # r = 0.2 · SD(NN, ddof 1) (§3)
# Templates handled per vectorised chunk of sample-entropy windows: memory is ≈ 100 bytes per
# template (≈ 100 MB), whatever the number of candidate pairs.
_SAMPEN_TEMPLATES_PER_CHUNK: Final = 1_000_000
# (template, rank offset) pairs up to which sample entropy checks all candidates in one 2-D
# band (a 300-beat window: ≈ 20 000) rather than looping over the offsets.
_SAMPEN_BAND_ELEMS: Final = 200_000
# Profile samples up to which DFA gathers every box of every scale in one pass (a few windows);
# above it, one block per scale. Measured crossover on the 2-core VM: ≈ 10 windows of 300 beats.
_DFA_ELEMS_ONE_PASS: Final = 50_000


@dataclass(frozen=True, slots=True, kw_only=True)
class PoincareMetrics:
    """Poincaré plot descriptors (Brennan et al. 2001), NaN below 3 beats.

    Attributes
    ----------
    sd1_ms : float
        SD perpendicular to the identity line: sqrt(½·Var(ΔNN)), ddof 1.
    sd2_ms : float
        SD along the identity line: sqrt(2·Var(NN) − ½·Var(ΔNN)), ddof 1.
    sd1_sd2 : float
        Their ratio.
    n_beats : int
        NN intervals used.
    """

    sd1_ms: float
    sd2_ms: float
    sd1_sd2: float
    n_beats: int


def poincare_metrics(nn_ms: npt.ArrayLike) -> PoincareMetrics:
    """SD1 and SD2 of the Poincaré plot of NN intervals.

    Parameters
    ----------
    nn_ms : array_like, shape (n_beats,)
        NN intervals in ms.

    Returns
    -------
    PoincareMetrics

    Notes
    -----
    SD1² = ½·SDSD², SD2² = 2·SDNN² − ½·SDSD² (hrv-methods.md §3), both with ddof = 1.

    Examples
    --------
    >>> p = poincare_metrics([800.0, 810.0, 790.0, 860.0, 820.0])
    >>> round(p.sd1_ms, 2), round(p.sd2_ms, 2)
    (33.91, 17.61)
    """
    nn = as_1d_float(nn_ms, "nn_ms", positive=True)
    nan = float("nan")
    if nn.size < 3:
        return PoincareMetrics(sd1_ms=nan, sd2_ms=nan, sd1_sd2=nan, n_beats=int(nn.size))
    var_d = float(np.var(np.diff(nn), ddof=1))
    var_nn = float(np.var(nn, ddof=1))
    sd1 = float(np.sqrt(0.5 * var_d))
    sd2 = float(np.sqrt(max(2.0 * var_nn - 0.5 * var_d, 0.0)))
    return PoincareMetrics(
        sd1_ms=sd1, sd2_ms=sd2, sd1_sd2=sd1 / sd2 if sd2 > 0 else nan, n_beats=int(nn.size)
    )


def _ragged_ranges(starts: IntArray, counts: IntArray) -> tuple[IntArray, IntArray]:
    """Flatten ranges ``starts[k] + arange(counts[k])``; return (owner k, value) per element."""
    total = int(np.sum(counts))
    owner = np.repeat(np.arange(counts.size), counts)
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, np.repeat(starts, counts) + offsets


@dataclass(frozen=True, slots=True)
class _BoxLayout:
    """Where the boxes of `_dfa_box_variance_sums` lie: depends on the window layout only."""

    idx: IntArray  # profile sample of every box element, boxes one after another
    box_id: IntArray  # box of every element
    first: IntArray  # first element of every box
    n_f: FloatArray  # box sizes
    xc: FloatArray  # centred position of every element in its box
    sxx: FloatArray  # Σ xc² of every box
    key: IntArray  # (scale, window) cell of every box
    n_cells: int


@functools.lru_cache(maxsize=16)
def _box_layout(
    piece_start: bytes, piece_owner: bytes, counts: bytes, scales: bytes, steps: bytes, n_win: int
) -> _BoxLayout:
    """Box layout from the raw bytes of the intp arrays (hashable, so cached).

    The live refresh analyses a window of the same layout every time (300 beats, no gap):
    index arithmetic is then paid once, not per refresh.
    """
    p_start = np.frombuffer(piece_start, dtype=np.intp)
    p_owner = np.frombuffer(piece_owner, dtype=np.intp)
    flat_counts = np.frombuffer(counts, dtype=np.intp)
    sc = np.frombuffer(scales, dtype=np.intp)
    stp = np.frombuffer(steps, dtype=np.intp)
    cell, box_no = _ragged_ranges(np.zeros(flat_counts.size, dtype=np.intp), flat_counts)
    box_scale = cell // p_start.size
    box_piece = cell % p_start.size
    box_n = sc[box_scale]
    box_start = p_start[box_piece] + box_no * stp[box_scale]
    box_id, idx = _ragged_ranges(box_start, box_n)
    first = np.cumsum(box_n) - box_n
    n_f = box_n.astype(np.float64)
    xc = (idx - box_start[box_id]) - ((box_n - 1) / 2.0)[box_id]
    sxx = n_f * (n_f * n_f - 1.0) / 12.0  # Σ xc² over a box of n
    key = box_scale * n_win + p_owner[box_piece]
    for a in (idx, box_id, first, n_f, xc, sxx, key):
        a.flags.writeable = False
    return _BoxLayout(idx, box_id, first, n_f, xc, sxx, key, sc.size * n_win)


def _dfa_box_variance_sums(
    profile: FloatArray,
    piece_start: IntArray,
    piece_owner: IntArray,
    counts: IntArray,
    scales: IntArray,
    steps: IntArray,
    n_win: int,
) -> FloatArray:
    """Σ over boxes of the line-fit residual variance, per (scale, window), flattened.

    ``counts`` (n_scales, n_pieces) boxes of each scale in each piece; validated inputs.
    Residual sum of squares of the least-squares line without forming the residuals:
    Σ(b − b̄)² − (Σ xc·(b − b̄))² / Σ xc² (the box is centred, so cancellation is small).
    """
    lay = _box_layout(
        *(
            np.ascontiguousarray(a, dtype=np.intp).tobytes()
            for a in (piece_start, piece_owner, counts, scales, steps)
        ),
        n_win,
    )
    y = profile[lay.idx]
    y -= (np.add.reduceat(y, lay.first) / lay.n_f)[lay.box_id]
    ss = np.add.reduceat(y * y, lay.first)
    sxy = np.add.reduceat(y * lay.xc, lay.first)
    box_var = np.maximum(ss - sxy * sxy / lay.sxx, 0.0) / lay.n_f
    return np.asarray(
        np.bincount(lay.key, weights=box_var, minlength=lay.n_cells), dtype=np.float64
    )


def _dfa_box_variances_one_scale(
    profile: FloatArray,
    piece_start: IntArray,
    piece_owner: IntArray,
    counts: IntArray,
    n: int,
    step: int,
) -> tuple[FloatArray, IntArray]:
    """Line-fit residual variance of every box of size ``n`` and the window owning it."""
    cell, box_no = _ragged_ranges(np.zeros(counts.size, dtype=np.intp), counts)
    box_start = piece_start[cell] + box_no * step
    block = profile[box_start[:, None] + np.arange(n)]
    block -= block.mean(axis=1, keepdims=True)
    xc = np.arange(n) - (n - 1) / 2.0
    # Σ(b − b̄)² − (Σ xc·(b − b̄))² / Σ xc², as in `_dfa_box_variance_sums`.
    sxy = block @ xc
    ss = np.einsum("ij,ij->i", block, block)
    box_var = np.maximum(ss - sxy * sxy / np.dot(xc, xc), 0.0) / n
    return np.asarray(box_var, dtype=np.float64), piece_owner[cell]


@dataclass(frozen=True, slots=True)
class _DfaPlan:
    """What `dfa_alpha1` needs for one window of a given length, apart from its values."""

    layout_args: tuple[IntArray, IntArray, IntArray, IntArray, IntArray, int]
    box_counts: FloatArray
    lxc: FloatArray
    lxc_sq: float


@functools.lru_cache(maxsize=8)
def _dfa_one_plan(n: int, scales_beats: tuple[int, ...], overlap: bool) -> _DfaPlan | None:
    """`dfa_alpha1_windows`' layout of one window [0, n) (the live refresh: always 300).

    None when the general path must run: invalid scales (it raises), a window too short (it
    returns NaN) or too long for the one-pass box gather.
    """
    scales = np.asarray(scales_beats, dtype=np.intp)
    if scales.size < 2 or np.min(scales) < 3 or n < 2 * int(np.max(scales)):
        return None
    steps = np.maximum(scales // 2, 1) if overlap else scales
    length = np.array([n], dtype=np.intp)
    if overlap:
        counts = np.maximum((length[None, :] - scales[:, None] + steps[:, None] - 1), 0)
        counts //= steps[:, None]
    else:
        counts = length[None, :] // scales[:, None]
    if int((counts * scales[:, None]).sum()) > _DFA_ELEMS_ONE_PASS:
        return None
    zero = np.zeros(1, dtype=np.intp)
    cell = (np.arange(scales.size)[:, None] * 1 + zero[None, :]).ravel()
    box_counts = np.bincount(cell, weights=counts.ravel(), minlength=scales.size).astype(np.float64)
    lx = np.log2(scales.astype(np.float64))
    lxc = lx - lx.mean()
    return _DfaPlan(
        (zero, zero, counts, scales, steps, 1), box_counts, lxc, float(np.dot(lxc, lxc))
    )


def dfa_alpha1_windows(
    nn_ms: npt.ArrayLike,
    start_idx: npt.ArrayLike,
    stop_idx: npt.ArrayLike,
    *,
    scales_beats: tuple[int, ...] = DFA_ALPHA1_SCALES_BEATS,
    overlap: bool = True,
    segment_start_idx: npt.ArrayLike | None = None,
) -> FloatArray:
    """DFA short-term scaling exponent α1 for many windows in one call.

    Parameters
    ----------
    nn_ms : array_like, shape (n_beats,)
        NN intervals in ms.
    start_idx, stop_idx : array_like of int, shape (n_windows,)
        Half-open beat-index windows.
    scales_beats : tuple of int
        Box sizes in beats (default 4–16, Kubios α1).
    overlap : bool
        Boxes advance by half their size (True, as NeuroKit2's ``fractal_dfa``) or tile the
        window without overlap (False, Peng et al. 1995).
    segment_start_idx : array_like of int, optional
        First beat of each contiguous stretch (a data gap before it). A window that spans a
        gap is cut at it; boxes are laid out in each piece of at least
        ``2 · max(scales_beats)`` beats and never span a gap, and F(n) pools the boxes of all
        such pieces. Default: one stretch.

    Returns
    -------
    ndarray, shape (n_windows,)
        α1, NaN when a window has no piece of at least ``2 · max(scales_beats)`` beats.

    Notes
    -----
    The profile of a window is the cumulative sum of its mean-removed NN intervals. Because
    that profile differs from the cumulative sum of the whole series only by a straight line
    in the beat index, and each box removes its own least-squares line, all windows can share
    one global cumulative sum: the residuals are identical. Every box of every window at one
    scale is then gathered into one (boxes × scale) block and fitted at once; the slope of
    log2 F(n) on log2 n is a fixed linear combination over the scales.
    """
    nn = as_1d_float(nn_ms, "nn_ms", positive=True)
    start, stop = check_windows(start_idx, stop_idx, nn.size)
    scales = np.asarray(scales_beats, dtype=np.intp)
    if scales.size < 2 or np.min(scales) < 3:
        raise SignalInputError("scales_beats needs at least two box sizes of 3 beats or more")
    n_win = start.size
    out = np.full(n_win, np.nan)
    if n_win == 0 or nn.size == 0:
        return out
    breaks = as_breaks(segment_start_idx, nn.size)
    # Pieces of the windows between gaps; without gaps each window is its own piece.
    piece_owner, start, stop = split_windows(start, stop, breaks)
    profile = np.concatenate(([0.0], np.cumsum(nn - np.mean(nn))))[1:]
    length = stop - start
    piece_valid = length >= 2 * int(np.max(scales))
    valid = np.bincount(piece_owner[piece_valid], minlength=n_win) > 0
    steps = np.maximum(scales // 2, 1) if overlap else scales
    # Boxes per (scale, piece). NeuroKit2: boxes start at 0, step, … while start < length − n
    # (strict); without overlap the window is tiled.
    if overlap:
        counts = np.maximum((length[None, :] - scales[:, None] + steps[:, None] - 1), 0)
        counts //= steps[:, None]
    else:
        counts = length[None, :] // scales[:, None]
    counts = np.where(piece_valid[None, :], counts, 0)
    sum_var = np.zeros(scales.size * n_win)
    elems_per_piece = (counts * scales[:, None]).sum(axis=0)
    if int(elems_per_piece.sum()) <= _DFA_ELEMS_ONE_PASS:
        # Few windows (the live refresh): all scales in one gather and three segment sums;
        # a dozen numpy calls instead of a dozen per scale.
        sum_var += _dfa_box_variance_sums(profile, start, piece_owner, counts, scales, steps, n_win)
    else:
        # Many windows: one (boxes × n) block per scale, reduced by BLAS, is faster than
        # segment sums over millions of gathered samples.
        for si, n in enumerate(scales):  # a fixed handful of scales, not beats or windows
            box_var, owner = _dfa_box_variances_one_scale(
                profile, start, piece_owner, counts[si], int(n), int(steps[si])
            )
            sum_var[si * n_win : (si + 1) * n_win] = np.bincount(
                owner, weights=box_var, minlength=n_win
            )
    cell = (np.arange(scales.size)[:, None] * n_win + piece_owner[None, :]).ravel()
    box_counts = np.bincount(cell, weights=counts.ravel(), minlength=scales.size * n_win)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_f = 0.5 * np.log2((sum_var / box_counts).reshape(scales.size, n_win))
    lx = np.log2(scales.astype(np.float64))
    lxc = lx - lx.mean()
    with np.errstate(invalid="ignore"):  # a window with no fluctuation (log F = −inf) → NaN
        alpha = (lxc @ (log_f - log_f.mean(axis=0))) / np.dot(lxc, lxc)
    out[valid] = alpha[valid]
    return out


def dfa_alpha1(
    nn_ms: npt.ArrayLike,
    *,
    scales_beats: tuple[int, ...] = DFA_ALPHA1_SCALES_BEATS,
    overlap: bool = True,
) -> float:
    """DFA α1 (Peng et al. 1995) of one NN series; NaN below 2 · max(scales) beats.

    See `dfa_alpha1_windows` for the parameters and method.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = dfa_alpha1(800.0 + 30.0 * rng.standard_normal(2000))
    >>> 0.4 < a < 0.6  # white noise has α ≈ 0.5
    True
    """
    nn = as_1d_float(nn_ms, "nn_ms", positive=True)
    plan = _dfa_one_plan(nn.size, tuple(int(s) for s in scales_beats), overlap)
    if plan is None:
        return float(
            dfa_alpha1_windows(nn, [0], [nn.size], scales_beats=scales_beats, overlap=overlap)[0]
        )
    # `dfa_alpha1_windows` for the window [0, n) with the same operations, the layout-only
    # parts taken from the plan.
    profile = np.cumsum(nn - np.mean(nn))
    sum_var = _dfa_box_variance_sums(profile, *plan.layout_args)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_f = 0.5 * np.log2((sum_var / plan.box_counts).reshape(plan.lxc.size, 1))
    with np.errstate(invalid="ignore"):
        alpha = (plan.lxc @ (log_f - log_f.mean(axis=0))) / plan.lxc_sq
    return float(alpha[0])


def sample_entropy_windows(
    nn_ms: npt.ArrayLike,
    start_idx: npt.ArrayLike,
    stop_idx: npt.ArrayLike,
    *,
    r_sd: float = SAMPEN_R_SD,
    segment_start_idx: npt.ArrayLike | None = None,
) -> FloatArray:
    """Sample entropy (m = 2, r = ``r_sd`` · SD) of many windows in one call.

    Parameters
    ----------
    nn_ms : array_like, shape (n_beats,)
        NN intervals in ms.
    start_idx, stop_idx : array_like of int, shape (n_windows,)
        Half-open beat-index windows.
    r_sd : float
        Tolerance as a multiple of the window's SD (ddof 1).
    segment_start_idx : array_like of int, optional
        First beat of each contiguous stretch (a data gap before it). Templates never span a
        gap: in each piece of a window between gaps, templates start where all m + 1 values
        lie in that piece, as in a window of its own. r uses the SD of the whole window.
        Default: one stretch.

    Returns
    -------
    ndarray, shape (n_windows,)
        SampEn = −ln(A/B); NaN when A or B is zero or the window has fewer than 2 templates.

    Notes
    -----
    Richman & Moorman (2000), as NeuroKit2's ``entropy_sample``: the N − m templates of
    length m and of length m + 1 start at the same indices; B and A count template pairs
    (self-matches excluded) whose Chebyshev distance is ≤ r. Instead of all N² pairs,
    the values of every window are sorted once (all windows together) and only pairs whose
    first elements lie within r are visited (about 10 % of all pairs for r = 0.2·SD), then
    checked on the remaining template elements. They are visited one rank offset at a time
    (the pairs of sorted positions ``i`` and ``i + d``, for every ``i`` at once): a few dozen
    passes over arrays of one entry per template, instead of one array per candidate pair.
    With few templates (one live window) all offsets form one 2-D band checked in one pass.
    """
    x = as_1d_float(nn_ms, "nn_ms", positive=True)
    if r_sd <= 0:
        raise SignalInputError("r_sd must be positive")
    start, stop = check_windows(start_idx, stop_idx, x.size)
    m = SAMPEN_M
    n_win = start.size
    out = np.full(n_win, np.nan)
    breaks = as_breaks(segment_start_idx, x.size)
    n_templates = np.maximum(stop - start - m, 0)
    if breaks.size:
        # Each piece between gaps loses its own last m start positions.
        owner, p_start, p_stop = split_windows(start, stop, breaks)
        n_templates = np.bincount(
            owner, weights=np.maximum(p_stop - p_start - m, 0), minlength=n_win
        ).astype(np.intp)
    valid = n_templates >= 2
    if not np.any(valid):
        return out
    c = x - np.mean(x)
    s1 = np.concatenate(([0.0], np.cumsum(c)))
    s2 = np.concatenate(([0.0], np.cumsum(c * c)))
    ln = (stop - start).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        w1 = s1[stop] - s1[start]
        var = np.maximum(s2[stop] - s2[start] - w1 * w1 / ln, 0.0) / (ln - 1)
    r = r_sd * np.sqrt(var)
    valid &= r > 0
    idx_valid = np.flatnonzero(valid)
    counts_b = np.zeros(n_win)
    counts_a = np.zeros(n_win)
    # Chunks of windows keep the per-template arrays within a memory bound; the number of
    # chunks grows with the data only through that bound (24 h of 5-min windows: one chunk).
    chunk_id = np.cumsum(n_templates[idx_valid]) // _SAMPEN_TEMPLATES_PER_CHUNK
    # chunk_id never decreases; its distinct values without np.unique (which imports numpy.ma).
    for cid in chunk_id[np.flatnonzero(np.diff(chunk_id, prepend=-1))]:
        wins = idx_valid[chunk_id == cid]
        b, a = _sampen_counts(x, start[wins], stop[wins] - start[wins] - m, r[wins], breaks)
        counts_b[wins] = b
        counts_a[wins] = a
    with np.errstate(divide="ignore", invalid="ignore"):
        se = -np.log(counts_a / counts_b)
    ok = valid & (counts_a > 0) & (counts_b > 0)
    out[ok] = se[ok]
    return out


def _band_match_counts(
    v0: FloatArray,
    v1: FloatArray,
    v2: FloatArray,
    r_s: FloatArray | float,
    n_cand: IntArray,
    max_cand: int,
) -> tuple[IntArray, IntArray]:
    """Matches of every sorted template with its candidates, all in one 2-D band.

    Row d − 1, column i is the pair (i, i + d), d = 1 … ``max_cand``; only d ≤ n_cand[i]
    counts. Few templates (the live refresh): one pass instead of one per offset. The band
    is a strided view of the values (padded past the end), not a gather; rows run over the
    templates, so every numpy loop is long; comparisons run in place on one scratch array.
    """
    n = v0.size
    padded = np.full((3, n - 1 + max_cand), np.inf)
    padded[0, : n - 1] = v0[1:]
    padded[1, : n - 1] = v1[1:]
    padded[2, : n - 1] = v2[1:]
    step = padded.strides[1]
    band = np.lib.stride_tricks.as_strided(
        padded, shape=(3, max_cand, n), strides=(padded.strides[0], step, step), writeable=False
    )
    diff = band[0] - v0
    match = diff <= r_s
    match &= np.arange(1, max_cand + 1)[:, None] <= n_cand
    np.subtract(v1, band[1], out=diff)
    np.abs(diff, out=diff)
    match &= diff <= r_s
    count_2 = np.add.reduce(match, axis=0, dtype=np.intp)
    np.subtract(v2, band[2], out=diff)
    np.abs(diff, out=diff)
    match &= diff <= r_s
    return count_2, np.add.reduce(match, axis=0, dtype=np.intp)


def _sampen_counts(
    x: FloatArray, start: IntArray, n_templates: IntArray, r: FloatArray, breaks: IntArray
) -> tuple[FloatArray, FloatArray]:
    """Pair counts B (length 2) and A (length 3) per window; inputs validated, r > 0.

    Template start positions whose m + 1 values would span a break are left out.
    """
    n_win = start.size
    owner, pos = _ragged_ranges(start, n_templates)
    if breaks.size:
        inside = pos + SAMPEN_M < stretch_stop(breaks, x.size, pos)
        owner, pos = owner[inside], pos[inside]
    vals = x[pos]
    # Sort by window, then value; a margin absorbs the rounding of the combined key and
    # every candidate is re-checked exactly below.
    span = float(np.max(x) - np.min(x)) + 2.0 * float(np.max(r)) + 1.0
    key = owner * span + (vals - np.min(x))
    # The order of np.lexsort((vals, owner)) (ties by position), from one integer key: each
    # beat's rank in the whole series, ties broken by position as a stable sort does.
    rank = np.empty(x.size, dtype=np.intp)
    rank[np.argsort(x, kind="stable")] = np.arange(x.size)
    # The keys are distinct, so "stable" gives the same order, 2–3× faster (sorted runs).
    order = np.argsort(owner * x.size + rank[pos], kind="stable")
    key_sorted = key[order]
    margin = 1e-9 * span * max(n_win, 1)
    # Work in sorted order: the candidates of position i are i + 1 … hi[i] − 1 of its window.
    own_s = owner[order]
    r_s = r[own_s]
    v0 = vals[order]
    v1 = x[pos[order] + 1]
    v2 = x[pos[order] + 2]
    win_stop = np.cumsum(np.bincount(own_s, minlength=n_win))  # sorted end of each window
    hi = np.searchsorted(key_sorted, key_sorted + r_s + margin, side="right")
    hi = np.minimum(hi, win_stop[own_s])  # never into the next window, whatever the rounding
    # The exact first-element test, v0[j] − v0[i] ≤ r, holds for a prefix of the candidates
    # (v0 ascends within a window; rounded differences keep the order): cut hi to it here, so
    # the loop below need not test it pair by pair.
    here = np.arange(order.size)
    while True:  # as many rounds as candidates the margin let in: one or two
        last = np.maximum(hi - 1, 0)
        over = np.flatnonzero((last > here) & (v0[last] - v0 > r_s))
        if not over.size:
            break
        hi[over] -= 1
    n_cand = hi - here - 1
    max_cand = int(np.max(n_cand)) if n_cand.size else 0
    if order.size * max_cand <= _SAMPEN_BAND_ELEMS:
        b_rows, a_rows = _band_match_counts(v0, v1, v2, r_s, n_cand, max_cand)
        b_band = np.bincount(own_s, weights=b_rows, minlength=n_win)
        a_band = np.bincount(own_s, weights=a_rows, minlength=n_win)
        return b_band.astype(np.float64), a_band.astype(np.float64)
    # Positions by decreasing candidate count: those with at least d candidates are a prefix,
    # so offset d touches only them and their own values are contiguous slices.
    by_count = np.argsort(-n_cand, kind="stable")
    n_at_least = np.cumsum(np.bincount(n_cand, minlength=1)[::-1])[::-1]  # [d]: n_cand ≥ d
    i1, i2, ri = v1[by_count], v2[by_count], r_s[by_count]
    # A position's count is at most its window's templates: int32 halves the memory traffic.
    count_b = np.zeros(order.size, dtype=np.int32)
    count_a = np.zeros(order.size, dtype=np.int32)
    for d in range(1, n_at_least.size):  # rank offsets: at most the densest window's count
        k = int(n_at_least[d])
        j = by_count[:k] + d
        rk = ri[:k]
        match = np.abs(i1[:k] - v1[j]) <= rk
        count_b[:k] += match
        match &= np.abs(i2[:k] - v2[j]) <= rk
        count_a[:k] += match
    own_c = own_s[by_count]
    b = np.bincount(own_c, weights=count_b, minlength=n_win).astype(np.float64)
    a = np.bincount(own_c, weights=count_a, minlength=n_win).astype(np.float64)
    return b, a


def sample_entropy(nn_ms: npt.ArrayLike, *, r_sd: float = SAMPEN_R_SD) -> float:
    """Sample entropy (m = 2, r = ``r_sd`` · SD(NN, ddof 1)) of one NN series.

    See `sample_entropy_windows` for the method. NaN when undefined (no matches).

    Examples
    --------
    >>> t = np.arange(300)
    >>> sample_entropy(800.0 + 50.0 * np.sin(2 * np.pi * t / 10)) < 0.3  # regular
    True
    """
    x = as_1d_float(nn_ms, "nn_ms", positive=True)
    if r_sd <= 0:
        raise SignalInputError("r_sd must be positive")
    n_t = x.size - SAMPEN_M
    if n_t < 2:
        return math.nan
    # One window, no gap (the live refresh): the steps of `sample_entropy_windows` and
    # `_sampen_counts` for window [0, n) with the same operations, so the same value,
    # without their bookkeeping for many windows.
    c = x - np.mean(x)
    w1 = float(np.cumsum(c)[-1])
    ln = float(x.size)
    var = max(float(np.cumsum(c * c)[-1]) - w1 * w1 / ln, 0.0) / (ln - 1)
    r = r_sd * math.sqrt(var)
    if not r > 0:
        return math.nan
    x_min = float(np.min(x))
    span = float(np.max(x)) - x_min + 2.0 * r + 1.0
    # Stable sort by value: the order of the many-window key (value rank, then position).
    order = np.argsort(x[:n_t], kind="stable")
    v0 = x[order]
    key_sorted = v0 - x_min
    hi = np.searchsorted(key_sorted, key_sorted + r + 1e-9 * span, side="right")
    n_cand = np.minimum(hi, n_t) - np.arange(n_t) - 1
    max_cand = int(np.max(n_cand))
    if n_t * max_cand > _SAMPEN_BAND_ELEMS:
        return float(sample_entropy_windows(x, [0], [x.size], r_sd=r_sd)[0])
    b_rows, a_rows = _band_match_counts(v0, x[order + 1], x[order + 2], r, n_cand, max_cand)
    b = float(np.sum(b_rows))
    a = float(np.sum(a_rows))
    if not (a > 0 and b > 0):
        return math.nan
    return float(-np.log(np.array([a / b]))[0])
