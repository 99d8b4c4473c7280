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

There is no default ``method``: the two differ a lot (on one shop 35,003 continuous at 0.01 per day over an
infinite horizon against 21,805 for lifetimes' 12 months at 0.01 a month), so the caller says which one.
:func:`lifetimes_clv` is lifetimes' call, argument for argument: ``GammaGammaFitter.customer_lifetime_value(
bgf, frequency, recency, T, monetary_value, time=12, discount_rate=0.01, freq="D")`` is
``lifetimes_clv(bg, gg, data, time=12, discount_rate=0.01, freq="D")``, equal to 1e-8 relative.

Every entry point checks its arguments' types before anything else: a spend model where the transaction
model belongs (the arguments swapped), a lifetimes fitter, or a model where the data belong is a
:class:`~socialvalue.errors.ConfigError` that says which argument goes where; an unfitted model is a
:class:`~socialvalue.errors.NotFittedError`.

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
from socialvalue.models.btyd._data import check_table

__all__ = [
    "LIFETIMES_MONTH",
    "DiscountMethod",
    "continuous_rate",
    "customer_lifetime_value",
    "discounted_purchases",
    "lifetimes_clv",
    "period_rate",
]

DiscountMethod = Literal["continuous", "discrete"]

#: lifetimes 0.11.3's time units per month (``lifetimes.utils._customer_lifetime_value``'s ``factor``).
LIFETIMES_MONTH: dict[str, float] = {"W": 4.345, "M": 1.0, "D": 30.0, "H": 30.0 * 24.0}

_METHOD_REQUIRED = (
    "method is required: 'continuous' (discount_rate per time unit, continuous discounting over an infinite "
    "horizon) or 'discrete' (discount_rate per period, over n_periods periods of period_length time units); "
    "for lifetimes' monthly call (time=12, discount_rate=0.01, freq='D') use "
    "sv.lifetimes_clv(transaction_model, spend_model, data, time=12, discount_rate=0.01, freq='D')"
)
_PURCHASE_MODELS = "a fitted purchase model (BetaGeo, ModifiedBetaGeo, ParetoNBD, BetaGeoBetaBinom, ...)"


def _describe(obj: Any) -> str:
    if obj is None:
        return "None"
    kind = type(obj).__name__
    if type(obj).__module__.split(".")[0] == "lifetimes":
        return f"lifetimes' {kind}"
    return f"a {kind}"


def _is_purchase_model(obj: Any) -> bool:
    return isinstance(obj, BTYDModel) and hasattr(obj, "_expected_purchases_fn") and hasattr(obj, "_dert_fn")


def _is_gamma_gamma(obj: Any) -> bool:
    """A Gamma-Gamma spend model: the one BTYD model with a per-customer spend function (``_spend_fn``).

    Told by its shape, so this module needs no import of :mod:`~socialvalue.models.btyd.gammagamma` (which
    imports this one for :meth:`GammaGamma.predict_clv`).
    """
    return isinstance(obj, BTYDModel) and callable(getattr(type(obj), "_spend_fn", None))


def _is_spend_model(obj: Any) -> bool:
    return _is_gamma_gamma(obj) or hasattr(obj, "predict_spend")


def _check_transaction_model(model: Any, call: str, spend_model: Any = None) -> None:
    """A purchase model, or a ConfigError that names what was passed and the likely mistake."""
    if _is_purchase_model(model):
        return
    msg = f"transaction_model must be {_PURCHASE_MODELS}, got {_describe(model)}"
    if _is_spend_model(model):
        msg += f" — the order is {call}; did you swap them?"
    elif type(model).__module__.split(".")[0] == "lifetimes":
        msg += (
            " — fit socialvalue.models.btyd.BetaGeo (or ParetoNBD, ...) on the same frequency/recency/T: its "
            "estimates equal lifetimes'"
        )
    elif type(model).__name__ == "RateModel":
        msg += (
            " — the plain rate model has no dropout, so no lifetime value; "
            "socialvalue.models.btyd.valuation.value_customers values it over a finite horizon"
        )
    elif isinstance(model, pd.DataFrame | Mapping):
        msg += f" — the data go last: {call}"
    raise ConfigError(msg)


def _check_spend_model(model: Any, call: str) -> None:
    """A GammaGamma or None, or a ConfigError that names what was passed and the likely mistake."""
    if model is None or _is_gamma_gamma(model):
        return
    msg = f"spend_model must be a fitted GammaGamma or None, got {_describe(model)}"
    if _is_purchase_model(model):
        msg += f" — the order is {call}; did you swap them?"
    elif type(model).__module__.split(".")[0] == "lifetimes":
        msg += (
            " — fit socialvalue.models.btyd.GammaGamma on the same frequency/monetary_value (same estimates)"
        )
    elif hasattr(model, "predict_spend"):
        msg += (
            " — multiply discounted_purchases(transaction_model, data, ...) by its predict_spend(...) "
            "(as socialvalue.models.btyd.valuation.value_customers does)"
        )
    elif isinstance(model, pd.DataFrame | Mapping):
        msg += f" — the data go last: {call}"
    raise ConfigError(msg)


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
    if method is None:
        raise ConfigError(_METHOD_REQUIRED)
    if method == "continuous":
        if not (np.isfinite(discount_rate) and discount_rate > 0):
            raise ConfigError(
                f"discount_rate must be a finite number > 0 for method='continuous' (an infinite horizon), "
                f"got {discount_rate!r}"
            )
        if period_length is not None or n_periods is not None:
            raise ConfigError("period_length/n_periods apply to method='discrete' only")
        return model._dert_fn(data, discount_rate)
    if method == "discrete":
        if not (np.isfinite(discount_rate) and discount_rate >= 0):
            raise ConfigError(f"discount_rate must be a finite number >= 0, got {discount_rate!r}")
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
    raise ConfigError(f"method must be 'continuous' or 'discrete', got {method!r}. {_METHOD_REQUIRED}")


def discounted_purchases(
    transaction_model: BTYDModel,
    data: pd.DataFrame | Mapping[str, Any],
    *,
    discount_rate: float,
    method: DiscountMethod | None = None,
    period_length: float | None = None,
    n_periods: int | None = None,
    interval: float | None = None,
    interval_method: IntervalMethod = "delta",
    n_draws: int = 500,
    seed: int | None = 0,
) -> pd.Series | pd.DataFrame:
    """Discounted expected residual transactions per customer (``continuous`` DERT or ``discrete`` sum).

    See the module docstring for both definitions; ``method`` must be given. Returns a Series named ``"dert"``
    indexed like ``data``, or with ``interval`` a DataFrame with ``estimate``, ``lower``, ``upper``.
    """
    _check_transaction_model(transaction_model, "discounted_purchases(transaction_model, data, ...)")
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
    spend_model: BTYDModel | None,
    data: pd.DataFrame | Mapping[str, Any],
    *,
    margin: float = 1.0,
    discount_rate: float,
    method: DiscountMethod | None = None,
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
        ``frequency``, ``recency``, ``T`` (and ``monetary_value``), one row per customer (a DataFrame or a
        mapping of columns). Customers without a purchase yet (those columns empty) are valued as a customer
        whose history starts now.
    margin
        Profit margin applied to spend (e.g. 0.3), or the value per transaction without a spend model.
    discount_rate
        Continuous rate per time unit (``method="continuous"``, see :func:`continuous_rate`) or rate per
        period (``method="discrete"``, see :func:`period_rate`).
    method, period_length, n_periods
        ``method`` is required: ``"continuous"`` or ``"discrete"`` (see the module docstring; a missing method
        is a :class:`~socialvalue.errors.ConfigError` pointing at :func:`lifetimes_clv` for lifetimes' monthly
        call). ``period_length`` is in the data's time unit.
    interval, interval_method, n_draws, seed
        Optional interval level (e.g. 0.9), ``"delta"`` (default, log scale) or ``"bootstrap"``.

    Returns
    -------
    pandas.Series or pandas.DataFrame
        Indexed like ``data``: a Series named ``"clv"``, or columns ``estimate``, ``lower``, ``upper``.

    Raises
    ------
    ConfigError
        Wrong argument types (e.g. the two models swapped), a missing or unknown ``method``, bad rates.
    NotFittedError
        A model that was not fitted.

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: using iso-value curves for
       customer base analysis. *Journal of Marketing Research* 42(4), 415-430.
    """
    call = "customer_lifetime_value(transaction_model, spend_model, data, ...)"
    _check_transaction_model(transaction_model, call, spend_model)
    _check_spend_model(spend_model, call)
    check_table(data)
    transaction_model._check_fitted()
    if spend_model is not None:
        spend_model._check_fitted()
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


def lifetimes_clv(
    transaction_model: BTYDModel,
    spend_model: BTYDModel | None,
    data: pd.DataFrame | Mapping[str, Any],
    time: float = 12,
    discount_rate: float = 0.01,
    freq: str = "D",
    margin: float = 1.0,
    *,
    interval: float | None = None,
    interval_method: IntervalMethod = "delta",
    n_draws: int = 500,
    seed: int | None = 0,
) -> pd.Series | pd.DataFrame:
    r"""CLV as lifetimes' ``GammaGammaFitter.customer_lifetime_value`` computes it, argument for argument.

    lifetimes 0.11.3 (``lifetimes.utils._customer_lifetime_value``) sums, over months :math:`k = 1..K`, the
    expected purchases of month :math:`k` discounted by :math:`(1+d)^k`, a month being :math:`L` time units of
    the data (``freq``: 30 for ``"D"``, 4.345 for ``"W"``, 1 for ``"M"``, 720 for ``"H"``):

    .. math:: \mathrm{CLV}_i = \text{margin}\; E[Z_i]\sum_{k=1}^{K}
              \frac{E[Y_i(kL)] - E[Y_i((k-1)L)]}{(1+d)^k}

    with :math:`K` = ``len(range(1, time + 1))`` months (lifetimes' ``np.arange(1, time + 1)``: ``time=12``
    gives 12, ``time=2.5`` gives 3). This is :func:`customer_lifetime_value` with ``method="discrete"``,
    ``period_length=L`` and ``n_periods=K``, so it is vectorised and intervals are available.

    Parameters
    ----------
    transaction_model
        A fitted purchase model (lifetimes' ``transaction_prediction_model``, e.g. a
        :class:`~socialvalue.models.btyd.BetaGeo` fitted on the same ``frequency``/``recency``/``T``).
    spend_model
        A fitted :class:`~socialvalue.models.btyd.GammaGamma` (its conditional expected spend replaces
        ``monetary_value``, as lifetimes does), or ``None`` to value each purchase at ``margin``.
    data
        ``frequency``, ``recency``, ``T`` and ``monetary_value``, one row per customer, in the unit ``freq``.
    time
        Horizon in months (lifetimes' ``time``).
    discount_rate
        Discount rate per month (lifetimes' ``discount_rate``; 0 allowed).
    freq
        The data's time unit: ``"D"``, ``"W"``, ``"M"`` or ``"H"`` (lifetimes' ``freq``).
    margin
        Profit margin applied to spend (lifetimes has none: 1).
    interval, interval_method, n_draws, seed
        As in :func:`customer_lifetime_value`.

    Returns
    -------
    pandas.Series or pandas.DataFrame
        Indexed like ``data``, named ``"clv"`` (or ``estimate``/``lower``/``upper`` with ``interval``).

    Examples
    --------
    >>> from socialvalue.datasets import cdnow
    >>> from socialvalue.models.btyd import BetaGeo, GammaGamma, lifetimes_clv
    >>> weeks = cdnow.load_summary()
    >>> bg, gg = BetaGeo().fit(weeks), GammaGamma().fit(weeks)
    >>> clv = lifetimes_clv(bg, gg, weeks, time=12, discount_rate=0.01, freq="W")
    >>> round(float(clv.iloc[1]), 2)
    4.64

    References
    ----------
    .. [1] lifetimes 0.11.3, ``GammaGammaFitter.customer_lifetime_value`` and
       ``lifetimes.utils._customer_lifetime_value`` (https://github.com/CamDavidsonPilon/lifetimes).
    """
    call = "lifetimes_clv(transaction_model, spend_model, data, time=12, discount_rate=0.01, freq='D')"
    _check_transaction_model(transaction_model, call, spend_model)
    _check_spend_model(spend_model, call)
    if freq not in LIFETIMES_MONTH:
        raise ConfigError(
            f"freq must be one of {sorted(LIFETIMES_MONTH)} (the data's time unit, as in lifetimes), got {freq!r}"
        )
    try:
        n_periods = len(np.arange(1, float(time) + 1))  # lifetimes' months: np.arange(1, time + 1)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"time must be a number of months > 0, got {time!r}") from exc
    if not (np.isfinite(time) and n_periods >= 1):
        raise ConfigError(f"time must be a number of months > 0, got {time!r}")
    return customer_lifetime_value(
        transaction_model,
        spend_model,
        data,
        margin=margin,
        discount_rate=discount_rate,
        method="discrete",
        period_length=LIFETIMES_MONTH[freq],
        n_periods=n_periods,
        interval=interval,
        interval_method=interval_method,
        n_draws=n_draws,
        seed=seed,
    )


def _bootstrap(
    transaction_model: BTYDModel,
    spend_model: BTYDModel | None,
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
