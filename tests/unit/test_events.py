"""Unit tests for pet_biofeedback.events: the shared event vocabulary."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from pet_biofeedback import events
from pet_biofeedback.events import (
    AccFrame,
    Battery,
    Contact,
    EcgFrame,
    Event,
    EventSource,
    Gap,
    HeartRate,
    Link,
    LinkState,
    Marker,
    PacerPhase,
    Rating,
    RawNotification,
    RRIntervals,
)

ONE_OF_EACH: tuple[Event, ...] = (
    RRIntervals(1.0, (812.5, 790.0)),
    HeartRate(1.0, 72.0),
    EcgFrame(1.5, 130.0, (10.0, -20.0)),
    AccFrame(1.5, 200.0, ((1.0, 2.0, 1000.0),)),
    Contact(2.0, True),
    Link(0.0, LinkState.STREAMING, "ECG 130 Hz"),
    Battery(0.0, 87),
    PacerPhase(3.0, 5.5, 5.0, 5.9),
    Marker(4.0, "block 1"),
    Rating(5.0, "pain", 4.0),
    RawNotification(6.0, "00002a37-0000-1000-8000-00805f9b34fb", b"\x10\x40"),
    Gap(7.0, 2.5, "link lost"),
)


def test_event_union_lists_every_event_class_once() -> None:
    members = typing.get_args(Event)
    assert set(members) == {type(e) for e in ONE_OF_EACH}
    assert len(members) == len(ONE_OF_EACH)


@pytest.mark.parametrize("event", ONE_OF_EACH, ids=lambda e: type(e).__name__)
def test_events_are_frozen_slotted_dataclasses_with_t_first(event: Event) -> None:
    assert dataclasses.is_dataclass(event)
    assert not hasattr(event, "__dict__")  # slots
    assert dataclasses.fields(event)[0].name == "t"
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.t = 99.0  # type: ignore[misc]  # the point of the test
    assert hash(event) == hash(dataclasses.replace(event))


def test_link_state_values_are_the_recording_strings() -> None:
    assert [s.value for s in LinkState] == [
        "scanning",
        "connecting",
        "connected",
        "streaming",
        "reconnecting",
        "disconnected",
        "failed",
    ]
    assert LinkState("failed") is LinkState.FAILED
    assert str(LinkState.STREAMING) == "streaming"


def test_field_names_carry_units() -> None:
    names = {f.name for e in ONE_OF_EACH for f in dataclasses.fields(e)}
    for bare in ("rr", "bpm", "fs", "percent", "microvolts", "hr", "rate"):
        assert bare not in names


def test_event_source_protocol_is_runtime_checkable() -> None:
    class Source:
        async def __aenter__(self) -> Source:
            return self

        async def __aexit__(self, *exc: object) -> None:
            return None

        def __aiter__(self) -> Source:
            return self

    assert isinstance(Source(), EventSource)
    assert not isinstance(object(), EventSource)


def test_module_exports_are_complete() -> None:
    public = {n for n in dir(events) if not n.startswith("_")}
    exported = set(events.__all__)
    assert exported <= public
    assert {type(e).__name__ for e in ONE_OF_EACH} <= exported
