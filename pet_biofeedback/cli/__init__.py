"""Command line: ``pet-biofeedback …`` and ``python -m pet_biofeedback …``.

Commands: ``analyze`` (RR text, XDF and recordings), ``scan`` (straps nearby), ``record``
(any source to a recording, with a live status line) and ``replay`` (a recording, headless)
live here; the coach's commands (``session``, ``assess``, ``gui`` — also what no command
opens —, ``history``, ``report``, ``export``) in `pet_biofeedback.cli.coach`.

Only this module (and the terminal view) writes to stdout. Every expected problem becomes a
one-line message on stderr and exit code 2; anything else is a bug, logged with its traceback.
"""

from __future__ import annotations

import argparse
import codecs
import io
import json
import logging
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, NoReturn

from pet_biofeedback import __version__
from pet_biofeedback.errors import ConfigError, PetBiofeedbackError
from pet_biofeedback.events import (
    AccFrame,
    Battery,
    Contact,
    EcgFrame,
    Event,
    Gap,
    HeartRate,
    Link,
    Marker,
    PacerPhase,
    Rating,
    RawNotification,
    RRIntervals,
)

if TYPE_CHECKING:  # imported lazily at run time so that `--help` stays instant
    from pet_biofeedback.session.recorder import SessionStats

logger = logging.getLogger("pet_biofeedback")

EXIT_OK: Final = 0
EXIT_USAGE: Final = 2
EXIT_BUG: Final = 3
STATUS_TTY_INTERVAL_S: Final = 0.5  # the in-place status line on a terminal is redrawn this often
STATUS_LINE_INTERVAL_S: Final = 5.0  # …and printed as a new line this often otherwise
_RECORDING_SUFFIXES: Final = (".jsonl", ".jsonl.gz")  # what analyze and replay read
SCAN_DEFAULT_S: Final = 5.0
# --speed: slower than 1/100 a second of session takes minutes; faster than 10 000 × use max.
SPEED_MIN: Final = 0.01
SPEED_MAX: Final = 10_000.0
EXPORT_WINDOW_S: Final = 300.0  # export's per-window measures: 5-min windows, half overlap
EXPORT_STEP_S: Final = 150.0


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def _speed(text: str) -> float:
    """``--speed``: a factor from `SPEED_MIN` to `SPEED_MAX`, or ``max`` for as fast as possible."""
    if text.strip().lower() == "max":
        return math.inf
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not SPEED_MIN <= value <= SPEED_MAX:  # also NaN and ±inf
        raise argparse.ArgumentTypeError(
            f"expected a number from {SPEED_MIN:g} to {SPEED_MAX:g} or max, got {text[:40]!r}"
        )
    return value


def _add_column_argument(p: argparse.ArgumentParser) -> None:
    """``--column``: which column of an RR table (CSV) holds the intervals."""
    p.add_argument(
        "--column",
        default=None,
        metavar="NAME",
        help="for an RR table (CSV with several columns): the column with the RR intervals, "
        "by its header name or its number from 1 (default: the column named rr, RR-interval, "
        "ibi or the like)",
    )


def _profile_name(text: str) -> str:
    """``--profile``: a profile name people typed (1–64 characters, no control characters)."""
    from pet_biofeedback.session.history_record import validate_profile_name

    try:
        return validate_profile_name(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(exc.user_message) from None


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line on stderr and exit code 2, like every other expected problem."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = _Parser(
        prog="pet-biofeedback",
        description=(
            "HRV-biofeedback breathing coach: record heartbeats from a chest strap (or an "
            "emulated or simulated one), replay and analyse recordings."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    analyze = sub.add_parser(
        "analyze",
        help="analyse recordings (.jsonl, .jsonl.gz), RR text files or ECG recordings (XDF)",
        description=(
            "Analyse heartbeat recordings: recordings made by record (.jsonl or .jsonl.gz), "
            "RR text files (one interval per line, seconds or milliseconds) and LSL/XDF files "
            "with an ECG stream. Prints time-domain, frequency-domain and nonlinear HRV, "
            "artifact counts, coherence and, when the file has a chest accelerometer, the "
            "breathing rate."
        ),
    )
    analyze.add_argument("paths", nargs="+", metavar="PATH", help="files to analyse")
    analyze.add_argument("--json", action="store_true", help="print one JSON object per file")
    analyze.add_argument(
        "--no-correction", action="store_true", help="analyse the RR intervals as they are"
    )
    analyze.add_argument(
        "--window", type=_positive_seconds, metavar="SECONDS", help="also analyse sliding windows"
    )
    analyze.add_argument(
        "--step",
        type=_positive_seconds,
        metavar="SECONDS",
        help="step between windows (default: the window length, no overlap)",
    )
    _add_column_argument(analyze)
    analyze.add_argument(
        "--strict",
        action="store_true",
        help="refuse a recording with a malformed line (default: skip the line and say so)",
    )

    scan = sub.add_parser(
        "scan",
        help="list the heart-rate straps nearby",
        description="Listen for heart-rate straps (Heart Rate service or Polar) and list them.",
    )
    scan.add_argument(
        "--seconds",
        type=_positive_seconds,
        default=SCAN_DEFAULT_S,
        metavar="N",
        help=f"how long to listen (default {SCAN_DEFAULT_S:g} s)",
    )

    record = sub.add_parser(
        "record",
        help="record a strap (or an emulated/simulated one, or a file) to a recording",
        description=(
            "Record every event of a source to a crash-safe recording (.jsonl.gz), showing a "
            "live status line (heart rate, beats, battery, link, elapsed time). Ctrl-C stops "
            "and keeps the file. SRC is ble[:ADDRESS|NAME], emulated:h10|strap|optical, "
            "sim[:key=value,...] (e.g. sim:resonance=5.5,seed=3,ectopy=0.01), or a file "
            "(recording, XDF or RR text)."
        ),
    )
    record.add_argument("--source", required=True, metavar="SRC", help="what to record")
    record.add_argument(
        "--seconds",
        type=_positive_seconds,
        metavar="N",
        help="stop after N seconds of session time (default: until Ctrl-C or the source ends)",
    )
    record.add_argument(
        "--out",
        metavar="FILE",
        help="the recording to write, ending in .jsonl or .jsonl.gz (default: a new file "
        "named by the start time in the recordings folder of $PET_BIOFEEDBACK_HOME or the "
        "user data folder)",
    )
    record.add_argument(
        "--faults",
        metavar="SPEC",
        help="fault injection for emulated straps, e.g. disconnect-every=15s,stall-every=40s",
    )
    record.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        metavar="X|max",
        # Emulated straps refuse max (sources.MAX_EMULATED_SPEED): the help must not offer it.
        help="sim and file sources: X times real time, or max for as fast as possible; "
        "emulated straps: X up to 20, not max (default 1)",
    )
    _add_column_argument(record)
    record.add_argument(
        "--keep-device-id",
        action="store_true",
        help="keep the strap's Bluetooth address and serial number in the recording (left out "
        "by default: they identify the strap, and so its wearer)",
    )

    replay = sub.add_parser(
        "replay",
        help="replay a recording (headless)",
        description=(
            "Replay a recording (or an XDF / RR text file) through the same pipeline as a live "
            "strap, at real speed, X times faster or as fast as possible. Headless only for "
            "now: prints a status line per second of the recording and a summary."
        ),
    )
    replay.add_argument("file", metavar="FILE", help="the recording")
    replay.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        metavar="X|max",
        help="X times real time, or max for as fast as possible (default 1)",
    )
    replay.add_argument(
        "--headless", action="store_true", help="no window: print to the terminal (required)"
    )
    replay.add_argument(
        "--events", action="store_true", help="print every event instead of status lines"
    )
    _add_column_argument(replay)
    replay.add_argument(
        "--strict",
        action="store_true",
        help="refuse a recording with a malformed line (default: skip the line and say so)",
    )
    from pet_biofeedback.cli.coach import add_coach_parsers

    add_coach_parsers(sub)

    history = sub.add_parser(
        "history",
        help="list a profile's sessions and practice (minutes per week, streaks, trends)",
        description=(
            "List the sessions of a profile (date, protocol, minutes, pacer rate, heart rate, "
            "RMSSD, coherence, pain and mood before and after) and the practice: minutes per "
            "week, days practised, streaks and trends. Recordings without an entry (after a "
            "crash) are added first. The history is an index of the recordings: --rebuild "
            "makes it again from them."
        ),
    )
    history.add_argument(
        "--profile",
        type=_profile_name,
        default="default",
        metavar="NAME",
        help="whose history (default: default)",
    )
    history.add_argument("--json", action="store_true", help="print one JSON object")
    history.add_argument(
        "--rebuild", action="store_true", help="rebuild the history from the recordings first"
    )

    report = sub.add_parser(
        "report",
        help="write a session report: one HTML file with figures and plain explanations",
        description=(
            "Analyse a session (a recording, RR text or XDF file) and write one "
            "self-contained HTML report: heart rate with the pacer's wave, breathing, the "
            "spectrum, every measure with a plain explanation, ratings, markers and data "
            "quality. Opens offline in any browser; nothing is fetched."
        ),
    )
    report.add_argument(
        "file",
        metavar="FILE|SESSION_ID",
        help="the session's recording, or its id from 'pet-biofeedback history'",
    )
    report.add_argument(
        "--profile",
        type=_profile_name,
        default="default",
        metavar="NAME",
        help="whose session SESSION_ID is (default: default)",
    )
    report.add_argument("--out", required=True, metavar="REPORT.html", help="the report to write")
    report.add_argument("--force", action="store_true", help="replace --out if it exists")
    return parser


class _StderrHandler(logging.StreamHandler[IO[str]]):
    """Writes to whatever ``sys.stderr`` is when a record comes (tests swap it per test)."""

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, value: IO[str]) -> None:
        pass  # always sys.stderr


def _configure_logging() -> None:
    level = (
        logging.DEBUG
        if os.environ.get("PET_BIOFEEDBACK_LOG", "").lower() == "debug"
        else logging.WARNING
    )
    # One handler however often main() runs in a process (tests call it repeatedly).
    if not any(getattr(h, "_pet_cli", False) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler._pet_cli = True  # type: ignore[attr-defined]  # marks our own handler
        logger.addHandler(handler)
    logger.setLevel(level)
    # Some libraries log through the root logger with logging.debug(...) (Bumble does), which
    # calls logging.basicConfig() and would print every record of ours a second time. A root
    # handler, even a null one, makes basicConfig() a no-op.
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.NullHandler())
    # pyxdf logs damaged-file details (with tracebacks) through logging; we report the file
    # as one line ourselves, so its records only show when debugging.
    quiet = level != logging.DEBUG
    logging.getLogger("pyxdf").setLevel(logging.CRITICAL if quiet else logging.DEBUG)


def _format_number(value: float | int | None, digits: int) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


_TABLE_ROWS: Final = (
    # key, label, unit, digits
    ("n_beats", "Beats", "", 0),
    ("duration_s", "Duration", "s", 1),
    ("mean_hr_bpm", "Mean heart rate", "bpm", 1),
    ("min_hr_bpm", "Lowest heart rate", "bpm", 1),
    ("max_hr_bpm", "Highest heart rate", "bpm", 1),
    ("mean_rr_ms", "Mean RR", "ms", 1),
    ("sdnn_ms", "SDNN", "ms", 1),
    ("rmssd_ms", "RMSSD", "ms", 1),
    ("sdsd_ms", "SDSD", "ms", 1),
    ("pnn50_pct", "pNN50 (of n−1 differences)", "%", 1),
    ("vlf_ms2", "VLF power (0.0033–0.04 Hz)", "ms²", 0),
    ("lf_ms2", "LF power (0.04–0.15 Hz)", "ms²", 0),
    ("hf_ms2", "HF power (0.15–0.4 Hz)", "ms²", 0),
    ("total_power_ms2", "Total power", "ms²", 0),
    ("lf_hf", "LF/HF", "", 2),
    ("lf_nu", "LF", "n.u.", 1),
    ("hf_nu", "HF", "n.u.", 1),
    ("lf_peak_hz", "LF peak", "Hz", 3),
    ("hf_peak_hz", "HF peak", "Hz", 3),
    ("sd1_ms", "Poincaré SD1", "ms", 1),
    ("sd2_ms", "Poincaré SD2", "ms", 1),
    ("dfa_alpha1", "DFA α1", "", 3),
    ("sampen", "Sample entropy", "", 3),
    ("coherence", "Coherence ratio (64 s)", "", 2),
    ("breathing_rate_bpm", "Breathing rate", "breaths/min", 1),
)

_WINDOW_COLUMNS: Final = (
    ("start_s", "start s", 0),
    ("end_s", "end s", 0),
    ("n_beats", "beats", 0),
    ("mean_hr_bpm", "HR bpm", 1),
    ("rmssd_ms", "RMSSD ms", 1),
    ("sdnn_ms", "SDNN ms", 1),
    ("lf_ms2", "LF ms²", 0),
    ("hf_ms2", "HF ms²", 0),
    ("lf_hf", "LF/HF", 2),
    ("coherence", "coherence", 2),
    ("corrected_pct", "corrected %", 1),
)


# How the table names the analysis's ``breathing_source`` (session.analysis).
_BREATHING_WORDS: Final = {
    "acc": "from chest movement",
    "ecg": "from the ECG",
    "rr-estimate": "estimated from the heart rhythm",
}


def _render_table(report: dict[str, Any]) -> str:
    s = report["summary"]
    art = s["artifacts"]
    lines = [f"{report['source']}"]
    width = max(len(label) for _, label, _, _ in _TABLE_ROWS)
    for key, label, unit, digits in _TABLE_ROWS:
        line = f"  {label:<{width}}  {_format_number(s[key], digits):>10} {unit}"
        source = report["settings"].get("breathing_source")
        if key == "breathing_rate_bpm" and s[key] is not None and source in _BREATHING_WORDS:
            line += f" ({_BREATHING_WORDS[source]})"
        lines.append(line.rstrip())
    lines.append(
        f"  {'Artifacts':<{width}}  ectopic {art['ectopic']}, long/short {art['long_short']}, "
        f"missed {art['missed']}, extra {art['extra']} "
        f"({_format_number(art['corrected_pct'], 1)} % of beats corrected)"
    )
    notes = list(report["settings"].get("notes", []))
    skipped = report["settings"].get("skipped_lines")
    if skipped:
        notes.append(f"skipped {skipped} header, comment or non-numeric lines")
    lines.extend(f"  note: {n}" for n in notes)
    windows = report["windows"]
    if windows:
        lines.append("")
        header = "  ".join(f"{title:>11}" for _, title, _ in _WINDOW_COLUMNS)
        lines.append(header)
        for w in windows:
            row = []
            for key, _title, digits in _WINDOW_COLUMNS:
                value = w["artifacts"]["corrected_pct"] if key == "corrected_pct" else w[key]
                row.append(f"{_format_number(value, digits):>11}")
            lines.append("  ".join(row))
    return "\n".join(lines)


def _one_blas_thread() -> None:
    """Ask OpenBLAS for one thread, when numpy is not loaded yet and the user set nothing.

    numpy and scipy each load an OpenBLAS that starts a pool of threads, which spin after
    every call. `analyze` runs its own two workers and only small matrix products, so the
    pools only burn CPU: ≈ 0.1 s of the 1.3 s a 24-h RR file took (issue 9). The 24-h
    report is byte-identical either way.
    """
    blas_vars = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
    if "numpy" not in sys.modules and not any(v in os.environ for v in blas_vars):
        os.environ["OPENBLAS_NUM_THREADS"] = "1"


def _cmd_analyze(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.step is not None and args.window is None:
        parser.error("--step needs --window")
    _one_blas_thread()
    # Imported here so `pet-biofeedback --help` stays instant.
    from pet_biofeedback.session.analysis import analyze_file, report_dict
    from pet_biofeedback.session.importers import check_regular_file
    from pet_biofeedback.signal.batch import AnalysisSettings

    settings = AnalysisSettings(
        correction=not args.no_correction, window_s=args.window, step_s=args.step
    )
    status = EXIT_OK
    for path in args.paths:
        try:
            check_regular_file(path)  # a named pipe would block reading forever
            result = analyze_file(Path(path), settings, strict=args.strict, column=args.column)
        except PetBiofeedbackError as exc:
            print(f"pet-biofeedback: {exc.user_message}", file=sys.stderr)
            status = EXIT_USAGE
            continue
        report = report_dict(result)
        if args.json:
            print(json.dumps(report, ensure_ascii=False, allow_nan=False))
        else:
            print(_render_table(report))
    return status


# --- live status ------------------------------------------------------------------------------


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _clock_text(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "--:--"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _status_text(stats: SessionStats, elapsed_s: float) -> str:
    """One status line: HR, beats, battery, link state, elapsed time."""
    if math.isnan(stats.hr_bpm):
        hr = "HR --"
    elif stats.hr_bpm <= 0 or stats.contact is False:
        hr = "HR -- (no skin contact)"
    else:
        hr = f"HR {stats.hr_bpm:.0f} bpm"
    battery = f"battery {stats.battery_pct} %" if stats.battery_pct is not None else "battery --"
    link = str(stats.link_state) if stats.link_state is not None else "no link info"
    if stats.link_state is not None and stats.link_detail and stats.link_state != "streaming":
        link += f" ({stats.link_detail})"
    parts = [hr, f"beats {stats.n_beats}", battery, link, _clock_text(elapsed_s)]
    session_s = stats.t_last_s
    if math.isfinite(session_s) and abs(session_s - elapsed_s) > 2.0:
        parts.append(f"session time {_clock_text(session_s)}")
    if stats.n_gaps or stats.n_rr_silences:
        parts.append(f"gaps {stats.n_gaps + stats.n_rr_silences}")
    return " | ".join(parts)


class _StatusLine:
    """The live status: redrawn in place on a terminal, plain lines every few seconds otherwise."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self.tty = stream.isatty()
        self.interval_s = STATUS_TTY_INTERVAL_S if self.tty else STATUS_LINE_INTERVAL_S
        self._width = 0

    def show(self, text: str) -> None:
        if self.tty:
            pad = " " * max(self._width - len(text), 0)
            self._stream.write(f"\r{text}{pad}")
            self._width = len(text)
        else:
            self._stream.write(text + "\n")
        self._stream.flush()

    def end(self) -> None:
        """Leave the status line (a newline after an in-place line)."""
        if self.tty and self._width:
            self._stream.write("\n")
            self._stream.flush()
            self._width = 0


class _BreakStatusLine(logging.Filter):
    """Ends an in-place status line before a log message is printed under it."""

    def __init__(self, status: _StatusLine) -> None:
        super().__init__()
        self._status = status

    def filter(self, record: logging.LogRecord) -> bool:
        self._status.end()
        return True


class _SavedStats:
    """The numbers of what is safely on disk (`record`'s ``on_saved``), for the status line."""

    def __init__(self) -> None:
        from pet_biofeedback.session.recorder import SessionStats

        self.stats = SessionStats()

    def set(self, stats: SessionStats) -> None:
        self.stats = stats


async def _show_status_every(status: _StatusLine, saved: _SavedStats, started_s: float) -> None:
    import asyncio  # only the commands that run a source need the event loop

    while True:
        await asyncio.sleep(status.interval_s)
        status.show(_status_text(saved.stats, time.monotonic() - started_s))


# --- scan ---------------------------------------------------------------------------------------


def _cmd_scan(args: argparse.Namespace) -> int:
    import asyncio  # only the commands that run a source need the event loop

    from pet_biofeedback.session.sources import load_ble_scan

    ble_scan = load_ble_scan()
    print(f"Listening for heart-rate straps for {args.seconds:g} s ...", flush=True)
    straps = asyncio.run(ble_scan.scan(args.seconds))
    if not straps:
        print(
            "No strap found. Wear the strap with moist electrodes (that wakes it up), keep it "
            "near the computer, and close other apps that may be connected to it."
        )
        return EXIT_OK
    for strap in straps:
        kind = "Polar" if strap.is_polar else "heart-rate strap"
        print(f"{strap.name or '(no name)'}  {strap.address}  {strap.rssi_dbm} dBm  {kind}")
    print(f"{len(straps)} strap(s) found. Record with: pet-biofeedback record --source ble:NAME")
    return EXIT_OK


# --- record -------------------------------------------------------------------------------------


def _cmd_record(args: argparse.Namespace) -> int:
    import asyncio  # only the commands that run a source need the event loop

    from pet_biofeedback.paths import default_recording_path
    from pet_biofeedback.session.recorder import RecordingSummary, record
    from pet_biofeedback.session.sources import describe_source, open_source, recorded_source
    from pet_biofeedback.session.stop_signals import StopSignals

    if args.out and not args.out.lower().endswith(_RECORDING_SUFFIXES):
        # analyze and replay know a recording by its name: anything else would be unreadable.
        raise ConfigError(f"--out {args.out}: a recording's name must end in .jsonl or .jsonl.gz")
    if args.out and Path(args.out).is_dir():
        raise ConfigError(f"--out {args.out}: is a directory; give the name of a new file")
    source = open_source(args.source, speed=args.speed, faults=args.faults, column=args.column)
    out = Path(args.out) if args.out else default_recording_path()
    # Only a file this run created is "saved" (an existing file or folder is refused).
    out_existed = os.path.lexists(out)
    speed_value: object = "max" if math.isinf(args.speed) else args.speed
    settings: dict[str, object] = {
        "source": recorded_source(args.source, keep_device_id=args.keep_device_id),
        "speed": speed_value,
        "seconds": args.seconds,
        "faults": args.faults,
    }
    saved = _SavedStats()
    status = _StatusLine(sys.stdout)
    started_s = time.monotonic()
    stop = StopSignals()

    async def run() -> RecordingSummary | None:
        with stop:
            ticker = asyncio.create_task(_show_status_every(status, saved, started_s))
            try:
                return await record(
                    source,
                    out,
                    device=describe_source(
                        args.source, speed=args.speed, keep_device_id=args.keep_device_id
                    ),
                    settings=settings,
                    seconds=args.seconds,
                    on_saved=saved.set,
                    stop=stop,
                    keep_device_id=args.keep_device_id,
                )
            except asyncio.CancelledError:
                if stop.absorb():  # stopped before recording began, or a second signal
                    return None
                raise
            finally:
                ticker.cancel()
                await asyncio.wait([ticker])

    print(f"Recording {args.source} to {out} (Ctrl-C stops and keeps the file)", flush=True)
    handlers = [h for h in logger.handlers if getattr(h, "_pet_cli", False)]
    line_breaker = _BreakStatusLine(status)
    for handler in handlers:
        handler.addFilter(line_breaker)
    try:
        summary = asyncio.run(run())
    except KeyboardInterrupt:  # where the loop cannot handle signals (Windows)
        status.end()
        if not out_existed and out.is_file():
            print(f"Stopped by Ctrl-C. Recording saved to {out}")
        return EXIT_OK
    except PetBiofeedbackError:
        status.end()
        if not out_existed and out.is_file():
            print(f"Recording so far saved to {out}", flush=True)
        raise
    finally:
        for handler in handlers:
            handler.removeFilter(line_breaker)
    status.show(_status_text(saved.stats, time.monotonic() - started_s))
    status.end()
    if summary is None:
        print(f"Stopped by {stop.description}.")
        if not out_existed and out.is_file():
            print(f"Recording saved to {out}")
        return EXIT_OK
    if summary.stop_reason == "seconds":
        why = f"stopped after {args.seconds:g} s"
    elif summary.stop_reason == "stopped":
        why = f"stopped by {stop.description}"
    else:
        why = "the source ended"
    gaps = summary.n_gaps + summary.n_rr_silences
    print(
        f"Recorded {summary.duration_s:.1f} s: {_plural(summary.n_beats, 'beat')}, "
        f"{_plural(summary.n_events, 'event')}, {_plural(gaps, 'gap')}; {why}."
    )
    print(f"Recording saved to {summary.path}")
    _print_notes(source)
    return EXIT_OK


# --- replay -------------------------------------------------------------------------------------


def _describe_event(event: Event) -> str:
    """One line of plain text for an event (``replay --events``)."""
    match event:
        case RRIntervals():
            what = "rr " + " ".join(f"{v:.1f}" for v in event.rr_ms) + " ms"
        case HeartRate():
            what = f"hr {event.hr_bpm:.0f} bpm"
        case EcgFrame():
            what = f"ecg {len(event.ecg_uv)} samples at {event.fs_hz:g} Hz"
        case AccFrame():
            what = f"acc {len(event.acc_mg)} samples at {event.fs_hz:g} Hz"
        case Contact():
            what = f"contact {'ok' if event.ok else 'lost'}"
        case Link():
            what = f"link {event.state}" + (f": {event.detail}" if event.detail else "")
        case Battery():
            what = f"battery {event.battery_pct} %"
        case RawNotification():
            what = f"raw {event.characteristic} {event.payload.hex(' ')}"
        case PacerPhase():
            what = (
                f"pacer {event.breaths_per_min:g} breaths/min "
                f"(inhale {event.inhale_s:g} s, exhale {event.exhale_s:g} s)"
            )
        case Marker():
            what = f"marker {event.text}"
        case Rating():
            what = f"rating {event.kind} {event.value:g}"
        case Gap():
            what = f"gap {event.seconds:g} s: {event.reason}"
        case _:
            what = type(event).__name__
    return f"{event.t:10.3f}  {what}"


def _cmd_replay(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import asyncio  # only the commands that run a source need the event loop

    if not args.headless:
        parser.error("the replay window is not available yet; use --headless")
    from pet_biofeedback.session.hr_only import heart_rate_only_text
    from pet_biofeedback.session.importers import check_regular_file
    from pet_biofeedback.session.recorder import SessionStats
    from pet_biofeedback.session.sources import open_source
    from pet_biofeedback.session.stop_signals import StopSignals

    path = Path(args.file)
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory (replay plays a recording, XDF or RR text file)")
    check_regular_file(path)  # a named pipe would block reading forever
    if not path.is_file():
        raise ConfigError(f"{path}: no such file (replay plays a recording, XDF or RR text file)")
    source = open_source(str(path), speed=args.speed, strict=args.strict, column=args.column)
    stats = SessionStats()
    stop = StopSignals()

    async def run() -> None:
        with stop:
            try:
                await play()
            except asyncio.CancelledError:
                if not stop.absorb():
                    raise

    async def play() -> None:
        next_status_s = math.nan
        async with source:
            async for event in source:
                stats.update(event)
                if args.events:
                    print(_describe_event(event))
                    continue
                if math.isnan(next_status_s):
                    next_status_s = math.floor(event.t) + 1.0
                if event.t >= next_status_s:
                    # At most one line per event: a long stretch without events (or a huge
                    # t) is jumped over, not filled with one line per second.
                    status_s = max(next_status_s, math.floor(event.t))
                    print(_status_text(stats, status_s))
                    next_status_s = status_s + 1.0

    try:
        asyncio.run(run())
    except KeyboardInterrupt:  # where the loop cannot handle signals (Windows)
        print("Stopped by Ctrl-C.")
    if stop.requested:
        print(f"Stopped by {stop.description}.")
    truncated = bool(getattr(source, "truncated", False))
    # What the reader lost or skipped (damaged parts, malformed lines, a cut-off end).
    notes: tuple[str, ...] = getattr(source, "notes", ())
    if not notes and truncated:
        notes = ("the recording was cut off; replayed what it holds",)
    print(
        f"Replayed {_plural(stats.n_events, 'event')}: {_plural(stats.n_beats, 'beat')} over "
        f"{stats.duration_s:.1f} s, {_plural(stats.n_gaps + stats.n_rr_silences, 'gap')}"
        + (f" ({'; '.join(notes)})" if notes else "")
        + "."
    )
    _print_notes(source)
    if stats.n_beats == 0 and stats.n_hr_readings and not stats.n_ecg_frames:
        # "0 beats" alone reads like a fault: say why, as analyze does (issue #9).
        hr_only = heart_rate_only_text(stats.mean_strap_hr_bpm, stats.n_hr_readings)
        print(f"  note: the recording holds {hr_only}. Its heart rate replays; HRV cannot.")
    return EXIT_OK


# What a console that cannot show a character gets instead (Windows code pages,
# PYTHONIOENCODING=ascii); anything not listed becomes "?".
_CONSOLE_FALLBACK: Final = {
    "−": "-",
    "–": "-",
    "—": "--",
    "…": "...",
    "α": "alpha",
    "±": "+/-",
    "×": "x",
    "≥": ">=",
    "≤": "<=",
    "²": "2",
    "µ": "u",
    "°": " deg",
    "→": "->",
    "’": "'",
    "“": '"',
    "”": '"',
}
_CONSOLE_ERRORS: Final = "pet_biofeedback_console"


def _console_fallback(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    text = exc.object[exc.start : exc.end]
    return "".join(_CONSOLE_FALLBACK.get(ch, "?") for ch in text), exc.end


def _make_console_safe() -> None:
    """Replace what the console cannot encode instead of failing (issue #9); keep the rest."""
    try:
        codecs.lookup_error(_CONSOLE_ERRORS)
    except LookupError:
        codecs.register_error(_CONSOLE_ERRORS, _console_fallback)
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors=_CONSOLE_ERRORS)


def _print_notes(source: object) -> None:
    """What a file source's plausibility gate skipped, as ``analyze`` prints its notes."""
    gate = getattr(source, "gate", None)
    for note in getattr(gate, "notes", ()):
        print(f"  note: {note}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pet-biofeedback`` command; returns the exit code."""
    _make_console_safe()
    _configure_logging()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if str(getattr(args, "source", "") or "").strip().lower() in ("sim:help", "sim:?"):
            from pet_biofeedback.firmware_bridge.sim_config import sim_help_text

            print(sim_help_text())
            return EXIT_OK
        if args.command == "analyze":
            return _cmd_analyze(args, parser)
        if args.command == "scan":
            return _cmd_scan(args)
        if args.command == "record":
            return _cmd_record(args)
        if args.command == "replay":
            return _cmd_replay(args, parser)
        if args.command in ("session", "history", "gui", None, "report", "export", "assess"):
            from pet_biofeedback.cli.coach import (
                cmd_assess,
                cmd_export,
                cmd_gui,
                cmd_history,
                cmd_report,
                cmd_session,
            )
        if args.command == "session":
            return cmd_session(args)
        if args.command == "history":
            return cmd_history(args)
        if args.command in ("gui", None):
            if args.command is None:  # no command: open the app with its defaults
                args = parser.parse_args(["gui"])
            return cmd_gui(args)
        if args.command == "report":
            return cmd_report(args)
        if args.command == "export":
            return cmd_export(args)
        if args.command == "assess":
            return cmd_assess(args)
        parser.error(f"unknown command {args.command!r}")
    except PetBiofeedbackError as exc:
        print(f"pet-biofeedback: {exc.user_message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception:
        logger.exception("unexpected error (a bug; please report it with this message)")
        return EXIT_BUG
