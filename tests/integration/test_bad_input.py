"""Bad input on the replay / record-from-file path (issue 6): clear messages or counted skips.

``analyze``, ``replay`` and ``record --source FILE`` refuse zero and negative RR intervals the
same way (with the line number for RR text) and skip out-of-range ones (250–2500 ms, as
``analyze``'s gate) with a note; absurd numbers never become an absurd time axis; a named pipe
is refused instead of blocking; absurd ``--speed`` values are refused by argparse.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from pet_biofeedback.cli import main
from pet_biofeedback.events import Event, Gap, RRIntervals
from pet_biofeedback.recording import RecordingWriter, read_recording

REPO = Path(__file__).resolve().parents[2]


def run(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    assert "Traceback" not in err and "set_int_max_str_digits" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def write_recording(path: Path, events: Sequence[Event]) -> Path:
    with RecordingWriter(path, device={}, settings={}) as writer:
        for event in events:
            writer.write(event)
    return path


def _beats(n: int) -> list[Event]:
    return [RRIntervals(float(i), (1000.0,)) for i in range(1, n + 1)]


COMMANDS = (
    ["analyze"],
    ["replay", "--headless", "--speed", "max"],
)


class TestRrText:
    @pytest.mark.parametrize("bad", ["-500", "0"])
    @pytest.mark.parametrize("command", [*COMMANDS, ["record", "--speed", "max", "--source"]])
    def test_zero_or_negative_is_refused_with_its_line_by_every_command(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str, command: list[str]
    ) -> None:
        path = tmp_path / "rr.txt"
        path.write_text(f"# RR\n800\n810\n{bad}\n820\n")
        argv = [*command, str(path)]
        if command[0] == "record":
            argv += ["--out", str(tmp_path / "out.jsonl")]
        code, _, err = run(argv, capsys)
        assert code == 2
        assert "line 4" in one_line_error(err)

    @pytest.mark.parametrize("text", ["1e308", "99999999", "1" * 5000])
    def test_absurd_values_never_reach_the_time_axis(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
    ) -> None:
        path = tmp_path / "rr.txt"
        path.write_text(f"800\n810\n{text}\n820\n830\n\n\n")  # trailing blank lines too
        code, out, err = run(["replay", "--headless", "--speed", "max", str(path)], capsys)
        if text == "1" * 5000:  # not a finite number at all: refused, quoted short
            assert code == 2
            message = one_line_error(err)
            assert "line 3" in message and len(message) < 300
            return
        assert code == 0, err
        assert "Traceback" not in err
        summary = next(line for line in out.splitlines() if line.startswith("Replayed"))
        assert "4 beats over 2.5 s" in summary  # 810 + 820 + 830 ms after the first beat
        assert "note: 1 intervals outside 250–2500 ms were skipped" in out
        assert "line 3" in err  # the warning names the line

    def test_record_from_an_rr_file_keeps_no_absurd_interval(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = tmp_path / "rr.txt"
        path.write_text("800\n810\n1e300\n820\n")
        out_path = tmp_path / "out.jsonl"
        argv = ["record", "--speed", "1", "--source", str(path), "--out", str(out_path)]
        code, _, err = run(argv, capsys)  # --speed 1: the 1e300 once stalled forever
        assert code == 0, err
        events = read_recording(out_path).events
        rr = [v for e in events if isinstance(e, RRIntervals) for v in e.rr_ms]
        assert rr == [800.0, 810.0, 820.0]
        assert any(isinstance(e, Gap) and "outside 250–2500 ms" in e.reason for e in events)


class TestRecordings:
    def test_negative_rr_in_a_recording_is_refused_by_every_command(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = tmp_path / "neg.jsonl"
        path.write_text(
            json.dumps(
                {
                    "format": "pet-biofeedback-recording",
                    "version": 1,
                    "started_at": "2026-01-01T00:00:00.000+00:00",
                    "device": {},
                    "settings": {},
                    "app_version": "0",
                }
            )
            + "\n"
            + "".join(
                json.dumps({"t": float(i), "type": "rr", "rr_ms": [1000.0 if i != 5 else -800.0]})
                + "\n"
                for i in range(1, 20)
            )
        )
        out_path = tmp_path / "copy.jsonl"
        for argv in (
            *([*c, str(path)] for c in COMMANDS),
            ["record", "--speed", "max", "--source", str(path), "--out", str(out_path)],
        ):
            code, _, err = run(argv, capsys)
            assert code == 2, argv
            one_line_error(err)
        if out_path.exists():  # what record wrote before refusing holds no negative interval
            rr = [
                v
                for e in read_recording(out_path).events
                if isinstance(e, RRIntervals)
                for v in e.rr_ms
            ]
            assert all(v > 0 for v in rr)

    def test_out_of_range_rr_is_skipped_with_the_note(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        events = _beats(20)
        events[9] = RRIntervals(10.0, (99999999.0,))
        path = write_recording(tmp_path / "big.jsonl", events)
        code, out, err = run(["replay", "--headless", "--speed", "max", str(path)], capsys)
        assert code == 0, err
        assert "note: 1 intervals outside 250–2500 ms were skipped (the first at 10.0 s)" in out

    @pytest.mark.parametrize(
        ("fs", "value"), [(1e300, 10.0), (200.0, 1e300), (math.inf, 1.0), (0.0, 1.0)]
    )
    def test_impossible_acc_frames_are_counted_skips(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], fs: float, value: float
    ) -> None:
        path = tmp_path / "acc.jsonl"
        header = {
            "format": "pet-biofeedback-recording",
            "version": 1,
            "started_at": "2026-01-01T00:00:00.000+00:00",
            "device": {},
            "settings": {},
            "app_version": "0",
        }
        lines = [json.dumps(header)]
        for i in range(1, 30):
            lines.append(json.dumps({"t": float(i), "type": "rr", "rr_ms": [1000.0]}))
            mg = [[value, 0.0, 1000.0]] * 36
            lines.append(json.dumps({"t": i + 0.5, "type": "acc", "fs": fs, "mg": mg}))
        try:
            path.write_text("\n".join(lines) + "\n")
        except ValueError:
            pytest.skip("JSON cannot hold this value")
        code, out, err = run(["replay", "--headless", "--speed", "max", str(path)], capsys)
        if code == 2:  # the reader refused the line: a clear message with its number
            assert "line" in one_line_error(err)
            return
        assert code == 0, err
        assert "Traceback" not in err
        # the reader skips such lines as malformed (and names them), or the gate counts them
        assert (
            "note: 29 ECG/ACC frames with an impossible sample rate or values were skipped" in out
            or "malformed lines" in out  # the last one may count as a cut-off tail instead
        )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
@pytest.mark.parametrize("command", ["analyze", "replay", "record"])
def test_a_named_pipe_is_refused_not_waited_on(tmp_path: Path, command: str) -> None:
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    argv = {
        "analyze": ["analyze", str(fifo)],
        "replay": ["replay", "--headless", str(fifo)],
        "record": ["record", "--source", str(fifo), "--out", str(tmp_path / "o.jsonl")],
    }[command]
    proc = subprocess.run(
        [sys.executable, "-m", "pet_biofeedback", *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,  # before the fix: blocked forever opening the pipe
    )
    assert proc.returncode == 2
    assert "named pipe" in one_line_error(proc.stderr)


@pytest.mark.parametrize("speed", ["1e-300", "0", "-1", "nan", "inf", "-inf", "1e300", "abc"])
@pytest.mark.parametrize("command", ["record", "replay"])
def test_absurd_speeds_are_refused_by_argparse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], speed: str, command: str
) -> None:
    path = write_recording(tmp_path / "r.jsonl", _beats(3))
    argv = (
        ["record", "--source", "sim", "--speed", speed, "--out", str(tmp_path / "o.jsonl")]
        if command == "record"
        else ["replay", "--headless", "--speed", speed, str(path)]
    )
    code, _, err = run(argv, capsys)
    assert code == 2
    assert "--speed" in one_line_error(err)
