"""Shared fixtures. In CI (CI=true) a skipped test is a failure: nothing may silently not run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"
SHARED_DATA = REPO.parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which is not allowed: {report.longrepr}"


@pytest.fixture
def store(tmp_path):
    """A fresh store in a real DuckDB file."""
    from socialvalue import Store

    s = Store(tmp_path / "store.duckdb")
    yield s
    s.close()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ../shared/data (real public data sets); skipped locally when absent, a failure in CI."""
    if not SHARED_DATA.exists():
        pytest.skip(f"{SHARED_DATA} not present")
    return SHARED_DATA
