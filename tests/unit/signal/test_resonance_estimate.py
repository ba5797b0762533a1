"""Tests for signal.resonance_estimate: the resonance from the curve across rates (§6.4–6.5, §7)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pet_biofeedback.errors import SignalInputError
from pet_biofeedback.signal.resonance import RateCriteria
from pet_biofeedback.signal.resonance_estimate import (
    PHASE_WEIGHT,
    amplitude_peak_breaths_per_min,
    estimate_resonance,
    phase_crossing_breaths_per_min,
)
from tests.unit.signal.test_resonance_ranking import crit

RATES = np.array([6.5, 6.0, 5.5, 5.0, 4.5])  # the order breathed
Q = 3.0


def resonator(resonance: float, q: float = Q) -> tuple[np.ndarray, np.ndarray]:
    """Phase (deg) and gain of a band-pass resonator at RATES (hrv-methods.md §6.5)."""
    x = q * (RATES / resonance - resonance / RATES)
    return np.degrees(-np.arctan(x)), 1.0 / np.sqrt(1.0 + x * x)


def person(resonance: float, *, swing_bpm: float = 12.0) -> list[RateCriteria]:
    """Criteria of a noise-free resonator: phase and peak-to-trough follow the resonance."""
    phase, gain = resonator(resonance)
    return [
        crit(
            float(r),
            phase_lag_deg=float(p),
            peak_to_trough_bpm=swing_bpm * float(g),
            reference="measured",  # type: ignore[arg-type]  # crit passes values through
        )
        for r, p, g in zip(RATES, phase, gain, strict=True)
    ]


class TestPhaseCrossing:
    @pytest.mark.parametrize("resonance", [4.7, 5.0, 5.3, 5.75, 6.2])
    def test_resonator_phase_crosses_zero_at_its_resonance(self, resonance: float) -> None:
        phase, _ = resonator(resonance)
        # Interpolating in ln(rate) between the two rates around 0°: within 0.03 breaths/min.
        assert phase_crossing_breaths_per_min(RATES, phase) == pytest.approx(resonance, abs=0.03)

    def test_linear_in_ln_rate_is_exact(self) -> None:
        phase = -100.0 * (np.log(RATES) - math.log(5.4))
        assert phase_crossing_breaths_per_min(RATES, phase) == pytest.approx(5.4, abs=1e-9)

    def test_still_leading_at_the_fastest_rate_extrapolates_at_most_half_a_step(self) -> None:
        # All positive: the resonance is faster than 6.5; the line through 6.0 and 6.5
        # would reach 0° far beyond, kept at half a step (in ln rate) past 6.5.
        est = phase_crossing_breaths_per_min(RATES, np.array([10.0, 20.0, 30.0, 40.0, 50.0]))
        assert est == pytest.approx(6.5 * math.sqrt(6.5 / 6.0))

    def test_wrapped_phases_are_unwrapped(self) -> None:
        # A resonance below 4.5: the lag falls past −180° at the fast rates, which reads as
        # +160° and +100°. Unwrapped, every rate lags, so the crossing lies below 4.5
        # (without unwrapping the signs look mixed and 4.5 itself would be returned).
        wrapped = np.array([100.0, 160.0, -140.0, -80.0, -20.0])  # 6.5 … 4.5
        est = phase_crossing_breaths_per_min(RATES, wrapped)
        assert 4.5 * math.sqrt(4.5 / 5.0) - 1e-9 <= est < 4.5

    def test_the_steepest_of_several_falls(self) -> None:
        # 4.5 +40, 5.0 −5 (a noisy dip), 5.5 +30, 6.0 −30, 6.5 −60: two falls through 0°;
        # the 60° fall between 5.5 and 6.0 is the resonance's, the 45° one noise.
        phase = np.array([-60.0, -30.0, 30.0, -5.0, 40.0])
        assert phase_crossing_breaths_per_min(RATES, phase) == pytest.approx(
            math.exp(0.5 * (math.log(5.5) + math.log(6.0)))
        )

    def test_a_phase_rising_through_zero_gives_the_rate_nearest_zero(self) -> None:
        phase = np.array([40.0, 20.0, 3.0, -20.0, -40.0])  # rises with rate: not a resonance
        assert phase_crossing_breaths_per_min(RATES, phase) == 5.5

    def test_missing_phases_are_left_out(self) -> None:
        phase, _ = resonator(5.5)
        phase[[0, 4]] = math.nan
        assert phase_crossing_breaths_per_min(RATES, phase) == pytest.approx(5.5, abs=0.03)
        phase[1:3] = math.nan
        assert math.isnan(phase_crossing_breaths_per_min(RATES, phase))


class TestAmplitudePeak:
    def test_vertex_of_a_parabola_in_ln_rate_is_exact(self) -> None:
        amp = np.exp(-8.0 * (np.log(RATES) - math.log(5.35)) ** 2)
        assert amplitude_peak_breaths_per_min(RATES, amp) == pytest.approx(5.35, abs=1e-9)

    @pytest.mark.parametrize("resonance", [4.8, 5.2, 5.5, 5.9, 6.3])
    def test_resonator_gain_peaks_near_its_resonance(self, resonance: float) -> None:
        _, gain = resonator(resonance)
        est = amplitude_peak_breaths_per_min(RATES, 12.0 * gain)
        assert est == pytest.approx(resonance, abs=0.05)

    def test_peak_at_an_end_stays_within_half_a_step(self) -> None:
        amp = np.array([12.0, 11.0, 9.0, 6.0, 3.0])  # still rising at 6.5
        est = amplitude_peak_breaths_per_min(RATES, amp)
        assert 6.5 < est <= 6.5 * math.sqrt(6.5 / 6.0) + 1e-9

    def test_no_peak_gives_the_largest(self) -> None:
        amp = np.array([11.0, 5.0, 4.0, 5.0, 10.0])  # a valley: the end three curve upwards
        assert amplitude_peak_breaths_per_min(RATES, amp) == 6.5

    def test_missing_or_zero_values_are_left_out(self) -> None:
        _, gain = resonator(5.5)
        amp = 12.0 * gain
        amp[0] = math.nan
        assert amplitude_peak_breaths_per_min(RATES, amp) == pytest.approx(5.5, abs=0.05)
        amp[1] = 0.0
        amp[4] = -1.0
        assert math.isnan(amplitude_peak_breaths_per_min(RATES, amp))


class TestEstimateResonance:
    @pytest.mark.parametrize("resonance", [4.5, 5.0, 5.5, 6.0, 6.5])
    def test_noise_free_resonator_is_found_clearly(self, resonance: float) -> None:
        e = estimate_resonance(person(resonance))
        assert e.recommended_breaths_per_min == resonance
        assert e.estimated_breaths_per_min == pytest.approx(resonance, abs=0.05)
        # At an end of the tested range the swings can fall off on one side only: the
        # amplitude peak is extrapolated and the curve looks less sharp.
        inside = 4.5 < resonance < 6.5
        assert e.confidence == "clear" if inside else e.confidence in ("clear", "likely")
        assert e.reference == "measured"
        assert e.explanation.startswith(
            f"About {resonance:.1f} breaths/min; of the rates tested, {resonance:.1f}."
        )
        assert "Breathing was not measured" not in e.explanation
        assert "Six criteria: " in e.explanation  # the table's reasons follow

    def test_phase_and_amplitude_are_weighted(self) -> None:
        # Phase says 5.3 (a linear phase in ln rate), the swings peak at 5.9.
        phase = -200.0 * (np.log(RATES) - math.log(5.3))
        amp = 12.0 * np.exp(-8.0 * (np.log(RATES) - math.log(5.9)) ** 2)
        e = estimate_resonance(
            [
                crit(float(r), phase_lag_deg=float(p), peak_to_trough_bpm=float(a))
                for r, p, a in zip(RATES, phase, amp, strict=True)
            ]
        )
        assert e.phase_crossing_breaths_per_min == pytest.approx(5.3)
        assert e.amplitude_peak_breaths_per_min == pytest.approx(5.9)
        expected = PHASE_WEIGHT * 5.3 + (1 - PHASE_WEIGHT) * 5.9
        assert e.estimated_breaths_per_min == pytest.approx(expected)
        assert e.recommended_breaths_per_min == 5.5
        # 0.6 breaths/min apart: agreement 0, a close call, and the words say why.
        assert e.agreement == 0.0 and e.confidence == "close call"
        assert "the two disagree by 0.6 breaths/min" in e.explanation
        assert "weight 0.8" in e.method

    def test_flat_swings_are_not_sharp(self) -> None:
        criteria = person(5.5)
        flat = [
            crit(c.breaths_per_min, phase_lag_deg=c.phase_lag_deg, peak_to_trough_bpm=p)
            for c, p in zip(criteria, [9.9, 10.0, 10.05, 10.0, 9.9], strict=True)
        ]
        e = estimate_resonance(flat)
        assert e.sharpness < 0.2 and e.confidence != "clear"
        assert "the swings hardly change between neighbouring rates" in e.explanation

    def test_halfway_between_two_rates_is_a_close_call(self) -> None:
        e = estimate_resonance(person(5.25))
        assert e.estimated_breaths_per_min == pytest.approx(5.25, abs=0.03)
        assert e.margin < 0.15 and e.confidence == "close call"
        assert "between two tested rates" in e.explanation

    def test_pacer_reference_is_named(self) -> None:
        e = estimate_resonance([crit(float(r)) for r in RATES])  # crit's reference is "pacer"
        assert e.reference == "pacer"
        assert "Breathing was not measured" in e.explanation

    def test_without_phases_the_swings_decide(self) -> None:
        criteria = [
            crit(c.breaths_per_min, phase_lag_deg=math.nan, peak_to_trough_bpm=c.peak_to_trough_bpm)
            for c in person(6.0)
        ]
        e = estimate_resonance(criteria)
        assert e.recommended_breaths_per_min == 6.0
        assert math.isnan(e.phase_crossing_breaths_per_min) and math.isnan(e.agreement)
        assert e.method.startswith("peak of the heart-rate swings")

    def test_without_phases_or_swings_the_table_decides(self) -> None:
        criteria = [
            crit(6.0, phase_lag_deg=math.nan, peak_to_trough_bpm=math.nan, lf_power_ms2=3000.0),
            crit(5.0, phase_lag_deg=math.nan, peak_to_trough_bpm=math.nan),
        ]
        e = estimate_resonance(criteria)
        assert e.recommended_breaths_per_min == e.ranking.candidate_breaths_per_min == 6.0
        assert e.method.startswith("six-criteria ranking")

    @pytest.mark.parametrize("rates", [[], [6.0, 6.0]])
    def test_bad_rates_raise(self, rates: list[float]) -> None:
        with pytest.raises(SignalInputError):
            estimate_resonance([crit(x) for x in rates])
