"""Offline, every real-data test skips locally and fails in CI, each time (issue #9).

Module-scoped fixtures used to turn the first test's download failure into a skip and every later
test's into an ERROR: pytest re-raises a fixture's cached exception without running the hook that
converts it. This runs a small suite through the real ``conftest.py`` in a fresh pytest.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

_HERE = Path(__file__).resolve().parent

_SUITE = """
import pytest
from .reference import ReferenceDataUnavailable


@pytest.fixture(scope="module")
def recording():
    raise ReferenceDataUnavailable("pkg", "https://example.invalid/pkg", "no network")


@pytest.fixture
def per_test():
    raise ReferenceDataUnavailable("pkg", "https://example.invalid/pkg", "no network")


def test_one(recording):
    pass


def test_two(recording):
    pass


def test_three(recording):
    pass


def test_function_fixture(per_test):
    pass


def test_body():
    raise ReferenceDataUnavailable("pkg", "https://example.invalid/pkg", "no network")
"""


def _suite(pytester: pytest.Pytester) -> None:
    package = pytester.path / "offline_suite"
    package.mkdir()
    (package / "__init__.py").touch()
    shutil.copy2(_HERE / "conftest.py", package / "conftest.py")
    shutil.copy2(_HERE / "reference.py", package / "reference.py")
    (package / "test_offline.py").write_text(_SUITE, encoding="utf-8")


def test_offline_runs_skip_every_test_locally(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    _suite(pytester)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(skipped=5)
    result.stdout.fnmatch_lines(["SKIPPED*no network*"])


def test_offline_runs_fail_every_test_in_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    _suite(pytester)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    outcomes = result.parseoutcomes()
    assert outcomes.get("skipped", 0) == 0, result.stdout.str()
    assert outcomes.get("failed", 0) + outcomes.get("errors", 0) == 5, result.stdout.str()
