"""Rate pain and mood, 0–10, before and after a session; each rating may be skipped (issue 8).

Each question is a row of eleven buttons (keyboard: Tab to a number, Space to choose it) with
the meaning of both ends written under it. "Continue" sends what was chosen;
"Skip" sends nothing. The answers go to the engine as `Rating` events (the composition root
does that), never computed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

__all__ = ["QUESTIONS", "RatingsView"]

# kind suffix → (question, what 0 means, what 10 means)
QUESTIONS: Final = {
    "pain": ("How strong is your pain right now?", "0 = no pain", "10 = worst imaginable"),
    "mood": ("How is your mood right now?", "0 = very low", "10 = very good"),
}
_STYLE: Final = """
QLabel#heading { font-size: 20pt; font-weight: bold; color: #102030; }
QLabel#question { font-size: 14pt; color: #102030; margin-top: 12px; }
QLabel#ends { font-size: 11pt; color: #3A4A5A; }
QPushButton#score { font-size: 14pt; min-width: 44px; min-height: 44px; }
QPushButton#score:checked { background: #0072B2; color: #FFFFFF; font-weight: bold; }
QPushButton#action { font-size: 13pt; padding: 8px 18px; }
"""


class RatingsView(QWidget):
    """Two 0–10 ratings; ``submitted`` carries ``{"pain_before": 4, …}`` (skipped ones left out).

    Parameters
    ----------
    when : {"before", "after"}
        Which ratings these are (the kinds end in it).
    heading : str
        What the page says at the top.
    """

    submitted = Signal(dict)

    def __init__(self, *, when: str, heading: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.when = when
        self.base_style = _STYLE  # scaled by the large-text setting (look.scaled_style)
        self.setStyleSheet(_STYLE)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 24, 32, 24)
        title = QLabel(heading)
        title.setObjectName("heading")
        title.setWordWrap(True)
        layout.addWidget(title)
        self.groups: dict[str, QButtonGroup] = {}
        for what, (question, low, high) in QUESTIONS.items():
            kind = f"{what}_{when}"
            label = QLabel(question)
            label.setObjectName("question")
            layout.addWidget(label)
            row = QGridLayout()
            group = QButtonGroup(self)
            group.setExclusive(True)
            for value in range(11):
                button = QPushButton(str(value))
                button.setObjectName("score")
                button.setCheckable(True)
                button.setAccessibleName(f"{question} {value}")
                group.addButton(button, value)
                row.addWidget(button, 0, value)
            ends = QHBoxLayout()
            for k, text in enumerate((low, high)):
                end = QLabel(text)
                end.setObjectName("ends")
                if k:
                    ends.addStretch(1)  # the two ends under the two ends of the row
                ends.addWidget(end)
            layout.addLayout(row)
            layout.addLayout(ends)
            self.groups[kind] = group
        layout.addStretch(1)
        actions = QHBoxLayout()
        self.continue_button = QPushButton("&Continue")
        self.skip_button = QPushButton("&Skip rating")
        for button in (self.continue_button, self.skip_button):
            button.setObjectName("action")
            actions.addWidget(button)
        actions.addStretch(1)
        layout.addLayout(actions)
        self.continue_button.clicked.connect(lambda: self.submitted.emit(self.answers()))
        self.skip_button.clicked.connect(lambda: self.submitted.emit({}))

    def answers(self) -> dict[str, int]:
        """The ratings chosen so far (kind → 0–10)."""
        return {kind: g.checkedId() for kind, g in self.groups.items() if g.checkedId() >= 0}

    def reset(self) -> None:
        """Nothing chosen (the page is shown again for the next session)."""
        for group in self.groups.values():
            group.setExclusive(False)  # an exclusive group cannot uncheck its last button
            for button in group.buttons():
                button.setChecked(False)
            group.setExclusive(True)

    def choose(self, answers: Sequence[tuple[str, int]]) -> None:
        """Check the buttons of ``answers`` (kind, value), as a click would."""
        for kind, value in answers:
            button = self.groups[kind].button(value)
            button.setChecked(True)
