"""The pacer: settings, the guide, breath onsets over an hour, continuity across changes."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from pet_biofeedback.errors import ConfigError
from pet_biofeedback.session.pacer import (
    Pacer,
    PacerSettings,
    parse_ratio,
    rate_on_grid,
)


class TestPacerSettings:
    def test_ratio_splits_the_breath(self) -> None:
        s = PacerSettings(breaths_per_min=6.0, inhale_parts=4, exhale_parts=6)
        assert s.period_s == pytest.approx(10.0)
        assert (s.inhale_s, s.exhale_s) == pytest.approx((4.0, 6.0))

    def test_holds_come_out_of_the_period(self) -> None:
        s = PacerSettings(
            breaths_per_min=6.0,
            inhale_parts=4,
            exhale_parts=6,
            hold_after_inhale_s=1.0,
            hold_after_exhale_s=1.0,
        )
        assert (s.inhale_s, s.exhale_s) == pytest.approx((3.2, 4.8))

    def test_from_seconds_gives_the_rate(self) -> None:
        s = PacerSettings.from_seconds(4.5, 5.5, hold_after_exhale_s=2.0)
        assert s.breaths_per_min == pytest.approx(5.0)
        assert (s.inhale_s, s.exhale_s) == pytest.approx((4.5, 5.5))

    @pytest.mark.parametrize("rate", [2.9, 10.1, 0.0, -6.0, math.nan, math.inf])
    def test_rate_outside_3_to_10_is_refused(self, rate: float) -> None:
        with pytest.raises(ConfigError, match="breaths/min"):
            PacerSettings(breaths_per_min=rate)

    @pytest.mark.parametrize("rate", [3.0, 10.0, 5.5])
    def test_rate_limits_are_accepted(self, rate: float) -> None:
        assert PacerSettings(breaths_per_min=rate).breaths_per_min == rate

    def test_holds_that_leave_no_time_to_breathe_are_refused(self) -> None:
        with pytest.raises(ConfigError, match="at least"):
            PacerSettings(breaths_per_min=10.0, hold_after_inhale_s=2.0, hold_after_exhale_s=2.0)

    @pytest.mark.parametrize(
        ("kwargs", "words"),
        [
            ({"inhale_parts": 0}, "inhale parts"),
            ({"exhale_parts": -1}, "exhale parts"),
            ({"hold_after_inhale_s": -0.5}, "hold after inhale"),
            ({"shape": "square"}, "shape"),
        ],
    )
    def test_bad_settings_say_which(self, kwargs: dict[str, object], words: str) -> None:
        with pytest.raises(ConfigError, match=words):
            PacerSettings(**kwargs)  # type: ignore[arg-type]  # wrong on purpose

    def test_rate_on_grid_takes_tenths_only(self) -> None:
        assert rate_on_grid(5.5) == 5.5
        assert rate_on_grid(6) == 6.0
        assert rate_on_grid(0.1 * 55) == 5.5  # float noise is rounded, not refused
        with pytest.raises(ConfigError, match=r"steps of 0\.1"):
            rate_on_grid(5.55)
        with pytest.raises(ConfigError, match="3–10"):
            rate_on_grid(12.0)

    def test_parse_ratio(self) -> None:
        assert parse_ratio("4:6") == (4.0, 6.0)
        assert parse_ratio(" 1.5:2 ") == (1.5, 2.0)
        for bad in ("4-6", "4:0", "a:b", "4:6:1", ""):
            with pytest.raises(ConfigError, match="ratio"):
                parse_ratio(bad)


class TestGuide:
    def test_sine_guide_over_one_breath(self) -> None:
        pacer = Pacer(PacerSettings(breaths_per_min=6.0, inhale_parts=4, exhale_parts=6))
        t = np.array([0.0, 2.0, 4.0, 7.0, 10.0, 12.0])
        assert_allclose(pacer.guide(t), [0.0, 0.5, 1.0, 0.5, 0.0, 0.5], atol=1e-12)

    def test_linear_guide_and_holds(self) -> None:
        s = PacerSettings(
            breaths_per_min=6.0,
            inhale_parts=1,
            exhale_parts=1,
            hold_after_inhale_s=2.0,
            hold_after_exhale_s=2.0,
            shape="linear",
        )
        pacer = Pacer(s, t_start_s=5.0)
        # inhale 5–8 s, hold 8–10 s, exhale 10–13 s, hold 13–15 s
        t = np.array([6.5, 9.0, 11.5, 14.0, 15.0])
        assert_allclose(pacer.guide(t), [0.5, 1.0, 0.5, 0.0, 0.0], atol=1e-12)
        parts = [pacer.state_at(float(x)).part for x in t]
        assert parts == ["inhale", "hold_in", "exhale", "hold_out", "inhale"]

    def test_state_says_what_to_do_and_for_how_long(self) -> None:
        pacer = Pacer(PacerSettings(breaths_per_min=6.0, inhale_parts=4, exhale_parts=6))
        state = pacer.state_at(1.0)
        assert state.part == "inhale"
        assert state.part_left_s == pytest.approx(3.0)
        assert state.breath_index == 0
        later = pacer.state_at(25.0)
        assert (later.part, later.breath_index) == ("exhale", 2)
        assert later.part_left_s == pytest.approx(5.0)
        assert later.guide == pytest.approx(float(pacer.guide(25.0)))


class TestOverAnHour:
    @pytest.mark.parametrize("rate", [6.0, 5.5, 4.5, 7.3])
    def test_onsets_after_60_minutes_are_within_10_ms(self, rate: float) -> None:
        pacer = Pacer(PacerSettings(breaths_per_min=rate), t_start_s=0.0)
        onsets = pacer.breath_starts(0.0, 3600.5)
        period = 60.0 / rate
        expected = np.arange(1, onsets.size + 1) * period
        assert onsets.size == math.floor(3600.5 / period)
        assert np.max(np.abs(onsets - expected)) < 0.010
        assert np.max(np.abs(onsets - expected)) < 1e-9  # in fact exact to rounding

    def test_a_jittery_60_fps_display_sees_every_breath_once(self) -> None:
        rng = np.random.default_rng(7)
        pacer = Pacer(PacerSettings(breaths_per_min=6.0))
        frame_s = 1.0 / 60.0 + rng.normal(0.0, 0.004, size=60 * 3600 + 600).clip(-0.01, 0.01)
        t = np.cumsum(np.abs(frame_s))
        t = t[t <= 3600.0]
        index = np.floor(pacer.positions(t))
        # after an hour of irregular frames the breath count is the clock's, not the frames'
        assert index[-1] == math.floor(t[-1] / 10.0)
        assert set(np.diff(index).tolist()) <= {0.0, 1.0}

    def test_onsets_through_rate_changes_follow_the_integrated_phase(self) -> None:
        pacer = Pacer(PacerSettings(breaths_per_min=6.0))
        pacer.change(100.0, PacerSettings(breaths_per_min=5.0))  # at an onset: 100 s = 10 breaths
        pacer.change(220.0, PacerSettings(breaths_per_min=4.5))  # at an onset: +120 s = 10
        onsets = pacer.breath_starts(0.0, 3600.0)
        expected = np.concatenate(
            (
                np.arange(1, 11) * 10.0,
                100.0 + np.arange(1, 11) * 12.0,
                220.0 + np.arange(1, 1000) * (60.0 / 4.5),
            )
        )
        expected = expected[expected <= 3600.0]
        assert_allclose(onsets, expected, atol=1e-9)

    def test_onsets_are_counted_once_across_query_boundaries(self) -> None:
        pacer = Pacer(PacerSettings(breaths_per_min=5.5))
        pacer.change(33.3, PacerSettings(breaths_per_min=8.0, inhale_parts=1, exhale_parts=2))
        edges = np.linspace(0.0, 600.0, 997)
        pieces = [pacer.breath_starts(a, b) for a, b in itertools.pairwise(edges)]
        assert_allclose(np.concatenate(pieces), pacer.breath_starts(0.0, 600.0), atol=0)


_settings = st.builds(
    PacerSettings,
    breaths_per_min=st.integers(30, 100).map(lambda k: k / 10.0),
    inhale_parts=st.floats(1.0, 3.0),
    exhale_parts=st.floats(1.0, 3.0),
    hold_after_inhale_s=st.sampled_from([0.0, 0.5, 1.0]),
    hold_after_exhale_s=st.sampled_from([0.0, 0.5, 1.0]),
    shape=st.sampled_from(["sine", "linear"]),
)


class TestChanges:
    @settings(max_examples=300, deadline=None)
    @given(
        first=_settings,
        second=_settings,
        t_change_s=st.floats(0.0, 120.0, allow_nan=False),
    )
    def test_a_change_keeps_the_guide_and_the_part(
        self, first: PacerSettings, second: PacerSettings, t_change_s: float
    ) -> None:
        before = Pacer(first)
        after = Pacer(first)
        after.change(t_change_s, second)
        old = before.state_at(t_change_s)
        new = after.state_at(t_change_s)
        assert new.guide == pytest.approx(old.guide, abs=1e-8)
        assert new.breath_index == old.breath_index
        if old.part in ("inhale", "exhale") and 1e-6 < old.guide < 1 - 1e-6:
            assert new.part == old.part
        # and the guide keeps moving continuously just after the change
        eps = 1e-7
        assert float(after.guide(t_change_s + eps)) == pytest.approx(new.guide, abs=1e-5)

    def test_a_change_mid_inhalation_is_continuous_on_a_dense_grid(self) -> None:
        pacer = Pacer(PacerSettings(breaths_per_min=6.0, inhale_parts=4, exhale_parts=6))
        pacer.change(21.0, PacerSettings(breaths_per_min=9.0, inhale_parts=1, exhale_parts=1))
        pacer.change(40.0, PacerSettings(breaths_per_min=3.0, shape="linear"))
        t = np.arange(0.0, 80.0, 0.001)
        g = pacer.guide(t)
        # the largest step between 1-ms samples is bounded by the fastest slope, no jump
        assert np.max(np.abs(np.diff(g))) < 0.003

    def test_changes_are_recorded_with_their_position(self) -> None:
        pacer = Pacer(PacerSettings(breaths_per_min=6.0))
        change = pacer.change(25.0, PacerSettings(breaths_per_min=6.0, inhale_parts=5))
        assert change.t_s == 25.0
        assert math.floor(change.position) == 2
        assert pacer.changes[-1] == change
        assert pacer.settings.inhale_parts == 5

    def test_a_change_into_the_past_is_refused(self) -> None:
        pacer = Pacer(PacerSettings())
        pacer.change(10.0, PacerSettings(breaths_per_min=5.0))
        with pytest.raises(ConfigError, match="before the last"):
            pacer.change(9.0, PacerSettings())

    def test_queries_do_not_depend_on_their_order(self) -> None:
        pacer = Pacer(PacerSettings(breaths_per_min=5.5))
        pacer.change(30.0, PacerSettings(breaths_per_min=7.0))
        t = np.random.default_rng(3).uniform(-10.0, 100.0, size=500)
        forward = pacer.guide(t)
        one_by_one = np.array([pacer.state_at(float(x)).guide for x in t[::-1]])[::-1]
        assert_allclose(forward, one_by_one, atol=1e-12)
