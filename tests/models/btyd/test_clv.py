"""CLV: lifetimes parity (lifetimes_clv and the discrete convention), continuous DERT, margins, intervals,
rates, the required method and the argument checks."""

from __future__ import annotations

import numpy as np
import pytest

import socialvalue as sv
from socialvalue.datasets import cdnow as cdnow_data
from socialvalue.errors import ConfigError, NotFittedError
from socialvalue.models.btyd import (
    BetaGeo,
    GammaGamma,
    ModifiedBetaGeo,
    ParetoNBD,
    RateModel,
    ShrunkMeanSpend,
    continuous_rate,
    customer_lifetime_value,
    discounted_purchases,
    lifetimes_clv,
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


# ---------------------------------------------------------------------------------------------- lifetimes_clv
@pytest.fixture(scope="module")
def summaries():
    """The CDNOW 1/10 sample twice: the papers' weekly calibration summary (socialvalue.datasets.cdnow), and a
    daily summary of the same 39 weeks computed by lifetimes 0.11.3 from the raw log
    (``summary_data_from_transaction_data(..., observation_period_end="1997-09-30", freq="D")``)."""
    pytest.importorskip("lifetimes")
    from lifetimes.utils import summary_data_from_transaction_data

    daily = summary_data_from_transaction_data(
        cdnow_data.read_log(),
        "customer_id",
        "date",
        monetary_value_col="dollar_value",
        observation_period_end="1997-09-30",
        freq="D",
    )
    return {"weekly": cdnow_data.load_summary(), "daily": daily}


@pytest.fixture(scope="module")
def lifetimes_pairs(summaries, with_params):
    """Per summary: lifetimes' fitted BetaGeoFitter + GammaGammaFitter, and ours carrying their parameters."""
    lifetimes = pytest.importorskip("lifetimes")
    out = {}
    for name, data in summaries.items():
        lbg = lifetimes.BetaGeoFitter().fit(data["frequency"], data["recency"], data["T"])
        rep = data[data["frequency"] > 0]
        lgg = lifetimes.GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"])
        bg = BetaGeo().fit(data)
        gg = GammaGamma().fit(data)
        # our own estimates are lifetimes' (to its optimiser's tolerance) ...
        for ours, ref in ((bg, lbg), (gg, lgg)):
            for k, v in ours.params_.items():
                assert v == pytest.approx(ref.params_[k], rel=1e-5), (name, k)
        # ... and at exactly lifetimes' parameters the CLV must be lifetimes' to rounding
        out[name] = (with_params(bg, dict(lbg.params_)), with_params(gg, dict(lgg.params_)), lbg, lgg)
    return out


@pytest.mark.parametrize("summary", ["weekly", "daily"])
@pytest.mark.parametrize("time", [12, 3])
@pytest.mark.parametrize("freq", ["D", "W"])
def test_lifetimes_clv_equals_lifetimes_for_every_customer(summaries, lifetimes_pairs, summary, time, freq):
    """lifetimes 0.11.3 ``GammaGammaFitter.customer_lifetime_value(bgf, frequency, recency, T, monetary_value,
    time, discount_rate=0.01, freq)``: months of 30 days (freq D) or 4.345 weeks (freq W), discrete monthly
    discounting. Our one call reproduces it customer by customer to 1e-8 relative."""
    data = summaries[summary]
    bg, gg, lbg, lgg = lifetimes_pairs[summary]
    ref = lgg.customer_lifetime_value(
        lbg,
        data["frequency"],
        data["recency"],
        data["T"],
        data["monetary_value"],
        time=time,
        discount_rate=0.01,
        freq=freq,
    )
    ours = sv.lifetimes_clv(bg, gg, data, time=time, discount_rate=0.01, freq=freq)
    assert ours.name == "clv" and ours.index.equals(ref.index)
    np.testing.assert_allclose(ours.to_numpy(), ref.to_numpy(), rtol=1e-8)
    assert (ref.to_numpy() > 0).all()  # no vacuous agreement on zeros


def test_lifetimes_clv_is_the_discrete_method_with_lifetimes_month(lifetimes_pairs, summaries):
    """The same numbers through customer_lifetime_value(method="discrete", period_length=30, n_periods=12),
    with margin, intervals, lifetimes' np.arange months for a fractional time, and its argument checks."""
    bg, gg, _, _ = lifetimes_pairs["daily"]
    data = summaries["daily"]
    direct = customer_lifetime_value(
        bg, gg, data, margin=0.3, discount_rate=0.01, method="discrete", period_length=30.0, n_periods=12
    )
    ours = lifetimes_clv(bg, gg, data, margin=0.3)  # lifetimes' defaults: time=12, 0.01, freq="D"
    np.testing.assert_allclose(ours.to_numpy(), direct.to_numpy(), rtol=1e-14)
    # lifetimes sums over np.arange(1, time + 1): time=2.5 is 3 months
    np.testing.assert_array_equal(
        lifetimes_clv(bg, gg, data, time=2.5).to_numpy(), lifetimes_clv(bg, gg, data, time=3).to_numpy()
    )
    # a zero rate is allowed (no discounting): more than at 1% a month
    assert (lifetimes_clv(bg, gg, data, discount_rate=0.0) > lifetimes_clv(bg, gg, data)).all()
    band = lifetimes_clv(bg, gg, data.head(50), interval=0.9)
    np.testing.assert_allclose(band["estimate"], lifetimes_clv(bg, gg, data.head(50)), rtol=1e-14)
    assert ((band["lower"] < band["estimate"]) & (band["estimate"] < band["upper"])).all()
    with pytest.raises(ConfigError, match="freq must be one of"):
        lifetimes_clv(bg, gg, data, freq="Y")
    with pytest.raises(ConfigError, match="time must be a number of months"):
        lifetimes_clv(bg, gg, data, time=0)


def test_continuous_and_lifetimes_conventions_differ_so_method_is_required(models, cdnow):
    """The trap the required method removes: 0.01 per time unit over an infinite horizon is a different
    number from lifetimes' 0.01 a month over 12 months (1.51x in total on the weekly CDNOW summary)."""
    bg, gg = models
    continuous = customer_lifetime_value(bg, gg, cdnow, discount_rate=0.01, method="continuous").sum()
    monthly = lifetimes_clv(bg, gg, cdnow, time=12, discount_rate=0.01, freq="W").sum()
    assert continuous / monthly == pytest.approx(1.509, abs=1e-3)
    calls = [
        lambda: customer_lifetime_value(bg, gg, cdnow, discount_rate=0.01),
        lambda: gg.predict_clv(bg, cdnow, discount_rate=0.01),
        lambda: discounted_purchases(bg, cdnow, discount_rate=0.01),
    ]
    for call in calls:
        with pytest.raises(ConfigError, match="method is required") as info:
            call()
        text = str(info.value)
        assert "\n" not in text
        for part in ("'continuous'", "infinite horizon", "'discrete'", "period_length", "n_periods"):
            assert part in text
        assert "sv.lifetimes_clv(" in text


def test_swapped_or_wrong_arguments_say_what_went_where(models, cdnow):
    bg, gg = models
    with pytest.raises(ConfigError) as info:
        customer_lifetime_value(gg, bg, cdnow, discount_rate=0.01, method="continuous")
    assert str(info.value) == (
        "transaction_model must be a fitted purchase model (BetaGeo, ModifiedBetaGeo, ParetoNBD, "
        "BetaGeoBetaBinom, ...), got a GammaGamma — the order is customer_lifetime_value(transaction_model, "
        "spend_model, data, ...); did you swap them?"
    )
    with pytest.raises(
        ConfigError, match=r"spend_model must be a fitted GammaGamma or None, got a BetaGeo.*swap"
    ):
        customer_lifetime_value(bg, bg, cdnow, discount_rate=0.01, method="continuous")
    with pytest.raises(ConfigError, match=r"got a GammaGamma .*predict_clv\(transaction_model, data\).*swap"):
        gg.predict_clv(gg, cdnow, discount_rate=0.01, method="continuous")
    with pytest.raises(ConfigError, match=r"transaction_model must be .*got a GammaGamma.*lifetimes_clv\("):
        lifetimes_clv(gg, bg, cdnow)
    with pytest.raises(ConfigError, match=r"discounted_purchases\(transaction_model, data"):
        discounted_purchases(gg, cdnow, discount_rate=0.01, method="continuous")
    # the data where a model belongs, and a model where the data belong
    with pytest.raises(ConfigError, match="got a DataFrame — the data go last"):
        customer_lifetime_value(bg, cdnow, gg, discount_rate=0.01, method="continuous")
    with pytest.raises(
        ConfigError, match=r"data must be a pandas DataFrame or a mapping.*got a GammaGamma model"
    ):
        customer_lifetime_value(bg, None, gg, discount_rate=0.01, method="continuous")
    with pytest.raises(ConfigError, match="got a numpy array"):
        customer_lifetime_value(bg, gg, cdnow.to_numpy(), discount_rate=0.01, method="continuous")
    # other spend and purchase models get a pointer to what to do instead
    spend = ShrunkMeanSpend().fit(cdnow.assign(n_orders=cdnow["frequency"] + 1, mean_order_value=30.0))
    with pytest.raises(ConfigError, match=r"got a ShrunkMeanSpend — multiply discounted_purchases"):
        customer_lifetime_value(bg, spend, cdnow, discount_rate=0.01, method="continuous")
    rate = RateModel().fit(cdnow)
    with pytest.raises(ConfigError, match="got a RateModel — the plain rate model has no dropout"):
        customer_lifetime_value(rate, gg, cdnow, discount_rate=0.01, method="continuous")
    # a mapping of columns is data too
    cols = {c: cdnow[c].to_numpy() for c in ("frequency", "recency", "T", "monetary_value")}
    np.testing.assert_allclose(
        lifetimes_clv(bg, gg, cols, freq="W").to_numpy(), lifetimes_clv(bg, gg, cdnow, freq="W").to_numpy()
    )


def test_lifetimes_fitters_are_refused_with_the_way_out(models, lifetimes_models, cdnow):
    bg, gg = models
    lbg, lgg = lifetimes_models
    with pytest.raises(
        ConfigError, match=r"got lifetimes' BetaGeoFitter — fit socialvalue.models.btyd.BetaGeo"
    ):
        lifetimes_clv(lbg, gg, cdnow)
    with pytest.raises(
        ConfigError, match=r"got lifetimes' GammaGammaFitter — fit socialvalue.models.btyd.GammaGamma"
    ):
        lifetimes_clv(bg, lgg, cdnow)


def test_type_checks_come_before_the_not_fitted_error(models, cdnow):
    bg, gg = models
    with pytest.raises(NotFittedError):
        lifetimes_clv(ParetoNBD(), gg, cdnow)
    with pytest.raises(NotFittedError):
        gg.predict_clv(BetaGeo(), cdnow, discount_rate=0.01, method="continuous")
    with pytest.raises(NotFittedError):
        GammaGamma().predict_clv(bg, cdnow, discount_rate=0.01, method="continuous")
    with pytest.raises(ConfigError, match="swap"):
        customer_lifetime_value(GammaGamma(), BetaGeo(), cdnow, discount_rate=0.01, method="continuous")


def test_top_level_exports():
    from socialvalue.models import lifetimes_clv as from_models

    assert sv.lifetimes_clv is lifetimes_clv is from_models
    assert "lifetimes_clv" in sv.__all__ and "lifetimes_clv" in dir(sv)
