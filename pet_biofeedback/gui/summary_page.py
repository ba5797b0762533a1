"""The end of a session: its measures, the ratings, the practice so far, the full report.

Everything shown was computed elsewhere: the measures by `session.run.session_summary`, the
trends by `session.practice.practice_summary`, an assessment's result by its scoring. The
page formats them and offers the session's HTML report (``report_requested``), which the
composition root writes and opens in the browser.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from pet_biofeedback.session.breathing_words import breathing_source_words
from pet_biofeedback.session.practice import PracticeSummary
from pet_biofeedback.session.run import SessionOutcome

__all__ = ["SummaryView"]

# summary key, label, digits, unit
_MEASURES: Final = (
    ("mean_hr_bpm", "Heart rate", 0, " bpm"),
    ("rmssd_ms", "RMSSD (beat-to-beat variation)", 0, " ms"),
    ("coherence_shown", "Coherence (mean of what you saw)", 1, ""),
    ("rsa_bpm", "Heart-rate swing per breath", 1, " bpm"),
    ("breathing_rate_bpm", "Breathing", 1, " breaths/min"),
)
_TRENDS: Final = (
    ("coherence", "Coherence", 2, ""),
    ("rsa_bpm", "Heart-rate swing", 1, " bpm"),
    ("rmssd_ms", "RMSSD", 1, " ms"),
    ("pain_after", "Pain after sessions", 1, ""),
    ("mood_after", "Mood after sessions", 1, ""),
)
_STYLE: Final = """
QLabel#heading { font-size: 20pt; font-weight: bold; color: #102030; }
QLabel#section { font-size: 14pt; font-weight: bold; color: #102030; margin-top: 10px; }
QLabel#name { font-size: 12pt; color: #3A4A5A; }
QLabel#value { font-size: 12pt; color: #102030; font-weight: bold; }
QLabel#note { font-size: 11pt; color: #56606A; }
QPushButton { font-size: 13pt; padding: 8px 18px; }
"""


def _label(text: str, name: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def _rows(grid: QGridLayout, rows: list[tuple[str, str]]) -> None:
    while grid.count():
        item = grid.takeAt(0)
        widget = None if item is None else item.widget()
        if widget is not None:
            widget.deleteLater()
    for k, (name, value) in enumerate(rows):
        grid.addWidget(_label(name, "name"), k, 0)
        grid.addWidget(_label(value, "value"), k, 1)
    grid.setColumnMinimumWidth(0, 320)
    grid.setColumnStretch(1, 2)
    grid.setColumnStretch(2, 1)  # values stay near their names, wide enough not to wrap


class SummaryView(QWidget):
    """What a finished session leaves, in words and numbers."""

    report_requested = Signal()
    done = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.base_style = _STYLE  # scaled by the large-text setting (look.scaled_style)
        self.setStyleSheet(_STYLE)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 24, 32, 24)
        self.heading = _label("Session finished", "heading")
        self.result = _label("", "value")
        self.measures = QGridLayout()
        self.ratings = _label("", "name")
        self.practice = QGridLayout()
        self.notes = _label("", "note")
        layout.addWidget(self.heading)
        layout.addWidget(self.result)
        layout.addWidget(_label("This session", "section"))
        layout.addLayout(self.measures)
        layout.addWidget(self.ratings)
        layout.addWidget(_label("Your practice", "section"))
        layout.addLayout(self.practice)
        layout.addWidget(self.notes)
        layout.addStretch(1)
        buttons = QHBoxLayout()
        self.report_button = QPushButton("Open the session's &report")
        self.report_button.clicked.connect(self.report_requested)
        self.done_button = QPushButton("&Done")
        self.done_button.clicked.connect(self.done)
        buttons.addWidget(self.report_button)
        buttons.addWidget(self.done_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)

    def show_outcome(
        self,
        outcome: SessionOutcome,
        practice: PracticeSummary | None,
        *,
        result_text: str | None = None,
    ) -> None:
        """Fill the page: the session's summary, its ratings, the practice so far."""
        s: Mapping[str, Any] = outcome.summary
        early = " (stopped early — everything up to then is saved)" if outcome.stopped_early else ""
        self.heading.setText(
            f"{outcome.protocol.get('name', 'Session').capitalize()} finished{early}"
        )
        self.result.setText(result_text or "")
        self.result.setVisible(bool(result_text))
        rows = [
            (label, f"{s[key]:.{digits}f}{unit}")
            for key, label, digits, unit in _MEASURES
            if isinstance(s.get(key), int | float)
        ]
        rows = [_with_breathing_source(row, s.get("breathing_source")) for row in rows]
        _rows(self.measures, rows or [("Measures", "not enough heartbeats to measure")])
        self.ratings.setText(_ratings_text(outcome.ratings))
        self.practice_rows = _practice_rows(practice)
        _rows(self.practice, self.practice_rows)
        notes = [str(n) for n in s.get("notes", [])]
        self.notes.setText("\n".join([*notes, f"Saved to {outcome.recording}"]))


def _with_breathing_source(row: tuple[str, str], source: object) -> tuple[str, str]:
    """The breathing row says where its rate comes from (chest movement, ECG, estimate)."""
    words = breathing_source_words(source if isinstance(source, str) else None)
    if row[0] != "Breathing" or words is None:
        return row
    return row[0], f"{row[1]} — {words}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _ratings_text(ratings: Mapping[str, int | None]) -> str:
    """``Pain 6 → 3, mood 4 → 7`` (a dash for a skipped rating)."""
    parts = []
    for what in ("pain", "mood"):
        before, after = ratings.get(f"{what}_before"), ratings.get(f"{what}_after")
        if before is not None or after is not None:
            b = "–" if before is None else str(before)
            a = "–" if after is None else str(after)
            parts.append(f"{what} {b} → {a}")
    return ("Before → after: " + ", ".join(parts)) if parts else "No ratings given."


def _practice_rows(practice: PracticeSummary | None) -> list[tuple[str, str]]:
    if practice is None:
        return [("Practice", "not available (the history could not be read)")]
    week = practice.weeks[-1] if practice.weeks else None
    rows = [
        ("Practice sessions", f"{practice.n_sessions} ({practice.total_minutes:.0f} min in all)"),
        (
            "Streak",
            f"{_plural(practice.current_streak_days, 'day')} "
            f"(longest {practice.longest_streak_days})",
        ),
    ]
    if week is not None:
        rows.append(
            ("This week", f"{week.minutes:.0f} min in {_plural(week.n_sessions, 'session')}")
        )
    n_trends = len(rows)
    for key, label, digits, unit in _TRENDS:
        trend = practice.trends.get(key)
        if trend is None or trend.slope_per_week is None:
            continue
        rows.append(
            (label, f"{trend.slope_per_week:+.{digits}f}{unit} per week ({trend.n} sessions)")
        )
    if len(rows) == n_trends:
        rows.append(("Trends", "shown once you have practised on two different days"))
    return rows
