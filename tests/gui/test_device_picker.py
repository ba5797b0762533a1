"""The device picker with a fake scanner: the list, every Bluetooth error, the simulated one."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import pytest
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakDBusError,
)
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from pet_biofeedback.events import Link, LinkState
from pet_biofeedback.firmware_bridge.ble_errors import translate_error
from pet_biofeedback.gui.device_picker import DevicePickerView
from pet_biofeedback.session.strap_scan import StrapListing, listings

Run = Callable[[Coroutine[Any, Any, Any]], Any]
STRAPS = (
    StrapListing(
        name="Polar H10 1A2B3C4D",
        source="ble:A0:9E:1A:2B:3C:4D",
        rssi_dbm=-58,
        signal="strong",
        battery_pct=80,
    ),
    StrapListing(name="HRM-Dual:123", source="ble:C1:22:33:44:55:66", rssi_dbm=-79, signal="fair"),
)
# The situations without Bluetooth that the app must explain, as bleak raises them.
BLUETOOTH_PROBLEMS = {
    "no system D-Bus": FileNotFoundError(2, "No such file", "/run/dbus/system_bus_socket"),
    "no BlueZ service": BleakDBusError("org.freedesktop.DBus.Error.ServiceUnknown", []),
    "BlueZ not running": BleakDBusError("org.freedesktop.DBus.Error.Spawn.ChildExited", []),
    "no adapter": BleakBluetoothNotAvailableError(
        "No Bluetooth adapters found.", BleakBluetoothNotAvailableReason.NO_BLUETOOTH
    ),
    "adapter off": BleakBluetoothNotAvailableError(
        "Bluetooth is off", BleakBluetoothNotAvailableReason.POWERED_OFF
    ),
}


async def _scan_now(picker: DevicePickerView) -> None:
    await picker.start_scan()  # on the test's loop


def _picker(qtbot: QtBot, scan: Any, last: str | None = None) -> DevicePickerView:
    picker = DevicePickerView(scan=scan, last_device=last)
    qtbot.addWidget(picker)
    picker.resize(1000, 700)
    picker.show()
    return picker


def test_found_straps_are_listed_and_one_connects(
    qtbot: QtBot, run_qt: Run, artifacts_dir: Path
) -> None:
    async def scan() -> Sequence[StrapListing]:
        return STRAPS

    picker = _picker(qtbot, scan, last="ble:A0:9E:1A:2B:3C:4D")
    run_qt(_scan_now(picker))
    assert picker.strap_list.count() == 2
    first = picker.strap_list.item(0).text()
    assert first == "Polar H10 1A2B3C4D — signal strong (-58 dBm) — battery 80 %"
    assert "battery" not in picker.strap_list.item(1).text()  # unknown: not shown
    assert "2 straps found" in picker.status.text()
    assert picker.reconnect_button.isVisible()
    assert "A0:9E:1A:2B:3C:4D" in picker.reconnect_button.text()
    picker.on_link(Link(0.0, LinkState.CONNECTING, "Polar H10 1A2B3C4D"))
    picker.on_link(Link(12.5, LinkState.RECONNECTING, "attempt 2, next in 2 s"))
    assert picker.log.count() == 2
    assert "reconnecting: attempt 2" in picker.log.item(1).text()
    picker.grab().save(str(artifacts_dir / "device-picker.png"))
    picker.strap_list.setCurrentRow(1)
    with qtbot.waitSignal(picker.connect_requested) as chosen:
        qtbot.mouseClick(picker.connect_button, Qt.MouseButton.LeftButton)
    assert chosen.args == ["ble:C1:22:33:44:55:66"]
    with qtbot.waitSignal(picker.connect_requested) as again:
        qtbot.mouseClick(picker.reconnect_button, Qt.MouseButton.LeftButton)
    assert again.args == ["ble:A0:9E:1A:2B:3C:4D"]


@pytest.mark.parametrize("situation", list(BLUETOOTH_PROBLEMS))
def test_a_bluetooth_problem_is_a_plain_sentence_and_sim_stays_one_click_away(
    qtbot: QtBot, run_qt: Run, situation: str
) -> None:
    error = translate_error(BLUETOOTH_PROBLEMS[situation], context="scanning for straps")

    async def scan() -> Sequence[StrapListing]:
        raise error

    picker = _picker(qtbot, scan)
    run_qt(_scan_now(picker))
    assert picker.strap_list.count() == 0
    assert error.user_message in picker.status.text()
    assert "Error" not in picker.status.text() and "(" not in error.user_message[:40]
    assert picker.scan_button.isEnabled() and picker.simulated_button.isEnabled()
    assert not picker.reconnect_button.isVisible()
    with qtbot.waitSignal(picker.connect_requested) as chosen:
        qtbot.mouseClick(picker.simulated_button, Qt.MouseButton.LeftButton)
    assert chosen.args == ["sim"]


def test_no_strap_found_says_what_to_do(qtbot: QtBot, run_qt: Run) -> None:
    async def scan() -> Sequence[StrapListing]:
        return []

    picker = _picker(qtbot, scan)
    run_qt(_scan_now(picker))
    assert "No strap found" in picker.status.text() and "moist" in picker.status.text()


def test_listings_from_the_bridge_scan_results() -> None:
    class Found:
        name = None
        address = "AA:BB:CC:DD:EE:FF"
        rssi_dbm = -90

    (strap,) = listings([Found()])
    assert strap.source == "ble:AA:BB:CC:DD:EE:FF"
    assert strap.signal == "weak" and strap.battery_pct is None
    assert strap.name == "Heart-rate strap (no name)"
