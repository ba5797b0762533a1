"""A baseline session through the app: no guide (the pacer says "Breathe freely"), a summary."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from pet_biofeedback.gui.app import GuiOptions, Shell
from pet_biofeedback.recording import read_recording
from pet_biofeedback.session.strap_scan import StrapListing
from tests.gui.conftest import until

Run = Callable[[Coroutine[Any, Any, Any]], Any]
LEFT = Qt.MouseButton.LeftButton


async def no_straps() -> Sequence[StrapListing]:
    return []


def test_baseline_on_the_simulated_strap(
    qtbot: QtBot, run_qt: Run, tmp_path: Path, artifacts_dir: Path
) -> None:
    recording = tmp_path / "baseline.jsonl.gz"
    shell = Shell(GuiOptions(speed=math.inf, recording=recording), scan=no_straps)
    qtbot.addWidget(shell.window)
    flow = shell.flow
    seen: dict[str, object] = {}

    async def drive() -> int:
        app = asyncio.ensure_future(shell.run())
        await until(lambda: shell.picker.scan_button.isEnabled())
        qtbot.mouseClick(shell.picker.simulated_button, LEFT)
        assert "normal breathing" in shell.choice.descriptions["baseline"].text()
        qtbot.mouseClick(shell.choice.buttons["baseline"], LEFT)
        await until(lambda: shell.window.current_page() is flow.before)
        qtbot.mouseClick(flow.before.groups["pain_before"].button(5), LEFT)
        qtbot.mouseClick(flow.before.continue_button, LEFT)
        await until(
            lambda: (
                flow.live is not None
                and flow.live.engine is not None
                and flow.live.engine.elapsed_s > 60.0
            )
        )
        live = flow.live
        assert live is not None and live.engine is not None
        page = live.page
        seen["pacer_state"] = page.pacer.state
        seen["engine_pacer"] = live.engine.pacer
        seen["title"] = page.windowTitle()
        shell.window.grab().save(str(artifacts_dir / "baseline-session.png"))
        await until(lambda: shell.window.current_page() is flow.after)
        qtbot.mouseClick(flow.after.skip_button, LEFT)
        await until(lambda: shell.window.current_page() is flow.summary)
        seen["heading"] = flow.summary.heading.text()
        shell.window.close()
        return await app

    assert run_qt(drive()) == 0
    assert seen["pacer_state"] is None and seen["engine_pacer"] is None  # no guide to follow
    assert "baseline, free breathing" in str(seen["title"])
    assert seen["heading"] == "Baseline finished"
    rec = read_recording(recording)
    assert rec.header.settings.get("protocol") == "baseline"
    assert flow.outcome is not None and flow.outcome.protocol["name"] == "baseline"
