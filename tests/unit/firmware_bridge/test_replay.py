"""Tests for pet_biofeedback.firmware_bridge.replay: a recording played as a live source."""

from __future__ import annotations

import asyncio
import gzip
import logging
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

from pet_biofeedback.errors import ConfigError, RecordingFileError, RecordingFormatError
from pet_biofeedback.events import (
    Battery,
    Contact,
    EcgFrame,
    Event,
    Gap,
    HeartRate,
    Marker,
    RawNotification,
    RRIntervals,
)
from pet_biofeedback.firmware_bridge import hrs, pmd
from pet_biofeedback.firmware_bridge.replay import (
    MAX_WAIT_S,
    READ_BATCH_EVENTS,
    REORDER_WINDOW_S,
    ReplaySource,
)
from pet_biofeedback.firmware_bridge.sim_config import SimConfig
from pet_biofeedback.firmware_bridge.simulated import SimulatedStrap
from pet_biofeedback.recording import RecordingWriter, read_recording

TIMEOUT_S = 30.0
SIM_SECONDS = 40.0
REPO = Path(__file__).resolve().parents[3]
SAMPLES = sorted((REPO / "recordings").glob("*.jsonl.gz"))


class FakeClock:
    """A monotonic clock that only moves when the injected sleep is awaited."""

    def __init__(self, start_s: float = 1000.0) -> None:
        self.now_s = start_s
        self.sleeps_s: list[float] = []

    def __call__(self) -> float:
        return self.now_s

    async def sleep(self, delay_s: float) -> None:
        self.sleeps_s.append(delay_s)
        self.now_s += max(delay_s, 0.0)
        await asyncio.sleep(0)  # let other tasks of the test run, as a real sleep would


def write_recording(path: Path, events: Iterable[Event], **header: object) -> Path:
    with RecordingWriter(
        path,
        device={"name": "test strap"},
        settings={k: v for k, v in header.items()},
        app_version="test",
    ) as writer:
        for event in events:
            writer.write(event)
    return path


async def sim_events(seconds: float = SIM_SECONDS, seed: int = 4) -> list[Event]:
    clock = FakeClock()
    strap = SimulatedStrap(
        SimConfig(seed=seed, duration_s=seconds), speed=math.inf, clock=clock, sleep=clock.sleep
    )
    async with asyncio.timeout(TIMEOUT_S), strap:
        return [event async for event in strap]


@pytest.fixture(scope="module")
def sim_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    events = asyncio.run(sim_events())
    return write_recording(tmp_path_factory.mktemp("replay") / "sim.jsonl.gz", events)


async def play(source: ReplaySource, *, times: list[float] | None = None) -> list[Event]:
    """Every event of ``source``; with ``times``, also the source clock at each yield."""
    out: list[Event] = []
    async with asyncio.timeout(TIMEOUT_S), source:
        async for event in source:
            out.append(event)
            if times is not None:
                times.append(source._clock())
    return out


def hrm_payload(hr_bpm: int, rr_raw: Sequence[int], *, contact: bool | None = True) -> bytes:
    """A Heart Rate Measurement notification (ble-protocol.md §2.1), uint8 HR."""
    flags = 0x10 if rr_raw else 0x00
    if contact is not None:
        flags |= 0x04 | (0x02 if contact else 0x00)
    body = bytes([flags, hr_bpm]) + b"".join(v.to_bytes(2, "little") for v in rr_raw)
    return body


def ecg_frame_payload(timestamp_ns: int, samples_uv: Sequence[int]) -> bytes:
    """A plain PMD ECG data frame (type 0, frame type 0, 3-byte samples; §4.7, §4.9)."""
    data = bytes([pmd.MeasurementType.ECG]) + timestamp_ns.to_bytes(8, "little") + b"\x00"
    return data + b"".join(v.to_bytes(3, "little", signed=True) for v in samples_uv)


class TestSpeeds:
    async def test_x1_and_max_yield_identical_events(self, sim_recording: Path) -> None:
        clock = FakeClock()
        at_x1 = await play(ReplaySource(sim_recording, clock=clock, sleep=clock.sleep))
        at_max = await play(ReplaySource(sim_recording, speed=math.inf))
        assert at_x1 == at_max
        assert len(at_x1) > 100

    async def test_same_events_as_the_file_in_file_order(self, sim_recording: Path) -> None:
        # The simulator writes in time order, so replay changes nothing.
        played = await play(ReplaySource(sim_recording, speed=math.inf))
        assert played == list(read_recording(sim_recording).events)

    async def test_x1_plays_each_event_at_its_time(self, sim_recording: Path) -> None:
        clock = FakeClock()
        times: list[float] = []
        events = await play(
            ReplaySource(sim_recording, clock=clock, sleep=clock.sleep), times=times
        )
        start = times[0] - events[0].t
        lateness = [at - (start + e.t) for at, e in zip(times, events, strict=True)]
        assert min(lateness) >= -1e-9  # never early
        assert max(lateness) < 1e-6  # and not late either (the fake clock never lags)
        assert max(clock.sleeps_s) <= MAX_WAIT_S + 1e-12  # waits are cut into short steps
        assert clock.now_s - 1000.0 == pytest.approx(SIM_SECONDS, abs=1e-6)

    @pytest.mark.parametrize("speed", [2.0, 10.0])
    async def test_faster_speeds_scale_the_time(self, sim_recording: Path, speed: float) -> None:
        clock = FakeClock()
        events = await play(
            ReplaySource(sim_recording, speed=speed, clock=clock, sleep=clock.sleep)
        )
        assert clock.now_s - 1000.0 == pytest.approx((events[-1].t - events[0].t) / speed, abs=1e-6)

    async def test_max_speed_never_waits(self, sim_recording: Path) -> None:
        clock = FakeClock()
        await play(ReplaySource(sim_recording, speed=math.inf, clock=clock, sleep=clock.sleep))
        assert set(clock.sleeps_s) <= {0.0}
        assert clock.now_s == 1000.0

    @pytest.mark.parametrize("speed", [0.0, -1.0, math.nan])
    def test_bad_speed_is_refused(self, tmp_path: Path, speed: float) -> None:
        with pytest.raises(ConfigError, match="speed"):
            ReplaySource(tmp_path / "x.jsonl", speed=speed)


class TestOrder:
    async def test_events_slightly_out_of_order_are_sorted_ties_keep_file_order(
        self, tmp_path: Path
    ) -> None:
        events: list[Event] = [
            HeartRate(1.0, 60.0),
            EcgFrame(0.9, 130.0, (1.0,)),  # frame stamped with its last sample: earlier
            Marker(1.0, "a"),
            Marker(1.0, "b"),
            HeartRate(2.0, 61.0),
            EcgFrame(1.5, 130.0, (2.0,)),
        ]
        path = write_recording(tmp_path / "r.jsonl", events)
        played = await play(ReplaySource(path, speed=math.inf))
        assert played == sorted(events, key=lambda e: e.t)
        assert [e.text for e in played if isinstance(e, Marker)] == ["a", "b"]

    async def test_order_does_not_depend_on_batch_boundaries(self, tmp_path: Path) -> None:
        # An event far out of order sits right after a read batch boundary.
        events: list[Event] = [HeartRate(float(i), 60.0) for i in range(READ_BATCH_EVENTS)]
        events.append(Marker(3.0, "late"))
        events += [HeartRate(float(i), 60.0) for i in range(READ_BATCH_EVENTS, 600)]
        path = write_recording(tmp_path / "r.jsonl", events)
        from_file = await play(ReplaySource(path, speed=math.inf))
        from_memory = await play(ReplaySource.from_events(events, speed=math.inf))
        assert from_file == from_memory
        assert sorted(map(repr, from_file)) == sorted(map(repr, events))  # nothing lost

    async def test_far_out_of_order_events_are_played_where_met_and_counted(
        self, tmp_path: Path
    ) -> None:
        late_t = 1.0
        events: list[Event] = [HeartRate(float(t), 60.0) for t in range(20)]
        events.insert(15, Marker(late_t, "very late"))
        source = ReplaySource.from_events(events, speed=math.inf)
        played = await play(source)
        assert len(played) == len(events)
        assert source.n_out_of_order == 1
        i = next(i for i, e in enumerate(played) if isinstance(e, Marker))
        assert played[i - 1].t > late_t + REORDER_WINDOW_S


class TestPauseSeek:
    async def test_pause_blocks_and_resume_continues_from_the_frozen_position(
        self, sim_recording: Path
    ) -> None:
        clock = FakeClock()
        source = ReplaySource(sim_recording, clock=clock, sleep=clock.sleep)
        async with asyncio.timeout(TIMEOUT_S), source:
            it = aiter(source)
            first = await anext(it)
            while (event := await anext(it)).t < 10.0:
                pass
            source.pause()
            assert source.paused
            frozen_s = source.position_s
            waiting = asyncio.ensure_future(anext(it))
            for _ in range(20):
                await asyncio.sleep(0)
            assert not waiting.done()
            clock.now_s += 3600.0  # an hour passes while paused
            assert source.position_s == frozen_s
            resumed_at_s = clock.now_s
            source.resume()
            following = await waiting
            assert following.t >= event.t
            # The next event came when the position reached it, not an hour early.
            assert clock.now_s - resumed_at_s == pytest.approx(
                max(following.t - frozen_s, 0.0), abs=1e-6
            )
        assert first.t == 0.0

    async def test_seek_forward_skips_earlier_events_without_waiting(
        self, sim_recording: Path
    ) -> None:
        clock = FakeClock()
        source = ReplaySource(sim_recording, clock=clock, sleep=clock.sleep)
        source.seek(30.0)
        played = await play(source)
        expected = [e for e in read_recording(sim_recording).events if e.t >= 30.0]
        assert played == expected
        assert clock.now_s - 1000.0 == pytest.approx(played[-1].t - 30.0, abs=1e-6)

    async def test_seek_back_replays_from_the_new_position(self, sim_recording: Path) -> None:
        source = ReplaySource(sim_recording, speed=math.inf)
        async with asyncio.timeout(TIMEOUT_S), source:
            before = []
            async for event in source:
                before.append(event)
                if event.t >= 20.0:
                    break
            source.seek(5.0)
            after = [event async for event in source]
        recorded = read_recording(sim_recording).events
        assert after == [e for e in recorded if e.t >= 5.0]
        assert before == list(recorded[: len(before)])

    async def test_seek_while_paused_stays_paused(self, sim_recording: Path) -> None:
        clock = FakeClock()
        source = ReplaySource(sim_recording, clock=clock, sleep=clock.sleep)
        async with asyncio.timeout(TIMEOUT_S), source:
            await anext(aiter(source))
            source.pause()
            source.seek(25.0)
            assert source.paused and source.position_s == 25.0
            source.resume()
            event = await anext(aiter(source))
        assert event.t >= 25.0

    @pytest.mark.parametrize("bad", [math.nan, math.inf, "3"])
    def test_seek_needs_a_finite_number(self, tmp_path: Path, bad: object) -> None:
        source = ReplaySource(tmp_path / "x.jsonl")
        with pytest.raises(ConfigError, match="seek"):
            source.seek(bad)  # type: ignore[arg-type]  # the wrong type is the test

    async def test_closing_while_paused_ends_iteration(self, sim_recording: Path) -> None:
        source = ReplaySource(sim_recording, speed=math.inf)
        async with asyncio.timeout(TIMEOUT_S):
            await source.__aenter__()
            await anext(aiter(source))
            source.pause()
            waiting = asyncio.ensure_future(anext(aiter(source)))
            await asyncio.sleep(0)
            await source.__aexit__(None, None, None)
            with pytest.raises(StopAsyncIteration):
                await waiting


class TestFiles:
    async def test_truncated_recording_plays_what_is_there(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        events: list[Event] = [HeartRate(float(t), 60.0 + t) for t in range(10)]
        path = write_recording(tmp_path / "cut.jsonl", events)
        data = path.read_bytes()
        path.write_bytes(data[: data.rindex(b"\n", 0, len(data) - 1) + 8])  # cut mid-line
        source = ReplaySource(path, speed=math.inf)
        with caplog.at_level(logging.WARNING):
            played = await play(source)
        assert played == events[:-1]
        assert source.truncated
        assert any("cut off" in r.getMessage() for r in caplog.records)

    async def test_cut_gzip_stream_plays_what_is_there(self, tmp_path: Path) -> None:
        events: list[Event] = [HeartRate(float(t), 60.0) for t in range(200)]
        path = write_recording(tmp_path / "cut.jsonl.gz", events)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) - 20])  # the end of the stream is missing
        source = ReplaySource(path, speed=math.inf)
        played = await play(source)
        assert 0 < len(played) <= len(events)
        assert played == events[: len(played)]
        assert source.truncated

    @pytest.mark.parametrize("bad_line", [2, 301, 700])
    @pytest.mark.parametrize("speed", [1.0, math.inf])
    async def test_malformed_line_raises_after_the_events_before_it_played(
        self, tmp_path: Path, bad_line: int, speed: float
    ) -> None:
        # Line 1 is the header: events[:bad_line - 2] come before the malformed line.
        events: list[Event] = [HeartRate(t * 0.5, 60.0) for t in range(900)]
        path = write_recording(tmp_path / "bad.jsonl", events)
        lines = path.read_bytes().splitlines(keepends=True)
        lines[bad_line - 1] = b'{"bad\n'
        path.write_bytes(b"".join(lines))
        clock = FakeClock()
        source = ReplaySource(path, speed=speed, clock=clock, sleep=clock.sleep, strict=True)
        played: list[Event] = []
        with pytest.raises(RecordingFormatError, match=f"line {bad_line}"):
            async with asyncio.timeout(TIMEOUT_S), source:
                async for event in source:
                    played.append(event)
        assert played == events[: bad_line - 2]

    @pytest.mark.parametrize("bad_line", [2, 301, 700])
    async def test_malformed_line_is_skipped_and_named_unless_strict(
        self, tmp_path: Path, bad_line: int, caplog: pytest.LogCaptureFixture
    ) -> None:
        # Issue 6: one bad line no longer loses the rest of the recording.
        events: list[Event] = [HeartRate(t * 0.5, 60.0) for t in range(900)]
        path = write_recording(tmp_path / "bad.jsonl", events)
        lines = path.read_bytes().splitlines(keepends=True)
        lines[bad_line - 1] = b'{"bad\n'
        path.write_bytes(b"".join(lines))
        source = ReplaySource(path, speed=math.inf)
        with caplog.at_level(logging.WARNING):
            played = await play(source)
        assert played == events[: bad_line - 2] + events[bad_line - 1 :]
        assert source.notes == (f"skipped 1 malformed line ({bad_line})",)
        assert any(f"malformed line ({bad_line})" in r.getMessage() for r in caplog.records)

    async def test_missing_file_raises_on_opening(self, tmp_path: Path) -> None:
        with pytest.raises(RecordingFileError, match="does not exist"):
            await play(ReplaySource(tmp_path / "nothing.jsonl"))

    async def test_header_and_device_info(self, sim_recording: Path) -> None:
        source = ReplaySource(sim_recording, speed=math.inf)
        async with asyncio.timeout(TIMEOUT_S), source:
            assert source.header is not None
            assert source.device_info["name"] == "test strap"

    async def test_iterating_before_opening_is_an_error(self, sim_recording: Path) -> None:
        with pytest.raises(RuntimeError, match="async with"):
            await anext(aiter(ReplaySource(sim_recording)))

    def test_plain_and_gzip_give_the_same_events(self, tmp_path: Path) -> None:
        events: list[Event] = [HeartRate(float(t), 60.0) for t in range(5)]
        plain = write_recording(tmp_path / "a.jsonl", events)
        packed = tmp_path / "b.jsonl.gz"
        packed.write_bytes(gzip.compress(plain.read_bytes()))
        assert asyncio.run(play(ReplaySource(plain, speed=math.inf))) == asyncio.run(
            play(ReplaySource(packed, speed=math.inf))
        )

    @pytest.mark.parametrize("sample", SAMPLES, ids=[p.name for p in SAMPLES])
    async def test_sample_recordings_replay_at_x1_and_max_identically(self, sample: Path) -> None:
        clock = FakeClock()
        at_x1 = await play(ReplaySource(sample, clock=clock, sleep=clock.sleep))
        at_max = await play(ReplaySource(sample, speed=math.inf))
        assert at_x1 == at_max == list(read_recording(sample).events)


class TestRawDecoding:
    RR_RAW = ((1000, 980), (990,), (), (1010, 1000))

    def raw_events(self) -> list[Event]:
        events: list[Event] = [Battery(0.0, 90)]
        for i, rr in enumerate(self.RR_RAW):
            payload = hrm_payload(60 + i, rr, contact=i != 2)
            events.append(RawNotification(float(i + 1), hrs.HEART_RATE_MEASUREMENT_UUID, payload))
        return events

    async def test_heart_rate_notifications_are_decoded_when_nothing_else_was_recorded(
        self, tmp_path: Path
    ) -> None:
        path = write_recording(tmp_path / "raw.jsonl", self.raw_events())
        source = ReplaySource(path, speed=math.inf)
        played = await play(source)
        raws = [e for e in played if isinstance(e, RawNotification)]
        assert len(raws) == len(self.RR_RAW)  # the raw events still play
        rr = [e for e in played if isinstance(e, RRIntervals)]
        assert [e.rr_ms for e in rr] == [
            tuple(v * 1000 / 1024 for v in group) for group in self.RR_RAW if group
        ]
        assert [e.hr_bpm for e in played if isinstance(e, HeartRate)] == [60, 61, 62, 63]
        assert [e.ok for e in played if isinstance(e, Contact)] == [True, True, False, True]
        # Heart rate and contact are stamped with the notification's arrival ...
        hr_times = [e.t for e in played if isinstance(e, HeartRate)]
        assert hr_times == [e.t for e in raws]
        # ... RR with the last beat's time, as the live strap's RrBeatClock rebuilds it: the
        # first packet anchors at its arrival, the next continues the sum of the intervals,
        # lost contact (packet 3) breaks the chain and packet 4 anchors at its arrival again.
        assert [e.t for e in rr] == pytest.approx([1.0, 1.0 + 990 / 1024, 4.0])
        assert source.n_decoded == 4 + 3 + 4
        assert source.n_decode_errors == 0

    async def test_nothing_is_decoded_twice_when_decoded_events_were_recorded(
        self, tmp_path: Path
    ) -> None:
        events = [*self.raw_events(), RRIntervals(5.0, (1000.0,)), HeartRate(5.0, 60.0)]
        path = write_recording(tmp_path / "both.jsonl", events)
        source = ReplaySource(path, speed=math.inf)
        played = await play(source)
        assert played == events
        assert source.n_decoded == 0

    async def test_decode_raw_false_plays_the_file_as_is(self, tmp_path: Path) -> None:
        path = write_recording(tmp_path / "raw.jsonl", self.raw_events())
        played = await play(ReplaySource(path, speed=math.inf, decode_raw=False))
        assert played == self.raw_events()

    async def test_undecodable_payload_is_skipped_and_counted(self, tmp_path: Path) -> None:
        events = [
            *self.raw_events(),
            RawNotification(9.0, hrs.HEART_RATE_MEASUREMENT_UUID, b""),
        ]
        path = write_recording(tmp_path / "bad.jsonl", events)
        source = ReplaySource(path, speed=math.inf)
        played = await play(source)
        assert played[-1] == events[-1]
        assert source.n_decode_errors == 1

    @pytest.mark.parametrize(
        ("cp_key", "fs_hz"),
        [
            (pmd.PMD_CONTROL_POINT_UUID + "/write", 130),  # as ble.BleStrap records writes
            (pmd.PMD_CONTROL_POINT_UUID, 130),  # a recorder that does not mark writes
            (pmd.PMD_CONTROL_POINT_UUID + "/write", 250),  # the rate comes from the START
        ],
    )
    async def test_pmd_ecg_frames_are_decoded_at_the_recorded_rate(
        self, tmp_path: Path, cp_key: str, fs_hz: int
    ) -> None:
        start = pmd.start_command(
            pmd.MeasurementType.ECG,
            {pmd.SettingType.SAMPLE_RATE: fs_hz, pmd.SettingType.RESOLUTION: 14},
        )
        n = 73
        frames = [[(k * n + i) % 500 - 250 for i in range(n)] for k in range(4)]
        events: list[Event] = [
            RawNotification(0.0, pmd.PMD_CONTROL_POINT_UUID + "/read", b"\x0f\x05\x00"),
            RawNotification(0.0, cp_key, start),
            RawNotification(0.0, pmd.PMD_CONTROL_POINT_UUID, b"\xf0\x02\x00\x00\x00"),
        ]
        for k, samples in enumerate(frames):
            ts_ns = 10**12 + round((k + 1) * n * 1e9 / fs_hz)
            arrival_s = (k + 1) * n / fs_hz + 0.01
            events.append(
                RawNotification(arrival_s, pmd.PMD_DATA_UUID, ecg_frame_payload(ts_ns, samples))
            )
        path = write_recording(tmp_path / "ecg.jsonl", events)
        played = await play(ReplaySource(path, speed=math.inf))
        ecg = [e for e in played if isinstance(e, EcgFrame)]
        assert [list(e.ecg_uv) for e in ecg] == frames
        assert {e.fs_hz for e in ecg} == {float(fs_hz)}
        frame_times = [e.t for e in ecg]
        assert frame_times == sorted(frame_times)
        for frame_t, raw in zip(frame_times, events[3:], strict=True):
            assert frame_t <= raw.t  # a sample is never dated after its notification arrived


class TestFromEvents:
    async def test_plays_in_time_order_with_pacing(self) -> None:
        events: list[Event] = [HeartRate(2.0, 61.0), HeartRate(1.0, 60.0), HeartRate(3.0, 62.0)]
        clock = FakeClock()
        times: list[float] = []
        source = ReplaySource.from_events(events, name="mem", clock=clock, sleep=clock.sleep)
        played = await play(source, times=times)
        assert [e.t for e in played] == [1.0, 2.0, 3.0]
        assert [t - times[0] for t in times] == pytest.approx([0.0, 1.0, 2.0])
        assert source.name == "mem" and source.header is None


class TestLostBeats:
    """Issue 6: replay applies the live strap's lost-beat rule to recorded RR events."""

    @staticmethod
    def beats(stall_after_s: float, stall_s: float) -> list[Event]:
        events: list[Event] = []
        t = 0.0
        while t < 20.0:
            t += 1.0
            if stall_after_s < t <= stall_after_s + stall_s:
                continue  # these beats never arrived
            events.append(RRIntervals(t, (1000.0,)))
        return events

    async def test_an_old_recording_without_the_gap_gets_it(self, tmp_path: Path) -> None:
        path = write_recording(tmp_path / "old.jsonl", self.beats(5.0, 3.0))
        source = ReplaySource(path, speed=math.inf)
        played = await play(source)
        gaps = [e for e in played if isinstance(e, Gap)]
        assert len(gaps) == 1 and gaps[0].seconds == pytest.approx(3.0)
        assert gaps[0].reason == "beats lost: RR intervals cover 1.0 s of 4.0 s"
        assert played.index(gaps[0]) == played.index(RRIntervals(9.0, (1000.0,))) - 1
        assert source.n_lost_beat_gaps == 1

    async def test_a_recorded_gap_is_not_doubled(self, tmp_path: Path) -> None:
        events = self.beats(5.0, 3.0)
        events.insert(5, Gap(8.0, 3.0, "beats lost: RR intervals cover 1.0 s of 4.0 s"))
        played = await play(ReplaySource.from_events(events, speed=math.inf))
        assert [e for e in played if isinstance(e, Gap)] == [events[5]]

    async def test_raw_notifications_of_a_stall_give_the_gap(self, tmp_path: Path) -> None:
        events: list[Event] = [
            RawNotification(float(i), hrs.HEART_RATE_MEASUREMENT_UUID, hrm_payload(60, (1024,)))
            for i in (1, 2, 3, 4, 5, 8, 9)
        ]
        played = await play(ReplaySource.from_events(events, speed=math.inf))
        gaps = [e for e in played if isinstance(e, Gap)]
        assert len(gaps) == 1 and gaps[0].seconds == pytest.approx(2.0)

    async def test_normal_beats_and_find_lost_beats_false_add_nothing(self, tmp_path: Path) -> None:
        clean = self.beats(100.0, 0.0)
        assert await play(ReplaySource.from_events(clean, speed=math.inf)) == clean
        holed = self.beats(5.0, 3.0)
        source = ReplaySource.from_events(holed, speed=math.inf, find_lost_beats=False)
        assert await play(source) == holed
