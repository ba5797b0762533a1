"""Make docs/images/history.png and docs/images/replay.png (offscreen, simulated sessions).

    PYTHONPATH=. .venv/bin/python docs/images/make_pages.py

Records a month of short simulated practice sessions with the real engine (as fast as
possible) into a temporary PET_BIOFEEDBACK_HOME, adds them to the history the way the end of
a session does (the row from the recording, the engine's RSA), then renders the history page
and the replay page of the last session, jumped to its middle.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

HERE = Path(__file__).resolve().parent
DAYS = (0, 1, 3, 7, 8, 9, 11, 14, 16, 17, 21, 22, 23, 24)
TZ = timezone(timedelta(hours=1))
FIRST = datetime(2026, 11, 2, 8, 30, tzinfo=TZ)


async def one_session(k: int, day: int) -> Path:
    from pet_biofeedback.firmware_bridge.sim_config import SimConfig
    from pet_biofeedback.firmware_bridge.simulated import SimulatedStrap
    from pet_biofeedback.paths import default_recording_path
    from pet_biofeedback.session.engine import SessionEngine, SessionPlan
    from pet_biofeedback.session.history import HistoryStore, index_recording
    from pet_biofeedback.session.pacer import PacerSettings
    from pet_biofeedback.session.recorder import record

    minutes = 2.0 + (k % 3)
    holder: list[SessionEngine] = []
    strap = SimulatedStrap(
        # practice pays: the simulated person's swing grows over the month
        SimConfig(seed=k, rsa_peak_to_trough_bpm=8.0 + 0.5 * k, duration_s=minutes * 60 + 5),
        speed=math.inf,
        pacer=lambda t: holder[0].pacer_position(t) if holder else 0.0,
    )
    plan = SessionPlan(
        protocol="practice", minutes=minutes, pacer=PacerSettings(breaths_per_min=6.0)
    )

    async def after() -> dict[str, int]:
        return {"pain_after": max(5 - k // 3, 1), "mood_after": min(6 + k // 4, 10)}

    engine = SessionEngine(strap, plan, ask_after=after)
    holder.append(engine)
    engine.rate("pain_before", max(7 - k // 4, 2))
    engine.rate("mood_before", min(4 + k // 5, 10))
    started = FIRST + timedelta(days=day, minutes=7 * k)
    path = default_recording_path()
    path = path.with_name(f"session-{started:%Y-%m-%d_%H%M%S}.jsonl.gz")
    await record(engine, path, device={"kind": "simulated"}, settings=plan.header_settings(),
                 started_at=started)  # fmt: skip
    row = dataclasses.replace(
        index_recording(path).record, rsa_bpm=engine.live_summary()["rsa_bpm"]
    )
    with HistoryStore() as store:
        store.add_session(row)
    return path


def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        os.environ["PET_BIOFEEDBACK_HOME"] = home
        from pet_biofeedback.gui.history_view import save_history_screenshot
        from pet_biofeedback.gui.replay_view import save_replay_screenshot

        paths = [asyncio.run(one_session(k, day)) for k, day in enumerate(DAYS)]
        save_history_screenshot(HERE / "history.png", today=(FIRST + timedelta(days=25)).date())
        save_replay_screenshot(paths[-1], HERE / "replay.png", position_fraction=0.6, play_s=3.0)
    print(f"saved {HERE / 'history.png'} and {HERE / 'replay.png'}")  # noqa: T201


if __name__ == "__main__":
    main()
