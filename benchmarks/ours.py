"""Our own timings on the workloads of `benchmarks.peers`, with the same inputs.

Each function returns `Row` tuples like the peers' so `benchmarks.__main__` can print one table
measured in one run.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Final

import numpy as np

from benchmarks._data import write_rr_text
from benchmarks.peers import (
    ARTIFACT_REPEATS,
    BATCH_STEP_S,
    BATCH_WINDOW_S,
    IMPORT_REPEATS,
    LIVE_WINDOW_BEATS,
    BenchInputs,
    Row,
    correction_quality,
    median_subprocess_s,
    stats_row,
)

LIVE_BEATS: Final = 3000  # beats timed after the window has filled
LIVE_ROUNDS: Final = 3  # fresh analyzers over the same beats
CLI_REPEATS: Final = 7


def live_rows(inputs: BenchInputs, rounds: int = LIVE_ROUNDS) -> list[Row]:
    """`LiveAnalyzer.push` per beat: every live measure, scheduled refreshes included.

    ``rounds`` fresh analyzers over the same beats; every push is timed twice: wall time
    (``perf_counter``, what a user sees) and the thread's CPU time (``thread_time``), which
    other processes on a shared machine do not inflate — on the shared 2-core VM a process
    waits for a core far longer than it computes, and the wall-time tail measures that wait.
    """
    from pet_biofeedback.signal.live import LiveAnalyzer, LiveSettings

    rr = inputs.rr_clean_ms[1000 : 1000 + LIVE_WINDOW_BEATS + LIVE_BEATS]
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(rounds):
        live = LiveAnalyzer(LiveSettings(window_beats=LIVE_WINDOW_BEATS))
        for value in rr[:LIVE_WINDOW_BEATS]:
            live.push(float(value))
        next_breath = live.push(float(rr[LIVE_WINDOW_BEATS]))[0].t_s
        for value in rr[LIVE_WINDOW_BEATS + 1 :]:
            start = time.perf_counter()
            start_cpu = time.thread_time()
            updates = live.push(float(value))
            cpu.append(time.thread_time() - start_cpu)
            wall.append(time.perf_counter() - start)
            # paced breathing at 6/min feeds RSA and phase synchrony, as in a session
            if updates and updates[-1].t_s >= next_breath:
                live.push_breath_start(next_breath, inhale_s=4.0)
                next_breath += 10.0
    note = (
        f"live, {LIVE_WINDOW_BEATS}-beat window, {rounds} × {LIVE_BEATS - 1} beats: artifact "
        "correction, time domain, SD1/SD2, Lomb LF/HF + peak; coherence and phase every 5 s, "
        "DFA α1 + SampEn every 30 beats, RSA per breath"
    )
    return [
        stats_row("live: ours LiveAnalyzer.push (all live measures)", wall, f"{note}; wall"),
        stats_row(
            "live: ours LiveAnalyzer.push, CPU time of the thread",
            cpu,
            "the same pushes, thread CPU time (not inflated by other processes' load)",
        ),
    ]


def batch_rows(inputs: BenchInputs) -> list[Row]:
    """The whole ``analyze --window 300 --step 150 --json`` command, and the call inside it."""
    from pet_biofeedback.signal.batch import AnalysisSettings, analyze_rr

    rows = []
    settings = AnalysisSettings(window_s=BATCH_WINDOW_S, step_s=BATCH_STEP_S)
    runs = []
    for _ in range(CLI_REPEATS):
        start = time.perf_counter()
        result = analyze_rr(inputs.rr_corrupted_ms, settings)
        runs.append(time.perf_counter() - start)
    rows.append(
        Row(
            "24 h ours: analyze_rr (correction + summary + windows, all measures)",
            float(np.median(runs)),
            f"in-process, median of {CLI_REPEATS}; {len(result.windows)} windows",
            float(np.mean(runs)),
        )
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = write_rr_text(Path(tmp) / "rr24h.txt", inputs.rr_corrupted_ms, decimals=0)
        cmd = [
            sys.executable, "-m", "pet_biofeedback", "analyze", str(path),
            "--window", f"{BATCH_WINDOW_S:g}", "--step", f"{BATCH_STEP_S:g}", "--json",
        ]  # fmt: skip
        env = _cli_env(tmp)
        subprocess.run(cmd, check=True, capture_output=True, env=env)  # warm-up: bytecode
        runs, cpu_runs = [], []
        for _ in range(CLI_REPEATS):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=env)
            runs.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu_runs.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    rows.append(
        Row(
            "24 h ours: whole command `pet-biofeedback analyze --window 300 --step 150 --json`",
            float(np.median(runs)),
            f"fresh process: start-up, imports, reading the file, analysis, JSON; median of "
            f"{CLI_REPEATS}; fastest {min(runs):.2f} s",
            float(np.mean(runs)),
        )
    )
    rows.append(
        Row(
            "24 h ours: whole command, CPU time (user + system, all threads)",
            float(np.median(cpu_runs)),
            f"the same runs (RUSAGE_CHILDREN); least {min(cpu_runs):.2f} s",
            float(np.mean(cpu_runs)),
        )
    )
    return rows


def _cli_env(tmp: str) -> dict[str, str]:
    """The command's environment: own data folder, and bytecode cached as in an installation.

    An installed package has its ``.pyc`` files (pip compiles them), as the peers' packages in
    site-packages do; ``PYTHONDONTWRITEBYTECODE`` in a development shell would make every run
    recompile our sources instead. The cache goes to the temporary folder (the untimed first
    run fills it), never into the source tree.
    """
    env = {**os.environ, "PET_BIOFEEDBACK_HOME": tmp, "PYTHONPYCACHEPREFIX": str(Path(tmp) / "pyc")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def artifact_rows(inputs: BenchInputs, repeats: int = ARTIFACT_REPEATS) -> list[Row]:
    """`correct_rr` on the 100 000-beat series with 1 % artifact events."""
    from pet_biofeedback.signal.artifacts import correct_rr

    runs = []
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = correct_rr(inputs.rr_corrupted_ms)
        runs.append(time.perf_counter() - start)
    assert result is not None
    quality = correction_quality(np.asarray(result.nn_ms), inputs.rr_clean_ms)
    return [
        Row(
            "artifacts: ours correct_rr (gate + Lipponen–Tarvainen, iterated)",
            float(np.median(runs)),
            f"median of {repeats}; {quality.note()}",
        )
    ]


def import_rows(repeats: int = IMPORT_REPEATS) -> list[Row]:
    """Import time of what the ``analyze`` command loads, in a fresh interpreter."""
    bare_s = median_subprocess_s("pass", repeats)
    code = "import pet_biofeedback.session.analysis, pet_biofeedback.signal.batch"
    return [
        Row(
            "import: ours (analyze path: session.analysis + signal.batch)",
            median_subprocess_s(code, repeats) - bare_s,
            f"median of {repeats}, fresh subprocess, minus bare python",
        )
    ]
