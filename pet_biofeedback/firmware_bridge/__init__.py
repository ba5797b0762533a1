"""The device side: bytes from straps in, events out.

Everything that produces heartbeats lives here (design.md §2, issue 3): the pure decoders of
the Heart Rate Service and the Polar PMD protocol (`hrs`, `pmd`), and the sources — BLE
strap, emulated straps, the simulated strap (`simulated`), replay of a recording. Every
source meets `pet_biofeedback.events.EventSource`: ``async with source:`` opens it,
``async for event in source:`` yields the events of `pet_biofeedback.events` in time order.

This package may import `pet_biofeedback.errors`, `pet_biofeedback.events`,
`pet_biofeedback.recording` and numpy (bleak only in ``ble.py``); never Qt, the GUI, session
code or `pet_biofeedback.signal`.
"""

from pet_biofeedback.errors import DecodeError
from pet_biofeedback.firmware_bridge.simulated import (
    PacerFn,
    SimChunk,
    SimConfig,
    SimulatedStrap,
    StrapModel,
    fixed_rate_pacer,
    parse_sim_spec,
    simulate,
)

__all__ = [  # grouped by module, each group sorted
    "DecodeError",
    # --- simulated.py ---
    "PacerFn",
    "SimChunk",
    "SimConfig",
    "SimulatedStrap",
    "StrapModel",
    "fixed_rate_pacer",
    "parse_sim_spec",
    "simulate",
    # --- hrs.py / pmd.py: the decoder helper adds its exports here ---
]
