"""The shrunk mean spend, last rung of the spend ladder: Bühlmann credibility on simulated spend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from socialvalue.errors import SchemaError
from socialvalue.models.btyd.shrunk_spend import ShrunkMeanSpend


def _simulate(n: int, tau: float, sigma: float, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """True customer means ~ N(50, tau^2); n_i orders with noise sigma (Bühlmann 1967's setting)."""
    rng = np.random.default_rng(seed)
    mu_i = 50 + tau * rng.standard_normal(n)
    k = rng.integers(1, 12, n)
    z = mu_i + sigma * rng.standard_normal(n) / np.sqrt(k)
    return pd.DataFrame({"n_orders": k.astype(float), "mean_order_value": z}), mu_i


def test_recovers_the_credibility_constant():
    data, _ = _simulate(40_000, tau=5.0, sigma=15.0)
    m = ShrunkMeanSpend().fit(data)
    assert m.params_["mean"] == pytest.approx(50, rel=0.01)
    # k = sigma^2 / tau^2 = 225 / 25 = 9
    assert m.params_["k"] == pytest.approx(9.0, rel=0.15)


def test_shrinkage_beats_raw_means_on_the_true_means():
    data, mu_i = _simulate(5_000, tau=5.0, sigma=15.0, seed=1)
    pred = ShrunkMeanSpend().fit(data).predict_spend(data)
    assert np.mean((pred - mu_i) ** 2) < 0.7 * np.mean((data["mean_order_value"] - mu_i) ** 2)


def test_fixed_price_catalogue_gives_everyone_the_price():
    data = pd.DataFrame({"n_orders": [1.0, 2, 5, 3], "mean_order_value": [29.9] * 4})
    m = ShrunkMeanSpend().fit(data)
    assert np.isinf(m.params_["k"])
    assert m.predict_spend(data).to_numpy() == pytest.approx([29.9] * 4)


def test_customers_without_a_positive_mean_get_the_population_mean():
    data = pd.DataFrame({"n_orders": [2.0, 3, 0, 1], "mean_order_value": [20.0, 40, np.nan, -5]})
    m = ShrunkMeanSpend().fit(data)
    pred = m.predict_spend(data).to_numpy()
    assert pred[2] == pytest.approx(m.params_["mean"]) and pred[3] == pytest.approx(m.params_["mean"])


def test_nobody_spent_is_a_clear_error():
    with pytest.raises(SchemaError, match="no customer has an order with a positive value"):
        ShrunkMeanSpend().fit(pd.DataFrame({"n_orders": [1.0], "mean_order_value": [0.0]}))


@pytest.mark.parametrize("fixed", [False, True])
def test_json_round_trip_and_load_model(fixed):
    """Saved with the data fingerprint (models.persist); k = inf (a fixed-price catalogue) survives as JSON
    Infinity; predictions after reloading equal the original's, also through persist.load_model."""
    import json

    from socialvalue.errors import ConfigError, NotFittedError
    from socialvalue.models import persist

    data, _ = _simulate(3_000, tau=5.0, sigma=15.0, seed=2)
    if fixed:
        data = data.assign(mean_order_value=29.9)
    model = ShrunkMeanSpend(default_k=2.0).fit(data)
    assert np.isinf(model.params_["k"]) == fixed
    text = model.to_json()
    assert json.loads(text)["fingerprint"] == persist.data_fingerprint(data, ["n_orders", "mean_order_value"])
    for back in (ShrunkMeanSpend.from_json(text), persist.load_model(text)):
        assert type(back) is ShrunkMeanSpend and back.get_params() == {"default_k": 2.0}
        assert back.params_ == model.params_ and back.fingerprint_ == model.fingerprint_
        np.testing.assert_array_equal(back.predict_spend(data), model.predict_spend(data))
    with pytest.raises(NotFittedError):
        ShrunkMeanSpend().to_json()
    with pytest.raises(ConfigError, match="not a ShrunkMeanSpend"):
        ShrunkMeanSpend.from_json(text.replace('"ShrunkMeanSpend"', '"RateModel"'))
