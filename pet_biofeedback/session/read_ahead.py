"""Events read ahead of a consumer, handed over in batches (the session engine's source).

The engine reads its source in a task of its own, so that a stop request ends a session even
while a quiet strap sends nothing. Passing events through an `asyncio.Queue` one at a time
cost a ``put`` and a ``get`` per event (a 60-min replay at ``--speed max`` has 37 000); here
the reader appends to a list and the consumer takes everything waiting at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Callable
from typing import TypeAlias

from pet_biofeedback.events import Event

__all__ = ["ReadAhead"]

_TakeReady: TypeAlias = Callable[[list[Event], int], None]


class ReadAhead:
    """Events read from a source and not yet taken, at most ``limit`` of them.

    `fill` (a task) reads the source into the buffer and waits while ``limit`` events wait;
    the consumer waits for `ready` and then `take`\\ s all of them. A source with a
    ``take_ready(into, limit)`` method (`ReplaySource.take_ready`) hands over the events it
    holds with each one awaited. After the source ended
    (`ended`), ``error`` holds what it raised, if anything.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        self.limit = limit
        self._events: list[Event] = []
        self.ended = False
        self.error: Exception | None = None
        self.ready = asyncio.Event()  # set while events wait or the source has ended
        self._space = asyncio.Event()  # set while fewer than `limit` events wait
        self._space.set()

    def take(self) -> list[Event]:
        """Every event waiting, oldest first (empty when none); the reader may go on."""
        events, self._events = self._events, []
        if not self.ended:
            self.ready.clear()
        self._space.set()
        return events

    async def fill(self, source: AsyncIterable[Event]) -> None:
        """Read ``source`` to its end; an `Exception` it raises is kept in ``error``."""
        # A source that can hand over the events it holds without waiting (a replay at full
        # speed: `ReplaySource.take_ready`) is asked for them after each one awaited.
        take_ready: _TakeReady | None = getattr(source, "take_ready", None)
        try:
            async for event in source:
                self._events.append(event)  # a new list after each `take`
                if take_ready is not None and len(self._events) < self.limit:
                    take_ready(self._events, self.limit - len(self._events))
                self.ready.set()
                if len(self._events) >= self.limit:
                    self._space.clear()
                    await self._space.wait()
        except Exception as exc:  # the consumer re-raises it after the events before it
            self.error = exc
        finally:
            self.ended = True
            self.ready.set()
