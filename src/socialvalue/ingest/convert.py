"""Turn staged source columns into typed canonical columns with SQL expressions (no Python per row).

:func:`plan` resolves, for each canonical column of the target table, where its values come from (a mapped
source column, a same-named source column, a constant, or nothing) and builds the DuckDB expression that
converts them: text to timestamps (ISO-8601 or a ``strptime`` format, local time zone → UTC), decimal
commas, yes/no booleans, and words of a vocabulary column (matched ignoring case, recoded through the mapping's
``[values.<column>]`` and the built-in aliases such as ``follows`` → ``follow``). Each convertible column keeps its raw text beside it as ``__raw__<name>`` so a value
that does not convert can be reported with its row.

An orders source without an order id (no ``order_id`` column, none named in the mapping, and no column that looks
like one) gets one derived per row, in SQL, from the converted customer, time and amount and the row's position
among rows with the same three values in source order (:data:`DERIVED_ORDER_ID`): the same file loaded again
gives the same ids, so the load is idempotent, and two identical purchases stay two orders.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import duckdb

from socialvalue.errors import ConfigError, SchemaError
from socialvalue.ingest import hints
from socialvalue.ingest.mapping import ColumnMapping
from socialvalue.ingest.plan import CONV, RAW_PREFIX, Plan
from socialvalue.ingest.sources import RAW, ROW, SRC, Staged
from socialvalue.ingest.validate import raise_problems
from socialvalue.schema import Column, Table
from socialvalue.sqlsafe import ident, literal

if TYPE_CHECKING:  # pragma: no cover
    from socialvalue.config import Vocabulary

__all__ = [
    "CONV",
    "DERIVED_ORDER_ID",
    "RAW_PREFIX",
    "Plan",
    "build_view",
    "derived_ids_note",
    "derives_order_id",
    "plan",
]

_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER")
_NUMERIC += ("UBIGINT", "FLOAT", "DOUBLE", "DECIMAL")

#: SQL of a derived order id over the converted columns: ``o-`` and the first 16 hex digits (64 bits) of the MD5
#: of the canonical customer id, UTC time and amount (as DuckDB writes a TIMESTAMP and a DECIMAL(18,4)) and the
#: 1-based position among the source's rows with the same three values, in source order; unit separators
#: (``chr(31)``) between the fields.
DERIVED_ORDER_ID = (
    "'o-' || left(md5(concat_ws(chr(31), coalesce(\"customer_id\", ''), "
    "coalesce(CAST(\"ordered_at\" AS VARCHAR), ''), coalesce(CAST(\"amount\" AS VARCHAR), ''), "
    'CAST(row_number() OVER (PARTITION BY "customer_id", "ordered_at", "amount" '
    f"ORDER BY {ROW}) AS VARCHAR))), 16)"
)


def derived_ids_note(n: int) -> str:
    """The load report's line about ``n`` derived order ids."""
    return (
        f"orders: no order_id column; derived {n:,} ids from customer, time, amount and position — a re-load "
        "of the same file replaces them, a file with its own ids does not"
    )


def derives_order_id(table: Table, mapping: ColumnMapping, src_cols: list[str]) -> bool:
    """Whether a load of ``src_cols`` into ``table`` derives the order ids.

    Only for orders whose source has no ``order_id`` column (any case), whose mapping names none (as a column
    or a constant), and none of whose other columns looks like one (``Order ID``, ``invoice``, ``id``: those
    are proposed as the mapping's ``order_id`` instead, as before).
    """
    if table.name != "orders" or "order_id" in mapping.columns or "order_id" in mapping.constants:
        return False
    lower = {c.lower() for c in src_cols}
    if "order_id" in lower:
        return False
    canonical = set(table.column_names)
    used = set(mapping.columns.values()) | {c for c in src_cols if c.lower() in canonical}
    return hints.closest_column("order_id", src_cols, used) is None


#: Built-in spellings recoded at load, by vocabulary (used when the vocabulary lacks the alias itself).
ALIASES: dict[str, dict[str, str]] = {"relationship_kinds": {"follows": "follow"}}


#: A time-zone offset no place on Earth uses (hours above 14, or minutes above 59) after a time of day.
_BAD_OFFSET = r"[0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]*)?)?\s*[+-]((1[5-9]|[2-9][0-9])(:?[0-9]{2})?|[0-9]{2}:?[6-9][0-9])\s*$"
#: Whole numbers written as text: digits, an optional sign, an optional all-zero fraction ("2", "+2", "2.0").
_WHOLE = r"^\s*([+-]?[0-9]+)(\.0*)?\s*$"
#: Epoch seconds written as text: 9 to 11 digits (1973-03-03 to year 5138; 8 digits look like YYYYMMDD).
_EPOCH = re.compile(r"\s*[0-9]{9,11}\s*")
_NESTED = ("STRUCT", "MAP", "UNION")


def _is_nested(src_type: str) -> bool:
    st = src_type.upper()
    return st.startswith(_NESTED) or st.endswith("]")


def _is_numeric(src_type: str) -> bool:
    return src_type.upper().startswith(_NUMERIC)


def _is_text(src_type: str) -> bool:
    return src_type.upper() in ("VARCHAR", "JSON") or src_type.upper().startswith("VARCHAR")


def _expected(col: Column, mapping: ColumnMapping) -> str:
    t = col.sql_type.upper()
    if t == "TIMESTAMP":
        fmt = mapping.date_format_for(col.name)
        if fmt:
            return f"a timestamp in the format {fmt!r}"
        return "a timestamp such as 2024-01-31 13:45:00 (any offset between -14:00 and +14:00)"
    if t.startswith("DECIMAL"):
        return "a decimal number such as " + ("1.234,50" if mapping.decimal_comma else "1234.50")
    if t == "BOOLEAN":
        shown = "/".join(mapping.true_values[:3] + mapping.false_values[:3])
        return f"a boolean ({shown} ...)"
    if t in ("INTEGER", "BIGINT"):
        return "a whole number"
    if t == "DOUBLE":
        return "a number"
    if t == "VARCHAR":
        return "a single text value (not an object or a list)"
    return f"a {col.sql_type} value"


def _number_text(expr: str, mapping: ColumnMapping) -> str:
    expr = f"nullif({expr}, '')"  # casts to numbers accept surrounding blanks
    if mapping.currency_symbols:
        expr = f"nullif(regexp_replace({expr}, '[^0-9,.+-]', '', 'g'), '')"
    if mapping.decimal_comma:
        expr = f"replace(replace({expr}, '.', ''), ',', '.')"
    return expr


def recodes(col: Column, mapping: ColumnMapping, vocabulary: Vocabulary | None) -> dict[str, str]:
    """Lower-case word → stored word for ``col``: built-in aliases, then the mapping's ``[values.<col>]``."""
    out: dict[str, str] = {}
    if col.vocabulary is not None:
        allowed = getattr(vocabulary, col.vocabulary) if vocabulary is not None else ()
        out.update({k: v for k, v in ALIASES.get(col.vocabulary, {}).items() if k not in allowed})
    out.update(mapping.values.get(col.name, {}))
    return out


def _recode(col: Column, out: str, words: dict[str, str]) -> str:
    """SQL matching a vocabulary column ignoring case, then recoding the mapped words (bound as literals)."""
    if col.vocabulary is None and not words:
        return out
    key = f"lower(trim({out}))"
    base = key if col.vocabulary is not None else out
    if not words:
        return base
    whens = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in words.items())
    return f"CASE {key} {whens} ELSE {base} END"


def _offset_guard(text_expr: str, converted: str) -> str:
    """``converted``, or NULL where the text ends in an impossible UTC offset such as ``+25:00``."""
    return f"CASE WHEN regexp_matches({text_expr}, {literal(_BAD_OFFSET)}) THEN NULL ELSE {converted} END"


def _convert(
    col: Column,
    expr: str,
    src_type: str,
    mapping: ColumnMapping,
    words: dict[str, str] | None = None,
    *,
    epoch_text: bool = False,
) -> tuple[str, bool]:
    """SQL converting ``expr`` (of DuckDB type ``src_type``) to the column type; and whether it may fail.

    ``epoch_text``: the (text) source column holds only integers, read as Unix epoch seconds.
    """
    t = col.sql_type.upper()
    st = src_type.upper()
    if st == "JSON":
        # A JSON column mixes types: objects and arrays are not values of a flat column; scalars are text.
        if t == "VARCHAR":
            out = f"CASE WHEN json_type({expr}) IN ('OBJECT', 'ARRAY') THEN NULL ELSE nullif({expr}->>'$', '') END"
            out = _recode(col, out, words or {})
            return (f"upper({out})" if col.name == "currency" else out), True
        expr, st = f"({expr}->>'$')", "VARCHAR"
    if _is_nested(st):
        return f"NULL::{col.sql_type}", True  # reported with its value as a type problem
    text = _is_text(st)
    if t == "VARCHAR":
        # No trim() on ids: it is Unicode-aware and costs ~0.5 s per 2M values; ids are taken verbatim.
        out = f"nullif({expr}, '')" if text else f"CAST({expr} AS VARCHAR)"
        out = _recode(col, out, words or {})
        return (f"upper({out})" if col.name == "currency" else out), False
    if t == "TIMESTAMP":
        tz = literal(mapping.timezone)
        if st.startswith("TIMESTAMP WITH TIME ZONE") or st == "TIMESTAMPTZ":
            return f"timezone('UTC', {expr})", False
        if st.startswith("TIMESTAMP") or st == "DATE":
            naive = f"CAST({expr} AS TIMESTAMP)"
        elif text:
            fmt = mapping.date_format_for(col.name)
            if fmt is None and epoch_text:
                return f"timezone('UTC', to_timestamp(TRY_CAST(nullif(trim({expr}), '') AS BIGINT)))", True
            if fmt is None:
                # The session time zone is the mapping's during a load: naive text is local time there.
                parsed = f"timezone('UTC', TRY_CAST(nullif({expr}, '') AS TIMESTAMPTZ))"
                return _offset_guard(expr, parsed), True
            parsed = f"try_strptime(nullif({expr}, ''), {literal(fmt)})"
            if "%z" in fmt or "%Z" in fmt:
                return _offset_guard(expr, f"timezone('UTC', {parsed})"), True
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
            trues = ", ".join(literal(v) for v in mapping.true_values)
            falses = ", ".join(literal(v) for v in mapping.false_values)
            return f"CASE WHEN {low} IN ({trues}) THEN TRUE WHEN {low} IN ({falses}) THEN FALSE END", True
        return f"CASE WHEN {expr} = 1 THEN TRUE WHEN {expr} = 0 THEN FALSE END", True
    # numbers: DECIMAL, INTEGER, BIGINT, DOUBLE
    whole = t.startswith(("INTEGER", "BIGINT", "SMALLINT", "TINYINT", "HUGEINT"))
    if text:
        if whole:
            # Casting "1.5" to an integer would round it to 2: only digits (and a zero fraction) are whole.
            digits = f"regexp_extract({expr}, {literal(_WHOLE)}, 1)"
            return f"TRY_CAST(nullif({digits}, '') AS {col.sql_type})", True
        return f"TRY_CAST({_number_text(expr, mapping)} AS {col.sql_type})", True
    if st == t:
        return expr, False
    if whole and st.startswith(("FLOAT", "DOUBLE", "DECIMAL", "REAL")):
        return f"CASE WHEN {expr} = trunc({expr}) THEN TRY_CAST({expr} AS {col.sql_type}) END", True
    return f"TRY_CAST({expr} AS {col.sql_type})", True


def _epoch_text(con: duckdb.DuckDBPyConnection | None, src: str, src_type: str) -> bool:
    """Whether the text column ``src`` of the staged source holds Unix epoch seconds: only 9-11 digit integers.

    Looks at the first non-empty value; only if it is such an integer is the whole column scanned.
    """
    if con is None or not _is_text(src_type.upper()) or src_type.upper() == "JSON":
        return False
    q = ident(src)
    first = con.execute(f"SELECT {q} FROM {SRC} WHERE nullif(trim({q}), '') IS NOT NULL LIMIT 1").fetchall()
    if not first or not _EPOCH.fullmatch(str(first[0][0])):
        return False
    others = con.execute(
        f"SELECT count(*) FROM {SRC} WHERE nullif(trim({q}), '') IS NOT NULL "
        "AND NOT regexp_full_match(trim(" + q + "), '[0-9]{9,11}')"
    ).fetchall()[0][0]
    return others == 0


def _check_values(table: Table, mapping: ColumnMapping, vocabulary: Vocabulary | None) -> None:
    """Every ``[values.<column>]`` names a text column of ``table`` and maps onto its vocabulary."""
    for name, words in mapping.values.items():
        if name not in table.column_names or table.column(name).sql_type.upper() != "VARCHAR":
            texts = [c.name for c in table.columns if c.sql_type.upper() == "VARCHAR"]
            raise ConfigError(
                f"column mapping: [values.{name}] names no text column of {table.name} "
                f"(expected one of {', '.join(texts)})"
            )
        col = table.column(name)
        if col.vocabulary is None or vocabulary is None:
            continue
        allowed = getattr(vocabulary, col.vocabulary)
        for word, target in words.items():
            if target not in allowed:
                raise ConfigError(
                    f"column mapping: [values.{name}] {word} = {target!r}: {target!r} is not one of "
                    f"{', '.join(allowed)}"
                )


def _missing_hints(missing: list[str], src_cols: list[str], taken: set[str]) -> list[str]:
    """The fix for required columns the source lacks: a separator, or ``[columns]`` lines to add."""
    sep = hints.delimiter_in_header(src_cols)
    if sep is not None and sep != ",":
        name = "tab" if sep == "\t" else repr(sep)
        return [
            f"the file looks {name}-separated (its one column is {src_cols[0]!r}): "
            f"set delimiter = {hints.toml_str(sep)} in the column mapping"
        ]
    out = []
    have = ", ".join(repr(c) for c in src_cols) or "(none)"
    out.append(f"the file's columns are: {have}")
    for name in missing:
        best = hints.closest_column(name, src_cols, taken)
        if best is not None:
            taken.add(best)
            out.append(f"add to the mapping's [columns]: {name} = {hints.toml_str(best)}")
        else:
            out.append(f"add to the mapping's [columns]: {name} = \"<one of the file's columns>\"")
    return out


def plan(
    table: Table,
    staged: Staged,
    mapping: ColumnMapping,
    *,
    force_present: tuple[str, ...] = (),
    vocabulary: Vocabulary | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> Plan:
    """Resolve the source of every canonical column and the SQL that converts it.

    With ``con`` (the connection holding the staged source), a text timestamp column without a
    ``date_format`` whose values are all 9-11 digit integers is read as Unix epoch seconds.

    Raises
    ------
    SchemaError
        Listing every required column the source lacks and every mapped source column it does not have,
        with the file's columns and the ``[columns]`` lines that would fix it.
    ConfigError
        If a ``[values.<column>]`` section names no text column or maps onto a word outside the vocabulary.
    """
    _check_values(table, mapping, vocabulary)
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
    out = Plan(table=table, select=[f"{ROW}"], mapping=mapping)
    used: set[str] = set()
    missing: list[str] = []
    if derives_order_id(table, mapping, src_cols):
        out.derived = ("order_id",)
    for col in table.columns:
        if col.name in out.derived:  # computed in build_view from the converted columns
            out.present.append(col.name)
            out.sources[col.name] = "derived"
            continue
        if col.name in mapping.constants:
            expr, src_type = literal(mapping.constants[col.name]), _const_type(mapping.constants[col.name])
            out.sources[col.name] = "constant"
        elif col.name in mapping.columns:
            src = mapping.columns[col.name]
            if src not in staged.columns:
                problems.append(
                    _problem(
                        staged, col.name, src, f"a source column {src!r} (it has: {', '.join(src_cols)})"
                    )
                )
                missing.append(col.name)
                continue
            expr, src_type = ident(src), staged.columns[src]
            used.add(src)
            out.sources[col.name] = src
        elif col.name.lower() in by_lower:
            src = by_lower[col.name.lower()]
            expr, src_type = ident(src), staged.columns[src]
            used.add(src)
            out.sources[col.name] = src
        elif col.name == "currency" and mapping.default_currency:
            expr, src_type = literal(mapping.default_currency), "VARCHAR"
            out.sources[col.name] = "constant"
        elif col.name in force_present:
            out.select.append(f"{col.default or 'NULL'}::{col.sql_type} AS {ident(col.name)}")
            out.present.append(col.name)
            continue
        else:
            if col.required:
                problems.append(_problem(staged, col.name, None, f"a source column named {col.name}"))
                missing.append(col.name)
            continue
        source_col = out.sources[col.name]
        epoch = (
            col.sql_type.upper() == "TIMESTAMP"
            and source_col != "constant"
            and mapping.date_format_for(col.name) is None
            and _epoch_text(con, source_col, src_type)
        )
        conv, may_fail = _convert(
            col, expr, src_type, mapping, recodes(col, mapping, vocabulary), epoch_text=epoch
        )
        out.select.append(f"{conv} AS {ident(col.name)}")
        out.present.append(col.name)
        if may_fail:
            out.select.append(f"CAST({expr} AS VARCHAR) AS {ident(RAW_PREFIX + col.name)}")
            out.convertible[col.name] = _expected(col, mapping)
    if problems:
        fixes = _missing_hints(missing, src_cols, set(used)) if missing else []
        raise_problems(staged.label, problems, total_rows=None, hints=fixes)
    extra = [c for c in src_cols if c not in used] if mapping.keep_extra else []
    out.extra_columns = extra
    if extra == ["extra"]:
        out.select.append('TRY_CAST("extra" AS JSON) AS "extra"')
    elif extra:
        out.select.append(
            "to_json(struct_pack(" + ", ".join(f"{ident(c)} := {ident(c)}" for c in extra) + ')) AS "extra"'
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
    timestamps and decimals is the expensive part and validation and writing would each repeat it. Derived
    order ids (:data:`DERIVED_ORDER_ID`, a window over the whole batch) are stored the same way, once.
    """
    query = f"SELECT {', '.join(p.select)} FROM {SRC}"
    if p.derived:
        query = "SELECT *, " + DERIVED_ORDER_ID + ' AS "order_id" FROM (' + query + ")"
    if staged.fmt in ("csv", "json") or p.derived:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {CONV} AS {query}")
        # The parsed text is no longer needed: free its memory now.
        con.execute(f"DROP VIEW IF EXISTS {SRC}")
        con.execute(f"DROP TABLE IF EXISTS {RAW}")
    else:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {CONV} AS {query}")
