"""Recordings that survive damage (issue 6): gzip members, skipped damage, malformed lines,
untrusted values, a full disk."""

from __future__ import annotations

import errno
import gzip
import itertools
import logging
import shutil
import struct
import subprocess
import zlib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Final

import pytest

from pet_biofeedback.errors import RecordingError, RecordingFormatError, RecordingWriteError
from pet_biofeedback.events import AccFrame, EcgFrame, Event, Gap, HeartRate, Marker, RRIntervals
from pet_biofeedback.recording import (
    MAX_LINE_BYTES,
    MEMBER_INPUT_BYTES,
    RecordingReader,
    RecordingWriter,
    read_recording,
)

DEVICE = {"name": "test strap"}


class Clock:
    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


def events_over(n_seconds: int, per_second: int = 10) -> list[Event]:
    """RR, HR and ECG frames, ``per_second`` events per second."""
    out: list[Event] = []
    for i in range(n_seconds * per_second):
        t = i / per_second
        match i % 3:
            case 0:
                out.append(RRIntervals(t, (800.0 + i % 17, 790.5)))
            case 1:
                out.append(HeartRate(t, 60.0 + i % 13))
            case _:
                out.append(EcgFrame(t, 130.0, tuple(float((i * 7 + k) % 300) for k in range(20))))
    return out


def write_timed(path: Path, events: list[Event], *, close: bool = True) -> Path:
    """Write on a clock that follows the events' ``t``: one member per second of events."""
    clock = Clock()
    writer = RecordingWriter(path, device=DEVICE, settings={}, clock=clock, app_version="t")
    for event in events:
        clock.now_s = event.t
        writer.write(event)
    if close:
        writer.close()
    else:
        writer.sync()  # as a crash leaves it: flushed, no end marker
    return path


def member_offsets(data: bytes) -> list[int]:
    """Start of every member, following the PB size fields (bytes 16-19 of each header)."""
    offsets = [0]
    while offsets[-1] < len(data):
        (size,) = struct.unpack_from("<I", data, offsets[-1] + 16)
        offsets.append(offsets[-1] + size)
    assert offsets[-1] == len(data)
    return offsets[:-1]


def lines_per_member(data: bytes) -> list[int]:
    offsets = [*member_offsets(data), len(data)]
    return [gzip.decompress(data[a:b]).count(b"\n") for a, b in itertools.pairwise(offsets)]


class TestMembers:
    def test_every_flush_is_a_gzip_member_that_any_gzip_tool_reads(self, tmp_path: Path) -> None:
        events = events_over(20)
        path = write_timed(tmp_path / "rec.jsonl.gz", events)
        data = path.read_bytes()
        n_lines = lines_per_member(data)
        assert len(n_lines) >= 20  # the header, one per second, the end marker
        assert n_lines[0] == 1 and n_lines[-1] == 0
        assert sum(n_lines) == len(events) + 1
        with gzip.open(path, "rt", encoding="utf-8") as f:  # Python's gzip reads it whole
            assert len(f.readlines()) == len(events) + 1
        if shutil.which("gzip"):
            assert subprocess.run(["gzip", "-t", str(path)], check=False).returncode == 0
        assert read_recording(path).events == tuple(events)

    def test_many_events_per_second_make_a_member_every_64_kib(self, tmp_path: Path) -> None:
        clock = Clock()  # never advances: as fast as possible, no time-based flush at all
        events = events_over(300)
        path = tmp_path / "max.jsonl.gz"
        with RecordingWriter(path, device=DEVICE, settings={}, clock=clock) as writer:
            for event in events:
                writer.write(event)
        data = path.read_bytes()
        offsets = [*member_offsets(data), len(data)]
        sizes_in = [len(gzip.decompress(data[a:b])) for a, b in itertools.pairwise(offsets)]
        assert len(sizes_in) >= 5
        assert all(n < MEMBER_INPUT_BYTES + 400 for n in sizes_in)  # 64 KiB + one line
        assert read_recording(path).events == tuple(events)


class TestDamagedMembers:
    @pytest.mark.parametrize(
        "where",
        ["magic", "flags", "size", "header-crc", "data", "data-end", "crc", "isize"],
    )
    def test_one_flipped_bit_loses_only_its_member_and_says_when(
        self, tmp_path: Path, where: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        events = events_over(12)
        data = write_timed(tmp_path / "full.jsonl.gz", events).read_bytes()
        offsets = [*member_offsets(data), len(data)]
        k = len(offsets) // 2  # a member in the middle
        start, end = offsets[k], offsets[k + 1]
        at = {
            "magic": start,
            "flags": start + 3,
            "size": start + 17,
            "header-crc": start + 20,
            "data": (start + end) // 2,
            "data-end": end - 10,
            "crc": end - 6,
            "isize": end - 2,
        }[where]
        damaged = bytearray(data)
        damaged[at] ^= 0x10
        path = tmp_path / "flipped.jsonl.gz"
        path.write_bytes(bytes(damaged))
        n_lines = lines_per_member(data)
        first_lost = sum(n_lines[:k]) - 1  # minus the header line
        lost = slice(first_lost, first_lost + n_lines[k])
        with caplog.at_level(logging.WARNING, logger="pet_biofeedback.recording"):
            rec = read_recording(path)
        assert rec.events == tuple(events[: lost.start] + events[lost.stop :])
        assert not rec.truncated
        (span,) = rec.damaged_spans
        assert span.t_before == events[lost.start - 1].t
        assert span.t_after == events[lost.stop].t
        expected = (
            f"{span.t_after - span.t_before:.1f} s of data between 0:0{span.t_before:.1f} and "
            f"0:0{span.t_after:.1f} (min:s) was damaged and left out"
        )
        assert rec.notes == (expected,)
        assert any(expected in r.getMessage() for r in caplog.records)

    def test_damage_in_the_last_data_member_is_damage_at_the_end(self, tmp_path: Path) -> None:
        events = events_over(5)
        data = write_timed(tmp_path / "full.jsonl.gz", events).read_bytes()
        offsets = member_offsets(data)
        n_last = lines_per_member(data)[-2]
        damaged = bytearray(data)
        damaged[offsets[-2] + 30] ^= 0x01
        path = tmp_path / "flipped.jsonl.gz"
        path.write_bytes(bytes(damaged))
        rec = read_recording(path)
        assert rec.events == tuple(events[:-n_last])
        (span,) = rec.damaged_spans
        assert (span.t_before, span.t_after) == (events[-n_last - 1].t, None)
        assert f"after 0:0{span.t_before:.1f} (min:s)" in rec.notes[0]

    def test_a_crash_mid_member_keeps_the_complete_lines_written(self, tmp_path: Path) -> None:
        # The writer writes a member at once, but the OS can keep only part of it.
        events = events_over(6)
        data = write_timed(tmp_path / "full.jsonl.gz", events).read_bytes()
        offsets = member_offsets(data)
        last_member = data[offsets[-2] : offsets[-1]]
        path = tmp_path / "cut.jsonl.gz"
        path.write_bytes(data[: offsets[-2] + len(last_member) - 9])  # no trailer, no end
        rec = read_recording(path)
        assert rec.truncated
        assert rec.damaged_spans == ()
        assert rec.events == tuple(events)  # all lines are complete before the trailer
        assert rec.notes == (
            "the recording was cut off after 0:05.9 (min:s) (a crash?); kept everything before",
        )

    def test_a_recording_never_closed_is_cut_off(self, tmp_path: Path) -> None:
        events = events_over(3)
        path = write_timed(tmp_path / "open.jsonl.gz", events, close=False)
        rec = read_recording(path)
        assert rec.events == tuple(events)
        assert rec.truncated

    def test_garbage_after_the_end_is_ignored_not_called_a_crash(self, tmp_path: Path) -> None:
        events = events_over(3)
        path = write_timed(tmp_path / "rec.jsonl.gz", events)
        path.write_bytes(path.read_bytes() + b"\x17garbage" * 50)
        rec = read_recording(path)
        assert rec.events == tuple(events)
        assert not rec.truncated
        assert rec.trailing_garbage
        assert rec.notes == ("unreadable data after the end of the recording were ignored",)

    def test_damaged_first_member_is_not_a_recording(self, tmp_path: Path) -> None:
        data = bytearray(write_timed(tmp_path / "rec.jsonl.gz", events_over(2)).read_bytes())
        data[40] ^= 0x04
        path = tmp_path / "bad.jsonl.gz"
        path.write_bytes(bytes(data))
        with pytest.raises(RecordingError, match="damaged from the start"):
            read_recording(path)


def plain_with(tmp_path: Path, events: list[Event], replace: Mapping[int, bytes]) -> Path:
    """A plain recording of ``events`` with lines (1-based, 1 = header) replaced."""
    path = write_timed(tmp_path / "rec.jsonl", events)
    lines = path.read_bytes().splitlines(keepends=True)
    for line_number, new in replace.items():
        lines[line_number - 1] = new
    path.write_bytes(b"".join(lines))
    return path


# Lines (1-based; 1 is the header) replaced by malformed ones.
BAD_LINES: Final = MappingProxyType(
    {
        12: b"garbage\n",
        40: b"\n",
        41: b'{"t": 1.0, "type": "hr", "bpm": "60"}\n',
    }
)


class TestMalformedLines:
    @pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
    def test_bad_lines_are_skipped_counted_and_named(
        self, tmp_path: Path, compressed: bool, caplog: pytest.LogCaptureFixture
    ) -> None:
        events = events_over(6)
        path = plain_with(tmp_path, events, BAD_LINES)
        if compressed:
            gz = tmp_path / "rec.jsonl.gz"
            gz.write_bytes(gzip.compress(path.read_bytes()))
            path = gz
        with caplog.at_level(logging.WARNING, logger="pet_biofeedback.recording"):
            rec = read_recording(path)
        kept = [e for i, e in enumerate(events, start=2) if i not in BAD_LINES]
        assert rec.events == tuple(kept)
        assert (rec.n_malformed_lines, rec.malformed_line_numbers) == (3, (12, 40, 41))
        assert rec.notes == ("skipped 3 malformed lines (12, 40, 41)",)
        assert not rec.truncated
        assert any(
            "skipped 3 malformed lines (12, 40, 41)" in r.getMessage() for r in caplog.records
        )

    def test_strict_refuses_the_first_bad_line(self, tmp_path: Path) -> None:
        path = plain_with(tmp_path, events_over(6), BAD_LINES)
        with pytest.raises(RecordingFormatError, match="not valid JSON") as exc:
            read_recording(path, strict=True)
        assert exc.value.line_number == 12

    @pytest.mark.parametrize("tail", [b"\n", b"\n\n\n", b"\r\n \n"])
    def test_trailing_blank_lines_are_not_a_crash(self, tmp_path: Path, tail: bytes) -> None:
        events = events_over(1)
        path = write_timed(tmp_path / "rec.jsonl", events)
        path.write_bytes(path.read_bytes() + tail)
        rec = read_recording(path, strict=True)
        assert rec.events == tuple(events)
        assert not rec.truncated
        assert rec.notes == ()


def test_a_line_too_long_to_hold_is_malformed_not_read_into_memory(tmp_path: Path) -> None:
    events = events_over(1)
    huge = b'{"t": 1.0, "type": "marker", "text": "' + b"x" * (MAX_LINE_BYTES + 10) + b'"}\n'
    path = plain_with(tmp_path, events, {3: huge})
    rec = read_recording(path)
    assert rec.events == tuple(events[:1] + events[2:])
    assert rec.malformed_line_numbers == (3,)


class TestUntrustedValues:
    @pytest.mark.parametrize(
        "line",
        [
            b'{"t": 1.0, "type": "acc", "fs": 1e6, "mg": [[1, 2, 3]]}',
            b'{"t": 1.0, "type": "acc", "fs": 1e8, "mg": [[1, 2, 3]]}',
            b'{"t": 1.0, "type": "ecg", "fs": 0.5, "uv": [1]}',
            b'{"t": 1.0, "type": "ecg", "fs": 0, "uv": [1]}',
            b'{"t": 1.0, "type": "ecg", "fs": -130, "uv": [1]}',
            b'{"t": 1.0, "type": "ecg", "fs": 130, "uv": [1e300]}',
            b'{"t": 1.0, "type": "acc", "fs": 200, "mg": [[1e300, 2, 3]]}',
            b'{"t": 1.0, "type": "rr", "rr_ms": [1e300]}',
            b'{"t": 1.0, "type": "gap", "seconds": 1e300, "reason": "x"}',
            b'{"t": 1e300, "type": "hr", "bpm": 60}',
            b'{"t": 1.0, "type": "hr", "bpm": 1e999}',
            b'{"t": 1.0, "type": "hr", "bpm": NaN}',
        ],
    )
    def test_absurd_values_make_a_line_malformed(self, tmp_path: Path, line: bytes) -> None:
        events = events_over(2)
        path = plain_with(tmp_path, events, {5: line + b"\n"})
        rec = read_recording(path)
        assert rec.events == tuple(events[:3] + events[4:])
        assert rec.malformed_line_numbers == (5,)
        with pytest.raises(RecordingFormatError) as exc:
            read_recording(path, strict=True)
        assert exc.value.line_number == 5

    @pytest.mark.parametrize(
        "event",
        [
            AccFrame(1.0, 1e6, ((1.0, 2.0, 3.0),)),
            EcgFrame(1.0, 0.0, (1.0,)),
            EcgFrame(1.0, 130.0, (1e300,)),
            Gap(1.0, float("inf"), "x"),
            Marker(1e300, "far"),
        ],
    )
    def test_the_writer_refuses_what_the_reader_would_skip(
        self, tmp_path: Path, event: Event
    ) -> None:
        with RecordingWriter(tmp_path / "rec.jsonl", device={}, settings={}) as writer:
            with pytest.raises(RecordingError, match="cannot record"):
                writer.write(event)
            writer.write(HeartRate(2.0, 60.0))
        assert read_recording(tmp_path / "rec.jsonl").events == (HeartRate(2.0, 60.0),)


class FullDisk:
    """``os.write`` onto a disk with ``room`` bytes left (then ENOSPC, partial writes first)."""

    def __init__(self, room: int, err: int = errno.ENOSPC) -> None:
        self.room = room
        self.err = err

    def __call__(self, fd: int, data: memoryview) -> int:
        import os

        if self.room <= 0:
            raise OSError(self.err, os.strerror(self.err))
        n = os.write(fd, data[: self.room])
        self.room -= n
        return n


class TestFullDisk:
    @pytest.mark.parametrize("name", ["rec.jsonl", "rec.jsonl.gz"])
    def test_one_error_says_disk_full_what_was_saved_and_where(
        self, tmp_path: Path, name: str
    ) -> None:
        path = tmp_path / name
        clock = Clock()
        disk = FullDisk(room=10**9)
        writer = RecordingWriter(path, device=DEVICE, settings={}, clock=clock, os_write=disk)
        events = events_over(10)
        for event in events[:50]:
            clock.now_s = event.t
            writer.write(event)
        writer.sync()
        saved = 50
        disk.room = 100  # room for part of the next flush only
        with pytest.raises(RecordingWriteError) as exc:
            for event in events[50:]:
                clock.now_s = event.t
                writer.write(event)
        error = exc.value
        assert error.disk_full
        assert error.path == str(path)
        assert error.n_events_saved == saved
        assert error.saved_until_t == events[saved - 1].t
        message = error.user_message
        assert "disk is full" in message and str(path) in message
        assert f"the {saved} events up to 0:0{events[saved - 1].t:.1f} (min:s) are saved" in message
        writer.close()  # no second error
        writer.close()
        with pytest.raises(RecordingWriteError):
            writer.write(events[-1])  # the same error again, not a crash
        rec = read_recording(path)  # cut back to the last complete flush
        assert rec.events == tuple(events[:saved])
        assert rec.damaged_spans == () and rec.n_malformed_lines == 0

    def test_full_disk_at_close_raises_once(self, tmp_path: Path) -> None:
        path = tmp_path / "rec.jsonl.gz"
        disk = FullDisk(room=10**9, err=errno.EFBIG)  # ulimit -f with SIGXFSZ ignored
        writer = RecordingWriter(path, device=DEVICE, settings={}, clock=Clock(), os_write=disk)
        writer.write(HeartRate(1.0, 60.0))
        disk.room = 0
        with pytest.raises(RecordingWriteError, match="disk is full") as exc:
            writer.close()
        assert exc.value.n_events_saved == 0
        assert "no events were saved" in exc.value.user_message
        writer.close()
        assert read_recording(path).events == ()

    def test_other_write_errors_say_what_failed(self, tmp_path: Path) -> None:
        path = tmp_path / "rec.jsonl"
        disk = FullDisk(room=10**9, err=errno.EIO)
        writer = RecordingWriter(path, device=DEVICE, settings={}, clock=Clock(), os_write=disk)
        disk.room = 0
        writer.write(HeartRate(1.0, 60.0))
        with pytest.raises(RecordingWriteError) as exc:
            writer.sync()
        assert not exc.value.disk_full
        assert "Input/output error" in exc.value.user_message
        writer.close()


def test_reader_notes_are_empty_for_an_intact_recording(tmp_path: Path) -> None:
    path = write_timed(tmp_path / "rec.jsonl.gz", events_over(2))
    with RecordingReader(path) as reader:
        assert len(list(reader)) == 20
        assert reader.notes == ()
        assert not reader.truncated
    assert zlib  # used by the members' own checks only


class TestOldSingleStreamFiles:
    """Files of the first writer (one gzip stream) have one CRC, at their end."""

    def test_a_failed_checksum_is_said_even_when_every_line_reads(self, tmp_path: Path) -> None:
        events = events_over(3)
        plain = write_timed(tmp_path / "rec.jsonl", events).read_bytes()
        data = bytearray(gzip.compress(plain))
        data[-6] ^= 0x01  # the stream's CRC-32
        path = tmp_path / "old.jsonl.gz"
        path.write_bytes(bytes(data))
        rec = read_recording(path)
        assert rec.events == tuple(events)
        assert rec.notes == (
            "the compressed data fail their checksum and this older file cannot show where, "
            "so some values read may be wrong",
        )

    def test_with_a_failed_checksum_a_malformed_line_ends_what_is_trusted(
        self, tmp_path: Path
    ) -> None:
        # Damage that inflates to garbage is not a malformed line to skip: nothing after it
        # can be trusted (an intact file would skip the line and read on).
        events = events_over(3)
        path = plain_with(tmp_path, events, {10: b"\x00garbage\n"})
        data = bytearray(gzip.compress(path.read_bytes()))
        data[-6] ^= 0x01
        path = tmp_path / "old.jsonl.gz"
        path.write_bytes(bytes(data))
        rec = read_recording(path)
        assert rec.events == tuple(events[:8])
        assert rec.truncated
        assert rec.n_malformed_lines == 0
        assert rec.damaged_spans[0].t_before == events[7].t
