"""The churn champion as a saved model (issue 15): it re-scores new features as the contest's choice did."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from socialvalue.errors import ConfigError, NotFittedError, SchemaError
from socialvalue.models import persist
from socialvalue.models._synthetic import synthetic_features
from socialvalue.models.churn import ChurnClassifier, load_churn_config, model_churn_risk
from socialvalue.models.churn_choice import ChurnChampion, _apply_logistic_map, select_churn_risk


def _shop(n: int, seed: int, noise_only: bool = True) -> pd.DataFrame:
    """Churn follows recency; the classifier sees noise only (it trains, and loses to recency)."""
    rng = np.random.default_rng(seed)
    days = rng.uniform(1, 400, n).round()
    churned = rng.random(n) < 1 / (1 + np.exp(-(days - 200) / 50))
    return pd.DataFrame(
        {
            "customer_id": [f"C{seed}-{i:05d}" for i in range(n)],
            "days_since_last_purchase": days,
            "n_orders_365d": rng.poisson(2, n),
            "noise_a": rng.normal(size=n),
            "noise_b": rng.normal(size=n),
            "holdout_transactions": np.where(churned, 0, 1 + rng.poisson(1, n)),
        }
    )


def _ids_in(text: str, ids: pd.Series) -> list[str]:
    quoted = set(re.findall(r'"((?:[^"\\]|\\.)*)"', text))
    return sorted(quoted & set(ids.astype(str)))


def _config():
    return load_churn_config().model_copy(
        update={"features": ("noise_a", "noise_b"), "horizon_days": 182, "bootstrap": 100}
    )


def test_baseline_champion_round_trip_scores_new_customers_as_the_contest_did():
    cal, now = _shop(400, seed=1), _shop(300, seed=2)
    choice = select_churn_risk(cal, now, config=_config())
    assert choice.champion == "recency" and choice.scorer.champion == "recency"
    scorer = choice.scorer
    assert (
        set(scorer.baseline_map_) == {"mean", "sd", "slope", "intercept"}
        and scorer.baseline_map_["slope"] > 0
    )
    assert np.array_equal(scorer.risk(now), choice.risk)  # the published risk is the scorer's
    text = scorer.to_json()
    for back in (ChurnChampion.from_json(text), persist.load_model(text)):
        assert isinstance(back, ChurnChampion) and back.champion == "recency"
        assert back.baseline_map_ == scorer.baseline_map_
        assert np.array_equal(back.risk(now), choice.risk)
        later = _shop(250, seed=3)  # next month's customers: scored by the same map, nothing refitted
        assert np.array_equal(back.risk(later), scorer.risk(later))
        # the classifier that trained (and lost) travels with the champion, for its importance
        assert isinstance(back.classifier_, ChurnClassifier)
        assert np.array_equal(back.classifier_.predict_risk(now), choice.classifier.predict_risk(now))
    assert _ids_in(text, cal["customer_id"]) == [] and _ids_in(text, now["customer_id"]) == []
    assert _ids_in('{"x": "C1-00007"}', cal["customer_id"]) == ["C1-00007"]  # the search can fail


def test_logistic_map_equals_scikit_learns_logistic_regression():
    """P = sigmoid(b0 + b1 z): the formula applied to the saved coefficients equals predict_proba (1e-12)."""
    from sklearn.linear_model import LogisticRegression

    cal = _shop(500, seed=5)
    y = cal["holdout_transactions"].to_numpy() == 0
    s = np.log1p(cal["days_since_last_purchase"].to_numpy())
    mu, sd = s.mean(), s.std()
    fit = LogisticRegression(C=1e4).fit(((s - mu) / sd).reshape(-1, 1), y)
    mapping = {"mean": mu, "sd": sd, "slope": float(fit.coef_[0, 0]), "intercept": float(fit.intercept_[0])}
    new = np.log1p(np.linspace(0, 600, 101))
    expected = fit.predict_proba(((new - mu) / sd).reshape(-1, 1))[:, 1]
    assert np.max(np.abs(_apply_logistic_map(mapping, new) - expected)) <= 1e-12
    assert np.array_equal(_apply_logistic_map({"constant": 0.25}, new), np.full(new.size, 0.25))


def test_model_champion_needs_the_purchase_models_inputs():
    cal, now = _shop(400, seed=6), _shop(200, seed=7)
    y = cal["holdout_transactions"].to_numpy() == 0
    p_cal = np.where(y, 0.05, 0.95)  # a purchase model that knows the answer
    p_now = np.linspace(0.01, 0.99, len(now))
    e_now = np.linspace(0.0, 3.0, len(now))
    choice = select_churn_risk(
        cal, now, p_alive_cal=p_cal, p_alive_now=p_now, expected_now=e_now, config=_config(), classifier=False
    )
    assert choice.champion == "model" and choice.scorer.baseline_map_ is None
    back = persist.load_model(choice.scorer.to_json())
    assert back.classifier_ is None
    assert np.array_equal(back.risk(now, p_alive=p_now, expected_transactions=e_now), choice.risk)
    assert np.array_equal(choice.risk, model_churn_risk(p_now, e_now))
    with pytest.raises(SchemaError, match="p_alive is needed"):
        back.risk(now)


@pytest.mark.slow
def test_classifier_champion_round_trip():
    cal, out = synthetic_features(20_000, seed=0)
    now, out_now = synthetic_features(5_000, seed=1)
    choice = select_churn_risk(
        cal,
        now,
        p_alive_cal=out["p_alive"],
        expected_cal=out["expected_transactions"],
        p_alive_now=out_now["p_alive"],
        expected_now=out_now["expected_transactions"],
    )
    assert choice.champion == "classifier"  # the synthetic data is built for it to win
    back = persist.load_model(choice.scorer.to_json())
    assert np.array_equal(back.risk(now), choice.risk)
    pd.testing.assert_series_equal(
        back.classifier_.explain(now.iloc[:100]), choice.classifier.explain(now.iloc[:100])
    )
    doc = json.loads(choice.scorer.to_json())
    assert doc["model"] == "ChurnChampion" and doc["state"]["classifier"]["model"] == "ChurnClassifier"
    assert doc["fingerprint"] == choice.classifier.fingerprint_


def test_champion_errors():
    with pytest.raises(ConfigError, match="churn champion must be one of"):
        ChurnChampion(champion="coin flip")  # type: ignore[arg-type]
    with pytest.raises(NotFittedError):
        ChurnChampion(champion="recency").risk(_shop(10, seed=8))
    broken = ChurnChampion(champion="recency")
    broken.classifier_, broken.baseline_map_ = None, None
    with pytest.raises(ConfigError, match="no logistic map"):
        ChurnChampion.from_json(broken.to_json())
    scorer = ChurnChampion(champion="recent_count", config=_config())
    scorer.classifier_, scorer.baseline_map_ = None, {"constant": 0.3}
    with pytest.raises(SchemaError, match="lack the column"):
        scorer.risk(pd.DataFrame({"days_since_last_purchase": [1.0]}))
