"""Idempotent loads, upserts, partial updates, the _loads record."""

from __future__ import annotations

import pandas as pd
import pytest

from socialvalue.errors import SchemaError


def _snapshot(store):
    return {
        t: store.query_df(f'SELECT * FROM "{t}" ORDER BY ALL').to_dict("records")
        for t in store.table_counts()
    }


def test_loading_the_same_file_twice_changes_nothing(with_customers, orders_df, tmp_path):
    path = tmp_path / "orders.csv"
    orders_df.to_csv(path, index=False)
    first = with_customers.ingest("orders", path)
    before = _snapshot(with_customers)
    second = with_customers.ingest("orders", path)
    assert second.skipped and second.load_id == first.load_id
    assert (second.inserted, second.updated, second.unchanged) == (0, 0, 4)
    assert _snapshot(with_customers) == before
    assert with_customers.scalar("SELECT count(*) FROM _loads WHERE kind = 'orders'") == 1
    # Forced, it is checked row by row and still changes nothing.
    forced = with_customers.ingest("orders", path, force=True)
    assert (forced.skipped, forced.inserted, forced.updated, forced.unchanged) == (False, 0, 0, 4)
    assert _snapshot(with_customers) == before


def test_same_dataframe_twice_is_skipped_and_a_changed_one_is_not(with_customers, orders_df):
    with_customers.ingest("orders", orders_df)
    assert with_customers.ingest("orders", orders_df.copy()).skipped
    changed = orders_df.copy()
    changed.loc[1, "amount"] = "21"
    report = with_customers.ingest("orders", changed)
    assert (report.skipped, report.inserted, report.updated, report.unchanged) == (False, 0, 1, 3)


def test_later_batch_with_same_keys_updates_instead_of_duplicating(with_customers, orders_df):
    with_customers.ingest("orders", orders_df)
    later = pd.DataFrame(
        {
            "order_id": ["o2", "o5"],
            "customer_id": ["c1", "c2"],
            "ordered_at": ["2024-02-01 12:30:00", "2024-04-01"],
            "amount": ["99", "1"],
            "status": ["cancelled", "completed"],
        }
    )
    report = with_customers.ingest("orders", later)
    assert (report.rows_in, report.inserted, report.updated, report.unchanged) == (2, 1, 1, 0)
    assert with_customers.table_counts()["orders"] == 5
    assert with_customers.con.execute(
        "SELECT amount::DOUBLE, status FROM orders WHERE order_id = 'o2'"
    ).fetchall() == [(99.0, "cancelled")]
    rec = with_customers.con.execute(
        "SELECT rows_in, rows_inserted, rows_updated, rows_unchanged FROM _loads ORDER BY loaded_at DESC LIMIT 1"
    ).fetchall()
    assert rec == [(2, 1, 1, 0)]


def test_columns_absent_from_an_update_keep_their_values(with_customers):
    with_customers.ingest("customers", pd.DataFrame({"customer_id": ["c1"], "acquisition_channel": ["paid"]}))
    row = with_customers.con.execute(
        "SELECT country, acquisition_channel, consent_marketing FROM customers WHERE customer_id = 'c1'"
    ).fetchall()
    assert row == [("DE", "paid", True)]  # country and consent came from the first load


def test_failed_load_writes_nothing(with_customers, orders_df):
    before = _snapshot(with_customers)
    loads = with_customers.scalar("SELECT count(*) FROM _loads")
    bad = orders_df.copy()
    bad.loc[3, "amount"] = "lots"
    try:
        with_customers.ingest("orders", bad)
    except SchemaError:
        pass
    assert _snapshot(with_customers) == before
    assert with_customers.scalar("SELECT count(*) FROM _loads") == loads
    # No temporary objects are left behind.
    assert (
        with_customers.scalar(
            "SELECT count(*) FROM duckdb_views() WHERE view_name LIKE '\\_sv\\_%' ESCAPE '\\'"
        )
        == 0
    )
    assert (
        with_customers.scalar(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '\\_sv\\_%' ESCAPE '\\'"
        )
        == 0
    )


def test_nested_value_in_a_scalar_column_is_reported(with_customers):
    import pyarrow as pa

    table = pa.table(
        {
            "order_id": ["a"],
            "customer_id": ["c1"],
            "ordered_at": ["2024-01-01"],
            "amount": pa.array([{"value": 1.0}], type=pa.struct([("value", pa.float64())])),
        }
    )
    with pytest.raises(
        SchemaError,
        match=r"row 1, column 'amount': got \"{'value': 1.0}\"; expected a decimal number such as 1234.50",
    ):
        with_customers.ingest("orders", table)
    assert with_customers.table_counts()["orders"] == 0


def test_write_inside_a_callers_transaction_is_refused_cleanly(with_customers, orders_df):
    from socialvalue.errors import StoreError

    with_customers.con.execute("BEGIN TRANSACTION")
    try:
        with pytest.raises(
            StoreError, match=r"cannot load into orders: the store.s connection is inside a transaction"
        ):
            with_customers.ingest("orders", orders_df)
    finally:
        with_customers.con.execute("ROLLBACK")
    assert with_customers.ingest("orders", orders_df).inserted == 4


def test_read_only_store_refuses_loads_and_erasures(tmp_path, orders_df):
    from socialvalue import Store
    from socialvalue.errors import StoreError

    path = tmp_path / "ro.duckdb"
    Store(path).close()
    with Store(path, read_only=True) as ro:
        with pytest.raises(StoreError, match=r"cannot load into orders: store .* is open read-only"):
            ro.ingest("orders", orders_df)
        with pytest.raises(StoreError, match=r"cannot erase: store .* is open read-only"):
            ro.erase("c1")


def test_a_load_reports_its_stages_for_progress_displays(tmp_path):
    import pandas as pd

    from socialvalue import Store

    events = []
    with Store(tmp_path / "p.duckdb") as s:
        s.ingest(
            "customers", pd.DataFrame({"customer_id": ["a"]}), on_stage=lambda n, e: events.append((n, e))
        )
    assert events == [
        ("read", "start"),
        ("read", "end"),
        ("validate", "start"),
        ("validate", "end"),
        ("write", "start"),
        ("write", "end"),
    ]
