"""Tests for pet_biofeedback.session.rr_text: the files people bring (issue #9)."""

from __future__ import annotations

import codecs
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from pet_biofeedback.errors import InputFileError
from pet_biofeedback.session.rr_text import read_rr_text

RR_MS = [812.0, 790.0, 835.0, 801.0, 778.0]
LINES = "".join(f"{v:.0f}\n" for v in RR_MS)


def _write(tmp_path: Path, data: str | bytes, name: str = "rr.txt") -> Path:
    p = tmp_path / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return p


class TestEncodings:
    def test_utf8_bom_loses_no_interval(self, tmp_path: Path) -> None:
        # Regression (#9): the first interval was taken for a header and dropped.
        rr = read_rr_text(_write(tmp_path, codecs.BOM_UTF8 + LINES.encode()))
        assert_allclose(rr.rr_ms, RR_MS)
        assert rr.n_skipped_lines == 0

    @pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
    def test_utf16_and_utf32_with_bom_are_read(self, tmp_path: Path, codec: str) -> None:
        data = LINES.encode(codec)
        if codec in ("utf-16-le", "utf-16-be"):  # these codecs write no mark: add it
            data = "\ufeff".encode(codec) + data
        rr = read_rr_text(_write(tmp_path, data))
        assert_allclose(rr.rr_ms, RR_MS)

    @pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
    def test_utf16_without_bom_is_read(self, tmp_path: Path, codec: str) -> None:
        rr = read_rr_text(_write(tmp_path, ("RR\r\n" + LINES).encode(codec)))
        assert_allclose(rr.rr_ms, RR_MS)

    def test_binary_is_still_refused(self, tmp_path: Path) -> None:
        with pytest.raises(InputFileError, match="binary"):
            read_rr_text(_write(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01"))


class TestTables:
    def test_time_rr_csv_takes_the_rr_column(self, tmp_path: Path) -> None:
        body = "".join(f"{k * 0.8:.3f},{v:.0f}\n" for k, v in enumerate(RR_MS))
        rr = read_rr_text(_write(tmp_path, "time,rr\n" + body, "rr.csv"))
        assert_allclose(rr.rr_ms, RR_MS)
        assert rr.column == "rr"
        assert rr.n_skipped_lines == 1
        assert rr.line_number.tolist() == [2, 3, 4, 5, 6]

    def test_decimal_commas_in_a_semicolon_file(self, tmp_path: Path) -> None:
        body = "".join(f"{k},8;{v:.0f},5\n" for k, v in enumerate(RR_MS))
        rr = read_rr_text(_write(tmp_path, "time;rr\n" + body, "rr.csv"))
        assert_allclose(rr.rr_ms, np.asarray(RR_MS) + 0.5)

    def test_decimal_commas_in_one_named_column(self, tmp_path: Path) -> None:
        rr = read_rr_text(_write(tmp_path, "RR\n812,5\n790,25\n835\n"))
        assert_allclose(rr.rr_ms, [812.5, 790.25, 835.0])

    def test_hrv_logger_export(self, tmp_path: Path) -> None:
        # HRV Logger's *_RR_*.csv: date,rr,since start (ms).
        text = (
            "date,rr,since start\n"
            "2025-03-15 09:00:15.123,812,0\n"
            "2025-03-15 09:00:15.935,790,812\n"
            "2025-03-15 09:00:16.725,835,1602\n"
        )
        rr = read_rr_text(_write(tmp_path, text, "2025-03-15_RR_x.csv"))
        assert_allclose(rr.rr_ms, [812.0, 790.0, 835.0])
        assert rr.unit == "ms"

    def test_polar_sensor_logger_rr_file(self, tmp_path: Path) -> None:
        body = "".join(f"2024-05-01T10:00:0{k}.{k}00;{v:.0f}\n" for k, v in enumerate(RR_MS))
        text = "Phone timestamp;RR-interval [ms]\n" + body
        rr = read_rr_text(_write(tmp_path, text, "Polar_H10_RR.txt"))
        assert_allclose(rr.rr_ms, RR_MS)
        assert (rr.unit, rr.column) == ("ms", "RR-interval [ms]")

    def test_quoted_fields_and_windows_line_ends(self, tmp_path: Path) -> None:
        body = "".join(f'"{k}","{v:.0f}"\r\n' for k, v in enumerate(RR_MS))
        rr = read_rr_text(_write(tmp_path, '"beat","RR (ms)"\r\n' + body, "rr.csv"))
        assert_allclose(rr.rr_ms, RR_MS)
        assert rr.column == "RR (ms)"

    def test_elite_hrv_export(self, tmp_path: Path) -> None:
        rr = read_rr_text(_write(tmp_path, LINES, "elite.txt"))  # one per line, ms
        assert_allclose(rr.rr_ms, RR_MS)

    def test_kubios_rr_text_in_seconds(self, tmp_path: Path) -> None:
        text = "".join(f"{v / 1000:.3f}\n" for v in RR_MS)
        rr = read_rr_text(_write(tmp_path, text, "kubios.txt"))
        assert rr.unit == "s"
        assert_allclose(rr.rr_ms, RR_MS)

    def test_unit_from_the_column_name(self, tmp_path: Path) -> None:
        text = "t;IBI (s)\n" + "".join(f"{k};{v / 1000:.3f}\n" for k, v in enumerate(RR_MS))
        rr = read_rr_text(_write(tmp_path, text))
        assert rr.unit == "s"
        assert_allclose(rr.rr_ms, RR_MS)


class TestAmbiguousColumns:
    TABLE = "time,value,other\n" + "".join(
        f"{k * 0.8:.1f},{v:.0f},{k}\n" for k, v in enumerate(RR_MS)
    )

    def test_error_names_the_columns_and_the_option(self, tmp_path: Path) -> None:
        with pytest.raises(InputFileError) as info:
            read_rr_text(_write(tmp_path, self.TABLE))
        message = info.value.user_message
        assert "time, value, other" in message and "--column NAME" in message
        assert "no numbers" not in message

    @pytest.mark.parametrize("column", ["value", "VALUE", "2"])
    def test_column_picks_by_name_or_number(self, tmp_path: Path, column: str) -> None:
        rr = read_rr_text(_write(tmp_path, self.TABLE), column=column)
        assert_allclose(rr.rr_ms, RR_MS)

    def test_unknown_column_lists_those_there_are(self, tmp_path: Path) -> None:
        with pytest.raises(InputFileError, match="no column 'rr'; its columns are time, value"):
            read_rr_text(_write(tmp_path, self.TABLE), column="rr")

    def test_two_unnamed_columns_of_numbers(self, tmp_path: Path) -> None:
        # Regression (#9): a file full of numbers was said to contain "no numbers".
        p = _write(tmp_path, "1.0 800\n2.0 810\n3.0 820\n")
        with pytest.raises(InputFileError, match="--column NUMBER") as info:
            read_rr_text(p)
        assert "no numbers" not in info.value.user_message
        assert_allclose(read_rr_text(p, column="2").rr_ms, [800.0, 810.0, 820.0])

    def test_one_name_over_an_index_and_intervals_is_not_read_as_decimals(
        self, tmp_path: Path
    ) -> None:
        # "1,800" under "rr": read with a decimal comma it is 1.8 (no interval at all); the
        # second numbers are intervals. The error says so and names the option; before, the
        # person got "are the values RR intervals in milliseconds or seconds?".
        p = _write(tmp_path, "rr\n" + "".join(f"{k},{v:.0f}\n" for k, v in enumerate(RR_MS)))
        with pytest.raises(InputFileError, match="--column 2") as info:
            read_rr_text(p)
        assert "decimal mark" in info.value.user_message
        assert_allclose(read_rr_text(p, column="2").rr_ms, RR_MS)

    def test_column_names_with_spaces_are_shown_quoted(self, tmp_path: Path) -> None:
        text = "elapsed time,beat gap\n0.8,800\n1.6,810\n2.4,820\n"
        with pytest.raises(InputFileError, match='--column "beat gap"'):
            read_rr_text(_write(tmp_path, text))
