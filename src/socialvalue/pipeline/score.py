"""Score a new date with the models a run stored: the monthly update between refits, fitting nothing.

:func:`score_with_models` computes the features at the new ``as_of`` and applies the models a run fitted
(``_models``): purchase and spend models, churn champion, clusters and learned social value, with that run's
champions (a scoring has no holdout to hold contests on, so when a baseline won a contest the baseline is
published again). It writes ``scores`` and ``actions`` for the new date and a ``_runs`` row whose
``models_from`` names the run the models came from, and whose diagnostics say "scored with models fitted on
<date>; nothing refitted" and carry that run's holdout contests and model comparisons.

What is computed afresh at the new date is what describes the customers at that date, not what was learned:
the features, the graph measures (followers, 2-hop reach, PageRank, independent-cascade spread, see
:class:`~socialvalue.social.imm.InfluenceModel`), the social components, and the ranks within the population
(RFM scores, percentiles, tiers).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from socialvalue.pipeline.config import RunConfig
from socialvalue.pipeline.run import RunResult
from socialvalue.store import Store

__all__ = ["score_with_models"]

_UNIT_WORDS = {"W": "weeks", "D": "days"}


def _stored_config(store: Store, run_id: str) -> RunConfig:
    from socialvalue.config import validate_config

    text = store.scalar("SELECT config_json FROM _runs WHERE run_id = ?", [run_id])
    return validate_config(RunConfig, json.loads(text) if text else {}, f"the configuration of run {run_id}")


def _check_settings(cfg: RunConfig, fitted: Any) -> None:
    """Refuse a configuration whose time unit or holdout differs from the models'."""
    from socialvalue.errors import ConfigError

    ch = fitted.choices
    if cfg.run.unit != ch.unit:
        raise ConfigError(
            f"the models of run {fitted.run_id} were fitted with unit = {ch.unit!r} ({_UNIT_WORDS[ch.unit]}) but "
            f"the configuration has unit = {cfg.run.unit!r} ({_UNIT_WORDS[cfg.run.unit]}): set [run] unit = "
            f'"{ch.unit}" to score with them, or fit new models with `socialvalue run`'
        )
    if cfg.run.holdout_periods != ch.holdout_periods:
        raise ConfigError(
            f"the models of run {fitted.run_id} were fitted with holdout_periods = {ch.holdout_periods} (their "
            f"churn horizon and forecast period) but the configuration has holdout_periods = "
            f"{cfg.run.holdout_periods}: set [run] holdout_periods = {ch.holdout_periods} to score with them, "
            "or fit new models with `socialvalue run`"
        )


def score_with_models(
    store: Store,
    as_of: Any,
    models: str,
    config: RunConfig | None = None,
    report: str | Path | None = None,
    *,
    on_stage: Callable[[str, str], None] | None = None,
) -> RunResult:
    """Score ``as_of`` with the models stored by run ``models``, refitting nothing learned.

    Parameters
    ----------
    store
        The store: its canonical tables at the new date, and the models' run in ``_runs``/``_models``.
    as_of
        The date to score (as :func:`~socialvalue.pipeline.run_pipeline` reads it), on or after the models'.
    models
        The run id whose models to use (a scoring run's id leads to its models' run), or ``"latest"``.
    config
        The run configuration; None: the models' run's configuration. Its time unit and holdout must be the
        models'; margin, discounting, horizon, social settings, playbook and budget apply as given.
    report
        Path of the HTML report to write, or None for no report.
    on_stage
        Callback ``(stage, "start"|"end")`` for progress displays.

    Returns
    -------
    RunResult
        Its ``models_from`` names the models' run (``refitted`` False).

    Raises
    ------
    ConfigError
        An unknown run id (the message lists the stored runs); a date the models cannot score; a time unit,
        holdout or currency other than the models'.
    StoreError
        The run was recorded before runs stored their models (re-run it with ``socialvalue run``).
    """
    from socialvalue.errors import ConfigError
    from socialvalue.pipeline.preflight import check_scoring_date, converted_orders, resolve_as_of
    from socialvalue.pipeline.record import load_fitted_models
    from socialvalue.pipeline.run import execute, money_and_playbook

    fitted = load_fitted_models(store, models)
    cfg = config if config is not None else _stored_config(store, fitted.run_id)
    _check_settings(cfg, fitted)
    # every check that can refuse the scoring happens here, before any work and any write
    as_of_ts = resolve_as_of(store, as_of)
    data_range = check_scoring_date(store, as_of_ts, fitted.choices.as_of, cfg)
    money, playbook = money_and_playbook(store, as_of_ts, cfg)
    if money.currency != fitted.choices.currency:
        raise ConfigError(
            f"the models of run {fitted.run_id} were fitted on amounts in {fitted.choices.currency} but this "
            f"scoring's amounts are in {money.currency}: score with the models' currency ([run] currency = "
            f'"{fitted.choices.currency}" with exchange_rates), or fit new models with `socialvalue run`'
        )
    cal_end = pd.Timestamp(fitted.choices.calibration_end)
    with converted_orders(store, money):
        return execute(
            store, cfg, playbook, as_of_ts, cal_end, data_range, money, report, on_stage, fitted=fitted
        )
