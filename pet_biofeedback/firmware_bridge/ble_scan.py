"""Finding straps: which advertisements are straps, and `scan` (``pet-biofeedback scan``).

`is_strap_advertisement` is the filter `ble.BleStrap` also uses when it looks for "the first
strap"; `scan` lists the straps advertising nearby, strongest signal first. Imports bleak
(ble-protocol.md §1, §6); what bleak raises leaves as `pet_biofeedback.errors` (`ble_errors`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Final

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakError

from pet_biofeedback.firmware_bridge import hrs
from pet_biofeedback.firmware_bridge.ble_errors import translate_error
from pet_biofeedback.firmware_bridge.ble_settings import FoundStrap, _check_positive

__all__ = [
    "POLAR_COMPANY_ID",
    "POLAR_NAME_PREFIX",
    "find_advertisement",
    "is_strap_advertisement",
    "matches_target",
    "scan",
]

logger = logging.getLogger(__name__)

# --- Constants (ble-protocol.md) ----------------------------------------------------------------

#: Bluetooth SIG company identifier of Polar Electro (manufacturer data ``6B 00``, §1).
POLAR_COMPANY_ID: Final = 0x006B
#: Polar sensors advertise "Polar H10 1A2B3C4D", "Polar OH1 …", "Polar Sense …" (§1).
POLAR_NAME_PREFIX: Final = "Polar "

# --- Discovery ----------------------------------------------------------------------------------


def _is_polar(adv: AdvertisementData) -> bool:
    """Polar name prefix or Polar manufacturer data (§1)."""
    name = adv.local_name or ""
    return name.startswith(POLAR_NAME_PREFIX) or POLAR_COMPANY_ID in adv.manufacturer_data


def is_strap_advertisement(adv: AdvertisementData) -> bool:
    """Whether an advertisement looks like a heart-rate strap.

    Parameters
    ----------
    adv : bleak.backends.scanner.AdvertisementData

    Returns
    -------
    bool
        ``0x180D`` among the advertised service UUIDs, or a Polar sensor (§1).
    """
    return hrs.HEART_RATE_SERVICE_UUID in (u.lower() for u in adv.service_uuids) or _is_polar(adv)


async def scan(
    timeout_s: float = 5.0, *, scanner_cls: type[BaseBleakScanner] | None = None
) -> list[FoundStrap]:
    """List the heart-rate straps advertising nearby.

    Parameters
    ----------
    timeout_s : float, default 5
        How long to listen, s.
    scanner_cls : type, optional
        bleak scanner backend (default None: the platform's; the emulated straps pass
        ``world.scanner_cls``).

    Returns
    -------
    list of FoundStrap
        Straps (Heart Rate service or Polar, `is_strap_advertisement`), strongest signal first.

    Raises
    ------
    BluetoothUnavailableError
        No adapter, no Bluetooth stack, Bluetooth switched off, or permission denied.
    DeviceError
        Any other Bluetooth failure.
    ConfigError
        `timeout_s` is not a positive number.
    """
    _check_positive("scan", "timeout_s", timeout_s, allow_none=False)
    found: dict[str, tuple[BLEDevice, AdvertisementData]] = {}
    try:
        async with BleakScanner(backend=scanner_cls) as scanner:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    async with contextlib.aclosing(scanner.advertisement_data()) as stream:
                        async for device, adv in stream:
                            if is_strap_advertisement(adv):
                                found[device.address] = (device, adv)
    except (BleakError, OSError) as exc:
        raise translate_error(exc, context="scanning for straps") from exc
    straps = [
        FoundStrap(
            name=adv.local_name or device.name,
            address=device.address,
            rssi_dbm=int(adv.rssi),
            is_polar=_is_polar(adv),
            has_heart_rate_service=hrs.HEART_RATE_SERVICE_UUID
            in (u.lower() for u in adv.service_uuids),
        )
        for device, adv in found.values()
    ]
    straps.sort(key=lambda s: s.rssi_dbm, reverse=True)
    logger.info("scan: %d strap(s) found in %.1f s", len(straps), timeout_s)
    return straps


def matches_target(
    device: BLEDevice,
    adv: AdvertisementData,
    *,
    identifier: str | None,
    target_address: str | None,
    target_name: str | None,
) -> bool:
    """Whether an advertisement is the strap `ble.BleStrap` looks for.

    Once connected, the strap is remembered by address and name (`target_address`,
    `target_name`; a macOS address can change, §7); before that, `identifier` is an address
    or (part of) the advertised name, case-insensitive; without one, any strap will do
    (`is_strap_advertisement`).
    """
    name = adv.local_name or device.name
    if target_address is not None:
        if device.address.lower() == target_address.lower():
            return True
        return bool(target_name) and name == target_name
    if identifier is not None:
        wanted = identifier.lower()
        return device.address.lower() == wanted or (name is not None and wanted in name.lower())
    return is_strap_advertisement(adv)


async def find_advertisement(
    scanner_cls: type[BaseBleakScanner] | None,
    matches: Callable[[BLEDevice, AdvertisementData], bool],
    timeout_s: float,
) -> tuple[BLEDevice, AdvertisementData] | None:
    """Scan until an advertisement `matches` (a fresh `BLEDevice` every time, §6 rule 3).

    Returns None when none did within `timeout_s`; what bleak raises is left to the caller.
    """
    async with BleakScanner(backend=scanner_cls) as scanner:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                async with contextlib.aclosing(scanner.advertisement_data()) as stream:
                    async for device, adv in stream:
                        if matches(device, adv):
                            return device, adv
    return None
