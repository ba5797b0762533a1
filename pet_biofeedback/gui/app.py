"""The desktop app's composition root: source → engine → recorder → window (style.md §2.9).

Nothing else builds sources, engines or recorders; widgets get queries and signals. asyncio runs
inside Qt through qasync (docs/design.md §8), so the engine's task and the widgets share the GUI
thread and no locking is needed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import qasync
from PySide6.QtWidgets import QApplication, QMessageBox

from pet_biofeedback.errors import ConfigError, PetBiofeedbackError
from pet_biofeedback.events import Event
from pet_biofeedback.gui.bridge import EngineBridge
from pet_biofeedback.gui.session_window import SessionWindow
from pet_biofeedback.paths import default_recording_path
from pet_biofeedback.session.engine import SessionEngine, SessionPlan
from pet_biofeedback.session.pacer import PacerSettings, rate_on_grid
from pet_biofeedback.session.run import SessionOutcome, run_session
from pet_biofeedback.session.sources import describe_source, open_source
from pet_biofeedback.session.trace import SessionClock, SessionTrace

__all__ = ["GuiOptions", "run_app"]

logger = logging.getLogger(__name__)

DEFAULT_SOURCE = "sim"  # no strap around: the simulated one (the device picker comes next)
WINDOW_SIZE = (1280, 800)


@dataclass(frozen=True, slots=True, kw_only=True)
class GuiOptions:
    """What the `gui` command was asked for."""

    source: str | None = None
    speed: float = 1.0
    presentation: bool = False
    profile: str = "default"
    minutes: float = 10.0
    pacer: PacerSettings = dataclasses.field(default_factory=PacerSettings)
    recording: Path | None = None
    screenshot: Path | None = None
    exit_after_s: float | None = None


class _App:
    """One session in one window; holds the parts so that Qt does not collect them."""

    def __init__(self, options: GuiOptions) -> None:
        self.options = options
        spec = options.source or DEFAULT_SOURCE
        self.plan = SessionPlan(
            protocol="practice",
            minutes=options.minutes,
            pacer=options.pacer,
            profile=options.profile,
        )
        self.engine: SessionEngine | None = None
        source = open_source(spec, speed=options.speed, pacer=self._pacer_position)
        self.engine = SessionEngine(source, self.plan)
        self.device = describe_source(spec, speed=options.speed)
        self.clock = SessionClock(options.speed)
        self.trace = SessionTrace(self.engine)
        self.bridge = EngineBridge()
        self.bridge.attach(self.engine)
        engine = self.engine
        self.window = SessionWindow(
            pacer_now=lambda: engine.pacer_state(self.clock.now()),
            trace_now=lambda: self.trace.arrays(self.clock.now()),
            title=f"practice at {options.pacer.breaths_per_min:g} breaths/min",
        )
        self.bridge.snapshot.connect(self.window.on_snapshot)
        self.bridge.link.connect(self.window.on_link)
        self.window.stop_requested.connect(engine.request_stop)
        self.window.pacer_rate_changed.connect(self._change_rate)
        self.outcome: SessionOutcome | None = None

    def _pacer_position(self, t_s: float) -> float:
        return 0.0 if self.engine is None else self.engine.pacer_position(t_s)

    def _change_rate(self, breaths_per_min: float) -> None:
        assert self.engine is not None
        if self.engine.pacer is None:
            return
        try:
            settings = dataclasses.replace(
                self.engine.pacer.settings, breaths_per_min=rate_on_grid(breaths_per_min)
            )
        except ConfigError as exc:
            self.window.statusBar().showMessage(exc.user_message, 4000)
            return
        self.engine.change_pacer(settings)
        self.window.statusBar().showMessage(f"Pacer: {breaths_per_min:g} breaths/min", 3000)

    def _on_event(self, event: Event) -> None:
        self.clock.seen(event.t)
        self.bridge.on_event(event)

    async def run(self) -> int:
        assert self.engine is not None
        window = self.window
        window.resize(*WINDOW_SIZE)
        if self.options.presentation:
            window.set_presentation(True)
        window.show()
        path = self.options.recording or default_recording_path()
        session = asyncio.ensure_future(
            run_session(
                self.engine,
                path,
                device=self.device,
                speed=self.options.speed,
                on_event=self._on_event,
            )
        )
        if self.options.exit_after_s is not None:
            await asyncio.wait({session}, timeout=self.options.exit_after_s)
            if self.options.screenshot is not None:
                self._save_screenshot(self.options.screenshot)
            self.engine.request_stop()
        try:
            self.outcome = await session
        except PetBiofeedbackError as exc:
            window.on_session_ended()
            if self.options.exit_after_s is None:
                QMessageBox.warning(window, "The session stopped", exc.user_message)
            logger.warning("session stopped: %s", exc)
            return 2
        window.on_session_ended()
        window.statusBar().showMessage(f"Session saved to {self.outcome.recording}")
        if self.options.exit_after_s is None:
            await _closed(window)
        return 0

    def _save_screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not self.window.grab().save(str(path)):
            raise ConfigError(f"could not save the screenshot to {path}")


async def _closed(window: SessionWindow) -> None:
    done = asyncio.Event()
    window.destroyed.connect(done.set)
    window.stop_requested.connect(done.set)
    await done.wait()


def run_app(options: GuiOptions) -> int:
    """Open the window and run one session; the exit code."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("pet-biofeedback")
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        with loop:
            return int(loop.run_until_complete(_App(options).run()))
    finally:
        asyncio.set_event_loop(None)
