"""Where the application keeps its files (design.md §5).

Everything lives under one data directory: ``$PET_BIOFEEDBACK_HOME`` when that environment
variable is set (every test sets it to a temporary folder), else the platform's per-user data
folder:

* Linux and other Unix: ``$XDG_DATA_HOME/pet-biofeedback`` (default
  ``~/.local/share/pet-biofeedback``);
* macOS: ``~/Library/Application Support/pet-biofeedback``;
* Windows: ``%LOCALAPPDATA%\\pet-biofeedback`` (default ``~\\AppData\\Local``).

Recordings go to its ``recordings`` folder. Folders are created on demand — the data folder and
every parent created with it — readable only by their owner (recordings are health data); an
existing recordings folder that others can read is made private, or a warning says so. This
module imports only the standard library and `pet_biofeedback.errors`.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
from datetime import datetime
from pathlib import Path
from typing import Final

from pet_biofeedback.errors import ConfigError

__all__ = [
    "APP_DIR_NAME",
    "DIR_MODE",
    "HOME_ENV",
    "RECORDING_SUFFIX",
    "data_dir",
    "default_recording_path",
    "recordings_dir",
]

logger = logging.getLogger(__name__)

HOME_ENV: Final = "PET_BIOFEEDBACK_HOME"
APP_DIR_NAME: Final = "pet-biofeedback"
DIR_MODE: Final = 0o700  # owner only
RECORDING_SUFFIX: Final = ".jsonl.gz"  # recordings are compressed by default
_MAX_NAME_TRIES: Final = 1000


def data_dir() -> Path:
    """The application's data directory (not created here).

    Returns
    -------
    Path
        ``$PET_BIOFEEDBACK_HOME`` if set and not empty, else the platform's per-user data
        folder + ``pet-biofeedback`` (module docstring).
    """
    home = os.environ.get(HOME_ENV, "").strip()
    if home:
        return Path(home).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA", "").strip()
        root = Path(base) if base else Path.home() / "AppData" / "Local"
    elif sys.platform == "darwin":
        root = Path.home() / "Library" / "Application Support"
    else:
        xdg = os.environ.get("XDG_DATA_HOME", "").strip()
        root = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return root / APP_DIR_NAME


def recordings_dir(*, create: bool = True) -> Path:
    """The folder for recordings, ``data_dir() / "recordings"``.

    Parameters
    ----------
    create : bool, default True
        Create it (and the data directory and missing parents) if missing, mode 0700; make an
        existing one that others can read private (or warn when that is not allowed).

    Returns
    -------
    Path

    Raises
    ------
    ConfigError
        The folder cannot be created (the message names it and says why).
    """
    folder = data_dir() / "recordings"
    if create:
        try:
            created = _make_private_dirs(folder)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the recordings folder {folder} ({exc.strerror or exc}); "
                f"set {HOME_ENV} to a folder you can write to"
            ) from exc
        if not created:
            _tighten(folder)
    return folder


def _make_private_dirs(folder: Path) -> bool:
    """Create ``folder`` and its missing parents, each owner-only; True if it was missing.

    ``Path.mkdir(parents=True)`` gives the parents the default mode (the umask's, often
    world-readable), and the umask can also loosen ``mode``: every folder created here is
    chmod-ed to `DIR_MODE` explicitly (issue 6).
    """
    missing: list[Path] = []
    current = folder
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # made meanwhile by another process: not ours to change
        os.chmod(path, DIR_MODE)
    return bool(missing)


def _tighten(folder: Path) -> None:
    """An existing recordings folder others can read or enter becomes owner-only, or a warning."""
    try:
        mode = folder.stat().st_mode
    except OSError:
        return  # the writer reports what is wrong with the folder
    if not mode & (stat.S_IRWXG | stat.S_IRWXO):
        return
    try:
        os.chmod(folder, DIR_MODE)
    except OSError as exc:
        logger.warning(
            "the recordings folder %s can be read by other users of this computer and could not "
            "be made private (%s); recordings are health data — change its permissions (chmod "
            "700) or set %s to a private folder",
            folder,
            exc.strerror or exc,
            HOME_ENV,
        )
        return
    logger.warning(
        "the recordings folder %s could be read by other users of this computer; it is now "
        "private (owner only)",
        folder,
    )


def default_recording_path(
    started_at: datetime | None = None, *, folder: Path | None = None
) -> Path:
    """A new file name for a recording, named by its start time.

    Parameters
    ----------
    started_at : datetime, optional
        Start of the session; default now (local time).
    folder : Path, optional
        Where; default `recordings_dir` (created if missing).

    Returns
    -------
    Path
        ``<folder>/session-YYYY-MM-DD_HHMMSS.jsonl.gz``, with ``-2``, ``-3``, … appended to
        the stem when that name is taken. (The writer still refuses to replace a file that
        appears meanwhile.)

    Raises
    ------
    ConfigError
        The folder cannot be created, or no free name was found.
    """
    when = started_at if started_at is not None else datetime.now().astimezone()
    where = folder if folder is not None else recordings_dir()
    stem = f"session-{when:%Y-%m-%d_%H%M%S}"
    for n in range(1, _MAX_NAME_TRIES + 1):
        candidate = where / f"{stem}{'' if n == 1 else f'-{n}'}{RECORDING_SUFFIX}"
        if not candidate.exists():
            return candidate
    raise ConfigError(f"no free recording file name for {stem} in {where}")
