"""`analyze` computes the 24-h coherence series once (issue 9, speed of the 24-h command).

`analyze_rr` computes the 5-s coherence series for the coherence column; the breathing
estimate from the heart rhythm (`session.analysis`) needs the same series. Before the fix it
was computed twice for every RR file (≈ 0.08 s of the 24-h command).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pet_biofeedback.session import analysis
from pet_biofeedback.signal import spectral
from pet_biofeedback.signal.batch import AnalysisSettings, CoherenceRun, analyze_rr

SETTINGS = AnalysisSettings(window_s=120.0, step_s=60.0)


def _rr_ms(n: int = 1200, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t_s = np.arange(n) * 0.85
    rr_ms: np.ndarray = 850.0 + 50.0 * np.sin(2 * np.pi * 0.1 * t_s) + 10.0 * rng.standard_normal(n)
    return rr_ms


def _count_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = spectral.coherence_series

    def counting(*args: Any, **kwargs: Any) -> spectral.CoherenceWindows:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(spectral, "coherence_series", counting)
    return calls


def test_rr_file_computes_the_coherence_series_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "rr.txt"
    path.write_text("\n".join(f"{v:.0f}" for v in _rr_ms()) + "\n", encoding="utf-8")
    calls = _count_calls(monkeypatch)
    found = analysis.analyze_file(path, SETTINGS)
    assert len(calls) == 1
    assert found.details["breathing_source"] == analysis.BREATHING_FROM_RR
    # The reused series gives exactly what a fresh computation gives.
    fresh = analysis._with_breathing_from_rr(dataclasses.replace(found.analysis, coherence=None))
    assert len(calls) == 2
    for table in ("summary", "windows"):
        np.testing.assert_array_equal(
            getattr(fresh, table).breathing_rate_breaths_per_min,
            getattr(found.analysis, table).breathing_rate_breaths_per_min,
        )


def test_a_series_on_another_axis_is_not_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    result = analyze_rr(_rr_ms(), SETTINGS)
    assert result.coherence is not None
    shifted = CoherenceRun(
        series=result.coherence.series,
        breaks=result.coherence.breaks,
        t_beat_s=result.coherence.t_beat_s + 1.0,
    )
    calls = _count_calls(monkeypatch)
    again = analysis._with_breathing_from_rr(dataclasses.replace(result, coherence=shifted))
    assert len(calls) == 1
    reused = analysis._with_breathing_from_rr(result)
    assert len(calls) == 1
    np.testing.assert_array_equal(
        again.windows.breathing_rate_breaths_per_min,
        reused.windows.breathing_rate_breaths_per_min,
    )
