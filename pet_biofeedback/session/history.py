"""The history of sessions: one SQLite file in the data folder, an index of the recordings.

Design (design.md §5–6, issue 7):

* One file, ``<data folder>/history.sqlite3`` (`pet_biofeedback.paths.data_dir`), owner-only,
  in WAL mode: readers (the history view, the CLI) never wait for the writer, nor it for them.
  There is one writer, the engine's end-of-session step (`HistoryStore.add_session`); every
  write is one transaction.
* It is only an index: the recording is written first, the row after, so a crash can leave a
  recording without a row, never the reverse. `HistoryStore.sync_with_recordings` (cheap: one
  folder listing and one query) indexes such recordings, and `HistoryStore.rebuild` replaces
  every row with what the recordings hold. A corrupt file (not a database, or a failed
  ``PRAGMA integrity_check``) is moved aside, renamed with a timestamp and never deleted,
  and a new one is started (`HistoryStore.moved_aside`); `open_history` then fills it from
  the recordings.
* The schema is versioned with ``PRAGMA user_version`` (`history_schema`).

For the engine: once the recording is closed, ``index_recording(path).record`` gives the row
exactly as a rebuild would (header settings, ratings, summary measures, ``rsa_bpm`` as the
report computes it from the recording's paced breaths); pass it to `HistoryStore.add_session`.
Whatever the row holds must also be in the recording, or a rebuild loses it: so the row's
``rsa_bpm`` is the recording's, not the live feedback's mean of the swings it showed (they
differ by a few per cent). `HistoryStore.feedback_levels` gives the low / medium / high thresholds.

SQLite work is blocking: async callers (the engine) call every method through
``await asyncio.to_thread(store.add_session, record)``. A store may be used from any one
thread at a time (calls are serialised by a lock).

Ratings, notes and profile names are personal: nothing here logs them above DEBUG.

Examples
--------
>>> from datetime import datetime, timezone
>>> with HistoryStore() as store:
...     row_id = store.add_session(SessionRecord(
...         started_at=datetime(2026, 5, 1, 9, 30, tzinfo=timezone.utc), minutes=10.0))
...     [r.minutes for r in store.sessions("default")]
[10.0]
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Final, Self, cast

from pet_biofeedback.errors import (
    PetBiofeedbackError,
    RecordingError,
    StoreError,
    StoreVersionError,
)
from pet_biofeedback.paths import DIR_MODE, data_dir
from pet_biofeedback.session.feedback_levels import FeedbackLevels, feedback_levels_from
from pet_biofeedback.session.history_index import index_recording
from pet_biofeedback.session.history_record import (
    DEFAULT_PROFILE,
    Protocol,
    SessionRecord,
    validate_profile_name,
)
from pet_biofeedback.session.history_schema import migrate

__all__ = [
    "DB_FILE_MODE",
    "DB_NAME",
    "FeedbackLevels",
    "HistoryStore",
    "IndexReport",
    "SessionRecord",
    "index_recording",
    "open_history",
]

logger = logging.getLogger(__name__)

DB_NAME: Final = "history.sqlite3"
DB_FILE_MODE: Final = 0o600  # health data: owner only (SQLite gives -wal/-shm the same mode)
BUSY_TIMEOUT_S: Final = 5.0  # how long a write waits for another program's write to finish
_SIDECARS: Final = ("-wal", "-shm", "-journal")
_CORRUPT_CODES: Final = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})
_SQLITE_MAGIC: Final = b"SQLite format 3\x00"  # the first 16 bytes of every database file
_RECORDING_GLOBS: Final = ("*.jsonl.gz", "*.jsonl")

_COLUMNS: Final = (
    "started_at",
    "started_unix_s",
    "profile",
    "protocol",
    "settings",
    "device",
    "recording",
    "minutes",
    "pacer_breaths_per_min",
    "mean_hr_bpm",
    "start_hr_bpm",
    "rmssd_ms",
    "coherence",
    "rsa_bpm",
    "breathing_breaths_per_min",
    "pain_before",
    "pain_after",
    "mood_before",
    "mood_after",
    "note",
)
_INSERT: Final = (
    f"INSERT INTO sessions ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _COLUMNS)}) "
    # The engine's row for a recording that a sync indexed meanwhile replaces that row.
    "ON CONFLICT (recording) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c != "recording")
    + " RETURNING id"
)
_SELECT: Final = f"SELECT id, {', '.join(_COLUMNS)} FROM sessions"


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexReport:
    """What `HistoryStore.sync_with_recordings` or `HistoryStore.rebuild` did.

    Attributes
    ----------
    n_indexed : int
        Recordings that got a row.
    without_measures : tuple of (str, str)
        Of those, the recordings whose summary measures could not be computed, with why.
    skipped : tuple of (str, str)
        Recordings that could not be read at all (path, plain-words reason): no row.
    """

    n_indexed: int
    without_measures: tuple[tuple[str, str], ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _has_sqlite_header(path: Path) -> bool:
    """An empty file (SQLite makes it a new database) or one starting with SQLite's magic."""
    try:
        with path.open("rb") as file:
            head = file.read(len(_SQLITE_MAGIC))
    except OSError:
        return True  # not ours to judge: sqlite3.connect reports it as an OperationalError
    return head in (b"", _SQLITE_MAGIC)


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    # "database is locked" or "unable to open" are OperationalErrors, not damage: never move
    # a healthy file aside because another program holds it.
    code = getattr(exc, "sqlite_errorname", "")
    if code:
        return code in _CORRUPT_CODES
    return not isinstance(exc, sqlite3.OperationalError)


class HistoryStore:
    """The history database of one data folder (module docstring).

    Parameters
    ----------
    folder : Path, optional
        The data folder; default `pet_biofeedback.paths.data_dir` (created if missing, mode
        0700). The database is ``folder / DB_NAME``; recordings are read from
        ``folder / "recordings"``.
    busy_timeout_s : float, default BUSY_TIMEOUT_S
        How long a write waits for another program's write.
    replace_newer : bool, default False
        Move a database written by a newer program aside too (for ``--rebuild``) instead of
        raising `StoreVersionError`.

    Attributes
    ----------
    path : Path
        The database file.
    moved_aside : Path or None
        Where a corrupt database found when opening was moved; None when it was fine. The
        new database is empty until `sync_with_recordings` or `rebuild` fills it.

    Raises
    ------
    StoreError
        The folder or database cannot be created or opened (not for damage: see above).
    """

    def __init__(
        self,
        folder: Path | None = None,
        *,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
        replace_newer: bool = False,
    ) -> None:
        self.folder = folder if folder is not None else data_dir()
        self.path = self.folder / DB_NAME
        self.recordings_folder = self.folder / "recordings"
        self.moved_aside: Path | None = None
        self._busy_timeout_s = busy_timeout_s
        self._lock = threading.Lock()
        try:
            self.folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the data folder {self.folder}: {exc.strerror or exc}",
                user_message=f"The data folder {self.folder} cannot be created "
                f"({exc.strerror or exc}). Set PET_BIOFEEDBACK_HOME to a folder you can "
                "write to.",
            ) from exc
        try:
            self._conn = self._connect()
        except sqlite3.DatabaseError as exc:
            if not _is_corruption(exc):
                raise self._error("open", exc) from exc
            self._move_aside(f"{exc}")
            self._conn = self._connect_or_raise()
        except StoreVersionError:
            if not replace_newer:
                raise
            self._move_aside("written by a newer program")
            self._conn = self._connect_or_raise()
        logger.info("history database opened: %s", self.path)

    # --- connection -------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        """Open, check integrity, switch to WAL and migrate; sqlite3 errors pass through."""
        if not self.path.exists():
            # Create it owner-only before SQLite does (SQLite would use the umask).
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, DB_FILE_MODE)
            except OSError as exc:
                raise StoreError(
                    f"cannot create {self.path}: {exc}",
                    user_message=f"The history database {self.path} cannot be created "
                    f"({exc.strerror or exc}). Check that the data folder can be written "
                    "to, or set PET_BIOFEEDBACK_HOME to a folder that can.",
                ) from exc
            os.close(fd)
        elif not _has_sqlite_header(self.path):
            # Checked before SQLite opens it: SQLite deletes the -wal file next to a file
            # that is not a database when the connection closes, and that file is evidence.
            raise sqlite3.DatabaseError("file is not a database (no SQLite header)")
        conn = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout_s,
            isolation_level=None,  # transactions are explicit (BEGIN IMMEDIATE … COMMIT)
            check_same_thread=False,  # asyncio.to_thread may use any worker; see self._lock
        )
        try:
            problems = [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
            if problems != ["ok"]:
                raise sqlite3.DatabaseError("integrity_check: " + "; ".join(problems[:3]))
            conn.execute("PRAGMA journal_mode = WAL")
            # In WAL mode NORMAL never corrupts; a power cut may lose the last commits, which
            # sync_with_recordings restores from the recordings.
            conn.execute("PRAGMA synchronous = NORMAL")
            migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _connect_or_raise(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except sqlite3.Error as exc:
            raise self._error("open", exc) from exc

    def _move_aside(self, why: str) -> None:
        target = self.path.with_name(f"{self.path.name}.corrupt-{_timestamp()}")
        n = 1
        while target.exists():
            n += 1
            target = self.path.with_name(f"{self.path.name}.corrupt-{_timestamp()}-{n}")
        try:
            # The -wal file belongs to the damaged database: left behind, SQLite would
            # replay it into the new one.
            for suffix in _SIDECARS:
                side = self.path.with_name(self.path.name + suffix)
                if side.exists():
                    side.rename(target.with_name(target.name + suffix))
            self.path.rename(target)
        except OSError as exc:
            raise StoreError(
                f"cannot move the damaged history database {self.path} aside: {exc}",
                user_message=f"The history database {self.path} is damaged and could not be "
                f"moved aside ({exc.strerror or exc}). Move or rename it yourself, then run "
                "'pet-biofeedback history --rebuild'.",
            ) from exc
        logger.warning(
            "the history database was damaged (%s); moved to %s and starting a new one",
            why,
            target,
        )
        self.moved_aside = target

    def _error(self, what: str, exc: sqlite3.Error) -> StoreError:
        return StoreError(f"history database {self.path}: cannot {what}: {exc}")

    def close(self) -> None:
        """Close the database (idempotent)."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- rows ---------------------------------------------------------------------------------

    def _recording_key(self, recording: str | None) -> str | None:
        """Recordings in the data folder are stored relative to it (the folder may move)."""
        if recording is None:
            return None
        path = Path(recording).absolute()
        try:
            return path.relative_to(self.folder.absolute()).as_posix()
        except ValueError:
            return str(path)

    def _recording_path(self, key: str | None) -> str | None:
        if key is None:
            return None
        path = Path(key)
        return str(path if path.is_absolute() else self.folder / path)

    def _row_values(self, record: SessionRecord) -> tuple[object, ...]:
        return (
            record.started_at.isoformat(),
            record.started_at.timestamp(),
            record.profile,
            record.protocol,
            json.dumps(dict(record.settings), ensure_ascii=False, default=str),
            json.dumps(dict(record.device), ensure_ascii=False, default=str),
            self._recording_key(record.recording),
            record.minutes,
            record.pacer_breaths_per_min,
            record.mean_hr_bpm,
            record.start_hr_bpm,
            record.rmssd_ms,
            record.coherence,
            record.rsa_bpm,
            record.breathing_breaths_per_min,
            record.pain_before,
            record.pain_after,
            record.mood_before,
            record.mood_after,
            record.note,
        )

    def _record(self, row: Sequence[object]) -> SessionRecord:
        values = dict(zip(("id", *_COLUMNS), row, strict=True))
        return SessionRecord(
            id=cast(int, values["id"]),
            started_at=datetime.fromisoformat(cast(str, values["started_at"])),
            profile=cast(str, values["profile"]),
            protocol=cast(Protocol, values["protocol"]),
            settings=json.loads(cast(str, values["settings"])),
            device=json.loads(cast(str, values["device"])),
            recording=self._recording_path(cast("str | None", values["recording"])),
            minutes=cast("float | None", values["minutes"]),
            pacer_breaths_per_min=cast("float | None", values["pacer_breaths_per_min"]),
            mean_hr_bpm=cast("float | None", values["mean_hr_bpm"]),
            start_hr_bpm=cast("float | None", values["start_hr_bpm"]),
            rmssd_ms=cast("float | None", values["rmssd_ms"]),
            coherence=cast("float | None", values["coherence"]),
            rsa_bpm=cast("float | None", values["rsa_bpm"]),
            breathing_breaths_per_min=cast("float | None", values["breathing_breaths_per_min"]),
            pain_before=cast("float | None", values["pain_before"]),
            pain_after=cast("float | None", values["pain_after"]),
            mood_before=cast("float | None", values["mood_before"]),
            mood_after=cast("float | None", values["mood_after"]),
            note=cast(str, values["note"]),
        )

    def _write(self, records: Iterable[SessionRecord], *, replace_all: bool = False) -> list[int]:
        """One write transaction: optionally delete every row, then upsert ``records``."""
        ids: list[int] = []
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    if replace_all:
                        self._conn.execute("DELETE FROM sessions")
                    for record in records:
                        row = self._conn.execute(_INSERT, self._row_values(record)).fetchone()
                        ids.append(int(row[0]))
                    self._conn.execute("COMMIT")
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise self._error("save", exc) from exc
        return ids

    def add_session(self, record: SessionRecord) -> int:
        """Store one session (after its recording is closed); returns its row id.

        A row for the same recording (indexed by a sync meanwhile) is replaced. Blocking:
        from async code use ``await asyncio.to_thread(store.add_session, record)``.

        Raises
        ------
        StoreError
            The database cannot be written (disk full, held by another program too long).
        """
        (row_id,) = self._write([record])
        logger.info("session saved to the history (row %d)", row_id)
        return row_id

    def sessions(self, profile: str | None = DEFAULT_PROFILE) -> tuple[SessionRecord, ...]:
        """The sessions of ``profile`` (None: every profile), oldest first.

        Raises
        ------
        ConfigError
            A bad profile name (`validate_profile_name`).
        StoreError
            The database cannot be read.
        """
        query = _SELECT
        params: tuple[object, ...] = ()
        if profile is not None:
            query += " WHERE profile = ?"
            params = (validate_profile_name(profile),)
        query += " ORDER BY started_unix_s, id"
        with self._lock:
            try:
                rows = self._conn.execute(query, params).fetchall()
            except sqlite3.Error as exc:
                raise self._error("read", exc) from exc
        return tuple(self._record(row) for row in rows)

    def session(self, session_id: int) -> SessionRecord | None:
        """The session with row id ``session_id`` (any profile); None when there is none.

        Raises
        ------
        StoreError
            The database cannot be read.
        """
        with self._lock:
            try:
                row = self._conn.execute(_SELECT + " WHERE id = ?", (session_id,)).fetchone()
            except sqlite3.Error as exc:
                raise self._error("read", exc) from exc
        return None if row is None else self._record(row)

    def profiles(self) -> tuple[str, ...]:
        """Every profile that has sessions, sorted."""
        with self._lock:
            try:
                rows = self._conn.execute(
                    "SELECT DISTINCT profile FROM sessions ORDER BY profile"
                ).fetchall()
            except sqlite3.Error as exc:
                raise self._error("read", exc) from exc
        return tuple(str(r[0]) for r in rows)

    def feedback_levels(self, profile: str = DEFAULT_PROFILE) -> FeedbackLevels:
        """Low / medium / high levels of coherence and RSA for ``profile``.

        From the profile's recent practice sessions (`feedback_levels_from`); fixed defaults
        until there are enough.
        """
        return feedback_levels_from(self.sessions(profile))

    # --- the index ----------------------------------------------------------------------------

    def _recording_files(self) -> list[Path]:
        folder = self.recordings_folder
        if not folder.is_dir():
            return []
        found = {p for pattern in _RECORDING_GLOBS for p in folder.glob(pattern) if p.is_file()}
        return sorted(found)

    def _index(self, paths: Iterable[Path]) -> tuple[list[SessionRecord], IndexReport]:
        records: list[SessionRecord] = []
        partial: list[tuple[str, str]] = []
        skipped: list[tuple[str, str]] = []
        for path in paths:
            try:
                indexed = index_recording(path)
            except RecordingError as exc:
                logger.warning("%s skipped: %s", path, exc.user_message)
                skipped.append((str(path), exc.user_message))
                continue
            except PetBiofeedbackError as exc:  # e.g. a header with a start time but no offset
                logger.warning("%s skipped: %s", path, exc.user_message)
                skipped.append((str(path), exc.user_message))
                continue
            if indexed.measures_problem is not None:
                partial.append((str(path), indexed.measures_problem))
            records.append(indexed.record)
        report = IndexReport(
            n_indexed=len(records), without_measures=tuple(partial), skipped=tuple(skipped)
        )
        return records, report

    def sync_with_recordings(self) -> IndexReport:
        """Index the recordings in the recordings folder that have no row yet.

        Cheap when nothing is missing (one folder listing, one query); a recording left
        without a row by a crash is picked up. Unreadable recordings are skipped and counted
        (they are tried again next time).

        Raises
        ------
        StoreError
            The database cannot be read or written.
        """
        with self._lock:
            try:
                known = {
                    str(r[0])
                    for r in self._conn.execute(
                        "SELECT recording FROM sessions WHERE recording IS NOT NULL"
                    )
                }
            except sqlite3.Error as exc:
                raise self._error("read", exc) from exc
        missing = [p for p in self._recording_files() if self._recording_key(str(p)) not in known]
        records, report = self._index(missing)
        if records:
            self._write(records)
            logger.info("indexed %d recording(s) that had no row", len(records))
        return report

    def rebuild(self) -> IndexReport:
        """Replace every row with what the recordings hold.

        The recordings are read first; the rows are replaced in one transaction, so the old
        history stays in place if anything fails. Rows whose recording no longer exists (or
        that had none) are dropped; row ids change.

        Raises
        ------
        StoreError
            The database cannot be written.
        """
        records, report = self._index(self._recording_files())
        self._write(records, replace_all=True)
        logger.info(
            "history rebuilt: %d recording(s) indexed, %d skipped",
            report.n_indexed,
            len(report.skipped),
        )
        return report


def open_history(
    folder: Path | None = None, *, rebuild: bool = False
) -> tuple[HistoryStore, IndexReport]:
    """Open the history for the command line: sync it with the recordings, or rebuild it.

    A damaged database is moved aside and the new one filled from the recordings (the
    store's ``moved_aside`` says where the old one went).

    Returns
    -------
    (HistoryStore, IndexReport)
        The open store (the caller closes it) and what the sync or rebuild did.
    """
    store = HistoryStore(folder, replace_newer=rebuild)
    try:
        report = store.rebuild() if rebuild else store.sync_with_recordings()
    except BaseException:
        store.close()
        raise
    return store, report
