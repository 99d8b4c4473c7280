r"""Customer lifetime value from whichever purchase and spend models the ladders settled on.

.. math:: \mathrm{CLV}_i = \text{margin}\times E[Z_i]\times \mathrm{DT}_i

:math:`E[Z_i]` is the spend model's expected order value and :math:`\mathrm{DT}_i` the discounted expected
transactions:

* **lifetime** (``horizon_periods=None``, probabilistic purchase models only): the DERT of Fader, Hardie &
  Lee (2005, eq. 5), continuous discounting at :math:`\delta = \ln(1 + R)/u` per unit over an infinite
  horizon, where :math:`R` is the annual rate and :math:`u` the units per year;
* **a horizon of** :math:`H` **units**: :math:`\sum_{k=1}^{H} (E[Y(k)] - E[Y(k-1)])/(1+d)^k` with
  :math:`d = (1+R)^{1/u} - 1` per unit.

The plain rate model has no dropout, so its value is always taken over a finite horizon (:math:`H`, or one
year when no horizon is set) with :math:`E[Y(k)] - E[Y(k-1)] = E[\lambda_i]`; its interval comes from the
gamma posterior of :math:`\lambda_i`. Intervals of the probabilistic models use the delta method
(:func:`~socialvalue.models.btyd.clv.customer_lifetime_value`); a shrunk mean spend adds no spend uncertainty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from socialvalue.models.btyd.clv import continuous_rate, discounted_purchases, period_rate
from socialvalue.models.btyd.gammagamma import GammaGamma
from socialvalue.models.btyd.ladder import LadderFit, spend_frame
from socialvalue.models.btyd.rate import RateModel

__all__ = ["Valuation", "value_customers"]


@dataclass(frozen=True)
class Valuation:
    """Per-customer values and the words that state how they were computed."""

    frame: pd.DataFrame  # p_alive, expected_transactions, expected_spend, clv, clv_lower, clv_upper
    horizon: str  # e.g. "lifetime (infinite horizon, continuous discounting at 10% a year)"
    horizon_periods: int | None


def _unit_name(unit_days: float, n: float) -> str:
    word = "week" if unit_days == 7 else "day"
    return f"{n:g} {word}{'s' if n != 1 else ''}"


def value_customers(
    purchase: LadderFit,
    spend: LadderFit,
    features: pd.DataFrame,
    *,
    margin: float,
    annual_rate: float,
    unit_days: float,
    horizon_periods: int | None,
    forecast_periods: float,
    interval: float | None = 0.9,
) -> Valuation:
    """P(alive), expected purchases over ``forecast_periods``, expected spend and CLV of each buyer.

    Parameters
    ----------
    purchase, spend
        The ladders' fits (:func:`~socialvalue.models.btyd.ladder.fit_purchase_ladder`, ``fit_spend_ladder``).
    features
        Buyers' features at ``as_of`` (``frequency``, ``recency``, ``T``, ``monetary_value``, ``n_orders``,
        ``mean_spend``).
    margin
        Contribution margin on revenue.
    annual_rate
        Annual discount rate :math:`R`.
    unit_days
        Days per model time unit (7 for weeks).
    horizon_periods
        CLV horizon in units, or None for the whole expected lifetime.
    forecast_periods
        Horizon of ``expected_transactions`` (the churn horizon), in units.
    interval
        Level of the CLV interval; None skips it (``clv_lower`` and ``clv_upper`` then equal ``clv``).
    """
    units_per_year = 365.25 / unit_days
    spend_data = spend_frame(features)
    spend_model = spend.model
    expected_spend = spend_model.predict_spend(spend_data).to_numpy(float)
    model = purchase.model
    p_alive = np.asarray(model.probability_alive(features), dtype=float)
    expected_tx = np.asarray(model.predict_purchases(features, forecast_periods), dtype=float)
    pct = f"{annual_rate:.0%} a year"
    if isinstance(model, RateModel):
        h = horizon_periods or round(units_per_year)
        d = period_rate(annual_rate, units_per_year)
        annuity = float(np.sum((1.0 + d) ** -np.arange(1, h + 1, dtype=float)))
        base = margin * expected_spend * annuity
        if interval is None:
            clv = base * model.expected_rate(features)
            lower = upper = clv
        else:
            est, lo, hi = model.expected_rate(features, interval=interval)
            clv, lower, upper = base * est, base * lo, base * hi
        note = (
            "" if horizon_periods else " (the rate model has no dropout, so one year rather than a lifetime)"
        )
        horizon = f"{_unit_name(unit_days, h)}{note}, discounted at {pct}"
    else:
        if horizon_periods is None:
            kwargs = {"discount_rate": continuous_rate(annual_rate, units_per_year), "method": "continuous"}
            horizon = f"lifetime (infinite horizon, continuous discounting at {pct})"
        else:
            kwargs = {
                "discount_rate": period_rate(annual_rate, units_per_year),
                "method": "discrete",
                "period_length": 1.0,
                "n_periods": int(horizon_periods),
            }
            horizon = f"{_unit_name(unit_days, horizon_periods)}, discounted at {pct}"
        if isinstance(spend_model, GammaGamma):
            out = spend_model.predict_clv(model, features, margin=margin, interval=interval, **kwargs)
        else:
            dert = discounted_purchases(model, features, interval=interval, **kwargs)
            out = (
                dert * (margin * expected_spend)
                if interval is None
                else dert.mul(margin * expected_spend, axis=0)
            )
        if interval is None:
            clv = np.asarray(out, dtype=float)
            lower = upper = clv
        else:
            clv, lower, upper = (out[c].to_numpy(float) for c in ("estimate", "lower", "upper"))
    frame = pd.DataFrame(
        {
            "customer_id": features["customer_id"].to_numpy(),
            "p_alive": p_alive,
            "expected_transactions": expected_tx,
            "expected_spend": expected_spend,
            "clv": clv,
            "clv_lower": lower,
            "clv_upper": upper,
        }
    )
    return Valuation(frame=frame, horizon=horizon, horizon_periods=horizon_periods)
