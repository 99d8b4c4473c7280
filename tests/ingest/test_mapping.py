"""Column mappings: renames, date formats, time zones to UTC, decimal commas, currency, constants, booleans."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from socialvalue.errors import ConfigError, SchemaError
from socialvalue.ingest import ColumnMapping

GERMAN_CSV = """Bestellnummer;Kunde;Datum;Betrag;Waehrung;Kanal
B-1;c1;31.01.2024 10:15;1.234,50;EUR;web
B-2;c2;01.07.2024 00:30;0,99;CHF;app
"""

GERMAN_TOML = """
kind = "orders"
timezone = "Europe/Berlin"
date_format = "%d.%m.%Y %H:%M"
decimal_comma = true
delimiter = ";"

[columns]
order_id = "Bestellnummer"
customer_id = "Kunde"
ordered_at = "Datum"
amount = "Betrag"
currency = "Waehrung"

[constants]
status = "completed"
"""


def test_mapping_from_toml_converts_dates_timezones_and_decimal_commas(with_customers, tmp_path):
    (tmp_path / "bestellungen.csv").write_text(GERMAN_CSV, encoding="utf-8")
    (tmp_path / "map.toml").write_text(GERMAN_TOML, encoding="utf-8")
    mapping = ColumnMapping.from_toml(tmp_path / "map.toml")
    report = with_customers.ingest("orders", tmp_path / "bestellungen.csv", mapping)
    assert report.inserted == 2
    rows = with_customers.con.execute(
        "SELECT order_id, ordered_at, amount, currency, status, CAST(extra AS VARCHAR) FROM orders ORDER BY 1"
    ).fetchall()
    assert rows == [
        # 10:15 CET (UTC+1) in winter, 00:30 CEST (UTC+2) in summer -> previous day in UTC
        ("B-1", dt.datetime(2024, 1, 31, 9, 15), Decimal("1234.5000"), "EUR", "completed", '{"Kanal":"web"}'),
        ("B-2", dt.datetime(2024, 6, 30, 22, 30), Decimal("0.9900"), "CHF", "completed", '{"Kanal":"app"}'),
    ]


def test_iso_offsets_are_honoured_and_naive_text_uses_the_mapping_zone(with_customers):
    df = pd.DataFrame(
        {
            "order_id": ["a", "b", "c"],
            "customer_id": ["c1"] * 3,
            "ordered_at": ["2024-03-01T12:00:00+05:00", "2024-03-01T12:00:00Z", "2024-03-01 12:00"],
            "amount": [1, 2, 3],
        }
    )
    with_customers.ingest("orders", df, {"timezone": "America/New_York"})
    got = with_customers.con.execute("SELECT ordered_at FROM orders ORDER BY order_id").fetchall()
    assert [r[0] for r in got] == [
        dt.datetime(2024, 3, 1, 7, 0),
        dt.datetime(2024, 3, 1, 12, 0),
        dt.datetime(2024, 3, 1, 17, 0),  # EST = UTC-5
    ]
    # The connection's time zone is UTC again afterwards.
    assert with_customers.scalar("SELECT current_setting('TimeZone')") == "UTC"


def test_default_currency_booleans_and_per_column_date_format(store):
    df = pd.DataFrame(
        {
            "id": ["k1", "k2"],
            "joined": ["20240105", "20240206"],
            "newsletter": ["Ja", "nein"],
            "profiling": [1, 0],
        }
    )
    mapping = ColumnMapping(
        columns={
            "customer_id": "id",
            "signup_at": "joined",
            "consent_marketing": "newsletter",
            "consent_profiling": "profiling",
        },
        date_format={"signup_at": "%Y%m%d"},
        true_values=("ja",),
        false_values=("nein",),
    )
    store.ingest("customers", df, mapping)
    assert store.con.execute(
        "SELECT customer_id, signup_at, consent_marketing, consent_profiling, extra FROM customers ORDER BY 1"
    ).fetchall() == [
        ("k1", dt.datetime(2024, 1, 5), True, True, None),
        ("k2", dt.datetime(2024, 2, 6), False, False, None),
    ]
    orders = pd.DataFrame(
        {"order_id": ["x"], "customer_id": ["k1"], "ordered_at": ["2024-03-01"], "amount": ["5"]}
    )
    store.ingest("orders", orders, {"default_currency": "EUR"})
    assert store.scalar("SELECT currency FROM orders") == "EUR"


def test_bad_boolean_reported(store):
    df = pd.DataFrame({"customer_id": ["a"], "consent_marketing": ["maybe"]})
    with pytest.raises(
        SchemaError, match=r"row 1, column 'consent_marketing': got 'maybe'; expected a boolean \(true/t/yes"
    ):
        store.ingest("customers", df)


def test_wrong_date_format_is_reported_with_the_format(with_customers):
    df = pd.DataFrame(
        {"order_id": ["a"], "customer_id": ["c1"], "ordered_at": ["2024-03-01"], "amount": ["1"]}
    )
    with pytest.raises(SchemaError, match=r"got '2024-03-01'; expected a timestamp in the format '%d/%m/%Y'"):
        with_customers.ingest("orders", df, {"date_format": "%d/%m/%Y"})


def test_mapping_errors_name_the_problem(with_customers, tmp_path):
    df = pd.DataFrame(
        {"order_id": ["a"], "customer_id": ["c1"], "ordered_at": ["2024-03-01"], "amount": ["1"]}
    )
    with pytest.raises(
        SchemaError, match=r"column 'amount': got 'Betrag'; expected a source column 'Betrag' \(it has: "
    ):
        with_customers.ingest("orders", df.drop(columns="amount"), {"columns": {"amount": "Betrag"}})
    with pytest.raises(SchemaError, match=r"column 'price': missing; expected one of the orders columns"):
        with_customers.ingest("orders", df, {"constants": {"price": 3}})
    with pytest.raises(SchemaError, match=r"the column mapping is written for 'customers', not 'orders'"):
        with_customers.ingest("orders", df, {"kind": "customers"})


def test_mapping_validation_is_strict(tmp_path):
    (tmp_path / "m.toml").write_text('timezone = "Mars/Olympus"\ncolums = {}\n')
    with pytest.raises(ConfigError, match=r"m\.toml: .*colums: Extra inputs are not permitted"):
        ColumnMapping.from_toml(tmp_path / "m.toml")
    with pytest.raises(ConfigError, match=r"unknown time zone 'Mars/Olympus'"):
        ColumnMapping.from_toml(tmp_path / "m.toml")
    with pytest.raises(ConfigError, match=r"does not exist"):
        ColumnMapping.from_toml(tmp_path / "absent.toml")
    with pytest.raises(ValueError, match=r"no strptime directive"):
        ColumnMapping(date_format="dd.mm.yyyy")
    with pytest.raises(ValueError, match=r"both a source column and a constant"):
        ColumnMapping(columns={"status": "s"}, constants={"status": "completed"})


def test_extra_columns_kept_or_dropped(with_customers):
    df = pd.DataFrame(
        {
            "order_id": ["a"],
            "customer_id": ["c1"],
            "ordered_at": ["2024-03-01"],
            "amount": ["1"],
            "coupon": ["X1"],
            "items": [3],
        }
    )
    with_customers.ingest("orders", df)
    assert with_customers.scalar("SELECT extra->>'coupon' FROM orders") == "X1"
    assert with_customers.scalar("SELECT CAST(extra->'items' AS INTEGER) FROM orders") == 3
    with_customers.ingest("orders", df.assign(order_id="b"), {"keep_extra": False})
    assert with_customers.scalar("SELECT extra FROM orders WHERE order_id = 'b'") is None


def test_case_insensitive_column_match(with_customers):
    df = pd.DataFrame(
        {"Order_ID": ["a"], "CUSTOMER_ID": ["c1"], "Ordered_At": ["2024-03-01"], "Amount": ["1"]}
    )
    assert with_customers.ingest("orders", df).inserted == 1


def test_headerless_latin1_csv(store, tmp_path):
    path = tmp_path / "kunden.csv"
    path.write_bytes("K1;M\xfcller;DE\nK2;G\xf6tz;AT\n".encode("latin-1"))
    mapping = ColumnMapping(
        header=False,
        encoding="latin-1",
        delimiter=";",
        columns={"customer_id": "column0", "country": "column2"},
    )
    store.ingest("customers", path, mapping)
    assert store.con.execute(
        "SELECT customer_id, country, extra->>'column1' FROM customers ORDER BY 1"
    ).fetchall() == [
        ("K1", "DE", "Müller"),
        ("K2", "AT", "Götz"),
    ]
    with pytest.raises(
        SchemaError,
        match=r"cannot read '.*kunden\.csv' as csv: CSV Error on Line: 1: Invalid unicode .* not utf-8 encoded",
    ):
        store.ingest("customers", path, ColumnMapping(header=False, delimiter=";"))


def test_mapping_example_in_the_docs_is_valid():
    """The TOML example in docs/data-model.md validates as a ColumnMapping."""
    import re
    import tomllib
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "data-model.md").read_text(encoding="utf-8")
    example = re.search(r"```toml\n(.*?)```", doc, re.S).group(1)
    mapping = ColumnMapping.model_validate(tomllib.loads(example))
    assert mapping.columns["amount"] == "Betrag" and mapping.timezone == "Europe/Berlin"
