"""A resonance assessment as a session: the plan as engine steps, the recording scored.

`session_plan` turns an `AssessmentPlan` into the engine's `SessionPlan` (the first block's
pacer, then one step per block at its rest's start, with a marker), so the engine's pacer is
the assessment's pacer exactly. `score_recording` scores the finished recording: the NN
intervals and beat times as `analyze` finds them (artifacts corrected, gaps honoured) and,
where the strap has a chest accelerometer, the measured breathing that removes the person's
lag behind the pacer from the phase criterion (docs/hrv-methods.md §7).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Final

import numpy as np

from pet_biofeedback.errors import InputFileError, SignalInputError
from pet_biofeedback.events import AccFrame
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
    """The chest-movement breathing waveform of a recording (times s, signal), if it has ACC."""
    from pet_biofeedback.signal.respiration import breathing_from_acc

    samples = FrameSamples(3)
    with RecordingReader(path) as reader:
        for event in reader:
            if isinstance(event, AccFrame) and event.acc_mg:
                samples.append(event.t, event.fs_hz, event.acc_mg)
    if not samples.n_frames:
        return None
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
