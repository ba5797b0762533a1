"""A file replayed through the session engine, under a person's control (issue 8, "Replay").

The replay view shows a recording, XDF or RR text file with the very views of a live session,
and lets the person play, pause, change the speed (×1, ×4, ×16, as fast as possible) and jump
anywhere on a timeline. `ReplayController` does all of that without Qt:

* **Read-only.** The file is played through a `SessionEngine` (which re-creates the recorded
  pacer, ``pacer_from_source``) and nothing else: no recorder, no history row. Replaying never
  writes anything.
* **Opening** scans the file once on a worker thread (`scan_replay`): its time span (for the
  timeline) and its pacer changes (a jump must start with the pacer that was running there);
  the same pass builds a recording's seek index (`replay_index.index_recording`), so that a
  jump reads from ≤ 30 s before its target, not from the file's start. XDF and RR text files
  are imported then and played from memory.
* **Seeking** starts a new *segment*: a fresh source and engine from `WARM_UP_S` before the
  target, played as fast as possible and not shown, then at the chosen speed from the target
  on. The engine's measures and the heart-rate curve at the target are then exactly what they
  would be after playing there (the coherence window and the 90 s curve are shorter than the
  warm-up), at the cost of one warm-up's worth of analysis per jump.
* **Session time.** Each segment's events reach its engine shifted to start near 0 (the
  engine's plan ends a session at `PLAN_MINUTES`); a recording longer than that simply goes on
  in a new segment where the last one stopped. Everything handed out (snapshots, the heart-rate
  picture, the pacer, positions) is in the file's own time again.
* **Pause and speed** go to the playing segment's `ReplaySource` (`pause`, `resume`,
  `set_speed`); pausing stops the events, so the engine publishes nothing meanwhile.

Errors of the file (unreadable, not a recording, a damaged interval) are
`PetBiofeedbackError`s: `open` raises them, and during playback `run` reports them to the
``on_error`` subscribers and stops, so that a view can show ``user_message`` and carry on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final, Literal, Self

import numpy as np

from pet_biofeedback.errors import ConfigError, InputFileError, PetBiofeedbackError
from pet_biofeedback.events import Event, PacerPhase
from pet_biofeedback.firmware_bridge.replay import ReplaySource
from pet_biofeedback.firmware_bridge.replay_index import index_recording
from pet_biofeedback.session.engine import SessionEngine, SessionPlan, settings_from_event
from pet_biofeedback.session.feedback import FeedbackSnapshot
from pet_biofeedback.session.importers import check_regular_file, rr_text_events, xdf_events
from pet_biofeedback.session.pacer import Pacer, PacerState
from pet_biofeedback.session.plausibility import PlausibilityGate
from pet_biofeedback.session.trace import SessionTrace, TraceArrays

__all__ = [
    "PLAN_MINUTES",
    "SPEEDS",
    "WARM_UP_S",
    "ReplayController",
    "ReplayInfo",
    "ReplayState",
    "scan_replay",
]

logger = logging.getLogger(__name__)

WARM_UP_S: Final = 120.0  # played unseen before a jump's target: > 90 s curve, > 64 s coherence
PLAN_MINUTES: Final = 60.0  # one segment's engine session at most (SessionPlan's longest)
SPEEDS: Final = (1.0, 4.0, 16.0, math.inf)  # what the view offers; any positive speed works
_RECORDING_SUFFIXES: Final = (".jsonl", ".jsonl.gz")
_XDF_SUFFIXES: Final = (".xdf", ".xdfz")

FileKind = Literal["recording", "xdf", "rr_text"]
ReplayState = Literal["new", "playing", "paused", "ended", "failed", "closed"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayInfo:
    """What a scan of the file found: its kind, time span (s of its own time) and pacer."""

    path: Path
    kind: FileKind
    t_first_s: float
    t_last_s: float
    n_events: int
    pacer_phases: tuple[PacerPhase, ...]

    @property
    def duration_s(self) -> float:
        return max(self.t_last_s - self.t_first_s, 0.0)


def _file_kind(path: Path) -> FileKind:
    name = path.name.lower()
    if name.endswith(_RECORDING_SUFFIXES):
        return "recording"
    if name.endswith(_XDF_SUFFIXES):
        return "xdf"
    return "rr_text"


def scan_replay(path: Path) -> tuple[ReplayInfo, list[Event] | None]:
    """Read ``path`` once: its `ReplayInfo`, and the events of an imported (XDF, RR) file.

    Blocking (call it through `asyncio.to_thread`). A recording is streamed (memory stays
    flat); its events are read again when played.

    Raises
    ------
    InputFileError
        Missing, a folder or a pipe, an XDF or RR file the importers refuse, or a file
        without any event.
    RecordingError
        A recording that cannot be read (not a recording, another major version, bad header).
    """
    if path.is_dir():
        raise InputFileError(str(path), "is a folder, not a recording")
    check_regular_file(path)
    if not path.exists():
        raise InputFileError(str(path), "no such file")
    kind = _file_kind(path)
    events: list[Event] | None = None
    t_first, t_last, n = math.inf, -math.inf, 0
    phases: list[PacerPhase] = []
    if kind == "recording":
        # The pass builds the file's seek index as well: a jump then reads from ≤ 30 s before
        # its target, not from the start of the file (firmware_bridge.replay_index).
        for event in index_recording(path):
            n += 1
            t_first, t_last = min(t_first, event.t), max(t_last, event.t)
            if isinstance(event, PacerPhase):
                phases.append(event)
    else:
        events = xdf_events(path) if kind == "xdf" else rr_text_events(path)
        n = len(events)
        if events:
            times = np.fromiter((e.t for e in events), dtype=np.float64, count=n)
            t_first, t_last = float(times.min()), float(times.max())
        phases = [e for e in events if isinstance(e, PacerPhase)]
    if n == 0:
        raise InputFileError(str(path), "holds no heartbeats or other data to replay")
    phases.sort(key=lambda e: e.t)
    info = ReplayInfo(
        path=path,
        kind=kind,
        t_first_s=t_first,
        t_last_s=t_last,
        n_events=n,
        pacer_phases=tuple(phases),
    )
    return info, events


def _pacer_at(phases: tuple[PacerPhase, ...], t_s: float) -> PacerPhase | None:
    """The pacer running at ``t_s`` as a `PacerPhase` stamped ``t_s`` (None: no pacer then)."""
    before = [p for p in phases if p.t < t_s]
    if not before:
        return None
    last = before[-1]
    settings = settings_from_event(last)
    if settings is None:
        return None  # the pacer was stopped then
    position = Pacer(settings, t_start_s=last.t - last.position * settings.period_s).position_at(
        t_s
    )
    return dataclasses.replace(last, t=t_s, position=position)


class _Segment:
    """One stretch of playback: the file from ``start_s``, unseen until ``play_from_s``.

    An `EventSource` for the engine: the events of a `ReplaySource` through the plausibility
    gate, shifted by ``offset_s`` (= ``start_s``) to start near 0, led by the pacer running at
    ``start_s``; as fast as possible until ``play_from_s``, then at ``speed``.
    """

    def __init__(
        self,
        replay: ReplaySource,
        *,
        start_s: float,
        play_from_s: float,
        speed: float,
        lead: PacerPhase | None,
        name: str,
    ) -> None:
        self.replay = replay
        self.offset_s = start_s
        self.play_from_s = play_from_s
        self.speed = speed
        self.live = start_s >= play_from_s
        self.pause_when_live = False  # a pause asked for during the warm-up
        self.exhausted = False
        self.gate = PlausibilityGate(name)
        self._ready: list[Event] = [] if lead is None else [lead]
        replay.seek(start_s)
        replay.set_speed(speed if self.live else math.inf)

    @property
    def device_info(self) -> object:
        return self.replay.device_info

    async def __aenter__(self) -> Self:
        await self.replay.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.replay.__aexit__(exc_type, exc, tb)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        while not self._ready:
            try:
                event = await self.replay.__anext__()
            except StopAsyncIteration:
                self.exhausted = True
                raise
            self._ready = self.gate.filter(event)
        event = self._ready.pop(0)
        if not self.live and event.t >= self.play_from_s:
            self.live = True
            self.replay.set_speed(self.speed)
            if self.pause_when_live:
                self.replay.pause()
        if self.offset_s == 0.0:
            return event
        return dataclasses.replace(event, t=event.t - self.offset_s)


class ReplayController:
    """Play a file through the engine with pause, speed and seek (module docstring).

    Parameters
    ----------
    path : Path
        A recording (``.jsonl``, ``.jsonl.gz``), XDF (``.xdf``) or RR text file.
    speed : float, default 1.0
        1 = real time, ``math.inf`` = as fast as possible.
    warm_up_s : float, default WARM_UP_S
        Played unseen before the target of a jump.

    Notes
    -----
    Use: ``await open()``, then ``await run()`` (it returns after `close`; at the end of the
    file it waits for a jump back or `close`). The controls may be called from any task of
    the loop at any time. Subscribers run on the engine's task.
    """

    def __init__(self, path: Path, *, speed: float = 1.0, warm_up_s: float = WARM_UP_S) -> None:
        self.path = path
        self._speed = _checked_speed(speed)
        self.warm_up_s = warm_up_s
        self.info: ReplayInfo | None = None
        self._events: list[Event] | None = None
        self.state: ReplayState = "new"
        self.error: PetBiofeedbackError | None = None
        self._target_s = 0.0
        self._paused = False
        self._wake = asyncio.Event()
        self._segment: _Segment | None = None
        self._engine: SessionEngine | None = None
        self._trace: SessionTrace | None = None
        self._last_t_s = 0.0
        self.n_segments = 0
        self.n_snapshots_shown = 0
        self._snapshot_subscribers: list[Callable[[FeedbackSnapshot], None]] = []
        self._state_subscribers: list[Callable[[ReplayState], None]] = []

    # ------------------------------------------------------------------ subscriptions
    def subscribe(self, callback: Callable[[FeedbackSnapshot], None]) -> None:
        """``callback`` gets every snapshot shown (not those of a warm-up), in file time."""
        self._snapshot_subscribers.append(callback)

    def on_state(self, callback: Callable[[ReplayState], None]) -> None:
        """``callback`` gets every change of `state` (``"failed"``: see `error`), and the
        current state again when a jump's target is ready to be shown (while paused no
        snapshot comes: redraw then)."""
        self._state_subscribers.append(callback)

    # ------------------------------------------------------------------ queries
    @property
    def speed(self) -> float:
        return self._speed

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def duration_s(self) -> float:
        return 0.0 if self.info is None else self.info.duration_s

    def position_s(self) -> float:
        """Playback position, s from the file's first event (frozen while paused)."""
        if self.info is None:
            return 0.0
        if self.state == "ended":
            return self.info.duration_s
        segment = self._segment
        if segment is None or not segment.live:
            t = self._target_s
        else:
            t = segment.replay.position_s
        return min(max(t - self.info.t_first_s, 0.0), self.info.duration_s)

    def pacer_state(self) -> PacerState | None:
        """The recorded pacer at the playback position; None when it was not pacing."""
        engine, segment = self._engine, self._segment
        if engine is None or segment is None or self.info is None:
            return None
        t = self.info.t_first_s + self.position_s()
        return engine.pacer_state(t - segment.offset_s)

    def trace(self) -> TraceArrays | None:
        """The heart-rate picture up to the playback position, in file time; None before."""
        trace, segment = self._trace, self._segment
        if trace is None or segment is None or self.info is None:
            return None
        t = self.info.t_first_s + self.position_s()
        arrays = trace.arrays(t - segment.offset_s)
        off = segment.offset_s
        if off == 0.0:
            return arrays
        return TraceArrays(
            t_s=arrays.t_s + off,
            hr_bpm=arrays.hr_bpm,
            target_t_s=arrays.target_t_s + off,
            target_bpm=arrays.target_bpm,
            onset_t_s=arrays.onset_t_s + off,
            t_start_s=arrays.t_start_s + off,
            t_end_s=arrays.t_end_s + off,
        )

    # ------------------------------------------------------------------ controls
    def pause(self) -> None:
        """Stop the events where they are (idempotent); a jump's warm-up still runs."""
        self._paused = True
        segment = self._segment
        if segment is not None:
            if segment.live:
                segment.replay.pause()
            else:
                segment.pause_when_live = True
        if self.state == "playing":
            self._set_state("paused")

    def resume(self) -> None:
        """Go on from the paused position (idempotent)."""
        self._paused = False
        if self._segment is not None:
            self._segment.pause_when_live = False
            self._segment.replay.resume()
        if self.state == "paused":
            self._set_state("playing")

    def set_speed(self, speed: float) -> None:
        """Play on at ``speed`` from the current position (no jump, no warm-up).

        Raises
        ------
        ConfigError
            ``speed`` is not positive.
        """
        self._speed = _checked_speed(speed)
        segment = self._segment
        if segment is not None:
            segment.speed = self._speed
            if segment.live:
                segment.replay.set_speed(self._speed)

    def seek(self, position_s: float) -> None:
        """Jump to ``position_s`` (s from the file's first event, clipped to the file).

        Raises
        ------
        ConfigError
            ``position_s`` is not a finite number.
        """
        if not isinstance(position_s, int | float) or not math.isfinite(position_s):
            raise ConfigError(f"a replay position is a finite number of seconds, got {position_s}")
        if self.info is None:
            self._target_s = float(position_s)
        else:
            clipped = min(max(float(position_s), 0.0), self.info.duration_s)
            self._target_s = self.info.t_first_s + clipped
        self._restart()

    def close(self) -> None:
        """End the replay: `run` returns soon after (idempotent)."""
        if self.state != "closed":
            self._set_state("closed")
        self._restart()

    # ------------------------------------------------------------------ running
    async def open(self) -> ReplayInfo:
        """Scan the file (worker thread); its `ReplayInfo`.

        Raises
        ------
        PetBiofeedbackError
            The file cannot be replayed (`scan_replay`); ``user_message`` says why.
        """
        try:
            info, self._events = await asyncio.to_thread(scan_replay, self.path)
        except PetBiofeedbackError as exc:
            self.error = exc
            self._set_state("failed")
            raise
        self.info = info
        self._target_s = info.t_first_s + min(max(self._target_s, 0.0), info.duration_s)
        return info

    async def run(self) -> None:
        """Play until `close` (module docstring); a file error ends it in state ``failed``."""
        if self.info is None:
            await self.open()
        info = self.info
        assert info is not None
        while self.state != "closed":
            self._wake.clear()
            target = self._target_s
            play = asyncio.ensure_future(self._play_segment(info, target))
            wake = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait((play, wake), return_when=asyncio.FIRST_COMPLETED)
            finally:
                if not play.done() and self._engine is not None:
                    # a jump, close, or run() cancelled: the engine ends the segment cleanly
                    # (a cancelled engine would leave its reader's tasks behind)
                    self._engine.request_stop()
                wake.cancel()
                await asyncio.gather(wake, return_exceptions=True)
            try:
                more = await play
            except PetBiofeedbackError as exc:
                logger.warning("replay of %s stopped: %s", self.path.name, exc)
                self.error = exc
                self._set_state("failed")
                return
            if self._wake.is_set():
                continue
            if more:  # the engine's session length was over: go on in a new segment
                self._target_s = self._last_t_s
                continue
            self._set_state("ended")
            await self._wake.wait()  # a jump back, or close

    async def _play_segment(self, info: ReplayInfo, target: float) -> bool:
        """Play from ``target``; True when the file goes on after the engine's session ended."""
        start = max(target - self.warm_up_s, info.t_first_s)
        replay = (
            ReplaySource(self.path)
            if self._events is None
            else ReplaySource.from_events(self._events, name=str(self.path))
        )
        segment = _Segment(
            replay,
            start_s=start,
            play_from_s=target,
            speed=self._speed,
            lead=_pacer_at(info.pacer_phases, start),
            name=str(self.path),
        )
        segment.pause_when_live = self._paused
        if self._paused and segment.live:
            replay.pause()
        plan = SessionPlan(protocol="assessment", minutes=PLAN_MINUTES)
        engine = SessionEngine(segment, plan, pacer_from_source=True)
        self._trace = SessionTrace(engine)
        engine.subscribe(self._on_snapshot)
        self._segment, self._engine = segment, engine
        self.n_segments += 1
        if self.state not in ("closed",):
            self._set_state("paused" if self._paused else "playing")
        logger.debug("replay segment from %.1f s, shown from %.1f s", start, target)
        shown = start >= target
        if shown:
            self._notify_ready()
        async with engine:
            async for event in engine:
                t = event.t + segment.offset_s
                self._last_t_s = max(self._last_t_s, t)
                if not shown and t >= target:
                    shown = True  # the warm-up is analysed: the picture at the target is ready
                    self._notify_ready()
        return not segment.exhausted

    def _on_snapshot(self, snapshot: FeedbackSnapshot) -> None:
        segment, info = self._segment, self.info
        assert segment is not None and info is not None
        t_s = snapshot.t_s + segment.offset_s
        if t_s < segment.play_from_s:
            return  # a warm-up: the trace keeps it, nobody sees it
        shown = dataclasses.replace(
            snapshot,
            t_s=t_s,
            elapsed_s=t_s - info.t_first_s,
            remaining_s=max(info.t_last_s - t_s, 0.0),
        )
        self.n_snapshots_shown += 1
        for callback in self._snapshot_subscribers:
            callback(shown)

    def _restart(self) -> None:
        self._last_t_s = self._target_s
        self._wake.set()

    def _notify_ready(self) -> None:
        for callback in self._state_subscribers:
            callback(self.state)

    def _set_state(self, state: ReplayState) -> None:
        if state == self.state:
            return
        self.state = state
        for callback in self._state_subscribers:
            callback(state)


def _checked_speed(speed: float) -> float:
    if isinstance(speed, bool) or not isinstance(speed, int | float) or not speed > 0:
        raise ConfigError(
            f"replay speed must be positive (math.inf: as fast as possible), got {speed!r}"
        )
    return float(speed)
