"""``record`` on a full disk (issue 6): a clear message, how much was saved and where, exit 2.

The child process runs under a file-size limit (``RLIMIT_FSIZE``) with SIGXFSZ ignored, so a
write past the limit fails with EFBIG as a full disk fails with ENOSPC. Before the fix a second
error from closing the file masked the first and the command exited 3 with a traceback.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pet_biofeedback.recording import read_recording

REPO = Path(__file__).resolve().parents[2]
LIMIT_BYTES = 150_000

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX resource limits")


def _limit_file_size() -> None:
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() then fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT_BYTES, LIMIT_BYTES))


@pytest.mark.parametrize("name", ["full.jsonl.gz", "full.jsonl"])
def test_a_full_disk_says_so_how_much_was_saved_and_exits_2(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    argv = ["record", "--source", "sim:seed=1", "--seconds", "36000", "--speed", "max"]
    proc = subprocess.run(
        [sys.executable, "-m", "pet_biofeedback", *argv, "--out", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limit_file_size,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    message = lines[0]
    assert message.startswith("pet-biofeedback: The disk is full")
    assert str(path) in message
    match = re.search(r"(\d+) events, ", message)
    assert match is not None, message
    rec = read_recording(path)
    assert int(match.group(1)) == len(rec.events) > 100  # what it says is what the file holds
