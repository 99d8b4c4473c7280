"""The shared BTYD machinery: sklearn contract, validation, compression, weights, penalty, JSON, errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from socialvalue.errors import ConfigError, ConvergenceError, NotFittedError, SchemaError
from socialvalue.models.btyd import BetaGeo, BTYDModel, GammaGamma, ModifiedBetaGeo


@pytest.fixture(scope="module")
def bg(cdnow) -> BetaGeo:
    return BetaGeo().fit(cdnow)


@pytest.mark.parametrize(
    "call",
    [
        lambda m, d: m.probability_alive(d),
        lambda m, d: m.predict_purchases(d, 10.0),
        lambda m, d: m.expected_purchases(10.0),
        lambda m, d: m.probability_of_purchases(1, 10.0),
        lambda m, d: m.predict_dert(d, 0.01),
        lambda m, d: m.summary(),
        lambda m, d: m.to_json(),
    ],
)
@pytest.mark.parametrize("cls", [BetaGeo, ModifiedBetaGeo])
def test_not_fitted(cls, call, cdnow):
    with pytest.raises(NotFittedError, match="not fitted"):
        call(cls(), cdnow)


def test_sklearn_contract(cdnow):
    model = BetaGeo(penalizer_coef=0.1, resolution=1.0)
    assert model.get_params() == {
        "penalizer_coef": 0.1,
        "tol": 1e-12,
        "max_iter": 2000,
        "resolution": 1.0,
        "on_degenerate": "warn",
    }
    assert not hasattr(model, "params_")
    assert model.fit(cdnow) is model
    assert model.set_params(penalizer_coef=0.0) is model and model.penalizer_coef == 0.0
    with pytest.raises(ConfigError, match="no setting"):
        model.set_params(learning_rate=1)
    assert repr(model).startswith("BetaGeo(penalizer_coef=0.0")
    frame = cdnow.copy()
    BetaGeo().fit(frame)
    pd.testing.assert_frame_equal(frame, cdnow)  # the caller's frame is untouched


def test_summary(bg):
    s = bg.summary()
    assert list(s.index) == ["r", "alpha", "a", "b"]
    assert list(s.columns) == ["estimate", "se", "lower", "upper", "note"]
    assert (s["note"] == "").all() and bg.degenerate_ == []
    assert (s["lower"] < s["estimate"]).all() and (s["estimate"] < s["upper"]).all()
    np.testing.assert_allclose(s["se"], [bg.se_[k] for k in s.index])
    assert (bg.summary(level=0.99)["upper"] > s["upper"]).all()


def test_weights_equal_repeated_rows(cdnow, bg):
    patterns = cdnow.groupby(["frequency", "recency", "T"], as_index=False).size()
    weighted = BetaGeo().fit(patterns, weights="size")
    for k in bg.params_:
        assert weighted.params_[k] == pytest.approx(bg.params_[k], rel=1e-7)
        assert weighted.se_[k] == pytest.approx(bg.se_[k], rel=1e-4)
    assert weighted.log_likelihood_ == pytest.approx(bg.log_likelihood_, rel=1e-10)
    assert weighted.n_obs_ == len(cdnow)


def test_penalizer_matches_lifetimes(cdnow):
    lifetimes = pytest.importorskip("lifetimes")
    ours = BetaGeo(penalizer_coef=0.01).fit(cdnow)
    ref = lifetimes.BetaGeoFitter(penalizer_coef=0.01).fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    for k in ours.params_:
        assert ours.params_[k] == pytest.approx(ref.params_[k], rel=1e-3)
    plain = BetaGeo().fit(cdnow)
    assert ours.params_["b"] < plain.params_["b"]  # shrunk


def test_unique_rows_fast_and_fallback_paths():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, 1000).astype(float)
    b = rng.integers(100, 103, 1000).astype(float)
    c = rng.choice([0.5, 1.25, 2.0], 1000)  # not integral: group-by path
    w = rng.uniform(0, 2, 1000)
    for cols in ([a, b], [a, c]):
        uniq, inverse, summed = BTYDModel._unique_rows(cols, w)
        for col, u in zip(cols, uniq, strict=True):
            np.testing.assert_array_equal(u[inverse], col)
        assert summed.sum() == pytest.approx(w.sum())
        assert len(set(zip(*uniq, strict=True))) == len(uniq[0])


def test_resolution_rounds_times(cdnow):
    days = cdnow.assign(recency=cdnow["recency"] * 7, T=cdnow["T"] * 7)
    exact = BetaGeo().fit(days)
    rounded = BetaGeo(resolution=7.0).fit(days)  # whole weeks
    assert rounded.n_unique_ < exact.n_unique_
    assert rounded.params_["r"] == pytest.approx(exact.params_["r"], rel=0.02)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"frequency": [1], "recency": [1.0]}), "missing column"),
        (pd.DataFrame({"frequency": [1], "recency": [-1.0], "T": [2.0]}), "negative"),
        (pd.DataFrame({"frequency": [1], "recency": [np.nan], "T": [2.0]}), "non-finite"),
        (pd.DataFrame({"frequency": [1], "recency": [3.0], "T": [2.0]}), "recency > T"),
        (pd.DataFrame({"frequency": [0], "recency": [1.0], "T": [2.0]}), "frequency 0"),
        (pd.DataFrame({"frequency": [1.5], "recency": [1.0], "T": [2.0]}), "whole numbers"),
        (pd.DataFrame({"frequency": ["a"], "recency": [1.0], "T": [2.0]}), "not numeric"),
        (pd.DataFrame({"frequency": [], "recency": [], "T": []}), "zero rows"),
    ],
)
def test_schema_errors(frame, message):
    with pytest.raises(SchemaError, match=message):
        BetaGeo().fit(frame)


def test_convergence_error_carries_result(cdnow):
    with pytest.raises(ConvergenceError, match="did not converge") as info:
        BetaGeo(max_iter=1).fit(cdnow)
    assert info.value.result is not None
    assert not info.value.result.success


def test_bad_settings(cdnow):
    for kwargs in ({"penalizer_coef": -1.0}, {"tol": 0.0}, {"max_iter": 0}, {"resolution": 0.0}):
        with pytest.raises(ConfigError):
            BetaGeo(**kwargs).fit(cdnow)


def test_json_round_trip(bg, cdnow):
    text = bg.to_json()
    doc = json.loads(text)
    assert doc["model"] == "BetaGeo" and doc["format_version"] == 1
    assert "pickle" not in text
    for loader in (BTYDModel.from_json, BetaGeo.from_json):
        back = loader(text)
        assert type(back) is BetaGeo
        assert back.params_ == bg.params_
        assert back.get_params() == bg.get_params()
        np.testing.assert_array_equal(
            back.predict_purchases(cdnow, 39, interval=0.9).to_numpy(),
            bg.predict_purchases(cdnow, 39, interval=0.9).to_numpy(),
        )
    gg = GammaGamma(penalizer_coef=0.0).fit(cdnow)
    assert BTYDModel.from_json(gg.to_json()).params_ == gg.params_


def test_json_rejects_other_documents(bg):
    doc = json.loads(bg.to_json())
    with pytest.raises(ConfigError, match="format_version"):
        BTYDModel.from_json(json.dumps({**doc, "format_version": 99}))
    with pytest.raises(ConfigError, match="not a ModifiedBetaGeo"):
        ModifiedBetaGeo.from_json(bg.to_json())
    with pytest.raises(ConfigError, match="GammaGamma"):
        GammaGamma.from_json(bg.to_json())
    with pytest.raises(ConfigError, match="not a socialvalue"):
        BTYDModel.from_json(json.dumps({"format": "x"}))
    with pytest.raises(ConfigError, match="JSON"):
        BTYDModel.from_json("{")
    with pytest.raises(ConfigError, match="settings"):
        BTYDModel.from_json(json.dumps({**doc, "settings": {"learning_rate": 1}}))


def test_interval_validation(bg, cdnow):
    with pytest.raises(ConfigError, match="level"):
        bg.probability_alive(cdnow, interval=95)
    with pytest.raises(ConfigError, match="method"):
        bg.probability_alive(cdnow, interval=0.9, interval_method="jackknife")
    with pytest.raises(ConfigError, match="horizon"):
        bg.predict_purchases(cdnow, -1.0)


@pytest.mark.parametrize("cls", [BetaGeo, ModifiedBetaGeo, GammaGamma])
def test_analytic_hessian_matches_finite_differences(cls, cdnow):
    model = cls()
    raw, w, _ = model._prepare(cdnow, None)
    agg, w = model._preprocess(raw, w)
    k = len(cls._param_names)
    for params in (np.full(k, 1.3), model._initial_params(agg, w) * 1.1):
        _, _, hess = model._total_loglik_grad_hess(params, agg, w)
        fd = np.empty((k, k))
        for j in range(k):
            e = np.zeros(k)
            e[j] = 1e-6 * params[j]
            fd[:, j] = (
                model._total_loglik_grad(params + e, agg, w)[1]
                - model._total_loglik_grad(params - e, agg, w)[1]
            ) / (2 * e[j])
        np.testing.assert_allclose(hess, fd, rtol=1e-5, atol=1e-6 * np.abs(fd).max())
        np.testing.assert_allclose(hess, hess.T)


@pytest.mark.parametrize("cls", [BetaGeo, GammaGamma])
def test_newton_and_lbfgsb_agree(cls, cdnow):
    """Newton's method (analytic Hessian) and the L-BFGS-B fallback reach the same optimum and errors."""

    class WithoutHessian(cls):
        _total_loglik_grad_hess = None

    newton = cls().fit(cdnow)
    lbfgs = WithoutHessian().fit(cdnow)
    assert newton.optimizer_result_.message.startswith("Newton")
    assert not str(lbfgs.optimizer_result_.message).startswith("Newton")
    for name in newton.params_:
        assert newton.params_[name] == pytest.approx(lbfgs.params_[name], rel=1e-6)
        assert newton.se_[name] == pytest.approx(lbfgs.se_[name], rel=1e-3)
    assert newton.log_likelihood_ == pytest.approx(lbfgs.log_likelihood_, rel=1e-12)


def test_fingerprint_is_saved_and_restored(bg, cdnow):
    """``to_json`` records persist.data_fingerprint of the fitted columns; ``from_json`` restores it, and
    persist.load_model rebuilds the model; documents written before fingerprints still load."""
    from socialvalue.models import persist

    expected = persist.data_fingerprint(cdnow, ["frequency", "recency", "T"])
    assert bg.fingerprint_ == expected and expected["rows"] == 2357
    doc = json.loads(bg.to_json())
    assert doc["fingerprint"] == expected and doc["n_no_purchase"] == 0
    back = persist.load_model(bg.to_json())
    assert type(back) is BetaGeo and back.fingerprint_ == expected and back.params_ == bg.params_
    old = {k: v for k, v in doc.items() if k not in ("fingerprint", "n_no_purchase")}
    old["settings"] = {k: v for k, v in doc["settings"].items() if k != "on_degenerate"}
    legacy = BTYDModel.from_json(json.dumps(old))
    assert legacy.fingerprint_ is None and legacy.params_ == bg.params_ and legacy.on_degenerate == "warn"
    # another data set, or the same one with weights, has another fingerprint
    weighted = BetaGeo().fit(cdnow.assign(w=1.0), weights="w")
    assert weighted.fingerprint_["columns"] == ["frequency", "recency", "T", "w"]
    assert weighted.fingerprint_["sha256"] != expected["sha256"]
    assert BetaGeo(on_degenerate="ignore").fit(cdnow.head(100)).fingerprint_["rows"] == 100


def test_summary_never_overflows_and_flags_boundary_parameters(bg):
    """A transplanted boundary state: alpha at the optimiser's bound e^30 with a huge log-scale variance."""
    import warnings

    twin = BetaGeo.from_json(bg.to_json())
    theta = twin._theta_.copy()
    theta[1] = np.exp(29.5)
    cov = twin._cov_log_.copy()
    cov[1, 1] = 1e6  # se(log alpha) = 1000: bounds e^(+-1960) overflow any float
    twin._set_fitted(params=theta, cov_log=cov, log_likelihood=-1.0, n_obs=1.0, n_unique=1, n_iter=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = twin.summary()
    values = s[["estimate", "se", "lower", "upper"]].to_numpy()
    assert np.isfinite(values).all()
    note = s.loc["alpha", "note"]
    assert "at the optimiser's upper bound" in note and "relative SE 1e+03" in note
    assert "clipped to the float range" in note
    assert s.loc["alpha", "lower"] == pytest.approx(np.finfo(float).tiny)
    assert s.loc["alpha", "upper"] > 1e307
    assert s.loc["r", "note"] == "" and s.loc["r", "upper"] == pytest.approx(bg.summary().loc["r", "upper"])
    assert any(f"alpha = {np.exp(29.5):.3g} is at the optimiser's upper bound" in d for d in twin.degenerate_)


def test_degenerate_purchase_model_on_few_customers_is_flagged(cdnow):
    """The BG/NBD on the first 100 CDNOW customers: a and b run off to 0 (the dropout probability's beta
    distribution splits into 0 and 1) with relative standard errors in the thousands; the fit says so and
    names the remedy instead of returning silently. An L2 penalty (lifetimes' penalizer_coef) pulls towards 0
    and cannot help here, so the remedy does not propose it (it does for parameters running off upwards)."""
    import warnings

    from socialvalue.errors import DegenerateFitWarning

    few = cdnow.head(100)
    with pytest.warns(DegenerateFitWarning) as record:
        model = BetaGeo().fit(few)
    text = str(record[0].message)
    a, b = model.params_["a"], model.params_["b"]
    assert a < 1e-4 and b < 1e-4
    assert text.startswith(f"BetaGeo: degenerate fit: a = {a:.3g} has a relative standard error of ")
    assert f"a = {a:.3g} and b = {b:.3g} are not separately identified" in text
    assert text.endswith(
        "Remedy: fit on more customers (penalizer_coef pulls parameters towards 0 and does not help here); or "
        "compare other purchase models (socialvalue.models.btyd.compare_models) or use the plain rate model "
        "socialvalue.models.btyd.rate.RateModel"
    )
    with pytest.raises(ConvergenceError, match="degenerate fit"):
        BetaGeo(on_degenerate="raise").fit(few)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert BetaGeo(on_degenerate="ignore").fit(few).degenerate_ == model.degenerate_
        s = model.summary()
        assert BetaGeo().fit(cdnow.head(1000)).degenerate_ == []  # more customers: a sound fit
    assert np.isfinite(s[["se", "lower", "upper"]].to_numpy()).all()
    assert s.loc["r", "note"] == "" and "near-singular Hessian (a, b)" in s.loc["a", "note"]
    with pytest.raises(ConfigError, match="on_degenerate must be"):
        BetaGeo(on_degenerate="shout").fit(few)
