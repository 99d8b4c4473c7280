"""The doctor: profile a file, propose a mapping that loads it, and say what it found."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from socialvalue.errors import SchemaError
from socialvalue.ingest import ColumnMapping
from socialvalue.ingest.doctor import diagnose
from socialvalue.ingest.hints import closest_column, date_format_of, looks_decimal_comma

EURO = (
    "Order ID;Customer;Date;Amount;Status\n"
    "A-1;c1;31/01/2026;12,50;Shipped\n"
    "A-2;c2;13/02/2025;-1.234,00;Returned\n"
    "A-3;c1;05/03/2025;7,25;SHIPPED\n"
)


def _roundtrip(diagnosis, tmp_path) -> ColumnMapping:
    path = tmp_path / "mapping.toml"
    path.write_text(diagnosis.to_toml(), encoding="utf-8")
    mapping = ColumnMapping.from_toml(path)
    assert mapping == diagnosis.mapping
    return mapping


def test_european_csv_to_a_loading_mapping(store, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(EURO, encoding="utf-8")
    d = diagnose(path, "orders")
    m = d.mapping
    assert (m.kind, m.delimiter, m.decimal_comma, m.date_format) == ("orders", ";", True, "%d/%m/%Y")
    assert m.columns == {"order_id": "Order ID", "customer_id": "Customer", "ordered_at": "Date"}
    assert m.values == {"status": {"shipped": "completed"}}
    assert d.rows == 3 and d.columns == ["Order ID", "Customer", "Date", "Amount", "Status"]
    assert "fields are separated by ';'" in d.findings
    assert any("no currency" in t for t in d.todo)
    mapping = _roundtrip(d, tmp_path)
    report = store.ingest("orders", path, mapping, on_missing_customer="stub")
    assert report.inserted == 3
    got = store.con.execute("SELECT order_id, ordered_at, amount, status FROM orders ORDER BY ALL").fetchall()
    assert [(o, t, float(a), s) for o, t, a, s in got] == [
        ("A-1", dt.datetime(2026, 1, 31), 12.5, "completed"),
        ("A-2", dt.datetime(2025, 2, 13), -1234.0, "returned"),
        ("A-3", dt.datetime(2025, 3, 5), 7.25, "completed"),
    ]


def test_german_pipe_separated_latin1_with_currency_symbol(store, tmp_path):
    path = tmp_path / "bestellungen.csv"
    text = (
        "Bestellnummer|Kunde|Datum|Betrag|Notiz\n"
        "1|Müller|01.02.2025 13:45|12,50 EUR|x\n"
        "2|Jörg|13.02.2025 08:00|1.000,00 EUR|x\n"
    )
    path.write_bytes(text.encode("latin-1"))
    d = diagnose(path, "orders")
    m = d.mapping
    assert (m.delimiter, m.encoding, m.decimal_comma, m.currency_symbols) == ("|", "latin-1", True, True)
    assert m.default_currency == "EUR"
    assert m.date_format == "%d.%m.%Y %H:%M"
    assert m.columns == {
        "order_id": "Bestellnummer",
        "customer_id": "Kunde",
        "ordered_at": "Datum",
        "amount": "Betrag",
    }
    store.ingest("orders", path, _roundtrip(d, tmp_path), on_missing_customer="stub")
    got = store.con.execute("SELECT customer_id, amount, currency FROM orders ORDER BY order_id").fetchall()
    assert [(c, float(a), cur) for c, a, cur in got] == [("Müller", 12.5, "EUR"), ("Jörg", 1000.0, "EUR")]


def test_tab_separated_month_first_interactions(store, tmp_path):
    path = tmp_path / "events.tsv"
    path.write_text(
        "id\tuser\ttype\tdate\n1\ta\tVisit\t01/31/2026\n2\tb\tLike\t02/01/2026\n3\ta\tzorblax\t02/02/2026\n"
    )
    d = diagnose(path, "interactions")
    m = d.mapping
    assert (m.delimiter, m.date_format) == ("\t", "%m/%d/%Y")
    assert m.columns == {"event_id": "id", "actor_id": "user", "kind": "type", "occurred_at": "date"}
    assert m.values == {"kind": {"visit": "view"}}
    assert any("'zorblax' matches no interaction_kinds word" in t for t in d.todo)
    assert "[values.kind]" in d.to_toml() and "# TODO: 'type': the word 'zorblax'" in d.to_toml()


def test_ambiguous_dates_are_a_todo(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer_id,ordered_at,amount\n1,a,01/02/2026,3\n2,a,03/04/2026,4\n")
    d = diagnose(path, "orders")
    assert d.mapping.date_format == "%d/%m/%Y"
    assert any("is a guess" in t for t in d.todo)


def test_iso_file_needs_no_settings(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer_id,ordered_at,amount,currency\n1,a,2026-01-31 10:00:00,3.5,EUR\n")
    d = diagnose(path, "orders")
    m = d.mapping
    assert (m.delimiter, m.decimal_comma, m.date_format, m.columns, m.values) == (",", False, None, {}, {})
    assert not d.todo


def test_parquet_typed_columns(store, tmp_path):
    path = tmp_path / "orders.parquet"
    pd.DataFrame(
        {
            "OrderNo": ["1", "2"],
            "client": ["a", "b"],
            "created": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "revenue": [1.5, 2.0],
        }
    ).to_parquet(path)
    d = diagnose(path, "orders")
    assert d.mapping.columns == {
        "order_id": "OrderNo",
        "customer_id": "client",
        "ordered_at": "created",
        "amount": "revenue",
    }
    assert store.ingest("orders", path, _roundtrip(d, tmp_path), on_missing_customer="stub").inserted == 2


def test_missing_required_column_is_a_todo(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer_id,amount\n1,a,3\n")
    d = diagnose(path, "orders")
    assert any(t.startswith("no column looks like ordered_at") for t in d.todo)
    assert "# TODO: no column looks like ordered_at" in d.to_toml()


def test_refusals(tmp_path):
    empty = tmp_path / "e.csv"
    empty.write_bytes(b"")
    with pytest.raises(SchemaError, match=r"e\.csv is empty"):
        diagnose(empty, "orders")
    globbed = tmp_path / "o*.csv"
    globbed.write_text("order_id\n1\n")
    (tmp_path / "o1.csv").write_text("other_column\n2\n")
    d = diagnose(globbed, "orders")  # exactly the named file, not every file the pattern matches
    assert d.rows == 1 and "other_column" not in d.to_toml()
    with pytest.raises(SchemaError, match=r"is a directory"):
        diagnose(tmp_path, "orders")
    with pytest.raises(SchemaError, match=r"no such file"):
        diagnose(tmp_path / "nope.csv", "orders")
    with pytest.raises(SchemaError, match=r"unknown table kind 'purchases'"):
        diagnose(empty, "purchases")
    odd = tmp_path / "x.xlsx"
    odd.write_text("x")
    with pytest.raises(SchemaError, match=r"unknown file type '\.xlsx'"):
        diagnose(odd, "orders")


def test_quote_in_path_and_hostile_words_round_trip(store, tmp_path):
    folder = tmp_path / "it's here"
    folder.mkdir()
    path = folder / "rel.csv"
    path.write_text('src,dst,relation\na,b,"Friends"\nb,a,"fol""lows"\n')
    d = diagnose(path, "relationships")
    mapping = _roundtrip(d, tmp_path)
    assert mapping.values == {"kind": {"friends": "friend", 'fol"lows': "follow"}}
    store.ingest("relationships", path, mapping, on_missing_customer="stub")
    got = store.con.execute("SELECT kind FROM relationships ORDER BY src_id").fetchall()
    assert [k for (k,) in got] == ["friend", "follow"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["31/01/2026", "01/02/2026"], ("%d/%m/%Y", False)),
        (["01/31/2026"], ("%m/%d/%Y", False)),
        (["01/02/2026"], ("%d/%m/%Y", True)),
        (["01.02.2026"], ("%d.%m.%Y", False)),
        (["13.02.2025 10:11:12"], ("%d.%m.%Y %H:%M:%S", False)),
        (["2026/01/31"], ("%Y/%m/%d", False)),
        (["2026-01-31", "2026-01-31 10:00"], None),
        (["31/01/26"], ("%d/%m/%y", False)),
        (["hello"], None),
        ([], None),
    ],
)
def test_date_format_of(values, expected):
    assert date_format_of(values) == expected


def test_small_detectors():
    assert looks_decimal_comma(["12,50", "1.234,5", "7"])
    assert not looks_decimal_comma(["12.50", "1,234.50"])
    assert closest_column("order_id", ["Order ID", "x"]) == "Order ID"
    assert closest_column("customer_id", ["Buyer", "x"]) == "Buyer"
    assert closest_column("ordered_at", ["Order Date"]) == "Order Date"
    assert closest_column("amount", ["Betrag"]) == "Betrag"
    assert closest_column("amount", ["zzz"]) is None
    assert closest_column("order_id", ["Order ID"], taken=["Order ID"]) is None
