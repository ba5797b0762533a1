"""Breathing rate and breath boundaries from a chest strap's accelerometer or ECG.

Two independent sources (hrv-methods.md §8):

* `breathing_from_acc` — the chest wall tilts with each breath and rotates gravity in the
  sensor frame; the first principal component of the low-passed, detrended 3-axis ACC is the
  breathing waveform (§8.1). This is the recommended breathing signal.
* `breathing_from_ecg_amplitude` — ECG-derived respiration (EDR) from the R-wave amplitude
  modulation (§8.2); a fallback, unreliable for fast spontaneous breathing (§8.4).

Both return a `BreathingEstimate`: the rate from the zero-padded periodogram peak in
0.05–0.7 Hz (3–42 breaths/min) and breath onsets from the waveform's upward zero crossings.
The sign of either waveform depends on strap orientation and lead geometry, so "upward" means
"upward in this waveform", which is inhalation onset only up to that ambiguity (§8.2: on the
H10 recording in reference-data.md §6 EDR was anti-correlated with ACC). Use the pacer as the
phase reference; these onsets are for counting breaths and checking compliance.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view
from scipy import interpolate
from scipy import signal as sps

from pet_biofeedback.errors import SignalInputError
from pet_biofeedback.signal._respiration_constants import (
    ACC_LOWPASS_HZ,
    BANDPASS_ORDER,
    BREATHING_BAND_HZ,
    MIN_ACC_FS_HZ,
    MIN_DURATION_S,
    MIN_NFFT,
    NFFT_PAD_FACTOR,
    WORK_FS_HZ,
)
from pet_biofeedback.signal._typing import FloatArray, IntArray
from pet_biofeedback.signal._validate import as_1d_float

__all__ = [
    "BreathingEstimate",
    "BreathingRateWindows",
    "breathing_from_acc",
    "breathing_from_ecg_amplitude",
    "breathing_rate_windows",
]

# --- Tunables (hrv-methods.md §8.1) ----------------------------------------------------------
# ACC_LOWPASS_HZ, WORK_FS_HZ, BREATHING_BAND_HZ, BANDPASS_ORDER, MIN_NFFT, NFFT_PAD_FACTOR,
# MIN_DURATION_S and MIN_ACC_FS_HZ are defined in _respiration_constants (imported above),
# shared with the live estimator (respiration_live), which must not import scipy.signal.
# 4th order (not §8.1's 2nd) so that the low-pass also guards the 4 Hz resampling
# against aliasing (−24 dB at the 2 Hz Nyquist frequency).
ACC_LOWPASS_ORDER: Final = 4
# Hysteresis for breath onsets: a new breath starts only after the waveform has been below
# −h and then rises above +h (h = this fraction of its standard deviation); the onset is the
# last upward zero crossing before it rises above +h. Stops noise near zero from
# splitting a breath.
ONSET_HYSTERESIS_FRACTION_OF_STD: Final = 0.2
# EDR: amplitudes further than this many robust SDs (1.4826·MAD) from the median (ectopic
# beats, artifacts) are clipped before interpolation.
EDR_CLIP_ROBUST_SD: Final = 4.0
EDR_MIN_BEATS: Final = 4
MAD_TO_SD: Final = 1.4826
# Lowest accepted EDR rate: the grid needs a Nyquist frequency above the 0.7 Hz band edge.
MIN_EDR_FS_HZ: Final = 2.0


@dataclass(frozen=True, slots=True, kw_only=True)
class BreathingEstimate:
    """Breathing waveform, rate and breath onsets from one signal.

    Attributes
    ----------
    rate_breaths_per_min : float
        Dominant breathing rate (periodogram peak in 0.05–0.7 Hz) in breaths/min; NaN when
        the input was shorter than 20 s or carried no variation.
    breath_start_s : ndarray of float64, shape (n_breaths,)
        Breath onsets in s: upward zero crossings of ``signal`` (interpolated between
        samples), taken as inhalation onsets -- up to the sign ambiguity in the module notes.
        On the input's time axis. The last breath may be incomplete.
    signal_t_s : ndarray of float64, shape (n_samples,)
        Times of ``signal`` in s, uniform at ``signal_fs_hz``, on the input's time axis.
    signal : ndarray of float64, shape (n_samples,)
        Band-passed (0.05–0.7 Hz) breathing waveform, zero mean, arbitrary units (mG for ACC,
        µV for EDR). Its sign is not physiologically fixed (see module notes).
    signal_fs_hz : float
        Sampling rate of ``signal`` in Hz.
    explained_variance : float
        Share (0–1) of the detrended ACC variance carried by the first principal component;
        NaN for EDR or when nothing was computed.
    n_breaths : int
        Number of breath onsets, ``breath_start_s.size``.

    Notes
    -----
    Arrays are copied and made read-only on construction.
    """

    rate_breaths_per_min: float
    breath_start_s: FloatArray
    signal_t_s: FloatArray
    signal: FloatArray
    signal_fs_hz: float
    explained_variance: float
    n_breaths: int

    def __post_init__(self) -> None:
        for name in ("breath_start_s", "signal_t_s", "signal"):
            arr = np.array(getattr(self, name), dtype=np.float64)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)


@dataclass(frozen=True, slots=True, kw_only=True)
class BreathingRateWindows:
    """Breathing rate per sliding window of a `BreathingEstimate` waveform.

    Attributes
    ----------
    t_end_s : ndarray of float64, shape (n_windows,)
        End time of each window in s, on the estimate's time axis.
    rate_breaths_per_min : ndarray of float64, shape (n_windows,)
        Periodogram-peak rate in each window, breaths/min; NaN for a window with no variation.
    window_s : float
        Window length in s.
    """

    t_end_s: FloatArray
    rate_breaths_per_min: FloatArray
    window_s: float

    def __post_init__(self) -> None:
        for name in ("t_end_s", "rate_breaths_per_min"):
            arr = np.array(getattr(self, name), dtype=np.float64)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)


def breathing_from_acc(
    acc_mg: npt.ArrayLike, fs_hz: float, *, t_s: npt.ArrayLike | None = None
) -> BreathingEstimate:
    """Estimate breathing from a chest-worn 3-axis accelerometer.

    Parameters
    ----------
    acc_mg : array_like, shape (n_samples, 3)
        Acceleration in mG (x, y, z), gravity included. Must be finite.
    fs_hz : float
        Sampling rate in Hz (at least 5). Without ``t_s`` the samples are taken as uniform at
        this rate from 0 s. With ``t_s`` it is only the rate of the uniform grid the samples
        are linearly interpolated onto (use the nominal rate; the timestamps decide the
        timing; gaps are bridged by the interpolation).
    t_s : array_like, shape (n_samples,), optional
        Sample times in s, strictly increasing (e.g. dejittered LSL/XDF timestamps). Real
        straps drift from their nominal rate (the H10's "200 Hz" ACC runs at ≈ 204 Hz,
        reference-data.md §6), so pass them whenever they exist. Output times are then on
        this clock.

    Returns
    -------
    BreathingEstimate
        Rate, breath onsets, 4 Hz waveform and the PC1 variance share. For a record shorter
        than 20 s: NaN rate and explained variance, empty arrays, ``n_breaths`` 0.

    Raises
    ------
    SignalInputError
        If ``acc_mg`` is not (n, 3) and finite, ``fs_hz`` is not positive, or ``t_s`` is not
        a finite, strictly increasing array of length n.

    Notes
    -----
    hrv-methods.md §8.1: (resample on timestamps →) 4th-order Butterworth low-pass 1 Hz, zero
    phase → linear interpolation to 4 Hz → linear detrend per axis (gravity) → projection on
    the first principal component, sign chosen so that its largest loading is positive →
    band-pass 0.05–0.7 Hz (2nd order, zero phase) → rate = argmax of the zero-padded
    Hann-windowed periodogram in 0.05–0.7 Hz; onsets = upward zero crossings with hysteresis.
    Motion and posture changes break the tilt model: gate on ``explained_variance`` and
    on ACC magnitude changes upstream.

    Examples
    --------
    >>> import numpy as np
    >>> from pet_biofeedback.signal.respiration import breathing_from_acc
    >>> fs_hz = 50.0
    >>> t = np.arange(int(120 * fs_hz)) / fs_hz
    >>> tilt = 0.02 * np.sin(2 * np.pi * 0.1 * t)  # rad, 6 breaths/min
    >>> acc_mg = 1000 * np.column_stack([np.sin(0.6 + tilt), 0 * t, np.cos(0.6 + tilt)])
    >>> est = breathing_from_acc(acc_mg, fs_hz)
    >>> round(est.rate_breaths_per_min, 1)
    6.0
    >>> bool(np.allclose(np.diff(est.breath_start_s), 10.0, atol=0.2))
    True
    """
    acc = _as_acc(acc_mg)
    fs = _check_rate(fs_hz, "fs_hz", minimum=MIN_ACC_FS_HZ)
    if t_s is None:
        times = np.arange(acc.shape[0]) / fs
    else:
        times = as_1d_float(t_s, "t_s")
        if times.size != acc.shape[0]:
            raise SignalInputError(
                f"t_s must have one time per ACC sample: {times.size} times for "
                f"{acc.shape[0]} samples"
            )
        if times.size > 1 and np.any(np.diff(times) <= 0):
            raise SignalInputError("t_s must be strictly increasing")
    if acc.shape[0] < 2 or times[-1] - times[0] < MIN_DURATION_S:
        return _empty_estimate()

    grid = times
    if t_s is not None:
        grid = _uniform_grid(times[0], times[-1], fs)
        acc = _interp_columns(grid, times, acc)
    low = _sosfiltfilt(*_filter_plan("acc_lowpass", fs), acc - acc.mean(axis=0))
    work_t = _uniform_grid(grid[0], grid[-1], WORK_FS_HZ)
    return _estimate_from_work(work_t, _interp_columns(work_t, grid, low))


def breathing_from_ecg_amplitude(
    r_peak_t_s: npt.ArrayLike, amplitude_uv: npt.ArrayLike, *, fs_hz: float = WORK_FS_HZ
) -> BreathingEstimate:
    """Estimate breathing from the R-wave amplitude modulation (ECG-derived respiration).

    Parameters
    ----------
    r_peak_t_s : array_like, shape (n_beats,)
        R-peak times in s, strictly increasing (e.g. ``RPeaks.t_s``).
    amplitude_uv : array_like, shape (n_beats,)
        R-peak amplitudes in µV (e.g. ``RPeaks.amplitude_uv``, parabolic-refined; raw-sample
        amplitudes at 130 Hz are much noisier, hrv-methods.md §8.4). Their magnitude is used,
        so negative-R leads work alike.
    fs_hz : float, optional
        Rate of the uniform grid the amplitudes are interpolated onto, in Hz (default 4;
        at least 2).

    Returns
    -------
    BreathingEstimate
        Rate, onsets and the band-passed amplitude waveform; ``explained_variance`` is NaN.
        NaN rate and empty arrays when the beats span less than 20 s or are fewer than 4.

    Raises
    ------
    SignalInputError
        If the inputs are not finite 1-D arrays of one length, the times are not strictly
        increasing, or ``fs_hz`` is not positive.

    Notes
    -----
    hrv-methods.md §8.2: amplitudes beyond median ± 4 robust SDs (ectopic beats) are clipped;
    cubic spline at ``fs_hz`` → band-pass 0.05–0.7 Hz → zero-padded periodogram argmax;
    onsets from upward zero crossings. EDR polarity depends on lead geometry (anti-correlated
    with ACC on the H10 file of reference-data.md §6), so its onsets may be exhalation onsets.

    Examples
    --------
    >>> import numpy as np
    >>> from pet_biofeedback.signal.respiration import breathing_from_ecg_amplitude
    >>> t_s = np.arange(0.0, 120.0, 0.8)
    >>> amplitude_uv = 1000 + 80 * np.sin(2 * np.pi * 0.1 * t_s)
    >>> round(breathing_from_ecg_amplitude(t_s, amplitude_uv).rate_breaths_per_min, 1)
    6.0
    """
    t_beats = as_1d_float(r_peak_t_s, "r_peak_t_s")
    amp = as_1d_float(amplitude_uv, "amplitude_uv")
    fs = _check_rate(fs_hz, "fs_hz", minimum=MIN_EDR_FS_HZ)
    if t_beats.size != amp.size:
        raise SignalInputError(
            f"r_peak_t_s and amplitude_uv must have one length, got {t_beats.size} and {amp.size}"
        )
    if t_beats.size > 1 and np.any(np.diff(t_beats) <= 0):
        raise SignalInputError("r_peak_t_s must be strictly increasing")
    if t_beats.size < EDR_MIN_BEATS or t_beats[-1] - t_beats[0] < MIN_DURATION_S:
        return _empty_estimate()

    mag = np.abs(amp)
    med = float(np.median(mag))
    spread = EDR_CLIP_ROBUST_SD * MAD_TO_SD * float(np.median(np.abs(mag - med)))
    mag = np.clip(mag, med - spread, med + spread)
    grid = _uniform_grid(t_beats[0], t_beats[-1], fs)
    series = interpolate.CubicSpline(t_beats, mag)(grid)
    if not np.ptp(series) > 0.0:
        return _estimate_from_waveform(grid, np.zeros(grid.size), explained=float("nan"), fs=fs)
    return _estimate_from_waveform(
        grid, _bandpass(series - series.mean(), fs), explained=float("nan"), fs=fs
    )


def breathing_rate_windows(
    estimate: BreathingEstimate, *, window_s: float = 60.0, step_s: float = 10.0
) -> BreathingRateWindows:
    """Breathing rate in sliding windows over an estimate's waveform.

    Parameters
    ----------
    estimate : BreathingEstimate
        Output of `breathing_from_acc` or `breathing_from_ecg_amplitude`.
    window_s : float, optional
        Window length in s (default 60; at least 20).
    step_s : float, optional
        Step between window ends in s (default 10).

    Returns
    -------
    BreathingRateWindows
        One rate per full window; empty when the waveform is shorter than one window.

    Raises
    ------
    SignalInputError
        If ``window_s`` < 20 s or ``step_s`` is not positive.

    Notes
    -----
    The whole waveform is band-passed once; each window gets its own Hann-windowed,
    zero-padded periodogram (one batched FFT), argmax in 0.05–0.7 Hz.

    Examples
    --------
    >>> import numpy as np
    >>> from pet_biofeedback.signal.respiration import (
    ...     breathing_from_ecg_amplitude, breathing_rate_windows)
    >>> t_s = np.arange(0.0, 180.0, 0.8)
    >>> est = breathing_from_ecg_amplitude(t_s, 1000 + 80 * np.sin(2 * np.pi * 0.1 * t_s))
    >>> win = breathing_rate_windows(est, window_s=60.0, step_s=30.0)
    >>> np.round(win.rate_breaths_per_min, 1).tolist()
    [6.0, 6.0, 6.0, 6.0]
    """
    window = _check_rate(window_s, "window_s")
    step = _check_rate(step_s, "step_s")
    if window < MIN_DURATION_S:
        raise SignalInputError(
            f"window_s must be at least {MIN_DURATION_S:.0f} s for a breathing rate, got "
            f"{window_s!r}"
        )
    fs = estimate.signal_fs_hz
    sig = estimate.signal
    if not np.isfinite(fs) or sig.size < round(window * fs):
        empty = np.empty(0)
        return BreathingRateWindows(t_end_s=empty, rate_breaths_per_min=empty, window_s=window)
    n_win = round(window * fs)
    n_step = max(round(step * fs), 1)
    frames = sliding_window_view(sig, n_win)[::n_step]
    t_end = estimate.signal_t_s[n_win - 1 :: n_step][: frames.shape[0]]
    return BreathingRateWindows(
        t_end_s=t_end, rate_breaths_per_min=_peak_rate(frames, fs), window_s=window
    )


# --- private helpers --------------------------------------------------------------------------


def _acc_lowpass_sos(fs: float) -> FloatArray:
    """The 1 Hz ACC low-pass (hrv-methods.md §8.1) at ``fs`` Hz (a fresh copy)."""
    return _acc_lowpass_design(fs).copy()


@functools.lru_cache(maxsize=16)
def _acc_lowpass_design(fs: float) -> FloatArray:
    """`_acc_lowpass_sos`, designed once per rate (callers copy it).

    A live session re-estimates breathing every few seconds at the same rate, and designing
    the filter costs more than applying it. Read-only: scipy's ``sosfilt`` needs a writeable
    array, so callers hand it copies and the cached one never changes.
    """
    sos: FloatArray = sps.butter(
        ACC_LOWPASS_ORDER, ACC_LOWPASS_HZ, btype="lowpass", fs=fs, output="sos"
    )
    sos.flags.writeable = False
    return sos


def _sosfiltfilt(design: FloatArray, zi_design: FloatArray, x: FloatArray) -> FloatArray:
    """``scipy.signal.sosfiltfilt(sos, x, axis=0)`` with the default odd padding, same result.

    The same steps as scipy's (odd extension of 3·ntaps samples, forward and backward
    ``sosfilt`` started from the steady state ``sosfilt_zi``), with the steady state computed
    once per design (`_filter_plan`): solving it per call was a third of the live breathing
    estimate. ``x`` float64 along axis 0, longer than the padding.
    """
    sos = design.copy()  # scipy's sosfilt needs a writeable array; the cache must not change
    n_sections = sos.shape[0]
    ntaps = 2 * n_sections + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    edge = 3 * ntaps
    if x.shape[0] <= edge:
        raise SignalInputError(f"the series must be longer than {edge} samples to filter")
    ext = np.concatenate((2 * x[0:1] - x[edge:0:-1], x, 2 * x[-1:] - x[-2 : -(edge + 2) : -1]))
    zi = zi_design.reshape([n_sections, 2] + [1] * (x.ndim - 1))
    y, _ = sps.sosfilt(sos, ext, axis=0, zi=zi * ext[0:1])
    y, _ = sps.sosfilt(sos, y[::-1], axis=0, zi=zi * y[-1:])
    out: FloatArray = y[::-1][edge:-edge]
    return out


@functools.lru_cache(maxsize=16)
def _filter_plan(kind: str, fs: float) -> tuple[FloatArray, FloatArray]:
    """(sos, sosfilt_zi) of the ACC low-pass or the breathing band-pass at ``fs``; read-only."""
    sos = _acc_lowpass_design(fs) if kind == "acc_lowpass" else _bandpass_design(fs)
    zi: FloatArray = sps.sosfilt_zi(sos.copy())
    zi.flags.writeable = False
    return sos, zi


def _estimate_from_work(work_t: FloatArray, low: FloatArray) -> BreathingEstimate:
    """Detrend, PC1 and breathing band of the low-passed ACC on the 4 Hz grid ``work_t``."""
    work = sps.detrend(low, axis=0, type="linear")
    cov = work.T @ work / work.shape[0]
    eigval, eigvec = np.linalg.eigh(cov)
    total = float(np.sum(eigval))
    if not total > 0.0:
        return _estimate_from_waveform(work_t, np.zeros(work_t.size), explained=float("nan"))
    pc1 = eigvec[:, -1]
    # Deterministic sign: the largest loading is positive (the physical sign is ambiguous).
    pc1 = pc1 * np.sign(pc1[np.argmax(np.abs(pc1))])
    explained = float(eigval[-1] / total)
    return _estimate_from_waveform(work_t, _bandpass(work @ pc1), explained=explained)


def _as_acc(acc_mg: npt.ArrayLike) -> FloatArray:
    """Coerce ACC to float64 (n, 3), finite; raise SignalInputError otherwise."""
    try:
        acc = np.asarray(acc_mg, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SignalInputError(f"acc_mg must be numeric: {exc}") from exc
    if acc.ndim != 2 or acc.shape[1] != 3:
        raise SignalInputError(f"acc_mg must have shape (n_samples, 3), got {acc.shape}")
    if not np.all(np.isfinite(acc)):
        raise SignalInputError("acc_mg must be finite (no NaN or inf)")
    return acc


def _check_rate(value: float, name: str, *, minimum: float = 0.0) -> float:
    """Return ``value`` as a finite float > 0 and >= ``minimum``, or raise SignalInputError."""
    try:
        out = float(value)
    except (TypeError, ValueError) as exc:
        raise SignalInputError(f"{name} must be a number, got {value!r}") from exc
    if not (np.isfinite(out) and out > 0.0):
        raise SignalInputError(f"{name} must be positive and finite, got {value!r}")
    if out < minimum:
        raise SignalInputError(f"{name} must be at least {minimum:g}, got {value!r}")
    return out


def _uniform_grid(t_first_s: float, t_last_s: float, fs: float) -> FloatArray:
    """Times from ``t_first_s`` at ``1/fs`` steps, none after ``t_last_s`` (beyond rounding)."""
    n = int(np.floor((t_last_s - t_first_s) * fs + 1e-9)) + 1
    grid: FloatArray = t_first_s + np.arange(n) / fs
    return grid


def _interp_columns(t_new: FloatArray, t_old: FloatArray, y: FloatArray) -> FloatArray:
    """Linear interpolation of each column of ``y`` (n, k) onto ``t_new``; t_old increasing."""
    return np.column_stack([np.interp(t_new, t_old, y[:, k]) for k in range(y.shape[1])])


def _bandpass(x: FloatArray, fs: float = WORK_FS_HZ) -> FloatArray:
    """Zero-phase breathing-band (0.05–0.7 Hz) band-pass; x 1-D, longer than 20 s."""
    out: FloatArray = _sosfiltfilt(*_filter_plan("bandpass", fs), x)
    return out


@functools.lru_cache(maxsize=16)
def _bandpass_design(fs: float) -> FloatArray:
    """The breathing-band band-pass at ``fs`` Hz, designed once per rate; read-only."""
    sos: FloatArray = sps.butter(
        BANDPASS_ORDER, BREATHING_BAND_HZ, btype="bandpass", fs=fs, output="sos"
    )
    sos.flags.writeable = False
    return sos


def _peak_rate(frames: FloatArray, fs: float) -> FloatArray:
    """Periodogram-argmax rate (breaths/min) along the last axis; NaN where all-zero."""
    n = frames.shape[-1]
    nfft = max(MIN_NFFT, 1 << int(np.ceil(np.log2(NFFT_PAD_FACTOR * n))))
    freqs_hz = np.fft.rfftfreq(nfft, d=1.0 / fs)
    band = (freqs_hz >= BREATHING_BAND_HZ[0]) & (freqs_hz <= BREATHING_BAND_HZ[1])
    centred = frames - frames.mean(axis=-1, keepdims=True)
    power = np.abs(np.fft.rfft(centred * np.hanning(n), n=nfft, axis=-1)[..., band]) ** 2
    rate = freqs_hz[band][np.argmax(power, axis=-1)] * 60.0
    result: FloatArray = np.where(power.max(axis=-1) > 0.0, rate, np.nan)
    return result


def _breath_starts(t: FloatArray, x: FloatArray) -> FloatArray:
    """Upward zero crossings of ``x`` (uniform ``t``) with hysteresis, interpolated in time."""
    h = ONSET_HYSTERESIS_FRACTION_OF_STD * float(np.std(x))
    if not h > 0.0:
        return np.empty(0)
    state = np.where(x > h, 1, np.where(x < -h, -1, 0))
    # Forward-fill the last decided state through the dead band (a running max of indices).
    last_idx = np.maximum.accumulate(np.where(state != 0, np.arange(x.size), 0))
    filled = state[last_idx]
    rises: IntArray = np.flatnonzero((filled[:-1] == -1) & (filled[1:] == 1)) + 1
    up: IntArray = np.flatnonzero((x[:-1] < 0.0) & (x[1:] >= 0.0))
    if rises.size == 0 or up.size == 0:
        return np.empty(0)
    # The onset of a rise is the last upward zero crossing before it (one exists: x went
    # from below −h to above +h).
    cross = up[np.searchsorted(up, rises, side="right") - 1]
    frac = -x[cross] / (x[cross + 1] - x[cross])
    starts: FloatArray = t[cross] + frac * (t[cross + 1] - t[cross])
    return starts


def _estimate_from_waveform(
    t: FloatArray, x: FloatArray, *, explained: float, fs: float = WORK_FS_HZ
) -> BreathingEstimate:
    """Rate and onsets of a band-passed uniform waveform."""
    starts = _breath_starts(t, x)
    return BreathingEstimate(
        rate_breaths_per_min=float(_peak_rate(x, fs)),
        breath_start_s=starts,
        signal_t_s=t,
        signal=x,
        signal_fs_hz=fs,
        explained_variance=explained,
        n_breaths=int(starts.size),
    )


def _empty_estimate() -> BreathingEstimate:
    """The 'not enough data' result: NaN rate, empty arrays."""
    empty = np.empty(0)
    return BreathingEstimate(
        rate_breaths_per_min=float("nan"),
        breath_start_s=empty,
        signal_t_s=empty,
        signal=empty,
        signal_fs_hz=float("nan"),
        explained_variance=float("nan"),
        n_breaths=0,
    )
