"""What a run writes to the store: its ``scores`` and ``actions`` rows, its ``_runs`` record and its models.

Bookkeeping tables are created where they are first written (``CREATE TABLE IF NOT EXISTS``, as ``_exports``
and ``_reports`` are), inside the run's write transaction:

``_runs``
    One row per run: as_of, times, version, configuration (and its hash), model parameters, data snapshot,
    timings, memory, diagnostics, and ``models_from``: the run whose models produced the scores (the run
    itself when it fitted them; the source run for ``socialvalue score --models``).
``_models``
    One row per (run, role) of every model a run fitted (:mod:`socialvalue.pipeline.fitted`): ``run_id``,
    ``role``, ``model_class``, ``json`` (a :mod:`socialvalue.models.persist` document, never pickle),
    ``fingerprint_sha256`` (of the data it was fitted on) and ``created_at``. The documents hold parameters
    and aggregates only, never a customer id, so an erasure has nothing to rewrite in them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from socialvalue.errors import ConfigError, StoreError
from socialvalue.store import Store

__all__ = [
    "jsonable",
    "load_fitted_models",
    "record_run",
    "replace_rows",
    "snapshot",
    "stored_runs",
    "write_models",
]


def jsonable(obj: Any) -> Any:
    """``obj`` with numpy scalars and arrays, timestamps and non-finite floats made JSON values."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, (pd.Timestamp, datetime)):
        return obj.isoformat()
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    return obj


def replace_rows(store: Store, table: str, frame: pd.DataFrame, as_of: str) -> None:
    """Replace the rows of ``as_of`` in ``table`` by ``frame`` (creating or widening the table as needed).

    One ``CREATE TABLE ... AS`` with all the rows, old and new (``UNION ALL BY NAME`` widens the table to new
    columns). DuckDB 2.0.0 loses the rows of an INSERT into a table made empty (CTAS ... LIMIT 0) in the same
    transaction once they pass one row group (122,880 rows): the same connection then scans 0 rows although
    count(*) is right; a table created with its rows is not affected.
    """
    from socialvalue.sqlsafe import ident

    con = store.con
    con.register("_sv_frame", frame)
    try:
        if not store.has_table(table):
            con.execute(f"CREATE TABLE {ident(table)} AS SELECT * FROM _sv_frame")
            return
        con.execute(
            f"CREATE OR REPLACE TABLE {ident(table)} AS SELECT * FROM {ident(table)} WHERE as_of <> ? "
            "UNION ALL BY NAME SELECT * FROM _sv_frame",
            [as_of],
        )
    finally:
        con.unregister("_sv_frame")


_RUN_COLUMNS = (
    "run_id",
    "as_of",
    "started_at",
    "finished_at",
    "socialvalue_version",
    "config_hash",
    "config_json",
    "params_json",
    "snapshot_json",
    "timings_json",
    "memory_json",
    "diagnostics_json",
    "models_from",
)


def record_run(store: Store, row: dict[str, Any]) -> None:
    """Insert the ``_runs`` row of a run (columns :data:`_RUN_COLUMNS`; ``models_from`` added to old stores)."""
    store.con.execute(
        """CREATE TABLE IF NOT EXISTS _runs (
            run_id VARCHAR PRIMARY KEY, as_of DATE NOT NULL, started_at TIMESTAMP, finished_at TIMESTAMP,
            socialvalue_version VARCHAR, config_hash VARCHAR, config_json VARCHAR, params_json VARCHAR,
            snapshot_json VARCHAR, timings_json VARCHAR, memory_json VARCHAR, diagnostics_json VARCHAR,
            models_from VARCHAR)"""
    )
    # stores whose _runs predates saved models gain the column (NULL for their runs: no models saved)
    store.con.execute("ALTER TABLE _runs ADD COLUMN IF NOT EXISTS models_from VARCHAR")
    cols = [c for c in _RUN_COLUMNS if c in row]
    unknown = sorted(set(row) - set(_RUN_COLUMNS))
    if unknown:
        raise ValueError(f"unknown _runs column(s) {unknown}")
    store.con.execute(
        f"INSERT INTO _runs ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
        [row[c] for c in cols],
    )


def snapshot(store: Store) -> dict[str, Any]:
    """Rows and latest time of every canonical table (recorded with the run)."""
    from socialvalue.schema import KINDS, TABLES
    from socialvalue.sqlsafe import ident

    snap = {}
    for kind in KINDS:
        tc = TABLES[kind].time_column
        n, last = store.con.execute(f"SELECT count(*), max({ident(tc)}) FROM {ident(kind)}").fetchall()[0]
        snap[kind] = {"rows": int(n), "max_time": None if last is None else str(last)}
    return snap


def write_models(store: Store, run_id: str, models: dict[str, Any], created_at: datetime) -> int:
    """Write one ``_models`` row per role of ``models`` (role -> fitted model with ``to_json``); rows written.

    Call it inside the run's write transaction: the models are stored with the scores they produced, or
    not at all.
    """
    store.con.execute(
        """CREATE TABLE IF NOT EXISTS _models (
            run_id VARCHAR NOT NULL, role VARCHAR NOT NULL, model_class VARCHAR NOT NULL, json VARCHAR NOT NULL,
            fingerprint_sha256 VARCHAR, created_at TIMESTAMP, PRIMARY KEY (run_id, role))"""
    )
    rows = []
    for role, model in models.items():
        text = model.to_json()
        doc = json.loads(text)
        fingerprint = doc.get("fingerprint") if isinstance(doc, dict) else None
        sha = fingerprint.get("sha256") if isinstance(fingerprint, dict) else None
        rows.append((run_id, role, type(model).__name__, text, sha, created_at))
    if rows:
        store.con.executemany("INSERT INTO _models VALUES (?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


def stored_runs(store: Store) -> pd.DataFrame:
    """Every recorded run, latest first: ``run_id``, ``as_of``, ``started_at``, ``models_from``, ``n_models``."""
    if not store.has_table("_runs"):
        return pd.DataFrame(columns=["run_id", "as_of", "started_at", "models_from", "n_models"])
    runs = store.query_df(
        "SELECT run_id, CAST(as_of AS VARCHAR) AS as_of, started_at FROM _runs ORDER BY started_at DESC, run_id"
    )
    cols = {r[0] for r in store.con.execute("DESCRIBE _runs").fetchall()}
    origin: dict[str, Any] = {}
    if "models_from" in cols:
        origin = dict(store.con.execute("SELECT run_id, models_from FROM _runs").fetchall())
    counts: dict[str, int] = {}
    if store.has_table("_models"):
        counts = dict(store.con.execute("SELECT run_id, count(*) FROM _models GROUP BY run_id").fetchall())
    runs["models_from"] = runs["run_id"].map(origin).astype(object)
    runs["n_models"] = runs["run_id"].map(counts).fillna(0).astype(int)
    return runs


def _listing(runs: pd.DataFrame, limit: int = 8) -> str:
    shown = [f"{r.run_id} ({r.as_of})" for r in runs.head(limit).itertuples()]
    more = f" and {len(runs) - limit} more" if len(runs) > limit else ""
    return ", ".join(shown) + more


def load_fitted_models(store: Store, run_id: str) -> Any:
    """The :class:`~socialvalue.pipeline.fitted.FittedModels` a run stored (``"latest"``: the latest such run).

    A scoring run's id leads to the run whose models it used.

    Raises
    ------
    ConfigError
        No run ``run_id`` in the store (the message lists the stored runs), or a stored model that does not
        load.
    StoreError
        The run was recorded before models were saved with runs (the message says to re-run it).
    """
    from socialvalue.models import persist
    from socialvalue.pipeline.fitted import ROLES, FittedModels, RunChoices

    runs = stored_runs(store)
    if runs.empty:
        raise ConfigError(
            f"--models {run_id}: store {store.path} has no recorded run; fit models with `socialvalue run` first"
        )
    key = str(run_id).strip()
    if key == "latest":
        with_models = runs[runs["n_models"] > 0]
        if with_models.empty:
            raise StoreError(
                f"--models latest: no run of store {store.path} has stored models (runs before models were "
                f"saved with runs: {_listing(runs)}); re-run `socialvalue run` to fit and store them"
            )
        key = str(with_models.iloc[0]["run_id"])
    match = runs[runs["run_id"] == key]
    if match.empty:
        raise ConfigError(f"--models {run_id}: no such run in {store.path}; stored runs: {_listing(runs)}")
    row = match.iloc[0]
    origin = row["models_from"]
    if isinstance(origin, str) and origin and origin != key:  # a scoring run: follow it to the models
        return load_fitted_models(store, origin)
    if int(row["n_models"]) == 0:
        raise StoreError(
            f"--models {key}: run {key} (as of {row['as_of']}) was recorded before runs stored their models, so "
            f"it has none to score with; re-run `socialvalue run {store.path} --as-of {row['as_of']}` to fit "
            "and store them, then score with the new run id"
        )
    docs = dict(store.con.execute("SELECT role, json FROM _models WHERE run_id = ?", [key]).fetchall())
    unknown = sorted(set(docs) - set(ROLES))
    if unknown:
        raise ConfigError(f"run {key} stored model roles this socialvalue does not know: {unknown}")
    if "choices" not in docs or "purchase" not in docs or "spend" not in docs:
        missing = [r for r in ("choices", "purchase", "spend") if r not in docs]
        raise StoreError(f"run {key} lacks the stored model(s) {missing}; re-run `socialvalue run` for it")
    loaded = {
        role: (RunChoices.from_json(text) if role == "choices" else persist.load_model(text))
        for role, text in docs.items()
    }
    diag = store.scalar("SELECT diagnostics_json FROM _runs WHERE run_id = ?", [key])
    return FittedModels(**loaded, run_id=key, diagnostics=json.loads(diag) if diag else {})
