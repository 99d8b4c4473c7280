"""score_frame and the combined scoring configuration (socialvalue.models.scoring)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from socialvalue.errors import ConfigError, SchemaError
from socialvalue.models._synthetic import synthetic_features
from socialvalue.models.churn import ChurnClassifier, load_churn_config
from socialvalue.models.churn_choice import select_churn_risk
from socialvalue.models.scoring import SCORE_COLUMNS, load_scoring_config, score_frame


@pytest.fixture(scope="module")
def synthetic():
    return synthetic_features(6000, seed=5)


def test_score_frame_model_based(synthetic):
    features, out = synthetic
    before = features.copy()
    scores = score_frame(
        features,
        p_alive=out["p_alive"],
        clv=out["clv"],
        expected_transactions=out["expected_transactions"],
        clv_lower=out["clv_lower"],
        clv_upper=out["clv_upper"],
    )
    pd.testing.assert_frame_equal(features, before)
    assert tuple(scores.columns) == SCORE_COLUMNS
    assert len(scores) == len(features) and scores["customer_id"].is_unique
    none = features["n_orders"] == 0
    assert (scores.loc[none, "rfm_segment"] == "No purchase").all() and (
        scores.loc[none, "r_score"] == 0
    ).all()
    assert set(scores["lifecycle_stage"]) <= {"introduction", "growth", "maturity", "decline", "churned"}
    assert scores["churn_alert"].sum() == 600
    alerted = scores.loc[scores["churn_alert"]]
    assert (alerted["churn_reason"].str.len() > 5).all()
    assert (scores["churn_risk_source"] == "model").all()
    assert (scores.loc[~scores["churn_alert"], "churn_reason"] == "").all()
    assert alerted["churn_risk"].min() >= scores.loc[~scores["churn_alert"], "churn_risk"].max()
    assert set(scores["tier"]) == {"platinum", "gold", "silver", "bronze"}
    assert scores["value_coefficient"].between(0, 100).all()
    assert scores["cluster"].max() + 1 == scores.attrs["k"]
    assert set(scores.attrs["timings"]) == {
        "rfm",
        "lifecycle",
        "churn",
        "clusters",
        "value_coefficient",
        "tiers",
    }
    np.testing.assert_allclose(scores["clv_upper"], out["clv_upper"])


@pytest.mark.slow
def test_score_frame_with_classifier_and_tier_basis(synthetic, tmp_path):
    features, out = synthetic
    path = tmp_path / "scoring.toml"
    path.write_text('[tiers]\nbasis = "value_coefficient"\n[churn]\nalert_budget = 0.05\n')
    config = load_scoring_config(path)
    assert config.tiers.basis == "value_coefficient" and config.tiers.names[0] == "platinum"
    model = ChurnClassifier(config=config.churn).fit(features)
    scores = score_frame(features, p_alive=out["p_alive"], clv=out["clv"], config=config, churn_model=model)
    assert (scores["churn_risk_source"] == "classifier").all()
    assert scores["churn_alert"].sum() == 300
    assert scores.loc[scores["churn_alert"], "churn_reason"].str.len().min() > 5
    top = scores["value_coefficient"].rank(pct=True, method="min") > 0.99
    assert (scores.loc[top, "tier"] == "platinum").all()
    assert np.isnan(scores["expected_transactions"]).all()


def test_scoring_config_errors(tmp_path, synthetic):
    features, out = synthetic
    bad = tmp_path / "bad.toml"
    bad.write_text("[tier]\nbasis = 'clv'\n")
    expected = f"{bad}: unknown section(s) ['tier']; expected some of"
    with pytest.raises(ConfigError, match=f"^{re.escape(expected)}"):
        load_scoring_config(bad)
    bad.write_text("[churn]\nalert_budget = 2\n")
    with pytest.raises(
        ConfigError, match=r"\[churn\]: alert_budget: Input should be less than or equal to 1"
    ):
        load_scoring_config(bad)
    with pytest.raises(SchemaError, match=r"p_alive has shape \(3,\), expected \(6000,\)"):
        score_frame(features, p_alive=np.ones(3), clv=out["clv"])


def _tied_shop(n: int = 200, tied: int = 117, seed: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    """The issue-14 shop: 117 of 200 customers share one risk value; 20 alerts must come from them by rank."""
    rng = np.random.default_rng(seed)
    features = synthetic_features(n, seed=seed, no_purchase_share=0.0)[0]
    features["days_since_last_purchase"] = rng.permutation(n).astype(float) * 2 + 1
    risk = np.where(np.arange(n) < tied, 0.6, rng.uniform(0.0, 0.5, n))
    return features, risk


def test_alerts_drawn_by_rank_among_tied_risks():
    features, risk = _tied_shop()
    config = load_scoring_config()
    config = config.model_copy(update={"churn": config.churn.model_copy(update={"alert_budget": 0.1})})
    kw = {"p_alive": np.full(200, 0.8), "clv": np.ones(200), "config": config}
    scores = score_frame(features, churn_risk=risk, churn_risk_source="recency", **kw)
    alerted = scores.loc[scores["churn_alert"]]
    assert len(alerted) == 20 and (alerted["churn_risk"] == 0.6).all()
    assert (scores["churn_risk_source"] == "recency").all()
    # the tie is broken by days since the last purchase: the 20 longest gaps among the 117 tied customers
    tied_days = features["days_since_last_purchase"][risk == 0.6]
    expected = set(features.loc[tied_days.nlargest(20).index, "customer_id"])
    assert set(alerted["customer_id"]) == expected
    # the same customers whatever the row order, and on every call
    shuffled = np.random.default_rng(9).permutation(200)
    again = score_frame(
        features.iloc[shuffled].reset_index(drop=True),
        churn_risk=risk[shuffled],
        churn_risk_source="recency",
        **{**kw, "p_alive": kw["p_alive"][shuffled], "clv": kw["clv"][shuffled]},
    )
    assert set(again.loc[again["churn_alert"], "customer_id"]) == expected
    assert alerted["churn_reason"].str.startswith("no purchase for ").all()


def test_score_frame_publishes_the_chosen_risk_and_checks_its_source():
    features, risk = _tied_shop()
    kw = {"p_alive": np.full(200, 0.8), "clv": np.ones(200)}
    with pytest.raises(SchemaError, match="churn_risk_source must be one of"):
        score_frame(features, churn_risk=risk, churn_risk_source="magic", **kw)
    with pytest.raises(SchemaError, match="needs the fitted churn_model"):
        score_frame(features, churn_risk=risk, churn_risk_source="classifier", **kw)
    with pytest.raises(SchemaError, match="churn_risk has shape"):
        score_frame(features, churn_risk=risk[:10], churn_risk_source="recency", **kw)


def test_score_frame_with_a_churn_choice():
    rng = np.random.default_rng(21)
    n = 300
    days = rng.uniform(1, 400, n).round()
    features = synthetic_features(n, seed=21, no_purchase_share=0.0)[0].assign(
        days_since_last_purchase=days,
        noise=rng.normal(size=n),
        holdout_transactions=np.where(rng.random(n) < 1 / (1 + np.exp(-(days - 200) / 40)), 0, 1),
    )
    config = load_scoring_config()
    churn = load_churn_config().model_copy(update={"features": ("noise",), "horizon_days": 182})
    config = config.model_copy(update={"churn": churn})
    choice = select_churn_risk(features, features, config=churn)
    assert choice.champion == "recency"
    scores = score_frame(
        features, p_alive=np.full(n, 0.9), clv=np.ones(n), config=config, churn_choice=choice
    )
    assert (scores["churn_risk_source"] == "recency").all()
    np.testing.assert_allclose(scores["churn_risk"], choice.risk)
    alerted = scores.loc[scores["churn_alert"]]
    assert len(alerted) == 30
    assert alerted["churn_risk"].min() >= scores.loc[~scores["churn_alert"], "churn_risk"].max()
    # recency's ranking: the 30 longest gaps are alerted
    top = features["days_since_last_purchase"].nlargest(30).min()
    assert features.loc[scores["churn_alert"], "days_since_last_purchase"].min() >= top
