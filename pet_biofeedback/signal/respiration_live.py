"""Live breathing rate from a chest accelerometer: decimated as it arrives, rated on the window.

A session shows the breathing rate of the last minute of chest acceleration, refreshed every
few seconds. `respiration.breathing_from_acc` on the raw window would redo the 1 Hz low-pass
of 12 000 samples (60 s at 200 Hz) for every refresh. Here the stream is low-passed and
decimated once, causally, as it arrives, and each refresh works on ≈ 300 kept samples:

* `AccBreathingWindow` keeps the last ``window_s`` of the stream at ≈ `ACC_KEEP_HZ`. Raw
  samples go through block means to ≈ `ACC_BLOCK_HZ` (a boxcar whose nulls fall on the
  frequencies that would alias onto 0 Hz) and a linear-phase FIR low-pass at
  `ACC_LOWPASS_HZ` (Hamming-windowed sinc: 0.91 at 0.7 Hz, −6 dB at 1 Hz like the zero-phase
  Butterworth of hrv-methods.md §8.1, 52 dB down beyond 1.5 Hz at 25 Hz), of which every D-th
  output is kept. The filter's state (the last taps' worth of samples) and the samples of an
  incomplete block are carried from one `push` to the next, so the kept samples do not depend
  on how the stream is cut into pushes. Each kept sample is stamped with the time of the
  FIR's centre tap, so the filter's delay (≈ 1.6 s) shifts the window, not the time axis.
* `live_breathing_rate` estimates rate and PC1 share from such low-passed samples with the
  steps of hrv-methods.md §8.1 after the low-pass: linear interpolation on the timestamps to
  `WORK_FS_HZ` → linear detrend per axis → first principal component → the zero-phase
  0.05–0.7 Hz band-pass, applied as its response |H(f)|² on an FFT → Hann-windowed,
  zero-padded periodogram (same FFT length, hence the same frequency bins, as the offline
  estimator) → argmax in 0.05–0.7 Hz. Band-pass, window and a coarse periodogram are linear
  in the waveform: they are built once per window length as matrices (`_spectral_plan`), and
  the peak is refined between the coarse bins by a 17-bin DFT (`_refine_peak_bin`).

The result is the offline estimator's up to the filters' edge behaviour and the window's
1.6-s lag: on the simulator (seeds, 4.5–15 breaths/min, paced and sloppy breathing, noisy
ACC) the session's live rate stayed within one periodogram bin (0.03 breaths/min) of what
`breathing_from_acc` on the window gave, in 99 % of the estimates (issue 7). numpy only:
a live session does not load ``scipy.signal``. The offline `breathing_from_acc` stays what
`analyze` and the session summary use.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

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
from pet_biofeedback.signal._typing import FloatArray
from pet_biofeedback.signal._validate import as_1d_float

__all__ = [
    "ACC_BLOCK_HZ",
    "ACC_KEEP_HZ",
    "AccBreathingWindow",
    "LiveBreathingRate",
    "live_breathing_rate",
]

# First stage: block means down to about this rate (200 Hz → blocks of 8).
ACC_BLOCK_HZ: Final = 25.0
# Kept rate, about: above twice the 1.5 Hz stop edge of the FIR, so nothing from the FIR's
# stopband folds onto 0–1 Hz (what the PC1 share and the rate see).
ACC_KEEP_HZ: Final = 5.0
# FIR transition width (0.5–1.5 Hz around the 1 Hz cutoff): passes the breathing band
# (≤ 0.7 Hz) at ≥ 0.91 and keeps the taps short (83 at 25 Hz, 1.6 s of delay).
ACC_FIR_TRANSITION_HZ: Final = 1.0
# Hamming window: transition width ≈ 3.3·fs/n_taps, stopband about 53 dB down (Oppenheim &
# Schafer, Discrete-Time Signal Processing, 3rd ed., table 7.2; 45–53 dB measured here).
HAMMING_TRANSITION_WIDTH_TAPS: Final = 3.3
# The band-pass of hrv-methods.md §8.1 step 6 as scipy pads it (3 × its 5 taps, odd extension).
BANDPASS_EDGE_SAMPLES: Final = 15
# Its zero-phase impulse response has decayed below 1e-6 of its peak after this long (214
# samples at 4 Hz): the FFT filter keeps this much room on each side of the signal.
BANDPASS_SETTLE_S: Final = 60.0
# The periodogram's peak is found on every ZOOM_FACTOR-th bin, then refined (`_peak_bin`).
ZOOM_FACTOR: Final = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveBreathingRate:
    """Breathing rate of one window of chest acceleration.

    Attributes
    ----------
    rate_breaths_per_min : float
        Periodogram-peak rate in 0.05–0.7 Hz, breaths/min; NaN when the window spans less
        than 20 s or carries no variation.
    explained_variance : float
        Share (0–1) of the detrended, low-passed ACC variance carried by the first principal
        component; NaN when nothing was computed. Below about 0.5 the chest-tilt model does
        not hold (motion, hrv-methods.md §8.1).
    t_start_s, t_end_s : float
        Times of the first and last sample used, s (NaN when the window is empty).
    n_samples : int
        Samples used (low-passed, before the interpolation to 4 Hz).
    """

    rate_breaths_per_min: float
    explained_variance: float
    t_start_s: float
    t_end_s: float
    n_samples: int


def live_breathing_rate(acc_mg: npt.ArrayLike, t_s: npt.ArrayLike) -> LiveBreathingRate:
    """Breathing rate and PC1 share of low-passed chest acceleration.

    Parameters
    ----------
    acc_mg : array_like, shape (n_samples, 3)
        Acceleration in mG (x, y, z), gravity included, already low-passed at about 1 Hz
        (what `AccBreathingWindow` keeps, at any rate of at least 2 Hz). Must be finite.
    t_s : array_like, shape (n_samples,)
        Sample times in s, finite and strictly increasing; gaps are bridged by linear
        interpolation, as in `respiration.breathing_from_acc`.

    Returns
    -------
    LiveBreathingRate
        NaN rate and share when the samples span less than 20 s; NaN rate when they carry no
        variation.

    Raises
    ------
    SignalInputError
        If ``acc_mg`` is not (n, 3) and finite or ``t_s`` is not a finite, strictly
        increasing array of length n.

    Notes
    -----
    hrv-methods.md §8.1 steps 3–7 (steps 1–2, resampling on the timestamps and the 1 Hz
    low-pass, are the caller's): linear interpolation to 4 Hz → linear detrend per axis →
    projection on the first principal component → 2nd-order 0.05–0.7 Hz Butterworth
    band-pass, zero phase → Hann-windowed periodogram zero-padded to max(8192, the power of
    two ≥ 8 n) points → argmax in 0.05–0.7 Hz. The band-pass is applied as the response
    |H(f)|² of filtering forwards and backwards on one FFT of the signal, padded as scipy's
    ``sosfiltfilt`` pads it (odd extension of 15 samples) and continued by its end values;
    for the bilinear-transform Butterworth band-pass of order N with edges f₁, f₂ at rate fs,
    with Ω(f) = tan(π f / fs): |H(f)|² = 1 / (1 + x^(2N)),
    x = (Ω² − Ω(f₁) Ω(f₂)) / ((Ω(f₂) − Ω(f₁)) Ω).

    Examples
    --------
    >>> import numpy as np
    >>> from pet_biofeedback.signal.respiration_live import live_breathing_rate
    >>> t_s = np.arange(0.0, 60.0, 0.2)
    >>> tilt = 0.02 * np.sin(2 * np.pi * 0.1 * t_s)  # rad, 6 breaths/min
    >>> acc_mg = 1000 * np.column_stack([np.sin(0.6 + tilt), 0 * t_s, np.cos(0.6 + tilt)])
    >>> round(live_breathing_rate(acc_mg, t_s).rate_breaths_per_min, 1)
    6.0
    """
    try:
        acc = np.asarray(acc_mg, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SignalInputError(f"acc_mg must be numeric: {exc}") from exc
    if acc.ndim != 2 or acc.shape[1] != 3:
        raise SignalInputError(f"acc_mg must have shape (n_samples, 3), got {acc.shape}")
    if not np.all(np.isfinite(acc)):
        raise SignalInputError("acc_mg must be finite (no NaN or inf)")
    times = as_1d_float(t_s, "t_s")
    if times.size != acc.shape[0]:
        raise SignalInputError(
            f"t_s must have one time per ACC sample: {times.size} times for {acc.shape[0]} samples"
        )
    if times.size > 1 and np.any(np.diff(times) <= 0):
        raise SignalInputError("t_s must be strictly increasing")
    return _rate(times, acc)


class AccBreathingWindow:
    """The last ``window_s`` of a chest ACC stream, low-passed and decimated as it arrives.

    Parameters
    ----------
    fs_hz : float
        Nominal rate of the stream in Hz (at least 5; Polar straps: 25–200). The timestamps
        given to `push` decide the timing.
    window_s : float, optional
        Length of the window kept, s (default 60; at least 20).

    Raises
    ------
    SignalInputError
        If ``fs_hz`` is below 5 Hz or not finite, or ``window_s`` is shorter than 20 s.

    Notes
    -----
    Module docstring for the filters. A `push` costs O(its samples), `rate` O(window) (one
    8192-point FFT); memory is O(window). NaN or infinite samples make the kept samples whose
    filter taps cover them non-finite; `rate` leaves those out (the gap is bridged as a gap in
    the timestamps is), so a bad sample costs about 3 s of data, not the window.

    Examples
    --------
    >>> import numpy as np
    >>> from pet_biofeedback.signal.respiration_live import AccBreathingWindow
    >>> fs_hz = 200.0
    >>> t_s = np.arange(int(90 * fs_hz)) / fs_hz
    >>> tilt = 0.02 * np.sin(2 * np.pi * 0.1 * t_s)  # rad, 6 breaths/min
    >>> acc_mg = 1000 * np.column_stack([np.sin(0.6 + tilt), 0 * t_s, np.cos(0.6 + tilt)])
    >>> window = AccBreathingWindow(fs_hz)
    >>> for start in range(0, t_s.size, 36):  # frames of 36 samples, as from a Polar H10
    ...     window.push(t_s[start : start + 36], acc_mg[start : start + 36])
    >>> round(window.span_s)
    60
    >>> round(window.rate().rate_breaths_per_min, 1)
    6.0
    """

    def __init__(self, fs_hz: float, *, window_s: float = 60.0) -> None:
        fs = float(fs_hz)
        if not (math.isfinite(fs) and fs >= MIN_ACC_FS_HZ):
            raise SignalInputError(f"fs_hz must be at least {MIN_ACC_FS_HZ:g} Hz, got {fs_hz!r}")
        if not (math.isfinite(window_s) and window_s >= MIN_DURATION_S):
            raise SignalInputError(
                f"window_s must be at least {MIN_DURATION_S:g} s, got {window_s!r}"
            )
        self.fs_hz = fs
        self.window_s = float(window_s)
        self._block = max(1, round(fs / ACC_BLOCK_HZ))
        block_fs_hz = fs / self._block
        self._step = max(1, round(block_fs_hz / ACC_KEEP_HZ))
        self.kept_fs_hz = block_fs_hz / self._step
        self._taps = _lowpass_taps(block_fs_hz)
        self._half = (self._taps.size - 1) // 2
        # The FIR's input history: the last n_taps − 1 block means (values and times), and
        # how many block means there have been (their index decides which outputs are kept).
        self._hist_mg = np.empty((0, 3))
        self._hist_t = np.empty(0)
        self._n_blocks = 0
        # Samples of an incomplete block, waiting for the next push.
        self._carry_mg = np.empty((0, 3))
        self._carry_t = np.empty(0)
        # Ring of kept samples; sample k is at k % capacity.
        self._capacity = math.ceil(self.window_s * self.kept_fs_hz)
        self._t = np.empty(self._capacity)
        self._mg = np.empty((self._capacity, 3))
        self._n_kept = 0

    @property
    def span_s(self) -> float:
        """Time from the oldest to the newest kept sample, s (0 with fewer than two)."""
        if self._n_kept < 2:
            return 0.0
        newest = (self._n_kept - 1) % self._capacity
        oldest = 0 if self._n_kept <= self._capacity else self._n_kept % self._capacity
        return float(self._t[newest] - self._t[oldest])

    def push(self, t_s: npt.ArrayLike, acc_mg: npt.ArrayLike) -> None:
        """Add raw samples, oldest first.

        Parameters
        ----------
        t_s : array_like, shape (n_samples,)
            Their times, s (one clock for the whole stream).
        acc_mg : array_like, shape (n_samples, 3)
            Acceleration in mG (x, y, z) at the window's ``fs_hz``.

        Raises
        ------
        SignalInputError
            If the shapes do not match (n,) and (n, 3).
        """
        t_new = np.asarray(t_s, dtype=np.float64)
        mg_new = np.asarray(acc_mg, dtype=np.float64)
        if mg_new.ndim != 2 or mg_new.shape[1] != 3 or t_new.shape != mg_new.shape[:1]:
            raise SignalInputError(
                f"push needs times (n,) and acc_mg (n, 3), got {t_new.shape} and {mg_new.shape}"
            )
        if self._carry_t.size:
            t_new = np.concatenate((self._carry_t, t_new))
            mg_new = np.concatenate((self._carry_mg, mg_new))
        b = self._block
        whole = t_new.size // b * b
        self._carry_t, self._carry_mg = t_new[whole:], mg_new[whole:]
        if whole:
            # Block means as sums over the block divided by its size.
            n = whole // b
            t_blocks = np.add.reduce(t_new[:whole].reshape(n, b), axis=1) / b
            mg_blocks = np.einsum("kbc->kc", mg_new[:whole].reshape(n, b, 3)) / b
            self._filter(t_blocks, mg_blocks)

    def _filter(self, t_blocks: FloatArray, mg_blocks: FloatArray) -> None:
        """FIR low-pass of new block means; keeps every `_step`-th output (block index ≥ 0)."""
        n_taps, half, step = self._taps.size, self._half, self._step
        if self._n_blocks == 0:
            # Start in the steady state of the first sample: no transient from gravity.
            self._hist_mg = np.repeat(mg_blocks[:1], n_taps - 1, axis=0)
            self._hist_t = np.full(n_taps - 1, np.nan)
        mg = np.concatenate((self._hist_mg, mg_blocks))
        t = np.concatenate((self._hist_t, t_blocks))
        m = t_blocks.size
        # The output whose centre tap is block c starts at row c − n_blocks + half of the
        # buffer; it exists once the buffer reaches c + half. Keep c = 0, step, 2·step, …
        first_c = max(0, -(-(self._n_blocks - half) // step) * step)
        centres = np.arange(first_c, self._n_blocks - half + m, step)
        if centres.size:
            first = int(centres[0]) - self._n_blocks + half
            row_bytes, col_bytes = mg.strides
            # (output, axis, tap): the taps of every step-th output, a view of ``mg``.
            windows = np.ndarray(
                (centres.size, 3, n_taps),
                dtype=np.float64,
                buffer=mg,
                offset=first * row_bytes,
                strides=(step * row_bytes, col_bytes, row_bytes),
            )
            centre_t = t[first + half :: step][: centres.size]
            self._store(centre_t, windows @ self._taps)
        self._hist_mg, self._hist_t = mg[-(n_taps - 1) :], t[-(n_taps - 1) :]
        self._n_blocks += m

    def _store(self, t: FloatArray, mg: FloatArray) -> None:
        """Write kept samples into the ring (at most two slices: to its end, from its start)."""
        cap = self._capacity
        if t.size > cap:
            self._n_kept += t.size - cap
            t, mg = t[-cap:], mg[-cap:]
        pos = self._n_kept % cap
        m = min(t.size, cap - pos)
        self._t[pos : pos + m], self._mg[pos : pos + m] = t[:m], mg[:m]
        self._t[: t.size - m], self._mg[: t.size - m] = t[m:], mg[m:]
        self._n_kept += t.size

    def contents(self) -> tuple[FloatArray, FloatArray]:
        """Times (s) and low-passed acceleration (mG, n × 3) of the window, oldest first.

        Copies. Non-finite samples (module notes) are included; the times are in arrival
        order and need not be increasing if the stream's were not.
        """
        cap = self._capacity
        if self._n_kept <= cap:
            return self._t[: self._n_kept].copy(), self._mg[: self._n_kept].copy()
        pos = self._n_kept % cap
        return (
            np.concatenate((self._t[pos:], self._t[:pos])),
            np.concatenate((self._mg[pos:], self._mg[:pos])),
        )

    def rate(self) -> LiveBreathingRate:
        """`live_breathing_rate` of the window.

        Samples that are not finite, and samples not later than an earlier one (a stream
        whose timestamps stepped back), are left out; never raises.
        """
        t, mg = self.contents()
        if not (np.isfinite(mg).all() and np.isfinite(t).all()):
            good = np.isfinite(t) & np.isfinite(mg).all(axis=1)
            t, mg = t[good], mg[good]
        if t.size > 1 and not (t[1:] > t[:-1]).all():
            later = np.empty(t.size, dtype=bool)
            later[0] = True
            later[1:] = t[1:] > np.maximum.accumulate(t[:-1])
            t, mg = t[later], mg[later]
        return _rate(t, mg)


# --- private helpers --------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _lowpass_taps(fs: float) -> FloatArray:
    """Hamming-windowed sinc low-pass at `ACC_LOWPASS_HZ` for rate ``fs``; odd length,
    unit DC gain; read-only."""
    n_taps = math.ceil(HAMMING_TRANSITION_WIDTH_TAPS * fs / ACC_FIR_TRANSITION_HZ) | 1
    cutoff = ACC_LOWPASS_HZ / fs  # cycles per sample
    k = np.arange(n_taps) - (n_taps - 1) / 2
    taps: FloatArray = 2 * cutoff * np.sinc(2 * cutoff * k) * np.hamming(n_taps)
    taps /= taps.sum()
    taps.flags.writeable = False
    return taps


@functools.lru_cache(maxsize=8)
def _bandpass_gain(nfft: int, fs: float) -> FloatArray:
    """|H(f)|² of the breathing band-pass at the ``nfft``-point rfft bins; read-only.

    The zero-phase (forward-backward) response of the order-`BANDPASS_ORDER` Butterworth
    band-pass that `respiration` designs with the bilinear transform (formula in
    `live_breathing_rate`'s notes).
    """
    omega = np.tan(np.pi * np.fft.rfftfreq(nfft, d=1.0 / fs) / fs)
    low, high = np.tan(np.pi * np.asarray(BREATHING_BAND_HZ) / fs)
    with np.errstate(divide="ignore"):  # f = 0: x = −∞, gain 0
        x = (omega**2 - low * high) / ((high - low) * omega)
    gain: FloatArray = 1.0 / (1.0 + x ** (2 * BANDPASS_ORDER))
    gain.flags.writeable = False
    return gain


def _bandpassed(x: FloatArray) -> FloatArray:
    """Zero-phase breathing band-pass of ``x`` along axis 0 (4 Hz, longer than the edge
    padding; 1-D, or 2-D for several signals at once).

    As `respiration`'s (odd extension of `BANDPASS_EDGE_SAMPLES` at both ends), but applied
    as |H|² on one FFT instead of filtering forwards and backwards: the extended signal is
    continued by its end values on each side (what the filter's steady-state start assumes)
    for `BANDPASS_SETTLE_S` and the two constants meet where their step no longer reaches
    the signal.
    """
    edge = BANDPASS_EDGE_SAMPLES
    ext = np.concatenate((2 * x[:1] - x[edge:0:-1], x, 2 * x[-1:] - x[-2 : -(edge + 2) : -1]))
    settle = round(BANDPASS_SETTLE_S * WORK_FS_HZ)
    nfft = 1 << math.ceil(math.log2(ext.shape[0] + 2 * settle))
    padded = np.empty((nfft, *x.shape[1:]))
    padded[: ext.shape[0]] = ext
    middle = ext.shape[0] + (nfft - ext.shape[0]) // 2
    padded[ext.shape[0] : middle] = ext[-1]
    padded[middle:] = ext[0]
    gain = _bandpass_gain(nfft, WORK_FS_HZ).reshape(-1, *([1] * (x.ndim - 1)))
    spectrum = np.fft.rfft(padded, axis=0) * gain
    out: FloatArray = np.fft.irfft(spectrum, n=nfft, axis=0)[edge : edge + x.shape[0]]
    return out


@dataclass(frozen=True, slots=True)
class _SpectralPlan:
    """Linear maps from an n-sample PC1 waveform (4 Hz) to what the rate needs (one refresh
    is then two matrix-vector products instead of three FFTs)."""

    nfft: int  # the periodogram's length (§8.1 step 7)
    band: slice  # its bins in 0.05–0.7 Hz
    first_coarse: int  # first coarse bin (every ZOOM_FACTOR-th) inside the band
    to_wave: FloatArray  # (n, n): band-pass, centre, Hann window
    to_coarse: FloatArray  # (2·n_coarse, n): cos rows then sin rows of the coarse DFT


@functools.lru_cache(maxsize=4)
def _spectral_plan(n: int) -> _SpectralPlan:
    """The `_SpectralPlan` of an ``n``-sample waveform; its arrays read-only.

    Built by filtering the identity (the band-pass is linear), once per window length: a
    session's refreshes all have one or two lengths once the window is full.
    """
    nfft = max(MIN_NFFT, 1 << math.ceil(math.log2(NFFT_PAD_FACTOR * n)))
    band = _band_bins(nfft, WORK_FS_HZ)
    first = -(-band.start // ZOOM_FACTOR)
    last = (band.stop - 1) // ZOOM_FACTOR
    bandpass = _bandpassed(np.eye(n))
    to_wave = _hann(n)[:, np.newaxis] * (bandpass - bandpass.mean(axis=0))
    phase = (2 * np.pi * ZOOM_FACTOR / nfft) * np.outer(np.arange(first, last + 1), np.arange(n))
    to_coarse = np.concatenate((np.cos(phase), np.sin(phase))) @ to_wave
    to_wave.flags.writeable = False
    to_coarse.flags.writeable = False
    return _SpectralPlan(
        nfft=nfft, band=band, first_coarse=first, to_wave=to_wave, to_coarse=to_coarse
    )


@functools.lru_cache(maxsize=8)
def _hann(n: int) -> FloatArray:
    """``np.hanning(n)``, read-only (a window's length repeats from refresh to refresh)."""
    window: FloatArray = np.hanning(n)
    window.flags.writeable = False
    return window


def _rate(t: FloatArray, acc: FloatArray) -> LiveBreathingRate:
    """`live_breathing_rate` of validated input: t increasing, acc (n, 3) finite."""
    n = t.size
    nan = math.nan
    if n < 2 or t[-1] - t[0] < MIN_DURATION_S:
        t0, t1 = (float(t[0]), float(t[-1])) if n else (nan, nan)
        return LiveBreathingRate(
            rate_breaths_per_min=nan, explained_variance=nan, t_start_s=t0, t_end_s=t1, n_samples=n
        )
    n_work = int(np.floor((t[-1] - t[0]) * WORK_FS_HZ + 1e-9)) + 1
    steps_s, ramp = _work_axis(n_work)
    grid = t[0] + steps_s
    work = np.empty((n_work, 3))
    for k in range(3):  # the three axes
        work[:, k] = np.interp(grid, t, acc[:, k])
    # Linear detrend per axis: least squares on the centred sample index (``ramp``).
    work -= work.mean(axis=0)
    work -= np.outer(ramp, ramp @ work)
    eigval, eigvec = np.linalg.eigh(work.T @ work / n_work)
    total = float(np.sum(eigval))
    explained, rate = nan, nan
    if total > 0.0:
        explained = float(eigval[-1] / total)
        plan = _spectral_plan(n_work)
        pc1 = work @ eigvec[:, -1]
        coarse = plan.to_coarse @ pc1
        n_coarse = coarse.size // 2
        coarse_power = coarse[:n_coarse] ** 2 + coarse[n_coarse:] ** 2
        centre = (plan.first_coarse + int(np.argmax(coarse_power))) * ZOOM_FACTOR
        peak_bin = _refine_peak_bin(plan.to_wave @ pc1, plan.nfft, plan.band, centre)
        if peak_bin >= 0:
            rate = 60.0 * peak_bin * WORK_FS_HZ / plan.nfft
    return LiveBreathingRate(
        rate_breaths_per_min=rate,
        explained_variance=explained,
        t_start_s=float(t[0]),
        t_end_s=float(t[-1]),
        n_samples=n,
    )


@functools.lru_cache(maxsize=8)
def _work_axis(n: int) -> tuple[FloatArray, FloatArray]:
    """(times of an ``n``-sample 4 Hz grid from 0 s, the centred sample index scaled to unit
    norm: the detrend's slope regressor); read-only."""
    steps_s: FloatArray = np.arange(n) / WORK_FS_HZ
    centred = np.arange(n, dtype=np.float64) - (n - 1) / 2
    ramp: FloatArray = centred / math.sqrt(float(centred @ centred))
    steps_s.flags.writeable = False
    ramp.flags.writeable = False
    return steps_s, ramp


@functools.lru_cache(maxsize=8)
def _zoom_kernel(nfft: int, n: int) -> FloatArray:
    """cos and sin of 2π·j·k/nfft for j < 2·`ZOOM_FACTOR` + 1 and k < n: rows j of cos, then
    rows j of sin; read-only."""
    phase = (2 * np.pi / nfft) * np.outer(np.arange(2 * ZOOM_FACTOR + 1), np.arange(n))
    kernel: FloatArray = np.concatenate((np.cos(phase), np.sin(phase)))
    kernel.flags.writeable = False
    return kernel


def _peak_bin(wave: FloatArray, nfft: int) -> int:
    """Bin of the largest power in 0.05–0.7 Hz of the ``nfft``-point periodogram of ``wave``
    (Hann-windowed, on the 4 Hz grid); -1 when the band carries no power.

    The same bin as an argmax over the full ``nfft``-point FFT, for an eighth of its cost: an
    FFT with every `ZOOM_FACTOR`-th bin finds the peak, and a direct DFT on the bins within one
    coarse step of it finds the maximum between them (power on the coarse bins is the power on
    those fine bins). It can differ only when two peaks are about equally strong, as they are
    between the coarse bins, and either would then be the answer.
    """
    band = _band_bins(nfft, WORK_FS_HZ)
    first = -(-band.start // ZOOM_FACTOR)  # coarse bins inside the band
    last = (band.stop - 1) // ZOOM_FACTOR
    coarse = np.fft.rfft(wave, n=nfft // ZOOM_FACTOR)[first : last + 1]
    centre = (first + int(np.argmax(coarse.real**2 + coarse.imag**2))) * ZOOM_FACTOR
    return _refine_peak_bin(wave, nfft, band, centre)


def _refine_peak_bin(wave: FloatArray, nfft: int, band: slice, centre: int) -> int:
    """The fine bin of largest power within one coarse step of the coarse peak ``centre``
    (`_peak_bin`); -1 when there is no power."""
    lo = max(band.start, centre - ZOOM_FACTOR)
    hi = min(band.stop, centre + ZOOM_FACTOR + 1)
    # X(lo + j) = Σ wave[k]·e^(−2πi·lo·k/nfft)·e^(−2πi·j·k/nfft), the second factor cached,
    # in real arithmetic: a complex matrix-vector product is ten times slower in OpenBLAS.
    cos_table, sin_table = _unit_circle(nfft)
    turns = lo * np.arange(wave.size) % nfft
    shifted = np.column_stack((wave * cos_table[turns], -wave * sin_table[turns]))
    n_fine = 2 * ZOOM_FACTOR + 1
    parts = _zoom_kernel(nfft, wave.size) @ shifted  # (cos; sin) × (re, im)
    real = parts[:n_fine, 0] + parts[n_fine:, 1]
    imag = parts[:n_fine, 1] - parts[n_fine:, 0]
    power = (real**2 + imag**2)[: hi - lo]
    peak = int(np.argmax(power))
    return lo + peak if power[peak] > 0.0 else -1


@functools.lru_cache(maxsize=4)
def _unit_circle(nfft: int) -> tuple[FloatArray, FloatArray]:
    """cos and sin of 2π·k/nfft for k < nfft; read-only."""
    angle = (2 * np.pi / nfft) * np.arange(nfft)
    cos_table, sin_table = np.cos(angle), np.sin(angle)
    cos_table.flags.writeable = False
    sin_table.flags.writeable = False
    return cos_table, sin_table


@functools.lru_cache(maxsize=8)
def _band_bins(nfft: int, fs: float) -> slice:
    """The rfft bins with 0.05 ≤ f ≤ 0.7 Hz (one run) of an ``nfft``-point FFT at ``fs``."""
    freqs_hz = np.fft.rfftfreq(nfft, d=1.0 / fs)
    idx = np.flatnonzero((freqs_hz >= BREATHING_BAND_HZ[0]) & (freqs_hz <= BREATHING_BAND_HZ[1]))
    return slice(int(idx[0]), int(idx[-1]) + 1)
