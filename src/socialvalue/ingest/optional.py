"""Read and validate an optional table (``category_spend``) without keeping it in the store.

The optional tables of :data:`socialvalue.schema.OPTIONAL_TABLES` feed one analysis (the estimated category
spend wallet share divides by), so a user supplies them as a file or frame with the run rather than loading
them. They pass the same staging, conversion and checks as a load (:mod:`socialvalue.ingest.load`): typed
columns, empty required values, negative amounts, currencies, references to unknown or erased customers, with
every problem listed together in one :class:`~socialvalue.errors.SchemaError`. Two rules of
``category_spend`` come on top: each row names exactly one of ``customer_id`` and ``segment``, and no two rows
share (``customer_id``, ``segment``, ``category``, ``as_of``), empty values comparing equal.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from socialvalue.errors import ConfigError, SchemaError
from socialvalue.ingest import convert, sources, validate
from socialvalue.ingest.mapping import ColumnMapping, IngestRules
from socialvalue.ingest.plan import CONV
from socialvalue.ingest.sources import ROW
from socialvalue.schema import optional_table
from socialvalue.sqlsafe import ident, literal

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from socialvalue.store import Store

__all__ = ["read_optional"]

logger = logging.getLogger(__name__)

#: Rows of category_spend must name exactly one of these.
_ONE_OF = ("customer_id", "segment")


def _mapping(mapping: ColumnMapping | dict[str, Any] | str | Path | None) -> ColumnMapping:
    if mapping is None:
        return ColumnMapping()
    if isinstance(mapping, ColumnMapping):
        return mapping
    if isinstance(mapping, dict):
        from socialvalue.config import validate_config

        return validate_config(ColumnMapping, mapping, "column mapping")
    if isinstance(mapping, str | Path):
        return ColumnMapping.from_toml(mapping)
    raise ConfigError(f"mapping must be a ColumnMapping, a dict or a TOML path, not {type(mapping).__name__}")


def _extra_problems(con: duckdb.DuckDBPyConnection, p: convert.Plan, label: str, limit: int) -> list[dict]:
    """The rules beyond a load's checks: exactly one of customer_id and segment; unique keys, NULLs equal."""
    problems: list[dict[str, Any]] = []
    have = [c for c in _ONE_OF if c in p.present]
    rows = con.execute(
        f"SELECT {ident(ROW)}, n FROM (SELECT {ident(ROW)}, "
        + (" + ".join(f"CAST({ident(c)} IS NOT NULL AS INTEGER)" for c in have) or "0")
        + f" AS n FROM {ident(CONV)}) WHERE n <> 1 ORDER BY {ident(ROW)} LIMIT {literal(int(limit))}"
    ).fetchall()
    for row, n in rows:
        problems.append(
            {
                "source": label,
                "row": int(row),
                "column": "customer_id/segment",
                "value": "both" if n > 1 else None,
                "expected": "exactly one of customer_id and segment (a row is for a customer or a segment)",
                "check": "one_of",
            }
        )
    key = [c for c in p.table.primary_key if c in p.present]
    dups = con.execute(
        f"SELECT list({ident(ROW)} ORDER BY {ident(ROW)}), "
        f"min(coalesce({ident('customer_id')}, {ident('segment')}) || ' / ' || {ident('category')}) "
        f"FROM {ident(CONV)} GROUP BY "
        + ", ".join(f"coalesce(CAST({ident(c)} AS VARCHAR), {literal('')})" for c in key)
        + f" HAVING count(*) > 1 ORDER BY min({ident(ROW)}) LIMIT {literal(int(limit))}"
    ).fetchall()
    shown = "(" + ", ".join(p.table.primary_key) + ")"
    for rws, value in dups:
        problems += [
            {
                "source": label,
                "row": int(r),
                "column": shown,
                "value": value,
                "expected": f"a unique key (row {rws[0]} has the same customer or segment, category and as_of)",
                "check": "duplicate",
            }
            for r in rws[1:]
        ]
    return problems


def read_optional(
    store: Store,
    kind: str,
    source: Any,
    mapping: ColumnMapping | dict[str, Any] | str | Path | None = None,
    *,
    rules: IngestRules | None = None,
) -> pd.DataFrame:
    """Validate ``source`` against the optional table ``kind`` and return its rows, storing nothing.

    Parameters
    ----------
    store
        The store whose customers the rows may reference (and whose erasure log refuses erased ones).
    kind
        An optional table of :data:`socialvalue.schema.OPTIONAL_TABLES` (``"category_spend"``).
    source
        A file (CSV, Parquet, JSON), a pandas or Arrow table, as :meth:`socialvalue.Store.ingest` takes.
    mapping
        Column mapping (object, dict or TOML path), as for a load.
    rules
        Data-quality rules (timestamp range, vocabularies, how many problems to list).

    Returns
    -------
    pandas.DataFrame
        The canonical columns of the table, converted (an absent optional column holds its default), in
        source row order.

    Raises
    ------
    SchemaError
        Listing every problem of the source (a reference to an unknown customer is one).
    """
    tbl = optional_table(kind)
    m = _mapping(mapping)
    rules = rules or IngestRules()
    con = store.con
    staged = None
    con.execute(f"SET TimeZone = {literal(m.timezone)}")
    try:
        staged = sources.stage(con, source, delimiter=m.delimiter, header=m.header, encoding=m.encoding)
        label = staged.label
        try:
            # absent optional columns take their defaults in the view, so the key checks find every column
            absent = tuple(c.name for c in tbl.columns if not c.required)
            p = convert.plan(tbl, staged, m, force_present=absent, vocabulary=rules.vocabulary, con=con)
            convert.build_view(con, p, staged)
            rows = con.execute(f"SELECT count(*) FROM {ident(CONV)}").fetchall()[0][0]
            extra = _extra_problems(con, p, label, rules.max_problems)
            try:
                validate.validate(con, p, label, rules, reject_missing=True, force=False)
            except SchemaError as exc:
                if not extra:
                    raise
                extra = [*exc.problems, *extra]
            if extra:
                validate.raise_problems(label, extra, total_rows=rows, listed=rules.max_listed)
            out = store.query_df(f"SELECT * FROM {ident(CONV)} ORDER BY {ident(ROW)}")
        except duckdb.Error as exc:
            raise SchemaError(
                f"{label}: cannot convert the rows for {kind}: {sources.clean_error(exc)}"
            ) from None
    finally:
        con.execute("SET TimeZone = 'UTC'")
        sources.drop_staged(con, staged)
    out = out[list(tbl.column_names)].reset_index(drop=True)
    logger.info("%s: %d rows of %s read and validated", label, len(out), kind)
    return out
