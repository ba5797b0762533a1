"""PMD over a BLE connection: the control-point conversation of `ble.BleStrap` (ble-protocol.md §4).

`PmdControl` starts the wanted streams (GET settings, START; ECG first, then ACC), sends one
CP command at a time and waits for its ``F0`` answer (§4.4–§4.5), pairs and retries once when
the control point wants encryption (§4.14), and restarts a stream the sensor stopped by itself
once per connection. The bytes are built and parsed by the pure `pmd` package; this module
adds the Bluetooth side (bleak) and the session's signals.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final

from bleak import BleakClient
from bleak.exc import (
    BleakError,
    BleakGATTProtocolError,
)

from pet_biofeedback.errors import (
    DecodeError,
    DeviceError,
    PairingRequiredError,
    PmdCommandError,
)
from pet_biofeedback.events import (
    Link,
    LinkState,
    RawNotification,
)
from pet_biofeedback.firmware_bridge import pmd
from pet_biofeedback.firmware_bridge.ble_errors import PAIRING_ATT_ERRORS
from pet_biofeedback.firmware_bridge.ble_messages import (
    _CpMessage,
    _InboxItem,
    _LinkLost,
    _loss_reason,
    _Session,
    _StreamFactor,
    _StreamStarted,
)
from pet_biofeedback.firmware_bridge.ble_settings import BleTimeouts

__all__ = ["CP_READ_KEY", "CP_WRITE_KEY", "PmdControl"]

logger = logging.getLogger(__name__)

#: `RawNotification.characteristic` for a CP write / CP read we made (§4.6). The events carry no
#: direction, and a write ``01 00`` (GET ECG settings) would read as an unsolicited "stopped" if it
#: were recorded under the bare CP UUID.
CP_WRITE_KEY: Final = f"{pmd.PMD_CONTROL_POINT_UUID}/write"
CP_READ_KEY: Final = f"{pmd.PMD_CONTROL_POINT_UUID}/read"

# What we ask an H10 for (§4.3): ECG 130 Hz / 14 bit; ACC 200 Hz / 16 bit / ±8 g.
_WANTED_SETTINGS: Final[Mapping[pmd.MeasurementType, Mapping[pmd.SettingType, int]]] = (
    MappingProxyType(
        {
            pmd.MeasurementType.ECG: MappingProxyType(
                {pmd.SettingType.SAMPLE_RATE: 130, pmd.SettingType.RESOLUTION: 14}
            ),
            pmd.MeasurementType.ACC: MappingProxyType(
                {
                    pmd.SettingType.SAMPLE_RATE: 200,
                    pmd.SettingType.RESOLUTION: 16,
                    pmd.SettingType.RANGE: 8,
                }
            ),
        }
    )
)
_STREAM_NAMES: Final[Mapping[pmd.MeasurementType, str]] = MappingProxyType(
    {pmd.MeasurementType.ECG: "ECG", pmd.MeasurementType.ACC: "motion"}
)
# ATT errors that mean "encrypt/pair first" (§4.14): 0x05 insufficient authentication, 0x08


class PmdControl:
    """The PMD control point of one `ble.BleStrap`: starting, restarting and stopping streams.

    Parameters
    ----------
    wanted : tuple of pmd.MeasurementType
        The streams to start, in order (ECG first, then ACC, §4.1).
    require_pmd : bool
        Re-raise a stream that cannot be started instead of noting it and going on.
    timeouts : BleTimeouts
        GATT, CP-answer and pairing timeouts.
    put : callable (inbox item) -> None
        Queues events and stream markers for the strap's iterator (never dropped).
    now : callable () -> float
        Seconds since the strap was opened (the ``t`` of the events put).
    counts : dict of str to int
        The strap's counters (`ble_settings.BleStats` fields), updated in place.
    """

    def __init__(
        self,
        *,
        wanted: tuple[pmd.MeasurementType, ...],
        require_pmd: bool,
        timeouts: BleTimeouts,
        put: Callable[[_InboxItem], None],
        now: Callable[[], float],
        counts: dict[str, int],
    ) -> None:
        self._wanted = wanted
        self._require_pmd = require_pmd
        self._timeouts = timeouts
        self._put = put
        self._now = now
        self._counts = counts

    async def start_wanted(
        self, session: _Session, features: frozenset[pmd.MeasurementType]
    ) -> str:
        """Start the wanted streams the strap offers (§4.1); return the detail for people."""
        running: list[str] = []
        notes: list[str] = []
        for measurement in self._wanted:
            name = _STREAM_NAMES[measurement]
            if measurement not in features:
                notes.append(f"This strap does not offer {name}.")
                continue
            try:
                fs_hz = await self.start_stream(session, measurement, get_settings=True)
            except PmdCommandError as exc:
                if self._require_pmd:
                    raise
                if exc.status == pmd.ResponseStatus.INVALID_MTU:
                    notes.append(
                        f"{name} is not available: this computer's Bluetooth link carries too "
                        f"little data per packet (MTU below {pmd.H10_MIN_ATT_MTU}). Heart rate "
                        "continues."
                    )
                    break  # every PMD stream needs the same large packets
                notes.append(f"{name} is not available: {exc.user_message}")
                continue
            except PairingRequiredError as exc:
                if self._require_pmd:
                    raise
                notes.append(f"{exc.user_message}")
                break
            except TimeoutError as exc:
                if self._require_pmd:
                    raise PmdCommandError(
                        f"no answer to the {name} request",
                        status=-1,
                        user_message=f"The strap did not answer the request for {name}.",
                    ) from exc
                notes.append(f"{name} is not available: the strap did not answer the request.")
                continue
            running.append(f"{name} ({fs_hz:g} Hz)")
        detail = "Receiving heart rate" + "".join(f", {r}" for r in running) + "."
        return " ".join([detail, *notes])

    async def start_stream(
        self, session: _Session, measurement: pmd.MeasurementType, *, get_settings: bool
    ) -> float:
        """GET settings (optionally) and START one stream; return its sample rate in Hz."""
        chosen = session.stream_settings.get(measurement)
        if get_settings or chosen is None:
            response = await self.cp_request(session, pmd.get_settings_command(measurement))
            response.raise_for_status()
            options = response.settings or pmd.MeasurementSettings()
            chosen = _choose_settings(measurement, options)
            session.stream_settings[measurement] = chosen
        fs_hz = float(chosen[pmd.SettingType.SAMPLE_RATE])
        # Before the START: its first frames may arrive before we see the answer.
        self._put(_StreamStarted(measurement, fs_hz, chosen.get(pmd.SettingType.RESOLUTION), None))
        if measurement not in session.started:
            session.started.append(measurement)  # STOP it on clean-up even if the answer is lost
        try:
            response = await self.cp_request(session, pmd.start_command(measurement, chosen))
            response.raise_for_status()
        except PmdCommandError:
            session.started.remove(measurement)
            raise
        factor = response.settings.factor if response.settings is not None else None
        if factor is not None:  # Verity-style START answer (§4.4): scale later frames
            self._put(_StreamFactor(measurement, factor))
        logger.info("PMD %s stream started at %g Hz", measurement.name, fs_hz)
        return fs_hz

    async def _cp_write(self, session: _Session, command: bytes, *, allow_pairing: bool) -> None:
        """Write a CP command (with response); pair and retry once if encryption is needed."""
        client = session.client
        assert client is not None
        self._put(RawNotification(self._now(), CP_WRITE_KEY, command))
        try:
            async with asyncio.timeout(self._timeouts.gatt_s):
                await client.write_gatt_char(pmd.PMD_CONTROL_POINT_UUID, command, response=True)
            return
        except BleakGATTProtocolError as exc:
            if int(exc.code) not in PAIRING_ATT_ERRORS or not allow_pairing:
                raise
            if session.pair_attempted:
                raise PairingRequiredError(
                    f"PMD control point still refuses writes after pairing: {exc}"
                ) from exc
            first_refusal = exc
        session.pair_attempted = True
        logger.info("the strap wants pairing before PMD commands (%s); pairing", first_refusal)
        self._put(Link(self._now(), LinkState.CONNECTED, "The strap asks to be paired; pairing…"))
        try:
            async with asyncio.timeout(self._timeouts.pair_s):
                await client.pair()
        except NotImplementedError:
            # macOS pairs on the first encrypted access, with a system prompt (§7): just retry.
            logger.info("pairing is done by the system here; retrying the command")
        except (BleakError, TimeoutError) as exc:
            raise PairingRequiredError(f"pairing failed: {exc}") from exc
        self._put(RawNotification(self._now(), CP_WRITE_KEY, command))
        try:
            async with asyncio.timeout(self._timeouts.pair_s):
                await client.write_gatt_char(pmd.PMD_CONTROL_POINT_UUID, command, response=True)
        except BleakGATTProtocolError as exc:
            if int(exc.code) in PAIRING_ATT_ERRORS:
                raise PairingRequiredError(
                    f"PMD control point refuses writes after pairing: {exc}"
                ) from exc
            raise

    async def cp_request(
        self,
        session: _Session,
        command: bytes,
        *,
        allow_pairing: bool = True,
        response_timeout_s: float | None = None,
    ) -> pmd.ControlPointResponse:
        """One CP command and its ``F0`` answer (one at a time, correlated by op and type)."""
        op, measurement = command[0], command[1] & pmd.MEASUREMENT_TYPE_MASK
        async with session.cp_lock:
            await self._cp_write(session, command, allow_pairing=allow_pairing)
            parts: list[pmd.ControlPointResponse] = []
            timeout_s = response_timeout_s or self._timeouts.cp_response_s
            for pending in session.deferred:
                if not isinstance(pending, _CpMessage):
                    raise _LinkLost(_loss_reason(pending))
            async with asyncio.timeout(timeout_s):
                while True:
                    # Only new signals: deferred ones are for `_watch`, after this request.
                    signal = await session.signals.get()
                    if not isinstance(signal, _CpMessage):
                        session.deferred.append(signal)
                        raise _LinkLost(_loss_reason(signal))
                    message = self.parse_cp(signal.payload)
                    if (
                        isinstance(message, pmd.ControlPointResponse)
                        and int(message.op_code) == op
                        and int(message.measurement_type) == measurement
                    ):
                        parts.append(message)
                        if not message.more:
                            try:
                                return pmd.join_control_point_responses(parts)
                            except DecodeError as exc:
                                raise PmdCommandError(
                                    f"malformed answer to PMD command {command.hex(' ')}: {exc}",
                                    status=-1,
                                    user_message="The strap sent an answer this program "
                                    "does not understand.",
                                ) from exc
                    elif isinstance(message, pmd.MeasurementStopped):
                        session.deferred.append(signal)  # handled once the request is done

    def parse_cp(self, payload: bytes) -> pmd.ControlPointMessage | None:
        """Parse a CP message; unknown ones are logged and counted, not raised (§4.5)."""
        try:
            return pmd.parse_control_point_message(payload)
        except DecodeError as exc:
            self._counts["n_unknown_cp_messages"] += 1
            logger.warning("unknown message on the PMD control point ignored: %s", exc)
            return None

    async def stop_started(self, session: _Session, client: BleakClient, timeout_s: float) -> None:
        """STOP every stream started on this connection, newest first; log, never raise (§4.14).

        A stream leaves ``session.started`` only once its STOP was tried, so that a clean-up
        cancelled half-way is completed by the next one.
        """
        while session.started:
            measurement = session.started[-1]
            if not client.is_connected:
                break
            try:
                async with asyncio.timeout(timeout_s):
                    response = await self.cp_request(
                        session,
                        pmd.stop_command(measurement),
                        allow_pairing=False,
                        response_timeout_s=timeout_s,
                    )
                if not response.ok:
                    logger.warning(
                        "STOP %s answered %s", measurement.name, response.status_description
                    )
            except (BleakError, OSError, TimeoutError, DeviceError, _LinkLost) as exc:
                logger.warning("could not STOP the %s stream: %s", measurement.name, exc)
            if measurement in session.started:  # the sensor may have dropped it meanwhile
                session.started.remove(measurement)
        session.started.clear()

    async def on_sensor_stopped(self, session: _Session, stopped: pmd.MeasurementStopped) -> None:
        """The sensor stopped streams by itself (§4.5): restart once per connection, or report."""
        for value in stopped.measurement_types:
            if value not in session.started:
                continue
            measurement = pmd.MeasurementType(value)
            name = _STREAM_NAMES.get(measurement, measurement.name)
            if measurement in session.restarted:
                session.started.remove(measurement)
                self._put(
                    Link(
                        self._now(),
                        LinkState.STREAMING,
                        f"The strap stopped {name} again by itself; continuing with heart rate "
                        "only until the next connection.",
                    )
                )
                logger.warning(
                    "PMD %s stopped by the sensor again; not restarted", measurement.name
                )
                continue
            session.restarted.add(measurement)
            logger.warning("PMD %s stopped by the sensor; restarting it", measurement.name)
            try:
                fs_hz = await self.start_stream(session, measurement, get_settings=False)
            except (PmdCommandError, PairingRequiredError, TimeoutError) as exc:
                session.started[:] = [m for m in session.started if m != measurement]
                self._put(
                    Link(
                        self._now(),
                        LinkState.STREAMING,
                        f"The strap stopped {name} by itself and it could not be restarted; "
                        "heart rate continues.",
                    )
                )
                logger.warning("restarting PMD %s failed: %s", measurement.name, exc)
                continue
            self._counts["n_stream_restarts"] += 1
            self._put(
                Link(
                    self._now(),
                    LinkState.STREAMING,
                    f"The strap stopped {name} by itself; restarted it ({fs_hz:g} Hz).",
                )
            )


def _choose_settings(
    measurement: pmd.MeasurementType, options: pmd.MeasurementSettings
) -> dict[pmd.SettingType, int]:
    """One value per offered setting: ours when offered, else the highest offered (§4.3)."""
    chosen: dict[pmd.SettingType, int] = {}
    wanted = _WANTED_SETTINGS.get(measurement, {})
    for setting, values in options.values.items():
        if setting not in (
            pmd.SettingType.SAMPLE_RATE,
            pmd.SettingType.RESOLUTION,
            pmd.SettingType.RANGE,
            pmd.SettingType.CHANNELS,
        ):
            continue
        if not values:
            continue
        preferred = wanted.get(setting)
        chosen[setting] = (
            preferred if preferred is not None and preferred in values else max(values)
        )
    for setting, value in wanted.items():
        chosen.setdefault(setting, value)  # a sensor that offers nothing gets our defaults
    return chosen
