"""The CLV stage: purchase and spend models, each customer's value, and the purchase forecast's holdout contest.

Fitting (a run): the purchase ladder ranks the candidate models on the holdout and fits the chosen one on the
calibration period and at ``as_of``; the spend ladder settles on a spend model at ``as_of`` (and on the
calibration period, for the calibration CLV the social value learns from); the purchase model's holdout
forecast competes with the analyst's baselines (:func:`socialvalue.pipeline.champions.contest`).

Applying (a run, and a scoring with stored models): P(alive), expected purchases over the next holdout and CLV
of every buyer from the purchase and spend models (:func:`~socialvalue.models.btyd.valuation.value_customers`);
when a baseline won the contest, its forecast is the published expected purchases. Scoring passes the stored
models and champion and runs only this part.

On Spark (``native``, :class:`~socialvalue.pipeline.spark_run.SparkNative`) the ladders are fitted on the
sufficient statistics Spark aggregates, and the values are computed by ``mapInPandas`` where the features are;
the same models and the same numbers come back to this process.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from socialvalue.pipeline.config import RunConfig
from socialvalue.pipeline.runner import StageSpec

__all__ = ["PURCHASE_BASELINES", "SPEC", "UNIT_DAYS", "buyers", "clv_stage"]

#: The feature columns the stage reads (the runner asks the engine for no others) and what it writes.
SPEC = StageSpec(
    "clv",
    features=(
        "T",
        "frequency",
        "recency",
        "monetary_value",
        "n_periods",
        "mean_spend",
        "n_orders",
        "n_orders_365d",
    ),
    holdout=("holdout_duration", "holdout_transactions"),
    writes=("clv",),
)


UNIT_DAYS = {"W": 7.0, "D": 1.0}


def buyers(feats: pd.DataFrame) -> pd.DataFrame:
    """The rows of customers with a purchase (the BTYD models' customers)."""
    return feats.loc[feats["frequency"].notna().to_numpy()].reset_index(drop=True)


def _repeat_times(
    engine: Any, calibration_end: pd.Timestamp, end: pd.Timestamp, unit_days: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """First-purchase and repeat-purchase times (unit, from the cohort's first day) of the calibration cohort.

    The engine (or a store's DuckDB engine) counts first purchases and repeat days per day
    (:func:`socialvalue.features.tracking.repeat_days_query`); the times are those days repeated by their
    counts: floats, never a row per purchase.
    """
    from socialvalue.features.tracking import repeat_days_query
    from socialvalue.pipeline.preflight import engine_of

    days = engine_of(engine).table(repeat_days_query(calibration_end, end))
    if not days.num_rows:
        return np.zeros(0), np.zeros(0), 0.0
    day_s = days.column("day_s").to_numpy()
    n_first = days.column("n_first").to_numpy()
    origin = day_s[n_first > 0].min()
    scale = unit_days * 86400.0
    t = (day_s - origin) / scale
    first_t = np.repeat(t, n_first)
    repeat_t = np.repeat(t, days.column("n_repeat").to_numpy())
    return first_t, repeat_t, (calibration_end.timestamp() - origin) / scale


def _spend_ladder(frame: pd.DataFrame, cfg: RunConfig, native: Any = None, at: Any = None) -> Any:
    from socialvalue.models.btyd.ladder import fit_spend_ladder, spend_frame

    m = cfg.models
    settings = {
        "penalizer": m.spend_penalizer,
        "fallback_penalizer": m.spend_fallback_penalizer,
        "degenerate_shape": m.degenerate_shape,
        "shrinkage_orders": m.shrinkage_orders,
    }
    if native is not None:
        return native.spend_ladder(frame, at=at, **settings)
    return fit_spend_ladder(spend_frame(frame), **settings)


def _value(
    purchase: Any,
    spend: Any,
    frame: pd.DataFrame,
    cfg: RunConfig,
    interval: float | None,
    native: Any = None,
    at: Any = None,
) -> Any:
    """The buyers' values (:func:`~socialvalue.models.btyd.valuation.value_customers`), ``batch_rows`` at a time.

    With ``native``: computed where the features of date ``at`` are (Spark's ``mapInPandas``), ``frame``'s rows.
    """
    from socialvalue.models.btyd.valuation import Valuation, value_customers
    from socialvalue.pipeline.batches import map_batches

    settings = {
        "margin": cfg.run.margin,
        "annual_rate": cfg.run.annual_discount_rate,
        "unit_days": UNIT_DAYS[cfg.run.unit],
        "horizon_periods": cfg.run.horizon_periods,
        "forecast_periods": float(cfg.run.holdout_periods),
        "interval": interval,
    }
    if native is not None:
        return native.value(purchase, spend, frame, at=at, **settings)
    last: list[Valuation] = []

    def value(batch: pd.DataFrame) -> pd.DataFrame:
        last[:] = [value_customers(purchase, spend, batch, **settings)]
        return last[0].frame

    values = map_batches(frame, value, rows=cfg.run.batch_rows)
    return Valuation(frame=values, horizon=last[0].horizon, horizon_periods=last[0].horizon_periods)


def _fit(
    engine: Any,
    feats_cal: pd.DataFrame,
    now: pd.DataFrame,
    cfg: RunConfig,
    cal_end: pd.Timestamp,
    as_of: pd.Timestamp,
    native: Any = None,
) -> dict[str, Any]:
    """Fit both ladders and hold the purchase contest; the diagnostics of every step."""
    from socialvalue.models.btyd import BetaGeo, ModifiedBetaGeo, ParetoNBD
    from socialvalue.models.btyd.diagnostics import conditional_expectations, tracking
    from socialvalue.models.btyd.ladder import fit_purchase_ladder

    unit = cfg.run.unit
    unit_days = UNIT_DAYS[unit]
    m = cfg.models
    classes = {"BG/NBD": BetaGeo, "MBG/NBD": ModifiedBetaGeo, "Pareto/NBD": ParetoNBD}
    candidates = {
        name: (lambda cls=classes[name]: cls(penalizer_coef=m.purchase_penalizer))
        for name in m.purchase_models
    }
    buyers_cal = feats_cal[feats_cal["frequency"].notna()].reset_index(drop=True)
    settings = {"metric": cfg.run.model_metric, "horizon": float(cfg.run.holdout_periods)}
    if native is not None:
        ladder = native.purchase_ladder(buyers_cal, now, candidates, at=(cal_end, as_of), **settings)
    else:
        ladder = fit_purchase_ladder(buyers_cal, now, candidates, **settings)
    cal_fit, now_fit, comparison = ladder
    spend_fit = _spend_ladder(now, cfg, native, as_of)
    # CLV at the calibration end, for the referred customers' value inside the learned social value
    clv_cal = pd.Series(dtype=float, name="clv")
    cond = None
    spend_cal = None
    if len(buyers_cal):
        spend_cal = _spend_ladder(buyers_cal, cfg, native, cal_end)
        # a learning input: no interval needed
        cal_val = _value(cal_fit, spend_cal, buyers_cal, cfg, None, native, cal_end)
        clv_cal = pd.Series(
            cal_val.frame["clv"].to_numpy(), index=buyers_cal["customer_id"].to_numpy(), name="clv"
        )
        cond = conditional_expectations(cal_fit.model, buyers_cal)
    first_t, repeat_t, split = _repeat_times(engine, cal_end, as_of, unit_days)
    n_periods = int(np.floor(split + cfg.run.holdout_periods))
    track = tracking(cal_fit.model, first_t, repeat_t, np.arange(1, max(n_periods, 1) + 1, dtype=float))
    metric = cfg.run.model_metric
    words = "weeks" if unit == "W" else "days"
    if comparison is not None:
        table = comparison[
            ["rank", "log_likelihood", "aic", "bic", "mae", "rmse", "corr", "predicted_total", "actual_total"]
        ]
        records = table.reset_index().rename(columns={"index": "model"}).round(4).to_dict("records")
    else:
        records = []
    if now_fit.fallback:
        why = now_fit.summary()
    else:
        why = (
            f"lowest holdout {metric} of {len(records)} models fitted on the calibration period "
            f"(ending {cal_end.date()}, {cfg.run.holdout_periods} {words} of holdout)"
        )
    diag = {
        "chosen": now_fit.name,
        "why": why,
        "comparison": records,
        "params": {k: float(v) for k, v in now_fit.model.params_.items()},
        "spend_model": spend_fit.name,
        "spend_params": {k: float(v) for k, v in spend_fit.model.params_.items()},
        "ladders": {"purchase": now_fit.as_dict(), "spend": spend_fit.as_dict()},
        "tracking": {
            "period": track.index.tolist(),
            "actual": track["actual"].tolist(),
            "model": track["model"].tolist(),
        },
        "split_period": split,
        "conditional": None
        if cond is None
        else {
            "frequency": [str(i) for i in cond.index],
            "actual": cond["actual"].tolist(),
            "model": cond["model"].tolist(),
        },
    }
    contest_ = _purchase_contest(cal_fit, buyers_cal, now_fit.name, unit_days, cfg)
    if contest_ is not None:
        diag["champion"] = contest_.as_dict()
    return {
        "purchase": now_fit,
        "spend": spend_fit,
        "champion": contest_.champion if contest_ is not None else now_fit.name,
        "clv_cal": clv_cal,
        "diag": diag,
        "models": {
            "purchase": now_fit.model,
            "purchase_calibration": cal_fit.model,
            "spend": spend_fit.model,
            "spend_calibration": None if spend_cal is None else spend_cal.model,
        },
    }


def _stored(fitted: Any) -> dict[str, Any]:
    """The stored run's purchase and spend models and champion, and its CLV diagnostics (carried)."""
    from socialvalue.models.btyd.ladder import LadderFit

    ch = fitted.choices
    diag = dict(fitted.diagnostics.get("btyd") or {})
    return {
        "purchase": LadderFit("purchase", ch.purchase_model, fitted.purchase),
        "spend": LadderFit("spend", ch.spend_model, fitted.spend),
        "champion": ch.purchase_champion,
        "clv_cal": pd.Series(dtype=float, name="clv"),
        "diag": diag,
        "models": {},
    }


def clv_stage(
    engine: Any,
    feats_cal: pd.DataFrame | None,
    feats: pd.DataFrame,
    cfg: RunConfig,
    cal_end: pd.Timestamp,
    as_of: pd.Timestamp,
    fitted: Any = None,
    *,
    native: Any = None,
) -> dict[str, Any]:
    """P(alive), expected purchases and CLV of every buyer at ``as_of``.

    Parameters
    ----------
    engine, feats_cal, feats, cfg, cal_end, as_of
        The engine (or a store), the feature tables at the calibration end (with the holdout) and at
        ``as_of``, the run configuration and the two dates. ``feats_cal`` is unused (may be None) with
        ``fitted``.
    fitted
        Stored :class:`~socialvalue.pipeline.fitted.FittedModels`: their purchase and spend models and
        champion are applied, nothing is fitted. None: fit them.
    native
        The Spark run's :class:`~socialvalue.pipeline.spark_run.SparkNative`: statistics and values computed
        in Spark. None: on this process.

    Returns
    -------
    dict
        ``frame`` (customer_id, p_alive, expected_transactions, clv, clv_lower, clv_upper of the buyers),
        ``clv_cal`` (CLV at the calibration end by customer id; empty with ``fitted``), ``diag`` (the run
        record's ``btyd`` entry), ``champion`` (the purchase contest's winner), ``purchase_name`` and
        ``spend_name`` (the ladders' rungs), ``cal_model`` and ``models`` (role -> model fitted here; empty
        with ``fitted``).
    """
    now = buyers(feats)
    if fitted is not None:
        learned = _stored(fitted)
    else:
        learned = _fit(engine, feats_cal, now, cfg, cal_end, as_of, native)
    valuation = _value(learned["purchase"], learned["spend"], now, cfg, 0.9, native, as_of)
    out = valuation.frame.drop(columns=["expected_spend"])
    champion = learned["champion"]
    if champion in PURCHASE_BASELINES:  # the baseline's forecast is what the run publishes
        out["expected_transactions"] = PURCHASE_BASELINES[champion](
            now, float(cfg.run.holdout_periods), UNIT_DAYS[cfg.run.unit]
        )
    diag = learned["diag"]
    diag["clv_horizon"] = valuation.horizon
    return {
        "frame": out,
        "clv_cal": learned["clv_cal"],
        "diag": diag,
        "champion": champion,
        "purchase_name": learned["purchase"].name,
        "spend_name": learned["spend"].name,
        "cal_model": learned["models"].get("purchase_calibration"),
        "models": learned["models"],
    }


def _recent_rate(frame: pd.DataFrame, periods: float, unit_days: float) -> np.ndarray:
    """Purchases of the last 365 days, extrapolated over ``periods`` units."""
    n = pd.to_numeric(frame.get("n_orders_365d", 0), errors="coerce")
    return np.nan_to_num(np.asarray(n, dtype=float)) * periods * unit_days / 365.0


def _lifetime_rate(frame: pd.DataFrame, periods: float, unit_days: float) -> np.ndarray:
    """Repeat purchases per unit since the first purchase (frequency / T), over ``periods`` units."""
    x = np.asarray(pd.to_numeric(frame["frequency"], errors="coerce"), dtype=float)
    t = np.asarray(pd.to_numeric(frame["T"], errors="coerce"), dtype=float)
    rate = np.divide(x, t, out=np.zeros_like(x), where=t > 0)
    return np.nan_to_num(rate) * periods


#: Baselines of next-period purchases an analyst would use, by the name the run log and report show.
PURCHASE_BASELINES = {
    "purchases in the last 365 days, extrapolated": _recent_rate,
    "repeat purchases per period to date (frequency / T)": _lifetime_rate,
}


def _purchase_contest(
    cal_fit: Any, buyers_cal: pd.DataFrame, name: str, unit_days: float, cfg: RunConfig
) -> Any:
    """The purchase model against the baselines on the holdout (None without calibration buyers)."""
    from socialvalue.models.btyd.diagnostics import holdout_predictions
    from socialvalue.pipeline.champions import Candidate, contest

    if len(buyers_cal) < 2 or "holdout_transactions" not in buyers_cal:
        return None
    duration = np.asarray(buyers_cal["holdout_duration"], dtype=float)
    cands = {
        cal_fit.name: Candidate(
            "model", holdout_predictions(cal_fit.model, buyers_cal, "holdout_duration").to_numpy(), True
        )
    }
    for label, fn in PURCHASE_BASELINES.items():
        cands[label] = Candidate("baseline", fn(buyers_cal, 1.0, unit_days) * duration, True)
    words = "weeks" if cfg.run.unit == "W" else "days"
    return contest(
        "next-period purchases",
        cands,
        np.nan_to_num(np.asarray(buyers_cal["holdout_transactions"], dtype=float)),
        outcome=f"purchases in the {cfg.run.holdout_periods}-{words[:-1]} holdout",
    )
