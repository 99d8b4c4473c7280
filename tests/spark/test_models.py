"""The BTYD models on Spark (issue 18, part 3): statistics aggregated in Spark, fitted on the driver, valued in parallel.

On the demo shop and on the whole CDNOW log (loaded as tests/spark/test_engine.py loads them), the Spark path
is compared with the DuckDB path of ``socialvalue.pipeline.stage_clv`` on the same feature tables (a
calibration table with its holdout, and the table at ``as_of``):

* the statistics Spark aggregates equal a pandas group-by of the DuckDB feature table, row for row;
* every default purchase model (BG/NBD, MBG/NBD, Pareto/NBD) fitted on them has the per-customer fit's
  parameters bit for bit (the models number the unique patterns by first appearance, and the statistics come
  in that order); the Gamma-Gamma's within 1e-9 relative (about 1e-12 is seen: its fit sums log spend over
  the rows it is given, once per pattern here);
* the ladders choose the same models for the same reasons, with the same holdout comparison (errors weighted
  by the counts, within 1e-9 relative of the per-customer means);
* ``value_frame`` (``mapInPandas`` on the executors) gives every buyer the DuckDB path's values within 1e-9
  relative; the delta-method CLV bounds, whose forward differences amplify the Gamma-Gamma's 1e-12, are the
  loosest (about 2e-10 on the demo shop).

The ladders' ``weights`` are also checked without Spark, on rows compressed by pandas.
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from socialvalue import Store
from socialvalue.datasets import cdnow
from socialvalue.demo import generate
from socialvalue.engine import feature_table
from socialvalue.errors import SchemaError
from socialvalue.features.query import feature_query
from socialvalue.features.registry import FeatureConfig
from socialvalue.features.split import TimeFrame
from socialvalue.models.btyd import BetaGeo, GammaGamma, ModifiedBetaGeo, ParetoNBD
from socialvalue.models.btyd.ladder import fit_purchase_ladder, fit_spend_ladder, spend_frame
from socialvalue.pipeline.config import RunConfig
from socialvalue.pipeline.stage_clv import SPEC, UNIT_DAYS, _value, buyers
from socialvalue.schema import KINDS
from socialvalue.spark import models as sm
from socialvalue.spark.engine import SparkEngine
from socialvalue.spark.input import read_tables
from socialvalue.store import arrow_to_pandas

from .conftest import write_tables

CLASSES = {"BG/NBD": BetaGeo, "MBG/NBD": ModifiedBetaGeo, "Pareto/NBD": ParetoNBD}
CFG = RunConfig()
COLUMNS = [*SPEC.features, *SPEC.holdout]  # what the CLV stage reads


def candidates(cfg: RunConfig = CFG) -> dict:
    """The purchase candidates as the CLV stage makes them from the configuration (the defaults here)."""
    m = cfg.models
    return {n: (lambda c=CLASSES[n]: c(penalizer_coef=m.purchase_penalizer)) for n in m.purchase_models}


def spend_settings(cfg: RunConfig = CFG) -> dict:
    m = cfg.models
    return {
        "penalizer": m.spend_penalizer,
        "fallback_penalizer": m.spend_fallback_penalizer,
        "degenerate_shape": m.degenerate_shape,
        "shrinkage_orders": m.shrinkage_orders,
    }


class Case:
    """One data set on both engines: the calibration table (with holdout) and the table at ``as_of``."""

    def __init__(self, store: Store, engine: SparkEngine, cal_end: str, as_of: str) -> None:
        self.store, self.engine = store, engine
        self.duck_cal, self.spark_cal = self._tables(cal_end, as_of)
        self.duck_now, self.spark_now = self._tables(as_of, None)

    def _tables(self, as_of: str, holdout_end: str | None):
        columns = [c for c in COLUMNS if holdout_end is not None or c not in SPEC.holdout]
        duck = arrow_to_pandas(
            feature_table(self.store, as_of, "W", holdout_end=holdout_end, columns=columns)
        )
        query = feature_query(
            TimeFrame.resolve(as_of, "W", None, holdout_end), FeatureConfig(), columns=columns
        )
        # read three or four times (statistics, valuation): kept, as a pipeline keeps its feature table
        frame = self.engine.dataframe(query, ["customer_id", *columns]).cache()
        return duck, frame

    def release(self) -> None:
        for frame in (self.spark_cal, self.spark_now):
            frame.unpersist()
        self.engine.release()
        self.store.close()


def _case(root, tables, cal_end: str, as_of: str, spark) -> Case:
    folder = write_tables(root / "input", tables)
    store = Store(root / "store.duckdb")
    for kind in KINDS:
        if (folder / f"{kind}.parquet").exists():
            store.ingest(kind, folder / f"{kind}.parquet")
    return Case(store, SparkEngine(spark, read_tables(spark, folder)), cal_end, as_of)


@pytest.fixture(scope="module")
def demo(spark, tmp_path_factory):
    """The demo shop (1,500 customers, seed 7): calibration to 2025-07-01, holdout and ``as_of`` 2026-01-01."""
    case = _case(
        tmp_path_factory.mktemp("demo"),
        generate(n_customers=1_500, seed=7).tables,
        "2025-07-01",
        "2026-01-01",
        spark,
    )
    yield case
    case.release()


@pytest.fixture(scope="module")
def cdnow_master(spark, shared_data, tmp_path_factory):
    """The whole CDNOW log: the papers' calibration period (to 1997-09-30) and holdout (to 1998-06-30)."""
    tables = cdnow.load_transactions(shared_data / "cdnow" / "CDNOW_master.txt", sample=False)
    case = _case(tmp_path_factory.mktemp("cdnow"), tables, "1997-10-01", "1998-07-01", spark)
    yield case
    case.release()


@pytest.fixture(params=["demo", pytest.param("cdnow", marks=pytest.mark.shared_data)])
def case(request) -> Case:
    return request.getfixturevalue("demo" if request.param == "demo" else "cdnow_master")


def _groupby(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``frame``'s unique ``keys`` with their counts, in the order of their first row (ids ascending)."""
    ordered = frame.sort_values("customer_id", kind="stable")
    out = ordered.groupby(keys, sort=False, dropna=False).size().rename(sm.WEIGHTS).reset_index()
    return out.astype({k: out[k].dtype.numpy_dtype for k in keys if hasattr(out[k].dtype, "numpy_dtype")})


def assert_params(ours, theirs, rtol: float = 1e-9) -> None:
    """Same parameter names, each within ``rtol`` relative (they are positive, of any scale)."""
    assert ours.params_.keys() == theirs.params_.keys()
    for name, value in theirs.params_.items():
        assert abs(ours.params_[name] / value - 1) <= rtol, (name, ours.params_[name], value)


# -- the statistics --------------------------------------------------------------------------------------------


def test_statistics_equal_a_pandas_groupby_of_the_duckdb_features(case):
    cal, now = buyers(case.duck_cal), buyers(case.duck_now)
    for stats, rows, keys in [
        (sm.purchase_statistics(case.spark_now), now, sm.PURCHASE_COLUMNS),
        (
            sm.purchase_statistics(case.spark_cal, holdout=True),
            cal,
            (*sm.PURCHASE_COLUMNS, *sm.HOLDOUT_COLUMNS),
        ),
    ]:
        pd.testing.assert_frame_equal(stats, _groupby(rows, list(keys)), check_exact=True)
        assert stats[sm.WEIGHTS].sum() == len(rows)
    spend = spend_frame(now).assign(customer_id=now["customer_id"].to_numpy())
    for columns in (sm.SPEND_COLUMNS, ("n_orders", "mean_order_value")):
        stats = sm.spend_statistics(case.spark_now, columns)
        pd.testing.assert_frame_equal(stats, _groupby(spend, list(columns)), check_exact=True)
        assert stats[sm.WEIGHTS].sum() == len(now)
    # compression is what the driver gains: fewer rows than buyers
    assert len(sm.purchase_statistics(case.spark_now)) < len(now)


def test_statistics_count_buyers_only_and_name_missing_columns(demo):
    stats = sm.purchase_statistics(demo.spark_now)
    assert stats[sm.WEIGHTS].sum() == demo.duck_now["frequency"].notna().sum() < len(demo.duck_now)
    assert list(stats.columns) == [*sm.PURCHASE_COLUMNS, sm.WEIGHTS]
    with pytest.raises(SchemaError, match="holdout_duration, holdout_transactions"):
        sm.purchase_statistics(demo.spark_now, holdout=True)
    with pytest.raises(SchemaError, match="spend_frame"):
        sm.spend_statistics(demo.spark_now, ["mean_spend"])


# -- the fits ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CLASSES))
def test_each_purchase_model_fitted_on_spark_statistics_has_the_duckdb_parameters(case, name):
    for duck, frame, holdout in [
        (case.duck_cal, case.spark_cal, True),
        (case.duck_now, case.spark_now, False),
    ]:
        ours = CLASSES[name]().fit(sm.purchase_statistics(frame, holdout=holdout), weights=sm.WEIGHTS)
        theirs = CLASSES[name]().fit(buyers(duck))
        assert_params(ours, theirs)  # the requirement: 1e-9 relative
        # and bit for bit: the same unique patterns in the same order with the same counts
        assert ours.params_ == theirs.params_ and ours.log_likelihood_ == theirs.log_likelihood_
        np.testing.assert_array_equal(ours.cov_, theirs.cov_)
        assert (ours.n_obs_, ours.n_unique_) == (theirs.n_obs_, theirs.n_unique_)


def test_purchase_ladder_on_spark_statistics_chooses_as_duckdb(case):
    cal_ours, now_ours, table_ours = sm.fit_purchase(
        case.spark_cal, case.spark_now, candidates(), metric=CFG.run.model_metric, horizon=26.0
    )
    cal_theirs, now_theirs, table_theirs = fit_purchase_ladder(
        buyers(case.duck_cal),
        buyers(case.duck_now),
        candidates(),
        metric=CFG.run.model_metric,
        horizon=26.0,
    )
    assert (cal_ours.name, now_ours.name) == (cal_theirs.name, now_theirs.name)
    assert now_ours.as_dict() == now_theirs.as_dict() and cal_ours.as_dict() == cal_theirs.as_dict()
    assert now_ours.model.params_ == now_theirs.model.params_
    assert cal_ours.model.params_ == cal_theirs.model.params_
    assert_same_comparison(table_ours, table_theirs)
    assert set(table_ours.index) == set(CLASSES) and table_ours["error"].isna().all()


def assert_same_comparison(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    """Same models in the same order with the same ranks and fits; holdout errors within 1e-9 relative."""
    assert list(ours.index) == list(theirs.index) and list(ours.columns) == list(theirs.columns)
    for column in ("rank", "n_params", "error", "degenerate"):
        assert ours[column].equals(theirs[column]), column
    for column in ("log_likelihood", "aic", "bic"):  # the same fits, bit for bit
        np.testing.assert_array_equal(ours[column].to_numpy(float), theirs[column].to_numpy(float))
    for column in ("mae", "rmse", "corr", "predicted_total", "actual_total", "total_error"):
        np.testing.assert_allclose(ours[column], theirs[column], rtol=1e-9, atol=0, err_msg=column)


def test_spend_ladder_on_spark_statistics_fits_as_duckdb(case):
    ours = sm.fit_spend(case.spark_now, **spend_settings())
    theirs = fit_spend_ladder(spend_frame(buyers(case.duck_now)), **spend_settings())
    assert ours.name == theirs.name == "Gamma-Gamma" and ours.as_dict() == theirs.as_dict()
    assert isinstance(ours.model, GammaGamma)
    assert_params(ours.model, theirs.model)
    assert ours.model.n_obs_ == theirs.model.n_obs_


def test_fallback_rungs_on_spark_statistics_fit_as_duckdb(demo):
    """Nothing usable above the last rungs: the rate model and the shrunk mean, fitted on the rows repeated."""
    failing = {"BG/NBD": lambda: BetaGeo(penalizer_coef=-1.0)}  # refused at fit: a ConfigError each time
    cal_ours, now_ours, table_ours = sm.fit_purchase(demo.spark_cal, demo.spark_now, failing, horizon=26.0)
    cal_theirs, now_theirs, table_theirs = fit_purchase_ladder(
        buyers(demo.duck_cal), buyers(demo.duck_now), failing, horizon=26.0
    )
    assert now_ours.name == cal_ours.name == "plain rate model" and now_ours.fallback
    assert now_ours.as_dict() == now_theirs.as_dict() and cal_ours.as_dict() == cal_theirs.as_dict()
    assert_params(now_ours.model, now_theirs.model)
    assert_params(cal_ours.model, cal_theirs.model)
    assert now_ours.model.n_obs_ == now_theirs.model.n_obs_
    assert table_ours["error"].equals(table_theirs["error"]) and table_ours["rank"].tolist() == [1]
    # a degenerate_shape every Gamma-Gamma exceeds: the shrunk mean, on (n_orders, mean_order_value)
    settings = {**spend_settings(), "degenerate_shape": 1.0001}
    ours = sm.fit_spend(demo.spark_now, **settings)
    theirs = fit_spend_ladder(spend_frame(buyers(demo.duck_now)), **settings)
    assert ours.name == theirs.name == "shrunk mean spend" and ours.as_dict() == theirs.as_dict()
    assert_params(ours.model, theirs.model)


# -- the values --------------------------------------------------------------------------------------------------


def _valued(case: Case, purchase, spend, cfg: RunConfig, interval: float | None):
    """(Spark's value_frame, the DuckDB path's ``stage_clv._value(...).frame``) of the buyers at ``as_of``.

    Buyers the Gamma-Gamma refuses to predict for (a repeat purchase worth 0: ``frequency > 0`` with
    ``monetary_value`` 0, one CDNOW customer) are left out of both: see
    :func:`test_value_frame_refuses_the_rows_the_duckdb_path_refuses`.
    """
    from pyspark.sql import functions as F

    refused = (F.col("frequency") > 0) & (F.col("monetary_value") <= 0)
    ours = sm.value_frame(
        sm.buyers(case.spark_now).where(~refused),
        purchase[0],
        spend[0],
        **_settings(cfg),
        interval=interval,
    )
    now = buyers(case.duck_now)
    now = now[~((now["frequency"] > 0) & (now["monetary_value"] <= 0)).to_numpy()].reset_index(drop=True)
    theirs = _value(purchase[1], spend[1], now, cfg, interval).frame
    frame = arrow_to_pandas(ours.toArrow())
    return frame.sort_values("customer_id", ignore_index=True), theirs


def _settings(cfg: RunConfig) -> dict:
    """value_frame's settings as the CLV stage passes them to value_customers."""
    return {
        "margin": cfg.run.margin,
        "annual_rate": cfg.run.annual_discount_rate,
        "unit_days": UNIT_DAYS[cfg.run.unit],
        "horizon_periods": cfg.run.horizon_periods,
        "forecast_periods": float(cfg.run.holdout_periods),
    }


def assert_same_values(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    assert list(ours.columns) == list(theirs.columns)
    assert ours.dtypes.to_dict() == theirs.dtypes.to_dict()
    assert ours["customer_id"].equals(theirs["customer_id"])
    for column in theirs.columns[1:]:
        np.testing.assert_allclose(ours[column], theirs[column], rtol=1e-9, atol=0, err_msg=column)


def test_value_frame_equals_the_duckdb_valuation(case):
    now = sm.fit_purchase(case.spark_cal, case.spark_now, candidates(), horizon=26.0)[1]
    duck = fit_purchase_ladder(buyers(case.duck_cal), buyers(case.duck_now), candidates(), horizon=26.0)[1]
    spend = sm.fit_spend(case.spark_now, **spend_settings())
    spend_duck = fit_spend_ladder(spend_frame(buyers(case.duck_now)), **spend_settings())
    ours, theirs = _valued(case, (now, duck), (spend, spend_duck), CFG, 0.9)
    assert len(ours) >= len(buyers(case.duck_now)) - 1 and (theirs["clv_upper"] > theirs["clv_lower"]).all()
    assert_same_values(ours, theirs)


@pytest.mark.shared_data
def test_value_frame_refuses_the_rows_the_duckdb_path_refuses(cdnow_master):
    """CDNOW customer 10244 has one repeat purchase day worth 0: the Gamma-Gamma predicts nothing for it.

    Both paths refuse it with the same message (on Spark from the executor, wrapped by PySpark).
    """
    from pyspark.errors import PythonException

    case = cdnow_master
    now = buyers(case.duck_now)
    odd = now[((now["frequency"] > 0) & (now["monetary_value"] <= 0)).to_numpy()]
    assert odd["customer_id"].tolist() == ["10244"]
    spend = sm.fit_spend(case.spark_now, **spend_settings())
    purchase = sm.fit_purchase(case.spark_cal, case.spark_now, candidates(), horizon=26.0)[1]
    message = "monetary_value <= 0 with frequency > 0 in 1 row"
    with pytest.raises(SchemaError, match=message):
        _value(purchase, spend, odd, CFG, 0.9)
    rows = sm.buyers(case.spark_now).where("customer_id = '10244'")
    with pytest.raises(PythonException, match=message):
        sm.value_frame(rows, purchase, spend, **_settings(CFG)).toArrow()


def test_value_frame_with_the_fallbacks_a_horizon_and_no_interval(demo):
    failing = {"BG/NBD": lambda: BetaGeo(penalizer_coef=-1.0)}
    shrunk = {**spend_settings(), "degenerate_shape": 1.0001}
    purchase = (
        sm.fit_purchase(demo.spark_cal, demo.spark_now, failing)[1],
        fit_purchase_ladder(buyers(demo.duck_cal), buyers(demo.duck_now), failing)[1],
    )
    spend = (
        sm.fit_spend(demo.spark_now, **shrunk),
        fit_spend_ladder(spend_frame(buyers(demo.duck_now)), **shrunk),
    )
    cfg = RunConfig.model_validate({"run": {"horizon_periods": 52}})
    ours, theirs = _valued(demo, purchase, spend, cfg, None)
    assert (theirs["clv"] == theirs["clv_upper"]).all()
    assert_same_values(ours, theirs)


def test_fitted_models_pickle_for_the_executors(demo):
    """The closure of value_frame carries the fits: they pickle, and predict the same after the round trip."""
    _, now, _ = sm.fit_purchase(demo.spark_cal, demo.spark_now, candidates(), horizon=26.0)
    spend = sm.fit_spend(demo.spark_now, **spend_settings())
    back_now, back_spend = pickle.loads(pickle.dumps((now, spend)))
    frame = buyers(demo.duck_now)
    np.testing.assert_array_equal(
        back_now.model.predict_purchases(frame, 26.0), now.model.predict_purchases(frame, 26.0)
    )
    np.testing.assert_array_equal(
        back_spend.model.predict_spend(spend_frame(frame)), spend.model.predict_spend(spend_frame(frame))
    )


def test_map_frames_applies_a_batch_function_on_every_partition(spark):
    """Rows of every partition once (empty partitions and batches skipped), batches of the Arrow batch size."""
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "7")
    try:
        df = spark.range(0, 50, numPartitions=3).union(spark.range(50, 50, numPartitions=2))
        seen = sm.map_frames(
            df,
            lambda f: pd.DataFrame({"id": f["id"], "twice": 2.0 * f["id"], "rows": len(f)}),
            "id long, twice double, rows long",
        ).toArrow()
    finally:
        spark.conf.unset("spark.sql.execution.arrow.maxRecordsPerBatch")
    out = seen.to_pandas().sort_values("id", ignore_index=True)
    assert out["id"].tolist() == list(range(50)) and (out["twice"] == 2.0 * out["id"]).all()
    assert 1 <= out["rows"].min() and out["rows"].max() == 7


# -- the ladders' weights, without Spark --------------------------------------------------------------------------


def _compressed(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.groupby(keys, sort=False).size().rename("n").reset_index()


def test_ladders_on_rows_compressed_by_pandas_equal_the_per_customer_ladders():
    rng = np.random.default_rng(3)
    sim = BetaGeo.simulate(
        {"r": 0.5, "alpha": 5.0, "a": 0.8, "b": 2.5}, T=rng.integers(10, 40, 3_000).astype(float), rng=rng
    )
    sim["recency"] = np.round(sim["recency"])  # whole periods, so that patterns repeat
    cal = sim.assign(holdout_transactions=rng.poisson(0.5, len(sim)), holdout_duration=20.0)
    keys = ["frequency", "recency", "T"]
    cands = {"BG/NBD": BetaGeo, "Pareto/NBD": ParetoNBD}
    ours = fit_purchase_ladder(
        _compressed(cal, [*keys, "holdout_duration", "holdout_transactions"]),
        _compressed(sim, keys),
        cands,
        weights="n",
    )
    theirs = fit_purchase_ladder(cal, sim, cands)
    assert ours[1].as_dict() == theirs[1].as_dict()
    assert ours[1].model.params_ == theirs[1].model.params_
    assert_same_comparison(ours[2], theirs[2])


def test_ladder_weights_are_checked():
    frame = pd.DataFrame({"frequency": [0.0, 1.0], "recency": [0.0, 1.0], "T": [2.0, 3.0], "n": [1.5, 2.0]})
    failing = {"BG/NBD": lambda: BetaGeo(penalizer_coef=-1.0)}
    with pytest.raises(SchemaError, match="whole numbers of customers"):
        fit_purchase_ladder(frame.iloc[:0], frame, failing, weights="n")
    with pytest.raises(SchemaError, match="missing weights column 'w'"):
        fit_spend_ladder(frame.assign(monetary_value=1.0), weights="w")
    with pytest.raises(SchemaError, match="finite counts"):
        fit_spend_ladder(frame.assign(monetary_value=1.0, n=-1.0), weights="n")
