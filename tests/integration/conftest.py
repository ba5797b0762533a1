"""Fixtures for the integration tests: a fresh emulated radio and a virtual clock per test.

Bumble (the ``emulated`` extra) is imported inside the fixtures, so that the other
integration tests in this directory do not depend on it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest


@pytest.fixture
async def make_world() -> AsyncIterator[Callable[..., Any]]:
    """Factory of fresh `EmulatedWorld`s (own LocalLink and central; §8.4: one per test).

    The test adds its peripherals, then enters the world; any world still open at the end of
    the test (it failed inside ``async with world``) is closed here.
    """
    emulated_world = pytest.importorskip(
        "pet_biofeedback.firmware_bridge.emulated_world", reason="needs the 'emulated' extra"
    )
    worlds: list[Any] = []

    def make(**kwargs: Any) -> Any:
        world = emulated_world.EmulatedWorld(**kwargs)
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        if world._open:
            await world.__aexit__(None, None, None)


@pytest.fixture
def vclock() -> Any:
    """A virtual monotonic clock for `BleStrap`: ``clock=vclock, sleep=vclock.sleep``."""
    emulated_harness = pytest.importorskip(
        "pet_biofeedback.firmware_bridge.emulated_harness", reason="needs the 'emulated' extra"
    )
    return emulated_harness.VirtualClock()
