"""Tests for pet_biofeedback.firmware_bridge.pmd: published vectors, edge cases, fuzzing, timing."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from pet_biofeedback.errors import ConfigError, DecodeError, PmdCommandError
from pet_biofeedback.firmware_bridge.pmd import (
    H10_RESET_TIMESTAMP_NS,
    PMD_CONTROL_POINT_UUID,
    PMD_DATA_UUID,
    PMD_EPOCH_OFFSET_NS,
    PMD_SERVICE_UUID,
    ControlPointResponse,
    FeatureReadEcho,
    MeasurementSettings,
    MeasurementStopped,
    MeasurementType,
    OpCode,
    PmdAccFrame,
    PmdClock,
    PmdEcgFrame,
    PmdPpiFrame,
    ResponseStatus,
    SettingType,
    decode_frame,
    describe_status,
    get_settings_command,
    join_control_point_responses,
    parse_control_point_message,
    parse_control_point_response,
    parse_features,
    parse_settings,
    start_command,
    stop_command,
)

FUZZ = settings(max_examples=400, deadline=None)
ROUND_TRIP = settings(max_examples=250, deadline=None)

ECG = MeasurementType.ECG
ACC = MeasurementType.ACC
PPI = MeasurementType.PPI
SR = SettingType.SAMPLE_RATE
RES = SettingType.RESOLUTION
RANGE = SettingType.RANGE


def _hex(text: str) -> bytes:
    return bytes.fromhex(text)


def _header(measurement_byte: int, timestamp_ns: int, frame_type_byte: int) -> bytes:
    return bytes([measurement_byte]) + timestamp_ns.to_bytes(8, "little") + bytes([frame_type_byte])


# Polar SDK vectors (ble-protocol.md §4.9, §4.10, §4.12; EcgDataTest.kt / AccDataTest.kt).
SDK_HEADER_TS_HEX = "00 94 35 77 00 00 00 00"  # 2 000 000 000 ns
SDK_ECG_FRAME = _hex(f"00 {SDK_HEADER_TS_HEX} 00 02 80 FF 02 80 00")
SDK_ACC_TYPE1_CONTENT = _hex(
    "F7 FF FF FF E7 03 F8 FF FE FF E5 03 F9 FF FF FF E5 03 FA FF FF FF E6 03 FA FF FE FF E6 03"
    " F9 FF FF FF E5 03 F8 FF FF FF E6 03 F8 FF FE FF E6 03 FA FF FF FF E5 03 FA FF FF FF E7 03"
    " FA FF FF FF E5 03 F8 FF FF FF E6 03 F7 FF FF FF E6 03 F8 FF FE FF E6 03 F9 FF FE FF E7 03"
    " F9 FF 00 00 E6 03 F9 FF FF FF E6 03 F7 FF FE FF E5 03 F9 FF FF FF E5 03 F9 FF FF FF E5 03"
    " FA FF 00 00 E6 03 F9 FF FE FF E6 03 F8 FF FF FF E6 03 F8 FF FF FF E5 03 F9 FF FF FF E6 03"
    " F9 FF FF FF E5 03 FA FF FF FF E6 03 F9 FF FF FF E5 03 F9 FF FF FF E5 03 F8 FF FE FF E6 03"
    " F9 FF FF FF E6 03 F9 FF FF FF E6 03 F9 FF 00 00 E5 03 F9 FF FE FF E6 03 F8 FF FE FF E6 03"
    " F7 FF FE FF E6 03"
)
SDK_ACC_COMPRESSED_TYPE0_CONTENT = _hex(
    "71 07 F0 6A 9E 8D 0A 38 BE 5C BE BA 2F 96 B3 EE 4B E5 AD FB 42 B9 EB BE 4C FE BA 2F 92 BF"
    " EE 4B E4 B1 FB 12 B9 EC BD 3C 3E BB 2F 8F D3 DE 4B E3 B5 F7 D2 B8 ED BD 30 7E 7B 2F 8B E3"
    " CE 8B E2 BA F7 A2 B8 EE BC 20 BE 7B 2F 88 F3 CE CB E1 BD EF 52 F8 EF BC 18 FE 3B 2F 84 03"
    " BF CB E0 C2 EF 32 B8 F0 BB 04 4E BC 2E 81 13 AF 0B E0 C6 EF F2 F7 F1 B9 FC 7D BC 2E 7D 27"
    " 9F 4B DF CA EB C2 F7 F2 B8 EC CD 7C 2E 7B 37 8F 4B DE CE E3 92 F7 F3 B8 E0 0D FD 2D 77 4B"
    " 7F CB DD D2 DF 62 37 F5 B7 D4 4D BD 2D 74 5B 6F CB DC D7 D7 32 37 F6 B5 C8 8D 7D 2D 71 6B"
    " 4F 4B DC DC D3 F2 36 F7 B4 BC DD FD 2C 6F 7B 3F 4B DB E0 CF D2 36 F8 B2 B0 2D BE 2C 6C 8F"
    " 1F CB DA E3 C7 A2 76 F9"
)
# AccDataTest.kt "process acc compressed data type 1" (not quoted in the doc; same layout).
SDK_ACC_COMPRESSED_TYPE1_FRAME = _hex(
    "02 65 00 00 00 00 00 00 00 81 F1 FF 14 00 F0 03 06 01 7B 0F 08"
)


# --- Constants and command builders (§1, §4.3) -------------------------------------------------


def test_uuids_match_the_sdk_lower_cased() -> None:
    assert PMD_SERVICE_UUID == "FB005C80-02E7-F387-1CAD-8ACD2D8DF0C8".lower()
    assert PMD_CONTROL_POINT_UUID == "FB005C81-02E7-F387-1CAD-8ACD2D8DF0C8".lower()
    assert PMD_DATA_UUID == "FB005C82-02E7-F387-1CAD-8ACD2D8DF0C8".lower()


def test_enum_values_match_the_doc() -> None:
    assert [int(m) for m in MeasurementType] == [0, 1, 2, 3, 5, 6, 7, 9, 10, 11, 12, 13, 14]
    assert [int(s) for s in SettingType] == list(range(7))
    assert [int(o) for o in OpCode] == list(range(1, 10))
    assert [int(s) for s in ResponseStatus] == list(range(19))
    assert PMD_EPOCH_OFFSET_NS == 946_684_800_000_000_000
    assert H10_RESET_TIMESTAMP_NS == 599_616_000_000_000_000


class TestCommandBuilders:
    @pytest.mark.parametrize(
        ("command", "expected"),
        [
            (get_settings_command(ECG), "01 00"),
            (get_settings_command(ACC), "01 02"),
            (start_command(ECG, {SR: 130, RES: 14}), "02 00 00 01 82 00 01 01 0E 00"),
            (
                start_command(ACC, {SR: 200, RES: 16, RANGE: 8}),
                "02 02 00 01 C8 00 01 01 10 00 02 01 08 00",
            ),
            (start_command(PPI), "02 03"),
            (start_command(PPI, {}), "02 03"),
            (start_command(MeasurementType.SDK_MODE), "02 09"),
            (stop_command(ECG), "03 00"),
            (stop_command(ACC), "03 02"),
            (stop_command(PPI), "03 03"),
        ],
    )
    def test_published_command_bytes(self, command: bytes, expected: str) -> None:
        assert command == _hex(expected)

    def test_start_writes_settings_in_ascending_type_order(self) -> None:
        assert start_command(ACC, {RANGE: 8, RES: 16, SR: 200}) == start_command(
            ACC, {SR: 200, RES: 16, RANGE: 8}
        )

    @pytest.mark.parametrize(("rate_hz", "byte"), [(25, 0x19), (50, 0x32), (100, 0x64)])
    def test_acc_rates(self, rate_hz: int, byte: int) -> None:
        assert start_command(ACC, {SR: rate_hz})[4] == byte

    def test_channels_is_one_byte_and_range_milliunit_four(self) -> None:
        cmd = start_command(ACC, {SettingType.CHANNELS: 3, SettingType.RANGE_MILLIUNIT: 8000})
        assert cmd == _hex("02 02 03 01 40 1F 00 00 04 01 03")

    @pytest.mark.parametrize(
        ("settings_", "fragment"),
        [
            ({SettingType.FACTOR: 1}, "FACTOR cannot be sent"),
            ({SettingType.SECURITY: 1}, "SECURITY cannot be sent"),
            ({SR: 70000}, "does not fit its 2-byte field"),
            ({SR: -1}, "does not fit"),
            ({SettingType.CHANNELS: 256}, "does not fit its 1-byte field"),
            ({SR: 130.0}, "must be an int"),
            ({SR: True}, "must be an int"),
            ({9: 1}, "unknown setting type"),
        ],
    )
    def test_invalid_start_settings_raise_config_error(
        self, settings_: dict[SettingType, int], fragment: str
    ) -> None:
        with pytest.raises(ConfigError, match=fragment):
            start_command(ACC, settings_)

    @pytest.mark.parametrize("measurement", [4, 8, 63, -1, True, "ECG", 1.0])
    def test_unknown_measurement_raises_config_error(self, measurement: object) -> None:
        with pytest.raises(ConfigError):
            stop_command(measurement)  # type: ignore[arg-type]  # invalid on purpose


# --- Control point: responses, features, stop notices (§4.2, §4.4, §4.5) -----------------------


class TestParseControlPointResponse:
    def test_get_ecg_settings_h10(self) -> None:
        r = parse_control_point_response(_hex("F0 01 00 00 00 00 01 82 00 01 01 0E 00"))
        assert (r.op_code, r.measurement_type, r.status, r.more) == (
            OpCode.GET_MEASUREMENT_SETTINGS,
            ECG,
            ResponseStatus.SUCCESS,
            False,
        )
        assert r.ok and not r.offline
        assert r.settings is not None
        assert dict(r.settings.values) == {SR: (130,), RES: (14,)}
        assert r.settings.factor is None

    def test_get_acc_settings_h10(self) -> None:
        r = parse_control_point_response(
            _hex("F0 01 02 00 00 00 04 19 00 32 00 64 00 C8 00 01 01 10 00 02 03 02 00 04 00 08 00")
        )
        assert r.measurement_type is ACC
        assert r.settings is not None
        assert r.settings.sample_rates_hz == (25, 50, 100, 200)
        assert r.settings.resolutions_bits == (16,)
        assert r.settings.ranges == (2, 4, 8)

    @pytest.mark.parametrize(
        ("payload", "op"),
        [
            ("F0 02 00 00 00", OpCode.REQUEST_MEASUREMENT_START),
            ("F0 03 00 00 00", OpCode.STOP_MEASUREMENT),
        ],
    )
    def test_start_and_stop_success(self, payload: str, op: OpCode) -> None:
        r = parse_control_point_response(_hex(payload))
        assert r.op_code is op and r.ok and r.parameters == b""
        r.raise_for_status()  # no error

    def test_start_response_settings_are_empty_on_h10(self) -> None:
        r = parse_control_point_response(_hex("F0 02 00 00 00"))
        assert r.settings == MeasurementSettings()

    def test_stop_response_has_no_settings(self) -> None:
        assert parse_control_point_response(_hex("F0 03 00 00 00")).settings is None

    @pytest.mark.parametrize("payload", ["F0 02 03 03", "F0 02 03 03 00", "F0 02 03 03 01 77 66"])
    def test_ppi_on_h10_not_supported_with_optional_trailing_bytes(self, payload: str) -> None:
        r = parse_control_point_response(_hex(payload))
        assert (r.op_code, r.measurement_type, r.status) == (2, PPI, ResponseStatus.NOT_SUPPORTED)
        assert (r.more, r.parameters, r.settings, r.ok) == (False, b"", None, False)
        with pytest.raises(PmdCommandError) as info:
            r.raise_for_status()
        assert info.value.status == 3
        assert "NOT_SUPPORTED" in str(info.value)

    @pytest.mark.parametrize("payload", ["F0 02 00 0A", "F0 02 00 0A 00"])
    def test_start_below_min_mtu_is_invalid_mtu(self, payload: str) -> None:
        r = parse_control_point_response(_hex(payload))
        assert r.status is ResponseStatus.INVALID_MTU
        with pytest.raises(PmdCommandError) as info:
            r.raise_for_status()
        assert info.value.status == 10
        assert "INVALID_MTU" in str(info.value)
        # user_message: plain words, no hex, no class names (style.md §2.5)
        assert "0x" not in info.value.user_message
        assert "MTU" not in info.value.user_message

    def test_verity_start_success_carries_factor(self) -> None:
        payload = _hex("F0 02 02 00 00 05 01") + struct.pack("<f", 2.44e-4)
        r = parse_control_point_response(payload)
        assert r.settings is not None
        assert r.settings.factor == pytest.approx(2.44e-4, rel=1e-7)
        assert dict(r.settings.values) == {}

    def test_unknown_status_and_op_are_kept_as_ints(self) -> None:
        r = parse_control_point_response(_hex("F0 0C 3F 63"))
        assert (r.op_code, r.measurement_type, r.status) == (12, 63, 99)
        assert r.status_description == "unknown status 99"
        with pytest.raises(PmdCommandError, match="op 12 for measurement type 63"):
            r.raise_for_status()

    def test_offline_bit_is_split_from_type(self) -> None:
        r = parse_control_point_response(_hex("F0 01 82 00 00"))
        assert (r.measurement_type, r.offline) == (ACC, True)

    def test_more_flag_only_on_success(self) -> None:
        assert parse_control_point_response(_hex("F0 01 02 00 01 00 01")).more
        assert not parse_control_point_response(_hex("F0 01 02 05 01 00 01")).more

    def test_continued_response_is_joined(self) -> None:
        full = _hex("00 04 19 00 32 00 64 00 C8 00 01 01 10 00 02 03 02 00 04 00 08 00")
        part1 = parse_control_point_response(_hex("F0 01 02 00 01") + full[:7])
        part2 = parse_control_point_response(_hex("F0 01 02 00 00") + full[7:])
        assert part1.more and part1.settings is None  # TLV split mid-value: parse after joining
        joined = join_control_point_responses([part1, part2])
        assert joined.parameters == full and not joined.more
        assert joined.settings is not None
        assert joined.settings.sample_rates_hz == (25, 50, 100, 200)
        assert joined.settings.ranges == (2, 4, 8)

    def test_join_single_complete_part_is_identity(self) -> None:
        r = parse_control_point_response(_hex("F0 01 00 00 00 00 01 82 00 01 01 0E 00"))
        assert join_control_point_responses([r]) == r

    @pytest.mark.parametrize(
        ("parts", "fragment"),
        [
            ([], "no parts"),
            (["F0 01 02 00 01 00", "F0 01 00 00 00 01 19 00"], "part 1 answers op 1 type 0"),
            (["F0 01 02 00 00 00", "F0 01 02 00 00 01 19 00"], "does not announce more"),
            (["F0 01 02 00 01 00 01"], "still announces more"),
            (["F0 01 02 00 01 00", "F0 01 02 00 00 01 19"], "only 1 byte(s) remain"),
        ],
    )
    def test_join_rejects_inconsistent_parts(self, parts: list[str], fragment: str) -> None:
        parsed = [parse_control_point_response(_hex(p)) for p in parts]
        with pytest.raises(DecodeError) as info:
            join_control_point_responses(parsed)
        assert fragment in str(info.value)

    def test_join_failed_last_part_returns_it(self) -> None:
        parts = [_hex("F0 01 02 00 01 00"), _hex("F0 01 02 04")]
        joined = join_control_point_responses([parse_control_point_response(p) for p in parts])
        assert joined.status is ResponseStatus.INVALID_LENGTH

    @pytest.mark.parametrize(
        ("payload", "fragment"),
        [
            ("", "0 byte(s), need at least 4"),
            ("F0 02 00", "3 byte(s), need at least 4"),
            ("F1 02 00 00", "first byte is 0xF1"),
        ],
    )
    def test_malformed_raises_decode_error(self, payload: str, fragment: str) -> None:
        with pytest.raises(DecodeError) as info:
            parse_control_point_response(_hex(payload))
        assert fragment in str(info.value)

    @pytest.mark.parametrize(
        ("payload", "fragment"),
        [
            ("F0 01 00 00 00 00 01 82", "only 1 byte(s) remain"),
            ("F0 01 00 00 00 07 01 00 00", "unknown setting type 7"),
            ("F0 02 00 00 00 00", "truncated setting header"),
        ],
    )
    def test_malformed_settings_raise_decode_error_when_read(
        self, payload: str, fragment: str
    ) -> None:
        r = parse_control_point_response(_hex(payload))
        with pytest.raises(DecodeError) as info:
            _ = r.settings
        assert fragment in str(info.value)

    @FUZZ
    @given(st.binary(max_size=300))
    def test_fuzz_any_bytes_only_decode_error(self, payload: bytes) -> None:
        try:
            r = parse_control_point_response(payload)
            settings = r.settings
        except DecodeError:
            return
        assert isinstance(r, ControlPointResponse)
        assert r.ok or (r.parameters == b"" and not r.more and settings is None)

    @FUZZ
    @given(
        op=st.integers(0, 12),
        type_byte=st.sampled_from([0, 2, 3, 9, 0x42, 0x82, 0xFF]),
        status=st.sampled_from([0, 0, 0, 3, 10, 18, 200]),
        more=st.sampled_from([b"", b"\x00", b"\x01", b"\x02"]),
        params=st.lists(
            st.tuples(st.integers(0, 8), st.integers(0, 4), st.binary(max_size=20)), max_size=4
        ),
    )
    def test_fuzz_almost_valid_responses_only_decode_error(
        self,
        op: int,
        type_byte: int,
        status: int,
        more: bytes,
        params: list[tuple[int, int, bytes]],
    ) -> None:
        tlv = b"".join(bytes([t, c]) + v for t, c, v in params)
        payload = bytes([0xF0, op, type_byte, status]) + more + (tlv if more else b"")
        try:
            r = parse_control_point_response(payload)
            _ = r.settings
        except DecodeError:
            return
        assert r.measurement_type == type_byte & 0x3F
        assert r.offline == bool(type_byte & 0x80)

    @FUZZ
    @given(st.lists(st.binary(min_size=4, max_size=40), min_size=0, max_size=4), st.data())
    def test_fuzz_join_only_decode_error(self, tails: list[bytes], data: st.DataObject) -> None:
        parts = []
        for tail in tails:
            prefix = data.draw(st.sampled_from([b"\xf0\x01\x02\x00\x01", b"\xf0\x01\x02\x00\x00"]))
            try:
                parts.append(parse_control_point_response(prefix + tail))
            except DecodeError:
                continue
        try:
            joined = join_control_point_responses(parts)
        except DecodeError:
            return
        assert not joined.more
        _ = joined.settings  # validated by the join: must not raise


class TestParseSettings:
    def test_h10_ecg_settings(self) -> None:
        s = parse_settings(_hex("00 01 82 00 01 01 0E 00"))
        assert (s.sample_rates_hz, s.resolutions_bits, s.ranges) == ((130,), (14,), ())

    def test_channels_one_byte_factor_float_security_skipped(self) -> None:
        tlv = (
            _hex("04 01 04")
            + _hex("06 01")
            + bytes(range(16))
            + _hex("05 01")
            + struct.pack("<f", 0.5)
            + _hex("03 01 40 1F 00 00")
        )
        s = parse_settings(tlv)
        assert s.get(SettingType.CHANNELS) == (4,)
        assert s.get(SettingType.RANGE_MILLIUNIT) == (8000,)
        assert s.factor == 0.5
        assert SettingType.SECURITY not in s.values

    def test_repeated_setting_values_are_appended(self) -> None:
        assert parse_settings(_hex("00 01 19 00 00 01 32 00")).sample_rates_hz == (25, 50)

    def test_count_zero_is_an_empty_setting(self) -> None:
        assert parse_settings(_hex("00 00")).sample_rates_hz == ()

    def test_values_mapping_is_read_only(self) -> None:
        s = parse_settings(_hex("00 01 82 00"))
        with pytest.raises(TypeError):
            s.values[SR] = (1,)  # type: ignore[index]  # read-only mapping on purpose

    @pytest.mark.parametrize("factor", [0.0, -1.0, math.inf, math.nan])
    def test_invalid_factor_raises_decode_error(self, factor: float) -> None:
        with pytest.raises(DecodeError, match="FACTOR"):
            parse_settings(_hex("05 01") + struct.pack("<f", factor))

    @pytest.mark.parametrize(
        ("payload", "fragment"),
        [
            ("00", "truncated setting header at byte 0"),
            ("00 01 82", "SAMPLE_RATE announces 1 value(s) of 2 byte(s) but only 1"),
            ("06 01 00", "SECURITY announces 1 value(s) of 16 byte(s)"),
            ("00 01 82 00 08 01", "unknown setting type 8 at byte 4"),
        ],
    )
    def test_malformed_raises_decode_error(self, payload: str, fragment: str) -> None:
        with pytest.raises(DecodeError) as info:
            parse_settings(_hex(payload))
        assert fragment in str(info.value)

    @FUZZ
    @given(st.binary(max_size=300))
    def test_fuzz_only_decode_error(self, payload: bytes) -> None:
        try:
            parse_settings(payload)
        except DecodeError:
            pass

    @ROUND_TRIP
    @given(
        st.dictionaries(
            st.sampled_from([SR, RES, RANGE, SettingType.RANGE_MILLIUNIT, SettingType.CHANNELS]),
            st.lists(st.integers(0, 255), max_size=6),
        ),
        st.none() | st.floats(2.0**-20, 1024.0, width=32),
    )
    def test_round_trip(self, values: dict[SettingType, list[int]], factor: float | None) -> None:
        width = {SR: 2, RES: 2, RANGE: 2, SettingType.RANGE_MILLIUNIT: 4, SettingType.CHANNELS: 1}
        tlv = b"".join(
            bytes([k, len(v)]) + b"".join(x.to_bytes(width[k], "little") for x in v)
            for k, v in values.items()
        )
        if factor is not None:
            tlv += _hex("05 01") + struct.pack("<f", factor)
        s = parse_settings(tlv)
        assert dict(s.values) == {k: tuple(v) for k, v in values.items()}
        assert s.factor == factor


class TestParseFeatures:
    @pytest.mark.parametrize(
        ("payload", "expected"),
        [
            ("0F 05 00", {ECG, ACC}),  # H10
            ("0F 0E", {MeasurementType.PPG, ACC, PPI}),  # OH1
            (  # Verity Sense: PPG, ACC, PPI, GYRO, MAG + SDK mode
                "0F 6E 02",
                {
                    MeasurementType.PPG,
                    ACC,
                    PPI,
                    MeasurementType.GYRO,
                    MeasurementType.MAG,
                    MeasurementType.SDK_MODE,
                },
            ),
            ("0F 10 81 FF", set()),  # RFU bit 4, unused bits 8/15 and beyond: ignored
            ("0F 80 7E", {MeasurementType(t) for t in (7, 9, 10, 11, 12, 13, 14)}),
        ],
    )
    def test_feature_bitmaps(self, payload: str, expected: set[MeasurementType]) -> None:
        assert parse_features(_hex(payload)) == expected

    @pytest.mark.parametrize(
        ("payload", "fragment"),
        [("", "empty payload"), ("0F", "no feature bitmap"), ("F0 05", "first byte is 0xF0")],
    )
    def test_malformed_raises_decode_error(self, payload: str, fragment: str) -> None:
        with pytest.raises(DecodeError, match=fragment):
            parse_features(_hex(payload))

    @FUZZ
    @given(st.binary(max_size=300))
    def test_fuzz_only_decode_error(self, payload: bytes) -> None:
        try:
            assert parse_features(payload) <= set(MeasurementType)
        except DecodeError:
            pass


class TestParseControlPointMessage:
    def test_response(self) -> None:
        msg = parse_control_point_message(_hex("F0 03 00 00 00"))
        assert isinstance(msg, ControlPointResponse) and msg.op_code is OpCode.STOP_MEASUREMENT

    def test_device_stopped_ecg(self) -> None:
        assert parse_control_point_message(_hex("01 00")) == MeasurementStopped((ECG,))

    def test_device_stopped_several_types_with_unknown_kept(self) -> None:
        msg = parse_control_point_message(_hex("01 00 02 3E"))
        assert msg == MeasurementStopped((ECG, ACC, 62))

    def test_device_stopped_without_type(self) -> None:
        assert parse_control_point_message(_hex("01")) == MeasurementStopped(())

    def test_feature_read_echo_is_recognised(self) -> None:
        # polar-ble-sdk#360: a stray "0f 05 00 …" on the notify callback (BlueZ StartNotify).
        assert parse_control_point_message(_hex("0F 05 00 00 00")) == FeatureReadEcho(
            frozenset({ECG, ACC})
        )

    @pytest.mark.parametrize(
        ("payload", "fragment"),
        [
            ("", "empty message"),
            ("02 00", "unknown message code 0x02"),
            ("FF", "unknown message code 0xFF"),
            ("F0 01", "need at least 4"),
            ("0F", "no feature bitmap"),
        ],
    )
    def test_malformed_raises_decode_error(self, payload: str, fragment: str) -> None:
        with pytest.raises(DecodeError, match=fragment):
            parse_control_point_message(_hex(payload))

    @FUZZ
    @given(st.sampled_from([b"", b"\xf0", b"\x01", b"\x0f"]), st.binary(max_size=300))
    def test_fuzz_only_decode_error(self, prefix: bytes, payload: bytes) -> None:
        try:
            msg = parse_control_point_message(prefix + payload)
        except DecodeError:
            return
        assert isinstance(msg, ControlPointResponse | MeasurementStopped | FeatureReadEcho)


def test_describe_status() -> None:
    assert describe_status(10).startswith("INVALID_MTU (10): ")
    assert describe_status(0) == "SUCCESS (0): success"
    assert describe_status(77) == "unknown status 77"
    assert all(s.description for s in ResponseStatus)


# --- Data frames (§4.7–§4.12) -------------------------------------------------------------------


class TestDecodeFrameEcg:
    def test_sdk_vector(self) -> None:
        f = decode_frame(SDK_ECG_FRAME, fs_hz=130)
        assert isinstance(f, PmdEcgFrame)
        assert f.measurement is ECG
        assert f.sensor_timestamp_ns == 2_000_000_000
        assert (f.frame_type, f.compressed, f.fs_hz, f.n_samples) == (0, False, 130.0, 2)
        assert f.ecg_uv.dtype == np.float64
        assert_array_equal(f.ecg_uv, [-32766.0, 32770.0])

    @pytest.mark.parametrize("wrap", [bytearray, memoryview])
    def test_bleak_bytearray_and_memoryview_are_accepted(self, wrap: type) -> None:
        f = decode_frame(wrap(SDK_ECG_FRAME))
        assert isinstance(f, PmdEcgFrame)
        assert_array_equal(f.ecg_uv, [-32766.0, 32770.0])
        assert parse_control_point_message(wrap(_hex("01 00"))) == MeasurementStopped((ECG,))

    def test_samples_are_read_only(self) -> None:
        f = decode_frame(SDK_ECG_FRAME)
        assert isinstance(f, PmdEcgFrame)
        with pytest.raises(ValueError):
            f.ecg_uv[0] = 0.0

    def test_full_h10_frame_73_samples(self) -> None:
        values = np.arange(-36, 37) * 1000
        payload = _header(0, 123, 0) + b"".join(
            int(v).to_bytes(3, "little", signed=True) for v in values
        )
        assert len(payload) == 229  # one notification at MTU >= 232 (§4.9)
        f = decode_frame(payload)
        assert isinstance(f, PmdEcgFrame)
        assert_array_equal(f.ecg_uv, values)

    def test_mtu_truncated_frame_says_so(self) -> None:
        # At ATT MTU 23 a 229-byte notification arrives truncated to 20 bytes (§8.2).
        payload = (_header(0, 123, 0) + bytes(219))[:20]
        with pytest.raises(DecodeError, match=r"10 payload bytes are not a multiple.*MTU"):
            decode_frame(payload)

    @pytest.mark.parametrize("frame_type", [0x01, 0x02, 0x03, 0x80])
    def test_other_frame_types_are_refused_not_guessed(self, frame_type: int) -> None:
        with pytest.raises(DecodeError, match="ECG frame: unsupported frame type"):
            decode_frame(_header(0, 1, frame_type) + bytes(6))

    @ROUND_TRIP
    @given(
        st.lists(st.integers(-(1 << 23), (1 << 23) - 1), min_size=1, max_size=80),
        st.integers(0, (1 << 64) - 1),
    )
    def test_round_trip(self, values: list[int], ts: int) -> None:
        payload = _header(0, ts, 0) + b"".join(v.to_bytes(3, "little", signed=True) for v in values)
        f = decode_frame(payload)
        assert isinstance(f, PmdEcgFrame)
        assert f.sensor_timestamp_ns == ts
        assert_array_equal(f.ecg_uv, values)


class TestDecodeFrameAcc:
    def test_sdk_plain_type1_vector(self) -> None:
        f = decode_frame(_hex(f"02 {SDK_HEADER_TS_HEX} 01") + SDK_ACC_TYPE1_CONTENT, fs_hz=200)
        assert isinstance(f, PmdAccFrame)
        assert f.measurement is ACC
        assert (f.sensor_timestamp_ns, f.frame_type, f.compressed) == (2_000_000_000, 1, False)
        assert f.acc_mg.shape == (36, 3)  # (229 - 10) // 6 = 36 samples max per frame (§4.10)
        assert_array_equal(f.acc_mg[0], [-9, -1, 999])
        assert_array_equal(f.acc_mg[1], [-8, -2, 997])
        assert_array_equal(f.acc_mg[-1], [-9, -2, 998])
        magnitude = np.linalg.norm(f.acc_mg, axis=1)
        assert np.all(np.abs(magnitude - 1000) < 10)  # at rest ≈ 1000 mG

    def test_sdk_compressed_type0_vector(self) -> None:
        content = SDK_ACC_COMPRESSED_TYPE0_CONTENT
        assert len(content) == 218
        frame = _hex(f"02 {SDK_HEADER_TS_HEX} 80") + content
        raw = decode_frame(frame, factor=1e-3)  # factor × 1000 = 1: raw integers back
        assert isinstance(raw, PmdAccFrame)
        assert raw.compressed and raw.frame_type == 0
        assert raw.n_samples == 57  # reference + one block of 56
        assert_allclose(raw.acc_mg[0], [1905, 27376, -29282], rtol=1e-12)
        assert_allclose(raw.acc_mg[1], [2095, 27271, -29367], rtol=1e-12)  # + (190, -105, -85)
        f = decode_frame(frame, factor=2.44e-4)
        assert isinstance(f, PmdAccFrame)
        assert_allclose(f.acc_mg[1], [511.2, 6654.1, -7165.5], atol=0.06)
        assert np.all(np.abs(f.acc_mg) <= 8 * 1000)  # range 8 G, as the SDK test checks

    def test_compressed_first_delta_is_lsb_first_not_msb_first(self) -> None:
        # bleakheart's MSB-first bitstring gives (-263, 459, -82) on this vector (§4.12).
        f = decode_frame(
            _hex(f"02 {SDK_HEADER_TS_HEX} 80") + SDK_ACC_COMPRESSED_TYPE0_CONTENT, factor=1e-3
        )
        assert isinstance(f, PmdAccFrame)
        assert_allclose(f.acc_mg[1] - f.acc_mg[0], [190, -105, -85], atol=1e-9)

    def test_sdk_compressed_type1_vector(self) -> None:
        f = decode_frame(SDK_ACC_COMPRESSED_TYPE1_FRAME)
        assert isinstance(f, PmdAccFrame)
        assert f.sensor_timestamp_ns == 101
        assert_array_equal(f.acc_mg, [[-15, 20, 1008], [-20, 17, 1008]])

    def test_compressed_type1_applies_factor_when_not_one(self) -> None:
        f = decode_frame(SDK_ACC_COMPRESSED_TYPE1_FRAME, factor=2.0)
        assert isinstance(f, PmdAccFrame)
        assert_array_equal(f.acc_mg[0], [-30, 40, 2016])

    def test_compressed_type0_without_factor_is_refused(self) -> None:
        with pytest.raises(DecodeError, match="needs the FACTOR"):
            decode_frame(_hex(f"02 {SDK_HEADER_TS_HEX} 80") + SDK_ACC_COMPRESSED_TYPE0_CONTENT)

    @pytest.mark.parametrize(("frame_type", "axis_bytes"), [(0, 1), (1, 2), (2, 3)])
    def test_plain_frame_types(self, frame_type: int, axis_bytes: int) -> None:
        values = [[-5, 7, 100], [1, -1, -100]]
        content = b"".join(
            v.to_bytes(axis_bytes, "little", signed=True) for row in values for v in row
        )
        f = decode_frame(_header(2, 5, frame_type) + content)
        assert isinstance(f, PmdAccFrame)
        assert_array_equal(f.acc_mg, values)

    def test_plain_frames_ignore_factor_as_the_sdk_does(self) -> None:
        f = decode_frame(_header(2, 5, 1) + _hex("F7 FF FF FF E7 03"), factor=2.0)
        assert isinstance(f, PmdAccFrame)
        assert_array_equal(f.acc_mg, [[-9, -1, 999]])

    def test_reference_sample_sign_extended_at_resolution(self) -> None:
        # 14-bit reference 0x2000 in two bytes is -8192 (§4.12 step 1).
        content = _hex("00 20 FF 1F 01 00")
        f = decode_frame(_header(2, 5, 0x81) + content, resolution_bits=14)
        assert isinstance(f, PmdAccFrame)
        assert_array_equal(f.acc_mg, [[-8192, 8191, 1]])

    @pytest.mark.parametrize(
        ("frame_type", "content", "kwargs", "fragment"),
        [
            (0x03, "00 00 00", {}, "unsupported frame type 3"),
            (0x82, "00 00 00 00 00 00", {}, "unsupported compressed frame type 2"),
            (0x01, "", {}, "carries no samples"),
            (0x01, "00 00 00 00 00", {}, "5 payload bytes are not a multiple of the 6-byte"),
            (0x81, "00 00 00 00 00", {}, "reference sample needs 6"),
            (0x81, "00 00 00 00 00 00 04", {}, "block 0 header at byte 6 is truncated"),
            (0x81, "00 00 00 00 00 00 21 01" + " 00" * 12, {}, "bit width 33, above"),
            (0x81, "00 00 00 00 00 00 00 05", {}, "bit width 0 with 5 samples"),
            (0x81, "00 00 00 00 00 00 08 02 00 00 00 00 00", {}, "needs 6 bytes but only 5"),
            (
                0x81,
                "00 00 00 00 00 00 01 01 00 04 01 00",
                {},
                "block 1 (1 samples × 3 channels × 4 bits) needs 2 bytes but only 1",
            ),
            (0x01, "00" * 6, {"fs_hz": 0}, "invalid stream setting fs_hz"),
            (0x01, "00" * 6, {"fs_hz": math.nan}, "invalid stream setting fs_hz"),
            (0x81, "00" * 6, {"resolution_bits": 0}, "invalid stream setting resolution_bits"),
            (0x81, "00" * 6, {"resolution_bits": 33}, "invalid stream setting resolution_bits"),
            (0x81, "00" * 6, {"factor": -1.0}, "invalid stream setting factor"),
        ],
    )
    def test_malformed_raises_decode_error(
        self, frame_type: int, content: str, kwargs: dict[str, float], fragment: str
    ) -> None:
        with pytest.raises(DecodeError) as info:
            decode_frame(_header(2, 5, frame_type) + _hex(content), **kwargs)  # type: ignore[arg-type]
        assert fragment in str(info.value)

    def test_empty_blocks_are_accepted(self) -> None:
        content = _hex("01 00 02 00 03 00") + _hex("05 00") + _hex("00 00")
        f = decode_frame(_header(2, 5, 0x81) + content)
        assert isinstance(f, PmdAccFrame)
        assert_array_equal(f.acc_mg, [[1, 2, 3]])

    @ROUND_TRIP
    @given(st.data())
    def test_delta_round_trip(self, data: st.DataObject) -> None:
        resolution = data.draw(st.integers(2, 24), label="resolution_bits")
        lo, hi = -(1 << (resolution - 1)), (1 << (resolution - 1)) - 1
        n = data.draw(st.integers(1, 120), label="n_samples")
        samples = np.array(
            data.draw(st.lists(st.tuples(*[st.integers(lo, hi)] * 3), min_size=n, max_size=n)),
            dtype=np.int64,
        ).reshape(n, 3)
        content = _encode_delta(samples, resolution, data)
        f = decode_frame(_header(2, 7, 0x81) + content, resolution_bits=resolution)
        assert isinstance(f, PmdAccFrame)
        assert f.compressed
        assert_array_equal(f.acc_mg, samples)
        g = decode_frame(_header(2, 7, 0x80) + content, resolution_bits=resolution, factor=0.5)
        assert isinstance(g, PmdAccFrame)
        assert_allclose(g.acc_mg, samples * 500.0, rtol=0, atol=0)

    @ROUND_TRIP
    @given(
        st.sampled_from([(0, 1), (1, 2), (2, 3)]),
        st.lists(st.integers(-128, 127), min_size=3, max_size=120).filter(
            lambda v: len(v) % 3 == 0
        ),
    )
    def test_plain_round_trip(
        self, frame_type_and_width: tuple[int, int], values: list[int]
    ) -> None:
        frame_type, width = frame_type_and_width
        content = b"".join(v.to_bytes(width, "little", signed=True) for v in values)
        f = decode_frame(_header(2, 7, frame_type) + content)
        assert isinstance(f, PmdAccFrame)
        assert_array_equal(f.acc_mg.ravel(), values)


def _min_width(values: np.ndarray) -> int:
    """Smallest two's-complement bit width holding every value (at least 1)."""
    width = 1
    for v in values.ravel().tolist():
        width = max(width, (v if v >= 0 else ~v).bit_length() + 1)
    return width


def _encode_delta(samples: np.ndarray, resolution: int, data: st.DataObject) -> bytes:
    """Test-only encoder of a delta-compressed payload (§4.12), random block split and widths."""
    ref_bytes = (resolution + 7) // 8
    out = bytearray()
    for v in samples[0].tolist():
        out += (v & ((1 << (8 * ref_bytes)) - 1)).to_bytes(ref_bytes, "little")
    deltas = np.diff(samples, axis=0)
    i = 0
    while i < len(deltas):
        if data.draw(st.booleans(), label="empty block") and data.draw(st.booleans()):
            out += bytes([data.draw(st.integers(1, 32)), 0])
        count = data.draw(st.integers(1, min(255, len(deltas) - i)), label="block count")
        block = deltas[i : i + count]
        width = _min_width(block) + data.draw(st.integers(0, 3), label="extra width")
        width = min(width, 32)
        acc, pos = 0, 0
        for d in block.ravel().tolist():  # interleaved x0 y0 z0 x1 …, LSB-first
            acc |= (d & ((1 << width) - 1)) << pos
            pos += width
        out += bytes([width, count]) + acc.to_bytes((pos + 7) // 8, "little")
        i += count
    return bytes(out)


class TestDecodeFramePpi:
    # ble-protocol.md §4.11: constructed from the layout, header 03 | ts | 00.
    @pytest.mark.parametrize(
        ("sample", "blocker", "contact", "supported", "usable"),
        [
            ("3C E8 03 05 00 06", False, True, True, True),
            ("3C E8 03 05 00 07", True, True, True, False),
            ("3C E8 03 05 00 04", False, False, True, False),
        ],
    )
    def test_constructed_vectors(
        self, sample: str, blocker: bool, contact: bool, supported: bool, usable: bool
    ) -> None:
        f = decode_frame(_header(3, 0, 0) + _hex(sample))
        assert isinstance(f, PmdPpiFrame)
        assert f.measurement is PPI
        assert f.sensor_timestamp_ns == 0  # may be 0 (§4.11)
        (s,) = f.samples
        assert (s.hr_bpm, s.ppi_ms, s.error_estimate_ms) == (60, 1000, 5)
        assert (s.blocker, s.skin_contact, s.skin_contact_supported) == (
            blocker,
            contact,
            supported,
        )
        assert s.usable is usable

    def test_several_samples_and_ppi_array(self) -> None:
        f = decode_frame(_header(3, 9, 0) + _hex("3C E8 03 05 00 06 40 B0 04 0A 00 06"))
        assert isinstance(f, PmdPpiFrame)
        assert f.n_samples == 2 and f.fs_hz is None
        assert_array_equal(f.ppi_ms, [1000.0, 1200.0])

    @pytest.mark.parametrize(
        ("frame_type", "content", "fragment"),
        [
            (0, "3C E8 03 05 00", "not a multiple of the 6-byte sample"),
            (0, "", "carries no samples"),
            (1, "3C E8 03 05 00 06", "PPI frame: unsupported frame type 1"),
            (0x80, "3C E8 03 05 00 06", "unsupported frame type 0 (delta-compressed)"),
        ],
    )
    def test_malformed_raises_decode_error(
        self, frame_type: int, content: str, fragment: str
    ) -> None:
        with pytest.raises(DecodeError) as info:
            decode_frame(_header(3, 0, frame_type) + _hex(content))
        assert fragment in str(info.value)


class TestDecodeFrameHeader:
    @pytest.mark.parametrize("length", range(10))
    def test_short_header_raises_decode_error(self, length: int) -> None:
        with pytest.raises(DecodeError, match=f"{length} byte\\(s\\), shorter than the 10-byte"):
            decode_frame(bytes(length))

    @pytest.mark.parametrize("type_byte", [4, 8, 15, 0x3F])
    def test_unknown_measurement_type(self, type_byte: int) -> None:
        with pytest.raises(DecodeError, match=f"unknown measurement type {type_byte}"):
            decode_frame(_header(type_byte, 0, 0) + bytes(6))

    @pytest.mark.parametrize(("type_byte", "name"), [(1, "PPG"), (5, "GYRO"), (6, "MAG")])
    def test_known_but_undecoded_measurement_type(self, type_byte: int, name: str) -> None:
        with pytest.raises(DecodeError, match=f"measurement type {name} \\({type_byte}\\)"):
            decode_frame(_header(type_byte, 0, 0) + bytes(6))

    def test_measurement_byte_is_masked_with_0x3f(self) -> None:
        f = decode_frame(bytes([0xC0]) + SDK_ECG_FRAME[1:])
        assert isinstance(f, PmdEcgFrame)

    def test_timestamp_is_uint64_little_endian(self) -> None:
        f = decode_frame(_header(0, (1 << 64) - 1, 0) + bytes(3))
        assert f.sensor_timestamp_ns == (1 << 64) - 1

    @FUZZ
    @given(st.binary(max_size=300))
    def test_fuzz_any_bytes_only_decode_error(self, payload: bytes) -> None:
        _decode_or_decode_error(payload)

    @FUZZ
    @given(st.sampled_from([0, 2, 3, 0x42]), st.binary(max_size=290))
    def test_fuzz_supported_types_any_content(self, type_byte: int, content: bytes) -> None:
        ft = content[0] if content else 0
        _decode_or_decode_error(_header(type_byte, 1, ft) + content[1:], factor=0.25)

    @FUZZ
    @given(st.data())
    def test_fuzz_almost_valid_delta_frames(self, data: st.DataObject) -> None:
        content = bytearray(data.draw(st.binary(min_size=0, max_size=8), label="reference"))
        for _ in range(data.draw(st.integers(0, 4))):
            width = data.draw(st.sampled_from([0, 1, 5, 8, 16, 31, 32, 33, 200]))
            count = data.draw(st.integers(0, 255))
            needed = (width * count * 3 + 7) // 8
            slack = data.draw(st.integers(-3, 2))
            content += bytes([width, count]) + bytes(max(0, min(needed + slack, 600)))
        if data.draw(st.booleans()):
            content += bytes([data.draw(st.integers(0, 255))])  # dangling header byte
        resolution = data.draw(st.none() | st.integers(1, 32))
        ft = data.draw(st.sampled_from([0x80, 0x81]))
        _decode_or_decode_error(
            _header(2, 1, ft) + bytes(content), resolution_bits=resolution, factor=1.0
        )

    @FUZZ
    @given(
        type_byte=st.sampled_from([0, 2, 3]),
        frame_type=st.sampled_from([0, 1, 2, 3, 0x7F]),
        n_bytes=st.integers(0, 250),
        kwargs=st.fixed_dictionaries(
            {},
            optional={
                "fs_hz": st.sampled_from([130, 200.0, 0, -1.0, math.inf]),
                "resolution_bits": st.sampled_from([1, 14, 16, 32, 0, 33]),
                "factor": st.sampled_from([1.0, 2.44e-4, 0.0, math.nan]),
            },
        ),
    )
    def test_fuzz_plain_lengths_and_settings(
        self, type_byte: int, frame_type: int, n_bytes: int, kwargs: dict[str, float]
    ) -> None:
        _decode_or_decode_error(_header(type_byte, 1, frame_type) + bytes(n_bytes), **kwargs)


def _decode_or_decode_error(payload: bytes, **kwargs: float | None) -> None:
    try:
        f = decode_frame(payload, **kwargs)  # type: ignore[arg-type]
    except DecodeError:
        return
    assert isinstance(f, PmdEcgFrame | PmdAccFrame | PmdPpiFrame)
    assert f.n_samples >= 1
    if isinstance(f, PmdEcgFrame):
        assert f.ecg_uv.shape == (f.n_samples,)
    elif isinstance(f, PmdAccFrame):
        assert f.acc_mg.shape == (f.n_samples, 3)
        assert np.all(np.isfinite(f.acc_mg))


# --- Host-anchored timing (§4.8) ----------------------------------------------------------------

FS_ECG = 130.0
N_ECG = 73  # samples per H10 ECG frame at MTU >= 232 (§4.9)


def _stream(
    n_frames: int,
    *,
    device_rate_hz: float = FS_ECG,
    clock_ratio: float = 1.0,
    latency_s: np.ndarray | None = None,
    t0_ns: int = 700_000_000_000_000_000,
) -> list[tuple[int, float, np.ndarray]]:
    """Frames of a synthetic stream: (device ts of last sample, host arrival, true sample times).

    Samples are taken at `device_rate_hz` in host time; the device clock runs at `clock_ratio`
    × host speed (< 1: slow). Latency per frame from `latency_s` (default 10 ms).
    """
    frames = []
    for k in range(n_frames):
        idx = np.arange(k * N_ECG, (k + 1) * N_ECG)
        true_s = 50.0 + idx / device_rate_hz
        ts_ns = t0_ns + round((true_s[-1] - 50.0) * clock_ratio * 1e9)
        lat = 0.010 if latency_s is None else float(latency_s[k])
        frames.append((ts_ns, float(true_s[-1] + lat), true_s))
    return frames


class TestPmdClock:
    def test_first_frame_nominal_spacing_ending_at_arrival(self) -> None:
        clock = PmdClock(FS_ECG)
        t = clock.sample_times_s(2_000_000_000, N_ECG, 100.0)
        assert t.shape == (N_ECG,)
        assert t[-1] == 100.0
        assert_allclose(np.diff(t), 1 / FS_ECG, rtol=1e-9)
        assert clock.n_reanchors == 0

    def test_steady_stream_uses_actual_device_rate(self) -> None:
        # Device samples at 130.27 Hz (sub001.xdf, §4.8) with its timestamps agreeing.
        clock = PmdClock(FS_ECG)
        frames = _stream(20, device_rate_hz=130.27)
        for k, (ts, arrival, true_s) in enumerate(frames):
            t = clock.sample_times_s(ts, N_ECG, arrival)
            if k == 0:  # no previous timestamp: nominal spacing (PmdTimeStampUtils)
                assert_allclose(np.diff(t), 1 / FS_ECG, rtol=1e-9)
            else:
                assert_allclose(t - t[-1], true_s - true_s[-1], atol=1e-6)
            assert t[-1] == pytest.approx(arrival, abs=1e-6)
        assert clock.n_reanchors == 0 and clock.n_gaps == 0

    def test_late_first_frame_converges_to_prompt_frames(self) -> None:
        latency = np.full(40, 0.010)
        latency[0] = 0.300  # ECG start latency / buffering (§4.14): first arrival is late
        clock = PmdClock(FS_ECG)
        out = [clock.sample_times_s(ts, N_ECG, a) for ts, a, _ in _stream(40, latency_s=latency)]
        frames = _stream(40, latency_s=latency)
        # error vs true time: starts at ~+290 ms, ends within the 10 ms minimum latency
        err_first = out[0][-1] - frames[0][2][-1]
        err_last = out[-1][-1] - frames[-1][2][-1]
        assert err_first == pytest.approx(0.300)
        assert abs(err_last - 0.010) < 1e-6
        assert clock.n_reanchors == 0
        assert np.all(np.diff(np.concatenate(out)) > 0)

    def test_very_late_first_frame_is_slewed_back_without_going_back_in_time(self) -> None:
        latency = np.full(80, 0.010)
        latency[0] = 3.0  # beyond MAX_STEP_S, but earlier times were already handed out
        frames = _stream(80, latency_s=latency)
        clock = PmdClock(FS_ECG)
        out = [clock.sample_times_s(ts, N_ECG, a) for ts, a, _ in frames]
        assert clock.n_reanchors == 0
        assert np.all(np.diff(np.concatenate(out)) > 0)
        spacing = np.diff(np.concatenate(out[1:]))
        assert np.all(spacing > (1 - 0.10) / FS_ECG - 1e-9)  # compressed by at most MAX_SLEW
        assert abs(out[-1][-1] - frames[-1][2][-1] - 0.010) < 1e-6

    def test_burst_of_late_frames_is_ignored_then_a_lasting_offset_reanchors(self) -> None:
        latency = np.full(40, 0.010)
        latency[5:] = 4.0  # from frame 5 on everything arrives 4 s late (backlog or host stall)
        frames = _stream(40, latency_s=latency)
        clock = PmdClock(FS_ECG)
        out = [clock.sample_times_s(ts, N_ECG, a) for ts, a, _ in frames]
        # while prompt frames are in the envelope window the late ones keep their true times
        assert_allclose(out[6], frames[6][2] + 0.010, atol=1e-6)
        # once the window holds only late frames the 4 s disagreement re-anchors, forward
        assert clock.n_reanchors == 1
        assert out[-1][-1] == pytest.approx(frames[-1][1])
        assert np.all(np.diff(np.concatenate(out)) > 0)

    @pytest.mark.parametrize("clock_ratio", [0.998, 1.002, 0.95, 1.05])
    def test_sensor_clock_drift_is_tracked(self, clock_ratio: float) -> None:
        # One hour of H10 ECG; naive anchoring would be off by 7 s (0.2 %) or 180 s (5 %).
        rng = np.random.default_rng(3)
        n_frames = int(3600 * FS_ECG / N_ECG)
        latency = 0.008 + rng.exponential(0.02, n_frames)
        frames = _stream(n_frames, clock_ratio=clock_ratio, latency_s=latency)
        clock = PmdClock(FS_ECG)
        last = -math.inf
        worst = 0.0
        for k, (ts, arrival, true_s) in enumerate(frames):
            t = clock.sample_times_s(ts, N_ECG, arrival)
            assert t[0] > last
            last = t[-1]
            if k > 100:
                worst = max(worst, abs(t[-1] - true_s[-1]))
        assert worst < 0.1
        assert clock.n_reanchors == 0

    def test_lost_frames_keep_the_gap(self) -> None:
        frames = _stream(10)
        kept = frames[:4] + frames[6:]  # two notifications lost
        clock = PmdClock(FS_ECG)
        out = [clock.sample_times_s(ts, N_ECG, a) for ts, a, _ in kept]
        assert clock.n_gaps == 1
        after_gap = out[4]
        assert_allclose(after_gap, kept[4][2] + 0.010, atol=1e-6)

    def test_h10_clock_reset_reanchors_forward_in_time(self) -> None:
        frames = _stream(6)
        clock = PmdClock(FS_ECG)
        out = [clock.sample_times_s(ts, N_ECG, a) for ts, a, _ in frames[:3]]
        # the device clock falls back to 2019-01-01 (§4.8) mid-stream
        for j, (ts, arrival, _) in enumerate(frames[3:]):
            reset_ts = H10_RESET_TIMESTAMP_NS + (ts - frames[3][0])
            out.append(clock.sample_times_s(reset_ts, N_ECG, arrival))
            if j == 0:
                assert out[-1][-1] == pytest.approx(arrival)
        assert clock.n_reanchors == 1
        assert np.all(np.diff(np.concatenate(out)) > 0)

    def test_forward_jump_of_device_clock_reanchors(self) -> None:
        frames = _stream(6)
        clock = PmdClock(FS_ECG)
        for k, (ts, arrival, _) in enumerate(frames):
            jump = 3600 * 10**9 if k >= 3 else 0  # setLocalTime mid-stream
            t = clock.sample_times_s(ts + jump, N_ECG, arrival)
        assert clock.n_reanchors == 1
        assert t[-1] == pytest.approx(frames[-1][1], abs=1e-6)

    def test_reset_forgets_the_anchor(self) -> None:
        clock = PmdClock(FS_ECG)
        clock.sample_times_s(10**12, N_ECG, 10.0)
        assert clock.offset_s is not None
        clock.reset()
        assert clock.offset_s is None
        t = clock.sample_times_s(5, N_ECG, 3.0)  # new stream, earlier device time: no re-anchor
        assert t[-1] == 3.0 and clock.n_reanchors == 0

    def test_zero_samples_returns_empty(self) -> None:
        clock = PmdClock(FS_ECG)
        assert clock.sample_times_s(1, 0, 1.0).shape == (0,)
        assert clock.offset_s is None

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"fs_hz": 0},
            {"fs_hz": math.nan},
            {"fs_hz": 130, "max_slew": 1.0},
            {"fs_hz": 130, "rate_tolerance": 0},
            {"fs_hz": 130, "max_step_s": -1},
            {"fs_hz": 130, "envelope_window_s": math.inf},
        ],
    )
    def test_invalid_parameters_raise_config_error(self, kwargs: dict[str, float]) -> None:
        with pytest.raises(ConfigError):
            PmdClock(**kwargs)

    def test_non_finite_arrival_raises_config_error(self) -> None:
        with pytest.raises(ConfigError, match="host_arrival_s"):
            PmdClock(FS_ECG).sample_times_s(1, 3, math.nan)

    @ROUND_TRIP
    @given(
        fs_hz=st.sampled_from([25.0, 52.0, 130.0, 200.0, 1000.0]),
        steps=st.lists(
            st.tuples(
                st.integers(-(10**10), 10**10),  # device ts step (ns): backwards, gaps, jumps
                st.integers(1, 80),  # samples
                st.floats(0.0, 5.0),  # host arrival step (s)
            ),
            min_size=1,
            max_size=30,
        ),
    )
    def test_host_times_strictly_increase_whatever_the_timestamps(
        self, fs_hz: float, steps: list[tuple[int, int, float]]
    ) -> None:
        clock = PmdClock(fs_hz)
        ts, arrival, last = 10**15, 1000.0, -math.inf
        for dts, n, darr in steps:
            ts += dts
            arrival += darr
            t = clock.sample_times_s(ts, n, arrival)
            assert t.shape == (n,)
            assert np.all(np.isfinite(t))
            assert t[0] > last
            assert np.all(np.diff(t) > 0)
            last = t[-1]

    @ROUND_TRIP
    @given(st.lists(st.floats(0.0, 0.2), min_size=30, max_size=60))
    def test_realistic_jitter_keeps_times_within_latency_bounds(
        self, latencies: list[float]
    ) -> None:
        assume(min(latencies[1:]) < 0.05)
        frames = _stream(len(latencies), latency_s=np.asarray(latencies))
        clock = PmdClock(FS_ECG)
        for ts, arrival, true_s in frames:
            t = clock.sample_times_s(ts, N_ECG, arrival)
            # never earlier than the sample itself (latency >= 0), never later than the worst
            # latency seen: the offset only ever moves between observed arrival offsets
            assert t[-1] >= true_s[-1] - 1e-6
            assert t[-1] <= true_s[-1] + max(latencies) + 1e-6
