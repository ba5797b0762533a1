"""The history database's schema and its migrations (``PRAGMA user_version``).

Each entry of `MIGRATIONS` takes the database from version ``k`` to ``k + 1``; a new
database runs them all. A step never changes once released: a new column or index is a new
step. Each step runs in its own write transaction together with the ``user_version`` bump, so
a crash leaves the database at the old or the new version, never half-way.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from pet_biofeedback.errors import StoreVersionError

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migrate", "schema_version"]

_V1: Final = (
    """
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,            -- ISO 8601 with the local UTC offset
        started_unix_s REAL NOT NULL,        -- the same instant, for ordering
        profile TEXT NOT NULL,
        protocol TEXT NOT NULL,
        settings TEXT NOT NULL DEFAULT '{}', -- JSON
        device TEXT NOT NULL DEFAULT '{}',   -- JSON
        recording TEXT UNIQUE,               -- relative to the data folder when inside it
        minutes REAL,
        pacer_breaths_per_min REAL,
        mean_hr_bpm REAL,
        rmssd_ms REAL,
        coherence REAL,
        rsa_bpm REAL,
        breathing_breaths_per_min REAL,
        pain_before REAL CHECK (pain_before BETWEEN 0 AND 10),
        pain_after REAL CHECK (pain_after BETWEEN 0 AND 10),
        mood_before REAL CHECK (mood_before BETWEEN 0 AND 10),
        mood_after REAL CHECK (mood_after BETWEEN 0 AND 10),
        note TEXT NOT NULL DEFAULT ''
    )
    """,
    "CREATE INDEX sessions_by_profile ON sessions (profile, started_unix_s)",
)

# v2: the heart rate of the first minutes of a session, so that the resting-HR trend has
# something to go on for people who never run a baseline session (issue 7).
_V2: Final = ("ALTER TABLE sessions ADD COLUMN start_hr_bpm REAL",)

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (_V1, _V2)
SCHEMA_VERSION: Final = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    """The database's ``user_version`` (0 for a new, empty database)."""
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection, *, target: int = SCHEMA_VERSION) -> int:
    """Bring the database up to ``target``, one transaction per step.

    Parameters
    ----------
    conn : sqlite3.Connection
        Opened with ``isolation_level=None`` (transactions are explicit here).
    target : int, default SCHEMA_VERSION
        Tests stop at an older version to build an old database.

    Returns
    -------
    int
        The version the database had before.

    Raises
    ------
    StoreVersionError
        The database was made by a newer program (its version is above `SCHEMA_VERSION`).
    sqlite3.Error
        From SQLite; the caller translates it.
    """
    before = schema_version(conn)
    if before > SCHEMA_VERSION:
        raise StoreVersionError(
            f"history database schema version {before} is newer than this program's "
            f"{SCHEMA_VERSION}"
        )
    while True:
        # BEGIN IMMEDIATE takes the write lock before reading the version, so two programs
        # opening the same new database do not both run a step.
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = schema_version(conn)
            if version >= target:
                conn.execute("COMMIT")
                return before
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1:d}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
