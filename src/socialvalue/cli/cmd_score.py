"""``socialvalue score``: score a date with a run's stored models (the monthly update), or run without a report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from socialvalue.cli import app, out
from socialvalue.cli.cmd_run import AsOf, StoreArg, _require_store, _run

ModelsOpt = Annotated[
    str | None,
    typer.Option(
        "--models",
        help="Run id whose stored models score the date, fitting nothing ('latest': the latest run that "
        "stored models). Without it, the whole pipeline runs (fitting) without a report.",
    ),
]


@app.command("score")
def score(
    store: StoreArg,
    as_of: AsOf,
    models: ModelsOpt = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Run configuration (socialvalue.toml); with --models, default: the models' run's.",
        ),
    ] = None,
    report: Annotated[Path | None, typer.Option("--report", help="Write the HTML report here.")] = None,
) -> None:
    """Score every customer as of a date into the `scores` table and plan actions.

    With --models RUN_ID the models that run fitted and stored (purchase, spend, churn, clusters, social
    value, and its champions) are applied to the features at --as-of; nothing is refitted. The new `_runs` row
    names the models' run (models_from). Without --models the whole pipeline runs, fitting its models.

    Example: socialvalue score shop.duckdb --models 3f2a9c1b7d4e --as-of 2026-08-01
    """
    if models is None:
        _run(store, as_of, config, report)
        return
    _score(store, as_of, models, config, report)


def _score(store: Path, as_of: str, models: str, config: Path | None, report: Path | None) -> None:
    from socialvalue import Store
    from socialvalue.cli._progress import stage_progress
    from socialvalue.pipeline import STAGES, load_run_config, score_with_models

    _require_store(store)
    cfg = None if config is None else load_run_config(config)
    stages = [s for s in STAGES if report is not None or s != "report"]
    t0 = time.perf_counter()
    with Store(store) as s, stage_progress(stages, title="score") as on_stage:
        result = score_with_models(s, as_of, models, cfg, report, on_stage=on_stage)
    origin = result.models_from
    counts = result.actions["action"].value_counts()
    lines = [
        f"run {result.run_id}: {len(result.scores):,} customers scored as of {result.as_of} "
        f"({time.perf_counter() - t0:.1f} s)",
        f"{origin['sentence']}",
        f"champions: {origin.get('champions', '')}",
        "actions: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()),
        f"scores and actions written to {store} (tables scores, actions; run log _runs, models_from "
        f"{origin['run_id']})",
    ]
    if result.report_path is not None:
        lines.append(f"report: {result.report_path}")
    for line in lines:
        out.print(line, markup=False, highlight=False)
