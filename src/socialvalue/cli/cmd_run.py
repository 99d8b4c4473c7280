"""Pipeline commands: run everything, write the report, export results (``score`` is in ``cmd_score``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from socialvalue.cli import app, out

StoreArg = Annotated[Path, typer.Argument(help="DuckDB store file.", show_default=False)]
AsOf = Annotated[
    str,
    typer.Option(
        "--as-of",
        help="Scoring date: YYYY-MM-DD, 'today' (UTC) or 'latest' (the day after the last order); "
        "events before it count.",
    ),
]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="Run configuration (socialvalue.toml).")
]


def _require_store(path: Path) -> None:
    from socialvalue.errors import StoreError

    if not path.exists():
        raise StoreError(
            f"store {str(path)!r} does not exist (create it with `socialvalue init` or `socialvalue demo`)"
        )


def _engine_arguments(
    engine: str, store: Path | None, input: Path | None, output: Path | None, master: str | None
) -> None:
    """Refuse, before any work, arguments that do not fit the engine (one line each)."""
    from socialvalue.errors import ConfigError

    if engine not in ("duckdb", "spark"):
        raise ConfigError(f"--engine {engine!r}: expected duckdb or spark")
    if engine == "spark":
        if store is not None:
            raise ConfigError(
                f"--engine spark reads --input (a folder of Parquet) and writes --output, not a store: drop "
                f"{str(store)!r}, or run on the store with --engine duckdb"
            )
        missing = [name for name, value in (("--input", input), ("--output", output)) if value is None]
        if missing:
            raise ConfigError(
                f"--engine spark needs {' and '.join(missing)}: --input is the folder of canonical tables "
                "(customers.parquet, orders.parquet...), --output the folder the results go to"
            )
        return
    given = [
        name for name, value in (("--input", input), ("--output", output), ("--master", master)) if value
    ]
    if given:
        raise ConfigError(
            f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} for --engine spark; the DuckDB run reads "
            "and writes the store (socialvalue run STORE --as-of DATE)"
        )
    if store is None:
        raise ConfigError(
            "socialvalue run needs the store (socialvalue run STORE --as-of DATE), or --engine spark"
        )
    _require_store(store)


def _run(
    store: Path | None,
    as_of: str,
    config: Path | None,
    report: Path | None,
    *,
    engine: str = "duckdb",
    input: Path | None = None,
    output: Path | None = None,
    master: str | None = None,
) -> None:
    from contextlib import nullcontext

    from rich.table import Table

    from socialvalue import Store
    from socialvalue.cli._progress import stage_progress
    from socialvalue.pipeline import STAGES, load_run_config, run_pipeline

    _engine_arguments(engine, store, input, output, master)
    cfg = load_run_config(config)
    stages = [s for s in STAGES if report is not None or s != "report"]
    t0 = time.perf_counter()
    opened = Store(store) if engine == "duckdb" and store is not None else nullcontext()
    with opened as s, stage_progress(stages, title="run") as on_stage:
        result = run_pipeline(
            s,
            as_of,
            cfg,
            engine=engine,
            input=input,
            output=output,
            master=master,
            report=report,
            on_stage=on_stage,
        )
    diag = result.diagnostics
    table = Table(title=f"run {result.run_id} as of {result.as_of} ({time.perf_counter() - t0:.1f} s)")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    table.add_column("peak RSS (MB)", justify="right")
    for name, secs in result.timings.items():
        table.add_row(name, f"{secs:.2f}", f"{result.memory_mb[name]:.0f}")
    out.print(table)
    counts = result.actions["action"].value_counts()
    lines = [
        f"{len(result.scores):,} customers scored; actions: "
        + ", ".join(f"{k} {v:,}" for k, v in counts.items()),
        f"money: {diag.get('money', '')}; CLV horizon: {diag.get('clv_horizon', '')}",
        f"models: purchases {diag['btyd']['chosen']}, spend {diag['btyd'].get('spend_model', '')}",
    ]
    lines += [f"fallback: {f}" for f in diag.get("fallbacks", [])]
    if result.output is not None:
        lines.append(
            f"scores and actions written to {result.output} (scores.parquet, actions.parquet; run record run.json)"
        )
    else:
        lines.append(f"scores and actions written to {store} (tables scores, actions; run log _runs)")
    if result.report_path is not None:
        lines.append(f"report: {result.report_path}")
    for line in lines:
        out.print(line, markup=False, highlight=False)


EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        help="duckdb: run on the STORE; spark: run on Apache Spark from --input to --output (docs/spark.md).",
    ),
]


@app.command("run")
def run(
    as_of: AsOf,
    store: Annotated[
        Path | None,
        typer.Argument(help="DuckDB store file (--engine duckdb).", show_default=False),
    ] = None,
    config: ConfigOpt = None,
    report: Annotated[Path | None, typer.Option("--report", help="Write the HTML report here.")] = None,
    engine: EngineOpt = "duckdb",
    input: Annotated[
        Path | None,
        typer.Option(
            "--input",
            help="--engine spark: the folder of canonical tables (customers.parquet, orders.parquet or "
            "orders/, ...; Parquet, Delta or Iceberg).",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            help="--engine spark: where to write <as_of>/scores.parquet, actions.parquet, run.json.",
        ),
    ] = None,
    master: Annotated[
        str | None,
        typer.Option(
            "--master",
            help="--engine spark: the Spark master (default local[2]; under spark-submit, the submit line's).",
        ),
    ] = None,
) -> None:
    """Run the whole pipeline: features → CLV models → social value → segments → actions (→ report).

    The calibration period ends `holdout_periods` before --as-of (see the config): models are compared,
    the churn classifier trained and the social-value weights learned on that split, then applied at
    --as-of. The run is recorded (config hash, parameters, data snapshot, timings) in the `_runs` table,
    or with --engine spark in run.json beside the Parquet results.

    Example: socialvalue run shop.duckdb --as-of 2026-07-01 --report report.html

    Example: socialvalue run --engine spark --input data/ --output results/ --as-of 2026-07-01 --master local[2]
    """
    _run(store, as_of, config, report, engine=engine, input=input, output=output, master=master)


@app.command("report")
def report(
    store: StoreArg,
    out_file: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] = Path("report.html"),
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Which scoring (default: the latest run).")
    ] = None,
) -> None:
    """Write the self-contained HTML report (works offline; charts' JavaScript inline).

    Example: socialvalue report shop.duckdb --out report.html
    """
    from socialvalue import Store
    from socialvalue.pipeline.preflight import parse_iso_date
    from socialvalue.report import ReportData, write_report

    _require_store(store)
    as_of = None if as_of is None else parse_iso_date(as_of)
    from socialvalue.privacy import record_report

    with Store(store) as s:
        data = ReportData.from_store(s, as_of)
        path = write_report(data, out_file)
        # registered, so that erasing a customer later removes (and rewrites) this report too
        record_report(s, str(Path(path).resolve()), data.as_of)
    out.print(f"report: {path} ({path.stat().st_size / 1e6:.1f} MB)", markup=False, highlight=False)


@app.command("export")
def export(
    store: StoreArg,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Directory to write into.")] = Path("exports"),
    as_of: Annotated[str | None, typer.Option("--as-of", help="Which scoring (default: the latest).")] = None,
    fmt: Annotated[
        list[str] | None, typer.Option("--format", "-f", help="csv and/or parquet (repeatable).")
    ] = None,
    pseudonymize: Annotated[
        bool,
        typer.Option(
            "--pseudonymize",
            help="Replace customer ids by HMAC-SHA256 pseudonyms (key: SOCIALVALUE_PSEUDONYM_KEY).",
        ),
    ] = False,
    exact: Annotated[
        bool,
        typer.Option(
            "--exact",
            help="With --pseudonymize, keep spend, counts, days and dates exact instead of in bands "
            "(such files can usually be re-identified: share them only where the ids could be).",
        ),
    ] = False,
    no_controls: Annotated[
        bool,
        typer.Option(
            "--no-controls",
            help="Hold out no control groups (the next runs then cannot measure whether the actions worked).",
        ),
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="socialvalue.toml whose [experiment] section sets the control groups (default: the run's).",
        ),
    ] = None,
) -> None:
    """Export scores, actions and per-action audience lists for CRM import.

    A control group is held out of each action (default 10%, more when [experiment] min_detectable_effect
    needs it), recorded in the store and measured by the next run once its window has passed; the
    export's experiment_<date>.json says how many are held out and why.

    CSV cells that a spreadsheet would run as formulas are neutralised; pseudonymized exports put spend,
    counts and days in bands and dates in months unless --exact.

    Example: SOCIALVALUE_PSEUDONYM_KEY=... socialvalue export shop.duckdb --out exports --pseudonymize
    """
    from socialvalue import Store
    from socialvalue.exports import export_results
    from socialvalue.pipeline.preflight import parse_iso_date

    _require_store(store)
    as_of = None if as_of is None else parse_iso_date(as_of)
    experiment = None
    if config is not None:
        from socialvalue.pipeline.config import load_run_config

        experiment = load_run_config(config).experiment
    with Store(store) as s:
        written = export_results(
            s,
            out_dir,
            as_of=as_of,
            formats=tuple(fmt or ("parquet", "csv")),
            pseudonymize=pseudonymize,
            exact_quasi_identifiers=exact,
            controls=not no_controls,
            experiment=experiment,
        )
    n = sum(len(v) for v in written.values())
    out.print(
        f"{n} files written to {out_dir} ({len(written['audiences'])} audience lists)",
        markup=False,
        highlight=False,
    )
    for path in written.get("experiment", []):
        import json

        for plan in json.loads(path.read_text(encoding="utf-8"))["actions"]:
            out.print(f"control group of {plan['action']}: {plan['reason']}", markup=False, highlight=False)
