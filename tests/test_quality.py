"""Static checks that are part of the test command: lint, types, layer rules (design.md §2)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


def _tool(name: str) -> str:
    exe = Path(sys.executable).with_name(name)
    found = str(exe) if exe.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; install the test extra: pip install -e '.[test]'")
    return found


def test_ruff_lint_is_clean() -> None:
    result = _run(_tool("ruff"), "check", "pet_biofeedback", "tests", "benchmarks", "recordings")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    result = _run(sys.executable, "-m", "mypy", "pet_biofeedback")
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_layers_hold() -> None:
    result = _run(_tool("lint-imports"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_signal_core_imports_only_numpy_scipy_and_errors() -> None:
    """The import-linter contracts cover our own packages; this covers third-party ones."""
    code = (
        "import sys, importlib\n"
        "for m in ('artifacts','timedomain','spectral','nonlinear','rsa','ecg','respiration',"
        "'live','batch'):\n"
        "    importlib.import_module('pet_biofeedback.signal.' + m)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('pandas','matplotlib','neurokit2','PySide6','pyqtgraph','bleak','qasync','bumble')]\n"
        "print(','.join(bad))\n"
    )
    result = _run(sys.executable, "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
