"""The import-linter contracts catch what the layer table forbids (docs/design.md §2).

A contract that passes on the real code proves little by itself; these tests copy the package,
add one forbidden import to the copy and check that `lint-imports` fails, naming the rule.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports() -> str:
    exe = Path(sys.executable).with_name("lint-imports")
    found = str(exe) if exe.exists() else shutil.which("lint-imports")
    if found is None:
        pytest.fail("lint-imports is not installed; install the test extra: pip install -e .[test]")
    return found


def _copy_project(dest: Path) -> Path:
    shutil.copy2(ROOT / "pyproject.toml", dest / "pyproject.toml")
    shutil.copytree(
        ROOT / "pet_biofeedback",
        dest / "pet_biofeedback",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return dest / "pet_biofeedback"


def _run_in(project: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(project)}
    return subprocess.run(
        [_lint_imports(), "--no-cache"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


# (module file that gains the import, the import, words of the contract that must break)
FORBIDDEN = [
    ("signal/timedomain.py", "import pet_biofeedback.firmware_bridge", "signal is a pure"),
    ("signal/timedomain.py", "import pet_biofeedback.events", "signal is a pure"),
    ("errors.py", "import pet_biofeedback.events", "errors is the one leaf"),
    ("events.py", "import pet_biofeedback.signal", "base modules import nothing"),
    ("firmware_bridge/hrs.py", "import pet_biofeedback.signal", "the device side"),
    ("firmware_bridge/hrs.py", "import pet_biofeedback.paths", "the device side"),
    ("session/sources.py", "import pet_biofeedback.cli", "the app core never"),
    ("session/sources.py", "import pet_biofeedback.gui", "nothing but the command line"),
    ("recording.py", "import pet_biofeedback.paths", "the layer table"),
    ("firmware_bridge/ble_errors.py", "import bleak", "bleak only in the BLE modules"),
    ("firmware_bridge/ble_settings.py", "import bleak.exc", "bleak only in the BLE modules"),
    ("firmware_bridge/emulated_harness.py", "import bleak", "bleak only in the BLE modules"),
    ("session/sources.py", "import bumble", "bumble only in the emulated straps"),
    ("firmware_bridge/emulated.py", "import bumble.device", "bumble only in the emulated"),
]


def test_contracts_hold_on_the_real_code(tmp_path: Path) -> None:
    project = _copy_project(tmp_path).parent
    result = _run_in(project)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(("module", "statement", "contract"), FORBIDDEN)
def test_forbidden_import_is_caught(
    tmp_path: Path, module: str, statement: str, contract: str
) -> None:
    package = _copy_project(tmp_path)
    # The GUI package may not exist yet; give the copy one so that importing it is possible.
    (package / "gui").mkdir(exist_ok=True)
    (package / "gui" / "__init__.py").touch()
    target = package / module
    if not target.exists():  # a module split into a package keeps its name as __init__.py
        target = package / module.removesuffix(".py") / "__init__.py"
    target.write_text(target.read_text(encoding="utf-8") + f"\n{statement}  # noqa\n")
    result = _run_in(tmp_path)
    assert result.returncode != 0, f"{module}: `{statement}` was not caught\n{result.stdout}"
    # "… BROKEN", or "… BROKEN (5 ignored imports)" for a contract with ignore_imports.
    broken = [line for line in result.stdout.splitlines() if " BROKEN" in line]
    assert any(contract in line for line in broken), result.stdout
