"""The one way socialvalue puts a value into SQL text.

Everything that comes from outside the code (a file path, a customer id, a word of a column mapping, a column
name read from a file's header) reaches DuckDB through exactly one of these routes:

1. **Values are bound**, never pasted: ``con.execute("SELECT ... WHERE customer_id = ?", [value])``. Binding
   works in ``SELECT``, ``INSERT``, ``UPDATE``, ``DELETE``, ``CREATE TABLE ... AS`` and ``COPY ... TO ?``.
2. **File paths are bound too**, after :func:`reader_path` (for ``read_csv(?)``, ``read_json(?)``,
   ``read_parquet(?)``) or :func:`writer_path` (for ``COPY ... TO ?``). DuckDB's readers take ``* ? [ ]`` in a
   path as a glob pattern, so ``o[1].csv`` would read ``o1.csv`` and ``o*.csv`` every matching file;
   :func:`reader_path` escapes each of those characters as a one-character class (``[*]``, ``[[]``), which
   DuckDB 2 matches literally, so exactly the named file is read. Writers do not expand patterns.
3. **Identifiers** (table and column names) go through :func:`ident`.
4. Only where DuckDB refuses parameters (view definitions, ``SET``) is a constant rendered into the text,
   with :func:`literal` (or :func:`literal_path` for a reader's path).

A test (``tests/test_sqlsafe.py``) fails when an ``execute(f"...")`` or ``sql(f"...")`` in the package
interpolates anything that did not pass through this module or an allow-listed internal name.

This module is a leaf: it imports nothing from socialvalue but :mod:`socialvalue.errors`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from socialvalue.errors import ConfigError, SchemaError

__all__ = ["GLOB_CHARS", "ident", "literal", "literal_path", "reader_path", "writer_path"]

#: Characters DuckDB's file readers expand as a pattern.
GLOB_CHARS = frozenset("*?[]")


def ident(name: str) -> str:
    """Quote ``name`` as a SQL identifier: ``"..."`` with embedded double quotes doubled.

    Parameters
    ----------
    name
        A table or column name, possibly from a file's header.

    Returns
    -------
    str
        The quoted identifier, safe to place in SQL text.

    Raises
    ------
    SchemaError
        If ``name`` is not a string, is empty or holds a NUL character.

    Examples
    --------
    >>> print(ident('say "hi" now'))
    "say ""hi"" now"
    """
    if not isinstance(name, str):
        raise SchemaError(f"a column or table name must be text, not {type(name).__name__}")
    if not name:
        raise SchemaError("a column or table name is empty")
    if "\x00" in name:
        raise SchemaError(f"the column or table name {name!r} holds a NUL character; rename it")
    return '"' + name.replace('"', '""') + '"'


def literal(value: str | int | float | bool | None) -> str:
    """Render a constant as SQL text, for the few places DuckDB refuses a ``?`` parameter.

    Prefer binding: use this only in view definitions and ``SET`` statements.

    Parameters
    ----------
    value
        Text, a number, a boolean or ``None``.

    Returns
    -------
    str
        ``'text'`` with single quotes doubled, a number, ``TRUE``/``FALSE`` or ``NULL``.

    Raises
    ------
    SchemaError
        If text holds a NUL character, or the value is of another type.

    Examples
    --------
    >>> literal("it's")
    "'it''s'"
    >>> literal(1.5)
    '1.5'
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f"'{value!r}'::DOUBLE"
    if isinstance(value, str):
        if "\x00" in value:
            raise SchemaError(f"the value {value!r} holds a NUL character")
        return "'" + value.replace("'", "''") + "'"
    raise SchemaError(f"cannot put a {type(value).__name__} into SQL text; bind it with a ? parameter")


def _absolute(path: str | os.PathLike[str], error: type[SchemaError] | type[ConfigError]) -> str:
    text = os.fspath(path)
    if not isinstance(text, str):
        raise error(f"a file path must be text, not {type(text).__name__}")
    if "\x00" in text:
        raise error(f"the path {text!r} holds a NUL character, which no file name can contain")
    if not text:
        raise error("the file path is empty")
    # Absolute: DuckDB never sees a leading '~' or a 'scheme://' it would resolve on its own.
    return os.path.abspath(text)


def reader_path(path: str | os.PathLike[str]) -> str:
    """The text to bind as the path of a DuckDB reader (``read_csv(?)``...) so exactly ``path`` is read.

    The path is made absolute and each glob character (``* ? [ ]``) is escaped as a one-character class
    (``[*]``, ``[?]``, ``[[]``, ``[]]``), which DuckDB matches literally.

    Parameters
    ----------
    path
        The file to read.

    Returns
    -------
    str
        The pattern that matches exactly ``path``.

    Raises
    ------
    SchemaError
        If the path is empty or holds a NUL character.

    Examples
    --------
    >>> reader_path("/data/o[1].csv")
    '/data/o[[]1[]].csv'
    """
    text = _absolute(path, SchemaError)
    return "".join(f"[{c}]" if c in GLOB_CHARS else c for c in text)


def literal_path(path: str | os.PathLike[str]) -> str:
    """A reader's path as a SQL string literal, for a view definition (where ``?`` is refused).

    Parameters
    ----------
    path
        The file to read.

    Returns
    -------
    str
        ``'...'``: :func:`reader_path` with single quotes doubled (backslashes are literal in DuckDB strings).

    Examples
    --------
    >>> literal_path("/data/it's [1].parquet")
    "'/data/it''s [[]1[]].parquet'"
    """
    return literal(reader_path(path))


def writer_path(path: str | os.PathLike[str]) -> str:
    """The text to bind as the target of ``COPY ... TO ?``: the absolute path, verbatim.

    Writers take the path as it is (no pattern expansion), so nothing is escaped; the path is bound, never
    pasted into the statement.

    Parameters
    ----------
    path
        The file to write.

    Returns
    -------
    str
        The absolute path.

    Raises
    ------
    ConfigError
        If the path is empty or holds a NUL character.
    """
    return _absolute(Path(path) if not isinstance(path, str) else path, ConfigError)
