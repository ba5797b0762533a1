"""The text output never crashes on a console that cannot show "−", "—" or "α" (issue #9)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "recordings" / "resonance-6-per-min.rr.txt"


def _analyze(encoding: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    argv = [sys.executable, "-m", "pet_biofeedback", "analyze", str(SAMPLE), "--window", "120"]
    return subprocess.run(argv, env=env, capture_output=True, timeout=120, check=False)


@pytest.mark.parametrize("encoding", ["ascii", "cp1252", "cp437"])
def test_analyze_table_on_a_limited_console_replaces_what_it_cannot_show(encoding: str) -> None:
    result = _analyze(encoding)
    assert result.returncode == 0, result.stderr.decode(encoding, "replace")
    text = result.stdout.decode(encoding)  # strict: everything printed is in the console's set
    assert "DFA" in text
    assert "Traceback" not in result.stderr.decode(encoding, "replace")


def test_analyze_table_on_a_unicode_console_keeps_the_unicode() -> None:
    result = _analyze("utf-8")
    assert result.returncode == 0
    assert "α" in result.stdout.decode("utf-8")


def test_console_fallback_spells_symbols_in_ascii() -> None:
    from pet_biofeedback import cli

    cli._make_console_safe()
    encoded = "−3 ms — DFA α1 ≥ 0.5 ✓".encode("ascii", errors=cli._CONSOLE_ERRORS)
    assert encoded == b"-3 ms -- DFA alpha1 >= 0.5 ?"


def test_sim_help_lists_every_key_with_range_and_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pet_biofeedback.cli import main
    from pet_biofeedback.firmware_bridge.sim_config import SPEC_KEYS

    assert main(["record", "--source", "sim:help"]) == 0
    out = capsys.readouterr().out
    for key in SPEC_KEYS:
        assert f"\n  {key} " in out
    assert "30–200" in out and "resonance" in out
