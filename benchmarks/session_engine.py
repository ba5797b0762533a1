"""``python -m benchmarks.session_engine``: the session engine's cost per beat and per session.

Issue 7's goals: a feedback snapshot per beat in at most 2 ms at the 99th percentile,
including the engine's own work (quality, breathing from the chest accelerometer, pacer
onsets), and a 60-min session replayed as fast as possible in under 5 s.

1. Per beat: a 60-min simulated H10 session (RR, ECG, ACC) is generated in memory, then fed
   event by event to a `SessionEngine`; the time from handing an RR packet to the engine until
   its snapshots are out is divided by the packet's beats. Beside it, in the same run, the
   peer reference of `benchmarks.peers`: NeuroKit2's time-domain + Welch update of a 300-beat
   window (what a peer app would recompute per beat), when NeuroKit2 is installed.
2. Per session: a 60-min session is recorded once (``session --source sim --speed max``), then
   replayed through the whole command (``session --source FILE --speed max --json``) in a fresh
   process: start-up, reading, engine, writing the new recording, the summary analysis.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Final, Self

import numpy as np

MINUTES: Final = 60.0
SEED: Final = 7


class _Events:
    """A list of events as a source."""

    def __init__(self, events: list[object]) -> None:
        self.events = events

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def __aiter__(self) -> AsyncIterator[object]:
        return self._gen()

    async def _gen(self) -> AsyncIterator[object]:
        for e in self.events:
            yield e


async def _simulated_events(minutes: float) -> list[object]:
    from pet_biofeedback.firmware_bridge.sim_config import parse_sim_spec
    from pet_biofeedback.firmware_bridge.simulated import SimulatedStrap

    strap = SimulatedStrap(
        parse_sim_spec(f"sim:seed={SEED},duration={minutes * 60:g}"), speed=math.inf
    )
    async with strap:
        return [e async for e in strap]


def per_beat_ms(minutes: float) -> tuple[np.ndarray, np.ndarray]:
    """(wall, thread CPU) ms per beat of the engine's per-event step, RR packets spread per beat."""
    from pet_biofeedback.events import RRIntervals
    from pet_biofeedback.session.engine import SessionEngine, SessionPlan
    from pet_biofeedback.session.pacer import PacerSettings

    events = asyncio.run(_simulated_events(minutes))
    plan = SessionPlan(protocol="practice", minutes=minutes, pacer=PacerSettings())
    engine = SessionEngine(_Events([]), plan)  # type: ignore[arg-type]  # fed directly below
    costs: list[float] = []
    cpu: list[float] = []
    handle = engine._handle  # the per-event step, timed without the async machinery around it
    engine._start(0.0)
    for event in events:
        start = time.perf_counter()
        start_cpu = time.thread_time()
        handle(event)  # type: ignore[arg-type]
        elapsed_cpu = time.thread_time() - start_cpu
        elapsed = time.perf_counter() - start
        if isinstance(event, RRIntervals) and event.rr_ms:
            costs.extend([elapsed / len(event.rr_ms) * 1e3] * len(event.rr_ms))
            cpu.extend([elapsed_cpu / len(event.rr_ms) * 1e3] * len(event.rr_ms))
    return np.asarray(costs), np.asarray(cpu)


def neurokit_update_ms(n_updates: int = 300) -> np.ndarray | None:
    try:
        import neurokit2 as nk
    except ImportError:
        return None
    rng = np.random.default_rng(1)
    rr = 900 + 50 * np.sin(np.arange(300 + n_updates) * 0.6) + rng.normal(0, 15, 300 + n_updates)
    costs = []
    for k in range(n_updates):
        window = rr[k : k + 300]
        peaks = np.concatenate(([0], np.cumsum(window).astype(int)))
        start = time.perf_counter()
        nk.hrv_time(peaks, sampling_rate=1000)
        nk.hrv_frequency(peaks, sampling_rate=1000, psd_method="welch")
        costs.append((time.perf_counter() - start) * 1e3)
    return np.asarray(costs)


def replay_s(minutes: float, repeats: int = 3) -> tuple[float, list[float], list[float]]:
    """(seconds to record a simulated session, wall seconds and CPU seconds of each replay).

    CPU = user + system time of the replaying child (``RUSAGE_CHILDREN``), writer thread
    included; unlike the wall time it does not grow with the other users' load.
    """
    import resource

    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "PET_BIOFEEDBACK_HOME": home}
        first = Path(home) / "first.jsonl.gz"
        base = [sys.executable, "-m", "pet_biofeedback", "session", "--speed", "max", "--json"]
        minutes_arg = ["--minutes", f"{minutes:g}"]
        start = time.perf_counter()
        subprocess.run(
            [*base, "--source", f"sim:seed={SEED}", *minutes_arg, "--out", str(first)],
            env=env,
            check=True,
            capture_output=True,
        )
        recorded = time.perf_counter() - start
        walls: list[float] = []
        cpus: list[float] = []
        for k in range(repeats):
            out = Path(home) / f"again{k}.jsonl.gz"
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(
                [*base, "--source", str(first), *minutes_arg, "--out", str(out)],
                env=env,
                check=True,
                capture_output=True,
            )
            walls.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        return recorded, walls, cpus


def _row(name: str, ms: np.ndarray) -> str:
    return (
        f"| {name} | {np.median(ms):.3f} ms | {ms.mean():.3f} ms | "
        f"{np.percentile(ms, 99):.3f} ms | {ms.max():.1f} ms |"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.session_engine", description=__doc__
    )
    parser.add_argument("--minutes", type=float, default=MINUTES)
    parser.add_argument("--repeats", type=int, default=3, help="replays of the session (median)")
    args = parser.parse_args(argv)
    ours, ours_cpu = per_beat_ms(args.minutes)
    nk = neurokit_update_ms()
    print("| per beat | median | mean | p99 | max |")
    print("|---|---|---|---|---|")
    print(_row(f"ours: engine snapshot ({ours.size} beats, ECG+ACC session), wall", ours))
    print(_row("ours: the same, CPU time of the thread", ours_cpu))
    if nk is not None:
        print(_row("NeuroKit2 hrv_time + hrv_frequency (Welch), 300 beats", nk))
    recorded, walls, cpus = replay_s(args.minutes, args.repeats)
    replayed = float(np.median(walls))
    replayed_cpu = float(np.median(cpus))
    print()
    print(
        f"{args.minutes:g}-min session: recorded from the simulator in {recorded:.1f} s; "
        f"replayed through `session --speed max` (whole process), median of {len(walls)}: "
        f"{replayed:.1f} s wall ({', '.join(f'{w:.1f}' for w in walls)}), "
        f"{replayed_cpu:.1f} s CPU ({', '.join(f'{c:.1f}' for c in cpus)})"
    )
    p99 = float(np.percentile(ours, 99))
    p99_cpu = float(np.percentile(ours_cpu, 99))
    verdict = "met" if p99 <= 2 else "MISSED"
    print(f"goal snapshot p99 ≤ 2 ms: {p99:.2f} ms wall, {p99_cpu:.2f} ms CPU — {verdict}")
    verdict = "met" if replayed < 5 else "MISSED"
    print(f"goal 60-min replay < 5 s: {replayed:.1f} s wall, {replayed_cpu:.1f} s CPU — {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
