"""Peer timings: NeuroKit2 and hrv-analysis on the peers.md §5 workloads.

Run ``python -m benchmarks.peers [--quick]`` (see ``benchmarks/README.md``). Every section function
returns `Row` tuples ``(name, median_s, note)`` so our own implementation's numbers can be put in
the same table, measured **in the same run** (peers.md §5: only ratios within one run are
meaningful).

Sections
--------
* `live_update_rows` -- per-beat live update on a 300-beat sliding window (time domain + Welch).
* `batch_24h_rows` -- 24-h recording, 100 000 beats with 1 % artifacts: correction + 5-min windows
  at 50 % overlap (time domain, Welch, nonlinear).
* `artifact_rows` -- artifact correction alone on 100 000 beats, with RMSSD/SDNN error vs the clean
  series and whether the beat count is restored.
* `import_rows` -- import time of each library in a fresh interpreter.

The peers' own calls follow hrv-methods.md §2.5 (NeuroKit2 ``interpolation_rate=4``,
``normalize=False``) and §10.5 (``nolds==0.6.2``; hrv-analysis ≥ 1.0.6 because 1.0.5 calls
``np.trapz``, removed in numpy 2.4). Warnings from the peers are silenced only inside the timed
sections (``warnings.catch_warnings``); no environment variable or global state is changed.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Final, NamedTuple

import numpy as np

from benchmarks._data import (
    N_BEATS,
    SEED,
    inject_artifacts,
    quantised_rr_ms,
    rr_to_peaks_idx,
    synthetic_rr_ms,
    window_bounds,
    write_rr_text,
)

FS_HZ: Final = 1000.0  # peak indices at 1 kHz: RR quantised to 1 ms, identical for both peers
LIVE_WINDOW_BEATS: Final = 300
LIVE_UPDATES: Final = 40  # consecutive windows (one per beat)
LIVE_ROUNDS: Final = 5
BATCH_WINDOW_S: Final = 300.0
BATCH_STEP_S: Final = 150.0
QUICK_WINDOWS: Final = 20
DFA_SCALES: Final = np.arange(4, 17)  # DFA α1 box sizes 4-16 beats (hrv-methods.md §3)
SAMPEN_TOLERANCE_SD: Final = 0.2
NK_INTERPOLATION_HZ: Final = 4
IMPORT_REPEATS: Final = 3
ARTIFACT_REPEATS: Final = 3


class Row(NamedTuple):
    """One table row: what was timed, its median wall time in seconds, and how to read it.

    ``mean_s`` and ``p99_s`` (NaN when not measured) sit beside the median: a live update's
    tail (issue 9) is what a user sees as a stutter, the median hides it.
    """

    name: str
    median_s: float
    note: str
    mean_s: float = float("nan")
    p99_s: float = float("nan")


def stats_row(name: str, samples_s: Sequence[float] | np.ndarray, note: str) -> Row:
    """A `Row` with the median, mean and 99th percentile of ``samples_s``."""
    x = np.asarray(samples_s, dtype=np.float64)
    return Row(name, float(np.median(x)), note, float(x.mean()), float(np.percentile(x, 99)))


@dataclass(frozen=True, slots=True)
class BenchInputs:
    """Shared inputs, built once: clean and 1 %-artifact series as RR (ms) and peaks (1 kHz)."""

    rr_clean_ms: np.ndarray
    peaks_clean_idx: np.ndarray
    rr_corrupted_ms: np.ndarray
    peaks_corrupted_idx: np.ndarray


def make_inputs(n_beats: int = N_BEATS, seed: int = SEED) -> BenchInputs:
    """peers.md §5 synthetic series quantised to 1-ms beat positions, and its artifact version."""
    rr_clean_ms = quantised_rr_ms(synthetic_rr_ms(n_beats, seed))
    rr_corrupted_ms, _ = inject_artifacts(rr_clean_ms, seed=seed + 1)
    rr_corrupted_ms = quantised_rr_ms(rr_corrupted_ms)
    return BenchInputs(
        rr_clean_ms=rr_clean_ms,
        peaks_clean_idx=rr_to_peaks_idx(rr_clean_ms, FS_HZ),
        rr_corrupted_ms=rr_corrupted_ms,
        peaks_corrupted_idx=rr_to_peaks_idx(rr_corrupted_ms, FS_HZ),
    )


# ------------------------------------------------------------------------------------------ helpers


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence peer warnings for the duration of a section only."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """(wall seconds by ``time.perf_counter``, result) of one call."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def rmssd_ms(rr_ms: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.diff(rr_ms) ** 2)))


def sd1_sd2_ms(rr_ms: np.ndarray) -> tuple[float, float]:
    """Poincaré SD1/SD2 by the variance formulas (hrv-methods.md §3); NeuroKit2 has no cheap one."""
    var_diff = np.var(np.diff(rr_ms), ddof=1)
    return float(np.sqrt(0.5 * var_diff)), float(
        np.sqrt(2 * np.var(rr_ms, ddof=1) - 0.5 * var_diff)
    )


@dataclass(frozen=True, slots=True)
class CorrectionQuality:
    """How close a corrected RR series is to the clean one (peers.md §5.3, hrv-methods.md §5.5)."""

    rmssd_error_pct: float
    sdnn_error_pct: float
    n_beats: int
    n_beats_clean: int

    @property
    def beat_count_restored(self) -> bool:
        return self.n_beats == self.n_beats_clean

    def note(self) -> str:
        delta = self.n_beats - self.n_beats_clean
        restored = "count restored" if delta == 0 else f"Δ {delta:+d}"
        return (
            f"RMSSD {self.rmssd_error_pct:+.1f} %, SDNN {self.sdnn_error_pct:+.1f} % vs clean; "
            f"{self.n_beats} intervals vs {self.n_beats_clean} clean ({restored})"
        )


def correction_quality(rr_corrected_ms: np.ndarray, rr_clean_ms: np.ndarray) -> CorrectionQuality:
    """Errors of a corrected series vs the clean series (use the same for our own corrector)."""
    rr_corrected_ms = np.asarray(rr_corrected_ms, dtype=np.float64)
    return CorrectionQuality(
        rmssd_error_pct=100.0 * (rmssd_ms(rr_corrected_ms) / rmssd_ms(rr_clean_ms) - 1.0),
        sdnn_error_pct=100.0
        * (np.std(rr_corrected_ms, ddof=1) / np.std(rr_clean_ms, ddof=1) - 1.0),
        n_beats=int(rr_corrected_ms.size),
        n_beats_clean=int(rr_clean_ms.size),
    )


def hrvanalysis_installed() -> bool:
    """Whether hrv-analysis can be imported (it is optional: its rows are left out if not)."""
    import importlib.util

    return importlib.util.find_spec("hrvanalysis") is not None


HA_MISSING: Final = (
    "hrv-analysis not installed: its rows are left out (pip install 'hrv-analysis>=1.0.6')"
)


def _import_hrvanalysis() -> Any:
    """``import hrvanalysis``, refusing 1.0.5 on numpy ≥ 2.4 (it calls the removed ``np.trapz``)."""
    import hrvanalysis

    if not hasattr(np, "trapz") and _version("hrv-analysis") in ("1.0.5", "1.0.4", "1.0.3"):
        raise RuntimeError(
            f"hrv-analysis {_version('hrv-analysis')} calls np.trapz, which numpy "
            f"{np.__version__} no longer has: install hrv-analysis>=1.0.6 (with nolds==0.6.2, "
            "hrv-methods.md §10.5)"
        )
    return hrvanalysis


# --------------------------------------------------------------------------------------- (a) live


def live_update_rows(
    inputs: BenchInputs,
    window_beats: int = LIVE_WINDOW_BEATS,
    n_updates: int = LIVE_UPDATES,
    rounds: int = LIVE_ROUNDS,
) -> list[Row]:
    """Per-beat live update on a sliding ``window_beats`` window, median over all updates.

    Windows end at ``n_updates`` consecutive beats (a stream); the tasks run round-robin per window
    (libraries interleaved), the whole sweep is repeated ``rounds`` times.
    """
    ha = _import_hrvanalysis() if hrvanalysis_installed() else None
    import neurokit2 as nk

    peaks_idx = inputs.peaks_clean_idx
    first = 1000  # away from the start of the series

    def tasks(k: int) -> dict[str, Callable[[], Any]]:
        window_idx = peaks_idx[first + k : first + k + window_beats + 1]
        rr_ms = np.diff(window_idx).astype(np.float64)

        def nk_time() -> Any:
            return nk.hrv_time(window_idx, sampling_rate=FS_HZ)

        def nk_welch() -> Any:
            return nk.hrv_frequency(
                window_idx,
                sampling_rate=FS_HZ,
                interpolation_rate=NK_INTERPOLATION_HZ,
                normalize=False,
            )

        def ha_time() -> Any:
            assert ha is not None  # only called when hrv-analysis is installed
            return ha.get_time_domain_features(rr_ms)

        def ha_welch() -> Any:
            assert ha is not None
            return ha.get_frequency_domain_features(rr_ms)

        out: dict[str, Callable[[], Any]] = {
            "NeuroKit2 hrv_time": nk_time,
            "NeuroKit2 hrv_frequency Welch 4 Hz": nk_welch,
            "NeuroKit2 update (time + Welch)": lambda: (nk_time(), nk_welch()),
        }
        if ha is not None:
            out["hrv-analysis get_time_domain_features"] = ha_time
            out["hrv-analysis get_frequency_domain_features"] = ha_welch
            out["hrv-analysis update (time + Welch)"] = lambda: (ha_time(), ha_welch())
        return out

    samples: dict[str, list[float]] = {}
    with _quiet():
        for _ in range(rounds):
            for k in range(n_updates):
                for name, fn in tasks(k).items():
                    samples.setdefault(name, []).append(_timed(fn)[0])
    note = (
        f"live, {window_beats}-beat window, {n_updates} consecutive updates × {rounds} rounds, "
        "median per update"
    )
    rows = [stats_row(f"live: {name}", t, note) for name, t in samples.items()]
    if ha is None:
        rows.append(Row("live: hrv-analysis", 0.0, HA_MISSING))
    return rows


# ---------------------------------------------------------------------------------- (b) 24-h batch


@dataclass(frozen=True, slots=True)
class _BatchTiming:
    correction_s: float
    summary_s: float  # the whole recording analysed once (our `summary`)
    component_s: dict[str, list[float]]  # per analysed window
    n_windows_total: int


def _batch_rows(library: str, timing: _BatchTiming, correction_label: str) -> list[Row]:
    n_done = len(next(iter(timing.component_s.values())))
    n_total = timing.n_windows_total
    extrapolated = n_done < n_total
    scale = n_total / n_done
    how = (
        f"EXTRAPOLATED from the first {n_done} of {n_total} windows"
        if extrapolated
        else f"all {n_total} windows"
    )
    per_window_s = np.sum([np.asarray(t) for t in timing.component_s.values()], axis=0)
    rows = [
        Row(f"24 h {library}: {correction_label}", timing.correction_s, "1 run, 100 000 beats"),
        Row(
            f"24 h {library}: whole-recording summary",
            timing.summary_s,
            "time, Welch 4 Hz, DFA α1 / Poincaré on all beats; 1 run",
        ),
    ]
    for name, times in timing.component_s.items():
        rows.append(
            Row(
                f"24 h {library}: {name}, sum over windows",
                float(np.sum(times)) * scale,
                f"{how}; median {1e3 * np.median(times):.2f} ms per window",
            )
        )
    windows_s = float(np.sum(per_window_s)) * scale
    rows.append(
        Row(
            f"24 h {library}: TOTAL (correction + summary + windows)",
            timing.correction_s + timing.summary_s + windows_s,
            f"{how}; 1 run; median {1e3 * np.median(per_window_s):.2f} ms per window",
        )
    )
    return rows


def _nk_nonlinear(rr_ms: np.ndarray) -> tuple[Any, Any, tuple[float, float]]:
    import neurokit2 as nk

    dfa = nk.fractal_dfa(rr_ms, scale=DFA_SCALES)
    sampen = nk.entropy_sample(
        rr_ms, delay=1, dimension=2, tolerance=SAMPEN_TOLERANCE_SD * np.std(rr_ms, ddof=1)
    )
    return dfa, sampen, sd1_sd2_ms(rr_ms)


def _ha_nonlinear(rr_ms: np.ndarray) -> tuple[Any, Any]:
    import hrvanalysis as ha  # already imported and checked by the caller: a dict lookup

    return ha.get_poincare_plot_features(rr_ms), ha.get_sampen(rr_ms)


def _nk_batch(inputs: BenchInputs, max_windows: int | None) -> _BatchTiming:
    import neurokit2 as nk

    correction_s, (_info, peaks_idx) = _timed(
        nk.signal_fixpeaks,
        inputs.peaks_corrupted_idx,
        sampling_rate=FS_HZ,
        method="Kubios",
        iterative=True,
    )
    peaks_idx = np.asarray(peaks_idx, dtype=np.int64)

    def summary() -> None:  # what our summary computes for the whole recording
        rr_ms = np.diff(peaks_idx).astype(np.float64)
        nk.hrv_time(peaks_idx, sampling_rate=FS_HZ)
        nk.hrv_frequency(
            peaks_idx,
            sampling_rate=FS_HZ,
            interpolation_rate=NK_INTERPOLATION_HZ,
            normalize=False,
        )
        nk.fractal_dfa(rr_ms, scale=DFA_SCALES)
        sd1_sd2_ms(rr_ms)

    summary_s = _timed(summary)[0]
    starts, stops = window_bounds(peaks_idx, FS_HZ, BATCH_WINDOW_S, BATCH_STEP_S)
    n_run = starts.size if max_windows is None else min(max_windows, starts.size)
    times: dict[str, list[float]] = {"time domain": [], "Welch 4 Hz": [], "nonlinear": []}
    for start, stop in zip(starts[:n_run], stops[:n_run], strict=True):  # peer calls per window
        window_idx = peaks_idx[start:stop]
        rr_ms = np.diff(window_idx).astype(np.float64)
        times["time domain"].append(_timed(nk.hrv_time, window_idx, sampling_rate=FS_HZ)[0])
        times["Welch 4 Hz"].append(
            _timed(
                nk.hrv_frequency,
                window_idx,
                sampling_rate=FS_HZ,
                interpolation_rate=NK_INTERPOLATION_HZ,
                normalize=False,
            )[0]
        )
        times["nonlinear"].append(_timed(_nk_nonlinear, rr_ms)[0])
    return _BatchTiming(correction_s, summary_s, times, int(starts.size))


def _ha_batch(inputs: BenchInputs, max_windows: int | None) -> _BatchTiming:
    ha = _import_hrvanalysis()

    correction_s, nn_ms = _timed(
        ha.get_nn_intervals, inputs.rr_corrupted_ms.tolist(), verbose=False
    )
    nn_ms = np.asarray(nn_ms, dtype=np.float64)

    def summary() -> None:  # the whole recording; no sample entropy (nor do we above 20 000)
        ha.get_time_domain_features(nn_ms)
        ha.get_frequency_domain_features(nn_ms)
        ha.get_poincare_plot_features(nn_ms)

    summary_s = _timed(summary)[0]
    peaks_idx = rr_to_peaks_idx(nn_ms, FS_HZ)
    starts, stops = window_bounds(peaks_idx, FS_HZ, BATCH_WINDOW_S, BATCH_STEP_S)
    n_run = starts.size if max_windows is None else min(max_windows, starts.size)
    times: dict[str, list[float]] = {"time domain": [], "Welch 4 Hz": [], "nonlinear": []}
    for start, stop in zip(starts[:n_run], stops[:n_run], strict=True):  # peer calls per window
        rr_ms = nn_ms[start : stop - 1]  # the intervals between the window's peaks
        times["time domain"].append(_timed(ha.get_time_domain_features, rr_ms)[0])
        times["Welch 4 Hz"].append(_timed(ha.get_frequency_domain_features, rr_ms)[0])
        times["nonlinear"].append(_timed(_ha_nonlinear, rr_ms)[0])
    return _BatchTiming(correction_s, summary_s, times, int(starts.size))


def batch_24h_rows(inputs: BenchInputs, max_windows: int | None = None) -> list[Row]:
    """24-h batch: correction on the whole series, then 5-min windows at 50 % overlap.

    NeuroKit2: ``signal_fixpeaks(method="Kubios")`` (iterative) on peak indices; per window
    ``hrv_time``, ``hrv_frequency(interpolation_rate=4, normalize=False)`` and nonlinear = DFA α1
    (``fractal_dfa``, scales 4-16) + ``entropy_sample(delay=1, dimension=2, tolerance=0.2·SD)`` +
    SD1/SD2 by formula (``hrv_nonlinear`` takes ≈ 0.5 s per window). hrv-analysis:
    ``get_nn_intervals``; per window time domain, frequency domain (Welch), nonlinear =
    ``get_poincare_plot_features`` + ``get_sampen``. With ``max_windows`` only the first windows are
    analysed and the window sums are extrapolated (marked in the note).
    """
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = write_rr_text(Path(tmp) / "rr24h.txt", inputs.rr_corrupted_ms, decimals=0)
        read_s = float(np.median([_timed(np.loadtxt, path)[0] for _ in range(3)]))
    read_row = Row("24 h peers: reading the RR text file (np.loadtxt)", read_s, "median of 3")
    with _quiet():
        cpu_start = time.process_time()
        nk_timing = _nk_batch(inputs, max_windows)
        nk_cpu_s = time.process_time() - cpu_start
        ha_timing = _ha_batch(inputs, max_windows) if hrvanalysis_installed() else None
    rows = [read_row, *_batch_rows("NeuroKit2", nk_timing, "signal_fixpeaks Kubios iterative")]
    # CPU time does not grow with the other users' load as wall time does (issue 9).
    extrapolated = " (EXTRAPOLATED windows: not comparable)" if max_windows else ""
    rows.append(
        Row(
            "24 h NeuroKit2: TOTAL, CPU time of the process",
            nk_cpu_s,
            f"the same run, time.process_time (import not included){extrapolated}",
        )
    )
    if ha_timing is None:
        return [*rows, Row("24 h hrv-analysis", 0.0, HA_MISSING)]
    return [*rows, *_batch_rows("hrv-analysis", ha_timing, "get_nn_intervals")]


# ------------------------------------------------------------------------------- (c) artifacts only


def artifact_rows(inputs: BenchInputs, repeats: int = ARTIFACT_REPEATS) -> list[Row]:
    """Artifact correction alone on the 100 000-beat series with 1 % artifact events.

    Median of ``repeats`` runs; the note gives RMSSD/SDNN error vs the clean series and whether the
    number of intervals is back to the clean count.
    """
    ha = _import_hrvanalysis() if hrvanalysis_installed() else None
    import neurokit2 as nk

    def nk_kubios(iterative: bool) -> Callable[[], np.ndarray]:
        def run() -> np.ndarray:
            _info, peaks_idx = nk.signal_fixpeaks(
                inputs.peaks_corrupted_idx,
                sampling_rate=FS_HZ,
                method="Kubios",
                iterative=iterative,
            )
            return np.diff(np.asarray(peaks_idx)) * (1000.0 / FS_HZ)

        return run

    def ha_nn() -> np.ndarray:
        assert ha is not None  # only called when hrv-analysis is installed
        return np.asarray(ha.get_nn_intervals(inputs.rr_corrupted_ms.tolist(), verbose=False))

    methods = {
        "NeuroKit2 signal_fixpeaks Kubios iterative (default)": nk_kubios(True),
        "NeuroKit2 signal_fixpeaks Kubios single pass": nk_kubios(False),
    }
    if ha is not None:
        methods["hrv-analysis get_nn_intervals (range + Kamath + linear interp.)"] = ha_nn
    uncorrected = correction_quality(inputs.rr_corrupted_ms, inputs.rr_clean_ms)
    rows = [Row("artifacts: uncorrected input", 0.0, uncorrected.note())]
    if ha is None:
        rows.append(Row("artifacts: hrv-analysis", 0.0, HA_MISSING))
    with _quiet():
        for name, run in methods.items():
            runs = [_timed(run) for _ in range(repeats)]
            quality = correction_quality(runs[-1][1], inputs.rr_clean_ms)
            rows.append(
                Row(
                    f"artifacts: {name}",
                    float(np.median([t for t, _ in runs])),
                    f"median of {repeats}; {quality.note()}",
                )
            )
    return rows


# ----------------------------------------------------------------------------------- (d) imports


def median_subprocess_s(code: str, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def import_rows(repeats: int = IMPORT_REPEATS) -> list[Row]:
    """Import time in a fresh interpreter: median of ``repeats`` minus a bare interpreter's."""
    bare_s = median_subprocess_s("pass", repeats)
    rows = [Row("import: bare python (subtracted below)", bare_s, f"median of {repeats}")]
    for label, code in (
        (
            "numpy + scipy.signal + scipy.interpolate (reference)",
            "import scipy.signal, scipy.interpolate",
        ),
        ("neurokit2", "import neurokit2"),
        *([("hrvanalysis", "import hrvanalysis")] if hrvanalysis_installed() else []),
    ):
        rows.append(
            Row(
                f"import: {label}",
                median_subprocess_s(code, repeats) - bare_s,
                f"median of {repeats}, fresh subprocess, minus bare python",
            )
        )
    return rows


# -------------------------------------------------------------------------------------------- main


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def conditions() -> str:
    """One line per run condition, printed above the table (peers.md §5 'Conditions')."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    blas = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP_", "MKL_"))}
    return "\n".join(
        (
            f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores, "
            f"load average {', '.join(f'{x:.2f}' if isinstance(x, float) else x for x in load)}",
            "numpy {}, scipy {}, pandas {}, neurokit2 {}, hrv-analysis {}, nolds {}".format(
                *(
                    _version(d)
                    for d in ("numpy", "scipy", "pandas", "neurokit2", "hrv-analysis", "nolds")
                )
            ),
            f"BLAS/threads environment (unchanged): {blas or 'none set'}",
        )
    )


def format_table(rows: Sequence[Row]) -> str:
    """Plain-text table; seconds shown in the most readable unit."""

    def human(seconds: float) -> str:
        if seconds == 0.0:
            return "-"
        if seconds < 1e-3:
            return f"{seconds * 1e6:.1f} µs"
        if seconds < 1.0:
            return f"{seconds * 1e3:.2f} ms"
        return f"{seconds:.2f} s"

    def maybe(seconds: float) -> str:
        return "-" if math.isnan(seconds) else human(seconds)

    width = max(len(r.name) for r in rows)
    head = f"{'what':<{width}}  {'median':>10}  {'mean':>10}  {'p99':>10}  note"
    lines = [head, "-" * (width + 60)]
    lines += [
        f"{r.name:<{width}}  {human(r.median_s):>10}  {maybe(r.mean_s):>10}  "
        f"{maybe(r.p99_s):>10}  {r.note}"
        for r in rows
    ]
    return "\n".join(lines)


SECTIONS: Final = ("live", "batch", "artifacts", "import")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"24-h batch: analyse the first {QUICK_WINDOWS} windows and extrapolate; "
        "artifact correction: 1 run instead of 3",
    )
    parser.add_argument("--quick-windows", type=int, default=QUICK_WINDOWS, metavar="N")
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help="comma list of " + ", ".join(SECTIONS)
    )
    parser.add_argument(
        "--write-rr",
        type=Path,
        metavar="PATH",
        help="also write the 24-h series with artifacts (one ms value per line) for CLI timing",
    )
    args = parser.parse_args(argv)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")

    print(conditions(), flush=True)
    build_s, inputs = _timed(make_inputs)
    print(
        f"inputs: {inputs.rr_clean_ms.size} clean beats "
        f"({inputs.rr_clean_ms.sum() / 3.6e6:.2f} h), "
        f"{inputs.rr_corrupted_ms.size} with 1 % artifact events; built in {build_s:.2f} s",
        flush=True,
    )
    if args.write_rr is not None:
        print(f"wrote {write_rr_text(args.write_rr, inputs.rr_corrupted_ms, decimals=0)}")

    rows: list[Row] = []
    runners: dict[str, Callable[[], list[Row]]] = {
        "live": lambda: live_update_rows(inputs),
        "batch": lambda: batch_24h_rows(inputs, args.quick_windows if args.quick else None),
        "artifacts": lambda: artifact_rows(inputs, 1 if args.quick else ARTIFACT_REPEATS),
        "import": lambda: import_rows(),
    }
    for section in sections:
        section_s, section_rows = _timed(runners[section])
        print(f"[{section}: {section_s:.1f} s]", flush=True)
        rows += section_rows
    print()
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
