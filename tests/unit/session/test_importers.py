"""Tests for pet_biofeedback.session.importers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from pet_biofeedback.errors import InputFileError
from pet_biofeedback.session.importers import read_rr_text, read_xdf


def _write(tmp_path: Path, text: str | bytes, name: str = "rr.txt") -> Path:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


class TestReadRrText:
    def test_milliseconds_with_header_and_comments(self, tmp_path: Path) -> None:
        p = _write(tmp_path, "RR (ms)\n# comment\n800\n 812.5 \n\n790\n")
        rr = read_rr_text(p)
        assert rr.unit == "ms"
        assert rr.n_skipped_lines == 2
        assert_allclose(rr.rr_ms, [800.0, 812.5, 790.0])

    def test_seconds_are_converted(self, tmp_path: Path) -> None:
        rr = read_rr_text(_write(tmp_path, "0.800\n0.8125\n1.2\n"))
        assert rr.unit == "s"
        assert_allclose(rr.rr_ms, [800.0, 812.5, 1200.0], rtol=1e-12)

    def test_trailing_separator_is_accepted(self, tmp_path: Path) -> None:
        rr = read_rr_text(_write(tmp_path, "800,\n810;\n"))
        assert_allclose(rr.rr_ms, [800.0, 810.0])

    def test_two_columns_are_not_silently_taken(self, tmp_path: Path) -> None:
        with pytest.raises(InputFileError, match=r"2 columns of numbers .* --column"):
            read_rr_text(_write(tmp_path, "1.0 800\n2.0 810\n"))

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            ("", "is empty"),
            ("   \n\n", "is empty"),
            ("hello\nworld\n", "contains no numbers"),
            (b"\x00\x01\x02binary", "binary"),
            ("800\n-5\n", "zero or negative"),
            ("800\nnan\n", "line 2: 'nan' is not a finite number"),
            ("800\n0.8\n810\n", "mixes units"),
        ],
    )
    def test_bad_files_name_the_problem(
        self, tmp_path: Path, content: str | bytes, message: str
    ) -> None:
        p = _write(tmp_path, content)
        with pytest.raises(InputFileError, match=message) as info:
            read_rr_text(p)
        assert str(p) in info.value.user_message

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(InputFileError, match="no such file"):
            read_rr_text(tmp_path / "nope.txt")

    def test_directory(self, tmp_path: Path) -> None:
        with pytest.raises(InputFileError, match="directory"):
            read_rr_text(tmp_path)

    def test_large_file_round_trip(self, tmp_path: Path) -> None:
        values = np.round(np.random.default_rng(0).uniform(600, 1100, 20_000))
        p = _write(tmp_path, "\n".join(f"{v:.0f}" for v in values))
        assert_allclose(read_rr_text(p).rr_ms, values)


class TestReadXdf:
    def test_not_xdf(self, tmp_path: Path) -> None:
        p = _write(tmp_path, "this is not xdf", name="x.xdf")
        with pytest.raises(InputFileError, match="not a readable XDF"):
            read_xdf(p)

    def test_empty(self, tmp_path: Path) -> None:
        with pytest.raises(InputFileError, match="is empty"):
            read_xdf(_write(tmp_path, "", name="x.xdf"))

    def test_missing(self, tmp_path: Path) -> None:
        with pytest.raises(InputFileError, match="no such file"):
            read_xdf(tmp_path / "x.xdf")


def test_a_file_of_mostly_prose_is_not_an_rr_file(tmp_path: Path) -> None:
    # Regression (review of issue #2): a Python script was analysed as 3 beats.
    p = _write(tmp_path, "import os\n\ndef f():\n    return 1\n800\n810\nx = 3\nprint(x)\n")
    with pytest.raises(InputFileError, match="not a single number"):
        read_rr_text(p)
