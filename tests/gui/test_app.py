"""The whole app offscreen: a short practice session on the simulated strap, recorded."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from pet_biofeedback.events import PacerPhase, RRIntervals
from pet_biofeedback.gui.app import GuiOptions, run_app
from pet_biofeedback.recording import read_recording
from pet_biofeedback.session.pacer import PacerSettings


def test_practice_session_on_the_simulated_strap_is_shown_and_recorded(
    qtbot: QtBot, tmp_path: Path, artifacts_dir: Path
) -> None:
    shot = artifacts_dir / "session-test.png"
    recording = tmp_path / "gui.jsonl.gz"
    code = run_app(
        GuiOptions(
            source="sim:seed=2,resonance=6",
            speed=20.0,
            minutes=2,
            pacer=PacerSettings(breaths_per_min=6.0),
            recording=recording,
            screenshot=shot,
            exit_after_s=4.0,
        )
    )
    assert code == 0
    assert shot.is_file() and shot.stat().st_size > 10_000
    events = list(read_recording(recording).events)
    assert any(isinstance(e, PacerPhase) and e.breaths_per_min == 6.0 for e in events)
    assert sum(len(e.rr_ms) for e in events if isinstance(e, RRIntervals)) > 30
