"""``record --help`` does not offer ``--speed max`` for emulated straps (issue #9)."""

from __future__ import annotations

import math

import pytest

from pet_biofeedback.errors import ConfigError
from pet_biofeedback.session.sources import MAX_EMULATED_SPEED, open_source
from tests.unit.test_cli import run


def _speed_help(capsys: pytest.CaptureFixture[str]) -> str:
    code, out, _ = run(["record", "--help"], capsys)
    assert code == 0
    text = " ".join(out.split())
    return text[text.rindex("--speed X|max") :].split(" --", 1)[0]


def test_record_help_offers_max_only_where_it_works(capsys: pytest.CaptureFixture[str]) -> None:
    # Regression (#9): "for sim, emulated and file sources: X times real time, or max".
    text = _speed_help(capsys)
    assert f"emulated straps: X up to {MAX_EMULATED_SPEED:g}, not max" in text
    offering_max = text.split(";")[0]
    assert "or max" in offering_max and "emulated" not in offering_max


def test_what_the_help_says_is_what_open_source_does() -> None:
    with pytest.raises(ConfigError, match="not at --speed max"):
        open_source("emulated:h10", speed=math.inf)
    with pytest.raises(ConfigError, match="at most"):
        open_source("emulated:h10", speed=MAX_EMULATED_SPEED * 2)
