"""The one-command pipeline: features → CLV models → social value → segments → actions → report.

:func:`run_pipeline` runs every stage on a store as of a date, writes the ``scores`` and ``actions`` tables
(versioned by ``as_of``), stores every model it fitted in ``_models`` and records the run in ``_runs`` (as_of,
config hash, model parameters, data snapshot, timings and memory per stage, diagnostics), so every result can
be traced and reproduced.

Back-testing is built in: the calibration period ends ``holdout_periods`` units before ``as_of``; models are
compared, the churn classifier trained and the social-value weights learned on that split, then applied at
``as_of``. :func:`socialvalue.pipeline.score_with_models` runs the same stages with a stored run's models
instead, fitting nothing: the stages (``stage_clv``, ``stage_social``, ``stage_segments``, ``stage_actions``)
take fitted models when given and fit them when not, and :func:`execute` is the one path both take.
"""

from __future__ import annotations

import json
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
from socialvalue.pipeline.record import jsonable, record_run, replace_rows, snapshot, write_models
from socialvalue.pipeline.runner import Runner, StageSpec
from socialvalue.pipeline.stage_clv import UNIT_DAYS
from socialvalue.store import Store

__all__ = ["STAGES", "RunResult", "execute", "run_pipeline"]

logger = logging.getLogger(__name__)

STAGES = ("features", "clv", "social", "segments", "actions", "write", "report")


@dataclass
class RunResult:
    """What a pipeline run (or a scoring with stored models) produced.

    ``models_from`` names the run whose models produced the scores (``run_id``, ``as_of``, ``refitted``: True
    when this run fitted them, and a ``sentence``).
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


def money_and_playbook(store: Store, as_of: pd.Timestamp, cfg: RunConfig) -> tuple[Any, Any]:
    """The run's reporting currency (:func:`~socialvalue.pipeline.preflight.resolve_money`) and its playbook.

    Raises
    ------
    ConfigError
        The playbook's costs are in another currency than the run's amounts.
    """
    from socialvalue.decisions import default_playbook, load_playbook
    from socialvalue.pipeline.preflight import resolve_money

    money = resolve_money(store, as_of, cfg)
    playbook = load_playbook(cfg.actions.playbook) if cfg.actions.playbook else default_playbook()
    if playbook.currency is not None and playbook.currency != money.currency:
        raise ConfigError(
            f"the playbook's costs are in {playbook.currency} but this run's amounts are in {money.currency}: "
            f'set currency = "{money.currency}" in the playbook with costs in {money.currency}, or remove the key'
        )
    return money, playbook


def _specs() -> tuple[StageSpec, ...]:
    from socialvalue.pipeline import stage_actions, stage_clv, stage_segments, stage_social

    return (stage_clv.SPEC, stage_social.SPEC, stage_segments.SPEC, stage_actions.SPEC)


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
    store: Store,
    as_of: Any,
    config: RunConfig | None = None,
    *,
    report: str | Path | None = None,
    on_stage: Callable[[str, str], None] | None = None,
    run_id: str | None = None,
) -> RunResult:
    """Run features → models → social value → segments → actions (→ report) as of ``as_of``.

    Parameters
    ----------
    store
        The store holding the canonical tables; ``scores``, ``actions``, ``_runs`` and ``_models`` are
        written to it.
    as_of
        Scoring date (exclusive: events before 00:00 UTC of that day count).
    config
        The run configuration (defaults when None).
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
        after the results for a file store.
    """
    from socialvalue.pipeline.preflight import check_dates, converted_orders, resolve_as_of

    cfg = config or RunConfig()
    # every check that can refuse the run happens here, before any work and any write
    as_of_ts = resolve_as_of(store, as_of)
    data_range = check_dates(store, as_of_ts, cfg)
    money, playbook = money_and_playbook(store, as_of_ts, cfg)
    cal_end = as_of_ts - pd.Timedelta(days=UNIT_DAYS[cfg.run.unit] * cfg.run.holdout_periods)
    with converted_orders(store, money):
        return execute(
            store, cfg, playbook, as_of_ts, cal_end, data_range, money, report, on_stage, run_id=run_id
        )


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
    from socialvalue.published import publish

    if run_id is not None and not re.fullmatch(r"[0-9A-Za-z]{1,32}", run_id):
        raise ConfigError(f"a run id is 1 to 32 letters and digits, not {run_id!r}")
    engine = DuckDBEngine(store, memory_gb=cfg.run.engine_memory_gb)
    try:
        result = _execute(
            engine, store, cfg, playbook, as_of_ts, cal_end, data_range, money, report, on_stage, fitted,
            run_id or uuid.uuid4().hex[:12],
        )  # fmt: skip
    finally:
        engine.release()
    result.published = publish(store, result.run_id)
    return result


def _execute(
    engine: Any,
    store: Store,
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
) -> RunResult:
    """:func:`execute`'s body on an open engine (released by the caller)."""
    from socialvalue._version import __version__
    from socialvalue.pipeline.diagnostics import network_picture, top_contributors, transitions
    from socialvalue.pipeline.fitted import FittedModels, RunChoices
    from socialvalue.pipeline.stage_actions import actions_stage
    from socialvalue.pipeline.stage_clv import clv_stage
    from socialvalue.pipeline.stage_segments import segments_stage
    from socialvalue.pipeline.stage_social import social_stage

    runner = Runner(SPECS, on_stage, keep=("clv", "social", "segments", "actions"))
    stage = runner.stage
    started = datetime.now(UTC).replace(tzinfo=None)
    as_of_str = str(as_of_ts.date())
    art: dict[str, Any] = {}
    with stage("features"):
        # computed, not stored: a run writes nothing until its results are complete; only the columns the
        # stages declare are computed
        art["features_cal"] = None
        if fitted is None:
            art["features_cal"] = feature_frame(
                engine, cal_end, cfg.run.unit, runner.columns("features_cal"), holdout_end=as_of_ts
            )
        art["features"] = feature_frame(engine, as_of_ts, cfg.run.unit, runner.columns("features"))
        logger.info("features: %d customers at %s", len(art["features"]), as_of_str)
    with stage("clv"):
        art["clv"] = clv_stage(store, art["features_cal"], art["features"], cfg, cal_end, as_of_ts, fitted)
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
        )
    runner.release(art, "social")
    with stage("segments"):
        art["segments"] = segments_stage(art["features_cal"], art["features"], art["clv"], cfg, fitted)
    runner.release(art, "segments")
    with stage("actions"):
        art["actions"] = actions_stage(
            store,
            art["features"],
            art["segments"]["frame"],
            art["social"]["frame"],
            playbook,
            cfg,
            as_of_ts,
            money.currency,
            fitted,
        )
    runner.release(art, "actions")
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
        "transitions": transitions(store, scores, as_of_ts),
        "network": network_picture(social["graph"], scores, cfg.social.network_top),
        "influence_contributors": top_contributors(social["contributors"], scores),
        "uplift_estimated": act["uplift_diag"] is not None,
        "uplift": act["uplift_diag"],
        "budget": cfg.actions.budget if cfg.actions.budget is not None else playbook.budget,
    }
    for note in fallbacks:
        logger.warning("fallback: %s", note)
    with stage("write"):
        store.con.execute("BEGIN TRANSACTION")
        try:
            replace_rows(store, "scores", scores, as_of_str)
            replace_rows(store, "actions", plan, as_of_str)
            finished = datetime.now(UTC).replace(tzinfo=None)
            record_run(
                store,
                {
                    "run_id": run_id,
                    "as_of": as_of_ts.date(),
                    "started_at": started,
                    "finished_at": finished,
                    "socialvalue_version": __version__,
                    "config_hash": cfg.digest(),
                    "config_json": json.dumps(cfg.model_dump(mode="json")),
                    "params_json": json.dumps(
                        jsonable(
                            {
                                "transaction_model": clv["diag"]["chosen"],
                                "transaction": clv["diag"]["params"],
                                "spend": clv["diag"]["spend_params"],
                                "csv_weights": social["diag"]["weights"],
                            }
                        )
                    ),
                    "snapshot_json": json.dumps(snapshot(store)),
                    "timings_json": json.dumps(runner.timings),
                    "memory_json": json.dumps(runner.memory),
                    "diagnostics_json": json.dumps(jsonable(diagnostics)),
                    "models_from": origin["run_id"],
                },
            )
            write_models(store, run_id, models, finished)
            store.con.execute("COMMIT")
        except Exception:
            store.con.execute("ROLLBACK")
            raise
    report_path = None
    if report is not None:
        with stage("report"):
            from socialvalue.privacy import record_report
            from socialvalue.report import ReportData, write_report

            report_path = write_report(ReportData.from_store(store, as_of_str), report)
            record_report(store, str(Path(report_path).resolve()), as_of_str)
    # the write and report stages end after the run row is written: complete its timings now
    store.con.execute(
        "UPDATE _runs SET timings_json = ?, memory_json = ?, finished_at = ? WHERE run_id = ?",
        [
            json.dumps(runner.timings),
            json.dumps(runner.memory),
            datetime.now(UTC).replace(tzinfo=None),
            run_id,
        ],
    )
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
    )
