"""The server's view of the published runs: snapshot files attached read-only, swapped without a pause.

One in-memory DuckDB database attaches the snapshot that ``STORE.serving/CURRENT`` names, read-only, under an
alias of its own (``s1``, ``s2``...). Each request pins one snapshot (:meth:`SnapshotReader.pin`) and reads
only it, through a cursor of its thread, so a response never mixes two runs. A background thread watches the
pointer: a new snapshot is attached (and, when ids are pseudonymised, its id table built) before requests move
to it; the previous one stays attached while its file exists, so a listing's cursor can finish the run it
started on; a snapshot whose file is gone (an erasure deletes them all) is detached as soon as no request
holds it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from socialvalue.published import current_snapshot, serving_dir

__all__ = ["Snapshot", "SnapshotReader"]

logger = logging.getLogger(__name__)


@dataclass
class Snapshot:
    """One attached snapshot.

    Attributes
    ----------
    alias
        The schema it is attached as (``s<n>``).
    path
        Its file.
    meta
        The ``meta`` table: ``run_id``, ``as_of``, ``previous_as_of``, ``published_at``, ``currency``...
    ids
        The in-memory table of ``(customer_id, pseudo)`` when ids are pseudonymised, else ``None``.
    """

    alias: str
    path: Path
    meta: dict[str, str]
    ids: str | None = None
    users: int = 0
    retired: bool = False
    cache: dict[Any, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The snapshot's file name (what a listing cursor names)."""
        return self.path.name


class SnapshotReader:
    """Attach, pin and swap the published snapshots of one store.

    Parameters
    ----------
    store_path
        The store whose ``STORE.serving/`` folder is read.
    pseudonym_key
        HMAC key for pseudonymised ids, or ``None`` to serve the ids as they are.
    """

    def __init__(self, store_path: str | os.PathLike[str], pseudonym_key: bytes | None = None) -> None:
        self.folder = serving_dir(store_path)
        self.pseudonym_key = pseudonym_key
        self._db = duckdb.connect(":memory:")
        self._db.execute("SET TimeZone = 'UTC'")
        self._lock = threading.RLock()
        self._local = threading.local()
        self._seq = 0
        self._current: Snapshot | None = None
        self._others: list[Snapshot] = []
        self._pointer: tuple[int, int, int] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the connection -------------------------------------------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """The calling thread's cursor on the in-memory database (created once per thread)."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._db.cursor()
            self._local.cursor = cur
        return cur

    # -- swapping ------------------------------------------------------------------------------------
    def refresh(self) -> bool:
        """Attach the snapshot the pointer names if it is new; detach snapshots whose files are gone.

        Returns whether the current snapshot changed.
        """
        pointer = self.folder / "CURRENT"
        try:
            st = pointer.stat()
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        changed = False
        if stamp != self._pointer:
            path = current_snapshot(self.folder)
            if path is None:
                with self._lock:
                    if self._current is not None:
                        self._retire(self._current)
                        self._current = None
                        changed = True
            elif self._current is None or path != self._current.path:
                snap = self._attach(path)
                if snap is not None:
                    with self._lock:
                        if self._current is not None:
                            self._others.append(self._current)
                        self._current = snap
                    changed = True
                    logger.info("serving run %s (as of %s)", snap.meta.get("run_id"), snap.meta.get("as_of"))
            self._pointer = stamp
        with self._lock:
            for snap in list(self._others):
                if not snap.path.exists() or (len(self._others) > 1 and snap is self._others[0]):
                    self._retire(snap)
        return changed

    def _attach(self, path: Path) -> Snapshot | None:
        self._seq += 1
        alias = f"s{self._seq}"
        cur = self._db.cursor()
        try:
            cur.execute("ATTACH ? AS " + alias + " (READ_ONLY)", [str(path)])
        except duckdb.Error as exc:
            logger.warning("cannot attach snapshot %s: %s", path.name, str(exc).splitlines()[0])
            return None
        meta = dict(cur.execute(f"SELECT key, value FROM {alias}.meta").fetchall())
        snap = Snapshot(alias, path, meta)
        if self.pseudonym_key is not None:
            snap.ids = self._pseudonyms(cur, alias)
        return snap

    def _pseudonyms(self, cur: duckdb.DuckDBPyConnection, alias: str) -> str:
        import pyarrow as pa

        from socialvalue.privacy import pseudonymize

        table = f"ids_{alias}"
        ids = cur.execute(f"SELECT customer_id FROM {alias}.history GROUP BY 1").to_arrow_table().column(0)
        mapping = pa.table({"customer_id": ids, "pseudo": pa.array(pseudonymize(ids, self.pseudonym_key))})
        cur.register("_sv_ids", mapping)
        cur.execute(f"CREATE TABLE memory.main.{table} AS SELECT * FROM _sv_ids ORDER BY pseudo")
        cur.unregister("_sv_ids")
        cur.execute(f"CREATE UNIQUE INDEX {table}_pseudo ON memory.main.{table} (pseudo)")
        cur.execute(f"CREATE UNIQUE INDEX {table}_id ON memory.main.{table} (customer_id)")
        return f"memory.main.{table}"

    def _retire(self, snap: Snapshot) -> None:
        snap.retired = True
        if snap in self._others:
            self._others.remove(snap)
        if snap.users == 0:
            self._detach(snap)

    def _detach(self, snap: Snapshot) -> None:
        cur = self._db.cursor()
        with contextlib.suppress(duckdb.Error):
            cur.execute(f"DETACH {snap.alias}")
            if snap.ids is not None:
                cur.execute(f"DROP TABLE IF EXISTS {snap.ids}")
        logger.info("detached snapshot of run %s", snap.meta.get("run_id"))

    # -- reading -------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def pin(self, name: str | None = None) -> Iterator[Snapshot | None]:
        """Hold one snapshot for a request: the current one, or the attached one called ``name``.

        Yields ``None`` when there is none (nothing published, or ``name`` no longer attached).
        """
        with self._lock:
            if name is None or (self._current is not None and self._current.name == name):
                snap = self._current
            else:
                snap = next((s for s in self._others if s.name == name), None)
            if snap is not None:
                snap.users += 1
        try:
            yield snap
        finally:
            if snap is not None:
                with self._lock:
                    snap.users -= 1
                    if snap.retired and snap.users == 0:
                        self._detach(snap)

    @property
    def current(self) -> Snapshot | None:
        """The snapshot new requests read."""
        return self._current

    # -- the watcher ---------------------------------------------------------------------------------
    def start(self, every: float) -> None:
        """Attach the current snapshot now and watch for new ones every ``every`` seconds."""
        self.refresh()

        def watch() -> None:
            while not self._stop.wait(every):
                try:
                    self.refresh()
                except Exception:  # keep serving the last good snapshot whatever a refresh meets
                    logger.exception("refreshing the published snapshot failed")

        self._thread = threading.Thread(target=watch, name="socialvalue-snapshots", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop watching and close the in-memory database."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with contextlib.suppress(duckdb.Error):
            self._db.close()
