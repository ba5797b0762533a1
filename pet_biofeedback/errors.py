"""One exception tree for the whole application.

Every error carries ``user_message`` (plain words: what happened and what to do) beside the
developer detail in ``str(e)``. Structured data travels as attributes, never as extra ``args``.
This module imports only the standard library, so every layer (``signal`` included) may use it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

__all__ = [
    "BluetoothUnavailableError",
    "BluetoothUnavailableReason",
    "ConfigError",
    "ConnectionLostError",
    "DecodeError",
    "DeviceBusyError",
    "DeviceError",
    "DeviceNotFoundError",
    "ExportError",
    "InputFileError",
    "PairingRequiredError",
    "PetBiofeedbackError",
    "PmdCommandError",
    "RecordingDiskFullError",
    "RecordingError",
    "RecordingFileError",
    "RecordingFormatError",
    "RecordingWriteError",
    "SignalInputError",
    "SignalQualityWarning",
    "StoreError",
    "StoreVersionError",
    "UnknownSessionError",
    "UnsupportedVersionError",
]


class PetBiofeedbackError(Exception):
    """Root of every error the application raises on purpose.

    ``user_message`` defaults to the class's ``default_user_message`` when a subclass sets
    one, else to the developer message.
    """

    default_user_message: ClassVar[str | None] = None

    def __init__(self, message: str, *, user_message: str | None = None) -> None:
        super().__init__(message)
        if user_message is None:
            user_message = self.default_user_message or message
        self.user_message = user_message


class SignalInputError(PetBiofeedbackError, ValueError):
    """Wrong shape, dtype, non-finite values or an unknown option given to the signal core."""


class SignalQualityWarning(RuntimeWarning):
    """Batch analysis found data it could use only partly (too short, too many artifacts)."""


class ConfigError(PetBiofeedbackError, ValueError):
    """Settings that make no sense (negative window, step larger than allowed, …)."""


class UnknownSessionError(ConfigError):
    """A session id that the history of the profile does not hold (or whose file is gone).

    Attributes
    ----------
    session_id : int
        The id that was asked for (``history --json`` "id").
    """

    def __init__(self, message: str, *, session_id: int, user_message: str | None = None) -> None:
        super().__init__(message, user_message=user_message)
        self.session_id = session_id


class InputFileError(PetBiofeedbackError):
    """A file given to the application is missing, empty, or not what it should be.

    Attributes
    ----------
    path : str
        The file that was rejected.
    """

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}", user_message=f"{path}: {problem}")
        self.path = path
        self.problem = problem


class ExportError(PetBiofeedbackError):
    """An export cannot be written: the output exists or its folder is missing, or the input
    does not hold what the chosen format needs (an EDF+ needs ECG or accelerometer)."""


class DeviceError(PetBiofeedbackError):
    """Something went wrong on the device side (strap, Bluetooth, decoding)."""


class DecodeError(DeviceError):
    """Malformed bytes from a strap; the only error the pure decoders may raise."""


class RecordingError(PetBiofeedbackError):
    """A recording could not be written or read."""


class RecordingDiskFullError(RecordingError):
    """Recording stopped because the disk is full or the file reached its size limit.

    Attributes
    ----------
    path : str
        The recording (it holds what was saved).
    reason : str
        The operating system's words ("No space left on device", "File too large").
    n_events_saved : int
        Events the file holds.
    saved_s : float
        Session time from its first to its last event, s.
    """

    def __init__(self, path: str, reason: str, *, n_events_saved: int, saved_s: float) -> None:
        minutes, seconds = divmod(round(saved_s), 60)
        saved = f"{minutes} min {seconds} s" if minutes else f"{seconds} s"
        super().__init__(
            f"{path}: writing failed ({reason}); {n_events_saved} events saved",
            user_message=(
                f"The disk is full or the file is as large as this system allows ({reason}), "
                f"so recording stopped. What was recorded until then is saved: "
                f"{n_events_saved} events, {saved} of session, in {path}. "
                "Free some disk space before recording again."
            ),
        )
        self.path = path
        self.reason = reason
        self.n_events_saved = n_events_saved
        self.saved_s = saved_s


class RecordingFormatError(RecordingError):
    """A recording line is malformed.

    Attributes
    ----------
    line_number : int
        1-based line number of the offending line.
    """

    def __init__(self, message: str, *, line_number: int) -> None:
        super().__init__(f"line {line_number}: {message}")
        self.line_number = line_number


class UnsupportedVersionError(RecordingError):
    """A recording has a major format version this program does not understand."""


class PmdCommandError(DeviceError):
    """A Polar strap answered a PMD control-point command with an error status.

    Attributes
    ----------
    status : int
        The response status code (ble-protocol.md §4.4), e.g. 10 = INVALID_MTU.
    """

    def __init__(self, message: str, *, status: int, user_message: str | None = None) -> None:
        super().__init__(message, user_message=user_message)
        self.status = status


class RecordingFileError(RecordingError):
    """A recording file is missing, unreadable, empty, or not a recording at all.

    Attributes
    ----------
    path : str
        The file that was rejected.
    problem : str
        What was wrong with it, in plain words.
    """

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}", user_message=f"{path}: {problem}")
        self.path = path
        self.problem = problem


class RecordingWriteError(RecordingError):
    """Writing a recording failed (disk full, file size limit, drive gone); the file keeps
    what was saved before the failure.

    Attributes
    ----------
    path : str
        The recording being written.
    disk_full : bool
        The disk (or the user's quota or file size limit) is full.
    n_events_saved : int
        Events that reached the file before the failure.
    saved_until_t : float or None
        ``t`` (s since session start) of the last saved event; None when none was saved.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str,
        disk_full: bool,
        n_events_saved: int,
        saved_until_t: float | None,
        user_message: str | None = None,
    ) -> None:
        super().__init__(message, user_message=user_message)
        self.path = path
        self.disk_full = disk_full
        self.n_events_saved = n_events_saved
        self.saved_until_t = saved_until_t


class BluetoothUnavailableReason(StrEnum):
    """Why Bluetooth cannot be used at all (`BluetoothUnavailableError.reason`)."""

    NO_ADAPTER = "no_adapter"
    NO_STACK = "no_stack"
    POWERED_OFF = "powered_off"
    PERMISSION_DENIED = "permission_denied"
    UNKNOWN = "unknown"


_BLUETOOTH_UNAVAILABLE_MESSAGES = {
    BluetoothUnavailableReason.NO_ADAPTER: (
        "This computer has no Bluetooth Low Energy adapter. Plug in a Bluetooth adapter "
        "(Bluetooth 4.0 or newer) and try again."
    ),
    BluetoothUnavailableReason.NO_STACK: (
        "Bluetooth is not running on this computer (no Bluetooth service was found). Start "
        "the Bluetooth service, or install it, and try again."
    ),
    BluetoothUnavailableReason.POWERED_OFF: (
        "Bluetooth is switched off. Switch it on in the system settings and try again."
    ),
    BluetoothUnavailableReason.PERMISSION_DENIED: (
        "This program is not allowed to use Bluetooth. Allow it in the system's privacy "
        "settings (on Linux: add your user to the 'bluetooth' group) and try again."
    ),
    BluetoothUnavailableReason.UNKNOWN: (
        "Bluetooth is not available on this computer right now. Check that it is switched on "
        "and try again."
    ),
}


class BluetoothUnavailableError(DeviceError):
    """Bluetooth cannot be used: no adapter, no Bluetooth stack, switched off, or not allowed.

    Attributes
    ----------
    reason : BluetoothUnavailableReason
        What is missing; the default ``user_message`` says what to do about it.
    """

    def __init__(
        self,
        message: str,
        *,
        reason: BluetoothUnavailableReason,
        user_message: str | None = None,
    ) -> None:
        super().__init__(
            message,
            user_message=(
                user_message
                if user_message is not None
                else _BLUETOOTH_UNAVAILABLE_MESSAGES[BluetoothUnavailableReason(reason)]
            ),
        )
        self.reason = BluetoothUnavailableReason(reason)


class DeviceNotFoundError(DeviceError):
    """The strap was not found by a scan (not nearby, switched off, or held by another device).

    Attributes
    ----------
    identifier : str or None
        The address or name that was looked for; None when any strap would have done.
    """

    def __init__(
        self, message: str, *, identifier: str | None = None, user_message: str | None = None
    ) -> None:
        if user_message is None:
            what = (
                "No heart-rate strap was found"
                if identifier is None
                else f"The strap '{identifier}' was not found"
            )
            user_message = (
                f"{what}. Put the strap on (moisten the electrodes) so that it wakes "
                "up, keep it near this computer, and disconnect it from phones, watches or "
                "other apps, which can hold it so that nobody else can connect."
            )
        super().__init__(message, user_message=user_message)
        self.identifier = identifier


class ConnectionLostError(DeviceError):
    """The link to the strap was lost, or could not be (re-)established."""

    default_user_message: ClassVar[str | None] = (
        "The connection to the strap was lost and could not be restored. Check "
        "that the strap is worn and near this computer, then connect again."
    )


class DeviceBusyError(DeviceError):
    """The strap (or the Bluetooth stack) is busy with another connection or operation."""

    default_user_message: ClassVar[str | None] = (
        "The strap is busy with another device or app. Disconnect it there (or "
        "close the other app), wait a few seconds and try again."
    )


class PairingRequiredError(DeviceError):
    """The strap wants to be paired before it sends some data, and pairing did not succeed."""

    default_user_message: ClassVar[str | None] = (
        "The strap wants to be paired with this computer before it sends ECG or "
        "motion data, and pairing did not work. Accept the pairing request if the "
        "system shows one, then connect again. Heart rate works without pairing."
    )


class StoreError(PetBiofeedbackError):
    """The history database cannot be opened, read or written (design.md §5).

    The database is only an index of the recordings: ``pet-biofeedback history --rebuild``
    restores it, so the default ``user_message`` says so.
    """

    default_user_message: ClassVar[str | None] = (
        "The history of sessions could not be read or saved. Your recordings are not "
        "affected: run 'pet-biofeedback history --rebuild' to rebuild the history from them."
    )


class StoreVersionError(StoreError):
    """The history database was written by a newer version of the program (its schema)."""

    default_user_message: ClassVar[str | None] = (
        "The history was saved by a newer version of this program. Update the program, or "
        "run 'pet-biofeedback history --rebuild' to rebuild the history from the recordings."
    )
