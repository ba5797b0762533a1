"""The data folder is private (issue 6): created 0700 with its parents, tightened if loose."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from pet_biofeedback.paths import HOME_ENV, default_recording_path, recordings_dir

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")


@pytest.fixture
def loose_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # the common default: new folders world-readable
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_folder_and_the_parents_we_create_are_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loose_umask: None
) -> None:
    home = tmp_path / "jane" / "data" / "pet"
    monkeypatch.setenv(HOME_ENV, str(home))
    folder = recordings_dir()
    for path in (tmp_path / "jane", tmp_path / "jane" / "data", home, folder):
        assert _mode(path) == 0o700, path


def test_an_existing_recordings_folder_others_can_read_is_tightened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(HOME_ENV, str(tmp_path))
    folder = tmp_path / "recordings"
    folder.mkdir()
    folder.chmod(0o755)
    with caplog.at_level(logging.WARNING, logger="pet_biofeedback.paths"):
        assert default_recording_path().parent == folder
    assert _mode(folder) == 0o700
    assert "could be read by other users" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pet_biofeedback.paths"):
        recordings_dir()
    assert caplog.text == ""  # private already: nothing to say
