"""As-of semantics: window edges, time zones, statuses, relationships, consent and no leakage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from socialvalue.engine import build
from socialvalue.errors import ConfigError

from .conftest import insert

AS_OF = "2024-07-01"


@pytest.fixture
def world(store):
    """A small hand-checked world around as_of = 2024-07-01 00:00 UTC."""
    insert(
        store,
        "customers",
        [
            {
                "customer_id": "a",
                "signup_at": "2024-01-01",
                "acquisition_channel": "paid",
                "consent_marketing": True,
            },
            {"customer_id": "b", "signup_at": "2024-01-01", "consent_profiling": False},
            {"customer_id": "c", "signup_at": None},
            {"customer_id": "d", "signup_at": "2024-08-01"},
            {"customer_id": "e", "signup_at": None},
            {"customer_id": "f", "signup_at": "2024-02-01"},
            {"customer_id": "x", "signup_at": "2023-01-01"},
        ],
    )
    insert(
        store,
        "orders",
        [
            {"order_id": "a1", "customer_id": "a", "ordered_at": "2024-01-10 10:00", "amount": 100},
            {"order_id": "a2", "customer_id": "a", "ordered_at": "2024-01-10 15:00", "amount": 50},
            {"order_id": "a3", "customer_id": "a", "ordered_at": "2024-03-01", "amount": 80},
            {
                "order_id": "a4",
                "customer_id": "a",
                "ordered_at": "2024-03-05",
                "amount": 30,
                "status": "cancelled",
            },
            {
                "order_id": "a5",
                "customer_id": "a",
                "ordered_at": "2024-03-10",
                "amount": -20,
                "status": "refunded",
            },
            # exactly at the start of the 90-day window [2024-04-02, 2024-07-01): inside it
            {
                "order_id": "a6",
                "customer_id": "a",
                "ordered_at": "2024-04-02 00:00",
                "amount": 40,
                "status": "returned",
            },
            {"order_id": "a7", "customer_id": "a", "ordered_at": "2024-06-30 23:59:59.999", "amount": 10},
            # exactly at as_of: the future (holdout), not a feature input
            {"order_id": "a8", "customer_id": "a", "ordered_at": "2024-07-01 00:00", "amount": 999},
            {"order_id": "b1", "customer_id": "b", "ordered_at": "2024-02-01", "amount": 10},
            {"order_id": "c1", "customer_id": "c", "ordered_at": "2024-01-15", "amount": 30},
            {"order_id": "c2", "customer_id": "c", "ordered_at": "2024-03-01", "amount": 70},
            {"order_id": "c3", "customer_id": "c", "ordered_at": "2024-07-10", "amount": 5},
            {"order_id": "e1", "customer_id": "e", "ordered_at": "2024-07-05", "amount": 5},
        ],
    )
    insert(
        store,
        "relationships",
        [
            {"src_id": "x", "dst_id": "a", "kind": "follow", "created_at": "2024-02-01"},
            {
                "src_id": "y",
                "dst_id": "a",
                "kind": "follow",
                "created_at": "2024-02-01",
                "ended_at": "2024-05-01",
            },
            {
                "src_id": "z",
                "dst_id": "a",
                "kind": "follow",
                "created_at": "2024-02-01",
                "ended_at": "2024-07-01",
            },
            {"src_id": "w", "dst_id": "a", "kind": "follow", "created_at": "2024-07-01"},
            {"src_id": "a", "dst_id": "x", "kind": "follow", "created_at": None},
            {"src_id": "a", "dst_id": "c", "kind": "referred", "created_at": "2024-02-01"},
            {"src_id": "a", "dst_id": "g", "kind": "referred", "created_at": "2024-02-01"},
            {"src_id": "a", "dst_id": "x", "kind": "friend", "created_at": "2024-01-01"},
        ],
    )
    insert(
        store,
        "interactions",
        [
            {
                "event_id": "i1",
                "actor_id": "a",
                "target_customer_id": "x",
                "kind": "like",
                "occurred_at": "2024-06-15",
            },
            {
                "event_id": "i2",
                "actor_id": "x",
                "target_customer_id": "a",
                "kind": "comment",
                "occurred_at": "2024-06-30 23:59",
            },
            {
                "event_id": "i3",
                "actor_id": "x",
                "target_customer_id": "a",
                "kind": "like",
                "occurred_at": "2024-07-01",
            },
            {
                "event_id": "i4",
                "actor_id": "a",
                "target_customer_id": "a",
                "kind": "like",
                "occurred_at": "2024-06-20",
            },
            {
                "event_id": "i5",
                "actor_id": "a",
                "target_customer_id": None,
                "kind": "share",
                "occurred_at": "2024-01-01",
            },
        ],
    )
    insert(
        store,
        "content",
        [
            {
                "content_id": "k1",
                "author_id": "a",
                "kind": "review",
                "created_at": "2024-05-01",
                "rating": 4.0,
                "views": 100,
                "helpful_votes": 3,
            },
            {
                "content_id": "k2",
                "author_id": "a",
                "kind": "review",
                "created_at": "2024-06-01",
                "rating": 2.0,
            },
            {"content_id": "k3", "author_id": "a", "kind": "post", "created_at": "2024-07-02", "views": 50},
        ],
    )
    return store


def _row(df: pd.DataFrame, cid: str) -> pd.Series:
    return df.set_index("customer_id").loc[cid]


def test_population_consent_and_existence(world):
    """Consent exclusion; customers that did not exist before as_of are not rows."""
    df = build(world, as_of=AS_OF, unit="D", materialize=False)
    # b: no consent_profiling; d: signs up later; e: no signup and only future activity
    assert sorted(df["customer_id"]) == ["a", "c", "f", "x"]
    f = _row(df, "f")
    assert pd.isna(f["frequency"]) and pd.isna(f["T"]) and f["n_orders"] == 0 and f["total_spend"] == 0


def test_btyd_returns_cancellations_and_window_edges(world):
    a = _row(build(world, as_of=AS_OF, unit="D", materialize=False), "a")
    # purchase days 01-10 (100+50), 03-01, 04-02 (returned order), 06-30 23:59:59.999; cancelled ignored,
    # the refund row is no purchase, the 999 at exactly as_of is not counted
    assert a["frequency"] == 3
    assert a["recency"] == 172 and a["T"] == 172 and a["n_periods"] == 172
    assert a["monetary_value"] == pytest.approx((80 + 40 + 10) / 3)
    assert a["n_orders"] == 5
    assert a["n_returns"] == 2 and a["returned_amount"] == pytest.approx(60)
    assert a["total_spend"] == pytest.approx(100 + 50 + 80 + 40 + 10 - 60)
    assert a["mean_spend"] == pytest.approx(220 / 5)
    # 90-day window starts 2024-04-02 00:00 inclusive: a6 (returned, net 0) and a7
    assert a["n_orders_90d"] == 2 and a["spend_90d"] == pytest.approx(10)
    assert a["orders_last_90d"] == 2 and a["orders_prev_90d"] == 3  # 01-10 (x2), 03-01
    assert a["days_since_last_purchase"] == 1
    assert a["last_purchase_at"] == pd.Timestamp("2024-06-30 23:59:59.999")
    assert a["tenure_days"] == 182
    gaps = np.array([51, 32, 89])
    assert a["ipt_mean_days"] == pytest.approx(gaps.mean())
    assert a["ipt_cv"] == pytest.approx(gaps.std(ddof=1) / gaps.mean())
    assert a["T"] - a["recency"] == 0  # last purchase on the last observed day


def test_single_purchase_customer(world):
    """One purchase day: frequency 0, recency 0, monetary_value 0 (lifetimes convention), no IPT."""
    insert(world, "customers", [{"customer_id": "s", "signup_at": "2024-05-01"}])
    insert(
        world, "orders", [{"order_id": "s1", "customer_id": "s", "ordered_at": "2024-06-03", "amount": 25}]
    )
    s = _row(build(world, as_of=AS_OF, unit="W", materialize=False), "s")
    assert s["frequency"] == 0 and s["recency"] == 0 and s["monetary_value"] == 0
    assert s["T"] == pytest.approx(27 / 7) and s["n_periods"] == 3
    assert pd.isna(s["ipt_mean_days"]) and pd.isna(s["ipt_cv"])
    assert s["total_spend"] == 25 and s["mean_spend"] == 25


def test_social_aggregates(world):
    df = build(world, as_of=AS_OF, unit="D", materialize=False)
    a = _row(df, "a")
    # followers: x (open), z (ends exactly at as_of: still active); not y (ended before), not w (starts at as_of)
    assert a["followers"] == 2 and a["following"] == 1 and a["friends"] == 1
    assert (
        _row(df, "x")["following"] == 1 and _row(df, "x")["followers"] == 1 and _row(df, "x")["friends"] == 1
    )
    assert a["referrals_made"] == 2
    # c bought 30 before the referral and 70 after it (and 5 after as_of)
    assert a["referred_buyers"] == 1 and a["referred_revenue"] == pytest.approx(70)
    assert a["int_given_like_30d"] == 2 and a["int_given_share_30d"] == 0 and a["int_given_share_365d"] == 1
    assert a["int_given_30d"] == 2 and a["int_given_365d"] == 3
    # received: x's comment at 23:59 counts, x's like at as_of does not, a's self-like does not
    assert (
        a["int_received_comment_30d"] == 1
        and a["int_received_like_365d"] == 0
        and a["int_received_365d"] == 1
    )
    assert a["distinct_partners_365d"] == 1
    assert a["interactions_last_90d"] == 2 and a["interactions_prev_90d"] == 0
    assert a["days_since_last_interaction"] == 11
    assert a["content_review"] == 2 and a["content_post"] == 0 and a["content_total"] == 2
    assert a["review_mean_rating"] == pytest.approx(3.0)
    assert a["helpful_votes_total"] == 3 and a["content_views_total"] == 100
    assert a["consent_marketing"] and a["acquisition_channel"] == "paid"
    assert _row(df, "x")["distinct_partners_365d"] == 1


def test_holdout_targets(world):
    df = build(world, calibration_end=AS_OF, holdout_end="2024-08-01", unit="D", materialize=False)
    a, c = _row(df, "a"), _row(df, "c")
    assert (
        a["holdout_transactions"] == 1 and a["holdout_revenue"] == pytest.approx(999) and a["holdout_active"]
    )
    assert c["holdout_transactions"] == 1 and c["holdout_revenue"] == pytest.approx(5)
    # a's network in the holdout: followers x, z and referred c, g; only c bought (5)
    assert a["holdout_network_revenue"] == pytest.approx(5)
    assert a["holdout_duration"] == 31
    assert not _row(df, "f")["holdout_active"]
    # the holdout columns do not change the as-of features
    plain = build(world, as_of=AS_OF, unit="D", materialize=False)
    pd.testing.assert_frame_equal(df[plain.columns], plain)


def test_no_leakage_from_future_rows(world):
    """Features are unchanged when rows dated at or after as_of are added to every table."""
    before = build(world, as_of=AS_OF, unit="W", materialize=False)
    insert(world, "customers", [{"customer_id": "late", "signup_at": "2024-07-01"}, {"customer_id": "stub"}])
    insert(
        world,
        "orders",
        [
            {"order_id": "f1", "customer_id": "a", "ordered_at": "2024-07-01", "amount": 5},
            {"order_id": "f2", "customer_id": "f", "ordered_at": "2024-09-01", "amount": 7},
            {"order_id": "f3", "customer_id": "stub", "ordered_at": "2024-09-01", "amount": 7},
            {
                "order_id": "f4",
                "customer_id": "a",
                "ordered_at": "2025-01-01",
                "amount": -5,
                "status": "refunded",
            },
        ],
    )
    insert(
        world,
        "interactions",
        [
            {
                "event_id": "f1",
                "actor_id": "a",
                "target_customer_id": "f",
                "kind": "like",
                "occurred_at": "2024-07-01",
            },
            {
                "event_id": "f2",
                "actor_id": "stub",
                "target_customer_id": "a",
                "kind": "share",
                "occurred_at": "2024-08-01",
            },
        ],
    )
    insert(
        world,
        "relationships",
        [
            {"src_id": "f", "dst_id": "a", "kind": "follow", "created_at": "2024-07-01 00:00"},
            {"src_id": "a", "dst_id": "stub", "kind": "referred", "created_at": "2024-07-02"},
            {"src_id": "stub", "dst_id": "a", "kind": "friend", "created_at": "2024-12-01"},
        ],
    )
    insert(
        world,
        "content",
        [{"content_id": "f1", "author_id": "f", "kind": "photo", "created_at": "2024-07-01"}],
    )
    after = build(world, as_of=AS_OF, unit="W", materialize=False)
    pd.testing.assert_frame_equal(before, after)
    # ...while a later as_of does see them
    later = build(world, as_of="2024-07-01 00:00:01", unit="W", materialize=False)
    assert _row(later, "a")["n_orders"] == _row(before, "a")["n_orders"] + 2


def test_time_zones(world):
    """An aware as_of is converted to UTC: 02:00+02:00 is the same instant as midnight UTC."""
    utc = build(world, as_of=AS_OF, unit="D", materialize=False)
    cest = build(world, as_of="2024-07-01T02:00:00+02:00", unit="D", materialize=False)
    pd.testing.assert_frame_equal(utc, cest)
    aware = build(
        world, as_of=pd.Timestamp("2024-06-30 20:00", tz="America/New_York"), unit="D", materialize=False
    )
    # 20:00 EDT = 00:00 UTC next day
    pd.testing.assert_frame_equal(utc, aware)
    # 00:00-01:00 is 01:00 UTC: the 999 order at 00:00 UTC now counts
    later = build(world, as_of="2024-07-01T00:00:00-01:00", unit="D", materialize=False)
    assert _row(later, "a")["n_orders"] == _row(utc, "a")["n_orders"] + 1
    assert _row(later, "a")["frequency"] == _row(utc, "a")["frequency"] + 1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({}, "as_of is required"),
        ({"as_of": "not a date"}, "not a date or timestamp"),
        ({"as_of": AS_OF, "unit": "M"}, "unknown time unit 'M'"),
        ({"as_of": AS_OF, "holdout_end": "2024-06-01"}, "must be after as_of"),
        ({"as_of": AS_OF, "calibration_end": "2024-06-30"}, "must equal as_of"),
    ],
)
def test_invalid_time_inputs(store, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        build(store, materialize=False, **kwargs)


def test_dtypes_and_contract_columns(world):
    df = build(world, as_of=AS_OF, unit="W", holdout_end="2024-10-01", materialize=False)
    contract = (
        "frequency recency T monetary_value n_periods first_purchase_at last_purchase_at days_since_last_purchase "
        "n_orders total_spend mean_spend n_orders_90d spend_90d n_orders_365d spend_365d n_returns returned_amount "
        "tenure_days ipt_mean_days ipt_cv orders_last_90d orders_prev_90d interactions_last_90d "
        "interactions_prev_90d days_since_last_interaction int_given_like_30d int_received_view_365d int_given_90d "
        "int_received_365d distinct_partners_365d followers following referrals_made referred_buyers "
        "referred_revenue content_review content_total review_mean_rating helpful_votes_total content_views_total "
        "holdout_transactions holdout_revenue holdout_active holdout_referrals holdout_network_revenue "
        "holdout_duration consent_marketing acquisition_channel signup_at"
    ).split()
    missing = [c for c in contract if c not in df.columns]
    assert not missing
    assert df["customer_id"].is_unique
    assert df["n_orders"].dtype.kind == "i" and df["int_given_like_30d"].dtype.kind == "i"
    assert df["total_spend"].dtype == np.float64 and df["T"].dtype == np.float64
    # integer columns with NULLs (non-buyers) stay integers: nullable Int64
    assert (
        df["frequency"].dtype == pd.Int64Dtype() and df["frequency"].isna().sum() == 2
    )  # f and x never bought
