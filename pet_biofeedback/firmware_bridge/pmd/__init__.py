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

One public face over four modules, each one idea: `protocol` (UUIDs, codes, enums, response
statuses), `control_point` (command builders; responses, "stopped" and feature echoes),
`frames` (`decode_frame` and the frame dataclasses) and `clock` (`PmdClock`, host-anchored
sample times). Import from here: ``from pet_biofeedback.firmware_bridge import pmd``.
"""

from __future__ import annotations

from pet_biofeedback.firmware_bridge.pmd.clock import (
    DRIFT_FIT_MIN_S,
    ENVELOPE_WINDOW_S,
    MAX_SLEW,
    MAX_STEP_S,
    RATE_TOLERANCE,
    PmdClock,
)
from pet_biofeedback.firmware_bridge.pmd.control_point import (
    ControlPointMessage,
    ControlPointResponse,
    FeatureReadEcho,
    MeasurementSettings,
    MeasurementStopped,
    get_settings_command,
    join_control_point_responses,
    parse_control_point_message,
    parse_control_point_response,
    parse_features,
    parse_settings,
    start_command,
    stop_command,
)
from pet_biofeedback.firmware_bridge.pmd.frames import (
    PmdAccFrame,
    PmdEcgFrame,
    PmdFrame,
    PmdPpiFrame,
    PpiSample,
    decode_frame,
)
from pet_biofeedback.firmware_bridge.pmd.protocol import (
    COMPRESSED_FRAME_BIT,
    CONTROL_POINT_RESPONSE_CODE,
    FEATURE_READ_CODE,
    FRAME_HEADER_BYTES,
    H10_MIN_ATT_MTU,
    H10_RESET_TIMESTAMP_NS,
    MEASUREMENT_STOPPED_CODE,
    MEASUREMENT_TYPE_MASK,
    PMD_CONTROL_POINT_UUID,
    PMD_DATA_UUID,
    PMD_EPOCH_OFFSET_NS,
    PMD_SERVICE_UUID,
    FloatArray,
    MeasurementType,
    OpCode,
    Payload,
    ResponseStatus,
    SettingType,
    describe_status,
)

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
