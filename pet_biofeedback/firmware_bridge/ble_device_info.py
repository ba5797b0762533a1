"""What a connected strap tells about itself: battery level and Device Information (§3).

Both are optional on a strap (ble-protocol.md §3): a characteristic that is absent, refused or
malformed reads as None (logged at DEBUG), never as an error. Used by `ble.BleStrap` right after
connecting; the result `DeviceInfo` goes into the recording header. Imports bleak.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from bleak import BleakClient
from bleak.exc import BleakGATTProtocolError

from pet_biofeedback.errors import DecodeError
from pet_biofeedback.firmware_bridge import hrs
from pet_biofeedback.firmware_bridge.ble_settings import DeviceInfo

__all__ = ["read_battery_pct", "read_device_info", "read_optional"]

logger = logging.getLogger(__name__)

_DIS_FIELDS: Final = (
    ("manufacturer", hrs.MANUFACTURER_NAME_UUID),
    ("model", hrs.MODEL_NUMBER_UUID),
    ("serial_number", hrs.SERIAL_NUMBER_UUID),
    ("hardware_revision", hrs.HARDWARE_REVISION_UUID),
    ("firmware_revision", hrs.FIRMWARE_REVISION_UUID),
    ("software_revision", hrs.SOFTWARE_REVISION_UUID),
)


async def read_optional(client: BleakClient, uuid: str, timeout_s: float) -> bytes | None:
    """Read a characteristic the strap may not have; None when absent or refused."""
    if client.services.get_characteristic(uuid) is None:
        return None
    try:
        async with asyncio.timeout(timeout_s):
            return bytes(await client.read_gatt_char(uuid))
    except BleakGATTProtocolError as exc:
        logger.debug("reading %s refused: %s", uuid, exc)
        return None


async def read_battery_pct(client: BleakClient, timeout_s: float) -> int | None:
    """The battery level in %, read once; None when the strap has none or sent nonsense."""
    value = await read_optional(client, hrs.BATTERY_LEVEL_UUID, timeout_s)
    if value is None:
        return None
    try:
        return hrs.decode_battery_level(value)
    except DecodeError as exc:
        logger.debug("battery level skipped: %s", exc)
        return None


async def read_device_info(
    client: BleakClient, name: str | None, address: str, timeout_s: float
) -> DeviceInfo:
    """Read the Device Information strings (all optional, §3) into a `DeviceInfo`."""
    strings: dict[str, str | None] = {}
    for key, uuid in _DIS_FIELDS:
        value = await read_optional(client, uuid, timeout_s)
        try:
            strings[key] = None if value is None else hrs.decode_device_information_string(value)
        except DecodeError as exc:
            logger.debug("device information %s skipped: %s", key, exc)
            strings[key] = None
    info = DeviceInfo(
        name=name,
        address=address,
        manufacturer=strings["manufacturer"],
        model=strings["model"],
        serial_number=strings["serial_number"],
        hardware_revision=strings["hardware_revision"],
        firmware_revision=strings["firmware_revision"],
        software_revision=strings["software_revision"],
    )
    logger.info("strap: %s %s, firmware %s", info.manufacturer, info.model, info.firmware_revision)
    return info
