"""The history page: a profile's sessions and how their practice and measures move.

Top: the sessions, newest first (date, protocol, minutes, pacer rate, coherence, RSA, RMSSD,
pain and mood before → after), with buttons to open a session's report (written by
`session.report.write_report`, opened in the browser through ``open_url``) or to replay it
(`HistoryView.replay_requested`). Below: practice minutes per week, the streak, and the weekly
trends of coherence, RSA, RMSSD, pain and mood — every number from `session.practice`, the
page only draws them. A profile selector switches between the people who practise here.

The history comes from `session.history.open_history` (which first indexes any recording not
in it yet, seconds for a folder of new recordings) and reports are written by `write_report`:
both run in a worker thread when an asyncio loop runs (the app, under qasync), with a note
("Reading your sessions…") while they do, so the window stays responsive. Without a running
loop (a script rendering `save_history_screenshot` offscreen) they run in place.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Final, TypeVar

import pyqtgraph as pg
from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pet_biofeedback.errors import PetBiofeedbackError
from pet_biofeedback.paths import DIR_MODE, data_dir
from pet_biofeedback.session.history import open_history
from pet_biofeedback.session.history_record import SessionRecord
from pet_biofeedback.session.practice import PracticeSummary, Trend, practice_summary

__all__ = ["COLUMNS", "HistoryView", "save_history_screenshot"]

logger = logging.getLogger(__name__)
T = TypeVar("T")

READING_NOTE: Final = "Reading your sessions…"
WRITING_NOTE: Final = "Writing the report…"

COLUMNS: Final = (
    "Date",
    "Protocol",
    "Minutes",
    "Rate\n(breaths/min)",
    "Coherence",
    "RSA\n(bpm)",
    "RMSSD\n(ms)",
    "Pain\nbefore → after",
    "Mood\nbefore → after",
)
_PLOT_TEXT_PX: Final = 12
_STYLE: Final = """
QWidget#historyPage { background: #F6F8FA; }
QLabel#historyTitle { color: #102030; font-size: 14pt; font-weight: bold; }
QLabel#historySummary { color: #102030; font-size: 12pt; padding: 4px 0; }
QLabel#historyNote { color: #3A4A5A; font-size: 12pt; font-style: italic; }
QLabel#historyMessage { color: #8A1C00; background: #FFF4E5; border: 1px solid #E0B070;
    border-radius: 6px; font-size: 12pt; padding: 8px; }
QTableWidget { background: #FFFFFF; font-size: 11pt; }
QPushButton, QComboBox { font-size: 11pt; padding: 4px 10px; }
"""
# (trend measures; title; y-axis unit; fixed y range or None: from 0 to above the largest)
_TREND_PLOTS: Final[tuple[tuple[tuple[str, ...], str, str, tuple[float, float] | None], ...]] = (
    (("coherence",), "Coherence", "", None),
    (("rsa_bpm",), "Heart-rate swing (RSA)", "bpm", None),
    (("rmssd_ms",), "RMSSD", "ms", None),
    (("pain_before", "pain_after"), "Pain", "0–10", (0.0, 10.0)),
    (("mood_before", "mood_after"), "Mood", "0–10", (0.0, 10.0)),
)
_Y_HEADROOM: Final = 1.15  # the largest value sits below the top of its plot
_COLOURS: Final = ("#0072B2", "#D55E00")  # Okabe–Ito: readable without colour vision
_DASHES: Final = (Qt.PenStyle.DashLine, Qt.PenStyle.SolidLine)  # before dashed, after solid
_SYMBOLS: Final = ("t", "o")  # … and different markers
_MARKS: Final = ("▼", "●")  # the markers in words-and-symbols titles (no legend box over data)


def _num(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _before_after(before: float | None, after: float | None) -> str:
    if before is None and after is None:
        return "—"
    return f"{_num(before, 0)} → {_num(after, 0)}"


def _row_texts(s: SessionRecord) -> tuple[str, ...]:
    return (
        s.started_at.strftime("%Y-%m-%d %H:%M"),
        s.protocol,
        _num(s.minutes, 1),
        _num(s.pacer_breaths_per_min, 1),
        _num(s.coherence, 1),
        _num(s.rsa_bpm, 1),
        _num(s.rmssd_ms, 0),
        _before_after(s.pain_before, s.pain_after),
        _before_after(s.mood_before, s.mood_after),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Loaded:
    """What one read of the history gives the page."""

    profile: str
    profiles: tuple[str, ...]
    sessions: tuple[SessionRecord, ...]  # oldest first
    summary: PracticeSummary


def _read_history(profile: str, today: date | None) -> _Loaded:
    """Index new recordings, read ``profile``'s sessions and practice (a worker thread)."""
    store, _ = open_history()
    with store:
        profiles = tuple(store.profiles())
        sessions = tuple(store.sessions(profile))
    day = today or datetime.now().astimezone().date()
    return _Loaded(
        profile=profile,
        profiles=profiles,
        sessions=sessions,
        summary=practice_summary(sessions, today=day),
    )


def _write_report(recording: Path) -> Path:
    """Write ``recording``'s HTML report into the data folder's reports (a worker thread)."""
    from pet_biofeedback.session.report import write_report

    folder = data_dir() / "reports"
    folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    name = recording.name.removesuffix(".gz").removesuffix(".jsonl")
    return write_report(recording, folder / f"{name}.html", force=True)


def _week_label(week: str) -> str:
    return week.split("-")[-1]  # "2026-W49" → "W49"


class _TrendPlot(pg.PlotWidget):  # type: ignore[misc]  # pyqtgraph is untyped
    """One small plot against the weeks (x = index in the page's list of weeks)."""

    def __init__(self, title: str, unit: str) -> None:
        super().__init__(background="#FFFFFF")
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.setMinimumHeight(170)
        item = self.getPlotItem()
        item.setTitle(f"<span style='color:#102030; font-size:11pt'>{title}</span>")
        if unit:
            item.setLabel("left", unit)
        item.showGrid(x=False, y=True, alpha=0.2)
        font = QFont(self.font())
        font.setPixelSize(_PLOT_TEXT_PX)
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setStyle(tickFont=font)
            axis.label.setFont(font)
        self.setAccessibleName(title)
        self.y_range: tuple[float, float] | None = None
        self.empty_note = pg.TextItem("no values yet", color="#56606A", anchor=(0.5, 0.5))
        self.addItem(self.empty_note)

    def set_values(self, values: Sequence[float]) -> None:
        """Fit the y axis: the fixed range, or 0 to above the largest value; note no values."""
        self.empty_note.setVisible(not values)
        low, high = self.y_range or (0.0, max([*values, 1.0]) * _Y_HEADROOM)
        self.setYRange(low, high, padding=0)
        x_low, x_high = self.getPlotItem().getViewBox().viewRange()[0]
        self.empty_note.setPos((x_low + x_high) / 2, (low + high) / 2)

    def set_weeks(self, weeks: Sequence[str]) -> None:
        ticks = [(k, _week_label(w)) for k, w in enumerate(weeks)]
        step = max(1, len(ticks) // 8)  # at most ~8 labels: they must not overlap
        self.getPlotItem().getAxis("bottom").setTicks([ticks[::step], []])
        self.setXRange(-0.6, max(len(weeks) - 1, 0) + 0.6, padding=0)


class HistoryView(QWidget):
    """A profile's sessions and trends (module docstring).

    Parameters
    ----------
    profile : str
        The profile shown first.
    open_url : callable (QUrl) -> bool, optional
        Opens a report file; `QDesktopServices.openUrl` by default (tests inject one).
    today : date, optional
        The person's today (for the streak and the last week); the local date by default.
    """

    replay_requested = Signal(Path)  # the recording of the selected session

    def __init__(
        self,
        profile: str,
        *,
        open_url: Callable[[QUrl], bool] | None = None,
        today: date | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("historyPage")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(_STYLE)
        self._open_url = open_url or QDesktopServices.openUrl
        self._today = today
        self.profile = profile
        self.sessions: tuple[SessionRecord, ...] = ()
        self.summary: PracticeSummary | None = None

        title = QLabel("Your sessions")
        title.setObjectName("historyTitle")
        self.profile_box = QComboBox()
        self.profile_box.setAccessibleName("Profile")
        self.profile_box.currentTextChanged.connect(self._profile_chosen)
        self.report_button = QPushButton("Open report")
        self.report_button.clicked.connect(self.open_report)
        self.replay_button = QPushButton("Replay")
        self.replay_button.clicked.connect(self._replay_clicked)
        header = QHBoxLayout()
        header.addWidget(title)
        header.addStretch(1)
        header.addWidget(QLabel("Profile:"))
        header.addWidget(self.profile_box)
        header.addWidget(self.report_button)
        header.addWidget(self.replay_button)

        self.message = QLabel("")
        self.message.setObjectName("historyMessage")
        self.message.setWordWrap(True)
        self.message.hide()
        self.note = QLabel("")  # "Reading your sessions…" while the worker thread reads
        self.note.setObjectName("historyNote")
        self.note.hide()
        self.load_task: asyncio.Future[None] | None = None
        self.report_task: asyncio.Future[None] | None = None
        self._load_generation = 0

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.ResizeToContents
        )
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.setAccessibleName("Sessions")

        self.summary_label = QLabel("")
        self.summary_label.setObjectName("historySummary")
        self.summary_label.setWordWrap(True)

        self.minutes_plot = _TrendPlot("Practice minutes per week", "min")
        self._bars = pg.BarGraphItem(x=[], height=[], width=0.6, brush="#56B4E9", pen="#0072B2")
        self.minutes_plot.addItem(self._bars)
        self.trend_plots: dict[str, _TrendPlot] = {}
        self._curves: dict[str, pg.PlotDataItem] = {}
        grid = QGridLayout()
        grid.addWidget(self.minutes_plot, 0, 0)
        for k, (measures, plot_title, unit, y_range) in enumerate(_TREND_PLOTS, start=1):
            if len(measures) > 1:
                keys = " ".join(
                    f"<span style='color:{_COLOURS[j]}'>{_MARKS[j]} {m.split('_')[-1]}</span>"
                    for j, m in enumerate(measures)
                )
                plot_title = f"{plot_title}: {keys}"
            plot = _TrendPlot(plot_title, unit)
            for j, measure in enumerate(measures):
                style = j if len(measures) > 1 else -1  # a single measure: solid, round
                self._curves[measure] = plot.plot(
                    pen=pg.mkPen(_COLOURS[j], width=2, style=_DASHES[style]),
                    symbol=_SYMBOLS[style],
                    symbolSize=8,
                    symbolBrush=_COLOURS[j],
                    symbolPen=None,
                )
                self.trend_plots[measure] = plot
            plot.y_range = y_range
            grid.addWidget(plot, k // 3, k % 3)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.message)
        layout.addWidget(self.note)
        layout.addWidget(self.table, stretch=2)
        layout.addWidget(self.summary_label)
        layout.addLayout(grid, stretch=3)
        self.refresh()

    # ------------------------------------------------------------------ loading
    def refresh(self) -> None:
        """Read the history again (indexing new recordings first) and redraw (module docstring)."""
        self._load_generation += 1
        generation, profile = self._load_generation, self.profile
        self.load_task = self._off_gui_thread(
            lambda: _read_history(profile, self._today),
            lambda loaded: self._loaded(loaded, generation),
            READING_NOTE,
        )

    def _off_gui_thread(
        self,
        work: Callable[[], T],
        done: Callable[[T], None],
        note: str,
        *,
        after: Callable[[], None] | None = None,
    ) -> asyncio.Future[None] | None:
        """Run ``work`` in a worker thread, then ``done`` with its result; the task, if any.

        The note shows meanwhile; a `PetBiofeedbackError` becomes the page's message; ``after``
        runs last either way (on the GUI thread). With no running loop all of it runs in
        place and None is returned.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self._settle(work, done, after)
            return None
        self.note.setText(note)
        self.note.show()

        async def run() -> None:
            try:
                result = await asyncio.to_thread(work)
            except PetBiofeedbackError as exc:
                self._show_error(exc.user_message)
            else:
                done(result)
            finally:
                self.note.hide()
                if after is not None:
                    after()

        return asyncio.ensure_future(run())

    def _settle(
        self, work: Callable[[], T], done: Callable[[T], None], after: Callable[[], None] | None
    ) -> None:
        """`_off_gui_thread` in place (no loop runs)."""
        try:
            result = work()
        except PetBiofeedbackError as exc:
            self._show_error(exc.user_message)
        else:
            done(result)
        finally:
            if after is not None:
                after()

    def _loaded(self, loaded: _Loaded, generation: int) -> None:
        if generation != self._load_generation:  # a newer read (another profile) is under way
            return
        self.message.hide()
        self.sessions = tuple(reversed(loaded.sessions))  # newest first
        self.summary = loaded.summary
        self.profile_box.blockSignals(True)
        self.profile_box.clear()
        self.profile_box.addItems(sorted({*loaded.profiles, loaded.profile}))
        self.profile_box.setCurrentText(loaded.profile)
        self.profile_box.blockSignals(False)
        self._fill_table()
        self._draw(loaded.summary)

    def _show_error(self, text: str) -> None:
        self.message.setText(text)
        self.message.show()

    def _profile_chosen(self, profile: str) -> None:
        if profile and profile != self.profile:
            self.profile = profile
            self.refresh()

    def _fill_table(self) -> None:
        self.table.setRowCount(len(self.sessions))
        for row, session in enumerate(self.sessions):
            for col, text in enumerate(_row_texts(session)):
                item = QTableWidgetItem(text)
                if col >= 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(row, col, item)
        if self.sessions:
            self.table.selectRow(0)
        self._selection_changed()

    def _draw(self, summary: PracticeSummary) -> None:
        weeks = sorted(
            {w.week for w in summary.weeks}
            | {week for t in summary.trends.values() for week in t.weeks}
        )
        index = {week: k for k, week in enumerate(weeks)}
        minutes = {w.week: w.minutes for w in summary.weeks}
        self._bars.setOpts(x=[index[w] for w in weeks], height=[minutes.get(w, 0.0) for w in weeks])
        self.minutes_plot.set_weeks(weeks)
        self.minutes_plot.set_values([w.minutes for w in summary.weeks])
        values: dict[int, list[float]] = {}
        for measure, curve in self._curves.items():
            trend: Trend = summary.trends[measure]
            curve.setData([index[w] for w in trend.weeks], list(trend.weekly_mean))
            plot = self.trend_plots[measure]
            plot.set_weeks(weeks)
            values.setdefault(id(plot), []).extend(trend.weekly_mean)
        for plot in self.trend_plots.values():
            plot.set_values(values[id(plot)])
        streak = summary.current_streak_days
        self.summary_label.setText(
            f"{summary.n_sessions} practice session{'s' if summary.n_sessions != 1 else ''}, "
            f"{summary.total_minutes:.0f} minutes in all · current streak: {streak} "
            f"day{'s' if streak != 1 else ''} · longest: {summary.longest_streak_days} · "
            f"days practised: {summary.days_practised}"
        )

    # ------------------------------------------------------------------ actions
    def selected(self) -> SessionRecord | None:
        rows = self.table.selectionModel().selectedRows()
        return self.sessions[rows[0].row()] if rows else None

    def _selection_changed(self) -> None:
        session = self.selected()
        has_file = session is not None and session.recording is not None
        self.report_button.setEnabled(has_file)
        self.replay_button.setEnabled(has_file)

    def _replay_clicked(self) -> None:
        session = self.selected()
        if session is not None and session.recording is not None:
            self.replay_requested.emit(Path(session.recording))

    def open_report(self) -> None:
        """Write the selected session's report (HTML, a worker thread) and open it."""
        session = self.selected()
        if session is None or session.recording is None:
            return
        recording = Path(session.recording)
        self.report_button.setEnabled(False)

        def done(out: Path) -> None:
            if not self._open_url(QUrl.fromLocalFile(str(out))):
                self._show_error(f"The report was saved to {out}, but no program opened it.")

        self.report_task = self._off_gui_thread(
            lambda: _write_report(recording), done, WRITING_NOTE, after=self._selection_changed
        )


def save_history_screenshot(
    out: Path,
    *,
    profile: str = "default",
    today: date | None = None,
    size: tuple[int, int] = (1280, 860),
) -> Path:
    """Render the history page of ``profile`` offscreen and save it as a PNG (docs, tests)."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    view = HistoryView(profile, open_url=lambda _url: True, today=today)
    view.resize(*size)
    view.show()
    app.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        if not view.grab().save(str(out)):
            raise OSError(f"could not save the screenshot to {out}")
    finally:
        view.close()
    return out
