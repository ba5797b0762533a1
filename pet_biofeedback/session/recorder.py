"""Record any event source to a crash-safe recording file (issue 3, "Recording").

`record` attaches a `RecordingWriter` to an `EventSource` and writes every event the source
yields — decoded events, raw notifications, link changes, gaps — until the source ends,
``seconds`` of session time have been recorded, or the task is cancelled (Ctrl-C). Whatever
happens, the events already received are written and the file is closed (fsync) before
`record` returns or raises.

File I/O never blocks the event loop (style.md §2.8): the loop only appends events to a list
(bounded: past `MAX_PENDING_EVENTS` the source waits for the disk, so memory stays flat at
any speed); one worker thread, owned by the recording, writes them in order and calls
`RecordingWriter.maybe_sync` at least every `SYNC_INTERVAL_S`, so the file reaches the
operating system at least every second (`FLUSH_INTERVAL_S`) and the disk every five
(`FSYNC_INTERVAL_S`). A process killed with SIGKILL therefore loses at most the last couple of
seconds; a power cut at most the last five or so.

The numbers a status line shows come from what is on disk (`on_saved`, every
`SAVED_INTERVAL_S`), not from what was merely received. A stop signal (`StopSignals`) ends a
recording like the end of the source: summary returned, file finished. A full disk ends it with
`RecordingDiskFullError`, which says how much was saved.

`SessionStats` keeps the running numbers (beats, heart rate, battery, link state, gaps) that
the summary and a live status line show.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import dataclasses
import errno
import functools
import logging
import math
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final, Literal, TypeAlias, TypeVar, assert_never

from pet_biofeedback.errors import (
    ConfigError,
    PetBiofeedbackError,
    RecordingDiskFullError,
    RecordingError,
)
from pet_biofeedback.events import (
    AccFrame,
    Battery,
    Contact,
    EcgFrame,
    Event,
    EventSource,
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
    FLUSH_INTERVAL_S,
    FSYNC_INTERVAL_S,
    RecordingReader,
    RecordingWriter,
    read_back,
)
from pet_biofeedback.session.stop_signals import StopSignals

if TYPE_CHECKING:
    from pet_biofeedback.session.analysis import RecordingTap

__all__ = [
    "DEVICE_ID_KEYS",
    "MAX_PENDING_EVENTS",
    "RR_SILENCE_GAP_S",
    "SAVED_INTERVAL_S",
    "SYNC_INTERVAL_S",
    "WAKE_WRITER_EVENTS",
    "RecordingSummary",
    "SessionStats",
    "StopReason",
    "record",
]

logger = logging.getLogger(__name__)

Clock: TypeAlias = Callable[[], float]
Sleep: TypeAlias = Callable[[float], Awaitable[None]]
StopReason: TypeAlias = Literal["seconds", "source ended", "stopped"]
_T = TypeVar("_T")

SYNC_INTERVAL_S: Final = 0.5  # the writer thread writes and calls maybe_sync this often
WAKE_WRITER_EVENTS: Final = 256  # …or as soon as this many events wait (fast sources)
# A source faster than the disk waits once this many events wait for the writer (issue 6:
# `record --speed max` queued a whole 10-h session, 1.17 GB). With the batch being written,
# at most twice this many events are in memory (an ECG frame is the largest, ~3 kB).
MAX_PENDING_EVENTS: Final = 4096
# What the status line shows is made durable (flush + fsync) this often, so that it shows what
# a crash would keep, not merely what was received.
SAVED_INTERVAL_S: Final = 1.0
# Header device keys that identify the physical strap (and so its wearer): left out unless the
# user asks for them (`record --keep-device-id`).
DEVICE_ID_KEYS: Final = frozenset({"address", "serial_number"})
_DISK_FULL_ERRNOS: Final = frozenset(
    code for code in (errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", None)) if code
)
# RR events further apart than this (once beats have started) count as a silence: a strap
# notifies every second, and even at 30 bpm a beat closes every 2 s (ble-protocol.md §2.3).
RR_SILENCE_GAP_S: Final = 3.0
_MS_PER_MIN: Final = 60_000.0


class SessionStats:
    """Running numbers over a stream of events, for summaries and live status lines.

    Call `update` with every event, in order. Attributes (read them at any time):

    Attributes
    ----------
    n_events : int
        Events seen.
    n_beats : int
        RR intervals seen (one per beat after the first).
    n_raw : int
        Raw notifications seen.
    n_hr_readings : int
        The strap's non-zero heart-rate readings (`HeartRate`) seen; ``mean_strap_hr_bpm``
        their mean, beats/min (NaN before any).
    n_ecg_frames : int
        ECG frames seen (beats can come from their R-peaks when no RR interval arrives).
    t_first_s, t_last_s : float
        Session time of the first and the latest event, s; NaN before any.
    hr_bpm : float
        Latest heart rate, beats/min: the strap's (`HeartRate`; 0 while it has no contact),
        else from the latest RR interval; NaN before any.
    battery_pct : int or None
        Latest battery level.
    link_state : LinkState or None
        Latest link state; ``link_detail`` its plain-words detail.
    contact : bool or None
        Latest skin-contact report.
    n_gaps : int
        `Gap` events seen; ``gap_s`` their total length in s.
    n_rr_silences : int
        Times the RR stream fell silent for more than `RR_SILENCE_GAP_S` without a `Gap`
        event in the silence (e.g. a contact dropout); ``rr_silence_s`` their total length
        in s. A silence that a `Gap` event marks is counted once, as that gap.
    """

    def __init__(self) -> None:
        self.n_events = 0
        self.n_beats = 0
        self.n_raw = 0
        self.n_hr_readings = 0
        self.n_ecg_frames = 0
        self._hr_sum_bpm = 0.0
        self.t_first_s = math.nan
        self.t_last_s = math.nan
        self.hr_bpm = math.nan
        self.battery_pct: int | None = None
        self.link_state: LinkState | None = None
        self.link_detail = ""
        self.contact: bool | None = None
        self.n_gaps = 0
        self.gap_s = 0.0
        self.n_rr_silences = 0
        self.rr_silence_s = 0.0
        self._last_rr_t_s: float | None = None
        self._gap_marked = False  # a Gap event came since the last RR
        self._strap_hr = False

    @property
    def duration_s(self) -> float:
        """Session time from the first to the latest event, s (0 before two events)."""
        if math.isnan(self.t_first_s):
            return 0.0
        return max(self.t_last_s - self.t_first_s, 0.0)

    @property
    def mean_strap_hr_bpm(self) -> float:
        """Mean of the strap's non-zero heart-rate readings, beats/min (NaN before any)."""
        if not self.n_hr_readings:
            return math.nan
        return self._hr_sum_bpm / self.n_hr_readings

    def update(self, event: Event) -> None:
        """Account for one event."""
        self.n_events += 1
        if math.isnan(self.t_first_s):
            self.t_first_s = event.t
        self.t_last_s = event.t if math.isnan(self.t_last_s) else max(self.t_last_s, event.t)
        match event:
            case RRIntervals():
                if event.rr_ms:
                    self.n_beats += len(event.rr_ms)
                    if not self._strap_hr:
                        self.hr_bpm = _MS_PER_MIN / event.rr_ms[-1]
                    if self._last_rr_t_s is not None and not self._gap_marked:
                        silence_s = event.t - self._last_rr_t_s
                        if silence_s > RR_SILENCE_GAP_S:
                            self.n_rr_silences += 1
                            self.rr_silence_s += silence_s
                    self._last_rr_t_s = event.t
                    self._gap_marked = False
            case HeartRate():
                self._strap_hr = True
                self.hr_bpm = event.hr_bpm
                if event.hr_bpm > 0:  # 0 is "no contact", not a heart rate
                    self.n_hr_readings += 1
                    self._hr_sum_bpm += event.hr_bpm
            case Battery():
                self.battery_pct = event.battery_pct
            case Link():
                self.link_state = event.state
                self.link_detail = event.detail
            case Contact():
                self.contact = event.ok
            case Gap():
                self.n_gaps += 1
                self.gap_s += event.seconds
                self._gap_marked = True
            case RawNotification():
                self.n_raw += 1
            case EcgFrame():
                self.n_ecg_frames += 1
            case AccFrame() | PacerPhase() | Marker() | Rating():
                pass
            case _:
                assert_never(event)


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingSummary:
    """What `record` wrote.

    Attributes
    ----------
    path : str
        The recording.
    n_events : int
        Events written.
    n_beats : int
        RR intervals written.
    n_raw : int
        Raw notifications written.
    duration_s : float
        Session time from the first to the last event written, s.
    t_last_s : float
        Session time of the last event written, s (NaN when none).
    wall_s : float
        Time the recording took on ``clock``, s.
    n_gaps : int
        `Gap` events written; ``gap_s`` their total length, s.
    n_rr_silences : int
        RR silences longer than `RR_SILENCE_GAP_S`; ``rr_silence_s`` their total length, s.
    battery_pct : int or None
        The last battery level reported.
    stop_reason : {"seconds", "source ended", "stopped"}
        Why recording stopped ("stopped": a stop signal; other cancellations raise).
    """

    path: str
    n_events: int
    n_beats: int
    n_raw: int
    duration_s: float
    t_last_s: float
    wall_s: float
    n_gaps: int
    gap_s: float
    n_rr_silences: int
    rr_silence_s: float
    battery_pct: int | None
    stop_reason: StopReason


class _WriterThread:
    """Owns the writer: every file operation runs on one dedicated thread, in order.

    It also keeps the numbers of what is safely on disk (`saved`): after each batch, once
    `SAVED_INTERVAL_S` have passed since the last time, it flushes and fsyncs the file and
    returns a snapshot of the numbers of every event written so far.
    """

    def __init__(self, clock: Clock, tap: RecordingTap | None = None) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="pet-recorder"
        )
        self._clock = clock
        self._tap = tap
        self.writer: RecordingWriter | None = None
        self._written = SessionStats()  # touched on the writer's thread only
        self._last_saved_s = -math.inf

    def run(self, fn: Callable[[], _T]) -> asyncio.Future[_T]:
        """Queue ``fn`` on the writer's thread now (jobs run in the order queued)."""
        return asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def write_batch(self, batch: list[Event]) -> SessionStats | None:
        """Write a batch; a snapshot of the saved numbers when a sync was due, else None."""
        writer = self.writer
        assert writer is not None
        writer.write_many(batch)
        self._account(batch)
        now = self._clock()
        if now - self._last_saved_s < SAVED_INTERVAL_S:
            writer.maybe_sync()
            return None
        writer.sync()
        self._last_saved_s = now
        return copy.copy(self._written)

    def finish(self, batch: list[Event]) -> SessionStats:
        """Write the rest and close the file; the first error is raised, never a later one."""
        writer = self.writer
        if writer is None:
            return copy.copy(self._written)
        error: BaseException | None = None
        try:
            writer.write_many(batch)
            self._account(batch)
        except BaseException as exc:
            error = exc
        try:
            writer.close()
        except Exception as exc:
            # A full disk fails the close too; that second error must not hide the first.
            if error is None:
                error = exc
            else:
                logger.debug("closing after a failed write also failed: %s", exc)
        if error is not None:
            raise error
        return copy.copy(self._written)

    def _account(self, written: list[Event]) -> None:
        """Count what was written; show it to the tap."""
        update = self._written.update
        for event in written:
            update(event)
        if self._tap is not None:
            for event in written:
                self._tap.event(read_back(event))

    def create(self, make: Callable[[], RecordingWriter]) -> None:
        """Create the file (``make``) and show the tap its header."""
        self.writer = make()
        if self._tap is not None:
            self._tap.header(self.writer.header)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False)


async def _wait_for_either(event: asyncio.Event, sleep_s: float, sleep: Sleep) -> None:
    """Return when ``event`` is set or ``sleep(sleep_s)`` is over, whichever comes first."""
    if event.is_set():
        return

    async def _sleep() -> None:
        await sleep(sleep_s)

    waiters = {asyncio.ensure_future(event.wait()), asyncio.ensure_future(_sleep())}
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


def _reported_device(source: object) -> dict[str, object]:
    """What the source says about its device (``device_info``: a mapping or a dataclass)."""
    info = getattr(source, "device_info", None)
    if isinstance(info, Mapping):
        return dict(info)
    if dataclasses.is_dataclass(info) and not isinstance(info, type):
        return {k: v for k, v in dataclasses.asdict(info).items() if v is not None}
    return {}


async def record(
    source: EventSource,
    writer_path: str | os.PathLike[str],
    *,
    device: Mapping[str, object],
    settings: Mapping[str, object],
    seconds: float | None = None,
    on_event: Callable[[Event], None] | None = None,
    on_saved: Callable[[SessionStats], None] | None = None,
    stop: StopSignals | None = None,
    keep_device_id: bool = False,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
    overwrite: bool = False,
    started_at: datetime | None = None,
    app_version: str | None = None,
    tap: RecordingTap | None = None,
) -> RecordingSummary:
    """Record a source to a file until it ends, ``seconds`` are recorded, or it is stopped.

    Opens the source (``async with``), then creates the recording, so that the header can
    hold what the source reports about its device; then writes every event the source yields,
    in order, unchanged. Always writes what was received and closes the file (flush, fsync)
    and the source, on every exit path: normal end, ``seconds`` reached, a stop signal, an error
    of the source, cancellation.

    The source waits for the disk (backpressure): at most `MAX_PENDING_EVENTS` events wait in
    memory for the writer, so a source faster than the disk (``--speed max``) keeps memory flat.

    Parameters
    ----------
    source : EventSource
        Any source (strap, emulated, simulated, replay); not yet opened.
    writer_path : str or os.PathLike
        The file to create (``.jsonl`` or ``.jsonl.gz``); it must not exist unless
        ``overwrite``.
    device : Mapping
        JSON-serialisable description of the device for the header. When the source has a
        ``device_info`` once opened (a mapping, e.g. `ReplaySource`'s recorded device, or a
        dataclass, e.g. `BleStrap`'s model and firmware), its keys are added, the source's
        values winning. Identifying keys (`DEVICE_ID_KEYS`: Bluetooth address, serial number)
        are left out unless ``keep_device_id``; a ``path`` is reduced to the file's name.
    settings : Mapping
        JSON-serialisable session settings for the header.
    seconds : float, optional
        Stop after this much **session time**: events with ``t > seconds`` are not recorded
        and the first of them ends the recording. Session time is the events' ``t`` (for a
        live strap that is wall time since the source opened; for a simulation or a replay it
        is the simulated or recorded time, whatever the speed). None records until the source
        ends, a stop signal or cancellation.
    on_event : callable (Event) -> None, optional
        Called with every event as it is received (before it is written).
    on_saved : callable (SessionStats) -> None, optional
        Called about every `SAVED_INTERVAL_S` with the numbers of what is safely on disk
        (written, flushed and fsynced): what a live status line should show.
    stop : StopSignals, optional
        When the task is cancelled by one of its stop signals, recording stops cleanly and the
        summary is returned (``stop_reason`` "stopped"); other cancellations raise.
    keep_device_id : bool, default False
        Keep the strap's Bluetooth address and serial number in the header.
    clock : callable () -> float, default time.monotonic
        Monotonic clock in s: the writer's flush/fsync timing and ``wall_s``.
    sleep : callable (float) -> awaitable, default asyncio.sleep
        How the writer thread's tick waits (tests may inject).
    overwrite : bool, default False
        Replace an existing file.
    started_at : datetime, optional
        Header ``started_at`` (timezone-aware); default now.
    app_version : str, optional
        Header ``app_version``; default the installed version.
    tap : RecordingTap, optional
        Sees the recording as it is written, on the writer's thread: ``header`` once the
        file exists, then ``event`` with every event once it was written, in file order, as
        a reader will read it back (`pet_biofeedback.recording.read_back`). A session's
        summary gathers its analysis there instead of reading the file again.

    Returns
    -------
    RecordingSummary

    Raises
    ------
    ConfigError
        ``seconds`` is not a positive number, or ``device``/``settings`` are not
        JSON-serialisable.
    RecordingDiskFullError
        The disk filled up or the file reached its size limit; the file was closed and holds
        what was saved (the error says how much).
    RecordingFileError, RecordingError
        The file exists or cannot be created or written.
    PetBiofeedbackError
        Whatever the source raises (e.g. `DeviceError`), after the file was closed.
    asyncio.CancelledError
        On cancellation (other than by ``stop``), after the file was closed.
    """
    if seconds is not None and (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not math.isfinite(seconds)
        or seconds <= 0
    ):
        raise ConfigError(f"seconds must be a positive number of seconds, got {seconds!r}")
    path = os.fspath(writer_path)
    try:
        return await _record(
            source,
            path,
            device=device,
            settings=settings,
            seconds=seconds,
            on_event=on_event,
            on_saved=on_saved,
            stop=stop,
            keep_device_id=keep_device_id,
            clock=clock,
            sleep=sleep,
            overwrite=overwrite,
            started_at=started_at,
            app_version=app_version,
            tap=tap,
        )
    except (RecordingError, OSError) as exc:
        # OSError: a writer that let one through on close (it should wrap it, as write does).
        reason = _disk_full_reason(exc)
        if reason is None or isinstance(exc, RecordingDiskFullError):
            raise
        n_events, saved_s = await asyncio.to_thread(_saved_so_far, path)
        raise RecordingDiskFullError(
            path, reason, n_events_saved=n_events, saved_s=saved_s
        ) from exc


async def _record(
    source: EventSource,
    path: str,
    *,
    device: Mapping[str, object],
    settings: Mapping[str, object],
    seconds: float | None,
    on_event: Callable[[Event], None] | None,
    on_saved: Callable[[SessionStats], None] | None,
    stop: StopSignals | None,
    keep_device_id: bool,
    clock: Clock,
    sleep: Sleep,
    overwrite: bool,
    started_at: datetime | None,
    app_version: str | None,
    tap: RecordingTap | None,
) -> RecordingSummary:
    """`record` with validated arguments."""
    wall_start_s = clock()
    stats = SessionStats()
    pending: list[Event] = []
    wake = asyncio.Event()
    space = asyncio.Event()  # set whenever the writer took what was pending
    done = False
    stop_reason: StopReason = "source ended"
    thread = _WriterThread(clock, tap)

    async def writer_loop() -> None:
        try:
            while not done:
                await _wait_for_either(wake, SYNC_INTERVAL_S, sleep)
                wake.clear()
                batch = pending.copy()
                pending.clear()
                space.set()
                # Shielded: once taken from ``pending`` a batch must reach the file. Cancelling
                # the executor's future before its job started would drop the batch (it is in
                # neither ``pending`` nor the file); shielded, the job still runs, and on the
                # writer's one thread it runs before `finish`.
                saved = await asyncio.shield(
                    thread.run(functools.partial(thread.write_batch, batch))
                )
                if saved is not None and on_saved is not None:
                    on_saved(saved)
        finally:
            space.set()  # never leave the source waiting for a writer that stopped

    async with source:
        header_device = _header_device(
            {**dict(device), **_reported_device(source)}, keep_device_id=keep_device_id
        )

        def create() -> RecordingWriter:
            return RecordingWriter(
                path,
                device=header_device,
                settings=settings,
                clock=clock,
                app_version=app_version,
                started_at=started_at,
                overwrite=overwrite,
                sync_in_write=False,
            )

        try:
            await thread.run(functools.partial(thread.create, create))
            logger.info(
                "recording started: %s (%s)",
                path,
                f"{seconds:g} s" if seconds is not None else "until stopped",
            )
            writer_task = asyncio.create_task(writer_loop())
            try:
                async for event in source:
                    if writer_task.done():
                        break  # writing failed: its error is raised below
                    if seconds is not None and event.t > seconds:
                        stop_reason = "seconds"
                        break
                    pending.append(event)
                    stats.update(event)
                    if on_event is not None:
                        on_event(event)
                    if len(pending) >= WAKE_WRITER_EVENTS:
                        wake.set()
                    while len(pending) >= MAX_PENDING_EVENTS and not writer_task.done():
                        # Backpressure: the source waits for the disk (issue 6).
                        space.clear()
                        wake.set()
                        await space.wait()
            except asyncio.CancelledError:
                if stop is None or not stop.absorb():
                    raise
                stop_reason = "stopped"
            finally:
                # Let the writer finish the batch it may hold and stop; never cancel it
                # mid-write. What it has not taken is written by finish() below.
                done = True
                wake.set()
                try:
                    await asyncio.wait([writer_task])
                except BaseException:
                    # Cancelled again while waiting: stop the writer before it takes another
                    # batch (a batch it took is still written: its write is shielded).
                    writer_task.cancel()
                    raise
            if not writer_task.cancelled() and (error := writer_task.exception()) is not None:
                raise error
        finally:
            try:
                if thread.writer is not None:
                    rest = pending.copy()
                    pending.clear()
                    # Shielded: a second cancellation cannot stop the close running on the
                    # writer's thread anyway (the interpreter joins that thread at exit).
                    saved = await asyncio.shield(thread.run(functools.partial(thread.finish, rest)))
                    if on_saved is not None:
                        on_saved(saved)
            finally:
                thread.shutdown()
    writer = thread.writer
    assert writer is not None
    summary = RecordingSummary(
        path=path,
        n_events=writer.n_events,
        n_beats=stats.n_beats,
        n_raw=stats.n_raw,
        duration_s=stats.duration_s,
        t_last_s=stats.t_last_s,
        wall_s=clock() - wall_start_s,
        n_gaps=stats.n_gaps,
        gap_s=stats.gap_s,
        n_rr_silences=stats.n_rr_silences,
        rr_silence_s=stats.rr_silence_s,
        battery_pct=stats.battery_pct,
        stop_reason=stop_reason,
    )
    logger.info(
        "recording stopped (%s): %s, %d events, %d beats, %.1f s",
        stop_reason,
        path,
        summary.n_events,
        summary.n_beats,
        summary.duration_s,
    )
    return summary


def _header_device(device: Mapping[str, object], *, keep_device_id: bool) -> dict[str, object]:
    """The header's device: identifying keys dropped unless asked for; a path → its name."""
    out: dict[str, object] = {}
    for key, value in device.items():
        if key in DEVICE_ID_KEYS and not keep_device_id:
            continue
        if key == "path" and isinstance(value, str):
            value = os.path.basename(value)  # a folder name can hold a patient's name
        out[key] = value
    return out


def _disk_full_reason(exc: BaseException) -> str | None:
    """The OS's words when ``exc`` (or what caused it) is a full disk or a file-size limit."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _DISK_FULL_ERRNOS:
            return current.strerror or os.strerror(current.errno or 0)
        current = current.__cause__ or current.__context__
    return None


def _saved_so_far(path: str) -> tuple[int, float]:
    """Events in the recording at ``path`` and the session time they span (0 if unreadable)."""
    n_events = 0
    t_first = t_last = math.nan
    # The file is cut off where the disk filled up: the reader's "as after a crash" warnings
    # would only confuse the one message that explains it.
    reader_logger = logging.getLogger(RecordingReader.__module__)
    level = reader_logger.level
    reader_logger.setLevel(logging.ERROR)
    try:
        with RecordingReader(path) as reader:
            for event in reader:
                n_events += 1
                if math.isnan(t_first):
                    t_first = event.t
                t_last = event.t if math.isnan(t_last) else max(t_last, event.t)
    except PetBiofeedbackError as exc:
        logger.debug("reading back %s after a full disk stopped early: %s", path, exc)
    finally:
        reader_logger.setLevel(level)
    saved_s = 0.0 if math.isnan(t_first) else max(t_last - t_first, 0.0)
    return n_events, saved_s


# The flush/fsync promises the docstring makes rest on these (checked at import, cheaply).
assert SYNC_INTERVAL_S <= FLUSH_INTERVAL_S <= FSYNC_INTERVAL_S
