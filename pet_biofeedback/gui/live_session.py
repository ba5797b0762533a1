"""One running session as the app shows it: source → engine → recorder, and its page.

Built by the composition root for each session; it wires the parts exactly as the headless
`session` command does (`session.run.run_session`), with a `SessionWindow` embedded as the
page and the `EngineBridge` between them. Nothing here computes: the engine does.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from pet_biofeedback.errors import ConfigError
from pet_biofeedback.events import Event, Link
from pet_biofeedback.gui.bridge import EngineBridge
from pet_biofeedback.gui.look import Look
from pet_biofeedback.gui.session_window import SessionWindow
from pet_biofeedback.session.engine import SessionEngine, SessionPlan
from pet_biofeedback.session.feedback import DEFAULT_LEVELS, FeedbackLevels
from pet_biofeedback.session.pacer import rate_on_grid
from pet_biofeedback.session.run import SessionOutcome, run_session
from pet_biofeedback.session.sources import describe_source, open_source
from pet_biofeedback.session.trace import SessionClock, SessionTrace

__all__ = ["LiveSession"]

AskAfter = Callable[[], Awaitable[Mapping[str, int]]]


class LiveSession:
    """A session's parts (held here so that Qt does not collect them).

    Parameters
    ----------
    spec : str
        The source, as `open_source` takes it.
    plan : SessionPlan
    speed : float
        For simulated and file sources (``math.inf``: as fast as possible).
    ask_after : callable, optional
        Asked by the engine when the session ends, for the after-ratings.
    on_link : callable, optional
        Every link change (the device picker's connection log).
    faults : str, optional
        Fault injection for an emulated strap, as `open_source` takes it.

    Raises
    ------
    PetBiofeedbackError
        The source cannot be opened (`ConfigError`, `InputFileError`, `DeviceError`).
    """

    def __init__(
        self,
        spec: str,
        plan: SessionPlan,
        *,
        speed: float = 1.0,
        levels: FeedbackLevels = DEFAULT_LEVELS,
        look: Look | None = None,
        ask_after: AskAfter | None = None,
        on_link: Callable[[Link], None] | None = None,
        faults: str | None = None,
    ) -> None:
        self.spec = spec
        self.plan = plan
        self.speed = speed
        self.engine: SessionEngine | None = None
        source = open_source(spec, speed=speed, pacer=self._pacer_position, faults=faults)
        self.engine = engine = SessionEngine(source, plan, levels=levels, ask_after=ask_after)
        self.device = describe_source(spec, speed=speed)
        self.clock = SessionClock(speed)
        self.trace = SessionTrace(engine)
        self.bridge = EngineBridge()
        self.bridge.attach(engine)
        rate = (
            "free breathing"
            if plan.pacer is None
            else (f"{plan.pacer.breaths_per_min:g} breaths/min")
        )
        self.page = SessionWindow(
            pacer_now=lambda: engine.pacer_state(self.clock.now()),
            trace_now=lambda: self.trace.arrays(self.clock.now()),
            title=f"{plan.protocol}, {rate}",
            embedded=True,
            look=look,
        )
        self.page.show_time(0.0, plan.seconds)
        self.bridge.snapshot.connect(self.page.on_snapshot)
        self.bridge.link.connect(self.page.on_link)
        if on_link is not None:
            self.bridge.link.connect(on_link)
        self.page.stop_requested.connect(engine.request_stop)
        self.page.pacer_rate_changed.connect(self._change_rate)
        self.task: asyncio.Future[SessionOutcome] | None = None

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
            self.page.statusBar().showMessage(exc.user_message, 4000)
            return
        self.engine.change_pacer(settings)
        self.page.statusBar().showMessage(f"Pacer: {breaths_per_min:g} breaths/min", 3000)

    def _on_event(self, event: Event) -> None:
        self.clock.seen(event.t)
        self.bridge.on_event(event)

    def start(
        self, recording: Path, ratings_before: Mapping[str, int] | None = None
    ) -> asyncio.Future[SessionOutcome]:
        """Start recording to ``recording``; the future ends with the session."""
        assert self.engine is not None
        self.task = asyncio.ensure_future(
            run_session(
                self.engine,
                recording,
                ratings_before=ratings_before,
                device=self.device,
                speed=self.speed,
                on_event=self._on_event,
            )
        )
        return self.task

    def stop(self) -> None:
        """End early: everything so far stays recorded, the after-ratings are still asked."""
        if self.engine is not None:
            self.engine.request_stop()
