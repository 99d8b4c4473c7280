"""Each validation rule, with its exact message; all problems of a load together, capped, with the total."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest

from socialvalue.errors import ErasedCustomerError, SchemaError
from socialvalue.ingest import IngestRules


def _orders(**overrides):
    base = {
        "order_id": ["o1", "o2", "o3"],
        "customer_id": ["c1", "c2", "c3"],
        "ordered_at": ["2024-01-01", "2024-01-02", "2024-01-03"],
        "amount": ["1", "2", "3"],
    }
    base.update(overrides)
    return pd.DataFrame(base)


def _write_csv(df, tmp_path, name="orders.csv"):
    path = tmp_path / name
    df.to_csv(path, index=False)
    return path


def test_missing_required_column_is_named(with_customers, tmp_path):
    path = _write_csv(_orders().drop(columns=["amount"]), tmp_path)
    with pytest.raises(
        SchemaError,
        match=r"orders\.csv: 1 problem; nothing was loaded:\n  column 'amount': missing; "
        r"expected a source column named amount\nfix: the file's columns are: 'order_id', 'customer_id'",
    ):
        with_customers.ingest("orders", path)


def test_unparseable_values_name_file_row_column_value_and_expectation(with_customers, tmp_path):
    path = _write_csv(
        _orders(amount=["1", "abc", "3"], ordered_at=["2024-01-01", "2024-01-02", "yesterday"]), tmp_path
    )
    with pytest.raises(SchemaError) as info:
        with_customers.ingest("orders", path)
    msg = str(info.value)
    assert msg.startswith("orders.csv: 2 problems in 3 rows; nothing was loaded:")
    assert "  row 2, column 'amount': got 'abc'; expected a decimal number such as 1234.50" in msg
    assert (
        "  row 3, column 'ordered_at': got 'yesterday'; expected a timestamp such as 2024-01-31 13:45:00"
        in msg
    )
    assert info.value.problems[0] == {
        "source": "orders.csv",
        "row": 2,
        "column": "amount",
        "value": "abc",
        "expected": "a decimal number such as 1234.50",
        "check": "type",
    }
    assert with_customers.table_counts()["orders"] == 0


def test_empty_required_value(with_customers):
    with pytest.raises(
        SchemaError,
        match=r"row 2, column 'customer_id': got an empty value; expected a value \(the column may not be empty\)",
    ):
        with_customers.ingest("orders", _orders(customer_id=["c1", None, "c3"]))


def test_duplicate_keys_with_different_values_are_an_error(with_customers):
    df = _orders(order_id=["o1", "o2", "o1"])
    with pytest.raises(
        SchemaError,
        match=r"row 3, column 'order_id': got 'o1'; expected a unique key \(row 1 has the same key with different values\)",
    ):
        with_customers.ingest("orders", df)


def test_exact_duplicate_rows_are_collapsed(with_customers):
    df = pd.concat([_orders(), _orders().iloc[[0]]], ignore_index=True)
    report = with_customers.ingest("orders", df)
    assert (report.rows_in, report.inserted, report.duplicates_dropped) == (4, 3, 1)
    assert with_customers.table_counts()["orders"] == 3


def test_composite_key_duplicates(with_customers):
    df = pd.DataFrame(
        {
            "src_id": ["c1", "c1"],
            "dst_id": ["c2", "c2"],
            "kind": ["follows", "follows"],
            "created_at": ["2024-01-01", "2024-02-01"],
        }
    )
    with pytest.raises(
        SchemaError, match=r"row 2, column '\(src_id, dst_id, kind\)': got .*c1.*c2.*follow\)'"
    ):
        with_customers.ingest("relationships", df)


def test_unknown_customer_rejected_or_stubbed(with_customers):
    df = _orders(customer_id=["c1", "nobody", "nobody"])
    with pytest.raises(
        SchemaError,
        match=r"row 2, column 'customer_id': got 'nobody'; expected an existing customer_id \(load customers first",
    ):
        with_customers.ingest("orders", df)
    report = with_customers.ingest("orders", df, on_missing_customer="stub")
    assert report.stubs_created == 1
    assert with_customers.con.execute(
        "SELECT customer_id, is_stub, consent_marketing, consent_profiling FROM customers WHERE is_stub"
    ).fetchall() == [("nobody", True, False, True)]
    # Loading the real customer later turns the stub into a full customer.
    with_customers.ingest("customers", pd.DataFrame({"customer_id": ["nobody"], "country": ["NL"]}))
    assert with_customers.con.execute(
        "SELECT is_stub, country FROM customers WHERE customer_id = 'nobody'"
    ).fetchall() == [(False, "NL")]


def test_references_checked_on_every_customer_column(with_customers):
    df = pd.DataFrame({"src_id": ["c1", "x"], "dst_id": ["y", "c2"], "kind": ["follows", "friend"]})
    with pytest.raises(SchemaError) as info:
        with_customers.ingest("relationships", df)
    assert [(p["row"], p["column"], p["value"]) for p in info.value.problems] == [
        (1, "dst_id", "y"),
        (2, "src_id", "x"),
    ]
    # A null optional reference (interaction aimed at the brand) is fine.
    ok = pd.DataFrame(
        {
            "event_id": ["e"],
            "actor_id": ["c1"],
            "target_customer_id": [None],
            "kind": ["like"],
            "occurred_at": ["2024-01-01"],
        }
    )
    assert with_customers.ingest("interactions", ok).inserted == 1


def test_negative_amount_only_for_refunds(with_customers):
    df = _orders(amount=["-1", "-2", "3"], status=["completed", "refunded", "completed"])
    with pytest.raises(
        SchemaError,
        match=r"1 problem in 3 rows.*\n  row 1, column 'amount': got '-1'; expected an amount >= 0 \(negative only with "
        r"status returned or refunded\)$",
    ):
        with_customers.ingest("orders", df)


def test_timestamps_in_plausible_range_configurable(with_customers):
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).strftime("%Y-%m-%d")
    df = _orders(ordered_at=["1969-12-31", future, "2024-01-01"])
    with pytest.raises(SchemaError) as info:
        with_customers.ingest("orders", df)
    assert [(p["row"], p["check"]) for p in info.value.problems] == [(1, "range"), (2, "range")]
    assert re.search(
        r"row 1, column 'ordered_at': got '1969-12-31'; expected a timestamp between 1970-01-01 and",
        str(info.value),
    )
    rules = IngestRules(min_timestamp=dt.datetime(1900, 1, 1), max_future=dt.timedelta(days=10))
    assert with_customers.ingest("orders", df, rules=rules).inserted == 3


def test_vocabulary_and_configurable_vocabulary(with_customers):
    from socialvalue.config import Vocabulary

    df = pd.DataFrame(
        {
            "event_id": ["e1", "e2"],
            "actor_id": ["c1", "c2"],
            "kind": ["like", "wave"],
            "occurred_at": ["2024-01-01"] * 2,
        }
    )
    with pytest.raises(
        SchemaError, match=r"row 2, column 'kind': got 'wave'; expected one of like, comment, share"
    ):
        with_customers.ingest("interactions", df)
    rules = IngestRules(vocabulary=Vocabulary(interaction_kinds=("like", "wave")))
    assert with_customers.ingest("interactions", df, rules=rules).inserted == 2


def test_bad_currency_and_negative_count(with_customers):
    df = _orders(currency=["EUR", "euro", "usd"], quantity=["1", "-2", "3"])
    with pytest.raises(SchemaError) as info:
        with_customers.ingest("orders", df)
    msg = str(info.value)
    assert "row 2, column 'currency': got 'EURO'; expected a three-letter ISO-4217 code such as EUR" in msg
    assert "row 2, column 'quantity': got '-2'; expected a count >= 0" in msg
    assert len(info.value.problems) == 2  # 'usd' is upper-cased to a valid code


def test_all_problems_reported_together_with_cap_and_total(with_customers, tmp_path):
    n = 60
    df = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(n)],
            "customer_id": ["c1"] * n,
            "ordered_at": ["not a date"] * n,
            "amount": ["x"] * n,
        }
    )
    path = _write_csv(df, tmp_path, "bad.csv")
    with pytest.raises(SchemaError) as info:
        with_customers.ingest("orders", path)
    msg = str(info.value)
    assert msg.startswith("bad.csv: 120 problems in 60 rows; nothing was loaded (first 20 shown):\n")
    assert len([line for line in msg.splitlines() if line.startswith("  row ")]) == 20
    assert msg.endswith("  ... and 100 more")
    assert len(info.value.problems) == 120
    assert info.value.problems[0]["row"] == 1 and info.value.problems[-1]["row"] == 60
    few = IngestRules(max_listed=5)
    with pytest.raises(SchemaError, match=r"\(first 5 shown\)"):
        with_customers.ingest("orders", path, rules=few)


def test_different_checks_of_one_load_reported_together(with_customers):
    df = _orders(order_id=["o1", "o1", "o3"], customer_id=["c1", "c2", "ghost"], amount=["1", "2", "-3"])
    with pytest.raises(SchemaError) as info:
        with_customers.ingest("orders", df)
    assert sorted((p["row"], p["check"]) for p in info.value.problems) == [
        (2, "duplicate"),
        (3, "negative"),
        (3, "reference"),
    ]


def test_erased_customer_rows_refused_unless_forced(with_customers, orders_df):
    with_customers.ingest("orders", orders_df)
    with_customers.erase("c1")
    with pytest.raises(
        ErasedCustomerError,
        match=r"row 1, column 'customer_id': got 'c1'; expected a customer who was not erased \(erased customers are loaded only when forced\)",
    ) as info:
        with_customers.ingest("orders", orders_df)
    assert [p["row"] for p in info.value.problems] == [1, 2]
    report = with_customers.ingest("orders", orders_df, force=True, on_missing_customer="stub")
    assert report.inserted == 2 and report.stubs_created == 1


def test_every_extra_row_of_a_conflicting_key_is_listed_and_null_keys_are_not_duplicates(with_customers):
    df = _orders(
        order_id=["o1", "o1", "o1", None, None],
        customer_id=["c1", "c2", "c1", "c1", "c2"],
        ordered_at=["2024-01-01"] * 5,
        amount=["1"] * 5,
    )
    with pytest.raises(SchemaError) as info:
        with_customers.ingest("orders", df)
    assert [(p["row"], p["check"]) for p in info.value.problems] == [
        (2, "duplicate"),
        (3, "duplicate"),
        (4, "missing"),
        (5, "missing"),
    ]
    assert str(info.value).startswith("<pandas.DataFrame>: 4 problems in 5 rows")
