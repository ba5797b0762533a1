"""What the README says about reading the RR sample stays true (issue #9)."""

from __future__ import annotations

from pathlib import Path

from pet_biofeedback.session.analysis import analyze_file, report_dict
from pet_biofeedback.signal.batch import AnalysisSettings

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "recordings" / "resonance-6-per-min.rr.txt"


def test_403_beats_are_402_intervals_and_one_split_missed_beat() -> None:
    corrected = report_dict(analyze_file(SAMPLE, AnalysisSettings()))
    raw = report_dict(analyze_file(SAMPLE, AnalysisSettings(correction=False)))
    assert corrected["settings"]["input_beats"] == 402
    assert raw["summary"]["n_beats"] == 402
    artifacts = corrected["summary"]["artifacts"]
    assert (artifacts["missed"], artifacts["extra"]) == (1, 0)
    assert corrected["summary"]["n_beats"] == 402 + artifacts["missed"] - artifacts["extra"]
    readme = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    assert "it holds 402 intervals, and the table says 403 beats" in readme


def test_lf_hf_is_large_because_6_breaths_per_min_is_in_the_lf_band() -> None:
    summary = report_dict(analyze_file(SAMPLE, AnalysisSettings()))["summary"]
    assert abs(summary["lf_peak_hz"] - 6 / 60) < 0.01  # the breathing rate, in Hz
    assert summary["lf_hf"] > 100
    assert summary["lf_ms2"] > 0.9 * summary["total_power_ms2"]
