"""One exception tree for the whole application.

Every error carries ``user_message`` (plain words: what happened and what to do) beside the
developer detail in ``str(e)``. Structured data travels as attributes, never as extra ``args``.
This module imports only the standard library, so every layer (``signal`` included) may use it.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DecodeError",
    "DeviceError",
    "InputFileError",
    "PetBiofeedbackError",
    "PmdCommandError",
    "RecordingError",
    "RecordingFileError",
    "RecordingFormatError",
    "SignalInputError",
    "SignalQualityWarning",
    "UnsupportedVersionError",
]


class PetBiofeedbackError(Exception):
    """Root of every error the application raises on purpose."""

    def __init__(self, message: str, *, user_message: str | None = None) -> None:
        super().__init__(message)
        self.user_message = user_message if user_message is not None else message


class SignalInputError(PetBiofeedbackError, ValueError):
    """Wrong shape, dtype, non-finite values or an unknown option given to the signal core."""


class SignalQualityWarning(RuntimeWarning):
    """Batch analysis found data it could use only partly (too short, too many artifacts)."""


class ConfigError(PetBiofeedbackError, ValueError):
    """Settings that make no sense (negative window, step larger than allowed, …)."""


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


class DeviceError(PetBiofeedbackError):
    """Something went wrong on the device side (strap, Bluetooth, decoding)."""


class DecodeError(DeviceError):
    """Malformed bytes from a strap; the only error the pure decoders may raise."""


class RecordingError(PetBiofeedbackError):
    """A recording could not be written or read."""


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
