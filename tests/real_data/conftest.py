"""Real-data tests: mark them, and turn download failures into CI failures / local skips.

* Every test collected under ``tests/real_data/`` gets ``pytest.mark.real_data`` (deselect offline
  with ``-m "not real_data"``).
* `ReferenceDataUnavailable` escaping a test body or a fixture becomes ``pytest.fail`` when ``CI``
  is set and ``pytest.skip`` otherwise, with package, URL and reason (reference-data.md §7.4).
  Tests may therefore call the loaders of ``reference.py`` directly. A hash mismatch
  (`ReferenceDataCorrupt`) is never converted: it always fails.
* A module-scoped fixture that failed is not set up again: pytest re-raises its cached
  exception for every later test without calling ``pytest_fixture_setup``, so
  ``pytest_runtest_makereport`` converts those reports the same way (they were ERRORs, #9).
* ``reference_file`` is a factory fixture: ``reference_file("nsrdb_short") -> Path``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest

from .reference import (
    ReferenceDataUnavailable,
    ci_requested,
    fetch,
    report_unavailable,
    unavailable_message,
)

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if Path(item.path).resolve().is_relative_to(_HERE):
            item.add_marker(pytest.mark.real_data)


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, Any, Any]:
    try:
        return (yield)
    except ReferenceDataUnavailable as exc:
        error = exc
    report_unavailable(error)  # outside the except: no chained traceback in the report


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, Any, Any]:
    try:
        return (yield)
    except ReferenceDataUnavailable as exc:
        error = exc
    report_unavailable(error)  # outside the except: no chained traceback in the report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    excinfo = call.excinfo
    if excinfo is None or not excinfo.errisinstance(ReferenceDataUnavailable):
        return report
    message = unavailable_message(excinfo.value)
    if ci_requested():
        report.outcome = "failed"
        report.longrepr = message
    else:
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {message}")
    return report


@pytest.fixture
def reference_file() -> Callable[[str], Path]:
    """Factory: verified cached path of a reference member (see ``reference.REFERENCE_MEMBERS``)."""

    def _get(key: str) -> Path:
        try:
            return fetch(key)
        except ReferenceDataUnavailable as exc:
            error = exc
        report_unavailable(error)

    return _get
