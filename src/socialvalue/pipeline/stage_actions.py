"""The actions stage: one row of scores per customer, and the playbook's plan under the budget.

The scores gather the segments stage's frame, the feature columns the playbook reads and the social frame.
Past campaigns, when configured, give each action's incremental value per segment
(:func:`~socialvalue.decisions.uplift.campaign_uplift`): estimated by a run, carried unchanged by a scoring
with stored models (the segment values are part of what the run learned).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from socialvalue.pipeline.config import RunConfig
from socialvalue.pipeline.runner import StageSpec

__all__ = ["CARRIED", "SPEC", "actions_stage"]

#: Feature columns carried into ``scores`` (the playbook's conditions and reasons read them).
CARRIED = (
    "consent_marketing",
    "n_orders",
    "total_spend",
    "days_since_last_purchase",
    "tenure_days",
    "content_total",
    "helpful_votes_total",
    "referrals_made",
    "followers",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "orders_last_90d",
    "orders_prev_90d",
)

#: The feature columns the stage reads (the runner asks the engine for no others) and what it writes.
SPEC = StageSpec(
    "actions",
    features=CARRIED,
    reads=("segments", "social"),
    writes=("actions",),
    uses_calibration=False,
)


def _campaign_values(
    scores: pd.DataFrame, playbook: Any, cfg: RunConfig
) -> tuple[dict[str, dict[str, float]] | None, dict[str, Any] | None]:
    """Per action, the incremental value per customer of each segment, measured on past campaigns.

    None, None without campaign data. The campaign file (CSV or Parquet) is read on this machine by a DuckDB
    connection of its own (:func:`~socialvalue.pipeline.preflight.local_files`), whatever the engine.
    """
    from socialvalue.decisions import campaign_uplift
    from socialvalue.errors import ConfigError

    if not cfg.actions.campaign:
        return None, None
    path = Path(cfg.actions.campaign)
    if not path.exists():
        raise ConfigError(f"campaign file {str(path)!r} does not exist")
    from socialvalue.pipeline.preflight import local_files
    from socialvalue.sqlsafe import reader_path

    query = (
        "SELECT * FROM read_parquet(?)" if path.suffix.lower() == ".parquet" else "SELECT * FROM read_csv(?)"
    )
    with local_files() as con:
        camp = con.sql(query, params=[reader_path(path)]).df()
    names = {a.name for a in playbook.actions}
    unknown = sorted(set(camp.get("action", pd.Series(dtype=str)).astype(str)) - names)
    if unknown:
        raise ConfigError(f"campaign file {path.name}: actions not in the playbook: {', '.join(unknown)}")
    segments = scores.set_index("customer_id")["segment"]
    est, curves, values = campaign_uplift(camp, segments, margin=cfg.run.margin)
    by_segment = {str(a): {str(seg): float(v) for seg, v in pd.Series(s).items()} for a, s in values.items()}
    diag = {
        "source": path.name,
        "estimates": est.round(6).to_dict("records"),
        "qini": {
            a: {
                "x": c.x.tolist(),
                "y": c.y.tolist(),
                "random": c.random_y.tolist(),
                "coefficient": c.coefficient,
            }
            for a, c in curves.items()
        },
    }
    return by_segment, diag


def actions_stage(
    feats: pd.DataFrame,
    segments: pd.DataFrame,
    social: pd.DataFrame,
    playbook: Any,
    cfg: RunConfig,
    as_of: pd.Timestamp,
    currency: str,
    fitted: Any = None,
    store: Any = None,
) -> dict[str, Any]:
    """The ``scores`` and ``actions`` rows of ``as_of``.

    Parameters
    ----------
    feats, segments, social
        The features at ``as_of``, the segments stage's frame and the social stage's frame.
    playbook, cfg, as_of, currency
        The playbook, the configuration, the date and the reporting currency.
    fitted
        Stored :class:`~socialvalue.pipeline.fitted.FittedModels`: their campaign uplift per segment is used
        (the campaign file is not read again). None: estimate it from the configured campaign file.
    store
        The run's store: the control groups of earlier exports are measured as of ``as_of``
        (:func:`~socialvalue.pipeline.measured.measure_actions`) and each measured action's value per segment
        replaces its assumed (or campaign-estimated) uplift in the allocation. None: nothing is measured.

    Returns
    -------
    dict
        ``scores``, ``plan``, ``uplift`` (per action and segment, or None), ``uplift_diag``, ``measured``
        (the measured values used) and ``experiments`` (the run's diagnostics of the measurement).
    """
    from socialvalue.decisions import allocate
    from socialvalue.pipeline.measured import measure_actions

    carried = feats[["customer_id", *[c for c in CARRIED if c in feats.columns]]]
    scores = segments.merge(carried, on="customer_id", how="left")
    scores = scores.merge(social, on="customer_id", how="left", suffixes=("", "_social"))
    scores["segment"] = scores["rfm_segment"]
    scores["influencer"] = scores["influencer"].fillna(False).astype(bool)
    num = scores.select_dtypes("number").columns
    scores[num] = scores[num].fillna(0.0)
    scores.insert(1, "as_of", as_of.date())
    if fitted is None:
        uplift, uplift_diag = _campaign_values(scores, playbook, cfg)
    else:
        uplift, uplift_diag = fitted.choices.uplift, fitted.diagnostics.get("uplift")
    measured, experiments = measure_actions(store, scores, playbook, cfg, as_of, currency)
    # measured on our own control groups beats a campaign file's estimate and the playbook's assumption
    values = {**(uplift or {}), **measured}
    estimated = None
    if values:
        estimated = {a: scores["segment"].map(v).fillna(0.0).to_numpy(float) for a, v in values.items()}
    plan = allocate(scores, playbook, budget=cfg.actions.budget, estimated_values=estimated)
    plan.insert(1, "as_of", as_of.date())
    # every money column of both tables (and of their exports) is in the run's reporting currency
    scores["currency"] = currency
    plan["currency"] = currency
    return {
        "scores": scores,
        "plan": plan,
        "uplift": uplift,
        "uplift_diag": uplift_diag,
        "measured": measured,
        "experiments": experiments,
    }
