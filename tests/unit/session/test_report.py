"""The session report: one self-contained HTML file, its numbers, escaping, and the command."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import html
import json
import math
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pet_biofeedback.cli import main
from pet_biofeedback.events import PacerPhase, RRIntervals
from pet_biofeedback.firmware_bridge.sim_config import parse_sim_spec
from pet_biofeedback.firmware_bridge.simulated import SimulatedStrap
from pet_biofeedback.recording import RecordingWriter
from pet_biofeedback.session.engine import SessionEngine, SessionPlan
from pet_biofeedback.session.feedback import FeedbackSnapshot
from pet_biofeedback.session.pacer import Pacer, PacerSettings
from pet_biofeedback.session.pacer_track import pacer_track
from pet_biofeedback.session.report import render_html, write_report
from pet_biofeedback.session.report_data import gather_report
from pet_biofeedback.session.run import run_session

REPO = Path(__file__).resolve().parents[3]
RECORDINGS = REPO / "recordings"
RR_TEXT = RECORDINGS / "resonance-6-per-min.rr.txt"
DROPOUTS = RECORDINGS / "strap-dropouts-ectopy.jsonl.gz"
H10 = RECORDINGS / "h10-resonance-5.5.jsonl.gz"

EVIL_MARKER = "<script>alert('x')</script> breathing & relaxing"
EVIL_PROFILE = "<b>Ann</b> & Bob"
EVIL_DEVICE = "<i>H10</i> & co"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
IMG_RE = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def simulated_session(path: Path, *, minutes: float = 4.0) -> Path:
    """A practice session of the engine on the simulated strap, recorded to ``path``.

    A simulated person follows the pacer at 5.5 breaths/min (their resonance rate); a marker
    with HTML and ``&`` is set a minute in, the profile and device name carry them too.
    """
    plan = SessionPlan(
        protocol="practice",
        minutes=minutes,
        pacer=PacerSettings(breaths_per_min=5.5),
        profile=EVIL_PROFILE,
    )
    holder: dict[str, SessionEngine] = {}
    strap = SimulatedStrap(
        parse_sim_spec("sim:resonance=5.5,seed=3"),
        pacer=lambda t: holder["engine"].pacer_position(t),
        speed=math.inf,
    )

    async def after() -> dict[str, int]:
        return {"pain_after": 3, "mood_after": 7}

    engine = SessionEngine(strap, plan, ask_after=after)
    holder["engine"] = engine

    def mark_once(snapshot: FeedbackSnapshot) -> None:
        if snapshot.elapsed_s > 60.0 and not holder.get("marked"):
            engine.mark(EVIL_MARKER)
            holder["marked"] = engine

    engine.subscribe(mark_once)
    asyncio.run(
        run_session(
            engine,
            path,
            ratings_before={"pain_before": 5, "mood_before": 4},
            speed=math.inf,
            device={"kind": "simulated", "model": EVIL_DEVICE},
        )
    )
    return path


@pytest.fixture(scope="module")
def session_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return simulated_session(tmp_path_factory.mktemp("session") / "session.jsonl.gz")


@pytest.fixture(scope="module")
def stepped_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An assessment-like session: 6.5/min, a rest, 6/min, then 5/min from mid-breath."""
    plan = SessionPlan(
        protocol="assessment",
        minutes=5.0,
        pacer=PacerSettings(breaths_per_min=6.5),
        steps=(
            (60.0, None, "rest"),
            (80.0, PacerSettings(breaths_per_min=6.0), "block 2"),
            (175.0, PacerSettings(breaths_per_min=5.0), "block 3"),
        ),
    )
    holder: dict[str, SessionEngine] = {}
    strap = SimulatedStrap(
        parse_sim_spec("sim:resonance=5.5,seed=4"),
        pacer=lambda t: holder["engine"].pacer_position(t),
        speed=math.inf,
    )
    path = tmp_path_factory.mktemp("stepped") / "stepped.jsonl.gz"
    holder["engine"] = SessionEngine(strap, plan)
    asyncio.run(run_session(holder["engine"], path, speed=math.inf))
    return path


@pytest.fixture(scope="module")
def session_html(session_file: Path) -> str:
    return render_html(gather_report(session_file))


def run_cli(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def analyze_json(path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code, out, _ = run_cli(["analyze", "--json", str(path)], capsys)
    assert code == 0
    report: dict[str, Any] = json.loads(out)
    return report


def cells(page: str, attribute: str) -> dict[str, str]:
    """``{key: text}`` of the value cells marked ``data-key`` or ``data-tech``."""
    found = re.findall(rf'<td class="value" {attribute}="([a-z0-9_]+)">([^<]*)</td>', page)
    return {key: html.unescape(text) for key, text in found}


def images(page: str) -> list[bytes]:
    return [base64.b64decode(data) for data in IMG_RE.findall(page)]


class TestSelfContained:
    def test_report_fetches_nothing_and_runs_no_script(self, session_html: str) -> None:
        assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//)""", session_html)
        assert "<script" not in session_html.lower()
        assert "<link" not in session_html.lower()
        assert "@import" not in session_html and "url(" not in session_html

    def test_report_embeds_every_figure_as_png(self, session_html: str) -> None:
        pngs = images(session_html)
        # heart rate, the 2-minute excerpt, measured breathing, the spectrum
        assert len(pngs) == 4
        assert all(p.startswith(PNG_MAGIC) for p in pngs)

    def test_header_says_protocol_minutes_pacer_and_device(self, session_html: str) -> None:
        facts = session_html.split('<section class="facts">')[1].split("</section>")[0]
        facts = html.unescape(facts)
        assert "practice" in facts
        assert "4 min" in facts  # planned
        assert "4.0 min" in facts  # actual
        assert "5.5 breaths/min" in facts
        assert EVIL_DEVICE in facts

    def test_ratings_before_and_after(self, session_html: str) -> None:
        text = re.sub(r"<[^>]+>", "|", session_html.split("How you felt")[1].split("<h2>")[0])
        assert "Pain (0–10)||5||3||-2" in text
        assert "Mood (0–10)||4||7||+3" in text

    def test_never_calls_lf_hf_sympathovagal_balance(self, session_html: str) -> None:
        assert "sympathovagal" not in session_html.lower()
        assert "balance" not in session_html.lower()


class TestEscaping:
    def test_marker_profile_and_device_text_is_escaped(self, session_html: str) -> None:
        assert "<script>" not in session_html
        assert "<b>Ann</b>" not in session_html
        assert "<i>H10</i>" not in session_html
        assert html.escape(EVIL_MARKER, quote=True) in session_html
        assert html.escape(EVIL_PROFILE, quote=True) in session_html
        assert html.escape(EVIL_DEVICE, quote=True) in session_html

    def test_file_name_is_escaped(self, session_file: Path, tmp_path: Path) -> None:
        evil = tmp_path / "a<b>&c.jsonl.gz"
        evil.write_bytes(session_file.read_bytes())
        page = render_html(gather_report(evil))
        assert "a<b>&c" not in page
        assert "a&lt;b&gt;&amp;c.jsonl.gz" in page


class TestNumbersMatchAnalyze:
    def test_every_number_equals_analyze_of_the_same_file(
        self, session_file: Path, session_html: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        summary = analyze_json(session_file, capsys)["summary"]
        shown = cells(session_html, "data-key")
        assert shown["mean_hr_bpm"] == f"{summary['mean_hr_bpm']:.1f} beats/min"
        assert shown["rmssd_ms"] == f"{summary['rmssd_ms']:.1f} ms"
        assert shown["coherence"] == f"{summary['coherence']:.2f}"
        assert shown["lf_peak_hz"] == f"{summary['lf_peak_hz']:.3f} Hz"
        assert shown["breathing_rate_bpm"] == f"{summary['breathing_rate_bpm']:.1f} breaths/min"
        tech = cells(session_html, "data-tech")
        assert tech["n_beats"] == str(summary["n_beats"])
        assert tech["sdnn_ms"] == f"{summary['sdnn_ms']:.1f} ms"
        assert tech["lf_ms2"] == f"{summary['lf_ms2']:.0f} ms²"
        assert tech["lf_hf"] == f"{summary['lf_hf']:.2f}"
        assert tech["dfa_alpha1"] == f"{summary['dfa_alpha1']:.3f}"

    def test_spectrum_peak_is_the_analysis_lf_peak(self, session_file: Path) -> None:
        data = gather_report(session_file)
        assert data.spectrum is not None
        f, p = data.spectrum.freqs_hz, data.spectrum.psd_ms2_per_hz
        lf = (f >= 0.04) & (f < 0.15)
        assert f[lf][np.argmax(p[lf])] == pytest.approx(data.report["summary"]["lf_peak_hz"])

    def test_heart_rate_swings_with_each_paced_breath(self, session_file: Path) -> None:
        data = gather_report(session_file)
        assert data.rsa_source == "pacer"
        # 4 min at 5.5 breaths/min: about 22 breaths, all clean on the simulated strap
        assert data.rsa_bpm.size >= 18
        assert float(np.mean(data.rsa_bpm)) > 5.0
        assert data.zoom_s is not None and data.zoom_s[1] - data.zoom_s[0] == 120.0

    def test_breathing_waveform_is_drawn_in_the_pacer_direction(self, session_file: Path) -> None:
        data = gather_report(session_file)
        assert data.breathing is not None and data.pacer is not None
        guide = data.pacer.guide(data.breathing.waveform_t_s)
        ok = np.isfinite(guide)
        r = np.corrcoef(data.breathing.waveform[ok], guide[ok])[0, 1]
        assert r > 0.5


class TestOtherFiles:
    def test_rr_text_file_gives_a_report_without_pacer_or_breathing(self, tmp_path: Path) -> None:
        out = write_report(RR_TEXT, tmp_path / "rr.html")
        page = out.read_text(encoding="utf-8")
        assert len(images(page)) == 3  # heart rate, excerpt, spectrum
        assert "not recorded in this file" in page
        assert 'data-key="rsa_bpm"' not in page

    def test_rr_only_recording_with_dropouts_shows_gaps_at_their_real_time(self) -> None:
        # the two 6-s contact dropouts are at 69–75 s and 151–157 s (recordings/README.md;
        # the last beats before them at 67.7 and 149.5 s, the next after at 74.9 and 157.4 s);
        # on the analysis axis, with the gaps cut out, the second would sit 7 s early. The
        # corrected intervals of an ectopic beat before it move its start by under a second.
        data = gather_report(DROPOUTS)
        assert len(data.gap_spans_s) == 2
        (a0, a1), (b0, b1) = data.gap_spans_s
        assert 67.0 < a0 < 68.5 and 74.0 < a1 < 75.5
        assert 148.0 < b0 < 150.0 and 156.0 < b1 < 158.0
        page = render_html(data)
        assert "2 stretch(es) without heartbeats" in page

    def test_truncated_recording_is_reported_with_a_note(
        self, session_file: Path, tmp_path: Path
    ) -> None:
        data = session_file.read_bytes()
        cut = tmp_path / "cut.jsonl.gz"
        cut.write_bytes(data[: int(len(data) * 0.6)])  # a crash mid-session
        report = gather_report(cut)
        assert 1.0 < report.actual_minutes < 4.0
        page = render_html(report)
        assert "the recording was cut off" in page
        assert len(images(page)) == 3  # under 2.5 min: no separate 2-minute excerpt

    def test_one_minute_recording_gets_its_spectrum_when_analyze_has_lf(
        self, tmp_path: Path
    ) -> None:
        # The spectrum plot used the strict 60-s span while the analysis uses
        # `SpectralSettings.long_enough`: a one-minute recording (its beats span 58.5 s) had
        # LF and HF in the table but no spectrum.
        path = tmp_path / "minute.jsonl"
        t_s = 0.0
        with RecordingWriter(path, device={"model": "strap"}, settings={}) as writer:
            for _ in range(66):
                rr_ms = 900.0 + 50.0 * math.sin(2 * math.pi * 0.1 * t_s)
                t_s += rr_ms / 1000.0
                writer.write(RRIntervals(t_s, (rr_ms,)))
        data = gather_report(path)
        assert data.beat_t_s[-1] - data.beat_t_s[0] < 60.0
        assert data.report["summary"]["lf_ms2"] is not None
        assert data.spectrum is not None

    def test_h10_sample_recording(self) -> None:
        page = render_html(gather_report(H10))
        assert len(images(page)) >= 3
        assert "simulated" in page.lower()


class TestAssessment:
    MAPPING: dict[str, Any] = {  # noqa: RUF012
        "recommended_bpm": 5.5,
        "confidence": "high",
        "rates": [
            {"bpm": 6.5, "rsa_bpm": 7.1, "lf_ms2": 1800.0, "phase_deg": -35.0, "<peaks>": 2},
            {"bpm": 6.0, "rsa_bpm": 9.4, "lf_ms2": 2600.0, "phase_deg": -12.0, "<peaks>": 1},
            {"bpm": 5.5, "rsa_bpm": 11.8, "lf_ms2": 3100.0, "phase_deg": 3.0, "<peaks>": 1},
            {"bpm": 5.0, "rsa_bpm": 10.2, "lf_ms2": 2900.0, "phase_deg": 21.0, "<peaks>": 1},
        ],
    }

    def test_per_rate_table_and_the_chosen_rate(self, session_file: Path) -> None:
        page = render_html(gather_report(session_file, assessment=self.MAPPING))
        section = page.split("Resonance-rate assessment")[1]
        assert "5.5 breaths/min" in section and "high" in section
        rows = re.findall(r"<tr( class=\"chosen\")?>(.*?)</tr>", section)
        data_rows = [(chosen, re.findall(r"<td>(.*?)</td>", body)) for chosen, body in rows]
        data_rows = [(c, r) for c, r in data_rows if r]
        assert [r[0] for _, r in data_rows] == ["6.5", "6.0", "5.5", "5.0"]
        assert [bool(c) for c, _ in data_rows] == [False, False, True, False]
        assert data_rows[2][1][1:] == ["11.80", "3100.00", "3.00", "1"]
        assert "&lt;peaks&gt;" in section and "<peaks>" not in section

    def test_assessment_session_without_results_says_so(self, session_file: Path) -> None:
        data = gather_report(session_file)
        assert "Resonance-rate assessment" not in render_html(data)  # a practice session
        page = render_html(dataclasses.replace(data, protocol="assessment"))
        assert "per-rate results are not part of this report" in page


class TestPacerTrack:
    def test_rebuilt_pacer_equals_the_engines(self) -> None:
        engine_pacer = Pacer(PacerSettings(breaths_per_min=6.0), t_start_s=0.0)
        change = engine_pacer.change(33.3, PacerSettings(breaths_per_min=5.0))
        events = [
            PacerPhase(0.0, 6.0, 4.0, 6.0),
            PacerPhase(
                33.3,
                5.0,
                PacerSettings(breaths_per_min=5.0).inhale_s,
                PacerSettings(breaths_per_min=5.0).exhale_s,
                position=change.position,
            ),
        ]
        track = pacer_track(events, 120.0)
        t = np.linspace(0.0, 119.0, 500)
        np.testing.assert_allclose(track.guide(t), engine_pacer.guide(t), atol=1e-9)
        np.testing.assert_allclose(
            track.breath_starts(0.0, 119.0), engine_pacer.breath_starts(0.0, 119.0), atol=1e-9
        )

    def test_a_change_recorded_without_its_position_is_remapped_as_the_engine_did(
        self,
    ) -> None:
        # recording.py does not yet write `position`: the event reads back with 0.0
        engine_pacer = Pacer(PacerSettings(breaths_per_min=6.0), t_start_s=0.0)
        new = PacerSettings(breaths_per_min=4.5, inhale_parts=1.0, exhale_parts=2.0)
        engine_pacer.change(47.0, new)  # mid-breath: 47 s is 0.7 of a 10-s breath
        events = [
            PacerPhase(0.0, 6.0, 4.0, 6.0),
            PacerPhase(47.0, 4.5, new.inhale_s, new.exhale_s),
        ]
        track = pacer_track(events, 150.0)
        t = np.linspace(0.0, 149.0, 700)
        np.testing.assert_allclose(track.guide(t), engine_pacer.guide(t), atol=1e-9)
        np.testing.assert_allclose(
            track.breath_starts(0.0, 149.0), engine_pacer.breath_starts(0.0, 149.0), atol=1e-9
        )

    def test_a_stop_leaves_no_wave_until_the_pacer_restarts(self) -> None:
        events = [
            PacerPhase(0.0, 6.0, 4.0, 6.0),
            PacerPhase(60.0, 0.0, 0.0, 0.0),
            PacerPhase(90.0, 5.0, 5.0, 7.0),
        ]
        track = pacer_track(events, 150.0)
        guide = track.guide(np.array([30.0, 75.0, 100.0]))
        assert np.isfinite(guide[0]) and np.isnan(guide[1]) and np.isfinite(guide[2])
        onsets = track.breath_starts(0.0, 150.0)
        assert not np.any((onsets > 60.0) & (onsets < 90.0))
        assert 90.0 in onsets  # a restart is a fresh breath
        rates = track.rate_breaths_per_min(np.array([30.0, 75.0, 100.0]))
        assert rates[0] == pytest.approx(6.0) and np.isnan(rates[1])
        assert rates[2] == pytest.approx(5.0)

    def test_unusable_recorded_settings_are_counted_not_raised(self) -> None:
        events = [PacerPhase(0.0, 6.0, 4.0, 6.0), PacerPhase(30.0, 60.0, 0.5, 0.5)]
        track = pacer_track(events, 60.0)
        assert track.n_unusable == 1
        assert np.isnan(track.guide(np.array([45.0]))[0])


class TestSteppedSession:
    def test_rest_has_no_paced_breaths_and_rates_are_all_named(self, stepped_file: Path) -> None:
        data = gather_report(stepped_file)
        assert data.pacer is not None
        assert [(s.t_on_s, s.t_off_s) for s in data.pacer.spans] == [(0.0, 60.0), (80.0, 300.0)]
        onsets = data.pacer.breath_starts(-1.0, 300.0)
        assert not np.any((onsets >= 60.0) & (onsets < 80.0))
        assert 80.0 in onsets  # pacing restarts with a fresh breath
        # no breath with a heart-rate swing spans the rest
        assert not np.any((data.rsa_breath_start_s > 50.0) & (data.rsa_breath_start_s < 80.0))
        page = render_html(data)
        assert "changed: 6.5 → 6 → 5" in page
        assert "the pacer ran at 6.5, 6 and 5 per minute" in page
        assert "per-rate results are not part of this report" in page

    def test_mid_breath_change_keeps_the_wave_continuous(self, stepped_file: Path) -> None:
        data = gather_report(stepped_file)
        assert data.pacer is not None
        t = np.linspace(174.0, 176.0, 2001)
        guide = data.pacer.guide(t)
        assert float(np.max(np.abs(np.diff(guide)))) < 0.01


class TestCommand:
    def test_writes_the_report_readable_only_by_its_owner(
        self, session_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        out = tmp_path / "r.html"
        code, stdout, err = run_cli(["report", str(session_file), "--out", str(out)], capsys)
        assert code == 0, err
        assert f"Report saved to {out}" in stdout
        assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
        if sys.platform != "win32":
            assert out.stat().st_mode & 0o077 == 0

    def test_existing_out_is_refused_without_force(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        out = tmp_path / "r.html"
        out.write_text("keep me")
        code, _, err = run_cli(["report", str(RR_TEXT), "--out", str(out)], capsys)
        assert code == 2
        assert_one_line(err, "already exists")
        assert out.read_text() == "keep me"
        code, _, err = run_cli(["report", str(RR_TEXT), "--out", str(out), "--force"], capsys)
        assert code == 0, err
        assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")

    @pytest.mark.parametrize(
        ("problem", "expected"),
        [
            ("missing", "no such file"),
            ("folder-missing", "does not exist"),
            ("out-is-folder", "is a folder"),
            ("hr-only", "heart rate only"),
            ("not-numbers", "contains no numbers"),
            ("damaged", "is not a pet-biofeedback recording"),
        ],
    )
    def test_errors_are_one_line_and_exit_2(
        self, problem: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        src, out = RR_TEXT, tmp_path / "r.html"
        if problem == "missing":
            src = tmp_path / "nope.jsonl.gz"
        elif problem == "folder-missing":
            out = tmp_path / "no" / "such" / "r.html"
        elif problem == "out-is-folder":
            out = tmp_path
        elif problem == "hr-only":
            src = RECORDINGS / "optical-hr-only.jsonl.gz"
        elif problem == "damaged":
            src = tmp_path / "damaged.jsonl.gz"
            src.write_bytes(b"not a recording at all\n" * 10)
        else:
            src = tmp_path / "words.txt"
            src.write_text("hello\nworld\n")
        code, stdout, err = run_cli(["report", str(src), "--out", str(out)], capsys)
        assert code == 2
        assert_one_line(err, expected)
        assert stdout == ""
        assert not (tmp_path / "r.html").exists()

    def test_other_commands_do_not_load_matplotlib(self) -> None:
        code = (
            "import sys; from pet_biofeedback.cli import main; "
            f"main(['analyze', {str(RR_TEXT)!r}]); "
            "import pet_biofeedback.session.report; "
            "sys.exit(3 if 'matplotlib' in sys.modules else 0)"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr


def assert_one_line(err: str, expected: str) -> None:
    assert "Traceback" not in err
    lines = err.strip("\n").splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("pet-biofeedback")
    assert expected in lines[0]
