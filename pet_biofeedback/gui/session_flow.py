"""The session flow: ratings before → the session → ratings after → the summary (issue 8).

A controller, not a widget: it shows pages in the `MainWindow`, waits for the person's
answers, and hands everything to the engine (ratings become `Rating` events through
`run_session` and the engine's ``ask_after``). Stopping early still asks the after-ratings;
everything recorded stays. At the end the session is added to the history, as the command
line does, an assessment is scored and its rate becomes the practice rate, and the summary
shows the session's measures and the practice trends. The report opens in the browser.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QUrl, Signal

from pet_biofeedback.errors import PetBiofeedbackError
from pet_biofeedback.events import Link
from pet_biofeedback.gui.countdown import COUNTDOWN_S
from pet_biofeedback.gui.live_session import LiveSession
from pet_biofeedback.gui.look import Look
from pet_biofeedback.gui.main_window import MainWindow
from pet_biofeedback.gui.ratings_page import RatingsView
from pet_biofeedback.gui.summary_page import SummaryView
from pet_biofeedback.session.assessment import AssessmentPlan, AssessmentSettings, make_plan
from pet_biofeedback.session.engine import BASELINE_MINUTES, SessionPlan
from pet_biofeedback.session.feedback import DEFAULT_LEVELS, FeedbackLevels
from pet_biofeedback.session.feedback_difficulty import with_difficulty
from pet_biofeedback.session.practice import PracticeSummary, practice_summary
from pet_biofeedback.session.preferences import CoachSettings
from pet_biofeedback.session.run import SessionOutcome

__all__ = ["FlowOptions", "SessionFlow"]

logger = logging.getLogger(__name__)

OpenUrl = Callable[[QUrl], bool]


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowOptions:
    """How the flow runs: whose sessions, how fast, where recordings go, what to ask."""

    profile: str = "default"
    speed: float = 1.0
    recording: Callable[[], Path]
    assessment: AssessmentSettings | None = None  # None: the defaults with the settings' ratio
    ask_ratings: bool = True
    countdown_s: int = COUNTDOWN_S  # "get ready" before recording; 0: none (unattended, tests)


def _history_after(profile: str) -> tuple[PracticeSummary, FeedbackLevels]:
    """Index the new recording (as the CLI does) and read the profile's practice (a thread)."""
    from pet_biofeedback.session.history import open_history

    store, _ = open_history()
    with store:
        sessions = store.sessions(profile)
        levels = store.feedback_levels(profile)
    return practice_summary(sessions, today=datetime.now().astimezone().date()), levels


def _levels(profile: str) -> FeedbackLevels:
    from pet_biofeedback.session.history import HistoryStore

    with HistoryStore() as store:
        return store.feedback_levels(profile)


class SessionFlow(QObject):
    """Runs sessions in ``window`` (module docstring)."""

    finished = Signal()  # the person left the summary, or the session could not run
    session_started = Signal(object)  # the LiveSession, once its page shows

    def __init__(
        self,
        window: MainWindow,
        options: FlowOptions,
        *,
        open_url: OpenUrl,
        on_link: Callable[[Link], None] | None = None,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.options = options
        self._open_url = open_url
        self._on_link = on_link
        self.before = RatingsView(when="before", heading="Before we start: how are you?")
        self.after = RatingsView(when="after", heading="The session is over. How are you now?")
        self.summary = SummaryView()
        self.summary.report_requested.connect(self._open_report)
        self.summary.done.connect(self.finished)
        self.live: LiveSession | None = None
        self.outcome: SessionOutcome | None = None
        self.report: Path | None = None
        self._assessment_result: Mapping[str, Any] | None = None
        self._waiting: list[asyncio.Future[dict[str, int]]] = []
        self._closing = False
        self.report_task: asyncio.Future[Path | None] | None = None

    # ------------------------------------------------------------------ plans
    def plan(
        self, protocol: str, settings: CoachSettings
    ) -> tuple[SessionPlan, AssessmentPlan | None]:
        """The engine's plan for ``protocol`` with the profile's settings."""
        from pet_biofeedback.session.assessment_run import session_plan

        profile = self.options.profile
        if protocol == "assessment":
            chosen = self.options.assessment or AssessmentSettings(
                inhale_parts=settings.inhale_parts, exhale_parts=settings.exhale_parts
            )
            assessment = make_plan(chosen)
            return session_plan(assessment, profile=profile), assessment
        if protocol == "baseline":
            minutes = min(max(settings.minutes, BASELINE_MINUTES[0]), BASELINE_MINUTES[1])
            return SessionPlan(protocol="baseline", minutes=minutes, profile=profile), None
        return (
            SessionPlan(
                protocol="practice",
                minutes=settings.minutes,
                pacer=settings.pacer(),
                profile=profile,
            ),
            None,
        )

    # ------------------------------------------------------------------ the flow
    async def run(
        self,
        spec: str,
        plan: SessionPlan,
        *,
        settings: CoachSettings,
        assessment: AssessmentPlan | None = None,
        ask_before: bool = True,
        faults: str | None = None,
    ) -> SessionOutcome | None:
        """One session from the ratings before to the summary; None when it failed.

        A failure (the source cannot be opened or read, e.g. a damaged file) is shown in a
        message with its plain sentence; the app keeps running. ``faults``: fault injection
        for an emulated strap (`open_source`).
        """
        self.report = None
        self._assessment_result = None
        ask = self.options.ask_ratings
        before = await self._ask(self.before) if ask and ask_before else {}
        if self._closing:
            return None
        try:
            levels = await asyncio.to_thread(_levels, plan.profile)
        except PetBiofeedbackError as exc:  # no history yet or unreadable: start levels
            logger.info("feedback levels from defaults: %s", exc)
            levels = DEFAULT_LEVELS
        self._drop_old_page()
        try:
            self.live = LiveSession(
                spec,
                plan,
                speed=self.options.speed,
                levels=with_difficulty(levels, settings.difficulty),
                look=Look(
                    colour_blind=settings.colour_blind_palette, large_text=settings.large_text
                ),
                ask_after=(lambda: self._ask(self.after)) if ask else None,
                on_link=self._on_link,
                faults=faults,
            )
            self.window.show_page(self.live.page)
            self.session_started.emit(self.live)
            if not await self._get_ready(self.live):
                return None
            outcome = await self.live.start(self.options.recording(), before)
        except PetBiofeedbackError as exc:
            logger.warning("session failed: %s", exc)
            if self.live is not None:
                self.live.page.on_session_ended()
            self.window.show_problem("The session could not run", exc.user_message)
            self.finished.emit()  # back to the start page, under the message
            return None
        self.live.page.on_session_ended()
        self.outcome = outcome
        practice: PracticeSummary | None = None
        try:
            practice, _ = await asyncio.to_thread(_history_after, plan.profile)
        except PetBiofeedbackError as exc:  # the recording is safe; the next start indexes it
            logger.warning("the session was not added to the history yet: %s", exc.user_message)
        result_text = None
        if assessment is not None:
            result_text = await self._score(outcome, assessment)
        self.summary.show_outcome(outcome, practice, result_text=result_text)
        if not self._closing:
            self.window.show_page(self.summary)
        return outcome

    async def _get_ready(self, live: LiveSession) -> bool:
        """The gentle start (`CountdownBanner`); False when the session was stopped during it."""
        if self.options.countdown_s <= 0:
            return True
        page = live.page
        page.stop_requested.connect(page.countdown.cancel)
        try:
            how = await page.countdown.run(self.options.countdown_s)
        finally:
            page.stop_requested.disconnect(page.countdown.cancel)
        if how != "cancelled" and not self._closing:
            return True
        page.on_session_ended()
        page.recording_label.setText("not started — nothing recorded")
        if not self._closing:
            self.finished.emit()  # back to the start page
        return False

    def _drop_old_page(self) -> None:
        """The last session's page leaves the window (its engine is done): no growth per session."""
        old, self.live = self.live, None
        if old is not None:
            self.window.stack.removeWidget(old.page)
            old.page.deleteLater()

    async def _score(self, outcome: SessionOutcome, plan: AssessmentPlan) -> str:
        from pet_biofeedback.session.assessment_run import score_recording
        from pet_biofeedback.session.preferences import remember_practice_rate

        if outcome.stopped_early:
            return "Stopped early: the assessment was not scored (everything is saved)."
        try:
            result = await asyncio.to_thread(score_recording, outcome.recording, plan)
            remember_practice_rate(
                self.options.profile,
                result.recommended_breaths_per_min,
                source=f"assessment {outcome.recording.name}",
            )
        except PetBiofeedbackError as exc:
            return f"The assessment could not be scored: {exc.user_message}"
        self._assessment_result = result.to_dict()
        return (
            f"Recommended: {result.recommended_breaths_per_min:g} breaths/min "
            f"({result.estimate.confidence}). It is now your practice rate. "
            f"{result.estimate.explanation}"
        )

    async def _ask(self, page: RatingsView) -> dict[str, int]:
        """Show ``page`` and wait for its answers (nothing when the window closes)."""
        if self._closing:
            return {}
        page.reset()
        answer: asyncio.Future[dict[str, int]] = asyncio.get_running_loop().create_future()

        def got(values: dict[str, int]) -> None:
            if not answer.done():
                answer.set_result(dict(values))

        page.submitted.connect(got)
        self._waiting.append(answer)
        self.window.show_page(page)
        try:
            return await answer
        finally:
            page.submitted.disconnect(got)
            self._waiting.remove(answer)

    def close(self) -> None:
        """The window is closing: stop the session (it stays recorded), ask nothing more."""
        self._closing = True
        if self.live is not None:
            self.live.page.countdown.cancel()
        for waiting in self._waiting:
            if not waiting.done():
                waiting.set_result({})
        if self.live is not None:
            self.live.stop()

    # ------------------------------------------------------------------ the report
    def _open_report(self) -> None:
        self.report_task = asyncio.ensure_future(self.open_report())

    async def open_report(self) -> Path | None:
        """Write the session's HTML report beside its recording and open it in the browser."""
        from pet_biofeedback.session.report import write_report

        if self.outcome is None:
            return None
        recording = self.outcome.recording
        stem = recording.name.removesuffix(".gz").removesuffix(".jsonl")
        out = recording.with_name(f"{stem}-report.html")
        self.summary.report_button.setEnabled(False)
        try:
            self.report = await asyncio.to_thread(
                write_report, recording, out, force=True, assessment=self._assessment_result
            )
        except PetBiofeedbackError as exc:
            self.window.show_problem("The report could not be written", exc.user_message)
            return None
        finally:
            self.summary.report_button.setEnabled(True)
        if not self._open_url(QUrl.fromLocalFile(str(self.report))):
            self.window.show_problem(
                "No browser opened", f"The report is saved at {self.report}; open it yourself."
            )
        return self.report
