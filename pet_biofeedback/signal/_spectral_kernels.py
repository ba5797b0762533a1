"""Numerical kernels shared by the frequency-domain modules: block splines, detrending, Welch.

Every kernel works on a concatenation of blocks (one per window) in one vectorised call;
inputs are float64 and validated by the public callers (`spectral`, `welch`, `coherence`).
LAPACK (banded Cholesky) is loaded on first use (`_lapack`); ``scipy.signal`` never.
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import sys
import threading
from pathlib import Path
from typing import Any, Final

import numpy as np

from pet_biofeedback.signal._spectral_constants import (
    _GRID_EPS_SAMPLES,
    _MS_PER_S,
    _POWER_FLOOR,
)
from pet_biofeedback.signal._typing import BoolArray, FloatArray, IntArray

_LAPACK_LOCK: Final = threading.Lock()


def _lapack() -> Any:
    """scipy's LAPACK wrappers: the extension module behind ``scipy.linalg.lapack``."""
    with _LAPACK_LOCK:  # the batch analysis' worker threads may ask at the same time
        return _load_lapack()


@functools.cache
def _load_lapack() -> Any:
    """``scipy.linalg._flapack``, loaded without the ``scipy.linalg`` package if possible.

    Importing the package costs ≈ 0.25 s (it loads scipy's array-API layer, which imports
    ``numpy.f2py`` and ``numpy.testing``) — a fifth of the whole 24-h ``analyze`` of an RR
    file (issue 9). The extension alone loads in ≈ 0.03 s and is registered in ``sys.modules``
    under its own name, so a later ``import scipy.linalg`` reuses it. Falls back to the package
    when it is already imported, or the extension is not where scipy 1.x keeps it.
    """
    name = "scipy.linalg._flapack"
    if name in sys.modules:
        return sys.modules[name]
    if "scipy.linalg" in sys.modules:
        from scipy.linalg import lapack

        return lapack
    # Found, not imported: scipy's own start-up costs another ≈ 17 ms. Where the extension
    # needs it (shared-library paths on Windows) loading fails and the package import runs.
    spec_scipy = importlib.util.find_spec("scipy")
    roots = spec_scipy.submodule_search_locations if spec_scipy is not None else None
    for root in roots or ():
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = Path(root, "linalg", "_flapack" + suffix)
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is not None and path.is_file():
                try:
                    return importlib.util.module_from_spec(spec)
                except ImportError:
                    sys.modules.pop(name, None)
    from scipy.linalg import lapack

    return lapack


def _solveh_banded(ab: FloatArray, b: FloatArray) -> FloatArray:
    """Solve an SPD banded system (upper form); ``ab`` and ``b`` are overwritten.

    What ``scipy.linalg.solveh_banded(ab, b, overwrite_ab=True, overwrite_b=True,
    check_finite=False)`` does — LAPACK ptsv for two rows (tridiagonal), pbsv otherwise, same
    arguments, same result — without its validation and batching wrappers, which cost more
    than solving the 128-sample splines of the live coherence refresh. float64, C-contiguous,
    validated. LAPACK is loaded here, lazily: `import spectral` stays at numpy's cost.
    """
    lapack = _lapack()
    if b.size == 0:
        return np.empty_like(b)
    if ab.shape[0] == 2:
        _, _, x, info = lapack.dptsv(ab[1, :], ab[0, 1:], b, True, True, True)
    else:
        _, x, info = lapack.dpbsv(ab, b, lower=0, overwrite_ab=True, overwrite_b=True)
    if info > 0:
        raise np.linalg.LinAlgError(f"{info}th leading minor not positive definite")
    if info < 0:
        raise ValueError(f"illegal value in {-info}th argument of internal pbsv")
    return np.asarray(x, dtype=np.float64)


def _ranges(start: IntArray, length: IntArray) -> IntArray:
    """Concatenation of ``arange(s, s + n)`` for every (s, n); lengths ≥ 0."""
    total = int(length.sum())
    offsets = np.cumsum(length) - length
    return np.arange(total, dtype=np.intp) - np.repeat(offsets - start, length)


def _block_ids(length: IntArray) -> IntArray:
    """Block number of every element of a concatenation of blocks of the given lengths."""
    return np.repeat(np.arange(length.size, dtype=np.intp), length)


def _spline_blocks(
    x: FloatArray,
    y: FloatArray,
    klen: IntArray,
    q: FloatArray,
    qlen: IntArray,
) -> FloatArray:
    """Evaluate one natural cubic spline per block.

    Knots ``(x, y)`` and queries ``q`` are concatenations of blocks (lengths ``klen`` ≥ 2 and
    ``qlen``); x increases within each block; queries should lie inside their block's knot
    span (outside it the end cubic is extrapolated). float64, validated.

    The second derivatives M solve, per block, h_{i-1} M_{i-1} + 2(h_{i-1}+h_i) M_i + h_i M_{i+1}
    = 6(d_i − d_{i-1}) with M = 0 at both ends; all blocks go into one SPD tridiagonal system
    whose couplings across block edges are zero, so each block is solved exactly as alone.
    """
    n = x.size
    kstart = np.cumsum(klen) - klen
    kid = _block_ids(klen)
    local = np.arange(n, dtype=np.intp) - kstart[kid]
    last = local == klen[kid] - 1
    interior = (local > 0) & ~last
    seg_ok = ~last[:-1]  # segment i joins knots i and i+1 of the same block
    h = np.where(seg_ok, np.diff(x), 1.0)
    d = np.diff(y) / h
    diag = np.ones(n)
    rhs = np.zeros(n)
    inner = interior[1:-1]
    diag[1:-1] = np.where(inner, 2.0 * (h[:-1] + h[1:]), 1.0)
    rhs[1:-1] = np.where(inner, 6.0 * (d[1:] - d[:-1]), 0.0)
    ab = np.empty((2, n))
    ab[0, 0] = 0.0
    ab[0, 1:] = np.where(interior[:-1] & interior[1:], h, 0.0)
    ab[1] = diag
    m2 = _solveh_banded(ab, rhs)

    # Segment of each query: one searchsorted on keys made increasing across blocks.
    x0 = x[kstart]
    span = x[kstart + klen - 1] - x0
    off = np.cumsum(span + 1.0) - (span + 1.0)
    key_x = x - x0[kid] + off[kid]
    qid = _block_ids(qlen)
    key_q = q - x0[qid] + off[qid]
    # seg = searchsorted(key_x, key_q, "right") − 1, from the other side: the queries ascend
    # too, so each knot's place among them (fewer, shorter searches: 3× fewer queries than
    # grid points at 4 Hz) and a running count give every query its number of knots ≤ it.
    knot_at = np.searchsorted(key_q, key_x, side="left")
    seg = np.cumsum(np.bincount(knot_at, minlength=key_q.size + 1)[: key_q.size]) - 1
    seg = np.clip(seg, kstart[qid], kstart[qid] + klen[qid] - 2)
    return _cubic_at(x, y, m2, seg, q)


def _cubic_at(
    x: FloatArray, y: FloatArray, m2: FloatArray, seg: IntArray, q: FloatArray
) -> FloatArray:
    """The natural cubic spline through ``(x, y)`` with second derivatives ``m2`` at ``q``.

    ``seg``: the knot interval of each query. One expression for the one-block and the
    many-block paths, so that both give the same bits.
    """
    xl = x[seg]
    hs = x[seg + 1] - xl
    b = (q - xl) / hs
    a = 1.0 - b
    return np.asarray(
        a * y[seg]
        + b * y[seg + 1]
        + ((a * a * a - a) * m2[seg] + (b * b * b - b) * m2[seg + 1]) * (hs * hs / 6.0),
        dtype=np.float64,
    )


def _spline_one(x: FloatArray, y: FloatArray, q: FloatArray) -> FloatArray:
    """`_spline_blocks` of a single block (``x.size`` ≥ 2), with the same operations.

    The same values without the block bookkeeping (ids, masks, offsets): for one block
    every segment and every inner knot takes the general path's first branch. The live
    coherence and phase refreshes spline one window every 5 s.
    """
    n = x.size
    h = np.diff(x)
    d = np.diff(y) / h
    rhs = np.zeros(n)
    rhs[1:-1] = 6.0 * (d[1:] - d[:-1])
    ab = np.empty((2, n))
    ab[0, :2] = 0.0
    ab[0, 2:-1] = h[1:-1]  # couplings between inner knots only (natural ends)
    ab[0, -1] = 0.0
    ab[1, 0] = ab[1, -1] = 1.0
    ab[1, 1:-1] = 2.0 * (h[:-1] + h[1:])
    m2 = _solveh_banded(ab, rhs)
    x0 = x[0]
    seg = np.searchsorted(x - x0, q - x0, side="right") - 1
    seg = np.clip(seg, 0, n - 2)
    return _cubic_at(x, y, m2, seg, q)


def _smoothness_priors_blocks(z: FloatArray, zlen: IntArray, lam2: FloatArray) -> FloatArray:
    """z_stat = z − (I + λ² D₂ᵀD₂)⁻¹ z per block (lengths ``zlen``, λ² per block); float64.

    D₂ᵀD₂ is built from the rows of D₂ (``1 −2 1`` at r, r+1, r+2) that stay inside a block,
    so the pentadiagonal system decouples exactly between blocks (Tarvainen et al. 2002).
    """
    n = z.size
    zid = _block_ids(zlen)
    zstart = np.cumsum(zlen) - zlen
    local = np.arange(n, dtype=np.intp) - zstart[zid]
    v = np.where(local + 2 < zlen[zid], lam2[zid], 0.0)  # row r of D₂ lies in the block
    v1 = np.concatenate(([0.0], v[:-1]))
    v2 = np.concatenate(([0.0, 0.0], v[:-2]))
    ab = np.zeros((3, n))
    ab[2] = 1.0 + v + 4.0 * v1 + v2
    ab[1, 1:] = -2.0 * (v[:-1] + v1[:-1])
    ab[0, 2:] = v[:-2]
    # Centre each block first: SP removes constants exactly, and this keeps the O(λ²)
    # conditioning from amplifying an 850-ms offset.
    mean = np.add.reduceat(z, zstart) / zlen if n else np.zeros(0)
    zc = z - mean[zid]
    return np.asarray(zc - _solveh_banded(ab, zc.copy()), dtype=np.float64)


def _linear_detrend_blocks(tau: FloatArray, z: FloatArray, zlen: IntArray) -> FloatArray:
    """Least-squares line (against ``tau``) removed per block; float64, blocks non-empty."""
    zid = _block_ids(zlen)
    cnt = zlen.astype(np.float64)
    tc = tau - (np.bincount(zid, tau, minlength=zlen.size) / cnt)[zid]
    zc = z - (np.bincount(zid, z, minlength=zlen.size) / cnt)[zid]
    stt = np.bincount(zid, tc * tc, minlength=zlen.size)
    stz = np.bincount(zid, tc * zc, minlength=zlen.size)
    slope = np.divide(stz, stt, out=np.zeros_like(stz), where=stt > 0)
    return np.asarray(zc - slope[zid] * tc, dtype=np.float64)


def _mean_detrend_blocks(z: FloatArray, zlen: IntArray) -> FloatArray:
    """Block mean removed; float64, blocks non-empty."""
    zid = _block_ids(zlen)
    return np.asarray(z - (np.bincount(zid, z, minlength=zlen.size) / zlen)[zid], dtype=np.float64)


def _nfft_for(nperseg: IntArray, nfft_min: int) -> IntArray:
    """FFT length: ``nfft_min`` if it holds a segment, else the next power of two."""
    pow2 = np.left_shift(1, np.ceil(np.log2(np.maximum(nperseg, 1))).astype(np.intp))
    return np.where(nperseg <= nfft_min, nfft_min, pow2).astype(np.intp)


def _welch_blocks(
    z: FloatArray,
    zlen: IntArray,
    fs_hz: float,
    nperseg_target: int,
    overlap: float,
    nfft_min: int,
    f_max_hz: float,
) -> list[tuple[IntArray, FloatArray, FloatArray]]:
    """One-sided Welch PSD (Hann, density, mean averaging) of every block (lengths ≥ 2).

    All segments of all blocks go through one ``rfft`` per distinct FFT length (one in
    practice), as in scipy's ``_fft_helper``. Returns ``(block numbers, freqs_hz, psd)`` per
    FFT length, with psd (n_blocks_in_group, n_freqs) cut at ``f_max_hz``.
    """
    zstart = np.cumsum(zlen) - zlen
    nps = np.minimum(zlen, nperseg_target)
    step = np.maximum(nps - np.floor(nps * overlap).astype(np.intp), 1)
    nseg = 1 + (zlen - nps) // step
    nfft = _nfft_for(nps, nfft_min)
    out: list[tuple[IntArray, FloatArray, FloatArray]] = []
    # Distinct FFT lengths (powers of two or nfft_min, ≤ ~20); not np.unique, which imports
    # numpy.ma (≈ 20 ms of a fresh `analyze`).
    for g in sorted(set(nfft.tolist())):
        blocks = np.flatnonzero(nfft == g)
        gnseg = nseg[blocks]
        sid = _block_ids(gnseg)
        sblk = blocks[sid]
        sloc = np.arange(sid.size, dtype=np.intp) - (np.cumsum(gnseg) - gnseg)[sid]
        s0 = zstart[sblk] + sloc * step[sblk]
        slen = nps[sblk]
        width = int(slen.max())
        j = np.arange(width, dtype=np.intp)
        inside = j < slen[:, None]
        idx = np.where(inside, s0[:, None] + j, 0)
        # Periodic Hann of each segment's own length (scipy get_window("hann", n)), built once
        # per distinct length (one in practice: 24 h has ≈ 1 200 segments of 1 024 samples).
        lengths = sorted(set(slen.tolist()))
        hann = np.zeros((len(lengths), width))
        for row, n_len in enumerate(lengths):  # distinct segment lengths: a handful
            hann[row, :n_len] = 0.5 - 0.5 * np.cos(2.0 * np.pi * j[:n_len] / n_len)
        hann_power = np.sum(hann * hann, axis=-1)
        which = np.searchsorted(np.asarray(lengths), slen)
        seg = z[idx] * (hann if len(lengths) == 1 else hann[which])
        n_fft = int(g)
        freqs = np.fft.rfftfreq(n_fft, 1.0 / fs_hz)
        keep = int(np.searchsorted(freqs, f_max_hz, side="right"))
        spec = np.fft.rfft(seg, n=n_fft, axis=-1)[:, :keep]
        pxx = spec.real**2 + spec.imag**2
        pxx *= (1.0 / (fs_hz * hann_power[which]))[:, None]
        # One-sided: double everything but DC and (even n_fft) Nyquist.
        hi = keep if (n_fft % 2 or keep < n_fft // 2 + 1) else keep - 1
        pxx[:, 1:hi] *= 2.0
        first = np.cumsum(gnseg) - gnseg
        psd = np.add.reduceat(pxx, first, axis=0) / gnseg[:, None]
        out.append(
            (blocks, np.asarray(freqs[:keep], dtype=np.float64), np.asarray(psd, dtype=np.float64))
        )
    return out


def _band_mask(freqs_hz: FloatArray, band_hz: tuple[float, float]) -> BoolArray:
    return np.asarray((freqs_hz >= band_hz[0]) & (freqs_hz < band_hz[1]), dtype=np.bool_)


def _trapezoid_rows(psd: FloatArray, freqs_hz: FloatArray, mask: BoolArray) -> FloatArray:
    if np.count_nonzero(mask) < 2:
        return np.full(psd.shape[:-1], np.nan)
    return np.asarray(np.trapezoid(psd[..., mask], freqs_hz[mask], axis=-1), dtype=np.float64)


def _peak_rows(
    psd: FloatArray, freqs_hz: FloatArray, mask: BoolArray
) -> tuple[FloatArray, FloatArray]:
    """(frequency, PSD value) of the maximum inside ``mask`` for every row."""
    if not np.any(mask):
        nan = np.full(psd.shape[:-1], np.nan)
        return nan, nan.copy()
    sub = psd[..., mask]
    k = np.argmax(sub, axis=-1)
    value = np.take_along_axis(sub, k[..., None], axis=-1)[..., 0]
    # A band without power (constant RR) has no peak.
    return np.where(value > _POWER_FLOOR, freqs_hz[mask][k], np.nan), value


def _n_grid(span_s: FloatArray | float, fs_hz: float) -> IntArray:
    """Samples of the uniform grid t_0 + j/fs inside [t_0, t_0 + span]."""
    return np.floor(np.asarray(span_s) * fs_hz + _GRID_EPS_SAMPLES).astype(np.intp) + 1


def _window_knots(
    cum_ms: FloatArray, rr: FloatArray, start: IntArray, klen: IntArray
) -> tuple[FloatArray, FloatArray]:
    """Concatenated knots of the windows: time since each window's first beat (s), RR (ms).

    Times are differences of the cumulative sum in ms, so that a window and the same slice
    passed alone get bit-identical knots whenever the sums are exact (integer ms, or multiples
    of 1000/1024 ms).
    """
    g = _ranges(start, klen)
    first = np.repeat(start, klen)
    return (cum_ms[g] - cum_ms[first]) / _MS_PER_S, rr[g]
