"""Fallback ladders: a purchase model and a spend model for every data set, with the reason for each step.

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
        comparison = compare_models(calibration, holdout, duration, models=models, metric=metric)
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
        rate = RateModel().fit(calibration) if len(calibration) else RateModel().fit(current)
        cal_fit = LadderFit("purchase", RATE_MODEL, rate, [*cal_rungs, Rung(RATE_MODEL, True, "always fits")])

    # current fit: down the same order, each refitted on the current data
    rungs: list[Rung] = []
    for rank, name in enumerate(order):
        if name in failed_cal:
            rungs.append(Rung(name, False, failed_cal[name]))
            continue
        model = _quiet(candidates[name]())
        try:
            model.fit(current)
            problem = _usable_purchase(model, current, horizon)
        except SocialValueError as exc:
            problem = f"could not be fitted on the current data ({_short(exc)})"
        if problem is None:
            why = f"lowest holdout {metric}" if rank == 0 else f"holdout {metric} rank {rank + 1}"
            rungs.append(Rung(name, True, why))
            return cal_fit, LadderFit("purchase", name, model, rungs), comparison
        logger.info("purchase ladder: %s passed over: %s", name, problem)
        rungs.append(Rung(name, False, problem))
    rate = RateModel().fit(current)
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


def _usable_spend(model: Any, repeat: pd.DataFrame, mean_tolerance: float) -> str | None:
    # q <= 1, p or q above degenerate_shape (gamma_gamma_degeneracy) and the generic signs of a degenerate fit
    degenerate = _degenerate(model)
    if degenerate:
        return degenerate
    p, q, v = model.params_["p"], model.params_["q"], model.params_["v"]
    # the model's population mean must match the data's: a penalty strong enough to move it is distorting
    implied = p * v / (q - 1)
    x, z = repeat["frequency"].to_numpy(float), repeat["monetary_value"].to_numpy(float)
    observed = float(np.sum(x * z) / np.sum(x))
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

    Raises
    ------
    SchemaError
        If nobody has a positive order value (no spend model can say anything).
    """
    from socialvalue.models.btyd.gammagamma import GammaGamma

    repeat = frame[(frame["frequency"] > 0) & (frame["monetary_value"] > 0)]
    rungs: list[Rung] = []
    tries = [("Gamma-Gamma", penalizer)]
    if fallback_penalizer != penalizer:
        tries.append((f"Gamma-Gamma with penalizer {fallback_penalizer:g}", fallback_penalizer))
    for name, coef in tries:
        if len(repeat) < 2:
            rungs.append(Rung(name, False, f"{len(repeat)} repeat buyer(s): too few to fit"))
            continue
        model = GammaGamma(penalizer_coef=coef, degenerate_shape=degenerate_shape, on_degenerate="ignore")
        try:
            model.fit(repeat)
            problem = _usable_spend(model, repeat, mean_tolerance)
        except SocialValueError as exc:
            problem = f"did not fit ({_short(exc)})"
        if problem is None:
            rungs.append(Rung(name, True, f"fitted on {len(repeat):,} repeat buyers"))
            return LadderFit("spend", name, model, rungs)
        logger.info("spend ladder: %s passed over: %s", name, problem)
        rungs.append(Rung(name, False, problem))
    model = ShrunkMeanSpend(default_k=shrinkage_orders).fit(frame)
    k = model.params_["k"]
    how = "every customer gets the population mean" if np.isinf(k) else f"{k:.3g} pseudo-orders of shrinkage"
    rungs.append(Rung(SHRUNK_SPEND, True, f"mean order value {model.params_['mean']:,.2f}; {how}"))
    return LadderFit("spend", SHRUNK_SPEND, model, rungs)
