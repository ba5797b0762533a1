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
        "'live','batch','resonance'):\n"
        "    importlib.import_module('pet_biofeedback.signal.' + m)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('pandas','matplotlib','neurokit2','PySide6','pyqtgraph','bleak','qasync','bumble')]\n"
        "print(','.join(bad))\n"
    )
    result = _run(sys.executable, "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_third_party_device_and_gui_libraries_stay_in_their_modules() -> None:
    """bleak only in firmware_bridge/ble.py (and the Bumble backend), bumble only in the
    emulated straps, Qt only under gui/ (design.md §2, style.md §2.1)."""
    import re

    allowed = {
        "bleak": (
            "firmware_bridge/ble.py",
            "firmware_bridge/emulated.py",
            "firmware_bridge/_bumble",
        ),
        "bumble": ("firmware_bridge/emulated.py", "firmware_bridge/_bumble"),
        "PySide6": ("gui/",),
        "pyqtgraph": ("gui/",),
        "qasync": ("gui/",),
    }
    pattern = re.compile(r"^\s*(?:from|import)\s+(bleak|bumble|PySide6|pyqtgraph|qasync)\b", re.M)
    offenders = []
    for path in (ROOT / "pet_biofeedback").rglob("*.py"):
        rel = path.relative_to(ROOT / "pet_biofeedback").as_posix()
        for lib in set(pattern.findall(path.read_text(encoding="utf-8"))):
            if not any(rel.startswith(a) for a in allowed[lib]):
                offenders.append(f"{rel} imports {lib}")
    assert offenders == []
