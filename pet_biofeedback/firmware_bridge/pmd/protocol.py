"""PMD protocol facts: GATT UUIDs, codes, measurement/setting/op-code enums, response statuses.

The vocabulary shared by the command builders and response parsers (`control_point`), the frame
decoders (`frames`) and the sensor clock (`clock`); pure constants and enums (ble-protocol.md
§1, §4.3–§4.5).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from enum import IntEnum
from types import MappingProxyType
from typing import Final, TypeAlias

import numpy as np
import numpy.typing as npt

FloatArray: TypeAlias = npt.NDArray[np.float64]
#: What the decoders accept: bleak hands notification callbacks a ``bytearray``.
Payload: TypeAlias = bytes | bytearray | memoryview

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
COMPRESSED_FRAME_BIT: Final = 0x80  # frame-type byte bit 7: delta-compressed (§4.7, §4.12)
FRAME_HEADER_BYTES: Final = 10  # type u8 + timestamp u64 + frame type u8 (§4.7)


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


def _is_positive_real(value: object) -> bool:
    """A finite number > 0 (Python or NumPy scalar, not bool)."""
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
        and float(value) > 0
    )
