"""A simulated chest strap (issue 3, "Simulated strap"): the async event source.

`SimulatedStrap` (style.md §2.8) turns what `sim_model.StrapModel` measured into the events of
`pet_biofeedback.events`, in real time (``speed=1``), faster, or as fast as possible
(``speed=math.inf``); ``clock`` and ``sleep`` are injectable.

The simulation in three modules, each one idea: `sim_config` (`SimConfig`, the
``sim:key=value,…`` spec), `sim_physiology` (pure functions: RSA, breathing, beats, ECG and
ACC waveforms, pacers) and `sim_model` (`StrapModel`, `SimChunk`, `simulate`); this module
is the source.

Times: model time ``t`` is seconds since the strap was opened; the events carry it as their
``t``, so the same seed gives the same events at any speed.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self, TypeAlias

import numpy as np
import numpy.typing as npt

from pet_biofeedback.errors import ConfigError
from pet_biofeedback.events import (
    AccFrame,
    Battery,
    Contact,
    EcgFrame,
    Event,
    HeartRate,
    Link,
    LinkState,
    RRIntervals,
)
from pet_biofeedback.firmware_bridge.sim_config import SimConfig
from pet_biofeedback.firmware_bridge.sim_model import StrapModel
from pet_biofeedback.firmware_bridge.sim_physiology import (
    ACC_FS_HZ,
    ACC_SAMPLES_PER_FRAME,
    ECG_FS_HZ,
    ECG_SAMPLES_PER_FRAME,
    NOTIFY_INTERVAL_S,
    PacerFn,
)
from pet_biofeedback.recording.frame_arrays import with_caches

__all__ = ["Clock", "SimulatedStrap", "Sleep"]

logger = logging.getLogger(__name__)

_FloatArray: TypeAlias = npt.NDArray[np.float64]

# --- The async source ------------------------------------------------------------------------

Clock: TypeAlias = Callable[[], float]
Sleep: TypeAlias = Callable[[float], Awaitable[None]]


class SimulatedStrap:
    """An event source backed by `StrapModel`, shaped like every source (style.md §2.8).

    ``async with strap:`` opens it; ``async for event in strap:`` yields, in time order:
    `Link` connecting → connected, `Battery`, `Link` streaming (all at t = 0); then every
    second `HeartRate`, `RRIntervals` (only when beats with reportable RR completed during
    that second) and `Contact`, with `EcgFrame` (73 samples, 130 Hz) and `AccFrame`
    (36 samples, 200 Hz) in between when enabled; at ``config.duration_s`` a final
    `Link` disconnected. During a contact dropout the strap reports ``Contact(ok=False)``,
    a heart rate of 0 (as a generic strap does) and no RR. Frames are whole frames only, and
    when ``duration_s`` is not a whole number of seconds the beats of the last partial second
    are not reported (no notification comes for them).

    Parameters
    ----------
    config : SimConfig, optional
        The settings; default ``SimConfig()``.
    pacer : PacerFn, optional
        What the simulated person follows; default a pacer at ``config.breaths_per_min``.
    clock : callable () -> float, default time.monotonic
        Monotonic clock in s; real-time pacing waits until ``clock() − clock_at_open``
        reaches ``t / speed``.
    speed : float, default 1.0
        1 = real time, 10 = ten times faster, ``math.inf`` = as fast as possible (never waits,
        but yields to the event loop once per simulated second).
    sleep : callable (float) -> awaitable, default asyncio.sleep
        How to wait (tests inject one that advances a fake clock).

    Raises
    ------
    ConfigError
        ``speed`` is not positive.

    Notes
    -----
    The events' ``t`` is model time, not the measured clock, so every speed yields the same
    events. A slow consumer delays events but never loses them. Single use: it can be opened
    once; iterating before opening raises RuntimeError, after closing it just ends.
    """

    def __init__(
        self,
        config: SimConfig | None = None,
        *,
        pacer: PacerFn | None = None,
        clock: Clock = time.monotonic,
        speed: float = 1.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not speed > 0:  # also rejects NaN
            raise ConfigError(
                f"speed must be positive (math.inf: as fast as possible), got {speed}"
            )
        self.config = config if config is not None else SimConfig()
        self._pacer = pacer
        self._clock = clock
        self._speed = speed
        self._sleep = sleep
        self._state = "new"
        self._model: StrapModel | None = None
        self._t0 = 0.0
        self._pending: deque[Event] = deque()
        self._ecg_t = np.empty(0)
        self._ecg_uv = np.empty(0)
        self._acc_t = np.empty(0)
        self._acc_mg = np.empty((0, 3))
        self._finished = False

    async def __aenter__(self) -> Self:
        if self._state != "new":
            raise RuntimeError("a SimulatedStrap can be opened only once")
        self._state = "open"
        self._model = StrapModel(self.config, pacer=self._pacer)
        self._t0 = self._clock()
        streams = ["HR + RR"]
        if self.config.ecg_enabled:
            streams.append(f"ECG {ECG_FS_HZ:g} Hz")
        if self.config.acc_enabled:
            streams.append(f"ACC {ACC_FS_HZ:g} Hz")
        name = f"simulated strap (seed {self.config.seed})"
        self._pending.extend(
            (
                Link(0.0, LinkState.CONNECTING, name),
                Link(0.0, LinkState.CONNECTED, name),
                Battery(0.0, self.config.battery_pct),
                Link(0.0, LinkState.STREAMING, ", ".join(streams)),
            )
        )
        logger.info("%s opened: %s, speed %s", name, ", ".join(streams), self._speed)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._state = "closed"
        self._pending.clear()
        self._model = None
        logger.info("simulated strap (seed %d) closed", self.config.seed)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        if self._state == "new":
            raise RuntimeError("open the strap with 'async with' before iterating over it")
        while not self._pending:
            if self._state != "open" or self._finished:
                raise StopAsyncIteration
            self._pending.extend(self._next_second())
            if math.isinf(self._speed):
                await self._sleep(0.0)  # let other tasks run
        if self._state != "open":
            raise StopAsyncIteration
        event = self._pending[0]
        if not math.isinf(self._speed):
            delay_s = self._t0 + event.t / self._speed - self._clock()
            if delay_s > 0:
                await self._sleep(delay_s)
            if self._state != "open":  # closed while waiting
                raise StopAsyncIteration
        return self._pending.popleft()

    def _next_second(self) -> list[Event]:
        """The events of the next second of model time (or up to the end)."""
        model = self._model
        assert model is not None
        t_end = math.floor(model.t_s / NOTIFY_INTERVAL_S + 1.0) * NOTIFY_INTERVAL_S
        duration = self.config.duration_s
        if duration is not None and t_end >= duration:
            t_end, self._finished = duration, True
        chunk = model.advance(t_end)
        events: list[Event] = []
        self._ecg_t, self._ecg_uv, ecg_frames = _frames(
            self._ecg_t, self._ecg_uv, chunk.ecg_t_s, chunk.ecg_uv, ECG_SAMPLES_PER_FRAME
        )
        # Each frame keeps its samples' array too (`with_caches`): consumers need no conversion.
        events.extend(
            with_caches(EcgFrame(float(t[-1]), ECG_FS_HZ, tuple(v.tolist())), v)
            for t, v in ecg_frames
        )
        self._acc_t, self._acc_mg, acc_frames = _frames(
            self._acc_t, self._acc_mg, chunk.acc_t_s, chunk.acc_mg, ACC_SAMPLES_PER_FRAME
        )
        events.extend(
            with_caches(
                AccFrame(float(t[-1]), ACC_FS_HZ, tuple((x, y, z) for x, y, z in v.tolist())), v
            )
            for t, v in acc_frames
        )
        reported = np.isfinite(chunk.rr_ms)
        reported_rr = chunk.rr_ms[reported]
        # As a real strap's events: RR intervals are stamped with the beat that ends the last
        # of them (events.RRIntervals), not with the notification's arrival.
        rr_t = float(chunk.beat_t_s[reported][-1]) if reported_rr.size else 0.0
        for t, hr, ok in zip(
            chunk.notify_t_s.tolist(),
            chunk.notify_hr_bpm.tolist(),
            chunk.notify_contact_mask.tolist(),
            strict=True,
        ):  # at most one notification per chunk
            events.append(HeartRate(t, hr))
            if ok and reported_rr.size:
                events.append(RRIntervals(rr_t, tuple(reported_rr.tolist())))
            events.append(Contact(t, ok))
        events.sort(key=lambda e: e.t)  # stable: frames before the notification at the same t
        if self._finished:
            events.append(Link(t_end, LinkState.DISCONNECTED, "simulation ended"))
        logger.debug("simulated %.0f s: %d events", t_end, len(events))
        return events


def _frames(
    buffer_t: _FloatArray,
    buffer_values: _FloatArray,
    new_t: _FloatArray,
    new_values: _FloatArray,
    n_per_frame: int,
) -> tuple[_FloatArray, _FloatArray, list[tuple[_FloatArray, _FloatArray]]]:
    """Cut buffered + new samples into whole frames; return the leftover and the frames."""
    all_t = np.concatenate((buffer_t, new_t))
    all_values = np.concatenate((buffer_values, new_values)).astype(np.float64, copy=False)
    all_values.flags.writeable = False  # the frames keep views of it
    n_frames = all_t.size // n_per_frame
    frames = [
        (
            all_t[i * n_per_frame : (i + 1) * n_per_frame],
            all_values[i * n_per_frame : (i + 1) * n_per_frame],
        )
        for i in range(n_frames)
    ]
    used = n_frames * n_per_frame
    return all_t[used:], all_values[used:], frames
