"""EDF+ export (issue 7), read back by an independent reader: pyedflib (EDFlib's C code)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyedflib
import pytest
from numpy.testing import assert_allclose

from pet_biofeedback.errors import ExportError
from pet_biofeedback.events import (
    AccFrame,
    EcgFrame,
    Event,
    Gap,
    Marker,
    PacerPhase,
    Rating,
    RRIntervals,
)
from pet_biofeedback.recording import RecordingWriter
from pet_biofeedback.session.export_edf import EDF_DIGITAL_RANGE
from pet_biofeedback.session.exports import ExportOptions, export_file

REPO = Path(__file__).resolve().parents[3]
H10 = REPO / "recordings" / "h10-resonance-5.5.jsonl.gz"
STRAP = REPO / "recordings" / "strap-dropouts-ectopy.jsonl.gz"

DURATION_S = 60.0
ECG_NOMINAL_HZ = 130.0
ACC_NOMINAL_HZ = 200.0
CLOCK_FACTOR = 1.01  # the strap's clock runs 1 % fast against the host's (importers.py: ≤ 2 %)
LOST_S = (20.0, 25.0)  # no ECG or ACC frames arrive in this stretch
DROPPED_FRAME_T_S = (10.0, 40.0)  # the one frame around each of these times never arrives
STARTED_AT = datetime(2026, 3, 4, 14, 5, 6, 789000, tzinfo=timezone(timedelta(hours=1)))
PROFILE = "Zoë Berg"
ADDRESS = "A0:9E:1A:12:34:56"
DEVICE_NAME = "Polar H10 9A1B2C3D"
MARKER_TEXT = "felt dizzy after the call with Dr Smith"
PACER = ((0.0, 6.0, 4.0, 6.0), (31.5, 5.5, 4.4, 6.5))  # t, breaths/min, inhale, exhale
MARKER_T = 42.25


def ecg_truth_uv(t_s: np.ndarray) -> np.ndarray:
    """A smooth test ECG: slow enough that linear interpolation at 130 Hz is near exact."""
    return 900.0 * np.sin(2 * np.pi * 0.7 * t_s) + 150.0 * np.cos(2 * np.pi * 0.13 * t_s)


ECG_MAX_SLOPE_UV_PER_S = 2 * np.pi * (900.0 * 0.7 + 150.0 * 0.13)


def acc_truth_mg(t_s: np.ndarray) -> np.ndarray:
    return np.column_stack(
        (
            300.0 * np.sin(2 * np.pi * 0.1 * t_s),
            -120.0 + 40.0 * np.cos(2 * np.pi * 0.25 * t_s),
            np.full(t_s.size, 980.0),
        )
    )


def _frames(
    nominal_hz: float, per_frame: int, rng: np.random.Generator
) -> list[tuple[float, np.ndarray]]:
    """(frame time stamp, sample times) of a strap whose clock is off and whose frames arrive
    with ±20 ms host jitter, with nothing during LOST_S and single frames dropped."""
    true_hz = nominal_hz * CLOCK_FACTOR
    t_samples = 0.3 + np.arange(int((DURATION_S - 0.8) * true_hz)) / true_hz
    frames = []
    for lo in range(0, t_samples.size - per_frame + 1, per_frame):
        times = t_samples[lo : lo + per_frame]
        if times[-1] >= LOST_S[0] and times[0] <= LOST_S[1]:
            continue
        if any(times[0] <= t <= times[-1] for t in DROPPED_FRAME_T_S):
            continue
        frames.append((float(times[-1] + rng.uniform(-0.02, 0.02)), times))
    return frames


def session_events(seed: int = 7) -> list[Event]:
    rng = np.random.default_rng(seed)
    events: list[Event] = []
    for t, times in _frames(ECG_NOMINAL_HZ, 73, rng):
        events.append(EcgFrame(t, ECG_NOMINAL_HZ, tuple(np.round(ecg_truth_uv(times)).tolist())))
    for t, times in _frames(ACC_NOMINAL_HZ, 36, rng):
        rows = np.round(acc_truth_mg(times)).tolist()
        events.append(AccFrame(t, ACC_NOMINAL_HZ, tuple((x, y, z) for x, y, z in rows)))
    beat_t = np.arange(0.9, DURATION_S, 0.85)
    for k in range(1, beat_t.size):
        if not LOST_S[0] <= beat_t[k] <= LOST_S[1] + 1.0:
            events.append(RRIntervals(float(beat_t[k]), (850.0,)))
    for t, bpm, inhale, exhale in PACER:
        events.append(PacerPhase(t, bpm, inhale, exhale))
    events.append(Marker(MARKER_T, MARKER_TEXT))
    events.append(Rating(50.0, "pain", 3.0))
    events.append(Gap(LOST_S[1], LOST_S[1] - LOST_S[0], "link lost"))
    events.append(RRIntervals(DURATION_S - 0.5, (850.0,)))
    events.sort(key=lambda e: e.t)
    return events


def write_session(path: Path, events: list[Event] | None = None) -> Path:
    """A recording with everything an export should carry and everything it should hide."""
    with RecordingWriter(
        path,
        device={"kind": "ble", "name": DEVICE_NAME, "address": ADDRESS},
        settings={"source": f"ble:{ADDRESS}", "profile": {"name": PROFILE}},
        started_at=STARTED_AT,
    ) as writer:
        for event in session_events() if events is None else events:
            writer.write(event)
    return path


def export_edf(src: Path, out: Path, *, anonymise: bool = False) -> Path:
    export_file(src, out, ExportOptions(to="edf", anonymise=anonymise))
    return out


@pytest.fixture
def session_edf(tmp_path: Path) -> Path:
    return export_edf(write_session(tmp_path / "s.jsonl.gz"), tmp_path / "s.edf")


def _annotations(reader: pyedflib.EdfReader) -> list[tuple[float, float, str]]:
    onsets, durations, texts = reader.readAnnotations()
    return list(zip(onsets.tolist(), durations.tolist(), [str(t) for t in texts], strict=True))


def _inside(t_s: np.ndarray) -> np.ndarray:
    """Grid times with signal on both sides: not near the start, end, loss or dropped frames."""
    near_drop = np.any([np.abs(t_s - t) < 1.0 for t in DROPPED_FRAME_T_S], axis=0)
    lost = (t_s > LOST_S[0] - 1.0) & (t_s < LOST_S[1] + 1.0)
    inside: np.ndarray = (t_s > 0.5) & (t_s < 59.0) & ~lost & ~near_drop
    return inside


def _quantum(reader: pyedflib.EdfReader, channel: int) -> float:
    span = reader.getPhysicalMaximum(channel) - reader.getPhysicalMinimum(channel)
    return float(span / (reader.getDigitalMaximum(channel) - reader.getDigitalMinimum(channel)))


class TestEdfSignals:
    def test_channels_rates_and_header(self, session_edf: Path) -> None:
        with pyedflib.EdfReader(str(session_edf)) as reader:
            assert reader.filetype == pyedflib.FILETYPE_EDFPLUS
            assert reader.signals_in_file == 4
            assert reader.getSignalLabels() == ["ECG", "ACC X", "ACC Y", "ACC Z"]
            assert_allclose(reader.getSampleFrequencies(), [130.0, 200.0, 200.0, 200.0])
            assert [reader.getPhysicalDimension(c) for c in range(4)] == ["uV"] + ["mg"] * 3
            assert reader.getDigitalMaximum(0) == EDF_DIGITAL_RANGE[1]
            assert reader.getDigitalMinimum(0) == EDF_DIGITAL_RANGE[0]
            assert reader.getFileDuration() == 60
            assert reader.getStartdatetime() == datetime(2026, 3, 4, 14, 5, 6)
            assert reader.getPatientName() == "Zoe Berg"  # EDF+ writes "Zoe_Berg"
            assert reader.getEquipment() == "pet-biofeedback"

    def test_ecg_is_on_the_hosts_timeline_despite_clock_error_and_jitter(
        self, session_edf: Path
    ) -> None:
        # Laid sample by sample at the nominal 130 Hz, a 1 % fast clock would put the ECG
        # 0.6 s off by the end; the fitted time line keeps it within interpolation error.
        with pyedflib.EdfReader(str(session_edf)) as reader:
            ecg = reader.readSignal(0)
            quantum = _quantum(reader, 0)
        t = np.arange(ecg.size) / 130.0
        inside = _inside(t)
        # Within 10 ms of the right time: the fitted lines average ±20 ms of jitter over
        # 17–34 frames; the test ECG changes by at most ECG_MAX_SLOPE_UV_PER_S.
        assert_allclose(
            ecg[inside], ecg_truth_uv(t[inside]), atol=0.010 * ECG_MAX_SLOPE_UV_PER_S + quantum
        )

    def test_acc_axes_round_trip(self, session_edf: Path) -> None:
        with pyedflib.EdfReader(str(session_edf)) as reader:
            acc = np.column_stack([reader.readSignal(c) for c in (1, 2, 3)])
            quanta = [_quantum(reader, c) for c in (1, 2, 3)]
        t = np.arange(acc.shape[0]) / 200.0
        inside = _inside(t)
        truth = acc_truth_mg(t[inside])
        for col in range(3):
            assert_allclose(acc[inside, col], truth[:, col], atol=5.0 + quanta[col])

    def test_lost_signal_is_flat_and_annotated(self, session_edf: Path) -> None:
        with pyedflib.EdfReader(str(session_edf)) as reader:
            ecg = reader.readSignal(0)
            quantum = _quantum(reader, 0)
            annotations = _annotations(reader)
        t = np.arange(ecg.size) / 130.0
        assert np.all(np.abs(ecg[(t > LOST_S[0] + 0.5) & (t < LOST_S[1] - 0.5)]) <= quantum)
        (lost,) = [a for a in annotations if a[2] == "ECG signal lost"]
        assert lost[0] == pytest.approx(LOST_S[0], abs=0.6)
        assert lost[0] + lost[1] == pytest.approx(LOST_S[1], abs=0.6)
        assert any(a[2] == "ACC signal lost" for a in annotations)
        # A single dropped frame (about half a second) is bridged, not announced.
        assert len([a for a in annotations if a[2].endswith("signal lost")]) == 2

    def test_sample_recording_ecg_matches_its_frames(self, tmp_path: Path) -> None:
        from pet_biofeedback.recording import read_recording

        out = export_edf(H10, tmp_path / "h10.edf")
        frames = [e for e in read_recording(H10).events if isinstance(e, EcgFrame)]
        first = frames[0]
        with pyedflib.EdfReader(str(out)) as reader:
            ecg = reader.readSignal(0)
            quantum = _quantum(reader, 0)
        # The simulated strap's frames are exact: sample i of the first frame lies on the grid.
        k0 = round((first.t - (len(first.ecg_uv) - 1) / 130.0) * 130.0)
        assert_allclose(ecg[k0 : k0 + 73], first.ecg_uv, atol=quantum + 1e-6)


class TestEdfAnnotations:
    def test_pacer_marker_rating_and_gap_at_their_onsets(self, session_edf: Path) -> None:
        with pyedflib.EdfReader(str(session_edf)) as reader:
            annotations = _annotations(reader)
        by_text = {text: (onset, duration) for onset, duration, text in annotations}
        assert by_text["pacer 6 breaths/min (inhale 4 s, exhale 6 s)"][0] == 0.0
        assert by_text["pacer 5.5 breaths/min (inhale 4.4 s, exhale 6.5 s)"][0] == 31.5
        assert by_text[MARKER_TEXT][0] == MARKER_T
        assert by_text["rating pain 3"][0] == 50.0
        assert by_text["gap (link lost)"] == (LOST_S[0], LOST_S[1] - LOST_S[0])

    def test_padding_of_the_last_record_is_annotated(self, tmp_path: Path) -> None:
        events = [e for e in session_events() if e.t <= 58.7]
        src = write_session(tmp_path / "short.jsonl", events)
        with pyedflib.EdfReader(str(export_edf(src, tmp_path / "short.edf"))) as reader:
            assert reader.getFileDuration() == 59
            ends = [a for a in _annotations(reader) if a[2] == "end of recording"]
        assert ends and ends[0][0] == pytest.approx(max(e.t for e in events))


class TestEdfRefusals:
    def test_recording_without_ecg_or_acc_is_refused_with_the_alternatives(
        self, tmp_path: Path
    ) -> None:
        with pytest.raises(ExportError) as info:
            export_edf(STRAP, tmp_path / "strap.edf")
        assert "no ECG or accelerometer" in info.value.user_message
        assert "--to kubios or csv" in info.value.user_message
        assert not (tmp_path / "strap.edf").exists()


class TestEdfAnonymise:
    def test_anonymised_header_is_the_edf_plus_anonymous_form(self, tmp_path: Path) -> None:
        src = write_session(tmp_path / "s.jsonl")
        out = export_edf(src, tmp_path / "anon.edf", anonymise=True)
        raw = out.read_bytes()
        assert raw[8:88].decode("ascii").rstrip() == "X X X X"
        assert raw[88:168].decode("ascii").rstrip() == "Startdate X X X X"
        assert raw[168:184] == b"01.01.8500.00.00"
        for secret in (PROFILE, "Zoe", "Berg", ADDRESS, "9A1B2C3D", "dizzy", "2026", "MAR"):
            assert secret.encode("utf-8") not in raw, secret
        with pyedflib.EdfReader(str(out)) as reader:
            texts = [a[2] for a in _annotations(reader)]
        assert "marker" in texts

    def test_not_anonymised_never_holds_the_device(self, session_edf: Path) -> None:
        raw = session_edf.read_bytes()
        assert b"04-MAR-2026" in raw[88:168]
        for secret in (ADDRESS, "9A1B2C3D", "Polar H10"):
            assert secret.encode("utf-8") not in raw, secret


def test_frame_times_jitter_only_within_the_gap_threshold() -> None:
    # The fixture must exercise the fit: its jitter is real but below EDF_GAP_S.
    from pet_biofeedback.session.export_edf import EDF_GAP_S

    frames = [e for e in session_events() if isinstance(e, EcgFrame)]
    steps = np.diff([f.t for f in frames])
    assert steps.std() > 0.005
    assert math.isclose(float(np.median(steps)), 73 / 130 / 1.01, abs_tol=0.005)
    assert float(np.max(steps)) > EDF_GAP_S
