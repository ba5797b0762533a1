"""The feedback cards and the summary page say where the measured breathing comes from."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from pet_biofeedback.gui.cards import FeedbackCards
from pet_biofeedback.gui.summary_page import SummaryView
from pet_biofeedback.session.run import SessionOutcome
from tests.unit.session.test_breathing_words import snapshot


def test_the_cards_show_breathing_with_its_source(qtbot: QtBot) -> None:
    cards = FeedbackCards()
    qtbot.addWidget(cards)
    assert cards.breathing.text() == "Breathing —"
    cards.set_snapshot(snapshot(6.0, "acc"))
    assert cards.breathing.text() == "Breathing 6.0/min — from chest movement"
    cards.set_snapshot(snapshot(6.2, "ecg"))
    assert cards.breathing.text() == "Breathing 6.2/min — from the ECG"
    cards.set_snapshot(snapshot(11.0, "rr-estimate"))
    assert cards.breathing.text() == "Breathing 11.0/min — estimated from heart rhythm"
    cards.set_snapshot(snapshot(None, None))
    assert cards.breathing.text() == "Breathing —"


def _value_of(view: SummaryView, name: str) -> str:
    grid = view.measures
    for row in range(grid.rowCount()):
        label, value = grid.itemAtPosition(row, 0), grid.itemAtPosition(row, 1)
        if label is not None and value is not None:
            name_label, value_label = label.widget(), value.widget()
            assert isinstance(name_label, QLabel) and isinstance(value_label, QLabel)
            if name_label.text() == name:
                return value_label.text()
    raise AssertionError(f"no row {name!r}")


def test_the_summary_says_where_the_breathing_rate_comes_from(qtbot: QtBot) -> None:
    view = SummaryView()
    qtbot.addWidget(view)
    for source, words in (
        ("acc", "6.0 breaths/min — from chest movement"),
        ("ecg", "6.0 breaths/min — from the ECG"),
        ("rr-estimate", "6.0 breaths/min — estimated from heart rhythm"),
        (None, "6.0 breaths/min"),
    ):
        outcome = SessionOutcome(
            recording=Path("s.jsonl.gz"),
            summary={"mean_hr_bpm": 64.0, "breathing_rate_bpm": 6.0, "breathing_source": source},
            protocol={"name": "practice"},
            ratings={},
            stopped_early=False,
        )
        view.show_outcome(outcome, None)
        qtbot.wait(1)  # the old rows' deleteLater
        assert _value_of(view, "Breathing") == words
