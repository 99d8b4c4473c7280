"""The feature manifest: one row per materialized feature table, so a score can be traced to its inputs.

Table ``_feature_manifest`` records, for each ``features_<YYYYMMDD>`` table: ``as_of``, the unit, the
calibration and holdout ends, the data snapshot it was computed from (row count and latest timestamp of every
canonical table), the code version (``socialvalue.__version__`` and a hash of the feature SQL), the feature
configuration, the number of rows and columns, and when it was built.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from socialvalue._version import __version__
from socialvalue.schema import KINDS, TABLES

if TYPE_CHECKING:  # pragma: no cover
    from socialvalue.store import Store

__all__ = ["MANIFEST_TABLE", "data_snapshot", "ensure_manifest", "read_manifest", "write_manifest"]

MANIFEST_TABLE = "_feature_manifest"

_DDL = f"""
CREATE TABLE IF NOT EXISTS {MANIFEST_TABLE} (
    table_name VARCHAR PRIMARY KEY,
    as_of TIMESTAMP NOT NULL,
    unit VARCHAR NOT NULL,
    calibration_end TIMESTAMP,
    holdout_end TIMESTAMP,
    n_rows BIGINT NOT NULL,
    n_features INTEGER NOT NULL,
    snapshot JSON NOT NULL,
    code_version VARCHAR NOT NULL,
    sql_hash VARCHAR NOT NULL,
    config JSON NOT NULL,
    built_at TIMESTAMP NOT NULL
)
"""

#: Time columns whose maximum is recorded per table (relationships also end).
_TIME_COLUMNS: dict[str, tuple[str, ...]] = {
    kind: tuple(c for c in (TABLES[kind].time_column, "ended_at" if kind == "relationships" else None) if c)
    for kind in KINDS
}


def ensure_manifest(store: Store) -> None:
    """Create the manifest table if it does not exist."""
    store.con.execute(_DDL)


def data_snapshot(store: Store) -> dict[str, dict[str, Any]]:
    """Row count and latest timestamp(s) of each canonical table, e.g. ``{"orders": {"rows": 10, ...}}``."""
    parts = []
    for kind in KINDS:
        maxes = ", ".join(f'CAST(max("{c}") AS VARCHAR)' for c in _TIME_COLUMNS[kind])
        parts.append(f"SELECT '{kind}', count(*), [{maxes}] FROM \"{kind}\"")
    rows = store.con.execute(" UNION ALL ".join(parts)).fetchall()
    snap: dict[str, dict[str, Any]] = {}
    for kind, count, maxes in rows:
        entry: dict[str, Any] = {"rows": int(count)}
        for col, value in zip(_TIME_COLUMNS[kind], maxes, strict=True):
            entry[f"max_{col}"] = value
        snap[kind] = entry
    return snap


def write_manifest(
    store: Store,
    *,
    table_name: str,
    as_of: dt.datetime,
    unit: str,
    holdout_end: dt.datetime | None,
    n_rows: int,
    n_features: int,
    sql_hash: str,
    config: dict[str, Any],
    snapshot: dict[str, Any],
    calibration_end: dt.datetime | None = None,
) -> None:
    """Insert (or replace) the manifest row of ``table_name``."""
    ensure_manifest(store)
    store.con.execute(
        f"INSERT OR REPLACE INTO {MANIFEST_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            table_name,
            as_of,
            unit,
            calibration_end,
            holdout_end,
            n_rows,
            n_features,
            json.dumps(snapshot, sort_keys=True),
            __version__,
            sql_hash,
            json.dumps(config, sort_keys=True),
            dt.datetime.now(dt.UTC).replace(tzinfo=None),
        ],
    )


def read_manifest(store: Store, table_name: str | None = None) -> list[dict[str, Any]]:
    """Manifest rows (all, or the one of ``table_name``) as dicts, JSON columns decoded, newest first."""
    if not store.has_table(MANIFEST_TABLE):
        return []
    where, params = ("WHERE table_name = ?", [table_name]) if table_name else ("", [])
    rel = store.con.sql(
        f"SELECT * FROM {MANIFEST_TABLE} {where} ORDER BY built_at DESC", params=params or None
    )
    names = rel.columns
    out = []
    for row in rel.fetchall():
        rec = dict(zip(names, row, strict=True))
        rec["snapshot"] = json.loads(rec["snapshot"])
        rec["config"] = json.loads(rec["config"])
        out.append(rec)
    return out
