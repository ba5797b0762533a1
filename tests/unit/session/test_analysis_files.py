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


def test_xdf_with_a_broken_accelerometer_takes_breathing_from_the_ecg(tmp_path: Path) -> None:
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
    assert "accelerometer" in report["settings"]["breathing_problem"]
    # The R waves ride on a 0.25-Hz baseline wave (15 breaths/min): EDR sees it (issue 7).
    assert report["settings"]["breathing_source"] == "ecg"
    assert report["summary"]["breathing_rate_bpm"] == pytest.approx(15.0, abs=0.5)


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


def _paced_rr(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rr = np.empty(n)
    t = 0.0
    for k in range(n):  # sequential in time: the modulation depends on when the beat starts
        rr[k] = 900.0 + 60.0 * np.sin(2 * np.pi * 0.1 * t) + 12.0 * rng.standard_normal()
        t += rr[k] / 1000.0
    return rr


def _recording_with_dropouts(path: Path, rr: np.ndarray, every_s: float, lost_s: float) -> Path:
    """RR notifications once a second, as a strap sends them; beats in dropouts are lost and a
    ``gap`` event marks each dropout when the data come back (as ble.py does)."""
    from pet_biofeedback.events import Gap, RRIntervals
    from pet_biofeedback.recording import RecordingWriter

    end_s = np.cumsum(rr) / 1000.0
    second = np.floor(end_s).astype(int) + 1  # the notification after the beat
    lost = (end_s % every_s) >= every_s - lost_s
    with RecordingWriter(path, device={"name": "test"}, settings={}) as writer:
        in_gap = False
        for s in np.unique(second):  # one notification per second (test data)
            sel = (second == s) & ~lost
            if not sel.any():
                in_gap = True
                continue
            if in_gap:
                writer.write(Gap(float(s) - 0.01, lost_s, "link lost: no data until reconnected"))
                in_gap = False
            writer.write(RRIntervals(float(s), tuple(float(v) for v in rr[sel])))
    return path


def test_recording_with_dropouts_is_not_joined_back_to_back(tmp_path: Path) -> None:
    # Issue 6: with a dropout every 7 s the beats on both sides of each gap were joined back
    # to back; every gap added a fake successive difference (RMSSD +66 %, HF ×13).
    rr = _paced_rr(700, seed=1)
    clean = _recording_with_dropouts(tmp_path / "clean.jsonl", rr, every_s=7.0, lost_s=0.0)
    faulty = _recording_with_dropouts(tmp_path / "faulty.jsonl", rr, every_s=7.0, lost_s=3.0)
    settings = AnalysisSettings(window_s=60.0, step_s=60.0)
    ref = report_dict(analyze_file(clean, settings))
    got = report_dict(analyze_file(faulty, settings))
    assert got["settings"]["gaps"] > 50
    assert got["summary"]["rmssd_ms"] == pytest.approx(ref["summary"]["rmssd_ms"], rel=0.10)
    notes = " ".join(got["settings"]["notes"])
    assert "left out" in notes and "earlier by the gap time" not in notes
    # Window times are recording time: the windows of both files start at the same times.
    n = min(len(ref["windows"]), len(got["windows"]))
    starts_ref = [w["start_s"] for w in ref["windows"][:n]]
    starts_got = [w["start_s"] for w in got["windows"][:n]]
    assert starts_got == pytest.approx(starts_ref, abs=1.5)
    assert len(got["windows"]) >= len(ref["windows"]) - 1


def test_stretches_that_overlap_by_clock_jitter_are_laid_end_to_end() -> None:
    from pet_biofeedback.session.analysis import _join, _Stretch

    first = _Stretch(10.0, np.array([1000.0, 1000.0]))  # ends at 12.0
    early = _Stretch(11.6, np.array([900.0] * 3))  # notification jitter: "starts" at 11.6
    late = _Stretch(20.0, np.array([800.0] * 3))
    beats = _join([first, early, late])
    assert beats.starts_s.tolist() == pytest.approx([10.0, 12.0, 20.0])
    assert beats.segment_start_idx.tolist() == [0, 2, 5]
    assert beats.n_gaps == 1 and beats.gap_s == pytest.approx(20.0 - 14.7)
