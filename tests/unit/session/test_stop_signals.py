"""`StopSignals`: a stop signal cancels the task once, and the task can take it back (issue 9)."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from pet_biofeedback.session.stop_signals import StopSignals, signal_description

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")


async def test_a_stop_signal_cancels_the_task_and_is_absorbed() -> None:
    previous = signal.getsignal(signal.SIGTERM)
    with StopSignals() as stop:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.sleep(5)  # cancelled by the handler long before
            raise AssertionError("not cancelled")
        except asyncio.CancelledError:
            assert stop.absorb()
        current = asyncio.current_task()
        assert current is not None and current.cancelling() == 0
    assert stop.requested and stop.signum == signal.SIGTERM
    assert stop.description == "SIGTERM"
    assert signal.getsignal(signal.SIGTERM) == previous  # handlers put back


async def test_other_cancellations_are_not_absorbed() -> None:
    with StopSignals() as stop:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.sleep(5)
        assert not stop.absorb()
        task.uncancel()


def test_signal_descriptions_are_plain_words() -> None:
    assert signal_description(signal.SIGINT) == "Ctrl-C"
    assert signal_description(signal.SIGHUP) == "SIGHUP (hang-up)"
