"""Short sessions recorded at max speed, for the replay tests (headless and GUI)."""

from __future__ import annotations

import math
from pathlib import Path

from pet_biofeedback.firmware_bridge.sim_config import SimConfig
from pet_biofeedback.firmware_bridge.simulated import SimulatedStrap
from pet_biofeedback.session.engine import SessionEngine, SessionPlan
from pet_biofeedback.session.pacer import PacerSettings
from pet_biofeedback.session.recorder import record


async def record_practice(
    path: Path,
    *,
    minutes: float = 4.0,
    seed: int = 3,
    breaths_per_min: float = 6.0,
    ecg: bool = False,
    profile: str = "default",
) -> Path:
    """A practice session on the simulated strap, recorded as fast as possible."""
    holder: list[SessionEngine] = []
    strap = SimulatedStrap(
        SimConfig(
            seed=seed,
            resonance_breaths_per_min=breaths_per_min,
            ecg_enabled=ecg,
            acc_enabled=ecg,
            duration_s=minutes * 60.0 + 5.0,
        ),
        speed=math.inf,
        pacer=lambda t: holder[0].pacer_position(t) if holder else 0.0,
    )
    plan = SessionPlan(
        protocol="practice",
        minutes=minutes,
        pacer=PacerSettings(breaths_per_min=breaths_per_min),
        profile=profile,
    )
    engine = SessionEngine(strap, plan)
    holder.append(engine)
    await record(engine, path, device={"kind": "simulated"}, settings=plan.header_settings())
    return path


def write_rr_text(path: Path, minutes: float, rr_ms: float = 900.0) -> Path:
    """An RR text file of ``minutes`` of beats that swing gently (6 breaths/min)."""
    n = int(minutes * 60_000 / rr_ms)
    lines = [f"{rr_ms + 60.0 * math.sin(2 * math.pi * k * rr_ms / 10_000):.1f}" for k in range(n)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
