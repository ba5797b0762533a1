"""Run one session end to end: source → engine → recorder, a view, the summary afterwards.

This is the composition root of a headless session (the `session` command); the Qt window
has its own (docs/design.md §6) and wires the same parts. The recording is written first and
closed; only then is it analysed for the summary, so a crash can never leave a summary without
its recording. The analysis gathers the events as the recorder writes them
(`analysis.RecordingAccumulator`), so the file need not be read again, and gives what
`analyze` of the file gives.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pet_biofeedback.events import Event, Rating
from pet_biofeedback.session.engine import SessionEngine
from pet_biofeedback.session.terminal import TerminalView

if TYPE_CHECKING:
    from pet_biofeedback.session.analysis import RecordingAccumulator

__all__ = ["RATING_KINDS", "SessionOutcome", "run_session", "session_summary"]

logger = logging.getLogger(__name__)

RATING_KINDS: Final = ("pain_before", "mood_before", "pain_after", "mood_after")
# The terminal view extrapolates session time from the last event by at most this much
# (a strap notifies about once a second).
_MAX_EXTRAPOLATION_S: Final = 1.5


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionOutcome:
    """What a finished session leaves: its file, summary, protocol and ratings."""

    recording: Path
    summary: dict[str, Any]
    protocol: dict[str, Any]
    ratings: dict[str, int | None]
    stopped_early: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "recording": str(self.recording),
            "summary": self.summary,
            "protocol": self.protocol,
            "ratings": self.ratings,
        }


def session_summary(
    path: Path, live: Mapping[str, Any], written: RecordingAccumulator | None = None
) -> dict[str, Any]:
    """The session's measures: the recording analysed as `analyze` does, plus what was shown.

    ``coherence`` and ``rsa_bpm`` are the means of the values the person saw as valid (the
    engine's `live_summary`); everything else comes from the whole-recording analysis, so a
    session's summary and `analyze` of its file agree. ``written``: what the recorder
    gathered while it wrote the (now closed) file, analysed instead of reading the file
    again, with the same result. ``breathing_source`` says where ``breathing_rate_bpm``
    comes from, as `analyze` and the live feedback say it: ``"acc"``, ``"ecg"``,
    ``"rr-estimate"`` or None.
    """
    from pet_biofeedback.errors import InputFileError
    from pet_biofeedback.session.analysis import analyze_file, report_dict
    from pet_biofeedback.signal.batch import AnalysisSettings

    summary: dict[str, Any] = {}
    try:
        if written is None:
            found = analyze_file(path, AnalysisSettings())
        else:
            found = written.result(str(path), AnalysisSettings())
        report = report_dict(found)
        summary.update(report["summary"])
        summary["breathing_source"] = report["settings"].get("breathing_source")
        summary["notes"] = report["settings"].get("notes", [])
    except InputFileError as exc:  # e.g. a session too short for HRV: say so, keep going
        summary["breathing_source"] = None
        summary["notes"] = [exc.user_message]
    summary["coherence_shown"] = live.get("coherence")
    summary["rsa_bpm"] = live.get("rsa_bpm")
    summary["feedback_paused_s"] = live.get("feedback_paused_s")
    return summary


async def _redraw(
    view: TerminalView, engine: SessionEngine, last: list[float], speed: float
) -> None:
    while True:
        await asyncio.sleep(view.interval_s)
        t_event, wall = last
        extra = 0.0 if math.isinf(speed) else (time.monotonic() - wall) * speed
        view.draw(engine.pacer_state(t_event + min(extra, _MAX_EXTRAPOLATION_S)))


# What the summary's analysis imports that the session itself does not: scipy.signal, under
# the accelerometer and ECG analyses, costs about a second to import (scipy 1.17), which the
# end of every session waited for.
_SUMMARY_MODULES: Final = (
    "pet_biofeedback.signal.respiration_chunked",
    "pet_biofeedback.signal.ecg_chunked",
)


def _import_summary_modules_meanwhile() -> None:
    """Import `_SUMMARY_MODULES` on a daemon thread while the session runs.

    A live session leaves the interpreter idle between beats, and a fast replay's engine
    waits for its reader now and then: the import fits in those pauses instead of after the
    session. The summary imports the same modules itself (Python's import lock makes it
    wait for a half-done import); a failure here is left for it to report.
    """

    def work() -> None:
        for name in _SUMMARY_MODULES:
            try:
                importlib.import_module(name)
            except Exception as exc:  # the summary imports it again and says what is wrong
                logger.debug("summary module %s not imported ahead: %s", name, exc)

    threading.Thread(target=work, name="pet-summary-imports", daemon=True).start()


async def run_session(
    engine: SessionEngine,
    path: Path,
    *,
    ratings_before: Mapping[str, int] | None = None,
    view: TerminalView | None = None,
    speed: float = 1.0,
    device: Mapping[str, object] | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> SessionOutcome:
    """Run ``engine``'s session (its source not yet opened), recording to ``path``.

    The caller builds the engine (and wires a stop request, a simulated person's pacer, the
    after-ratings to it). ``on_event`` sees every recorded event (a window's clock and link
    display). Cancellation keeps the recording: the recorder closes the file on every exit
    path.
    """
    from pet_biofeedback.session.analysis import RecordingAccumulator
    from pet_biofeedback.session.recorder import record

    plan = engine.plan
    ratings: dict[str, int | None] = dict.fromkeys(RATING_KINDS)
    for kind, value in (ratings_before or {}).items():
        engine.rate(kind, value)
        ratings[kind] = value
    last = [0.0, time.monotonic()]

    def seen(event: Event) -> None:
        last[0], last[1] = event.t, time.monotonic()
        if isinstance(event, Rating):
            ratings[event.kind] = int(event.value)
        if on_event is not None:
            on_event(event)

    redraw: asyncio.Task[None] | None = None
    if view is not None:
        engine.subscribe(view.on_snapshot)
        redraw = asyncio.create_task(_redraw(view, engine, last, speed))
    # The summary's analysis is gathered from what the recorder writes (on its thread), so
    # the file is not read again once closed.
    written = RecordingAccumulator()
    _import_summary_modules_meanwhile()
    try:
        await record(
            engine,
            path,
            device=dict(device or {}),
            settings=plan.header_settings(),
            on_event=seen,
            tap=written,
        )
    finally:
        if redraw is not None and view is not None:
            redraw.cancel()
            await asyncio.gather(redraw, return_exceptions=True)
            view.end()
    summary = await asyncio.to_thread(session_summary, path, engine.live_summary(), written)
    protocol: dict[str, Any] = {"name": plan.protocol, **plan.header_settings()}
    return SessionOutcome(
        recording=path,
        summary=summary,
        protocol=protocol,
        ratings=ratings,
        stopped_early=engine.stopped_early,
    )
