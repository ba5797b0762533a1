"""The emulated Polar H10: Heart Rate with flags ``0x10`` plus PMD ECG and ACC (ble-protocol.md §4).

Beyond `emulated_straps.EmulatedStrapBase` it serves the Polar PMD service: the control point
(features read, GET settings, START/STOP with the H10's MTU rule, an optional
encryption-required control point, unsolicited "stopped" for fault plans) and ECG/ACC data
frames cut from the model's samples. Needs the ``emulated`` extra (Bumble).
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from pet_biofeedback.errors import ConfigError, DecodeError
from pet_biofeedback.firmware_bridge.emulated_harness import (
    CpWrite,
    FaultPlan,
    PmdFrameSent,
    missing_extra_error,
)
from pet_biofeedback.firmware_bridge.emulated_straps import (
    EmulatedStrapBase,
    _rr_bytes,
)
from pet_biofeedback.firmware_bridge.emulated_world import EmulatedWorld

try:
    from bumble import att
    from bumble.device import Connection
    from bumble.gatt import Characteristic, CharacteristicValue, Service
    from bumble.pairing import PairingConfig, PairingDelegate
except ImportError as _exc:  # pragma: no cover - depends on the installed extras
    raise missing_extra_error(_exc) from _exc


from pet_biofeedback.firmware_bridge import pmd
from pet_biofeedback.firmware_bridge.sim_config import SimConfig
from pet_biofeedback.firmware_bridge.sim_model import SimChunk
from pet_biofeedback.firmware_bridge.sim_physiology import ACC_FS_HZ, ECG_FS_HZ

logger = logging.getLogger(__name__)

_H10_FLAGS_RR: Final = 0x10  # RR present, no contact bit: the H10 (§2.3)

_ECG_SAMPLES_PER_FRAME: Final = 73  # H10 at ATT MTU ≥ 232 (§4.9)
_ACC_SAMPLES_PER_FRAME: Final = 36  # 16-bit ACC at MTU 232: (229 − 10) / 6 (§4.10)
_ECG_FRAME_TYPE: Final = 0x00
_ACC_FRAME_TYPE: Final = 0x01  # int16 x, y, z in mG (§4.10)
#: Device clock of the emulated H10 at model time 0: 2025-01-01T00:00:00 in ns since 2000-01-01.
_DEVICE_T0_NS: Final = 9131 * 86_400 * 1_000_000_000
_PMD_ATT_HEADER: Final = 3  # a notification carries ATT MTU − 3 bytes
# The H10's answers (§4.4, bleakheart#5, products/PolarH10.md).
_ECG_SETTINGS_RESPONSE: Final = bytes.fromhex("F0 01 00 00 00 00 01 82 00 01 01 0E 00")
_ACC_SETTINGS_RESPONSE: Final = bytes.fromhex(
    "F0 01 02 00 00 00 04 19 00 32 00 64 00 C8 00 01 01 10 00 02 03 02 00 04 00 08 00"
)
_H10_FEATURES: Final = bytes.fromhex("0F 05 00")  # ECG + ACC (§4.2)
_ECG_RATES_HZ: Final = (130,)
_ECG_RESOLUTIONS_BITS: Final = (14,)
_ACC_RATES_HZ: Final = (25, 50, 100, 200)
_ACC_RESOLUTIONS_BITS: Final = (16,)
_ACC_RANGES_G: Final = (2, 4, 8)
_CCCD_IMPROPERLY_CONFIGURED: Final = 0xFD  # ATT error: a PMD command before both CCCDs (§4.1)


@dataclass
class _FakeStream:
    """A PMD stream the emulated H10 is running."""

    measurement: pmd.MeasurementType
    fs_hz: float
    started_at_s: float
    n_per_frame: int
    buffer_t_s: npt.NDArray[np.float64]
    buffer_values: npt.NDArray[np.float64]


class EmulatedH10(EmulatedStrapBase):
    """An emulated Polar H10 (ble-protocol.md §1–§4, §8.4 "FakeH10").

    Heart Rate with flags ``0x10`` (RR, no contact bit); Battery; Device Information ("Polar
    Electro Oy", "H10"); Polar PMD: feature read ``0F 05 00``; GET/START/STOP answered by ``F0 …``
    indications per §4.3–§4.4; START answered ``F0 02 00 0A 00`` (INVALID_MTU) below ATT MTU
    232; every command refused (ATT 0xFD) until both the CP indications and the data
    notifications are enabled; ECG frames of 73 samples (130 Hz, µV) and ACC frames of 36
    samples (int16 mG) with device timestamps of their last sample; every CP write logged in
    `cp_log`.

    Parameters
    ----------
    world : EmulatedWorld
    name : str, default "Polar H10 1A2B3C4D"
    seed : int, default 0
    config : SimConfig, optional
        Default: the seed, ECG and ACC on.
    faults : FaultPlan, optional
    cp_requires_encryption : bool, default False
        The CP refuses writes with ATT 0x0F until the link is encrypted (the Windows report of
        §4.14); pairing is Just Works.
    reject_pairing : bool, default False
        Refuse pairing requests.
    ecg_start_latency_s : float, default 0
        ECG frames start this long (model time) after the START (§4.14).
    """

    def __init__(
        self,
        world: EmulatedWorld,
        *,
        name: str = "Polar H10 1A2B3C4D",
        seed: int = 0,
        config: SimConfig | None = None,
        faults: FaultPlan | None = None,
        cp_requires_encryption: bool = False,
        reject_pairing: bool = False,
        ecg_start_latency_s: float = 0.0,
    ) -> None:
        if not (math.isfinite(ecg_start_latency_s) and ecg_start_latency_s >= 0):
            raise ConfigError(
                f"EmulatedH10: ecg_start_latency_s must be ≥ 0, got {ecg_start_latency_s!r}"
            )
        self._cp_requires_encryption = cp_requires_encryption
        self.ecg_start_latency_s = float(ecg_start_latency_s)
        self.cp_log: list[CpWrite] = []
        self.pmd_log: deque[PmdFrameSent] = deque(maxlen=100_000)
        self.streams: dict[pmd.MeasurementType, _FakeStream] = {}
        self.pairings = 0
        self._cp_indicate = False
        self._data_notify = False
        super().__init__(
            world,
            name=name,
            config=config or SimConfig(seed=seed),
            faults=faults,
            manufacturer="Polar Electro Oy",
            model="H10",
            manufacturer_data=_polar_manufacturer_data(),
        )
        if reject_pairing:
            self.device.pairing_config_factory = lambda _connection: PairingConfig(
                delegate=_RejectingDelegate()
            )

    def _extra_services(self) -> list[Service]:
        """The Polar PMD service (CP + data)."""
        write_permissions = Characteristic.Permissions.WRITEABLE
        if self._cp_requires_encryption:
            write_permissions |= Characteristic.Permissions.WRITE_REQUIRES_ENCRYPTION
        self.cp_characteristic: Characteristic[bytes] = Characteristic(
            pmd.PMD_CONTROL_POINT_UUID,
            Characteristic.Properties.READ
            | Characteristic.Properties.WRITE
            | Characteristic.Properties.INDICATE,
            Characteristic.Permissions.READABLE | write_permissions,
            CharacteristicValue(read=self._on_cp_read, write=self._on_cp_write),
        )
        self.cp_characteristic.on(Characteristic.EVENT_SUBSCRIPTION, self._on_cp_subscription)
        self.data_characteristic: Characteristic[bytes] = Characteristic(
            pmd.PMD_DATA_UUID,
            Characteristic.Properties.NOTIFY,
            Characteristic.Permissions(0),
            b"",
        )
        self.data_characteristic.on(Characteristic.EVENT_SUBSCRIPTION, self._on_data_subscription)
        return [Service(pmd.PMD_SERVICE_UUID, [self.cp_characteristic, self.data_characteristic])]

    def _on_connection(self, connection: Connection) -> None:
        """A central connected."""
        super()._on_connection(connection)
        connection.on(connection.EVENT_PAIRING, self._on_pairing)

    def _on_pairing(self, *_args: object) -> None:
        """Pairing completed on the current connection."""
        self.pairings += 1
        self.history.append("pairing")

    @property
    def cp_commands(self) -> list[bytes]:
        """The payloads of `cp_log`, in order."""
        return [w.payload for w in self.cp_log]

    def _on_cp_subscription(
        self, connection: Connection, notify_enabled: bool, indicate_enabled: bool
    ) -> None:
        """The central enabled/disabled CP indications."""
        self._cp_indicate = bool(indicate_enabled)

    def _on_data_subscription(
        self, connection: Connection, notify_enabled: bool, indicate_enabled: bool
    ) -> None:
        """The central enabled/disabled PMD data notifications."""
        self._data_notify = bool(notify_enabled)

    def _after_disconnection(self) -> None:
        """Also forget the PMD subscriptions and streams."""
        super()._after_disconnection()
        self._cp_indicate = False
        self._data_notify = False
        self.streams.clear()  # streams never survive a reconnect (§6 rule 8)

    # -- control point --

    def _on_cp_read(self, _connection: Connection) -> bytes:
        """Feature read of the CP: ECG + ACC (§4.2)."""
        return _H10_FEATURES

    def _on_cp_write(self, connection: Connection, value: bytes) -> None:
        """A CP command: log it, refuse it before both CCCDs, answer by indication."""
        command = bytes(value)
        self.cp_log.append(
            CpWrite(self.model_t_s, command, connection.att_mtu, self.connection_count)
        )
        self.history.append(f"cp {command.hex(' ')}")
        if not (self._cp_indicate and self._data_notify):
            # The SDK refuses commands before both CCCDs are set (§4.1 step 3).
            raise att.ATT_Error(_CCCD_IMPROPERLY_CONFIGURED)
        response = self._cp_response(connection, command)
        self._spawn(self._indicate(connection, response))

    async def _indicate(self, connection: Connection, value: bytes) -> None:
        """Send a CP indication if the connection and its subscription still exist."""
        if self.connection is connection and self._cp_indicate:
            await self.device.indicate_subscriber(connection, self.cp_characteristic, value)

    def _cp_response(self, connection: Connection, command: bytes) -> bytes:
        """The H10's answer to a CP command (§4.3–§4.4)."""
        if len(command) < 2:
            return bytes([0xF0, command[0] if command else 0, 0, pmd.ResponseStatus.INVALID_LENGTH])
        op, measurement_id = command[0], command[1] & pmd.MEASUREMENT_TYPE_MASK

        def answer(status: int) -> bytes:
            """A response header with `status` (``F0 op type status more``)."""
            return bytes([0xF0, op, measurement_id, status, 0])

        if measurement_id not in (pmd.MeasurementType.ECG, pmd.MeasurementType.ACC):
            return answer(pmd.ResponseStatus.NOT_SUPPORTED)[:4]
        measurement = pmd.MeasurementType(measurement_id)
        if op == pmd.OpCode.GET_MEASUREMENT_SETTINGS:
            if measurement is pmd.MeasurementType.ECG:
                return _ECG_SETTINGS_RESPONSE
            return _ACC_SETTINGS_RESPONSE
        if op == pmd.OpCode.REQUEST_MEASUREMENT_START:
            if connection.att_mtu < pmd.H10_MIN_ATT_MTU:
                return answer(pmd.ResponseStatus.INVALID_MTU)
            status = self._check_start(measurement, command[2:])
            if status != pmd.ResponseStatus.SUCCESS:
                return answer(status)
            if measurement in self.streams:
                return answer(pmd.ResponseStatus.ALREADY_IN_STATE)
            self._start_stream(measurement, connection)
            return answer(pmd.ResponseStatus.SUCCESS)
        if op == pmd.OpCode.STOP_MEASUREMENT:
            if self.streams.pop(measurement, None) is None:
                return answer(pmd.ResponseStatus.ALREADY_IN_STATE)
            return answer(pmd.ResponseStatus.SUCCESS)
        return answer(pmd.ResponseStatus.INVALID_OP_CODE)[:4]

    def _check_start(self, measurement: pmd.MeasurementType, tlv: bytes) -> int:
        """Status for a START's settings TLV (only what an H10 offers is accepted)."""
        try:
            settings = pmd.parse_settings(tlv)
        except DecodeError:
            return pmd.ResponseStatus.INVALID_PARAMETER
        rates = settings.sample_rates_hz
        resolutions = settings.resolutions_bits
        allowed_rates: tuple[int, ...]
        allowed_res: tuple[int, ...]
        allowed_ranges: tuple[int, ...]
        if measurement is pmd.MeasurementType.ECG:
            allowed_rates, allowed_res, allowed_ranges = _ECG_RATES_HZ, _ECG_RESOLUTIONS_BITS, ()
        else:
            allowed_rates, allowed_res, allowed_ranges = (
                _ACC_RATES_HZ,
                _ACC_RESOLUTIONS_BITS,
                _ACC_RANGES_G,
            )
        if len(rates) != 1 or rates[0] not in allowed_rates:
            return pmd.ResponseStatus.INVALID_SAMPLE_RATE
        if len(resolutions) != 1 or resolutions[0] not in allowed_res:
            return pmd.ResponseStatus.INVALID_RESOLUTION
        if allowed_ranges and (
            len(settings.ranges) != 1 or settings.ranges[0] not in allowed_ranges
        ):
            return pmd.ResponseStatus.INVALID_RANGE
        return pmd.ResponseStatus.SUCCESS

    def _start_stream(self, measurement: pmd.MeasurementType, connection: Connection) -> None:
        """Begin a stream: frames from samples after now (+ ECG start latency)."""
        if measurement is pmd.MeasurementType.ECG:
            fs_hz, per_frame, bytes_per_sample = ECG_FS_HZ, _ECG_SAMPLES_PER_FRAME, 3
            latency_s = self.ecg_start_latency_s
        else:
            fs_hz, per_frame, bytes_per_sample = ACC_FS_HZ, _ACC_SAMPLES_PER_FRAME, 6
            latency_s = 0.0
        # Samples per frame depend on the MTU (§4.1); ≥ 232 here, so 73 / 36.
        fit = (connection.att_mtu - _PMD_ATT_HEADER - pmd.FRAME_HEADER_BYTES) // bytes_per_sample
        self.streams[measurement] = _FakeStream(
            measurement,
            fs_hz,
            self.model_t_s + latency_s,
            max(1, min(per_frame, fit)),
            np.empty(0),
            np.empty((0, 3)) if measurement is pmd.MeasurementType.ACC else np.empty(0),
        )

    async def stop_stream_by_sensor(
        self, measurement: pmd.MeasurementType = pmd.MeasurementType.ECG
    ) -> bool:
        """Stop a stream as the sensor itself would, indicating ``01 <type>`` (§4.5).

        Returns
        -------
        bool
            Whether the stream was running.
        """
        if self.streams.pop(measurement, None) is None:
            return False
        connection = self.connection
        if connection is not None and self._cp_indicate:
            await self.device.indicate_subscriber(
                connection,
                self.cp_characteristic,
                bytes([pmd.MEASUREMENT_STOPPED_CODE, int(measurement)]),
            )
        return True

    async def send_raw_cp_indication(self, payload: bytes) -> bool:
        """Indicate arbitrary bytes on the CP (e.g. a message the app does not know).

        Returns
        -------
        bool
            Whether a subscribed central received it.
        """
        connection = self.connection
        if connection is None or not self._cp_indicate:
            return False
        await self.device.indicate_subscriber(connection, self.cp_characteristic, payload)
        return True

    async def _fault_sensor_stop(self) -> None:
        """The sensor-stop fault: stop ECG by itself."""
        if await self.stop_stream_by_sensor(pmd.MeasurementType.ECG):
            logger.info("fault: %s stopped its ECG stream by itself", self.name)

    # -- heart rate and data --

    def _hr_payload(self, hr_bpm: int, contact: bool, rr_ms: tuple[float, ...]) -> bytes:
        """The notification value of this strap kind."""
        flags = _H10_FLAGS_RR if rr_ms else 0x00
        return bytes([flags, min(max(hr_bpm, 0), 255)]) + _rr_bytes(rr_ms)

    def _pmd_items(self, chunk: SimChunk) -> list[tuple[float, int, Any]]:
        """Whole PMD frames of the running streams in this chunk, as (time, 0, frame)."""
        items: list[tuple[float, int, Any]] = []
        for stream in list(self.streams.values()):
            if stream.measurement is pmd.MeasurementType.ECG:
                t_new, v_new = chunk.ecg_t_s, chunk.ecg_uv
            else:
                t_new, v_new = chunk.acc_t_s, chunk.acc_mg
            keep = t_new > stream.started_at_s
            all_t = np.concatenate((stream.buffer_t_s, t_new[keep]))
            all_v = np.concatenate((stream.buffer_values, v_new[keep]))
            n = stream.n_per_frame
            n_frames = all_t.size // n
            for i in range(n_frames):
                frame_t = all_t[i * n : (i + 1) * n]
                frame_v = all_v[i * n : (i + 1) * n]
                items.append((float(frame_t[-1]), 0, (stream.measurement, frame_t, frame_v)))
            stream.buffer_t_s = all_t[n_frames * n :]
            stream.buffer_values = all_v[n_frames * n :]
        return items

    async def _send_pmd(self, t_s: float, body: Any) -> None:
        """Encode one frame (§4.7, §4.9, §4.10) and notify it when subscribed."""
        measurement, frame_t, frame_v = body
        if measurement not in self.streams:
            return  # stopped earlier in this emit
        ts_ns = _DEVICE_T0_NS + round(float(frame_t[-1]) * 1e9)
        header = bytes([int(measurement)]) + ts_ns.to_bytes(8, "little")
        if measurement is pmd.MeasurementType.ECG:
            samples = np.asarray(frame_v, dtype=np.int64)
            payload = (
                header
                + bytes([_ECG_FRAME_TYPE])
                + b"".join(int(v).to_bytes(3, "little", signed=True) for v in samples.tolist())
            )
        else:
            samples = np.clip(np.asarray(frame_v, dtype=np.int64), -32768, 32767)
            payload = header + bytes([_ACC_FRAME_TYPE]) + samples.astype("<i2").tobytes()
        connection = self.connection
        delivered = connection is not None and self._data_notify and not self.stalled
        if delivered:
            assert connection is not None
            await self.device.notify_subscriber(connection, self.data_characteristic, payload)
        self.pmd_log.append(PmdFrameSent(t_s, measurement, len(frame_t), delivered))


def _polar_manufacturer_data() -> bytes:
    """Polar's manufacturer data as the H10 advertises it: company ID ``6B 00`` (§1)."""
    return (0x006B).to_bytes(2, "little")


class _RejectingDelegate(PairingDelegate):
    """A pairing delegate that refuses every request."""

    async def accept(self) -> bool:
        """Refuse."""
        return False
