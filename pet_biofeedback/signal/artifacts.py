"""RR artifact detection and correction (Lipponen & Tarvainen 2019), offline and live.

The public face of four private modules (hrv-methods.md §5):

* `_artifact_detection` — `detect_artifacts` classifies beats exactly as NeuroKit2's Kubios
  path does (same index sets, hrv-methods.md §10.3);
* `_artifact_correction` — `correct_rr` gates, detects and corrects iteratively, offline;
* `_artifact_live` — `CausalArtifactCorrector` decides about each beat two beats late with
  trailing windows and a backstop gate (§5.2);
* `_artifact_kernels` — the constants, label codes and quantile arithmetic they share
  (plus `_artifact_gaps` for data gaps).
"""

from __future__ import annotations

from pet_biofeedback.signal._artifact_correction import ArtifactCorrection, correct_rr
from pet_biofeedback.signal._artifact_detection import ArtifactClasses, detect_artifacts
from pet_biofeedback.signal._artifact_kernels import (
    ALPHA,
    C1,
    C2,
    LABEL_ECTOPIC,
    LABEL_EXTRA,
    LABEL_GATED,
    LABEL_LONG_SHORT,
    LABEL_MISSED,
    LABEL_MISSED_SECOND,
    LABEL_NORMAL,
    MALIK_FRACTION,
    MAX_PASSES,
    MEDFILT_ORDER,
    MRR_LIMIT,
    RR_MAX_MS,
    RR_MIN_MS,
    TH_FLOOR_MS,
    WINDOW_BEATS,
)
from pet_biofeedback.signal._artifact_live import CausalArtifactCorrector, FinalNN

__all__ = [
    "ALPHA",
    "C1",
    "C2",
    "LABEL_ECTOPIC",
    "LABEL_EXTRA",
    "LABEL_GATED",
    "LABEL_LONG_SHORT",
    "LABEL_MISSED",
    "LABEL_MISSED_SECOND",
    "LABEL_NORMAL",
    "MALIK_FRACTION",
    "MAX_PASSES",
    "MEDFILT_ORDER",
    "MRR_LIMIT",
    "RR_MAX_MS",
    "RR_MIN_MS",
    "TH_FLOOR_MS",
    "WINDOW_BEATS",
    "ArtifactClasses",
    "ArtifactCorrection",
    "CausalArtifactCorrector",
    "FinalNN",
    "correct_rr",
    "detect_artifacts",
]
