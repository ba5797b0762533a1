"""Frequency-domain HRV: resampling, detrending, Welch and Lomb–Scargle PSDs, coherence ratio.

Shapes of the same pipeline (hrv-methods.md §2):

* `frequency_metrics` — one window of RR intervals → `FrequencyMetrics`;
* `frequency_metrics_windows` — many beat-index windows in one vectorised call →
  `FrequencyWindows` (equal to `frequency_metrics` on each slice, to rounding);
* `IncrementalLomb` — Lomb sums on a fixed frequency grid updated in O(n_freqs) per beat;
* `coherence_ratio` / `coherence_windows` — the 64-s coherence ratio of §6.1.

Building blocks are public too: `beat_times_s`, `resample_rr`, `detrend_smoothness_priors`,
`welch_psd`, `lomb_psd`, `band_power_ms2`.

Windows variant and single call are *defined* to agree: every window gets its own natural
cubic spline through its own beats, its own uniform grid starting at its first beat, and its
own detrending. The windows variant does this for all windows at once by solving one
block-diagonal banded system (blocks decoupled by construction) instead of one per window.

Import cost: only numpy at module level. ``scipy.linalg`` (banded Cholesky) is imported on
first use; ``scipy.signal`` is never imported (peers.md §5.4).
"""

from __future__ import annotations

import math
from dataclasses import InitVar, dataclass, fields
from typing import Final, Literal, get_args

import numpy as np
import numpy.typing as npt

from pet_biofeedback.errors import ConfigError, SignalInputError
from pet_biofeedback.signal._segments import as_breaks, split_windows
from pet_biofeedback.signal._typing import BoolArray, FloatArray, IntArray
from pet_biofeedback.signal._validate import as_1d_float, check_choice, check_windows

__all__ = [
    "COHERENCE_FS_HZ",
    "COHERENCE_NFFT",
    "COHERENCE_PEAK_HALF_WIDTH_HZ",
    "COHERENCE_SEARCH_BAND_HZ",
    "COHERENCE_TOTAL_BAND_HZ",
    "COHERENCE_WINDOW_S",
    "DETREND_METHODS",
    "FREQ_MIN_BEATS",
    "FREQ_MIN_DURATION_S",
    "HF_BAND_HZ",
    "LF_BAND_HZ",
    "LOMB_FREQ_STEP_HZ",
    "RESAMPLE_FS_HZ",
    "SMOOTHNESS_PRIORS_LAMBDA",
    "SPECTRAL_METHODS",
    "VLF_BAND_HZ",
    "WELCH_NFFT_MIN",
    "WELCH_OVERLAP",
    "WELCH_SEGMENT_S",
    "CoherenceResult",
    "CoherenceWindows",
    "DetrendMethod",
    "FrequencyMetrics",
    "FrequencyWindows",
    "IncrementalLomb",
    "SpectralMethod",
    "SpectralSettings",
    "band_power_ms2",
    "beat_times_s",
    "coherence_ratio",
    "coherence_series",
    "coherence_windows",
    "default_lomb_freqs_hz",
    "detrend_smoothness_priors",
    "frequency_metrics",
    "frequency_metrics_windows",
    "lomb_psd",
    "resample_rr",
    "welch_psd",
]

# --- Bands and pipeline settings -------------------------------------------------------------
VLF_BAND_HZ: Final = (0.0033, 0.04)  # hrv-methods.md §2.1 (Task Force 1996)
LF_BAND_HZ: Final = (0.04, 0.15)  # §2.1
HF_BAND_HZ: Final = (0.15, 0.40)  # §2.1
RESAMPLE_FS_HZ: Final = 4.0  # §2.2 step 1: cubic spline at 4 Hz (Task Force / Kubios ‡)
SMOOTHNESS_PRIORS_LAMBDA: Final = (
    500.0  # §2.2 step 2 (Tarvainen 2002), ≈ 0.035 Hz high-pass at 4 Hz
)
WELCH_SEGMENT_S: Final = 256.0  # §2.2 step 3 (Kubios default ‡)
WELCH_OVERLAP: Final = 0.5  # §2.2 step 3
WELCH_NFFT_MIN: Final = 4096  # §2.2 step 3: zero padding to ≥ 4096 points
LOMB_FREQ_STEP_HZ: Final = 0.001  # our choice: ≈ 3× oversampling of a 5-min window (1/300 Hz)
# §4: HF needs ≥ 1 min; shorter records give NaN. LF (≥ 2 min) and VLF (≥ 5 min) are still
# returned for 1–5-min records; judging them is the caller's business (§4 table).
FREQ_MIN_DURATION_S: Final = 60.0
FREQ_MIN_BEATS: Final = 10  # guard against degenerate input, not a physiological claim

COHERENCE_WINDOW_S: Final = 64.0  # §6.1 step 1: last 64 s
COHERENCE_FS_HZ: Final = 2.0  # §6.1 step 1: 2 Hz → 128 samples
COHERENCE_NFFT: Final = 1024  # §6.1 step 3: 0.002 Hz grid
COHERENCE_SEARCH_BAND_HZ: Final = (0.04, 0.26)  # §6.1 step 4 (McCraty & Zayas 2014)
COHERENCE_PEAK_HALF_WIDTH_HZ: Final = 0.015  # §6.1 step 5: 0.030 Hz wide window
COHERENCE_TOTAL_BAND_HZ: Final = (0.0033, 0.4)  # §6.1 step 6

SpectralMethod = Literal["welch", "lomb"]
DetrendMethod = Literal["smoothness_priors", "linear", "none"]
SPECTRAL_METHODS: Final[tuple[str, ...]] = get_args(SpectralMethod)
DETREND_METHODS: Final[tuple[str, ...]] = get_args(DetrendMethod)
_WINDOWS: Final = ("hann",)

_MS_PER_S: Final = 1000.0
_GRID_EPS_SAMPLES: Final = 1e-6  # a grid point this close past the last beat still counts
_LOMB_CHUNK_ELEMS: Final = 1 << 20  # complex elements per Lomb work array (16 MiB)
_LOMB_UNIFORM_RTOL: Final = 1e-9  # frequency grids this uniform use the exp recurrence
# Below this a power (ms²) or PSD (ms²/Hz) is rounding noise (constant RR): ratios and peaks
# become NaN. 1-ms RR quantisation alone contributes ≈ 0.08 ms².
_POWER_FLOOR: Final = 1e-20
_COHERENCE_CHUNK: Final = 512  # windows per batch: bounds the spectra; small chunks stay in cache


# --- Results ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class SpectralSettings:
    """Every setting that shapes a frequency-domain number (hrv-methods.md §0).

    Attributes
    ----------
    method : {"welch", "lomb"}
        PSD estimator.
    detrend : {"smoothness_priors", "linear", "none"}
        Trend removal before the PSD; the mean is always removed ("none" = mean only).
    fs_hz : float
        Resampling rate of the cubic spline (Welch); for Lomb, the rate whose smoothness-
        priors cut-off the beat-domain detrending reproduces.
    lambda_ : float
        Smoothness-priors regularisation λ at ``fs_hz``.
    segment_s, overlap : float
        Welch segment length (s) and fractional overlap.
    nfft_min : int
        Welch FFT length when it is at least the segment length in samples; otherwise the
        next power of two above the segment length.
    window : str
        Taper, always ``"hann"`` (periodic, as ``scipy.signal.get_window``).
    lomb_freq_step_hz : float
        Lomb grid: ``k · lomb_freq_step_hz`` for k = 1 … up to the HF upper edge.
    vlf_band_hz, lf_band_hz, hf_band_hz : tuple of float
        Band edges (Hz), integrated over [lo, hi).
    min_duration_s : float
        Shortest record that gets numbers instead of NaN (s), judged by `long_enough`.
    min_duration_tolerance_rr : float
        Mean RR intervals a record's first-to-last-beat span may fall short of
        ``min_duration_s`` (default 2: one at either end, see `long_enough`).
    min_beats : int
        Fewest beats that get numbers instead of NaN.
    interpolation : None
        Removed (issue 9): it was accepted and ignored. Welch always resamples with a
        natural cubic spline through (t_k, RR_k) (hrv-methods.md §2.2); passing anything
        raises `ConfigError`.

    Raises
    ------
    SignalInputError
        Unknown ``method``, ``detrend`` or ``window``.
    ConfigError
        Non-positive rates, lengths or λ; overlap outside [0, 1); negative tolerance;
        ``interpolation`` given.
    """

    method: SpectralMethod = "welch"
    detrend: DetrendMethod = "smoothness_priors"
    fs_hz: float = RESAMPLE_FS_HZ
    lambda_: float = SMOOTHNESS_PRIORS_LAMBDA
    segment_s: float = WELCH_SEGMENT_S
    overlap: float = WELCH_OVERLAP
    nfft_min: int = WELCH_NFFT_MIN
    window: str = "hann"
    lomb_freq_step_hz: float = LOMB_FREQ_STEP_HZ
    vlf_band_hz: tuple[float, float] = VLF_BAND_HZ
    lf_band_hz: tuple[float, float] = LF_BAND_HZ
    hf_band_hz: tuple[float, float] = HF_BAND_HZ
    min_duration_s: float = FREQ_MIN_DURATION_S
    min_duration_tolerance_rr: float = 2.0  # one mean RR at either end (`long_enough`)
    min_beats: int = FREQ_MIN_BEATS
    interpolation: InitVar[str | None] = None

    def __post_init__(self, interpolation: str | None) -> None:
        if interpolation is not None:
            raise ConfigError(
                f"interpolation={interpolation!r} is no longer a setting: Welch always "
                "resamples with a natural cubic spline; leave the argument out"
            )
        if not (
            math.isfinite(self.min_duration_tolerance_rr) and self.min_duration_tolerance_rr >= 0
        ):
            raise ConfigError(
                "min_duration_tolerance_rr must be ≥ 0 and finite, "
                f"got {self.min_duration_tolerance_rr!r}"
            )
        check_choice(self.method, "method", SPECTRAL_METHODS)
        check_choice(self.detrend, "detrend", DETREND_METHODS)
        check_choice(self.window, "window", _WINDOWS)
        for name in ("fs_hz", "lambda_", "segment_s", "lomb_freq_step_hz"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{name} must be positive and finite, got {value!r}")
        if not 0.0 <= self.overlap < 1.0:
            raise ConfigError(f"overlap must be in [0, 1), got {self.overlap!r}")
        if self.nfft_min < 0:
            raise ConfigError(f"nfft_min must be ≥ 0, got {self.nfft_min!r}")
        if self.lomb_freq_step_hz > self.hf_band_hz[1]:
            raise ConfigError("lomb_freq_step_hz is wider than the whole spectrum")

    def lomb_freqs_hz(self) -> FloatArray:
        """The Lomb frequency grid (Hz) these settings use."""
        return default_lomb_freqs_hz(self.lomb_freq_step_hz, self.hf_band_hz[1])

    def long_enough(self, n_beats: npt.ArrayLike, duration_s: npt.ArrayLike) -> BoolArray:
        """Which records get numbers: enough beats, and a span that covers ``min_duration_s``.

        Parameters
        ----------
        n_beats : array_like of int
            Beats (RR intervals) of each record.
        duration_s : array_like of float
            First-to-last-beat span of each record (s), same shape.

        Returns
        -------
        ndarray of bool
            True where ``n_beats ≥ max(min_beats, 3)`` and ``duration_s`` plus
            ``min_duration_tolerance_rr`` mean RR intervals (``duration_s / (n_beats − 1)``)
            reaches ``min_duration_s``.

        Notes
        -----
        hrv-methods.md §2.2 step 5. The beats of a record of length T — a 60-s window, a
        one-minute recording — span less than T: from the record's start to its first beat
        and from its last beat to its end each lie within one RR interval. Judging the span
        against T strictly leaves out every 60-s window (issue 9); one mean RR of tolerance
        still leaves out about half of them (52 % kept of 3540 windows of 60 s over a
        4000-beat series at 67 bpm), two (one per end) keep 99.97 %.
        """
        n = np.asarray(n_beats)
        dur = np.asarray(duration_s, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            covered = dur + self.min_duration_tolerance_rr * dur / (n - 1)
        ok: BoolArray = (n >= max(self.min_beats, 3)) & (covered >= self.min_duration_s)
        return ok


@dataclass(frozen=True, slots=True, kw_only=True)
class FrequencyMetrics:
    """Frequency-domain HRV of one window; NaN where the window is too short.

    Attributes
    ----------
    n_beats : int
        Beats (RR intervals) in the window.
    duration_s : float
        Time from the first to the last beat of the window (s).
    vlf_ms2, lf_ms2, hf_ms2 : float
        Band powers (ms²), trapezoid of the PSD over [lo, hi) of each band.
    total_power_ms2 : float
        VLF + LF + HF (ms²); ULF and > 0.4 Hz excluded (§2.1).
    lf_hf : float
        LF / HF.
    lf_nu, hf_nu : float
        Task Force normalised units: 100 · LF / (TP − VLF), 100 · HF / (TP − VLF).
    lf_peak_hz, hf_peak_hz : float
        Frequency of the PSD maximum inside LF and HF (Hz).
    lf_peak_psd_ms2_per_hz : float
        PSD value at ``lf_peak_hz`` (ms²/Hz) — the "LF peak" of §6.3.
    settings : SpectralSettings
        The settings that produced these numbers.
    """

    n_beats: int
    duration_s: float
    vlf_ms2: float
    lf_ms2: float
    hf_ms2: float
    total_power_ms2: float
    lf_hf: float
    lf_nu: float
    hf_nu: float
    lf_peak_hz: float
    hf_peak_hz: float
    lf_peak_psd_ms2_per_hz: float
    settings: SpectralSettings


_METRIC_FIELDS: Final = (
    "vlf_ms2",
    "lf_ms2",
    "hf_ms2",
    "total_power_ms2",
    "lf_hf",
    "lf_nu",
    "hf_nu",
    "lf_peak_hz",
    "hf_peak_hz",
    "lf_peak_psd_ms2_per_hz",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class FrequencyWindows:
    """`FrequencyMetrics` for many windows: every array field has shape (n_windows,).

    Attributes
    ----------
    start_idx, stop_idx : ndarray of intp
        The beat-index windows [start, stop).
    n_beats : ndarray of intp
        ``stop_idx − start_idx``.
    duration_s, vlf_ms2, lf_ms2, hf_ms2, total_power_ms2, lf_hf, lf_nu, hf_nu, lf_peak_hz,
    hf_peak_hz, lf_peak_psd_ms2_per_hz : ndarray of float64
        As in `FrequencyMetrics`; NaN for windows that are too short.
    settings : SpectralSettings
        The settings used for every window.
    """

    start_idx: IntArray
    stop_idx: IntArray
    n_beats: IntArray
    duration_s: FloatArray
    vlf_ms2: FloatArray
    lf_ms2: FloatArray
    hf_ms2: FloatArray
    total_power_ms2: FloatArray
    lf_hf: FloatArray
    lf_nu: FloatArray
    hf_nu: FloatArray
    lf_peak_hz: FloatArray
    hf_peak_hz: FloatArray
    lf_peak_psd_ms2_per_hz: FloatArray
    settings: SpectralSettings

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                value.flags.writeable = False

    def window(self, k: int) -> FrequencyMetrics:
        """Return window ``k`` as a `FrequencyMetrics`."""
        floats = {name: float(getattr(self, name)[k]) for name in _METRIC_FIELDS}
        return FrequencyMetrics(
            n_beats=int(self.n_beats[k]),
            duration_s=float(self.duration_s[k]),
            settings=self.settings,
            **floats,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CoherenceResult:
    """Coherence ratio of one 64-s window (hrv-methods.md §6.1); NaN if not computable.

    Attributes
    ----------
    ratio : float
        CR = peak / (total − peak), dimensionless. Not HeartMath's 0–16 score.
    peak_hz : float
        Frequency of the PSD maximum in 0.04–0.26 Hz.
    peak_power_ms2 : float
        PSD integrated over ``peak_hz`` ± 0.015 Hz (ms²).
    total_power_ms2 : float
        PSD integrated over 0.0033–0.4 Hz (ms²).
    n_beats : int
        Beats used as spline knots (the beats in the window plus the one just before it).
    t_end_s : float
        Time of the last beat of the window (s, on the `beat_times_s` axis).
    """

    ratio: float
    peak_hz: float
    peak_power_ms2: float
    total_power_ms2: float
    n_beats: int
    t_end_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CoherenceWindows:
    """`CoherenceResult` for many windows: every field an array of shape (n_windows,)."""

    ratio: FloatArray
    peak_hz: FloatArray
    peak_power_ms2: FloatArray
    total_power_ms2: FloatArray
    n_beats: IntArray
    t_end_s: FloatArray

    def __post_init__(self) -> None:
        for f in fields(self):
            getattr(self, f.name).flags.writeable = False

    def window(self, k: int) -> CoherenceResult:
        """Return window ``k`` as a `CoherenceResult`."""
        return CoherenceResult(
            ratio=float(self.ratio[k]),
            peak_hz=float(self.peak_hz[k]),
            peak_power_ms2=float(self.peak_power_ms2[k]),
            total_power_ms2=float(self.total_power_ms2[k]),
            n_beats=int(self.n_beats[k]),
            t_end_s=float(self.t_end_s[k]),
        )


# --- Private numerical kernels ---------------------------------------------------------------
def _solveh_banded(ab: FloatArray, b: FloatArray) -> FloatArray:
    """Solve an SPD banded system (upper form, LAPACK pbsv); scipy.linalg imported lazily."""
    from scipy.linalg import solveh_banded  # lazy: keeps `import spectral` at numpy's cost

    out = solveh_banded(ab, b, overwrite_ab=True, overwrite_b=True, check_finite=False)
    return np.asarray(out, dtype=np.float64)


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
    seg = np.searchsorted(key_x, key_q, side="right") - 1
    seg = np.clip(seg, kstart[qid], kstart[qid] + klen[qid] - 2)
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
    for g in np.unique(nfft):  # distinct FFT lengths: powers of two or nfft_min (≤ ~20)
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
        # Periodic Hann of each segment's own length (scipy get_window("hann", n)).
        win = np.where(inside, 0.5 - 0.5 * np.cos(2.0 * np.pi * j / slen[:, None]), 0.0)
        seg = z[idx] * win
        n_fft = int(g)
        freqs = np.fft.rfftfreq(n_fft, 1.0 / fs_hz)
        keep = int(np.searchsorted(freqs, f_max_hz, side="right"))
        spec = np.fft.rfft(seg, n=n_fft, axis=-1)[:, :keep]
        pxx = spec.real**2 + spec.imag**2
        pxx *= (1.0 / (fs_hz * np.sum(win * win, axis=-1)))[:, None]
        # One-sided: double everything but DC and (even n_fft) Nyquist.
        hi = keep if (n_fft % 2 or keep < n_fft // 2 + 1) else keep - 1
        pxx[:, 1:hi] *= 2.0
        first = np.cumsum(gnseg) - gnseg
        psd = np.add.reduceat(pxx, first, axis=0) / gnseg[:, None]
        out.append(
            (blocks, np.asarray(freqs[:keep], dtype=np.float64), np.asarray(psd, dtype=np.float64))
        )
    return out


@dataclass(frozen=True, slots=True)
class _FreqPlan:
    """A Lomb frequency grid prepared for exp(iωt) evaluation."""

    freqs_hz: FloatArray
    uniform: bool
    f0_hz: float
    df_hz: float


def _freq_plan(freqs_hz: FloatArray) -> _FreqPlan:
    """Detect a uniform grid (to 1e-9 relative), which allows the complex recurrence."""
    f = freqs_hz
    if f.size >= 2:
        df = (f[-1] - f[0]) / (f.size - 1)
        uniform = bool(df > 0 and np.all(np.abs(np.diff(f) - df) <= _LOMB_UNIFORM_RTOL * df))
        return _FreqPlan(f, uniform, float(f[0]), float(df))
    return _FreqPlan(f, False, float(f[0]) if f.size else 0.0, 0.0)


def _exp_iwt(t_s: FloatArray, plan: _FreqPlan) -> npt.NDArray[np.complex128]:
    """exp(2πi·f·t) as an (n_freqs, n) array; float64 t, validated plan.

    On a uniform grid f_m = f_0 + m·Δf this is exp(2πi f_0 t) · exp(2πi Δf t)^m: two complex
    exponentials per time instead of n_freqs. Rows are filled by doubling (rows [k, 2k) =
    rows [0, k) · exp(2πi Δf t)^k), so ⌈log2 n_freqs⌉ vectorised products; error ≈ m·ε.
    """
    nf = plan.freqs_hz.size
    if plan.uniform:
        out = np.empty((nf, t_s.size), dtype=np.complex128)
        out[0] = np.exp(2j * np.pi * plan.f0_hz * t_s)
        step = np.exp(2j * np.pi * plan.df_hz * t_s)
        filled = 1
        while filled < nf:  # log2(n_freqs) passes
            k = min(filled, nf - filled)
            np.multiply(out[:k], step, out=out[filled : filled + k])
            filled += k
            if filled < nf:
                step = step * step
        return out
    return np.asarray(
        np.exp(2j * np.pi * plan.freqs_hz[:, None] * t_s[None, :]), dtype=np.complex128
    )


def _lomb_from_sums(
    n: FloatArray,
    span_s: FloatArray,
    s2: npt.NDArray[np.complex128],
    sx: npt.NDArray[np.complex128],
) -> FloatArray:
    """PSD (ms²/Hz) from Lomb sums; rows = windows, columns = frequencies.

    ``n`` beats and first-to-last ``span_s`` per row; ``s2`` = Σ exp(2iωt); ``sx`` =
    Σ (x − x̄) exp(iωt). With 2ωτ = arg s2 (Scargle 1982):
    Σx̃cos ω(t−τ) + iΣx̃sin ω(t−τ) = sx·e^{−iωτ}, Σcos² = (N + |s2|)/2, Σsin² = (N − |s2|)/2,
    P = ½[(Σx̃cos)²/Σcos² + (Σx̃sin)²/Σsin²], PSD = 2P/f̄ with f̄ = (N − 1)/span (§2.3).
    """
    nn = n[:, None]
    mag = np.abs(s2)
    rot = np.ones_like(s2)
    np.divide(s2, mag, out=rot, where=mag > 0)
    z = sx * np.conj(np.sqrt(rot))
    cc = 0.5 * (nn + mag)
    ss = 0.5 * (nn - mag)
    tiny = 1e-12 * nn
    yc = z.real
    ys = z.imag
    p = 0.5 * (
        np.divide(yc * yc, cc, out=np.zeros_like(yc), where=cc > tiny)
        + np.divide(ys * ys, ss, out=np.zeros_like(ys), where=ss > tiny)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        fbar = np.where((n >= 2) & (span_s > 0), (n - 1.0) / span_s, np.nan)
    return np.asarray(2.0 * p / fbar[:, None], dtype=np.float64)


def _lomb_blocks(t_s: FloatArray, x: FloatArray, xlen: IntArray, plan: _FreqPlan) -> FloatArray:
    """Lomb PSD (ms²/Hz) of every block of (t, x) (lengths ≥ 1); shape (n_blocks, n_freqs).

    The mean of each block is removed here. Work runs over chunks of (block, beat) pairs to
    bound memory at about ``_LOMB_CHUNK_ELEMS`` complex numbers per array — a loop over
    chunks of a fixed size, not over beats or windows; each chunk is fully vectorised.
    """
    nb = xlen.size
    nf = plan.freqs_hz.size
    xid = _block_ids(xlen)
    xt = _mean_detrend_blocks(x, xlen)
    s2 = np.zeros((nb, nf), dtype=np.complex128)
    sx = np.zeros((nb, nf), dtype=np.complex128)
    total = xt.size
    chunk = max(1, _LOMB_CHUNK_ELEMS // max(nf, 1))
    for c0 in range(0, total, chunk):
        c1 = min(c0 + chunk, total)
        e = _exp_iwt(t_s[c0:c1], plan)
        bid = xid[c0:c1]
        cut = np.flatnonzero(np.concatenate(([True], bid[1:] != bid[:-1])))
        ub = bid[cut]
        s2[ub] += np.add.reduceat(e * e, cut, axis=1).T
        # Real × complex through a float view: avoids numpy's slow mixed-type loop.
        e.view(np.float64)[...] *= np.repeat(xt[c0:c1], 2)
        sx[ub] += np.add.reduceat(e, cut, axis=1).T
    xstart = np.cumsum(xlen) - xlen
    span = t_s[xstart + xlen - 1] - t_s[xstart] if nb else np.zeros(0)
    return _lomb_from_sums(xlen.astype(np.float64), span, s2, sx)


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


def _band_metrics(
    freqs_hz: FloatArray, psd: FloatArray, settings: SpectralSettings
) -> dict[str, FloatArray]:
    """All `FrequencyMetrics` numbers for the rows of ``psd``."""
    vlf = _trapezoid_rows(psd, freqs_hz, _band_mask(freqs_hz, settings.vlf_band_hz))
    lf_mask = _band_mask(freqs_hz, settings.lf_band_hz)
    hf_mask = _band_mask(freqs_hz, settings.hf_band_hz)
    lf = _trapezoid_rows(psd, freqs_hz, lf_mask)
    hf = _trapezoid_rows(psd, freqs_hz, hf_mask)
    lf_pk, lf_pk_psd = _peak_rows(psd, freqs_hz, lf_mask)
    hf_pk, _ = _peak_rows(psd, freqs_hz, hf_mask)
    tp = vlf + lf + hf
    lfhf_sum = lf + hf
    with np.errstate(divide="ignore", invalid="ignore"):
        lf_hf = np.where(hf > _POWER_FLOOR, lf / hf, np.nan)
        lf_nu = np.where(lfhf_sum > _POWER_FLOOR, 100.0 * lf / lfhf_sum, np.nan)
        hf_nu = np.where(lfhf_sum > _POWER_FLOOR, 100.0 * hf / lfhf_sum, np.nan)
    return {
        "vlf_ms2": vlf,
        "lf_ms2": lf,
        "hf_ms2": hf,
        "total_power_ms2": tp,
        "lf_hf": lf_hf,
        "lf_nu": lf_nu,
        "hf_nu": hf_nu,
        "lf_peak_hz": lf_pk,
        "hf_peak_hz": hf_pk,
        "lf_peak_psd_ms2_per_hz": lf_pk_psd,
    }


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


def _frequency_windows_core(
    rr: FloatArray, start: IntArray, stop: IntArray, settings: SpectralSettings
) -> dict[str, FloatArray]:
    """Every metric for validated windows; NaN for windows below the minimum."""
    n_win = start.size
    klen_all = stop - start
    cum_ms = np.cumsum(rr)
    has = klen_all >= 1
    s_i = np.where(has, start, 0)
    e_i = np.where(has, stop - 1, 0)
    dur = (
        np.where(has, (cum_ms[e_i] - cum_ms[s_i]) / _MS_PER_S, 0.0) if rr.size else np.zeros(n_win)
    )
    ok = settings.long_enough(klen_all, dur)
    out = {name: np.full(n_win, np.nan) for name in _METRIC_FIELDS}
    out["duration_s"] = np.where(has, dur, np.nan)
    vs = np.flatnonzero(ok)
    if vs.size == 0:
        return out
    kst, klen = start[vs], klen_all[vs]
    tk, yk = _window_knots(cum_ms, rr, kst, klen)

    if settings.method == "welch":
        fs = settings.fs_hz
        qlen = _n_grid(dur[vs], fs)
        q = (np.arange(int(qlen.sum())) - np.repeat(np.cumsum(qlen) - qlen, qlen)) / fs
        z = _spline_blocks(tk, yk, klen, q, qlen)
        if settings.detrend == "smoothness_priors":
            lam2 = np.full(vs.size, settings.lambda_**2)
            z = _smoothness_priors_blocks(z, qlen, lam2)
        elif settings.detrend == "linear":
            z = _linear_detrend_blocks(q, z, qlen)
        else:
            z = _mean_detrend_blocks(z, qlen)
        nperseg = max(round(settings.segment_s * fs), 1)
        groups = _welch_blocks(
            z, qlen, fs, nperseg, settings.overlap, settings.nfft_min, settings.hf_band_hz[1]
        )
        for blocks, freqs, psd in groups:
            for name, values in _band_metrics(freqs, psd, settings).items():
                out[name][vs[blocks]] = values
        return out

    # Lomb on the beats themselves. Smoothness priors acts on the beat-indexed series with
    # λ scaled so that its cut-off in Hz equals that of the fs_hz pipeline: the cut-off is
    # ∝ f_s/√λ, hence λ_beats = λ·(f̄/f_s)² with f̄ the window's mean beat rate.
    if settings.detrend == "smoothness_priors":
        fbar = (klen - 1) / dur[vs]
        lam2 = (settings.lambda_ * (fbar / settings.fs_hz) ** 2) ** 2
        xk = _smoothness_priors_blocks(yk, klen, lam2)
    elif settings.detrend == "linear":
        xk = _linear_detrend_blocks(tk, yk, klen)
    else:
        xk = yk
    freqs = settings.lomb_freqs_hz()
    psd = _lomb_blocks(tk, xk, klen, _freq_plan(freqs))
    for name, values in _band_metrics(freqs, psd, settings).items():
        out[name][vs] = values
    return out


def _frequency_pieces(
    rr: FloatArray, start: IntArray, stop: IntArray, breaks: IntArray, settings: SpectralSettings
) -> dict[str, FloatArray]:
    """Every metric of windows cut at ``breaks``: long-enough pieces combined (validated).

    Duration-weighted mean band powers of the pieces that pass the minimum; ratios and n.u.
    from those means; peaks of the longest such piece.
    """
    n_win = start.size
    if n_win == 0:
        return _frequency_windows_core(rr, start, stop, settings)
    owner, p_start, p_stop = split_windows(start, stop, breaks)
    res = _frequency_windows_core(rr, p_start, p_stop, settings)
    dur = np.nan_to_num(res["duration_s"])
    ok = settings.long_enough(p_stop - p_start, dur) & np.isfinite(res["total_power_ms2"])
    weight = np.where(ok, dur, 0.0)
    w_sum = np.bincount(owner, weights=weight, minlength=n_win).astype(np.float64)
    has = w_sum > 0
    out = {name: np.full(n_win, np.nan) for name in _METRIC_FIELDS}
    out["duration_s"] = np.bincount(owner, weights=dur, minlength=n_win).astype(np.float64)
    out["duration_s"][stop <= start] = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        for name in ("vlf_ms2", "lf_ms2", "hf_ms2"):  # three bands
            weighted = np.where(ok, weight * res[name], 0.0)
            total = np.bincount(owner, weights=weighted, minlength=n_win).astype(np.float64)
            out[name] = np.where(has, total / w_sum, np.nan)
        vlf, lf, hf = out["vlf_ms2"], out["lf_ms2"], out["hf_ms2"]
        out["total_power_ms2"] = vlf + lf + hf
        lfhf_sum = lf + hf
        out["lf_hf"] = np.where(hf > _POWER_FLOOR, lf / hf, np.nan)
        out["lf_nu"] = np.where(lfhf_sum > _POWER_FLOOR, 100.0 * lf / lfhf_sum, np.nan)
        out["hf_nu"] = np.where(lfhf_sum > _POWER_FLOOR, 100.0 * hf / lfhf_sum, np.nan)
    # Longest usable piece of each window: the last one after sorting by (owner, weight).
    order = np.lexsort((weight, owner))
    last_of_owner = order[np.append(owner[order][1:] != owner[order][:-1], True)]
    best = np.full(n_win, -1, dtype=np.intp)
    best[owner[last_of_owner]] = last_of_owner
    sel = np.flatnonzero(has)
    for name in ("lf_peak_hz", "hf_peak_hz", "lf_peak_psd_ms2_per_hz"):  # three peaks
        out[name][sel] = res[name][best[sel]]
    return out


# --- Public building blocks ------------------------------------------------------------------
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
    if t.size < 2:
        return t.copy(), y.copy()
    n_q = int(_n_grid(float(t[-1] - t[0]), fs_hz))
    q = np.arange(n_q) / fs_hz
    vals = _spline_blocks(t - t[0], y, np.array([t.size]), q, np.array([n_q]))
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


def default_lomb_freqs_hz(
    step_hz: float = LOMB_FREQ_STEP_HZ, f_max_hz: float = HF_BAND_HZ[1]
) -> FloatArray:
    """The Lomb grid ``k · step_hz`` for k = 1 … ⌊f_max/step⌋ (Hz), read-only.

    Examples
    --------
    >>> f = default_lomb_freqs_hz()
    >>> f.size, float(f[0]), float(f[-1])
    (400, 0.001, 0.4)
    """
    k = np.arange(1, math.floor(f_max_hz / step_hz + 1e-9) + 1, dtype=np.float64)
    f = k * step_hz
    f.flags.writeable = False
    return f


def lomb_psd(t_s: npt.ArrayLike, x_ms: npt.ArrayLike, freqs_hz: npt.ArrayLike) -> FloatArray:
    """Classical Lomb–Scargle periodogram of unevenly sampled data, scaled to ms²/Hz.

    Parameters
    ----------
    t_s : array_like, shape (n_beats,)
        Sample (beat) times in s, strictly increasing.
    x_ms : array_like, shape (n_beats,)
        Values in ms (RR/NN); the mean is removed here.
    freqs_hz : array_like, shape (n_freqs,)
        Frequencies in Hz (not angular), all > 0.

    Returns
    -------
    ndarray of float64, shape (n_freqs,)
        One-sided PSD in ms²/Hz; NaN everywhere for fewer than 2 beats.

    Raises
    ------
    SignalInputError
        Shape mismatch, non-finite values, non-increasing times or frequencies ≤ 0.

    Notes
    -----
    hrv-methods.md §2.3. P(f) is Scargle's (1982) periodogram of the mean-removed values
    with the time offset τ; the one-sided PSD is 2·P(f)/f̄ with f̄ = (N − 1)/(t_N − t_1)
    beats per second, so that ∫PSD df ≈ variance and a sinusoid of amplitude A gives band
    power A²/2. exp(iωt) comes from a complex recurrence on uniform grids, broadcasting
    otherwise; no ``scipy.signal``.

    Examples
    --------
    >>> t = np.cumsum(np.full(300, 0.85))
    >>> x = 850.0 + 40.0 * np.sin(2 * np.pi * 0.1 * t)
    >>> f = default_lomb_freqs_hz()
    >>> p = lomb_psd(t, x, f)
    >>> round(float(f[np.argmax(p)]), 3)
    0.1
    """
    t = as_1d_float(t_s, "t_s")
    x = as_1d_float(x_ms, "x_ms")
    f = as_1d_float(freqs_hz, "freqs_hz", positive=True)
    if t.shape != x.shape:
        raise SignalInputError(f"t_s and x_ms must have equal length, got {t.size} and {x.size}")
    if t.size >= 2 and np.any(np.diff(t) <= 0):
        raise SignalInputError("t_s must be strictly increasing")
    if t.size < 2:
        return np.full(f.size, np.nan)
    return np.asarray(_lomb_blocks(t, x, np.array([t.size]), _freq_plan(f))[0], dtype=np.float64)


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


# --- Frequency metrics -----------------------------------------------------------------------
def frequency_metrics(
    rr_ms: npt.ArrayLike,
    *,
    method: SpectralMethod = "welch",
    detrend: DetrendMethod = "smoothness_priors",
    fs_hz: float = RESAMPLE_FS_HZ,
    lambda_: float = SMOOTHNESS_PRIORS_LAMBDA,
    segment_s: float = WELCH_SEGMENT_S,
    overlap: float = WELCH_OVERLAP,
    nfft_min: int = WELCH_NFFT_MIN,
    lomb_freq_step_hz: float = LOMB_FREQ_STEP_HZ,
) -> FrequencyMetrics:
    """Frequency-domain HRV (VLF, LF, HF, LF/HF, n.u., peaks) of one series of RR intervals.

    Parameters
    ----------
    rr_ms : array_like, shape (n_beats,)
        RR/NN intervals in ms, finite and positive; beat times are their cumulative sum.
    method : {"welch", "lomb"}, default "welch"
        Welch on the 4-Hz spline, or Lomb–Scargle on the beats themselves.
    detrend : {"smoothness_priors", "linear", "none"}, default "smoothness_priors"
        Trend removal; the mean is always removed. For Lomb, smoothness priors acts on the
        beat series with λ scaled to keep the same cut-off in Hz (λ·(f̄/fs_hz)²).
    fs_hz : float, default 4.0
        Spline resampling rate (Hz).
    lambda_ : float, default 500
        Smoothness-priors λ at ``fs_hz``.
    segment_s, overlap, nfft_min :
        Welch settings, see `welch_psd`.
    lomb_freq_step_hz : float, default 0.001
        Spacing of the Lomb grid (Hz).

    Returns
    -------
    FrequencyMetrics
        Band powers in ms², peaks in Hz. All NaN if the record has fewer than
        ``FREQ_MIN_BEATS`` (10) beats or its first-to-last-beat span is shorter than
        ``FREQ_MIN_DURATION_S`` (60 s, the HF minimum of §4). LF needs ≥ 2 min and VLF
        ≥ 5 min to mean anything (§4) — they are returned, not judged.

    Raises
    ------
    SignalInputError
        Bad ``rr_ms``; unknown ``method`` or ``detrend`` (the message lists the valid ones).
    ConfigError
        Nonsensical numeric settings.

    Notes
    -----
    hrv-methods.md §2.1–§2.3: natural cubic spline of RR(t_k) at ``fs_hz`` on a grid from the
    first beat, smoothness priors (λ = 500), Welch (Hann, 256-s segments, 50 % overlap,
    nfft ≥ 4096, one-sided density), trapezoid band power over [lo, hi), Task Force n.u.
    A 5-min record holds one 256-s segment; its last ≈ 44 s do not enter the Welch PSD.

    Examples
    --------
    >>> t = np.arange(360) * 0.85
    >>> rr = 850.0 + 40.0 * np.sin(2 * np.pi * 0.1 * t)
    >>> m = frequency_metrics(rr)
    >>> round(m.lf_peak_hz, 2), m.n_beats
    (0.1, 360)
    """
    rr = as_1d_float(rr_ms, "rr_ms", positive=True)
    settings = SpectralSettings(
        method=method,
        detrend=detrend,
        fs_hz=fs_hz,
        lambda_=lambda_,
        segment_s=segment_s,
        overlap=overlap,
        nfft_min=nfft_min,
        lomb_freq_step_hz=lomb_freq_step_hz,
    )
    res = _frequency_windows_core(
        rr, np.array([0], dtype=np.intp), np.array([rr.size], dtype=np.intp), settings
    )
    return FrequencyMetrics(
        n_beats=rr.size,
        duration_s=float(res["duration_s"][0]),
        settings=settings,
        **{name: float(res[name][0]) for name in _METRIC_FIELDS},
    )


def frequency_metrics_windows(
    rr_ms: npt.ArrayLike,
    start_idx: npt.ArrayLike,
    stop_idx: npt.ArrayLike,
    *,
    method: SpectralMethod = "welch",
    detrend: DetrendMethod = "smoothness_priors",
    fs_hz: float = RESAMPLE_FS_HZ,
    lambda_: float = SMOOTHNESS_PRIORS_LAMBDA,
    segment_s: float = WELCH_SEGMENT_S,
    overlap: float = WELCH_OVERLAP,
    nfft_min: int = WELCH_NFFT_MIN,
    lomb_freq_step_hz: float = LOMB_FREQ_STEP_HZ,
    segment_start_idx: npt.ArrayLike | None = None,
) -> FrequencyWindows:
    """`frequency_metrics` of many windows ``rr_ms[start:stop]`` in one vectorised call.

    Parameters
    ----------
    rr_ms : array_like, shape (n_beats,)
        RR/NN intervals in ms of the whole recording.
    start_idx, stop_idx : array_like of int, shape (n_windows,)
        Half-open beat-index windows (e.g. from time-based edges via ``np.searchsorted`` on
        `beat_times_s`); they may overlap, be empty, and come in any order.
    method, detrend, fs_hz, lambda_, segment_s, overlap, nfft_min, lomb_freq_step_hz :
        As in `frequency_metrics`.
    segment_start_idx : array_like of int, optional
        First beat of each contiguous stretch (a data gap before it). A window that spans a
        gap is cut at it, every piece gets its own spectrum as a window of its own, and the
        pieces long enough for `frequency_metrics` (``FREQ_MIN_DURATION_S``,
        ``FREQ_MIN_BEATS``) are combined: band powers are their duration-weighted mean
        (LF/HF and n.u. follow from those), peaks come from the longest piece and
        ``duration_s`` is the sum of the pieces' first-to-last-beat spans. No piece long
        enough: NaN. Default: one stretch.

    Returns
    -------
    FrequencyWindows
        Arrays of shape (n_windows,), equal to `frequency_metrics(rr_ms[start:stop])` for each
        window without a gap to rounding (≈ 1e-12 relative; bit-identical knots when the RR
        sums are exact).

    Raises
    ------
    SignalInputError
        Bad ``rr_ms`` or windows; unknown ``method``/``detrend``.
    ConfigError
        Nonsensical numeric settings.

    Notes
    -----
    Welch: every window's knots and 4-Hz grid are concatenated; one SPD tridiagonal solve
    gives all natural splines, one pentadiagonal banded Cholesky all smoothness-priors
    detrends (blocks decoupled exactly), one ``rfft`` all segments of all windows (windows
    of different sample counts share the FFT length; each segment carries a Hann of its
    own length). Lomb: all (window, beat) pairs in fixed-size chunks; exp(iωt) by complex
    recurrence. Cost is O(Σ window lengths), no Python loop over windows.

    Examples
    --------
    >>> rr = 850.0 + 40.0 * np.sin(2 * np.pi * 0.1 * np.arange(1000) * 0.85)
    >>> w = frequency_metrics_windows(rr, [0, 300, 600], [400, 700, 1000])
    >>> w.lf_peak_hz.round(2).tolist()
    [0.1, 0.1, 0.1]
    """
    rr = as_1d_float(rr_ms, "rr_ms", positive=True)
    start, stop = check_windows(start_idx, stop_idx, rr.size)
    settings = SpectralSettings(
        method=method,
        detrend=detrend,
        fs_hz=fs_hz,
        lambda_=lambda_,
        segment_s=segment_s,
        overlap=overlap,
        nfft_min=nfft_min,
        lomb_freq_step_hz=lomb_freq_step_hz,
    )
    breaks = as_breaks(segment_start_idx, rr.size)
    if breaks.size:
        res = _frequency_pieces(rr, start, stop, breaks, settings)
    else:
        res = _frequency_windows_core(rr, start, stop, settings)
    return FrequencyWindows(
        start_idx=start.copy(),
        stop_idx=stop.copy(),
        n_beats=(stop - start).astype(np.intp),
        duration_s=res["duration_s"],
        settings=settings,
        **{name: res[name] for name in _METRIC_FIELDS},
    )


# --- Incremental Lomb ------------------------------------------------------------------------
class IncrementalLomb:
    """Lomb–Scargle PSD over a sliding window of beats, updated in O(n_freqs) per beat.

    Keeps, on a fixed frequency grid, N, Σ(x − x_ref), Σe^{iωt}, Σ(x − x_ref)e^{iωt} and
    Σe^{2iωt}. Since Σ(x − x̄)e^{iωt} = Σ(x − x_ref)e^{iωt} − (x̄ − x_ref)Σe^{iωt}, the
    mean-removed periodogram is exact, not approximate. Beats leaving the window are
    subtracted (their exponentials are recomputed bit-identically); every ``capacity`` pushes
    the sums are rebuilt from the buffer so rounding cannot drift (amortised O(n_freqs)).

    Parameters
    ----------
    freqs_hz : array_like, shape (n_freqs,)
        Frequency grid in Hz, all > 0 (a uniform grid is fastest).
    window_beats : int, optional
        Keep the last ``window_beats`` beats (≥ 2).
    window_s : float, optional
        Keep the beats with t > t_last − ``window_s``. Give exactly one of the two.

    Raises
    ------
    SignalInputError
        Bad grid, both or neither window given, non-positive window.

    Notes
    -----
    hrv-methods.md §2.3 (≈ 80 µs per beat; identical to a full recompute). `psd_ms2_per_hz`
    equals `lomb_psd` of `times_s`, `values_ms` to ≈ 1e-12 relative. No detrending beyond
    the mean (live use, §2.4).

    Examples
    --------
    >>> lomb = IncrementalLomb(default_lomb_freqs_hz(), window_beats=120)
    >>> t = 0.0
    >>> for k in range(200):
    ...     x = 850.0 + 40.0 * np.sin(2 * np.pi * 0.1 * t)
    ...     t += x / 1000.0
    ...     lomb.push(t, x)
    >>> lomb.n_beats, round(float(lomb.freqs_hz[np.argmax(lomb.psd_ms2_per_hz())]), 2)
    (120, 0.1)
    """

    def __init__(
        self,
        freqs_hz: npt.ArrayLike,
        *,
        window_beats: int | None = None,
        window_s: float | None = None,
    ) -> None:
        f = as_1d_float(freqs_hz, "freqs_hz", positive=True)
        if f.size == 0:
            raise SignalInputError("freqs_hz must not be empty")
        if (window_beats is None) == (window_s is None):
            raise SignalInputError("give exactly one of window_beats and window_s")
        if window_beats is not None and window_beats < 2:
            raise SignalInputError(f"window_beats must be ≥ 2, got {window_beats!r}")
        if window_s is not None and not (math.isfinite(window_s) and window_s > 0):
            raise SignalInputError(f"window_s must be positive, got {window_s!r}")
        f = f.copy()
        f.flags.writeable = False
        self.freqs_hz: FloatArray = f
        self.window_beats = window_beats
        self.window_s = window_s
        self._window_s = float(window_s) if window_s is not None else math.inf
        self._plan = _freq_plan(f)
        # Capacity: the beat window, or window_s at 300 bpm; grown by doubling if exceeded.
        if window_beats is not None:
            cap = int(window_beats)
        else:
            cap = math.ceil(self._window_s / 0.2) + 2
        self._cap = max(cap, 2)
        self._t = np.zeros(2 * self._cap)
        self._x = np.zeros(2 * self._cap)
        self._head = 0
        self._tail = 0
        self._since_rebuild = 0
        self._ref = 0.0
        self._sum_x = 0.0
        nf = f.size
        self._s1 = np.zeros(nf, dtype=np.complex128)
        self._s2 = np.zeros(nf, dtype=np.complex128)
        self._sx = np.zeros(nf, dtype=np.complex128)

    @property
    def n_beats(self) -> int:
        """Beats currently in the window."""
        return self._tail - self._head

    def times_s(self) -> FloatArray:
        """Beat times (s) in the window, oldest first (a copy)."""
        return self._t[self._head : self._tail].copy()

    def values_ms(self) -> FloatArray:
        """Values (ms) in the window, oldest first (a copy)."""
        return self._x[self._head : self._tail].copy()

    def _add(self, t: FloatArray, x: FloatArray, sign: float) -> None:
        e = _exp_iwt(t, self._plan)
        if t.size == 1:
            e1 = e[:, 0]
            self._s1 += sign * e1
            self._s2 += sign * (e1 * e1)
            self._sx += (sign * (x[0] - self._ref)) * e1
        else:
            self._s1 += sign * e.sum(axis=1)
            self._s2 += sign * (e * e).sum(axis=1)
            self._sx += sign * (e @ (x - self._ref).astype(np.complex128))  # zgemv, no mixed loop
        self._sum_x += sign * float(np.sum(x - self._ref))

    def _rebuild(self) -> None:
        t = self._t[self._head : self._tail]
        x = self._x[self._head : self._tail]
        self._ref = float(x[-1]) if x.size else 0.0
        self._s1[:] = 0.0
        self._s2[:] = 0.0
        self._sx[:] = 0.0
        self._sum_x = 0.0
        if x.size:
            self._add(t, x, 1.0)
        self._since_rebuild = 0

    def push(self, t_s: float, x_ms: float) -> None:
        """Add one beat (time in s, value in ms) and drop the beats that leave the window.

        Raises
        ------
        SignalInputError
            Non-finite values or a time not after the previous beat.
        """
        t_new = float(t_s)
        x_new = float(x_ms)
        if not (math.isfinite(t_new) and math.isfinite(x_new)):
            raise SignalInputError("t_s and x_ms must be finite")
        if self._tail > self._head and t_new <= self._t[self._tail - 1]:
            raise SignalInputError("t_s must increase from beat to beat")
        # Drop: the oldest beat (beat window) or all beats at/before t_new − window_s.
        if self.window_beats is not None:
            new_head = max(self._head, self._tail + 1 - self.window_beats)
        else:
            cut = t_new - self._window_s
            new_head = self._head + int(
                np.searchsorted(self._t[self._head : self._tail], cut, side="right")
            )
        if new_head > self._head:
            self._add(self._t[self._head : new_head], self._x[self._head : new_head], -1.0)
            self._head = new_head
        if self._head == self._tail:  # empty window: restart the sums exactly at zero
            self._s1[:] = 0.0
            self._s2[:] = 0.0
            self._sx[:] = 0.0
            self._sum_x = 0.0
            self._ref = x_new
        if self._tail == self._t.size:
            self._compact()
        self._t[self._tail] = t_new
        self._x[self._tail] = x_new
        self._tail += 1
        self._add(self._t[self._tail - 1 : self._tail], self._x[self._tail - 1 : self._tail], 1.0)
        self._since_rebuild += 1
        if self._since_rebuild >= self._cap:
            self._rebuild()

    def _compact(self) -> None:
        n = self._tail - self._head
        if n >= self._cap:  # window_s window holds more beats than planned: grow
            self._cap = 2 * n
            t = np.zeros(2 * self._cap)
            x = np.zeros(2 * self._cap)
        else:
            t, x = self._t, self._x
        t[:n] = self._t[self._head : self._tail]
        x[:n] = self._x[self._head : self._tail]
        self._t, self._x = t, x
        self._head, self._tail = 0, n

    def psd_ms2_per_hz(self) -> FloatArray:
        """One-sided Lomb PSD (ms²/Hz) of the current window; NaN with fewer than 2 beats."""
        n = self.n_beats
        if n < 2:
            return np.full(self.freqs_hz.size, np.nan)
        dmean = self._sum_x / n
        sx = self._sx - dmean * self._s1
        span = self._t[self._tail - 1] - self._t[self._head]
        psd = _lomb_from_sums(
            np.array([float(n)]), np.array([span]), self._s2[None, :], sx[None, :]
        )
        return np.asarray(psd[0], dtype=np.float64)


# --- Coherence ratio -------------------------------------------------------------------------
def _coherence_block(
    cum_ms: FloatArray, rr: FloatArray, st: IntArray, kl: IntArray, last: IntArray, n_samp: int
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """(ratio, peak Hz, peak ms², total ms²) of windows with knots rr[st : st + kl] (valid).

    One block spline solve, one matrix detrend and one rfft for all the windows given.
    """
    fs = COHERENCE_FS_HZ
    n = st.size
    tk, yk = _window_knots(cum_ms, rr, st, kl)
    rel_end = (cum_ms[last] - cum_ms[st]) / _MS_PER_S
    j = np.arange(n_samp)
    q = (rel_end[:, None] - (n_samp - 1 - j) / fs).reshape(-1)
    y = _spline_blocks(tk, yk, kl, q, np.full(n, n_samp, dtype=np.intp)).reshape(n, n_samp)
    return _coherence_spectra(y)


def _coherence_spectra(y: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """(ratio, peak Hz, peak ms², total ms²) of rows of 2-Hz samples (n_windows, S); valid."""
    fs = COHERENCE_FS_HZ
    n_samp = y.shape[-1]
    j = np.arange(n_samp)
    # Least-squares line removal with one orthonormal basis for all rows.
    basis = np.linalg.qr(np.stack([np.ones(n_samp), j - (n_samp - 1) / 2.0], axis=1))[0]
    y = y - (y @ basis) @ basis.T
    win = 0.5 - 0.5 * np.cos(2.0 * np.pi * j / n_samp)
    n_fft = int(_nfft_for(np.array([n_samp]), COHERENCE_NFFT)[0])
    freqs = np.fft.rfftfreq(n_fft, 1.0 / fs)
    keep = int(np.searchsorted(freqs, COHERENCE_TOTAL_BAND_HZ[1], side="right"))
    spec = np.fft.rfft(y * win, n=n_fft, axis=-1)[:, :keep]
    freqs = freqs[:keep]
    psd = (spec.real**2 + spec.imag**2) * (2.0 / (fs * np.sum(win * win)))
    psd[:, 0] *= 0.5  # DC is not doubled (the Nyquist bin lies above 0.4 Hz, cut)
    df = freqs[1]
    lo, hi = COHERENCE_SEARCH_BAND_HZ
    search = np.flatnonzero((freqs >= lo) & (freqs <= hi))
    k_pk = search[np.argmax(psd[:, search], axis=-1)]
    half = math.floor(COHERENCE_PEAK_HALF_WIDTH_HZ / df + 1e-9)
    band = np.take_along_axis(psd, k_pk[:, None] + np.arange(-half, half + 1), axis=-1)
    pk = df * (band.sum(axis=-1) - 0.5 * (band[:, 0] + band[:, -1]))
    tot_mask = freqs >= COHERENCE_TOTAL_BAND_HZ[0]
    tot = np.trapezoid(psd[:, tot_mask], freqs[tot_mask], axis=-1)
    power = tot > _POWER_FLOOR
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(power & (tot > pk), pk / (tot - pk), np.nan)
    return (
        np.asarray(ratio, dtype=np.float64),
        np.asarray(np.where(power, freqs[k_pk], np.nan), dtype=np.float64),
        np.asarray(pk, dtype=np.float64),
        np.asarray(tot, dtype=np.float64),
    )


def coherence_windows(
    rr_ms: npt.ArrayLike, end_t_s: npt.ArrayLike, *, window_s: float = COHERENCE_WINDOW_S
) -> CoherenceWindows:
    """Coherence ratio of many windows, each ending at the last beat at or before ``end_t_s``.

    Parameters
    ----------
    rr_ms : array_like, shape (n_beats,)
        RR/NN intervals in ms of the whole recording.
    end_t_s : array_like, shape (n_windows,)
        Window ends in s on the `beat_times_s` axis (e.g. every 5 s). Window k equals
        ``coherence_ratio(rr_ms[:n_k])`` with n_k the number of beats with t ≤ end_t_s[k].
    window_s : float, default 64
        Window length in s (``round(window_s·2)`` samples at 2 Hz).

    Returns
    -------
    CoherenceWindows
        Arrays of shape (n_windows,); NaN where less than ``window_s`` of beats precede the
        end or fewer than 4 beats are available.

    Raises
    ------
    SignalInputError
        Bad ``rr_ms`` or ``end_t_s``; ``window_s`` ≤ 0.

    Notes
    -----
    hrv-methods.md §6.1 "Definition we implement": natural cubic spline through the beats
    from the last one at or before the first sample to the window's last beat, sampled at
    2 Hz on t_end − (S − 1 − j)/2 s (S = 128 for 64 s); least-squares linear detrend;
    periodic Hann; |rfft(·, 1024)|² as a one-sided density (ms²/Hz, f = rfftfreq(1024,
    0.5 s)); f_pk = argmax over 0.04–0.26 Hz; peak = trapezoid over the bins within
    f_pk ± 0.015 Hz (7 bins each side at 0.00195 Hz); total = trapezoid over
    0.0033–0.4 Hz; CR = peak / (total − peak). All windows in one batch: one block spline
    solve, one matrix detrend, one rfft.

    Examples
    --------
    >>> t = np.arange(400) * 0.85
    >>> rr = 850.0 + 50.0 * np.sin(2 * np.pi * 0.1 * t)
    >>> cw = coherence_windows(rr, [100.0, 200.0, 300.0])
    >>> bool(np.all(cw.ratio > 1.0)), cw.peak_hz.round(2).tolist()
    (True, [0.1, 0.1, 0.1])
    """
    rr = as_1d_float(rr_ms, "rr_ms", positive=True)
    ends = as_1d_float(end_t_s, "end_t_s")
    if not (math.isfinite(window_s) and window_s > 0):
        raise SignalInputError(f"window_s must be positive, got {window_s!r}")
    fs = COHERENCE_FS_HZ
    n_samp = max(round(window_s * fs), 2)
    cum_ms = np.cumsum(rr)
    t = cum_ms / _MS_PER_S
    n_win = ends.size
    last = np.searchsorted(t, ends, side="right") - 1
    has = last >= 0
    last_c = np.where(has, last, 0)
    t_end = np.where(has, t[last_c] if t.size else 0.0, np.nan)
    first_q = t_end - (n_samp - 1) / fs
    i0 = np.searchsorted(t, np.where(has, first_q, 0.0), side="right") - 1
    klen = last_c - i0 + 1
    ok = has & (i0 >= 0) & (klen >= 4)
    ratio = np.full(n_win, np.nan)
    peak_hz = np.full(n_win, np.nan)
    peak_p = np.full(n_win, np.nan)
    total_p = np.full(n_win, np.nan)
    n_beats = np.where(ok, klen, 0).astype(np.intp)
    vs = np.flatnonzero(ok)
    for c0 in range(0, vs.size, _COHERENCE_CHUNK):  # bounded memory: chunks, not windows
        w = vs[c0 : c0 + _COHERENCE_CHUNK]
        ratio[w], peak_hz[w], peak_p[w], total_p[w] = _coherence_block(
            cum_ms, rr, i0[w], klen[w], last_c[w], n_samp
        )
    return CoherenceWindows(
        ratio=ratio,
        peak_hz=peak_hz,
        peak_power_ms2=peak_p,
        total_power_ms2=total_p,
        n_beats=n_beats,
        t_end_s=np.asarray(t_end, dtype=np.float64),
    )


def coherence_series(
    rr_ms: npt.ArrayLike,
    *,
    step_s: float = 5.0,
    window_s: float = COHERENCE_WINDOW_S,
    segment_start_idx: npt.ArrayLike | None = None,
    t_beat_s: npt.ArrayLike | None = None,
) -> CoherenceWindows:
    """Coherence ratio every ``step_s`` over a whole recording, from one 2-Hz beat series.

    Parameters
    ----------
    rr_ms : array_like, shape (n_beats,)
        RR/NN intervals in ms of the whole recording.
    step_s : float, default 5
        Spacing of the window ends in s; rounded to whole 2-Hz samples (0.5 s).
    window_s : float, default 64
        Window length in s.
    segment_start_idx : array_like of int, optional
        First beat of each contiguous stretch (a data gap before it). Each stretch gets its
        own spline; a window whose samples are not all inside one stretch is NaN (there is
        no heart rhythm to analyse in a gap). Needs ``t_beat_s``. Default: one stretch.
    t_beat_s : array_like, shape (n_beats,), optional
        Time of the beat that ends each interval (s), strictly increasing, gaps included.
        Default: `beat_times_s` of ``rr_ms`` (no gaps).

    Returns
    -------
    CoherenceWindows
        One entry per window end ``t_end_s = t_0 + window_s + k · step_s`` up to the last beat,
        on the axis of ``t_beat_s`` (default `beat_times_s`; t_0 = first beat); ``n_beats``
        counts the beats inside.

    Notes
    -----
    The post-session counterpart of `coherence_windows`: HeartMath describes the IBIs as
    "accumulated in an interpolated form every 500 ms" (hrv-methods.md §6.1), so here one
    natural cubic spline runs through all beats, sampled at 2 Hz once, and each window is the
    last ``window_s · 2`` samples before its end. The spectrum of each window is computed
    exactly as in `coherence_windows`; values differ from per-window splines only by the
    spline's end effects (`coherence_windows` re-fits a spline to each window's beats, as the
    live display must). Cost: one spline over the recording plus one FFT per window.

    Examples
    --------
    >>> t = np.arange(600) * 0.85
    >>> cs = coherence_series(850.0 + 50.0 * np.sin(2 * np.pi * 0.1 * t))
    >>> bool(np.all(cs.ratio > 1.0)), float(cs.t_end_s[1] - cs.t_end_s[0])
    (True, 5.0)
    """
    rr = as_1d_float(rr_ms, "rr_ms", positive=True)
    if not (math.isfinite(window_s) and window_s > 0):
        raise SignalInputError(f"window_s must be positive, got {window_s!r}")
    if not (math.isfinite(step_s) and step_s > 0):
        raise SignalInputError(f"step_s must be positive, got {step_s!r}")
    fs = COHERENCE_FS_HZ
    n_samp = max(round(window_s * fs), 2)
    step = max(round(step_s * fs), 1)
    breaks = as_breaks(segment_start_idx, rr.size)
    if t_beat_s is None:
        if breaks.size:
            raise SignalInputError("segment_start_idx needs t_beat_s (the beat times with gaps)")
        t = np.cumsum(rr) / _MS_PER_S
    else:
        t = as_1d_float(t_beat_s, "t_beat_s")
        if t.shape != rr.shape or (t.size >= 2 and np.any(np.diff(t) <= 0)):
            raise SignalInputError("t_beat_s must be strictly increasing, one time per interval")
    empty = CoherenceWindows(
        ratio=np.empty(0), peak_hz=np.empty(0), peak_power_ms2=np.empty(0),
        total_power_ms2=np.empty(0), n_beats=np.empty(0, dtype=np.intp), t_end_s=np.empty(0),
    )  # fmt: skip
    if rr.size < 4:
        return empty
    first_q = t[0] + window_s - (n_samp - 1) / fs
    n_q = int(np.floor((t[-1] - first_q) * fs + 1e-9)) + 1
    if n_q < n_samp:
        return empty
    if breaks.size:
        # Grid points only inside the stretches, on the one global grid: memory follows the
        # data, not the recording's span (a beat stamped a year later must not allocate a
        # year of samples).
        first = np.concatenate(([0], breaks)).astype(np.intp)
        last = np.append(breaks, t.size).astype(np.intp) - 1
        use = last > first
        k_lo = np.maximum(np.ceil((t[first[use]] - first_q) * fs - 1e-9), 0.0)
        k_hi = np.minimum(np.floor((t[last[use]] - first_q) * fs + 1e-9), n_q - 1.0)
        lens = np.maximum(k_hi - k_lo + 1.0, 0.0).astype(np.intp)
        k = _ranges(k_lo.astype(np.intp), lens)
        q = first_q + k / fs
        y = _spline_stretches(t, rr, breaks, q)
        cand = np.flatnonzero(k % step == 0)
        starts = cand[cand + n_samp - 1 < k.size]
        # A window is usable when its samples are consecutive grid points (one stretch) and
        # none of them falls in a gap (prefix count of NaN).
        n_gap = np.concatenate(([0], np.cumsum(np.isnan(y))))
        starts_ok = (k[starts + n_samp - 1] - k[starts] == n_samp - 1) & (
            n_gap[starts + n_samp] == n_gap[starts]
        )
        if starts.size == 0:
            return empty
    else:
        q = first_q + np.arange(n_q) / fs
        starts = np.arange(0, n_q - n_samp + 1, step)
        y = _spline_blocks(t, rr, np.array([rr.size]), q, np.array([n_q]))
        starts_ok = np.ones(starts.size, dtype=bool)
    ends_t = q[starts + n_samp - 1]
    ratio = np.full(starts.size, np.nan)
    peak_hz = np.full(starts.size, np.nan)
    peak_p = np.full(starts.size, np.nan)
    total_p = np.full(starts.size, np.nan)
    view = np.lib.stride_tricks.sliding_window_view(y, n_samp)
    usable = np.flatnonzero(starts_ok)
    for c0 in range(0, usable.size, _COHERENCE_CHUNK):  # bounded memory: chunks, not windows
        k = usable[c0 : c0 + _COHERENCE_CHUNK]
        out = _coherence_spectra(np.ascontiguousarray(view[starts[k]]))
        ratio[k], peak_hz[k], peak_p[k], total_p[k] = out
    lo = np.searchsorted(t, ends_t - window_s, side="right")
    hi = np.searchsorted(t, ends_t, side="right")
    return CoherenceWindows(
        ratio=ratio,
        peak_hz=peak_hz,
        peak_power_ms2=peak_p,
        total_power_ms2=total_p,
        n_beats=(hi - lo).astype(np.intp),
        t_end_s=ends_t,
    )


def _spline_stretches(t: FloatArray, rr: FloatArray, breaks: IntArray, q: FloatArray) -> FloatArray:
    """One natural spline per stretch of ≥ 2 beats at the increasing times ``q``; NaN in gaps.

    ``t`` are the beat times (gaps included), ``breaks`` the first beats of new stretches.
    """
    first = np.concatenate(([0], breaks)).astype(np.intp)
    last = np.append(breaks, t.size).astype(np.intp) - 1
    usable = last > first  # a one-beat stretch has no curve
    sid = np.searchsorted(t[first], q, side="right") - 1
    sid_c = np.maximum(sid, 0)
    eps_s = _GRID_EPS_SAMPLES / COHERENCE_FS_HZ
    inside = (sid >= 0) & usable[sid_c] & (q <= t[last[sid_c]] + eps_s)
    y = np.full(q.size, np.nan)
    if not np.any(inside):
        return y
    klen = (last - first + 1)[usable]
    knots = _ranges(first[usable], klen)
    # Queries grouped by stretch, in the order of the knot blocks (both follow time).
    qlen = np.bincount(sid[inside], minlength=first.size)[usable].astype(np.intp)
    y[inside] = _spline_blocks(t[knots], rr[knots], klen, q[inside], qlen)
    return y


def coherence_ratio(
    rr_ms: npt.ArrayLike, *, window_s: float = COHERENCE_WINDOW_S
) -> CoherenceResult:
    """Coherence ratio of the last ``window_s`` seconds of the given beats.

    Parameters
    ----------
    rr_ms : array_like, shape (n_beats,)
        RR/NN intervals in ms; the window ends at the last beat.
    window_s : float, default 64
        Window length in s.

    Returns
    -------
    CoherenceResult
        NaN fields (and ``n_beats`` 0) when the beats span less than the window.

    Raises
    ------
    SignalInputError
        Bad ``rr_ms`` or ``window_s``.

    Notes
    -----
    hrv-methods.md §6.1, exactly as `coherence_windows` with one window. Expect CR well
    below 1 during spontaneous breathing and above 1 with one clean resonance peak. This is
    not HeartMath's 0–16 score; call it "coherence ratio".

    Examples
    --------
    >>> t = np.arange(100) * 0.85
    >>> r = coherence_ratio(850.0 + 50.0 * np.sin(2 * np.pi * 0.1 * t))
    >>> r.ratio > 1.0, round(r.peak_hz, 2)
    (True, 0.1)
    """
    rr = as_1d_float(rr_ms, "rr_ms", positive=True)
    # The same cumulative sum as coherence_windows uses, so the last beat is found exactly.
    end = np.cumsum(rr)[-1:] / _MS_PER_S if rr.size else np.array([-1.0])
    return coherence_windows(rr, end, window_s=window_s).window(0)
