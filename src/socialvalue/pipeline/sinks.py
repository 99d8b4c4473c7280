"""Where a run's results go: the DuckDB store, or a folder of Parquet files and JSON beside them.

The stages compute the same ``scores`` and ``actions`` frames on every engine; a *sink* writes them with the run
record (run id, as_of, configuration and its hash, parameters, timings, diagnostics, fallbacks, data snapshot)
and the fitted models, all or nothing:

:class:`StoreSink`
    The DuckDB store (:func:`~socialvalue.pipeline.run_pipeline` on a store): ``scores`` and ``actions`` rows
    of the date replaced, the ``_runs`` row and the ``_models`` rows written in one transaction.
:class:`FolderSink`
    A folder (the Spark run's ``--output``): ``<as_of>/scores.parquet``, ``<as_of>/actions.parquet``,
    ``<as_of>/run.json`` (the run record, with the engine, the master and the input snapshot) and
    ``<as_of>/models.json`` (the fitted models as :mod:`socialvalue.models.persist` documents). The files are
    written into a hidden sibling folder, flushed, and the folder is renamed to ``<as_of>``: a reader sees the
    previous run's folder or the complete new one, and a run that fails writes nothing. A run of a date
    already written replaces its folder, as a store run replaces the date's rows.

Both also give what a run reads back: the latest earlier scoring's lifecycle stages (the stage transitions of
the diagnostics) and the data for the HTML report.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from socialvalue.errors import StoreError

if TYPE_CHECKING:  # pragma: no cover
    from socialvalue.report import ReportData
    from socialvalue.store import Store

__all__ = ["RECORD_FILE", "FolderSink", "StoreSink"]

#: The run record's file name in a date's folder (beside ``scores.parquet`` and ``actions.parquet``).
RECORD_FILE = "run.json"
_DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _runs_row(record: dict[str, Any]) -> dict[str, Any]:
    """The ``_runs`` row of a run record (:func:`socialvalue.pipeline.record.record_run`'s columns)."""
    return {
        "run_id": record["run_id"],
        "as_of": record["as_of"],
        "started_at": record["started_at"],
        "finished_at": record["finished_at"],
        "socialvalue_version": record["socialvalue_version"],
        "config_hash": record["config_hash"],
        "config_json": json.dumps(record["config"]),
        "params_json": json.dumps(record["params"]),
        "snapshot_json": json.dumps(record["snapshot"]),
        "timings_json": json.dumps(record["timings"]),
        "memory_json": json.dumps(record["memory"]),
        "diagnostics_json": json.dumps(record["diagnostics"]),
        "models_from": record["models_from"],
    }


class StoreSink:
    """Write a run into the DuckDB store it read (the DuckDB run; see the module docstring).

    Parameters
    ----------
    store
        The open store.
    """

    engine = "duckdb"

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def location(self) -> str:
        """Where the results are, in words (for the command line)."""
        return f"{self.store.path} (tables scores, actions; run log _runs)"

    def previous(self, as_of: pd.Timestamp) -> tuple[str, pd.DataFrame] | None:
        """The latest scoring before ``as_of``: its date and its ``customer_id``, ``lifecycle_stage``."""
        store = self.store
        if not store.has_table("scores"):
            return None
        prev = store.scalar("SELECT max(as_of) FROM scores WHERE as_of < ?", [as_of.date()])
        if prev is None:
            return None
        return str(prev), store.query_df(
            "SELECT customer_id, lifecycle_stage FROM scores WHERE as_of = ?", [prev]
        )

    def write(
        self, record: dict[str, Any], scores: pd.DataFrame, actions: pd.DataFrame, models: dict[str, Any]
    ) -> None:
        """Replace the date's ``scores`` and ``actions`` rows, add the ``_runs`` and ``_models`` rows: one transaction.

        The data snapshot (rows and latest time of every canonical table) is taken inside the transaction, so
        it describes exactly the data of the run.
        """
        from socialvalue.pipeline.record import record_run, replace_rows, snapshot, write_models

        store, as_of = self.store, str(record["as_of"])
        store.con.execute("BEGIN TRANSACTION")
        try:
            replace_rows(store, "scores", scores, as_of)
            replace_rows(store, "actions", actions, as_of)
            record_run(store, _runs_row({**record, "snapshot": snapshot(store)}))
            write_models(store, record["run_id"], models, record["finished_at"])
            store.con.execute("COMMIT")
        except Exception:
            store.con.execute("ROLLBACK")
            raise

    def report_data(self, as_of: str, **_: Any) -> ReportData:
        """The report's data, read back from the store (:meth:`ReportData.from_store`)."""
        from socialvalue.report import ReportData

        return ReportData.from_store(self.store, as_of)

    def registered(self, path: Path, as_of: str) -> None:
        """Register a report written from the store, so that an erasure rewrites it too."""
        from socialvalue.privacy import record_report

        record_report(self.store, str(Path(path).resolve()), as_of)

    def finish(self, record: dict[str, Any]) -> None:
        """Complete the ``_runs`` row with the timings of the write and report stages."""
        self.store.con.execute(
            "UPDATE _runs SET timings_json = ?, memory_json = ?, finished_at = ? WHERE run_id = ?",
            [
                json.dumps(record["timings"]),
                json.dumps(record["memory"]),
                record["finished_at"],
                record["run_id"],
            ],
        )

    def publish(self, run_id: str) -> Path | None:
        """Publish the run for the REST API (:func:`socialvalue.published.publish`)."""
        from socialvalue.published import publish

        return publish(self.store, run_id)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, default=_json_default, allow_nan=False) + "\n"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on folders
        pass
    finally:
        os.close(fd)


class FolderSink:
    """Write a run as Parquet and JSON under ``<output>/<as_of>/`` (the Spark run; see the module docstring).

    Parameters
    ----------
    output
        The output folder (created when missing). It must be a path this process can write and rename in:
        a local disk, a network file system, or a cloud store mounted as files (``/dbfs/...`` on Databricks).
    snapshot
        What the run read: per canonical table its rows, time range and input files (the run record's
        ``input``), and the data-quality table of the report.
    engine, master
        The engine's name and its master URL, recorded with the run.
    """

    def __init__(
        self,
        output: str | os.PathLike[str],
        snapshot: dict[str, Any],
        *,
        engine: str = "spark",
        master: str | None = None,
    ) -> None:
        self.output = Path(output)
        self.snapshot = snapshot
        self.engine = engine
        self.master = master
        self.folder: Path | None = None

    @property
    def location(self) -> str:
        """Where the results are, in words (for the command line)."""
        where = self.folder if self.folder is not None else self.output
        return f"{where} (scores.parquet, actions.parquet, {RECORD_FILE}, models.json)"

    def _dates(self) -> list[str]:
        if not self.output.is_dir():
            return []
        return sorted(
            p.name
            for p in self.output.iterdir()
            if _DATE_DIR.match(p.name) and (p / "scores.parquet").is_file()
        )

    def previous(self, as_of: pd.Timestamp) -> tuple[str, pd.DataFrame] | None:
        """The latest scoring in the folder before ``as_of``: its date and its ``customer_id``, ``lifecycle_stage``."""
        import pyarrow.parquet as pq

        from socialvalue.store import arrow_to_pandas

        earlier = [d for d in self._dates() if d < str(as_of.date())]
        if not earlier:
            return None
        path = self.output / earlier[-1] / "scores.parquet"
        return earlier[-1], arrow_to_pandas(pq.read_table(path, columns=["customer_id", "lifecycle_stage"]))

    def _document(self, record: dict[str, Any]) -> dict[str, Any]:
        from socialvalue.pipeline.record import jsonable

        doc = {
            **{k: v for k, v in record.items() if k != "snapshot"},
            "engine": self.engine,
            "master": self.master,
            "input": jsonable(self.snapshot.get("input", {})),
            "fallbacks": list(record["diagnostics"].get("fallbacks") or []),
        }
        return doc

    def write(
        self, record: dict[str, Any], scores: pd.DataFrame, actions: pd.DataFrame, models: dict[str, Any]
    ) -> None:
        """Write the four files into a hidden folder, then rename it to ``<output>/<as_of>`` (replacing it)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        as_of = str(record["as_of"])
        target = self.output / as_of
        try:
            self.output.mkdir(parents=True, exist_ok=True)
            tmp = self.output / f".{as_of}.{secrets.token_hex(6)}.sv-tmp"
            tmp.mkdir()
        except OSError as exc:
            raise StoreError(f"cannot write the results to {self.output}: {exc.strerror or exc}") from exc
        try:
            for name, frame in (("scores", scores), ("actions", actions)):
                pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp / f"{name}.parquet")
            # each model's document as the store keeps it (its own JSON text, by role)
            docs = ",\n".join(f"{json.dumps(role)}: {model.to_json()}" for role, model in models.items())
            (tmp / "models.json").write_text("{\n" + docs + "\n}\n", encoding="utf-8")
            (tmp / RECORD_FILE).write_text(_json(self._document(record)), encoding="utf-8")
            for f in tmp.iterdir():
                _fsync(f)
            _fsync(tmp)
            self._swap(tmp, target)
        except OSError as exc:
            raise StoreError(f"cannot write the results to {target}: {exc.strerror or exc}") from exc
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        self.folder = target

    def _swap(self, tmp: Path, target: Path) -> None:
        """Put the complete folder ``tmp`` in the place of ``target`` (an earlier run's folder is removed)."""
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.{secrets.token_hex(6)}.sv-old")
            os.replace(target, old)
        try:
            os.replace(tmp, target)
        except OSError:
            if old is not None:
                os.replace(old, target)
            raise
        _fsync(target.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def report_data(
        self,
        as_of: str,
        *,
        scores: pd.DataFrame,
        actions: pd.DataFrame,
        diagnostics: dict[str, Any],
        record: dict[str, Any],
    ) -> ReportData:
        """The report's data, from the run's own frames (nothing is read back)."""
        from socialvalue.report import ReportData

        quality = self.snapshot.get("quality")
        return ReportData(
            as_of=as_of,
            scores=scores,
            actions=actions,
            diagnostics=diagnostics,
            data_quality=None if quality is None else pd.DataFrame(quality),
            run={k: v for k, v in record.items() if k not in ("diagnostics", "snapshot")},
            currency=str(diagnostics.get("currency", "USD")),
        )

    def registered(self, path: Path, as_of: str) -> None:
        """Nothing to register: a folder of results has no erasure log (the report lies beside it)."""

    def finish(self, record: dict[str, Any]) -> None:
        """Rewrite ``run.json`` with the timings of the write and report stages (atomically)."""
        from socialvalue.atomic import atomic_write_text

        if self.folder is not None:
            atomic_write_text(self.folder / RECORD_FILE, _json(self._document(record)))

    def publish(self, run_id: str) -> Path | None:
        """No REST snapshot: the service serves a store (the folder is the published result)."""
        return None
