"""Open the event source a ``SRC`` string names (``record --source SRC``, ``replay FILE``).

``SRC`` is one of:

* ``ble`` or ``ble:ADDRESS|NAME`` — a real strap over Bluetooth (`firmware_bridge.ble.BleStrap`;
  without a target, the first strap found);
* ``emulated:h10``, ``emulated:strap`` or ``emulated:optical`` — an emulated Polar H10, generic
  strap or optical sensor on Bumble's virtual link, driven through the real BLE code
  (`firmware_bridge.emulated`, an optional extra), with optional fault injection;
* ``sim`` or ``sim:key=value,…`` — the simulated strap (`firmware_bridge.simulated`; keys as
  `sim_config.parse_sim_spec` lists them, e.g. ``sim:resonance=5.5,seed=3,ectopy=0.01``);
* a file: a recording (``.jsonl``, ``.jsonl.gz``) replayed by `ReplaySource`; an XDF file
  (``.xdf``, ``.xdfz``; with the RR intervals of its ECG's R peaks) or an RR text file (any
  other existing file) turned into events by `importers.xdf_events` /
  `importers.rr_text_events` and replayed from memory. File sources
  play through the `PlausibilityGate` (RR outside 250–2500 ms and impossible frames skipped,
  counted in ``source.gate``); a named pipe or device is refused (reading it would block).

The Bluetooth modules are imported only when a ``ble``/``emulated`` source is asked for, so
the other sources work without bleak or Bumble; when they cannot be imported the error is a
`DeviceError` saying so in plain words, never an ``ImportError``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import importlib
import logging
import math
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Final, Self, TypeAlias

from pet_biofeedback.errors import ConfigError, DeviceError, InputFileError
from pet_biofeedback.events import Event, EventSource
from pet_biofeedback.firmware_bridge.replay import ReplaySource
from pet_biofeedback.firmware_bridge.sim_config import parse_sim_spec
from pet_biofeedback.firmware_bridge.sim_physiology import PacerFn
from pet_biofeedback.firmware_bridge.simulated import SimulatedStrap
from pet_biofeedback.session.importers import check_regular_file, rr_text_events, xdf_events
from pet_biofeedback.session.plausibility import PlausibilityGate

__all__ = [
    "EMULATED_KINDS",
    "MAX_EMULATED_SPEED",
    "SOURCE_FORMS",
    "GatedReplaySource",
    "ImportedFileSource",
    "describe_source",
    "load_ble",
    "load_ble_scan",
    "open_source",
    "recorded_source",
]

logger = logging.getLogger(__name__)

Clock: TypeAlias = Callable[[], float]
Sleep: TypeAlias = Callable[[float], Awaitable[None]]

EMULATED_KINDS: Final = ("h10", "strap", "optical")
# An emulated strap runs the real BLE code, whose watchdog and timeouts run on real time: much
# faster than this and a model second is shorter than they allow, so nothing gets recorded.
MAX_EMULATED_SPEED: Final = 20.0
SOURCE_FORMS: Final = (
    "ble[:ADDRESS|NAME], emulated:h10|strap|optical, sim[:key=value,...] "
    "(e.g. sim:resonance=5.5,seed=3), or the path of a recording (.jsonl, .jsonl.gz), "
    "XDF (.xdf) or RR text file"
)
_COLUMN_ONLY_FOR_RR_TEXT: Final = "--column is for RR text and CSV files, not other sources"
_RECORDING_SUFFIXES: Final = (".jsonl", ".jsonl.gz")
_XDF_SUFFIXES: Final = (".xdf", ".xdfz")
_MAC_ADDRESS: Final = re.compile(r"[0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5}")
_DEVICE_UUID: Final = re.compile(r"[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}")


def _bad_source(spec: str, problem: str) -> ConfigError:
    return ConfigError(f"{problem}; SRC is one of: {SOURCE_FORMS}")


def _check_speed(speed: float) -> float:
    if isinstance(speed, bool) or not isinstance(speed, int | float) or not speed > 0:
        raise ConfigError(f"speed must be a positive number or max (got {speed!r})")
    return float(speed)


def _import_bridge(module: str, user_message: str) -> ModuleType:
    """Import a Bluetooth module lazily; failures become a plain-words `DeviceError`."""
    try:
        return importlib.import_module(f"pet_biofeedback.firmware_bridge.{module}")
    except ImportError as exc:
        raise DeviceError(
            f"cannot import pet_biofeedback.firmware_bridge.{module}: {exc}",
            user_message=user_message,
        ) from exc


def load_ble() -> ModuleType:
    """The BLE module (`firmware_bridge.ble`), imported on first use.

    Raises
    ------
    DeviceError
        It (or bleak) cannot be imported.
    """
    return _import_bridge(
        "ble",
        "Bluetooth support is not available in this installation (the bleak package is "
        "missing or failed to load); reinstall pet-biofeedback.",
    )


def load_ble_scan() -> ModuleType:
    """The strap discovery module (`firmware_bridge.ble_scan`, its `scan`), imported on first use.

    Raises
    ------
    DeviceError
        It (or bleak) cannot be imported.
    """
    return _import_bridge(
        "ble_scan",
        "Bluetooth support is not available in this installation (the bleak package is "
        "missing or failed to load); reinstall pet-biofeedback.",
    )


def _load_emulated() -> ModuleType:
    return _import_bridge(
        "emulated",
        "Emulated straps are not available in this installation; install the optional "
        "extra: pip install 'pet-biofeedback[emulated]'.",
    )


def _file_kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(_RECORDING_SUFFIXES):
        return "recording"
    if name.endswith(_XDF_SUFFIXES):
        return "xdf"
    return "rr_text"


class ImportedFileSource:
    """An XDF or RR text file played as a source: imported on opening, replayed from memory.

    Opening reads the file on a worker thread (`importers.xdf_events` or
    `importers.rr_text_events`), then plays the events like `ReplaySource.from_events`
    (same pacing, `pause`, `resume`, `seek`).

    Parameters
    ----------
    path : Path
        The file.
    importer : callable (Path) -> list of Event
        Turns it into events.
    speed, clock, sleep
        As for `ReplaySource`.
    column : str, optional
        The table column the importer was told to read (``--column``); a recording of this
        source keeps it in its header's device.

    Raises
    ------
    InputFileError
        From ``async with``: the importer's complaint about the file.
    """

    def __init__(
        self,
        path: Path,
        importer: Callable[[Path], list[Event]],
        *,
        speed: float = 1.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        column: str | None = None,
    ) -> None:
        self.path = path
        self.column = column
        self._importer = importer
        self._speed = _check_speed(speed)
        self._clock = clock
        self._sleep = sleep
        self._replay: ReplaySource | None = None
        self._ready: deque[Event] = deque()
        self.gate = PlausibilityGate(str(path))

    @property
    def device_info(self) -> dict[str, object]:
        """What the header of a recording of this source says about its device."""
        info: dict[str, object] = {"kind": "file", "path": self.path.name}  # not its folder:
        if self.column is not None:  # a folder can hold a patient's name
            info["column"] = self.column  # which column of the table the intervals came from
        return info

    def _playing(self) -> ReplaySource:
        if self._replay is None:
            raise RuntimeError("open the source with 'async with' first")
        return self._replay

    def pause(self) -> None:
        """See `ReplaySource.pause`."""
        self._playing().pause()

    def resume(self) -> None:
        """See `ReplaySource.resume`."""
        self._playing().resume()

    def seek(self, t_s: float) -> None:
        """See `ReplaySource.seek`."""
        self._playing().seek(t_s)

    async def __aenter__(self) -> Self:
        if self._replay is not None:
            raise RuntimeError("an ImportedFileSource can be opened only once")
        events = await asyncio.to_thread(self._importer, self.path)
        replay = ReplaySource.from_events(
            events, name=str(self.path), speed=self._speed, clock=self._clock, sleep=self._sleep
        )
        await replay.__aenter__()
        self._replay = replay
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._replay is not None:
            await self._replay.__aexit__(exc_type, exc, tb)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        while not self._ready:
            self._ready.extend(self.gate.filter(await self._playing().__anext__()))
        return self._ready.popleft()


class GatedReplaySource(ReplaySource):
    """A recording replayed through the `PlausibilityGate` (``gate``): what `open_source` plays.

    Parameters
    ----------
    path : Path
    speed : float
        As for `ReplaySource`.
    """

    def __init__(self, path: Path, *, speed: float = 1.0, strict: bool = False) -> None:
        super().__init__(path, speed=speed, strict=strict)
        self._gated: deque[Event] = deque()
        self.gate = PlausibilityGate(str(path))

    async def __anext__(self) -> Event:
        while not self._gated:
            self._gated.extend(self.gate.filter(await super().__anext__()))
        return self._gated.popleft()

    def take_ready(self, into: list[Event], limit: int) -> None:
        """`ReplaySource.take_ready`, through the gate (at most ``limit`` events)."""
        while self._gated and limit > 0:
            into.append(self._gated.popleft())
            limit -= 1
        if limit <= 0:
            return
        played: list[Event] = []
        super().take_ready(played, limit)
        gate = self.gate.filter
        for event in played:
            # A gap the gate adds may make one more than asked: it waits for the next call.
            for kept in gate(event):
                if limit > 0:
                    into.append(kept)
                    limit -= 1
                else:
                    self._gated.append(kept)


class _BuiltOnOpening:
    """A source constructed when it is opened: emulated straps need a running event loop."""

    def __init__(self, factory: Callable[[], EventSource]) -> None:
        self._factory = factory
        self._inner: EventSource | None = None
        self._iterator: AsyncIterator[Event] | None = None

    @property
    def device_info(self) -> object:
        """The built source's ``device_info`` (None before opening or when it has none)."""
        return getattr(self._inner, "device_info", None)

    async def __aenter__(self) -> Self:
        if self._inner is not None:
            raise RuntimeError("this source can be opened only once")
        inner = self._factory()
        self._inner = inner
        await inner.__aenter__()
        self._iterator = aiter(inner)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._inner is not None:
            await self._inner.__aexit__(exc_type, exc, tb)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        if self._iterator is None:
            raise RuntimeError("open the source with 'async with' first")
        return await anext(self._iterator)


def open_source(
    spec: str,
    *,
    speed: float = 1.0,
    faults: str | None = None,
    pacer: PacerFn | None = None,
    strict: bool = False,
    column: str | None = None,
) -> EventSource:
    """The (not yet opened) event source that ``spec`` names.

    Parameters
    ----------
    spec : str
        ``ble[:ADDRESS|NAME]``, ``emulated:h10|strap|optical``, ``sim[:key=value,…]`` or a
        file path (module docstring).
    speed : float, default 1.0
        For ``sim`` and files: 1 = real time, ``math.inf`` = as fast as possible; for
        ``emulated``: a finite factor up to `MAX_EMULATED_SPEED`; a real strap (``ble``) runs
        in real time only.
    faults : str, optional
        Fault injection for emulated straps, e.g. ``"disconnect-every=15s,stall-every=40s"``
        (`firmware_bridge.emulated`); refused for other sources.
    pacer : PacerFn, optional
        What a simulated person breathes after (the session's pacer); other sources ignore it.
    strict : bool, default False
        For recordings: refuse a malformed line instead of skipping it.
    column : str, optional
        For an RR table (CSV): the column holding the intervals, by name or number from 1
        (`rr_text.read_rr_text`); refused for other sources.

    Returns
    -------
    EventSource
        Open it with ``async with``. An emulated strap is built when it is opened (its virtual
        radio needs the running event loop).

    Raises
    ------
    ConfigError
        Nonsense ``spec`` (the message lists the valid forms), a bad ``sim:`` setting or fault
        spec, a speed other than 1 for ``ble`` or above `MAX_EMULATED_SPEED` (or ``max``) for
        ``emulated``, ``faults`` for a source without fault injection, or ``column`` for a
        source that is not an RR text file.
    InputFileError
        A path with a recording or XDF suffix that does not exist.
    DeviceError
        The Bluetooth or emulation modules cannot be imported (plain words, what to install).
    """
    speed = _check_speed(speed)
    text = spec.strip()
    if not text:
        raise _bad_source(spec, "no source given")
    head, sep, rest = text.partition(":")
    kind = head.lower()
    path = Path(text)
    if kind in ("sim", "emulated", "ble") and not path.is_file():
        if column is not None:
            raise ConfigError(_COLUMN_ONLY_FOR_RR_TEXT)
        if faults is not None and kind != "emulated":
            raise ConfigError("--faults works only with emulated straps (emulated:…)")
        if kind == "sim":
            # The kind is case-insensitive ("SIM:seed=1"); parse_sim_spec wants "sim:".
            return SimulatedStrap(parse_sim_spec(f"sim:{rest}"), speed=speed, pacer=pacer)
        if kind == "emulated":
            target = rest.strip().lower()
            if target not in EMULATED_KINDS:
                raise _bad_source(
                    spec,
                    f"unknown emulated strap {rest.strip()!r} (valid: {', '.join(EMULATED_KINDS)})",
                )
            if math.isinf(speed):
                raise ConfigError(
                    "emulated straps stream over a virtual radio in real time or a finite "
                    "number of times faster (e.g. --speed 10), not at --speed max"
                )
            if speed > MAX_EMULATED_SPEED:
                raise ConfigError(
                    f"emulated straps run at most {MAX_EMULATED_SPEED:g} times real time "
                    f"(got --speed {speed:g}): they drive the real Bluetooth code, whose "
                    "watchdog and timeouts run on real time, so faster the recording would "
                    "stay (nearly) empty"
                )
            emulated = _load_emulated()
            from pet_biofeedback.firmware_bridge.emulated_harness import FaultPlan

            plan = FaultPlan.parse(faults) if faults is not None else None
            return _BuiltOnOpening(
                functools.partial(
                    emulated.emulated_source, target, faults=plan, seed=0, speed=speed, acc=True
                )
            )
        if speed != 1.0:
            raise ConfigError("a real strap (ble) streams in real time; --speed is not for it")
        identifier = rest.strip() or None
        if sep and identifier is None:
            raise _bad_source(spec, "ble: needs an address or a name after the colon")
        ble = load_ble()
        # ECG and chest acceleration from an H10 (ACC gives the breathing rate and the
        # breathing-compliance check, hrv-methods.md §8); other straps give heart rate only.
        strap: EventSource = ble.BleStrap(identifier, ecg=True, acc=True)
        return strap
    if faults is not None:
        raise ConfigError("--faults works only with emulated straps (emulated:…)")
    if path.is_dir():
        raise InputFileError(str(path), "is a folder, not a recording")
    check_regular_file(path)  # a named pipe would block reading forever
    file_kind = _file_kind(path)
    if column is not None and file_kind != "rr_text":
        raise ConfigError(_COLUMN_ONLY_FOR_RR_TEXT)
    if file_kind == "recording":
        if not path.exists():
            raise InputFileError(str(path), "no such file")
        return GatedReplaySource(path, speed=speed, strict=strict)
    if not path.exists():
        if file_kind == "xdf":
            raise InputFileError(str(path), "no such file")
        raise _bad_source(spec, f"unknown source {text!r} (no such file either)")
    importer: Callable[[Path], list[Event]] = (
        functools.partial(xdf_events, with_beats=True)  # the beats of its ECG's R peaks
        if file_kind == "xdf"
        else functools.partial(rr_text_events, column=column)
    )
    return ImportedFileSource(path, importer, speed=speed, column=column)


def _is_device_address(text: str) -> bool:
    """A Bluetooth address (``AA:BB:…``) or a macOS device UUID."""
    return bool(_MAC_ADDRESS.fullmatch(text) or _DEVICE_UUID.fullmatch(text))


def recorded_source(spec: str, *, keep_device_id: bool = False) -> str:
    """``SRC`` as a recording's settings keep it: a file by its name, a strap's address hidden.

    Parameters
    ----------
    spec : str
        As for `open_source`.
    keep_device_id : bool, default False
        Keep a Bluetooth address given as ``ble:ADDRESS``.

    Returns
    -------
    str
        ``spec``, with a file path reduced to the file's name (a path can hold a patient's
        name) and ``ble:ADDRESS`` to ``ble`` unless ``keep_device_id``.
    """
    text = spec.strip()
    head, _, rest = text.partition(":")
    kind = head.lower()
    if kind in ("sim", "emulated") and not Path(text).is_file():
        return text
    if kind == "ble" and not Path(text).is_file():
        if _is_device_address(rest.strip()) and not keep_device_id:
            return "ble"
        return text
    return Path(text).name


def describe_source(
    spec: str, *, speed: float = 1.0, keep_device_id: bool = False
) -> dict[str, object]:
    """A JSON-serialisable description of the source ``spec`` names, for a recording header.

    Parameters
    ----------
    spec : str
        As for `open_source` (assumed valid: call `open_source` first).
    speed : float, default 1.0
        The playback/simulation speed (``math.inf`` is written as ``"max"``).
    keep_device_id : bool, default False
        Keep a Bluetooth address given as the target.

    Returns
    -------
    dict
        ``kind`` (``"ble"``, ``"emulated"``, ``"simulated"`` or ``"file"``) and what else is
        known before connecting (the simulation settings, the file's name — not its folder);
        a strap adds its model and firmware to the header once connected (`record`).
    """
    text = spec.strip()
    head, _, rest = text.partition(":")
    kind = head.lower()
    speed_value: object = "max" if math.isinf(speed) else speed
    if kind == "sim" and not Path(text).is_file():
        config = dataclasses.asdict(parse_sim_spec(f"sim:{rest}"))
        return {"kind": "simulated", "name": "simulated strap", "speed": speed_value, **config}
    if kind == "emulated" and not Path(text).is_file():
        return {"kind": "emulated", "model": rest.strip().lower(), "speed": speed_value}
    if kind == "ble" and not Path(text).is_file():
        target = rest.strip() or None
        if target is not None and _is_device_address(target) and not keep_device_id:
            target = None
        return {"kind": "ble", "target": target}
    return {"kind": "file", "path": Path(text).name, "speed": speed_value}
