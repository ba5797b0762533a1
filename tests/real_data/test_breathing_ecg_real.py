"""Breathing from the ECG alone against a respiration belt, on real data (issue 7).

Source: systole 0.1.2 wheel, ``Task1_ECG.npy`` and ``Task1_Respiration.npy`` (GPL-3.0; Legrand N
et al. 2018, bioRxiv 10.1101/376954; reference-data.md §6b): one healthy adult, ≈ 24 min of
ECG and a simultaneous respiration belt at 2 kHz, spontaneous breathing near 16 breaths/min
during an emotional-picture task. The ECG is resampled to the Polar H10's 130 Hz and written
as a recording with ECG frames only (no RR, no ACC), which `analyze` reads like a strap's.

Reference: the belt, decimated to 4 Hz, through the same band-pass and breath-onset detector
(`breathing_from_ecg_amplitude` on the belt as a uniform series, shifted positive because EDR
takes magnitudes); window rates from onsets as `signal.batch` computes them.

Measured (analyze, 60-s windows every 30 s, 46 windows): the whole recording 15.51 breaths/min
from the ECG against 15.63 from the belt; per window mean absolute error 1.27 breaths/min,
median 1.13, bias −0.09, 78 % within ±2, worst 4.5. The whole-record periodogram peak of the
same EDR waveform says 6.9 (slow amplitude waves, not breathing), which is why the analysis
takes the rate from the onsets (session/analysis.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import pytest
from scipy import signal as sps

from pet_biofeedback.events import EcgFrame
from pet_biofeedback.recording import RecordingWriter
from pet_biofeedback.session.analysis import analyze_file, report_dict
from pet_biofeedback.signal.batch import AnalysisSettings
from pet_biofeedback.signal.ecg import find_r_peaks
from pet_biofeedback.signal.respiration import breathing_from_ecg_amplitude

from .reference import load_systole_task1

H10_ECG_FS_HZ: Final = 130.0
H10_FRAME_SAMPLES: Final = 73  # samples per PMD ECG frame at 130 Hz (ble-protocol.md)
BELT_FS_HZ: Final = 4.0


def _onset_rates(onsets_s: np.ndarray, starts_s: np.ndarray, ends_s: np.ndarray) -> np.ndarray:
    """Breaths/min from the onsets inside each window (as signal.batch computes them)."""
    lo = np.searchsorted(onsets_s, starts_s)
    hi = np.searchsorted(onsets_s, ends_s)
    n_breaths = hi - lo - 1
    first = onsets_s[np.minimum(lo, onsets_s.size - 1)]
    last = onsets_s[np.maximum(hi - 1, 0)]
    return np.where(n_breaths >= 1, 60.0 * n_breaths / np.maximum(last - first, 1e-9), np.nan)


@pytest.fixture(scope="module")
def systole() -> dict[str, Any]:
    data = load_systole_task1()
    # 2000 Hz → 130 Hz (13/200) for the ECG, → 4 Hz for the belt
    ecg_uv = sps.resample_poly(data["ecg"], 13, 200) * 1000.0  # mV → µV
    belt = sps.decimate(sps.decimate(data["respiration"], 10), 50)
    t_belt_s = np.arange(belt.size) / BELT_FS_HZ
    reference = breathing_from_ecg_amplitude(t_belt_s, belt - belt.min() + 1.0)
    return {"ecg_uv": ecg_uv, "belt_onsets_s": reference.breath_start_s}


@pytest.fixture(scope="module")
def ecg_only_report(systole: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    path: Path = tmp_path_factory.mktemp("systole") / "ecg-only.jsonl.gz"
    ecg_uv = systole["ecg_uv"]
    writer = RecordingWriter(
        path, device={"model": "test"}, settings={}, started_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    n = H10_FRAME_SAMPLES
    for k in range(0, ecg_uv.size - n + 1, n):  # one event per frame, as a strap sends them
        frame = tuple(ecg_uv[k : k + n].round(1).tolist())
        writer.write(EcgFrame((k + n - 1) / H10_ECG_FS_HZ, H10_ECG_FS_HZ, frame))
    writer.close()
    return report_dict(analyze_file(path, AnalysisSettings(window_s=60.0, step_s=30.0)))


def test_analyze_takes_breathing_from_the_ecg_when_there_is_no_acc(ecg_only_report: Any) -> None:
    settings = ecg_only_report["settings"]
    assert (settings["rr_source"], settings["breathing_source"]) == ("ECG R-peaks", "ecg")


def test_whole_recording_rate_agrees_with_the_belt(
    ecg_only_report: Any, systole: dict[str, Any]
) -> None:
    windows = ecg_only_report["windows"]
    belt = _onset_rates(
        systole["belt_onsets_s"],
        np.array([windows[0]["start_s"]]),
        np.array([windows[-1]["end_s"]]),
    )[0]
    # measured 15.51 against 15.63 breaths/min
    assert ecg_only_report["summary"]["breathing_rate_bpm"] == pytest.approx(belt, abs=0.5)


def test_window_rates_error_in_breaths_per_min(
    ecg_only_report: Any, systole: dict[str, Any]
) -> None:
    windows = ecg_only_report["windows"]
    starts = np.array([w["start_s"] for w in windows])
    ends = np.array([w["end_s"] for w in windows])
    ecg = np.array([np.nan if w["breathing_rate_bpm"] is None else w["breathing_rate_bpm"]
                    for w in windows])  # fmt: skip
    error = ecg - _onset_rates(systole["belt_onsets_s"], starts, ends)
    assert len(windows) >= 40 and np.all(np.isfinite(error))
    assert float(np.mean(np.abs(error))) < 1.6  # measured 1.27 breaths/min
    assert float(np.median(np.abs(error))) < 1.5  # measured 1.13
    assert abs(float(np.mean(error))) < 0.5  # measured −0.09
    assert float(np.mean(np.abs(error) <= 2.0)) >= 0.7  # measured 0.78


def test_whole_record_periodogram_of_edr_is_not_the_breathing_rate(
    systole: dict[str, Any],
) -> None:
    # Why the analysis counts onsets: the periodogram peak of the whole EDR waveform lies on
    # slow amplitude waves here (measured 6.9 breaths/min) while its onsets count the breaths
    # the belt counts (365 against 371).
    peaks = find_r_peaks(systole["ecg_uv"], H10_ECG_FS_HZ)
    edr = breathing_from_ecg_amplitude(peaks.t_s, peaks.amplitude_uv)
    assert edr.rate_breaths_per_min < 9.0
    assert edr.n_breaths == pytest.approx(systole["belt_onsets_s"].size, rel=0.03)
