"""The one QObject between the Qt-free engine and the widgets (style.md §2.9).

The engine calls its subscribers on the asyncio task that runs it; under qasync that is the
GUI thread, so re-emitting as Qt signals is a direct call. Payloads are the engine's frozen
dataclasses: ``snapshot`` carries a `FeedbackSnapshot`.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from pet_biofeedback.events import Event, Link
from pet_biofeedback.session.engine import SessionEngine
from pet_biofeedback.session.feedback import FeedbackSnapshot

__all__ = ["EngineBridge"]


class EngineBridge(QObject):
    """Re-emits what the engine publishes as Qt signals."""

    snapshot = Signal(object)  # FeedbackSnapshot, one per beat
    link = Signal(object)  # events.Link, every link change
    ended = Signal(object)  # the finished session (run.SessionOutcome) or an error message (str)

    def attach(self, engine: SessionEngine) -> None:
        engine.subscribe(self._on_snapshot)

    def on_event(self, event: Event) -> None:
        """Give this to the recorder's ``on_event``: link changes reach the views at once."""
        if isinstance(event, Link):
            self.link.emit(event)

    def _on_snapshot(self, snapshot: FeedbackSnapshot) -> None:
        self.snapshot.emit(snapshot)
