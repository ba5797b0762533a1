"""The virtual radio: `EmulatedWorld` and the peripherals on it (ble-protocol.md §8.3, §8.4).

`EmulatedWorld` is one `bumble.link.LocalLink` (the "radio"), the emulated computer's central
(`_bumble_backend.BumbleRadio`) and the bleak backend classes bound to it
(``world.scanner_cls``, ``world.client_cls``), plus the peripherals on the link.
`EmulatedPeripheral` is a Bumble `Device` that advertises and accepts one connection;
`EmulatedAdvertiser` a non-strap bystander for discovery tests. The straps themselves are in
`emulated_straps` and `emulated_h10`. Needs the ``emulated`` extra (Bumble).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Final, Self

from pet_biofeedback.errors import ConfigError
from pet_biofeedback.firmware_bridge.emulated_harness import missing_extra_error

try:
    from bumble import core, hci
    from bumble.controller import Controller
    from bumble.core import UUID, AdvertisingData
    from bumble.device import Connection, Device
    from bumble.host import Host
    from bumble.link import LocalLink
    from bumble.transport.common import AsyncPipeSink

    from pet_biofeedback.firmware_bridge._bumble_backend import BumbleRadio
except ImportError as _exc:  # pragma: no cover - depends on the installed extras
    raise missing_extra_error(_exc) from _exc


from pet_biofeedback.firmware_bridge.ble import BleStrap

logger = logging.getLogger(__name__)

# --- Device facts (ble-protocol.md) -------------------------------------------------------------

_ADVERTISING_INTERVAL_MS: Final = 20.0  # fast, so that scans on the virtual link take ms


def _address(index: int) -> str:
    """A distinct random static address (top two bits set) for peripheral `index`."""
    return f"D0:5A:00:00:{index // 256:02X}:{index % 256:02X}"


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
        client_cls=…)`` or `ble_scan.scan`.
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
