"""`ReplaySource.set_speed`: the replay view's ×1/×4/×16/max while playing (issue 8)."""

from __future__ import annotations

import asyncio
import itertools
import math

import pytest

from pet_biofeedback.errors import ConfigError
from pet_biofeedback.events import Event, HeartRate
from pet_biofeedback.firmware_bridge.replay import ReplaySource
from tests.unit.firmware_bridge.test_replay import TIMEOUT_S, FakeClock


def beats(n: int) -> list[Event]:
    return [HeartRate(float(k), 60.0) for k in range(n)]


async def clock_at_each_event(
    source: ReplaySource, clock: FakeClock, speeds: dict[float, float]
) -> list[float]:
    """The clock when each event came; ``speeds`` maps an event time to a new speed set then."""
    times: list[float] = []
    async with asyncio.timeout(TIMEOUT_S), source:
        async for event in source:
            times.append(clock.now_s)
            if event.t in speeds:
                source.set_speed(speeds[event.t])
    return times


class TestSetSpeed:
    async def test_a_faster_speed_shortens_the_waits_from_there_on(self) -> None:
        clock = FakeClock()
        source = ReplaySource.from_events(beats(7), clock=clock, sleep=clock.sleep)
        times = await clock_at_each_event(source, clock, {2.0: 4.0})
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert gaps == pytest.approx([1.0, 1.0, 0.25, 0.25, 0.25, 0.25])
        assert source.speed == 4.0

    async def test_max_then_real_time_again(self) -> None:
        clock = FakeClock()
        source = ReplaySource.from_events(beats(7), clock=clock, sleep=clock.sleep)
        times = await clock_at_each_event(source, clock, {1.0: math.inf, 4.0: 1.0})
        gaps = [b - a for a, b in itertools.pairwise(times)]
        # at max nothing waits; back at ×1 the position goes on from the last event played
        assert gaps == pytest.approx([1.0, 0.0, 0.0, 0.0, 1.0, 1.0])

    async def test_a_paused_source_stays_paused(self) -> None:
        clock = FakeClock()
        source = ReplaySource.from_events(beats(5), clock=clock, sleep=clock.sleep)
        async with asyncio.timeout(TIMEOUT_S), source:
            it = aiter(source)
            await anext(it)
            source.pause()
            source.set_speed(16.0)
            assert source.paused
            waiting = asyncio.ensure_future(anext(it))
            for _ in range(20):
                await asyncio.sleep(0)
            assert not waiting.done()
            source.resume()
            started_s = clock.now_s
            assert (await waiting).t == 1.0
            assert clock.now_s - started_s == pytest.approx(1.0 / 16.0)

    @pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, True])
    def test_bad_speed_is_refused(self, bad: float) -> None:
        source = ReplaySource.from_events(beats(2))
        with pytest.raises(ConfigError):
            source.set_speed(bad)
