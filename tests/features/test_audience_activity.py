"""The audience's recent activity (followers' own purchases in the year before as_of), computed by hand."""

from __future__ import annotations

import pytest

from socialvalue.pipeline.social_inputs import audience_activity

from .conftest import insert


def test_followers_purchases_in_the_year_before(store):
    """b and c follow a (b twice), a follows itself, d follows a but the tie ended; c follows b from later.

    As of 2024-06-01: a's followers are b and c; b bought 2 orders in the year (one older order, one return
    of 10 and one order on as_of do not count as purchases), c 1 order. b's follower c's tie starts after as_of.
    """
    insert(store, "customers", [{"customer_id": c} for c in "abcde"])
    insert(
        store,
        "relationships",
        [
            {"src_id": "b", "dst_id": "a", "kind": "follow"},
            {"src_id": "b", "dst_id": "a", "kind": "follow", "created_at": "2023-01-01"},
            {"src_id": "c", "dst_id": "a", "kind": "follow", "created_at": "2024-01-01"},
            {"src_id": "a", "dst_id": "a", "kind": "follow"},
            {
                "src_id": "d",
                "dst_id": "a",
                "kind": "follow",
                "created_at": "2023-01-01",
                "ended_at": "2024-02-01",
            },
            {"src_id": "c", "dst_id": "b", "kind": "follow", "created_at": "2024-07-01"},
        ],
    )
    orders = [
        ("o1", "b", "2024-01-10", 30.0, "completed"),
        ("o2", "b", "2024-05-31", 20.0, "completed"),
        ("o3", "b", "2023-05-01", 99.0, "completed"),  # more than a year before
        ("o4", "b", "2024-03-01", -10.0, "returned"),  # a return: net spend, not a purchase
        ("o5", "b", "2024-06-01", 50.0, "completed"),  # on as_of: not before it
        ("o6", "c", "2024-04-01", 5.0, "completed"),
        ("o7", "d", "2024-04-01", 70.0, "completed"),  # d's tie had ended
        ("o8", "a", "2024-04-01", 70.0, "completed"),  # a's own purchase is not its audience's
    ]
    insert(
        store,
        "orders",
        [
            {"order_id": o, "customer_id": c, "ordered_at": t, "amount": a, "status": s}
            for o, c, t, a, s in orders
        ],
    )
    got = audience_activity(store, "2024-06-01").set_index("customer_id")
    assert got.loc["a", "audience_orders_365d"] == 3
    assert got.loc["a", "audience_spend_365d"] == pytest.approx(30 + 20 - 10 + 5)
    assert (got.drop(index="a")[["audience_orders_365d", "audience_spend_365d"]] == 0).all().all()
    later = audience_activity(store, "2024-08-01").set_index("customer_id")
    assert later.loc["b", "audience_orders_365d"] == 1  # c follows b from 2024-07-01
