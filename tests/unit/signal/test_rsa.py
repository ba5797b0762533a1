"""Tests for pet_biofeedback.signal.rsa (hrv-methods.md §6.2, §6.4)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from pet_biofeedback.errors import SignalInputError
from pet_biofeedback.signal import rsa


def beats_from_hr(
    hr_of_t_bpm: Callable[[float], float], duration_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Beat times and RR such that 60000/RR_k = HR(t_k) exactly (the module's convention).

    t_k = t_{k-1} + 60/HR(t_k), solved per beat by fixed-point iteration.
    """
    t_list: list[float] = []
    t = 0.0
    while t < duration_s:
        tau = t + 60.0 / hr_of_t_bpm(t)
        for _ in range(8):
            tau = t + 60.0 / hr_of_t_bpm(tau)
        t_list.append(tau)
        t = tau
    beat_t = np.array(t_list)
    return beat_t, 60000.0 / np.array([hr_of_t_bpm(x) for x in beat_t])


def pacer_reference(f_hz: float, duration_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Pacer phase sampled at 10 Hz, wrapped to [0, 2π): 0 at inhalation onset (t = 0)."""
    ref_t = np.arange(0.0, duration_s, 0.1)
    return ref_t, np.mod(2 * np.pi * f_hz * ref_t, 2 * np.pi)


class TestInstantaneousHr:
    def test_hr_is_60000_over_rr(self) -> None:
        assert_allclose(
            rsa.instantaneous_hr_bpm([1000.0, 750.0, 600.0]), [60.0, 80.0, 100.0], rtol=1e-15
        )

    def test_hr_non_positive_rr_raises(self) -> None:
        with pytest.raises(SignalInputError, match="rr_ms"):
            rsa.instantaneous_hr_bpm([800.0, -1.0])


class TestRsaPeakToTrough:
    def test_sinusoidal_hr_gives_twice_the_amplitude(self) -> None:
        amp_bpm, f_hz = 6.0, 0.1
        t, rr = beats_from_hr(lambda x: 65.0 + amp_bpm * np.sin(2 * np.pi * f_hz * x), 300.0)
        starts = np.arange(0.0, 300.0, 1 / f_hz)
        pt = rsa.rsa_peak_to_trough_bpm(t, rr, starts)
        assert pt.shape == (starts.size - 1,)
        # ~11 beats per breath sample the sine: each extremum is missed by at most π·f·RR.
        worst = 2 * amp_bpm * (1 - np.cos(np.pi * f_hz * 60 / 59.0))
        assert np.all(pt <= 2 * amp_bpm + 1e-9)
        assert np.all(pt >= 2 * amp_bpm - 2 * worst)
        assert_allclose(np.mean(pt), 2 * amp_bpm, rtol=0.03)

    def test_breath_with_fewer_than_two_beats_is_nan(self) -> None:
        t = np.array([1.0, 2.0, 3.0, 10.0, 11.0])
        rr = np.array([1000.0, 900.0, 800.0, 1000.0, 700.0])
        pt = rsa.rsa_peak_to_trough_bpm(t, rr, [0.5, 3.5, 9.5, 10.5, 12.0])
        assert_allclose(pt[0], 60000 / 800 - 60000 / 1000, rtol=1e-12)
        assert np.isnan(pt[1])  # no beat in [3.5, 9.5)
        assert np.isnan(pt[2])  # one beat in [9.5, 10.5)
        assert np.isnan(pt[3])  # one beat in [10.5, 12)

    def test_beat_on_a_boundary_belongs_to_the_new_breath(self) -> None:
        t = np.array([1.0, 2.0, 3.0, 4.0])
        rr = np.array([1000.0, 800.0, 600.0, 1000.0])
        pt = rsa.rsa_peak_to_trough_bpm(t, rr, [1.0, 3.0, 5.0])
        assert_allclose(pt, [60000 / 800 - 60, 60000 / 600 - 60], rtol=1e-12)

    def test_fewer_than_two_starts_gives_empty(self) -> None:
        assert rsa.rsa_peak_to_trough_bpm([1.0, 2.0], [800.0, 800.0], [0.0]).size == 0

    def test_non_increasing_starts_raise(self) -> None:
        with pytest.raises(SignalInputError, match="breath_start_s"):
            rsa.rsa_peak_to_trough_bpm([1.0, 2.0], [800.0, 800.0], [0.0, 5.0, 5.0])

    @settings(max_examples=30, deadline=None)
    @given(
        seed=st.integers(0, 2**32 - 1),
        n_breaths=st.integers(1, 40),
    )
    def test_matches_a_plain_loop(self, seed: int, n_breaths: int) -> None:
        rng = np.random.default_rng(seed)
        rr = rng.uniform(500.0, 1200.0, 120)
        t = np.cumsum(rr) / 1000.0
        starts = np.sort(rng.uniform(-5.0, t[-1] + 5.0, n_breaths + 1))
        starts = np.unique(starts)
        pt = rsa.rsa_peak_to_trough_bpm(t, rr, starts)
        hr = 60000.0 / rr
        for k in range(starts.size - 1):  # reference loop (tests only)
            sel = hr[(t >= starts[k]) & (t < starts[k + 1])]
            expected = np.ptp(sel) if sel.size >= 2 else np.nan
            assert_allclose(pt[k], expected, rtol=1e-12, equal_nan=True)


class TestPhaseSynchrony:
    @pytest.mark.parametrize(
        ("shift_deg", "expected_deg"), [(0.0, 0.0), (90.0, 90.0), (-90.0, -90.0), (180.0, 180.0)]
    )
    def test_lag_follows_the_hr_shift(self, shift_deg: float, expected_deg: float) -> None:
        # HR ∝ cos(φ_ref − π + shift): shift 0 peaks at the end of inhalation (φ_ref = π);
        # a positive shift peaks earlier (HR leads breathing).
        f_p = 0.1
        shift = np.radians(shift_deg)
        t, rr = beats_from_hr(
            lambda x: 65.0 + 5.0 * np.cos(2 * np.pi * f_p * x - np.pi + shift), 300.0
        )
        ref_t, ref_phase = pacer_reference(f_p, 310.0)
        s = rsa.phase_synchrony(t, rr, ref_t, ref_phase, f_p)
        lag_err = (s.lag_deg - expected_deg + 180.0) % 360.0 - 180.0
        assert abs(lag_err) < 3.0
        assert s.plv > 0.98
        assert s.n_beats == t.size
        assert s.n_samples > 0.8 * 280 * 4

    @pytest.mark.parametrize("f_p", [0.1, 0.075])
    def test_hr_peaking_at_end_of_inhalation_is_zero_lag(self, f_p: float) -> None:
        # 6 and 4.5 breaths/min (hrv-methods.md §2.1)
        t, rr = beats_from_hr(lambda x: 65.0 - 6.0 * np.cos(2 * np.pi * f_p * x), 240.0)
        ref_t, ref_phase = pacer_reference(f_p, 250.0)
        s = rsa.phase_synchrony(t, rr, ref_t, ref_phase, f_p)
        assert abs(s.lag_deg) < 3.0 and s.plv > 0.98

    def test_random_hr_has_low_plv(self) -> None:
        rng = np.random.default_rng(21)
        rr = 850.0 + rng.normal(0.0, 40.0, 400)
        t = np.cumsum(rr) / 1000.0
        ref_t, ref_phase = pacer_reference(0.1, t[-1] + 1.0)
        s = rsa.phase_synchrony(t, rr, ref_t, ref_phase, 0.1)
        assert s.plv < 0.5

    def test_reference_coverage_limits_samples(self) -> None:
        t, rr = beats_from_hr(lambda x: 65.0 - 5.0 * np.cos(2 * np.pi * 0.1 * x), 300.0)
        ref_t, ref_phase = pacer_reference(0.1, 150.0)
        s = rsa.phase_synchrony(t, rr, ref_t, ref_phase, 0.1)
        assert s.n_samples <= (150.0 - 10.0) * 4 + 1
        assert abs(s.lag_deg) < 3.0

    def test_too_short_is_nan(self) -> None:
        t, rr = beats_from_hr(lambda x: 65.0, 25.0)  # < 3 pacer cycles at 0.1 Hz
        ref_t, ref_phase = pacer_reference(0.1, 30.0)
        s = rsa.phase_synchrony(t, rr, ref_t, ref_phase, 0.1)
        assert np.isnan(s.lag_deg) and np.isnan(s.plv) and s.n_samples == 0

    def test_bad_pacer_raises(self) -> None:
        with pytest.raises(SignalInputError, match="pacer_hz"):
            rsa.phase_synchrony([1.0, 2.0], [800.0, 800.0], [0.0, 1.0], [0.0, 1.0], 0.0)
        with pytest.raises(SignalInputError, match="Nyquist"):
            rsa.phase_synchrony([1.0, 2.0], [800.0, 800.0], [0.0, 1.0], [0.0, 1.0], 1.99)
