"""SQL inputs of the social value functions, on a tiny hand-made store."""

from __future__ import annotations

import pandas as pd
import pytest

from socialvalue.pipeline.social_inputs import (
    SocialInputsConfig,
    content_frame,
    exposure_frame,
    loyalty_frame,
    purchase_frame,
    referral_frames,
    social_components,
)
from socialvalue.schema import TABLES
from socialvalue.social.influence_value import InfluenceConfig

AS_OF = pd.Timestamp("2024-04-10")
START = pd.Timestamp("2024-01-01")

_DEFAULTS = {
    "customers": {"consent_marketing": False, "consent_profiling": True, "is_stub": False},
    "orders": {"currency": "USD", "status": "completed"},
}


def _insert(store, kind: str, rows: list[dict]) -> None:
    table = TABLES[kind]
    df = pd.DataFrame([{**_DEFAULTS.get(kind, {}), **r} for r in rows])
    cols = [c for c in table.column_names if c in df.columns]
    for c in cols:
        if table.column(c).sql_type == "TIMESTAMP":
            df[c] = pd.to_datetime(df[c])
    store.con.register("_rows", df)
    try:
        casts = ", ".join(f'CAST("{c}" AS {table.column(c).sql_type})' for c in cols)
        store.con.execute(f'INSERT INTO "{kind}" ({", ".join(cols)}) SELECT {casts} FROM _rows')
    finally:
        store.con.unregister("_rows")


@pytest.fixture
def social_store(store):
    signup = "2023-01-01"
    _insert(
        store,
        "customers",
        [{"customer_id": c, "signup_at": signup} for c in ("A", "y", "z", "R")]
        + [
            {"customer_id": "B", "signup_at": "2024-01-05", "acquisition_channel": "referral"},
            {"customer_id": "N", "signup_at": signup, "consent_profiling": False},
        ],
    )
    _insert(
        store,
        "relationships",
        [
            {"src_id": "y", "dst_id": "A", "kind": "follow", "created_at": "2023-12-01"},
            {
                "src_id": "z",
                "dst_id": "A",
                "kind": "follow",
                "created_at": "2023-06-01",
                "ended_at": "2024-01-02",
            },
            {"src_id": "B", "dst_id": "A", "kind": "follow", "created_at": "2024-01-06"},
            {"src_id": "R", "dst_id": "B", "kind": "referred", "created_at": "2024-01-05"},
        ],
    )
    _insert(
        store,
        "content",
        [
            {"content_id": "P1", "author_id": "A", "kind": "post", "created_at": "2024-01-11", "views": 9},
            {
                "content_id": "V1",
                "author_id": "A",
                "kind": "review",
                "created_at": "2024-01-15",
                "rating": 5.0,
                "product_id": "X",
                "helpful_votes": 2,
            },
            {"content_id": "L1", "author_id": "A", "kind": "post", "created_at": "2024-05-01"},  # after as_of
        ],
    )
    _insert(
        store,
        "interactions",
        [
            {
                "event_id": "e1",
                "actor_id": "z",
                "content_id": "P1",
                "kind": "like",
                "occurred_at": "2024-02-01",
            },
            {
                "event_id": "e2",
                "actor_id": "y",
                "target_customer_id": "z",
                "kind": "message",
                "occurred_at": "2024-03-01",
            },
            {
                "event_id": "e3",
                "actor_id": "A",
                "content_id": "P1",
                "kind": "view",
                "occurred_at": "2024-01-12",
            },
            {"event_id": "e4", "actor_id": "y", "kind": "like", "occurred_at": "2024-05-01"},  # after as_of
        ],
    )
    _insert(
        store,
        "orders",
        [
            {"order_id": "o1", "customer_id": "y", "ordered_at": "2024-01-21", "amount": 100.0},
            {"order_id": "o2", "customer_id": "y", "ordered_at": "2024-03-20", "amount": 70.0},
            {
                "order_id": "o3",
                "customer_id": "y",
                "ordered_at": "2024-01-22",
                "amount": 500.0,
                "status": "cancelled",
            },
            {"order_id": "o4", "customer_id": "z", "ordered_at": "2024-02-10", "amount": 40.0},
            {"order_id": "o5", "customer_id": "B", "ordered_at": "2024-01-20", "amount": 50.0},
            {"order_id": "o6", "customer_id": "A", "ordered_at": "2024-01-13", "amount": 900.0},
            {"order_id": "o7", "customer_id": "y", "ordered_at": "2024-04-20", "amount": 60.0},  # after as_of
        ],
    )
    return store


def test_exposures_from_content_direct_and_broadcast(social_store):
    exp = exposure_frame(social_store, AS_OF, start=START)
    got = {(r.influencer_id, r.exposed_id, str(r.exposed_at.date()), r.source) for r in exp.itertuples()}
    assert got == {
        ("A", "y", "2024-01-11", "broadcast"),  # y follows A when P1 is posted
        ("A", "y", "2024-01-15", "broadcast"),  # and when the review is published
        ("A", "B", "2024-01-11", "broadcast"),
        ("A", "B", "2024-01-15", "broadcast"),
        ("A", "z", "2024-02-01", "content"),  # z liked A's post (z's follow had ended)
        ("y", "z", "2024-03-01", "direct"),  # y messaged z
    }


def test_referral_and_purchase_frames(social_store):
    ref = referral_frames(social_store, AS_OF)
    assert ref["referrals"][["referrer_id", "referred_id"]].values.tolist() == [["R", "B"]]
    assert ref["orders"]["amount"].tolist() == [50.0]
    assert ref["signups"]["referred"].sum() == 1 and len(ref["signups"]) == 6
    pur = purchase_frame(social_store, AS_OF, start=START)
    assert sorted(pur["amount"].tolist()) == [40.0, 50.0, 70.0, 100.0, 900.0]


def test_content_and_loyalty_frames(social_store):
    c = content_frame(social_store, AS_OF).set_index("content_id")
    assert set(c.index) == {"P1", "V1"}
    assert c.loc["P1", "interactions_drawn"] == 1  # z's like; A's own view does not count
    loyal = loyalty_frame(social_store, AS_OF).set_index("customer_id")
    assert "N" not in loyal.index
    assert loyal.loc["y", "n_orders"] == 2
    assert loyal.loc["y", "tenure_days"] == pytest.approx(80.0)
    assert loyal.loc["A", "positive_reviews"] == 1
    assert loyal.loc["R", "referrals_made"] == 1


def test_social_components_end_to_end(social_store):
    cfg = SocialInputsConfig(lookback_days=100, influence=InfluenceConfig(baseline_prior_days=0))
    out = social_components(social_store, AS_OF, config=cfg).set_index("customer_id")
    assert set(out.index) == {"A", "y", "z", "R", "B"}  # N has no consent to profiling
    # y: windows (01-11, 02-14] = 34 days, 100 inside, 70 over the other 66 days; z: 40 inside, 0 outside.
    # B was referred: left to R's referral value. A's own 900 is never in A's CIV.
    excess = (100.0 - 34.0 * 70.0 / 66.0) + 40.0
    assert out.loc["A", "civ"] == pytest.approx(0.3 * excess)
    assert out.loc["A", "n_influenced"] == 2
    assert out.loc["y", "civ"] == 0.0  # z bought nothing after y's message
    assert out.loc["R", "crv"] == pytest.approx(0.3 * 50.0 * 1.1 ** (-15 / 365.25))
    assert out.loc["A", "content_score"] > out.loc["y", "content_score"] == 0.0
    assert out.loc["y", "interaction_score"] > 0.0
    assert (out[["crv", "civ", "interaction_score", "content_score", "loyalty_score"]] >= 0).all().all()


def test_holdout_value_counts_only_attributable_network_revenue(social_store):
    from socialvalue.pipeline.social_inputs import holdout_value

    cal, end = pd.Timestamp("2024-01-15"), AS_OF
    cfg = SocialInputsConfig(influence=InfluenceConfig(baseline_prior_days=0))
    hv = holdout_value(social_store, cal, end, config=cfg).set_index("customer_id")
    # Own holdout revenue (the cancelled order and the order after the end are out).
    assert hv.loc["y", "holdout_own_revenue"] == pytest.approx(170.0)
    # R referred B, who spent 50 in the holdout.
    assert hv.loc["R", "holdout_referred_revenue"] == pytest.approx(50.0)
    # A's review on 01-15 exposes y (window to 02-14) and z's like of A's post on 02-01 exposes z.
    # y: 100 inside 30 days, 70 outside over 56 days; z: 40 inside, nothing outside.
    assert hv.loc["A", "holdout_influenced_revenue"] == pytest.approx(100.0 - 30.0 * 70.0 / 56.0 + 40.0)
    assert (
        hv["holdout_value"]
        == hv[["holdout_own_revenue", "holdout_referred_revenue", "holdout_influenced_revenue"]].sum(axis=1)
    ).all()
    assert "N" not in hv.index


def test_coded_ids_give_the_same_components_as_string_ids(tmp_path):
    # social_components runs the component functions on numeric id codes (for speed at 1M customers); the
    # same functions on the store's string ids must give the same numbers
    import numpy as np

    from socialvalue import Store
    from socialvalue.demo import generate
    from socialvalue.pipeline.social_inputs import interaction_frame
    from socialvalue.social.engagement import interaction_score
    from socialvalue.social.influence_value import influence_value

    as_of, start = pd.Timestamp("2026-07-01"), pd.Timestamp("2025-07-01")
    with Store(tmp_path / "d.duckdb") as store:
        generate(3000, seed=5).load_into(store)
        from socialvalue.engine import DuckDBEngine

        ids = DuckDBEngine(store).codes
        for coded in (False, True):
            kw = {"ids": ids} if coded else {}
            refs = referral_frames(store, as_of, **kw)["referrals"]
            civ = influence_value(
                exposure_frame(store, as_of, start=start, **kw),
                purchase_frame(store, as_of, start=start, **kw),
                as_of,
                start=start,
                referrals=refs,
            )
            inter = interaction_score(interaction_frame(store, as_of, **kw), as_of)
            if coded:
                civ["customer_id"] = ids.decode(civ["customer_id"])
                inter["customer_id"] = ids.decode(inter["customer_id"])
                coded_out = (civ, inter)
            else:
                plain_out = (civ, inter)
    for got, want in zip(coded_out, plain_out, strict=True):
        assert len(got) == len(want) > 100
        got = got.set_index("customer_id").sort_index()
        want = want.set_index("customer_id").sort_index()
        assert got.index.equals(want.index)
        for col in want.columns:
            np.testing.assert_allclose(got[col].to_numpy(float), want[col].to_numpy(float), rtol=1e-12)
    assert coded_out[0]["civ"].sum() > 0  # the demo's influence is found either way


@pytest.mark.slow
def test_store_frames_arrive_in_the_order_of_the_interval_join(tmp_path):
    """Issue 16: DuckDB sorts the exposures by (customer code, time) and the purchases by (customer code, time,
    amount), so the influence value's sorted interval join needs no sort of its own; the contributors grouped
    on codes are those grouped on the ids."""
    import numpy as np

    from socialvalue import Store
    from socialvalue.demo import generate
    from socialvalue.pipeline.social_inputs import influence_credit_frame
    from socialvalue.social.influence_value import _sorted_by, influence_contributors

    as_of, start = pd.Timestamp("2026-07-01"), pd.Timestamp("2025-07-01")
    with Store(tmp_path / "d.duckdb") as store:
        generate(3000, seed=5).load_into(store)
        from socialvalue.engine import DuckDBEngine

        ids = DuckDBEngine(store).codes
        exp = exposure_frame(store, as_of, start=start, ids=ids)
        pur = purchase_frame(store, as_of, start=start, ids=ids)
        frames = influence_credit_frame(store, as_of)
    assert len(exp) > 1000 and len(pur) > 1000
    days = lambda ts: ((ts - as_of) / pd.Timedelta(days=1)).to_numpy(float)  # noqa: E731
    assert _sorted_by(exp["exposed_id"].to_numpy(), days(exp["exposed_at"]))
    assert _sorted_by(pur["customer_id"].to_numpy(), days(pur["ordered_at"]), pur["amount"].to_numpy())
    # a shuffled frame is not sorted (the check can fail)
    shuffled = exp.sample(frac=1.0, random_state=0)
    assert not _sorted_by(shuffled["exposed_id"].to_numpy(), days(shuffled["exposed_at"]))
    on_ids = influence_contributors(frames["credits"], top=3)
    assert len(on_ids) > 10
    pd.testing.assert_frame_equal(frames["contributors"], on_ids, check_exact=False, rtol=1e-12)
    assert np.isfinite(frames["credited_value"]["civ"]).all()


def _graph_the_pandas_way(store, as_of, **kw):
    """The graph as the pipeline built it before issue 16: string ids, influence_edges, factorize."""
    from socialvalue.social import Graph, influence_edges

    start = as_of - pd.Timedelta(days=kw.get("window_days", 365.0))
    rel = store.query_df(
        "SELECT src_id, dst_id, kind, created_at, ended_at FROM relationships "
        "WHERE created_at IS NULL OR created_at < ? ORDER BY src_id, dst_id, kind, created_at",
        [as_of.to_pydatetime()],
    )
    inter = store.query_df(
        "SELECT actor_id, target_customer_id, kind, occurred_at FROM interactions "
        "WHERE target_customer_id IS NOT NULL AND occurred_at >= ? AND occurred_at < ? "
        "ORDER BY actor_id, target_customer_id, occurred_at, kind, event_id",
        [start.to_pydatetime(), as_of.to_pydatetime()],
    )
    edges = influence_edges(rel, inter, as_of=as_of, **kw)
    nodes = store.query_df("SELECT customer_id FROM customers ORDER BY customer_id")["customer_id"].to_numpy()
    return Graph.from_edges(
        edges["src"].to_numpy(), edges["dst"].to_numpy(), edges["weight"].to_numpy(), nodes=nodes
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "kw",
    [
        {"half_life_days": 90.0, "window_days": 365.0},
        {
            "half_life_days": 30.0,
            "window_days": 120.0,
            "tie_weight": 2.5,
            "relationship_kinds": ("follow", "friend", "referred"),
            "interaction_kinds": ("like", "comment"),
        },
    ],
)
def test_influence_graph_on_engine_codes_equals_the_pandas_graph(tmp_path, kw):
    """Issue 16: the graph built on codes assigned in DuckDB has the same nodes, edges and weights (1e-12) as
    influence_edges + Graph.from_edges on string ids, hence the same PageRank and reach."""
    import numpy as np

    from socialvalue import Store
    from socialvalue.demo import generate
    from socialvalue.pipeline.social_inputs import influence_graph
    from socialvalue.social import followers, pagerank, reach

    as_of = pd.Timestamp("2026-07-01")
    with Store(tmp_path / "d.duckdb") as store:
        generate(3000, seed=5).load_into(store)
        want = _graph_the_pandas_way(store, as_of, **kw)
        got = influence_graph(store, as_of, **kw)
    assert got.m > 5000
    assert got.ids.tolist() == want.ids.tolist()
    np.testing.assert_array_equal(got.indptr, want.indptr)
    np.testing.assert_array_equal(got.indices, want.indices)
    np.testing.assert_allclose(got.weight, want.weight, rtol=1e-12)
    np.testing.assert_array_equal(got.rev_edge, want.rev_edge)
    np.testing.assert_allclose(pagerank(got).to_numpy(), pagerank(want).to_numpy(), rtol=1e-12, atol=1e-15)
    pd.testing.assert_series_equal(reach(got, 2), reach(want, 2))
    pd.testing.assert_series_equal(followers(got), followers(want))


def test_influence_graph_ties_windows_and_unknown_ends(social_store):
    """By hand on the tiny store: follow ties (ended ties and ties from as_of on left out), a referral only when
    asked for, interactions decayed by age inside the window, an edge end missing from customers."""
    import numpy as np

    from socialvalue.errors import ConfigError
    from socialvalue.pipeline.social_inputs import influence_graph

    _insert(
        social_store,
        "interactions",
        [
            {
                "event_id": "x9",
                "actor_id": "y",
                "target_customer_id": "ghost",
                "kind": "like",
                "occurred_at": "2024-04-09",
            }
        ],
    )
    _insert(
        social_store,
        "relationships",
        [
            # one friendship listed in both directions, one listed once
            {"src_id": "y", "dst_id": "z", "kind": "friend", "created_at": "2024-01-01"},
            {"src_id": "z", "dst_id": "y", "kind": "friend", "created_at": "2024-02-01"},
            {"src_id": "R", "dst_id": "y", "kind": "friend", "created_at": "2024-02-01"},
            {
                "src_id": "R",
                "dst_id": "A",
                "kind": "follow",
                "created_at": "2023-01-01",
                "ended_at": "2024-04-10",
            },
        ],
    )
    as_of = pd.Timestamp("2024-04-10")
    g = influence_graph(social_store, as_of, half_life_days=30.0, window_days=365.0)
    edges = g.edges_frame().set_index(["src", "dst"])["weight"]
    assert g.ids.tolist()[:6] == ["A", "B", "N", "R", "y", "z"] and g.ids.tolist()[6:] == ["ghost"]
    want = _graph_the_pandas_way(social_store, as_of, half_life_days=30.0, window_days=365.0)
    want_edges = want.edges_frame().set_index(["src", "dst"])["weight"]
    pd.testing.assert_series_equal(edges.sort_index(), want_edges.sort_index(), rtol=1e-12)
    assert ("A", "y") in edges.index and ("A", "z") not in edges.index  # z's follow ended on 2024-01-02
    assert ("R", "B") not in edges.index  # referrals are not ties by default
    assert ("A", "R") not in edges.index  # the follow ended at as_of
    # a friendship, listed twice, is one tie each way (z -> y also has y's recent interactions with z)
    assert edges[("y", "z")] == 1.0 and 1.0 < edges[("z", "y")] < 2.0
    assert edges[("R", "y")] >= 1.0 and edges[("y", "R")] >= 1.0  # listed once: both ways
    assert edges[("ghost", "y")] == pytest.approx(2.0 ** (-1.0 / 30.0))
    referred = influence_graph(social_store, as_of, relationship_kinds=("follow", "referred"))
    assert referred.edges_frame().set_index(["src", "dst"])["weight"][("R", "B")] == 1.0
    with pytest.raises(ConfigError, match="half_life_days"):
        influence_graph(social_store, as_of, half_life_days=0.0)
    assert np.isfinite(g.weight).all()


def test_interaction_score_from_engine_counts_equals_the_score_on_interactions(tmp_path):
    """Issue 16: the engine aggregates the interaction score's counts (per actor and kind, partners, brand
    interactions); the score from them equals interaction_score on the interactions themselves bit for bit,
    on string ids (a 1M-customer store: 20 s -> 6 s a date)."""
    from socialvalue import Store
    from socialvalue.demo import generate
    from socialvalue.engine import DuckDBEngine
    from socialvalue.features.social_inputs import interaction_counts_query
    from socialvalue.pipeline.social_inputs import interaction_frame
    from socialvalue.social.engagement import interaction_score, interaction_score_from_counts

    with Store(tmp_path / "d.duckdb") as store:
        generate(3000, seed=5).load_into(store)
        engine = DuckDBEngine(store)
        for as_of, window in ((pd.Timestamp("2026-07-01"), 365.0), (pd.Timestamp("2026-01-01"), 90.0)):
            from socialvalue.social.engagement import InteractionScoreConfig

            cfg = InteractionScoreConfig(window_days=window)
            want = interaction_score(interaction_frame(engine, as_of, window_days=window), as_of, config=cfg)
            got = interaction_score_from_counts(
                engine.frame(interaction_counts_query(as_of, window_days=window)), config=cfg
            )
            assert len(got) == len(want) > 500
            pd.testing.assert_frame_equal(got, want, check_exact=True, check_dtype=False)
            assert (got["reciprocity"] > 0).any() and (got["brand_share"] > 0).any()
