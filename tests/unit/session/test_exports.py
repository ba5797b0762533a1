"""Kubios RR text and CSV exports (issue 7): round trips through our own readers."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from pet_biofeedback.errors import ConfigError, ExportError, InputFileError
from pet_biofeedback.session.analysis import analyze_file, report_dict
from pet_biofeedback.session.export_input import _align, beat_table, read_export_input
from pet_biofeedback.session.exports import (
    BEAT_COLUMNS,
    ExportOptions,
    export_file,
    windows_path,
)
from pet_biofeedback.session.importers import read_rr_text
from pet_biofeedback.signal import artifacts
from pet_biofeedback.signal.batch import AnalysisSettings
from tests.unit.session.test_export_edf import (
    ADDRESS,
    DEVICE_NAME,
    MARKER_TEXT,
    PROFILE,
    write_session,
)

REPO = Path(__file__).resolve().parents[3]
RR_TEXT = REPO / "recordings" / "resonance-6-per-min.rr.txt"
H10 = REPO / "recordings" / "h10-resonance-5.5.jsonl.gz"
STRAP = REPO / "recordings" / "strap-dropouts-ectopy.jsonl.gz"
OPTICAL = REPO / "recordings" / "optical-hr-only.jsonl.gz"


def read_csv(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")  # RFC 4180 line ends
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))


def _floats(rows: list[dict[str, str]], key: str) -> np.ndarray:
    return np.array([float(r[key]) if r[key] else math.nan for r in rows])


class TestKubios:
    @pytest.mark.parametrize("src", [RR_TEXT, H10, STRAP], ids=lambda p: p.name)
    def test_round_trip_gives_the_same_intervals(self, src: Path, tmp_path: Path) -> None:
        out = tmp_path / "rr.txt"
        export_file(src, out, ExportOptions(to="kubios"))
        measured = beat_table(read_export_input(src)).measured_rr_ms
        back = read_rr_text(out)
        assert back.unit == "ms"
        assert_array_equal(back.rr_ms, measured)

    def test_rr_text_input_comes_back_unchanged(self, tmp_path: Path) -> None:
        out = tmp_path / "rr.txt"
        export_file(RR_TEXT, out, ExportOptions(to="kubios"))
        assert_array_equal(read_rr_text(out).rr_ms, read_rr_text(RR_TEXT).rr_ms)

    def test_analyze_reads_the_export_as_it_reads_the_recording(self, tmp_path: Path) -> None:
        out = tmp_path / "h10.txt"
        export_file(H10, out, ExportOptions(to="kubios"))
        ours = report_dict(analyze_file(out, AnalysisSettings()))["summary"]
        theirs = report_dict(analyze_file(H10, AnalysisSettings(correction=True)))["summary"]
        assert ours["n_beats"] == theirs["n_beats"]
        assert ours["rmssd_ms"] == pytest.approx(theirs["rmssd_ms"], rel=1e-12)

    def test_header_lines_are_comments_with_the_date_unless_anonymised(
        self, tmp_path: Path
    ) -> None:
        src = write_session(tmp_path / "2026-03-04_session.jsonl")
        plain, anon = tmp_path / "plain.txt", tmp_path / "anon.txt"
        export_file(src, plain, ExportOptions(to="kubios"))
        export_file(src, anon, ExportOptions(to="kubios", anonymise=True))
        head = [ln for ln in plain.read_text().splitlines() if ln.startswith("#")]
        assert any("2026-03-04T14:05:06" in ln for ln in head)
        anon_bytes = anon.read_bytes()
        for secret in ("2026", "session.jsonl", ADDRESS, DEVICE_NAME, PROFILE, "Berg"):
            assert secret.encode() not in anon_bytes, secret
        # Only header lines differ: the numbers are the same.
        assert_array_equal(read_rr_text(plain).rr_ms, read_rr_text(anon).rr_ms)

    def test_gaps_are_named_in_the_header(self, tmp_path: Path) -> None:
        out = tmp_path / "strap.txt"
        export_file(STRAP, out, ExportOptions(to="kubios"))
        assert "# 2 gap(s) without beats were cut out" in out.read_text()


class TestCsvBeats:
    def test_columns_and_values_of_a_clean_recording(self, tmp_path: Path) -> None:
        out = tmp_path / "h10.csv"
        export_file(H10, out, ExportOptions(to="csv"))
        rows = read_csv(out)
        assert tuple(rows[0]) == BEAT_COLUMNS
        beats = beat_table(read_export_input(H10))
        assert_array_equal(_floats(rows, "rr_ms"), beats.rr_ms)
        assert_array_equal(_floats(rows, "nn_ms"), _floats(rows, "rr_ms"))  # nothing corrected
        # Beat times step by the intervals within a stretch.
        assert_allclose(np.diff(_floats(rows, "t_s")), _floats(rows, "rr_ms")[1:] / 1000.0)

    def test_missed_beat_gets_an_inserted_row_and_the_sums_agree(self, tmp_path: Path) -> None:
        out = tmp_path / "rr.csv"
        export_file(RR_TEXT, out, ExportOptions(to="csv"))
        rows = read_csv(out)
        flags = [r["artifact"] for r in rows]
        inserted = flags.index("missed_inserted")
        assert flags[inserted + 1] == "missed"
        assert rows[inserted]["rr_ms"] == ""
        nn = _floats(rows, "nn_ms")
        assert nn[inserted] + nn[inserted + 1] == pytest.approx(float(rows[inserted + 1]["rr_ms"]))
        corrected = artifacts.correct_rr(read_rr_text(RR_TEXT).rr_ms)
        assert_array_equal(nn[np.isfinite(nn)], corrected.nn_ms)
        assert np.all(np.diff(_floats(rows, "t_s")) > 0)
        assert {"ectopic"} <= set(flags)

    def test_gap_markers_on_the_first_beat_after_each_dropout(self, tmp_path: Path) -> None:
        out = tmp_path / "strap.csv"
        export_file(STRAP, out, ExportOptions(to="csv"))
        rows = read_csv(out)
        gaps = [(float(r["t_s"]), float(r["gap_before_s"])) for r in rows if r["gap_before_s"]]
        assert len(gaps) == 2
        # recordings/README.md: contact dropouts at 69–75 s and 151–157 s.
        assert 75.0 <= gaps[0][0] <= 78.0 and 157.0 <= gaps[1][0] <= 160.0
        assert all(5.0 <= g <= 9.0 for _, g in gaps)
        t = _floats(rows, "t_s")
        assert np.all(np.diff(t) > 0)

    def test_no_correction_leaves_nn_empty(self, tmp_path: Path) -> None:
        out = tmp_path / "rr.csv"
        export_file(RR_TEXT, out, ExportOptions(to="csv", correction=False))
        rows = read_csv(out)
        assert {r["nn_ms"] for r in rows} == {""}
        assert {r["artifact"] for r in rows} == {""}

    def test_text_is_quoted_per_rfc_4180(self) -> None:
        from pet_biofeedback.session.exports import _csv_bytes

        raw = _csv_bytes(["a", "b"], [['say "hi", then go', "x\ny"]])
        assert raw == b'a,b\r\n"say ""hi"", then go","x\ny"\r\n'


class TestAlign:
    def test_extra_beat_merged_keeps_both_measured_rows(self) -> None:
        rr = np.array([800.0, 300.0, 500.0, 810.0])
        nn = np.array([800.0, 800.0, 810.0])
        labels = np.array([0, artifacts.LABEL_EXTRA, 0], dtype=np.int8)
        rows = _align(rr, nn, labels)
        assert rows is not None
        assert [(i, flag) for i, _, flag in rows] == [
            (0, ""),
            (1, "extra_merged"),
            (2, "extra"),
            (3, ""),
        ]
        assert math.isnan(rows[1][1]) and rows[2][1] == 800.0

    def test_labels_that_do_not_add_up_give_none(self) -> None:
        rr = np.array([800.0, 1600.0, 810.0])
        nn = np.array([800.0, 800.0, 800.0, 810.0])
        labels = np.array([0, artifacts.LABEL_ECTOPIC, 0, 0], dtype=np.int8)
        assert _align(rr, nn, labels) is None


class TestCsvWindows:
    def test_every_measure_of_analyze_json_per_window(self, tmp_path: Path) -> None:
        out = tmp_path / "rr.csv"
        result = export_file(RR_TEXT, out, ExportOptions(to="csv", window_s=120, step_s=60))
        assert windows_path(out) == tmp_path / "rr-windows.csv"
        assert result.paths == (out, windows_path(out))
        rows = read_csv(windows_path(out))
        report = report_dict(analyze_file(RR_TEXT, AnalysisSettings(window_s=120.0, step_s=60.0)))
        assert len(rows) == len(report["windows"]) >= 4
        window = report["windows"][1]
        for key, value in window.items():
            if key == "artifacts":
                for k, v in value.items():
                    assert float(rows[1][f"artifacts_{k}"]) == pytest.approx(v)
            elif value is None:
                assert rows[1][key] == ""
            else:
                assert float(rows[1][key]) == pytest.approx(value, rel=1e-12), key

    def test_short_recording_gets_one_whole_row_and_a_note(self, tmp_path: Path) -> None:
        out = tmp_path / "h10.csv"
        result = export_file(H10, out, ExportOptions(to="csv"))
        rows = read_csv(windows_path(out))
        assert len(rows) == 1
        assert float(rows[0]["start_s"]) < 2.0 and float(rows[0]["end_s"]) > 118.0
        assert any("shorter than one 300-s window" in n for n in result.notes)


class TestOutputs:
    def test_existing_output_is_refused_without_force(self, tmp_path: Path) -> None:
        out = tmp_path / "rr.txt"
        out.write_text("keep me")
        with pytest.raises(ExportError, match="--force"):
            export_file(RR_TEXT, out, ExportOptions(to="kubios"))
        assert out.read_text() == "keep me"
        export_file(RR_TEXT, out, ExportOptions(to="kubios", force=True))
        assert out.read_text().startswith("# RR intervals")

    def test_existing_windows_file_is_refused_before_anything_is_written(
        self, tmp_path: Path
    ) -> None:
        out = tmp_path / "rr.csv"
        windows_path(out).write_text("keep me")
        with pytest.raises(ExportError, match=r"rr-windows\.csv"):
            export_file(RR_TEXT, out, ExportOptions(to="csv"))
        assert not out.exists()

    def test_missing_folder(self, tmp_path: Path) -> None:
        with pytest.raises(ExportError, match="does not exist"):
            export_file(RR_TEXT, tmp_path / "nope" / "rr.txt", ExportOptions(to="kubios"))

    def test_no_partial_file_and_no_temporary_left_on_failure(self, tmp_path: Path) -> None:
        with pytest.raises(ExportError):
            export_file(OPTICAL, tmp_path / "o.txt", ExportOptions(to="kubios"))
        assert list(tmp_path.iterdir()) == []

    def test_missing_input(self, tmp_path: Path) -> None:
        with pytest.raises(InputFileError, match="no such file"):
            export_file(tmp_path / "gone.jsonl", tmp_path / "x.txt", ExportOptions(to="kubios"))

    def test_unknown_format_is_a_config_error(self) -> None:
        with pytest.raises(ConfigError, match="kubios, csv, edf"):
            ExportOptions(to="xlsx")  # type: ignore[arg-type]  # the runtime check under test


def test_marker_text_is_in_no_rr_or_csv_export(tmp_path: Path) -> None:
    src = write_session(tmp_path / "s.jsonl")
    export_file(src, tmp_path / "s.csv", ExportOptions(to="csv"))
    for path in (tmp_path / "s.csv", tmp_path / "s-windows.csv"):
        raw = path.read_bytes()
        for secret in (MARKER_TEXT, ADDRESS, PROFILE, "2026-03"):
            assert secret.encode() not in raw


class TestXdfInput:
    """An LSL/XDF file: beats come from R peaks in its ECG, markers become annotations."""

    @pytest.fixture
    def xdf(self, tmp_path: Path) -> Path:
        from tests.unit.session.test_analysis_files import _spiky_ecg
        from tests.unit.session.test_sources import write_xdf

        t, ecg = _spiky_ecg(60.0, 130.0, 0.8)
        return write_xdf(
            tmp_path / "h10.xdf",
            [
                ("ECG", "ECG", 130, (100.0 + t).tolist(), ecg[:, None].tolist()),
                ("Markers", "Markers", 0, [130.0], ["eyes closed"]),
            ],
        )

    def test_kubios_from_ecg_r_peaks(self, xdf: Path, tmp_path: Path) -> None:
        out = tmp_path / "xdf.txt"
        export_file(xdf, out, ExportOptions(to="kubios"))
        assert "from ECG R-peaks" in out.read_text()
        rr = read_rr_text(out).rr_ms
        assert (
            rr.size == report_dict(analyze_file(xdf, AnalysisSettings()))["settings"]["input_beats"]
        )
        assert_allclose(rr, 800.0, atol=1000.0 / 130.0)

    def test_edf_has_the_ecg_the_marker_and_no_date(self, xdf: Path, tmp_path: Path) -> None:
        import pyedflib

        out = tmp_path / "xdf.edf"
        export_file(xdf, out, ExportOptions(to="edf"))
        with pyedflib.EdfReader(str(out)) as reader:
            assert reader.getSignalLabels() == ["ECG"]
            assert reader.getSampleFrequencies().tolist() == [130.0]
            onsets, _, texts = reader.readAnnotations()
        assert ("eyes closed", 30.0) in [
            (str(x), round(float(o), 6)) for x, o in zip(texts, onsets, strict=True)
        ]
        assert out.read_bytes()[88:168].decode().rstrip() == "Startdate X X X X"
