"""Gamma-Gamma: published CDNOW estimates, lifetimes parity, compression, simulation recovery, degenerate fits."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from socialvalue.errors import (
    ConfigError,
    ConvergenceError,
    DegenerateFitWarning,
    NotFittedError,
    SchemaError,
)
from socialvalue.models.btyd import BTYDModel, GammaGamma
from socialvalue.models.btyd.gammagamma import DEGENERATE_SHAPE, gamma_gamma_degeneracy


@pytest.fixture(scope="module")
def fitted(cdnow) -> GammaGamma:
    return GammaGamma().fit(cdnow)


@pytest.fixture(scope="module")
def lifetimes_fit(cdnow):
    lifetimes = pytest.importorskip("lifetimes")
    rep = cdnow[cdnow["frequency"] > 0]
    return lifetimes.GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"])


def test_cdnow_published_estimates(fitted):
    """Fader, Hardie & Lee (2005), JMR 42(4), and Hardie's note 025 "The Gamma-Gamma model of monetary value":
    p = 6.25, q = 3.74, v = 15.44 on the 946 CDNOW sample customers with repeat purchases."""
    assert fitted.params_["p"] == pytest.approx(6.25, abs=0.005)
    assert fitted.params_["q"] == pytest.approx(3.74, abs=0.005)
    assert fitted.params_["v"] == pytest.approx(15.44, abs=0.01)
    assert fitted.n_obs_ == 946  # customers with frequency 0 are left out of the spend model


def test_matches_lifetimes(fitted, lifetimes_fit, cdnow):
    for name in ("p", "q", "v"):
        assert fitted.params_[name] == pytest.approx(lifetimes_fit.params_[name], rel=1e-4)
    n_rep = int((cdnow["frequency"] > 0).sum())
    assert fitted.log_likelihood_ == pytest.approx(-lifetimes_fit._negative_log_likelihood_ * n_rep, rel=1e-8)
    same = GammaGamma.from_json(fitted.to_json())
    same._theta_[:] = [lifetimes_fit.params_[k] for k in ("p", "q", "v")]
    ours = same.predict_spend(cdnow).to_numpy()
    ref = lifetimes_fit.conditional_expected_average_profit(cdnow["frequency"], cdnow["monetary_value"])
    np.testing.assert_allclose(ours, ref.to_numpy(), rtol=1e-8)


def test_compressed_likelihood_equals_per_customer_sum(fitted, cdnow):
    rep = cdnow[cdnow["frequency"] > 0]
    data = {
        "frequency": rep["frequency"].to_numpy(float),
        "monetary_value": rep["monetary_value"].to_numpy(float),
    }
    assert fitted._loglik(fitted._theta, data).sum() == pytest.approx(fitted.log_likelihood_, rel=1e-12)


def test_population_mean_for_new_customers(fitted):
    p, q, v = (fitted.params_[k] for k in ("p", "q", "v"))
    new = pd.DataFrame({"frequency": [0, 0], "monetary_value": [0.0, 99.0]})
    np.testing.assert_allclose(fitted.predict_spend(new).to_numpy(), p * v / (q - 1))
    assert fitted.expected_spend() == pytest.approx(p * v / (q - 1))
    est, lo, hi = fitted.expected_spend(interval=0.95)
    assert lo < est < hi


def test_spend_interval(fitted, cdnow):
    out = fitted.predict_spend(cdnow.head(20), interval=0.9)
    assert ((out["lower"] < out["estimate"]) & (out["estimate"] < out["upper"])).all()


def test_resolution_rounding_changes_little(cdnow):
    exact = GammaGamma().fit(cdnow)
    cents = GammaGamma(resolution=0.01).fit(cdnow)  # CDNOW's values are already in cents: no change
    dimes = GammaGamma(resolution=0.1).fit(cdnow)
    for name in ("p", "q", "v"):
        assert cents.params_[name] == pytest.approx(exact.params_[name], rel=1e-6)
        assert dimes.params_[name] == pytest.approx(exact.params_[name], rel=1e-2)
    assert dimes.n_unique_ == exact.n_unique_  # n_unique_ counts customers; the merge is internal


def test_bad_spend_rejected():
    with pytest.raises(SchemaError, match="monetary_value <= 0"):
        GammaGamma().fit(pd.DataFrame({"frequency": [1, 2], "monetary_value": [0.0, 3.0]}))
    with pytest.raises(NotFittedError):
        GammaGamma().predict_spend(pd.DataFrame({"frequency": [1], "monetary_value": [3.0]}))


@pytest.mark.slow
def test_recovers_simulated_parameters():
    """One seeded replicate (95% intervals miss the truth 5% of the time per parameter; across 20 seeds
    coverage here was 0.90-0.95)."""
    truth = {"p": 4.0, "q": 3.0, "v": 20.0}
    rng = np.random.default_rng(1)
    freq = rng.poisson(3.0, size=40_000)
    sim = GammaGamma.simulate(truth, freq, rng)
    model = GammaGamma().fit(sim)
    summary = model.summary()
    for name, value in truth.items():
        assert summary.loc[name, "lower"] <= value <= summary.loc[name, "upper"], (name, summary)


def _no_heterogeneity(n: int = 1_000, seed: int = 1) -> pd.DataFrame:
    """Spend without heterogeneity: every customer has the same scale nu = 0.1, so each order value is
    Gamma(p = 4, nu) with mean 40 for everybody (the Gamma-Gamma's nu ~ Gamma(q, v) degenerates, q -> inf)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 8, size=n)
    return pd.DataFrame({"frequency": x, "monetary_value": rng.gamma(4.0 * x, 1 / 0.1) / x})


def test_degenerate_fit_warns_naming_the_parameter_its_value_and_the_remedy():
    data = _no_heterogeneity()
    with pytest.warns(DegenerateFitWarning) as record:
        model = GammaGamma().fit(data)
    assert len(record) == 1
    text = str(record[0].message)
    q, v = model.params_["q"], model.params_["v"]
    assert q > DEGENERATE_SHAPE and f"q = {q:.3g}" in text and f"v = {v:.3g}" in text
    assert "coefficient of variation 1/sqrt(q)" in text
    assert "penalizer_coef, e.g. GammaGamma(penalizer_coef=0.001)" in text
    assert "socialvalue.models.btyd.shrunk_spend.ShrunkMeanSpend" in text
    assert any(s.startswith(f"q = {q:.3g}") for s in model.degenerate_)
    assert any("near singular" in s for s in model.degenerate_)
    # the population mean is still the data's (40): the fit is flagged, not wrong
    assert model.expected_spend() == pytest.approx(40.0, rel=0.02)


def test_summary_of_a_degenerate_fit_is_finite_silent_and_flagged():
    with pytest.warns(DegenerateFitWarning):
        model = GammaGamma().fit(_no_heterogeneity())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow, no RuntimeWarning
        summary = model.summary()
        extreme = model.summary(level=1 - 1e-12)
    for table in (summary, extreme):
        values = table[["estimate", "se", "lower", "upper"]].to_numpy()
        assert np.isfinite(values).all() and (values >= 0).all()
        assert table.loc["p", "note"] == ""
        for name in ("q", "v"):
            assert "no spread of spend between customers" in table.loc[name, "note"]
            assert "near-singular Hessian (q, v)" in table.loc[name, "note"]
    # at 1 - 1e-12 the upper bounds of q and v exceed the float range: clipped (finite), and said so
    for name in ("q", "v"):
        assert "clipped to the float range" in extreme.loc[name, "note"]
        assert extreme.loc[name, "upper"] > 1e300
        assert "clipped" not in summary.loc[name, "note"]
    assert summary.loc["p", "lower"] < summary.loc["p", "estimate"] < summary.loc["p", "upper"]


def test_degenerate_fit_can_raise_or_be_recorded_silently_and_the_penalty_cures_it():
    data = _no_heterogeneity()
    with pytest.raises(
        ConvergenceError, match=r"GammaGamma: degenerate fit: q = .*Remedy: set penalizer_coef"
    ):
        GammaGamma(on_degenerate="raise").fit(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet = GammaGamma(on_degenerate="ignore").fit(data)
        cured = GammaGamma(penalizer_coef=0.001).fit(data)  # the remedy the warning names
    assert quiet.degenerate_ and cured.degenerate_ == []
    assert cured.params_["q"] < 10
    with pytest.raises(ConfigError, match="on_degenerate"):
        GammaGamma(on_degenerate="loud").fit(data)
    with pytest.raises(ConfigError, match="degenerate_shape"):
        GammaGamma(degenerate_shape=1.0).fit(data)
    # saved and reloaded, the model knows it is degenerate (the findings are recomputed from the parameters)
    back = BTYDModel.from_json(quiet.to_json())
    assert back.degenerate_ == quiet.degenerate_ and back.get_params() == quiet.get_params()


def test_sound_fit_is_not_degenerate_and_the_shared_rule(fitted, cdnow):
    """CDNOW (p=6.25, q=3.74, v=15.44: FHL 2005 JMR) is sound; the rule shared with the spend ladder flags
    q or p above the threshold and q <= 1 (undefined population mean)."""
    assert fitted.degenerate_ == [] and (fitted.summary()["note"] == "").all()
    assert gamma_gamma_degeneracy(fitted.params_) == []
    notes = [n for _, n, _ in gamma_gamma_degeneracy({"p": 2e4, "q": 0.8, "v": 3.0})]
    assert notes == ["p > 10000: order values do not vary", "q <= 1: mean spend undefined"]
    assert gamma_gamma_degeneracy({"p": 6.0, "q": 50.0, "v": 3.0}, max_shape=40)[0][0] == ("q", "v")
    # a stricter setting flags CDNOW's p = 6.25
    strict = GammaGamma(degenerate_shape=5.0, on_degenerate="ignore").fit(cdnow)
    assert strict.degenerate_ == [
        "p = 6.25 is above 5: a customer's order values no longer vary (coefficient of variation 1/sqrt(p) = "
        "40.00%), as with one fixed price"
    ]


def test_old_documents_without_new_settings_still_load(fitted):
    doc = json.loads(fitted.to_json())
    for key in ("degenerate_shape", "on_degenerate"):
        doc["settings"].pop(key)
    for key in ("fingerprint", "n_no_purchase"):
        doc.pop(key)
    back = GammaGamma.from_json(json.dumps(doc))
    assert back.params_ == fitted.params_ and back.fingerprint_ is None and back.n_no_purchase_ == 0
    assert back.degenerate_shape == DEGENERATE_SHAPE
