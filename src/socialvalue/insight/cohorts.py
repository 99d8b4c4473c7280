r"""Cohort analysis: how each sign-up cohort retains, spends, matches a purchase model and moves through stages.

A **cohort** is the customers who signed up in one calendar month or week (``freq="M"`` or ``"W"``; weeks
start on Monday), among the profiled, non-stub customers acquired before an explicit ``as_of``. A customer
without a sign-up time joins the cohort of their first purchase, and ``basis="first_purchase"`` places every
customer by first purchase (the only choice for a purchase log such as CDNOW, whose customers all first
bought in the first quarter of 1997: use weekly cohorts there). Period :math:`k` of a cohort is the
:math:`k`-th calendar month or week from the cohort's own (period 0); the last one ends at ``as_of`` and is
flagged incomplete.

:func:`cohort_retention` gives, per cohort and period:

* the **share active**, members with a purchase (a completed order with a positive amount) in the period over
  the cohort's members, with a Wilson interval;
* **revenue per member** (completed orders plus negative refunds, in the orders' currency);
* **repeat purchases per member**: purchase days after the member's first purchase day, as the BTYD models
  count them; and, given a fitted purchase model, the **expected** repeat purchases per member from it.

The expected curve uses the model's unconditional expectation :math:`E[X(t)]` of the repeat purchases a new
customer makes in :math:`(0, t]` after the first (BG/NBD: Fader, Hardie & Lee 2005, eq. 7; Pareto/NBD:
Fader & Hardie 2005, note 009, eq. 27; any model with ``expected_purchases(t)``). Each member who has
bought is a new customer at their first purchase day :math:`f_i`, so for period :math:`[a_k, b_k)`

.. math:: \hat R_{ck} = \frac{1}{n_c} \sum_{i \in c,\ f_i \text{ known}}
          \Big(E[X((b_k - f_i)^+)] - E[X((a_k - f_i)^+)]\Big),

with :math:`n_c` the cohort's members (those without a purchase count in :math:`n_c` and expect 0, as they
count 0 in the actual). Summed over periods this is the cumulative tracking curve of Fader, Hardie & Lee
(2005, fig. 2), split by cohort and calendar period. The model gives no expected *share active*: a share
needs the distribution of purchases in a period, not their mean.

:func:`lifecycle_mix` joins a history of lifecycle stages (one row per customer and scoring date) to the
cohorts: the share of each cohort in each stage at each date.

References
----------
.. [1] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy way: an
   alternative to the Pareto/NBD model. *Marketing Science* 24(2), 275-284 (eq. 7, fig. 2).
.. [2] Fader, P. S. & Hardie, B. G. S. (2005). A note on deriving the Pareto/NBD model and related
   expressions. http://brucehardie.com/notes/009/ (eq. 27).
.. [3] Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference. *JASA* 22,
   209-212.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from socialvalue.errors import ConfigError
from socialvalue.features import insight as q
from socialvalue.features.split import normalize_unit
from socialvalue.insight import _stats
from socialvalue.insight._common import (
    as_of_timestamp,
    engine_of,
    fmt_money,
    fmt_pct,
    frame_of,
    orders_currency,
    require_columns,
)

__all__ = ["CohortRetention", "LifecycleMix", "cohort_retention", "lifecycle_mix"]

#: Days in one time unit of a purchase model.
UNIT_DAYS = {"D": 1.0, "W": 7.0}
_WORD = {"M": "month", "W": "week"}
_BASIS = {"signup": "signed up", "first_purchase": "first bought"}


@dataclass(frozen=True)
class CohortRetention:
    """Retention, revenue and repeat purchases of each cohort by period since its start.

    Attributes
    ----------
    table
        One row per cohort and period ``k`` (0 = the cohort's own month or week) up to ``as_of``, periods
        without activity included: ``cohort``, ``period``, ``period_start``, ``period_end`` (``as_of`` for the
        last), ``complete``, ``members``, ``active``, ``share_active`` (+ ``_lower``/``_upper``),
        ``purchases``, ``repeat_days``, ``repeat_per_member``, ``revenue``, ``revenue_per_member``, and with a
        model ``expected_repeat_per_member``.
    sizes
        One row per cohort: ``cohort``, ``members``, ``buyers`` (members with a purchase).
    freq, basis
        ``"M"``/``"W"``; ``"signup"``/``"first_purchase"``.
    as_of
        The analysis date (naive UTC).
    currency
        Currency of the revenue.
    level
        Level of the intervals.
    model
        Name of the purchase model behind the expected curve (``None`` without one).
    meaning
        One line saying what the numbers mean, computed from them.
    notes
        Caveats about the data.
    """

    table: pd.DataFrame
    sizes: pd.DataFrame
    freq: str
    basis: str
    as_of: pd.Timestamp
    currency: str
    level: float
    model: str | None
    meaning: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class LifecycleMix:
    """Each cohort's lifecycle-stage mix at each scoring date.

    Attributes
    ----------
    table
        One row per cohort, date and stage: ``cohort``, ``as_of``, ``period`` (periods since the cohort's
        start), ``stage``, ``customers`` and ``share`` (of the cohort's members scored that date).
    freq, basis
        As in :class:`CohortRetention`.
    as_of
        The date the cohorts are drawn at.
    meaning
        One line saying what the numbers mean, computed from them.
    """

    table: pd.DataFrame
    freq: str
    basis: str
    as_of: pd.Timestamp
    meaning: str


def _freq(freq: str) -> str:
    key = str(freq).upper()
    if key not in _WORD:
        raise ConfigError(f"unknown cohort frequency {freq!r}; use 'M' (months) or 'W' (weeks)")
    return key


def _basis(basis: str) -> str:
    if basis not in _BASIS:
        raise ConfigError(f"unknown cohort basis {basis!r}; use 'signup' or 'first_purchase'")
    return basis


def _label(cohort: pd.Timestamp, freq: str) -> str:
    return f"{cohort:%Y-%m}" if freq == "M" else f"week of {cohort:%Y-%m-%d}"


def _cohort(cohort: pd.Timestamp, freq: str) -> str:
    """``"the 2025-03 cohort"`` or ``"the cohort of the week of 1997-02-10"``."""
    return f"the {cohort:%Y-%m} cohort" if freq == "M" else f"the cohort of the week of {cohort:%Y-%m-%d}"


def _start(cohort: pd.Timestamp, k: int, freq: str) -> pd.Timestamp:
    return cohort + (pd.DateOffset(months=k) if freq == "M" else pd.Timedelta(weeks=k))


def _grid(cohorts: list[pd.Timestamp], freq: str, as_of: pd.Timestamp) -> pd.DataFrame:
    """Every (cohort, period) from the cohort's start to ``as_of``: start, end (capped) and completeness."""
    rows = []
    for c in cohorts:
        k = 0
        start = _start(c, 0, freq)
        while start < as_of:
            nxt = _start(c, k + 1, freq)
            rows.append((c, k, start, min(nxt, as_of), nxt <= as_of))
            k += 1
            start = nxt
    grid = pd.DataFrame(rows, columns=["cohort", "period", "period_start", "period_end", "complete"])
    return grid.astype(
        {"cohort": "datetime64[us]", "period": np.int64, "period_start": "datetime64[us]"}
        | {"period_end": "datetime64[us]", "complete": bool}
    )


def _expected(table: pd.DataFrame, sizes: pd.DataFrame, model: Any, unit_days: float) -> np.ndarray:
    """Expected repeat purchases per member of each row of ``table`` (see the module docstring)."""
    day = pd.Timedelta(days=1)
    buyers = sizes.dropna(subset=["first_day"])
    out = np.zeros(len(table))
    if buyers.empty or table.empty:
        return out
    by_cohort = {c: g for c, g in buyers.groupby("cohort")}
    parts = []  # (row positions, first days, counts) per cohort
    for cohort, rows in table.groupby("cohort").indices.items():
        g = by_cohort.get(cohort)
        if g is None:
            continue
        parts.append((rows, g["first_day"].to_numpy(), g["members"].to_numpy(np.float64)))
    spans = []
    for rows, first, _ in parts:
        a = table["period_start"].to_numpy()[rows]
        b = table["period_end"].to_numpy()[rows]
        ta = np.maximum((a[:, None] - first[None, :]) / day, 0.0)
        tb = np.maximum((b[:, None] - first[None, :]) / day, 0.0)
        spans.append((ta, tb))
    values = np.unique(np.concatenate([np.concatenate([ta.ravel(), tb.ravel()]) for ta, tb in spans]))
    ex = np.asarray(model.expected_purchases(values / unit_days), dtype=np.float64)
    for (rows, _, n), (ta, tb) in zip(parts, spans, strict=True):
        ea = ex[np.searchsorted(values, ta)]
        eb = ex[np.searchsorted(values, tb)]
        out[rows] = ((eb - ea) * n[None, :]).sum(axis=1)
    return out / table["members"].to_numpy(np.float64)


def _meaning(
    table: pd.DataFrame, freq: str, basis: str, currency: str, has_model: bool, as_of: pd.Timestamp
) -> str:
    word = _WORD[freq]
    done = table[table["complete"]]
    first = done[done["period"] == 1]
    if first.empty:
        return (
            f"No cohort has a complete {word} after its first by {as_of:%Y-%m-%d}: retention cannot be "
            "read yet."
        )
    s1 = first["active"].sum() / first["members"].sum()
    far_k = 6 if freq == "M" else 13
    later = done[done["period"] >= 2]
    if not later.empty:
        far_k = min(far_k, int(later["period"].max()))
    far = done[done["period"] == far_k] if not later.empty else first.iloc[0:0]
    text = (
        f"Of customers who {_BASIS[basis]} in a {word}, {fmt_pct(s1)} buy in the {word} after"
        + (
            f" and {fmt_pct(far['active'].sum() / far['members'].sum())} {far_k} {word}s after"
            if len(far)
            else ""
        )
        + f" (pooled over {len(first)} cohort{'s' if len(first) != 1 else ''} to {as_of:%Y-%m-%d})"
    )
    best = first.sort_values(["share_active", "members"], ascending=[False, False]).iloc[0]
    if len(first) > 1:
        text += f"; {_cohort(best['cohort'], freq)} retains best ({fmt_pct(float(best['share_active']))})"
    rev = first["revenue"].sum() / first["members"].sum()
    text += f"; revenue per member in the {word} after: {fmt_money(rev, currency)}"
    if has_model:
        # cumulative over each cohort's complete periods, per member of all cohorts
        n = float(done.groupby("cohort")["members"].first().sum())
        actual = float(done["repeat_days"].sum()) / n
        expected = float((done["expected_repeat_per_member"] * done["members"]).sum()) / n
        if actual > 0 and math.isfinite(expected):
            gap = expected / actual - 1
            verdict = (
                f"tracks the actual within {fmt_pct(abs(gap))}"
                if abs(gap) <= 0.10
                else f"{'over' if gap > 0 else 'under'}-predicts by {fmt_pct(abs(gap))}"
            )
            text += (
                f"; the purchase model expects {expected:.2f} repeat purchases per member over the cohorts' "
                f"complete {word}s against {actual:.2f} ({verdict})"
            )
    return text + "."


def cohort_retention(
    source: Any,
    as_of: Any,
    freq: str = "M",
    *,
    basis: str = "signup",
    model: Any = None,
    unit: str = "W",
    level: float = 0.95,
    currency: str | None = None,
) -> CohortRetention:
    """Retention curves, revenue and repeat purchases per member of each cohort (see the module docstring).

    Parameters
    ----------
    source
        A store, or an engine (DuckDB or Spark) that runs :mod:`socialvalue.features.insight` definitions.
    as_of
        The analysis date (explicit; everything strictly before it counts).
    freq
        ``"M"`` (calendar months) or ``"W"`` (weeks from Monday).
    basis
        ``"signup"`` (first purchase for customers without a sign-up time) or ``"first_purchase"``.
    model
        A fitted purchase model with ``expected_purchases(t)`` (:class:`~socialvalue.models.BetaGeo`,
        :class:`~socialvalue.models.ParetoNBD`, ...) for the expected curve; ``None``: no expected curve.
    unit
        The model's time unit, ``"D"`` or ``"W"``.
    level
        Level of the Wilson intervals.
    currency
        Currency of the revenue; by default the orders'.

    Returns
    -------
    CohortRetention

    Raises
    ------
    ConfigError
        For an unknown ``freq``, ``basis`` or ``unit``, a bad level or date, or a model without
        ``expected_purchases``.
    """
    freq, basis = _freq(freq), _basis(basis)
    unit_days = UNIT_DAYS[normalize_unit(unit)]
    if model is not None and not callable(getattr(model, "expected_purchases", None)):
        raise ConfigError(f"the model must have expected_purchases(t) (a fitted BTYD model), got {model!r}")
    _stats.wilson_interval(0, 1, level)
    engine = engine_of(source)
    ts = as_of_timestamp(as_of)
    notes: list[str] = []
    if currency is None:
        currency, mixed = orders_currency(engine, ts)
        notes += mixed
    sizes_by_day = frame_of(engine, q.cohort_sizes_query(ts, freq, basis))
    activity = frame_of(engine, q.cohort_activity_query(ts, freq, basis))
    sizes = (
        sizes_by_day.assign(buyers=np.where(sizes_by_day["first_day"].notna(), sizes_by_day["members"], 0))
        .groupby("cohort", as_index=False)[["members", "buyers"]]
        .sum()
    )
    table = _grid(list(sizes["cohort"]), freq, ts).merge(sizes[["cohort", "members"]], on="cohort")
    activity = activity.rename(columns={"period": "period_start"})
    table = table.merge(activity, on=["cohort", "period_start"], how="left")
    for col in ("active", "purchases", "repeat_days"):
        table[col] = table[col].fillna(0).astype(np.int64)
    table["revenue"] = table["revenue"].fillna(0.0).astype(np.float64)
    members = table["members"].to_numpy(np.float64)
    table["share_active"] = table["active"] / members
    table["share_active_lower"], table["share_active_upper"] = _stats.wilson_interval(
        table["active"], members, level
    )
    table["repeat_per_member"] = table["repeat_days"] / members
    table["revenue_per_member"] = table["revenue"] / members
    name = None
    if model is not None:
        table["expected_repeat_per_member"] = _expected(table, sizes_by_day, model, unit_days)
        name = type(model).__name__
    order = [
        "cohort",
        "period",
        "period_start",
        "period_end",
        "complete",
        "members",
        "active",
        "share_active",
        "share_active_lower",
        "share_active_upper",
        "purchases",
        "repeat_days",
        "repeat_per_member",
        "revenue",
        "revenue_per_member",
    ] + (["expected_repeat_per_member"] if model is not None else [])
    table = table[order].sort_values(["cohort", "period"], ignore_index=True)
    return CohortRetention(
        table=table,
        sizes=sizes,
        freq=freq,
        basis=basis,
        as_of=ts,
        currency=currency,
        level=level,
        model=name,
        meaning=_meaning(table, freq, basis, currency, model is not None, ts),
        notes=tuple(notes),
    )


def _periods_since(cohort: pd.Series, when: pd.Series, freq: str) -> pd.Series:
    if freq == "M":
        return (when.dt.year - cohort.dt.year) * 12 + (when.dt.month - cohort.dt.month)
    return ((when - cohort) // pd.Timedelta(weeks=1)).astype(np.int64)


def lifecycle_mix(
    source: Any,
    history: pd.DataFrame,
    as_of: Any,
    freq: str = "M",
    *,
    basis: str = "signup",
    stage_column: str = "lifecycle_stage",
    focus: str = "churned",
    min_members: int = 20,
) -> LifecycleMix:
    """Each cohort's lifecycle-stage mix at each date of ``history``.

    Parameters
    ----------
    source
        A store or an engine.
    history
        Scores over time: ``customer_id``, ``as_of`` and ``stage_column`` (one row per customer and date, e.g.
        the store's ``scores`` table).
    as_of
        The date cohorts are drawn at (members acquired before it).
    freq, basis
        As in :func:`cohort_retention`.
    stage_column
        The column of ``history`` holding the stage.
    focus
        The stage the meaning line compares between the oldest and newest cohorts (the most common stage
        when no row has it).
    min_members
        Fewest scored members a cohort needs to be named in the meaning line.

    Returns
    -------
    LifecycleMix
        Rows only for dates on or after the cohort's start (a customer is scored once a member).
    """
    freq, basis = _freq(freq), _basis(basis)
    require_columns(history, ["customer_id", "as_of", stage_column], "history")
    engine = engine_of(source)
    ts = as_of_timestamp(as_of)
    members = frame_of(engine, q.cohort_members_query(ts, freq, basis))
    members["customer_id"] = members["customer_id"].astype(str)
    h = history[["customer_id", "as_of", stage_column]].rename(columns={stage_column: "stage"})
    h = h.assign(
        customer_id=h["customer_id"].astype(str), as_of=pd.to_datetime(h["as_of"]).astype("datetime64[us]")
    )
    h = h.merge(members, on="customer_id")
    h = h[h["as_of"] >= h["cohort"]]
    h["stage"] = h["stage"].astype(object).where(h["stage"].notna(), "unknown").astype(str)
    counts = (
        h.groupby(["cohort", "as_of", "stage"], as_index=False).size().rename(columns={"size": "customers"})
    )
    totals = counts.groupby(["cohort", "as_of"])["customers"].transform("sum")
    counts["share"] = counts["customers"] / totals
    counts["period"] = _periods_since(counts["cohort"], counts["as_of"], freq).astype(np.int64)
    table = counts[["cohort", "as_of", "period", "stage", "customers", "share"]].sort_values(
        ["cohort", "as_of", "stage"], ignore_index=True
    )
    return LifecycleMix(
        table=table, freq=freq, basis=basis, as_of=ts, meaning=_mix_meaning(table, freq, focus, min_members)
    )


def _mix_meaning(table: pd.DataFrame, freq: str, focus: str, min_members: int) -> str:
    if table.empty:
        return "No cohort member has a lifecycle stage in the history: no mix to show."
    last = table["as_of"].max()
    now = table[table["as_of"] == last]
    if focus not in set(now["stage"]):
        focus = str(now.groupby("stage")["customers"].sum().idxmax())
    sizes = now.groupby("cohort")["customers"].sum()
    big = sizes[sizes >= min_members].index
    if len(big) == 0:
        big = sizes.index
    share = now[now["stage"] == focus].set_index("cohort")["share"].reindex(big).fillna(0.0)
    oldest, newest = min(big), max(big)
    when = f"{last:%Y-%m-%d}"
    if oldest == newest:
        return f"At {when}, {fmt_pct(float(share[oldest]))} of {_cohort(oldest, freq)} are {focus}."
    return (
        f"At {when}, {fmt_pct(float(share[oldest]))} of the oldest cohort ({_label(oldest, freq)}) are {focus} "
        f"against {fmt_pct(float(share[newest]))} of the newest ({_label(newest, freq)})."
    )
