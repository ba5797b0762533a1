"""Pure parts of the BLE layer: error translation, settings, beat timing, fault specs."""

from __future__ import annotations

import errno
import math
import re
import subprocess
import sys

import pytest
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakCharacteristicNotFoundError,
    BleakDBusError,
    BleakDeviceNotFoundError,
    BleakError,
    BleakGATTProtocolError,
)

from pet_biofeedback.errors import (
    BluetoothUnavailableError,
    BluetoothUnavailableReason,
    ConfigError,
    ConnectionLostError,
    DeviceBusyError,
    DeviceError,
    DeviceNotFoundError,
    PairingRequiredError,
)
from pet_biofeedback.firmware_bridge.ble import BleStrap
from pet_biofeedback.firmware_bridge.ble_errors import NOT_AVAILABLE_REASONS, translate_error
from pet_biofeedback.firmware_bridge.ble_settings import BleTimeouts, ReconnectPolicy
from pet_biofeedback.firmware_bridge.emulated_harness import FaultPlan

R = BleakBluetoothNotAvailableReason
U = BluetoothUnavailableReason
_JARGON = re.compile(r"0x|Bleak|Error|errno|D-Bus|org\.|\[|\]|\(\d|\d\)")


def _plain(message: str) -> bool:
    """A user message: plain words, no hex, class names or tuples (style.md §2.5)."""
    return bool(message) and _JARGON.search(message) is None


class TestTranslateError:
    @pytest.mark.parametrize(
        ("reason", "expected"),
        [
            (R.NO_BLUETOOTH, U.NO_ADAPTER),
            (R.NO_BLE_CENTRAL_ROLE, U.NO_ADAPTER),
            (R.POWERED_OFF, U.POWERED_OFF),
            (R.DENIED_BY_USER, U.PERMISSION_DENIED),
            (R.DENIED_BY_SYSTEM, U.PERMISSION_DENIED),
            (R.DENIED_BY_UNKNOWN, U.PERMISSION_DENIED),
            (R.UNKNOWN, U.UNKNOWN),
        ],
    )
    def test_bluetooth_not_available_maps_its_reason(
        self, reason: BleakBluetoothNotAvailableReason, expected: BluetoothUnavailableReason
    ) -> None:
        exc = BleakBluetoothNotAvailableError("nope", reason)
        err = translate_error(exc, context="scanning for straps")
        assert isinstance(err, BluetoothUnavailableError)
        assert err.reason is expected
        assert _plain(err.user_message)
        assert "scanning for straps" in str(err)

    def test_every_reason_has_its_own_message(self) -> None:
        messages = {
            translate_error(BleakBluetoothNotAvailableError("x", r), context="c").user_message
            for r in (R.NO_BLUETOOTH, R.POWERED_OFF, R.DENIED_BY_USER, R.UNKNOWN)
        }
        assert len(messages) == 4
        off = translate_error(BleakBluetoothNotAvailableError("x", R.POWERED_OFF), context="c")
        assert "switched off" in off.user_message

    @pytest.mark.parametrize(
        ("exc", "expected"),
        [
            (FileNotFoundError(2, "No such file", "/run/dbus/system_bus_socket"), U.NO_STACK),
            (ConnectionRefusedError(111, "refused"), U.NO_STACK),
            (PermissionError(13, "denied"), U.PERMISSION_DENIED),
            (OSError(errno.ENODEV, "No such device"), U.NO_ADAPTER),
        ],
    )
    def test_os_errors_without_a_bluetooth_stack(
        self, exc: OSError, expected: BluetoothUnavailableReason
    ) -> None:
        err = translate_error(exc, context="scanning for straps")
        assert isinstance(err, BluetoothUnavailableError)
        assert err.reason is expected
        assert _plain(err.user_message)

    def test_device_not_found_keeps_the_identifier(self) -> None:
        err = translate_error(
            BleakDeviceNotFoundError("AA:BB", "not found"), context="connecting to the strap"
        )
        assert isinstance(err, DeviceNotFoundError)
        assert err.identifier == "AA:BB"
        named = translate_error(
            BleakDeviceNotFoundError("AA:BB"), context="c", identifier="Polar H10 1A2B3C4D"
        )
        assert isinstance(named, DeviceNotFoundError)
        assert named.identifier == "Polar H10 1A2B3C4D"
        assert "Polar H10 1A2B3C4D" in named.user_message

    @pytest.mark.parametrize("code", [0x05, 0x08, 0x0C, 0x0F])
    def test_insufficient_security_means_pairing(self, code: int) -> None:
        err = translate_error(BleakGATTProtocolError(code), context="starting ECG")
        assert isinstance(err, PairingRequiredError)
        assert "paired" in err.user_message and _plain(err.user_message)

    def test_other_gatt_errors_are_device_errors(self) -> None:
        err = translate_error(BleakGATTProtocolError(0x03), context="writing a command")
        assert type(err) is DeviceError
        assert "writing a command" in err.user_message and _plain(err.user_message)
        assert "Write Not Permitted" in str(err)  # the developer detail keeps bleak's words

    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("org.freedesktop.DBus.Error.AccessDenied", U.PERMISSION_DENIED),
            ("org.bluez.Error.NotReady", U.POWERED_OFF),
            ("org.freedesktop.DBus.Error.ServiceUnknown", U.NO_STACK),
            # BlueZ installed but its daemon not running (issue 8).
            ("org.freedesktop.DBus.Error.Spawn.ChildExited", U.NO_STACK),
        ],
    )
    def test_bluez_dbus_errors(self, name: str, expected: BluetoothUnavailableReason) -> None:
        err = translate_error(BleakDBusError(name, ["details"]), context="c")
        assert isinstance(err, BluetoothUnavailableError)
        assert err.reason is expected

    def test_bluez_busy_and_authentication_errors(self) -> None:
        busy = translate_error(BleakDBusError("org.bluez.Error.InProgress", []), context="c")
        assert isinstance(busy, DeviceBusyError) and _plain(busy.user_message)
        auth = translate_error(
            BleakDBusError("org.bluez.Error.AuthenticationFailed", []), context="c"
        )
        assert isinstance(auth, PairingRequiredError)

    def test_timeouts_mean_the_strap_did_not_answer(self) -> None:
        err = translate_error(TimeoutError(), context="connecting to the strap")
        assert isinstance(err, ConnectionLostError)
        assert "connecting to the strap" in err.user_message and _plain(err.user_message)

    @pytest.mark.parametrize(
        "exc",
        [
            BleakError("Not connected"),
            BleakCharacteristicNotFoundError("2a37"),
            BleakDBusError("org.bluez.Error.Failed", ["le-connection-abort-by-local"]),
            NotImplementedError("pairing is not available on this platform"),
            OSError(errno.EIO, "I/O error"),
        ],
    )
    def test_anything_else_is_a_device_error_with_a_plain_message(self, exc: BaseException) -> None:
        err = translate_error(exc, context="reading the battery level")
        assert isinstance(err, DeviceError)
        assert _plain(err.user_message)
        assert type(exc).__name__ in str(err)


class TestSettings:
    def test_backoff_doubles_up_to_the_cap(self) -> None:
        policy = ReconnectPolicy()
        assert [policy.backoff_s(k) for k in range(1, 9)] == [1, 2, 4, 8, 16, 30, 30, 30]
        custom = ReconnectPolicy(backoff_initial_s=0.5, backoff_max_s=3.0)
        assert [custom.backoff_s(k) for k in range(1, 5)] == [0.5, 1.0, 2.0, 3.0]

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"watchdog_s": 0},
            {"watchdog_s": -1.0},
            {"backoff_initial_s": math.nan},
            {"backoff_max_s": math.inf},
            {"give_up_after_s": 0.0},
            {"backoff_initial_s": 10.0, "backoff_max_s": 5.0},
            {"watchdog_s": True},
        ],
    )
    def test_reconnect_policy_rejects_nonsense(self, kwargs: dict[str, float]) -> None:
        with pytest.raises(ConfigError):
            ReconnectPolicy(**kwargs)

    def test_timeouts_must_be_positive(self) -> None:
        with pytest.raises(ConfigError, match="scan_s"):
            BleTimeouts(scan_s=0)
        assert BleTimeouts(connect_s=5).connect_s == 5

    @pytest.mark.parametrize("size", [0, -3, 1.5, True])
    def test_queue_size_must_be_a_positive_integer(self, size: object) -> None:
        with pytest.raises(ConfigError, match="queue_size"):
            BleStrap(queue_size=size)  # type: ignore[arg-type]

    async def test_iterating_before_opening_is_a_programming_error(self) -> None:
        with pytest.raises(RuntimeError, match="async with"):
            await BleStrap().__anext__()


class TestFaultPlan:
    def _parse(self, spec: str) -> object:
        return FaultPlan.parse(spec)

    def test_parses_every_key_and_unit(self) -> None:
        plan = FaultPlan.parse(
            "disconnect-every=15s, stall-every=1m,stall-for=500ms,"
            "sensor-stop-every=2min,offline-for=3,malformed-every=0.5s"
        )
        assert plan == FaultPlan(
            disconnect_every_s=15.0,
            stall_every_s=60.0,
            stall_for_s=0.5,
            sensor_stop_every_s=120.0,
            offline_for_s=3.0,
            malformed_every_s=0.5,
        )
        assert not plan.empty

    @pytest.mark.parametrize("spec", ["", " ", ",,"])
    def test_empty_spec_means_no_faults(self, spec: str) -> None:
        plan = FaultPlan.parse(spec)
        assert plan == FaultPlan() and plan.empty

    @pytest.mark.parametrize(
        ("spec", "message"),
        [
            ("explode-every=3s", "unknown fault 'explode-every'; valid faults: disconnect-every"),
            ("disconnect-every", "has no '='"),
            ("disconnect-every=soon", "'soon' is not a duration"),
            ("disconnect-every=-3s", "is not a duration"),
            ("disconnect-every=0s", "must be positive"),
            ("disconnect-every=3h", "is not a duration"),
            ("stall-every=4s,stall-every=5s", "given twice"),
        ],
    )
    def test_bad_specs_say_what_is_wrong(self, spec: str, message: str) -> None:
        with pytest.raises(ConfigError, match=re.escape(message)):
            self._parse(spec)

    def test_direct_construction_is_validated(self) -> None:
        with pytest.raises(ConfigError):
            FaultPlan(disconnect_every_s=0.0)
        with pytest.raises(ConfigError):
            FaultPlan(offline_for_s=-1.0)
        assert FaultPlan(offline_for_s=0.0).empty


def test_emulated_straps_without_the_extra_fail_with_a_clear_config_error() -> None:
    """Without bumble, importing the emulated straps names the extra to install."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'bumble':\n"
        "            raise ImportError('No module named bumble')\n"
        "sys.meta_path.insert(0, Block())\n"
        "from pet_biofeedback.errors import ConfigError\n"
        "try:\n"
        "    import pet_biofeedback.firmware_bridge.emulated\n"
        "except ConfigError as exc:\n"
        "    print(exc.user_message)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'pet-biofeedback[emulated]'" in result.stdout


def _run_blocking(library: str, body: str) -> subprocess.CompletedProcess[str]:
    """Run `body` in a fresh interpreter in which importing `library` fails."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] == {library!r}:\n"
        f"            raise ImportError('No module named {library}')\n"
        "sys.meta_path.insert(0, Block())\n" + body
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_error_messages_need_no_bleak() -> None:
    """Code that only needs the translated messages does not load the Bluetooth stack."""
    result = _run_blocking(
        "bleak",
        "from pet_biofeedback.firmware_bridge.ble_errors import translate_error\n"
        "err = translate_error(FileNotFoundError(2, 'x'), context='scanning for straps')\n"
        "print(type(err).__name__, err.reason.value)\n"
        "print('bleak' in sys.modules)\n",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["BluetoothUnavailableError", "no_stack", "False"]


def test_every_bleak_reason_has_ours() -> None:
    """The reasons are matched by member name (no bleak import): a new one must be added."""
    assert {r.name for r in BleakBluetoothNotAvailableReason} == set(NOT_AVAILABLE_REASONS)


def test_fault_plans_parse_without_the_emulated_extra() -> None:
    """``--faults`` can be checked without Bumble: the harness does not import it."""
    result = _run_blocking(
        "bumble",
        "from pet_biofeedback.firmware_bridge.emulated_harness import FaultPlan\n"
        "print(FaultPlan.parse('disconnect-every=15s').disconnect_every_s)\n",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "15.0"
