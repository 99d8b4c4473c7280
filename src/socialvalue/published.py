"""Published snapshots: the complete, read-only copy of a run's results that the API serves.

DuckDB lets one process write a file, and while it writes no other process may open it, not even to read.
So every run ends by publishing its results into a new DuckDB file in the folder ``STORE.serving/`` beside
the store, then atomically replacing the pointer file ``CURRENT`` with that file's name. A reader (the REST
API, :mod:`socialvalue.service`) attaches the file ``CURRENT`` names, read-only, and moves to a newer file when
the pointer changes. A snapshot is written completely before the pointer names it, so a reader sees one run
whole or not at all, and it never touches the store a run or an ingest is writing.

A snapshot holds (``docs/api.md``):

- ``meta``: ``run_id``, ``as_of``, ``previous_as_of``, ``published_at``, ``currency``, ``clv_horizon``;
- ``latest``: the run's ``scores`` joined to its ``actions`` (``action``, ``action_label``...) and ``value``
  (the published value score), one row per customer, a unique index on ``customer_id``;
- ``history``: value, CLV, social value, segment, stage, churn risk and action of every customer at every
  scoring date in the store;
- ``runs``: the run records (``_runs``);
- ``changes``: each customer's stage and value at the previous scoring date against this run's;
- ``edges``: the follow edges among the :data:`NETWORK_SIZE` customers with the highest influencer score.

Erasure (:func:`socialvalue.privacy.erase_customer`) publishes again from the erased store and deletes every
older snapshot (:func:`republish`), so no snapshot keeps the customer.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from socialvalue.atomic import atomic_write_text
from socialvalue.errors import StoreError

if TYPE_CHECKING:  # pragma: no cover
    from socialvalue.store import Store

__all__ = [
    "NETWORK_SIZE",
    "POINTER",
    "current_snapshot",
    "publish",
    "republish",
    "serving_dir",
    "snapshot_files",
]

logger = logging.getLogger(__name__)

#: The pointer file in the serving folder: one line, the current snapshot's file name.
POINTER = "CURRENT"
#: The follow edges among this many top influencers are kept for the network view.
NETWORK_SIZE = 500
#: The value decomposition: score columns whose sum is the learned customer social value (``csv``).
SOCIAL_COMPONENTS = (
    "referral_value",
    "influence_value",
    "interaction_value",
    "content_value",
    "advocacy_value",
)
_NAME = re.compile(r"^snapshot-([0-9A-Za-z]+)-(\d{6})\.duckdb$")


def serving_dir(store_path: str | os.PathLike[str]) -> Path:
    """The folder of published snapshots (and API keys) beside a store file: ``STORE.serving``."""
    return Path(f"{os.path.abspath(os.fspath(store_path))}.serving")


def snapshot_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The snapshot files in ``folder``, oldest first (by their sequence number)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(m.group(2)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def current_snapshot(folder: str | os.PathLike[str]) -> Path | None:
    """The snapshot file ``CURRENT`` names, or ``None`` when nothing is published (or it is missing)."""
    pointer = Path(folder) / POINTER
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if not _NAME.match(name):
        return None
    path = Path(folder) / name
    return path if path.exists() else None


def _latest_run(store: Store, run_id: str | None) -> tuple[str, str] | None:
    if not store.has_table("_runs") or not store.has_table("scores"):
        return None
    if run_id is None:
        rows = store.con.execute(
            "SELECT run_id, CAST(as_of AS VARCHAR) FROM _runs WHERE finished_at IS NOT NULL "
            "ORDER BY finished_at DESC, started_at DESC LIMIT 1"
        ).fetchall()
    else:
        rows = store.con.execute(
            "SELECT run_id, CAST(as_of AS VARCHAR) FROM _runs WHERE run_id = ?", [run_id]
        ).fetchall()
    if not rows:
        return None
    rid, as_of = rows[0]
    n = store.scalar("SELECT count(*) FROM scores WHERE as_of = CAST(? AS DATE)", [as_of])
    return (str(rid), str(as_of)) if n else None


def _components(store: Store) -> list[str]:
    cols = [
        r[0]
        for r in store.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' "
            "AND table_name = 'scores' ORDER BY ordinal_position"
        ).fetchall()
    ]
    return [c for c in cols if c.startswith("contrib_") or c in SOCIAL_COMPONENTS]


def _fill(store: Store, run_id: str, as_of: str) -> None:
    """Create the snapshot's tables in the attached database ``_sv_pub`` from the store."""
    con = store.con
    prev = store.scalar(
        "SELECT CAST(max(as_of) AS VARCHAR) FROM scores WHERE as_of < CAST(? AS DATE)", [as_of]
    )
    has_actions = store.has_table("actions")
    action_cols = (
        "a.action, a.label AS action_label, a.channel AS action_channel, a.cost AS action_cost, "
        "a.expected_value AS action_expected_value, a.net_value AS action_net_value, "
        "a.reason AS action_reason"
        if has_actions
        else "CAST(NULL AS VARCHAR) AS action, CAST(NULL AS VARCHAR) AS action_label, "
        "CAST(NULL AS VARCHAR) AS action_channel, CAST(NULL AS DOUBLE) AS action_cost, "
        "CAST(NULL AS DOUBLE) AS action_expected_value, CAST(NULL AS DOUBLE) AS action_net_value, "
        "CAST(NULL AS VARCHAR) AS action_reason"
    )
    join = "LEFT JOIN actions a ON a.customer_id = s.customer_id AND a.as_of = s.as_of" if has_actions else ""
    value = "coalesce(s.value_score, s.csv, s.clv)"
    con.execute(
        f"CREATE TABLE _sv_pub.latest AS SELECT s.*, {value} AS value, {action_cols} "
        f"FROM scores s {join} WHERE s.as_of = CAST(? AS DATE) ORDER BY s.customer_id",
        [as_of],
    )
    con.execute("CREATE UNIQUE INDEX latest_customer ON _sv_pub.latest (customer_id)")
    hist_action = "a.action" if has_actions else "CAST(NULL AS VARCHAR) AS action"
    con.execute(
        f"CREATE TABLE _sv_pub.history AS SELECT s.customer_id, s.as_of, {value} AS value, s.clv, "
        f"s.social_value, s.segment, s.lifecycle_stage, s.churn_risk, {hist_action} "
        f"FROM scores s {join} WHERE s.as_of <= CAST(? AS DATE) ORDER BY s.customer_id, s.as_of",
        [as_of],
    )
    con.execute("CREATE INDEX history_customer ON _sv_pub.history (customer_id)")
    con.execute("CREATE TABLE _sv_pub.runs AS SELECT * FROM _runs ORDER BY started_at")
    con.execute(
        "CREATE TABLE _sv_pub.changes AS SELECT n.customer_id, p.lifecycle_stage AS stage_before, "
        "n.lifecycle_stage AS stage_now, p.value AS value_before, n.value AS value_now "
        "FROM _sv_pub.latest n JOIN _sv_pub.history p ON p.customer_id = n.customer_id "
        "AND p.as_of = CAST(? AS DATE) ORDER BY n.customer_id",
        [prev],
    )
    con.execute(
        "CREATE TABLE _sv_pub.edges AS WITH top AS (SELECT customer_id FROM _sv_pub.latest "
        "ORDER BY influencer_score DESC NULLS LAST, customer_id LIMIT ?) "
        "SELECT DISTINCT r.src_id AS source, r.dst_id AS target FROM relationships r "
        "JOIN top a ON a.customer_id = r.src_id JOIN top b ON b.customer_id = r.dst_id "
        "WHERE r.kind IN ('follow', 'friend') AND r.src_id <> r.dst_id AND (r.created_at IS NULL OR r.created_at < "
        "CAST(? AS TIMESTAMP)) AND (r.ended_at IS NULL OR r.ended_at >= CAST(? AS TIMESTAMP)) "
        "ORDER BY 1, 2",
        [NETWORK_SIZE, as_of, as_of],
    )
    diag = store.scalar("SELECT diagnostics_json FROM _runs WHERE run_id = ?", [run_id])
    currency = store.scalar("SELECT any_value(currency) FROM _sv_pub.latest") or ""
    horizon = ""
    if diag:
        import json

        try:
            horizon = str(json.loads(diag).get("clv_horizon", ""))
        except ValueError:
            horizon = ""
    meta = {
        "run_id": run_id,
        "as_of": as_of,
        "previous_as_of": prev or "",
        "published_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "currency": str(currency),
        "clv_horizon": horizon,
        "components": ",".join(_components(store)),
    }
    con.execute("CREATE TABLE _sv_pub.meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
    con.executemany("INSERT INTO _sv_pub.meta VALUES (?, ?)", list(meta.items()))


def publish(store: Store, run_id: str | None = None, *, keep: int = 2) -> Path | None:
    """Write the results of ``run_id`` (default: the latest finished run) as the current snapshot.

    Parameters
    ----------
    store
        An open store (read-write or read-only) with the run's ``scores``.
    run_id
        The run to publish; by default the run that finished last.
    keep
        How many snapshot files to keep, the new one included (at least 1). Two let a reader finish
        paging through the previous run while the new one is served.

    Returns
    -------
    pathlib.Path or None
        The new snapshot file; ``None`` for an in-memory store or when there is no scored run.

    Raises
    ------
    StoreError
        If the snapshot cannot be written (for example the disk is full); the current snapshot stays.
    """
    if store.path == ":memory:":
        return None
    run = _latest_run(store, run_id)
    if run is None:
        return None
    rid, as_of = run
    folder = serving_dir(store.path)
    folder.mkdir(parents=True, exist_ok=True)
    files = snapshot_files(folder)
    seq = 1 + max((int(_NAME.match(p.name).group(2)) for p in files), default=0)  # type: ignore[union-attr]
    safe_id = re.sub(r"[^0-9A-Za-z]", "", rid)[:32] or "run"
    target = folder / f"snapshot-{safe_id}-{seq:06d}.duckdb"
    tmp = folder / f".publishing-{uuid.uuid4().hex}.duckdb"
    con = store.con
    try:
        con.execute("ATTACH ? AS _sv_pub", [str(tmp)])
        try:
            _fill(store, rid, as_of)
        finally:
            con.execute("DETACH _sv_pub")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        atomic_write_text(folder / POINTER, target.name + "\n")
    except Exception as exc:
        for leftover in (tmp, Path(f"{tmp}.wal")):
            leftover.unlink(missing_ok=True)
        cause = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise StoreError(
            f"publishing run {rid} for the API failed: {cause}; the previous one stays"
        ) from None
    for old in snapshot_files(folder)[: -max(1, keep)]:
        old.unlink(missing_ok=True)
    logger.info("published run %s (as of %s) as %s", rid, as_of, target.name)
    return target


def republish(store: Store) -> Path | None:
    """After an erasure: publish the current snapshot's run again from ``store``, delete every other snapshot.

    Does nothing when no snapshot was ever published. When the published run no longer has scores (every
    customer erased), the serving folder is left with no snapshot at all.
    """
    if store.path == ":memory:":
        return None
    folder = serving_dir(store.path)
    files = snapshot_files(folder)
    if not files:
        return None
    current = current_snapshot(folder)
    run_id = None
    if current is not None and (m := _NAME.match(current.name)):
        run_id = m.group(1)
        if store.scalar("SELECT count(*) FROM _runs WHERE run_id = ?", [run_id]) == 0:
            run_id = None
    new = publish(store, run_id, keep=1)
    if new is None:
        (folder / POINTER).unlink(missing_ok=True)
    for old in snapshot_files(folder):
        if old != new:
            old.unlink(missing_ok=True)
    return new
