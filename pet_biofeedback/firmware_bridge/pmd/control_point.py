"""PMD control point: the commands we write and the messages the sensor answers with.

Command builders (GET settings, START, STOP; ble-protocol.md §4.3) reject invalid arguments with
`ConfigError`; the parsers of responses, "measurement stopped" and feature echoes (§4.2, §4.4,
§4.5) raise only `DecodeError`; `ControlPointResponse.raise_for_status` raises `PmdCommandError`
on request.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, TypeAlias

from pet_biofeedback.errors import ConfigError, DecodeError, PmdCommandError
from pet_biofeedback.firmware_bridge.pmd.protocol import (
    CONTROL_POINT_RESPONSE_CODE,
    FEATURE_READ_CODE,
    MEASUREMENT_STOPPED_CODE,
    MEASUREMENT_TYPE_MASK,
    MeasurementType,
    OpCode,
    Payload,
    ResponseStatus,
    SettingType,
    _known_or_int,
    describe_status,
)

_OFFLINE_RECORDING_BIT: Final = 0x80  # type byte bit 7: recording type 1 = offline (§4.3)
_RESPONSE_HEADER_BYTES: Final = 5  # F0 op type status more (§4.4)
_RESPONSE_MIN_BYTES: Final = 4  # error responses may stop after the status (§4.4)

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

# Responses whose parameters are a settings TLV (§4.4: GET → options; Verity START → FACTOR).
_SETTINGS_OPS: Final = frozenset(
    {
        OpCode.GET_MEASUREMENT_SETTINGS,
        OpCode.GET_SDK_MODE_MEASUREMENT_SETTINGS,
        OpCode.REQUEST_MEASUREMENT_START,
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
