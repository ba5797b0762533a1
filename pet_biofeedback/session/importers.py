"""Importers: turn other people's files into arrays the signal core understands.

* RR text and CSV files (`rr_text`): one interval per line, seconds or milliseconds, or the
  RR column of a table (HRV Logger, Polar Sensor Logger, ``time,rr``…).
* LSL/XDF recordings (``.xdf``): the stream of type ECG and, when present, the chest
  accelerometer and markers (e.g. a Polar H10 recorded through an LSL bridge).

`read_rr_text` and `read_xdf` return arrays for the batch analysis; `rr_text_events` and
`xdf_events` turn the same files into the events of `pet_biofeedback.events`, shaped as a
strap would have delivered them, so that a file given as a source (``record --source
file.xdf``, ``replay``) goes through the very same pipeline as a live strap.

Every problem with a file becomes an `InputFileError` whose message names the file and
the problem in one line.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from pet_biofeedback.errors import InputFileError, SignalInputError
from pet_biofeedback.events import AccFrame, EcgFrame, Event, Gap, Marker, RRIntervals
from pet_biofeedback.session.rr_text import (
    RR_SECONDS_BELOW,
    RrFile,
    check_regular_file,
    read_rr_text,
)
from pet_biofeedback.signal import artifacts
from pet_biofeedback.signal._typing import FloatArray

__all__ = [
    "ACC_SAMPLES_PER_FRAME",
    "ECG_SAMPLES_PER_FRAME",
    "MIN_ECG_STRETCH_S",
    "RR_NOTIFY_INTERVAL_S",
    "RR_SECONDS_BELOW",
    "EcgRecording",
    "EcgStretchPeaks",
    "RrFile",
    "check_regular_file",
    "ecg_stretch_peaks",
    "read_rr_text",
    "read_xdf",
    "rr_text_events",
    "xdf_events",
]

logger = logging.getLogger(__name__)

RR_NOTIFY_INTERVAL_S: Final = 1.0  # straps notify HR/RR about once a second (ble-protocol.md §5)
ECG_SAMPLES_PER_FRAME: Final = 73  # Polar H10 ECG frame at ATT MTU ≥ 232 (ble-protocol.md §4.9)
ACC_SAMPLES_PER_FRAME: Final = 36  # Polar H10 16-bit ACC frame at MTU 232 (§4.10)
# Consecutive samples further apart than this many nominal sample intervals start a new
# frame: a frame's samples are evenly spaced back from its time stamp (events.py).
_FRAME_BREAK_INTERVALS: Final = 1.5


@dataclass(frozen=True, slots=True, kw_only=True)
class EcgRecording:
    """ECG (and optionally chest acceleration) read from an XDF file.

    Attributes
    ----------
    path : str
    ecg_uv : ndarray, shape (n_samples,)
        ECG in µV as stored by the stream.
    ecg_t_s : ndarray, shape (n_samples,)
        Sample times in s from the first ECG sample (dejittered LSL clock).
    ecg_fs_hz : float
        Effective sampling rate measured from the time stamps.
    acc_mg : ndarray, shape (n_acc, 3) or None
    acc_t_s : ndarray, shape (n_acc,) or None
        Accelerometer samples (mG) and their times on the ECG's time axis.
    acc_fs_hz : float
    markers : tuple of (float, str)
        Marker time (s, ECG time axis) and text.
    stream_name : str
    """

    path: str
    ecg_uv: FloatArray
    ecg_t_s: FloatArray
    ecg_fs_hz: float
    acc_mg: FloatArray | None = None
    acc_t_s: FloatArray | None = None
    acc_fs_hz: float = math.nan
    markers: tuple[tuple[float, str], ...] = field(default_factory=tuple)
    stream_name: str = ""


def _stream_type(stream: dict[str, Any]) -> str:
    try:
        return str(stream["info"]["type"][0]).strip().lower()
    except (KeyError, IndexError, TypeError):
        return ""


def _stream_name(stream: dict[str, Any]) -> str:
    try:
        return str(stream["info"]["name"][0])
    except (KeyError, IndexError, TypeError):
        return ""


def _effective_fs_hz(t_s: FloatArray, nominal: float) -> float:
    """Samples per second of the stream's time stamps, not counting its gaps.

    A gap (consecutive stamps more than `_FRAME_BREAK_INTERVALS` typical sample intervals
    apart) is left out: counted in, one minute missing from ten made a 130-Hz ECG "118 Hz",
    and every R-peak time and RR interval 10 % too long.
    """
    if t_s.size < 2 or not t_s[-1] > t_s[0]:
        return nominal
    dt = np.diff(t_s)
    inside = dt <= _FRAME_BREAK_INTERVALS * float(np.median(dt))
    if bool(np.all(inside)):
        return float((t_s.size - 1) / (t_s[-1] - t_s[0]))
    span_s = float(np.sum(dt[inside]))
    return float(np.count_nonzero(inside) / span_s) if span_s > 0 else nominal


@dataclass(frozen=True, slots=True)
class EcgStretchPeaks:
    """R peaks of each contiguous stretch of an XDF's ECG (a new stretch after a gap).

    Attributes
    ----------
    t_s : list of ndarray
        Per usable stretch: R-peak times in s on the recording's ECG time axis.
    amplitude_uv : list of ndarray
        Per usable stretch: the peaks' amplitudes in µV.
    n_unusable : int
        Stretches shorter than `MIN_ECG_STRETCH_S` or without detectable beats.
    problem : str
        Why the last unusable stretch had no beats ("" when none failed that way).
    """

    t_s: list[FloatArray]
    amplitude_uv: list[FloatArray]
    n_unusable: int
    problem: str = ""


MIN_ECG_STRETCH_S: Final = 5.0  # find_r_peaks needs at least this much ECG


def ecg_stretch_peaks(rec: EcgRecording) -> EcgStretchPeaks:
    """R peaks per contiguous stretch of ``rec``'s ECG, each on the stream's time axis.

    The ECG is cut where its time stamps jump by more than `_FRAME_BREAK_INTERVALS` sample
    intervals: peaks found across such a gap as if the samples were contiguous would make
    the beats after it early by the gap's length, and one interval spanning it.
    """
    from pet_biofeedback.signal.ecg import find_r_peaks  # only ECG input pays for it

    t = rec.ecg_t_s
    if t.size == 0 or not (math.isfinite(rec.ecg_fs_hz) and rec.ecg_fs_hz > 0):
        return EcgStretchPeaks([], [], 0)
    breaks = np.flatnonzero(np.diff(t) > _FRAME_BREAK_INTERVALS / rec.ecg_fs_hz) + 1
    edges = [0, *breaks.tolist(), t.size]
    found = EcgStretchPeaks([], [], 0)
    n_unusable = 0
    problem = ""
    for lo, hi in itertools.pairwise(edges):
        if t[hi - 1] - t[lo] < MIN_ECG_STRETCH_S:
            n_unusable += 1
            continue
        try:
            peaks = find_r_peaks(rec.ecg_uv[lo:hi], rec.ecg_fs_hz)
        except SignalInputError as exc:
            logger.info("%s: ECG stretch at %.1f s skipped: %s", rec.path, t[lo], exc)
            n_unusable += 1
            problem = str(exc)
            continue
        found.t_s.append(float(t[lo]) + np.asarray(peaks.t_s, dtype=np.float64))
        found.amplitude_uv.append(np.asarray(peaks.amplitude_uv, dtype=np.float64))
    return EcgStretchPeaks(found.t_s, found.amplitude_uv, n_unusable, problem)


def read_xdf(path: str | Path) -> EcgRecording:
    """Read the ECG stream (type ``ECG``) and, if present, accelerometer and markers.

    Times come from the XDF's dejittered time stamps, so ECG and ACC are aligned by time,
    never by nominal rates (their clocks differ from nominal by up to 2 %).

    Raises
    ------
    InputFileError
        Missing or unreadable file, not XDF, or no ECG stream in it.
    """
    p = Path(path)
    if not p.exists():
        raise InputFileError(str(p), "no such file")
    check_regular_file(p)
    if p.stat().st_size == 0:
        raise InputFileError(str(p), "is empty")
    with p.open("rb") as fh:
        magic = fh.read(4)
    if magic != b"XDF:" and magic[:2] != b"\x1f\x8b":  # plain or gzip-compressed XDF
        raise InputFileError(str(p), "is not a readable XDF file (no XDF signature)")
    import pyxdf  # imported here: only XDF input pays for it

    try:
        streams, _header = pyxdf.load_xdf(str(p), dejitter_timestamps=True)
    except Exception as exc:  # pyxdf raises bare Exceptions/struct errors for bad files
        raise InputFileError(str(p), f"is not a readable XDF file ({exc})") from exc
    ecg = [s for s in streams if _stream_type(s) == "ecg"]
    if not ecg:
        types = ", ".join(sorted({_stream_type(s) or "?" for s in streams})) or "none"
        raise InputFileError(str(p), f"has no stream of type ECG (stream types: {types})")
    e = ecg[0]
    ts = np.asarray(e.get("time_series"), dtype=np.float64)
    t = np.asarray(e.get("time_stamps"), dtype=np.float64)
    if ts.ndim == 2:
        ts = ts[:, 0]
    if ts.size == 0:
        raise InputFileError(str(p), "its ECG stream holds no samples")
    t0 = float(t[0])
    ecg_t = t - t0
    try:
        nominal = float(e["info"]["nominal_srate"][0])
    except (KeyError, IndexError, TypeError, ValueError):
        nominal = math.nan
    acc_mg = acc_t = None
    acc_fs = math.nan
    acc = [s for s in streams if _stream_type(s) in ("accelerometer", "acc", "accelerometry")]
    if acc:
        a = np.asarray(acc[0].get("time_series"), dtype=np.float64)
        at = np.asarray(acc[0].get("time_stamps"), dtype=np.float64)
        if a.ndim == 2 and a.shape[1] >= 3 and a.shape[0] == at.size and a.shape[0] > 1:
            acc_mg = a[:, :3].copy()
            acc_t = at - t0
            acc_fs = _effective_fs_hz(at, math.nan)
    markers: list[tuple[float, str]] = []
    for s in streams:
        if (
            _stream_type(s) in ("markers", "marker")
            or s.get("info", {}).get("channel_format", [""])[0] == "string"
        ):
            for stamp, value in zip(
                s.get("time_stamps", []), s.get("time_series", []), strict=False
            ):
                text = value[0] if isinstance(value, list | tuple) and value else str(value)
                markers.append((float(stamp) - t0, str(text)))
    return EcgRecording(
        path=str(p),
        ecg_uv=ts,
        ecg_t_s=ecg_t,
        ecg_fs_hz=_effective_fs_hz(t, nominal),
        acc_mg=acc_mg,
        acc_t_s=acc_t,
        acc_fs_hz=acc_fs,
        markers=tuple(sorted(markers)),
        stream_name=_stream_name(e),
    )


# --- Files as events ---------------------------------------------------------------------------


def rr_text_events(path: str | Path, *, column: str | None = None) -> list[Event]:
    """Turn an RR text file into `RRIntervals` events, grouped per second like a strap.

    Parameters
    ----------
    path : str or Path
        An RR text file as `read_rr_text` reads it.
    column : str, optional
        The table column holding the intervals, as for `read_rr_text`.

    Returns
    -------
    list of Event
        `RRIntervals` events in time order, at most one per second.

    Raises
    ------
    InputFileError
        As `read_rr_text`.

    Notes
    -----
    Beat times come from the cumulative sum: the first interval starts at a beat at 0 s, beat
    ``k`` is at ``sum(rr_ms[:k + 1]) / 1000`` s. The intervals are grouped as a strap's
    once-a-second Heart Rate notifications would carry them: one event per second ``(n - 1,
    n]`` that holds a beat, with every interval ending in it, oldest first, and — as
    `RRIntervals` defines ``t`` — stamped with the time of its last beat. No heart rate,
    contact or link events are invented: the file holds only intervals. Reading the events
    back and concatenating ``rr_ms`` gives the file's intervals exactly.
    """
    rr = read_rr_text(path, column=column)
    # An interval outside the plausible range (a 1e300 typo) must not push every later beat
    # out of reach: it takes no time here, and the file source's plausibility gate skips it.
    plausible = (rr.rr_ms >= artifacts.RR_MIN_MS) & (rr.rr_ms <= artifacts.RR_MAX_MS)
    if not np.all(plausible):
        bad = np.flatnonzero(~plausible)
        logger.warning(
            "%s: %d intervals outside %g–%g ms (the first at line %d: %g ms) are skipped",
            path,
            bad.size,
            artifacts.RR_MIN_MS,
            artifacts.RR_MAX_MS,
            rr.line_number[bad[0]] if rr.line_number.size else 0,
            rr.rr_ms[bad[0]],
        )
    beat_t_s = np.cumsum(np.where(plausible, rr.rr_ms, 0.0)) / 1000.0
    events = _as_notifications(beat_t_s, rr.rr_ms)
    logger.info("%s: %d intervals as %d RR events", path, rr.rr_ms.size, len(events))
    return events


def _as_notifications(beat_t_s: FloatArray, rr_ms: FloatArray) -> list[Event]:
    """`RRIntervals` grouped per second as a strap notifies them (`rr_text_events` Notes).

    ``beat_t_s`` (non-decreasing) is the time of the beat that ends each of ``rr_ms``.
    """
    notify_t_s = np.maximum(np.ceil(beat_t_s / RR_NOTIFY_INTERVAL_S), 1.0) * RR_NOTIFY_INTERVAL_S
    # Beat times increase, so each notification's beats are one contiguous run.
    starts = np.flatnonzero(np.concatenate(([True], np.diff(notify_t_s) > 0)))
    bounds = np.append(starts, notify_t_s.size).tolist()
    times = beat_t_s[np.append(starts[1:], notify_t_s.size) - 1].tolist()  # last beat each
    values = rr_ms.tolist()
    return [
        RRIntervals(t, tuple(values[lo:hi]))
        for t, (lo, hi) in zip(times, itertools.pairwise(bounds), strict=True)
    ]


def _ecg_beat_events(rec: EcgRecording, t0_s: float) -> list[Event]:
    """The RR intervals between the R peaks of the ECG, as `RRIntervals` a strap would send.

    The peaks are found as ``analyze`` finds them (`ecg_stretch_peaks`: per contiguous
    stretch of the stream), so ``replay`` and ``analyze`` of one XDF file count the same
    beats. Interval ``k`` of a stretch ends at its peak ``k + 1``. Between two stretches a
    `Gap` says how long the ECG stream had no samples, as a strap's lost link would.
    """
    found = ecg_stretch_peaks(rec)  # none for an empty stream or an unusable rate
    if found.problem and not found.t_s:
        # The frames still play (and ACC and markers with them); analyze says why in full.
        logger.warning(
            "%s: no beats from the ECG stream %r: %s", rec.path, rec.stream_name, found.problem
        )
    events: list[Event] = []
    t_end_s: float | None = None
    for peak_t_s in found.t_s:
        if peak_t_s.size < 2:
            continue
        if t_end_s is not None:
            seconds = float(peak_t_s[0]) - t_end_s
            events.append(Gap(float(peak_t_s[0]) - t0_s, seconds, "no ECG samples"))
        events.extend(_as_notifications(peak_t_s[1:] - t0_s, np.diff(peak_t_s) * 1000.0))
        t_end_s = float(peak_t_s[-1])
    return events


def _frame_bounds(t_s: FloatArray, fs_hz: float, n_per_frame: int) -> list[tuple[int, int]]:
    """``(start, stop)`` index pairs of frames: ``n_per_frame`` samples, cut at time gaps."""
    if t_s.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(t_s) > _FRAME_BREAK_INTERVALS / fs_hz) + 1
    seg_starts = np.concatenate(([0], breaks))
    seg_stops = np.concatenate((breaks, [t_s.size]))
    bounds: list[tuple[int, int]] = []
    for lo, hi in zip(seg_starts.tolist(), seg_stops.tolist(), strict=True):
        edges = [*range(lo, hi, n_per_frame), hi]
        bounds.extend(itertools.pairwise(edges))
    return bounds


def xdf_events(path: str | Path, *, with_beats: bool = False) -> list[Event]:
    """Turn an XDF recording into events: ECG and ACC frames, markers, the ECG's beats.

    Parameters
    ----------
    path : str or Path
        An XDF file as `read_xdf` reads it (an ECG stream, optionally ACC and markers).
    with_beats : bool, default False
        Add the RR intervals between the ECG's R peaks (Notes): what a file played as a
        source needs; the batch readers find the peaks themselves.

    Returns
    -------
    list of Event
        `EcgFrame`, `AccFrame`, `Marker` (and `RRIntervals`) events, sorted by ``t`` (stable).

    Raises
    ------
    InputFileError
        As `read_xdf`.

    Notes
    -----
    Times are the XDF's dejittered stream time stamps, shifted so that the earliest ECG, ACC
    or marker time is 0 s. ECG is cut into frames of `ECG_SAMPLES_PER_FRAME` samples and ACC
    into frames of `ACC_SAMPLES_PER_FRAME`, as a Polar H10 sends them, each stamped with its
    last sample's time and carrying the stream's effective sampling rate; a frame never spans
    a gap in the time stamps (more than 1.5 sample intervals), so every sample keeps its time.
    With ``with_beats``, the RR intervals between the ECG's R peaks (found as ``analyze``
    finds them) are added as `RRIntervals` grouped per second, as an H10 sends them beside
    its ECG, so that a replay or a session from the file has its beats; an ECG in which no
    R peak can be found adds none (a warning says why).
    """
    rec = read_xdf(path)
    offsets = [float(rec.ecg_t_s[0])]
    if rec.acc_t_s is not None and rec.acc_t_s.size:
        offsets.append(float(rec.acc_t_s[0]))
    if rec.markers:
        offsets.append(rec.markers[0][0])
    t0 = min(offsets)
    events: list[Event] = []
    ecg_t = rec.ecg_t_s - t0
    ecg_uv = rec.ecg_uv.tolist()
    ecg_times = ecg_t.tolist()
    for lo, hi in _frame_bounds(ecg_t, rec.ecg_fs_hz, ECG_SAMPLES_PER_FRAME):
        events.append(EcgFrame(ecg_times[hi - 1], rec.ecg_fs_hz, tuple(ecg_uv[lo:hi])))
    n_ecg = len(events)
    if rec.acc_mg is not None and rec.acc_t_s is not None and math.isfinite(rec.acc_fs_hz):
        acc_t = rec.acc_t_s - t0
        acc_rows = [(x, y, z) for x, y, z in rec.acc_mg.tolist()]
        acc_times = acc_t.tolist()
        for lo, hi in _frame_bounds(acc_t, rec.acc_fs_hz, ACC_SAMPLES_PER_FRAME):
            events.append(AccFrame(acc_times[hi - 1], rec.acc_fs_hz, tuple(acc_rows[lo:hi])))
    n_acc = len(events) - n_ecg
    events.extend(Marker(t - t0, text) for t, text in rec.markers)
    beats = _ecg_beat_events(rec, t0) if with_beats else []
    events.extend(beats)
    events.sort(key=lambda e: e.t)
    logger.info(
        "%s: %d ECG frames, %d ACC frames, %d markers, %d RR events from the ECG's R peaks",
        path,
        n_ecg,
        n_acc,
        len(rec.markers),
        len(beats),
    )
    return events
