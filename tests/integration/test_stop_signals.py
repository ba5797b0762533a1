"""``record`` and ``replay`` stop cleanly on Ctrl-C, SIGTERM and SIGHUP (issue 9).

Real child processes in real time: the gzip stream is finished, the file closed, the summary
printed and the exit code 0 — also when the child was started with SIGINT ignored (``nohup``,
``&``), where Ctrl-C did nothing before and SIGTERM exited 143 with an unfinished gzip.
"""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pet_biofeedback.events import RRIntervals
from pet_biofeedback.recording import RecordingWriter, read_recording

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 20.0
RUN_BEFORE_SIGNAL_S = 1.5

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as nohup / a background job starts it


def _spawn(argv: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pet_biofeedback", *argv],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_ignore_sigint,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _stop(proc: subprocess.Popen[str], signum: int) -> tuple[str, str]:
    try:
        proc.send_signal(signum)
        return proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_record_stops_cleanly_on_a_stop_signal_even_with_sigint_ignored(
    tmp_path: Path, signum: signal.Signals
) -> None:
    path = tmp_path / "stopped.jsonl.gz"
    proc = _spawn(["record", "--source", "sim:seed=2,acc=0", "--speed", "4", "--out", str(path)])
    deadline_s = time.monotonic() + START_TIMEOUT_S
    while not path.exists():
        assert time.monotonic() < deadline_s and proc.poll() is None, "did not start"
        time.sleep(0.05)  # a real child process in real time: nothing to fake here
    time.sleep(RUN_BEFORE_SIGNAL_S)
    out, err = _stop(proc, signum)
    assert proc.returncode == 0, err
    assert err == ""
    lines = out.strip().splitlines()
    how = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP"}[signum]
    assert lines[-2].startswith("Recorded ") and " beats, " in lines[-2]
    assert lines[-2].endswith(f"stopped by {how}.") or f"stopped by {how} " in lines[-2]
    assert lines[-1] == f"Recording saved to {path}"
    with gzip.open(path, "rb") as f:
        f.read()  # a finished gzip stream: no EOFError
    rec = read_recording(path)
    assert not rec.truncated
    n_beats = sum(len(e.rr_ms) for e in rec.events if isinstance(e, RRIntervals))
    assert f"{n_beats} beat" in lines[-2]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_replay_stops_cleanly_with_its_summary(tmp_path: Path, signum: int) -> None:
    path = tmp_path / "long.jsonl"
    with RecordingWriter(path, device={}, settings={}) as writer:
        for i in range(600):
            writer.write(RRIntervals(float(i), (1000.0,)))
    proc = _spawn(["replay", "--headless", str(path)])
    assert proc.stdout is not None
    first = proc.stdout.readline()  # the first status line: it is playing
    assert "beats" in first, first
    out, err = _stop(proc, signum)
    assert proc.returncode == 0, err
    assert err == ""
    lines = out.strip().splitlines()
    assert lines[-2] == f"Stopped by {'Ctrl-C' if signum == signal.SIGINT else 'SIGTERM'}."
    assert lines[-1].startswith("Replayed ") and " beats over " in lines[-1]
