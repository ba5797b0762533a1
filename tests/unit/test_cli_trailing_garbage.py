"""A gzip recording with garbage after its end is not "cut off (a crash?)" (issue #9).

The reader tells the two apart (tests/unit/test_recording.py); this proves every command that
reads a recording passes that on: complete data, a note about the garbage, no crash wording.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_cli import run

SAMPLE = Path(__file__).resolve().parents[2] / "recordings" / "h10-resonance-5.5.jsonl.gz"


@pytest.fixture
def with_garbage(tmp_path: Path) -> Path:
    path = tmp_path / "rec.jsonl.gz"
    tail = bytes(range(256)) * 8  # not gzip: no member header
    path.write_bytes(SAMPLE.read_bytes() + b"GARBAGE\n" + tail)
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ["analyze"],
        ["replay", "--headless", "--speed", "max"],
        ["export", "--to", "kubios", "--out", "{out}"],
    ],
    ids=["analyze", "replay", "export"],
)
def test_garbage_after_the_end_is_not_called_a_crash(
    with_garbage: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    argv = [a.replace("{out}", str(tmp_path / "out.txt")) for a in argv]
    code, out, err = run([argv[0], str(with_garbage), *argv[1:]], capsys)
    assert code == 0, err
    text = (out + err).lower()
    assert "after the end of the recording" in text
    assert "crash" not in text and "cut off" not in text
