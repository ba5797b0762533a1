"""The header line of a recording: `RecordingHeader` and its parser."""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from pet_biofeedback.errors import (
    RecordingFileError,
    RecordingFormatError,
    UnsupportedVersionError,
)
from pet_biofeedback.recording._events_json import BadLine, parse_object
from pet_biofeedback.recording._format import FORMAT_NAME, FORMAT_VERSION, HEADER_KEYS

__all__ = ["RecordingHeader", "parse_header"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingHeader:
    """The header line of a recording.

    Attributes
    ----------
    version : int
        Major format version (always `FORMAT_VERSION` once read).
    started_at : datetime
        Wall-clock start of the session, timezone-aware.
    device : Mapping
        The device description, as written.
    settings : Mapping
        The session settings, as written.
    app_version : str
        Version of the program that wrote the file.
    extra : Mapping
        Header keys this reader does not know (written by a later minor version).
    """

    version: int
    started_at: datetime
    device: Mapping[str, object]
    settings: Mapping[str, object]
    app_version: str
    extra: Mapping[str, object]


def _major_version(value: object) -> int | None:
    """The major number of a header ``version`` (``1``, ``"1"`` or ``"1.2"``); None if invalid."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        major, _, _ = value.partition(".")
        if major.isdigit():
            return int(major)
    return None


def _text_of(raw: bytes) -> str | None:
    """``raw`` as text (UTF-8, perhaps cut inside its last character); None for binary data."""
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(raw, final=False)
    except UnicodeDecodeError:
        return None
    if all(c >= " " or c in "\t\r" for c in text):
        return text
    return None


def _unreadable_header(raw: bytes, complete: bool, damaged: bool, path: str) -> RecordingFileError:
    """The error for a first line that is not JSON (cut short, damaged, or not a recording)."""
    if damaged and not complete:
        return RecordingFileError(
            path,
            "is not a pet-biofeedback recording (it is compressed, but the compressed data "
            "are damaged before the end of its first line)",
        )
    if not complete:
        start = raw.rstrip(b"\x00")  # a power cut can leave zero bytes after the last write
        if not start:
            return RecordingFileError(path, "is empty (cut off before anything was written)")
        text = _text_of(start)
        if text is not None and text.lstrip(" \t\r").startswith("{"):
            return RecordingFileError(path, "was cut off before its header was complete")
    if _text_of(raw) is None:
        return RecordingFileError(
            path, "is not a pet-biofeedback recording (it holds binary data, not text)"
        )
    return RecordingFileError(
        path, "is not a pet-biofeedback recording (its first line is not a recording header)"
    )


def parse_header(raw: bytes, complete: bool, damaged: bool, path: str) -> RecordingHeader:
    """The header of line 1 (``raw``; ``complete``: it ended with a newline; ``damaged``: the
    compressed data turned unreadable after it)."""
    try:
        obj = parse_object(raw)
    except BadLine as exc:
        raise _unreadable_header(raw, complete, damaged, path) from exc
    if obj.get("format") != FORMAT_NAME:
        raise RecordingFileError(
            path, "is not a pet-biofeedback recording (its first line is not a recording header)"
        )
    major = _major_version(obj.get("version"))
    if major is None:
        raise RecordingFormatError(
            f"header 'version' must be an integer, got {obj.get('version')!r} ({path})",
            line_number=1,
        )
    if major != FORMAT_VERSION:
        raise UnsupportedVersionError(
            f"{path}: recording format version {obj['version']!r} is not supported; "
            f"this program reads major version {FORMAT_VERSION}",
            user_message=(
                f"{path} was made by a different version of pet-biofeedback "
                f"(recording format {obj['version']}); this version reads format "
                f"{FORMAT_VERSION}. Update the program to open it."
            ),
        )

    def problem(message: str) -> RecordingFormatError:
        return RecordingFormatError(f"header: {message} ({path})", line_number=1)

    missing = sorted(HEADER_KEYS - obj.keys())
    if missing:
        raise problem(f"missing {', '.join(repr(k) for k in missing)}")
    started_at_text = obj["started_at"]
    if not isinstance(started_at_text, str):
        raise problem("'started_at' must be an ISO-8601 string")
    try:
        started_at = datetime.fromisoformat(started_at_text)
    except ValueError as exc:
        raise problem(f"'started_at' is not ISO-8601: {started_at_text!r}") from exc
    if started_at.utcoffset() is None:
        raise problem(f"'started_at' has no UTC offset: {started_at_text!r}")
    device, settings, app_version = obj["device"], obj["settings"], obj["app_version"]
    if not isinstance(device, dict) or not isinstance(settings, dict):
        raise problem("'device' and 'settings' must be JSON objects")
    if not isinstance(app_version, str):
        raise problem("'app_version' must be a string")
    return RecordingHeader(
        version=major,
        started_at=started_at,
        device=MappingProxyType(device),
        settings=MappingProxyType(settings),
        app_version=app_version,
        extra=MappingProxyType({k: v for k, v in obj.items() if k not in HEADER_KEYS}),
    )
