"""Everything a session report shows, gathered from one file (no HTML, no figures here).

The numbers come from `analysis.analyze_file` with the default settings, exactly as
``pet-biofeedback analyze`` prints them, so report and analysis never disagree. What the
analysis does not keep — the pacer, markers, ratings, the header, the chest-movement breathing
waveform — is taken from the recording as the analysis reads it (`RecordingContents`), so the
file is read once.

Time axes: the analysis keeps recording time, gaps included (`analysis` module docstring), so
heart rate, the pacer's target wave and markers line up on the session's own clock.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from pet_biofeedback.errors import SignalInputError
from pet_biofeedback.events import AccFrame, Event, Gap, Marker, PacerPhase, Rating
from pet_biofeedback.session import analysis
from pet_biofeedback.session.pacer_track import PacerTrack, pacer_track
from pet_biofeedback.signal import spectral
from pet_biofeedback.signal._typing import BoolArray, FloatArray
from pet_biofeedback.signal.batch import AnalysisSettings
from pet_biofeedback.signal.rsa import rsa_peak_to_trough_bpm

if TYPE_CHECKING:
    from pet_biofeedback.recording import RecordingHeader

__all__ = [
    "ZOOM_S",
    "Breathing",
    "RecordingContents",
    "ReportData",
    "Spectrum",
    "gather_report",
]

ZOOM_S: Final = 120.0  # the excerpt where each breath's heart-rate wave can be seen (brief)
ZOOM_STEP_S: Final = 10.0  # candidate excerpts start this far apart
# A "breath" longer than this is a pause or a rest between paced blocks, not a breath:
# 2 breaths/min is below the slowest pacing offered (3/min, pacer.py).
MAX_BREATH_S: Final = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Spectrum:
    """Welch PSD of the NN series, as the analysis computes it (hrv-methods.md §2.2)."""

    freqs_hz: FloatArray
    psd_ms2_per_hz: FloatArray


@dataclass(frozen=True, slots=True, kw_only=True)
class Breathing:
    """Breathing measured from chest movement, on the session clock."""

    onsets_s: FloatArray
    waveform_t_s: FloatArray
    waveform: FloatArray  # arbitrary units; its sign is not fixed (hrv-methods.md §8)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportData:
    """What the report shows (module docstring); times in s on the session clock."""

    source_name: str
    kind: str
    report: dict[str, Any]  # `analysis.report_dict` of the file, default settings
    started_at: datetime | None
    protocol: str | None
    planned_minutes: float | None
    actual_minutes: float
    profile: str | None
    device: str | None
    pacer_settings: Mapping[str, Any] | None  # the header's pacer at the start
    pacer: PacerTrack | None
    beat_t_s: FloatArray
    hr_bpm: FloatArray  # instantaneous, of the corrected (NN) intervals
    gap_spans_s: tuple[tuple[float, float], ...]
    breathing: Breathing | None
    spectrum: Spectrum | None
    rsa_breath_start_s: FloatArray  # start of each breath with a valid swing
    rsa_bpm: FloatArray  # heart-rate swing (peak to trough) of each of those breaths
    rsa_source: str | None  # "pacer" or "chest movement"
    zoom_s: tuple[float, float] | None
    markers: tuple[Marker, ...]
    ratings: Mapping[str, float]
    gaps: tuple[Gap, ...]
    quality_notes: tuple[str, ...]
    assessment: Mapping[str, Any] | None


@dataclass(slots=True)
class RecordingContents:
    """What the report takes from a recording besides the beats.

    A `analysis.RecordingTap`: `gather_report` hands it to `analysis.analyze_file`, which
    fills it while reading, so the file is read once. Times in s on the session clock.
    """

    started_at: datetime | None = None
    settings: Mapping[str, object] | None = None
    device: Mapping[str, object] | None = None
    t_first_s: float = math.inf  # of any event
    t_last_s: float = -math.inf
    pacer: list[PacerPhase] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    ratings: list[Rating] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    acc_frames: list[tuple[float, float, int]] = field(default_factory=list)  # t, fs_hz, n
    acc_values: list[tuple[tuple[float, float, float], ...]] = field(default_factory=list)

    def header(self, header: RecordingHeader) -> None:
        """Take the start time, settings and device from the header."""
        self.started_at = header.started_at
        self.settings = header.settings
        self.device = header.device

    def event(self, event: Event) -> None:
        """Take one event, in file order."""
        self.t_first_s = min(self.t_first_s, event.t)
        self.t_last_s = max(self.t_last_s, event.t)
        match event:
            case PacerPhase():
                self.pacer.append(event)
            case Marker():
                self.markers.append(event)
            case Rating():
                self.ratings.append(event)
            case Gap():
                self.gaps.append(event)
            case AccFrame():
                if event.acc_mg:
                    self.acc_frames.append((event.t, event.fs_hz, len(event.acc_mg)))
                    self.acc_values.append(event.acc_mg)
            case _:
                pass


def _session_axis(
    r: RecordingContents, result: analysis.FileAnalysis
) -> tuple[FloatArray, list[str]]:
    """Beat times of the analysis on the session clock: the analysis keeps recording time,
    gaps included, so they are that already."""
    return np.asarray(result.analysis.beat_t_s, dtype=np.float64), []


def _gap_spans(beat_t_s: FloatArray, nn_ms: FloatArray) -> tuple[tuple[float, float], ...]:
    """Stretches without beats: an interval's start lies well after the previous beat."""
    if beat_t_s.size < 2:
        return ()
    starts = beat_t_s[1:] - nn_ms[1:] / 1000.0
    jump = starts - beat_t_s[:-1]
    idx = np.flatnonzero(jump > analysis.RR_GAP_S / 3.0)
    return tuple((float(beat_t_s[i]), float(starts[i])) for i in idx)


def _spectrum(a: Any) -> Spectrum | None:
    nn = np.asarray(a.nn_ms, dtype=np.float64)
    t = np.asarray(a.beat_t_s, dtype=np.float64)
    # The analysis's own minimum (first-to-last-beat span, with its tolerance): the plot is
    # there exactly when the table has LF and HF.
    if nn.size < 2 or not spectral.SpectralSettings().long_enough(nn.size, t[-1] - t[0]):
        return None
    _, rr_grid = spectral.resample_rr(t, nn, fs_hz=spectral.RESAMPLE_FS_HZ)
    z = spectral.detrend_smoothness_priors(rr_grid)
    freqs, psd = spectral.welch_psd(z, spectral.RESAMPLE_FS_HZ)
    keep = freqs <= spectral.HF_BAND_HZ[1] + 0.1
    return Spectrum(freqs_hz=freqs[keep], psd_ms2_per_hz=psd[keep])


def _breathing(r: RecordingContents, notes: list[str]) -> Breathing | None:
    from pet_biofeedback.signal.respiration import breathing_from_acc

    if not r.acc_frames:
        return None
    from pet_biofeedback.session.frame_samples import FrameSamples

    samples = FrameSamples(3)
    for (t, fs_hz, _), values in zip(r.acc_frames, r.acc_values, strict=True):
        samples.append(t, fs_hz, values)
    pieces = list(samples.windows())
    acc_t = np.concatenate([p[0] for p in pieces])
    acc_mg = np.concatenate([np.asarray(p[1], dtype=np.float64) for p in pieces])
    try:
        est = breathing_from_acc(acc_mg, r.acc_frames[0][1], t_s=acc_t)
    except SignalInputError as exc:
        notes.append(f"chest movement could not be used for breathing: {exc}")
        return None
    if not math.isfinite(est.rate_breaths_per_min):
        return None
    return Breathing(
        onsets_s=np.asarray(est.breath_start_s),
        waveform_t_s=np.asarray(est.signal_t_s),
        waveform=np.asarray(est.signal),
    )


def _match_sign(breathing: Breathing, track: PacerTrack) -> Breathing:
    """The waveform turned to rise with the pacer's inhalations.

    A chest strap cannot tell which way is "in" (hrv-methods.md §8); the pacer can, so the
    waveform is drawn in the direction that agrees with it.
    """
    guide = track.guide(breathing.waveform_t_s)
    paced = np.isfinite(guide)
    if np.count_nonzero(paced) < 2:
        return breathing
    wave = breathing.waveform[paced]
    if float(np.dot(wave - wave.mean(), guide[paced] - guide[paced].mean())) >= 0:
        return breathing
    return dataclasses.replace(breathing, waveform=-breathing.waveform)


def _valid_breaths(starts_s: FloatArray, gaps: tuple[tuple[float, float], ...]) -> BoolArray:
    """Which breaths between successive onsets count: no gap inside, not over `MAX_BREATH_S`."""
    if starts_s.size < 2:
        return np.zeros(0, dtype=bool)
    lo, hi = starts_s[:-1], starts_s[1:]
    ok: BoolArray = hi - lo <= MAX_BREATH_S
    for g0, g1 in gaps:  # a handful of gaps per session
        ok &= ~((lo < g1) & (hi > g0))
    return ok


def _rsa(
    beat_t_s: FloatArray,
    nn_ms: FloatArray,
    onsets_s: FloatArray,
    gaps: tuple[tuple[float, float], ...],
) -> tuple[FloatArray, FloatArray]:
    """Peak-to-trough heart rate per valid breath (hrv-methods.md §6.2): starts and swings."""
    if onsets_s.size < 2 or beat_t_s.size < 2:
        return np.empty(0), np.empty(0)
    swings = rsa_peak_to_trough_bpm(beat_t_s, nn_ms, onsets_s)
    ok = _valid_breaths(onsets_s, gaps) & np.isfinite(swings)
    return np.asarray(onsets_s[:-1][ok], dtype=np.float64), np.asarray(swings[ok])


def _zoom(
    t0_s: float,
    t1_s: float,
    rsa_t: FloatArray,
    rsa_bpm: FloatArray,
    gaps: tuple[tuple[float, float], ...],
) -> tuple[float, float] | None:
    """The 2-minute excerpt with the largest mean heart-rate swing (the middle if none)."""
    if t1_s - t0_s < ZOOM_S * 1.25:
        return None  # the whole session is hardly longer than the excerpt
    starts = np.arange(t0_s, t1_s - ZOOM_S + 1e-9, ZOOM_STEP_S)
    # Score: mean swing, and any window without a gap before every window with one.
    score = np.zeros(starts.size)
    for i, s in enumerate(starts):  # at most a few hundred candidates
        inside = (rsa_t >= s) & (rsa_t < s + ZOOM_S - MAX_BREATH_S / 2)
        if np.any(inside):
            score[i] = float(np.mean(rsa_bpm[inside]))
        if any(g0 < s + ZOOM_S and g1 > s for g0, g1 in gaps):
            score[i] -= 1e6
    if not np.any(score > 0):
        # nothing to choose by: the gap-free excerpt nearest the middle
        mid = 0.5 * (t0_s + t1_s) - ZOOM_S / 2
        score = score - np.abs(starts - mid) / (t1_s - t0_s)
    best = float(starts[int(np.argmax(score))])
    return (best, best + ZOOM_S)


def _device_text(device: Mapping[str, object] | None) -> str | None:
    if not device:
        return None
    for key in ("model", "name"):
        value = device.get(key)
        if value:
            return str(value)
    kind = device.get("kind")
    return str(kind) if kind else None


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _quality_notes(report: Mapping[str, Any], extra: list[str]) -> tuple[str, ...]:
    s = report["settings"]
    art = report["summary"]["artifacts"]
    n_fixed = art["ectopic"] + art["long_short"] + art["missed"] + art["extra"]
    pct = art["corrected_pct"]
    notes = (
        [
            f"{n_fixed} irregular or missed beat(s) corrected"
            + (f" ({pct:.1f} % of beats)" if pct is not None else "")
            + f": ectopic {art['ectopic']}, long/short {art['long_short']}, "
            f"missed {art['missed']}, extra {art['extra']}"
        ]
        if n_fixed
        else ["no irregular or missed beats needed correcting"]
    )
    if s.get("gaps"):
        notes.append(
            f"{s['gaps']} stretch(es) without heartbeats, {s['gap_s']:.1f} s in all; the "
            "figures show them in grey at their real time"
        )
    if s.get("raw_undecodable"):
        notes.append(f"{s['raw_undecodable']} strap message(s) could not be decoded")
    if s.get("skipped_lines"):
        notes.append(f"{s['skipped_lines']} header, comment or non-numeric line(s) skipped")
    if s.get("breathing_problem"):
        notes.append(str(s["breathing_problem"]))
    notes.extend(str(n) for n in s.get("notes", []))
    notes.extend(extra)
    return tuple(notes)


def gather_report(
    path: Path,
    *,
    assessment: Mapping[str, Any] | None = None,
    contents: RecordingContents | None = None,
) -> ReportData:
    """Analyse ``path`` and collect what its report shows.

    Parameters
    ----------
    path : Path
        A recording, RR text or XDF file (as `analysis.analyze_file` reads).
    assessment : mapping, optional
        A resonance-frequency assessment result ``{"recommended_bpm", "confidence",
        "rates": [{"bpm", …criteria…}]}`` (rates in breaths/min) to show as a table.
    contents : RecordingContents, optional
        Filled with what a recording holds besides the beats as it is read (a new one if not
        given); still filled when the analysis then refuses the file (e.g. heart rate only),
        so a caller that needs the header, pacer or ratings need not read the file again.

    Raises
    ------
    InputFileError
        The file is missing, unreadable or holds too little for an analysis.
    """
    r = RecordingContents() if contents is None else contents
    # One read: the analysis hands each event of a recording to ``r`` as well.
    result = analysis.analyze_file(path, AnalysisSettings(), tap=r)
    report = analysis.report_dict(result)
    a = result.analysis
    nn = np.asarray(a.nn_ms, dtype=np.float64)
    extra: list[str] = []
    beat_t, axis_notes = _session_axis(r, result)
    extra.extend(axis_notes)
    gaps = _gap_spans(beat_t, nn)
    settings = r.settings or {}
    if math.isfinite(r.t_first_s):
        t0 = min(r.t_first_s, 0.0)
        ends = [m.t for m in r.markers if m.text.startswith("session end")]
        t_end = ends[-1] if ends else r.t_last_s
        actual_minutes = (t_end - t0) / 60.0
    else:
        t0 = float(beat_t[0] - nn[0] / 1000.0) if beat_t.size else 0.0
        t_end = float(beat_t[-1]) if beat_t.size else 0.0
        actual_minutes = (t_end - t0) / 60.0
    track = pacer_track(r.pacer, t_end) if r.pacer else None
    if track is not None and track.n_unusable:
        extra.append(f"{track.n_unusable} pacer change(s) in the file could not be used")
    if track is not None and not track.spans:
        track = None
    breathing = _breathing(r, extra)
    if breathing is not None and track is not None:
        breathing = _match_sign(breathing, track)
    onsets: FloatArray = np.empty(0)
    rsa_source = None
    if beat_t.size:
        if track is not None:
            onsets, rsa_source = track.breath_starts(t0 - 1.0, t_end), "pacer"
        elif breathing is not None:
            onsets, rsa_source = breathing.onsets_s, "chest movement"
    # a breath across a rest (the pacer stopped) is no breath: rests count as gaps here
    rests = (
        tuple((a.t_off_s, b.t_on_s) for a, b in zip(track.spans, track.spans[1:], strict=False))
        if track is not None and rsa_source == "pacer"
        else ()
    )
    rsa_t, rsa_bpm = _rsa(beat_t, nn, onsets, gaps + rests)
    if rsa_bpm.size == 0:
        rsa_source = None
    zoom = _zoom(float(beat_t[0]), float(beat_t[-1]), rsa_t, rsa_bpm, gaps) if beat_t.size else None
    ratings = {e.kind: float(e.value) for e in r.ratings}  # the last one of a kind wins
    pacer_settings = settings.get("pacer")
    planned = _number(settings.get("minutes"))
    protocol = settings.get("protocol")
    profile = settings.get("profile")
    return ReportData(
        source_name=path.name,
        kind=result.kind,
        report=report,
        started_at=r.started_at,
        protocol=str(protocol) if protocol is not None else None,
        planned_minutes=planned,
        actual_minutes=actual_minutes,
        profile=str(profile) if profile is not None else None,
        device=_device_text(r.device),
        pacer_settings=pacer_settings if isinstance(pacer_settings, Mapping) else None,
        pacer=track,
        beat_t_s=beat_t,
        hr_bpm=60_000.0 / nn,
        gap_spans_s=gaps,
        breathing=breathing,
        spectrum=_spectrum(a),
        rsa_breath_start_s=rsa_t,
        rsa_bpm=rsa_bpm,
        rsa_source=rsa_source,
        zoom_s=zoom,
        markers=tuple(r.markers),
        ratings=ratings,
        gaps=tuple(r.gaps),
        quality_notes=_quality_notes(report, extra),
        assessment=assessment,
    )
