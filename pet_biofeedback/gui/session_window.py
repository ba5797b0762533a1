"""The session window: the pacer beside the heart-rate wave, feedback cards, status.

Signals in (`on_snapshot`, `on_link`), intents out (`stop_requested`, `pacer_rate_changed`,
`presentation_changed`). Two queries are handed in by the composition root: the pacer state
"now" (asked at display rate by a precise timer) and the heart-rate picture (asked once per
beat). Presentation mode (F11, or the toolbar) shows only the pacer and the wave, full screen,
in large high-contrast type, readable when shared at 1280×720; the arrow keys change the
pacer rate while demonstrating. Embedded as a page of the app's `MainWindow`, the shell owns
F11, full screen and its toolbar's toggle; the page then only hides what presentation hides.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from pet_biofeedback.events import Link, LinkState
from pet_biofeedback.gui.countdown import CountdownBanner
from pet_biofeedback.gui.look import Look, palette_of
from pet_biofeedback.gui.session_panel import (
    NORMAL_AXIS_PX,
    PRESENTATION_AXIS_PX,
    SessionPanel,
)
from pet_biofeedback.session.feedback import FeedbackSnapshot
from pet_biofeedback.session.pacer import PacerState
from pet_biofeedback.session.trace import TraceArrays

__all__ = ["FRAME_MS", "NORMAL_AXIS_PX", "PRESENTATION_AXIS_PX", "SessionWindow"]

FRAME_MS: Final = 16  # the pacer is redrawn about 60 times a second
RATE_STEP: Final = 0.1  # breaths/min per arrow key in presentation mode

_STYLE: Final = """
QMainWindow, QWidget#central {{ background: #F6F8FA; }}
QFrame#card {{ background: #FFFFFF; border: 1px solid #D0D7DE; border-radius: 8px; }}
QLabel#cardTitle {{ color: #3A4A5A; font-size: {title}pt; }}
QLabel#cardValue {{ color: #102030; font-size: {value}pt; font-weight: bold; }}
QLabel#cardExplanation {{ color: #56606A; font-size: {small}pt; }}
QLabel#quality {{ color: #1B5E20; font-size: {quality}pt; padding: 4px; }}
QLabel#quality[paused="true"] {{ color: #8A4B00; font-weight: bold; }}
QLabel#breathing {{ color: #3A4A5A; font-size: {quality}pt; padding: 0 4px; }}
QLabel#status {{ color: #3A4A5A; font-size: {status}pt; padding: 0 8px; }}
QLabel#timeLeft {{ color: #102030; font-size: {time}pt; font-weight: bold; padding: 0 8px; }}
"""
_STYLE_PT: Final = {
    "title": 13,
    "value": 22,
    "small": 10,
    "quality": 12,
    "status": 11,
    "time": 15,
}


def _style(scale: float) -> str:
    return _STYLE.format(**{k: round(v * scale) for k, v in _STYLE_PT.items()})


_LINK_WORDS: Final = {
    LinkState.SCANNING: "looking for the strap",
    LinkState.CONNECTING: "connecting",
    LinkState.CONNECTED: "connected",
    LinkState.STREAMING: "connected",
    LinkState.RECONNECTING: "reconnecting",
    LinkState.DISCONNECTED: "disconnected",
    LinkState.FAILED: "connection failed",
}


def _clock(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


class SessionWindow(QMainWindow):
    """The window of a running session (module docstring)."""

    stop_requested = Signal()
    pacer_rate_changed = Signal(float)  # breaths/min
    presentation_changed = Signal(bool)

    def __init__(
        self,
        *,
        pacer_now: Callable[[], PacerState | None],
        trace_now: Callable[[], TraceArrays],
        title: str = "Breathing session",
        embedded: bool = False,
        look: Look | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"pet-biofeedback — {title}")
        self.embedded = embedded
        self.look = look or Look()
        self.setStyleSheet(_style(self.look.text_scale))
        self._pacer_now = pacer_now
        self._trace_now = trace_now
        self._rate: float | None = None
        self.presenting = False

        panel = SessionPanel()  # the same views as the replay page
        self.panel = panel
        self.pacer = panel.pacer
        self.heart = panel.heart
        self.cards = panel.cards
        self.countdown = CountdownBanner()  # "Get ready — starting in 3" before recording
        page = QWidget()
        column = QVBoxLayout(page)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.countdown)
        column.addWidget(panel, 1)
        self.setCentralWidget(page)
        self.central = panel

        self.link_label = QLabel("starting")
        self.battery_label = QLabel("")
        self.recording_label = QLabel("● recording")
        self.time_label = QLabel("0:00")
        status = QWidget()
        row = QHBoxLayout(status)
        row.setContentsMargins(0, 0, 0, 0)
        for label in (self.link_label, self.battery_label, self.recording_label, self.time_label):
            label.setObjectName("status")
            row.addWidget(label)
        self.time_label.setObjectName("timeLeft")  # the time left, large: a person looks for it
        self.recording_label.setStyleSheet("color: #B00020;")
        self.statusBar().addPermanentWidget(status, 1)

        self.present_action = QAction("Presentation mode", self)
        self.present_action.setCheckable(True)
        self.present_action.toggled.connect(self.set_presentation)
        self.stop_action = QAction("Stop session", self)
        self.stop_action.triggered.connect(self.stop_requested)
        # Embedded in the app, the page has no toolbar of its own (a second bar under the
        # shell's looked like two rows of controls): the shell shows `page_actions` in its
        # toolbar while the page is shown, and its own F11 toggle does presentation mode.
        self.page_actions: tuple[QAction, ...] = (self.stop_action,)
        self.toolbar: QToolBar | None = None
        if not embedded:
            toolbar = QToolBar("Session")
            toolbar.setMovable(False)
            self.addToolBar(toolbar)
            self.toolbar = toolbar
            self.present_action.setShortcut(QKeySequence(Qt.Key.Key_F11))
            toolbar.addAction(self.present_action)
            self.addAction(self.present_action)  # the toolbar hides in presentation mode
            toolbar.addAction(self.stop_action)

        self.frame_timer = QTimer(self)
        self.frame_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.frame_timer.setInterval(FRAME_MS)
        self.frame_timer.timeout.connect(self._frame)
        self.frame_timer.start()
        self.apply_look(self.look)

    # ------------------------------------------------------------------ signals in
    def on_snapshot(self, snapshot: FeedbackSnapshot) -> None:
        self.cards.set_snapshot(snapshot)
        self.heart.set_arrays(self._trace_now())
        self._rate = snapshot.pacer_breaths_per_min
        self.show_time(snapshot.elapsed_s, snapshot.remaining_s)
        if snapshot.battery_pct is not None:
            self.battery_label.setText(f"battery {snapshot.battery_pct} %")

    def show_time(self, elapsed_s: float, remaining_s: float | None) -> None:
        """``1:01 / 8:59 left`` (before the first beat: the session's length)."""
        remaining = "" if remaining_s is None else f" / {_clock(remaining_s)} left"
        self.time_label.setText(f"{_clock(elapsed_s)}{remaining}")

    def on_link(self, link: Link) -> None:
        words = _LINK_WORDS.get(link.state, str(link.state))
        self.link_label.setText(f"Strap: {words}" + (f" — {link.detail}" if link.detail else ""))

    def on_session_ended(self) -> None:
        self.countdown.cancel()
        self.frame_timer.stop()
        self.recording_label.setText("saved")
        self.recording_label.setStyleSheet("color: #1B5E20;")
        self.stop_action.setEnabled(False)

    def apply_look(self, look: Look) -> None:
        """Palette and text size (settings); presentation mode keeps its own high contrast."""
        self.look = look
        self.setStyleSheet(_style(look.text_scale))
        palette = palette_of(look)
        self.cards.set_level_colours(low=palette.low, medium=palette.medium, high=palette.high)
        if not self.presenting:
            self._normal_colours()

    def _normal_colours(self) -> None:
        palette = palette_of(self.look)
        self.pacer.set_colours(
            fill="#56B4E9", ring="#0072B2", text="#102030", halo="#FFFFFF", background="#F6F8FA"
        )
        self.pacer.text_scale = self.look.text_scale
        self.heart.set_colours(heart=palette.heart, wave=palette.wave, background="#FFFFFF")
        self.heart.set_text_size(round(NORMAL_AXIS_PX * self.look.text_scale))

    # ------------------------------------------------------------------ presentation
    def set_presentation(self, on: bool) -> None:
        if on == self.presenting:
            return
        self.presenting = on
        self.cards.setVisible(not on)
        self.panel.set_edge_to_edge(on)
        self.statusBar().setVisible(not on)
        # (the countdown banner stays: a person being shown the start still sees it)
        if self.toolbar is not None:
            self.toolbar.setVisible(not on)
        self.central.setStyleSheet("background: #000000;" if on else "")
        if on:
            self.pacer.set_colours(
                fill="#F0E442", ring="#FFFFFF", text="#000000", halo="#FFFFFF", background="#000000"
            )
            self.pacer.text_scale = 1.3
            self.heart.set_colours(heart="#FFFFFF", wave="#0072B2", background="#000000")
            self.heart.set_text_size(PRESENTATION_AXIS_PX)
            if not self.embedded:
                self.showFullScreen()
        else:
            self._normal_colours()
            if not self.embedded:
                self.showNormal()
        if self.present_action.isChecked() != on:
            self.present_action.setChecked(on)
        self.presentation_changed.emit(on)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Escape and self.presenting:
            self.set_presentation(False)
        elif key in (Qt.Key.Key_Up, Qt.Key.Key_Down) and self._rate is not None:
            step = RATE_STEP if key == Qt.Key.Key_Up else -RATE_STEP
            self.pacer_rate_changed.emit(round(self._rate + step, 1))
        else:
            super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.frame_timer.stop()
        self.stop_requested.emit()
        super().closeEvent(event)

    # ------------------------------------------------------------------ internals
    def _frame(self) -> None:
        self.pacer.set_state(self._pacer_now())
