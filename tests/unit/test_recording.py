"""Unit tests for pet_biofeedback.recording: format v1 writer and reader (design.md §4)."""

from __future__ import annotations

import gzip
import itertools
import json
import logging
import os
import random
import stat
import zlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pet_biofeedback.errors import (
    ConfigError,
    RecordingError,
    RecordingFileError,
    RecordingFormatError,
    UnsupportedVersionError,
)
from pet_biofeedback.events import (
    AccFrame,
    Battery,
    Contact,
    EcgFrame,
    Event,
    Gap,
    HeartRate,
    Link,
    LinkState,
    Marker,
    PacerPhase,
    Rating,
    RawNotification,
    RRIntervals,
)
from pet_biofeedback.recording import (
    FILE_MODE,
    FLUSH_INTERVAL_S,
    FORMAT_NAME,
    Recording,
    RecordingReader,
    RecordingWriter,
    iter_events,
    read_recording,
)

DEVICE = {"name": "Polar H10 1234ABCD", "model": "H10", "firmware": "3.1.1"}
SETTINGS = {"pacer_breaths_per_min": 5.5, "ecg": True}
STARTED_AT = datetime(2026, 5, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))

ONE_OF_EACH: tuple[Event, ...] = (
    Link(0.0, LinkState.CONNECTING, "Polar H10 1234ABCD"),
    Battery(0.0, 87),
    Link(0.25, LinkState.STREAMING, ""),
    RawNotification(0.9, "00002a37-0000-1000-8000-00805f9b34fb", b"\x10\x40\x2c\x03"),
    HeartRate(1.0, 64.0),
    RRIntervals(1.0, (812.5, 790.0390625)),
    Contact(1.0, True),
    EcgFrame(1.25, 130.0, (12.0, -35.0, 1001.0, 0.5)),
    AccFrame(1.3, 200.0, ((3.0, -12.0, 998.0), (2.5, -11.0, 999.0))),
    PacerPhase(2.0, 5.5, 5.0, 5.909090909090909),
    Marker(3.0, "Block 2 — 5.5 Atemzüge/min ✓"),
    Rating(4.0, "pain", 6.5),
    Gap(9.5, 2.75, "link lost"),
    Link(10.0, LinkState.DISCONNECTED, "session ended"),
)


def write(path: Path, evs: tuple[Event, ...] | list[Event], **kwargs: object) -> Path:
    with RecordingWriter(
        path,
        device=DEVICE,
        settings=SETTINGS,
        started_at=STARTED_AT,
        app_version="test",
        **kwargs,  # type: ignore[arg-type]  # test helper forwards keyword options
    ) as writer:
        for event in evs:
            writer.write(event)
    return path


def raw_lines(path: Path) -> list[bytes]:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data.splitlines(keepends=True)


@pytest.fixture(params=["rec.jsonl", "rec.jsonl.gz"], ids=["plain", "gzip"])
def rec_path(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return tmp_path / str(request.param)


class TestRoundTrip:
    def test_every_event_type_round_trips(self, rec_path: Path) -> None:
        write(rec_path, ONE_OF_EACH)
        rec = read_recording(rec_path)
        assert rec.events == ONE_OF_EACH
        assert [type(a) for a in rec.events] == [type(b) for b in ONE_OF_EACH]
        assert rec.n_unknown_events == 0
        assert rec.n_truncated_lines == 0
        assert not rec.truncated

    def test_header_fields(self, rec_path: Path) -> None:
        write(rec_path, ONE_OF_EACH)
        header = read_recording(rec_path).header
        assert header.version == 1
        assert header.started_at == STARTED_AT
        assert header.started_at.utcoffset() == timedelta(hours=2)
        assert dict(header.device) == DEVICE
        assert dict(header.settings) == SETTINGS
        assert header.app_version == "test"
        assert dict(header.extra) == {}

    def test_on_disk_keys_are_the_frozen_v1_names(self, tmp_path: Path) -> None:
        path = write(tmp_path / "rec.jsonl", ONE_OF_EACH)
        lines = [json.loads(line) for line in raw_lines(path)]
        assert list(lines[0]) == [
            "format",
            "version",
            "started_at",
            "device",
            "settings",
            "app_version",
        ]
        assert lines[0]["format"] == FORMAT_NAME
        assert lines[0]["started_at"] == "2026-05-01T09:30:00.000+02:00"
        by_type = {obj["type"]: obj for obj in lines[1:]}
        assert {k: set(v) - {"t", "type"} for k, v in by_type.items()} == {
            "link": {"state", "detail"},
            "battery": {"percent"},
            "raw": {"char", "hex"},
            "hr": {"bpm"},
            "rr": {"rr_ms"},
            "contact": {"ok"},
            "ecg": {"fs", "uv"},
            "acc": {"fs", "mg"},
            "pacer": {"bpm", "inhale_s", "exhale_s"},
            "marker": {"text"},
            "rating": {"kind", "value"},
            "gap": {"seconds", "reason"},
        }
        assert all(list(obj)[:2] == ["t", "type"] for obj in lines[1:])
        assert by_type["raw"]["hex"] == "10402c03"
        assert by_type["pacer"]["bpm"] == 5.5
        assert by_type["link"]["state"] == "disconnected"

    def test_lines_are_compact_utf8_with_shortest_floats(self, tmp_path: Path) -> None:
        path = write(tmp_path / "rec.jsonl", ONE_OF_EACH)
        text = path.read_text(encoding="utf-8")
        assert '{"t":1.0,"type":"rr","rr_ms":[812.5,790.0390625]}\n' in text
        assert '"uv":[12,-35,1001,0.5]' in text  # integral samples without ".0"
        assert '"mg":[[3,-12,998],[2.5,-11,999]]' in text
        assert "Atemzüge/min ✓" in text
        assert "5.909090909090909" in text
        assert ", " not in text.splitlines()[1]

    def test_lone_surrogates_round_trip_escaped(self, tmp_path: Path) -> None:
        evs = (Marker(1.0, "bad \ud800 text"),)
        path = write(tmp_path / "rec.jsonl", evs)
        raw_lines(path)[1].decode("utf-8")  # still valid UTF-8
        assert read_recording(path).events == evs

    def test_iter_events_streams_the_same_events(self, rec_path: Path) -> None:
        write(rec_path, ONE_OF_EACH)
        assert tuple(iter_events(rec_path)) == ONE_OF_EACH

    def test_reader_is_single_pass_and_exposes_header(self, rec_path: Path) -> None:
        write(rec_path, ONE_OF_EACH)
        with RecordingReader(rec_path) as reader:
            assert reader.header.app_version == "test"
            assert tuple(reader) == ONE_OF_EACH
            with pytest.raises(RuntimeError, match="once"):
                iter(reader)

    def test_empty_recording_has_header_only(self, rec_path: Path) -> None:
        write(rec_path, ())
        rec = read_recording(rec_path)
        assert rec.events == ()
        assert not rec.truncated


# --- Property-based round trip ---------------------------------------------------------------

finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)  # the reader's bounds
rates = st.floats(min_value=1.0, max_value=10_000.0)
times = st.floats(min_value=0.0, max_value=1e6, allow_nan=False)
text = st.text(max_size=40)  # any unicode except lone surrogates (tested separately)

event_strategy: st.SearchStrategy[Event] = st.one_of(
    st.builds(RRIntervals, times, st.lists(finite, max_size=9).map(tuple)),
    st.builds(HeartRate, times, finite),
    st.builds(EcgFrame, times, rates, st.lists(finite, max_size=80).map(tuple)),
    st.builds(
        AccFrame,
        times,
        rates,
        st.lists(st.tuples(finite, finite, finite), max_size=40).map(tuple),
    ),
    st.builds(Contact, times, st.booleans()),
    st.builds(Link, times, st.sampled_from(LinkState), text),
    st.builds(Battery, times, st.integers(min_value=-(2**70), max_value=2**70)),
    st.builds(RawNotification, times, text, st.binary(max_size=244)),
    st.builds(PacerPhase, times, finite, finite, finite),
    st.builds(Marker, times, text),
    st.builds(Rating, times, text, finite),
    st.builds(Gap, times, finite, text),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(evs=st.lists(event_strategy, max_size=25), compressed=st.booleans())
def test_any_events_round_trip(tmp_path: Path, evs: list[Event], compressed: bool) -> None:
    path = tmp_path / f"prop-{os.getpid()}-{id(evs)}.jsonl{'.gz' if compressed else ''}"
    path.unlink(missing_ok=True)
    write(path, evs)
    assert read_recording(path).events == tuple(evs)
    path.unlink()


# --- Crash tolerance -------------------------------------------------------------------------


class TestTruncation:
    def test_partial_last_line_is_dropped_with_a_warning(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        path = write(tmp_path / "rec.jsonl", ONE_OF_EACH)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) - 15])  # cut inside the last line
        with caplog.at_level(logging.WARNING, logger="pet_biofeedback.recording"):
            rec = read_recording(path)
        assert rec.events == ONE_OF_EACH[:-1]
        assert rec.n_truncated_lines == 1
        assert rec.truncated
        assert any("incomplete" in r.getMessage() for r in caplog.records)

    def test_complete_last_line_without_newline_is_kept(self, tmp_path: Path) -> None:
        path = write(tmp_path / "rec.jsonl", ONE_OF_EACH)
        path.write_bytes(path.read_bytes().rstrip(b"\n"))
        rec = read_recording(path)
        assert rec.events == ONE_OF_EACH
        assert not rec.truncated

    def test_zero_filled_tail_after_power_cut_is_a_truncated_tail(self, tmp_path: Path) -> None:
        path = write(tmp_path / "rec.jsonl", ONE_OF_EACH)
        path.write_bytes(path.read_bytes() + b"\x00" * 4096)
        rec = read_recording(path)
        assert rec.events == ONE_OF_EACH
        assert rec.n_truncated_lines == 1

    def test_every_cut_of_a_plain_file_reads_a_prefix(self, tmp_path: Path) -> None:
        path = write(tmp_path / "rec.jsonl", ONE_OF_EACH)
        data = path.read_bytes()
        header_len = data.index(b"\n") + 1
        cut_path = tmp_path / "cut.jsonl"
        newlines = [i for i, byte in enumerate(data) if byte == ord("\n")]
        cuts = sorted(
            {*range(header_len, len(data) + 1, 5)} | {c + d for c in newlines for d in (0, 1, 2)}
        )
        for cut in (c for c in cuts if header_len <= c <= len(data)):
            cut_path.write_bytes(data[:cut])
            rec = read_recording(cut_path)
            assert rec.events == ONE_OF_EACH[: len(rec.events)]
            complete_lines = data[:cut].count(b"\n") - 1
            assert len(rec.events) in (complete_lines, complete_lines + 1)

    def test_truncated_gzip_reads_everything_flushed(self, tmp_path: Path) -> None:
        # A fake clock that advances 2 s per write: every write is flushed (Z_SYNC_FLUSH).
        clock = iter(float(2 * i) for i in range(1000))
        path = write(tmp_path / "rec.jsonl.gz", ONE_OF_EACH, clock=lambda: next(clock))
        data = path.read_bytes()
        trailer = 8  # gzip CRC32 + size; a crash before close leaves no final block either
        path.write_bytes(data[: len(data) - trailer - 2])
        rec = read_recording(path)
        assert rec.truncated
        assert rec.events == ONE_OF_EACH  # all flushed before the cut

    def test_every_cut_of_a_gzip_file_reads_a_prefix(self, tmp_path: Path) -> None:
        clock = iter(float(2 * i) for i in range(1000))
        path = write(tmp_path / "rec.jsonl.gz", ONE_OF_EACH, clock=lambda: next(clock))
        data = path.read_bytes()
        cut_path = tmp_path / "cut.jsonl.gz"
        n_read = []
        for cut in range(10, len(data)):
            cut_path.write_bytes(data[:cut])
            try:
                rec = read_recording(cut_path)
            except RecordingFileError as exc:  # cut before the header line was complete
                assert "cut off" in str(exc) or "empty" in str(exc)
                continue
            assert rec.truncated
            assert rec.events == ONE_OF_EACH[: len(rec.events)]
            n_read.append(len(rec.events))
        assert n_read == sorted(n_read)
        assert n_read[-1] == len(ONE_OF_EACH)

    def test_file_cut_inside_header(self, tmp_path: Path) -> None:
        path = write(tmp_path / "rec.jsonl", ONE_OF_EACH)
        path.write_bytes(path.read_bytes()[:30])
        with pytest.raises(RecordingFileError, match="cut off before its header"):
            read_recording(path)

    def test_concatenated_gzip_members_are_read(self, tmp_path: Path) -> None:
        path = write(tmp_path / "rec.jsonl.gz", ONE_OF_EACH)
        extra = json.dumps({"t": 11.0, "type": "marker", "text": "appended"}).encode() + b"\n"
        path.write_bytes(path.read_bytes() + gzip.compress(extra))
        assert read_recording(path).events == (*ONE_OF_EACH, Marker(11.0, "appended"))


# --- Damaged tails (power cut: zero bytes or garbage after the last write) -------------------


def write_flushed_gzip(path: Path, evs: tuple[Event, ...], *, step_s: float) -> Path:
    """A gzip recording as the first writer (one stream, ``Z_SYNC_FLUSH`` points) left it, on
    a fake clock that advances ``step_s`` per write: a flush after every
    ``FLUSH_INTERVAL_S / step_s`` writes. Such files must stay readable as they were."""
    lines = raw_lines(write(path.with_name(path.name + ".plain.jsonl"), evs))
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    out = [compressor.compress(lines[0]), compressor.flush(zlib.Z_SYNC_FLUSH)]
    last_flush_s = step_s  # the old writer's clock: init, header flush, then one per write
    for i, line in enumerate(lines[1:], start=2):
        now_s = step_s * i
        out.append(compressor.compress(line))
        if now_s - last_flush_s >= FLUSH_INTERVAL_S:
            out.append(compressor.flush(zlib.Z_SYNC_FLUSH))
            last_flush_s = now_s
    out.append(compressor.flush(zlib.Z_FINISH))
    path.write_bytes(b"".join(out))
    return path


def sync_points(data: bytes) -> list[int]:
    """Offsets just after each Z_SYNC_FLUSH marker (the empty stored block 00 00 ff ff)."""
    marker = b"\x00\x00\xff\xff"
    return [i + len(marker) for i in range(len(data)) if data[i : i + len(marker)] == marker]


def n_events_flushed(data: bytes, cut: int) -> int:
    """Events whose line is complete in what the flushes before ``cut`` decompress to."""
    last_sync = max(s for s in sync_points(data) if s <= cut)
    text = zlib.decompressobj(wbits=31).decompress(data[:last_sync])
    assert text.endswith(b"\n")  # the writer flushes after complete lines
    return text.count(b"\n") - 1  # minus the header


def n_events_inflatable(data: bytes, cut: int) -> int:
    """Events whose line is complete in what ``data[:cut]`` decompresses to (the last line's
    object may lack only its newline)."""
    *lines, last = zlib.decompressobj(wbits=31).decompress(data[:cut]).split(b"\n")
    try:
        ends_with_an_object = isinstance(json.loads(last), dict)
    except ValueError:
        ends_with_an_object = False
    return len(lines) - 1 + ends_with_an_object


def garbage(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


# Noisy ECG frames make the flushed blocks large, so a cut can land well inside one.
_NOISE = random.Random(5)
LONG: tuple[Event, ...] = tuple(
    EcgFrame(0.1 * i, 130.0, tuple(float(_NOISE.randrange(-900, 900)) for _ in range(40)))
    if i % 3 == 0
    else HeartRate(0.1 * i, 60.0 + i % 11)
    if i % 3 == 1
    else RRIntervals(0.1 * i, (800.0 + i % 7,))
    for i in range(900)
)

SAMPLE_RECORDING = Path(__file__).resolve().parents[2] / "recordings" / "h10-resonance-5.5.jsonl.gz"


class TestDamagedTail:
    @pytest.fixture
    def flushed(self, tmp_path: Path) -> bytes:
        """A recording flushed every 50 writes: compressed blocks of about 2 KiB."""
        return write_flushed_gzip(tmp_path / "full.jsonl.gz", LONG, step_s=0.02).read_bytes()

    @staticmethod
    def sync_with_room(data: bytes, room: int) -> int:
        """A sync point in the middle of ``data`` with no other within ``room`` bytes after."""
        syncs = sync_points(data)
        mid = len(data) // 2
        return next(s for s, nxt in itertools.pairwise(syncs) if s >= mid and nxt - s > room)

    @pytest.mark.parametrize("padding", [0, 4096], ids=["cut", "cut-then-zeros"])
    def test_gzip_cut_at_a_flush_then_zero_filled(
        self, tmp_path: Path, flushed: bytes, padding: int
    ) -> None:
        cut = self.sync_with_room(flushed, 0)
        path = tmp_path / "rec.jsonl.gz"
        path.write_bytes(flushed[:cut] + b"\x00" * padding)
        rec = read_recording(path)
        assert rec.truncated
        assert rec.events == LONG[: n_events_flushed(flushed, cut)]
        assert 0 < len(rec.events) < len(LONG)

    @pytest.mark.parametrize("tail", [b"\x00" * 4096, garbage(4096)], ids=["zeros", "garbage"])
    def test_gzip_cut_inside_a_block_then_zero_filled_or_garbage(
        self, tmp_path: Path, flushed: bytes, tail: bytes, caplog: pytest.LogCaptureFixture
    ) -> None:
        # Inflating zero bytes or garbage inside a block can produce plausible lines (even
        # copies of earlier ones). After zeros the reader keeps what the last flush finished;
        # garbage it cannot tell from data, but its first unreadable line ends the recording.
        sync = self.sync_with_room(flushed, 700)
        cut = sync + 700
        path = tmp_path / "rec.jsonl.gz"
        path.write_bytes(flushed[:cut] + tail)
        with caplog.at_level(logging.WARNING, logger="pet_biofeedback.recording"):
            rec = read_recording(path)
        assert rec.truncated
        zeros = tail[0] == 0
        n_kept = n_events_flushed(flushed, sync) if zeros else n_events_inflatable(flushed, cut)
        assert n_events_flushed(flushed, sync) < n_events_inflatable(flushed, cut)
        assert rec.events == LONG[:n_kept]
        assert any("kept everything" in r.getMessage() for r in caplog.records)

    def test_every_cut_plus_zeros_or_garbage_reads_what_was_flushed(self, tmp_path: Path) -> None:
        data = write_flushed_gzip(tmp_path / "full.jsonl.gz", ONE_OF_EACH, step_s=2.0).read_bytes()
        header_sync = sync_points(data)[0]
        path = tmp_path / "rec.jsonl.gz"
        for cut in range(header_sync, len(data) - 10):
            flushed, inflatable = n_events_flushed(data, cut), n_events_inflatable(data, cut)
            for tail in (b"", b"\x00" * 600, garbage(600, seed=cut)):
                path.write_bytes(data[:cut] + tail)
                rec = read_recording(path)
                where = (cut, tail[:1])
                assert rec.truncated, where
                assert rec.events == ONE_OF_EACH[: len(rec.events)], where
                if not tail:  # a plain cut: all that decompresses
                    assert len(rec.events) == inflatable, where
                elif tail[0] == 0:  # zero-filled: what the last flush finished
                    assert len(rec.events) == flushed, where
                else:  # garbage: that, and perhaps lines of the cut block before it
                    assert flushed <= len(rec.events) <= inflatable, where

    def test_intact_sample_with_zero_padding_reads_whole(self, tmp_path: Path) -> None:
        data = SAMPLE_RECORDING.read_bytes()
        padded = data + b"\x00" * 512
        assert gzip.decompress(padded) == gzip.decompress(data)  # as gzip itself reads it
        path = tmp_path / "padded.jsonl.gz"
        path.write_bytes(padded)
        rec = read_recording(path)
        assert rec.events == read_recording(SAMPLE_RECORDING).events
        assert len(rec.events) > 1000
        assert not rec.truncated

    @pytest.mark.parametrize("closed", [True, False], ids=["complete", "cut-at-a-flush"])
    def test_small_gzip_with_garbage_appended(self, tmp_path: Path, closed: bool) -> None:
        # Under 64 KiB: one read chunk, which the old reader lost as a whole.
        data = write_flushed_gzip(tmp_path / "full.jsonl.gz", ONE_OF_EACH, step_s=2.0).read_bytes()
        assert len(data) < 1 << 16
        cut = len(data) if closed else sync_points(data)[len(sync_points(data)) // 2]
        path = tmp_path / "rec.jsonl.gz"
        path.write_bytes(data[:cut] + garbage(3000))
        rec = read_recording(path)
        # Garbage after a complete stream is ignored, not taken for a crash (issue 6).
        assert rec.truncated is not closed
        assert rec.trailing_garbage is closed
        expected = len(ONE_OF_EACH) if closed else n_events_flushed(data, cut)
        assert rec.events == ONE_OF_EACH[:expected]
        assert 0 < expected

    def test_damage_inside_the_header_is_not_a_recording(self, tmp_path: Path) -> None:
        data = write(tmp_path / "full.jsonl.gz", ONE_OF_EACH).read_bytes()
        path = tmp_path / "rec.jsonl.gz"
        path.write_bytes(data[:40] + b"\x00" * 4096)
        with pytest.raises(RecordingFileError, match="is not a pet-biofeedback recording") as exc:
            read_recording(path)
        assert "damaged" in exc.value.user_message
        for jargon in ("Error -3", "zlib", "stored block", "line 1:"):
            assert jargon not in exc.value.user_message

    @pytest.mark.parametrize(
        "tail",
        [
            b"\x00" * 4096,
            b"\x00" * 2000 + b"\n" + b"\x00" * 2000,
            b"\x00" * 100 + b"\n" + b"\x00" * 50 + b"\n",
            garbage(5000, seed=3),
        ],
        ids=["zeros", "zeros-with-a-newline", "zero-lines", "garbage"],
    )
    @pytest.mark.parametrize("cut_into_last_line", [False, True], ids=["whole", "cut"])
    def test_plain_file_with_a_zero_filled_or_garbage_tail(
        self, tmp_path: Path, tail: bytes, cut_into_last_line: bool
    ) -> None:
        data = write(tmp_path / "full.jsonl", ONE_OF_EACH).read_bytes()
        kept = ONE_OF_EACH[:-1] if cut_into_last_line else ONE_OF_EACH
        if cut_into_last_line:
            data = data[:-15]
        path = tmp_path / "rec.jsonl"
        path.write_bytes(data + tail)
        rec = read_recording(path)
        assert rec.events == kept
        assert rec.truncated
        assert rec.n_truncated_lines == 1

    def test_random_binary_named_jsonl_is_not_a_recording(self, tmp_path: Path) -> None:
        content = garbage(3000, seed=7).replace(b"\n", b"").lstrip(b"{ \t\r")
        path = tmp_path / "random.jsonl"
        path.write_bytes(content)
        with pytest.raises(RecordingFileError, match="is not a pet-biofeedback recording") as exc:
            read_recording(path)
        assert "cut off" not in exc.value.user_message

    @pytest.mark.parametrize(
        "bad_line", [b"garbage", b"\x00" * 40, b'{"t": 1.0, "ty'], ids=["text", "zeros", "cut"]
    )
    @pytest.mark.parametrize("form", ["plain", "gzip", "gzip-without-end"])
    def test_malformed_middle_line_followed_by_valid_lines_reports_its_number(
        self, tmp_path: Path, bad_line: bytes, form: str
    ) -> None:
        lines = raw_lines(write(tmp_path / "full.jsonl", ONE_OF_EACH))
        lines[5] = bad_line + b"\n"
        if form == "plain":
            content = b"".join(lines)
        elif form == "gzip":
            content = gzip.compress(b"".join(lines))
        else:  # as the writer leaves it after a crash: flushed lines, no end
            compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
            content = b"".join(
                compressor.compress(line) + compressor.flush(zlib.Z_SYNC_FLUSH) for line in lines
            )
        path = tmp_path / ("bad.jsonl" if form == "plain" else "bad.jsonl.gz")
        path.write_bytes(content)
        with pytest.raises(RecordingFormatError, match="not valid") as exc:
            read_recording(path, strict=True)
        assert exc.value.line_number == 6
        rec = read_recording(path)  # without strict: skipped, counted, the rest kept
        assert rec.events == ONE_OF_EACH[:4] + ONE_OF_EACH[5:]
        assert (rec.n_malformed_lines, rec.malformed_line_numbers) == (1, (6,))
        assert rec.truncated is (form == "gzip-without-end")


# --- Malformed files -------------------------------------------------------------------------


def replace_line(path: Path, line_number: int, new: bytes) -> None:
    lines = raw_lines(path)
    lines[line_number - 1] = new + b"\n"
    path.write_bytes(b"".join(lines))


class TestMalformed:
    @pytest.mark.parametrize(
        ("bad_line", "message"),
        [
            (b"this is not json", "not valid JSON"),
            (b'{"t": 1.0, "type": "rr", "rr_ms": [800.0]', "not valid JSON"),
            (b"[1, 2, 3]", "object"),
            (b'{"t": 1.0}', "type"),
            (b'{"type": "hr", "bpm": 60}', "missing 't'"),
            (b'{"t": "1.0", "type": "hr", "bpm": 60}', "'t' must be a finite number"),
            (b'{"t": NaN, "type": "hr", "bpm": 60}', "not valid JSON"),
            (b'{"t": 1e999, "type": "hr", "bpm": 60}', "'t' must be a finite number"),
            (b'{"t": 1.0, "type": "hr"}', "missing 'bpm'"),
            (b'{"t": 1.0, "type": "hr", "bpm": true}', "'bpm' must be a finite number"),
            (b'{"t": 1.0, "type": "rr", "rr_ms": 800}', "'rr_ms' must be a list"),
            (b'{"t": 1.0, "type": "rr", "rr_ms": [800, "x"]}', "'rr_ms' must be a list"),
            (b'{"t": 1.0, "type": "acc", "fs": 200, "mg": [[1, 2]]}', "triples"),
            (b'{"t": 1.0, "type": "battery", "percent": 87.5}', "'percent' must be an integer"),
            (b'{"t": 1.0, "type": "contact", "ok": 1}', "'ok' must be true or false"),
            (b'{"t": 1.0, "type": "link", "state": "dancing", "detail": ""}', "'state'"),
            (b'{"t": 1.0, "type": "raw", "char": "2a37", "hex": "zz"}', "hexadecimal"),
            (b'{"t": 1.0, "type": "marker", "text": 5}', "'text' must be a string"),
            (b"\xff\xfe{}", "UTF-8"),
            (b"", "not valid JSON"),
        ],
    )
    def test_bad_line_in_the_middle_reports_its_number(
        self, rec_path: Path, bad_line: bytes, message: str
    ) -> None:
        write(rec_path, ONE_OF_EACH)
        plain = rec_path.with_name("bad.jsonl")
        plain.write_bytes(b"".join(raw_lines(rec_path)))
        replace_line(plain, 6, bad_line)
        if rec_path.suffix == ".gz":
            target = rec_path.with_name("bad.jsonl.gz")
            target.write_bytes(gzip.compress(plain.read_bytes()))
        else:
            target = plain
        with pytest.raises(RecordingFormatError, match=message) as excinfo:
            read_recording(target, strict=True)
        assert excinfo.value.line_number == 6
        assert str(excinfo.value).startswith("line 6:")
        assert str(target) in str(excinfo.value)

    def test_streaming_reader_yields_events_before_the_bad_line(self, tmp_path: Path) -> None:
        path = write(tmp_path / "rec.jsonl", ONE_OF_EACH)
        replace_line(path, 4, b"garbage")
        got: list[Event] = []
        with pytest.raises(RecordingFormatError) as excinfo:
            got.extend(iter_events(path, strict=True))
        assert got == list(ONE_OF_EACH[:2])
        assert excinfo.value.line_number == 4

    def test_unknown_event_types_and_keys_are_skipped_and_counted(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        path = write(tmp_path / "rec.jsonl", ONE_OF_EACH)
        lines = raw_lines(path)
        lines.insert(3, b'{"t": 0.5, "type": "spo2", "pct": 97}\n')
        lines.insert(3, b'{"t": 0.5, "type": "spo2", "pct": 98}\n')
        lines.insert(3, b'{"t": 0.5, "type": "hr", "bpm": 61, "quality": "good"}\n')
        path.write_bytes(b"".join(lines))
        with caplog.at_level(logging.INFO, logger="pet_biofeedback.recording"):
            rec = read_recording(path)
        assert rec.n_unknown_events == 2
        assert rec.unknown_types == frozenset({"spo2"})
        assert HeartRate(0.5, 61.0) in rec.events
        assert len(rec.events) == len(ONE_OF_EACH) + 1
        assert sum("spo2" in r.getMessage() for r in caplog.records) == 1

    @pytest.mark.parametrize("version", [2, "2.0", 0])
    def test_other_major_version_is_rejected(self, tmp_path: Path, version: object) -> None:
        path = write(tmp_path / "rec.jsonl", ONE_OF_EACH)
        header = json.loads(raw_lines(path)[0])
        header["version"] = version
        replace_line(path, 1, json.dumps(header).encode())
        with pytest.raises(UnsupportedVersionError, match="version") as excinfo:
            read_recording(path)
        assert "Update" in excinfo.value.user_message

    def test_newer_minor_version_and_extra_header_keys_are_accepted(self, tmp_path: Path) -> None:
        path = write(tmp_path / "rec.jsonl", ONE_OF_EACH)
        header = json.loads(raw_lines(path)[0])
        header["version"] = "1.3"
        header["timezone"] = "Europe/Berlin"
        replace_line(path, 1, json.dumps(header).encode())
        rec = read_recording(path)
        assert rec.header.version == 1
        assert dict(rec.header.extra) == {"timezone": "Europe/Berlin"}

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"version": None}, "version"),
            ({"version": 1.0}, "version"),
            ({"started_at": "yesterday"}, "ISO-8601"),
            ({"started_at": "2026-05-01T09:30:00"}, "UTC offset"),
            ({"device": "H10"}, "JSON objects"),
            ({"app_version": 1}, "app_version"),
        ],
    )
    def test_malformed_header_is_line_1(
        self, tmp_path: Path, change: dict[str, object], message: str
    ) -> None:
        path = write(tmp_path / "rec.jsonl", ONE_OF_EACH)
        header = json.loads(raw_lines(path)[0])
        header.update(change)
        replace_line(path, 1, json.dumps(header).encode())
        with pytest.raises(RecordingFormatError, match=message) as excinfo:
            read_recording(path)
        assert excinfo.value.line_number == 1

    def test_missing_header_key(self, tmp_path: Path) -> None:
        path = write(tmp_path / "rec.jsonl", ONE_OF_EACH)
        header = json.loads(raw_lines(path)[0])
        del header["settings"]
        replace_line(path, 1, json.dumps(header).encode())
        with pytest.raises(RecordingFormatError, match="missing 'settings'"):
            read_recording(path)

    def test_missing_file(self, tmp_path: Path) -> None:
        path = tmp_path / "nope.jsonl"
        with pytest.raises(RecordingFileError, match="does not exist") as excinfo:
            read_recording(path)
        assert excinfo.value.path == str(path)
        assert str(path) in excinfo.value.user_message

    def test_directory(self, tmp_path: Path) -> None:
        with pytest.raises(RecordingFileError, match="folder"):
            read_recording(tmp_path)

    @pytest.mark.parametrize("name", ["empty.jsonl", "empty.jsonl.gz"])
    def test_empty_file(self, tmp_path: Path, name: str) -> None:
        path = tmp_path / name
        path.write_bytes(b"" if name.endswith("l") else gzip.compress(b""))
        with pytest.raises(RecordingFileError, match="empty"):
            read_recording(path)

    @pytest.mark.parametrize(
        "content",
        [
            b"t_s,rr_ms\n0.8,800\n",
            b'{"format": "something-else", "version": 1}\n',
            b"\x89PNG\r\n\x1a\n\x00\x00",
            b"[]\n",
        ],
        ids=["csv", "other-json", "binary", "json-array"],
    )
    def test_not_a_recording(self, tmp_path: Path, content: bytes) -> None:
        path = tmp_path / "other.jsonl"
        path.write_bytes(content)
        with pytest.raises(RecordingFileError, match="not a pet-biofeedback recording"):
            read_recording(path)

    def test_corrupt_gzip_data_keeps_what_came_before_the_damage(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        evs = ONE_OF_EACH * 20
        path = write_flushed_gzip(tmp_path / "rec.jsonl.gz", evs, step_s=2.0)
        data = bytearray(path.read_bytes())
        for i in range(len(data) // 2, len(data) // 2 + 40):
            data[i] ^= 0x5A
        path.write_bytes(bytes(data))
        with caplog.at_level(logging.WARNING, logger="pet_biofeedback.recording"):
            rec = read_recording(path)
        assert rec.truncated
        assert 0 < len(rec.events) < len(evs)
        assert rec.events == evs[: len(rec.events)]
        assert any("unreadable" in r.getMessage() for r in caplog.records)
        assert not any("Error -3" in r.getMessage() for r in caplog.records)


# --- Writer behaviour ------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


class FsyncCounter:
    def __init__(self) -> None:
        self.calls: list[float] = []
        self.clock: FakeClock | None = None

    def __call__(self, fd: int) -> None:
        os.fsync(fd)
        self.calls.append(self.clock.now_s if self.clock else float("nan"))


def visible_events(path: Path) -> int:
    """Events another process would see now (the file as on disk, maybe mid-stream)."""
    reader = RecordingReader(path)
    try:
        return sum(1 for _ in reader)
    finally:
        reader.close()


class TestWriter:
    def test_file_is_created_owner_only(self, rec_path: Path) -> None:
        old = os.umask(0)
        try:
            write(rec_path, ONE_OF_EACH)
        finally:
            os.umask(old)
        assert stat.S_IMODE(rec_path.stat().st_mode) == FILE_MODE == 0o600

    def test_overwrite_resets_mode_and_content(self, tmp_path: Path) -> None:
        path = tmp_path / "rec.jsonl"
        path.write_text("old")
        path.chmod(0o644)
        write(path, ONE_OF_EACH[:2], overwrite=True)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert read_recording(path).events == ONE_OF_EACH[:2]

    def test_existing_file_is_not_replaced(self, tmp_path: Path) -> None:
        path = tmp_path / "rec.jsonl"
        path.write_text("precious")
        with pytest.raises(RecordingFileError, match="already exists"):
            write(path, ONE_OF_EACH)
        assert path.read_text() == "precious"

    def test_uncreatable_file(self, tmp_path: Path) -> None:
        with pytest.raises(RecordingFileError, match="cannot be created"):
            write(tmp_path / "no" / "such" / "dir.jsonl", ())

    def test_header_is_on_disk_at_once(self, rec_path: Path) -> None:
        writer = RecordingWriter(rec_path, device=DEVICE, settings=SETTINGS)
        try:
            assert visible_events(rec_path) == 0  # readable: header complete
            with RecordingReader(rec_path) as reader:
                assert reader.header.started_at.utcoffset() is not None
        finally:
            writer.close()

    def test_default_started_at_is_now_with_offset(self, rec_path: Path) -> None:
        before = datetime.now(UTC)
        with RecordingWriter(rec_path, device={}, settings={}):
            pass
        started = read_recording(rec_path).header.started_at
        assert started.utcoffset() is not None
        assert before - timedelta(seconds=1) <= started <= datetime.now(UTC)

    def test_naive_started_at_is_rejected(self, rec_path: Path) -> None:
        with pytest.raises(ConfigError, match="UTC offset"):
            RecordingWriter(rec_path, device={}, settings={}, started_at=datetime(2026, 1, 1))
        assert not rec_path.exists()

    def test_unserialisable_settings_are_rejected_before_creating(self, rec_path: Path) -> None:
        with pytest.raises(ConfigError, match="JSON"):
            RecordingWriter(rec_path, device={}, settings={"x": object()})
        assert not rec_path.exists()

    def test_nan_is_refused(self, rec_path: Path) -> None:
        with RecordingWriter(rec_path, device={}, settings={}) as writer:
            with pytest.raises(RecordingError, match="finite"):
                writer.write(HeartRate(1.0, float("nan")))
            writer.write(HeartRate(2.0, 60.0))
        assert read_recording(rec_path).events == (HeartRate(2.0, 60.0),)

    def test_write_after_close_raises_and_close_is_idempotent(self, rec_path: Path) -> None:
        writer = RecordingWriter(rec_path, device={}, settings={})
        writer.write(ONE_OF_EACH[0])
        writer.close()
        writer.close()
        assert writer.closed
        assert writer.n_events == 1
        with pytest.raises(RecordingError, match="closed"):
            writer.write(ONE_OF_EACH[1])
        writer.maybe_sync()  # harmless after close

    def test_context_manager_closes_on_error(self, rec_path: Path) -> None:
        with pytest.raises(KeyError), RecordingWriter(rec_path, device={}, settings={}) as writer:
            writer.write(ONE_OF_EACH[0])
            raise KeyError("boom")
        assert writer.closed
        assert read_recording(rec_path).events == ONE_OF_EACH[:1]

    def test_flush_at_least_every_second(self, rec_path: Path) -> None:
        clock = FakeClock()
        writer = RecordingWriter(rec_path, device={}, settings={}, clock=clock)
        try:
            writer.write(Marker(0.0, "a"))
            clock.now_s += 0.5
            writer.write(Marker(0.5, "b"))
            assert visible_events(rec_path) == 0  # still buffered
            clock.now_s += 0.5
            writer.write(Marker(1.0, "c"))  # 1 s since the header's flush
            assert visible_events(rec_path) == 3
            clock.now_s += 0.9
            writer.write(Marker(1.9, "d"))
            assert visible_events(rec_path) == 3
            clock.now_s += 0.1
            writer.maybe_sync()  # no new event, but a background tick
            assert visible_events(rec_path) == 4
        finally:
            writer.close()

    def test_fsync_at_least_every_five_seconds_and_on_close(self, rec_path: Path) -> None:
        clock = FakeClock()
        fsyncs = FsyncCounter()
        fsyncs.clock = clock
        writer = RecordingWriter(rec_path, device={}, settings={}, clock=clock, fsync=fsyncs)
        assert fsyncs.calls == [100.0]  # the header
        for i in range(1, 49):  # 12 s of events every 0.25 s
            clock.now_s = 100.0 + 0.25 * i
            writer.write(Marker(0.25 * i, str(i)))
        assert fsyncs.calls == [100.0, 105.0, 110.0]
        clock.now_s = 113.0
        writer.close()
        assert fsyncs.calls == [100.0, 105.0, 110.0, 113.0]

    def test_sync_in_write_false_leaves_fsync_to_maybe_sync(self, rec_path: Path) -> None:
        clock = FakeClock()
        fsyncs = FsyncCounter()
        fsyncs.clock = clock
        writer = RecordingWriter(
            rec_path, device={}, settings={}, clock=clock, fsync=fsyncs, sync_in_write=False
        )
        for i in range(1, 41):
            clock.now_s = 100.0 + 0.25 * i
            writer.write(Marker(0.25 * i, str(i)))
        assert fsyncs.calls == [100.0]
        assert visible_events(rec_path) >= 36  # flushed nonetheless
        writer.maybe_sync()
        assert fsyncs.calls == [100.0, 110.0]
        writer.maybe_sync()  # nothing new: no second fsync
        assert fsyncs.calls == [100.0, 110.0]
        writer.close()

    def test_idle_writer_does_not_fsync_again(self, rec_path: Path) -> None:
        clock = FakeClock()
        fsyncs = FsyncCounter()
        writer = RecordingWriter(rec_path, device={}, settings={}, clock=clock, fsync=fsyncs)
        for _ in range(10):
            clock.now_s += 6.0
            writer.maybe_sync()
        assert len(fsyncs.calls) == 1
        writer.close()

    def test_gzip_flush_is_decompressible_mid_stream(self, tmp_path: Path) -> None:
        path = tmp_path / "rec.jsonl.gz"
        clock = FakeClock()
        writer = RecordingWriter(path, device={}, settings={}, clock=clock)
        try:
            for i in range(20):
                clock.now_s += 0.5
                writer.write(RRIntervals(0.5 * i, (800.0 + i,)))
            rec = read_recording(path)  # no gzip trailer yet
            assert rec.truncated
            assert len(rec.events) >= 19
        finally:
            writer.close()
        assert not read_recording(path).truncated
        with gzip.open(path, "rt", encoding="utf-8") as f:  # a standard gzip file
            assert len(f.readlines()) == 21


def test_recording_result_is_frozen(rec_path: Path) -> None:
    write(rec_path, ONE_OF_EACH[:1])
    rec: Recording = read_recording(rec_path)
    with pytest.raises(AttributeError):
        rec.events = ()  # type: ignore[misc]  # frozen
    with pytest.raises(TypeError):
        rec.header.device["x"] = 1  # type: ignore[index]  # read-only mapping
