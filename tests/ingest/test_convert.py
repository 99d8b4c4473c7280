"""Orders without an order id (issue 15, part 2): ids derived in SQL from customer, time, amount and position."""

from __future__ import annotations

import hashlib
import re

import pandas as pd
import pytest

from socialvalue import Store
from socialvalue.cli import main
from socialvalue.errors import SchemaError
from socialvalue.ingest.convert import derived_ids_note
from socialvalue.ingest.doctor import diagnose

NOTE = (
    "orders: no order_id column; derived 5 ids from customer, time, amount and position — a re-load of the "
    "same file replaces them, a file with its own ids does not"
)


def _expected_id(customer: str, at: str, amount: str, position: int) -> str:
    """The documented derivation, recomputed: MD5 of the canonical values joined by chr(31), 16 hex digits."""
    text = "\x1f".join([customer, at, amount, str(position)])
    return "o-" + hashlib.md5(text.encode()).hexdigest()[:16]


@pytest.fixture
def log_csv(tmp_path):
    """A lifetimes-style log: no order id; rows 2 and 4 are the same purchase twice (same time, same amount)."""
    path = tmp_path / "log.csv"
    path.write_text(
        "customer_id,ordered_at,amount\n"
        "c1,2024-01-01 09:00:00,10.5\n"
        "c2,2024-01-02,20\n"
        "c1,2024-01-03,7.25\n"
        "c2,2024-01-02 00:00:00,20.00\n"
        "c3,2024-02-01 12:30:00,3\n"
    )
    return path


def _ids(store) -> list[tuple[str, str, str, float]]:
    rows = store.con.execute(
        "SELECT order_id, customer_id, CAST(ordered_at AS VARCHAR), amount FROM orders ORDER BY ordered_at, "
        "order_id"
    ).fetchall()
    return [(o, c, t, float(a)) for o, c, t, a in rows]


def test_a_log_without_order_ids_loads_with_derived_ids(with_customers, log_csv):
    report = with_customers.ingest("orders", log_csv)
    assert (report.rows_in, report.inserted, report.derived_ids) == (5, 5, 5)
    assert report.notes[0] == NOTE == derived_ids_note(5)
    assert f"note: {NOTE}" in str(report).splitlines()
    got = _ids(with_customers)
    assert all(re.fullmatch(r"o-[0-9a-f]{16}", o) for o, *_ in got)
    assert len({o for o, *_ in got}) == 5  # the same purchase twice is two orders
    twins = [o for o, c, t, a in got if c == "c2"]
    assert twins == sorted(
        [
            _expected_id("c2", "2024-01-02 00:00:00", "20.0000", 1),
            _expected_id("c2", "2024-01-02 00:00:00", "20.0000", 2),
        ]
    )
    assert _expected_id("c1", "2024-01-01 09:00:00", "10.5000", 1) in {o for o, *_ in got}


def test_derived_ids_are_the_same_on_every_load(with_customers, log_csv, tmp_path):
    with_customers.ingest("orders", log_csv)
    first = _ids(with_customers)
    again = with_customers.ingest("orders", log_csv, force=True)  # the same file, read again
    assert (again.inserted, again.updated, again.unchanged, again.derived_ids) == (0, 0, 5, 5)
    assert _ids(with_customers) == first
    assert with_customers.con.execute("SELECT count(*) FROM orders").fetchall() == [(5,)]
    # the same purchases from a DataFrame (other types, same canonical values) and a Parquet file
    frame = pd.read_csv(log_csv, dtype=str)
    assert with_customers.ingest("orders", frame).unchanged == 5
    parquet = tmp_path / "log.parquet"
    frame.assign(ordered_at=pd.to_datetime(frame["ordered_at"], format="ISO8601")).to_parquet(parquet)
    assert with_customers.ingest("orders", parquet).unchanged == 5
    # another store derives the same ids
    other = Store(tmp_path / "other.duckdb")
    try:
        other.ingest("customers", pd.DataFrame({"customer_id": ["c1", "c2", "c3"]}))
        other.ingest("orders", log_csv)
        assert _ids(other) == first
    finally:
        other.close()
    # a longer version of the file: the old rows keep their ids, the new one is inserted
    longer = tmp_path / "longer.csv"
    longer.write_text(log_csv.read_text() + "c2,2024-01-02,20\n")
    report = with_customers.ingest("orders", longer)
    assert (report.inserted, report.unchanged) == (1, 5)
    assert _expected_id("c2", "2024-01-02 00:00:00", "20.0000", 3) in {o for o, *_ in _ids(with_customers)}


def test_a_column_that_looks_like_an_order_id_is_proposed_not_replaced(with_customers, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("id,customer_id,ordered_at,amount\n17,c1,2024-01-01,3\n")
    with pytest.raises(SchemaError, match=r"fix: add to the mapping's \[columns\]: order_id = \"id\""):
        with_customers.ingest("orders", path)
    assert with_customers.ingest("orders", path, {"columns": {"order_id": "id"}}).derived_ids == 0
    # a mapping that names an absent column is an error, not a reason to derive
    bare = tmp_path / "bare.csv"
    bare.write_text("customer_id,ordered_at,amount\nc1,2024-01-01,3\n")
    with pytest.raises(SchemaError, match=r"column 'order_id': got 'Nr'; expected a source column 'Nr'"):
        with_customers.ingest("orders", bare, {"columns": {"order_id": "Nr"}})


def test_other_tables_still_need_their_keys(with_customers, tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("actor_id,kind,occurred_at\nc1,like,2024-01-01\n")
    with pytest.raises(SchemaError, match="column 'event_id': missing"):
        with_customers.ingest("interactions", path)


def test_the_cli_prints_the_line(tmp_path, log_csv, capsys):
    db = str(tmp_path / "shop.duckdb")
    assert main(["init", db]) == 0
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id\nc1\nc2\nc3\n")
    assert main(["ingest", db, "customers", str(customers)]) == 0
    capsys.readouterr()
    assert main(["ingest", db, "orders", str(log_csv)]) == 0
    out = capsys.readouterr().out
    assert "orders from log.csv: 5 rows in, 5 inserted" in out
    assert f"note: {NOTE}" in out


def test_the_doctor_no_longer_asks_for_an_order_id(log_csv):
    d = diagnose(log_csv, "orders")
    assert not any("order_id" in t for t in d.todo)
    assert d.mapping.columns == {}  # 'ordered_at' is ordered_at (it used to be proposed as order_id)
    assert (
        "no column looks like order_id: the load derives one per row from customer, time, amount and position "
        "(a re-load of the same file replaces them; a file with its own ids does not)"
    ) in d.findings
