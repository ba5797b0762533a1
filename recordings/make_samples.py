"""Regenerate the sample RR files in this folder (deterministic; run from the repository root).

    python recordings/make_samples.py

The model is deliberately simple and fully stated here: beats are generated one after the
other in time; heart rate follows paced breathing at ``breaths_per_min`` with a sinusoidal RSA
of ``rsa_ms`` (peak-to-trough 2·rsa_ms), plus a slow 0.03 Hz wave, 1/f-like noise and, at
known beats, premature (ectopic) beats followed by a compensatory pause and one missed beat.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def resonance_rr_ms(
    *,
    minutes: float,
    breaths_per_min: float,
    rsa_ms: float,
    mean_rr_ms: float = 900.0,
    seed: int = 6,
) -> np.ndarray:
    """RR intervals (ms) of a person breathing at a fixed slow pace."""
    rng = np.random.default_rng(seed)
    n = int(minutes * 60_000 / mean_rr_ms * 1.2)
    noise = np.cumsum(rng.standard_normal(n)) * 0.8
    noise -= np.convolve(noise, np.ones(25) / 25, mode="same")
    noise += 6.0 * rng.standard_normal(n)
    # Beat k's interval depends on the time it starts: a fixed-point pass is enough because
    # the modulation is slow compared with one beat.
    t = np.arange(n) * mean_rr_ms / 1000.0
    for _ in range(4):
        rr = (
            mean_rr_ms
            + rsa_ms * np.sin(2 * np.pi * breaths_per_min / 60.0 * t)
            + 15.0 * np.sin(2 * np.pi * 0.03 * t + 1.0)
            + noise
        )
        t = np.concatenate(([0.0], np.cumsum(rr[:-1]) / 1000.0))
    rr = rr[t < minutes * 60.0]
    for k in range(120, rr.size - 5, 137):  # ectopic beat + compensatory pause
        rr[k], rr[k + 1] = 0.7 * rr[k], rr[k + 1] + 0.3 * rr[k]
    k_missed = rr.size // 2
    rr = np.concatenate((rr[:k_missed], [rr[k_missed] + rr[k_missed + 1]], rr[k_missed + 2 :]))
    return np.round(rr)


def main() -> None:
    rr = resonance_rr_ms(minutes=6.0, breaths_per_min=6.0, rsa_ms=90.0)
    out = HERE / "resonance-6-per-min.rr.txt"
    header = (
        "# pet-biofeedback sample: simulated RR (ms), paced breathing at 6 breaths/min,\n"
        "# RSA ±90 ms, ectopic beats every 137 beats and one missed beat.\n"
        "# Made by recordings/make_samples.py (seed 6). One interval per line.\n"
    )
    out.write_text(header + "\n".join(f"{v:.0f}" for v in rr) + "\n", encoding="utf-8")
    print(f"wrote {out} ({rr.size} beats)")  # noqa: T201


if __name__ == "__main__":
    main()
