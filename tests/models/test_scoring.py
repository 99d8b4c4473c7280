"""score_frame and the combined scoring configuration (socialvalue.models.scoring)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from socialvalue.errors import ConfigError, SchemaError
from socialvalue.models._synthetic import synthetic_features
from socialvalue.models.churn import ChurnClassifier
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
    assert alerted["churn_reason"].str.startswith("P(alive) ").all()
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
