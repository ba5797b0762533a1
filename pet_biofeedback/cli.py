"""Command line: ``pet-biofeedback …`` and ``python -m pet_biofeedback …``.

Only this module (and the terminal view) writes to stdout. Every expected problem becomes a
one-line message on stderr and exit code 2; anything else is a bug, logged with its traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, NoReturn

from pet_biofeedback import __version__
from pet_biofeedback.errors import PetBiofeedbackError

logger = logging.getLogger("pet_biofeedback")

EXIT_OK: Final = 0
EXIT_USAGE: Final = 2
EXIT_BUG: Final = 3


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line on stderr and exit code 2, like every other expected problem."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = _Parser(
        prog="pet-biofeedback",
        description="HRV-biofeedback breathing coach: analyse heartbeat recordings.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    analyze = sub.add_parser(
        "analyze",
        help="analyse RR text files or ECG recordings (XDF)",
        description=(
            "Analyse heartbeat recordings: RR text files (one interval per line, seconds or "
            "milliseconds) and LSL/XDF files with an ECG stream. Prints time-domain, "
            "frequency-domain and nonlinear HRV, artifact counts, coherence and, when the file "
            "has a chest accelerometer, the breathing rate."
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
    return parser


def _configure_logging() -> None:
    level = (
        logging.DEBUG
        if os.environ.get("PET_BIOFEEDBACK_LOG", "").lower() == "debug"
        else logging.WARNING
    )
    # One handler however often main() runs in a process (tests call it repeatedly).
    if not any(getattr(h, "_pet_cli", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler._pet_cli = True  # type: ignore[attr-defined]  # marks our own handler
        logger.addHandler(handler)
    logger.setLevel(level)
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


def _render_table(report: dict[str, Any]) -> str:
    s = report["summary"]
    art = s["artifacts"]
    lines = [f"{report['source']}"]
    width = max(len(label) for _, label, _, _ in _TABLE_ROWS)
    for key, label, unit, digits in _TABLE_ROWS:
        lines.append(f"  {label:<{width}}  {_format_number(s[key], digits):>10} {unit}".rstrip())
    lines.append(
        f"  {'Artifacts':<{width}}  ectopic {art['ectopic']}, long/short {art['long_short']}, "
        f"missed {art['missed']}, extra {art['extra']} "
        f"({_format_number(art['corrected_pct'], 1)} % of beats corrected)"
    )
    notes = report["settings"].get("notes", [])
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


def _cmd_analyze(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.step is not None and args.window is None:
        parser.error("--step needs --window")
    # Imported here so `pet-biofeedback --help` stays instant.
    from pet_biofeedback.session.analysis import analyze_file, report_dict
    from pet_biofeedback.signal.batch import AnalysisSettings

    settings = AnalysisSettings(
        correction=not args.no_correction, window_s=args.window, step_s=args.step
    )
    status = EXIT_OK
    for path in args.paths:
        try:
            result = analyze_file(Path(path), settings)
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pet-biofeedback`` command; returns the exit code."""
    _configure_logging()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "analyze":
            return _cmd_analyze(args, parser)
        parser.error("no command given; try: pet-biofeedback analyze PATH")
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
