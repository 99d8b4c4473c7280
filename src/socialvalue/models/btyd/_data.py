"""Data handling of the BTYD models: column validation, customers without a purchase, collapsing rows.

Pure numpy/pandas. Everything here is written for columns of tens of millions of rows: few temporaries,
no sorting where counting or hashing does.

Customers without a purchase
----------------------------
A feature table (:func:`socialvalue.build_features`) holds every customer, buyers or not; a customer with no
purchase yet has ``frequency``, ``recency``, ``T``, ``n_periods`` and ``monetary_value`` all empty (NULL, read
as NaN). The BTYD models describe customers from their first purchase on, so such a row carries no information
for a fit and its prediction is the population's, that of a customer whose history starts now
(``frequency = recency = T = 0``). :func:`customer_columns` recognises them: a row is *without purchase* when
every one of these columns the model reads is empty. A row only partly empty (``frequency`` NaN with a finite
``T``), negative or infinite stays an error that names the column and the first offending row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from socialvalue.errors import ConfigError, SchemaError

__all__ = [
    "PURCHASE_COLUMNS",
    "check_table",
    "columns_of",
    "customer_columns",
    "prediction_columns",
    "unique_rows",
]

#: Columns a feature table leaves empty for a customer without a purchase (see the module docstring).
PURCHASE_COLUMNS = ("frequency", "recency", "T", "n_periods", "monetary_value")


def check_table(data: Any, name: str = "data") -> None:
    """Refuse anything but a DataFrame or a mapping of column name to values, naming what was passed.

    Raises
    ------
    ConfigError
        E.g. a model passed where the data belong (arguments in the wrong order) or a bare numpy array.
    """
    if isinstance(data, pd.DataFrame | Mapping):
        return
    kind = type(data).__name__
    if hasattr(data, "fit") and (hasattr(data, "params_") or hasattr(data, "get_params")):
        hint = f"a {kind} model — a model went where the data belong; check the order of the arguments"
    elif isinstance(data, np.ndarray):
        hint = "a numpy array — name its columns, e.g. pd.DataFrame({'frequency': ..., 'recency': ..., 'T': ...})"
    elif isinstance(data, pd.Series):
        hint = "a pandas Series — pass the whole frame (one column per input), not one column"
    else:
        hint = f"a {kind}"
    raise ConfigError(f"{name} must be a pandas DataFrame or a mapping of column name to values, got {hint}")


def _as_float(data: pd.DataFrame | Mapping[str, Any], c: str) -> np.ndarray:
    try:
        return np.asarray(data[c], dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"column {c!r} is not numeric: {exc}", [{"column": c}]) from exc


def _missing(data: pd.DataFrame | Mapping[str, Any], cols: Sequence[str]) -> None:
    missing = [c for c in cols if c not in data]
    if missing:
        have = list(data.columns) if isinstance(data, pd.DataFrame) else list(data)
        raise SchemaError(
            f"missing column(s) {missing}; expected {list(cols)}, got {have[:20]}",
            [{"column": c, "expected": "present"} for c in missing],
        )


def _finish(
    data: pd.DataFrame | Mapping[str, Any],
    out: dict[str, np.ndarray],
    problems: list[dict[str, Any]],
    hint: str,
) -> pd.Index:
    if problems:
        desc = "; ".join(f"{p['column']} (first at row {p['row']})" for p in problems)
        raise SchemaError(f"non-finite or negative values in {desc}{hint}", problems)
    n = {len(v) for v in out.values()}
    if len(n) > 1:
        raise SchemaError(f"columns have different lengths {sorted(n)}")
    return data.index if isinstance(data, pd.DataFrame) else pd.RangeIndex(next(iter(n), 0))


def columns_of(
    data: pd.DataFrame | Mapping[str, Any], cols: Sequence[str]
) -> tuple[dict[str, np.ndarray], pd.Index]:
    """Required columns of ``data`` as float64 arrays (copies never needed: we never write), plus the index.

    Every value must be finite and >= 0 (see :func:`customer_columns` for the model columns, which accept
    customers without a purchase).
    """
    check_table(data)
    _missing(data, cols)
    out: dict[str, np.ndarray] = {}
    problems: list[dict[str, Any]] = []
    for c in cols:
        arr = _as_float(data, c)
        # Fast path without temporaries: a finite sum and a non-negative minimum mean all rows are fine.
        if arr.size and not (np.isfinite(arr.sum()) and arr.min() >= 0):
            bad = ~np.isfinite(arr) | (arr < 0)
            problems.append({"column": c, "row": int(np.flatnonzero(bad)[0]), "expected": "finite >= 0"})
        out[c] = arr
    return out, _finish(data, out, problems, "")


def customer_columns(
    data: pd.DataFrame | Mapping[str, Any], cols: Sequence[str]
) -> tuple[dict[str, np.ndarray], pd.Index, np.ndarray | None]:
    """The model columns of ``data`` with customers without a purchase recognised (see the module docstring).

    Returns
    -------
    (dict, pandas.Index, numpy.ndarray or None)
        The columns as float64 arrays, with the rows of customers without a purchase set to 0 (a history that
        starts now); the index; and the boolean mask of those rows (``None`` when there are none).

    Raises
    ------
    SchemaError
        A missing or non-numeric column, or a negative, infinite or partly empty row (its first one named).
    """
    check_table(data)
    _missing(data, cols)
    out = {c: _as_float(data, c) for c in cols}
    bad_cols = [c for c, a in out.items() if a.size and not (np.isfinite(a.sum()) and a.min() >= 0)]
    if not bad_cols:  # the usual case, decided without a temporary
        return out, _finish(data, out, [], ""), None
    purchase = [c for c in cols if c in PURCHASE_COLUMNS]
    none = None
    if purchase and all(c in bad_cols for c in purchase):
        none = np.isnan(out[purchase[0]])
        for c in purchase[1:]:
            none &= np.isnan(out[c])
        if none.any():
            for c in purchase:
                out[c] = np.where(none, 0.0, out[c])
        else:
            none = None
    problems: list[dict[str, Any]] = []
    for c in bad_cols:
        a = out[c]
        bad = ~np.isfinite(a) | (a < 0)
        if bad.any():
            problems.append({"column": c, "row": int(np.flatnonzero(bad)[0]), "expected": "finite >= 0"})
    hint = ""
    if any(p["column"] in purchase and np.isnan(out[p["column"]][p["row"]]) for p in problems):
        hint = (
            f" (a customer without a purchase has all of {', '.join(purchase)} empty and is accepted; "
            "a partly empty row is not)"
        )
    return out, _finish(data, out, problems, hint), none


def prediction_columns(
    data: pd.DataFrame | Mapping[str, Any], cols: Sequence[str]
) -> tuple[dict[str, np.ndarray], pd.Index]:
    """:func:`customer_columns` without the mask: customers without a purchase read as a history starting now."""
    out, index, _ = customer_columns(data, cols)
    return out, index


def unique_rows(
    arrays: Sequence[np.ndarray], weights: np.ndarray | None = None
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Collapse rows of ``arrays`` to their unique combinations.

    Returns ``(uniques, inverse, summed_weights)`` with ``arrays[j] == uniques[j][inverse]``. Integral
    columns (the usual case after rounding to days) use one mixed-radix int64 key, counted directly with
    ``bincount`` when the key space is small (O(n), no hashing or sorting) or hashed otherwise; other
    columns fall back on a pandas group-by.
    """
    n = len(arrays[0]) if arrays else 0
    if n == 0:
        return [a[:0] for a in arrays], np.zeros(0, dtype=np.intp), np.zeros(0)
    found = _integer_codes(arrays)
    if found is not None:
        codes, ukeys, spans = found
        uniques = []
        for lo, span in reversed(spans):
            uniques.append((ukeys % span).astype(np.float64) + lo)
            ukeys = ukeys // span
        uniques.reverse()
    else:
        # Non-integral columns: hash each column to the codes of its distinct values, then combine the
        # (integral) codes as above and map the combined rows back to the values.
        per_col = [pd.factorize(a) for a in arrays]
        found = _integer_codes([c.astype(np.float64) for c, _ in per_col])
        if found is None:  # pragma: no cover - codes are small whole numbers
            raise RuntimeError("cannot combine column codes")
        codes, ukeys, spans = found
        uniques = []
        for (_, values), (_, span) in zip(reversed(per_col), reversed(spans), strict=True):
            uniques.append(np.asarray(values, dtype=np.float64)[ukeys % span])
            ukeys = ukeys // span
        uniques.reverse()
    if weights is None:
        summed = np.bincount(codes, minlength=len(uniques[0])).astype(np.float64)
    else:
        summed = np.bincount(codes, weights=weights, minlength=len(uniques[0]))
    return uniques, codes, summed


def _integer_codes(
    arrays: Sequence[np.ndarray],
) -> tuple[np.ndarray, np.ndarray, list[tuple[float, int]]] | None:
    """Codes of the distinct rows of integral columns, or ``None`` if a column is not integral.

    One mixed-radix int64 key per row, built in place (10-million-row columns make every temporary costly);
    a dense key space is counted with ``bincount`` and mapped through a lookup table, a sparse one is hashed.
    Returns ``(codes, unique_keys, [(low, span), ...])``.
    """
    n = arrays[0].shape[0]
    key = np.empty(n, dtype=np.int64)
    tmp = np.empty(n, dtype=np.int64)
    spans: list[tuple[float, int]] = []
    radix = 1
    for j, a in enumerate(arrays):
        lo, hi = float(a.min()), float(a.max())
        if hi - lo >= 2**40:
            return None
        target = key if j == 0 else tmp
        np.copyto(target, a, casting="unsafe")
        if not np.array_equal(target, a):  # not whole numbers
            return None
        span = int(hi - lo) + 1
        radix *= span
        if radix >= 2**62:
            return None
        target -= int(lo)
        if j > 0:
            key *= span
            key += tmp
        spans.append((lo, span))
    if radix <= 4 * n + 1024:  # dense key space: count into it
        counts = np.bincount(key, minlength=radix)
        ukeys = np.flatnonzero(counts)
        lut = np.zeros(radix, dtype=np.int64)
        lut[ukeys] = np.arange(ukeys.size)
        np.take(lut, key, out=tmp)
        return tmp, ukeys.astype(np.int64), spans
    codes, ukeys = pd.factorize(key)
    return np.asarray(codes, dtype=np.int64), np.asarray(ukeys, dtype=np.int64), spans
