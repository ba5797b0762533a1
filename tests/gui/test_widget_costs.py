"""What the session views cost per frame and per beat, as counts (never as timings).

`benchmarks/gui_session.py` times them; these tests pin the causes it found: the heart-rate
plot painted twice for every beat, and the pacer built its outlined text from glyph outlines
in every one of its 60 frames a second.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QFont, QImage, QPainterPath
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from pet_biofeedback.gui import pacer_view
from pet_biofeedback.gui.hr_view import HeartRateView
from pet_biofeedback.gui.pacer_view import PacerView
from pet_biofeedback.session.pacer import Pacer, PacerSettings
from pet_biofeedback.session.trace import TraceArrays

PRESENTATION = {
    "fill": "#F0E442",
    "ring": "#FFFFFF",
    "text": "#000000",
    "halo": "#FFFFFF",
    "background": "#000000",
}


class PaintCounter(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.paints = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.paints += 1
        return False


def trace(now_s: float) -> TraceArrays:
    t = np.arange(max(now_s - 90, 0), now_s, 0.9)
    target_t = np.linspace(now_s - 90, now_s, 901)
    return TraceArrays(
        t_s=t,
        hr_bpm=65 + 6 * np.sin(2 * np.pi * 0.1 * t),
        target_t_s=target_t,
        target_bpm=65 + 6 * np.sin(2 * np.pi * 0.1 * target_t),
        onset_t_s=np.arange(0, now_s, 10.0),
        t_start_s=now_s - 90,
        t_end_s=now_s,
    )


def settle() -> None:
    for _ in range(5):  # posted updates, then the repaints they ask for
        QApplication.processEvents()


def test_the_heart_rate_plot_is_painted_once_per_beat(qtbot: QtBot) -> None:
    view = HeartRateView()
    qtbot.addWidget(view)
    view.resize(760, 500)
    view.show()
    qtbot.waitExposed(view)
    view.set_arrays(trace(60.0))
    settle()
    counter = PaintCounter()
    view.viewport().installEventFilter(counter)
    beats = 12
    for k in range(beats):
        view.set_arrays(trace(61.0 + k))  # the range moves with every beat
        settle()
    assert counter.paints == beats


def test_the_grid_lies_on_the_heart_rate_ticks(qtbot: QtBot) -> None:
    view = HeartRateView()
    qtbot.addWidget(view)
    view.resize(760, 500)
    view.show()
    qtbot.waitExposed(view)
    view.set_arrays(trace(200.0))
    settle()
    axis = view.getPlotItem().getAxis("left")
    low, high = view.getPlotItem().getViewBox().viewRange()[1]
    major = [v for v in axis.tickValues(low, high, axis.height())[0][1] if low <= v <= high]
    x, y = view._grid.getData()
    assert len(major) >= 2
    assert sorted(set(y.tolist())) == sorted(major)
    assert set(x.tolist()) == {110.0, 200.0}  # across the whole shown time


@pytest.fixture
def pacer_widget(qtbot: QtBot) -> PacerView:
    view = PacerView()
    qtbot.addWidget(view)
    view.resize(500, 560)
    view.show()
    qtbot.waitExposed(view)
    return view


def test_pacer_frames_reuse_the_outlined_text(
    pacer_widget: PacerView, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str] = []

    class CountingPath(QPainterPath):
        def addText(self, *args: object) -> None:
            built.append(str(args[-1]))
            super().addText(*args)  # type: ignore[call-overload]

    monkeypatch.setattr(pacer_view, "QPainterPath", CountingPath)
    pacer = Pacer(PacerSettings(breaths_per_min=6.0))  # 5-s inhale
    frames = 120  # two seconds at 60 frames/s within one inhalation
    for k in range(frames):
        pacer_widget.set_state(pacer.state_at(1.0 + k / 60))
        pacer_widget.repaint()
    # "Breathe in", and the seconds left: 4, 3 and possibly 2
    assert len(built) <= 4
    assert built[0] == "Breathe in"


def _image(view: PacerView) -> QImage:
    return view.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)


def test_cached_pictures_follow_colours_and_size(pacer_widget: PacerView, qtbot: QtBot) -> None:
    state = Pacer(PacerSettings(breaths_per_min=6.0)).state_at(2.0)
    pacer_widget.set_state(state)
    _image(pacer_widget)  # fills the caches with the normal colours at this size
    pacer_widget.set_colours(**PRESENTATION)
    pacer_widget.resize(420, 400)
    fresh = PacerView()
    qtbot.addWidget(fresh)
    fresh.set_colours(**PRESENTATION)
    fresh.resize(420, 400)
    fresh.set_state(state)
    assert _image(pacer_widget) == _image(fresh)
    assert _image(pacer_widget).pixelColor(2, 2).name() == "#000000"
    italic = QFont(pacer_widget.font())
    italic.setItalic(True)
    pacer_widget.setFont(italic)
    fresh.setFont(italic)
    fresh._forget_pictures()  # drawn anew with the new font
    assert _image(pacer_widget) == _image(fresh)


def test_time_stays_in_seconds_after_a_thousand(qtbot: QtBot) -> None:
    view = HeartRateView()
    qtbot.addWidget(view)
    view.resize(760, 420)
    view.show()
    qtbot.waitExposed(view)
    view.set_arrays(trace(1500.0))
    settle()
    axis = view.getPlotItem().getAxis("bottom")
    assert "(s)" in axis.labelString() and "ks" not in axis.labelString()
    assert axis.autoSIPrefixScale == 1.0


def test_the_wave_is_drawn_with_about_a_point_every_two_pixels(qtbot: QtBot) -> None:
    view = HeartRateView()
    qtbot.addWidget(view)
    view.resize(760, 500)
    view.show()
    qtbot.waitExposed(view)
    view.set_arrays(trace(200.0))  # a 901-point wave
    settle()
    x, _ = view._wave.getData()
    assert 250 <= x.size <= 450  # ≈ 700 px of plot: smooth, not a point per pixel or more
