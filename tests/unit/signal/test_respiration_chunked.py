"""Unit tests for pet_biofeedback.signal.respiration_chunked: same estimate as the whole record."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from pet_biofeedback.errors import SignalInputError
from pet_biofeedback.signal._typing import FloatArray
from pet_biofeedback.signal.respiration import BreathingEstimate, breathing_from_acc
from pet_biofeedback.signal.respiration_chunked import OVERLAP_S, breathing_from_acc_chunks
from tests.unit.signal.test_respiration import synthetic_acc

# The chunked low-pass differs from the whole-record one by float64 rounding (measured ~2e-14
# relative on the waveform, ~5e-13 s on the onsets).
WAVEFORM_RTOL = 1e-10
ONSET_TOL_S = 1e-8


def _pieces(t_s: FloatArray, acc: FloatArray, size: int) -> Iterator[tuple[FloatArray, FloatArray]]:
    return ((t_s[i : i + size], acc[i : i + size]) for i in range(0, t_s.size, size))


def _jittered_acc(duration_s: float, fs_hz: float, seed: int) -> tuple[FloatArray, FloatArray]:
    """Whole-mG ACC at two breathing rates, stamped with jittered times from 100 s."""
    rng = np.random.default_rng(seed)
    t_s, acc = synthetic_acc(fs_hz, 0.1, duration_s=duration_s, noise_mg=5.0, seed=seed)
    _, faster = synthetic_acc(fs_hz, 0.23, duration_s=duration_s, tilt_rad=0.01, noise_mg=0.0)
    times = 100.0 + t_s + rng.uniform(-0.3, 0.3, t_s.size) / fs_hz
    return times, np.round(acc + faster - faster.mean(axis=0))


def _assert_same_estimate(chunked: BreathingEstimate, whole: BreathingEstimate) -> None:
    assert_array_equal(chunked.signal_t_s, whole.signal_t_s)
    scale = float(np.max(np.abs(whole.signal)))
    assert_allclose(chunked.signal, whole.signal, rtol=0.0, atol=WAVEFORM_RTOL * scale)
    assert chunked.rate_breaths_per_min == whole.rate_breaths_per_min
    assert chunked.n_breaths == whole.n_breaths
    assert_allclose(chunked.breath_start_s, whole.breath_start_s, rtol=0.0, atol=ONSET_TOL_S)
    assert_allclose(chunked.explained_variance, whole.explained_variance, rtol=1e-12)
    assert chunked.signal_fs_hz == whole.signal_fs_hz


class TestBreathingFromAccChunks:
    @pytest.mark.parametrize(
        ("chunk_s", "piece"), [(300.0, 7777), (60.0, 1000), (31.0, 123), (300.0, 36)]
    )
    def test_long_record_equals_whole_record(self, chunk_s: float, piece: int) -> None:
        # 40 min at 50 Hz: 8 to 78 blocks, pieces that do not line up with them.
        t_s, acc = _jittered_acc(2400.0, 50.0, seed=1)
        whole = breathing_from_acc(acc, 50.0, t_s=t_s)
        chunked = breathing_from_acc_chunks(_pieces(t_s, acc, piece), 50.0, chunk_s=chunk_s)
        assert whole.n_breaths > 200
        _assert_same_estimate(chunked, whole)

    def test_h10_rate_with_float32_chunks_equals_whole_record(self) -> None:
        t_s, acc = _jittered_acc(900.0, 200.0, seed=2)
        whole = breathing_from_acc(acc, 200.0, t_s=t_s)
        pieces = ((t, a.astype(np.float32)) for t, a in _pieces(t_s, acc, 36 * 50))
        _assert_same_estimate(breathing_from_acc_chunks(pieces, 200.0, chunk_s=120.0), whole)

    def test_record_within_one_block_is_bit_identical(self) -> None:
        t_s, acc = _jittered_acc(200.0, 50.0, seed=3)
        whole = breathing_from_acc(acc, 50.0, t_s=t_s)
        chunked = breathing_from_acc_chunks(_pieces(t_s, acc, 999), 50.0, chunk_s=300.0)
        assert_array_equal(chunked.signal, whole.signal)
        assert_array_equal(chunked.breath_start_s, whole.breath_start_s)
        assert chunked.explained_variance == whole.explained_variance

    def test_short_record_gives_the_empty_estimate(self) -> None:
        t_s, acc = _jittered_acc(15.0, 50.0, seed=4)
        est = breathing_from_acc_chunks(_pieces(t_s, acc, 100), 50.0)
        assert np.isnan(est.rate_breaths_per_min)
        assert est.n_breaths == 0
        assert est.signal.size == 0

    def test_no_chunks_gives_the_empty_estimate(self) -> None:
        assert breathing_from_acc_chunks(iter([]), 50.0).n_breaths == 0

    def test_times_going_back_across_chunks_raise(self) -> None:
        t_s, acc = _jittered_acc(100.0, 50.0, seed=5)
        pieces = [(t_s[:2000], acc[:2000]), (t_s[1999:], acc[1999:])]
        with pytest.raises(SignalInputError, match="strictly increasing across chunks"):
            breathing_from_acc_chunks(pieces, 50.0)

    @pytest.mark.parametrize(
        ("t_s", "acc", "match"),
        [
            (np.arange(5.0), np.zeros((4, 3)), "one time per ACC sample"),
            (np.arange(5.0), np.zeros((5, 2)), "shape"),
            (np.array([0.0, 2.0, 1.0]), np.zeros((3, 3)), "strictly increasing"),
            (np.arange(3.0), np.full((3, 3), np.nan), "finite"),
        ],
    )
    def test_bad_chunk_raises(self, t_s: FloatArray, acc: FloatArray, match: str) -> None:
        with pytest.raises(SignalInputError, match=match):
            breathing_from_acc_chunks([(t_s, acc)], 50.0)

    @pytest.mark.parametrize("chunk_s", [OVERLAP_S - 1.0, float("nan"), -5.0])
    def test_bad_chunk_length_raises(self, chunk_s: float) -> None:
        with pytest.raises(SignalInputError, match="chunk_s"):
            breathing_from_acc_chunks([], 50.0, chunk_s=chunk_s)

    def test_four_hours_at_200_hz_stay_within_a_few_blocks_of_memory(self) -> None:
        # Regression: each block built its grid times from np.arange over the whole record so
        # far (138 MB by the end of a 24-h H10 recording). Measured peak: 17 MB (31 MB before).
        fs_hz, piece_s = 200.0, 60.0

        def pieces() -> Iterator[tuple[FloatArray, FloatArray]]:
            for k in range(round(4 * 3600.0 / piece_s)):
                t_s = k * piece_s + np.arange(round(piece_s * fs_hz)) / fs_hz
                tilt = 0.02 * np.sin(2 * np.pi * 0.1 * t_s)
                acc = 1000.0 * np.column_stack([np.sin(0.6 + tilt), 0 * t_s, np.cos(0.6 + tilt)])
                yield t_s, acc.astype(np.float32)

        tracemalloc.start()
        try:
            est = breathing_from_acc_chunks(pieces(), fs_hz)
            _, peak_bytes = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert_allclose(est.rate_breaths_per_min, 6.0, atol=0.01)
        # The record is 4 h × 200 Hz × 3 axes = 276 MB as float64.
        assert peak_bytes < 24e6

    def test_overlap_outlasts_the_lowpass_transient(self) -> None:
        # Slowest pole of the 4th-order 1 Hz Butterworth: real part 2π·1 Hz·sin(π/8).
        assert np.exp(-2 * np.pi * np.sin(np.pi / 8) * OVERLAP_S) < 1e-30
