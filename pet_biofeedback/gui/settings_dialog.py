"""Settings: the pacer, the session length, feedback difficulty, palette and text size.

A plain form, every field reachable with Tab and changed with the keyboard; OK saves, Cancel
leaves everything as it was. The dialog validates nothing itself: it builds a `CoachSettings`
(which checks its ranges) and shows the check's plain message when it refuses. The
composition root saves the result per profile (`session.preferences`).
"""

from __future__ import annotations

from typing import Final

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from pet_biofeedback.errors import ConfigError
from pet_biofeedback.session.preferences import CoachSettings

__all__ = ["RATIOS", "SettingsDialog"]

RATIOS: Final = ((4.0, 6.0), (5.0, 5.0), (4.0, 4.0), (3.0, 7.0), (1.0, 2.0))
_DIFFICULTIES: Final = (
    ("easier", "Easier — medium and high come sooner"),
    ("standard", "Standard"),
    ("harder", "Harder — for experienced practisers"),
)
_SHAPES: Final = (("sine", "Smooth (slow at the turns)"), ("linear", "Even speed"))


def _spin(low: float, high: float, step: float, decimals: int, suffix: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setDecimals(decimals)
    box.setSuffix(suffix)
    box.setKeyboardTracking(False)
    return box


class SettingsDialog(QDialog):
    """Edit a profile's `CoachSettings`; after ``accept`` read `settings`."""

    def __init__(self, current: CoachSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings = current
        self.rate = _spin(3.0, 10.0, 0.1, 1, " breaths/min")
        self.ratio = QComboBox()
        for inhale, exhale in RATIOS:
            self.ratio.addItem(f"in {inhale:g} : out {exhale:g}", (inhale, exhale))
        self.hold_in = _spin(0.0, 10.0, 0.5, 1, " s")
        self.hold_out = _spin(0.0, 10.0, 0.5, 1, " s")
        self.shape = QComboBox()
        for key, text in _SHAPES:
            self.shape.addItem(text, key)
        self.minutes = _spin(2.0, 60.0, 1.0, 0, " min")
        self.difficulty = QComboBox()
        for key, text in _DIFFICULTIES:
            self.difficulty.addItem(text, key)
        self.colour_blind = QCheckBox("Colour-blind-safe colours")
        self.large_text = QCheckBox("Large text")
        self.problem = QLabel("")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #8A4B00;")

        form = QFormLayout()
        form.addRow("Pacer &rate", self.rate)
        form.addRow("Breathing in : &out", self.ratio)
        form.addRow("&Hold after breathing in", self.hold_in)
        form.addRow("Hold after &breathing out", self.hold_out)
        form.addRow("Guide &movement", self.shape)
        form.addRow("Session &length", self.minutes)
        form.addRow("&Feedback", self.difficulty)
        form.addRow("", self.colour_blind)
        form.addRow("", self.large_text)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)
        self._show(current)

    def _show(self, s: CoachSettings) -> None:
        self.rate.setValue(s.breaths_per_min)
        index = self.ratio.findData((s.inhale_parts, s.exhale_parts))
        if index < 0:  # a ratio from the command line or an old file: offer it as it is
            self.ratio.addItem(
                f"in {s.inhale_parts:g} : out {s.exhale_parts:g}", (s.inhale_parts, s.exhale_parts)
            )
            index = self.ratio.count() - 1
        self.ratio.setCurrentIndex(index)
        self.hold_in.setValue(s.hold_after_inhale_s)
        self.hold_out.setValue(s.hold_after_exhale_s)
        self.shape.setCurrentIndex(max(self.shape.findData(s.shape), 0))
        self.minutes.setValue(s.minutes)
        self.difficulty.setCurrentIndex(max(self.difficulty.findData(s.difficulty), 0))
        self.colour_blind.setChecked(s.colour_blind_palette)
        self.large_text.setChecked(s.large_text)

    def chosen(self) -> CoachSettings:
        """The settings as the form shows them.

        Raises
        ------
        ConfigError
            A combination the pacer refuses.
        """
        inhale, exhale = self.ratio.currentData()
        return CoachSettings(
            breaths_per_min=round(self.rate.value(), 1),
            inhale_parts=float(inhale),
            exhale_parts=float(exhale),
            hold_after_inhale_s=self.hold_in.value(),
            hold_after_exhale_s=self.hold_out.value(),
            shape=self.shape.currentData(),
            minutes=self.minutes.value(),
            difficulty=self.difficulty.currentData(),
            colour_blind_palette=self.colour_blind.isChecked(),
            large_text=self.large_text.isChecked(),
        )

    def accept(self) -> None:
        try:
            self.settings = self.chosen()
        except ConfigError as exc:
            self.problem.setText(exc.user_message)
            return
        super().accept()
