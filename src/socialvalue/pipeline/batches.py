"""Per-customer scoring in batches of rows: memory bounded by one batch, the same functions as Spark's.

A *batch function* takes a pandas frame of some customers and returns a frame with one row per customer
(a prediction needs nothing but that customer's row and the fitted models). :func:`map_batches` applies it to
consecutive row blocks of a frame; :func:`map_record_batches` to the Arrow record batches an engine streams
(:meth:`socialvalue.engine.DuckDBEngine.batches`); :func:`for_map_in_pandas` turns it into the
iterator-to-iterator function Spark's ``DataFrame.mapInPandas`` takes. Results equal one call on all rows:
the rows are independent and their order is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import pandas as pd
import pyarrow as pa

__all__ = ["BatchFunction", "for_map_in_pandas", "map_batches", "map_record_batches"]

#: A per-customer function: customers' rows in, one result row per customer out, in the same order.
BatchFunction = Callable[[pd.DataFrame], pd.DataFrame]


def _check(rows: int) -> None:
    if rows < 1:
        from socialvalue.errors import ConfigError

        raise ConfigError(f"a batch needs at least one row; got batch_rows = {rows}")


def map_batches(frame: pd.DataFrame, fn: BatchFunction, *, rows: int) -> pd.DataFrame:
    """``fn`` applied to blocks of at most ``rows`` rows of ``frame``, the results concatenated in order."""
    _check(rows)
    if len(frame) <= rows:
        return fn(frame)
    parts = [fn(frame.iloc[lo : lo + rows]) for lo in range(0, len(frame), rows)]
    return pd.concat(parts, ignore_index=True)


def map_record_batches(
    batches: Iterable[pa.RecordBatch], fn: BatchFunction, *, to_pandas: Callable[[pa.Table], pd.DataFrame]
) -> pd.DataFrame:
    """``fn`` applied to each Arrow record batch (converted by ``to_pandas``), the results concatenated."""
    parts = [fn(to_pandas(pa.Table.from_batches([b]))) for b in batches]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def for_map_in_pandas(fn: BatchFunction) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """``fn`` in the form Spark's ``DataFrame.mapInPandas`` calls: an iterator of frames to an iterator."""

    def mapped(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for frame in frames:
            yield fn(frame)

    return mapped
