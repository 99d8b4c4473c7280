"""The insight SQL definitions (issue 19): exact rows on small hand-made stores, and the portable subset.

Each definition is run by the DuckDB engine on a store whose every row is written here, so the expected
result is known row by row: who is acquired (profiled, not a stub, before ``as_of``), which purchase days are
first and second, which periods and cohorts orders fall in, and how customers without consent to profiling
are summed into one row without their ids. The Spark engine runs the same text, so every definition must
transpile with SQLGlot and stay in the subset (no ``QUALIFY``, list or struct functions, ``epoch()``).
"""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest

from socialvalue.engine import DuckDBEngine
from socialvalue.errors import ConfigError
from socialvalue.features import insight as q
from socialvalue.features import to_spark

from .conftest import insert

AS_OF = "2024-07-01"

DEFINITIONS = {
    "channel_customers": lambda: q.channel_customers_query(AS_OF),
    "cohort_members_M": lambda: q.cohort_members_query(AS_OF, "M"),
    "cohort_members_W_first": lambda: q.cohort_members_query(AS_OF, "W", "first_purchase"),
    "cohort_sizes": lambda: q.cohort_sizes_query(AS_OF, "W"),
    "cohort_activity": lambda: q.cohort_activity_query(AS_OF, "M"),
    "cohort_activity_first": lambda: q.cohort_activity_query(AS_OF, "W", "first_purchase"),
    "revenue_currencies": lambda: q.revenue_currencies_query(AS_OF),
    "content_contribution": lambda: q.content_contribution_query(AS_OF, start="2024-01-01"),
    "interaction_columns": q.interaction_columns_query,
    "time_contribution": lambda: q.time_contribution_query(AS_OF),
    "spend": lambda: q.spend_query(AS_OF, start="2023-07-01"),
}


@pytest.mark.parametrize("name", sorted(DEFINITIONS))
def test_every_definition_is_in_the_portable_subset(name):
    """Transpiles to Spark; no QUALIFY, epoch(), list_/struct_ functions; parameters bound by name."""
    query = DEFINITIONS[name]()
    spark = to_spark(query.sql)
    assert "SELECT" in spark.upper()
    text = query.sql.lower()
    assert "qualify" not in text
    assert not re.search(r"\bepoch(_[a-z]+)?\s*\(", text)
    assert not re.search(r"\b(list|struct)_[a-z_]*\s*\(", text)
    assert not re.search(r"\$[0-9]", text)
    assert isinstance(query.params, dict) or query.params == ()


@pytest.fixture
def shop(store):
    """Five customers, orders and ties whose every effect on the definitions is spelled out in the tests."""
    insert(
        store,
        "customers",
        [
            {"customer_id": "a", "signup_at": "2024-01-10", "acquisition_channel": "paid"},
            {"customer_id": "b", "signup_at": "2024-01-20", "acquisition_channel": "  "},  # blank: unknown
            {"customer_id": "c", "acquisition_channel": "referral"},  # no signup: acquired at first purchase
            {"customer_id": "d", "signup_at": "2024-02-01", "consent_profiling": False},  # not profiled
            {"customer_id": "e", "signup_at": "2024-08-01"},  # signs up after as_of
            {"customer_id": "f", "is_stub": True},  # a stub
        ],
    )
    insert(
        store,
        "orders",
        [
            # a: first day 2024-01-15 (two orders that day), second day 2024-03-01, a refund in March
            {"order_id": "1", "customer_id": "a", "ordered_at": "2024-01-15 09:00", "amount": 10},
            {"order_id": "2", "customer_id": "a", "ordered_at": "2024-01-15 18:00", "amount": 5},
            {"order_id": "3", "customer_id": "a", "ordered_at": "2024-03-01 12:00", "amount": 20},
            {
                "order_id": "4",
                "customer_id": "a",
                "ordered_at": "2024-03-05",
                "amount": -5,
                "status": "refunded",
            },
            # b: a cancelled order only: not a purchase
            {
                "order_id": "5",
                "customer_id": "b",
                "ordered_at": "2024-02-01",
                "amount": 8,
                "status": "cancelled",
            },
            # c: first purchase 2024-02-20
            {"order_id": "6", "customer_id": "c", "ordered_at": "2024-02-20 10:00", "amount": 30},
            # d: not profiled, buys in February and in EUR
            {"order_id": "7", "customer_id": "d", "ordered_at": "2024-02-10", "amount": 9, "currency": "EUR"},
            # after as_of: never counted
            {"order_id": "8", "customer_id": "c", "ordered_at": "2024-07-02", "amount": 40},
        ],
    )
    insert(
        store,
        "relationships",
        [
            {"src_id": "a", "dst_id": "c", "kind": "referred", "created_at": "2024-02-01"},
            {"src_id": "b", "dst_id": "a", "kind": "referred", "created_at": "2024-08-01"},  # after as_of
            {"src_id": "b", "dst_id": "b", "kind": "referred"},  # a self-tie
        ],
    )
    return store


def test_channel_customers_rows(shop):
    got = DuckDBEngine(shop).frame(q.channel_customers_query(AS_OF))
    want = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "channel": ["paid", "unknown", "referral"],
            "acquired_at": pd.to_datetime(["2024-01-10", "2024-01-20", "2024-02-20"]),
            "first_purchase_at": pd.to_datetime(["2024-01-15", None, "2024-02-20"]),
            "second_purchase_at": pd.to_datetime(["2024-03-01", None, None]),
            "referred_someone": [True, False, False],
        }
    )
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_cohort_definitions_by_month(shop):
    engine = DuckDBEngine(shop)
    members = engine.frame(q.cohort_members_query(AS_OF, "M"))
    assert members.to_dict("list") == {
        "customer_id": ["a", "b", "c"],
        "cohort": list(pd.to_datetime(["2024-01-01", "2024-01-01", "2024-02-01"])),
    }
    sizes = engine.frame(q.cohort_sizes_query(AS_OF, "M"))
    assert sizes.to_dict("list") == {
        "cohort": list(pd.to_datetime(["2024-01-01", "2024-01-01", "2024-02-01"])),
        "first_day": [pd.NaT, pd.Timestamp("2024-01-15"), pd.Timestamp("2024-02-20")],
        "members": [1, 1, 1],
    }
    activity = engine.frame(q.cohort_activity_query(AS_OF, "M"))
    want = pd.DataFrame(
        {
            "cohort": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-01", "2024-02-01"]),
            "period": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-02-01"]),
            "active": [1, 0, 1, 1],  # b's cancelled order makes no one active
            "purchases": [2, 0, 1, 1],
            "repeat_days": [0, 0, 1, 0],
            "revenue": [15.0, 0.0, 15.0, 30.0],  # March: 20 less the 5 refunded
        }
    )
    pd.testing.assert_frame_equal(activity, want, check_dtype=False)


def test_cohort_definitions_by_first_purchase_week(shop):
    engine = DuckDBEngine(shop)
    members = engine.frame(q.cohort_members_query(AS_OF, "W", "first_purchase"))
    # only buyers; weeks start on Monday (2024-01-15 and 2024-02-19 are Mondays)
    assert members.to_dict("list") == {
        "customer_id": ["a", "c"],
        "cohort": list(pd.to_datetime(["2024-01-15", "2024-02-19"])),
    }
    activity = engine.frame(q.cohort_activity_query(AS_OF, "W", "first_purchase"))
    assert activity["period"].tolist() == list(
        pd.to_datetime(["2024-01-15", "2024-02-26", "2024-03-04", "2024-02-19"])
    )
    assert activity["repeat_days"].tolist() == [0, 1, 0, 0]


def test_shares_definitions_sum_the_unprofiled_into_one_row(shop):
    insert(
        shop,
        "content",
        [
            {
                "content_id": "x1",
                "author_id": "a",
                "kind": "post",
                "created_at": "2024-02-01",
                "helpful_votes": 3,
            },
            {"content_id": "x2", "author_id": "a", "kind": "review", "created_at": "2024-03-01"},
            {
                "content_id": "x3",
                "author_id": "d",
                "kind": "post",
                "created_at": "2024-03-01",
                "helpful_votes": 2,
            },
            {
                "content_id": "x4",
                "author_id": "b",
                "kind": "post",
                "created_at": "2023-12-01",
                "helpful_votes": 7,
            },
            {
                "content_id": "x5",
                "author_id": "c",
                "kind": "post",
                "created_at": "2024-07-01",
                "helpful_votes": 1,
            },
        ],
    )
    insert(
        shop,
        "interactions",
        [
            {
                "event_id": "i1",
                "actor_id": "a",
                "kind": "view",
                "occurred_at": "2024-03-01",
                "duration_s": 30.0,
            },
            {"event_id": "i2", "actor_id": "a", "kind": "view", "occurred_at": "2024-03-02"},
            {
                "event_id": "i3",
                "actor_id": "d",
                "kind": "view",
                "occurred_at": "2024-03-02",
                "duration_s": 5.5,
            },
            {
                "event_id": "i4",
                "actor_id": "b",
                "kind": "view",
                "occurred_at": "2024-07-01",
                "duration_s": 99.0,
            },
        ],
    )
    engine = DuckDBEngine(shop)
    content = engine.frame(q.content_contribution_query(AS_OF, start="2024-01-01")).fillna(
        {"customer_id": "-"}
    )
    # x4 is before the window, x5 at as_of (excluded); d is not profiled: its row has no id
    assert content.to_dict("list") == {
        "customer_id": ["a", "-"],
        "content": [2, 1],
        "helpful_votes": [3, 2],
        "voted": [1, 1],
    }
    time = engine.frame(q.time_contribution_query(AS_OF)).fillna({"customer_id": "-"})
    assert time.to_dict("list") == {
        "customer_id": ["a", "-"],
        "seconds": [30.0, 5.5],
        "timed": [1, 1],
        "interactions": [2, 1],
    }
    assert "duration_s" in engine.frame(q.interaction_columns_query()).columns
    spend = engine.frame(q.spend_query(AS_OF, start="2024-02-01"))
    assert spend.to_dict("list") == {
        "customer_id": ["a", "c"],
        "currency": ["USD", "USD"],
        "spend": [15.0, 30.0],
    }
    assert engine.frame(q.revenue_currencies_query(AS_OF))["currency"].tolist() == ["EUR", "USD"]


def test_bad_frequency_basis_and_date_are_config_errors():
    with pytest.raises(ConfigError, match="cohort frequency 'Q'"):
        q.cohort_activity_query(AS_OF, "Q")
    with pytest.raises(ConfigError, match="cohort basis 'order'"):
        q.cohort_members_query(AS_OF, "M", "order")
    with pytest.raises(ConfigError, match="as_of"):
        q.channel_customers_query(None)
    # parameters are values, never text: an aware as_of is bound as naive UTC
    query = q.channel_customers_query(dt.datetime(2024, 7, 1, 2, tzinfo=dt.timezone(dt.timedelta(hours=2))))
    assert query.params == {"as_of": dt.datetime(2024, 7, 1)}
