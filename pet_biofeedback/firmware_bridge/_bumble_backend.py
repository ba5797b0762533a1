"""A bleak backend over Bumble's in-process virtual radio (ble-protocol.md §8.3).

bleak's public ``backend=`` hook accepts subclasses of `BaseBleakScanner` and `BaseBleakClient`.
These two drive a Bumble `Device` acting as the central on a `bumble.link.LocalLink`, so that the
unmodified `pet_biofeedback.firmware_bridge.ble` talks to emulated straps on the same link through
the real bleak facade (UUID normalisation, characteristic resolution, callback wrapping,
``disconnected_callback(client)``, context managers).

bleak constructs backends itself with fixed arguments, so a backend cannot be handed its radio
at construction. `BumbleRadio.backend_classes` therefore returns subclasses bound to one radio
(the "registry" of the shared central per link is the radio object itself; there is no module
state). Imported only with the ``emulated`` extra installed (it needs bumble).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, ClassVar, Final

from bleak.args import SizedBuffer
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bleak.uuids import normalize_uuid_str
from bumble import att, core, hci
from bumble.controller import Controller
from bumble.core import AdvertisingData
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.gatt import Characteristic
from bumble.gatt_client import CharacteristicProxy, ServiceProxy
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

__all__ = ["BumbleClientBackend", "BumbleRadio", "BumbleScannerBackend"]

logger = logging.getLogger(__name__)

#: Address of the emulated computer's Bluetooth controller (a random static address).
CENTRAL_ADDRESS: Final = "C0:FF:EE:00:00:01"
#: ATT MTU the central asks for after connecting: what BlueZ, CoreBluetooth and WinRT negotiate.
DEFAULT_ATT_MTU: Final = 247
_ATT_DEFAULT_MTU: Final = 23  # no exchange at all
_ADDRESS_SCAN_S: Final = 5.0  # a client given a bare address scans this long for it

_PROPERTY_NAMES: Final = (
    (Characteristic.Properties.BROADCAST, "broadcast"),
    (Characteristic.Properties.READ, "read"),
    (Characteristic.Properties.WRITE_WITHOUT_RESPONSE, "write-without-response"),
    (Characteristic.Properties.WRITE, "write"),
    (Characteristic.Properties.NOTIFY, "notify"),
    (Characteristic.Properties.INDICATE, "indicate"),
    (Characteristic.Properties.AUTHENTICATED_SIGNED_WRITES, "authenticated-signed-writes"),
    (Characteristic.Properties.EXTENDED_PROPERTIES, "extended-properties"),
)
_SERVICE_UUID_TYPES: Final = (
    AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
)
_SERVICE_DATA_TYPES: Final = (
    (AdvertisingData.SERVICE_DATA_16_BIT_UUID, 2),
    (AdvertisingData.SERVICE_DATA_32_BIT_UUID, 4),
    (AdvertisingData.SERVICE_DATA_128_BIT_UUID, 16),
)
_UUID_WIDTHS: Final = {
    AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS: 2,
    AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS: 2,
    AdvertisingData.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS: 4,
    AdvertisingData.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS: 4,
    AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS: 16,
    AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS: 16,
}


def bleak_uuid(uuid: core.UUID) -> str:
    """A Bumble UUID as bleak spells it: 128-bit, lower case, with dashes."""
    return normalize_uuid_str(uuid.to_hex_str("-"))


def _uuid_from_le_bytes(data: bytes) -> str:
    """A little-endian 16/32/128-bit UUID from advertising data, as bleak spells it."""
    return bleak_uuid(core.UUID.from_bytes(data))


def advertisement_data(adv: Advertisement) -> AdvertisementData:
    """Translate a Bumble advertisement report into bleak's `AdvertisementData`."""
    data = adv.data
    names = data.get_all(AdvertisingData.COMPLETE_LOCAL_NAME, raw=True) or data.get_all(
        AdvertisingData.SHORTENED_LOCAL_NAME, raw=True
    )
    local_name = names[0].decode("utf-8", errors="replace") if names else None
    manufacturer_data: dict[int, bytes] = {}
    for raw in data.get_all(AdvertisingData.MANUFACTURER_SPECIFIC_DATA, raw=True):
        if len(raw) >= 2:
            manufacturer_data[int.from_bytes(raw[:2], "little")] = bytes(raw[2:])
    service_uuids: list[str] = []
    for type_id in _SERVICE_UUID_TYPES:
        width = _UUID_WIDTHS[type_id]
        for raw in data.get_all(type_id, raw=True):
            service_uuids.extend(
                _uuid_from_le_bytes(raw[i : i + width])
                for i in range(0, len(raw) - width + 1, width)
            )
    service_data: dict[str, bytes] = {}
    for type_id, width in _SERVICE_DATA_TYPES:
        for raw in data.get_all(type_id, raw=True):
            if len(raw) >= width:
                service_data[_uuid_from_le_bytes(raw[:width])] = bytes(raw[width:])
    tx_power_raw = data.get_all(AdvertisingData.TX_POWER_LEVEL, raw=True)
    tx_power = int.from_bytes(tx_power_raw[0][:1], "little", signed=True) if tx_power_raw else None
    return AdvertisementData(
        local_name=local_name,
        manufacturer_data=manufacturer_data,
        service_data=service_data,
        service_uuids=service_uuids,
        tx_power=tx_power,
        rssi=int(adv.rssi),
        platform_data=(adv,),
    )


class BumbleRadio:
    """The emulated computer's Bluetooth controller on one `LocalLink`, shared by all backends.

    Parameters
    ----------
    link : bumble.link.LocalLink
        The virtual radio the emulated straps are on.
    address : str, default `CENTRAL_ADDRESS`
        The central's (random static) address.
    """

    def __init__(self, link: LocalLink, *, address: str = CENTRAL_ADDRESS) -> None:
        self.link = link
        controller = Controller("central", link=link, public_address=address)
        self.device = Device(
            name="pet-biofeedback central",
            address=hci.Address(address),
            host=Host(controller, AsyncPipeSink(controller)),
        )
        self._power_lock = asyncio.Lock()
        self._scanners = 0

    async def central(self) -> Device:
        """The powered-on central `Device`."""
        async with self._power_lock:
            if not self.device.powered_on:
                await self.device.power_on()
        return self.device

    async def start_scanning(self) -> Device:
        """Start scanning (shared by all scanner backends; counted)."""
        central = await self.central()
        self._scanners += 1
        if self._scanners == 1:
            await central.start_scanning(filter_duplicates=False)
        return central

    async def stop_scanning(self) -> None:
        """Stop scanning once the last scanner backend stopped."""
        self._scanners = max(self._scanners - 1, 0)
        if self._scanners == 0 and self.device.scanning:
            await self.device.stop_scanning()

    async def close(self) -> None:
        """Disconnect everything and power off."""
        for connection in list(self.device.connections.values()):
            try:
                await connection.disconnect()
            except core.BaseBumbleError as exc:
                logger.debug("central disconnect at close failed: %s", exc)
        if self.device.scanning:
            await self.device.stop_scanning()
        if self.device.powered_on:
            await self.device.power_off()

    def backend_classes(
        self, *, att_mtu: int = DEFAULT_ATT_MTU, echo_reads: bool = False
    ) -> tuple[type[BumbleScannerBackend], type[BumbleClientBackend]]:
        """bleak backend classes bound to this radio, for ``backend=``.

        Parameters
        ----------
        att_mtu : int, default 247
            ATT MTU the client asks for after connecting; 23 = no MTU exchange (the path on
            which an H10 refuses ECG, ble-protocol.md §4.1).
        echo_reads : bool, default False
            Also deliver the value of a read of a subscribed characteristic to its notification
            callback, as BlueZ (``StartNotify``) and CoreBluetooth do (§4.5).

        Returns
        -------
        (scanner_cls, client_cls)
        """
        radio = self

        class _Scanner(BumbleScannerBackend):
            """Scanner backend bound to this radio."""

            _radio = radio

        class _Client(BumbleClientBackend):
            """Client backend bound to this radio."""

            _radio = radio
            _att_mtu = att_mtu
            _echo_reads = echo_reads

        _Scanner.__name__ = _Scanner.__qualname__ = "BumbleScannerBackend"
        _Client.__name__ = _Client.__qualname__ = "BumbleClientBackend"
        return _Scanner, _Client


class BumbleScannerBackend(BaseBleakScanner):
    """bleak scanner backend listening on a `BumbleRadio` (use `BumbleRadio.backend_classes`)."""

    _radio: ClassVar[BumbleRadio]

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._listening: Device | None = None

    async def start(self) -> None:
        """Power on the shared central and report advertisements."""
        self.seen_devices = {}
        central = await self._radio.start_scanning()
        central.on(Device.EVENT_ADVERTISEMENT, self._on_advertisement)
        self._listening = central

    async def stop(self) -> None:
        """Stop reporting advertisements."""
        central, self._listening = self._listening, None
        if central is not None:
            central.remove_listener(Device.EVENT_ADVERTISEMENT, self._on_advertisement)
            await self._radio.stop_scanning()

    def _on_advertisement(self, adv: Advertisement) -> None:
        """Report one advertisement to bleak (service-UUID filter applied)."""
        data = advertisement_data(adv)
        if not self.is_allowed_uuid(data.service_uuids):
            return
        address = adv.address.to_string(False)
        device = self.create_or_update_device(address, address, data.local_name, adv.address, data)
        self.call_detection_callbacks(device, data)


class BumbleClientBackend(BaseBleakClient):
    """bleak client backend connecting through a `BumbleRadio` (use `backend_classes`)."""

    _radio: ClassVar[BumbleRadio]
    _att_mtu: ClassVar[int] = DEFAULT_ATT_MTU
    _echo_reads: ClassVar[bool] = False

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None,
        services: set[str] | None = None,
        timeout: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        self._peer_address: hci.Address | None = None
        self._device_name: str | None = None
        if isinstance(address_or_ble_device, BLEDevice):
            details = address_or_ble_device.details
            self._peer_address = details if isinstance(details, hci.Address) else None
            self._device_name = address_or_ble_device.name
        self._services_filter = services
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._mtu = _ATT_DEFAULT_MTU
        self._subscribers: dict[int, Callable[[bytes], None]] = {}

    # -- properties --

    @property
    def name(self) -> str:
        """The advertised name, or the address."""
        return self._device_name or self.address

    @property
    def mtu_size(self) -> int:
        """The ATT MTU of the connection."""
        return self._mtu

    @property
    def is_connected(self) -> bool:
        """Whether the link is up."""
        return self._connection is not None

    # -- connection --

    async def _resolve_address(self) -> hci.Address:
        """The Bumble address to connect to; scan for it when given a bare string."""
        if self._peer_address is not None:
            return self._peer_address
        wanted = self.address.upper()
        scanner = type(self)._scanner_for_lookup()
        found: asyncio.Future[hci.Address] = asyncio.get_running_loop().create_future()

        def on_device(device: BLEDevice, _adv: AdvertisementData) -> None:
            """Resolve the future with the first advertisement of the wanted address."""
            if device.address.upper() == wanted and not found.done():
                found.set_result(device.details)

        scanner.register_detection_callback(on_device)
        await scanner.start()
        try:
            async with asyncio.timeout(min(self._timeout, _ADDRESS_SCAN_S)):
                return await found
        except TimeoutError:
            raise BleakDeviceNotFoundError(
                self.address, f"Device with address {self.address} was not found."
            ) from None
        finally:
            await scanner.stop()

    @classmethod
    def _scanner_for_lookup(cls) -> BumbleScannerBackend:
        """A scanner backend on the same radio (for `_resolve_address`)."""
        radio = cls._radio

        class _Lookup(BumbleScannerBackend):
            """A scanner on the same radio."""

            _radio = radio

        return _Lookup(None, None)

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        """Connect, exchange the MTU, discover the services; pair first if asked."""
        if self._connection is not None:
            raise BleakError("Client is already connected")
        address = await self._resolve_address()
        central = await self._radio.central()
        try:
            connection = await central.connect(address, timeout=self._timeout)
        except core.TimeoutError as exc:
            raise TimeoutError(f"connecting to {self.address} timed out") from exc
        except core.BaseBumbleError as exc:
            raise BleakError(f"connection to {self.address} failed: {exc}") from exc
        except asyncio.CancelledError:
            await _cancel_pending_connection(central)
            raise
        self._connection = connection
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)
        try:
            async with asyncio.timeout(self._timeout):
                if pair:
                    await connection.pair()
                peer = Peer(connection)
                self._peer = peer
                if self._att_mtu > _ATT_DEFAULT_MTU:
                    self._mtu = await peer.request_mtu(self._att_mtu)
                self.services = await self._discover(peer)
        except BaseException:
            if self._connection is not None:
                await self._disconnect_quietly()
            raise

    async def _discover(self, peer: Peer) -> BleakGATTServiceCollection:
        """Discover services, characteristics and descriptors into bleak's collection."""
        collection = BleakGATTServiceCollection()
        proxies: list[ServiceProxy] = await self._call(peer.discover_services())
        for proxy in proxies:
            service_uuid = bleak_uuid(proxy.uuid)
            if self._services_filter is not None and service_uuid not in self._services_filter:
                continue
            service = BleakGATTService(proxy, proxy.handle, service_uuid)
            collection.add_service(service)
            characteristics: list[CharacteristicProxy[bytes]] = await self._call(
                peer.discover_characteristics(service=proxy)
            )
            for char_proxy in characteristics:
                properties = [
                    name for flag, name in _PROPERTY_NAMES if char_proxy.properties & flag
                ]
                characteristic = BleakGATTCharacteristic(
                    char_proxy,
                    char_proxy.handle,
                    bleak_uuid(char_proxy.uuid),
                    properties,  # type: ignore[arg-type]  # bleak's Literal names, built above
                    lambda: self._mtu - 3,
                    service,
                )
                collection.add_characteristic(characteristic)
                for desc_proxy in await self._call(peer.discover_descriptors(char_proxy)):
                    collection.add_descriptor(
                        BleakGATTDescriptor(
                            desc_proxy,
                            desc_proxy.handle,
                            bleak_uuid(desc_proxy.type),
                            characteristic,
                        )
                    )
        return collection

    def _on_disconnection(self, reason: int) -> None:
        """Bumble's disconnection event: drop the link, tell bleak."""
        logger.debug("emulated link to %s down (reason 0x%02X)", self.address, reason)
        self._connection = None
        self._peer = None
        self._subscribers.clear()
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    async def _disconnect_quietly(self) -> None:
        """Disconnect if connected; Bumble errors are only logged."""
        connection = self._connection
        if connection is None:
            return
        try:
            await connection.disconnect()
        except core.BaseBumbleError as exc:
            logger.debug("disconnect failed: %s", exc)

    async def disconnect(self) -> None:
        """Disconnect (a no-op when the link is already down)."""
        await self._disconnect_quietly()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Pair (LE Just Works over the virtual link)."""
        connection = self._require_connection()
        await self._call(connection.pair())

    async def unpair(self) -> None:
        """Not offered by the emulated radio (nothing is bonded across connections)."""
        raise NotImplementedError("unpair is not supported by the emulated Bluetooth backend")

    # -- GATT --

    def _require_connection(self) -> Connection:
        """The connection, or BleakError('Not connected')."""
        if self._connection is None:
            raise BleakError("Not connected")
        return self._connection

    def _require_peer(self) -> Peer:
        """The GATT peer, or BleakError('Not connected')."""
        if self._peer is None or self._connection is None:
            raise BleakError("Not connected")
        return self._peer

    async def _call(self, awaitable: Any) -> Any:
        """Await a Bumble GATT operation; map its errors to what a real bleak backend raises.

        Bumble cancels a pending request when the link drops: that `CancelledError` is not a
        cancellation of our task, so it becomes a `BleakError` (unless our task *is* being
        cancelled, which must propagate).
        """
        try:
            return await awaitable
        except att.ATT_Error as exc:
            raise BleakGATTProtocolError(exc.error_code) from exc
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            raise BleakError("Not connected: the link was lost during the operation") from None
        except core.TimeoutError as exc:
            raise TimeoutError(str(exc)) from exc
        except core.BaseBumbleError as exc:
            raise BleakError(str(exc)) from exc

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """Read a characteristic value."""
        peer = self._require_peer()
        value = bytes(await self._call(peer.read_value(characteristic.obj)))
        subscriber = self._subscribers.get(characteristic.handle)
        if self._echo_reads and subscriber is not None:
            subscriber(value)  # what BlueZ StartNotify / CoreBluetooth do (§4.5)
        return bytearray(value)

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """Read a descriptor value."""
        peer = self._require_peer()
        return bytearray(await self._call(peer.read_value(descriptor.obj)))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        """Write a characteristic value (ATT errors → `BleakGATTProtocolError`)."""
        peer = self._require_peer()
        await self._call(peer.write_value(characteristic.obj, bytes(data), with_response=response))

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        """Write a descriptor value."""
        peer = self._require_peer()
        await self._call(peer.write_value(descriptor.obj, bytes(data), with_response=True))

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        """Enable notifications (preferred) or indications."""
        peer = self._require_peer()

        def subscriber(value: bytes) -> None:
            """Hand the value to bleak as a bytearray."""
            callback(bytearray(value))

        self._subscribers[characteristic.handle] = subscriber
        try:
            await self._call(
                peer.subscribe(
                    characteristic.obj,
                    subscriber,
                    prefer_notify="notify" in characteristic.properties,
                )
            )
        except BaseException:
            self._subscribers.pop(characteristic.handle, None)
            raise

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        """Disable notifications/indications."""
        peer = self._require_peer()
        subscriber = self._subscribers.pop(characteristic.handle, None)
        await self._call(peer.unsubscribe(characteristic.obj, subscriber))


async def _cancel_pending_connection(central: Device) -> None:
    """After an abandoned connect, cancel the controller's pending connection attempt."""
    try:
        await central.send_sync_command(hci.HCI_LE_Create_Connection_Cancel_Command())
    except core.BaseBumbleError as exc:
        logger.debug("cancelling the pending connection failed: %s", exc)
