"""What travels inside `ble.BleStrap`: inbox items, supervisor signals, the per-connection session.

The notification callbacks and the supervisor talk to the iterator through one inbox queue
(`_Raw` notifications, markers such as `_Dropped`, `_StreamStarted`, `_Failure`, `_End`, and
ready events); bleak's callbacks and the control point signal the supervisor through the
session's queue (`_Disconnected`, `_Stalled`, `_CpMessage`). `_Session` is one connection:
its client, subscriptions and started PMD streams. Internal to the BLE modules.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from dataclasses import dataclass, field
from typing import TypeAlias

from bleak import BleakClient

from pet_biofeedback.errors import (
    BluetoothUnavailableError,
    ConnectionLostError,
    DeviceError,
    DeviceNotFoundError,
    PairingRequiredError,
)
from pet_biofeedback.events import Event
from pet_biofeedback.firmware_bridge import pmd

# --- Internal queue items and signals -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Raw:
    """A notification as the callback saw it: absolute arrival time, characteristic, bytes."""

    t_abs: float
    characteristic: str
    payload: bytes
    counted: bool  # counts against queue_size (data), or a never-dropped control record


@dataclass(frozen=True, slots=True)
class _Dropped:
    """Marker: `n` data notifications were dropped between `first_t_abs` and `resume_t_abs`."""

    n: int
    first_t_abs: float
    resume_t_abs: float


@dataclass(frozen=True, slots=True)
class _StreamStarted:
    """Marker: a PMD stream (re)started with these settings; frames after it use a new clock."""

    measurement: pmd.MeasurementType
    fs_hz: float
    resolution_bits: int | None
    factor: float | None


@dataclass(frozen=True, slots=True)
class _StreamFactor:
    """Marker: the START answer carried a FACTOR for this stream (§4.4)."""

    measurement: pmd.MeasurementType
    factor: float


@dataclass(frozen=True, slots=True)
class _Failure:
    """Marker: the supervisor gave up; the iterator raises `error`."""

    error: BaseException


@dataclass(frozen=True, slots=True)
class _End:
    """Marker: the strap was closed; the iterator stops."""


_InboxItem: TypeAlias = _Raw | _Dropped | _StreamStarted | _StreamFactor | _Failure | _End | Event


@dataclass(frozen=True, slots=True)
class _Disconnected:
    """Signal: bleak's disconnected callback fired (not requested by us)."""


@dataclass(frozen=True, slots=True)
class _Stalled:
    """Signal: the data watchdog expired."""

    silent_s: float


@dataclass(frozen=True, slots=True)
class _CpMessage:
    """Signal: something arrived on the PMD control point."""

    payload: bytes


_Signal: TypeAlias = _Disconnected | _Stalled | _CpMessage


class _LinkLost(Exception):
    """The link went away while we were waiting for it (internal; never leaves this module)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(eq=False)
class _Session:
    """One BLE connection: its client, subscriptions, started streams and signal queue."""

    generation: int
    client: BleakClient | None = None
    signals: asyncio.Queue[_Signal] = field(default_factory=asyncio.Queue)
    deferred: deque[_Signal] = field(default_factory=deque)
    cp_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    subscribed: list[str] = field(default_factory=list)
    started: list[pmd.MeasurementType] = field(default_factory=list)
    restarted: set[pmd.MeasurementType] = field(default_factory=set)
    stream_settings: dict[pmd.MeasurementType, dict[pmd.SettingType, int]] = field(
        default_factory=dict
    )
    pair_attempted: bool = False
    closing: bool = False
    last_hr_t_abs: float = -math.inf


def _loss_reason(signal: _Signal) -> str:
    """Plain words for why a link was given up."""
    if isinstance(signal, _Stalled):
        return f"No data from the strap for {signal.silent_s:g} s."
    return "The strap disconnected (out of range, switched off, or taken off?)."


def _give_up_error(last: DeviceError, elapsed_s: float) -> DeviceError:
    """The error to raise when the supervisor gives up: keep the specific kind when known."""
    if isinstance(last, DeviceNotFoundError | BluetoothUnavailableError | PairingRequiredError):
        return last
    return ConnectionLostError(
        f"gave up reconnecting after {elapsed_s:.0f} s: {last}",
        user_message=(
            f"The strap could not be reconnected for {elapsed_s:.0f} s. Check that it is worn "
            "and near this computer, then connect again."
        ),
    )
