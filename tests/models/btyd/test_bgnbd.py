"""BG/NBD: published CDNOW figures, lifetimes parity, simulation recovery, intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate

from socialvalue.models.btyd import BetaGeo


@pytest.fixture(scope="module")
def fitted(cdnow) -> BetaGeo:
    return BetaGeo().fit(cdnow)


@pytest.fixture(scope="module")
def lifetimes_fit(cdnow):
    lifetimes = pytest.importorskip("lifetimes")
    return lifetimes.BetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


@pytest.fixture(scope="module")
def at_lifetimes_params(fitted, lifetimes_fit, with_params) -> BetaGeo:
    """Our model carrying exactly lifetimes' fitted parameters (for prediction parity)."""
    return with_params(fitted, lifetimes_fit.params_)


def test_cdnow_published_estimates(fitted):
    """Fader, Hardie & Lee (2005), Marketing Science 24(2), p. 280: r=0.243, alpha=4.414, a=0.793, b=2.426,
    LL=-9582.4 on the CDNOW 1/10 sample (2,357 customers, 39 weeks)."""
    p = fitted.params_
    assert p["r"] == pytest.approx(0.243, abs=5e-4)
    assert p["alpha"] == pytest.approx(4.414, abs=5e-4)
    assert p["a"] == pytest.approx(0.793, abs=5e-4)
    assert p["b"] == pytest.approx(2.426, abs=5e-4)
    assert fitted.log_likelihood_ == pytest.approx(-9582.4, abs=0.05)
    assert fitted.n_obs_ == 2357
    assert fitted.n_unique_ < 2357  # fitted on unique (x, t_x, T) patterns


def test_cdnow_published_conditional_expectation(fitted):
    """Fader, Hardie & Lee (2005), Marketing Science, section 4 (p. 281): a customer with x=2, t_x=30.43,
    T=38.86 is expected to make 1.226 purchases in the next 39 weeks."""
    one = pd.DataFrame({"frequency": [2], "recency": [30.43], "T": [38.86]})
    assert fitted.predict_purchases(one, 39).iloc[0] == pytest.approx(1.226, abs=5e-4)


def test_params_match_lifetimes(fitted, lifetimes_fit):
    for name in ("r", "alpha", "a", "b"):
        assert fitted.params_[name] == pytest.approx(lifetimes_fit.params_[name], rel=1e-4)


def test_standard_errors_match_lifetimes(fitted, lifetimes_fit):
    """lifetimes' standard errors come from its own numerical Hessian: agree to a few percent."""
    for name in ("r", "alpha", "a", "b"):
        assert fitted.se_[name] == pytest.approx(lifetimes_fit.standard_errors_[name], rel=0.02)


@pytest.mark.parametrize("t", [1.0, 10.0, 39.0, 104.0])
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
    assert ours[cdnow["frequency"].to_numpy() == 0] == pytest.approx(1.0)


def test_unconditional_predictions_match_lifetimes(at_lifetimes_params, lifetimes_fit):
    t = np.array([0.5, 1.0, 39.0, 78.0])
    np.testing.assert_allclose(
        at_lifetimes_params.expected_purchases(t).to_numpy(),
        lifetimes_fit.expected_number_of_purchases_up_to_time(t),
        rtol=1e-8,
    )
    for n in range(8):
        ours = at_lifetimes_params.probability_of_purchases(n, 39.0).iloc[0]
        assert ours == pytest.approx(lifetimes_fit.probability_of_n_purchases_up_to_time(39.0, n), rel=1e-8)


def test_probabilities_sum_to_one(fitted):
    probs = fitted.probability_of_purchases(np.arange(400), 39.0)
    assert probs.sum() == pytest.approx(1.0, abs=1e-6)
    mean = float((probs.index.get_level_values("n").to_numpy() * probs.to_numpy()).sum())
    assert mean == pytest.approx(fitted.expected_purchases(39.0).iloc[0], rel=1e-4)


@pytest.mark.parametrize("delta", [1e-3, np.log(1.15) / 52, 0.05])
def test_dert_matches_adaptive_quadrature(fitted, delta):
    """DERT = P(alive) * integral of delta e^{-delta t} E[Y(t)|alive] dt (by parts), checked with QUADPACK."""
    hist = pd.DataFrame({"frequency": [0, 2, 7], "recency": [0.0, 30.43, 35.0], "T": [38.86, 38.86, 36.0]})
    ours = fitted.predict_dert(hist, delta).to_numpy()
    palive = fitted.probability_alive(hist).to_numpy()
    theta = fitted._theta
    for i, row in hist.iterrows():
        x, T = np.array([row["frequency"]], float), np.array([row["T"]], float)

        def f(t, x=x, T=T):
            return delta * np.exp(-delta * t) * fitted._alive_purchases(theta, x, T, np.array([t]))[0]

        ref, _ = integrate.quad(f, 0, np.inf, limit=500, epsrel=1e-11)
        assert ours[i] == pytest.approx(palive[i] * ref, rel=1e-8)


def test_intervals_bracket_estimates(fitted, cdnow):
    head = cdnow.head(50)
    for method in ("delta", "bootstrap"):
        out = fitted.predict_purchases(head, 39.0, interval=0.9, interval_method=method, n_draws=300)
        assert list(out.columns) == ["estimate", "lower", "upper"]
        assert (out["lower"] <= out["estimate"]).all()
        assert (out["estimate"] <= out["upper"]).all()
        assert out.attrs["method"] == method
        pa = fitted.probability_alive(head, interval=0.9, interval_method=method, n_draws=300)
        assert ((pa["lower"] >= 0) & (pa["upper"] <= 1)).all()
    delta = fitted.predict_purchases(head, 39.0, interval=0.9)
    boot = fitted.predict_purchases(head, 39.0, interval=0.9, interval_method="bootstrap", n_draws=2000)
    width_d = (delta["upper"] - delta["lower"]).to_numpy()
    width_b = (boot["upper"] - boot["lower"]).to_numpy()
    np.testing.assert_allclose(width_b, width_d, rtol=0.2)  # CDNOW's posterior is close to normal


def test_index_is_preserved(fitted, cdnow):
    sub = cdnow.iloc[[5, 1, 3]].set_index("ID")
    out = fitted.probability_alive(sub)
    assert list(out.index) == list(sub.index)
    np.testing.assert_allclose(out.to_numpy(), fitted.probability_alive(cdnow).to_numpy()[[5, 1, 3]])


@pytest.mark.slow
def test_recovers_simulated_parameters():
    """Simulate 30,000 customers from known parameters; the 95% intervals of the fit cover the truth."""
    truth = {"r": 0.5, "alpha": 6.0, "a": 0.8, "b": 2.5}
    rng = np.random.default_rng(2024)
    T = rng.uniform(26.0, 52.0, size=30_000)
    sim = BetaGeo.simulate(truth, T, rng)
    assert (sim["recency"] <= sim["T"]).all()
    model = BetaGeo().fit(sim)
    summary = model.summary()
    for name, value in truth.items():
        assert summary.loc[name, "lower"] <= value <= summary.loc[name, "upper"], (name, summary)
    # The latent alive flags agree with P(alive) on average (calibration of the posterior).
    assert model.probability_alive(sim).mean() == pytest.approx(sim["alive"].mean(), abs=0.01)


def test_simulated_unconditional_mean():
    """The simulator's mean repeat count matches E[X(t)] at the true parameters."""
    truth = {"r": 0.5, "alpha": 6.0, "a": 1.6, "b": 2.5}
    sim = BetaGeo.simulate(truth, 30.0, np.random.default_rng(7), size=200_000)
    model = BetaGeo()
    model._set_fitted(
        params=np.array(list(truth.values())),
        cov_log=np.eye(4) * 1e-4,
        log_likelihood=0.0,
        n_obs=1,
        n_unique=1,
        n_iter=0,
    )
    expected = model.expected_purchases(30.0).iloc[0]
    assert sim["frequency"].mean() == pytest.approx(expected, rel=0.02)
    assert (sim["frequency"] == 0).mean() == pytest.approx(
        model.probability_of_purchases(0, 30.0).iloc[0], abs=0.005
    )


@pytest.mark.parametrize("cls_name", ["BetaGeo", "ModifiedBetaGeo"])
def test_aggregated_gradient_equals_per_row_sums(cdnow, cls_name):
    """The fit's likelihood, summed per distinct x/T/t_x, equals the per-customer formula (and its gradient)."""
    import socialvalue.models.btyd as btyd

    model = getattr(btyd, cls_name)()
    raw, w, _ = model._prepare(cdnow, None)
    agg, w = model._preprocess(raw, w)
    for params in (np.array([0.3, 5.0, 0.7, 2.0]), np.array([2.0, 0.5, 3.0, 0.2])):
        ll, grad = model._total_loglik_grad(params, agg, w)
        ll_rows, grad_rows = model._loglik_grad(params, raw)
        assert ll == pytest.approx(float(w @ ll_rows), rel=1e-12)
        np.testing.assert_allclose(grad, w @ grad_rows, rtol=1e-10)
        # and the analytic per-row gradient matches finite differences
        eps = 1e-6
        for j in range(4):
            up = params.copy()
            up[j] += eps
            dn = params.copy()
            dn[j] -= eps
            fd = (w @ model._loglik(up, raw) - w @ model._loglik(dn, raw)) / (2 * eps)
            assert grad[j] == pytest.approx(fd, rel=1e-5)


def _reference_alive_purchases(params, x, T, t, shift):
    """``_alive_purchases`` before issue 16: the Euler form evaluated everywhere once any value overflowed."""
    from scipy import special

    r, alpha, a, b = params
    big_a, big_b, c = r + x, b + x + shift, a + b + x + shift - 1
    ratio = (alpha + T) / (alpha + T + t)
    z = t / (alpha + T + t)
    with np.errstate(all="ignore"):
        term = special.hyp2f1(big_a, big_b, c, z) * ratio**big_a
        bad = ~np.isfinite(term)
        if np.any(bad):
            alt = ratio ** (a - 1) * special.hyp2f1(c - big_a, c - big_b, c, z)
            term = np.where(bad, alt, term)
    return (a + b + x + shift - 1) / (a - 1) * (1.0 - term)


@pytest.mark.parametrize("cls_name", ["BetaGeo", "ModifiedBetaGeo"])
def test_alive_purchases_on_a_dert_grid_equals_the_euler_form_everywhere(cls_name):
    """The Euler form now runs only where the direct one overflowed; the values are those of before."""
    from socialvalue.models import btyd
    from socialvalue.models.btyd.bgnbd import _DERT_V

    model = getattr(btyd, cls_name)()
    params = np.array([0.52, 0.98, 0.76, 7.93])  # the 200k demo shop's fit: 2F1 overflows near z = 1
    x = np.arange(0.0, 300.0, 5.0)[:, None]  # from 125 purchases on, 2F1 overflows for large t
    T = np.linspace(1.0, 200.0, 60)[:, None]
    t = (np.exp(_DERT_V) / 0.002)[None, :]
    direct = model._alive_purchases(params, x, T, t)
    expected = _reference_alive_purchases(params, x, T, t, model._shift)
    from scipy import special

    r, alpha, a, b = params
    s = model._shift
    with np.errstate(all="ignore"):
        ratio = (alpha + T) / (alpha + T + t)
        term = special.hyp2f1(r + x, b + x + s, a + b + x + s - 1, 1 - ratio) * ratio ** (r + x)
    rescued = ~np.isfinite(term) & np.isfinite(expected)
    assert rescued.any()  # the grid takes the Euler branch, and it gives values there
    np.testing.assert_allclose(direct, expected, rtol=1e-12, atol=0)
    i, j = np.argwhere(rescued)[0]  # one value alone: a 0-d result takes the Euler branch too
    one = (np.float64(x[i, 0]), np.float64(T[i, 0]), np.float64(t[0, j]))
    scalar = model._alive_purchases(params, *one)
    assert np.isfinite(scalar)
    assert scalar == pytest.approx(_reference_alive_purchases(params, *one, model._shift), rel=1e-12)
