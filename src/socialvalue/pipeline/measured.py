"""Closing the loop in a run: what the control groups of earlier exports measured, and the values it gives.

When a store holds control groups (recorded by ``socialvalue export``, :func:`socialvalue.experiments.
hold_out_controls`), a run measures them as of its own date (:func:`socialvalue.experiments.action_results`):
per action and segment the uplift with its interval, whether the action paid, the Qini curves. Every action
measured gets its measured incremental value per segment in the run's allocation, in place of the playbook's
assumed ``uplift × base`` (and of a campaign file's estimate); an action not yet measured keeps its
assumption. The run record carries the results (``diagnostics["experiments"]``) for the report, the
dashboard and the API.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from socialvalue.decisions.playbook import Playbook
from socialvalue.errors import SocialValueError
from socialvalue.pipeline.config import RunConfig

__all__ = ["measure_actions", "unavailable"]

logger = logging.getLogger(__name__)


def unavailable(reason: str, as_of: pd.Timestamp, currency: str, cfg: RunConfig) -> dict[str, Any]:
    """The ``experiments`` diagnostics of a run that measured nothing, with the reason."""
    return {
        "available": False,
        "reason": reason,
        "measured_at": str(as_of.date()),
        "currency": currency,
        "confidence": cfg.experiment.confidence,
        "window_days": cfg.experiment.window_days,
        "min_outcomes": cfg.experiment.min_outcomes,
        "margin": cfg.run.margin,
        "referral_value": cfg.experiment.referral_value,
        "replaced": [],
        "labels": {},
    }


def measure_actions(
    store: Any,
    scores: pd.DataFrame,
    playbook: Playbook,
    cfg: RunConfig,
    as_of: pd.Timestamp,
    currency: str,
) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """The measured values per action and segment, and the ``experiments`` diagnostics of the run.

    Parameters
    ----------
    store
        The run's :class:`~socialvalue.store.Store`; None when the run writes elsewhere (a Spark run's
        folder), which has no control groups.
    scores
        The run's scores (``segment``): every segment of the allocation gets a value.
    playbook
        The playbook: each action's cost per customer contacted and its label.
    cfg
        ``[experiment]`` (level, minimum outcomes, value of a referral) and ``[run] margin``.
    as_of
        The run's date: outcomes are counted before it, in windows that have fully elapsed by it.
    currency
        The reporting currency (the values are in the orders' amounts, converted by the run's view).

    Returns
    -------
    values : dict
        ``{action: {segment: value per customer}}`` for the actions measured (empty when none).
    diagnostics : dict
        ``available``, ``reason`` when not, the measurement's settings, ``replaced`` (the actions whose
        assumption the measured value replaced), ``labels``, and
        :meth:`~socialvalue.experiments.ActionResults.to_dict`'s verdicts, uplift, values and Qini curves.
    """
    from socialvalue.experiments import action_results

    exp = cfg.experiment
    if not exp.enabled:
        return {}, unavailable(
            "control groups are switched off ([experiment] enabled = false)", as_of, currency, cfg
        )
    if store is None:
        return {}, unavailable(
            "control groups live in a store; this run writes to a folder, so nothing was measured",
            as_of,
            currency,
            cfg,
        )
    if not store.has_table("_assignments") or not store.scalar("SELECT count(*) FROM _assignments"):
        return {}, unavailable(
            "no control groups recorded yet: `socialvalue export` holds them out when it exports the actions",
            as_of,
            currency,
            cfg,
        )
    names = {a.name for a in playbook.actions}
    try:
        results = action_results(
            store,
            as_of,
            costs={a.name: float(a.cost) for a in playbook.actions},
            segments=sorted(set(scores["segment"].dropna().astype(str))),
            margin=cfg.run.margin,
            referral_value=exp.referral_value,
            config=exp,
        )
    except SocialValueError as exc:
        logger.warning(
            "fallback: the control groups could not be measured (%s); the playbook's uplifts stand", exc
        )
        return {}, unavailable(f"the control groups could not be measured: {exc}", as_of, currency, cfg)
    values = {a: v for a, v in results.values.items() if a in names}
    unknown = sorted(set(results.values) - names)
    if unknown:
        logger.info("measured actions no longer in the playbook are ignored: %s", ", ".join(unknown))
    diag = unavailable("", as_of, currency, cfg) | results.to_dict()
    summary = results.summary()
    diag["available"] = True
    diag["reason"] = None
    diag["replaced"] = sorted(values)
    diag["labels"] = {a.name: a.label for a in playbook.actions}
    diag["counts"] = {
        str(v): int((summary["verdict"] == v).sum())
        for v in ("paid", "did not pay", "harmful", "not yet measured")
    }
    for row in summary.itertuples(index=False):
        logger.info("measured: %s", row.sentence)
    return values, diag
