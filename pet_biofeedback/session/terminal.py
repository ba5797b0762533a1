"""The headless terminal view: the same engine updates as the window, drawn as text.

Like the Qt window it computes nothing: it formats a `FeedbackSnapshot` and a `PacerState`
for people. On a terminal one line is redrawn in place about ten times a second (a bar that
grows while breathing in and shrinks while breathing out); without a terminal a plain status
line is written every few seconds. It writes to the stream it is given (style.md §2.10: only
the command line and this view write to stdout).
"""

from __future__ import annotations

import math
import shutil
from typing import IO, Final

from pet_biofeedback.session.breathing_words import breathing_text
from pet_biofeedback.session.feedback import FeedbackSnapshot
from pet_biofeedback.session.pacer import PacerState

__all__ = ["BAR_WIDTH", "TerminalView", "format_pacer", "format_snapshot"]

BAR_WIDTH: Final = 24  # characters of the breathing bar at full lungs
TTY_REDRAW_S: Final = 0.1  # redraw period on a terminal
PLAIN_EVERY_S: Final = 5.0  # a status line this often without a terminal

_PART_WORDS: Final = {
    "inhale": "in ",
    "hold_in": "hold",
    "exhale": "out",
    "hold_out": "hold",
}


def _clock(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def format_pacer(state: PacerState | None, *, ascii_only: bool = False) -> str:
    """``[#########             ] in  3``: the guide as a bar, what to do, seconds left."""
    if state is None:
        return "breathe freely".ljust(BAR_WIDTH + 9)
    filled = round(state.guide * BAR_WIDTH)
    full, empty = ("#", " ") if ascii_only else ("█", "·")
    bar = full * filled + empty * (BAR_WIDTH - filled)
    return f"[{bar}] {_PART_WORDS[state.part]} {math.ceil(state.part_left_s):>2d}"


def format_snapshot(s: FeedbackSnapshot | None) -> str:
    """HR, RSA, coherence, quality, breathing and time in one short line."""
    if s is None:
        return "waiting for heartbeats…"
    parts = [f"HR {s.hr_bpm:3.0f} bpm"]
    if s.quality.ok:
        rsa = "—" if s.rsa_bpm is None else f"{s.rsa_bpm:.0f} bpm ({s.rsa_level})"
        coherence = "—" if s.coherence is None else f"{s.coherence:.1f} ({s.coherence_level})"
        parts += [f"swing {rsa}", f"coherence {coherence}"]
    else:
        parts.append(f"paused: {s.quality.reason}")
    remaining = "" if s.remaining_s is None else f" / {_clock(s.remaining_s)} left"
    parts.append(f"{_clock(s.elapsed_s)}{remaining}")
    # last: on a narrow terminal the line is cut from the end (TerminalView), time stays
    if s.breathing_breaths_per_min is not None:
        parts.append(f"breathing {breathing_text(s.breathing_breaths_per_min, s.breathing_source)}")
    return " | ".join(parts)


class TerminalView:
    """Draws the session on ``stream``: in place on a terminal, plain lines otherwise.

    On a terminal the line is cut to its width (``columns``, default: the terminal's): a line
    that wraps cannot be redrawn in place with a carriage return and would scroll instead.
    """

    def __init__(
        self, stream: IO[str], *, ascii_only: bool = False, columns: int | None = None
    ) -> None:
        self._stream = stream
        self._columns = columns
        self.tty = stream.isatty()
        self.interval_s = TTY_REDRAW_S if self.tty else PLAIN_EVERY_S
        self._ascii = ascii_only
        self._width = 0
        self.snapshot: FeedbackSnapshot | None = None

    def on_snapshot(self, snapshot: FeedbackSnapshot) -> None:
        """Subscribe this to the engine."""
        self.snapshot = snapshot

    def draw(self, pacer: PacerState | None) -> None:
        text = f"{format_pacer(pacer, ascii_only=self._ascii)}  {format_snapshot(self.snapshot)}"
        if self.tty:
            columns = self._columns or shutil.get_terminal_size().columns
            text = text[: max(columns - 1, 1)]
            self._stream.write("\r" + text + " " * max(self._width - len(text), 0))
            self._width = len(text)
        else:
            self._stream.write(format_snapshot(self.snapshot) + "\n")
        self._stream.flush()

    def end(self) -> None:
        if self.tty and self._width:
            self._stream.write("\n")
            self._stream.flush()
            self._width = 0
