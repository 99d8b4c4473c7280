"""``socialvalue features``: build the as-of feature table, or list the feature registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from socialvalue.cli import app, out


@app.command()
def features(
    store: Annotated[
        Path | None, typer.Argument(help="DuckDB store file holding the canonical tables.")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Exclusive end of observation (a date = 00:00 UTC of that day)."),
    ] = None,
    holdout_end: Annotated[
        str | None,
        typer.Option(
            "--holdout-end", help="Exclusive end of the holdout [as_of, holdout_end) for back-testing."
        ),
    ] = None,
    unit: Annotated[str, typer.Option("--unit", help="Unit of the BTYD columns: weeks or days.")] = "weeks",
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Also write the table to this Parquet file.")
    ] = None,
    table: Annotated[
        str | None, typer.Option("--table", help="Table name (default features_<YYYYMMDD>).")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="TOML file whose \\[features] section sets kinds and windows."),
    ] = None,
    list_: Annotated[bool, typer.Option("--list", help="Print the feature registry and exit.")] = False,
) -> None:
    """Compute per-customer features as of a date inside the store and record them in the manifest.

    Example: socialvalue features shop.duckdb --as-of 1997-10-01 --holdout-end 1998-07-01 --unit weeks
    --out features.parquet; or socialvalue features --list
    """
    from socialvalue.config import load_toml
    from socialvalue.errors import ConfigError
    from socialvalue.features import FeatureConfig

    cfg = load_toml(config, FeatureConfig, section="features") if config else FeatureConfig()
    if list_:
        _print_registry(cfg)
        return
    if store is None or as_of is None:
        raise ConfigError("give a STORE and --as-of DATE (or --list to see the features)")
    if not store.exists():
        from socialvalue.errors import StoreError

        raise StoreError(f"store {str(store)!r} does not exist")

    from socialvalue import Store
    from socialvalue.cli._progress import stage_progress
    from socialvalue.engine import build, read_manifest
    from socialvalue.exports import export_feature_table
    from socialvalue.features import table_name_for
    from socialvalue.features.split import TimeFrame

    frame = TimeFrame.resolve(as_of, unit, None, holdout_end)
    name = table or table_name_for(frame)
    stages = [f"build {name}", *(["write Parquet"] if out_file is not None else [])]
    with Store(store) as st, stage_progress(stages, title="features") as on_stage:
        with on_stage.stage(stages[0]):
            df = build(st, as_of=as_of, unit=unit, holdout_end=holdout_end, config=cfg, table=name)
        man = read_manifest(st, name)[0]
        if out_file is not None:
            with on_stage.stage("write Parquet"):
                export_feature_table(st, name, out_file)  # registered: an erasure rewrites it too
    out.print(
        f"built {name}: {len(df):,} customers x {len(df.columns) - 1} features "
        f"(unit {frame.unit}, as of {frame.as_of:%Y-%m-%d %H:%M} UTC, sql {man['sql_hash']})"
        + (f", written to {out_file}" if out_file is not None else ""),
        markup=False,
        highlight=False,
    )


def _print_registry(cfg: object) -> None:
    from rich.table import Table

    from socialvalue.features import registry

    tbl = Table(title="socialvalue features", show_lines=False)
    tbl.add_column("name", no_wrap=True)  # names are copied into code: never break them
    for col in ("group", "unit", "window"):
        tbl.add_column(col, no_wrap=True)
    tbl.add_column("description", overflow="fold")
    for f in registry(cfg):  # type: ignore[arg-type]
        window = f"{f.window_days}d" if f.window_days else "all"
        tbl.add_row(f.name, f.group, f.unit, window, f.description)
    out.print(tbl)
