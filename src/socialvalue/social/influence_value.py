r"""Customer influence value (CIV): purchases by others attributable to a customer's content, shares and reviews.

Kumar et al. (2010, 2013) value a customer's influence by the extra purchases other customers make after
being exposed to what that customer says. Here an *exposure* is a row ``(influencer_id, exposed_id,
exposed_at)``: the exposed customer saw the influencer's post, review or share (built from interactions,
content and follower ties by :mod:`socialvalue.pipeline.social_inputs`). A purchase by ``y`` at :math:`t` is
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
#: Integer type of customer and influencer codes (ids of one frame: fewer than 2**31).
_CODE = np.int32


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


def _dense_ints(values: np.ndarray) -> bool:
    """Whether ``values`` are non-negative whole numbers small enough to index an array with directly.

    The store's frames carry customer ids as dense numeric codes (``socialvalue.pipeline.social_inputs``); these
    are their own integer codes, with no hashing or sorting of ids.
    """
    if values.dtype.kind not in "iuf" or values.size == 0:
        return False
    lo, hi = values.min(), values.max()
    if not (lo >= 0 and hi < min(max(4 * values.size, 2**20), 2**31 - 1)):  # NaN fails both comparisons
        return False
    return values.dtype.kind != "f" or bool(np.array_equal(values, np.trunc(values)))


class _Codes:
    """Integer codes ``0 .. n-1`` of the distinct ids of one column, in id order.

    ``ids[code]`` is the id; :meth:`code` looks other ids up (-1 for an id not among them). Numeric ids that
    are small non-negative whole numbers index a lookup array; others are factorized (sorted) once.
    """

    def __init__(self, values: pd.Series) -> None:
        arr = values.to_numpy()
        if _dense_ints(arr):
            raw = arr.astype(np.int64)
            present = np.zeros(int(raw.max()) + 1, dtype=bool)
            present[raw] = True
            lookup = np.cumsum(present, dtype=_CODE) - 1
            lookup[~present] = -1
            self._lookup: np.ndarray | None = lookup
            self.codes = lookup[raw]
            self.ids = np.flatnonzero(present).astype(arr.dtype)
            self._index: pd.Index | None = None
        else:
            codes, uniques = pd.factorize(values, sort=True)
            self._lookup = None
            self.codes = codes.astype(_CODE)
            self.ids = np.asarray(uniques)
            self._index = pd.Index(uniques)

    @property
    def n(self) -> int:
        return int(self.ids.shape[0])

    def code(self, values: pd.Series | pd.Index) -> np.ndarray:
        """Codes of ``values`` (-1 where the id is not among the coded ones, or null)."""
        arr = values.to_numpy()
        if self._lookup is not None and arr.dtype.kind in "iuf":
            with np.errstate(invalid="ignore"):
                ok = (arr >= 0) & (arr < self._lookup.shape[0]) & (np.trunc(arr) == arr)
            out = np.full(arr.shape[0], -1, dtype=_CODE)
            out[ok] = self._lookup[arr[ok].astype(np.int64)]
            return out
        if self._index is None:
            self._index = pd.Index(self.ids)
        return self._index.get_indexer(values).astype(_CODE)


def _sorted_by(*keys: np.ndarray) -> bool:
    """Whether the rows are in lexicographic order of ``keys`` (ties allowed), in one linear pass."""
    if keys[0].shape[0] < 2:
        return True
    ok = np.ones(keys[0].shape[0] - 1, dtype=bool)  # rows k, k+1 still in order
    tied = np.ones_like(ok)  # rows k, k+1 equal on the keys compared so far
    for key in keys:
        a, b = key[:-1], key[1:]
        ok &= ~tied | (a <= b)
        tied &= a == b
    return bool(ok.all())


def _pairs(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``first + i * second`` as complex numbers: NumPy sorts and searches them in lexicographic order."""
    z = np.empty(first.shape[0], dtype=np.complex128)
    z.real = first
    z.imag = second
    return z


def _order_by(first: np.ndarray, second: np.ndarray, third: np.ndarray) -> np.ndarray:
    """The stable sort order of the rows by ``(first, second, third)``.

    One sort of ``(first, second)`` pairs (several times faster than a three-key lexsort), then the rare runs
    tied on both are put in order of ``third`` and of their input position.
    """
    order = np.argsort(_pairs(first, second))
    f, s = first[order], second[order]
    tied = np.flatnonzero((f[1:] == f[:-1]) & (s[1:] == s[:-1]))
    if tied.shape[0]:
        slots = np.union1d(tied, tied + 1)  # positions in a tie run; runs are contiguous
        run = np.cumsum(np.r_[True, ~np.isin(slots[1:] - 1, tied)])  # a run starts where no tie precedes
        members = order[slots]
        order[slots] = members[np.lexsort((members, third[members], run))]
    return order


def _union_length(cust: np.ndarray, start: np.ndarray, end: np.ndarray, n: int) -> np.ndarray:
    """Total length of the union of the intervals ``[start, end)`` of each customer code ``0 .. n-1``.

    The intervals must be sorted by ``(cust, start)``. An interval opens a new block when it starts after every
    earlier interval of the customer has ended (the running maximum of their ends); a block covers
    ``[first start, max end)``. When the ends rise with the starts (windows of one length), the running maximum
    is the previous end and nothing is sorted or grouped.
    """
    if cust.shape[0] == 0:
        return np.zeros(n)
    if _sorted_by(cust, end):
        run_end = end
    else:
        run_end = pd.Series(end).groupby(cust, sort=False).cummax().to_numpy(float)
    new = np.empty(cust.shape[0], dtype=bool)
    new[0] = True
    new[1:] = (cust[1:] != cust[:-1]) | (start[1:] > run_end[:-1])
    first = np.flatnonzero(new)
    last = np.r_[first[1:], cust.shape[0]] - 1
    return np.bincount(cust[first], weights=run_end[last] - start[first], minlength=n)


def _window_coverage(cust: np.ndarray, start: np.ndarray, end: np.ndarray) -> pd.Series:
    """Total length of the union of intervals ``[start, end)`` per customer id, vectorized (any row order)."""
    codes, uniques = pd.factorize(pd.Series(cust), sort=True)
    start, end = np.asarray(start, dtype=float), np.asarray(end, dtype=float)
    order = np.lexsort((start, codes))
    total = _union_length(codes[order], start[order], end[order], len(uniques))
    return pd.Series(total, index=pd.Index(uniques))


def _distinct_per(group: np.ndarray, member: np.ndarray, n_group: int, n_member: int) -> np.ndarray:
    """Number of distinct ``member`` codes per ``group`` code.

    The rows come sorted by ``member`` (exposures and credit rows are in customer order), so the keys
    ``member * n_group + group`` are sorted but for short runs, which a stable sort (timsort) merges in close to
    linear time; distinct keys are then the changes.
    """
    if group.shape[0] == 0:
        return np.zeros(n_group, dtype=np.int64)
    key = np.sort(member.astype(np.int64) * max(n_group, 1) + group, kind="stable")
    first = np.ones(key.shape[0], dtype=bool)
    first[1:] = key[1:] != key[:-1]
    return np.bincount(key[first] % max(n_group, 1), minlength=n_group).astype(np.int64)


@dataclass(frozen=True)
class _Attribution:
    """The credit rows of one CIV computation and what the aggregation needs beside them.

    Customers (exposed, buying) and influencers are integer codes: positions in ``customer_ids`` and
    ``influencer_ids``, both in id order. Purchases are the ones in the period of exposed customers, sorted by
    (customer, time, amount); credit rows are in purchase order, one per (purchase, influencer). Per-row columns
    that follow from these (buyer, amount, excess, CIV) are computed when asked for, not stored.
    """

    customer_ids: np.ndarray
    influencer_ids: np.ndarray
    exp_i: np.ndarray  # influencer code of every exposure kept
    exp_c: np.ndarray  # exposed customer code of every exposure kept
    pur_rows: np.ndarray  # purchases: positions in the caller's frame
    pur_c: np.ndarray  # purchases: customer code
    pur_t: np.ndarray  # purchases: time (days relative to as_of)
    pur_a: np.ndarray  # purchases: amount
    pid: np.ndarray  # credit rows: the purchase (index into the pur_ arrays)
    i: np.ndarray  # credit rows: the influencer code
    share: np.ndarray  # credit rows: s_ip
    credit: np.ndarray  # credit rows: s_ip a_p
    factor: np.ndarray  # per customer code: f_y, the part of the in-window revenue above the baseline
    margin: float
    pooled: float

    @property
    def n_exposed_customers(self) -> int:
        return int(self.customer_ids.shape[0])

    def buyer(self) -> np.ndarray:
        """Customer code of every credit row."""
        return self.pur_c[self.pid]

    def excess(self, buyer: np.ndarray) -> np.ndarray:
        """Excess revenue :math:`f_y s_{ip} a_p` of every credit row (``buyer`` from :meth:`buyer`)."""
        return self.credit * self.factor[buyer]

    def civ(self, buyer: np.ndarray) -> np.ndarray:
        r"""CIV :math:`\mu s_{ip} a_p f_y` of every credit row."""
        return self.margin * self.credit * self.factor[buyer]


def _check_cap(pid: np.ndarray, share: np.ndarray, factor: np.ndarray, margin: float) -> None:
    r"""Check the attribution rule.

    The shares of one purchase sum to at most 1, so its credit to all influencers sums to at most its value;
    with :math:`f_y \le 1` and :math:`\mu \le 1`, each row's CIV is at most the revenue it credits.
    """
    if pid.shape[0] and (np.bincount(pid, weights=share) > 1 + 1e-9).any():  # pragma: no cover
        raise AssertionError("a purchase's shares sum to more than 1")  # the attribution rules prevent it
    if factor.shape[0] and (factor.max() > 1 + 1e-12 or margin > 1):  # pragma: no cover
        raise AssertionError("an excess factor or the margin exceeds 1: a CIV would exceed its credit")


def _even_credit(
    z: np.ndarray, e: np.ndarray, exp_i: np.ndarray, q: np.ndarray, w: float, n_inf: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Even attribution as a sorted interval join: ``(pid, influencer code, share)`` of every credit row.

    ``z`` holds the exposures' ``(customer, e)`` sorted, ``q`` the purchases' ``(customer, t)``. The exposures of
    the buyer with :math:`e < t` end at the first ``(c, e) >= (c, t)``; those with :math:`t \le e + W` start at the
    first ``(c, e + W) >= (c, t)`` (``e + W`` rises with ``e``): two binary searches bound the matches of every
    purchase, and only the matching pairs are expanded. An influencer exposing the buyer several times inside
    the window counts once (the earliest exposure).
    """
    hi = np.searchsorted(z, q, side="left")
    z.imag = e + w
    lo = np.searchsorted(z, q, side="left")
    n_match = np.maximum(hi - lo, 0)
    del hi
    total = int(n_match.sum())
    # position of every pair's exposure: the first match of its purchase plus its rank among the matches
    lo -= np.cumsum(n_match) - n_match
    k = np.repeat(lo, n_match)
    del lo
    k += np.arange(total, dtype=k.dtype)
    inf = exp_i[k]
    del k
    pid = np.repeat(np.arange(q.shape[0], dtype=np.int64), n_match)
    # the same influencer twice for one purchase: keep the first pair (only purchases with 2+ matches)
    multi = np.flatnonzero(np.repeat(n_match >= 2, n_match))
    del n_match
    if multi.shape[0]:
        key = pid[multi] * max(n_inf, 1) + inf[multi]
        order = np.argsort(key, kind="stable")
        skey = key[order]
        dup = np.zeros(total, dtype=bool)
        dup[multi[order[1:]]] = skey[1:] == skey[:-1]
        del key, order, skey, multi
        pid, inf = pid[~dup], inf[~dup]
    share = 1.0 / np.bincount(pid, minlength=q.shape[0])[pid]
    return pid, inf, share


def _last_touch_credit(
    z: np.ndarray, c: np.ndarray, e: np.ndarray, exp_i: np.ndarray, q: np.ndarray, w: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Last-touch attribution: each purchase to the latest exposure with :math:`e < t`, when :math:`t - e \le W`.

    One binary search per purchase. Among simultaneous latest exposures by several influencers, the one with
    the largest id is credited.
    """
    k = np.searchsorted(z, q, side="left") - 1
    ok = k >= 0
    kk = np.where(ok, k, 0)
    ok &= c[kk] == q.real
    ok &= q.imag - e[kk] <= w
    pid = np.flatnonzero(ok)
    k = k[pid]
    # runs of exposures at the same (customer, time): the largest influencer code of the run
    run_start = np.ones(c.shape[0], dtype=bool)
    run_start[1:] = (c[1:] != c[:-1]) | (e[1:] != e[:-1])
    starts = np.flatnonzero(run_start)
    run_max = np.maximum.reduceat(exp_i, starts) if starts.shape[0] else exp_i
    inf = run_max[np.cumsum(run_start)[k] - 1]
    return pid, inf, np.ones(pid.shape[0])


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
    """Credit every in-window purchase to the influencers whose windows cover it (see the module docstring).

    Exposures are sorted by (customer, time) and purchases by (customer, time, amount), unless they arrive so
    (the store's frames do): the sums then add floats in one canonical order, and the same data gives
    bit-identical values in every run whatever order the database's threads produced the rows in.
    """
    _require(exposures, ("influencer_id", "exposed_id", "exposed_at"), "exposures")
    _require(purchases, ("customer_id", "ordered_at", "amount"), "purchases")
    as_of, start = pd.Timestamp(as_of), pd.Timestamp(start)
    if start >= as_of:
        raise SchemaError(f"start ({start}) must be before as_of ({as_of})")
    w = float(cfg.window_days)
    lo_all = _days(pd.Series([start]), as_of)[0]

    # Exposures that can cover a purchase in the period: not self-exposures, before as_of, window ending after
    # start; exposures of customers referred on or before as_of are left to the referral value. Null ids are
    # no exposure.
    inf_col, cus_col, at = exposures["influencer_id"], exposures["exposed_id"], exposures["exposed_at"]
    keep = ((inf_col != cus_col) & inf_col.notna() & cus_col.notna() & (at < as_of)).to_numpy(bool, copy=True)
    if referrals is not None:
        _require(referrals, ("referred_id", "referred_at"), "referrals")
        referred = referrals.loc[referrals["referred_at"] <= as_of, "referred_id"].unique()
        keep &= ~cus_col.isin(referred).to_numpy(bool)
    rows = np.flatnonzero(keep)
    del keep
    e = _days(at.iloc[rows], as_of)
    near = e + w > lo_all
    rows, e = rows[near], e[near]
    customers = _Codes(cus_col.iloc[rows])
    influencers = _Codes(inf_col.iloc[rows])
    del rows, near
    c, exp_i = customers.codes, influencers.codes
    if not _sorted_by(c, e):
        order = np.argsort(_pairs(c, e))
        c, e, exp_i = c[order], e[order], exp_i[order]
        del order
    n_c = customers.n

    # Per-customer observation start (days relative to as_of).
    lo = np.full(n_c, lo_all)
    if observed_from is not None:
        pos = customers.code(observed_from.index)
        known = np.flatnonzero(pos >= 0)
        obs = _days(observed_from.iloc[known], as_of)
        lo[pos[known]] = np.fmax(lo_all, np.where(np.isnan(obs), lo_all, obs))
        del pos, known, obs
    period = np.maximum(-lo, 0.0)

    # Purchases of exposed customers in their period.
    pc = customers.code(purchases["customer_id"])
    pur_rows = np.flatnonzero(pc >= 0)
    pc = pc[pur_rows]
    t = _days(purchases["ordered_at"].iloc[pur_rows], as_of)
    inside = (t <= 0.0) & (t > lo[pc])
    pur_rows, pc, t = pur_rows[inside], pc[inside], t[inside]
    del inside
    a = purchases["amount"].to_numpy(float)[pur_rows]
    if not _sorted_by(pc, t, a):
        order = _order_by(pc, t, a)
        pur_rows, pc, t, a = pur_rows[order], pc[order], t[order], a[order]
        del order

    # Credit of each purchase to the influencers whose windows (e, e + W] cover it.
    z, q = _pairs(c, e), _pairs(pc, t)
    if cfg.attribution == "last_touch":
        pid, inf, share = _last_touch_credit(z, c, e, exp_i, q, w)
    else:
        pid, inf, share = _even_credit(z, e, exp_i, q, w, influencers.n)
    del z, q
    credit = share * a[pid]

    # Baseline: revenue and days outside the union of windows, shrunk towards the pooled rate. The windows of
    # one customer, clipped to the period, are sorted by start and their ends rise with their starts.
    s = np.clip(e, lo[c], 0.0)
    end = np.clip(e + w, lo[c], 0.0)
    kept = end > s
    d_in = _union_length(c[kept], s[kept], end[kept], n_c)
    del s, end, kept
    r_total = np.bincount(pc, weights=a, minlength=n_c)
    in_window = np.zeros(pc.shape[0], dtype=bool)
    in_window[pid] = True
    r_in = np.bincount(pc[in_window], weights=a[in_window], minlength=n_c)
    del in_window
    r_out = r_total - r_in
    d_out = np.maximum(period - d_in, 0.0)
    pooled = float(r_out.sum() / d_out.sum()) if d_out.sum() > 0 else 0.0
    prior = float(cfg.baseline_prior_days)
    denom = d_out + prior
    # a spending rate is never negative: returns outside the windows must not inflate the excess (f_y <= 1)
    pooled = max(pooled, 0.0)
    rate = np.divide(r_out + prior * pooled, denom, out=np.full(n_c, pooled), where=denom > 0)
    lam = np.maximum(rate, 0.0)
    excess = np.maximum(r_in - lam * d_in, 0.0)
    factor = np.divide(excess, r_in, out=np.zeros(n_c), where=r_in > 0)
    _check_cap(pid, share, factor, cfg.margin)
    return _Attribution(
        customer_ids=customers.ids,
        influencer_ids=influencers.ids,
        exp_i=exp_i,
        exp_c=c,
        pur_rows=pur_rows,
        pur_c=pc,
        pur_t=t,
        pur_a=a,
        pid=pid,
        i=inf,
        share=share,
        credit=credit,
        factor=factor,
        margin=float(cfg.margin),
        pooled=pooled,
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
    Formulas in the module docstring. Everything is vectorized and no purchase meets an exposure outside its
    window: exposures sorted by (customer, time), two binary searches per purchase bound the exposures whose
    windows cover it (one for last touch) and only those pairs are formed; the window coverage is an interval
    union over the same sorted exposures. Memory and time grow with the exposures, purchases and credited
    pairs, not with the purchases times the exposures of each customer.
    """
    cfg = config or InfluenceConfig()
    att = _attribute(
        exposures, purchases, as_of, start=start, referrals=referrals, observed_from=observed_from, cfg=cfg
    )
    n_i, n_c = att.influencer_ids.shape[0], att.customer_ids.shape[0]
    buyer = att.buyer()
    window_revenue = np.bincount(att.i, weights=att.credit, minlength=n_i)
    # returns are negative purchases: net them out, but an influencer never creates negative value
    excess_revenue = np.maximum(np.bincount(att.i, weights=att.excess(buyer), minlength=n_i), 0.0)
    # the value of the purchases credited: the cap of the CIV and of anything published as influence value.
    # Row by row civ <= margin * credit; only returns (negative credits of customers with a different excess
    # factor) can lift the margin on the summed excess above the summed credit, and the cap removes that.
    credited_value = np.maximum(window_revenue, 0.0)
    logger.debug(
        "CIV: %d influencers, %d exposed customers, pooled baseline %.4f per day",
        n_i,
        att.n_exposed_customers,
        att.pooled,
    )
    return pd.DataFrame(
        {
            "customer_id": att.influencer_ids,
            "n_exposed": _distinct_per(att.exp_i, att.exp_c, n_i, n_c),
            "n_influenced": _distinct_per(att.i, buyer, n_i, n_c),
            "n_purchases": np.bincount(att.i, minlength=n_i).astype(np.int64),
            "window_revenue": window_revenue,
            "excess_revenue": excess_revenue,
            "civ": np.minimum(cfg.margin * excess_revenue, credited_value),
            "credited_value": credited_value,
        }
    )


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
    # by influencer (codes are in id order), then purchase time, then buyer; ties stay in purchase order
    buyer = att.buyer()
    order = np.lexsort((buyer, att.pur_t[att.pid], att.i))
    pid, buyer = att.pid[order], buyer[order]
    rows = att.pur_rows[pid]
    credit = att.credit[order]
    excess = credit * att.factor[buyer]
    order_id = (
        purchases["order_id"].to_numpy()[rows]
        if "order_id" in purchases.columns
        else np.full(rows.shape[0], None, dtype=object)
    )
    return pd.DataFrame(
        {
            "influencer_id": att.influencer_ids[att.i[order]],
            "customer_id": att.customer_ids[buyer],
            "order_id": order_id,
            "ordered_at": purchases["ordered_at"].to_numpy()[rows],
            "amount": att.pur_a[pid],
            "share": att.share[order],
            "credited_revenue": credit,
            "excess_share": np.divide(excess, credit, out=np.zeros(credit.shape[0]), where=credit != 0),
            "excess_revenue": excess,
            "civ": att.margin * credit * att.factor[buyer],
        }
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
