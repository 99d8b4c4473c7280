"""Optional columns and tables (issue 19): ``interactions.duration_s`` and the ``category_spend`` table.

``duration_s`` loads like any optional number: absent is NULL, a negative, non-numeric or infinite value is
refused with the usual message. ``category_spend`` is read and validated by ``read_optional`` without being
stored: the load checks (types, empties, negative spend, currencies, unknown customers) plus its own two rules
(exactly one of customer_id and segment; unique keys with empty values equal), all problems listed together.
"""

from __future__ import annotations

import pandas as pd
import pytest

from socialvalue.errors import SchemaError
from socialvalue.ingest.optional import read_optional
from socialvalue.schema import OPTIONAL_TABLES, TABLES, optional_table


@pytest.fixture
def two_customers(store):
    store.ingest("customers", pd.DataFrame({"customer_id": ["a", "b"]}))
    return store


def _interactions(durations) -> pd.DataFrame:
    n = len(durations)
    return pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(n)],
            "actor_id": ["a"] * n,
            "kind": ["view"] * n,
            "occurred_at": ["2024-01-01 10:00"] * n,
            "duration_s": durations,
        }
    )


def test_duration_s_is_an_optional_number_of_seconds(two_customers):
    store = two_customers
    assert TABLES["interactions"].column("duration_s").sql_type == "DOUBLE"
    store.ingest("interactions", _interactions(["12.5", None, "0"]))
    got = store.query_df("SELECT event_id, duration_s FROM interactions ORDER BY event_id")
    assert got["duration_s"].tolist()[0] == 12.5 and pd.isna(got["duration_s"].iloc[1])
    store.ingest("interactions", _interactions(["1"]).drop(columns="duration_s").assign(event_id=["z"]))
    assert pd.isna(store.scalar("SELECT duration_s FROM interactions WHERE event_id = 'z'"))


def test_a_negative_or_unreadable_duration_is_refused(two_customers):
    with pytest.raises(SchemaError) as err:
        two_customers.ingest("interactions", _interactions(["-3", "abc", "inf"]))
    msg = str(err.value)
    assert "3 problems in 3 rows; nothing was loaded" in msg
    assert "row 1, column 'duration_s': got '-3'; expected a number >= 0" in msg
    assert "row 2, column 'duration_s': got 'abc'; expected a number" in msg
    assert "row 3, column 'duration_s': got 'inf'; expected a finite number" in msg
    assert two_customers.table_counts()["interactions"] == 0


def test_read_optional_returns_the_canonical_columns_and_stores_nothing(two_customers):
    store = two_customers
    before = store.tables()
    source = pd.DataFrame(
        {
            "Customer_ID": ["a", None],
            "segment": [None, "vip"],
            "category": ["books", "books"],
            "estimated_spend": ["120.50", "80"],
            "currency": ["eur", "EUR"],
            "note": ["kept out", "x"],
        }
    )
    got = read_optional(store, "category_spend", source)
    assert list(got.columns) == list(OPTIONAL_TABLES["category_spend"].column_names)
    assert got["customer_id"].tolist()[0] == "a" and pd.isna(got["customer_id"].iloc[1])
    assert got["estimated_spend"].tolist() == [120.5, 80.0] and got["currency"].tolist() == ["EUR", "EUR"]
    assert got["as_of"].isna().all()
    assert store.tables() == before and "category_spend" not in store.tables()
    # an absent currency is XXX, as for orders
    plain = read_optional(store, "category_spend", source.drop(columns=["currency"]))
    assert plain["currency"].tolist() == ["XXX", "XXX"]


def test_read_optional_lists_every_problem_at_once(two_customers, tmp_path):
    path = tmp_path / "spend.csv"
    path.write_text(
        "customer_id,segment,category,estimated_spend,currency,as_of\n"
        "a,,books,10,USD,2024-01-01\n"
        "a,vip,books,10,USD,\n"  # both a customer and a segment
        ",,books,10,USD,\n"  # neither
        "zz,,books,10,USD,\n"  # an unknown customer
        "b,,books,-1,USD,\n"  # negative spend
        "b,,music,x,US,\n"  # not a number, not a currency
        "a,,books,12,USD,2024-01-01\n",  # the same key as row 1
        encoding="utf-8",
    )
    with pytest.raises(SchemaError) as err:
        read_optional(two_customers, "category_spend", path)
    msg = str(err.value)
    assert msg.startswith("spend.csv: 7 problems in 7 rows; nothing was loaded:")
    assert (
        "row 2, column 'customer_id/segment': got 'both'; expected exactly one of customer_id and segment"
        in msg
    )
    assert "row 3, column 'customer_id/segment': got an empty value; expected exactly one of" in msg
    assert "row 4, column 'customer_id': got 'zz'; expected an existing customer_id" in msg
    assert "row 5, column 'estimated_spend': got '-1'; expected a number >= 0" in msg
    assert "row 6, column 'estimated_spend': got 'x'" in msg
    assert "row 6, column 'currency': got 'US'; expected a three-letter ISO-4217 code" in msg
    assert (
        "row 7, column '(customer_id, segment, category, as_of)': got 'a / books'; expected a unique key (row 1"
        in msg
    )
    assert {p["check"] for p in err.value.problems} >= {
        "one_of",
        "duplicate",
        "reference",
        "negative",
        "type",
    }
    assert "_sv_conv" not in {
        r[0] for r in two_customers.con.execute("SELECT view_name FROM duckdb_views()").fetchall()
    }


def test_read_optional_refuses_unknown_tables_and_missing_columns(two_customers):
    with pytest.raises(SchemaError, match="unknown optional table 'orders'; expected one of category_spend"):
        read_optional(two_customers, "orders", pd.DataFrame({"x": [1]}))
    with pytest.raises(SchemaError, match="estimated_spend"):
        read_optional(
            two_customers, "category_spend", pd.DataFrame({"customer_id": ["a"], "category": ["b"]})
        )
    assert optional_table("category_spend").foreign_keys[0].nullable
