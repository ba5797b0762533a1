"""Emulated heart-rate straps on Bumble's in-process virtual radio (ble-protocol.md §8).

Needs the optional ``emulated`` extra (``pip install 'pet-biofeedback[emulated]'``, Bumble). With
it, a person without a strap — and every BLE test — runs the **unmodified** `ble.BleStrap` over a
bleak backend that talks to software straps instead of an operating-system Bluetooth stack:

* `EmulatedWorld` — one `bumble.link.LocalLink` (the "radio"), the emulated computer's central
  (`BumbleRadio`) and the bleak backend classes bound to it (``world.scanner_cls``,
  ``world.client_cls``), plus the peripherals on the link.
* Peripherals (each a Bumble `Device` with GATT services): `EmulatedH10` (Heart Rate with the
  H10's flags ``0x10``, Battery, Device Information, Polar PMD with ECG and ACC, the H10's MTU rule,
  optional encryption-required control point, unsolicited "stopped"), `EmulatedGenericStrap`
  (flags ``0x16`` with contact loss, Energy Expended, RR batches, no PMD), `EmulatedOpticalSensor`
  (heart rate without RR) and `EmulatedAdvertiser` (a non-strap bystander for discovery tests).
  Their heartbeats, ECG and ACC come from the physiological model of `simulated.StrapModel`.
* Fault injection: `FaultPlan`, parsed from ``"disconnect-every=15s,stall-every=40s,…"``.
* `emulated_source` builds the whole world for ``--source emulated:h10|strap|optical``.

Time. A fake emits what its model measured during the next stretch of model time when
`EmulatedStrapBase.emit` (or `emit_second`) is awaited; nothing happens on its own. Tests call
it explicitly (deterministic, §8.4), the CLI runs `EmulatedStrapBase.run` which emits in real time
(or ``speed`` times faster). `VirtualClock` gives `BleStrap` a clock and a sleep that only move
when a test advances them, so back-off and the watchdog need no waiting.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
import re
import time
import zlib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, fields
from types import TracebackType
from typing import Any, Final, Literal, Self

import numpy as np
import numpy.typing as npt

from pet_biofeedback.errors import ConfigError, DecodeError

try:
    from bumble import att, core, hci
    from bumble.controller import Controller
    from bumble.core import UUID, AdvertisingData
    from bumble.device import Connection, Device
    from bumble.gatt import Characteristic, CharacteristicValue, Service
    from bumble.host import Host
    from bumble.link import LocalLink
    from bumble.pairing import PairingConfig, PairingDelegate
    from bumble.profiles.battery_service import BatteryService
    from bumble.profiles.device_information_service import DeviceInformationService
    from bumble.transport.common import AsyncPipeSink

    from pet_biofeedback.firmware_bridge._bumble_backend import (
        BumbleClientBackend,
        BumbleRadio,
        BumbleScannerBackend,
    )
except ImportError as _exc:  # pragma: no cover - depends on the installed extras
    raise ConfigError(
        f"The emulated straps need the optional 'emulated' extra, which is not installed "
        f"({_exc}). Install it with: pip install 'pet-biofeedback[emulated]'",
        user_message=(
            "Emulated straps are not installed. Install them with: "
            "pip install 'pet-biofeedback[emulated]'"
        ),
    ) from _exc

from pet_biofeedback.firmware_bridge import hrs, pmd
from pet_biofeedback.firmware_bridge.ble import BleStrap, Clock, Sleep
from pet_biofeedback.firmware_bridge.sim_config import SimConfig
from pet_biofeedback.firmware_bridge.sim_model import SimChunk, StrapModel
from pet_biofeedback.firmware_bridge.sim_physiology import ACC_FS_HZ, ECG_FS_HZ

__all__ = [
    "BumbleClientBackend",
    "BumbleRadio",
    "BumbleScannerBackend",
    "CpWrite",
    "EmulatedAdvertiser",
    "EmulatedBleStrap",
    "EmulatedGenericStrap",
    "EmulatedH10",
    "EmulatedOpticalSensor",
    "EmulatedPeripheral",
    "EmulatedStrapBase",
    "EmulatedWorld",
    "FaultPlan",
    "HrNotification",
    "PmdFrameSent",
    "StrapKind",
    "VirtualClock",
    "emulated_source",
]

logger = logging.getLogger(__name__)

StrapKind = Literal["h10", "strap", "optical"]

# --- Device facts (ble-protocol.md) -------------------------------------------------------------

_ADVERTISING_INTERVAL_MS: Final = 20.0  # fast, so that scans on the virtual link take ms
_H10_FLAGS_RR: Final = 0x10  # RR present, no contact bit: the H10 (§2.3)
_FLAG_CONTACT_DETECTED: Final = 0x02
_FLAG_CONTACT_SUPPORTED: Final = 0x04
_FLAG_ENERGY_EXPENDED: Final = 0x08
_FLAG_RR: Final = 0x10
_RR_UNITS_PER_MS: Final = hrs.RR_UNITS_PER_S / 1000.0
_ENERGY_KJ_PER_BEAT: Final = 0.085  # ≈ 6 kJ/min at 70 bpm (light activity), plausible for EE
_ENERGY_MAX_KJ: Final = 0xFFFF  # saturates (§2.1)
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


def _address(index: int) -> str:
    """A distinct random static address (top two bits set) for peripheral `index`."""
    return f"D0:5A:00:00:{index // 256:02X}:{index % 256:02X}"


# --- Virtual time for tests ---------------------------------------------------------------------


class VirtualClock:
    """A monotonic clock and a sleep that move only when `advance` is awaited (tests, §8.4).

    Hand ``clock=vc`` and ``sleep=vc.sleep`` to `BleStrap`: its back-off and data watchdog then
    wait for the test instead of the wall clock.

    Parameters
    ----------
    start_s : float, default 0
        Initial reading, s.
    """

    def __init__(self, start_s: float = 0.0) -> None:
        self._now_s = float(start_s)
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._counter = itertools.count()

    def __call__(self) -> float:
        """The current reading, s."""
        return self._now_s

    @property
    def n_sleepers(self) -> int:
        """Sleeps currently waiting."""
        return sum(1 for _, _, f in self._waiters if not f.done())

    async def sleep(self, delay_s: float) -> None:
        """Wait until the clock has been advanced by `delay_s` (≤ 0: just yield)."""
        if delay_s <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (self._now_s + delay_s, next(self._counter), future))
        await future

    async def advance(self, dt_s: float) -> None:
        """Move the clock forward by `dt_s`, waking every sleep that ends on the way, in order.

        Parameters
        ----------
        dt_s : float
            Step, s (≥ 0).
        """
        if not dt_s >= 0:
            raise ConfigError(f"VirtualClock.advance: dt_s must be ≥ 0, got {dt_s!r}")
        target_s = self._now_s + dt_s
        while self._waiters and self._waiters[0][0] <= target_s:
            deadline_s, _, future = heapq.heappop(self._waiters)
            self._now_s = max(self._now_s, deadline_s)
            if not future.done():
                future.set_result(None)
                await _settle()
        self._now_s = target_s
        await _settle()


async def _settle(n_rounds: int = 8) -> None:
    """Let woken tasks run a few steps (they may sleep again within the same advance)."""
    for _ in range(n_rounds):
        await asyncio.sleep(0)


# --- Fault injection ----------------------------------------------------------------------------

_DURATION_RE: Final = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|min|m)?\s*$")
_DURATION_UNITS_S: Final = {"ms": 0.001, "s": 1.0, None: 1.0, "m": 60.0, "min": 60.0}
_FAULT_KEYS: Final = {
    "disconnect-every": "disconnect_every_s",
    "stall-every": "stall_every_s",
    "stall-for": "stall_for_s",
    "sensor-stop-every": "sensor_stop_every_s",
    "offline-for": "offline_for_s",
    "malformed-every": "malformed_every_s",
}


def _parse_duration_s(key: str, text: str) -> float:
    """``15s`` / ``500ms`` / ``2m`` → seconds (> 0), or ConfigError naming `key`."""
    match = _DURATION_RE.match(text)
    if match is None:
        raise ConfigError(f"fault '{key}': '{text}' is not a duration (examples: 15s, 500ms, 2m)")
    value_s = float(match.group(1)) * _DURATION_UNITS_S[match.group(2)]
    if not (math.isfinite(value_s) and value_s > 0):
        raise ConfigError(f"fault '{key}': the duration must be positive, got '{text}'")
    return value_s


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultPlan:
    """Faults an emulated strap injects, on its own model clock.

    Attributes
    ----------
    disconnect_every_s : float or None
        The strap drops the link (peer-initiated, reason "remote user terminated") every so
        many seconds while connected.
    stall_every_s : float or None
        Every so many seconds the strap stops notifying with the link up (the Linux /
        Raspberry Pi failure of §2.3) …
    stall_for_s : float, default 10
        … for this long, or until the link is dropped.
    sensor_stop_every_s : float or None
        An H10 stops its ECG stream by itself (``01 00`` on the CP) every so many seconds.
    offline_for_s : float, default 0
        After each disconnection the strap stays invisible (does not advertise) this long.
    malformed_every_s : float or None
        An extra malformed heart-rate packet every so many seconds.

    Raises
    ------
    ConfigError
        A value that is not a positive number (``offline_for_s`` may be 0).
    """

    disconnect_every_s: float | None = None
    stall_every_s: float | None = None
    stall_for_s: float = 10.0
    sensor_stop_every_s: float | None = None
    offline_for_s: float = 0.0
    malformed_every_s: float | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.name not in ("stall_for_s", "offline_for_s"):
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"FaultPlan.{f.name} must be a number of seconds, got {value!r}")
            minimum_ok = value >= 0 if f.name == "offline_for_s" else value > 0
            if not (math.isfinite(value) and minimum_ok):
                raise ConfigError(f"FaultPlan.{f.name} must be a positive duration, got {value!r}")

    @classmethod
    def parse(cls, spec: str) -> FaultPlan:
        """Parse ``"disconnect-every=15s,stall-every=40s,…"`` (empty: no faults).

        Parameters
        ----------
        spec : str
            Comma-separated ``key=duration`` items. Keys: ``disconnect-every``,
            ``stall-every``, ``stall-for``, ``sensor-stop-every``, ``offline-for``,
            ``malformed-every``. Durations: a number with ``ms``, ``s`` (default), ``m``/``min``.

        Returns
        -------
        FaultPlan

        Raises
        ------
        ConfigError
            An unknown or repeated key, an item without ``=``, or a bad duration; the message
            names the item and lists the valid keys.

        Examples
        --------
        >>> FaultPlan.parse("disconnect-every=15s,stall-every=1m").stall_every_s
        60.0
        """
        values: dict[str, float] = {}
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            key, sep, text = item.partition("=")
            key = key.strip().lower()
            if not sep:
                raise ConfigError(
                    f"fault '{item}' has no '=': write key=duration, e.g. disconnect-every=15s"
                )
            if key not in _FAULT_KEYS:
                raise ConfigError(
                    f"unknown fault '{key}'; valid faults: {', '.join(sorted(_FAULT_KEYS))}"
                )
            name = _FAULT_KEYS[key]
            if name in values:
                raise ConfigError(f"fault '{key}' is given twice")
            values[name] = _parse_duration_s(key, text)
        return cls(**values)

    @property
    def empty(self) -> bool:
        """No fault is scheduled."""
        return (
            self.disconnect_every_s is None
            and self.stall_every_s is None
            and self.sensor_stop_every_s is None
            and self.malformed_every_s is None
            and self.offline_for_s == 0
        )


# --- Logs of what the fakes did -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HrNotification:
    """A heart-rate notification a fake produced.

    Attributes
    ----------
    t_s : float
        Model time, s.
    payload : bytes
        The notification value.
    rr_ms : tuple of float
        RR intervals it carries, ms.
    delivered : bool
        Whether it was sent to a subscribed central (False: link down, not subscribed, stalled).
    connection_index : int
        Which connection of the fake it went to (1 = first), 0 when not delivered.
    """

    t_s: float
    payload: bytes
    rr_ms: tuple[float, ...]
    delivered: bool
    connection_index: int


@dataclass(frozen=True, slots=True)
class CpWrite:
    """A PMD control-point write that reached the emulated H10.

    Attributes
    ----------
    t_s : float
        Model time, s.
    payload : bytes
        The command.
    att_mtu : int
        The connection's ATT MTU at the time.
    connection_index : int
        Which connection of the fake it came on (1 = first).
    """

    t_s: float
    payload: bytes
    att_mtu: int
    connection_index: int


@dataclass(frozen=True, slots=True)
class PmdFrameSent:
    """A PMD data frame the emulated H10 produced.

    Attributes
    ----------
    t_s : float
        Model time of its last sample, s.
    measurement : pmd.MeasurementType
    n_samples : int
    delivered : bool
        Sent to a subscribed central.
    """

    t_s: float
    measurement: pmd.MeasurementType
    n_samples: int
    delivered: bool


# --- The world ----------------------------------------------------------------------------------


class EmulatedWorld:
    """A virtual radio with the emulated computer's central and the emulated peripherals.

    ``async with EmulatedWorld() as world:`` powers the peripherals created on it and starts
    their advertising; leaving it disconnects and powers everything off. Use a fresh world per
    test (§8.4).

    Parameters
    ----------
    att_mtu : int, default 247
        ATT MTU the central asks for after connecting (23: none; an H10 then refuses ECG).
    echo_reads : bool, default False
        Deliver reads of subscribed characteristics to their notification callback too, as
        BlueZ and CoreBluetooth do (ble-protocol.md §4.5).

    Attributes
    ----------
    scanner_cls, client_cls : type
        bleak backends bound to this world's central, for ``BleStrap(scanner_cls=…,
        client_cls=…)`` or `ble.scan`.
    """

    def __init__(self, *, att_mtu: int = 247, echo_reads: bool = False) -> None:
        if isinstance(att_mtu, bool) or not isinstance(att_mtu, int) or not 23 <= att_mtu <= 517:
            raise ConfigError(f"EmulatedWorld: att_mtu must be an integer 23–517, got {att_mtu!r}")
        self.link = LocalLink()  # type: ignore[no-untyped-call]  # bumble leaves it untyped
        self.radio = BumbleRadio(self.link)
        self.scanner_cls, self.client_cls = self.radio.backend_classes(
            att_mtu=att_mtu, echo_reads=echo_reads
        )
        self._peripherals: list[EmulatedPeripheral] = []
        self._open = False

    def _register(self, peripheral: EmulatedPeripheral) -> str:
        """Add a peripheral; return a fresh address for it."""
        self._peripherals.append(peripheral)
        return _address(len(self._peripherals))

    @property
    def peripherals(self) -> tuple[EmulatedPeripheral, ...]:
        """The peripherals on this world, in creation order."""
        return tuple(self._peripherals)

    def strap(self, identifier: str | None = None, **kwargs: Any) -> BleStrap:
        """A `BleStrap` wired to this world's backends (other arguments as for `BleStrap`)."""
        return BleStrap(
            identifier, scanner_cls=self.scanner_cls, client_cls=self.client_cls, **kwargs
        )

    async def __aenter__(self) -> Self:
        self._open = True
        for peripheral in self._peripherals:
            await peripheral.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._open = False
        try:
            for peripheral in self._peripherals:
                await peripheral.stop()
        finally:
            await self.radio.close()


class EmulatedPeripheral:
    """A Bumble device on an `EmulatedWorld` that advertises and accepts one connection.

    Parameters
    ----------
    world : EmulatedWorld
    name : str or None
        Advertised complete local name.
    service_uuids : iterable of str
        16-bit service UUIDs to advertise (hex, e.g. ``"180D"``).
    manufacturer_data : bytes, optional
        Manufacturer-specific data, company identifier (little endian) first.
    address : str, optional
        Its address; default a distinct one per world.
    """

    def __init__(
        self,
        world: EmulatedWorld,
        *,
        name: str | None,
        service_uuids: Iterable[str] = (),
        manufacturer_data: bytes | None = None,
        address: str | None = None,
    ) -> None:
        default_address = world._register(self)
        self.world = world
        self.name = name
        self.address = address or default_address
        controller = Controller(name or "peripheral", link=world.link, public_address=self.address)
        self.device = Device(
            name=name or "peripheral",
            address=hci.Address(self.address),
            host=Host(controller, AsyncPipeSink(controller)),
        )
        ad: list[tuple[int, bytes]] = [(AdvertisingData.FLAGS, b"\x06")]
        uuids = b"".join(bytes(UUID(u)) for u in service_uuids)
        if uuids:
            ad.append((AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS, uuids))
        if name:
            ad.append((AdvertisingData.COMPLETE_LOCAL_NAME, name.encode("utf-8")))
        if manufacturer_data is not None:
            ad.append((AdvertisingData.MANUFACTURER_SPECIFIC_DATA, manufacturer_data))
        self.device.advertising_data = bytes(AdvertisingData(ad))
        self.device.advertising_interval_min = _ADVERTISING_INTERVAL_MS
        self.device.advertising_interval_max = _ADVERTISING_INTERVAL_MS
        self.device.on(Device.EVENT_CONNECTION, self._on_connection)
        self.connection: Connection | None = None
        self.connection_count = 0
        #: What happened on the link, in order: ``"connected"``, ``"disconnected 0x13"``,
        #: ``"cp 03 00"`` (H10 control-point writes), ``"pairing"``.
        self.history: list[str] = []
        self.visible = True
        self._started = False
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle --

    async def start(self) -> None:
        """Power on and advertise (if visible)."""
        if self._started:
            return
        self._started = True
        await self.device.power_on()
        if self.visible:
            await self._advertise()

    async def stop(self) -> None:
        """Stop background tasks, drop the link, stop advertising, power off."""
        self._stopping = True
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks))
        if self.connection is not None:
            await self._disconnect_quietly()
        if self.device.is_advertising:
            await self.device.stop_advertising()
        if self.device.powered_on:
            await self.device.power_off()
        self._started = False
        self._stopping = False

    async def _advertise(self) -> None:
        """Start advertising if powered, unconnected and not already advertising."""
        if self.device.powered_on and self.connection is None and not self.device.is_advertising:
            await self.device.start_advertising(auto_restart=False)

    async def set_visible(self, visible: bool) -> None:
        """Advertise (when not connected) or stay invisible, e.g. out of range."""
        self.visible = visible
        if visible:
            await self._advertise()
        elif self.device.is_advertising:
            await self.device.stop_advertising()

    def _spawn(self, coroutine: Any) -> None:
        """Run a coroutine in a tracked task (cancelled on `stop`)."""
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        """Forget a finished background task; log its failure."""
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.debug("emulated %s: background task failed: %r", self.name, task.exception())

    # -- links --

    def _on_connection(self, connection: Connection) -> None:
        """A central connected."""
        self.connection = connection
        self.connection_count += 1
        self.history.append("connected")
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)
        logger.debug("emulated %s: connected (#%d)", self.name, self.connection_count)

    def _on_disconnection(self, reason: int) -> None:
        """The link dropped: forget per-connection state and advertise again."""
        self.connection = None
        self.history.append(f"disconnected 0x{reason:02X}")
        logger.debug("emulated %s: disconnected (reason 0x%02X)", self.name, reason)
        self._after_disconnection()
        if self.visible and not self._stopping:
            self._spawn(self._advertise())

    def _after_disconnection(self) -> None:
        """Hook for subclasses: forget per-connection state."""

    @property
    def is_connected(self) -> bool:
        """Whether a central is connected."""
        return self.connection is not None

    async def disconnect(self) -> None:
        """Drop the link from the peripheral side (remote user terminated, 0x13)."""
        await self._disconnect_quietly()

    async def _disconnect_quietly(self) -> None:
        """Disconnect if connected; a failure is only logged."""
        connection = self.connection
        if connection is None:
            return
        try:
            await connection.disconnect()
        except core.BaseBumbleError as exc:
            logger.debug("emulated %s: disconnect failed: %r", self.name, exc)


class EmulatedAdvertiser(EmulatedPeripheral):
    """A Bluetooth device that is not a strap (a bystander in discovery tests).

    Parameters
    ----------
    world : EmulatedWorld
    name : str or None, default "Kitchen Thermometer"
    service_uuids : iterable of str, default ("1809",)
        Health Thermometer by default.
    """

    def __init__(
        self,
        world: EmulatedWorld,
        *,
        name: str | None = "Kitchen Thermometer",
        service_uuids: Iterable[str] = ("1809",),
    ) -> None:
        super().__init__(world, name=name, service_uuids=service_uuids)


# --- Straps -------------------------------------------------------------------------------------


class EmulatedStrapBase(EmulatedPeripheral):
    """A heart-rate strap driven by `simulated.StrapModel`: HRS, Battery and Device Information.

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


# --- The CLI's emulated source ------------------------------------------------------------------


class EmulatedBleStrap(BleStrap):
    """A `BleStrap` that owns its `EmulatedWorld` and runs the fake strap in real time.

    Opening starts the world and the fake's `EmulatedStrapBase.run` loop, then opens the
    unmodified `BleStrap` on the Bumble backend; closing closes the strap first (so that the
    fake sees the STOPs and the disconnect), then stops the fake and the world.

    Parameters
    ----------
    world : EmulatedWorld
    fake : EmulatedStrapBase
        The strap on `world` to run.
    speed : float, default 1
        Model seconds per real second; the strap's clock and sleep are scaled to match.
    **kwargs
        Passed to `BleStrap` (``ecg``, ``acc``, ``reconnect``, ``timeouts``, …).
    """

    def __init__(
        self,
        world: EmulatedWorld,
        fake: EmulatedStrapBase,
        *,
        speed: float = 1.0,
        **kwargs: Any,
    ) -> None:
        if (
            isinstance(speed, bool)
            or not isinstance(speed, int | float)
            or not (math.isfinite(speed) and speed > 0)
        ):
            raise ConfigError(
                f"emulated straps run on a real-time virtual radio: speed must be a finite "
                f"positive number, got {speed!r}"
            )
        self.world = world
        self.fake = fake
        self._speed = float(speed)
        self._runner: asyncio.Task[None] | None = None

        def clock() -> float:
            """Model seconds: the monotonic clock × speed."""
            return time.monotonic() * self._speed

        async def sleep(delay_s: float) -> None:
            """Wait model seconds."""
            await asyncio.sleep(delay_s / self._speed)

        super().__init__(
            scanner_cls=world.scanner_cls,
            client_cls=world.client_cls,
            clock=clock,
            sleep=sleep,
            **kwargs,
        )

    async def __aenter__(self) -> Self:
        await self.world.__aenter__()
        self._runner = asyncio.create_task(
            self.fake.run(speed=self._speed), name=f"emulated {self.fake.name}"
        )
        try:
            return await super().__aenter__()
        except BaseException:
            await self._stop_world()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await super().__aexit__(exc_type, exc, tb)
        finally:
            await self._stop_world()

    async def _stop_world(self) -> None:
        """Stop the fake's real-time loop and the world."""
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            await asyncio.wait({runner})
            if not runner.cancelled() and runner.exception() is not None:
                logger.warning("the emulated strap stopped: %r", runner.exception())
        await self.world.__aexit__(None, None, None)


_KINDS: Final = ("h10", "strap", "optical")


def emulated_source(
    kind: StrapKind,
    *,
    faults: FaultPlan | str | None = None,
    seed: int = 0,
    speed: float = 1.0,
    **kwargs: Any,
) -> BleStrap:
    """Build an emulated strap on its own virtual radio, read through the real BLE code.

    Parameters
    ----------
    kind : {"h10", "strap", "optical"}
        `EmulatedH10`, `EmulatedGenericStrap` or `EmulatedOpticalSensor`.
    faults : FaultPlan or str, optional
        Faults to inject, e.g. ``"disconnect-every=15s,stall-every=40s"`` (`FaultPlan.parse`).
    seed : int, default 0
        Seed of the physiological model.
    speed : float, default 1
        Model seconds per real second (finite).
    **kwargs
        Passed to `BleStrap` (``ecg``, ``acc``, ``reconnect``, ``timeouts``, ``queue_size``).

    Returns
    -------
    BleStrap
        An `EmulatedBleStrap`: ``async with`` it like any source.

    Raises
    ------
    ConfigError
        Unknown `kind`, a bad fault spec, seed or speed.
    """
    if kind not in _KINDS:
        raise ConfigError(f"unknown emulated strap '{kind}'; choose one of {', '.join(_KINDS)}")
    plan = FaultPlan.parse(faults) if isinstance(faults, str) else faults
    if plan is not None and plan.sensor_stop_every_s is not None and kind != "h10":
        raise ConfigError("fault 'sensor-stop-every' needs an H10 (only it has PMD streams)")
    world = EmulatedWorld()
    fake: EmulatedStrapBase
    if kind == "h10":
        fake = EmulatedH10(world, seed=seed, faults=plan)
    elif kind == "strap":
        fake = EmulatedGenericStrap(world, seed=seed, faults=plan)
    else:
        fake = EmulatedOpticalSensor(world, seed=seed, faults=plan)
    return EmulatedBleStrap(world, fake, speed=speed, **kwargs)
