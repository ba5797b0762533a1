"""The replay page: a recording, XDF or RR file with the views of a live session.

`ReplayView` shows a `SessionPanel` (pacer, heart-rate wave, cards) fed by a
`session.replay_control.ReplayController` and the `ReplayControls` transport bar. Everything
it shows comes from the controller (snapshots, the heart-rate picture, the pacer, the
position); it sends the person's play / pause / speed / jump back as intents. Replay is
read-only: nothing is recorded, no history row is written.

A file that cannot be replayed gives its plain-words ``user_message`` in the page; the app
goes on. `save_replay_screenshot` runs the page offscreen for documentation and tests.

The main window shows the page (``MainWindow.show_page``), calls `ReplayView.start` and
listens to `ReplayView.close_requested`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from pet_biofeedback.errors import PetBiofeedbackError
from pet_biofeedback.gui.replay_controls import ReplayControls
from pet_biofeedback.gui.session_panel import PANEL_STYLE, SessionPanel
from pet_biofeedback.session.feedback import FeedbackSnapshot
from pet_biofeedback.session.replay_control import ReplayController, ReplayState

__all__ = ["FRAME_MS", "MIN_REDRAW_S", "ReplayView", "save_replay_screenshot"]

logger = logging.getLogger(__name__)

FRAME_MS: Final = 16  # the pacer is redrawn about 60 times a second
# The heart-rate curve is redrawn per beat, but at ×16 or max beats come faster than anyone
# can see (a redraw costs several ms offscreen, docs/design.md §8): at most this often.
MIN_REDRAW_S: Final = 0.1
_STYLE: Final = (
    PANEL_STYLE
    + """
QWidget#replayPage { background: #F6F8FA; }
QLabel#replayTitle { color: #102030; font-size: 13pt; font-weight: bold; padding: 4px 8px; }
QLabel#replayMessage { color: #8A1C00; background: #FFF4E5; border: 1px solid #E0B070;
    border-radius: 6px; font-size: 12pt; padding: 8px; }
QLabel#replayNote { color: #3A4A5A; font-size: 11pt; padding: 0 8px; }
QLabel#replayTime { color: #102030; font-size: 12pt; }
QPushButton { font-size: 11pt; padding: 4px 10px; }
"""
)
_STATE_WORDS: Final = {
    "new": "opening…",
    "playing": "playing",
    "paused": "paused",
    "ended": "end of the file — click the timeline to watch a part again",
    "failed": "stopped",
    "closed": "closed",
}


class ReplayView(QWidget):
    """One file replayed (module docstring).

    Parameters
    ----------
    path : Path
        A recording (``.jsonl``, ``.jsonl.gz``), XDF (``.xdf``) or RR text file.
    profile : str
        Whose history the file belongs to (kept for the main window; replay writes nothing).
    speed : float, default 1.0
        Starting speed (``math.inf``: as fast as possible).
    controller : ReplayController, optional
        Made from ``path`` and ``speed`` when not given.
    """

    close_requested = Signal()

    def __init__(
        self,
        path: Path,
        *,
        profile: str,
        parent: QWidget | None = None,
        speed: float = 1.0,
        controller: ReplayController | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("replayPage")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(_STYLE)
        self.path = path
        self.profile = profile
        self.controller = controller or ReplayController(path, speed=speed)
        self._task: asyncio.Future[None] | None = None
        self._trace_dirty = False
        self._last_draw_s = -math.inf

        self.title = QLabel(f"Replay: {path.name}")
        self.title.setObjectName("replayTitle")
        self.state_label = QLabel(_STATE_WORDS["new"])
        self.state_label.setObjectName("replayNote")
        self.close_button = QPushButton("Close replay")
        self.close_button.clicked.connect(self._close_clicked)
        header = QHBoxLayout()
        header.addWidget(self.title)
        header.addWidget(self.state_label, stretch=1)
        header.addWidget(self.close_button)

        self.message = QLabel("")
        self.message.setObjectName("replayMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()

        self.panel = SessionPanel()
        self.controls = ReplayControls()
        self.controls.set_speed(self.controller.speed)
        self.controls.setEnabled(False)
        self.controls.play_requested.connect(self.controller.resume)
        self.controls.pause_requested.connect(self.controller.pause)
        self.controls.speed_requested.connect(self._change_speed)
        self.controls.seek_requested.connect(self.controller.seek)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.message)
        layout.addWidget(self.panel, stretch=1)
        layout.addWidget(self.controls)

        self.controller.subscribe(self._on_snapshot)
        self.controller.on_state(self._on_state)
        self.frame_timer = QTimer(self)
        self.frame_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.frame_timer.setInterval(FRAME_MS)
        self.frame_timer.timeout.connect(self._frame)

    # ------------------------------------------------------------------ running
    def start(self) -> asyncio.Future[None]:
        """Open the file and play it, on the running (qasync) loop; the task."""
        if self._task is None:
            self._task = asyncio.ensure_future(self.run())
        return self._task

    async def run(self) -> None:
        """Open the file and play it until `stop`; a file's error is shown in the page."""
        try:
            info = await self.controller.open()
        except PetBiofeedbackError as exc:
            self._show_error(exc)
            return
        self.controls.set_duration(info.duration_s)
        self.controls.setEnabled(True)
        self.frame_timer.start()
        await self.controller.run()
        # after `stop` the page may already be gone (the main window dropped it): touch no
        # widget then; `stop` has stopped the timer
        if self.controller.state == "failed" and self.controller.error is not None:
            self.frame_timer.stop()
            self._show_error(self.controller.error)

    def stop(self) -> None:
        """End the replay (the page stays until the main window removes it)."""
        self.frame_timer.stop()
        self.controller.close()

    # ------------------------------------------------------------------ controller → page
    def _on_snapshot(self, snapshot: FeedbackSnapshot) -> None:
        self.panel.cards.set_snapshot(snapshot)
        self._trace_dirty = True
        if time.monotonic() - self._last_draw_s >= MIN_REDRAW_S:
            self._draw_trace()

    def _on_state(self, state: ReplayState) -> None:
        self.controls.set_playing(state == "playing")
        self.state_label.setText(_STATE_WORDS[state])
        if state in ("ended", "paused"):
            # nothing more comes until the person acts: show where it stands
            self._draw_trace()
            self._frame()
        if state == "failed" and self.controller.error is not None:
            self._show_error(self.controller.error)

    def _show_error(self, exc: PetBiofeedbackError) -> None:
        logger.info("replay of %s: %s", self.path.name, exc)
        self.message.setText(f"This file cannot be replayed. {exc.user_message}")
        self.message.show()
        self.state_label.setText(_STATE_WORDS["failed"])
        self.controls.setEnabled(False)

    def _change_speed(self, speed: float) -> None:
        self.controller.set_speed(speed)
        self.controls.set_speed(speed)

    def _draw_trace(self) -> None:
        arrays = self.controller.trace()
        if arrays is not None:
            self.panel.heart.set_arrays(arrays)
        self._trace_dirty = False
        self._last_draw_s = time.monotonic()

    def _frame(self) -> None:
        self.panel.pacer.set_state(self.controller.pacer_state())
        position_s = self.controller.position_s()
        self.controls.set_position(position_s)
        if self._trace_dirty and time.monotonic() - self._last_draw_s >= MIN_REDRAW_S:
            self._draw_trace()

    # ------------------------------------------------------------------ person → page
    def _close_clicked(self) -> None:
        self.stop()
        self.close_requested.emit()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and self.controls.isEnabled():
            self.controls.play_button.click()
        else:
            super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.stop()
        super().closeEvent(event)

    @property
    def time_text(self) -> str:
        """What the time label says (``elapsed / total``)."""
        return self.controls.time_label.text()


async def _wait_for(condition: Callable[[], bool], timeout_s: float) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110  # the state lives in Qt and the controller
            await asyncio.sleep(0.02)


def save_replay_screenshot(
    path: Path,
    out: Path,
    *,
    position_fraction: float = 0.5,
    play_s: float = 1.0,
    size: tuple[int, int] = (1280, 800),
    timeout_s: float = 60.0,
) -> Path:
    """Replay ``path`` offscreen, jump to ``position_fraction`` of it, play ``play_s`` at ×1,
    save a PNG of the page to ``out``.

    Needs a QApplication-capable environment (``QT_QPA_PLATFORM=offscreen`` works). For docs
    and tests.
    """
    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)

    async def shoot() -> None:
        view = ReplayView(path, profile="default", speed=math.inf)
        view.resize(*size)
        view.show()
        view.controller.pause()
        task = view.start()
        try:
            await _wait_for(lambda: view.controller.info is not None, timeout_s)
            info = view.controller.info
            assert info is not None
            view.controller.seek(info.duration_s * position_fraction)
            view.controller.set_speed(1.0)
            view.controls.set_speed(1.0)
            view.controller.resume()
            start = view.controller.n_snapshots_shown
            await _wait_for(lambda: view.controller.n_snapshots_shown > start, timeout_s)
            await asyncio.sleep(play_s)
            view._draw_trace()
            view._frame()
            out.parent.mkdir(parents=True, exist_ok=True)
            if not view.grab().save(str(out)):
                raise OSError(f"could not save the screenshot to {out}")
        finally:
            view.stop()
            async with asyncio.timeout(timeout_s):
                await task
            view.close()

    try:
        with loop:
            loop.run_until_complete(shoot())
    finally:
        asyncio.set_event_loop(None)
    return out
