"""Tests for pet_biofeedback.session.feedback_levels: levels that adapt to the person."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from pet_biofeedback.session.feedback_levels import (
    COHERENCE_DEFAULTS,
    RSA_DEFAULTS_BPM,
    LevelThresholds,
    feedback_levels_from,
)
from pet_biofeedback.session.history_record import SessionRecord

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def _sessions(
    coherence: list[float | None], protocol: str = "practice", rsa: list[float | None] | None = None
) -> list[SessionRecord]:
    rsa = rsa if rsa is not None else [None] * len(coherence)
    return [
        SessionRecord(
            started_at=T0 + timedelta(days=k),
            protocol=protocol,  # type: ignore[arg-type]  # test data
            coherence=c,
            rsa_bpm=r,
        )
        for k, (c, r) in enumerate(zip(coherence, rsa, strict=True))
    ]


class TestFeedbackLevels:
    def test_defaults_until_there_are_three_sessions(self) -> None:
        levels = feedback_levels_from(_sessions([0.9, 1.4]))
        assert (levels.coherence.low, levels.coherence.high) == COHERENCE_DEFAULTS
        assert (levels.rsa_bpm.low, levels.rsa_bpm.high) == RSA_DEFAULTS_BPM
        assert levels.coherence.source == "defaults" and levels.coherence.n_sessions == 0

    def test_terciles_of_three_sessions_by_hand(self) -> None:
        # Linear quantiles of 0.6, 0.9, 1.5: at 1/3 → 0.6 + 0.3·2/3 = 0.8; at 2/3 → 0.9 + 0.6/3.
        levels = feedback_levels_from(_sessions([0.6, 1.5, 0.9]))
        assert levels.coherence.low == pytest.approx(0.8)
        assert levels.coherence.high == pytest.approx(1.1)
        assert levels.coherence.source == "your last 3 sessions"
        assert levels.rsa_bpm.source == "defaults"  # no RSA values yet

    def test_only_the_last_ten_practice_sessions_count(self) -> None:
        values: list[float | None] = [3.9, 3.9, *(0.4 + 0.1 * k for k in range(10))]
        others = _sessions([0.01] * 5, protocol="baseline")
        levels = feedback_levels_from([*others, *_sessions(values)])
        # 0.4 … 1.3: quantiles at positions 3 and 6 → 0.7 and 1.0.
        assert (levels.coherence.low, levels.coherence.high) == pytest.approx((0.7, 1.0))
        assert levels.coherence.n_sessions == 10

    def test_sessions_without_the_measure_are_skipped(self) -> None:
        levels = feedback_levels_from(_sessions([0.6, None, 1.5, None, 0.9]))
        assert levels.coherence.n_sessions == 3
        assert levels.coherence.low == pytest.approx(0.8)

    def test_levels_are_clamped_to_sensible_bounds(self) -> None:
        low = feedback_levels_from(_sessions([0.01, 0.02, 0.03], rsa=[0.1, 0.2, 0.3]))
        assert (low.coherence.low, low.coherence.high) == (0.25, 0.75)
        assert (low.rsa_bpm.low, low.rsa_bpm.high) == (1.5, 4.0)
        high = feedback_levels_from(_sessions([20.0, 30.0, 40.0], rsa=[40.0, 50.0, 60.0]))
        assert (high.coherence.low, high.coherence.high) == (1.0, 4.0)
        assert (high.rsa_bpm.low, high.rsa_bpm.high) == (6.0, 18.0)

    def test_even_sessions_keep_high_above_low(self) -> None:
        levels = feedback_levels_from(_sessions([0.8, 0.8, 0.8]))
        assert levels.coherence.low == pytest.approx(0.8)
        assert levels.coherence.high == pytest.approx(1.0)  # 1.25 × low


class TestLevel:
    def test_level_edges(self) -> None:
        t = LevelThresholds(low=0.5, high=2.0, source="defaults", n_sessions=0)
        assert [t.level(v) for v in (0.0, 0.49, 0.5, 1.99, 2.0, 9.0)] == [
            "low",
            "low",
            "medium",
            "medium",
            "high",
            "high",
        ]
        assert t.level(math.nan) is None
