import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialvalue.decisions import allocate, default_playbook, expected_net_values, validate_playbook
from socialvalue.errors import SchemaError


def _scores(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    clv = rng.gamma(1.5, 60.0, n)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "consent_marketing": rng.random(n) < 0.8,
            "lifecycle_stage": rng.choice(["introduction", "growth", "maturity", "decline", "churned"], n),
            "n_orders": rng.integers(1, 6, n),
            "tenure_days": rng.integers(1, 700, n),
            "tier": rng.choice(["platinum", "gold", "silver", "bronze"], n),
            "segment": rng.choice(["Champions", "Loyal", "At risk", "Lost"], n),
            "p_alive": rng.random(n),
            "churn_risk": rng.random(n),
            "clv": clv,
            "social_value": rng.gamma(0.5, 40.0, n),
            "csv_percentile": 100 * rng.random(n),
            "influencer": rng.random(n) < 0.05,
            "spread": rng.gamma(1.0, 10.0, n),
            "helpful_votes_total": rng.integers(0, 10, n),
            "content_total": rng.integers(0, 3, n),
            "referrals_made": rng.integers(0, 3, n),
            "days_since_last_purchase": rng.integers(0, 600, n),
            "total_spend": clv * 2,
        }
    )


def _toy_playbook(budget=None, capacity=None, channel_capacity=None):
    return validate_playbook(
        {
            "budget": budget,
            "channel_capacity": channel_capacity or {},
            "actions": [
                {
                    "name": "big",
                    "label": "Big offer",
                    "cost": 10.0,
                    "uplift": 0.2,
                    "base": ["clv"],
                    "capacity": capacity,
                },
                {"name": "small", "label": "Small offer", "cost": 1.0, "uplift": 0.05, "base": ["clv"]},
                {"name": "do_nothing", "label": "Do nothing", "marketing": False, "cost": 0, "uplift": 0},
            ],
        }
    )


def test_picks_highest_net_value_by_hand():
    scores = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "consent_marketing": [True, True, False],
            "clv": [100.0, 30.0, 500.0],
        }
    )
    plan = allocate(scores, _toy_playbook())
    # a: big 20-10=10 > small 5-1=4; b: big 6-10<0, small 1.5-1=0.5; c: no consent -> nothing
    assert plan["action"].tolist() == ["big", "small", "do_nothing"]
    assert plan["net_value"].tolist() == pytest.approx([10.0, 0.5, 0.0])
    assert plan["reason"].iloc[0].endswith("→ Big offer")


def test_capacity_goes_to_the_most_valuable():
    scores = pd.DataFrame(
        {"customer_id": list("abcd"), "consent_marketing": True, "clv": [100.0, 400.0, 200.0, 300.0]}
    )
    plan = allocate(scores, _toy_playbook(capacity=2)).set_index("customer_id")
    assert plan.loc[["b", "d"], "action"].tolist() == ["big", "big"]
    assert plan.loc[["a", "c"], "action"].tolist() == ["small", "small"]  # fall to their next choice


def test_budget_keeps_best_value_per_cost():
    scores = pd.DataFrame(
        {"customer_id": list("abc"), "consent_marketing": True, "clv": [100.0, 400.0, 200.0]}
    )
    plan = allocate(scores, _toy_playbook(budget=20.0)).set_index("customer_id")
    assert plan["cost"].sum() <= 20.0
    assert plan.loc["b", "action"] == "big"  # net 70 per 10 spent: best ratio


def test_missing_consent_column_is_an_error():
    with pytest.raises(SchemaError, match="consent_marketing"):
        expected_net_values(pd.DataFrame({"customer_id": ["a"], "clv": [1.0]}), _toy_playbook())


def test_default_playbook_reasons_name_real_drivers():
    scores = _scores(3000)
    plan = allocate(scores, default_playbook(), budget=None)
    joined = plan.merge(scores, on="customer_id")
    infl = joined[joined["action"] == "influencer_programme"]
    assert len(infl) > 0
    row = infl.iloc[0]
    top = max(1, int(np.ceil(100 - row["csv_percentile"])))
    assert f"top {top}% social value (spread {row['spread']:.0f} people)" in row["reason"]
    assert row["reason"].endswith("→ Influencer / UGC programme invitation")
    # a reason cites P(alive) only when it supports "slowing" (below 0.5)
    wb = joined[(joined["action"] == "win_back") & (joined["p_alive"] < 0.5)].iloc[0]
    assert f"P(alive) {wb['p_alive']:.2f}" in wb["reason"]
    assert f"{wb['days_since_last_purchase']:.0f} days since last purchase" in wb["reason"]


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 300),
    seed=st.integers(0, 10_000),
    budget=st.one_of(st.none(), st.floats(0, 5_000)),
    capacity=st.one_of(st.none(), st.integers(0, 50)),
    email_cap=st.integers(0, 400),
)
def test_allocation_respects_budget_caps_and_consent(n, seed, budget, capacity, email_cap):
    scores = _scores(n, seed)
    pb = _toy_playbook(budget=budget, capacity=capacity, channel_capacity={"email": email_cap})
    plan = allocate(scores, pb)
    assert len(plan) == n and plan["customer_id"].is_unique
    if budget is not None:
        assert plan["cost"].sum() <= budget + 1e-9
    if capacity is not None:
        assert (plan["action"] == "big").sum() <= capacity
    assert (plan["channel"] == "email").sum() <= email_cap
    marketing = plan["action"] != "do_nothing"
    assert scores.loc[marketing.to_numpy(), "consent_marketing"].all()
    assert (plan.loc[marketing, "net_value"] > 0).all()


def test_vectorized_on_large_frame():
    scores = _scores(200_000, 3)
    plan = allocate(scores, default_playbook())
    assert plan["cost"].sum() <= default_playbook().budget
    assert set(plan["action"]) <= {a.name for a in default_playbook().actions}
