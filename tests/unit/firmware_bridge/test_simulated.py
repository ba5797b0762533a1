"""Unit tests for pet_biofeedback.firmware_bridge.simulated: the model and the async source."""

from __future__ import annotations

import asyncio
import dataclasses
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from pet_biofeedback.errors import ConfigError
from pet_biofeedback.events import (
    AccFrame,
    Battery,
    Contact,
    EcgFrame,
    Event,
    EventSource,
    HeartRate,
    Link,
    LinkState,
    RRIntervals,
)
from pet_biofeedback.firmware_bridge.sim_config import SimConfig, parse_sim_spec
from pet_biofeedback.firmware_bridge.sim_model import SimChunk, StrapModel, simulate
from pet_biofeedback.firmware_bridge.sim_physiology import (
    ACC_FS_HZ,
    ACC_SAMPLES_PER_FRAME,
    ECG_FS_HZ,
    ECG_SAMPLES_PER_FRAME,
    breathing_waveform,
    chest_acc_mg,
    ecg_beat_uv,
    fixed_rate_pacer,
    ipfm_beat_times_s,
    rsa_response,
)
from pet_biofeedback.firmware_bridge.simulated import SimulatedStrap

# No noise, no drift, no sloppiness, no lag: the model's deterministic skeleton.
QUIET: dict[str, object] = {
    "lf_noise_bpm": 0.0,
    "hf_noise_bpm": 0.0,
    "drift_bpm": 0.0,
    "sloppiness": 0.0,
    "pacer_lag_s": 0.0,
}
HR_ONLY: dict[str, object] = {"ecg_enabled": False, "acc_enabled": False}
SWEEP_BREATHS_PER_MIN = (4.5, 5.0, 5.5, 6.0, 6.5, 7.0)
R_PEAK_TOL_MS = 8.0


class FakeClock:
    """A monotonic clock that only moves when the injected sleep is awaited."""

    def __init__(self, start_s: float = 1000.0) -> None:
        self.now_s = start_s
        self.sleeps_s: list[float] = []

    def __call__(self) -> float:
        return self.now_s

    async def sleep(self, delay_s: float) -> None:
        self.sleeps_s.append(delay_s)
        self.now_s += delay_s


async def collect(strap: SimulatedStrap) -> list[Event]:
    async with strap:
        return [event async for event in strap]


def cfg(*presets: dict[str, object], **settings: object) -> SimConfig:
    """A SimConfig from presets (QUIET, HR_ONLY) and settings, later ones winning."""
    merged: dict[str, object] = {}
    for preset in presets:
        merged.update(preset)
    merged.update(settings)
    return SimConfig(**merged)  # type: ignore[arg-type]  # validated by SimConfig itself


def fast_strap(*presets: dict[str, object], **settings: object) -> SimulatedStrap:
    clock = FakeClock()
    return SimulatedStrap(
        cfg(*presets, **settings),
        speed=math.inf,
        clock=clock,
        sleep=clock.sleep,
    )


def rsa_fit(chunk: SimChunk, breaths_per_min: float, t_min_s: float = 30.0) -> tuple[float, float]:
    """Peak-to-trough amplitude (bpm) and phase (deg) of HR at the breathing frequency.

    HR = 60000/RR is placed at the middle of each interval (it is the mean rate over it) and
    regressed on a line plus sin/cos at the breathing frequency. The phase is relative to lung
    volume −cos(2π f t) (inhalation onset at t = 0, no lag): positive = HR leads.
    """
    ok = np.isfinite(chunk.rr_ms)
    t_mid = chunk.beat_t_s[ok] - chunk.rr_ms[ok] / 2000.0
    hr = 60000.0 / chunk.rr_ms[ok]
    keep = t_mid > t_min_s
    t_mid, hr = t_mid[keep], hr[keep]
    w = 2 * np.pi * breaths_per_min / 60.0
    design = np.column_stack((np.ones_like(t_mid), t_mid, np.sin(w * t_mid), np.cos(w * t_mid)))
    coef, *_ = np.linalg.lstsq(design, hr, rcond=None)
    return 2 * math.hypot(coef[2], coef[3]), math.degrees(math.atan2(coef[2], -coef[3]))


# --- Configuration ---------------------------------------------------------------------------


class TestSimConfig:
    def test_defaults_are_valid_and_h10_like(self) -> None:
        config = SimConfig()
        assert config.resonance_breaths_per_min == 5.5
        assert config.ecg_enabled and config.acc_enabled
        assert config.duration_s is None

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"hr_bpm": 10.0}, "hr_bpm"),
            ({"hr_bpm": math.nan}, "hr_bpm"),
            ({"hr_bpm": True}, "hr_bpm"),
            ({"hr_bpm": "70"}, "hr_bpm"),
            ({"resonance_breaths_per_min": 0.0}, "resonance_breaths_per_min"),
            ({"sloppiness": 0.25}, "sloppiness"),
            ({"ectopic_fraction": -0.1}, "ectopic_fraction"),
            ({"dropout_s": math.inf}, "dropout_s"),
            ({"seed": -1}, "seed"),
            ({"seed": 1.5}, "seed"),
            ({"battery_pct": 101}, "battery_pct"),
            ({"ecg_enabled": "yes"}, "ecg_enabled"),
            ({"duration_s": 0.0}, "duration_s"),
            ({"duration_s": math.inf}, "duration_s"),
        ],
    )
    def test_nonsense_is_rejected_naming_the_setting(
        self, change: dict[str, object], field: str
    ) -> None:
        with pytest.raises(ConfigError, match=field):
            SimConfig(**change)  # type: ignore[arg-type]  # deliberately wrong values

    def test_is_frozen(self) -> None:
        with pytest.raises(dataclasses.FrozenInstanceError):
            SimConfig().seed = 3  # type: ignore[misc]  # the point of the test


class TestParseSimSpec:
    def test_issue_example(self) -> None:
        config = parse_sim_spec("resonance=5.5,seed=3,ectopy=0.01")
        assert config == SimConfig(resonance_breaths_per_min=5.5, seed=3, ectopic_fraction=0.01)

    @pytest.mark.parametrize("spec", ["", "sim", "sim:", "  "])
    def test_empty_gives_defaults(self, spec: str) -> None:
        assert parse_sim_spec(spec) == SimConfig()

    def test_prefix_whitespace_field_names_booleans_duration(self) -> None:
        config = parse_sim_spec(" sim: seed = 4 , hr_bpm=70, ecg=off ,acc=ON, duration=30 ")
        assert config == SimConfig(
            seed=4, hr_bpm=70.0, ecg_enabled=False, acc_enabled=True, duration_s=30.0
        )
        assert parse_sim_spec("duration=none").duration_s is None

    def test_unknown_key_lists_valid_keys(self) -> None:
        with pytest.raises(ConfigError, match="unknown simulation setting 'resonanse'") as excinfo:
            parse_sim_spec("resonanse=5.5")
        for key in ("resonance", "seed", "ectopy", "dropouts", "hr", "breathing"):
            assert key in str(excinfo.value)

    @pytest.mark.parametrize(
        ("spec", "message"),
        [
            ("hr=fast", "hr must be a number"),
            ("seed=1.5", "seed must be an integer"),
            ("ecg=maybe", "ecg must be on or off"),
            ("hr=500", "hr_bpm = 500.0 is outside"),
            ("resonance", "not key=value"),
            ("seed=1,seed=2", "given twice"),
            ("=3", "not key=value"),
        ],
    )
    def test_bad_values(self, spec: str, message: str) -> None:
        with pytest.raises(ConfigError, match=message):
            parse_sim_spec(spec)


# --- Pure functions --------------------------------------------------------------------------


class TestRsaResponse:
    def test_gain_one_and_phase_zero_at_resonance(self) -> None:
        gain, phase = rsa_response(5.5, resonance_breaths_per_min=5.5, q=3.0)
        assert_allclose(gain, 1.0)
        assert_allclose(phase, 0.0, atol=1e-15)

    def test_phase_positive_below_negative_above(self) -> None:
        rates = np.array([3.0, 4.5, 5.4, 5.6, 7.0, 15.0])
        gain, phase = rsa_response(rates, resonance_breaths_per_min=5.5, q=3.0)
        assert np.all(phase[:3] > 0) and np.all(phase[3:] < 0)
        assert np.all(np.abs(phase) < np.pi / 2)
        assert np.all(gain < 1.0)

    def test_gain_symmetric_in_log_frequency(self) -> None:
        rates = np.array([2.0, 4.0, 5.0])
        low, _ = rsa_response(rates, resonance_breaths_per_min=6.0, q=2.0)
        high, _ = rsa_response(36.0 / rates, resonance_breaths_per_min=6.0, q=2.0)
        assert_allclose(low, high)


class TestBreathingWaveform:
    @pytest.mark.parametrize("inhale_fraction", [0.3, 0.5, 0.7])
    def test_minimum_at_onset_maximum_at_end_of_inhalation(self, inhale_fraction: float) -> None:
        assert_allclose(breathing_waveform([0.0, 3.0, -2.0], inhale_fraction), -1.0)
        assert_allclose(
            breathing_waveform([inhale_fraction, 7 + inhale_fraction], inhale_fraction), 1.0
        )
        inhaling = breathing_waveform(np.linspace(0.0, inhale_fraction, 200), inhale_fraction)
        exhaling = breathing_waveform(np.linspace(inhale_fraction, 1.0, 200), inhale_fraction)
        assert np.all(np.diff(inhaling) > 0) and np.all(np.diff(exhaling) < 0)


class TestIpfm:
    def test_constant_rate_beats_evenly(self) -> None:
        t = np.linspace(0.0, 10.0, 501)
        beats, n_end = ipfm_beat_times_s(t, np.full_like(t, 60.0), beats_at_start=0.5)
        assert_allclose(beats, np.arange(0.5, 10.0, 1.0), atol=1e-12)
        assert_allclose(n_end, 10.5)

    def test_continuation_equals_one_grid(self) -> None:
        t = np.linspace(0.0, 20.0, 1001)
        hr = 70.0 + 10.0 * np.sin(2 * np.pi * 0.1 * t)
        whole, _ = ipfm_beat_times_s(t, hr, 0.3)
        first, n_mid = ipfm_beat_times_s(t[:400], hr[:400], 0.3)
        second, _ = ipfm_beat_times_s(t[399:], hr[399:], n_mid)
        assert_allclose(np.concatenate((first, second)), whole, atol=1e-9)


class TestWaveforms:
    @pytest.mark.parametrize("ectopic", [False, True])
    def test_ecg_beat_peaks_at_zero(self, ectopic: bool) -> None:
        dt = np.linspace(-0.4, 0.5, 90001)
        ecg = ecg_beat_uv(dt, ectopic=ectopic)
        assert abs(dt[np.argmax(ecg)]) < 1e-3
        assert ecg.max() > 900.0

    def test_chest_acc_is_gravity(self) -> None:
        acc = chest_acc_mg(np.linspace(-1, 1, 11), theta0_rad=0.7, phi0_rad=1.0, tilt_rad=0.03)
        assert acc.shape == (11, 3)
        assert_allclose(np.linalg.norm(acc, axis=1), 1000.0)
        assert np.ptp(acc, axis=0).max() > 20.0  # breathing moves it by tens of mG

    def test_fixed_rate_pacer(self) -> None:
        pacer = fixed_rate_pacer(6.0)
        assert pacer(0.0) == 0.0
        assert pacer(25.0) == pytest.approx(2.5)
        with pytest.raises(ConfigError):
            fixed_rate_pacer(0.0)


# --- The model -------------------------------------------------------------------------------


class TestModelDeterminism:
    def test_same_seed_same_data(self) -> None:
        a, b = simulate(SimConfig(seed=7), 60.0), simulate(SimConfig(seed=7), 60.0)
        for field in dataclasses.fields(SimChunk):
            assert_array_equal(getattr(a, field.name), getattr(b, field.name))

    def test_other_seed_other_data(self) -> None:
        a, b = simulate(SimConfig(seed=7), 60.0), simulate(SimConfig(seed=8), 60.0)
        assert not np.array_equal(a.beat_t_s, b.beat_t_s)
        assert not np.array_equal(a.ecg_uv, b.ecg_uv)

    def test_chunking_does_not_change_the_data(self) -> None:
        config = SimConfig(seed=5, ectopic_fraction=0.05, dropouts_per_min=3.0, dropout_s=3.0)
        whole = simulate(config, 90.0)
        model = StrapModel(config)
        ends = np.cumsum(np.random.default_rng(1).uniform(0.05, 4.0, 200))
        chunks = [model.advance(float(t)) for t in ends[ends < 90.0]] + [model.advance(90.0)]
        for field in ("beat_t_s", "rr_ms", "ectopic_mask", "contact_mask", "notify_t_s"):
            parts = np.concatenate([getattr(c, field) for c in chunks])
            assert_array_equal(parts, getattr(whole, field), err_msg=field)
        for field in ("notify_hr_bpm", "ecg_t_s", "ecg_uv", "acc_t_s", "acc_mg"):
            parts = np.concatenate([getattr(c, field) for c in chunks])
            assert_array_equal(parts, getattr(whole, field), err_msg=field)

    def test_chunk_arrays_are_read_only(self) -> None:
        chunk = simulate(SimConfig(), 5.0)
        with pytest.raises(ValueError, match="read-only"):
            chunk.rr_ms[0] = 1.0

    def test_advance_must_move_forward(self) -> None:
        model = StrapModel(SimConfig())
        model.advance(2.0)
        with pytest.raises(ConfigError):
            model.advance(2.0)


class TestHeartRate:
    @pytest.mark.parametrize("hr_bpm", [50.0, 65.0, 90.0])
    def test_mean_rr_matches_configured_hr(self, hr_bpm: float) -> None:
        chunk = simulate(cfg(QUIET, HR_ONLY, hr_bpm=hr_bpm), 300.0)
        rr = chunk.rr_ms[np.isfinite(chunk.rr_ms)]
        assert 60000.0 / rr.mean() == pytest.approx(hr_bpm, rel=0.01)

    @pytest.mark.parametrize("seed", [0, 1, 2])
    def test_mean_rr_with_default_noise(self, seed: int) -> None:
        chunk = simulate(cfg(HR_ONLY, seed=seed, hr_bpm=70.0), 600.0)
        rr = chunk.rr_ms[np.isfinite(chunk.rr_ms)]
        assert 60000.0 / rr.mean() == pytest.approx(70.0, rel=0.05)
        assert 0.5 < chunk.rr_ms[np.isfinite(chunk.rr_ms)].std() / 10.0 < 20  # some HRV

    def test_rr_on_the_1024_hz_grid_and_beats_consistent(self) -> None:
        chunk = simulate(cfg(HR_ONLY), 60.0)
        ok = np.isfinite(chunk.rr_ms)
        ticks = chunk.rr_ms[ok] * 1.024
        assert_allclose(ticks, np.round(ticks), atol=1e-9)
        assert_allclose(chunk.rr_ms[1:][ok[1:]], np.diff(chunk.beat_t_s)[ok[1:]] * 1000.0)
        assert np.isnan(chunk.rr_ms[0])  # the first beat has no interval

    def test_notifications_every_second_with_strap_hr(self) -> None:
        chunk = simulate(cfg(QUIET, HR_ONLY, hr_bpm=72.0), 30.0)
        assert_array_equal(chunk.notify_t_s, np.arange(1.0, 31.0))
        assert np.all(chunk.notify_contact_mask)
        assert_array_equal(chunk.notify_hr_bpm, np.round(chunk.notify_hr_bpm))
        assert np.all(np.abs(chunk.notify_hr_bpm - 72.0) < 12.0)


class TestResonance:
    def test_rsa_amplitude_peaks_at_resonance(self) -> None:
        amplitudes = [
            rsa_fit(simulate(cfg(QUIET, HR_ONLY, breaths_per_min=r), 180.0), r)[0]
            for r in SWEEP_BREATHS_PER_MIN
        ]
        peak = SWEEP_BREATHS_PER_MIN[int(np.argmax(amplitudes))]
        assert peak == 5.5
        assert np.all(np.diff(amplitudes[:3]) > 0) and np.all(np.diff(amplitudes[2:]) < 0)
        gain, _ = rsa_response(
            np.array(SWEEP_BREATHS_PER_MIN), resonance_breaths_per_min=5.5, q=3.0
        )
        assert_allclose(amplitudes, 12.0 * gain, rtol=0.05)

    def test_rsa_peak_survives_default_noise(self) -> None:
        # Mayer waves (≈ 0.1 Hz), drift and sloppy breathing blur single 4-min blocks (as in
        # real assessments), so: each seed's resonance beats both ends of the sweep, and the
        # mean over seeds peaks at resonance.
        amplitudes = np.array(
            [
                [
                    rsa_fit(simulate(cfg(HR_ONLY, seed=seed, breaths_per_min=r), 240.0), r)[0]
                    for r in SWEEP_BREATHS_PER_MIN
                ]
                for seed in range(4)
            ]
        )
        at_resonance = amplitudes[:, SWEEP_BREATHS_PER_MIN.index(5.5)]
        assert np.all(at_resonance > 1.15 * amplitudes[:, 0])
        assert np.all(at_resonance > 1.15 * amplitudes[:, -1])
        assert SWEEP_BREATHS_PER_MIN[int(np.argmax(amplitudes.mean(axis=0)))] == 5.5

    def test_resonance_setting_moves_the_peak(self) -> None:
        amplitudes = [
            rsa_fit(
                simulate(
                    cfg(QUIET, HR_ONLY, breaths_per_min=r, resonance_breaths_per_min=6.5),
                    180.0,
                ),
                r,
            )[0]
            for r in SWEEP_BREATHS_PER_MIN
        ]
        assert SWEEP_BREATHS_PER_MIN[int(np.argmax(amplitudes))] == 6.5

    def test_phase_lag_changes_sign_across_resonance(self) -> None:
        phases = {
            r: rsa_fit(simulate(cfg(QUIET, HR_ONLY, breaths_per_min=r), 180.0), r)[1]
            for r in (4.5, 5.5, 7.0)
        }
        assert phases[4.5] > 20.0
        assert abs(phases[5.5]) < 5.0
        assert phases[7.0] < -20.0
        _, expected = rsa_response(np.array([4.5, 7.0]), resonance_breaths_per_min=5.5, q=3.0)
        assert_allclose([phases[4.5], phases[7.0]], np.degrees(expected), atol=5.0)


class TestBreathing:
    def test_person_follows_pacer_with_lag(self) -> None:
        model = StrapModel(cfg(QUIET, pacer_lag_s=1.5), pacer=fixed_rate_pacer(6.0))
        t = np.linspace(0.0, 60.0, 601)
        assert_allclose(model.breath_position(t), (t - 1.5) * 0.1, atol=1e-12)

    def test_person_follows_a_sliding_pacer(self) -> None:
        # The sliding resonance protocol (hrv-methods.md §7): 7 → 4.5 breaths/min over 10 min.
        def sliding(t_s: float) -> float:
            start, end, length_s = 7.0 / 60.0, 4.5 / 60.0, 600.0
            t = min(t_s, length_s)
            slope = (end - start) / length_s
            return start * t + 0.5 * slope * t * t + end * max(t_s - length_s, 0.0)

        model = StrapModel(SimConfig(pacer_lag_s=2.0, sloppiness=0.0), pacer=sliding)
        t = np.array([30.0, 300.0, 570.0])
        expected = 60.0 * (7.0 / 60.0 + (4.5 - 7.0) / 60.0 * (t - 2.0) / 600.0)
        assert_allclose(model.breathing_rate_breaths_per_min(t), expected, atol=0.02)
        assert_allclose(model.breath_position(t), [sliding(x - 2.0) for x in t], atol=1e-9)

    def test_pacer_before_start_is_extrapolated(self) -> None:
        calls: list[float] = []

        def pacer(t_s: float) -> float:
            calls.append(t_s)
            return 0.1 * t_s

        model = StrapModel(SimConfig(pacer_lag_s=3.0, sloppiness=0.0), pacer=pacer)
        assert_allclose(model.breath_position(np.array([0.0, 1.0])), [-0.3, -0.2], atol=1e-12)
        assert min(calls) >= 0.0

    @pytest.mark.parametrize("sloppiness", [0.0, 0.08])
    def test_sloppiness_jitters_the_breath_period(self, sloppiness: float) -> None:
        model = StrapModel(SimConfig(seed=2, sloppiness=sloppiness, breaths_per_min=6.0))
        t = np.arange(0.0, 1800.0, 0.01)
        position = model.breath_position(t)
        onsets = t[1:][np.diff(np.floor(position)) > 0]
        periods = np.diff(onsets)
        assert periods.mean() == pytest.approx(10.0, rel=0.02)
        relative_std = periods.std() / periods.mean()
        if sloppiness == 0.0:
            assert relative_std < 0.002
        else:
            assert relative_std == pytest.approx(sloppiness, rel=0.3)


class TestArtifacts:
    def test_ectopic_rate_matches_configured(self) -> None:
        chunk = simulate(cfg(HR_ONLY, seed=3, ectopic_fraction=0.03), 3000.0)
        assert chunk.ectopic_mask.mean() == pytest.approx(0.03, rel=0.3)
        # Found in the RR stream alone: an interval much shorter than its neighbourhood,
        # followed by a longer one.
        rr = chunk.rr_ms
        local = np.convolve(rr, np.ones(9) / 9, mode="same")
        premature = (rr[1:-1] < 0.85 * local[1:-1]) & (rr[2:] > 1.1 * local[1:-1])
        assert 0.75 <= premature.sum() / chunk.ectopic_mask.sum() <= 1.05

    def test_ectopic_beats_are_premature_with_a_compensatory_pause(self) -> None:
        # Ectopy draws from its own random stream: without it the same seed gives the same
        # sinus beats, so the two runs differ exactly at the ectopic beats.
        with_ectopy = simulate(cfg(HR_ONLY, seed=3, ectopic_fraction=0.05), 600.0)
        sinus = simulate(cfg(HR_ONLY, seed=3), 600.0)
        assert_array_equal(sinus.beat_t_s.size, with_ectopy.beat_t_s.size)
        mask = with_ectopy.ectopic_mask
        assert mask.sum() > 10
        assert_array_equal(with_ectopy.beat_t_s[~mask], sinus.beat_t_s[~mask])
        idx = np.flatnonzero(mask)
        normal_rr_s = sinus.beat_t_s[idx] - sinus.beat_t_s[idx - 1]
        prematurity = (sinus.beat_t_s[idx] - with_ectopy.beat_t_s[idx]) / normal_rr_s
        slack = 2.0 / 1024.0 / normal_rr_s.min()  # both times are on the 1/1024 s grid
        assert np.all((prematurity > 0.25 - slack) & (prematurity < 0.40 + slack))

    def test_dropouts_have_no_contact_and_no_rr(self) -> None:
        events = asyncio.run(
            collect(
                fast_strap(HR_ONLY, seed=4, dropouts_per_min=2.0, dropout_s=6.0, duration_s=600.0)
            )
        )
        contact = {e.t: e.ok for e in events if isinstance(e, Contact)}
        rr_times = {e.t for e in events if isinstance(e, RRIntervals)}
        hr = {e.t: e.hr_bpm for e in events if isinstance(e, HeartRate)}
        lost = sorted(t for t, ok in contact.items() if not ok)
        assert lost, "no dropout in 10 min at 2/min"
        assert not rr_times & set(lost)
        assert all(hr[t] == 0.0 for t in lost)
        runs = np.split(np.array(lost), np.flatnonzero(np.diff(lost) > 1.0) + 1)
        assert 8 <= len(runs) <= 30  # ≈ 2/min minus the time spent in dropouts
        assert all(5 <= len(run) <= 7 for run in runs[:-1])
        # No reported interval spans a dropout.
        all_rr = np.concatenate([e.rr_ms for e in events if isinstance(e, RRIntervals)])
        assert all_rr.max() < 1600.0

    def test_dropout_beats_in_the_model(self) -> None:
        config = cfg(QUIET, seed=4, dropouts_per_min=3.0, dropout_s=4.0)
        chunk = simulate(config, 300.0)
        assert (~chunk.contact_mask).sum() > 10
        assert np.all(np.isnan(chunk.rr_ms[~chunk.contact_mask]))
        # ECG shows no R peaks while contact is lost.
        model = StrapModel(config)
        model.advance(300.0)
        t = chunk.ecg_t_s
        # Well inside the dropouts: the waveform of a beat just before one reaches into it.
        lost = model.in_dropout(t) & model.in_dropout(t - 0.1) & model.in_dropout(t + 0.1)
        baseline = np.median(chunk.ecg_uv)
        assert np.all(np.abs(chunk.ecg_uv[lost] - baseline) < 500.0)
        assert np.max(chunk.ecg_uv[~lost] - baseline) > 700.0


# --- Strap events: ECG, ACC, structure -------------------------------------------------------


def ecg_signal(events: list[Event]) -> tuple[np.ndarray, np.ndarray]:
    frames = [e for e in events if isinstance(e, EcgFrame)]
    t = np.concatenate(
        [f.t - (len(f.ecg_uv) - 1 - np.arange(len(f.ecg_uv))) / f.fs_hz for f in frames]
    )
    return t, np.concatenate([np.asarray(f.ecg_uv) for f in frames])


def find_r_peaks(t: np.ndarray, ecg: np.ndarray) -> np.ndarray:
    """R peaks: the argmax of each run above 40 % of the maximum, refined by a parabola."""
    above = ecg > 0.4 * ecg.max()
    starts = np.flatnonzero(above[1:] & ~above[:-1]) + 1
    ends = np.flatnonzero(~above[1:] & above[:-1]) + 1
    if above[0]:
        starts = np.insert(starts, 0, 0)
    peaks = []
    for start, end in zip(starts, ends, strict=False):
        i = start + int(np.argmax(ecg[start:end]))
        y0, y1, y2 = ecg[i - 1], ecg[i], ecg[i + 1]
        d = 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)
        peaks.append(t[i] + d * (t[1] - t[0]))
    return np.array(peaks)


class TestStrapEvents:
    def test_stream_shape(self) -> None:
        events = asyncio.run(collect(fast_strap(seed=1, duration_s=20.0, battery_pct=55)))
        assert events[:4] == [
            Link(0.0, LinkState.CONNECTING, "simulated strap (seed 1)"),
            Link(0.0, LinkState.CONNECTED, "simulated strap (seed 1)"),
            Battery(0.0, 55),
            Link(0.0, LinkState.STREAMING, "HR + RR, ECG 130 Hz, ACC 200 Hz"),
        ]
        assert events[-1] == Link(20.0, LinkState.DISCONNECTED, "simulation ended")
        t = [e.t for e in events]
        assert t == sorted(t)
        assert [e.t for e in events if isinstance(e, HeartRate)] == [float(s) for s in range(1, 21)]
        assert [e.t for e in events if isinstance(e, Contact)] == [float(s) for s in range(1, 21)]
        n_rr = sum(len(e.rr_ms) for e in events if isinstance(e, RRIntervals))
        assert 15 <= n_rr <= 25
        assert all(e.rr_ms for e in events if isinstance(e, RRIntervals))

    def test_frames_like_an_h10(self) -> None:
        events = asyncio.run(collect(fast_strap(duration_s=10.0)))
        ecg = [e for e in events if isinstance(e, EcgFrame)]
        acc = [e for e in events if isinstance(e, AccFrame)]
        assert all(len(f.ecg_uv) == ECG_SAMPLES_PER_FRAME and f.fs_hz == ECG_FS_HZ for f in ecg)
        assert all(len(f.acc_mg) == ACC_SAMPLES_PER_FRAME and f.fs_hz == ACC_FS_HZ for f in acc)
        assert len(ecg) == int(10 * ECG_FS_HZ) // ECG_SAMPLES_PER_FRAME
        assert len(acc) == int(10 * ACC_FS_HZ) // ACC_SAMPLES_PER_FRAME
        assert_allclose(np.diff([f.t for f in ecg]), ECG_SAMPLES_PER_FRAME / ECG_FS_HZ)
        assert_allclose(np.diff([f.t for f in acc]), ACC_SAMPLES_PER_FRAME / ACC_FS_HZ)
        assert all(isinstance(v, float) for v in ecg[0].ecg_uv)
        assert all(len(s) == 3 for s in acc[0].acc_mg)

    def test_generic_strap_has_no_frames(self) -> None:
        events = asyncio.run(collect(fast_strap(HR_ONLY, duration_s=5.0)))
        assert not [e for e in events if isinstance(e, EcgFrame | AccFrame)]
        assert events[3] == Link(0.0, LinkState.STREAMING, "HR + RR")

    @pytest.mark.parametrize("ectopic_fraction", [0.0, 0.05])
    def test_ecg_r_peaks_agree_with_the_rr_stream(self, ectopic_fraction: float) -> None:
        events = asyncio.run(
            collect(
                fast_strap(
                    seed=6, duration_s=60.0, acc_enabled=False, ectopic_fraction=ectopic_fraction
                )
            )
        )
        t, ecg = ecg_signal(events)
        peaks = find_r_peaks(t, ecg)
        rr_events = [e for e in events if isinstance(e, RRIntervals)]
        rr_ms = np.concatenate([e.rr_ms for e in rr_events])
        reported_at = np.concatenate([[e.t] * len(e.rr_ms) for e in rr_events])
        # The first reported RR ends at the second beat. The ECG may miss the first beat
        # (before its first sample) and the last (after its last whole frame): align the
        # peaks with the intervals on the best of the two possible starts.
        errors = {}
        for offset in (0, 1):
            n = min(rr_ms.size, peaks.size - 1 - offset)
            beats = peaks[offset : offset + n + 1]
            errors[offset] = np.max(np.abs(np.diff(beats) * 1000.0 - rr_ms[:n]))
        offset = min(errors, key=errors.__getitem__)
        n = min(rr_ms.size, peaks.size - 1 - offset)
        assert n >= rr_ms.size - 1
        beats = peaks[offset : offset + n + 1]
        assert np.max(np.abs(np.diff(beats) * 1000.0 - rr_ms[:n])) < R_PEAK_TOL_MS
        assert np.max(np.abs((beats[1:] - beats[0]) * 1000.0 - np.cumsum(rr_ms[:n]))) < (
            R_PEAK_TOL_MS
        )
        # Each RR is reported in the notification right after its beat.
        tol_s = R_PEAK_TOL_MS / 1000.0
        assert np.all(beats[1:] <= reported_at[:n] + tol_s)
        assert np.all(beats[1:] > reported_at[:n] - 1.0 - tol_s)

    @pytest.mark.parametrize("breaths_per_min", [5.5, 12.0])
    def test_acc_breathing_frequency_is_the_breathing_rate(self, breaths_per_min: float) -> None:
        events = asyncio.run(
            collect(
                fast_strap(
                    seed=2, breaths_per_min=breaths_per_min, duration_s=120.0, ecg_enabled=False
                )
            )
        )
        acc = np.concatenate([np.asarray(e.acc_mg) for e in events if isinstance(e, AccFrame)])
        assert_allclose(np.linalg.norm(acc, axis=1).mean(), 1000.0, rtol=0.01)
        centred = acc - acc.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        breathing = centred @ vt[0]
        n_fft = 1 << 18
        freqs = np.fft.rfftfreq(n_fft, 1.0 / ACC_FS_HZ)
        power = np.abs(np.fft.rfft(breathing * np.hanning(breathing.size), n_fft)) ** 2
        band = (freqs > 0.05) & (freqs < 0.7)
        peak_breaths_per_min = 60.0 * freqs[band][np.argmax(power[band])]
        assert peak_breaths_per_min == pytest.approx(breaths_per_min, abs=0.25)

    def test_same_seed_same_events(self) -> None:
        a = asyncio.run(collect(fast_strap(seed=9, duration_s=15.0)))
        b = asyncio.run(collect(fast_strap(seed=9, duration_s=15.0)))
        c = asyncio.run(collect(fast_strap(seed=10, duration_s=15.0)))
        assert a == b
        assert a != c


class TestStrapTiming:
    @pytest.mark.parametrize("speed", [1.0, 4.0])
    async def test_real_time_yields_the_same_events_as_max_speed(self, speed: float) -> None:
        config = SimConfig(seed=3, duration_s=12.0)
        fast = await collect(SimulatedStrap(config, speed=math.inf, clock=FakeClock()))
        clock = FakeClock(start_s=50.0)
        yielded_at: list[tuple[float, float]] = []
        strap = SimulatedStrap(config, speed=speed, clock=clock, sleep=clock.sleep)
        slow: list[Event] = []
        async with strap:
            async for event in strap:
                slow.append(event)
                yielded_at.append((event.t, clock.now_s - 50.0))
        assert slow == fast
        # Every event is released when the (fake) clock reaches its time, not before.
        assert all(elapsed >= t / speed - 1e-9 for t, elapsed in yielded_at)
        assert all(elapsed <= t / speed + 1e-6 for t, elapsed in yielded_at)
        assert clock.now_s - 50.0 == pytest.approx(12.0 / speed)
        assert all(s > 0 for s in clock.sleeps_s)

    async def test_max_speed_never_waits_but_yields_to_the_loop(self) -> None:
        clock = FakeClock()
        await collect(
            SimulatedStrap(
                SimConfig(duration_s=5.0), speed=math.inf, clock=clock, sleep=clock.sleep
            )
        )
        assert clock.sleeps_s == [0.0] * 5

    async def test_slow_consumer_loses_nothing(self) -> None:
        clock = FakeClock()
        config = SimConfig(duration_s=5.0, seed=2)
        strap = SimulatedStrap(config, clock=clock, sleep=clock.sleep)
        got: list[Event] = []
        async with strap:
            async for event in strap:
                clock.now_s += 0.5  # the consumer takes 0.5 s per event
                got.append(event)
        assert got == await collect(SimulatedStrap(config, speed=math.inf))


class TestStrapLifecycle:
    async def test_break_out_early_ends_cleanly(self) -> None:
        strap = fast_strap(seed=1)
        async with strap:
            async for event in strap:
                if isinstance(event, RRIntervals):
                    break
        assert [e async for e in strap] == []  # closed: iteration just ends

    async def test_exception_in_body_propagates_and_closes(self) -> None:
        strap = fast_strap()
        with pytest.raises(KeyError):
            async with strap:
                async for _ in strap:
                    raise KeyError("consumer bug")
        assert [e async for e in strap] == []

    async def test_cancelled_while_waiting_in_real_time(self) -> None:
        strap = SimulatedStrap(SimConfig())  # real clock, real sleep, speed 1

        async def consume() -> list[Event]:
            got: list[Event] = []
            async with strap:
                async for event in strap:
                    got.append(event)
            return got

        with pytest.raises(TimeoutError):
            await asyncio.wait_for(consume(), timeout=0.05)  # first HR comes at t = 1 s
        assert [e async for e in strap] == []

    async def test_iterating_before_opening_is_an_error(self) -> None:
        strap = fast_strap()
        with pytest.raises(RuntimeError, match="async with"):
            await strap.__anext__()

    async def test_single_use(self) -> None:
        strap = fast_strap(duration_s=1.0)
        await collect(strap)
        with pytest.raises(RuntimeError, match="once"):
            await collect(strap)

    @pytest.mark.parametrize("speed", [0.0, -1.0, math.nan])
    def test_speed_must_be_positive(self, speed: float) -> None:
        with pytest.raises(ConfigError, match="speed"):
            SimulatedStrap(SimConfig(), speed=speed)

    def test_is_an_event_source(self) -> None:
        assert isinstance(SimulatedStrap(), EventSource)
