"""Privacy: erasure of a customer ("right to be forgotten") and keyed pseudonymization of identifiers.

Consent lives in ``customers.consent_marketing`` (may receive marketing; missing means no) and
``customers.consent_profiling`` (may be scored individually; missing means yes). This module:

* :func:`erase_customer` (``Store.erase``) deletes a customer's rows from every table in one transaction and
  writes an ``_erasure_log`` entry that holds no personal data: a salted SHA-256 of the id (salt in
  ``_store_meta``, never exported), row counts per table and a timestamp. Loads are checked against these
  hashes, so an erased customer is not silently brought back. An id with no row anywhere is refused
  (:class:`~socialvalue.errors.UnknownCustomerError`: usually a typo) unless ``block_future_loads`` asks to
  record it anyway.
* :func:`pseudonymize` replaces identifiers by a keyed HMAC-SHA256, stable for one key, for exports and
  sharing.
* :func:`marketing_consent` says which customers may receive marketing now; control groups
  (:mod:`socialvalue.experiments`) assign and export only those, and an erasure deletes their
  ``_assignments`` rows like every other row about them.

Nothing here logs identifiers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from socialvalue.errors import ConfigError, StoreError, UnknownCustomerError
from socialvalue.published import republish
from socialvalue.schema import KINDS, TABLES
from socialvalue.sqlsafe import ident

if TYPE_CHECKING:  # pragma: no cover
    from socialvalue.store import Store

__all__ = [
    "CUSTOMER_COLUMNS",
    "ERASURE_PLACES",
    "KEY_ENV_VAR",
    "ErasureReport",
    "compact_store",
    "erase_customer",
    "marketing_consent",
    "pseudonym_key",
    "pseudonymize",
    "purge_exports",
    "purge_reports",
    "record_export",
    "record_export_subjects",
    "record_report",
    "subject_hash",
]

logger = logging.getLogger(__name__)

KEY_ENV_VAR = "SOCIALVALUE_PSEUDONYM_KEY"

#: Column names that identify a customer, in canonical and in derived tables.
CUSTOMER_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys(c for kind in KINDS for c in TABLES[kind].customer_columns)
)


@dataclass(frozen=True)
class ErasureReport:
    """What an erasure removed (no personal data: the subject is a salted hash)."""

    erasure_id: str
    subject_hash: str
    rows_removed: int
    tables: dict[str, int] = field(default_factory=dict)
    export_files_purged: int = 0
    reports_removed: list[tuple[str, str]] = field(default_factory=list)


def subject_hash(salt: str, customer_id: str) -> str:
    """Salted SHA-256 of an id, as stored in ``_erasure_log`` (the same as SQL ``sha256(salt || ':' || id)``)."""
    return hashlib.sha256(f"{salt}:{customer_id}".encode()).hexdigest()


def _targets(store: Store) -> dict[str, tuple[str, str, list[str]]]:
    """Tables to search, by display name: (schema, table, customer columns).

    The canonical tables first, then every other base table of the store's database, in any schema, that has
    a customer column (bookkeeping tables starting with ``_`` have none).
    """
    out = {kind: ("main", kind, list(TABLES[kind].customer_columns)) for kind in KINDS}
    rows = store.con.execute(
        """
        SELECT t.schema_name, t.table_name, list(c.column_name ORDER BY c.column_index)
        FROM duckdb_tables() t
        JOIN duckdb_columns() c ON c.table_oid = t.table_oid
        WHERE NOT t.temporary AND t.database_name = current_database()
        GROUP BY ALL ORDER BY 1, 2
        """
    ).fetchall()
    for schema, name, cols in rows:
        if schema == "main" and name in out:
            continue
        hits = [c for c in cols if c in CUSTOMER_COLUMNS]
        if hits:
            label = name if schema == "main" else f"{schema}.{name}"
            out[label] = (schema, name, hits)
    return out


def _unknown(store: Store, customer_id: str, digest: str) -> UnknownCustomerError:
    """The error for an id with no row anywhere (erased before, or never loaded: usually a typo)."""
    erased_before = store.con.execute(
        "SELECT count(*) FROM _erasure_log WHERE subject_hash = ?", [digest]
    ).fetchall()[0][0]
    if erased_before:
        why = "it was erased before and later loads of it are already refused; nothing was changed"
    else:
        why = (
            "nothing was erased or recorded (to refuse future loads of this id anyway, erase it with "
            "block_future_loads=True)"
        )
    return UnknownCustomerError(
        f"no customer {customer_id!r} in {store.path}: {why}", customer_id, erased_before=bool(erased_before)
    )


#: Every place that can hold a customer, walked by :func:`erase_customer` in this order.
ERASURE_PLACES: tuple[str, ...] = (
    "canonical tables: rows whose customer columns name the customer (customers, orders, interactions as "
    "actor or target, relationships either side, content as author)",
    "other people's interactions on the customer's content: content_id set to NULL",
    "every other table with a customer column (scores, actions, feature tables, the control-group "
    "assignments in _assignments, ...)",
    "JSON and text of bookkeeping tables (_runs diagnostics and parameters) and the extra JSON of every "
    'canonical table: the quoted id replaced by "(erased)"',
    "export files recorded in _exports (scores, actions, audiences, feature tables; pseudonymized ones "
    "included, found through _export_subjects without the key): rewritten without the customer's rows",
    "HTML reports recorded in _reports: deleted (the CLI writes them again from the store)",
    "snapshots published for the REST API (STORE.serving/): the current run published again from the erased "
    "store, every older snapshot deleted",
    "the store file: rewritten into a new file and swapped in atomically, so no bytes of deleted rows remain",
)

_ERASED = "(erased)"


def marketing_consent(store: Store, customer_ids: Iterable[Any]) -> Any:
    """Whether each customer may receive marketing now: ``customers.consent_marketing`` is TRUE.

    Missing consent means no, and so does an id the store has no customer for (erased, or never loaded).

    Parameters
    ----------
    store
        The store whose ``customers`` table holds the consents.
    customer_ids
        The customers to check, in any order (converted with ``str``).

    Returns
    -------
    numpy.ndarray of bool
        One value per id, in the order given.
    """
    import numpy as np
    import pyarrow as pa

    ids = [str(c) for c in customer_ids]
    if not ids:
        return np.zeros(0, dtype=bool)
    asked = pa.table({"customer_id": pa.array(ids, pa.string())})
    store.con.register("_sv_consent_ids", asked)
    try:
        yes = {
            r[0]
            for r in store.con.execute(
                "SELECT c.customer_id FROM customers c SEMI JOIN _sv_consent_ids i USING (customer_id) "
                "WHERE c.consent_marketing IS TRUE"
            ).fetchall()
        }
    finally:
        store.con.unregister("_sv_consent_ids")
    return np.fromiter((c in yes for c in ids), dtype=bool, count=len(ids))


def record_report(store: Store, path: str, as_of: str) -> None:
    """Register an HTML report written from ``store``, so that an erasure can remove or rewrite it."""
    store.con.execute(
        "CREATE TABLE IF NOT EXISTS _reports (path VARCHAR PRIMARY KEY, as_of DATE, written_at TIMESTAMP)"
    )
    store.con.execute(
        "INSERT OR REPLACE INTO _reports VALUES (?, ?, timezone('UTC', now()))", [str(path), str(as_of)]
    )


def _json_text_columns(store: Store) -> list[tuple[str, str, str]]:
    """(schema, table, column) of every JSON column, and every text column of bookkeeping tables."""
    rows = store.con.execute(
        """
        SELECT t.schema_name, t.table_name, c.column_name, c.data_type
        FROM duckdb_tables() t JOIN duckdb_columns() c ON c.table_oid = t.table_oid
        WHERE NOT t.temporary AND t.database_name = current_database()
          AND (c.data_type = 'JSON' OR (starts_with(t.table_name, '_') AND c.data_type = 'VARCHAR'))
          AND t.table_name NOT IN ('_erasure_log', '_store_meta', '_export_subjects', '_schema_version')
        ORDER BY 1, 2, 3
        """
    ).fetchall()
    return [(sch, tab, col) for sch, tab, col, _ in rows if col not in CUSTOMER_COLUMNS]


def _scrub_json(store: Store, customer_id: str) -> int:
    """Replace the customer's id, as a JSON string, in every JSON/bookkeeping text column; rows changed."""
    quoted = json.dumps(customer_id)
    total = 0
    for schema, table, col in _json_text_columns(store):
        n = store.con.execute(
            f"UPDATE {ident(schema)}.{ident(table)} SET {ident(col)} = replace(CAST({ident(col)} AS VARCHAR), $q, $r) "
            f"WHERE contains(CAST({ident(col)} AS VARCHAR), $q)",
            {"q": quoted, "r": json.dumps(_ERASED)},
        ).fetchall()[0][0]
        total += int(n)
    return total


def _rollback(con: Any) -> None:
    try:
        con.execute("ROLLBACK")
    except Exception:
        pass


def _cause(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def erase_customer(
    store: Store, customer_id: str, *, block_future_loads: bool = False, compact: bool = True
) -> ErasureReport:
    """Forget ``customer_id``: every place in :data:`ERASURE_PLACES`, then rewrite the store file.

    Parameters
    ----------
    store
        An open, writable store.
    customer_id
        The customer to forget.
    block_future_loads
        Only matters when no table has a row about ``customer_id``: record the erasure anyway, so that later
        loads of this id are refused. Without it such an id (usually a typo) is an error and nothing is
        written.
    compact
        Rewrite the store into a new file afterwards (default), so that no bytes of the deleted rows remain
        in it (DuckDB keeps deleted rows' bytes in place, even after a checkpoint).

    Returns
    -------
    ErasureReport
        Rows removed per table, export files rewritten and reports removed (``reports_removed``: their
        paths and scoring dates, so the caller can write them again). An ``_erasure_log`` entry (a salted
        hash, counts, time) makes later loads of this id be refused unless forced.

    Raises
    ------
    UnknownCustomerError
        If no table has a row about ``customer_id`` and ``block_future_loads`` is false; the store is left
        as it was.
    StoreError
        If a step fails (for example the disk is full): the message names the cause; the database changes
        are rolled back as one transaction.
    """
    if not isinstance(customer_id, str) or not customer_id:
        raise StoreError("erase needs a non-empty customer id (a string)")
    if store.read_only:
        raise StoreError(f"cannot erase: store {store.path!r} is open read-only")
    con = store.con
    salt = con.execute("SELECT value FROM _store_meta WHERE key = 'erasure_salt'").fetchall()[0][0]
    digest = subject_hash(salt, customer_id)
    counts: dict[str, int] = {}
    con.execute("BEGIN TRANSACTION")
    try:
        nulled = con.execute(
            "UPDATE interactions SET content_id = NULL WHERE content_id IN "
            "(SELECT content_id FROM content WHERE author_id = ?) AND actor_id <> ?",
            [customer_id, customer_id],
        ).fetchall()[0][0]
        for name, (schema, table, cols) in _targets(store).items():
            n = con.execute(
                f"DELETE FROM {ident(schema)}.{ident(table)} WHERE "
                f"{' OR '.join(f'CAST({ident(c)} AS VARCHAR) = $id' for c in cols)}",
                {"id": customer_id},
            ).fetchall()[0][0]
            if n:
                counts[name] = int(n)
        if not counts and not block_future_loads:
            _rollback(con)
            raise _unknown(store, customer_id, digest)
        if nulled:
            counts["interactions (content references)"] = int(nulled)
        scrubbed = _scrub_json(store, customer_id)
        if scrubbed:
            counts["run records and JSON"] = scrubbed
        erasure_id = uuid.uuid4().hex
        con.execute(
            "INSERT INTO _erasure_log VALUES (?, timezone('UTC', now()), ?, ?, ?)",
            [erasure_id, digest, sum(counts.values()), json.dumps(counts, sort_keys=True)],
        )
        con.execute("COMMIT")
    except UnknownCustomerError:
        raise
    except Exception as exc:
        _rollback(con)
        raise StoreError(f"erasure failed and was rolled back (nothing was erased): {_cause(exc)}") from None
    try:
        purged = purge_exports(store, customer_id, subject=digest)
        reports = purge_reports(store)
        republish(store)
    except OSError as exc:
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        raise StoreError(
            f"the customer was erased from the store, but cleaning the files it wrote failed: "
            f"{exc.strerror or _cause(exc)}{where}; fix the cause and erase again with --block-future-loads"
        ) from None
    if compact:
        try:
            compact_store(store)
        except Exception as exc:
            raise StoreError(
                f"the customer was erased from every table, but rewriting the store file failed: {_cause(exc)}; "
                "the store is intact, and the deleted rows' bytes stay in the file until `socialvalue compact` "
                "succeeds"
            ) from None
    logger.info(
        "erasure %s removed %d rows from %d places, rewrote %d export files and removed %d reports",
        erasure_id, sum(counts.values()), len(counts), purged, len(reports),
    )  # fmt: skip
    return ErasureReport(erasure_id, digest, sum(counts.values()), counts, purged, reports)


def purge_reports(store: Store) -> list[tuple[str, str]]:
    """Delete every report registered in ``_reports``; return their (path, scoring date) to write again.

    A report shows individual customers (top lists, the network picture); after an erasure every earlier
    report may name the erased customer, so all are removed and their registrations dropped.
    """
    if not store.has_table("_reports"):
        return []
    rows = store.con.execute("SELECT path, CAST(as_of AS VARCHAR) FROM _reports ORDER BY path").fetchall()
    removed = []
    for path, as_of in rows:
        try:
            os.remove(path)
            removed.append((path, as_of))
        except FileNotFoundError:
            pass
    store.con.execute("DELETE FROM _reports")
    return removed


def compact_store(store: Store) -> None:
    """Rewrite the store into a fresh file and swap it in atomically (no bytes of deleted rows survive).

    DuckDB leaves a deleted row's bytes in its blocks until they are reused, even after ``CHECKPOINT``; a
    copy holds only live rows. The copy is written beside the store (``<file>.compact``), then renamed over
    it; a crash before the rename leaves the old store intact (and a stale copy, removed next time).
    """
    if store.path == ":memory:":
        return
    path = store.path
    tmp = f"{path}.compact"
    for leftover in (tmp, f"{tmp}.wal"):
        if os.path.exists(leftover):
            os.remove(leftover)
    con = store.con
    con.execute("CHECKPOINT")
    db = con.execute("SELECT current_database()").fetchall()[0][0]
    try:
        con.execute("ATTACH ? AS _sv_compact", [tmp])
        try:
            con.execute(f"COPY FROM DATABASE {ident(db)} TO _sv_compact")
        finally:
            con.execute("DETACH DATABASE IF EXISTS _sv_compact")
        store._reopen_after(lambda: os.replace(tmp, path))
    finally:
        for leftover in (tmp, f"{tmp}.wal"):
            if os.path.exists(leftover):
                os.remove(leftover)


def _key(key: str | bytes | None) -> bytes:
    if key is None:
        key = os.environ.get(KEY_ENV_VAR)
        if not key:
            raise ConfigError(
                f"pseudonymize needs a key: pass key=... or set the environment variable {KEY_ENV_VAR}"
            )
    raw = key.encode() if isinstance(key, str) else bytes(key)
    if len(raw) < 16:
        raise ConfigError("the pseudonymization key must be at least 16 bytes long")
    return raw


def pseudonym_key(key: str | bytes | None = None) -> bytes:
    """The pseudonymization key: ``key``, else the environment variable ``SOCIALVALUE_PSEUDONYM_KEY``.

    Raises
    ------
    ConfigError
        If there is none, or it is shorter than 16 bytes.
    """
    return _key(key)


def _hmac_pads(key: bytes) -> tuple[Any, Any]:
    """SHA-256 states after the inner and outer HMAC key pads (RFC 2104), copied per id.

    Same result as :func:`hmac.digest`, about twice as fast for many short messages because the key is
    processed once instead of per call.
    """
    block = 64  # SHA-256 block size in bytes
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    return inner, outer


def pseudonymize(ids: Iterable[Any], key: str | bytes | None = None, *, length: int = 16) -> Any:
    r"""Replace identifiers by a keyed hash: the first ``length`` hex digits of HMAC-SHA256(key, id).

    .. math::

        \operatorname{pseudo}(x) = \operatorname{hex}\big(\mathrm{HMAC}_{\mathrm{SHA256}}(k, \mathrm{utf8}(x))\big)_{1..\ell}

    The same key gives the same pseudonym in every run and on every machine, so exports can be joined
    with each other but not with the raw ids without the key. Sixteen hex digits (64 bits) make an accidental
    collision among a million ids about :math:`n^2 / 2^{65} \approx 3 \cdot 10^{-8}` likely.

    Parameters
    ----------
    ids
        Identifiers (converted with ``str``); ``None``/NaN stay missing. A pandas Series gives a Series with
        the same index, a NumPy array an object array, anything else a list.
    key
        Secret key (at least 16 bytes); defaults to the environment variable ``SOCIALVALUE_PSEUDONYM_KEY``.
    length
        Hex digits kept, 8 to 64.

    References
    ----------
    .. [1] Krawczyk, Bellare, Canetti (1997). HMAC: Keyed-Hashing for Message Authentication. RFC 2104.

    Examples
    --------
    >>> pseudonymize(["c1", "c2", None], key="a key of sixteen+ bytes")
    ['b522b56d87a1087c', '1e2b7682986d3d3f', None]
    """
    if not 8 <= length <= 64:
        raise ConfigError(f"length must be between 8 and 64 hex digits, not {length}")
    inner, outer = _hmac_pads(_key(key))

    def one(x: Any) -> str | None:
        if x is None or (isinstance(x, float) and x != x):
            return None
        i = inner.copy()
        i.update(str(x).encode())
        o = outer.copy()
        o.update(i.digest())
        return o.hexdigest()[:length]

    module = type(ids).__module__
    if module.startswith("pandas"):
        import pandas as pd

        if isinstance(ids, pd.Series):
            return pd.Series([one(x) for x in ids.tolist()], index=ids.index, name=ids.name, dtype=object)
    if module.startswith("numpy"):
        import numpy as np

        return np.array([one(x) for x in ids.tolist()], dtype=object)  # type: ignore[attr-defined]
    if module.startswith("pyarrow"):
        ids = ids.to_pylist()  # type: ignore[attr-defined]
    return [one(x) for x in ids]


def record_export(
    store: Store, path: str, fmt: str, *, as_of: str | None = None, pseudonymized: bool = False
) -> None:
    """Register a file written from ``store`` that holds customer rows, so that an erasure rewrites it."""
    store.con.execute(
        "CREATE TABLE IF NOT EXISTS _exports (path VARCHAR PRIMARY KEY, as_of DATE, format VARCHAR, "
        "pseudonymized BOOLEAN, written_at TIMESTAMP)"
    )
    store.con.execute(
        "INSERT OR REPLACE INTO _exports VALUES (?, ?, ?, ?, timezone('UTC', now()))",
        [str(path), as_of, fmt, pseudonymized],
    )


def record_export_subjects(store: Store, path: str, ids: Iterable[Any], cells: Iterable[Any]) -> None:
    """Record which customers an export file holds, so that erasure can remove them without any key.

    For each row of the file's ``customer_id`` column, ``ids`` is the customer's real id and ``cells`` the
    exact text written in the file (the id, its pseudonym, or a neutralised spreadsheet cell). The store keeps
    only the salted hash of the id (as ``_erasure_log`` does) beside the cell, in ``_export_subjects``: it adds
    nothing an export recipient could use (they never see the store), and a later erasure finds the rows of a
    pseudonymized file without the pseudonymization key.

    Parameters
    ----------
    store
        The store the export was made from (writable).
    path
        The export file (as recorded in ``_exports``).
    ids, cells
        Parallel sequences: the real customer id and the value written in the file, per row.
    """
    import pandas as pd

    salt = store.con.execute("SELECT value FROM _store_meta WHERE key = 'erasure_salt'").fetchall()[0][0]
    frame = pd.DataFrame({"customer_id": list(ids), "cell": [None if c is None else str(c) for c in cells]})
    frame = frame.dropna().drop_duplicates()
    store.con.execute(
        "CREATE TABLE IF NOT EXISTS _export_subjects (path VARCHAR NOT NULL, subject_hash VARCHAR NOT NULL, "
        "cell VARCHAR NOT NULL)"
    )
    store.con.register("_sv_subjects", frame)
    try:
        store.con.execute("DELETE FROM _export_subjects WHERE path = ?", [str(path)])
        store.con.execute(
            "INSERT INTO _export_subjects SELECT ?, sha256(? || ':' || CAST(customer_id AS VARCHAR)), cell "
            "FROM _sv_subjects",
            [str(path), salt],
        )
    finally:
        store.con.unregister("_sv_subjects")


def _rewrite_csv(path: str, drop: set[str]) -> bool:
    """Rewrite a CSV export without the rows whose ``customer_id`` cell is in ``drop``; whether any was."""
    import csv

    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or "customer_id" not in header:
            return False
        i = header.index("customer_id")
        rows = list(reader)
    kept = [r for r in rows if not (len(r) > i and r[i] in drop)]
    if len(kept) == len(rows):
        return False
    tmp = f"{path}.purge-tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(kept)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)  # atomic: readers see the old or the new file, never half of one
    return True


def _rewrite_parquet(path: str, drop: set[str]) -> bool:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    if "customer_id" not in table.column_names:
        return False
    ids = pc.cast(table["customer_id"], pa.string())
    hit = pc.fill_null(pc.is_in(ids, value_set=pa.array(sorted(drop), pa.string())), False)
    if not pc.any(hit).as_py():
        return False
    tmp = f"{path}.purge-tmp"
    pq.write_table(table.filter(pc.invert(hit)), tmp, compression="zstd")
    os.replace(tmp, path)
    return True


def purge_exports(
    store: Store, customer_id: str, *, subject: str | None = None, key: str | bytes | None = None
) -> int:
    """Remove ``customer_id``'s rows from every recorded export file still on disk; return files rewritten.

    Exports are recorded in ``_exports``, and the cells each file holds for each customer in
    ``_export_subjects`` (:func:`record_export_subjects`), so pseudonymized files are purged without the key.
    A pseudonymized file written before such records existed is purged with the key when it is available,
    and deleted otherwise (it cannot be checked). No path is put into SQL: files are read and written with
    Python's csv module and pyarrow, and replaced atomically.
    """
    if not store.has_table("_exports"):
        return 0
    con = store.con
    if subject is None:
        salt = con.execute("SELECT value FROM _store_meta WHERE key = 'erasure_salt'").fetchall()[0][0]
        subject = subject_hash(salt, customer_id)
    recorded: dict[str, set[str]] = {}
    has_subjects = store.has_table("_export_subjects")
    if has_subjects:
        for path, cell in con.execute(
            "SELECT path, cell FROM _export_subjects WHERE subject_hash = ?", [subject]
        ).fetchall():
            recorded.setdefault(path, set()).add(cell)
        known = {r[0] for r in con.execute("SELECT DISTINCT path FROM _export_subjects").fetchall()}
    else:
        known = set()
    rows = con.execute("SELECT path, format, pseudonymized FROM _exports ORDER BY path").fetchall()
    rewritten = 0
    pseudo: str | None = None
    for path, fmt, is_pseudo in rows:
        if not os.path.isfile(path):
            continue
        if path in known:
            drop = recorded.get(path, set())
        elif is_pseudo:
            if pseudo is None:
                try:
                    pseudo = pseudonymize([customer_id], key)[0]
                except ConfigError:
                    os.remove(path)  # unrecorded and no key: it cannot be checked, so it goes
                    logger.warning(
                        "pseudonymized export %s deleted: no record of its rows", os.path.basename(path)
                    )
                    rewritten += 1
                    continue
            drop = {pseudo, "'" + pseudo}
        else:
            drop = {customer_id, "'" + customer_id}
        if drop and (_rewrite_parquet if fmt == "parquet" else _rewrite_csv)(path, drop):
            rewritten += 1
    if has_subjects:
        con.execute("DELETE FROM _export_subjects WHERE subject_hash = ?", [subject])
    return rewritten
