"""``report`` and ``export`` take a session id from ``history --json`` (issue 7)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pet_biofeedback.errors import UnknownSessionError
from pet_biofeedback.paths import data_dir
from pet_biofeedback.session.history_lookup import looks_like_session_id, recording_of_session
from pet_biofeedback.session.importers import read_rr_text
from tests.unit.session.history_helpers import write_recording
from tests.unit.test_cli import assert_one_line_error, run

TZ = timezone(timedelta(hours=2))


def _session(name: str, profile: str = "default") -> Path:
    return write_recording(
        data_dir(),
        name,
        started_at=datetime(2026, 5, 1, 9, 0, tzinfo=TZ),
        settings={"protocol": "practice", "profile": profile, "pacer": {"breaths_per_min": 6.0}},
    )


def _ids(capsys: pytest.CaptureFixture[str], profile: str = "default") -> dict[str, int]:
    code, out, err = run(["history", "--json", "--profile", profile], capsys)
    assert code == 0, err
    return {Path(s["recording"]).name: s["id"] for s in json.loads(out)["sessions"]}


class TestReportById:
    def test_report_of_a_history_id_is_the_report_of_its_file(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        _session("a.jsonl.gz")
        _session("b.jsonl.gz")
        ids = _ids(capsys)
        out = tmp_path / "b.html"
        code, stdout, err = run(["report", str(ids["b.jsonl.gz"]), "--out", str(out)], capsys)
        assert code == 0, err
        assert f"Report saved to {out}" in stdout
        assert "b.jsonl.gz" in out.read_text(encoding="utf-8")

    def test_id_of_another_profile_needs_that_profile(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        _session("mine.jsonl.gz", profile="therapist")
        (session_id,) = _ids(capsys, "therapist").values()
        out = tmp_path / "r.html"
        code, _, err = run(["report", str(session_id), "--out", str(out)], capsys)
        assert code == 2
        assert_one_line_error(err, names="not one of this profile's sessions")
        assert "--profile" in err and "therapist" not in err  # names are personal
        assert not out.exists()
        argv = ["report", str(session_id), "--profile", "therapist", "--out", str(out)]
        assert run(argv, capsys)[0] == 0

    def test_unknown_id_says_how_to_list_the_ids(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, _, err = run(["report", "4711", "--out", str(tmp_path / "r.html")], capsys)
        assert code == 2
        assert_one_line_error(err, names="no session 4711 in the history")
        assert "'pet-biofeedback history' lists the sessions and their ids" in err

    def test_unknown_id_of_a_named_profile_lists_that_profile(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        argv = ["report", "3", "--profile", "anna", "--out", str(tmp_path / "r.html")]
        code, _, err = run(argv, capsys)
        assert code == 2
        assert "'pet-biofeedback history --profile anna' lists" in err

    def test_a_file_named_like_a_number_is_the_file(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        src = _session("x.jsonl.gz")
        monkeypatch.chdir(tmp_path)
        (tmp_path / "7").write_bytes(src.read_bytes())
        # "7" is not a .jsonl name, so it is read as RR text: its error names the file
        code, _, err = run(["report", "7", "--out", str(tmp_path / "r.html")], capsys)
        assert "no session" not in err and "7" in err
        assert code == 2

    def test_recording_gone_says_so(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = _session("gone.jsonl.gz")
        (session_id,) = _ids(capsys).values()
        path.unlink()
        code, _, err = run(["report", str(session_id), "--out", str(tmp_path / "r.html")], capsys)
        assert code == 2
        assert_one_line_error(err, names=f"The recording of session {session_id} is no longer")


class TestExportById:
    def test_export_of_a_history_id(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        _session("a.jsonl.gz")
        (session_id,) = _ids(capsys).values()
        out = tmp_path / "a.txt"
        code, stdout, err = run(
            ["export", str(session_id), "--to", "kubios", "--out", str(out)], capsys
        )
        assert code == 0, err
        assert f"Wrote {out}" in stdout
        assert read_rr_text(out).rr_ms.size == 150

    def test_unknown_id(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        argv = ["export", "12", "--to", "csv", "--out", str(tmp_path / "x.csv")]
        code, _, err = run(argv, capsys)
        assert code == 2
        assert_one_line_error(err, names="no session 12 in the history")
        assert "pet-biofeedback history" in err

    def test_profile_decides(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        _session("t.jsonl.gz", profile="therapist")
        (session_id,) = _ids(capsys, "therapist").values()
        argv = ["export", str(session_id), "--to", "kubios", "--out", str(tmp_path / "t.txt")]
        assert run(argv, capsys)[0] == 2
        assert run([*argv, "--profile", "therapist"], capsys)[0] == 0


class TestLookup:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [("12", True), (" 3 ", True), ("1.5", False), ("-1", False), ("١٢", False), ("a", False)],
    )
    def test_looks_like_session_id(self, text: str, expected: bool) -> None:
        assert looks_like_session_id(text) is expected

    def test_huge_id_is_unknown_not_an_overflow(self) -> None:
        with pytest.raises(UnknownSessionError) as info:
            recording_of_session(10**30)
        assert info.value.session_id == 10**30
