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


def per_beat_ms(minutes: float) -> np.ndarray:
    from pet_biofeedback.events import RRIntervals
    from pet_biofeedback.session.engine import SessionEngine, SessionPlan
    from pet_biofeedback.session.pacer import PacerSettings

    events = asyncio.run(_simulated_events(minutes))
    plan = SessionPlan(protocol="practice", minutes=minutes, pacer=PacerSettings())
    engine = SessionEngine(_Events([]), plan)  # type: ignore[arg-type]  # fed directly below
    costs: list[float] = []
    handle = engine._handle  # the per-event step, timed without the async machinery around it
    engine._start(0.0)
    for event in events:
        start = time.perf_counter()
        handle(event)  # type: ignore[arg-type]
        elapsed = time.perf_counter() - start
        if isinstance(event, RRIntervals) and event.rr_ms:
            costs.extend([elapsed / len(event.rr_ms) * 1e3] * len(event.rr_ms))
    return np.asarray(costs)


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


def replay_s(minutes: float) -> tuple[float, float]:
    """(seconds to record a simulated session, seconds to replay it through `session`)."""
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "PET_BIOFEEDBACK_HOME": home}
        first = Path(home) / "first.jsonl.gz"
        base = [sys.executable, "-m", "pet_biofeedback", "session", "--speed", "max", "--json"]
        start = time.perf_counter()
        subprocess.run(
            [
                *base,
                "--source",
                f"sim:seed={SEED}",
                "--minutes",
                f"{minutes:g}",
                "--out",
                str(first),
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        recorded = time.perf_counter() - start
        start = time.perf_counter()
        subprocess.run(
            [
                *base,
                "--source",
                str(first),
                "--minutes",
                f"{minutes:g}",
                "--out",
                str(Path(home) / "again.jsonl.gz"),
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        return recorded, time.perf_counter() - start


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
    args = parser.parse_args(argv)
    ours = per_beat_ms(args.minutes)
    nk = neurokit_update_ms()
    print("| per beat | median | mean | p99 | max |")
    print("|---|---|---|---|---|")
    print(_row(f"ours: engine snapshot ({ours.size} beats, ECG+ACC session)", ours))
    if nk is not None:
        print(_row("NeuroKit2 hrv_time + hrv_frequency (Welch), 300 beats", nk))
    recorded, replayed = replay_s(args.minutes)
    print()
    print(
        f"{args.minutes:g}-min session: recorded from the simulator in {recorded:.1f} s; "
        f"replayed through `session --speed max` (whole process) in {replayed:.1f} s"
    )
    p99 = float(np.percentile(ours, 99))
    print(f"goal snapshot p99 ≤ 2 ms: {p99:.2f} ms — {'met' if p99 <= 2 else 'MISSED'}")
    print(f"goal 60-min replay < 5 s: {replayed:.1f} s — {'met' if replayed < 5 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
