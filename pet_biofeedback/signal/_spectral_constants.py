"""Constants of the frequency-domain pipeline (hrv-methods.md §2, §6.1), shared by its modules.

The public ones are re-exported by `spectral` (their documented home); this module exists so
that `lomb`, `coherence` and `welch` can use them without importing `spectral`.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

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
