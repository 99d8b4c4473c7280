"""Read the five canonical tables into Spark, converted and validated by the same rules as ingest.

An input folder holds one entry per table, named after it: a Parquet file (``orders.parquet``) or a folder
(``orders/``, or ``orders.parquet/`` as Spark writes it) of Parquet files, a Delta table (it has a
``_delta_log/``) or an Iceberg table (it has a ``metadata/``). ``customers`` is required; a table without an
entry is empty. Delta and Iceberg need their connector on Spark's classpath; without it the read stops with
one line naming the package to add.

Each table goes through the rules of :mod:`socialvalue.ingest`, not a copy of them:

* :func:`socialvalue.ingest.convert.plan` resolves each canonical column (same-named source columns,
  ignoring case; defaults for absent optional columns; a required column missing is a problem) and writes
  the DuckDB expression converting it (vocabulary words matched ignoring case, ``follows`` read as
  ``follow``, currencies upper-cased, text or numbers cast with the raw value kept for the report);
* the checks of :mod:`socialvalue.ingest.validate` (missing values, types, time range, vocabularies,
  currencies, negative counts and amounts, unknown customers) run as Spark aggregations: one job counts
  every check, and only the failing ones fetch their first rows;
* duplicate keys are found with one aggregation: exact copies are dropped, differing rows are problems.

Both kinds of expression are transpiled to Spark SQL (:func:`socialvalue.spark.dialect.to_spark_expr`). A
problem names the file, the row (Parquet's row index within that file, 1-based as in a DuckDB load; None for
Delta and Iceberg), the column, the value and what was expected; every problem of every table is raised
together in one :class:`~socialvalue.errors.SchemaError`. Nothing is registered or written before the
checks pass.

Not checked here, because there is no store: rows of erased customers (a store's erasure log) and stub
customers for unknown ids (references to unknown customers are always problems, as in a load with
``on_missing_customer="reject"``). Column mappings are not applied: the input holds canonical column names.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from socialvalue.errors import ConfigError, SchemaError
from socialvalue.ingest import convert
from socialvalue.ingest.mapping import ColumnMapping, IngestRules
from socialvalue.ingest.plan import Plan
from socialvalue.ingest.sources import ROW, Staged, refuse_duplicate_columns
from socialvalue.ingest.validate import _row_checks, data_hints, raise_problems
from socialvalue.schema import KINDS, Table
from socialvalue.schema import table as canonical_table
from socialvalue.spark.dialect import to_spark_expr
from socialvalue.sqlsafe import ident

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.types import DataType

__all__ = ["canonical_schema", "locate", "read_tables"]

_FILE = "_sv_file"  # the file a row comes from (its name, under the table's folder if it has one)
_KNOWN = "__known__"  # prefix of the flag a reference check reads: the id is a customer's
_SUFFIXES = (".parquet", ".pq", ".parq")

#: What a Delta or Iceberg table needs on the classpath, in the refusal's words.
CONNECTORS = {
    "delta": (
        "the Delta Lake connector: start Spark with --packages io.delta:delta-spark_2.13:<the release for "
        "your Spark> and --conf spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension "
        "--conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog"
    ),
    "iceberg": (
        "the Apache Iceberg runtime: start Spark with --packages "
        "org.apache.iceberg:iceberg-spark-runtime-<spark major.minor>_2.13:<the release for your Spark>"
    ),
}


@dataclass(frozen=True)
class Located:
    """Where a canonical table is: ``path`` in ``fmt`` (parquet, delta, iceberg), ``label`` for messages."""

    kind: str
    path: str
    fmt: str
    label: str
    folder: bool


def locate(root: str | os.PathLike[str], kind: str) -> Located | None:
    """The entry of table ``kind`` in the input folder ``root`` (None when there is none).

    Raises
    ------
    SchemaError
        If two entries name the table (``orders.parquet`` and ``orders/``): which one to read would be a guess.
    """
    base = Path(root)
    found = [base / f"{kind}{s}" for s in _SUFFIXES if (base / f"{kind}{s}").exists()]
    if (base / kind).is_dir():
        found.append(base / kind)
    if not found:
        return None
    if len(found) > 1:
        names = " and ".join(repr(p.name) for p in found)
        raise SchemaError(f"{base}: {names} both hold the {kind} table; keep one of them")
    path = found[0]
    if not path.is_dir():
        return Located(kind, str(path), "parquet", path.name, folder=False)
    fmt = "parquet"
    if (path / "_delta_log").is_dir():
        fmt = "delta"
    elif (path / "metadata").is_dir():
        fmt = "iceberg"
    return Located(kind, str(path), fmt, path.name + "/", folder=True)


def _duck_type(dtype: DataType) -> str:
    """The DuckDB name of a Spark type: the conversion plan decides casts by it."""
    from pyspark.sql import types as T

    simple = {
        T.StringType: "VARCHAR",
        T.CharType: "VARCHAR",
        T.VarcharType: "VARCHAR",
        T.BooleanType: "BOOLEAN",
        T.ByteType: "TINYINT",
        T.ShortType: "SMALLINT",
        T.IntegerType: "INTEGER",
        T.LongType: "BIGINT",
        T.FloatType: "FLOAT",
        T.DoubleType: "DOUBLE",
        T.DateType: "DATE",
        T.TimestampNTZType: "TIMESTAMP",
        T.TimestampType: "TIMESTAMP WITH TIME ZONE",
        T.BinaryType: "BLOB",
    }
    for cls, name in simple.items():
        if isinstance(dtype, cls):
            return name
    if isinstance(dtype, T.DecimalType):
        return f"DECIMAL({dtype.precision},{dtype.scale})"
    if isinstance(dtype, T.ArrayType):
        return _duck_type(dtype.elementType) + "[]"
    if isinstance(dtype, T.StructType):
        return "STRUCT(" + ", ".join(f"{ident(f.name)} {_duck_type(f.dataType)}" for f in dtype.fields) + ")"
    if isinstance(dtype, T.MapType):
        return f"MAP({_duck_type(dtype.keyType)}, {_duck_type(dtype.valueType)})"
    return dtype.simpleString().upper()


def canonical_schema(kind: str) -> str:
    """The Spark DDL schema of canonical table ``kind`` (``customer_id STRING, ...``), without ``extra``.

    Examples
    --------
    >>> canonical_schema("relationships")
    '`src_id` STRING, `dst_id` STRING, `kind` STRING, `created_at` TIMESTAMP_NTZ, `ended_at` TIMESTAMP_NTZ'
    """
    import sqlglot

    cols = [f"{ident(c.name)} {c.sql_type}" for c in canonical_table(kind).columns]
    return sqlglot.transpile(f"CREATE TABLE t ({', '.join(cols)})", read="duckdb", write="spark")[0][
        len("CREATE TABLE t (") : -1
    ]


def _empty(spark: SparkSession, kind: str) -> DataFrame:
    return spark.createDataFrame([], canonical_schema(kind))


def _literal_path(path: str) -> str:
    """``path`` with Hadoop's glob characters escaped, so exactly that file or folder is read.

    Spark expands ``* ? [ ] { }`` in a path as a pattern (``o[1].parquet`` would read ``o1.parquet``); a
    backslash makes each one literal.
    """
    return re.sub(r"([\\\[\]{}*?])", r"\\\1", path)


def _has_data(where: Located) -> bool:
    """Whether the table has rows to read: a file, or a folder with a data file (not ``_SUCCESS``, ``.crc``)."""
    if not where.folder or where.fmt != "parquet":
        return True
    return any(
        not any(part.startswith(("_", ".")) for part in f.relative_to(where.path).parts)
        for f in Path(where.path).rglob("*")
        if f.is_file()
    )


def _read(spark: SparkSession, where: Located) -> DataFrame:
    """The table's rows with ``_sv_row`` (1-based row of its file, for Parquet) and ``_sv_file``."""
    from pyspark.sql import functions as F

    try:
        if where.fmt == "parquet":
            df = spark.read.parquet(_literal_path(where.path))
        else:
            df = spark.read.format(where.fmt).load(_literal_path(where.path))
    except Exception as exc:  # the JVM's error arrives as py4j's or pyspark's, by deployment
        text = str(exc)
        if "DATA_SOURCE_NOT_FOUND" in text or "Failed to find the data source" in text:
            raise ConfigError(
                f"{where.label} is a {where.fmt.title()} table and this Spark cannot read it: add "
                f"{CONNECTORS[where.fmt]}"
            ) from None
        reason = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
        raise SchemaError(f"cannot read {where.path!r} as {where.fmt}: {reason[:300]}") from None
    refuse_duplicate_columns(where.label, list(df.columns))
    if ROW in df.columns or _FILE in df.columns:
        raise SchemaError(
            f"{where.label}: the source has a column named {ROW!r} or {_FILE!r}, which is reserved"
        )
    if where.fmt == "parquet":
        row = (F.col("_metadata.row_index") + F.lit(1)).cast("bigint")
        name = F.col("_metadata.file_name")
        label = F.concat(F.lit(where.label), name) if where.folder else name
    else:  # Delta and Iceberg rows have no stable position a user could find in a file
        row = F.lit(None).cast("bigint")
        label = F.lit(where.label)
    return df.select("*", row.alias(ROW), label.alias(_FILE))


def _problem(source: Any, row: Any, column: str, value: Any, expected: str, check: str) -> dict[str, Any]:
    """A problem in the shape :mod:`socialvalue.ingest.validate` reports."""
    return {
        "source": source,
        "row": row,
        "column": column,
        "value": value,
        "expected": expected,
        "check": check,
    }


@dataclass
class _Checked:
    """A table after its checks: the converted rows, the problems found and the counts of the message."""

    frame: DataFrame
    plan: Plan
    label: str
    rows: int
    problems: list[dict[str, Any]]
    total: int
    exact_duplicates: int


def _refuse_nul(src: DataFrame, where: Located, texts: list[str]) -> None:
    """Refuse a NUL character in a text value, as a load does (no id, word or note holds one)."""
    from pyspark.sql import functions as F

    if not texts:
        return
    hits = [F.instr(F.col("`" + c.replace("`", "``") + "`"), "\x00") > 0 for c in texts]
    anywhere = hits[0]
    for h in hits[1:]:
        anywhere = anywhere | h
    bad = src.filter(anywhere)
    first = bad.orderBy(_FILE, ROW).limit(1).collect()
    if not first:
        return
    row = first[0]
    col = next(c for c in texts if row[c] is not None and "\x00" in row[c])
    n = bad.count()
    value = row[col]
    shown = value.replace("\x00", "\\0")[:60]
    raise SchemaError(
        f"{row[_FILE]}: {n:,} row{'s' if n != 1 else ''} with a NUL character; nothing was loaded:\n"
        f"  row {row[ROW]}, column {col!r}: got {shown!r} (\\0 marks the NUL); expected text without NUL "
        "characters\nfix: remove the NUL bytes (often a sign of a binary or UTF-16 file read as UTF-8)",
        [_problem(row[_FILE], row[ROW], col, value, "text without NUL characters", "type")],
    )


def _plan(src: DataFrame, where: Located, table: Table, rules: IngestRules) -> Plan:
    columns = {f.name: _duck_type(f.dataType) for f in src.schema.fields if f.name != _FILE}
    staged = Staged(label=where.label, columns=columns, content_hash="", fmt=where.fmt)
    force = ("is_stub",) if table.name == "customers" else ()
    return convert.plan(table, staged, ColumnMapping(), force_present=force, vocabulary=rules.vocabulary)


def _value_column(check_value: str, conv: DataFrame) -> tuple[Column, bool]:
    """A check's reported value in Spark, and whether it is a double to write as DuckDB does.

    DuckDB's ``CAST(x AS VARCHAR)`` of a double is the shortest text that reads back the same (``1.5``,
    ``nan``, ``inf``), which is Python's ``repr``; Spark writes ``NaN`` and ``Infinity``. Such a value is
    fetched as the double and written on the driver.
    """
    import sqlglot
    from pyspark.sql import functions as F
    from pyspark.sql import types as T
    from sqlglot import exp

    tree = sqlglot.parse_one(check_value, read="duckdb")
    if isinstance(tree, exp.Cast) and isinstance(tree.this, exp.Column) and tree.to.is_type("text"):
        name = tree.this.name
        if isinstance(conv.schema[name].dataType, T.DoubleType | T.FloatType):
            return F.col(name), True
    return F.expr(to_spark_expr(check_value)), False


def _check(
    src: DataFrame, where: Located, table: Table, rules: IngestRules, customers: DataFrame | None
) -> _Checked:
    """Convert ``src`` by the ingest plan and run every ingest check over it (see the module docstring)."""
    from pyspark.sql import functions as F

    texts = [f.name for f in src.schema.fields if _duck_type(f.dataType) == "VARCHAR" and f.name != _FILE]
    _refuse_nul(src, where, texts)
    p = _plan(src, where, table, rules)
    conv = src.selectExpr(*(to_spark_expr(s) for s in p.select), _FILE)
    checks = _row_checks(p, rules, rules.vocabulary.refund_statuses)
    conditions = []
    for c in checks:
        if c.name == "reference":
            # DuckDB's IN (subquery) inside an aggregate: a left join marking the ids that are customers
            flag = _KNOWN + c.column
            known = customers.select(F.col("customer_id").alias(flag)).distinct()  # type: ignore[union-attr]
            conv = conv.join(known, conv[c.column] == known[flag], "left")
            q = f"`{c.column}`"
            conditions.append(f"{q} IS NOT NULL AND `{flag}` IS NULL")
        else:
            conditions.append(to_spark_expr(c.where))
    counts = conv.agg(F.count(F.lit(1)), *(F.count_if(F.expr(w)) for w in conditions)).first()
    rows = int(counts[0])  # type: ignore[index]
    problems: list[dict[str, Any]] = []
    total = 0
    for check, cond, n in zip(checks, conditions, counts[1:], strict=True):  # type: ignore[index]
        if not n:
            continue
        total += n
        value, double = _value_column(check.value, conv)
        first = (
            conv.filter(F.expr(cond))
            .orderBy(_FILE, ROW)
            .limit(rules.max_problems)
            .select(_FILE, ROW, value.alias("value"))
            .collect()
        )
        for r in first:
            shown = repr(float(r["value"])) if double and r["value"] is not None else r["value"]
            problems.append(_problem(r[_FILE], r[ROW], check.column, shown, check.expected, check.name))
    dup_problems, n_dup, exact = _duplicates(conv, p, rules.max_problems)
    problems += dup_problems
    total += n_dup
    keep = [ROW, *p.present, "extra", _FILE]
    return _Checked(conv.select(*keep), p, where.label, rows, problems, total, exact)


def _key_text(values: list[Any]) -> str:
    """A composite key as DuckDB writes a row value: ``(a, b, follow)``."""
    return "(" + ", ".join("NULL" if v is None else str(v) for v in values) + ")"


def _duplicates(conv: DataFrame, p: Plan, limit: int) -> tuple[list[dict[str, Any]], int, int]:
    """Keys appearing more than once (see ``ingest.validate._duplicates``): exact copies and differing rows."""
    from pyspark.sql import functions as F

    keys = list(p.table.primary_key)
    present = conv.filter(" AND ".join(f"`{k}` IS NOT NULL" for k in keys))
    content = F.struct(*(F.col(c) for c in [*p.present, "extra"]))
    groups = (
        present.groupBy(*keys)
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.count_distinct(content).alias("variants"),
            F.sort_array(F.collect_list(F.struct(F.col(_FILE), F.col(ROW)))).alias("rows_"),
        )
        .filter("n > 1")
    )
    totals = groups.agg(
        F.sum(F.when(F.col("variants") == 1, F.col("n") - 1).otherwise(0)),
        F.sum(F.when(F.col("variants") > 1, F.col("n") - 1).otherwise(0)),
    ).first()
    exact, n_bad = int(totals[0] or 0), int(totals[1] or 0)  # type: ignore[index]
    if not n_bad:
        return [], 0, exact
    shown_key = keys[0] if len(keys) == 1 else "(" + ", ".join(keys) + ")"
    bad = (
        groups.filter("variants > 1")
        .orderBy(F.element_at("rows_", 2))
        .limit(limit)
        .select(*keys, "rows_")
        .collect()
    )
    problems = []
    for g in bad:
        value = g[keys[0]] if len(keys) == 1 else _key_text([g[k] for k in keys])
        first = g["rows_"][0]
        for later in g["rows_"][1:]:
            at = (
                f"row {first[ROW]}" if first[_FILE] == later[_FILE] else f"row {first[ROW]} of {first[_FILE]}"
            )
            problems.append(
                _problem(
                    later[_FILE],
                    later[ROW],
                    shown_key,
                    value,
                    f"a unique key ({at} has the same key with different values)",
                    "duplicate",
                )
            )
    return problems, n_bad, exact


def _canonical(checked: _Checked, kind: str) -> DataFrame:
    """The checked rows in the canonical columns and types (defaults for absent columns), one per key."""
    table = canonical_table(kind)
    items = []
    for col in table.columns:
        value = ident(col.name) if col.name in checked.plan.present else f"{col.default or 'NULL'}"
        items.append(to_spark_expr(f"CAST({value} AS {col.sql_type}) AS {ident(col.name)}"))
    frame = checked.frame
    if checked.exact_duplicates:
        frame = frame.dropDuplicates(list(table.primary_key))
    return frame.selectExpr(*items)


def _error(checked: _Checked, rules: IngestRules) -> SchemaError:
    try:
        raise_problems(
            checked.label,
            checked.problems,
            total_rows=checked.rows,
            total=checked.total,
            listed=rules.max_listed,
            hints=data_hints(checked.plan, checked.problems, rules),
        )
    except SchemaError as exc:
        return exc
    raise AssertionError("raise_problems returned")  # pragma: no cover


def read_tables(
    spark: SparkSession, path: str | os.PathLike[str], *, rules: IngestRules | None = None
) -> dict[str, DataFrame]:
    """The five canonical tables of the input folder ``path`` as Spark DataFrames, checked by the ingest rules.

    Parameters
    ----------
    spark
        The session to read with (:func:`socialvalue.spark.session.spark_session`).
    path
        Folder holding one entry per table (see the module docstring); ``customers`` is required.
    rules
        Data-quality rules (time range, vocabularies, how many problems to list), as for a load.

    Returns
    -------
    dict of str to pyspark.sql.DataFrame
        ``customers``, ``orders``, ``interactions``, ``relationships`` and ``content`` in the canonical
        columns and types (timestamps as ``TIMESTAMP_NTZ`` holding UTC, money as ``DECIMAL(18,4)``, no
        ``extra``); exact duplicate rows dropped; an absent table is empty.

    Raises
    ------
    SchemaError
        Listing every problem of every table (``problems`` holds them, each with ``source``, ``row``,
        ``column``, ``value``, ``expected`` and ``check``), or if the folder or its customers are missing.
    ConfigError
        If a Delta or Iceberg table is found and Spark has no connector for it.
    """
    rules = rules or IngestRules()
    root = Path(path)
    if not root.is_dir():
        raise SchemaError(
            f"{str(root)!r} is not a folder of canonical tables (customers.parquet, orders/, ...)"
        )
    found = {kind: locate(root, kind) for kind in KINDS}
    if found["customers"] is None:
        raise SchemaError(
            f"{root}: no customers table (customers.parquet, or a customers/ folder of Parquet, Delta or "
            "Iceberg); the other tables refer to it"
        )
    out: dict[str, DataFrame] = {}
    errors: list[SchemaError] = []
    customers: DataFrame | None = None
    for kind in KINDS:
        where = found[kind]
        if where is None or not _has_data(where):
            out[kind] = _empty(spark, kind)
            continue
        try:
            checked = _check(_read(spark, where), where, canonical_table(kind), rules, customers)
        except SchemaError as exc:  # a missing column or a NUL: this table's report, the others still run
            errors.append(exc)
            if kind == "customers":
                break
            continue
        if checked.problems:
            errors.append(_error(checked, rules))
        out[kind] = _canonical(checked, kind)
        if kind == "customers":
            customers = out[kind]
    if errors:
        raise _combined(errors)
    return out


def _combined(errors: list[SchemaError]) -> SchemaError:
    """One error of every table's report: their messages one after the other, every problem."""
    if len(errors) == 1:
        return errors[0]
    problems = [d for e in errors for d in e.problems]
    return SchemaError("\n".join(str(e) for e in errors), problems)
