"""Tests for pet_biofeedback.cli: the ``analyze`` command (issue 2's contract)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose

from pet_biofeedback.cli import main

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "recordings" / "resonance-6-per-min.rr.txt"

ARTIFACT_KEYS = {"ectopic", "long_short", "missed", "extra", "corrected_pct"}
SUMMARY_KEYS = {
    "n_beats", "duration_s", "artifacts", "mean_rr_ms", "sdnn_ms", "rmssd_ms", "sdsd_ms",
    "pnn50_pct", "mean_hr_bpm", "min_hr_bpm", "max_hr_bpm", "vlf_ms2", "lf_ms2", "hf_ms2",
    "total_power_ms2", "lf_hf", "lf_nu", "hf_nu", "lf_peak_hz", "hf_peak_hz", "sd1_ms",
    "sd2_ms", "dfa_alpha1", "sampen", "coherence", "breathing_rate_bpm",
}  # fmt: skip
WINDOW_KEYS = SUMMARY_KEYS | {"start_s", "end_s"}
REPORT_KEYS = {"source", "settings", "summary", "windows"}


def _reject_constant(name: str) -> Any:
    raise AssertionError(f"JSON output holds {name}, which is not JSON")


def parse_json_lines(stdout: str) -> list[dict[str, Any]]:
    """One strict JSON object per output line; NaN / Infinity are errors."""
    reports = [json.loads(line, parse_constant=_reject_constant) for line in stdout.splitlines()]
    assert all(isinstance(r, dict) for r in reports)
    return reports


def run(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``main(argv)`` in process: exit code (argparse's SystemExit included), stdout, stderr."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err: str, *, names: str | None = None) -> None:
    assert "Traceback" not in err
    lines = err.strip("\n").splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
    assert lines[0].startswith("pet-biofeedback")
    if names is not None:
        assert names in lines[0]


def _metrics(row: dict[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in row.items() if k != "artifacts"}
    flat.update({f"artifacts.{k}": v for k, v in row["artifacts"].items()})
    return flat


class TestAnalyzeJson:
    def test_one_object_per_file_with_exactly_the_contract_keys(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, out, err = run(
            ["analyze", "--json", "--window", "120", "--step", "60", str(SAMPLE)], capsys
        )
        assert code == 0 and err == ""
        (report,) = parse_json_lines(out)
        assert set(report) == REPORT_KEYS
        assert report["source"] == str(SAMPLE)
        assert set(report["summary"]) == SUMMARY_KEYS
        assert set(report["summary"]["artifacts"]) == ARTIFACT_KEYS
        assert len(report["windows"]) == 5
        for w in report["windows"]:
            assert set(w) == WINDOW_KEYS
            assert set(w["artifacts"]) == ARTIFACT_KEYS
        starts = [w["start_s"] for w in report["windows"]]
        assert starts == [0.0, 60.0, 120.0, 180.0, 240.0]
        assert all(w["end_s"] == w["start_s"] + 120.0 for w in report["windows"])
        s = report["settings"]
        assert s["window_s"] == 120.0 and s["step_s"] == 60.0 and s["correction"] is True

    def test_several_files_give_one_line_each(self, capsys: pytest.CaptureFixture[str]) -> None:
        code, out, _ = run(["analyze", "--json", str(SAMPLE), str(SAMPLE)], capsys)
        assert code == 0
        reports = parse_json_lines(out)
        assert len(reports) == 2
        assert reports[0] == reports[1]

    def test_without_window_the_window_list_is_empty(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, out, _ = run(["analyze", "--json", str(SAMPLE)], capsys)
        assert code == 0
        (report,) = parse_json_lines(out)
        assert report["windows"] == []
        assert report["settings"]["window_s"] is None

    def test_sample_file_values_are_sane(self, capsys: pytest.CaptureFixture[str]) -> None:
        code, out, _ = run(["analyze", "--json", str(SAMPLE)], capsys)
        assert code == 0
        (report,) = parse_json_lines(out)
        s = report["summary"]
        assert 60.0 <= s["mean_hr_bpm"] <= 75.0
        assert s["min_hr_bpm"] <= s["mean_hr_bpm"] <= s["max_hr_bpm"]
        assert abs(s["lf_peak_hz"] - 0.1) <= 0.01  # paced breathing at 6/min
        assert s["coherence"] > 1.0
        assert s["lf_ms2"] > 10.0 * s["hf_ms2"]
        assert 350.0 <= s["duration_s"] <= 370.0  # the 6-min recording
        art = s["artifacts"]
        assert art["missed"] >= 1  # the file holds one missed beat …
        assert art["ectopic"] + art["long_short"] >= 2  # … and ectopic beats every 137
        assert 0.0 < art["corrected_pct"] < 5.0
        # an RR file has no breathing signal: estimated from the rhythm, and marked so (issue 7)
        assert s["breathing_rate_bpm"] == pytest.approx(6.0, abs=0.2)
        settings = report["settings"]
        assert settings["breathing_source"] == "rr-estimate"
        assert settings["unit"] == "ms"
        assert settings["skipped_lines"] == 3  # the three comment lines
        assert settings["input_beats"] == 402
        assert s["n_beats"] == 403  # the missed beat was split

    def test_no_correction_reports_zero_artifacts(self, capsys: pytest.CaptureFixture[str]) -> None:
        code, out, _ = run(["analyze", "--json", "--no-correction", str(SAMPLE)], capsys)
        assert code == 0
        (report,) = parse_json_lines(out)
        assert report["settings"]["correction"] is False
        assert report["summary"]["n_beats"] == 402
        art = report["summary"]["artifacts"]
        assert art == {"ectopic": 0, "long_short": 0, "missed": 0, "extra": 0, "corrected_pct": 0.0}

    def test_not_computable_values_are_null_never_nan(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = tmp_path / "short.txt"
        rng = np.random.default_rng(0)
        path.write_text("\n".join(f"{v:.0f}" for v in 800 + 20 * rng.standard_normal(30)) + "\n")
        code, out, _ = run(["analyze", "--json", "--window", "10", str(path)], capsys)
        assert code == 0
        assert "NaN" not in out and "Infinity" not in out
        (report,) = parse_json_lines(out)
        s = report["summary"]
        assert s["rmssd_ms"] is not None and s["sdnn_ms"] is not None
        # 24 s of beats: too short for spectra, DFA (32 beats) and the 64-s coherence
        for key in ("vlf_ms2", "lf_ms2", "hf_ms2", "lf_peak_hz", "dfa_alpha1", "coherence",
                    "breathing_rate_bpm"):  # fmt: skip
            assert s[key] is None, key
        assert len(report["windows"]) == 2
        for w in report["windows"]:
            assert w["lf_ms2"] is None and w["coherence"] is None

    def test_seconds_and_milliseconds_files_give_the_same_results(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        rr_ms = np.loadtxt(SAMPLE, comments="#")
        as_ms = tmp_path / "rr_ms.txt"
        as_s = tmp_path / "rr_s.txt"
        as_ms.write_text("\n".join(f"{v:.0f}" for v in rr_ms) + "\n")
        as_s.write_text("\n".join(f"{v / 1000:.3f}" for v in rr_ms) + "\n")
        code, out, _ = run(["analyze", "--json", "--window", "120", str(as_ms), str(as_s)], capsys)
        assert code == 0
        ms_report, s_report = parse_json_lines(out)
        assert ms_report["settings"]["unit"] == "ms" and s_report["settings"]["unit"] == "s"
        rows_ms = [ms_report["summary"], *ms_report["windows"]]
        rows_s = [s_report["summary"], *s_report["windows"]]
        assert len(rows_ms) == len(rows_s) == 4
        for a, b in zip(rows_ms, rows_s, strict=True):
            fa, fb = _metrics(a), _metrics(b)
            assert fa.keys() == fb.keys()
            for key in fa:
                if fa[key] is None:
                    assert fb[key] is None, key
                else:
                    assert_allclose(fb[key], fa[key], rtol=1e-9, atol=1e-9, err_msg=key)


def _missing(tmp: Path) -> Path:
    return tmp / "missing.txt"


def _write(name: str, content: bytes) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        path = tmp / name
        path.write_bytes(content)
        return path

    return make


def _directory(tmp: Path) -> Path:
    path = tmp / "a_folder"
    path.mkdir()
    return path


_GARBAGE = np.random.default_rng(3).integers(0, 256, 2000, dtype=np.uint8).tobytes()

FILE_PROBLEMS: dict[str, Callable[[Path], Path]] = {
    "missing": _missing,
    "empty": _write("empty.txt", b""),
    "blank lines only": _write("blank.txt", b"\n  \n\n"),
    "words": _write("words.txt", b"hello\nworld\nthis is not RR\n"),
    "binary": _write("binary.dat", bytes(range(256)) * 8),
    "directory": _directory,
    "negative values": _write("negative.txt", b"800\n-5\n900\n850\n"),
    "zero value": _write("zero.txt", b"800\n0\n900\n850\n"),
    "nan value": _write("nan.txt", b"800\nnan\n900\n850\n"),
    "mixed units": _write("mixed.txt", b"0.8\n900\n850\n"),
    "too few intervals": _write("two.txt", b"800\n810\n"),
    "garbage xdf": _write("garbage.xdf", b"this is not an XDF file at all\n"),
    "garbage xdf with signature": _write("signed_garbage.xdf", b"XDF:" + _GARBAGE),
    "empty xdf": _write("empty.xdf", b""),
}


class TestAnalyzeErrors:
    @pytest.mark.parametrize("make", FILE_PROBLEMS.values(), ids=FILE_PROBLEMS.keys())
    def test_bad_file_exit_2_one_line_naming_the_file(
        self, make: Callable[[Path], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = make(tmp_path)
        for flags in (["--json"], []):
            code, out, err = run(["analyze", *flags, str(path)], capsys)
            assert code == 2
            assert out == ""
            assert_one_line_error(err, names=str(path))

    def test_no_command_without_a_screen_says_so_in_one_line(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # no command opens the app (issue #8); with no display it must not abort in Qt
        for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
            monkeypatch.delenv(name, raising=False)
        code, out, err = run([], capsys)
        assert code == 2
        assert out == ""
        assert_one_line_error(err)
        assert "pet-biofeedback session" in err

    @pytest.mark.parametrize(
        ("argv", "mentions"),
        [
            (["analyze", "--step", "5", str(SAMPLE)], "--window"),
            (["analyze", "--window", "-5", str(SAMPLE)], "--window"),
            (["analyze", "--window", "0", str(SAMPLE)], "--window"),
            (["analyze", "--window", "abc", str(SAMPLE)], "--window"),
            (["analyze", "--window", "nan", str(SAMPLE)], "--window"),
            (["analyze", "--window", "60", "--step", "-1", str(SAMPLE)], "--step"),
            (["analyze"], "PATH"),
            (["analyze", "--bogus", str(SAMPLE)], "--bogus"),
            (["frobnicate"], "frobnicate"),
        ],
        ids=[
            "step-without-window", "negative-window", "zero-window", "window-abc", "window-nan",
            "negative-step", "no-path", "unknown-option", "unknown-subcommand",
        ],
    )  # fmt: skip
    def test_usage_error_exit_2_one_line(
        self, argv: list[str], mentions: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, out, err = run(argv, capsys)
        assert code == 2
        assert out == ""
        assert_one_line_error(err)
        assert mentions in err

    def test_good_files_still_reported_when_one_is_bad(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        missing = tmp_path / "missing.txt"
        words = _write("words.txt", b"no numbers here\n")(tmp_path)
        code, out, err = run(
            ["analyze", "--json", str(SAMPLE), str(missing), str(words), str(SAMPLE)], capsys
        )
        assert code == 2
        reports = parse_json_lines(out)
        assert [r["source"] for r in reports] == [str(SAMPLE), str(SAMPLE)]
        lines = err.strip("\n").splitlines()
        assert len(lines) == 2 and "Traceback" not in err
        assert str(missing) in lines[0] and "no such file" in lines[0]
        assert str(words) in lines[1] and "no numbers" in lines[1]


class TestAnalyzeTable:
    def test_table_has_labels_and_units(self, capsys: pytest.CaptureFixture[str]) -> None:
        code, out, err = run(["analyze", "--window", "120", str(SAMPLE)], capsys)
        assert code == 0 and err == ""
        assert out.splitlines()[0] == str(SAMPLE)
        for label, unit in [
            ("Beats", ""),
            ("Duration", " s"),
            ("Mean heart rate", "bpm"),
            ("Lowest heart rate", "bpm"),
            ("Highest heart rate", "bpm"),
            ("Mean RR", "ms"),
            ("SDNN", "ms"),
            ("RMSSD", "ms"),
            ("SDSD", "ms"),
            ("pNN50", "%"),
            ("VLF power", "ms²"),
            ("LF power (0.04–0.15 Hz)", "ms²"),
            ("HF power (0.15–0.4 Hz)", "ms²"),
            ("Total power", "ms²"),
            ("LF/HF", ""),
            ("LF", "n.u."),
            ("LF peak", "Hz"),
            ("HF peak", "Hz"),
            ("Poincaré SD1", "ms"),
            ("Poincaré SD2", "ms"),
            ("DFA α1", ""),
            ("Sample entropy", ""),
            ("Coherence ratio", ""),
            ("Breathing rate", "breaths/min"),
            ("Artifacts", "% of beats corrected"),
        ]:
            rows = [line for line in out.splitlines() if line.strip().startswith(label)]
            assert rows, f"no row {label!r}"
            assert any(line.rstrip().endswith(unit) or unit in line for line in rows), label
        assert "bpm" in out and "breaths/min" in out
        # the window table: its header and one row per window
        header = next(line for line in out.splitlines() if "start s" in line)
        for title in ("end s", "beats", "HR bpm", "RMSSD ms", "LF ms²", "coherence"):
            assert title in header
        assert out.count("\n") > 30

    def test_table_numbers_match_the_json(self, capsys: pytest.CaptureFixture[str]) -> None:
        code, out_json, _ = run(["analyze", "--json", str(SAMPLE)], capsys)
        assert code == 0
        (report,) = parse_json_lines(out_json)
        code, out, _ = run(["analyze", str(SAMPLE)], capsys)
        assert code == 0
        s = report["summary"]
        mean_hr = next(line for line in out.splitlines() if "Mean heart rate" in line)
        assert f"{s['mean_hr_bpm']:.1f} bpm" in mean_hr
        rmssd = next(line for line in out.splitlines() if "RMSSD" in line)
        assert f"{s['rmssd_ms']:.1f} ms" in rmssd
        breathing = next(line for line in out.splitlines() if "Breathing rate" in line)
        assert f"{s['breathing_rate_bpm']:.1f} breaths/min" in breathing
        assert "(estimated from the heart rhythm)" in breathing  # an RR file: issue 7
        body = out.split("\n", 1)[1].lower()  # the first line is the path ("resoNANce")
        assert "nan" not in body and "inf" not in body


class TestLeftOutNotes:
    def test_table_and_json_say_why_frequency_measures_are_missing(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        # Issue 9: a "—" column comes with a note saying why, in the table and in the JSON.
        path = tmp_path / "two-minutes.txt"
        rng = np.random.default_rng(1)
        path.write_text("\n".join(f"{v:.0f}" for v in 850 + 30 * rng.standard_normal(140)) + "\n")
        code, out, _ = run(["analyze", "--window", "30", str(path)], capsys)
        assert code == 0
        expected = "windows of 30 s are shorter than the 60 s they need"
        assert any(line.startswith("  note: frequency measures") and expected in line
                   for line in out.splitlines())  # fmt: skip
        code, out, _ = run(["analyze", "--json", "--window", "30", str(path)], capsys)
        (report,) = parse_json_lines(out)
        assert any(expected in n for n in report["settings"]["notes"])
        assert all(w["lf_ms2"] is None for w in report["windows"])

    def test_sixty_second_windows_of_the_sample_have_frequency_measures(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        # Issue 9: the README's `--window 60` example printed "—" in every frequency column.
        code, out, _ = run(["analyze", "--json", "--window", "60", str(SAMPLE)], capsys)
        assert code == 0
        (report,) = parse_json_lines(out)
        assert report["windows"]
        for w in report["windows"]:
            assert w["lf_ms2"] is not None and w["hf_ms2"] is not None and w["lf_hf"] is not None
        assert any("coherence of" in n and "64 s" in n for n in report["settings"]["notes"])


class TestEntryPoints:
    def test_python_dash_m_runs_analyze(self, tmp_path: Path) -> None:
        proc = subprocess.run(
            [sys.executable, "-m", "pet_biofeedback", "analyze", "--json", str(SAMPLE)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == ""
        (report,) = parse_json_lines(proc.stdout)
        assert set(report["summary"]) == SUMMARY_KEYS
        assert math.isclose(report["summary"]["lf_peak_hz"], 0.1, abs_tol=0.01)

    def test_analyze_asks_openblas_for_one_thread_unless_told_otherwise(
        self, tmp_path: Path
    ) -> None:
        # Issue 9: OpenBLAS' spinning thread pools cost ≈ 0.1 s of CPU of a 24-h analyze.
        code = (
            "import os, sys\n"
            "from pet_biofeedback.cli import main\n"
            "status = main(['analyze', '--json', sys.argv[1]])\n"
            "print(status, os.environ.get('OPENBLAS_NUM_THREADS'), file=sys.stderr)\n"
        )
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
        }
        for extra, expected in (({}, "0 1"), ({"OMP_NUM_THREADS": "2"}, "0 None")):
            proc = subprocess.run(
                [sys.executable, "-c", code, str(SAMPLE)],
                capture_output=True,
                text=True,
                timeout=120,
                cwd=tmp_path,
                env={**env, **extra},
                check=False,
            )
            assert proc.returncode == 0, proc.stderr
            assert proc.stderr.strip() == expected

    def test_console_script_reports_each_bad_file_in_one_line(self, tmp_path: Path) -> None:
        # In a real process nothing captures logging: pyxdf's own complaints about a damaged
        # file (with a traceback) must not reach stderr; pytest's log capture hides them
        # from the in-process tests above.
        script = Path(sys.executable).parent / "pet-biofeedback"
        if not script.exists():
            pytest.skip(f"console script not installed next to {sys.executable}")
        missing = tmp_path / "missing.txt"
        garbage = FILE_PROBLEMS["garbage xdf with signature"](tmp_path)
        proc = subprocess.run(
            [str(script), "analyze", "--json", str(SAMPLE), str(missing), str(garbage)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 2
        (report,) = parse_json_lines(proc.stdout)
        assert report["source"] == str(SAMPLE)
        assert "Traceback" not in proc.stderr
        lines = proc.stderr.strip("\n").splitlines()
        assert len(lines) == 2, lines
        assert str(missing) in lines[0] and str(garbage) in lines[1]

    def test_version(self, capsys: pytest.CaptureFixture[str]) -> None:
        code, out, _ = run(["--version"], capsys)
        assert code == 0
        assert out.startswith("pet-biofeedback ")


class TestHelp:
    def test_analyze_help_mentions_recordings(self, capsys: pytest.CaptureFixture[str]) -> None:
        code, out, _ = run(["analyze", "--help"], capsys)
        assert code == 0
        assert ".jsonl" in out and ".jsonl.gz" in out
        code, out, _ = run(["--help"], capsys)
        assert code == 0
        assert ".jsonl" in out  # only the analyze line can mention it

    def test_record_help_names_the_recording_suffixes(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, out, _ = run(["record", "--help"], capsys)
        assert code == 0
        assert ".jsonl or .jsonl.gz" in " ".join(out.split())
