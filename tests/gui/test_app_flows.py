"""Whole flows of the app offscreen, at high speed: practice, assessment, a damaged file."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl
from PySide6.QtWidgets import QApplication, QLabel, QToolBar, QToolButton
from pytestqt.qtbot import QtBot

from pet_biofeedback.events import Rating
from pet_biofeedback.gui.app import GuiOptions, Shell
from pet_biofeedback.recording import read_recording
from pet_biofeedback.session.assessment import AssessmentSettings
from pet_biofeedback.session.history import HistoryStore
from pet_biofeedback.session.preferences import last_device, practice_rate
from pet_biofeedback.session.run import SessionOutcome
from pet_biofeedback.session.strap_scan import StrapListing
from tests.gui.conftest import until

Run = Callable[[Coroutine[Any, Any, Any]], Any]
LEFT = Qt.MouseButton.LeftButton


async def no_straps() -> Sequence[StrapListing]:
    return []


def _clipped_labels(root: Any) -> list[str]:
    """Texts of visible one-line labels narrower than their text (a person would see it cut)."""
    cut = []
    for label in root.findChildren(QLabel):
        if label.isVisible() and not label.wordWrap() and label.text():
            if label.width() < label.fontMetrics().horizontalAdvance(label.text()) - 1:
                cut.append(label.text())
    return cut


def test_practice_on_the_simulated_strap_with_ratings(
    qtbot: QtBot, run_qt: Run, tmp_path: Path, artifacts_dir: Path
) -> None:
    opened: list[QUrl] = []

    def open_url(url: QUrl) -> bool:
        opened.append(url)
        return True

    shell = Shell(
        GuiOptions(speed=math.inf, minutes=2.0),  # recorded into the data folder
        scan=no_straps,
        open_url=open_url,
    )
    qtbot.addWidget(shell.window)
    flow = shell.flow

    async def drive() -> int:
        app = asyncio.ensure_future(shell.run())
        await until(lambda: shell.window.current_page() is shell.picker)
        await until(lambda: shell.picker.scan_button.isEnabled())
        qtbot.mouseClick(shell.picker.simulated_button, LEFT)
        assert shell.window.current_page() is shell.choice
        qtbot.mouseClick(shell.choice.buttons["practice"], LEFT)
        await until(lambda: shell.window.current_page() is flow.before)
        qtbot.mouseClick(flow.before.groups["pain_before"].button(6), LEFT)
        qtbot.mouseClick(flow.before.groups["mood_before"].button(4), LEFT)
        shell.window.grab().save(str(artifacts_dir / "flow-ratings.png"))
        assert not _clipped_labels(flow.before)
        qtbot.mouseClick(flow.before.continue_button, LEFT)
        await until(lambda: shell.window.current_page() is flow.after)  # 2 min at max speed
        qtbot.mouseClick(flow.after.groups["pain_after"].button(3), LEFT)
        qtbot.mouseClick(flow.after.groups["mood_after"].button(7), LEFT)
        qtbot.mouseClick(flow.after.continue_button, LEFT)
        await until(lambda: shell.window.current_page() is flow.summary)
        shell.window.grab().save(str(artifacts_dir / "summary.png"))
        summary_rows.extend(flow.summary.practice_rows)
        summary_ratings.append(flow.summary.ratings.text())
        assert not _clipped_labels(flow.summary)
        qtbot.mouseClick(flow.summary.report_button, LEFT)
        await until(lambda: flow.report_task is not None and flow.report_task.done())
        qtbot.mouseClick(flow.summary.done_button, LEFT)
        assert shell.window.current_page() is shell.picker
        first.append(flow.outcome)
        reports.append(flow.report)
        pages = shell.window.stack.count()
        assert flow.outcome is not None
        # a second session (on the first one's file) replaces the first page
        shell.start("practice", spec=str(flow.outcome.recording), ask_before=False)
        await until(lambda: shell.window.current_page() is flow.after)
        qtbot.mouseClick(flow.after.skip_button, LEFT)
        await until(lambda: shell.window.current_page() is flow.summary)
        assert shell.window.stack.count() == pages
        shell.window.history_action.trigger()  # View → History: the sessions just made
        history = shell.history
        assert history is not None and shell.window.current_page() is history
        assert history.note.text() == "Reading your sessions…"  # in a worker thread
        assert history.load_task is not None
        await history.load_task
        assert len(history.sessions) == 2
        history.table.selectRow(len(history.sessions) - 1)  # the oldest: the first session
        qtbot.mouseClick(history.replay_button, LEFT)
        replay = shell.replay
        assert replay is not None and shell.window.current_page() is replay
        await until(lambda: replay.controller.state in ("playing", "ended"))
        qtbot.mouseClick(replay.close_button, LEFT)
        assert shell.window.current_page() is shell.picker and shell.replay is None
        shell.window.close()
        return await app

    first: list[SessionOutcome | None] = []
    summary_rows: list[tuple[str, str]] = []
    summary_ratings: list[str] = []
    reports: list[Path | None] = []
    assert run_qt(drive()) == 0
    outcome = first[0]
    assert outcome is not None and not outcome.stopped_early
    recording = outcome.recording
    ratings = {e.kind: e.value for e in read_recording(recording).events if isinstance(e, Rating)}
    assert ratings == {"pain_before": 6, "mood_before": 4, "pain_after": 3, "mood_after": 7}
    with HistoryStore() as store:
        row, _replayed = store.sessions("default")  # oldest first
    assert (row.pain_before, row.mood_before, row.pain_after, row.mood_after) == (6, 4, 3, 7)
    assert row.protocol == "practice"
    assert summary_rows[0] == ("Practice sessions", "1 (2 min in all)")
    assert summary_ratings[0] == "Before → after: pain 6 → 3, mood 4 → 7"
    report = reports[0]
    assert report is not None and report.is_file()
    assert opened == [QUrl.fromLocalFile(str(report))]
    assert last_device("default") == "sim"


def test_stopping_early_keeps_everything_and_still_asks(
    qtbot: QtBot, run_qt: Run, tmp_path: Path
) -> None:
    recording = tmp_path / "early.jsonl.gz"
    shell = Shell(
        GuiOptions(source="sim:seed=3", speed=30.0, minutes=10.0, recording=recording),
        scan=no_straps,
    )
    qtbot.addWidget(shell.window)
    flow = shell.flow

    async def drive() -> int:
        app = asyncio.ensure_future(shell.run())
        await until(
            lambda: (
                flow.live is not None
                and flow.live.engine is not None
                and flow.live.engine.elapsed_s > 20.0
            )
        )
        assert flow.live is not None
        # one toolbar: the shell's, holding the page's "Stop session" while it is shown
        bars = [b for b in shell.window.findChildren(QToolBar) if b.isVisible()]
        assert bars == [shell.window.toolbar]
        texts = [a.text() for a in shell.window.toolbar.actions()]
        assert "Stop session" in texts
        stop_button = shell.window.toolbar.widgetForAction(flow.live.page.stop_action)
        assert isinstance(stop_button, QToolButton)
        stop_button.click()
        await until(lambda: shell.window.current_page() is flow.after)
        assert "Stop session" not in [a.text() for a in shell.window.toolbar.actions()]
        qtbot.mouseClick(flow.after.skip_button, LEFT)  # skipping is allowed
        await until(lambda: shell.window.current_page() is flow.summary)
        assert "stopped early" in flow.summary.heading.text()
        shell.window.close()
        return await app

    assert run_qt(drive()) == 0
    events = list(read_recording(recording).events)
    assert not any(isinstance(e, Rating) for e in events)
    assert flow.outcome is not None and flow.outcome.stopped_early
    assert events[-1].t > 20.0


def test_resonance_assessment_flow_recommends_a_rate(
    qtbot: QtBot, run_qt: Run, tmp_path: Path
) -> None:
    recording = tmp_path / "assessment.jsonl.gz"
    # The smallest plan the engine accepts (5 min): two rates, 2.5 min each, no rest.
    short = AssessmentSettings(rates_breaths_per_min=(6.0, 5.0), block_s=150.0, rest_s=0.0)
    shell = Shell(GuiOptions(speed=math.inf, recording=recording, assessment=short), scan=no_straps)
    qtbot.addWidget(shell.window)
    flow = shell.flow

    async def drive() -> int:
        app = asyncio.ensure_future(shell.run())
        await until(lambda: shell.picker.scan_button.isEnabled())
        qtbot.mouseClick(shell.picker.simulated_button, LEFT)
        qtbot.mouseClick(shell.choice.buttons["assessment"], LEFT)
        await until(lambda: shell.window.current_page() is flow.before)
        qtbot.mouseClick(flow.before.skip_button, LEFT)
        await until(lambda: shell.window.current_page() is flow.after, timeout_s=90.0)
        qtbot.mouseClick(flow.after.skip_button, LEFT)
        await until(lambda: shell.window.current_page() is flow.summary, timeout_s=60.0)
        shell.window.close()
        return await app

    assert run_qt(drive()) == 0
    text = flow.summary.result.text()
    assert text.startswith("Recommended: ") and "practice rate" in text
    assert practice_rate("default") in (5.0, 6.0)
    assert flow.outcome is not None and flow.outcome.protocol["name"] == "assessment"


def test_a_damaged_file_from_the_menu_gives_a_clear_message_and_the_app_goes_on(
    qtbot: QtBot, run_qt: Run, tmp_path: Path
) -> None:
    damaged = tmp_path / "damaged.jsonl.gz"
    damaged.write_bytes(b"\x1f\x8b" + b"\x00garbage" * 20)
    shell = Shell(
        GuiOptions(speed=math.inf, recording=tmp_path / "out.jsonl.gz"),
        scan=no_straps,
        choose_file=lambda _parent: damaged,
    )
    qtbot.addWidget(shell.window)

    async def drive() -> int:
        app = asyncio.ensure_future(shell.run())
        await until(lambda: shell.window.current_page() is shell.picker)
        await until(lambda: shell.picker.scan_button.isEnabled())
        with qtbot.waitSignal(shell.window.open_recording_requested) as asked:
            shell.window.open_action.trigger()
        assert asked.args == [damaged]
        page = shell.replay
        assert page is not None and shell.window.current_page() is page
        await until(lambda: page.message.isVisible())
        text = page.message.text()
        assert "damaged.jsonl.gz" in text and "damaged" in text
        assert "Traceback" not in text and "Error" not in text
        qtbot.mouseClick(page.close_button, LEFT)
        assert shell.window.isVisible()  # still running: back at the start, the simulated
        assert shell.window.current_page() is shell.picker  # strap still works
        qtbot.mouseClick(shell.picker.simulated_button, LEFT)
        assert shell.window.current_page() is shell.choice
        shell.window.close()
        return await app

    assert run_qt(drive()) == 0
    assert QApplication.instance() is not None
