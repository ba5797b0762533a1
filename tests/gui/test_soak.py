"""The session window over minutes of a faulty strap: nothing lost, nothing piling up.

An emulated Polar H10 (the real BLE code on Bumble's virtual radio, ble-protocol.md §8) at the
highest speed it allows (×20: the BLE watchdog and timeouts run on real time) drops the link,
stalls and sends malformed packets by its fault plan, while the session window of the app
(composed as `gui/app.py` composes it, with the frame timer animating the pacer) shows it and
the recorder writes it. A tap between the strap and the engine keeps every RR packet the
source produced, to compare with the file afterwards.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import math
import statistics
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self, TypeVar

import pytest
import qasync
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from pet_biofeedback.events import Event, Gap, Link, LinkState, RRIntervals
from pet_biofeedback.gui.bridge import EngineBridge
from pet_biofeedback.gui.session_window import SessionWindow
from pet_biofeedback.recording import read_recording
from pet_biofeedback.session.engine import SessionEngine, SessionPlan
from pet_biofeedback.session.frame_samples import FrameSamples
from pet_biofeedback.session.pacer import PacerSettings
from pet_biofeedback.session.run import SessionOutcome, run_session
from pet_biofeedback.session.sources import MAX_EMULATED_SPEED, describe_source, open_source
from pet_biofeedback.session.trace import SessionClock, SessionTrace

pytest.importorskip("bumble", reason="needs the 'emulated' extra")

pytestmark = [pytest.mark.ble, pytest.mark.slow]

T = TypeVar("T")
# The emulated strap's modules: `emulated` and its parts (`emulated_world`, `emulated_h10`, …).
_EMULATOR: Final = "pet_biofeedback.firmware_bridge.emulated"

SOAK_MINUTES: Final = 20.0  # 60 s at ×20 (the emulated strap's limit): issue 8 asked for 20 minutes
# Faults on the strap's model clock: a dropped link every 90 s (invisible for 3 s after), a
# silent stall with the link up every 150 s, a malformed packet every minute.
SOAK_FAULTS: Final = "disconnect-every=90s,offline-for=3s,stall-every=150s,malformed-every=60s"
WARM_UP_S: Final = 120.0  # session time before the baseline of memory and objects is taken
# Memory growth allowed after the warm-up, between the median of the first three marks (one a
# minute) and that of the last three: a single mark can catch the loop with a backlog of
# events in flight (a mark itself takes a while), a few MiB that are gone a minute later. What
# may legitimately grow: the engine's per-beat lists of shown values (a few floats a beat, <
# 100 kB here), glyph and pen caches, the allocator's arenas (the 2-h replay in
# benchmarks/gui_session.py grew 3 MiB in 110 min); the summary's ECG and ACC samples are left
# out of the measure (`mark`). Seen: 3–8 MiB over 20 minutes on a loaded machine. What it
# catches: keeping every beat's plot arrays (≈ 15 kB a beat, ≈ 1,000 beats between the
# medians) or about 1 kB more per strap event (≈ 16,000 events between them).
MAX_RSS_GROWTH_MIB: Final = 16.0
# Python objects (gc-tracked) allowed to appear between the warm-up and the end of the session
# (counted once it is over and nothing is in flight), beyond the test's own (see `mark`): at
# the warm-up mark up to several hundred callbacks, futures and events are in flight (the
# loop runs behind a ×20 strap on a loaded machine). Anything kept per display frame (≈ 3,000
# after the warm-up at ×20) or per ECG/ACC packet (≈ 7 a second: ≈ 7,500) fails; one small
# object kept per beat (≈ 1,200 beats) might not: the memory bound above catches beats kept
# with their arrays.
MAX_PY_OBJECT_GROWTH: Final = 1500


class Tap:
    """The source, keeping every RR packet it produced."""

    def __init__(self, source: Any) -> None:
        self._source = source
        self.rr: list[RRIntervals] = []

    @property
    def device_info(self) -> object:
        return getattr(self._source, "device_info", None)

    async def __aenter__(self) -> Self:
        await self._source.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._source.__aexit__(exc_type, exc, tb)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    async def _events(self) -> AsyncIterator[Event]:
        async for event in self._source:
            if isinstance(event, RRIntervals):
                self.rr.append(event)
            yield event


@dataclass(frozen=True)
class Mark:
    t_s: float
    rss_mib: float
    qt_objects: int
    py_objects: int


@dataclass
class Harness:
    """Source → tap → engine → recorder and window, wired as `gui/app.py` wires them."""

    tap: Tap
    engine: SessionEngine
    window: SessionWindow
    clock: SessionClock
    bridge: EngineBridge
    trace: SessionTrace
    speed: float
    link_shown: list[str] = field(default_factory=list)  # the link line after every change
    marks: list[Mark] = field(default_factory=list)


def compose(spec: str, *, faults: str, speed: float, minutes: float) -> Harness:
    plan = SessionPlan(protocol="practice", minutes=minutes, pacer=PacerSettings())
    tap = Tap(open_source(spec, speed=speed, faults=faults))
    engine = SessionEngine(tap, plan)
    clock = SessionClock(speed)
    trace = SessionTrace(engine)
    bridge = EngineBridge()
    bridge.attach(engine)
    window = SessionWindow(
        pacer_now=lambda: engine.pacer_state(clock.now()),
        trace_now=lambda: trace.arrays(clock.now()),
    )
    h = Harness(tap, engine, window, clock, bridge, trace, speed)
    bridge.snapshot.connect(window.on_snapshot)
    bridge.link.connect(window.on_link)
    bridge.link.connect(lambda _: h.link_shown.append(window.link_label.text()))
    window.stop_requested.connect(engine.request_stop)
    window.resize(1280, 800)
    window.show()
    return h


async def run(
    h: Harness, path: Path, on_event: Callable[[Event], None] | None = None
) -> SessionOutcome:
    def seen(event: Event) -> None:
        h.clock.seen(event.t)
        h.bridge.on_event(event)
        if on_event is not None:
            on_event(event)

    session = asyncio.ensure_future(
        run_session(
            h.engine, path, device=describe_source("emulated:h10"), speed=h.speed, on_event=seen
        )
    )
    try:
        # A session that outlives its plan by far is stopped (which keeps the recording) and
        # fails the test with what the window last showed, instead of hanging the test run.
        limit_s = h.engine.plan.seconds / h.speed * 3 + 30
        await asyncio.wait({session}, timeout=limit_s)
        if not session.done():
            h.engine.request_stop()
            await asyncio.wait({session}, timeout=30)
            pytest.fail(f"the session was still running after {limit_s:.0f} s: {h.link_shown[-3:]}")
        return session.result()
    finally:
        if not session.done():
            session.cancel()
        h.window.on_session_ended()


def in_qt_loop(coroutine: Awaitable[T]) -> T:
    """Run ``coroutine`` on a qasync loop: Qt timers and paints run while it awaits."""
    app = QApplication.instance() or QApplication([])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        with loop:
            result: T = loop.run_until_complete(coroutine)  # qasync is untyped
            return result
    finally:
        asyncio.set_event_loop(None)


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return math.nan  # not Linux: the memory bound is not checked


def _from_emulator(o: object) -> bool:
    """Whether `o` is an instance of a class of the emulated strap's modules."""
    module = type(o).__module__  # not always a str: some extension types have a descriptor
    return isinstance(module, str) and module.startswith(_EMULATOR)


def mark(h: Harness, t_s: float) -> Mark:
    """Memory and objects now, without what the test's own parts and the summary keep on purpose.

    The emulated strap logs every packet it sent (for the BLE tests) and the tap keeps every
    RR packet: both grow by design and are not the app's. Cancelled timer handles are left out
    too: Bumble's GATT client arms a 30-s timeout per request and cancels it on the answer, and
    qasync keeps a cancelled timer until its time would have come (30 s of wall time: 10
    minutes of the strap's at ×20, so their number follows the strap's requests, not the app).
    """
    gc.collect()
    objects = gc.get_objects()
    # qasync's call_later gives plain `asyncio.Handle`s (not TimerHandle); each holds the
    # context copied when it was made
    cancelled = sum(
        1 + isinstance(getattr(o, "_context", None), contextvars.Context)
        for o in objects
        if isinstance(o, asyncio.Handle) and o.cancelled()
    )
    kept = sum(_from_emulator(o) for o in objects) + len(h.tap.rr) + cancelled
    # The summary is analysed from the ECG and ACC samples the recorder hands over while it
    # writes (`RecordingAccumulator`): ≈ 3 kB a second of an H10 session, kept on purpose.
    summary_mib = sum(o.nbytes for o in objects if isinstance(o, FrameSamples)) / 2**20
    return Mark(
        t_s, rss_mib() - summary_mib, len(h.window.findChildren(QObject)), len(objects) - kept
    )


def test_a_faulty_strap_for_minutes_loses_nothing_and_piles_nothing_up(
    qtbot: QtBot, tmp_path: Path
) -> None:
    h = compose("emulated:h10", faults=SOAK_FAULTS, speed=MAX_EMULATED_SPEED, minutes=SOAK_MINUTES)
    qtbot.addWidget(h.window)
    next_mark = [WARM_UP_S]
    frames = [0]
    h.window.frame_timer.timeout.connect(lambda: frames.__setitem__(0, frames[0] + 1))

    def on_event(event: Event) -> None:
        if event.t >= next_mark[0]:
            h.marks.append(mark(h, event.t))
            next_mark[0] = event.t + 60.0

    recording = tmp_path / "soak.jsonl.gz"
    outcome = in_qt_loop(run(h, recording, on_event))
    assert not outcome.stopped_early
    over = mark(h, math.inf)

    # nothing lost: every RR packet the strap produced while the session ran is in the file,
    # in order; the tap may hold a few more read ahead after the planned end
    events = list(read_recording(recording).events)
    recorded = [e for e in events if isinstance(e, RRIntervals)]
    assert len(recorded) > 100
    produced = h.tap.rr[: len(recorded)]
    assert [e.rr_ms for e in recorded] == [e.rr_ms for e in produced]
    assert [e.t for e in recorded] == pytest.approx([e.t for e in produced], abs=1e-6)
    assert all(e.t > recorded[-1].t for e in h.tap.rr[len(recorded) :])
    # every lost link is marked as a gap in the file once it is back (the last one may still
    # be reconnecting when the session ends)
    retries = [e for e in events if isinstance(e, Link) and e.state == LinkState.RECONNECTING]
    gaps = [e for e in events if isinstance(e, Gap) and e.reason.startswith("link lost")]
    # faults run on the strap's model clock, which a loaded machine slows: ≈ 6 drops when idle
    assert len(retries) >= 2
    assert len(retries) - 1 <= len(gaps) <= len(retries)
    # the window showed every loss, and the pacer kept animating
    assert sum("reconnecting" in text for text in h.link_shown) == len(retries)
    assert frames[0] > 200  # ≈ 1800 on an idle machine; a loaded one starves the timer
    # nothing piles up after the warm-up
    first, last = h.marks[0], h.marks[-1]
    assert last.t_s - first.t_s >= (SOAK_MINUTES - 5) * 60, (h.marks, events[-3:])
    assert len(h.marks) >= 6, h.marks
    assert last.qt_objects == first.qt_objects, h.marks
    assert over.py_objects - first.py_objects < MAX_PY_OBJECT_GROWTH, (h.marks, over)
    if not math.isnan(first.rss_mib):  # during the session (the summary analysis is after it)
        early = statistics.median(m.rss_mib for m in h.marks[:3])
        late = statistics.median(m.rss_mib for m in h.marks[-3:])
        assert late - early < MAX_RSS_GROWTH_MIB, h.marks


def test_a_lost_and_recovered_link_is_shown(qtbot: QtBot, tmp_path: Path) -> None:
    h = compose("emulated:h10", faults="disconnect-every=15s", speed=MAX_EMULATED_SPEED, minutes=2)
    qtbot.addWidget(h.window)
    seen_lost: list[str] = []

    async def session() -> SessionOutcome:
        task = asyncio.ensure_future(run(h, tmp_path / "link.jsonl.gz"))
        for _ in range(400):  # ≤ 20 s: connect, lose the link after 15 model s, reconnect
            await asyncio.sleep(0.05)
            text = h.window.link_label.text()
            if "reconnecting" in text and not seen_lost:
                seen_lost.append(text)
            if seen_lost and text.startswith("Strap: connected"):
                break
        h.window.stop_action.trigger()  # the person stops the session from the toolbar
        return await task

    outcome = in_qt_loop(session())
    assert seen_lost, f"the window never said the link was lost: {h.link_shown}"
    assert "The strap disconnected" in seen_lost[0]
    lost_at = h.link_shown.index(seen_lost[0])
    assert any(text.startswith("Strap: connected") for text in h.link_shown[lost_at:])
    assert outcome.stopped_early
