"""The iterator side of `ble.BleStrap`: notification bytes → events (ble-protocol.md §2, §4).

`NotificationDecoder` turns one queued notification into its `RawNotification` and what it
decodes to: heart rate, beat-timed RR intervals (`RrBeatClock`, §2.4), contact, battery, and
ECG/ACC frames with host-anchored sample times (`pmd.PmdClock`, §4.8). Bad packets are counted
and skipped, never raised (style.md §2.5). No bleak here: the bytes are already queued.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

import numpy as np

from pet_biofeedback.errors import DecodeError
from pet_biofeedback.events import (
    AccFrame,
    Battery,
    Contact,
    EcgFrame,
    Event,
    HeartRate,
    RawNotification,
    RRIntervals,
)
from pet_biofeedback.firmware_bridge import hrs, pmd
from pet_biofeedback.firmware_bridge.beat_clock import RrBeatClock
from pet_biofeedback.recording.frame_arrays import with_caches

__all__ = ["NotificationDecoder", "StreamState"]

logger = logging.getLogger(__name__)


@dataclass
class StreamState:
    """Iterator-side state of a running PMD stream."""

    fs_hz: float
    resolution_bits: int | None
    factor: float | None
    clock: pmd.PmdClock


class NotificationDecoder:
    """Decode queued notifications into events on a shared ready queue.

    Parameters
    ----------
    ready : deque of Event
        Where the events go (the strap's iterator yields from it).
    counts : dict of str to int
        The strap's counters; ``n_hr_skipped``, ``n_hr_ignored_bytes`` and ``n_pmd_skipped``
        are updated in place.
    beat_clock : RrBeatClock
        Places RR intervals on the host clock; the strap resets it at gaps.
    streams : dict of pmd.MeasurementType to StreamState
        The running PMD streams (the strap adds one at every START).
    """

    def __init__(
        self,
        ready: deque[Event],
        counts: dict[str, int],
        beat_clock: RrBeatClock,
        streams: dict[pmd.MeasurementType, StreamState],
    ) -> None:
        self._ready = ready
        self._counts = counts
        self._beat_clock = beat_clock
        self._streams = streams

    def handle(self, t: float, characteristic: str, payload: bytes) -> None:
        """Yield the raw notification received at `t` (s since opening), then what it decodes to."""
        self._ready.append(RawNotification(t, characteristic, payload))
        if characteristic == hrs.HEART_RATE_MEASUREMENT_UUID:
            self._decode_heart_rate(t, payload)
        elif characteristic == pmd.PMD_DATA_UUID:
            self._decode_pmd(t, payload)
        elif characteristic == hrs.BATTERY_LEVEL_UUID:
            try:
                self._ready.append(Battery(t, hrs.decode_battery_level(payload)))
            except DecodeError as exc:
                logger.debug("battery notification skipped: %s", exc)

    def _decode_heart_rate(self, t: float, payload: bytes) -> None:
        """HRM bytes → RRIntervals (beat-timed), HeartRate, Contact; count bad packets."""
        try:
            m = hrs.decode_heart_rate_measurement(payload)
        except DecodeError as exc:
            self._counts["n_hr_skipped"] += 1
            log = logger.warning if self._counts["n_hr_skipped"] == 1 else logger.debug
            log("malformed heart-rate packet skipped (%s); the stream continues", exc)
            return
        self._counts["n_hr_ignored_bytes"] += m.n_ignored_bytes
        if m.contact is False or m.hr_bpm == 0:
            self._beat_clock.reset()  # no contact: the chain of RR intervals is broken
        if m.rr_ms:
            placed = self._beat_clock.place(t, m.rr_ms)
            if placed.gap is not None:
                # Beats lost without a reconnect (a short stall, a lost packet): issue 6.
                self._ready.append(placed.gap)
                logger.info("%s at %.1f s", placed.gap.reason, placed.gap.t)
            self._ready.append(RRIntervals(placed.t, m.rr_ms))
        self._ready.append(HeartRate(t, float(m.hr_bpm)))
        if m.contact is not None:
            self._ready.append(Contact(t, m.contact))

    def _decode_pmd(self, t: float, payload: bytes) -> None:
        """PMD frame → EcgFrame / AccFrame with host-anchored sample times (§4.8)."""
        stream = None
        if payload:
            type_id = payload[0] & pmd.MEASUREMENT_TYPE_MASK
            stream = next((s for m, s in self._streams.items() if int(m) == type_id), None)
        if stream is None:
            self._counts["n_pmd_skipped"] += 1
            logger.debug("PMD frame of a stream that was not started skipped")
            return
        try:
            frame = pmd.decode_frame(
                payload,
                fs_hz=stream.fs_hz,
                resolution_bits=stream.resolution_bits,
                factor=stream.factor,
            )
        except DecodeError as exc:
            self._counts["n_pmd_skipped"] += 1
            logger.debug("PMD frame skipped: %s", exc)
            return
        if frame.n_samples == 0:
            return
        times = stream.clock.sample_times_s(frame.sensor_timestamp_ns, frame.n_samples, t)
        # The frames keep the decoded arrays too (`with_caches`), copied: read-only, ours.
        if isinstance(frame, pmd.PmdEcgFrame):
            uv = frame.ecg_uv.astype(np.float64)
            uv.flags.writeable = False
            ecg = EcgFrame(float(times[-1]), stream.fs_hz, tuple(uv.tolist()))
            self._ready.append(with_caches(ecg, uv))
        elif isinstance(frame, pmd.PmdAccFrame):
            mg = frame.acc_mg.astype(np.float64).reshape(-1, 3)
            mg.flags.writeable = False
            acc_mg = tuple((x, y, z) for x, y, z in mg.tolist())
            self._ready.append(with_caches(AccFrame(float(times[-1]), stream.fs_hz, acc_mg), mg))
