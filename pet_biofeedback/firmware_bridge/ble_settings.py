"""Settings and results of the BLE source: timeouts, reconnect policy, what a scan or strap told.

Frozen dataclasses (style.md §2.4), validated on construction (`ConfigError`): `BleTimeouts`,
`ReconnectPolicy`; results `FoundStrap` (from `ble_scan.scan`), `DeviceInfo` and `BleStats`
(from `ble.BleStrap`); and the `Clock`/`Sleep` types the sources take. No bleak here.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeAlias

from pet_biofeedback.errors import ConfigError

__all__ = [
    "BleStats",
    "BleTimeouts",
    "Clock",
    "DeviceInfo",
    "FoundStrap",
    "ReconnectPolicy",
    "Sleep",
]

Clock: TypeAlias = Callable[[], float]
"""A monotonic clock in seconds (default `time.monotonic`)."""
Sleep: TypeAlias = Callable[[float], Awaitable[None]]
"""How to wait a number of seconds (default `asyncio.sleep`; tests inject a virtual clock's)."""

# --- Settings and results -----------------------------------------------------------------------


def _check_positive(owner: str, name: str, value: float | None, *, allow_none: bool) -> None:
    """ConfigError unless `value` is a finite number > 0 (or None when allowed)."""
    if value is None and allow_none:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigError(f"{owner}: {name} must be a positive number of seconds, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class BleTimeouts:
    """Timeouts of the Bluetooth operations, s (ble-protocol.md §6 rule 9).

    Attributes
    ----------
    scan_s : float, default 10
        How long to look for the strap before "not found".
    connect_s : float, default 20
        Connecting, including service discovery.
    gatt_s : float, default 10
        Each read, write and (un)subscription.
    cp_response_s : float, default 10
        Waiting for the ``F0`` answer to a PMD command (bleakheart 10 s, the SDK 30 s).
    stop_s : float, default 5
        Each clean-up step: STOP, unsubscribe, disconnect.
    pair_s : float, default 30
        Pairing (a system prompt may be waiting for a person).

    Raises
    ------
    ConfigError
        A value that is not a finite positive number.
    """

    scan_s: float = 10.0
    connect_s: float = 20.0
    gatt_s: float = 10.0
    cp_response_s: float = 10.0
    stop_s: float = 5.0
    pair_s: float = 30.0

    def __post_init__(self) -> None:
        for name in ("scan_s", "connect_s", "gatt_s", "cp_response_s", "stop_s", "pair_s"):
            _check_positive("BleTimeouts", name, getattr(self, name), allow_none=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconnectPolicy:
    """How the supervisor notices a dead link and how it tries again (ble-protocol.md §6).

    Attributes
    ----------
    watchdog_s : float, default 5
        No heart-rate notification for this long while connected counts as a dead link
        (notifications can stop with the link up, §2.3).
    backoff_initial_s : float, default 1
        Wait before the first reconnect attempt; doubled after every failed attempt …
    backoff_max_s : float, default 30
        … up to this.
    give_up_after_s : float or None, default None
        Stop trying after this long without a link: `Link` failed, then the matching
        `DeviceError` is raised to the consumer. None = never (sessions keep trying).

    Raises
    ------
    ConfigError
        A value that is not a finite positive number, or ``backoff_max_s < backoff_initial_s``.
    """

    watchdog_s: float = 5.0
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    give_up_after_s: float | None = None

    def __post_init__(self) -> None:
        for name in ("watchdog_s", "backoff_initial_s", "backoff_max_s"):
            _check_positive("ReconnectPolicy", name, getattr(self, name), allow_none=False)
        _check_positive("ReconnectPolicy", "give_up_after_s", self.give_up_after_s, allow_none=True)
        if self.backoff_max_s < self.backoff_initial_s:
            raise ConfigError(
                f"ReconnectPolicy: backoff_max_s ({self.backoff_max_s}) is below "
                f"backoff_initial_s ({self.backoff_initial_s})"
            )

    def backoff_s(self, attempt: int) -> float:
        """Wait before reconnect attempt `attempt` (1-based): 1, 2, 4, … capped, in s."""
        return float(min(self.backoff_initial_s * 2.0 ** max(attempt - 1, 0), self.backoff_max_s))


@dataclass(frozen=True, slots=True, kw_only=True)
class FoundStrap:
    """A strap seen by `scan`.

    Attributes
    ----------
    name : str or None
        Advertised local name (e.g. ``"Polar H10 1A2B3C4D"``), None when it sent none.
    address : str
        Bluetooth address (a per-computer UUID on macOS, §7). Personal-ish: log it at DEBUG only.
    rssi_dbm : int
        Received signal strength in dBm (closer to 0 = nearer).
    is_polar : bool
        A Polar sensor (name prefix or Polar manufacturer data, §1).
    has_heart_rate_service : bool
        Advertises the Heart Rate service ``0x180D``.
    """

    name: str | None
    address: str
    rssi_dbm: int
    is_polar: bool
    has_heart_rate_service: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceInfo:
    """What a connected strap told about itself (for the recording header).

    Attributes
    ----------
    name : str or None
        Advertised name.
    address : str
        Bluetooth address (DEBUG-level information, style.md §2.10).
    manufacturer, model, serial_number, hardware_revision, firmware_revision, software_revision
        Device Information strings; None when the strap does not offer them (all optional, §3).
    pmd_measurements : tuple of str
        PMD streams the strap offers (``("ECG", "ACC")`` on an H10); empty without PMD.
    """

    name: str | None
    address: str
    manufacturer: str | None = None
    model: str | None = None
    serial_number: str | None = None
    hardware_revision: str | None = None
    firmware_revision: str | None = None
    software_revision: str | None = None
    pmd_measurements: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class BleStats:
    """Counters of a `BleStrap` (a snapshot).

    Attributes
    ----------
    n_notifications : int
        Notifications received (all characteristics).
    n_dropped : int
        Notifications dropped because the consumer fell behind (each run marked by a `Gap`).
    n_hr_skipped : int
        Heart-rate packets that could not be decoded (yielded as `RawNotification` only).
    n_hr_ignored_bytes : int
        Trailing bytes ignored in otherwise valid heart-rate packets (§2.2).
    n_pmd_skipped : int
        PMD data frames that could not be decoded or belonged to no started stream.
    n_unknown_cp_messages : int
        Control-point messages that were neither a response, a "stopped" nor a feature echo.
    n_reconnects : int
        Successful reconnections.
    n_stream_restarts : int
        PMD streams restarted after the sensor stopped them.
    n_rr_reanchors : int
        Times the RR beat clock was re-anchored to the host clock (`RrBeatClock`).
    n_rr_gaps : int
        Lost beats found from time (`RrBeatClock`), each marked by a `Gap`.
    """

    n_notifications: int = 0
    n_dropped: int = 0
    n_hr_skipped: int = 0
    n_hr_ignored_bytes: int = 0
    n_pmd_skipped: int = 0
    n_unknown_cp_messages: int = 0
    n_reconnects: int = 0
    n_stream_restarts: int = 0
    n_rr_reanchors: int = 0
    n_rr_gaps: int = 0
