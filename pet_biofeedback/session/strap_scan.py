"""Straps nearby, for the device picker: the scan's results in the words a person reads.

`scan_straps` runs the Bluetooth bridge's `scan` (imported lazily, so no bleak without a
scan) and turns each `FoundStrap` into a `StrapListing`: a name, the ``ble:ADDRESS`` source
string that connects to it, the signal strength in dBm and in words. Failures arrive as the
bridge's translated `DeviceError`s, whose ``user_message`` the picker shows as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from pet_biofeedback.session.sources import load_ble_scan

__all__ = ["SCAN_S", "StrapListing", "listings", "scan_straps", "signal_words"]

SCAN_S: Final = 5.0  # how long the picker listens, s (the bridge's default)
# Received signal strength: nearer 0 dBm is nearer. About -60 dBm is a strap within a metre or
# two; below about -85 dBm packets start to drop (ble-protocol.md §7).
STRONG_DBM: Final = -65
WEAK_DBM: Final = -85


@dataclass(frozen=True, slots=True, kw_only=True)
class StrapListing:
    """One strap as the picker lists it.

    Attributes
    ----------
    name : str
        Advertised name, or ``"Heart-rate strap (no name)"``.
    source : str
        What `open_source` connects with: ``ble:ADDRESS``.
    rssi_dbm : int
        Signal strength, dBm.
    signal : str
        ``"strong"``, ``"fair"`` or ``"weak"`` (`signal_words`).
    battery_pct : int or None
        Battery level when known (a scan does not tell it; a remembered strap may).
    """

    name: str
    source: str
    rssi_dbm: int
    signal: str
    battery_pct: int | None = None


def signal_words(rssi_dbm: int) -> str:
    """``"strong"`` (≥ -65 dBm), ``"fair"`` or ``"weak"`` (< -85 dBm)."""
    if rssi_dbm >= STRONG_DBM:
        return "strong"
    return "fair" if rssi_dbm >= WEAK_DBM else "weak"


def listings(found: Sequence[Any]) -> list[StrapListing]:
    """`FoundStrap`s (or anything with ``name``, ``address``, ``rssi_dbm``) as listings."""
    return [
        StrapListing(
            name=strap.name or "Heart-rate strap (no name)",
            source=f"ble:{strap.address}",
            rssi_dbm=int(strap.rssi_dbm),
            signal=signal_words(int(strap.rssi_dbm)),
        )
        for strap in found
    ]


async def scan_straps(timeout_s: float = SCAN_S) -> list[StrapListing]:
    """Listen for straps for ``timeout_s`` seconds; strongest first.

    Raises
    ------
    BluetoothUnavailableError
        No adapter, no Bluetooth stack, switched off, or not allowed (plain ``user_message``).
    DeviceError
        Any other Bluetooth failure, or Bluetooth support missing in this installation.
    """
    ble = load_ble_scan()
    return listings(await ble.scan(timeout_s))
