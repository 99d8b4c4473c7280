"""The DuckDB engine (issue 16): columns asked for, id codes, row order, record batches, hostile names."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from socialvalue.engine import DuckDBEngine
from socialvalue.errors import ConfigError
from socialvalue.features import Query

from .conftest import insert

#: Interactions: a customer's, one at an id that is not a customer, one at nobody (the brand).
EDGES = Query(
    "SELECT * FROM (VALUES ('c', 'a', 3), ('a', 'zz-not-a-customer', 1), ('b', NULL, 2)) t(src, dst, w)",
    id_columns=("src", "dst"),
    order="w",
)


@pytest.fixture
def shop(store):
    insert(store, "customers", [{"customer_id": c} for c in ("c", "a", "b")])
    return store


def test_columns_only_and_in_the_order_asked(shop):
    engine = DuckDBEngine(shop)
    tbl = engine.table(EDGES, ["w", "src"])
    assert tbl.column_names == ["w", "src"]
    assert tbl.column("w").to_pylist() == [1, 2, 3]  # the query's order
    assert engine.table(EDGES).column_names == ["src", "dst", "w"]
    frame = engine.frame(EDGES, ["dst"])
    assert list(frame.columns) == ["dst"] and frame["dst"].iloc[0] == "zz-not-a-customer"


def test_codes_replace_ids_and_unknown_ids_are_nan(shop):
    engine = DuckDBEngine(shop)
    assert list(engine.codes.values) == ["a", "b", "c"]  # customer_id order
    tbl = engine.table(EDGES, codes=True)
    assert tbl.column_names == ["src", "dst", "w"]
    src = tbl.column("src").to_numpy(zero_copy_only=False)
    dst = tbl.column("dst").to_numpy(zero_copy_only=False)
    np.testing.assert_array_equal(src, [0.0, 1.0, 2.0])  # a, b, c in w order
    assert np.isnan(dst[0]) and np.isnan(dst[1]) and dst[2] == 0.0  # unknown id, NULL target, then 'a'
    assert engine.codes.decode(src).tolist() == ["a", "b", "c"]
    frame = engine.frame(EDGES, ["dst", "w"], codes=True)
    assert list(frame.columns) == ["dst", "w"] and frame["dst"].isna().sum() == 2
    # the codes view is gone after the call
    assert "_sv_id_codes" not in {r[0] for r in shop.con.execute("SHOW TABLES").fetchall()}


def test_order_is_applied_after_coding(shop):
    query = Query("SELECT customer_id AS id FROM customers", id_columns=("id",), order="id DESC")
    assert DuckDBEngine(shop).table(query, codes=True).column("id").to_pylist() == [2.0, 1.0, 0.0]


@pytest.mark.parametrize("batch_size", [1, 2, 3, 1000])
def test_batches_of_a_configurable_size(shop, batch_size):
    insert(shop, "customers", [{"customer_id": f"x{i:02d}"} for i in range(7)])
    query = Query("SELECT customer_id, length(customer_id) AS n FROM customers", order="customer_id")
    reader = DuckDBEngine(shop).batches(query, ["customer_id"], batch_size=batch_size)
    assert isinstance(reader, pa.RecordBatchReader)
    batches = list(reader)
    assert all(b.num_rows <= batch_size for b in batches) and sum(b.num_rows for b in batches) == 10
    assert all(b.schema.names == ["customer_id"] for b in batches)
    ids = [i for b in batches for i in b.column(0).to_pylist()]
    assert ids == sorted(ids) and len(ids) == 10
    if batch_size < 10:
        assert len(batches) == -(-10 // batch_size)


@pytest.mark.parametrize("batch_size", [0, -5])
def test_batch_size_must_be_positive(shop, batch_size):
    with pytest.raises(ConfigError, match="batch_size must be a positive number of rows"):
        DuckDBEngine(shop).batches(EDGES, batch_size=batch_size)


HOSTILE = 'w"; DROP TABLE customers; --'


@pytest.mark.parametrize("call", ["table", "batches"])
def test_hostile_column_name_is_quoted_never_run(shop, call):
    engine = DuckDBEngine(shop)
    with pytest.raises(duckdb.BinderException, match="does not have a column named"):
        getattr(engine, call)(EDGES, [HOSTILE])
    assert shop.has_table("customers") and shop.con.execute("SELECT count(*) FROM customers").fetchall() == [
        (3,)
    ]
    # a column really named so is read, quoted
    odd = Query(f'SELECT 1 AS "{HOSTILE.replace(chr(34), chr(34) * 2)}", 2 AS b')
    assert engine.table(odd, [HOSTILE]).column_names == [HOSTILE]
    assert [b.num_rows for b in engine.batches(odd, [HOSTILE], batch_size=1)] == [1]


def test_parameters_are_bound(shop):
    engine = DuckDBEngine(shop)
    by_position = Query(
        "SELECT customer_id FROM customers WHERE customer_id > ?", ("a",), order="customer_id"
    )
    assert engine.table(by_position).column(0).to_pylist() == ["b", "c"]
    by_name = Query("SELECT customer_id FROM customers WHERE customer_id = $id", {"id": "b' OR '1'='1"})
    assert engine.table(by_name).num_rows == 0
    assert engine.scalar(Query("SELECT count(*) FROM customers")) == 3
    assert engine.scalar(Query("SELECT 1 WHERE false")) is None


def test_of_reuses_an_engine(shop):
    engine = DuckDBEngine(shop)
    assert DuckDBEngine.of(engine) is engine
    assert DuckDBEngine.of(shop).store is shop and engine.con is shop.con


def test_memory_limit_is_set_for_the_engine_and_given_back(tmp_path):
    """Issue 16: a very large run caps DuckDB's memory so that it spills to disk; the store gets its own
    limit back when the engine is released."""
    from socialvalue import Store
    from socialvalue.engine import DuckDBEngine
    from socialvalue.errors import ConfigError

    with Store(tmp_path / "m.duckdb") as store:
        before = store.scalar("SELECT current_setting('memory_limit')")
        engine = DuckDBEngine(store, memory_gb=0.5)
        assert store.scalar("SELECT current_setting('memory_limit')") in (
            "488.2 MiB",
            "512.0 MiB",
            "500.0 MiB",
        )
        engine.release()
        assert store.scalar("SELECT current_setting('memory_limit')") == before
        with pytest.raises(ConfigError, match="positive number of GB"):
            DuckDBEngine(store, memory_gb=-1)
