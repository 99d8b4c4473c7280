r"""Diagnostics and back-testing of fitted purchase models on a calibration/holdout split.

Works with any fitted model exposing ``expected_purchases(t)`` (unconditional :math:`E[X(t)]`, a Series
indexed by ``t``) and ``predict_purchases(data, t)`` (conditional expected purchases in ``(T, T+t]``), i.e.
:class:`~socialvalue.models.btyd.BetaGeo`, :class:`~socialvalue.models.btyd.ModifiedBetaGeo`,
:class:`~socialvalue.models.btyd.ParetoNBD` and :class:`~socialvalue.models.btyd.BetaGeoBetaBinom`; also
with ``expected_transactions(t)`` / ``conditional_expected_transactions(t, frequency, recency, T)``, and with
lifetimes' fitters (``expected_number_of_purchases_up_to_time`` /
``conditional_expected_number_of_purchases_up_to_time``), so a reference implementation can be scored by the
same code.

The calibration frame is the feature table of a split (``as_of`` = end of calibration): one row per customer
with ``frequency``, ``recency``, ``T`` (calibration period) and ``holdout_transactions``, ``holdout_duration``
(same time unit). The checks follow Fader, Hardie & Lee (2005):

* :func:`tracking` — cumulative repeat transactions of the cohort, model vs actual, period by period (their
  fig. 2): the model's curve is :math:`\sum_i E[X(t - t_{0i})]` over customers with first purchase at
  :math:`t_{0i}`.
* :func:`conditional_expectations` — mean holdout transactions, actual vs predicted, by calibration frequency
  :math:`0, 1, \dots, 7+` (their fig. 4).
* :func:`holdout_errors` — per-customer MAE, RMSE, correlation and the aggregate holdout total.
* :func:`information_criteria` — log-likelihood, AIC, BIC.
* :func:`compare_models` — fit every applicable model and rank them on holdout error.

Every function checks its arguments first: a frame where the model belongs (or the reverse), or a spend model
(Gamma-Gamma) where a purchase model belongs, is a :class:`~socialvalue.errors.ConfigError` naming what was
passed and the expected order; an unfitted model is a :class:`~socialvalue.errors.NotFittedError`.

References
----------
.. [1] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy way: an
   alternative to the Pareto/NBD model. *Marketing Science* 24(2), 275-284 (figs. 2-4).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from socialvalue.errors import ConfigError, SchemaError, SocialValueError
from socialvalue.models.btyd._base import BTYDModel
from socialvalue.models.btyd._data import check_table

__all__ = [
    "compare_models",
    "conditional_expectations",
    "cumulative_expected_transactions",
    "holdout_errors",
    "holdout_predictions",
    "information_criteria",
    "tracking",
]

logger = logging.getLogger(__name__)

_METRICS = ("mae", "rmse", "total_error", "neg_corr")
_PURCHASE_MODELS = (
    "a fitted purchase model (BetaGeo, ModifiedBetaGeo, ParetoNBD, BetaGeoBetaBinom, RateModel, ...)"
)
_UNCONDITIONAL = ("expected_purchases", "expected_transactions", "expected_number_of_purchases_up_to_time")
_CONDITIONAL = (
    "predict_purchases",
    "conditional_expected_transactions",
    "conditional_expected_number_of_purchases_up_to_time",
)


def _check_model(model: Any, call: str, interface: tuple[str, ...]) -> None:
    """A fitted model with one of the methods in ``interface``, or a ConfigError naming the likely mistake."""
    kind = type(model).__name__
    if isinstance(model, pd.DataFrame | pd.Series | Mapping | np.ndarray):
        raise ConfigError(f"model must be {_PURCHASE_MODELS}, got a {kind} — the order is {call}")
    if hasattr(model, "predict_spend") and not any(hasattr(model, n) for n in _CONDITIONAL):
        raise ConfigError(
            f"model must be {_PURCHASE_MODELS}, got a {kind}: a spend model, it predicts no purchases ({call})"
        )
    if not any(hasattr(model, n) for n in interface):
        raise ConfigError(f"model must be {_PURCHASE_MODELS} with {interface[0]}(...), got a {kind} ({call})")
    check = getattr(model, "_check_fitted", None)
    if callable(check):
        check()


def _check_frame(frame: Any, call: str, name: str = "frame") -> None:
    if isinstance(frame, pd.DataFrame):
        return
    check_table(frame, name)  # names a model or an array passed here
    raise ConfigError(f"{name} must be a pandas DataFrame, got a {type(frame).__name__} ({call})")


def _unconditional(model: Any, t: np.ndarray) -> np.ndarray:
    """:math:`E[X(t)]` through whichever interface the model has."""
    for name in ("expected_purchases", "expected_transactions", "expected_number_of_purchases_up_to_time"):
        if hasattr(model, name):
            return np.asarray(getattr(model, name)(t), dtype=np.float64).reshape(-1)
    raise ConfigError(f"{type(model).__name__} has no expected_purchases(t)")


def _conditional(model: Any, frame: pd.DataFrame, t: float) -> np.ndarray:
    """Conditional expected purchases in ``(T, T+t]`` through whichever interface the model has."""
    if hasattr(model, "predict_purchases"):
        return np.asarray(model.predict_purchases(frame, t), dtype=np.float64)
    last = "n_periods" if "n_periods" in frame and "T" not in frame else "T"
    cols = (frame["frequency"].to_numpy(), frame["recency"].to_numpy(), frame[last].to_numpy())
    for name in ("conditional_expected_transactions", "conditional_expected_number_of_purchases_up_to_time"):
        if hasattr(model, name):
            return np.asarray(getattr(model, name)(t, *cols), dtype=np.float64).reshape(-1)
    raise ConfigError(f"{type(model).__name__} has no predict_purchases(data, t)")


def cumulative_expected_transactions(model: Any, first_purchase: ArrayLike, times: ArrayLike) -> pd.Series:
    r"""Expected cumulative repeat transactions of a cohort, :math:`\sum_i E[X(\max(t - t_{0i}, 0))]`.

    Parameters
    ----------
    model
        A fitted model with ``expected_purchases(t)``.
    first_purchase
        Each customer's first-purchase time :math:`t_{0i}`, measured from a common origin in the model's time
        unit (e.g. weeks since the cohort's first day). Customers sharing a time are evaluated once.
    times
        Times (same origin and unit) at which to report the cumulative total, e.g. ``np.arange(1, 79)``.

    Returns
    -------
    pandas.Series
        Indexed by ``t``, named ``"model"``.
    """
    _check_model(model, "cumulative_expected_transactions(model, first_purchase, times)", _UNCONDITIONAL)
    t0, counts = np.unique(np.asarray(first_purchase, dtype=np.float64), return_counts=True)
    tt = np.asarray(times, dtype=np.float64).ravel()
    if t0.size == 0:
        return pd.Series(np.zeros(tt.size), index=pd.Index(tt, name="t"), name="model")
    horizon = np.maximum(tt[None, :] - t0[:, None], 0.0)
    uniq, inverse = np.unique(horizon, return_inverse=True)
    expected = _unconditional(model, uniq)
    per_cohort = expected[inverse.reshape(horizon.shape)]
    return pd.Series(counts @ per_cohort, index=pd.Index(tt, name="t"), name="model")


def tracking(
    model: Any, first_purchase: ArrayLike, repeat_times: ArrayLike, times: ArrayLike
) -> pd.DataFrame:
    """Cumulative and per-period repeat transactions, actual vs model (Fader, Hardie & Lee 2005, fig. 2).

    Parameters
    ----------
    model
        A fitted model with ``expected_purchases(t)``.
    first_purchase
        First-purchase times of the cohort's customers (see :func:`cumulative_expected_transactions`).
    repeat_times
        Times of all actual repeat transactions of those customers (same origin and unit), calibration and
        holdout together. Count them the way the model's ``frequency`` was counted (e.g. one per day).
    times
        Period ends at which to compare, e.g. week ends ``np.arange(1, 79)``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``t``: ``actual`` and ``model`` cumulative totals, ``actual_incremental`` and
        ``model_incremental`` per period (the first period counts from time 0).
    """
    _check_model(model, "tracking(model, first_purchase, repeat_times, times)", _UNCONDITIONAL)
    tt = np.asarray(times, dtype=np.float64).ravel()
    if np.any(np.diff(tt) <= 0):
        raise ConfigError("times must be strictly increasing")
    repeats = np.sort(np.asarray(repeat_times, dtype=np.float64))
    out = pd.DataFrame(
        {
            "actual": np.searchsorted(repeats, tt, side="right").astype(np.float64),
            "model": cumulative_expected_transactions(model, first_purchase, tt).to_numpy(),
        },
        index=pd.Index(tt, name="t"),
    )
    out["actual_incremental"] = np.diff(out["actual"].to_numpy(), prepend=0.0)
    out["model_incremental"] = np.diff(out["model"].to_numpy(), prepend=0.0)
    return out


def _durations(frame: pd.DataFrame, duration: str | float) -> np.ndarray:
    if isinstance(duration, str):
        if duration not in frame:
            raise SchemaError(f"missing column {duration!r} (holdout duration)", [{"column": duration}])
        d = np.asarray(frame[duration], dtype=np.float64)
    else:
        d = np.full(len(frame), float(duration))
    if not np.all(np.isfinite(d)) or np.any(d < 0):
        raise SchemaError("holdout durations must be finite and >= 0")
    return d


def _actuals(frame: pd.DataFrame, holdout: str) -> np.ndarray:
    if holdout not in frame:
        raise SchemaError(f"missing column {holdout!r} (holdout transactions)", [{"column": holdout}])
    return np.asarray(frame[holdout], dtype=np.float64)


def holdout_predictions(
    model: Any, frame: pd.DataFrame, duration: str | float = "holdout_duration"
) -> pd.Series:
    """Each customer's expected transactions over their holdout period, ``predict_purchases(row, duration)``.

    ``duration`` is a column name or one number for everybody; customers sharing a duration (normally all of
    them: the holdout ends on one date) are predicted together.
    """
    call = "holdout_predictions(model, frame, duration)"
    _check_model(model, call, _CONDITIONAL)
    _check_frame(frame, call)
    d = _durations(frame, duration)
    out = np.empty(len(frame))
    for value in np.unique(d):
        rows = np.flatnonzero(d == value)
        part = frame.iloc[rows] if rows.size < len(frame) else frame
        out[rows] = _conditional(model, part, float(value))
    return pd.Series(out, index=frame.index, name="predicted")


def conditional_expectations(
    model: Any,
    frame: pd.DataFrame,
    *,
    holdout: str = "holdout_transactions",
    duration: str | float = "holdout_duration",
    max_frequency: int = 7,
) -> pd.DataFrame:
    """Mean holdout transactions by calibration frequency, actual vs model (FHL 2005, fig. 4).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``frequency`` (``"0"``, ``"1"``, ..., ``f"{max_frequency}+"``): ``n_customers``, ``actual``
        and ``model`` (means over the customers in the group).
    """
    call = "conditional_expectations(model, frame, ...)"
    _check_model(model, call, _CONDITIONAL)
    _check_frame(frame, call)
    if max_frequency < 1:
        raise ConfigError(f"max_frequency must be >= 1, got {max_frequency!r}")
    actual = _actuals(frame, holdout)
    pred = holdout_predictions(model, frame, duration).to_numpy()
    bucket = np.minimum(np.asarray(frame["frequency"], dtype=np.int64), max_frequency)
    labels = [str(k) for k in range(max_frequency)] + [f"{max_frequency}+"]
    counts = np.bincount(bucket, minlength=max_frequency + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = pd.DataFrame(
            {
                "n_customers": counts,
                "actual": np.bincount(bucket, weights=actual, minlength=max_frequency + 1) / counts,
                "model": np.bincount(bucket, weights=pred, minlength=max_frequency + 1) / counts,
            },
            index=pd.Index(labels, name="frequency"),
        )
    return out


def holdout_errors(
    model: Any,
    frame: pd.DataFrame,
    *,
    holdout: str = "holdout_transactions",
    duration: str | float = "holdout_duration",
) -> dict[str, float]:
    r"""Per-customer and aggregate holdout accuracy of the conditional forecast.

    Returns
    -------
    dict
        ``mae`` and ``rmse`` of :math:`\hat y_i - y_i`, Pearson ``corr``, ``actual_total``,
        ``predicted_total`` and ``total_error`` = predicted / actual total - 1.
    """
    call = "holdout_errors(model, frame, ...)"
    _check_model(model, call, _CONDITIONAL)
    _check_frame(frame, call)
    actual = _actuals(frame, holdout)
    pred = holdout_predictions(model, frame, duration).to_numpy()
    err = pred - actual
    total = float(actual.sum())
    corr = (
        float(np.corrcoef(pred, actual)[0, 1])
        if actual.size > 1 and actual.std() > 0 and pred.std() > 0
        else np.nan
    )
    return {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "corr": corr,
        "actual_total": total,
        "predicted_total": float(pred.sum()),
        "total_error": float(pred.sum() / total - 1.0) if total > 0 else np.nan,
    }


def information_criteria(model: BTYDModel) -> dict[str, float]:
    r"""Log-likelihood, number of parameters and customers, :math:`AIC = 2k - 2\ell`, :math:`BIC = k\ln n - 2\ell`.

    ``n`` is the (weighted) number of customers the model was fitted on. Compare only models fitted on the same
    data (a BG/BB on period counts and a Pareto/NBD on continuous times have different likelihoods).
    """
    if not isinstance(model, BTYDModel):
        raise ConfigError(
            f"information_criteria needs a fitted socialvalue BTYD model (it reads its log-likelihood), got a "
            f"{type(model).__name__}"
        )
    model._check_fitted()
    ll, k, n = float(model.log_likelihood_), len(model.params_), float(model.n_obs_)
    return {
        "log_likelihood": ll,
        "n_params": k,
        "n_obs": n,
        "aic": 2 * k - 2 * ll,
        "bic": k * np.log(n) - 2 * ll,
    }


def _is_discrete(frame: pd.DataFrame) -> bool:
    """Whole-period data fit for the BG/BB: whole numbers, at most one transaction per period."""
    x = np.asarray(frame["frequency"], dtype=np.float64)
    tx = np.asarray(frame["recency"], dtype=np.float64)
    n = np.asarray(frame["n_periods"] if "n_periods" in frame else frame["T"], dtype=np.float64)
    whole = all(np.array_equal(v, np.rint(v)) for v in (x, tx, n))
    return bool(whole and np.all(x <= tx) and np.all(tx <= n) and np.all((x == 0) == (tx == 0)))


def _default_models(discrete: bool) -> dict[str, BTYDModel]:
    from socialvalue.models.btyd.bgbb import BetaGeoBetaBinom
    from socialvalue.models.btyd.bgnbd import BetaGeo
    from socialvalue.models.btyd.mbgnbd import ModifiedBetaGeo
    from socialvalue.models.btyd.paretonbd import ParetoNBD

    # degenerate fits are reported in the table's "degenerate" column, not warned about
    models: dict[str, BTYDModel] = {
        "BG/NBD": BetaGeo(on_degenerate="ignore"),
        "MBG/NBD": ModifiedBetaGeo(on_degenerate="ignore"),
        "Pareto/NBD": ParetoNBD(on_degenerate="ignore"),
    }
    if discrete:
        models["BG/BB"] = BetaGeoBetaBinom(on_degenerate="ignore")
    return models


def compare_models(
    calibration_frame: pd.DataFrame,
    holdout: str = "holdout_transactions",
    duration: str | float = "holdout_duration",
    models: Mapping[str, BTYDModel] | Sequence[BTYDModel] | None = None,
    *,
    metric: str = "rmse",
    discrete: bool | None = None,
    weights: str | None = None,
) -> pd.DataFrame:
    """Fit every applicable purchase model on the calibration data and rank them on holdout error.

    Parameters
    ----------
    calibration_frame
        Feature table of a calibration/holdout split: ``frequency``, ``recency``, ``T``, the ``holdout``
        column and the ``duration`` column (or a number), optionally ``n_periods`` for the BG/BB.
    holdout
        Column of actual holdout transactions.
    duration
        Column of holdout lengths (model time unit), or one number.
    models
        Unfitted models to compare, by name (a mapping) or as a sequence (named by class). ``None`` compares
        BG/NBD, MBG/NBD and Pareto/NBD, plus the BG/BB when the data are whole periods (``discrete``).
    metric
        Ranking criterion: ``"rmse"``, ``"mae"``, ``"total_error"`` (absolute aggregate error) or
        ``"neg_corr"`` (highest correlation first).
    discrete
        Whether to add the BG/BB; ``None`` detects whole-period data (integer ``frequency <= recency <=
        n_periods``, with ``n_periods`` defaulting to ``T``).
    weights
        Optional column of customer counts (passed to ``fit``; errors are then per row, unweighted).

    Returns
    -------
    pandas.DataFrame
        One row per model, best first: ``rank``, ``n_params``, ``log_likelihood``, ``aic``, ``bic``, ``mae``,
        ``rmse``, ``corr``, ``predicted_total``, ``actual_total``, ``total_error``, ``fit_seconds``, ``error``
        (the message of a model that failed to fit, which is then ranked last) and ``degenerate`` (the model's
        ``degenerate_`` findings joined, or None for a sound fit; such a fit is still ranked). The default
        models record degeneracy without warning; models passed in follow their own ``on_degenerate``. The
        input is not modified.
    """
    _check_frame(
        calibration_frame, "compare_models(calibration_frame, holdout, duration, models)", "calibration_frame"
    )
    if metric not in _METRICS:
        raise ConfigError(f"metric must be one of {list(_METRICS)}, got {metric!r}")
    missing = [c for c in ("frequency", "recency", "T") if c not in calibration_frame]
    if missing:
        raise SchemaError(
            f"missing column(s) {missing} in the calibration frame", [{"column": c} for c in missing]
        )
    _actuals(calibration_frame, holdout)
    if discrete is None:
        discrete = _is_discrete(calibration_frame)
    if models is None:
        candidates = _default_models(discrete)
    elif isinstance(models, Mapping):
        candidates = dict(models)
    elif isinstance(models, BTYDModel | pd.DataFrame | str):
        raise ConfigError(
            f"models must be a mapping of name to model or a sequence of models, got a {type(models).__name__}"
        )
    else:
        candidates = {type(m).__name__: m for m in models}
    for name, model in candidates.items():
        if not (isinstance(model, BTYDModel) and hasattr(model, "predict_purchases")):
            what = "a spend model, it predicts no purchases" if hasattr(model, "predict_spend") else "not one"
            raise ConfigError(
                f"compare_models compares socialvalue purchase models (BetaGeo, ModifiedBetaGeo, ParetoNBD, "
                f"BetaGeoBetaBinom); models[{name!r}] is a {type(model).__name__}: {what}"
            )
    rows = []
    for name, model in candidates.items():
        data = calibration_frame
        if "n_periods" in getattr(model, "_columns", ()) and "n_periods" not in data:
            data = data.assign(n_periods=data["T"])  # a new frame: the caller's is left alone
        row: dict[str, Any] = {"model": name, "error": None, "degenerate": None}
        start = time.perf_counter()
        try:
            model.fit(data, weights=weights)
            row["fit_seconds"] = time.perf_counter() - start
            row["degenerate"] = "; ".join(model.degenerate_) or None
            row.update(information_criteria(model))
            row.update(holdout_errors(model, data, holdout=holdout, duration=duration))
            if not np.isfinite(row["rmse"]):
                row["error"] = f"non-finite holdout predictions at {model.params_} (a boundary solution?)"
        except SocialValueError as exc:  # one failing model must not hide the others
            logger.info("compare_models: %s failed: %s", name, exc)
            row["fit_seconds"] = time.perf_counter() - start
            row["error"] = str(exc)
        rows.append(row)
    out = pd.DataFrame(rows).set_index("model")
    cols = [
        "n_params", "log_likelihood", "aic", "bic", "mae", "rmse", "corr",
        "predicted_total", "actual_total", "total_error", "fit_seconds", "error", "degenerate",
    ]  # fmt: skip
    out = out.reindex(columns=cols)
    score = {
        "mae": out["mae"],
        "rmse": out["rmse"],
        "total_error": out["total_error"].abs(),
        "neg_corr": -out["corr"],
    }[metric].astype(float)
    valid = score.notna().to_numpy()
    rank = np.full(len(out), int(valid.sum()) + 1, dtype=np.int64)  # failed fits share the last place
    rank[valid] = score[valid].rank(method="min").to_numpy().astype(np.int64)
    out.insert(0, "rank", rank)
    return out.sort_values(["rank"], kind="stable")
