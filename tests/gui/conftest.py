"""GUI tests: offscreen Qt (set by the root conftest before any Qt import), marked ``gui``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest
import qasync

from pet_biofeedback.gui.gui_thread_gc import gui_thread_gc

T = TypeVar("T")

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if Path(item.path).resolve().is_relative_to(_HERE):
            item.add_marker(pytest.mark.gui)


@pytest.fixture(autouse=True)
def _garbage_on_the_gui_thread(qapp: Any) -> Iterator[None]:
    """As in the app (`gui.gui_thread_gc`): no Qt object is collected on a worker thread, in
    this test or (left over from it) in a later one."""
    with gui_thread_gc():
        yield


@pytest.fixture
def artifacts_dir() -> Path:
    """Screenshots for a person to look at (not compared pixel by pixel)."""
    folder = Path(__file__).resolve().parents[2] / "build" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class RunQt(Protocol):
    """The ``run_qt`` fixture's function: ``coro``'s result, or TimeoutError after ``timeout_s``."""

    def __call__(self, coro: Coroutine[Any, Any, T], timeout_s: float = ...) -> T: ...


@pytest.fixture
def run_qt(qapp: Any) -> Iterator[RunQt]:
    """Run a coroutine on a qasync loop over the test's QApplication (a whole app flow)."""

    def run(coro: Coroutine[Any, Any, T], timeout_s: float = 120.0) -> T:
        loop = qasync.QEventLoop(qapp)
        asyncio.set_event_loop(loop)
        try:
            with loop:
                result: T = loop.run_until_complete(asyncio.wait_for(coro, timeout_s))
                return result
        finally:
            asyncio.set_event_loop(None)

    yield run


async def until(condition: Callable[[], object], timeout_s: float = 60.0) -> None:
    """Wait, letting Qt and asyncio run, until ``condition()`` is true (waitUntil for async)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {condition}")
        await asyncio.sleep(0.02)
