"""The one-command pipeline: features → CLV models → social value → segments → actions → report.

:func:`run_pipeline` runs every stage as of a date on one of two engines:

* ``engine="duckdb"`` (the default): on a store. It writes the ``scores`` and ``actions`` tables (versioned by
  ``as_of``), stores every model it fitted in ``_models`` and records the run in ``_runs`` (as_of, config
  hash, model parameters, data snapshot, timings and memory per stage, diagnostics), so every result can be
  traced and reproduced.
* ``engine="spark"``: on Apache Spark, reading the canonical tables from a folder of Parquet (or Delta,
  Iceberg) and writing ``scores.parquet``, ``actions.parquet`` and the same run record as ``run.json`` under
  ``<output>/<as_of>/`` (:mod:`socialvalue.pipeline.spark_run`, :class:`~socialvalue.pipeline.sinks.FolderSink`).

Both run the same stages and definitions through the engine seam (:mod:`socialvalue.engine`): the pre-flight
checks are engine queries, currency conversion is an engine view, and the results go through a sink
(:mod:`socialvalue.pipeline.sinks`).

Back-testing is built in: the calibration period ends ``holdout_periods`` units before ``as_of``; models are
compared, the churn classifier trained and the social-value weights learned on that split, then applied at
``as_of``. :func:`socialvalue.pipeline.score_with_models` runs the same stages with a stored run's models
instead, fitting nothing: the stages (``stage_clv``, ``stage_social``, ``stage_segments``, ``stage_actions``)
take fitted models when given and fit them when not, and :func:`execute` is the one path both take.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from socialvalue.errors import ConfigError
from socialvalue.pipeline.config import RunConfig
from socialvalue.pipeline.preflight import money_and_playbook
from socialvalue.pipeline.record import jsonable
from socialvalue.pipeline.runner import Runner, StageSpec
from socialvalue.pipeline.stage_clv import UNIT_DAYS
from socialvalue.store import Store

__all__ = ["ENGINES", "STAGES", "RunResult", "execute", "money_and_playbook", "run_pipeline"]

logger = logging.getLogger(__name__)

STAGES = ("features", "clv", "social", "segments", "actions", "insight", "write", "report")
#: The engines a run can execute on.
ENGINES = ("duckdb", "spark")


@dataclass
class RunResult:
    """What a pipeline run (or a scoring with stored models) produced.

    ``models_from`` names the run whose models produced the scores (``run_id``, ``as_of``, ``refitted``: True
    when this run fitted them, and a ``sentence``). ``engine`` is the engine it ran on; ``output`` the folder
    a Spark run wrote (``<output>/<as_of>``; None for a store run).
    """

    run_id: str
    as_of: str
    scores: pd.DataFrame
    actions: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)
    memory_mb: dict[str, float] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)
    report_path: Path | None = None
    models_from: dict[str, Any] = field(default_factory=dict)
    published: Path | None = None
    engine: str = "duckdb"
    output: Path | None = None


def _specs() -> tuple[StageSpec, ...]:
    from socialvalue.pipeline import stage_actions, stage_clv, stage_insight, stage_segments, stage_social

    return (stage_clv.SPEC, stage_social.SPEC, stage_segments.SPEC, stage_actions.SPEC, stage_insight.SPEC)


SPECS = _specs()


def feature_frame(
    engine: Any,
    as_of: pd.Timestamp,
    unit: str,
    columns: list[str],
    *,
    holdout_end: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """The feature table at ``as_of`` (with the holdout targets up to ``holdout_end``): ``columns`` only."""
    from socialvalue.engine.features import feature_table
    from socialvalue.store import arrow_to_pandas

    return arrow_to_pandas(feature_table(engine, as_of, unit, holdout_end=holdout_end, columns=columns))


# -- the pipeline -------------------------------------------------------------------------------------------
def run_pipeline(
    store: Store | str | Path | None = None,
    as_of: Any = None,
    config: RunConfig | None = None,
    *,
    engine: str = "duckdb",
    input: str | Path | None = None,
    output: str | Path | None = None,
    master: str | None = None,
    spark: Any = None,
    report: str | Path | None = None,
    on_stage: Callable[[str, str], None] | None = None,
    run_id: str | None = None,
) -> RunResult:
    """Run features → models → social value → segments → actions (→ report) as of ``as_of``.

    Parameters
    ----------
    store
        With ``engine="duckdb"``: the store holding the canonical tables (a :class:`~socialvalue.store.Store`,
        or the path of its file, opened for the run); ``scores``, ``actions``, ``_runs`` and ``_models`` are
        written to it. None with ``engine="spark"``.
    as_of
        Scoring date (exclusive: events before 00:00 UTC of that day count).
    config
        The run configuration (defaults when None).
    engine
        ``"duckdb"`` (on ``store``) or ``"spark"`` (from ``input`` to ``output``): the same stages and
        definitions on either.
    input, output
        With ``engine="spark"``: the folder of canonical tables (``customers.parquet``, ``orders/``...: Parquet,
        Delta or Iceberg, see :func:`socialvalue.spark.read_tables`), and the folder the results go to
        (``<output>/<as_of>/scores.parquet``, ``actions.parquet``, ``run.json``, ``models.json``).
    master
        With ``engine="spark"``: the Spark master (``local[2]``, ``yarn``, ``k8s://...``); default ``local[2]``
        unless a session is active (under ``spark-submit`` the submit line's master is used).
    spark
        With ``engine="spark"``: a SparkSession to use (default: the active one, or a new one on ``master``).
    report
        Path of the HTML report to write, or None for no report.
    on_stage
        Callback ``(stage, "start"|"end")`` for progress displays.
    run_id
        The run's id (letters and digits, at most 32); a new random one by default.

    Returns
    -------
    RunResult
        With ``published``: the snapshot the REST API serves (:func:`socialvalue.published.publish`), written
        after the results for a file store; with ``output``: the folder a Spark run wrote.

    Raises
    ------
    ConfigError
        An unknown engine, or arguments of the other engine (a store with Spark, ``input`` with DuckDB).

    Examples
    --------
    >>> from socialvalue.pipeline import run_pipeline
    >>> run_pipeline(store, "2026-07-01")                                                # doctest: +SKIP
    >>> run_pipeline(as_of="2026-07-01", engine="spark", input="in/", output="out/")     # doctest: +SKIP
    """
    from socialvalue.pipeline.preflight import converted_orders

    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    cfg = config or RunConfig()
    if run_id is not None:
        _check_run_id(run_id)
    if engine == "spark":
        from socialvalue.pipeline.spark_run import open_spark_run

        if store is not None:
            raise ConfigError(
                "engine='spark' reads its tables from input= (a folder of Parquet), not from a store: pass "
                "input= and output=, or run on the store with engine='duckdb'"
            )
        with open_spark_run(input, output, master=master, spark=spark) as (eng, sink, native):
            checked = _preflight(eng, as_of, cfg)
            with converted_orders(eng, checked[-1]):
                return _execute(
                    eng, sink, cfg, *checked, report, on_stage, None, run_id or uuid.uuid4().hex[:12], native
                )
    given = [k for k, v in (("input", input), ("output", output), ("master", master), ("spark", spark)) if v]
    if given:
        raise ConfigError(
            f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} for engine='spark'; the DuckDB run reads "
            "and writes its store"
        )
    if store is None:
        raise ConfigError(
            "run_pipeline needs the store to run on (or engine='spark' with input= and output=)"
        )
    if isinstance(store, (str, Path)):
        # a path: the store is opened for the run and closed after it
        if not Path(store).is_file():
            raise ConfigError(f"store {str(store)!r} does not exist: create it with `socialvalue ingest`")
        with Store(store) as opened:
            return run_pipeline(opened, as_of, config, report=report, on_stage=on_stage, run_id=run_id)
    checked = _preflight(store, as_of, cfg)
    with converted_orders(store, checked[-1]):
        return execute(store, cfg, *checked, report, on_stage, run_id=run_id)


def _preflight(source: Any, as_of: Any, cfg: RunConfig) -> tuple[Any, ...]:
    """Every check that can refuse the run, before any work and any write (``source``: a store or an engine).

    Returns ``(playbook, as_of, calibration end, data range, money)``: :func:`execute`'s arguments after the
    configuration.
    """
    from socialvalue.pipeline.preflight import check_dates, resolve_as_of

    as_of_ts = resolve_as_of(source, as_of)
    data_range = check_dates(source, as_of_ts, cfg)
    money, playbook = money_and_playbook(source, as_of_ts, cfg)
    cal_end = as_of_ts - pd.Timedelta(days=UNIT_DAYS[cfg.run.unit] * cfg.run.holdout_periods)
    return playbook, as_of_ts, cal_end, data_range, money


def _check_run_id(run_id: str) -> None:
    if not re.fullmatch(r"[0-9A-Za-z]{1,32}", run_id):
        raise ConfigError(f"a run id is 1 to 32 letters and digits, not {run_id!r}")


def _origin(run_id: str, as_of: str, cal_end: pd.Timestamp, fitted: Any) -> dict[str, Any]:
    """The ``models_from`` record: which run's models produced the scores."""
    if fitted is None:
        return {
            "run_id": run_id,
            "as_of": as_of,
            "refitted": True,
            "sentence": f"models fitted in this run (calibration period ending {cal_end.date()})",
        }
    ch = fitted.choices
    return {
        "run_id": fitted.run_id,
        "as_of": ch.as_of,
        "refitted": False,
        "sentence": f"scored with models fitted on {ch.as_of} (run {fitted.run_id}); nothing refitted",
        "champions": (
            f"a scoring has no holdout: the champions of run {fitted.run_id} are used again (purchases: "
            f"{ch.purchase_champion}; value: {ch.value_champion}; value through others: "
            f"{ch.network_champion or 'none'}; churn: {ch.churn_champion or 'purchase model (fallback)'}), "
            "and its holdout contests and model comparisons are carried unchanged"
        ),
    }


def execute(
    store: Store,
    cfg: RunConfig,
    playbook: Any,
    as_of_ts: pd.Timestamp,
    cal_end: pd.Timestamp,
    data_range: Any,
    money: Any,
    report: str | Path | None,
    on_stage: Callable[[str, str], None] | None = None,
    fitted: Any = None,
    *,
    run_id: str | None = None,
) -> RunResult:
    """Run the stages after the pre-flight checks: fit the models (``fitted`` None) or apply stored ones.

    The one code path of :func:`run_pipeline` and :func:`socialvalue.pipeline.score_with_models`: with
    ``fitted`` (:class:`~socialvalue.pipeline.fitted.FittedModels`) no feature table of the calibration period
    is built and nothing is fitted; the holdout contests and model comparisons of the models' run are carried
    into this run's record, beside ``models_from``. Once the results are written, they are published for the
    REST API (:func:`socialvalue.published.publish`; nothing for an in-memory store).
    """
    from socialvalue.engine import DuckDBEngine
    from socialvalue.pipeline.sinks import StoreSink

    if run_id is not None:
        _check_run_id(run_id)
    engine = DuckDBEngine(store, memory_gb=cfg.run.engine_memory_gb)
    sink = StoreSink(store)
    try:
        result = _execute(
            engine, sink, cfg, playbook, as_of_ts, cal_end, data_range, money, report, on_stage, fitted,
            run_id or uuid.uuid4().hex[:12],
        )  # fmt: skip
    finally:
        engine.release()
    result.published = sink.publish(result.run_id)
    return result


def _execute(
    engine: Any,
    sink: Any,
    cfg: RunConfig,
    playbook: Any,
    as_of_ts: pd.Timestamp,
    cal_end: pd.Timestamp,
    data_range: Any,
    money: Any,
    report: str | Path | None,
    on_stage: Callable[[str, str], None] | None,
    fitted: Any,
    run_id: str,
    native: Any = None,
) -> RunResult:
    """The stages on an open engine (released by the caller), their results written through ``sink``.

    ``sink`` is a :class:`~socialvalue.pipeline.sinks.StoreSink` or a
    :class:`~socialvalue.pipeline.sinks.FolderSink`. ``native`` (the Spark run's
    :class:`~socialvalue.pipeline.spark_run.SparkNative`, None for DuckDB) computes the features, the CLV
    models' sufficient statistics and values and the graph measures where the data are; everything else runs
    on this process, on the frames it returns.
    """
    from socialvalue._version import __version__
    from socialvalue.pipeline.diagnostics import network_picture, top_contributors, transitions
    from socialvalue.pipeline.fitted import FittedModels, RunChoices
    from socialvalue.pipeline.stage_actions import actions_stage
    from socialvalue.pipeline.stage_clv import clv_stage
    from socialvalue.pipeline.stage_insight import run_insight
    from socialvalue.pipeline.stage_segments import segments_stage
    from socialvalue.pipeline.stage_social import social_stage

    runner = Runner(SPECS, on_stage, keep=("clv", "social", "segments", "actions"))
    stage = runner.stage
    started = datetime.now(UTC).replace(tzinfo=None)
    as_of_str = str(as_of_ts.date())
    features = native.feature_frame if native is not None else feature_frame
    art: dict[str, Any] = {}
    with stage("features"):
        # computed, not stored: a run writes nothing until its results are complete; only the columns the
        # stages declare are computed
        art["features_cal"] = None
        if fitted is None:
            art["features_cal"] = features(
                engine, cal_end, cfg.run.unit, runner.columns("features_cal"), holdout_end=as_of_ts
            )
        art["features"] = features(engine, as_of_ts, cfg.run.unit, runner.columns("features"))
        logger.info("features: %d customers at %s", len(art["features"]), as_of_str)
    with stage("clv"):
        art["clv"] = clv_stage(
            engine, art["features_cal"], art["features"], cfg, cal_end, as_of_ts, fitted, native=native
        )
    runner.release(art, "clv")
    with stage("social"):
        clv = art["clv"]
        art["social"] = social_stage(
            engine,
            art["features_cal"],
            art["features"],
            clv["frame"],
            clv["clv_cal"],
            cfg,
            cal_end,
            as_of_ts,
            fitted,
            step=runner.step,
            native=native,
        )
    runner.release(art, "social")
    with stage("segments"):
        art["segments"] = segments_stage(art["features_cal"], art["features"], art["clv"], cfg, fitted)
    runner.release(art, "segments")
    with stage("actions"):
        art["actions"] = actions_stage(
            art["features"],
            art["segments"]["frame"],
            art["social"]["frame"],
            playbook,
            cfg,
            as_of_ts,
            money.currency,
            fitted,
            store=getattr(sink, "store", None),
        )
    runner.release(art, "actions")
    # channels, cohorts and shares, on either engine (timed as "insight")
    art["insight"] = run_insight(runner, engine, art, cfg, as_of_ts, money.currency, fitted)
    clv, social, seg, act = art["clv"], art["social"], art["segments"], art["actions"]
    scores, plan = act["scores"], act["plan"]
    origin = _origin(run_id, as_of_str, cal_end, fitted)
    if fitted is None:
        fallbacks = (
            [lad["summary"] for lad in clv["diag"]["ladders"].values() if lad["fallback"]]
            + seg.get("fallbacks", [])
            + social.get("fallbacks", [])
        )
        choices = RunChoices(
            as_of=as_of_str,
            calibration_end=str(cal_end.date()),
            unit=cfg.run.unit,
            holdout_periods=cfg.run.holdout_periods,
            currency=money.currency,
            purchase_model=clv["purchase_name"],
            spend_model=clv["spend_name"],
            purchase_champion=clv["champion"],
            value_champion=social["value_champion"],
            network_champion=social["network_champion"],
            churn_champion=seg["churn_champion"],
            uplift=act["uplift"],
        )
        models = FittedModels(choices=choices, **clv["models"], **social["models"], **seg["models"]).models()
    else:
        # the models' fallbacks still describe the scores; nothing new was fitted here
        fallbacks, models = list(fitted.diagnostics.get("fallbacks") or []), {}
        logger.info("%s", origin["sentence"])
    diagnostics = {
        "currency": money.currency,
        "money": money.describe(),
        "data_range": {
            "first": str(data_range.first),
            "last": str(data_range.last),
            "purchases": data_range.orders,
            "calibration_end": str(cal_end.date()),
            "holdout_periods": cfg.run.holdout_periods,
            "unit": cfg.run.unit,
        },
        "models_from": origin,
        "clv_horizon": clv["diag"]["clv_horizon"],
        "fallbacks": fallbacks,
        "champions": {
            k: v
            for k, v in (
                ("purchases", clv["diag"].get("champion")),
                ("value", social["diag"].get("champion")),
                ("value through others", social["diag"].get("network_champion")),
                ("churn", seg["churn"].get("champion")),
            )
            if v
        },
        "btyd": clv["diag"],
        "churn": seg["churn"],
        "csv": social["diag"],
        "transitions": transitions(sink.previous(as_of_ts), scores, as_of_ts),
        "network": network_picture(social["graph"], scores, cfg.social.network_top),
        "influence_contributors": top_contributors(social["contributors"], scores),
        "uplift_estimated": act["uplift_diag"] is not None,
        "uplift": act["uplift_diag"],
        "experiments": act["experiments"],
        "budget": cfg.actions.budget if cfg.actions.budget is not None else playbook.budget,
        "insight": art["insight"],
    }
    for note in fallbacks:
        logger.warning("fallback: %s", note)
    record: dict[str, Any] = {
        "run_id": run_id,
        "as_of": as_of_ts.date(),
        "started_at": started,
        "finished_at": None,
        "socialvalue_version": __version__,
        "config_hash": cfg.digest(),
        "config": cfg.model_dump(mode="json"),
        "params": jsonable(
            {
                "transaction_model": clv["diag"]["chosen"],
                "transaction": clv["diag"]["params"],
                "spend": clv["diag"]["spend_params"],
                "csv_weights": social["diag"]["weights"],
            }
        ),
        "timings": runner.timings,
        "memory": runner.memory,
        "diagnostics": None,
        "models_from": origin["run_id"],
    }
    with stage("write"):
        record["finished_at"] = datetime.now(UTC).replace(tzinfo=None)
        record["diagnostics"] = jsonable(diagnostics)
        sink.write(record, scores, plan, models)
    report_path = None
    if report is not None:
        with stage("report"):
            from socialvalue.report import write_report

            data = sink.report_data(
                as_of_str, scores=scores, actions=plan, diagnostics=record["diagnostics"], record=record
            )
            report_path = write_report(data, report)
            sink.registered(report_path, as_of_str)
    # the write and report stages end after the run record is written: complete its timings now
    record["finished_at"] = datetime.now(UTC).replace(tzinfo=None)
    sink.finish(record)
    return RunResult(
        run_id=run_id,
        as_of=as_of_str,
        scores=scores,
        actions=plan,
        timings=runner.timings,
        memory_mb=runner.memory,
        diagnostics=diagnostics,
        report_path=report_path,
        models_from=origin,
        engine=sink.engine,
        output=getattr(sink, "folder", None),
    )
