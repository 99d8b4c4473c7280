"""One pipeline run on the 20,000-customer demo data set (the `make demo` default), shared by the tests."""

from __future__ import annotations

import pytest

from socialvalue import Store
from socialvalue.demo import generate
from socialvalue.pipeline import RunConfig, run_pipeline

AS_OF = "2026-07-01"


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """Generate the demo (20k customers, seed 7), load it, run the whole pipeline with a report."""
    root = tmp_path_factory.mktemp("demo_run")
    data = generate(20_000, seed=7)
    store = Store(root / "socialvalue.duckdb")
    data.load_into(store)
    result = run_pipeline(store, AS_OF, RunConfig(), report=root / "report.html")
    yield {"root": root, "store": store, "result": result, "data": data}
    store.close()
