"""Human-readable reasons for churn alerts ("no purchase for 210 days; interactions down 80% vs ...").

A reason names a customer's top risk-raising drivers: the features with the largest positive ablation
contribution (:meth:`socialvalue.models.churn.ChurnClassifier.contributions`), each phrased from the
customer's own values. Phrases are built column-wise with pandas string operations over the alerted rows,
one feature at a time; nothing loops over customers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from socialvalue.models._rules import numeric
from socialvalue.models.lifecycle import trend

__all__ = ["PHRASES", "RISK_DIRECTION", "model_reasons", "phrase", "reasons_from_contributions", "risky_side"]

Phrase = Callable[[pd.DataFrame, pd.DataFrame], pd.Series]


def _get(frame: pd.DataFrame, design: pd.DataFrame, col: str) -> np.ndarray:
    if col in design.columns:
        return design[col].to_numpy(dtype=float)
    if col in frame.columns:
        return numeric(frame, col)
    return np.full(len(frame), np.nan)


def _int_str(x: np.ndarray, index: pd.Index) -> pd.Series:
    x = np.asarray(x, dtype=float)
    ok = np.isfinite(x)
    s = pd.Series(np.where(ok, np.round(np.where(ok, x, 0)), 0).astype(np.int64), index=index).astype(str)
    return s.where(ok, "?")


def _one_decimal(x: np.ndarray, index: pd.Index) -> pd.Series:
    tenths = np.round(np.nan_to_num(np.asarray(x, dtype=float)) * 10).astype(np.int64)
    whole = pd.Series(tenths // 10, index=index).astype(str)
    return whole + "." + pd.Series(tenths % 10, index=index).astype(str)


def _days(label: str, never: str) -> Phrase:
    def fn(frame: pd.DataFrame, design: pd.DataFrame, col: str) -> pd.Series:
        x = _get(frame, design, col)
        return (label + " " + _int_str(x, frame.index) + " days").where(np.isfinite(x), never)

    return fn


def _window_change(noun: str, last: str, prev: str) -> Phrase:
    def fn(frame: pd.DataFrame, design: pd.DataFrame, col: str) -> pd.Series:
        a, b = _get(frame, design, last), _get(frame, design, prev)
        idx = frame.index
        if np.isnan(a).all() or np.isnan(b).all():  # only the trend itself is known
            t = _get(frame, design, col)
            down = np.round(100 * -2 * t / (1 - t + (t == 1)))  # (b - a) / b from t = (a - b) / (a + b)
            return noun + " down " + _int_str(down, idx) + "% vs previous 90 days"
        with np.errstate(divide="ignore", invalid="ignore"):
            pct = np.where(b > 0, 100 * (b - a) / np.where(b > 0, b, 1), np.nan)
        down = noun + " down " + _int_str(pct, idx) + "% vs previous 90 days"
        other = _int_str(a, idx) + " " + noun + " in the last 90 days vs " + _int_str(b, idx) + " before"
        return down.where((b > 0) & (a < b), other)

    return fn


def _count(template_before: str, template_after: str) -> Phrase:
    def fn(frame: pd.DataFrame, design: pd.DataFrame, col: str) -> pd.Series:
        return template_before + _int_str(_get(frame, design, col), frame.index) + template_after

    return fn


def _referrer(frame: pd.DataFrame, design: pd.DataFrame, col: str) -> pd.Series:
    x = _get(frame, design, col)
    out = pd.Series("referrer still active", index=frame.index, dtype=object)
    out[x > 0] = "their referrer churned"
    out[np.isnan(x)] = "not referred by another customer"
    return out


def _quiet(frame: pd.DataFrame, design: pd.DataFrame, col: str) -> pd.Series:
    x = _get(frame, design, col)
    s = _int_str(100 * x, frame.index) + "% of the people they interact with went quiet"
    return s.where(np.isfinite(x), "no one to interact with")


def _overdue(frame: pd.DataFrame, design: pd.DataFrame, col: str) -> pd.Series:
    x = _get(frame, design, col)
    s = _one_decimal(x, frame.index) + "x their usual gap between orders without buying"
    return s.where(np.isfinite(x), "only one purchase so far")


#: Feature name -> phrase builder ``fn(frame, design, column) -> Series of str``; others get "column = value".
PHRASES: dict[str, Phrase] = {
    "days_since_last_purchase": _days("no purchase for", "never purchased"),
    "days_since_last_interaction": _days("no interaction for", "never interacted"),
    "overdue": _overdue,
    "purchase_trend": _window_change("orders", "orders_last_90d", "orders_prev_90d"),
    "interaction_trend": _window_change("interactions", "interactions_last_90d", "interactions_prev_90d"),
    "orders_last_90d": _count("", " orders in the last 90 days"),
    "interactions_last_90d": _count("", " interactions in the last 90 days"),
    "n_orders": _count("", " orders in total"),
    "n_orders_90d": _count("", " orders in the last 90 days"),
    "n_orders_365d": _count("", " orders in the last 365 days"),
    "tenure_days": _count("customer for ", " days"),
    "total_spend": _count("total spend ", ""),
    "spend_365d": _count("spend ", " in the last 365 days"),
    "n_returns": _count("", " returns"),
    "int_given_90d": _count("", " interactions in the last 90 days"),
    "int_given_365d": _count("", " interactions in the last 365 days"),
    "distinct_partners_365d": _count("interacts with ", " people"),
    "referrer_churned": _referrer,
    "partners_quiet_share": _quiet,
}


def phrase(frame: pd.DataFrame, design: pd.DataFrame, column: str) -> pd.Series:
    """The phrase describing ``column`` for every row of ``frame`` (``design`` holds derived columns)."""
    fn = PHRASES.get(column)
    if fn is not None:
        return fn(frame, design, column)
    x = _get(frame, design, column)
    return column + " = " + pd.Series(np.round(x, 2), index=frame.index).astype(str)


#: Which side of the healthy reference is risky, per feature: +1 = a higher value is a warning sign, -1 = a
#: lower one. A driver is named only when the customer's value is on its risky side (features not listed are
#: not checked).
RISK_DIRECTION: dict[str, int] = {
    **dict.fromkeys(
        (
            "days_since_last_purchase",
            "days_since_last_interaction",
            "overdue",
            "n_returns",
            "returned_amount",
            "partners_quiet_share",
            "referrer_churned",
            "ipt_mean_days",
        ),
        1,
    ),
    **dict.fromkeys(
        (
            "n_orders",
            "total_spend",
            "n_orders_90d",
            "n_orders_365d",
            "spend_365d",
            "orders_last_90d",
            "interactions_last_90d",
            "int_given_90d",
            "int_received_90d",
            "int_given_365d",
            "int_received_365d",
            "distinct_partners_365d",
            "purchase_trend",
            "interaction_trend",
            "followers",
            "following",
            "referrals_made",
            "referred_buyers",
            "content_total",
        ),
        -1,
    ),
}

#: Absolute conditions a driver's value must meet to be named, whatever the reference: a trend must be
#: falling, "overdue" at least one usual gap, a referrer must have churned (or the customer not be referred).
_ABSOLUTE: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "purchase_trend": lambda x: x < 0,
    "interaction_trend": lambda x: x < 0,
    "overdue": lambda x: ~(x < 1),
    "referrer_churned": lambda x: ~(x == 0),
}


def risky_side(design: pd.DataFrame, frame: pd.DataFrame, reference: pd.Series | None) -> pd.DataFrame:
    """Whether each value (columns of ``design``) is a warning sign worth naming as a churn driver.

    True when the value is on the risky side of ``reference`` (:data:`RISK_DIRECTION`) and meets the
    absolute condition of its feature (a falling trend, ...). Missing values are True: their phrases say what
    is missing ("never purchased", "not referred by another customer").
    """
    out = pd.DataFrame(True, index=design.index, columns=design.columns)
    for col in design.columns:
        x = _get(frame, design, col)
        known = np.isfinite(x)
        ok = np.ones(len(x), dtype=bool)
        if col in _ABSOLUTE:
            ok &= _ABSOLUTE[col](x)
        sign = RISK_DIRECTION.get(col)
        if reference is not None and sign is not None and col in reference.index:
            ref = float(reference[col])
            if np.isfinite(ref):
                ok &= ~known | (sign * (x - ref) > 0)
        out[col] = ok | ~known
    return out


def reasons_from_contributions(
    frame: pd.DataFrame,
    design: pd.DataFrame,
    contributions: pd.DataFrame,
    top: int = 2,
    *,
    reference: pd.Series | None = None,
) -> pd.Series:
    """Join the phrases of each row's ``top`` largest positive contributions with "; ".

    A contribution counts only when the feature's value is a warning sign (:func:`risky_side` against
    ``reference``, the healthy customers' medians): the model may raise the risk of a customer who bought 7
    days ago, but "no purchase for 7 days" is not a reason to call them. Rows with no such contribution get
    "risk close to the typical customer's".
    """
    c = contributions.to_numpy(dtype=float).copy()
    sides = risky_side(design.reindex(columns=contributions.columns), frame, reference)
    c[~sides.to_numpy()] = -np.inf
    names = np.asarray(contributions.columns)
    top = min(top, c.shape[1])
    order = np.argsort(-c, axis=1, kind="stable")[:, :top]
    positive = np.take_along_axis(c, order, axis=1) > 0
    result = pd.Series("", index=frame.index, dtype=object)
    for k in range(top):
        part = pd.Series("", index=frame.index, dtype=object)
        for j in np.unique(order[:, k]):
            rows = (order[:, k] == j) & positive[:, k]
            if rows.any():
                part[rows] = phrase(frame.loc[rows], design.loc[rows], names[j]).to_numpy()
        sep = np.where((result != "") & (part != ""), "; ", "")
        result = result + sep + part
    return result.where(result != "", "risk close to the typical customer's").rename("churn_reason")


def _two_decimals(x: np.ndarray, index: pd.Index) -> tuple[np.ndarray, pd.Series]:
    hundredths = np.round(np.clip(np.nan_to_num(np.asarray(x, dtype=float)), 0, None) * 100).astype(np.int64)
    text = (
        pd.Series(hundredths // 100, index=index).astype(str)
        + "."
        + pd.Series(hundredths % 100, index=index).astype(str).str.zfill(2)
    )
    return hundredths, text


def _join(parts: list[pd.Series], index: pd.Index, limit: int | None = None) -> pd.Series:
    """Join the non-empty parts of each row with "; ", keeping at most ``limit`` of them."""
    result = pd.Series("", index=index, dtype=object)
    used = np.zeros(len(index), dtype=np.int64)
    for part in parts:
        take = (part != "").to_numpy() & (used < (limit or len(parts)))
        part = part.where(take, "")
        sep = np.where((result != "") & take, "; ", "")
        result = result + sep + part
        used += take
    return result


#: Order of the parts of a reason for each published churn source: the champion's own figure comes first.
_PART_ORDER: dict[str, tuple[str, ...]] = {
    "model": ("alive", "expected", "gap", "count", "trends"),
    "classifier": ("alive", "gap", "count", "trends", "expected"),
    "recency": ("gap", "alive", "count", "trends", "expected"),
    "recent_count": ("count", "gap", "alive", "trends", "expected"),
}


def model_reasons(
    features: pd.DataFrame,
    p_alive: np.ndarray,
    expected_transactions: np.ndarray | None = None,
    *,
    risk: np.ndarray | None = None,
    source: str = "model",
    horizon_days: int | None = None,
    p_alive_threshold: float = 0.2,
    long_gap_days: float = 90.0,
    overdue_ratio: float = 1.5,
    recent_count_column: str = "n_orders_365d",
    max_parts: int = 3,
) -> pd.Series:
    """Reasons for a churn alert without a classifier, each part chosen by a threshold on the figure it cites.

    Parts (only those whose figure is a warning sign; the published ``source``'s own figure first):

    * P(alive) below ``p_alive_threshold`` — ``"likely lapsed (P(alive) 0.12)"``; below 0.5 — ``"more likely
      lapsed than active (P(alive) 0.46)"``; a higher P(alive) is never cited as a warning;
    * fewer than one purchase expected over the horizon while P(alive) is at least 0.5 (the risk comes from a
      slow buyer, not a lapsed one) — ``"0.4 purchases expected in the next 182 days"``;
    * at least ``long_gap_days`` without a purchase, or ``overdue_ratio`` times the usual gap —
      ``"no purchase for 210 days (2.3x their usual gap)"``; ``"never purchased"``;
    * at most one purchase in the recent window — ``"no purchase in the last 365 days"``, ``"only 1 purchase
      in the last 365 days"``;
    * a falling 90-day purchase or interaction trend — ``"interactions down 80% vs previous 90 days"``.

    At most ``max_parts`` parts are kept. Figures are compared as they are printed (rounded), so a reason never shows "P(alive) 0.20" as below 0.2.
    A row with none of these gets ``"churn risk 0.31; no single warning sign stands out"`` (or without the
    risk when ``risk`` is None).
    """
    idx = features.index
    n = len(features)
    empty = pd.DataFrame(index=idx)
    blank = pd.Series("", index=idx, dtype=object)
    parts: dict[str, pd.Series] = {}

    hundredths, p_text = _two_decimals(p_alive, idx)
    p_known = np.isfinite(np.asarray(p_alive, dtype=float))
    lapsed = p_known & (hundredths < round(100 * p_alive_threshold))
    leaning = p_known & ~lapsed & (hundredths < 50)
    alive = blank.copy()
    alive[lapsed] = ("likely lapsed (P(alive) " + p_text[lapsed] + ")").to_numpy()
    alive[leaning] = ("more likely lapsed than active (P(alive) " + p_text[leaning] + ")").to_numpy()
    parts["alive"] = alive

    expected = blank.copy()
    if expected_transactions is not None and horizon_days is not None:
        e = np.asarray(expected_transactions, dtype=float)
        tenths = np.round(np.nan_to_num(e, nan=np.inf) * 10)
        slow = p_known & (hundredths >= 50) & (tenths < 10)
        if slow.any():
            text = _one_decimal(e, idx) + f" purchases expected in the next {horizon_days} days"
            expected[slow] = text[slow].to_numpy()
    parts["expected"] = expected

    gap = blank.copy()
    if "days_since_last_purchase" in features.columns:
        d = numeric(features, "days_since_last_purchase")
        days = np.round(np.nan_to_num(d, nan=-1.0))
        over = np.full(n, np.nan)
        if "ipt_mean_days" in features.columns:
            ipt = numeric(features, "ipt_mean_days")
            with np.errstate(divide="ignore", invalid="ignore"):
                over = np.where(ipt > 0, d / np.where(ipt > 0, ipt, 1.0), np.nan)
        over_tenths = np.round(np.nan_to_num(over, nan=0.0) * 10)
        is_over = over_tenths >= round(10 * overdue_ratio)
        long = np.isfinite(d) & ((days >= long_gap_days) | is_over)
        text = "no purchase for " + _int_str(d, idx) + " days"
        text = text.where(~is_over, text + " (" + _one_decimal(over, idx) + "x their usual gap)")
        gap[long] = text[long].to_numpy()
        never = ~np.isfinite(d)
        if "n_orders" in features.columns:
            never &= ~(numeric(features, "n_orders") > 0)
        gap[never] = "never purchased"
    parts["gap"] = gap

    count = blank.copy()
    if recent_count_column in features.columns:
        c = np.round(numeric(features, recent_count_column))
        window = recent_count_column.removeprefix("n_orders_").removesuffix("d")
        words = f"the last {window} days" if window.isdigit() else recent_count_column
        zero = (c == 0) & (gap == "").to_numpy()  # "no purchase for 400 days" already says it
        count[zero] = f"no purchase in {words}"
        count[c == 1] = f"only 1 purchase in {words}"
    parts["count"] = count

    trends: list[pd.Series] = []
    for name, last, prev in (
        ("purchase_trend", "orders_last_90d", "orders_prev_90d"),
        ("interaction_trend", "interactions_last_90d", "interactions_prev_90d"),
    ):
        part = blank.copy()
        if {last, prev} <= set(features.columns):
            falling = trend(numeric(features, last), numeric(features, prev)) < 0
            if falling.any():
                part[falling] = phrase(features.loc[falling], empty.loc[falling], name).to_numpy()
        trends.append(part)
    order = _PART_ORDER.get(source, _PART_ORDER["model"])
    ordered = [part for key in order for part in (trends if key == "trends" else [parts[key]])]
    result = _join(ordered, idx, max_parts)
    if risk is not None:
        _, r_text = _two_decimals(risk, idx)
        fallback = "churn risk " + r_text + "; no single warning sign stands out"
    else:
        fallback = pd.Series("no single warning sign stands out", index=idx, dtype=object)
    return result.where(result != "", fallback).rename("churn_reason")
