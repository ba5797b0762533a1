"""The transport bar alone: intents out, the handle follows playback unless it is held."""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from pet_biofeedback.gui.replay_controls import ReplayControls, clock_text


@pytest.fixture
def controls(qtbot: QtBot) -> ReplayControls:
    bar = ReplayControls()
    qtbot.addWidget(bar)
    bar.resize(900, 50)
    bar.set_duration(240.0)
    bar.show()
    return bar


def test_keys_on_the_timeline_jump(controls: ReplayControls, qtbot: QtBot) -> None:
    controls.set_position(60.0)
    controls.slider.setFocus()
    with qtbot.waitSignal(controls.seek_requested) as jump:
        qtbot.keyClick(controls.slider, Qt.Key.Key_Right)
    assert jump.args == [pytest.approx(65.0)]
    with qtbot.waitSignal(controls.seek_requested) as jump:
        qtbot.keyClick(controls.slider, Qt.Key.Key_End)
    assert jump.args == [pytest.approx(240.0)]


def test_a_held_handle_ignores_playback_and_jumps_when_let_go(
    controls: ReplayControls, qtbot: QtBot
) -> None:
    slider = controls.slider
    slider.setSliderDown(True)
    slider.setSliderPosition(1800)  # 180 s, in tenths
    controls.set_position(10.0)  # playback goes on meanwhile
    assert slider.value() == 1800
    with qtbot.waitSignal(controls.seek_requested) as jump:
        slider.setSliderDown(False)
    assert jump.args == [pytest.approx(180.0)]


def test_buttons_are_intents(controls: ReplayControls, qtbot: QtBot) -> None:
    with qtbot.waitSignal(controls.play_requested):
        qtbot.mouseClick(controls.play_button, Qt.MouseButton.LeftButton)
    controls.set_playing(True)
    assert controls.play_button.text() == "Pause"
    with qtbot.waitSignal(controls.pause_requested):
        qtbot.mouseClick(controls.play_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(controls.speed_requested) as speed:
        qtbot.mouseClick(controls.speed_buttons[math.inf], Qt.MouseButton.LeftButton)
    assert speed.args == [math.inf]


def test_clock_text() -> None:
    assert clock_text(0.0) == "0:00"
    assert clock_text(59.9) == "0:59"
    assert clock_text(3725.0) == "1:02:05"
