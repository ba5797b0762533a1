"""Recording format v1 (design.md §4): a crash-safe writer and a tolerant reader.

A recording is JSON Lines in UTF-8, one object per line, optionally gzip-compressed
(``.jsonl.gz``). Line 1 is the header::

    {"format": "pet-biofeedback-recording", "version": 1,
     "started_at": "2026-05-01T09:30:00.000+02:00",
     "device": {...}, "settings": {...}, "app_version": "0.1.0"}

Every later line is one event, ``{"t": 12.345, "type": "rr", ...}``. The on-disk keys are
frozen; this module is the one place that maps them to the unit-suffixed field names of
`pet_biofeedback.events` (style.md §2.2):

=========  ===================  ==================================================
type       event                keys (→ field)
=========  ===================  ==================================================
``rr``     `RRIntervals`        ``rr_ms`` (list) → ``rr_ms``
``hr``     `HeartRate`          ``bpm`` → ``hr_bpm``
``ecg``    `EcgFrame`           ``fs`` → ``fs_hz``, ``uv`` (list) → ``ecg_uv``
``acc``    `AccFrame`           ``fs`` → ``fs_hz``, ``mg`` (list of [x, y, z]) → ``acc_mg``
``contact`` `Contact`           ``ok``
``link``   `Link`               ``state`` (a `LinkState` value), ``detail``
``battery`` `Battery`           ``percent`` → ``battery_pct``
``raw``    `RawNotification`    ``char`` → ``characteristic``, ``hex`` → ``payload``
``pacer``  `PacerPhase`         ``bpm`` → ``breaths_per_min``, ``inhale_s``, ``exhale_s``
``marker`` `Marker`             ``text``
``rating`` `Rating`             ``kind``, ``value``
``gap``    `Gap`                ``seconds``, ``reason``
=========  ===================  ==================================================

Every event line also has ``t`` (s since session start, see `pet_biofeedback.events`). Readers
ignore keys they do not know and skip event types they do not know (later minor versions may
add both); a different major ``version`` is rejected with `UnsupportedVersionError`.

Crash safety: the writer flushes at least every `FLUSH_INTERVAL_S` and fsyncs at least every
`FSYNC_INTERVAL_S` and on close, so a crash or power cut loses at most the last seconds. A
compressed file is flushed with ``Z_SYNC_FLUSH``, so everything flushed can be decompressed
even when the gzip trailer never got written. The reader treats as a truncated tail (warning,
everything before it kept) a partial last line, unreadable lines up to the end (a power cut
can leave zero bytes or garbage), and a compressed stream that is cut or turns unreadable.
Inflating zero bytes or garbage can produce plausible lines, so of a stream that turns
unreadable or ends in zero bytes the reader keeps only what its last flush finished. Zero
padding after a complete gzip stream is skipped, as ``gzip`` does.

This module imports only the standard library, `pet_biofeedback.errors` and
`pet_biofeedback.events` (design.md §2).
"""

from __future__ import annotations

import codecs
import enum
import importlib.metadata
import json
import logging
import math
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType, TracebackType
from typing import IO, Final, Self, TypeGuard, assert_never

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

__all__ = [
    "FILE_MODE",
    "FLUSH_INTERVAL_S",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "FSYNC_INTERVAL_S",
    "Recording",
    "RecordingHeader",
    "RecordingReader",
    "RecordingWriter",
    "iter_events",
    "read_recording",
]

logger = logging.getLogger(__name__)

FORMAT_NAME: Final = "pet-biofeedback-recording"
FORMAT_VERSION: Final = 1  # major version written and understood (design.md §4)
FLUSH_INTERVAL_S: Final = 1.0  # design.md §4: "flush at least every second"
FSYNC_INTERVAL_S: Final = 5.0  # design.md §4: "fsync at least every 5 s and on close"
FILE_MODE: Final = 0o600  # issue 3: "files readable only by their owner"

_GZIP_MAGIC: Final = b"\x1f\x8b"
_GZIP_WBITS: Final = 31  # zlib: gzip header and trailer
_GZIP_LEVEL: Final = 6
_WRITE_BUFFER_BYTES: Final = 1 << 16
_READ_CHUNK_BYTES: Final = 1 << 16
_INFLATE_PIECE_BYTES: Final = 1 << 16  # most output of one decompress call
_SYNC_MARKER: Final = b"\x00\x00\xff\xff"  # ends the empty stored block of a Z_SYNC_FLUSH
_HOLD_LIMIT_BYTES: Final = 1 << 22  # output held back at most when no sync marker comes
# A compressed stream ending in this many zero bytes was zero-filled (a sync marker has 2 or 3).
_ZERO_FILL_MIN_BYTES: Final = 8
# Integral floats in the bulky sample lists are written as JSON integers ("-123" rather than
# "-123.0"); beyond 2**53 not every integer is a float, so those stay floats.
_EXACT_INT_LIMIT: Final = 2.0**53
_HEADER_KEYS: Final = frozenset(
    {"format", "version", "started_at", "device", "settings", "app_version"}
)

Clock = Callable[[], float]


# --- Writing ---------------------------------------------------------------------------------


def _compact(value: float) -> float | int:
    """An integral float as an int, so JSON spells it without ".0"; reads back equal."""
    if isinstance(value, float) and value.is_integer() and abs(value) < _EXACT_INT_LIMIT:
        return int(value)
    return value


def _event_to_json(event: Event) -> dict[str, object]:
    """The on-disk object of one event (the mapping in the module docstring)."""
    match event:
        case RRIntervals():
            return {"t": event.t, "type": "rr", "rr_ms": list(event.rr_ms)}
        case HeartRate():
            return {"t": event.t, "type": "hr", "bpm": event.hr_bpm}
        case EcgFrame():
            return {
                "t": event.t,
                "type": "ecg",
                "fs": event.fs_hz,
                "uv": [_compact(v) for v in event.ecg_uv],
            }
        case AccFrame():
            return {
                "t": event.t,
                "type": "acc",
                "fs": event.fs_hz,
                "mg": [[_compact(x), _compact(y), _compact(z)] for x, y, z in event.acc_mg],
            }
        case Contact():
            return {"t": event.t, "type": "contact", "ok": event.ok}
        case Link():
            return {"t": event.t, "type": "link", "state": str(event.state), "detail": event.detail}
        case Battery():
            return {"t": event.t, "type": "battery", "percent": event.battery_pct}
        case RawNotification():
            return {
                "t": event.t,
                "type": "raw",
                "char": event.characteristic,
                "hex": event.payload.hex(),
            }
        case PacerPhase():
            return {
                "t": event.t,
                "type": "pacer",
                "bpm": event.breaths_per_min,
                "inhale_s": event.inhale_s,
                "exhale_s": event.exhale_s,
            }
        case Marker():
            return {"t": event.t, "type": "marker", "text": event.text}
        case Rating():
            return {"t": event.t, "type": "rating", "kind": event.kind, "value": event.value}
        case Gap():
            return {"t": event.t, "type": "gap", "seconds": event.seconds, "reason": event.reason}
        case _:
            assert_never(event)


def _json_line(obj: Mapping[str, object]) -> bytes:
    """One compact JSON line in UTF-8 (floats in shortest round-trip form, no NaN).

    Text that cannot be UTF-8 (lone surrogates) is written with ``\\u`` escapes instead, which
    round-trips exactly.
    """
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    try:
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode("ascii") + b"\n"


def _default_app_version() -> str:
    try:
        return importlib.metadata.version("pet-biofeedback")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _fsync_directory(path: str) -> None:
    """Make a new file's directory entry durable; not every platform can, which is fine."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError as exc:  # Windows cannot open directories
        logger.debug("cannot open %s to fsync it: %s", directory, exc)
        return
    try:
        os.fsync(dir_fd)
    except OSError as exc:  # some filesystems refuse fsync on directories
        logger.debug("cannot fsync directory %s: %s", directory, exc)
    finally:
        os.close(dir_fd)


class RecordingWriter:
    """Write a recording (format v1), crash-safe.

    Creates the file (mode 0600, owner only; never replaces an existing file unless
    ``overwrite``), writes and fsyncs the header at once, then one line per `write`. A path
    ending in ``.gz`` is gzip-compressed.

    Durability is time-based on ``clock``: `write` flushes to the operating system when the
    last flush is `FLUSH_INTERVAL_S` or more ago and fsyncs when the last fsync is
    `FSYNC_INTERVAL_S` or more ago; `close` flushes and fsyncs. When events may pause (no
    strap data for a while), a background caller calls `maybe_sync` about once a second so the
    last events still reach the disk. All methods are thread-safe: an asyncio engine that must
    not block on fsync passes ``sync_in_write=False`` (then `write` only flushes) and runs
    ``await asyncio.to_thread(writer.maybe_sync)`` every second (style.md §2.8).

    Parameters
    ----------
    path : str or os.PathLike
        The file to create, ``*.jsonl`` or ``*.jsonl.gz``.
    device : Mapping
        JSON-serialisable description of the device (name, model, firmware, …).
    settings : Mapping
        JSON-serialisable session settings.
    clock : callable () -> float, default time.monotonic
        Monotonic clock in s, used only to time flushes and fsyncs.
    app_version : str, optional
        Written to the header; default the installed pet-biofeedback version.
    started_at : datetime, optional
        Wall-clock start of the session, timezone-aware; default now, in local time with its
        UTC offset.
    overwrite : bool, default False
        Replace an existing file instead of refusing.
    sync_in_write : bool, default True
        Let `write` fsync when one is due; False leaves fsync to `maybe_sync`/`sync`/`close`.
    fsync : callable (int) -> None, default os.fsync
        The fsync function (tests inject a counter).

    Raises
    ------
    RecordingFileError
        The file exists (and ``overwrite`` is False) or cannot be created.
    ConfigError
        ``device``/``settings`` are not JSON-serialisable or ``started_at`` has no timezone.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        device: Mapping[str, object],
        settings: Mapping[str, object],
        clock: Clock = time.monotonic,
        app_version: str | None = None,
        started_at: datetime | None = None,
        overwrite: bool = False,
        sync_in_write: bool = True,
        fsync: Callable[[int], None] = os.fsync,
    ) -> None:
        self._path = os.fspath(path)
        self._clock = clock
        self._fsync_fn = fsync
        self._sync_in_write = sync_in_write
        self._lock = threading.Lock()
        self._n_events = 0
        self._closed = True  # until the file exists
        if started_at is None:
            started_at = datetime.now(UTC).astimezone()
        elif started_at.tzinfo is None or started_at.utcoffset() is None:
            raise ConfigError(f"started_at must carry a UTC offset, got {started_at!r}")
        header: dict[str, object] = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "started_at": started_at.isoformat(timespec="milliseconds"),
            "device": dict(device),
            "settings": dict(settings),
            "app_version": _default_app_version() if app_version is None else app_version,
        }
        try:
            header_line = _json_line(header)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"device and settings must be JSON-serialisable: {exc}") from exc

        flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
        flags |= os.O_TRUNC if overwrite else os.O_EXCL
        try:
            fd = os.open(self._path, flags, FILE_MODE)
        except FileExistsError as exc:
            raise RecordingFileError(
                self._path, "already exists; choose another file name"
            ) from exc
        except OSError as exc:
            raise RecordingFileError(
                self._path, f"cannot be created ({exc.strerror or exc})"
            ) from exc
        if hasattr(os, "fchmod"):  # an overwritten file keeps its old mode otherwise
            os.fchmod(fd, FILE_MODE)
        self._file: IO[bytes] = os.fdopen(fd, "wb", buffering=_WRITE_BUFFER_BYTES)
        self._compressor = (
            zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, _GZIP_WBITS)
            if self._path.endswith(".gz")
            else None
        )
        self._closed = False
        self._dirty = False  # written since the last flush
        self._unsynced = False  # flushed since the last fsync
        self._last_flush = self._last_fsync = self._clock()
        try:
            self._put(header_line)
            now = self._clock()
            self._flush_locked(now)
            self._fsync_locked(now)
        except BaseException:
            self._file.close()
            self._closed = True
            raise
        _fsync_directory(self._path)
        logger.info("recording to %s", self._path)

    @property
    def path(self) -> str:
        """The file being written."""
        return self._path

    @property
    def n_events(self) -> int:
        """Number of events written so far."""
        return self._n_events

    @property
    def closed(self) -> bool:
        """True after `close`."""
        return self._closed

    def write(self, event: Event) -> None:
        """Append one event; flush (and fsync, unless disabled) when due.

        Raises
        ------
        RecordingError
            The writer is closed, the event holds NaN/infinite numbers, or writing failed.
        """
        try:
            line = _json_line(_event_to_json(event))
        except ValueError as exc:
            raise RecordingError(
                f"{self._path}: cannot record {event!r}: JSON has no NaN or infinity"
            ) from exc
        with self._lock:
            self._check_open()
            self._put(line)
            self._n_events += 1
            self._sync_if_due(self._clock(), fsync=self._sync_in_write)

    def maybe_sync(self) -> None:
        """Flush and fsync whatever is due; call about once a second when events may pause.

        Does nothing after `close`.
        """
        with self._lock:
            if not self._closed:
                self._sync_if_due(self._clock(), fsync=True)

    def sync(self) -> None:
        """Flush and fsync now."""
        with self._lock:
            self._check_open()
            now = self._clock()
            self._flush_locked(now)
            self._fsync_locked(now)

    def close(self) -> None:
        """Finish the file (gzip trailer), flush, fsync and close it; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self._compressor is not None:
                    self._file.write(self._compressor.flush(zlib.Z_FINISH))
                self._file.flush()
                self._fsync_fn(self._file.fileno())
            except OSError as exc:
                raise self._write_failed(exc) from exc
            finally:
                self._file.close()
        logger.info("recording closed: %s (%d events)", self._path, self._n_events)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals (call with the lock held) --

    def _check_open(self) -> None:
        if self._closed:
            raise RecordingError(f"{self._path}: the recording is already closed")

    def _put(self, data: bytes) -> None:
        try:
            if self._compressor is not None:
                data = self._compressor.compress(data)
            self._file.write(data)
        except OSError as exc:
            raise self._write_failed(exc) from exc
        self._dirty = True

    def _sync_if_due(self, now: float, *, fsync: bool) -> None:
        if self._dirty and now - self._last_flush >= FLUSH_INTERVAL_S:
            self._flush_locked(now)
        if fsync and self._unsynced and now - self._last_fsync >= FSYNC_INTERVAL_S:
            self._fsync_locked(now)

    def _flush_locked(self, now: float) -> None:
        try:
            if self._compressor is not None and self._dirty:
                self._file.write(self._compressor.flush(zlib.Z_SYNC_FLUSH))
            self._file.flush()
        except OSError as exc:
            raise self._write_failed(exc) from exc
        if self._dirty:
            self._unsynced = True
        self._dirty = False
        self._last_flush = now

    def _fsync_locked(self, now: float) -> None:
        try:
            self._fsync_fn(self._file.fileno())
        except OSError as exc:
            raise self._write_failed(exc) from exc
        self._unsynced = False
        self._last_fsync = now

    def _write_failed(self, exc: OSError) -> RecordingError:
        reason = exc.strerror or str(exc)
        return RecordingError(
            f"{self._path}: writing the recording failed: {reason}",
            user_message=(
                f"The recording {self._path} could not be written ({reason}). "
                "Is the disk full or the drive unplugged?"
            ),
        )


# --- Reading ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingHeader:
    """The header line of a recording.

    Attributes
    ----------
    version : int
        Major format version (always `FORMAT_VERSION` once read).
    started_at : datetime
        Wall-clock start of the session, timezone-aware.
    device : Mapping
        The device description, as written.
    settings : Mapping
        The session settings, as written.
    app_version : str
        Version of the program that wrote the file.
    extra : Mapping
        Header keys this reader does not know (written by a later minor version).
    """

    version: int
    started_at: datetime
    device: Mapping[str, object]
    settings: Mapping[str, object]
    app_version: str
    extra: Mapping[str, object]


@dataclass(frozen=True, slots=True, kw_only=True)
class Recording:
    """A whole recording read into memory (`read_recording`).

    Attributes
    ----------
    path : str
        The file read.
    header : RecordingHeader
        Its header.
    events : tuple of Event
        Every event the reader understood, in file order.
    n_unknown_events : int
        Lines of event types this reader does not know (skipped).
    unknown_types : frozenset of str
        Those types.
    n_truncated_lines : int
        1 when a truncated tail of lines was dropped (a partial last line, or unreadable
        lines up to the end, such as the zero bytes a power cut leaves), else 0; a warning
        was logged.
    truncated : bool
        The file ended early: a truncated tail of lines, or a compressed stream that is cut
        or turns unreadable (or has unreadable data after its end).
    """

    path: str
    header: RecordingHeader
    events: tuple[Event, ...]
    n_unknown_events: int
    unknown_types: frozenset[str]
    n_truncated_lines: int
    truncated: bool


class _StreamProblem(enum.Enum):
    """Why a compressed stream ended early (the value says it in plain words)."""

    CUT = "the compressed data end early, as after a crash"
    DAMAGED = "the compressed data turn unreadable part way, as after a crash or power cut"
    TRAILING_GARBAGE = "unreadable data follow the end of the compressed data"


class _BadLine(Exception):
    """A line that is not a JSON object (private; becomes a `RecordingFormatError`)."""


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def _parse_object(raw: bytes) -> dict[str, object]:
    """One line's JSON object, or `_BadLine` saying why not."""
    try:
        obj = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise _BadLine(f"not valid UTF-8 ({exc.reason})") from exc
    except (ValueError, RecursionError) as exc:
        raise _BadLine(f"not valid JSON ({exc})") from exc
    if not isinstance(obj, dict):
        raise _BadLine(f"a JSON {type(obj).__name__} where an object was expected")
    return obj


class _Lines:
    """Numbered lines of a plain or gzip file: ``(line_number, bytes, ends_with_newline)``.

    Gzip is recognised by its magic bytes, not the file name. A compressed stream that ends
    without its end marker (a crash) or turns unreadable (a power cut leaves zero bytes or
    garbage) ends the lines instead of raising and sets `stream_problem`; what it kept after
    its last flush (see `_GzipMember`) comes last, with `in_unverified_tail` set. Zero padding
    after a complete gzip member is skipped, as ``gzip`` does; other data there also set
    `stream_problem`.

    After an unreadable complete line, `only_damage_follows` looks ahead to tell a damaged
    tail from a malformed line in the middle; either way the caller then stops iterating.
    """

    def __init__(self, file: IO[bytes], path: str) -> None:
        self._file = file
        self._path = path
        self._gzip = file.read(2) == _GZIP_MAGIC
        file.seek(0)
        self.stream_problem: _StreamProblem | None = None
        self._member_done = False  # a gzip member has ended with a verified trailer
        self.in_unverified_tail = False  # the lines now come from a stream's unverified end
        self._chunk_iter = self._chunks()
        self._line_iter = self._split_lines()

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> tuple[int, bytes, bool]:
        return next(self._line_iter)

    def only_damage_follows(self) -> bool:
        """After an unreadable complete line: is it the start of a damaged tail?

        True when no later line is a JSON object (only zero bytes or garbage up to the end).
        Reads on up to the first such line, or to the end of the file.
        """
        for _, raw, _ in self._line_iter:
            try:
                _parse_object(raw)
            except _BadLine:
                continue
            return False
        return True

    def _split_lines(self) -> Iterator[tuple[int, bytes, bool]]:
        line_number = 0
        head: list[bytes] = []  # the pieces of a line not ended yet
        for data in self._chunk_iter:
            *ended, rest = data.split(b"\n")
            if ended:
                ended[0] = b"".join([*head, ended[0]])
                head = []
                for line in ended:
                    line_number += 1
                    yield line_number, line, True
            if rest:
                head.append(rest)
        if head:
            yield line_number + 1, b"".join(head), False

    def _chunks(self) -> Iterator[bytes]:
        try:
            if not self._gzip:
                while chunk := self._file.read(_READ_CHUNK_BYTES):
                    yield chunk
                return
            yield from self._gunzip_chunks()
        except OSError as exc:
            raise RecordingFileError(
                self._path, f"could not be read ({exc.strerror or exc})"
            ) from exc

    def _gunzip_chunks(self) -> Iterator[bytes]:
        member: _GzipMember | None = None  # None between gzip members
        data = b""
        while True:
            if not data:
                data = self._file.read(_READ_CHUNK_BYTES)
                if not data:
                    break
            if member is None:
                data = data.lstrip(b"\x00")  # zero padding after a member: gzip skips it too
                if not data:
                    continue
                member = _GzipMember()
            try:
                yield from member.inflate(data)
            except zlib.error as exc:
                logger.debug("%s: compressed data unreadable: %s", self._path, exc)
                self.in_unverified_tail = True
                yield member.unverified_tail(damaged=True)
                self.stream_problem = (
                    _StreamProblem.TRAILING_GARBAGE
                    if self._member_done and not member.produced
                    else _StreamProblem.DAMAGED
                )
                return
            if member.eof:  # another gzip member may follow (concatenated files)
                self._member_done = True
                data = member.unused_data
                member = None
            else:
                data = b""
        if member is not None:
            self.stream_problem = _StreamProblem.CUT
            self.in_unverified_tail = True
            yield member.unverified_tail(damaged=False)


class _GzipMember:
    """One gzip member being inflated; output after its last sync point is held back.

    The writer ends every flush with ``Z_SYNC_FLUSH``, i.e. the byte-aligned marker
    `_SYNC_MARKER`, always after a complete line. Input is fed up to each marker, so the
    output up to it is complete once the marker has been inflated; that output is then
    released, and so is the rest at the member's verified end. When the member ends
    without its end, `unverified_tail` decides about the output held since the last sync
    point: inflating zero bytes or garbage can produce plausible lines, even copies of
    earlier ones, so it is dropped after damaged data or a zero-filled end, and kept after
    a plain cut (a crash), whose output is genuine. A member without sync points (not
    written by `RecordingWriter`) has nothing better to go back to: its output is kept,
    and released at least every `_HOLD_LIMIT_BYTES`.
    """

    def __init__(self) -> None:
        self._decompressor = zlib.decompressobj(wbits=_GZIP_WBITS)
        self._carry = b""  # the last bytes fed, to find a marker split across reads
        self._zero_run = 0  # zero bytes at the end of the input fed so far
        self._held: list[bytes] = []  # output since the last sync point
        self._n_held = 0
        self.synced = False  # a sync point has been passed
        self.produced = False  # the member has produced output
        self.eof = False  # the member ended, its trailer verified
        self.unused_data = b""  # input after the member's end

    def inflate(self, data: bytes) -> Iterator[bytes]:
        """Inflate ``data`` and yield the output now trusted.

        Raises ``zlib.error`` at damaged data, keeping what came before it in
        `unverified_tail`.
        """
        while data:
            combined = self._carry + data
            at = combined.find(_SYNC_MARKER)
            end = at + len(_SYNC_MARKER) - len(self._carry) if at >= 0 else len(data)
            piece, data = data[:end], data[end:]
            self._carry = combined[: len(self._carry) + end][-(len(_SYNC_MARKER) - 1) :]
            nonzero = piece.rstrip(b"\x00")
            self._zero_run = len(piece) - len(nonzero) + (0 if nonzero else self._zero_run)
            self._inflate_piece(piece)
            if self.eof:
                self.unused_data = self._decompressor.unused_data + data
                yield self._release()
                return
            if at >= 0:
                self.synced = True
            if at >= 0 or self._n_held > _HOLD_LIMIT_BYTES:
                yield self._release()

    def unverified_tail(self, *, damaged: bool) -> bytes:
        """The held output to keep after the member ended early (cut, or ``damaged``)."""
        held = self._release()
        zero_filled = self._zero_run >= _ZERO_FILL_MIN_BYTES  # a power cut's, not a plain cut
        return b"" if self.synced and (damaged or zero_filled) else held

    def _inflate_piece(self, piece: bytes) -> None:
        decompressor = self._decompressor
        while True:
            before = decompressor.copy()
            try:
                out = decompressor.decompress(piece, _INFLATE_PIECE_BYTES)
            except zlib.error:
                # Everything the failed call had inflated is lost: redo it byte by byte.
                self._hold(_inflate_until_damage(before, piece))
                raise
            self._hold(out)
            piece = decompressor.unconsumed_tail
            if decompressor.eof:
                self.eof = True
                return
            if not piece and len(out) < _INFLATE_PIECE_BYTES:  # else more may be pending
                return

    def _hold(self, out: bytes) -> None:
        if out:
            self._held.append(out)
            self._n_held += len(out)
            self.produced = True

    def _release(self) -> bytes:
        out = b"".join(self._held)
        self._held = []
        self._n_held = 0
        return out


def _inflate_until_damage(decompressor: zlib._Decompress, data: bytes) -> bytes:
    """What ``decompressor`` inflates from ``data`` before the byte where it fails."""
    out: list[bytes] = []
    for i in range(len(data)):
        try:
            out.append(decompressor.decompress(data[i : i + 1]))
        except zlib.error:
            break
        if decompressor.eof:
            break
    return b"".join(out)


def _major_version(value: object) -> int | None:
    """The major number of a header ``version`` (``1``, ``"1"`` or ``"1.2"``); None if invalid."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        major, _, _ = value.partition(".")
        if major.isdigit():
            return int(major)
    return None


def _text_of(raw: bytes) -> str | None:
    """``raw`` as text (UTF-8, perhaps cut inside its last character); None for binary data."""
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(raw, final=False)
    except UnicodeDecodeError:
        return None
    if all(c >= " " or c in "\t\r" for c in text):
        return text
    return None


def _unreadable_header(
    raw: bytes, complete: bool, stream_problem: _StreamProblem | None, path: str
) -> RecordingFileError:
    """The error for a first line that is not JSON (cut short, damaged, or not a recording)."""
    if stream_problem is _StreamProblem.DAMAGED and not complete:
        return RecordingFileError(
            path,
            "is not a pet-biofeedback recording (it is compressed, but the compressed data "
            "are damaged before the end of its first line)",
        )
    if not complete:
        start = raw.rstrip(b"\x00")  # a power cut can leave zero bytes after the last write
        if not start:
            return RecordingFileError(path, "is empty (cut off before anything was written)")
        text = _text_of(start)
        if text is not None and text.lstrip(" \t\r").startswith("{"):
            return RecordingFileError(path, "was cut off before its header was complete")
    if _text_of(raw) is None:
        return RecordingFileError(
            path, "is not a pet-biofeedback recording (it holds binary data, not text)"
        )
    return RecordingFileError(
        path, "is not a pet-biofeedback recording (its first line is not a recording header)"
    )


def _parse_header(
    raw: bytes, complete: bool, stream_problem: _StreamProblem | None, path: str
) -> RecordingHeader:
    try:
        obj = _parse_object(raw)
    except _BadLine as exc:
        raise _unreadable_header(raw, complete, stream_problem, path) from exc
    if obj.get("format") != FORMAT_NAME:
        raise RecordingFileError(
            path, "is not a pet-biofeedback recording (its first line is not a recording header)"
        )
    major = _major_version(obj.get("version"))
    if major is None:
        raise RecordingFormatError(
            f"header 'version' must be an integer, got {obj.get('version')!r} ({path})",
            line_number=1,
        )
    if major != FORMAT_VERSION:
        raise UnsupportedVersionError(
            f"{path}: recording format version {obj['version']!r} is not supported; "
            f"this program reads major version {FORMAT_VERSION}",
            user_message=(
                f"{path} was made by a different version of pet-biofeedback "
                f"(recording format {obj['version']}); this version reads format "
                f"{FORMAT_VERSION}. Update the program to open it."
            ),
        )

    def problem(message: str) -> RecordingFormatError:
        return RecordingFormatError(f"header: {message} ({path})", line_number=1)

    missing = sorted(_HEADER_KEYS - obj.keys())
    if missing:
        raise problem(f"missing {', '.join(repr(k) for k in missing)}")
    started_at_text = obj["started_at"]
    if not isinstance(started_at_text, str):
        raise problem("'started_at' must be an ISO-8601 string")
    try:
        started_at = datetime.fromisoformat(started_at_text)
    except ValueError as exc:
        raise problem(f"'started_at' is not ISO-8601: {started_at_text!r}") from exc
    if started_at.utcoffset() is None:
        raise problem(f"'started_at' has no UTC offset: {started_at_text!r}")
    device, settings, app_version = obj["device"], obj["settings"], obj["app_version"]
    if not isinstance(device, dict) or not isinstance(settings, dict):
        raise problem("'device' and 'settings' must be JSON objects")
    if not isinstance(app_version, str):
        raise problem("'app_version' must be a string")
    return RecordingHeader(
        version=major,
        started_at=started_at,
        device=MappingProxyType(device),
        settings=MappingProxyType(settings),
        app_version=app_version,
        extra=MappingProxyType({k: v for k, v in obj.items() if k not in _HEADER_KEYS}),
    )


def _is_number(value: object) -> TypeGuard[int | float]:
    """A JSON number that is finite (bools are not numbers here)."""
    return type(value) is int or (type(value) is float and math.isfinite(value))


class _Fields:
    """Typed access to one event line's keys; every failure names the line and the key."""

    __slots__ = ("_line_number", "_obj", "_path", "kind")

    def __init__(self, obj: dict[str, object], kind: str, line_number: int, path: str) -> None:
        self._obj = obj
        self.kind = kind
        self._line_number = line_number
        self._path = path

    def error(self, message: str) -> RecordingFormatError:
        return RecordingFormatError(
            f"{self.kind!r} event: {message} ({self._path})", line_number=self._line_number
        )

    def _get(self, key: str) -> object:
        try:
            return self._obj[key]
        except KeyError:
            raise self.error(f"missing {key!r}") from None

    def number(self, key: str) -> float:
        value = self._get(key)
        if _is_number(value):
            return float(value)
        raise self.error(f"{key!r} must be a finite number, got {value!r}")

    def integer(self, key: str) -> int:
        value = self._get(key)
        if type(value) is not int:
            raise self.error(f"{key!r} must be an integer, got {value!r}")
        return value

    def boolean(self, key: str) -> bool:
        value = self._get(key)
        if type(value) is not bool:
            raise self.error(f"{key!r} must be true or false, got {value!r}")
        return value

    def text(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str):
            raise self.error(f"{key!r} must be a string, got {value!r}")
        return value

    def numbers(self, key: str) -> tuple[float, ...]:
        values = self._get(key)
        if isinstance(values, list):
            numbers = tuple([float(v) for v in values if _is_number(v)])
            if len(numbers) == len(values):
                return numbers
        raise self.error(f"{key!r} must be a list of finite numbers")

    def xyz(self, key: str) -> tuple[tuple[float, float, float], ...]:
        values = self._get(key)
        if isinstance(values, list):
            triples = tuple(
                [
                    (float(v[0]), float(v[1]), float(v[2]))
                    for v in values
                    if isinstance(v, list)
                    and len(v) == 3
                    and _is_number(v[0])
                    and _is_number(v[1])
                    and _is_number(v[2])
                ]
            )
            if len(triples) == len(values):
                return triples
        raise self.error(f"{key!r} must be a list of [x, y, z] number triples")

    def link_state(self, key: str) -> LinkState:
        value = self.text(key)
        try:
            return LinkState(value)
        except ValueError:
            valid = ", ".join(s.value for s in LinkState)
            raise self.error(f"{key!r} must be one of {valid}, got {value!r}") from None

    def hex_bytes(self, key: str) -> bytes:
        value = self.text(key)
        try:
            return bytes.fromhex(value)
        except ValueError:
            raise self.error(f"{key!r} is not hexadecimal: {value!r}") from None


def _decode_event(fields: _Fields) -> Event | None:
    """The event of one line (the mapping in the module docstring); None for unknown types."""
    t = fields.number("t")
    match fields.kind:
        case "rr":
            return RRIntervals(t, fields.numbers("rr_ms"))
        case "hr":
            return HeartRate(t, fields.number("bpm"))
        case "ecg":
            return EcgFrame(t, fields.number("fs"), fields.numbers("uv"))
        case "acc":
            return AccFrame(t, fields.number("fs"), fields.xyz("mg"))
        case "contact":
            return Contact(t, fields.boolean("ok"))
        case "link":
            return Link(t, fields.link_state("state"), fields.text("detail"))
        case "battery":
            return Battery(t, fields.integer("percent"))
        case "raw":
            return RawNotification(t, fields.text("char"), fields.hex_bytes("hex"))
        case "pacer":
            return PacerPhase(
                t, fields.number("bpm"), fields.number("inhale_s"), fields.number("exhale_s")
            )
        case "marker":
            return Marker(t, fields.text("text"))
        case "rating":
            return Rating(t, fields.text("kind"), fields.number("value"))
        case "gap":
            return Gap(t, fields.number("seconds"), fields.text("reason"))
        case _:
            return None


class RecordingReader:
    """Read a recording line by line (plain or gzip, recognised by content).

    Opening reads and checks the header; iterating (once) yields the events in file order.
    The counters are final once iteration has finished.

    Parameters
    ----------
    path : str or os.PathLike
        The recording.

    Raises
    ------
    RecordingFileError
        The file is missing, unreadable, empty, cut off or damaged inside its header, or not
        a recording at all.
    UnsupportedVersionError
        The header's major version is not `FORMAT_VERSION`.
    RecordingFormatError
        The header (line 1) or, while iterating, an event line is malformed: not JSON, not an
        object, a missing key, a value of the wrong type. ``line_number`` says which line.

    Notes
    -----
    A crash or power cut leaves a truncated tail, which is dropped with a warning (counted in
    `n_truncated_lines`, `truncated` set): a partial last line (no newline, not parseable),
    or a line that is not JSON followed only by more such lines (zero bytes, garbage). A line
    that is not JSON with valid lines after it is a `RecordingFormatError`. A gzip stream
    that is cut is read as far as it goes, one that turns unreadable or ends in zero bytes up
    to its last flush (`truncated` either way); a bad line after its last flush ends it too.
    Zero padding after a complete gzip stream is skipped. Unknown event types are skipped and
    counted in `n_unknown_events`.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        try:
            self._file: IO[bytes] = open(self.path, "rb")  # closed in close()
        except FileNotFoundError as exc:
            raise RecordingFileError(self.path, "does not exist") from exc
        except IsADirectoryError as exc:
            raise RecordingFileError(self.path, "is a folder, not a recording") from exc
        except OSError as exc:
            raise RecordingFileError(
                self.path, f"could not be opened ({exc.strerror or exc})"
            ) from exc
        self.n_unknown_events = 0
        self.n_truncated_lines = 0
        self._unknown_types: set[str] = set()
        self._iterated = False
        try:
            self._lines = _Lines(self._file, self.path)
            first = next(self._lines, None)
            problem = self._lines.stream_problem
            if first is None:
                if problem is _StreamProblem.DAMAGED:
                    raise RecordingFileError(
                        self.path,
                        "is not a pet-biofeedback recording (it is compressed, but the "
                        "compressed data are damaged from the start)",
                    )
                raise RecordingFileError(
                    self.path,
                    "is empty (cut off before anything was written)"
                    if problem is _StreamProblem.CUT
                    else "is empty",
                )
            _, raw, complete = first
            self.header = _parse_header(raw, complete, problem, self.path)
        except BaseException:
            self._file.close()
            raise

    @property
    def unknown_types(self) -> frozenset[str]:
        """Event types met that this reader does not know."""
        return frozenset(self._unknown_types)

    @property
    def truncated(self) -> bool:
        """True when the file ended early: a truncated tail (a partial last line, or zero bytes
        or garbage after the last good line) or a cut or damaged compressed stream."""
        return self.n_truncated_lines > 0 or self._lines.stream_problem is not None

    def __iter__(self) -> Iterator[Event]:
        if self._iterated:
            raise RuntimeError("a RecordingReader can be iterated only once")
        self._iterated = True
        return self._events()

    def _events(self) -> Iterator[Event]:
        lines = self._lines
        for line_number, raw, complete in lines:
            try:
                obj = _parse_object(raw)
            except _BadLine as exc:
                # Checked in this order: the look-ahead reads on through the file.
                if not complete or lines.in_unverified_tail or lines.only_damage_follows():
                    self._drop_tail(line_number, complete=complete)
                    break
                raise RecordingFormatError(f"{exc} ({self.path})", line_number=line_number) from exc
            try:
                event = self._decode(obj, line_number)
            except RecordingFormatError:
                if lines.in_unverified_tail:  # inflated from zero bytes or garbage, maybe
                    self._drop_tail(line_number, complete=complete)
                    break
                raise
            if event is not None:
                yield event
        if self._lines.stream_problem is not None:
            logger.warning(
                "%s: %s; kept everything before that",
                self.path,
                self._lines.stream_problem.value,
            )

    def _decode(self, obj: dict[str, object], line_number: int) -> Event | None:
        """The event of one line's object; None (counted) for an unknown type."""
        kind = obj.get("type")
        if not isinstance(kind, str):
            raise RecordingFormatError(
                f"event has no string 'type' ({self.path})", line_number=line_number
            )
        event = _decode_event(_Fields(obj, kind, line_number, self.path))
        if event is None:
            if kind not in self._unknown_types:
                logger.info("%s: skipping events of unknown type %r", self.path, kind)
                self._unknown_types.add(kind)
            self.n_unknown_events += 1
        return event

    def _drop_tail(self, line_number: int, *, complete: bool) -> None:
        self.n_truncated_lines += 1
        if complete:
            logger.warning(
                "%s: line %d and everything after it are unreadable (zero bytes or garbage, "
                "as after a crash or power cut); kept everything before it",
                self.path,
                line_number,
            )
        else:
            logger.warning(
                "%s: the last line (%d) is incomplete, as after a crash; kept everything before it",
                self.path,
                line_number,
            )

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def iter_events(path: str | os.PathLike[str]) -> Iterator[Event]:
    """Stream the events of a recording without holding them all in memory.

    A generator: the errors of `RecordingReader` are raised when iteration starts or reaches
    the bad line. Use `RecordingReader` directly to see the header and the counters.

    Parameters
    ----------
    path : str or os.PathLike
        The recording (plain or gzip).

    Yields
    ------
    Event
        The events in file order.
    """
    with RecordingReader(path) as reader:
        yield from reader


def read_recording(path: str | os.PathLike[str]) -> Recording:
    """Read a whole recording.

    Parameters
    ----------
    path : str or os.PathLike
        The recording (plain or gzip).

    Returns
    -------
    Recording
        Header, events and the tolerance counters (see `RecordingReader` for what is
        tolerated and what raises).

    Raises
    ------
    RecordingFileError, UnsupportedVersionError, RecordingFormatError
        As `RecordingReader`.
    """
    with RecordingReader(path) as reader:
        events = tuple(reader)
        result = Recording(
            path=reader.path,
            header=reader.header,
            events=events,
            n_unknown_events=reader.n_unknown_events,
            unknown_types=reader.unknown_types,
            n_truncated_lines=reader.n_truncated_lines,
            truncated=reader.truncated,
        )
    logger.info(
        "read %s: %d events%s",
        result.path,
        len(events),
        " (truncated tail)" if result.truncated else "",
    )
    return result
