"""Synthetic feature tables for tests and benchmarks of the scoring models (not part of the public API).

The generator draws customers with a purchase rate, a tenure and an engagement level, derives the
feature-table columns from them, and draws churn in the holdout from a known logistic model in which, beyond
recency, a falling interaction trend, a churned referrer and quiet partners raise the risk. So a classifier
that sees the social columns must beat recency alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["synthetic_features"]


def synthetic_features(
    n: int, *, seed: int = 0, no_purchase_share: float = 0.05
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(features, model_outputs)`` for ``n`` customers.

    ``features`` follows the feature-table contract (a subset of the columns, days as the unit) plus
    ``holdout_transactions``; ``model_outputs`` holds ``p_alive``, ``expected_transactions``, ``clv``,
    ``clv_lower``, ``clv_upper`` and the true churn probability ``churn_prob``.
    """
    rng = np.random.default_rng(seed)
    tenure = rng.uniform(20, 1500, n)
    rate = rng.gamma(1.2, 1.0, n) / 60.0  # purchases per day, mean one per ~50 days
    engage = rng.gamma(1.0, 1.0, n)
    expected = 1.0 + rate * tenure
    n_orders = 1 + rng.poisson(expected - 1.0)
    # Recency: more frequent buyers bought more recently; a dropped-out share stopped long ago.
    dropped = rng.random(n) < 0.35
    gap = rng.exponential(1.0 / np.maximum(rate, 1e-3))
    dslp = np.minimum(np.where(dropped, rng.uniform(0.2, 1.0, n) * tenure, gap), tenure)
    none = rng.random(n) < no_purchase_share
    n_orders = np.where(none, 0, n_orders)
    spend_per = rng.gamma(2.0, 30.0, n)
    total_spend = n_orders * spend_per * rng.uniform(0.8, 1.2, n)
    active = ~dropped
    o_prev = rng.poisson(rate * 90 * (0.6 + 0.8 * active))
    o_last = rng.poisson(rate * 90 * np.where(active, 1.0, 0.2))
    i_prev = rng.poisson(engage * 10)
    fade = rng.random(n) < 0.3  # engagement collapsing: the social early signal
    i_last = rng.poisson(engage * 10 * np.where(fade, 0.1, 1.0))
    referred = rng.random(n) < 0.3
    referrer_churned = np.where(referred, (rng.random(n) < 0.4).astype(float), np.nan)
    quiet_share = np.where(engage > 0.2, rng.beta(1.5, 3.0, n), np.nan)
    # Known churn model (logit scale).
    trend_i = (i_last - i_prev) / np.maximum(i_last + i_prev, 1)
    logit = (
        -1.4
        + 1.0 * np.log1p(dslp / 30.0)
        - 1.6 * trend_i
        + 1.5 * np.nan_to_num(referrer_churned)
        - 0.6 * (referred & (np.nan_to_num(referrer_churned) == 0))
        + 2.0 * np.nan_to_num(quiet_share)
        - 0.8 * np.log1p(rate * 90)
    )
    churn_prob = 1.0 / (1.0 + np.exp(-logit))
    churn = rng.random(n) < churn_prob
    holdout = np.where(churn, 0, 1 + rng.poisson(rate * 90))
    ids = np.char.add("c", np.arange(n).astype(str)).astype(object)
    views = rng.poisson(engage * 40)
    features = pd.DataFrame(
        {
            "customer_id": ids,
            "days_since_last_purchase": np.where(none, np.nan, np.round(dslp)),
            "n_orders": n_orders,
            "total_spend": np.round(total_spend, 2),
            "mean_spend": np.where(n_orders > 0, total_spend / np.maximum(n_orders, 1), 0.0),
            "n_orders_90d": o_last,
            "n_orders_365d": o_last + o_prev + rng.poisson(rate * 180),
            "spend_365d": (o_last + o_prev) * spend_per,
            "n_returns": rng.poisson(0.05 * n_orders),
            "tenure_days": np.round(tenure),
            "ipt_mean_days": np.where(n_orders > 1, tenure / np.maximum(n_orders - 1, 1), np.nan),
            "ipt_cv": np.where(n_orders > 2, rng.uniform(0.3, 1.5, n), np.nan),
            "orders_last_90d": o_last,
            "orders_prev_90d": o_prev,
            "interactions_last_90d": i_last,
            "interactions_prev_90d": i_prev,
            "days_since_last_interaction": np.round(rng.exponential(10 + 200 * fade)),
            "int_given_90d": i_last,
            "int_given_365d": i_last + i_prev + rng.poisson(engage * 20),
            "int_received_365d": rng.poisson(engage * 15),
            "int_given_view_365d": views,
            "int_given_click_365d": rng.poisson(engage * 5),
            "distinct_partners_365d": rng.poisson(engage * 3),
            "followers": rng.poisson(engage * 8),
            "following": rng.poisson(engage * 8),
            "referrals_made": rng.poisson(0.2, n),
            "referred_buyers": rng.poisson(0.1, n),
            "referred_revenue": rng.poisson(0.1, n) * spend_per,
            "content_review": rng.poisson(engage * 0.5),
            "content_total": rng.poisson(engage * 1.0),
            "helpful_votes_total": rng.poisson(engage * 2.0),
            "review_mean_rating": rng.uniform(1, 5, n),
            "referrer_churned": referrer_churned,
            "partners_quiet_share": quiet_share,
            "holdout_transactions": holdout,
        }
    )
    p_alive = np.clip(1.0 - churn_prob + rng.normal(0, 0.1, n), 0.01, 0.99)
    exp_tx = p_alive * rate * 90
    clv = exp_tx * spend_per * 4
    outputs = pd.DataFrame(
        {
            "p_alive": p_alive,
            "expected_transactions": exp_tx,
            "clv": clv,
            "clv_lower": clv * 0.7,
            "clv_upper": clv * 1.4,
            "churn_prob": churn_prob,
        }
    )
    return features, outputs
