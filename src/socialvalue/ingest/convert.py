"""Turn staged source columns into typed canonical columns with SQL expressions (no Python per row).

:func:`plan` resolves, for each canonical column of the target table, where its values come from (a mapped
source column, a same-named source column, a constant, or nothing) and builds the DuckDB expression that
converts them: text to timestamps (ISO-8601 or a ``strptime`` format, local time zone → UTC), decimal
commas, yes/no booleans. Each convertible column keeps its raw text beside it as ``__raw__<name>`` so a value
that does not convert can be reported with its row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from socialvalue.errors import SchemaError
from socialvalue.ingest.mapping import ColumnMapping
from socialvalue.ingest.sources import RAW, ROW, SRC, Staged
from socialvalue.schema import Column, Table

__all__ = ["CONV", "RAW_PREFIX", "Plan", "build_view", "plan"]

CONV = "_sv_conv"
RAW_PREFIX = "__raw__"

_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER")
_NUMERIC += ("UBIGINT", "FLOAT", "DOUBLE", "DECIMAL")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: object) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _is_numeric(src_type: str) -> bool:
    return src_type.upper().startswith(_NUMERIC)


def _is_text(src_type: str) -> bool:
    return src_type.upper() in ("VARCHAR", "JSON") or src_type.upper().startswith("VARCHAR")


@dataclass
class Plan:
    """Where each canonical column comes from and how it is converted."""

    table: Table
    select: list[str] = field(default_factory=list)  # SELECT items of the conversion view
    present: list[str] = field(default_factory=list)  # canonical columns the source provides
    convertible: dict[str, str] = field(default_factory=dict)  # column -> what was expected
    sources: dict[str, str] = field(default_factory=dict)  # canonical -> source column (or 'constant')
    extra_columns: list[str] = field(default_factory=list)


def _expected(col: Column, mapping: ColumnMapping) -> str:
    t = col.sql_type.upper()
    if t == "TIMESTAMP":
        fmt = mapping.date_format_for(col.name)
        return f"a timestamp in the format {fmt!r}" if fmt else "a timestamp such as 2024-01-31 13:45:00"
    if t.startswith("DECIMAL"):
        return "a decimal number such as " + ("1.234,50" if mapping.decimal_comma else "1234.50")
    if t == "BOOLEAN":
        shown = "/".join(mapping.true_values[:3] + mapping.false_values[:3])
        return f"a boolean ({shown} ...)"
    if t in ("INTEGER", "BIGINT"):
        return "a whole number"
    if t == "DOUBLE":
        return "a number"
    return f"a {col.sql_type} value"


def _number_text(expr: str, mapping: ColumnMapping) -> str:
    expr = f"nullif({expr}, '')"  # casts to numbers accept surrounding blanks
    if mapping.decimal_comma:
        expr = f"replace(replace({expr}, '.', ''), ',', '.')"
    return expr


def _convert(col: Column, expr: str, src_type: str, mapping: ColumnMapping) -> tuple[str, bool]:
    """SQL converting ``expr`` (of DuckDB type ``src_type``) to the column type; and whether it may fail."""
    t = col.sql_type.upper()
    st = src_type.upper()
    text = _is_text(st)
    if t == "VARCHAR":
        # No trim(): it is Unicode-aware and costs ~0.5 s per 2M values; ids are taken verbatim.
        out = f"nullif({expr}, '')" if text else f"CAST({expr} AS VARCHAR)"
        return (f"upper({out})" if col.name == "currency" else out), False
    if t == "TIMESTAMP":
        tz = _lit(mapping.timezone)
        if st.startswith("TIMESTAMP WITH TIME ZONE") or st == "TIMESTAMPTZ":
            return f"timezone('UTC', {expr})", False
        if st.startswith("TIMESTAMP") or st == "DATE":
            naive = f"CAST({expr} AS TIMESTAMP)"
        elif text:
            fmt = mapping.date_format_for(col.name)
            if fmt is None:
                # The session time zone is the mapping's during a load: naive text is local time there.
                return f"timezone('UTC', TRY_CAST(nullif({expr}, '') AS TIMESTAMPTZ))", True
            parsed = f"try_strptime(nullif({expr}, ''), {_lit(fmt)})"
            if "%z" in fmt or "%Z" in fmt:
                return f"timezone('UTC', {parsed})", True
            naive = parsed
        elif _is_numeric(st):  # Unix epoch seconds
            return f"timezone('UTC', to_timestamp(TRY_CAST({expr} AS DOUBLE)))", True
        else:
            return f"TRY_CAST({expr} AS TIMESTAMP)", True
        if mapping.timezone != "UTC":
            naive = f"timezone('UTC', timezone({tz}, {naive}))"
        return naive, text
    if t == "BOOLEAN":
        if st == "BOOLEAN":
            return expr, False
        if text:
            low = f"lower(trim({expr}))"
            trues = ", ".join(_lit(v) for v in mapping.true_values)
            falses = ", ".join(_lit(v) for v in mapping.false_values)
            return f"CASE WHEN {low} IN ({trues}) THEN TRUE WHEN {low} IN ({falses}) THEN FALSE END", True
        return f"CASE WHEN {expr} = 1 THEN TRUE WHEN {expr} = 0 THEN FALSE END", True
    # numbers: DECIMAL, INTEGER, BIGINT, DOUBLE
    if text:
        whole = t.startswith(("INTEGER", "BIGINT"))
        inner = f"nullif({expr}, '')" if whole else _number_text(expr, mapping)
        return f"TRY_CAST({inner} AS {col.sql_type})", True
    if st == t:
        return expr, False
    return f"TRY_CAST({expr} AS {col.sql_type})", True


def plan(
    table: Table, staged: Staged, mapping: ColumnMapping, *, force_present: tuple[str, ...] = ()
) -> Plan:
    """Resolve the source of every canonical column and the SQL that converts it.

    Raises
    ------
    SchemaError
        Listing every required column the source lacks and every mapped source column it does not have.
    """
    if mapping.kind is not None and mapping.kind != table.name:
        raise SchemaError(
            f"{staged.label}: the column mapping is written for {mapping.kind!r}, not {table.name!r}"
        )
    src_cols = [c for c in staged.columns if c != ROW]
    by_lower = {c.lower(): c for c in src_cols}
    canonical = set(table.column_names)
    problems: list[dict[str, object]] = []
    for name in sorted(set(mapping.columns) | set(mapping.constants)):
        if name not in canonical:
            problems.append(
                _problem(
                    staged, name, None, f"one of the {table.name} columns: {', '.join(table.column_names)}"
                )
            )
    out = Plan(table=table, select=[f"{ROW}"])
    used: set[str] = set()
    for col in table.columns:
        if col.name in mapping.constants:
            expr, src_type = _lit(mapping.constants[col.name]), _const_type(mapping.constants[col.name])
            out.sources[col.name] = "constant"
        elif col.name in mapping.columns:
            src = mapping.columns[col.name]
            if src not in staged.columns:
                problems.append(
                    _problem(
                        staged, col.name, src, f"a source column {src!r} (it has: {', '.join(src_cols)})"
                    )
                )
                continue
            expr, src_type = _q(src), staged.columns[src]
            used.add(src)
            out.sources[col.name] = src
        elif col.name.lower() in by_lower:
            src = by_lower[col.name.lower()]
            expr, src_type = _q(src), staged.columns[src]
            used.add(src)
            out.sources[col.name] = src
        elif col.name == "currency" and mapping.default_currency:
            expr, src_type = _lit(mapping.default_currency), "VARCHAR"
            out.sources[col.name] = "constant"
        elif col.name in force_present:
            out.select.append(f"{col.default or 'NULL'}::{col.sql_type} AS {_q(col.name)}")
            out.present.append(col.name)
            continue
        else:
            if col.required:
                problems.append(
                    _problem(
                        staged, col.name, None, "a source column for it (add it or map one in [columns])"
                    )
                )
            continue
        conv, may_fail = _convert(col, expr, src_type, mapping)
        out.select.append(f"{conv} AS {_q(col.name)}")
        out.present.append(col.name)
        if may_fail:
            out.select.append(f"CAST({expr} AS VARCHAR) AS {_q(RAW_PREFIX + col.name)}")
            out.convertible[col.name] = _expected(col, mapping)
    if problems:
        from socialvalue.ingest.validate import raise_problems

        raise_problems(staged.label, problems, total_rows=None)
    extra = [c for c in src_cols if c not in used] if mapping.keep_extra else []
    out.extra_columns = extra
    if extra == ["extra"]:
        out.select.append('TRY_CAST("extra" AS JSON) AS "extra"')
    elif extra:
        out.select.append(
            "to_json(struct_pack(" + ", ".join(f"{_q(c)} := {_q(c)}" for c in extra) + ')) AS "extra"'
        )
    else:
        out.select.append('NULL::JSON AS "extra"')
    return out


def _const_type(value: object) -> str:
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "BIGINT"
    if isinstance(value, float):
        return "DOUBLE"
    return "VARCHAR"


def _problem(staged: Staged, column: str, value: object, expected: str) -> dict[str, object]:
    return {
        "source": staged.label,
        "row": None,
        "column": column,
        "value": value,
        "expected": expected,
        "check": "columns",
    }


def build_view(con: duckdb.DuckDBPyConnection, p: Plan, staged: Staged) -> None:
    """Create ``_sv_conv``, the converted batch, over the staged source.

    Typed sources (Parquet, Arrow) get a view: their conversions are casts that cost less than storing the
    result. Text sources (CSV, JSON) are converted once into a temporary table, because parsing text into
    timestamps and decimals is the expensive part and validation and writing would each repeat it.
    """
    query = f"SELECT {', '.join(p.select)} FROM {SRC}"
    if staged.fmt in ("csv", "json"):
        con.execute(f"CREATE OR REPLACE TEMP TABLE {CONV} AS {query}")
        # The parsed text is no longer needed: free its memory now.
        con.execute(f"DROP VIEW IF EXISTS {SRC}")
        con.execute(f"DROP TABLE IF EXISTS {RAW}")
    else:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {CONV} AS {query}")
