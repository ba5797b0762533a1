"""The replay page offscreen: play, pause, speed, a jump to the middle, a corrupt file."""

from __future__ import annotations

import asyncio
import math
import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from pet_biofeedback.gui.replay_view import ReplayView, save_replay_screenshot
from pet_biofeedback.paths import data_dir
from tests.gui.qasync_helpers import run_in_qt, wait_until
from tests.unit.session.replay_helpers import record_practice

MINUTES = 4.0


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("replay") / "practice.jsonl.gz"
    return asyncio.run(record_practice(path, minutes=MINUTES, breaths_per_min=6.0))


def make_view(qtbot: QtBot, path: Path, *, speed: float = 1.0) -> ReplayView:
    view = ReplayView(path, profile="default", speed=speed)
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.show()
    return view


def heart_x_range(view: ReplayView) -> tuple[float, float]:
    low, high = view.panel.heart.getPlotItem().getViewBox().viewRange()[0]
    return float(low), float(high)


def test_replay_with_seek_pause_and_speed(
    qtbot: QtBot, practice: Path, artifacts_dir: Path
) -> None:
    view = make_view(qtbot, practice, speed=math.inf)
    before = sorted(data_dir().rglob("*"))

    async def scenario() -> None:
        view.controller.pause()  # start paused, as if the person clicked Pause at once
        task = view.start()
        await wait_until(view.controls.isEnabled)
        info = view.controller.info
        assert info is not None and view.time_text.endswith(f"/ {int(MINUTES)}:00")
        # the person drags the timeline handle to the middle and lets go
        slider = view.controls.slider
        slider.setSliderDown(True)
        slider.setSliderPosition(slider.maximum() // 2)
        slider.setSliderDown(False)
        target_s = info.t_first_s + info.duration_s / 2
        await wait_until(lambda: abs(heart_x_range(view)[1] - target_s) < 1.0)
        # the curve shows the later part, with the minute and a half before the jump
        assert heart_x_range(view)[0] == pytest.approx(target_s - 90.0, abs=1.0)
        assert view.time_text.startswith("2:0") or view.time_text.startswith("1:59")
        assert view.controller.n_snapshots_shown == 0  # paused: nothing played yet

        # pause stops the events
        n = view.controller.n_snapshots_shown
        await asyncio.sleep(0.5)
        assert view.controller.n_snapshots_shown == n

        # ×16, then Play: the position moves about 16 s per second
        qtbot.mouseClick(view.controls.speed_buttons[16.0], Qt.MouseButton.LeftButton)
        assert view.controller.speed == 16.0
        assert view.controls.speed_buttons[16.0].isChecked()
        start_s = view.controller.position_s()
        qtbot.mouseClick(view.controls.play_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: view.controls.play_button.text() == "Pause")
        await asyncio.sleep(1.0)
        moved_s = view.controller.position_s() - start_s
        assert 5.0 < moved_s < 20.0
        assert view.controller.n_snapshots_shown > n
        assert view.panel.cards.hr.value.text().endswith("bpm")
        assert view.panel.pacer.state is not None  # the recorded pacer is shown
        view.grab().save(str(artifacts_dir / "replay-test.png"))

        # Pause again (the space bar), then max to the end
        qtbot.keyClick(view, Qt.Key.Key_Space)
        await wait_until(lambda: view.controller.paused)
        await asyncio.sleep(0.2)
        n = view.controller.n_snapshots_shown
        await asyncio.sleep(0.5)
        assert view.controller.n_snapshots_shown == n
        qtbot.mouseClick(view.controls.speed_buttons[math.inf], Qt.MouseButton.LeftButton)
        qtbot.mouseClick(view.controls.play_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: view.controller.state == "ended")
        assert view.time_text == f"{int(MINUTES)}:00 / {int(MINUTES)}:00"
        assert "end of the file" in view.state_label.text()

        with qtbot.waitSignal(view.close_requested):
            qtbot.mouseClick(view.close_button, Qt.MouseButton.LeftButton)
        await task

    run_in_qt(scenario)
    assert not view.frame_timer.isActive()
    assert sorted(data_dir().rglob("*")) == before  # read-only: no recording, no history


@pytest.mark.parametrize(
    ("name", "content"),
    [("broken.jsonl.gz", os.urandom(3000)), ("beats.txt", b"900\n910\n-3\n")],
)
def test_a_corrupt_file_gives_its_message_and_the_app_goes_on(
    qtbot: QtBot, tmp_path: Path, practice: Path, name: str, content: bytes
) -> None:
    bad = tmp_path / name
    bad.write_bytes(content)
    view = make_view(qtbot, bad)

    async def scenario() -> None:
        await view.start()
        assert view.message.isVisible()
        assert view.controller.error is not None
        assert view.controller.error.user_message in view.message.text()
        assert name in view.message.text()
        assert not view.controls.isEnabled()
        # the app goes on: another file replays in the same process
        good = make_view(qtbot, practice, speed=math.inf)
        task = good.start()
        await wait_until(lambda: good.controller.state == "ended")
        good.stop()
        await task

    run_in_qt(scenario)


def test_screenshot_function(tmp_path: Path, practice: Path, qtbot: QtBot) -> None:
    out = save_replay_screenshot(practice, tmp_path / "replay.png", play_s=0.2)
    assert out.stat().st_size > 10_000


def test_the_page_can_be_dropped_right_after_close(qtbot: QtBot, practice: Path) -> None:
    """The main window drops the page on close_requested and deletes it once the replay has
    wound down (as `gui.app.Shell` does)."""
    window = QWidget()  # the main window that holds the page
    qtbot.addWidget(window)
    view = ReplayView(practice, profile="default", parent=window)
    window.show()

    async def scenario() -> None:
        task = view.start()
        await wait_until(lambda: view.controller.n_snapshots_shown > 0)
        view.close_requested.connect(lambda: task.add_done_callback(lambda _: view.deleteLater()))
        view.close_button.click()
        await task  # must not touch the deleted widgets
        await wait_until(lambda: window.findChild(ReplayView) is None)

    run_in_qt(scenario)
