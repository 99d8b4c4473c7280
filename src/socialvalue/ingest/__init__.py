"""Loading data into the store: column mappings, validation rules and the load itself.

Use :meth:`socialvalue.Store.ingest`; this package holds its parts: :class:`ColumnMapping` (TOML-configurable
renames and conversions), :class:`IngestRules` (data-quality rules) and :class:`LoadReport` (what a load did).
"""

from __future__ import annotations

from socialvalue.ingest.load import LoadReport, ingest
from socialvalue.ingest.mapping import ColumnMapping, IngestRules

__all__ = ["ColumnMapping", "IngestRules", "LoadReport", "ingest"]
