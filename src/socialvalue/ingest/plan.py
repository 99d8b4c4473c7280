"""The conversion plan of one staged source: :class:`Plan`, and the names of the conversion view's objects.

:func:`socialvalue.ingest.convert.plan` fills a :class:`Plan`; :func:`socialvalue.ingest.convert.build_view`
turns it into the conversion view :data:`CONV`; :mod:`socialvalue.ingest.validate` checks that view's rows
against it. Both build on this module, so neither imports the other back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from socialvalue.ingest.mapping import ColumnMapping
from socialvalue.schema import Table

__all__ = ["CONV", "RAW_PREFIX", "Plan"]

#: The temporary view (or table) of a source's converted rows.
CONV = "_sv_conv"
#: Prefix of the column that keeps a convertible column's raw text, for reporting a value that fails.
RAW_PREFIX = "__raw__"


@dataclass
class Plan:
    """Where each canonical column comes from and how it is converted."""

    table: Table
    select: list[str] = field(default_factory=list)  # SELECT items of the conversion view
    present: list[str] = field(default_factory=list)  # canonical columns the source provides
    convertible: dict[str, str] = field(default_factory=dict)  # column -> what was expected
    sources: dict[str, str] = field(default_factory=dict)  # canonical -> source column (or 'constant')
    extra_columns: list[str] = field(default_factory=list)
    mapping: ColumnMapping | None = None  # the mapping the plan applies (for the hints of a failed load)
    derived: tuple[str, ...] = ()  # canonical columns computed from the others (the orders' order_id)
