"""The Spark engine (issue 18, part 2): the shared feature SQL on real Spark equals the DuckDB engine's.

The golden tests compute the whole feature table, at an ``as_of`` with a holdout, on DuckDB (a store loaded
with ``Store.ingest``) and on Spark (the same Parquet files through ``socialvalue.spark.input``), and compare
every column: same names, types, rows and values. Every value is equal bit for bit except ``ipt_cv``, within
1e-12 relative: it divides ``STDDEV_SAMP`` of the gaps between purchase days, and the two engines compute a
sample variance with different streaming algorithms (DuckDB updates one running mean and sum of squares row
by row; Spark merges partial central moments of its tasks), which round differently in the last bits. Sums
of money are DECIMAL (exact) on both; averages of integers (``ipt_mean_days``) are exact on both.

The other shared definitions the pipeline runs (the social inputs, the repeat-purchase tracking) give the
same rows on both engines too (as sets where the definition asks no order), equal except one column summed as
doubles (``audience_spend_365d``, within 1e-12: the additions run in a different order).

The data: the demo shop (``socialvalue.demo.generate``, 1,500 customers, seed 7, the five tables) and the
real CDNOW purchase log (all 23,570 customers, read from ``../shared/data/cdnow`` through the
``shared_data`` fixture, see its SOURCE.md).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from socialvalue import Store
from socialvalue.datasets import cdnow
from socialvalue.demo import DEFAULT_END, generate
from socialvalue.engine import DuckDBEngine, feature_table
from socialvalue.errors import ConfigError
from socialvalue.features import Query, tracking
from socialvalue.features import social_inputs as si
from socialvalue.features.registry import registry
from socialvalue.schema import KINDS
from socialvalue.spark.engine import SparkEngine
from socialvalue.spark.input import read_tables

from .conftest import write_tables

#: Columns equal only to 1e-12 relative, and why (see the module docstring).
ROUNDING = {"ipt_cv": "STDDEV_SAMP: a different streaming variance algorithm on each engine"}


def assert_same_table(spark_table: pa.Table, duck_table: pa.Table) -> None:
    """Same column names and Arrow types, same rows in the same order, every value equal (ROUNDING aside)."""
    assert spark_table.schema == duck_table.schema
    assert spark_table.num_rows == duck_table.num_rows
    assert spark_table.column("customer_id").equals(duck_table.column("customer_id"))
    for name in duck_table.column_names:
        ours, theirs = spark_table.column(name), duck_table.column(name)
        if name not in ROUNDING:
            assert ours.equals(theirs), f"column {name} differs"
            continue
        assert ours.is_null().equals(theirs.is_null()), f"column {name}: NULLs differ"
        a = ours.to_numpy(zero_copy_only=False).astype(float)
        b = theirs.to_numpy(zero_copy_only=False).astype(float)
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0, equal_nan=True, err_msg=name)


def _store(path, folder) -> Store:
    store = Store(path)
    for kind in KINDS:
        if (folder / f"{kind}.parquet").exists():
            store.ingest(kind, folder / f"{kind}.parquet")
    return store


@pytest.fixture(scope="module")
def demo(spark, tmp_path_factory):
    """The demo shop as Parquet, loaded into a DuckDB store and read by Spark: (store, Spark engine)."""
    root = tmp_path_factory.mktemp("demo")
    folder = write_tables(root / "input", generate(n_customers=1_500, seed=7).tables)
    store = _store(root / "store.duckdb", folder)
    engine = SparkEngine(spark, read_tables(spark, folder))
    yield store, engine
    engine.release()
    store.close()


@pytest.fixture(scope="module")
def cdnow_master(spark, shared_data, tmp_path_factory):
    """The whole CDNOW log (../shared/data/cdnow/CDNOW_master.txt) in a store and in Spark."""
    root = tmp_path_factory.mktemp("cdnow")
    tables = cdnow.load_transactions(shared_data / "cdnow" / "CDNOW_master.txt", sample=False)
    folder = write_tables(root / "input", tables)
    store = _store(root / "store.duckdb", folder)
    engine = SparkEngine(spark, read_tables(spark, folder))
    yield store, engine
    engine.release()
    store.close()


@pytest.mark.parametrize(
    ("as_of", "unit", "holdout_end"),
    [("2026-01-01", "W", DEFAULT_END), ("2025-09-15 12:30", "D", None)],
    ids=["weeks-with-holdout", "days-at-noon"],
)
def test_demo_features_equal_duckdb(demo, as_of, unit, holdout_end):
    store, engine = demo
    ours = feature_table(engine, as_of, unit, holdout_end=holdout_end)
    theirs = feature_table(store, as_of, unit, holdout_end=holdout_end)
    assert ours.num_rows > 500 and ours.num_columns == len(registry(holdout=holdout_end is not None)) + 1
    assert_same_table(ours, theirs)
    # the data exercise what is compared: buyers, returns, social ties, content, holdout activity
    for name in ("frequency", "n_returns", "followers", "friends", "referrals_made", "content_total"):
        assert sum(v or 0 for v in ours.column(name).to_pylist()) > 0, name
    if holdout_end is not None:
        assert any(ours.column("holdout_active").to_pylist())


def test_demo_feature_columns_equal_duckdb(demo):
    store, engine = demo
    columns = ["T", "frequency", "spend_90d", "followers", "holdout_network_revenue"]
    ours = feature_table(engine, "2026-01-01", holdout_end=DEFAULT_END, columns=columns)
    theirs = feature_table(store, "2026-01-01", holdout_end=DEFAULT_END, columns=columns)
    assert ours.column_names == ["customer_id", *columns]
    assert_same_table(ours, theirs)


@pytest.mark.shared_data
def test_cdnow_features_equal_duckdb(cdnow_master):
    """The papers' calibration period (to 1997-09-30) and holdout (to 1998-06-30), in weeks."""
    store, engine = cdnow_master
    ours = feature_table(engine, "1997-10-01", "W", holdout_end="1998-07-01")
    theirs = feature_table(store, "1997-10-01", "W", holdout_end="1998-07-01")
    assert ours.num_rows == 23_570
    assert_same_table(ours, theirs)
    # Fader, Hardie & Lee (2005): T of a customer who first bought on 1997-01-01 is 272/7 weeks
    first = ours.filter(
        pa.compute.equal(ours.column("first_purchase_at"), pa.scalar(dt.datetime(1997, 1, 1)))
    )
    assert first.num_rows > 0 and set(first.column("T").to_pylist()) == {272 / 7}


# -- the engine's methods, against DuckDBEngine's on the same data --------------------------------------------

#: A customer's interaction, one at an id that is not a customer and one at nobody (the brand).
EDGES = Query(
    "SELECT * FROM (VALUES ('C0000002', 'C0000000', 3), ('C0000000', 'zz', 1), ('C0000001', NULL, 2)) "
    "t(src, dst, w)",
    id_columns=("src", "dst"),
    order="w",
)


def test_codes_replace_ids_as_duckdb_does(demo):
    store, engine = demo
    duck = DuckDBEngine(store)
    assert list(engine.codes.values) == list(duck.codes.values)
    for columns in (None, ["dst", "w"], ["w", "src"]):
        assert_plain_equal(engine.table(EDGES, columns, codes=True), duck.table(EDGES, columns, codes=True))
        assert_plain_equal(engine.table(EDGES, columns), duck.table(EDGES, columns))
    frame, expected = engine.frame(EDGES, codes=True), duck.frame(EDGES, codes=True)
    assert frame.dtypes.to_dict() == expected.dtypes.to_dict()
    assert frame.equals(expected)


def assert_plain_equal(ours: pa.Table, theirs: pa.Table) -> None:
    assert ours.schema == theirs.schema and ours.equals(theirs)


def test_parameters_are_bound_not_pasted(demo):
    store, engine = demo
    duck = DuckDBEngine(store)
    by_position = Query(
        "SELECT customer_id, count(*) AS n FROM orders WHERE ordered_at < ? AND status = ? GROUP BY customer_id",
        (dt.datetime(2025, 1, 1), "completed"),
        order="customer_id",
    )
    assert_plain_equal(engine.table(by_position), duck.table(by_position))
    hostile = {"id": "C0000001' OR '1'='1"}
    by_name = Query("SELECT customer_id FROM customers WHERE customer_id = $id", hostile)
    assert engine.table(by_name).num_rows == 0 == duck.table(by_name).num_rows
    named = Query("SELECT count(*) FROM orders WHERE amount > $least", {"least": 50})
    assert engine.scalar(named) == duck.scalar(named) > 0
    assert engine.scalar(Query("SELECT 1 WHERE false")) is None


def test_batches_and_scalar(demo):
    _, engine = demo
    query = Query("SELECT customer_id, signup_at FROM customers", order="customer_id")
    sizes = [b.num_rows for b in engine.batches(query, ["customer_id"], batch_size=400)]
    assert sizes == [400, 400, 400, 300]
    assert engine.scalar(Query("SELECT count(*) FROM customers")) == 1_500
    with pytest.raises(ConfigError, match="batch_size"):
        engine.batches(query, batch_size=0)


def test_two_engines_in_one_session_see_their_own_tables(spark, demo, tmp_path):
    _, engine = demo
    folder = write_tables(
        tmp_path, {"customers": pa.table({"customer_id": ["x", "y"], "signup_at": [None, None]})}
    )
    small = SparkEngine(spark, read_tables(spark, folder))
    count = Query("SELECT count(*) FROM customers")
    assert small.scalar(count) == 2 and engine.scalar(count) == 1_500
    small.release()
    assert engine.scalar(count) == 1_500
    with pytest.raises(ConfigError, match="needs the tables"):
        SparkEngine(spark, {"customers": read_tables(spark, folder)["customers"]})


# -- the other shared definitions the pipeline runs (social inputs, tracking) ---------------------------------

AS_OF, START = "2026-01-01", "2025-01-01"
SOCIAL = {
    "customer_ids": lambda: si.customer_ids_query(),
    "consented_customers": lambda: si.consented_customers_query(),
    "signup_dates": lambda: si.signup_dates_query(),
    "referrals": lambda: si.referrals_query(AS_OF),  # QUALIFY: SQLGlot writes it as a filtered subquery
    "referred_orders": lambda: si.referred_orders_query(AS_OF),
    "signups": lambda: si.signups_query(AS_OF),
    "exposures": lambda: si.exposures_query(AS_OF, start=START),  # list parameters, GROUP BY ALL
    "purchases": lambda: si.purchases_query(AS_OF, start=START),
    "interactions": lambda: si.interactions_query(AS_OF),
    "interaction_counts": lambda: si.interaction_counts_query(AS_OF),
    "content": lambda: si.content_query(AS_OF),
    "content_actions": lambda: si.content_actions_query(AS_OF),
    "loyalty": lambda: si.loyalty_query(AS_OF),
    "audience_activity": lambda: si.audience_activity_query(AS_OF),
    "graph_edges": lambda: si.graph_edges_query(AS_OF),
    "graph_edges_of_kinds": lambda: si.graph_edges_query(AS_OF, interaction_kinds=["like", "comment"]),
    "repeat_days": lambda: tracking.repeat_days_query("2025-06-01", AS_OF),
}
#: Columns summed as doubles in the definition: the order of the additions differs between the engines.
DOUBLE_SUMS = {"audience_activity": ["audience_spend_365d"]}


@pytest.mark.parametrize("name", list(SOCIAL))
def test_social_input_definitions_equal_duckdb(demo, name):
    store, engine = demo
    query = SOCIAL[name]()
    ours, theirs = engine.table(query), DuckDBEngine(store).table(query)
    assert ours.schema == theirs.schema and ours.num_rows == theirs.num_rows > 0
    if not query.order:  # no order asked: compare as sets of rows
        ours, theirs = (t.sort_by([(c, "ascending") for c in t.column_names]) for t in (ours, theirs))
    for column in ours.column_names:
        a, b = ours.column(column), theirs.column(column)
        if column in DOUBLE_SUMS.get(name, ()):
            np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-12, atol=0)
        else:
            assert a.equals(b), column
