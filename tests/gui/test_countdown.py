"""The gentle start: "Get ready — starting in 3, 2, 1" before a session records; skippable."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from pet_biofeedback.gui.app import GuiOptions, Shell
from pet_biofeedback.gui.countdown import COUNTDOWN_S
from pet_biofeedback.session.strap_scan import StrapListing
from tests.gui.conftest import until

Run = Callable[[Coroutine[Any, Any, Any]], Any]
LEFT = Qt.MouseButton.LeftButton


async def no_straps() -> Sequence[StrapListing]:
    return []


def _shell(tmp_path: Path, speed: float, **options: Any) -> Shell:
    return Shell(
        GuiOptions(speed=speed, minutes=2.0, recording=tmp_path / "s.jsonl.gz", **options),
        scan=no_straps,
    )


async def _to_session_page(shell: Shell, qtbot: QtBot) -> None:
    old = shell.flow.live
    await until(lambda: shell.picker.scan_button.isEnabled())
    qtbot.mouseClick(shell.picker.simulated_button, LEFT)
    qtbot.mouseClick(shell.choice.buttons["practice"], LEFT)
    await until(lambda: shell.window.current_page() is shell.flow.before)
    qtbot.mouseClick(shell.flow.before.skip_button, LEFT)
    await until(lambda: shell.flow.live is not None and shell.flow.live is not old)


def test_the_countdown_counts_down_then_recording_starts(
    qtbot: QtBot, run_qt: Run, tmp_path: Path
) -> None:
    shell = _shell(tmp_path, 20.0)
    qtbot.addWidget(shell.window)
    texts: list[str] = []

    async def drive() -> float:
        app = asyncio.ensure_future(shell.run())
        await _to_session_page(shell, qtbot)
        live = shell.flow.live
        assert live is not None
        banner = live.page.countdown
        shown = time.monotonic()
        assert banner.isVisible() and live.task is None  # nothing recorded yet
        assert live.page.time_label.text() == "0:00 / 2:00 left"  # the length, from the start
        while live.task is None:
            if banner.text.text() not in texts:
                texts.append(banner.text.text())
            await asyncio.sleep(0.05)
        waited = time.monotonic() - shown
        assert not banner.isVisible()
        live.stop()
        await until(lambda: shell.window.current_page() is shell.flow.after)
        shell.window.close()
        await app
        return waited

    waited = run_qt(drive())
    assert texts == [f"Get ready — starting in {n}" for n in range(COUNTDOWN_S, 0, -1)]
    assert COUNTDOWN_S - 0.3 < waited < COUNTDOWN_S + 1.5


def test_start_now_skips_and_stop_cancels_before_anything_is_recorded(
    qtbot: QtBot, run_qt: Run, tmp_path: Path
) -> None:
    shell = _shell(tmp_path, 20.0)
    qtbot.addWidget(shell.window)

    async def drive() -> tuple[float, bool]:
        app = asyncio.ensure_future(shell.run())
        await _to_session_page(shell, qtbot)
        live = shell.flow.live
        assert live is not None
        live.page.stop_action.trigger()  # stopped during "get ready": back to the start
        await until(lambda: shell.window.current_page() is shell.picker)
        cancelled_recorded = (tmp_path / "s.jsonl.gz").exists()
        await _to_session_page(shell, qtbot)
        live = shell.flow.live
        assert live is not None
        clicked = time.monotonic()
        qtbot.mouseClick(live.page.countdown.start_button, LEFT)
        await until(lambda: live.task is not None)
        skipped_after = time.monotonic() - clicked
        live.stop()
        await until(lambda: shell.window.current_page() is shell.flow.after)
        shell.window.close()
        await app
        return skipped_after, cancelled_recorded

    skipped_after, cancelled_recorded = run_qt(drive())
    assert not cancelled_recorded
    assert skipped_after < 0.5
    assert (tmp_path / "s.jsonl.gz").exists()


def test_no_countdown_at_max_speed_or_unattended(qtbot: QtBot, run_qt: Run, tmp_path: Path) -> None:
    shells = [_shell(tmp_path, math.inf), _shell(tmp_path, 4.0, exit_after_s=5.0)]
    shells.append(_shell(tmp_path, 4.0))
    for shell in shells:
        qtbot.addWidget(shell.window)  # closed and deleted with the test, not by a later GC
    assert [s.flow.options.countdown_s for s in shells] == [0, 0, COUNTDOWN_S]
