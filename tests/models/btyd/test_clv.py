"""CLV: lifetimes parity for the discrete convention, continuous DERT, margins, intervals, rates."""

from __future__ import annotations

import numpy as np
import pytest

from socialvalue.errors import ConfigError, NotFittedError
from socialvalue.models.btyd import (
    BetaGeo,
    GammaGamma,
    ModifiedBetaGeo,
    continuous_rate,
    customer_lifetime_value,
    discounted_purchases,
    period_rate,
)


@pytest.fixture(scope="module")
def models(cdnow):
    return BetaGeo().fit(cdnow), GammaGamma().fit(cdnow)


@pytest.fixture(scope="module")
def lifetimes_models(cdnow):
    lifetimes = pytest.importorskip("lifetimes")
    bg = lifetimes.BetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    rep = cdnow[cdnow["frequency"] > 0]
    gg = lifetimes.GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"])
    return bg, gg


def _with_params(model, values):
    twin = type(model).from_json(model.to_json())
    twin._theta_[:] = values
    return twin


@pytest.mark.parametrize(("freq", "length"), [("W", 4.345), ("D", 30.0)])
def test_discrete_clv_matches_lifetimes(models, lifetimes_models, cdnow, freq, length):
    """lifetimes' customer_lifetime_value sums discounted monthly increments of conditional expected purchases;
    its month is 4.345 time units for freq="W" and 30 for "D" (here the data are in weeks, so "D" simply means
    periods of 30 time units). Our period_length states that length explicitly."""
    bg, gg = models
    lbg, lgg = lifetimes_models
    bg = _with_params(bg, [lbg.params_[k] for k in ("r", "alpha", "a", "b")])
    gg = _with_params(gg, [lgg.params_[k] for k in ("p", "q", "v")])
    ours = customer_lifetime_value(
        bg, gg, cdnow, discount_rate=0.01, method="discrete", period_length=length, n_periods=12
    ).to_numpy()
    ref = lgg.customer_lifetime_value(
        lbg,
        cdnow["frequency"],
        cdnow["recency"],
        cdnow["T"],
        cdnow["monetary_value"],
        time=12,
        discount_rate=0.01,
        freq=freq,
    ).to_numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-8)
    via_method = gg.predict_clv(
        bg, cdnow, discount_rate=0.01, method="discrete", period_length=length, n_periods=12
    )
    np.testing.assert_allclose(via_method.to_numpy(), ours, rtol=1e-14)


def test_clv_is_margin_times_spend_times_dert(models, cdnow):
    bg, gg = models
    delta = continuous_rate(0.15, 52)
    clv = customer_lifetime_value(bg, gg, cdnow, margin=0.3, discount_rate=delta, method="continuous")
    dert = bg.predict_dert(cdnow, delta)
    spend = gg.predict_spend(cdnow)
    np.testing.assert_allclose(clv.to_numpy(), 0.3 * dert.to_numpy() * spend.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(
        discounted_purchases(bg, cdnow, discount_rate=delta, method="continuous").to_numpy(), dert.to_numpy()
    )
    assert clv.name == "clv"
    assert list(clv.index) == list(cdnow.index)


def test_continuous_dert_is_the_limit_of_fine_discrete_sums(models, cdnow):
    """With per-period rate (1+d) = e^{delta L} and small L, the discrete sum tends to the continuous DERT."""
    bg, _ = models
    delta = 0.01
    head = cdnow.head(30)
    cont = discounted_purchases(bg, head, discount_rate=delta, method="continuous").to_numpy()
    length = 0.5
    disc = discounted_purchases(
        bg,
        head,
        discount_rate=np.expm1(delta * length),
        method="discrete",
        period_length=length,
        n_periods=8000,
    ).to_numpy()
    # the discrete sum discounts at period ends (a half-period late on average): factor ~ e^{-delta L / 2}
    np.testing.assert_allclose(disc, cont * np.exp(-delta * length / 2), rtol=2e-3)


def test_dert_formula_mbgnbd_and_no_spend_model(cdnow):
    mbg = ModifiedBetaGeo().fit(cdnow)
    clv = customer_lifetime_value(
        mbg, None, cdnow.head(10), margin=5.0, discount_rate=0.003, method="continuous"
    )
    np.testing.assert_allclose(clv.to_numpy(), 5.0 * mbg.predict_dert(cdnow.head(10), 0.003).to_numpy())


def test_clv_intervals(models, cdnow):
    bg, gg = models
    head = cdnow.head(40)
    delta = continuous_rate(0.15, 52)
    d = customer_lifetime_value(
        bg, gg, head, margin=0.3, discount_rate=delta, method="continuous", interval=0.9
    )
    b = customer_lifetime_value(
        bg,
        gg,
        head,
        margin=0.3,
        discount_rate=delta,
        method="continuous",
        interval=0.9,
        interval_method="bootstrap",
        n_draws=1000,
    )
    for out in (d, b):
        assert list(out.columns) == ["estimate", "lower", "upper"]
        assert ((out["lower"] < out["estimate"]) & (out["estimate"] < out["upper"])).all()
    np.testing.assert_allclose(d["estimate"], b["estimate"])
    np.testing.assert_allclose(b["upper"] - b["lower"], d["upper"] - d["lower"], rtol=0.25)
    # a wider level gives a wider interval; combined uncertainty exceeds the transaction part alone
    wide = customer_lifetime_value(
        bg, gg, head, margin=0.3, discount_rate=delta, method="continuous", interval=0.99
    )
    assert ((wide["upper"] - wide["lower"]) > (d["upper"] - d["lower"])).all()
    only_tx = bg.predict_dert(head, delta, interval=0.9)
    assert ((d["upper"] / d["estimate"]) > (only_tx["upper"] / only_tx["estimate"])).all()


def test_rates():
    assert continuous_rate(0.15, 52) == pytest.approx(np.log(1.15) / 52)
    assert (1 + period_rate(0.15, 12)) ** 12 == pytest.approx(1.15)
    with pytest.raises(ConfigError):
        continuous_rate(-2.0, 52)


def test_validation(models, cdnow):
    bg, gg = models
    with pytest.raises(ConfigError, match="period_length"):
        customer_lifetime_value(bg, gg, cdnow, discount_rate=0.01, method="discrete")
    with pytest.raises(ConfigError, match="discount_rate"):
        customer_lifetime_value(bg, gg, cdnow, discount_rate=0.0, method="continuous")
    with pytest.raises(ConfigError, match="method"):
        customer_lifetime_value(bg, gg, cdnow, discount_rate=0.01, method="monthly")
    with pytest.raises(ConfigError, match="interval"):
        customer_lifetime_value(bg, gg, cdnow, discount_rate=0.01, method="continuous", interval=1.5)
    with pytest.raises(NotFittedError):
        customer_lifetime_value(BetaGeo(), gg, cdnow, discount_rate=0.01, method="continuous")
    with pytest.raises(NotFittedError):
        customer_lifetime_value(bg, GammaGamma(), cdnow, discount_rate=0.01, method="continuous")
