r"""Customer lifetime value from a transaction model and a spend model: DERT, discounting and intervals.

.. math:: \mathrm{CLV}_i = \text{margin} \times E[Z_i] \times \mathrm{DERT}_i

with :math:`E[Z_i]` the expected spend per transaction (Gamma-Gamma conditional mean, or 1 without a spend
model) and the discounted expected residual transactions computed one of two ways:

``method="continuous"``
    :math:`\mathrm{DERT} = \int_0^\infty e^{-\delta t}\, dE[Y(t)\mid x, t_x, T]`, continuous discounting
    at rate :math:`\delta` per time unit over an infinite horizon (Fader, Hardie & Lee 2005, "RFM and CLV",
    eq. 5); each transaction model supplies it (closed form or quadrature, see its ``predict_dert``).
``method="discrete"``
    :math:`\sum_{k=1}^{K} \big(E[Y(kL)] - E[Y((k-1)L)]\big) / (1+d)^k`: the expected purchases of each period
    of length :math:`L` (``period_length``, in the data's time unit — there is no hidden 30-day month)
    discounted at rate :math:`d` per period, for ``n_periods`` periods. With ``period_length=30`` on daily data
    this is lifetimes' ``customer_lifetime_value(..., freq="D")`` (which fixes ``L`` at 30 days per "month").

Intervals (``interval=0.9``) treat the two models' parameters as independent (they are fitted separately):
the delta method adds their log-scale variances, :math:`\mathrm{Var}\ln\mathrm{CLV} = \mathrm{Var}\ln
\mathrm{DERT} + \mathrm{Var}\ln E[Z]`; the parametric bootstrap draws both parameter vectors
``n_draws`` times and takes percentiles (memory and time grow as ``n_draws`` x customers: use the delta
method for millions of customers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd

from socialvalue.errors import ConfigError
from socialvalue.models.btyd._base import BTYDModel, IntervalMethod, _bounds_from_var, _check_level
from socialvalue.models.btyd.gammagamma import GammaGamma

__all__ = [
    "DiscountMethod",
    "continuous_rate",
    "customer_lifetime_value",
    "discounted_purchases",
    "period_rate",
]

DiscountMethod = Literal["continuous", "discrete"]

_CHUNK_CELLS = 4_000_000  # bootstrap: draws x customers evaluated at once


def continuous_rate(annual_rate: float, units_per_year: float) -> float:
    r"""Continuously compounded rate per time unit equivalent to an annual rate.

    .. math:: \delta = \ln(1 + \text{annual\_rate}) / \text{units\_per\_year}

    E.g. 15% a year on weekly data: ``continuous_rate(0.15, 52)`` = 0.00269 (Fader, Hardie & Lee 2005 use
    0.0027 a week).
    """
    if not (annual_rate > -1 and units_per_year > 0):
        raise ConfigError("annual_rate must be > -1 and units_per_year > 0")
    return float(np.log1p(annual_rate) / units_per_year)


def period_rate(annual_rate: float, periods_per_year: float) -> float:
    """Discrete rate per period equivalent to an annual rate: :math:`(1 + R)^{1/m} - 1`."""
    if not (annual_rate > -1 and periods_per_year > 0):
        raise ConfigError("annual_rate must be > -1 and periods_per_year > 0")
    return float(np.expm1(np.log1p(annual_rate) / periods_per_year))


def _transaction_fn(
    model: BTYDModel,
    data: pd.DataFrame | Mapping[str, Any],
    discount_rate: float,
    method: DiscountMethod,
    period_length: float | None,
    n_periods: int | None,
) -> tuple[Callable[[np.ndarray], np.ndarray], np.ndarray | None]:
    if not (np.isfinite(discount_rate) and discount_rate > 0):
        raise ConfigError(f"discount_rate must be a finite number > 0, got {discount_rate!r}")
    if method == "continuous":
        if period_length is not None or n_periods is not None:
            raise ConfigError("period_length/n_periods apply to method='discrete' only")
        return model._dert_fn(data, discount_rate)
    if method == "discrete":
        if period_length is None or n_periods is None:
            raise ConfigError("method='discrete' needs period_length (in the data's time unit) and n_periods")
        if not (period_length > 0) or int(n_periods) != n_periods or n_periods < 1:
            raise ConfigError("period_length must be > 0 and n_periods a whole number >= 1")
        k = np.arange(int(n_periods) + 1, dtype=np.float64)
        factors = (1.0 + discount_rate) ** -k[1:]
        fn_cum, inverse = model._expected_purchases_fn(data, k * period_length)

        def fn(params: np.ndarray) -> np.ndarray:
            # Cumulative expectations -> per-period increments, each discounted to today.
            return np.einsum("ij,j->i", np.diff(fn_cum(params), axis=1), factors)

        return fn, inverse
    raise ConfigError(f"method must be 'continuous' or 'discrete', got {method!r}")


def discounted_purchases(
    transaction_model: BTYDModel,
    data: pd.DataFrame | Mapping[str, Any],
    *,
    discount_rate: float,
    method: DiscountMethod = "continuous",
    period_length: float | None = None,
    n_periods: int | None = None,
    interval: float | None = None,
    interval_method: IntervalMethod = "delta",
    n_draws: int = 500,
    seed: int | None = 0,
) -> pd.Series | pd.DataFrame:
    """Discounted expected residual transactions per customer (``continuous`` DERT or ``discrete`` sum).

    See the module docstring for both definitions. Returns a Series named ``"dert"`` indexed like ``data``,
    or with ``interval`` a DataFrame with ``estimate``, ``lower``, ``upper``.
    """
    return customer_lifetime_value(
        transaction_model,
        None,
        data,
        margin=1.0,
        discount_rate=discount_rate,
        method=method,
        period_length=period_length,
        n_periods=n_periods,
        interval=interval,
        interval_method=interval_method,
        n_draws=n_draws,
        seed=seed,
        _name="dert",
    )


def customer_lifetime_value(
    transaction_model: BTYDModel,
    spend_model: GammaGamma | None,
    data: pd.DataFrame | Mapping[str, Any],
    *,
    margin: float = 1.0,
    discount_rate: float,
    method: DiscountMethod = "continuous",
    period_length: float | None = None,
    n_periods: int | None = None,
    interval: float | None = None,
    interval_method: IntervalMethod = "delta",
    n_draws: int = 500,
    seed: int | None = 0,
    _name: str = "clv",
) -> pd.Series | pd.DataFrame:
    r"""Customer lifetime value: margin x expected spend per transaction x discounted expected transactions.

    .. math:: \mathrm{CLV}_i = \text{margin}\; E[Z_i\mid x_i, \bar z_i]\; \mathrm{DERT}_i

    Parameters
    ----------
    transaction_model
        A fitted purchase model (BG/NBD, MBG/NBD, Pareto/NBD...).
    spend_model
        A fitted :class:`~socialvalue.models.btyd.gammagamma.GammaGamma` (``data`` then needs
        ``monetary_value``), or ``None`` to value each transaction at ``margin``.
    data
        ``frequency``, ``recency``, ``T`` (and ``monetary_value``), one row per customer.
    margin
        Profit margin applied to spend (e.g. 0.3), or the value per transaction without a spend model.
    discount_rate
        Continuous rate per time unit (``method="continuous"``, see :func:`continuous_rate`) or rate per
        period (``method="discrete"``, see :func:`period_rate`).
    method, period_length, n_periods
        See the module docstring. ``period_length`` is in the data's time unit.
    interval, interval_method, n_draws, seed
        Optional interval level (e.g. 0.9), ``"delta"`` (default, log scale) or ``"bootstrap"``.

    Returns
    -------
    pandas.Series or pandas.DataFrame
        Indexed like ``data``: a Series named ``"clv"``, or columns ``estimate``, ``lower``, ``upper``.

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: using iso-value curves for
       customer base analysis. *Journal of Marketing Research* 42(4), 415-430.
    """
    transaction_model._check_fitted()
    if not np.isfinite(margin):
        raise ConfigError(f"margin must be finite, got {margin!r}")
    fn_tx, inverse = _transaction_fn(transaction_model, data, discount_rate, method, period_length, n_periods)
    index = transaction_model._columns_of(data, transaction_model._columns)[1]
    take = (lambda v: v) if inverse is None else (lambda v: v[..., inverse])
    if spend_model is not None:
        spend_model._check_fitted()
        fn_sp, _, _ = spend_model._spend_fn(data)
    attrs = {"level": interval, "method": interval_method, "discount": method}
    if interval is None:
        value = take(fn_tx(transaction_model._theta))
        value *= margin
        if spend_model is not None:
            value *= fn_sp(spend_model._theta)
        return BTYDModel._output(value, index, _name)
    _check_level(interval)
    if interval_method == "delta":
        est_tx, var_tx = transaction_model._delta_var(fn_tx, "log")
        est, var = take(est_tx) * margin, take(var_tx)
        if spend_model is not None:
            est_sp, var_sp = spend_model._delta_var(fn_sp, "log")
            est, var = est * est_sp, var + var_sp
        lo, hi = _bounds_from_var(est, var, interval, "log")
        if margin < 0:
            lo, hi = hi, lo
        return BTYDModel._output(est, index, _name, lo, hi, attrs)
    if interval_method == "bootstrap":
        return _bootstrap(
            transaction_model,
            spend_model,
            data,
            fn_tx,
            take,
            margin,
            interval,
            int(n_draws),
            seed,
            index,
            _name,
            attrs,
        )
    raise ConfigError(f"interval method must be 'delta' or 'bootstrap', got {interval_method!r}")


def _bootstrap(
    transaction_model: BTYDModel,
    spend_model: GammaGamma | None,
    data: pd.DataFrame | Mapping[str, Any],
    fn_tx: Callable[[np.ndarray], np.ndarray],
    take: Callable[[np.ndarray], np.ndarray],
    margin: float,
    level: float,
    n_draws: int,
    seed: int | None,
    index: pd.Index,
    name: str,
    attrs: dict[str, Any],
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    draws_tx = transaction_model._draw_params(n_draws, rng)
    tx = np.stack([fn_tx(p) for p in draws_tx])  # (n_draws, n_unique)
    est = take(fn_tx(transaction_model._theta)) * margin
    if spend_model is not None:
        draws_sp = spend_model._draw_params(n_draws, rng)
        cols = spend_model._columns_of(data, spend_model._columns)[0]
        x = cols["frequency"]
        m = np.where(x > 0, cols["monetary_value"], 0.0)
        est = est * spend_model._conditional_mean(spend_model._theta, x, m)
    n = est.shape[0]
    lo, hi = np.empty(n), np.empty(n)
    qs = [0.5 - level / 2, 0.5 + level / 2]
    step = max(1, _CHUNK_CELLS // max(n_draws, 1))
    positions = take(np.arange(tx.shape[1]))  # customer -> column of tx
    for start in range(0, n, step):  # chunks of customers bound memory at _CHUNK_CELLS values
        sl = slice(start, min(start + step, n))
        sims = tx[:, positions[sl]]
        if spend_model is not None:
            sims = sims * spend_model._conditional_mean(draws_sp[:, None, :], x[sl], m[sl])
        lo[sl], hi[sl] = np.nanquantile(sims * margin, qs, axis=0)
    if margin < 0:
        lo, hi = hi, lo
    return BTYDModel._output(est, index, name, lo, hi, attrs)
