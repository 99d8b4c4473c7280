"""Shares (issue 19, part 3): content, helpfulness, time and wallet shares equal pandas and sum to 1.

On the demo shop the content and helpfulness shares are recomputed from the raw content table; time shares
come from interactions loaded with a ``duration_s`` column; wallet shares from a category-spend table read
through ingest's validation. The unavailable paths (no duration column, no duration value, no content, no
helpfulness votes, no category-spend table) each say why.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from socialvalue.errors import ConfigError, SchemaError
from socialvalue.ingest.optional import read_optional
from socialvalue.insight import content_shares, time_shares, wallet_shares

from ..features.conftest import insert
from .conftest import DEMO_AS_OF


def test_content_and_helpfulness_shares_equal_pandas_and_sum_to_one(demo, demo_segments):
    store, tables, _ = demo
    shares = content_shares(store, DEMO_AS_OF, demo_segments)
    content = tables["content"]
    content = content[content["created_at"] < DEMO_AS_OF]
    profiled = set(
        tables["customers"].loc[tables["customers"]["consent_profiling"].astype(bool), "customer_id"]
    )
    for measure, amount in (("content", None), ("helpfulness", "helpful_votes")):
        per = (
            content.groupby("author_id").size()
            if amount is None
            else content[amount].fillna(0).groupby(content["author_id"]).sum()
        )
        total = per.sum()
        share = shares[measure]
        assert share.available and share.reason == "" and share.total == total
        want = per[per.index.isin(profiled) & (per > 0)] / total
        got = share.by_customer.set_index("customer_id")["share"]
        pd.testing.assert_series_equal(got.sort_index(), want.sort_index(), check_names=False)
        assert share.unprofiled_share == pytest.approx(per[~per.index.isin(profiled)].sum() / total)
        assert share.by_customer["share"].sum() + share.unprofiled_share == pytest.approx(1.0)
        assert share.by_segment["share"].sum() == pytest.approx(1.0)
        seg = demo_segments.set_index("customer_id")["segment"]
        by_seg = (per[per.index.isin(profiled)] / total).groupby(seg).sum()
        got_seg = share.by_segment.set_index("segment")["share"]
        np.testing.assert_allclose(got_seg.loc[by_seg.index], by_seg)
        assert got_seg["not profiled"] == pytest.approx(share.unprofiled_share)
        assert share.window == "all history before 2026-07-01"
    assert shares["content"].unit == "items" and shares["helpfulness"].unit == "votes"
    assert "segment 'creator' holds" in shares["content"].meaning
    assert shares["content"].meaning.endswith("(all history before 2026-07-01).")


def test_a_window_keeps_only_recent_content(demo):
    store, tables, _ = demo
    share = content_shares(store, DEMO_AS_OF, window_days=90)["content"]
    c = tables["content"]
    recent = c[(c["created_at"] >= DEMO_AS_OF - pd.Timedelta(days=90)) & (c["created_at"] < DEMO_AS_OF)]
    assert share.total == len(recent) and share.by_segment is None
    assert share.window == "the 90 days before 2026-07-01"
    with pytest.raises(ConfigError, match="window_days"):
        content_shares(store, DEMO_AS_OF, window_days=-1)


def test_time_shares_from_durations_sum_to_one(store):
    insert(
        store,
        "customers",
        [
            {"customer_id": "a"},
            {"customer_id": "b"},
            {"customer_id": "c"},
            {"customer_id": "q", "consent_profiling": False},
        ],
    )
    store.ingest(
        "interactions",
        pd.DataFrame(
            {
                "event_id": ["1", "2", "3", "4", "5", "6"],
                "actor_id": ["a", "a", "b", "c", "q", "b"],
                "kind": ["view", "view", "view", "click", "view", "view"],
                "occurred_at": [
                    "2024-03-01",
                    "2024-03-02",
                    "2024-03-03",
                    "2024-03-04",
                    "2024-03-05",
                    "2024-09-01",
                ],
                "duration_s": [60.0, 30.0, 90.0, None, 20.0, 500.0],
            }
        ),
    )
    segments = pd.DataFrame({"customer_id": ["a", "b"], "segment": ["fans", "fans"]})
    share = time_shares(store, "2024-07-01", segments)
    assert share.available and share.total == 200.0 and share.unit == "seconds"
    assert share.by_customer.to_dict("list") == {
        "customer_id": ["a", "b"],
        "amount": [90.0, 90.0],
        "share": [0.45, 0.45],
    }
    assert share.unprofiled_share == pytest.approx(0.1)
    seg = share.by_segment.set_index("segment")
    assert seg.at["fans", "share"] == pytest.approx(0.9) and seg.at["not profiled", "share"] == pytest.approx(
        0.1
    )
    assert seg["share"].sum() == pytest.approx(1.0)
    assert share.notes == ("1 of 5 interactions have no duration and count as 0 seconds",)


def test_time_shares_are_unavailable_without_durations(demo, tmp_path):
    store, _, _ = demo
    share = time_shares(store, DEMO_AS_OF)  # the demo records durations
    assert share.available and share.by_customer is not None
    assert 0.5 < share.by_customer["share"].sum() <= 1.0 + 1e-12  # the rest: customers without consent
    from socialvalue import Store

    with Store(tmp_path / "old.duckdb") as old:  # a store whose interactions predate the column
        none = time_shares(old, "2024-07-01")
        assert (
            none.reason
            == "unavailable: no interaction in all history before 2024-07-01 has a duration_s value"
        )
        old.con.execute('ALTER TABLE interactions DROP COLUMN "duration_s"')
        gone = time_shares(old, "2024-07-01")
    assert gone.reason == "unavailable: interactions have no duration_s column"
    assert gone.meaning == "unavailable: interactions have no duration_s column."


def test_content_and_helpfulness_unavailable_paths(store):
    empty = content_shares(store, "2024-07-01")
    assert empty["content"].reason == "unavailable: no content before 2024-07-01"
    assert empty["helpfulness"].reason == "unavailable: no content before 2024-07-01"
    insert(store, "customers", [{"customer_id": "a"}])
    insert(
        store, "content", [{"content_id": "x", "author_id": "a", "kind": "post", "created_at": "2024-01-01"}]
    )
    no_votes = content_shares(store, "2024-07-01")
    assert no_votes["content"].available and no_votes["content"].by_customer["share"].tolist() == [1.0]
    assert no_votes["helpfulness"].reason == "unavailable: no content has a helpful_votes value"
    store.con.execute("UPDATE content SET helpful_votes = 0")
    zero = content_shares(store, "2024-07-01")["helpfulness"]
    assert zero.reason == "unavailable: the content received no helpfulness votes"


@pytest.fixture
def wallet_store(store):
    insert(store, "customers", [{"customer_id": c} for c in ("a", "b", "c", "d")])
    insert(
        store,
        "orders",
        [
            {"order_id": "1", "customer_id": "a", "ordered_at": "2024-03-01", "amount": 100},
            {
                "order_id": "2",
                "customer_id": "a",
                "ordered_at": "2023-03-01",
                "amount": 999,
            },  # before the window
            {"order_id": "3", "customer_id": "b", "ordered_at": "2024-05-01", "amount": 50},
            {"order_id": "4", "customer_id": "c", "ordered_at": "2024-06-01", "amount": 30},
            {
                "order_id": "5",
                "customer_id": "c",
                "ordered_at": "2024-06-02",
                "amount": -10,
                "status": "refunded",
            },
        ],
    )
    return store


def test_wallet_shares_from_a_validated_category_spend_table(wallet_store, tmp_path):
    path = tmp_path / "category_spend.csv"
    path.write_text(
        "customer_id,segment,category,estimated_spend,currency,as_of\n"
        "a,,books,300,USD,2024-01-01\n"
        "a,,music,100,USD,2024-01-01\n"
        "a,,books,999,USD,2023-01-01\n"  # an older estimate: replaced by the 2024 one
        "b,,books,9999,USD,2024-12-01\n"  # dated after as_of: not used
        ",vip,books,200,USD,\n"
        ",new,books,50,USD,\n",
        encoding="utf-8",
    )
    spend = read_optional(wallet_store, "category_spend", path)
    segments = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "segment": ["vip", "vip", "new", "new"]})
    share = wallet_shares(wallet_store, "2024-07-01", spend, segments)
    assert share.available and share.unit == "USD" and share.window == "the 365 days before 2024-07-01"
    assert share.by_customer.to_dict("list") == {
        "customer_id": ["a"],
        "currency": ["USD"],
        "our_spend": [100.0],
        "estimated_spend": [400.0],
        "share": [0.25],
    }
    seg = share.by_segment.set_index("segment")
    assert seg.at["vip", "members"] == 2 and seg.at["vip", "our_spend"] == 150.0
    assert seg.at["vip", "estimated_spend"] == 400.0 and seg.at["vip", "share"] == pytest.approx(0.375)
    assert seg.at["new", "our_spend"] == 20.0 and seg.at["new", "share"] == pytest.approx(0.2)
    # overall: a by its own estimate, b by its segment's, c and d by theirs
    assert share.total == pytest.approx((100 + 50 + 20 + 0) / (400 + 200 + 50 + 50))
    assert share.notes == ("1 estimate dated after 2024-07-01 is not used",)
    assert share.meaning.startswith("We hold 24% of 4 customers' estimated category spend (USD, the 365 days")
    assert "segment 'vip' 38%, 'new' 20%" in share.meaning


def test_wallet_share_is_omitted_without_a_table_and_notes_what_it_cannot_use(wallet_store):
    omitted = wallet_shares(wallet_store, "2024-07-01")
    assert not omitted.available and omitted.reason.startswith(
        "omitted: no category-spend table was supplied"
    )
    spend = pd.DataFrame(
        {
            "customer_id": [None, "c"],
            "segment": ["vip", None],
            "category": ["books", "books"],
            "estimated_spend": [100.0, 60.0],
            "currency": ["USD", "EUR"],
            "as_of": [pd.NaT, pd.NaT],
        }
    )
    share = wallet_shares(wallet_store, "2024-07-01", spend)
    assert share.by_segment is None and share.by_customer["share"].tolist() == [0.0]
    assert share.notes == (
        "1 segment estimate is not used: no segments were given",
        "estimates in EUR, a currency without our revenue, count our spend as 0",
    )
    with pytest.raises(SchemaError, match="category_spend lacks column"):
        wallet_shares(wallet_store, "2024-07-01", spend.drop(columns="segment"))
