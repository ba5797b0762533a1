"""The resonance-frequency assessment: plan, pacer schedule, scoring, JSON (hrv-methods.md §7)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pet_biofeedback.errors import ConfigError, SignalInputError
from pet_biofeedback.firmware_bridge.sim_config import SimConfig
from pet_biofeedback.firmware_bridge.sim_model import SimChunk, simulate
from pet_biofeedback.firmware_bridge.sim_physiology import (
    ACC_FS_HZ,
    ECG_FS_HZ,
    PacerFn,
    rsa_response,
)
from pet_biofeedback.session.assessment import (
    AssessmentPlan,
    AssessmentResult,
    AssessmentSettings,
    assess,
    make_plan,
)
from pet_biofeedback.signal.artifacts import correct_rr
from pet_biofeedback.signal.ecg import find_r_peaks
from pet_biofeedback.signal.resonance_estimate import ResonanceEstimate
from pet_biofeedback.signal.respiration import breathing_from_acc, breathing_from_ecg_amplitude


class TestSettings:
    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"rates_breaths_per_min": ()}, "at least one"),
            ({"rates_breaths_per_min": (6.0, 6.0)}, "once"),
            ({"rates_breaths_per_min": (5.55,)}, "steps"),
            ({"rates_breaths_per_min": (12.0,)}, "3–10"),
            ({"block_s": 30.0}, "1–5 min"),
            ({"block_s": 400.0}, "1–5 min"),
            ({"rest_s": -1.0}, "rest"),
            ({"settle_s": 70.0}, "half a block"),
            ({"inhale_parts": 0.0}, "inhale parts"),
        ],
    )
    def test_nonsense_is_refused(self, kwargs: dict[str, object], match: str) -> None:
        with pytest.raises(ConfigError, match=match):
            AssessmentSettings(**kwargs)  # type: ignore[arg-type]  # deliberately loose input


class TestPlan:
    def test_default_plan_is_five_two_minute_blocks_of_whole_breaths(self) -> None:
        plan = make_plan()
        assert [b.breaths_per_min for b in plan.blocks] == [6.5, 6.0, 5.5, 5.0, 4.5]
        assert [b.n_breaths for b in plan.blocks] == [13, 12, 11, 10, 9]
        for b in plan.blocks:
            assert b.end_s - b.start_s == pytest.approx(120.0)
            # The first 20 s settle; every block is scored over the same 100 s.
            assert b.analysis_start_s - b.start_s == pytest.approx(20.0)
        for prev, b in zip(plan.blocks, plan.blocks[1:], strict=False):
            assert b.rest_start_s == prev.end_s
            assert 30.0 - 1e-9 <= b.start_s - b.rest_start_s < 30.0 + 60.0 / b.breaths_per_min
        assert 12 * 60 < plan.end_s < 13 * 60

    def test_pacer_paces_each_block_at_its_rate_starting_on_an_onset(self) -> None:
        plan = make_plan(t_start_s=5.0)
        pacer = plan.pacer()
        assert len(pacer.changes) == len(plan.blocks)
        for b in plan.blocks:
            start = pacer.position_at(b.start_s)
            assert start == pytest.approx(round(start), abs=1e-9)
            assert pacer.position_at(b.end_s) - start == pytest.approx(b.n_breaths)
            state = pacer.state_at(0.5 * (b.start_s + b.end_s))
            assert state.settings.breaths_per_min == b.breaths_per_min
            assert (state.settings.inhale_s, state.settings.exhale_s) == pytest.approx(
                (0.4 * 60 / b.breaths_per_min, 0.6 * 60 / b.breaths_per_min)
            )
        assert plan.inhale_fraction() == pytest.approx(0.4)

    def test_block_at_finds_blocks_not_rests(self) -> None:
        plan = make_plan()
        second = plan.blocks[1]
        assert plan.block_at(second.start_s + 1.0) == second
        assert plan.block_at(second.rest_start_s + 1.0) is None
        assert plan.block_at(plan.end_s + 1.0) is None

    def test_custom_block_length_and_no_rest(self) -> None:
        plan = make_plan(
            AssessmentSettings(rates_breaths_per_min=(5.0, 6.0), block_s=180.0, rest_s=0.0)
        )
        assert [b.n_breaths for b in plan.blocks] == [15, 18]
        assert plan.blocks[1].start_s == plan.blocks[0].end_s

    def test_blocks_of_unequal_length_are_scored_over_equal_windows(self) -> None:
        # 3 min at 5.5 breaths/min is 16.5 breaths: rounded to 16 (174.5 s); 4.5 gives
        # 13.5 → 14 (186.7 s). Both are scored over 174.5 − 20 s, so that their spectra
        # (LF peak height, peak share) compare fairly.
        plan = make_plan(AssessmentSettings(rates_breaths_per_min=(5.5, 4.5), block_s=180.0))
        lengths = [b.end_s - b.analysis_start_s for b in plan.blocks]
        assert lengths == pytest.approx([16 * 60 / 5.5 - 20.0] * 2)
        assert all(b.analysis_start_s - b.start_s >= 20.0 - 1e-9 for b in plan.blocks)

    def test_start_must_be_finite(self) -> None:
        with pytest.raises(ConfigError):
            make_plan(t_start_s=math.nan)


def ideal_person(plan: AssessmentPlan, resonance_breaths_per_min: float) -> tuple[np.ndarray, ...]:
    """Beats of a noise-free person who follows the pacer exactly: HR has the breath's shape,
    scaled and shifted by the resonance response (the simulator's, hrv-methods.md §6.5)."""
    pacer = plan.pacer()
    grid = np.arange(0.0, plan.end_s + 5.0, 0.01)
    position = pacer.positions(grid)
    # The pacer's rate, switched at each rest's start (free breathing is not modelled).
    k = np.searchsorted([b.rest_start_s for b in plan.blocks], grid, side="right") - 1
    rate = np.array([b.breaths_per_min for b in plan.blocks])[np.maximum(k, 0)]
    gain, phase = rsa_response(rate, resonance_breaths_per_min=resonance_breaths_per_min, q=3.0)
    x = np.mod(position + phase / (2 * np.pi), 1.0)
    warped = np.where(x < 0.4, 0.5 * x / 0.4, 0.5 + 0.5 * (x - 0.4) / 0.6)
    hr = 65.0 - 6.0 * gain * np.cos(2 * np.pi * warped)
    count = np.concatenate(([0.0], np.cumsum(hr[:-1] / 60.0 * 0.01)))
    beats = np.interp(np.arange(1, math.floor(count[-1]) + 1), count, grid)
    return beats[1:], np.diff(beats) * 1000.0


class TestAssess:
    @pytest.mark.parametrize("resonance", [4.5, 5.5, 6.5])
    def test_noise_free_person_gets_their_resonance(self, resonance: float) -> None:
        plan = make_plan()
        t, nn = ideal_person(plan, resonance)
        result = assess(plan, t, nn)
        assert result.recommended_breaths_per_min == resonance
        assert result.ranking.confidence == "clear"
        best = result.criteria[[c.breaths_per_min for c in result.criteria].index(resonance)]
        assert abs(best.phase_lag_deg) < 5.0
        assert best.peak_to_trough_bpm == pytest.approx(12.0, rel=0.05)

    def test_to_json(self) -> None:
        plan = make_plan()
        t, nn = ideal_person(plan, 5.5)
        data = json.loads(assess(plan, t, nn).to_json())
        assert data["recommended_bpm"] == 5.5
        assert data["confidence"] in ("clear", "likely", "close call")
        assert 0.0 <= data["confidence_value"] <= 1.0
        assert data["explanation"].startswith("About 5.5 breaths/min; of the rates tested, 5.5.")
        assert data["estimated_bpm"] == pytest.approx(5.5, abs=0.1)
        assert data["table_candidate_bpm"] == 5.5
        assert [row["bpm"] for row in data["rates"]] == [6.5, 6.0, 5.5, 5.0, 4.5]
        row = data["rates"][2]
        for key in (
            "phase_lag_deg",
            "peak_to_trough_bpm",
            "lf_power_ms2",
            "lf_peak_psd_ms2_per_hz",
            "smoothness",
            "n_lf_peaks",
        ):
            assert isinstance(row[key], int | float)
        assert row["ranks"]["peak_to_trough"] == 1

    def test_missing_block_is_null_in_json_and_ranks_last(self) -> None:
        plan = make_plan()
        t, nn = ideal_person(plan, 5.5)
        keep = (t < plan.blocks[0].analysis_start_s) | (t > plan.blocks[0].end_s)  # lose 6.5
        result = assess(plan, t[keep], nn[keep])
        row = json.loads(result.to_json())["rates"][0]
        assert row["peak_to_trough_bpm"] is None and row["n_beats"] == 0
        assert row["ranks"]["peak_to_trough"] == 5
        assert result.recommended_breaths_per_min == 5.5

    def test_measured_onsets_are_passed_on(self) -> None:
        plan = make_plan()
        t, nn = ideal_person(plan, 5.5)
        onsets = plan.pacer().breath_starts(0.0, plan.end_s)
        result = assess(plan, t, nn, measured_breath_start_s=onsets)
        assert {c.reference for c in result.criteria} == {"measured"}

    @pytest.mark.parametrize(
        ("t", "nn"), [([1.0, 2.0], [800.0]), ([2.0, 1.0], [800.0, 800.0]), ([np.nan], [800.0])]
    )
    def test_bad_beats_raise(self, t: list[float], nn: list[float]) -> None:
        with pytest.raises(SignalInputError):
            assess(make_plan(), t, nn)


# --- Acceptance: simulated people with known resonance ---------------------------------------
RESONANCES = (4.5, 5.0, 5.5, 6.0, 6.5)
SEEDS = range(10)
FREE_BREATHS_PER_MIN = 12.0  # spontaneous breathing during the rests
PERSON_GRID_S = 0.1  # the simulator samples a pacer callable on this grid (PACER_GRID_S)


def person_following(plan: AssessmentPlan) -> PacerFn:
    """What a simulated person does: follow the plan's pacer in blocks, breathe freely at
    12 breaths/min in the rests, and fall back into step with the pacer during the first
    breath of each block (the breath count is continuous, so the catch-up is the fractional
    mismatch, at most half a breath)."""
    pacer = plan.pacer()
    grid = np.arange(0.0, plan.end_s + 10.0, PERSON_GRID_S)
    paced = pacer.positions(grid)
    position = paced.copy()
    offset = 0.0  # whole breaths the person is ahead of the pacer's count
    for prev, b in zip(plan.blocks, plan.blocks[1:], strict=False):  # one per block
        rest = (grid >= prev.end_s) & (grid < b.start_s)
        at_rest_start = pacer.position_at(prev.end_s) + offset
        position[rest] = at_rest_start + (grid[rest] - prev.end_s) * FREE_BREATHS_PER_MIN / 60
        mismatch = (
            at_rest_start
            + (b.start_s - prev.end_s) * FREE_BREATHS_PER_MIN / 60
            - pacer.position_at(b.start_s)
        )
        offset = float(round(mismatch))
        period_s = 60.0 / b.breaths_per_min
        after = grid >= b.start_s
        catch_up = np.clip(1.0 - (grid[after] - b.start_s) / period_s, 0.0, 1.0)
        position[after] = paced[after] + offset + (mismatch - offset) * catch_up
    values: list[float] = position.tolist()
    last = len(values) - 2

    def breath_position(t_s: float) -> float:
        # Called once per 0.1 s of simulated time: plain float arithmetic, no numpy per call.
        j = min(max(int(t_s / PERSON_GRID_S), 0), last)
        frac = t_s / PERSON_GRID_S - j
        return values[j] + (values[j + 1] - values[j]) * frac

    return breath_position


def simulated_session(
    resonance: float, seed: int, **config: object
) -> tuple[AssessmentPlan, np.ndarray, np.ndarray, SimChunk]:
    """Run the default protocol on a simulated person: (plan, NN beat times, NN, raw chunk)."""
    plan = make_plan()
    settings: dict[str, object] = {
        "seed": seed,
        "resonance_breaths_per_min": resonance,
        "inhale_fraction": plan.inhale_fraction(),  # the person breathes 4:6 like the pacer
        "ectopic_fraction": 0.01,
        "ecg_enabled": False,
        "acc_enabled": False,
    }
    settings.update(config)
    sim = SimConfig(**settings)  # type: ignore[arg-type]  # test settings, checked by SimConfig
    chunk = simulate(sim, plan.end_s + 1.0, pacer=person_following(plan))
    reported = np.isfinite(chunk.rr_ms)  # the first beat has no RR
    rr_ms = chunk.rr_ms[reported]
    corrected = correct_rr(rr_ms)
    t0_s = chunk.beat_t_s[reported][0] - rr_ms[0] / 1000.0
    beat_t_s = t0_s + np.cumsum(corrected.nn_ms) / 1000.0
    return plan, beat_t_s, corrected.nn_ms, chunk


def assess_simulated_person(
    resonance: float, seed: int, *, acc: bool, ecg: bool = False
) -> AssessmentResult:
    """The default protocol on one simulated person; with ``acc`` the chest accelerometer's
    breathing (respiration.breathing_from_acc), with ``ecg`` the R-wave amplitude's
    (respiration.breathing_from_ecg_amplitude) removes their lag behind the pacer."""
    if ecg:
        plan, beat_t_s, nn_ms, chunk = simulated_session(resonance, seed, ecg_enabled=True)
        peaks = find_r_peaks(chunk.ecg_uv, ECG_FS_HZ)
        edr = breathing_from_ecg_amplitude(chunk.ecg_t_s[0] + peaks.t_s, peaks.amplitude_uv)
        return assess(plan, beat_t_s, nn_ms, breathing_t_s=edr.signal_t_s, breathing=edr.signal)
    if not acc:
        plan, beat_t_s, nn_ms, _ = simulated_session(resonance, seed)
        return assess(plan, beat_t_s, nn_ms)
    plan, beat_t_s, nn_ms, chunk = simulated_session(resonance, seed, acc_enabled=True)
    breathing = breathing_from_acc(chunk.acc_mg, ACC_FS_HZ, t_s=chunk.acc_t_s)
    return assess(
        plan, beat_t_s, nn_ms, breathing_t_s=breathing.signal_t_s, breathing=breathing.signal
    )


def test_accelerometer_removes_the_persons_lag_from_the_phase() -> None:
    # A person 1 s behind the pacer: against the pacer their resonance block reads ≈ −33°;
    # against their own breathing (chest accelerometer, respiration.breathing_from_acc) ≈ 0°.
    plan, beat_t_s, nn_ms, chunk = simulated_session(5.5, 0, pacer_lag_s=1.0, acc_enabled=True)
    breathing = breathing_from_acc(chunk.acc_mg, ACC_FS_HZ, t_s=chunk.acc_t_s)
    by_pacer = assess(plan, beat_t_s, nn_ms)
    by_acc = assess(
        plan, beat_t_s, nn_ms, breathing_t_s=breathing.signal_t_s, breathing=breathing.signal
    )
    assert [c.breathing_lag_s for c in by_acc.criteria] == pytest.approx([1.0] * 5, abs=0.1)
    assert {c.reference for c in by_acc.criteria} == {"measured"}
    at_resonance = [c.breaths_per_min for c in plan.blocks].index(5.5)
    assert by_pacer.criteria[at_resonance].phase_lag_deg < -25.0
    assert abs(by_acc.criteria[at_resonance].phase_lag_deg) < 10.0


Estimates = dict[float, list[ResonanceEstimate]]


def hits(estimates: Estimates) -> dict[float, int]:
    return {
        res: sum(e.recommended_breaths_per_min == res for e in found)
        for res, found in estimates.items()
    }


@pytest.fixture(scope="module")
def with_acc() -> Estimates:
    """10 simulated people at each resonance, breathing measured by the chest accelerometer."""
    return {
        res: [assess_simulated_person(res, s, acc=True).estimate for s in SEEDS]
        for res in RESONANCES
    }


@pytest.fixture(scope="module")
def with_ecg() -> Estimates:
    """The same people with ECG but no accelerometer: breathing from the R-wave amplitude."""
    return {
        res: [assess_simulated_person(res, s, acc=False, ecg=True).estimate for s in SEEDS]
        for res in RESONANCES
    }


@pytest.fixture(scope="module")
def pacer_only() -> Estimates:
    """The same people scored against the pacer alone (a strap without an accelerometer)."""
    return {
        res: [assess_simulated_person(res, s, acc=False).estimate for s in SEEDS]
        for res in RESONANCES
    }


@pytest.mark.slow  # 100 simulated 12-min assessments: ≈ 9 s alone, more on a busy machine
class TestSimulatedPeople:
    """Simulated people (firmware_bridge.simulated, default noise: Mayer waves 1 bpm at
    0.085–0.115 Hz, HF noise, drift, 0.3 s lag behind the pacer, 5 % sloppiness, 1 % ectopic
    beats) whose resonance is 4.5 … 6.5 breaths/min, each through the default protocol.

    Hits of the recommendation (signal.resonance_estimate: 0° phase crossing and peak of the
    heart-rate swings across rates), seeds 0–9 of 10 / held-out seeds 10–59 of 50, at
    4.5, 5.0, 5.5, 6.0, 6.5 breaths/min:

    * with the accelerometer: 10 10 9 10 10 / 50 50 50 47 48;
    * with ECG, no ACC (EDR): 10 10 9 10 10 / 50 50 50 45 47 (issue #7);
    * pacer only:             10 10 9 9 8   / 50 49 47 36 34.

    The former per-block vote (the six-criteria table's candidate) got 10 10 8 6 9 on seeds
    0–9 either way (0–59: 60 54 44 39 45 pacer only, 60 56 46 41 48 with the accelerometer).
    """

    def test_nine_of_ten_at_every_rate_with_the_accelerometer(self, with_acc: Estimates) -> None:
        # Issue #7's target, with breathing measured as the strap does (chest accelerometer).
        assert all(n >= 9 for n in hits(with_acc).values()), hits(with_acc)

    def test_nine_of_ten_at_every_rate_with_ecg_but_no_accelerometer(
        self, with_ecg: Estimates
    ) -> None:
        # Issue #7: breathing known only from the ECG (R-wave amplitude, either sign) removes
        # the lag as the accelerometer does. Measured 10 10 9 10 10.
        assert all(n >= 9 for n in hits(with_ecg).values()), hits(with_ecg)
        references = {e.reference for found in with_ecg.values() for e in found}
        assert references <= {"measured", "mixed"}, references

    def test_never_more_than_one_step_off(self, with_acc: Estimates, pacer_only: Estimates) -> None:
        for estimates in (with_acc, pacer_only):
            for res, found in estimates.items():
                off = [abs(e.recommended_breaths_per_min - res) for e in found]
                assert max(off) <= 0.5 + 1e-9, (res, off)

    def test_continuous_estimate_is_close(self, with_acc: Estimates) -> None:
        errors = np.array(
            [e.estimated_breaths_per_min - res for res, found in with_acc.items() for e in found]
        )
        assert abs(float(np.mean(errors))) < 0.05  # measured −0.01 (held-out seeds 10–59: −0.01)
        assert float(np.std(errors)) < 0.15  # measured 0.10 (held-out seeds 10–59: 0.11)

    def test_pacer_only_hit_rates_do_not_regress(self, pacer_only: Estimates) -> None:
        floor = {4.5: 10, 5.0: 10, 5.5: 8, 6.0: 8, 6.5: 7}  # measured 10, 10, 9, 9, 8
        found = hits(pacer_only)
        assert all(found[r] >= floor[r] for r in RESONANCES), found

    def test_pacer_only_explanation_says_so(self, pacer_only: Estimates) -> None:
        assert all(e.reference == "pacer" for found in pacer_only.values() for e in found)
        assert "Breathing was not measured" in pacer_only[5.5][0].explanation

    def test_clear_calls_are_right(self, with_acc: Estimates, pacer_only: Estimates) -> None:
        # Over seeds 0–59, "clear" was right 140 of 141 times with the accelerometer and 65
        # of 68 against the pacer alone; "close call" 75 of 78 and 114 of 133.
        clear = [
            e.recommended_breaths_per_min == res
            for estimates in (with_acc, pacer_only)
            for res, found in estimates.items()
            for e in found
            if e.confidence == "clear"
        ]
        assert len(clear) >= 20
        assert sum(clear) >= 0.95 * len(clear), (sum(clear), len(clear))

    @pytest.mark.xfail(
        strict=True,
        reason=(
            "Cannot be reached from the pacer alone (issue #7): measured 10, 10, 9, 9, 8 of 10; "
            "held out 50, 49, 47, 36, 34 of 50. The person follows the pacer 0.3 s late, which "
            "reads as −360°·f·0.3 s ≈ −10° of phase at every rate and moves the 0° crossing "
            "≈ 0.2 breaths/min slower. Over 4.5–6.5 breaths/min that lag term is nearly linear "
            "in f, like the resonance's own phase curve, so five blocks cannot tell the two "
            "apart (the amplitude peak is unbiased but scatters ± 0.23 breaths/min with the "
            "Mayer waves); removing it needs the breathing actually done (ACC or ECG: both reach "
            "9/10). Subtracting an assumed population lag would only fit the simulator. The "
            "app says so instead: 'Breathing was not measured …' (resonance_estimate)."
        ),
    )
    def test_nine_of_ten_at_every_rate_against_the_pacer(self, pacer_only: Estimates) -> None:
        assert all(n >= 9 for n in hits(pacer_only).values()), hits(pacer_only)
