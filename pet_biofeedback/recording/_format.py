"""Constants of recording format v1 shared by the writer and the reader (design.md §4)."""

from __future__ import annotations

from typing import Final

FORMAT_NAME: Final = "pet-biofeedback-recording"
FORMAT_VERSION: Final = 1  # major version written and understood (design.md §4)
FLUSH_INTERVAL_S: Final = 1.0  # design.md §4: "flush at least every second"
FSYNC_INTERVAL_S: Final = 5.0  # design.md §4: "fsync at least every 5 s and on close"
FILE_MODE: Final = 0o600  # issue 3: "files readable only by their owner"
HEADER_KEYS: Final = frozenset(
    {"format", "version", "started_at", "device", "settings", "app_version"}
)


def format_t(t: float) -> str:
    """A session time ``t`` (s) for people: ``"12:03.4"`` (min:s), ``"1:02:03.4"`` past an hour."""
    sign = "-" if t < 0 else ""
    tenths = round(abs(t) * 10.0)
    minutes, tenths_in_minute = divmod(tenths, 600)
    hours, minutes = divmod(minutes, 60)
    seconds = f"{tenths_in_minute // 10:02d}.{tenths_in_minute % 10}"
    if hours:
        return f"{sign}{hours}:{minutes:02d}:{seconds}"
    return f"{sign}{minutes}:{seconds}"
