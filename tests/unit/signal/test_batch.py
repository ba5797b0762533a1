"""Tests for pet_biofeedback.signal.batch."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal

from pet_biofeedback.errors import ConfigError
from pet_biofeedback.signal import nonlinear, spectral, timedomain
from pet_biofeedback.signal.batch import (
    COHERENCE_STEP_S,
    SAMPEN_MAX_BEATS,
    AnalysisSettings,
    BatchAnalysis,
    HrvTable,
    analyze_rr,
    coherence_window_means,
    window_bounds,
)

RTOL = 1e-9  # batch vs single-window functions: same formulas, different summation order

TIME_FIELDS = (
    "mean_rr_ms", "sdnn_ms", "rmssd_ms", "sdsd_ms", "pnn50_pct",
    "mean_hr_bpm", "min_hr_bpm", "max_hr_bpm",
)  # fmt: skip
FREQ_FIELDS = (
    "vlf_ms2", "lf_ms2", "hf_ms2", "total_power_ms2", "lf_hf", "lf_nu", "hf_nu",
    "lf_peak_hz", "hf_peak_hz",
)  # fmt: skip


def _sine_rr(amplitude_ms: float, duration_s: float = 600.0, *, mean_ms: float = 850.0,
             freq_hz: float = 0.1) -> np.ndarray:  # fmt: skip
    """RR_k = mean + A·sin(2π f t_k), t_k the time the interval starts, generated beat by beat."""
    out = []
    t_s = 0.0
    while t_s < duration_s:  # test generator: one beat per iteration is the point
        rr = mean_ms + amplitude_ms * math.sin(2.0 * math.pi * freq_hz * t_s)
        out.append(rr)
        t_s += rr / 1000.0
    return np.asarray(out)


def _noisy_rr(duration_s: float, seed: int) -> np.ndarray:
    """0.1 Hz RSA, a slow wave and white noise; long enough for several 300-s windows."""
    rng = np.random.default_rng(seed)
    base = _sine_rr(40.0, duration_s)
    t = np.concatenate(([0.0], np.cumsum(base[:-1]) / 1000.0))
    return base + 15.0 * np.sin(2 * np.pi * 0.02 * t) + 12.0 * rng.standard_normal(base.size)


def _assert_row_matches_single_window(table: HrvTable, k: int, nn: np.ndarray) -> None:
    """Row k of a batch table equals the one-window functions applied to ``nn``."""
    assert int(table.n_beats[k]) == nn.size
    td = timedomain.time_metrics(nn)
    for name in TIME_FIELDS:
        assert_allclose(getattr(table, name)[k], getattr(td, name), rtol=RTOL, err_msg=name)
    fd = spectral.frequency_metrics(nn)
    for name in FREQ_FIELDS:
        assert_allclose(getattr(table, name)[k], getattr(fd, name), rtol=RTOL, err_msg=name)
    pc = nonlinear.poincare_metrics(nn)
    assert_allclose(table.sd1_ms[k], pc.sd1_ms, rtol=RTOL, err_msg="sd1_ms")
    assert_allclose(table.sd2_ms[k], pc.sd2_ms, rtol=RTOL, err_msg="sd2_ms")
    assert_allclose(table.dfa_alpha1[k], nonlinear.dfa_alpha1(nn), rtol=RTOL, err_msg="dfa")
    assert_allclose(table.sampen[k], nonlinear.sample_entropy(nn), rtol=RTOL, err_msg="sampen")
    assert_allclose(table.duration_s[k], np.sum(nn) / 1000.0, rtol=RTOL, err_msg="duration_s")


class TestAnalyzeRr:
    # --- agreement with the one-window functions --------------------------------------------
    def test_summary_equals_single_window_functions_on_corrected_series(self) -> None:
        rr = _noisy_rr(420.0, seed=1)
        rr[200] = rr[200] + rr[201]  # a missed beat, so that correction changes the series
        rr = np.delete(rr, 201)
        result = analyze_rr(rr)
        assert result.nn_ms.size == rr.size + 1  # the missed beat was split
        assert len(result.summary) == 1
        _assert_row_matches_single_window(result.summary, 0, result.nn_ms)

    def test_every_window_equals_single_window_functions_on_its_nn_slice(self) -> None:
        result = analyze_rr(_noisy_rr(1000.0, seed=2), AnalysisSettings(window_s=300, step_s=150))
        w = result.windows
        t_end = result.beat_t_s[-1]
        n_expected = int(np.floor((t_end - 300.0) / 150.0)) + 1
        assert len(w) == n_expected == 5
        assert_allclose(w.start_s, 150.0 * np.arange(n_expected), rtol=0, atol=1e-12)
        assert_allclose(w.end_s, w.start_s + 300.0, rtol=0, atol=1e-12)
        for k in range(len(w)):
            # a beat belongs to a window when its interval ENDS inside [start, end)
            inside = (result.beat_t_s >= w.start_s[k]) & (result.beat_t_s < w.end_s[k])
            _assert_row_matches_single_window(w, k, result.nn_ms[inside])

    def test_coherence_is_mean_of_64_s_ratios_every_5_s_inside_each_window(self) -> None:
        rr = _noisy_rr(400.0, seed=3)
        result = analyze_rr(rr, AnalysisSettings(correction=False, window_s=120.0, step_s=60.0))
        series = spectral.coherence_series(rr, step_s=5.0)
        assert_allclose(np.diff(series.t_end_s), 5.0, rtol=1e-9)
        assert_allclose(result.summary.coherence_ratio[0], np.mean(series.ratio), rtol=RTOL)
        w = result.windows
        assert len(w) == 5
        for k in range(len(w)):
            # the 64-s coherence windows that lie wholly inside [start, end]
            inside = (series.t_end_s - 64.0 >= w.start_s[k] - 1e-9) & (
                series.t_end_s <= w.end_s[k] + 1e-9
            )
            assert 8 <= np.count_nonzero(inside) <= 12
            assert_allclose(w.coherence_ratio[k], np.mean(series.ratio[inside]), rtol=RTOL)

    def test_coherence_close_to_per_window_splines(self) -> None:
        # One spline through the whole recording vs a spline per 64-s window (as the live
        # display computes it): they differ only by end effects, a few % per window.
        rr = _noisy_rr(300.0, seed=4)
        result = analyze_rr(rr, AnalysisSettings(correction=False))
        beat_t = np.cumsum(rr) / 1000.0
        ends = spectral.coherence_series(rr).t_end_s
        ratios = [spectral.coherence_ratio(rr[: np.count_nonzero(beat_t <= e)]).ratio for e in ends]
        assert_allclose(result.summary.coherence_ratio[0], np.mean(ratios), rtol=0.02)

    @settings(max_examples=25, deadline=None)
    @given(arrays(np.float64, st.integers(3, 300), elements=st.floats(400.0, 1500.0)))
    def test_uncorrected_time_domain_equals_time_metrics_for_any_series(
        self, rr: np.ndarray
    ) -> None:
        result = analyze_rr(rr, AnalysisSettings(correction=False))
        td = timedomain.time_metrics(rr)
        # an SD of a constant series is 0 in one summation order and ~1e-14 in another
        atol = RTOL * float(np.max(rr))
        for name in TIME_FIELDS:
            got, want = getattr(result.summary, name)[0], getattr(td, name)
            assert_allclose(got, want, rtol=RTOL, atol=atol, err_msg=name)

    # --- synthetic signals with known answers --------------------------------------------------
    @pytest.mark.parametrize("amplitude_ms", [10.0, 40.0, 80.0])
    def test_sine_of_amplitude_a_gives_lf_a_squared_over_two_at_0_1_hz(
        self, amplitude_ms: float
    ) -> None:
        result = analyze_rr(_sine_rr(amplitude_ms))
        s = result.summary
        expected = amplitude_ms**2 / 2.0
        # smoothness priors (λ = 500) removes ≈ 1.3 % of the power at 0.1 Hz: never adds any
        assert_allclose(s.lf_ms2[0], expected, rtol=0.03)
        assert s.lf_ms2[0] < expected
        assert_allclose(s.lf_ms2[0], 0.987 * expected, rtol=0.005)
        assert abs(s.lf_peak_hz[0] - 0.100) <= 0.005
        assert s.hf_ms2[0] < 0.01 * s.lf_ms2[0]
        assert s.coherence_ratio[0] > 1.0
        assert s.n_ectopic[0] == s.n_missed[0] == s.n_extra[0] == s.n_long_short[0] == 0

    def test_white_noise_rr_has_coherence_below_one(self) -> None:
        rng = np.random.default_rng(4)
        rr = 850.0 + 40.0 * rng.standard_normal(800)
        result = analyze_rr(rr, AnalysisSettings(correction=False, window_s=120.0))
        assert result.summary.coherence_ratio[0] < 1.0
        assert len(result.windows) >= 4
        assert np.all(result.windows.coherence_ratio < 1.0)

    # --- correction switched off ---------------------------------------------------------------
    def test_no_correction_leaves_nn_equal_to_rr_and_counts_zero(self) -> None:
        rr = _noisy_rr(400.0, seed=5)
        rr[100] *= 2.0  # an obvious missed beat that correction would split
        result = analyze_rr(rr, AnalysisSettings(correction=False, window_s=120.0))
        assert_array_equal(result.nn_ms, rr)
        assert result.n_input_beats == rr.size
        assert_array_equal(result.beat_t_s, np.cumsum(rr) / 1000.0)
        for table in (result.summary, result.windows):
            assert len(table) > 0
            for name in ("n_ectopic", "n_long_short", "n_missed", "n_extra"):
                assert_array_equal(getattr(table, name), 0, err_msg=name)
            assert_array_equal(table.corrected_pct, 0.0)

    # --- injected artifacts --------------------------------------------------------------------
    @staticmethod
    def _with_artifacts() -> tuple[np.ndarray, dict[str, float]]:
        rng = np.random.default_rng(2)
        base = _sine_rr(30.0, 900.0)
        base = base + 8.0 * rng.standard_normal(base.size)
        t_end = np.cumsum(base) / 1000.0
        times = {}
        # missed beat: intervals 200 and 201 merged into one
        rr = np.concatenate((base[:200], [base[200] + base[201]], base[202:]))
        times["missed"] = t_end[201]
        # extra beat: interval 599 of the new series split into 40 % + 60 %
        k = 599
        times["extra"] = float(np.cumsum(rr)[k] / 1000.0)
        rr = np.concatenate((rr[:k], [0.4 * rr[k], 0.6 * rr[k]], rr[k + 1 :]))
        # ectopic pair: a premature beat and its compensatory pause (sum unchanged)
        k = 900
        times["ectopic"] = float(np.cumsum(rr)[k] / 1000.0)
        rr[k], rr[k + 1] = 0.7 * rr[k], rr[k + 1] + 0.3 * rr[k]
        return rr, times

    def test_injected_artifacts_are_counted_in_the_summary(self) -> None:
        rr, _ = self._with_artifacts()
        s = analyze_rr(rr).summary
        assert s.n_missed[0] == 1
        assert s.n_extra[0] == 1
        assert s.n_ectopic[0] >= 1
        assert s.n_ectopic[0] + s.n_long_short[0] <= 2  # one premature beat + its pause
        # a split missed beat changes two NN values, a merge one, the ectopic pair two
        n_changed = 2 * s.n_missed[0] + s.n_extra[0] + s.n_ectopic[0] + s.n_long_short[0]
        assert_allclose(s.corrected_pct[0], 100.0 * n_changed / s.n_beats[0], rtol=1e-12)

    def test_windows_count_only_artifacts_inside_them(self) -> None:
        rr, times = self._with_artifacts()
        result = analyze_rr(rr, AnalysisSettings(window_s=300.0))
        w = result.windows
        assert len(w) == 3
        for k in range(len(w)):
            in_win = {name: w.start_s[k] <= t < w.end_s[k] for name, t in times.items()}
            assert w.n_missed[k] == int(in_win["missed"])
            assert w.n_extra[k] == int(in_win["extra"])
            n_ectopic_like = int(w.n_ectopic[k] + w.n_long_short[k])
            assert (n_ectopic_like > 0) == in_win["ectopic"]
            n_changed = 2 * w.n_missed[k] + w.n_extra[k] + n_ectopic_like
            assert_allclose(w.corrected_pct[k], 100.0 * n_changed / w.n_beats[k], rtol=1e-12)
        # the three windows tile the recording's artifacts: their counts add up to the summary
        for name in ("n_ectopic", "n_long_short", "n_missed", "n_extra"):
            assert int(np.sum(getattr(w, name))) == int(getattr(result.summary, name)[0]), name

    # --- windows ---------------------------------------------------------------------------------
    def test_recording_shorter_than_one_window_gives_no_windows_and_a_note(self) -> None:
        rr = _sine_rr(40.0, 200.0)
        result = analyze_rr(rr, AnalysisSettings(window_s=300.0))
        assert len(result.windows) == 0
        assert result.windows.lf_ms2.shape == (0,)
        assert any("shorter than one 300-s window" in note for note in result.notes)
        assert np.isfinite(result.summary.rmssd_ms[0])  # the summary is still there

    def test_sixty_second_windows_get_frequency_measures(self) -> None:
        # Regression (issue 9): every frequency column of `analyze --window 60` was empty.
        rr = _noisy_rr(300.0, seed=4)
        result = analyze_rr(rr, AnalysisSettings(window_s=60.0, step_s=30.0))
        w = result.windows
        assert len(w) == 9
        for name in FREQ_FIELDS:
            assert np.all(np.isfinite(getattr(w, name))), name
        for k in (0, 4):  # and each row is the one-window function on its beats
            lo = int(np.searchsorted(result.beat_t_s, w.start_s[k]))
            hi = int(np.searchsorted(result.beat_t_s, w.end_s[k]))
            nn = result.nn_ms[lo:hi]
            fd = spectral.frequency_metrics(nn)
            assert_allclose(w.lf_ms2[k], fd.lf_ms2, rtol=RTOL)
        # coherence uses 64-s windows: left out, and the notes say why
        assert np.all(np.isnan(w.coherence_ratio))
        assert any(
            "coherence of 9 of 9 windows was left out" in n and "64 s" in n for n in result.notes
        )
        assert not any("frequency measures" in n for n in result.notes)

    def test_windows_too_short_for_frequency_measures_are_noted(self) -> None:
        result = analyze_rr(_noisy_rr(120.0, seed=5), AnalysisSettings(window_s=30.0))
        assert np.all(np.isnan(result.windows.lf_ms2))
        assert any(
            "frequency measures of 4 of 4 windows were left out" in n
            and "windows of 30 s are shorter than the 60 s" in n
            for n in result.notes
        )

    def test_short_recording_notes_why_its_frequency_measures_are_missing(self) -> None:
        result = analyze_rr(_noisy_rr(45.0, seed=6))
        assert np.isnan(result.summary.lf_ms2[0]) and np.isnan(result.summary.coherence_ratio[0])
        assert any(
            n.startswith("frequency measures of the whole recording were left out: its beats")
            for n in result.notes
        )
        assert any(
            n.startswith("coherence of the whole recording was left out") for n in result.notes
        )

    def test_step_defaults_to_window(self) -> None:
        settings_ = AnalysisSettings(window_s=120.0)
        assert settings_.step_s is None
        assert settings_.effective_step_s == 120.0
        result = analyze_rr(_sine_rr(40.0, 500.0), settings_)
        assert_allclose(result.windows.start_s, [0.0, 120.0, 240.0, 360.0], atol=1e-12)
        assert_allclose(result.windows.end_s, [120.0, 240.0, 360.0, 480.0], atol=1e-12)

    def test_no_window_setting_gives_an_empty_window_table(self) -> None:
        result = analyze_rr(_sine_rr(40.0, 200.0))
        assert len(result.windows) == 0
        assert result.notes == ()

    def test_window_times_follow_t_first_beat(self) -> None:
        rr = _sine_rr(40.0, 400.0)
        result = analyze_rr(rr, AnalysisSettings(window_s=100.0), t_first_beat_s=50.0)
        assert_allclose(result.beat_t_s, 50.0 + np.cumsum(rr) / 1000.0, rtol=1e-15)
        assert_allclose(result.windows.start_s, [50.0, 150.0, 250.0, 350.0], atol=1e-12)

    def test_short_series_gives_nan_not_error(self) -> None:
        result = analyze_rr([800.0, 820.0, 790.0, 810.0, 805.0])
        s = result.summary
        assert np.isfinite(s.rmssd_ms[0])
        for name in ("lf_ms2", "hf_ms2", "dfa_alpha1", "coherence_ratio"):
            assert np.isnan(getattr(s, name)[0]), name

    def test_constant_rr_gives_nan_for_undefined_measures_without_warnings(self) -> None:
        # Regression: DFA of a window with zero fluctuation raised "invalid value" (log F = −inf).
        result = analyze_rr(np.full(400, 800.0), AnalysisSettings(window_s=120.0))
        s = result.summary
        assert s.mean_hr_bpm[0] == 75.0 and s.sdnn_ms[0] == 0.0 and s.rmssd_ms[0] == 0.0
        assert np.isnan(s.dfa_alpha1[0]) and np.isnan(s.sampen[0])
        assert np.all(np.isnan(result.windows.dfa_alpha1))

    # --- breathing -------------------------------------------------------------------------------
    def test_breath_onsets_every_10_s_give_6_breaths_per_min_per_window(self) -> None:
        rr = _sine_rr(40.0, 600.0)
        breaths = np.arange(3.0, 600.0, 10.0)
        result = analyze_rr(rr, AnalysisSettings(window_s=120.0), breath_start_s=breaths)
        assert len(result.windows) == 5
        assert_allclose(result.windows.breathing_rate_breaths_per_min, 6.0, rtol=1e-9)
        assert_allclose(result.summary.breathing_rate_breaths_per_min[0], 6.0, rtol=1e-9)

    def test_given_breathing_rate_is_the_summary_value(self) -> None:
        rr = _sine_rr(40.0, 600.0)
        breaths = np.arange(3.0, 600.0, 10.0)
        result = analyze_rr(
            rr,
            AnalysisSettings(window_s=120.0),
            breath_start_s=breaths,
            breathing_rate_breaths_per_min=5.8,
        )
        assert result.summary.breathing_rate_breaths_per_min[0] == 5.8
        assert_allclose(result.windows.breathing_rate_breaths_per_min, 6.0, rtol=1e-9)

    def test_without_breathing_signal_breathing_rate_is_nan(self) -> None:
        result = analyze_rr(_sine_rr(40.0, 300.0), AnalysisSettings(window_s=120.0))
        assert np.isnan(result.summary.breathing_rate_breaths_per_min[0])
        assert np.all(np.isnan(result.windows.breathing_rate_breaths_per_min))

    # --- long recordings -------------------------------------------------------------------------
    def test_over_sampen_limit_summary_sampen_is_nan_with_note_windows_keep_it(self) -> None:
        rng = np.random.default_rng(7)
        rr = 800.0 + 40.0 * rng.standard_normal(SAMPEN_MAX_BEATS + 1)
        result = analyze_rr(rr, AnalysisSettings(correction=False, window_s=3600.0))
        assert np.isnan(result.summary.sampen[0])
        assert any("sample entropy" in note for note in result.notes)
        assert np.isfinite(result.summary.rmssd_ms[0])
        assert len(result.windows) == 4
        assert np.all(np.isfinite(result.windows.sampen))
        # white noise: SampEn(m = 2, r = 0.2 SD) ≈ 2.2
        assert np.all((result.windows.sampen > 1.8) & (result.windows.sampen < 2.6))

    def test_at_sampen_limit_summary_sampen_is_computed(self) -> None:
        rng = np.random.default_rng(8)
        rr = 800.0 + 40.0 * rng.standard_normal(SAMPEN_MAX_BEATS)
        result = analyze_rr(rr, AnalysisSettings(correction=False))
        assert np.isfinite(result.summary.sampen[0])
        assert result.notes == ()

    # --- result objects --------------------------------------------------------------------------
    def test_result_arrays_are_read_only(self) -> None:
        result = analyze_rr(_sine_rr(40.0, 300.0), AnalysisSettings(window_s=120.0))
        assert isinstance(result, BatchAnalysis)
        with pytest.raises(ValueError, match="read-only"):
            result.summary.lf_ms2[0] = 0.0
        with pytest.raises(ValueError, match="read-only"):
            result.windows.n_beats[0] = 0
        with pytest.raises(dataclasses.FrozenInstanceError):
            result.settings = AnalysisSettings()  # type: ignore[misc]


class TestAnalysisSettings:
    def test_defaults(self) -> None:
        s = AnalysisSettings()
        assert s.correction is True
        assert s.window_s is None and s.step_s is None and s.effective_step_s is None
        assert s.spectral_method == "welch"

    def test_step_given_is_used(self) -> None:
        assert AnalysisSettings(window_s=300.0, step_s=150.0).effective_step_s == 150.0

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"window_s": -300.0},
            {"window_s": 0.0},
            {"window_s": math.nan},
            {"window_s": math.inf},
            {"step_s": 150.0},  # step without window
            {"window_s": 300.0, "step_s": -1.0},
            {"window_s": 300.0, "step_s": 0.0},
            {"window_s": 300.0, "step_s": math.nan},
            {"spectral_method": "fft"},
            {"spectral_method": "Welch"},
            {"window_s": 5.0},  # regression (review): tiny windows ran out of memory
            {"window_s": 60.0, "step_s": 1e-9},
            {"window_s": 60.0, "step_s": 0.5},
        ],
    )
    def test_nonsense_raises_config_error(self, kwargs: dict[str, object]) -> None:
        with pytest.raises(ConfigError):
            AnalysisSettings(**kwargs)  # type: ignore[arg-type]

    def test_too_many_windows_is_a_config_error(self) -> None:
        # Regression (review of issue #2): the count is capped before any allocation.
        rr = np.full(130_000, 800.0)  # ≈ 29 h
        with pytest.raises(ConfigError, match="larger step"):
            analyze_rr(rr, AnalysisSettings(correction=False, window_s=10.0, step_s=1.0))

    def test_lomb_is_accepted_and_used(self) -> None:
        rr = _sine_rr(40.0, 300.0)
        result = analyze_rr(rr, AnalysisSettings(spectral_method="lomb"))
        ref = spectral.frequency_metrics(result.nn_ms, method="lomb")
        assert_allclose(result.summary.lf_ms2[0], ref.lf_ms2, rtol=RTOL)
        assert abs(result.summary.lf_peak_hz[0] - 0.1) <= 0.005


class TestWindowBounds:
    def test_hand_computed_beat_ranges(self) -> None:
        # beats (interval ends) at 0.5, 1.0, …, 6.0 s; windows of 2 s every 1 s from 0
        beat_t = 0.5 * np.arange(1, 13, dtype=np.float64)
        starts, ends, lo, hi = window_bounds(beat_t, 0.0, 6.0, 2.0, 1.0)
        assert_allclose(starts, [0.0, 1.0, 2.0, 3.0, 4.0])
        assert_allclose(ends, [2.0, 3.0, 4.0, 5.0, 6.0])
        # [0, 2): beats at 0.5, 1.0, 1.5 (2.0 is out); [1, 3): 1.0 … 2.5
        assert_array_equal(lo, [0, 1, 3, 5, 7])
        assert_array_equal(hi, [3, 5, 7, 9, 11])

    def test_beat_on_start_is_in_beat_on_end_is_out(self) -> None:
        beat_t = np.array([10.0, 20.0, 30.0])
        _, _, lo, hi = window_bounds(beat_t, 10.0, 30.0, 10.0, 10.0)
        assert_array_equal(lo, [0, 1])
        assert_array_equal(hi, [1, 2])

    def test_only_full_windows(self) -> None:
        beat_t = np.linspace(0.5, 9.9, 20)
        starts, _, _, _ = window_bounds(beat_t, 0.0, 9.9, 3.0, 3.0)
        assert_allclose(starts, [0.0, 3.0, 6.0])  # [9, 12) would run past the end

    def test_recording_shorter_than_window_gives_no_windows(self) -> None:
        starts, ends, lo, hi = window_bounds(np.array([1.0, 2.0]), 0.0, 2.0, 5.0, 5.0)
        assert starts.size == ends.size == lo.size == hi.size == 0

    def test_exact_fit_is_one_window_despite_rounding(self) -> None:
        beat_t = np.cumsum(np.full(300, 0.1))  # sums to 29.999999999999… s
        starts, _, _, _ = window_bounds(beat_t, 0.0, float(beat_t[-1]), 10.0, 10.0)
        assert starts.size == 3


class TestCoherenceWindowMeans:
    # One helper for batch's coherence and analyze's RR breathing estimate (they were two
    # copies of the same prefix-sum code).
    def test_mean_of_the_finite_values_of_the_windows_inside(self) -> None:
        grid_t_s = np.array([64.0, 69.0, 74.0, 79.0])
        values = np.array([1.0, np.nan, 3.0, 8.0])
        starts = np.array([0.0, 5.0, 10.0, 0.0, 20.0])
        ends = np.array([74.0, 70.0, 79.0, 79.0, 79.0])
        # [0, 74]: 64, 69 (NaN), 74; [5, 70]: 69 (NaN) only; [10, 79]: 74, 79;
        # [0, 79]: all four; [20, 79]: none starts late enough
        expected = [2.0, np.nan, 5.5, 4.0, np.nan]
        assert_allclose(coherence_window_means(grid_t_s, values, starts, ends), expected)

    def test_window_coherence_is_the_mean_of_the_64_s_windows_inside(self) -> None:
        rng = np.random.default_rng(5)
        rr_ms = 900.0 + 60.0 * np.sin(np.arange(400) * 0.55) + 5.0 * rng.standard_normal(400)
        result = analyze_rr(rr_ms, AnalysisSettings(window_s=120.0, step_s=60.0))
        coherence = spectral.coherence_series(rr_ms, step_s=COHERENCE_STEP_S)
        grid_t_s = np.asarray(coherence.t_end_s)
        expected = coherence_window_means(
            grid_t_s, coherence.ratio, result.windows.start_s, result.windows.end_s
        )
        assert_allclose(result.windows.coherence_ratio, expected, rtol=1e-12)


class TestStartUpCost:
    def test_rr_analysis_loads_no_scipy_subpackage_and_gives_the_same_numbers(self) -> None:
        # Issue 9: scipy.ndimage and the scipy.linalg package (scipy's array-API layer,
        # numpy.f2py, numpy.testing) and numpy.ma cost ≈ 0.4 s of a 1.3-s `analyze` of a 24-h
        # RR file. The analysis uses numpy's sorts and LAPACK's extension module alone.
        rng = np.random.default_rng(3)
        rr = np.round(850 + 40 * np.sin(np.arange(1500) * 0.6) + 20 * rng.standard_normal(1500))
        rr[[300, 700]] *= 2.0
        code = (
            "import json, sys\n"
            "import numpy as np\n"
            "from pet_biofeedback.signal.batch import AnalysisSettings, analyze_rr\n"
            "rr = np.array(json.load(sys.stdin))\n"
            "r = analyze_rr(rr, AnalysisSettings(window_s=300.0, step_s=150.0))\n"
            "loaded = sorted(m for m in ('scipy.ndimage', 'scipy.linalg', 'scipy._lib._array_api',"
            " 'numpy.ma', 'numpy.f2py', 'scipy.signal') if m in sys.modules)\n"
            "import scipy.linalg\n"
            "from pet_biofeedback.signal._spectral_kernels import _lapack\n"
            "same = _lapack().dpbsv is scipy.linalg.lapack.dpbsv\n"
            "print(json.dumps([loaded, same, r.windows.hf_ms2.tolist(), r.nn_ms.tolist()]))\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code],
            input=json.dumps(rr.tolist()),
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        loaded, same, hf_ms2, nn_ms = json.loads(result.stdout)
        assert loaded == []
        assert same  # a later `import scipy.linalg` reuses the extension module
        here = analyze_rr(rr, AnalysisSettings(window_s=300.0, step_s=150.0))
        assert_array_equal(np.asarray(nn_ms), here.nn_ms)
        assert_array_equal(np.asarray(hf_ms2), here.windows.hf_ms2)

    def test_lapack_falls_back_to_the_scipy_linalg_package(self) -> None:
        # Where the extension is not found on its own (another layout, or a platform whose
        # scipy must start up first), the solves still work through scipy.linalg.lapack.
        code = (
            "import importlib.machinery, sys\n"
            "importlib.machinery.EXTENSION_SUFFIXES[:] = ['.not-an-extension']\n"
            "from pet_biofeedback.signal._spectral_kernels import _lapack\n"
            "lapack = _lapack()\n"
            "print(lapack.__name__, 'scipy.linalg' in sys.modules)\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["scipy.linalg.lapack", "True"]
