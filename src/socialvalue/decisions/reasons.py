"""Plain-words reasons for decisions, built column-wise (no per-customer Python loop).

A driver's template such as ``"purchases slowing (P(alive) {p_alive:.2f})"`` is split once into literals and
fields; each field is formatted for all rows at once with :func:`numpy.char.mod`, and the pieces are joined with
vectorized string concatenation.

A driver whose words make a claim ("purchases slowing", "churned", "new customer", "one purchase so far", "no
review yet") is shown only for the customers whose figures support the claim (:data:`CLAIMS`), whatever the
playbook's ``when`` says: a reason never contradicts the numbers beside it. "Purchases slowing" is supported
by P(alive) below :data:`SLOWING_P_ALIVE` or by a purchase trend at or below :data:`SLOWING_TREND`; when the
driver cites P(alive) but only the trend supports the claim, the trend is cited instead.
"""

from __future__ import annotations

import re
import string

import numpy as np
import pandas as pd

from socialvalue.decisions.playbook import Action, Condition

__all__ = [
    "CHURNED_P_ALIVE",
    "CLAIMS",
    "NEW_CUSTOMER_DAYS",
    "SLOWING_P_ALIVE",
    "SLOWING_TREND",
    "claim_support",
    "format_template",
    "reasons_for",
]

#: "Purchases slowing" is true when P(alive) is below this ...
SLOWING_P_ALIVE = 0.5
#: ... or when orders fell at least this much quarter on quarter (the lifecycle trend: -1/3 = halved).
SLOWING_TREND = -1 / 3
#: "Churned" is true in the churned lifecycle stage or when P(alive) is below this.
CHURNED_P_ALIVE = 0.2
#: "New customer" is true up to this many days of tenure.
NEW_CUSTOMER_DAYS = 90
#: The phrase cited instead of P(alive) when only the purchase trend shows slowing.
SLOWING_BY_TREND = (
    "purchases slowing ({orders_last_90d:.0f} orders in the last 90 days vs {orders_prev_90d:.0f} before)"
)


def _num(frame: pd.DataFrame, column: str) -> np.ndarray | None:
    if column not in frame.columns:
        return None
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _purchase_trend(frame: pd.DataFrame) -> np.ndarray | None:
    trend = _num(frame, "purchase_trend")
    if trend is not None:
        return trend
    last, prev = _num(frame, "orders_last_90d"), _num(frame, "orders_prev_90d")
    if last is None or prev is None:
        return None
    total = last + prev
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (last - prev) / np.where(total > 0, total, 1.0), 0.0)


def _below(values: np.ndarray | None, limit: float, n: int) -> np.ndarray:
    if values is None:
        return np.zeros(n, dtype=bool)
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(values, nan=np.inf) < limit


def _slowing_by_p_alive(frame: pd.DataFrame) -> np.ndarray:
    return _below(_num(frame, "p_alive"), SLOWING_P_ALIVE, len(frame))


def _slowing_by_trend(frame: pd.DataFrame) -> np.ndarray:
    return _below(_purchase_trend(frame), SLOWING_TREND + 1e-9, len(frame))


def _churned(frame: pd.DataFrame) -> np.ndarray:
    stage = (
        (frame["lifecycle_stage"].astype("string") == "churned").fillna(False).to_numpy(dtype=bool)
        if "lifecycle_stage" in frame.columns
        else np.zeros(len(frame), dtype=bool)
    )
    return stage | _below(_num(frame, "p_alive"), CHURNED_P_ALIVE, len(frame))


def _equals(column: str, value: float):
    def check(frame: pd.DataFrame) -> np.ndarray:
        v = _num(frame, column)
        return np.ones(len(frame), dtype=bool) if v is None else (v == value)

    return check


def _new(frame: pd.DataFrame) -> np.ndarray:
    v = _num(frame, "tenure_days")
    if v is None:
        return np.ones(len(frame), dtype=bool)
    return _below(v, NEW_CUSTOMER_DAYS + 1e-9, len(frame))


#: Claim (a regular expression on a driver's text) → the customers whose figures support it. A claim whose
#: columns are absent from the frame is not checked, except "purchases slowing", which needs evidence.
CLAIMS: tuple[tuple[re.Pattern[str], object], ...] = (
    (re.compile(r"\bslowing\b", re.I), lambda f: _slowing_by_p_alive(f) | _slowing_by_trend(f)),
    (re.compile(r"^\s*churned\b", re.I), _churned),
    (re.compile(r"\bnew customer\b", re.I), _new),
    (re.compile(r"\bone purchase so far\b", re.I), _equals("n_orders", 1)),
    (re.compile(r"\bno review yet\b", re.I), _equals("content_total", 0)),
)


def claim_support(text: str, frame: pd.DataFrame) -> np.ndarray:
    """Which rows of ``frame`` support every claim the driver text ``text`` makes (all rows if it makes none).

    Examples
    --------
    >>> import pandas as pd
    >>> claim_support("purchases slowing (P(alive) {p_alive:.2f})", pd.DataFrame({"p_alive": [0.98, 0.3]}))
    array([False,  True])
    """
    mask = np.ones(len(frame), dtype=bool)
    for pattern, check in CLAIMS:
        if pattern.search(text):
            mask &= np.asarray(check(frame), dtype=bool)  # type: ignore[operator]
    return mask


_SPEC = re.compile(r"^(?P<prec>\.\d+)?(?P<type>[fdgs%])?$")


def _format_column(values: pd.Series, spec: str) -> np.ndarray:
    m = _SPEC.match(spec or "")
    if values.dtype.kind in "biuf" and m and m.group("type") in ("f", "d", "g", None):
        arr = values.to_numpy(dtype=float, na_value=np.nan)
        if m.group("type") == "d":
            return np.char.mod("%d", np.nan_to_num(arr).astype(np.int64))
        prec = m.group("prec") or (".0" if m.group("type") is None and values.dtype.kind in "biu" else ".2")
        return np.char.mod(f"%{prec}f", arr)
    return values.astype("string").fillna("").to_numpy(dtype=str)


def format_template(template: str, frame: pd.DataFrame) -> np.ndarray:
    """Format ``template`` (``str.format`` syntax) for every row of ``frame`` at once.

    Supports plain fields and the format specs ``.Nf``, ``d`` and ``g``; other text is copied as is.
    """
    out = np.full(len(frame), "", dtype=object)
    for literal, field, spec, _conv in string.Formatter().parse(template):
        if literal:
            out = out + literal
        if field is not None:
            out = out + _format_column(frame[field], spec or "").astype(object)
    return out


def _mask(conditions: list[Condition], frame: pd.DataFrame) -> np.ndarray:
    mask = np.ones(len(frame), dtype=bool)
    for cond in conditions:
        mask &= cond.evaluate(frame)
    return mask


def reasons_for(action: Action, frame: pd.DataFrame) -> np.ndarray:
    """Reason strings for the customers of ``frame`` who were given ``action``.

    Each reason joins the action's drivers whose conditions hold, then ``→ <label>``, e.g.
    ``"top 2% social value (spread 41 people), purchases slowing (P(alive) 0.46) → Influencer programme"``.
    """
    n = len(frame)
    if n == 0:
        return np.array([], dtype=object)
    view = frame
    if "csv_percentile" in frame.columns and "top_pct" not in frame.columns:
        view = frame.assign(
            top_pct=np.maximum(
                1.0, np.ceil(100.0 - frame["csv_percentile"].astype(float))
            )  # percentile on 0-100
        )
    text = np.full(n, "", dtype=object)
    for driver in action.drivers:
        mask = _mask(driver.when, view) & claim_support(driver.text, view)
        if not mask.any():
            continue
        phrase = np.full(n, "", dtype=object)
        templates = np.full(n, driver.text, dtype=object)
        if "{p_alive" in driver.text and "slowing" in driver.text.lower():
            # the claim rests on the trend alone for these rows: cite the trend, not a high P(alive)
            by_trend = mask & ~_slowing_by_p_alive(view)
            if {"orders_last_90d", "orders_prev_90d"} <= set(view.columns):
                templates[by_trend] = SLOWING_BY_TREND
            else:
                mask &= ~by_trend
        for template in dict.fromkeys(templates[mask]):
            rows = mask & (templates == template)
            phrase[rows] = format_template(template, view.loc[rows])
        sep = np.where((text != "") & mask, ", ", "")
        text = text + sep.astype(object) + phrase
    arrow = np.where(text != "", " → ", "→ ").astype(object)
    return text + arrow + action.label
