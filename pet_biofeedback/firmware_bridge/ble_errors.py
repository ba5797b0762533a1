"""What bleak and the operating system raise, in our words (style.md §2.5, ble-protocol.md §5.3).

`translate_error` turns a `bleak.exc.BleakError` (any subclass), `OSError`, `TimeoutError` or
`NotImplementedError` caught at the Bluetooth boundary into one of the `DeviceError` types of
`pet_biofeedback.errors`, with a plain-words `user_message`. The BLE modules (`ble`, `ble_scan`,
`ble_pmd`) raise the result ``from`` what they caught, so nothing from bleak leaves them.

This module does not import bleak: a bleak exception can only exist once ``bleak.exc`` has been
imported, so its classes are looked up in `sys.modules` instead. Code that only needs the
messages (tests, a GUI showing them) does not load the Bluetooth stack.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from pet_biofeedback.errors import (
    BluetoothUnavailableError,
    BluetoothUnavailableReason,
    ConnectionLostError,
    DeviceBusyError,
    DeviceError,
    DeviceNotFoundError,
    PairingRequiredError,
)

__all__ = ["NOT_AVAILABLE_REASONS", "PAIRING_ATT_ERRORS", "is_pairing_att_error", "translate_error"]

# ATT errors that mean "encrypt/pair first" (§4.14): 0x05 insufficient authentication, 0x08
# insufficient authorization, 0x0C encryption key size, 0x0F insufficient encryption.
PAIRING_ATT_ERRORS: Final = frozenset({0x05, 0x08, 0x0C, 0x0F})

# `bleak.exc.BleakBluetoothNotAvailableReason` member names → ours.
NOT_AVAILABLE_REASONS: Final[Mapping[str, BluetoothUnavailableReason]] = MappingProxyType(
    {
        "NO_BLUETOOTH": BluetoothUnavailableReason.NO_ADAPTER,
        "NO_BLE_CENTRAL_ROLE": BluetoothUnavailableReason.NO_ADAPTER,
        "POWERED_OFF": BluetoothUnavailableReason.POWERED_OFF,
        "DENIED_BY_USER": BluetoothUnavailableReason.PERMISSION_DENIED,
        "DENIED_BY_SYSTEM": BluetoothUnavailableReason.PERMISSION_DENIED,
        "DENIED_BY_UNKNOWN": BluetoothUnavailableReason.PERMISSION_DENIED,
        "UNKNOWN": BluetoothUnavailableReason.UNKNOWN,
    }
)
# BlueZ D-Bus error names (ble-protocol.md §5.3, §7).
_DBUS_REASONS: Final[Mapping[str, BluetoothUnavailableReason]] = MappingProxyType(
    {
        "org.freedesktop.DBus.Error.AccessDenied": BluetoothUnavailableReason.PERMISSION_DENIED,
        "org.bluez.Error.NotAuthorized": BluetoothUnavailableReason.PERMISSION_DENIED,
        "org.bluez.Error.NotPermitted": BluetoothUnavailableReason.PERMISSION_DENIED,
        "org.freedesktop.DBus.Error.ServiceUnknown": BluetoothUnavailableReason.NO_STACK,
        "org.freedesktop.DBus.Error.NoServer": BluetoothUnavailableReason.NO_STACK,
        # BlueZ installed, its daemon not running: D-Bus fails to start it (Qt notes' table).
        "org.freedesktop.DBus.Error.Spawn.ChildExited": BluetoothUnavailableReason.NO_STACK,
        "org.bluez.Error.NotReady": BluetoothUnavailableReason.POWERED_OFF,
        "org.bluez.Error.NoSuchAdapter": BluetoothUnavailableReason.NO_ADAPTER,
    }
)
_DBUS_BUSY: Final = frozenset({"org.bluez.Error.InProgress"})
_DBUS_PAIRING: Final = frozenset(
    {
        "org.bluez.Error.AuthenticationFailed",
        "org.bluez.Error.AuthenticationCanceled",
        "org.bluez.Error.AuthenticationRejected",
        "org.bluez.Error.AuthenticationTimeout",
    }
)


def _is_bleak(exc: BaseException, class_name: str) -> bool:
    """Whether `exc` is a ``bleak.exc.<class_name>`` (always False while bleak is unloaded)."""
    cls = getattr(sys.modules.get("bleak.exc"), class_name, None)
    return isinstance(cls, type) and isinstance(exc, cls)


def is_pairing_att_error(exc: BaseException) -> bool:
    """A `bleak.exc.BleakGATTProtocolError` whose ATT code asks for pairing first (§4.14)."""
    return _is_bleak(exc, "BleakGATTProtocolError") and int(getattr(exc, "code", -1)) in (
        PAIRING_ATT_ERRORS
    )


def translate_error(
    exc: BaseException, *, context: str, identifier: str | None = None
) -> DeviceError:
    """Turn what bleak or the operating system raised into one of our `DeviceError` types.

    Parameters
    ----------
    exc : BaseException
        A `bleak.exc.BleakError` (any subclass), `OSError`, `TimeoutError` or
        `NotImplementedError` caught at the Bluetooth boundary.
    context : str
        What was being done, in plain words, e.g. ``"connecting to the strap"``.
    identifier : str, optional
        The address or name looked for (for `DeviceNotFoundError`).

    Returns
    -------
    DeviceError
        `BluetoothUnavailableError` (no adapter, no stack, switched off, permission denied),
        `DeviceNotFoundError`, `PairingRequiredError` (ATT 0x05/0x08/0x0C/0x0F or a BlueZ
        authentication error), `DeviceBusyError` (BlueZ "operation in progress"),
        `ConnectionLostError` (timeouts) or a plain `DeviceError`. The caller raises it
        ``from exc``.

    Notes
    -----
    No D-Bus socket (Linux without a running system bus, e.g. containers) arrives as a bare
    `FileNotFoundError`, not a `BleakError` (§5.3): it means "no Bluetooth stack".
    """
    detail = f"{context}: {type(exc).__name__}: {exc}"
    if _is_bleak(exc, "BleakBluetoothNotAvailableError"):
        reason_name = str(getattr(getattr(exc, "reason", None), "name", "UNKNOWN"))
        return BluetoothUnavailableError(
            detail,
            reason=NOT_AVAILABLE_REASONS.get(reason_name, BluetoothUnavailableReason.UNKNOWN),
        )
    if _is_bleak(exc, "BleakDeviceNotFoundError"):
        return DeviceNotFoundError(
            detail, identifier=identifier or getattr(exc, "identifier", None)
        )
    if _is_bleak(exc, "BleakGATTProtocolError"):
        if is_pairing_att_error(exc):
            return PairingRequiredError(detail)
        return DeviceError(
            detail,
            user_message=(
                f"The strap refused a request while {context}. Reconnect; if it keeps "
                "happening, take the sensor off the strap for a minute and try again."
            ),
        )
    if _is_bleak(exc, "BleakDBusError"):
        name = str(getattr(exc, "dbus_error", ""))
        if name in _DBUS_REASONS:
            return BluetoothUnavailableError(detail, reason=_DBUS_REASONS[name])
        if name in _DBUS_BUSY:
            return DeviceBusyError(detail)
        if name in _DBUS_PAIRING:
            return PairingRequiredError(detail)
    if isinstance(exc, FileNotFoundError | ConnectionRefusedError):
        return BluetoothUnavailableError(detail, reason=BluetoothUnavailableReason.NO_STACK)
    if isinstance(exc, PermissionError):
        return BluetoothUnavailableError(
            detail, reason=BluetoothUnavailableReason.PERMISSION_DENIED
        )
    if isinstance(exc, OSError) and exc.errno == errno.ENODEV:
        return BluetoothUnavailableError(detail, reason=BluetoothUnavailableReason.NO_ADAPTER)
    if isinstance(exc, TimeoutError):
        return ConnectionLostError(
            detail,
            user_message=(
                f"The strap did not answer in time while {context}. Check that it is worn and "
                "near this computer, and try again."
            ),
        )
    if isinstance(exc, NotImplementedError):
        return DeviceError(
            detail,
            user_message=f"This computer's Bluetooth cannot do what is needed for {context}.",
        )
    return DeviceError(
        detail,
        user_message=(
            f"A Bluetooth error happened while {context}. Try again; if it keeps happening, "
            "switch Bluetooth off and on again."
        ),
    )
