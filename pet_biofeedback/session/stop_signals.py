"""Stop a running command cleanly on Ctrl-C, SIGTERM and SIGHUP (issue 9).

`StopSignals` is a context manager used inside the coroutine that runs a command (``record``,
``replay``; next ``session`` and ``assess``). While it is active, SIGINT, SIGTERM and SIGHUP
set `StopSignals.requested` and cancel that coroutine's task, so that every ``finally`` and
``async with`` on the way out runs: the recorder writes what it holds, finishes the gzip
stream, fsyncs and closes the file; the source disconnects. Code that can stop gracefully checks
`StopSignals.requested` when the cancellation reaches it (the recorder returns its summary);
the command then prints its normal summary and exits 0.

Why install handlers ourselves: ``asyncio.run`` turns Ctrl-C into a cancellation only when
SIGINT has Python's default handler. A process started with SIGINT ignored (``nohup``, ``&``
in some shells) would ignore Ctrl-C, and SIGTERM/SIGHUP would kill it with the gzip stream
unfinished (exit 143). ``loop.add_signal_handler`` installs the handlers explicitly, whatever
the process inherited. A second signal while stopping cancels again (the file is still closed:
its close is shielded). On leaving, the previous handlers are put back.

Where the loop cannot take signal handlers (Windows, a thread other than the main one), the
context manager does nothing and Ctrl-C keeps its default behaviour.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from types import TracebackType
from typing import Final, Self

__all__ = ["STOP_SIGNALS", "StopSignals", "signal_description"]

logger = logging.getLogger(__name__)

STOP_SIGNALS: Final = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
_DESCRIPTIONS: Final = {"SIGINT": "Ctrl-C", "SIGTERM": "SIGTERM", "SIGHUP": "SIGHUP (hang-up)"}


def signal_description(signum: int) -> str:
    """Plain words for a stop signal: "Ctrl-C", "SIGTERM", …"""
    try:
        name = signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
    return _DESCRIPTIONS.get(name, name)


class StopSignals:
    """Turn stop signals into a clean stop of the current task (module docstring).

    Parameters
    ----------
    signals : tuple of int, default `STOP_SIGNALS`
        The signals that stop (SIGINT, SIGTERM, SIGHUP where the platform has them).

    Attributes
    ----------
    requested : bool
        A stop signal arrived.
    signum : int or None
        The first one.

    Notes
    -----
    Enter it inside a coroutine (it needs the running loop and the current task).
    """

    def __init__(self, signals: tuple[int, ...] = STOP_SIGNALS) -> None:
        self._signals = signals
        self._installed: list[tuple[int, Callable[..., object] | int | None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[object] | None = None
        self.requested = False
        self.signum: int | None = None

    @property
    def description(self) -> str:
        """How the stop was asked for, in plain words ("Ctrl-C", "SIGTERM"); "" before."""
        return "" if self.signum is None else signal_description(self.signum)

    def __enter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        for signum in self._signals:
            previous = signal.getsignal(signum)
            try:
                self._loop.add_signal_handler(signum, self._on_signal, signum)
            except (NotImplementedError, RuntimeError, ValueError) as exc:
                logger.debug("cannot handle signal %s here: %s", signum, exc)
                continue
            self._installed.append((signum, previous))
        return self

    def _on_signal(self, signum: int) -> None:
        if not self.requested:
            self.requested = True
            self.signum = signum
            logger.info("stopping: %s", signal_description(signum))
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        loop, installed, self._installed = self._loop, self._installed, []
        for signum, previous in installed:
            if loop is not None:
                loop.remove_signal_handler(signum)
            if previous is not None:
                signal.signal(signum, previous)

    def absorb(self) -> bool:
        """Take back the cancellation a stop signal caused; True if there was one.

        Call it in ``except asyncio.CancelledError``: when the cancellation came from a stop
        signal, the task is un-cancelled (it may finish normally) and True is returned; else
        False and the caller re-raises.
        """
        if not self.requested:
            return False
        task = asyncio.current_task()
        if task is not None:
            while task.cancelling():
                task.uncancel()
        return True
