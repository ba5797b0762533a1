"""Uniform-grid building blocks of the Welch pipeline (hrv-methods.md §2.2).

Beat times, natural-cubic-spline resampling, smoothness-priors detrending, the Welch PSD and
trapezoid band power. `spectral.frequency_metrics` chains them (for many windows at once).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from pet_biofeedback.errors import SignalInputError
from pet_biofeedback.signal._spectral_constants import (
    _MS_PER_S,
    _WINDOWS,
    RESAMPLE_FS_HZ,
    SMOOTHNESS_PRIORS_LAMBDA,
    WELCH_NFFT_MIN,
    WELCH_OVERLAP,
    WELCH_SEGMENT_S,
)
from pet_biofeedback.signal._spectral_kernels import (
    _band_mask,
    _n_grid,
    _nfft_for,
    _solveh_banded,
    _spline_one,
    _trapezoid_rows,
    _welch_blocks,
)
from pet_biofeedback.signal._typing import FloatArray
from pet_biofeedback.signal._validate import as_1d_float, check_choice

__all__ = [
    "band_power_ms2",
    "beat_times_s",
    "detrend_smoothness_priors",
    "resample_rr",
    "resample_rr_unchecked",
    "welch_psd",
]


def beat_times_s(rr_ms: npt.ArrayLike) -> FloatArray:
    """Time of every beat from the start of the first RR interval.

    Parameters
    ----------
    rr_ms : array_like, shape (n_beats,)
        RR (or NN) intervals in ms, finite and positive.

    Returns
    -------
    ndarray of float64, shape (n_beats,)
        t_k = Σ_{j ≤ k} RR_j / 1000 in s: the time of the beat that *ends* interval k.

    Raises
    ------
    SignalInputError
        If ``rr_ms`` is not 1-D, finite and positive.

    Notes
    -----
    hrv-methods.md §0. Anchoring to the host clock is the caller's (ble-protocol.md §2.4).

    Examples
    --------
    >>> beat_times_s([800.0, 1000.0, 900.0]).tolist()
    [0.8, 1.8, 2.7]
    """
    rr = as_1d_float(rr_ms, "rr_ms", positive=True)
    return np.asarray(np.cumsum(rr) / _MS_PER_S, dtype=np.float64)


def resample_rr(
    t_s: npt.ArrayLike, rr_ms: npt.ArrayLike, *, fs_hz: float = RESAMPLE_FS_HZ
) -> tuple[FloatArray, FloatArray]:
    """Natural cubic spline of RR(t_k) sampled on a uniform grid.

    Parameters
    ----------
    t_s : array_like, shape (n_beats,)
        Beat times in s, strictly increasing.
    rr_ms : array_like, shape (n_beats,)
        Value at each beat time (RR in ms; any unit works, the output keeps it).
    fs_hz : float, default 4.0
        Grid rate in Hz.

    Returns
    -------
    grid_t_s : ndarray of float64, shape (n_samples,)
        ``t_s[0] + j / fs_hz`` for j = 0 … ⌊(t_s[-1] − t_s[0])·fs_hz⌋: the grid starts at the
        first beat and ends at or before the last beat (no extrapolation).
    rr_grid_ms : ndarray of float64, shape (n_samples,)
        Spline values on the grid. One beat gives one sample; none gives empty arrays.

    Raises
    ------
    SignalInputError
        Shape mismatch, non-finite values, non-increasing times or ``fs_hz`` ≤ 0.

    Notes
    -----
    hrv-methods.md §2.2 step 1. Natural end conditions (zero second derivative at the first
    and last beat); the spline is solved as a tridiagonal banded system, O(n).

    Examples
    --------
    >>> t, rr = resample_rr([1.0, 2.0, 3.0], [800.0, 900.0, 800.0], fs_hz=2.0)
    >>> t.tolist(), rr.round(1).tolist()
    ([1.0, 1.5, 2.0, 2.5, 3.0], [800.0, 868.8, 900.0, 868.8, 800.0])
    """
    t = as_1d_float(t_s, "t_s")
    y = as_1d_float(rr_ms, "rr_ms")
    if t.shape != y.shape:
        raise SignalInputError(f"t_s and rr_ms must have equal length, got {t.size} and {y.size}")
    if not (math.isfinite(fs_hz) and fs_hz > 0):
        raise SignalInputError(f"fs_hz must be positive, got {fs_hz!r}")
    if t.size >= 2 and np.any(np.diff(t) <= 0):
        raise SignalInputError("t_s must be strictly increasing")
    return resample_rr_unchecked(t, y, fs_hz)


def resample_rr_unchecked(
    t_s: FloatArray, y: FloatArray, fs_hz: float
) -> tuple[FloatArray, FloatArray]:
    """`resample_rr` of inputs it would accept (float64, 1-D, finite, t increasing, fs > 0)."""
    t = t_s
    if t.size < 2:
        return t.copy(), y.copy()
    n_q = int(_n_grid(float(t[-1] - t[0]), fs_hz))
    q = np.arange(n_q) / fs_hz
    vals = _spline_one(t - t[0], y, q)
    return t[0] + q, vals


def detrend_smoothness_priors(
    x: npt.ArrayLike, *, lambda_: float = SMOOTHNESS_PRIORS_LAMBDA
) -> FloatArray:
    """Remove slow trends with the smoothness-priors method, along the last axis.

    Parameters
    ----------
    x : array_like, shape (..., n_samples)
        Evenly sampled series (e.g. RR resampled at 4 Hz, in ms).
    lambda_ : float, default 500
        Regularisation λ; 500 at 4 Hz acts as a high-pass near 0.035 Hz.

    Returns
    -------
    ndarray of float64, shape (..., n_samples)
        z_stat = (I − (I + λ² D₂ᵀD₂)⁻¹) z, same unit as ``x``. Constants and straight lines
        are removed exactly; fewer than 3 samples give zeros.

    Raises
    ------
    SignalInputError
        Non-finite input or λ ≤ 0.

    Notes
    -----
    Tarvainen, Ranta-aho & Karjalainen 2002 (hrv-methods.md §2.2 step 2). D₂ is the
    (T − 2) × T second-difference matrix; the SPD pentadiagonal system is solved by banded
    Cholesky in O(T), once for all rows (one factorisation, many right-hand sides).

    Examples
    --------
    >>> z = detrend_smoothness_priors(850.0 + 0.5 * np.arange(400.0))
    >>> bool(np.max(np.abs(z)) < 1e-6)
    True
    """
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SignalInputError(f"x must be numeric: {exc}") from exc
    if arr.ndim == 0 or not np.all(np.isfinite(arr)):
        raise SignalInputError("x must be a finite array with at least one axis")
    if not (math.isfinite(lambda_) and lambda_ > 0):
        raise SignalInputError(f"lambda_ must be positive, got {lambda_!r}")
    n = arr.shape[-1]
    if n < 3 or arr.size == 0:
        return np.zeros_like(arr)
    rows = arr.reshape(-1, n)
    zc = rows - rows.mean(axis=-1, keepdims=True)
    v = np.zeros(n)
    v[: n - 2] = lambda_**2
    v1 = np.concatenate(([0.0], v[:-1]))
    v2 = np.concatenate(([0.0, 0.0], v[:-2]))
    ab = np.zeros((3, n))
    ab[2] = 1.0 + v + 4.0 * v1 + v2
    ab[1, 1:] = -2.0 * (v[:-1] + v1[:-1])
    ab[0, 2:] = v[:-2]
    trend = _solveh_banded(ab, np.array(zc.T, order="C"))  # a copy: the solver overwrites b
    return np.asarray((zc - trend.T).reshape(arr.shape), dtype=np.float64)


def welch_psd(
    x: npt.ArrayLike,
    fs_hz: float,
    *,
    segment_s: float = WELCH_SEGMENT_S,
    overlap: float = WELCH_OVERLAP,
    nfft_min: int = WELCH_NFFT_MIN,
    window: str = "hann",
) -> tuple[FloatArray, FloatArray]:
    """One-sided Welch power spectral density along the last axis.

    Parameters
    ----------
    x : array_like, shape (..., n_samples)
        Evenly sampled, already detrended series (ms for RR). Not detrended here, neither
        as a whole nor per segment (hrv-methods.md §2.2 step 3).
    fs_hz : float
        Sampling rate in Hz.
    segment_s : float, default 256
        Segment length in s (``round(segment_s·fs_hz)`` samples). A record shorter than one
        segment is used as one segment of its own length.
    overlap : float, default 0.5
        Fraction of a segment shared with the next; ``floor(nperseg·overlap)`` samples.
    nfft_min : int, default 4096
        FFT length if it is at least the segment length, else the next power of two.
    window : {"hann"}
        Periodic Hann taper of the segment length.

    Returns
    -------
    freqs_hz : ndarray of float64, shape (nfft // 2 + 1,)
    psd_ms2_per_hz : ndarray of float64, shape (..., nfft // 2 + 1)
        Density scaling (unit of x² per Hz), averaged over segments; segments that would run
        past the end are dropped (as ``scipy.signal.welch``). NaN if n_samples < 2.

    Raises
    ------
    SignalInputError
        Non-finite input, unknown ``window``, or non-positive ``fs_hz``/``segment_s``.

    Notes
    -----
    Equals ``scipy.signal.welch(x, fs, window="hann", nperseg, noverlap, nfft,
    detrend=False, scaling="density")`` (tested to 1e-12). All segments of all rows are
    transformed by one ``rfft`` over a (segments × samples) block.

    Examples
    --------
    >>> t = np.arange(1200) / 4.0
    >>> f, p = welch_psd(30.0 * np.sin(2 * np.pi * 0.1 * t), 4.0)
    >>> round(float(f[np.argmax(p)]), 3)
    0.1
    """
    check_choice(window, "window", _WINDOWS)
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SignalInputError(f"x must be numeric: {exc}") from exc
    if arr.ndim == 0 or not np.all(np.isfinite(arr)):
        raise SignalInputError("x must be a finite array with at least one axis")
    for name, value in (("fs_hz", fs_hz), ("segment_s", segment_s)):
        if not (math.isfinite(value) and value > 0):
            raise SignalInputError(f"{name} must be positive, got {value!r}")
    if not 0.0 <= overlap < 1.0:
        raise SignalInputError(f"overlap must be in [0, 1), got {overlap!r}")
    n = arr.shape[-1]
    nperseg = max(round(segment_s * fs_hz), 1)
    nfft = int(_nfft_for(np.array([min(max(n, 1), nperseg)]), int(nfft_min))[0])
    freqs = np.asarray(np.fft.rfftfreq(nfft, 1.0 / fs_hz), dtype=np.float64)
    lead = arr.shape[:-1]
    if n < 2 or arr.size == 0:
        return freqs, np.full((*lead, freqs.size), np.nan)
    rows = arr.reshape(-1, n)
    zlen = np.full(rows.shape[0], n, dtype=np.intp)
    ((_, f, psd),) = _welch_blocks(
        rows.reshape(-1), zlen, fs_hz, nperseg, overlap, int(nfft_min), np.inf
    )
    return f, np.asarray(psd.reshape(*lead, f.size), dtype=np.float64)


def band_power_ms2(
    freqs_hz: npt.ArrayLike, psd: npt.ArrayLike, band_hz: tuple[float, float]
) -> FloatArray:
    """Trapezoid integral of a PSD over the bins with lo ≤ f < hi.

    Parameters
    ----------
    freqs_hz : array_like, shape (n_freqs,)
        Increasing frequencies in Hz.
    psd : array_like, shape (..., n_freqs)
        PSD in ms²/Hz.
    band_hz : (float, float)
        Band edges (lo, hi) in Hz.

    Returns
    -------
    ndarray of float64, shape psd.shape[:-1]
        Power in ms² (0-d for a 1-D ``psd``; use ``float()``). NaN if fewer than 2 bins fall
        in the band.

    Raises
    ------
    SignalInputError
        Shape mismatch or non-finite frequencies.

    Notes
    -----
    hrv-methods.md §2.2 step 4; the bins kept are those NeuroKit2 keeps (§10.1), so the
    half-bins at the band edges are not integrated.

    Examples
    --------
    >>> f = np.linspace(0.0, 1.0, 101)
    >>> float(band_power_ms2(f, np.ones(101), (0.1, 0.2)))
    0.09
    """
    f = as_1d_float(freqs_hz, "freqs_hz")
    p = np.asarray(psd, dtype=np.float64)
    if p.ndim == 0 or p.shape[-1] != f.size:
        raise SignalInputError(f"psd's last axis must match freqs_hz ({f.size})")
    return _trapezoid_rows(p, f, _band_mask(f, (float(band_hz[0]), float(band_hz[1]))))
