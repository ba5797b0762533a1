"""What the app remembers per profile between sessions: for now, the practice rate.

A resonance assessment recommends a breathing rate; it becomes the profile's default practice
rate (issue #7). One small JSON file in the data folder, readable only by its owner, written
whole through a temporary file and a rename, so a crash leaves the old file or the new one.
Profile names are keys inside the file, never parts of a path.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Final

from pet_biofeedback.errors import StoreError
from pet_biofeedback.paths import data_dir

__all__ = ["PREFERENCES_FILE", "practice_rate", "remember_practice_rate"]

logger = logging.getLogger(__name__)

PREFERENCES_FILE: Final = "preferences.json"


def _path() -> Path:
    return data_dir() / PREFERENCES_FILE


def _load() -> dict[str, Any]:
    path = _path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:  # unreadable: start afresh, but say so
        logger.warning("preferences in %s could not be read (%s); using defaults", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def practice_rate(profile: str) -> float | None:
    """The profile's practice rate in breaths/min from its last assessment, if any."""
    entry = _load().get("profiles", {}).get(profile, {})
    rate = entry.get("practice_breaths_per_min") if isinstance(entry, dict) else None
    if isinstance(rate, int | float) and math.isfinite(rate) and 3.0 <= rate <= 10.0:
        return float(rate)
    return None


def remember_practice_rate(profile: str, breaths_per_min: float, *, source: str) -> Path:
    """Store ``breaths_per_min`` as the profile's practice rate; returns the file.

    Raises
    ------
    StoreError
        The file cannot be written.
    """
    data = _load()
    profiles = data.setdefault("profiles", {})
    if not isinstance(profiles, dict):
        profiles = data["profiles"] = {}
    profiles[profile] = {"practice_breaths_per_min": breaths_per_min, "source": source}
    path = _path()
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".preferences-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except OSError as exc:
        message = f"could not save the preferences to {path}: {exc}"
        raise StoreError(message, user_message=message) from exc
    return path
