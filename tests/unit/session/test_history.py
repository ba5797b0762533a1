"""Tests for pet_biofeedback.session.history: the SQLite index of the recordings."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from pet_biofeedback.errors import StoreError
from pet_biofeedback.paths import data_dir
from pet_biofeedback.session.history import (
    DB_NAME,
    HistoryStore,
    SessionRecord,
    open_history,
)
from pet_biofeedback.session.history_index import index_recording
from pet_biofeedback.session.history_schema import SCHEMA_VERSION, migrate, schema_version
from tests.unit.session.history_helpers import write_recording

BERLIN_SUMMER = timezone(timedelta(hours=2))
T0 = datetime(2026, 5, 1, 9, 30, tzinfo=BERLIN_SUMMER)
PRIVATE_NOTE = "knee flare-up after the dentist"
PRIVATE_PROFILE = "Zoë Müller"


def _record(**kwargs: object) -> SessionRecord:
    fields: dict[str, object] = {"started_at": T0, "minutes": 10.0}
    fields.update(kwargs)
    return SessionRecord(**fields)  # type: ignore[arg-type]  # test data


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "data"


class TestAddAndRead:
    def test_every_field_round_trips(self, folder: Path) -> None:
        record = _record(
            profile=PRIVATE_PROFILE,
            protocol="baseline",
            settings={"pacer": {"breaths_per_min": 5.5}, "minutes": 10},
            device={"model": "H10", "name": "Polar H10 1234"},
            recording=str(folder / "recordings" / "a.jsonl.gz"),
            minutes=9.5,
            pacer_breaths_per_min=5.5,
            mean_hr_bpm=63.0,
            start_hr_bpm=66.0,
            rmssd_ms=41.5,
            coherence=1.7,
            rsa_bpm=7.25,
            breathing_breaths_per_min=5.6,
            pain_before=6.0,
            pain_after=4.0,
            mood_before=3.0,
            mood_after=5.5,
            note="line one\nline two",
        )
        with HistoryStore(folder) as store:
            row_id = store.add_session(record)
            (back,) = store.sessions(PRIVATE_PROFILE)
        assert back.id == row_id
        for name in SessionRecord.__dataclass_fields__:
            if name != "id":
                assert getattr(back, name) == getattr(record, name), name
        assert back.started_at.utcoffset() == timedelta(hours=2)

    def test_profiles_are_kept_apart(self, folder: Path) -> None:
        with HistoryStore(folder) as store:
            store.add_session(_record())
            store.add_session(_record(profile="therapist demo"))
            assert len(store.sessions("default")) == 1
            assert len(store.sessions("therapist demo")) == 1
            assert len(store.sessions(None)) == 2
            assert store.profiles() == ("default", "therapist demo")

    def test_sessions_are_ordered_by_instant_not_by_text(self, folder: Path) -> None:
        # 10:00+02:00 is 08:00 UTC, before 09:00+00:00, though its text sorts after.
        late_text = _record(started_at=datetime(2026, 5, 1, 10, 0, tzinfo=BERLIN_SUMMER))
        early_text = _record(started_at=datetime(2026, 5, 1, 9, 0, tzinfo=UTC))
        with HistoryStore(folder) as store:
            store.add_session(early_text)
            store.add_session(late_text)
            got = [s.started_at for s in store.sessions()]
        assert got == [late_text.started_at, early_text.started_at]

    def test_the_same_recording_twice_is_one_row(self, folder: Path) -> None:
        path = str(folder / "recordings" / "a.jsonl")
        with HistoryStore(folder) as store:
            first = store.add_session(_record(recording=path, minutes=1.0))
            second = store.add_session(_record(recording=path, minutes=2.0))
            rows = store.sessions()
        assert first == second
        assert [r.minutes for r in rows] == [2.0]

    def test_add_session_from_a_worker_thread(self, folder: Path) -> None:
        # The engine calls it through asyncio.to_thread (module docstring).
        with HistoryStore(folder) as store:

            async def main() -> int:
                return await asyncio.to_thread(store.add_session, _record())

            row_id = asyncio.run(main())
            assert [s.id for s in store.sessions()] == [row_id]

    def test_database_file_is_owner_only_in_the_data_folder(self) -> None:
        with HistoryStore() as store:
            store.add_session(_record())
            assert store.path == data_dir() / DB_NAME
        assert (store.path.stat().st_mode & 0o777) == 0o600

    def test_personal_data_is_not_logged_above_debug(
        self, folder: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        write_recording(
            folder,
            "a.jsonl",
            started_at=T0,
            settings={"profile": PRIVATE_PROFILE, "note": PRIVATE_NOTE, "protocol": "practice"},
            ratings=[("pain_before", 7.0)],
        )
        # On the package logger: the CLI sets its level, which a root-level setting misses.
        caplog.set_level(logging.DEBUG, logger="pet_biofeedback")
        with HistoryStore(folder) as store:
            store.sync_with_recordings()
            store.add_session(_record(profile=PRIVATE_PROFILE, note=PRIVATE_NOTE))
        loud = [r.getMessage() for r in caplog.records if r.levelno > logging.DEBUG]
        assert loud  # sessions saved and recordings indexed are logged…
        assert not [m for m in loud if PRIVATE_NOTE in m or PRIVATE_PROFILE in m]  # …namelessly


class TestSchema:
    def test_a_version_1_database_migrates_with_its_data_kept(self, folder: Path) -> None:
        folder.mkdir()
        conn = sqlite3.connect(folder / DB_NAME, isolation_level=None)
        migrate(conn, target=1)
        conn.execute(
            "INSERT INTO sessions (started_at, started_unix_s, profile, protocol, minutes, "
            "coherence, pain_before, note) VALUES (?, ?, 'default', 'practice', 12.5, 1.25, 4, "
            "'old note')",
            (T0.isoformat(), T0.timestamp()),
        )
        conn.close()
        with HistoryStore(folder) as store:
            (row,) = store.sessions()
            store.add_session(_record(start_hr_bpm=70.0))
            assert [s.start_hr_bpm for s in store.sessions()] == [None, 70.0]
        assert (row.minutes, row.coherence, row.pain_before, row.note) == (
            12.5,
            1.25,
            4.0,
            "old note",
        )
        assert row.start_hr_bpm is None  # the column v2 added
        conn = sqlite3.connect(folder / DB_NAME)
        assert schema_version(conn) == SCHEMA_VERSION == 2
        conn.close()

    def test_a_database_from_a_newer_program_is_refused(self, folder: Path) -> None:
        HistoryStore(folder).close()
        conn = sqlite3.connect(folder / DB_NAME)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        conn.close()
        with pytest.raises(StoreError, match="newer") as info:
            HistoryStore(folder)
        assert "newer version of this program" in info.value.user_message
        assert (folder / DB_NAME).exists()  # refused, not moved

    def test_rebuild_replaces_a_database_from_a_newer_program(self, folder: Path) -> None:
        write_recording(folder, "a.jsonl", started_at=T0)
        HistoryStore(folder).close()
        conn = sqlite3.connect(folder / DB_NAME)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        conn.close()
        store, report = open_history(folder, rebuild=True)
        with store:
            assert report.n_indexed == 1
            assert store.moved_aside is not None and store.moved_aside.exists()


class TestWal:
    def test_journal_mode_is_wal(self, folder: Path) -> None:
        HistoryStore(folder).close()
        conn = sqlite3.connect(folder / DB_NAME)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.close()

    def test_a_reader_in_a_transaction_neither_blocks_nor_sees_a_write(self, folder: Path) -> None:
        with HistoryStore(folder, busy_timeout_s=0.2) as writer:
            writer.add_session(_record(minutes=1.0))
            reader = sqlite3.connect(folder / DB_NAME, isolation_level=None)
            try:
                reader.execute("BEGIN")
                assert reader.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1
                started = time.monotonic()
                writer.add_session(_record(minutes=2.0))  # a rollback journal would block
                assert time.monotonic() - started < 0.2
                # The reader keeps its snapshot; a new read sees the write.
                assert reader.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1
                reader.execute("COMMIT")
                assert reader.execute("SELECT count(*) FROM sessions").fetchone()[0] == 2
            finally:
                reader.close()
            with HistoryStore(folder) as other:
                assert len(other.sessions()) == 2


# Files opened while a test watches them, seen through Python's audit hook: it needs no
# monkeypatching, but a hook cannot be removed, so one is installed once and filters.
_WATCHED_OPENS: dict[str, int] = {}


def _count_watched_opens(event: str, args: tuple[object, ...]) -> None:
    if event == "open" and args and isinstance(args[0], str | os.PathLike):
        name = os.fspath(args[0])
        if name in _WATCHED_OPENS:
            _WATCHED_OPENS[name] += 1


sys.addaudithook(_count_watched_opens)


class TestIndex:
    @pytest.mark.parametrize("n_beats", [300, 2])
    def test_a_recording_is_read_once(self, folder: Path, n_beats: int) -> None:
        # A history rebuild read each recording three times: for the row's header and
        # ratings, for the analysis and for the report's pacer and breathing. Also when the
        # measures cannot be computed (2 beats), the header and ratings come from that read.
        path = write_recording(
            folder, "s.jsonl.gz", started_at=T0, ratings=[("pain_before", 6)], n_beats=n_beats
        )
        _WATCHED_OPENS[str(path)] = 0
        try:
            indexed = index_recording(path)
        finally:
            n_opens = _WATCHED_OPENS.pop(str(path))
        assert n_opens == 1
        assert indexed.record.started_at == T0 and indexed.record.pain_before == 6.0
        assert (indexed.measures_problem is None) == (n_beats > 2)

    def test_start_hr_uses_the_mean_hr_convention(self, folder: Path) -> None:
        # Issue 9: start HR and mean HR are one measure over different spans; a recording
        # shorter than the start window gives both over the same beats.
        path = write_recording(folder, "short.jsonl.gz", started_at=T0, n_beats=100)
        record = index_recording(path).record
        assert record.start_hr_bpm is not None and record.mean_hr_bpm is not None
        assert record.start_hr_bpm == pytest.approx(record.mean_hr_bpm, rel=1e-12)

    def test_a_recording_is_indexed_with_its_header_and_ratings(self, folder: Path) -> None:
        path = write_recording(
            folder,
            "s.jsonl.gz",
            started_at=T0,
            settings={
                "protocol": "practice",
                "profile": "  Ana  ",
                "pacer": {"breaths_per_min": 5.5, "ratio": "4:6"},
                "minutes": 2,
                "note": "calm",
            },
            ratings=[("pain_before", 6), ("mood_before", 3), ("pain_after", 4.5)],
        )
        with HistoryStore(folder) as store:
            report = store.sync_with_recordings()
            (row,) = store.sessions("Ana")
        assert report.n_indexed == 1 and not report.skipped and not report.without_measures
        assert (row.protocol, row.profile, row.note) == ("practice", "Ana", "calm")
        assert row.pacer_breaths_per_min == 5.5
        assert (row.pain_before, row.pain_after, row.mood_before, row.mood_after) == (
            6.0,
            4.5,
            3.0,
            None,
        )
        assert row.recording == str(path)
        assert row.started_at == T0
        assert row.minutes == pytest.approx(150 * 0.9 / 60, rel=0.02)
        assert row.mean_hr_bpm == pytest.approx(60000 / 900, rel=0.02)
        assert row.start_hr_bpm == pytest.approx(60000 / 900, rel=0.03)
        assert row.rmssd_ms is not None and row.rmssd_ms > 0
        assert row.coherence is not None and row.coherence > 1  # one clean 0.1 Hz rhythm
        assert row.rsa_bpm is None  # no pacer events and no chest movement: no breaths to time
        assert row.device == {"model": "H10", "name": "Polar H10 TEST"}

    def test_a_plain_recording_falls_back_to_recording_and_default(self, folder: Path) -> None:
        write_recording(folder, "r.jsonl", started_at=T0, settings={"source": "sim"})
        with HistoryStore(folder) as store:
            store.sync_with_recordings()
            (row,) = store.sessions("default")
        assert (row.protocol, row.profile, row.note) == ("recording", "default", "")

    def test_odd_header_values_fall_back_instead_of_failing(self, folder: Path) -> None:
        write_recording(
            folder,
            "odd.jsonl",
            started_at=T0,
            settings={"protocol": "yoga", "profile": "two\nlines", "note": 42, "pacer": "fast"},
            ratings=[("pain_before", 12), ("mood_after", -1), ("pain_after", 3)],
        )
        with HistoryStore(folder) as store:
            report = store.sync_with_recordings()
            (row,) = store.sessions()
        assert report.n_indexed == 1
        assert (row.protocol, row.profile, row.note) == ("recording", "default", "")
        assert (row.pain_before, row.mood_after, row.pain_after) == (None, None, 3.0)
        assert row.pacer_breaths_per_min is None

    def test_unreadable_recordings_are_skipped_and_counted(self, folder: Path) -> None:
        write_recording(folder, "good.jsonl", started_at=T0)
        (folder / "recordings" / "junk.jsonl").write_text("this is not a recording\n")
        (folder / "recordings" / "empty.jsonl.gz").write_bytes(b"")
        with HistoryStore(folder) as store:
            report = store.sync_with_recordings()
            assert len(store.sessions()) == 1
        assert report.n_indexed == 1
        assert sorted(Path(p).name for p, _ in report.skipped) == ["empty.jsonl.gz", "junk.jsonl"]
        assert all(why for _, why in report.skipped)

    def test_a_recording_too_short_for_measures_still_counts(self, folder: Path) -> None:
        write_recording(folder, "short.jsonl", started_at=T0, n_beats=2)
        with HistoryStore(folder) as store:
            report = store.sync_with_recordings()
            (row,) = store.sessions()
        assert report.n_indexed == 1
        assert len(report.without_measures) == 1 and "RR" in report.without_measures[0][1]
        assert row.mean_hr_bpm is None and row.minutes is not None and row.minutes > 0

    def test_sync_indexes_only_recordings_without_a_row(self, folder: Path) -> None:
        write_recording(folder, "a.jsonl", started_at=T0)
        with HistoryStore(folder) as store:
            assert store.sync_with_recordings().n_indexed == 1
            assert store.sync_with_recordings().n_indexed == 0
            write_recording(folder, "b.jsonl", started_at=T0 + timedelta(days=1))
            assert store.sync_with_recordings().n_indexed == 1
            assert len(store.sessions()) == 2

    def test_the_engines_row_after_a_sync_replaces_the_synced_one(self, folder: Path) -> None:
        path = write_recording(folder, "a.jsonl", started_at=T0)
        with HistoryStore(folder) as store:
            store.sync_with_recordings()
            store.add_session(_record(recording=str(path), rsa_bpm=6.0))
            (row,) = store.sessions()
        assert row.rsa_bpm == 6.0

    def test_a_recording_killed_mid_session_is_found_by_sync(self, folder: Path) -> None:
        # The engine writes the recording first and the row after; SIGKILL in between
        # leaves a recording without a row (design.md §6).
        with HistoryStore(folder) as store:
            store.add_session(_record(recording=None))
        path = folder / "recordings" / "killed.jsonl.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        script = textwrap.dedent(
            f"""
            import os, signal
            from datetime import datetime, timezone
            from pet_biofeedback.events import RRIntervals
            from pet_biofeedback.recording import RecordingWriter
            w = RecordingWriter({str(path)!r}, device={{}},
                settings={{"protocol": "practice", "profile": "default"}},
                started_at=datetime(2026, 5, 2, 8, 0, tzinfo=timezone.utc))
            t = 0.0
            for k in range(120):
                rr = 900.0 + 60.0 * ((k % 11) - 5) / 5
                t += rr / 1000
                w.write(RRIntervals(t, (rr,)))
            w.sync()
            os.kill(os.getpid(), signal.SIGKILL)
            """
        )
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[3])}
        done = subprocess.run([sys.executable, "-c", script], env=env, timeout=60, check=False)
        assert done.returncode == -signal.SIGKILL
        store, report = open_history(folder)
        with store:
            rows = store.sessions()
        assert report.n_indexed == 1
        assert [r.recording for r in rows] == [None, str(path)]
        assert rows[1].protocol == "practice" and rows[1].mean_hr_bpm is not None


class TestRecovery:
    def test_a_deleted_database_is_rebuilt_from_the_recordings(self, folder: Path) -> None:
        write_recording(folder, "a.jsonl", started_at=T0, settings={"note": "one"})
        write_recording(folder, "b.jsonl.gz", started_at=T0 + timedelta(days=1))
        store, _ = open_history(folder)
        with store:
            before = [(s.started_at, s.note, s.mean_hr_bpm) for s in store.sessions()]
        (folder / DB_NAME).unlink()
        store, report = open_history(folder)
        with store:
            after = [(s.started_at, s.note, s.mean_hr_bpm) for s in store.sessions()]
        assert report.n_indexed == 2
        assert after == before and len(after) == 2

    def test_a_file_that_is_not_a_database_is_moved_aside_and_rebuilt(self, folder: Path) -> None:
        write_recording(folder, "a.jsonl", started_at=T0)
        garbage = b"this is not an SQLite database\n" * 200
        (folder / DB_NAME).write_bytes(garbage)
        store, report = open_history(folder)
        with store:
            assert store.moved_aside is not None
            assert store.moved_aside.name.startswith(f"{DB_NAME}.corrupt-")
            assert store.moved_aside.read_bytes() == garbage  # never deleted
            assert report.n_indexed == 1 and len(store.sessions()) == 1

    def test_a_failed_integrity_check_is_moved_aside_and_rebuilt(self, folder: Path) -> None:
        write_recording(folder, "a.jsonl", started_at=T0)
        with HistoryStore(folder) as store:
            for _ in range(3):
                store.add_session(_record())
        data = (folder / DB_NAME).read_bytes()
        # A table row holds the profile followed by the protocol; its index entry holds the
        # profile followed by a float. Changing one row's profile in place leaves the index
        # pointing at it: every query still works, only integrity_check notices.
        assert data.count(b"defaultpractice") == 3
        damaged = data.replace(b"defaultpractice", b"defaulxpractice", 1)
        (folder / DB_NAME).write_bytes(damaged)
        store, report = open_history(folder)
        with store:
            assert store.moved_aside is not None
            assert store.moved_aside.read_bytes() == damaged
            assert [s.recording for s in store.sessions()] == [
                str(folder / "recordings" / "a.jsonl")
            ]
        assert report.n_indexed == 1

    def test_the_write_ahead_log_of_a_damaged_database_moves_with_it(self, folder: Path) -> None:
        folder.mkdir()
        (folder / DB_NAME).write_bytes(b"not a database" * 100)
        wal = b"the log of the damaged file" * 100
        (folder / f"{DB_NAME}-wal").write_bytes(wal)
        with HistoryStore(folder) as store:
            assert store.moved_aside is not None
            moved_wal = store.moved_aside.with_name(f"{store.moved_aside.name}-wal")
            assert moved_wal.read_bytes() == wal
            store.add_session(_record())
            assert len(store.sessions()) == 1

    def test_rebuild_drops_rows_whose_recording_is_gone(self, folder: Path) -> None:
        kept = write_recording(folder, "a.jsonl", started_at=T0)
        gone = write_recording(folder, "b.jsonl", started_at=T0 + timedelta(days=1))
        store, _ = open_history(folder)
        store.close()
        gone.unlink()
        store, report = open_history(folder, rebuild=True)
        with store:
            assert [s.recording for s in store.sessions()] == [str(kept)]
        assert report.n_indexed == 1 and store.moved_aside is None

    def test_a_locked_database_is_an_error_not_damage(self, folder: Path) -> None:
        HistoryStore(folder).close()
        holder = sqlite3.connect(folder / DB_NAME, isolation_level=None)
        try:
            holder.execute("PRAGMA locking_mode = EXCLUSIVE")
            holder.execute("BEGIN EXCLUSIVE")
            with pytest.raises(StoreError):
                HistoryStore(folder, busy_timeout_s=0.1)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert not list(folder.glob(f"{DB_NAME}.corrupt-*"))

    @pytest.mark.parametrize("rebuild", [False, True])
    def test_a_database_that_cannot_be_created_is_a_store_error(
        self, folder: Path, rebuild: bool
    ) -> None:
        folder.mkdir()
        # A dangling symlink: the name is taken but there is no file (works as root too).
        (folder / DB_NAME).symlink_to(folder / "missing" / "history.sqlite3")
        with pytest.raises(StoreError) as info:
            open_history(folder, rebuild=rebuild)
        assert "cannot be created" in info.value.user_message
        assert (folder / DB_NAME).is_symlink()  # not damage: left where it is
