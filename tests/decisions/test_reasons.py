"""No reason contradicts its own figures (issue 14, item 6)."""

import numpy as np
import pandas as pd

from socialvalue.decisions import allocate, default_playbook
from socialvalue.decisions.playbook import Action
from socialvalue.decisions.reasons import (
    SLOWING_P_ALIVE,
    SLOWING_TREND,
    claim_support,
    reasons_for,
)


def _win_back() -> Action:
    return next(a for a in default_playbook().actions if a.name == "win_back")


def _rows(**cols) -> pd.DataFrame:
    base = {
        "customer_id": ["a"],
        "lifecycle_stage": ["decline"],
        "p_alive": [0.98],
        "days_since_last_purchase": [7],
        "churn_risk": [0.05],
        "orders_last_90d": [3],
        "orders_prev_90d": [3],
    }
    base.update(cols)
    n = max(len(v) for v in base.values())
    return pd.DataFrame({k: (v * n if len(v) == 1 else v) for k, v in base.items()})


def test_champion_with_high_p_alive_is_not_called_slowing():
    """The reported defect: 'purchases slowing (P(alive) 0.98), 7 days since last purchase'."""
    reason = reasons_for(_win_back(), _rows())[0]
    assert "slowing" not in reason
    assert "P(alive) 0.98" not in reason
    assert reason.endswith("→ Win-back offer")
    assert "7 days since last purchase" in reason


def test_low_p_alive_supports_slowing_and_is_cited():
    reason = reasons_for(_win_back(), _rows(p_alive=[0.31]))[0]
    assert "purchases slowing (P(alive) 0.31)" in reason


def test_falling_orders_support_slowing_and_the_trend_is_cited_not_p_alive():
    reason = reasons_for(_win_back(), _rows(orders_last_90d=[1], orders_prev_90d=[4]))[0]
    assert "purchases slowing (1 orders in the last 90 days vs 4 before)" in reason
    assert "P(alive)" not in reason


def test_slowing_needs_evidence_when_the_columns_are_missing():
    frame = _rows().drop(columns=["p_alive", "orders_last_90d", "orders_prev_90d"])
    assert not claim_support("purchases slowing", frame).any()


def test_claim_thresholds_are_the_named_constants():
    frame = pd.DataFrame(
        {
            "p_alive": [SLOWING_P_ALIVE - 1e-6, SLOWING_P_ALIVE, 0.9, 0.9],
            "purchase_trend": [0.0, 0.0, SLOWING_TREND, SLOWING_TREND + 0.01],
        }
    )
    assert claim_support("purchases slowing", frame).tolist() == [True, False, True, False]


def test_other_claims_follow_their_figures():
    frame = pd.DataFrame(
        {
            "lifecycle_stage": ["churned", "maturity", "maturity"],
            "p_alive": [0.9, 0.1, 0.9],
            "tenure_days": [30, 91, 90],
            "n_orders": [1, 2, 1],
            "content_total": [0, 1, 0],
        }
    )
    assert claim_support("churned ({days_since_last_purchase:.0f} days)", frame).tolist() == [
        True,
        True,
        False,
    ]
    assert claim_support("new customer ({tenure_days:.0f} days)", frame).tolist() == [True, False, True]
    assert claim_support("one purchase so far", frame).tolist() == [True, False, True]
    assert claim_support("{n_orders:.0f} orders, no review yet", frame).tolist() == [True, False, True]
    assert claim_support("expected value {clv:.0f}", frame).all()  # no claim: every row


def test_no_reason_in_a_default_plan_contradicts_its_figures():
    rng = np.random.default_rng(7)
    n = 4000
    scores = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "consent_marketing": True,
            "lifecycle_stage": rng.choice(["introduction", "growth", "maturity", "decline", "churned"], n),
            "n_orders": rng.integers(1, 6, n),
            "tenure_days": rng.integers(1, 700, n),
            "tier": rng.choice(["platinum", "gold", "silver", "bronze"], n),
            "segment": rng.choice(["Champions", "Loyal", "At risk", "Lost"], n),
            "p_alive": rng.random(n),
            "churn_risk": rng.random(n),
            "clv": rng.gamma(1.5, 60.0, n),
            "social_value": rng.gamma(0.5, 40.0, n),
            "csv_percentile": 100 * rng.random(n),
            "influencer": rng.random(n) < 0.05,
            "spread": rng.gamma(1.0, 10.0, n),
            "helpful_votes_total": rng.integers(0, 10, n),
            "content_total": rng.integers(0, 3, n),
            "referrals_made": rng.integers(0, 3, n),
            "days_since_last_purchase": rng.integers(0, 600, n),
            "orders_last_90d": rng.integers(0, 4, n),
            "orders_prev_90d": rng.integers(0, 4, n),
            "total_spend": 100.0,
        }
    )
    plan = allocate(scores, default_playbook(), budget=None).merge(scores, on="customer_id")
    slowing = plan[plan["reason"].str.contains("slowing")]
    assert len(slowing) > 0
    trend = (slowing["orders_last_90d"] - slowing["orders_prev_90d"]) / (
        slowing["orders_last_90d"] + slowing["orders_prev_90d"]
    ).where(lambda t: t > 0)
    supported = (slowing["p_alive"] < SLOWING_P_ALIVE) | (trend.fillna(0) <= SLOWING_TREND + 1e-9)
    assert supported.all()
    cites_p = slowing["reason"].str.contains(r"slowing \(P\(alive\)")
    assert (slowing.loc[cites_p, "p_alive"] < SLOWING_P_ALIVE).all()
    churned = plan[plan["reason"].str.match(r"churned\b")]
    assert ((churned["lifecycle_stage"] == "churned") | (churned["p_alive"] < 0.2)).all()
