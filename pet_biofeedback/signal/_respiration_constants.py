"""Constants of the breathing pipeline (hrv-methods.md §8), shared by its modules.

Their documented home is `respiration`, which re-exports them; this module exists so that the
live estimator (`respiration_live`) uses the same numbers without importing `respiration` and,
through it, ``scipy.signal``.
"""

from __future__ import annotations

from typing import Final

ACC_LOWPASS_HZ: Final = 1.0  # §8.1 step 2
WORK_FS_HZ: Final = 4.0  # §8.1 step 3
BREATHING_BAND_HZ: Final = (0.05, 0.7)  # §8.1 step 6: 3–42 breaths/min
BANDPASS_ORDER: Final = 2  # §8.1 step 6
# §8.1 step 7: zero-padded periodogram: FFT length at least this many samples (4 Hz → 0.00049
# Hz bins, 0.03 breaths/min) and at least 8× the signal.
MIN_NFFT: Final = 8192
NFFT_PAD_FACTOR: Final = 8
# §8.1 step 7: shorter than ~2 slow breaths: the rate is NaN and no boundaries are returned.
MIN_DURATION_S: Final = 20.0
# §8 inputs: the ACC low-pass needs fs > 2·1 Hz (Polar offers 25–200 Hz).
MIN_ACC_FS_HZ: Final = 5.0
