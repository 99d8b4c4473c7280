"""Shares: who holds the community's content, its helpfulness and its time, and what share of wallet we hold.

* **Content and helpfulness** (:func:`content_shares`): each customer's and each segment's share of all
  content items published, and of all helpfulness votes those items received (``content.helpful_votes``, the
  table's current value), before ``as_of`` (optionally within a window).
* **Time** (:func:`time_shares`): each customer's and segment's share of all seconds spent in interactions
  (``interactions.duration_s``, an optional column). Without the column, or without a single duration, the
  result is unavailable and says why.
* **Wallet** (:func:`wallet_shares`): our revenue from a customer over a window (a year by default) divided by
  their estimated spend in the category (the optional ``category_spend`` table, read with
  :func:`socialvalue.ingest.optional.read_optional`); per customer, per segment and overall. Without the
  table it is omitted, with the reason.

Customers without consent to profiling are not listed one by one: what they hold is one figure,
``unprofiled_share``, and one ``"not profiled"`` segment row, so the customer shares and ``unprofiled_share``
sum to 1, as do the segment shares (customers missing from the segments frame form ``"unassigned"``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from socialvalue.errors import ConfigError
from socialvalue.features import insight as q
from socialvalue.insight._common import (
    as_of_timestamp,
    engine_of,
    fmt_pct,
    frame_of,
    orders_currency,
    require_columns,
)

__all__ = ["Share", "content_shares", "time_shares", "wallet_shares"]

NOT_PROFILED = "not profiled"
UNASSIGNED = "unassigned"


@dataclass(frozen=True)
class Share:
    """One share measure at one date.

    Attributes
    ----------
    measure
        ``"content"``, ``"helpfulness"``, ``"time"`` or ``"wallet"``.
    available
        Whether the data allowed the measure; when not, the frames are ``None`` and ``reason`` says why.
    reason
        Empty when available, else a line beginning ``"unavailable: "`` or ``"omitted: "``.
    by_customer
        Content, helpfulness, time: ``customer_id``, ``amount``, ``share`` (profiled customers with an amount
        above 0, largest first). Wallet: ``customer_id``, ``currency``, ``our_spend``, ``estimated_spend``,
        ``share`` (customers with their own estimate).
    by_segment
        Content, helpfulness, time: ``segment``, ``contributors``, ``amount``, ``share``, and with a segments
        frame ``members``, ``member_share`` and ``index`` (share over member share). Wallet: ``segment``,
        ``currency``, ``members``, ``our_spend``, ``estimated_spend`` (per member times members), ``share``.
        ``None`` without segments.
    total
        The whole: items, votes or seconds; for the wallet, the overall wallet share.
    unprofiled_share
        Share held by customers without consent to profiling (0 for the wallet).
    unit
        ``"items"``, ``"votes"``, ``"seconds"`` or the wallet's currency.
    as_of
        The date (naive UTC).
    window
        The period measured, in words.
    meaning
        One line saying what the numbers mean (the reason when unavailable).
    notes
        Caveats (estimates left out, currencies).
    """

    measure: str
    available: bool
    reason: str
    by_customer: pd.DataFrame | None
    by_segment: pd.DataFrame | None
    total: float
    unprofiled_share: float
    unit: str
    as_of: pd.Timestamp
    window: str
    meaning: str
    notes: tuple[str, ...] = ()


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _are(n: int) -> str:
    return "is" if n == 1 else "are"


def _window(as_of: pd.Timestamp, window_days: float | None) -> tuple[pd.Timestamp | None, str]:
    if window_days is None:
        return None, f"all history before {as_of:%Y-%m-%d}"
    if not (isinstance(window_days, int | float) and math.isfinite(window_days) and window_days > 0):
        raise ConfigError(f"window_days must be a positive number of days, got {window_days!r}")
    return as_of - pd.Timedelta(days=window_days), f"the {window_days:g} days before {as_of:%Y-%m-%d}"


def _segments(segments: pd.DataFrame | None, column: str) -> pd.DataFrame | None:
    if segments is None:
        return None
    require_columns(segments, ["customer_id", column], "segments")
    out = segments[["customer_id", column]].rename(columns={column: "segment"})
    out = out.assign(customer_id=out["customer_id"].astype(str))
    out["segment"] = out["segment"].astype(object).where(out["segment"].notna(), UNASSIGNED).astype(str)
    if out["customer_id"].duplicated().any():
        raise ConfigError("segments lists a customer twice; give each customer one segment")
    return out


def _unavailable(measure: str, reason: str, as_of: pd.Timestamp, window: str, unit: str) -> Share:
    return Share(measure, False, reason, None, None, math.nan, math.nan, unit, as_of, window, reason + ".")


def _concentration(by_customer: pd.DataFrame, noun: str, verb: str) -> str:
    n = len(by_customer)
    top = max(1, math.ceil(n / 10))
    top_share = float(by_customer["share"].iloc[:top].sum() / by_customer["share"].sum())
    shape = "concentrated" if top_share >= 0.5 else "spread out"
    return (
        f"{n:,} customer{'s' if n != 1 else ''} {verb}; the top 10% of them ({top:,}) hold "
        f"{fmt_pct(top_share)} of the profiled customers' {noun} ({shape})"
    )


def _segment_clause(by_segment: pd.DataFrame | None, noun: str) -> str:
    if by_segment is None or "index" not in by_segment:
        return ""
    real = by_segment[by_segment["index"].notna() & (by_segment["members"] > 0)]
    if real.empty:
        return ""
    best = real.sort_values("index", ascending=False).iloc[0]
    if best["index"] < 1.5:
        return "; no segment holds 1.5× its share of the customers or more"
    return (
        f"; segment {best['segment']!r} holds {fmt_pct(float(best['share']))} of the {noun} with "
        f"{fmt_pct(float(best['member_share']))} of the customers"
    )


def _share(
    measure: str,
    amounts: pd.DataFrame,
    column: str,
    unit: str,
    segs: pd.DataFrame | None,
    as_of: pd.Timestamp,
    window: str,
    noun: str,
    verb: str,
) -> Share:
    """A share measure from per-customer ``amounts[column]`` (one NULL-id row for the unprofiled)."""
    total = float(amounts[column].sum())
    profiled = amounts[amounts["customer_id"].notna()]
    unprofiled = float(amounts.loc[amounts["customer_id"].isna(), column].sum())
    by_customer = pd.DataFrame(
        {"customer_id": profiled["customer_id"].astype(str), "amount": profiled[column].astype(np.float64)}
    )
    by_customer = by_customer[by_customer["amount"] > 0]
    by_customer = by_customer.assign(share=by_customer["amount"] / total)
    by_customer = by_customer.sort_values(
        ["amount", "customer_id"], ascending=[False, True], ignore_index=True
    )
    by_segment = None
    if segs is not None:
        joined = by_customer.merge(segs, on="customer_id", how="left")
        joined["segment"] = joined["segment"].fillna(UNASSIGNED)
        agg = joined.groupby("segment", as_index=False).agg(
            contributors=("amount", "size"), amount=("amount", "sum")
        )
        if unprofiled > 0:
            agg = pd.concat(
                [
                    agg,
                    pd.DataFrame(
                        {"segment": [NOT_PROFILED], "contributors": [np.nan], "amount": [unprofiled]}
                    ),
                ],
                ignore_index=True,
            )
        agg["share"] = agg["amount"] / total
        sizes = segs.groupby("segment").size()
        agg["members"] = agg["segment"].map(sizes).astype(np.float64)
        agg["member_share"] = agg["members"] / float(len(segs))
        with np.errstate(divide="ignore", invalid="ignore"):
            agg["index"] = agg["share"] / agg["member_share"]
        by_segment = agg.sort_values(["amount", "segment"], ascending=[False, True], ignore_index=True)
    meaning = _concentration(by_customer, noun, verb) if len(by_customer) else f"no profiled customer {verb}"
    meaning += _segment_clause(by_segment, noun)
    if unprofiled > 0:
        meaning += f"; customers without consent to profiling hold {fmt_pct(unprofiled / total)}"
    meaning = meaning[0].upper() + meaning[1:] + f" ({window})."
    return Share(
        measure, True, "", by_customer, by_segment, total, unprofiled / total, unit, as_of, window, meaning
    )


def content_shares(
    source: Any,
    as_of: Any,
    segments: pd.DataFrame | None = None,
    *,
    segment_column: str = "segment",
    window_days: float | None = None,
) -> dict[str, Share]:
    """Each customer's and segment's share of all content and of all helpfulness votes it received.

    Parameters
    ----------
    source
        A store or an engine.
    as_of
        The date (content published strictly before it counts).
    segments
        ``customer_id`` and ``segment_column`` (e.g. the scores' ``rfm_segment`` or ``tier``), or ``None``.
    segment_column
        The column of ``segments`` naming the segment.
    window_days
        Only content published in the window before ``as_of``; ``None``: all history.

    Returns
    -------
    dict of str to Share
        ``"content"`` (unit: items) and ``"helpfulness"`` (unit: votes).
    """
    engine = engine_of(source)
    ts = as_of_timestamp(as_of)
    start, window = _window(ts, window_days)
    segs = _segments(segments, segment_column)
    amounts = frame_of(engine, q.content_contribution_query(ts, start=start))
    out: dict[str, Share] = {}
    if amounts["content"].sum() == 0:
        out["content"] = _unavailable(
            "content", f"unavailable: no content before {ts:%Y-%m-%d}", ts, window, "items"
        )
    else:
        out["content"] = _share(
            "content", amounts, "content", "items", segs, ts, window, "content", "published content"
        )
    if amounts["voted"].sum() == 0:
        reason = (
            "unavailable: no content has a helpful_votes value" if len(amounts) else out["content"].reason
        )
        out["helpfulness"] = _unavailable("helpfulness", reason, ts, window, "votes")
    elif amounts["helpful_votes"].sum() == 0:
        out["helpfulness"] = _unavailable(
            "helpfulness", "unavailable: the content received no helpfulness votes", ts, window, "votes"
        )
    else:
        out["helpfulness"] = _share(
            "helpfulness",
            amounts,
            "helpful_votes",
            "votes",
            segs,
            ts,
            window,
            "helpfulness votes",
            "received helpfulness votes",
        )
    return out


def time_shares(
    source: Any,
    as_of: Any,
    segments: pd.DataFrame | None = None,
    *,
    segment_column: str = "segment",
    window_days: float | None = None,
) -> Share:
    """Each customer's and segment's share of all seconds spent in interactions (``duration_s``).

    Unavailable (``reason`` beginning ``"unavailable: "``) when the interactions have no ``duration_s``
    column, or no interaction in the window has a duration. Parameters as in :func:`content_shares`.
    """
    engine = engine_of(source)
    ts = as_of_timestamp(as_of)
    start, window = _window(ts, window_days)
    segs = _segments(segments, segment_column)
    columns = frame_of(engine, q.interaction_columns_query()).columns
    if "duration_s" not in columns:
        reason = "unavailable: interactions have no duration_s column"
        return _unavailable("time", reason, ts, window, "seconds")
    amounts = frame_of(engine, q.time_contribution_query(ts, start=start))
    if amounts["timed"].sum() == 0:
        reason = f"unavailable: no interaction in {window} has a duration_s value"
        return _unavailable("time", reason, ts, window, "seconds")
    share = _share("time", amounts, "seconds", "seconds", segs, ts, window, "time", "spent time with us")
    timed, n = int(amounts["timed"].sum()), int(amounts["interactions"].sum())
    if timed < n:
        note = f"{n - timed:,} of {n:,} interactions have no duration and count as 0 seconds"
        share = replace(share, notes=(note,))
    return share


def _latest_estimates(spend: pd.DataFrame, as_of: pd.Timestamp) -> tuple[pd.DataFrame, list[str]]:
    """Estimates applying at ``as_of``: dated up to it (or undated), the latest per key."""
    require_columns(spend, ["customer_id", "segment", "category", "estimated_spend"], "category_spend")
    est = spend.copy()
    if "currency" not in est:
        est["currency"] = "XXX"
    if "as_of" not in est:
        est["as_of"] = pd.NaT
    est["as_of"] = pd.to_datetime(est["as_of"])
    est["estimated_spend"] = pd.to_numeric(est["estimated_spend"], errors="coerce").astype(np.float64)
    notes = []
    later = est["as_of"] > as_of
    if later.any():
        n = int(later.sum())
        notes.append(f"{_count(n, 'estimate')} dated after {as_of:%Y-%m-%d} {_are(n)} not used")
    est = est[~later]
    key = np.where(
        est["customer_id"].notna(), "c:" + est["customer_id"].astype(str), "s:" + est["segment"].astype(str)
    )
    # undated estimates sort first, so a dated one of the same key wins
    est = est.assign(key=key).sort_values("as_of", na_position="first", kind="stable")
    est = est.groupby(["key", "category"], as_index=False).tail(1)
    return est, notes


def wallet_shares(
    source: Any,
    as_of: Any,
    category_spend: pd.DataFrame | None = None,
    segments: pd.DataFrame | None = None,
    *,
    segment_column: str = "segment",
    window_days: float = 365,
) -> Share:
    """Our revenue over each customer's (or segment member's) estimated spend in the category.

    Parameters
    ----------
    source
        A store or an engine.
    as_of
        The date: our revenue in the ``window_days`` before it counts, and the latest estimate dated up to it
        (or undated) per customer or segment and category.
    category_spend
        The validated optional table (:func:`socialvalue.ingest.optional.read_optional`): ``customer_id`` or
        ``segment``, ``category``, ``estimated_spend`` (over the window, per customer or per segment member),
        ``currency``, ``as_of``. ``None``: the wallet share is omitted, with the reason.
    segments
        ``customer_id`` and ``segment_column``: needed for the rows of ``category_spend`` that name a segment.
    segment_column
        The column of ``segments`` naming the segment.
    window_days
        The period our revenue is summed over; the estimates must cover the same period.

    Returns
    -------
    Share
        Orders carry no category, so all our revenue from a customer is set against the sum of their estimated
        spend over the categories listed. Estimates are compared with revenue in their own currency only.
    """
    engine = engine_of(source)
    ts = as_of_timestamp(as_of)
    start, window = _window(ts, window_days)
    currency, _ = orders_currency(engine, ts)
    if category_spend is None:
        reason = (
            "omitted: no category-spend table was supplied (customer_id or segment, category, estimated_spend, "
            "currency, as_of)"
        )
        return _unavailable("wallet", reason, ts, window, currency)
    est, notes = _latest_estimates(category_spend, ts)
    segs = _segments(segments, segment_column)
    ours = frame_of(engine, q.spend_query(ts, start=start))
    ours = ours.assign(customer_id=ours["customer_id"].astype(str), currency=ours["currency"].astype(str))
    spend = ours.set_index(["customer_id", "currency"])["spend"]
    cust = est[est["customer_id"].notna()]
    cust = (
        cust.assign(customer_id=cust["customer_id"].astype(str))
        .groupby(["customer_id", "currency"], as_index=False)["estimated_spend"]
        .sum()
    )
    keys = pd.MultiIndex.from_frame(cust[["customer_id", "currency"]])
    cust["our_spend"] = spend.reindex(keys).fillna(0.0).to_numpy()
    by_segment = None
    seg_rows = est[est["customer_id"].isna()]
    covered = cust[["customer_id", "currency", "our_spend", "estimated_spend"]]
    if len(seg_rows) and segs is None:
        notes.append(
            f"{_count(len(seg_rows), 'segment estimate')} {_are(len(seg_rows))} not used: no segments were given"
        )
    elif len(seg_rows):
        per_member = seg_rows.groupby(["segment", "currency"], as_index=False)["estimated_spend"].sum()
        members = per_member.merge(segs, on="segment", how="inner")
        mkeys = pd.MultiIndex.from_frame(members[["customer_id", "currency"]])
        members["our_spend"] = spend.reindex(mkeys).fillna(0.0).to_numpy()
        by_segment = members.groupby(["segment", "currency"], as_index=False).agg(
            members=("customer_id", "size"),
            our_spend=("our_spend", "sum"),
            estimated_spend=("estimated_spend", "sum"),
        )
        unknown = sorted(set(per_member["segment"]) - set(segs["segment"]))
        if unknown:
            notes.append(f"estimates for segments without members are not used: {', '.join(unknown)}")
        with np.errstate(divide="ignore", invalid="ignore"):
            by_segment["share"] = np.where(
                by_segment["estimated_spend"] > 0,
                by_segment["our_spend"] / by_segment["estimated_spend"],
                np.nan,
            )
        own = set(covered["customer_id"])
        rest = members[~members["customer_id"].isin(own)]
        covered = pd.concat([covered, rest[["customer_id", "currency", "our_spend", "estimated_spend"]]])
    with np.errstate(divide="ignore", invalid="ignore"):
        cust["share"] = np.where(
            cust["estimated_spend"] > 0, cust["our_spend"] / cust["estimated_spend"], np.nan
        )
    by_customer = cust[["customer_id", "currency", "our_spend", "estimated_spend", "share"]].sort_values(
        "customer_id", ignore_index=True
    )
    foreign = sorted(set(covered["currency"]) - set(ours["currency"]))
    if foreign:
        notes.append(
            f"estimates in {', '.join(foreign)}, a currency without our revenue, count our spend as 0"
        )
    est_total = float(covered["estimated_spend"].sum())
    if covered.empty or est_total <= 0:
        reason = "unavailable: no estimate applies to a customer at this date (or all estimates are 0)"
        out = _unavailable("wallet", reason, ts, window, currency)
        return replace(out, notes=tuple(notes))
    total = float(covered["our_spend"].sum()) / est_total
    units = sorted(set(covered["currency"]))
    unit = units[0] if len(units) == 1 else "+".join(units)
    meaning = (
        f"We hold {fmt_pct(total)} of {len(covered):,} customers' estimated category spend ({unit}, {window})"
    )
    if by_segment is not None and by_segment["share"].notna().sum() > 1:
        ranked = by_segment.dropna(subset=["share"]).sort_values("share", ascending=False)
        hi, lo = ranked.iloc[0], ranked.iloc[-1]
        meaning += f"; segment {hi['segment']!r} {fmt_pct(float(hi['share']))}, {lo['segment']!r} {fmt_pct(float(lo['share']))}"
    return Share(
        "wallet",
        True,
        "",
        by_customer,
        by_segment,
        total,
        0.0,
        unit,
        ts,
        window,
        meaning + ".",
        tuple(notes),
    )
