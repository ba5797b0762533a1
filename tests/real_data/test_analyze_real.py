"""``pet-biofeedback analyze`` on real recordings (reference-data.md §2.1 and the specthr section).

Data:

* MIT-BIH Normal Sinus Rhythm Database (PhysioNet; Goldberger AL et al. 2000, Circulation
  101(23):e215-e220), 5-min NN series ``SampleNNISeriesShort.npy`` shipped by pyhrv 0.5.0
  (Gomes P et al., PGomes92/pyhrv; BSD-3-Clause, data ODC-By 1.0).
* spectHR 0.1.11 sdist, ``sub001.xdf`` (Span M, MarkSpan/spectHR; GPL-2.0-only): Polar H10 ECG
  (130 Hz) + ACC (200 Hz) recorded over LSL, one adult breathing slowly for ≈ 86 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose

from pet_biofeedback.cli import main

from .reference import fetch, load_nsrdb

# reference-data.md §2.1 anchors of SampleNNISeriesShort.npy (ddof 1, pNN50 over n − 1)
NSRDB_SHORT_ANCHORS = {
    "mean_rr_ms": 888.955,
    "sdnn_ms": 95.690,
    "rmssd_ms": 101.301,
    "pnn50_pct": 48.512,
    "sd1_ms": 71.737,
    "sd2_ms": 114.748,
}


def _reject_constant(name: str) -> Any:
    raise AssertionError(f"JSON output holds {name}, which is not JSON")


def _analyze_in_process(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, Any] | None, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) <= 1
    report = json.loads(lines[0], parse_constant=_reject_constant) if lines else None
    return code, report, err


def _analyze_subprocess(path: Path) -> tuple[int, dict[str, Any] | None, str]:
    """A real process: nothing (not even pytest's log capture) hides what reaches stderr."""
    proc = subprocess.run(
        [sys.executable, "-m", "pet_biofeedback", "analyze", "--json", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = proc.stdout.splitlines()
    assert len(lines) <= 1
    report = json.loads(lines[0], parse_constant=_reject_constant) if lines else None
    return proc.returncode, report, proc.stderr


@pytest.fixture(scope="module")
def nsrdb_short_ms() -> np.ndarray:
    return load_nsrdb("nsrdb_short")


@pytest.fixture
def nsrdb_short_file(nsrdb_short_ms: np.ndarray, tmp_path: Path) -> Path:
    path = tmp_path / "nsrdb_short.rr.txt"
    path.write_text("\n".join(f"{v:.0f}" for v in nsrdb_short_ms) + "\n")
    return path


@pytest.fixture(scope="module")
def specthr_xdf() -> Path:
    return fetch("specthr_sub001")


@pytest.fixture(scope="module")
def specthr_full_summary(specthr_xdf: Path) -> dict[str, Any]:
    # module-scoped: the full file is analysed once for the tests that compare against it
    code, report, err = _analyze_subprocess(specthr_xdf)
    assert code == 0, err
    assert report is not None
    summary: dict[str, Any] = report["summary"]
    return summary


def _truncated_copy(src: Path, fraction: float, dst: Path) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


class TestNsrdbShort:
    def test_analyze_no_correction_matches_reference_anchors(
        self, nsrdb_short_file: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, report, err = _analyze_in_process(
            ["analyze", "--json", "--no-correction", str(nsrdb_short_file)], capsys
        )
        assert code == 0 and err == ""
        assert report is not None
        s = report["summary"]
        assert s["n_beats"] == 337
        assert_allclose(s["duration_s"], 299.578, rtol=0, atol=5e-4)
        for key, anchor in NSRDB_SHORT_ANCHORS.items():
            # the anchors are printed to three decimals
            assert round(s[key], 3) == pytest.approx(anchor, abs=1e-9), (key, s[key])
        assert s["artifacts"]["corrected_pct"] == 0.0

    def test_analyze_time_domain_matches_neurokit2(
        self,
        nsrdb_short_file: Path,
        nsrdb_short_ms: np.ndarray,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        code, report, _ = _analyze_in_process(
            ["analyze", "--json", "--no-correction", str(nsrdb_short_file)], capsys
        )
        assert code == 0 and report is not None
        s = report["summary"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import neurokit2 as nk

            # integer ms at 1000 Hz: the peak samples reproduce the intervals exactly
            peaks = np.concatenate(([0], np.cumsum(nsrdb_short_ms))).astype(np.int64)
            ref = nk.hrv_time(peaks, sampling_rate=1000)
        n = nsrdb_short_ms.size
        assert_allclose(s["mean_rr_ms"], ref["HRV_MeanNN"].iloc[0], rtol=1e-9)
        assert_allclose(s["sdnn_ms"], ref["HRV_SDNN"].iloc[0], rtol=1e-9)
        assert_allclose(s["rmssd_ms"], ref["HRV_RMSSD"].iloc[0], rtol=1e-9)
        assert_allclose(s["sdsd_ms"], ref["HRV_SDSD"].iloc[0], rtol=1e-9)
        assert_allclose(s["min_hr_bpm"], 60000.0 / ref["HRV_MaxNN"].iloc[0], rtol=1e-9)
        assert_allclose(s["max_hr_bpm"], 60000.0 / ref["HRV_MinNN"].iloc[0], rtol=1e-9)
        # NeuroKit2 divides NN50 by n, we by the n − 1 differences (hrv-methods.md §1)
        assert_allclose(s["pnn50_pct"] * (n - 1) / n, ref["HRV_pNN50"].iloc[0], rtol=1e-9)


class TestSpecthrSub001:
    def test_analyze_xdf_beats_heart_rate_and_breathing(
        self, specthr_xdf: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, report, err = _analyze_in_process(["analyze", "--json", str(specthr_xdf)], capsys)
        assert code == 0 and err == ""
        assert report is not None
        s = report["summary"]
        settings = report["settings"]
        assert settings["input"] == "xdf_ecg"
        assert settings["ecg_stream"] == "Polar H10 8554112A_ecg"
        assert settings["breathing_source"] == "acc"
        assert 109 <= settings["r_peaks"] <= 110  # NeuroKit2's detector finds 109
        assert 108 <= s["n_beats"] <= 110
        assert abs(s["mean_hr_bpm"] - 77.0) <= 2.0
        assert abs(s["breathing_rate_bpm"] - 5.8) <= 0.4
        assert 80.0 <= s["duration_s"] <= 87.0  # 85.8 s of ECG
        # 86 s: enough for the 64-s coherence and HF, LF only just (reference-data.md: too short
        # for a resonance assessment) — the numbers are there, not judged
        assert s["coherence"] is not None

    def test_truncated_to_40_percent_analyses_what_is_there(
        self,
        specthr_xdf: Path,
        specthr_full_summary: dict[str, Any],
        tmp_path: Path,
    ) -> None:
        # What happens (decided by running it): pyxdf reads the complete chunks before the cut,
        # so the first ≈ 34 s of ECG and ACC are analysed cleanly — exit 0, nothing on stderr.
        path = _truncated_copy(specthr_xdf, 0.40, tmp_path / "sub001_first40pct.xdf")
        code, report, err = _analyze_subprocess(path)
        assert "Traceback" not in err
        assert code == 0, err
        assert err == ""
        assert report is not None
        s = report["summary"]
        assert 30 <= s["n_beats"] < specthr_full_summary["n_beats"]
        assert 25.0 <= s["duration_s"] < 60.0
        assert abs(s["mean_hr_bpm"] - specthr_full_summary["mean_hr_bpm"]) <= 3.0
        assert s["lf_ms2"] is None  # under the 60-s minimum of the spectra: null, not NaN

    def test_truncated_to_3_percent_is_too_short_exit_2_one_line(
        self, specthr_xdf: Path, tmp_path: Path
    ) -> None:
        path = _truncated_copy(specthr_xdf, 0.03, tmp_path / "sub001_first3pct.xdf")
        code, report, err = _analyze_subprocess(path)
        assert code == 2
        assert report is None
        assert "Traceback" not in err
        lines = err.strip("\n").splitlines()
        assert len(lines) == 1, lines
        assert str(path) in lines[0]
        assert "too short" in lines[0]
