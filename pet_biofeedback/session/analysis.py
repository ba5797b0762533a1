"""Analyse a file end to end: read it, find beats (ECG), estimate breathing (ACC), run the
batch analysis, and shape the result as the report the CLI prints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from pet_biofeedback.errors import InputFileError, SignalInputError
from pet_biofeedback.session.importers import read_rr_text, read_xdf
from pet_biofeedback.signal.batch import AnalysisSettings, BatchAnalysis, HrvTable, analyze_rr

__all__ = ["FileAnalysis", "analyze_file", "report_dict"]

MIN_BEATS: Final = 3  # fewer beats than this cannot give even one successive difference pair


@dataclass(frozen=True, slots=True, kw_only=True)
class FileAnalysis:
    """One analysed file: where the beats came from and what the analysis found."""

    source: str
    kind: str  # "rr_text" or "xdf_ecg"
    analysis: BatchAnalysis
    details: dict[str, Any] = field(default_factory=dict)


def _analyze_rr_file(path: Path, settings: AnalysisSettings) -> FileAnalysis:
    rr = read_rr_text(path)
    if rr.rr_ms.size < MIN_BEATS:
        raise InputFileError(
            str(path), f"holds only {rr.rr_ms.size} intervals; at least {MIN_BEATS} are needed"
        )
    try:
        result = analyze_rr(rr.rr_ms, settings)
    except SignalInputError as exc:
        raise InputFileError(str(path), str(exc)) from exc
    return FileAnalysis(
        source=str(path),
        kind="rr_text",
        analysis=result,
        details={"unit": rr.unit, "skipped_lines": rr.n_skipped_lines},
    )


def _analyze_xdf_file(path: Path, settings: AnalysisSettings) -> FileAnalysis:
    from pet_biofeedback.signal.ecg import find_r_peaks
    from pet_biofeedback.signal.respiration import breathing_from_acc

    rec = read_xdf(path)
    try:
        peaks = find_r_peaks(rec.ecg_uv, rec.ecg_fs_hz)
    except SignalInputError as exc:
        raise InputFileError(str(path), f"ECG stream {rec.stream_name!r}: {exc}") from exc
    rr_ms = peaks.rr_ms
    if rr_ms.size < MIN_BEATS:
        raise InputFileError(
            str(path), f"ECG holds only {peaks.n_beats} beats; too short for analysis"
        )
    breath_starts = None
    breathing_rate = None
    details: dict[str, Any] = {
        "ecg_stream": rec.stream_name,
        "ecg_fs_hz": rec.ecg_fs_hz,
        "r_peaks": peaks.n_beats,
        "breathing_source": None,
    }
    if rec.acc_mg is not None and rec.acc_t_s is not None:
        est = breathing_from_acc(rec.acc_mg, rec.acc_fs_hz, t_s=rec.acc_t_s)
        if math.isfinite(est.rate_breaths_per_min):
            breath_starts = est.breath_start_s
            breathing_rate = est.rate_breaths_per_min
            details["breathing_source"] = "chest accelerometer"
    try:
        result = analyze_rr(
            rr_ms,
            settings,
            t_first_beat_s=float(peaks.t_s[0]),
            breath_start_s=breath_starts,
            breathing_rate_breaths_per_min=breathing_rate,
        )
    except SignalInputError as exc:
        raise InputFileError(str(path), str(exc)) from exc
    return FileAnalysis(source=str(path), kind="xdf_ecg", analysis=result, details=details)


def analyze_file(path: Path, settings: AnalysisSettings) -> FileAnalysis:
    """Read and analyse one file; `InputFileError` names the file and the problem."""
    if path.suffix.lower() == ".xdf" or path.name.lower().endswith(".xdfz"):
        return _analyze_xdf_file(path, settings)
    return _analyze_rr_file(path, settings)


def _num(x: Any) -> float | int | None:
    if isinstance(x, np.integer | int):
        return int(x)
    value = float(x)
    return value if math.isfinite(value) else None


_METRIC_KEYS: Final = (
    # report key, HrvTable field
    ("mean_rr_ms", "mean_rr_ms"),
    ("sdnn_ms", "sdnn_ms"),
    ("rmssd_ms", "rmssd_ms"),
    ("sdsd_ms", "sdsd_ms"),
    ("pnn50_pct", "pnn50_pct"),
    ("mean_hr_bpm", "mean_hr_bpm"),
    ("min_hr_bpm", "min_hr_bpm"),
    ("max_hr_bpm", "max_hr_bpm"),
    ("vlf_ms2", "vlf_ms2"),
    ("lf_ms2", "lf_ms2"),
    ("hf_ms2", "hf_ms2"),
    ("total_power_ms2", "total_power_ms2"),
    ("lf_hf", "lf_hf"),
    ("lf_nu", "lf_nu"),
    ("hf_nu", "hf_nu"),
    ("lf_peak_hz", "lf_peak_hz"),
    ("hf_peak_hz", "hf_peak_hz"),
    ("sd1_ms", "sd1_ms"),
    ("sd2_ms", "sd2_ms"),
    ("dfa_alpha1", "dfa_alpha1"),
    ("sampen", "sampen"),
    ("coherence", "coherence_ratio"),
    # The report's key is fixed by the CLI contract; it means breaths per minute.
    ("breathing_rate_bpm", "breathing_rate_breaths_per_min"),
)


def _row(table: HrvTable, k: int) -> dict[str, Any]:
    row: dict[str, Any] = {
        "n_beats": int(table.n_beats[k]),
        "duration_s": _num(table.duration_s[k]),
        "artifacts": {
            "ectopic": int(table.n_ectopic[k]),
            "long_short": int(table.n_long_short[k]),
            "missed": int(table.n_missed[k]),
            "extra": int(table.n_extra[k]),
            "corrected_pct": _num(table.corrected_pct[k]),
        },
    }
    for key, attr in _METRIC_KEYS:
        row[key] = _num(getattr(table, attr)[k])
    return row


def report_dict(result: FileAnalysis) -> dict[str, Any]:
    """The report of one file as plain JSON-able data (NaN becomes None)."""
    a = result.analysis
    s = a.settings
    settings: dict[str, Any] = {
        "correction": s.correction,
        "window_s": s.window_s,
        "step_s": s.effective_step_s,
        "spectral_method": s.spectral_method,
        "resample_hz": 4.0,
        "detrending": "smoothness priors, lambda 500",
        "welch_segment_s": 256.0,
        "bands_hz": {"vlf": [0.0033, 0.04], "lf": [0.04, 0.15], "hf": [0.15, 0.4]},
        "pnn50_denominator": "n_beats - 1",
        "coherence": "mean of 64-s coherence ratios evaluated every 5 s",
        "input": result.kind,
        "input_beats": a.n_input_beats,
        **result.details,
        "notes": list(a.notes),
    }
    windows = []
    for k in range(len(a.windows)):
        row = {"start_s": _num(a.windows.start_s[k]), "end_s": _num(a.windows.end_s[k])}
        row.update(_row(a.windows, k))
        windows.append(row)
    return {
        "source": result.source,
        "settings": settings,
        "summary": _row(a.summary, 0),
        "windows": windows,
    }
