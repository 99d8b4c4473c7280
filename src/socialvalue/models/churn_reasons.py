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

__all__ = ["PHRASES", "model_reasons", "phrase", "reasons_from_contributions"]

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


def reasons_from_contributions(
    frame: pd.DataFrame, design: pd.DataFrame, contributions: pd.DataFrame, top: int = 2
) -> pd.Series:
    """Join the phrases of each row's ``top`` largest positive contributions with "; ".

    Rows with no positive contribution get "risk close to the typical customer's".
    """
    c = contributions.to_numpy()
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


def model_reasons(features: pd.DataFrame, p_alive: np.ndarray) -> pd.Series:
    """Reasons for the model-based score: P(alive), recency and whichever 90-day trend is falling.

    E.g. ``"P(alive) 0.12; no purchase for 210 days; interactions down 80% vs previous 90 days"``.
    """
    idx = features.index
    empty = pd.DataFrame(index=idx)
    p = np.asarray(p_alive, dtype=float)
    hundredths = np.round(np.clip(np.nan_to_num(p), 0, 1) * 100).astype(np.int64)
    result = (
        "P(alive) "
        + pd.Series(hundredths // 100, index=idx).astype(str)
        + "."
        + pd.Series(hundredths % 100, index=idx).astype(str).str.zfill(2)
    )
    if "days_since_last_purchase" in features.columns:
        result = result + "; " + phrase(features, empty, "days_since_last_purchase")
    for name, last, prev in (
        ("purchase_trend", "orders_last_90d", "orders_prev_90d"),
        ("interaction_trend", "interactions_last_90d", "interactions_prev_90d"),
    ):
        if {last, prev} <= set(features.columns):
            falling = trend(numeric(features, last), numeric(features, prev)) < 0
            if falling.any():
                part = phrase(features.loc[falling], empty.loc[falling], name)
                result = result.copy()
                result[falling] = (result[falling] + "; " + part).to_numpy()
    return result.rename("churn_reason")
