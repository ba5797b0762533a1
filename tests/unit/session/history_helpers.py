"""Recordings and rows for the history tests."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from pet_biofeedback.events import Rating, RRIntervals
from pet_biofeedback.recording import RecordingWriter

MEAN_RR_MS = 900.0
SWING_RR_MS = 60.0
BREATH_S = 10.0  # 6 breaths/min


def write_recording(
    folder: Path,
    name: str,
    *,
    started_at: datetime,
    settings: Mapping[str, object] | None = None,
    ratings: Sequence[tuple[str, float]] = (),
    n_beats: int = 150,
) -> Path:
    """A recording in ``folder/recordings`` with ``n_beats`` RR intervals swinging at 0.1 Hz.

    Ratings are written at t = 0 (``*_before``) or after the last beat (``*_after``).
    """
    path = folder / "recordings" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = RecordingWriter(
        path, device={"model": "H10", "name": "Polar H10 TEST"}, settings=settings or {},
        started_at=started_at,
    )  # fmt: skip
    for kind, value in ratings:
        if kind.endswith("_before"):
            writer.write(Rating(0.0, kind, value))
    t_s = 0.0
    for _ in range(n_beats):
        rr_ms = MEAN_RR_MS + SWING_RR_MS * math.sin(2 * math.pi * t_s / BREATH_S)
        t_s += rr_ms / 1000.0
        writer.write(RRIntervals(t_s, (rr_ms,)))
    for kind, value in ratings:
        if kind.endswith("_after"):
            writer.write(Rating(t_s, kind, value))
    writer.close()
    return path
