"""The history page after three short sessions made with the command line (max speed)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer, QUrl
from pytestqt.qtbot import QtBot

from pet_biofeedback.cli import main
from pet_biofeedback.gui import history_view
from pet_biofeedback.gui.history_view import COLUMNS, HistoryView, save_history_screenshot
from pet_biofeedback.session import history

RATINGS = (  # pain before, pain after, mood before, mood after
    (6, 4, 5, 7),
    (5, 3, 5, 8),
    (5, 2, 6, 8),
)


def run_session(capsys: pytest.CaptureFixture[str], seed: int, ratings: tuple[int, ...], *,
                profile: str = "default") -> dict[str, object]:  # fmt: skip
    pain_before, pain_after, mood_before, mood_after = ratings
    code = main(
        [
            "session",
            "--source", f"sim:seed={seed}",
            "--speed", "max",
            "--minutes", "2",
            "--profile", profile,
            "--pain-before", str(pain_before),
            "--pain-after", str(pain_after),
            "--mood-before", str(mood_before),
            "--mood-after", str(mood_after),
            "--json",
        ]
    )  # fmt: skip
    assert code == 0
    out: dict[str, object] = json.loads(capsys.readouterr().out)
    return out


@pytest.fixture
def three_sessions(capsys: pytest.CaptureFixture[str]) -> list[Path]:
    paths = []
    for seed, ratings in enumerate(RATINGS, start=1):
        outcome = run_session(capsys, seed, ratings)
        paths.append(Path(str(outcome["recording"])))
    return paths


def test_history_after_three_sessions(
    qtbot: QtBot,
    three_sessions: list[Path],
    capsys: pytest.CaptureFixture[str],
    artifacts_dir: Path,
) -> None:
    opened: list[QUrl] = []

    def open_url(url: QUrl) -> bool:
        opened.append(url)
        return True

    view = HistoryView("default", open_url=open_url)
    qtbot.addWidget(view)
    view.resize(1280, 860)
    view.show()
    qtbot.waitExposed(view)

    # three rows, newest first, every column filled
    assert view.table.rowCount() == 3
    assert view.table.columnCount() == len(COLUMNS)
    cells = [view.table.item(0, c) for c in range(len(COLUMNS))]
    newest = [cell.text() for cell in cells if cell is not None]
    assert len(newest) == len(COLUMNS)
    assert newest[1] == "practice"
    assert float(newest[2]) == pytest.approx(2.0, abs=0.1)
    assert newest[3] == "6.0"
    assert newest[4] != "—" and newest[6] != "—"  # coherence, RMSSD
    # RSA: the history row's swing per paced breath, computed from the recording
    assert 1.0 < float(newest[5]) < 40.0
    assert newest[7] == "5 → 2" and newest[8] == "6 → 8"

    # trends drawn: minutes per week, coherence, RSA, RMSSD, pain and mood before / after
    summary = view.summary
    assert summary is not None and summary.n_sessions == 3
    assert sum(view._bars.opts["height"]) == pytest.approx(summary.total_minutes)
    assert summary.total_minutes == pytest.approx(6.0, abs=0.3)
    for measure in ("coherence", "rsa_bpm", "rmssd_ms", "pain_before", "pain_after", "mood_after"):
        x, y = view._curves[measure].getData()
        assert x is not None and len(y) == 1, measure  # one week so far
    assert not view.trend_plots["rsa_bpm"].empty_note.isVisible()
    assert not view.trend_plots["coherence"].empty_note.isVisible()
    _, pain_after = view._curves["pain_after"].getData()
    assert pain_after[0] == pytest.approx(3.0)  # (4 + 3 + 2) / 3
    assert "current streak: 1 day" in view.summary_label.text()
    view.grab().save(str(artifacts_dir / "history-test.png"))

    # the report of the selected (newest) session opens in the browser
    view.table.selectRow(1)
    qtbot.mouseClick(view.report_button, Qt.MouseButton.LeftButton)
    assert len(opened) == 1 and opened[0].isLocalFile()
    report = Path(opened[0].toLocalFile())
    assert report.suffix == ".html" and "<html" in report.read_text(encoding="utf-8")[:200]
    # …and its replay is asked for
    with qtbot.waitSignal(view.replay_requested) as asked:
        qtbot.mouseClick(view.replay_button, Qt.MouseButton.LeftButton)
    assert asked.args == [three_sessions[1]]

    # another profile, chosen in the selector
    run_session(capsys, 9, (3, 3, 7, 7), profile="robin")
    view.refresh()
    assert view.profile_box.findText("robin") >= 0
    view.profile_box.setCurrentText("robin")
    assert view.table.rowCount() == 1 and view.profile == "robin"


def test_an_empty_history_says_so(qtbot: QtBot) -> None:
    view = HistoryView("default", open_url=lambda _url: True)
    qtbot.addWidget(view)
    assert view.table.rowCount() == 0
    assert not view.report_button.isEnabled() and not view.replay_button.isEnabled()
    assert view.minutes_plot.empty_note.isVisible()


def test_screenshot_function(tmp_path: Path, three_sessions: list[Path], qtbot: QtBot) -> None:
    out = save_history_screenshot(tmp_path / "history.png", today=datetime.now().date())
    assert out.stat().st_size > 10_000


def test_the_page_reads_in_a_worker_thread_with_a_note(
    qtbot: QtBot,
    three_sessions: list[Path],
    monkeypatch: pytest.MonkeyPatch,
    run_qt: Callable[[Coroutine[Any, Any, Any]], Any],
) -> None:
    real_open = history.open_history  # what history_view imported

    def slow_open() -> Any:  # a folder of new recordings takes a while to index
        time.sleep(0.6)
        return real_open()

    monkeypatch.setattr(history_view, "open_history", slow_open)
    ticks: list[float] = []
    opened: list[QUrl] = []

    async def drive() -> None:
        timer = QTimer()
        timer.setInterval(20)
        timer.timeout.connect(lambda: ticks.append(time.monotonic()))
        timer.start()

        def open_url(url: QUrl) -> bool:
            opened.append(url)
            return True

        view = HistoryView("default", open_url=open_url)
        qtbot.addWidget(view)
        view.show()
        assert view.note.isVisible() and view.note.text() == "Reading your sessions…"
        assert view.table.rowCount() == 0
        assert view.load_task is not None
        started = time.monotonic()
        await view.load_task
        assert view.table.rowCount() == 3 and not view.note.isVisible()
        # the GUI thread kept running while the history was read
        assert len([t for t in ticks if t > started]) >= 10
        view.table.selectRow(0)
        qtbot.mouseClick(view.report_button, Qt.MouseButton.LeftButton)
        assert view.note.text() == "Writing the report…" and not view.report_button.isEnabled()
        assert view.report_task is not None
        await view.report_task
        assert not view.note.isVisible() and view.report_button.isEnabled()
        timer.stop()

    run_qt(drive())
    assert len(opened) == 1 and Path(opened[0].toLocalFile()).suffix == ".html"
