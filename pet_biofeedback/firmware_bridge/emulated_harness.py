"""The test harness of the emulated straps: virtual time, fault plans, logs of what fakes did.

* `VirtualClock` gives `ble.BleStrap` a clock and a sleep that only move when a test advances
  them, so back-off and the watchdog need no waiting (ble-protocol.md §8.4).
* `FaultPlan`, parsed from ``"disconnect-every=15s,stall-every=40s,…"``: the faults an
  emulated strap injects (``--faults`` of the CLI).
* `HrNotification`, `CpWrite`, `PmdFrameSent`: what the fakes sent and received, for tests.

No Bumble here: a fault spec can be checked without the ``emulated`` extra.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
import re
from dataclasses import dataclass, fields
from typing import Final

from pet_biofeedback.errors import ConfigError
from pet_biofeedback.firmware_bridge import pmd

logger = logging.getLogger(__name__)

# --- Virtual time for tests ---------------------------------------------------------------------


class VirtualClock:
    """A monotonic clock and a sleep that move only when `advance` is awaited (tests, §8.4).

    Hand ``clock=vc`` and ``sleep=vc.sleep`` to `BleStrap`: its back-off and data watchdog then
    wait for the test instead of the wall clock.

    Parameters
    ----------
    start_s : float, default 0
        Initial reading, s.
    """

    def __init__(self, start_s: float = 0.0) -> None:
        self._now_s = float(start_s)
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._counter = itertools.count()

    def __call__(self) -> float:
        """The current reading, s."""
        return self._now_s

    @property
    def n_sleepers(self) -> int:
        """Sleeps currently waiting."""
        return sum(1 for _, _, f in self._waiters if not f.done())

    async def sleep(self, delay_s: float) -> None:
        """Wait until the clock has been advanced by `delay_s` (≤ 0: just yield)."""
        if delay_s <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (self._now_s + delay_s, next(self._counter), future))
        await future

    async def advance(self, dt_s: float) -> None:
        """Move the clock forward by `dt_s`, waking every sleep that ends on the way, in order.

        Parameters
        ----------
        dt_s : float
            Step, s (≥ 0).
        """
        if not dt_s >= 0:
            raise ConfigError(f"VirtualClock.advance: dt_s must be ≥ 0, got {dt_s!r}")
        target_s = self._now_s + dt_s
        while self._waiters and self._waiters[0][0] <= target_s:
            deadline_s, _, future = heapq.heappop(self._waiters)
            self._now_s = max(self._now_s, deadline_s)
            if not future.done():
                future.set_result(None)
                await _settle()
        self._now_s = target_s
        await _settle()


async def _settle(n_rounds: int = 8) -> None:
    """Let woken tasks run a few steps (they may sleep again within the same advance)."""
    for _ in range(n_rounds):
        await asyncio.sleep(0)


# --- Fault injection ----------------------------------------------------------------------------

_DURATION_RE: Final = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|min|m)?\s*$")
_DURATION_UNITS_S: Final = {"ms": 0.001, "s": 1.0, None: 1.0, "m": 60.0, "min": 60.0}
_FAULT_KEYS: Final = {
    "disconnect-every": "disconnect_every_s",
    "stall-every": "stall_every_s",
    "stall-for": "stall_for_s",
    "sensor-stop-every": "sensor_stop_every_s",
    "offline-for": "offline_for_s",
    "malformed-every": "malformed_every_s",
}


def _parse_duration_s(key: str, text: str) -> float:
    """``15s`` / ``500ms`` / ``2m`` → seconds (> 0), or ConfigError naming `key`."""
    match = _DURATION_RE.match(text)
    if match is None:
        raise ConfigError(f"fault '{key}': '{text}' is not a duration (examples: 15s, 500ms, 2m)")
    value_s = float(match.group(1)) * _DURATION_UNITS_S[match.group(2)]
    if not (math.isfinite(value_s) and value_s > 0):
        raise ConfigError(f"fault '{key}': the duration must be positive, got '{text}'")
    return value_s


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultPlan:
    """Faults an emulated strap injects, on its own model clock.

    Attributes
    ----------
    disconnect_every_s : float or None
        The strap drops the link (peer-initiated, reason "remote user terminated") every so
        many seconds while connected.
    stall_every_s : float or None
        Every so many seconds the strap stops notifying with the link up (the Linux /
        Raspberry Pi failure of §2.3) …
    stall_for_s : float, default 10
        … for this long, or until the link is dropped.
    sensor_stop_every_s : float or None
        An H10 stops its ECG stream by itself (``01 00`` on the CP) every so many seconds.
    offline_for_s : float, default 0
        After each disconnection the strap stays invisible (does not advertise) this long.
    malformed_every_s : float or None
        An extra malformed heart-rate packet every so many seconds.

    Raises
    ------
    ConfigError
        A value that is not a positive number (``offline_for_s`` may be 0).
    """

    disconnect_every_s: float | None = None
    stall_every_s: float | None = None
    stall_for_s: float = 10.0
    sensor_stop_every_s: float | None = None
    offline_for_s: float = 0.0
    malformed_every_s: float | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.name not in ("stall_for_s", "offline_for_s"):
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"FaultPlan.{f.name} must be a number of seconds, got {value!r}")
            minimum_ok = value >= 0 if f.name == "offline_for_s" else value > 0
            if not (math.isfinite(value) and minimum_ok):
                raise ConfigError(f"FaultPlan.{f.name} must be a positive duration, got {value!r}")

    @classmethod
    def parse(cls, spec: str) -> FaultPlan:
        """Parse ``"disconnect-every=15s,stall-every=40s,…"`` (empty: no faults).

        Parameters
        ----------
        spec : str
            Comma-separated ``key=duration`` items. Keys: ``disconnect-every``,
            ``stall-every``, ``stall-for``, ``sensor-stop-every``, ``offline-for``,
            ``malformed-every``. Durations: a number with ``ms``, ``s`` (default), ``m``/``min``.

        Returns
        -------
        FaultPlan

        Raises
        ------
        ConfigError
            An unknown or repeated key, an item without ``=``, or a bad duration; the message
            names the item and lists the valid keys.

        Examples
        --------
        >>> FaultPlan.parse("disconnect-every=15s,stall-every=1m").stall_every_s
        60.0
        """
        values: dict[str, float] = {}
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            key, sep, text = item.partition("=")
            key = key.strip().lower()
            if not sep:
                raise ConfigError(
                    f"fault '{item}' has no '=': write key=duration, e.g. disconnect-every=15s"
                )
            if key not in _FAULT_KEYS:
                raise ConfigError(
                    f"unknown fault '{key}'; valid faults: {', '.join(sorted(_FAULT_KEYS))}"
                )
            name = _FAULT_KEYS[key]
            if name in values:
                raise ConfigError(f"fault '{key}' is given twice")
            values[name] = _parse_duration_s(key, text)
        return cls(**values)

    @property
    def empty(self) -> bool:
        """No fault is scheduled."""
        return (
            self.disconnect_every_s is None
            and self.stall_every_s is None
            and self.sensor_stop_every_s is None
            and self.malformed_every_s is None
            and self.offline_for_s == 0
        )


# --- Logs of what the fakes did -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HrNotification:
    """A heart-rate notification a fake produced.

    Attributes
    ----------
    t_s : float
        Model time, s.
    payload : bytes
        The notification value.
    rr_ms : tuple of float
        RR intervals it carries, ms.
    delivered : bool
        Whether it was sent to a subscribed central (False: link down, not subscribed, stalled).
    connection_index : int
        Which connection of the fake it went to (1 = first), 0 when not delivered.
    """

    t_s: float
    payload: bytes
    rr_ms: tuple[float, ...]
    delivered: bool
    connection_index: int


@dataclass(frozen=True, slots=True)
class CpWrite:
    """A PMD control-point write that reached the emulated H10.

    Attributes
    ----------
    t_s : float
        Model time, s.
    payload : bytes
        The command.
    att_mtu : int
        The connection's ATT MTU at the time.
    connection_index : int
        Which connection of the fake it came on (1 = first).
    """

    t_s: float
    payload: bytes
    att_mtu: int
    connection_index: int


@dataclass(frozen=True, slots=True)
class PmdFrameSent:
    """A PMD data frame the emulated H10 produced.

    Attributes
    ----------
    t_s : float
        Model time of its last sample, s.
    measurement : pmd.MeasurementType
    n_samples : int
    delivered : bool
        Sent to a subscribed central.
    """

    t_s: float
    measurement: pmd.MeasurementType
    n_samples: int
    delivered: bool


def missing_extra_error(exc: ImportError) -> ConfigError:
    """What every emulated-strap module raises when Bumble (the ``emulated`` extra) is missing."""
    return ConfigError(
        f"The emulated straps need the optional 'emulated' extra, which is not installed "
        f"({exc}). Install it with: pip install 'pet-biofeedback[emulated]'",
        user_message=(
            "Emulated straps are not installed. Install them with: "
            "pip install 'pet-biofeedback[emulated]'"
        ),
    )
