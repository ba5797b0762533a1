"""Regression tests for `pet_biofeedback.session.analysis` found in review (issue #2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pet_biofeedback.errors import InputFileError
from pet_biofeedback.session.analysis import analyze_file, report_dict
from pet_biofeedback.signal.batch import AnalysisSettings
from tests.unit.session.test_sources import write_xdf


def _spiky_ecg(duration_s: float, fs_hz: float, rr_s: float) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(int(duration_s * fs_hz)) / fs_hz
    beats = np.arange(0.5, duration_s, rr_s)
    ecg = np.zeros_like(t)
    for b in beats:  # a handful of synthetic QRS complexes
        ecg += 1200.0 * np.exp(-0.5 * ((t - b) / 0.012) ** 2)
    return t, ecg + 20.0 * np.sin(2 * np.pi * 0.25 * t)


def test_xdf_with_a_broken_accelerometer_is_analysed_without_breathing(tmp_path: Path) -> None:
    # Regression: one NaN in the ACC stream failed the whole file with an unnamed message.
    t, ecg = _spiky_ecg(60.0, 130.0, 0.8)
    acc_t = np.arange(50 * 60) / 50.0
    acc = np.column_stack((np.sin(acc_t), np.zeros(acc_t.size), np.full(acc_t.size, 990.0)))
    acc[100, 0] = np.nan
    path = write_xdf(
        tmp_path / "h10.xdf",
        [
            ("ECG", "ECG", 130, (100.0 + t).tolist(), ecg[:, None].tolist()),
            ("ACC", "Accelerometer", 50, (100.0 + acc_t).tolist(), acc.tolist()),
        ],
    )
    report = report_dict(analyze_file(path, AnalysisSettings()))
    assert report["summary"]["mean_hr_bpm"] == pytest.approx(75.0, abs=1.0)
    assert report["summary"]["breathing_rate_bpm"] is None
    assert "accelerometer" in report["settings"]["breathing_problem"]


def test_rr_file_in_the_wrong_unit_is_rejected_not_invented(tmp_path: Path) -> None:
    # Regression: centiseconds were "corrected" into 240 bpm with 100 % corrected beats.
    path = tmp_path / "cs.txt"
    path.write_text("\n".join(str(v) for v in (80, 85, 91, 79, 88, 90, 84) * 20), encoding="utf-8")
    with pytest.raises(InputFileError, match="outside 250–2500 ms") as info:
        analyze_file(path, AnalysisSettings())
    assert str(path) in info.value.user_message


def test_a_few_out_of_range_intervals_are_corrected_and_noted(tmp_path: Path) -> None:
    rr = np.full(300, 850.0) + 20.0 * np.sin(np.arange(300))
    rr[100] = 3500.0
    path = tmp_path / "rr.txt"
    path.write_text("\n".join(f"{v:.1f}" for v in rr), encoding="utf-8")
    report = report_dict(analyze_file(path, AnalysisSettings()))
    assert any("outside 250–2500 ms" in note for note in report["settings"]["notes"])
    assert report["summary"]["max_hr_bpm"] < 100.0
