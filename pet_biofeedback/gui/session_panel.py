"""The views of a session: the pacer beside the heart-rate wave, the feedback cards below.

Shared by the live session window and the replay page (issue 8: "the same views as a live
session"). It draws what it is handed — a pacer state, heart-rate arrays, a snapshot — and
computes nothing.
"""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from pet_biofeedback.gui.cards import FeedbackCards
from pet_biofeedback.gui.hr_view import HeartRateView
from pet_biofeedback.gui.pacer_view import PacerView

__all__ = ["NORMAL_AXIS_PX", "PANEL_STYLE", "PRESENTATION_AXIS_PX", "SessionPanel"]

NORMAL_AXIS_PX: Final = 13  # heart-rate axis text
PRESENTATION_AXIS_PX: Final = 24  # …readable in a 1280×720 screen share
PANEL_STYLE: Final = """
QWidget#central { background: #F6F8FA; }
QFrame#card { background: #FFFFFF; border: 1px solid #D0D7DE; border-radius: 8px; }
QLabel#cardTitle { color: #3A4A5A; font-size: 13pt; }
QLabel#cardValue { color: #102030; font-size: 22pt; font-weight: bold; }
QLabel#cardExplanation { color: #56606A; font-size: 10pt; }
QLabel#quality { color: #1B5E20; font-size: 12pt; padding: 4px; }
QLabel#quality[paused="true"] { color: #8A4B00; font-weight: bold; }
QLabel#breathing { color: #3A4A5A; font-size: 12pt; padding: 0 4px; }
"""  # the page or window that holds a panel sets it (style sheets cascade from there)


class SessionPanel(QWidget):
    """Pacer, heart-rate wave and feedback cards (``pacer``, ``heart``, ``cards``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("central")
        self.pacer = PacerView()
        self.heart = HeartRateView()
        self.cards = FeedbackCards()
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.pacer)
        top.addWidget(self.heart)
        top.setStretchFactor(0, 2)
        top.setStretchFactor(1, 3)
        self.top = top
        layout = QVBoxLayout(self)
        self._layout = layout
        layout.addWidget(top, stretch=3)
        layout.addWidget(self.cards, stretch=1)
        self._margins = layout.contentsMargins()
        self._handle_px = top.handleWidth()

    def set_edge_to_edge(self, on: bool) -> None:
        """Pacer and wave to the window's edges (presentation): no margin, no splitter grip.

        A shared screen showed the window's light background as a frame around the black
        views, and the splitter's dotted grip beside the axis label.
        """
        layout = self._layout
        if on:
            layout.setContentsMargins(0, 0, 0, 0)
            self.top.setHandleWidth(0)
        else:
            layout.setContentsMargins(self._margins)
            self.top.setHandleWidth(self._handle_px)

    def set_presentation(self, on: bool) -> None:
        """Only pacer and wave, large high-contrast type (on), or the normal look (off)."""
        self.cards.setVisible(not on)
        self.set_edge_to_edge(on)
        self.setStyleSheet("background: #000000;" if on else "")
        if on:
            self.pacer.set_colours(
                fill="#F0E442", ring="#FFFFFF", text="#000000", halo="#FFFFFF", background="#000000"
            )
            self.pacer.text_scale = 1.3
            self.heart.set_colours(heart="#FFFFFF", wave="#0072B2", background="#000000")
            self.heart.set_text_size(PRESENTATION_AXIS_PX)
        else:
            self.pacer.set_colours(
                fill="#56B4E9", ring="#0072B2", text="#102030", halo="#FFFFFF", background="#F6F8FA"
            )
            self.pacer.text_scale = 1.0
            self.heart.set_colours(heart="#D55E00", wave="#56B4E9", background="#FFFFFF")
            self.heart.set_text_size(NORMAL_AXIS_PX)
