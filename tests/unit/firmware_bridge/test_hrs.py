"""Tests for pet_biofeedback.firmware_bridge.hrs: published vectors, edge cases, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pet_biofeedback.errors import DecodeError
from pet_biofeedback.firmware_bridge.hrs import (
    BATTERY_LEVEL_UUID,
    HEART_RATE_MEASUREMENT_UUID,
    HEART_RATE_SERVICE_UUID,
    RESET_ENERGY_EXPENDED_COMMAND,
    BodySensorLocation,
    HeartRateMeasurement,
    PnpId,
    decode_battery_level,
    decode_body_sensor_location,
    decode_device_information_string,
    decode_heart_rate_measurement,
    decode_pnp_id,
)

FUZZ = settings(max_examples=400, deadline=None)
ROUND_TRIP = settings(max_examples=300, deadline=None)


def _hex(text: str) -> bytes:
    return bytes.fromhex(text)


# ble-protocol.md §2.2: (bytes, flags, HR, contact, EE, RR ms, ignored trailing bytes). The first
# nine are the Polar SDK's BleHrClientTest.kt vectors, the Garmin packet is the forum report of
# §2.3, the rest are constructed for the real-strap cases of §2.3.
HRS_VECTORS: list[tuple[str, int, int, bool | None, int | None, list[float], int]] = [
    ("00 FF", 0x00, 255, None, None, [], 0),
    ("01 80 80", 0x01, 32896, None, None, [], 0),
    ("06 00", 0x06, 0, True, None, [], 0),
    ("04 00", 0x04, 0, False, None, [], 0),
    ("02 00", 0x02, 0, None, None, [], 0),
    ("09 00 00 FF FF", 0x09, 0, None, 65535, [], 0),
    ("08 00 7F 80", 0x08, 0, None, 32895, [], 0),
    ("10 00 FF FF", 0x10, 0, None, None, [63999.0234375], 0),
    ("11 00 00 FF FF 7F 80", 0x11, 0, None, None, [63999.0234375, 32124.0234375], 0),
    ("16 3C 00 04", 0x16, 60, True, None, [1000.0], 0),
    ("16 3E CD 03 DA 03", 0x16, 62, True, None, [950.1953125, 962.890625], 0),
    ("06 3E", 0x06, 62, True, None, [], 0),
    ("19 40 00 10 00 00 04", 0x19, 64, None, 16, [1000.0], 0),
    ("10 38 2D 04 35 00", 0x10, 56, None, None, [1043.9453125, 51.7578125], 0),
    ("16 3C 00 04 01", 0x16, 60, True, None, [1000.0], 1),
]


class TestDecodeHeartRateMeasurement:
    @pytest.mark.parametrize(
        ("payload", "flags", "hr_bpm", "contact", "energy_kj", "rr_ms", "n_ignored"), HRS_VECTORS
    )
    def test_published_vectors_decode_exactly(
        self,
        payload: str,
        flags: int,
        hr_bpm: int,
        contact: bool | None,
        energy_kj: int | None,
        rr_ms: list[float],
        n_ignored: int,
    ) -> None:
        m = decode_heart_rate_measurement(_hex(payload))
        assert m.flags == flags
        assert m.hr_bpm == hr_bpm
        assert m.contact is contact
        assert m.energy_kj == energy_kj
        assert m.rr_ms == tuple(rr_ms)  # exact: raw * 1000 / 1024 is exact in float64
        assert m.n_ignored_bytes == n_ignored
        assert all(isinstance(v, float) for v in m.rr_ms)

    def test_rr_keeps_full_precision_not_rounded_ms(self) -> None:
        # The Polar SDK rounds to whole ms (mapRr1024ToRrMs); we must not (§2.1).
        m = decode_heart_rate_measurement(_hex("10 3C CD 03"))
        assert m.rr_ms == (950.1953125,)
        assert m.rr_raw == (0x03CD,)

    def test_h10_flags_0x10_have_no_contact_information(self) -> None:
        # H10 sends flags 0x10: contact not supported -> None, never False (§2.3).
        assert decode_heart_rate_measurement(_hex("10 3C 00 04")).contact is None

    def test_energy_expended_shifts_rr_offset(self) -> None:
        # una-sdk#220: with EE the RR values start 2 bytes later (§2.3).
        m = decode_heart_rate_measurement(_hex("18 3C 34 12 00 04 00 02"))
        assert m.energy_kj == 0x1234
        assert m.rr_ms == (1000.0, 500.0)

    def test_batch_of_many_rr_values_keeps_every_beat_oldest_first(self) -> None:
        # TrackMyIndoorWorkout#372: reading only "the" RR drops beats (§2.3).
        raw = [700, 710, 720, 730, 740, 750, 760, 770, 780]  # 9 RR fit one MTU-23 packet (§2.1)
        payload = bytes([0x10, 80]) + b"".join(r.to_bytes(2, "little") for r in raw)
        assert len(payload) == 20
        m = decode_heart_rate_measurement(payload)
        assert m.rr_raw == tuple(raw)
        assert m.rr_ms == tuple(r * 1000 / 1024 for r in raw)

    def test_reserved_flag_bits_are_ignored(self) -> None:
        m = decode_heart_rate_measurement(_hex("F6 3C 00 04"))
        assert (m.hr_bpm, m.contact, m.rr_ms, m.flags) == (60, True, (1000.0,), 0xF6)

    def test_rr_flag_with_no_rr_bytes_yields_no_rr(self) -> None:
        assert decode_heart_rate_measurement(_hex("10 3C")).rr_ms == ()

    def test_rr_flag_with_single_rr_byte_ignores_and_counts_it(self) -> None:
        m = decode_heart_rate_measurement(_hex("10 3C 05"))
        assert (m.rr_ms, m.n_ignored_bytes) == ((), 1)

    def test_bytes_after_fields_without_rr_flag_are_ignored_and_counted(self) -> None:
        m = decode_heart_rate_measurement(_hex("06 3E 00 04"))
        assert (m.hr_bpm, m.rr_ms, m.n_ignored_bytes) == (62, (), 2)

    def test_bytearray_input_is_accepted(self) -> None:
        # bleak hands notification callbacks a bytearray (§5.2).
        assert decode_heart_rate_measurement(bytearray(_hex("16 3C 00 04"))).hr_bpm == 60

    def test_result_is_frozen(self) -> None:
        m = decode_heart_rate_measurement(_hex("00 3C"))
        with pytest.raises(AttributeError):
            m.hr_bpm = 1  # type: ignore[misc]  # frozen dataclass: assignment must fail

    @pytest.mark.parametrize(
        ("payload", "fragment"),
        [
            ("", "empty payload"),
            ("01 3C", "flags 0x01 say uint16 HR but payload has 1 byte(s)"),
            ("01", "flags 0x01 say uint16 HR but payload has 0 byte(s)"),
            ("00", "say uint8 HR but payload has no byte"),
            ("08 3C 10", "Energy Expended is present but only 1 byte(s) follow"),
            ("08 3C", "Energy Expended is present but only 0 byte(s) follow"),
            ("09 3C 00 10", "Energy Expended is present but only 1 byte(s) follow"),
        ],
    )
    def test_malformed_payloads_raise_decode_error_saying_what(
        self, payload: str, fragment: str
    ) -> None:
        with pytest.raises(DecodeError, match="heart rate measurement") as info:
            decode_heart_rate_measurement(_hex(payload))
        assert fragment in str(info.value)

    @FUZZ
    @given(st.binary(max_size=300))
    def test_fuzz_any_bytes_decode_or_raise_decode_error(self, payload: bytes) -> None:
        try:
            m = decode_heart_rate_measurement(payload)
        except DecodeError:
            return
        assert isinstance(m, HeartRateMeasurement)
        assert m.flags == payload[0]
        assert len(m.rr_ms) == len(m.rr_raw)
        assert m.n_ignored_bytes >= 0

    @FUZZ
    @given(
        flags=st.integers(0, 255),
        tail=st.lists(st.integers(0, 255), max_size=7),
    )
    def test_fuzz_every_flag_combination_near_field_boundaries(
        self, flags: int, tail: list[int]
    ) -> None:
        payload = bytes([flags, *tail])
        needed = 1 + (2 if flags & 0x01 else 1) + (2 if flags & 0x08 else 0)
        if len(payload) < needed:
            with pytest.raises(DecodeError):
                decode_heart_rate_measurement(payload)
        else:
            m = decode_heart_rate_measurement(payload)
            consumed = needed + 2 * len(m.rr_raw) + m.n_ignored_bytes
            assert consumed == len(payload)

    @ROUND_TRIP
    @given(
        uint16=st.booleans(),
        hr=st.integers(0, 0xFFFF),
        contact=st.sampled_from([None, False, True, "bit1-only"]),
        energy_kj=st.none() | st.integers(0, 0xFFFF),
        rr_raw=st.none() | st.lists(st.integers(0, 0xFFFF), max_size=12),
        odd_trailing_byte=st.booleans(),
    )
    def test_round_trip_encoded_fields_come_back_exactly(
        self,
        uint16: bool,
        hr: int,
        contact: bool | str | None,
        energy_kj: int | None,
        rr_raw: list[int] | None,
        odd_trailing_byte: bool,
    ) -> None:
        hr_bpm = hr if uint16 else hr & 0xFF
        payload = _encode_hrm(hr_bpm, uint16, contact, energy_kj, rr_raw, odd_trailing_byte)
        m = decode_heart_rate_measurement(payload)
        assert m.hr_bpm == hr_bpm
        assert m.contact is (None if contact == "bit1-only" else contact)
        assert m.energy_kj == energy_kj
        assert m.rr_raw == tuple(rr_raw or ())
        assert m.rr_ms == tuple(r * 1000 / 1024 for r in rr_raw or ())
        assert m.n_ignored_bytes == int(odd_trailing_byte)


def _encode_hrm(
    hr_bpm: int,
    uint16: bool,
    contact: bool | str | None,
    energy_kj: int | None,
    rr_raw: list[int] | None,
    odd_trailing_byte: bool,
) -> bytes:
    """Test-only encoder of a Heart Rate Measurement (ble-protocol.md §2.1)."""
    flags = 0x01 if uint16 else 0
    if contact == "bit1-only":
        flags |= 0x02  # bit 1 without bit 2: feature unsupported
    elif contact is not None:
        flags |= 0x04 | (0x02 if contact else 0)
    body = hr_bpm.to_bytes(2 if uint16 else 1, "little")
    if energy_kj is not None:
        flags |= 0x08
        body += energy_kj.to_bytes(2, "little")
    if rr_raw is not None:
        flags |= 0x10
        body += b"".join(r.to_bytes(2, "little") for r in rr_raw)
    if odd_trailing_byte:
        body += b"\x5a"
    return bytes([flags]) + body


class TestDecodeBatteryLevel:
    @pytest.mark.parametrize(("payload", "battery_pct"), [("00", 0), ("55", 85), ("64", 100)])
    def test_valid_levels(self, payload: str, battery_pct: int) -> None:
        assert decode_battery_level(_hex(payload)) == battery_pct

    @pytest.mark.parametrize(
        ("payload", "fragment"),
        [
            ("", "expected 1 byte, payload has 0"),
            ("64 00", "expected 1 byte, payload has 2"),
            ("65", "101 % is out of range"),
            ("FF", "255 % is out of range"),
        ],
    )
    def test_malformed_raises_decode_error(self, payload: str, fragment: str) -> None:
        with pytest.raises(DecodeError, match="battery level") as info:
            decode_battery_level(_hex(payload))
        assert fragment in str(info.value)

    @FUZZ
    @given(st.binary(max_size=300))
    def test_fuzz_only_decode_error(self, payload: bytes) -> None:
        try:
            assert 0 <= decode_battery_level(payload) <= 100
        except DecodeError:
            pass


class TestDecodeBodySensorLocation:
    def test_chest_strap_answers_chest(self) -> None:
        assert decode_body_sensor_location(b"\x01") is BodySensorLocation.CHEST

    @pytest.mark.parametrize("value", range(7))
    def test_every_defined_value(self, value: int) -> None:
        assert decode_body_sensor_location(bytes([value])) == value

    @pytest.mark.parametrize(
        ("payload", "fragment"),
        [("", "expected 1 byte"), ("01 01", "expected 1 byte"), ("07", "value 7 is reserved")],
    )
    def test_malformed_raises_decode_error(self, payload: str, fragment: str) -> None:
        with pytest.raises(DecodeError, match=fragment):
            decode_body_sensor_location(_hex(payload))

    @FUZZ
    @given(st.binary(max_size=300))
    def test_fuzz_only_decode_error(self, payload: bytes) -> None:
        try:
            assert isinstance(decode_body_sensor_location(payload), BodySensorLocation)
        except DecodeError:
            pass


class TestDecodeDeviceInformationString:
    @pytest.mark.parametrize(
        ("payload", "text"),
        [
            (b"Polar Electro Oy", "Polar Electro Oy"),
            (b"H10", "H10"),
            (b"5.0.0\x00\x00\x00", "5.0.0"),
            (b"H10\x00garbage", "H10"),
            (b"3.1.1 \x00", "3.1.1"),
            (b"", ""),
            ("Ærø Ψ".encode(), "Ærø Ψ"),
        ],
    )
    def test_utf8_text_tolerant_of_nul_padding(self, payload: bytes, text: str) -> None:
        assert decode_device_information_string(payload) == text

    def test_invalid_utf8_raises_decode_error_with_position(self) -> None:
        with pytest.raises(DecodeError, match="invalid UTF-8 at byte 2"):
            decode_device_information_string(b"H1\xff0")

    @FUZZ
    @given(st.binary(max_size=300))
    def test_fuzz_only_decode_error(self, payload: bytes) -> None:
        try:
            assert "\x00" not in decode_device_information_string(payload)
        except DecodeError:
            pass

    @ROUND_TRIP
    @given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40))
    def test_round_trip_text(self, text: str) -> None:
        padded = text.encode() + b"\x00" * 3
        assert decode_device_information_string(padded) == text.rstrip()


class TestDecodePnpId:
    def test_polar_pnp_id(self) -> None:
        assert decode_pnp_id(_hex("01 6B 00 2A 00 03 01")) == PnpId(
            vendor_id_source=1, vendor_id=0x006B, product_id=0x002A, product_version=0x0103
        )

    @pytest.mark.parametrize("length", [0, 6, 8])
    def test_wrong_length_raises_decode_error(self, length: int) -> None:
        with pytest.raises(DecodeError, match=f"expected 7 bytes, payload has {length}"):
            decode_pnp_id(bytes(length))

    @FUZZ
    @given(st.binary(max_size=300))
    def test_fuzz_only_decode_error(self, payload: bytes) -> None:
        try:
            decode_pnp_id(payload)
        except DecodeError:
            pass


def test_uuids_are_bleak_normalised_sig_forms() -> None:
    assert HEART_RATE_SERVICE_UUID == "0000180d-0000-1000-8000-00805f9b34fb"
    assert HEART_RATE_MEASUREMENT_UUID == "00002a37-0000-1000-8000-00805f9b34fb"
    assert BATTERY_LEVEL_UUID == "00002a19-0000-1000-8000-00805f9b34fb"
    assert RESET_ENERGY_EXPENDED_COMMAND == b"\x01"
