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

    \lambda_y = \max\!\left(0, \frac{R^{out}_y + m \lambda_0}{D^{out}_y + m}\right), \qquad
    \lambda_0 = \max\!\left(0, \frac{\sum_y R^{out}_y}{\sum_y D^{out}_y}\right),

    X_y = \max(0,\; R^{in}_y - \lambda_y D^{in}_y), \qquad
    \mathrm{CIV}_i = \mu \sum_y X_y \frac{C_{iy}}{R^{in}_y},

where :math:`C_{iy}` is the in-window revenue of ``y`` credited to ``i`` and :math:`\mu` the margin.

**Attribution rule and the cap.** A purchase :math:`p` of amount :math:`a_p` covered by the windows of the
influencers :math:`I_p` is split in shares :math:`s_{ip}` with :math:`\sum_{i \in I_p} s_{ip} = 1`:
:math:`s_{ip} = 1/|I_p|` (``even``, distinct influencers) or :math:`s_{ip} = 1` for the most recent exposure
only (``last_touch``). Influencer ``i`` is credited :math:`s_{ip} a_p` of revenue and

.. math::

    \mathrm{civ}_{ip} = \mu\, f_y\, s_{ip}\, a_p, \qquad f_y = X_y / R^{in}_y \in [0, 1],

so for every purchase :math:`\sum_i \mathrm{civ}_{ip} \le \mu a_p \le a_p`: the influence value credited to
all influencers of one purchase never exceeds the purchase, and a customer's CIV never exceeds the value of
the purchases credited to them (:math:`\mathrm{CIV}_i \le \sum_p s_{ip} a_p`, the ``credited_value``; both
are checked on every call and by a property test). :func:`influence_credits` returns the rows
:math:`(i, y, p, s_{ip}, s_{ip} a_p, \mathrm{civ}_{ip})` that add up to each CIV, and
:func:`influence_contributors` the few largest per influencer.

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
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from socialvalue.config import ConfigModel
from socialvalue.errors import SchemaError

__all__ = [
    "InfluenceConfig",
    "cap_influence_value",
    "influence_contributors",
    "influence_credits",
    "influence_value",
]

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


@dataclass(frozen=True)
class _Attribution:
    """The credit rows of one CIV computation and what the aggregation needs beside them."""

    credit: pd.DataFrame  # pid, c, i, a, share, credit, excess, civ
    purchases: pd.DataFrame  # pid, c, t, a, order_id, ordered_at
    exposures: pd.DataFrame  # i, c, e
    n_exposed_customers: int
    pooled: float


def _check_cap(credit: pd.DataFrame) -> None:
    """Check the attribution rule on the credit rows.

    The shares of one purchase sum to at most 1, so its credit to all influencers sums to at most its value,
    and each row's CIV is at most the margin on the revenue it credits.
    """
    if credit.empty:
        return
    total = credit.groupby("pid")["share"].sum()
    if (total > 1 + 1e-9).any():  # pragma: no cover - the attribution rules make this impossible
        raise AssertionError(f"purchase shares sum to {float(total.max())} > 1")
    if (credit["civ"].abs() > credit["credit"].abs() + 1e-9).any():  # pragma: no cover
        raise AssertionError("a credit row's CIV exceeds the purchase value it credits")


def _attribute(
    exposures: pd.DataFrame,
    purchases: pd.DataFrame,
    as_of: pd.Timestamp | str,
    *,
    start: pd.Timestamp | str,
    referrals: pd.DataFrame | None,
    observed_from: pd.Series | None,
    cfg: InfluenceConfig,
) -> _Attribution:
    """Credit every in-window purchase to the influencers whose windows cover it (see the module docstring)."""
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

    has_order = "order_id" in purchases.columns
    pur = purchases.loc[
        purchases["customer_id"].isin(exposed),
        ["customer_id", "ordered_at", "amount", *(["order_id"] if has_order else [])],
    ].sort_values(
        ["customer_id", "ordered_at", "amount", *(["order_id"] if has_order else [])], kind="stable"
    )
    pur = pd.DataFrame(
        {
            "c": pur["customer_id"].to_numpy(),
            "t": _days(pur["ordered_at"], as_of),
            "a": pur["amount"].to_numpy(float),
            "order_id": pur["order_id"].to_numpy() if has_order else np.full(len(pur), None, dtype=object),
            "ordered_at": pur["ordered_at"].to_numpy(),
        }
    )
    pur = pur.loc[(pur["t"] <= 0.0) & (pur["t"] > pur["c"].map(lo).to_numpy(float))].reset_index(drop=True)
    pur["pid"] = np.arange(len(pur))

    # Credit of each purchase to the influencers whose windows (e, e + W] cover it.
    if cfg.attribution == "last_touch":
        # one key dtype on both sides (string ids may arrive as object on one side and str on the other)
        m = pd.merge_asof(
            pur.sort_values("t").astype({"c": object}),
            exp.sort_values("e").astype({"c": object}),
            left_on="t",
            right_on="e",
            by="c",
            direction="backward",
            allow_exact_matches=False,
            tolerance=w,
        ).dropna(subset=["i"])
        credit = m.assign(share=1.0)[["pid", "c", "i", "a", "share"]]
    else:
        m = pur.merge(exp, on="c", how="inner")
        m = m.loc[(m["e"] < m["t"]) & (m["t"] <= m["e"] + w), ["pid", "c", "i", "a"]]
        m = m.drop_duplicates(["pid", "i"])
        credit = m.assign(share=1.0 / m.groupby("pid")["i"].transform("size"))

    credit = credit.assign(credit=credit["share"] * credit["a"])
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
    # a spending rate is never negative: returns outside the windows must not inflate the excess (f_y <= 1)
    pooled = max(pooled, 0.0)
    lam = ((r_out + prior * pooled) / denom.where(denom > 0)).fillna(pooled).clip(lower=0.0)
    excess = (r_in - lam * d_in).clip(lower=0.0)
    factor = (excess / r_in.where(r_in > 0)).fillna(0.0)

    f = credit["c"].map(factor).to_numpy(float)
    credit = credit.assign(excess=credit["credit"] * f, civ=cfg.margin * credit["credit"] * f)
    _check_cap(credit)
    return _Attribution(
        credit=credit, purchases=pur, exposures=exp, n_exposed_customers=len(exposed), pooled=pooled
    )


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
    r"""Customer influence value of every influencer over ``(start, as_of]``.

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
        ``n_influenced`` (distinct customers with credited purchases), ``n_purchases`` (distinct purchases
        credited), ``window_revenue`` (credited in-window revenue, gross: :math:`\sum_p s_{ip} a_p`),
        ``excess_revenue`` (above baseline), ``civ`` (margin on the excess) and ``credited_value``
        (``window_revenue`` clipped at 0: the value of the purchases credited, :math:`\mathrm{civ} \le`
        ``credited_value`` always). :func:`influence_credits` lists the rows behind each figure.

    Notes
    -----
    Formulas in the module docstring. Everything is vectorized: an as-of merge for last-touch attribution, a
    sorted merge for even attribution and a cumulative-max interval union for the window coverage.
    """
    cfg = config or InfluenceConfig()
    att = _attribute(
        exposures, purchases, as_of, start=start, referrals=referrals, observed_from=observed_from, cfg=cfg
    )
    credit, exp = att.credit, att.exposures
    by_inf = credit.groupby("i").agg(
        n_influenced=("c", "nunique"),
        n_purchases=("pid", "nunique"),
        window_revenue=("credit", "sum"),
        excess_revenue=("excess", "sum"),
    )
    out = exp.groupby("i").agg(n_exposed=("c", "nunique")).join(by_inf, how="left")
    out = out.fillna({"n_influenced": 0, "n_purchases": 0, "window_revenue": 0.0, "excess_revenue": 0.0})
    out[["n_influenced", "n_purchases"]] = out[["n_influenced", "n_purchases"]].astype("int64")
    # returns are negative purchases: net them out, but an influencer never creates negative value
    out["excess_revenue"] = out["excess_revenue"].clip(lower=0.0)
    # the value of the purchases credited: the cap of the CIV and of anything published as influence value.
    # Row by row civ <= margin * credit; only returns (negative credits of customers with a different excess
    # factor) can lift the margin on the summed excess above the summed credit, and the cap removes that.
    out["credited_value"] = out["window_revenue"].clip(lower=0.0)
    out["civ"] = np.minimum(cfg.margin * out["excess_revenue"], out["credited_value"])
    logger.debug(
        "CIV: %d influencers, %d exposed customers, pooled baseline %.4f per day",
        len(out),
        att.n_exposed_customers,
        att.pooled,
    )
    out = out.rename_axis("customer_id").reset_index().sort_values("customer_id", kind="stable")
    return out[
        [
            "customer_id",
            "n_exposed",
            "n_influenced",
            "n_purchases",
            "window_revenue",
            "excess_revenue",
            "civ",
            "credited_value",
        ]
    ].reset_index(drop=True)


def influence_credits(
    exposures: pd.DataFrame,
    purchases: pd.DataFrame,
    as_of: pd.Timestamp | str,
    *,
    start: pd.Timestamp | str,
    referrals: pd.DataFrame | None = None,
    observed_from: pd.Series | None = None,
    config: InfluenceConfig | None = None,
) -> pd.DataFrame:
    r"""The rows behind every CIV: which customer's purchase was credited to which influencer, and how much.

    Same arguments and rules as :func:`influence_value`; ``purchases`` may carry an ``order_id`` column,
    which is passed through. Summed per influencer, ``credited_revenue`` gives ``window_revenue``,
    ``excess_revenue`` gives ``excess_revenue`` and ``civ`` gives the ``civ`` of :func:`influence_value`
    (exactly, unless returns make an influencer's total negative or exceed the cap, where the total is
    clipped to ``[0, credited_value]``).

    Returns
    -------
    pandas.DataFrame
        One row per (influencer, purchase): ``influencer_id``, ``customer_id`` (who bought), ``order_id``
        (None when not given), ``ordered_at``, ``amount`` (:math:`a_p`), ``share`` (:math:`s_{ip}`; the shares
        of one purchase sum to 1), ``credited_revenue`` (:math:`s_{ip} a_p`), ``excess_share``
        (:math:`f_y`, the part of the customer's in-window revenue above their baseline), ``excess_revenue``
        (:math:`f_y s_{ip} a_p`) and ``civ`` (:math:`\mu f_y s_{ip} a_p \le s_{ip} a_p`). Sorted by
        influencer, then purchase time.
    """
    cfg = config or InfluenceConfig()
    att = _attribute(
        exposures, purchases, as_of, start=start, referrals=referrals, observed_from=observed_from, cfg=cfg
    )
    c = att.credit
    pur = att.purchases.set_index("pid")
    f = (c["excess"] / c["credit"].where(c["credit"] != 0)).fillna(0.0)
    out = pd.DataFrame(
        {
            "influencer_id": c["i"].to_numpy(),
            "customer_id": c["c"].to_numpy(),
            "order_id": pur["order_id"].reindex(c["pid"]).to_numpy(),
            "ordered_at": pur["ordered_at"].reindex(c["pid"]).to_numpy(),
            "amount": c["a"].to_numpy(float),
            "share": c["share"].to_numpy(float),
            "credited_revenue": c["credit"].to_numpy(float),
            "excess_share": f.to_numpy(float),
            "excess_revenue": c["excess"].to_numpy(float),
            "civ": c["civ"].to_numpy(float),
        }
    )
    return out.sort_values(["influencer_id", "ordered_at", "customer_id"], kind="stable").reset_index(
        drop=True
    )


def credit_totals(credits: pd.DataFrame, *, margin: float) -> pd.DataFrame:
    """Per influencer, ``civ`` and ``credited_value`` summed from :func:`influence_credits` rows.

    The same totals as :func:`influence_value` (``credited_value`` = credited revenue clipped at 0; ``civ`` =
    margin on the excess clipped at 0, capped at ``credited_value``) without a second attribution pass.
    Influencers with exposures but no credited purchase are absent (their totals are 0).
    """
    _require(credits, ("influencer_id", "credited_revenue", "excess_revenue"), "credits")
    g = credits.groupby("influencer_id", sort=True)[["credited_revenue", "excess_revenue"]].sum()
    credited = g["credited_revenue"].clip(lower=0.0)
    civ = np.minimum(margin * g["excess_revenue"].clip(lower=0.0), credited)
    return pd.DataFrame(
        {
            "customer_id": g.index.to_numpy(),
            "civ": civ.to_numpy(float),
            "credited_value": credited.to_numpy(float),
        }
    )


def influence_contributors(credits: pd.DataFrame, *, top: int = 3) -> pd.DataFrame:
    """The few customers who contribute most to each influencer's CIV (for the report and the API).

    Parameters
    ----------
    credits
        Rows from :func:`influence_credits`.
    top
        Contributors kept per influencer.

    Returns
    -------
    pandas.DataFrame
        Per influencer (``influencer_id``) and contributing customer (``customer_id``): ``rank`` (1 = largest),
        ``n_purchases``, ``purchase_value`` (their credited purchases' full amounts), ``credited_revenue``,
        ``civ`` and ``civ_share`` (the customer's part of the influencer's CIV, 0 when the CIV is 0).
        Ordered by influencer, then rank; ties broken by customer id.
    """
    if top < 1:
        raise SchemaError(f"top must be >= 1, got {top}")
    _require(credits, ("influencer_id", "customer_id", "amount", "credited_revenue", "civ"), "credits")
    g = credits.groupby(["influencer_id", "customer_id"], sort=True).agg(
        n_purchases=("amount", "size"),
        purchase_value=("amount", "sum"),
        credited_revenue=("credited_revenue", "sum"),
        civ=("civ", "sum"),
    )
    g = g.reset_index()
    positive = g["civ"].clip(lower=0.0)
    total = positive.groupby(g["influencer_id"]).transform("sum")  # vectorised: no Python call per group
    g["civ_share"] = (positive / total.where(total > 0)).fillna(0.0)
    g = g.sort_values(["influencer_id", "civ", "customer_id"], ascending=[True, False, True], kind="stable")
    g["rank"] = g.groupby("influencer_id").cumcount() + 1
    g = g.loc[g["rank"] <= top]
    cols = ["influencer_id", "rank", "customer_id", "n_purchases", "purchase_value", "credited_revenue"]
    return g[[*cols, "civ", "civ_share"]].reset_index(drop=True)


def cap_influence_value(
    scores: pd.DataFrame,
    credited_value: pd.Series,
    *,
    column: str = "influence_value",
    total: str | None = "csv",
) -> pd.DataFrame:
    r"""Cap a published influence value at the value of the purchases credited to each customer.

    A learned score weights the CIV (e.g. :math:`8 \times` CIV in CLV currency on the demo); the product is a
    contribution to a ranking score, not a value any purchase supports. Published as "influence value" it
    must not exceed :math:`\sum_p s_{ip} a_p` (``credited_value`` of :func:`influence_value`).

    Parameters
    ----------
    scores
        One row per customer with ``customer_id`` and ``column`` (and ``total`` when given).
    credited_value
        Credited purchase value per customer id; customers missing get 0.
    column
        The influence value column to cap.
    total
        A column that adds ``column`` in (the customer social value): reduced by the amount removed, so the
        parts still add up. None to leave it.

    Returns
    -------
    pandas.DataFrame
        A copy with ``column`` capped, ``total`` reduced by the same amount and ``influence_value_capped``
        (True where the cap applied).
    """
    _require(scores, ("customer_id", column, *([total] if total else [])), "scores")
    cap = scores["customer_id"].map(credited_value).fillna(0.0).clip(lower=0.0).to_numpy(float)
    value = scores[column].to_numpy(float)
    capped = np.minimum(value, cap)
    out = scores.copy()
    out[column] = capped
    if total:
        out[total] = scores[total].to_numpy(float) - (value - capped)
    out["influence_value_capped"] = value > capped
    return out
