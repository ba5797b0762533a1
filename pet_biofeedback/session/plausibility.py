"""The plausibility gate for events read from files (issue 6: bad input on replay/record).

``analyze`` treats RR intervals outside ``RR_MIN_MS`` … ``RR_MAX_MS`` (250–2500 ms,
`signal.artifacts`) as artifacts. ``replay`` and ``record --source FILE`` used to copy them
unchanged — a negative interval into a new recording, a 1e300-ms one into a time axis that never
ends. `PlausibilityGate` applies the same limits to the events of a file source. A zero,
negative or non-finite interval is refused with `InputFileError`, as ``analyze`` refuses it;
an interval that is merely out of range is skipped, counted and marked by a `Gap` (its length
unknown: 0 s), so that nothing downstream joins the beats on either side as if they were
neighbours. ECG and ACC frames with an impossible sample rate or values are skipped and counted.
`notes` says what was skipped, in the words ``analyze`` uses.
"""

from __future__ import annotations

import logging
import math
from typing import Final

import numpy as np

from pet_biofeedback.errors import InputFileError
from pet_biofeedback.events import AccFrame, EcgFrame, Event, Gap, RRIntervals
from pet_biofeedback.recording.frame_arrays import FloatArray, acc_mg_array, ecg_uv_array
from pet_biofeedback.signal.artifacts import RR_MAX_MS, RR_MIN_MS

__all__ = ["MAX_FRAME_FS_HZ", "MAX_FRAME_VALUE", "PlausibilityGate"]

logger = logging.getLogger(__name__)

#: Highest sample rate a strap's ECG or ACC stream can have (the H10's are 130 and ≤ 200 Hz).
MAX_FRAME_FS_HZ: Final = 10_000.0
#: Largest magnitude of an ECG sample (µV) or ACC axis (mG) a sensor can report; far above any
#: real one (an H10's ±8 g range is 8000 mG), far below what overflows the maths.
MAX_FRAME_VALUE: Final = 1e7


def _frame_ok(fs_hz: float, values: FloatArray) -> bool:
    """Plausible rate and finite, bounded values."""
    if not (math.isfinite(fs_hz) and 0 < fs_hz <= MAX_FRAME_FS_HZ):
        return False
    if not values.size:
        return True
    # NaN fails the comparison (max propagates it) and infinities are out of bounds.
    return bool(np.abs(values).max() <= MAX_FRAME_VALUE)


class PlausibilityGate:
    """Skip implausible RR intervals and frames of a file source; count them (module docstring).

    Parameters
    ----------
    name : str
        The file, for messages.

    Attributes
    ----------
    n_rr_skipped : int
        RR intervals outside ``RR_MIN_MS`` … ``RR_MAX_MS`` skipped.
    first_rr_skip_t : float
        ``t`` of the first event that lost one, s (NaN before).
    n_frames_skipped : int
        ECG/ACC frames skipped.
    """

    def __init__(self, name: str = "the file") -> None:
        self._name = name
        self.n_rr_skipped = 0
        self.first_rr_skip_t = math.nan
        self.n_frames_skipped = 0

    def filter(self, event: Event) -> list[Event]:
        """What plays instead of ``event``: itself, a trimmed copy and a `Gap`, or nothing.

        Raises
        ------
        InputFileError
            An RR interval that is zero, negative or not finite (as ``analyze`` refuses it).
        """
        match event:
            case RRIntervals():
                for v in event.rr_ms:
                    if not (math.isfinite(v) and v > 0):
                        raise InputFileError(
                            self._name,
                            f"holds an RR interval of {v:g} ms at {event.t:.3f} s; intervals "
                            "must be positive (the file is damaged)",
                        )
                kept = tuple(v for v in event.rr_ms if RR_MIN_MS <= v <= RR_MAX_MS)
                n_out = len(event.rr_ms) - len(kept)
                if n_out == 0:
                    return [event]
                if self.n_rr_skipped == 0:
                    self.first_rr_skip_t = event.t
                    logger.info(
                        "RR interval(s) outside %g–%g ms at t=%.3f s skipped",
                        RR_MIN_MS,
                        RR_MAX_MS,
                        event.t,
                    )
                self.n_rr_skipped += n_out
                gap = Gap(
                    event.t,
                    0.0,
                    f"{n_out} RR interval(s) outside {RR_MIN_MS:g}–{RR_MAX_MS:g} ms skipped",
                )
                return [gap, RRIntervals(event.t, kept)] if kept else [gap]
            case EcgFrame():
                if _frame_ok(event.fs_hz, ecg_uv_array(event)):
                    return [event]
            case AccFrame():
                if _frame_ok(event.fs_hz, acc_mg_array(event)):
                    return [event]
            case _:
                return [event]
        if self.n_frames_skipped == 0:
            logger.warning(
                "ECG/ACC frame with an impossible rate or values at t=%.3f s skipped", event.t
            )
        self.n_frames_skipped += 1
        return []

    @property
    def notes(self) -> list[str]:
        """What was skipped, one plain sentence each (empty when nothing was)."""
        out = []
        if self.n_rr_skipped:
            out.append(
                f"{self.n_rr_skipped} intervals outside {RR_MIN_MS:g}–{RR_MAX_MS:g} ms were "
                f"skipped (the first at {self.first_rr_skip_t:.1f} s)"
            )
        if self.n_frames_skipped:
            out.append(
                f"{self.n_frames_skipped} ECG/ACC frames with an impossible sample rate or "
                "values were skipped"
            )
        return out
