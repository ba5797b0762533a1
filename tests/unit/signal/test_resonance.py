"""Tests for pet_biofeedback.signal.resonance (hrv-methods.md §7): the six criteria."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from numpy.testing import assert_allclose

from pet_biofeedback.errors import SignalInputError
from pet_biofeedback.signal import resonance, rsa
from pet_biofeedback.signal.resonance import rate_criteria

F_P_HZ = 0.1  # 6 breaths/min
DURATION_S = 100.0  # a 2-min block less the settling time


def ipfm_beats(hr_of_t_bpm: Callable[[np.ndarray], np.ndarray], duration_s: float) -> np.ndarray:
    """Beat times where ∫HR/60 dt crosses an integer (how a heart, and the simulator, beats)."""
    grid = np.arange(0.0, duration_s, 0.005)
    count = np.concatenate(([0.0], np.cumsum(hr_of_t_bpm(grid[:-1]) / 60.0 * 0.005)))
    beats_s: np.ndarray = np.interp(np.arange(1, math.floor(count[-1]) + 1), count, grid)
    return beats_s


def block(
    hr_of_t_bpm: Callable[[np.ndarray], np.ndarray], duration_s: float = DURATION_S
) -> tuple[np.ndarray, np.ndarray]:
    """(beat times s, NN ms) of a block whose heart rate follows ``hr_of_t_bpm``."""
    t = ipfm_beats(hr_of_t_bpm, duration_s + 2.0)
    nn = np.diff(t) * 1000.0
    return t[1:], nn


def rr_block(rr_of_t_ms: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(beat times s, NN ms) with NN_k = rr(t_k): a known RR modulation for the spectra."""
    t_list = [0.0]
    while t_list[-1] < DURATION_S + 1.0:  # test helper, not library code
        t_list.append(t_list[-1] + float(rr_of_t_ms(np.array([t_list[-1]]))[0]) / 1000.0)
    t = np.array(t_list[1:])
    return t, rr_of_t_ms(t)


def onsets(duration_s: float = DURATION_S, f_hz: float = F_P_HZ) -> np.ndarray:
    return np.arange(0.0, duration_s + 1e-9, 1.0 / f_hz)


def hr_at_end_of_inhalation(amp_bpm: float, shift_deg: float = 0.0) -> Callable[..., np.ndarray]:
    """HR = 65 − A·cos(2π f t − shift): peaks at the end of inhalation (t = 5 s) for shift 0;
    a positive shift peaks earlier (HR leads breathing, positive lag)."""
    shift = math.radians(shift_deg)
    return lambda t: 65.0 - amp_bpm * np.cos(2 * np.pi * F_P_HZ * t + shift)


class TestBreathPhase:
    def test_linear_within_inhale_and_exhale(self) -> None:
        phase = resonance.breath_phase_rad(
            [0.0, 2.0, 4.0, 7.0, 10.0, 12.0], [0.0, 10.0, 20.0], inhale_fraction=0.4
        )
        expected = [0.0, np.pi / 2, np.pi, 1.5 * np.pi, 2 * np.pi, 2.5 * np.pi]
        assert_allclose(phase, expected, rtol=1e-12)

    def test_nan_outside_the_onsets(self) -> None:
        phase = resonance.breath_phase_rad([-1.0, 5.0, 21.0], [0.0, 10.0, 20.0])
        assert np.isnan(phase[0]) and np.isnan(phase[2]) and phase[1] == pytest.approx(np.pi)

    @pytest.mark.parametrize(
        ("starts", "fraction"), [([0.0], 0.5), ([0.0, 0.0, 1.0], 0.5), ([0.0, 10.0], 1.0)]
    )
    def test_bad_reference_raises(self, starts: list[float], fraction: float) -> None:
        with pytest.raises(SignalInputError):
            resonance.breath_phase_rad([1.0], starts, inhale_fraction=fraction)


def volume(t: np.ndarray, lag_s: float, inhale_fraction: float = 0.5) -> np.ndarray:
    """Lung volume of a person breathing ``lag_s`` behind a 6 breaths/min pacer."""
    x = np.mod((t - lag_s) * F_P_HZ, 1.0)
    a = inhale_fraction
    warped = np.where(x < a, 0.5 * x / a, 0.5 + 0.5 * (x - a) / (1.0 - a))
    return -np.cos(2 * np.pi * warped)


class TestBreathingLag:
    @pytest.mark.parametrize("lag_s", [0.0, 0.6, -0.5, 1.5])
    @pytest.mark.parametrize("sign", [1.0, -1.0])
    def test_known_lag_either_sign(self, lag_s: float, sign: float) -> None:
        t = np.arange(0.0, 100.0, 0.25)
        lag = resonance.breathing_lag_s(
            t, sign * 30.0 * volume(t, lag_s, 0.4), onsets(), inhale_fraction=0.4
        )
        assert lag == pytest.approx(lag_s, abs=0.051)

    def test_noisy_breathing(self) -> None:
        rng = np.random.default_rng(5)
        t = np.arange(0.0, 100.0, 0.25)
        b = volume(t, 0.8) + rng.normal(0.0, 0.5, t.size)
        assert resonance.breathing_lag_s(t, b, onsets()) == pytest.approx(0.8, abs=0.15)

    def test_breathing_that_ignores_the_pacer_is_not_trusted(self) -> None:
        t = np.arange(0.0, 100.0, 0.25)
        other_rate = np.cos(2 * np.pi * 0.25 * t)  # 15 breaths/min against a 6/min pacer
        assert math.isnan(resonance.breathing_lag_s(t, other_rate, onsets()))

    def test_too_little_gives_nan(self) -> None:
        t = np.arange(0.0, 100.0, 0.25)
        assert math.isnan(resonance.breathing_lag_s(t, volume(t, 0.0), [10.0]))
        assert math.isnan(resonance.breathing_lag_s(t, np.zeros(t.size), onsets()))

    def test_bad_input_raises(self) -> None:
        with pytest.raises(SignalInputError, match="equal length"):
            resonance.breathing_lag_s([0.0, 1.0], [1.0], onsets())


class TestRateCriteriaPhase:
    def test_hr_peaking_at_end_of_inhalation_is_zero_degrees(self) -> None:
        t, nn = block(hr_at_end_of_inhalation(5.0))
        c = rate_criteria(t, nn, onsets(), breaths_per_min=6.0)
        assert abs(c.phase_lag_deg) < 2.0
        assert c.phase_plv > 0.99

    def test_midpoint_placement_removes_the_half_interval_lag(self) -> None:
        # Regression: with HR placed at the beat that ends each interval (rsa.py's convention)
        # a heart beating in phase with breathing (IPFM, as the simulator's) read ≈ −15° at
        # 0.1 Hz, which moved the 0° crossing, and so the chosen rate, one step slower.
        t, nn = block(hr_at_end_of_inhalation(5.0))
        c = rate_criteria(t, nn, onsets(), breaths_per_min=6.0)
        end_placed = rsa.phase_synchrony(
            t, nn, np.arange(0.0, 100.0, 0.1), 2 * np.pi * F_P_HZ * np.arange(0.0, 100.0, 0.1),
            F_P_HZ,
        )  # fmt: skip
        assert end_placed.lag_deg < -10.0
        assert abs(c.phase_lag_deg) < 2.0

    @pytest.mark.parametrize("shift_deg", [45.0, -60.0])
    def test_lag_follows_the_hr_shift(self, shift_deg: float) -> None:
        t, nn = block(hr_at_end_of_inhalation(5.0, shift_deg))
        c = rate_criteria(t, nn, onsets(), breaths_per_min=6.0)
        assert c.phase_lag_deg == pytest.approx(shift_deg, abs=3.0)

    def test_unequal_inhale_exhale_hr_shaped_like_the_breath_is_zero_degrees(self) -> None:
        # 4:6 breathing: HR with the lung volume's own shape (lowest at the inhalation onset,
        # highest at its end, 4 s later) is in phase.
        def hr(t: np.ndarray) -> np.ndarray:
            x = np.mod(t * F_P_HZ, 1.0)
            warped = np.where(x < 0.4, 0.5 * x / 0.4, 0.5 + 0.5 * (x - 0.4) / 0.6)
            return 65.0 - 5.0 * np.cos(2 * np.pi * warped)

        t, nn = block(hr)
        c = rate_criteria(t, nn, onsets(), breaths_per_min=6.0, inhale_fraction=0.4)
        assert abs(c.phase_lag_deg) < 3.0

    def test_measured_onsets_replace_the_pacer(self) -> None:
        # The person breathes 1 s behind the pacer and their heart follows their breathing.
        hr = lambda t: 65.0 - 5.0 * np.cos(2 * np.pi * F_P_HZ * (t - 1.0))  # noqa: E731
        t, nn = block(hr)
        pacer = rate_criteria(t, nn, onsets(), breaths_per_min=6.0)
        measured = rate_criteria(
            t, nn, onsets(), breaths_per_min=6.0, measured_breath_start_s=onsets() + 1.0
        )
        assert pacer.reference == "pacer" and measured.reference == "measured"
        assert pacer.phase_lag_deg == pytest.approx(-36.0, abs=3.0)
        assert abs(measured.phase_lag_deg) < 3.0

    def test_breathing_waveform_measures_the_lag_behind_the_pacer(self) -> None:
        hr = lambda t: 65.0 - 5.0 * np.cos(2 * np.pi * F_P_HZ * (t - 1.0))  # noqa: E731
        t, nn = block(hr)
        acc_t = np.arange(0.0, 101.0, 0.25)
        c = rate_criteria(
            t,
            nn,
            onsets(),
            breaths_per_min=6.0,
            breathing_t_s=acc_t,
            breathing=-40.0 * volume(acc_t, 1.0),
        )
        assert c.reference == "measured"
        assert c.breathing_lag_s == pytest.approx(1.0, abs=0.051)
        assert abs(c.phase_lag_deg) < 3.0

    def test_breathing_needs_times_and_values(self) -> None:
        t, nn = block(hr_at_end_of_inhalation(5.0))
        with pytest.raises(SignalInputError, match="both"):
            rate_criteria(t, nn, onsets(), breaths_per_min=6.0, breathing=np.zeros(10))

    def test_measured_onsets_outside_the_block_are_not_used(self) -> None:
        t, nn = block(hr_at_end_of_inhalation(5.0))
        c = rate_criteria(
            t, nn, onsets(), breaths_per_min=6.0, measured_breath_start_s=[500.0, 510.0]
        )
        assert c.reference == "pacer"


class TestRateCriteriaAmplitude:
    @pytest.mark.parametrize("amp_bpm", [3.0, 7.0])
    def test_peak_to_trough_is_twice_the_amplitude(self, amp_bpm: float) -> None:
        t, nn = block(hr_at_end_of_inhalation(amp_bpm))
        c = rate_criteria(t, nn, onsets(), breaths_per_min=6.0)
        assert c.n_breaths == 9  # onsets 0 … 90 s inside the beats: 9 complete breaths
        assert c.peak_to_trough_bpm == pytest.approx(2 * amp_bpm, rel=0.04)

    def test_lf_power_peak_and_frequency_of_a_known_rr_sinusoid(self) -> None:
        # RR = 850 + 40 sin(2π·0.1·t) ms: LF power ≈ 40²/2 = 800 ms² (smoothness priors keep
        # ≈ 99 % at 0.1 Hz; the Hann taper is power-normalised).
        t, nn = rr_block(lambda x: 850.0 + 40.0 * np.sin(2 * np.pi * F_P_HZ * x))
        c = rate_criteria(t, nn, onsets(), breaths_per_min=6.0)
        assert c.lf_power_ms2 == pytest.approx(800.0, rel=0.06)
        assert c.lf_peak_hz == pytest.approx(F_P_HZ, abs=0.002)
        # A single-segment Hann periodogram of a tone of power P over T s peaks near P·T/1.5.
        assert c.lf_peak_psd_ms2_per_hz == pytest.approx(800.0 * c.duration_s / 1.5, rel=0.1)
        assert c.n_lf_peaks == 1

    def test_larger_swing_gives_more_power_and_higher_peak(self) -> None:
        small = rate_criteria(*block(hr_at_end_of_inhalation(3.0)), onsets(), breaths_per_min=6.0)
        large = rate_criteria(*block(hr_at_end_of_inhalation(6.0)), onsets(), breaths_per_min=6.0)
        assert large.lf_power_ms2 > 3.5 * small.lf_power_ms2
        assert large.lf_peak_psd_ms2_per_hz > 3.5 * small.lf_peak_psd_ms2_per_hz


class TestRateCriteriaShape:
    @pytest.mark.parametrize(("second_amp_ms", "expected"), [(30.0, 2), (6.0, 1)])
    def test_lf_peaks_above_ten_percent_are_counted(
        self, second_amp_ms: float, expected: int
    ) -> None:
        # 0.07 and 0.12 Hz: a second rhythm of amplitude ratio 0.75 (56 % power) counts,
        # 0.15 (2 % power) does not.
        t, nn = rr_block(
            lambda x: (
                850.0
                + 40.0 * np.sin(2 * np.pi * 0.07 * x)
                + second_amp_ms * np.sin(2 * np.pi * 0.12 * x)
            )
        )
        c = rate_criteria(t, nn, onsets(), breaths_per_min=4.2)
        assert c.n_lf_peaks == expected

    def test_noise_lowers_smoothness(self) -> None:
        rng = np.random.default_rng(3)
        clean_t, clean_nn = rr_block(lambda x: 850.0 + 40.0 * np.sin(2 * np.pi * F_P_HZ * x))
        noisy_nn = clean_nn + rng.normal(0.0, 25.0, clean_nn.size)
        clean = rate_criteria(clean_t, clean_nn, onsets(), breaths_per_min=6.0)
        noisy = rate_criteria(clean_t, noisy_nn, onsets(), breaths_per_min=6.0)
        assert clean.smoothness > 5.0
        assert noisy.smoothness < 0.5 * clean.smoothness

    def test_smoothness_is_peak_over_the_rest(self) -> None:
        # Two equal tones far apart: the peak window holds one of them, the rest the other,
        # so the ratio is close to 1.
        t, nn = rr_block(
            lambda x: (
                850.0 + 30.0 * np.sin(2 * np.pi * 0.1 * x) + 30.0 * np.sin(2 * np.pi * 0.3 * x)
            )
        )
        c = rate_criteria(t, nn, onsets(), breaths_per_min=6.0)
        assert c.smoothness == pytest.approx(1.0, rel=0.15)


class TestRateCriteriaEdges:
    def test_short_block_gives_nan_spectra_and_no_peaks(self) -> None:
        t, nn = block(hr_at_end_of_inhalation(5.0), duration_s=20.0)
        c = rate_criteria(t, nn, onsets(20.0), breaths_per_min=6.0)
        assert math.isnan(c.lf_power_ms2) and math.isnan(c.smoothness)
        assert c.n_lf_peaks == 0
        assert c.n_beats == nn.size

    def test_no_complete_breath_gives_nan_amplitude_and_phase(self) -> None:
        t, nn = block(hr_at_end_of_inhalation(5.0))
        c = rate_criteria(t, nn, [50.0], breaths_per_min=6.0)
        assert math.isnan(c.peak_to_trough_bpm) and math.isnan(c.phase_lag_deg)
        assert c.n_breaths == 0

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"beat_t_s": [1.0, 2.0], "nn_ms": [800.0]}, "equal length"),
            ({"beat_t_s": [1.0, 1.0], "nn_ms": [800.0, 800.0]}, "increasing"),
            ({"nn_ms": [800.0, -1.0]}, "nn_ms"),
            ({"breaths_per_min": 0.0}, "breaths_per_min"),
            ({"inhale_fraction": 0.0}, "inhale_fraction"),
            ({"breath_start_s": [10.0, 0.0]}, "breath_start_s"),
            ({"measured_breath_start_s": [5.0, 5.0]}, "measured_breath_start_s"),
        ],
    )
    def test_bad_input_raises(self, kwargs: dict[str, object], match: str) -> None:
        args: dict[str, object] = {
            "beat_t_s": [1.0, 2.0],
            "nn_ms": [800.0, 800.0],
            "breath_start_s": [0.0, 10.0],
            "breaths_per_min": 6.0,
        }
        args.update(kwargs)
        with pytest.raises(SignalInputError, match=match):
            rate_criteria(**args)  # type: ignore[arg-type]  # deliberately loose test input

    def test_reference_grid_never_passes_the_last_onset(self) -> None:
        # Regression: np.arange(first, last, 0.1) can end a rounding error *past* `last`
        # (here by 2e-11 s), where the breathing phase is NaN, and phase_synchrony raised.
        first = 483.67727272727274
        hr = lambda t: 65.0 - 5.0 * np.cos(2 * np.pi * (t - first) / 12.0)  # noqa: E731
        t, nn = block(hr, duration_s=600.0)
        keep = (t > 470.0) & (t < 580.0)
        c = rate_criteria(t[keep], nn[keep], first + 12.0 * np.arange(8), breaths_per_min=5.0)
        assert abs(c.phase_lag_deg) < 3.0

    def test_times_disagreeing_with_nn_raise(self) -> None:
        t = np.arange(1.0, 50.0)
        nn = np.full(t.size, 800.0)
        nn[10] = 3000.0  # midpoint t − NN/2 jumps back
        with pytest.raises(SignalInputError, match="disagree"):
            rate_criteria(t, nn, onsets(), breaths_per_min=6.0)
