"""Unit tests for pet_biofeedback.signal.ecg_chunked: chunked R peaks equal the whole-record."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import signal as sps

from pet_biofeedback.errors import SignalInputError
from pet_biofeedback.firmware_bridge.sim_config import SimConfig
from pet_biofeedback.firmware_bridge.sim_model import simulate
from pet_biofeedback.signal._typing import FloatArray
from pet_biofeedback.signal.ecg import REFRACTORY_S, RPeaks, _refractory_keep, find_r_peaks
from pet_biofeedback.signal.ecg_chunked import OVERLAP_S, find_r_peaks_chunked
from tests.unit.signal.test_ecg import synthetic_ecg

H10_FS_HZ = 130.0
# Sub-sample times agree to float64 rounding of the filters (measured ≤ 1e-12 s).
T_TOL_S = 1e-9
AMPLITUDE_TOL_UV = 1e-6


def _assert_same_peaks(chunked: RPeaks, whole: RPeaks) -> None:
    assert_array_equal(chunked.peak_idx, whole.peak_idx)
    assert_allclose(chunked.t_s, whole.t_s, rtol=0.0, atol=T_TOL_S)
    assert_allclose(chunked.amplitude_uv, whole.amplitude_uv, rtol=0.0, atol=AMPLITUDE_TOL_UV)
    assert chunked.fs_hz == whole.fs_hz


def _simulated_ecg(duration_s: float, seed: int, **config: float) -> FloatArray:
    """The simulated H10's 130 Hz ECG (PQRST, breathing modulation, wander, noise)."""
    chunk = simulate(SimConfig(seed=seed, **config), duration_s)  # type: ignore[arg-type]
    return np.array(chunk.ecg_uv)


@pytest.fixture(scope="module")
def long_ecg() -> tuple[FloatArray, RPeaks]:
    """40 min of simulated H10 ECG with ectopic beats and contact dropouts (noise bursts)."""
    ecg = _simulated_ecg(2400.0, seed=3, ectopic_fraction=0.05, dropouts_per_min=0.5)
    return ecg, find_r_peaks(ecg, H10_FS_HZ)


class TestFindRPeaksChunked:
    @pytest.mark.parametrize("chunk_s", [300.0, 60.0, 17.3])
    def test_long_simulated_ecg_equals_whole_record(
        self, long_ecg: tuple[FloatArray, RPeaks], chunk_s: float
    ) -> None:
        # 8 to 139 chunks.
        ecg, whole = long_ecg
        chunked = find_r_peaks_chunked(ecg, H10_FS_HZ, chunk_s=chunk_s)
        assert whole.n_beats > 2000
        _assert_same_peaks(chunked, whole)

    @pytest.mark.parametrize("fs_hz", [130.0, 250.0])
    @pytest.mark.parametrize("polarity", [1.0, -1.0])
    def test_synthetic_ecg_both_polarities_equals_whole_record(
        self, fs_hz: float, polarity: float
    ) -> None:
        ecg, _ = synthetic_ecg(fs_hz, duration_s=120.0, polarity=polarity, seed=4)
        _assert_same_peaks(find_r_peaks_chunked(ecg, fs_hz, chunk_s=20.0), find_r_peaks(ecg, fs_hz))

    @pytest.mark.parametrize("shift", [-2, -1, 0, 1, 2])
    def test_chunk_edge_on_a_peak_finds_it_once(self, shift: int) -> None:
        ecg = _simulated_ecg(600.0, seed=5)
        whole = find_r_peaks(ecg, H10_FS_HZ)
        # Choose the chunk length so that the first chunk edge falls on (or next to) a peak.
        edge_idx = int(whole.peak_idx[whole.peak_idx > 40 * H10_FS_HZ][0]) + shift
        chunked = find_r_peaks_chunked(ecg, H10_FS_HZ, chunk_s=edge_idx / H10_FS_HZ)
        assert np.count_nonzero(np.abs(chunked.peak_idx - edge_idx) <= 2) == 1
        _assert_same_peaks(chunked, whole)

    def test_float32_input_equals_float64_of_the_same_values(self) -> None:
        ecg = np.round(_simulated_ecg(900.0, seed=6)).astype(np.float32)  # whole µV, as an H10
        chunked = find_r_peaks_chunked(ecg, H10_FS_HZ, chunk_s=120.0)
        _assert_same_peaks(chunked, find_r_peaks(ecg.astype(np.float64), H10_FS_HZ))
        assert chunked.t_s.dtype == np.float64

    def test_record_within_one_chunk_is_the_whole_record_detector(self) -> None:
        ecg, _ = synthetic_ecg(H10_FS_HZ, duration_s=60.0)
        chunked = find_r_peaks_chunked(ecg, H10_FS_HZ, chunk_s=300.0)
        whole = find_r_peaks(ecg, H10_FS_HZ)
        assert_array_equal(chunked.t_s, whole.t_s)  # bit for bit
        assert_array_equal(chunked.amplitude_uv, whole.amplitude_uv)

    def test_peak_on_the_first_sample_keeps_its_sample_time(self) -> None:
        # An R wave on sample 0 has no left neighbour: no refinement, as unchunked.
        ecg, _ = synthetic_ecg(H10_FS_HZ, duration_s=120.0, seed=8)
        cut = ecg[int(find_r_peaks(ecg, H10_FS_HZ).peak_idx[0]) :]
        whole = find_r_peaks(cut, H10_FS_HZ)
        chunked = find_r_peaks_chunked(cut, H10_FS_HZ, chunk_s=20.0)
        assert chunked.peak_idx[0] == 0
        assert chunked.t_s[0] == 0.0
        _assert_same_peaks(chunked, whole)

    def test_flat_ecg_raises_like_the_whole_record_detector(self) -> None:
        rng = np.random.default_rng(9)
        flat = rng.normal(0.0, 0.5, int(400 * H10_FS_HZ))
        with pytest.raises(SignalInputError, match="too flat"):
            find_r_peaks_chunked(flat, H10_FS_HZ, chunk_s=60.0)

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"chunk_s": 5.0}, "chunk_s must be at least"),
            ({"chunk_s": float("nan")}, "chunk_s must be at least"),
            ({"chunk_s": "long"}, "chunk_s must be a number"),
        ],
    )
    def test_bad_chunk_length_raises(self, kwargs: dict[str, object], match: str) -> None:
        ecg, _ = synthetic_ecg(H10_FS_HZ, duration_s=60.0)
        with pytest.raises(SignalInputError, match=match):
            find_r_peaks_chunked(ecg, H10_FS_HZ, **kwargs)  # type: ignore[arg-type]

    @pytest.mark.parametrize("bad", [np.nan, np.inf])
    def test_non_finite_float32_raises(self, bad: float) -> None:
        ecg = np.zeros(int(400 * H10_FS_HZ), dtype=np.float32)
        ecg[1000] = bad
        with pytest.raises(SignalInputError, match="finite"):
            find_r_peaks_chunked(ecg, H10_FS_HZ)

    def test_two_dimensional_input_raises(self) -> None:
        with pytest.raises(SignalInputError, match="1-D"):
            find_r_peaks_chunked(np.zeros((2, 40_000)), H10_FS_HZ)

    def test_overlap_outlasts_the_slowest_filter_transient(self) -> None:
        # The locating band's 0.5 Hz high-pass edge is the slowest pole (module docstring).
        assert np.exp(-2 * np.pi * 0.5 * np.sqrt(0.5) * OVERLAP_S) < 1e-18


class TestRefractoryKeep:
    """The shortened train decides exactly as the full-length one (`ecg._apply_refractory`)."""

    @pytest.mark.parametrize("seed", range(5))
    def test_equals_full_length_train(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        fs = 130.0
        distance = round(REFRACTORY_S * fs)
        # Beats ~0.8 s apart with many close pairs, triples and long gaps.
        gaps = rng.choice([2, 5, distance - 1, distance, distance + 1, 104, 5000], size=3000)
        peak_idx = np.cumsum(gaps).astype(np.intp)
        magnitude = rng.choice([100.0, 200.0, 300.0], size=peak_idx.size)  # with ties
        train = np.zeros(int(peak_idx[-1]) + 3)
        train[peak_idx + 1] = magnitude + 1.0
        full, _ = sps.find_peaks(train, distance=distance)
        assert_array_equal(peak_idx[_refractory_keep(peak_idx, magnitude, fs)], full - 1)
