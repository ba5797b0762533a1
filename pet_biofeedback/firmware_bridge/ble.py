"""Heart-rate straps over Bluetooth Low Energy: the one module that imports bleak.

`BleStrap` is an event source (style.md §2.8, `pet_biofeedback.events.EventSource`): ``async with
strap:`` scans for the strap, connects, reads battery and device information, subscribes to heart
rate and — on a Polar H10, when asked — starts the PMD ECG (and ACC) streams; ``async for event in
strap:`` yields `RawNotification`, `HeartRate`, `RRIntervals`, `Contact`, `Battery`, `EcgFrame`,
`AccFrame`, `Link` and `Gap` events in arrival order. A supervisor watches the link (bleak's
disconnected callback **and** a data watchdog), reconnects with exponential back-off, re-subscribes
and re-STARTs the streams, and reports every state change as a `Link` event. Leaving the ``async
with`` block — normally, by ``break``, by cancellation or by an error — STOPs every started PMD
stream, unsubscribes and disconnects, each step under a timeout (ble-protocol.md §4.14, §6).

`scan` lists the straps nearby (``pet-biofeedback scan``).

Rules this module keeps (ble-protocol.md):

* Notification callbacks only stamp the host time and queue the raw bytes; decoding happens on the
  iterator side (style.md §2.8). The raw bytes are also yielded as `RawNotification` so that a
  recording can be re-decoded. The queue is bounded for data (``queue_size``); on overflow
  notifications are dropped, counted and marked by a `Gap`.
* PMD order of operations (§4.1): subscribe to heart rate; enable CP indications and data
  notifications **before** any CP write; read the features; GET settings; START (ECG first, then
  ACC); one CP command at a time, each answered by an ``F0`` indication (§4.4–§4.5).
* A CP write refused for lack of encryption (ATT 0x05/0x0F) → pair → retry once (§4.14). START
  status 10 (INVALID_MTU) → ECG unavailable, heart rate continues. The sensor stopping a stream by
  itself (``01 …``) → restart it once per connection, then report. bleak cannot request an ATT MTU
  (the operating system negotiates it, §4.1, §5.2), so the MTU shows only in the START status.
* Everything bleak raises is translated here into `pet_biofeedback.errors` (`translate_error`);
  nothing from bleak leaves this module.

Times: every event's ``t`` is seconds since the strap was opened, on the injected monotonic
``clock``. `RRIntervals.t` is the reconstructed time of the **last** beat of the packet
(`RrBeatClock`, §2.4), never later than the packet's arrival; `EcgFrame`/`AccFrame` times come
from `pmd.PmdClock` (§4.8).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import functools
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType
from typing import Final, Self, TypeAlias

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakDBusError,
    BleakDeviceNotFoundError,
    BleakError,
    BleakGATTProtocolError,
)

from pet_biofeedback.errors import (
    BluetoothUnavailableError,
    BluetoothUnavailableReason,
    ConfigError,
    ConnectionLostError,
    DecodeError,
    DeviceBusyError,
    DeviceError,
    DeviceNotFoundError,
    PairingRequiredError,
    PmdCommandError,
)
from pet_biofeedback.events import (
    AccFrame,
    Battery,
    Contact,
    EcgFrame,
    Event,
    Gap,
    HeartRate,
    Link,
    LinkState,
    RawNotification,
    RRIntervals,
)
from pet_biofeedback.firmware_bridge import hrs, pmd
from pet_biofeedback.firmware_bridge.beat_clock import RrBeatClock

__all__ = [
    "CP_READ_KEY",
    "CP_WRITE_KEY",
    "POLAR_COMPANY_ID",
    "POLAR_NAME_PREFIX",
    "BleStats",
    "BleStrap",
    "BleTimeouts",
    "Clock",
    "DeviceInfo",
    "FoundStrap",
    "ReconnectPolicy",
    "RrBeatClock",
    "Sleep",
    "is_strap_advertisement",
    "scan",
    "translate_error",
]

logger = logging.getLogger(__name__)

Clock: TypeAlias = Callable[[], float]
"""A monotonic clock in seconds (default `time.monotonic`)."""
Sleep: TypeAlias = Callable[[float], Awaitable[None]]
"""How to wait a number of seconds (default `asyncio.sleep`; tests inject a virtual clock's)."""

# --- Constants (ble-protocol.md) ----------------------------------------------------------------

#: Bluetooth SIG company identifier of Polar Electro (manufacturer data ``6B 00``, §1).
POLAR_COMPANY_ID: Final = 0x006B
#: Polar sensors advertise "Polar H10 1A2B3C4D", "Polar OH1 …", "Polar Sense …" (§1).
POLAR_NAME_PREFIX: Final = "Polar "
#: `RawNotification.characteristic` for a CP write / CP read we made (§4.6). The events carry no
#: direction, and a write ``01 00`` (GET ECG settings) would read as an unsolicited "stopped" if it
#: were recorded under the bare CP UUID.
CP_WRITE_KEY: Final = f"{pmd.PMD_CONTROL_POINT_UUID}/write"
CP_READ_KEY: Final = f"{pmd.PMD_CONTROL_POINT_UUID}/read"

# What we ask an H10 for (§4.3): ECG 130 Hz / 14 bit; ACC 200 Hz / 16 bit / ±8 g.
_WANTED_SETTINGS: Final[Mapping[pmd.MeasurementType, Mapping[pmd.SettingType, int]]] = (
    MappingProxyType(
        {
            pmd.MeasurementType.ECG: MappingProxyType(
                {pmd.SettingType.SAMPLE_RATE: 130, pmd.SettingType.RESOLUTION: 14}
            ),
            pmd.MeasurementType.ACC: MappingProxyType(
                {
                    pmd.SettingType.SAMPLE_RATE: 200,
                    pmd.SettingType.RESOLUTION: 16,
                    pmd.SettingType.RANGE: 8,
                }
            ),
        }
    )
)
_STREAM_NAMES: Final[Mapping[pmd.MeasurementType, str]] = MappingProxyType(
    {pmd.MeasurementType.ECG: "ECG", pmd.MeasurementType.ACC: "motion"}
)
# ATT errors that mean "encrypt/pair first" (§4.14): 0x05 insufficient authentication, 0x08
# insufficient authorization, 0x0C encryption key size, 0x0F insufficient encryption.
_PAIRING_ATT_ERRORS: Final = frozenset({0x05, 0x08, 0x0C, 0x0F})
_DIS_FIELDS: Final = (
    ("manufacturer", hrs.MANUFACTURER_NAME_UUID),
    ("model", hrs.MODEL_NUMBER_UUID),
    ("serial_number", hrs.SERIAL_NUMBER_UUID),
    ("hardware_revision", hrs.HARDWARE_REVISION_UUID),
    ("firmware_revision", hrs.FIRMWARE_REVISION_UUID),
    ("software_revision", hrs.SOFTWARE_REVISION_UUID),
)
_DEFAULT_QUEUE_SIZE: Final = 2048  # ≈ 4 min of H10 HR + ECG + ACC notifications (~9/s)


# --- Settings and results -----------------------------------------------------------------------


def _check_positive(owner: str, name: str, value: float | None, *, allow_none: bool) -> None:
    """ConfigError unless `value` is a finite number > 0 (or None when allowed)."""
    if value is None and allow_none:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigError(f"{owner}: {name} must be a positive number of seconds, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class BleTimeouts:
    """Timeouts of the Bluetooth operations, s (ble-protocol.md §6 rule 9).

    Attributes
    ----------
    scan_s : float, default 10
        How long to look for the strap before "not found".
    connect_s : float, default 20
        Connecting, including service discovery.
    gatt_s : float, default 10
        Each read, write and (un)subscription.
    cp_response_s : float, default 10
        Waiting for the ``F0`` answer to a PMD command (bleakheart 10 s, the SDK 30 s).
    stop_s : float, default 5
        Each clean-up step: STOP, unsubscribe, disconnect.
    pair_s : float, default 30
        Pairing (a system prompt may be waiting for a person).

    Raises
    ------
    ConfigError
        A value that is not a finite positive number.
    """

    scan_s: float = 10.0
    connect_s: float = 20.0
    gatt_s: float = 10.0
    cp_response_s: float = 10.0
    stop_s: float = 5.0
    pair_s: float = 30.0

    def __post_init__(self) -> None:
        for name in ("scan_s", "connect_s", "gatt_s", "cp_response_s", "stop_s", "pair_s"):
            _check_positive("BleTimeouts", name, getattr(self, name), allow_none=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconnectPolicy:
    """How the supervisor notices a dead link and how it tries again (ble-protocol.md §6).

    Attributes
    ----------
    watchdog_s : float, default 5
        No heart-rate notification for this long while connected counts as a dead link
        (notifications can stop with the link up, §2.3).
    backoff_initial_s : float, default 1
        Wait before the first reconnect attempt; doubled after every failed attempt …
    backoff_max_s : float, default 30
        … up to this.
    give_up_after_s : float or None, default None
        Stop trying after this long without a link: `Link` failed, then the matching
        `DeviceError` is raised to the consumer. None = never (sessions keep trying).

    Raises
    ------
    ConfigError
        A value that is not a finite positive number, or ``backoff_max_s < backoff_initial_s``.
    """

    watchdog_s: float = 5.0
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    give_up_after_s: float | None = None

    def __post_init__(self) -> None:
        for name in ("watchdog_s", "backoff_initial_s", "backoff_max_s"):
            _check_positive("ReconnectPolicy", name, getattr(self, name), allow_none=False)
        _check_positive("ReconnectPolicy", "give_up_after_s", self.give_up_after_s, allow_none=True)
        if self.backoff_max_s < self.backoff_initial_s:
            raise ConfigError(
                f"ReconnectPolicy: backoff_max_s ({self.backoff_max_s}) is below "
                f"backoff_initial_s ({self.backoff_initial_s})"
            )

    def backoff_s(self, attempt: int) -> float:
        """Wait before reconnect attempt `attempt` (1-based): 1, 2, 4, … capped, in s."""
        return float(min(self.backoff_initial_s * 2.0 ** max(attempt - 1, 0), self.backoff_max_s))


@dataclass(frozen=True, slots=True, kw_only=True)
class FoundStrap:
    """A strap seen by `scan`.

    Attributes
    ----------
    name : str or None
        Advertised local name (e.g. ``"Polar H10 1A2B3C4D"``), None when it sent none.
    address : str
        Bluetooth address (a per-computer UUID on macOS, §7). Personal-ish: log it at DEBUG only.
    rssi_dbm : int
        Received signal strength in dBm (closer to 0 = nearer).
    is_polar : bool
        A Polar sensor (name prefix or Polar manufacturer data, §1).
    has_heart_rate_service : bool
        Advertises the Heart Rate service ``0x180D``.
    """

    name: str | None
    address: str
    rssi_dbm: int
    is_polar: bool
    has_heart_rate_service: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceInfo:
    """What a connected strap told about itself (for the recording header).

    Attributes
    ----------
    name : str or None
        Advertised name.
    address : str
        Bluetooth address (DEBUG-level information, style.md §2.10).
    manufacturer, model, serial_number, hardware_revision, firmware_revision, software_revision
        Device Information strings; None when the strap does not offer them (all optional, §3).
    pmd_measurements : tuple of str
        PMD streams the strap offers (``("ECG", "ACC")`` on an H10); empty without PMD.
    """

    name: str | None
    address: str
    manufacturer: str | None = None
    model: str | None = None
    serial_number: str | None = None
    hardware_revision: str | None = None
    firmware_revision: str | None = None
    software_revision: str | None = None
    pmd_measurements: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class BleStats:
    """Counters of a `BleStrap` (a snapshot).

    Attributes
    ----------
    n_notifications : int
        Notifications received (all characteristics).
    n_dropped : int
        Notifications dropped because the consumer fell behind (each run marked by a `Gap`).
    n_hr_skipped : int
        Heart-rate packets that could not be decoded (yielded as `RawNotification` only).
    n_hr_ignored_bytes : int
        Trailing bytes ignored in otherwise valid heart-rate packets (§2.2).
    n_pmd_skipped : int
        PMD data frames that could not be decoded or belonged to no started stream.
    n_unknown_cp_messages : int
        Control-point messages that were neither a response, a "stopped" nor a feature echo.
    n_reconnects : int
        Successful reconnections.
    n_stream_restarts : int
        PMD streams restarted after the sensor stopped them.
    n_rr_reanchors : int
        Times the RR beat clock was re-anchored to the host clock (`RrBeatClock`).
    n_rr_gaps : int
        Lost beats found from time (`RrBeatClock`), each marked by a `Gap`.
    """

    n_notifications: int = 0
    n_dropped: int = 0
    n_hr_skipped: int = 0
    n_hr_ignored_bytes: int = 0
    n_pmd_skipped: int = 0
    n_unknown_cp_messages: int = 0
    n_reconnects: int = 0
    n_stream_restarts: int = 0
    n_rr_reanchors: int = 0
    n_rr_gaps: int = 0


# --- Error translation (style.md §2.5, ble-protocol.md §5.3) ------------------------------------

_NOT_AVAILABLE_REASONS: Final[
    Mapping[BleakBluetoothNotAvailableReason, BluetoothUnavailableReason]
] = MappingProxyType(
    {
        BleakBluetoothNotAvailableReason.NO_BLUETOOTH: BluetoothUnavailableReason.NO_ADAPTER,
        BleakBluetoothNotAvailableReason.NO_BLE_CENTRAL_ROLE: (
            BluetoothUnavailableReason.NO_ADAPTER
        ),
        BleakBluetoothNotAvailableReason.POWERED_OFF: BluetoothUnavailableReason.POWERED_OFF,
        BleakBluetoothNotAvailableReason.DENIED_BY_USER: (
            BluetoothUnavailableReason.PERMISSION_DENIED
        ),
        BleakBluetoothNotAvailableReason.DENIED_BY_SYSTEM: (
            BluetoothUnavailableReason.PERMISSION_DENIED
        ),
        BleakBluetoothNotAvailableReason.DENIED_BY_UNKNOWN: (
            BluetoothUnavailableReason.PERMISSION_DENIED
        ),
        BleakBluetoothNotAvailableReason.UNKNOWN: BluetoothUnavailableReason.UNKNOWN,
    }
)
# BlueZ D-Bus error names (ble-protocol.md §5.3, §7).
_DBUS_REASONS: Final[Mapping[str, BluetoothUnavailableReason]] = MappingProxyType(
    {
        "org.freedesktop.DBus.Error.AccessDenied": BluetoothUnavailableReason.PERMISSION_DENIED,
        "org.bluez.Error.NotAuthorized": BluetoothUnavailableReason.PERMISSION_DENIED,
        "org.bluez.Error.NotPermitted": BluetoothUnavailableReason.PERMISSION_DENIED,
        "org.freedesktop.DBus.Error.ServiceUnknown": BluetoothUnavailableReason.NO_STACK,
        "org.freedesktop.DBus.Error.NoServer": BluetoothUnavailableReason.NO_STACK,
        # BlueZ installed, its daemon not running: D-Bus fails to start it (Qt notes' table).
        "org.freedesktop.DBus.Error.Spawn.ChildExited": BluetoothUnavailableReason.NO_STACK,
        "org.bluez.Error.NotReady": BluetoothUnavailableReason.POWERED_OFF,
        "org.bluez.Error.NoSuchAdapter": BluetoothUnavailableReason.NO_ADAPTER,
    }
)
_DBUS_BUSY: Final = frozenset({"org.bluez.Error.InProgress"})
_DBUS_PAIRING: Final = frozenset(
    {
        "org.bluez.Error.AuthenticationFailed",
        "org.bluez.Error.AuthenticationCanceled",
        "org.bluez.Error.AuthenticationRejected",
        "org.bluez.Error.AuthenticationTimeout",
    }
)


def translate_error(
    exc: BaseException, *, context: str, identifier: str | None = None
) -> DeviceError:
    """Turn what bleak or the operating system raised into one of our `DeviceError` types.

    Parameters
    ----------
    exc : BaseException
        A `bleak.exc.BleakError` (any subclass), `OSError`, `TimeoutError` or
        `NotImplementedError` caught at the Bluetooth boundary.
    context : str
        What was being done, in plain words, e.g. ``"connecting to the strap"``.
    identifier : str, optional
        The address or name looked for (for `DeviceNotFoundError`).

    Returns
    -------
    DeviceError
        `BluetoothUnavailableError` (no adapter, no stack, switched off, permission denied),
        `DeviceNotFoundError`, `PairingRequiredError` (ATT 0x05/0x08/0x0C/0x0F or a BlueZ
        authentication error), `DeviceBusyError` (BlueZ "operation in progress"),
        `ConnectionLostError` (timeouts) or a plain `DeviceError`. The caller raises it
        ``from exc``.

    Notes
    -----
    No D-Bus socket (Linux without a running system bus, e.g. containers) arrives as a bare
    `FileNotFoundError`, not a `BleakError` (§5.3): it means "no Bluetooth stack".
    """
    detail = f"{context}: {type(exc).__name__}: {exc}"
    if isinstance(exc, BleakBluetoothNotAvailableError):
        return BluetoothUnavailableError(
            detail,
            reason=_NOT_AVAILABLE_REASONS.get(exc.reason, BluetoothUnavailableReason.UNKNOWN),
        )
    if isinstance(exc, BleakDeviceNotFoundError):
        return DeviceNotFoundError(detail, identifier=identifier or exc.identifier)
    if isinstance(exc, BleakGATTProtocolError):
        if int(exc.code) in _PAIRING_ATT_ERRORS:
            return PairingRequiredError(detail)
        return DeviceError(
            detail,
            user_message=(
                f"The strap refused a request while {context}. Reconnect; if it keeps "
                "happening, take the sensor off the strap for a minute and try again."
            ),
        )
    if isinstance(exc, BleakDBusError):
        name = exc.dbus_error
        if name in _DBUS_REASONS:
            return BluetoothUnavailableError(detail, reason=_DBUS_REASONS[name])
        if name in _DBUS_BUSY:
            return DeviceBusyError(detail)
        if name in _DBUS_PAIRING:
            return PairingRequiredError(detail)
    if isinstance(exc, FileNotFoundError | ConnectionRefusedError):
        return BluetoothUnavailableError(detail, reason=BluetoothUnavailableReason.NO_STACK)
    if isinstance(exc, PermissionError):
        return BluetoothUnavailableError(
            detail, reason=BluetoothUnavailableReason.PERMISSION_DENIED
        )
    if isinstance(exc, OSError) and exc.errno == errno.ENODEV:
        return BluetoothUnavailableError(detail, reason=BluetoothUnavailableReason.NO_ADAPTER)
    if isinstance(exc, TimeoutError):
        return ConnectionLostError(
            detail,
            user_message=(
                f"The strap did not answer in time while {context}. Check that it is worn and "
                "near this computer, and try again."
            ),
        )
    if isinstance(exc, NotImplementedError):
        return DeviceError(
            detail,
            user_message=f"This computer's Bluetooth cannot do what is needed for {context}.",
        )
    return DeviceError(
        detail,
        user_message=(
            f"A Bluetooth error happened while {context}. Try again; if it keeps happening, "
            "switch Bluetooth off and on again."
        ),
    )


# --- Discovery ----------------------------------------------------------------------------------


def _is_polar(adv: AdvertisementData) -> bool:
    """Polar name prefix or Polar manufacturer data (§1)."""
    name = adv.local_name or ""
    return name.startswith(POLAR_NAME_PREFIX) or POLAR_COMPANY_ID in adv.manufacturer_data


def is_strap_advertisement(adv: AdvertisementData) -> bool:
    """Whether an advertisement looks like a heart-rate strap.

    Parameters
    ----------
    adv : bleak.backends.scanner.AdvertisementData

    Returns
    -------
    bool
        ``0x180D`` among the advertised service UUIDs, or a Polar sensor (§1).
    """
    return hrs.HEART_RATE_SERVICE_UUID in (u.lower() for u in adv.service_uuids) or _is_polar(adv)


async def scan(
    timeout_s: float = 5.0, *, scanner_cls: type[BaseBleakScanner] | None = None
) -> list[FoundStrap]:
    """List the heart-rate straps advertising nearby.

    Parameters
    ----------
    timeout_s : float, default 5
        How long to listen, s.
    scanner_cls : type, optional
        bleak scanner backend (default None: the platform's; the emulated straps pass
        ``world.scanner_cls``).

    Returns
    -------
    list of FoundStrap
        Straps (Heart Rate service or Polar, `is_strap_advertisement`), strongest signal first.

    Raises
    ------
    BluetoothUnavailableError
        No adapter, no Bluetooth stack, Bluetooth switched off, or permission denied.
    DeviceError
        Any other Bluetooth failure.
    ConfigError
        `timeout_s` is not a positive number.
    """
    _check_positive("scan", "timeout_s", timeout_s, allow_none=False)
    found: dict[str, tuple[BLEDevice, AdvertisementData]] = {}
    try:
        async with BleakScanner(backend=scanner_cls) as scanner:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    async with contextlib.aclosing(scanner.advertisement_data()) as stream:
                        async for device, adv in stream:
                            if is_strap_advertisement(adv):
                                found[device.address] = (device, adv)
    except (BleakError, OSError) as exc:
        raise translate_error(exc, context="scanning for straps") from exc
    straps = [
        FoundStrap(
            name=adv.local_name or device.name,
            address=device.address,
            rssi_dbm=int(adv.rssi),
            is_polar=_is_polar(adv),
            has_heart_rate_service=hrs.HEART_RATE_SERVICE_UUID
            in (u.lower() for u in adv.service_uuids),
        )
        for device, adv in found.values()
    ]
    straps.sort(key=lambda s: s.rssi_dbm, reverse=True)
    logger.info("scan: %d strap(s) found in %.1f s", len(straps), timeout_s)
    return straps


# --- Internal queue items and signals -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Raw:
    """A notification as the callback saw it: absolute arrival time, characteristic, bytes."""

    t_abs: float
    characteristic: str
    payload: bytes
    counted: bool  # counts against queue_size (data), or a never-dropped control record


@dataclass(frozen=True, slots=True)
class _Dropped:
    """Marker: `n` data notifications were dropped between `first_t_abs` and `resume_t_abs`."""

    n: int
    first_t_abs: float
    resume_t_abs: float


@dataclass(frozen=True, slots=True)
class _StreamStarted:
    """Marker: a PMD stream (re)started with these settings; frames after it use a new clock."""

    measurement: pmd.MeasurementType
    fs_hz: float
    resolution_bits: int | None
    factor: float | None


@dataclass(frozen=True, slots=True)
class _StreamFactor:
    """Marker: the START answer carried a FACTOR for this stream (§4.4)."""

    measurement: pmd.MeasurementType
    factor: float


@dataclass(frozen=True, slots=True)
class _Failure:
    """Marker: the supervisor gave up; the iterator raises `error`."""

    error: BaseException


@dataclass(frozen=True, slots=True)
class _End:
    """Marker: the strap was closed; the iterator stops."""


_InboxItem: TypeAlias = _Raw | _Dropped | _StreamStarted | _StreamFactor | _Failure | _End | Event


@dataclass(frozen=True, slots=True)
class _Disconnected:
    """Signal: bleak's disconnected callback fired (not requested by us)."""


@dataclass(frozen=True, slots=True)
class _Stalled:
    """Signal: the data watchdog expired."""

    silent_s: float


@dataclass(frozen=True, slots=True)
class _CpMessage:
    """Signal: something arrived on the PMD control point."""

    payload: bytes


_Signal: TypeAlias = _Disconnected | _Stalled | _CpMessage


class _LinkLost(Exception):
    """The link went away while we were waiting for it (internal; never leaves this module)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(eq=False)
class _Session:
    """One BLE connection: its client, subscriptions, started streams and signal queue."""

    generation: int
    client: BleakClient | None = None
    signals: asyncio.Queue[_Signal] = field(default_factory=asyncio.Queue)
    deferred: deque[_Signal] = field(default_factory=deque)
    cp_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    subscribed: list[str] = field(default_factory=list)
    started: list[pmd.MeasurementType] = field(default_factory=list)
    restarted: set[pmd.MeasurementType] = field(default_factory=set)
    stream_settings: dict[pmd.MeasurementType, dict[pmd.SettingType, int]] = field(
        default_factory=dict
    )
    pair_attempted: bool = False
    closing: bool = False
    last_hr_t_abs: float = -math.inf


@dataclass
class _StreamState:
    """Iterator-side state of a running PMD stream."""

    fs_hz: float
    resolution_bits: int | None
    factor: float | None
    clock: pmd.PmdClock


# --- The source ---------------------------------------------------------------------------------


class BleStrap:
    """A heart-rate strap over Bluetooth LE as an event source (style.md §2.8).

    Parameters
    ----------
    identifier : str, optional
        Which strap: a Bluetooth address (case-insensitive; a UUID on macOS) or (part of) its
        advertised name, e.g. ``"1A2B3C4D"`` or ``"Polar H10 1A2B3C4D"``. Default None: the
        first strap found (`is_strap_advertisement`). After the first connection the strap is
        remembered by address and name for reconnections (§7).
    ecg : bool, default True
        Start the PMD ECG stream (130 Hz, 14 bit) when the strap offers it (Polar H10).
    acc : bool, default False
        Start the PMD accelerometer (200 Hz, 16 bit, ±8 g) when offered; optional because
        ECG + ACC together dropped some links (§4.14).
    require_pmd : bool, default False
        Treat a PMD stream that cannot be started (MTU too small, pairing refused, …) as a
        failure instead of continuing with heart rate only.
    scanner_cls, client_cls : type, optional
        bleak backend classes handed to ``BleakScanner(backend=…)`` / ``BleakClient(backend=…)``.
        Default None: the platform's. The emulated straps pass their Bumble backend.
    clock : callable () -> float, default time.monotonic
        Monotonic clock, s. Event times are ``clock() − clock()`` at opening.
    sleep : callable (float) -> awaitable, default asyncio.sleep
        How to wait for back-off and the watchdog (tests inject a virtual clock's).
    timeouts : BleTimeouts, optional
        Per-operation timeouts.
    reconnect : ReconnectPolicy, optional
        Watchdog, back-off and giving up.
    queue_size : int, default 2048
        Data notifications buffered for the consumer before they are dropped (and a `Gap`
        marks the loss).

    Raises
    ------
    ConfigError
        ``queue_size`` is not a positive integer.

    Notes
    -----
    ``async with strap:`` raises what the first connection hits: `BluetoothUnavailableError`,
    `DeviceNotFoundError`, `ConnectionLostError` (timed out), `DeviceError`, or — with
    ``require_pmd`` — `PmdCommandError` / `PairingRequiredError`. Later trouble becomes `Link`
    events while the supervisor reconnects; when it gives up (``give_up_after_s``) the iterator
    yields `Link` failed and then raises the matching `DeviceError`. Single use: a strap can be
    opened once.
    """

    def __init__(
        self,
        identifier: str | None = None,
        *,
        ecg: bool = True,
        acc: bool = False,
        require_pmd: bool = False,
        scanner_cls: type[BaseBleakScanner] | None = None,
        client_cls: type[BaseBleakClient] | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        timeouts: BleTimeouts | None = None,
        reconnect: ReconnectPolicy | None = None,
        queue_size: int = _DEFAULT_QUEUE_SIZE,
    ) -> None:
        if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
            raise ConfigError(
                f"BleStrap: queue_size must be a positive integer, got {queue_size!r}"
            )
        self._identifier = identifier
        self._wanted: tuple[pmd.MeasurementType, ...] = tuple(
            m for m, on in ((pmd.MeasurementType.ECG, ecg), (pmd.MeasurementType.ACC, acc)) if on
        )
        self._require_pmd = require_pmd
        self._scanner_cls = scanner_cls
        self._client_cls = client_cls
        self._clock = clock
        self._sleep = sleep
        self._timeouts = timeouts if timeouts is not None else BleTimeouts()
        self._policy = reconnect if reconnect is not None else ReconnectPolicy()
        self._queue_size = queue_size

        self._state = "new"
        self._t0 = 0.0
        self._inbox: asyncio.Queue[_InboxItem] = asyncio.Queue()
        self._n_data_queued = 0
        self._n_dropped_pending = 0
        self._first_drop_t_abs = 0.0
        self._ready: deque[Event] = deque()
        self._supervisor: asyncio.Task[None] | None = None
        self._session: _Session | None = None
        self._generation = 0
        self._target_address: str | None = None
        self._target_name: str | None = None
        self._last_data_t_abs = 0.0
        self._device_info: DeviceInfo | None = None
        self._streams: dict[pmd.MeasurementType, _StreamState] = {}
        self._beat_clock = RrBeatClock()
        self._counts: dict[str, int] = dict.fromkeys(BleStats.__dataclass_fields__, 0)

    # -- public properties --

    @property
    def device_info(self) -> DeviceInfo | None:
        """What the strap told about itself; None before the first connection."""
        return self._device_info

    @property
    def stats(self) -> BleStats:
        """A snapshot of the counters."""
        counts = dict(self._counts)
        counts["n_rr_reanchors"] = self._beat_clock.n_reanchors
        counts["n_rr_gaps"] = self._beat_clock.n_gaps
        return BleStats(**counts)

    # -- EventSource --

    async def __aenter__(self) -> Self:
        if self._state != "new":
            raise RuntimeError("a BleStrap can be opened only once")
        self._state = "opening"
        self._t0 = self._clock()
        try:
            session = await self._establish(reconnecting=False)
        except BaseException:
            try:
                await self._teardown(self._session)
            finally:
                self._session = None
                self._state = "closed"
                self._inbox.put_nowait(_End())
            raise
        self._state = "open"
        self._supervisor = asyncio.create_task(
            self._supervise(session), name="pet-biofeedback BLE supervisor"
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._state == "closed":
            return
        self._state = "closed"
        try:
            supervisor = self._supervisor
            if supervisor is not None and not supervisor.done():
                supervisor.cancel()
                await asyncio.wait({supervisor})
        finally:
            await self._teardown(self._session)
            self._session = None
            self._put(Link(self._now(), LinkState.DISCONNECTED, "Disconnected from the strap."))
            self._inbox.put_nowait(_End())
            stats = self.stats
            if stats.n_hr_skipped or stats.n_dropped or stats.n_pmd_skipped:
                logger.warning(
                    "strap closed: %d malformed heart-rate packet(s) skipped, %d notification(s) "
                    "dropped, %d PMD frame(s) skipped",
                    stats.n_hr_skipped,
                    stats.n_dropped,
                    stats.n_pmd_skipped,
                )
            logger.info("strap closed (%d reconnection(s))", stats.n_reconnects)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        if self._state == "new":
            raise RuntimeError("open the strap with 'async with' before iterating over it")
        while not self._ready:
            if self._state in ("failed", "ended"):
                raise StopAsyncIteration
            item = await self._inbox.get()
            self._handle(item)
        return self._ready.popleft()

    # -- helpers shared by both sides --

    def _now(self) -> float:
        """Seconds since opening."""
        return self._clock() - self._t0

    def _rel(self, t_abs: float) -> float:
        """Absolute clock time → seconds since opening."""
        return t_abs - self._t0

    def _put(self, item: _InboxItem) -> None:
        """Queue a control item or event (never dropped)."""
        self._inbox.put_nowait(item)

    def _offer(self, t_abs: float, characteristic: str, payload: bytes) -> None:
        """Queue a data notification, or drop and count it when the consumer is behind."""
        self._counts["n_notifications"] += 1
        if self._n_data_queued >= self._queue_size:
            if self._n_dropped_pending == 0:
                self._first_drop_t_abs = t_abs
            self._n_dropped_pending += 1
            self._counts["n_dropped"] += 1
            return
        if self._n_dropped_pending:
            self._inbox.put_nowait(_Dropped(self._n_dropped_pending, self._first_drop_t_abs, t_abs))
            self._n_dropped_pending = 0
        self._n_data_queued += 1
        self._inbox.put_nowait(_Raw(t_abs, characteristic, payload, counted=True))

    # -- callbacks (run on the loop that owns the client: stamp, queue, nothing else) --

    def _on_heart_rate(
        self, session: _Session, _sender: BleakGATTCharacteristic, data: bytearray
    ) -> None:
        """HRM notification: stamp, feed the watchdog, queue the bytes."""
        t_abs = self._clock()
        session.last_hr_t_abs = t_abs
        self._last_data_t_abs = t_abs
        self._offer(t_abs, hrs.HEART_RATE_MEASUREMENT_UUID, bytes(data))

    def _on_data(
        self, characteristic: str, _sender: BleakGATTCharacteristic, data: bytearray
    ) -> None:
        """PMD data / battery notification: stamp and queue the bytes."""
        self._offer(self._clock(), characteristic, bytes(data))

    def _on_control_point(
        self, session: _Session, _sender: BleakGATTCharacteristic, data: bytearray
    ) -> None:
        """CP indication: record it (never dropped) and signal the supervisor."""
        payload = bytes(data)
        self._counts["n_notifications"] += 1
        self._put(_Raw(self._clock(), pmd.PMD_CONTROL_POINT_UUID, payload, counted=False))
        session.signals.put_nowait(_CpMessage(payload))

    def _on_disconnected(self, session: _Session, _client: BleakClient) -> None:
        """bleak's disconnected callback: signal the supervisor unless we hung up."""
        if not session.closing:
            session.signals.put_nowait(_Disconnected())

    # -- iterator side: decoding --

    def _handle(self, item: _InboxItem) -> None:
        """Turn one inbox item into events on ``self._ready`` (or end / raise)."""
        match item:
            case _Raw():
                if item.counted:
                    self._n_data_queued -= 1
                self._handle_raw(item)
            case _Dropped():
                self._beat_clock.reset()
                self._ready.append(
                    Gap(
                        self._rel(item.resume_t_abs),
                        item.resume_t_abs - item.first_t_abs,
                        f"{item.n} notification(s) dropped: the program could not keep up",
                    )
                )
                logger.warning("%d notification(s) dropped (consumer too slow)", item.n)
            case _StreamStarted():
                self._streams[item.measurement] = _StreamState(
                    item.fs_hz, item.resolution_bits, item.factor, pmd.PmdClock(item.fs_hz)
                )
            case _StreamFactor():
                stream = self._streams.get(item.measurement)
                if stream is not None:
                    stream.factor = item.factor
            case _Failure():
                self._state = "failed"
                raise item.error
            case _End():
                self._state = "ended"
            case Gap():
                self._beat_clock.reset()
                self._ready.append(item)
            case _:
                self._ready.append(item)

    def _handle_raw(self, raw: _Raw) -> None:
        """Yield the raw notification, then what it decodes to."""
        t = self._rel(raw.t_abs)
        self._ready.append(RawNotification(t, raw.characteristic, raw.payload))
        if raw.characteristic == hrs.HEART_RATE_MEASUREMENT_UUID:
            self._decode_heart_rate(t, raw.payload)
        elif raw.characteristic == pmd.PMD_DATA_UUID:
            self._decode_pmd(t, raw.payload)
        elif raw.characteristic == hrs.BATTERY_LEVEL_UUID:
            try:
                self._ready.append(Battery(t, hrs.decode_battery_level(raw.payload)))
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
        if isinstance(frame, pmd.PmdEcgFrame):
            self._ready.append(
                EcgFrame(float(times[-1]), stream.fs_hz, tuple(frame.ecg_uv.tolist()))
            )
        elif isinstance(frame, pmd.PmdAccFrame):
            self._ready.append(
                AccFrame(
                    float(times[-1]),
                    stream.fs_hz,
                    tuple((x, y, z) for x, y, z in frame.acc_mg.tolist()),
                )
            )

    # -- supervisor side --

    def _describe_target(self) -> str:
        """How to name the strap we look for, in plain words."""
        if self._target_name:
            return self._target_name
        if self._identifier:
            return f"the strap '{self._identifier}'"
        return "a heart-rate strap"

    def _matches(self, device: BLEDevice, adv: AdvertisementData) -> bool:
        """Is this advertisement the strap we want?"""
        name = adv.local_name or device.name
        if self._target_address is not None:
            if device.address.lower() == self._target_address.lower():
                return True
            return bool(self._target_name) and name == self._target_name
        if self._identifier is not None:
            wanted = self._identifier.lower()
            return device.address.lower() == wanted or (name is not None and wanted in name.lower())
        return is_strap_advertisement(adv)

    async def _find_device(self) -> tuple[BLEDevice, AdvertisementData]:
        """Scan until the strap advertises (fresh `BLEDevice` every time, §6 rule 3)."""
        async with BleakScanner(backend=self._scanner_cls) as scanner:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._timeouts.scan_s):
                    async with contextlib.aclosing(scanner.advertisement_data()) as stream:
                        async for device, adv in stream:
                            if self._matches(device, adv):
                                return device, adv
        wanted = self._target_name or self._identifier
        raise DeviceNotFoundError(
            f"no matching strap advertised within {self._timeouts.scan_s:g} s "
            f"(identifier {self._identifier!r})",
            identifier=wanted,
        )

    async def _establish(self, *, reconnecting: bool) -> _Session:
        """Scan, connect, read, subscribe, start PMD streams; return the streaming session."""
        context = "looking for the strap"
        target = self._describe_target()
        self._put(Link(self._now(), LinkState.SCANNING, f"Looking for {target}…"))
        try:
            device, adv = await self._find_device()
            name = adv.local_name or device.name
            logger.debug("strap found: %s (%s), RSSI %s dBm", name, device.address, adv.rssi)
            context = "connecting to the strap"
            self._put(
                Link(self._now(), LinkState.CONNECTING, f"Connecting to {name or 'the strap'}…")
            )
            self._generation += 1
            session = _Session(self._generation)
            self._session = session
            client = BleakClient(
                device,
                disconnected_callback=functools.partial(self._on_disconnected, session),
                timeout=self._timeouts.connect_s,
                backend=self._client_cls,
            )
            session.client = client
            async with asyncio.timeout(self._timeouts.connect_s):
                await client.connect()
            self._target_address, self._target_name = device.address, name
            logger.info("connected to %s", name or "the strap")
            logger.debug("connected to address %s", device.address)
            self._put(
                Link(self._now(), LinkState.CONNECTED, f"Connected to {name or 'the strap'}.")
            )

            context = "reading the battery level and device information"
            await self._read_battery(session)
            if self._device_info is None:
                self._device_info = await self._read_device_info(session, name, device.address)

            context = "subscribing to heart rate"
            if reconnecting:
                # Before re-subscribing, so that every packet of the new link follows the gap;
                # a failed attempt after this point starts the next gap here (no overlap).
                now_abs = self._clock()
                silent_s = max(now_abs - self._last_data_t_abs, 0.0)
                self._last_data_t_abs = now_abs
                self._put(Gap(self._rel(now_abs), silent_s, "link lost: no data until reconnected"))
            await self._subscribe(
                session,
                hrs.HEART_RATE_MEASUREMENT_UUID,
                functools.partial(self._on_heart_rate, session),
            )
            battery = client.services.get_characteristic(hrs.BATTERY_LEVEL_UUID)
            if battery is not None and "notify" in battery.properties:
                await self._subscribe(
                    session,
                    hrs.BATTERY_LEVEL_UUID,
                    functools.partial(self._on_data, hrs.BATTERY_LEVEL_UUID),
                )

            context = "starting the ECG and motion streams"
            detail = await self._start_pmd(session)
        except _LinkLost as lost:
            raise ConnectionLostError(f"{context}: {lost.reason}") from lost
        except (BleakError, OSError, TimeoutError) as exc:
            raise translate_error(exc, context=context, identifier=self._identifier) from exc
        prefix = "Reconnected. " if reconnecting else ""
        session.last_hr_t_abs = max(session.last_hr_t_abs, self._clock())
        self._last_data_t_abs = max(self._last_data_t_abs, session.last_hr_t_abs)
        self._put(Link(self._now(), LinkState.STREAMING, prefix + detail))
        return session

    async def _subscribe(
        self,
        session: _Session,
        uuid: str,
        callback: Callable[[BleakGATTCharacteristic, bytearray], None],
    ) -> None:
        """start_notify under the GATT timeout; remember it for clean-up."""
        client = session.client
        assert client is not None
        async with asyncio.timeout(self._timeouts.gatt_s):
            await client.start_notify(uuid, callback)
        session.subscribed.append(uuid)

    async def _read_optional(self, session: _Session, uuid: str) -> bytes | None:
        """Read a characteristic the strap may not have; None when absent or refused."""
        client = session.client
        assert client is not None
        if client.services.get_characteristic(uuid) is None:
            return None
        try:
            async with asyncio.timeout(self._timeouts.gatt_s):
                return bytes(await client.read_gatt_char(uuid))
        except BleakGATTProtocolError as exc:
            logger.debug("reading %s refused: %s", uuid, exc)
            return None

    async def _read_battery(self, session: _Session) -> None:
        """Read the battery level once (optional characteristic)."""
        value = await self._read_optional(session, hrs.BATTERY_LEVEL_UUID)
        if value is None:
            return
        try:
            self._put(Battery(self._now(), hrs.decode_battery_level(value)))
        except DecodeError as exc:
            logger.debug("battery level skipped: %s", exc)

    async def _read_device_info(
        self, session: _Session, name: str | None, address: str
    ) -> DeviceInfo:
        """Read the Device Information strings (all optional, §3)."""
        strings: dict[str, str | None] = {}
        for key, uuid in _DIS_FIELDS:
            value = await self._read_optional(session, uuid)
            try:
                strings[key] = (
                    None if value is None else hrs.decode_device_information_string(value)
                )
            except DecodeError as exc:
                logger.debug("device information %s skipped: %s", key, exc)
                strings[key] = None
        info = DeviceInfo(
            name=name,
            address=address,
            manufacturer=strings["manufacturer"],
            model=strings["model"],
            serial_number=strings["serial_number"],
            hardware_revision=strings["hardware_revision"],
            firmware_revision=strings["firmware_revision"],
            software_revision=strings["software_revision"],
        )
        logger.info(
            "strap: %s %s, firmware %s", info.manufacturer, info.model, info.firmware_revision
        )
        return info

    # -- PMD --

    async def _start_pmd(self, session: _Session) -> str:
        """Start the wanted PMD streams (§4.1); return the streaming detail for people."""
        client = session.client
        assert client is not None
        if not self._wanted or client.services.get_service(pmd.PMD_SERVICE_UUID) is None:
            return "Receiving heart rate."
        # Step 3 of §4.1: indications on the CP and notifications on Data before any CP write.
        await self._subscribe(
            session,
            pmd.PMD_CONTROL_POINT_UUID,
            functools.partial(self._on_control_point, session),
        )
        await self._subscribe(
            session, pmd.PMD_DATA_UUID, functools.partial(self._on_data, pmd.PMD_DATA_UUID)
        )
        async with asyncio.timeout(self._timeouts.gatt_s):
            features_raw = bytes(await client.read_gatt_char(pmd.PMD_CONTROL_POINT_UUID))
        self._put(RawNotification(self._now(), CP_READ_KEY, features_raw))
        try:
            features = pmd.parse_features(features_raw)
        except DecodeError as exc:
            logger.warning("PMD feature read not understood (%s); heart rate only", exc)
            features = frozenset()
        if self._device_info is not None and not self._device_info.pmd_measurements:
            names = tuple(m.name for m in sorted(features))
            self._device_info = dataclasses.replace(self._device_info, pmd_measurements=names)
        running: list[str] = []
        notes: list[str] = []
        for measurement in self._wanted:
            name = _STREAM_NAMES[measurement]
            if measurement not in features:
                notes.append(f"This strap does not offer {name}.")
                continue
            try:
                fs_hz = await self._start_stream(session, measurement, get_settings=True)
            except PmdCommandError as exc:
                if self._require_pmd:
                    raise
                if exc.status == pmd.ResponseStatus.INVALID_MTU:
                    notes.append(
                        f"{name} is not available: this computer's Bluetooth link carries too "
                        f"little data per packet (MTU below {pmd.H10_MIN_ATT_MTU}). Heart rate "
                        "continues."
                    )
                    break  # every PMD stream needs the same large packets
                notes.append(f"{name} is not available: {exc.user_message}")
                continue
            except PairingRequiredError as exc:
                if self._require_pmd:
                    raise
                notes.append(f"{exc.user_message}")
                break
            except TimeoutError as exc:
                if self._require_pmd:
                    raise PmdCommandError(
                        f"no answer to the {name} request",
                        status=-1,
                        user_message=f"The strap did not answer the request for {name}.",
                    ) from exc
                notes.append(f"{name} is not available: the strap did not answer the request.")
                continue
            running.append(f"{name} ({fs_hz:g} Hz)")
        detail = "Receiving heart rate" + "".join(f", {r}" for r in running) + "."
        return " ".join([detail, *notes])

    async def _start_stream(
        self, session: _Session, measurement: pmd.MeasurementType, *, get_settings: bool
    ) -> float:
        """GET settings (optionally) and START one stream; return its sample rate in Hz."""
        chosen = session.stream_settings.get(measurement)
        if get_settings or chosen is None:
            response = await self._cp_request(session, pmd.get_settings_command(measurement))
            response.raise_for_status()
            options = response.settings or pmd.MeasurementSettings()
            chosen = _choose_settings(measurement, options)
            session.stream_settings[measurement] = chosen
        fs_hz = float(chosen[pmd.SettingType.SAMPLE_RATE])
        # Before the START: its first frames may arrive before we see the answer.
        self._put(_StreamStarted(measurement, fs_hz, chosen.get(pmd.SettingType.RESOLUTION), None))
        if measurement not in session.started:
            session.started.append(measurement)  # STOP it on clean-up even if the answer is lost
        try:
            response = await self._cp_request(session, pmd.start_command(measurement, chosen))
            response.raise_for_status()
        except PmdCommandError:
            session.started.remove(measurement)
            raise
        factor = response.settings.factor if response.settings is not None else None
        if factor is not None:  # Verity-style START answer (§4.4): scale later frames
            self._put(_StreamFactor(measurement, factor))
        logger.info("PMD %s stream started at %g Hz", measurement.name, fs_hz)
        return fs_hz

    async def _next_signal(self, session: _Session) -> _Signal:
        """The next supervisor signal, deferred ones first."""
        if session.deferred:
            return session.deferred.popleft()
        return await session.signals.get()

    async def _cp_write(self, session: _Session, command: bytes, *, allow_pairing: bool) -> None:
        """Write a CP command (with response); pair and retry once if encryption is needed."""
        client = session.client
        assert client is not None
        self._put(RawNotification(self._now(), CP_WRITE_KEY, command))
        try:
            async with asyncio.timeout(self._timeouts.gatt_s):
                await client.write_gatt_char(pmd.PMD_CONTROL_POINT_UUID, command, response=True)
            return
        except BleakGATTProtocolError as exc:
            if int(exc.code) not in _PAIRING_ATT_ERRORS or not allow_pairing:
                raise
            if session.pair_attempted:
                raise PairingRequiredError(
                    f"PMD control point still refuses writes after pairing: {exc}"
                ) from exc
            first_refusal = exc
        session.pair_attempted = True
        logger.info("the strap wants pairing before PMD commands (%s); pairing", first_refusal)
        self._put(Link(self._now(), LinkState.CONNECTED, "The strap asks to be paired; pairing…"))
        try:
            async with asyncio.timeout(self._timeouts.pair_s):
                await client.pair()
        except NotImplementedError:
            # macOS pairs on the first encrypted access, with a system prompt (§7): just retry.
            logger.info("pairing is done by the system here; retrying the command")
        except (BleakError, TimeoutError) as exc:
            raise PairingRequiredError(f"pairing failed: {exc}") from exc
        self._put(RawNotification(self._now(), CP_WRITE_KEY, command))
        try:
            async with asyncio.timeout(self._timeouts.pair_s):
                await client.write_gatt_char(pmd.PMD_CONTROL_POINT_UUID, command, response=True)
        except BleakGATTProtocolError as exc:
            if int(exc.code) in _PAIRING_ATT_ERRORS:
                raise PairingRequiredError(
                    f"PMD control point refuses writes after pairing: {exc}"
                ) from exc
            raise

    async def _cp_request(
        self,
        session: _Session,
        command: bytes,
        *,
        allow_pairing: bool = True,
        response_timeout_s: float | None = None,
    ) -> pmd.ControlPointResponse:
        """One CP command and its ``F0`` answer (one at a time, correlated by op and type)."""
        op, measurement = command[0], command[1] & pmd.MEASUREMENT_TYPE_MASK
        async with session.cp_lock:
            await self._cp_write(session, command, allow_pairing=allow_pairing)
            parts: list[pmd.ControlPointResponse] = []
            timeout_s = response_timeout_s or self._timeouts.cp_response_s
            for pending in session.deferred:
                if not isinstance(pending, _CpMessage):
                    raise _LinkLost(_loss_reason(pending))
            async with asyncio.timeout(timeout_s):
                while True:
                    # Only new signals: deferred ones are for `_watch`, after this request.
                    signal = await session.signals.get()
                    if not isinstance(signal, _CpMessage):
                        session.deferred.append(signal)
                        raise _LinkLost(_loss_reason(signal))
                    message = self._parse_cp(signal.payload)
                    if (
                        isinstance(message, pmd.ControlPointResponse)
                        and int(message.op_code) == op
                        and int(message.measurement_type) == measurement
                    ):
                        parts.append(message)
                        if not message.more:
                            try:
                                return pmd.join_control_point_responses(parts)
                            except DecodeError as exc:
                                raise PmdCommandError(
                                    f"malformed answer to PMD command {command.hex(' ')}: {exc}",
                                    status=-1,
                                    user_message="The strap sent an answer this program "
                                    "does not understand.",
                                ) from exc
                    elif isinstance(message, pmd.MeasurementStopped):
                        session.deferred.append(signal)  # handled once the request is done

    def _parse_cp(self, payload: bytes) -> pmd.ControlPointMessage | None:
        """Parse a CP message; unknown ones are logged and counted, not raised (§4.5)."""
        try:
            return pmd.parse_control_point_message(payload)
        except DecodeError as exc:
            self._counts["n_unknown_cp_messages"] += 1
            logger.warning("unknown message on the PMD control point ignored: %s", exc)
            return None

    async def _on_sensor_stopped(self, session: _Session, stopped: pmd.MeasurementStopped) -> None:
        """The sensor stopped streams by itself (§4.5): restart once per connection, or report."""
        for value in stopped.measurement_types:
            if value not in session.started:
                continue
            measurement = pmd.MeasurementType(value)
            name = _STREAM_NAMES.get(measurement, measurement.name)
            if measurement in session.restarted:
                session.started.remove(measurement)
                self._put(
                    Link(
                        self._now(),
                        LinkState.STREAMING,
                        f"The strap stopped {name} again by itself; continuing with heart rate "
                        "only until the next connection.",
                    )
                )
                logger.warning(
                    "PMD %s stopped by the sensor again; not restarted", measurement.name
                )
                continue
            session.restarted.add(measurement)
            logger.warning("PMD %s stopped by the sensor; restarting it", measurement.name)
            try:
                fs_hz = await self._start_stream(session, measurement, get_settings=False)
            except (PmdCommandError, PairingRequiredError, TimeoutError) as exc:
                session.started[:] = [m for m in session.started if m != measurement]
                self._put(
                    Link(
                        self._now(),
                        LinkState.STREAMING,
                        f"The strap stopped {name} by itself and it could not be restarted; "
                        "heart rate continues.",
                    )
                )
                logger.warning("restarting PMD %s failed: %s", measurement.name, exc)
                continue
            self._counts["n_stream_restarts"] += 1
            self._put(
                Link(
                    self._now(),
                    LinkState.STREAMING,
                    f"The strap stopped {name} by itself; restarted it ({fs_hz:g} Hz).",
                )
            )

    # -- supervision --

    async def _watchdog(self, session: _Session) -> None:
        """Signal a stall when no heart-rate notification came for ``watchdog_s``."""
        limit_s = self._policy.watchdog_s
        while True:
            remaining_s = session.last_hr_t_abs + limit_s - self._clock()
            if remaining_s <= 0:
                session.signals.put_nowait(_Stalled(limit_s))
                return
            await self._sleep(remaining_s)

    async def _watch(self, session: _Session) -> str:
        """Stream until the link is lost; return why, in plain words."""
        watchdog = asyncio.create_task(self._watchdog(session), name="pet-biofeedback BLE watchdog")
        try:
            while True:
                signal = await self._next_signal(session)
                if not isinstance(signal, _CpMessage):
                    return _loss_reason(signal)
                message = self._parse_cp(signal.payload)
                if isinstance(message, pmd.MeasurementStopped):
                    try:
                        await self._on_sensor_stopped(session, message)
                    except _LinkLost as lost:
                        return lost.reason
                    except (BleakError, OSError) as exc:
                        return f"The link failed while restarting a stream ({exc})."
                elif isinstance(message, pmd.ControlPointResponse):
                    logger.debug("late PMD response ignored: %s", signal.payload.hex(" "))
        finally:
            watchdog.cancel()
            await asyncio.wait({watchdog})

    async def _supervise(self, session: _Session) -> None:
        """Keep a link: watch it, tear it down when lost, reconnect; report failure."""
        try:
            while True:
                reason = await self._watch(session)
                logger.warning("link lost: %s", reason)
                await self._teardown(session)
                self._put(Link(self._now(), LinkState.DISCONNECTED, reason))
                session = await self._reconnect(reason)
        except DeviceError as exc:
            logger.warning("giving up on the strap: %s", exc)
            self._put(Link(self._now(), LinkState.FAILED, exc.user_message))
            self._put(_Failure(exc))
        except (BleakError, OSError) as exc:  # not expected here: still nothing bleak leaks
            error = translate_error(exc, context="supervising the link")
            error.__cause__ = exc
            self._put(Link(self._now(), LinkState.FAILED, error.user_message))
            self._put(_Failure(error))
        except Exception as exc:  # a bug: hand it to the consumer instead of losing it
            self._put(Link(self._now(), LinkState.FAILED, "Internal error in the Bluetooth code."))
            self._put(_Failure(exc))

    async def _reconnect(self, reason: str) -> _Session:
        """Back off, rescan, reconnect, re-subscribe, re-START (§6 rules 3–8)."""
        lost_abs = self._clock()
        give_up_s = self._policy.give_up_after_s
        attempt = 0
        while True:
            attempt += 1
            delay_s = self._policy.backoff_s(attempt)
            if give_up_s is not None:
                delay_s = min(delay_s, max(lost_abs + give_up_s - self._clock(), 0.0))
            self._put(
                Link(
                    self._now(),
                    LinkState.RECONNECTING,
                    f"{reason} Trying again in {delay_s:g} s (attempt {attempt}).",
                )
            )
            await self._sleep(delay_s)
            try:
                session = await self._establish(reconnecting=True)
            except DeviceError as exc:
                await self._teardown(self._session)
                if self._require_pmd and isinstance(exc, PmdCommandError | PairingRequiredError):
                    raise
                elapsed_s = self._clock() - lost_abs
                if give_up_s is not None and elapsed_s >= give_up_s:
                    raise _give_up_error(exc, elapsed_s) from exc
                reason = exc.user_message
                logger.warning("reconnect attempt %d failed: %s", attempt, exc)
                continue
            self._counts["n_reconnects"] += 1
            return session

    async def _teardown(self, session: _Session | None) -> None:
        """STOP started streams, unsubscribe, disconnect; each under a timeout; log, never raise."""
        if session is None:
            return
        session.closing = True
        client = session.client
        if client is None:
            return
        timeout_s = self._timeouts.stop_s
        # Each entry leaves its list only once its step was tried, so a teardown cancelled
        # half-way (Ctrl-C during a stall) is completed by the next one (__aexit__).
        while session.started:
            measurement = session.started[-1]
            if not client.is_connected:
                break
            try:
                async with asyncio.timeout(timeout_s):
                    response = await self._cp_request(
                        session,
                        pmd.stop_command(measurement),
                        allow_pairing=False,
                        response_timeout_s=timeout_s,
                    )
                if not response.ok:
                    logger.warning(
                        "STOP %s answered %s", measurement.name, response.status_description
                    )
            except (BleakError, OSError, TimeoutError, DeviceError, _LinkLost) as exc:
                logger.warning("could not STOP the %s stream: %s", measurement.name, exc)
            if measurement in session.started:  # the sensor may have dropped it meanwhile
                session.started.remove(measurement)
        session.started.clear()
        while session.subscribed:
            uuid = session.subscribed[-1]
            if not client.is_connected:
                break
            try:
                async with asyncio.timeout(timeout_s):
                    await client.stop_notify(uuid)
            except (BleakError, OSError, TimeoutError) as exc:
                logger.warning("could not unsubscribe from %s: %s", uuid, exc)
            if uuid in session.subscribed:
                session.subscribed.remove(uuid)
        session.subscribed.clear()
        if client.is_connected:
            try:
                async with asyncio.timeout(timeout_s):
                    await client.disconnect()
            except (BleakError, OSError, TimeoutError) as exc:
                logger.warning("could not disconnect cleanly: %s", exc)
        session.client = None


def _loss_reason(signal: _Signal) -> str:
    """Plain words for why a link was given up."""
    if isinstance(signal, _Stalled):
        return f"No data from the strap for {signal.silent_s:g} s."
    return "The strap disconnected (out of range, switched off, or taken off?)."


def _give_up_error(last: DeviceError, elapsed_s: float) -> DeviceError:
    """The error to raise when the supervisor gives up: keep the specific kind when known."""
    if isinstance(last, DeviceNotFoundError | BluetoothUnavailableError | PairingRequiredError):
        return last
    return ConnectionLostError(
        f"gave up reconnecting after {elapsed_s:.0f} s: {last}",
        user_message=(
            f"The strap could not be reconnected for {elapsed_s:.0f} s. Check that it is worn "
            "and near this computer, then connect again."
        ),
    )


def _choose_settings(
    measurement: pmd.MeasurementType, options: pmd.MeasurementSettings
) -> dict[pmd.SettingType, int]:
    """One value per offered setting: ours when offered, else the highest offered (§4.3)."""
    chosen: dict[pmd.SettingType, int] = {}
    wanted = _WANTED_SETTINGS.get(measurement, {})
    for setting, values in options.values.items():
        if setting not in (
            pmd.SettingType.SAMPLE_RATE,
            pmd.SettingType.RESOLUTION,
            pmd.SettingType.RANGE,
            pmd.SettingType.CHANNELS,
        ):
            continue
        if not values:
            continue
        preferred = wanted.get(setting)
        chosen[setting] = (
            preferred if preferred is not None and preferred in values else max(values)
        )
    for setting, value in wanted.items():
        chosen.setdefault(setting, value)  # a sensor that offers nothing gets our defaults
    return chosen
