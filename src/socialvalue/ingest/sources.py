"""Stage a load's source (a file or an in-memory table) as a DuckDB view, read by DuckDB itself.

Whatever the source, the result is a view ``_sv_src`` holding the source columns plus ``_sv_row``, the
1-based data row number as in the file (for a DataFrame: its position), so problems can name rows. Parquet and
Arrow are scanned in place; CSV and JSON are parsed once into a temporary table (CSV as text, so that a bad
value is reported with its row instead of failing the whole read).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from socialvalue.errors import SchemaError

__all__ = ["RAW", "ROW", "SRC", "Staged", "clean_error", "drop_staged", "file_hash", "refuse_glob", "stage"]

ROW = "_sv_row"
SRC = "_sv_src"
RAW = "_sv_raw"
_ARROW = "_sv_arrow"

_CSV = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz", ".csv.zst")
_PARQUET = (".parquet", ".pq", ".parq")
_JSONL = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")
_JSON = (".json", ".json.gz")


@dataclass
class Staged:
    """A staged source: its columns (name → DuckDB type), a label for messages and a content hash."""

    label: str
    columns: dict[str, str]
    content_hash: str
    rows: int = 0
    fmt: str = ""
    objects: list[tuple[str, str]] = field(default_factory=list)  # (kind, name) to drop afterwards


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for ext in (*_CSV, *_PARQUET, *_JSONL, *_JSON):
        if name.endswith(ext):
            return ext
    return path.suffix.lower()


def file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes (streamed)."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _to_arrow(source: Any) -> Any:
    """An Arrow table from a pandas or Polars DataFrame or an Arrow table/batch, never mutating it."""
    import pyarrow as pa

    if isinstance(source, pa.Table):
        return source
    if isinstance(source, pa.RecordBatch):
        return pa.Table.from_batches([source])
    module = type(source).__module__
    if module.startswith("polars"):
        return source.to_arrow()
    if module.startswith("pandas"):
        import pandas as pd

        if not isinstance(source, pd.DataFrame):
            raise SchemaError(f"cannot load a {type(source).__name__}; pass a DataFrame")
        try:
            return pa.Table.from_pandas(source, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # Mixed-type object columns: hand them over as text, validation reports the bad cells.
            obj = [c for c in source.columns if source[c].dtype == object]
            fixed = source.astype(dict.fromkeys(obj, "string"))
            return pa.Table.from_pandas(fixed, preserve_index=False)
    raise SchemaError(
        f"cannot load a {type(source).__name__}: expected a file path (CSV, Parquet, JSON, JSON Lines), "
        "a pandas or Polars DataFrame or an Arrow table"
    )


def stage(
    con: duckdb.DuckDBPyConnection,
    source: Any,
    *,
    delimiter: str | None = None,
    header: bool = True,
    encoding: str = "utf-8",
) -> Staged:
    """Expose ``source`` as the view ``_sv_src`` (source columns + ``_sv_row``).

    Raises
    ------
    SchemaError
        If the file is missing, of an unknown format, or cannot be parsed at all.
    """
    if isinstance(source, str | Path):
        return _stage_file(con, Path(source), delimiter=delimiter, header=header, encoding=encoding)
    table = _to_arrow(source)
    import numpy as np
    import pyarrow as pa

    if ROW in table.column_names:
        raise SchemaError(f"the source has a column named {ROW!r}, which is reserved")
    table = table.append_column(ROW, pa.array(np.arange(1, table.num_rows + 1, dtype=np.int64)))
    con.register(_ARROW, table)
    con.execute(f"CREATE OR REPLACE TEMP VIEW {SRC} AS SELECT * FROM {_ARROW}")
    staged = Staged(
        label=f"<{type(source).__module__.split('.')[0]}.{type(source).__name__}>",
        columns=_columns(con),
        content_hash="",
        rows=table.num_rows,
        fmt="arrow",
        objects=[("view", SRC), ("arrow", _ARROW)],
    )
    staged.content_hash = _relation_hash(con, staged.columns)
    return staged


def refuse_glob(path: Path) -> None:
    """Refuse a path DuckDB's readers would expand as a pattern (``*``, ``?``, ``[``, ``]``).

    Raises
    ------
    SchemaError
        If the file name or a folder name contains one of those characters.
    """
    bad = sorted(set("*?[]") & set(str(path)))
    if bad:
        raise SchemaError(
            f"cannot load {str(path)!r}: its path contains {' '.join(bad)}, which the file readers take as a "
            "wildcard pattern; rename the file or folder"
        )


def _is_empty(path: Path) -> bool:
    """Whether the file has no bytes, or only blanks (an uncompressed file of at most 64 bytes)."""
    size = path.stat().st_size
    if size == 0:
        return True
    if size > 64 or path.name.lower().endswith((".gz", ".zst")):
        return False
    return not path.read_bytes().strip(b" \t\r\n\xef\xbb\xbf")


def _stage_file(
    con: duckdb.DuckDBPyConnection, path: Path, *, delimiter: str | None, header: bool, encoding: str
) -> Staged:
    if not path.is_file():
        raise SchemaError(f"cannot load {str(path)!r}: no such file")
    refuse_glob(path)
    if _is_empty(path):
        raise SchemaError(f"{path.name} is empty (no header, no rows); nothing was loaded")
    ext = _suffix(path)
    lit = _quote_literal(str(path))
    try:
        if ext in _PARQUET:
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW {SRC} AS SELECT * EXCLUDE (file_row_number), "
                f"file_row_number + 1 AS {ROW} FROM read_parquet({lit}, file_row_number = true)"
            )
            objects = [("view", SRC)]
            fmt = "parquet"
        elif ext in _CSV or ext in _JSON or ext in _JSONL:
            if ext in _CSV:
                opts = f", all_varchar = true, header = {str(header).lower()}, encoding = {_quote_literal(encoding)}"
                if delimiter:
                    opts += f", delim = {_quote_literal(delimiter)}"
                reader, fmt = f"read_csv(?{opts})", "csv"
            else:
                style = "newline_delimited" if ext in _JSONL else "auto"
                reader, fmt = f"read_json(?, format = '{style}', sample_size = -1)", "json"
            # A temporary table keeps insertion order, so rowid + 1 is the data row as in the file.
            con.execute(f"CREATE OR REPLACE TEMP TABLE {RAW} AS SELECT * FROM {reader}", [str(path)])
            con.execute(f"CREATE OR REPLACE TEMP VIEW {SRC} AS SELECT *, rowid + 1 AS {ROW} FROM {RAW}")
            objects = [("view", SRC), ("table", RAW)]
        else:
            raise SchemaError(
                f"cannot load {str(path)!r}: unknown file type {ext or '(none)'!r}; expected .csv, .tsv, "
                ".parquet, .json, .jsonl or .ndjson"
            )
    except duckdb.Error as exc:
        _drop(con, [("view", SRC), ("table", RAW)])
        what = {".jsonl": "JSON Lines", ".ndjson": "JSON Lines"}.get(ext, ext.lstrip(".").split(".")[0])
        raise SchemaError(f"cannot read {str(path)!r} as {what}: {_reader_error(exc)}") from None
    staged = Staged(label=path.name, columns=_columns(con), content_hash="", fmt=fmt, objects=objects)
    if ROW in list(staged.columns)[:-1]:
        _drop(con, objects)
        raise SchemaError(f"{path.name}: the source has a column named {ROW!r}, which is reserved")
    return staged


_ECHO = re.compile(r"(?:[:.]?\s*LINE \d+:.*$)", re.DOTALL)
_ERROR_KIND = re.compile(r"^(?:[A-Z][a-z]+ )*(?:Error|Exception): ")
_INTERNAL = re.compile(r"\b(?:SELECT|CREATE|INSERT|UPDATE|DELETE|FROM|_sv_\w*|__raw__\w*)\b")


def clean_error(exc: BaseException) -> str:
    """A database error as one plain sentence: no echoed statement, internal names or error class prefix."""
    text = _ECHO.sub("", str(exc).strip())
    first = (text.strip().splitlines() or [type(exc).__name__])[0].strip()
    first = _ERROR_KIND.sub("", first).rstrip(".: ")
    if _INTERNAL.search(first):
        return "the data could not be converted (a value of an unexpected type or structure)"
    return first


def _reader_error(exc: BaseException) -> str:
    """DuckDB's reader error in one line: what and where, plus its reason, without the echoed data line."""
    lines = [line.strip() for line in _ECHO.sub("", str(exc).strip()).splitlines() if line.strip()]
    head = _ERROR_KIND.sub("", lines[0]).rstrip(".: ") if lines else type(exc).__name__
    reason = next(
        (x for x in lines[1:3] if not x.startswith(("Original Line", "Possible Solution", "file ="))), ""
    )
    out = f"{head}: {reason}" if reason else head
    return "the file could not be parsed" if _INTERNAL.search(out) else out


def _columns(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    rows = con.execute(f"DESCRIBE {SRC}").fetchall()
    return {r[0]: r[1] for r in rows}


def _relation_hash(con: duckdb.DuckDBPyConnection, columns: dict[str, str]) -> str:
    """Order-sensitive digest of an in-memory source's values (row number is part of each row)."""
    total = con.execute(f"SELECT count(*), sum(hash(s)::HUGEINT) FROM {SRC} AS s").fetchall()[0]
    head = json.dumps([list(columns.items()), str(total[0]), str(total[1])])
    return hashlib.sha256(head.encode()).hexdigest()


def _drop(con: duckdb.DuckDBPyConnection, objects: list[tuple[str, str]]) -> None:
    for kind, name in objects:
        if kind == "arrow":
            try:
                con.unregister(name)
            except duckdb.Error:  # pragma: no cover - already gone
                pass
        else:
            con.execute(f"DROP {kind.upper()} IF EXISTS {name}")


def drop_staged(con: duckdb.DuckDBPyConnection, staged: Staged | None) -> None:
    """Remove every temporary ``_sv_*`` view and table and the Arrow registration (idempotent).

    Works from the catalog rather than from ``staged.objects``, because a rolled-back transaction may have
    brought back an object dropped inside it.
    """
    views = con.execute(
        "SELECT view_name FROM duckdb_views() WHERE temporary AND starts_with(view_name, '_sv_')"
    ).fetchall()
    for (name,) in views:
        con.execute(f"DROP VIEW IF EXISTS {name}")
    tables = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary AND starts_with(table_name, '_sv_')"
    ).fetchall()
    for (name,) in tables:
        con.execute(f"DROP TABLE IF EXISTS {name}")
    if staged is not None and ("arrow", _ARROW) in staged.objects:
        _drop(con, [("arrow", _ARROW)])
