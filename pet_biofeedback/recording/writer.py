"""The crash-safe recording writer (format v1; package docstring, design.md §4)."""

from __future__ import annotations

import errno
import importlib.metadata
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Final, Self

from pet_biofeedback.errors import (
    ConfigError,
    RecordingError,
    RecordingFileError,
    RecordingWriteError,
)
from pet_biofeedback.events import Event
from pet_biofeedback.recording._events_json import event_line, json_line
from pet_biofeedback.recording._format import (
    FILE_MODE,
    FLUSH_INTERVAL_S,
    FORMAT_NAME,
    FORMAT_VERSION,
    FSYNC_INTERVAL_S,
    format_t,
)
from pet_biofeedback.recording._frame_writing import frame_lines
from pet_biofeedback.recording._gzip_members import END_MEMBER, MemberBuilder
from pet_biofeedback.recording._header import RecordingHeader, parse_header

__all__ = ["MEMBER_INPUT_BYTES", "RecordingWriter"]

logger = logging.getLogger(__name__)

# A gzip member (or, for a plain file, a write to the OS) at least every 64 KiB of lines, as
# BGZF does: when many events come per second (``--speed max``) damage then costs one such
# member instead of a whole second of them, and memory stays bounded.
MEMBER_INPUT_BYTES: Final = 1 << 16
# Write errors that mean "no room": the disk, the user's quota or the file size limit
# (``ulimit -f``; with SIGXFSZ ignored the write fails with EFBIG).
_DISK_FULL_ERRNOS: Final = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})

Clock = Callable[[], float]


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


class _PlainBuffer:
    """Lines of a plain recording not yet handed to the OS (same interface as MemberBuilder)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.n_bytes_in = 0

    def add(self, data: bytes) -> None:
        self._parts.append(data)
        self.n_bytes_in += len(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts = []
        self.n_bytes_in = 0
        return data


class RecordingWriter:
    """Write a recording (format v1), crash-safe.

    Creates the file (mode 0600, owner only; never replaces an existing file unless
    ``overwrite``), writes and fsyncs the header at once, then one line per `write`. A path
    ending in ``.gz`` is gzip-compressed, one gzip member per flush (package docstring).

    Durability is time-based on ``clock``: `write` hands what it holds to the operating system
    (a "flush": for gzip, one finished member) when the last flush is `FLUSH_INTERVAL_S` or
    more ago or `MEMBER_INPUT_BYTES` of lines are waiting, and fsyncs when the last fsync is
    `FSYNC_INTERVAL_S` or more ago; `close` flushes, writes the end marker and fsyncs. When
    events may pause (no strap data for a while), a background caller calls `maybe_sync`
    about once a second so the last events still reach the disk. All methods are
    thread-safe: an asyncio engine that must not block on fsync passes
    ``sync_in_write=False`` (then `write` only flushes) and runs
    ``await asyncio.to_thread(writer.maybe_sync)`` every second (style.md §2.8).

    When writing fails (a full disk, the file size limit, a drive unplugged) the file is cut
    back to the last complete flush, the writer stops, and one `RecordingWriteError` says how
    much was saved; later calls raise it again, and `close` then only releases the file.

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
    os_write : callable (int, memoryview) -> int, default os.write
        The function that hands bytes to the OS (tests inject a full disk).

    Raises
    ------
    RecordingFileError
        The file exists (and ``overwrite`` is False) or cannot be created.
    RecordingWriteError
        The header cannot be written (disk full).
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
        os_write: Callable[[int, memoryview], int] = os.write,
    ) -> None:
        self._path = os.fspath(path)
        self._clock = clock
        self._fsync_fn = fsync
        self._os_write = os_write
        self._sync_in_write = sync_in_write
        self._lock = threading.Lock()
        self._n_events = 0
        self._last_t: float | None = None
        self._n_events_saved = 0  # in complete flushes handed to the OS
        self._saved_until_t: float | None = None
        self._n_bytes_saved = 0  # file size after the last complete flush
        self._failure: RecordingWriteError | None = None
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
            header_line = json_line(header)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"device and settings must be JSON-serialisable: {exc}") from exc
        # What a reader will make of line 1 (a mapping key that is not a string is written
        # as a string, for one): the header a caller gathering what it wrote must use.
        self._header = parse_header(header_line.rstrip(b"\n"), True, False, self._path)

        flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
        flags |= os.O_TRUNC if overwrite else os.O_EXCL
        try:
            self._fd = os.open(self._path, flags, FILE_MODE)
        except FileExistsError as exc:
            raise RecordingFileError(
                self._path, "already exists; choose another file name"
            ) from exc
        except OSError as exc:
            raise RecordingFileError(
                self._path, f"cannot be created ({exc.strerror or exc})"
            ) from exc
        if hasattr(os, "fchmod"):  # an overwritten file keeps its old mode otherwise
            os.fchmod(self._fd, FILE_MODE)
        self._gzip = self._path.endswith(".gz")
        self._pending: MemberBuilder | _PlainBuffer = (
            MemberBuilder() if self._gzip else _PlainBuffer()
        )
        self._closed = False
        self._unsynced = False  # flushed since the last fsync
        self._last_flush = self._last_fsync = self._clock()
        try:
            self._pending.add(header_line)
            now = self._clock()
            self._flush_locked(now)
            self._fsync_locked(now)
        except BaseException:
            self._release_fd()
            raise
        _fsync_directory(self._path)
        logger.info("recording to %s", self._path)

    @property
    def path(self) -> str:
        """The file being written."""
        return self._path

    @property
    def header(self) -> RecordingHeader:
        """The header as a reader reads it back from the file."""
        return self._header

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
        RecordingWriteError
            Writing failed (now or before): disk full, file size limit, drive gone.
        RecordingError
            The writer is closed or the event holds NaN, infinite or absurdly large numbers.
        """
        line = self._line(event)
        with self._lock:
            self._check_open()
            self._add_locked(line, event.t)

    def write_many(self, events: Sequence[Event]) -> None:
        """Append events in order, as `write` one after another would (same file, same
        flushes), with the samples of ECG and ACC frames spelled together (faster).

        Raises
        ------
        RecordingWriteError, RecordingError
            As `write`; the events before the one that failed are written.
        """
        lines = frame_lines(events)
        with self._lock:
            self._check_open()
            for event, line in zip(events, lines, strict=True):
                self._add_locked(self._line(event) if line is None else line, event.t)

    def _line(self, event: Event) -> bytes:
        try:
            return event_line(event)
        except ValueError as exc:
            raise RecordingError(f"{self._path}: cannot record {event!r}: {exc}") from exc

    def _add_locked(self, line: bytes, t: float) -> None:
        self._pending.add(line)
        self._n_events += 1
        self._last_t = t
        now = self._clock()
        if self._pending.n_bytes_in >= MEMBER_INPUT_BYTES:
            self._flush_locked(now)
        self._sync_if_due(now, fsync=self._sync_in_write)

    def maybe_sync(self) -> None:
        """Flush and fsync whatever is due; call about once a second when events may pause.

        Does nothing after `close` or after writing failed.
        """
        with self._lock:
            if not self._closed and self._failure is None:
                self._sync_if_due(self._clock(), fsync=True)

    def sync(self) -> None:
        """Flush and fsync now."""
        with self._lock:
            self._check_open()
            now = self._clock()
            self._flush_locked(now)
            self._fsync_locked(now)

    def close(self) -> None:
        """Flush, write the end marker (gzip), fsync and close the file; idempotent.

        After a failed write it only releases the file: the failure was raised already.
        """
        with self._lock:
            if self._closed:
                return
            try:
                if self._failure is None:
                    now = self._clock()
                    self._flush_locked(now)
                    if self._gzip:
                        self._write_all(END_MEMBER)
                    self._fsync_locked(now)
            finally:
                self._release_fd()
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

    def _release_fd(self) -> None:
        self._closed = True
        try:
            os.close(self._fd)
        except OSError as exc:  # nothing is buffered here: the data were written or not
            logger.debug("closing %s: %s", self._path, exc)

    def _check_open(self) -> None:
        if self._failure is not None:
            raise self._failure
        if self._closed:
            raise RecordingError(f"{self._path}: the recording is already closed")

    def _sync_if_due(self, now: float, *, fsync: bool) -> None:
        if self._pending.n_bytes_in and now - self._last_flush >= FLUSH_INTERVAL_S:
            self._flush_locked(now)
        if fsync and self._unsynced and now - self._last_fsync >= FSYNC_INTERVAL_S:
            self._fsync_locked(now)

    def _flush_locked(self, now: float) -> None:
        data = self._pending.take()
        if data:
            self._write_all(data)
            self._unsynced = True
        self._n_events_saved = self._n_events
        self._saved_until_t = self._last_t
        self._last_flush = now

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[self._os_write(self._fd, view) :]
        except OSError as exc:
            raise self._fail(exc) from exc
        self._n_bytes_saved += len(data)

    def _fsync_locked(self, now: float) -> None:
        try:
            self._fsync_fn(self._fd)
        except OSError as exc:
            raise self._fail(exc) from exc
        self._unsynced = False
        self._last_fsync = now

    def _fail(self, exc: OSError) -> RecordingWriteError:
        """Stop writing after ``exc``: cut the file back to its last complete flush (a part
        written flush would only be read as damage) and make the one error to raise."""
        try:
            os.ftruncate(self._fd, self._n_bytes_saved)
        except OSError as truncate_exc:
            logger.debug("cannot cut %s back: %s", self._path, truncate_exc)
        disk_full = exc.errno in _DISK_FULL_ERRNOS
        reason = exc.strerror or str(exc)
        n, t = self._n_events_saved, self._saved_until_t
        saved = (
            f"the {n} event{'' if n == 1 else 's'} up to {format_t(t)} (min:s) are saved"
            if n and t is not None
            else "no events were saved"
        )
        what = "the disk is full" if disk_full else f"writing failed ({reason})"
        advice = (
            "Free some space (or raise the file size limit) and record again."
            if disk_full
            else "Is the drive still connected?"
        )
        self._failure = RecordingWriteError(
            f"{self._path}: {what}: {reason}; {saved}",
            path=self._path,
            disk_full=disk_full,
            n_events_saved=n,
            saved_until_t=t,
            user_message=(
                f"The recording {self._path} stopped because {what}; {saved} in that file. "
                + advice
            ),
        )
        return self._failure
