"""Tests for pet_biofeedback.session.plausibility: which ECG/ACC frames a file source plays."""

from __future__ import annotations

import math

import pytest

from pet_biofeedback.events import AccFrame, EcgFrame
from pet_biofeedback.session.plausibility import MAX_FRAME_VALUE, PlausibilityGate

BAD_VALUES = [math.nan, math.inf, -math.inf, 2 * MAX_FRAME_VALUE, -2 * MAX_FRAME_VALUE, 1e308]


class TestFrames:
    def test_plausible_frames_play(self) -> None:
        gate = PlausibilityGate()
        ecg = EcgFrame(1.0, 130.0, (0.0, -MAX_FRAME_VALUE, MAX_FRAME_VALUE, 12.5))
        acc = AccFrame(1.0, 200.0, ((1.0, -2.0, 1000.0), (0.0, 0.0, -MAX_FRAME_VALUE)))
        assert gate.filter(ecg) == [ecg]
        assert gate.filter(acc) == [acc]
        assert gate.filter(EcgFrame(1.0, 130.0, ())) == [EcgFrame(1.0, 130.0, ())]
        assert gate.n_frames_skipped == 0

    @pytest.mark.parametrize("bad", BAD_VALUES)
    def test_one_impossible_ecg_sample_skips_the_frame(self, bad: float) -> None:
        gate = PlausibilityGate()
        assert gate.filter(EcgFrame(1.0, 130.0, (10.0, bad, 20.0))) == []
        assert gate.n_frames_skipped == 1

    @pytest.mark.parametrize("bad", BAD_VALUES)
    def test_one_impossible_acc_axis_skips_the_frame(self, bad: float) -> None:
        gate = PlausibilityGate()
        assert gate.filter(AccFrame(1.0, 200.0, ((1.0, 2.0, 3.0), (4.0, 5.0, bad)))) == []
        assert gate.n_frames_skipped == 1

    def test_opposite_infinities_and_huge_opposite_values_are_caught(self) -> None:
        # A sum-based finiteness check must not let +inf and -inf (or overflow) cancel out.
        gate = PlausibilityGate()
        assert gate.filter(EcgFrame(1.0, 130.0, (math.inf, -math.inf))) == []
        assert gate.filter(EcgFrame(1.0, 130.0, (1e308, 1e308, -1e308))) == []
        assert gate.n_frames_skipped == 2

    @pytest.mark.parametrize("fs_hz", [0.0, -130.0, math.nan, math.inf, 1e6])
    def test_impossible_rate_skips_the_frame(self, fs_hz: float) -> None:
        gate = PlausibilityGate()
        assert gate.filter(EcgFrame(1.0, fs_hz, (1.0, 2.0))) == []
        assert gate.n_frames_skipped == 1
