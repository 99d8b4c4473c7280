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
from socialvalue.schema import KINDS, TABLES

if TYPE_CHECKING:  # pragma: no cover
    from socialvalue.store import Store

__all__ = [
    "CUSTOMER_COLUMNS",
    "KEY_ENV_VAR",
    "ErasureReport",
    "erase_customer",
    "pseudonymize",
    "purge_exports",
    "record_export_subjects",
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


def subject_hash(salt: str, customer_id: str) -> str:
    """Salted SHA-256 of an id, as stored in ``_erasure_log`` (the same as SQL ``sha256(salt || ':' || id)``)."""
    return hashlib.sha256(f"{salt}:{customer_id}".encode()).hexdigest()


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _targets(store: Store) -> dict[str, tuple[str, list[str]]]:
    """Tables to search, by display name: (qualified SQL name, customer columns).

    The canonical tables first, then every other base table of the store's database, in any schema, that has
    a customer column (bookkeeping tables starting with ``_`` have none).
    """
    out = {kind: (f"main.{_q(kind)}", list(TABLES[kind].customer_columns)) for kind in KINDS}
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
            out[label] = (f"{_q(schema)}.{_q(name)}", hits)
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


def erase_customer(store: Store, customer_id: str, *, block_future_loads: bool = False) -> ErasureReport:
    """Delete every row about ``customer_id`` from every table of ``store``, atomically.

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

    Returns
    -------
    ErasureReport
        Rows removed per table. An ``_erasure_log`` entry is written, so later loads of this id are refused
        unless forced.

    Raises
    ------
    UnknownCustomerError
        If no table has a row about ``customer_id`` and ``block_future_loads`` is false; the store is left
        as it was.

    Notes
    -----
    Deleted rows disappear from every query at once; DuckDB reclaims their storage on the checkpoint run
    right after the erasure.
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
        for name, (sql_name, cols) in _targets(store).items():
            where = " OR ".join(f"CAST({_q(c)} AS VARCHAR) = $id" for c in cols)
            n = con.execute(f"DELETE FROM {sql_name} WHERE {where}", {"id": customer_id}).fetchall()[0][0]
            if n:
                counts[name] = int(n)
        if not counts and not block_future_loads:
            con.execute("ROLLBACK")
            raise _unknown(store, customer_id, digest)
        erasure_id = uuid.uuid4().hex
        con.execute(
            "INSERT INTO _erasure_log VALUES (?, timezone('UTC', now()), ?, ?, ?)",
            [erasure_id, digest, sum(counts.values()), json.dumps(counts, sort_keys=True)],
        )
        con.execute("COMMIT")
    except UnknownCustomerError:
        raise
    except BaseException:
        con.execute("ROLLBACK")
        raise
    if store.path != ":memory:":
        con.execute("CHECKPOINT")
    purged = purge_exports(store, customer_id)
    logger.info(
        "erasure %s removed %d rows from %d tables and purged %d export files",
        erasure_id, sum(counts.values()), len(counts), purged,
    )  # fmt: skip
    return ErasureReport(erasure_id, digest, sum(counts.values()), counts, purged)


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


def purge_exports(store: Store, customer_id: str, *, key: str | bytes | None = None) -> int:
    """Remove ``customer_id``'s rows from every recorded export file still on disk; return files rewritten.

    Exports are recorded in ``_exports`` by :func:`socialvalue.exports.export_results`. Pseudonymized files
    are purged when the key is available (argument or :data:`KEY_ENV_VAR`); without it the pseudonym cannot
    be linked to the person, the file is left as it is and a warning (without the id) is logged.
    """
    if not store.has_table("_exports"):
        return 0
    rows = store.con.execute("SELECT path, format, pseudonymized FROM _exports").fetchall()
    pseudo: str | None = None
    rewritten = 0
    for path_str, fmt, is_pseudo in rows:
        if not os.path.exists(path_str):
            continue
        target = customer_id
        if is_pseudo:
            if pseudo is None:
                try:
                    pseudo = pseudonymize([customer_id], key)[0]
                except ConfigError:
                    logger.warning(
                        "pseudonymized export %s not purged: no key available", os.path.basename(path_str)
                    )
                    continue
            target = pseudo
        path = path_str.replace("'", "''")
        reader = "read_parquet" if fmt == "parquet" else "read_csv"
        src = f"{reader}('{path}')"
        cols = [r[0] for r in store.con.sql(f"DESCRIBE SELECT * FROM {src}").fetchall()]
        if "customer_id" not in cols:
            continue
        hits = store.con.execute(
            f"SELECT count(*) FROM {src} WHERE customer_id::VARCHAR = ?", [target]
        ).fetchall()
        if not hits[0][0]:
            continue
        opts = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER true"
        tmp = f"{path}.purge-tmp"
        store.con.execute(
            f"COPY (SELECT * FROM {src} WHERE customer_id::VARCHAR <> ?) TO '{tmp}' ({opts})", [target]
        )
        os.replace(tmp, path_str)  # atomic: readers see the old or the new file, never half of one
        rewritten += 1
    return rewritten
