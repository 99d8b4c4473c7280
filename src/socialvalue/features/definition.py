"""The unit every engine runs: a SQL definition with its bound parameters, and nothing that executes.

A :class:`Query` is data: the SQL text (constant, written by this package, never holding user input), the
parameters bound to it, which result columns hold customer ids the engine may replace by dense integer codes,
and the row order. :mod:`socialvalue.engine` runs it (DuckDB now, Spark in its own engine) and returns Arrow
tables or record batches with only the columns asked for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Query"]


@dataclass(frozen=True)
class Query:
    """A SQL definition: ``sql`` with ``params`` bound, never formatted in.

    Attributes
    ----------
    sql
        The statement, with ``?`` or ``$name`` placeholders. Constant text written by socialvalue.
    params
        Values bound to the placeholders (a sequence for ``?``, a mapping for ``$name``).
    id_columns
        Result columns holding customer ids that an engine may replace by integer codes
        (:meth:`socialvalue.engine.DuckDBEngine.frame` with ``codes=True``).
    order
        Constant SQL ``ORDER BY`` list over result columns (applied after any id coding), or None.
    """

    sql: str
    params: Sequence[Any] | Mapping[str, Any] = field(default_factory=tuple)
    id_columns: tuple[str, ...] = ()
    order: str | None = None
