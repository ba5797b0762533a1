"""Emulated heart-rate straps on Bumble's in-process virtual radio (ble-protocol.md §8).

Needs the optional ``emulated`` extra (``pip install 'pet-biofeedback[emulated]'``, Bumble). With
it, a person without a strap — and every BLE test — runs the **unmodified** `ble.BleStrap` over a
bleak backend (`_bumble_backend`) that talks to software straps instead of an operating-system
Bluetooth stack. This module is what the CLI uses: `emulated_source` builds the whole world for
``--source emulated:h10|strap|optical`` and returns an `EmulatedBleStrap`, a `BleStrap` that
owns its world and runs the fake in real time.

The parts, each in its own module:

* `emulated_harness` — `VirtualClock` (virtual time for tests), `FaultPlan` (fault injection,
  ``"disconnect-every=15s,stall-every=40s,…"``) and the logs of what the fakes did; no Bumble.
* `emulated_world` — `EmulatedWorld` (the radio, the central, the bound bleak backends) and the
  peripherals on it (`EmulatedPeripheral`, the bystander `EmulatedAdvertiser`).
* `emulated_straps` — `EmulatedStrapBase`, `EmulatedGenericStrap`, `EmulatedOpticalSensor`,
  whose heartbeats come from the physiological model of `sim_model.StrapModel`.
* `emulated_h10` — `EmulatedH10` with Polar PMD (ECG, ACC, the H10's MTU rule).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from types import TracebackType
from typing import Any, Final, Literal, Self

from pet_biofeedback.errors import ConfigError
from pet_biofeedback.firmware_bridge.ble import BleStrap
from pet_biofeedback.firmware_bridge.emulated_h10 import EmulatedH10
from pet_biofeedback.firmware_bridge.emulated_harness import FaultPlan
from pet_biofeedback.firmware_bridge.emulated_straps import (
    EmulatedGenericStrap,
    EmulatedOpticalSensor,
    EmulatedStrapBase,
)
from pet_biofeedback.firmware_bridge.emulated_world import EmulatedWorld

__all__ = ["EmulatedBleStrap", "StrapKind", "emulated_source"]

logger = logging.getLogger(__name__)

StrapKind = Literal["h10", "strap", "optical"]


# --- The CLI's emulated source ------------------------------------------------------------------


class EmulatedBleStrap(BleStrap):
    """A `BleStrap` that owns its `EmulatedWorld` and runs the fake strap in real time.

    Opening starts the world and the fake's `EmulatedStrapBase.run` loop, then opens the
    unmodified `BleStrap` on the Bumble backend; closing closes the strap first (so that the
    fake sees the STOPs and the disconnect), then stops the fake and the world.

    Parameters
    ----------
    world : EmulatedWorld
    fake : EmulatedStrapBase
        The strap on `world` to run.
    speed : float, default 1
        Model seconds per real second; the strap's clock and sleep are scaled to match.
    **kwargs
        Passed to `BleStrap` (``ecg``, ``acc``, ``reconnect``, ``timeouts``, …).
    """

    def __init__(
        self,
        world: EmulatedWorld,
        fake: EmulatedStrapBase,
        *,
        speed: float = 1.0,
        **kwargs: Any,
    ) -> None:
        if (
            isinstance(speed, bool)
            or not isinstance(speed, int | float)
            or not (math.isfinite(speed) and speed > 0)
        ):
            raise ConfigError(
                f"emulated straps run on a real-time virtual radio: speed must be a finite "
                f"positive number, got {speed!r}"
            )
        self.world = world
        self.fake = fake
        self._speed = float(speed)
        self._runner: asyncio.Task[None] | None = None

        def clock() -> float:
            """Model seconds: the monotonic clock × speed."""
            return time.monotonic() * self._speed

        async def sleep(delay_s: float) -> None:
            """Wait model seconds."""
            await asyncio.sleep(delay_s / self._speed)

        super().__init__(
            scanner_cls=world.scanner_cls,
            client_cls=world.client_cls,
            clock=clock,
            sleep=sleep,
            **kwargs,
        )

    async def __aenter__(self) -> Self:
        await self.world.__aenter__()
        self._runner = asyncio.create_task(
            self.fake.run(speed=self._speed), name=f"emulated {self.fake.name}"
        )
        try:
            return await super().__aenter__()
        except BaseException:
            await self._stop_world()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await super().__aexit__(exc_type, exc, tb)
        finally:
            await self._stop_world()

    async def _stop_world(self) -> None:
        """Stop the fake's real-time loop and the world."""
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            await asyncio.wait({runner})
            if not runner.cancelled() and runner.exception() is not None:
                logger.warning("the emulated strap stopped: %r", runner.exception())
        await self.world.__aexit__(None, None, None)


_KINDS: Final = ("h10", "strap", "optical")


def emulated_source(
    kind: StrapKind,
    *,
    faults: FaultPlan | str | None = None,
    seed: int = 0,
    speed: float = 1.0,
    **kwargs: Any,
) -> BleStrap:
    """Build an emulated strap on its own virtual radio, read through the real BLE code.

    Parameters
    ----------
    kind : {"h10", "strap", "optical"}
        `EmulatedH10`, `EmulatedGenericStrap` or `EmulatedOpticalSensor`.
    faults : FaultPlan or str, optional
        Faults to inject, e.g. ``"disconnect-every=15s,stall-every=40s"`` (`FaultPlan.parse`).
    seed : int, default 0
        Seed of the physiological model.
    speed : float, default 1
        Model seconds per real second (finite).
    **kwargs
        Passed to `BleStrap` (``ecg``, ``acc``, ``reconnect``, ``timeouts``, ``queue_size``).

    Returns
    -------
    BleStrap
        An `EmulatedBleStrap`: ``async with`` it like any source.

    Raises
    ------
    ConfigError
        Unknown `kind`, a bad fault spec, seed or speed.
    """
    if kind not in _KINDS:
        raise ConfigError(f"unknown emulated strap '{kind}'; choose one of {', '.join(_KINDS)}")
    plan = FaultPlan.parse(faults) if isinstance(faults, str) else faults
    if plan is not None and plan.sensor_stop_every_s is not None and kind != "h10":
        raise ConfigError("fault 'sensor-stop-every' needs an H10 (only it has PMD streams)")
    world = EmulatedWorld()
    fake: EmulatedStrapBase
    if kind == "h10":
        fake = EmulatedH10(world, seed=seed, faults=plan)
    elif kind == "strap":
        fake = EmulatedGenericStrap(world, seed=seed, faults=plan)
    else:
        fake = EmulatedOpticalSensor(world, seed=seed, faults=plan)
    return EmulatedBleStrap(world, fake, speed=speed, **kwargs)
