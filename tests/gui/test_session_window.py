"""The session window against a fake engine: signals in, widgets follow, intents out."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QObject, Qt, Signal
from pytestqt.qtbot import QtBot

from pet_biofeedback.events import Link, LinkState
from pet_biofeedback.gui.pacer_view import PacerView
from pet_biofeedback.gui.session_window import SessionWindow
from pet_biofeedback.session.feedback import DEFAULT_LEVELS, FeedbackSnapshot, Quality
from pet_biofeedback.session.pacer import Pacer, PacerSettings
from pet_biofeedback.session.trace import TraceArrays


class FakeBridge(QObject):
    """The bridge's signals, driven by the test (no engine, no source)."""

    snapshot = Signal(object)
    link = Signal(object)


def snapshot(t_s: float, *, ok: bool = True, reason: str | None = None) -> FeedbackSnapshot:
    quality = Quality(
        ok=ok,
        reason=reason,
        corrected_pct=0.0,
        contact=True,
        link=LinkState.STREAMING,
        clean_since_s=-math.inf,
    )
    return FeedbackSnapshot(
        t_s=t_s,
        elapsed_s=t_s,
        remaining_s=600.0 - t_s,
        n_beats=int(t_s),
        nn_ms=923.0,
        hr_bpm=65.0,
        rmssd_ms=41.0,
        rsa_bpm=11.6,
        rsa_level="high",
        coherence=3.2,
        coherence_level="high",
        breathing_breaths_per_min=6.0,
        breathing_source="chest accelerometer",
        pacer_breaths_per_min=6.0,
        breathing_matches_pacer=True,
        quality=quality,
        link=LinkState.STREAMING,
        battery_pct=80,
        levels=DEFAULT_LEVELS,
    )


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


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[SessionWindow]:
    pacer = Pacer(PacerSettings(breaths_per_min=6.0))
    now = [61.0]
    win = SessionWindow(pacer_now=lambda: pacer.state_at(now[0]), trace_now=lambda: trace(now[0]))
    qtbot.addWidget(win)
    bridge = FakeBridge(win)
    bridge.snapshot.connect(win.on_snapshot)
    bridge.link.connect(win.on_link)
    win.bridge = bridge  # type: ignore[attr-defined]  # the test drives it
    win.resize(1280, 800)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.frame_timer.stop()


class TestSessionWindow:
    def test_snapshots_fill_the_cards(self, window: SessionWindow, qtbot: QtBot) -> None:
        window.bridge.snapshot.emit(snapshot(61.0))  # type: ignore[attr-defined]
        assert window.cards.rsa.value.text() == "12 bpm"
        assert "high" in window.cards.rsa.level.text()
        assert window.cards.coherence.value.text() == "3.2"
        assert window.cards.hr.value.text() == "65 bpm"
        assert window.time_label.text() == "1:01 / 8:59 left"
        assert window.battery_label.text() == "battery 80 %"

    def test_a_pause_shows_its_reason_not_numbers(self, window: SessionWindow) -> None:
        reason = "The strap lost contact with the skin — moisten the electrodes."
        window.bridge.snapshot.emit(snapshot(70.0, ok=False, reason=reason))  # type: ignore[attr-defined]
        assert window.cards.rsa.value.text() == "paused"
        assert window.cards.coherence.value.text() == "paused"
        assert reason in window.cards.quality.text()
        window.bridge.snapshot.emit(snapshot(75.0))  # type: ignore[attr-defined]
        assert window.cards.rsa.value.text() == "12 bpm"  # resumes by itself

    def test_the_pacer_follows_the_clock(self, window: SessionWindow, qtbot: QtBot) -> None:
        qtbot.waitUntil(lambda: window.pacer.state is not None, timeout=2000)
        state = window.pacer.state
        assert state is not None and state.part == "inhale" and state.breath_index == 6

    def test_link_changes_are_shown(self, window: SessionWindow) -> None:
        window.bridge.link.emit(Link(3.0, LinkState.RECONNECTING, "retrying in 2 s"))  # type: ignore[attr-defined]
        assert window.link_label.text() == "Strap: reconnecting — retrying in 2 s"

    def test_presentation_mode_shows_only_pacer_and_wave(
        self, window: SessionWindow, qtbot: QtBot, artifacts_dir: Path
    ) -> None:
        window.bridge.snapshot.emit(snapshot(61.0))  # type: ignore[attr-defined]
        with qtbot.waitSignal(window.presentation_changed) as blocker:
            qtbot.keyClick(window, Qt.Key.Key_F11)
        assert blocker.args == [True]
        assert window.toolbar is not None
        assert not window.cards.isVisible() and not window.toolbar.isVisible()
        assert window.pacer.isVisible() and window.heart.isVisible()
        axis = window.heart.getPlotItem().getAxis("left")
        assert axis.style["tickFont"].pixelSize() == 24  # readable when screen-shared
        window.grab().save(str(artifacts_dir / "presentation-test.png"))
        with qtbot.waitSignal(window.pacer_rate_changed) as rate:
            qtbot.keyClick(window, Qt.Key.Key_Up)
        assert rate.args == [6.1]
        qtbot.keyClick(window, Qt.Key.Key_Escape)
        assert window.cards.isVisible()
        qtbot.keyClick(window, Qt.Key.Key_F11)  # F11 both ways, the toolbar hidden or not
        assert window.presenting
        qtbot.keyClick(window, Qt.Key.Key_F11)
        assert not window.presenting and window.cards.isVisible()

    def test_stop_is_an_intent(self, window: SessionWindow, qtbot: QtBot) -> None:
        with qtbot.waitSignal(window.stop_requested):
            window.stop_action.trigger()


def test_pacer_view_draws_every_part(qtbot: QtBot) -> None:
    view = PacerView()
    qtbot.addWidget(view)
    view.resize(300, 300)
    pacer = Pacer(PacerSettings(breaths_per_min=6.0, hold_after_inhale_s=1, hold_after_exhale_s=1))
    for t in (1.0, 3.6, 6.0, 9.5):
        view.set_state(pacer.state_at(t))
        image = view.grab().toImage()
        assert not image.isNull() and image.width() == 300
    view.set_state(None)
    assert view.state is None
