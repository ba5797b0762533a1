"""Run a test's coroutine on a qasync loop (Qt timers and asyncio tasks together)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import qasync
from PySide6.QtWidgets import QApplication

T = TypeVar("T")
TIMEOUT_S = 90.0


def run_in_qt(scenario: Callable[[], Awaitable[T]], timeout_s: float = TIMEOUT_S) -> T:
    app = QApplication.instance() or QApplication([])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)

    async def bounded() -> T:
        async with asyncio.timeout(timeout_s):
            return await scenario()

    try:
        with loop:
            result: T = loop.run_until_complete(bounded())  # qasync is untyped
            return result
    finally:
        asyncio.set_event_loop(None)


async def wait_until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    """Poll ``condition`` while Qt and asyncio run (state lives in widgets, not in events)."""
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110  # widget state has no asyncio.Event
            await asyncio.sleep(0.02)
