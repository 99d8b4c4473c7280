"""Arrow conversion helpers of the demo generator (float days -> timestamps, codes -> labels, ids)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

__all__ = ["labels", "money", "take", "timestamps", "width"]


def timestamps(start: dt.datetime, days: np.ndarray) -> pa.Array:
    """Float days since ``start`` as naive-UTC second-resolution timestamps (nan -> null)."""
    import pyarrow as pa

    start_s = int((start - dt.datetime(1970, 1, 1)).total_seconds())
    missing = ~np.isfinite(days)
    seconds = start_s + np.floor(np.where(missing, 0.0, days) * 86_400.0).astype(np.int64)
    return pa.array(seconds * 1_000_000, pa.timestamp("us"), mask=missing if missing.any() else None)


def labels(names: tuple[str, ...] | list[str], codes: np.ndarray) -> pa.Array:
    import pyarrow as pa

    return pa.array(list(names), pa.string()).take(pa.array(codes))


def take(ids: pa.Array, index: np.ndarray) -> pa.Array:
    """``ids[index]`` with null where ``index < 0``."""
    import pyarrow as pa

    missing = index < 0
    return ids.take(pa.array(index, pa.int64(), mask=missing if missing.any() else None))


def money(values: np.ndarray) -> pa.Array:
    import pyarrow as pa

    return pa.array(np.round(values, 2)).cast(pa.decimal128(18, 4))


def width(count: int, minimum: int = 7) -> int:
    return max(minimum, len(str(max(count - 1, 0))))
