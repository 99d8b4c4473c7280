"""Load one batch into a canonical table: stage, convert, validate, then upsert in one transaction.

The steps, all in DuckDB:

1. **Idempotency** - the batch's content hash (file bytes or table values, plus kind and mapping) is looked
   up in ``_loads``; a batch already loaded (and not followed by an erasure) changes nothing.
2. **Stage** the source with DuckDB's own readers and **convert** it through SQL expressions.
3. **Validate** every rule over the whole batch; all problems are raised together.
4. **Write** in one transaction: stub customers (if asked), ``UPDATE`` rows whose key exists and whose values
   differ, ``INSERT`` rows whose key is new, and a ``_loads`` record. A failure, or a killed process, leaves
   the store as it was (DuckDB's write-ahead log only replays committed transactions).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import duckdb

from socialvalue.errors import ConfigError, SchemaError, StoreError
from socialvalue.ingest import convert, sources, validate
from socialvalue.ingest.mapping import ColumnMapping, IngestRules
from socialvalue.schema import table as canonical_table
from socialvalue.sqlsafe import ident, literal

if TYPE_CHECKING:  # pragma: no cover
    from socialvalue.store import Store

__all__ = ["LoadReport", "ingest"]

logger = logging.getLogger(__name__)

MissingPolicy = Literal["reject", "stub"]


@dataclass(frozen=True)
class LoadReport:
    """What a load did.

    Attributes
    ----------
    kind
        Target table.
    source
        File name or ``<pandas.DataFrame>``-style label.
    rows_in
        Data rows in the source.
    inserted, updated, unchanged
        Rows whose key was new; existed with other values; existed with the same values.
    duplicates_dropped
        Exact duplicate rows (same key, same values) collapsed to one.
    stubs_created
        Stub customers created for unknown references (``on_missing_customer="stub"``).
    skipped
        ``True`` when the same content had already been loaded, so nothing was done.
    load_id
        Identifier of the ``_loads`` record (of the earlier load when skipped).
    seconds
        Wall time.
    notes
        Things the user should know although the load succeeded (e.g. orders without a currency, or without
        order ids).
    derived_ids
        Order ids derived from customer, time, amount and position because the source had none.
    """

    kind: str
    source: str
    rows_in: int
    inserted: int
    updated: int
    unchanged: int
    duplicates_dropped: int = 0
    stubs_created: int = 0
    skipped: bool = False
    load_id: str = ""
    seconds: float = 0.0
    notes: tuple[str, ...] = ()
    derived_ids: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The report as a plain dict."""
        return asdict(self)

    def __str__(self) -> str:
        if self.skipped:
            return f"{self.kind} from {self.source}: already loaded ({self.rows_in:,} rows), nothing changed"
        extra = f", {self.stubs_created:,} stub customers" if self.stubs_created else ""
        line = (
            f"{self.kind} from {self.source}: {self.rows_in:,} rows in, {self.inserted:,} inserted, "
            f"{self.updated:,} updated, {self.unchanged:,} unchanged{extra} ({self.seconds:.2f} s)"
        )
        return "\n".join([line, *(f"note: {n}" for n in self.notes)])


def _mapping(mapping: ColumnMapping | dict[str, Any] | str | Path | None) -> ColumnMapping:
    if mapping is None:
        return ColumnMapping()
    if isinstance(mapping, ColumnMapping):
        return mapping
    if isinstance(mapping, dict):
        from socialvalue.config import validate_config

        return validate_config(ColumnMapping, mapping, "column mapping")
    if isinstance(mapping, str | Path):
        return ColumnMapping.from_toml(mapping)
    raise ConfigError(f"mapping must be a ColumnMapping, a dict or a TOML path, not {type(mapping).__name__}")


def _already_loaded(store: Store, kind: str, digest: str) -> tuple[str, int, bool] | None:
    """The latest earlier load of this content: (load id, rows, whether an erasure happened since).

    Content loaded before is never applied again, so an old job cannot revert newer values. After an
    erasure it is still validated again (and refused if it names an erased customer), but not rewritten.
    """
    rows = store.con.execute(
        """
        SELECT l.load_id, l.rows_in,
               EXISTS (SELECT 1 FROM _erasure_log e WHERE e.erased_at >= l.loaded_at) AS erased_since
        FROM _loads l
        WHERE l.kind = ? AND l.content_hash = ?
        ORDER BY l.loaded_at DESC LIMIT 1
        """,
        [kind, digest],
    ).fetchall()
    return (rows[0][0], int(rows[0][1]), bool(rows[0][2])) if rows else None


def _skipped(kind: str, label: str, earlier: tuple[str, int, bool], t0: float) -> LoadReport:
    rows = earlier[1]
    return LoadReport(
        kind, label, rows, 0, 0, rows, skipped=True, load_id=earlier[0], seconds=time.perf_counter() - t0
    )


def _digest(kind: str, content: str, m: ColumnMapping) -> str:
    head = json.dumps({"kind": kind, "content": content, "mapping": m.fingerprint()}, sort_keys=True)
    return hashlib.sha256(head.encode()).hexdigest()


def ingest(
    store: Store,
    kind: str,
    source: Any,
    mapping: ColumnMapping | dict[str, Any] | str | Path | None = None,
    *,
    on_missing_customer: MissingPolicy = "reject",
    force: bool = False,
    rules: IngestRules | None = None,
    on_stage: Callable[[str, str], None] | None = None,
) -> LoadReport:
    """Validate ``source`` and upsert it into the canonical table ``kind`` (see :meth:`socialvalue.Store.ingest`).

    ``on_stage(name, "start"|"end")`` is called around the stages ``read``, ``validate`` and ``write`` (for
    progress displays).
    """
    t0 = time.perf_counter()
    stage = on_stage or (lambda name, event: None)
    tbl = canonical_table(kind)
    if on_missing_customer not in ("reject", "stub"):
        raise ConfigError(f"on_missing_customer must be 'reject' or 'stub', not {on_missing_customer!r}")
    if store.read_only:
        raise StoreError(f"cannot load into {kind}: store {store.path!r} is open read-only")
    m = _mapping(mapping)
    rules = rules or IngestRules()
    con = store.con
    digest = None
    earlier: tuple[str, int, bool] | None = None
    if isinstance(source, str | Path) and Path(source).is_file():
        digest = _digest(kind, sources.file_hash(Path(source)), m)
        earlier = None if force else _already_loaded(store, kind, digest)
        if earlier is not None and not earlier[2]:
            logger.info("load of %s into %s skipped: same content already loaded", Path(source).name, kind)
            return _skipped(kind, Path(source).name, earlier, t0)
    staged = None
    done = False
    _refuse_open_transaction(con, kind)
    con.execute(f"SET TimeZone = {literal(m.timezone)}")
    try:
        # Staging reads the source into temporary objects (not store content), before the transaction:
        # inside one, a new temporary table's rowid is not its row position.
        stage("read", "start")
        staged = sources.stage(con, source, delimiter=m.delimiter, header=m.header, encoding=m.encoding)
        stage("read", "end")
        if digest is None:
            digest = _digest(kind, staged.content_hash, m)
            earlier = None if force else _already_loaded(store, kind, digest)
            if earlier is not None and not earlier[2]:
                done = True
                return _skipped(kind, staged.label, earlier, t0)
        # Checks and writes are one transaction: the checks see the same customers the writes do, and a
        # failure or a killed process leaves the store as it was.
        con.execute("BEGIN TRANSACTION")
        force_present = ("is_stub",) if kind == "customers" else ()
        try:
            p = convert.plan(
                tbl, staged, m, force_present=force_present, vocabulary=rules.vocabulary, con=con
            )
            stage("validate", "start")
            convert.build_view(con, p, staged)
            outcome = validate.validate(
                con, p, staged.label, rules, reject_missing=on_missing_customer == "reject", force=force
            )
        except duckdb.Error as exc:  # e.g. a nested source column that no cast turns into the canonical type
            raise SchemaError(
                f"{staged.label}: cannot convert the batch for {kind}: {_first_line(exc)}"
            ) from None
        if earlier is not None:  # loaded before an erasure: re-checked above, never re-applied
            stage("validate", "end")
            return _skipped(kind, staged.label, earlier, t0)  # the finally block rolls back
        logger.info("load into %s: %d rows validated, writing", kind, outcome.rows)
        try:
            stage("validate", "end")
            stage("write", "start")
            report = _write(store, p, staged.label, digest, outcome, stub=on_missing_customer == "stub")
            stage("write", "end")
            con.execute("COMMIT")
            done = True
        except duckdb.Error as exc:
            raise StoreError(
                f"writing {kind} from {staged.label} failed and was rolled back (nothing was written): "
                f"{_first_line(exc)}"
            ) from None
    finally:
        if not done:
            _rollback(con)
        con.execute("SET TimeZone = 'UTC'")
        sources.drop_staged(con, staged)
    notes: tuple[str, ...] = ()
    derived = outcome.rows if "order_id" in p.derived else 0
    if derived:
        notes += (convert.derived_ids_note(derived),)
    if kind == "orders" and "currency" not in p.sources:
        notes += (
            f"{staged.label} has no currency column: amounts are stored with currency XXX (ISO 4217's 'no "
            'currency\') and reported so; to name it, add default_currency = "EUR" (say) to the mapping and '
            "load again",
        )
    changes = {"seconds": time.perf_counter() - t0, "notes": notes, "derived_ids": derived}
    report = LoadReport(**{**report.as_dict(), **changes})
    logger.info("%s", report)
    return report


def _refuse_open_transaction(con: duckdb.DuckDBPyConnection, kind: str) -> None:
    """A load needs its own transaction; DuckDB has no nested ones."""
    try:
        con.execute("BEGIN TRANSACTION")
    except duckdb.Error as exc:
        raise StoreError(
            f"cannot load into {kind}: the store's connection is inside a transaction ({_first_line(exc)}); "
            "commit or roll it back first"
        ) from None
    con.execute("COMMIT")


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("ROLLBACK")
    except duckdb.TransactionException:  # the failure happened before BEGIN: nothing to roll back
        pass


def _first_line(exc: BaseException) -> str:
    """DuckDB's reason in one line, without the statement it echoes (no SQL or internal names)."""
    return sources.clean_error(exc)


def _write(
    store: Store, p: convert.Plan, label: str, digest: str, outcome: validate.Outcome, *, stub: bool
) -> LoadReport:
    con = store.con
    tbl = p.table
    q = ident
    keys = tbl.primary_key
    present = [c for c in p.present]
    data_cols = [*present, "extra"]
    if outcome.exact_duplicates:
        body = f"SELECT DISTINCT ON ({', '.join(q(k) for k in keys)}) {', '.join(q(c) for c in data_cols)} FROM {convert.CONV}"
    else:
        body = f"SELECT {', '.join(q(c) for c in data_cols)} FROM {convert.CONV}"
    con.execute(f"CREATE OR REPLACE TEMP VIEW _sv_write AS {body}")
    target = q(tbl.name)
    match = " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in keys)
    non_key = [c for c in present if c not in keys]
    update_extra = bool(p.extra_columns)
    set_cols = non_key + (["extra"] if update_extra else [])
    insert_cols = [*tbl.column_names, "extra"]
    select_items = []
    for c in tbl.columns:
        if c.name in present:
            select_items.append(f"s.{q(c.name)}")
        else:
            select_items.append(f"{c.default or 'NULL'}::{c.sql_type}")
    select_items.append('s."extra"')
    load_id = uuid.uuid4().hex
    # Runs inside the load's transaction (see ingest): stubs, updates, inserts and the _loads record.
    stubs = 0
    if stub:
        fk_cols = [fk.column for fk in tbl.foreign_keys if fk.column in present]
        if fk_cols:
            ids = " UNION ".join(
                f"SELECT {q(c)} AS id FROM _sv_write WHERE {q(c)} IS NOT NULL" for c in fk_cols
            )
            stubs = con.execute(
                "INSERT INTO customers (customer_id, consent_marketing, consent_profiling, is_stub) "
                f"SELECT DISTINCT id, FALSE, TRUE, TRUE FROM ({ids}) m "
                "WHERE NOT (m.id IN (SELECT customer_id FROM customers))"
            ).fetchall()[0][0]
    existing = con.execute(f"SELECT count(*) > 0 FROM {target}").fetchall()[0][0]
    updated = 0
    if existing and set_cols:
        differs = " OR ".join(
            f"t.{q(c)} IS DISTINCT FROM s.{q(c)}"
            if c != "extra"
            else 'CAST(t."extra" AS VARCHAR) IS DISTINCT FROM CAST(s."extra" AS VARCHAR)'
            for c in set_cols
        )
        assignments = ", ".join(f"{q(c)} = s.{q(c)}" for c in set_cols)
        updated = con.execute(
            f"UPDATE {target} AS t SET {assignments} FROM _sv_write AS s WHERE {match} AND ({differs})"
        ).fetchall()[0][0]
    if not existing:
        anti = ""
    elif len(keys) == 1:
        anti = f" WHERE NOT (s.{q(keys[0])} IN (SELECT {q(keys[0])} FROM {target}))"
    else:
        anti = f" WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {match})"
    inserted = con.execute(
        f"INSERT INTO {target} ({', '.join(q(c) for c in insert_cols)}) "
        f"SELECT {', '.join(select_items)} FROM _sv_write AS s{anti}"
    ).fetchall()[0][0]
    kept = outcome.rows - outcome.exact_duplicates
    unchanged = kept - inserted - updated
    con.execute(
        "INSERT INTO _loads (load_id, kind, source, content_hash, rows_in, rows_inserted, rows_updated, "
        "loaded_at, rows_unchanged, stubs_created) VALUES (?, ?, ?, ?, ?, ?, ?, timezone('UTC', now()), ?, ?)",
        [load_id, tbl.name, label, digest, outcome.rows, inserted, updated, unchanged, stubs],
    )
    return LoadReport(
        kind=tbl.name,
        source=label,
        rows_in=outcome.rows,
        inserted=int(inserted),
        updated=int(updated),
        unchanged=int(unchanged),
        duplicates_dropped=outcome.exact_duplicates,
        stubs_created=int(stubs),
        load_id=load_id,
    )
