"""The DuckDB engine: runs :class:`~socialvalue.features.definition.Query` definitions on a store.

This is the one place where socialvalue's definitions meet an execution engine. Features, social inputs and
holdout targets are defined in :mod:`socialvalue.features` as SQL text with bound parameters; the engine runs
them and returns Arrow tables, record batches or pandas frames holding only the columns asked for, with
customer ids optionally replaced by dense integer codes assigned once per engine
(:class:`~socialvalue.engine.codes.IdCodes`). The Spark engine (issue 18) offers the same methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from socialvalue.engine.codes import IdCodes
from socialvalue.features.definition import Query
from socialvalue.sqlsafe import ident, literal
from socialvalue.store import Store, arrow_to_pandas

if TYPE_CHECKING:  # pragma: no cover
    import duckdb
    import pandas as pd
    import pyarrow as pa

__all__ = ["DEFAULT_BATCH_ROWS", "DuckDBEngine"]

#: Rows per record batch of :meth:`DuckDBEngine.batches` when none is given.
DEFAULT_BATCH_ROWS = 250_000

_CODES_VIEW = "_sv_id_codes"


def _size(setting: str) -> str:
    """A DuckDB size setting as it read it back (e.g. ``"19.0 GiB"``), checked to be only a size."""
    import re

    from socialvalue.errors import StoreError

    if not re.fullmatch(r"[0-9.]+ ?[KMGTP]?i?B", setting.strip()):
        raise StoreError(f"unexpected DuckDB memory_limit setting {setting!r}")
    return setting.strip()


class DuckDBEngine:
    """Run definitions on a :class:`~socialvalue.store.Store`'s DuckDB connection.

    Parameters
    ----------
    store
        The store to read. The engine reads only; writes stay with the store's transactions.
    memory_gb
        Memory DuckDB may hold before it spills to disk (its ``memory_limit``; the temporary files go to its
        default ``<store>.tmp`` folder). None: DuckDB's default (80% of the machine's memory), which leaves
        little for the Python side of a very large run.

    Notes
    -----
    Customer id codes (:attr:`codes`) are read once, on first use, and callers may keep frames in
    :attr:`cache`: an engine describes one state of the store, so open a new one after loading data.
    """

    name = "duckdb"

    def __init__(self, store: Store, *, memory_gb: float | None = None) -> None:
        self.store = store
        self._saved_limit: str | None = None
        if memory_gb is not None:
            if not memory_gb > 0:
                from socialvalue.errors import ConfigError

                raise ConfigError(f"the engine's memory must be a positive number of GB, got {memory_gb}")
            current = store.scalar("SELECT current_setting('memory_limit')")
            store.con.execute("RESET memory_limit")
            default = store.scalar("SELECT current_setting('memory_limit')")
            # given back with RESET when it was DuckDB's default (its text form rounds), else as it read
            self._saved_limit = "" if current == default else current
            # DuckDB's SET takes no bound parameter: the size goes through the quoting helper
            size = f"{int(memory_gb * 1024)}MB"
            store.con.execute(f"SET memory_limit = {literal(size)}")
        self._codes: IdCodes | None = None
        #: frames kept for later calls of one computation (e.g. a date's exposures, read once per run)
        self.cache: dict[tuple[Any, ...], Any] = {}

    def release(self) -> None:
        """Drop the kept frames and give the store's connection its memory limit back."""
        self.cache.clear()
        if self._saved_limit is not None:
            if self._saved_limit:
                self.store.con.execute(f"SET memory_limit = {literal(_size(self._saved_limit))}")
            else:
                self.store.con.execute("RESET memory_limit")
            self._saved_limit = None

    @classmethod
    def of(cls, source: Store | DuckDBEngine) -> DuckDBEngine:
        """``source`` if it is an engine, else a new engine on the store ``source``."""
        return source if isinstance(source, DuckDBEngine) else cls(source)

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The store's connection."""
        return self.store.con

    @property
    def codes(self) -> IdCodes:
        """Dense codes of every customer id, in ``customer_id`` order (read on first use)."""
        if self._codes is None:
            ids = self.con.sql("SELECT customer_id FROM customers ORDER BY customer_id").to_arrow_table()
            self._codes = IdCodes(ids.column(0))
        return self._codes

    def _sql(self, query: Query, columns: Sequence[str] | None, codes: bool) -> str:
        select = "_q.*" if columns is None else ", ".join(f"_q.{ident(c)}" for c in columns)
        sql = query.sql
        if codes and query.id_columns:
            replaced = ", ".join(f"_j{k}.code AS {ident(c)}" for k, c in enumerate(query.id_columns))
            joins = " ".join(
                f"LEFT JOIN {_CODES_VIEW} _j{k} ON _j{k}.customer_id = _q.{ident(c)}"
                for k, c in enumerate(query.id_columns)
            )
            sql = f"SELECT _q.* REPLACE ({replaced}) FROM ({sql}) _q {joins}"
        if columns is not None or query.order:
            sql = f"SELECT {select} FROM ({sql}) _q"
            if query.order:
                sql += f" ORDER BY {query.order}"
        return sql

    def _relation(self, query: Query, columns: Sequence[str] | None, codes: bool) -> Any:
        params = query.params
        if isinstance(params, Sequence) and not isinstance(params, list):
            params = list(params)
        return self.con.sql(self._sql(query, columns, codes), params=params or None)

    def table(self, query: Query, columns: Sequence[str] | None = None, *, codes: bool = False) -> pa.Table:
        """Run ``query`` and return an Arrow table of ``columns`` (all when None).

        With ``codes``, the query's ``id_columns`` hold the customers' integer codes (``NaN`` for an id that
        is not a customer) instead of their ids: one hash join each, in the engine.
        """
        if not (codes and query.id_columns):
            return self._relation(query, columns, False).to_arrow_table()
        self.con.register(_CODES_VIEW, self.codes.table)
        try:
            return self._relation(query, columns, True).to_arrow_table()
        finally:
            self.con.unregister(_CODES_VIEW)

    def frame(
        self, query: Query, columns: Sequence[str] | None = None, *, codes: bool = False
    ) -> pd.DataFrame:
        """:meth:`table` as a pandas DataFrame (DuckDB's dtypes, see :func:`socialvalue.store.arrow_to_pandas`)."""
        return arrow_to_pandas(self.table(query, columns, codes=codes))

    def batches(
        self, query: Query, columns: Sequence[str] | None = None, *, batch_size: int = DEFAULT_BATCH_ROWS
    ) -> pa.RecordBatchReader:
        """Stream ``query``'s rows as Arrow record batches of at most ``batch_size`` rows.

        Memory stays bounded by one batch (plus what the engine needs to produce the rows): per-customer
        scoring reads a million customers a batch at a time. The same batch functions run in Spark's
        ``mapInPandas``.
        """
        if batch_size < 1:
            from socialvalue.errors import ConfigError

            raise ConfigError(f"batch_size must be a positive number of rows, got {batch_size}")
        return self._relation(query, columns, False).to_arrow_reader(batch_size)

    def scalar(self, query: Query) -> Any:
        """The first column of the first row of ``query`` (None without rows)."""
        rows = self._relation(query, None, False).fetchall()
        return rows[0][0] if rows else None
