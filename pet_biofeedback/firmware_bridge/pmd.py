"""Polar Measurement Data (PMD): control-point commands and responses, data frames, timing.

Pure code: bytes in, values out. No Bluetooth stack, no asyncio, no I/O, no clock (the host
arrival times that `PmdClock` needs are passed in). The decoders (`parse_*`, `decode_frame`,
`join_control_point_responses`, `ControlPointResponse.settings`) raise only `DecodeError`, with
a message that says what was wrong; the command builders and `PmdClock` reject invalid
arguments with `ConfigError`; only `ControlPointResponse.raise_for_status` raises
`PmdCommandError`, on request.

Everything here follows ble-protocol.md §4, which condenses the Polar BLE SDK 8.0.0
(``BlePMDClient.kt``, ``PmdControlPointResponse.kt``, ``PmdSetting.kt``, ``PmdDataFrame.kt``,
``PmdTimeStampUtils.kt``, ``model/{EcgData,AccData,PpiData}.kt``) and Polar's online-measurement
PDF.
"""

from __future__ import annotations

import math
import numbers
import struct
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from types import MappingProxyType
from typing import ClassVar, Final, TypeAlias

import numpy as np
import numpy.typing as npt

from pet_biofeedback.errors import ConfigError, DecodeError, PmdCommandError

__all__ = [
    "COMPRESSED_FRAME_BIT",
    "CONTROL_POINT_RESPONSE_CODE",
    "DRIFT_FIT_MIN_S",
    "ENVELOPE_WINDOW_S",
    "FEATURE_READ_CODE",
    "FRAME_HEADER_BYTES",
    "H10_MIN_ATT_MTU",
    "H10_RESET_TIMESTAMP_NS",
    "MAX_SLEW",
    "MAX_STEP_S",
    "MEASUREMENT_STOPPED_CODE",
    "MEASUREMENT_TYPE_MASK",
    "PMD_CONTROL_POINT_UUID",
    "PMD_DATA_UUID",
    "PMD_EPOCH_OFFSET_NS",
    "PMD_SERVICE_UUID",
    "RATE_TOLERANCE",
    "ControlPointMessage",
    "ControlPointResponse",
    "FeatureReadEcho",
    "FloatArray",
    "MeasurementSettings",
    "MeasurementStopped",
    "MeasurementType",
    "OpCode",
    "Payload",
    "PmdAccFrame",
    "PmdClock",
    "PmdEcgFrame",
    "PmdFrame",
    "PmdPpiFrame",
    "PpiSample",
    "ResponseStatus",
    "SettingType",
    "decode_frame",
    "describe_status",
    "get_settings_command",
    "join_control_point_responses",
    "parse_control_point_message",
    "parse_control_point_response",
    "parse_features",
    "parse_settings",
    "start_command",
    "stop_command",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]
#: What the decoders accept: bleak hands notification callbacks a ``bytearray``.
Payload: TypeAlias = bytes | bytearray | memoryview
_Int64Array: TypeAlias = npt.NDArray[np.int64]

# --- GATT and protocol constants (ble-protocol.md §1, §4.3–§4.8) --------------------------------

# Lower-case, as bleak normalises UUID strings. (Polar's PDF misprints the service UUID, §1.)
PMD_SERVICE_UUID: Final = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CONTROL_POINT_UUID: Final = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA_UUID: Final = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

#: Unix ns = device ns + this (device epoch 2000-01-01T00:00:00; §4.8). Do not trust device time.
PMD_EPOCH_OFFSET_NS: Final = 946_684_800_000_000_000
#: Device timestamp an H10 falls back to (2019-01-01T00:00:00Z) when its clock resets (§4.8).
H10_RESET_TIMESTAMP_NS: Final = 599_616_000_000_000_000
#: Smallest ATT MTU at which an H10 accepts an ECG START (§4.1; below it: INVALID_MTU).
H10_MIN_ATT_MTU: Final = 232

CONTROL_POINT_RESPONSE_CODE: Final = 0xF0  # first byte of a response indication (§4.4)
MEASUREMENT_STOPPED_CODE: Final = 0x01  # unsolicited ONLINE_MEASUREMENT_STOPPED (§4.5)
FEATURE_READ_CODE: Final = 0x0F  # first byte of the CP read value / its echo (§4.2, §4.5)
MEASUREMENT_TYPE_MASK: Final = 0x3F  # PmdMeasurementType mask (§4.3, §4.7)
_OFFLINE_RECORDING_BIT: Final = 0x80  # type byte bit 7: recording type 1 = offline (§4.3)
COMPRESSED_FRAME_BIT: Final = 0x80  # frame-type byte bit 7: delta-compressed (§4.7, §4.12)
_FRAME_TYPE_MASK: Final = 0x7F
FRAME_HEADER_BYTES: Final = 10  # type u8 + timestamp u64 + frame type u8 (§4.7)
_RESPONSE_HEADER_BYTES: Final = 5  # F0 op type status more (§4.4)
_RESPONSE_MIN_BYTES: Final = 4  # error responses may stop after the status (§4.4)
_NS_PER_S: Final = 1_000_000_000

_ECG_SAMPLE_BYTES: Final = 3  # signed 24-bit µV (§4.9)
_ACC_AXES: Final = 3
_ACC_DEFAULT_RESOLUTION_BITS: Final = 16  # the SDK's compressed ACC parsers assume 16 (§4.12)
_MG_PER_G: Final = 1000.0
# ACC plain frame type → bytes per axis: int8 / int16 (H10) / int24 (§4.10, AccData.kt).
_ACC_PLAIN_AXIS_BYTES: Final[Mapping[int, int]] = MappingProxyType({0: 1, 1: 2, 2: 3})
_ACC_COMPRESSED_TYPES: Final = (0, 1)  # AccData.kt parses compressed types 0 and 1 only
_PPI_SAMPLE_BYTES: Final = 6  # hr u8 | ppi u16 | error u16 | flags u8 (§4.11)
_PPI_BLOCKER_BIT: Final = 0x01
_PPI_SKIN_CONTACT_BIT: Final = 0x02
_PPI_SKIN_CONTACT_SUPPORTED_BIT: Final = 0x04  # as PpiData.kt reads it; the PDF disagrees
_MAX_DELTA_BIT_WIDTH: Final = 32  # the SDK decodes deltas into 32-bit Ints (§4.12)
_MAX_RESOLUTION_BITS: Final = 32


class MeasurementType(IntEnum):
    """PMD measurement types (``PmdMeasurementType``, §4.3). Also the feature-bitmap bit index."""

    ECG = 0
    PPG = 1
    ACC = 2
    PPI = 3
    GYRO = 5
    MAG = 6
    SKIN_TEMP = 7
    SDK_MODE = 9
    LOCATION = 10
    PRESSURE = 11
    TEMPERATURE = 12
    OFFLINE_RECORDING = 13
    OFFLINE_HR = 14


class SettingType(IntEnum):
    """PMD setting types of the settings TLV (``PmdSetting.kt``, PDF table 5; §4.3)."""

    SAMPLE_RATE = 0  # u16, Hz
    RESOLUTION = 1  # u16, bits
    RANGE = 2  # u16, ± unit (g for ACC)
    RANGE_MILLIUNIT = 3  # u32
    CHANNELS = 4  # u8
    FACTOR = 5  # float32; responses only
    SECURITY = 6  # 16 bytes


_SETTING_WIDTH_BYTES: Final[Mapping[SettingType, int]] = MappingProxyType(
    {
        SettingType.SAMPLE_RATE: 2,
        SettingType.RESOLUTION: 2,
        SettingType.RANGE: 2,
        SettingType.RANGE_MILLIUNIT: 4,
        SettingType.CHANNELS: 1,
        SettingType.FACTOR: 4,
        SettingType.SECURITY: 16,
    }
)
# Settings that a START request may carry: FACTOR is response-only (§4.3); SECURITY is not
# something this app negotiates.
_START_SETTINGS: Final = frozenset(
    {
        SettingType.SAMPLE_RATE,
        SettingType.RESOLUTION,
        SettingType.RANGE,
        SettingType.RANGE_MILLIUNIT,
        SettingType.CHANNELS,
    }
)


class OpCode(IntEnum):
    """Control-point op codes, client to sensor (``PmdControlPointCommandClientToService``)."""

    GET_MEASUREMENT_SETTINGS = 1
    REQUEST_MEASUREMENT_START = 2
    STOP_MEASUREMENT = 3
    GET_SDK_MODE_MEASUREMENT_SETTINGS = 4
    GET_MEASUREMENT_STATUS = 5
    GET_SDK_MODE_STATUS = 6
    GET_OFFLINE_RECORDING_TRIGGER_STATUS = 7
    SET_OFFLINE_RECORDING_TRIGGER_MODE = 8
    SET_OFFLINE_RECORDING_TRIGGER_SETTINGS = 9


# Responses whose parameters are a settings TLV (§4.4: GET → options; Verity START → FACTOR).
_SETTINGS_OPS: Final = frozenset(
    {
        OpCode.GET_MEASUREMENT_SETTINGS,
        OpCode.GET_SDK_MODE_MEASUREMENT_SETTINGS,
        OpCode.REQUEST_MEASUREMENT_START,
    }
)


class ResponseStatus(IntEnum):
    """Control-point response status codes (§4.4; 15–18 from the SDK's device error codes)."""

    SUCCESS = 0
    INVALID_OP_CODE = 1
    INVALID_MEASUREMENT_TYPE = 2
    NOT_SUPPORTED = 3
    INVALID_LENGTH = 4
    INVALID_PARAMETER = 5
    ALREADY_IN_STATE = 6
    INVALID_RESOLUTION = 7
    INVALID_SAMPLE_RATE = 8
    INVALID_RANGE = 9
    INVALID_MTU = 10
    INVALID_NUMBER_OF_CHANNELS = 11
    INVALID_STATE = 12
    DEVICE_IN_CHARGER = 13
    DISK_FULL = 14
    INVALID_DERIVED_MEASUREMENT_METHOD = 15
    INVALID_SOURCE_MEASUREMENT_TYPE = 16
    INVALID_SOURCE_MEASUREMENT_RATE = 17
    INVALID_DERIVED_MEASUREMENT_SETTINGS_GROUP = 18

    @property
    def description(self) -> str:
        """What the status means, in words."""
        return _STATUS_DESCRIPTIONS[self]


_STATUS_DESCRIPTIONS: Final[Mapping[ResponseStatus, str]] = MappingProxyType(
    {
        ResponseStatus.SUCCESS: "success",
        ResponseStatus.INVALID_OP_CODE: "the sensor does not know this command",
        ResponseStatus.INVALID_MEASUREMENT_TYPE: "the sensor does not know this measurement type",
        ResponseStatus.NOT_SUPPORTED: "the sensor does not support this measurement or command",
        ResponseStatus.INVALID_LENGTH: "the command has the wrong length",
        ResponseStatus.INVALID_PARAMETER: "a setting in the command is invalid",
        ResponseStatus.ALREADY_IN_STATE: "the measurement is already in the requested state",
        ResponseStatus.INVALID_RESOLUTION: "the requested resolution is not offered",
        ResponseStatus.INVALID_SAMPLE_RATE: "the requested sample rate is not offered",
        ResponseStatus.INVALID_RANGE: "the requested range is not offered",
        ResponseStatus.INVALID_MTU: (
            "the Bluetooth link's ATT MTU is too small for this stream "
            f"(an H10 needs at least {H10_MIN_ATT_MTU} for ECG)"
        ),
        ResponseStatus.INVALID_NUMBER_OF_CHANNELS: "the requested channel count is not offered",
        ResponseStatus.INVALID_STATE: (
            "the sensor cannot do this in its current state (e.g. SDK mode or another "
            "measurement is active)"
        ),
        ResponseStatus.DEVICE_IN_CHARGER: "the sensor is in its charger",
        ResponseStatus.DISK_FULL: "the sensor's memory is full",
        ResponseStatus.INVALID_DERIVED_MEASUREMENT_METHOD: "unknown derived-measurement method",
        ResponseStatus.INVALID_SOURCE_MEASUREMENT_TYPE: "invalid source type for derivation",
        ResponseStatus.INVALID_SOURCE_MEASUREMENT_RATE: "invalid source rate for derivation",
        ResponseStatus.INVALID_DERIVED_MEASUREMENT_SETTINGS_GROUP: (
            "unknown derived-measurement settings group"
        ),
    }
)

# Plain-words messages for people (style.md §2.5: no hex, no jargon), by status.
_STATUS_USER_MESSAGES: Final[Mapping[int, str]] = MappingProxyType(
    {
        ResponseStatus.NOT_SUPPORTED: "This sensor does not offer that kind of data.",
        ResponseStatus.INVALID_MEASUREMENT_TYPE: "This sensor does not offer that kind of data.",
        ResponseStatus.INVALID_MTU: (
            "The Bluetooth connection is too limited to carry the strap's ECG or motion data. "
            "Heart rate still works. Try reconnecting, or another Bluetooth adapter."
        ),
        ResponseStatus.DEVICE_IN_CHARGER: "The sensor is charging. Take it off the charger.",
        ResponseStatus.INVALID_STATE: (
            "The sensor is busy with something else. Unclip it for a minute and reconnect."
        ),
    }
)


def describe_status(status: int) -> str:
    """Describe a control-point status code in words, including codes this module does not know.

    Parameters
    ----------
    status : int
        Status byte of a control-point response (§4.4).

    Returns
    -------
    str
        E.g. ``"INVALID_MTU (10): the Bluetooth link's ATT MTU is too small …"``.
    """
    try:
        known = ResponseStatus(status)
    except ValueError:
        return f"unknown status {status}"
    return f"{known.name} ({int(known)}): {known.description}"


def _known_or_int(enum_cls: type[IntEnum], value: int) -> int:
    """``enum_cls(value)`` when it is a known member, else the plain int."""
    try:
        return enum_cls(value)
    except ValueError:
        return value


# --- Command builders (client → sensor, §4.3) ---------------------------------------------------


def _measurement_byte(measurement: MeasurementType) -> int:
    """The online type byte of `measurement` (recording type 0 = online, §4.3)."""
    if isinstance(measurement, bool) or not isinstance(measurement, int):
        raise ConfigError(
            f"PMD command: measurement must be a MeasurementType, got {measurement!r}"
        )
    try:
        return int(MeasurementType(measurement))
    except ValueError:
        raise ConfigError(f"PMD command: unknown measurement type {measurement!r}") from None


def get_settings_command(measurement: MeasurementType) -> bytes:
    """Build GET_MEASUREMENT_SETTINGS for `measurement` (ECG → ``01 00``, ACC → ``01 02``).

    Parameters
    ----------
    measurement : MeasurementType

    Returns
    -------
    bytes
        The control-point value to write (with response).

    Raises
    ------
    ConfigError
        If `measurement` is not a known measurement type.
    """
    return bytes((OpCode.GET_MEASUREMENT_SETTINGS, _measurement_byte(measurement)))


def start_command(
    measurement: MeasurementType, settings: Mapping[SettingType, int] | None = None
) -> bytes:
    """Build REQUEST_MEASUREMENT_START with exactly one value per setting.

    Parameters
    ----------
    measurement : MeasurementType
        Stream to start.
    settings : mapping of SettingType to int, optional
        One value per setting, e.g. ``{SAMPLE_RATE: 130, RESOLUTION: 14}`` for H10 ECG. Written
        in ascending setting-type order as ``[type][count = 1][value LE]``; widths per
        ``PmdSetting.kt`` (u16, except RANGE_MILLIUNIT u32 and CHANNELS u8). PPI and SDK mode
        take no settings (``02 03``, ``02 09``).

    Returns
    -------
    bytes
        The control-point value to write (with response).

    Raises
    ------
    ConfigError
        If `measurement` is unknown, a setting is FACTOR (response-only) or SECURITY, or a value
        does not fit its field.

    Examples
    --------
    >>> start_command(MeasurementType.ECG, {SettingType.SAMPLE_RATE: 130,
    ...                                     SettingType.RESOLUTION: 14}).hex(" ")
    '02 00 00 01 82 00 01 01 0e 00'
    """
    out = bytearray((OpCode.REQUEST_MEASUREMENT_START, _measurement_byte(measurement)))
    items: list[tuple[SettingType, int]] = []
    for key, value in (settings or {}).items():
        try:
            setting = SettingType(key)
        except ValueError:
            raise ConfigError(f"PMD START: unknown setting type {key!r}") from None
        if setting not in _START_SETTINGS:
            raise ConfigError(
                f"PMD START: {setting.name} cannot be sent in a START request "
                "(FACTOR is response-only, ble-protocol.md §4.3)"
            )
        width = _SETTING_WIDTH_BYTES[setting]
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"PMD START: {setting.name} must be an int, got {value!r}")
        if not 0 <= value < 1 << (8 * width):
            raise ConfigError(
                f"PMD START: {setting.name} = {value} does not fit its {width}-byte field"
            )
        items.append((setting, value))
    for setting, value in sorted(items):
        out += bytes((setting, 1)) + value.to_bytes(_SETTING_WIDTH_BYTES[setting], "little")
    return bytes(out)


def stop_command(measurement: MeasurementType) -> bytes:
    """Build STOP_MEASUREMENT (ECG → ``03 00``, ACC → ``03 02``, PPI → ``03 03``).

    Parameters
    ----------
    measurement : MeasurementType

    Returns
    -------
    bytes

    Raises
    ------
    ConfigError
        If `measurement` is not a known measurement type.
    """
    return bytes((OpCode.STOP_MEASUREMENT, _measurement_byte(measurement)))


# --- Control-point responses and other CP traffic (§4.2, §4.4, §4.5) ----------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MeasurementSettings:
    """A parsed settings TLV (GET_MEASUREMENT_SETTINGS options, or a START response's extras).

    Attributes
    ----------
    values : mapping of SettingType to tuple of int
        Every integer setting present and its values in wire order (several for GET: the
        options; one for START). Read-only.
    factor : float or None
        FACTOR (float32) when present: multiply samples by it (§4.4, Verity ACC).
    """

    values: Mapping[SettingType, tuple[int, ...]] = field(default_factory=dict)
    factor: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))

    def __hash__(self) -> int:
        return hash((tuple(sorted(self.values.items())), self.factor))

    def get(self, setting: SettingType) -> tuple[int, ...]:
        """Values of `setting`, empty when absent."""
        return self.values.get(setting, ())

    @property
    def sample_rates_hz(self) -> tuple[int, ...]:
        """SAMPLE_RATE values in Hz."""
        return self.get(SettingType.SAMPLE_RATE)

    @property
    def resolutions_bits(self) -> tuple[int, ...]:
        """RESOLUTION values in bits."""
        return self.get(SettingType.RESOLUTION)

    @property
    def ranges(self) -> tuple[int, ...]:
        """RANGE values (± g for ACC)."""
        return self.get(SettingType.RANGE)


def parse_settings(parameters: Payload) -> MeasurementSettings:
    """Parse a settings TLV: repeated ``[setting_type u8][count u8][count × value]``.

    Parameters
    ----------
    parameters : bytes
        Response parameters from byte 5 on (all parts concatenated when ``more`` was set).

    Returns
    -------
    MeasurementSettings

    Raises
    ------
    DecodeError
        On a truncated header or value list, an unknown setting type (its width is unknown, so
        the rest cannot be parsed), or a FACTOR that is not a finite positive number.

    Notes
    -----
    Widths (§4.3): u16 for SAMPLE_RATE, RESOLUTION, RANGE; u32 RANGE_MILLIUNIT; **u8 CHANNELS**;
    float32 FACTOR; 16 bytes SECURITY (skipped). Reading every value as u16 (polar-python) is
    wrong for Verity responses. A setting repeated in the TLV has its values appended.

    Examples
    --------
    >>> s = parse_settings(bytes.fromhex("00 01 82 00 01 01 0E 00"))
    >>> s.sample_rates_hz, s.resolutions_bits
    ((130,), (14,))
    """
    data = bytes(parameters)
    values: dict[SettingType, list[int]] = {}
    factor: float | None = None
    offset = 0
    while offset < len(data):
        if offset + 2 > len(data):
            raise DecodeError(
                f"PMD settings: truncated setting header at byte {offset} "
                f"({len(data) - offset} byte left, need 2)"
            )
        type_id, count = data[offset], data[offset + 1]
        try:
            setting = SettingType(type_id)
        except ValueError:
            raise DecodeError(
                f"PMD settings: unknown setting type {type_id} at byte {offset}; its width is "
                "unknown, so the rest cannot be parsed"
            ) from None
        width = _SETTING_WIDTH_BYTES[setting]
        offset += 2
        end = offset + count * width
        if end > len(data):
            raise DecodeError(
                f"PMD settings: {setting.name} announces {count} value(s) of {width} byte(s) "
                f"but only {len(data) - offset} byte(s) remain"
            )
        chunks = [data[offset + i * width : offset + (i + 1) * width] for i in range(count)]
        offset = end
        if setting is SettingType.SECURITY:
            continue
        if setting is SettingType.FACTOR:
            for chunk in chunks:
                (value,) = struct.unpack("<f", chunk)
                if not (math.isfinite(value) and value > 0):
                    raise DecodeError(f"PMD settings: FACTOR {value!r} is not a positive number")
                if factor is None:
                    factor = float(value)
            continue
        values.setdefault(setting, []).extend(int.from_bytes(c, "little") for c in chunks)
    return MeasurementSettings(values={k: tuple(v) for k, v in values.items()}, factor=factor)


@dataclass(frozen=True, slots=True, kw_only=True)
class ControlPointResponse:
    """A control-point response indication ``F0 <op> <type> <status> <more> <params…>`` (§4.4).

    Attributes
    ----------
    op_code : int
        Op code answered (an `OpCode` member when known).
    measurement_type : int
        Measurement type answered, bits 0–5 of the type byte (a `MeasurementType` when known).
    offline : bool
        Bit 7 of the type byte: the command concerned an offline recording.
    status : int
        Status (a `ResponseStatus` member when known; newer devices may send others).
    more : bool
        Further indications with the same header follow (success only; the SDK reads ``more``
        and parameters only when status = 0).
    parameters : bytes
        Bytes from byte 5 on (empty on error: anything after an error status is ignored).
        For a continued response these are one part's; see `join_control_point_responses`.
    """

    op_code: int
    measurement_type: int
    offline: bool = False
    status: int
    more: bool = False
    parameters: bytes = b""

    @property
    def settings(self) -> MeasurementSettings | None:
        """The parameters as a settings map, for complete settings and START responses.

        Returns
        -------
        MeasurementSettings or None
            For a successful GET_MEASUREMENT_SETTINGS, GET_SDK_MODE_MEASUREMENT_SETTINGS or
            REQUEST_MEASUREMENT_START response with ``more`` false (H10 START: empty settings;
            Verity START: FACTOR). ``None`` for errors, other op codes, and parts announcing
            more (join them first: a TLV may be split anywhere).

        Raises
        ------
        DecodeError
            If the parameters are not a valid settings TLV (see `parse_settings`).
        """
        if not self.ok or self.more or self.op_code not in _SETTINGS_OPS:
            return None
        return parse_settings(self.parameters)

    @property
    def ok(self) -> bool:
        """Whether the status is SUCCESS."""
        return self.status == ResponseStatus.SUCCESS

    @property
    def status_description(self) -> str:
        """The status in words, e.g. ``"INVALID_MTU (10): …"``."""
        return describe_status(self.status)

    def raise_for_status(self) -> None:
        """Raise `PmdCommandError` (with ``.status``) unless the status is SUCCESS.

        Raises
        ------
        PmdCommandError
            With a developer message naming op, measurement and status, and a plain-words
            ``user_message``.
        """
        if self.ok:
            return
        op = self.op_code.name if isinstance(self.op_code, OpCode) else f"op {self.op_code}"
        what = (
            self.measurement_type.name
            if isinstance(self.measurement_type, MeasurementType)
            else f"measurement type {self.measurement_type}"
        )
        user_message = _STATUS_USER_MESSAGES.get(
            self.status, f"The sensor refused the request ({describe_status(self.status)})."
        )
        raise PmdCommandError(
            f"PMD {op} for {what} failed: {self.status_description}",
            status=self.status,
            user_message=user_message,
        )


@dataclass(frozen=True, slots=True)
class MeasurementStopped:
    """Unsolicited ONLINE_MEASUREMENT_STOPPED (``01 <type>…``): the sensor stopped streams itself.

    Not a protocol error: report "stream closed by device" (§4.5).

    Attributes
    ----------
    measurement_types : tuple of int
        Stopped types (bits 0–5 of each byte; `MeasurementType` members when known). Empty when
        the message named none.
    """

    measurement_types: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class FeatureReadEcho:
    """The echo of our own feature read of the CP (``0F …``), seen on BlueZ/CoreBluetooth (§4.5).

    Attributes
    ----------
    measurements : frozenset of MeasurementType
        The feature bitmap it carries (ignore it; the read result itself is authoritative).
    """

    measurements: frozenset[MeasurementType]


ControlPointMessage: TypeAlias = ControlPointResponse | MeasurementStopped | FeatureReadEcho


def parse_features(payload: Payload) -> frozenset[MeasurementType]:
    """Parse the feature read of the PMD control point: ``0F <b1> <b2> …`` (§4.2).

    Parameters
    ----------
    payload : bytes
        Value read from the CP (H10: ``0F 05 00``).

    Returns
    -------
    frozenset of MeasurementType
        Measurements the sensor supports. Bit *k* of the little-endian bitmap after the ``0F``
        is measurement type *k* (``PmdMeasurementType.fromByteArray``); RFU and unknown bits are
        ignored.

    Raises
    ------
    DecodeError
        If the payload is empty, does not start with ``0F`` or carries no bitmap byte.

    Examples
    --------
    >>> sorted(m.name for m in parse_features(bytes.fromhex("0F 05 00")))
    ['ACC', 'ECG']
    """
    data = bytes(payload)
    if not data:
        raise DecodeError("PMD feature read: empty payload")
    if data[0] != FEATURE_READ_CODE:
        raise DecodeError(
            f"PMD feature read: first byte is 0x{data[0]:02X}, expected 0x{FEATURE_READ_CODE:02X}"
        )
    if len(data) < 2:
        raise DecodeError("PMD feature read: no feature bitmap after the 0x0F byte")
    bitmap = int.from_bytes(data[1:], "little")
    return frozenset(m for m in MeasurementType if bitmap >> int(m) & 1)


def parse_control_point_response(payload: Payload) -> ControlPointResponse:
    """Parse one control-point response indication ``F0 <op> <type> <status> [<more> <params…>]``.

    Parameters
    ----------
    payload : bytes
        The indication value.

    Returns
    -------
    ControlPointResponse
        Its ``settings`` property parses the parameters of settings/START responses.

    Raises
    ------
    DecodeError
        If the payload is shorter than 4 bytes or does not start with ``F0``. (A malformed
        settings TLV is reported when ``settings`` is read: the last part of a continued
        response cannot be parsed on its own.)

    Notes
    -----
    As in ``PmdControlPointResponse.kt``: an error response may be only 4 bytes; ``more`` and
    parameters are read only on success; anything after an error status is ignored (the H10
    answers ``F0 02 03 03`` plus an optional trailing byte). The status is not raised here:
    call `ControlPointResponse.raise_for_status`.

    Examples
    --------
    >>> r = parse_control_point_response(bytes.fromhex("F0 01 00 00 00 00 01 82 00 01 01 0E 00"))
    >>> r.ok, r.settings.sample_rates_hz, r.settings.resolutions_bits
    (True, (130,), (14,))
    """
    data = bytes(payload)
    if len(data) < _RESPONSE_MIN_BYTES:
        raise DecodeError(
            f"PMD control-point response: {len(data)} byte(s), need at least "
            f"{_RESPONSE_MIN_BYTES} (F0, op, type, status)"
        )
    if data[0] != CONTROL_POINT_RESPONSE_CODE:
        raise DecodeError(
            f"PMD control-point response: first byte is 0x{data[0]:02X}, expected "
            f"0x{CONTROL_POINT_RESPONSE_CODE:02X}"
        )
    op_code = _known_or_int(OpCode, data[1])
    measurement_type = _known_or_int(MeasurementType, data[2] & MEASUREMENT_TYPE_MASK)
    offline = bool(data[2] & _OFFLINE_RECORDING_BIT)
    status = _known_or_int(ResponseStatus, data[3])
    more = False
    parameters = b""
    if status == ResponseStatus.SUCCESS:
        more = len(data) > _RESPONSE_MIN_BYTES and data[4] != 0
        parameters = data[_RESPONSE_HEADER_BYTES:]
    return ControlPointResponse(
        op_code=op_code,
        measurement_type=measurement_type,
        offline=offline,
        status=status,
        more=more,
        parameters=parameters,
    )


def join_control_point_responses(parts: Sequence[ControlPointResponse]) -> ControlPointResponse:
    """Join the parts of a continued response (``more`` set on all but the last; §4.4).

    Parameters
    ----------
    parts : sequence of ControlPointResponse
        The indications in arrival order, each parsed with `parse_control_point_response`.

    Returns
    -------
    ControlPointResponse
        One response with the parameters concatenated and ``more`` false; for settings/START
        responses the joined settings TLV has been checked, so ``settings`` will not raise.

    Raises
    ------
    DecodeError
        If `parts` is empty, the parts answer different commands, a part other than the last
        has ``more`` clear or failed, the last still has ``more`` set, or the joined settings
        TLV is malformed.
    """
    if not parts:
        raise DecodeError("PMD control-point response: no parts to join")
    first, last = parts[0], parts[-1]
    for i, part in enumerate(parts):
        if (part.op_code, part.measurement_type, part.offline) != (
            first.op_code,
            first.measurement_type,
            first.offline,
        ):
            raise DecodeError(
                f"PMD control-point response: part {i} answers op {int(part.op_code)} type "
                f"{int(part.measurement_type)}, part 0 answers op {int(first.op_code)} type "
                f"{int(first.measurement_type)}"
            )
        if i < len(parts) - 1 and not (part.ok and part.more):
            raise DecodeError(
                f"PMD control-point response: part {i} of {len(parts)} does not announce more "
                "parts (or failed), yet parts follow it"
            )
    if last.more:
        raise DecodeError(
            "PMD control-point response: the last part still announces more parts (incomplete)"
        )
    if not last.ok:
        return last
    joined = ControlPointResponse(
        op_code=first.op_code,
        measurement_type=first.measurement_type,
        offline=first.offline,
        status=last.status,
        more=False,
        parameters=b"".join(p.parameters for p in parts),
    )
    _ = joined.settings  # validate the joined TLV now (DecodeError), not at the caller's read
    return joined


def parse_control_point_message(payload: Payload) -> ControlPointMessage:
    """Dispatch anything that arrives on the control point by its first byte (§4.5).

    Parameters
    ----------
    payload : bytes
        An indication (or a read echoed to the notification callback).

    Returns
    -------
    ControlPointResponse or MeasurementStopped or FeatureReadEcho
        ``F0`` → the response to a command; ``01`` → the sensor stopped streams by itself;
        ``0F`` → the echo of our own feature read (ignore it).

    Raises
    ------
    DecodeError
        If the payload is empty, starts with any other byte, or is a malformed response or
        feature echo. (bleakheart raises on anything but ``F0``; don't copy that — §4.5.)

    Examples
    --------
    >>> parse_control_point_message(bytes.fromhex("01 00"))
    MeasurementStopped(measurement_types=(<MeasurementType.ECG: 0>,))
    """
    data = bytes(payload)
    if not data:
        raise DecodeError("PMD control point: empty message")
    code = data[0]
    if code == CONTROL_POINT_RESPONSE_CODE:
        return parse_control_point_response(data)
    if code == MEASUREMENT_STOPPED_CODE:
        return MeasurementStopped(
            tuple(_known_or_int(MeasurementType, b & MEASUREMENT_TYPE_MASK) for b in data[1:])
        )
    if code == FEATURE_READ_CODE:
        return FeatureReadEcho(parse_features(data))
    raise DecodeError(
        f"PMD control point: unknown message code 0x{code:02X} (expected 0xF0 response, "
        "0x01 measurement stopped or 0x0F feature echo)"
    )


# --- Data frames (§4.7–§4.12) ---------------------------------------------------------------------


def _readonly(array: npt.NDArray[np.float64]) -> FloatArray:
    """Mark `array` read-only (frozen results, style.md §2.4) and return it."""
    array.flags.writeable = False
    return array


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class PmdEcgFrame:
    """One ECG data frame (measurement type 0; §4.9).

    Attributes
    ----------
    sensor_timestamp_ns : int
        Device timestamp of the **last** sample, ns since 2000-01-01 on the device clock, as on
        the wire (§4.7). Use only for spacing (`PmdClock`); the absolute value is untrusted.
    frame_type : int
        Frame-type id, bits 0–6 (0 on the H10).
    compressed : bool
        Bit 7 of the frame-type byte (always false for supported ECG frames).
    fs_hz : float or None
        Sample rate from the START settings, if the caller passed it (frames do not carry it).
    ecg_uv : ndarray of float64, shape (n_samples,)
        ECG in µV, oldest first, read-only.
    """

    measurement: ClassVar[MeasurementType] = MeasurementType.ECG
    sensor_timestamp_ns: int
    frame_type: int
    compressed: bool = False
    fs_hz: float | None = None
    ecg_uv: FloatArray

    def __post_init__(self) -> None:
        _readonly(self.ecg_uv)

    @property
    def n_samples(self) -> int:
        """Number of samples in the frame."""
        return int(self.ecg_uv.shape[0])


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class PmdAccFrame:
    """One accelerometer data frame (measurement type 2; §4.10, §4.12).

    Attributes
    ----------
    sensor_timestamp_ns : int
        Device timestamp of the last sample (see `PmdEcgFrame`).
    frame_type : int
        Frame-type id, bits 0–6 (H10: 1 = int16 axes).
    compressed : bool
        Whether the frame was delta-compressed (bit 7 of the frame-type byte).
    fs_hz : float or None
        Sample rate from the START settings, if the caller passed it.
    acc_mg : ndarray of float64, shape (n_samples, 3)
        x, y, z acceleration in mG, oldest first, read-only. At rest the magnitude is ≈ 1000.
    """

    measurement: ClassVar[MeasurementType] = MeasurementType.ACC
    sensor_timestamp_ns: int
    frame_type: int
    compressed: bool = False
    fs_hz: float | None = None
    acc_mg: FloatArray

    def __post_init__(self) -> None:
        _readonly(self.acc_mg)

    @property
    def n_samples(self) -> int:
        """Number of samples in the frame."""
        return int(self.acc_mg.shape[0])


@dataclass(frozen=True, slots=True, kw_only=True)
class PpiSample:
    """One PP interval from an optical sensor (OH1 / Verity; §4.11, ``PpiData.kt``).

    Attributes
    ----------
    hr_bpm : int
        Heart rate in bpm.
    ppi_ms : int
        Pulse-to-pulse interval in ms.
    error_estimate_ms : int
        The sensor's error estimate of `ppi_ms`, in ms.
    blocker : bool
        Flag bit 0: the interval is invalid (motion).
    skin_contact : bool
        Flag bit 1: skin contact (false = poor or none).
    skin_contact_supported : bool
        Flag bit 2, as the SDK code reads it (the PDF words it the other way round, §4.11).
    """

    hr_bpm: int
    ppi_ms: int
    error_estimate_ms: int
    blocker: bool
    skin_contact: bool
    skin_contact_supported: bool

    @property
    def usable(self) -> bool:
        """Keep the sample? ``PPIData.md``: drop it if blocker = 1 or skin contact = 0."""
        return not self.blocker and self.skin_contact


@dataclass(frozen=True, slots=True, kw_only=True)
class PmdPpiFrame:
    """One PPI data frame (measurement type 3, frame type 0; §4.11).

    Attributes
    ----------
    sensor_timestamp_ns : int
        Device timestamp of the last interval's end; may be 0 (§4.11). Time PPI like RR
        intervals (§2.4), not with `PmdClock`.
    frame_type : int
        Frame-type id (0).
    compressed : bool
        Always false for supported PPI frames.
    fs_hz : None
        PPI has no sample rate.
    samples : tuple of PpiSample
        Intervals, oldest first, including unusable ones (see `PpiSample.usable`).
    """

    measurement: ClassVar[MeasurementType] = MeasurementType.PPI
    sensor_timestamp_ns: int
    frame_type: int
    compressed: bool = False
    fs_hz: float | None = None
    samples: tuple[PpiSample, ...]

    @property
    def n_samples(self) -> int:
        """Number of intervals in the frame."""
        return len(self.samples)

    @property
    def ppi_ms(self) -> FloatArray:
        """All intervals in ms, shape (n_samples,)."""
        return np.array([s.ppi_ms for s in self.samples], dtype=np.float64)


PmdFrame: TypeAlias = PmdEcgFrame | PmdAccFrame | PmdPpiFrame


def _sign_extend(value: int, bits: int) -> int:
    """Two's-complement value of the low `bits` bits of `value`."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _signed_le(data: bytes, n_bytes: int) -> _Int64Array:
    """Consecutive signed little-endian integers of `n_bytes` bytes (1–3); len checked by caller."""
    if n_bytes in (1, 2):
        return np.frombuffer(data, dtype=f"<i{n_bytes}").astype(np.int64)
    b = np.frombuffer(data, dtype=np.uint8).reshape(-1, 3).astype(np.int64)
    v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
    return np.where(v >= 1 << 23, v - (1 << 24), v)


def _check_sample_bytes(what: str, n_bytes: int, sample_bytes: int) -> None:
    """DecodeError unless the payload holds a positive whole number of samples."""
    if n_bytes == 0:
        raise DecodeError(f"{what}: frame carries no samples (header only)")
    if n_bytes % sample_bytes:
        raise DecodeError(
            f"{what}: {n_bytes} payload bytes are not a multiple of the {sample_bytes}-byte "
            f"sample ({n_bytes % sample_bytes} left over; notification truncated by a small "
            "ATT MTU? ble-protocol.md §4.1)"
        )


def _decode_delta_samples(content: bytes, channels: int, resolution_bits: int) -> _Int64Array:
    """Delta-compressed samples → int64 array (n_samples, channels) (§4.12, SDK layout).

    Reference sample: `channels` signed LE ints of ceil(resolution/8) bytes, sign-extended at
    `resolution_bits`. Then blocks ``[bit_width][count][ceil(width*count*channels/8) bytes]``,
    LSB-first bitstream of two's-complement deltas interleaved by channel; samples cumulative.
    """
    ref_bytes = (resolution_bits + 7) // 8
    offset = channels * ref_bytes
    if len(content) < offset:
        raise DecodeError(
            f"delta frame: {len(content)} payload byte(s), the reference sample needs {offset} "
            f"({channels} channels × {ref_bytes} bytes)"
        )
    reference = np.array(
        [
            _sign_extend(
                int.from_bytes(content[c * ref_bytes : (c + 1) * ref_bytes], "little"),
                resolution_bits,
            )
            for c in range(channels)
        ],
        dtype=np.int64,
    )
    rows: list[_Int64Array] = [reference.reshape(1, channels)]
    block = 0
    while offset < len(content):
        if offset + 2 > len(content):
            raise DecodeError(
                f"delta frame: block {block} header at byte {offset} is truncated "
                "(1 byte left, need bit width and sample count)"
            )
        width, count = content[offset], content[offset + 1]
        offset += 2
        if width > _MAX_DELTA_BIT_WIDTH:
            raise DecodeError(
                f"delta frame: block {block} has bit width {width}, above the maximum "
                f"{_MAX_DELTA_BIT_WIDTH}"
            )
        if width == 0 and count > 0:
            # A 0-bit delta would mean "unchanged", but the SDK decodes such a block to no
            # samples at all: ambiguous, so refuse rather than guess the sample count.
            raise DecodeError(
                f"delta frame: block {block} has bit width 0 with {count} samples (ambiguous)"
            )
        n_bits = width * count * channels
        n_bytes = (n_bits + 7) // 8
        if offset + n_bytes > len(content):
            raise DecodeError(
                f"delta frame: block {block} ({count} samples × {channels} channels × "
                f"{width} bits) needs {n_bytes} bytes but only {len(content) - offset} remain"
            )
        if count:
            raw = np.frombuffer(content, dtype=np.uint8, count=n_bytes, offset=offset)
            bits = np.unpackbits(raw, bitorder="little")[:n_bits]  # LSB-first (§4.12 step 3)
            fields = bits.reshape(count * channels, width).astype(np.int64)
            unsigned = fields @ (np.int64(1) << np.arange(width, dtype=np.int64))
            half = np.int64(1) << (width - 1)
            deltas = np.where(unsigned >= half, unsigned - (half << 1), unsigned)
            rows.append(deltas.reshape(count, channels))
        offset += n_bytes
        block += 1
    return np.cumsum(np.concatenate(rows, axis=0), axis=0)


def _is_positive_real(value: object) -> bool:
    """A finite number > 0 (Python or NumPy scalar, not bool)."""
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
        and float(value) > 0
    )


def _check_kwargs(fs_hz: float | None, resolution_bits: int | None, factor: float | None) -> None:
    """DecodeError for stream settings that cannot be used to decode (decoders raise only that)."""
    if fs_hz is not None and not _is_positive_real(fs_hz):
        raise DecodeError(f"PMD frame: invalid stream setting fs_hz={fs_hz!r} (need > 0)")
    if resolution_bits is not None and (
        not isinstance(resolution_bits, numbers.Integral)
        or isinstance(resolution_bits, bool)
        or not 1 <= int(resolution_bits) <= _MAX_RESOLUTION_BITS
    ):
        raise DecodeError(
            f"PMD frame: invalid stream setting resolution_bits={resolution_bits!r} "
            f"(need 1–{_MAX_RESOLUTION_BITS})"
        )
    if factor is not None and not _is_positive_real(factor):
        raise DecodeError(f"PMD frame: invalid stream setting factor={factor!r} (need > 0)")


def _decode_acc(
    content: bytes,
    frame_type: int,
    compressed: bool,
    resolution_bits: int | None,
    factor: float | None,
) -> FloatArray:
    """ACC payload → mG, shape (n, 3) (``AccData.kt``; §4.10, §4.12)."""
    if not compressed:
        axis_bytes = _ACC_PLAIN_AXIS_BYTES.get(frame_type)
        if axis_bytes is None:
            raise DecodeError(
                f"ACC frame: unsupported frame type {frame_type} "
                f"(known: {', '.join(map(str, _ACC_PLAIN_AXIS_BYTES))})"
            )
        _check_sample_bytes(f"ACC frame type {frame_type}", len(content), _ACC_AXES * axis_bytes)
        # Plain frames are mG as sent; the SDK applies no FACTOR to them.
        return _signed_le(content, axis_bytes).reshape(-1, _ACC_AXES).astype(np.float64)
    if frame_type not in _ACC_COMPRESSED_TYPES:
        raise DecodeError(
            f"ACC frame: unsupported compressed frame type {frame_type} "
            f"(known: {', '.join(map(str, _ACC_COMPRESSED_TYPES))})"
        )
    resolution = _ACC_DEFAULT_RESOLUTION_BITS if resolution_bits is None else int(resolution_bits)
    raw = _decode_delta_samples(content, _ACC_AXES, resolution).astype(np.float64)
    if frame_type == 0:
        # Compressed type 0 is in G units: value × factor × 1000 → mG (§4.12 step 5).
        if factor is None:
            raise DecodeError(
                "ACC compressed frame type 0 needs the FACTOR from the START response "
                "(pass factor=…; ble-protocol.md §4.4)"
            )
        return raw * (float(factor) * _MG_PER_G)
    return raw * float(factor) if factor is not None and factor != 1.0 else raw


def _decode_ppi(content: bytes) -> tuple[PpiSample, ...]:
    """PPI payload → samples (``PpiData.kt`` frame type 0; §4.11)."""
    _check_sample_bytes("PPI frame", len(content), _PPI_SAMPLE_BYTES)
    samples = []
    for i in range(0, len(content), _PPI_SAMPLE_BYTES):
        flags = content[i + 5]
        samples.append(
            PpiSample(
                hr_bpm=content[i],
                ppi_ms=int.from_bytes(content[i + 1 : i + 3], "little"),
                error_estimate_ms=int.from_bytes(content[i + 3 : i + 5], "little"),
                blocker=bool(flags & _PPI_BLOCKER_BIT),
                skin_contact=bool(flags & _PPI_SKIN_CONTACT_BIT),
                skin_contact_supported=bool(flags & _PPI_SKIN_CONTACT_SUPPORTED_BIT),
            )
        )
    return tuple(samples)


def decode_frame(
    payload: Payload,
    *,
    fs_hz: float | None = None,
    resolution_bits: int | None = None,
    factor: float | None = None,
) -> PmdFrame:
    """Decode one PMD Data notification (ECG, ACC plain or delta-compressed, PPI).

    Parameters
    ----------
    payload : bytes
        The notification: ``type u8 | timestamp u64 LE | frame type u8 | payload`` (§4.7).
    fs_hz : float, optional
        Sample rate in Hz from the START settings, copied into the frame (frames do not carry
        it). Default None (unknown).
    resolution_bits : int, optional
        RESOLUTION from the settings, needed to read the reference sample of delta-compressed
        frames (§4.12). Default None: 16, as the SDK assumes for compressed ACC.
    factor : float, optional
        FACTOR from the START response (§4.4). Required for compressed ACC frame type 0
        (samples × factor × 1000 → mG); applied to compressed type 1 when ≠ 1; ignored for
        plain frames and ECG, as in the SDK. Default None.

    Returns
    -------
    PmdEcgFrame or PmdAccFrame or PmdPpiFrame
        ECG in µV (n,), ACC in mG (n, 3), PPI intervals; plus the device timestamp of the last
        sample, the frame type and `fs_hz`.

    Raises
    ------
    DecodeError
        If the notification is shorter than the 10-byte header; the measurement type is
        unknown or not decoded here (PPG, GYRO, MAG, …); the frame type is unsupported for the
        measurement (ECG types 1/2/3 exist on other devices — refused, not guessed, §4.9); the
        payload is empty or not a whole number of samples; a delta block is truncated, has bit
        width above 32 or a 0-bit width with samples; compressed ACC type 0 lacks `factor`; or a
        keyword argument is invalid.

    Notes
    -----
    The measurement type is byte 0 masked with ``0x3F`` (§4.7). ECG samples are 3-byte signed
    LE (§4.9); ACC plain frame types 0/1/2 carry int8/int16/int24 x, y, z in mG (§4.10);
    delta-compressed frames (``frame_type & 0x80``) are decoded exactly as
    ``BlePMDClient.parseDeltaFramesAll`` (§4.12), LSB-first, without 32-bit wrap-around.

    Examples
    --------
    >>> f = decode_frame(bytes.fromhex("00 00 94 35 77 00 00 00 00 00 02 80 FF 02 80 00"),
    ...                  fs_hz=130)
    >>> f.sensor_timestamp_ns, f.ecg_uv.tolist()
    (2000000000, [-32766.0, 32770.0])
    """
    _check_kwargs(fs_hz, resolution_bits, factor)
    data = bytes(payload)
    if len(data) < FRAME_HEADER_BYTES:
        raise DecodeError(
            f"PMD frame: {len(data)} byte(s), shorter than the {FRAME_HEADER_BYTES}-byte header"
        )
    type_id = data[0] & MEASUREMENT_TYPE_MASK
    timestamp_ns = int.from_bytes(data[1:9], "little")
    compressed = bool(data[9] & COMPRESSED_FRAME_BIT)
    frame_type = data[9] & _FRAME_TYPE_MASK
    content = data[FRAME_HEADER_BYTES:]
    fs = None if fs_hz is None else float(fs_hz)
    try:
        measurement = MeasurementType(type_id)
    except ValueError:
        raise DecodeError(f"PMD frame: unknown measurement type {type_id}") from None

    if measurement is MeasurementType.ECG:
        if compressed or frame_type != 0:
            raise DecodeError(
                f"ECG frame: unsupported frame type {frame_type}"
                f"{' (delta-compressed)' if compressed else ''}; only type 0 (H10) is decoded"
            )
        _check_sample_bytes("ECG frame", len(content), _ECG_SAMPLE_BYTES)
        return PmdEcgFrame(
            sensor_timestamp_ns=timestamp_ns,
            frame_type=frame_type,
            compressed=False,
            fs_hz=fs,
            ecg_uv=_signed_le(content, _ECG_SAMPLE_BYTES).astype(np.float64),
        )
    if measurement is MeasurementType.ACC:
        return PmdAccFrame(
            sensor_timestamp_ns=timestamp_ns,
            frame_type=frame_type,
            compressed=compressed,
            fs_hz=fs,
            acc_mg=_decode_acc(content, frame_type, compressed, resolution_bits, factor),
        )
    if measurement is MeasurementType.PPI:
        if compressed or frame_type != 0:
            raise DecodeError(
                f"PPI frame: unsupported frame type {frame_type}"
                f"{' (delta-compressed)' if compressed else ''}; only type 0 is decoded"
            )
        return PmdPpiFrame(
            sensor_timestamp_ns=timestamp_ns,
            frame_type=frame_type,
            compressed=False,
            fs_hz=None,
            samples=_decode_ppi(content),
        )
    raise DecodeError(
        f"PMD frame: measurement type {measurement.name} ({int(measurement)}) is not decoded by "
        "this app (ECG, ACC and PPI are)"
    )


# --- Host-anchored timing (§4.8) ----------------------------------------------------------------

#: Largest deviation of a frame's device-time span from n/fs_nominal that still counts as the
#: actual rate: H10 ECG is 130 Hz ± 5 % over temperature (H10_ECG_Explained.docx, §4.8), doubled.
RATE_TOLERANCE: Final = 0.10
#: Largest rate at which the host offset may be slewed, as a fraction of elapsed device time:
#: twice the ±5 % worst case of the sensor, small enough to keep sample spacing sane.
MAX_SLEW: Final = 0.10
#: A host/device disagreement larger than this is a discontinuity (clock reset or jump, host
#: stall, buffered burst): re-anchor instead of slewing. Cf. the 2 s RR bound of §2.4.
MAX_STEP_S: Final = 1.0
#: Window of the lower envelope of (arrival − device time): long enough to contain promptly
#: delivered frames (an H10 sends ~2 ECG frames/s, §4.9), short enough to follow the host.
ENVELOPE_WINDOW_S: Final = 10.0
#: Host time over which the drift between sensor and host clocks is fitted before it is used
#: to project the envelope forward (≈ 0.2 % drift on a public H10 recording, §4.8).
DRIFT_FIT_MIN_S: Final = 30.0


class PmdClock:
    """Map one PMD stream's device timestamps to host monotonic seconds, per sample (§4.8).

    Parameters
    ----------
    fs_hz : float
        Nominal sample rate from the START settings (e.g. 130 for H10 ECG). Used only for the
        first frame, after a discontinuity, and to recognise lost frames.
    rate_tolerance : float, optional
        See `RATE_TOLERANCE` (default 0.10).
    max_slew : float, optional
        See `MAX_SLEW` (default 0.10).
    max_step_s : float, optional
        See `MAX_STEP_S` (default 1.0 s).
    envelope_window_s : float, optional
        See `ENVELOPE_WINDOW_S` (default 10 s).

    Raises
    ------
    ConfigError
        If a parameter is not finite and positive, or `max_slew` / `rate_tolerance` is not
        below 1.

    Notes
    -----
    What it assumes and does:

    * **Device time only for spacing.** Absolute device time is untrusted (local time set by
      whoever connected last; the H10 resets to 2019-01-01; §4.8), so only differences of
      timestamps of *one* stream are used. Call `reset` after STOP/START or a reconnect; a
      timestamp that does not increase is treated as a restart anyway.
    * **Per-sample device times** as ``PmdTimeStampUtils.getTimeStamps``: the frame timestamp
      is the last sample's; samples are spaced ``Δ = (ts − prev_ts)/n`` (the actual rate). For
      the first frame (no previous timestamp), Δ = 1/fs_hz back from ``ts``. When the span is
      more than `rate_tolerance` longer than ``n/fs_hz``, frames were lost: the samples are
      back-dated from ``ts`` at the nominal rate so the gap stays a gap (the SDK would stretch
      them over it). A span more than `rate_tolerance` *shorter* is a clock discontinuity.
    * **Anchoring to the host.** Host time = device time + offset. The offset follows the
      lower envelope of ``e = arrival − device time of the frame's last sample`` over the last
      `envelope_window_s`: a sample cannot arrive before it was taken, and the fastest frame
      in the window is taken to have negligible latency (one BLE connection interval,
      7.5–50 ms). This undoes the first frame's caveat (its arrival may be late: ECG start
      latency, buffering). The drift between sensor and host clocks (≈ 0.2 % on a public H10
      recording, §4.8; seconds per hour against the RR beat times) is fitted as the slope of
      ``e`` over host time (least squares since the anchor, used after `DRIFT_FIT_MIN_S`); when
      the sensor clock is slow (``e`` rising), older envelope points are projected forward with
      it so that the window minimum does not lag behind. Given latency ≥ 0 and drift below
      `max_slew`, host times are then never earlier than the samples were taken.
    * **Smoothness.** Offset changes are slewed at most `max_slew` × elapsed device time and
      spread linearly over the frame, so host times are strictly increasing and the sample
      spacing stays within ±`max_slew` of the device's. A disagreement above `max_step_s`
      re-anchors at once (counted in `n_reanchors`), but never back before a time already
      returned: being late is then corrected by slewing.
    * Not for PPI: its frame timestamp may be 0 (§4.11); time PP intervals like RR (§2.4).
    """

    def __init__(
        self,
        fs_hz: float,
        *,
        rate_tolerance: float = RATE_TOLERANCE,
        max_slew: float = MAX_SLEW,
        max_step_s: float = MAX_STEP_S,
        envelope_window_s: float = ENVELOPE_WINDOW_S,
    ) -> None:
        for name, value in (
            ("fs_hz", fs_hz),
            ("rate_tolerance", rate_tolerance),
            ("max_slew", max_slew),
            ("max_step_s", max_step_s),
            ("envelope_window_s", envelope_window_s),
        ):
            if not _is_positive_real(value):
                raise ConfigError(f"PmdClock: {name} must be finite and > 0, got {value!r}")
        if max_slew >= 1 or rate_tolerance >= 1:
            raise ConfigError("PmdClock: max_slew and rate_tolerance must be below 1")
        self._fs_hz = float(fs_hz)
        self._nominal_ns = _NS_PER_S / self._fs_hz
        self._rate_tolerance = float(rate_tolerance)
        self._max_slew = float(max_slew)
        self._max_step_s = float(max_step_s)
        self._window_s = float(envelope_window_s)
        self._n_reanchors = 0
        self._n_gaps = 0
        self._origin_ns = 0
        self._prev_ns: int | None = None
        self._offset_s = 0.0
        self._last_t_s: float | None = None
        self._envelope: deque[tuple[float, float]] = deque()
        # Running least-squares sums of e over host time since the anchor: n, Σx, Σy, Σxx, Σxy.
        self._fit_x0 = 0.0
        self._fit_y0 = 0.0
        self._fit_last_x = 0.0
        self._fit = [0.0, 0.0, 0.0, 0.0, 0.0]

    @property
    def fs_hz(self) -> float:
        """Nominal sample rate in Hz."""
        return self._fs_hz

    @property
    def n_reanchors(self) -> int:
        """Discontinuities handled by re-anchoring (clock went back or jumped, host stall)."""
        return self._n_reanchors

    @property
    def n_gaps(self) -> int:
        """Frames that followed lost frames (device-time span too long)."""
        return self._n_gaps

    @property
    def offset_s(self) -> float | None:
        """Current host − device offset in s (device time relative to the anchor frame)."""
        return None if self._prev_ns is None else self._offset_s

    @property
    def drift(self) -> float:
        """Fitted drift of the offset, s per host s (> 0: sensor clock slow); 0 until fitted."""
        n, sx, sy, sxx, sxy = self._fit
        denominator = n * sxx - sx * sx
        if n < 3 or denominator <= 0 or self._fit_span_s() < DRIFT_FIT_MIN_S:
            return 0.0
        slope = (n * sxy - sx * sy) / denominator
        return min(max(slope, -self._max_slew), self._max_slew)

    def reset(self) -> None:
        """Forget the anchor: call after STOP/START or a reconnect (§4.8)."""
        self._prev_ns = None
        self._last_t_s = None
        self._envelope.clear()
        self._fit = [0.0, 0.0, 0.0, 0.0, 0.0]

    def sample_times_s(
        self, sensor_timestamp_ns: int, n_samples: int, host_arrival_s: float
    ) -> FloatArray:
        """Host times of the samples of the next frame of the stream.

        Parameters
        ----------
        sensor_timestamp_ns : int
            The frame's device timestamp (its last sample), e.g. ``frame.sensor_timestamp_ns``.
        n_samples : int
            Samples in the frame (``frame.n_samples``). 0 returns an empty array.
        host_arrival_s : float
            Host monotonic time (s) at which the notification arrived.

        Returns
        -------
        ndarray of float64, shape (n_samples,)
            Host monotonic seconds of each sample, oldest first, strictly increasing across
            all frames since the last `reset`.

        Raises
        ------
        ConfigError
            If `host_arrival_s` is not finite.
        """
        n = int(n_samples)
        if n <= 0:
            return np.empty(0, dtype=np.float64)
        if not math.isfinite(host_arrival_s):
            raise ConfigError(f"PmdClock: host_arrival_s must be finite, got {host_arrival_s!r}")
        arrival = float(host_arrival_s)
        ts = int(sensor_timestamp_ns)
        idx = np.arange(n, dtype=np.float64)
        prev = self._prev_ns
        if prev is None:
            return self._anchor(ts, idx, arrival)
        span_ns = ts - prev
        ratio = span_ns / (n * self._nominal_ns)
        if span_ns <= 0 or ratio < 1 - self._rate_tolerance:
            self._n_reanchors += 1  # device clock went back or jumped: a new timeline
            return self._anchor(ts, idx, arrival)
        if ratio <= 1 + self._rate_tolerance:
            dev_ns = (prev - self._origin_ns) + (span_ns / n) * (idx + 1)
        else:
            self._n_gaps += 1  # lost frames: keep the gap, nominal spacing back from ts
            dev_ns = (ts - self._origin_ns) - self._nominal_ns * (n - 1 - idx)
        dev_s: FloatArray = dev_ns / _NS_PER_S
        prev_s = (prev - self._origin_ns) / _NS_PER_S
        last_s = (ts - self._origin_ns) / _NS_PER_S
        e = arrival - last_s
        self._prev_ns = ts

        self._envelope.append((arrival, e))
        while self._envelope[0][0] < arrival - self._window_s:
            self._envelope.popleft()
        self._fit_add(arrival, e)
        # Project only a slow sensor clock (e rising): with a fast one the newest point is the
        # minimum anyway, and projecting a slope estimate downwards could date samples before
        # they were taken.
        drift = max(self.drift, 0.0)
        target = min(e_j + drift * (arrival - a_j) for a_j, e_j in self._envelope)
        diff = target - self._offset_s
        if abs(diff) > self._max_step_s:
            # Discontinuity (host stall, burst, clock jump within tolerance): this frame's own
            # offset, but never back before a time already returned.
            last_t = -math.inf if self._last_t_s is None else self._last_t_s
            floor = last_t + self._nominal_ns / _NS_PER_S - float(dev_s[0])
            offset = max(e, floor)
            if abs(offset - self._offset_s) > self._max_step_s:
                self._n_reanchors += 1
                self._offset_s = offset
                self._envelope.clear()
                self._envelope.append((arrival, e))
                self._fit_restart(arrival, e)
                times: FloatArray = dev_s + offset
                self._last_t_s = float(times[-1])
                return times
        span_s = last_s - prev_s
        step = min(max(diff, -self._max_slew * span_s), self._max_slew * span_s)
        times = dev_s + self._offset_s + step * ((dev_s - prev_s) / span_s)
        self._offset_s += step
        self._last_t_s = float(times[-1])
        return times

    def _anchor(self, ts: int, idx: FloatArray, arrival: float) -> FloatArray:
        """Start a timeline here: nominal spacing back from `ts`, last sample at `arrival`."""
        n = int(idx.shape[0])
        self._origin_ns = ts
        self._prev_ns = ts
        dev_s: FloatArray = -self._nominal_ns * (n - 1 - idx) / _NS_PER_S
        offset = arrival
        if self._last_t_s is not None:
            # Never go back in time across a discontinuity; the envelope slews back later.
            offset = max(offset, self._last_t_s + self._nominal_ns / _NS_PER_S - float(dev_s[0]))
        self._offset_s = offset
        self._envelope.clear()
        self._envelope.append((arrival, arrival))
        self._fit_restart(arrival, arrival)
        times: FloatArray = dev_s + offset
        self._last_t_s = float(times[-1])
        return times

    def _fit_restart(self, arrival: float, e: float) -> None:
        """Restart the drift fit at this frame."""
        self._fit_x0 = arrival
        self._fit_y0 = e
        self._fit = [0.0, 0.0, 0.0, 0.0, 0.0]
        self._fit_add(arrival, e)

    def _fit_add(self, arrival: float, e: float) -> None:
        """Add one (host time, e) point to the drift fit (both relative to the fit start)."""
        x = arrival - self._fit_x0
        e -= self._fit_y0
        self._fit[0] += 1.0
        self._fit[1] += x
        self._fit[2] += e
        self._fit[3] += x * x
        self._fit[4] += x * e
        self._fit_last_x = x

    def _fit_span_s(self) -> float:
        """Host time covered by the drift fit."""
        return self._fit_last_x if self._fit[0] else 0.0
