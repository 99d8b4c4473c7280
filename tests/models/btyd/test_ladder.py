"""The fallback ladders: each rung is tried in order, and the one used and the reasons are recorded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from socialvalue.errors import SchemaError
from socialvalue.models.btyd import BetaGeo, GammaGamma, ParetoNBD
from socialvalue.models.btyd.ladder import fit_purchase_ladder, fit_spend_ladder


def _spend(n: int, fixed: float | None, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 6, n).astype(float)
    if fixed is None:
        m = GammaGamma.simulate({"p": 6.0, "q": 4.0, "v": 15.0}, np.maximum(x, 1), rng)["monetary_value"]
        m = np.where(x > 0, m, 0.0)
    else:
        m = np.where(x > 0, fixed, 0.0)
    n_orders = x + 1
    return pd.DataFrame(
        {
            "frequency": x,
            "monetary_value": m,
            "n_orders": n_orders,
            "mean_order_value": np.where(x > 0, m, fixed or 30.0),
        }
    )


def test_gamma_gamma_is_the_first_rung_on_gamma_gamma_data():
    fit = fit_spend_ladder(_spend(3_000, None))
    assert fit.name == "Gamma-Gamma" and not fit.fallback
    # the simulated population mean spend p v / (q - 1) = 6 * 15 / 3 = 30 is recovered
    assert fit.model.expected_spend() == pytest.approx(30.0, rel=0.1)


def test_fixed_prices_fall_to_the_shrunk_mean_with_reasons():
    fit = fit_spend_ladder(_spend(500, 29.9))
    assert fit.name == "shrunk mean spend" and fit.fallback
    assert [r.model for r in fit.rungs] == [
        "Gamma-Gamma",
        "Gamma-Gamma with penalizer 0.01",
        "shrunk mean spend",
    ]
    assert all(r.reason for r in fit.rungs)
    assert fit.model.predict_spend(_spend(5, 29.9)).to_numpy() == pytest.approx([29.9] * 5)
    assert "fell back to shrunk mean spend" in fit.summary()


def test_no_repeat_buyers_skip_gamma_gamma():
    frame = pd.DataFrame(
        {
            "frequency": [0.0] * 4,
            "monetary_value": [0.0] * 4,
            "n_orders": [1.0] * 4,
            "mean_order_value": [10.0, 20, 30, 40],
        }
    )
    fit = fit_spend_ladder(frame)
    assert fit.rungs[0].reason == "0 repeat buyer(s): too few to fit"
    assert fit.model.params_["mean"] == pytest.approx(25.0)


def test_purchase_ladder_records_the_holdout_winner_and_falls_to_the_rate_model():
    rng = np.random.default_rng(0)
    sim = BetaGeo.simulate({"r": 0.5, "alpha": 5.0, "a": 0.8, "b": 2.5}, T=np.full(2_000, 40.0), rng=rng)
    cal = sim.assign(holdout_transactions=rng.poisson(0.5, len(sim)), holdout_duration=20.0)
    cands = {"BG/NBD": BetaGeo, "Pareto/NBD": ParetoNBD}
    cal_fit, now_fit, comparison = fit_purchase_ladder(cal, sim, cands)
    assert now_fit.name == comparison.index[0] and not now_fit.fallback
    assert cal_fit.name == now_fit.name and cal_fit.model is not now_fit.model  # refitted on current data
    # nobody bought twice: no probabilistic model is usable, the rate model takes over and says why
    ones = pd.DataFrame({"frequency": np.zeros(300), "recency": np.zeros(300), "T": np.linspace(1, 50, 300)})
    cal1 = ones.assign(holdout_transactions=0, holdout_duration=10.0)
    _, fit, _ = fit_purchase_ladder(cal1, ones, cands)
    assert fit.name == "plain rate model" and fit.fallback
    assert len(fit.rungs) == 3 and fit.rungs[-1].used


def test_no_buyers_at_all_is_data_it_cannot_use():
    empty = pd.DataFrame({"frequency": [], "recency": [], "T": []})
    with pytest.raises(SchemaError, match="no customer has a completed purchase"):
        fit_purchase_ladder(empty, empty, {"BG/NBD": BetaGeo})


def _no_spread(n: int = 1_000, seed: int = 1) -> pd.DataFrame:
    """Every customer draws order values Gamma(4, 0.1) (mean 40): no heterogeneity, the Gamma-Gamma degenerates."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 8, size=n).astype(float)
    m = rng.gamma(4.0 * x, 1 / 0.1) / x
    return pd.DataFrame({"frequency": x, "monetary_value": m, "n_orders": x + 1, "mean_order_value": m})


def test_degenerate_gamma_gamma_is_passed_over_quietly_with_the_shared_reason():
    """The ladder fits with on_degenerate="ignore" (no DegenerateFitWarning: filterwarnings=error would fail
    here) and records GammaGamma.degenerate_, the rule of gammagamma.gamma_gamma_degeneracy."""
    fit = fit_spend_ladder(_no_spread(), fallback_penalizer=0.0)
    assert fit.name == "shrunk mean spend" and fit.fallback
    first = fit.rungs[0]
    assert first.model == "Gamma-Gamma" and not first.used
    assert first.reason.startswith("degenerate fit (q = ")
    assert "the customers' spend scales no longer differ" in first.reason
    assert fit.model.predict_spend(_no_spread(5)).to_numpy() == pytest.approx(40.0, rel=0.05)


def test_degenerate_shape_is_the_gamma_gamma_setting():
    """One threshold: the ladder's degenerate_shape is GammaGamma(degenerate_shape=...); at 5 the simulated
    fitted p (~8; simulated 6) counts as 'order values do not vary'."""
    fit = fit_spend_ladder(_spend(3_000, None), degenerate_shape=5.0, fallback_penalizer=0.0)
    assert [r.used for r in fit.rungs] == [False, True]
    assert fit.rungs[0].reason.startswith("degenerate fit (p = ")
    assert "is above 5: a customer's order values no longer vary" in fit.rungs[0].reason
    assert fit_spend_ladder(_spend(3_000, None)).name == "Gamma-Gamma"  # the default threshold (1e4)


def test_degenerate_purchase_model_is_passed_over(cdnow):
    """On the first 100 CDNOW customers the BG/NBD's a and b run off to 0 (relative SE ~4e3): it is not an
    interior optimum, so the ladder takes the next candidate and says why."""
    few = cdnow.head(100)
    cal = few.assign(
        holdout_transactions=np.random.default_rng(0).poisson(0.5, len(few)), holdout_duration=39.0
    )
    cal_fit, now_fit, comparison = fit_purchase_ladder(cal, few, {"BG/NBD": BetaGeo, "Pareto/NBD": ParetoNBD})
    assert "not separately identified" in comparison.loc["BG/NBD", "degenerate"]
    assert cal_fit.name == now_fit.name == "Pareto/NBD"
    bg_rung = next(r for r in cal_fit.rungs if r.model == "BG/NBD")
    assert not bg_rung.used and bg_rung.reason.startswith("degenerate fit (a = ")
    assert bg_rung.reason.endswith("on the calibration period")
