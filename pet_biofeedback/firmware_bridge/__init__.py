"""The device side: bytes from straps in, events out.

Everything that produces heartbeats lives here (design.md §2, issue 3): the pure decoders of
the Heart Rate Service and the Polar PMD protocol (`hrs`, `pmd`), and the sources — BLE
strap (`ble`), emulated straps (`emulated`), the simulated strap (`simulated`), replay of a
recording (`replay`). Every source meets `pet_biofeedback.events.EventSource`:
``async with source:`` opens it, ``async for event in source:`` yields the events of
`pet_biofeedback.events` in time order.

This package may import `pet_biofeedback.errors`, `pet_biofeedback.events`,
`pet_biofeedback.recording` and numpy; bleak only in the BLE modules (``ble``, ``ble_scan``,
``ble_pmd``, ``ble_messages``, ``ble_device_info``) and ``_bumble_backend``, Bumble only in
``emulated_world``, ``emulated_straps``, ``emulated_h10`` and ``_bumble_backend`` (import-linter
contracts in pyproject.toml); never Qt, the GUI, session code or `pet_biofeedback.signal`.
"""

from __future__ import annotations

import importlib
from typing import Any

from pet_biofeedback.errors import DecodeError

# Names re-exported from submodules, loaded on first use (PEP 562) so that importing one
# decoder does not pull in the simulator, asyncio or bleak.
_LAZY = {
    "PacerFn": "sim_physiology",
    "SimChunk": "sim_model",
    "SimConfig": "sim_config",
    "SimulatedStrap": "simulated",
    "StrapModel": "sim_model",
    "fixed_rate_pacer": "sim_physiology",
    "parse_sim_spec": "sim_config",
    "simulate": "sim_model",
    "ReplaySource": "replay",
}

__all__ = ["DecodeError", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
