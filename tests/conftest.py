"""Root test configuration: isolation from the real home, headless Qt, directory markers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test gets its own PET_BIOFEEDBACK_HOME; nothing touches the real home."""
    home = tmp_path_factory.mktemp("pet_home")
    monkeypatch.setenv("PET_BIOFEEDBACK_HOME", str(home))
    return home
