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
