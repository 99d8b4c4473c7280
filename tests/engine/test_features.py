"""Feature tables computed by the engine (issue 16): ``feature_table`` is ``build``'s table, column by column.

``feature_table`` returns what ``build(..., materialize=False, as_arrow=True)`` returned before the engine
seam (the pipeline's feature stage reads it), and the table ``build`` materializes: same rows, columns, types
and values. With ``columns`` it computes only the sources those columns need and keeps the rows of the whole
table, also when customers without a signup time are rows only through a source left out.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from socialvalue import Store
from socialvalue.demo import generate
from socialvalue.engine import DuckDBEngine, build, feature_table
from socialvalue.errors import ConfigError
from socialvalue.features import GROUPS, FeatureConfig, TimeFrame, compose, feature_query, registry

from .conftest import insert

AS_OF, HOLDOUT_END = "2026-01-01", "2026-07-01"
#: Column sets like the pipeline stages read: the BTYD inputs, RFM, social, and a holdout target.
STAGE_COLUMNS = [
    ["frequency", "recency", "T", "monetary_value", "n_periods"],
    ["days_since_last_purchase", "n_orders", "spend_365d", "tenure_days", "signup_at"],
    ["int_given_30d", "followers", "distinct_partners_365d", "content_post", "referred_revenue"],
    ["T", "holdout_transactions", "holdout_duration", "holdout_active"],
    [],
]


@pytest.fixture(scope="module")
def demo():
    with Store(":memory:") as store:
        generate(5000, seed=7).load_into(store)
        yield store


@pytest.fixture
def unsigned(store):
    """Customers without a signup time, each a row through one source only: an order, an interaction, a
    follow, content; and one with nothing (not a row)."""
    insert(
        store,
        "customers",
        [
            {"customer_id": "a", "signup_at": "2024-01-01"},
            {"customer_id": "buyer"},
            {"customer_id": "talker"},
            {"customer_id": "fan"},
            {"customer_id": "author"},
            {"customer_id": "ghost"},
        ],
    )
    insert(
        store, "orders", [{"order_id": "1", "customer_id": "buyer", "ordered_at": "2024-02-01", "amount": 10}]
    )
    insert(
        store,
        "interactions",
        [{"event_id": "i1", "actor_id": "talker", "kind": "like", "occurred_at": "2024-03-01"}],
    )
    insert(store, "relationships", [{"src_id": "fan", "dst_id": "a", "kind": "follow"}])
    insert(
        store,
        "content",
        [{"content_id": "c1", "author_id": "author", "kind": "post", "created_at": "2024-04-01"}],
    )
    return store


def _holdout(columns):
    return any(c.startswith("holdout_") for c in columns)


def test_feature_table_is_the_materialized_table(demo, tmp_path):
    with Store(tmp_path / "copy.duckdb") as copy:
        generate(5000, seed=7).load_into(copy)
        for unit, holdout_end in [("W", None), ("D", HOLDOUT_END)]:
            stored = build(copy, AS_OF, unit, holdout_end=holdout_end, as_arrow=True, table="f")
            computed = feature_table(demo, AS_OF, unit, holdout_end=holdout_end)
            assert computed.num_rows == 3234 and computed.num_columns == (137 if holdout_end else 131)
            assert computed.equals(stored)
            assert build(demo, AS_OF, unit, holdout_end=holdout_end, materialize=False, as_arrow=True).equals(
                computed
            )


@pytest.mark.parametrize("columns", STAGE_COLUMNS)
def test_columns_are_the_whole_tables_columns(demo, columns):
    holdout_end = HOLDOUT_END if _holdout(columns) else None
    full = feature_table(demo, AS_OF, holdout_end=holdout_end)
    part = feature_table(demo, AS_OF, holdout_end=holdout_end, columns=columns)
    assert part.column_names == ["customer_id", *columns]
    assert part.equals(full.select(["customer_id", *columns]))


def test_every_column_alone_keeps_the_rows_of_customers_without_signup(unsigned):
    engine = DuckDBEngine(unsigned)
    full = feature_table(engine, "2024-07-01", holdout_end="2024-10-01")
    assert full.column("customer_id").to_pylist() == ["a", "author", "buyer", "fan", "talker"]
    for name in full.column_names[1:]:
        part = feature_table(engine, "2024-07-01", holdout_end="2024-10-01", columns=[name])
        assert part.equals(full.select(["customer_id", name])), name


def test_columns_prune_the_sources():
    frame = TimeFrame.resolve(AS_OF, "W")
    btyd = feature_query(frame, columns=["frequency", "T"], unsigned=False).sql
    assert "src_purchases" in btyd and "src_given" not in btyd and "present" not in btyd
    assert "src_orders" not in btyd and "interactions" not in btyd
    # customers without a signup time: the sources left out are read for presence only (no aggregates)
    kept = feature_query(frame, columns=["frequency", "T"]).sql
    assert "src_given" not in kept and "present AS" in kept and "interactions" in kept
    assert feature_query(frame).sql == feature_query(frame, columns=None, unsigned=False).sql


def test_columns_order_and_customer_id(demo):
    tbl = feature_table(demo, AS_OF, columns=["T", "customer_id", "frequency"])
    assert tbl.column_names == ["customer_id", "T", "frequency"]
    ids = tbl.column("customer_id").to_pylist()
    assert ids == sorted(ids)


def test_columns_with_select_and_config(unsigned):
    cfg = FeatureConfig(interaction_kinds=("like",), interaction_windows_days=(7,))
    full = feature_table(unsigned, "2024-07-01", config=cfg, select=["btyd", "social"])
    part = feature_table(
        unsigned, "2024-07-01", config=cfg, select=["btyd", "social"], columns=["int_given_like_7d"]
    )
    assert part.equals(full.select(["customer_id", "int_given_like_7d"]))
    with pytest.raises(ConfigError, match="no feature column 'tenure_days'"):
        feature_table(unsigned, "2024-07-01", select=["btyd"], columns=["tenure_days"])


@pytest.mark.parametrize(
    "columns, match",
    [
        (["nope"], "no feature column 'nope'"),
        (["btyd"], "no feature column 'btyd'"),  # a group is not a column
        (["holdout_transactions"], "need a holdout_end"),
        (['T"; DROP TABLE customers; --'], "no feature column"),
        (["T", "T"], "twice"),
        ("T", "list of column names"),
    ],
)
def test_bad_columns_are_refused(store, columns, match):
    with pytest.raises(ConfigError, match=match):
        feature_table(store, AS_OF, columns=columns)
    assert store.has_table("customers")


def test_empty_store_and_types(store):
    tbl = feature_table(store, AS_OF, columns=["monetary_value", "tenure_days"])
    assert tbl.num_rows == 0
    assert tbl.schema.field("monetary_value").type == pa.float64()
    assert tbl.schema == feature_table(store, AS_OF).select(tbl.column_names).schema


def test_select_subset_of_features(store):
    insert(store, "customers", [{"customer_id": "a", "signup_at": "2024-01-01"}])
    insert(store, "orders", [{"order_id": "1", "customer_id": "a", "ordered_at": "2024-03-01", "amount": 10}])
    df = build(store, as_of="2024-07-01", select=["btyd", "tenure_days"], materialize=False)
    btyd = [f.name for f in registry() if f.group == "btyd"]
    assert list(df.columns) == ["customer_id", *btyd, "tenure_days"]
    assert df.loc[0, "tenure_days"] == 182
    with pytest.raises(ConfigError, match="unknown features or groups: nope"):
        build(store, as_of="2024-07-01", select=["nope"], materialize=False)


def test_population_of_groups_is_the_whole_table():
    assert compose(select=list(GROUPS)) == compose()
