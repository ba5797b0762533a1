"""The engine's read-ahead: events in batches, bounded, and a stop that ends a quiet session."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Self

import pytest

from pet_biofeedback.errors import DeviceError
from pet_biofeedback.events import Event, HeartRate, Marker, RRIntervals
from pet_biofeedback.session.engine import SessionEngine, SessionPlan
from pet_biofeedback.session.pacer import PacerSettings
from pet_biofeedback.session.read_ahead import ReadAhead

PLAN = SessionPlan(protocol="practice", minutes=10, pacer=PacerSettings(breaths_per_min=6.0))


class QuietSource:
    """Yields ``events`` (letting the loop run every ``pause_every``), then sends nothing
    (a strap gone quiet) or raises ``fail_with``."""

    def __init__(
        self,
        events: list[Event],
        *,
        pause_every: int = 0,
        fail_with: Exception | None = None,
    ) -> None:
        self.events = events
        self.pause_every = pause_every
        self.fail_with = fail_with
        self.n_yielded = 0
        self.quiet = asyncio.Event()  # set once everything was sent

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    async def _events(self) -> AsyncIterator[Event]:
        for i, event in enumerate(self.events):
            if self.pause_every and i % self.pause_every == 0:
                await asyncio.sleep(0)
            self.n_yielded += 1
            yield event
        if self.fail_with is not None:
            raise self.fail_with
        self.quiet.set()
        await asyncio.Event().wait()


def beats(n: int) -> list[Event]:
    return [RRIntervals(0.9 * (i + 1), (900.0,)) for i in range(n)]


async def test_read_ahead_hands_over_batches_in_order_and_stays_bounded() -> None:
    events = beats(1000)
    source = QuietSource(events, fail_with=DeviceError("gone", user_message="gone"))
    ahead = ReadAhead(64)
    reader = asyncio.create_task(ahead.fill(source))
    taken: list[Event] = []
    sizes: list[int] = []
    while True:
        await ahead.ready.wait()
        batch = ahead.take()
        if not batch and ahead.ended:
            break
        assert source.n_yielded - len(taken) <= 64  # never read further ahead than that
        sizes.append(len(batch))
        taken += batch
        await asyncio.sleep(0)
    await reader
    assert taken == events
    assert max(sizes) == 64 and len(sizes) < 100  # batches, not one event at a time
    assert isinstance(ahead.error, DeviceError)


async def test_a_stop_request_ends_a_quiet_session_promptly() -> None:
    source = QuietSource([HeartRate(0.5, 60.0), *beats(20)])
    engine = SessionEngine(source, PLAN)
    seen: list[Event] = []

    async def session() -> None:
        async with engine:
            async for event in engine:
                seen.append(event)

    task = asyncio.create_task(session())
    await asyncio.wait_for(source.quiet.wait(), timeout=10.0)
    await asyncio.sleep(0.05)  # the engine has taken everything and waits
    engine.request_stop()
    await asyncio.wait_for(task, timeout=2.0)
    assert engine.stopped_early
    assert sum(isinstance(e, RRIntervals) for e in seen) == 20
    assert isinstance(seen[-1], Marker) and seen[-1].text == "session end: stopped early"


async def test_a_stop_request_ends_a_busy_session_within_the_batch() -> None:
    source = QuietSource(beats(2000), pause_every=300)
    engine = SessionEngine(source, PLAN)
    n_beats = 0
    async with engine:
        async for event in engine:
            if isinstance(event, RRIntervals):
                n_beats += 1
                if n_beats == 10:
                    engine.request_stop()
    assert engine.stopped_early and n_beats == 10


async def test_the_sources_error_comes_after_its_events() -> None:
    source = QuietSource(beats(30), fail_with=DeviceError("strap lost", user_message="lost"))
    engine = SessionEngine(source, PLAN)
    n_beats = 0
    with pytest.raises(DeviceError, match="strap lost"):
        async with engine:
            async for event in engine:
                n_beats += isinstance(event, RRIntervals)
    assert n_beats == 30
