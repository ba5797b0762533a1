"""RR text and CSV files as people bring them: one interval per line, or a column of a table.

What is read (issue #9, "files people actually have"):

* Kubios and Elite HRV RR text: one interval per line, seconds or milliseconds, with optional
  header and comment lines.
* Tables with a header: HRV Logger (``date,rr,since start``), Polar Sensor Logger
  (``Phone timestamp;RR-interval [ms]``), ``time,rr`` and the like, separated by ``;``, tab,
  ``,`` or spaces. A column whose name reads as RR intervals (``rr``, ``RR-interval [ms]``,
  ``ibi``, ``nn``…) is taken; otherwise the caller picks one by name or number (``--column``
  on the command line) and the error names the columns it saw.
* Decimal commas (``812,5``) where ``,`` cannot be the column separator: in ``;``- or
  tab-separated files, and in one-column files whose header names one column.
* UTF-8 with or without a byte-order mark, UTF-16 and UTF-32 with a byte-order mark, and
  UTF-16 without one (recognised by its zero bytes).

The unit is taken from the column name when it says (``[ms]``, ``(s)``, ``_ms``); otherwise
it is decided once per file: every value below `RR_SECONDS_BELOW` means seconds.
"""

from __future__ import annotations

import codecs
import logging
import re
import stat
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from pet_biofeedback.errors import InputFileError
from pet_biofeedback.signal._typing import FloatArray

__all__ = ["RR_SECONDS_BELOW", "RrFile", "check_regular_file", "read_rr_text"]

logger = logging.getLogger(__name__)

RR_SECONDS_BELOW: Final = 10.0  # a file whose values are all below this holds seconds
_COMMENT_PREFIXES: Final = ("#", "%", ";", "//")
_SHOWN_CHARS: Final = 20  # a value quoted in a message is cut to this (a 5000-digit "number")
_SNIFF_BYTES: Final = 4096  # bytes looked at to tell text from binary and UTF-16
_HEAD_LINES: Final = 50  # header/preamble lines the fast path skips at most
_LAYOUT_ROWS: Final = 200  # rows looked at to decide separator and number of columns
# Byte-order marks, longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS: Final = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)
_DECIMAL_COMMA: Final = re.compile(r"[+-]?\d*,\d+")
# A column name that reads as beat-to-beat intervals, once units and punctuation are removed:
# rr, RR-interval [ms], rr_ms, RRI, IBI, inter-beat interval, NN, PPI (Polar optical).
_RR_NAMES: Final = re.compile(
    r"(rr|rri|rrinterval|rrintervals|ibi|interbeatinterval|nn|nninterval|ppi|rrms|ibims)"
)
_UNIT_IN_NAME: Final = re.compile(r"[\[(]\s*(ms|msec|s|sec)\s*[\])]|[_ ](ms|s)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True, kw_only=True)
class RrFile:
    """RR intervals read from a text file.

    Attributes
    ----------
    path : str
        The file.
    rr_ms : ndarray, shape (n_beats,)
        Intervals in ms.
    unit : {"s", "ms"}
        Unit the file was written in (decided for the whole file).
    n_skipped_lines : int
        Header, comment and other non-numeric lines that were skipped.
    line_number : ndarray of int64, shape (n_beats,)
        The 1-based line of the file each interval came from.
    column : str
        The column the intervals came from ("" for a one-column file).
    """

    path: str
    rr_ms: FloatArray
    unit: str
    n_skipped_lines: int
    line_number: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    column: str = ""


def check_regular_file(path: str | Path) -> None:
    """Refuse what is not a regular file: a named pipe or a device would block reading forever.

    Raises
    ------
    InputFileError
        ``path`` exists but is a folder, a pipe (FIFO), a socket or a device.
    """
    p = Path(path)
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        return  # the reader says "no such file"
    except OSError as exc:
        raise InputFileError(str(p), f"cannot be read ({exc.strerror or exc})") from exc
    if stat.S_ISDIR(mode):
        raise InputFileError(str(p), "is a directory, not a file")
    if not stat.S_ISREG(mode):
        kind = "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "not a regular file"
        raise InputFileError(
            str(p), f"is {kind}; give a recording, XDF or RR text file saved on disk"
        )


def _utf16_without_bom(raw: bytes) -> str | None:
    """The codec of UTF-16 text without a byte-order mark, judged by its zero bytes, or None.

    Text in ASCII digits written as UTF-16 has a zero in every other byte: odd bytes for
    little-endian, even bytes for big-endian. Binary data is not that regular.
    """
    head = raw[:_SNIFF_BYTES]
    if len(head) < 4 or len(raw) % 2:
        return None
    even, odd = head[0::2], head[1::2]
    if odd.count(0) == len(odd) and even.count(0) == 0:
        return "utf-16-le"
    if even.count(0) == len(even) and odd.count(0) == 0:
        return "utf-16-be"
    return None


def _decode(path: Path, raw: bytes) -> str:
    """The file's text: a byte-order mark decides the encoding, else UTF-8 (module docstring)."""
    for bom, codec, name in _BOMS:
        if raw.startswith(bom):
            try:
                return raw[len(bom) :].decode(codec)
            except UnicodeDecodeError as exc:
                raise InputFileError(
                    str(path),
                    f"starts as {name} text but is damaged at byte {exc.start + len(bom)}; "
                    "save it again as UTF-8",
                ) from exc
    if b"\x00" in raw[:_SNIFF_BYTES]:
        utf16 = _utf16_without_bom(raw)
        if utf16 is None:
            raise InputFileError(str(path), "is a binary file, not RR text (one interval per line)")
        try:
            return raw.decode(utf16)
        except UnicodeDecodeError as exc:
            raise InputFileError(
                str(path), "looks like UTF-16 text but cannot be decoded; save it again as UTF-8"
            ) from exc
    return raw.decode("utf-8", errors="replace")


def _read_text(path: Path) -> str:
    check_regular_file(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputFileError(str(path), "no such file") from None
    except IsADirectoryError:
        raise InputFileError(str(path), "is a directory, not a file") from None
    except OSError as exc:
        raise InputFileError(str(path), f"cannot be read ({exc.strerror or exc})") from exc
    if not raw.strip():
        raise InputFileError(str(path), "is empty")
    text = _decode(path, raw)
    if not text.strip():
        raise InputFileError(str(path), "is empty")
    return text


def read_rr_text(path: str | Path, *, column: str | None = None) -> RrFile:
    """Read an RR text or CSV file: one interval per line, or one column of a table.

    Lines that are not a single number (headers, comments, blank lines) are skipped and
    counted. A first column followed by a separator (tab, comma, semicolon, space) is
    accepted when the rest of the line is empty. Tables are read as the module docstring says.
    The unit comes from the column's name when it gives one; otherwise, if every value is
    below 10 the file holds seconds, else milliseconds.

    Parameters
    ----------
    path : str or Path
        The file.
    column : str, optional
        The column to read: its name as the header writes it (case ignored) or its number
        counted from 1. Needed only when no column reads as RR intervals.

    Raises
    ------
    InputFileError
        Missing, empty, binary, not a regular file (a pipe) or non-numeric file; a table
        whose RR column is ambiguous (the message names the columns and ``--column``) or
        has no column ``column``; a file with non-finite, negative or zero intervals, or one
        that mixes seconds and milliseconds; the message gives the line number of the first
        offending value.
    """
    p = Path(path)
    text = _read_text(p)
    lines = text.splitlines()  # not stripped: line numbers count from the file's first line
    rr: FloatArray | None = None
    line_idx: npt.NDArray[np.int64] | None = None
    unit_hint = ""
    column_name = ""
    skipped = 0
    if column is None:
        rr, line_idx, skipped = _parse_fast(lines)
    if rr is None or line_idx is None:
        table = _parse_table(p, lines, column)
        rr = np.asarray(table.values, dtype=np.float64)
        line_idx = np.asarray(table.indices, dtype=np.int64)
        skipped, unit_hint, column_name = table.skipped, table.unit_hint, table.column_name
    if rr.size == 0:
        raise InputFileError(str(p), "contains no numbers (expected one RR interval per line)")
    if skipped > rr.size:
        # More prose than numbers: not an RR file (a script, a report…).
        raise InputFileError(
            str(p),
            f"has {skipped} lines that are not a single number and only {rr.size} that are; "
            "expected one RR interval per line",
        )
    _check_values(p, lines, rr, line_idx)
    rr, unit = _to_ms(p, rr, line_idx, unit_hint)
    if skipped:
        logger.info("%s: skipped %d non-numeric lines", p, skipped)
    return RrFile(
        path=str(p),
        rr_ms=rr,
        unit=unit,
        n_skipped_lines=skipped,
        line_number=line_idx + 1,
        column=column_name,
    )


def _check_values(
    p: Path, lines: list[str], rr: FloatArray, line_idx: npt.NDArray[np.int64]
) -> None:
    """Refuse non-finite, zero and negative values, naming the first one's line."""
    if not np.all(np.isfinite(rr)):
        first = int(np.flatnonzero(~np.isfinite(rr))[0])
        raise InputFileError(
            str(p),
            f"line {line_idx[first] + 1}: {_shown(lines[line_idx[first]])} is not a finite "
            "number (expected one RR interval per line)",
        )
    if np.any(rr <= 0):
        bad = np.flatnonzero(rr <= 0)
        first = int(bad[0])
        raise InputFileError(
            str(p),
            f"contains {bad.size} zero or negative intervals (the first at line "
            f"{line_idx[first] + 1}: {_shown(lines[line_idx[first]])})",
        )


def _to_ms(
    p: Path, rr: FloatArray, line_idx: npt.NDArray[np.int64], unit_hint: str
) -> tuple[FloatArray, str]:
    """Intervals in ms and the file's unit: the column name's, else judged from the values."""
    if unit_hint == "ms":
        return rr, "ms"
    if unit_hint == "s" or np.max(rr) < RR_SECONDS_BELOW:
        return rr * 1000.0, "s"
    small = np.flatnonzero(rr < RR_SECONDS_BELOW)
    if small.size:
        raise InputFileError(
            str(p),
            f"mixes units: {small.size} values below {RR_SECONDS_BELOW:g} look like seconds "
            f"(the first at line {line_idx[small[0]] + 1}) but the rest are milliseconds",
        )
    return rr, "ms"


def _shown(line: str) -> str:
    """A value as a message quotes it: at most `_SHOWN_CHARS` characters."""
    text = line.strip()
    if len(text) <= _SHOWN_CHARS:
        return repr(text)
    return f"{text[:_SHOWN_CHARS]!r}… ({len(text)} characters)"


def _parse_value(token: str) -> float | None:
    try:
        return float(token)
    except (ValueError, OverflowError):
        return None


def _is_comment(s: str) -> bool:
    return not s or s.startswith(_COMMENT_PREFIXES)


def _parse_fast(lines: list[str]) -> tuple[FloatArray | None, npt.NDArray[np.int64] | None, int]:
    """The common layout — a few header lines, then one number per line — parsed by numpy.

    Trailing blank lines are allowed. Returns (None, None, 0) when the body is not that
    simple; the caller then parses it as a table.
    """
    head = 0
    # Skip header lines only while they hold no number at all: "812,5" or "0.8;800" is a row
    # of a table, which the table parser reads.
    while head < len(lines) and head < _HEAD_LINES and not _holds_number(lines[head]):
        head += 1
    tail = len(lines)
    while tail > head and not lines[tail - 1].strip():
        tail -= 1
    skipped = sum(1 for line in lines[:head] if line.strip())
    try:
        values = np.array(lines[head:tail], dtype=np.float64)
    except (ValueError, OverflowError):
        return None, None, 0
    if values.size == 0:
        return None, None, 0
    return values, np.arange(head, tail, dtype=np.int64), skipped


def _holds_number(line: str) -> bool:
    """Whether any field of the line, split at any separator, is a number (comments hold none)."""
    s = line.strip()
    if _is_comment(s):
        return False
    return any(_parse_value(f) is not None for f in re.split(r"[,;\t ]+", s) if f)


# --- Tables -------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Table:
    values: list[float]
    indices: list[int]
    skipped: int
    unit_hint: str  # "ms", "s" or "" (the column name does not say)
    column_name: str


def _separator(rows: list[str]) -> str | None:
    """``;``, tab or ``,`` — whichever the rows use, in that order of precedence — else None
    (spaces). A ``;`` or tab file may then use ``,`` as its decimal mark."""
    for sep in (";", "\t", ","):
        if any(sep in row for row in rows):
            return sep
    return None


def _split(row: str, sep: str | None) -> list[str]:
    # A trailing separator ("800," or "800;") adds no column.
    body = row.rstrip(",;\t ")
    if sep is None:
        return body.split()
    # Spreadsheets quote fields ("rr","812"); a separator inside quotes is not expected here.
    return [f.strip().strip('"').strip() for f in body.split(sep)]


def _number(field: str, decimal_comma: bool) -> float | None:
    if decimal_comma and _DECIMAL_COMMA.fullmatch(field):
        field = field.replace(",", ".")
    return _parse_value(field)


def _plain_name(name: str) -> str:
    """A column name without unit, case, punctuation: ``RR-interval [ms]`` → ``rrinterval``."""
    without_unit = re.sub(r"[\[(].*?[\])]", "", name.lower())
    return re.sub(r"[^a-z0-9]", "", without_unit)


def _unit_hint(name: str) -> str:
    match = _UNIT_IN_NAME.search(name.strip())
    if match is None:
        return ""
    unit = (match.group(1) or match.group(2)).lower()
    return "ms" if unit.startswith("ms") else "s"


def _parse_table(p: Path, lines: list[str], column: str | None) -> _Table:
    """Rows split into columns; the RR column found or picked; every other line skipped."""
    rows = [(idx, line.strip()) for idx, line in enumerate(lines) if not _is_comment(line.strip())]
    # Comment lines count as skipped, as headers do; blank lines do not.
    n_comments = sum(1 for line in lines if line.strip()) - len(rows)
    sample = [row for _, row in rows[:_LAYOUT_ROWS]]
    sep = _separator(sample)
    decimal_comma = sep in (";", "\t")
    split = [_split(row, sep) for _, row in rows]
    is_data = [any(_number(f, decimal_comma) is not None for f in fields) for fields in split]
    widths = Counter(len(f) for f, d in zip(split[:_LAYOUT_ROWS], is_data, strict=False) if d)
    if not widths:
        raise InputFileError(str(p), "contains no numbers (expected one RR interval per line)")
    n_cols = widths.most_common(1)[0][0]
    first_data = next(k for k, d in enumerate(is_data) if d and len(split[k]) == n_cols)
    header = next(
        (split[k] for k in range(first_data - 1, -1, -1) if len(split[k]) >= 1 and not is_data[k]),
        None,
    )
    if header is not None and len(header) != n_cols:
        if sep == "," and len(header) == 1 and n_cols == 2 and column is None:
            # One column name over "812,5": a decimal comma, not two columns.
            return _one_column_decimal_comma(p, rows, header[0], n_comments)
        header = None
    names = header if header is not None else [f"column {k + 1}" for k in range(n_cols)]
    if n_cols == 1 and column is None:
        col = 0
    else:
        numeric = _numeric_columns(split, is_data, n_cols, decimal_comma)
        col = _pick_column(
            p, names, column, has_header=header is not None, numeric=numeric, comma=sep == ","
        )
    values: list[float] = []
    indices: list[int] = []
    skipped = n_comments
    for (idx, _), fields in zip(rows, split, strict=True):
        value = _number(fields[col], decimal_comma) if len(fields) == n_cols else None
        if value is None:
            skipped += 1
        else:
            values.append(value)
            indices.append(idx)
    name = names[col] if header is not None else ""
    return _Table(values, indices, skipped, _unit_hint(name), name)


def _one_column_decimal_comma(
    p: Path, rows: list[tuple[int, str]], name: str, n_comments: int
) -> _Table:
    """A one-column file with a header and decimal commas: each row is one number."""
    values: list[float] = []
    indices: list[int] = []
    skipped = n_comments
    for idx, row in rows:
        value = _number(row.rstrip(",;\t "), decimal_comma=True)
        if value is None:
            skipped += 1
        else:
            values.append(value)
            indices.append(idx)
    if values and not _mostly_rr(values):
        second_fields = [
            _number(row.split(",")[1], decimal_comma=False)
            for _, row in rows
            if row.count(",") == 1
        ]
        if _mostly_rr([v for v in second_fields if v is not None]):
            # "1,800" under "rr": 1.8 is no interval, but 800 would be one. Guessing either
            # way could analyse the wrong numbers, so the person picks.
            raise InputFileError(
                str(p),
                f"has one column name ({name!r}) over two comma-separated numbers per line; "
                "read with ',' as the decimal mark they are not RR intervals, but the second "
                "numbers look like intervals in ms: if ',' separates two columns, pick one "
                "with --column 2 (or --column 1)",
            )
    logger.info("%s: read ',' as the decimal mark (one column, %r)", p, name)
    return _Table(values, indices, skipped, _unit_hint(name), name)


def _mostly_rr(values: list[float]) -> bool:
    """At least half of ``values`` are plausible RR intervals in ms or in s (24–240 bpm)."""
    n_ms = sum(1 for v in values if 250.0 <= v <= 2500.0)
    n_s = sum(1 for v in values if 0.25 <= v <= 2.5)
    return 2 * max(n_ms, n_s) >= len(values) > 0


def _numeric_columns(
    split: list[list[str]], is_data: list[bool], n_cols: int, decimal_comma: bool
) -> list[int]:
    """Columns that hold a number in most of the first data rows (timestamps do not)."""
    data = [f for f, d in zip(split, is_data, strict=True) if d and len(f) == n_cols]
    data = data[:_LAYOUT_ROWS]
    return [
        k
        for k in range(n_cols)
        if 2 * sum(_number(f[k], decimal_comma) is not None for f in data) > len(data)
    ]


def _quoted(name: str) -> str:
    """A column name as it would be typed in a shell: quoted when it holds spaces."""
    return f'"{name}"' if re.search(r"[\s;|&<>()\[\]]", name) else name


def _pick_column(
    p: Path,
    names: list[str],
    column: str | None,
    *,
    has_header: bool,
    numeric: list[int],
    comma: bool,
) -> int:
    """The index of the RR column: the one asked for, the one named as RR, the only numeric one.

    Raises
    ------
    InputFileError
        No such column, or no way to tell which column holds the intervals (the message
        names the columns seen and the ``--column`` option).
    """
    n_cols = len(names)
    listed = ", ".join(_quoted(n) for n in names)
    if column is not None:
        wanted = column.strip()
        for k, name in enumerate(names):
            if has_header and (
                name.strip().lower() == wanted.lower()
                or (_plain_name(wanted) and _plain_name(name) == _plain_name(wanted))
            ):
                return k
        if wanted.isdigit() and 1 <= int(wanted) <= n_cols:
            return int(wanted) - 1
        raise InputFileError(
            str(p),
            f"has no column {wanted!r}; its columns are {listed} (give --column one of these "
            f"names, or a number from 1 to {n_cols})",
        )
    if has_header:
        rr_like = [k for k, n in enumerate(names) if _RR_NAMES.fullmatch(_plain_name(n))]
        if len(rr_like) == 1:
            return rr_like[0]
    if len(numeric) == 1:  # the others are time stamps or labels
        return numeric[0]
    if has_header:
        example = names[numeric[-1]] if numeric else names[-1]
        raise InputFileError(
            str(p),
            f"has {n_cols} columns ({listed}) and none is clearly the RR intervals; pick one "
            f"with --column NAME (e.g. --column {_quoted(example)})",
        )
    raise InputFileError(
        str(p),
        f"has {n_cols} columns of numbers per line and no header naming them; pick the RR "
        f"intervals with --column NUMBER (1 to {n_cols})"
        + ("; if ',' is a decimal comma here, separate the columns with ';'" if comma else ""),
    )
