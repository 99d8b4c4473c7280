"""Vectorized ``column op value`` rules and the column checks every scoring function shares.

A rule is a conjunction of conditions written as strings (``"p_alive < 0.2"``); a rule list is evaluated with
:func:`numpy.select`, so the first matching rule wins and nothing loops over customers. A comparison with a
missing value (NaN) is false, whatever the operator, so a rule never fires on data it cannot see.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from socialvalue.errors import SchemaError

__all__ = [
    "Condition",
    "as_array",
    "first_match",
    "numeric",
    "parse_condition",
    "require_columns",
    "require_names",
    "rule_mask",
]

_OPS = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}
_CONDITION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*$")


class Condition(NamedTuple):
    """One parsed condition ``column op value``."""

    column: str
    op: str
    value: float


def parse_condition(text: str) -> Condition:
    """Parse ``"column op number"`` (ops ``< <= > >= == !=``; ``true``/``false`` read as 1/0).

    Raises
    ------
    ValueError
        With the offending text, so pydantic reports it against the config field.
    """
    match = _CONDITION.match(text)
    if match is None:
        raise ValueError(
            f"condition {text!r} is not of the form 'column op number' (op one of < <= > >= == !=)"
        )
    column, op, raw = match.groups()
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return Condition(column, op, 1.0 if lowered == "true" else 0.0)
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"condition {text!r}: {raw!r} is not a number") from None
    return Condition(column, op, value)


def rule_mask(columns: Mapping[str, np.ndarray], conditions: Iterable[Condition], n: int) -> np.ndarray:
    """Boolean mask of the rows meeting every condition (NaN compares false)."""
    mask = np.ones(n, dtype=bool)
    for cond in conditions:
        x = columns[cond.column]
        mask &= _OPS[cond.op](x, cond.value) & ~np.isnan(x)
    return mask


def first_match(masks: Sequence[np.ndarray], labels: Sequence[str], default: str, n: int) -> np.ndarray:
    """Label of the first mask that is true for each row, ``default`` where none is (object array)."""
    names = np.asarray([*labels, default], dtype=object)
    if not masks:
        return np.full(n, default, dtype=object)
    idx = np.select(list(masks), np.arange(len(masks)), default=len(masks))
    return names[idx]


def require_columns(frame: pd.DataFrame, columns: Iterable[str | None], what: str) -> None:
    """Raise :class:`SchemaError` naming every column ``what`` needs and ``frame`` lacks."""
    require_names(set(frame.columns), columns, what)


def require_names(available: set[str], columns: Iterable[str | None], what: str) -> None:
    """Raise :class:`SchemaError` naming every column ``what`` needs that is not in ``available``."""
    missing = [c for c in dict.fromkeys(columns) if c is not None and c not in available]
    if missing:
        problems = [{"column": c, "expected": "present"} for c in missing]
        raise SchemaError(
            f"{what} needs column(s) {', '.join(map(repr, missing))}, absent from the frame", problems
        )


def numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Column as a float64 array (nullable/boolean types converted, missing -> NaN)."""
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def as_array(values: object, n: int, name: str) -> np.ndarray:
    """A per-customer input (array/Series/list) as float64 of length ``n``; Series are taken positionally."""
    arr = np.asarray(
        values.to_numpy(dtype=float, na_value=np.nan) if isinstance(values, pd.Series) else values,
        dtype=float,
    )
    if arr.shape != (n,):
        raise SchemaError(f"{name} has shape {arr.shape}, expected ({n},) — one value per row of the frame")
    return arr
