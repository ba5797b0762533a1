"""Gaps in the numbers (issue 6): nothing is computed across a break between stretches.

A disconnect used to join the beats on both sides back to back, so every gap added one large
"successive difference": RMSSD +66 %, HF ×13 with a dropout every 5 s. These tests pin that a
series with gaps gives what its stretches give on their own.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from pet_biofeedback.errors import SignalInputError
from pet_biofeedback.signal import artifacts, nonlinear, spectral, timedomain
from pet_biofeedback.signal.batch import AnalysisSettings, analyze_rr


def _paced_rr(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rr = np.empty(n)
    t = 0.0
    for k in range(n):  # sequential in time: the modulation depends on when the beat starts
        rr[k] = 900.0 + 60.0 * np.sin(2 * np.pi * 0.1 * t) + 12.0 * rng.standard_normal()
        t += rr[k] / 1000.0
    return rr


def _with_dropouts(
    rr: np.ndarray, every_s: float, lost_s: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Delete the beats of ``lost_s`` out of every ``every_s`` seconds, as a dropout does.

    Returns the kept intervals, the index of each stretch's first interval and its start time.
    """
    end_s = np.cumsum(rr) / 1000.0
    keep = (end_s % every_s) < every_s - lost_s
    first = keep & ~np.concatenate(([False], keep[:-1]))
    kept_idx = np.flatnonzero(keep)
    first_orig = np.flatnonzero(first)
    return rr[keep], np.searchsorted(kept_idx, first_orig), end_s[first_orig] - rr[first_orig] / 1e3


def _pooled_rmssd(*parts: np.ndarray) -> float:
    d = np.concatenate([np.diff(p) for p in parts])
    return float(np.sqrt(np.mean(d * d)))


class TestTimeDomainAcrossGaps:
    def test_rmssd_with_a_gap_is_the_pooled_differences_of_the_halves(self) -> None:
        a = np.array([800.0, 810.0, 790.0, 805.0, 820.0])
        b = np.array([1000.0, 990.0, 1060.0, 1010.0])  # a level jump across the gap
        nn = np.concatenate((a, b))
        w = timedomain.time_metrics_windows(nn, [0], [nn.size], segment_start_idx=[0, a.size])
        d = np.concatenate((np.diff(a), np.diff(b)))
        assert_allclose(w.rmssd_ms[0], _pooled_rmssd(a, b), rtol=1e-12)
        assert_allclose(w.sdsd_ms[0], np.std(d, ddof=1), rtol=1e-12)
        assert_allclose(w.pnn50_pct[0], 100.0 * np.count_nonzero(np.abs(d) > 50.0) / d.size)
        assert_allclose(w.sdnn_ms[0], np.std(nn, ddof=1), rtol=1e-12)  # not a difference

    def test_without_breaks_the_result_is_bit_for_bit_unchanged(self) -> None:
        nn = _paced_rr(500)
        lo, hi = np.arange(0, 400, 50), np.arange(100, 500, 50)
        plain = timedomain.time_metrics_windows(nn, lo, hi)
        same = timedomain.time_metrics_windows(nn, lo, hi, segment_start_idx=[0])
        for name in ("rmssd_ms", "sdsd_ms", "pnn50_pct", "sdnn_ms"):
            assert_array_equal(getattr(plain, name), getattr(same, name))

    def test_a_window_holding_only_the_gap_difference_has_no_rmssd(self) -> None:
        w = timedomain.time_metrics_windows([800.0, 1000.0], [0], [2], segment_start_idx=[1])
        assert math.isnan(w.rmssd_ms[0]) and math.isnan(w.pnn50_pct[0])

    def test_bad_breaks_raise(self) -> None:
        with pytest.raises(SignalInputError):
            timedomain.time_metrics_windows([800.0] * 5, [0], [5], segment_start_idx=[3, 2])

    def test_running_time_domain_skips_the_difference_across_a_gap(self) -> None:
        nn = _paced_rr(400, seed=4)
        breaks = np.array([120, 250, 251])
        run = timedomain.RunningTimeDomain(window_beats=100)
        for k, v in enumerate(nn):
            m = run.push(float(v), new_stretch=bool(np.isin(k, breaks)))
            lo = max(0, k - 99)
            ref = timedomain.time_metrics_windows(nn, [lo], [k + 1], segment_start_idx=breaks)
            for name in ("rmssd_ms", "sdsd_ms", "pnn50_pct", "sdnn_ms"):
                assert_allclose(getattr(m, name), getattr(ref, name)[0], rtol=1e-9, err_msg=name)


def _brute_sampen(x: np.ndarray, pieces: list[tuple[int, int]], r: float) -> float:
    """Richman & Moorman over the templates that lie inside one piece (m = 2)."""
    starts = [i for lo, hi in pieces for i in range(lo, hi - 2)]
    b = a = 0
    for p, i in enumerate(starts):
        for j in starts[p + 1 :]:
            if max(abs(x[i] - x[j]), abs(x[i + 1] - x[j + 1])) <= r:
                b += 1
                a += abs(x[i + 2] - x[j + 2]) <= r
    return -math.log(a / b)


class TestNonlinearAcrossGaps:
    def test_sample_entropy_templates_never_span_a_break(self) -> None:
        x = _paced_rr(160, seed=7)
        breaks = [0, 50, 51, 110]
        got = nonlinear.sample_entropy_windows(x, [0], [x.size], segment_start_idx=breaks)[0]
        r = 0.2 * np.std(x, ddof=1)
        pieces = [(0, 50), (50, 51), (51, 110), (110, 160)]
        assert_allclose(got, _brute_sampen(x, pieces, r), rtol=1e-12)
        assert got != nonlinear.sample_entropy(x)

    def test_dfa_ignores_a_level_jump_at_the_gap(self) -> None:
        x = _paced_rr(200, seed=8)
        jumped = x.copy()
        jumped[100:] += 150.0  # a different heart rate after the dropout
        seg = [0, 100]
        a = nonlinear.dfa_alpha1_windows(x, [0], [200], segment_start_idx=seg)[0]
        b = nonlinear.dfa_alpha1_windows(jumped, [0], [200], segment_start_idx=seg)[0]
        assert_allclose(a, b, rtol=1e-9)

    def test_dfa_without_a_long_enough_stretch_is_nan(self) -> None:
        x = _paced_rr(60, seed=9)
        assert math.isnan(nonlinear.dfa_alpha1_windows(x, [0], [60], segment_start_idx=[0, 30])[0])


class TestArtifactsAcrossGaps:
    def test_a_jump_across_a_gap_is_not_an_artifact(self) -> None:
        # Two stretches of a regular rhythm whose phases do not meet: back to back, the jump
        # at the gap looks like a premature beat.
        rng = np.random.default_rng(2)
        k = np.arange(200)
        before = 800 + 25 * np.sin(2 * np.pi * k / 11.0) + 4 * rng.standard_normal(200)
        after = 800 + 25 * np.sin(2 * np.pi * k / 11.0 + rng.uniform(0, 6))
        rr = np.concatenate((before, after + 4 * rng.standard_normal(200) - 100.0))
        near_gap = slice(195, 205)
        assert artifacts.correct_rr(rr).corrected_mask[near_gap].any()  # back to back: "artifact"
        corr = artifacts.correct_rr(rr, segment_start_idx=[0, 200])
        assert not corr.corrected_mask[near_gap].any()
        assert_array_equal(corr.nn_ms[near_gap], rr[near_gap])
        assert_array_equal(corr.segment_start_idx, [0, 200])

    def test_correction_interpolates_from_the_stretch_itself(self) -> None:
        rr = np.concatenate((_paced_rr(200, seed=5), _paced_rr(200, seed=6) + 300.0))
        rr[201] = 2000.0  # a long beat just after the gap
        corr = artifacts.correct_rr(rr, segment_start_idx=[0, 200])
        assert corr.corrected_mask[201]
        assert 1050.0 < corr.nn_ms[201] < 1400.0  # from the slow side, not the 900-ms one

    def test_an_extra_beat_is_not_merged_across_a_gap(self) -> None:
        rr = np.full(300, 800.0) + np.random.default_rng(6).standard_normal(300)
        rr[149] = 400.0  # short, and 400 + 800 is not a beat either way... but it is the last
        corr = artifacts.correct_rr(rr, segment_start_idx=[0, 150])
        assert corr.nn_ms.size == rr.size  # nothing merged across
        assert_array_equal(corr.segment_start_idx, [0, 150])

    def test_without_breaks_correction_is_bit_for_bit_unchanged(self) -> None:
        rr = _paced_rr(600, seed=2)
        rr[100] *= 2.0
        rr[300] *= 0.6
        a = artifacts.correct_rr(rr)
        b = artifacts.correct_rr(rr, segment_start_idx=[0])
        assert_array_equal(a.nn_ms, b.nn_ms)
        assert_array_equal(a.segment_start_idx, [0])


class TestSpectraAcrossGaps:
    def test_band_powers_are_the_duration_weighted_mean_of_the_stretches(self) -> None:
        rr = _paced_rr(400, seed=11)
        cut = 180
        got = spectral.frequency_metrics_windows(rr, [0], [400], segment_start_idx=[0, cut])
        a = spectral.frequency_metrics(rr[:cut])
        b = spectral.frequency_metrics(rr[cut:])
        w = np.array([a.duration_s, b.duration_s])
        for name in ("vlf_ms2", "lf_ms2", "hf_ms2"):
            expected = np.dot(w, [getattr(a, name), getattr(b, name)]) / w.sum()
            assert_allclose(getattr(got, name)[0], expected, rtol=1e-9)
        longest = a if a.duration_s > b.duration_s else b
        assert got.lf_peak_hz[0] == longest.lf_peak_hz
        assert_allclose(got.lf_hf[0], got.lf_ms2[0] / got.hf_ms2[0])

    def test_stretches_too_short_leave_the_window_out(self) -> None:
        rr = _paced_rr(400, seed=12)
        breaks = np.arange(0, 400, 40)  # 36-s stretches: none reaches 60 s
        got = spectral.frequency_metrics_windows(rr, [0], [400], segment_start_idx=breaks)
        assert math.isnan(got.hf_ms2[0]) and math.isnan(got.lf_peak_hz[0])
        assert math.isfinite(spectral.frequency_metrics(rr).hf_ms2)

    def test_coherence_windows_across_a_gap_are_nan(self) -> None:
        rr = _paced_rr(600, seed=13)
        t = np.cumsum(rr) / 1000.0
        cut = 300
        t_gapped = t.copy()
        t_gapped[cut:] += 30.0  # 30 s without beats
        cs = spectral.coherence_series(rr, segment_start_idx=[cut], t_beat_s=t_gapped)
        gap_lo, gap_hi = t_gapped[cut - 1], t_gapped[cut] - rr[cut] / 1000.0
        across = (cs.t_end_s - spectral.COHERENCE_WINDOW_S < gap_hi) & (cs.t_end_s > gap_lo)
        assert across.any() and np.all(np.isnan(cs.ratio[across]))
        assert np.all(cs.ratio[~across] > 1.0)  # paced breathing on either side

    def test_coherence_with_breaks_needs_times(self) -> None:
        with pytest.raises(SignalInputError):
            spectral.coherence_series(_paced_rr(200), segment_start_idx=[100])


class TestAnalyzeRrAcrossGaps:
    def test_dropouts_every_5_s_leave_rmssd_and_hf_near_the_fault_free_values(self) -> None:
        rr = _paced_rr(1500, seed=21)
        full = analyze_rr(rr).summary
        # 7 s, not 5: a period commensurate with the 10-s breathing would keep one phase only.
        kept, seg_idx, seg_t = _with_dropouts(rr, every_s=7.0, lost_s=2.0)
        gapped = analyze_rr(kept, segment_start_idx=seg_idx, segment_start_s=seg_t).summary
        joined = analyze_rr(kept).summary  # the old behaviour: back to back
        assert abs(gapped.rmssd_ms[0] / full.rmssd_ms[0] - 1.0) < 0.10
        assert abs(joined.rmssd_ms[0] / full.rmssd_ms[0] - 1.0) > 0.30
        assert math.isnan(gapped.hf_ms2[0])  # 5-s stretches: no spectrum, not a wrong one
        assert joined.hf_ms2[0] > 2 * full.hf_ms2[0]

    def test_long_stretches_give_hf_near_the_fault_free_value(self) -> None:
        rr = _paced_rr(1500, seed=22)
        full = analyze_rr(rr).summary
        kept, seg_idx, seg_t = _with_dropouts(rr, every_s=150.0, lost_s=10.0)
        result = analyze_rr(kept, segment_start_idx=seg_idx, segment_start_s=seg_t)
        assert abs(result.summary.hf_ms2[0] / full.hf_ms2[0] - 1.0) < 0.25
        assert any("left out" in note for note in result.notes)

    def test_window_times_are_recording_time_with_the_gaps(self) -> None:
        rr = _paced_rr(800, seed=23)
        kept, seg_idx, seg_t = _with_dropouts(rr, every_s=100.0, lost_s=20.0)
        settings = AnalysisSettings(window_s=60.0, step_s=30.0, correction=False)
        result = analyze_rr(kept, settings, segment_start_idx=seg_idx, segment_start_s=seg_t)
        end_s = np.cumsum(rr) / 1000.0
        assert_allclose(result.beat_t_s, end_s[(end_s % 100.0) < 80.0], atol=1e-9)
        assert result.windows.end_s[-1] > np.sum(kept) / 1000.0 + 60.0  # gaps are not cut out
        assert_allclose(np.diff(result.windows.start_s), 30.0)

    def test_one_stretch_is_bit_for_bit_the_plain_analysis(self) -> None:
        rr = _paced_rr(700, seed=24)
        settings = AnalysisSettings(window_s=120.0, step_s=60.0)
        plain = analyze_rr(rr, settings, t_first_beat_s=3.0)
        same = analyze_rr(rr, settings, segment_start_idx=[0], segment_start_s=[3.0])
        for name in ("rmssd_ms", "hf_ms2", "dfa_alpha1", "sampen", "coherence_ratio", "end_s"):
            assert_array_equal(getattr(plain.windows, name), getattr(same.windows, name))
            assert_array_equal(getattr(plain.summary, name), getattr(same.summary, name))

    def test_segments_are_validated(self) -> None:
        rr = _paced_rr(100)
        with pytest.raises(SignalInputError):
            analyze_rr(rr, segment_start_idx=[0, 50])
        with pytest.raises(SignalInputError):
            analyze_rr(rr, segment_start_idx=[10, 50], segment_start_s=[0.0, 60.0])
        with pytest.raises(SignalInputError):  # the second stretch starts inside the first
            analyze_rr(rr, segment_start_idx=[0, 50], segment_start_s=[0.0, 10.0])
