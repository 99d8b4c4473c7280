"""MBG/NBD: lifetimes' ModifiedBetaGeoFitter parity on CDNOW, simulation recovery."""

from __future__ import annotations

import numpy as np
import pytest

from socialvalue.models.btyd import BetaGeo, ModifiedBetaGeo


@pytest.fixture(scope="module")
def fitted(cdnow) -> ModifiedBetaGeo:
    return ModifiedBetaGeo().fit(cdnow)


@pytest.fixture(scope="module")
def lifetimes_fit(cdnow):
    lifetimes = pytest.importorskip("lifetimes")
    return lifetimes.ModifiedBetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


@pytest.fixture(scope="module")
def at_lifetimes_params(fitted, lifetimes_fit, with_params) -> ModifiedBetaGeo:
    return with_params(fitted, lifetimes_fit.params_)


def test_params_and_likelihood_match_lifetimes(fitted, lifetimes_fit, cdnow):
    """lifetimes' ModifiedBetaGeoFitter on CDNOW (r ~ 0.525, alpha ~ 6.183, a ~ 0.891, b ~ 1.614)."""
    for name in ("r", "alpha", "a", "b"):
        assert fitted.params_[name] == pytest.approx(lifetimes_fit.params_[name], rel=1e-4)
    # lifetimes' own likelihood (mean negative log-likelihood) at our optimum equals ours
    x, tx, T = (cdnow[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    theta = np.log([fitted.params_[k] for k in ("r", "alpha", "a", "b")])
    ref = -type(lifetimes_fit)._negative_log_likelihood(theta, x, tx, T, np.ones_like(x), 0.0) * len(x)
    assert fitted.log_likelihood_ == pytest.approx(ref, rel=1e-10)
    # Batislam et al. (2007): the MBG/NBD fits CDNOW about as well as the BG/NBD (LL -9582.1 vs -9582.4)
    assert fitted.log_likelihood_ == pytest.approx(BetaGeo().fit(cdnow).log_likelihood_, abs=1.0)


@pytest.mark.parametrize("t", [1.0, 39.0, 104.0])
def test_conditional_purchases_match_lifetimes(at_lifetimes_params, lifetimes_fit, cdnow, t):
    ours = at_lifetimes_params.predict_purchases(cdnow, t).to_numpy()
    ref = lifetimes_fit.conditional_expected_number_of_purchases_up_to_time(
        t, cdnow["frequency"], cdnow["recency"], cdnow["T"]
    ).to_numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-8)


def test_probability_alive_matches_lifetimes(at_lifetimes_params, lifetimes_fit, cdnow):
    ours = at_lifetimes_params.probability_alive(cdnow).to_numpy()
    ref = lifetimes_fit.conditional_probability_alive(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    np.testing.assert_allclose(ours, ref, rtol=1e-8)
    # unlike the BG/NBD, a customer without repeat purchases may have dropped out at time 0
    assert (ours[cdnow["frequency"].to_numpy() == 0] < 1).all()


def test_unconditional_predictions_match_lifetimes(at_lifetimes_params, lifetimes_fit):
    t = np.array([1.0, 39.0, 78.0])
    np.testing.assert_allclose(
        at_lifetimes_params.expected_purchases(t).to_numpy(),
        lifetimes_fit.expected_number_of_purchases_up_to_time(t),
        rtol=1e-8,
    )
    for n in range(6):
        ours = at_lifetimes_params.probability_of_purchases(n, 39.0).iloc[0]
        assert ours == pytest.approx(lifetimes_fit.probability_of_n_purchases_up_to_time(39.0, n), rel=1e-8)
    assert at_lifetimes_params.probability_of_purchases(np.arange(500), 39.0).sum() == pytest.approx(
        1, abs=1e-6
    )


@pytest.mark.slow
def test_recovers_simulated_parameters():
    truth = {"r": 0.6, "alpha": 5.0, "a": 0.9, "b": 3.0}
    rng = np.random.default_rng(11)
    sim = ModifiedBetaGeo.simulate(truth, rng.uniform(30.0, 60.0, size=30_000), rng)
    model = ModifiedBetaGeo().fit(sim)
    summary = model.summary()
    for name, value in truth.items():
        assert summary.loc[name, "lower"] <= value <= summary.loc[name, "upper"], (name, summary)
    assert model.probability_alive(sim).mean() == pytest.approx(sim["alive"].mean(), abs=0.01)
