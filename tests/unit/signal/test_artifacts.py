"""Tests for pet_biofeedback.signal.artifacts and its modules (hrv-methods.md §5, §10.3–10.4)."""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal

from pet_biofeedback.errors import SignalInputError
from pet_biofeedback.signal import _artifact_correction as correction
from pet_biofeedback.signal import _artifact_detection as detection
from pet_biofeedback.signal import _artifact_kernels as kernels
from pet_biofeedback.signal import artifacts
from pet_biofeedback.signal.artifacts import (
    RR_MAX_MS,
    RR_MIN_MS,
    CausalArtifactCorrector,
    FinalNN,
    correct_rr,
    detect_artifacts,
)

CLASS_FIELDS = ("ectopic_idx", "long_short_idx", "missed_idx", "extra_idx")
NK_KEYS = {
    "ectopic_idx": "ectopic",
    "long_short_idx": "longshort",
    "missed_idx": "missed",
    "extra_idx": "extra",
}

rr_arrays = arrays(
    np.float64, st.integers(0, 300), elements=st.floats(300.0, 2000.0, allow_nan=False)
)


# --------------------------------------------------------------------------------------------
# Synthetic data with known answers (hrv-methods.md §10.4)
# --------------------------------------------------------------------------------------------
def _synthetic_rr(n: int, seed: int, noise_ms: float = 10.0, mean_ms: float = 850.0) -> np.ndarray:
    """LF (0.1 Hz, ±40 ms) + HF (0.25 Hz, ±25 ms) modulation plus white noise, in ms."""
    rng = np.random.default_rng(seed)
    t_s = np.arange(n) * mean_ms / 1000.0
    phase = rng.uniform(0.0, 2 * np.pi, 2)
    rr_ms: np.ndarray = (
        mean_ms
        + 40.0 * np.sin(2 * np.pi * 0.1 * t_s + phase[0])
        + 25.0 * np.sin(2 * np.pi * 0.25 * t_s + phase[1])
        + rng.normal(0.0, noise_ms, n)
    )
    return rr_ms


def _inject(
    clean_ms: np.ndarray, seed: int, fraction: float = 0.01, spacing: int = 20
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Isolated artifact events at least ``spacing`` beats apart (hrv-methods.md §10.4).

    missed = two RR merged; extra = one RR split at 30–70 %; ectopic = one RR shortened by 30 %
    and the next lengthened by the same amount. Returns the corrupted series and, per kind, the
    index in it of the (first) affected interval.
    """
    rng = np.random.default_rng(seed)
    n = clean_ms.size
    n_events = min(int(n * fraction), (n - 2 * spacing) // spacing)
    starts = np.sort(rng.choice(np.arange(spacing, n - spacing, spacing), n_events, replace=False))
    kinds = rng.integers(0, 3, n_events)
    pieces: list[np.ndarray] = []
    where: dict[str, list[int]] = {"missed": [], "extra": [], "ectopic": []}
    i0 = out_len = 0
    for p, kind in zip(starts.tolist(), kinds.tolist(), strict=True):  # test helper
        pieces.append(clean_ms[i0:p])
        out_len += p - i0
        if kind == 0:
            pieces.append(np.array([clean_ms[p] + clean_ms[p + 1]]))
            where["missed"].append(out_len)
            out_len, i0 = out_len + 1, p + 2
        elif kind == 1:
            f = rng.uniform(0.3, 0.7)
            pieces.append(np.array([clean_ms[p] * f, clean_ms[p] * (1 - f)]))
            where["extra"].append(out_len)
            out_len, i0 = out_len + 2, p + 1
        else:
            d = 0.3 * clean_ms[p]
            pieces.append(np.array([clean_ms[p] - d, clean_ms[p + 1] + d]))
            where["ectopic"].append(out_len)
            out_len, i0 = out_len + 2, p + 2
    pieces.append(clean_ms[i0:])
    return np.concatenate(pieces), {k: np.array(v, dtype=np.intp) for k, v in where.items()}


def _rmssd_ms(nn_ms: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.diff(nn_ms) ** 2)))


def _neurokit_classes(rr_ms: np.ndarray) -> dict[str, np.ndarray]:
    """NeuroKit2 0.3.0 ``_find_artifacts`` as ``signal_fixpeaks(method="Kubios")`` calls it.

    Peaks in samples at 1000 Hz: beat 0 at sample 0, then the cumulative integer-ms RR
    (NeuroKit2's own ``intervals_to_peaks`` convention: N intervals → N + 1 peaks). Its index
    k refers to the interval ending at peak k, i.e. our ``rr_ms[k − 1]``.
    """
    fixpeaks = pytest.importorskip("neurokit2.signal.signal_fixpeaks")
    peaks = np.concatenate(([0], np.cumsum(rr_ms).astype(np.int64)))
    found, _ = fixpeaks._find_artifacts(peaks, sampling_rate=1000)
    out = {}
    for field, key in NK_KEYS.items():
        idx = np.asarray(found[key], dtype=np.intp) - 1
        assert not np.any(idx < 0), "NeuroKit2 flagged its placeholder first period"
        out[field] = idx
    return out


def _run_causal(rr_ms: np.ndarray) -> tuple[CausalArtifactCorrector, list[FinalNN], np.ndarray]:
    """Push a series through a fresh corrector; also return, per input beat, corrected-or-not."""
    corrector = CausalArtifactCorrector()
    out: list[FinalNN] = []
    flagged = np.zeros(rr_ms.size, dtype=bool)
    head = 0  # input index of the oldest pending beat
    for value in rr_ms.tolist():  # the live API is one beat per call
        n_extra = corrector.n_extra
        res = corrector.push(value)
        if res:
            consumed = 2 if corrector.n_extra > n_extra else 1
            flagged[head : head + consumed] = any(b.corrected for b in res)
            head += consumed
        out.extend(res)
    out.extend(corrector.flush())
    return corrector, out, flagged


# --------------------------------------------------------------------------------------------
class TestDetectArtifacts:
    @pytest.mark.parametrize(
        ("n", "noise_ms", "fraction", "seed"),
        [
            (3000, 10.0, 0.0, 0),  # clean
            (3000, 5.0, 0.01, 1),
            (20000, 10.0, 0.01, 2),
            (2000, 20.0, 0.05, 3),  # dense artifacts
            (95, 10.0, 0.05, 4),  # barely more than one window
            (40, 10.0, 0.0, 5),  # all rows are edge rows
        ],
    )
    def test_index_sets_identical_to_neurokit2(
        self, n: int, noise_ms: float, fraction: float, seed: int
    ) -> None:
        rr_ms = np.round(_synthetic_rr(n, seed, noise_ms))
        if fraction:
            rr_ms, _ = _inject(rr_ms, seed, fraction, spacing=5)
            rr_ms = np.round(rr_ms)
        ours = detect_artifacts(rr_ms)
        ref = _neurokit_classes(rr_ms)
        for field in CLASS_FIELDS:
            assert_array_equal(getattr(ours, field), ref[field], err_msg=field)

    @pytest.mark.parametrize("seed", range(4))
    def test_identical_to_neurokit2_on_hostile_series(self, seed: int) -> None:
        # Ties (zero thresholds → NaN in NeuroKit2), chaos and runs of pairwise evaluations.
        rng = np.random.default_rng(seed)
        series = [
            800.0 + rng.integers(-3, 4, 300),
            rng.integers(300, 2000, 250).astype(np.float64),
            np.full(120, 900.0),
            np.round(700 + 300 * np.sin(np.arange(300) / 3.0) + rng.normal(0, 40, 300)),
        ]
        for rr_ms in series:  # four fixed series
            ours = detect_artifacts(rr_ms)
            ref = _neurokit_classes(rr_ms)
            for field in CLASS_FIELDS:
                assert_array_equal(getattr(ours, field), ref[field], err_msg=field)

    def test_injected_events_detected_at_known_indices(self) -> None:
        clean = _synthetic_rr(20000, seed=10)
        rr_ms, where = _inject(clean, seed=10)
        classes = detect_artifacts(rr_ms)
        # Recall 100 % on isolated events (hrv-methods.md §10.4).
        assert np.all(np.isin(where["missed"], classes.missed_idx))
        assert np.all(np.isin(where["extra"], classes.extra_idx))
        # The short premature beat is long/short or ectopic; the compensatory long one is the
        # beat the S11/S12 rule calls ectopic.
        assert np.all(np.isin(where["ectopic"] + 1, classes.ectopic_idx))
        premature = np.union1d(classes.long_short_idx, classes.ectopic_idx)
        assert np.all(np.isin(where["ectopic"], premature))

    def test_clean_series_has_no_artifacts(self) -> None:
        assert detect_artifacts(_synthetic_rr(10000, seed=11, noise_ms=5.0)).n_artifacts == 0

    def test_hand_made_missed_and_extra(self) -> None:
        rr_ms = 800.0 + 20.0 * np.sin(np.arange(200) / 3.0)
        rr_ms[60] *= 2.0
        rr_ms[120:122] = [0.4 * rr_ms[120], 0.6 * rr_ms[120]]
        classes = detect_artifacts(rr_ms)
        assert classes.missed_idx.tolist() == [60]
        assert classes.extra_idx.tolist() == [120]

    def test_result_arrays_sorted_intp_disjoint_read_only(self) -> None:
        rr_ms, _ = _inject(_synthetic_rr(5000, seed=12), seed=12, fraction=0.03, spacing=5)
        classes = detect_artifacts(rr_ms)
        all_idx = np.concatenate([getattr(classes, f) for f in CLASS_FIELDS])
        assert np.unique(all_idx).size == all_idx.size == classes.n_artifacts
        for field in CLASS_FIELDS:
            arr = getattr(classes, field)
            assert arr.dtype == np.intp
            assert np.all(np.diff(arr) > 0)
            with pytest.raises(ValueError, match="read-only"):
                arr[...] = 0
        assert classes.n_beats == rr_ms.size
        assert classes.n_artifacts == (
            classes.n_ectopic + classes.n_long_short + classes.n_missed + classes.n_extra
        )

    @pytest.mark.parametrize("rr_ms", [[], [800.0], [800.0, 1600.0]])
    def test_short_input_gives_empty_classes(self, rr_ms: list[float]) -> None:
        classes = detect_artifacts(rr_ms)
        assert classes.n_artifacts == 0 and classes.n_beats == len(rr_ms)

    def test_input_not_mutated(self) -> None:
        rr_ms, _ = _inject(_synthetic_rr(500, seed=13), seed=13, fraction=0.05, spacing=5)
        before = rr_ms.copy()
        rr_ms.flags.writeable = False
        detect_artifacts(rr_ms)
        assert_array_equal(rr_ms, before)

    @pytest.mark.parametrize("bad", [[800.0, np.nan, 810.0], [800.0, np.inf], [[800.0, 810.0]]])
    def test_non_finite_or_2d_raises(self, bad: npt.ArrayLike) -> None:
        with pytest.raises(SignalInputError):
            detect_artifacts(bad)

    @settings(max_examples=60, deadline=None)
    @given(rr_ms=rr_arrays)
    def test_indices_valid_for_any_input(self, rr_ms: np.ndarray) -> None:
        classes = detect_artifacts(rr_ms)
        all_idx = np.concatenate([getattr(classes, f) for f in CLASS_FIELDS])
        assert np.unique(all_idx).size == all_idx.size
        if all_idx.size:
            assert all_idx.min() >= 0 and all_idx.max() <= rr_ms.size - 2


# --------------------------------------------------------------------------------------------
class TestCorrectRR:
    @pytest.mark.parametrize("seed", [0, 1])
    def test_rmssd_within_5_percent_on_100k_beats_with_1_percent_artifacts(self, seed: int) -> None:
        clean = _synthetic_rr(100_000, seed)
        rr_ms, where = _inject(clean, seed)
        assert _rmssd_ms(rr_ms) > 2.5 * _rmssd_ms(clean)  # the artifacts matter
        t0 = time.perf_counter()
        result = correct_rr(rr_ms)
        elapsed_s = time.perf_counter() - t0
        assert_allclose(_rmssd_ms(result.nn_ms), _rmssd_ms(clean), rtol=0.05)
        assert_allclose(np.std(result.nn_ms), np.std(clean), rtol=0.02)
        assert result.n_missed >= where["missed"].size
        assert result.n_extra >= where["extra"].size
        assert result.n_passes >= 2
        # Only catches an accidental per-beat Python loop; ≈ 0.1–0.15 s measured (2 cores).
        assert elapsed_s < 2.0

    def test_clean_series_unchanged(self) -> None:
        clean = _synthetic_rr(10000, seed=20, noise_ms=5.0)
        result = correct_rr(clean)
        assert_array_equal(result.nn_ms, clean)
        assert not result.corrected_mask.any()
        assert result.corrected_pct == 0.0 and result.n_passes == 0

    @pytest.mark.parametrize("kind", ["missed", "extra"])
    def test_missed_and_extra_restore_count_and_duration(self, kind: str) -> None:
        clean = _synthetic_rr(5000, seed=21)
        rng = np.random.default_rng(21)
        starts = np.sort(rng.choice(np.arange(50, 4950, 50), 40, replace=False))
        pieces, i0 = [], 0
        for p in starts.tolist():  # 40 events of one kind
            pieces.append(clean[i0:p])
            if kind == "missed":
                pieces.append(np.array([clean[p] + clean[p + 1]]))
                i0 = p + 2
            else:
                pieces.append(np.array([0.45 * clean[p], 0.55 * clean[p]]))
                i0 = p + 1
        pieces.append(clean[i0:])
        rr_ms = np.concatenate(pieces)
        n_events = starts.size
        result = correct_rr(rr_ms)
        assert result.nn_ms.size == clean.size
        assert getattr(result, f"n_{kind}") == n_events
        assert abs(result.nn_ms.sum() - rr_ms.sum()) < clean.max()
        assert_allclose(_rmssd_ms(result.nn_ms), _rmssd_ms(clean), rtol=0.05)

    def test_corrected_pct_and_mask(self) -> None:
        rr_ms, _ = _inject(_synthetic_rr(3000, seed=22), seed=22, fraction=0.02)
        result = correct_rr(rr_ms)
        assert result.corrected_mask.shape == result.nn_ms.shape
        assert_array_equal(result.labels != artifacts.LABEL_NORMAL, result.corrected_mask)
        assert result.corrected_mask.dtype == np.bool_
        assert_allclose(
            result.corrected_pct,
            100.0 * result.corrected_mask.sum() / result.nn_ms.size,
            rtol=1e-15,
        )
        assert result.n_input_beats == rr_ms.size
        # Unflagged values are bit-identical to input values (no cumsum round trip).
        assert np.all(np.isin(result.nn_ms[~result.corrected_mask], rr_ms))

    def test_outputs_read_only_and_input_untouched(self) -> None:
        rr_ms, _ = _inject(_synthetic_rr(2000, seed=23), seed=23, fraction=0.02)
        before = rr_ms.copy()
        rr_ms.flags.writeable = False
        result = correct_rr(rr_ms)
        assert_array_equal(rr_ms, before)
        for arr in (result.nn_ms, result.corrected_mask):
            with pytest.raises(ValueError, match="read-only"):
                arr[0] = arr[1]

    def test_gate_interpolates_out_of_range_values(self) -> None:
        rr_ms = _synthetic_rr(500, seed=24, noise_ms=3.0)
        # 200 ms + a neighbour is > 20 % above the median: not an extra beat's fragment.
        rr_ms[[100, 300]] = [200.0, RR_MAX_MS + 1000.0]
        result = correct_rr(rr_ms)
        assert result.n_gated == 2 and result.nn_ms.size == rr_ms.size
        assert result.corrected_mask[[100, 300]].all()
        assert np.all((result.nn_ms >= RR_MIN_MS) & (result.nn_ms <= RR_MAX_MS))
        assert_allclose(result.nn_ms[[100, 300]], rr_ms[[99, 299]], rtol=0.1)
        assert correct_rr(rr_ms, gate=False).n_gated == 0

    @pytest.mark.parametrize("first_fraction", [0.2, 0.8])
    def test_gate_merges_too_short_fragment_of_extra_beat(self, first_fraction: float) -> None:
        clean = _synthetic_rr(500, seed=27)
        rr_ms = np.concatenate(
            (clean[:200], [first_fraction * clean[200], (1 - first_fraction) * clean[200]])
        )
        rr_ms = np.concatenate((rr_ms, clean[201:]))
        result = correct_rr(rr_ms)
        assert result.n_gated == 1 and result.n_extra == 1
        assert result.nn_ms.size == clean.size
        assert_allclose(result.nn_ms[200], clean[200], rtol=1e-12)
        assert result.corrected_mask[200] and result.corrected_mask.sum() == 1

    def test_all_values_out_of_range_are_clipped_not_nan(self) -> None:
        result = correct_rr([100.0, 120.0, 5000.0])
        assert result.n_gated == 3 and result.corrected_pct == 100.0
        assert_array_equal(result.nn_ms, [RR_MIN_MS, RR_MIN_MS, RR_MAX_MS])

    def test_single_pass_option(self) -> None:
        rr_ms, _ = _inject(_synthetic_rr(5000, seed=25), seed=25, fraction=0.02)
        single = correct_rr(rr_ms, iterative=False)
        iterated = correct_rr(rr_ms)
        assert single.n_passes == 1 and iterated.n_passes >= single.n_passes

    @pytest.mark.parametrize(("rr_ms", "expected"), [([], []), ([800.0], [800.0])])
    def test_empty_and_single_beat(self, rr_ms: list[float], expected: list[float]) -> None:
        result = correct_rr(rr_ms)
        assert_array_equal(result.nn_ms, expected)
        assert result.corrected_pct == 0.0 and result.n_input_beats == len(rr_ms)

    def test_non_finite_raises(self) -> None:
        with pytest.raises(SignalInputError):
            correct_rr([800.0, np.nan, 810.0])

    def test_incremental_statistics_equal_full_recompute(self) -> None:
        # Passes ≥ 2 reuse rolling statistics away from the changes; they must be bit-identical
        # to recomputing everything (private helpers; the optimisation is invisible otherwise).
        rr_ms, _ = _inject(_synthetic_rr(6000, seed=26), seed=26, fraction=0.03, spacing=5)
        nn = rr_ms.copy()
        mask = np.zeros(nn.size, dtype=bool)
        labels = np.zeros(nn.size, dtype=np.int8)
        prev, changed = None, None
        for _ in range(4):  # a few passes
            rr_s = detection.with_placeholder(nn)
            drrs = detection.raw_drrs(rr_s)
            st_inc = detection.rolling_stats(rr_s, drrs, prev, changed)
            st_full = detection._stats_full(rr_s, drrs)
            for inc, full in zip(st_inc, st_full, strict=True):
                assert_array_equal(inc, full)
            c = detection.classes_ms(detection.classify(rr_s, drrs, st_inc))
            step = correction._apply_pass(nn, mask, labels, c)
            nn, mask, labels = step.nn_ms, step.corrected_mask, step.labels
            prev = correction._move_stats(st_inc, step.new_pos, nn.size)
            changed = np.concatenate(([True], step.changed))
            changed[1] = True

    @pytest.mark.parametrize("n", [1, 2, 11, 12, 91, 92, 1500])
    @pytest.mark.parametrize("half", [5, 45])
    def test_rolling_statistics_equal_pandas_and_scipy(self, n: int, half: int) -> None:
        # numpy's sorted windows replaced scipy.ndimage's rank filters (issue 9: its import cost
        # more than the filters); the values must stay the exact order statistics, ties included.
        pd = pytest.importorskip("pandas")
        ndimage = pytest.importorskip("scipy.ndimage")
        rng = np.random.default_rng(n + half)
        # (annotated: numpy 2.4's stubs type np.round of np.abs's result as float16)
        x: np.ndarray = np.round(np.abs(rng.normal(0.0, 0.05, n)), 3)  # 1-ms steps: many ties
        rolling = pd.Series(x).rolling(2 * half + 1, center=True, min_periods=1)
        q = kernels.rolling_quantiles(x, half, kernels.QUARTILES)
        assert_array_equal(q[0], rolling.quantile(0.25).to_numpy())
        assert_array_equal(q[1], rolling.quantile(0.75).to_numpy())
        assert_array_equal(kernels.rolling_median(x, half), rolling.median().to_numpy())
        nearest = ndimage.median_filter(x, size=2 * half + 1, mode="nearest")
        assert_array_equal(kernels.median_nearest_at(x, half, np.arange(n)), nearest)

    def test_labels_mark_one_value_per_corrected_event(self) -> None:
        rr = np.full(200, 800.0) + 5.0 * np.sin(np.arange(200))
        rr[50] = 1600.0  # missed beat
        rr[100], rr[101] = 560.0, 1040.0  # ectopic + compensatory pause
        rr = np.concatenate((rr[:150], [300.0, 500.0], rr[151:]))  # extra beat splits 800
        result = correct_rr(rr)
        labels = result.labels
        assert labels.shape == result.nn_ms.shape
        assert np.count_nonzero(labels == artifacts.LABEL_MISSED) == 1
        assert np.count_nonzero(labels == artifacts.LABEL_MISSED_SECOND) == 1
        assert np.count_nonzero(labels == artifacts.LABEL_EXTRA) == 1
        assert np.count_nonzero(labels == artifacts.LABEL_ECTOPIC) >= 1
        # every labelled value is a corrected one and vice versa
        assert_array_equal(labels != artifacts.LABEL_NORMAL, result.corrected_mask)

    @settings(max_examples=60, deadline=None)
    @given(rr_ms=rr_arrays)
    def test_never_raises_and_output_finite(self, rr_ms: np.ndarray) -> None:
        result = correct_rr(rr_ms)
        assert np.all(np.isfinite(result.nn_ms)) and np.all(result.nn_ms > 0)
        assert result.corrected_mask.shape == result.nn_ms.shape
        assert 0.0 <= result.corrected_pct <= 100.0
        assert result.n_gated == 0
        # The length changes only through splits (missed) and merges (extra).
        assert abs(result.nn_ms.size - rr_ms.size) <= result.n_missed + result.n_extra


# --------------------------------------------------------------------------------------------
class TestCausalArtifactCorrector:
    def test_clean_series_changes_nothing(self) -> None:
        clean = _synthetic_rr(5000, seed=30, noise_ms=5.0)
        corrector, out, _ = _run_causal(clean)
        assert_array_equal([b.nn_ms for b in out], clean)
        assert not any(b.corrected for b in out)
        counts = (corrector.n_ectopic, corrector.n_long_short, corrector.n_missed)
        assert counts == (0, 0, 0) and (corrector.n_extra, corrector.n_gated) == (0, 0)

    def test_decisions_are_two_beats_late(self) -> None:
        clean = _synthetic_rr(300, seed=31, noise_ms=5.0)
        corrector = CausalArtifactCorrector()
        assert corrector.push(clean[0]) == () and corrector.push(clean[1]) == ()
        for k in range(2, clean.size):  # checks each push
            assert corrector.push(clean[k]) == (FinalNN(clean[k - 2], False),)
        assert corrector.flush() == (FinalNN(clean[-2], False), FinalNN(clean[-1], False))
        assert corrector.n_final == clean.size and corrector.flush() == ()

    @pytest.mark.parametrize("seed", [32, 33])
    def test_injected_artifacts_caught_and_rmssd_restored(self, seed: int) -> None:
        clean = _synthetic_rr(30000, seed)
        rr_ms, where = _inject(clean, seed)
        corrector, out, flagged = _run_causal(rr_ms)
        for kind, idx in where.items():
            assert flagged[idx].mean() >= 0.95, kind
        nn_ms = np.array([b.nn_ms for b in out])
        assert_allclose(_rmssd_ms(nn_ms), _rmssd_ms(clean), rtol=0.10)
        assert corrector.n_missed >= 0.95 * where["missed"].size
        assert corrector.n_extra >= 0.95 * where["extra"].size

    def test_output_length_is_pushes_plus_missed_minus_extra(self) -> None:
        rr_ms, _ = _inject(_synthetic_rr(5000, seed=34), seed=34, fraction=0.03, spacing=5)
        corrector, out, _ = _run_causal(rr_ms)
        assert len(out) == corrector.n_final
        assert len(out) == rr_ms.size + corrector.n_missed - corrector.n_extra

    def test_missed_beat_gives_two_halves_and_extra_gives_one_merge(self) -> None:
        rr_ms = list(_synthetic_rr(150, seed=35, noise_ms=3.0))
        rr_ms[120:122] = [rr_ms[120] + rr_ms[121]]  # missed at 120
        rr_ms[60:61] = [0.4 * rr_ms[60], 0.6 * rr_ms[60]]  # extra at 60
        corrector = CausalArtifactCorrector()
        sizes = [len(corrector.push(v)) for v in rr_ms]
        # The extra at 60 (with 61) is decided on push 62 (one merged value), push 63 yields
        # nothing; the missed beat (now at 121) is decided on push 123 (two halves).
        assert sizes[62] == 1 and sizes[63] == 0 and sizes[123] == 2
        assert (corrector.n_missed, corrector.n_extra) == (1, 1)

    def test_gated_and_non_finite_values_are_replaced(self) -> None:
        rr_ms = _synthetic_rr(200, seed=36, noise_ms=3.0)
        rr_ms[[50, 100, 150]] = [200.0, 4000.0, np.nan]
        corrector, out, _ = _run_causal(rr_ms)
        values = np.array([b.nn_ms for b in out])
        assert corrector.n_gated == 3 and len(out) == 200
        assert np.all((values > 700) & (values < 1000))
        assert all(out[k].corrected for k in (50, 100, 150))

    @pytest.mark.parametrize("first_fraction", [0.2, 0.8])
    def test_too_short_fragment_of_extra_beat_is_merged(self, first_fraction: float) -> None:
        clean = _synthetic_rr(300, seed=38)
        rr_ms = np.concatenate(
            (clean[:150], [first_fraction * clean[150], (1 - first_fraction) * clean[150]])
        )
        rr_ms = np.concatenate((rr_ms, clean[151:]))
        corrector, out, _ = _run_causal(rr_ms)
        assert (corrector.n_gated, corrector.n_extra) == (1, 1)
        assert_allclose([b.nn_ms for b in out], clean, rtol=1e-12)
        assert [k for k, b in enumerate(out) if b.corrected] == [150]

    def test_stream_of_garbage_never_raises(self) -> None:
        corrector = CausalArtifactCorrector()
        out: list[FinalNN] = []
        for v in (float("nan"), float("inf"), -5.0, 0.0, 1e9):
            out.extend(corrector.push(v))
        out.extend(corrector.flush())
        assert corrector.n_gated == 5 and len(out) == 5
        # With nothing valid ever seen, finite values are clipped and NaN stays NaN.
        assert np.isnan(out[0].nn_ms)
        assert all(RR_MIN_MS <= b.nn_ms <= RR_MAX_MS for b in out[1:])

    def test_warm_up_uses_malik_floor(self) -> None:
        # Within the first 91 beats the QD thresholds are not trusted: a 30 % premature beat is
        # caught by the floor, ordinary variability is not touched.
        clean = _synthetic_rr(60, seed=37, noise_ms=5.0)
        rr_ms = clean.copy()
        rr_ms[30], rr_ms[31] = 0.7 * clean[30], clean[31] + 0.3 * clean[30]
        _, out, flagged = _run_causal(rr_ms)
        assert flagged[30] and flagged[31] and flagged.sum() == 2
        assert_allclose([b.nn_ms for b in out][30], clean[30], rtol=0.05)

    @settings(max_examples=60, deadline=None)
    @given(rr_ms=rr_arrays)
    def test_any_input_gives_finite_output_of_expected_length(self, rr_ms: np.ndarray) -> None:
        corrector, out, _ = _run_causal(rr_ms)
        assert len(out) == rr_ms.size + corrector.n_missed - corrector.n_extra
        assert all(np.isfinite(b.nn_ms) and b.nn_ms > 0 for b in out)

    @settings(max_examples=60, deadline=None)
    @given(
        values=st.lists(
            st.one_of(
                st.floats(allow_nan=True, allow_infinity=True),
                st.floats(300.0, 2000.0),
            ),
            max_size=150,
        )
    )
    def test_push_never_raises_on_garbage(self, values: list[float]) -> None:
        corrector = CausalArtifactCorrector()
        out = [b for v in values for b in corrector.push(v)]
        out.extend(corrector.flush())
        assert len(out) == len(values) + corrector.n_missed - corrector.n_extra
        nn_ms = np.array([b.nn_ms for b in out])
        finite = np.isfinite(nn_ms)
        assert np.all(nn_ms[finite] > 0)
        # NaN comes out only for a NaN that arrived before anything valid.
        assert np.count_nonzero(~finite) <= sum(v != v for v in values)
