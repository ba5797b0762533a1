"""Tests for signal.resonance_ranking: the six-criteria table (hrv-methods.md §7)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from pet_biofeedback.errors import SignalInputError
from pet_biofeedback.signal.resonance import RateCriteria
from pet_biofeedback.signal.resonance_ranking import rank_rates


def crit(rate: float, **values: float) -> RateCriteria:
    """Criteria of one rate with neutral defaults, overridden by ``values``."""
    base = RateCriteria(
        breaths_per_min=rate,
        phase_lag_deg=30.0,
        phase_plv=0.9,
        peak_to_trough_bpm=8.0,
        lf_power_ms2=1000.0,
        lf_peak_psd_ms2_per_hz=50000.0,
        lf_peak_hz=rate / 60.0,
        smoothness=3.0,
        n_lf_peaks=2,
        n_beats=110,
        n_breaths=9,
        duration_s=100.0,
        reference="pacer",
    )
    return dataclasses.replace(base, **values)  # type: ignore[arg-type]  # test values


class TestRankRates:
    def test_best_on_everything_is_a_clear_call(self) -> None:
        best = crit(
            5.5,
            phase_lag_deg=-12.0,
            peak_to_trough_bpm=14.0,
            lf_power_ms2=3000.0,
            lf_peak_psd_ms2_per_hz=90000.0,
            smoothness=9.0,
            n_lf_peaks=1,
        )
        r = rank_rates([crit(6.5), crit(6.0), best, crit(5.0, peak_to_trough_bpm=13.0)])
        assert r.candidate_breaths_per_min == 5.5
        assert r.confidence == "clear" and r.confidence_value == pytest.approx(1.0)
        assert r.ranks[2].tolist() == [1] * 6
        assert r.score[2] == pytest.approx(1.0)
        assert "5.5 breaths/min gave" in r.explanation
        assert "largest heart-rate swings (14.0 bpm)" in r.explanation
        assert "heart rate and breathing (12°)" in r.explanation
        assert r.explanation.endswith("5.0 was close behind on heart-rate swings (13.0 bpm).")

    def test_phase_and_amplitude_outweigh_the_spectral_criteria(self) -> None:
        # 6.0 wins phase and peak-to-trough (2 + 2), 5.0 wins LF power, LF peak and
        # smoothness (1 + 1 + 1): phase and amplitude are favoured (hrv-methods.md §7).
        a = crit(6.0, phase_lag_deg=2.0, peak_to_trough_bpm=12.0)
        b = crit(5.0, lf_power_ms2=4000.0, lf_peak_psd_ms2_per_hz=1e5, smoothness=8.0)
        r = rank_rates([a, b])
        assert r.candidate_breaths_per_min == 6.0
        assert r.wins.tolist() == [4.0 + 1.0, 3.0 + 1.0]  # both tie on the LF peak count
        assert r.confidence == "close call" and r.confidence_value == pytest.approx(1 / 8)

    def test_equal_wins_go_to_the_better_overall_rank(self) -> None:
        # 6.0 and 5.0 win two weight units each (plus 3 shared by everyone on the tied
        # LF peak, smoothness and peak count); 6.0 is second where it does not win.
        a = crit(6.0, phase_lag_deg=1.0, peak_to_trough_bpm=9.0, lf_power_ms2=1500.0)
        b = crit(5.0, peak_to_trough_bpm=10.0)
        c = crit(5.5, lf_power_ms2=2000.0, phase_lag_deg=5.0)
        r = rank_rates([b, a, c])
        assert r.wins[0] == r.wins[1] == 2.0 + 3.0
        assert r.candidate_breaths_per_min == 6.0
        assert r.runner_up_breaths_per_min == 5.0

    def test_nan_ranks_last(self) -> None:
        r = rank_rates([crit(6.0, peak_to_trough_bpm=math.nan), crit(5.0, peak_to_trough_bpm=1.0)])
        assert r.ranks[:, 1].tolist() == [2, 1]
        assert r.candidate_breaths_per_min == 5.0

    def test_no_lf_peak_is_not_the_fewest_peaks(self) -> None:
        r = rank_rates([crit(6.0, n_lf_peaks=0), crit(5.0, n_lf_peaks=3)])
        assert r.ranks[:, 5].tolist() == [2, 1]

    def test_one_rate_is_its_own_candidate(self) -> None:
        r = rank_rates([crit(6.0)])
        assert r.candidate_breaths_per_min == 6.0 and math.isnan(r.runner_up_breaths_per_min)
        assert r.confidence == "clear"

    def test_result_arrays_are_read_only(self) -> None:
        r = rank_rates([crit(6.0), crit(5.0)])
        with pytest.raises(ValueError, match="read-only"):
            r.ranks[0, 0] = 3

    @pytest.mark.parametrize("rates", [[], [6.0, 6.0]])
    def test_bad_rates_raise(self, rates: list[float]) -> None:
        with pytest.raises(SignalInputError):
            rank_rates([crit(x) for x in rates])
