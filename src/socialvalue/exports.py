"""Exports of scores, actions and per-action audience lists (CSV and Parquet), optionally pseudonymized.

DuckDB stays the source of truth; an export is a copy for other tools (a CRM import, a BI tool). Every export
is recorded in ``_exports`` so that erasing a customer (:meth:`Store.erase`, which calls
:func:`socialvalue.privacy.purge_exports`) also removes their rows from files already written.

Only customers who consented to profiling appear (the feature engine excludes the others, so ``scores`` never
holds them); audience lists hold marketing actions, which the allocation gives only to customers with
``consent_marketing``. With ``pseudonymize``, ``customer_id`` is replaced by HMAC-SHA256(key, id) truncated
to 16 hex digits (:func:`socialvalue.privacy.pseudonymize`), stable across runs with the same key.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pandas as pd

from socialvalue.errors import ConfigError, StoreError
from socialvalue.privacy import pseudonymize as _pseudonymize
from socialvalue.store import Store

__all__ = ["ExportFormat", "export_results"]

logger = logging.getLogger(__name__)

ExportFormat = Literal["csv", "parquet"]


def _latest_as_of(store: Store) -> str:
    if not store.has_table("scores"):
        raise StoreError(f"store {store.path!r} has no scores yet: run `socialvalue run` first")
    value = store.scalar("SELECT max(as_of) FROM scores")
    if value is None:
        raise StoreError(f"store {store.path!r} has no scores yet: run `socialvalue run` first")
    return str(value)


def _write(store: Store, frame: pd.DataFrame, path: Path, fmt: ExportFormat) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    store.con.register("_sv_export", frame)
    try:
        opts = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER true"
        store.con.execute(f"COPY (SELECT * FROM _sv_export) TO '{path.as_posix()}' ({opts})")
    finally:
        store.con.unregister("_sv_export")
    return path


def _record(store: Store, path: Path, as_of: str, fmt: str, pseudonymized: bool) -> None:
    store.con.execute(
        "CREATE TABLE IF NOT EXISTS _exports (path VARCHAR PRIMARY KEY, as_of DATE, format VARCHAR, "
        "pseudonymized BOOLEAN, written_at TIMESTAMP)"
    )
    store.con.execute(
        "INSERT OR REPLACE INTO _exports VALUES (?, ?, ?, ?, ?)",
        [str(path.resolve()), as_of, fmt, pseudonymized, datetime.now(UTC).replace(tzinfo=None)],
    )


def export_results(
    store: Store,
    out_dir: str | Path,
    *,
    as_of: str | None = None,
    formats: Sequence[ExportFormat] = ("parquet", "csv"),
    pseudonymize: bool = False,
    key: str | bytes | None = None,
    fallback_action: str = "do_nothing",
) -> dict[str, list[Path]]:
    """Write scores, actions and one audience list per action for ``as_of`` (default: the latest scoring).

    Parameters
    ----------
    store
        The scored store.
    out_dir
        Directory to write into (created).
    as_of
        Which scoring to export; the latest when None.
    formats
        Any of ``"parquet"`` and ``"csv"``.
    pseudonymize
        Replace ``customer_id`` by its keyed hash (key from ``key`` or ``SOCIALVALUE_PSEUDONYM_KEY``).
    key
        The pseudonymization key.
    fallback_action
        The playbook's "do nothing" action, which gets no audience list.

    Returns
    -------
    dict
        ``{"scores": [...], "actions": [...], "audiences": [...]}`` paths written.
    """
    bad = [f for f in formats if f not in ("csv", "parquet")]
    if bad or not formats:
        raise ConfigError(f"export formats must be 'csv' and/or 'parquet', got {list(formats)!r}")
    as_of = as_of or _latest_as_of(store)
    out = Path(out_dir)
    scores = store.query_df("SELECT * FROM scores WHERE as_of = ? ORDER BY customer_id", [as_of])
    if scores.empty:
        raise StoreError(f"no scores for as_of {as_of} in {store.path!r}")
    actions = (
        store.query_df("SELECT * FROM actions WHERE as_of = ? ORDER BY customer_id", [as_of])
        if store.has_table("actions")
        else pd.DataFrame(columns=["customer_id", "action"])
    )
    if pseudonymize:
        mapping = dict(
            zip(scores["customer_id"], _pseudonymize(scores["customer_id"].to_numpy(), key), strict=True)
        )
        scores = scores.assign(customer_id=scores["customer_id"].map(mapping))
        actions = actions.assign(customer_id=actions["customer_id"].map(mapping))
    written: dict[str, list[Path]] = {"scores": [], "actions": [], "audiences": []}
    stamp = as_of.replace("-", "")
    for fmt in formats:
        written["scores"].append(_write(store, scores, out / f"scores_{stamp}.{fmt}", fmt))
        written["actions"].append(_write(store, actions, out / f"actions_{stamp}.{fmt}", fmt))
    cols = [
        c
        for c in (
            "customer_id",
            "action",
            "label",
            "channel",
            "cost",
            "expected_value",
            "net_value",
            "reason",
        )
        if c in actions
    ]
    for name, group in actions[actions["action"] != fallback_action].groupby("action"):
        audience = (
            group[cols].sort_values("net_value", ascending=False) if "net_value" in cols else group[cols]
        )
        written["audiences"].append(_write(store, audience, out / "audiences" / f"{name}_{stamp}.csv", "csv"))
    for paths in written.values():
        for p in paths:
            _record(store, p, as_of, p.suffix.lstrip("."), pseudonymize)
    logger.info("exported %d files to %s", sum(len(v) for v in written.values()), out)
    return written
