"""What the insight analyses share: the engine they run on, the orders' currency, and how numbers are worded."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from socialvalue.errors import SchemaError
from socialvalue.features import insight as q
from socialvalue.features.definition import Query
from socialvalue.features.split import to_utc_naive

if TYPE_CHECKING:  # pragma: no cover
    from socialvalue.store import Store

__all__ = [
    "as_of_timestamp",
    "engine_of",
    "fmt_money",
    "fmt_p",
    "fmt_pct",
    "frame_of",
    "orders_currency",
    "require_columns",
]


def engine_of(source: Any) -> Any:
    """``source`` if it runs definitions (a DuckDB or Spark engine), else a DuckDB engine on the store."""
    if hasattr(source, "frame") and hasattr(source, "scalar"):
        return source
    from socialvalue.engine import DuckDBEngine

    store: Store = source
    return DuckDBEngine(store)


def frame_of(engine: Any, query: Query) -> pd.DataFrame:
    """``engine.frame(query)`` with every time column naive UTC.

    Spark's ``date_trunc`` gives a time-zone-aware timestamp where DuckDB's keeps the input's naive one; the
    session time zone is UTC in both, so dropping the zone leaves the same instants.
    """
    frame = engine.frame(query)
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.DatetimeTZDtype):
            frame[name] = frame[name].dt.tz_convert("UTC").dt.tz_localize(None)
    return frame


def as_of_timestamp(as_of: Any) -> pd.Timestamp:
    """``as_of`` as a naive UTC :class:`pandas.Timestamp` (a ConfigError when it is not a date)."""
    return pd.Timestamp(to_utc_naive(as_of, "as_of"))


def orders_currency(engine: Any, as_of: Any) -> tuple[str, tuple[str, ...]]:
    """The currency the revenue orders before ``as_of`` are in, and a note when they mix several.

    ``XXX`` (ISO 4217's "no currency") when there is no order; ``"EUR+USD"`` and a note when amounts in
    several currencies are summed without conversion.
    """
    found = [str(c) for c in frame_of(engine, q.revenue_currencies_query(as_of))["currency"].dropna()]
    if not found:
        return "XXX", ()
    if len(found) == 1:
        return found[0], ()
    joined = "+".join(found)
    return joined, (f"orders are in several currencies ({', '.join(found)}): amounts are summed unconverted",)


def require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """Raise a SchemaError naming every column of ``columns`` that ``frame`` lacks."""
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError(f"{what} must be a pandas DataFrame, not {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        have = ", ".join(map(str, frame.columns)) or "(none)"
        raise SchemaError(f"{what} lacks column(s) {', '.join(missing)}; it has: {have}")


def fmt_pct(x: float) -> str:
    """``0.412`` -> ``"41%"`` (one decimal below 10%, ``"n/a"`` for NaN)."""
    if not math.isfinite(x):
        return "n/a"
    pct = 100 * x
    return f"{pct:.1f}%" if 0 < abs(pct) < 10 else f"{pct:.0f}%"


def fmt_p(p: float) -> str:
    """A p-value as ``p<0.001``, ``p<0.01`` or ``p=0.03`` (``p n/a`` for NaN)."""
    if not math.isfinite(p):
        return "p n/a"
    if p < 0.001:
        return "p<0.001"
    if p < 0.01:
        return "p<0.01"
    return f"p={p:.2f}"


def fmt_money(x: float, currency: str) -> str:
    """``1234.5, "USD"`` -> ``"1,234.50 USD"`` (``"n/a"`` for NaN)."""
    if not math.isfinite(x):
        return "n/a"
    return f"{x:,.2f} {currency}"
