"""Every source format loads the same rows: CSV, TSV, Parquet, JSON, JSON Lines, pandas, Polars, Arrow."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

EXPECTED = [
    ("o1", "c1", dt.datetime(2024, 1, 1, 9, 0), Decimal("10.5000"), "XXX", "completed"),
    ("o2", "c1", dt.datetime(2024, 2, 1, 12, 30), Decimal("20.0000"), "XXX", "completed"),
    ("o3", "c2", dt.datetime(2024, 2, 3, 8, 0), Decimal("-5.2500"), "XXX", "returned"),
    ("o4", "c3", dt.datetime(2024, 3, 1, 0, 0), Decimal("7.0000"), "XXX", "pending"),
]


def _stored(store):
    return store.con.execute(
        "SELECT order_id, customer_id, ordered_at, amount, currency, status FROM orders ORDER BY order_id"
    ).fetchall()


def _write(orders_df: pd.DataFrame, fmt: str, tmp_path):
    path = tmp_path / f"orders.{fmt}"
    if fmt == "csv":
        orders_df.to_csv(path, index=False)
    elif fmt == "tsv":
        orders_df.to_csv(path, index=False, sep="\t")
    elif fmt == "parquet":
        typed = orders_df.assign(
            ordered_at=pd.to_datetime(orders_df["ordered_at"]), amount=orders_df["amount"].astype(float)
        )
        pq.write_table(pa.Table.from_pandas(typed, preserve_index=False), path)
    elif fmt == "json":
        path.write_text(json.dumps(orders_df.to_dict(orient="records")))
    elif fmt == "jsonl":
        path.write_text("\n".join(json.dumps(r) for r in orders_df.to_dict(orient="records")) + "\n")
    return path


@pytest.mark.parametrize("fmt", ["csv", "tsv", "parquet", "json", "jsonl"])
def test_file_formats_round_trip(with_customers, orders_df, tmp_path, fmt):
    report = with_customers.ingest("orders", _write(orders_df, fmt, tmp_path))
    assert (report.rows_in, report.inserted, report.updated, report.unchanged) == (4, 4, 0, 0)
    assert report.source == f"orders.{fmt}"
    assert _stored(with_customers) == EXPECTED


@pytest.mark.parametrize("kind", ["pandas", "polars", "arrow", "arrow_batch"])
def test_in_memory_tables_round_trip(with_customers, orders_df, kind):
    source = {
        "pandas": lambda: orders_df,
        "polars": lambda: pl.from_pandas(orders_df),
        "arrow": lambda: pa.Table.from_pandas(orders_df, preserve_index=False),
        "arrow_batch": lambda: pa.RecordBatch.from_pandas(orders_df, preserve_index=False),
    }[kind]()
    report = with_customers.ingest("orders", source)
    assert report.inserted == 4
    assert _stored(with_customers) == EXPECTED


def test_typed_sources_keep_types_and_aware_timestamps_become_utc(with_customers):
    df = pd.DataFrame(
        {
            "order_id": ["t1", "t2"],
            "customer_id": ["c1", "c2"],
            "ordered_at": pd.to_datetime(["2024-06-01 12:00", "2024-12-01 12:00"]).tz_localize(
                "Europe/Berlin"
            ),
            "amount": [1.25, 3.0],
            "quantity": [2, 3],
        }
    )
    with_customers.ingest("orders", df)
    rows = with_customers.con.execute(
        "SELECT ordered_at, amount, quantity FROM orders ORDER BY order_id"
    ).fetchall()
    assert rows == [
        (dt.datetime(2024, 6, 1, 10, 0), Decimal("1.2500"), 2),  # CEST = UTC+2
        (dt.datetime(2024, 12, 1, 11, 0), Decimal("3.0000"), 3),  # CET = UTC+1
    ]


def test_caller_dataframe_is_not_mutated(with_customers, orders_df):
    before = orders_df.copy(deep=True)
    with_customers.ingest("orders", orders_df)
    pd.testing.assert_frame_equal(orders_df, before)


def test_all_five_tables_load(with_customers):
    s = with_customers
    s.ingest(
        "interactions",
        pd.DataFrame(
            {
                "event_id": ["e1", "e2"],
                "actor_id": ["c1", "c2"],
                "target_customer_id": ["c2", None],
                "kind": ["like", "share"],
                "occurred_at": ["2024-01-01", "2024-01-02"],
            }
        ),
    )
    s.ingest(
        "relationships",
        pd.DataFrame({"src_id": ["c1", "c1"], "dst_id": ["c2", "c2"], "kind": ["follows", "referred"]}),
    )
    s.ingest(
        "content",
        pd.DataFrame(
            {
                "content_id": ["r1"],
                "author_id": ["c3"],
                "kind": ["review"],
                "created_at": ["2024-01-03"],
                "rating": ["4.5"],
                "helpful_votes": ["3"],
            }
        ),
    )
    assert s.table_counts() == {
        "customers": 3,
        "orders": 0,
        "interactions": 2,
        "relationships": 2,
        "content": 1,
    }
    assert s.scalar("SELECT rating FROM content") == 4.5
    assert s.scalar("SELECT count(*) FROM interactions WHERE target_customer_id IS NULL") == 1


def test_unknown_file_type_and_missing_file(store, tmp_path):
    from socialvalue.errors import SchemaError

    (tmp_path / "x.xlsx").write_bytes(b"PK")
    with pytest.raises(SchemaError, match=r"x\.xlsx'?: unknown file type '\.xlsx'"):
        store.ingest("customers", tmp_path / "x.xlsx")
    with pytest.raises(SchemaError, match=r"no such file"):
        store.ingest("customers", tmp_path / "absent.csv")
    with pytest.raises(SchemaError, match=r"unknown table kind 'purchases'"):
        store.ingest("purchases", tmp_path / "absent.csv")
    with pytest.raises(SchemaError, match=r"cannot load a list"):
        store.ingest("customers", [{"customer_id": "a"}])


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl", "json"])
def test_problem_rows_are_data_rows_as_in_the_file(with_customers, orders_df, tmp_path, fmt):
    from socialvalue.errors import SchemaError

    bad = orders_df.copy()
    bad.loc[3, "status"] = "lost"  # fourth data row
    path = _write(bad, fmt, tmp_path)
    with pytest.raises(
        SchemaError, match=rf"orders\.{fmt}: 1 problem in 4 rows; .*\n  row 4, column 'status': got 'lost'"
    ):
        with_customers.ingest("orders", path)
