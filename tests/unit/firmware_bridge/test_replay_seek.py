"""Seeking in a replay through the seek index (firmware_bridge.replay; recording.ResumePoint).

A seek reads from the last index point before its target instead of the file's start; what
plays from the target on must be what a read from the start (seek before playing) plays.
"""

from __future__ import annotations

import asyncio
import gzip
import math
import random
import struct
from collections.abc import Iterable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pet_biofeedback.errors import RecordingFormatError
from pet_biofeedback.events import (
    Battery,
    Contact,
    Event,
    Gap,
    HeartRate,
    RawNotification,
    RRIntervals,
)
from pet_biofeedback.firmware_bridge import hrs, pmd, replay, replay_index
from pet_biofeedback.firmware_bridge.replay import ReplaySource
from pet_biofeedback.firmware_bridge.replay_decoding import StreamInventory
from pet_biofeedback.recording import RecordingReader, RecordingWriter, ResumePoint
from pet_biofeedback.recording._gzip_members import END_MEMBER, MemberBuilder
from tests.unit.firmware_bridge.test_replay import (
    TIMEOUT_S,
    ecg_frame_payload,
    hrm_payload,
    sim_events,
)

H10_SECONDS = 240.0
RAW_SECONDS = 300.0
SPACING_S = 5.0  # index points in these short files (a 24-h file has them every 30 s)


def write_timed(path: Path, events: Iterable[Event]) -> Path:
    """Write as a live session does: the writer's clock follows the events, so a gzip member
    ends about every second of recording time."""
    now = [0.0]
    with RecordingWriter(
        path,
        device={"name": "test strap"},
        settings={},
        app_version="test",
        clock=lambda: now[0],
        fsync=lambda fd: None,
    ) as writer:
        for event in events:
            now[0] = max(now[0], event.t)
            writer.write(event)
    return path


def raw_events(seconds: float, seed: int = 5) -> list[Event]:
    """A strap recorded raw only: heart rate with RR (lost contact twice), ECG frames over PMD
    (started at 130 Hz), battery, and one recorded gap: every decoder keeps state."""
    rng = random.Random(seed)
    start = pmd.start_command(
        pmd.MeasurementType.ECG,
        {pmd.SettingType.SAMPLE_RATE: 130, pmd.SettingType.RESOLUTION: 14},
    )
    events: list[Event] = [
        RawNotification(0.0, pmd.PMD_CONTROL_POINT_UUID + "/write", start),
        RawNotification(0.0, pmd.PMD_CONTROL_POINT_UUID, b"\xf0\x02\x00\x00\x00"),
    ]
    n = 73
    frame_s = n / 130.0
    t_beat = 0.5
    k = 0
    for second in range(1, int(seconds)):
        t = float(second) + rng.uniform(0.0, 0.3)
        rr: list[int] = []
        while t_beat + 0.8 < t:
            interval_s = rng.uniform(0.75, 1.05)
            t_beat += interval_s
            rr.append(round(interval_s * 1024))
        lost = second % 97 in (40, 41)
        if second % 131 == 70:
            t_beat += 3.0  # a stall: beats lost without contact loss
            continue
        events.append(
            RawNotification(
                t, hrs.HEART_RATE_MEASUREMENT_UUID, hrm_payload(60, rr, contact=not lost)
            )
        )
        while (k + 1) * frame_s + 0.02 <= t:
            ts_ns = 10**12 + round((k + 1) * n * 1e9 / 130.0)
            samples = [rng.randint(-500, 500) for _ in range(n)]
            arrival_s = (k + 1) * frame_s + rng.uniform(0.02, 0.2)
            events.append(
                RawNotification(arrival_s, pmd.PMD_DATA_UUID, ecg_frame_payload(ts_ns, samples))
            )
            k += 1
        if second % 60 == 0:
            events.append(RawNotification(t, hrs.BATTERY_LEVEL_UUID, bytes([90 - second // 60])))
        if second == 150:
            events.append(Gap(t, 1.0, "test gap"))
    return events


def rr_events(seconds: float) -> list[Event]:
    """Recorded beats (as from a strap that decodes them itself) with stalls of 12 s: the
    lost-beat rule gives a gap after each, from the chain's last beat before it."""
    events: list[Event] = []
    t_beat = 0.0
    for second in range(1, int(seconds)):
        events.append(HeartRate(float(second), 60.0))
        if second % 50 < 12:
            continue  # beats lost in the stall
        rr = (1000.0,) * max(1, round(second - t_beat))
        t_beat = float(second)
        events.append(RRIntervals(t_beat, rr[-1:] if second % 50 == 12 else rr))
    return events


@pytest.fixture(scope="module")
def rr_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_timed(tmp_path_factory.mktemp("seek") / "rr.jsonl.gz", rr_events(RAW_SECONDS))


@pytest.fixture(scope="module")
def h10_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    events = asyncio.run(sim_events(H10_SECONDS, seed=7))
    return write_timed(tmp_path_factory.mktemp("seek") / "h10.jsonl.gz", events)


@pytest.fixture(scope="module")
def raw_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_timed(tmp_path_factory.mktemp("seek") / "raw.jsonl.gz", raw_events(RAW_SECONDS))


@pytest.fixture(params=["h10", "raw", "rr"])
def recording(
    request: pytest.FixtureRequest, h10_recording: Path, raw_recording: Path, rr_recording: Path
) -> tuple[Path, float]:
    """Each recording, with its length in s."""
    if request.param == "h10":
        return h10_recording, H10_SECONDS
    if request.param == "rr":
        return rr_recording, RAW_SECONDS
    return raw_recording, RAW_SECONDS


@pytest.fixture(autouse=True)
def _dense_index(monkeypatch: pytest.MonkeyPatch) -> None:
    """Index points every `SPACING_S`; no index left from another test."""
    monkeypatch.setattr(replay_index, "INDEX_SPACING_S", SPACING_S)
    replay_index._index_cache.clear()


def member_offsets(path: Path) -> list[int]:
    """File offsets of the gzip members of a recording written in members."""
    data = path.read_bytes()
    offsets = []
    at = 0
    while at < len(data):
        offsets.append(at)
        (size,) = struct.unpack_from("<I", data, at + 16)
        at += size
    return offsets


def with_malformed_line(src: Path, dst: Path, lines_per_member: int = 40) -> Path:
    """``src`` written again in members of ``lines_per_member`` lines, with a line that is
    not JSON in the middle."""
    lines = gzip.decompress(src.read_bytes()).splitlines(keepends=True)
    lines.insert(len(lines) // 2, b"not json\n")
    builder = MemberBuilder()
    members = []
    for i, line in enumerate(lines, 1):
        builder.add(line)
        if i % lines_per_member == 0:
            members.append(builder.take())
    dst.write_bytes(b"".join([*members, builder.take(), END_MEMBER]))
    return dst


def rewrite(path: Path, events: Iterable[Event]) -> None:
    path.unlink()
    write_timed(path, events)


def flip_byte(src: Path, dst: Path, at: int, mask: int) -> Path:
    """A copy of ``src`` with the byte at ``at`` xor-ed with ``mask``."""
    data = bytearray(src.read_bytes())
    data[at] ^= mask
    dst.write_bytes(bytes(data))
    return dst


def recompressed(src: Path, dst: Path, *, compress: bool) -> Path:
    """The lines of ``src`` as one plain gzip member (another tool's), or as plain text."""
    text = gzip.decompress(src.read_bytes())
    dst.write_bytes(gzip.compress(text) if compress else text)
    return dst


async def reference(path: Path, t_s: float) -> tuple[list[Event], int]:
    """What plays from ``t_s`` on when the file is read from its start; the lost-beat gaps.

    The seek indexes other sources made are out of its sight (and its own is forgotten).
    """
    saved = replay_index._index_cache.copy()
    replay_index._index_cache.clear()
    try:
        source = ReplaySource(path, speed=math.inf)
        source.seek(t_s)
        async with asyncio.timeout(TIMEOUT_S), source:
            played = [event async for event in source]
    finally:
        replay_index._index_cache.clear()
        replay_index._index_cache.update(saved)
    return played, source.n_lost_beat_gaps


async def play_all(path: Path) -> None:
    """Play the whole file (its seek index is then complete)."""
    source = ReplaySource(path, speed=math.inf)
    async with asyncio.timeout(TIMEOUT_S), source:
        async for _ in source:
            pass


async def seek_and_take(source: ReplaySource, t_s: float, n: int | None) -> list[Event]:
    """Seek an open source to ``t_s`` and take ``n`` events (all with None)."""
    source.seek(t_s)
    out: list[Event] = []
    async for event in source:
        out.append(event)
        if n is not None and len(out) >= n:
            break
    return out


class JumpLog:
    """Counts how the file supplier was sent back: to its start, or to an index point."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.restarts = 0
        self.jumps: list[ResumePoint] = []
        supplier = replay._FileSupplier
        restart, jump = supplier.restart, supplier.jump

        async def logged_restart(s: replay._FileSupplier) -> None:
            self.restarts += 1
            await restart(s)

        async def logged_jump(s: replay._FileSupplier, point: ResumePoint) -> None:
            self.jumps.append(point)
            await jump(s, point)

        monkeypatch.setattr(supplier, "restart", logged_restart)
        monkeypatch.setattr(supplier, "jump", logged_jump)


class TestSeekEqualsAReadFromTheStart:
    @pytest.mark.parametrize("fraction", [0.9, 0.7, 0.5, 0.2, 0.02])
    async def test_seek_back_after_playing_everything(
        self, recording: tuple[Path, float], fraction: float
    ) -> None:
        path, duration_s = recording
        target_s = fraction * duration_s + 0.37
        expected, expected_gaps = await reference(path, target_s)
        source = ReplaySource(path, speed=math.inf)
        async with asyncio.timeout(TIMEOUT_S), source:
            await seek_and_take(source, 0.0, None)  # the whole file: the index is complete
            played = await seek_and_take(source, target_s, None)
        assert played == expected
        assert source.n_lost_beat_gaps == expected_gaps
        assert len(source._seek_index.points) > duration_s / SPACING_S / 2

    async def test_seek_forward_within_the_index(
        self, recording: tuple[Path, float], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        path, _ = recording
        expected, expected_gaps = await reference(path, 200.0)
        log = JumpLog(monkeypatch)
        source = ReplaySource(path, speed=math.inf)
        async with asyncio.timeout(TIMEOUT_S), source:
            await seek_and_take(source, 250.0, 10)  # reads the index up to 250 s
            await seek_and_take(source, 20.0, 10)  # back near the start
            played = await seek_and_take(source, 200.0, None)  # forward: a jump
        assert played == expected
        assert source.n_lost_beat_gaps == expected_gaps
        assert log.restarts == 0  # both seeks went to index points
        assert len(log.jumps) == 2 and log.jumps[1].offset > log.jumps[0].offset

    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(
        seeks=st.lists(
            st.tuples(
                st.floats(min_value=-5.0, max_value=RAW_SECONDS + 5.0),
                st.integers(min_value=1, max_value=400),
            ),
            min_size=1,
            max_size=4,
        )
    )
    def test_any_seeks_play_what_a_read_from_the_start_plays(
        self, raw_recording: Path, seeks: list[tuple[float, int]]
    ) -> None:
        async def run() -> None:
            source = ReplaySource(raw_recording, speed=math.inf)
            async with asyncio.timeout(TIMEOUT_S), source:
                await seek_and_take(source, 0.0, 2000)
                for t_s, n in seeks:
                    played = await seek_and_take(source, t_s, n)
                    expected, _ = await reference(raw_recording, t_s)
                    assert played == expected[:n]

        asyncio.run(run())

    async def test_paced_playback_after_a_jump_keeps_the_position(
        self, h10_recording: Path
    ) -> None:
        source = ReplaySource(h10_recording, speed=math.inf)
        async with asyncio.timeout(TIMEOUT_S), source:
            await seek_and_take(source, 0.0, None)
            source.pause()
            source.seek(100.0)
            assert source.paused and source.position_s == 100.0
            source.set_speed(1000.0)
            source.resume()
            first = await anext(aiter(source))
        assert first.t >= 100.0


class TestIndexSharedBetweenSources:
    async def test_a_new_source_seeking_before_it_plays_starts_at_an_index_point(
        self, raw_recording: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """As the replay view does: a fresh source for every jump, sought before it plays."""
        expected, expected_gaps = await reference(raw_recording, 250.0)
        await play_all(raw_recording)
        inventories: list[replay._FileSupplier] = []
        supplier = replay._FileSupplier
        inventory = supplier._inventory_sync

        def logged_inventory(s: replay._FileSupplier) -> StreamInventory:
            inventories.append(s)
            return inventory(s)

        monkeypatch.setattr(supplier, "_inventory_sync", logged_inventory)
        log = JumpLog(monkeypatch)
        source = ReplaySource(raw_recording, speed=math.inf)
        source.seek(250.0)
        async with asyncio.timeout(TIMEOUT_S), source:
            played = [event async for event in source]
        assert played == expected
        assert source.n_lost_beat_gaps == expected_gaps
        assert len(log.jumps) == 1 and log.restarts == 0
        assert log.jumps[0].last_t is not None and 250.0 - 2 * SPACING_S < log.jumps[0].last_t
        assert inventories == []  # the decoder as the first source made it

    @pytest.mark.parametrize("target_s", [3.0, 97.5, 151.0, 233.3, 290.0])
    async def test_the_opening_scan_indexes_the_whole_file(
        self,
        recording: tuple[Path, float],
        target_s: float,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """`index_recording` (the replay view's opening scan): seeks anywhere jump at once."""
        path, duration_s = recording
        expected, expected_gaps = await reference(path, target_s)
        scanned = await asyncio.to_thread(lambda: list(replay_index.index_recording(path)))
        with RecordingReader(path) as reader:
            assert scanned == list(reader)
        log = JumpLog(monkeypatch)
        source = ReplaySource(path, speed=math.inf)
        source.seek(target_s)
        async with asyncio.timeout(TIMEOUT_S), source:
            played = [event async for event in source]
        assert played == expected
        assert source.n_lost_beat_gaps == expected_gaps
        assert log.restarts == 0 and len(log.jumps) == 1
        assert (log.jumps[0].last_t or 0.0) > min(target_s, duration_s) - 3 * SPACING_S
        # Other replay settings decode otherwise: they do not share the index.
        other = ReplaySource(path, speed=math.inf, find_lost_beats=False)
        async with asyncio.timeout(TIMEOUT_S), other:
            other.seek(target_s)
            await anext(aiter(other), None)
        assert len(log.jumps) == 1

    async def test_a_strict_source_does_not_jump_over_a_malformed_line(
        self, h10_recording: Path, tmp_path: Path
    ) -> None:
        path = with_malformed_line(h10_recording, tmp_path / "malformed.jsonl.gz")
        await asyncio.to_thread(lambda: list(replay_index.index_recording(path)))
        lenient = ReplaySource(path, speed=math.inf)
        lenient.seek(200.0)
        async with asyncio.timeout(TIMEOUT_S), lenient:
            played = [event async for event in lenient]
        assert played == (await reference(path, 200.0))[0]
        strict = ReplaySource(path, speed=math.inf, strict=True)
        strict.seek(200.0)
        with pytest.raises(RecordingFormatError):
            async with asyncio.timeout(TIMEOUT_S), strict:
                async for _ in strict:
                    pass

    async def test_a_changed_file_gets_a_new_index(
        self, raw_recording: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        path = flip_byte(raw_recording, tmp_path / "copy.jsonl.gz", 0, 0)  # a copy
        await play_all(path)
        rewrite(path, raw_events(RAW_SECONDS - 20.0, seed=6))
        expected, _ = await reference(path, 200.0)
        log = JumpLog(monkeypatch)
        source = ReplaySource(path, speed=math.inf)
        source.seek(200.0)
        async with asyncio.timeout(TIMEOUT_S), source:
            played = [event async for event in source]
        assert played == expected
        assert log.jumps == []  # the old file's index is not used


class TestDamageAndOtherFiles:
    @pytest.mark.parametrize("spacing_s", [SPACING_S, 1e6])
    async def test_a_damaged_member_between_the_index_point_and_the_target(
        self,
        h10_recording: Path,
        tmp_path: Path,
        spacing_s: float,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(replay_index, "INDEX_SPACING_S", spacing_s)
        offsets = member_offsets(h10_recording)
        damaged_at = offsets[len(offsets) * 3 // 5]
        # A byte of its compressed data: the CRC fails, the member is skipped by its size.
        path = flip_byte(h10_recording, tmp_path / "damaged.jsonl.gz", damaged_at + 40, 0xFF)
        with RecordingReader(path) as reader:
            events = list(reader)
            (span,) = reader.damaged_spans
        assert span.t_before is not None and span.t_after is not None
        target_s = span.t_after + 0.5
        expected, _ = await reference(path, target_s)
        source = ReplaySource(path, speed=math.inf)
        async with asyncio.timeout(TIMEOUT_S), source:
            await seek_and_take(source, 0.0, None)
            notes = source.notes
            played = await seek_and_take(source, target_s, None)
        assert played == expected
        assert source.notes == notes and len(notes) == 1
        assert len(events) > len(played)
        index_offsets = [p.point.offset for p in source._seek_index.points]
        if spacing_s > H10_SECONDS:  # the only index point lies before the damage
            assert index_offsets and max(index_offsets) < damaged_at

    @pytest.mark.parametrize(
        ("name", "compress", "first_s", "first_n", "target_s"),
        [
            # another tool's gzip of one member: a seek back from the end
            ("one-member.jsonl.gz", True, 0.0, None, 120.0),
            # plain text: a seek back from a few events past 200 s
            ("plain.jsonl", False, 200.0, 5, 60.0),
        ],
    )
    async def test_a_file_without_members_reads_through(
        self,
        h10_recording: Path,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        name: str,
        compress: bool,
        first_s: float,
        first_n: int | None,
        target_s: float,
    ) -> None:
        path = recompressed(h10_recording, tmp_path / name, compress=compress)
        expected, _ = await reference(path, target_s)
        log = JumpLog(monkeypatch)
        source = ReplaySource(path, speed=math.inf)
        async with asyncio.timeout(TIMEOUT_S), source:
            await seek_and_take(source, first_s, first_n)
            played = await seek_and_take(source, target_s, None)
        assert played == expected
        assert source._seek_index.points == [] and log.jumps == [] and log.restarts == 1


class TestResumePoints:
    def test_resuming_at_any_point_reads_on_as_the_whole_file(self, raw_recording: Path) -> None:
        with RecordingReader(raw_recording) as reader:
            items = list(reader.iter_resumable())
            notes = reader.notes
        events = [item for item in items if not isinstance(item, ResumePoint)]
        points = [
            (i - n_before, item)
            for n_before, (i, item) in enumerate(
                (i, item) for i, item in enumerate(items) if isinstance(item, ResumePoint)
            )
        ]
        assert len(points) > RAW_SECONDS / 2  # a member about every second
        for n_before, point in points[:: max(1, len(points) // 25)]:
            assert point.last_t == (events[n_before - 1].t if n_before else None)
            with RecordingReader(raw_recording, resume=point) as resumed:
                assert list(resumed) == events[n_before:]
                assert resumed.notes == notes
                assert resumed.header == point.header

    def test_points_in_a_damaged_file_carry_the_damage(
        self, raw_recording: Path, tmp_path: Path
    ) -> None:
        offsets = member_offsets(raw_recording)
        damaged_at = offsets[len(offsets) // 2]
        # A byte of its header: the next member is found by searching.
        path = flip_byte(raw_recording, tmp_path / "damaged.jsonl.gz", damaged_at + 4, 0x01)
        with RecordingReader(path) as reader:
            items = list(reader.iter_resumable())
            spans = reader.damaged_spans
        assert len(spans) == 1
        events = [item for item in items if not isinstance(item, ResumePoint)]
        n_before = 0
        for item in items:
            if isinstance(item, ResumePoint):
                with RecordingReader(path, resume=item) as resumed:
                    assert list(resumed) == events[n_before:]
                    assert resumed.damaged_spans == spans
            else:
                n_before += 1
        # No point inside or at the damaged member.
        point_offsets = [i.offset for i in items if isinstance(i, ResumePoint)]
        assert damaged_at not in point_offsets

    def test_a_point_of_another_file_is_refused(self, raw_recording: Path, tmp_path: Path) -> None:
        with RecordingReader(raw_recording) as reader:
            point = next(i for i in reader.iter_resumable() if isinstance(i, ResumePoint))
        other = tmp_path / "other.jsonl.gz"
        other.write_bytes(raw_recording.read_bytes())
        with pytest.raises(ValueError, match="resume point"):
            RecordingReader(other, resume=point)


def test_raw_recording_exercises_the_decoders(raw_recording: Path) -> None:
    """The raw fixture must keep the decoders busy, or the equality above proves little."""

    async def run() -> tuple[list[Event], ReplaySource]:
        source = ReplaySource(raw_recording, speed=math.inf)
        async with asyncio.timeout(TIMEOUT_S), source:
            return [event async for event in source], source

    played, source = asyncio.run(run())
    assert source.n_decoded > 1000
    assert source.n_lost_beat_gaps >= 2
    assert any(isinstance(e, Contact) and not e.ok for e in played)
    assert any(isinstance(e, Battery) for e in played)
