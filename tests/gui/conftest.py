"""GUI tests: offscreen Qt (set by the root conftest before any Qt import), marked ``gui``."""

from __future__ import annotations

from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if Path(item.path).resolve().is_relative_to(_HERE):
            item.add_marker(pytest.mark.gui)


@pytest.fixture
def artifacts_dir() -> Path:
    """Screenshots for a person to look at (not compared pixel by pixel)."""
    folder = Path(__file__).resolve().parents[2] / "build" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
