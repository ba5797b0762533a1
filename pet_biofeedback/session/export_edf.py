"""EDF+ export: ECG and accelerometer as signals, pacer changes, markers and gaps as
annotations, written with edfio.

Choices (README.md's `export` section says the same for users):

* **EDF+C with 1-s data records.** Every signal needs whole samples per record; 1 s gives
  130 ECG samples and 25/50/100/200 ACC samples at the Polar H10's rates. A signal is written
  at its nominal rate rounded to whole hertz.
* **Time comes from the recording.** Each contiguous stretch of samples (a frame stamped
  later than its samples account for by half a frame or more starts a new one) is laid on
  a straight time line fitted to its frames' time stamps (host times jitter; the strap's
  clock does not), then resampled onto the EDF's exact grid by linear interpolation. So the
  signal stays aligned with the annotations over an hour even though a strap's clock is off
  its nominal rate by up to 2 %, and a dropped frame does not shift the samples around it.
* **Gaps are a flat line, annotated.** EDF+C cannot hold gaps (edfio writes no EDF+D): where a
  signal has no samples for `EDF_GAP_S` or more, it is 0 and an annotation
  ``"<signal> signal lost"`` with its duration marks the stretch; shorter holes (a dropped
  frame) are bridged by the interpolation. The recording's own gap events become ``"gap …"``
  annotations.
* **Beats are not annotated**: the R peaks show in the ECG, and the intervals are in the
  CSV export (one annotation per beat would swamp an EDF viewer's annotation list).
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

__all__ = ["EDF_DIGITAL_RANGE", "EDF_GAP_S", "EDF_RECORD_S", "STRETCH_BREAK_FRAMES", "edf_bytes"]

EDF_RECORD_S: Final = 1.0  # whole samples per record at 130 Hz ECG and 25–200 Hz ACC
EDF_DIGITAL_RANGE: Final = (-32767, 32767)
# Samples missing for this long are a gap (a flat line and an annotation); shorter holes are
# bridged. BLE delivery jitter is well below it (ble-protocol.md §2.4).
EDF_GAP_S: Final = 1.0
# A frame stamped later than its samples account for by more than this fraction of its own
# duration starts a new stretch with its own time line: a dropped frame (0.56 s of ECG, 0.18 s
# of ACC at the H10's frame sizes) must not squeeze the samples around it. Host jitter of a
# frame's time stamp (tens of ms) stays below half a frame.
STRETCH_BREAK_FRAMES: Final = 0.5
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
    late_s = t_first[1:] - stream.t_last_s[:-1] - 1.0 / fs
    breaks = np.flatnonzero(late_s > STRETCH_BREAK_FRAMES * n[1:] / fs) + 1
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
    """The stream resampled onto the EDF grid and its ``signal lost`` annotations
    ``(onset_s, duration_s, text)``: holes of `EDF_GAP_S` or more (and before the first or
    after the last sample) are 0, shorter ones are bridged by the interpolation."""
    n_cols = 1 if stream.values.ndim == 1 else stream.values.shape[1]
    values = stream.values.reshape(stream.values.shape[0], n_cols)
    stretches = _stretch_times(stream)
    t_all = np.concatenate([t for _, _, t in stretches])
    # Fitted stretches may overlap by a sample or two: keep time strictly increasing.
    previous_max = np.maximum.accumulate(np.concatenate(([-np.inf], t_all[:-1])))
    keep = t_all > previous_max
    t_all, values = t_all[keep], values[keep]
    grid_t = np.arange(n_grid) / fs_int
    grid = np.zeros((n_grid, n_cols))
    inside = (grid_t >= t_all[0] - 1e-9) & (grid_t <= t_all[-1] + 1e-9)
    for col in range(n_cols):  # x, y, z at most
        grid[inside, col] = np.interp(grid_t[inside], t_all, values[:, col])
    ends = np.array([t[-1] for _, _, t in stretches])
    starts = np.array([t[0] for _, _, t in stretches])
    hole_starts = np.concatenate(([0.0], ends))
    hole_stops = np.concatenate((starts, [n_grid / fs_int]))
    lost: list[tuple[float, float, str]] = []
    for a_s, b_s in zip(hole_starts.tolist(), hole_stops.tolist(), strict=True):
        if b_s - a_s < EDF_GAP_S:
            continue
        grid[(grid_t > a_s) & (grid_t < b_s)] = 0.0
        lost.append((a_s, b_s - a_s, f"{name} signal lost"))
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
