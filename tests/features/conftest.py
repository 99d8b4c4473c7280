"""Helpers for the feature tests: plain-SQL row insertion (the engine tests use it too)."""

from __future__ import annotations

import pandas as pd

from socialvalue.schema import TABLES

#: Values for NOT NULL columns a test row leaves out.
_DEFAULTS = {
    "customers": {"consent_marketing": False, "consent_profiling": True, "is_stub": False},
    "orders": {"currency": "USD", "status": "completed"},
}


def insert(store, kind: str, rows: list[dict]) -> None:
    """Insert ``rows`` (dicts of canonical columns) into table ``kind`` with plain SQL."""
    table = TABLES[kind]
    filled = [{**_DEFAULTS.get(kind, {}), **r} for r in rows]
    df = pd.DataFrame(filled)
    cols = [c for c in table.column_names if c in df.columns]
    for c in cols:
        if table.column(c).sql_type == "TIMESTAMP":
            df[c] = pd.to_datetime(df[c], format="ISO8601")
    store.con.register("_rows", df)
    try:
        names = ", ".join(f'"{c}"' for c in cols)
        casts = ", ".join(f'CAST("{c}" AS {table.column(c).sql_type})' for c in cols)
        store.con.execute(f'INSERT INTO "{kind}" ({names}) SELECT {casts} FROM _rows')
    finally:
        store.con.unregister("_rows")


def two_customers(store):
    """``store`` with customers a (signed up) and b, three orders and b following a until 2024-09-01."""
    insert(store, "customers", [{"customer_id": "a", "signup_at": "2024-01-01"}, {"customer_id": "b"}])
    insert(
        store,
        "orders",
        [
            {"order_id": "1", "customer_id": "a", "ordered_at": "2024-02-01", "amount": 10},
            {"order_id": "2", "customer_id": "a", "ordered_at": "2024-08-01", "amount": 20},
            {"order_id": "3", "customer_id": "b", "ordered_at": "2024-03-01", "amount": 5},
        ],
    )
    insert(
        store, "relationships", [{"src_id": "b", "dst_id": "a", "kind": "follow", "ended_at": "2024-09-01"}]
    )
    return store
