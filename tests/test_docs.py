"""The documentation's code runs: docs/migrating-from-lifetimes.md as doctests, and the notebook example."""

from __future__ import annotations

import doctest
import runpy
import sys

import pytest

from .conftest import REPO


def test_migrating_from_lifetimes_doctests():
    result = doctest.testfile(
        str(REPO / "docs" / "migrating-from-lifetimes.md"),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        raise_on_error=False,
        verbose=False,
    )
    assert result.attempted >= 20
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctest examples failed (see output)"


@pytest.mark.slow
def test_notebook_quickstart_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["notebook_quickstart.py", str(tmp_path)])
    ns = runpy.run_path(str(REPO / "examples" / "notebook_quickstart.py"), run_name="__main__")
    summary, clv = ns["summary"], ns["clv"]
    assert len(summary) == 2357 and len(clv) == 2357
    assert clv.notna().all() and (clv >= 0).all()
    # the figures were written and carry their data
    written = sorted(p.name for p in tmp_path.glob("*.html"))
    assert written == sorted(f"{name}.html" for name in ns["figures"])
    assert len(written) >= 5
