"""Interaction, content and loyalty/advocacy scores on hand-computable data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from socialvalue.errors import SchemaError
from socialvalue.social.engagement import (
    ContentScoreConfig,
    content_score,
    interaction_score,
    loyalty_score,
)

AS_OF = pd.Timestamp("2024-06-30")


def _ix(rows):
    return pd.DataFrame(rows, columns=["actor_id", "target_customer_id", "kind", "occurred_at"])


def test_interaction_frequency_diversity_reciprocity():
    t = pd.Timestamp("2024-06-01")
    ix = _ix(
        [
            ("a", "b", "like", t),
            ("a", "b", "comment", t),
            ("a", None, "view", t),  # with the brand
            ("b", "a", "reply", t),  # b answers a: reciprocal
            ("c", None, "like", t),
            ("c", None, "like", t),
            ("c", "d", "like", t),  # d never answers c
            ("a", "b", "like", AS_OF - pd.Timedelta(days=400)),  # outside the 365-day window
            ("a", "b", "like", AS_OF + pd.Timedelta(days=1)),  # after as_of
        ]
    )
    out = interaction_score(ix, AS_OF).set_index("customer_id")
    k = np.log(4)  # kinds seen in the window: like, comment, view, reply
    h_a = np.log(3) / k
    assert out.loc["a", "n_interactions"] == 3
    assert out.loc["a", "kind_entropy"] == pytest.approx(h_a)
    assert out.loc["a", "reciprocity"] == 1.0
    assert out.loc["a", "brand_share"] == pytest.approx(1 / 3)
    assert out.loc["a", "interaction_score"] == pytest.approx(np.log1p(90 / 365) * (0.5 + 0.5 * h_a) * 2)
    assert out.loc["b", "interaction_score"] == pytest.approx(np.log1p(30 / 365) * 0.5 * 2)
    assert out.loc["c", "reciprocity"] == 0.0
    assert out.loc["c", "kind_entropy"] == 0.0
    assert out.loc["c", "interaction_score"] == pytest.approx(np.log1p(90 / 365) * 0.5)
    assert "d" not in out.index


def test_interaction_score_empty_window():
    out = interaction_score(_ix([("a", None, "like", AS_OF + pd.Timedelta(days=2))]), AS_OF)
    assert out.empty and "interaction_score" in out.columns


def test_content_quality_weights():
    t = pd.Timestamp("2024-01-01")
    content = pd.DataFrame(
        {
            "content_id": ["r1", "r2", "r3", "p1", "r4", "late"],
            "author_id": ["a", "b", "c", "a", "d", "a"],
            "created_at": [t, t, t, t, t, AS_OF + pd.Timedelta(days=1)],
            "rating": [5.0, 1.0, 3.0, np.nan, 4.0, 5.0],
            "product_id": ["P", "P", "P", None, "Q", "P"],
            "helpful_votes": [3, 0, 0, 0, None, 100],
            "views": [99, 0, 0, 9, 0, 1000],
            "interactions_drawn": [1, 0, 0, 7, 0, 50],
        }
    )
    cfg = ContentScoreConfig()  # weights 1, 1, 0.25, 0.5
    out = content_score(content, AS_OF, config=cfg).set_index("customer_id")
    # r1: leave-one-out mean of P is (1 + 3) / 2 = 2 -> informativeness |5 - 2| / 2 = 1.5
    q_r1 = 1 + np.log1p(3) + 1.5 + 0.25 * np.log1p(99) + 0.5 * np.log1p(1)
    q_p1 = 1 + 0.25 * np.log1p(9) + 0.5 * np.log1p(7)  # no rating: informativeness 0
    assert out.loc["a", "n_content"] == 2
    assert out.loc["a", "content_score"] == pytest.approx(q_r1 + q_p1)
    assert out.loc["b", "content_score"] == pytest.approx(1 + 1.5)  # |1 - (5 + 3) / 2| / 2
    assert out.loc["c", "content_score"] == pytest.approx(1.0)  # exactly the mean of the others
    assert out.loc["d", "content_score"] == pytest.approx(1 + 0.5)  # only review of Q: |4 - 3| / 2
    assert out.loc["a", "helpful_votes"] == 3  # the item after as_of is ignored


def test_content_score_with_minimal_columns():
    content = pd.DataFrame(
        {"content_id": ["x"], "author_id": ["a"], "created_at": [pd.Timestamp("2024-01-01")]}
    )
    out = content_score(content, AS_OF)
    assert out["content_score"].tolist() == [1.0]


def test_loyalty_score():
    frame = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "n_orders": [4, 1, 0],
            "tenure_days": [365.25, 0.0, 0.0],
            "positive_reviews": [2, 0, None],
            "referrals_made": [1, 0, 0],
        }
    )
    out = loyalty_score(frame).set_index("customer_id")
    assert out.loc["a", "repeat_rate"] == pytest.approx(0.75)
    assert out.loc["a", "loyalty_score"] == pytest.approx(0.75 + np.log(2) + np.log(3) + np.log(2))
    assert out.loc["b", "loyalty_score"] == 0.0
    assert out.loc["c", "loyalty_score"] == 0.0
    with pytest.raises(SchemaError, match="loyalty frame lacks column"):
        loyalty_score(frame.drop(columns="tenure_days"))


def test_interaction_score_from_counts_by_hand():
    """a: 2 likes and 2 views (entropy log 2 / log 3 with 3 kinds seen), 1 of them to the brand, partners b and c,
    b interacted back; b: one comment to a. The counts form equals interaction_score on the same rows."""
    import numpy as np
    import pandas as pd

    from socialvalue.social.engagement import interaction_score, interaction_score_from_counts

    rows = pd.DataFrame(
        {
            "actor_id": ["a", "a", "a", "a", "b"],
            "target_customer_id": ["b", "c", None, "b", "a"],
            "kind": ["like", "like", "view", "view", "comment"],
            "occurred_at": pd.to_datetime(["2024-03-01"] * 5),
        }
    )
    counts = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "kind": ["like", "view", "comment"],
            "c": [2, 2, 1],
            "n_all": [4, 4, 1],
            "n_brand": [1, 1, 0],
            "n_pairs": [2, 2, 1],
            "n_back": [1, 1, 1],
            "n_kinds": [3, 3, 3],
        }
    )
    got = interaction_score_from_counts(counts).set_index("customer_id")
    assert got.loc["a", "kind_entropy"] == pytest.approx(np.log(2) / np.log(3))
    assert got.loc["a", "reciprocity"] == 0.5 and got.loc["b", "reciprocity"] == 1.0
    assert got.loc["a", "brand_share"] == 0.25 and got.loc["b", "kind_entropy"] == 0.0
    want = interaction_score(rows, "2024-03-02").set_index("customer_id")
    pd.testing.assert_frame_equal(got, want, check_exact=True, check_dtype=False)
    empty = interaction_score_from_counts(counts.iloc[:0])
    assert empty.empty and "interaction_score" in empty
