"""Tests for pet_biofeedback.session.history_record: profile names and history rows."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from pet_biofeedback.errors import ConfigError
from pet_biofeedback.session.history_record import SessionRecord, validate_profile_name

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


class TestValidateProfileName:
    @pytest.mark.parametrize(
        ("typed", "stored"),
        [
            ("  Ana  ", "Ana"),
            ("Zoë Müller-O'Brien (Mo)", "Zoë Müller-O'Brien (Mo)"),
            ("x" * 64, "x" * 64),
            ("👩\u200d⚕\ufe0f Dr. Lee", "👩\u200d⚕\ufe0f Dr. Lee"),  # an emoji joined by ZWJ
            ("مريم\u200cعلي", "مريم\u200cعلي"),  # a zero-width non-joiner
            ("../../etc/passwd", "../../etc/passwd"),  # stored as given, never a path
        ],
    )
    def test_accepted_names_are_stored_as_given_but_stripped(self, typed: str, stored: str) -> None:
        assert validate_profile_name(typed) == stored

    @pytest.mark.parametrize(
        "typed",
        ["", "   ", "\t\n", "x" * 65, "a\tb", "a\nb", "\x1b[31mred", "a\x00b", "evil\u202etxt.exe",
         "a\u2028b", "bad\udcff"],
    )  # fmt: skip
    def test_refused_names(self, typed: str) -> None:
        with pytest.raises(ConfigError) as info:
            validate_profile_name(typed)
        assert info.value.user_message.startswith("The profile name")
        if typed.strip():
            assert typed.strip() not in str(info.value)  # personal: not repeated


class TestSessionRecord:
    def test_profile_is_validated_and_stripped(self) -> None:
        assert SessionRecord(started_at=T0, profile=" Ana ").profile == "Ana"
        with pytest.raises(ConfigError):
            SessionRecord(started_at=T0, profile="a\nb")

    def test_started_at_needs_an_offset(self) -> None:
        with pytest.raises(ConfigError, match="UTC offset"):
            SessionRecord(started_at=datetime(2026, 6, 1, 9, 0))

    def test_unknown_protocol_is_refused(self) -> None:
        with pytest.raises(ConfigError, match="unknown protocol"):
            SessionRecord(started_at=T0, protocol="yoga")  # type: ignore[arg-type]  # the test

    @pytest.mark.parametrize("value", [-0.5, 10.5, math.nan, math.inf])
    def test_ratings_outside_0_to_10_are_refused(self, value: float) -> None:
        with pytest.raises(ConfigError, match="pain_after"):
            SessionRecord(started_at=T0, pain_after=value)

    def test_non_finite_measures_become_none(self) -> None:
        record = SessionRecord(started_at=T0, coherence=math.nan, rmssd_ms=math.inf)
        assert (record.coherence, record.rmssd_ms) == (None, None)
        assert SessionRecord(started_at=T0, pain_before=0, mood_after=10).mood_after == 10.0
