"""Data handling of the BTYD models: column validation and collapsing rows to their distinct patterns.

Pure numpy/pandas. Everything here is written for columns of tens of millions of rows: few temporaries,
no sorting where counting or hashing does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from socialvalue.errors import SchemaError

__all__ = ["columns_of", "unique_rows"]


def columns_of(
    data: pd.DataFrame | Mapping[str, Any], cols: Sequence[str]
) -> tuple[dict[str, np.ndarray], pd.Index]:
    """Required columns of ``data`` as float64 arrays (copies never needed: we never write), plus the index."""
    missing = [c for c in cols if c not in data]
    if missing:
        have = list(data.columns) if isinstance(data, pd.DataFrame) else list(data)
        raise SchemaError(
            f"missing column(s) {missing}; expected {list(cols)}, got {have[:20]}",
            [{"column": c, "expected": "present"} for c in missing],
        )
    out: dict[str, np.ndarray] = {}
    problems: list[dict[str, Any]] = []
    for c in cols:
        try:
            arr = np.asarray(data[c], dtype=np.float64).ravel()
        except (TypeError, ValueError) as exc:
            raise SchemaError(f"column {c!r} is not numeric: {exc}", [{"column": c}]) from exc
        # Fast path without temporaries: a finite sum and a non-negative minimum mean all rows are fine.
        if arr.size and not (np.isfinite(arr.sum()) and arr.min() >= 0):
            bad = ~np.isfinite(arr) | (arr < 0)
            problems.append({"column": c, "row": int(np.flatnonzero(bad)[0]), "expected": "finite >= 0"})
        out[c] = arr
    if problems:
        desc = "; ".join(f"{p['column']} (first at row {p['row']})" for p in problems)
        raise SchemaError(f"non-finite or negative values in {desc}", problems)
    n = {len(v) for v in out.values()}
    if len(n) > 1:
        raise SchemaError(f"columns have different lengths {sorted(n)}")
    index = data.index if isinstance(data, pd.DataFrame) else pd.RangeIndex(next(iter(n), 0))
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
