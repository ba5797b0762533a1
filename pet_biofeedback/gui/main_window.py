"""The app's one window: pages in a stack, the menu bar and a toolbar (issue 8).

Pages (the device picker, the session flow's pages, replay and history once merged) are
shown with `MainWindow.show_page`; the window knows none of them. Menu commands become
signals that the composition root (`app.py`) connects: the window decides nothing.

Contract (other pages build against it): ``show_page(widget)`` adds a widget the first time
and makes it current; ``open_recording_requested(Path)`` is emitted after the file dialog;
``history_requested()`` when History is chosen.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Final

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QToolBar,
    QWidget,
)

__all__ = ["RECORDING_FILTER", "MainWindow"]

RECORDING_FILTER: Final = (
    "Recordings and heart-rate files (*.jsonl *.jsonl.gz *.gz *.xdf *.xdfz *.txt *.csv);;"
    "All files (*)"
)
ChooseFile = Callable[[QWidget], Path | None]


def _file_dialog(parent: QWidget) -> Path | None:
    name, _ = QFileDialog.getOpenFileName(parent, "Open a recording", "", RECORDING_FILTER)
    return Path(name) if name else None


class MainWindow(QMainWindow):
    """The shell (module docstring).

    Parameters
    ----------
    choose_file : callable (parent) -> Path or None, optional
        Asks for the recording to open (default: a file dialog); tests pass their own.
    """

    open_recording_requested = Signal(Path)
    history_requested = Signal()
    settings_requested = Signal()
    presentation_changed = Signal(bool)
    closing = Signal()

    def __init__(
        self, *, choose_file: ChooseFile | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("pet-biofeedback — breathing coach")
        self._choose_file = choose_file or _file_dialog
        self.presenting = False
        self.stack = QStackedWidget()
        self.setCentralWidget(self.stack)
        self.message_box: QMessageBox | None = None
        self._page_actions: tuple[QAction, ...] = ()

        self.open_action = QAction("&Open recording…", self)
        self.open_action.setShortcut(QKeySequence.StandardKey.Open)  # Ctrl+O
        self.open_action.triggered.connect(self._open_recording)
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.quit_action.triggered.connect(self.close)
        self.history_action = QAction("&History", self)
        self.history_action.triggered.connect(self.history_requested)
        self.present_action = QAction("&Presentation mode", self)
        self.present_action.setCheckable(True)
        self.present_action.setShortcut(QKeySequence(Qt.Key.Key_F11))
        self.present_action.setToolTip("Full screen, pacer and heart rate only (F11, Esc leaves)")
        self.present_action.toggled.connect(self.set_presentation)
        # Also on the window itself: the menu bar and toolbar are hidden in presentation mode,
        # and a hidden widget's actions take no shortcuts, so F11 could not leave it.
        self.addAction(self.present_action)
        self.settings_action = QAction("&Settings…", self)
        self.settings_action.triggered.connect(self.settings_requested)

        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(self.open_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(self.history_action)
        view_menu.addAction(self.present_action)
        view_menu.addAction(self.settings_action)

        self.toolbar = QToolBar("Main")
        self.toolbar.setMovable(False)
        self.toolbar.addAction(self.present_action)
        self.addToolBar(self.toolbar)

    # ------------------------------------------------------------------ contract
    def show_page(self, widget: QWidget) -> None:
        """Show ``widget`` as the window's page (added to the stack the first time)."""
        if self.stack.indexOf(widget) < 0:
            self.stack.addWidget(widget)
        self.stack.setCurrentWidget(widget)
        # A page's own controls (a session's "Stop session") sit in the shell's one toolbar
        # while that page is shown.
        for action in self._page_actions:
            self.toolbar.removeAction(action)
        self._page_actions = tuple(getattr(widget, "page_actions", ()))
        self.toolbar.addActions(list(self._page_actions))
        widget.setFocus(Qt.FocusReason.OtherFocusReason)

    def current_page(self) -> QWidget | None:
        return self.stack.currentWidget()

    # ------------------------------------------------------------------ messages
    def show_problem(self, title: str, text: str) -> QMessageBox:
        """A warning that does not block the event loop (sessions keep running under it)."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok)
        box.setParent(self, box.windowFlags())
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.open()
        self.message_box = box
        return box

    # ------------------------------------------------------------------ presentation
    def set_presentation(self, on: bool) -> None:
        """Full screen without menu and toolbar; the session page hides all but pacer and wave."""
        if on == self.presenting:
            return
        self.presenting = on
        self.menuBar().setVisible(not on)
        self.toolbar.setVisible(not on)
        if on:
            self.showFullScreen()
        else:
            self.showNormal()
        if self.present_action.isChecked() != on:
            self.present_action.setChecked(on)
        self.presentation_changed.emit(on)

    # ------------------------------------------------------------------ internals
    def _open_recording(self) -> None:
        path = self._choose_file(self)
        if path is not None:
            self.open_recording_requested.emit(path)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self.presenting:
            self.set_presentation(False)
        else:
            super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.closing.emit()
        super().closeEvent(event)
