"""``python -m benchmarks.record_memory``: memory of ``record --speed max`` over a long session.

Issue 6: ``record --source sim:seed=1 --seconds 36000 --speed max`` queued every event it had
not written yet and grew to 1.17 GB. This runs that command in a child process (its own
temporary data folder and output file) and samples the child's resident memory (``VmRSS`` from
``/proc/<pid>/status``, Linux) every `SAMPLE_INTERVAL_S`. It prints the peak and the RSS at
10 %, 50 % and 100 % of the run's wall time; the goal is flat (the 100 % value close to the
10 % value), not a particular number.

Options: ``--seconds`` (session length, default 36000 = 10 h), ``--source``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final, NamedTuple

SAMPLE_INTERVAL_S: Final = 0.1
_KIB: Final = 1024
_MIB: Final = 1024 * 1024


class RssSample(NamedTuple):
    """One sample: seconds since the child started, its resident memory in bytes."""

    t_s: float
    rss_bytes: int


def _rss_bytes(pid: int) -> int | None:
    """The process's resident memory, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * _KIB
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def sample_record(seconds: float, source: str) -> tuple[list[RssSample], float, int, str]:
    """Run ``record`` in a child; its RSS samples, wall time, exit code and last output line."""
    with tempfile.TemporaryDirectory(prefix="pet-bench-") as tmp:
        out = Path(tmp) / "bench.jsonl.gz"
        cmd = [
            sys.executable,
            "-m",
            "pet_biofeedback",
            "record",
            "--source",
            source,
            "--seconds",
            f"{seconds:g}",
            "--speed",
            "max",
            "--out",
            str(out),
        ]
        env = {**os.environ, "PET_BIOFEEDBACK_HOME": tmp}
        started_s = time.monotonic()
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        samples: list[RssSample] = []
        while proc.poll() is None:
            rss = _rss_bytes(proc.pid)
            if rss is not None and proc.poll() is None:
                samples.append(RssSample(time.monotonic() - started_s, rss))
            time.sleep(SAMPLE_INTERVAL_S)
        wall_s = time.monotonic() - started_s
        output = proc.stdout.read() if proc.stdout is not None else ""
        last = output.strip().splitlines()[-2:] if output.strip() else [""]
        return samples, wall_s, proc.returncode, " / ".join(last)


def rss_at(samples: Sequence[RssSample], fraction: float, wall_s: float) -> int:
    """RSS of the last sample at or before ``fraction`` of the run (the first one if none)."""
    t_s = fraction * wall_s
    before = [s for s in samples if s.t_s <= t_s]
    return (before[-1] if before else samples[0]).rss_bytes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.record_memory", description=__doc__)
    parser.add_argument("--seconds", type=float, default=36000.0, help="session length, s")
    parser.add_argument("--source", default="sim:seed=1")
    args = parser.parse_args(argv)
    if not Path("/proc/self/status").exists():
        print("needs /proc (Linux) to read a child's memory", file=sys.stderr)
        return 2
    print(f"record --source {args.source} --seconds {args.seconds:g} --speed max", flush=True)
    samples, wall_s, code, last = sample_record(args.seconds, args.source)
    if not samples:
        print(f"no sample taken (exit code {code}): {last}", file=sys.stderr)
        return 1
    peak = max(s.rss_bytes for s in samples)
    at = {f: rss_at(samples, f, wall_s) for f in (0.1, 0.5, 1.0)}
    print(f"exit code {code}, wall {wall_s:.1f} s, {len(samples)} samples: {last}")
    print(
        f"RSS peak {peak / _MIB:.0f} MiB; at 10 % {at[0.1] / _MIB:.0f} MiB, "
        f"50 % {at[0.5] / _MIB:.0f} MiB, 100 % {at[1.0] / _MIB:.0f} MiB"
    )
    growth = (at[1.0] - at[0.1]) / _MIB
    print(f"growth from 10 % to 100 % of the run: {growth:+.0f} MiB (goal: flat)")
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
