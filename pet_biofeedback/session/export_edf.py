"""EDF+ export: ECG and accelerometer as signals, pacer changes, markers and gaps as
annotations, written with edfio.

Choices (README.md's `export` section says the same for users):

* **EDF+C with 1-s data records.** Every signal needs whole samples per record; 1 s gives
  130 ECG samples and 25/50/100/200 ACC samples at the Polar H10's rates. A signal is written
  at its nominal rate rounded to whole hertz.
* **Time comes from the recording.** Each contiguous stretch of samples (frames no further
  apart than `EDF_GAP_S`) is laid on a straight time line fitted to its frames' time stamps
  (host times jitter; the strap's clock does not), then resampled onto the EDF's exact grid
  by linear interpolation. So the signal stays aligned with the annotations over an hour even
  though a strap's clock is off its nominal rate by up to 2 %.
* **Gaps are a flat line, annotated.** EDF+C cannot hold gaps (edfio writes no EDF+D): where a
  signal has no samples for `EDF_GAP_S` or more, it is 0 and an annotation
  ``"<signal> signal lost"`` with its duration marks the stretch; shorter holes are bridged by
  the interpolation. The recording's own gap events become ``"gap …"`` annotations.
* **The last record is padded** with a flat line; an annotation ``"end of recording"`` marks
  where the recording really ended.
* **Physical range from the data, digital ±32767:** quantisation is range / 65534.
* **No ECG and no accelerometer → no EDF.** An EDF+ of annotations only would show nothing
  in an EDF viewer (and edfio 0.4 cannot write one); the RR intervals go to Kubios text or
  CSV, which the refusal says.
* **Header.** Patient ``X X X <name>`` with the profile's name when the recording has one,
  else ``X X X X``; recording ``Startdate dd-MMM-yyyy X X pet-biofeedback`` — never a device
  name or address. Start date and time from the recording header (to the whole second).
  Anonymised, or when the input has no date (XDF): ``X X X X``, ``Startdate X X X X`` and the
  EDF+ anonymised date 01.01.85 00.00.00; marker texts are left out (``"marker"`` only).
"""

from __future__ import annotations

import datetime as dt
import io
import math
from dataclasses import dataclass
from typing import Final

import edfio
import numpy as np

from pet_biofeedback import __version__
from pet_biofeedback.errors import ExportError
from pet_biofeedback.events import Gap, Marker, PacerPhase, Rating
from pet_biofeedback.session.export_input import ExportInput, SampleStream, ascii_field
from pet_biofeedback.signal._typing import FloatArray

__all__ = ["EDF_DIGITAL_RANGE", "EDF_GAP_S", "EDF_RECORD_S", "edf_bytes"]

EDF_RECORD_S: Final = 1.0  # whole samples per record at 130 Hz ECG and 25–200 Hz ACC
EDF_DIGITAL_RANGE: Final = (-32767, 32767)
# Frames further apart than this are a gap (a flat line and an annotation); BLE delivery
# jitter is well below it (ble-protocol.md §2.4: notifications within about a second).
EDF_GAP_S: Final = 1.0
# A stretch's fitted sample rate further than this from nominal is jitter on too few frames.
_MAX_RATE_ERROR: Final = 0.05
_EQUIPMENT: Final = "pet-biofeedback"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Channel:
    """One signal on the EDF grid."""

    label: str
    unit: str
    fs_hz: int
    values: FloatArray  # (n_records * fs_hz,)


def _stretch_times(stream: SampleStream) -> list[tuple[int, int, FloatArray]]:
    """``(first sample, stop, sample times)`` per contiguous stretch (module docstring)."""
    fs = stream.fs_hz
    n = stream.n_samples
    t_first = stream.t_last_s - (n - 1) / fs
    breaks = np.flatnonzero(t_first[1:] - stream.t_last_s[:-1] > EDF_GAP_S) + 1
    frame_edges = np.concatenate(([0], breaks, [n.size]))
    sample_edges = np.concatenate(([0], np.cumsum(n)))
    result: list[tuple[int, int, FloatArray]] = []
    for f_lo, f_hi in zip(frame_edges[:-1].tolist(), frame_edges[1:].tolist(), strict=True):
        lo, hi = int(sample_edges[f_lo]), int(sample_edges[f_hi])
        last_idx = sample_edges[f_lo + 1 : f_hi + 1] - 1 - lo  # index of each frame's last
        t_last = stream.t_last_s[f_lo:f_hi]
        rate = fs
        if f_hi - f_lo >= 2:
            slope, _ = np.polyfit(last_idx.astype(np.float64), t_last, 1)
            if slope > 0 and abs(1.0 / slope - fs) <= _MAX_RATE_ERROR * fs:
                rate = 1.0 / float(slope)
        # Least-squares offset for the chosen rate: the line through the frames' mean.
        offset = float(np.mean(t_last - last_idx / rate))
        result.append((lo, hi, offset + np.arange(hi - lo) / rate))
    return result


def _on_grid(
    stream: SampleStream, fs_int: int, n_grid: int, name: str
) -> tuple[FloatArray, list[tuple[float, float, str]]]:
    """The stream resampled onto the EDF grid (0 where it has no samples) and its
    ``signal lost`` annotations ``(onset_s, duration_s, text)``."""
    n_cols = 1 if stream.values.ndim == 1 else stream.values.shape[1]
    grid = np.zeros((n_grid, n_cols))
    covered = np.zeros(n_grid, dtype=bool)
    grid_t = np.arange(n_grid) / fs_int
    values = stream.values.reshape(stream.values.shape[0], n_cols)
    for lo, hi, t_s in _stretch_times(stream):
        g_lo = max(math.ceil(t_s[0] * fs_int - 1e-9), 0)
        g_hi = min(math.floor(t_s[-1] * fs_int + 1e-9) + 1, n_grid)
        if g_hi <= g_lo:
            continue
        for col in range(n_cols):  # x, y, z at most
            grid[g_lo:g_hi, col] = np.interp(grid_t[g_lo:g_hi], t_s, values[lo:hi, col])
        covered[g_lo:g_hi] = True
    # Holes: runs of uncovered grid points at least EDF_GAP_S long.
    lost: list[tuple[float, float, str]] = []
    padded = np.concatenate(([False], ~covered, [False]))
    starts = np.flatnonzero(padded[1:-1] & ~padded[:-2])
    stops = np.flatnonzero(padded[1:-1] & ~padded[2:]) + 1
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        if (b - a) / fs_int >= EDF_GAP_S:
            lost.append((a / fs_int, (b - a) / fs_int, f"{name} signal lost"))
    return grid, lost


def _whole_hz(fs_hz: float, what: str) -> int:
    fs_int = round(fs_hz * EDF_RECORD_S)
    if fs_int < 1 or not math.isfinite(fs_hz):
        raise ExportError(f"the {what} rate ({fs_hz:g} Hz) is too low")
    return int(fs_int)


def _annotations(source: ExportInput, *, anonymise: bool) -> list[tuple[float, float, str]]:
    """Pacer changes, markers, ratings and gaps as ``(onset_s, duration_s or NaN, text)``."""
    result: list[tuple[float, float, str]] = []
    for event in source.events:
        match event:
            case PacerPhase():
                text = (
                    f"pacer {event.breaths_per_min:g} breaths/min (inhale {event.inhale_s:g} s, "
                    f"exhale {event.exhale_s:g} s)"
                )
                result.append((event.t, math.nan, text))
            case Marker():
                result.append((event.t, math.nan, "marker" if anonymise else event.text))
            case Rating():
                result.append((event.t, math.nan, f"rating {event.kind} {event.value:g}"))
            case Gap():
                # t is when the gap was noticed; it began `seconds` earlier.
                onset = max(event.t - event.seconds, 0.0)
                result.append((onset, event.seconds, f"gap ({event.reason})"))
            case _:
                pass
    return result


def _header(
    source: ExportInput, *, anonymise: bool
) -> tuple[edfio.Patient, edfio.Recording, dt.time]:
    started = source.started_at
    if anonymise or started is None:
        return edfio.Patient(), edfio.Recording(), dt.time(0, 0, 0)
    name = ascii_field(source.profile_name) if source.profile_name else ""
    patient = edfio.Patient(name=name[:40]) if name else edfio.Patient()
    recording = edfio.Recording(startdate=started.date(), equipment_code=_EQUIPMENT)
    return patient, recording, started.time().replace(microsecond=0, tzinfo=None)


def edf_bytes(source: ExportInput, *, anonymise: bool) -> tuple[bytes, list[str]]:
    """The EDF+ file of an input (module docstring), and notes for the person who asked.

    Raises
    ------
    ExportError
        The input has neither ECG nor accelerometer.
    """
    ecg, acc = source.ecg, source.acc
    n_dropped = sum(s.n_other_rate for s in (ecg, acc) if s is not None)
    if ecg is None and acc is None:
        raise ExportError(
            (
                f"{source.path}: this recording has no ECG or accelerometer; export --to "
                "kubios or csv instead"
            ),
        )
    notes: list[str] = []
    if n_dropped:
        notes.append(f"{n_dropped} frames at a second sampling rate were left out")
    end_s = source.end_s
    n_records = max(math.ceil(end_s / EDF_RECORD_S - 1e-9), 1)
    channels: list[_Channel] = []
    annotations = _annotations(source, anonymise=anonymise)
    if ecg is not None:
        fs_int = _whole_hz(ecg.fs_hz, "ECG")
        grid, lost = _on_grid(ecg, fs_int, n_records * fs_int, "ECG")
        channels.append(_Channel(label="ECG", unit="uV", fs_hz=fs_int, values=grid[:, 0]))
        annotations.extend(lost)
    if acc is not None:
        fs_int = _whole_hz(acc.fs_hz, "accelerometer")
        grid, lost = _on_grid(acc, fs_int, n_records * fs_int, "ACC")
        for col, axis in enumerate("XYZ"):
            channels.append(
                _Channel(label=f"ACC {axis}", unit="mg", fs_hz=fs_int, values=grid[:, col])
            )
        annotations.extend(lost)
    padding_s = n_records * EDF_RECORD_S - end_s
    if padding_s > 1e-9:
        annotations.append((end_s, math.nan, "end of recording"))
        notes.append(f"the last data record is padded with {padding_s:.2f} s of flat line")
    signals = []
    for ch in channels:
        low, high = float(np.min(ch.values)), float(np.max(ch.values))
        if high <= low:  # a flat channel still needs a range
            low, high = low - 1.0, high + 1.0
        signals.append(
            edfio.EdfSignal(
                ch.values,
                ch.fs_hz,
                label=ch.label,
                physical_dimension=ch.unit,
                physical_range=(low, high),
                digital_range=EDF_DIGITAL_RANGE,
            )
        )
    patient, recording, starttime = _header(source, anonymise=anonymise)
    edf = edfio.Edf(
        signals,
        patient=patient,
        recording=recording,
        starttime=starttime,
        data_record_duration=EDF_RECORD_S,
        annotations=[
            edfio.EdfAnnotation(onset, None if math.isnan(d) else d, text)
            for onset, d, text in sorted(annotations)
        ],
    )
    buffer = io.BytesIO()
    edf.write(buffer)
    notes.append(
        f"EDF+ with {len(signals)} signal(s), {n_records} records of {EDF_RECORD_S:g} s, "
        f"{len(annotations)} annotation(s); written by pet-biofeedback {__version__}"
    )
    return buffer.getvalue(), notes
