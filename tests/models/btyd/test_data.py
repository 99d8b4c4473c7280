"""Column handling of the BTYD models: customers without a purchase (a feature table's empty rows), precise row
errors for genuinely bad values, and the check that data are a table."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from socialvalue.errors import ConfigError, SchemaError
from socialvalue.models.btyd import (
    BetaGeo,
    BetaGeoBetaBinom,
    GammaGamma,
    ModifiedBetaGeo,
    ParetoNBD,
    RateModel,
    customer_lifetime_value,
)
from socialvalue.models.btyd._data import check_table, columns_of, customer_columns


@pytest.fixture(scope="module")
def features(tmp_path_factory) -> pd.DataFrame:
    """A real feature table (sv.build_features on the seeded demo shop, weeks): buyers and customers who
    have not bought yet, whose frequency/recency/T/monetary_value/n_periods are empty (NULL)."""
    from socialvalue import Store, build_features
    from socialvalue.demo import generate

    store = Store(tmp_path_factory.mktemp("nobuy") / "store.duckdb")
    try:
        generate(800, seed=7).load_into(store)
        return build_features(store, as_of="2026-07-01")
    finally:
        store.close()


@pytest.fixture(scope="module")
def none(features) -> np.ndarray:
    mask = features["frequency"].isna().to_numpy()
    # the feature engine leaves every purchase column of these customers empty (and only theirs)
    for col in ("recency", "T", "monetary_value", "n_periods"):
        np.testing.assert_array_equal(features[col].isna().to_numpy(), mask)
    assert 20 < mask.sum() < len(mask) / 2
    return mask


@pytest.mark.parametrize("cls", [BetaGeo, ModifiedBetaGeo, ParetoNBD])
def test_fit_on_a_whole_feature_table_leaves_non_buyers_out(cls, features, none):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        whole = cls().fit(features)
        buyers = cls().fit(features.loc[~none])
    assert whole.n_no_purchase_ == int(none.sum()) and buyers.n_no_purchase_ == 0
    assert whole.n_obs_ == buyers.n_obs_ == int((~none).sum())
    assert whole.params_ == buyers.params_
    assert whole.log_likelihood_ == buyers.log_likelihood_


@pytest.mark.parametrize("cls", [BetaGeo, ModifiedBetaGeo, ParetoNBD])
def test_non_buyers_are_predicted_as_a_history_that_starts_now(cls, features, none):
    model = cls().fit(features)
    t = 26.0
    pred = model.predict_purchases(features, t)
    alive = model.probability_alive(features)
    assert pred.index.equals(features.index) and np.isfinite(pred).all() and np.isfinite(alive).all()
    # the population's unconditional E[X(t)] (FHL 2005 eq. 7; note 009 eq. 27) for every non-buyer
    np.testing.assert_allclose(pred[none], model.expected_purchases(t).iloc[0], rtol=1e-12)
    start = pd.DataFrame({"frequency": [0], "recency": [0.0], "T": [0.0]})
    np.testing.assert_allclose(alive[none], model.probability_alive(start).iloc[0], rtol=1e-15)
    if cls is ModifiedBetaGeo:  # may drop out at time zero: P(alive) = b / (a + b) at the first purchase
        p = model.params_
        np.testing.assert_allclose(alive[none], p["b"] / (p["a"] + p["b"]), rtol=1e-12)
    else:
        assert (alive[none] == 1.0).all()
    # buyers' predictions are untouched by the non-buyers around them
    np.testing.assert_array_equal(pred[~none], model.predict_purchases(features.loc[~none], t))
    band = model.predict_purchases(features, t, interval=0.9)
    assert np.isfinite(band.to_numpy()).all()


def test_gamma_gamma_and_clv_on_a_whole_feature_table(features, none):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gg = GammaGamma().fit(features)
        bg = BetaGeo().fit(features)
    assert gg.n_no_purchase_ == int(none.sum())
    assert gg.params_ == GammaGamma().fit(features.loc[~none]).params_
    spend = gg.predict_spend(features)
    np.testing.assert_allclose(spend[none], gg.expected_spend(), rtol=1e-12)
    clv = customer_lifetime_value(bg, gg, features, discount_rate=0.002, method="continuous", interval=0.9)
    assert np.isfinite(clv.to_numpy()).all() and clv.index.equals(features.index)
    # a non-buyer's value is the value of a customer whose history starts now
    start = pd.DataFrame({"frequency": [0], "recency": [0.0], "T": [0.0], "monetary_value": [0.0]})
    first = customer_lifetime_value(bg, gg, start, discount_rate=0.002, method="continuous").iloc[0]
    np.testing.assert_allclose(clv.loc[none, "estimate"], first, rtol=1e-12)


def test_bgbb_and_rate_model_accept_non_buyers(features, none):
    discrete = features[["frequency", "recency", "n_periods"]].copy()
    discrete["recency"] = np.ceil(discrete["recency"])
    discrete["frequency"] = np.minimum(discrete["frequency"], discrete["recency"])
    discrete["n_periods"] = np.maximum(discrete["n_periods"], discrete["recency"])
    bb = BetaGeoBetaBinom().fit(discrete)
    assert bb.n_no_purchase_ == int(none.sum())
    pred = bb.predict_purchases(discrete, 10)
    np.testing.assert_allclose(pred[none], bb.expected_purchases(10).iloc[0], rtol=1e-12)
    rate = RateModel().fit(features)
    assert rate.n_no_purchase_ == int(none.sum()) and rate.n_obs_ == int((~none).sum())
    assert rate.params_ == RateModel().fit(features.loc[~none]).params_
    np.testing.assert_allclose(rate.predict_purchases(features, 10)[none], 10 * rate.params_["rate"])


def test_genuinely_bad_rows_keep_their_precise_message():
    nan = np.nan
    # frequency empty but T known: not a customer without a purchase, an error at row 1
    partly = pd.DataFrame({"frequency": [2.0, nan, nan], "recency": [3.0, 1.0, nan], "T": [9.0, 9.0, nan]})
    with pytest.raises(SchemaError) as info:
        BetaGeo().fit(partly)
    text = str(info.value)
    assert text.startswith("non-finite or negative values in frequency (first at row 1)")
    assert "a customer without a purchase has all of frequency, recency, T empty" in text
    assert info.value.problems[0] == {"column": "frequency", "row": 1, "expected": "finite >= 0"}
    negative = pd.DataFrame({"frequency": [nan, 1.0], "recency": [nan, -2.0], "T": [nan, 5.0]})
    with pytest.raises(SchemaError, match=r"^non-finite or negative values in recency \(first at row 1\)$"):
        BetaGeo().fit(negative)
    with pytest.raises(SchemaError, match=r"in T \(first at row 0\)"):
        ParetoNBD().fit(pd.DataFrame({"frequency": [1.0], "recency": [1.0], "T": [np.inf]}))
    ints = pd.DataFrame(
        {"frequency": pd.array([None, 1], dtype="Int64"), "recency": [nan, 2.0], "T": [4.0, 5.0]}
    )
    with pytest.raises(SchemaError, match=r"frequency \(first at row 0\)"):
        BetaGeo().fit(ints)
    with pytest.raises(SchemaError, match=r"in frequency \(first at row 1\)"):
        GammaGamma().fit(pd.DataFrame({"frequency": [1.0, nan], "monetary_value": [5.0, 7.0]}))
    with pytest.raises(SchemaError, match=r"all 2 row\(s\) are customers without a purchase yet"):
        BetaGeo().fit(pd.DataFrame({"frequency": [nan, nan], "recency": [nan, nan], "T": [nan, nan]}))


def test_customer_columns_and_the_strict_reader():
    data = {"frequency": [1.0, np.nan], "recency": [0.5, np.nan], "T": [2.0, np.nan], "w": [1.0, 2.0]}
    cols, index, none = customer_columns(data, ["frequency", "recency", "T"])
    np.testing.assert_array_equal(none, [False, True])
    np.testing.assert_array_equal(cols["T"], [2.0, 0.0])
    assert list(index) == [0, 1]
    assert customer_columns(data, ["w"])[2] is None
    with pytest.raises(SchemaError, match=r"frequency \(first at row 1\)"):
        columns_of(data, ["frequency"])  # weights and other columns stay strict


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.zeros((3, 3)), "got a numpy array — name its columns"),
        (pd.Series([1.0]), "got a pandas Series — pass the whole frame"),
        (BetaGeo(), "got a BetaGeo model — a model went where the data belong"),
        ([1, 2], "got a list"),
    ],
)
def test_data_must_be_a_table(value, message):
    with pytest.raises(ConfigError, match=message):
        check_table(value)
    with pytest.raises(ConfigError, match="must be a pandas DataFrame or a mapping"):
        BetaGeo().fit(value)
