"""Exports: Kubios-readable RR text, CSV of beats and of per-window measures, EDF+.

`export_file` reads any input (recording, XDF, RR text; `session.export_input`) and writes
one format:

``kubios``
    The measured RR intervals in ms, one per line, after ``#`` header lines: the plain-text
    layout of the Kubios HRV user guide's RR input (a single column of RR in s or ms after
    header lines; the ``kubios`` package on PyPI writes the same). The header says what the
    file is, when it was recorded and from which file; with ``anonymise`` only what it is.
    Gaps cannot be written in a single column: the intervals on both sides follow each other,
    as ``analyze`` treats them, and the header says how many gaps were cut out. Values are
    written in their shortest exact form, so reading the file back gives the same intervals.
``csv``
    Two RFC 4180 files (the ``csv`` module, ``\\r\\n`` line ends, text quoted when needed):
    the beats at ``--out`` (`BEAT_COLUMNS`) and the per-window measures beside it, named
    ``<stem>-windows.csv`` (``start_s``, ``end_s`` and every measure of ``analyze --json``,
    the artifact counts as ``artifacts_<class>``). A recording shorter than one window gives
    one row for the whole recording, and a note says so.
``edf``
    EDF+ (`session.export_edf`).

Outputs are written to a temporary file beside the target and renamed into place, so an
interrupted export never leaves half a file; an existing output is refused unless ``force``.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, get_args

import numpy as np

from pet_biofeedback import __version__
from pet_biofeedback.errors import ConfigError, ExportError, InputFileError
from pet_biofeedback.session.export_input import (
    BeatTable,
    ExportInput,
    beat_table,
    input_kind,
    read_export_input,
)

__all__ = [
    "BEAT_COLUMNS",
    "DEFAULT_STEP_S",
    "DEFAULT_WINDOW_S",
    "ExportFormat",
    "ExportOptions",
    "ExportResult",
    "export_file",
    "kubios_text",
    "windows_path",
]

logger = logging.getLogger(__name__)

ExportFormat = Literal["kubios", "csv", "edf"]
DEFAULT_WINDOW_S: Final = 300.0  # as analyze's windows are usually asked for (5-min HRV)
DEFAULT_STEP_S: Final = 150.0
BEAT_COLUMNS: Final = ("t_s", "rr_ms", "nn_ms", "artifact", "gap_before_s")


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportOptions:
    """What to export and how.

    Attributes
    ----------
    to : {"kubios", "csv", "edf"}
    anonymise : bool
        Leave out names, notes (marker texts), device details, file names and wall-clock
        dates.
    force : bool
        Replace outputs that exist.
    window_s, step_s : float
        Per-window measures of the CSV export (as ``analyze --window/--step``).
    correction : bool
        Correct artifacts (as ``analyze``; off = ``--no-correction``).
    column : str, optional
        For an RR table (CSV): the column holding the intervals (``--column``).
    """

    to: ExportFormat
    anonymise: bool = False
    force: bool = False
    window_s: float = DEFAULT_WINDOW_S
    step_s: float = DEFAULT_STEP_S
    correction: bool = True
    column: str | None = None

    def __post_init__(self) -> None:
        if self.to not in get_args(ExportFormat):
            raise ConfigError(f"unknown export format {self.to!r}; choose one of kubios, csv, edf")
        for name in ("window_s", "step_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{name} must be a positive number of seconds, got {value}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportResult:
    """What an export wrote: the files and notes for the person who asked."""

    paths: tuple[Path, ...]
    notes: tuple[str, ...]


def windows_path(out: Path) -> Path:
    """Where the per-window CSV goes beside the beats CSV ``out``."""
    stem = out.name[: -len(".csv")] if out.name.lower().endswith(".csv") else out.name
    return out.with_name(f"{stem}-windows.csv")


def _check_output(out: Path, *, force: bool) -> None:
    if out.is_dir():
        raise ExportError(f"{out}: is a folder; give the name of a file")
    parent = out.parent
    if not parent.is_dir():
        raise ExportError(
            f"{out}: the folder {parent} does not exist; create it first",
        )
    if os.path.lexists(out) and not force:
        raise ExportError(
            f"{out}: exists already; use --force to replace it",
        )


def _write_atomically(out: Path, data: bytes) -> None:
    """Write through a temporary file in the same folder, renamed into place when complete."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    except OSError as exc:
        raise ExportError(f"{out}: cannot be written ({exc.strerror or exc})") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, out)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ExportError(f"{out}: cannot be written ({exc.strerror or exc})") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _number(value: float) -> str:
    """Shortest text that reads back as the same float; empty for NaN."""
    if not math.isfinite(value):
        return ""
    return repr(float(value))


# --- Kubios RR text ---------------------------------------------------------------------------


def kubios_text(source: ExportInput, beats: BeatTable, *, anonymise: bool) -> str:
    """The measured intervals as Kubios RR text (module docstring)."""
    rr = beats.measured_rr_ms
    lines = ["# RR intervals in ms, one per line (exported by pet-biofeedback)"]
    if not anonymise:
        lines.append(f"# from {Path(source.path).name}, program version {__version__}")
        if source.started_at is not None:
            lines.append(f"# recording started {source.started_at.isoformat()}")
    lines.append(f"# {rr.size} intervals from {beats.rr_source}, as measured (not corrected)")
    if beats.n_gaps:
        lines.append(
            f"# {beats.n_gaps} gap(s) without beats were cut out: the intervals around "
            "each gap follow each other"
        )
    lines.extend(_number(v) for v in rr.tolist())
    return "\n".join(lines) + "\n"


# --- CSV --------------------------------------------------------------------------------------


def _csv_bytes(header: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def beats_csv(beats: BeatTable) -> bytes:
    """The beats as CSV (`BEAT_COLUMNS`; empty cells for "none")."""
    rows = [
        (_number(t), _number(rr), _number(nn), artifact, _number(gap))
        for t, rr, nn, artifact, gap in zip(
            beats.t_s.tolist(),
            beats.rr_ms.tolist(),
            beats.nn_ms.tolist(),
            beats.artifact,
            beats.gap_before_s.tolist(),
            strict=True,
        )
    ]
    return _csv_bytes(BEAT_COLUMNS, rows)


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict):
            flat.update({f"{key}_{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    return flat


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return _number(value)
    return str(value)


def windows_csv(source: ExportInput, options: ExportOptions) -> tuple[bytes, list[str]]:
    """Per-window measures as CSV, via ``analyze``'s own path; and notes."""
    from pet_biofeedback.session.analysis import analyze_file, report_dict
    from pet_biofeedback.signal.batch import AnalysisSettings

    settings = AnalysisSettings(
        correction=options.correction, window_s=options.window_s, step_s=options.step_s
    )
    result = analyze_file(Path(source.path), settings)
    report = report_dict(result)
    notes: list[str] = []
    rows = [_flat(w) for w in report["windows"]]
    if not rows:
        summary = result.analysis.summary
        whole = {"start_s": float(summary.start_s[0]), "end_s": float(summary.end_s[0])}
        rows = [_flat({**whole, **report["summary"]})]
        notes.append(
            f"the recording is shorter than one {options.window_s:g}-s window: the windows "
            "file has one row for the whole recording"
        )
    header = list(rows[0])
    body = [[_cell(r[key]) for key in header] for r in rows]
    return _csv_bytes(header, body), notes


# --- The facade -------------------------------------------------------------------------------


def export_file(path: Path, out: Path, options: ExportOptions) -> ExportResult:
    """Export one input file in one format.

    Parameters
    ----------
    path : Path
        A recording (``.jsonl``, ``.jsonl.gz``), XDF or RR text file.
    out : Path
        The file to write (for ``csv`` the beats; the windows go to `windows_path`).
    options : ExportOptions

    Returns
    -------
    ExportResult

    Raises
    ------
    InputFileError
        The input is missing or not readable as its kind.
    ExportError
        An output exists (without ``force``), its folder is missing, or the input lacks what
        the format needs.
    """
    if path.is_dir():
        raise InputFileError(str(path), "is a folder, not a file")
    if not path.exists():
        raise InputFileError(str(path), "no such file")
    targets = [out, windows_path(out)] if options.to == "csv" else [out]
    for target in targets:
        _check_output(target, force=options.force)
    if options.to == "edf" and input_kind(path) == "rr_text":
        raise ExportError(
            (
                f"{path}: an RR text file has no ECG or accelerometer for an EDF+ file; "
                "export --to kubios or csv instead"
            ),
        )
    source = read_export_input(path, column=options.column)
    notes: list[str] = []
    if source.truncated:
        notes.append("the recording was cut off (a crash?); exported what it holds")
    if options.to == "edf":
        from pet_biofeedback.session.export_edf import edf_bytes

        data, edf_notes = edf_bytes(source, anonymise=options.anonymise)
        notes.extend(edf_notes)
        _write_atomically(out, data)
        return ExportResult(paths=(out,), notes=tuple(notes))
    beats = beat_table(source, correction=options.correction)
    if beats.n_gaps:
        notes.append(f"{beats.n_gaps} gap(s) without beats")
    if options.to == "kubios":
        text = kubios_text(source, beats, anonymise=options.anonymise).encode("utf-8")
        _write_atomically(out, text)
        return ExportResult(paths=(out,), notes=tuple(notes))
    if options.correction and not beats.aligned:
        notes.append(
            "the corrected intervals could not be lined up beat by beat; nn_ms is empty "
            "(the windows file uses them all the same)"
        )
    windows, window_notes = windows_csv(source, options)
    notes.extend(window_notes)
    beat_rows = beats_csv(beats)
    _write_atomically(out, beat_rows)
    _write_atomically(targets[1], windows)
    logger.info("exported %s: %d beats", path, int(np.count_nonzero(np.isfinite(beats.t_s))))
    return ExportResult(paths=tuple(targets), notes=tuple(notes))
