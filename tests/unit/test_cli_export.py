"""The ``export`` command (issue 7): outputs, and one-line errors with exit code 2."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyedflib
import pytest

from pet_biofeedback.session.importers import read_rr_text
from tests.unit.test_cli import assert_one_line_error, run

REPO = Path(__file__).resolve().parents[2]
H10 = REPO / "recordings" / "h10-resonance-5.5.jsonl.gz"
STRAP = REPO / "recordings" / "strap-dropouts-ectopy.jsonl.gz"
RR_TEXT = REPO / "recordings" / "resonance-6-per-min.rr.txt"


@pytest.mark.parametrize("to", ["kubios", "csv", "edf"])
def test_each_format_is_written_and_named(
    to: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / f"h10.{to}"
    code, stdout, err = run(["export", str(H10), "--to", to, "--out", str(out)], capsys)
    assert code == 0, err
    assert f"Wrote {out}" in stdout
    assert out.stat().st_size > 0


def test_kubios_export_reads_back_through_analyze(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rr.txt"
    assert run(["export", str(RR_TEXT), "--to", "kubios", "--out", str(out)], capsys)[0] == 0
    code, stdout, _ = run(["analyze", "--json", str(out)], capsys)
    assert code == 0
    assert read_rr_text(out).rr_ms.tolist() == read_rr_text(RR_TEXT).rr_ms.tolist()
    code, original, _ = run(["analyze", "--json", str(RR_TEXT)], capsys)
    assert json.loads(stdout)["summary"] == json.loads(original)["summary"]


def test_csv_window_options_like_analyze(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "strap.csv"
    argv = ["export", str(STRAP), "--to", "csv", "--out", str(out), "--window", "60"]
    code, _stdout, err = run([*argv, "--step", "30"], capsys)
    assert code == 0, err
    lines = (tmp_path / "strap-windows.csv").read_text().splitlines()
    assert len(lines) - 1 >= 4  # ≈ 170 s of beats in 60-s windows every 30 s


def test_anonymised_edf_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "anon.edf"
    argv = ["export", str(H10), "--to", "edf", "--anonymise", "--out", str(out)]
    assert run(argv, capsys)[0] == 0
    assert b"2026" not in out.read_bytes()
    with pyedflib.EdfReader(str(out)) as reader:
        assert reader.signals_in_file == 4


class TestErrors:
    def _error(self, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
        code, _stdout, err = run(argv, capsys)
        assert code == 2
        assert_one_line_error(err)
        return err

    def test_missing_file(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        err = self._error(
            ["export", str(tmp_path / "no.jsonl"), "--to", "csv", "--out", str(tmp_path / "x")],
            capsys,
        )
        assert "no such file" in err

    def test_unknown_format(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        err = self._error(
            ["export", str(H10), "--to", "xlsx", "--out", str(tmp_path / "x")], capsys
        )
        assert "xlsx" in err

    def test_output_folder_missing(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        out = tmp_path / "nope" / "h10.txt"
        err = self._error(["export", str(H10), "--to", "kubios", "--out", str(out)], capsys)
        assert "does not exist" in err

    def test_output_exists_needs_force(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        out = tmp_path / "h10.txt"
        out.write_text("mine")
        argv = ["export", str(H10), "--to", "kubios", "--out", str(out)]
        assert "--force" in self._error(argv, capsys)
        assert out.read_text() == "mine"
        assert run([*argv, "--force"], capsys)[0] == 0

    def test_file_from_another_app(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        other = tmp_path / "other.jsonl.gz"
        other.write_bytes(gzip.compress(b'{"app": "someone else", "rows": [1, 2]}\n'))
        err = self._error(
            ["export", str(other), "--to", "kubios", "--out", str(tmp_path / "o.txt")], capsys
        )
        assert str(other) in err and "recording" in err

    def test_recording_without_ecg_to_edf(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        err = self._error(
            ["export", str(STRAP), "--to", "edf", "--out", str(tmp_path / "s.edf")], capsys
        )
        assert "no ECG or accelerometer; export --to kubios or csv instead" in err

    def test_unknown_session_id_says_how_to_list_ids(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        err = self._error(["export", "12", "--to", "csv", "--out", str(tmp_path / "x")], capsys)
        assert "no session 12 in the history" in err and "pet-biofeedback history" in err


def test_cli_window_defaults_are_the_exporters() -> None:
    # The CLI keeps its own copies so that --help does not import numpy; they must agree.
    from pet_biofeedback import cli
    from pet_biofeedback.session import exports

    assert (cli.EXPORT_WINDOW_S, cli.EXPORT_STEP_S) == (
        exports.DEFAULT_WINDOW_S,
        exports.DEFAULT_STEP_S,
    )


def test_window_too_short_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rr.csv"
    code, _stdout, err = run(
        ["export", str(RR_TEXT), "--to", "csv", "--out", str(out), "--window", "5"], capsys
    )
    assert code == 2
    assert_one_line_error(err)
    assert list(tmp_path.iterdir()) == []
