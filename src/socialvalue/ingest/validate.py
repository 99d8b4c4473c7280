"""Validate a staged batch with vectorized DuckDB SQL before anything is written.

Row checks (unparseable values, missing values, references to unknown customers, negative amounts,
implausible timestamps, unknown vocabulary, malformed currencies) are counted in **one** aggregate scan over
the conversion view; only the checks that fail are queried again for their first offending rows. Duplicate
keys within the batch and rows of erased customers are found with one aggregation each. Every problem of a
load is gathered and raised together in one :class:`~socialvalue.errors.SchemaError`, whose message ends with
the mapping settings that would fix the recognisable causes (decimal commas, day-first dates, unmapped words).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from socialvalue.errors import ErasedCustomerError, SchemaError
from socialvalue.ingest import hints as _hints
from socialvalue.ingest.mapping import IngestRules
from socialvalue.ingest.plan import CONV, RAW_PREFIX, Plan
from socialvalue.ingest.sources import ROW
from socialvalue.sqlsafe import ident, literal

__all__ = ["Outcome", "format_problems", "raise_problems", "validate"]

_SHOW = 60  # characters of an offending value shown in a message


@dataclass(frozen=True)
class _Check:
    name: str
    column: str
    where: str
    value: str
    expected: str


@dataclass
class Outcome:
    """What validation found besides errors: exact duplicate rows to drop and customers to stub."""

    rows: int
    exact_duplicates: int
    missing_customers: int


def _row_checks(p: Plan, rules: IngestRules, refunds: tuple[str, ...]) -> list[_Check]:
    checks: list[_Check] = []
    vocab = rules.vocabulary
    lo, hi = rules.min_timestamp, rules.max_timestamp()
    for name in p.present:
        col = p.table.column(name)
        q = ident(name)
        raw = ident(RAW_PREFIX + name)
        if name in p.convertible:
            checks.append(
                _Check("type", name, f"{raw} IS NOT NULL AND {q} IS NULL", raw, p.convertible[name])
            )
        if not col.nullable:
            cond = f"{q} IS NULL" + (f" AND {raw} IS NULL" if name in p.convertible else "")
            checks.append(_Check("missing", name, cond, "NULL", "a value (the column may not be empty)"))
        shown = raw if name in p.convertible else f"CAST({q} AS VARCHAR)"
        t = col.sql_type.upper()
        if t == "TIMESTAMP":
            checks.append(
                _Check(
                    "range",
                    name,
                    f"{q} < TIMESTAMP '{lo:%Y-%m-%d %H:%M:%S}' OR {q} > TIMESTAMP '{hi:%Y-%m-%d %H:%M:%S}'",
                    shown,
                    f"a timestamp between {lo:%Y-%m-%d} and {hi:%Y-%m-%d %H:%M} UTC",
                )
            )
        if t in ("DOUBLE", "FLOAT", "REAL"):
            checks.append(
                _Check(
                    "type",
                    name,
                    f"isnan({q}) OR isinf({q})",
                    shown,
                    "a finite number (NaN and infinity are refused; leave the cell empty for no value)",
                )
            )
        if col.vocabulary is not None:
            allowed = getattr(vocab, col.vocabulary)
            checks.append(
                _Check(
                    "vocabulary",
                    name,
                    f"{q} IS NOT NULL AND {q} NOT IN ({', '.join(literal(v) for v in allowed)})",
                    q,
                    f"one of {', '.join(allowed)} (case is ignored)",
                )
            )
        if name == "currency":
            checks.append(
                _Check(
                    "currency",
                    name,
                    f"{q} IS NOT NULL AND NOT regexp_full_match({q}, '[A-Z]{{3}}')",
                    q,
                    "a three-letter ISO-4217 code such as EUR",
                )
            )
        if name in ("quantity", "helpful_votes", "views"):
            checks.append(_Check("negative", name, f"{q} < 0", shown, "a count >= 0"))
        if name in ("duration_s", "estimated_spend"):  # interactions' and category_spend's amounts
            checks.append(_Check("negative", name, f"{q} < 0", shown, "a number >= 0"))
    for fk in p.table.foreign_keys:
        if fk.column in p.present:
            q = ident(fk.column)
            # IN (subquery) plans as a mark join: half the CPU of NOT EXISTS here.
            checks.append(
                _Check(
                    "reference",
                    fk.column,
                    f"{q} IS NOT NULL AND NOT ({q} IN (SELECT customer_id FROM customers))",
                    q,
                    "an existing customer_id (load customers first, or create stub customers for "
                    "unknown ids)",
                )
            )
    if "amount" in p.present:
        refund = ", ".join(literal(v) for v in refunds) or "NULL"
        status = '"status"' if "status" in p.present else "'completed'"
        checks.append(
            _Check(
                "negative",
                "amount",
                f'"amount" < 0 AND coalesce({status} NOT IN ({refund}), TRUE)',
                '"__raw__amount"' if "amount" in p.convertible else 'CAST("amount" AS VARCHAR)',
                f"an amount >= 0 (negative only with status {' or '.join(refunds) or '(none allowed)'})",
            )
        )
    return checks


def _problem(source: str, row: Any, column: str, value: Any, expected: str, check: str) -> dict[str, Any]:
    return {
        "source": source,
        "row": row,
        "column": column,
        "value": value,
        "expected": expected,
        "check": check,
    }


def _collect(
    con: duckdb.DuckDBPyConnection, source: str, checks: list[_Check], limit: int, *, reject_missing: bool
) -> tuple[int, list[dict[str, Any]], int, int]:
    """One scan counting every row check; then the first offending rows of the failing ones.

    Returns the row count, the problems, their total and the number of references to unknown customers
    (which are problems only when ``reject_missing``).
    """
    counts = con.execute(
        "SELECT "
        + ", ".join(["count(*)"] + [f"count(*) FILTER (WHERE {c.where})" for c in checks])
        + f" FROM {CONV}"
    ).fetchall()[0]
    problems: list[dict[str, Any]] = []
    total = missing = 0
    for check, n in zip(checks, counts[1:], strict=True):
        if not n:
            continue
        if check.name == "reference":
            missing += n
            if not reject_missing:
                continue
        total += n
        rows = con.execute(
            f"SELECT {ROW}, {check.value} FROM {CONV} WHERE {check.where} ORDER BY {ROW} LIMIT {limit}"
        ).fetchall()
        problems += [_problem(source, int(r), check.column, v, check.expected, check.name) for r, v in rows]
    return int(counts[0]), problems, total, missing


def _duplicates(
    con: duckdb.DuckDBPyConnection, p: Plan, source: str, limit: int
) -> tuple[list[dict[str, Any]], int, int]:
    """Keys appearing more than once: exact copies are dropped, differing rows are errors."""
    key = ", ".join(ident(k) for k in p.table.primary_key)
    # Distinct hashes first (cheaper than distinct strings); a collision only costs the exact query below.
    present = " AND ".join(
        f"{ident(k)} IS NOT NULL" for k in p.table.primary_key
    )  # missing keys: reported already
    n_dup = con.execute(
        f"SELECT count(*) - count(DISTINCT hash({key})) FROM {CONV} WHERE {present}"
    ).fetchall()[0][0]
    if not n_dup:
        return [], 0, 0
    content = ", ".join(ident(c) for c in p.present) + ', CAST("extra" AS VARCHAR)'
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _sv_dupkeys AS SELECT {key}, "
        f"count(DISTINCT hash({content})) AS variants, list({ROW} ORDER BY {ROW}) AS rows_ "
        f"FROM {CONV} WHERE {present} GROUP BY {key} HAVING count(*) > 1"
    )
    try:
        exact = con.execute(
            "SELECT coalesce(sum(len(rows_) - 1), 0) FROM _sv_dupkeys WHERE variants = 1"
        ).fetchall()
        n_bad = con.execute(
            "SELECT coalesce(sum(len(rows_) - 1), 0) FROM _sv_dupkeys WHERE variants > 1"
        ).fetchall()[0][0]
        shown_key = (
            p.table.primary_key[0]
            if len(p.table.primary_key) == 1
            else "(" + ", ".join(p.table.primary_key) + ")"
        )
        keyval = (
            ident(p.table.primary_key[0]) if len(p.table.primary_key) == 1 else f"CAST(({key}) AS VARCHAR)"
        )
        rows = con.execute(
            f"SELECT {keyval}, rows_ FROM _sv_dupkeys WHERE variants > 1 ORDER BY rows_[2] LIMIT {limit}"
        ).fetchall()
    finally:
        con.execute("DROP TABLE IF EXISTS _sv_dupkeys")
    problems = [
        _problem(
            source,
            int(r),
            shown_key,
            val,
            f"a unique key (row {rws[0]} has the same key with different values)",
            "duplicate",
        )
        for val, rws in rows
        for r in rws[1:]
    ]
    return problems, int(n_bad), int(exact[0][0])


def _erased(
    con: duckdb.DuckDBPyConnection, p: Plan, source: str, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """Rows naming a customer erased earlier (matched by salted hash; the log holds no ids)."""
    if not con.execute("SELECT count(*) FROM _erasure_log").fetchall()[0][0]:
        return [], 0
    salt = con.execute("SELECT value FROM _store_meta WHERE key = 'erasure_salt'").fetchall()[0][0]
    problems: list[dict[str, Any]] = []
    total = 0
    for col in p.table.customer_columns:
        if col not in p.present:
            continue
        q = ident(col)
        where = f"{q} IS NOT NULL AND sha256(? || ':' || {q}) IN (SELECT subject_hash FROM _erasure_log)"
        n = con.execute(f"SELECT count(*) FROM {CONV} WHERE {where}", [salt]).fetchall()[0][0]
        if not n:
            continue
        total += n
        rows = con.execute(
            f"SELECT {ROW}, {q} FROM {CONV} WHERE {where} ORDER BY {ROW} LIMIT {limit}", [salt]
        ).fetchall()
        expected = "a customer who was not erased (erased customers are loaded only when forced)"
        problems += [_problem(source, int(r), col, v, expected, "erased") for r, v in rows]
    return problems, total


def validate(
    con: duckdb.DuckDBPyConnection,
    p: Plan,
    source: str,
    rules: IngestRules,
    *,
    reject_missing: bool,
    force: bool,
) -> Outcome:
    """Run every check over ``_sv_conv``; raise one error listing all problems.

    Raises
    ------
    ErasedCustomerError
        If the only problems are rows of erased customers (and ``force`` is false).
    SchemaError
        For any other problem, with all problems of the load.
    """
    limit = rules.max_problems
    checks = _row_checks(p, rules, rules.vocabulary.refund_statuses)
    rows, problems, total, missing = _collect(con, source, checks, limit, reject_missing=reject_missing)
    dup_problems, n_dup, exact = _duplicates(con, p, source, limit)
    problems += dup_problems
    total += n_dup
    if not force:
        erased, n_erased = _erased(con, p, source, limit)
        # An erased customer is gone from the store; report the erasure, not the dangling reference.
        gone = {(d["row"], d["column"]) for d in erased}
        kept = [d for d in problems if not (d["check"] == "reference" and (d["row"], d["column"]) in gone)]
        total -= len(problems) - len(kept)
        problems = kept
        if erased and not problems:
            raise_problems(
                source,
                erased,
                total_rows=rows,
                total=n_erased,
                listed=rules.max_listed,
                cls=ErasedCustomerError,
            )
        problems += erased
        total += n_erased
    if problems:
        raise_problems(
            source,
            problems,
            total_rows=rows,
            total=total,
            listed=rules.max_listed,
            hints=data_hints(p, problems, rules),
        )
    return Outcome(rows=int(rows), exact_duplicates=exact, missing_customers=missing)


def data_hints(p: Plan, problems: list[dict[str, Any]], rules: IngestRules) -> list[str]:
    """Mapping settings that fix the recognisable causes of ``problems`` (looks only at the listed values)."""
    mapping = p.mapping
    by_col: dict[tuple[str, str], list[Any]] = {}
    for d in problems:
        if d["check"] in ("type", "vocabulary") and d["value"] is not None:
            by_col.setdefault((d["check"], str(d["column"])), []).append(d["value"])
    out: list[str] = []
    for (check, name), values in by_col.items():
        sample = values[:500]
        col = p.table.column(name) if name in p.table.column_names else None
        if col is None:
            continue
        t = col.sql_type.upper()
        if check == "type" and t.startswith(("DECIMAL", "DOUBLE")):
            symbol = _hints.currency_of(sample)
            if symbol is not None and not (mapping and mapping.currency_symbols):
                out.append(
                    f"column {name!r} carries a currency symbol: set currency_symbols = true and "
                    f'default_currency = "{symbol}" in the column mapping'
                )
            if _hints.looks_decimal_comma(sample) and not (mapping and mapping.decimal_comma):
                out.append(
                    f"column {name!r} looks like decimal commas (e.g. {str(sample[0])!r}): "
                    "set decimal_comma = true in the column mapping"
                )
        elif check == "type" and t == "TIMESTAMP":
            found = _hints.date_format_of(sample)
            if found is not None:
                fmt, ambiguous = found
                other = fmt.replace("%d", "%D").replace("%m", "%d").replace("%D", "%m")
                maybe = f' (or "{other}" if the month comes first)' if ambiguous else ""
                head = (
                    "date_format"
                    if not (mapping and isinstance(mapping.date_format, dict))
                    else (f"date_format.{name}")
                )
                out.append(
                    f"column {name!r} looks like dates written {fmt} (e.g. {str(sample[0])!r}): "
                    f"set {head} = {_hints.toml_str(fmt)}{maybe} in the column mapping"
                )
        elif check == "vocabulary" and col.vocabulary is not None:
            allowed = getattr(rules.vocabulary, col.vocabulary)
            words = list(dict.fromkeys(str(v) for v in sample))[:5]
            pairs = []
            for w in words:
                best = _hints.closest_word(w, allowed, kind=col.vocabulary)
                pairs.append(f"{_hints.toml_str(w)} = {_hints.toml_str(best or '<one of the vocabulary>')}")
            out.append(
                f"map the other words of column {name!r} onto the vocabulary in the column mapping: "
                f"[values.{name}] {'; '.join(pairs)}"
            )
    return out


def _show(value: Any) -> str:
    if value is None:
        return "an empty value"
    text = str(value)
    if len(text) > _SHOW:
        text = text[: _SHOW - 1] + "…"
    return repr(text)


def format_problems(
    source: str,
    problems: list[dict[str, Any]],
    *,
    total: int,
    total_rows: int | None,
    listed: int,
    hints: list[str] | None = None,
) -> str:
    """The message of a failed load: header with the total, at most ``listed`` problem lines, then the fixes."""
    ordered = sorted(problems, key=lambda d: (d["row"] is not None, d["row"] or 0, str(d["column"])))
    rows = "" if total_rows is None else f" in {total_rows:,} rows"
    head = f"{source}: {total:,} problem{'s' if total != 1 else ''}{rows}; nothing was loaded"
    lines = []
    for d in ordered[:listed]:
        where = (
            f"row {d['row']}, column {d['column']!r}" if d["row"] is not None else f"column {d['column']!r}"
        )
        if d["check"] == "columns" and d["value"] is None:
            lines.append(f"  {where}: missing; expected {d['expected']}")
        elif d["check"] == "missing":
            lines.append(f"  {where}: got an empty value; expected {d['expected']}")
        else:
            lines.append(f"  {where}: got {_show(d['value'])}; expected {d['expected']}")
    more = total - min(listed, len(ordered))
    if more > 0:
        lines.append(f"  ... and {more:,} more")
    lines += [f"fix: {h}" for h in hints or ()]
    return (
        head
        + (" (first " + str(min(listed, len(ordered))) + " shown):\n" if more > 0 else ":\n")
        + "\n".join(lines)
    )


def raise_problems(
    source: str,
    problems: list[dict[str, Any]],
    *,
    total_rows: int | None,
    total: int | None = None,
    listed: int = 20,
    cls: type[SchemaError] = SchemaError,
    hints: list[str] | None = None,
) -> None:
    """Raise ``cls`` with the formatted message (ending with ``hints``, the fixes) and the structured problems."""
    total = len(problems) if total is None else total
    ordered = sorted(problems, key=lambda d: (d["row"] is not None, d["row"] or 0, str(d["column"])))
    message = format_problems(source, ordered, total=total, total_rows=total_rows, listed=listed, hints=hints)
    raise cls(message, ordered)
