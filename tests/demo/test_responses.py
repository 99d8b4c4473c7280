"""The demo's simulated responses (issue 19, part 5): seeded, canonical, inside each action's window, drawn from
the stated true uplift (one action useless, one harmful), and loadable into the shop.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from socialvalue import Store
from socialvalue.demo import DEFAULT_EFFECTS, ActionEffect, generate, simulate_responses
from socialvalue.demo.responses import EFFECTIVE, HARMFUL, USELESS
from socialvalue.errors import SchemaError
from socialvalue.schema import TABLES

END = pd.Timestamp("2026-06-30")


@pytest.fixture(scope="module")
def shop():
    return generate(n_customers=3_000, seed=5)


@pytest.fixture(scope="module")
def assignments(shop):
    """Every customer of the shop in one of the three actions, half held out, with a segment."""
    rng = np.random.default_rng(0)
    ids = shop.customers.column("customer_id").to_pylist()
    return pd.DataFrame(
        {
            "customer_id": ids,
            "action": rng.choice([EFFECTIVE, USELESS, HARMFUL], len(ids)),
            "arm": rng.choice(["treated", "control"], len(ids)),
            "segment": rng.choice(["New", "Loyal", "Can't lose them"], len(ids)),
            "assigned_at": END,
            "window_days": 30,
        }
    )


def test_default_effects_have_one_useless_and_one_harmful_action():
    assert DEFAULT_EFFECTS[USELESS] == ActionEffect()
    assert DEFAULT_EFFECTS[HARMFUL].purchase_lift < 0
    assert all(v < 0 for v in DEFAULT_EFFECTS[HARMFUL].by_segment.values())
    assert DEFAULT_EFFECTS[EFFECTIVE].purchase_lift > 0
    assert ActionEffect(purchase_lift=0.2, by_segment={"A": 0.5}).lift("A") == 0.5
    assert ActionEffect(purchase_lift=0.2).lift("B") == 0.2


def test_the_same_seed_gives_the_same_rows(shop, assignments):
    a = simulate_responses(assignments, shop.truth, seed=3)
    b = simulate_responses(assignments, shop.truth, seed=3)
    c = simulate_responses(assignments, shop.truth, seed=4)
    for kind in ("customers", "orders", "relationships"):
        assert a.tables[kind].equals(b.tables[kind])
    assert not a.orders.equals(c.orders)
    pd.testing.assert_frame_equal(a.truth, c.truth)  # the truth does not depend on the draws


def test_rows_are_canonical_and_inside_each_window(shop, assignments):
    r = simulate_responses(assignments, shop.truth, seed=1)
    for kind, tbl in r.tables.items():
        assert set(tbl.column_names) <= set(TABLES[kind].column_names)
    orders = r.orders.to_pandas()
    assert len(orders) > 100 and orders["order_id"].is_unique
    assert orders["order_id"].str.startswith("R20260630S1O").all()
    assert ((orders["ordered_at"] >= END) & (orders["ordered_at"] < END + pd.Timedelta(days=30))).all()
    assert (orders["status"] == "completed").all() and (orders["amount"].astype(float) > 0).all()
    rel = r.relationships.to_pandas()
    new = r.customers.to_pandas()
    assert (rel["kind"] == "referred").all()
    assert rel["dst_id"].tolist() == new["customer_id"].tolist()
    assert (new["acquisition_channel"] == "referral").all()
    assert set(rel["src_id"]) <= set(assignments["customer_id"])
    assert (rel["created_at"] == new["signup_at"]).all()


def test_outcomes_follow_the_true_uplift(shop, assignments):
    """Pooled over 20 seeds, the treated-minus-control difference of each action's purchases is what the true
    lift makes it within 4 standard errors, and the control group's mean purchases are the expected baseline."""
    truth = simulate_responses(assignments, shop.truth, seed=0).customer_truth
    draws = [simulate_responses(assignments, shop.truth, seed=s).customer_truth for s in range(20)]
    sim = pd.concat(draws, ignore_index=True)
    for action in (EFFECTIVE, USELESS, HARMFUL):
        rows = sim[sim["action"] == action]
        t, c = rows[rows["arm"] == "treated"], rows[rows["arm"] == "control"]
        diff = t["purchases"].mean() - c["purchases"].mean()
        se = np.sqrt(t["purchases"].var() / len(t) + c["purchases"].var() / len(c))
        cell = truth[truth["action"] == action]
        treated = cell["arm"] == "treated"
        # the arms are fixed, the draws vary: E[diff] = mean over T of mu (1 + lift) - mean over C of mu
        expected = (cell["mu"] * (1 + cell["lift"]))[treated].mean() - cell["mu"][~treated].mean()
        assert abs(diff - expected) < 4 * se
        assert c["purchases"].mean() == pytest.approx(cell["mu"][~treated].mean(), rel=0.05)
    assert sim.loc[sim["action"] == USELESS, "lift"].eq(0).all()


def test_truth_table_per_action_and_segment(shop, assignments):
    r = simulate_responses(assignments, shop.truth, seed=2)
    t = r.truth.set_index(["action", "segment"])
    assert (t.loc[USELESS, ["purchases", "revenue", "referrals", "churned"]] == 0).all().all()
    assert (t.loc[HARMFUL, "revenue"] < 0).all() and (t.loc[HARMFUL, "churned"] > 0).all()
    assert (t.loc[EFFECTIVE, "revenue"] > 0).all()
    assert t.loc[(HARMFUL, "Can't lose them"), "purchase_lift"] == -0.3  # the segment's own lift
    assert t.loc[(HARMFUL, "Loyal"), "purchase_lift"] == -0.5
    ct = r.customer_truth
    cell = ct[(ct["action"] == EFFECTIVE) & (ct["segment"] == "Loyal")]
    assert t.loc[(EFFECTIVE, "Loyal"), "revenue"] == pytest.approx(
        (cell["mu"] * cell["lift"] * cell["mean_spend"]).mean()
    )
    assert t.loc[(EFFECTIVE, "Loyal"), "n"] == len(cell)
    assert (t["n_treated"] + t["n_control"] == t["n"]).all()


def test_referral_lift_adds_referrals(shop, assignments):
    effects = {EFFECTIVE: ActionEffect(referral_lift=4.0)}
    r = simulate_responses(assignments, shop.truth, seed=3, effects=effects, referral_rate=0.01)
    ct = r.customer_truth[r.customer_truth["action"] == EFFECTIVE]
    by_arm = ct.groupby("arm")["referrals"].mean()
    assert by_arm["treated"] > 3 * by_arm["control"] > 0
    assert r.truth.set_index(["action", "segment"]).loc[EFFECTIVE, "referrals"].iloc[0] == pytest.approx(1.2)


def test_responses_load_into_the_shop(shop, assignments, tmp_path):
    r = simulate_responses(assignments, shop.truth, seed=6)
    with Store(tmp_path / "shop.duckdb") as store:
        shop.load_into(store)
        before = store.table_counts()
        r.load_into(store)
        after = store.table_counts()
        assert after["orders"] - before["orders"] == r.orders.num_rows
        assert after["customers"] - before["customers"] == r.customers.num_rows
        assert after["relationships"] - before["relationships"] == r.relationships.num_rows
        # a second round with another seed does not collide with the first
        simulate_responses(assignments, shop.truth, seed=7).load_into(store)
        assert store.table_counts()["orders"] > after["orders"]


def test_bad_assignments_are_refused(shop, assignments):
    with pytest.raises(SchemaError, match="lack column\\(s\\) arm"):
        simulate_responses(assignments.drop(columns="arm"), shop.truth)
    with pytest.raises(SchemaError, match="arm must be"):
        simulate_responses(assignments.assign(arm="maybe"), shop.truth)
    with pytest.raises(SchemaError, match="not in the demo truth"):
        simulate_responses(assignments.assign(customer_id="X1"), shop.truth)
    with pytest.raises(SchemaError, match="assigned_at"):
        simulate_responses(assignments.drop(columns="assigned_at"), shop.truth)
    ok = simulate_responses(
        assignments.drop(columns=["assigned_at", "window_days"]), shop.truth, assigned_at=END, window_days=10
    )
    assert (ok.orders.to_pandas()["ordered_at"] < END + pd.Timedelta(days=10)).all()
