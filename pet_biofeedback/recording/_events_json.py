"""Events to and from the JSON objects of recording lines (the table in the package docstring).

This is the one place that maps the frozen on-disk keys (``fs``, ``uv``, ``mg``, ``bpm``, …) to
the unit-suffixed fields of `pet_biofeedback.events` (style.md §2.2), and the one place that
decides which values a line may hold: finite numbers of plausible size, sample rates within
`FS_MIN_HZ`–`FS_MAX_HZ` (a file is untrusted input: a sample rate of 1e8 Hz would make
analysis allocate gigabytes).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Mapping
from typing import Final, TypeGuard, assert_never

import numpy as np

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
    Marker,
    PacerPhase,
    Rating,
    RawNotification,
    RRIntervals,
)
from pet_biofeedback.recording.frame_arrays import frame_from_array, kept_array, read_line

# Sample rates a file may declare for ECG and ACC frames (the H10 streams 130 Hz ECG and
# 25–200 Hz ACC; 10 kHz leaves room for any chest sensor while bounding what a crafted
# ``"fs": 1e8`` could make analysis allocate per second of recording).
FS_MIN_HZ: Final = 1.0
FS_MAX_HZ: Final = 10_000.0
# Largest magnitude of any number in an event (t in s, µV, mg, ms, bpm, …). Real values stay
# far below; beyond it squares and sums in the analysis could overflow float64 (1e300²).
MAX_ABS_VALUE: Final = 1e9
# Integral floats in the bulky sample lists are written as JSON integers ("-123" rather than
# "-123.0"); beyond 2**53 not every integer is a float, so those stay floats.
_EXACT_INT_LIMIT: Final = 2.0**53


# --- Writing ---------------------------------------------------------------------------------


def _compact(value: float) -> float | int:
    """An integral float as an int, so JSON spells it without ".0"; reads back equal."""
    if isinstance(value, float) and value.is_integer() and abs(value) < _EXACT_INT_LIMIT:
        return int(value)
    return value


def event_to_json(event: Event) -> dict[str, object]:
    """The on-disk object of one event (the mapping in the package docstring)."""
    match event:
        case RRIntervals():
            return {"t": event.t, "type": "rr", "rr_ms": list(event.rr_ms)}
        case HeartRate():
            return {"t": event.t, "type": "hr", "bpm": event.hr_bpm}
        case EcgFrame():
            return {
                "t": event.t,
                "type": "ecg",
                "fs": event.fs_hz,
                "uv": [_compact(v) for v in event.ecg_uv],
            }
        case AccFrame():
            return {
                "t": event.t,
                "type": "acc",
                "fs": event.fs_hz,
                "mg": [[_compact(x), _compact(y), _compact(z)] for x, y, z in event.acc_mg],
            }
        case Contact():
            return {"t": event.t, "type": "contact", "ok": event.ok}
        case Link():
            return {"t": event.t, "type": "link", "state": str(event.state), "detail": event.detail}
        case Battery():
            return {"t": event.t, "type": "battery", "percent": event.battery_pct}
        case RawNotification():
            return {
                "t": event.t,
                "type": "raw",
                "char": event.characteristic,
                "hex": event.payload.hex(),
            }
        case PacerPhase():
            pacer: dict[str, object] = {
                "t": event.t,
                "type": "pacer",
                "bpm": event.breaths_per_min,
                "inhale_s": event.inhale_s,
                "exhale_s": event.exhale_s,
            }
            # keys added after v1's first files: written only when they say something, read
            # with these defaults (older files: no hold, an inhalation onset, a sine guide)
            if event.hold_after_inhale_s:
                pacer["hold_in_s"] = event.hold_after_inhale_s
            if event.position:
                pacer["position"] = event.position
            if event.shape != "sine":
                pacer["shape"] = event.shape
            return pacer
        case Marker():
            return {"t": event.t, "type": "marker", "text": event.text}
        case Rating():
            return {"t": event.t, "type": "rating", "kind": event.kind, "value": event.value}
        case Gap():
            return {"t": event.t, "type": "gap", "seconds": event.seconds, "reason": event.reason}
        case _:
            assert_never(event)


def json_line(obj: Mapping[str, object]) -> bytes:
    """One compact JSON line in UTF-8 (floats in shortest round-trip form, no NaN).

    Text that cannot be UTF-8 (lone surrogates) is written with ``\\u`` escapes instead, which
    round-trips exactly.
    """
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    try:
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode("ascii") + b"\n"


# Formats of whole ECG/ACC lines of integral samples, per frame length (a session has a few
# lengths): one %-format builds the line in C instead of a JSON object of Python numbers.
_FRAME_FORMATS: dict[tuple[str, int], str] = {}
# Bounds of that cache: a file (or source) with frames of many lengths must not fill memory
# with formats; longer frames than any strap sends take the general path.
_MAX_CACHED_FORMATS: Final = 64
_MAX_FORMAT_SAMPLES: Final = 1024
_FLOAT_ONLY: Final = frozenset({float})


def _frame_format(kind: str, n_samples: int) -> str:
    key = (kind, n_samples)
    fmt = _FRAME_FORMATS.get(key)
    if fmt is None:
        samples = ",".join(["%d" if kind == "ecg" else "[%d,%d,%d]"] * n_samples)
        samples_key = "uv" if kind == "ecg" else "mg"
        fmt = f'{{"t":%s,"type":"{kind}","fs":%s,"{samples_key}":[{samples}]}}\n'
        if len(_FRAME_FORMATS) < _MAX_CACHED_FORMATS:
            _FRAME_FORMATS[key] = fmt
    return fmt


def _integral_floats(values: list[float]) -> bool:
    """Every value is a float with an integral value within ±`MAX_ABS_VALUE` (so ``%d``
    spells it as `_compact` + json would; NaN and infinity are not integral)."""
    return (
        set(map(type, values)) <= _FLOAT_ONLY
        and all(map(float.is_integer, values))
        and (not values or (-MAX_ABS_VALUE <= min(values) and max(values) <= MAX_ABS_VALUE))
    )


def _frame_line(event: EcgFrame | AccFrame) -> bytes | None:
    """The line of an ECG/ACC frame of integral samples (what a Polar H10 sends), spelled
    exactly as `json_line` of `event_to_json` spells it; None when the general path must
    decide (other values, or a value it refuses with its own message).

    ECG and ACC frames are most bytes of a recording: building their JSON objects number by
    number was the recorder thread's main cost at ``--speed max``.
    """
    line = read_line(event)
    if line is not None:  # the line it was read from (`frame_arrays`)
        return line + b"\n"
    t, fs_hz = event.t, event.fs_hz
    if type(t) is not float or type(fs_hz) is not float:
        return None
    if not (abs(t) <= MAX_ABS_VALUE and FS_MIN_HZ <= fs_hz <= FS_MAX_HZ):
        return None
    if isinstance(event, EcgFrame):
        kind, n_samples = "ecg", len(event.ecg_uv)
        samples = list(event.ecg_uv)
    else:
        kind, n_samples = "acc", len(event.acc_mg)
        if n_samples and set(map(len, event.acc_mg)) != {3}:
            return None
        samples = list(itertools.chain.from_iterable(event.acc_mg))
    if n_samples > _MAX_FORMAT_SAMPLES or not _integral_floats(samples):
        return None
    # float.__repr__ is what json uses for floats: the shortest string that reads back equal;
    # ``%d`` spells an integral float as `_compact` makes json spell it.
    return (_frame_format(kind, n_samples) % (repr(t), repr(fs_hz), *samples)).encode("ascii")


def event_line(event: Event) -> bytes:
    """The line of one event; ``ValueError`` (saying why) for a value no reader would accept.

    The same bounds as the reader's: numbers finite and within ±`MAX_ABS_VALUE`, sample rates
    within `FS_MIN_HZ`–`FS_MAX_HZ`.
    """
    if isinstance(event, EcgFrame | AccFrame):
        line = _frame_line(event)
        if line is not None:
            return line
    numbers: tuple[float, ...] = ()
    fs_hz: float | None = None
    match event:
        case RRIntervals():
            numbers = event.rr_ms
        case HeartRate():
            numbers = (event.hr_bpm,)
        case EcgFrame():
            numbers, fs_hz = event.ecg_uv, event.fs_hz
        case AccFrame():
            numbers, fs_hz = tuple([v for xyz in event.acc_mg for v in xyz]), event.fs_hz
        case PacerPhase():
            numbers = (
                event.breaths_per_min,
                event.inhale_s,
                event.exhale_s,
                event.hold_after_inhale_s,
                event.position,
            )
        case Rating():
            numbers = (event.value,)
        case Gap():
            numbers = (event.seconds,)
        case _:
            pass
    if not all(abs(v) <= MAX_ABS_VALUE for v in (event.t, *numbers)):  # False for NaN too
        raise ValueError(f"numbers must be finite and within ±{MAX_ABS_VALUE:g}")
    if fs_hz is not None and not FS_MIN_HZ <= fs_hz <= FS_MAX_HZ:
        raise ValueError(f"the sample rate must be {FS_MIN_HZ:g} to {FS_MAX_HZ:g} Hz")
    return json_line(event_to_json(event))


def _has_negative_zero(values: Iterable[float]) -> bool:
    return any(v == 0 and math.copysign(1.0, v) < 0 for v in values)


def read_back(event: Event) -> Event:
    """``event`` as a reader reads it back from the line `event_line` writes for it.

    Every value reads back equal (integers as equal floats), with one exception: the writer
    spells integral float samples of ECG and ACC frames as JSON integers, so a sample of
    -0.0 reads back as 0.0. Whoever gathers what was written (a session's summary) and must
    agree exactly with a reading of the file takes the events through this.
    """
    if not isinstance(event, EcgFrame | AccFrame) or read_line(event) is not None:
        return event  # (read from a line: its samples are integers, no -0.0 among them)
    kept = kept_array(event)
    if kept is not None:  # the array its producer kept: its tuple need not be built
        if not np.signbit(kept[kept == 0.0]).any():
            return event
        unsigned = kept + 0.0  # -0.0 + 0.0 is 0.0
        unsigned.flags.writeable = False
        if isinstance(event, EcgFrame):
            return frame_from_array(EcgFrame, event.t, event.fs_hz, unsigned)
        return frame_from_array(AccFrame, event.t, event.fs_hz, unsigned)
    # ``0.0 in ...`` scans in C and is true for -0.0 too: the common case costs no loop here.
    if isinstance(event, EcgFrame):
        if 0.0 in event.ecg_uv and _has_negative_zero(event.ecg_uv):
            return EcgFrame(event.t, event.fs_hz, tuple([v + 0.0 for v in event.ecg_uv]))
    else:
        flat = itertools.chain.from_iterable
        if 0.0 in flat(event.acc_mg) and _has_negative_zero(flat(event.acc_mg)):
            acc_mg = tuple([(x + 0.0, y + 0.0, z + 0.0) for x, y, z in event.acc_mg])
            return AccFrame(event.t, event.fs_hz, acc_mg)
    return event


# --- Reading ---------------------------------------------------------------------------------


class BadLine(Exception):
    """A line that is not a valid event (private; the reader skips it or raises
    `RecordingFormatError` with its line number)."""


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


# One decoder for every line: ``json.loads(text, parse_constant=...)`` builds a new one per call.
_DECODER: Final = json.JSONDecoder(parse_constant=_reject_constant)


def _loads(text: str) -> object:
    """``json.loads(text, parse_constant=_reject_constant)``, with its errors and messages."""
    if text.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _DECODER.decode(text)


def parse_object(raw: bytes) -> dict[str, object]:
    """One line's JSON object, or `BadLine` saying why not."""
    try:
        obj = _loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise BadLine(f"not valid UTF-8 ({exc.reason})") from exc
    except (ValueError, RecursionError) as exc:
        raise BadLine(f"not valid JSON ({exc})") from exc
    if not isinstance(obj, dict):
        raise BadLine(f"a JSON {type(obj).__name__} where an object was expected")
    return obj


def _is_number(value: object) -> TypeGuard[int | float]:
    """A JSON number of plausible size (finite; bools are not numbers here)."""
    if type(value) is int:
        return abs(value) <= MAX_ABS_VALUE
    return type(value) is float and math.isfinite(value) and abs(value) <= MAX_ABS_VALUE


def _plausible_floats(values: list[object]) -> tuple[float, ...] | None:
    """``values`` as floats if all are JSON numbers of plausible size, else None (the bulk
    twin of `_is_number`: ECG and ACC frames hold most numbers of a recording)."""
    if not _NUMBER_TYPES.issuperset(map(type, values)):  # in C: no generator per value
        return None
    try:
        floats = tuple(map(float, values))  # type: ignore[arg-type]  # numbers, checked above
    except OverflowError:  # an int beyond float range
        return None
    if floats and not (-MAX_ABS_VALUE <= min(floats) and max(floats) <= MAX_ABS_VALUE):
        return None  # out of range, or infinite
    return floats


PACER_SHAPES: Final = ("sine", "linear")
_NUMBER_TYPES: Final = frozenset({float, int})  # bool is not a number here
_LIST_ONLY: Final = frozenset({list})


class Fields:
    """Typed access to one event line's keys; every failure is a `BadLine` naming the key."""

    __slots__ = ("_obj", "kind", "line_number")

    def __init__(self, obj: dict[str, object], *, line_number: int) -> None:
        kind = obj.get("type")
        if not isinstance(kind, str):
            raise BadLine("event has no string 'type'")
        self._obj = obj
        self.kind = kind
        self.line_number = line_number

    def error(self, message: str) -> BadLine:
        return BadLine(f"{self.kind!r} event: {message}")

    def _get(self, key: str) -> object:
        try:
            return self._obj[key]
        except KeyError:
            raise self.error(f"missing {key!r}") from None

    def number(self, key: str) -> float:
        value = self._get(key)
        if _is_number(value):
            return float(value)
        raise self.error(
            f"{key!r} must be a finite number within ±{MAX_ABS_VALUE:g}, got {value!r}"
        )

    def optional_number(self, key: str, default: float) -> float:
        return self.number(key) if key in self._obj else default

    def optional_text(self, key: str, default: str) -> str:
        return self.text(key) if key in self._obj else default

    def sample_rate_hz(self, key: str) -> float:
        fs_hz = self.number(key)
        if FS_MIN_HZ <= fs_hz <= FS_MAX_HZ:
            return fs_hz
        raise self.error(
            f"{key!r} must be a sample rate of {FS_MIN_HZ:g} to {FS_MAX_HZ:g} Hz, got {fs_hz!r}"
        )

    def integer(self, key: str) -> int:
        value = self._get(key)
        if type(value) is not int:
            raise self.error(f"{key!r} must be an integer, got {value!r}")
        return value

    def boolean(self, key: str) -> bool:
        value = self._get(key)
        if type(value) is not bool:
            raise self.error(f"{key!r} must be true or false, got {value!r}")
        return value

    def text(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str):
            raise self.error(f"{key!r} must be a string, got {value!r}")
        return value

    def numbers(self, key: str) -> tuple[float, ...]:
        values = self._get(key)
        numbers = _plausible_floats(values) if isinstance(values, list) else None
        if numbers is None:
            raise self.error(f"{key!r} must be a list of finite numbers within ±{MAX_ABS_VALUE:g}")
        return numbers

    def xyz(self, key: str) -> tuple[tuple[float, float, float], ...]:
        values = self._get(key)
        flat = None
        # set(map(...)) checks every triple in C (ACC frames are most lines of a recording)
        if (
            isinstance(values, list)
            and _LIST_ONLY.issuperset(map(type, values))
            and set(map(len, values)) <= {3}
        ):
            flat = _plausible_floats(list(itertools.chain.from_iterable(values)))
        if flat is None:
            raise self.error(
                f"{key!r} must be a list of [x, y, z] number triples within ±{MAX_ABS_VALUE:g}"
            )
        components = iter(flat)
        return tuple(zip(components, components, components, strict=True))

    def link_state(self, key: str) -> LinkState:
        value = self.text(key)
        try:
            return LinkState(value)
        except ValueError:
            valid = ", ".join(s.value for s in LinkState)
            raise self.error(f"{key!r} must be one of {valid}, got {value!r}") from None

    def hex_bytes(self, key: str) -> bytes:
        value = self.text(key)
        try:
            return bytes.fromhex(value)
        except ValueError:
            raise self.error(f"{key!r} is not hexadecimal: {value!r}") from None


def decode_event(fields: Fields) -> Event | None:
    """The event of one line (the mapping in the package docstring); None for unknown types.

    Raises `BadLine` for a known type with a missing key or a value of the wrong type or size.
    """
    t = fields.number("t")
    match fields.kind:
        case "rr":
            return RRIntervals(t, fields.numbers("rr_ms"))
        case "hr":
            return HeartRate(t, fields.number("bpm"))
        case "ecg":
            return EcgFrame(t, fields.sample_rate_hz("fs"), fields.numbers("uv"))
        case "acc":
            return AccFrame(t, fields.sample_rate_hz("fs"), fields.xyz("mg"))
        case "contact":
            return Contact(t, fields.boolean("ok"))
        case "link":
            return Link(t, fields.link_state("state"), fields.text("detail"))
        case "battery":
            return Battery(t, fields.integer("percent"))
        case "raw":
            return RawNotification(t, fields.text("char"), fields.hex_bytes("hex"))
        case "pacer":
            shape = fields.optional_text("shape", "sine")
            if shape not in PACER_SHAPES:
                raise fields.error(f"'shape' must be one of {', '.join(PACER_SHAPES)}")
            return PacerPhase(
                t,
                fields.number("bpm"),
                fields.number("inhale_s"),
                fields.number("exhale_s"),
                hold_after_inhale_s=fields.optional_number("hold_in_s", 0.0),
                position=fields.optional_number("position", 0.0),
                shape=shape,
            )
        case "marker":
            return Marker(t, fields.text("text"))
        case "rating":
            return Rating(t, fields.text("kind"), fields.number("value"))
        case "gap":
            return Gap(t, fields.number("seconds"), fields.text("reason"))
        case _:
            return None
