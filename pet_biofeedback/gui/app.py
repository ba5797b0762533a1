"""The desktop app's composition root: window, pages, flows, and what they query (style.md §2.9).

Nothing else builds sources, engines, scanners or the history; widgets get queries and
signals. asyncio runs inside Qt through qasync (docs/design.md §8), so the engine's task, the
scan and the widgets share the GUI thread and no locking is needed.

``pet-biofeedback`` / ``gui`` opens the start page (the device picker); ``gui --source SRC``
goes straight into a practice session on that source (with ``--exit-after`` and
``--screenshot`` for docs and tests: no questions asked, a PNG saved, the app closed).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import qasync
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication

from pet_biofeedback.errors import ConfigError, PetBiofeedbackError
from pet_biofeedback.gui.countdown import COUNTDOWN_S
from pet_biofeedback.gui.device_picker import DevicePickerView, ScanQuery
from pet_biofeedback.gui.gui_thread_gc import gui_thread_gc
from pet_biofeedback.gui.history_view import HistoryView
from pet_biofeedback.gui.live_session import LiveSession
from pet_biofeedback.gui.look import Look, scaled_style
from pet_biofeedback.gui.main_window import ChooseFile, MainWindow
from pet_biofeedback.gui.protocol_page import ProtocolChoiceView
from pet_biofeedback.gui.replay_view import ReplayView
from pet_biofeedback.gui.session_flow import FlowOptions, OpenUrl, SessionFlow
from pet_biofeedback.gui.settings_dialog import SettingsDialog
from pet_biofeedback.paths import default_recording_path
from pet_biofeedback.session.assessment import AssessmentSettings
from pet_biofeedback.session.pacer import PacerSettings
from pet_biofeedback.session.preferences import (
    CoachSettings,
    coach_settings,
    last_device,
    remember_coach_settings,
    remember_last_device,
)
from pet_biofeedback.session.run import SessionOutcome
from pet_biofeedback.session.strap_scan import scan_straps

__all__ = ["GuiOptions", "Shell", "run_app"]

logger = logging.getLogger(__name__)

WINDOW_SIZE = (1280, 800)
T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class GuiOptions:
    """What the `gui` command was asked for (None: the profile's settings decide)."""

    source: str | None = None
    faults: str | None = None  # fault injection for an emulated ``source`` (sources.open_source)
    speed: float = 1.0
    presentation: bool = False
    profile: str = "default"
    minutes: float | None = None
    pacer: PacerSettings | None = None
    recording: Path | None = None
    screenshot: Path | None = None
    exit_after_s: float | None = None
    assessment: AssessmentSettings | None = None  # tests: a short assessment


def _is_device(spec: str) -> bool:
    head = spec.strip().partition(":")[0].lower()
    return head in ("ble", "sim", "emulated") and not Path(spec).is_file()


class Shell:
    """The app: one `MainWindow`, its pages and the session flow, wired (module docstring).

    Parameters
    ----------
    options : GuiOptions
    scan : callable, optional
        The strap scan (default: the Bluetooth bridge's); tests pass fakes.
    choose_file : callable, optional
        The "Open recording" file dialog; tests pass their own.
    open_url : callable, optional
        Opens the HTML report (default: the desktop's browser).
    """

    def __init__(
        self,
        options: GuiOptions,
        *,
        scan: ScanQuery = scan_straps,
        choose_file: ChooseFile | None = None,
        open_url: OpenUrl = QDesktopServices.openUrl,
    ) -> None:
        self.options = options
        profile = options.profile
        self.window = MainWindow(choose_file=choose_file)
        self.picker = DevicePickerView(scan=scan, last_device=last_device(profile))
        self.choice = ProtocolChoiceView()
        unattended = options.exit_after_s is not None
        self.flow = SessionFlow(
            self.window,
            FlowOptions(
                profile=profile,
                speed=options.speed,
                recording=self._recording_path,
                assessment=options.assessment,
                ask_ratings=not unattended,
                # a person's gentle start; not for unattended runs or as-fast-as-possible ones
                countdown_s=0 if unattended or math.isinf(options.speed) else COUNTDOWN_S,
            ),
            open_url=open_url,
            on_link=self.picker.on_link,
        )
        self.spec: str | None = None
        self.session: asyncio.Future[SessionOutcome | None] | None = None
        self.settings_dialog: SettingsDialog | None = None
        self.replay: ReplayView | None = None
        # Replays not yet wound down (awaited before run() returns), by page.
        self._replay_tasks: dict[ReplayView, asyncio.Future[None]] = {}
        self.history: HistoryView | None = None
        self.open_url = open_url
        self._closed = asyncio.Event()
        self._wire()

    def _wire(self) -> None:
        w = self.window
        self.picker.connect_requested.connect(self.device_chosen)
        self.picker.open_recording_clicked.connect(w.open_action.trigger)
        self.choice.chosen.connect(self.start)
        self.choice.back_requested.connect(lambda: w.show_page(self.picker))
        self.flow.finished.connect(lambda: w.show_page(self.picker))
        self.flow.session_started.connect(self._session_page_shown)
        w.open_recording_requested.connect(self.open_recording)
        w.settings_requested.connect(self.edit_settings)
        w.presentation_changed.connect(self._presentation)
        w.closing.connect(self._closing)
        w.history_requested.connect(self.show_history)

    # ------------------------------------------------------------------ intents
    def device_chosen(self, spec: str) -> None:
        """A strap (or the simulated one) was chosen: remember it, ask what to do."""
        self.spec = spec
        try:
            remember_last_device(self.options.profile, spec)
        except PetBiofeedbackError as exc:  # not remembering is no reason to stop
            logger.warning("last strap not saved: %s", exc.user_message)
        self.picker.set_last_device(spec)
        settings = self.settings()
        pacer = settings.pacer()
        self.choice.set_description(
            "practice",
            f"{settings.minutes:g} minutes at {pacer.breaths_per_min:g} breaths/min "
            "(change it in View → Settings).",
        )
        self.choice.set_description(
            "baseline", "A few minutes of normal breathing, to compare your practice with."
        )
        self.choice.set_description(
            "assessment",
            "Breathe with the guide at several rates in turn (about 15 minutes); the rate "
            "that suits your heart best becomes your practice rate.",
        )
        self.window.show_page(self.choice)

    def start(self, protocol: str, *, spec: str | None = None, ask_before: bool = True) -> None:
        """Run a ``protocol`` session on ``spec`` (default: the chosen strap)."""
        if self.session is not None and not self.session.done():
            self.window.show_problem("A session is running", "Stop it first, then start another.")
            return
        source = spec or self.spec or "sim"
        # --faults belongs to --source (an emulated strap), not to a strap picked later
        faults = self.options.faults if source == self.options.source else None
        settings = self.settings()
        try:
            plan, assessment = self.flow.plan(protocol, settings)
        except ConfigError as exc:
            self.window.show_problem("The session cannot start", exc.user_message)
            return
        self.session = asyncio.ensure_future(
            self.flow.run(
                source,
                plan,
                settings=settings,
                assessment=assessment,
                ask_before=ask_before,
                faults=faults,
            )
        )

    def open_recording(self, path: Path) -> ReplayView | None:
        """Replay ``path`` on its own page (read-only: nothing recorded, no history row)."""
        if self.session is not None and not self.session.done():
            self.window.show_problem("A session is running", "Stop it first, then open a file.")
            return None
        self._close_replay()
        page = ReplayView(path, profile=self.options.profile, speed=self.options.speed)
        page.close_requested.connect(self._close_replay)
        self.replay = page
        self.window.show_page(page)
        task = page.start()
        self._replay_tasks[page] = task
        return page

    def _close_replay(self) -> None:
        page, self.replay = self.replay, None
        if page is None:
            return
        page.stop()
        if self.window.current_page() is page:
            self.window.show_page(self.picker)
        self.window.stack.removeWidget(page)
        # Deleted only once its replay has wound down: deleting the widgets while the replay's
        # last callbacks and pyqtgraph's deferred updates are queued crashed Qt (segfault).
        task = self._replay_tasks.get(page)
        if task is None or task.done():
            self._drop_replay(page)
        else:
            task.add_done_callback(lambda _: self._drop_replay(page))

    def _drop_replay(self, page: ReplayView) -> None:
        self._replay_tasks.pop(page, None)
        page.deleteLater()

    def show_history(self) -> HistoryView:
        """The profile's sessions and trends (read afresh each time it is opened)."""
        if self.history is None:
            self.history = HistoryView(self.options.profile, open_url=self.open_url)
            self.history.replay_requested.connect(self.open_recording)
        else:
            self.history.refresh()
        self.window.show_page(self.history)
        return self.history

    def settings(self) -> CoachSettings:
        """The profile's settings, with what the command line gave on top."""
        saved = coach_settings(self.options.profile)
        changes: dict[str, object] = {}
        if self.options.minutes is not None:
            changes["minutes"] = self.options.minutes
        if (p := self.options.pacer) is not None:
            changes.update(
                breaths_per_min=p.breaths_per_min,
                inhale_parts=p.inhale_parts,
                exhale_parts=p.exhale_parts,
                hold_after_inhale_s=p.hold_after_inhale_s,
                hold_after_exhale_s=p.hold_after_exhale_s,
                shape=p.shape,
            )
        return dataclasses.replace(saved, **changes)  # type: ignore[arg-type]

    def edit_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(coach_settings(self.options.profile), self.window)
        dialog.accepted.connect(lambda: self._save_settings(dialog.settings))
        dialog.open()  # window-modal, does not block the running session
        self.settings_dialog = dialog
        return dialog

    def _save_settings(self, settings: CoachSettings) -> None:
        try:
            remember_coach_settings(self.options.profile, settings)
        except PetBiofeedbackError as exc:
            self.window.show_problem("The settings were not saved", exc.user_message)
        self.apply_look(settings)

    def apply_look(self, settings: CoachSettings) -> None:
        """Palette and text size on every page (a running session's page included)."""
        look = Look(colour_blind=settings.colour_blind_palette, large_text=settings.large_text)
        flow = self.flow
        for page in (self.picker, self.choice, flow.before, flow.after, flow.summary):
            page.setStyleSheet(scaled_style(page.base_style, look.text_scale))
        if flow.live is not None:
            flow.live.page.apply_look(look)

    # ------------------------------------------------------------------ presentation
    def _presentation(self, on: bool) -> None:
        live = self.flow.live
        if live is not None and self.window.current_page() is live.page:
            live.page.set_presentation(on)

    def _session_page_shown(self, live: LiveSession) -> None:
        live.page.presentation_changed.connect(self.window.set_presentation)
        if self.window.presenting:
            live.page.set_presentation(True)

    # ------------------------------------------------------------------ running
    def _recording_path(self) -> Path:
        return self.options.recording or default_recording_path()

    def _closing(self) -> None:
        self.flow.close()
        self._close_replay()
        self._closed.set()

    async def run(self) -> int:
        """Show the window and run until it is closed (or ``exit_after_s``); the exit code."""
        options = self.options
        app = QApplication.instance()
        if isinstance(app, QApplication):
            # Closing the window must not stop the event loop under a running session: the
            # recording still has to close. run() returns once that is done.
            app.setQuitOnLastWindowClosed(False)
        self.apply_look(self.settings())
        self.window.resize(*WINDOW_SIZE)
        self.window.show()
        if options.presentation:
            self.window.set_presentation(True)
        if options.source is not None:
            if _is_device(options.source):
                self.spec = options.source
            self.start("practice", spec=options.source, ask_before=False)
        else:
            self.window.show_page(self.picker)
            self.picker.start_scan()
        if options.exit_after_s is not None:
            await self._run_unattended(options.exit_after_s)
        else:
            await self._closed.wait()
        self._close_replay()
        if self._replay_tasks:  # a stopped replay ends within a beat; let it close its file
            await asyncio.wait(set(self._replay_tasks.values()), timeout=5.0)
        if self.session is None:
            return 0
        outcome = await self.session
        return 0 if outcome is not None or options.source is None else 2

    async def _run_unattended(self, seconds: float) -> None:
        waiting: set[asyncio.Future[object]] = set()
        if self.session is not None:
            waiting.add(self.session)  # type: ignore[arg-type]
        await asyncio.wait(
            waiting or {asyncio.ensure_future(asyncio.sleep(seconds))}, timeout=seconds
        )
        if self.options.screenshot is not None:
            self.save_screenshot(self.options.screenshot)
        if self.flow.live is not None:
            self.flow.live.stop()

    def save_screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not self.window.grab().save(str(path)):
            raise ConfigError(f"could not save the screenshot to {path}")


def run_in_qt(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main()`` (a coroutine factory) on a qasync loop over the QApplication."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("pet-biofeedback")
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        with loop, gui_thread_gc():
            result: T = loop.run_until_complete(main())
            return result
    finally:
        asyncio.set_event_loop(None)


def run_app(options: GuiOptions) -> int:
    """Open the app and run it until its window closes; the exit code."""
    if options.speed <= 0 or math.isnan(options.speed):
        raise ConfigError(f"speed must be positive, got {options.speed!r}")

    async def main() -> int:
        return await Shell(options).run()

    return run_in_qt(main)
