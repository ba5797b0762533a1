"""The vectorised numerical core: RR intervals, ECG and accelerometer in, HRV numbers out.

numpy/scipy only. Submodules load lazily (PEP 562) so that analysing an RR file does not pay
for the ECG filters' ``scipy.signal`` import.
"""

from __future__ import annotations

import importlib
from typing import Any

_SUBMODULES = (
    "artifacts",
    "batch",
    "coherence",
    "ecg",
    "live",
    "lomb",
    "nonlinear",
    "resonance",
    "resonance_estimate",
    "resonance_ranking",
    "respiration",
    "respiration_live",
    "rsa",
    "spectral",
    "timedomain",
    "welch",
)

__all__ = list(_SUBMODULES)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
