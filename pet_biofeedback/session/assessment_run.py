"""A resonance assessment as a session: the plan as engine steps, the recording scored.

`session_plan` turns an `AssessmentPlan` into the engine's `SessionPlan` (the first block's
pacer, then one step per block at its rest's start, with a marker), so the engine's pacer is
the assessment's pacer exactly. `score_recording` scores the finished recording: the NN
intervals and beat times as `analyze` finds them (artifacts corrected, gaps honoured) and,
where the strap has a chest accelerometer, the measured breathing that removes the person's
lag behind the pacer from the phase criterion (docs/hrv-methods.md §7); without one, the
breathing waveform of the ECG's R-wave amplitude (EDR, hrv-methods.md §8.2) does it instead.
`signal.resonance.breathing_lag_s` fits the lag with either sign of the waveform, so EDR's
lead-dependent polarity does not matter. On simulated people (tests/unit/session/
test_assessment.py) EDR reached 9 of 10 at every resonance rate, as the accelerometer does;
against the pacer alone it cannot (`TestSimulatedPeople`).

Only the pacer (no ACC, no ECG: a strap with RR only, or the H10 with both streams off): the
lag cannot be told apart from the resonance's own phase, so the phase criterion is read
against the pacer and the recommendation's explanation says "Breathing was not measured"
(`signal.resonance_estimate`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Final

import numpy as np

from pet_biofeedback.errors import InputFileError, SignalInputError
from pet_biofeedback.events import AccFrame, EcgFrame
from pet_biofeedback.recording import RecordingReader
from pet_biofeedback.session.assessment import AssessmentPlan, AssessmentResult, assess
from pet_biofeedback.session.engine import SessionPlan
from pet_biofeedback.session.frame_samples import FrameSamples

__all__ = ["score_recording", "session_plan"]

# The session runs a little past the last block so that its final beats are delivered.
_TAIL_S: Final = 5.0


def session_plan(plan: AssessmentPlan, *, profile: str = "default") -> SessionPlan:
    """The engine's plan for an assessment (module docstring)."""
    settings = plan.settings
    first = plan.blocks[0]
    steps = tuple(
        (
            block.rest_start_s,
            settings.pacer_settings(block.breaths_per_min),
            f"block {k + 1}: {block.breaths_per_min:g} breaths/min (rest first)",
        )
        for k, block in enumerate(plan.blocks[1:], start=1)
    )
    minutes = math.ceil((plan.end_s + _TAIL_S) / 6.0) / 10.0  # whole tenths of a minute
    return SessionPlan(
        protocol="assessment",
        minutes=minutes,
        pacer=settings.pacer_settings(first.breaths_per_min),
        steps=steps,
        profile=profile,
    )


def _breathing(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """The measured breathing waveform of a recording (times s, signal): ACC, else ECG."""
    samples = FrameSamples(3)
    ecg = FrameSamples(1)
    with RecordingReader(path) as reader:
        for event in reader:
            if isinstance(event, AccFrame) and event.acc_mg:
                samples.append(event.t, event.fs_hz, event.acc_mg)
            elif isinstance(event, EcgFrame) and event.ecg_uv:
                ecg.append(event.t, event.fs_hz, event.ecg_uv)
    found = _acc_breathing(samples) if samples.n_frames else None
    if found is None and ecg.n_frames:
        found = _ecg_breathing(ecg)
    return found


def _ecg_breathing(ecg: FrameSamples) -> tuple[np.ndarray, np.ndarray] | None:
    """The R-wave amplitude's breathing waveform, per contiguous stretch of ECG, joined."""
    from pet_biofeedback.session.analysis import _ecg_peaks
    from pet_biofeedback.signal.respiration import breathing_from_ecg_amplitude

    peaks = _ecg_peaks(ecg)
    pieces = [
        breathing_from_ecg_amplitude(t_s, amplitude_uv)
        for t_s, amplitude_uv in zip(peaks.t_s, peaks.amplitude_uv, strict=True)
    ]
    used = [p for p in pieces if p.signal.size]
    if not used:
        return None
    return (
        np.concatenate([p.signal_t_s for p in used]),
        np.concatenate([p.signal for p in used]),
    )


def _acc_breathing(samples: FrameSamples) -> tuple[np.ndarray, np.ndarray] | None:
    """The chest-movement breathing waveform (times s, signal); None if unusable."""
    from pet_biofeedback.signal.respiration import breathing_from_acc

    pieces = list(samples.windows())
    t = np.concatenate([p[0] for p in pieces])
    mg = np.concatenate([np.asarray(p[1], dtype=np.float64) for p in pieces])
    try:
        est = breathing_from_acc(mg, samples.first_fs_hz, t_s=t)
    except SignalInputError:
        return None
    if not math.isfinite(est.rate_breaths_per_min):
        return None
    return np.asarray(est.signal_t_s), np.asarray(est.signal)


def score_recording(path: Path, plan: AssessmentPlan) -> AssessmentResult:
    """Score the assessment recorded in ``path`` (module docstring).

    Raises
    ------
    InputFileError
        The recording holds too few beats to score.
    """
    from pet_biofeedback.session.analysis import analyze_file
    from pet_biofeedback.signal.batch import AnalysisSettings

    analysis = analyze_file(path, AnalysisSettings()).analysis
    breathing = _breathing(path)
    try:
        if breathing is None:
            return assess(plan, analysis.beat_t_s, analysis.nn_ms)
        return assess(
            plan,
            analysis.beat_t_s,
            analysis.nn_ms,
            breathing_t_s=breathing[0],
            breathing=breathing[1],
        )
    except SignalInputError as exc:
        raise InputFileError(str(path), f"cannot be scored as an assessment: {exc}") from exc
