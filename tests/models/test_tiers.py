"""Value tiers (socialvalue.models.tiers)."""

from __future__ import annotations

import numpy as np
import pytest

from socialvalue.models.tiers import TierConfig, assign_tiers, load_tier_config, tier_summary


def test_percentile_tiers_sizes():
    values = np.random.default_rng(0).permutation(1000).astype(float)
    tiers = assign_tiers(values)
    names, counts = np.unique(tiers, return_counts=True)
    assert dict(zip(names, counts, strict=True)) == {"platinum": 10, "gold": 90, "silver": 400, "bronze": 500}
    assert tiers[values.argmax()] == "platinum" and tiers[values.argmin()] == "bronze"


def test_ties_share_a_tier_and_nan_is_lowest():
    values = np.array([5.0] * 50 + [1.0] * 50 + [np.nan])
    tiers = assign_tiers(values)
    assert set(tiers[:50]) == {"silver"}  # 50% of customers are strictly below 5
    assert set(tiers[50:]) == {"bronze"}


def test_revenue_shares_sum_to_one():
    rng = np.random.default_rng(1)
    clv = rng.gamma(0.5, 100, 5000)
    revenue = clv * rng.uniform(0.5, 1.5, 5000)
    out = tier_summary(assign_tiers(clv), revenue, basis=clv)
    assert out.index.tolist() == ["platinum", "gold", "silver", "bronze"]
    assert out["revenue_share"].sum() == pytest.approx(1.0)
    assert out["customer_share"].sum() == pytest.approx(1.0)
    assert out.loc["platinum", "revenue_share"] > 0.05  # the top 1% of a skewed CLV holds far more than 1%
    assert out["min_basis"].is_monotonic_decreasing


def test_threshold_tiers():
    cfg = TierConfig(
        basis="clv",
        method="threshold",
        tiers=[{"name": "vip", "min": 1000}, {"name": "regular", "min": 100}, {"name": "small", "min": 0}],
    )
    tiers = assign_tiers(np.array([5000, 1000, 999, 100, 5, -3, np.nan]), cfg)
    assert tiers.tolist() == ["vip", "vip", "regular", "regular", "small", "small", "small"]
    out = tier_summary(tiers, np.zeros(7), config=cfg)
    assert out["revenue_share"].tolist() == [0.0, 0.0, 0.0]  # no revenue: no share, not NaN


def test_config_validation():
    assert load_tier_config().names == ["platinum", "gold", "silver", "bronze"]
    with pytest.raises(ValueError, match="strictly decreasing min"):
        TierConfig(tiers=[{"name": "a", "min": 0.5}, {"name": "b", "min": 0.9}, {"name": "c", "min": 0}])
    with pytest.raises(ValueError, match="last percentile tier must have min = 0"):
        TierConfig(tiers=[{"name": "a", "min": 0.5}, {"name": "b", "min": 0.1}])
    with pytest.raises(ValueError, match="unique"):
        TierConfig(tiers=[{"name": "a", "min": 0.5}, {"name": "a", "min": 0}])
