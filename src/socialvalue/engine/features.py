"""Feature tables executed on the store: computed as Arrow, or materialized with a manifest row.

The feature definitions (:mod:`socialvalue.features`: the registry, :func:`~socialvalue.features.query.compose`
and :func:`~socialvalue.features.query.feature_query`) are SQL text; this module runs them.
:func:`feature_table` computes a table, or only some of its columns, on a
:class:`~socialvalue.engine.duckdb.DuckDBEngine` and returns Arrow; :func:`build` is the public entry point
that also writes ``features_<YYYYMMDD>`` and its row in the feature manifest
(:mod:`socialvalue.engine.manifest`). Writing a table to a file is an export
(:func:`socialvalue.exports.export_feature_table`), recorded so that an erasure rewrites it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from socialvalue.engine.duckdb import DuckDBEngine
from socialvalue.engine.manifest import data_snapshot, write_manifest
from socialvalue.errors import ConfigError, StoreError
from socialvalue.features.query import (
    compose,
    feature_query,
    render,
    sql_hash,
    table_name_for,
    unsigned_customers_query,
)
from socialvalue.features.registry import FeatureConfig, registry
from socialvalue.features.split import TimeFrame
from socialvalue.store import Store, arrow_to_pandas

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow as pa

__all__ = ["build", "feature_table"]

logger = logging.getLogger(__name__)
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def feature_table(
    engine: DuckDBEngine | Store,
    as_of: Any,
    unit: str = "W",
    *,
    holdout_end: Any = None,
    config: FeatureConfig | None = None,
    select: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """Compute the feature table as of ``as_of`` on ``engine``, without storing it: one row per customer.

    The table is the one :func:`build` materializes (same rows, columns, types and values), ordered by
    ``customer_id``.

    Parameters
    ----------
    engine
        A :class:`~socialvalue.engine.duckdb.DuckDBEngine`, another engine with its methods (the Spark
        engine, :class:`socialvalue.spark.engine.SparkEngine`), or a :class:`~socialvalue.store.Store` to open
        a DuckDB engine on.
    as_of, unit, holdout_end, config, select
        As in :func:`build`.
    columns
        Feature columns to return (``None``: all). ``customer_id`` comes first whether listed or not, then
        these in the order given. Only what they need is computed: the registry maps each column to the
        sources it aggregates, and the other sources are not aggregated (they are read only to keep the
        rows of the whole table when customers without a signup time exist).

    Returns
    -------
    pyarrow.Table
        One row per customer of the table, ordered by ``customer_id``.

    Raises
    ------
    ConfigError
        If a time input is invalid, ``select`` names an unknown feature or group, or ``columns`` a column
        the table does not have (or one twice).

    Examples
    --------
    >>> from socialvalue import Store
    >>> with Store(":memory:") as store:
    ...     feature_table(store, "2024-01-01", columns=["frequency", "T"]).column_names
    ['customer_id', 'frequency', 'T']
    """
    engine = DuckDBEngine(engine) if isinstance(engine, Store) else engine
    frame = TimeFrame.resolve(as_of, unit, None, holdout_end)
    return _compute(engine, frame, config or FeatureConfig(), select, columns)


def _compute(
    engine: DuckDBEngine,
    frame: TimeFrame,
    config: FeatureConfig,
    select: Sequence[str] | None,
    columns: Sequence[str] | None,
) -> pa.Table:
    if columns is None:
        return engine.table(feature_query(frame, config, select=select))
    unsigned = bool(engine.scalar(unsigned_customers_query()))
    query = feature_query(frame, config, select=select, columns=columns, unsigned=unsigned)
    return engine.table(query, ["customer_id", *(c for c in columns if c != "customer_id")])


def build(
    store: Store,
    as_of: Any = None,
    unit: str = "W",
    calibration_end: Any = None,
    holdout_end: Any = None,
    *,
    config: FeatureConfig | None = None,
    select: Sequence[str] | None = None,
    table: str | None = None,
    materialize: bool = True,
    as_arrow: bool = False,
) -> pd.DataFrame | pa.Table:
    r"""Compute one row of features per consented customer as of ``as_of``, inside the store's engine.

    BTYD columns follow ``lifetimes.utils.summary_data_from_transaction_data`` with ``freq="D"`` (and
    ``freq_multiplier=7`` for weeks) and ``observation_period_end`` = the last day before ``as_of``:

    .. math::

        x = n_{days} - 1,\quad t_x = \frac{d_{last} - d_{first}}{u},\quad
        T = \frac{d_{obs} - d_{first}}{u},\quad
        \bar z = \frac{1}{x}\sum_{j=2}^{x+1} v_j

    with :math:`u` = 1 (days) or 7 (weeks), :math:`d_{obs}` the last observed day and :math:`v_j` the value of
    the :math:`j`-th purchase day (Fader, Hardie & Lee 2005).

    Parameters
    ----------
    store
        The :class:`~socialvalue.store.Store` holding the canonical tables.
    as_of
        Exclusive end of the observation period (events with ``timestamp < as_of`` count). A date means
        00:00 UTC of that day; aware timestamps are converted to UTC. See :mod:`socialvalue.features.split`.
    unit
        ``"W"``/``"weeks"`` or ``"D"``/``"days"``: the unit of ``recency``, ``T``, ``n_periods`` and
        ``holdout_duration``. Columns ending in ``_days``/``_d`` are always days.
    calibration_end
        Alias of ``as_of`` for back-testing (they must agree if both are given).
    holdout_end
        Exclusive end of the holdout ``[as_of, holdout_end)``; adds the ``holdout_*`` target columns.
    config
        Vocabularies, windows and status rules.
    select
        Feature and/or group names to compute (e.g. ``["btyd"]``); ``None`` computes all.
    table
        Name of the materialized table (default ``features_<YYYYMMDD of as_of>``).
    materialize
        Write the table and its manifest row into the store (``False``: only compute and return, as
        :func:`feature_table` does).
    as_arrow
        Return a ``pyarrow.Table`` instead of a pandas DataFrame.

    Returns
    -------
    pandas.DataFrame or pyarrow.Table
        One row per customer, ordered by ``customer_id``.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy way: An alternative
    to the Pareto/NBD model. *Marketing Science* 24(2), 275-284.

    Examples
    --------
    >>> from socialvalue import Store
    >>> from socialvalue.engine import build
    >>> with Store(":memory:") as store:
    ...     len(build(store, as_of="2024-01-01", unit="days"))
    0
    """
    frame = TimeFrame.resolve(as_of, unit, calibration_end, holdout_end)
    config = config or FeatureConfig()
    name = table or table_name_for(frame)
    if not _TABLE.match(name):
        raise ConfigError(f"invalid feature table name {name!r}")
    if not materialize:
        tbl = _compute(DuckDBEngine(store), frame, config, select, None)
        return tbl if as_arrow else arrow_to_pandas(tbl)
    holdout = frame.holdout_end is not None
    template = compose(config, holdout=holdout, select=select)
    sql = render(template, frame, config)
    started = time.perf_counter()
    con = store.con
    if store.read_only:
        raise StoreError(f"store {store.path!r} is read-only; use materialize=False")
    con.execute("BEGIN TRANSACTION")
    try:
        # inside the transaction: the snapshot describes exactly the data the features are computed from
        snapshot = data_snapshot(store)
        con.execute(f'CREATE OR REPLACE TABLE "{name}" AS {sql}\nORDER BY customer_id')
        n_rows = int(store.scalar(f'SELECT count(*) FROM "{name}"'))
        write_manifest(
            store,
            table_name=name,
            as_of=frame.as_of,
            unit=frame.unit,
            calibration_end=frame.as_of if frame.holdout_end is not None else None,
            holdout_end=frame.holdout_end,
            n_rows=n_rows,
            n_features=len(registry(config, holdout=holdout, select=select)),
            sql_hash=sql_hash(template),
            config={**config.model_dump(mode="json"), "select": list(select) if select else None},
            snapshot=snapshot,
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    # the table was written in customer order and DuckDB scans preserve insertion order
    tbl = con.sql(f'SELECT * FROM "{name}"').to_arrow_table()
    logger.info("built %s: %d customers in %.2fs", name, n_rows, time.perf_counter() - started)
    return tbl if as_arrow else arrow_to_pandas(tbl)
