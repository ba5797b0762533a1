"""What the exporters read: any input file as events, and its beats as one table.

Inputs are recognised by name, as ``analyze`` recognises them: recordings (``.jsonl``,
``.jsonl.gz``), LSL/XDF files (``.xdf``, ``.xdfz``) and RR text (anything else). All three
become the events of `pet_biofeedback.events` (`rr_text_events`, `xdf_events`, the recording
reader), so every exporter works on one shape; their ECG and ACC frames are packed into
arrays while reading (`SampleStream`) rather than kept as event objects.

Beats are found as `session.analysis` finds them (RR events; else the raw Heart Rate
notifications; else R peaks in the ECG), cut into contiguous stretches at gaps, and the
intervals joined back to back are corrected as ``analyze`` corrects them
(`signal.artifacts.correct_rr`). `BeatTable` lines the measured and the corrected series up
beat by beat: the correction keeps most beats one to one, splits a missed beat in two (a row
is inserted for the beat it adds) and merges an extra beat with the next one (the first of
the pair keeps its measured interval and gets no NN value).
"""

from __future__ import annotations

import logging
import math
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from pet_biofeedback.errors import (
    ConfigError,
    DecodeError,
    ExportError,
    InputFileError,
    RecordingError,
    RecordingFileError,
)
from pet_biofeedback.events import (
    AccFrame,
    EcgFrame,
    Event,
    Gap,
    Marker,
    PacerPhase,
    Rating,
    RawNotification,
    RRIntervals,
)
from pet_biofeedback.session.analysis import (
    MIN_BEATS,
    _ecg_stretches,
    _join,
    _rr_stretches,
    _Stretch,
)
from pet_biofeedback.session.frame_samples import FrameSamples
from pet_biofeedback.signal import artifacts
from pet_biofeedback.signal._typing import FloatArray, IntArray

__all__ = ["BeatTable", "ExportInput", "SampleStream", "beat_table", "read_export_input"]

logger = logging.getLogger(__name__)

InputKind = Literal["recording", "xdf", "rr_text"]
_RECORDING_SUFFIXES: Final = (".jsonl", ".jsonl.gz")
# NN values the correction left alone are copied bit for bit; a merged extra beat is the sum
# of its two intervals up to rounding.
_MERGE_TOLERANCE_MS: Final = 1e-6
_ARTIFACT_NAMES: Final = {
    artifacts.LABEL_NORMAL: "",
    artifacts.LABEL_ECTOPIC: "ectopic",
    artifacts.LABEL_LONG_SHORT: "long_short",
    artifacts.LABEL_GATED: "out_of_range",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleStream:
    """The ECG or ACC frames of an input, in file order, packed into arrays.

    Attributes
    ----------
    t_last_s : ndarray, shape (n_frames,)
        Each frame's time stamp (its last sample), s since session start.
    n_samples : ndarray of intp, shape (n_frames,)
    values : ndarray, shape (n_total,) for ECG (µV) or (n_total, 3) for ACC (mg)
    fs_hz : float
        The frames' nominal rate (the first frame's; frames at another rate are left out).
    n_other_rate : int
        Frames left out because their rate differs from the first frame's.
    """

    t_last_s: FloatArray
    n_samples: IntArray
    values: FloatArray
    fs_hz: float
    n_other_rate: int = 0


class _StreamBuilder:
    """Collects frames one at a time without keeping the event objects."""

    def __init__(self) -> None:
        self.fs_hz = math.nan
        self.t_s: list[float] = []
        self.n: list[int] = []
        self.chunks: list[FloatArray] = []
        self.n_other_rate = 0

    def add(self, t: float, fs_hz: float, values: Iterable[object]) -> None:
        if math.isnan(self.fs_hz):
            self.fs_hz = fs_hz
        elif fs_hz != self.fs_hz:
            self.n_other_rate += 1
            return
        chunk = np.asarray(values, dtype=np.float64)
        self.t_s.append(t)
        self.n.append(chunk.shape[0])
        self.chunks.append(chunk)

    def build(self) -> SampleStream | None:
        if not self.chunks:
            return None
        return SampleStream(
            t_last_s=np.asarray(self.t_s, dtype=np.float64),
            n_samples=np.asarray(self.n, dtype=np.intp),
            values=np.concatenate(self.chunks),
            fs_hz=self.fs_hz,
            n_other_rate=self.n_other_rate,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportInput:
    """One input file read for export.

    Attributes
    ----------
    path : str
    kind : {"recording", "xdf", "rr_text"}
    events : tuple of Event
        The events an export uses besides the samples — RR intervals, Heart Rate
        notifications (decoded when a recording has no RR events), gaps, pacer changes,
        markers, ratings — in file order (recordings) or time order (XDF, RR text).
    ecg, acc : SampleStream or None
        The ECG and accelerometer frames, packed (an hour of H10 data as event objects
        would take several hundred MB).
    end_s : float
        Session time of the last event of any kind, s.
    started_at : datetime or None
        Wall-clock start (recordings only), timezone-aware.
    profile_name : str or None
        The profile the session was recorded for, when the header names one.
    truncated : bool
        The recording was cut off (a crash); what it holds is exported.
    """

    path: str
    kind: InputKind
    events: tuple[Event, ...]
    ecg: SampleStream | None = None
    acc: SampleStream | None = None
    end_s: float = 0.0
    started_at: datetime | None = None
    profile_name: str | None = None
    truncated: bool = False


def _collect(
    events: Iterable[Event],
) -> tuple[tuple[Event, ...], SampleStream | None, SampleStream | None, float]:
    """Split events into the ones kept as objects and the packed ECG and ACC streams."""
    from pet_biofeedback.firmware_bridge import hrs

    kept: list[Event] = []
    ecg, acc = _StreamBuilder(), _StreamBuilder()
    end_s = 0.0
    for event in events:
        end_s = max(end_s, event.t)
        match event:
            case EcgFrame():
                if event.ecg_uv:
                    ecg.add(event.t, event.fs_hz, event.ecg_uv)
            case AccFrame():
                if event.acc_mg:
                    acc.add(event.t, event.fs_hz, event.acc_mg)
            case RawNotification():
                if event.characteristic.lower() == hrs.HEART_RATE_MEASUREMENT_UUID:
                    kept.append(event)
            case RRIntervals() | Gap() | PacerPhase() | Marker() | Rating():
                kept.append(event)
            case _:
                pass
    return tuple(kept), ecg.build(), acc.build(), end_s


def input_kind(path: Path) -> InputKind:
    """The kind of an input file, by its name (as ``analyze`` decides)."""
    name = path.name.lower()
    if path.suffix.lower() == ".xdf" or name.endswith(".xdfz"):
        return "xdf"
    if name.endswith(_RECORDING_SUFFIXES):
        return "recording"
    return "rr_text"


def _profile_name(settings: Mapping[str, object], extra: Mapping[str, object]) -> str | None:
    """The profile's name from a header, where a writer put one (``profile`` or
    ``profile_name``, a string or an object with ``name``)."""
    for where in (settings, extra):
        for key in ("profile_name", "profile"):
            value = where.get(key)
            if isinstance(value, Mapping):
                value = value.get("name")
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


def read_export_input(path: Path, *, column: str | None = None) -> ExportInput:
    """Read any input file (recording, XDF, RR text) as events.

    ``column``: the column of an RR table holding the intervals (`rr_text.read_rr_text`).

    Raises
    ------
    InputFileError
        The file is missing, unreadable, damaged, or not one of the three kinds.
    ConfigError
        ``column`` for a file that is not RR text.
    """
    from pet_biofeedback.session.importers import rr_text_events, xdf_events

    kind = input_kind(path)
    if column is not None and kind != "rr_text":
        raise ConfigError(f"{path}: --column is for RR text and CSV files, not recordings or XDF")
    if kind != "recording":
        events, ecg, acc, end_s = _collect(
            xdf_events(path) if kind == "xdf" else rr_text_events(path, column=column)
        )
        return ExportInput(path=str(path), kind=kind, events=events, ecg=ecg, acc=acc, end_s=end_s)
    from pet_biofeedback.recording import RecordingReader

    try:
        with RecordingReader(path) as reader:
            events, ecg, acc, end_s = _collect(reader)
            header, truncated = reader.header, reader.truncated
    except RecordingFileError as exc:
        raise InputFileError(exc.path, exc.problem) from exc
    except RecordingError as exc:
        raise InputFileError(str(path), exc.user_message) from exc
    return ExportInput(
        path=str(path),
        kind=kind,
        events=events,
        ecg=ecg,
        acc=acc,
        end_s=end_s,
        started_at=header.started_at,
        profile_name=_profile_name(header.settings, header.extra),
        truncated=truncated,
    )


def ascii_field(text: str) -> str:
    """``text`` as an EDF+ header subfield: ASCII letters kept (accents dropped), spaces as
    ``_`` (the EDF+ rule), anything else unprintable as ``?``."""
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    return "".join(
        "_" if ch.isspace() else ch if 32 < ord(ch) < 127 else "?" for ch in plain.strip()
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class BeatTable:
    """Measured and corrected beats, row by row.

    Attributes
    ----------
    t_s : ndarray, shape (n_rows,)
        Time of the beat that ends the row's interval, s since the recording's start.
    rr_ms : ndarray, shape (n_rows,)
        Measured interval, ms; NaN on a row the correction inserted (a missed beat).
    nn_ms : ndarray, shape (n_rows,)
        Corrected interval, ms; NaN on the first beat of a merged pair, and on every row
        when the correction is off or could not be lined up (`aligned`).
    artifact : tuple of str
        ``""`` (normal), ``ectopic``, ``long_short``, ``out_of_range``, ``missed``,
        ``missed_inserted``, ``extra``, ``extra_merged``.
    gap_before_s : ndarray, shape (n_rows,)
        On the first beat after a gap: the time without beats that was cut out, s; else NaN.
    rr_source : str
        Where the beats came from ("rr events", "raw heart-rate notifications",
        "ECG R-peaks").
    corrected : bool
        The correction was applied.
    aligned : bool
        The corrected series could be lined up with the measured one.
    n_gaps : int
    """

    t_s: FloatArray
    rr_ms: FloatArray
    nn_ms: FloatArray
    artifact: tuple[str, ...]
    gap_before_s: FloatArray
    rr_source: str
    corrected: bool
    aligned: bool
    n_gaps: int

    @property
    def measured_rr_ms(self) -> FloatArray:
        """The measured intervals back to back (rows the correction inserted left out)."""
        result: FloatArray = self.rr_ms[np.isfinite(self.rr_ms)]
        return result


def _decoded_raw(events: tuple[Event, ...]) -> tuple[list[float], list[tuple[float, ...]]]:
    from pet_biofeedback.firmware_bridge import hrs

    times: list[float] = []
    groups: list[tuple[float, ...]] = []
    for event in events:
        if (
            isinstance(event, RawNotification)
            and event.characteristic.lower() == hrs.HEART_RATE_MEASUREMENT_UUID
        ):
            try:
                groups.append(hrs.decode_heart_rate_measurement(event.payload).rr_ms)
            except DecodeError:
                continue
            times.append(event.t)
    return times, groups


def _stretches(source: ExportInput) -> tuple[list[_Stretch], str]:
    """Beat stretches from the first source that has enough (`session.analysis`'s order)."""
    rr = [e for e in source.events if isinstance(e, RRIntervals)]
    rr.sort(key=lambda e: e.t)
    gap_t = [e.t for e in source.events if isinstance(e, Gap)]
    best = _rr_stretches([e.t for e in rr], [e.rr_ms for e in rr], gap_t), "rr events"
    n_best = sum(s.rr_ms.size for s in best[0])
    if n_best < MIN_BEATS:
        raw_t, raw_rr = _decoded_raw(source.events)
        raw = _rr_stretches(raw_t, raw_rr, gap_t)
        n_raw = sum(s.rr_ms.size for s in raw)
        if n_raw > n_best:
            best, n_best = (raw, "raw heart-rate notifications"), n_raw
    if n_best < MIN_BEATS and source.ecg is not None:
        ecg = source.ecg
        samples = FrameSamples(1)
        ends = np.cumsum(ecg.n_samples)
        # one step per ECG frame (about 2 a second), not per sample or beat
        for t, end, n in zip(
            ecg.t_last_s.tolist(), ends.tolist(), ecg.n_samples.tolist(), strict=True
        ):
            samples.append(t, ecg.fs_hz, ecg.values[end - n : end].tolist())
        found, _unusable = _ecg_stretches(samples)
        n_ecg = sum(s.rr_ms.size for s in found)
        if n_ecg > n_best:
            best, n_best = (found, "ECG R-peaks"), n_ecg
    if n_best < MIN_BEATS:
        raise ExportError(
            (
                f"{source.path}: holds only {n_best} heartbeat intervals, too few to export "
                f"(at least {MIN_BEATS} are needed)"
            ),
        )
    return best


def _align(
    rr_ms: FloatArray, nn_ms: FloatArray, labels: npt.NDArray[np.int8]
) -> list[tuple[int, float, str]] | None:
    """Rows ``(measured index or -1, nn_ms or NaN, artifact)`` lining the corrected series up
    with the measured one; None when they do not line up (labels of an earlier pass were
    overwritten by a later one). One step per beat: a walk over two sequences at once."""
    rows: list[tuple[int, float, str]] = []
    n_in, n_nn = rr_ms.size, nn_ms.size
    i = j = 0
    while j < n_nn:
        label = int(labels[j])
        if i >= n_in:
            return None
        if label == artifacts.LABEL_MISSED:
            if j + 1 >= n_nn or labels[j + 1] != artifacts.LABEL_MISSED_SECOND:
                return None
            rows.append((-1, float(nn_ms[j]), "missed_inserted"))
            rows.append((i, float(nn_ms[j + 1]), "missed"))
            i, j = i + 1, j + 2
        elif label == artifacts.LABEL_EXTRA:
            if i + 1 >= n_in or abs(rr_ms[i] + rr_ms[i + 1] - nn_ms[j]) > _MERGE_TOLERANCE_MS:
                return None
            rows.append((i, math.nan, "extra_merged"))
            rows.append((i + 1, float(nn_ms[j]), "extra"))
            i, j = i + 2, j + 1
        elif label in _ARTIFACT_NAMES:
            if label == artifacts.LABEL_NORMAL and nn_ms[j] != rr_ms[i]:
                return None
            rows.append((i, float(nn_ms[j]), _ARTIFACT_NAMES[label]))
            i, j = i + 1, j + 1
        else:
            return None
    return rows if i == n_in else None


def beat_table(source: ExportInput, *, correction: bool = True) -> BeatTable:
    """The beats of an input, measured and (unless ``correction`` is False) corrected.

    Raises
    ------
    ExportError
        Fewer than three intervals in the whole input.
    """
    stretches, rr_source = _stretches(source)
    beats = _join(stretches)
    rr = beats.rr_ms
    beat_t = np.concatenate([s.t_start_s + np.cumsum(s.rr_ms) / 1000.0 for s in stretches])
    first_idx = np.cumsum([0] + [s.rr_ms.size for s in stretches[:-1]])
    gap_before = np.full(rr.size, np.nan)
    gap_before[first_idx[1:]] = np.maximum(beats.starts_s[1:] - beats.ends_s[:-1], 0.0)
    rows: list[tuple[int, float, str]] | None
    if correction:
        corr = artifacts.correct_rr(rr)
        rows = _align(rr, np.asarray(corr.nn_ms), np.asarray(corr.labels))
        if rows is None:
            logger.warning(
                "%s: the corrected intervals could not be lined up beat by beat", source.path
            )
    else:
        rows = [(i, math.nan, "") for i in range(rr.size)]
    aligned = rows is not None
    if rows is None:
        rows = [(i, math.nan, "") for i in range(rr.size)]
    idx = np.array([r[0] for r in rows], dtype=np.intp)
    nn = np.array([r[1] for r in rows], dtype=np.float64)
    measured = idx >= 0
    t_s = np.where(measured, beat_t[np.maximum(idx, 0)], np.nan)
    # An inserted beat lies one corrected interval after the beat before it.
    inserted = np.flatnonzero(~measured)
    t_s[inserted] = t_s[inserted + 1] - nn[inserted + 1] / 1000.0
    return BeatTable(
        t_s=t_s,
        rr_ms=np.where(measured, rr[np.maximum(idx, 0)], np.nan),
        nn_ms=nn,
        artifact=tuple(r[2] for r in rows),
        gap_before_s=np.where(measured, gap_before[np.maximum(idx, 0)], np.nan),
        rr_source=rr_source,
        corrected=correction,
        aligned=aligned and correction,
        n_gaps=beats.n_gaps,
    )
