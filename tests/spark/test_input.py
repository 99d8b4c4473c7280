"""Spark input (issue 18, part 1): the same bad files give the same problems as a DuckDB load.

Each case writes a Parquet file with bad rows, loads it with ``Store.ingest`` (customers loaded first), reads
the same folder with ``socialvalue.spark.input.read_tables``, and compares the two ``SchemaError.problems``
lists (file, row, column, value, expected, check) and messages. The one normalisation: the upper end of the
plausible time range is "now + 1 day" to the minute, taken when each path builds its checks, so a minute may
pass between the two; it is replaced by a placeholder in both.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from socialvalue import Store
from socialvalue.errors import ConfigError, SchemaError
from socialvalue.spark.input import canonical_schema, locate, read_tables

from .conftest import write_tables

T = dt.datetime
NAN, INF = float("nan"), float("inf")
_NOW = re.compile(r"and \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC")

CUSTOMERS = pa.table(
    {
        "customer_id": ["C1", "C2", "C3", "C4"],
        "signup_at": pa.array([T(2023, 1, 1), T(2023, 2, 1), None, T(2023, 3, 1)], pa.timestamp("us")),
    }
)


def _money(values):
    return pa.array([None if v is None else Decimal(str(v)) for v in values], pa.decimal128(18, 4))


def _ts(values):
    return pa.array(values, pa.timestamp("us"))


#: kind -> a table with bad rows (and rows that are fine: aliases, case, refunds, exact copies)
BAD = {
    "orders": pa.table(
        {
            "order_id": ["o1", "o2", "o3", "o4", "o5", "o6", "o6", "o7", "o7", "o8", "o9"],
            "customer_id": ["C1", "C2", None, "ZZ", "C1", "C1", "C1", "C2", "C2", "C3", "C4"],
            "ordered_at": _ts([T(2024, 1, 1), T(1960, 5, 1), *[T(2024, 2, d) for d in range(1, 10)]]),
            "amount": _money([10, -5, 3, 4, 5, 6, 7, 8, 8, 9, -2]),
            "currency": ["EUR", "eur", "euro", "USD", "USD", "USD", "USD", "USD", "USD", "USD", "USD"],
            "status": [
                *("completed", "completed", "Shipped", "pending", "COMPLETED"),
                *("completed", "completed", "completed", "completed", "completed", "refunded"),
            ],
            "quantity": pa.array([1, 1, 1, 1, -1, 1, 1, 1, 1, 1, 1], pa.int32()),
        }
    ),
    "content": pa.table(
        {
            "content_id": ["k1", "k2", "k3", "k4", "k5"],
            "author_id": ["C1", "C2", "C3", "C4", "C1"],
            "kind": ["review", "review", "tweet", "post", "Photo"],
            "created_at": _ts([T(2024, 3, d) for d in range(1, 6)]),
            "rating": [NAN, INF, 4.0, None, 2.5],
            "helpful_votes": [1.0, 1.5, None, 2.0, 0.0],
            "views": pa.array([1, 2, -5, 3, 4], pa.int64()),
        }
    ),
    "relationships": pa.table(
        {
            "src_id": ["C1", "C2", "C1", "C1", "C3"],
            "dst_id": ["C2", "C3", "C2", "C4", "ZZ"],
            "kind": ["follows", "enemy", "follow", "friend", "referred"],
            "created_at": _ts([T(2024, 1, 1), T(2024, 1, 2), T(2024, 1, 3), None, T(2024, 1, 5)]),
            "ended_at": _ts([None] * 5),
        }
    ),
    "customers": pa.table(
        {
            "customer_id": ["C1", "C2", None, "C2", "C5"],
            "signup_at": pa.array(
                [T(2023, 1, 1, 12), T(2023, 2, 1), None, T(2023, 2, 2), T(2023, 3, 1)],
                pa.timestamp("us", tz="Europe/Berlin"),
            ),
            "consent_marketing": ["yes", "no", "maybe", "TRUE", None],
            "country": ["DE", "FR", None, "FR", "IT"],
        }
    ),
    "interactions": pa.table(
        {
            "event_id": ["e1", "e2", "e3"],
            "actor_id": ["C1", "C2", "C3"],
            "target_customer_id": [None, "C1", "nobody"],
            "kind": ["like", "comment", "wink"],
            "occurred_at": _ts([T(2024, 4, 1), None, T(2024, 4, 3)]),
        }
    ),
}


def _normal(problems: list[dict]) -> list[dict]:
    return [{**d, "expected": _NOW.sub("and <now + 1 day> UTC", str(d["expected"]))} for d in problems]


def _duckdb_error(tmp_path, folder, kind) -> SchemaError:
    with Store(tmp_path / "store.duckdb") as store:
        if kind != "customers":
            store.ingest("customers", folder / "customers.parquet")
        with pytest.raises(SchemaError) as caught:
            store.ingest(kind, folder / f"{kind}.parquet")
    return caught.value


def _spark_error(spark, folder) -> SchemaError:
    with pytest.raises(SchemaError) as caught:
        read_tables(spark, folder)
    return caught.value


@pytest.mark.parametrize("kind", list(BAD))
def test_bad_rows_give_the_problems_of_a_load(spark, tmp_path, kind):
    tables = {kind: BAD[kind]} if kind == "customers" else {"customers": CUSTOMERS, kind: BAD[kind]}
    folder = write_tables(tmp_path / "input", tables)
    theirs = _duckdb_error(tmp_path, folder, kind)
    ours = _spark_error(spark, folder)
    assert len(ours.problems) >= 3
    assert _normal(ours.problems) == _normal(theirs.problems)
    assert _NOW.sub("", str(ours)) == _NOW.sub("", str(theirs))


def test_the_cases_cover_every_check_of_a_parquet_load(spark, tmp_path):
    seen: set[str] = set()
    for kind in ("orders", "content", "customers", "interactions"):
        tables = {kind: BAD[kind]} if kind == "customers" else {"customers": CUSTOMERS, kind: BAD[kind]}
        folder = write_tables(tmp_path / kind, tables)
        seen.update(d["check"] for d in _spark_error(spark, folder).problems)
    assert seen == {
        "missing",
        "type",
        "range",
        "vocabulary",
        "currency",
        "negative",
        "reference",
        "duplicate",
    }


def test_a_missing_column_is_reported_as_a_load_reports_it(spark, tmp_path):
    orders = (
        BAD["orders"]
        .drop_columns(["amount"])
        .rename_columns(["order_id", "customer_id", "when", "currency", "status", "quantity"])
    )
    folder = write_tables(tmp_path / "input", {"customers": CUSTOMERS, "orders": orders})
    theirs = _duckdb_error(tmp_path, folder, "orders")
    ours = _spark_error(spark, folder)
    assert [d["column"] for d in ours.problems] == ["amount", "ordered_at"]
    assert ours.problems == theirs.problems and str(ours) == str(theirs)


def test_a_nul_character_is_refused_with_its_row(spark, tmp_path):
    interactions = BAD["interactions"].set_column(1, "actor_id", pa.array(["C1", "C\x002", "C3"]))
    folder = write_tables(tmp_path / "input", {"customers": CUSTOMERS, "interactions": interactions})
    theirs = _duckdb_error(tmp_path, folder, "interactions")
    ours = _spark_error(spark, folder)
    assert ours.problems == theirs.problems
    assert str(ours).startswith("interactions.parquet: 1 row with a NUL character; nothing was loaded")


def test_problems_of_several_tables_come_together(spark, tmp_path):
    folder = write_tables(
        tmp_path / "input", {"customers": CUSTOMERS, "orders": BAD["orders"], "content": BAD["content"]}
    )
    error = _spark_error(spark, folder)
    assert {d["source"] for d in error.problems} == {"orders.parquet", "content.parquet"}
    assert str(error).startswith("orders.parquet: ") and "\ncontent.parquet: " in str(error)


def test_good_tables_are_canonical_and_exact_copies_are_dropped(spark, tmp_path):
    orders = pa.table(
        {
            "Order_ID": ["o1", "o1", "o2"],  # names match ignoring case, as in a load
            "customer_id": ["C1", "C1", "C2"],
            "ordered_at": _ts([T(2024, 1, 1)] * 2 + [T(2024, 1, 2)]),
            "amount": [10.5, 10.5, 3.0],  # doubles, cast to DECIMAL(18,4)
            "status": ["Completed", "Completed", "refunded"],
            "note.with `tick": ["a", "a", "b"],  # not canonical: read, checked for NUL, then left out
        }
    )
    folder = write_tables(tmp_path / "input", {"customers": CUSTOMERS, "orders": orders})
    tables = read_tables(spark, folder)
    assert set(tables) == {"customers", "orders", "interactions", "relationships", "content"}
    for kind, frame in tables.items():
        assert (
            frame.schema.simpleString()
            == spark.createDataFrame([], canonical_schema(kind)).schema.simpleString()
        )
    rows = tables["orders"].orderBy("order_id").toArrow().to_pylist()
    assert rows == [
        {
            "order_id": "o1",
            "customer_id": "C1",
            "ordered_at": T(2024, 1, 1),
            "amount": Decimal("10.5000"),
            "currency": "XXX",
            "status": "completed",
            "quantity": None,
        },
        {
            "order_id": "o2",
            "customer_id": "C2",
            "ordered_at": T(2024, 1, 2),
            "amount": Decimal("3.0000"),
            "currency": "XXX",
            "status": "refunded",
            "quantity": None,
        },
    ]
    customers = tables["customers"].orderBy("customer_id").toArrow()
    assert customers.column("consent_profiling").to_pylist() == [True] * 4  # the schema's defaults
    assert customers.column("is_stub").to_pylist() == [False] * 4
    assert tables["content"].count() == 0


def test_a_folder_of_parquet_names_each_file_in_its_problems(spark, tmp_path):
    folder = write_tables(tmp_path / "input", {"customers": CUSTOMERS})
    (folder / "orders").mkdir()
    good, bad = BAD["orders"].slice(0, 1), BAD["orders"].slice(1, 1)  # the 1960 order with a negative amount
    pq.write_table(good, folder / "orders" / "part-0.parquet")
    pq.write_table(bad, folder / "orders" / "part-1.parquet")
    error = _spark_error(spark, folder)
    assert {(d["source"], d["row"], d["check"]) for d in error.problems} == {
        ("orders/part-1.parquet", 1, "range"),
        ("orders/part-1.parquet", 1, "negative"),
    }
    assert str(error).startswith("orders/: 2 problems in 2 rows; nothing was loaded")


@pytest.mark.parametrize(
    ("marker", "fmt", "package"),
    [("_delta_log", "Delta", "io.delta:delta-spark_2.13"), ("metadata", "Iceberg", "iceberg-spark-runtime")],
)
def test_delta_and_iceberg_without_their_connector_are_refused_in_one_line(
    spark, tmp_path, marker, fmt, package
):
    folder = write_tables(tmp_path / "input", {"customers": CUSTOMERS})
    (folder / "orders" / marker).mkdir(parents=True)
    pq.write_table(BAD["orders"].slice(0, 1), folder / "orders" / "part-0.parquet")
    assert locate(folder, "orders").fmt == fmt.lower()
    with pytest.raises(ConfigError) as caught:
        read_tables(spark, folder)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(
        f"orders/ is a {fmt} table and this Spark cannot read it"
    )
    assert package in message


def test_the_folder_and_its_customers_must_exist(spark, tmp_path):
    with pytest.raises(SchemaError, match="is not a folder of canonical tables"):
        read_tables(spark, tmp_path / "nowhere")
    write_tables(tmp_path / "input", {"orders": BAD["orders"]})
    with pytest.raises(SchemaError, match="no customers table"):
        read_tables(spark, tmp_path / "input")
    write_tables(tmp_path / "twice", {"customers": CUSTOMERS})
    (tmp_path / "twice" / "customers").mkdir()
    with pytest.raises(SchemaError, match=r"'customers\.parquet' and 'customers' both hold"):
        read_tables(spark, tmp_path / "twice")


@pytest.mark.parametrize("name", ["o[1]", "a{b,c}", "x*y?", "it's here", "ü😀", "back\\slash"])
def test_exactly_the_named_folder_is_read(spark, tmp_path, name):
    """Spark reads ``* ? [ ] { }`` in a path as a pattern: a decoy the pattern would match is not read."""
    decoys = {"o1", "ab", "x-y!", "b"}
    for decoy in decoys:
        write_tables(tmp_path / decoy, {"customers": pa.table({"customer_id": ["WRONG"]})})
    write_tables(tmp_path / name, {"customers": CUSTOMERS})
    (tmp_path / name / "orders").mkdir()  # a folder without data files is an empty table
    (tmp_path / name / "orders" / "_SUCCESS").write_text("")
    tables = read_tables(spark, tmp_path / name)
    assert sorted(r["customer_id"] for r in tables["customers"].collect()) == ["C1", "C2", "C3", "C4"]
    assert tables["orders"].count() == 0
