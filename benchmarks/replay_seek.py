"""``python -m benchmarks.replay_seek``: how long a seek in a long recording takes (replay).

The replay view drags a timeline slider to `ReplaySource.seek`; it makes a fresh source for
every jump and seeks it before it plays (``session.replay_control``). This script makes a
simulated H10 recording (RR, HR, ECG 130 Hz, ACC 200 Hz; `long_h10.write_h10_recording`) of
``--hours`` in a temporary folder (or takes ``--file``) and times:

* **scan**: the replay view's opening pass over the file (`replay_index.index_recording`, which
  builds the seek index; before it existed, a `RecordingReader` pass);
* **new source**: seeks to random targets (fixed seed) right after that scan, as the replay view
  makes them: ``ReplaySource(path)``, ``seek(t)``, open, until the first event at or after
  ``t`` is returned;
* **play**: a play of the whole file from the start at full speed, in one source;
* **same source**: that source then sought to the same targets (back and forth), until the
  first event at or after ``t`` is returned;
* **view jump** (``--view``): the whole jump of the replay view, headless: a
  `ReplayController` (opened: the scan again) playing at ×16 is sought to each target, timed
  until the first feedback snapshot at or after it is shown (that includes the engine's
  analysis of the `WARM_UP_S` before the target).

It prints the median, 90th percentile and largest of the seeks. It uses only the public API, so
``PYTHONPATH=<an older tree>`` measures the code before the seek index (``--seeks`` small:
every seek there reads the file from its start).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Final

from benchmarks.long_h10 import write_h10_recording
from pet_biofeedback.events import Event
from pet_biofeedback.session.feedback import FeedbackSnapshot

DEFAULT_HOURS: Final = 4.0
DEFAULT_SEEKS: Final = 20
SEED: Final = 9


async def _first_event_s(t_s: float, source: object, *, opened: bool) -> float:
    """Seconds from ``seek(t_s)`` until the first event at or after ``t_s`` came out."""
    from pet_biofeedback.firmware_bridge.replay import ReplaySource

    assert isinstance(source, ReplaySource)
    start = time.perf_counter()
    source.seek(t_s)
    if not opened:
        await source.__aenter__()
    event = await anext(aiter(source), None)
    elapsed_s = time.perf_counter() - start
    if event is not None and event.t < t_s:
        raise AssertionError(f"seek to {t_s} played an event at {event.t}")
    return elapsed_s


def scan(path: Path) -> tuple[float, float]:
    """The replay view's opening pass: (its wall time s, the last event's t)."""
    from pet_biofeedback.recording import iter_events

    events: Callable[[Path], Iterator[Event]] = iter_events  # a tree before the seek index
    try:
        from pet_biofeedback.firmware_bridge.replay_index import index_recording
    except ImportError:
        pass
    else:
        events = index_recording
    start = time.perf_counter()
    t_last = max(event.t for event in events(path))
    return time.perf_counter() - start, t_last


async def _measure(path: Path, targets: Sequence[float]) -> dict[str, list[float]]:
    from pet_biofeedback.firmware_bridge.replay import ReplaySource

    out: dict[str, list[float]] = {"play": [], "new source": [], "same source": []}
    for t_s in targets:
        fresh = ReplaySource(path, speed=math.inf)
        try:
            out["new source"].append(await _first_event_s(t_s, fresh, opened=False))
        finally:
            await fresh.__aexit__(None, None, None)
    source = ReplaySource(path, speed=math.inf)
    start = time.perf_counter()
    async with source:
        async for _ in source:
            pass
        out["play"].append(time.perf_counter() - start)
        for t_s in targets:
            out["same source"].append(await _first_event_s(t_s, source, opened=True))
    return out


async def _view_jumps(path: Path, targets: Sequence[float]) -> list[float]:
    from pet_biofeedback.session.replay_control import ReplayController

    controller = ReplayController(path, speed=16.0)
    info = await controller.open()
    shown: list[float] = []
    arrived = asyncio.Event()

    def on_snapshot(snapshot: FeedbackSnapshot) -> None:
        shown.append(snapshot.t_s)
        arrived.set()

    controller.subscribe(on_snapshot)
    task = asyncio.create_task(controller.run())
    await asyncio.wait_for(arrived.wait(), 300.0)
    out = []
    for t_s in targets:
        arrived.clear()
        shown.clear()
        start = time.perf_counter()
        controller.seek(t_s - info.t_first_s)
        while not (shown and shown[-1] >= t_s):
            await asyncio.wait_for(arrived.wait(), 300.0)
            arrived.clear()
        out.append(time.perf_counter() - start)
    controller.close()
    await asyncio.wait_for(task, 60.0)
    return out


def _row(name: str, times_s: Sequence[float]) -> str:
    ordered = sorted(times_s)
    p90 = ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)]
    return (
        f"{name:<12} n={len(ordered):3d}  median {statistics.median(ordered) * 1e3:9.1f} ms  "
        f"p90 {p90 * 1e3:9.1f} ms  max {ordered[-1] * 1e3:9.1f} ms"
    )


def run(path: Path, n_seeks: int, *, view: bool = False) -> dict[str, list[float]]:
    """Time the first play and ``n_seeks`` seeks of each kind in ``path``; print a table."""
    scan_s, t_last = scan(path)
    print(f"{path.name}: {path.stat().st_size / 1e6:.1f} MB, {t_last / 3600:.2f} h", flush=True)
    print(f"scan         {scan_s:.1f} s (the replay view's opening pass)", flush=True)
    rng = random.Random(SEED)
    targets = [rng.uniform(0.0, t_last) for _ in range(n_seeks)]
    results = asyncio.run(_measure(path, targets))
    print(_row("new source", results["new source"]), flush=True)
    print(f"play         {results['play'][0]:.1f} s (speed=inf, from the start)")
    print(_row("same source", results["same source"]), flush=True)
    if view:
        # Targets the warm-up fits before (a jump near the start shows at once).
        results["view jump"] = asyncio.run(_view_jumps(path, [max(t, 200.0) for t in targets]))
        print(_row("view jump", results["view jump"]), flush=True)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.replay_seek", description=__doc__)
    parser.add_argument("--hours", type=float, default=DEFAULT_HOURS, help="default 4")
    parser.add_argument("--seeks", type=int, default=DEFAULT_SEEKS, help="default 20")
    parser.add_argument("--file", type=Path, help="a recording to use instead of a new one")
    parser.add_argument("--view", action="store_true", help="time the replay view's jumps too")
    args = parser.parse_args(argv)
    if not (math.isfinite(args.hours) and args.hours > 0) or args.seeks < 1:
        parser.error("--hours must be positive and --seeks at least 1")
    if args.file is not None:
        run(args.file, args.seeks, view=args.view)
        return 0
    with tempfile.TemporaryDirectory(prefix="replay_seek_") as tmp:
        path = Path(tmp) / f"h10_{args.hours:g}h.jsonl.gz"
        start = time.perf_counter()
        n_events = write_h10_recording(path, args.hours * 3600.0)
        print(f"generated {n_events} events in {time.perf_counter() - start:.1f} s", flush=True)
        run(path, args.seeks, view=args.view)
    return 0


if __name__ == "__main__":
    sys.exit(main())
