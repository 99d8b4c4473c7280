"""Churn early warning: definitions, model-based risk, classifier, report, reasons, social features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from socialvalue.errors import NotFittedError, SchemaError
from socialvalue.models._synthetic import synthetic_features
from socialvalue.models.churn import (
    ChurnClassifier,
    churn_design,
    churn_report,
    load_churn_config,
    model_churn_risk,
)
from socialvalue.models.churn_reasons import model_reasons, reasons_from_contributions
from socialvalue.models.churn_social import social_churn_features


@pytest.fixture(scope="module")
def synthetic():
    return synthetic_features(20_000, seed=0)


@pytest.fixture(scope="module")
def fitted(synthetic):
    features, _ = synthetic
    return ChurnClassifier().fit(features)


def test_model_churn_risk_formula():
    p = np.array([0.5, 1.0, 0.0, 0.8])
    assert model_churn_risk(p).tolist() == pytest.approx([0.5, 0.0, 1.0, 0.2])
    e = np.array([0.5, 2.0, 0.3, 0.8])
    # 1 - p + p exp(-E / p): 0.5 + 0.5 e^-1; surely alive: Poisson zero e^-2; surely dead: 1.
    expected = [0.5 + 0.5 * np.exp(-1.0), np.exp(-2.0), 1.0, 0.2 + 0.8 * np.exp(-1.0)]
    assert model_churn_risk(p, e).tolist() == pytest.approx(expected)


def test_churn_report_hand_checked():
    y = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 0])
    s = np.array([0.9, 0.8, 0.7, 0.2, 0.6, 0.1, 0.3, 0.4, 0.05, 0.5])
    r = churn_report(y, s, alert_budget=0.2, recency=-s)
    assert r.n == 10 and r.base_rate == pytest.approx(0.3)
    assert r.auc == pytest.approx(20 / 21)  # 20 of the 21 (churner, stayer) pairs ordered right
    assert r.auc_recency == pytest.approx(1 / 21)
    assert r.top_decile_lift == pytest.approx(1 / 0.3)
    assert r.precision_at_budget == 1.0 and r.recall_at_budget == pytest.approx(2 / 3)
    assert list(r.calibration.columns) == ["mean_predicted", "observed"]
    with pytest.raises(SchemaError, match="both classes"):
        churn_report(np.zeros(5), np.ones(5))


@pytest.mark.slow
def test_classifier_beats_recency_alone_on_holdout(synthetic, fitted):
    """The synthetic churn is driven by recency AND falling interactions, a churned referrer, quiet partners."""
    report = fitted.report_
    assert report.definition == "no purchase in the next 90 days"
    assert report.auc > report.auc_recency + 0.08
    assert report.top_decile_lift > 1.5
    assert 0.8 < report.precision_at_budget <= 1.0
    # Calibrated enough: the observed churn rate rises across the predicted-risk deciles.
    cal = report.calibration
    assert np.all(np.diff(cal["observed"].to_numpy()) > -0.08)
    assert np.abs(cal["observed"] - cal["mean_predicted"]).max() < 0.1
    # A fresh draw (other customers, same process) keeps the advantage.
    fresh, _ = synthetic_features(10_000, seed=1)
    again = fitted.evaluate(fresh)
    assert again.auc > again.auc_recency + 0.08
    assert "referrer_churned" in fitted.features_ and "interaction_trend" in fitted.features_


@pytest.mark.slow
def test_classifier_without_social_columns_is_weaker(synthetic, fitted):
    features, _ = synthetic
    plain = ChurnClassifier(features=["days_since_last_purchase", "n_orders", "tenure_days"]).fit(features)
    assert plain.report_.auc < fitted.report_.auc - 0.05


@pytest.mark.slow
def test_not_fitted_and_missing_columns(synthetic, fitted):
    features, _ = synthetic
    with pytest.raises(NotFittedError, match="not fitted yet"):
        ChurnClassifier().predict_risk(features)
    with pytest.raises(SchemaError, match=r"absent from the frame"):
        fitted.predict_risk(features.drop(columns=["tenure_days"]))
    with pytest.raises(SchemaError, match=r"needs column\(s\) 'holdout_transactions'"):
        ChurnClassifier().fit(features.drop(columns=["holdout_transactions"]))


@pytest.mark.slow
def test_reasons_name_the_drivers(synthetic, fitted):
    features, _ = synthetic
    x = features.iloc[:2].copy()
    # A lapsed customer whose referrer churned and whose interactions collapsed ...
    x.loc[x.index[0], ["days_since_last_purchase", "referrer_churned"]] = [900.0, 1.0]
    x.loc[x.index[0], ["interactions_last_90d", "interactions_prev_90d"]] = [1, 20]
    # ... and a recent, engaged one.
    x.loc[x.index[1], ["days_since_last_purchase", "referrer_churned", "partners_quiet_share"]] = [
        2.0,
        0.0,
        0.0,
    ]
    x.loc[x.index[1], ["interactions_last_90d", "interactions_prev_90d"]] = [20, 20]
    risk = fitted.predict_risk(x)
    assert risk[0] > 0.8 > 0.3 > risk[1]
    contrib = fitted.contributions(x)
    assert contrib.loc[x.index[0], "days_since_last_purchase"] > 0
    reasons = fitted.explain(x, top=3)
    parts = reasons.iloc[0].split("; ")
    assert len(parts) == 3
    assert set(parts) <= {
        "no purchase for 900 days",
        "their referrer churned",
        "interactions down 95% vs previous 90 days",
        f"{x['n_orders'].iloc[0]} orders in total",
    } | {p for p in parts if p.startswith(("orders", "interactions", "customer for"))}
    assert "no purchase for 900 days" in parts


def test_reason_phrases_exact():
    frame = pd.DataFrame(
        {
            "days_since_last_purchase": [210.0, 5.0],
            "interactions_last_90d": [2, 3],
            "interactions_prev_90d": [10, 1],
            "referrer_churned": [1.0, np.nan],
        }
    )
    design = churn_design(frame, ["days_since_last_purchase", "interaction_trend", "referrer_churned"])
    contrib = pd.DataFrame([[0.3, 0.2, 0.0], [-0.1, 0.05, 0.2]], columns=design.columns)
    out = reasons_from_contributions(frame, design, contrib, top=2)
    assert out.tolist() == [
        "no purchase for 210 days; interactions down 80% vs previous 90 days",
        "not referred by another customer; 3 interactions in the last 90 days vs 1 before",
    ]
    assert model_reasons(frame, np.array([0.12, 0.9])).tolist() == [
        "P(alive) 0.12; no purchase for 210 days; interactions down 80% vs previous 90 days",
        "P(alive) 0.90; no purchase for 5 days",
    ]


def test_default_config():
    cfg = load_churn_config()
    assert cfg.horizon_days == 90 and cfg.alert_budget == 0.1
    assert "partners_quiet_share" in cfg.features


def test_social_churn_features_on_crafted_graph():
    as_of = pd.Timestamp("2024-01-01")
    features = pd.DataFrame(
        {
            "customer_id": list("abcdef"),
            "days_since_last_purchase": [10, 200, np.nan, 5, 20, 30],  # b and c have churned
            "days_since_last_interaction": [5, 100, np.nan, 200, 1, 2],  # b, c, d are quiet
        }
    )
    relationships = pd.DataFrame(
        {
            "src_id": ["b", "d", "b", "d", "a", "e", "f"],
            "dst_id": ["a", "e", "f", "f", "c", "b", "c"],
            "kind": ["referred", "referred", "referred", "referred", "friend", "follow", "friend"],
            "created_at": pd.to_datetime(["2023-01-01"] * 5 + ["2024-06-01", "2023-01-01"]),  # e->b: future
            "ended_at": pd.to_datetime([None] * 6 + ["2023-06-01"]),  # f-c ended before as_of
        }
    )
    interactions = pd.DataFrame(
        {
            "actor_id": ["a", "a", "a", "e", "e", "b"],
            "target_customer_id": ["d", "b", "e", None, "e", "d"],
            "occurred_at": pd.to_datetime(["2023-12-01"] * 5 + ["2022-11-01"]),  # b->d: outside 365 days
        }
    )
    before = features.copy()
    out = social_churn_features(features, relationships=relationships, interactions=interactions, as_of=as_of)
    pd.testing.assert_frame_equal(features, before)
    ref = dict(zip(out["customer_id"], out["referrer_churned"], strict=True))
    assert ref["a"] == 1.0 and ref["e"] == 0.0 and ref["f"] == 1.0
    assert np.isnan(ref["b"]) and np.isnan(ref["c"]) and np.isnan(ref["d"])
    quiet = dict(zip(out["customer_id"], out["partners_quiet_share"], strict=True))
    assert quiet["a"] == pytest.approx(3 / 4)  # partners c, d, b (quiet) and e (not)
    assert quiet["b"] == 0.0 and quiet["c"] == 0.0 and quiet["d"] == 0.0 and quiet["e"] == 0.0
    assert np.isnan(quiet["f"])  # its only tie ended
    # Without as_of every tie and interaction counts.
    everything = social_churn_features(features, relationships=relationships, interactions=interactions)
    q = dict(zip(everything["customer_id"], everything["partners_quiet_share"], strict=True))
    assert q["b"] == pytest.approx(1 / 3) and q["f"] == 1.0  # b: a, d (quiet), e; f: c (quiet)


def test_unlabelled_rows_are_left_out():
    features, _ = synthetic_features(3000, seed=4)
    with_nan = features.assign(holdout_transactions=features["holdout_transactions"].astype(float))
    with_nan.loc[with_nan.index[:1000], "holdout_transactions"] = np.nan
    model = ChurnClassifier().fit(with_nan)
    assert 540 < model.report_.n < 660  # 30% of the 2,000 labelled customers
    assert model.evaluate(with_nan).n == 2000
