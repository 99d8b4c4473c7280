"""Strict ingest (issue 13, defect 9): every silently changed or accepted value is refused or loaded exactly."""

from __future__ import annotations

import os

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from socialvalue.errors import SchemaError

ORDER_HEAD = "order_id,customer_id,ordered_at,amount,quantity\n"


def _refused(store, kind, source, match):
    before = store.table_counts()
    with pytest.raises(SchemaError, match=match) as info:
        store.ingest(kind, source)
    assert store.table_counts() == before
    msg = str(info.value)
    for internal in ("SELECT", "_sv_", "__raw__", "Traceback"):
        assert internal not in msg
    return msg


def test_fractional_quantity_is_not_rounded(with_customers, tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(ORDER_HEAD + "o1,c1,2024-01-01,10,1.5\no2,c1,2024-01-01,10,2.0\n")
    msg = _refused(
        with_customers, "orders", path, r"row 1, column 'quantity': got '1\.5'; expected a whole number"
    )
    assert "row 2" not in msg  # "2.0" is a whole number
    df = pd.DataFrame(
        {"order_id": ["o1"], "customer_id": ["c1"], "ordered_at": ["2024-01-01"], "amount": [1.0]}
    )
    df["quantity"] = [1.5]
    _refused(with_customers, "orders", df, r"got '1\.5'; expected a whole number")


def test_whole_quantities_load(with_customers, tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(ORDER_HEAD + "o1,c1,2024-01-01,10,3\no2,c1,2024-01-01,10,2.0\n")
    with_customers.ingest("orders", path)
    assert with_customers.scalar("SELECT list(quantity ORDER BY order_id) FROM orders") == [3, 2]


@pytest.mark.parametrize(
    "stamp", ["2024-01-01T10:00:00+25:00", "2024-01-01 10:00+05:75", "2024-01-01 10:00:00-1500"]
)
def test_impossible_offsets_are_refused(with_customers, tmp_path, stamp):
    path = tmp_path / "o.csv"
    path.write_text(ORDER_HEAD + f"o1,c1,{stamp},10,1\n")
    _refused(with_customers, "orders", path, r"column 'ordered_at'.*offset between -14:00 and \+14:00")


def test_real_offsets_still_load(with_customers, tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(
        ORDER_HEAD + "o1,c1,2024-01-01T10:00:00+14:00,10,1\no2,c1,2024-01-01T10:00:00-05:30,10,1\n"
    )
    assert with_customers.ingest("orders", path).inserted == 2


@pytest.mark.parametrize("bad", ["NaN", "inf", "-Infinity"])
def test_nan_rating_is_refused(with_customers, tmp_path, bad):
    path = tmp_path / "content.csv"
    path.write_text(f"content_id,author_id,created_at,kind,rating\nx1,c1,2024-01-01,review,{bad}\n")
    _refused(with_customers, "content", path, r"column 'rating'.*expected a finite number")


def test_missing_rating_in_pandas_is_null(with_customers):
    df = pd.DataFrame(
        {
            "content_id": ["x1"],
            "author_id": ["c1"],
            "created_at": ["2024-01-01"],
            "kind": ["review"],
            "rating": [float("nan")],
        }
    )
    with_customers.ingest("content", df)
    assert with_customers.scalar("SELECT rating FROM content") is None


def test_unbalanced_quote_is_refused_with_its_row(store, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text('customer_id,country\nc1,DE\n"c2,FR\nc3,US\n')
    _refused(
        store,
        "customers",
        path,
        r"row 2, column 'customer_id': got '\"c2'; expected a value whose double quotes are balanced",
    )


def test_quoted_values_still_load(store, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text('customer_id,country\n"c,1",DE\n"say ""hi""",FR\n')
    store.ingest("customers", path)
    assert sorted(store.scalar("SELECT list(customer_id) FROM customers")) == ["c,1", 'say "hi"']


def test_json_object_or_array_as_id_is_refused(store, tmp_path):
    path = tmp_path / "c.json"
    path.write_text(
        '[{"customer_id": "a"}, {"customer_id": {"a": 1}}, {"customer_id": [1]}, {"customer_id": 5}]'
    )
    msg = _refused(store, "customers", path, r"row 2, column 'customer_id'.*expected a single text value")
    assert "row 3" in msg and "row 4" not in msg and "row 1," not in msg
    df = pd.DataFrame({"customer_id": ["a", {"a": 1}]})
    _refused(store, "customers", df, r"row 2, column 'customer_id'.*not a nested object or list")


def test_json_scalars_load_as_text(store, tmp_path):
    path = tmp_path / "c.json"
    path.write_text('[{"customer_id": "a"}, {"customer_id": 5}]')
    store.ingest("customers", path)
    assert sorted(store.scalar("SELECT list(customer_id) FROM customers")) == ["5", "a"]


def test_nul_byte_is_refused(store, tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(b"customer_id,country\nc1,DE\nc\x002,FR\n")
    _refused(store, "customers", path, r"row 2, column 'customer_id'.*expected text without NUL")
    _refused(store, "customers", pd.DataFrame({"customer_id": ["ok", "x\x00y"]}), r"NUL")
    _refused(store, "customers", pd.DataFrame({"customer_id": ["ok"], "note": ["x\x00"]}), r"column 'note'")


@pytest.mark.parametrize(
    "header", ["customer_id,country,customer_id", "customer_id,country,CUSTOMER_ID", "id,ID,customer_id"]
)
def test_repeated_column_names_are_refused_naming_both(store, tmp_path, header):
    path = tmp_path / "c.csv"
    path.write_text(header + "\na,DE,b\n")
    msg = _refused(store, "customers", path, r"names a column twice")
    names = header.split(",")
    dup = [n for n in names if sum(m.lower() == n.lower() for m in names) > 1]
    assert all(repr(n) in msg for n in dup)


def test_repeated_column_names_in_json_and_frames(store, tmp_path):
    path = tmp_path / "c.json"
    path.write_text('[{"customer_id": "x", "CUSTOMER_ID": "y"}]')
    _refused(store, "customers", path, r"'CUSTOMER_ID' and 'customer_id'|'customer_id' and 'CUSTOMER_ID'")
    df = pd.DataFrame([["a", "b"]], columns=["customer_id", "Customer_ID"])
    _refused(store, "customers", df, r"'customer_id' and 'Customer_ID'")
    table = pa.table({"customer_id": ["a"], "Country": ["x"], "country": ["y"]})
    _refused(store, "customers", table, r"'Country' and 'country'")


def test_legit_suffixed_names_still_load(store, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("customer_id,score,score_1\na,1,2\n")
    store.ingest("customers", path)
    assert store.scalar("SELECT extra->>'score_1' FROM customers") == "2"


def test_parquet_column_named_file_row_number_loads(store, tmp_path):
    path = tmp_path / "c.parquet"
    pq.write_table(pa.table({"customer_id": ["a", "b"], "file_row_number": [7, 8]}), path)
    report = store.ingest("customers", path)
    assert report.inserted == 2
    assert store.scalar("SELECT list(extra->>'file_row_number' ORDER BY customer_id) FROM customers") == [
        "7",
        "8",
    ]
    bad = tmp_path / "d.parquet"
    pq.write_table(pa.table({"customer_id": ["a", None], "file_row_number": [7, 8]}), bad)
    msg = _refused(store, "orders", bad, r"row|column")
    assert "file_row_number +" not in msg and "EXCLUDE" not in msg


def test_directory_and_fifo_are_named(store, tmp_path):
    _refused(store, "customers", tmp_path, r"is a directory")
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    _refused(store, "customers", fifo, r"is not a regular file")
    _refused(store, "customers", tmp_path / "nope.csv", r"no such file")


def test_json_with_byte_order_mark_loads(store, tmp_path):
    path = tmp_path / "c.json"
    path.write_bytes(b'\xef\xbb\xbf[{"customer_id": "a"}, {"customer_id": "b"}]')
    assert store.ingest("customers", path).inserted == 2
    lines = tmp_path / "c.jsonl"
    lines.write_bytes(b'\xef\xbb\xbf{"customer_id": "c"}\n')
    assert store.ingest("customers", lines).inserted == 1


def test_csv_epoch_seconds_load_when_the_whole_column_is_integers(with_customers, tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(ORDER_HEAD + "o1,c1,1704103200,10,1\no2,c1,1706788800,10,1\n")
    with_customers.ingest("orders", path)
    got = with_customers.scalar(
        "SELECT list(strftime(ordered_at, '%Y-%m-%d %H:%M') ORDER BY order_id) FROM orders"
    )
    assert got == ["2024-01-01 10:00", "2024-02-01 12:00"]


def test_mixed_epoch_and_dates_are_refused(with_customers, tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(ORDER_HEAD + "o1,c1,1704103200,10,1\no2,c1,2024-02-01,10,1\n")
    _refused(with_customers, "orders", path, r"row 1, column 'ordered_at': got '1704103200'")
