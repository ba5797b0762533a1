"""ReplayController: a file through the engine with pause, speed and seek — no Qt."""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
import pytest

from pet_biofeedback.errors import ConfigError, PetBiofeedbackError
from pet_biofeedback.events import RRIntervals
from pet_biofeedback.paths import data_dir
from pet_biofeedback.recording import RecordingWriter
from pet_biofeedback.session.feedback import FeedbackSnapshot
from pet_biofeedback.session.replay_control import (
    WARM_UP_S,
    ReplayController,
    ReplayState,
    scan_replay,
)
from tests.unit.session.replay_helpers import record_practice, write_rr_text
from tests.unit.session.test_sources import write_xdf

TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("replay") / "practice.jsonl.gz"
    return asyncio.run(record_practice(path, minutes=4.0))


class Watcher:
    """What a view would see: the snapshots and the states."""

    def __init__(self, controller: ReplayController) -> None:
        self.snapshots: list[FeedbackSnapshot] = []
        self.states: list[ReplayState] = []
        self._changed = asyncio.Event()
        controller.subscribe(self._snapshot)
        controller.on_state(self._state)

    def _snapshot(self, snapshot: FeedbackSnapshot) -> None:
        self.snapshots.append(snapshot)
        self._changed.set()

    def _state(self, state: ReplayState) -> None:
        self.states.append(state)
        self._changed.set()

    async def until(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(TIMEOUT_S):
            while not condition():
                self._changed.clear()
                await self._changed.wait()


def footprint(path: Path) -> tuple[int, list[Path]]:
    """The file's modification time and everything in the data folder."""
    return path.stat().st_mtime_ns, sorted(data_dir().rglob("*"))


async def finished(controller: ReplayController, task: Awaitable[None]) -> None:
    controller.close()
    async with asyncio.timeout(TIMEOUT_S):
        await task


class TestScan:
    def test_a_recording_gives_its_span_and_pacer(self, practice: Path) -> None:
        info, events = scan_replay(practice)
        assert events is None  # recordings are streamed, not held
        assert info.kind == "recording"
        assert 235.0 < info.duration_s <= 241.0
        assert info.pacer_phases and info.pacer_phases[0].breaths_per_min == 6.0

    def test_a_corrupt_file_is_a_plain_error(self, tmp_path: Path) -> None:
        bad = tmp_path / "broken.jsonl.gz"
        bad.write_bytes(os.urandom(2000))
        with pytest.raises(PetBiofeedbackError) as info:
            scan_replay(bad)
        assert "broken.jsonl.gz" in info.value.user_message


class TestPlay:
    async def test_max_speed_plays_everything_and_writes_nothing(self, practice: Path) -> None:
        before = footprint(practice)
        controller = ReplayController(practice, speed=math.inf)
        seen = Watcher(controller)
        task = asyncio.ensure_future(controller.run())
        await seen.until(lambda: controller.state == "ended")
        assert seen.snapshots and seen.snapshots[-1].t_s > 230.0
        times = [s.t_s for s in seen.snapshots]
        assert times == sorted(times)
        assert controller.position_s() == pytest.approx(controller.duration_s)
        assert controller.pacer_state() is not None  # the recorded pacer is re-created
        await finished(controller, task)
        assert footprint(practice) == before

    async def test_seek_to_half_shows_the_later_part_with_its_past(self, practice: Path) -> None:
        full = ReplayController(practice, speed=math.inf)
        everything = Watcher(full)
        task = asyncio.ensure_future(full.run())
        await everything.until(lambda: full.state == "ended")
        await finished(full, task)

        controller = ReplayController(practice, speed=math.inf)
        info = await controller.open()
        half_s = info.duration_s / 2
        controller.pause()
        seen = Watcher(controller)
        task = asyncio.ensure_future(controller.run())
        controller.seek(half_s)
        await seen.until(lambda: seen.states.count("paused") >= 2)
        assert seen.snapshots == []  # paused at the target: the warm-up was not shown
        trace = controller.trace()
        assert trace is not None
        target_t = info.t_first_s + half_s
        assert trace.t_end_s == pytest.approx(target_t, abs=1.0)
        assert trace.t_s.min() < target_t - 80.0  # the curve has the 90 s before the target
        controller.resume()
        await seen.until(lambda: controller.state == "ended")
        assert seen.snapshots[0].t_s >= target_t
        # after the warm-up the engine shows what it showed when playing from the start
        same = {s.t_s: s for s in everything.snapshots}
        for shown in seen.snapshots[:20]:
            assert shown.hr_bpm == pytest.approx(same[shown.t_s].hr_bpm)
            assert shown.coherence == pytest.approx(same[shown.t_s].coherence, rel=1e-6)
        # a jump while playing starts a new segment from its warm-up
        controller.seek(10.0)
        await seen.until(lambda: seen.snapshots[-1].t_s < target_t)
        assert controller.n_segments == 2
        await finished(controller, task)

    async def test_pause_stops_events_and_resume_goes_on(self, practice: Path) -> None:
        controller = ReplayController(practice, speed=16.0)
        seen = Watcher(controller)
        task = asyncio.ensure_future(controller.run())
        await seen.until(lambda: len(seen.snapshots) >= 5)
        controller.pause()
        await asyncio.sleep(0.15)  # what was under way arrives
        n, position = len(seen.snapshots), controller.position_s()
        await asyncio.sleep(0.6)  # ~10 s of file time at ×16
        assert len(seen.snapshots) == n
        assert controller.position_s() == position
        controller.resume()
        await seen.until(lambda: len(seen.snapshots) > n + 3)
        await finished(controller, task)

    async def test_speed_change_changes_the_pace_not_the_position(self, practice: Path) -> None:
        controller = ReplayController(practice, speed=1.0)
        seen = Watcher(controller)
        task = asyncio.ensure_future(controller.run())
        await seen.until(lambda: len(seen.snapshots) >= 1)
        start = controller.position_s()
        await asyncio.sleep(0.5)
        slow = controller.position_s() - start
        controller.set_speed(16.0)
        assert controller.position_s() - start == pytest.approx(slow, abs=0.2)  # no jump
        start = controller.position_s()
        await asyncio.sleep(0.5)
        fast = controller.position_s() - start
        assert slow < 1.0 and fast > 4.0
        with pytest.raises(ConfigError):
            controller.set_speed(0.0)
        await finished(controller, task)

    async def test_a_file_longer_than_one_engine_session_plays_to_its_end(
        self, tmp_path: Path
    ) -> None:
        rr = write_rr_text(tmp_path / "long.txt", minutes=65.0)
        controller = ReplayController(rr, speed=math.inf, warm_up_s=WARM_UP_S)
        seen = Watcher(controller)
        task = asyncio.ensure_future(controller.run())
        await seen.until(lambda: controller.state in ("ended", "failed"))
        assert controller.state == "ended"
        assert seen.snapshots[-1].t_s > 64.5 * 60
        assert controller.n_segments == 2
        times = [s.t_s for s in seen.snapshots]
        assert times == sorted(times)
        await finished(controller, task)

    async def test_a_damaged_interval_fails_the_replay_with_its_message(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "damaged.jsonl"
        with RecordingWriter(path, device={}, settings={}, app_version="test") as writer:
            for k in range(30):
                writer.write(RRIntervals(float(k), (1000.0,)))
            writer.write(RRIntervals(30.0, (-5.0,)))  # written by a broken tool
        controller = ReplayController(path, speed=math.inf)
        seen = Watcher(controller)
        async with asyncio.timeout(TIMEOUT_S):
            await controller.run()  # returns: the view shows the message and carries on
        assert seen.states[-1] == "failed" and controller.error is not None
        assert "damaged.jsonl" in controller.error.user_message
        assert "negative" in controller.error.user_message or "-5" in controller.error.user_message

    async def test_an_unreadable_file_fails_on_opening(self, tmp_path: Path) -> None:
        rr = tmp_path / "bad.txt"
        rr.write_text("900\n" * 100 + "0\n", encoding="utf-8")
        controller = ReplayController(rr, speed=math.inf)
        with pytest.raises(PetBiofeedbackError) as info:
            async with asyncio.timeout(TIMEOUT_S):
                await controller.run()
        assert controller.state == "failed" and controller.error is info.value
        assert "bad.txt" in info.value.user_message


class TestOtherFiles:
    async def test_an_xdf_file_plays_to_its_end(self, tmp_path: Path) -> None:
        ecg_t = 100.0 + np.arange(130 * 20) / 130.0
        ecg = np.round(300 * np.sin(2 * np.pi * ecg_t))[:, None]
        path = write_xdf(
            tmp_path / "h10.xdf", [("H10 ECG", "ECG", 130, ecg_t.tolist(), ecg.tolist())]
        )
        controller = ReplayController(path, speed=math.inf)
        seen = Watcher(controller)
        task = asyncio.ensure_future(controller.run())
        await seen.until(lambda: controller.state in ("ended", "failed"))
        assert controller.state == "ended", controller.error
        assert controller.info is not None and controller.info.kind == "xdf"
        assert controller.position_s() == pytest.approx(controller.duration_s)
        assert 19.0 < controller.duration_s < 21.0
        await finished(controller, task)
