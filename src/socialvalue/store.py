"""The embedded DuckDB warehouse that holds canonical tables, features and scores.

A :class:`Store` is one DuckDB file (or ``":memory:"``). Opening it creates the canonical tables from
:mod:`socialvalue.schema` and applies pending schema migrations, each in its own transaction, recording the
version in ``_schema_version``.

This module is a leaf: it imports only the kernel (errors, schema, sqlsafe), never ingest, privacy or the
engine, which sit above it (``docs/architecture.md``). Loading, erasing and the per-table summary are the
functions :func:`socialvalue.ingest.load.ingest`, :func:`socialvalue.privacy.erase_customer` and
:func:`socialvalue.ingest.quality.store_info`; ``socialvalue.Store`` (:class:`socialvalue.datastore.Store`)
adds them back as methods for users.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import duckdb

from socialvalue.errors import StoreError
from socialvalue.schema import KINDS, TABLES
from socialvalue.sqlsafe import ident

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow as pa

__all__ = ["SCHEMA_VERSION", "Store", "arrow_to_pandas"]

logger = logging.getLogger(__name__)


def arrow_to_pandas(tbl: pa.Table) -> pd.DataFrame:
    """Convert an Arrow table to pandas with the dtypes DuckDB's ``.df()`` gives, about 10x faster.

    DuckDB 2's own conversion takes ~5 s for 10M rows of (string, double, int) that Arrow converts in ~0.4 s.
    Kept conventions: DECIMAL → ``float64``, DATE → ``datetime64``, integers and booleans holding NULLs →
    pandas' nullable ``Int*``/``boolean``.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    nullable: dict[str, Any] = {}
    for i, field in enumerate(tbl.schema):
        t = field.type
        if pa.types.is_decimal(t):
            tbl = tbl.set_column(i, field.name, pc.cast(tbl.column(i), pa.float64()))
        elif pa.types.is_date(t):
            tbl = tbl.set_column(i, field.name, pc.cast(tbl.column(i), pa.timestamp("us")))
        elif (pa.types.is_integer(t) or pa.types.is_boolean(t)) and tbl.column(i).null_count:
            nullable[field.name] = (
                pd.BooleanDtype()
                if pa.types.is_boolean(t)
                else pd.api.types.pandas_dtype(str(t).replace("u", "U").replace("int", "Int"))
            )
    df = tbl.to_pandas()
    for name, dtype in nullable.items():
        df[name] = tbl.column(name).to_pandas(types_mapper={tbl.schema.field(name).type: dtype}.get)
    return df


def _open_error(path: str, exc: duckdb.Error) -> str:
    """One line for a store that cannot be opened; a lock held by another process says who and what to do."""
    text = " ".join(str(exc).split())
    if "Conflicting lock" in text or "Could not set lock" in text:
        pid = re.search(r"PID (\d+)", text)
        who = f" (process {pid.group(1)})" if pid else ""
        return (
            f"store {path!r} is being written by another process{who}: a run, a load or an erasure holds it, "
            "and DuckDB allows one writer at a time; wait for it to finish and try again (a running "
            "`socialvalue serve` keeps answering from the last published run meanwhile)"
        )
    return f"cannot open store {path!r}: {text}"


def _migration_1(con: duckdb.DuckDBPyConnection) -> None:
    """Create the five canonical tables and the bookkeeping tables."""
    for kind in KINDS:
        con.execute(TABLES[kind].ddl())
    con.execute(
        """
        CREATE TABLE IF NOT EXISTS _store_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
        CREATE TABLE IF NOT EXISTS _loads (
            load_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, source VARCHAR, content_hash VARCHAR,
            rows_in BIGINT, rows_inserted BIGINT, rows_updated BIGINT, loaded_at TIMESTAMP NOT NULL);
        CREATE TABLE IF NOT EXISTS _erasure_log (
            erasure_id VARCHAR PRIMARY KEY, erased_at TIMESTAMP NOT NULL, subject_hash VARCHAR NOT NULL,
            rows_removed BIGINT NOT NULL, tables_touched VARCHAR);
        """
    )
    con.execute(
        "INSERT INTO _store_meta VALUES ('erasure_salt', ?) ON CONFLICT DO NOTHING", [secrets.token_hex(16)]
    )


def _migration_2(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the ART primary-key indexes of the canonical tables (ingest enforces keys); richer ``_loads``."""
    for kind in KINDS:
        has_pk = con.execute(
            "SELECT count(*) FROM duckdb_constraints() WHERE schema_name = 'main' AND table_name = ? "
            "AND constraint_type = 'PRIMARY KEY'",
            [kind],
        ).fetchall()[0][0]
        if has_pk:
            old = ident(f"_old_{kind}")
            con.execute(f"ALTER TABLE {ident(kind)} RENAME TO {old}")
            con.execute(TABLES[kind].ddl())
            cols = con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
                [f"_old_{kind}"],
            ).fetchall()
            con.execute(
                f"INSERT INTO {ident(kind)} ({', '.join(ident(c[0]) for c in cols)}) "
                f"SELECT {', '.join(ident(c[0]) for c in cols)} FROM {old}"
            )
            con.execute(f"DROP TABLE {old}")
    con.execute("ALTER TABLE _loads ADD COLUMN IF NOT EXISTS rows_unchanged BIGINT")
    con.execute("ALTER TABLE _loads ADD COLUMN IF NOT EXISTS stubs_created BIGINT")


def _migration_3(con: duckdb.DuckDBPyConnection) -> None:
    """One spelling for "follow": relationships of kind ``follows`` become ``follow`` (as in interactions)."""
    con.execute(
        "DELETE FROM relationships r WHERE r.kind = 'follows' AND EXISTS (SELECT 1 FROM relationships f "
        "WHERE f.kind = 'follow' AND f.src_id = r.src_id AND f.dst_id = r.dst_id)"
    )
    con.execute("UPDATE relationships SET kind = 'follow' WHERE kind = 'follows'")


def _migration_4(con: duckdb.DuckDBPyConnection) -> None:
    """The control-group assignments of exported actions (``_assignments``), measured by a later run.

    One row per (run, action, customer): ``arm`` is ``treated`` or ``control``, ``stratum`` the stratification
    cell, ``segment`` the customer's segment then, ``score`` the allocation's expected value (the targeting
    score of the Qini curves); outcomes count in the ``window_days`` after ``assigned_at``; ``seed`` is the
    assignment hash's. The table has a customer column, so an erasure deletes a customer's rows with the rest.
    """
    con.execute(
        """
        CREATE TABLE IF NOT EXISTS _assignments (
            run_id VARCHAR NOT NULL, action VARCHAR NOT NULL, customer_id VARCHAR NOT NULL,
            arm VARCHAR NOT NULL CHECK (arm IN ('treated', 'control')), stratum VARCHAR, segment VARCHAR,
            score DOUBLE, assigned_at TIMESTAMP NOT NULL, window_days INTEGER NOT NULL CHECK (window_days > 0),
            seed BIGINT NOT NULL, PRIMARY KEY (run_id, action, customer_id))
        """
    )


def _migration_5(con: duckdb.DuckDBPyConnection) -> None:
    """The optional ``interactions.duration_s`` (seconds; the time share) on stores made before it."""
    con.execute('ALTER TABLE interactions ADD COLUMN IF NOT EXISTS "duration_s" DOUBLE')


#: Ordered migrations: (version, function applying it). Append, never edit, once released.
_MIGRATIONS: tuple[tuple[int, Callable[[duckdb.DuckDBPyConnection], None]], ...] = (
    (1, _migration_1),
    (2, _migration_2),
    (3, _migration_3),
    (4, _migration_4),
    (5, _migration_5),
)
SCHEMA_VERSION = _MIGRATIONS[-1][0]


class Store:
    """An embedded DuckDB store of customers, orders, interactions, relationships and content.

    The connection, the migrations and the query helpers; library code takes this class.
    ``socialvalue.Store`` (:class:`socialvalue.datastore.Store`) is its subclass with ``ingest``, ``erase``
    and ``info`` methods.

    Parameters
    ----------
    path
        DuckDB file to open or create; ``":memory:"`` for a throw-away store.
    read_only
        Open without write access (several readers may share a file).

    Examples
    --------
    >>> from socialvalue.store import Store
    >>> with Store(":memory:") as store:
    ...     store.table_counts()["orders"]
    0
    """

    def __init__(self, path: str | Path = ":memory:", *, read_only: bool = False) -> None:
        self.path = str(path)
        self.read_only = read_only
        if "\\" in self.path and os.sep == "/":
            # DuckDB takes a backslash in a database path as a folder separator: another file would open.
            raise StoreError(
                f"cannot open store {self.path!r}: DuckDB reads the backslash in its name as a folder "
                "separator, so another file would be opened; rename the file or folder"
            )
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.Error as exc:
            raise StoreError(_open_error(self.path, exc)) from None
        self._con.execute("SET TimeZone = 'UTC'")
        if not read_only:
            self._migrate()
        logger.debug("opened store %s (schema v%s)", self.path, self.schema_version)

    # -- connection -------------------------------------------------------------------------------
    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The underlying DuckDB connection (for engine-side SQL)."""
        if self._con is None:
            raise StoreError(f"store {self.path!r} is closed")
        return self._con

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._con is not None:
            self._con.close()
            self._con = None

    def _reopen_after(self, swap: Callable[[], None]) -> None:
        """Close the file, run ``swap`` (e.g. an atomic rename of a rewritten copy over it), open it again."""
        if self.path == ":memory:" or self.read_only:
            raise StoreError("only a writable file store can be swapped")
        self.close()
        try:
            swap()
        finally:
            try:
                self._con = duckdb.connect(self.path)
            except duckdb.Error as exc:
                raise StoreError(f"cannot open store {self.path!r}: {exc}") from exc
            self._con.execute("SET TimeZone = 'UTC'")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.path!r})"

    # -- schema -----------------------------------------------------------------------------------
    @property
    def schema_version(self) -> int:
        """The highest migration applied to this store (0 for an empty file opened read-only)."""
        if not self.has_table("_schema_version"):
            return 0
        return int(self.scalar("SELECT max(version) FROM _schema_version") or 0)

    def _migrate(self) -> None:
        self.con.execute(
            "CREATE TABLE IF NOT EXISTS _schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)"
        )
        current = self.schema_version
        for version, apply in _MIGRATIONS:
            if version <= current:
                continue
            self.con.execute("BEGIN TRANSACTION")
            try:
                apply(self.con)
                self.con.execute("INSERT INTO _schema_version VALUES (?, now()::TIMESTAMP)", [version])
                self.con.execute("COMMIT")
            except Exception:
                self.con.execute("ROLLBACK")
                raise
            logger.info("store %s migrated to schema v%d", self.path, version)

    # -- queries ----------------------------------------------------------------------------------
    def has_table(self, name: str) -> bool:
        """Whether a table or view called ``name`` exists in the main schema."""
        return bool(
            self.scalar(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ?",
                [name],
            )
        )

    def tables(self) -> list[str]:
        """All table names in the store, sorted."""
        rows = self.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1"
        ).fetchall()
        return [r[0] for r in rows]

    def scalar(self, query: str, params: Sequence[Any] | None = None) -> Any:
        """Run ``query`` and return the first column of its first row (``None`` if no row).

        DuckDB 2 leaves a result "unfinished" after a lone ``fetchone()``, blocking the connection, so this
        always drains the result with ``fetchall()``.
        """
        rows = self.con.execute(query, list(params) if params else []).fetchall()
        return rows[0][0] if rows else None

    def query_df(self, query: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Run ``query`` (with ``?`` parameters) and return a pandas DataFrame."""
        return arrow_to_pandas(self.query_arrow(query, params))

    def query_arrow(self, query: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Run ``query`` (with ``?`` parameters) and return an Arrow table."""
        return self.con.sql(query, params=list(params) if params else None).to_arrow_table()

    def table_counts(self) -> dict[str, int]:
        """Row count of each canonical table."""
        return {kind: int(self.scalar(f"SELECT count(*) FROM {ident(kind)}")) for kind in KINDS}
