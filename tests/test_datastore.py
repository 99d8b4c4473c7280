"""socialvalue.Store (socialvalue.datastore): the leaf store plus ingest, erase and info; the leaf stays a leaf."""

from __future__ import annotations

import doctest

import pandas as pd
import pyarrow as pa

import socialvalue
from socialvalue import datastore
from socialvalue import store as leaf
from socialvalue.datasets import ingest_tables
from socialvalue.demo import generate


def test_the_public_store_is_the_datastore_over_the_leaf(tmp_path):
    assert socialvalue.Store is datastore.Store
    assert issubclass(datastore.Store, leaf.Store)
    for method in ("ingest", "erase", "info"):
        assert hasattr(datastore.Store, method) and not hasattr(leaf.Store, method)
    with socialvalue.Store(tmp_path / "s.duckdb") as s:
        assert type(s) is datastore.Store  # ``with`` hands back the subclass


def test_methods_delegate_to_the_functions(tmp_path):
    with socialvalue.Store(tmp_path / "s.duckdb") as s:
        report = s.ingest("customers", pd.DataFrame({"customer_id": ["a", "b"]}))
        assert (report.rows_in, report.inserted) == (2, 2)
        orders = pd.DataFrame(
            {"order_id": ["o1"], "customer_id": ["a"], "ordered_at": ["2024-03-01 10:00"], "amount": ["12.5"]}
        )
        assert s.ingest("orders", orders, on_missing_customer="stub").inserted == 1
        info = s.info()
        assert info["customers"].rows == 2 and info["orders"].rows == 1
        erased = s.erase("a")
        assert erased.rows_removed == 2 and erased.tables == {"customers": 1, "orders": 1}
        assert s.table_counts()["customers"] == 1


def test_library_loaders_accept_the_leaf_store(tmp_path):
    """``ingest_tables`` and ``DemoData.load_into`` call the ingest function, so a leaf store does."""
    with leaf.Store(tmp_path / "leaf.duckdb") as s:
        reports = ingest_tables(s, {"customers": pa.table({"customer_id": ["x", "y"]})})
        assert reports["customers"].inserted == 2
    with leaf.Store(tmp_path / "demo.duckdb") as s:
        loaded = generate(300, seed=1).load_into(s)
        assert set(loaded) == {"customers", "orders", "interactions", "relationships", "content"}
        assert s.table_counts()["customers"] == loaded["customers"].inserted > 0


def test_docstring_examples_run():
    for module in (datastore, leaf):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, raise_on_error=False, verbose=False)
        assert result.attempted >= 2 and result.failed == 0, f"{module.__name__}: {result}"
