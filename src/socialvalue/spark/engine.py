"""The Spark engine: runs :class:`~socialvalue.features.definition.Query` definitions on Spark DataFrames.

It offers the methods of :class:`~socialvalue.engine.duckdb.DuckDBEngine` that the feature path uses
(``table``, ``frame``, ``batches``, ``scalar`` and ``codes``), so
:func:`socialvalue.engine.features.feature_table` runs on it unchanged. A query's SQL is the shared DuckDB
definition, transpiled by :func:`socialvalue.features.query.to_spark`; its parameters are bound by Spark
(``?`` markers with ``args=[...]``, ``$name`` markers as ``:name`` with ``args={...}``), never pasted into the
text. The canonical tables are temporary views under names of this engine's own (``sv<n>_orders``), so two
engines share a session without seeing each other's data; the query's table names are rewritten to them.

Results come back as Arrow with DuckDB's types (``string``, not Spark's ``large_string``), so a table from
either engine compares equal column by column.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from socialvalue.engine.codes import IdCodes
from socialvalue.engine.duckdb import DEFAULT_BATCH_ROWS
from socialvalue.errors import ConfigError
from socialvalue.features.definition import Query
from socialvalue.features.query import to_spark
from socialvalue.schema import KINDS
from socialvalue.sqlsafe import ident

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["SparkEngine"]

_ENGINES = itertools.count()
_CODES = "codes"  # the view of the customers' integer codes, among the engine's views


def _duckdb_types(table: pa.Table) -> pa.Table:
    """``table`` in the Arrow types DuckDB returns: ``string`` and ``binary`` (Spark's are large), nullable.

    Spark marks a column it proves never NULL (a ``COALESCE``) as not nullable; DuckDB marks none.
    """
    import pyarrow as pa

    fields = []
    for f in table.schema:
        if pa.types.is_large_string(f.type):
            f = f.with_type(pa.string())
        elif pa.types.is_large_binary(f.type):
            f = f.with_type(pa.binary())
        fields.append(f.with_nullable(True))
    schema = pa.schema(fields)
    return table if schema.equals(table.schema) else table.cast(schema)


def _quoted(name: str) -> str:
    """A column name as Spark reads it verbatim (backticks; a dot is not a field access)."""
    return "`" + name.replace("`", "``") + "`"


class SparkEngine:
    """Run definitions on Spark over the canonical tables.

    Parameters
    ----------
    spark
        The session (:func:`socialvalue.spark.session.spark_session`).
    tables
        The canonical tables by name (:func:`socialvalue.spark.input.read_tables`); each is registered as a
        temporary view of this engine.

    Notes
    -----
    Customer id codes (:attr:`codes`) are read once, on first use, onto the driver, as the DuckDB engine
    reads them into its process. An engine describes one state of the tables: make a new one for new data.
    """

    name = "spark"

    def __init__(self, spark: SparkSession, tables: Mapping[str, DataFrame]) -> None:
        missing = [k for k in KINDS if k not in tables]
        if missing:
            raise ConfigError(f"the Spark engine needs the tables {', '.join(missing)} (possibly empty)")
        self.spark = spark
        self._prefix = f"sv{next(_ENGINES)}_"
        self.views = {kind: self._prefix + kind for kind in tables}
        for kind, frame in tables.items():
            frame.createOrReplaceTempView(self.views[kind])
        self._codes: IdCodes | None = None
        #: frames kept for later calls of one computation, as :attr:`DuckDBEngine.cache`
        self.cache: dict[tuple[Any, ...], Any] = {}

    def release(self) -> None:
        """Drop the kept frames and this engine's temporary views."""
        self.cache.clear()
        for view in self.views.values():
            self.spark.catalog.dropTempView(view)
        if self._codes is not None:
            self.spark.catalog.dropTempView(self._prefix + _CODES)

    @property
    def codes(self) -> IdCodes:
        """Dense codes of every customer id, in ``customer_id`` order (read on first use)."""
        if self._codes is None:
            ids = self.dataframe(Query("SELECT customer_id FROM customers ORDER BY customer_id")).toArrow()
            self._codes = IdCodes(ids.column(0))
        return self._codes

    def _codes_view(self) -> str:
        view = self._prefix + _CODES
        if not self.spark.catalog.tableExists(view):
            self.spark.createDataFrame(self.codes.table).createOrReplaceTempView(view)
        return view

    def _sql(self, query: Query, columns: Sequence[str] | None, codes: bool) -> str:
        """The query wrapped to select ``columns`` (ids coded), in DuckDB SQL over the canonical names."""
        sql = query.sql
        if codes and query.id_columns:
            # DuckDB's REPLACE has no Spark form: the coded columns go after the others, then back in place.
            coded = ", ".join(
                f"_j{k}.code AS {ident('_sv_code_' + c)}" for k, c in enumerate(query.id_columns)
            )
            joins = " ".join(
                f"LEFT JOIN {_CODES} _j{k} ON _j{k}.customer_id = _q.{ident(c)}"
                for k, c in enumerate(query.id_columns)
            )
            sql = f"SELECT _q.*, {coded} FROM ({sql}) _q {joins}"
        if columns is not None or query.order:
            select = "_q.*" if columns is None else ", ".join(f"_q.{ident(c)}" for c in columns)
            sql = f"SELECT {select} FROM ({sql}) _q"
            if query.order:
                sql += f" ORDER BY {query.order}"
        return sql

    def _spark_sql(self, sql: str) -> str:
        """``sql`` in Spark's dialect, reading this engine's views instead of the canonical names."""
        import sqlglot
        from sqlglot import exp

        views = {**self.views, _CODES: self._prefix + _CODES}
        tree = sqlglot.parse_one(to_spark(sql), read="spark")
        ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}

        def rename(node: Any) -> Any:
            if isinstance(node, exp.Table) and not node.db and node.name in views and node.name not in ctes:
                return exp.Table(this=exp.to_identifier(views[node.name]), alias=node.args.get("alias"))
            return node

        return tree.transform(rename).sql(dialect="spark")

    def _args(self, params: Sequence[Any] | Mapping[str, Any]) -> list[Any] | dict[str, Any] | None:
        """The parameters as Spark binds them (a list for ``?``, a dict for named markers)."""
        if isinstance(params, Mapping):
            return dict(params) or None
        return list(params) or None

    def dataframe(
        self, query: Query, columns: Sequence[str] | None = None, *, codes: bool = False
    ) -> DataFrame:
        """``query`` as a lazy Spark DataFrame of ``columns`` (all when None), ids coded with ``codes``.

        The Spark-only entry point: the DataFrame stays distributed (for ``mapInPandas`` and writes).
        """
        coded = bool(codes and query.id_columns)
        if coded:
            self._codes_view()
        text = self._spark_sql(self._sql(query, None if coded else columns, coded))
        frame = self.spark.sql(text, args=self._args(query.params))
        if coded:
            # the coded columns back in the places of the ids they replace, under the ids' names
            code = "_sv_code_"
            out = [
                frame[_quoted(code + c)].alias(c) if c in query.id_columns else frame[_quoted(c)]
                for c in frame.columns
                if not c.startswith(code)
            ]
            frame = frame.select(*out)
            if columns is not None:
                frame = frame.select(*(_quoted(c) for c in columns))
        return frame

    def table(self, query: Query, columns: Sequence[str] | None = None, *, codes: bool = False) -> pa.Table:
        """Run ``query`` and return an Arrow table of ``columns`` (all when None), as DuckDBEngine does.

        With ``codes``, the query's ``id_columns`` hold the customers' integer codes (``NaN`` for an id that
        is not a customer) instead of their ids.
        """
        return _duckdb_types(self.dataframe(query, columns, codes=codes).toArrow())

    def frame(
        self, query: Query, columns: Sequence[str] | None = None, *, codes: bool = False
    ) -> pd.DataFrame:
        """:meth:`table` as a pandas DataFrame, with the dtypes the DuckDB engine gives."""
        from socialvalue.store import arrow_to_pandas

        return arrow_to_pandas(self.table(query, columns, codes=codes))

    def batches(
        self, query: Query, columns: Sequence[str] | None = None, *, batch_size: int = DEFAULT_BATCH_ROWS
    ) -> pa.RecordBatchReader:
        """``query``'s rows as Arrow record batches of at most ``batch_size`` rows, on the driver.

        The rows are collected first (Spark hands a result over whole); per-customer work at scale belongs
        on the executors, through ``mapInPandas`` over :meth:`dataframe`.
        """
        import pyarrow as pa

        if batch_size < 1:
            raise ConfigError(f"batch_size must be a positive number of rows, got {batch_size}")
        table = self.table(query, columns)
        return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=batch_size))

    def scalar(self, query: Query) -> Any:
        """The first column of the first row of ``query`` (None without rows)."""
        row = self.dataframe(query).first()
        return None if row is None else row[0]
