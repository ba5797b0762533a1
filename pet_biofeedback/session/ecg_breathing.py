"""Live breathing rate from the last minute of ECG, for a strap without chest movement data.

The session engine asks for it when no accelerometer is streaming (an H10 with ACC off, or a
strap that sends ECG only). Each estimate finds the R peaks of the window
(`signal.ecg.find_r_peaks`), takes the R-wave amplitude's breathing waveform
(`signal.respiration.breathing_from_ecg_amplitude`, hrv-methods.md §8.2) and counts its
breath onsets: the rate is complete breaths over their span. Onsets, not the periodogram
peak: on real ECG with a respiration belt the peak fell on slow amplitude waves while the
onsets counted the belt's breaths (hrv-methods.md §8.4).

Samples are kept in a preallocated ring of `WINDOW_S` at the ECG's own rate (130 Hz on the
H10: 7 800 samples); adding a frame costs only its own samples.

The R-peak detector and the EDR estimator (``scipy.signal``, about a second to import with
scipy 1.17, which pulls in ``scipy.stats``) are imported at the first estimate: the engine
imports this module at start-up but asks it for a rate only when ECG streams without chest
movement (issue 7).
"""

from __future__ import annotations

import logging
import math
from typing import Final

import numpy as np

from pet_biofeedback.errors import SignalInputError
from pet_biofeedback.events import EcgFrame
from pet_biofeedback.recording.frame_arrays import ecg_uv_array, frame_n_samples
from pet_biofeedback.signal._typing import FloatArray

__all__ = ["MIN_BREATHS", "WINDOW_S", "EcgBreathingWindow"]

logger = logging.getLogger(__name__)

WINDOW_S: Final = 60.0  # the last minute, as for chest movement (session.engine)
MIN_FILL_S: Final = 30.0  # no estimate from less ECG than this (three slow breaths)
MIN_BREATHS: Final = 2  # complete breaths (three onsets) needed for a rate
# Samples further apart than this many sample intervals break the window (a gap).
_BREAK_INTERVALS: Final = 1.5


class EcgBreathingWindow:
    """The last `WINDOW_S` of ECG and the breathing rate it shows (module docstring)."""

    def __init__(self) -> None:
        self.fs_hz = math.nan
        self._capacity = 0
        self._t = np.empty(0)
        self._uv = np.empty(0)
        self._n = 0

    def add(self, frame: EcgFrame) -> None:
        """Keep ``frame``'s samples (its ``t`` is the time of its last sample)."""
        n = frame_n_samples(frame)
        if n == 0 or not (math.isfinite(frame.fs_hz) and frame.fs_hz > 0):
            return
        if frame.fs_hz != self.fs_hz:  # a new rate starts a new window
            self.fs_hz = frame.fs_hz
            self._capacity = math.ceil(WINDOW_S * frame.fs_hz)
            self._t = np.empty(self._capacity)
            self._uv = np.empty(self._capacity)
            self._n = 0
        t = frame.t - (n - 1 - np.arange(n)) / frame.fs_hz
        uv = ecg_uv_array(frame)
        if n > self._capacity:
            t, uv = t[-self._capacity :], uv[-self._capacity :]
        idx = (self._n + np.arange(t.size)) % self._capacity
        self._t[idx] = t
        self._uv[idx] = uv
        self._n += t.size

    def _contents(self) -> tuple[FloatArray, FloatArray]:
        """Times (s) and ECG (µV) since the last break in the samples, oldest first."""
        if self._n <= self._capacity:
            t, uv = self._t[: self._n], self._uv[: self._n]
        else:
            order = (self._n + np.arange(self._capacity)) % self._capacity
            t, uv = self._t[order], self._uv[order]
        breaks = np.flatnonzero(np.diff(t) > _BREAK_INTERVALS / self.fs_hz)
        start = int(breaks[-1]) + 1 if breaks.size else 0
        return t[start:], uv[start:]

    def breaths_per_min(self) -> float | None:
        """The breathing rate of the window, breaths/min; None when it cannot be told.

        None with less than `MIN_FILL_S` of unbroken ECG, without detectable beats, or with
        fewer than `MIN_BREATHS` complete breaths.
        """
        if self._n == 0:
            return None
        t_s, uv = self._contents()
        if t_s.size < 2 or t_s[-1] - t_s[0] < MIN_FILL_S:
            return None
        # scipy.signal only now: when ECG is the breathing source (module docstring)
        from pet_biofeedback.signal.ecg import find_r_peaks
        from pet_biofeedback.signal.respiration import breathing_from_ecg_amplitude

        try:
            peaks = find_r_peaks(uv, self.fs_hz)
            onsets = breathing_from_ecg_amplitude(
                t_s[0] + peaks.t_s, peaks.amplitude_uv
            ).breath_start_s
        except SignalInputError as exc:  # flat or noisy ECG: no rate, not an error
            logger.debug("breathing from ECG skipped: %s", exc)
            return None
        if onsets.size < MIN_BREATHS + 1:
            return None
        return 60.0 * (onsets.size - 1) / float(onsets[-1] - onsets[0])
