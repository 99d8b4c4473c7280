"""One way to write each kind of number in the report, and human column labels.

Money always carries its currency (:func:`money`), shares are whole percentages (:func:`share`), counts
have thousands separators (:func:`count`). Tables go through :func:`human_columns`, so no header is
``snake_case``: known columns have a label in :data:`LABELS`, any other is turned into a sentence-case phrase
by :func:`human_label`.
"""

from __future__ import annotations

import math

import pandas as pd

__all__ = ["LABELS", "count", "human_columns", "human_label", "money", "number", "share"]

#: Money at or above this absolute amount is written without decimals; below it, with two.
MONEY_DECIMALS_BELOW = 100.0

#: Column name → the header shown in the report's tables.
LABELS: dict[str, str] = {
    "customer_id": "Customer",
    "clv": "CLV",
    "csv": "Customer social value",
    "mean_clv": "Mean CLV",
    "p_alive": "P(alive)",
    "auc": "AUC",
    "baseline_auc": "AUC of recency alone",
    "mae": "Mean absolute error",
    "rmse": "Root mean squared error",
    "cv_rmse": "Cross-validated RMSE",
    "crv": "Referral value",
    "civ": "Influence value",
    "n_treated": "Treated",
    "n_control": "Control",
    "top_decile": "Top-decile capture",
    "top_decile_capture": "Top-decile capture",
    "spearman": "Spearman",
    "predicted_total": "Predicted total",
    "actual_total": "Actual total",
    "net_value": "Expected net value",
    "expected_value": "Expected value",
    "label": "Action",
    "revenue share": "Share of revenue",
    "gini": "Gini",
    "aic": "AIC",
    "bic": "BIC",
    "corr": "Correlation",
    "log_likelihood": "Log-likelihood",
    "gini_normalized": "Gini (normalized)",
    "r": "r",
    "alpha": "alpha",
    "a": "a",
    "b": "b",
}


def human_label(name: object) -> str:
    """The header for column ``name``: its entry in :data:`LABELS`, else ``snake_case`` → ``"Snake case"``.

    Examples
    --------
    >>> human_label("days_since_last_purchase")
    'Days since last purchase'
    >>> human_label("clv")
    'CLV'
    """
    key = str(name)
    if key in LABELS:
        return LABELS[key]
    words = key.replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else key


def human_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every column (and a named index) relabelled by :func:`human_label`."""
    out = frame.rename(columns=human_label)
    if out.index.name is not None:
        out.index.name = human_label(out.index.name)
    return out


def _finite(v: object) -> float | None:
    try:
        x = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def money(value: object, currency: str) -> str:
    """An amount with its currency: ``"12,345 EUR"``, ``"41.20 EUR"`` below 100, ``"n/a"`` when missing.

    Examples
    --------
    >>> money(12345.6, "EUR"), money(41.2, "EUR"), money(float("nan"), "EUR")
    ('12,346 EUR', '41.20 EUR', 'n/a')
    """
    x = _finite(value)
    if x is None:
        return "n/a"
    digits = 0 if abs(x) >= MONEY_DECIMALS_BELOW else 2
    return f"{x:,.{digits}f} {currency}"


def share(value: object) -> str:
    """A share in [0, 1] as a whole percentage (``"42%"``), ``"<1%"`` for small positive shares.

    Examples
    --------
    >>> share(0.4249), share(0.001), share(0.0)
    ('42%', '<1%', '0%')
    """
    x = _finite(value)
    if x is None:
        return "n/a"
    if 0 < x < 0.005:
        return "<1%"
    return f"{x:.0%}"


def count(value: object) -> str:
    """A count with thousands separators (``"20,000"``).

    Examples
    --------
    >>> count(20000.0)
    '20,000'
    """
    x = _finite(value)
    return "n/a" if x is None else f"{round(x):,d}"


def number(value: object, digits: int = 2) -> str:
    """A plain statistic (AUC, Spearman, a ratio) with ``digits`` decimals."""
    x = _finite(value)
    return "n/a" if x is None else f"{x:,.{digits}f}"
