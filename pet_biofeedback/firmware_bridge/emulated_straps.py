"""Emulated heart-rate straps driven by `sim_model.StrapModel` (ble-protocol.md §2, §8).

`EmulatedStrapBase` serves Heart Rate, Battery and Device Information and emits what its model
measured when `EmulatedStrapBase.emit` (or `emit_second`) is awaited — nothing happens on its
own; tests call it explicitly (deterministic, §8.4), the CLI runs `EmulatedStrapBase.run` in
real time (or ``speed`` times faster). It injects the faults of its `FaultPlan`.
`EmulatedGenericStrap` sends flags ``0x16`` with contact loss, Energy Expended and RR batches;
`EmulatedOpticalSensor` heart rate without RR. The Polar H10 with PMD is `emulated_h10`.
Needs the ``emulated`` extra (Bumble).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import time
import zlib
from collections import deque
from typing import Any, Final

import numpy as np

from pet_biofeedback.errors import ConfigError
from pet_biofeedback.firmware_bridge.emulated_harness import (
    FaultPlan,
    HrNotification,
    missing_extra_error,
)
from pet_biofeedback.firmware_bridge.emulated_world import (
    EmulatedPeripheral,
    EmulatedWorld,
)

try:
    from bumble.device import Connection
    from bumble.gatt import Characteristic, Service
    from bumble.profiles.battery_service import BatteryService
    from bumble.profiles.device_information_service import DeviceInformationService
except ImportError as _exc:  # pragma: no cover - depends on the installed extras
    raise missing_extra_error(_exc) from _exc


from pet_biofeedback.firmware_bridge import hrs
from pet_biofeedback.firmware_bridge.ble_settings import Clock, Sleep
from pet_biofeedback.firmware_bridge.sim_config import SimConfig
from pet_biofeedback.firmware_bridge.sim_model import SimChunk, StrapModel

logger = logging.getLogger(__name__)

_FLAG_CONTACT_DETECTED: Final = 0x02
_FLAG_CONTACT_SUPPORTED: Final = 0x04
_FLAG_ENERGY_EXPENDED: Final = 0x08
_FLAG_RR: Final = 0x10
_RR_UNITS_PER_MS: Final = hrs.RR_UNITS_PER_S / 1000.0
_ENERGY_KJ_PER_BEAT: Final = 0.085  # ≈ 6 kJ/min at 70 bpm (light activity), plausible for EE
_ENERGY_MAX_KJ: Final = 0xFFFF  # saturates (§2.1)

# --- Straps -------------------------------------------------------------------------------------


class EmulatedStrapBase(EmulatedPeripheral):
    """A heart-rate strap driven by `sim_model.StrapModel`: HRS, Battery and Device Information.

    Parameters
    ----------
    world : EmulatedWorld
    name : str
        Advertised name.
    config : SimConfig, optional
        Model settings; default per strap kind.
    faults : FaultPlan, optional
        Faults to inject (none by default).
    manufacturer, model : str
        Device Information strings.
    advertise_hrs : bool, default True
        Put ``0x180D`` in the advertisement.
    manufacturer_data : bytes, optional
        Advertised manufacturer data.
    log_limit : int, default 100000
        Entries kept in each log (the oldest are dropped).
    """

    def __init__(
        self,
        world: EmulatedWorld,
        *,
        name: str,
        config: SimConfig,
        faults: FaultPlan | None,
        manufacturer: str,
        model: str,
        advertise_hrs: bool = True,
        manufacturer_data: bytes | None = None,
        log_limit: int = 100_000,
    ) -> None:
        super().__init__(
            world,
            name=name,
            service_uuids=("180D",) if advertise_hrs else (),
            manufacturer_data=manufacturer_data,
        )
        self.config = config
        self.faults = faults if faults is not None else FaultPlan()
        self._model = StrapModel(config)
        self.battery_pct = config.battery_pct
        self.hr_characteristic: Characteristic[bytes] = Characteristic(
            hrs.HEART_RATE_MEASUREMENT_UUID,
            Characteristic.Properties.NOTIFY,
            Characteristic.Permissions(0),
            b"",
        )
        self.hr_characteristic.on(Characteristic.EVENT_SUBSCRIPTION, self._on_hr_subscription)
        body_location = Characteristic(
            hrs.BODY_SENSOR_LOCATION_UUID,
            Characteristic.Properties.READ,
            Characteristic.Permissions.READABLE,
            bytes([hrs.BodySensorLocation.CHEST]),
        )
        self._battery = BatteryService(lambda _connection: self.battery_pct)
        services: list[Service] = [
            Service(hrs.HEART_RATE_SERVICE_UUID, [self.hr_characteristic, body_location]),
            self._battery,
            DeviceInformationService(
                manufacturer_name=manufacturer,
                model_number=model,
                serial_number=f"{zlib.crc32(f'{name}/{config.seed}'.encode()) % 10**8:08d}",
                hardware_revision="1",
                firmware_revision="5.0.0",
                software_revision="5.0.0",
            ),
            *self._extra_services(),
        ]
        self.device.add_services(services)
        self.hr_log: deque[HrNotification] = deque(maxlen=log_limit)
        self._hr_subscribed = False
        self._stalled_until_s = -math.inf
        self._visible_at_s = 0.0
        self._pending_rr: list[tuple[float, float]] = []  # (beat time, RR ms) not yet reported
        self._energy_kj = 0.0
        self._next_fault_s = {
            name: every
            for name, every in (
                ("disconnect", self.faults.disconnect_every_s),
                ("stall", self.faults.stall_every_s),
                ("sensor_stop", self.faults.sensor_stop_every_s),
                ("malformed", self.faults.malformed_every_s),
            )
            if every is not None
        }

    def _extra_services(self) -> list[Service]:
        """Hook for subclasses: more GATT services."""
        return []

    @property
    def model_t_s(self) -> float:
        """Model time emitted so far, s."""
        return self._model.t_s

    @property
    def stalled(self) -> bool:
        """Notifications are suppressed with the link up."""
        return self.model_t_s < self._stalled_until_s

    def stall(self, duration_s: float = math.inf) -> None:
        """Stop notifying (link stays up) for `duration_s` of model time or until disconnected."""
        self._stalled_until_s = self.model_t_s + duration_s

    def _on_hr_subscription(
        self, connection: Connection, notify_enabled: bool, indicate_enabled: bool
    ) -> None:
        """The central (un)subscribed to heart rate."""
        self._hr_subscribed = bool(notify_enabled)

    def _after_disconnection(self) -> None:
        """Subscriptions and stalls end with the link; the offline fault hides the strap."""
        self._hr_subscribed = False
        self._stalled_until_s = -math.inf
        offline_s = self.faults.offline_for_s
        if offline_s > 0:
            self._visible_at_s = self.model_t_s + offline_s
            self.visible = False

    # -- emitting --

    async def emit_second(self) -> None:
        """Emit the next second of model time (see `emit`)."""
        await self.emit(1.0)

    async def emit(self, dt_s: float) -> None:
        """Advance the model by `dt_s` and send what the strap measured, in time order.

        Heart-rate notifications come at whole seconds (ble-protocol.md §2.1), each with the RR
        intervals of the beats since the previous one; an H10 adds its PMD frames. Faults of
        the `FaultPlan` fire at the first emit at or after their time.
        """
        if not dt_s > 0:
            raise ConfigError(f"emit: dt_s must be positive, got {dt_s!r}")
        chunk = self._model.advance(self.model_t_s + dt_s)
        await self._apply_faults(chunk.t_end_s)
        finite = np.isfinite(chunk.rr_ms)
        self._pending_rr.extend(
            zip(chunk.beat_t_s[finite].tolist(), chunk.rr_ms[finite].tolist(), strict=True)
        )
        items: list[tuple[float, int, Any]] = []
        for t_s, hr_bpm, contact in zip(
            chunk.notify_t_s.tolist(),
            chunk.notify_hr_bpm.tolist(),
            chunk.notify_contact_mask.tolist(),
            strict=True,
        ):
            rr_ms = tuple(rr for beat_t, rr in self._pending_rr if beat_t <= t_s)
            self._pending_rr = [(b, rr) for b, rr in self._pending_rr if b > t_s]
            items.append((t_s, 1, (round(hr_bpm), bool(contact), rr_ms)))
        items.extend(self._pmd_items(chunk))
        items.sort(key=lambda item: (item[0], item[1]))
        for t_s, kind, body in items:
            if kind == 1:
                hr_bpm, contact, rr_ms = body
                await self._send_heart_rate(t_s, hr_bpm, contact, rr_ms)
            else:
                await self._send_pmd(t_s, body)

    def _pmd_items(self, chunk: SimChunk) -> list[tuple[float, int, Any]]:
        """Hook for the H10: PMD frames of this chunk as (time, 0, frame) items."""
        return []

    async def _send_pmd(self, t_s: float, body: Any) -> None:
        """Hook for the H10: send one PMD frame."""

    def _hr_payload(self, hr_bpm: int, contact: bool, rr_ms: tuple[float, ...]) -> bytes:
        """The notification value (per strap kind)."""
        raise NotImplementedError

    @property
    def _can_notify_hr(self) -> bool:
        """A subscribed central is connected and the strap is not stalled."""
        return self.connection is not None and self._hr_subscribed and not self.stalled

    async def _send_heart_rate(
        self, t_s: float, hr_bpm: int, contact: bool, rr_ms: tuple[float, ...]
    ) -> None:
        """Encode, notify (when possible) and log one heart-rate notification."""
        payload = self._hr_payload(hr_bpm, contact, rr_ms)
        delivered = await self._notify_hr(payload)
        self.hr_log.append(
            HrNotification(
                t_s, payload, rr_ms, delivered, self.connection_count if delivered else 0
            )
        )

    async def _notify_hr(self, payload: bytes) -> bool:
        """Notify a heart-rate value; True when it went to a subscribed central."""
        connection = self.connection
        if connection is None or not self._can_notify_hr:
            return False
        await self.device.notify_subscriber(connection, self.hr_characteristic, payload)
        return True

    async def send_raw_heart_rate(self, payload: bytes) -> bool:
        """Send an arbitrary (e.g. malformed) heart-rate notification; True when delivered."""
        delivered = await self._notify_hr(payload)
        self.hr_log.append(
            HrNotification(
                self.model_t_s, payload, (), delivered, self.connection_count if delivered else 0
            )
        )
        return delivered

    async def _apply_faults(self, t_s: float) -> None:
        """Fire the FaultPlan's faults due at model time `t_s`."""
        if not self.visible and self.connection is None and t_s >= self._visible_at_s:
            await self.set_visible(True)
        plan = self.faults
        due = [name for name, at_s in self._next_fault_s.items() if t_s >= at_s]
        for name in due:
            every_s = {
                "disconnect": plan.disconnect_every_s,
                "stall": plan.stall_every_s,
                "sensor_stop": plan.sensor_stop_every_s,
                "malformed": plan.malformed_every_s,
            }[name]
            assert every_s is not None
            while self._next_fault_s[name] <= t_s:
                self._next_fault_s[name] += every_s
            if name == "disconnect" and self.connection is not None:
                logger.info("fault: %s drops the link at %.1f s", self.name, t_s)
                await self.disconnect()
            elif name == "stall" and self.connection is not None:
                logger.info("fault: %s stalls for %g s at %.1f s", self.name, plan.stall_for_s, t_s)
                self.stall(plan.stall_for_s)
            elif name == "sensor_stop":
                await self._fault_sensor_stop()
            elif name == "malformed":
                await self.send_raw_heart_rate(b"\x01\x3c")  # uint16 flag, one HR byte (§2.2)

    async def _fault_sensor_stop(self) -> None:
        """Hook for the H10: stop the ECG stream by itself."""

    # -- real time --

    async def run(
        self,
        *,
        speed: float = 1.0,
        step_s: float = 0.25,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """Emit in real time (``speed`` × faster) until cancelled: the CLI's emulated strap.

        Parameters
        ----------
        speed : float, default 1
            Model seconds per real second.
        step_s : float, default 0.25
            Model time per `emit`, s (ECG frames then arrive about every 0.5 s, as on an H10).
        clock, sleep
            Real-time clock and sleep.
        """
        if not (math.isfinite(speed) and speed > 0):
            raise ConfigError(f"run: speed must be a finite positive number, got {speed!r}")
        t0 = clock()
        for n_step in itertools.count(1):
            delay_s = t0 + n_step * step_s / speed - clock()
            if delay_s > 0:
                await sleep(delay_s)
            await self.emit(step_s)


class EmulatedGenericStrap(EmulatedStrapBase):
    """A generic chest strap: flags ``0x16``/``0x1E`` (contact bits, Energy Expended, RR), no PMD.

    During a contact dropout of the model it sends ``0C 00 <EE>`` (contact supported, not
    detected, HR 0; ble-protocol.md §2.3).

    Parameters
    ----------
    world : EmulatedWorld
    name : str, default "HRM Strap 4C2F"
    seed : int, default 0
    config : SimConfig, optional
        Default: the seed, no ECG/ACC, 0.5 contact dropouts per minute of 4 s, 1 % ectopic beats.
    faults : FaultPlan, optional
    energy_expended : bool, default True
        Include Energy Expended (moves the RR offset by 2 bytes, §2.3).
    """

    def __init__(
        self,
        world: EmulatedWorld,
        *,
        name: str = "HRM Strap 4C2F",
        seed: int = 0,
        config: SimConfig | None = None,
        faults: FaultPlan | None = None,
        energy_expended: bool = True,
    ) -> None:
        self.energy_expended = energy_expended
        super().__init__(
            world,
            name=name,
            config=config
            or SimConfig(
                seed=seed,
                ecg_enabled=False,
                acc_enabled=False,
                dropouts_per_min=0.5,
                dropout_s=4.0,
                ectopic_fraction=0.01,
            ),
            faults=faults,
            manufacturer="Emulated Straps Ltd",
            model="Generic HR strap",
        )

    def _hr_payload(self, hr_bpm: int, contact: bool, rr_ms: tuple[float, ...]) -> bytes:
        """The notification value of this strap kind."""
        flags = _FLAG_CONTACT_SUPPORTED | (_FLAG_CONTACT_DETECTED if contact else 0)
        body = bytearray([min(max(hr_bpm, 0), 255)])
        if self.energy_expended:
            self._energy_kj = min(
                self._energy_kj + _ENERGY_KJ_PER_BEAT * len(rr_ms), _ENERGY_MAX_KJ
            )
            flags |= _FLAG_ENERGY_EXPENDED
            body += int(self._energy_kj).to_bytes(2, "little")
        if rr_ms:
            flags |= _FLAG_RR
            body += _rr_bytes(rr_ms)
        return bytes([flags]) + bytes(body)


class EmulatedOpticalSensor(EmulatedStrapBase):
    """An optical arm/wrist sensor over HRS: heart rate only, no RR, no contact bits (§2.3).

    Parameters
    ----------
    world : EmulatedWorld
    name : str, default "Optical HR 5E6F"
    seed : int, default 0
    config : SimConfig, optional
        Default: the seed, no ECG/ACC.
    faults : FaultPlan, optional
    """

    def __init__(
        self,
        world: EmulatedWorld,
        *,
        name: str = "Optical HR 5E6F",
        seed: int = 0,
        config: SimConfig | None = None,
        faults: FaultPlan | None = None,
    ) -> None:
        super().__init__(
            world,
            name=name,
            config=config or SimConfig(seed=seed, ecg_enabled=False, acc_enabled=False),
            faults=faults,
            manufacturer="Emulated Straps Ltd",
            model="Optical HR sensor",
        )

    def _hr_payload(self, hr_bpm: int, contact: bool, rr_ms: tuple[float, ...]) -> bytes:
        """The notification value of this strap kind."""
        return bytes([0x00, min(max(hr_bpm, 0), 255)])

    async def _send_heart_rate(
        self, t_s: float, hr_bpm: int, contact: bool, rr_ms: tuple[float, ...]
    ) -> None:
        """Encode, notify (when possible) and log one heart-rate notification."""
        # An optical sensor reports no beat-to-beat intervals over HRS: none are "sent".
        await super()._send_heart_rate(t_s, hr_bpm, contact, ())


def _rr_bytes(rr_ms: tuple[float, ...]) -> bytes:
    """RR values in 1/1024 s, uint16 LE each (§2.1)."""
    return b"".join(round(rr * _RR_UNITS_PER_MS).to_bytes(2, "little") for rr in rr_ms)
