"""Heart-rate straps over Bluetooth Low Energy: the strap as an event source (`BleStrap`).

`BleStrap` is an event source (style.md §2.8, `pet_biofeedback.events.EventSource`): ``async with
strap:`` scans for the strap, connects, reads battery and device information, subscribes to heart
rate and — on a Polar H10, when asked — starts the PMD ECG (and ACC) streams; ``async for event in
strap:`` yields `RawNotification`, `HeartRate`, `RRIntervals`, `Contact`, `Battery`, `EcgFrame`,
`AccFrame`, `Link` and `Gap` events in arrival order. A supervisor watches the link (bleak's
disconnected callback **and** a data watchdog), reconnects with exponential back-off, re-subscribes
and re-STARTs the streams, and reports every state change as a `Link` event. Leaving the ``async
with`` block — normally, by ``break``, by cancellation or by an error — STOPs every started PMD
stream, unsubscribes and disconnects, each step under a timeout (ble-protocol.md §4.14, §6).

The BLE side in six modules, each one idea: this one (the connection, its supervisor and the
iterator); `ble_scan` (which advertisements are straps; ``pet-biofeedback scan``);
`ble_pmd` (the PMD control-point conversation); `ble_decode` (notification bytes → events);
`ble_messages` (the inbox items and signals passed between them); `ble_settings` (timeouts,
reconnect policy, results); and `ble_errors` (what bleak raises, in our words — it imports no
bleak). Only `ble`, `ble_scan`, `ble_pmd`, `ble_messages` and the test backend
`_bumble_backend` import bleak (pyproject.toml, import-linter).

Rules this module keeps (ble-protocol.md):

* Notification callbacks only stamp the host time and queue the raw bytes; decoding happens on the
  iterator side (style.md §2.8). The raw bytes are also yielded as `RawNotification` so that a
  recording can be re-decoded. The queue is bounded for data (``queue_size``); on overflow
  notifications are dropped, counted and marked by a `Gap`.
* PMD order of operations (§4.1): subscribe to heart rate; enable CP indications and data
  notifications **before** any CP write; read the features; GET settings; START (ECG first, then
  ACC); one CP command at a time, each answered by an ``F0`` indication (§4.4–§4.5).
* A CP write refused for lack of encryption (ATT 0x05/0x0F) → pair → retry once (§4.14). START
  status 10 (INVALID_MTU) → ECG unavailable, heart rate continues. The sensor stopping a stream by
  itself (``01 …``) → restart it once per connection, then report. bleak cannot request an ATT MTU
  (the operating system negotiates it, §4.1, §5.2), so the MTU shows only in the START status.
* Everything bleak raises is translated into `pet_biofeedback.errors`
  (`ble_errors.translate_error`); nothing from bleak leaves the BLE modules.

Times: every event's ``t`` is seconds since the strap was opened, on the injected monotonic
``clock``. `RRIntervals.t` is the reconstructed time of the **last** beat of the packet
(`RrBeatClock`, §2.4), never later than the packet's arrival; `EcgFrame`/`AccFrame` times come
from `pmd.PmdClock` (§4.8).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Final, Self

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import (
    BleakError,
)

from pet_biofeedback.errors import (
    ConfigError,
    ConnectionLostError,
    DecodeError,
    DeviceError,
    DeviceNotFoundError,
    PairingRequiredError,
    PmdCommandError,
)
from pet_biofeedback.events import (
    Battery,
    Event,
    Gap,
    Link,
    LinkState,
    RawNotification,
)
from pet_biofeedback.firmware_bridge import hrs, pmd
from pet_biofeedback.firmware_bridge.beat_clock import RrBeatClock
from pet_biofeedback.firmware_bridge.ble_decode import NotificationDecoder, StreamState
from pet_biofeedback.firmware_bridge.ble_device_info import read_battery_pct, read_device_info
from pet_biofeedback.firmware_bridge.ble_errors import translate_error
from pet_biofeedback.firmware_bridge.ble_messages import (
    _CpMessage,
    _Disconnected,
    _Dropped,
    _End,
    _Failure,
    _give_up_error,
    _InboxItem,
    _LinkLost,
    _loss_reason,
    _Raw,
    _Session,
    _Signal,
    _Stalled,
    _StreamFactor,
    _StreamStarted,
)
from pet_biofeedback.firmware_bridge.ble_pmd import CP_READ_KEY, PmdControl
from pet_biofeedback.firmware_bridge.ble_scan import find_advertisement, matches_target
from pet_biofeedback.firmware_bridge.ble_settings import (
    BleStats,
    BleTimeouts,
    Clock,
    DeviceInfo,
    ReconnectPolicy,
    Sleep,
)

__all__ = ["BleStrap"]

logger = logging.getLogger(__name__)

_DEFAULT_QUEUE_SIZE: Final = 2048  # ≈ 4 min of H10 HR + ECG + ACC notifications (~9/s)
_CANCEL_AGAIN_S: Final = 0.1  # closing: how long a cancelled supervisor has to end before
# it is cancelled again (see `_cancel_and_wait`)


async def _cancel_and_wait(task: asyncio.Task[None]) -> None:
    """Cancel `task` and wait until it has ended, cancelling it again while it runs on.

    One `cancel` is not enough: a library on the task's path may lose the cancellation.
    Python 3.11's `asyncio.wait_for`, which Bumble's GATT client (the emulated straps) uses
    for every request, returns the inner result and drops the cancellation when both arrive
    in the same loop iteration. The supervisor then keeps the link up forever and closing
    the strap waits for it forever: the session never ends (the soak test's "still running
    after 120 s", whose window showed the last link state before the end).
    """
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=_CANCEL_AGAIN_S)


# --- The source ---------------------------------------------------------------------------------


class BleStrap:
    """A heart-rate strap over Bluetooth LE as an event source (style.md §2.8).

    Parameters
    ----------
    identifier : str, optional
        Which strap: a Bluetooth address (case-insensitive; a UUID on macOS) or (part of) its
        advertised name, e.g. ``"1A2B3C4D"`` or ``"Polar H10 1A2B3C4D"``. Default None: the
        first strap found (`is_strap_advertisement`). After the first connection the strap is
        remembered by address and name for reconnections (§7).
    ecg : bool, default True
        Start the PMD ECG stream (130 Hz, 14 bit) when the strap offers it (Polar H10).
    acc : bool, default False
        Start the PMD accelerometer (200 Hz, 16 bit, ±8 g) when offered; optional because
        ECG + ACC together dropped some links (§4.14).
    require_pmd : bool, default False
        Treat a PMD stream that cannot be started (MTU too small, pairing refused, …) as a
        failure instead of continuing with heart rate only.
    scanner_cls, client_cls : type, optional
        bleak backend classes handed to ``BleakScanner(backend=…)`` / ``BleakClient(backend=…)``.
        Default None: the platform's. The emulated straps pass their Bumble backend.
    clock : callable () -> float, default time.monotonic
        Monotonic clock, s. Event times are ``clock() − clock()`` at opening.
    sleep : callable (float) -> awaitable, default asyncio.sleep
        How to wait for back-off and the watchdog (tests inject a virtual clock's).
    timeouts : BleTimeouts, optional
        Per-operation timeouts.
    reconnect : ReconnectPolicy, optional
        Watchdog, back-off and giving up.
    queue_size : int, default 2048
        Data notifications buffered for the consumer before they are dropped (and a `Gap`
        marks the loss).

    Raises
    ------
    ConfigError
        ``queue_size`` is not a positive integer.

    Notes
    -----
    ``async with strap:`` raises what the first connection hits: `BluetoothUnavailableError`,
    `DeviceNotFoundError`, `ConnectionLostError` (timed out), `DeviceError`, or — with
    ``require_pmd`` — `PmdCommandError` / `PairingRequiredError`. Later trouble becomes `Link`
    events while the supervisor reconnects; when it gives up (``give_up_after_s``) the iterator
    yields `Link` failed and then raises the matching `DeviceError`. Single use: a strap can be
    opened once.
    """

    def __init__(
        self,
        identifier: str | None = None,
        *,
        ecg: bool = True,
        acc: bool = False,
        require_pmd: bool = False,
        scanner_cls: type[BaseBleakScanner] | None = None,
        client_cls: type[BaseBleakClient] | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        timeouts: BleTimeouts | None = None,
        reconnect: ReconnectPolicy | None = None,
        queue_size: int = _DEFAULT_QUEUE_SIZE,
    ) -> None:
        if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
            raise ConfigError(
                f"BleStrap: queue_size must be a positive integer, got {queue_size!r}"
            )
        self._identifier = identifier
        self._wanted: tuple[pmd.MeasurementType, ...] = tuple(
            m for m, on in ((pmd.MeasurementType.ECG, ecg), (pmd.MeasurementType.ACC, acc)) if on
        )
        self._require_pmd = require_pmd
        self._scanner_cls = scanner_cls
        self._client_cls = client_cls
        self._clock = clock
        self._sleep = sleep
        self._timeouts = timeouts if timeouts is not None else BleTimeouts()
        self._policy = reconnect if reconnect is not None else ReconnectPolicy()
        self._queue_size = queue_size

        self._state = "new"
        self._t0 = 0.0
        self._inbox: asyncio.Queue[_InboxItem] = asyncio.Queue()
        self._n_data_queued = 0
        self._n_dropped_pending = 0
        self._first_drop_t_abs = 0.0
        self._ready: deque[Event] = deque()
        self._supervisor: asyncio.Task[None] | None = None
        self._session: _Session | None = None
        self._generation = 0
        self._target_address: str | None = None
        self._target_name: str | None = None
        self._last_data_t_abs = 0.0
        self._device_info: DeviceInfo | None = None
        self._streams: dict[pmd.MeasurementType, StreamState] = {}
        self._beat_clock = RrBeatClock()
        self._counts: dict[str, int] = dict.fromkeys(BleStats.__dataclass_fields__, 0)
        self._decoder = NotificationDecoder(
            self._ready, self._counts, self._beat_clock, self._streams
        )
        self._pmd = PmdControl(
            wanted=self._wanted,
            require_pmd=require_pmd,
            timeouts=self._timeouts,
            put=self._put,
            now=self._now,
            counts=self._counts,
        )

    # -- public properties --

    @property
    def device_info(self) -> DeviceInfo | None:
        """What the strap told about itself; None before the first connection."""
        return self._device_info

    @property
    def stats(self) -> BleStats:
        """A snapshot of the counters."""
        counts = dict(self._counts)
        counts["n_rr_reanchors"] = self._beat_clock.n_reanchors
        counts["n_rr_gaps"] = self._beat_clock.n_gaps
        return BleStats(**counts)

    # -- EventSource --

    async def __aenter__(self) -> Self:
        if self._state != "new":
            raise RuntimeError("a BleStrap can be opened only once")
        self._state = "opening"
        self._t0 = self._clock()
        try:
            session = await self._establish(reconnecting=False)
        except BaseException:
            try:
                await self._teardown(self._session)
            finally:
                self._session = None
                self._state = "closed"
                self._inbox.put_nowait(_End())
            raise
        self._state = "open"
        self._supervisor = asyncio.create_task(
            self._supervise(session), name="pet-biofeedback BLE supervisor"
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._state == "closed":
            return
        self._state = "closed"
        try:
            supervisor = self._supervisor
            if supervisor is not None:
                await _cancel_and_wait(supervisor)
        finally:
            await self._teardown(self._session)
            self._session = None
            self._put(Link(self._now(), LinkState.DISCONNECTED, "Disconnected from the strap."))
            self._inbox.put_nowait(_End())
            stats = self.stats
            if stats.n_hr_skipped or stats.n_dropped or stats.n_pmd_skipped:
                logger.warning(
                    "strap closed: %d malformed heart-rate packet(s) skipped, %d notification(s) "
                    "dropped, %d PMD frame(s) skipped",
                    stats.n_hr_skipped,
                    stats.n_dropped,
                    stats.n_pmd_skipped,
                )
            logger.info("strap closed (%d reconnection(s))", stats.n_reconnects)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        if self._state == "new":
            raise RuntimeError("open the strap with 'async with' before iterating over it")
        while not self._ready:
            if self._state in ("failed", "ended"):
                raise StopAsyncIteration
            item = await self._inbox.get()
            self._handle(item)
        return self._ready.popleft()

    # -- helpers shared by both sides --

    def _now(self) -> float:
        """Seconds since opening."""
        return self._clock() - self._t0

    def _rel(self, t_abs: float) -> float:
        """Absolute clock time → seconds since opening."""
        return t_abs - self._t0

    def _put(self, item: _InboxItem) -> None:
        """Queue a control item or event (never dropped)."""
        self._inbox.put_nowait(item)

    def _offer(self, t_abs: float, characteristic: str, payload: bytes) -> None:
        """Queue a data notification, or drop and count it when the consumer is behind."""
        self._counts["n_notifications"] += 1
        if self._n_data_queued >= self._queue_size:
            if self._n_dropped_pending == 0:
                self._first_drop_t_abs = t_abs
            self._n_dropped_pending += 1
            self._counts["n_dropped"] += 1
            return
        if self._n_dropped_pending:
            self._inbox.put_nowait(_Dropped(self._n_dropped_pending, self._first_drop_t_abs, t_abs))
            self._n_dropped_pending = 0
        self._n_data_queued += 1
        self._inbox.put_nowait(_Raw(t_abs, characteristic, payload, counted=True))

    # -- callbacks (run on the loop that owns the client: stamp, queue, nothing else) --

    def _on_heart_rate(
        self, session: _Session, _sender: BleakGATTCharacteristic, data: bytearray
    ) -> None:
        """HRM notification: stamp, feed the watchdog, queue the bytes."""
        t_abs = self._clock()
        session.last_hr_t_abs = t_abs
        self._last_data_t_abs = t_abs
        self._offer(t_abs, hrs.HEART_RATE_MEASUREMENT_UUID, bytes(data))

    def _on_data(
        self, characteristic: str, _sender: BleakGATTCharacteristic, data: bytearray
    ) -> None:
        """PMD data / battery notification: stamp and queue the bytes."""
        self._offer(self._clock(), characteristic, bytes(data))

    def _on_control_point(
        self, session: _Session, _sender: BleakGATTCharacteristic, data: bytearray
    ) -> None:
        """CP indication: record it (never dropped) and signal the supervisor."""
        payload = bytes(data)
        self._counts["n_notifications"] += 1
        self._put(_Raw(self._clock(), pmd.PMD_CONTROL_POINT_UUID, payload, counted=False))
        session.signals.put_nowait(_CpMessage(payload))

    def _on_disconnected(self, session: _Session, _client: BleakClient) -> None:
        """bleak's disconnected callback: signal the supervisor unless we hung up."""
        if not session.closing:
            session.signals.put_nowait(_Disconnected())

    # -- iterator side: decoding --

    def _handle(self, item: _InboxItem) -> None:
        """Turn one inbox item into events on ``self._ready`` (or end / raise)."""
        match item:
            case _Raw():
                if item.counted:
                    self._n_data_queued -= 1
                self._decoder.handle(self._rel(item.t_abs), item.characteristic, item.payload)
            case _Dropped():
                self._beat_clock.reset()
                self._ready.append(
                    Gap(
                        self._rel(item.resume_t_abs),
                        item.resume_t_abs - item.first_t_abs,
                        f"{item.n} notification(s) dropped: the program could not keep up",
                    )
                )
                logger.warning("%d notification(s) dropped (consumer too slow)", item.n)
            case _StreamStarted():
                self._streams[item.measurement] = StreamState(
                    item.fs_hz, item.resolution_bits, item.factor, pmd.PmdClock(item.fs_hz)
                )
            case _StreamFactor():
                stream = self._streams.get(item.measurement)
                if stream is not None:
                    stream.factor = item.factor
            case _Failure():
                self._state = "failed"
                raise item.error
            case _End():
                self._state = "ended"
            case Gap():
                self._beat_clock.reset()
                self._ready.append(item)
            case _:
                self._ready.append(item)

    # -- supervisor side --

    def _describe_target(self) -> str:
        """How to name the strap we look for, in plain words."""
        if self._target_name:
            return self._target_name
        if self._identifier:
            return f"the strap '{self._identifier}'"
        return "a heart-rate strap"

    def _matches(self, device: BLEDevice, adv: AdvertisementData) -> bool:
        """Is this advertisement the strap we want?"""
        return matches_target(
            device,
            adv,
            identifier=self._identifier,
            target_address=self._target_address,
            target_name=self._target_name,
        )

    async def _find_device(self) -> tuple[BLEDevice, AdvertisementData]:
        """Scan until the strap advertises (fresh `BLEDevice` every time, §6 rule 3)."""
        found = await find_advertisement(self._scanner_cls, self._matches, self._timeouts.scan_s)
        if found is not None:
            return found
        wanted = self._target_name or self._identifier
        raise DeviceNotFoundError(
            f"no matching strap advertised within {self._timeouts.scan_s:g} s "
            f"(identifier {self._identifier!r})",
            identifier=wanted,
        )

    async def _establish(self, *, reconnecting: bool) -> _Session:
        """Scan, connect, read, subscribe, start PMD streams; return the streaming session."""
        context = "looking for the strap"
        target = self._describe_target()
        self._put(Link(self._now(), LinkState.SCANNING, f"Looking for {target}…"))
        try:
            device, adv = await self._find_device()
            name = adv.local_name or device.name
            logger.debug("strap found: %s (%s), RSSI %s dBm", name, device.address, adv.rssi)
            context = "connecting to the strap"
            self._put(
                Link(self._now(), LinkState.CONNECTING, f"Connecting to {name or 'the strap'}…")
            )
            self._generation += 1
            session = _Session(self._generation)
            self._session = session
            client = BleakClient(
                device,
                disconnected_callback=functools.partial(self._on_disconnected, session),
                timeout=self._timeouts.connect_s,
                backend=self._client_cls,
            )
            session.client = client
            async with asyncio.timeout(self._timeouts.connect_s):
                await client.connect()
            self._target_address, self._target_name = device.address, name
            logger.info("connected to %s", name or "the strap")
            logger.debug("connected to address %s", device.address)
            self._put(
                Link(self._now(), LinkState.CONNECTED, f"Connected to {name or 'the strap'}.")
            )

            context = "reading the battery level and device information"
            await self._read_battery(session)
            if self._device_info is None:
                self._device_info = await read_device_info(
                    client, name, device.address, self._timeouts.gatt_s
                )

            context = "subscribing to heart rate"
            if reconnecting:
                # Before re-subscribing, so that every packet of the new link follows the gap;
                # a failed attempt after this point starts the next gap here (no overlap).
                now_abs = self._clock()
                silent_s = max(now_abs - self._last_data_t_abs, 0.0)
                self._last_data_t_abs = now_abs
                self._put(Gap(self._rel(now_abs), silent_s, "link lost: no data until reconnected"))
            await self._subscribe(
                session,
                hrs.HEART_RATE_MEASUREMENT_UUID,
                functools.partial(self._on_heart_rate, session),
            )
            battery = client.services.get_characteristic(hrs.BATTERY_LEVEL_UUID)
            if battery is not None and "notify" in battery.properties:
                await self._subscribe(
                    session,
                    hrs.BATTERY_LEVEL_UUID,
                    functools.partial(self._on_data, hrs.BATTERY_LEVEL_UUID),
                )

            context = "starting the ECG and motion streams"
            detail = await self._start_pmd(session)
        except _LinkLost as lost:
            raise ConnectionLostError(f"{context}: {lost.reason}") from lost
        except (BleakError, OSError, TimeoutError) as exc:
            raise translate_error(exc, context=context, identifier=self._identifier) from exc
        prefix = "Reconnected. " if reconnecting else ""
        session.last_hr_t_abs = max(session.last_hr_t_abs, self._clock())
        self._last_data_t_abs = max(self._last_data_t_abs, session.last_hr_t_abs)
        self._put(Link(self._now(), LinkState.STREAMING, prefix + detail))
        return session

    async def _subscribe(
        self,
        session: _Session,
        uuid: str,
        callback: Callable[[BleakGATTCharacteristic, bytearray], None],
    ) -> None:
        """start_notify under the GATT timeout; remember it for clean-up."""
        client = session.client
        assert client is not None
        async with asyncio.timeout(self._timeouts.gatt_s):
            await client.start_notify(uuid, callback)
        session.subscribed.append(uuid)

    async def _read_battery(self, session: _Session) -> None:
        """Read the battery level once (optional characteristic)."""
        client = session.client
        assert client is not None
        battery_pct = await read_battery_pct(client, self._timeouts.gatt_s)
        if battery_pct is not None:
            self._put(Battery(self._now(), battery_pct))

    # -- PMD --

    async def _start_pmd(self, session: _Session) -> str:
        """Start the wanted PMD streams (§4.1); return the streaming detail for people."""
        client = session.client
        assert client is not None
        if not self._wanted or client.services.get_service(pmd.PMD_SERVICE_UUID) is None:
            return "Receiving heart rate."
        # Step 3 of §4.1: indications on the CP and notifications on Data before any CP write.
        await self._subscribe(
            session,
            pmd.PMD_CONTROL_POINT_UUID,
            functools.partial(self._on_control_point, session),
        )
        await self._subscribe(
            session, pmd.PMD_DATA_UUID, functools.partial(self._on_data, pmd.PMD_DATA_UUID)
        )
        async with asyncio.timeout(self._timeouts.gatt_s):
            features_raw = bytes(await client.read_gatt_char(pmd.PMD_CONTROL_POINT_UUID))
        self._put(RawNotification(self._now(), CP_READ_KEY, features_raw))
        try:
            features = pmd.parse_features(features_raw)
        except DecodeError as exc:
            logger.warning("PMD feature read not understood (%s); heart rate only", exc)
            features = frozenset()
        if self._device_info is not None and not self._device_info.pmd_measurements:
            names = tuple(m.name for m in sorted(features))
            self._device_info = dataclasses.replace(self._device_info, pmd_measurements=names)
        return await self._pmd.start_wanted(session, features)

    async def _next_signal(self, session: _Session) -> _Signal:
        """The next supervisor signal, deferred ones first."""
        if session.deferred:
            return session.deferred.popleft()
        return await session.signals.get()

    # -- supervision --

    async def _watchdog(self, session: _Session) -> None:
        """Signal a stall when no heart-rate notification came for ``watchdog_s``."""
        limit_s = self._policy.watchdog_s
        while True:
            remaining_s = session.last_hr_t_abs + limit_s - self._clock()
            if remaining_s <= 0:
                session.signals.put_nowait(_Stalled(limit_s))
                return
            await self._sleep(remaining_s)

    async def _watch(self, session: _Session) -> str:
        """Stream until the link is lost; return why, in plain words."""
        watchdog = asyncio.create_task(self._watchdog(session), name="pet-biofeedback BLE watchdog")
        try:
            while True:
                signal = await self._next_signal(session)
                if not isinstance(signal, _CpMessage):
                    return _loss_reason(signal)
                message = self._pmd.parse_cp(signal.payload)
                if isinstance(message, pmd.MeasurementStopped):
                    try:
                        await self._pmd.on_sensor_stopped(session, message)
                    except _LinkLost as lost:
                        return lost.reason
                    except (BleakError, OSError) as exc:
                        return f"The link failed while restarting a stream ({exc})."
                elif isinstance(message, pmd.ControlPointResponse):
                    logger.debug("late PMD response ignored: %s", signal.payload.hex(" "))
        finally:
            watchdog.cancel()
            await asyncio.wait({watchdog})

    async def _supervise(self, session: _Session) -> None:
        """Keep a link: watch it, tear it down when lost, reconnect; report failure."""
        try:
            while True:
                reason = await self._watch(session)
                logger.warning("link lost: %s", reason)
                await self._teardown(session)
                self._put(Link(self._now(), LinkState.DISCONNECTED, reason))
                session = await self._reconnect(reason)
        except DeviceError as exc:
            logger.warning("giving up on the strap: %s", exc)
            self._put(Link(self._now(), LinkState.FAILED, exc.user_message))
            self._put(_Failure(exc))
        except (BleakError, OSError) as exc:  # not expected here: still nothing bleak leaks
            error = translate_error(exc, context="supervising the link")
            error.__cause__ = exc
            self._put(Link(self._now(), LinkState.FAILED, error.user_message))
            self._put(_Failure(error))
        except Exception as exc:  # a bug: hand it to the consumer instead of losing it
            self._put(Link(self._now(), LinkState.FAILED, "Internal error in the Bluetooth code."))
            self._put(_Failure(exc))

    async def _reconnect(self, reason: str) -> _Session:
        """Back off, rescan, reconnect, re-subscribe, re-START (§6 rules 3–8)."""
        lost_abs = self._clock()
        give_up_s = self._policy.give_up_after_s
        attempt = 0
        while True:
            attempt += 1
            delay_s = self._policy.backoff_s(attempt)
            if give_up_s is not None:
                delay_s = min(delay_s, max(lost_abs + give_up_s - self._clock(), 0.0))
            self._put(
                Link(
                    self._now(),
                    LinkState.RECONNECTING,
                    f"{reason} Trying again in {delay_s:g} s (attempt {attempt}).",
                )
            )
            await self._sleep(delay_s)
            try:
                session = await self._establish(reconnecting=True)
            except DeviceError as exc:
                await self._teardown(self._session)
                if self._require_pmd and isinstance(exc, PmdCommandError | PairingRequiredError):
                    raise
                elapsed_s = self._clock() - lost_abs
                if give_up_s is not None and elapsed_s >= give_up_s:
                    raise _give_up_error(exc, elapsed_s) from exc
                reason = exc.user_message
                logger.warning("reconnect attempt %d failed: %s", attempt, exc)
                continue
            self._counts["n_reconnects"] += 1
            return session

    async def _teardown(self, session: _Session | None) -> None:
        """STOP started streams, unsubscribe, disconnect; each under a timeout; log, never raise."""
        if session is None:
            return
        session.closing = True
        client = session.client
        if client is None:
            return
        timeout_s = self._timeouts.stop_s
        # Each entry leaves its list only once its step was tried, so a teardown cancelled
        # half-way (Ctrl-C during a stall) is completed by the next one (__aexit__).
        await self._pmd.stop_started(session, client, timeout_s)
        while session.subscribed:
            uuid = session.subscribed[-1]
            if not client.is_connected:
                break
            try:
                async with asyncio.timeout(timeout_s):
                    await client.stop_notify(uuid)
            except (BleakError, OSError, TimeoutError) as exc:
                logger.warning("could not unsubscribe from %s: %s", uuid, exc)
            if uuid in session.subscribed:
                session.subscribed.remove(uuid)
        session.subscribed.clear()
        if client.is_connected:
            try:
                async with asyncio.timeout(timeout_s):
                    await client.disconnect()
            except (BleakError, OSError, TimeoutError) as exc:
                logger.warning("could not disconnect cleanly: %s", exc)
        session.client = None
