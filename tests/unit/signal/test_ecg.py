"""Unit tests for pet_biofeedback.signal.ecg on synthetic ECG with known beat times."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from pet_biofeedback.errors import SignalInputError
from pet_biofeedback.signal._typing import FloatArray
from pet_biofeedback.signal.ecg import RPeaks, find_r_peaks


def _gauss(t_s: FloatArray, centres_s: FloatArray, amp_uv: float, sd_s: float) -> FloatArray:
    """Sum of Gaussian bumps; evaluated in one (samples × beats) broadcast."""
    out: FloatArray = amp_uv * np.exp(-0.5 * ((t_s[:, None] - centres_s) / sd_s) ** 2).sum(axis=1)
    return out


def synthetic_ecg(
    fs_hz: float,
    *,
    duration_s: float = 60.0,
    polarity: float = 1.0,
    noise_uv: float = 20.0,
    seed: int = 0,
) -> tuple[FloatArray, FloatArray]:
    """PQRST from Gaussian templates at known R times, baseline wander and white noise.

    Q and S are symmetric about R, so the continuous R maximum is at the known time.
    Returns (ecg_uv, true R times in s).
    """
    rng = np.random.default_rng(seed)
    n_max = int(duration_s / 0.5)
    rr_s = 0.8 + 0.05 * np.sin(2 * np.pi * 0.1 * 0.8 * np.arange(n_max))
    rr_s = rr_s + rng.normal(0.0, 0.02, n_max)
    beats_s = 0.7 + np.cumsum(rr_s)
    beats_s = beats_s[beats_s < duration_s - 0.7]
    t_s = np.arange(round(duration_s * fs_hz)) / fs_hz
    qrst = (
        _gauss(t_s, beats_s, 1000.0, 0.010)
        + _gauss(t_s, beats_s - 0.025, -150.0, 0.008)
        + _gauss(t_s, beats_s + 0.025, -150.0, 0.008)
        + _gauss(t_s, beats_s + 0.25, 300.0, 0.040)
        + _gauss(t_s, beats_s - 0.16, 100.0, 0.020)
    )
    wander = 200.0 * np.sin(2 * np.pi * 0.3 * t_s) + 100.0 * np.sin(2 * np.pi * 0.07 * t_s)
    ecg = polarity * qrst + wander + 500.0 + rng.normal(0.0, noise_uv, t_s.size)
    return ecg, beats_s


class TestFindRPeaks:
    @pytest.mark.parametrize("fs_hz", [130.0, 250.0, 1000.0])
    @pytest.mark.parametrize("polarity", [1.0, -1.0])
    def test_synthetic_all_beats_found(self, fs_hz: float, polarity: float) -> None:
        ecg, beats_s = synthetic_ecg(fs_hz, polarity=polarity)
        peaks = find_r_peaks(ecg, fs_hz)
        assert peaks.n_beats == beats_s.size
        # Within one sample of the true R time, and sub-ms on average.
        assert np.max(np.abs(peaks.t_s - beats_s)) < 1.0 / fs_hz
        assert np.sqrt(np.mean((peaks.t_s - beats_s) ** 2)) < 0.5e-3
        assert np.all(np.sign(peaks.amplitude_uv) == polarity)
        assert_allclose(np.median(np.abs(peaks.amplitude_uv)), 900.0, rtol=0.1)

    def test_parabolic_refinement_beats_sample_times_at_130_hz(self) -> None:
        fs_hz = 130.0
        ecg, beats_s = synthetic_ecg(fs_hz, duration_s=120.0, seed=3)
        peaks = find_r_peaks(ecg, fs_hz)
        assert peaks.n_beats == beats_s.size
        rms_refined_s = np.sqrt(np.mean((peaks.t_s - beats_s) ** 2))
        rms_sample_s = np.sqrt(np.mean((peaks.peak_idx / fs_hz - beats_s) ** 2))
        # Without refinement the error is the quantisation: Δ/√12 = 2.2 ms (hrv-methods §9).
        assert_allclose(rms_sample_s, (1.0 / fs_hz) / np.sqrt(12.0), rtol=0.25)
        assert rms_refined_s < 0.25 * rms_sample_s
        # RR from refined peaks is closer to the truth as well.
        rr_true_ms = np.diff(beats_s) * 1000.0
        rr_err_refined = np.sqrt(np.mean((peaks.rr_ms - rr_true_ms) ** 2))
        rr_err_sample = np.sqrt(np.mean((np.diff(peaks.peak_idx) / fs_hz * 1e3 - rr_true_ms) ** 2))
        assert rr_err_refined < 0.25 * rr_err_sample

    def test_parabolic_refinement_near_exact_for_parabola(self) -> None:
        # Peaks that are parabolas near their vertex are recovered to a few µs (not exactly:
        # the 0.5–40 Hz locating filter bends the parabola slightly).
        fs_hz = 200.0
        t_s = np.arange(round(10 * fs_hz)) / fs_hz
        beats_s = np.arange(0.5, 9.6, 0.75) + 0.0013
        ecg = np.clip(1000.0 - 4e6 * (t_s[:, None] - beats_s) ** 2, 0.0, None).sum(axis=1)
        peaks = find_r_peaks(ecg, fs_hz)
        assert_allclose(peaks.t_s, beats_s, atol=1e-4)
        assert_allclose(peaks.amplitude_uv, 1000.0, rtol=0.05)

    def test_rr_ms_is_diff_of_times(self) -> None:
        ecg, _ = synthetic_ecg(250.0, duration_s=20.0)
        peaks = find_r_peaks(ecg, 250.0)
        assert_allclose(peaks.rr_ms, np.diff(peaks.t_s) * 1000.0)
        assert peaks.rr_ms.shape == (peaks.n_beats - 1,)

    def test_times_start_at_first_sample(self) -> None:
        fs_hz = 250.0
        ecg, _ = synthetic_ecg(fs_hz, duration_s=20.0)
        peaks = find_r_peaks(ecg, fs_hz)
        assert_allclose(peaks.t_s, peaks.peak_idx / fs_hz, atol=0.5 / fs_hz)
        assert peaks.fs_hz == fs_hz

    def test_result_is_read_only_and_input_untouched(self) -> None:
        ecg, _ = synthetic_ecg(250.0, duration_s=20.0)
        before = ecg.copy()
        peaks = find_r_peaks(ecg, 250.0)
        assert_array_equal(ecg, before)
        for arr in (peaks.peak_idx, peaks.t_s, peaks.amplitude_uv):
            with pytest.raises(ValueError, match="read-only"):
                arr[0] = 0
        assert peaks.peak_idx.dtype == np.intp

    def test_ectopic_like_close_beats_respect_refractory(self) -> None:
        # A premature beat 300 ms after a normal one is kept; nothing closer than 250 ms.
        fs_hz = 360.0
        ecg, beats_s = synthetic_ecg(fs_hz, duration_s=30.0, noise_uv=5.0)
        t_s = np.arange(ecg.size) / fs_hz
        extra_s = beats_s[5:30:6] + 0.3
        ecg = ecg + _gauss(t_s, extra_s, 1300.0, 0.02)
        peaks = find_r_peaks(ecg, fs_hz)
        assert peaks.n_beats == beats_s.size + extra_s.size
        assert np.min(np.diff(peaks.t_s)) >= 0.25

    @settings(max_examples=15, deadline=None)
    @given(
        gain=st.floats(0.05, 50.0),
        offset_uv=st.floats(-1e5, 1e5),
        shift=st.integers(0, 200),
    )
    def test_invariant_to_gain_offset_and_shift(
        self, gain: float, offset_uv: float, shift: int
    ) -> None:
        # Gain and DC offset do not move peaks; dropping leading samples shifts times by them.
        fs_hz = 250.0
        ecg, _ = synthetic_ecg(fs_hz, duration_s=20.0, noise_uv=5.0)
        base = find_r_peaks(ecg, fs_hz)
        scaled = find_r_peaks(gain * ecg + offset_uv, fs_hz)
        assert_allclose(scaled.t_s, base.t_s, atol=1e-6)
        assert_allclose(scaled.amplitude_uv, gain * base.amplitude_uv, rtol=1e-6)
        cut = find_r_peaks(ecg[shift:], fs_hz)
        keep = (base.t_s > (shift / fs_hz) + 1.0) & (base.t_s < 19.0)
        inner = (cut.t_s > 1.0) & (cut.t_s < 19.0 - shift / fs_hz)
        assert_allclose(cut.t_s[inner] + shift / fs_hz, base.t_s[keep], atol=2e-4)

    def test_flat_ecg_raises(self) -> None:
        with pytest.raises(SignalInputError, match="too flat for analysis"):
            find_r_peaks(np.full(1300, 512.0), 130.0)

    def test_almost_flat_ecg_raises(self) -> None:
        rng = np.random.default_rng(1)
        with pytest.raises(SignalInputError, match="too flat for analysis"):
            find_r_peaks(rng.normal(0.0, 0.5, 2600), 130.0)

    def test_too_short_ecg_raises(self) -> None:
        ecg, _ = synthetic_ecg(130.0, duration_s=4.0)
        with pytest.raises(SignalInputError, match=r"ECG too short .* 4\.0 s"):
            find_r_peaks(ecg, 130.0)

    def test_too_few_beats_raises(self) -> None:
        fs_hz = 250.0
        t_s = np.arange(round(10 * fs_hz)) / fs_hz
        ecg = _gauss(t_s, np.array([3.0, 6.0]), 1000.0, 0.01)
        with pytest.raises(SignalInputError, match="found only 2 heartbeat"):
            find_r_peaks(ecg, fs_hz)

    @pytest.mark.parametrize(
        ("ecg", "fs_hz", "match"),
        [
            (np.zeros((100, 2)), 130.0, "1-D"),
            (np.r_[np.zeros(1000), np.nan], 130.0, "finite"),
            (np.zeros(2000), 0.0, "fs_hz"),
            (np.zeros(2000), 30.0, "fs_hz"),
            (np.zeros(2000), float("nan"), "fs_hz"),
        ],
    )
    def test_bad_input_raises(self, ecg: FloatArray, fs_hz: float, match: str) -> None:
        with pytest.raises(SignalInputError, match=match):
            find_r_peaks(ecg, fs_hz)

    def test_error_has_user_message(self) -> None:
        with pytest.raises(SignalInputError) as info:
            find_r_peaks(np.zeros(1300), 130.0)
        assert "too flat" in info.value.user_message


class TestRPeaks:
    def test_mismatched_lengths_raise(self) -> None:
        with pytest.raises(SignalInputError, match="one length"):
            RPeaks(
                peak_idx=np.array([1, 2]),
                t_s=np.array([0.1]),
                amplitude_uv=np.array([1.0, 2.0]),
                fs_hz=100.0,
            )

    def test_copies_caller_arrays(self) -> None:
        t_s = np.array([0.1, 0.9, 1.7])
        peaks = RPeaks(
            peak_idx=np.array([10, 90, 170]), t_s=t_s, amplitude_uv=np.ones(3), fs_hz=100.0
        )
        t_s[0] = 5.0
        assert peaks.t_s[0] == 0.1
        assert t_s.flags.writeable
        assert_allclose(peaks.rr_ms, [800.0, 800.0])


class TestParabolicRefine:
    def test_hand_computed_vertex(self) -> None:
        # Parabola through (-1, 1), (0, 3), (1, 2): y = -1.5x² + 0.5x + 3, vertex x = 1/6,
        # y = 3 + 1/24 (hrv-methods.md §8.2 formulas).
        from pet_biofeedback.signal.ecg import _parabolic_refine

        y = np.array([0.0, 1.0, 3.0, 2.0, 0.0])
        d, amp = _parabolic_refine(y, np.array([2, 0, 4], dtype=np.intp))
        assert_allclose(d, [1.0 / 6.0, 0.0, 0.0])
        assert_allclose(amp, [3.0 + 1.0 / 24.0, 0.0, 0.0])
