"""The replay's transport bar: play/pause, ×1/×4/×16/max, a seekable timeline, the time.

Intents out only (`play_requested`, `pause_requested`, `speed_requested(float)`,
`seek_requested(float)` in s from the file's start); the page tells it the duration, the
position and whether it plays. While the person drags the timeline the position from playback
does not move the handle; the jump happens when it is let go (or on a click in the groove).
"""

from __future__ import annotations

import math
from typing import Final

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractSlider,
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QWidget,
)

from pet_biofeedback.session.replay_control import SPEEDS

__all__ = ["SLIDER_STEPS_PER_S", "ReplayControls", "clock_text", "speed_text"]

SLIDER_STEPS_PER_S: Final = 10  # the timeline moves in tenths of a second


def clock_text(seconds: float) -> str:
    """``m:ss`` (``h:mm:ss`` from an hour on) for people."""
    whole = int(max(seconds, 0.0))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def speed_text(speed: float) -> str:
    return "max" if math.isinf(speed) else f"×{speed:g}"


class ReplayControls(QWidget):
    """Play/pause, speed buttons, the timeline and elapsed / total time."""

    play_requested = Signal()
    pause_requested = Signal()
    speed_requested = Signal(float)  # 1.0, 4.0, 16.0 or math.inf
    seek_requested = Signal(float)  # s from the file's start

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._playing = False
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        self.play_button = QPushButton("Play")
        self.play_button.setObjectName("play")
        self.play_button.setAccessibleName("Play or pause")
        self.play_button.setMinimumWidth(90)
        self.play_button.clicked.connect(self._toggle)
        row.addWidget(self.play_button)

        self.speed_group = QButtonGroup(self)
        self.speed_group.setExclusive(True)
        self.speed_buttons: dict[float, QPushButton] = {}
        for speed in SPEEDS:
            button = QPushButton(speed_text(speed))
            button.setCheckable(True)
            button.setObjectName("speed")
            button.setAccessibleName(
                "As fast as possible" if math.isinf(speed) else f"{speed:g} times real time"
            )
            button.clicked.connect(lambda _=False, s=speed: self.speed_requested.emit(s))
            self.speed_group.addButton(button)
            self.speed_buttons[speed] = button
            row.addWidget(button)

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setAccessibleName("Timeline")
        self.slider.setRange(0, 0)
        self.slider.setPageStep(30 * SLIDER_STEPS_PER_S)
        self.slider.setSingleStep(5 * SLIDER_STEPS_PER_S)
        self.slider.sliderReleased.connect(self._seek_to_slider)
        self.slider.actionTriggered.connect(self._slider_action)
        row.addWidget(self.slider, stretch=1)

        self.time_label = QLabel("0:00 / 0:00")
        self.time_label.setObjectName("replayTime")
        self.time_label.setMinimumWidth(120)
        self.time_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        row.addWidget(self.time_label)
        self._duration_s = 0.0

    # ------------------------------------------------------------------ page → controls
    def set_duration(self, seconds: float) -> None:
        self._duration_s = max(seconds, 0.0)
        self.slider.setRange(0, round(self._duration_s * SLIDER_STEPS_PER_S))
        self._show_time(self.slider.value() / SLIDER_STEPS_PER_S)

    def set_position(self, seconds: float) -> None:
        """Where playback is (ignored while the person drags the handle)."""
        if self.slider.isSliderDown():
            return
        value = round(seconds * SLIDER_STEPS_PER_S)
        if value != self.slider.value():
            self.slider.setValue(value)
        self._show_time(seconds)

    def set_playing(self, playing: bool) -> None:
        self._playing = playing
        self.play_button.setText("Pause" if playing else "Play")

    def set_speed(self, speed: float) -> None:
        button = self.speed_buttons.get(speed)
        if button is not None:
            button.setChecked(True)

    # ------------------------------------------------------------------ internals
    def _toggle(self) -> None:
        if self._playing:
            self.pause_requested.emit()
        else:
            self.play_requested.emit()

    def _show_time(self, seconds: float) -> None:
        self.time_label.setText(f"{clock_text(seconds)} / {clock_text(self._duration_s)}")

    def _seek_to_slider(self) -> None:
        self.seek_requested.emit(self.slider.value() / SLIDER_STEPS_PER_S)

    def _slider_action(self, action: int) -> None:
        # clicks in the groove and arrow keys jump at once; a drag jumps when released
        if action != QAbstractSlider.SliderAction.SliderMove.value:
            self.seek_requested.emit(self.slider.sliderPosition() / SLIDER_STEPS_PER_S)
