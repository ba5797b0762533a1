"""The shell: the page contract, settings saved per profile, presentation mode over a session."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractSpinBox, QCheckBox, QComboBox, QLabel, QWidget
from pytestqt.qtbot import QtBot

from pet_biofeedback.gui.app import GuiOptions, Shell
from pet_biofeedback.gui.look import COLOUR_BLIND
from pet_biofeedback.gui.main_window import MainWindow
from pet_biofeedback.session.preferences import CoachSettings, coach_settings
from pet_biofeedback.session.strap_scan import StrapListing
from tests.gui.conftest import until

Run = Callable[[Coroutine[Any, Any, Any]], Any]


async def no_straps() -> Sequence[StrapListing]:
    return []


def test_show_page_adds_once_and_makes_current(qtbot: QtBot) -> None:
    window = MainWindow(choose_file=lambda _parent: Path("/tmp/x.jsonl"))
    qtbot.addWidget(window)
    first, second = QLabel("one"), QLabel("two")
    window.show_page(first)
    window.show_page(second)
    window.show_page(first)
    assert window.stack.count() == 2 and window.current_page() is first
    with qtbot.waitSignal(window.open_recording_requested) as asked:
        window.open_action.trigger()
    assert asked.args == [Path("/tmp/x.jsonl")]
    assert window.open_action.shortcut().toString() == "Ctrl+O"
    assert window.present_action.shortcut().toString() == "F11"


def test_settings_are_keyboard_operable_and_saved_per_profile(qtbot: QtBot) -> None:
    shell = Shell(GuiOptions(profile="ann"), scan=no_straps)
    qtbot.addWidget(shell.window)
    dialog = shell.edit_settings()
    fields: list[QWidget] = [
        dialog.rate,
        dialog.ratio,
        dialog.hold_in,
        dialog.hold_out,
        dialog.shape,
        dialog.minutes,
        dialog.difficulty,
        dialog.colour_blind,
        dialog.large_text,
    ]
    for field in fields:
        assert field.focusPolicy() & Qt.FocusPolicy.TabFocus, field
        assert isinstance(field, QAbstractSpinBox | QComboBox | QCheckBox)
    for _ in range(5):
        qtbot.keyClick(dialog.rate, Qt.Key.Key_Down)  # 6.0 → 5.5 breaths/min
    qtbot.keyClick(dialog.shape, Qt.Key.Key_Down)  # smooth → even speed
    dialog.minutes.setValue(15)
    qtbot.keyClick(dialog.difficulty, Qt.Key.Key_Up)  # standard → easier
    dialog.colour_blind.setFocus()
    qtbot.keyClick(dialog.colour_blind, Qt.Key.Key_Space)
    dialog.large_text.setFocus()
    qtbot.keyClick(dialog.large_text, Qt.Key.Key_Space)
    assert "font-size: 20pt" in shell.picker.styleSheet()
    with qtbot.waitSignal(dialog.accepted):
        qtbot.keyClick(dialog, Qt.Key.Key_Return)
    saved = coach_settings("ann")
    assert saved == CoachSettings(
        breaths_per_min=5.5,
        shape="linear",
        minutes=15.0,
        difficulty="easier",
        colour_blind_palette=True,
        large_text=True,
    )
    assert "font-size: 26pt" in shell.picker.styleSheet()  # every page, at once
    assert "font-size: 26pt" in shell.flow.summary.styleSheet()
    assert coach_settings("bob") == CoachSettings()
    plan, _ = shell.flow.plan("practice", shell.settings())
    assert plan.minutes == 15.0 and plan.pacer is not None
    assert plan.pacer.breaths_per_min == 5.5 and plan.pacer.shape == "linear"


def test_settings_the_pacer_refuses_are_explained_not_saved(qtbot: QtBot) -> None:
    shell = Shell(GuiOptions(profile="ann"), scan=no_straps)
    qtbot.addWidget(shell.window)
    dialog = shell.edit_settings()
    dialog.rate.setValue(10.0)  # 6 s per breath …
    dialog.hold_in.setValue(10.0)  # … cannot hold 10 s
    dialog.hold_out.setValue(10.0)
    dialog.buttons.accepted.emit()
    assert dialog.isVisible() and dialog.problem.text()
    assert coach_settings("ann") == CoachSettings()


def test_presentation_mode_over_a_running_session(qtbot: QtBot, run_qt: Run) -> None:
    from pet_biofeedback.session.preferences import remember_coach_settings

    remember_coach_settings("default", CoachSettings(colour_blind_palette=True, large_text=True))
    shell = Shell(GuiOptions(source="sim:seed=4", speed=5.0, minutes=2.0), scan=no_straps)
    qtbot.addWidget(shell.window)
    window = shell.window

    async def drive() -> None:
        app = asyncio.ensure_future(shell.run())
        await until(lambda: shell.flow.live is not None)
        live = shell.flow.live
        assert live is not None and window.current_page() is live.page
        assert live.page.cards._colours["high"] == COLOUR_BLIND.high  # the settings' palette
        assert live.page.pacer.text_scale > 1.0  # large text
        window.present_action.trigger()
        assert window.presenting and live.page.presenting
        assert not window.menuBar().isVisible() and not live.page.cards.isVisible()
        qtbot.keyClick(live.page, Qt.Key.Key_Escape)  # leaves it, the shell follows
        assert not live.page.presenting and not window.presenting
        # F11 toggles both ways, also with the menu bar (which holds the action) hidden
        window.activateWindow()
        qtbot.keyClick(live.page, Qt.Key.Key_F11)
        assert window.presenting and live.page.presenting
        qtbot.keyClick(live.page, Qt.Key.Key_F11)
        assert not window.presenting and not live.page.presenting
        assert window.menuBar().isVisible() and live.page.cards.isVisible()
        await until(lambda: live.task is not None)  # after "get ready": recording
        window.close()  # during the session: it stops and its recording closes
        await app

    run_qt(drive())
    assert shell.flow.outcome is not None and shell.flow.outcome.stopped_early
    assert shell.flow.outcome.recording.is_file()
