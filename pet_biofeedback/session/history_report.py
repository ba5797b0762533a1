"""The history as people and programs read it: a text table and the ``--json`` contract.

Pure functions returning text and plain data; the command line prints them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any, Final

from pet_biofeedback.session.feedback_levels import FeedbackLevels
from pet_biofeedback.session.history_record import SessionRecord
from pet_biofeedback.session.practice import PracticeSummary, practice_dict

__all__ = ["history_dict", "history_table", "printable", "session_dict"]

# Characters escaped in the table: control and format characters, line separators (a note
# must not move the cursor, clear the screen or flip the text direction of a terminal).
_UNPRINTABLE_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_JOINERS: Final = frozenset({"\u200c", "\u200d"})  # zero-width (non-)joiners: part of names
_HISTORY_COLUMNS: Final = (
    # title, width
    ("Date", 16),
    ("Protocol", 10),
    ("Min", 5),
    ("Rate", 5),
    ("HR", 5),
    ("RMSSD", 6),
    ("Coh.", 5),
    ("Pain", 9),
    ("Mood", 9),
)
_NOTE_MAX_CHARS: Final = 40


def _format_number(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def printable(text: str) -> str:
    """``text`` with every control or format character written as an escape.

    Notes, profile names and paths are typed by people (or arrive in files): shown as they
    are, an escape sequence could clear the terminal, a line break could fake a table row,
    and a bidi override could make text read backwards. They become ``\\x1b``,
    ``\\x0a``, ``\\u202e``; the zero-width joiners that names need stay.
    """
    out = []
    for ch in text:
        if unicodedata.category(ch) in _UNPRINTABLE_CATEGORIES and ch not in _JOINERS:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def _before_after(before: float | None, after: float | None) -> str:
    if before is None and after is None:
        return "—"
    return f"{_format_number(before, 0)}→{_format_number(after, 0)}"


def history_table(
    sessions: Sequence[SessionRecord],
    practice: PracticeSummary,
    levels: FeedbackLevels,
    profile: str,
) -> str:
    """The history for people: one line per session, then practice, trends and levels."""
    name = printable(profile)
    if not sessions:
        return f"No sessions yet for profile '{name}'."
    lines = [f"History of profile '{name}': {_plural(len(sessions), 'session')}", ""]
    lines.append("  ".join(f"{t:<{w}}" for t, w in _HISTORY_COLUMNS) + "  Note")
    for s in sessions:
        when = s.started_at.strftime("%Y-%m-%d %H:%M")
        cells = (
            when,
            s.protocol,
            _format_number(s.minutes, 1),
            _format_number(s.pacer_breaths_per_min, 1),
            _format_number(s.mean_hr_bpm, 0),
            _format_number(s.rmssd_ms, 1),
            _format_number(s.coherence, 2),
            _before_after(s.pain_before, s.pain_after),
            _before_after(s.mood_before, s.mood_after),
        )
        note = printable(s.note)
        if len(note) > _NOTE_MAX_CHARS:
            note = note[: _NOTE_MAX_CHARS - 1] + "…"
        row = "  ".join(f"{c:<{w}}" for c, (_, w) in zip(cells, _HISTORY_COLUMNS, strict=True))
        lines.append(f"{row}  {note}".rstrip())
    lines.append(
        "Rate is the pacer in breaths/min; HR in bpm; RMSSD in ms; Coh. = coherence ratio."
    )
    lines.append("")
    lines.append(
        f"Practice: {_plural(practice.n_sessions, 'session')}, "
        f"{practice.total_minutes:.0f} minutes on {_plural(practice.days_practised, 'day')}; "
        f"current streak {_plural(practice.current_streak_days, 'day')}, "
        f"longest {_plural(practice.longest_streak_days, 'day')}."
    )
    for week in practice.weeks[-8:]:
        lines.append(
            f"  {week.week} (from {week.week_start:%d %b}): {week.minutes:5.0f} min, "
            f"{_plural(week.n_sessions, 'session')}"
        )
    labels = {
        "coherence": ("Coherence ratio", "", 2),
        "rsa_bpm": ("RSA", " bpm", 1),
        "rmssd_ms": ("RMSSD", " ms", 1),
        "resting_hr_bpm": ("Resting heart rate", " bpm", 1),
        "pain_before": ("Pain before", "", 1),
        "pain_after": ("Pain after", "", 1),
        "mood_before": ("Mood before", "", 1),
        "mood_after": ("Mood after", "", 1),
    }
    trend_lines = []
    for key, (label, unit, digits) in labels.items():
        t = practice.trends[key]
        if t.n == 0:
            continue
        text = f"  {label}: {t.weekly_mean[-1]:.{digits}f}{unit} in {t.weeks[-1]} (weekly mean)"
        if t.slope_per_week is not None:
            text += f", trend {t.slope_per_week:+.{digits}f}{unit} per week"
        trend_lines.append(text + f"; {_plural(t.n, 'session')}, from {t.source}")
    if trend_lines:
        lines.append("Trends:")
        lines.extend(trend_lines)
    c, r = levels.coherence, levels.rsa_bpm
    lines.append(
        f"Feedback levels: coherence low < {c.low:.2f} ≤ medium < {c.high:.2f} ≤ high "
        f"({c.source}); RSA low < {r.low:.1f} ≤ medium < {r.high:.1f} bpm ≤ high ({r.source})."
    )
    return "\n".join(lines)


def session_dict(s: SessionRecord) -> dict[str, Any]:
    """One session as the ``history --json`` contract has it (exactly these keys)."""
    return {
        "id": s.id,
        "started_at": s.started_at.isoformat(),
        "profile": s.profile,
        "protocol": s.protocol,
        "minutes": s.minutes,
        # The JSON key is fixed by the history contract; it means breaths per minute.
        "rate_bpm": s.pacer_breaths_per_min,
        "recording": s.recording,
        "mean_hr_bpm": s.mean_hr_bpm,
        "rmssd_ms": s.rmssd_ms,
        "coherence": s.coherence,
        "rsa_bpm": s.rsa_bpm,
        "pain_before": s.pain_before,
        "pain_after": s.pain_after,
        "mood_before": s.mood_before,
        "mood_after": s.mood_after,
        "note": s.note,
    }


def history_dict(sessions: Sequence[SessionRecord], practice: PracticeSummary) -> dict[str, Any]:
    """``{"sessions": [...], "practice": {...}}``: the ``history --json`` output."""
    return {
        "sessions": [session_dict(s) for s in sessions],
        "practice": practice_dict(practice),
    }
