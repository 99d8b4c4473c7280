r"""Fallback ladders: a purchase model and a spend model for every data set, with the reason for each step.

A run must not abort because one model cannot be fitted. Each ladder tries its rungs in order, records why a
rung was passed over, and stops at the first usable fit:

Purchase models (:func:`fit_purchase_ladder`)
    1. the candidate with the lowest holdout error on the calibration split (:func:`compare_models`),
    2. the next candidates in holdout order (a candidate that could not be fitted on the calibration split
       comes last),
    3. the plain rate model (:class:`~socialvalue.models.btyd.rate.RateModel`), which always fits.

Spend models (:func:`fit_spend_ladder`)
    1. Gamma-Gamma (Fader, Hardie & Lee 2005) with the configured penalizer,
    2. Gamma-Gamma with the fallback penalizer,
    3. each customer's mean order value shrunk towards the population mean
       (:class:`~socialvalue.models.btyd.shrunk_spend.ShrunkMeanSpend`), which always fits when anyone spent.

A fit is *usable* when the optimiser converged to an interior optimum with finite standard errors and finite
predictions, and the model does not find it degenerate (its ``degenerate_``, see
:mod:`socialvalue.models.btyd._base`: a parameter at the bound, a relative standard error above 10, a near-singular
Hessian); a Gamma-Gamma fit whose shape parameters run off to the boundary (``p`` or ``q`` above
``degenerate_shape``: no heterogeneity left to model, as with a fixed-price catalogue; the one definition is
:func:`~socialvalue.models.btyd.gammagamma.gamma_gamma_degeneracy`), or whose population mean spend is far from
the data's (a penalty strong enough to move it), is passed over too. The ladders fit with
``on_degenerate="ignore"``: a degenerate rung is recorded as the reason it was passed over, not warned about.

Compressed rows
---------------
Both ladders also take one row per *pattern* with a column of customer counts (``weights``), as an engine that
aggregates the sufficient statistics hands them over (:mod:`socialvalue.spark.models`: the unique
``(frequency, recency, T)`` triples with their counts, and the holdout columns beside them). The result is the
one the per-customer rows give: the models' ``fit`` collapses rows to unique patterns with summed weights
anyway, the holdout errors are weighted means over the customers (:math:`\mathrm{MAE} = \sum_g n_g
|\hat y_g - y_g| / \sum_g n_g`, and so on), the spend ladder's checks count customers, not rows. The two
fallbacks without weights (the rate model, the shrunk mean) are fitted on the rows repeated by their counts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from socialvalue.errors import SchemaError, SocialValueError
from socialvalue.models.btyd.gammagamma import DEGENERATE_SHAPE
from socialvalue.models.btyd.rate import RateModel
from socialvalue.models.btyd.shrunk_spend import ShrunkMeanSpend

__all__ = ["LadderFit", "Rung", "fit_purchase_ladder", "fit_spend_ladder", "spend_frame"]

logger = logging.getLogger(__name__)

RATE_MODEL = "plain rate model"
SHRUNK_SPEND = "shrunk mean spend"
_RATE = ("frequency", "T")  # RateModel's columns
_SHRUNK = ("n_orders", "mean_order_value")  # ShrunkMeanSpend's columns


@dataclass(frozen=True)
class Rung:
    """One step of a ladder: the model tried, whether it was used, and why (not)."""

    model: str
    used: bool
    reason: str


@dataclass
class LadderFit:
    """The model a ladder settled on and the steps it took."""

    kind: str
    name: str
    model: Any
    rungs: list[Rung] = field(default_factory=list)

    @property
    def fallback(self) -> bool:
        """Whether the ladder had to go past its first rung."""
        return bool(self.rungs) and not self.rungs[0].used

    def summary(self) -> str:
        """One sentence: the model used and, for a fallback, why the earlier rungs were passed over."""
        used = next((r for r in self.rungs if r.used), None)
        why = f" ({used.reason})" if used and used.reason else ""
        if not self.fallback:
            return f"{self.kind} model: {self.name}{why}"
        skipped = "; ".join(f"{r.model}: {r.reason}" for r in self.rungs if not r.used)
        return f"{self.kind} model: fell back to {self.name}{why}; passed over {skipped}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-able record for the run log."""
        return {
            "kind": self.kind,
            "used": self.name,
            "fallback": self.fallback,
            "summary": self.summary(),
            "rungs": [{"model": r.model, "used": r.used, "reason": r.reason} for r in self.rungs],
        }


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.removesuffix("; try a larger penalizer_coef").removesuffix("; try a penalizer_coef > 0")


def _quiet(model: Any) -> Any:
    """The model set to record, not warn about, a degenerate fit (the ladder passes such a rung over)."""
    if hasattr(model, "set_params") and "on_degenerate" in model.get_params():
        model.set_params(on_degenerate="ignore")
    return model


def _degenerate(model: Any) -> str | None:
    found = getattr(model, "degenerate_", None)
    return f"degenerate fit ({'; '.join(found)})" if found else None


def _counts(frame: pd.DataFrame, weights: str | None) -> np.ndarray:
    """Customers each row stands for: the ``weights`` column, or one per row."""
    if weights is None:
        return np.ones(len(frame))
    if weights not in frame:
        raise SchemaError(f"missing weights column {weights!r}", [{"column": weights}])
    w = np.asarray(frame[weights], dtype=np.float64)
    if not (np.all(np.isfinite(w)) and np.all(w >= 0)):
        raise SchemaError(f"weights column {weights!r} must hold finite counts >= 0")
    return w


def _customers(frame: pd.DataFrame, weights: str | None) -> int | float:
    """How many customers ``frame`` holds (its rows, or the sum of its weights: a whole number when it is one)."""
    if weights is None:
        return len(frame)
    total = float(_counts(frame, weights).sum())
    return int(total) if total.is_integer() else total


def _expanded(frame: pd.DataFrame, weights: str | None, columns: tuple[str, ...]) -> pd.DataFrame:
    """``columns`` of ``frame`` with each row repeated by its count (for a model that takes no weights)."""
    if weights is None:
        return frame
    w = _counts(frame, weights)
    if not np.array_equal(w, np.rint(w)):
        raise SchemaError(
            f"weights column {weights!r} must hold whole numbers of customers for the models without weights"
        )
    rows = np.repeat(np.arange(len(frame)), w.astype(np.int64))
    return frame[list(columns)].iloc[rows].reset_index(drop=True)


def _weighted_holdout_errors(
    model: Any, frame: pd.DataFrame, holdout: str, duration: str, weights: str
) -> dict[str, float]:
    r""":func:`~socialvalue.models.btyd.diagnostics.holdout_errors` over the customers the rows stand for.

    With :math:`n_g` customers in row :math:`g`, :math:`e_g = \hat y_g - y_g` and :math:`N = \sum_g n_g`:
    :math:`\mathrm{MAE} = \sum_g n_g |e_g| / N`, :math:`\mathrm{RMSE} = (\sum_g n_g e_g^2 / N)^{1/2}`, the
    totals :math:`\sum_g n_g \hat y_g` and :math:`\sum_g n_g y_g`, and Pearson's correlation with the weighted
    means and (co)variances: each the per-customer value, summed in another order.
    """
    from socialvalue.models.btyd.diagnostics import holdout_predictions

    w = _counts(frame, weights)
    actual = np.asarray(frame[holdout], dtype=np.float64)
    pred = holdout_predictions(model, frame, duration).to_numpy()
    err = pred - actual
    n = float(w.sum())
    total, predicted = float(w @ actual), float(w @ pred)
    dp, da = pred - predicted / n, actual - total / n
    var_p, var_a = float(w @ (dp * dp)), float(w @ (da * da))
    corr = (
        float(np.clip(float(w @ (dp * da)) / np.sqrt(var_p * var_a), -1.0, 1.0))
        if n > 1 and var_p > 0 and var_a > 0
        else np.nan
    )
    return {
        "mae": float(w @ np.abs(err)) / n,
        "rmse": float(np.sqrt(float(w @ (err * err)) / n)),
        "corr": corr,
        "actual_total": total,
        "predicted_total": predicted,
        "total_error": predicted / total - 1.0 if total > 0 else np.nan,
    }


def _weighted_comparison(
    comparison: pd.DataFrame,
    models: Mapping[str, Any],
    calibration: pd.DataFrame,
    *,
    holdout: str,
    duration: str,
    metric: str,
    weights: str,
) -> pd.DataFrame:
    """``compare_models``' table with the holdout errors of the fitted models weighted by customers, re-ranked.

    The ranks follow :func:`~socialvalue.models.btyd.diagnostics.compare_models`: by ``metric`` (smallest
    first; ``total_error`` in absolute value, ``neg_corr`` the highest correlation first), ties in the
    candidates' order, failed fits sharing the last place.
    """
    out = comparison.drop(columns="rank").reindex(list(models))
    for name, model in models.items():
        if pd.isna(out.at[name, "error"]):  # fitted, with finite predictions
            for key, value in _weighted_holdout_errors(
                model, calibration, holdout, duration, weights
            ).items():
                out.at[name, key] = value
    score = {
        "mae": out["mae"],
        "rmse": out["rmse"],
        "total_error": out["total_error"].abs(),
        "neg_corr": -out["corr"],
    }[metric].astype(float)
    valid = score.notna().to_numpy()
    rank = np.full(len(out), int(valid.sum()) + 1, dtype=np.int64)
    rank[valid] = score[valid].rank(method="min").to_numpy().astype(np.int64)
    out.insert(0, "rank", rank)
    return out.sort_values(["rank"], kind="stable")


def _usable_purchase(model: Any, frame: pd.DataFrame, horizon: float) -> str | None:
    """Why a fitted purchase model cannot be used on ``frame`` (None when it can)."""
    degenerate = _degenerate(model)
    if degenerate:
        return degenerate
    pred = np.asarray(model.predict_purchases(frame, horizon), dtype=np.float64)
    alive = np.asarray(model.probability_alive(frame), dtype=np.float64)
    if not (np.all(np.isfinite(pred)) and np.all(np.isfinite(alive))):
        return "non-finite predictions (a boundary solution)"
    se = getattr(model, "se_", None)
    if se is not None and not np.all(np.isfinite(np.asarray(list(dict(se).values()), dtype=float))):
        return "non-finite standard errors"
    return None


def fit_purchase_ladder(
    calibration: pd.DataFrame,
    current: pd.DataFrame,
    candidates: Mapping[str, Callable[[], Any]],
    *,
    holdout: str = "holdout_transactions",
    duration: str = "holdout_duration",
    metric: str = "mae",
    horizon: float = 1.0,
    weights: str | None = None,
) -> tuple[LadderFit, LadderFit, pd.DataFrame | None]:
    """Rank the candidates on the holdout, then fit down the ladder on the calibration and the current data.

    Parameters
    ----------
    calibration
        Buyers' features at the calibration end, with the holdout columns.
    current
        Buyers' features at ``as_of`` (what the chosen model is refitted on and scores).
    candidates
        Model name → factory of an unfitted model, in the preferred order for ties.
    holdout, duration, metric
        Passed to :func:`~socialvalue.models.btyd.diagnostics.compare_models`.
    horizon
        Forecast length (model units) used to check that predictions are finite.
    weights
        Column of customer counts in both frames when their rows are patterns, not customers (see "Compressed
        rows" in the module docstring): the fits, the holdout errors and the ranking are those of the
        customers. ``None``: one row per customer.

    Returns
    -------
    (LadderFit, LadderFit, pandas.DataFrame or None)
        The calibration-period fit, the current fit, and the holdout comparison (None when no candidate
        could be compared: no buyers in the calibration period).

    Raises
    ------
    SchemaError
        If ``current`` has no buyers at all (nothing any purchase model could be fitted on).
    """
    from socialvalue.models.btyd.diagnostics import compare_models

    if len(current) == 0:
        raise SchemaError("no customer has a completed purchase before the scoring date: nothing to model")
    order: list[str] = list(candidates)
    failed_cal: dict[str, str] = {}
    comparison = None
    fitted_cal: dict[str, Any] = {}
    if len(calibration):
        models = {name: _quiet(make()) for name, make in candidates.items()}
        comparison = compare_models(
            calibration, holdout, duration, models=models, metric=metric, weights=weights
        )
        if weights is not None:  # compare_models' errors are per row: make them per customer
            comparison = _weighted_comparison(
                comparison,
                models,
                calibration,
                holdout=holdout,
                duration=duration,
                metric=metric,
                weights=weights,
            )
        errors = {str(n): e for n, e in comparison["error"].items() if isinstance(e, str) and e}
        failed_cal = {
            n: f"could not be fitted on the calibration period ({_short(Exception(e))})"
            for n, e in errors.items()
        }
        for n in comparison.index:  # fitted, but at a degenerate solution: not usable either
            degenerate = None if str(n) in errors else _degenerate(models[str(n)])
            if degenerate:
                errors[str(n)] = degenerate
                failed_cal[str(n)] = f"{degenerate} on the calibration period"
        ok = [str(n) for n in comparison.index if str(n) not in errors]
        order = ok + [n for n in order if n not in ok]
        fitted_cal = {n: models[n] for n in ok}
    else:
        failed_cal = dict.fromkeys(order, "no customer bought in the calibration period")

    # calibration fit: the holdout winner (already fitted), else the rate model
    cal_rungs = [Rung(n, False, failed_cal[n]) for n in order if n in failed_cal]
    if fitted_cal:
        best = order[0]
        cal_fit = LadderFit(
            "purchase",
            best,
            fitted_cal[best],
            [Rung(best, True, f"lowest holdout {metric} of {len(fitted_cal)} fitted models"), *cal_rungs],
        )
    else:
        rate = RateModel().fit(_expanded(calibration if len(calibration) else current, weights, _RATE))
        cal_fit = LadderFit("purchase", RATE_MODEL, rate, [*cal_rungs, Rung(RATE_MODEL, True, "always fits")])

    # current fit: down the same order, each refitted on the current data
    rungs: list[Rung] = []
    for rank, name in enumerate(order):
        if name in failed_cal:
            rungs.append(Rung(name, False, failed_cal[name]))
            continue
        model = _quiet(candidates[name]())
        try:
            model.fit(current, weights=weights)
            problem = _usable_purchase(model, current, horizon)
        except SocialValueError as exc:
            problem = f"could not be fitted on the current data ({_short(exc)})"
        if problem is None:
            why = f"lowest holdout {metric}" if rank == 0 else f"holdout {metric} rank {rank + 1}"
            rungs.append(Rung(name, True, why))
            return cal_fit, LadderFit("purchase", name, model, rungs), comparison
        logger.info("purchase ladder: %s passed over: %s", name, problem)
        rungs.append(Rung(name, False, problem))
    rate = RateModel().fit(_expanded(current, weights, _RATE))
    rungs.append(
        Rung(RATE_MODEL, True, "no probabilistic purchase model could be used; this one always fits")
    )
    return cal_fit, LadderFit("purchase", RATE_MODEL, rate, rungs), comparison


def spend_frame(features: pd.DataFrame) -> pd.DataFrame:
    """The columns the spend ladder reads: ``frequency``, ``monetary_value``, ``n_orders``, ``mean_order_value``."""
    n = pd.to_numeric(features["n_orders"], errors="coerce").fillna(0).to_numpy(float)
    mean = pd.to_numeric(features["mean_spend"], errors="coerce").to_numpy(float)
    return pd.DataFrame(
        {
            "frequency": pd.to_numeric(features["frequency"], errors="coerce").fillna(0).to_numpy(float),
            "monetary_value": pd.to_numeric(features["monetary_value"], errors="coerce")
            .fillna(0)
            .to_numpy(float),
            "n_orders": n,
            "mean_order_value": np.where(np.isfinite(mean) & (mean > 0), mean, np.nan),
        },
        index=features.index,
    )


def _usable_spend(model: Any, repeat: pd.DataFrame, mean_tolerance: float, w: np.ndarray) -> str | None:
    # q <= 1, p or q above degenerate_shape (gamma_gamma_degeneracy) and the generic signs of a degenerate fit
    degenerate = _degenerate(model)
    if degenerate:
        return degenerate
    p, q, v = model.params_["p"], model.params_["q"], model.params_["v"]
    # the model's population mean must match the data's: a penalty strong enough to move it is distorting
    implied = p * v / (q - 1)
    x, z = repeat["frequency"].to_numpy(float), repeat["monetary_value"].to_numpy(float)
    observed = float(np.sum(w * x * z) / np.sum(w * x))
    if not abs(implied / observed - 1) <= mean_tolerance:
        return (
            f"its mean spend per order {implied:,.4g} is far from the data's {observed:,.4g} "
            f"(more than {mean_tolerance:.0%} apart)"
        )
    se = np.asarray(list(model.se_.values()), dtype=float)
    if not np.all(np.isfinite(se)):
        return "non-finite standard errors"
    return None


def fit_spend_ladder(
    frame: pd.DataFrame,
    *,
    penalizer: float = 0.0,
    fallback_penalizer: float = 0.01,
    degenerate_shape: float = DEGENERATE_SHAPE,
    shrinkage_orders: float = 1.0,
    mean_tolerance: float = 0.25,
    weights: str | None = None,
    fallback: pd.DataFrame | Callable[[], pd.DataFrame] | None = None,
) -> LadderFit:
    """Fit a spend model down the ladder (see the module docstring).

    Parameters
    ----------
    frame
        Output of :func:`spend_frame` (one row per buyer).
    penalizer, fallback_penalizer
        ``penalizer_coef`` of the first and second Gamma-Gamma rungs.
    degenerate_shape
        A Gamma-Gamma fit with ``p`` or ``q`` above this is degenerate (the ``GammaGamma`` setting of the same
        name, :func:`~socialvalue.models.btyd.gammagamma.gamma_gamma_degeneracy`).
    shrinkage_orders
        ``default_k`` of the shrunk mean (pseudo-orders at the population mean when it cannot be estimated).
    mean_tolerance
        A Gamma-Gamma fit whose population mean :math:`pv/(q-1)` differs from the repeat buyers' mean order
        value by more than this share is passed over (a penalty that moves the mean distorts every CLV).
    weights
        Column of customer counts when the rows are patterns, not customers (see "Compressed rows" in the
        module docstring); in ``fallback`` too. ``None``: one row per buyer.
    fallback
        The rows the shrunk mean is fitted on (``n_orders``, ``mean_order_value``), or a function returning
        them, called only when that rung is reached (so an engine aggregates them only then). ``None``:
        ``frame``, which then needs those columns.

    Raises
    ------
    SchemaError
        If nobody has a positive order value (no spend model can say anything).
    """
    from socialvalue.models.btyd.gammagamma import GammaGamma

    repeat = frame[(frame["frequency"] > 0) & (frame["monetary_value"] > 0)]
    w = _counts(repeat, weights)
    n_repeat = _customers(repeat, weights)
    rungs: list[Rung] = []
    tries = [("Gamma-Gamma", penalizer)]
    if fallback_penalizer != penalizer:
        tries.append((f"Gamma-Gamma with penalizer {fallback_penalizer:g}", fallback_penalizer))
    for name, coef in tries:
        if n_repeat < 2:
            rungs.append(Rung(name, False, f"{n_repeat:g} repeat buyer(s): too few to fit"))
            continue
        model = GammaGamma(penalizer_coef=coef, degenerate_shape=degenerate_shape, on_degenerate="ignore")
        try:
            model.fit(repeat, weights=weights)
            problem = _usable_spend(model, repeat, mean_tolerance, w)
        except SocialValueError as exc:
            problem = f"did not fit ({_short(exc)})"
        if problem is None:
            rungs.append(Rung(name, True, f"fitted on {n_repeat:,} repeat buyers"))
            return LadderFit("spend", name, model, rungs)
        logger.info("spend ladder: %s passed over: %s", name, problem)
        rungs.append(Rung(name, False, problem))
    rows = frame if fallback is None else fallback() if callable(fallback) else fallback
    model = ShrunkMeanSpend(default_k=shrinkage_orders).fit(_expanded(rows, weights, _SHRUNK))
    k = model.params_["k"]
    how = "every customer gets the population mean" if np.isinf(k) else f"{k:.3g} pseudo-orders of shrinkage"
    rungs.append(Rung(SHRUNK_SPEND, True, f"mean order value {model.params_['mean']:,.2f}; {how}"))
    return LadderFit("spend", SHRUNK_SPEND, model, rungs)
