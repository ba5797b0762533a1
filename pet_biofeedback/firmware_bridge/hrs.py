"""Decoders for the Bluetooth SIG Heart Rate, Battery and Device Information services.

Pure functions over ``bytes``: no Bluetooth stack, no I/O, no clock. Every malformed payload
raises `DecodeError` with a message that says exactly what was wrong; nothing else escapes
(ble-protocol.md §2.2, style.md §2.5).

Layouts follow ble-protocol.md §1–§3 (Heart Rate Service 1.0, ``org.bluetooth.characteristic.*``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final, TypeAlias

from pet_biofeedback.errors import DecodeError

__all__ = [
    "BATTERY_LEVEL_UUID",
    "BATTERY_SERVICE_UUID",
    "BODY_SENSOR_LOCATION_UUID",
    "DEVICE_INFORMATION_SERVICE_UUID",
    "FIRMWARE_REVISION_UUID",
    "HARDWARE_REVISION_UUID",
    "HEART_RATE_CONTROL_POINT_UUID",
    "HEART_RATE_MEASUREMENT_UUID",
    "HEART_RATE_SERVICE_UUID",
    "MANUFACTURER_NAME_UUID",
    "MODEL_NUMBER_UUID",
    "PNP_ID_UUID",
    "RESET_ENERGY_EXPENDED_COMMAND",
    "RR_UNITS_PER_S",
    "SERIAL_NUMBER_UUID",
    "SOFTWARE_REVISION_UUID",
    "SYSTEM_ID_UUID",
    "BodySensorLocation",
    "HeartRateMeasurement",
    "Payload",
    "PnpId",
    "decode_battery_level",
    "decode_body_sensor_location",
    "decode_device_information_string",
    "decode_heart_rate_measurement",
    "decode_pnp_id",
]


#: What the decoders accept: bleak hands notification callbacks a ``bytearray``.
Payload: TypeAlias = bytes | bytearray | memoryview


def _sig_uuid(short: int) -> str:
    """Expand a 16-bit SIG UUID to the 128-bit form bleak uses (ble-protocol.md conventions)."""
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"


# GATT map, ble-protocol.md §1.
HEART_RATE_SERVICE_UUID: Final = _sig_uuid(0x180D)
HEART_RATE_MEASUREMENT_UUID: Final = _sig_uuid(0x2A37)
BODY_SENSOR_LOCATION_UUID: Final = _sig_uuid(0x2A38)
HEART_RATE_CONTROL_POINT_UUID: Final = _sig_uuid(0x2A39)
BATTERY_SERVICE_UUID: Final = _sig_uuid(0x180F)
BATTERY_LEVEL_UUID: Final = _sig_uuid(0x2A19)
DEVICE_INFORMATION_SERVICE_UUID: Final = _sig_uuid(0x180A)
MANUFACTURER_NAME_UUID: Final = _sig_uuid(0x2A29)
MODEL_NUMBER_UUID: Final = _sig_uuid(0x2A24)
SERIAL_NUMBER_UUID: Final = _sig_uuid(0x2A25)
HARDWARE_REVISION_UUID: Final = _sig_uuid(0x2A27)
FIRMWARE_REVISION_UUID: Final = _sig_uuid(0x2A26)
SOFTWARE_REVISION_UUID: Final = _sig_uuid(0x2A28)
SYSTEM_ID_UUID: Final = _sig_uuid(0x2A23)
PNP_ID_UUID: Final = _sig_uuid(0x2A50)

#: Write this to the Heart Rate Control Point to reset Energy Expended (ble-protocol.md §1).
RESET_ENERGY_EXPENDED_COMMAND: Final = b"\x01"

#: RR intervals are sent in units of 1/1024 s (ble-protocol.md §2.1).
RR_UNITS_PER_S: Final = 1024

_FLAG_HR_UINT16: Final = 0x01
_FLAG_CONTACT_DETECTED: Final = 0x02
_FLAG_CONTACT_SUPPORTED: Final = 0x04
_FLAG_ENERGY_EXPENDED: Final = 0x08
_FLAG_RR_PRESENT: Final = 0x10
_BATTERY_MAX_PCT: Final = 100  # Battery Level is 0–100 %; 101–255 are reserved (§1, §3)
_PNP_ID_LENGTH: Final = 7


@dataclass(frozen=True, slots=True, kw_only=True)
class HeartRateMeasurement:
    """One decoded Heart Rate Measurement notification (``0x2A37``).

    Attributes
    ----------
    hr_bpm : int
        Heart rate in beats per minute as sent (0–255 for uint8 format, 0–65535 for uint16).
        0 is what straps send while the electrodes are dry or the sensor is off.
    contact : bool or None
        Sensor contact: ``None`` when the strap says the feature is not supported (flag bit 2
        clear; the Polar H10 never sets it, ble-protocol.md §2.3), else whether skin contact is
        detected.
    energy_kj : int or None
        Cumulative Energy Expended in kJ since the last reset, or ``None`` when absent.
    rr_ms : tuple of float
        RR intervals in ms, oldest first, at full 1/1024 s precision (``raw * 1000 / 1024``,
        exact in binary floating point). Empty when the packet carries none (no beat closed
        since the last packet, or HR < 60 bpm; ble-protocol.md §2.3).
    rr_raw : tuple of int
        The same intervals as sent, in 1/1024 s.
    flags : int
        The flags byte as sent (reserved bits 5–7 included).
    n_ignored_bytes : int
        Trailing bytes that did not fit the layout and were ignored (an odd byte after the RR
        values, or bytes after the HR/EE fields when no RR flag is set; ble-protocol.md §2.2).
    """

    hr_bpm: int
    contact: bool | None
    energy_kj: int | None
    rr_ms: tuple[float, ...]
    rr_raw: tuple[int, ...]
    flags: int
    n_ignored_bytes: int = 0


class BodySensorLocation(IntEnum):
    """Body Sensor Location (``0x2A38``) values (ble-protocol.md §1)."""

    OTHER = 0
    CHEST = 1
    WRIST = 2
    FINGER = 3
    HAND = 4
    EAR_LOBE = 5
    FOOT = 6


@dataclass(frozen=True, slots=True, kw_only=True)
class PnpId:
    """Device Information PnP ID (``0x2A50``).

    Attributes
    ----------
    vendor_id_source : int
        1 = Bluetooth SIG company identifier, 2 = USB Implementer's Forum vendor ID.
    vendor_id : int
        Vendor ID (for Polar, source 1: ``0x006B``).
    product_id : int
        Vendor-assigned product ID.
    product_version : int
        Vendor-assigned product version.
    """

    vendor_id_source: int
    vendor_id: int
    product_id: int
    product_version: int


def _rr_raw_to_ms(raw: int) -> float:
    """1/1024 s → ms, exact in float64 (raw < 2**16, divisor a power of two)."""
    return raw * 1000 / RR_UNITS_PER_S


def decode_heart_rate_measurement(payload: Payload) -> HeartRateMeasurement:
    """Decode a Heart Rate Measurement notification.

    Parameters
    ----------
    payload : bytes
        The characteristic value as notified (``bytes``, ``bytearray`` or ``memoryview``).

    Returns
    -------
    HeartRateMeasurement
        HR in bpm, contact, energy expended in kJ and RR intervals in ms (oldest first).

    Raises
    ------
    DecodeError
        If the payload is empty, or shorter than the HR / Energy Expended fields its flags
        announce.

    Notes
    -----
    Layout, ble-protocol.md §2.1: flags byte; HR as uint8 or uint16 LE (flag bit 0); Energy
    Expended uint16 LE if flag bit 3; then RR values uint16 LE in 1/1024 s if flag bit 4,
    ``count = (len - offset) // 2``. Energy Expended moves the RR offset by 2 bytes (a classic
    bug, §2.3). A trailing odd byte after the RR values is ignored and counted in
    ``n_ignored_bytes`` (§2.2, vector ``16 3C 00 04 01``), as are bytes after the HR/EE fields
    when the RR flag is clear. An RR flag with fewer than two bytes left yields no RR values
    (the count formula gives 0; the Polar SDK does the same) rather than an error, so that the
    heart rate of such a packet is not lost. Implausible RR values (e.g. the Garmin HRM-Dual's
    bogus trailing 51.8 ms) are returned as sent: rejecting them is the analysis layer's job.

    Examples
    --------
    >>> m = decode_heart_rate_measurement(bytes.fromhex("16 3E CD 03 DA 03"))
    >>> m.hr_bpm, m.contact, m.rr_ms
    (62, True, (950.1953125, 962.890625))
    """
    data = bytes(payload)
    if not data:
        raise DecodeError("heart rate measurement: empty payload (expected at least flags + HR)")
    flags = data[0]
    offset = 1
    if flags & _FLAG_HR_UINT16:
        if len(data) < offset + 2:
            raise DecodeError(
                f"heart rate measurement: flags 0x{flags:02X} say uint16 HR but payload has "
                f"{len(data) - offset} byte(s) after the flags"
            )
        hr_bpm = int.from_bytes(data[offset : offset + 2], "little")
        offset += 2
    else:
        if len(data) < offset + 1:
            raise DecodeError(
                f"heart rate measurement: flags 0x{flags:02X} say uint8 HR but payload has no "
                "byte after the flags"
            )
        hr_bpm = data[offset]
        offset += 1

    # Contact bits 2..1: 00/01 = not supported (ignore bit 1), 10 = not detected, 11 = detected.
    contact: bool | None = None
    if flags & _FLAG_CONTACT_SUPPORTED:
        contact = bool(flags & _FLAG_CONTACT_DETECTED)

    energy_kj: int | None = None
    if flags & _FLAG_ENERGY_EXPENDED:
        if len(data) < offset + 2:
            raise DecodeError(
                f"heart rate measurement: flags 0x{flags:02X} say Energy Expended is present but "
                f"only {len(data) - offset} byte(s) follow the heart rate (need 2)"
            )
        energy_kj = int.from_bytes(data[offset : offset + 2], "little")
        offset += 2

    remaining = len(data) - offset
    rr_raw: tuple[int, ...] = ()
    if flags & _FLAG_RR_PRESENT:
        n_rr = remaining // 2
        rr_raw = tuple(
            int.from_bytes(data[offset + 2 * i : offset + 2 * i + 2], "little") for i in range(n_rr)
        )
        n_ignored = remaining - 2 * n_rr
    else:
        n_ignored = remaining

    return HeartRateMeasurement(
        hr_bpm=hr_bpm,
        contact=contact,
        energy_kj=energy_kj,
        rr_ms=tuple(_rr_raw_to_ms(r) for r in rr_raw),
        rr_raw=rr_raw,
        flags=flags,
        n_ignored_bytes=n_ignored,
    )


def _expect_one_byte(payload: Payload, what: str) -> int:
    """The single uint8 of a one-byte characteristic, or DecodeError naming `what`."""
    data = bytes(payload)
    if len(data) != 1:
        raise DecodeError(f"{what}: expected 1 byte, payload has {len(data)}")
    return data[0]


def decode_battery_level(payload: Payload) -> int:
    """Decode a Battery Level value (``0x2A19``).

    Parameters
    ----------
    payload : bytes
        The characteristic value: one uint8.

    Returns
    -------
    battery_pct : int
        Charge in percent, 0–100. Polar straps report coarse steps (ble-protocol.md §3).

    Raises
    ------
    DecodeError
        If the payload is not exactly one byte, or the value is above 100 (101–255 are
        reserved by the SIG; clamping would invent a full battery).
    """
    battery_pct = _expect_one_byte(payload, "battery level")
    if battery_pct > _BATTERY_MAX_PCT:
        raise DecodeError(
            f"battery level: {battery_pct} % is out of range 0–{_BATTERY_MAX_PCT} (reserved value)"
        )
    return battery_pct


def decode_body_sensor_location(payload: Payload) -> BodySensorLocation:
    """Decode a Body Sensor Location value (``0x2A38``; informational only, §3).

    Parameters
    ----------
    payload : bytes
        The characteristic value: one uint8.

    Returns
    -------
    BodySensorLocation
        Chest straps answer `BodySensorLocation.CHEST`.

    Raises
    ------
    DecodeError
        If the payload is not exactly one byte or holds a reserved value (7–255).
    """
    value = _expect_one_byte(payload, "body sensor location")
    try:
        return BodySensorLocation(value)
    except ValueError:
        raise DecodeError(
            f"body sensor location: value {value} is reserved (known: 0–{max(BodySensorLocation)})"
        ) from None


def decode_device_information_string(payload: Payload) -> str:
    """Decode a Device Information string (manufacturer, model, serial, revisions).

    Parameters
    ----------
    payload : bytes
        UTF-8 text as read from ``0x2A29``, ``0x2A24``, ``0x2A25``, ``0x2A26``, ``0x2A27`` or
        ``0x2A28``.

    Returns
    -------
    str
        The text up to the first NUL (some firmware pads with NULs, C-string style), with
        trailing whitespace removed. May be empty.

    Raises
    ------
    DecodeError
        If the bytes before the first NUL are not valid UTF-8.

    Examples
    --------
    >>> decode_device_information_string(b"Polar Electro Oy\\x00\\x00")
    'Polar Electro Oy'
    """
    data = bytes(payload).split(b"\x00", 1)[0]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(
            f"device information string: invalid UTF-8 at byte {exc.start} ({exc.reason})"
        ) from None
    return text.rstrip()


def decode_pnp_id(payload: Payload) -> PnpId:
    """Decode a Device Information PnP ID (``0x2A50``): u8 source, then three uint16 LE.

    Parameters
    ----------
    payload : bytes
        Exactly 7 bytes.

    Returns
    -------
    PnpId

    Raises
    ------
    DecodeError
        If the payload is not 7 bytes long.
    """
    data = bytes(payload)
    if len(data) != _PNP_ID_LENGTH:
        raise DecodeError(f"PnP ID: expected {_PNP_ID_LENGTH} bytes, payload has {len(data)}")
    return PnpId(
        vendor_id_source=data[0],
        vendor_id=int.from_bytes(data[1:3], "little"),
        product_id=int.from_bytes(data[3:5], "little"),
        product_version=int.from_bytes(data[5:7], "little"),
    )
