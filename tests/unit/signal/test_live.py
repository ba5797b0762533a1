"""Tests for pet_biofeedback.signal.live: every live measure equals the batch function."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from pet_biofeedback.errors import ConfigError
from pet_biofeedback.signal import nonlinear, rsa, spectral, timedomain
from pet_biofeedback.signal.live import LiveAnalyzer, LiveSettings, LiveUpdate
from pet_biofeedback.signal.timedomain import time_metrics

TIME_FIELDS = ("mean_rr_ms", "sdnn_ms", "rmssd_ms", "sdsd_ms", "pnn50_pct", "mean_hr_bpm",
               "min_hr_bpm", "max_hr_bpm")  # fmt: skip


def _paced_rr(n: int, seed: int = 0, breaths_per_min: float = 6.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rr = np.empty(n)
    t = 0.0
    for k in range(n):  # sequential in time: the modulation depends on when the beat starts
        rr[k] = (
            900.0
            + 60.0 * np.sin(2 * np.pi * breaths_per_min / 60.0 * t)
            + 12.0 * rng.standard_normal()
        )
        t += rr[k] / 1000.0
    return rr


def _run(
    rr: np.ndarray, live: LiveAnalyzer, breath_period_s: float | None = None
) -> list[LiveUpdate]:
    updates: list[LiveUpdate] = []
    next_breath = 0.0
    for value in rr:
        updates.extend(live.push(float(value)))
        if breath_period_s is not None and updates and updates[-1].t_s >= next_breath:
            live.push_breath_start(next_breath, inhale_s=0.4 * breath_period_s)
            next_breath += breath_period_s
    updates.extend(live.flush())
    return updates


class TestLiveAnalyzer:
    def test_time_domain_and_poincare_equal_batch_on_the_same_window(self) -> None:
        updates = _run(_paced_rr(900), LiveAnalyzer())
        nn = np.array([u.nn_ms for u in updates])
        for k in (5, 150, 299, 300, 650, len(updates) - 1):
            u = updates[k]
            window = nn[max(0, k - 299) : k + 1]
            ref = time_metrics(window)
            for f in TIME_FIELDS:
                assert_allclose(getattr(u.time, f), getattr(ref, f), rtol=1e-9, err_msg=f)
            p = nonlinear.poincare_metrics(window)
            assert_allclose(u.sd1_ms, p.sd1_ms, rtol=1e-9)
            assert_allclose(u.sd2_ms, p.sd2_ms, rtol=1e-9)

    def test_lomb_bands_equal_batch_lomb(self) -> None:
        updates = _run(_paced_rr(700, seed=1), LiveAnalyzer())
        nn = np.array([u.nn_ms for u in updates])
        for k in (40, 299, 500, len(updates) - 1):
            window = nn[max(0, k - 299) : k + 1]
            ref = spectral.frequency_metrics(window, method="lomb", detrend="none")
            u = updates[k]
            assert_allclose(u.lf_ms2, ref.lf_ms2, rtol=1e-9)
            assert_allclose(u.hf_ms2, ref.hf_ms2, rtol=1e-9)
            assert_allclose(u.lf_peak_hz, ref.lf_peak_hz, rtol=1e-12)
            assert_allclose(u.lf_peak_psd_ms2_per_hz, ref.lf_peak_psd_ms2_per_hz, rtol=1e-9)
        assert abs(updates[-1].lf_peak_hz - 0.1) <= 0.005

    def test_lomb_bands_start_at_the_same_beat_as_batch(self) -> None:
        # Live used the strict 60-s span, batch `SpectralSettings.long_enough` (two mean RR
        # of tolerance): for the beats between, batch had LF/HF and live had none.
        updates = _run(_paced_rr(90, seed=4), LiveAnalyzer())
        nn = np.array([u.nn_ms for u in updates])
        started = []
        for k in range(50, len(updates)):
            ref = spectral.frequency_metrics(nn[: k + 1], method="lomb", detrend="none")
            assert math.isfinite(updates[k].lf_ms2) == math.isfinite(ref.lf_ms2), k
            if math.isfinite(ref.lf_ms2):
                started.append(k)
                assert_allclose(updates[k].lf_ms2, ref.lf_ms2, rtol=1e-9)
                assert_allclose(updates[k].hf_ms2, ref.hf_ms2, rtol=1e-9)
        assert started and started == list(range(started[0], len(updates)))
        first_span_s = float(np.sum(nn[1 : started[0] + 1])) / 1000.0
        assert first_span_s < spectral.FREQ_MIN_DURATION_S  # the tolerance is in use

    def test_coherence_equals_batch_at_each_refresh(self) -> None:
        updates = _run(_paced_rr(400, seed=2), LiveAnalyzer())
        nn = np.array([u.nn_ms for u in updates])
        refreshed = [k for k, u in enumerate(updates) if u.coherence_t_s == u.t_s]
        assert len(refreshed) > 30
        # refreshed roughly every 5 s of beat time
        gaps = np.diff([updates[k].t_s for k in refreshed])
        assert np.all(gaps >= 5.0) and np.all(gaps < 5.0 + 1.5)
        for k in refreshed[::7]:
            hist = nn[max(0, k - 511) : k + 1]
            ref = spectral.coherence_ratio(hist)
            assert_allclose(updates[k].coherence_ratio, ref.ratio, rtol=1e-12)
        assert updates[-1].coherence_ratio > 1.0  # paced breathing at 6/min is coherent

    def test_nonlinear_refreshed_and_equal_batch(self) -> None:
        live = LiveAnalyzer(LiveSettings(nonlinear_every_beats=25))
        updates = _run(_paced_rr(500, seed=3), live)
        nn = np.array([u.nn_ms for u in updates])
        for k in (99, 299, 449):  # n_total_beats = k + 1 is a multiple of 25
            window = nn[max(0, k - 299) : k + 1]
            assert_allclose(updates[k].dfa_alpha1, nonlinear.dfa_alpha1(window), rtol=1e-12)
            assert_allclose(updates[k].sampen, nonlinear.sample_entropy(window), rtol=1e-12)

    def test_rsa_and_phase_follow_the_breaths(self) -> None:
        live = LiveAnalyzer()
        updates = _run(_paced_rr(400, seed=4), live, breath_period_s=10.0)
        last = updates[-1]
        # HR swings with the 6/min breathing: 60000/840 − 60000/960 ≈ 8.9 bpm peak to trough
        assert 6.0 < last.rsa_last_breath_bpm < 12.0
        assert 6.0 < last.rsa_mean_bpm < 12.0
        assert last.phase_plv > 0.8
        beat_t = np.array([u.t_s for u in updates])
        nn = np.array([u.nn_ms for u in updates])
        # the last breath's value equals the batch function on the same beats
        starts = np.arange(0.0, beat_t[-1], 10.0)
        pt = rsa.rsa_peak_to_trough_bpm(beat_t, nn, starts)
        completed = pt[: starts.size - 1]
        assert_allclose(last.rsa_last_breath_bpm, completed[-1], rtol=1e-12)

    def test_phase_refreshes_between_coherence_refreshes_never_with_another(self) -> None:
        # Issue 9: coherence and phase synchrony used to refresh on the same beat every 5 s
        # (the heaviest beats of the live update); phase now runs half-way between them and
        # never on a beat that refreshes coherence or the nonlinear measures.
        every = 25
        live = LiveAnalyzer(LiveSettings(nonlinear_every_beats=every))
        updates = _run(_paced_rr(600, seed=8), live, breath_period_s=10.0)
        phase = [(u.phase_lag_deg, u.phase_plv) for u in updates]
        changed = [k for k in range(1, len(updates)) if phase[k] != phase[k - 1]]
        assert len(changed) > 40
        for k in changed:
            assert updates[k].coherence_t_s != updates[k].t_s, k
            assert updates[k].n_total_beats % every != 0, k
        coh = [k for k, u in enumerate(updates) if u.coherence_t_s == u.t_s]
        assert len(coh) > 40
        # about half a period after the coherence refresh before it (two beats of slack for
        # a beat that also refreshed the nonlinear measures); coherence has values from 64 s
        for k in (k for k in changed if k > coh[0]):
            before = max(j for j in coh if j < k)
            lag_s = updates[k].t_s - updates[before].t_s
            assert 2.5 <= lag_s < 2.5 + 2.5, (k, lag_s)

    def test_rsa_equals_batch_when_onsets_arrive_before_the_beats_are_final(self) -> None:
        # Regression (review of issue #2): onsets pushed in real time, i.e. by the raw RR
        # clock, reach the analyzer up to two beats before the corrector finalizes them.
        rr = _paced_rr(400, seed=6)
        live = LiveAnalyzer()
        updates: list[LiveUpdate] = []
        raw_t, next_breath, starts = 0.0, 0.0, []
        for value in rr:
            raw_t += value / 1000.0
            if raw_t >= next_breath:
                live.push_breath_start(next_breath, inhale_s=4.0)
                starts.append(next_breath)
                next_breath += 10.0
            updates.extend(live.push(float(value)))
        beat_t = np.array([u.t_s for u in updates])
        nn = np.array([u.nn_ms for u in updates])
        batch = rsa.rsa_peak_to_trough_bpm(beat_t, nn, np.array(starts))[: len(starts) - 1]
        seen = [u.rsa_last_breath_bpm for u in updates if np.isfinite(u.rsa_last_breath_bpm)]
        distinct = [v for k, v in enumerate(seen) if k == 0 or v != seen[k - 1]]
        assert_allclose(distinct, batch[: len(distinct)], rtol=1e-12)
        assert len(distinct) >= len(batch) - 1

    def test_bad_breath_onsets_are_ignored(self) -> None:
        # Regression (review of issue #2): one NaN onset used to break every later push.
        live = LiveAnalyzer()
        live.push_breath_start(float("nan"))
        live.push_breath_start(0.0, inhale_s=float("inf"))
        live.push_breath_start(float("inf"))
        updates = _run(_paced_rr(200, seed=7), live, breath_period_s=10.0)
        assert len(updates) >= 195

    def test_correction_off_drops_values_outside_the_gate(self) -> None:
        # Regression (review of issue #2): 1e300 ms stopped the beat clock advancing.
        live = LiveAnalyzer(LiveSettings(correction=False))
        assert live.push(1e300) == ()
        assert live.push(100.0) == ()
        (u,) = live.push(820.0)
        assert u.nn_ms == 820.0 and u.n_total_beats == 1

    def test_correction_off_passes_rr_through(self) -> None:
        rr = _paced_rr(50)
        updates = _run(rr, LiveAnalyzer(LiveSettings(correction=False)))
        assert_allclose([u.nn_ms for u in updates], rr, rtol=0)
        assert not any(u.corrected for u in updates)

    def test_artifacts_are_corrected_and_counted(self) -> None:
        rr = _paced_rr(300, seed=5)
        rr[150] = rr[150] + rr[151]
        rr = np.delete(rr, 151)  # a missed beat
        updates = _run(rr, LiveAnalyzer())
        assert updates[-1].n_missed == 1
        assert len(updates) == rr.size + 1
        assert updates[-1].corrected_pct > 0

    def test_beat_times_follow_the_rr_clock_and_gaps(self) -> None:
        live = LiveAnalyzer(LiveSettings(correction=False), t_first_s=10.0)
        (u1,) = live.push(1000.0)
        live.note_gap(5.0)
        (u2,) = live.push(800.0)
        assert u1.t_s == 11.0
        assert math.isclose(u2.t_s, 16.8)

    def test_nan_until_enough_data(self) -> None:
        (u,) = LiveAnalyzer(LiveSettings(correction=False)).push(900.0)
        assert math.isnan(u.lf_ms2) and math.isnan(u.coherence_ratio) and math.isnan(u.dfa_alpha1)

    def test_settings_are_validated(self) -> None:
        with pytest.raises(ConfigError):
            LiveSettings(window_beats=2)
        with pytest.raises(ConfigError):
            LiveSettings(coherence_every_s=0.0)

    @settings(max_examples=25, deadline=None)
    @given(
        st.lists(st.floats(-100.0, 4000.0) | st.just(math.nan) | st.just(math.inf), max_size=120)
    )
    def test_never_raises_on_any_stream(self, values: list[float]) -> None:
        live = LiveAnalyzer()
        for v in values:
            for u in live.push(v):
                assert math.isfinite(u.nn_ms) and u.nn_ms > 0
        live.flush()


def _live_with_gaps(
    rr: np.ndarray, breaks: set[int], live: LiveAnalyzer
) -> tuple[list[LiveUpdate], np.ndarray]:
    """Push ``rr`` with a 10-s gap before each index in ``breaks``; updates and NN breaks."""
    updates: list[LiveUpdate] = []
    nn_breaks = []
    for k, v in enumerate(rr):
        if k in breaks:
            updates.extend(live.note_gap(10.0))
            nn_breaks.append(len(updates))
        updates.extend(live.push(float(v)))
    updates.extend(live.flush())
    return updates, np.array(nn_breaks, dtype=np.intp)


class TestLiveAcrossGaps:
    def test_live_time_domain_and_nonlinear_equal_batch_with_gaps(self) -> None:
        live = LiveAnalyzer(LiveSettings(nonlinear_every_beats=25))
        updates, breaks = _live_with_gaps(_paced_rr(700, seed=31), {200, 420, 421}, live)
        nn = np.array([u.nn_ms for u in updates])
        for k in (199, 210, 299, 420, 449, 600, len(updates) - 1):
            lo = max(0, k - 299)
            ref = timedomain.time_metrics_windows(nn, [lo], [k + 1], segment_start_idx=breaks)
            for name in ("rmssd_ms", "sdsd_ms", "pnn50_pct", "sdnn_ms"):
                assert_allclose(getattr(updates[k].time, name), getattr(ref, name)[0], rtol=1e-9)
            assert_allclose(updates[k].sd1_ms, math.sqrt(0.5) * ref.sdsd_ms[0], rtol=1e-9)
        for k in (224, 449, 599):  # n_total_beats = k + 1 is a multiple of 25
            lo = max(0, k - 299)
            dfa = nonlinear.dfa_alpha1_windows(nn, [lo], [k + 1], segment_start_idx=breaks)
            se = nonlinear.sample_entropy_windows(nn, [lo], [k + 1], segment_start_idx=breaks)
            assert_allclose(updates[k].dfa_alpha1, dfa[0], rtol=1e-12)
            assert_allclose(updates[k].sampen, se[0], rtol=1e-12)

    def test_a_dropout_does_not_show_as_a_burst_of_hrv(self) -> None:
        rr = _paced_rr(400, seed=32)
        rr[200:] += 250.0  # slower heart after the dropout: a 250-ms jump back to back
        live = LiveAnalyzer(LiveSettings(correction=False))
        updates, _ = _live_with_gaps(rr, {200}, live)
        before = updates[199].time.rmssd_ms
        assert abs(updates[201].time.rmssd_ms / before - 1.0) < 0.05
        assert updates[201].t_s > updates[199].t_s + 10.0

    def test_lomb_and_coherence_restart_after_a_gap(self) -> None:
        rr = _paced_rr(500, seed=33)
        live = LiveAnalyzer(LiveSettings(correction=False))
        updates, breaks = _live_with_gaps(rr, {150}, live)
        nn = np.array([u.nn_ms for u in updates])
        assert math.isnan(updates[160].lf_ms2)  # 10 beats into the new stretch: no spectrum
        k = len(updates) - 1
        ref = spectral.frequency_metrics(nn[breaks[0] :][-300:], method="lomb", detrend="none")
        assert_allclose(updates[k].lf_ms2, ref.lf_ms2, rtol=1e-9)
        refreshed = [j for j, u in enumerate(updates) if u.coherence_t_s == u.t_s and j > 150]
        assert refreshed
        j = refreshed[0]
        assert_allclose(
            updates[j].coherence_ratio,
            spectral.coherence_ratio(nn[breaks[0] : j + 1][-512:]).ratio,
            rtol=1e-12,
        )

    def test_note_gap_finalizes_the_pending_beats_before_the_clock_moves(self) -> None:
        live = LiveAnalyzer(t_first_s=0.0)
        for _ in range(10):
            live.push(1000.0)
        held = live.note_gap(5.0)
        assert len(held) == 2  # the corrector's look-ahead
        assert held[-1].t_s == pytest.approx(10.0)
        (after,) = live.push(1000.0) or live.flush()
        assert after.t_s == pytest.approx(16.0)


class TestMeasuresLeftOut:
    """The engine turns off what its feedback does not show; the rest must not move."""

    OFF = LiveSettings(spectrum=False, nonlinear=False, phase_synchrony=False)
    SHOWN = ("t_s", "nn_ms", "corrected", "n_total_beats", "time", "coherence_ratio",
             "coherence_peak_hz", "coherence_t_s", "rsa_last_breath_bpm", "rsa_mean_bpm",
             "n_ectopic", "n_long_short", "n_missed", "n_extra", "n_gated",
             "corrected_pct")  # fmt: skip
    LEFT_OUT = ("lf_ms2", "hf_ms2", "lf_hf", "lf_peak_hz", "lf_peak_psd_ms2_per_hz",
                "dfa_alpha1", "sampen", "phase_lag_deg", "phase_plv")  # fmt: skip

    def _both(self, rr: np.ndarray) -> tuple[list[LiveUpdate], list[LiveUpdate]]:
        rr = rr.copy()
        rr[[200, 480, 481]] = [1900.0, 420.0, 470.0]  # a missed beat and an extra one
        full = _run(rr, LiveAnalyzer(), breath_period_s=10.0)
        lean = _run(rr, LiveAnalyzer(self.OFF), breath_period_s=10.0)
        return full, lean

    def test_shown_values_are_unchanged_beat_for_beat(self) -> None:
        full, lean = self._both(_paced_rr(900, seed=4))
        assert len(full) == len(lean)
        for a, b in zip(full, lean, strict=True):
            for name in self.SHOWN:
                x, y = getattr(a, name), getattr(b, name)
                if name == "time":  # a dataclass of floats, NaN where undefined
                    x, y = dataclasses.astuple(x), dataclasses.astuple(y)
                assert np.array_equal(x, y, equal_nan=True), (name, a.n_total_beats, x, y)
        assert sum(math.isfinite(u.coherence_ratio) for u in lean) > 500  # coherence was there
        assert sum(math.isfinite(u.rsa_last_breath_bpm) for u in lean) > 500

    def test_left_out_values_are_nan_not_stale(self) -> None:
        full, lean = self._both(_paced_rr(900, seed=5))
        for name in self.LEFT_OUT:
            assert any(math.isfinite(getattr(u, name)) for u in full), name  # computed when on
            assert all(math.isnan(getattr(u, name)) for u in lean), name
