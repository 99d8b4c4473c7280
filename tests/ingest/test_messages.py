"""Messages of a failed load lead to the fix: the file's columns, the mapping line, the setting to change."""

from __future__ import annotations

import csv

import duckdb
import pandas as pd
import pytest

from socialvalue.cli import main
from socialvalue.errors import SchemaError
from socialvalue.ingest.sources import clean_error

_INTERNAL = (
    "_sv_",
    "SELECT",
    "__raw__",
    "LINE 1",
    "SchemaError.problems",
    "on_missing_customer",
    "force=True",
)


def _clean(text: str) -> None:
    for bad in _INTERNAL:
        assert bad not in text, f"{bad!r} leaked into: {text}"
    assert "Traceback" not in text


def _raise(store, kind, source, mapping=None, **kw) -> str:
    with pytest.raises(SchemaError) as info:
        store.ingest(kind, source, mapping, **kw)
    msg = str(info.value)
    _clean(msg)
    return msg


def test_missing_column_lists_columns_and_gives_the_mapping_line(with_customers, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("Order ID,customer_id,Order Date,Total\no1,c1,2024-01-01,3\n")
    with pytest.raises(
        SchemaError,
        match=r"(?s)column 'order_id': missing; expected a source column named order_id\n.*"
        r"fix: the file's columns are: 'Order ID', 'customer_id', 'Order Date', 'Total'\n"
        r"fix: add to the mapping's \[columns\]: order_id = \"Order ID\"\n"
        r"fix: add to the mapping's \[columns\]: ordered_at = \"Order Date\"\n"
        r"fix: add to the mapping's \[columns\]: amount = \"Total\"",
    ):
        with_customers.ingest("orders", path)


def test_mapped_column_absent_suggests_the_closest(with_customers, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer_id,ordered_at,Amount_EUR\no1,c1,2024-01-01,3\n")
    msg = _raise(with_customers, "orders", path, {"columns": {"amount": "Betrag"}})
    assert "column 'amount': got 'Betrag'; expected a source column 'Betrag'" in msg
    assert 'fix: add to the mapping\'s [columns]: amount = "Amount_EUR"' in msg


def test_no_close_column_gives_a_placeholder(with_customers, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer_id,ordered_at,zzz\no1,c1,2024-01-01,3\n")
    with pytest.raises(
        SchemaError, match=r"add to the mapping's \[columns\]: amount = \"<one of the file's columns>\""
    ):
        with_customers.ingest("orders", path)


def test_semicolon_file_read_as_one_column_names_the_delimiter(with_customers, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("order_id;customer_id;ordered_at;amount\no1;c1;2024-01-01;3\n")
    msg = _raise(with_customers, "orders", path, {"delimiter": ","})
    assert "fix: the file looks ';'-separated" in msg
    assert 'set delimiter = ";" in the column mapping' in msg
    assert "[columns]" not in msg


def test_decimal_commas_name_the_setting(with_customers, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        'order_id,customer_id,ordered_at,amount\no1,c1,2024-01-01,"12,50"\no2,c1,2024-01-02,"1.234,5"\n'
    )
    with pytest.raises(
        SchemaError,
        match=r"row 1, column 'amount': got '12,50'; expected a decimal number such as 1234.50\n(?s:.*)"
        r"fix: column 'amount' looks like decimal commas \(e\.g\. '12,50'\): set decimal_comma = true in the "
        r"column mapping",
    ):
        with_customers.ingest("orders", path)
    report = with_customers.ingest("orders", path, {"decimal_comma": True})
    assert report.inserted == 2
    got = with_customers.con.execute("SELECT amount FROM orders ORDER BY order_id").fetchall()
    assert [float(a) for (a,) in got] == [12.5, 1234.5]


def test_currency_symbol_names_the_settings(with_customers, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer_id,ordered_at,amount\no1,c1,2024-01-01,€12.50\no2,c1,2024-01-02,€ 3\n")
    msg = _raise(with_customers, "orders", path)
    assert 'set currency_symbols = true and default_currency = "EUR" in the column mapping' in msg
    with_customers.ingest("orders", path, {"currency_symbols": True, "default_currency": "EUR"})
    got = with_customers.con.execute("SELECT amount, currency FROM orders ORDER BY order_id").fetchall()
    assert [(float(a), c) for a, c in got] == [(12.5, "EUR"), (3.0, "EUR")]


@pytest.mark.parametrize(
    ("dates", "fmt"),
    [
        (["31/01/2026", "01/02/2026"], "%d/%m/%Y"),
        (["13.02.2025", "01.03.2025"], "%d.%m.%Y"),
        (["01/31/2026 13:45", "02/01/2026 08:00"], "%m/%d/%Y %H:%M"),
    ],
)
def test_day_first_dates_name_the_detected_format(with_customers, tmp_path, dates, fmt):
    path = tmp_path / "orders.csv"
    rows = "".join(f"o{i},c1,{d},1\n" for i, d in enumerate(dates))
    path.write_text("order_id,customer_id,ordered_at,amount\n" + rows)
    msg = _raise(with_customers, "orders", path)
    assert f'set date_format = "{fmt}" in the column mapping' in msg
    assert with_customers.ingest("orders", path, {"date_format": fmt}).inserted == 2


def test_ambiguous_dates_say_both_readings(with_customers, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer_id,ordered_at,amount\no1,c1,01/02/2026,1\n")
    with pytest.raises(
        SchemaError, match=r'date_format = "%d/%m/%Y" \(or "%m/%d/%Y" if the month comes first\)'
    ):
        with_customers.ingest("orders", path)


def test_zero_byte_file_is_empty(store, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_bytes(b"")
    with pytest.raises(
        SchemaError, match=r"^orders\.csv is empty \(no header, no rows\); nothing was loaded$"
    ):
        store.ingest("orders", path)
    path.write_text("\n\n")
    with pytest.raises(SchemaError, match=r"orders\.csv is empty"):
        store.ingest("orders", path)


def test_header_only_file_loads_zero_rows(store, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer_id,ordered_at,amount\n")
    report = store.ingest("orders", path)
    assert (report.rows_in, report.inserted) == (0, 0)


def test_bad_json_line_has_no_sql(store, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"event_id": "e1", "actor_id": "a"}\n{"event_id": "e2", bad\n')
    msg = _raise(store, "interactions", path)
    assert msg.startswith("cannot read ") and "as JSON Lines: Malformed JSON" in msg


def test_glob_characters_in_a_path_read_exactly_that_file(store, tmp_path):
    path = tmp_path / "customers[1].csv"
    path.write_text("customer_id\nonly-me\n")
    (tmp_path / "customers1.csv").write_text("customer_id\nnot-me\n")
    report = store.ingest("customers", path)
    assert report.inserted == 1
    assert store.scalar("SELECT list(customer_id) FROM customers") == ["only-me"]


def test_library_messages_are_neutral(with_customers):
    df = pd.DataFrame(
        {"order_id": ["o1"], "customer_id": ["nobody"], "ordered_at": ["2024-01-01"], "amount": ["1"]}
    )
    msg = _raise(with_customers, "orders", df)
    assert (
        "expected an existing customer_id (load customers first, or create stub customers for unknown ids)"
        in msg
    )


def test_more_line_has_no_python_advice(with_customers):
    df = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(30)],
            "customer_id": "c1",
            "ordered_at": "2024-01-01",
            "amount": "x",
        }
    )
    msg = _raise(with_customers, "orders", df)
    assert "\n  ... and 10 more" in msg


def test_clean_error_drops_the_echoed_statement():
    con = duckdb.connect()
    with pytest.raises(duckdb.Error) as info:
        con.execute("SELECT CAST('x' AS INTEGER) AS _sv_conv")
    text = clean_error(info.value)
    assert "SELECT" not in text and "_sv_" not in text and "Error:" not in text
    assert "Could not convert string 'x' to INT32" in text

    class Leaky(Exception):
        pass

    assert clean_error(Leaky("Binder Error: column _sv_row not found")) == (
        "the data could not be converted (a value of an unexpected type or structure)"
    )


# -- the command line -------------------------------------------------------------------------------------


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "shop.duckdb"
    assert main(["init", str(path)]) == 0
    return path


def test_cli_problems_out_writes_every_problem(db, tmp_path, capsys):
    path = tmp_path / "orders.csv"
    rows = "".join(f"o{i},c{i},2024-01-01,x{i}\n" for i in range(30))
    path.write_text("order_id,customer_id,ordered_at,amount\n" + rows)
    out = tmp_path / "problems.csv"
    capsys.readouterr()
    assert main(["ingest", str(db), "orders", str(path), "--problems-out", str(out)]) == 3
    err = capsys.readouterr().err
    _clean(err)
    assert "orders.csv: 60 problems in 30 rows; nothing was loaded (first 20 shown)" in err
    assert f"all 60 collected problems were written to {out}" in err
    assert "to create stub customers for unknown ids, add --stub-missing" in err
    with out.open(newline="", encoding="utf-8") as fh:
        written = list(csv.DictReader(fh))
    assert len(written) == 60
    assert set(written[0]) == {"source", "row", "column", "value", "expected", "check"}
    assert {r["check"] for r in written} == {"type", "reference"}
    assert {"source": "orders.csv", "row": "30", "column": "amount", "value": "x29"}.items() <= next(
        r for r in written if r["row"] == "30" and r["column"] == "amount"
    ).items()


def test_cli_without_problems_out_points_to_it(db, tmp_path, capsys):
    path = tmp_path / "orders.csv"
    rows = "".join(f"o{i},c{i},2024-01-01,1\n" for i in range(30))
    path.write_text("order_id,customer_id,ordered_at,amount\n" + rows)
    capsys.readouterr()
    assert main(["ingest", str(db), "orders", str(path)]) == 3
    err = capsys.readouterr().err
    _clean(err)
    assert "  ... and 10 more\nwrite every problem to a CSV file with --problems-out FILE" in err
    assert main(["ingest", str(db), "orders", str(path), "--stub-missing"]) == 0


def test_cli_mapping_fix_says_where_it_goes(db, tmp_path, capsys):
    path = tmp_path / "orders.csv"
    path.write_text("Order ID,customer_id,ordered_at,amount\no1,c1,2024-01-01,1\n")
    capsys.readouterr()
    assert main(["ingest", str(db), "orders", str(path)]) == 3
    err = capsys.readouterr().err
    _clean(err)
    assert 'fix: add to the mapping\'s [columns]: order_id = "Order ID"' in err
    assert "go in a mapping file passed with --mapping FILE (socialvalue doctor FILE writes one)" in err


def test_cli_empty_file(db, tmp_path, capsys):
    path = tmp_path / "orders.csv"
    path.write_bytes(b"")
    capsys.readouterr()
    assert main(["ingest", str(db), "orders", str(path)]) == 3
    err = capsys.readouterr().err
    assert "orders.csv is empty" in err and "missing" not in err
