"""The engine seam: the one layer that executes socialvalue's definitions.

:mod:`socialvalue.features` defines feature tables, social inputs and holdout targets as SQL
(:class:`~socialvalue.features.definition.Query`); an engine runs them and returns Arrow tables, record
batches or frames with only the columns asked for. :class:`DuckDBEngine` runs them on the embedded store; the
Spark engine (issue 18) plugs in here with the same methods. Models, social value and decisions never see an
engine: they take arrays and frames.
"""

from __future__ import annotations

from socialvalue.engine.codes import IdCodes
from socialvalue.engine.duckdb import DEFAULT_BATCH_ROWS, DuckDBEngine
from socialvalue.engine.features import build, feature_table
from socialvalue.engine.frames import calibration_and_holdout, rfm_summary
from socialvalue.engine.manifest import (
    MANIFEST_TABLE,
    data_snapshot,
    ensure_manifest,
    read_manifest,
    write_manifest,
)

__all__ = [
    "DEFAULT_BATCH_ROWS",
    "MANIFEST_TABLE",
    "DuckDBEngine",
    "IdCodes",
    "build",
    "calibration_and_holdout",
    "data_snapshot",
    "ensure_manifest",
    "feature_table",
    "read_manifest",
    "rfm_summary",
    "write_manifest",
]
