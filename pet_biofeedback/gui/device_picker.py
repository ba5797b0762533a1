"""Getting started: find the strap, or try the simulated one, or open a recording (issue 8).

The picker lists what a scan found (name, signal strength, battery when known), offers to
reconnect to the strap used last time, and shows every link change of the session as a line
of the connection log, reconnect attempts included. A scan that fails (no Bluetooth on this
computer, switched off, not allowed…) shows the bridge's plain sentence, and the simulated
strap stays one click away. It computes nothing: the scan is a query handed in by the
composition root (tests hand in fakes), and choices leave as signals.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from pet_biofeedback.errors import PetBiofeedbackError
from pet_biofeedback.events import Link
from pet_biofeedback.session.strap_scan import StrapListing

__all__ = ["DevicePickerView", "ScanQuery"]

logger = logging.getLogger(__name__)

ScanQuery = Callable[[], Awaitable[Sequence[StrapListing]]]
SIMULATED: Final = "sim"
MAX_LOG_LINES: Final = 200  # the connection log keeps the latest lines

_STYLE: Final = """
QLabel#heading { font-size: 20pt; font-weight: bold; color: #102030; }
QLabel#hint { font-size: 12pt; color: #3A4A5A; }
QLabel#scanStatus { font-size: 12pt; color: #102030; padding: 6px; }
QLabel#scanStatus[problem="true"] { color: #8A4B00; background: #FFF4E0;
  border: 1px solid #E6B873; border-radius: 6px; }
QPushButton { font-size: 12pt; padding: 8px 14px; }
QListWidget { font-size: 12pt; }
"""


def strap_line(strap: StrapListing) -> str:
    """One line of the list: name, signal in words and dBm, battery when known."""
    battery = "" if strap.battery_pct is None else f" — battery {strap.battery_pct} %"
    return f"{strap.name} — signal {strap.signal} ({strap.rssi_dbm} dBm){battery}"


def _device_words(spec: str) -> str:
    if spec.strip().lower().startswith(SIMULATED):
        return "the simulated strap"
    head, _, rest = spec.partition(":")
    return f"your strap {rest}" if head.lower() == "ble" and rest else "your strap"


class DevicePickerView(QWidget):
    """The start page (module docstring).

    Parameters
    ----------
    scan : callable () -> awaitable sequence of StrapListing
        Looks for straps; raises `PetBiofeedbackError` (e.g. `BluetoothUnavailableError`) with
        a plain ``user_message`` when it cannot.
    last_device : str, optional
        The source (``ble:ADDRESS``, ``sim``) the profile used last time.
    """

    connect_requested = Signal(str)  # a source string for open_source
    open_recording_clicked = Signal()
    scan_finished = Signal()

    def __init__(
        self, *, scan: ScanQuery, last_device: str | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("devicePicker")
        self.base_style = _STYLE  # scaled by the large-text setting (look.scaled_style)
        self.setStyleSheet(_STYLE)
        self._scan = scan
        self._task: asyncio.Future[None] | None = None
        self._straps: list[StrapListing] = []

        heading = QLabel("Getting started")
        heading.setObjectName("heading")
        hint = QLabel(
            "Put the strap on with moistened electrodes: that wakes it up. Then choose it below."
        )
        hint.setObjectName("hint")
        hint.setWordWrap(True)

        self.reconnect_button = QPushButton("")
        self.reconnect_button.clicked.connect(self._reconnect)
        self.set_last_device(last_device)

        self.status = QLabel("")
        self.status.setObjectName("scanStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.strap_list = QListWidget()
        self.strap_list.setAccessibleName("Straps found nearby")
        self.strap_list.setMinimumHeight(120)
        self.strap_list.itemActivated.connect(lambda _item: self._connect_selected())
        self.strap_list.currentRowChanged.connect(self._selection_changed)

        self.scan_button = QPushButton("&Scan again")
        self.scan_button.clicked.connect(self.start_scan)
        self.connect_button = QPushButton("&Connect")
        self.connect_button.setEnabled(False)
        self.connect_button.clicked.connect(self._connect_selected)
        self.simulated_button = QPushButton("No strap? &Try the simulated one")
        self.simulated_button.clicked.connect(lambda: self.connect_requested.emit(SIMULATED))
        self.open_button = QPushButton("&Open a recording…")
        self.open_button.clicked.connect(self.open_recording_clicked)

        log_title = QLabel("Connection log")
        log_title.setObjectName("hint")
        self.log = QListWidget()
        self.log.setAccessibleName("Connection log: every connection and reconnection attempt")
        self.log.setMaximumHeight(110)

        strap_buttons = QHBoxLayout()
        strap_buttons.addWidget(self.scan_button)
        strap_buttons.addWidget(self.connect_button)
        strap_buttons.addStretch(1)
        other = QHBoxLayout()
        other.addWidget(self.simulated_button)
        other.addWidget(self.open_button)
        other.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 24, 32, 24)
        layout.setSpacing(10)
        for w in (heading, hint, self.reconnect_button, self.status, self.strap_list):
            layout.addWidget(w)
        layout.addLayout(strap_buttons)
        layout.addLayout(other)
        layout.addWidget(log_title)
        layout.addWidget(self.log)
        self.setTabOrder(self.strap_list, self.connect_button)

    # ------------------------------------------------------------------ in
    def set_last_device(self, spec: str | None) -> None:
        self._last = spec
        self.reconnect_button.setVisible(spec is not None)
        if spec is not None:
            self.reconnect_button.setText(f"&Reconnect to {_device_words(spec)}")

    def start_scan(self) -> asyncio.Future[None]:
        """Scan now (on the running event loop); the list and the status follow."""
        if self._task is not None and not self._task.done():
            return self._task
        self.scan_button.setEnabled(False)
        self._show_status("Looking for straps nearby…", problem=False)
        self._task = asyncio.ensure_future(self._run_scan())
        return self._task

    def on_link(self, link: Link) -> None:
        """A link change of the session (reconnect attempts included): one log line."""
        detail = f": {link.detail}" if link.detail else ""
        self.log.addItem(f"{link.t:7.1f} s  {link.state.value}{detail}")
        while self.log.count() > MAX_LOG_LINES:
            self.log.takeItem(0)
        self.log.scrollToBottom()

    # ------------------------------------------------------------------ internals
    async def _run_scan(self) -> None:
        try:
            straps = list(await self._scan())
        except PetBiofeedbackError as exc:
            logger.info("scan failed: %s", exc)
            self._straps = []
            self.strap_list.clear()
            self._show_status(
                f"{exc.user_message}\nYou can still try the simulated strap or open a recording.",
                problem=True,
            )
        else:
            self._straps = straps
            self.strap_list.clear()
            for strap in straps:
                item = QListWidgetItem(strap_line(strap))
                item.setData(Qt.ItemDataRole.UserRole, strap.source)
                self.strap_list.addItem(item)
            if straps:
                self.strap_list.setCurrentRow(0)
                n = len(straps)
                self._show_status(
                    f"{n} strap{'s' if n > 1 else ''} found. Choose one and press Connect.",
                    problem=False,
                )
            else:
                self._show_status(
                    "No strap found. Wear it with moist electrodes (that wakes it up), keep it "
                    "near the computer, close other apps that may hold it, and scan again.",
                    problem=True,
                )
        finally:
            self.scan_button.setEnabled(True)
            self.scan_finished.emit()

    def _show_status(self, text: str, *, problem: bool) -> None:
        self.status.setText(text)
        self.status.setProperty("problem", problem)
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)

    def _selection_changed(self, row: int) -> None:
        self.connect_button.setEnabled(row >= 0)

    def _connect_selected(self) -> None:
        item = self.strap_list.currentItem()
        if item is not None:
            self.connect_requested.emit(str(item.data(Qt.ItemDataRole.UserRole)))

    def _reconnect(self) -> None:
        if self._last is not None:
            self.connect_requested.emit(self._last)
