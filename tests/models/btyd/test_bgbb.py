"""BG/BB: published donations estimates, lifetimes parity, closed forms vs sums, recovery, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from socialvalue.errors import NotFittedError, SchemaError
from socialvalue.models.btyd import BetaGeoBetaBinom, BTYDModel
from socialvalue.models.btyd.bgbb import bgbb_loglik

TESTS = Path(__file__).resolve().parents[2]
SHARED = TESTS.parents[1] / "shared" / "data"


def _data_file(*parts: str) -> Path:
    local = TESTS / "data" / Path(*parts)
    return local if local.exists() else SHARED / Path(*parts)


@pytest.fixture(scope="module")
def donations() -> pd.DataFrame:
    return pd.read_csv(_data_file("donations", "donations_summary.csv")).rename(
        columns={"periods": "n_periods"}
    )


@pytest.fixture(scope="module")
def fitted(donations) -> BetaGeoBetaBinom:
    return BetaGeoBetaBinom().fit(donations, weights="weights")


@pytest.fixture(scope="module")
def lifetimes_at(fitted):
    lifetimes = pytest.importorskip("lifetimes")
    ref = lifetimes.BetaGeoBetaBinomFitter()
    ref.params_ = pd.Series(fitted.params_)
    return ref


def _cols(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return frame["frequency"].to_numpy(), frame["recency"].to_numpy(), frame["n_periods"].to_numpy()


def test_donations_published_estimates(fitted):
    """Fader, Hardie & Shang (2010), Marketing Science 29(6), p. 1093 (table 2): alpha=1.204, beta=0.750,
    gamma=0.657, delta=2.783, LL=-33,225.6 on the 11,104 donors of the 1995 cohort, 6 opportunities."""
    p = fitted.params_
    assert p["alpha"] == pytest.approx(1.204, abs=5e-4)
    assert p["beta"] == pytest.approx(0.750, abs=5e-4)
    assert p["gamma"] == pytest.approx(0.657, abs=5e-4)
    assert p["delta"] == pytest.approx(2.783, abs=5e-4)
    assert fitted.log_likelihood_ == pytest.approx(-33225.6, abs=0.05)
    assert fitted.n_obs_ == 11104
    assert fitted.n_unique_ == 22


def test_fit_and_loglik_match_lifetimes(donations, fitted):
    lifetimes = pytest.importorskip("lifetimes")
    ref = lifetimes.BetaGeoBetaBinomFitter().fit(
        donations["frequency"], donations["recency"], donations["n_periods"], weights=donations["weights"]
    )
    for name, value in fitted.params_.items():
        assert value == pytest.approx(ref.params_[name], rel=1e-4)
    x, tx, n = _cols(donations)
    for params in (np.array(list(fitted.params_.values())), np.array([0.5, 3.0, 2.0, 0.7])):
        ours = bgbb_loglik(params, x, tx, n)
        theirs = lifetimes.BetaGeoBetaBinomFitter._loglikelihood(params, x, tx, n)
        np.testing.assert_allclose(ours, theirs, rtol=1e-9)  # lifetimes adds 1e-15 inside its log


def test_gradient_matches_finite_differences(donations):
    x, tx, n = _cols(donations)
    for params in (np.array([1.204, 0.750, 0.657, 2.783]), np.array([0.3, 4.0, 1.7, 0.4])):
        _, grad = bgbb_loglik(params, x, tx, n, grad=True)
        for j in range(4):
            h = 1e-6 * params[j]
            up, dn = params.copy(), params.copy()
            up[j] += h
            dn[j] -= h
            fd = (bgbb_loglik(up, x, tx, n) - bgbb_loglik(dn, x, tx, n)) / (2 * h)
            np.testing.assert_allclose(grad[:, j], fd, rtol=1e-6, atol=1e-7)


def test_hessian_matches_finite_differences_and_newton_fits(donations, fitted):
    """The analytic Hessian (fit runs Newton's method on it) against central differences of the gradient."""
    x, tx, n = _cols(donations)
    w = donations["weights"].to_numpy(dtype=float)
    model = BetaGeoBetaBinom()
    data = {"frequency": x.astype(float), "recency": tx.astype(float), "n_periods": n.astype(float)}
    for params in (np.array([1.204, 0.750, 0.657, 2.783]), np.array([0.3, 4.0, 1.7, 0.4])):
        ll, grad, hess = model._total_loglik_grad_hess(params, data, w)
        ll_rows, g_rows = bgbb_loglik(params, x, tx, n, grad=True)
        assert ll == pytest.approx(w @ ll_rows, rel=1e-13)
        np.testing.assert_allclose(grad, w @ g_rows, rtol=1e-11, atol=1e-9)
        fd = np.empty((4, 4))
        for j in range(4):
            h = 1e-5 * params[j]
            up, dn = params.copy(), params.copy()
            up[j] += h
            dn[j] -= h
            fd[:, j] = (
                model._total_loglik_grad_hess(up, data, w)[1] - model._total_loglik_grad_hess(dn, data, w)[1]
            ) / (2 * h)
        np.testing.assert_allclose(hess, fd, rtol=1e-6, atol=1e-6 * np.abs(fd).max())
        np.testing.assert_array_equal(hess, hess.T)
    assert fitted.optimizer_result_.message.startswith("Newton")
    assert fitted.n_iter_ <= 12


def test_predictions_match_lifetimes(donations, fitted, lifetimes_at):
    """Same parameters, FHS (2010) eqs. 11 and 13: agreement to 1e-6."""
    x, tx, n = _cols(donations)
    for t in (1, 5, 10):
        ref = lifetimes_at.conditional_expected_number_of_purchases_up_to_time(t, x, tx, n)
        np.testing.assert_allclose(fitted.predict_purchases(donations, t).to_numpy(), ref, rtol=1e-6)
    for m in (1, 3):
        ref = lifetimes_at.conditional_probability_alive(m, x, tx, n)
        np.testing.assert_allclose(fitted.probability_alive(donations, m).to_numpy(), ref, rtol=1e-6)


def test_expected_and_pmf_match_lifetimes_and_each_other(donations, fitted):
    """P(X(n)=x) (eq. 7) reproduces lifetimes' expected counts, sums to one, and its mean is E[X(n)] (eq. 8)."""
    lifetimes = pytest.importorskip("lifetimes")
    ref = lifetimes.BetaGeoBetaBinomFitter().fit(
        donations["frequency"], donations["recency"], donations["n_periods"], weights=donations["weights"]
    )
    ref.params_ = pd.Series(fitted.params_)
    counts = ref.expected_number_of_transactions_in_first_n_periods(6)["model"].to_numpy()
    pmf = fitted.probability_of_purchases(np.arange(7), 6).to_numpy()
    np.testing.assert_allclose(pmf * 11104, counts, rtol=1e-6)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-12)
    for n in (1, 6, 11):
        pmf_n = fitted.probability_of_purchases(np.arange(n + 1), n).to_numpy()
        mean = float(fitted.expected_purchases(n).iloc[0])
        assert (np.arange(n + 1) * pmf_n).sum() == pytest.approx(mean, rel=1e-10)


def test_conditional_expectation_consistent_with_unconditional(fitted):
    """A new donor (x = t_x = n = 0) has E[X(0, t) | history] = E[X(t)] (eq. 13 reduces to eq. 8)."""
    new = pd.DataFrame({"frequency": [0], "recency": [0], "n_periods": [0]})
    for t in (1, 5, 20):
        assert float(fitted.predict_purchases(new, t).iloc[0]) == pytest.approx(
            float(fitted.expected_purchases(t).iloc[0]), rel=1e-12
        )


def test_dert_matches_discounted_sum(donations, fitted):
    """Eq. 14 (2F1 closed form) equals sum_k (E[X(n, n+k)] - E[X(n, n+k-1)]) / (1+d)^k, d = 10%."""
    d = 0.10
    dert = fitted.predict_dert(donations, np.log1p(d)).to_numpy()
    cum = np.stack([fitted.predict_purchases(donations, k).to_numpy() for k in range(0, 600)], axis=1)
    direct = (np.diff(cum, axis=1) / (1 + d) ** np.arange(1, 600)).sum(axis=1)
    np.testing.assert_allclose(dert, direct, rtol=1e-10)


def test_gamma_equal_one_limit(fitted):
    m = BTYDModel.from_json(fitted.to_json())
    p = dict(fitted.params_)
    values = []
    for gamma in (1 - 1e-6, 1.0, 1 + 1e-6):
        params = np.array([p["alpha"], p["beta"], gamma, p["delta"]])
        m._set_fitted(
            params=params, cov_log=fitted._cov_log_, log_likelihood=0.0, n_obs=1, n_unique=1, n_iter=0
        )
        values.append(float(m.expected_purchases(5).iloc[0]))
    assert values[0] == pytest.approx(values[1], rel=1e-5) and values[2] == pytest.approx(values[1], rel=1e-5)


def test_recovers_simulated_parameters():
    """Simulate 30,000 customers over 8 opportunities; each estimate lies within 3 standard errors."""
    truth = {"alpha": 1.2, "beta": 0.75, "gamma": 0.65, "delta": 2.8}
    sim = BetaGeoBetaBinom.simulate(truth, 8, rng=11, size=30_000)
    assert (sim["frequency"] <= sim["recency"]).all() and (sim["recency"] <= sim["n_periods"]).all()
    model = BetaGeoBetaBinom().fit(sim)
    assert model.n_unique_ <= 1 + 8 * 9 // 2  # compressed to the (x, t_x) patterns
    for name, value in truth.items():
        assert abs(model.params_[name] - value) < 3 * model.se_[name], name
    summary = model.summary(level=0.95)
    assert ((summary["lower"] < pd.Series(truth)) & (pd.Series(truth) < summary["upper"])).all()


def test_interval_coverage_over_replications():
    """40 replications x 4 parameters: the 95% intervals cover the truth ~95% of the time (>= 85% here,
    five binomial standard deviations below 95%), so the Hessian standard errors are calibrated."""
    truth = {"alpha": 1.2, "beta": 0.75, "gamma": 0.65, "delta": 2.8}
    rng = np.random.default_rng(2024)
    covered = []
    for _ in range(40):
        sim = BetaGeoBetaBinom.simulate(truth, 6, rng=rng, size=4000)
        s = BetaGeoBetaBinom().fit(sim).summary(level=0.95)
        covered.extend(((s["lower"] < pd.Series(truth)) & (pd.Series(truth) < s["upper"])).tolist())
    assert 0.85 <= np.mean(covered) <= 1.0


def test_intervals_and_index(donations, fitted):
    frame = donations.set_index(pd.Index([f"p{i}" for i in range(len(donations))], name="pattern"))
    out = fitted.predict_purchases(frame, 5, interval=0.9)
    assert list(out.index) == list(frame.index)
    assert (out["lower"] < out["estimate"]).all() and (out["estimate"] < out["upper"]).all()
    alive = fitted.probability_alive(frame, interval=0.9, interval_method="bootstrap", n_draws=100)
    assert ((alive["lower"] >= 0) & (alive["upper"] <= 1)).all()


def test_not_fitted_and_bad_data(donations):
    with pytest.raises(NotFittedError):
        BetaGeoBetaBinom().predict_purchases(donations, 5)
    bad = donations.assign(frequency=donations["recency"] + 1)
    with pytest.raises(SchemaError, match="frequency > recency"):
        BetaGeoBetaBinom().fit(bad, weights="weights")
    with pytest.raises(SchemaError, match="missing column"):
        BetaGeoBetaBinom().fit(donations.drop(columns="n_periods"))
