"""The unmodified BLE code against emulated straps on Bumble's virtual radio (issue 3 acceptance).

Every scenario of ble-protocol.md §8.4 that the issue's acceptance list names: discovery among
other advertisers, connect, HR + RR, H10 ECG/ACC, peer drop → reconnect → streams resumed, data
stall → watchdog reconnect, pairing required → pair → retry, MTU too small, sensor-initiated
stop, clean STOP on every exit path, malformed packets, strap not found, and 20 forced
disconnects without a lost or duplicated beat outside the marked gaps.

Determinism (§8.4): a fresh radio per test; the fakes emit only when a test calls ``emit``; the
strap's clock and sleep are a `VirtualClock` advanced by the test; tests wait for events, never
for wall-clock time; every wait is under a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("bumble", reason="needs the 'emulated' extra")

from pet_biofeedback.errors import (
    DeviceNotFoundError,
    PairingRequiredError,
)
from pet_biofeedback.events import (
    AccFrame,
    Battery,
    Contact,
    EcgFrame,
    Event,
    Gap,
    HeartRate,
    Link,
    LinkState,
    RawNotification,
    RRIntervals,
)
from pet_biofeedback.firmware_bridge import hrs, pmd
from pet_biofeedback.firmware_bridge.ble import BleStrap
from pet_biofeedback.firmware_bridge.ble_pmd import CP_WRITE_KEY
from pet_biofeedback.firmware_bridge.ble_scan import scan
from pet_biofeedback.firmware_bridge.ble_settings import BleTimeouts, ReconnectPolicy
from pet_biofeedback.firmware_bridge.emulated import emulated_source
from pet_biofeedback.firmware_bridge.emulated_h10 import EmulatedH10
from pet_biofeedback.firmware_bridge.emulated_harness import FaultPlan, VirtualClock
from pet_biofeedback.firmware_bridge.emulated_straps import (
    EmulatedGenericStrap,
    EmulatedOpticalSensor,
    EmulatedStrapBase,
)
from pet_biofeedback.firmware_bridge.emulated_world import EmulatedAdvertiser
from pet_biofeedback.firmware_bridge.sim_config import SimConfig

pytestmark = [pytest.mark.ble, pytest.mark.timeout(60)]

TEST_S = 20.0  # whole-test timeout
WAIT_S = 5.0  # one wait for an event
ECG_GET = bytes.fromhex("01 00")
ECG_START = bytes.fromhex("02 00 00 01 82 00 01 01 0E 00")  # §4.3
ECG_STOP = bytes.fromhex("03 00")
ACC_GET = bytes.fromhex("01 02")
ACC_START = bytes.fromhex("02 02 00 01 C8 00 01 01 10 00 02 01 08 00")  # §4.3
ACC_STOP = bytes.fromhex("03 02")
FAST_SCAN = BleTimeouts(scan_s=0.3)


class Collector:
    """Iterates a source in a task, keeps every event, lets the test wait for conditions."""

    def __init__(self, source: BleStrap) -> None:
        self.source = source
        self.events: list[Event] = []
        self.error: BaseException | None = None
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            async for event in self.source:
                self.events.append(event)
                self._changed.set()
        except Exception as exc:
            self.error = exc
        finally:
            self._changed.set()

    async def until(
        self, condition: Callable[[], bool], what: str, timeout_s: float = WAIT_S
    ) -> None:
        """Wait until `condition()` holds (checked after every event)."""
        try:
            async with asyncio.timeout(timeout_s):
                while not condition():
                    if self.error is not None or self._task.done():
                        raise AssertionError(
                            f"source ended while waiting for {what}: {self.error!r}"
                        )
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(
                f"timed out waiting for {what}; last events: {self.events[-8:]}"
            ) from None

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def links(self, state: LinkState) -> list[Link]:
        return [e for e in self.events if isinstance(e, Link) and e.state is state]

    def raw(self, characteristic: str) -> list[RawNotification]:
        return [
            e
            for e in self.events
            if isinstance(e, RawNotification) and e.characteristic == characteristic
        ]

    async def wait_link(self, state: LinkState, count: int = 1) -> Link:
        await self.until(lambda: len(self.links(state)) >= count, f"Link {state} #{count}")
        return self.links(state)[count - 1]

    async def finish(self) -> None:
        async with asyncio.timeout(WAIT_S):
            await self._task


class Rig:
    """A strap, its emulated peer, the virtual clock and the collector."""

    def __init__(self, fake: EmulatedStrapBase, clock: VirtualClock, collector: Collector) -> None:
        self.fake = fake
        self.clock = clock
        self.col = collector

    def delivered_hr(self) -> int:
        return sum(1 for n in self.fake.hr_log if n.delivered)

    def delivered_pmd(self) -> int:
        if not isinstance(self.fake, EmulatedH10):
            return 0
        return sum(1 for f in self.fake.pmd_log if f.delivered)

    async def step(self, n_seconds: int = 1) -> None:
        """Advance the clock by 1 s, let the fake emit that second, wait for what it delivered."""
        for _ in range(n_seconds):
            await self.clock.advance(1.0)
            await self.fake.emit_second()
            n_hr, n_pmd = self.delivered_hr(), self.delivered_pmd()

            def arrived(n_hr: int = n_hr, n_pmd: int = n_pmd) -> bool:
                return (
                    len(self.col.raw(hrs.HEART_RATE_MEASUREMENT_UUID)) >= n_hr
                    and len(self.col.raw(pmd.PMD_DATA_UUID)) >= n_pmd
                )

            await self.col.until(arrived, f"{n_hr} heart-rate and {n_pmd} PMD notifications")


def _sent_rr(fake: EmulatedStrapBase) -> list[float]:
    return [rr for n in fake.hr_log if n.delivered for rr in n.rr_ms]


def _received_rr(col: Collector) -> list[float]:
    return [rr for e in col.of(RRIntervals) for rr in e.rr_ms]


# --- discovery and connection ---------------------------------------------------------------------


async def test_scan_lists_straps_among_other_advertisers(make_world: Callable[..., Any]) -> None:
    world = make_world()
    h10 = EmulatedH10(world)
    generic = EmulatedGenericStrap(world)
    optical = EmulatedOpticalSensor(world)
    EmulatedAdvertiser(world)  # a thermometer
    EmulatedAdvertiser(world, name=None, service_uuids=())  # an anonymous beacon
    async with asyncio.timeout(TEST_S), world:
        found = await scan(0.3, scanner_cls=world.scanner_cls)
    by_name = {s.name: s for s in found}
    assert set(by_name) == {h10.name, generic.name, optical.name}
    assert by_name[h10.name].is_polar and by_name[h10.name].has_heart_rate_service
    assert not by_name[generic.name].is_polar
    assert by_name[generic.name].address == generic.address


@pytest.mark.parametrize("by", ["name", "device id", "address"])
async def test_connect_chooses_the_named_strap_and_reads_its_information(
    make_world: Callable[..., Any], vclock: VirtualClock, by: str
) -> None:
    world = make_world()
    EmulatedGenericStrap(world)
    h10 = EmulatedH10(world)
    identifier = {"name": h10.name, "device id": "1a2b3c4d", "address": h10.address.lower()}[by]
    async with asyncio.timeout(TEST_S), world:
        strap = world.strap(identifier, clock=vclock, sleep=vclock.sleep, ecg=False)
        async with strap:
            col = Collector(strap)
            await col.wait_link(LinkState.STREAMING)
        await col.finish()
    states = [e.state for e in col.of(Link)]
    assert states == [
        LinkState.SCANNING,
        LinkState.CONNECTING,
        LinkState.CONNECTED,
        LinkState.STREAMING,
        LinkState.DISCONNECTED,
    ]
    assert col.of(Battery) == [Battery(0.0, 87)]
    info = strap.device_info
    assert info is not None
    assert (info.manufacturer, info.model, info.name) == ("Polar Electro Oy", "H10", h10.name)
    assert info.pmd_measurements == ()  # PMD not asked for (ecg=False): features not read
    assert h10.cp_log == []  # no PMD command when ECG is not wanted


async def test_strap_not_found_raises_a_clear_error(make_world: Callable[..., Any]) -> None:
    world = make_world()
    EmulatedAdvertiser(world)
    async with asyncio.timeout(TEST_S), world:
        with pytest.raises(DeviceNotFoundError) as named:
            async with world.strap("Polar H10 DEADBEEF", timeouts=FAST_SCAN):
                pass
        with pytest.raises(DeviceNotFoundError) as anyone:
            async with world.strap(timeouts=FAST_SCAN):
                pass
    assert named.value.identifier == "Polar H10 DEADBEEF"
    assert "Polar H10 DEADBEEF" in named.value.user_message
    assert anyone.value.user_message.startswith("No heart-rate strap was found")
    for message in (named.value.user_message, anyone.value.user_message):
        assert "0x" not in message and "Error" not in message


# --- heart rate -------------------------------------------------------------------------------


async def test_h10_heart_rate_and_rr_are_decoded_exactly(
    make_world: Callable[..., Any], vclock: VirtualClock
) -> None:
    world = make_world()
    h10 = EmulatedH10(
        world, config=SimConfig(seed=3, hr_bpm=80, ecg_enabled=False, acc_enabled=False)
    )
    async with asyncio.timeout(TEST_S), world:
        strap = world.strap(clock=vclock, sleep=vclock.sleep, ecg=False)
        async with strap:
            rig = Rig(h10, vclock, Collector(strap))
            await rig.col.wait_link(LinkState.STREAMING)
            await rig.step(12)
        await rig.col.finish()
    col = rig.col
    assert _received_rr(col) == _sent_rr(h10)
    assert len(_sent_rr(h10)) >= 12
    assert any(len(n.rr_ms) >= 2 for n in h10.hr_log)  # batches at 80 bpm (§2.3)
    assert [e.hr_bpm for e in col.of(HeartRate)] == [float(n.payload[1]) for n in h10.hr_log]
    assert col.of(Contact) == []  # the H10 has no contact bit (§2.3)
    arrivals = {e.t for e in col.of(HeartRate)}
    for rr_event in col.of(RRIntervals):  # beat time: last beat, never after the arrival (§2.4)
        assert any(0.0 <= t - rr_event.t <= 2.0 for t in arrivals)


async def test_generic_strap_contact_energy_and_rr_batches(
    make_world: Callable[..., Any], vclock: VirtualClock
) -> None:
    world = make_world()
    config = SimConfig(
        seed=5, hr_bpm=95, ecg_enabled=False, acc_enabled=False, dropouts_per_min=6.0, dropout_s=3.0
    )
    strap_fake = EmulatedGenericStrap(world, config=config)
    async with asyncio.timeout(TEST_S), world:
        strap = world.strap(clock=vclock, sleep=vclock.sleep)
        async with strap:
            rig = Rig(strap_fake, vclock, Collector(strap))
            await rig.col.wait_link(LinkState.STREAMING)
            await rig.step(30)
        await rig.col.finish()
    col = rig.col
    assert _received_rr(col) == _sent_rr(strap_fake)
    contacts = [e.ok for e in col.of(Contact)]
    assert len(contacts) == len(col.of(HeartRate)) and True in contacts and False in contacts
    assert all(p.payload[0] & 0x08 for p in strap_fake.hr_log)  # Energy Expended in every packet
    assert any(len(n.rr_ms) >= 2 for n in strap_fake.hr_log)
    hr_when_lost = [
        h.hr_bpm for h, c in zip(col.of(HeartRate), col.of(Contact), strict=True) if not c.ok
    ]
    assert hr_when_lost and set(hr_when_lost) == {0.0}
    assert "ECG" not in next(e.detail for e in col.links(LinkState.STREAMING))  # no PMD


async def test_optical_sensor_gives_heart_rate_without_rr(
    make_world: Callable[..., Any], vclock: VirtualClock
) -> None:
    world = make_world()
    optical = EmulatedOpticalSensor(world)
    async with asyncio.timeout(TEST_S), world:
        strap = world.strap(clock=vclock, sleep=vclock.sleep)
        async with strap:
            rig = Rig(optical, vclock, Collector(strap))
            await rig.col.wait_link(LinkState.STREAMING)
            await rig.step(5)
        await rig.col.finish()
    assert len(rig.col.of(HeartRate)) == 5
    assert rig.col.of(RRIntervals) == [] and rig.col.of(Contact) == []


async def test_malformed_heart_rate_packets_are_counted_and_the_stream_continues(
    make_world: Callable[..., Any], vclock: VirtualClock
) -> None:
    world = make_world()
    h10 = EmulatedH10(world)
    bad = [b"", bytes.fromhex("01 3C"), bytes.fromhex("08 3C 10")]  # §2.2 negative vectors
    async with asyncio.timeout(TEST_S), world:
        strap = world.strap(clock=vclock, sleep=vclock.sleep, ecg=False)
        async with strap:
            rig = Rig(h10, vclock, Collector(strap))
            await rig.col.wait_link(LinkState.STREAMING)
            await rig.step(2)
            for payload in bad:
                assert await h10.send_raw_heart_rate(payload)
            await rig.step(3)
        await rig.col.finish()
    col = rig.col
    assert strap.stats.n_hr_skipped == 3
    raw_payloads = [e.payload for e in col.raw(hrs.HEART_RATE_MEASUREMENT_UUID)]
    assert all(p in raw_payloads for p in bad)  # kept for the recording
    assert len(col.of(HeartRate)) == 5
    assert _received_rr(col) == _sent_rr(h10)


# --- Polar PMD --------------------------------------------------------------------------------


async def test_h10_ecg_and_acc_frames_flow_in_the_right_order(
    make_world: Callable[..., Any], vclock: VirtualClock
) -> None:
    world = make_world(echo_reads=True)  # BlueZ/CoreBluetooth echo the feature read (§4.5)
    h10 = EmulatedH10(world)
    async with asyncio.timeout(TEST_S), world:
        strap = world.strap(clock=vclock, sleep=vclock.sleep, ecg=True, acc=True)
        async with strap:
            rig = Rig(h10, vclock, Collector(strap))
            streaming = await rig.col.wait_link(LinkState.STREAMING)
            await rig.step(4)
        await rig.col.finish()
    col = rig.col
    assert "ECG (130 Hz)" in streaming.detail and "motion (200 Hz)" in streaming.detail
    # CCCDs before any CP write (else the fake answers ATT 0xFD), ECG before ACC (§4.1).
    assert h10.cp_commands[:4] == [ECG_GET, ECG_START, ACC_GET, ACC_START]
    assert h10.history.index("cp 01 00") > h10.history.index("connected")
    ecg, acc = col.of(EcgFrame), col.of(AccFrame)
    sent_ecg = [f for f in h10.pmd_log if f.measurement is pmd.MeasurementType.ECG]
    sent_acc = [f for f in h10.pmd_log if f.measurement is pmd.MeasurementType.ACC]
    assert len(ecg) == len(sent_ecg) >= 7 and len(acc) == len(sent_acc) >= 20
    assert {len(f.ecg_uv) for f in ecg} == {73} and {len(f.acc_mg) for f in acc} == {36}
    assert {f.fs_hz for f in ecg} == {130.0} and {f.fs_hz for f in acc} == {200.0}
    assert all(b.t > a.t for a, b in itertools.pairwise(ecg))
    assert all(900 < (x * x + y * y + z * z) ** 0.5 < 1100 for f in acc for x, y, z in f.acc_mg)
    assert max(abs(v) for f in ecg for v in f.ecg_uv) > 300  # R peaks, not noise
    assert strap.stats.n_unknown_cp_messages == 0 and strap.stats.n_pmd_skipped == 0
    assert strap.device_info is not None and strap.device_info.pmd_measurements == ("ECG", "ACC")
    writes = [e.payload for e in col.raw(CP_WRITE_KEY)]
    assert writes[:4] == [ECG_GET, ECG_START, ACC_GET, ACC_START]  # recorded (§4.6)
    assert len(col.raw(pmd.PMD_CONTROL_POINT_UUID)) >= 5  # the echo and the four answers


async def test_mtu_too_small_reports_ecg_unavailable_and_heart_rate_continues(
    make_world: Callable[..., Any], vclock: VirtualClock
) -> None:
    world = make_world(att_mtu=23)
    h10 = EmulatedH10(world)
    async with asyncio.timeout(TEST_S), world:
        strap = world.strap(clock=vclock, sleep=vclock.sleep, ecg=True, acc=True)
        async with strap:
            rig = Rig(h10, vclock, Collector(strap))
            streaming = await rig.col.wait_link(LinkState.STREAMING)
            await rig.step(3)
        await rig.col.finish()
    assert "ECG is not available" in streaming.detail and "MTU" in streaming.detail
    assert "Heart rate continues" in streaming.detail
    assert h10.cp_commands == [ECG_GET, ECG_START]  # ACC not tried after INVALID_MTU
    assert h10.cp_log[-1].att_mtu == 23
    assert rig.col.of(EcgFrame) == [] and len(rig.col.of(HeartRate)) == 3
    assert _received_rr(rig.col) == _sent_rr(h10)


async def test_pairing_required_pairs_and_retries_the_command(
    make_world: Callable[..., Any], vclock: VirtualClock
) -> None:
    world = make_world()
    h10 = EmulatedH10(world, cp_requires_encryption=True)
    async with asyncio.timeout(TEST_S), world:
        strap = world.strap(clock=vclock, sleep=vclock.sleep)
        async with strap:
            rig = Rig(h10, vclock, Collector(strap))
            streaming = await rig.col.wait_link(LinkState.STREAMING)
            await rig.step(2)
        await rig.col.finish()
    assert h10.pairings == 1
    assert any("paired" in e.detail for e in rig.col.links(LinkState.CONNECTED))
    assert "ECG (130 Hz)" in streaming.detail
    assert h10.cp_commands[:2] == [ECG_GET, ECG_START]  # the refused first write never got in
    assert len(rig.col.of(EcgFrame)) >= 3
    assert h10.cp_commands[-1] == ECG_STOP  # and the STOP worked on the encrypted link


async def test_pairing_refused_degrades_to_heart_rate_or_raises_when_required(
    make_world: Callable[..., Any], vclock: VirtualClock
) -> None:
    world = make_world()
    h10 = EmulatedH10(world, cp_requires_encryption=True, reject_pairing=True)
    async with asyncio.timeout(TEST_S), world:
        strap = world.strap(clock=vclock, sleep=vclock.sleep)
        async with strap:
            rig = Rig(h10, vclock, Collector(strap))
            streaming = await rig.col.wait_link(LinkState.STREAMING)
            await rig.step(2)
        await rig.col.finish()
        with pytest.raises(PairingRequiredError) as required:
            async with world.strap(clock=vclock, sleep=vclock.sleep, require_pmd=True):
                pass
    assert "paired" in streaming.detail and "Heart rate works" in streaming.detail
    assert rig.col.of(EcgFrame) == [] and len(rig.col.of(HeartRate)) == 2
    assert h10.cp_log == [] and h10.pairings == 0
    assert "0x" not in required.value.user_message
    assert not h10.is_connected


async def test_sensor_stopping_ecg_is_restarted_once_then_reported(
    make_world: Callable[..., Any], vclock: VirtualClock
) -> None:
    world = make_world()
    h10 = EmulatedH10(world)
    async with asyncio.timeout(TEST_S), world:
        strap = world.strap(clock=vclock, sleep=vclock.sleep)
        async with strap:
            rig = Rig(h10, vclock, Collector(strap))
            await rig.col.wait_link(LinkState.STREAMING)
            await rig.step(2)
            assert await h10.send_raw_cp_indication(bytes.fromhex("AA 01"))  # unknown: ignored
            assert await h10.stop_stream_by_sensor()
            await rig.col.wait_link(LinkState.STREAMING, 2)
            await rig.step(2)
            n_ecg_after_restart = len(rig.col.of(EcgFrame))
            assert await h10.stop_stream_by_sensor()
            await rig.col.wait_link(LinkState.STREAMING, 3)
            await rig.step(2)
        await rig.col.finish()
    details = [e.detail for e in rig.col.links(LinkState.STREAMING)]
    assert "restarted it (130 Hz)" in details[1]
    assert "again" in details[2] and "heart rate only" in details[2]
    assert h10.cp_commands == [ECG_GET, ECG_START, ECG_START]  # restart; no STOP of a dead stream
    assert len(rig.col.of(EcgFrame)) == n_ecg_after_restart  # nothing after the second stop
    assert n_ecg_after_restart >= 5
    assert strap.stats.n_stream_restarts == 1
    assert strap.stats.n_unknown_cp_messages == 1
    assert len(rig.col.of(HeartRate)) == 6


# --- clean shutdown -------------------------------------------------------------------------


@pytest.mark.parametrize("exit_path", ["normal", "break", "error", "cancel"])
async def test_every_exit_path_stops_the_streams_before_disconnecting(
    make_world: Callable[..., Any], vclock: VirtualClock, exit_path: str
) -> None:
    world = make_world()
    h10 = EmulatedH10(world)
    streaming = asyncio.Event()

    async def session() -> None:
        strap = world.strap(clock=vclock, sleep=vclock.sleep, acc=True)
        async with strap:
            async for event in strap:
                if isinstance(event, Link) and event.state is LinkState.STREAMING:
                    streaming.set()
                    if exit_path == "break":
                        break
                    if exit_path == "error":
                        raise RuntimeError("the consumer failed")
                    if exit_path == "normal":
                        return

    async with asyncio.timeout(TEST_S), world:
        task = asyncio.create_task(session())
        await streaming.wait()
        if exit_path == "cancel":
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, RuntimeError):
            await task
    history = h10.history
    stop_ecg, stop_acc = history.index("cp 03 00"), history.index("cp 03 02")
    disconnected = max(i for i, h in enumerate(history) if h.startswith("disconnected"))
    assert stop_acc < stop_ecg < disconnected  # STOP every started stream, then disconnect
    assert history[disconnected] == "disconnected 0x13"  # the central hung up (§4.14)
    assert h10.streams == {}


async def test_closing_ends_even_when_a_cancellation_of_the_supervisor_is_lost(
    make_world: Callable[..., Any], vclock: VirtualClock
) -> None:
    # Python 3.11's asyncio.wait_for (Bumble's GATT requests) drops a cancellation that
    # arrives with the request's answer: one lost cancel must not keep the strap open forever.
    world = make_world()
    EmulatedH10(world)
    strap = world.strap(clock=vclock, sleep=vclock.sleep, acc=True)
    next_signal = strap._next_signal
    lost: list[BaseException] = []
    watching = asyncio.Event()

    async def losing_the_first_cancellation(session: Any) -> Any:
        watching.set()
        try:
            return await next_signal(session)
        except asyncio.CancelledError as exc:
            if lost:
                raise
            lost.append(exc)  # what wait_for does when its inner future is done
            return await next_signal(session)

    strap._next_signal = losing_the_first_cancellation
    async with asyncio.timeout(TEST_S), world:
        async with strap:
            async for event in strap:
                if isinstance(event, Link) and event.state is LinkState.STREAMING:
                    break
            await watching.wait()  # the supervisor waits for the link's next signal
    assert lost  # the first cancellation was lost, and closing still ended
    assert strap.stats.n_reconnects == 0


# --- supervision ------------------------------------------------------------------------------


async def test_peer_drop_reconnects_resubscribes_and_restarts_streams(
    make_world: Callable[..., Any], vclock: VirtualClock
) -> None:
    world = make_world()
    h10 = EmulatedH10(world)
    async with asyncio.timeout(TEST_S), world:
        strap = world.strap(clock=vclock, sleep=vclock.sleep, acc=True)
        async with strap:
            rig = Rig(h10, vclock, Collector(strap))
            await rig.col.wait_link(LinkState.STREAMING)
            await rig.step(3)
            await h10.disconnect()
            reconnecting = await rig.col.wait_link(LinkState.RECONNECTING)
            await h10.emit_second()  # a second while the strap is away
            await vclock.advance(1.0)  # the 1 s back-off
            await rig.col.wait_link(LinkState.STREAMING, 2)
            n_ecg_before = sum(
                1
                for e in rig.col.events[: rig.col.events.index(reconnecting)]
                if isinstance(e, EcgFrame)
            )
            await rig.step(3)
        await rig.col.finish()
    col = rig.col
    assert "disconnected" in reconnecting.detail and "in 1 s" in reconnecting.detail
    second = [w.payload for w in h10.cp_log if w.connection_index == 2]
    assert second[:4] == [ECG_GET, ECG_START, ACC_GET, ACC_START]  # re-START (§6 rule 8)
    assert len(col.of(EcgFrame)) > n_ecg_before > 0  # ECG resumed
    gaps = col.of(Gap)
    assert len(gaps) == 1 and gaps[0].seconds == pytest.approx(1.0)  # last packet → resubscribed
    assert strap.stats.n_reconnects == 1
    assert _received_rr(col) == _sent_rr(h10)
    lost = [n for n in h10.hr_log if not n.delivered]
    assert len(lost) == 1


async def test_data_stall_triggers_the_watchdog_and_a_reconnect(
    make_world: Callable[..., Any], vclock: VirtualClock
) -> None:
    world = make_world()
    h10 = EmulatedH10(world)
    async with asyncio.timeout(TEST_S), world:
        strap = world.strap(
            clock=vclock, sleep=vclock.sleep, reconnect=ReconnectPolicy(watchdog_s=5.0)
        )
        async with strap:
            rig = Rig(h10, vclock, Collector(strap))
            await rig.col.wait_link(LinkState.STREAMING)
            await rig.step(3)
            h10.stall()
            for _ in range(4):
                await rig.step(1)  # stalled: nothing arrives
            assert rig.col.links(LinkState.RECONNECTING) == []
            await rig.step(1)  # 5 s without heart rate
            reconnecting = await rig.col.wait_link(LinkState.RECONNECTING)
            await vclock.advance(1.0)
            await rig.col.wait_link(LinkState.STREAMING, 2)
            await rig.step(2)
        await rig.col.finish()
    assert "No data from the strap for 5 s" in reconnecting.detail
    first_connection = h10.history[: h10.history.index("connected", 1)]
    assert "cp 03 00" in first_connection  # the stalled link was torn down cleanly
    assert h10.connection_count == 2
    assert len(rig.col.of(Gap)) == 1 and rig.col.of(Gap)[0].seconds == pytest.approx(6.0)
    assert _received_rr(rig.col) == _sent_rr(h10)


async def test_short_stalls_below_the_watchdog_are_marked_as_lost_beats(
    make_world: Callable[..., Any], vclock: VirtualClock
) -> None:
    # Issue 6: 2.5-s stalls lost beats without a gap event (the 5-s watchdog never fired).
    world = make_world()
    fake = EmulatedGenericStrap(
        world,
        config=SimConfig(seed=4, hr_bpm=72, acc_enabled=False),
        faults=FaultPlan.parse("stall-every=10s,stall-for=2.5s"),
    )
    async with asyncio.timeout(TEST_S), world:
        strap = world.strap(clock=vclock, sleep=vclock.sleep)
        async with strap:
            rig = Rig(fake, vclock, Collector(strap))
            await rig.col.wait_link(LinkState.STREAMING)
            await rig.step(45)
        await rig.col.finish()
    gaps = rig.col.of(Gap)
    assert rig.col.links(LinkState.RECONNECTING) == []  # shorter than the watchdog
    assert len(gaps) == 4  # the stalls at 10, 20, 30 and 40 s
    assert all(g.reason.startswith("beats lost: RR intervals cover") for g in gaps)
    assert all(2.0 <= g.seconds <= 4.0 for g in gaps)
    assert strap.stats.n_rr_gaps == 4
    # Every beat that was not delivered lies inside a gap.
    lost = [n for n in fake.hr_log if not n.delivered and n.rr_ms]
    assert lost
    for n in lost:
        assert any(g.t - g.seconds - 1.0 <= n.t_s <= g.t + 1.0 for g in gaps), n


async def test_a_long_session_without_faults_has_no_lost_beat_gaps(
    make_world: Callable[..., Any], vclock: VirtualClock
) -> None:
    # Issue 6: normal notification latency and jitter never look like lost beats.
    world = make_world()
    fake = EmulatedGenericStrap(world, config=SimConfig(seed=9, hr_bpm=58, acc_enabled=False))
    async with asyncio.timeout(45.0), world:
        strap = world.strap(clock=vclock, sleep=vclock.sleep)
        async with strap:
            rig = Rig(fake, vclock, Collector(strap))
            await rig.col.wait_link(LinkState.STREAMING)
            await rig.step(600)
        await rig.col.finish()
    assert rig.col.of(Gap) == []
    assert strap.stats.n_rr_gaps == 0
    assert _received_rr(rig.col) == _sent_rr(fake)


async def test_giving_up_reports_failed_and_raises_not_found(
    make_world: Callable[..., Any], vclock: VirtualClock
) -> None:
    world = make_world()
    h10 = EmulatedH10(world)
    policy = ReconnectPolicy(give_up_after_s=3.0)
    async with asyncio.timeout(TEST_S), world:
        strap = world.strap(
            clock=vclock, sleep=vclock.sleep, ecg=False, reconnect=policy, timeouts=FAST_SCAN
        )
        async with strap:
            rig = Rig(h10, vclock, Collector(strap))
            await rig.col.wait_link(LinkState.STREAMING)
            await rig.step(2)
            await h10.set_visible(False)  # walks out of range
            await h10.disconnect()
            await rig.col.wait_link(LinkState.RECONNECTING)
            await vclock.advance(1.0)
            second = await rig.col.wait_link(LinkState.RECONNECTING, 2)
            await vclock.advance(2.0)
            failed = await rig.col.wait_link(LinkState.FAILED)
            await rig.col.finish()
    assert "in 2 s" in second.detail and "was not found" in second.detail
    assert isinstance(rig.col.error, DeviceNotFoundError)
    assert failed.detail == rig.col.error.user_message


async def test_fault_plan_faults_fire_on_the_model_clock(
    make_world: Callable[..., Any], vclock: VirtualClock
) -> None:
    world = make_world()
    faults = FaultPlan.parse(
        "malformed-every=2s,sensor-stop-every=3s,disconnect-every=6s,offline-for=2s"
    )
    h10 = EmulatedH10(world, faults=faults)
    async with asyncio.timeout(TEST_S), world:
        strap = world.strap(clock=vclock, sleep=vclock.sleep, timeouts=FAST_SCAN)
        async with strap:
            rig = Rig(h10, vclock, Collector(strap))
            await rig.col.wait_link(LinkState.STREAMING)
            await rig.step(5)  # malformed at 2 and 4 s, the sensor stops ECG at 3 s
            await vclock.advance(1.0)
            await h10.emit_second()  # 6 s: the strap drops the link and hides for 2 s
            await rig.col.wait_link(LinkState.RECONNECTING)
            await vclock.advance(1.0)  # attempt 1: not found
            second = await rig.col.wait_link(LinkState.RECONNECTING, 2)
            await h10.emit_second()
            await h10.emit_second()  # 8 s: advertising again
            await vclock.advance(2.0)  # attempt 2: found
            await rig.col.wait_link(LinkState.STREAMING, 3)
            await rig.step(2)
        await rig.col.finish()
    assert strap.stats.n_hr_skipped == 3  # malformed at 2, 4 and 10 s (6 s: link down)
    assert strap.stats.n_stream_restarts == 2  # 3 s, and 9 s on the new connection
    assert "restarted it" in rig.col.links(LinkState.STREAMING)[1].detail
    assert "was not found" in second.detail
    assert h10.connection_count == 2
    assert [w.payload for w in h10.cp_log if w.connection_index == 2][:2] == [ECG_GET, ECG_START]


async def test_ecg_start_latency_delays_frames_but_not_heart_rate(
    make_world: Callable[..., Any], vclock: VirtualClock
) -> None:
    world = make_world()
    h10 = EmulatedH10(world, ecg_start_latency_s=3.0)
    async with asyncio.timeout(TEST_S), world:
        strap = world.strap(clock=vclock, sleep=vclock.sleep)
        async with strap:
            rig = Rig(h10, vclock, Collector(strap))
            await rig.col.wait_link(LinkState.STREAMING)
            await rig.step(3)
            assert rig.col.of(EcgFrame) == [] and len(rig.col.of(HeartRate)) == 3
            await rig.step(2)
        await rig.col.finish()
    assert len(rig.col.of(EcgFrame)) >= 2
    assert rig.col.links(LinkState.RECONNECTING) == []  # waiting for ECG is not a failure


async def test_queue_overflow_drops_counts_and_marks_a_gap(
    make_world: Callable[..., Any], vclock: VirtualClock
) -> None:
    world = make_world()
    h10 = EmulatedH10(world)
    async with asyncio.timeout(TEST_S), world:
        strap = world.strap(clock=vclock, sleep=vclock.sleep, ecg=False, queue_size=4)
        async with strap:
            for _ in range(10):  # nobody consumes yet
                await vclock.advance(1.0)
                await h10.emit_second()
            # Let the radio deliver all ten: yield to the loop, no wall-clock wait.
            while strap.stats.n_notifications < 10:  # noqa: ASYNC110 - nothing to await on
                await asyncio.sleep(0)
            await vclock.advance(1.0)
            await h10.emit_second()
            col = Collector(strap)
            await col.until(lambda: len(col.raw(hrs.HEART_RATE_MEASUREMENT_UUID)) >= 5, "5 packets")
        await col.finish()
    assert strap.stats.n_dropped == 6
    kinds = [type(e) for e in col.events if isinstance(e, RawNotification | Gap)]
    assert kinds == [RawNotification] * 4 + [Gap] + [RawNotification]
    gap = col.of(Gap)[0]
    assert "6 notification(s) dropped" in gap.reason
    assert 5.0 <= gap.seconds <= 6.0  # from the first dropped packet to the next kept one


async def test_twenty_forced_disconnects_lose_no_beat_outside_the_gaps(
    make_world: Callable[..., Any], vclock: VirtualClock
) -> None:
    world = make_world()
    h10 = EmulatedH10(world, config=SimConfig(seed=11, hr_bpm=78, acc_enabled=False))
    n_drops = 20
    async with asyncio.timeout(45.0), world:
        strap = world.strap(clock=vclock, sleep=vclock.sleep)
        async with strap:
            rig = Rig(h10, vclock, Collector(strap))
            await rig.col.wait_link(LinkState.STREAMING)
            await rig.step(2)
            for i in range(n_drops):
                await h10.disconnect()
                await rig.col.wait_link(LinkState.RECONNECTING, i + 1)
                await h10.emit_second()  # beats of this second are lost: the link is down
                await vclock.advance(1.0)  # back-off
                await rig.col.wait_link(LinkState.STREAMING, i + 2)
                await rig.step(2)
        await rig.col.finish()
    col = rig.col
    # What the strap sent on each connection ...
    sent: dict[int, list[float]] = {}
    for n in h10.hr_log:
        if n.delivered:
            sent.setdefault(n.connection_index, []).extend(n.rr_ms)
    # ... must be exactly what arrived between consecutive gap markers.
    segments: list[list[float]] = [[]]
    for e in col.events:
        if isinstance(e, Gap):
            segments.append([])
        elif isinstance(e, RRIntervals):
            segments[-1].extend(e.rr_ms)
    assert len(col.of(Gap)) == n_drops  # every gap is marked
    assert segments == [sent[i] for i in sorted(sent)]  # no beat lost, none duplicated
    assert h10.connection_count == n_drops + 1
    lost = [rr for n in h10.hr_log if not n.delivered for rr in n.rr_ms]
    assert lost  # beats really fell into the gaps
    assert all(g.seconds >= 1.0 for g in col.of(Gap))
    assert strap.stats.n_reconnects == n_drops
    assert sum(1 for w in h10.cp_log if w.payload == ECG_START) == n_drops + 1


# --- the CLI's emulated source, in real time ------------------------------------------------


async def test_emulated_source_runs_in_real_time_with_faults() -> None:
    source = emulated_source("h10", faults="disconnect-every=4s", seed=2, speed=5.0)
    async with asyncio.timeout(TEST_S):
        async with source:
            col = Collector(source)
            await col.until(
                lambda: (
                    len(col.links(LinkState.STREAMING)) >= 2
                    and len(col.of(HeartRate)) >= 3
                    and len(col.of(EcgFrame)) >= 4
                ),
                "a reconnection, heart rate and ECG",
                timeout_s=10.0,
            )
        await col.finish()
    assert col.error is None
    assert len(col.of(Gap)) >= 1
    assert isinstance(source, BleStrap)
    fake = source.fake  # type: ignore[attr-defined]
    assert fake.connection_count >= 2 and not fake.is_connected  # reconnected; closed on exit


async def test_emulated_source_rejects_bad_arguments() -> None:
    from pet_biofeedback.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown emulated strap"):
        emulated_source("watch")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="needs an H10"):
        emulated_source("strap", faults="sensor-stop-every=10s")
    with pytest.raises(ConfigError, match="speed"):
        emulated_source("h10", speed=float("inf"))
