"""Regenerate the sample files in this folder (deterministic; run from the repository root).

    python recordings/make_samples.py

1. ``resonance-6-per-min.rr.txt`` — an RR text file from the small model below: beats are
   generated one after the other in time; heart rate follows paced breathing at
   ``breaths_per_min`` with a sinusoidal RSA of ``rsa_ms`` (peak-to-trough 2·rsa_ms), plus a
   slow 0.03 Hz wave, 1/f-like noise and, at known beats, premature (ectopic) beats followed
   by a compensatory pause and one missed beat.
2. Recordings (format v1, gzip) of the simulated strap (`firmware_bridge.simulated`), made by
   the same recorder as ``pet-biofeedback record`` (`session.recorder.record`) at maximum
   speed, with a fixed start time so that the files are byte-for-byte reproducible; see
   `SAMPLES` and README.md.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType
from typing import Self

import numpy as np

from pet_biofeedback import __version__
from pet_biofeedback.events import Contact, Event, RRIntervals
from pet_biofeedback.firmware_bridge.sim_config import parse_sim_spec
from pet_biofeedback.firmware_bridge.simulated import SimulatedStrap
from pet_biofeedback.session.recorder import RecordingSummary, record
from pet_biofeedback.session.sources import describe_source

HERE = Path(__file__).resolve().parent
# Fixed header start time: the files do not change from one run to the next.
STARTED_AT = datetime(2026, 1, 5, 9, 30, tzinfo=timezone(timedelta(hours=1)))


@dataclass(frozen=True)
class Sample:
    """One sample recording: file name, simulator spec, length, and what it shows."""

    file_name: str
    spec: str
    seconds: float
    name: str
    hr_only: bool = False


SAMPLES = (
    Sample(
        "h10-resonance-5.5.jsonl.gz",
        "sim:seed=11,resonance=5.5,breathing=5.5",
        120.0,
        "simulated Polar H10 (HR, RR, 130 Hz ECG, 200 Hz ACC), breathing at resonance",
    ),
    Sample(
        "strap-dropouts-ectopy.jsonl.gz",
        "sim:seed=12,ecg=off,acc=off,ectopy=0.02,dropouts=1,dropout_s=6",
        180.0,
        "simulated generic strap (HR, RR, contact) with contact dropouts and ectopic beats",
    ),
    Sample(
        "optical-hr-only.jsonl.gz",
        "sim:seed=13,ecg=off,acc=off,hr=72",
        60.0,
        "simulated optical sensor: heart rate only, no RR intervals, no contact bits",
        hr_only=True,
    ),
)


class _HeartRateOnly:
    """The simulated strap as an optical sensor sees it: RR intervals and contact removed."""

    def __init__(self, strap: SimulatedStrap) -> None:
        self._strap = strap

    async def __aenter__(self) -> Self:
        await self._strap.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._strap.__aexit__(exc_type, exc, tb)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    async def _events(self) -> AsyncIterator[Event]:
        async for event in self._strap:
            if not isinstance(event, RRIntervals | Contact):
                yield event


async def make_recording(sample: Sample, out: Path) -> RecordingSummary:
    """Record one sample with the simulator at maximum speed (replaces ``out``)."""
    strap = SimulatedStrap(parse_sim_spec(sample.spec), speed=math.inf)
    device = {**describe_source(sample.spec, speed=math.inf), "name": sample.name}
    settings = {
        "source": sample.spec,
        "seconds": sample.seconds,
        "made_by": "recordings/make_samples.py",
        "hr_only": sample.hr_only,
    }
    return await record(
        _HeartRateOnly(strap) if sample.hr_only else strap,
        out,
        device=device,
        settings=settings,
        seconds=sample.seconds,
        overwrite=True,
        started_at=STARTED_AT,
        app_version=__version__,
    )


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
    for sample in SAMPLES:
        out = HERE / sample.file_name
        summary = asyncio.run(make_recording(sample, out))
        out.chmod(0o644)  # public sample data, not a patient's recording (owner-only by default)
        print(  # noqa: T201
            f"wrote {out} ({summary.n_events} events, {summary.n_beats} beats, "
            f"{out.stat().st_size / 1024:.0f} KiB)"
        )


if __name__ == "__main__":
    main()
