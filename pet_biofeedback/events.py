"""The event types every layer speaks (design.md §3).

Every source — BLE strap, emulated strap, simulated strap, replay — produces these small
frozen dataclasses, the engine consumes them, and the recorder writes them (the on-disk names
live in `pet_biofeedback.recording` and nowhere else).

The time stamp ``t``
--------------------
Every event has ``t``: **seconds since the start of the session on the host's monotonic
clock** (``time.monotonic()`` minus its value at session start; never the wall clock). It is
the one field whose name carries no unit suffix (style.md §2.2). For frames of samples
(`EcgFrame`, `AccFrame`) ``t`` is the time of the **last** sample in the frame, as on the Polar
PMD wire (ble-protocol.md §4.7); sample ``i`` of ``n`` lies at ``t - (n - 1 - i) / fs_hz``.

Consumers ``match`` on `Event`; the recorder and replay end in ``assert_never``, everyone else
in an explicit ``case _: pass`` (style.md §2.4). This module imports only the standard library.

What a frame's producer already has
-----------------------------------
`EcgFrame` and `AccFrame` also hold two private caches a producer may fill (the recording
reader, the simulated strap, the BLE decoder; `pet_biofeedback.recording.frame_arrays` sets and
reads them): the samples as a read-only float64 array (``_array``: ECG shape ``(n,)``, ACC
``(n, 3)``), equal to the tuple, and the exact recording line the frame was read from
(``_line``, without its newline) when the writer would spell the frame the same. A replay
moves 26 000 frames an hour, and turning each one's tuple back into an array or text, in
every consumer, cost more than the rest of its way. Neither cache takes part in ``==``,
``hash`` or ``repr``, and neither is an ``__init__`` argument: a frame built from its fields
(by hand, by `dataclasses.replace`) starts without them, so a changed frame never carries
the samples or the line of the one it came from.

A producer that has the array may also leave the tuple to be built from it on first use
(`frame_arrays.frame_from_array`; the reader does: the 2.9 million floats and 720 000 triples
of an hour's frames were a third of its work, and a replay's consumers all take the array).
The field reads the same either way: ``frame.ecg_uv`` is the tuple, ``==`` compares it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeAlias, runtime_checkable

__all__ = [
    "AccFrame",
    "Battery",
    "Contact",
    "EcgFrame",
    "Event",
    "EventSource",
    "Gap",
    "HeartRate",
    "Link",
    "LinkState",
    "Marker",
    "PacerPhase",
    "RRIntervals",
    "Rating",
    "RawNotification",
]


class LinkState(StrEnum):
    """State of the link to a strap; the values are the recording's ``link.state`` strings."""

    SCANNING = "scanning"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    STREAMING = "streaming"
    RECONNECTING = "reconnecting"
    DISCONNECTED = "disconnected"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RRIntervals:
    """RR intervals delivered together (one Heart Rate notification carries 0–9 of them).

    Parameters
    ----------
    t : float
        Time of the beat that ends the last interval, s since session start (module
        docstring): reconstructed from the intervals (ble-protocol.md §2.4), never later than
        the notification's arrival and at most about 2 s before it.
    rr_ms : tuple of float
        Intervals between successive R peaks in ms, oldest first (full 1/1024 s precision).
    """

    t: float
    rr_ms: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class HeartRate:
    """Heart rate as reported by the strap (its own averaging; 0 while it has no contact).

    Parameters
    ----------
    t : float
        Arrival time, s since session start.
    hr_bpm : float
        Heart rate in beats/min.
    """

    t: float
    hr_bpm: float


def _samples_on_first_read(
    frame: object, name: str, field_name: str, build: Callable[[Any], tuple[Any, ...]]
) -> object:
    """``frame.<field_name>`` built from the frame's kept array, set, and returned.

    A frame's ``__getattr__``: only an unset slot gets here, i.e. the sample tuple of a frame
    made from its array alone (module docstring); it is built once. ``_array`` is read past
    ``__getattr__``, so a frame without one raises instead of recursing.
    """
    if name != field_name:
        raise AttributeError(f"'{type(frame).__name__}' object has no attribute {name!r}")
    samples = build(object.__getattribute__(frame, "_array"))
    object.__setattr__(frame, field_name, samples)
    return samples


def _numbers(array: Any) -> tuple[float, ...]:
    return tuple(array.tolist())


def _triples(array: Any) -> tuple[tuple[float, float, float], ...]:
    flat = iter(array.ravel().tolist())
    return tuple(zip(flat, flat, flat, strict=True))


@dataclass(frozen=True, slots=True)
class EcgFrame:
    """A frame of single-lead ECG samples.

    Parameters
    ----------
    t : float
        Time of the **last** sample in the frame, s since session start.
    fs_hz : float
        Sampling frequency in Hz (130 on a Polar H10).
    ecg_uv : tuple of float
        Samples in µV, oldest first.
    """

    t: float
    fs_hz: float
    ecg_uv: tuple[float, ...]
    # Producer caches (module docstring): ecg_uv as a read-only float64 array; the line read.
    _array: object = field(default=None, init=False, compare=False, repr=False)
    _line: bytes | None = field(default=None, init=False, compare=False, repr=False)

    if not TYPE_CHECKING:  # (a __getattr__ would hide misspelt attributes from mypy)

        def __getattr__(self, name: str) -> object:
            return _samples_on_first_read(self, name, "ecg_uv", _numbers)


@dataclass(frozen=True, slots=True)
class AccFrame:
    """A frame of 3-axis accelerometer samples.

    Parameters
    ----------
    t : float
        Time of the **last** sample in the frame, s since session start.
    fs_hz : float
        Sampling frequency in Hz (25/50/100/200 on a Polar H10).
    acc_mg : tuple of (float, float, float)
        Samples ``(x, y, z)`` in milli-g (mG), oldest first; at rest ``|acc| ≈ 1000`` mG.
    """

    t: float
    fs_hz: float
    acc_mg: tuple[tuple[float, float, float], ...]
    # Producer caches (module docstring): acc_mg as a read-only (n, 3) float64 array; the line.
    _array: object = field(default=None, init=False, compare=False, repr=False)
    _line: bytes | None = field(default=None, init=False, compare=False, repr=False)

    if not TYPE_CHECKING:  # (a __getattr__ would hide misspelt attributes from mypy)

        def __getattr__(self, name: str) -> object:
            return _samples_on_first_read(self, name, "acc_mg", _triples)


@dataclass(frozen=True, slots=True)
class Contact:
    """Skin contact as reported by the strap.

    Parameters
    ----------
    t : float
        Arrival time, s since session start.
    ok : bool
        True when the electrodes touch the skin.
    """

    t: float
    ok: bool


@dataclass(frozen=True, slots=True)
class Link:
    """A change of the link state.

    Parameters
    ----------
    t : float
        Time of the change, s since session start.
    state : LinkState
        The new state.
    detail : str
        Plain words for people ("strap out of range, retrying in 4 s"); may be empty.
    """

    t: float
    state: LinkState
    detail: str


@dataclass(frozen=True, slots=True)
class Battery:
    """Battery level of the strap.

    Parameters
    ----------
    t : float
        Time of the reading, s since session start.
    battery_pct : int
        Battery level in percent (0–100).
    """

    t: float
    battery_pct: int


@dataclass(frozen=True, slots=True)
class PacerPhase:
    """The pacer's breathing pattern from ``t`` on.

    One breath cycle lasts ``60 / breaths_per_min`` s: ``inhale_s`` of inhalation, a hold of
    ``hold_after_inhale_s``, ``exhale_s`` of exhalation, then a pause for whatever remains of
    the cycle. ``position`` is the pacer's breath position at ``t`` (breaths since the pacer
    started; its fractional part is where in the cycle the change happened, 0 at an inhalation
    onset), so the phase at a later time ``t2`` (until the next `PacerPhase`) is
    ``(position + (t2 - t) * breaths_per_min / 60) % 1``. A ``breaths_per_min`` of 0 means the
    pacer stopped (spontaneous breathing, e.g. a rest between assessment blocks).

    Parameters
    ----------
    t : float
        Time of the change, s since session start.
    breaths_per_min : float
        Breathing rate in breaths/min; 0 when the pacer stops.
    inhale_s : float
        Inhalation time in s.
    exhale_s : float
        Exhalation time in s.
    hold_after_inhale_s : float, default 0.0
        Pause with full lungs, s.
    position : float, default 0.0
        Breath position at ``t`` (older recordings: 0, ``t`` was an inhalation onset).
    shape : str, default "sine"
        How the guide moves: "sine" or "linear".
    """

    t: float
    breaths_per_min: float
    inhale_s: float
    exhale_s: float
    hold_after_inhale_s: float = 0.0
    position: float = 0.0
    shape: str = "sine"


@dataclass(frozen=True, slots=True)
class Marker:
    """A free-text marker set by a person or a protocol ("block 3: 5.5 breaths/min").

    Parameters
    ----------
    t : float
        Time of the marker, s since session start.
    text : str
        The marker text (may be personal: log it at DEBUG only).
    """

    t: float
    text: str


@dataclass(frozen=True, slots=True)
class Rating:
    """A rating given by the patient (pain, mood, …).

    Parameters
    ----------
    t : float
        Time of the rating, s since session start.
    kind : str
        What was rated, e.g. ``"pain"`` or ``"mood"``.
    value : float
        The rating on the scale the session protocol defines (e.g. 0–10).
    """

    t: float
    kind: str
    value: float


@dataclass(frozen=True, slots=True)
class RawNotification:
    """A raw GATT notification, kept so a recording can be replayed through the decoders.

    Parameters
    ----------
    t : float
        Arrival time, s since session start.
    characteristic : str
        The characteristic's UUID, lower case with dashes.
    payload : bytes
        The notification's bytes, unchanged.
    """

    t: float
    characteristic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class Gap:
    """Data are missing: the interval ``(t - seconds, t]`` lost events (reconnect, overflow).

    ``t`` is when the gap ended or was noticed, so gaps stay in time order with other events.

    Parameters
    ----------
    t : float
        End of the gap, s since session start.
    seconds : float
        Length of the gap in s (0 when only the fact of a loss is known).
    reason : str
        Why, in plain words ("link lost", "queue overflow: 12 notifications dropped").
    """

    t: float
    seconds: float
    reason: str


Event: TypeAlias = (
    RRIntervals
    | HeartRate
    | EcgFrame
    | AccFrame
    | Contact
    | Link
    | Battery
    | PacerPhase
    | Marker
    | Rating
    | RawNotification
    | Gap
)
"""Any event; ``match`` on it (style.md §2.4)."""


@runtime_checkable
class EventSource(Protocol):
    """The shape every source has (style.md §2.8).

    ``async with source:`` opens it (connects, starts streams, opens files);
    ``async for event in source:`` yields events in time order until the source ends;
    leaving the ``async with`` block releases everything, on every exit path, also when the
    consumer stops iterating early.
    """

    async def __aenter__(self) -> Self:
        """Open the source."""
        ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Release everything the source holds."""
        ...

    def __aiter__(self) -> AsyncIterator[Event]:
        """Iterate over the events in time order."""
        ...
