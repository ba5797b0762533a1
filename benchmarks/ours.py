"""Our own timings on the workloads of `benchmarks.peers`, with the same inputs.

Each function returns `Row` tuples like the peers' so `benchmarks.__main__` can print one table
measured in one run.
"""

from __future__ import annotations

import os
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
)

LIVE_BEATS: Final = 3000  # beats timed after the window has filled
CLI_REPEATS: Final = 7


def live_rows(inputs: BenchInputs) -> list[Row]:
    """`LiveAnalyzer.push` per beat: every live measure, scheduled refreshes included."""
    from pet_biofeedback.signal.live import LiveAnalyzer, LiveSettings

    rr = inputs.rr_clean_ms[1000 : 1000 + LIVE_WINDOW_BEATS + LIVE_BEATS]
    live = LiveAnalyzer(LiveSettings(window_beats=LIVE_WINDOW_BEATS))
    for value in rr[:LIVE_WINDOW_BEATS]:
        live.push(float(value))
    times = np.empty(LIVE_BEATS)
    next_breath = live.push(float(rr[LIVE_WINDOW_BEATS]))[0].t_s if LIVE_BEATS else 0.0
    for k, value in enumerate(rr[LIVE_WINDOW_BEATS + 1 :]):
        start = time.perf_counter()
        updates = live.push(float(value))
        times[k] = time.perf_counter() - start
        # paced breathing at 6/min feeds RSA and phase synchrony, as in a session
        if updates and updates[-1].t_s >= next_breath:
            live.push_breath_start(next_breath, inhale_s=4.0)
            next_breath += 10.0
    times = times[: LIVE_BEATS - 1]
    note = (
        f"live, {LIVE_WINDOW_BEATS}-beat window, {times.size} beats: artifact correction, time "
        "domain, SD1/SD2, Lomb LF/HF + peak; coherence and phase every 5 s, DFA α1 + SampEn "
        f"every 30 beats, RSA per breath; mean {1e6 * times.mean():.0f} µs, "
        f"p99 {1e6 * np.percentile(times, 99):.0f} µs"
    )
    return [Row("live: ours LiveAnalyzer.push (all live measures)", float(np.median(times)), note)]


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
        )
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = write_rr_text(Path(tmp) / "rr24h.txt", inputs.rr_corrupted_ms, decimals=0)
        cmd = [
            sys.executable, "-m", "pet_biofeedback", "analyze", str(path),
            "--window", f"{BATCH_WINDOW_S:g}", "--step", f"{BATCH_STEP_S:g}", "--json",
        ]  # fmt: skip
        env = {**os.environ, "PET_BIOFEEDBACK_HOME": tmp}
        runs = []
        for _ in range(CLI_REPEATS):
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=env)
            runs.append(time.perf_counter() - start)
    rows.append(
        Row(
            "24 h ours: whole command `pet-biofeedback analyze --window 300 --step 150 --json`",
            float(np.median(runs)),
            f"fresh process: start-up, imports, reading the file, analysis, JSON; median of "
            f"{CLI_REPEATS}",
        )
    )
    return rows


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
