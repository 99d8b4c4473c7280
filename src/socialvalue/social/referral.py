r"""Customer referral value (CRV): what the customers a customer brought in are worth to the firm.

Kumar, Petersen & Leone (2007, 2010) value a referrer by the customers they acquired for the firm, counting a
referred customer at their margin only when they would **not** have joined anyway (a *type-one* referral) and
only at the acquisition cost the firm saved when they would have (a *type-two* referral). This module is pure
pandas/numpy: it takes frames (built from the store by :mod:`socialvalue.pipeline.social_inputs`) and returns
one row per referrer.

Each referred customer ``y`` of referrer ``i``, referred at :math:`t_y`, is valued **at the referral date**
(the moment of acquisition), with a yearly discount rate :math:`r` and time :math:`\tau` in years:

.. math::

    V_y = m \sum_{o \in O_y,\, t_y \le t_o \le \text{as\_of}} A_o (1 + r)^{-(t_o - t_y)}
          + m\, \mathrm{CLV}_y (1 + r)^{-(\text{as\_of} - t_y)}

    \mathrm{CRV}_i = \sum_{y \in R_i} \Big[ p\,(V_y - a - M + \mathrm{ACQ})
                      + (1 - p)\,(\mathrm{ACQ} - \mathbb{1}_{\text{charge}}\, a) \Big]

where :math:`A_o` is the amount of order :math:`o`, :math:`m` the margin, :math:`\mathrm{CLV}_y` the predicted
(revenue) value of ``y`` from ``as_of`` on, :math:`p` the share of referrals that would not have come anyway,
:math:`a` the referral incentive, :math:`M` the retention cost of a type-one customer and
:math:`\mathrm{ACQ}` the acquisition cost saved. As in the paper, the incentive is charged to type-one
referrals only unless ``charge_incentive_on_type_two`` is set.

References
----------
.. [1] Kumar, V., Petersen, J. A., & Leone, R. P. (2007). How valuable is word of mouth? *Harvard Business
   Review*, 85(10), 139-146.
.. [2] Kumar, V., Petersen, J. A., & Leone, R. P. (2010). Driving profitability by encouraging customer
   referrals: who, when, and how. *Journal of Marketing*, 74(5), 1-17 (CRV, eq. 1).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from socialvalue.config import ConfigModel
from socialvalue.errors import ConfigError, SchemaError

__all__ = ["ReferralConfig", "TypeOneShareEstimate", "estimate_type_one_share", "referral_value"]

logger = logging.getLogger(__name__)

_DAYS_PER_YEAR = 365.25


class ReferralConfig(ConfigModel):
    """Parameters of the customer referral value.

    Attributes
    ----------
    margin
        Contribution margin as a share of revenue (applied to realized revenue and to predicted CLV).
    discount_rate
        Yearly discount rate :math:`r`.
    incentive
        Referral incentive paid per referral (currency).
    acquisition_cost
        Acquisition cost the firm saves per referred customer (currency).
    retention_cost
        Marketing cost of retaining a type-one referred customer, present value (currency).
    type_one_share
        Share of referred customers who would *not* have joined without the referral, or ``"estimate"`` to
        estimate it with :func:`estimate_type_one_share` from referred and organic sign-ups.
    charge_incentive_on_type_two
        Also net the incentive for type-two referrals (the paper does not).
    """

    margin: float = Field(default=0.3, gt=0, le=1)
    discount_rate: float = Field(default=0.10, ge=0, lt=1)
    incentive: float = Field(default=0.0, ge=0)
    acquisition_cost: float = Field(default=0.0, ge=0)
    retention_cost: float = Field(default=0.0, ge=0)
    type_one_share: float | Literal["estimate"] = 1.0
    charge_incentive_on_type_two: bool = False

    @field_validator("type_one_share")
    @classmethod
    def _share_in_unit_interval(cls, v: float | str) -> float | str:
        if not isinstance(v, str) and not 0.0 <= v <= 1.0:
            raise ValueError(f"must lie in [0, 1] or be 'estimate'; got {v}")
        return v


@dataclass(frozen=True)
class TypeOneShareEstimate:
    """Result of :func:`estimate_type_one_share`.

    Attributes
    ----------
    share
        Estimated share of referrals that would not have come anyway, clipped to [0, 1].
    slope
        Coefficient of referred sign-ups in the regression of organic sign-ups per period (-1 means every
        referral displaced an organic sign-up).
    std_error
        Standard error of ``slope``.
    n_periods
        Periods used.
    """

    share: float
    slope: float
    std_error: float
    n_periods: int


def _require(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"{name} frame lacks column(s) {', '.join(missing)}; has {', '.join(frame.columns)}"
        )


def estimate_type_one_share(
    signups: pd.DataFrame, *, period: Literal["D", "W", "M"] = "W"
) -> TypeOneShareEstimate:
    r"""Estimate the share of referrals that would not have come anyway, by displacement of organic sign-ups.

    If referred customers would have joined anyway (type two), every extra referral in a period displaces an
    organic sign-up. Regressing organic sign-ups per period on referred sign-ups per period and a linear trend,

    .. math::

        N^{\text{org}}_t = \alpha + \beta N^{\text{ref}}_t + \gamma t + \varepsilon_t,
        \qquad \hat p = \min(1, \max(0, 1 + \hat\beta)),

    :math:`-\hat\beta` is the share displaced (type two) and :math:`\hat p` the type-one share. It needs
    variation in referral volume across periods (e.g. referral campaigns); without it the standard error is
    large and the result should not be trusted.

    Parameters
    ----------
    signups
        One row per customer with ``signup_at`` (timestamp) and ``referred`` (bool).
    period
        Period length for the counts: day, week or month.

    Returns
    -------
    TypeOneShareEstimate
        The clipped share with the slope and its standard error.

    References
    ----------
    .. [1] Kumar, V., Petersen, J. A., & Leone, R. P. (2010). Driving profitability by encouraging customer
       referrals: who, when, and how. *Journal of Marketing*, 74(5), 1-17 (type-one and type-two referrals).
    """
    _require(signups, ("signup_at", "referred"), "signups")
    s = signups.loc[signups["signup_at"].notna(), ["signup_at", "referred"]]
    freq = {"D": "D", "W": "W", "M": "M"}[period]
    per = s["signup_at"].dt.to_period(freq)
    counts = pd.crosstab(per, s["referred"].astype(bool))
    full = pd.period_range(per.min(), per.max(), freq=freq) if len(per) else pd.PeriodIndex([], freq=freq)
    counts = counts.reindex(index=full, columns=[False, True], fill_value=0)
    n = len(counts)
    if n < 4:
        raise SchemaError(f"need sign-ups in at least 4 periods to estimate the type-one share; got {n}")
    y = counts[False].to_numpy(float)
    x = np.column_stack([np.ones(n), counts[True].to_numpy(float), np.arange(n, dtype=float)])
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    dof = max(n - 3, 1)
    cov = (resid @ resid / dof) * np.linalg.pinv(x.T @ x)
    slope, se = float(coef[1]), float(np.sqrt(max(cov[1, 1], 0.0)))
    share = float(np.clip(1.0 + slope, 0.0, 1.0))
    logger.info(
        "type-one referral share estimated at %.3f (slope %.3f, se %.3f, %d periods)", share, slope, se, n
    )
    return TypeOneShareEstimate(share=share, slope=slope, std_error=se, n_periods=n)


def referral_value(
    referrals: pd.DataFrame,
    orders: pd.DataFrame,
    as_of: pd.Timestamp | str,
    *,
    clv: pd.Series | None = None,
    signups: pd.DataFrame | None = None,
    config: ReferralConfig | None = None,
) -> pd.DataFrame:
    """Customer referral value of every referrer, as of ``as_of``.

    Parameters
    ----------
    referrals
        One row per referred customer: ``referrer_id``, ``referred_id``, ``referred_at`` (timestamp).
        Referrals after ``as_of`` are ignored.
    orders
        Orders of (at least) the referred customers: ``customer_id``, ``ordered_at``, ``amount`` (net revenue,
        refunds negative). Orders before the referral or after ``as_of`` are ignored.
    as_of
        Valuation date.
    clv
        Predicted revenue value of each referred customer from ``as_of`` on (present value at ``as_of``),
        indexed by customer id, e.g. a Gamma-Gamma CLV with margin 1. Missing customers count 0.
    signups
        ``signup_at`` and ``referred`` per customer; needed when ``config.type_one_share == "estimate"``.
    config
        Margin, discount rate, incentive, costs and type-one share; defaults to :class:`ReferralConfig`.

    Returns
    -------
    pandas.DataFrame
        One row per referrer (``customer_id``) with ``n_referrals``, ``referred_revenue`` (realized,
        undiscounted), ``referred_margin_pv``, ``referred_clv_pv`` (margin, valued at the referral dates),
        ``type_one_share`` and ``crv``.

    Notes
    -----
    The formula is in the module docstring (Kumar, Petersen & Leone 2010, eq. 1, with :math:`t` counted from
    each referral). Referred customers are valued at their acquisition date, so an old referral is not
    inflated by compounding its past margin.
    """
    cfg = config or ReferralConfig()
    _require(referrals, ("referrer_id", "referred_id", "referred_at"), "referrals")
    _require(orders, ("customer_id", "ordered_at", "amount"), "orders")
    as_of = pd.Timestamp(as_of)

    if cfg.type_one_share == "estimate":
        if signups is None:
            raise ConfigError("type_one_share='estimate' needs a signups frame (signup_at, referred)")
        p = estimate_type_one_share(signups).share
    else:
        p = float(cfg.type_one_share)

    ref = referrals[["referrer_id", "referred_id", "referred_at"]].astype({"referred_at": "datetime64[ns]"})
    ref = ref.loc[ref["referred_at"] <= as_of]
    # One referrer per referred customer (the earliest), so nobody is counted twice.
    ref = ref.sort_values("referred_at", kind="stable").drop_duplicates("referred_id", keep="first")
    ref = ref.reset_index(drop=True)
    disc = 1.0 + cfg.discount_rate

    o = orders[["customer_id", "ordered_at", "amount"]].astype({"ordered_at": "datetime64[ns]"})
    o = o.loc[o["ordered_at"] <= as_of]
    m = ref.merge(o, left_on="referred_id", right_on="customer_id", how="inner")
    m = m.loc[m["ordered_at"] >= m["referred_at"]]
    years = (m["ordered_at"] - m["referred_at"]).dt.total_seconds().to_numpy() / (86400 * _DAYS_PER_YEAR)
    amount = m["amount"].to_numpy(float)
    per_ref = (
        pd.DataFrame({"referred_id": m["referred_id"].to_numpy(), "rev": amount, "pv": amount * disc**-years})
        .groupby("referred_id", sort=False)
        .sum()
    )
    ref["revenue"] = ref["referred_id"].map(per_ref["rev"]).fillna(0.0).to_numpy(float)
    ref["margin_pv"] = cfg.margin * ref["referred_id"].map(per_ref["pv"]).fillna(0.0).to_numpy(float)
    if clv is not None:
        clv_years = (as_of - ref["referred_at"]).dt.total_seconds().to_numpy() / (86400 * _DAYS_PER_YEAR)
        clv_y = ref["referred_id"].map(clv.astype(float)).fillna(0.0).to_numpy(float)
        ref["clv_pv"] = cfg.margin * clv_y * disc**-clv_years
    else:
        ref["clv_pv"] = 0.0

    value = ref["margin_pv"] + ref["clv_pv"]
    type_two_incentive = cfg.incentive if cfg.charge_incentive_on_type_two else 0.0
    ref["crv"] = p * (value - cfg.incentive - cfg.retention_cost + cfg.acquisition_cost) + (1.0 - p) * (
        cfg.acquisition_cost - type_two_incentive
    )
    out = ref.groupby("referrer_id", sort=True).agg(
        n_referrals=("referred_id", "size"),
        referred_revenue=("revenue", "sum"),
        referred_margin_pv=("margin_pv", "sum"),
        referred_clv_pv=("clv_pv", "sum"),
        crv=("crv", "sum"),
    )
    out["type_one_share"] = p
    out = out.rename_axis("customer_id").reset_index()
    return out[
        [
            "customer_id",
            "n_referrals",
            "referred_revenue",
            "referred_margin_pv",
            "referred_clv_pv",
            "type_one_share",
            "crv",
        ]
    ]
