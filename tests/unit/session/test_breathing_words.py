"""The measured breathing in words: the card, the terminal line and the summary agree."""

from __future__ import annotations

import dataclasses
import io
import math

import pytest

from pet_biofeedback.events import LinkState
from pet_biofeedback.session.breathing_words import breathing_source_words, breathing_text
from pet_biofeedback.session.feedback import DEFAULT_LEVELS, FeedbackSnapshot, Quality
from pet_biofeedback.session.terminal import TerminalView, format_snapshot


def snapshot(rate: float | None, source: str | None) -> FeedbackSnapshot:
    quality = Quality(
        ok=True,
        reason=None,
        corrected_pct=0.0,
        contact=True,
        link=LinkState.STREAMING,
        clean_since_s=-math.inf,
    )
    return FeedbackSnapshot(
        t_s=90.0,
        elapsed_s=90.0,
        remaining_s=510.0,
        n_beats=90,
        nn_ms=923.0,
        hr_bpm=65.0,
        rmssd_ms=41.0,
        rsa_bpm=11.6,
        rsa_level="high",
        coherence=3.2,
        coherence_level="high",
        breathing_breaths_per_min=rate,
        breathing_source=source,
        pacer_breaths_per_min=6.0,
        breathing_matches_pacer=True,
        quality=quality,
        link=LinkState.STREAMING,
        battery_pct=80,
        levels=DEFAULT_LEVELS,
    )


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("acc", "6.0/min — from chest movement"),
        ("ecg", "6.0/min — from the ECG"),
        ("rr-estimate", "6.0/min — estimated from heart rhythm"),
        (None, "6.0/min"),
        ("something new", "6.0/min"),
    ],
)
def test_breathing_text_names_the_source(source: str | None, words: str) -> None:
    assert breathing_text(6.0, source) == words


def test_no_rate_is_a_dash() -> None:
    assert breathing_text(None, "acc") == "—"
    assert breathing_text(math.nan, "acc") == "—"
    assert breathing_source_words(None) is None


@pytest.mark.parametrize(
    ("source", "words"),
    [("acc", "from chest movement"), ("ecg", "from the ECG"), ("rr-estimate", "estimated")],
)
def test_the_terminal_line_shows_breathing_and_its_source(source: str, words: str) -> None:
    line = format_snapshot(snapshot(5.9, source))
    assert "breathing 5.9/min — " + words in line


def test_the_terminal_line_leaves_out_breathing_not_yet_measured() -> None:
    line = format_snapshot(snapshot(None, None))
    assert "breathing" not in line


def test_paused_feedback_still_shows_the_breathing() -> None:
    s = snapshot(6.1, "ecg")
    paused = dataclasses.replace(
        s, quality=dataclasses.replace(s.quality, ok=False, reason="Some heartbeats were lost.")
    )
    line = format_snapshot(paused)
    assert "paused: Some heartbeats were lost." in line and "6.1/min — from the ECG" in line


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_line_is_cut_to_the_width_time_before_breathing() -> None:
    stream = _Tty()
    view = TerminalView(stream, ascii_only=True, columns=120)
    view.on_snapshot(snapshot(6.0, "acc"))
    view.draw(None)
    drawn = stream.getvalue().removeprefix("\r")
    assert len(drawn) == 119  # never wraps: a wrapped line cannot be redrawn in place
    assert "1:30 / 8:30 left" in drawn  # the time left survives the cut
    wide = _Tty()
    view = TerminalView(wide, ascii_only=True, columns=200)
    view.on_snapshot(snapshot(6.0, "acc"))
    view.draw(None)
    assert wide.getvalue().rstrip().endswith("breathing 6.0/min — from chest movement")
