"""`session.ecg_breathing`: the live breathing rate from the last minute of ECG (issue 7)."""

from __future__ import annotations

import math

import numpy as np

from pet_biofeedback.events import EcgFrame
from pet_biofeedback.session.ecg_breathing import EcgBreathingWindow

FS_HZ = 130.0
FRAME = 73  # samples per H10 ECG frame


def _frames(t0_s: float, seconds: float, breaths_per_min: float) -> list[EcgFrame]:
    """Spiky ECG at 72 bpm whose R amplitude swings ±10 % with the breathing."""
    t = t0_s + np.arange(int(seconds * FS_HZ)) / FS_HZ
    beats = np.arange(t0_s + 0.3, t[-1], 60.0 / 72.0)
    amp = 1000.0 * (1.0 + 0.1 * np.sin(2 * np.pi * breaths_per_min / 60.0 * beats))
    uv = np.zeros_like(t)
    for b, a in zip(beats, amp, strict=True):  # a few dozen synthetic QRS complexes
        uv += a * np.exp(-0.5 * ((t - b) / 0.012) ** 2)
    n = t.size // FRAME * FRAME
    return [
        EcgFrame(float(t[k + FRAME - 1]), FS_HZ, tuple(uv[k : k + FRAME].tolist()))
        for k in range(0, n, FRAME)
    ]


def test_rate_of_the_last_minute() -> None:
    window = EcgBreathingWindow()
    for frame in _frames(0.0, 90.0, 12.0):
        window.add(frame)
    rate = window.breaths_per_min()
    assert rate is not None and math.isclose(rate, 12.0, abs_tol=0.3)


def test_too_little_ecg_gives_none() -> None:
    window = EcgBreathingWindow()
    assert window.breaths_per_min() is None
    for frame in _frames(0.0, 20.0, 12.0):
        window.add(frame)
    assert window.breaths_per_min() is None


def test_only_the_ecg_after_a_break_counts() -> None:
    window = EcgBreathingWindow()
    for frame in _frames(0.0, 50.0, 6.0):
        window.add(frame)
    after = _frames(60.0, 60.0, 6.0)  # 10 s without ECG, then a minute
    n_20_s = int(20.0 * FS_HZ) // FRAME
    for frame in after[:n_20_s]:
        window.add(frame)
    assert window.breaths_per_min() is None  # 20 s after the break: too short on its own
    for frame in after[n_20_s:]:
        window.add(frame)
    rate = window.breaths_per_min()
    assert rate is not None and math.isclose(rate, 6.0, abs_tol=0.4)
