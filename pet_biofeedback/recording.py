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
even when the gzip trailer never got written; the reader treats such a cut stream, and a
partial last line, as a truncated tail (warning, everything before it kept).

This module imports only the standard library, `pet_biofeedback.errors` and
`pet_biofeedback.events` (design.md §2).
"""

from __future__ import annotations

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
        Partial last lines dropped (0 or 1; a warning was logged).
    truncated : bool
        The file ended early: a partial last line or a compressed stream without its end.
    """

    path: str
    header: RecordingHeader
    events: tuple[Event, ...]
    n_unknown_events: int
    unknown_types: frozenset[str]
    n_truncated_lines: int
    truncated: bool


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
    without its end marker (a crash) sets ``stream_cut`` instead of raising.
    """

    def __init__(self, file: IO[bytes], path: str) -> None:
        self._file = file
        self._path = path
        self._gzip = file.read(2) == _GZIP_MAGIC
        file.seek(0)
        self.stream_cut = False
        self._line_number = 0

    def __iter__(self) -> Iterator[tuple[int, bytes, bool]]:
        pending = b""
        for data in self._chunks():
            pending += data
            if b"\n" not in data:
                continue
            *complete, pending = pending.split(b"\n")
            for line in complete:
                self._line_number += 1
                yield self._line_number, line, True
        if pending:
            self._line_number += 1
            yield self._line_number, pending, False

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
        decompressor = zlib.decompressobj(wbits=_GZIP_WBITS)
        member_started = False
        while raw := self._file.read(_READ_CHUNK_BYTES):
            while raw:
                member_started = True
                try:
                    out = decompressor.decompress(raw)
                except zlib.error as exc:
                    raise RecordingFormatError(
                        f"compressed data are corrupt ({exc}) in {self._path}",
                        line_number=self._line_number + 1,
                    ) from exc
                if out:
                    yield out
                if decompressor.eof:  # another gzip member may follow (concatenated files)
                    raw = decompressor.unused_data
                    decompressor = zlib.decompressobj(wbits=_GZIP_WBITS)
                    member_started = False
                else:
                    raw = b""
        if member_started and not decompressor.eof:
            self.stream_cut = True


def _major_version(value: object) -> int | None:
    """The major number of a header ``version`` (``1``, ``"1"`` or ``"1.2"``); None if invalid."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        major, _, _ = value.partition(".")
        if major.isdigit():
            return int(major)
    return None


def _parse_header(raw: bytes, complete: bool, path: str) -> RecordingHeader:
    try:
        obj = _parse_object(raw)
    except _BadLine as exc:
        if not complete:
            raise RecordingFileError(path, "was cut off before its header was complete") from exc
        raise RecordingFileError(path, "is not a pet-biofeedback recording") from exc
    if obj.get("format") != FORMAT_NAME:
        raise RecordingFileError(path, "is not a pet-biofeedback recording")
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
        The file is missing, unreadable, empty, cut off inside its header, or not a
        recording at all.
    UnsupportedVersionError
        The header's major version is not `FORMAT_VERSION`.
    RecordingFormatError
        The header (line 1) or, while iterating, an event line is malformed: not JSON, not an
        object, a missing key, a value of the wrong type. ``line_number`` says which line.

    Notes
    -----
    A partial last line (no newline, not parseable) is a crash's truncated tail: it is
    dropped with a warning and counted in `n_truncated_lines`. A gzip stream without its end
    marker is read as far as it goes (`truncated`). Unknown event types are skipped and
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
            self._line_iter = iter(self._lines)
            first = next(self._line_iter, None)
            if first is None:
                raise RecordingFileError(
                    self.path,
                    "is empty (cut off before anything was written)"
                    if self._lines.stream_cut
                    else "is empty",
                )
            _, raw, complete = first
            self.header = _parse_header(raw, complete, self.path)
        except BaseException:
            self._file.close()
            raise

    @property
    def unknown_types(self) -> frozenset[str]:
        """Event types met that this reader does not know."""
        return frozenset(self._unknown_types)

    @property
    def truncated(self) -> bool:
        """True when the file ended early (partial last line or cut compressed stream)."""
        return self.n_truncated_lines > 0 or self._lines.stream_cut

    def __iter__(self) -> Iterator[Event]:
        if self._iterated:
            raise RuntimeError("a RecordingReader can be iterated only once")
        self._iterated = True
        return self._events()

    def _events(self) -> Iterator[Event]:
        for line_number, raw, complete in self._line_iter:
            try:
                obj = _parse_object(raw)
            except _BadLine as exc:
                if not complete:
                    self.n_truncated_lines += 1
                    logger.warning(
                        "%s: the last line (%d) is incomplete, as after a crash; "
                        "kept everything before it",
                        self.path,
                        line_number,
                    )
                    break
                raise RecordingFormatError(f"{exc} ({self.path})", line_number=line_number) from exc
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
                continue
            yield event
        if self._lines.stream_cut:
            logger.warning(
                "%s: the compressed stream ends early, as after a crash; "
                "kept everything before the cut",
                self.path,
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
