"""``python -m benchmarks.gui_session``: the desktop app's cost during a session, offscreen.

Issue 8's goals, each measured in the real session window (`SessionWindow`, fed by the session
engine through `EngineBridge`, `SessionTrace` and `SessionClock`, wired as `gui/app.py` wires
them; the recording is written by `run_session` as in the app):

1. **CPU and frame rate** with the pacer animating (goal: 60 frames/s with under 10 % of one
   core). A live session on the simulated strap in real time (``--seconds``, default 60); the
   process's CPU time (`time.process_time`: every thread of this process — Qt, engine,
   recorder) over the wall time after a warm-up. Frames are counted where they happen: a
   harness subclass of `PacerView` counts its ``paintEvent`` calls (and times them); the frame
   timer's ticks are counted beside them.
2. **Notification-to-screen latency** (goal: p99 < 50 ms). Method: the source is wrapped in a
   tap that stamps (`time.perf_counter`) every RR packet as the engine's reader receives it. A
   harness subclass of `HeartRateView` notes, in ``set_arrays``, how many packets had arrived
   when it was given its arrays (the engine handles a packet and publishes its snapshots
   before it takes the next one, so those arrays contain that packet's beats), and, at the end
   of its ``paintEvent``, gives every packet up to that count which was not yet on screen its
   latency: paint finished − arrival. Packets never painted are counted and reported.
3. **Memory over a 2-hour replay at max speed** (goal: flat after the first minutes). A 2-h
   simulated H10 recording (RR, HR, ECG, ACC) is written first (`long_h10.write_h10_recording`)
   and replayed in the window at ``--speed max``; at every 10 minutes of recording time the
   resident memory (``VmRSS``), the Qt objects under the window
   (``len(window.findChildren(QObject))``) and the Python objects (``len(gc.get_objects())``)
   are printed.

Options: ``--seconds`` (live part), ``--hours`` (replay length), ``--skip-live``,
``--skip-replay``. Needs the ``gui`` extra; sets ``QT_QPA_PLATFORM=offscreen`` unless set.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import os
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self
from unittest import mock

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

LIVE_SECONDS: Final = 60.0
WARM_UP_S: Final = 5.0  # start-up (imports done, first layout, first beats) is not measured
REPLAY_HOURS: Final = 2.0
MARK_EVERY_S: Final = 600.0  # memory is printed at every 10 minutes of recording time
SEED: Final = 8  # issue 8
GOAL_FPS: Final = 60.0
GOAL_CPU_PCT: Final = 10.0
GOAL_LATENCY_P99_MS: Final = 50.0


@dataclass
class Probe:
    """What the harness widgets and the tap observed."""

    arrivals: list[float] = field(default_factory=list)  # perf_counter of each RR packet
    latency_ms: list[float] = field(default_factory=list)
    handled_ms: list[float] = field(default_factory=list)  # arrival → curve has the beats
    to_paint_ms: list[float] = field(default_factory=list)  # curve has them → painted
    painted_upto: int = 0  # packets already on screen
    pacer_paints: int = 0
    pacer_paint_ms: list[float] = field(default_factory=list)
    heart_paint_ms: list[float] = field(default_factory=list)
    snapshot_ms: list[float] = field(default_factory=list)  # window.on_snapshot, per beat
    timer_ticks: int = 0


class _Tap:
    """The source, with every RR packet stamped as it reaches the engine's reader."""

    def __init__(self, source: Any, probe: Probe) -> None:
        self._source = source
        self._probe = probe

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

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._events()

    async def _events(self) -> AsyncIterator[Any]:
        from pet_biofeedback.events import RRIntervals

        async for event in self._source:
            if isinstance(event, RRIntervals) and event.rr_ms:
                self._probe.arrivals.append(time.perf_counter())
            yield event


@contextmanager
def _harness_widgets(probe: Probe) -> Iterator[None]:
    """`SessionPanel` (the session window's views) builds harness subclasses of its pacer and
    heart-rate views."""
    from PySide6.QtGui import QPaintEvent

    from pet_biofeedback.gui import session_panel
    from pet_biofeedback.gui.hr_view import HeartRateView
    from pet_biofeedback.gui.pacer_view import PacerView
    from pet_biofeedback.session.trace import TraceArrays

    class CountingPacer(PacerView):
        def paintEvent(self, event: QPaintEvent) -> None:
            start = time.perf_counter()
            super().paintEvent(event)
            probe.pacer_paint_ms.append((time.perf_counter() - start) * 1e3)
            probe.pacer_paints += 1

    class StampingHeart(HeartRateView):
        generation = 0
        given_at = 0.0

        def set_arrays(self, arrays: TraceArrays) -> None:
            super().set_arrays(arrays)
            self.generation = len(probe.arrivals)
            self.given_at = time.perf_counter()

        def paintEvent(self, event: QPaintEvent) -> None:
            start = time.perf_counter()
            super().paintEvent(event)
            done = time.perf_counter()
            probe.heart_paint_ms.append((done - start) * 1e3)
            for k in range(probe.painted_upto, self.generation):
                probe.latency_ms.append((done - probe.arrivals[k]) * 1e3)
                probe.handled_ms.append((self.given_at - probe.arrivals[k]) * 1e3)
                probe.to_paint_ms.append((done - self.given_at) * 1e3)
            probe.painted_upto = max(probe.painted_upto, self.generation)

    with (
        mock.patch.object(session_panel, "PacerView", CountingPacer),
        mock.patch.object(session_panel, "HeartRateView", StampingHeart),
    ):
        yield


class _Session:
    """One session in one window, composed as `gui/app.py` composes it, plus the probes."""

    def __init__(self, spec: str, *, speed: float, minutes: float, probe: Probe) -> None:
        from pet_biofeedback.gui.bridge import EngineBridge
        from pet_biofeedback.gui.session_window import SessionWindow
        from pet_biofeedback.session.engine import SessionEngine, SessionPlan
        from pet_biofeedback.session.pacer import PacerSettings
        from pet_biofeedback.session.sources import describe_source, open_source
        from pet_biofeedback.session.trace import SessionClock, SessionTrace

        self.probe = probe
        self.speed = speed
        plan = SessionPlan(protocol="practice", minutes=min(minutes, 60.0), pacer=PacerSettings())
        if minutes > plan.minutes:
            # A practice plan is capped at 60 min; the 2-h replay needs the same window and
            # engine to run for 2 h (what a replay page will do with a long recording).
            object.__setattr__(plan, "minutes", minutes)
        holder: list[SessionEngine] = []
        source = open_source(
            spec, speed=speed, pacer=lambda t: holder[0].pacer_position(t) if holder else 0.0
        )
        engine = SessionEngine(_Tap(source, probe), plan)
        holder.append(engine)
        self.engine = engine
        self.device = describe_source(spec, speed=speed)
        self.clock = SessionClock(speed)
        self.trace = SessionTrace(engine)
        self.bridge = EngineBridge()
        self.bridge.attach(engine)
        with _harness_widgets(probe):
            self.window = SessionWindow(
                pacer_now=lambda: engine.pacer_state(self.clock.now()),
                trace_now=lambda: self.trace.arrays(self.clock.now()),
                title="benchmark",
            )
        self.bridge.snapshot.connect(self._on_snapshot)
        self.bridge.link.connect(self.window.on_link)
        self.window.frame_timer.timeout.connect(self._tick)
        self.window.resize(1280, 800)
        self.window.show()

    def _tick(self) -> None:
        self.probe.timer_ticks += 1

    def _on_snapshot(self, snapshot: Any) -> None:
        start = time.perf_counter()
        self.window.on_snapshot(snapshot)
        self.probe.snapshot_ms.append((time.perf_counter() - start) * 1e3)

    def on_event(self, event: Any) -> None:
        self.clock.seen(event.t)
        self.bridge.on_event(event)

    async def run(self, path: Path, on_event: Callable[[Any], None] | None = None) -> Any:
        from pet_biofeedback.session.run import run_session

        def seen(event: Any) -> None:
            self.on_event(event)
            if on_event is not None:
                on_event(event)

        try:
            return await run_session(
                self.engine, path, device=self.device, speed=self.speed, on_event=seen
            )
        finally:
            self.window.on_session_ended()


def _qt_loop() -> Any:
    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["gui_session"])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    return loop


# ---------------------------------------------------------------------------- 1 + 2: live
@dataclass(frozen=True)
class LiveResult:
    wall_s: float
    cpu_pct: float
    fps: float
    ticks_per_s: float
    probe: Probe
    unpainted_packets: int


async def _live(seconds: float, folder: Path) -> LiveResult:
    probe = Probe()
    minutes = max(2.0, seconds / 60 + 1)
    session = _Session(f"sim:seed={SEED}", speed=1.0, minutes=minutes, probe=probe)
    task = asyncio.ensure_future(session.run(folder / "live.jsonl.gz"))
    await asyncio.sleep(WARM_UP_S)
    # only the measured stretch counts
    probe.latency_ms.clear()
    probe.handled_ms.clear()
    probe.to_paint_ms.clear()
    probe.pacer_paint_ms.clear()
    probe.heart_paint_ms.clear()
    probe.snapshot_ms.clear()
    paints0, ticks0 = probe.pacer_paints, probe.timer_ticks
    wall0, cpu0 = time.perf_counter(), time.process_time()
    await asyncio.sleep(seconds - WARM_UP_S)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    paints, ticks = probe.pacer_paints - paints0, probe.timer_ticks - ticks0
    unpainted = len(probe.arrivals) - probe.painted_upto
    session.engine.request_stop()
    await task
    session.window.close()
    return LiveResult(
        wall_s=wall,
        cpu_pct=100 * cpu / wall,
        fps=paints / wall,
        ticks_per_s=ticks / wall,
        probe=probe,
        unpainted_packets=unpainted,
    )


# ---------------------------------------------------------------------------- 3: replay memory
def _rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return math.nan


@dataclass(frozen=True)
class Mark:
    t_s: float
    wall_s: float
    rss_mib: float
    qt_objects: int
    py_objects: int


async def _replay(recording: Path, hours: float, folder: Path) -> tuple[list[Mark], float]:
    from PySide6.QtCore import QObject

    probe = Probe()
    session = _Session(str(recording), speed=math.inf, minutes=hours * 60 + 5, probe=probe)
    marks: list[Mark] = []
    next_mark = [0.0]
    start = time.perf_counter()

    def measure(t_s: float) -> None:
        gc.collect()
        marks.append(
            Mark(
                t_s=t_s,
                wall_s=time.perf_counter() - start,
                rss_mib=_rss_mib(),
                qt_objects=len(session.window.findChildren(QObject)),
                py_objects=len(gc.get_objects()),
            )
        )
        print(
            f"  {t_s / 60:5.0f} min of recording ({marks[-1].wall_s:5.1f} s): "
            f"RSS {marks[-1].rss_mib:6.1f} MiB, Qt objects {marks[-1].qt_objects}, "
            f"Python objects {marks[-1].py_objects}",
            flush=True,
        )

    def on_event(event: Any) -> None:
        if event.t >= next_mark[0]:
            measure(event.t)
            next_mark[0] += MARK_EVERY_S

    await session.run(folder / "replayed.jsonl.gz", on_event)
    replay_s = time.perf_counter() - start
    measure(session.engine.elapsed_s)  # after run_session's summary analysis of the 2-h file
    session.window.close()
    return marks, replay_s


# ---------------------------------------------------------------------------- report
def _row(name: str, values: Sequence[float], unit: str) -> str:
    if not values:
        return f"| {name} | — | — | — | — | 0 |"
    a = np.asarray(values)
    return (
        f"| {name} | {np.median(a):.2f} {unit} | {np.percentile(a, 99):.2f} {unit} | "
        f"{a.max():.2f} {unit} | {a.mean():.2f} {unit} | {a.size} |"
    )


def _print_live(r: LiveResult) -> list[str]:
    p = r.probe
    print(f"Live session, simulated strap in real time, {r.wall_s:.0f} s measured:")
    print("| what | median | p99 | max | mean | n |")
    print("|---|---|---|---|---|---|")
    print(_row("notification → heart-rate curve on screen", p.latency_ms, "ms"))
    print(_row("… of which arrival → curve given the beats", p.handled_ms, "ms"))
    print(_row("… of which curve given the beats → painted", p.to_paint_ms, "ms"))
    print(_row("pacer paintEvent", p.pacer_paint_ms, "ms"))
    print(_row("heart-rate plot paintEvent", p.heart_paint_ms, "ms"))
    print(_row("window.on_snapshot (cards + curve data), per beat", p.snapshot_ms, "ms"))
    print(
        f"process CPU {r.cpu_pct:.1f} % of one core; pacer frames {r.fps:.1f}/s "
        f"(frame timer {r.ticks_per_s:.1f} ticks/s); RR packets never painted: "
        f"{r.unpainted_packets}"
    )
    p99 = float(np.percentile(p.latency_ms, 99)) if p.latency_ms else math.inf
    fps_ok = r.fps >= 0.95 * GOAL_FPS
    return [
        f"pacer at 60 fps with < {GOAL_CPU_PCT:g} % of a core: {r.fps:.1f} fps, "
        f"{r.cpu_pct:.1f} % — {'met' if fps_ok and r.cpu_pct < GOAL_CPU_PCT else 'MISSED'}",
        f"notification-to-screen p99 < {GOAL_LATENCY_P99_MS:g} ms: {p99:.1f} ms — "
        f"{'met' if p99 < GOAL_LATENCY_P99_MS else 'MISSED'}",
    ]


def _print_replay(marks: list[Mark], wall_s: float, hours: float) -> list[str]:
    print(f"{hours:g}-h replay at max speed in the window: {wall_s:.1f} s wall (with the summary)")
    print("| recording time | RSS MiB | Qt objects | Python objects |")
    print("|---|---|---|---|")
    *during, after = marks
    for m in during:
        print(f"| {m.t_s / 60:.0f} min | {m.rss_mib:.1f} | {m.qt_objects} | {m.py_objects} |")
    print(
        f"| end, after the summary analysis of the whole file | {after.rss_mib:.1f} | "
        f"{after.qt_objects} | {after.py_objects} |"
    )
    settled = [m for m in during if m.t_s >= MARK_EVERY_S]  # after the first minutes
    if len(settled) < 2:
        return ["memory flat: too short a replay to tell"]
    growth = settled[-1].rss_mib - settled[0].rss_mib
    qt_growth = settled[-1].qt_objects - settled[0].qt_objects
    flat = growth < 10 and qt_growth == 0
    return [
        f"memory flat after the first 10 min: RSS {settled[0].rss_mib:.1f} → "
        f"{settled[-1].rss_mib:.1f} MiB ({growth:+.1f}), Qt objects {qt_growth:+d} — "
        f"{'met' if flat else 'MISSED'} (flat = < 10 MiB and no Qt object)"
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gui_session", description=__doc__)
    parser.add_argument("--seconds", type=float, default=LIVE_SECONDS, help="live part, wall s")
    parser.add_argument("--hours", type=float, default=REPLAY_HOURS, help="replay length")
    parser.add_argument("--skip-live", action="store_true")
    parser.add_argument("--skip-replay", action="store_true")
    args = parser.parse_args(argv)
    if not args.seconds > WARM_UP_S + 1:
        parser.error(f"--seconds must exceed the {WARM_UP_S:g}-s warm-up")
    from benchmarks.long_h10 import write_h10_recording

    goals: list[str] = []
    with tempfile.TemporaryDirectory(prefix="gui_session_") as tmp:
        folder = Path(tmp)
        os.environ["PET_BIOFEEDBACK_HOME"] = tmp  # nothing lands in the person's data folder
        recording = folder / "replayed-source.jsonl"
        if not args.skip_replay:  # before the Qt loop exists: this runs its own asyncio loop
            start = time.perf_counter()
            n = write_h10_recording(recording, args.hours * 3600, seed=SEED)
            print(
                f"wrote a {args.hours:g}-h simulated H10 recording ({n} events, "
                f"{recording.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - start:.1f} s",
                flush=True,
            )
        loop = _qt_loop()
        with loop:
            if not args.skip_live:
                live = loop.run_until_complete(_live(args.seconds, folder))
                goals += _print_live(live)
                print(flush=True)
            if not args.skip_replay:
                print("replaying it in the window at max speed:", flush=True)
                marks, wall_s = loop.run_until_complete(_replay(recording, args.hours, folder))
                goals += _print_replay(marks, wall_s, args.hours)
        asyncio.set_event_loop(None)
    print()
    print("Goals (issue #8), from this run:")
    for line in goals:
        print(f"- {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
