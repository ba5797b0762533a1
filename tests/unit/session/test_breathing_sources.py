"""Measured breathing wherever the data allows (issue 7): ACC, else ECG, else an RR estimate.

Simulated straps (firmware_bridge.simulated) breathing at a known rate, recorded with
``record`` as fast as possible and read back by `analyze_file`. Measured (3-min recordings,
seeds 1 and 2, 60-s windows): from the ECG alone 4.42/4.52, 5.97/5.99, 10.12/10.02,
15.01/15.00 and 19.98/20.00 breaths/min at 4.5, 6, 10, 15 and 20.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pet_biofeedback.session.analysis import analyze_file, report_dict
from pet_biofeedback.signal.batch import AnalysisSettings
from tests.unit.test_cli import run

SETTINGS = AnalysisSettings(window_s=60.0, step_s=30.0)


def _simulated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: str, seconds: int = 180
) -> dict[str, object]:
    out = tmp_path / "sim.jsonl.gz"
    argv = ["record", "--source", f"sim:{spec}", "--seconds", str(seconds), "--speed", "max"]
    code, _, err = run([*argv, "--out", str(out)], capsys)
    assert code == 0, err
    return report_dict(analyze_file(out, SETTINGS))


@pytest.mark.parametrize("breaths_per_min", [4.5, 6.0, 15.0])
def test_ecg_without_acc_gives_the_breathing_rate(
    breaths_per_min: float, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Regression (issue 7): a recording with ECG but no ACC got no breathing rate at all.
    report = _simulated(tmp_path, capsys, f"acc=false,breathing={breaths_per_min},seed=1")
    settings, summary = report["settings"], report["summary"]
    assert isinstance(settings, dict) and isinstance(summary, dict)
    assert settings["breathing_source"] == "ecg"
    assert summary["breathing_rate_bpm"] == pytest.approx(breaths_per_min, abs=0.2)
    windows = report["windows"]
    assert isinstance(windows, list)
    rates = np.array([w["breathing_rate_bpm"] for w in windows], dtype=float)
    assert rates.size >= 3
    assert np.all(np.abs(rates - breaths_per_min) < 0.3)


def test_acc_wins_over_ecg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = _simulated(tmp_path, capsys, "breathing=10,seed=2", seconds=90)
    settings, summary = report["settings"], report["summary"]
    assert isinstance(settings, dict) and isinstance(summary, dict)
    assert settings["breathing_source"] == "acc"
    assert summary["breathing_rate_bpm"] == pytest.approx(10.0, abs=0.5)


def test_rr_only_is_estimated_and_marked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Breathing at the simulated person's resonance: the heart rhythm's coherence peak.
    report = _simulated(tmp_path, capsys, "acc=false,ecg=false,breathing=5.5,seed=3")
    settings, summary = report["settings"], report["summary"]
    assert isinstance(settings, dict) and isinstance(summary, dict)
    assert settings["breathing_source"] == "rr-estimate"
    assert summary["breathing_rate_bpm"] == pytest.approx(5.5, abs=0.5)


def test_too_short_for_any_estimate_has_no_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 15 s of RR: no 64-s coherence window, so no estimate and no source claimed.
    report = _simulated(tmp_path, capsys, "acc=false,ecg=false,seed=4", seconds=15)
    settings, summary = report["settings"], report["summary"]
    assert isinstance(settings, dict) and isinstance(summary, dict)
    assert settings["breathing_source"] is None
    assert summary["breathing_rate_bpm"] is None
