"""The plain rate model, last rung of the purchase ladder: it recovers known rates and never fails to fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from socialvalue.errors import NotFittedError, SchemaError
from socialvalue.models.btyd.rate import RateModel


def _simulate(n: int, r: float, alpha: float, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Gamma-Poisson purchases (Ehrenberg 1959): lambda ~ Gamma(r, alpha), x ~ Poisson(lambda T)."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1 / alpha, n)
    T = rng.uniform(10, 80, n)
    x = rng.poisson(lam * T)
    return pd.DataFrame({"frequency": x.astype(float), "T": T}), lam


def test_recovers_the_population_rate_and_shrinks_individual_rates():
    data, lam = _simulate(20_000, r=0.6, alpha=4.0)
    m = RateModel().fit(data)
    # pooled rate r / alpha = 0.15 per unit
    assert m.params_["rate"] == pytest.approx(0.15, rel=0.03)
    # the moment estimate of the prior's weight is near the truth (alpha = 4)
    assert m.params_["alpha"] == pytest.approx(4.0, rel=0.25)
    # the posterior mean beats each customer's raw rate x / T on the true rates (it is the Bayes estimate)
    post = m.expected_rate(data)
    raw = data["frequency"] / data["T"]
    assert np.mean((post - lam) ** 2) < np.mean((raw - lam) ** 2)


def test_interval_covers_the_true_rate_at_its_level():
    data, lam = _simulate(5_000, r=2.0, alpha=10.0, seed=1)
    m = RateModel().fit(data)
    _, lo, hi = m.expected_rate(data, interval=0.9)
    assert 0.86 <= np.mean((lam >= lo) & (lam <= hi)) <= 0.94


def test_nobody_bought_twice_still_gives_a_small_positive_rate():
    data = pd.DataFrame({"frequency": np.zeros(200), "T": np.linspace(1, 100, 200)})
    m = RateModel().fit(data)
    # Jeffreys: (0 + 1/2) / sum(T)
    assert m.params_["rate"] == pytest.approx(0.5 / data["T"].sum())
    pred = m.predict_purchases(data, 52)
    assert (pred > 0).all() and (pred < 0.05).all()
    assert (m.probability_alive(data) == 1).all()


def test_poisson_data_without_heterogeneity_uses_a_heavy_prior():
    rng = np.random.default_rng(2)
    T = np.full(3_000, 50.0)
    data = pd.DataFrame({"frequency": rng.poisson(0.1 * T).astype(float), "T": T})
    m = RateModel().fit(data)
    post = m.expected_rate(data)
    assert post.std() < 0.2 * (data["frequency"] / T).std()  # everyone near the common rate


def test_refuses_bad_input_with_one_clear_message():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        RateModel().predict_purchases(pd.DataFrame({"frequency": [1.0], "T": [2.0]}), 1)
    with pytest.raises(SchemaError, match=r"frequency \(first at row 0\).*partly empty row is not"):
        RateModel().fit(pd.DataFrame({"frequency": [np.nan, 1.0], "T": [1.0, 2.0]}))
    with pytest.raises(SchemaError, match="missing column"):
        RateModel().fit(pd.DataFrame({"frequency": [1.0]}))
    with pytest.raises(SchemaError, match="zero rows"):
        RateModel().fit(pd.DataFrame({"frequency": [], "T": []}))


def test_json_round_trip_and_load_model():
    """Saved as a socialvalue.model document (models.persist) with the data fingerprint; the reloaded model
    predicts exactly the same, and persist.load_model rebuilds it from the text alone."""
    import json

    from socialvalue.errors import ConfigError
    from socialvalue.models import persist

    data, _ = _simulate(2_000, r=0.6, alpha=4.0, seed=3)
    model = RateModel(max_prior_weight=5.0).fit(data)
    text = model.to_json()
    doc = json.loads(text)
    assert doc["format"] == "socialvalue.model" and doc["model"] == "RateModel"
    assert doc["fingerprint"] == persist.data_fingerprint(data, ["frequency", "T"]) == model.fingerprint_
    for back in (RateModel.from_json(text), persist.load_model(text)):
        assert type(back) is RateModel and back.get_params() == {"max_prior_weight": 5.0}
        assert back.params_ == model.params_ and back.fingerprint_ == model.fingerprint_
        np.testing.assert_array_equal(back.predict_purchases(data, 13), model.predict_purchases(data, 13))
        for a, b in zip(
            back.expected_rate(data, interval=0.9), model.expected_rate(data, interval=0.9), strict=True
        ):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(NotFittedError):
        RateModel().to_json()
    with pytest.raises(ConfigError, match="not a RateModel"):
        RateModel.from_json(text.replace('"RateModel"', '"ShrunkMeanSpend"'))
    broken = dict(doc, state={"params": {"r": 1.0}})
    with pytest.raises(ConfigError, match="malformed"):
        RateModel.from_json(json.dumps(broken))


def test_customers_without_a_purchase_are_left_out_and_get_the_population_rate():
    data, _ = _simulate(1_000, r=0.6, alpha=4.0, seed=4)
    nobody = pd.DataFrame({"frequency": [np.nan] * 3, "T": [np.nan] * 3})
    both = pd.concat([data, nobody], ignore_index=True)
    model = RateModel().fit(both)
    assert model.params_ == RateModel().fit(data).params_
    assert model.n_no_purchase_ == 3 and model.n_obs_ == 1_000
    pred = model.predict_purchases(both, 10.0)
    np.testing.assert_allclose(pred.iloc[-3:], 10.0 * model.params_["rate"], rtol=1e-15)
    assert (model.probability_alive(both) == 1).all()
