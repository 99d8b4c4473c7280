"""Profile a data file and write the column mapping that loads it (``socialvalue doctor``).

:func:`diagnose` reads a CSV/TSV, JSON, JSON Lines or Parquet file with DuckDB (the path is bound as a
parameter, never pasted into SQL) and recognises what a load needs to know:

* the CSV field separator (``;``, tab, ``,`` or ``|``) and character encoding;
* which header means which canonical column (``Order ID`` → ``order_id``, ``Kunde`` → ``customer_id``);
* decimal commas (``12,50``) and currency symbols (``€ 12,50``) in amounts, hence ``default_currency``;
* the date format (``31/01/2026`` → ``%d/%m/%Y``; day-first when a first field exceeds 12);
* words of vocabulary columns (``Shipped`` → ``completed``), mapped in ``[values.<column>]``.

The result is a :class:`Diagnosis`: a validated :class:`~socialvalue.ingest.ColumnMapping`, the findings in
words and what is left to decide, and :meth:`Diagnosis.to_toml` writes the mapping as commented TOML that
``socialvalue ingest --mapping`` reads unchanged.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from socialvalue.config import Vocabulary
from socialvalue.errors import SchemaError
from socialvalue.ingest import hints, sources
from socialvalue.ingest.mapping import ColumnMapping
from socialvalue.schema import table as canonical_table
from socialvalue.sqlsafe import ident, reader_path

__all__ = ["Diagnosis", "diagnose"]

_DELIMITERS = (";", "\t", ",", "|")
_HEAD_BYTES = 256 * 1024
_DISTINCT = 5_000  # distinct values of a column looked at


@dataclass
class Diagnosis:
    """What :func:`diagnose` found in a file.

    Attributes
    ----------
    path
        The file profiled.
    kind
        The canonical table it is meant for.
    mapping
        A column mapping that loads the file (validated).
    findings
        What was recognised, one sentence each.
    todo
        What could not be decided: written as ``# TODO`` comments in the TOML, to be settled by hand.
    rows
        Data rows in the file.
    columns
        The file's columns, in order.
    """

    path: Path
    kind: str
    mapping: ColumnMapping
    findings: list[str] = field(default_factory=list)
    todo: list[str] = field(default_factory=list)
    rows: int = 0
    columns: list[str] = field(default_factory=list)

    def to_toml(self) -> str:
        """The mapping as commented TOML, readable by :meth:`ColumnMapping.from_toml`."""
        m = self.mapping
        q = hints.toml_str
        out = [
            f"# Column mapping for {self.path.name} -> {self.kind}, written by `socialvalue doctor`.",
            f"# Load with: socialvalue ingest STORE {self.kind} {self.path.name} --mapping THIS_FILE",
        ]
        out += [f"# TODO: {t}" for t in self.todo]
        out.append(f"kind = {q(self.kind)}")
        if m.delimiter is not None:
            out.append(f"delimiter = {q(m.delimiter)}")
        if m.encoding != "utf-8":
            out.append(f"encoding = {q(m.encoding)}")
        if m.decimal_comma:
            out.append("decimal_comma = true")
        if m.currency_symbols:
            out.append("currency_symbols = true  # amounts carry a currency symbol, which is dropped")
        if m.default_currency:
            out.append(f"default_currency = {q(m.default_currency)}")
        if isinstance(m.date_format, str):
            out.append(f"date_format = {q(m.date_format)}")
        if m.timezone != "UTC":
            out.append(f"timezone = {q(m.timezone)}")
        if isinstance(m.date_format, dict) and m.date_format:
            out += ["", "[date_format]"] + [f"{k} = {q(v)}" for k, v in m.date_format.items()]
        out += ["", "[columns]  # canonical column = the file's column"]
        out += [f"{k} = {q(v)}" for k, v in m.columns.items()]
        for column, words in m.values.items():
            out += ["", f"[values.{column}]  # the file's word (any case) = canonical word"]
            out += [f"{q(k)} = {q(v)}" for k, v in words.items()]
        return "\n".join(out) + "\n"


def _encoding(head: bytes) -> str:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8"


def _delimiter(text: str) -> str:
    """The separator giving the same number (> 1) of fields on every sampled line; the most fields wins."""
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if len(lines) > 1 and not text.endswith(("\n", "\r")):
        lines = lines[:-1]  # the last line of the sample may be cut
    best, best_n = ",", 1
    for d in _DELIMITERS:
        counts = {len(row) for row in csv.reader(io.StringIO("\n".join(lines)), delimiter=d)}
        if len(counts) == 1 and (n := counts.pop()) > best_n:
            best, best_n = d, n
    return best


def _read(con: duckdb.DuckDBPyConnection, path: Path, fmt: str, delim: str, encoding: str) -> None:
    """Read the whole file as text columns into the temporary table ``raw`` (path bound as a parameter)."""
    if fmt == "csv":
        reader = "read_csv(?, all_varchar = true, header = true, delim = ?, encoding = ?)"
        params: list[Any] = [reader_path(path), delim, encoding]
    elif fmt == "parquet":
        reader, params = "read_parquet(?)", [reader_path(path)]
    else:
        style = sources._json_style(path, ".jsonl" if fmt == "jsonl" else ".json")
        reader, params = "read_json(?, format = ?, sample_size = -1)", [reader_path(path), style]
    try:
        con.execute(f"CREATE TEMP TABLE raw AS SELECT * FROM {reader}", params)
    except duckdb.Error as exc:
        raise SchemaError(f"cannot read {str(path)!r}: {sources.clean_error(exc)}") from None


def _values(con: duckdb.DuckDBPyConnection, column: str) -> list[str]:
    """Up to ``_DISTINCT`` distinct non-empty values of ``column`` as text, the most frequent first."""
    q = ident(column)
    rows = con.execute(
        f"SELECT CAST({q} AS VARCHAR) AS v, count(*) AS n FROM raw WHERE {q} IS NOT NULL "
        f"AND CAST({q} AS VARCHAR) <> '' GROUP BY v ORDER BY n DESC, v LIMIT {_DISTINCT}"
    ).fetchall()
    return [r[0] for r in rows]


def _types(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute("DESCRIBE raw").fetchall()}


def diagnose(path: str | Path, kind: str, *, vocabulary: Vocabulary | None = None) -> Diagnosis:
    """Profile ``path`` for the canonical table ``kind`` and propose the mapping that loads it.

    Parameters
    ----------
    path
        A CSV/TSV, JSON, JSON Lines or Parquet file.
    kind
        The canonical table: customers, orders, interactions, relationships or content.
    vocabulary
        The vocabularies words are mapped onto (default: the built-in ones).

    Returns
    -------
    Diagnosis
        The mapping, what was found and what is left to decide.

    Raises
    ------
    SchemaError
        If the file is missing, empty, of an unknown type, cannot be read, or ``kind`` is unknown.
    """
    tbl = canonical_table(kind)
    path = Path(path)
    vocabulary = vocabulary or Vocabulary()
    sources.check_file(path)
    if path.stat().st_size == 0:
        raise SchemaError(f"{path.name} is empty (no header, no rows)")
    suffix = sources._suffix(path)
    if suffix in sources._CSV:
        fmt = "csv"
    elif suffix in sources._PARQUET:
        fmt = "parquet"
    elif suffix in sources._JSONL:
        fmt = "jsonl"
    elif suffix in sources._JSON:
        fmt = "json"
    else:
        raise SchemaError(
            f"cannot profile {str(path)!r}: unknown file type {suffix or '(none)'!r}; expected .csv, .tsv, "
            ".parquet, .json, .jsonl or .ndjson"
        )
    findings: list[str] = []
    todo: list[str] = []
    settings: dict[str, Any] = {"kind": kind}
    delim, encoding = ",", "utf-8"
    if fmt == "csv":
        with path.open("rb") as fh:
            head = fh.read(_HEAD_BYTES)
        if path.name.lower().endswith((".gz", ".zst")):
            findings.append("compressed CSV: separator left to the reader's own detection")
        else:
            encoding = _encoding(head)
            text = head.decode(encoding, errors="ignore")
            delim = "\t" if suffix.startswith(".tsv") else _delimiter(text)
            settings["delimiter"] = delim
            shown = "tab" if delim == "\t" else repr(delim)
            findings.append(f"fields are separated by {shown}")
            if encoding != "utf-8":
                settings["encoding"] = encoding
                findings.append(f"the text is {encoding}, not UTF-8")
    con = duckdb.connect()
    try:
        _read(con, path, fmt, delim, encoding)
        types = _types(con)
        src_cols = list(types)
        rows = con.execute("SELECT count(*) FROM raw").fetchall()[0][0]
        findings.append(f"{rows:,} rows, columns: {', '.join(repr(c) for c in src_cols)}")
        sources_of = _match_columns(tbl, src_cols, settings, findings, todo)
        _profile(con, tbl, sources_of, types, settings, findings, todo, vocabulary)
    finally:
        con.close()
    from socialvalue.config import validate_config

    mapping = validate_config(ColumnMapping, settings, f"the mapping proposed for {path.name}")
    return Diagnosis(path, kind, mapping, findings, todo, rows=int(rows), columns=src_cols)


def _match_columns(
    tbl: Any, src_cols: list[str], settings: dict[str, Any], findings: list[str], todo: list[str]
) -> dict[str, str]:
    """Canonical column → source column, required columns first; ``[columns]`` gets the renamed ones."""
    found: dict[str, str] = {}
    columns: dict[str, str] = {}
    ordered = [c for c in tbl.columns if c.required] + [c for c in tbl.columns if not c.required]
    # A column named like a canonical one is that one (a close spelling must not take it: 'ordered_at'
    # is ordered_at, not order_id); the others are matched in order.
    by_norm: dict[str, str] = {}
    for c in src_cols:
        by_norm.setdefault(hints.norm(c), c)
    exact = {col.name: by_norm[hints.norm(col.name)] for col in ordered if hints.norm(col.name) in by_norm}
    taken: set[str] = set(exact.values())
    for col in ordered:
        if col.name == "is_stub":
            continue
        src = exact.get(col.name) or hints.closest_column(col.name, src_cols, taken)
        if src is None:
            if tbl.name == "orders" and col.name == "order_id":
                findings.append(
                    "no column looks like order_id: the load derives one per row from customer, time, amount "
                    "and position (a re-load of the same file replaces them; a file with its own ids does not)"
                )
            elif col.required:
                todo.append(
                    f'no column looks like {col.name}; add `{col.name} = "<column>"` to [columns] '
                    f"(the file has: {', '.join(src_cols)})"
                )
            continue
        taken.add(src)
        found[col.name] = src
        if src.lower() != col.name:
            columns[col.name] = src
            findings.append(f"column {src!r} is {col.name}")
    settings["columns"] = columns
    return found


def _profile(
    con: duckdb.DuckDBPyConnection,
    tbl: Any,
    found: dict[str, str],
    types: dict[str, str],
    settings: dict[str, Any],
    findings: list[str],
    todo: list[str],
    vocabulary: Vocabulary,
) -> None:
    """Number, date and vocabulary conventions of the matched columns."""
    formats: dict[str, str] = {}
    values_map: dict[str, dict[str, str]] = {}
    for name, src in found.items():
        col = tbl.column(name)
        t = col.sql_type.upper()
        if types[src].upper() != "VARCHAR" and not types[src].upper().startswith("VARCHAR"):
            continue  # typed (Parquet, JSON numbers): loads as it is
        values = _values(con, src)
        if not values:
            continue
        if t.startswith(("DECIMAL", "DOUBLE")):
            code = hints.currency_of(values)
            if code is not None:
                settings["currency_symbols"] = True
                if "currency" in tbl.column_names and "currency" not in found:
                    settings["default_currency"] = code
                findings.append(f"{src!r} carries a currency symbol ({code}): it is dropped at load")
            if hints.looks_decimal_comma(values):
                settings["decimal_comma"] = True
                findings.append(f"{src!r} uses decimal commas (e.g. {values[0]!r})")
        elif t == "TIMESTAMP":
            got = hints.date_format_of(values)
            if got is not None:
                fmt, ambiguous = got
                formats[name] = fmt
                note = "day first: a first field above 12" if "%d" in fmt[:3] and not ambiguous else ""
                note = "month first: a second field above 12" if fmt.startswith("%m") else note
                findings.append(
                    f"{src!r} holds dates like {values[0]!r}: format {fmt}" + (f" ({note})" if note else "")
                )
                if ambiguous:
                    todo.append(
                        f"{src!r}: no day or month above 12, so {fmt} (day first) is a guess; "
                        "if the month comes first, swap %d and %m"
                    )
        elif col.vocabulary is not None:
            allowed = getattr(vocabulary, col.vocabulary)
            words: dict[str, str] = {}
            for v in values:
                low = v.strip().lower()
                if low in allowed or low in words:
                    continue
                best = hints.closest_word(low, allowed, kind=col.vocabulary)
                if best is None:
                    todo.append(
                        f"{src!r}: the word {v!r} matches no {col.vocabulary} word; add it to "
                        f"[values.{name}] as one of {', '.join(allowed)}"
                    )
                    continue
                words[low] = best
                findings.append(f"{src!r}: {low!r} (any case) is read as {best!r}")
            if words:
                values_map[name] = words
        elif name == "currency":
            codes = {v: hints.currency_of([v]) for v in values}
            words = {
                v.strip().lower(): c for v, c in codes.items() if c is not None and v.strip().upper() != c
            }
            if words:
                values_map[name] = words
                findings.append(f"{src!r}: currency symbols mapped to codes ({len(words)})")
    if "currency" in tbl.column_names and "currency" not in found and "default_currency" not in settings:
        todo.append(
            'the file names no currency: set default_currency = "EUR" (your ISO-4217 code) at the top, or '
            "amounts are stored in the store's default currency"
        )
    if formats:
        # One format for every timestamp column only when every text timestamp column has it.
        text_ts = [
            n
            for n, s in found.items()
            if tbl.column(n).sql_type.upper() == "TIMESTAMP" and types[s].upper().startswith("VARCHAR")
        ]
        distinct = set(formats.values())
        same = len(distinct) == 1 and set(text_ts) <= set(formats)
        settings["date_format"] = distinct.pop() if same else formats
    if values_map:
        settings["values"] = values_map
