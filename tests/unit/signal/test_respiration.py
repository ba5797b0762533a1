"""Unit tests for pet_biofeedback.signal.respiration on synthetic ACC and R-amplitude series."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from pet_biofeedback.errors import SignalInputError
from pet_biofeedback.signal._typing import FloatArray
from pet_biofeedback.signal.respiration import (
    BreathingEstimate,
    breathing_from_acc,
    breathing_from_ecg_amplitude,
    breathing_rate_windows,
)

RATE_TOL_BREATHS_PER_MIN = 0.3


def synthetic_acc(
    fs_hz: float,
    breathing_hz: float,
    *,
    duration_s: float = 90.0,
    tilt_rad: float = 0.03,
    noise_mg: float = 15.0,
    seed: int = 0,
) -> tuple[FloatArray, FloatArray]:
    """Gravity (1000 mG) on a tilted axis, rotated by a breathing tilt, plus noise on 3 axes.

    Returns (t_s, acc_mg (n, 3)). The tilt is sin(2π f t): it rises from 0 at t = k/f.
    """
    rng = np.random.default_rng(seed)
    t_s = np.arange(round(duration_s * fs_hz)) / fs_hz
    tilt = tilt_rad * np.sin(2 * np.pi * breathing_hz * t_s)
    theta = 0.75 + tilt
    phi = 0.3 + 0.5 * tilt
    gravity = 1000.0 * np.column_stack(
        [np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)]
    )
    return t_s, gravity + rng.normal(0.0, noise_mg, gravity.shape)


class TestBreathingFromAcc:
    @pytest.mark.parametrize("fs_hz", [200.0, 130.0])
    @pytest.mark.parametrize("rate_breaths_per_min", [6.0, 5.8])
    def test_synthetic_rate_and_boundaries(self, fs_hz: float, rate_breaths_per_min: float) -> None:
        _, acc = synthetic_acc(fs_hz, rate_breaths_per_min / 60.0)
        est = breathing_from_acc(acc, fs_hz)
        assert_allclose(est.rate_breaths_per_min, rate_breaths_per_min, atol=0.3)
        period_s = 60.0 / rate_breaths_per_min
        spacing_s = np.diff(est.breath_start_s)
        assert est.n_breaths == est.breath_start_s.size >= 7
        assert_allclose(np.median(spacing_s), period_s, rtol=0.05)
        assert np.all(np.abs(spacing_s - period_s) < 0.15 * period_s)
        assert est.explained_variance > 0.95
        assert est.signal_fs_hz == 4.0
        assert est.signal.shape == est.signal_t_s.shape
        assert_allclose(np.diff(est.signal_t_s), 0.25)

    def test_onsets_align_with_tilt_zero_crossings(self) -> None:
        # The tilt rises through zero at k·10 s and falls at 5 + k·10 s; the onsets sit on one
        # of the two (the waveform's sign is arbitrary), all on the same one.
        _, acc = synthetic_acc(200.0, 0.1, noise_mg=3.0)
        est = breathing_from_acc(acc, 200.0)
        phase_s = np.mod(est.breath_start_s + 2.5, 5.0) - 2.5  # distance to nearest k·5 s
        assert np.all(np.abs(phase_s) < 0.3)
        half = np.round(est.breath_start_s / 5.0).astype(int) % 2
        assert np.all(half == half[0])

    def test_timestamps_beat_nominal_rate(self) -> None:
        # A strap whose "200 Hz" ACC really runs at 204.3 Hz (reference-data.md §6).
        true_fs_hz = 204.3
        t_s, acc = synthetic_acc(true_fs_hz, 5.8 / 60.0)
        with_times = breathing_from_acc(acc, 200.0, t_s=t_s + 1000.0)
        assert_allclose(with_times.rate_breaths_per_min, 5.8, atol=0.1)
        assert with_times.breath_start_s[0] > 1000.0
        assert with_times.signal_t_s[0] == 1000.0
        nominal = breathing_from_acc(acc, 200.0)
        assert abs(nominal.rate_breaths_per_min - 5.8) > abs(with_times.rate_breaths_per_min - 5.8)

    def test_irregular_timestamps(self) -> None:
        rng = np.random.default_rng(5)
        dt_s = rng.uniform(0.5, 1.5, 9000) / 100.0
        t_s = np.cumsum(dt_s)
        tilt = 0.03 * np.sin(2 * np.pi * 0.1 * t_s)
        acc = 1000.0 * np.column_stack([np.sin(0.7 + tilt), 0.1 + 0 * t_s, np.cos(0.7 + tilt)])
        est = breathing_from_acc(acc, 100.0, t_s=t_s)
        assert_allclose(est.rate_breaths_per_min, 6.0, atol=RATE_TOL_BREATHS_PER_MIN)

    def test_sign_is_deterministic_under_axis_permutation(self) -> None:
        # The PC1 sign is fixed by its largest loading, not by axis order or eigen-solver luck.
        _, acc = synthetic_acc(100.0, 0.1)
        a = breathing_from_acc(acc, 100.0)
        b = breathing_from_acc(acc[:, [2, 0, 1]], 100.0)
        assert_allclose(a.signal, b.signal, atol=1e-9 * np.max(np.abs(a.signal)))
        assert_allclose(a.breath_start_s, b.breath_start_s)

    def test_short_record_gives_nan(self) -> None:
        _, acc = synthetic_acc(100.0, 0.1, duration_s=15.0)
        est = breathing_from_acc(acc, 100.0)
        assert np.isnan(est.rate_breaths_per_min)
        assert est.breath_start_s.size == 0
        assert est.n_breaths == 0
        assert np.isnan(est.explained_variance)

    def test_constant_acc_gives_nan_rate(self) -> None:
        acc = np.tile([0.0, 0.0, 1000.0], (3000, 1))
        est = breathing_from_acc(acc, 50.0)
        assert np.isnan(est.rate_breaths_per_min)
        assert est.n_breaths == 0

    def test_result_read_only_and_input_untouched(self) -> None:
        _, acc = synthetic_acc(50.0, 0.1, duration_s=40.0)
        before = acc.copy()
        est = breathing_from_acc(acc, 50.0)
        np.testing.assert_array_equal(acc, before)
        with pytest.raises(ValueError, match="read-only"):
            est.signal[0] = 1.0

    @pytest.mark.parametrize(
        ("acc", "kwargs", "match"),
        [
            (np.zeros((100, 2)), {}, r"shape \(n_samples, 3\)"),
            (np.zeros(300), {}, r"shape \(n_samples, 3\)"),
            (np.full((100, 3), np.nan), {}, "finite"),
            (np.zeros((100, 3)), {"t_s": np.arange(99.0)}, "one time per ACC sample"),
            (np.zeros((3, 3)), {"t_s": [0.0, 2.0, 1.0]}, "strictly increasing"),
        ],
    )
    def test_bad_input_raises(self, acc: FloatArray, kwargs: dict[str, object], match: str) -> None:
        with pytest.raises(SignalInputError, match=match):
            breathing_from_acc(acc, 50.0, **kwargs)  # type: ignore[arg-type]  # test kwargs

    @pytest.mark.parametrize("fs_hz", [-1.0, 0.0, 2.0, float("inf")])
    def test_bad_rate_raises(self, fs_hz: float) -> None:
        with pytest.raises(SignalInputError, match="fs_hz"):
            breathing_from_acc(np.zeros((100, 3)), fs_hz)


class TestBreathingFromEcgAmplitude:
    @pytest.mark.parametrize("rate_breaths_per_min", [6.0, 5.8, 12.0])
    def test_synthetic_am(self, rate_breaths_per_min: float) -> None:
        rng = np.random.default_rng(2)
        rr_s = 0.8 + rng.normal(0.0, 0.03, 150)
        t_s = 3.0 + np.cumsum(rr_s)
        amp_uv = 900.0 + 60.0 * np.sin(2 * np.pi * rate_breaths_per_min / 60.0 * t_s)
        amp_uv += rng.normal(0.0, 10.0, t_s.size)
        est = breathing_from_ecg_amplitude(t_s, amp_uv)
        assert_allclose(est.rate_breaths_per_min, rate_breaths_per_min, atol=0.3)
        assert np.isnan(est.explained_variance)
        period_s = 60.0 / rate_breaths_per_min
        assert_allclose(np.median(np.diff(est.breath_start_s)), period_s, rtol=0.05)
        assert est.signal_t_s[0] == t_s[0]

    def test_negative_amplitudes_use_magnitude(self) -> None:
        t_s = np.arange(0.0, 90.0, 0.85)
        amp_uv = 900.0 + 60.0 * np.sin(2 * np.pi * 0.1 * t_s)
        pos = breathing_from_ecg_amplitude(t_s, amp_uv)
        neg = breathing_from_ecg_amplitude(t_s, -amp_uv)
        assert_allclose(neg.signal, pos.signal)
        assert_allclose(pos.rate_breaths_per_min, 6.0, atol=RATE_TOL_BREATHS_PER_MIN)

    def test_ectopic_outliers_do_not_dominate(self) -> None:
        t_s = np.arange(0.0, 120.0, 0.8)
        amp_uv = 900.0 + 60.0 * np.sin(2 * np.pi * 0.1 * t_s)
        amp_uv[::23] = 3000.0  # PVC-like amplitudes every ~18 s
        est = breathing_from_ecg_amplitude(t_s, amp_uv)
        assert_allclose(est.rate_breaths_per_min, 6.0, atol=RATE_TOL_BREATHS_PER_MIN)

    def test_short_series_gives_nan(self) -> None:
        t_s = np.arange(0.0, 15.0, 0.8)
        est = breathing_from_ecg_amplitude(t_s, 900.0 + 0 * t_s)
        assert np.isnan(est.rate_breaths_per_min)
        assert est.n_breaths == 0
        assert breathing_from_ecg_amplitude([], []).n_breaths == 0

    @pytest.mark.parametrize(
        ("t_s", "amp", "match"),
        [
            (np.arange(30.0), np.ones(29), "one length"),
            (np.ones((30, 1)), np.ones(30), "1-D"),
            (np.r_[0.0, 2.0, 1.0], np.ones(3), "strictly increasing"),
            (np.arange(30.0), np.r_[np.ones(29), np.inf], "finite"),
        ],
    )
    def test_bad_input_raises(self, t_s: FloatArray, amp: FloatArray, match: str) -> None:
        with pytest.raises(SignalInputError, match=match):
            breathing_from_ecg_amplitude(t_s, amp)

    def test_bad_grid_rate_raises(self) -> None:
        t_s = np.arange(0.0, 60.0, 0.8)
        with pytest.raises(SignalInputError, match="fs_hz must be at least 2"):
            breathing_from_ecg_amplitude(t_s, 900 + 0 * t_s, fs_hz=1.0)


class TestBreathingRateWindows:
    def test_rate_change_tracked(self) -> None:
        # 6/min for 120 s, then 10/min for 120 s.
        t_s = np.arange(0.0, 240.0, 0.8)
        phase = np.where(t_s < 120, 0.1 * t_s, 12.0 + (10 / 60) * (t_s - 120))
        est = breathing_from_ecg_amplitude(t_s, 900 + 60 * np.sin(2 * np.pi * phase))
        win = breathing_rate_windows(est, window_s=60.0, step_s=10.0)
        assert win.t_end_s.shape == win.rate_breaths_per_min.shape
        early = win.rate_breaths_per_min[win.t_end_s <= 115]
        late = win.rate_breaths_per_min[win.t_end_s - 60 >= 125]
        assert_allclose(early, 6.0, atol=RATE_TOL_BREATHS_PER_MIN)
        assert_allclose(late, 10.0, atol=RATE_TOL_BREATHS_PER_MIN)
        assert_allclose(np.diff(win.t_end_s), 10.0)

    def test_short_estimate_gives_no_windows(self) -> None:
        empty = breathing_from_ecg_amplitude([], [])
        assert breathing_rate_windows(empty).t_end_s.size == 0

    @pytest.mark.parametrize(("window_s", "step_s"), [(10.0, 5.0), (60.0, 0.0)])
    def test_bad_settings_raise(self, window_s: float, step_s: float) -> None:
        est = BreathingEstimate(
            rate_breaths_per_min=6.0,
            breath_start_s=np.empty(0),
            signal_t_s=np.arange(400) / 4.0,
            signal=np.zeros(400),
            signal_fs_hz=4.0,
            explained_variance=float("nan"),
            n_breaths=0,
        )
        with pytest.raises(SignalInputError):
            breathing_rate_windows(est, window_s=window_s, step_s=step_s)


class TestCachedFilters:
    """The breathing filters are designed and their steady state solved once per rate."""

    @pytest.mark.parametrize("kind", ["acc_lowpass", "bandpass"])
    @pytest.mark.parametrize("fs_hz", [4.0, 25.0, 52.0])
    @pytest.mark.parametrize("shape", [(400,), (900, 3)])
    def test_equal_to_scipy_sosfiltfilt_bit_for_bit(
        self, kind: str, fs_hz: float, shape: tuple[int, ...]
    ) -> None:
        from scipy import signal as sps

        from pet_biofeedback.signal import respiration

        sos, zi = respiration._filter_plan(kind, fs_hz)
        x = np.random.default_rng(5).normal(0.0, 30.0, shape)
        got = respiration._sosfiltfilt(sos, zi, x)
        ref = sps.sosfiltfilt(sos.copy(), x, axis=0)
        assert np.array_equal(got, ref)
        # the cached design is not touched by filtering
        assert np.array_equal(respiration._filter_plan(kind, fs_hz)[0], sos)

    def test_too_short_to_pad_raises(self) -> None:
        from pet_biofeedback.signal import respiration

        sos, zi = respiration._filter_plan("bandpass", 4.0)
        with pytest.raises(SignalInputError):
            respiration._sosfiltfilt(sos, zi, np.zeros(10))
