"""Tests for pet_biofeedback.signal.nonlinear."""

from __future__ import annotations

import importlib
import tracemalloc
import warnings
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose

from pet_biofeedback.errors import SignalInputError
from pet_biofeedback.signal.nonlinear import (
    dfa_alpha1,
    dfa_alpha1_windows,
    poincare_metrics,
    sample_entropy,
    sample_entropy_windows,
)


def _rr(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) * 0.85
    rr_ms: np.ndarray = np.round(
        850.0 + 40.0 * np.sin(2 * np.pi * 0.1 * t) + 25.0 * rng.standard_normal(n)
    )
    return rr_ms


def _nk() -> ModuleType:  # neurokit2 has no type hints: its functions are Any
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return importlib.import_module("neurokit2")


def _sampen_brute_force(x: np.ndarray, r: float) -> float:
    """Richman & Moorman by definition, O(N²) pairs, N − m templates for both lengths."""
    m = 2
    n_t = x.size - m
    t2 = np.stack([x[i : i + n_t] for i in range(m)], axis=1)
    t3 = np.stack([x[i : i + n_t] for i in range(m + 1)], axis=1)
    d2 = np.max(np.abs(t2[:, None, :] - t2[None, :, :]), axis=2)
    d3 = np.max(np.abs(t3[:, None, :] - t3[None, :, :]), axis=2)
    iu = np.triu_indices(n_t, k=1)
    return float(-np.log(np.sum(d3[iu] <= r) / np.sum(d2[iu] <= r)))


class TestPoincareMetrics:
    def test_formulas(self) -> None:
        nn = _rr(300, 1)
        p = poincare_metrics(nn)
        d = np.diff(nn)
        assert_allclose(p.sd1_ms, np.sqrt(0.5 * np.var(d, ddof=1)), rtol=1e-12)
        assert_allclose(
            p.sd2_ms, np.sqrt(2 * np.var(nn, ddof=1) - 0.5 * np.var(d, ddof=1)), rtol=1e-12
        )
        # equivalently the SDs of the rotated coordinates (ddof 1)
        x1 = (nn[:-1] - nn[1:]) / np.sqrt(2)
        assert_allclose(p.sd1_ms, np.std(x1, ddof=1), rtol=1e-12)

    def test_short_is_nan(self) -> None:
        assert np.isnan(poincare_metrics([800.0, 900.0]).sd1_ms)


class TestDfaAlpha1:
    def test_matches_neurokit2_with_kubios_scales(self) -> None:
        nk = _nk()
        for seed in range(3):
            nn = _rr(300, seed)
            ref, _ = nk.fractal_dfa(nn, scale=np.arange(4, 17), overlap=True)
            assert abs(dfa_alpha1(nn) - ref) <= 1e-9

    def test_white_noise_near_half_and_brownian_near_one_and_half(self) -> None:
        rng = np.random.default_rng(7)
        assert 0.35 < dfa_alpha1(800 + 20 * rng.standard_normal(4000)) < 0.65
        walk = 800 + np.cumsum(rng.standard_normal(4000))
        assert 1.3 < dfa_alpha1(walk - walk.min() + 300) < 1.7

    def test_non_overlapping_boxes_close_to_overlapping(self) -> None:
        nn = _rr(1000, 5)
        assert abs(dfa_alpha1(nn, overlap=False) - dfa_alpha1(nn)) < 0.05

    def test_windows_equal_single_calls(self) -> None:
        nn = _rr(3000, 9)
        start = np.arange(0, 2600, 170)
        stop = start + 300 + start % 11
        w = dfa_alpha1_windows(nn, start, stop)
        for k in range(start.size):
            assert_allclose(w[k], dfa_alpha1(nn[start[k] : stop[k]]), rtol=1e-10)

    @pytest.mark.parametrize("overlap", [True, False])
    def test_one_pass_and_per_scale_paths_agree_with_gaps(self, overlap: bool) -> None:
        # A few windows take the all-scales pass (the live refresh), many take one block per
        # scale (batch); both must give the same α1, gaps and tiling included.
        nn = _rr(3000, 4)
        breaks = np.array([700, 1450, 1480])
        start = np.arange(0, 2600, 130)
        stop = start + 320
        many = dfa_alpha1_windows(nn, start, stop, overlap=overlap, segment_start_idx=breaks)
        assert np.isfinite(many).sum() >= start.size - 2
        for k in range(start.size):
            one = dfa_alpha1_windows(
                nn, start[k : k + 1], stop[k : k + 1], overlap=overlap, segment_start_idx=breaks
            )
            assert_allclose(many[k], one[0], rtol=1e-12)

    def test_short_window_is_nan(self) -> None:
        assert np.isnan(dfa_alpha1(_rr(31, 0)))
        assert not np.isnan(dfa_alpha1(_rr(32, 0)))

    def test_bad_scales_raise(self) -> None:
        with pytest.raises(SignalInputError):
            dfa_alpha1(_rr(100, 0), scales_beats=(4,))


class TestSampleEntropy:
    def test_matches_brute_force_definition(self) -> None:
        for seed in range(3):
            nn = _rr(250, seed)
            r = 0.2 * np.std(nn, ddof=1)
            assert_allclose(sample_entropy(nn), _sampen_brute_force(nn, r), rtol=1e-12)

    def test_matches_neurokit2(self) -> None:
        nk = _nk()
        nn = _rr(300, 11)
        ref, _ = nk.entropy_sample(nn, delay=1, dimension=2, tolerance=0.2 * np.std(nn, ddof=1))
        assert_allclose(sample_entropy(nn), ref, rtol=1e-6)

    def test_regular_signal_has_low_entropy(self) -> None:
        t = np.arange(400)
        assert sample_entropy(800 + 50 * np.sin(2 * np.pi * t / 12)) < 0.3
        rng = np.random.default_rng(0)
        assert sample_entropy(800 + 50 * rng.standard_normal(400)) > 1.5

    def test_windows_equal_single_calls(self) -> None:
        nn = _rr(4000, 3)
        start = np.arange(0, 3600, 175)
        stop = start + 350 - start % 13
        w = sample_entropy_windows(nn, start, stop)
        for k in range(start.size):
            assert_allclose(w[k], sample_entropy(nn[start[k] : stop[k]]), rtol=1e-12)

    def test_undefined_is_nan(self) -> None:
        assert np.isnan(sample_entropy([800.0, 800.0, 800.0, 800.0]))  # SD 0 → r 0
        assert np.isnan(sample_entropy([800.0, 900.0, 700.0]))

    def test_dense_values_with_outliers_equal_definition(self) -> None:
        # Outliers inflate the SD, so most of the window lies within r of each other: the
        # pair search visits many rank offsets, and ties (integer ms) are frequent.
        rng = np.random.default_rng(5)
        nn = np.round(850.0 + 3.0 * rng.standard_normal(400))
        nn[::37] += 900.0
        r = 0.2 * float(np.std(nn, ddof=1))
        assert_allclose(sample_entropy(nn), _sampen_brute_force(nn, r), rtol=1e-12)
        w = sample_entropy_windows(nn, [0, 50, 120], [400, 300, 121 + 150])
        for k, (a, b) in enumerate([(0, 400), (50, 300), (120, 271)]):
            sub = nn[a:b]
            assert_allclose(
                w[k], _sampen_brute_force(sub, 0.2 * float(np.std(sub, ddof=1))), rtol=1e-12
            )

    def test_whole_recording_memory_does_not_grow_with_the_pairs(self) -> None:
        # Regression (issue 9, 24-h analyze): the candidate pairs were expanded into arrays,
        # ≈ 0.1·N² of them; the 20 000-beat whole-recording value took ≈ 0.9 GB. Now memory
        # is a few arrays of one entry per template.
        nn = _rr(20_000, 7)
        tracemalloc.start()
        try:
            value = sample_entropy(nn)
            _, peak_bytes = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert np.isfinite(value)
        assert peak_bytes < 30e6

    @settings(max_examples=30, deadline=None)
    @given(arrays(np.float64, st.integers(10, 120), elements=st.floats(300.0, 2000.0)))
    def test_property_equals_definition(self, nn: np.ndarray) -> None:
        r = 0.2 * np.std(nn, ddof=1)
        got = sample_entropy(nn)
        if r <= 1e-9 * np.mean(nn):  # constant up to rounding: SD is 0 or rounding noise
            return
        with np.errstate(divide="ignore", invalid="ignore"):
            ref = _sampen_brute_force(nn, r)
        if np.isfinite(ref):
            assert_allclose(got, ref, rtol=1e-12)
        else:
            assert np.isnan(got)
