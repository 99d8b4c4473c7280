"""The demo generator: distributions within stated bounds, consistency with its ground truth, determinism.

Purchase parameters are checked by refitting the BG/NBD model with lifetimes (reference implementation) on
the simulated base purchase stream: Fader, Hardie & Lee (2005), "Counting your customers" the easy way,
Marketing Science 24(2), eq. (6) likelihood.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pydantic import ValidationError
from scipy import stats

from socialvalue.demo import TRUTH_COLUMNS, DemoConfig, DemoData, generate, read_truth
from socialvalue.errors import ConfigError
from socialvalue.schema import TABLES

N = 20_000
START = pd.Timestamp("2024-07-01")
END = pd.Timestamp("2026-06-30")


@pytest.fixture(scope="module")
def data() -> DemoData:
    return generate(n_customers=N, seed=7)


@pytest.fixture(scope="module")
def frames(data):
    return {name: tbl.to_pandas() for name, tbl in {**data.tables, "truth": data.truth}.items()} | {
        "influence": data.influence_events.to_pandas()
    }


@pytest.fixture(scope="module")
def in_degree(frames):
    rel, truth = frames["relationships"], frames["truth"]
    follows = rel[rel["kind"] == "follow"]
    return follows.groupby("dst_id").size().reindex(truth["customer_id"], fill_value=0).to_numpy()


def test_canonical_columns_and_types(data):
    for kind, tbl in data.tables.items():
        canonical = TABLES[kind]
        assert set(canonical.column_names) - {"is_stub"} <= set(tbl.column_names), kind
        for col in canonical.columns:
            if col.name not in tbl.column_names:
                continue
            typ = tbl.schema.field(col.name).type
            if col.sql_type == "TIMESTAMP":
                assert typ == pa.timestamp("us"), (kind, col.name)
            elif col.sql_type == "VARCHAR":
                assert typ == pa.string(), (kind, col.name)
            if not col.nullable:
                assert tbl[col.name].null_count == 0, (kind, col.name)
    assert data.orders.schema.field("amount").type == pa.decimal128(18, 4)
    assert list(data.truth.column_names) == list(TRUTH_COLUMNS)


def test_keys_unique_and_references_hold(frames):
    ids = set(frames["customers"]["customer_id"])
    assert frames["customers"]["customer_id"].is_unique and len(ids) == N
    assert frames["orders"]["order_id"].is_unique
    assert frames["interactions"]["event_id"].is_unique
    assert frames["content"]["content_id"].is_unique
    assert not frames["relationships"].duplicated(["src_id", "dst_id", "kind"]).any()
    assert set(frames["orders"]["customer_id"]) <= ids
    assert set(frames["content"]["author_id"]) <= ids
    inter = frames["interactions"]
    assert set(inter["actor_id"]) <= ids and set(inter["target_customer_id"].dropna()) <= ids
    assert set(inter["content_id"].dropna()) <= set(frames["content"]["content_id"])
    rel = frames["relationships"]
    assert set(rel["src_id"]) <= ids and set(rel["dst_id"]) <= ids
    assert (rel["src_id"] != rel["dst_id"]).all()


def test_everything_happens_inside_the_period(frames):
    signup = frames["customers"].set_index("customer_id")["signup_at"]
    for name, col, who in [
        ("orders", "ordered_at", "customer_id"),
        ("interactions", "occurred_at", "actor_id"),
        ("content", "created_at", "author_id"),
    ]:
        frame = frames[name]
        assert frame[col].min() >= START and frame[col].max() < END, name
        assert (frame[col] >= signup.reindex(frame[who]).to_numpy()).all(), name
    rel = frames["relationships"]
    assert rel["created_at"].max() < END
    ended = rel.dropna(subset=["ended_at"])
    assert (ended["ended_at"] > ended["created_at"]).all() and ended["ended_at"].max() < END


def test_degree_tail_is_heavy(in_degree):
    """Heavy, power-law-like in-degree: hubs far above the median; the top 1% hold a large share of ties."""
    ranked = np.sort(in_degree)[::-1]
    assert ranked[0] >= 100 * max(np.median(ranked), 1)
    top = ranked[: N // 100]
    assert top.sum() / ranked.sum() > 0.12
    hill = 1.0 / np.mean(np.log(top[:-1] / top[-1]))  # Hill estimate of the tail index
    assert 1.0 < hill < 2.5


def test_follow_graph_structure(frames):
    rel = frames["relationships"]
    follows = rel[rel["kind"] == "follow"]
    assert 0.03 < follows["ended_at"].notna().mean() < 0.2
    pairs = set(zip(follows["src_id"], follows["dst_id"], strict=True))
    reciprocal = sum((d, s) in pairs for s, d in pairs) / len(pairs)
    assert 0.1 < reciprocal < 0.5
    community = frames["truth"].set_index("customer_id")["community"]
    same = community.reindex(follows["src_id"]).to_numpy() == community.reindex(follows["dst_id"]).to_numpy()
    assert same.mean() > 0.85  # mostly inside communities, a few bridges
    friends = rel[rel["kind"] == "friend"]
    fpairs = set(zip(friends["src_id"], friends["dst_id"], strict=True))
    assert len(fpairs) > 0 and all((d, s) in fpairs for s, d in fpairs)


def test_purchases_repeat_and_spend(frames):
    orders = frames["orders"]
    completed = orders[orders["status"] == "completed"]
    per_customer = completed.groupby("customer_id").size()
    assert 0.85 < len(per_customer) / N < 0.9  # buyer_share 0.88
    assert 0.45 < (per_customer > 1).mean() < 0.75
    # Gamma-Gamma mean spend p v / (q - 1) = 6 * 30 / 3 = 60
    assert completed["amount"].astype(float).mean() == pytest.approx(60.0, rel=0.05)
    shares = orders["status"].value_counts(normalize=True)
    assert set(shares.index) == {"completed", "cancelled", "returned"}
    assert 0.01 < shares["cancelled"] < 0.04 and 0.02 < shares["returned"] < 0.06
    returns = orders[orders["status"] == "returned"]
    assert (returns["amount"] < 0).all()
    return_of = returns["extra"].map(lambda s: json.loads(s)["return_of"])
    assert orders.loc[orders["status"] != "returned", "extra"].isna().all()
    original = orders.set_index("order_id").loc[return_of]
    assert (original["amount"].to_numpy() == -returns["amount"].to_numpy()).all()
    assert (original["ordered_at"].to_numpy() <= returns["ordered_at"].to_numpy()).all()


def test_latent_parameters_follow_their_priors(data, frames):
    truth = frames["truth"]
    params = data.params["bgnbd"]
    assert truth["lambda"].mean() == pytest.approx(params["r"] / params["alpha"], rel=0.05)
    assert truth["dropout_p"].mean() == pytest.approx(params["a"] / (params["a"] + params["b"]), rel=0.03)
    assert data.params["unit"] == "days" and data.params["end"] == "2026-06-30T00:00:00"


@pytest.mark.slow
def test_bgnbd_parameters_are_recovered(data, frames):
    """lifetimes' BG/NBD fit on the base purchase stream recovers r, alpha (days), a, b (FHL 2005, eq. 6)."""
    from lifetimes import BetaGeoFitter

    orders, influenced = frames["orders"], frames["influence"]
    base = orders[(orders["status"] == "completed") & ~orders["order_id"].isin(influenced["order_id"])]
    t = (base["ordered_at"] - START).dt.total_seconds() / 86_400.0
    g = base.assign(t=t).groupby("customer_id")["t"]
    horizon = (END - START).days
    fit = BetaGeoFitter().fit(g.size() - 1, g.max() - g.min(), horizon - g.min())
    truth = data.params["bgnbd"]
    assert fit.params_["r"] == pytest.approx(truth["r"], rel=0.1)
    assert fit.params_["alpha"] == pytest.approx(truth["alpha"], rel=0.15)
    assert fit.params_["a"] == pytest.approx(truth["a"], rel=0.2)
    assert fit.params_["b"] == pytest.approx(truth["b"], rel=0.25)


def test_churn_agrees_with_truth(frames):
    """A churned buyer's last purchase is the one after which it dropped out (BG/NBD), and none follow."""
    truth = frames["truth"].set_index("customer_id")
    buyers = truth[truth["is_buyer"]]
    assert truth.loc[~truth["is_buyer"], "death_at"].isna().all()
    assert 0.15 < buyers["churned"].mean() < 0.4
    assert (buyers["churned"] == (buyers["death_at"] < END)).all()
    orders = frames["orders"]
    last = orders[orders["status"] == "completed"].groupby("customer_id")["ordered_at"].max()
    churned = buyers[buyers["churned"]]
    assert (last.reindex(churned.index) == churned["death_at"]).all()
    alive = buyers[~buyers["churned"].astype(bool)]
    assert (last.reindex(alive.index) < END).all() and (alive["death_at"] >= END).all()
    first = orders.groupby("customer_id")["ordered_at"].min()
    assert (first.reindex(buyers.index) <= buyers["first_purchase_at"]).all()


def test_activity_fades_after_churn(frames):
    truth = frames["truth"].set_index("customer_id")
    churned = truth[truth["churned"].fillna(False).astype(bool)]
    clicks = frames["interactions"].query("kind == 'click'")
    clicks = clicks[clicks["actor_id"].isin(churned.index)]
    death = churned["death_at"].reindex(clicks["actor_id"]).to_numpy()
    signup = frames["customers"].set_index("customer_id")["signup_at"].reindex(churned.index)
    before = (clicks["occurred_at"].to_numpy() < death).sum() / (churned["death_at"] - signup).dt.days.sum()
    late = churned["death_at"] + pd.Timedelta(days=90)
    after_days = (END - late).dt.days.clip(lower=0).sum()
    after = (clicks["occurred_at"].to_numpy() > death + np.timedelta64(90, "D")).sum() / after_days
    assert after < 0.05 * before


def test_referrals(frames):
    customers, truth, rel = frames["customers"], frames["truth"], frames["relationships"]
    referral = customers["acquisition_channel"] == "referral"
    assert 0.12 < referral.mean() < 0.16
    referred = rel[rel["kind"] == "referred"]
    assert set(referred["dst_id"]) == set(customers.loc[referral, "customer_id"])
    assert referred["dst_id"].is_unique
    signup = customers.set_index("customer_id")["signup_at"]
    assert (
        signup.reindex(referred["src_id"]).to_numpy() < signup.reindex(referred["dst_id"]).to_numpy()
    ).all()
    by_id = truth.set_index("customer_id")
    assert (by_id.loc[referred["dst_id"], "referrer_id"].to_numpy() == referred["src_id"].to_numpy()).all()
    # referrers are more active buyers than the average buyer
    referrers = by_id.loc[referred["src_id"].unique()]
    assert referrers["lambda"].mean() > 1.5 * by_id.loc[by_id["is_buyer"], "lambda"].mean()
    assert referrers["is_buyer"].all()


def test_content_and_interactions(frames, in_degree):
    content, inter, truth = frames["content"], frames["interactions"], frames["truth"]
    assert set(content["kind"]) == {"review", "post", "photo", "video"}
    reviews = content[content["kind"] == "review"]
    assert reviews["rating"].between(1, 5).all() and reviews["product_id"].notna().all()
    assert reviews["helpful_votes"].notna().all()
    others = content[content["kind"] != "review"]
    assert others["rating"].isna().all() and others["product_id"].isna().all()
    creators = others["author_id"].nunique() / N
    assert 0.02 < creators < 0.1  # a minority creates
    assert set(inter["kind"]) == {"like", "comment", "share", "follow", "review", "post", "mention", "click"}
    engagement = inter[inter["kind"].isin(["like", "comment", "share"])]
    assert (
        engagement["target_customer_id"]
        == content.set_index("content_id").loc[engagement["content_id"], "author_id"].to_numpy()
    ).all()
    received = engagement.groupby("target_customer_id").size().reindex(truth["customer_id"], fill_value=0)
    is_creator = truth["is_creator"].to_numpy()
    rho = stats.spearmanr(received.to_numpy()[is_creator], in_degree[is_creator]).statistic
    assert rho > 0.25  # reach follows position in the graph
    given = engagement.groupby("actor_id").size().reindex(truth["customer_id"], fill_value=0)
    assert stats.spearmanr(given.to_numpy(), truth["lambda"].to_numpy()).statistic > 0.1  # and activity
    assert (inter.loc[inter["channel"] == "email", "kind"] == "click").all()


def test_influence_truth_is_consistent(frames):
    events, orders, truth = frames["influence"], frames["orders"], frames["truth"]
    completed = orders[orders["status"] == "completed"]
    assert 0.02 < len(events) / len(completed) < 0.12
    caused = orders.set_index("order_id").loc[events["order_id"]]
    assert (caused["status"] == "completed").all()
    assert (caused["customer_id"].to_numpy() == events["influenced_id"].to_numpy()).all()
    assert (caused["ordered_at"].to_numpy() == events["ordered_at"].to_numpy()).all()
    np.testing.assert_allclose(caused["amount"].astype(float), events["value"], atol=0.005)
    assert (events["ordered_at"] >= events["exposure_at"]).all()
    assert ((events["ordered_at"] - events["exposure_at"]) <= pd.Timedelta(days=14)).all()
    rel = frames["relationships"]
    follows = set(
        zip(
            rel.loc[rel["kind"] == "follow", "src_id"],
            rel.loc[rel["kind"] == "follow", "dst_id"],
            strict=True,
        )
    )
    assert all(pair in follows for pair in zip(events["influenced_id"], events["influencer_id"], strict=True))
    by_id = truth.set_index("customer_id")
    sums = events.groupby("influencer_id")["value"].sum()
    np.testing.assert_allclose(by_id.loc[sums.index, "influenced_revenue"], sums, atol=0.01)
    np.testing.assert_allclose(
        truth["network_value"], truth["referred_revenue"] + truth["influenced_revenue"], atol=0.011
    )


def test_true_influencers_are_strong_and_central(frames, in_degree):
    """Network value concentrates on customers with high latent strength and many followers."""
    truth = frames["truth"]
    creators = truth["is_creator"].to_numpy()
    reach = (truth["influence_strength"] * in_degree).to_numpy()
    rho = stats.spearmanr(truth["network_value"].to_numpy()[creators], reach[creators]).statistic
    assert rho > 0.35
    nv = np.sort(truth["network_value"].to_numpy())[::-1]
    assert nv[: N // 100].sum() / nv.sum() > 0.3  # a few customers carry most of it


def test_deterministic_with_seed():
    a, b = generate(n_customers=2_000, seed=3), generate(n_customers=2_000, seed=3)
    for name in (
        "customers",
        "orders",
        "interactions",
        "relationships",
        "content",
        "truth",
        "influence_events",
    ):
        assert getattr(a, name).equals(getattr(b, name)), name
    c = generate(n_customers=2_000, seed=4)
    assert not a.orders.equals(c.orders)


def test_period_and_config_are_validated():
    with pytest.raises(ConfigError, match="demo period is empty"):
        generate(n_customers=100, start=dt.date(2026, 1, 1), end=dt.date(2025, 1, 1))
    with pytest.raises(ValidationError, match="channel_shares must sum to 1"):
        DemoConfig(channel_shares={"organic": 0.5, "paid": 0.4})
    with pytest.raises(ValidationError, match="extra"):
        DemoConfig(nonsense=1)
    small = generate(n_customers=300, seed=1, start=dt.date(2025, 1, 1), end=dt.date(2025, 7, 1))
    assert small.orders["ordered_at"].to_pandas().max() < pd.Timestamp("2025-07-01")
    assert small.params["start"] == "2025-01-01T00:00:00"


@pytest.mark.parametrize("n", [2, 3, 50])
def test_tiny_populations(n):
    data = generate(n_customers=n, seed=0)
    assert data.customers.num_rows == n and data.truth.num_rows == n
    short = generate(n_customers=n, seed=0, start=dt.date(2026, 6, 1), end=dt.date(2026, 6, 2))
    assert short.content.num_rows >= 0 and short.customers.num_rows == n


def test_write_and_read_truth(tmp_path):
    data = generate(n_customers=500, seed=2)
    paths = data.write(tmp_path)
    for kind in ("customers", "orders", "interactions", "relationships", "content"):
        assert paths[kind] == tmp_path / f"{kind}.parquet" and paths[kind].is_file()
    truth, events, params = read_truth(tmp_path)
    assert truth.equals(data.truth) and events.equals(data.influence_events)
    assert params["bgnbd"] == {"r": 0.45, "alpha": 40.0, "a": 0.75, "b": 3.0}
    assert params["gamma_gamma"] == {"p": 6.0, "q": 4.0, "v": 30.0}


def test_loads_into_store_with_integrity(store):
    data = generate(n_customers=3_000, seed=5)
    data.load_into(store)
    assert store.table_counts() == {kind: tbl.num_rows for kind, tbl in data.tables.items()}
    orphans = store.scalar(
        """
        SELECT (SELECT count(*) FROM orders WHERE customer_id NOT IN (SELECT customer_id FROM customers))
             + (SELECT count(*) FROM interactions i WHERE actor_id NOT IN (SELECT customer_id FROM customers)
                 OR (target_customer_id IS NOT NULL
                     AND target_customer_id NOT IN (SELECT customer_id FROM customers)))
             + (SELECT count(*) FROM relationships WHERE src_id NOT IN (SELECT customer_id FROM customers)
                 OR dst_id NOT IN (SELECT customer_id FROM customers))
             + (SELECT count(*) FROM content WHERE author_id NOT IN (SELECT customer_id FROM customers))
        """
    )
    assert orphans == 0
    assert store.scalar("SELECT count(*) FROM customers WHERE is_stub") == 0
    revenue = store.scalar("SELECT sum(amount) FROM orders WHERE status IN ('completed', 'returned')")
    assert float(revenue) == pytest.approx(float(pa.compute.sum(data.truth["revenue"]).as_py()), abs=0.05)
