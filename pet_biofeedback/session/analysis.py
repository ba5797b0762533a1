"""Analyse a file end to end: read it, find beats (ECG), estimate breathing (ACC), run the
batch analysis, and shape the result as the report the CLI prints.

Files: RR text, XDF (ECG → R peaks), and our own recordings (``.jsonl``, ``.jsonl.gz``).

Recordings
----------
Beats come from the first of these the recording has: ``rr`` events; else the raw Heart Rate
Measurement notifications, decoded with `firmware_bridge.hrs`; else R peaks found in the
``ecg`` events. Breathing comes from the first source the file has (``breathing_source``):
chest movement (``acc`` events, `breathing_from_acc` with the samples' own times), else the
ECG's R-wave amplitude (EDR, breath onsets from `breathing_from_ecg_amplitude`), else an
estimate from the heart rhythm itself ("rr-estimate", hrv-methods.md §8.3). RR text files get
the estimate; XDF files ACC, else EDR, else the estimate.

A recording with heart rate only (an optical sensor) cannot give HRV: the error says so and
gives its mean heart rate.

Gaps: a strap that loses contact, or a link that drops, sends no RR for a while; the RR
intervals on both sides are real, but the interval that spans the gap was never measured. It
is **not** invented (no giant interval, no interpolation), and the beats on both sides are
not joined back to back either: a difference across a gap is not a successive difference
(issue 6). Beat times are rebuilt per contiguous stretch (ble-protocol.md §2.4): within a
stretch from the cumulative sum, anchored at the notification times; a new stretch starts
after a ``gap`` event or when the notifications run ahead of the beats by more than
`RR_GAP_S` (beats went missing). The batch analysis gets the stretches with their real start
times (`analyze_rr`'s ``segment_start_idx``/``segment_start_s``): window times are
recording time, gaps included, so breath onsets from the accelerometer need no shifting;
differences across gaps are left out and spectra are taken per stretch. The report says how
many gaps, and how many seconds, there were, and the notes what was left out because of
them. For ECG, R peaks are found per contiguous stretch of samples, likewise.

Memory (issue 6): ECG and ACC samples are kept as float32 while reading (`FrameSamples`) and
processed in time windows and chunks (`ecg_chunked`, `respiration_chunked`), so a 24-h H10
recording needs a few hundred MB, not gigabytes.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

import numpy as np
import numpy.typing as npt

from pet_biofeedback.errors import (
    ConfigError,
    DecodeError,
    InputFileError,
    RecordingError,
    RecordingFileError,
    SignalInputError,
)
from pet_biofeedback.events import (
    AccFrame,
    EcgFrame,
    Event,
    Gap,
    HeartRate,
    RawNotification,
    RRIntervals,
)
from pet_biofeedback.session.frame_samples import FrameSamples
from pet_biofeedback.session.hr_only import heart_rate_only_text
from pet_biofeedback.session.importers import (
    MIN_ECG_STRETCH_S,
    ecg_stretch_peaks,
    read_rr_text,
    read_xdf,
)
from pet_biofeedback.signal import spectral
from pet_biofeedback.signal._typing import FloatArray
from pet_biofeedback.signal.batch import (
    COHERENCE_STEP_S,
    AnalysisSettings,
    BatchAnalysis,
    HrvTable,
    analyze_rr,
    coherence_window_means,
)

if TYPE_CHECKING:  # the recording package is imported only when a recording is read
    from pet_biofeedback.recording import RecordingHeader

__all__ = [
    "BREATHING_FROM_ACC",
    "BREATHING_FROM_ECG",
    "BREATHING_FROM_RR",
    "RR_GAP_S",
    "BreathingSource",
    "FileAnalysis",
    "RecordingAccumulator",
    "RecordingTap",
    "analyze_file",
    "report_dict",
]

logger = logging.getLogger(__name__)

MIN_BEATS: Final = 3  # fewer beats than this cannot give even one successive difference pair
# Notifications ahead of the rebuilt beat times by more than this mean beats went missing
# (a strap reports each beat within about a second of it; ble-protocol.md §2.4).
RR_GAP_S: Final = 3.0
# ECG samples further apart than this many sample intervals start a new stretch.
ECG_BREAK_INTERVALS: Final = 1.5
_RECORDING_SUFFIXES: Final = (".jsonl", ".jsonl.gz")
# Where the breathing rate came from (the report's ``breathing_source``; the engine's feedback
# uses the same words): measured from chest movement, measured from the ECG's R-wave amplitude,
# or estimated from the heart rhythm itself (circular for biofeedback, hrv-methods.md §8.3).
BreathingSource = Literal["acc", "ecg", "rr-estimate"]
BREATHING_FROM_ACC: Final[BreathingSource] = "acc"
BREATHING_FROM_ECG: Final[BreathingSource] = "ecg"
BREATHING_FROM_RR: Final[BreathingSource] = "rr-estimate"


class RecordingTap(Protocol):
    """Sees a recording while `analyze_file` reads it, so its caller need not read it again.

    ``header`` is called once, when the file is open; ``event`` with every event, in file
    order. A file that cannot be read may stop the calls at any point (the error follows).
    """

    def header(self, header: RecordingHeader) -> None: ...

    def event(self, event: Event) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class FileAnalysis:
    """One analysed file: where the beats came from and what the analysis found."""

    source: str
    kind: str  # "rr_text", "xdf_ecg" or "recording"
    analysis: BatchAnalysis
    details: dict[str, Any] = field(default_factory=dict)


def _n_intervals(n: int) -> str:
    return f"{n} interval" if n == 1 else f"{n} intervals"


def _analyze_rr_file(
    path: Path, settings: AnalysisSettings, column: str | None = None
) -> FileAnalysis:
    rr = read_rr_text(path, column=column)
    if rr.rr_ms.size < MIN_BEATS:
        raise InputFileError(
            str(path), f"holds only {_n_intervals(rr.rr_ms.size)}; at least {MIN_BEATS} are needed"
        )
    try:
        result = analyze_rr(rr.rr_ms, settings)
    except SignalInputError as exc:
        raise InputFileError(str(path), str(exc)) from exc
    return FileAnalysis(
        source=str(path),
        kind="rr_text",
        analysis=result,
        details={"unit": rr.unit, "skipped_lines": rr.n_skipped_lines, "breathing_source": None},
    )


def _analyze_xdf_file(path: Path, settings: AnalysisSettings) -> FileAnalysis:
    from pet_biofeedback.signal.respiration import breathing_from_acc

    rec = read_xdf(path)
    found = ecg_stretch_peaks(rec)
    peaks = _EcgPeaks(found.t_s, found.amplitude_uv, found.n_unusable)
    stretches = [s for s in _stretches_of(peaks) if s.rr_ms.size]
    n_beats = sum(t.size for t in found.t_s)
    if not stretches:
        problem = found.problem or f"holds only {n_beats} beats; too short for analysis"
        raise InputFileError(str(path), f"ECG stream {rec.stream_name!r}: {problem}")
    beats = _join(stretches)
    if beats.rr_ms.size < MIN_BEATS:
        raise InputFileError(str(path), f"ECG holds only {n_beats} beats; too short for analysis")
    breath_starts = None
    breathing_rate = None
    details: dict[str, Any] = {
        "ecg_stream": rec.stream_name,
        "ecg_fs_hz": rec.ecg_fs_hz,
        "r_peaks": n_beats,
        "breathing_source": None,
    }
    if len(found.t_s) > 1 or found.n_unusable:
        details["ecg_stretches_unusable"] = found.n_unusable
        details["gaps"] = beats.n_gaps
        details["gap_s"] = beats.gap_s
    if rec.acc_mg is not None and rec.acc_t_s is not None:
        try:
            est = breathing_from_acc(rec.acc_mg, rec.acc_fs_hz, t_s=rec.acc_t_s)
        except SignalInputError as exc:
            # A damaged accelerometer stream costs the breathing rate, not the analysis.
            details["breathing_problem"] = f"accelerometer stream not usable: {exc}"
        else:
            if math.isfinite(est.rate_breaths_per_min):
                breath_starts = est.breath_start_s
                breathing_rate = est.rate_breaths_per_min
                details["breathing_source"] = BREATHING_FROM_ACC
    if breath_starts is None:
        breath_starts = _breath_starts_from_ecg(peaks)
        if breath_starts is not None:
            details["breathing_source"] = BREATHING_FROM_ECG
    try:
        result = analyze_rr(
            beats.rr_ms,
            settings,
            segment_start_idx=beats.segment_start_idx,
            segment_start_s=beats.starts_s,
            breath_start_s=breath_starts,
            breathing_rate_breaths_per_min=breathing_rate,
        )
    except SignalInputError as exc:
        raise InputFileError(str(path), str(exc)) from exc
    if beats.n_gaps:
        note = (
            f"{beats.n_gaps} gap(s) in the ECG stream ({beats.gap_s:.1f} s): no interval is "
            "invented across a gap and window times are recording time, gaps included"
        )
        result = dataclasses.replace(result, notes=(*result.notes, note))
    return FileAnalysis(source=str(path), kind="xdf_ecg", analysis=result, details=details)


@dataclass(frozen=True, slots=True)
class _Stretch:
    """Contiguous beats: the first interval starts at ``t_start_s``; intervals in ms."""

    t_start_s: float
    rr_ms: FloatArray

    @property
    def t_end_s(self) -> float:
        return self.t_start_s + float(np.sum(self.rr_ms)) / 1000.0


@dataclass(frozen=True, slots=True)
class _Beats:
    """The stretches' intervals in one array, where each stretch starts in it and in time."""

    rr_ms: FloatArray
    segment_start_idx: npt.NDArray[np.intp]  # first interval of each stretch
    starts_s: FloatArray  # per stretch: time of the beat that starts its first interval
    ends_s: FloatArray

    @property
    def n_gaps(self) -> int:
        return int(np.count_nonzero(self.starts_s[1:] > self.ends_s[:-1]))

    @property
    def gap_s(self) -> float:
        return float(np.sum(np.maximum(self.starts_s[1:] - self.ends_s[:-1], 0.0)))


def _join(stretches: list[_Stretch]) -> _Beats:
    """The stretches in one series that keeps where, and when, each one starts.

    Start times come from notification times, which jitter: a stretch that would start
    before the previous one ends starts at that end (the analysis needs increasing times).
    """
    sizes = np.array([s.rr_ms.size for s in stretches], dtype=np.intp)
    durations = np.array([s.t_end_s - s.t_start_s for s in stretches], dtype=np.float64)
    before = np.cumsum(durations) - durations
    raw = np.array([s.t_start_s for s in stretches], dtype=np.float64)
    # start_k = max(raw_k, start_{k-1} + duration_{k-1}), as a running maximum.
    starts = np.maximum.accumulate(raw - before) + before
    ends = starts + durations
    return _Beats(
        rr_ms=np.concatenate([s.rr_ms for s in stretches]),
        segment_start_idx=(np.cumsum(sizes) - sizes).astype(np.intp),
        starts_s=starts,
        ends_s=ends,
    )


def _rr_stretches(
    notify_t_s: list[float], rr_groups: list[tuple[float, ...]], gap_t_s: list[float]
) -> list[_Stretch]:
    """Beat stretches from RR notifications (module docstring); one step per notification."""
    stretches: list[_Stretch] = []
    current: list[float] = []
    start_s = end_s = prev_t = -math.inf
    gaps = sorted(gap_t_s)
    gap_idx = 0
    for t, rr in zip(notify_t_s, rr_groups, strict=True):
        if not rr:
            continue
        span_s = math.fsum(rr) / 1000.0
        gap_seen = False
        while gap_idx < len(gaps) and gaps[gap_idx] <= t:
            gap_seen = gap_seen or gaps[gap_idx] > prev_t
            gap_idx += 1
        if not current or gap_seen or t - (end_s + span_s) > RR_GAP_S:
            if current:
                stretches.append(_Stretch(start_s, np.array(current, dtype=np.float64)))
            current = []
            start_s = end_s = t - span_s
        current.extend(rr)
        end_s += span_s
        prev_t = t
    if current:
        stretches.append(_Stretch(start_s, np.array(current, dtype=np.float64)))
    return stretches


@dataclass(frozen=True, slots=True)
class _EcgPeaks:
    """R peaks of every usable contiguous ECG stretch, on the recording's time axis."""

    t_s: list[FloatArray]  # per stretch: R-peak times, s
    amplitude_uv: list[FloatArray]  # per stretch: R-peak amplitudes, µV
    n_unusable: int  # stretches too short or without detectable beats


def _ecg_peaks(ecg: FrameSamples) -> _EcgPeaks:
    """R peaks per contiguous ECG stretch (a new stretch after a break in the samples)."""
    from pet_biofeedback.signal.ecg_chunked import find_r_peaks_chunked

    if not ecg.n_frames:
        return _EcgPeaks([], [], 0)
    fs_hz = ecg.first_fs_hz
    # The time-ordered samples (float32, 4 bytes each) and where the stretches start and end;
    # one window of sample times at a time.
    uv = np.empty(ecg.n_samples, dtype=np.float32)
    starts_idx: list[int] = []
    starts_t: list[float] = []
    ends_t: list[float] = []
    n_done = 0
    t_prev = -math.inf
    for t_s, values in ecg.windows():
        uv[n_done : n_done + t_s.size] = values
        breaks = np.flatnonzero(np.diff(t_s, prepend=t_prev) > ECG_BREAK_INTERVALS / fs_hz)
        if n_done and breaks.size and breaks[0] == 0:
            ends_t.append(t_prev)
        ends_t.extend(t_s[breaks[breaks > 0] - 1].tolist())
        starts_idx.extend((n_done + breaks).tolist())
        starts_t.extend(t_s[breaks].tolist())
        n_done += t_s.size
        t_prev = float(t_s[-1])
    ends_t.append(t_prev)
    edges = [*starts_idx, n_done]
    found = _EcgPeaks([], [], 0)
    n_unusable = 0
    for (lo, hi), t_lo, t_hi in zip(itertools.pairwise(edges), starts_t, ends_t, strict=True):
        if t_hi - t_lo < MIN_ECG_STRETCH_S:
            n_unusable += 1
            continue
        try:
            peaks = find_r_peaks_chunked(uv[lo:hi], fs_hz)
        except SignalInputError as exc:
            logger.info("ECG stretch at %.1f s skipped: %s", t_lo, exc)
            n_unusable += 1
            continue
        found.t_s.append(t_lo + peaks.t_s)
        found.amplitude_uv.append(np.asarray(peaks.amplitude_uv, dtype=np.float64))
    return _EcgPeaks(found.t_s, found.amplitude_uv, n_unusable)


def _stretches_of(peaks: _EcgPeaks) -> list[_Stretch]:
    """Beat stretches from the R peaks of each contiguous ECG stretch."""
    return [_Stretch(float(t[0]), np.diff(t) * 1000.0) for t in peaks.t_s]


def _ecg_stretches(ecg: FrameSamples) -> tuple[list[_Stretch], int]:
    """Beat stretches from R peaks per contiguous ECG stretch; and how many were unusable."""
    peaks = _ecg_peaks(ecg)
    return _stretches_of(peaks), peaks.n_unusable


def _breath_starts_from_ecg(peaks: _EcgPeaks) -> FloatArray | None:
    """Breath onsets from the R-wave amplitude (EDR, hrv-methods.md §8.2), per ECG stretch.

    Each stretch is estimated on its own (no breathing is invented across a break in the ECG);
    None when no stretch gives a breath.
    """
    from pet_biofeedback.signal.respiration import breathing_from_ecg_amplitude

    onsets = [
        breathing_from_ecg_amplitude(t_s, amplitude_uv).breath_start_s
        for t_s, amplitude_uv in zip(peaks.t_s, peaks.amplitude_uv, strict=True)
    ]
    found = np.concatenate(onsets) if onsets else np.empty(0)
    # Fewer than two onsets cannot time a single breath.
    return found if found.size >= 2 else None


class RecordingAccumulator:
    """What the analysis of a recording keeps of its events, gathered one event at a time.

    `analyze_file` feeds it the events it reads from a file; a recorder can feed it the events
    it writes (`event`, in file order), so that a session's summary needs no second reading
    of the file it just wrote. `result` then analyses what was gathered: fed the same header
    and events, both give the same `FileAnalysis`.
    """

    def __init__(self) -> None:
        # Imported here: RR text and XDF analysis do not need the decoders or the recording.
        from pet_biofeedback.firmware_bridge import hrs
        from pet_biofeedback.recording import frame_arrays

        self._hrm_uuid = hrs.HEART_RATE_MEASUREMENT_UUID
        # The samples as the frame's producer kept them (no tuple converted again).
        self._ecg_uv_array = frame_arrays.ecg_uv_array
        self._acc_mg_array = frame_arrays.acc_mg_array
        self._header: RecordingHeader | None = None
        self.rr_t: list[float] = []
        self.rr_groups: list[tuple[float, ...]] = []
        self.raw_t: list[float] = []
        self.raw_payloads: list[bytes] = []
        self.gap_t: list[float] = []
        self.hr_bpm: list[float] = []
        self.ecg = FrameSamples(1)
        self.acc = FrameSamples(3)

    def header(self, header: RecordingHeader) -> None:
        """Take the recording's header (before its events)."""
        self._header = header

    def event(self, event: Event) -> None:
        """Take one event, in file order."""
        match event:
            case RRIntervals():
                self.rr_t.append(event.t)
                self.rr_groups.append(event.rr_ms)
            case RawNotification():
                if event.characteristic.lower() == self._hrm_uuid:
                    self.raw_t.append(event.t)
                    self.raw_payloads.append(event.payload)
            case Gap():
                self.gap_t.append(event.t)
            case HeartRate():
                self.hr_bpm.append(event.hr_bpm)
            case EcgFrame():
                self.ecg.append(event.t, event.fs_hz, self._ecg_uv_array(event))
            case AccFrame():
                self.acc.append(event.t, event.fs_hz, self._acc_mg_array(event))
            case _:
                pass

    def result(
        self,
        source: str,
        settings: AnalysisSettings,
        *,
        truncated: bool = False,
        read_notes: tuple[str, ...] = (),
    ) -> FileAnalysis:
        """The analysis of what was gathered, as `analyze_file` gives it for a file with
        this header and these events; ``source`` names the file in the report and errors,
        ``truncated`` and ``read_notes`` are what reading the file found.

        Use once: the samples gathered are released on the way.

        Raises
        ------
        InputFileError
            Too few beats, a heart rate only, unusable accelerometer data.
        """
        if self._header is None:
            raise RuntimeError("the recording's header was not given")
        found = _analyze_gathered(
            self, self._header, source, settings, truncated=truncated, read_notes=read_notes
        )
        return _with_breathing_fallback(found)


def _analyze_recording(
    path: Path, settings: AnalysisSettings, *, strict: bool = False, tap: RecordingTap | None = None
) -> FileAnalysis:
    # Imported here: RR text and XDF analysis do not need the recording module.
    from pet_biofeedback.recording import RecordingReader

    gathered = RecordingAccumulator()
    try:
        with RecordingReader(path, strict=strict) as reader:
            gathered.header(reader.header)
            if tap is None:
                for event in reader:
                    gathered.event(event)
            else:
                tap.header(reader.header)
                for event in reader:
                    tap.event(event)
                    gathered.event(event)
            header, truncated, read_notes = reader.header, reader.truncated, reader.notes
    except RecordingFileError as exc:
        raise InputFileError(exc.path, exc.problem) from exc
    except RecordingError as exc:
        raise InputFileError(str(path), exc.user_message) from exc
    # analyze_file adds the breathing fallback, as for every kind of file.
    return _analyze_gathered(
        gathered, header, str(path), settings, truncated=truncated, read_notes=read_notes
    )


def _analyze_gathered(
    gathered: RecordingAccumulator,
    header: RecordingHeader,
    source: str,
    settings: AnalysisSettings,
    *,
    truncated: bool,
    read_notes: tuple[str, ...],
) -> FileAnalysis:
    """`RecordingAccumulator.result`: the analysis of a recording's events."""
    from pet_biofeedback.firmware_bridge import hrs
    from pet_biofeedback.signal.respiration_chunked import breathing_from_acc_chunks

    rr_t, rr_groups, gap_t, hr_bpm = (
        gathered.rr_t,
        gathered.rr_groups,
        gathered.gap_t,
        gathered.hr_bpm,
    )
    raw_t, raw_payloads = gathered.raw_t, gathered.raw_payloads
    ecg, acc = gathered.ecg, gathered.acc
    # Released here so that `del` below frees the samples before the RR analysis.
    gathered.ecg = FrameSamples(1)
    gathered.acc = FrameSamples(3)
    details: dict[str, Any] = {
        "started_at": header.started_at.isoformat(),
        "device": dict(header.device),
        "truncated": truncated,
        "gap_events": len(gap_t),
        "breathing_source": None,
    }
    for name, samples in (("ecg", ecg), ("acc", acc)):
        if samples.n_skipped_frames:  # no usable sampling rate: cannot be placed in time
            details[f"{name}_frames_skipped"] = samples.n_skipped_frames
    order = np.argsort(np.asarray(rr_t), kind="stable")
    stretches = _rr_stretches([rr_t[i] for i in order], [rr_groups[i] for i in order], gap_t)
    rr_source = "rr events"
    n_intervals = sum(s.rr_ms.size for s in stretches)
    # A fallback (raw notifications, then ECG R-peaks) replaces what was found only when it
    # gives more intervals: too few RR intervals are not thrown away for fewer still.
    if n_intervals < MIN_BEATS and raw_payloads:
        decoded_t: list[float] = []
        decoded_rr: list[tuple[float, ...]] = []
        n_bad = 0
        for t, payload in zip(raw_t, raw_payloads, strict=True):
            try:
                m = hrs.decode_heart_rate_measurement(payload)
            except DecodeError:
                n_bad += 1
                continue
            decoded_t.append(t)
            decoded_rr.append(m.rr_ms)
        details["raw_undecodable"] = n_bad
        raw_stretches = _rr_stretches(decoded_t, decoded_rr, gap_t)
        n_raw = sum(s.rr_ms.size for s in raw_stretches)
        if n_raw > n_intervals:
            stretches, n_intervals = raw_stretches, n_raw
            rr_source = "raw heart-rate notifications"
    n_ecg: int | None = None  # intervals from the ECG's R-peaks, when it was tried
    ecg_peaks: _EcgPeaks | None = None  # found once, for beats and for breathing
    if n_intervals < MIN_BEATS and ecg.n_frames:
        ecg_peaks = _ecg_peaks(ecg)
        details["ecg_stretches_unusable"] = ecg_peaks.n_unusable
        ecg_stretches = _stretches_of(ecg_peaks)
        n_ecg = sum(s.rr_ms.size for s in ecg_stretches)
        if n_ecg > n_intervals:
            stretches, n_intervals = ecg_stretches, n_ecg
            rr_source = "ECG R-peaks"
    has_ecg = ecg.n_frames > 0
    if n_intervals < MIN_BEATS:
        beating = [v for v in hr_bpm if v > 0]
        # No interval anywhere — not in rr events, not in the raw notifications (an optical
        # sensor's hold heart rate only), no ECG: say why, not "holds only 0 RR intervals".
        if beating and n_intervals == 0 and not has_ecg:
            mean_hr_bpm = math.fsum(beating) / len(beating)
            raise InputFileError(source, "holds " + heart_rate_only_text(mean_hr_bpm, len(beating)))
        found = f"{n_intervals} RR interval{'' if n_intervals == 1 else 's'}"
        if n_ecg is not None and rr_source != "ECG R-peaks":
            found += f" (its ECG gives {n_ecg})"
        raise InputFileError(source, f"holds only {found}; at least {MIN_BEATS} are needed")
    beats = _join(stretches)
    details["rr_source"] = rr_source
    details["gaps"] = beats.n_gaps
    details["gap_s"] = beats.gap_s

    breath_starts = None
    breathing_rate = None
    if acc.n_frames:
        try:
            est = breathing_from_acc_chunks(acc.windows(), acc.first_fs_hz)
        except SignalInputError as exc:
            raise InputFileError(source, f"accelerometer: {exc}") from exc
        if math.isfinite(est.rate_breaths_per_min):
            breath_starts = np.asarray(est.breath_start_s)
            breathing_rate = est.rate_breaths_per_min
            details["breathing_source"] = BREATHING_FROM_ACC
    del acc  # 200 MB a day of samples at 200 Hz: free them before the RR analysis
    if breath_starts is None and has_ecg:
        # No chest movement: breathing from the ECG's R-wave amplitude. Its rate comes from
        # the breath onsets, not from one periodogram peak of the whole recording: on real
        # ECG with a respiration belt that peak fell on slow amplitude waves (6.9 against
        # 16.5 breaths/min) while the onsets counted 365 breaths against the belt's 371
        # (tests/real_data/test_respiration_real.py).
        if ecg_peaks is None:
            ecg_peaks = _ecg_peaks(ecg)
        breath_starts = _breath_starts_from_ecg(ecg_peaks)
        if breath_starts is not None:
            details["breathing_source"] = BREATHING_FROM_ECG
    del ecg, ecg_peaks  # 45 MB a day of samples: free them before the RR analysis
    try:
        result = analyze_rr(
            beats.rr_ms,
            settings,
            segment_start_idx=beats.segment_start_idx,
            segment_start_s=beats.starts_s,
            breath_start_s=breath_starts,
            breathing_rate_breaths_per_min=breathing_rate,
        )
    except SignalInputError as exc:
        raise InputFileError(source, str(exc)) from exc
    notes = list(result.notes)
    if beats.n_gaps:
        notes.append(
            f"{beats.n_gaps} gap(s) without beats ({beats.gap_s:.1f} s): no interval is "
            "invented across a gap and window times are recording time, gaps included"
        )
    # What the reader lost or skipped: damaged parts, malformed lines, a cut-off end.
    notes.extend(read_notes)
    result = dataclasses.replace(result, notes=tuple(notes))
    return FileAnalysis(source=source, kind="recording", analysis=result, details=details)


# Beats further apart than their interval by more than this are on two sides of a gap.
_GAP_TOLERANCE_S: Final = 0.5


def _with_breathing_from_rr(result: BatchAnalysis) -> BatchAnalysis:
    """The breathing rate estimated from the heart rhythm (hrv-methods.md §8.3), filled in.

    Like the live feedback (`session.engine`): the peak of the heart-rate spectrum in the
    coherence band (0.04–0.26 Hz, 2.4–15.6 breaths/min) of every 64-s window, every 5 s, per
    gap-free stretch; the mean of those inside each window. It is the fed-back signal itself
    and fails for breathing faster than 15.6 breaths/min, so it is marked as an estimate.
    """
    nn_ms = result.nn_ms
    t_s = result.beat_t_s
    if nn_ms.size < MIN_BEATS:
        return result
    t_first_s = float(t_s[0] - nn_ms[0] / 1000.0)
    jumps = np.flatnonzero(np.diff(t_s) - nn_ms[1:] / 1000.0 > _GAP_TOLERANCE_S) + 1
    t_rel_s = t_s - t_first_s
    if result.coherence is not None and result.coherence.matches(jumps, t_rel_s):
        # The series `analyze_rr` computed from the same beats on the same axis.
        coherence = result.coherence.series
    else:
        coherence = spectral.coherence_series(
            nn_ms,
            step_s=COHERENCE_STEP_S,
            segment_start_idx=np.concatenate(([0], jumps)).astype(np.intp),
            t_beat_s=t_rel_s,
        )
    grid_t_s = t_first_s + np.asarray(coherence.t_end_s)
    per_min = 60.0 * np.asarray(coherence.peak_hz)

    def fill(table: HrvTable) -> HrvTable:
        rates = coherence_window_means(grid_t_s, per_min, table.start_s, table.end_s)
        return dataclasses.replace(table, breathing_rate_breaths_per_min=rates)

    return dataclasses.replace(result, summary=fill(result.summary), windows=fill(result.windows))


def analyze_file(
    path: Path,
    settings: AnalysisSettings,
    *,
    strict: bool = False,
    column: str | None = None,
    tap: RecordingTap | None = None,
) -> FileAnalysis:
    """Read and analyse one file; `InputFileError` names the file and the problem.

    RR text, XDF (``.xdf``, ``.xdfz``) and recordings (``.jsonl``, ``.jsonl.gz``; module
    docstring) are recognised by their names. ``strict``: refuse a recording with a malformed
    line instead of skipping the line. ``column``: the column of an RR table holding the
    intervals (`rr_text.read_rr_text`); refused for other files. ``tap``: sees a recording's
    header and events as they are read (unused for other files), e.g. the report's pacer
    and markers, which the analysis does not keep.
    """
    name = path.name.lower()
    is_xdf = path.suffix.lower() == ".xdf" or name.endswith(".xdfz")
    if column is not None and (is_xdf or name.endswith(_RECORDING_SUFFIXES)):
        raise ConfigError(f"{path}: --column is for RR text and CSV files, not recordings or XDF")
    if is_xdf:
        found = _analyze_xdf_file(path, settings)
    elif name.endswith(_RECORDING_SUFFIXES):
        found = _analyze_recording(path, settings, strict=strict, tap=tap)
    else:
        found = _analyze_rr_file(path, settings, column)
    return _with_breathing_fallback(found)


def _with_breathing_fallback(found: FileAnalysis) -> FileAnalysis:
    """``found``, its breathing estimated from the heart rhythm when neither chest movement
    nor ECG gave it."""
    if found.details.get("breathing_source") is not None:
        return found
    analysis = _with_breathing_from_rr(found.analysis)
    if not np.isfinite(analysis.summary.breathing_rate_breaths_per_min[0]):
        return found
    details = {**found.details, "breathing_source": BREATHING_FROM_RR}
    return dataclasses.replace(found, analysis=analysis, details=details)


def _num(x: Any) -> float | int | None:
    if isinstance(x, np.integer | int):
        return int(x)
    value = float(x)
    return value if math.isfinite(value) else None


_METRIC_KEYS: Final = (
    # report key, HrvTable field
    ("mean_rr_ms", "mean_rr_ms"),
    ("sdnn_ms", "sdnn_ms"),
    ("rmssd_ms", "rmssd_ms"),
    ("sdsd_ms", "sdsd_ms"),
    ("pnn50_pct", "pnn50_pct"),
    ("mean_hr_bpm", "mean_hr_bpm"),
    ("min_hr_bpm", "min_hr_bpm"),
    ("max_hr_bpm", "max_hr_bpm"),
    ("vlf_ms2", "vlf_ms2"),
    ("lf_ms2", "lf_ms2"),
    ("hf_ms2", "hf_ms2"),
    ("total_power_ms2", "total_power_ms2"),
    ("lf_hf", "lf_hf"),
    ("lf_nu", "lf_nu"),
    ("hf_nu", "hf_nu"),
    ("lf_peak_hz", "lf_peak_hz"),
    ("hf_peak_hz", "hf_peak_hz"),
    ("sd1_ms", "sd1_ms"),
    ("sd2_ms", "sd2_ms"),
    ("dfa_alpha1", "dfa_alpha1"),
    ("sampen", "sampen"),
    ("coherence", "coherence_ratio"),
    # The report's key is fixed by the CLI contract; it means breaths per minute.
    ("breathing_rate_bpm", "breathing_rate_breaths_per_min"),
)


def _row(table: HrvTable, k: int) -> dict[str, Any]:
    row: dict[str, Any] = {
        "n_beats": int(table.n_beats[k]),
        "duration_s": _num(table.duration_s[k]),
        "artifacts": {
            "ectopic": int(table.n_ectopic[k]),
            "long_short": int(table.n_long_short[k]),
            "missed": int(table.n_missed[k]),
            "extra": int(table.n_extra[k]),
            "corrected_pct": _num(table.corrected_pct[k]),
        },
    }
    for key, attr in _METRIC_KEYS:
        row[key] = _num(getattr(table, attr)[k])
    return row


def report_dict(result: FileAnalysis) -> dict[str, Any]:
    """The report of one file as plain JSON-able data (NaN becomes None)."""
    a = result.analysis
    s = a.settings
    settings: dict[str, Any] = {
        "correction": s.correction,
        "window_s": s.window_s,
        "step_s": s.effective_step_s,
        "spectral_method": s.spectral_method,
        "resample_hz": spectral.RESAMPLE_FS_HZ,
        "detrending": f"smoothness priors, lambda {spectral.SMOOTHNESS_PRIORS_LAMBDA:g}",
        "welch_segment_s": spectral.WELCH_SEGMENT_S,
        "bands_hz": {
            "vlf": list(spectral.VLF_BAND_HZ),
            "lf": list(spectral.LF_BAND_HZ),
            "hf": list(spectral.HF_BAND_HZ),
        },
        "pnn50_denominator": "n_beats - 1",
        "coherence": "mean of 64-s coherence ratios evaluated every 5 s",
        "input": result.kind,
        "input_beats": a.n_input_beats,
        **result.details,
        "notes": list(a.notes),
    }
    windows = []
    for k in range(len(a.windows)):
        row = {"start_s": _num(a.windows.start_s[k]), "end_s": _num(a.windows.end_s[k])}
        row.update(_row(a.windows, k))
        windows.append(row)
    return {
        "source": result.source,
        "settings": settings,
        "summary": _row(a.summary, 0),
        "windows": windows,
    }
