"""Record any event source to a crash-safe recording file (issue 3, "Recording").

`record` attaches a `RecordingWriter` to an `EventSource` and writes every event the source
yields — decoded events, raw notifications, link changes, gaps — until the source ends,
``seconds`` of session time have been recorded, or the task is cancelled (Ctrl-C). Whatever
happens, the events already received are written and the file is closed (fsync) before
`record` returns or raises.

File I/O never blocks the event loop (style.md §2.8): the loop only appends events to a list;
one worker thread, owned by the recording, writes them in order and calls
`RecordingWriter.maybe_sync` at least every `SYNC_INTERVAL_S`, so the file reaches the
operating system at least every second (`FLUSH_INTERVAL_S`) and the disk every five
(`FSYNC_INTERVAL_S`). A process killed with SIGKILL therefore loses at most the last couple of
seconds; a power cut at most the last five or so.

`SessionStats` keeps the running numbers (beats, heart rate, battery, link state, gaps) that
the summary and a live status line show.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import functools
import logging
import math
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, TypeAlias, assert_never

from pet_biofeedback.errors import ConfigError
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
from pet_biofeedback.recording import FLUSH_INTERVAL_S, FSYNC_INTERVAL_S, RecordingWriter

__all__ = [
    "RR_SILENCE_GAP_S",
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
StopReason: TypeAlias = Literal["seconds", "source ended"]

SYNC_INTERVAL_S: Final = 0.5  # the writer thread writes and calls maybe_sync this often
WAKE_WRITER_EVENTS: Final = 256  # …or as soon as this many events wait (fast sources)
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
            case EcgFrame() | AccFrame() | PacerPhase() | Marker() | Rating():
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
    stop_reason : {"seconds", "source ended"}
        Why recording stopped (cancellation raises instead of returning).
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
    """Owns the writer: every file operation runs on one dedicated thread, in order."""

    def __init__(self) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="pet-recorder"
        )
        self.writer: RecordingWriter | None = None

    def run(self, fn: Callable[[], None]) -> asyncio.Future[None]:
        """Queue ``fn`` on the writer's thread now (jobs run in the order queued)."""
        return asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def write_batch(self, batch: list[Event]) -> None:
        writer = self.writer
        assert writer is not None
        for event in batch:
            writer.write(event)
        writer.maybe_sync()

    def finish(self, batch: list[Event]) -> None:
        writer = self.writer
        if writer is None:
            return
        try:
            for event in batch:
                writer.write(event)
        finally:
            writer.close()

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
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
    overwrite: bool = False,
    started_at: datetime | None = None,
    app_version: str | None = None,
) -> RecordingSummary:
    """Record a source to a file until it ends, ``seconds`` are recorded, or cancellation.

    Opens the source (``async with``), then creates the recording, so that the header can
    hold what the source reports about its device; then writes every event the source yields,
    in order, unchanged. Always writes what was received and closes the file (flush, fsync)
    and the source, on every exit path: normal end, ``seconds`` reached, an error of the
    source, cancellation (Ctrl-C under ``asyncio.run``).

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
        values winning.
    settings : Mapping
        JSON-serialisable session settings for the header.
    seconds : float, optional
        Stop after this much **session time**: events with ``t > seconds`` are not recorded
        and the first of them ends the recording. Session time is the events' ``t`` (for a
        live strap that is wall time since the source opened; for a simulation or a replay it
        is the simulated or recorded time, whatever the speed). None records until the source
        ends or the task is cancelled.
    on_event : callable (Event) -> None, optional
        Called with every recorded event, after it was queued for writing (a live view).
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

    Returns
    -------
    RecordingSummary

    Raises
    ------
    ConfigError
        ``seconds`` is not a positive number, or ``device``/``settings`` are not
        JSON-serialisable.
    RecordingFileError, RecordingError
        The file exists or cannot be created or written.
    PetBiofeedbackError
        Whatever the source raises (e.g. `DeviceError`), after the file was closed.
    asyncio.CancelledError
        On cancellation, after the file was closed.
    """
    if seconds is not None and (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not math.isfinite(seconds)
        or seconds <= 0
    ):
        raise ConfigError(f"seconds must be a positive number of seconds, got {seconds!r}")
    path = os.fspath(writer_path)
    wall_start_s = clock()
    stats = SessionStats()
    pending: list[Event] = []
    wake = asyncio.Event()
    done = False
    stop_reason: StopReason = "source ended"
    thread = _WriterThread()

    async def writer_loop() -> None:
        while not done:
            await _wait_for_either(wake, SYNC_INTERVAL_S, sleep)
            wake.clear()
            batch = pending.copy()
            pending.clear()
            # Shielded: once taken from ``pending`` a batch must reach the file. Cancelling
            # the executor's future before its job started would drop the batch (it is in
            # neither ``pending`` nor the file); shielded, the job still runs, and on the
            # writer's one thread it runs before `finish`.
            await asyncio.shield(thread.run(functools.partial(thread.write_batch, batch)))

    async with source:
        header_device = {**dict(device), **_reported_device(source)}

        def create() -> None:
            thread.writer = RecordingWriter(
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
            await thread.run(create)
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
                    await asyncio.shield(thread.run(functools.partial(thread.finish, rest)))
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


# The flush/fsync promises the docstring makes rest on these (checked at import, cheaply).
assert SYNC_INTERVAL_S <= FLUSH_INTERVAL_S <= FSYNC_INTERVAL_S
