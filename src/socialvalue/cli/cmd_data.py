"""Data commands: create a store, load a file into it, summarise it, erase a customer."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from socialvalue.cli import app, out

StoreArg = Annotated[Path, typer.Argument(help="DuckDB store file.", show_default=False)]


@app.command("init")
def init(store: StoreArg) -> None:
    """Create an empty store with the five canonical tables.

    Example: socialvalue init shop.duckdb
    """
    from socialvalue import Store

    with Store(store) as s:
        version = s.schema_version
    out.print(f"store {store} ready (schema v{version})", markup=False, highlight=False)


@app.command("ingest")
def ingest(
    store: StoreArg,
    kind: Annotated[
        str,
        typer.Argument(
            help="Target table: customers, orders, interactions, relationships or content.",
            show_default=False,
        ),
    ],
    file: Annotated[
        Path, typer.Argument(help="CSV, TSV, Parquet, JSON or JSON Lines file.", show_default=False)
    ],
    mapping: Annotated[Path | None, typer.Option("--mapping", "-m", help="Column mapping (TOML).")] = None,
    stub_missing: Annotated[
        bool,
        typer.Option(
            "--stub-missing", help="Create stub customers for unknown customer references instead of failing."
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Load rows of erased customers; reload content already loaded.")
    ] = False,
    problems_out: Annotated[
        Path | None,
        typer.Option(
            "--problems-out",
            help="If the load fails, write every problem found to this CSV "
            "(source,row,column,value,expected,check).",
        ),
    ] = None,
) -> None:
    """Validate a file and load it into a canonical table, all or nothing.

    Every problem (file, row, column, value, what was expected) is listed at once and nothing is written
    unless the whole file is valid. Loading the same file again changes nothing; rows whose key is already
    stored are updated.

    Example: socialvalue ingest shop.duckdb orders orders.csv --mapping orders.toml --stub-missing
    """
    from socialvalue import Store
    from socialvalue.cli._progress import stage_progress
    from socialvalue.errors import SchemaError
    from socialvalue.ingest import ColumnMapping
    from socialvalue.schema import table

    table(kind)  # an unknown table is a SchemaError before the store is touched
    m = ColumnMapping.from_toml(mapping) if mapping is not None else None
    try:
        with (
            Store(store) as s,
            stage_progress(["read", "validate", "write"], title=f"{file.name}") as on_stage,
        ):
            report = s.ingest(
                kind,
                file,
                m,
                on_missing_customer="stub" if stub_missing else "reject",
                force=force,
                on_stage=on_stage,
            )
    except SchemaError as exc:
        raise _cli_problems(exc, problems_out, mapping) from None
    out.print(str(report), markup=False, highlight=False, soft_wrap=True)


def _cli_problems(exc: Exception, problems_out: Path | None, mapping: Path | None) -> Exception:
    """The failed load's error with the command-line way to act on it; every problem written if asked."""
    import csv

    problems = list(getattr(exc, "problems", []))
    notes = []
    if problems_out is not None and problems:
        fields = ("source", "row", "column", "value", "expected", "check")
        with problems_out.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
            writer.writeheader()
            writer.writerows({k: ("" if d.get(k) is None else d.get(k)) for k in fields} for d in problems)
        notes.append(f"all {len(problems):,} collected problems were written to {problems_out}")
    elif "\n  ... and " in str(exc):
        notes.append("write every problem to a CSV file with --problems-out FILE")
    checks = {d.get("check") for d in problems}
    if "reference" in checks:
        notes.append("to create stub customers for unknown ids, add --stub-missing")
    if "erased" in checks:
        notes.append("to load rows of erased customers anyway, add --force")
    if "\nfix: " in str(exc):
        where = f"in {mapping}" if mapping is not None else "in a mapping file passed with --mapping FILE"
        notes.append(f"the column mapping settings above go {where} (socialvalue doctor FILE writes one)")
    text = str(exc) + "".join(f"\n{n}" for n in notes)
    return type(exc)(text, problems)


def _quality(ti: object) -> str:
    parts = []
    nulls = ", ".join(f"{c} {n:,}" for c, n in ti.nulls.items() if n)  # type: ignore[attr-defined]
    if nulls:
        parts.append(f"nulls: {nulls}")
    for label, attr in (
        ("duplicate keys", "duplicate_keys"),
        ("negative amounts", "negative_amounts"),
        ("future timestamps", "future_timestamps"),
        ("stub customers", "stubs"),
    ):
        n = getattr(ti, attr)
        if n:
            parts.append(f"{label}: {n:,}")
    if ti.mixed_currencies:  # type: ignore[attr-defined]
        listed = ", ".join(f"{c} {k:,}" for c, k in ti.currencies.items())  # type: ignore[attr-defined]
        parts.append(f"mixed currencies: {listed} (a run needs [run] exchange_rates)")
    return "; ".join(parts) or "ok"


@app.command("info")
def info(store: StoreArg) -> None:
    """Show row counts, time ranges and data-quality figures of every table.

    Example: socialvalue info shop.duckdb
    """
    from rich.console import Console
    from rich.table import Table

    from socialvalue import Store
    from socialvalue.errors import StoreError

    if not store.exists():
        raise StoreError(f"store {str(store)!r} does not exist (create it with: socialvalue init {store})")
    with Store(store, read_only=True) as s:
        summary = s.info()
    out = Console(width=max(Console().width, 120))
    t = Table(title=str(store), title_justify="left")
    t.add_column("table")
    t.add_column("rows", justify="right")
    t.add_column("from (UTC)")
    t.add_column("to (UTC)")
    t.add_column("data quality")
    for name, ti in summary.items():
        if ti.canonical:
            first = "-" if ti.first is None else f"{ti.first:%Y-%m-%d %H:%M}"
            last = "-" if ti.last is None else f"{ti.last:%Y-%m-%d %H:%M}"
            t.add_row(name, f"{ti.rows:,}", first, last, _quality(ti))
    for name, ti in summary.items():
        if not ti.canonical and not name.startswith("_"):
            t.add_row(name, f"{ti.rows:,}", "", "", "derived")
    out.print(t)


@app.command("compact")
def compact(store: StoreArg) -> None:
    """Rewrite the store into a fresh file, so that no bytes of deleted or erased rows remain in it.

    `erase` does this itself; run it alone when an erasure reported that the rewrite failed (e.g. a full disk).

    Example: socialvalue compact shop.duckdb
    """
    import os

    from socialvalue import Store
    from socialvalue.errors import StoreError
    from socialvalue.privacy import compact_store

    if not store.exists():
        raise StoreError(f"store {str(store)!r} does not exist")
    before = os.path.getsize(store)
    with Store(store) as s:
        try:
            compact_store(s)
        except Exception as exc:
            cause = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise StoreError(f"rewriting {store} failed and it was left as it was: {cause}") from None
    out.print(
        f"{store} rewritten ({before / 1e6:.1f} MB -> {os.path.getsize(store) / 1e6:.1f} MB)", markup=False
    )


def _rewrite_reports(store: object, removed: list[tuple[str, str]]) -> list[str]:
    """Write again, from the erased store, the reports an erasure removed (one line per report)."""
    from socialvalue.errors import SocialValueError
    from socialvalue.privacy import record_report
    from socialvalue.report import ReportData, write_report

    lines = []
    for path, as_of in removed:
        try:
            write_report(ReportData.from_store(store, as_of), path)  # type: ignore[arg-type]
            record_report(store, path, as_of)  # type: ignore[arg-type]
            lines.append(f"report rewritten without the customer: {path}")
        except SocialValueError:
            lines.append(f"report removed (its scoring is gone): {path}")
    return lines


@app.command("erase")
def erase(
    store: StoreArg,
    customer_id: Annotated[
        str, typer.Argument(help="Identifier of the customer to forget.", show_default=False)
    ],
    block_future_loads: Annotated[
        bool,
        typer.Option(
            "--block-future-loads",
            help="Also when the store has no row about the id: record it, so later loads of it are refused.",
        ),
    ] = False,
) -> None:
    """Remove a customer from every table (right to erasure) and refuse later loads of them.

    The erasure log keeps only a salted hash of the id, row counts and the time. An id the store has no row
    about (usually a typo) is an error and nothing is recorded, unless --block-future-loads asks to refuse
    later loads of it anyway.

    Example: socialvalue erase shop.duckdb C00042
    """
    from socialvalue import Store
    from socialvalue.cli._progress import stage_progress
    from socialvalue.errors import StoreError, UnknownCustomerError

    if not store.exists():
        raise StoreError(f"store {str(store)!r} does not exist")
    try:
        with Store(store) as s:
            with stage_progress(1, title="erase") as on_stage, on_stage.stage("erasing"):
                report = s.erase(customer_id, block_future_loads=block_future_loads)
            rewritten = _rewrite_reports(s, report.reports_removed)
    except UnknownCustomerError as exc:
        if exc.erased_before:
            why = "it was erased before and later loads of it are already refused; nothing was changed"
        else:
            why = (
                "nothing was erased or recorded. To refuse future loads of this id on purpose, run: "
                f"socialvalue erase {store} {customer_id} --block-future-loads"
            )
        raise UnknownCustomerError(
            f"no customer {customer_id!r} in {store}: {why}", customer_id, erased_before=exc.erased_before
        ) from None
    if report.rows_removed:
        tables = ", ".join(f"{t} {n:,}" for t, n in report.tables.items())
        out.print(
            f"erased {report.rows_removed:,} rows ({tables}); {report.export_files_purged} export files "
            f"rewritten; store file rewritten; erasure id {report.erasure_id}",
            markup=False,
            highlight=False,
        )
        for line in rewritten:
            out.print(line, markup=False, highlight=False)
    else:
        out.print(
            f"no rows about {customer_id!r} in {store}; recorded as erased on purpose, so later loads of it "
            f"are refused; erasure id {report.erasure_id}",
            markup=False,
            highlight=False,
        )
    if report.export_files_purged:
        out.print(f"{report.export_files_purged} export files purged", markup=False, highlight=False)
