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
from socialvalue.sqlsafe import ident, literal_path, reader_path

__all__ = [
    "RAW",
    "ROW",
    "SRC",
    "Staged",
    "check_file",
    "clean_error",
    "drop_staged",
    "file_hash",
    "refuse_duplicate_columns",
    "stage",
]

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
        label = f"<pandas.{type(source).__name__}>"
        refuse_duplicate_columns(label, [str(c) for c in source.columns])
        try:
            return pa.Table.from_pandas(source, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, ValueError, TypeError):
            # Mixed-type object columns: hand them over as text, validation reports the bad cells; but a
            # nested value (a dict or a list) is not text, and its str() must not become an id.
            obj = [c for c in source.columns if source[c].dtype == object]
            for c in obj:
                nested = source[c].map(lambda v: isinstance(v, dict | list | tuple | set))
                if nested.any():
                    pos = int(nested.to_numpy().argmax())
                    raise SchemaError(
                        f"{label}: {int(nested.sum()):,} problems; nothing was loaded:\n"
                        f"  row {pos + 1}, column {str(c)!r}: got {type(source[c].iloc[pos]).__name__} "
                        f"{str(source[c].iloc[pos])[:60]!r}; expected a single value (text or a number), "
                        "not a nested object or list",
                        [
                            {
                                "source": label,
                                "row": pos + 1,
                                "column": str(c),
                                "value": str(source[c].iloc[pos]),
                                "expected": "a single value, not a nested object or list",
                                "check": "type",
                            }
                        ],
                    ) from None
            try:
                fixed = source.astype(dict.fromkeys(obj, "string"))
                return pa.Table.from_pandas(fixed, preserve_index=False)
            except (pa.ArrowException, ValueError, TypeError) as exc:
                raise SchemaError(f"{label}: cannot read the DataFrame: {exc}") from None
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

    refuse_duplicate_columns(
        f"<{type(source).__module__.split('.')[0]}.{type(source).__name__}>", table.column_names
    )
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
    try:
        _refuse_nul(con, staged)
    except SchemaError:
        _drop(con, staged.objects)
        raise
    staged.content_hash = _relation_hash(con, staged.columns)
    return staged


def check_file(path: Path) -> None:
    """Refuse a path that is not an existing regular file, saying what it is instead.

    Raises
    ------
    SchemaError
        If nothing exists at ``path``, or it is a directory, a FIFO, a socket or a device.
    """
    try:
        exists = path.exists()
        is_dir = path.is_dir()
        is_file = path.is_file()
    except (OSError, ValueError) as exc:  # e.g. a name too long for the file system
        raise SchemaError(f"cannot load {str(path)!r}: {exc}") from None
    if is_dir:
        raise SchemaError(f"cannot load {str(path)!r}: it is a directory; name a data file inside it")
    if not exists:
        raise SchemaError(f"cannot load {str(path)!r}: no such file")
    if not is_file:
        raise SchemaError(
            f"cannot load {str(path)!r}: it is not a regular file (a FIFO, socket or device); save the data "
            "to a file and load that"
        )


def refuse_duplicate_columns(label: str, names: list[str]) -> None:
    """Refuse a source whose column names repeat, exactly or ignoring case (naming both).

    Parameters
    ----------
    label
        The source, for the message.
    names
        The column names as the source spells them.

    Raises
    ------
    SchemaError
        If two names are equal ignoring case.
    """
    seen: dict[str, str] = {}
    for name in names:
        key = str(name).lower()
        if key in seen:
            first = seen[key]
            how = "twice" if first == name else "twice, differing only in case"
            raise SchemaError(
                f"{label}: the source names a column {how}: {first!r} and {name!r}; a column name must be "
                "unique ignoring case, so which one to load would be a guess. Rename or drop one of them"
            )
        seen[key] = str(name)


def _is_empty(path: Path) -> bool:
    """Whether the file has no bytes, or only blanks (an uncompressed file of at most 64 bytes)."""
    size = path.stat().st_size
    if size == 0:
        return True
    if size > 64 or path.name.lower().endswith((".gz", ".zst")):
        return False
    return not path.read_bytes().strip(b" \t\r\n\xef\xbb\xbf")


_BOM = b"\xef\xbb\xbf"
_RENAMED = re.compile(r"^(.+)_(\d+)$")


def _json_style(path: Path, ext: str) -> str:
    """DuckDB's JSON ``format`` for the file: a byte-order mark hides a top-level array from auto-detection."""
    if ext in _JSONL:
        return "newline_delimited"
    if path.name.lower().endswith(".gz"):
        return "auto"
    with path.open("rb") as fh:
        head = fh.read(4096)
    if head.startswith(_BOM) and head[len(_BOM) :].lstrip().startswith(b"["):
        return "array"
    return "auto"


def _stage_file(
    con: duckdb.DuckDBPyConnection, path: Path, *, delimiter: str | None, header: bool, encoding: str
) -> Staged:
    check_file(path)
    if _is_empty(path):
        raise SchemaError(f"{path.name} is empty (no header, no rows); nothing was loaded")
    ext = _suffix(path)
    # Bound (or, in a view definition, quoted) with glob characters escaped: exactly this file is read.
    target = reader_path(path)
    try:
        if ext in _PARQUET:
            names = _parquet_names(path)
            refuse_duplicate_columns(path.name, names)
            if "file_row_number" in (n.lower() for n in names):
                # The reader's own row-number column would clash: copy the file once, keeping its order.
                con.execute(f"CREATE OR REPLACE TEMP TABLE {RAW} AS SELECT * FROM read_parquet(?)", [target])
                con.execute(f"CREATE OR REPLACE TEMP VIEW {SRC} AS SELECT *, rowid + 1 AS {ROW} FROM {RAW}")
                objects = [("view", SRC), ("table", RAW)]
            else:
                con.execute(
                    f"CREATE OR REPLACE TEMP VIEW {SRC} AS SELECT * EXCLUDE (file_row_number), "
                    f"file_row_number + 1 AS {ROW} FROM read_parquet({literal_path(path)}, file_row_number = true)"
                )
                objects = [("view", SRC)]
            fmt = "parquet"
        elif ext in _CSV or ext in _JSON or ext in _JSONL:
            params: list[Any] = [target]
            if ext in _CSV:
                opts = f", all_varchar = true, header = {str(header).lower()}, encoding = ?"
                params.append(encoding)
                if delimiter:
                    opts += ", delim = ?"
                    params.append(delimiter)
                reader, fmt = f"read_csv(?{opts})", "csv"
            else:
                style = _json_style(path, ext)
                reader, fmt = f"read_json(?, format = '{style}', sample_size = -1)", "json"
            # A temporary table keeps insertion order, so rowid + 1 is the data row as in the file.
            con.execute(f"CREATE OR REPLACE TEMP TABLE {RAW} AS SELECT * FROM {reader}", params)
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
    try:
        if ROW in list(staged.columns)[:-1]:
            raise SchemaError(f"{path.name}: the source has a column named {ROW!r}, which is reserved")
        if fmt == "csv":
            _check_csv(con, path, staged, params, header=header)
        elif fmt == "json":
            _check_json_names(con, path, staged, style)
        _refuse_nul(con, staged)
    except (SchemaError, duckdb.Error) as exc:
        _drop(con, objects)
        if isinstance(exc, SchemaError):
            raise
        raise SchemaError(f"cannot read {str(path)!r}: {_reader_error(exc)}") from None
    return staged


def _refuse_nul(con: duckdb.DuckDBPyConnection, staged: Staged) -> None:
    """Refuse a NUL character in any text value of the source (no id, word or note holds one)."""
    texts = [c for c, t in staged.columns.items() if c != ROW and t.upper() == "VARCHAR"]
    if not texts:
        return
    anywhere = " OR ".join(f"strpos({ident(c)}, chr(0)) > 0" for c in texts)
    hit = con.execute(f"SELECT {ROW} FROM {SRC} WHERE {anywhere} ORDER BY {ROW} LIMIT 1").fetchall()
    if not hit:
        return
    row = int(hit[0][0])
    cols = ", ".join(ident(c) for c in texts)
    values = con.execute(f"SELECT {cols} FROM {SRC} WHERE {ROW} = ?", [row]).fetchall()[0]
    col, value = next((c, v) for c, v in zip(texts, values, strict=True) if v is not None and "\x00" in v)
    n = con.execute(f"SELECT count(*) FROM {SRC} WHERE {anywhere}").fetchall()[0][0]
    shown = value.replace("\x00", "\\0")[:60]
    raise SchemaError(
        f"{staged.label}: {n:,} row{'s' if n != 1 else ''} with a NUL character; nothing was loaded:\n"
        f"  row {row}, column {col!r}: got {shown!r} (\\0 marks the NUL); expected text without NUL "
        "characters\nfix: remove the NUL bytes (often a sign of a binary or UTF-16 file read as UTF-8; "
        'set encoding = "utf-16" in the column mapping if it is one)',
        [
            {
                "source": staged.label,
                "row": row,
                "column": col,
                "value": value,
                "expected": "text without NUL characters",
                "check": "type",
            }
        ],
    )


def _parquet_names(path: Path) -> list[str]:
    """The top-level column names a Parquet file's footer declares (as spelled there)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return list(pq.read_schema(path).names)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise SchemaError(f"cannot read {str(path)!r} as parquet: {str(exc).splitlines()[0][:200]}") from None


def _suspect_renames(columns: list[str]) -> bool:
    """Whether a reader may have renamed a repeated column (``id``, ``ID`` → ``id``, ``ID_1``)."""
    lower = {c.lower() for c in columns}
    return any((m := _RENAMED.match(c)) and m.group(1).lower() in lower for c in columns)


def _check_csv(
    con: duckdb.DuckDBPyConnection, path: Path, staged: Staged, params: list[Any], *, header: bool
) -> None:
    """Refuse repeated header names and an unbalanced quote (the sniffer then reads quotes as text)."""
    cols = [c for c in staged.columns if c != ROW]
    if header and _suspect_renames(cols):
        opts = ", encoding = ?" + (", delim = ?" if len(params) > 2 else "")
        first = con.execute(
            f"SELECT * FROM read_csv(?, all_varchar = true, header = false{opts}) LIMIT 1", params
        ).fetchall()
        if first:
            refuse_duplicate_columns(path.name, ["" if v is None else str(v) for v in first[0]])
    if not cols:
        return
    starts = " OR ".join(f"starts_with({ident(c)}, '\"')" for c in cols)
    hit = con.execute(f"SELECT {ROW} FROM {SRC} WHERE {starts} ORDER BY {ROW} LIMIT 1").fetchall()
    if not hit:
        return
    sniff = con.execute("SELECT Quote FROM sniff_csv(?)", [params[0]]).fetchall()
    if sniff and sniff[0][0] == '"':
        return  # quoting is on: a leading quote in a value was written as an escaped one
    row = int(hit[0][0])
    col, value = next(
        (c, v)
        for c in cols
        for (v,) in con.execute(f"SELECT {ident(c)} FROM {SRC} WHERE {ROW} = ?", [row]).fetchall()
        if v is not None and v.startswith('"')
    )
    shown = value if len(value) <= 60 else value[:59] + "…"
    raise SchemaError(
        f"{path.name}: 1 problem; nothing was loaded:\n  row {row}, column {col!r}: got {shown!r}; expected "
        "a value whose double quotes are balanced (a quoted field ends with a quote before the next "
        'separator)\nfix: close the quote in that row (write a quote inside a quoted value as "")',
        [
            {
                "source": path.name,
                "row": row,
                "column": col,
                "value": value,
                "expected": "a value with balanced double quotes",
                "check": "type",
            }
        ],
    )


def _check_json_names(con: duckdb.DuckDBPyConnection, path: Path, staged: Staged, style: str) -> None:
    """Refuse keys that repeat ignoring case (DuckDB renames the second, e.g. ``ID`` → ``ID_1``)."""
    cols = [c for c in staged.columns if c != ROW]
    if not _suspect_renames(cols):
        return
    keys = con.execute(
        "SELECT DISTINCT unnest(json_keys(json)) FROM read_json_objects(?, format = ?)",
        [reader_path(path), style],
    ).fetchall()
    refuse_duplicate_columns(
        path.name, sorted((k for (k,) in keys), key=lambda k: (k.lower(), k != k.lower()))
    )


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
            con.execute(f"DROP {'VIEW' if kind == 'view' else 'TABLE'} IF EXISTS {ident(name)}")


def drop_staged(con: duckdb.DuckDBPyConnection, staged: Staged | None) -> None:
    """Remove every temporary ``_sv_*`` view and table and the Arrow registration (idempotent).

    Works from the catalog rather than from ``staged.objects``, because a rolled-back transaction may have
    brought back an object dropped inside it.
    """
    views = con.execute(
        "SELECT view_name FROM duckdb_views() WHERE temporary AND starts_with(view_name, '_sv_')"
    ).fetchall()
    for (name,) in views:
        con.execute(f"DROP VIEW IF EXISTS {ident(name)}")
    tables = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary AND starts_with(table_name, '_sv_')"
    ).fetchall()
    for (name,) in tables:
        con.execute(f"DROP TABLE IF EXISTS {ident(name)}")
    if staged is not None and ("arrow", _ARROW) in staged.objects:
        _drop(con, [("arrow", _ARROW)])
