"""Turning a recording's raw notifications back into events, for the streams it lacks.

A recording of a real strap keeps every GATT notification as a ``raw`` event beside (or
instead of) the decoded ones. `ReplaySource` plays the decoded events as they are; where a
stream was recorded only raw (heart rate and RR, battery, PMD ECG or ACC frames) a
`RawDecoder` runs the same decoders as the live strap (`hrs`, `pmd`) over the raw events,
with the beat timing of `RrBeatClock`. `StreamInventory` says which is which.

Split from `replay.py` (one idea per module); it imports what that module did for it:
`pet_biofeedback.errors`, `events` and the decoders next to it (design.md §2).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from typing import Final

from pet_biofeedback.errors import ConfigError, DecodeError
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

__all__ = ["DEFAULT_ACC_FS_HZ", "DEFAULT_ECG_FS_HZ", "RawDecoder", "StreamInventory"]

logger = logging.getLogger(__name__)

DEFAULT_ECG_FS_HZ: Final = 130.0  # Polar H10 ECG, its only rate (ble-protocol.md §4.9)
DEFAULT_ACC_FS_HZ: Final = 200.0  # Polar H10 ACC at the rate the app starts it (§4.10)

_HRM_UUID: Final = hrs.HEART_RATE_MEASUREMENT_UUID
_BATTERY_UUID: Final = hrs.BATTERY_LEVEL_UUID
_PMD_DATA_UUID: Final = pmd.PMD_DATA_UUID
_PMD_CP_UUID: Final = pmd.PMD_CONTROL_POINT_UUID


class StreamInventory:
    """Which decoded event types and raw characteristics a recording holds."""

    __slots__ = ("raw_characteristics", "types")

    def __init__(self, events: Iterable[Event]) -> None:
        self.types: set[type] = set()
        self.raw_characteristics: set[str] = set()
        for event in events:
            self.types.add(type(event))
            if isinstance(event, RawNotification):
                self.raw_characteristics.add(event.characteristic.lower())


# --- Re-decoding raw notifications -------------------------------------------------------------


class _PmdStream:
    """Decoding state of one PMD stream (ECG or ACC)."""

    __slots__ = ("clock", "factor", "fs_hz", "resolution_bits")

    def __init__(self, fs_hz: float) -> None:
        self.fs_hz = fs_hz
        self.resolution_bits: int | None = None
        self.factor: float | None = None
        self.clock = pmd.PmdClock(fs_hz)

    def restart(self, fs_hz: float, resolution_bits: int | None) -> None:
        self.fs_hz = fs_hz
        self.resolution_bits = resolution_bits
        self.clock = pmd.PmdClock(fs_hz)


class RawDecoder:
    """Turns raw notifications into decoded events, for the streams the recording lacks."""

    def __init__(self, inventory: StreamInventory, settings: Mapping[str, object]) -> None:
        types = inventory.types
        self.hrm = HeartRate not in types and RRIntervals not in types
        self.battery = Battery not in types
        self.ecg = EcgFrame not in types
        self.acc = AccFrame not in types
        self._default_fs_hz: dict[int, float] = {
            pmd.MeasurementType.ECG: _setting_hz(settings, "ecg_fs_hz", DEFAULT_ECG_FS_HZ),
            pmd.MeasurementType.ACC: _setting_hz(settings, "acc_fs_hz", DEFAULT_ACC_FS_HZ),
        }
        self._streams: dict[int, _PmdStream] = {}
        self._beat_clock = RrBeatClock()
        self.n_decoded = 0
        self.n_errors = 0
        self.last_error = ""

    def reset(self) -> None:
        """Forget stream state (replay restarted from the beginning)."""
        self._streams.clear()
        self._beat_clock.reset()

    def gap(self) -> None:
        """A `Gap` event went by: the chain of beats is broken, as the live strap treats it."""
        self._beat_clock.reset()

    def decode(self, raw: RawNotification) -> list[Event]:
        """Decoded events for one raw notification (possibly none)."""
        # BleStrap records its own CP writes/reads as "<CP UUID>/write" and "/read".
        char, _, direction = raw.characteristic.lower().partition("/")
        try:
            if direction:
                if char == _PMD_CP_UUID and direction == "write" and (self.ecg or self.acc):
                    self._start_command(raw.payload)
                out = []
            elif char == _HRM_UUID and self.hrm:
                out = self._heart_rate(raw)
            elif char == _BATTERY_UUID and self.battery:
                out = [Battery(raw.t, hrs.decode_battery_level(raw.payload))]
            elif char == _PMD_CP_UUID and (self.ecg or self.acc):
                self._start_command(raw.payload)  # a recording that does not mark writes
                self._start_response(raw.payload)
                out = []
            elif char == _PMD_DATA_UUID and (self.ecg or self.acc):
                out = self._pmd_frame(raw)
            else:
                out = []
        except (DecodeError, ConfigError) as exc:
            self.n_errors += 1
            self.last_error = str(exc)
            logger.debug("raw notification at t=%.3f not decoded: %s", raw.t, exc)
            return []
        self.n_decoded += len(out)
        return out

    def _heart_rate(self, raw: RawNotification) -> list[Event]:
        m = hrs.decode_heart_rate_measurement(raw.payload)
        if m.contact is False or m.hr_bpm == 0:
            self._beat_clock.reset()  # no contact: the chain of RR intervals is broken
        out: list[Event] = []
        if m.rr_ms:
            placed = self._beat_clock.place(raw.t, m.rr_ms)
            if placed.gap is not None:
                out.append(placed.gap)
            out.append(RRIntervals(placed.t, m.rr_ms))
        out.append(HeartRate(raw.t, float(m.hr_bpm)))
        if m.contact is not None:
            out.append(Contact(raw.t, m.contact))
        return out

    def _stream(self, measurement: int) -> _PmdStream:
        stream = self._streams.get(measurement)
        if stream is None:
            fs_hz = self._default_fs_hz.get(measurement, DEFAULT_ACC_FS_HZ)
            stream = self._streams[measurement] = _PmdStream(fs_hz)
        return stream

    def _start_command(self, payload: bytes) -> None:
        """A recorded START command: the stream's rate and resolution; its clock restarts."""
        if len(payload) < 2 or payload[0] != pmd.OpCode.REQUEST_MEASUREMENT_START:
            return
        measurement = payload[1] & pmd.MEASUREMENT_TYPE_MASK
        values = pmd.parse_settings(payload[2:]).values
        stream = self._stream(measurement)
        rate = values.get(pmd.SettingType.SAMPLE_RATE)
        resolution = values.get(pmd.SettingType.RESOLUTION)
        stream.restart(
            float(rate[0]) if rate else stream.fs_hz, resolution[0] if resolution else None
        )

    def _start_response(self, payload: bytes) -> None:
        """A recorded START response: FACTOR for compressed ACC (§4.4)."""
        if not payload or payload[0] != pmd.CONTROL_POINT_RESPONSE_CODE:
            return
        message = pmd.parse_control_point_message(payload)
        if (
            isinstance(message, pmd.ControlPointResponse)
            and message.op_code == pmd.OpCode.REQUEST_MEASUREMENT_START
        ):
            settings = message.settings
            if settings is not None and settings.factor is not None:
                self._stream(message.measurement_type).factor = settings.factor

    def _pmd_frame(self, raw: RawNotification) -> list[Event]:
        if not raw.payload:
            raise DecodeError("PMD data: empty notification")
        measurement = raw.payload[0] & pmd.MEASUREMENT_TYPE_MASK
        wanted = (measurement == pmd.MeasurementType.ECG and self.ecg) or (
            measurement == pmd.MeasurementType.ACC and self.acc
        )
        if not wanted:
            return []
        stream = self._stream(measurement)
        frame = pmd.decode_frame(
            raw.payload,
            fs_hz=stream.fs_hz,
            resolution_bits=stream.resolution_bits,
            factor=stream.factor,
        )
        times_s = stream.clock.sample_times_s(frame.sensor_timestamp_ns, frame.n_samples, raw.t)
        if times_s.size == 0:
            return []
        t_last = float(times_s[-1])
        if isinstance(frame, pmd.PmdEcgFrame):
            return [EcgFrame(t_last, stream.fs_hz, tuple(frame.ecg_uv.tolist()))]
        if isinstance(frame, pmd.PmdAccFrame):
            return [
                AccFrame(
                    t_last,
                    stream.fs_hz,
                    tuple((float(x), float(y), float(z)) for x, y, z in frame.acc_mg.tolist()),
                )
            ]
        return []


def _setting_hz(settings: Mapping[str, object], key: str, default: float) -> float:
    value = settings.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        if math.isfinite(value):
            return float(value)
    return default
