"""Tests for pet_biofeedback.session.sources (SRC strings) and the file importers as events."""

from __future__ import annotations

import asyncio
import json
import math
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from pet_biofeedback.errors import ConfigError, DeviceError, InputFileError, PetBiofeedbackError
from pet_biofeedback.events import AccFrame, EcgFrame, Event, Marker, RRIntervals
from pet_biofeedback.firmware_bridge.replay import ReplaySource
from pet_biofeedback.firmware_bridge.simulated import SimulatedStrap
from pet_biofeedback.session import sources
from pet_biofeedback.session.importers import (
    ACC_SAMPLES_PER_FRAME,
    ECG_SAMPLES_PER_FRAME,
    read_rr_text,
    rr_text_events,
    xdf_events,
)
from pet_biofeedback.session.sources import (
    SOURCE_FORMS,
    ImportedFileSource,
    describe_source,
    open_source,
)

TIMEOUT_S = 30.0
REPO = Path(__file__).resolve().parents[3]
RR_SAMPLE = REPO / "recordings" / "resonance-6-per-min.rr.txt"
H10_SAMPLE = REPO / "recordings" / "h10-resonance-5.5.jsonl.gz"


# --- A minimal XDF writer (XDF 1.0: magic, then [length][tag][content] chunks) ----------------


def _chunk(tag: int, content: bytes) -> bytes:
    body = struct.pack("<H", tag) + content
    return bytes([8]) + struct.pack("<Q", len(body)) + body


def _count(n: int) -> bytes:
    return bytes([4]) + struct.pack("<I", n)


def write_xdf(
    path: Path,
    streams: Sequence[tuple[str, str, float, Sequence[float], Sequence[object]]],
) -> Path:
    """Streams ``(name, type, nominal_srate, times, values)``; values rows or strings."""
    out = [b"XDF:", _chunk(1, b'<?xml version="1.0"?><info><version>1.0</version></info>')]
    for sid, (name, kind, srate, times, values) in enumerate(streams, start=1):
        strings = isinstance(values[0], str)
        n_ch = 1 if strings else len(values[0])  # type: ignore[arg-type]  # rows
        fmt = "string" if strings else "float32"
        xml = (
            f'<?xml version="1.0"?><info><name>{name}</name><type>{kind}</type>'
            f"<channel_count>{n_ch}</channel_count><nominal_srate>{srate}</nominal_srate>"
            f"<channel_format>{fmt}</channel_format><created_at>0</created_at></info>"
        )
        out.append(_chunk(2, struct.pack("<I", sid) + xml.encode()))
        body = bytearray(struct.pack("<I", sid) + _count(len(times)))
        for t, value in zip(times, values, strict=True):
            body += bytes([8]) + struct.pack("<d", t)
            if isinstance(value, str):
                body += _count(len(value.encode())) + value.encode()
            else:
                body += struct.pack(f"<{n_ch}f", *value)  # type: ignore[misc]  # a row
        out.append(_chunk(3, bytes(body)))
        footer = (
            f'<?xml version="1.0"?><info><first_timestamp>{times[0]}</first_timestamp>'
            f"<last_timestamp>{times[-1]}</last_timestamp>"
            f"<sample_count>{len(times)}</sample_count></info>"
        )
        out.append(_chunk(6, struct.pack("<I", sid) + footer.encode()))
    path.write_bytes(b"".join(out))
    return path


@pytest.fixture
def xdf_file(tmp_path: Path) -> Path:
    ecg_t = 100.0 + np.arange(130 * 20) / 130.0
    ecg = np.round(300 * np.sin(2 * np.pi * ecg_t))[:, None]
    acc_t = 99.5 + np.arange(50 * 20) / 50.0
    acc = np.column_stack(
        (np.arange(acc_t.size) % 7, np.zeros(acc_t.size), np.full(acc_t.size, 990))
    )
    return write_xdf(
        tmp_path / "h10.xdf",
        [
            ("H10 ECG", "ECG", 130, ecg_t.tolist(), ecg.tolist()),
            ("H10 ACC", "ACC", 50, acc_t.tolist(), acc.tolist()),
            ("keys", "Markers", 0, [105.0, 110.0], ["start", "stop"]),
        ],
    )


async def play_all(source: object) -> list[Event]:
    async with asyncio.timeout(TIMEOUT_S), source:  # type: ignore[attr-defined]  # a source
        return [event async for event in source]  # type: ignore[attr-defined]


# --- open_source -------------------------------------------------------------------------------


class TestOpenSource:
    def test_sim_spec_makes_a_simulated_strap(self) -> None:
        source = open_source("sim:resonance=6,seed=3,ectopy=0.01", speed=math.inf)
        assert isinstance(source, SimulatedStrap)
        assert source.config.seed == 3 and source.config.resonance_breaths_per_min == 6.0

    def test_bare_sim_gives_the_defaults(self) -> None:
        source = open_source("sim")
        assert isinstance(source, SimulatedStrap) and source.config.seed == 0

    def test_recording_path_makes_a_replay(self) -> None:
        assert isinstance(open_source(str(H10_SAMPLE), speed=math.inf), ReplaySource)

    def test_rr_text_and_xdf_make_imported_sources(self, xdf_file: Path) -> None:
        assert isinstance(open_source(str(RR_SAMPLE)), ImportedFileSource)
        assert isinstance(open_source(str(xdf_file)), ImportedFileSource)

    @pytest.mark.parametrize(
        ("spec", "mentions"),
        [
            ("", "no source"),
            ("nonsense", "unknown source 'nonsense'"),
            ("emulated:h11", "unknown emulated strap 'h11'"),
            ("emulated", "unknown emulated strap ''"),
            ("ble:", "address or a name"),
        ],
    )
    def test_nonsense_lists_the_valid_forms(self, spec: str, mentions: str) -> None:
        with pytest.raises(ConfigError) as info:
            open_source(spec)
        assert mentions in str(info.value)
        assert SOURCE_FORMS in info.value.user_message

    def test_bad_sim_setting_lists_the_keys(self) -> None:
        with pytest.raises(ConfigError, match="valid keys: seed"):
            open_source("sim:bogus=1")

    @pytest.mark.parametrize("spec", ["sim", str(RR_SAMPLE), "ble"])
    def test_faults_only_for_emulated_straps(self, spec: str) -> None:
        with pytest.raises(ConfigError, match="emulated"):
            open_source(spec, faults="disconnect-every=15s")

    def test_a_real_strap_runs_in_real_time_only(self) -> None:
        with pytest.raises(ConfigError, match="real time"):
            open_source("ble:Polar H10", speed=2.0)

    @pytest.mark.parametrize("speed", [0.0, -1.0, math.nan])
    def test_bad_speed(self, speed: float) -> None:
        with pytest.raises(ConfigError, match="speed"):
            open_source("sim", speed=speed)

    @pytest.mark.parametrize("name", ["missing.jsonl", "missing.jsonl.gz", "missing.xdf"])
    def test_missing_files_are_named(self, tmp_path: Path, name: str) -> None:
        with pytest.raises(InputFileError, match="no such file"):
            open_source(str(tmp_path / name))

    def test_folder_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(InputFileError, match="folder"):
            open_source(str(tmp_path))

    def test_a_file_named_like_a_source_is_a_file(self, tmp_path: Path) -> None:
        path = tmp_path / "sim"
        path.write_text("800\n810\n820\n")
        assert isinstance(open_source(str(path)), ImportedFileSource)

    def test_missing_bluetooth_module_is_a_device_error_not_an_import_error(self) -> None:
        with pytest.raises(DeviceError) as info:
            sources._import_bridge("no_such_module", "Not available; install the extra.")
        assert info.value.user_message == "Not available; install the extra."
        assert isinstance(info.value.__cause__, ImportError)

    def test_emulated_source_is_built_or_explained(self) -> None:
        # Whether the optional extra is installed or not, no ImportError leaks; the strap
        # itself is built when opened (its virtual radio needs the running loop).
        try:
            source = open_source("emulated:h10", speed=2.0)
        except DeviceError as exc:
            assert "emulated" in exc.user_message.lower()
        else:
            assert hasattr(source, "__aenter__") and hasattr(source, "__anext__")

    def test_emulated_straps_have_no_max_speed(self) -> None:
        with pytest.raises(ConfigError, match="--speed 10"):
            open_source("emulated:strap", speed=math.inf)

    @pytest.mark.parametrize("speed", [21.0, 50.0, 200.0, 1000.0])
    def test_emulated_speed_is_capped_because_ble_timeouts_run_on_real_time(
        self, speed: float
    ) -> None:
        # At these speeds the recordings came out empty (1000: 1 event, 200: 0 beats).
        with pytest.raises(ConfigError, match="at most 20 times real time") as info:
            open_source("emulated:h10", speed=speed)
        assert "real time" in info.value.user_message and "timeouts" in info.value.user_message

    def test_emulated_speed_up_to_the_cap_is_accepted(self) -> None:
        assert sources.MAX_EMULATED_SPEED == 20.0
        try:
            open_source("emulated:h10", speed=sources.MAX_EMULATED_SPEED)
        except DeviceError:
            pytest.skip("the emulated extra is not installed")

    @pytest.mark.parametrize("spec", ["SIM:seed=3", "Sim:seed=3", "SIM"])
    def test_upper_case_sim_kind_is_parsed(self, spec: str) -> None:
        source = open_source(spec, speed=math.inf)
        assert isinstance(source, SimulatedStrap)
        assert source.config.seed == (3 if "seed" in spec else 0)
        assert describe_source(spec)["kind"] == "simulated"

    def test_bad_fault_spec_is_refused_before_opening(self) -> None:
        with pytest.raises(PetBiofeedbackError) as info:
            open_source("emulated:h10", faults="explode-every=3s")
        assert isinstance(info.value, ConfigError | DeviceError)

    @pytest.mark.parametrize(
        "spec", ["sim:seed=2,ecg=off", "emulated:h10", "ble", "ble:Polar H10 1A", str(RR_SAMPLE)]
    )
    def test_description_is_json_for_the_header(self, spec: str) -> None:
        description = describe_source(spec, speed=math.inf)
        assert json.loads(json.dumps(description, allow_nan=False)) == description
        assert description["kind"] in ("simulated", "emulated", "ble", "file")


# --- Files as events ---------------------------------------------------------------------------


class TestRrTextEvents:
    def test_intervals_round_trip_grouped_per_second(self) -> None:
        events = rr_text_events(RR_SAMPLE)
        assert all(isinstance(e, RRIntervals) for e in events)
        rr = [v for e in events if isinstance(e, RRIntervals) for v in e.rr_ms]
        assert rr == read_rr_text(RR_SAMPLE).rr_ms.tolist()
        t = np.array([e.t for e in events])
        beat_t = np.cumsum(rr) / 1000.0
        sizes = [len(e.rr_ms) for e in events if isinstance(e, RRIntervals)]
        # Each event is stamped with its last beat (events.RRIntervals) ...
        assert_allclose(t, beat_t[np.cumsum(sizes) - 1], rtol=0, atol=1e-9)
        # ... and holds the beats of one whole second (n - 1, n], one event per second.
        second = np.repeat(np.ceil(t), sizes)
        assert np.all(np.ceil(beat_t) == second)
        assert np.all(np.diff(np.ceil(t)) > 0)

    async def test_rr_text_replays_through_a_source(self) -> None:
        played = await play_all(open_source(str(RR_SAMPLE), speed=math.inf))
        assert played == rr_text_events(RR_SAMPLE)

    async def test_bad_rr_file_fails_on_opening_with_the_file_named(self, tmp_path: Path) -> None:
        path = tmp_path / "bad.txt"
        path.write_text("hello\nworld\n")
        with pytest.raises(InputFileError, match=r"bad\.txt"):
            await play_all(open_source(str(path), speed=math.inf))


class TestXdfEvents:
    def test_ecg_acc_frames_and_markers(self, xdf_file: Path) -> None:
        events = xdf_events(xdf_file)
        ecg = [e for e in events if isinstance(e, EcgFrame)]
        acc = [e for e in events if isinstance(e, AccFrame)]
        markers = [e for e in events if isinstance(e, Marker)]
        assert [e.t for e in events] == sorted(e.t for e in events)
        assert {len(e.ecg_uv) for e in ecg[:-1]} == {ECG_SAMPLES_PER_FRAME}
        assert {len(e.acc_mg) for e in acc[:-1]} == {ACC_SAMPLES_PER_FRAME}
        ecg_uv = np.concatenate([e.ecg_uv for e in ecg])
        assert ecg_uv.size == 130 * 20
        # Times: the ACC started 0.5 s before the ECG, so it starts at 0 s.
        first_acc_sample_t = acc[0].t - (len(acc[0].acc_mg) - 1) / acc[0].fs_hz
        first_ecg_sample_t = ecg[0].t - (len(ecg[0].ecg_uv) - 1) / ecg[0].fs_hz
        assert first_acc_sample_t == pytest.approx(0.0, abs=1e-6)
        assert first_ecg_sample_t == pytest.approx(0.5, abs=1e-6)
        assert_allclose(ecg_uv[:5], np.round(300 * np.sin(2 * np.pi * (100 + np.arange(5) / 130))))
        assert [(round(m.t, 6), m.text) for m in markers] == [(5.5, "start"), (10.5, "stop")]
        assert ecg[0].fs_hz == pytest.approx(130.0)

    def test_frames_never_span_a_gap(self, tmp_path: Path) -> None:
        t = np.concatenate((np.arange(1300) / 130.0, 20.0 + np.arange(1300) / 130.0))
        path = write_xdf(tmp_path / "gap.xdf", [("ECG", "ECG", 130, t.tolist(), [[0.0]] * t.size)])
        frames = [e for e in xdf_events(path) if isinstance(e, EcgFrame)]
        assert sum(len(f.ecg_uv) for f in frames) == t.size
        for frame in frames:  # each frame's samples lie on one side of the gap
            first = frame.t - (len(frame.ecg_uv) - 1) / frame.fs_hz
            assert (frame.t < 10.5) == (first < 10.5)

    async def test_xdf_replays_through_a_source(self, xdf_file: Path) -> None:
        played = await play_all(open_source(str(xdf_file), speed=math.inf))
        assert played == xdf_events(xdf_file)

    def test_not_xdf(self, tmp_path: Path) -> None:
        path = tmp_path / "x.xdf"
        path.write_text("not xdf")
        with pytest.raises(InputFileError, match="XDF"):
            xdf_events(path)


class TestPrivacyOfSourceDescriptions:
    """Issue 6: a file by its name (a folder can hold a patient's name), no strap address."""

    def test_a_file_source_is_described_by_its_name(self, tmp_path: Path) -> None:
        folder = tmp_path / "Jane Doe"
        folder.mkdir()
        path = folder / "rr.txt"
        path.write_text("800\n810\n")
        assert sources.describe_source(str(path))["path"] == "rr.txt"
        assert sources.recorded_source(str(path)) == "rr.txt"
        imported = sources.ImportedFileSource(path, rr_text_events)
        assert imported.device_info == {"kind": "file", "path": "rr.txt"}

    @pytest.mark.parametrize(
        "address",
        ["A0:9E:1A:12:34:56", "a0-9e-1a-12-34-56", "12345678-9ABC-DEF0-1234-56789ABCDEF0"],
    )
    def test_a_strap_address_is_left_out_unless_asked_for(self, address: str) -> None:
        spec = f"ble:{address}"
        assert sources.recorded_source(spec) == "ble"
        assert sources.describe_source(spec)["target"] is None
        assert sources.recorded_source(spec, keep_device_id=True) == spec
        assert sources.describe_source(spec, keep_device_id=True)["target"] == address

    def test_a_strap_name_is_kept(self) -> None:
        assert sources.recorded_source("ble:Polar H10 1A2B3C4D") == "ble:Polar H10 1A2B3C4D"
