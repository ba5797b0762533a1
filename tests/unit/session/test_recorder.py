"""Tests for pet_biofeedback.session.recorder: any source to a crash-safe recording."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

import pytest

from pet_biofeedback.errors import ConfigError, DeviceError, RecordingFileError
from pet_biofeedback.events import (
    Battery,
    Contact,
    Event,
    Gap,
    HeartRate,
    Link,
    LinkState,
    Marker,
    RawNotification,
    RRIntervals,
)
from pet_biofeedback.firmware_bridge.replay import ReplaySource
from pet_biofeedback.firmware_bridge.sim_config import SimConfig
from pet_biofeedback.firmware_bridge.simulated import SimulatedStrap
from pet_biofeedback.recording import RecordingWriter, read_recording
from pet_biofeedback.session.recorder import (
    MAX_PENDING_EVENTS,
    RR_SILENCE_GAP_S,
    WAKE_WRITER_EVENTS,
    SessionStats,
    record,
)

TIMEOUT_S = 30.0


class FakeSource:
    """Yields the given events, then either ends or waits (forever, or until ``release``).

    ``fail_with`` is raised after the events instead. Records whether it was opened/closed.
    """

    def __init__(
        self,
        events: Sequence[Event],
        *,
        then_wait: bool = False,
        fail_with: BaseException | None = None,
        device_info: dict[str, object] | None = None,
    ) -> None:
        self.events = list(events)
        self.then_wait = then_wait
        self.fail_with = fail_with
        self.device_info = device_info or {}
        self.opened = self.closed = False
        self.all_yielded = asyncio.Event()
        self.release = asyncio.Event()

    async def __aenter__(self) -> Self:
        self.opened = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.closed = True

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    async def _events(self) -> AsyncIterator[Event]:
        for event in self.events:
            await asyncio.sleep(0)
            yield event
        self.all_yielded.set()
        if self.fail_with is not None:
            raise self.fail_with
        if self.then_wait:
            await self.release.wait()


def some_events(n: int = 50) -> list[Event]:
    events: list[Event] = [
        Link(0.0, LinkState.CONNECTED, "fake"),
        Battery(0.0, 77),
        RawNotification(0.5, "00002a37-0000-1000-8000-00805f9b34fb", b"\x10\x3c\x00\x04"),
    ]
    events += [RRIntervals(float(t), (1000.0,)) for t in range(1, n)]
    return events


async def sim_events(config: SimConfig) -> list[Event]:
    strap = SimulatedStrap(config, speed=math.inf)
    async with asyncio.timeout(TIMEOUT_S), strap:
        return [event async for event in strap]


class RacingSource:
    """Yields ``n`` markers, lets the loop run ``k`` times, then ends (a marker past
    ``seconds``) or, with ``then_wait``, waits to be cancelled.

    The ``k`` loop turns let the woken writer take a batch and hand it to its thread just
    before the recording stops: the race of issue "recorder loses whole batches".
    """

    def __init__(self, n: int, k: int, *, then_wait: bool = False) -> None:
        self.n, self.k, self.then_wait = n, k, then_wait
        self.all_yielded = asyncio.Event()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        pass

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    async def _events(self) -> AsyncIterator[Event]:
        for i in range(self.n):
            yield Marker(i * 1e-3, str(i))
        for _ in range(self.k):
            await asyncio.sleep(0)
        self.all_yielded.set()
        if self.then_wait:
            await asyncio.Event().wait()
        yield Marker(1e6, "after the end")  # t > seconds: stops the recording


class TestRecord:
    @pytest.mark.parametrize("trial", range(60))
    async def test_recorder_loses_no_batch_when_the_recording_stops(
        self, tmp_path: Path, trial: int
    ) -> None:
        n = WAKE_WRITER_EVENTS * (1 + trial % 3)
        k = 1 + trial % 6
        path = tmp_path / "r.jsonl"
        async with asyncio.timeout(TIMEOUT_S):
            summary = await record(RacingSource(n, k), path, device={}, settings={}, seconds=1e5)
        assert summary.n_events == n
        assert [e.t for e in read_recording(path).events] == [i * 1e-3 for i in range(n)]

    @pytest.mark.parametrize("trial", range(30))
    async def test_recorder_loses_no_batch_when_cancelled(self, tmp_path: Path, trial: int) -> None:
        # Ctrl-C: the same race, through cancellation instead of the end of the source.
        n = WAKE_WRITER_EVENTS * (1 + trial % 3)
        k = trial % 6
        path = tmp_path / "c.jsonl.gz"
        source = RacingSource(n, k, then_wait=True)
        async with asyncio.timeout(TIMEOUT_S):
            task = asyncio.create_task(record(source, path, device={}, settings={}))
            await source.all_yielded.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        rec = read_recording(path)
        assert len(rec.events) == n
        assert not rec.truncated

    async def test_writes_every_event_of_a_simulated_strap_and_stops_after_seconds(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "sim.jsonl.gz"
        seen: list[Event] = []
        async with asyncio.timeout(TIMEOUT_S):
            summary = await record(
                SimulatedStrap(SimConfig(seed=2), speed=math.inf),
                path,
                device={"kind": "simulated"},
                settings={"seconds": 20},
                seconds=20.0,
                on_event=seen.append,
            )
        expected = [e for e in await sim_events(SimConfig(seed=2, duration_s=30)) if e.t <= 20.0]
        rec = read_recording(path)
        assert list(rec.events) == expected == seen
        assert summary.stop_reason == "seconds"
        assert summary.n_events == len(expected)
        assert summary.n_beats == sum(len(e.rr_ms) for e in expected if isinstance(e, RRIntervals))
        assert summary.duration_s == pytest.approx(20.0)
        assert summary.battery_pct == 87
        assert rec.header.device["kind"] == "simulated"
        assert rec.header.settings == {"seconds": 20}
        assert not rec.truncated

    async def test_records_until_the_source_ends(self, tmp_path: Path) -> None:
        source = FakeSource(some_events())
        async with asyncio.timeout(TIMEOUT_S):
            summary = await record(source, tmp_path / "r.jsonl", device={}, settings={})
        assert summary.stop_reason == "source ended"
        assert list(read_recording(tmp_path / "r.jsonl").events) == some_events()
        assert summary.n_raw == 1 and summary.n_beats == 49
        assert source.opened and source.closed

    async def test_cancellation_keeps_everything_received_and_closes_both(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "cancelled.jsonl.gz"
        source = FakeSource(some_events(30), then_wait=True)
        async with asyncio.timeout(TIMEOUT_S):
            task = asyncio.create_task(record(source, path, device={}, settings={}))
            await source.all_yielded.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        rec = read_recording(path)
        assert list(rec.events) == some_events(30)
        assert not rec.truncated  # closed properly: gzip trailer written
        assert source.closed

    async def test_source_error_propagates_after_the_file_is_closed(self, tmp_path: Path) -> None:
        path = tmp_path / "failed.jsonl"
        source = FakeSource(some_events(10), fail_with=DeviceError("strap gone"))
        with pytest.raises(DeviceError, match="strap gone"):
            async with asyncio.timeout(TIMEOUT_S):
                await record(source, path, device={}, settings={})
        assert list(read_recording(path).events) == some_events(10)
        assert source.closed

    async def test_events_reach_the_file_while_recording(self, tmp_path: Path) -> None:
        # What a SIGKILL would leave: the file is readable and holds the events before the
        # recording ends, without any close.
        path = tmp_path / "live.jsonl.gz"
        source = FakeSource(some_events(40), then_wait=True)
        async with asyncio.timeout(TIMEOUT_S):
            task = asyncio.create_task(record(source, path, device={}, settings={}))
            await source.all_yielded.wait()
            while True:
                events = await asyncio.to_thread(lambda: read_recording(path).events)
                if len(events) == len(source.events):
                    break
                await asyncio.sleep(0.05)  # the writer thread flushes on its own schedule
            assert not task.done()
            source.release.set()
            await task
        assert list(events) == some_events(40)

    async def test_header_gets_what_the_source_says_about_its_device(self, tmp_path: Path) -> None:
        source = FakeSource(some_events(3), device_info={"model": "H10", "firmware": "5.0"})
        async with asyncio.timeout(TIMEOUT_S):
            await record(
                source, tmp_path / "d.jsonl", device={"kind": "ble", "model": "?"}, settings={}
            )
        device = read_recording(tmp_path / "d.jsonl").header.device
        assert device == {"kind": "ble", "model": "H10", "firmware": "5.0"}

    async def test_recording_a_replay_copies_its_events_and_device(self, tmp_path: Path) -> None:
        original = tmp_path / "original.jsonl"
        with RecordingWriter(original, device={"name": "H10 X"}, settings={}) as writer:
            for event in some_events(20):
                writer.write(event)
        copy = tmp_path / "copy.jsonl.gz"
        async with asyncio.timeout(TIMEOUT_S):
            await record(
                ReplaySource(original, speed=math.inf),
                copy,
                device={"kind": "file"},
                settings={},
            )
        rec = read_recording(copy)
        assert list(rec.events) == some_events(20)
        assert rec.header.device == {"kind": "file", "name": "H10 X"}

    async def test_existing_file_is_refused_and_the_source_closed(self, tmp_path: Path) -> None:
        path = tmp_path / "exists.jsonl"
        path.write_text("keep me")
        source = FakeSource(some_events(3))
        with pytest.raises(RecordingFileError, match="already exists"):
            async with asyncio.timeout(TIMEOUT_S):
                await record(source, path, device={}, settings={})
        assert path.read_text() == "keep me"
        assert source.closed

    @pytest.mark.parametrize("seconds", [0.0, -1.0, math.nan, math.inf])
    async def test_bad_seconds(self, tmp_path: Path, seconds: float) -> None:
        with pytest.raises(ConfigError, match="seconds"):
            await record(
                FakeSource([]), tmp_path / "x.jsonl", device={}, settings={}, seconds=seconds
            )


class TestSessionStats:
    def test_counts_beats_hr_battery_link_contact(self) -> None:
        stats = SessionStats()
        assert math.isnan(stats.hr_bpm) and stats.duration_s == 0.0
        for event in (
            Link(0.0, LinkState.STREAMING, ""),
            Battery(0.0, 55),
            RRIntervals(1.0, (1000.0, 750.0)),
            Contact(1.0, True),
        ):
            stats.update(event)
        assert stats.n_beats == 2
        assert stats.hr_bpm == pytest.approx(80.0)  # from the last RR: no strap HR yet
        stats.update(HeartRate(2.0, 64.0))
        stats.update(RRIntervals(2.0, (500.0,)))
        assert stats.hr_bpm == 64.0  # the strap's own HR wins once it reports one
        assert stats.battery_pct == 55 and stats.link_state == LinkState.STREAMING
        assert stats.contact is True
        assert stats.duration_s == 2.0 and stats.n_events == 6

    def test_gaps_and_rr_silences(self) -> None:
        stats = SessionStats()
        stats.update(RRIntervals(1.0, (1000.0,)))
        stats.update(RRIntervals(2.0, ()))  # a notification without beats is no beat
        stats.update(RRIntervals(1.0 + RR_SILENCE_GAP_S + 2.0, (1000.0,)))
        stats.update(Gap(20.0, 4.5, "link lost"))
        assert stats.n_rr_silences == 1
        assert stats.rr_silence_s == pytest.approx(RR_SILENCE_GAP_S + 2.0)
        assert stats.n_gaps == 1 and stats.gap_s == 4.5
        assert stats.n_beats == 2
        stats.update(RRIntervals(20.0 + RR_SILENCE_GAP_S + 1.0, (1000.0,)))
        assert stats.n_rr_silences == 1  # the Gap event already marked this silence


class _GreedySource(FakeSource):
    """Yields its events without ever suspending: a source faster than any disk."""

    async def _events(self) -> AsyncIterator[Event]:
        for event in self.events:
            yield event
        self.all_yielded.set()


class _SteppingClock:
    """Advances 1 s per reading: every batch is due for a sync, so every batch reports saved."""

    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        self.now_s += 1.0
        return self.now_s


class TestBackpressureAndSaved:
    """Issue 6: bounded memory at --speed max; the status shows what is on disk."""

    async def test_a_source_faster_than_the_disk_waits_for_it(self, tmp_path: Path) -> None:
        n = 5 * MAX_PENDING_EVENTS
        source = _GreedySource([RRIntervals(i * 0.001, (1000.0,)) for i in range(n)])
        received = 0
        unwritten: list[int] = []

        def on_event(_: Event) -> None:
            nonlocal received
            received += 1

        def on_saved(stats: SessionStats) -> None:
            unwritten.append(received - stats.n_events)

        async with asyncio.timeout(TIMEOUT_S):
            summary = await record(
                source,
                tmp_path / "fast.jsonl",
                device={},
                settings={},
                on_event=on_event,
                on_saved=on_saved,
                clock=_SteppingClock(),
            )
        assert summary.n_events == n
        assert len(unwritten) >= 3  # the writer ran while the source was still producing
        assert max(unwritten) <= 2 * MAX_PENDING_EVENTS  # never the whole session in memory

    async def test_saved_numbers_never_exceed_what_the_file_holds(self, tmp_path: Path) -> None:
        path = tmp_path / "saved.jsonl"
        checks: list[tuple[int, int]] = []

        def on_saved(stats: SessionStats) -> None:
            n_lines = len(path.read_bytes().splitlines()) - 1  # minus the header
            checks.append((stats.n_events, n_lines))

        source = _GreedySource(some_events(3 * MAX_PENDING_EVENTS))
        async with asyncio.timeout(TIMEOUT_S):
            await record(
                source, path, device={}, settings={}, on_saved=on_saved, clock=_SteppingClock()
            )
        assert checks and all(saved <= on_disk for saved, on_disk in checks)
        assert checks[-1][0] == len(read_recording(path).events)  # the last one: everything


class TestPrivacy:
    """Issue 6: the header keeps the strap's model and name, not its address or serial."""

    INFO: ClassVar[dict[str, object]] = {
        "name": "Polar H10 1A2B3C4D",
        "model": "H10",
        "address": "A0:9E:1A:00:11:22",
        "serial_number": "C1234567",
        "path": "/home/jane-doe/recordings/old.jsonl",
    }

    async def test_address_and_serial_are_left_out_and_a_path_becomes_a_name(
        self, tmp_path: Path
    ) -> None:
        source = FakeSource(some_events(3), device_info=dict(self.INFO))
        await record(source, tmp_path / "a.jsonl", device={"kind": "ble"}, settings={})
        device = dict(read_recording(tmp_path / "a.jsonl").header.device)
        assert device == {
            "kind": "ble",
            "name": "Polar H10 1A2B3C4D",
            "model": "H10",
            "path": "old.jsonl",
        }

    async def test_keep_device_id_keeps_them(self, tmp_path: Path) -> None:
        source = FakeSource(some_events(3), device_info=dict(self.INFO))
        await record(source, tmp_path / "b.jsonl", device={}, settings={}, keep_device_id=True)
        device = read_recording(tmp_path / "b.jsonl").header.device
        assert device["address"] == "A0:9E:1A:00:11:22" and device["serial_number"] == "C1234567"
