"""``python -m benchmarks.long_h10``: time and peak memory of ``analyze`` on long H10 recordings.

Issue 6: ``pet-biofeedback analyze`` of a recording with ECG (130 Hz) and chest ACC (200 Hz, the
rate our simulated H10 streams) grew by ~285 MB per recorded hour. This script makes H10-like
recordings of several lengths (1 h, 6 h, 24 h by default) in a temporary folder, runs
``pet-biofeedback analyze FILE --window 300 --step 150 --json`` on each in a child process and
prints the wall time and the child's peak resident memory, so that the growth with length shows.

How the recordings are made: `SimulatedStrap` (the physiological model behind ``sim:``) at
``speed=math.inf`` -- it never sleeps, so 24 h of events take about a minute -- with every event
written by `RecordingWriter` (fsync left to ``close``). The events are exactly what a recording
session of the simulated H10 writes: RR, heart rate, contact, 73-sample ECG frames at 130 Hz and
36-sample ACC frames at 200 Hz. The files (≈ 13 MB per hour) live only in the temporary folder.

Peak memory is the child's ``ru_maxrss`` from ``os.wait4`` (that child alone, not the maximum
over all children as ``RUSAGE_CHILDREN`` would give).
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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

DEFAULT_HOURS: Final = (1.0, 6.0, 24.0)
SEED: Final = 6  # issue 6
WINDOW_S: Final = 300.0
STEP_S: Final = 150.0


@dataclass(frozen=True, slots=True)
class Measurement:
    """One ``analyze`` run on one generated recording."""

    hours: float
    file_mb: float
    n_events: int
    generate_s: float
    wall_s: float
    peak_rss_mb: float
    returncode: int


async def _write_events(path: Path, duration_s: float, seed: int) -> int:
    from pet_biofeedback.firmware_bridge.sim_config import SimConfig
    from pet_biofeedback.firmware_bridge.simulated import SimulatedStrap
    from pet_biofeedback.recording import RecordingWriter

    n_events = 0
    config = SimConfig(seed=seed, duration_s=duration_s)
    with RecordingWriter(
        path,
        device={"name": "simulated Polar H10", "model": "H10", "source": "benchmarks.long_h10"},
        settings={"duration_s": duration_s},
        sync_in_write=False,
    ) as writer:
        async with SimulatedStrap(config, speed=math.inf) as strap:
            async for event in strap:
                writer.write(event)
                n_events += 1
    return n_events


def write_h10_recording(path: Path, duration_s: float, seed: int = SEED) -> int:
    """Write a simulated H10 recording (RR, HR, ECG 130 Hz, ACC 200 Hz); return its event count."""
    return asyncio.run(_write_events(path, duration_s, seed))


def measure_analyze(path: Path) -> tuple[float, float, int]:
    """Run the ``analyze`` command on ``path`` in a child; (wall s, peak RSS MB, return code)."""
    cmd = [
        sys.executable, "-m", "pet_biofeedback", "analyze", str(path),
        "--window", f"{WINDOW_S:g}", "--step", f"{STEP_S:g}", "--json",
    ]  # fmt: skip
    env = {**os.environ, "PET_BIOFEEDBACK_HOME": str(path.parent)}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    # wait4 gives this child's own rusage (ru_maxrss in KiB on Linux).
    _, status, usage = os.wait4(proc.pid, 0)
    wall_s = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.stderr is not None:
        err = proc.stderr.read().decode(errors="replace").strip()
        proc.stderr.close()
        if proc.returncode != 0:
            print(f"analyze failed ({proc.returncode}): {err[-2000:]}", file=sys.stderr)
    return wall_s, usage.ru_maxrss / 1024.0, proc.returncode


def run(hours: Sequence[float], folder: Path) -> list[Measurement]:
    """Generate and analyse one recording per length, deleting each file after use."""
    results = []
    for h in hours:
        path = folder / f"h10_{h:g}h.jsonl"
        start = time.perf_counter()
        n_events = write_h10_recording(path, h * 3600.0)
        generate_s = time.perf_counter() - start
        file_mb = path.stat().st_size / 1e6
        wall_s, rss_mb, code = measure_analyze(path)
        path.unlink()
        m = Measurement(h, file_mb, n_events, generate_s, wall_s, rss_mb, code)
        print(_format_row(m), flush=True)
        results.append(m)
    return results


def _format_row(m: Measurement) -> str:
    status = "" if m.returncode == 0 else f"  FAILED (exit {m.returncode})"
    return (
        f"{m.hours:5g} h  file {m.file_mb:7.1f} MB  {m.n_events:8d} events  "
        f"generated in {m.generate_s:5.1f} s  |  analyze: {m.wall_s:6.1f} s, "
        f"peak RSS {m.peak_rss_mb:7.0f} MB{status}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.long_h10", description=__doc__)
    parser.add_argument(
        "--hours",
        default=",".join(f"{h:g}" for h in DEFAULT_HOURS),
        help="comma-separated recording lengths in hours (default 1,6,24)",
    )
    args = parser.parse_args(argv)
    try:
        hours = [float(h) for h in args.hours.split(",") if h.strip()]
    except ValueError:
        parser.error(f"--hours must be numbers, got {args.hours!r}")
    if not hours or any(not (math.isfinite(h) and h > 0) for h in hours):
        parser.error("--hours must be positive numbers")
    print(
        f"analyze --window {WINDOW_S:g} --step {STEP_S:g} --json on simulated H10 recordings "
        "(RR + HR + ECG 130 Hz + ACC 200 Hz)",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="long_h10_") as tmp:
        results = run(hours, Path(tmp))
    return 0 if all(m.returncode == 0 for m in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
