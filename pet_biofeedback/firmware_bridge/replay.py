"""Replay a recording as a live event source (issue 3, "Replay"; design.md §3).

`ReplaySource` plays the events of a recording (format v1, read through
`pet_biofeedback.recording`) in time order, in real time (``speed=1``), ``speed`` times faster,
or as fast as possible (``speed=math.inf``), with `ReplaySource.pause`, `ReplaySource.resume`
and `ReplaySource.seek`. `ReplaySource.from_events` plays events that are already in memory
(what the importers make of XDF and RR text files) with the same pacing and controls.

What is played
--------------
Every event of the file, unchanged, in order of ``t`` (ties keep file order). A recording
written in arrival order may hold events a little out of time order (an ECG frame is stamped
with its last sample's time, which precedes the notification that carried it); events are
re-ordered within a window of `REORDER_WINDOW_S`; an event later than that is played where it
is met and counted in `ReplaySource.n_out_of_order`. The order depends only on the file, so
every speed, and every batch size, yields the same events.

Raw notifications (``decode_raw``)
----------------------------------
A recording of a real strap holds its raw GATT notifications (`RawNotification`) beside the
decoded events, so that it can be replayed "through the very same decoders" (design.md §3).
The rule, per stream, with ``decode_raw=True`` (the default; the decoding itself is in
`replay_decoding`):

* Heart Rate Measurement notifications are decoded with `hrs.decode_heart_rate_measurement`
  into `HeartRate` and `Contact` (when the strap reports contact) at the notification's
  ``t`` and `RRIntervals` (when the packet has RR) at its last beat's time, reconstructed by
  the live strap's own `beat_clock.RrBeatClock` (ble-protocol.md §2.4; reset, as live, on
  lost contact, a heart rate of 0 and every `Gap` event), which also adds a `Gap` where beats
  were lost — **only if the recording holds no ``hr`` and
  no ``rr`` event at all** (otherwise the recorded decoded events are the truth and decoding
  again would duplicate every beat).
* PMD data frames are decoded with `pmd.decode_frame` into `EcgFrame` / `AccFrame`, timed by a
  `pmd.PmdClock` per stream from the notification times — only if the recording holds no
  ``ecg`` (respectively ``acc``) event. The sample rate comes from the last recorded START
  command on the PMD control point (ble-protocol.md §4.6: the negotiation is recorded too),
  else 130 Hz for ECG and 200 Hz for ACC (the Polar H10's); a START resets the stream's clock;
  FACTOR comes from a recorded START response (CP writes may be recorded under
  ``"<CP UUID>/write"``, as `ble.BleStrap` does). PPI frames are not decoded.
* Battery Level notifications become `Battery` — only if the recording holds no ``battery``.

Lost beats (issue 6)
--------------------
Recorded ``rr`` events go through the live strap's lost-beat rule as well
(`beat_clock.RrBeatClock.check`; ``find_lost_beats``): where the intervals of an event do not
fill the time since the previous one beyond the strap's jitter, a `Gap` ("beats lost: …") is
played before it. A recorded `Gap`, `Link` change, lost contact or heart rate 0 breaks the chain,
so a recording made with the rule in place gets no second gap.

The raw events themselves are always played too (so that re-recording a replay keeps them),
each followed by what was decoded from it. A payload the decoders reject is skipped (counted
in `ReplaySource.n_decode_errors`, one warning at the end); its raw event still plays. The
presence of decoded streams is found by one extra pass over the file, made only when the
first raw notification is met (recordings without raw events never pay for it).

Timing, pause and seek
----------------------
Playback starts at the first event (no initial wait, even when it has ``t > 0``). An event
plays when the playback position reaches its ``t``; the position advances by ``speed``
seconds per second of ``clock``. `ReplaySource.pause` freezes the position (iteration waits
until `ReplaySource.resume`); `ReplaySource.seek` jumps the position to ``t_s``: every event
with ``t < t_s`` is skipped, the next event played is the first with ``t ≥ t_s``. Seeking
backwards (to or before an event already played) reads the recording again, so ``t`` goes back:
consumers that need monotonic time must reset when they seek. Waits are cut into steps of at
most `MAX_WAIT_S`, so pause and seek take effect within that time.

A seek does not read the file from its start: a recording written in gzip members has a seek
index (`replay_index`; built while the file is read, by this source, by another source of the
same file, or by `replay_index.index_recording`), and a seek reads on from the last index
point before its target (at most ~`replay_index.INDEX_SPACING_S` of recording before it), with
the decoders' state as a read from the start had it there, so the same events play. A seek
forward beyond what has been read reads on through the file; so does every seek in a file
without members (an older single-stream file, another tool's gzip, plain text).

A truncated recording (crash: partial last line or a gzip stream without its end) plays what
is there; the reader warns, and `ReplaySource.truncated` says so afterwards. Damaged parts and
malformed lines are left out (`ReplaySource.notes` says what was lost, in one warning at the
end); with ``strict=True`` a malformed line raises `RecordingFormatError` when playback
reaches it.

This module imports `pet_biofeedback.errors`, `events`, `recording` and the decoders next to
it; it never imports session code or `pet_biofeedback.signal` (design.md §2).
"""

from __future__ import annotations

import asyncio
import bisect
import copy
import heapq
import itertools
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from types import MappingProxyType, TracebackType
from typing import Final, Protocol, Self, TypeAlias

from pet_biofeedback.errors import ConfigError
from pet_biofeedback.events import (
    Event,
    Gap,
    RawNotification,
)
from pet_biofeedback.firmware_bridge.beat_clock import RrBeatClock
from pet_biofeedback.firmware_bridge.replay_decoding import (
    DEFAULT_ACC_FS_HZ,
    DEFAULT_ECG_FS_HZ,
    RawDecoder,
    StreamInventory,
)
from pet_biofeedback.firmware_bridge.replay_index import (
    EXPANDED_TYPES,
    IndexPoint,
    SeekIndex,
    expand_event,
    file_identity,
    shared_index,
)
from pet_biofeedback.recording import RecordingHeader, RecordingReader, ResumePoint

__all__ = [
    "DEFAULT_ACC_FS_HZ",
    "DEFAULT_ECG_FS_HZ",
    "MAX_WAIT_S",
    "READ_BATCH_EVENTS",
    "REORDER_WINDOW_S",
    "ReplaySource",
]

logger = logging.getLogger(__name__)

Clock: TypeAlias = Callable[[], float]
Sleep: TypeAlias = Callable[[float], Awaitable[None]]

REORDER_WINDOW_S: Final = 5.0  # events up to this much out of time order are re-ordered
MAX_WAIT_S: Final = 0.1  # longest single wait: pause/seek/close take effect within this
READ_BATCH_EVENTS: Final = 512  # events read per hop to the worker thread
YIELD_EVERY_EVENTS: Final = 256  # at speed=inf, let other tasks run this often

Item: TypeAlias = Event | ResumePoint  # what a supplier hands over: events, and where to resume


# --- Where the events come from ---------------------------------------------------------------


class _Supplier(Protocol):
    """Events in file order, in batches; restartable for backward seeks. A file supplier also
    hands over, between the events, the points it can later `jump` to."""

    name: str
    # The file's identity once opened (path, inode, size, mtime; strict), or None: not shared.
    identity: tuple[object, ...] | None

    async def open(self) -> None: ...

    async def next_batch(self) -> list[Item]:
        """The next events (and resume points) in file order; empty at the end."""
        ...

    async def restart(self) -> None: ...

    async def jump(self, point: ResumePoint) -> None:
        """Go on reading from ``point`` (one that `next_batch` handed over)."""
        ...

    async def close(self) -> None: ...

    async def stream_inventory(self) -> StreamInventory: ...

    @property
    def header(self) -> RecordingHeader | None: ...

    @property
    def truncated(self) -> bool: ...

    @property
    def notes(self) -> tuple[str, ...]: ...


class _FileSupplier:
    """A recording file read in batches on a worker thread (no blocking I/O on the loop)."""

    def __init__(self, path: str, *, strict: bool = False) -> None:
        self.name = path
        self._path = path
        self._strict = strict
        self._notes: tuple[str, ...] = ()
        self._lock = threading.Lock()  # one thread at a time touches the reader
        self._reader: RecordingReader | None = None
        self._iter: Iterator[Item] | None = None
        self._header: RecordingHeader | None = None
        self._truncated = False
        self._error: Exception | None = None  # met while reading; raised by the next read
        self.identity: tuple[object, ...] | None = None

    @property
    def header(self) -> RecordingHeader | None:
        return self._header

    @property
    def truncated(self) -> bool:
        return self._truncated

    @property
    def notes(self) -> tuple[str, ...]:
        return self._notes

    def _open_sync(self, resume: ResumePoint | None = None) -> None:
        with self._lock:
            if resume is None:
                identity = file_identity(self._path)
                self.identity = None if identity is None else (*identity, self._strict)
            reader = RecordingReader(self._path, strict=self._strict, resume=resume)
            self._reader, self._iter = reader, reader.iter_resumable()
            self._header = reader.header
            self._error = None

    def _read_sync(self, n: int) -> list[Item]:
        """Up to ``n`` events; fewer at the end.

        An error met while reading (a malformed line) is raised when it is reached: the
        events before it are returned first, and the next call raises it.
        """
        with self._lock:
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            if self._iter is None or self._reader is None:
                return []
            batch: list[Item] = []
            try:
                for event in itertools.islice(self._iter, n):
                    batch.append(event)
            except Exception as exc:
                self._iter = None  # a reader that raised cannot go on
                if not batch:
                    raise
                self._error = exc
                return batch
            if len(batch) < n:  # the end: the reader's counters are final
                self._truncated = self._truncated or self._reader.truncated
                self._notes = self._reader.notes
                self._iter = None
            return batch

    def _close_sync(self) -> None:
        with self._lock:
            if self._reader is not None:
                self._reader.close()
            self._reader = self._iter = None

    def _inventory_sync(self) -> StreamInventory:
        with RecordingReader(self._path) as reader:
            return StreamInventory(reader)

    async def open(self) -> None:
        await asyncio.to_thread(self._open_sync)

    async def next_batch(self) -> list[Item]:
        return await asyncio.to_thread(self._read_sync, READ_BATCH_EVENTS)

    async def restart(self) -> None:
        await asyncio.to_thread(self._close_sync)
        await asyncio.to_thread(self._open_sync)

    async def jump(self, point: ResumePoint) -> None:
        await asyncio.to_thread(self._close_sync)
        await asyncio.to_thread(self._open_sync, point)

    async def close(self) -> None:
        await asyncio.to_thread(self._close_sync)

    async def stream_inventory(self) -> StreamInventory:
        return await asyncio.to_thread(self._inventory_sync)


class _MemorySupplier:
    """Events already in memory (imported files)."""

    def __init__(self, events: Iterable[Event], name: str) -> None:
        self.name = name
        self.identity: tuple[object, ...] | None = None
        self._events = tuple(events)
        self._next_idx = 0

    @property
    def header(self) -> RecordingHeader | None:
        return None

    @property
    def truncated(self) -> bool:
        return False

    @property
    def notes(self) -> tuple[str, ...]:
        return ()

    async def open(self) -> None:
        self._next_idx = 0

    async def next_batch(self) -> list[Item]:
        start = self._next_idx
        self._next_idx = min(start + READ_BATCH_EVENTS, len(self._events))
        return list(self._events[start : self._next_idx])

    async def restart(self) -> None:
        self._next_idx = 0

    async def jump(self, point: ResumePoint) -> None:
        raise AssertionError("events in memory hand over no resume points")

    async def close(self) -> None:
        self._next_idx = len(self._events)

    async def stream_inventory(self) -> StreamInventory:
        return StreamInventory(self._events)


# --- The source ---------------------------------------------------------------------------------


class ReplaySource:
    """Play a recording (format v1) as an event source, shaped like every source (style.md §2.8).

    ``async with source:`` opens the file (a worker thread reads it); ``async for event in
    source:`` yields its events in time order, paced by ``speed``; leaving the block closes the
    file. See the module docstring for what is played, the raw-decoding rule and the
    semantics of `pause`, `resume` and `seek`.

    Parameters
    ----------
    path : str or os.PathLike
        The recording (``.jsonl`` or ``.jsonl.gz``; gzip is recognised by content).
    speed : float, default 1.0
        1 = real time, 10 = ten times faster, ``math.inf`` = as fast as possible (never waits;
        lets other tasks run every `YIELD_EVERY_EVENTS` events).
    clock : callable () -> float, default time.monotonic
        Monotonic clock in s that paces playback.
    sleep : callable (float) -> awaitable, default asyncio.sleep
        How to wait (tests inject one that advances a fake clock).
    decode_raw : bool, default True
        Re-decode raw notifications of streams the recording has no decoded events for.
    strict : bool, default False
        Refuse a malformed line (`RecordingFormatError` when playback reaches it) instead of
        skipping it.
    find_lost_beats : bool, default True
        Apply the live strap's lost-beat rule (`beat_clock`) to the recorded RR events too,
        adding a `Gap` where their intervals do not fill the time between them.

    Raises
    ------
    ConfigError
        ``speed`` is not positive.
    RecordingFileError, UnsupportedVersionError, RecordingFormatError
        From ``async with`` (missing file, not a recording, other major version, bad header)
        or, for a malformed line, from the iteration that reaches it.

    Notes
    -----
    Single use: it can be opened once; iterating before opening raises RuntimeError; after
    closing, iteration just ends. `pause`, `resume` and `seek` may be called from any task of
    the loop at any time.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        speed: float = 1.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        decode_raw: bool = True,
        strict: bool = False,
        find_lost_beats: bool = True,
    ) -> None:
        self._init(
            _FileSupplier(os.fspath(path), strict=strict),
            speed,
            clock,
            sleep,
            decode_raw,
            find_lost_beats,
        )

    @classmethod
    def from_events(
        cls,
        events: Iterable[Event],
        *,
        name: str = "events",
        speed: float = 1.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        decode_raw: bool = True,
        find_lost_beats: bool = True,
    ) -> Self:
        """A source that plays events already in memory, with the same pacing and controls.

        Parameters
        ----------
        events : iterable of Event
            The events, in any order (they are played in order of ``t``, ties in the given
            order, within `REORDER_WINDOW_S`; sort them first if they may be further off).
        name : str, default "events"
            What to call the source in logs (e.g. the imported file's path).
        speed, clock, sleep, decode_raw, find_lost_beats
            As for the constructor.

        Returns
        -------
        ReplaySource
        """
        self = cls.__new__(cls)
        self._init(_MemorySupplier(events, name), speed, clock, sleep, decode_raw, find_lost_beats)
        return self

    def _init(
        self,
        supplier: _Supplier,
        speed: float,
        clock: Clock,
        sleep: Sleep,
        decode_raw: bool,
        find_lost_beats: bool,
    ) -> None:
        if not speed > 0:  # also rejects NaN
            raise ConfigError(
                f"replay speed must be positive (math.inf: as fast as possible), got {speed}"
            )
        self._supplier = supplier
        self._speed = float(speed)
        self._clock = clock
        self._sleep = sleep
        self._decode_raw = decode_raw
        self._state = "new"
        self._heap: list[tuple[float, int, Event]] = []
        self._unread: deque[Item] = deque()
        self._finished = False
        self._seq = 0
        self._max_t_read = -math.inf
        self._exhausted = False
        self._read_error: Exception | None = None  # raised once the events before it played
        self._decoder: RawDecoder | None = None
        self._decoder_checked = False
        self._find_lost_beats = find_lost_beats
        self._rr_chain = RrBeatClock()  # the lost-beat rule over recorded ``rr`` events
        self._n_lost_beat_gaps = 0
        self._consumed_until = -math.inf  # largest t popped (played or skipped)
        self._last_played_t = -math.inf
        self._skip_before = -math.inf
        self._restart_pending = False  # read again from an index point (or the start)
        self._rewind = False  # ... going back before what was consumed
        self._seek_index = SeekIndex()  # shared with other sources of the file once open
        self._read_offset = -1  # file offset of the last resume point taken (or jumped to)
        self._started = False
        self._anchor_clock_s = 0.0
        self._anchor_t = 0.0
        self._paused_at: float | None = None
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._n_played = 0
        self._n_out_of_order = 0
        self._since_yield = 0

    # -- properties --

    @property
    def name(self) -> str:
        """The recording's path (or the name given to `from_events`)."""
        return self._supplier.name

    @property
    def speed(self) -> float:
        """Playback speed (1 = real time, ``math.inf`` = as fast as possible)."""
        return self._speed

    @property
    def header(self) -> RecordingHeader | None:
        """The recording's header once opened; None for `from_events`."""
        return self._supplier.header

    @property
    def device_info(self) -> Mapping[str, object]:
        """The recorded device description (header ``device``); empty without a header."""
        header = self._supplier.header
        return header.device if header is not None else MappingProxyType({})

    @property
    def paused(self) -> bool:
        """True between `pause` and `resume`."""
        return self._paused_at is not None

    @property
    def position_s(self) -> float:
        """Playback position in recording time, s (frozen while paused)."""
        if self._paused_at is not None:
            return self._paused_at
        if not self._started:
            return max(self._skip_before, self._anchor_t)
        if math.isinf(self._speed):
            return max(self._last_played_t, self._skip_before)
        return self._anchor_t + (self._clock() - self._anchor_clock_s) * self._speed

    @property
    def n_played(self) -> int:
        """Events yielded so far (decoded ones included)."""
        return self._n_played

    @property
    def n_decoded(self) -> int:
        """Events made by re-decoding raw notifications so far."""
        return 0 if self._decoder is None else self._decoder.n_decoded

    @property
    def n_decode_errors(self) -> int:
        """Raw notifications the decoders rejected (their raw events were still played)."""
        return 0 if self._decoder is None else self._decoder.n_errors

    @property
    def n_lost_beat_gaps(self) -> int:
        """`Gap` events added for beats lost (`beat_clock`), not recorded as such, so far."""
        return self._n_lost_beat_gaps

    @property
    def n_out_of_order(self) -> int:
        """Events played later than `REORDER_WINDOW_S` allows (still played, where met)."""
        return self._n_out_of_order

    @property
    def truncated(self) -> bool:
        """True once playback reached the end of a recording that was cut off (a crash)."""
        return self._supplier.truncated

    @property
    def notes(self) -> tuple[str, ...]:
        """Once playback reached the end: what the reader lost or ignored (damaged parts,
        malformed lines, a cut-off end), one plain sentence each."""
        return self._supplier.notes

    # -- controls --

    def pause(self) -> None:
        """Freeze the playback position; iteration waits until `resume`. Idempotent."""
        if self._paused_at is None:
            self._paused_at = self.position_s
            self._resumed.clear()

    def resume(self) -> None:
        """Continue from where `pause` froze the position. Idempotent."""
        if self._paused_at is not None:
            self._reanchor(self._paused_at)
            self._paused_at = None
            self._resumed.set()

    def seek(self, t_s: float) -> None:
        """Jump the playback position to ``t_s`` (s of recording time).

        Events with ``t < t_s`` are skipped; the next event played is the first with
        ``t ≥ t_s`` (at once: the position is ``t_s``). Seeking to or before an event already
        played reads the recording again, from the last index point before ``t_s`` (or its
        start); seeking forward reads on from such a point when one lies ahead (module
        docstring). A paused source stays paused.

        Raises
        ------
        ConfigError
            ``t_s`` is not a finite number.
        """
        if isinstance(t_s, bool) or not isinstance(t_s, int | float) or not math.isfinite(t_s):
            raise ConfigError(f"seek position must be a finite number of seconds, got {t_s!r}")
        t_s = float(t_s)
        if t_s <= self._consumed_until:
            self._restart_pending = self._rewind = True
        elif not self._exhausted and self._read_offset < self._index_offset(t_s):
            self._restart_pending = True  # an index point ahead: read on from there
        self._skip_before = t_s
        if self._paused_at is not None:
            self._paused_at = t_s
        else:
            self._reanchor(t_s)
        logger.debug("%s: seek to %.3f s", self.name, t_s)

    def set_speed(self, speed: float) -> None:
        """Play on at ``speed`` (1 = real time, ``math.inf`` = as fast as possible) from here.

        The position does not jump: it goes on from where it is, at the new pace (within
        `MAX_WAIT_S`, as for `seek`). A paused source stays paused.

        Raises
        ------
        ConfigError
            ``speed`` is not positive.
        """
        if isinstance(speed, bool) or not isinstance(speed, int | float) or not speed > 0:
            raise ConfigError(
                f"replay speed must be positive (math.inf: as fast as possible), got {speed!r}"
            )
        if self._started and self._paused_at is None:
            self._reanchor(self.position_s)  # the position so far, at the old pace
        self._speed = float(speed)

    def _reanchor(self, t: float) -> None:
        self._anchor_clock_s = self._clock()
        self._anchor_t = t

    # -- EventSource --

    async def __aenter__(self) -> Self:
        if self._state != "new":
            raise RuntimeError("a ReplaySource can be opened only once")
        await self._supplier.open()
        identity = self._supplier.identity
        if identity is not None:
            self._seek_index = shared_index((*identity, self._decode_raw, self._find_lost_beats))
            if self._index_offset(self._skip_before) >= 0:
                self._restart_pending = True  # sought before opening: read from a known point
        self._state = "open"
        logger.info("replaying %s at speed %s", self.name, self._speed)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._state == "closed":
            return
        self._state = "closed"
        self._resumed.set()  # wake an iterator waiting in pause
        self._heap.clear()
        await self._supplier.close()
        logger.info("replay of %s closed after %d events", self.name, self._n_played)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        if self._state == "new":
            raise RuntimeError("open the replay with 'async with' before iterating over it")
        while True:
            if self._state != "open":
                raise StopAsyncIteration
            if self._paused_at is not None:
                await self._resumed.wait()
                continue
            if self._restart_pending:
                await self._restart()
            event = await self._peek()
            if self._state != "open":
                raise StopAsyncIteration
            if self._paused_at is not None or self._restart_pending:
                continue  # paused or sought backwards while reading
            if event is None:
                self._finish()
                raise StopAsyncIteration
            if not self._started:
                self._started = True
                self._reanchor(max(event.t, self._skip_before))
            if math.isinf(self._speed):
                self._since_yield += 1
                if self._since_yield >= YIELD_EVERY_EVENTS:
                    self._since_yield = 0
                    await self._sleep(0.0)
                    continue  # re-check the state after letting others run
            else:
                due_s = self._anchor_clock_s + (event.t - self._anchor_t) / self._speed
                delay_s = due_s - self._clock()
                if delay_s > 0:
                    await self._sleep(min(delay_s, MAX_WAIT_S))
                    continue  # re-check: paused, sought or closed meanwhile?
            self._pop()
            self._last_played_t = max(self._last_played_t, event.t)
            self._n_played += 1
            return event

    def take_ready(self, into: list[Event], limit: int) -> None:
        """Append to ``into`` up to ``limit`` events that `__anext__` would return now, one
        after another, without waiting.

        At ``speed=math.inf`` those are the events already read; at other speeds, while
        paused, before a pending backward seek, and where the next event needs the event
        loop (more of the file, the first raw notification to decode, a read error, the
        end) there are none: `__anext__` goes on from there. For a consumer that takes
        events in batches (the session engine's read-ahead), which a replay at full speed
        hands over faster than one ``await`` per event.
        """
        if (
            self._state != "open"
            or not self._started
            or not math.isinf(self._speed)
            or self._paused_at is not None
            or self._restart_pending
        ):
            return
        for _ in range(limit):
            event = self._ready()
            while event is None and self._unread and not self._needs_decoder():
                self._take_unread()
                event = self._ready()
            if event is None:
                return
            self._pop()
            self._last_played_t = max(self._last_played_t, event.t)
            self._n_played += 1
            into.append(event)

    # -- internals --

    def _index_point(self, t_s: float) -> IndexPoint | None:
        """The index point a seek to ``t_s`` reads from: the last one before which every
        event made has ``t`` below ``t_s``; None for the start."""
        index = self._seek_index
        k = bisect.bisect_left(index.max_t, t_s) - 1
        return index.points[k] if k >= 0 else None

    def _index_offset(self, t_s: float) -> int:
        """File offset of the index point a seek to ``t_s`` reads from; -1 for the start."""
        at = self._index_point(t_s)
        return -1 if at is None else at.point.offset

    async def _restart(self) -> None:
        """Read on from the last index point before the seek target, or from the start.

        Every event made before an index point has ``t`` below the target, so a read from
        the start would have skipped them all; with the decoders' state and the re-ordering
        window's as that read had them there, what follows is the same.
        """
        self._restart_pending = False
        rewind, self._rewind = self._rewind, False
        at = self._index_point(self._skip_before)
        self._heap.clear()
        self._unread.clear()
        self._exhausted = False
        self._read_error = None
        self._finished = False
        if rewind:
            self._last_played_t = -math.inf
        if at is None:
            await self._supplier.restart()
            self._max_t_read = -math.inf
            self._consumed_until = -math.inf
            if self._decoder is not None:
                self._decoder.reset()
            self._rr_chain.reset()
            self._n_lost_beat_gaps = 0
            self._read_offset = -1
            return
        await self._supplier.jump(at.point)
        self._max_t_read = at.max_t_before
        self._consumed_until = (
            at.max_t_before if rewind else max(self._consumed_until, at.max_t_before)
        )
        decoder = at.decoder if at.decoder is not None else self._seek_index.fresh_decoder
        if decoder is not None:
            self._decoder_checked = True
            decoder = copy.deepcopy(decoder)
            if self._decoder is not None:  # the counters go on, as for a read from the start
                decoder.n_decoded = self._decoder.n_decoded
                decoder.n_errors = self._decoder.n_errors
                decoder.last_error = self._decoder.last_error
            self._decoder = decoder
        self._rr_chain = copy.deepcopy(at.rr_chain)
        self._n_lost_beat_gaps = at.n_lost_beat_gaps
        self._read_offset = at.point.offset

    def _add_index_point(self, point: ResumePoint) -> None:
        """Remember where a seek could read from (the state is that before ``point``)."""
        self._read_offset = point.offset
        self._seek_index.add(
            point, self._max_t_read, self._decoder, self._rr_chain, self._n_lost_beat_gaps
        )

    def _pop(self) -> None:
        t, _, _ = heapq.heappop(self._heap)
        self._consumed_until = max(self._consumed_until, t)

    def _ready(self) -> Event | None:
        """The next event that may play (re-ordering window satisfied), skipping sought-over."""
        while self._heap:
            t, _, event = self._heap[0]
            if t < self._skip_before:
                self._pop()
                continue
            if self._exhausted or t <= self._max_t_read - REORDER_WINDOW_S:
                return event
            return None
        return None

    async def _peek(self) -> Event | None:
        """The next event to play, reading more as needed; None at the end.

        Events enter the re-ordering heap one at a time and the heap is checked after each,
        so the order played does not depend on how the file is cut into batches.
        """
        while True:
            event = self._ready()
            if event is None and self._read_error is not None and not self._unread:
                # Everything read before the error has played: playback reached it.
                error, self._read_error = self._read_error, None
                raise error
            if event is not None or self._exhausted:
                return event
            if not self._unread:
                try:
                    batch = await self._supplier.next_batch()
                except Exception as exc:
                    if self._state != "open" or self._restart_pending:
                        return None
                    # Play what was read before it (the re-ordering heap), then raise.
                    self._read_error = exc
                    self._exhausted = True
                    continue
                if self._state != "open" or self._restart_pending:
                    return None
                if not batch:
                    self._exhausted = True
                    continue
                self._unread.extend(batch)
            if self._needs_decoder():
                await self._check_decoder()
            self._take_unread()

    def _needs_decoder(self) -> bool:
        """The next unread event is the first raw notification to decode (the decoder is made
        once, after a look at which streams the recording holds: a wait)."""
        return (
            not self._decoder_checked
            and self._decode_raw
            and isinstance(self._unread[0], RawNotification)
        )

    def _take_unread(self) -> None:
        """Move the next unread event, and what comes of it, into the re-ordering heap."""
        ev = self._unread.popleft()
        if not isinstance(ev, EXPANDED_TYPES):  # most of them: ECG and ACC frames
            if isinstance(ev, ResumePoint):
                self._add_index_point(ev)
            else:
                self._push(ev)
            return
        pushed = expand_event(
            ev, self._decoder, self._rr_chain, self._find_lost_beats, self._decode_raw
        )
        for event in pushed:
            if event is not ev and isinstance(event, Gap):
                self._n_lost_beat_gaps += 1
            self._push(event)

    def _push(self, event: Event) -> None:
        if event.t < self._last_played_t:
            self._n_out_of_order += 1
            if self._n_out_of_order == 1:
                logger.warning(
                    "%s: events more than %.0f s out of time order; played where they are",
                    self.name,
                    REORDER_WINDOW_S,
                )
            # Keep it playable now, after what was already played.
            heapq.heappush(self._heap, (self._last_played_t, self._seq, event))
        else:
            heapq.heappush(self._heap, (event.t, self._seq, event))
        self._seq += 1
        self._max_t_read = max(self._max_t_read, event.t)

    async def _check_decoder(self) -> None:
        if not self._decoder_checked:
            self._decoder_checked = True
            if self._seek_index.fresh_decoder is not None:  # another source of the file made it
                self._decoder = copy.deepcopy(self._seek_index.fresh_decoder)
                return
            inventory = await self._supplier.stream_inventory()
            header = self._supplier.header
            settings = header.settings if header is not None else MappingProxyType({})
            self._decoder = RawDecoder(inventory, settings)
            self._seek_index.fresh_decoder = copy.deepcopy(self._decoder)
            decoded = [
                name
                for name, on in (
                    ("heart rate", self._decoder.hrm),
                    ("ECG", self._decoder.ecg),
                    ("ACC", self._decoder.acc),
                    ("battery", self._decoder.battery),
                )
                if on
            ]
            logger.info(
                "%s: raw notifications re-decoded for: %s",
                self.name,
                ", ".join(decoded) or "nothing (decoded events recorded)",
            )

    def _finish(self) -> None:
        if self._finished:
            return
        self._finished = True
        if self._decoder is not None and self._decoder.n_errors:
            logger.warning(
                "%s: %d raw notifications could not be decoded (last: %s)",
                self.name,
                self._decoder.n_errors,
                self._decoder.last_error,
            )
        if self._supplier.notes:
            logger.warning(
                "%s: %s; replayed %d events",
                self.name,
                "; ".join(self._supplier.notes),
                self._n_played,
            )
        logger.info("replay of %s finished: %d events", self.name, self._n_played)
