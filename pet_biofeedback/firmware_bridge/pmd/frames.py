"""PMD data frames: ECG, ACC and PPI notifications decoded into samples (ble-protocol.md §4.7).

`decode_frame` turns the bytes of one PMD Data notification into a `PmdEcgFrame`,
`PmdAccFrame` or `PmdPpiFrame` (plain and delta-compressed layouts, as the Polar SDK parses
them); it raises only `DecodeError`, with a message that says what was wrong.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar, Final, TypeAlias

import numpy as np
import numpy.typing as npt

from pet_biofeedback.errors import DecodeError
from pet_biofeedback.firmware_bridge.pmd.protocol import (
    COMPRESSED_FRAME_BIT,
    FRAME_HEADER_BYTES,
    MEASUREMENT_TYPE_MASK,
    FloatArray,
    MeasurementType,
    Payload,
    _is_positive_real,
)

_Int64Array: TypeAlias = npt.NDArray[np.int64]

_FRAME_TYPE_MASK: Final = 0x7F
_ECG_SAMPLE_BYTES: Final = 3  # signed 24-bit µV (§4.9)
_ACC_AXES: Final = 3
_ACC_DEFAULT_RESOLUTION_BITS: Final = 16  # the SDK's compressed ACC parsers assume 16 (§4.12)
_MG_PER_G: Final = 1000.0
# ACC plain frame type → bytes per axis: int8 / int16 (H10) / int24 (§4.10, AccData.kt).
_ACC_PLAIN_AXIS_BYTES: Final[Mapping[int, int]] = MappingProxyType({0: 1, 1: 2, 2: 3})
_ACC_COMPRESSED_TYPES: Final = (0, 1)  # AccData.kt parses compressed types 0 and 1 only
_PPI_SAMPLE_BYTES: Final = 6  # hr u8 | ppi u16 | error u16 | flags u8 (§4.11)
_PPI_BLOCKER_BIT: Final = 0x01
_PPI_SKIN_CONTACT_BIT: Final = 0x02
_PPI_SKIN_CONTACT_SUPPORTED_BIT: Final = 0x04  # as PpiData.kt reads it; the PDF disagrees
_MAX_DELTA_BIT_WIDTH: Final = 32  # the SDK decodes deltas into 32-bit Ints (§4.12)
_MAX_RESOLUTION_BITS: Final = 32


# --- Data frames (§4.7–§4.12) ---------------------------------------------------------------------


def _readonly(array: npt.NDArray[np.float64]) -> FloatArray:
    """Mark `array` read-only (frozen results, style.md §2.4) and return it."""
    array.flags.writeable = False
    return array


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class PmdEcgFrame:
    """One ECG data frame (measurement type 0; §4.9).

    Attributes
    ----------
    sensor_timestamp_ns : int
        Device timestamp of the **last** sample, ns since 2000-01-01 on the device clock, as on
        the wire (§4.7). Use only for spacing (`PmdClock`); the absolute value is untrusted.
    frame_type : int
        Frame-type id, bits 0–6 (0 on the H10).
    compressed : bool
        Bit 7 of the frame-type byte (always false for supported ECG frames).
    fs_hz : float or None
        Sample rate from the START settings, if the caller passed it (frames do not carry it).
    ecg_uv : ndarray of float64, shape (n_samples,)
        ECG in µV, oldest first, read-only.
    """

    measurement: ClassVar[MeasurementType] = MeasurementType.ECG
    sensor_timestamp_ns: int
    frame_type: int
    compressed: bool = False
    fs_hz: float | None = None
    ecg_uv: FloatArray

    def __post_init__(self) -> None:
        _readonly(self.ecg_uv)

    @property
    def n_samples(self) -> int:
        """Number of samples in the frame."""
        return int(self.ecg_uv.shape[0])


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class PmdAccFrame:
    """One accelerometer data frame (measurement type 2; §4.10, §4.12).

    Attributes
    ----------
    sensor_timestamp_ns : int
        Device timestamp of the last sample (see `PmdEcgFrame`).
    frame_type : int
        Frame-type id, bits 0–6 (H10: 1 = int16 axes).
    compressed : bool
        Whether the frame was delta-compressed (bit 7 of the frame-type byte).
    fs_hz : float or None
        Sample rate from the START settings, if the caller passed it.
    acc_mg : ndarray of float64, shape (n_samples, 3)
        x, y, z acceleration in mG, oldest first, read-only. At rest the magnitude is ≈ 1000.
    """

    measurement: ClassVar[MeasurementType] = MeasurementType.ACC
    sensor_timestamp_ns: int
    frame_type: int
    compressed: bool = False
    fs_hz: float | None = None
    acc_mg: FloatArray

    def __post_init__(self) -> None:
        _readonly(self.acc_mg)

    @property
    def n_samples(self) -> int:
        """Number of samples in the frame."""
        return int(self.acc_mg.shape[0])


@dataclass(frozen=True, slots=True, kw_only=True)
class PpiSample:
    """One PP interval from an optical sensor (OH1 / Verity; §4.11, ``PpiData.kt``).

    Attributes
    ----------
    hr_bpm : int
        Heart rate in bpm.
    ppi_ms : int
        Pulse-to-pulse interval in ms.
    error_estimate_ms : int
        The sensor's error estimate of `ppi_ms`, in ms.
    blocker : bool
        Flag bit 0: the interval is invalid (motion).
    skin_contact : bool
        Flag bit 1: skin contact (false = poor or none).
    skin_contact_supported : bool
        Flag bit 2, as the SDK code reads it (the PDF words it the other way round, §4.11).
    """

    hr_bpm: int
    ppi_ms: int
    error_estimate_ms: int
    blocker: bool
    skin_contact: bool
    skin_contact_supported: bool

    @property
    def usable(self) -> bool:
        """Keep the sample? ``PPIData.md``: drop it if blocker = 1 or skin contact = 0."""
        return not self.blocker and self.skin_contact


@dataclass(frozen=True, slots=True, kw_only=True)
class PmdPpiFrame:
    """One PPI data frame (measurement type 3, frame type 0; §4.11).

    Attributes
    ----------
    sensor_timestamp_ns : int
        Device timestamp of the last interval's end; may be 0 (§4.11). Time PPI like RR
        intervals (§2.4), not with `PmdClock`.
    frame_type : int
        Frame-type id (0).
    compressed : bool
        Always false for supported PPI frames.
    fs_hz : None
        PPI has no sample rate.
    samples : tuple of PpiSample
        Intervals, oldest first, including unusable ones (see `PpiSample.usable`).
    """

    measurement: ClassVar[MeasurementType] = MeasurementType.PPI
    sensor_timestamp_ns: int
    frame_type: int
    compressed: bool = False
    fs_hz: float | None = None
    samples: tuple[PpiSample, ...]

    @property
    def n_samples(self) -> int:
        """Number of intervals in the frame."""
        return len(self.samples)

    @property
    def ppi_ms(self) -> FloatArray:
        """All intervals in ms, shape (n_samples,)."""
        return np.array([s.ppi_ms for s in self.samples], dtype=np.float64)


PmdFrame: TypeAlias = PmdEcgFrame | PmdAccFrame | PmdPpiFrame


def _sign_extend(value: int, bits: int) -> int:
    """Two's-complement value of the low `bits` bits of `value`."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _signed_le(data: bytes, n_bytes: int) -> _Int64Array:
    """Consecutive signed little-endian integers of `n_bytes` bytes (1–3); len checked by caller."""
    if n_bytes in (1, 2):
        return np.frombuffer(data, dtype=f"<i{n_bytes}").astype(np.int64)
    b = np.frombuffer(data, dtype=np.uint8).reshape(-1, 3).astype(np.int64)
    v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
    return np.where(v >= 1 << 23, v - (1 << 24), v)


def _check_sample_bytes(what: str, n_bytes: int, sample_bytes: int) -> None:
    """DecodeError unless the payload holds a positive whole number of samples."""
    if n_bytes == 0:
        raise DecodeError(f"{what}: frame carries no samples (header only)")
    if n_bytes % sample_bytes:
        raise DecodeError(
            f"{what}: {n_bytes} payload bytes are not a multiple of the {sample_bytes}-byte "
            f"sample ({n_bytes % sample_bytes} left over; notification truncated by a small "
            "ATT MTU? ble-protocol.md §4.1)"
        )


def _decode_delta_samples(content: bytes, channels: int, resolution_bits: int) -> _Int64Array:
    """Delta-compressed samples → int64 array (n_samples, channels) (§4.12, SDK layout).

    Reference sample: `channels` signed LE ints of ceil(resolution/8) bytes, sign-extended at
    `resolution_bits`. Then blocks ``[bit_width][count][ceil(width*count*channels/8) bytes]``,
    LSB-first bitstream of two's-complement deltas interleaved by channel; samples cumulative.
    """
    ref_bytes = (resolution_bits + 7) // 8
    offset = channels * ref_bytes
    if len(content) < offset:
        raise DecodeError(
            f"delta frame: {len(content)} payload byte(s), the reference sample needs {offset} "
            f"({channels} channels × {ref_bytes} bytes)"
        )
    reference = np.array(
        [
            _sign_extend(
                int.from_bytes(content[c * ref_bytes : (c + 1) * ref_bytes], "little"),
                resolution_bits,
            )
            for c in range(channels)
        ],
        dtype=np.int64,
    )
    rows: list[_Int64Array] = [reference.reshape(1, channels)]
    block = 0
    while offset < len(content):
        if offset + 2 > len(content):
            raise DecodeError(
                f"delta frame: block {block} header at byte {offset} is truncated "
                "(1 byte left, need bit width and sample count)"
            )
        width, count = content[offset], content[offset + 1]
        offset += 2
        if width > _MAX_DELTA_BIT_WIDTH:
            raise DecodeError(
                f"delta frame: block {block} has bit width {width}, above the maximum "
                f"{_MAX_DELTA_BIT_WIDTH}"
            )
        if width == 0 and count > 0:
            # A 0-bit delta would mean "unchanged", but the SDK decodes such a block to no
            # samples at all: ambiguous, so refuse rather than guess the sample count.
            raise DecodeError(
                f"delta frame: block {block} has bit width 0 with {count} samples (ambiguous)"
            )
        n_bits = width * count * channels
        n_bytes = (n_bits + 7) // 8
        if offset + n_bytes > len(content):
            raise DecodeError(
                f"delta frame: block {block} ({count} samples × {channels} channels × "
                f"{width} bits) needs {n_bytes} bytes but only {len(content) - offset} remain"
            )
        if count:
            raw = np.frombuffer(content, dtype=np.uint8, count=n_bytes, offset=offset)
            bits = np.unpackbits(raw, bitorder="little")[:n_bits]  # LSB-first (§4.12 step 3)
            fields = bits.reshape(count * channels, width).astype(np.int64)
            unsigned = fields @ (np.int64(1) << np.arange(width, dtype=np.int64))
            half = np.int64(1) << (width - 1)
            deltas = np.where(unsigned >= half, unsigned - (half << 1), unsigned)
            rows.append(deltas.reshape(count, channels))
        offset += n_bytes
        block += 1
    return np.cumsum(np.concatenate(rows, axis=0), axis=0)


def _check_kwargs(fs_hz: float | None, resolution_bits: int | None, factor: float | None) -> None:
    """DecodeError for stream settings that cannot be used to decode (decoders raise only that)."""
    if fs_hz is not None and not _is_positive_real(fs_hz):
        raise DecodeError(f"PMD frame: invalid stream setting fs_hz={fs_hz!r} (need > 0)")
    if resolution_bits is not None and (
        not isinstance(resolution_bits, numbers.Integral)
        or isinstance(resolution_bits, bool)
        or not 1 <= int(resolution_bits) <= _MAX_RESOLUTION_BITS
    ):
        raise DecodeError(
            f"PMD frame: invalid stream setting resolution_bits={resolution_bits!r} "
            f"(need 1–{_MAX_RESOLUTION_BITS})"
        )
    if factor is not None and not _is_positive_real(factor):
        raise DecodeError(f"PMD frame: invalid stream setting factor={factor!r} (need > 0)")


def _decode_acc(
    content: bytes,
    frame_type: int,
    compressed: bool,
    resolution_bits: int | None,
    factor: float | None,
) -> FloatArray:
    """ACC payload → mG, shape (n, 3) (``AccData.kt``; §4.10, §4.12)."""
    if not compressed:
        axis_bytes = _ACC_PLAIN_AXIS_BYTES.get(frame_type)
        if axis_bytes is None:
            raise DecodeError(
                f"ACC frame: unsupported frame type {frame_type} "
                f"(known: {', '.join(map(str, _ACC_PLAIN_AXIS_BYTES))})"
            )
        _check_sample_bytes(f"ACC frame type {frame_type}", len(content), _ACC_AXES * axis_bytes)
        # Plain frames are mG as sent; the SDK applies no FACTOR to them.
        return _signed_le(content, axis_bytes).reshape(-1, _ACC_AXES).astype(np.float64)
    if frame_type not in _ACC_COMPRESSED_TYPES:
        raise DecodeError(
            f"ACC frame: unsupported compressed frame type {frame_type} "
            f"(known: {', '.join(map(str, _ACC_COMPRESSED_TYPES))})"
        )
    resolution = _ACC_DEFAULT_RESOLUTION_BITS if resolution_bits is None else int(resolution_bits)
    raw = _decode_delta_samples(content, _ACC_AXES, resolution).astype(np.float64)
    if frame_type == 0:
        # Compressed type 0 is in G units: value × factor × 1000 → mG (§4.12 step 5).
        if factor is None:
            raise DecodeError(
                "ACC compressed frame type 0 needs the FACTOR from the START response "
                "(pass factor=…; ble-protocol.md §4.4)"
            )
        return raw * (float(factor) * _MG_PER_G)
    return raw * float(factor) if factor is not None and factor != 1.0 else raw


def _decode_ppi(content: bytes) -> tuple[PpiSample, ...]:
    """PPI payload → samples (``PpiData.kt`` frame type 0; §4.11)."""
    _check_sample_bytes("PPI frame", len(content), _PPI_SAMPLE_BYTES)
    samples = []
    for i in range(0, len(content), _PPI_SAMPLE_BYTES):
        flags = content[i + 5]
        samples.append(
            PpiSample(
                hr_bpm=content[i],
                ppi_ms=int.from_bytes(content[i + 1 : i + 3], "little"),
                error_estimate_ms=int.from_bytes(content[i + 3 : i + 5], "little"),
                blocker=bool(flags & _PPI_BLOCKER_BIT),
                skin_contact=bool(flags & _PPI_SKIN_CONTACT_BIT),
                skin_contact_supported=bool(flags & _PPI_SKIN_CONTACT_SUPPORTED_BIT),
            )
        )
    return tuple(samples)


def decode_frame(
    payload: Payload,
    *,
    fs_hz: float | None = None,
    resolution_bits: int | None = None,
    factor: float | None = None,
) -> PmdFrame:
    """Decode one PMD Data notification (ECG, ACC plain or delta-compressed, PPI).

    Parameters
    ----------
    payload : bytes
        The notification: ``type u8 | timestamp u64 LE | frame type u8 | payload`` (§4.7).
    fs_hz : float, optional
        Sample rate in Hz from the START settings, copied into the frame (frames do not carry
        it). Default None (unknown).
    resolution_bits : int, optional
        RESOLUTION from the settings, needed to read the reference sample of delta-compressed
        frames (§4.12). Default None: 16, as the SDK assumes for compressed ACC.
    factor : float, optional
        FACTOR from the START response (§4.4). Required for compressed ACC frame type 0
        (samples × factor × 1000 → mG); applied to compressed type 1 when ≠ 1; ignored for
        plain frames and ECG, as in the SDK. Default None.

    Returns
    -------
    PmdEcgFrame or PmdAccFrame or PmdPpiFrame
        ECG in µV (n,), ACC in mG (n, 3), PPI intervals; plus the device timestamp of the last
        sample, the frame type and `fs_hz`.

    Raises
    ------
    DecodeError
        If the notification is shorter than the 10-byte header; the measurement type is
        unknown or not decoded here (PPG, GYRO, MAG, …); the frame type is unsupported for the
        measurement (ECG types 1/2/3 exist on other devices — refused, not guessed, §4.9); the
        payload is empty or not a whole number of samples; a delta block is truncated, has bit
        width above 32 or a 0-bit width with samples; compressed ACC type 0 lacks `factor`; or a
        keyword argument is invalid.

    Notes
    -----
    The measurement type is byte 0 masked with ``0x3F`` (§4.7). ECG samples are 3-byte signed
    LE (§4.9); ACC plain frame types 0/1/2 carry int8/int16/int24 x, y, z in mG (§4.10);
    delta-compressed frames (``frame_type & 0x80``) are decoded exactly as
    ``BlePMDClient.parseDeltaFramesAll`` (§4.12), LSB-first, without 32-bit wrap-around.

    Examples
    --------
    >>> f = decode_frame(bytes.fromhex("00 00 94 35 77 00 00 00 00 00 02 80 FF 02 80 00"),
    ...                  fs_hz=130)
    >>> f.sensor_timestamp_ns, f.ecg_uv.tolist()
    (2000000000, [-32766.0, 32770.0])
    """
    _check_kwargs(fs_hz, resolution_bits, factor)
    data = bytes(payload)
    if len(data) < FRAME_HEADER_BYTES:
        raise DecodeError(
            f"PMD frame: {len(data)} byte(s), shorter than the {FRAME_HEADER_BYTES}-byte header"
        )
    type_id = data[0] & MEASUREMENT_TYPE_MASK
    timestamp_ns = int.from_bytes(data[1:9], "little")
    compressed = bool(data[9] & COMPRESSED_FRAME_BIT)
    frame_type = data[9] & _FRAME_TYPE_MASK
    content = data[FRAME_HEADER_BYTES:]
    fs = None if fs_hz is None else float(fs_hz)
    try:
        measurement = MeasurementType(type_id)
    except ValueError:
        raise DecodeError(f"PMD frame: unknown measurement type {type_id}") from None

    if measurement is MeasurementType.ECG:
        if compressed or frame_type != 0:
            raise DecodeError(
                f"ECG frame: unsupported frame type {frame_type}"
                f"{' (delta-compressed)' if compressed else ''}; only type 0 (H10) is decoded"
            )
        _check_sample_bytes("ECG frame", len(content), _ECG_SAMPLE_BYTES)
        return PmdEcgFrame(
            sensor_timestamp_ns=timestamp_ns,
            frame_type=frame_type,
            compressed=False,
            fs_hz=fs,
            ecg_uv=_signed_le(content, _ECG_SAMPLE_BYTES).astype(np.float64),
        )
    if measurement is MeasurementType.ACC:
        return PmdAccFrame(
            sensor_timestamp_ns=timestamp_ns,
            frame_type=frame_type,
            compressed=compressed,
            fs_hz=fs,
            acc_mg=_decode_acc(content, frame_type, compressed, resolution_bits, factor),
        )
    if measurement is MeasurementType.PPI:
        if compressed or frame_type != 0:
            raise DecodeError(
                f"PPI frame: unsupported frame type {frame_type}"
                f"{' (delta-compressed)' if compressed else ''}; only type 0 is decoded"
            )
        return PmdPpiFrame(
            sensor_timestamp_ns=timestamp_ns,
            frame_type=frame_type,
            compressed=False,
            fs_hz=None,
            samples=_decode_ppi(content),
        )
    raise DecodeError(
        f"PMD frame: measurement type {measurement.name} ({int(measurement)}) is not decoded by "
        "this app (ECG, ACC and PPI are)"
    )
