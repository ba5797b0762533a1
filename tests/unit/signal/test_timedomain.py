"""Tests for pet_biofeedback.signal.timedomain."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose

from pet_biofeedback.errors import SignalInputError
from pet_biofeedback.signal.timedomain import (
    RunningTimeDomain,
    time_metrics,
    time_metrics_windows,
)

FIELDS = (
    "mean_rr_ms", "sdnn_ms", "rmssd_ms", "sdsd_ms", "pnn50_pct",
    "mean_hr_bpm", "min_hr_bpm", "max_hr_bpm",
)  # fmt: skip

rr_arrays = arrays(
    np.float64, st.integers(3, 400), elements=st.floats(300.0, 2000.0, allow_nan=False)
)


def _synthetic(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) * 0.85
    rr_ms: np.ndarray = 850.0 + 60.0 * np.sin(2 * np.pi * 0.1 * t) + 20.0 * rng.standard_normal(n)
    return rr_ms


class TestTimeMetrics:
    def test_hand_computed_values(self) -> None:
        nn = [800.0, 810.0, 790.0, 860.0]
        m = time_metrics(nn)
        # differences 10, -20, 70
        assert m.n_beats == 4
        assert_allclose(m.mean_rr_ms, 815.0, rtol=1e-15)
        assert_allclose(m.sdnn_ms, np.sqrt((15**2 + 5**2 + 25**2 + 45**2) / 3), rtol=1e-15)
        assert_allclose(m.rmssd_ms, np.sqrt((100 + 400 + 4900) / 3), rtol=1e-15)
        assert_allclose(m.sdsd_ms, np.std([10.0, -20.0, 70.0], ddof=1), rtol=1e-15)
        assert_allclose(m.pnn50_pct, 100.0 / 3, rtol=1e-15)  # only |70| > 50, over n − 1
        # Mean of the per-beat HR (pyHRV, hrv-analysis), not 60000 / mean NN (issue 9).
        per_beat = [60000.0 / 800, 60000.0 / 810, 60000.0 / 790, 60000.0 / 860]
        assert_allclose(m.mean_hr_bpm, sum(per_beat) / 4, rtol=1e-15)
        assert_allclose(m.min_hr_bpm, 60000.0 / 860.0, rtol=1e-15)
        assert_allclose(m.max_hr_bpm, 60000.0 / 790.0, rtol=1e-15)

    def test_difference_of_exactly_50_ms_is_not_counted(self) -> None:
        assert time_metrics([800.0, 850.0, 900.0]).pnn50_pct == 0.0

    def test_short_input_gives_nan_not_error(self) -> None:
        assert np.isnan(time_metrics([]).mean_rr_ms)
        one = time_metrics([800.0])
        assert one.mean_rr_ms == 800.0 and np.isnan(one.sdnn_ms) and np.isnan(one.rmssd_ms)
        two = time_metrics([800.0, 900.0])
        assert two.rmssd_ms == 100.0 and np.isnan(two.sdsd_ms)

    @pytest.mark.parametrize("bad", [[800.0, np.nan], [[800.0, 900.0]], [800.0, -1.0], ["a"]])
    def test_invalid_input_raises_signal_input_error(self, bad: object) -> None:
        with pytest.raises(SignalInputError):
            time_metrics(bad)  # type: ignore[arg-type]

    def test_matches_neurokit2(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import neurokit2 as nk

            nn = np.round(_synthetic(400, seed=3))
            peaks = np.concatenate(([0], np.cumsum(nn))).astype(int)
            ref = nk.hrv_time(peaks, sampling_rate=1000)
        m = time_metrics(nn)
        assert_allclose(m.mean_rr_ms, ref["HRV_MeanNN"].iloc[0], rtol=1e-9)
        assert_allclose(m.sdnn_ms, ref["HRV_SDNN"].iloc[0], rtol=1e-9)
        assert_allclose(m.rmssd_ms, ref["HRV_RMSSD"].iloc[0], rtol=1e-9)
        assert_allclose(m.sdsd_ms, ref["HRV_SDSD"].iloc[0], rtol=1e-9)
        # NeuroKit2 divides NN50 by n, we by n − 1 (hrv-methods.md §1).
        assert_allclose(m.pnn50_pct * (nn.size - 1) / nn.size, ref["HRV_pNN50"].iloc[0], rtol=1e-9)


class TestMeanHeartRate:
    """Issue 9: mean HR is mean(60000/NN) over the beats, as hrv-analysis and pyHRV report it."""

    @staticmethod
    def _hrv_analysis_style(nn: np.ndarray) -> dict[str, float]:
        # hrv-analysis 1.0.6 get_time_domain_features: heart_rate_list = 60000 / nn.
        heart_rate_list = np.divide(60000, nn)
        return {
            "mean_hr": float(np.mean(heart_rate_list)),
            "min_hr": float(min(heart_rate_list)),
            "max_hr": float(max(heart_rate_list)),
        }

    def test_time_metrics_mean_hr_is_mean_of_per_beat_hr(self) -> None:
        nn = np.round(_synthetic(1000, seed=5))
        ref = self._hrv_analysis_style(nn)
        m = time_metrics(nn)
        assert_allclose(m.mean_hr_bpm, ref["mean_hr"], rtol=1e-12)
        assert_allclose(m.min_hr_bpm, ref["min_hr"], rtol=1e-15)
        assert_allclose(m.max_hr_bpm, ref["max_hr"], rtol=1e-15)
        # The two conventions differ by more than display rounding on this series.
        assert m.mean_hr_bpm - 60000.0 / float(np.mean(nn)) > 0.1

    def test_mean_nn_matches_neurokit2_while_hr_follows_hrv_analysis(self) -> None:
        # NeuroKit2's hrv_time reports MeanNN but no heart rate; the HR convention comes from
        # hrv-analysis / pyHRV, the NN mean from NeuroKit2 (hrv-methods.md §1).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import neurokit2 as nk

            nn = np.round(_synthetic(1000, seed=6))
            peaks = np.concatenate(([0], np.cumsum(nn))).astype(int)
            ref = nk.hrv_time(peaks, sampling_rate=1000)
        m = time_metrics(nn)
        assert_allclose(m.mean_rr_ms, ref["HRV_MeanNN"].iloc[0], rtol=1e-12)
        assert_allclose(m.mean_hr_bpm, np.mean(60000.0 / (np.diff(peaks) / 1.0)), rtol=1e-12)

    def test_windows_and_running_use_the_same_convention(self) -> None:
        nn = _synthetic(600, seed=7)
        start = np.arange(0, 500, 25)
        stop = start + 100
        w = time_metrics_windows(nn, start, stop)
        expected = [np.mean(60000.0 / nn[a:b]) for a, b in zip(start, stop, strict=True)]
        assert_allclose(w.mean_hr_bpm, expected, rtol=1e-12)
        run = RunningTimeDomain(window_beats=100)
        got = [run.push(v).mean_hr_bpm for v in nn]
        live = [np.mean(60000.0 / nn[max(k - 99, 0) : k + 1]) for k in range(nn.size)]
        assert_allclose(got, live, rtol=1e-12)


class TestTimeMetricsWindows:
    def test_equals_single_window_calls(self) -> None:
        nn = _synthetic(5000, seed=1)
        start = np.arange(0, 4600, 150)
        stop = start + 300 + (start % 7)
        w = time_metrics_windows(nn, start, stop)
        for k in range(start.size):
            single = time_metrics(nn[start[k] : stop[k]])
            got = w.window(k)
            assert got.n_beats == single.n_beats
            for f in FIELDS:
                assert_allclose(getattr(got, f), getattr(single, f), rtol=1e-9, err_msg=f)

    def test_empty_and_tiny_windows_are_nan(self) -> None:
        w = time_metrics_windows([800.0, 810.0, 900.0], [0, 1, 0], [0, 2, 3])
        assert np.isnan(w.mean_rr_ms[0]) and w.n_beats[0] == 0
        assert w.mean_rr_ms[1] == 810.0 and np.isnan(w.sdnn_ms[1])
        assert_allclose(w.rmssd_ms[2], np.sqrt((100 + 8100) / 2), rtol=1e-12)

    def test_window_out_of_range_raises(self) -> None:
        with pytest.raises(SignalInputError):
            time_metrics_windows([800.0, 810.0], [0], [3])

    def test_results_are_read_only(self) -> None:
        w = time_metrics_windows(_synthetic(50), [0], [50])
        with pytest.raises(ValueError):
            w.rmssd_ms[0] = 1.0

    def test_long_series_keeps_precision(self) -> None:
        nn = _synthetic(100_000, seed=2) + np.linspace(0, 300, 100_000)
        start = np.array([0, 50_000, 99_000])
        w = time_metrics_windows(nn, start, start + 350)
        for k in range(3):
            assert_allclose(w.sdnn_ms[k], np.std(nn[start[k] : start[k] + 350], ddof=1), rtol=1e-10)

    @settings(max_examples=50, deadline=None)
    @given(rr_arrays)
    def test_property_whole_series_window_equals_time_metrics(self, nn: np.ndarray) -> None:
        w = time_metrics_windows(nn, [0], [nn.size]).window(0)
        single = time_metrics(nn)
        for f in FIELDS:
            assert_allclose(getattr(w, f), getattr(single, f), rtol=1e-8, atol=1e-9, err_msg=f)


class TestRunningTimeDomain:
    def test_live_equals_batch_at_every_beat(self) -> None:
        nn = _synthetic(1000, seed=4)
        run = RunningTimeDomain(window_beats=300)
        for k, value in enumerate(nn):
            live = run.push(value)
            if k % 37 == 0 or k > 990:
                ref = time_metrics(nn[max(0, k - 299) : k + 1])
                for f in FIELDS:
                    assert_allclose(getattr(live, f), getattr(ref, f), rtol=1e-10, err_msg=f)

    def test_rejects_nonsense_beat(self) -> None:
        run = RunningTimeDomain(window_beats=10)
        with pytest.raises(SignalInputError):
            run.push(float("nan"))

    def test_window_must_hold_two_beats(self) -> None:
        with pytest.raises(SignalInputError):
            RunningTimeDomain(window_beats=1)
