"""Beat times and lost beats found from time (`firmware_bridge.beat_clock`, issue 6)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pet_biofeedback.errors import ConfigError
from pet_biofeedback.firmware_bridge import beat_clock
from pet_biofeedback.firmware_bridge.beat_clock import (
    RR_DRIFT_WINDOW_PACKETS,
    RrBeatClock,
    lost_beats_gap,
)


class TestRrBeatClock:
    def test_first_packet_anchors_to_arrival_then_beats_follow_the_rr_sum(self) -> None:
        clock = RrBeatClock()
        assert clock.last_beat_t(10.0, (1000.0,)) == 10.0
        assert clock.last_beat_t(11.02, (900.0,)) == pytest.approx(10.9)
        assert clock.last_beat_t(12.01, (600.0, 500.0)) == pytest.approx(12.0)
        assert clock.n_reanchors == 0 and clock.n_gaps == 0

    def test_a_beat_is_never_later_than_its_packet(self) -> None:
        clock = RrBeatClock()
        clock.last_beat_t(10.0, (1000.0,))
        placed = clock.place(10.5, (1000.0,))  # sum says 11.0: re-anchored
        assert placed.t == 10.5 and placed.gap is None
        assert clock.n_reanchors == 1

    def test_a_lag_within_one_notification_and_jitter_is_no_gap(self) -> None:
        clock = RrBeatClock()
        clock.place(0.0, (1000.0,))
        placed = clock.place(2.3, (1000.0,))  # lag 1.3 s < 1.0 + 0.35 + 0.05 × 2.3
        assert placed.gap is None and placed.t == pytest.approx(1.0)

    def test_a_two_and_a_half_second_stall_is_a_gap(self) -> None:
        # Issue 6: a stall shorter than the 5-s watchdog lost beats without a trace.
        clock = RrBeatClock()
        for i in range(5):
            clock.place(float(i), (1000.0,))
        placed = clock.place(7.5, (1000.0,))  # beats at 5, 6 (and 6.5) never arrived
        assert placed.gap is not None
        assert placed.t == 7.5  # re-anchored to the arrival
        assert placed.gap.t == pytest.approx(6.5)  # where this packet's interval starts
        assert placed.gap.seconds == pytest.approx(2.5)
        assert placed.gap.reason == "beats lost: RR intervals cover 1.0 s of 3.5 s"
        assert clock.n_gaps == 1

    def test_reset_starts_a_new_chain_without_a_gap(self) -> None:
        clock = RrBeatClock()
        clock.place(0.0, (1000.0,))
        clock.reset()
        placed = clock.place(30.0, (800.0,))
        assert placed == beat_clock.BeatPlacement(30.0, None)
        assert clock.n_reanchors == 0

    def test_a_slow_strap_clock_never_adds_up_to_a_false_gap(self) -> None:
        # The strap's second is 1 % short of the host's: 36 s behind after an hour.
        clock = RrBeatClock()
        gaps = [clock.place(i * 1.0, (990.0,)).gap for i in range(3600)]
        assert gaps.count(None) == 3600
        lag_s = 3599.0 - clock.last_beat_t(3600.0, (990.0,)) + 1.0
        assert lag_s < 0.01 * RR_DRIFT_WINDOW_PACKETS + 0.1

    def test_check_keeps_the_recorded_time_and_finds_the_gap(self) -> None:
        clock = RrBeatClock()
        assert clock.check(1.0, (1000.0,)) is None
        assert clock.check(2.0, (1000.0,)) is None
        gap = clock.check(6.0, (1000.0,))
        assert gap is not None and gap.seconds == pytest.approx(3.0)
        assert clock.check(7.0, (1000.0,)) is None  # continues from the recorded 6.0

    @pytest.mark.parametrize("kwargs", [{"latency_s": -1}, {"fraction": float("nan")}])
    def test_rejects_a_bad_tolerance(self, kwargs: dict[str, float]) -> None:
        with pytest.raises(ConfigError):
            RrBeatClock(**kwargs)


def test_lost_beats_gap_is_none_when_the_intervals_fill_the_time() -> None:
    assert lost_beats_gap(0.0, 1.0, (1000.0,)) is None
    assert lost_beats_gap(0.0, 10.0, (1000.0,)) is not None


def test_the_module_imports_no_bluetooth() -> None:
    # Replay imports it directly; bleak is for ble.py only (design.md §2).
    tree = ast.parse(Path(beat_clock.__file__).read_text(encoding="utf-8"))
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any("bleak" in name or name.endswith(".ble") for name in imported)
