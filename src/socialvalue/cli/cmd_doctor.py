"""``socialvalue doctor``: profile a data file and write the column mapping that loads it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from socialvalue.cli import app, console


@app.command("doctor")
def doctor(
    file: Annotated[
        Path, typer.Argument(help="CSV, TSV, Parquet, JSON or JSON Lines file.", show_default=False)
    ],
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            "-k",
            help="Target table: customers, orders, interactions, relationships or content.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Mapping TOML to write (default: FILE's name + .mapping.toml)."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace the mapping file if it exists.")
    ] = False,
) -> None:
    """Profile a file and write a column mapping (TOML) that loads it: a newcomer's first command.

    Recognises the separator, decimal commas, currency symbols, the date format, which header is which
    canonical column, and words to map onto the vocabularies (e.g. Shipped -> completed). Review the TODO
    lines of the written file, then load with: socialvalue ingest STORE KIND FILE --mapping MAPPING.

    Example: socialvalue doctor orders.csv --kind orders --out orders.toml
    """
    from socialvalue.atomic import atomic_write_text
    from socialvalue.errors import ConfigError
    from socialvalue.ingest.doctor import diagnose

    target = out if out is not None else file.with_name(file.name.split(".")[0] + ".mapping.toml")
    if target.exists() and not overwrite:
        raise ConfigError(f"{target} exists; pass --overwrite to replace it, or choose another --out")
    diagnosis = diagnose(file, kind)
    atomic_write_text(target, diagnosis.to_toml())
    console.print(f"{file.name} -> {kind}:", markup=False, highlight=False)
    for line in diagnosis.findings:
        console.print(f"  {line}", markup=False, highlight=False)
    for line in diagnosis.todo:
        console.print(f"  TODO: {line}", markup=False, highlight=False)
    console.print(
        f"wrote {target}; load with: socialvalue ingest STORE {kind} {file} --mapping {target}",
        markup=False,
        highlight=False,
    )
