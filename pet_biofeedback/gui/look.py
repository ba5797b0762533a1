"""How the app looks: the standard and the colour-blind-safe palette, normal and large text.

Settings choose a `Look`; the widgets take its colours and sizes. Both palettes name every
level in words as well (cards.py), so colour is never the only cue; the colour-blind-safe
one (Paul Tol's high-contrast scheme) also differs in lightness, so it reads in greyscale.
Nothing here flashes or animates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = [
    "COLOUR_BLIND",
    "LARGE_TEXT_SCALE",
    "STANDARD",
    "Look",
    "Palette",
    "palette_of",
    "scaled_style",
]

LARGE_TEXT_SCALE: Final = 1.3  # large text: every font this much larger


@dataclass(frozen=True, slots=True, kw_only=True)
class Palette:
    """Colours (``#RRGGBB``) of the feedback levels and of the heart-rate picture."""

    low: str
    medium: str
    high: str
    heart: str
    wave: str


STANDARD: Final = Palette(
    low="#E69F00", medium="#56B4E9", high="#009E73", heart="#D55E00", wave="#56B4E9"
)
COLOUR_BLIND: Final = Palette(
    low="#BB5566", medium="#DDAA33", high="#004488", heart="#004488", wave="#DDAA33"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Look:
    """The person's choice of palette and text size."""

    colour_blind: bool = False
    large_text: bool = False

    @property
    def text_scale(self) -> float:
        return LARGE_TEXT_SCALE if self.large_text else 1.0


def palette_of(look: Look) -> Palette:
    return COLOUR_BLIND if look.colour_blind else STANDARD


_POINTS: Final = re.compile(r"font-size:\s*(\d+(?:\.\d+)?)pt")


def scaled_style(style: str, scale: float) -> str:
    """A Qt style sheet with every ``font-size: Npt`` multiplied by ``scale`` (whole points)."""
    return _POINTS.sub(lambda m: f"font-size: {round(float(m.group(1)) * scale)}pt", style)
