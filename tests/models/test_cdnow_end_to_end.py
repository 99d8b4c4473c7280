"""CDNOW end to end: the raw 1/10 sample log through our ingest and feature engine to the published models.

Path under test: :func:`socialvalue.datasets.cdnow.load_transactions` (the packaged ``CDNOW_sample.txt``, 2,357
customers, 6,919 log rows) → :meth:`socialvalue.Store.ingest` into a DuckDB file →
:func:`socialvalue.engine.build` with ``as_of=1997-10-01`` (calibration 1997-01-01..1997-09-30, weeks 1-39)
and ``holdout_end=1998-07-01`` (holdout 1997-10-01..1998-06-30, weeks 40-78) → BG/NBD, Pareto/NBD,
Gamma-Gamma and the churn scores. Nothing here reads the published calibration summary except to compare.

References
----------
.. [1] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy way: an
   alternative to the Pareto/NBD model. *Marketing Science* 24(2), 275-284: BG/NBD estimates r = 0.243,
   alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4 (section 4, p. 280); conditional expectations by
   calibration frequency 0..7+ (fig. 4); Pareto/NBD estimates r = 0.553, alpha = 10.58, s = 0.606,
   beta = 11.67 (p. 280, from Fader, Hardie & Lee 2005 JMR).
.. [2] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: using iso-value curves for customer
   base analysis. *Journal of Marketing Research* 42(4), 415-430: Pareto/NBD and Gamma-Gamma estimates on the
   CDNOW sample.
.. [3] Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma model of monetary value (note 025):
   p = 6.25, q = 3.74, v = 15.44 on the 946 customers with repeat purchases.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from socialvalue import Store
from socialvalue.datasets import cdnow, ingest_tables
from socialvalue.engine import build
from socialvalue.models import (
    BetaGeo,
    ChurnClassifier,
    ChurnConfig,
    GammaGamma,
    ParetoNBD,
    churn_report,
    model_churn_risk,
)
from socialvalue.models.btyd.diagnostics import conditional_expectations, holdout_errors
from socialvalue.models.churn import churn_design, load_churn_config

CAL_END = "1997-10-01"  # exclusive: the calibration period includes 1997-09-30
HOLDOUT_END = "1998-07-01"  # exclusive: the holdout includes 1998-06-30 (39 weeks)
HOLDOUT_WEEKS = 39.0
#: Share of customers kept away from the churn classifier, on which all churn scores are compared.
EVAL_SHARE = 0.3


@pytest.fixture(scope="module")
def tables():
    return cdnow.load_transactions()


@pytest.fixture(scope="module")
def built(tables, tmp_path_factory):
    """Ingest the canonical tables into a DuckDB file and build the calibration/holdout feature table."""
    path = tmp_path_factory.mktemp("cdnow") / "cdnow.duckdb"
    with Store(path) as store:
        reports = ingest_tables(store, tables)
        features = build(store, as_of=CAL_END, unit="W", holdout_end=HOLDOUT_END)
        materialized = int(store.scalar('SELECT count(*) FROM "features_19971001"'))
    return {"reports": reports, "features": features, "materialized": materialized}


@pytest.fixture(scope="module")
def features(built) -> pd.DataFrame:
    return built["features"]


@pytest.fixture(scope="module")
def bgnbd(features) -> BetaGeo:
    return BetaGeo().fit(features)


@pytest.fixture(scope="module")
def pnbd(features) -> ParetoNBD:
    return ParetoNBD().fit(features)


@pytest.fixture(scope="module")
def churn_config() -> ChurnConfig:
    """The packaged churn settings with the horizon set to the CDNOW holdout (273 days = 39 weeks)."""
    return ChurnConfig(**{**load_churn_config().model_dump(), "horizon_days": 273})


@pytest.fixture(scope="module")
def usable_features(features, churn_config) -> list[str]:
    """Configured classifier columns that carry information on CDNOW (purchases only, no social data).

    CDNOW has no interactions or content, so ``days_since_last_interaction`` and ``review_mean_rating`` are
    entirely NULL and the social counts constant; see :func:`test_classifier_default_features_on_purchase_only_data`.
    """
    design = churn_design(features, churn_config.features)
    return [c for c in design.columns if design[c].nunique() > 1]


@pytest.fixture(scope="module")
def churn_split(features):
    """Customers held out of the classifier's training (a fixed random 30%), where every score is compared."""
    held_out = np.random.default_rng(1997).random(len(features)) < EVAL_SHARE
    return features.loc[~held_out], features.loc[held_out]


@pytest.fixture(scope="module")
def classifier(churn_split, churn_config, usable_features) -> ChurnClassifier:
    train, _ = churn_split
    return ChurnClassifier(config=churn_config, features=usable_features).fit(train)


def test_ingest_and_feature_table_reproduce_the_published_summary(built, tables, features):
    """Loader → ``Store.ingest`` → ``build`` gives the papers' calibration summary (FHL 2005 [1]).

    Every customer's ``x, t_x, T, zbar`` equals the published ``cdnow_summary_calibration.csv`` to its
    2-decimal rounding (matched on the sample id the loader keeps); totals: 2,457 calibration repeat
    transactions, and 1,882 holdout repeat transactions (distinct purchase days in weeks 40-78), which is
    recounted here from the raw log with plain pandas.
    """
    assert built["reports"]["customers"].inserted == 2357
    assert built["reports"]["orders"].inserted == 6919
    assert built["materialized"] == len(features) == 2357

    sample_id = tables["customers"].to_pandas().set_index("customer_id")["sample_id"]
    ours = features.set_index(features["customer_id"].map(sample_id)).sort_index()
    published = cdnow.load_summary().set_index("ID").sort_index()
    assert (ours.index == published.index).all()
    assert (ours["frequency"].to_numpy() == published["frequency"].to_numpy()).all()
    for col in ("recency", "T", "monetary_value"):
        np.testing.assert_allclose(ours[col].astype(float), published[col], rtol=0, atol=0.005 + 1e-9)
    assert int(features["frequency"].sum()) == 2457

    assert (features["holdout_duration"] == HOLDOUT_WEEKS).all()
    log = cdnow.read_log()
    days = log[["customer_id", "date"]].drop_duplicates()
    in_holdout = (days["date"] >= CAL_END) & (days["date"] < HOLDOUT_END)
    assert int(in_holdout.sum()) == 1882
    assert int(features["holdout_transactions"].sum()) == 1882


def test_bgnbd_published_estimates(bgnbd):
    """FHL (2005) [1], section 4, p. 280: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4.

    Fitted on the feature table built from the raw log (unrounded t_x and T), equal at the published rounding.
    """
    p = bgnbd.params_
    assert (round(p["r"], 3), round(p["alpha"], 3), round(p["a"], 3), round(p["b"], 3)) == (
        0.243,
        4.414,
        0.793,
        2.426,
    )
    assert round(bgnbd.log_likelihood_, 1) == -9582.4
    assert bgnbd.n_obs_ == 2357


def test_paretonbd_published_estimates(pnbd):
    """FHL (2005) [1] p. 280 and [2]: r = 0.553, alpha = 10.58, s = 0.606, beta = 11.67 (LL -9595.0)."""
    p = pnbd.params_
    assert (round(p["r"], 3), round(p["alpha"], 2), round(p["s"], 3), round(p["beta"], 2)) == (
        0.553,
        10.58,
        0.606,
        11.67,
    )
    assert round(pnbd.log_likelihood_, 1) == -9595.0
    assert pnbd.n_obs_ == 2357


def test_gammagamma_published_estimates(features):
    """Fader & Hardie's Gamma-Gamma note [3] (and FHL 2005 JMR [2]): p = 6.25, q = 3.74, v = 15.44.

    Fitted on the 946 repeat customers (``frequency > 0``, ``monetary_value > 0``) of the feature table; the
    spend is the mean value of the repeat purchase days, the first purchase excluded.
    """
    repeat = features[(features["frequency"] > 0) & (features["monetary_value"] > 0)]
    assert len(repeat) == int((features["frequency"] > 0).sum()) == 946
    gg = GammaGamma().fit(repeat)
    p = gg.params_
    assert (round(p["p"], 2), round(p["q"], 2), round(p["v"], 2)) == (6.25, 3.74, 15.44)
    assert gg.n_obs_ == 946
    # The population mean spend p v / (q - 1) is close to the observed mean of the customers' averages.
    assert gg.expected_spend() == pytest.approx(p["p"] * p["v"] / (p["q"] - 1))
    assert gg.expected_spend() == pytest.approx(repeat["monetary_value"].mean(), rel=0.05)


@pytest.mark.parametrize(
    "model_name, expected_total, lifetimes_class",
    [("bgnbd", 1653.4, "BetaGeoFitter"), ("pnbd", 1665.5, "ParetoNBDFitter")],
)
def test_holdout_total_against_feature_engine_actual(
    request, features, model_name, expected_total, lifetimes_class
):
    """Predicted total holdout repeat transactions (weeks 40-78) vs the feature engine's actual 1,882.

    Both models under-forecast the 39-week holdout by 11-13% at their published estimates, as in FHL (2005)
    [1], fig. 3 (the cumulative forecast falls below the actual in the holdout). The sum of the conditional
    expectations is cross-checked against lifetimes 0.11.3 at the same parameters.
    """
    import lifetimes  # test-only reference implementation

    model = request.getfixturevalue(model_name)
    errors = holdout_errors(model, features)
    assert errors["actual_total"] == 1882
    assert errors["predicted_total"] == pytest.approx(expected_total, abs=0.5)
    assert -0.15 < errors["total_error"] < -0.10
    assert errors["corr"] > 0.6

    ref = getattr(lifetimes, lifetimes_class)()
    ref.params_ = pd.Series(model.params_)
    ref_pred = ref.conditional_expected_number_of_purchases_up_to_time(
        HOLDOUT_WEEKS, features["frequency"], features["recency"], features["T"]
    )
    assert float(np.sum(ref_pred)) == pytest.approx(errors["predicted_total"], rel=1e-6)


def test_conditional_expectations_by_calibration_frequency(bgnbd, features):
    """FHL (2005) [1], fig. 4: mean holdout transactions by calibration frequency 0..7+, actual vs BG/NBD.

    The figure's shape: both curves increase with the calibration frequency and the model tracks the actual
    mean of every group within 30% (relative) and 0.4 transactions (absolute); the largest gaps are the
    under-predictions at x = 1, 2 and 4, as in the paper's figure.
    """
    table = conditional_expectations(bgnbd, features)
    assert list(table.index) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert table["n_customers"].tolist() == [1411, 439, 214, 100, 62, 38, 29, 64]
    assert np.all(np.diff(table["model"].to_numpy()) > 0)
    assert np.all(np.diff(table["actual"].to_numpy()) > 0)
    gap = table["model"] - table["actual"]
    assert np.all(gap.abs() < 0.4)
    assert np.all((gap / table["actual"]).abs() < 0.3)
    assert table.loc["0", "model"] == pytest.approx(table.loc["0", "actual"], abs=0.02)
    assert table.loc["7+", "model"] == pytest.approx(table.loc["7+", "actual"], rel=0.05)


def _score_report(frame: pd.DataFrame, score: np.ndarray):
    return churn_report(
        frame["holdout_transactions"].to_numpy() == 0,
        score,
        alert_budget=0.1,
        recency=frame["days_since_last_purchase"].to_numpy(float),
    )


def test_churn_scores_on_cdnow_holdout(classifier, churn_split, bgnbd, pnbd):
    """Churn = no purchase in the 39-week holdout; scores compared on customers the classifier never saw.

    The classifier (gradient-boosted trees on the calibration features, trained on 70% of the customers) and
    the BTYD risks all rank churners well (AUC > 0.7) and concentrate them in the top decile (lift > 1, the
    ceiling being 1 / base rate = 1.43), but none beats days-since-last-purchase by much: the CDNOW cohort
    was acquired within one quarter, so recency carries most of the signal. The BG/NBD risk is the
    probability of no purchase over the horizon (``model_churn_risk`` with the expected transactions);
    the Pareto/NBD risk is plain 1 - P(alive) (FHL 2005 [1], eq. 13 and its Pareto/NBD analogue).
    """
    _, held_out = churn_split
    clf = classifier.evaluate(held_out)
    p_bg = bgnbd.probability_alive(held_out).to_numpy()
    e_bg = bgnbd.predict_purchases(held_out, HOLDOUT_WEEKS).to_numpy()
    bg = _score_report(held_out, model_churn_risk(p_bg, e_bg))
    pn = _score_report(held_out, model_churn_risk(pnbd.probability_alive(held_out).to_numpy()))
    rec = _score_report(held_out, held_out["days_since_last_purchase"].to_numpy(float))

    base = rec.base_rate
    assert 0.65 < base < 0.75 and clf.base_rate == base
    assert rec.auc == rec.auc_recency
    for report in (classifier.report_, clf, bg, pn, rec):
        assert report.auc > 0.7
        assert 1.0 < report.top_decile_lift <= 1.0 / report.base_rate + 1e-12
        assert report.precision_at_budget > report.base_rate
    # the classifier is not worse than its recency-only baseline by more than noise on ~700 customers
    assert clf.auc > clf.auc_recency - 0.03
    assert "273 days" in clf.definition


def test_bgnbd_one_minus_p_alive_misranks_one_time_buyers(bgnbd, churn_split):
    """BG/NBD sets P(alive) = 1 for customers with no repeat purchase (FHL 2005 [1], eq. 13 with x = 0).

    On CDNOW 60% of customers are one-time buyers and most of them do not come back, so 1 - P(alive) ranks
    churners *below* chance; the horizon form of ``model_churn_risk`` (probability of no purchase, using the
    expected transactions) fixes the ranking. Pinned so that nobody uses plain 1 - P(alive) of a BG/NBD as a
    churn score.
    """
    _, held_out = churn_split
    p = bgnbd.probability_alive(held_out).to_numpy()
    one_timers = held_out["frequency"].to_numpy() == 0
    assert np.all(p[one_timers] == 1.0)
    plain = _score_report(held_out, model_churn_risk(p))
    horizon = _score_report(
        held_out, model_churn_risk(p, bgnbd.predict_purchases(held_out, HOLDOUT_WEEKS).to_numpy())
    )
    assert plain.auc < 0.5 < 0.7 < horizon.auc


def test_classifier_default_features_on_purchase_only_data(features, churn_config):
    """With the packaged feature list, the classifier fits on a store that holds purchases only."""
    fitted = ChurnClassifier(config=churn_config).fit(features)
    assert "days_since_last_interaction" not in fitted.features_
    assert fitted.report_.auc > 0.7


def test_one_command_pipeline_on_purchase_only_data(tables, tmp_path):
    """``run_pipeline`` scores every CDNOW customer although the store holds no social data at all."""
    from socialvalue.pipeline.run import run_pipeline

    with Store(tmp_path / "cdnow.duckdb") as store:
        ingest_tables(store, tables)
        result = run_pipeline(store, HOLDOUT_END)
    assert len(result.scores) == 2357
