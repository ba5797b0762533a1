"""An ECG-only XDF file played as a source has its beats (issue #9).

``analyze`` finds R peaks in an XDF's ECG; ``replay``, ``record --source`` and ``session
--source`` of the same file showed 0 beats. They now play the intervals between the same R
peaks as `RRIntervals`, as an H10 sends them beside its ECG.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from pet_biofeedback.events import EcgFrame, RRIntervals
from pet_biofeedback.recording import read_recording
from pet_biofeedback.session.analysis import analyze_file, report_dict
from pet_biofeedback.session.importers import xdf_events
from pet_biofeedback.session.sources import open_source
from pet_biofeedback.signal.batch import AnalysisSettings
from tests.unit.session.test_analysis_files import _spiky_ecg
from tests.unit.session.test_sources import play_all, write_xdf
from tests.unit.test_cli import run

RR_S = 0.8


@pytest.fixture
def ecg_only(tmp_path: Path) -> Path:
    t, ecg = _spiky_ecg(60.0, 130.0, RR_S)
    return write_xdf(
        tmp_path / "ecg.xdf", [("ECG", "ECG", 130, (100.0 + t).tolist(), ecg[:, None].tolist())]
    )


def _analyzed_beats(path: Path) -> int:
    n: int = report_dict(analyze_file(path, AnalysisSettings()))["settings"]["input_beats"]
    return n


async def test_source_plays_the_intervals_between_r_peaks(ecg_only: Path) -> None:
    played = await play_all(open_source(str(ecg_only), speed=math.inf))
    rr_ms = np.array([v for e in played if isinstance(e, RRIntervals) for v in e.rr_ms])
    assert rr_ms.size == _analyzed_beats(ecg_only)
    assert_allclose(rr_ms, 1000.0 * RR_S, atol=1000.0 / 130.0)
    assert any(isinstance(e, EcgFrame) for e in played)
    # Each interval is played at (or after) the time of the beat that ends it, once a second.
    beat_events = [e for e in played if isinstance(e, RRIntervals)]
    assert all(0 < len(e.rr_ms) <= 2 for e in beat_events)


def test_batch_readers_get_no_invented_events(ecg_only: Path) -> None:
    assert not any(isinstance(e, RRIntervals) for e in xdf_events(ecg_only))


def test_replay_shows_the_beats(ecg_only: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Regression (#9): "Replayed …: 0 beats".
    code, out, err = run(["replay", "--headless", "--speed", "max", str(ecg_only)], capsys)
    assert code == 0, err
    assert f"{_analyzed_beats(ecg_only)} beats" in out


def test_session_from_an_ecg_only_xdf_records_its_beats(
    ecg_only: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_path = tmp_path / "s.jsonl.gz"
    argv = ["session", "--source", str(ecg_only), "--speed", "max", "--out", str(out_path)]
    ratings = ["--pain-before", "1", "--pain-after", "1", "--mood-before", "1"]
    code, _, err = run([*argv, *ratings, "--mood-after", "1"], capsys)
    assert code == 0, err
    events = read_recording(out_path).events
    n = sum(len(e.rr_ms) for e in events if isinstance(e, RRIntervals))
    assert n == _analyzed_beats(ecg_only)


@pytest.fixture
def ecg_with_gap(tmp_path: Path) -> Path:
    """Two minutes of ECG at 130 Hz, RR 0.8 s, with 30 s missing after the first minute."""
    t, ecg = _spiky_ecg(120.0, 130.0, RR_S)
    keep = (t < 60.0) | (t >= 90.0)
    return write_xdf(
        tmp_path / "gap.xdf",
        [("ECG", "ECG", 130, (100.0 + t[keep]).tolist(), ecg[keep][:, None].tolist())],
    )


def test_a_gap_in_the_ecg_stream_is_a_gap_not_slower_beats(ecg_with_gap: Path) -> None:
    # Regression (#9 follow-up): the sampling rate was measured over the whole span, gap
    # included (90 s for 120 s of stamps: "97.5 Hz"), which stretched every interval by a
    # third, and the peaks were found as if the samples were contiguous.
    result = analyze_file(ecg_with_gap, AnalysisSettings())
    report = report_dict(result)
    assert report["settings"]["ecg_fs_hz"] == pytest.approx(130.0, rel=1e-6)
    assert report["summary"]["mean_rr_ms"] == pytest.approx(1000.0 * RR_S, abs=2.0)
    assert report["settings"]["gaps"] == 1
    assert 29.0 < report["settings"]["gap_s"] < 31.0
    assert any("gap" in note for note in report["settings"]["notes"])


async def test_a_gap_in_the_ecg_stream_plays_as_a_gap(ecg_with_gap: Path) -> None:
    from pet_biofeedback.events import Gap

    played = await play_all(open_source(str(ecg_with_gap), speed=math.inf))
    gaps = [e for e in played if isinstance(e, Gap)]
    assert len(gaps) == 1 and 29.0 < gaps[0].seconds < 31.0
    assert 89.0 < gaps[0].t < 92.0
    rr_ms = np.array([v for e in played if isinstance(e, RRIntervals) for v in e.rr_ms])
    assert_allclose(rr_ms, 1000.0 * RR_S, atol=1000.0 / 130.0)  # none spans the gap
    assert rr_ms.size == _analyzed_beats(ecg_with_gap)
