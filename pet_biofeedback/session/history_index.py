"""Turn one recording into a history row: the index can always be rebuilt (design.md §5).

The header gives the start time, the device and the settings; the session engine puts
``protocol``, ``profile``, ``pacer``, ``minutes`` (planned) and ``note`` into the settings,
and the ratings are `Rating` events (kinds ``pain_before``, ``pain_after``, ``mood_before``,
``mood_after``). A recording made by ``record`` has none of these: it is indexed with
protocol ``"recording"`` and profile ``"default"``. Summary measures come from
`analyze_file` through the report's `gather_report`, so that the row's ``rsa_bpm`` is the
report's heart-rate swing: the mean peak-to-trough swing of the paced breaths (else of the
breaths measured from chest movement), computed from the recording alone, so that a rebuild
gives the row it had. A recording whose measures cannot be computed (too few beats, heart
rate only) is still indexed, with the measures left empty and the reason returned.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, cast

import numpy as np

from pet_biofeedback.errors import (
    ConfigError,
    InputFileError,
    RecordingError,
    RecordingFileError,
)
from pet_biofeedback.session.history_record import (
    DEFAULT_PROFILE,
    PROTOCOLS,
    Protocol,
    SessionRecord,
    validate_profile_name,
)
from pet_biofeedback.session.report_data import RecordingContents, ReportData, gather_report
from pet_biofeedback.signal import timedomain

__all__ = ["RATING_KINDS", "START_HR_WINDOW_S", "IndexedRecording", "index_recording"]

logger = logging.getLogger(__name__)

RATING_KINDS: Final = ("pain_before", "pain_after", "mood_before", "mood_after")
START_HR_WINDOW_S: Final = 120.0  # "the first minutes of practice" for resting HR (issue 7)
_MS_PER_MIN: Final = 60_000.0
_S_PER_MIN: Final = 60.0


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexedRecording:
    """A recording read for the index.

    Attributes
    ----------
    record : SessionRecord
        The row (``id`` None).
    measures_problem : str or None
        Why the summary measures are empty, in plain words; None when they were computed.
    """

    record: SessionRecord
    measures_problem: str | None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _or_nan(value: object) -> float:
    number = _number(value)
    return math.nan if number is None else number


def _pacer_rate(settings: Mapping[str, object], first_pacer: float | None) -> float | None:
    """The pacer rate from the header's ``pacer`` settings, else the first pacer event."""
    pacer = settings.get("pacer")
    if isinstance(pacer, Mapping):
        for key in ("breaths_per_min", "bpm"):  # "bpm" is the recording's frozen pacer key
            rate = _number(cast(Mapping[str, object], pacer).get(key))
            if rate is not None:
                return rate
    return first_pacer


def _start_hr_bpm(data: ReportData) -> float | None:
    """Mean heart rate of the first `START_HR_WINDOW_S`, by the mean HR's own convention."""
    t_s = data.beat_t_s
    if t_s.size == 0:
        return None
    nn_ms = _MS_PER_MIN / data.hr_bpm
    first = nn_ms[t_s - t_s[0] <= START_HR_WINDOW_S]
    # Same convention as the summary's mean HR (mean of per-beat HR, hrv-methods.md §1).
    return timedomain.time_metrics(first).mean_hr_bpm if first.size else None


def index_recording(path: Path) -> IndexedRecording:
    """Read one recording into a history row.

    Parameters
    ----------
    path : Path
        A recording (``.jsonl`` or ``.jsonl.gz``).

    Returns
    -------
    IndexedRecording

    Raises
    ------
    RecordingError
        The recording cannot be read (missing, not a recording, damaged); its
        ``user_message`` says why.
    """
    contents = RecordingContents()
    problem: str | None = None
    data: ReportData | None = None
    try:
        # One read (the history rebuild reads every recording): the analysis fills
        # ``contents`` with the header, ratings and pacer as it goes, measures or not.
        data = gather_report(path, contents=contents)
    except InputFileError as exc:
        if isinstance(exc.__cause__, RecordingError):  # unreadable, not just unmeasurable
            raise exc.__cause__ from None
        problem = exc.problem
    started_at = contents.started_at
    if started_at is None:  # no header: not read as a recording (the history holds only those)
        raise RecordingFileError(str(path), "is not a pet-biofeedback recording")
    ratings: dict[str, float] = {}
    for event in contents.ratings:
        value = _number(event.value)
        if event.kind in RATING_KINDS and value is not None and 0 <= value <= 10:
            ratings[event.kind] = value  # the last rating of a kind wins
        else:
            logger.debug("%s: rating %r=%r ignored", path, event.kind, event.value)
    first_pacer = contents.pacer[0].breaths_per_min if contents.pacer else None
    last_t = max(0.0, contents.t_last_s)
    settings = dict(contents.settings or {})
    protocol_value = settings.get("protocol")
    protocol = cast(Protocol, protocol_value if protocol_value in PROTOCOLS else "recording")
    profile = DEFAULT_PROFILE
    profile_value = settings.get("profile")
    if isinstance(profile_value, str):
        try:
            profile = validate_profile_name(profile_value)
        except ConfigError:
            logger.debug("%s: profile name %r refused; indexed as default", path, profile_value)
    note_value = settings.get("note")
    nan = math.nan
    mean_hr_bpm = rmssd_ms = coherence = breathing = rsa_bpm = nan
    start_hr_bpm: float | None = None
    if data is not None:
        summary = data.report["summary"]
        mean_hr_bpm = _or_nan(summary["mean_hr_bpm"])
        rmssd_ms = _or_nan(summary["rmssd_ms"])
        coherence = _or_nan(summary["coherence"])
        breathing = _or_nan(summary["breathing_rate_bpm"])
        if data.rsa_bpm.size:
            rsa_bpm = float(np.mean(data.rsa_bpm))
        start_hr_bpm = _start_hr_bpm(data)
    record = SessionRecord(
        started_at=started_at,
        profile=profile,
        protocol=protocol,
        settings=settings,
        device=dict(contents.device or {}),
        recording=str(path),
        minutes=last_t / _S_PER_MIN,
        pacer_breaths_per_min=_pacer_rate(settings, first_pacer),
        pain_before=ratings.get("pain_before"),
        pain_after=ratings.get("pain_after"),
        mood_before=ratings.get("mood_before"),
        mood_after=ratings.get("mood_after"),
        mean_hr_bpm=mean_hr_bpm,
        start_hr_bpm=start_hr_bpm,
        rmssd_ms=rmssd_ms,
        coherence=coherence,
        rsa_bpm=rsa_bpm,
        breathing_breaths_per_min=breathing,
        note=note_value if isinstance(note_value, str) else "",
    )
    return IndexedRecording(record=record, measures_problem=problem)
