"""Unit tests for pet_biofeedback.session.frame_samples: compact buffers, time-ordered windows."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from pet_biofeedback.session.frame_samples import FrameSamples


def _reference(
    frames: list[tuple[float, float, list[float] | list[tuple[float, float, float]]]],
) -> tuple[np.ndarray, np.ndarray]:
    """What analysis did before issue 6: every sample's time, one stable sort, repeats dropped."""
    t_last = np.array([f[0] for f in frames])
    fs = np.array([f[1] for f in frames])
    n = np.array([len(f[2]) for f in frames], dtype=np.int64)
    frame_idx = np.repeat(np.arange(n.size), n)
    within = np.arange(frame_idx.size) - np.repeat(np.cumsum(n) - n, n)
    t_s = t_last[frame_idx] - (n[frame_idx] - 1 - within) / fs[frame_idx]
    values = np.concatenate([np.asarray(f[2], dtype=np.float64) for f in frames])
    order = np.argsort(t_s, kind="stable")
    t_sorted = t_s[order]
    keep = np.concatenate(([True], np.diff(t_sorted) > 0))
    return t_sorted[keep], values[order][keep]


def _jittered_frames(
    n_frames: int, fs_hz: float, per_frame: int, n_channels: int, seed: int
) -> list[tuple[float, float, list[float] | list[tuple[float, float, float]]]]:
    """Frames stamped on arrival with up to 3 sample intervals of jitter (overlapping), 2 %
    sent twice, a few out of file order, whole-number values as an H10 sends."""
    rng = np.random.default_rng(seed)
    frames: list[tuple[float, float, list[float] | list[tuple[float, float, float]]]] = []
    for k in range(n_frames):
        t = 7.0 + (k + 1) * per_frame / fs_hz + float(rng.uniform(0.0, 3.0 / fs_hz))
        raw = rng.integers(-2000, 2000, size=(per_frame, n_channels)).astype(float)
        values: list[float] | list[tuple[float, float, float]] = (
            raw[:, 0].tolist() if n_channels == 1 else [(x, y, z) for x, y, z in raw.tolist()]
        )
        frames.append((t, fs_hz, values))
        if rng.random() < 0.02:
            frames.append((t, fs_hz, values))
    for k in range(5, len(frames) - 5, 97):  # swap neighbours: file order ≠ time order
        frames[k], frames[k + 1] = frames[k + 1], frames[k]
    return frames


class TestFrameSamples:
    @pytest.mark.parametrize("window_s", [300.0, 10.0, 0.37])
    @pytest.mark.parametrize(("n_channels", "fs_hz", "per_frame"), [(1, 130.0, 73), (3, 200.0, 36)])
    def test_windows_equal_one_sort_of_the_whole_recording(
        self, window_s: float, n_channels: int, fs_hz: float, per_frame: int
    ) -> None:
        frames = _jittered_frames(600, fs_hz, per_frame, n_channels, seed=n_channels)
        buffer = FrameSamples(n_channels)
        for t, fs, frame_values in frames:
            buffer.append(t, fs, frame_values)
        pieces = list(buffer.windows(window_s))
        t_s = np.concatenate([p[0] for p in pieces])
        values = np.concatenate([p[1] for p in pieces])
        ref_t, ref_values = _reference(frames)
        assert_array_equal(t_s, ref_t)
        assert_array_equal(values, ref_values)  # whole numbers: float32 holds them exactly
        assert values.dtype == np.float32
        assert buffer.n_frames == len(frames)
        assert buffer.n_samples == sum(len(f[2]) for f in frames)

    def test_repeated_time_keeps_the_earliest_frame_in_the_file(self) -> None:
        buffer = FrameSamples(1)
        buffer.append(10.0, 100.0, [1.0, 2.0, 3.0])
        buffer.append(10.0, 100.0, [7.0, 8.0, 9.0])  # the same times, other values
        ((t_s, values),) = list(buffer.windows())
        assert_array_equal(values, [1.0, 2.0, 3.0])
        assert_array_equal(t_s, [9.98, 9.99, 10.0])

    def test_frames_with_an_unusable_rate_are_skipped_and_counted(self) -> None:
        buffer = FrameSamples(3)
        buffer.append(1.0, 0.0, [(1.0, 2.0, 3.0)])
        buffer.append(2.0, float("nan"), [(1.0, 2.0, 3.0)])
        buffer.append(3.0, 50.0, [(1.0, 2.0, 3.0), (4.0, 5.0, 6.0)])
        assert buffer.n_skipped_frames == 2
        assert buffer.n_frames == 1
        ((t_s, values),) = list(buffer.windows())
        assert_array_equal(t_s, [2.98, 3.0])
        assert_array_equal(values, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])

    def test_empty_frames_and_no_frames(self) -> None:
        buffer = FrameSamples(1)
        assert list(buffer.windows()) == []
        buffer.append(1.0, 130.0, [])
        assert buffer.n_frames == 0
        assert list(buffer.windows()) == []

    def test_values_take_four_bytes(self) -> None:
        buffer = FrameSamples(3)
        for k in range(100):
            buffer.append(float(k), 200.0, [(1000.0, -3.0, 12.0)] * 36)
        ((_, values),) = list(buffer.windows(1e6))
        assert values.nbytes == 100 * 36 * 3 * 4

    def test_a_long_pause_gives_no_run_of_empty_windows(self) -> None:
        buffer = FrameSamples(1)
        buffer.append(10.0, 100.0, [1.0, 2.0])
        buffer.append(1e7, 100.0, [3.0, 4.0])  # 116 days later
        pieces = list(buffer.windows(0.001))
        # Four windows, not 10 billion: the one after 2.0 stretches to the next frame.
        assert [p[1].tolist() for p in pieces] == [[1.0], [2.0, 3.0], [4.0]]

    @pytest.mark.parametrize("window_s", [0.0, -1.0, float("nan")])
    def test_bad_window_length_raises(self, window_s: float) -> None:
        with pytest.raises(ValueError, match="window_s"):
            list(FrameSamples(1).windows(window_s))
