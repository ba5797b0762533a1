"""Per-profile preferences: practice rate, last strap, the app's settings (issue 8)."""

from __future__ import annotations

import json

import pytest

from pet_biofeedback.errors import ConfigError
from pet_biofeedback.paths import data_dir
from pet_biofeedback.session.feedback import DEFAULT_LEVELS
from pet_biofeedback.session.feedback_difficulty import with_difficulty
from pet_biofeedback.session.preferences import (
    PREFERENCES_FILE,
    CoachSettings,
    coach_settings,
    last_device,
    practice_rate,
    remember_coach_settings,
    remember_last_device,
    remember_practice_rate,
)


def test_practice_rate_after_last_device_keeps_the_device() -> None:
    # Regression (issue 8): remember_practice_rate replaced the whole profile entry.
    remember_last_device("ann", "ble:AA:BB:CC:DD:EE:FF")
    remember_practice_rate("ann", 5.5, source="assessment x")
    assert last_device("ann") == "ble:AA:BB:CC:DD:EE:FF"
    assert practice_rate("ann") == 5.5


def test_last_device_is_per_profile() -> None:
    assert last_device("ann") is None
    remember_last_device("ann", "sim")
    assert last_device("ann") == "sim"
    assert last_device("bob") is None


def test_settings_round_trip_and_rate_becomes_the_practice_rate() -> None:
    chosen = CoachSettings(
        breaths_per_min=5.5,
        inhale_parts=5.0,
        exhale_parts=5.0,
        hold_after_inhale_s=1.0,
        shape="linear",
        minutes=15.0,
        difficulty="easier",
        colour_blind_palette=True,
        large_text=True,
    )
    remember_coach_settings("ann", chosen)
    assert coach_settings("ann") == chosen
    assert practice_rate("ann") == 5.5
    assert coach_settings("bob") == CoachSettings()


def test_an_assessment_rate_shows_in_the_settings() -> None:
    remember_coach_settings("ann", CoachSettings(minutes=20.0))
    remember_practice_rate("ann", 4.5, source="assessment y")
    settings = coach_settings("ann")
    assert settings.breaths_per_min == 4.5 and settings.minutes == 20.0


def test_damaged_settings_fall_back_to_defaults() -> None:
    path = data_dir() / PREFERENCES_FILE
    path.write_text(json.dumps({"profiles": {"ann": {"settings": {"minutes": 900}}}}))
    assert coach_settings("ann") == CoachSettings()


@pytest.mark.parametrize(
    "bad",
    [
        {"minutes": 1.0},
        {"breaths_per_min": 12.0},
        {"hold_after_exhale_s": -1.0},
        {"difficulty": "brutal"},
        {"shape": "square"},
    ],
)
def test_settings_out_of_range_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        CoachSettings(**bad)  # type: ignore[arg-type]


def test_difficulty_scales_both_thresholds() -> None:
    easier = with_difficulty(DEFAULT_LEVELS, "easier")
    harder = with_difficulty(DEFAULT_LEVELS, "harder")
    assert with_difficulty(DEFAULT_LEVELS, "standard") is DEFAULT_LEVELS
    assert easier.coherence.high < DEFAULT_LEVELS.coherence.high < harder.coherence.high
    assert easier.rsa_bpm.low < DEFAULT_LEVELS.rsa_bpm.low < harder.rsa_bpm.low
