"""A session id from the history (``history --json`` "id") to the recording it indexes.

``report`` and ``export`` take ``FILE|SESSION_ID``: a name that is a file is that file;
otherwise a whole number is looked up among the sessions of the given profile, so that a
therapist's demonstration (another profile) is not opened by a patient's id by mistake.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from pet_biofeedback.errors import UnknownSessionError
from pet_biofeedback.session.history import HistoryStore
from pet_biofeedback.session.history_record import DEFAULT_PROFILE, validate_profile_name

__all__ = ["looks_like_session_id", "recording_of_session"]

_SQLITE_MAX_ID: Final = 2**63 - 1  # SQLite row ids are signed 64-bit integers


def looks_like_session_id(text: str) -> bool:
    """True for a bare whole number (digits only, surrounding spaces allowed)."""
    stripped = text.strip()
    return stripped.isascii() and stripped.isdigit()


def _how_to_list(profile: str) -> str:
    if profile == DEFAULT_PROFILE:
        return "'pet-biofeedback history' lists the sessions and their ids"
    return f"'pet-biofeedback history --profile {profile}' lists the sessions and their ids"


def recording_of_session(
    session_id: int, profile: str = DEFAULT_PROFILE, *, folder: Path | None = None
) -> Path:
    """The recording of session ``session_id`` of ``profile``.

    Parameters
    ----------
    session_id : int
        The history's id of the session.
    profile : str, default DEFAULT_PROFILE
        Whose session it must be.
    folder : Path, optional
        The data folder (default: `pet_biofeedback.paths.data_dir`).

    Returns
    -------
    Path
        The recording file (it exists).

    Raises
    ------
    UnknownSessionError
        No such id in the profile's history (its message says how to list the ids), the
        id belongs to another profile, or the session has no recording file any more.
    StoreError
        The history cannot be read.
    ConfigError
        A bad profile name.
    """
    profile = validate_profile_name(profile)
    record = None
    if 0 <= session_id <= _SQLITE_MAX_ID:
        with HistoryStore(folder) as store:
            record = store.session(session_id)
    if record is None:
        raise UnknownSessionError(
            f"no session {session_id} in the history",
            session_id=session_id,
            user_message=f"There is no session {session_id} in the history and no file of that "
            f"name: {_how_to_list(profile)}.",
        )
    if record.profile != profile:
        # The other profile's name is not shown: profile names are personal (history.py).
        raise UnknownSessionError(
            f"session {session_id} belongs to another profile, not {profile!r}",
            session_id=session_id,
            user_message=f"Session {session_id} is not one of this profile's sessions. Give "
            "--profile NAME for the person whose session it is; "
            f"{_how_to_list(profile)}.",
        )
    if record.recording is None or not Path(record.recording).is_file():
        raise UnknownSessionError(
            f"session {session_id}: recording {record.recording!r} not found",
            session_id=session_id,
            user_message=f"The recording of session {session_id} is no longer there "
            f"({record.recording or 'no file was saved'}). 'pet-biofeedback history "
            "--rebuild' removes sessions whose recordings are gone.",
        )
    return Path(record.recording)
