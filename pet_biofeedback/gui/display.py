"""Whether a window can be shown here, decided before Qt is imported.

Without a display and without ``QT_QPA_PLATFORM``, creating a `QApplication` aborts the whole
process with a message about plugins (docs/design.md §8). The command line asks first and
answers with one sentence instead.
"""

from __future__ import annotations

import os
import sys

__all__ = ["display_problem"]


def display_problem() -> str | None:
    """A plain sentence when no window can open here; None when one can."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return None  # the person chose a platform (offscreen, xcb, wayland…): trust it
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return (
            "There is no screen here (no DISPLAY or WAYLAND_DISPLAY), so the window cannot "
            "open; for a session in this terminal run: pet-biofeedback session --source sim"
        )
    return None
