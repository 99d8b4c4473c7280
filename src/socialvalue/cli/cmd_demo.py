"""``socialvalue demo``: generate the demo data set, write it as Parquet and load it into a store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from socialvalue.cli import app, out


@app.command()
def demo(
    customers: Annotated[int, typer.Option("--customers", "-n", min=2, help="Number of customers.")] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same data).")] = 7,
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for Parquet files and the store.")
    ] = Path("demo_output"),
    config: Annotated[
        Path | None,
        typer.Option("--config", help="TOML of generator parameters (socialvalue.demo.DemoConfig)."),
    ] = None,
    load: Annotated[bool, typer.Option("--load/--no-load", help="Load into DIR/socialvalue.duckdb.")] = True,
) -> None:
    """Generate a realistic demo shop with a social layer and known ground truth.

    Writes one Parquet file per canonical table, the ground truth under DIR/truth/, and loads the tables
    into the store DIR/socialvalue.duckdb (replacing a store already there).

    Example: socialvalue demo --customers 20000 --seed 7 --out demo_output
    """
    import time

    from rich.table import Table

    from socialvalue.cli._progress import stage_progress
    from socialvalue.config import load_toml
    from socialvalue.demo import DemoConfig, generate
    from socialvalue.schema import KINDS

    cfg = load_toml(config, DemoConfig) if config is not None else DemoConfig()
    stages = ["simulate", "write Parquet", *([f"load {kind}" for kind in KINDS] if load else [])]
    started = time.perf_counter()
    store_path = out_dir / "socialvalue.duckdb"
    with stage_progress(stages, title=f"demo ({customers:,} customers, seed {seed})") as on_stage:
        with on_stage.stage("simulate"):
            data = generate(n_customers=customers, seed=seed, config=cfg)
        with on_stage.stage("write Parquet"):
            paths = data.write(out_dir)
        if load:
            from socialvalue.ingest.load import ingest
            from socialvalue.store import Store

            for stale in (store_path, store_path.with_name(store_path.name + ".wal")):
                stale.unlink(missing_ok=True)
            with Store(store_path) as store:
                for kind in KINDS:  # customers first: the other tables reference them
                    with on_stage.stage(f"load {kind}"):
                        if kind in data.tables:
                            ingest(store, kind, data.tables[kind])
                counts = store.table_counts()
        else:
            counts = {kind: tbl.num_rows for kind, tbl in data.tables.items()}

    table = Table(title=f"demo data ({time.perf_counter() - started:.1f} s)")
    table.add_column("table")
    table.add_column("rows", justify="right")
    table.add_column("file")
    for kind, rows in counts.items():
        table.add_row(kind, f"{rows:,}", str(paths[kind]))
    table.add_row("truth", f"{data.truth.num_rows:,}", str(paths["truth"]))
    table.add_row("influence_events", f"{data.influence_events.num_rows:,}", str(paths["influence_events"]))
    out.print(table)
    out.print(f"truth and parameters: {paths['params'].parent}", markup=False, highlight=False)
    if load:
        out.print(f"store: {store_path}", markup=False, highlight=False)
