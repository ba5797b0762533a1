"""The engine's read-ahead: events in batches, bounded, and a stop that ends a quiet session;
a replay hands over the events it holds (`ReplaySource.take_ready`) in the same order."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Self

import pytest

from pet_biofeedback.errors import DeviceError
from pet_biofeedback.events import (
    Battery,
    EcgFrame,
    Event,
    Gap,
    HeartRate,
    Marker,
    RawNotification,
    RRIntervals,
)
from pet_biofeedback.firmware_bridge import hrs
from pet_biofeedback.firmware_bridge.replay import ReplaySource
from pet_biofeedback.recording import RecordingWriter
from pet_biofeedback.session.engine import SessionEngine, SessionPlan
from pet_biofeedback.session.pacer import PacerSettings
from pet_biofeedback.session.read_ahead import ReadAhead
from pet_biofeedback.session.sources import GatedReplaySource

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


# --- sources that hand over what they hold (ReplaySource.take_ready) ---------------------------

REPO = Path(__file__).resolve().parents[3]
SAMPLES = sorted((REPO / "recordings").glob("*.jsonl.gz"))


def _raw_and_out_of_order(path: Path) -> Path:
    """Raw heart-rate notifications to decode (and their lost beats), frames a little out of
    time order, a few far out of order, and a gap."""
    events: list[Event] = [Battery(0.0, 90)]
    for i in range(400):
        rr = (1000, 980) if i % 7 else ()
        flags = 0x10 | 0x06  # RR present, contact supported and detected
        payload = bytes([flags, 60]) + b"".join(v.to_bytes(2, "little") for v in rr)
        events.append(RawNotification(1.0 + i, hrs.HEART_RATE_MEASUREMENT_UUID, payload))
        events.append(EcgFrame(1.0 + i - 0.3 * (i % 3), 130.0, (1.0, 2.0, 3.0)))
        if i % 97 == 5:
            events.append(Marker(i - 20.0, "far out of order"))
        if i == 200:
            events.append(Gap(200.5, 3.0, "contact lost"))
    with RecordingWriter(path, device={}, settings={}) as writer:
        for event in events:
            writer.write(event)
    return path


async def _played(source: ReplaySource, batch: int) -> list[Event]:
    """Everything the source plays, taking ``batch`` events with `take_ready` after each one
    awaited (0: `__anext__` only)."""
    out: list[Event] = []
    async with source:
        async for event in source:
            out.append(event)
            if batch:
                source.take_ready(out, batch)
    return out


@pytest.mark.parametrize("batch", [1, 7, 256])
async def test_take_ready_plays_what_anext_alone_plays(batch: int, tmp_path: Path) -> None:
    paths = [*SAMPLES, _raw_and_out_of_order(tmp_path / "raw.jsonl.gz")]
    for path in paths:
        alone = await _played(ReplaySource(path, speed=math.inf), 0)
        assert await _played(ReplaySource(path, speed=math.inf), batch) == alone
        gated = await _played(GatedReplaySource(path, speed=math.inf), 0)
        assert await _played(GatedReplaySource(path, speed=math.inf), batch) == gated
    assert any(isinstance(e, RRIntervals) for e in alone)  # the raw ones were decoded


async def test_take_ready_holds_back_below_full_speed(tmp_path: Path) -> None:
    source = ReplaySource(_raw_and_out_of_order(tmp_path / "r.jsonl.gz"), speed=1000.0)
    async with source:
        first = await anext(source)
        held: list[Event] = []
        source.take_ready(held, 100)
        assert first is not None and held == []  # paced: nothing is due without waiting
