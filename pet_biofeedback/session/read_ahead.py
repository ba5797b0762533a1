"""Events read ahead of a consumer, handed over in batches (the session engine's source).

The engine reads its source in a task of its own, so that a stop request ends a session even
while a quiet strap sends nothing. Passing events through an `asyncio.Queue` one at a time
cost a ``put`` and a ``get`` per event (a 60-min replay at ``--speed max`` has 37 000); here
the reader appends to a list and the consumer takes everything waiting at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable

from pet_biofeedback.events import Event

__all__ = ["ReadAhead"]


class ReadAhead:
    """Events read from a source and not yet taken, at most ``limit`` of them.

    `fill` (a task) reads the source into the buffer and waits while ``limit`` events wait;
    the consumer waits for `ready` and then `take`\\ s all of them. After the source ended
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
        try:
            async for event in source:
                self._events.append(event)  # a new list after each `take`
                self.ready.set()
                if len(self._events) >= self.limit:
                    self._space.clear()
                    await self._space.wait()
        except Exception as exc:  # the consumer re-raises it after the events before it
            self.error = exc
        finally:
            self.ended = True
            self.ready.set()
