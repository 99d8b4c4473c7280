r"""Customer influence value (CIV): purchases by others attributable to a customer's content, shares and reviews.

Kumar et al. (2010, 2013) value a customer's influence by the extra purchases other customers make after
being exposed to what that customer says. Here an *exposure* is a row ``(influencer_id, exposed_id,
exposed_at)``: the exposed customer saw the influencer's post, review or share (built from interactions,
content and follower ties by :mod:`socialvalue.features.social_inputs`). A purchase by ``y`` at :math:`t` is
*in a window* of influencer ``i`` when ``y`` was exposed to ``i`` at :math:`e` with :math:`e < t \le e + W`.

Only the purchases **above the exposed customer's baseline** count. With :math:`R^{in}_y, D^{in}_y` the
revenue and days of ``y`` inside the union of their exposure windows and :math:`R^{out}_y, D^{out}_y` those
outside (within the observation period), the baseline revenue rate is shrunk towards the pooled rate of all
exposed customers with a prior of :math:`m` days,

.. math::

    \lambda_y = \frac{R^{out}_y + m \lambda_0}{D^{out}_y + m}, \qquad
    \lambda_0 = \frac{\sum_y R^{out}_y}{\sum_y D^{out}_y},

    X_y = \max(0,\; R^{in}_y - \lambda_y D^{in}_y), \qquad
    \mathrm{CIV}_i = \mu \sum_y X_y \frac{C_{iy}}{R^{in}_y},

where :math:`C_{iy}` is the in-window revenue of ``y`` credited to ``i`` (split evenly among the influencers
whose windows cover a purchase, or all to the last exposure) and :math:`\mu` the margin.

Double counting is avoided by construction: a customer's own purchases are never in their CIV (self-exposures
are dropped, the customer's own CLV is a separate component), and customers who were *referred* are left to
the referral value (referral first), so nobody's purchases are counted in both CRV and CIV.

References
----------
.. [1] Kumar, V., Aksoy, L., Donkers, B., Venkatesan, R., Wiesel, T., & Tillmanns, S. (2010). Undervalued or
   overvalued customers: capturing total customer engagement value. *Journal of Service Research*, 13(3),
   297-310.
.. [2] Kumar, V., Bhaskaran, V., Mirchandani, R., & Shah, M. (2013). Creating a measurable social media
   marketing strategy: increasing the value and ROI of intangibles and tangibles for Hokey Pokey.
   *Marketing Science*, 32(2), 194-212.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from socialvalue.config import ConfigModel
from socialvalue.errors import SchemaError

__all__ = ["InfluenceConfig", "influence_value"]

logger = logging.getLogger(__name__)

_DAY = pd.Timedelta(days=1)


class InfluenceConfig(ConfigModel):
    r"""Parameters of the customer influence value.

    Attributes
    ----------
    window_days
        Length :math:`W` of the attribution window after an exposure, in days.
    margin
        Contribution margin :math:`\mu` applied to the attributed excess revenue.
    attribution
        ``"even"`` splits a purchase among every influencer whose window covers it; ``"last_touch"`` gives it
        to the most recent exposure.
    baseline_prior_days
        Prior weight :math:`m` (days) pulling a customer's baseline rate towards the pooled rate; 0 uses the
        customer's own out-of-window rate only.
    """

    window_days: float = Field(default=30.0, gt=0)
    margin: float = Field(default=0.3, gt=0, le=1)
    attribution: Literal["even", "last_touch"] = "even"
    baseline_prior_days: float = Field(default=90.0, ge=0)


def _require(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"{name} frame lacks column(s) {', '.join(missing)}; has {', '.join(frame.columns)}"
        )


def _days(ts: pd.Series, as_of: pd.Timestamp) -> np.ndarray:
    """Timestamps as float days relative to ``as_of`` (negative in the past)."""
    return ((ts - as_of) / _DAY).to_numpy(float)


def _window_coverage(cust: np.ndarray, start: np.ndarray, end: np.ndarray) -> pd.Series:
    """Total length of the union of intervals ``[start, end)`` per customer, vectorized.

    Intervals sorted by start open a new block when they start after every earlier interval of the customer
    has ended; a block covers ``[first start, max end)``.
    """
    iv = pd.DataFrame({"c": cust, "s": start, "e": end}).sort_values(["c", "s"], kind="stable")
    prev_end = iv.groupby("c", sort=False)["e"].cummax().groupby(iv["c"], sort=False).shift()
    block = (prev_end.isna() | (iv["s"] > prev_end)).cumsum()
    blocks = iv.groupby(block, sort=False).agg(c=("c", "first"), s=("s", "min"), e=("e", "max"))
    return (blocks["e"] - blocks["s"]).groupby(blocks["c"], sort=False).sum()


def influence_value(
    exposures: pd.DataFrame,
    purchases: pd.DataFrame,
    as_of: pd.Timestamp | str,
    *,
    start: pd.Timestamp | str,
    referrals: pd.DataFrame | None = None,
    observed_from: pd.Series | None = None,
    config: InfluenceConfig | None = None,
) -> pd.DataFrame:
    """Customer influence value of every influencer over ``(start, as_of]``.

    Parameters
    ----------
    exposures
        ``influencer_id``, ``exposed_id``, ``exposed_at``: who saw whose content, share or review, when.
    purchases
        ``customer_id``, ``ordered_at``, ``amount`` (net revenue) of the exposed customers (others are ignored).
    as_of
        End of the observation period (purchases after it are not seen).
    start
        Start of the observation period: baselines and windows are measured inside ``(start, as_of]``.
    referrals
        Optional ``referred_id`` and ``referred_at``: customers referred on or before ``as_of`` are valued by
        the referral value and left out here (referral first).
    observed_from
        Optional per-customer start of observation (e.g. sign-up), indexed by customer id; a customer's
        period is ``(max(start, observed_from), as_of]``.
    config
        Window, margin, attribution rule and baseline prior; defaults to :class:`InfluenceConfig`.

    Returns
    -------
    pandas.DataFrame
        One row per influencer (``customer_id``) with ``n_exposed`` (distinct customers exposed),
        ``n_influenced`` (distinct customers with credited purchases), ``window_revenue`` (credited in-window
        revenue, gross), ``excess_revenue`` (above baseline) and ``civ`` (margin on the excess).

    Notes
    -----
    Formulas in the module docstring. Everything is vectorized: an as-of merge for last-touch attribution, a
    sorted merge for even attribution and a cumulative-max interval union for the window coverage.
    """
    cfg = config or InfluenceConfig()
    _require(exposures, ("influencer_id", "exposed_id", "exposed_at"), "exposures")
    _require(purchases, ("customer_id", "ordered_at", "amount"), "purchases")
    as_of, start = pd.Timestamp(as_of), pd.Timestamp(start)
    if start >= as_of:
        raise SchemaError(f"start ({start}) must be before as_of ({as_of})")
    w = float(cfg.window_days)
    lo_all = _days(pd.Series([start]), as_of)[0]

    # Canonical row order first: the sums below add floats in row order, and the rows arrive in whatever order
    # the database's threads produced them; sorted, the same data gives bit-identical values in every run.
    exp = exposures.loc[
        (exposures["influencer_id"] != exposures["exposed_id"]) & (exposures["exposed_at"] < as_of),
        ["influencer_id", "exposed_id", "exposed_at"],
    ].sort_values(["exposed_id", "exposed_at", "influencer_id"], kind="stable")
    if referrals is not None:
        _require(referrals, ("referred_id", "referred_at"), "referrals")
        referred = referrals.loc[referrals["referred_at"] <= as_of, "referred_id"].unique()
        exp = exp.loc[~exp["exposed_id"].isin(referred)]
    exp = pd.DataFrame(
        {
            "i": exp["influencer_id"].to_numpy(),
            "c": exp["exposed_id"].to_numpy(),
            "e": _days(exp["exposed_at"], as_of),
        }
    )
    exp = exp.loc[exp["e"] + w > lo_all]
    exposed = pd.Index(exp["c"].unique())

    # Per-customer observation start (days relative to as_of).
    lo = pd.Series(lo_all, index=exposed)
    if observed_from is not None:
        obs = _days(observed_from.reindex(exposed), as_of)
        lo = pd.Series(np.fmax(lo.to_numpy(), np.where(np.isnan(obs), lo_all, obs)), index=exposed)
    period = (-lo).clip(lower=0.0)

    pur = purchases.loc[
        purchases["customer_id"].isin(exposed), ["customer_id", "ordered_at", "amount"]
    ].sort_values(["customer_id", "ordered_at", "amount"], kind="stable")
    pur = pd.DataFrame(
        {
            "c": pur["customer_id"].to_numpy(),
            "t": _days(pur["ordered_at"], as_of),
            "a": pur["amount"].to_numpy(float),
        }
    )
    pur = pur.loc[(pur["t"] <= 0.0) & (pur["t"] > pur["c"].map(lo).to_numpy(float))].reset_index(drop=True)
    pur["pid"] = np.arange(len(pur))

    # Credit of each purchase to the influencers whose windows (e, e + W] cover it.
    if cfg.attribution == "last_touch":
        m = pd.merge_asof(
            pur.sort_values("t"),
            exp.sort_values("e"),
            left_on="t",
            right_on="e",
            by="c",
            direction="backward",
            allow_exact_matches=False,
            tolerance=w,
        ).dropna(subset=["i"])
        credit = m.assign(credit=m["a"])[["pid", "c", "i", "a", "credit"]]
    else:
        m = pur.merge(exp, on="c", how="inner")
        m = m.loc[(m["e"] < m["t"]) & (m["t"] <= m["e"] + w), ["pid", "c", "i", "a"]]
        m = m.drop_duplicates(["pid", "i"])
        credit = m.assign(credit=m["a"] / m.groupby("pid")["i"].transform("size"))

    # Baseline: revenue and days outside the union of windows, shrunk towards the pooled rate.
    cust_lo = exp["c"].map(lo).to_numpy(float)
    s = np.clip(exp["e"].to_numpy(), cust_lo, 0.0)
    e = np.clip(exp["e"].to_numpy() + w, cust_lo, 0.0)
    keep = e > s
    d_in = _window_coverage(exp["c"].to_numpy()[keep], s[keep], e[keep]).reindex(exposed, fill_value=0.0)
    r_total = pur.groupby("c")["a"].sum().reindex(exposed, fill_value=0.0)
    r_in = credit.drop_duplicates("pid").groupby("c")["a"].sum().reindex(exposed, fill_value=0.0)
    r_out = r_total - r_in
    d_out = (period - d_in).clip(lower=0.0)
    pooled = float(r_out.sum() / d_out.sum()) if d_out.sum() > 0 else 0.0
    prior = float(cfg.baseline_prior_days)
    denom = d_out + prior
    lam = ((r_out + prior * pooled) / denom.where(denom > 0)).fillna(pooled)
    excess = (r_in - lam * d_in).clip(lower=0.0)
    factor = (excess / r_in.where(r_in > 0)).fillna(0.0)

    credit = credit.assign(excess=credit["credit"] * credit["c"].map(factor).to_numpy(float))
    by_inf = credit.groupby("i").agg(
        n_influenced=("c", "nunique"), window_revenue=("credit", "sum"), excess_revenue=("excess", "sum")
    )
    out = exp.groupby("i").agg(n_exposed=("c", "nunique")).join(by_inf, how="left")
    out = out.fillna({"n_influenced": 0, "window_revenue": 0.0, "excess_revenue": 0.0})
    out["n_influenced"] = out["n_influenced"].astype("int64")
    # returns are negative purchases: net them out, but an influencer never creates negative value
    out["excess_revenue"] = out["excess_revenue"].clip(lower=0.0)
    out["civ"] = cfg.margin * out["excess_revenue"]
    logger.debug(
        "CIV: %d influencers, %d exposed customers, pooled baseline %.4f per day",
        len(out),
        len(exposed),
        pooled,
    )
    out = out.rename_axis("customer_id").reset_index().sort_values("customer_id", kind="stable")
    return out[
        ["customer_id", "n_exposed", "n_influenced", "window_revenue", "excess_revenue", "civ"]
    ].reset_index(drop=True)
