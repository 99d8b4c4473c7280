"""The segments stage: RFM, lifecycle, churn risk and its reasons, behavioural clusters, tiers, value index.

Fitting (a run): the churn candidates (classifier, purchase model, recency, recent purchase count) compete on
the holdout (:func:`~socialvalue.models.churn_choice.select_churn_risk`) and the behavioural clusters are fitted
on the customers at ``as_of``.

Applying (a run, and a scoring with stored models): the churn champion's risk
(:class:`~socialvalue.models.churn_choice.ChurnChampion`), the clusters' assignment and
:func:`~socialvalue.models.scoring.score_frame`. RFM scores, value-coefficient percentiles and tiers rank the
customers within the population at the date and are always computed afresh: they describe that population,
they are not fitted models. Scoring passes the stored churn champion and clusters and runs only this part.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from socialvalue.pipeline.config import RunConfig
from socialvalue.pipeline.runner import StageSpec
from socialvalue.pipeline.stage_clv import UNIT_DAYS

__all__ = ["SPEC", "segments_stage"]

#: The feature columns the stage reads (the runner asks the engine for no others) and what it writes: the
#: churn classifier's and the clusters' inputs, lifecycle and RFM columns.
SPEC = StageSpec(
    "segments",
    features=(
        "T",
        "content_review",
        "content_total",
        "days_since_last_interaction",
        "days_since_last_purchase",
        "distinct_partners_365d",
        "followers",
        "following",
        "frequency",
        "helpful_votes_total",
        "int_given_365d",
        "int_given_90d",
        "int_given_click_365d",
        "int_given_view_365d",
        "int_received_365d",
        "int_received_90d",
        "interactions_last_90d",
        "interactions_prev_90d",
        "ipt_cv",
        "ipt_mean_days",
        "mean_spend",
        "n_orders",
        "n_orders_365d",
        "n_orders_90d",
        "n_returns",
        "orders_last_90d",
        "orders_prev_90d",
        "recency",
        "referrals_made",
        "referred_buyers",
        "referred_revenue",
        "returned_amount",
        "review_mean_rating",
        "spend_365d",
        "tenure_days",
        "total_spend",
    ),
    holdout=("holdout_transactions",),
    reads=("clv",),
    writes=("segments",),
)


def _fit_churn(
    feats_cal: pd.DataFrame,
    merged: pd.DataFrame,
    clv: dict[str, Any],
    p_now: np.ndarray,
    e_now: np.ndarray,
    churn_cfg: Any,
    cfg: RunConfig,
) -> tuple[Any, Any, dict[str, Any], list[str]]:
    """The churn contest on the holdout: (champion or None, its risk at as_of, diagnostics, fallbacks)."""
    from socialvalue.errors import SocialValueError
    from socialvalue.models.churn_choice import select_churn_risk

    labelled = feats_cal[feats_cal["holdout_transactions"].notna() & feats_cal["frequency"].notna()]
    labelled = labelled.reset_index(drop=True)
    horizon = churn_cfg.horizon_days
    fallbacks: list[str] = []
    p_cal = e_cal = None
    if len(labelled):
        cal_model = clv["cal_model"]  # the purchase model fitted on the calibration period
        p_cal = np.asarray(cal_model.probability_alive(labelled), dtype=float)
        e_cal = np.asarray(cal_model.predict_purchases(labelled, float(cfg.run.holdout_periods)), dtype=float)
    try:
        choice = select_churn_risk(
            labelled,
            merged,
            p_alive_cal=p_cal,
            expected_cal=e_cal,
            p_alive_now=p_now,
            expected_now=e_now,
            config=churn_cfg,
        )
    except (SocialValueError, ValueError) as exc:
        # e.g. nobody (or everybody) bought again in the holdout: no churn score can be evaluated
        fallbacks.append(
            f"churn: no churn score could be evaluated on the holdout ({str(exc).splitlines()[0]}); churn "
            f"risk is the purchase model's probability of no purchase in the next {horizon} days"
        )
        diag = {
            "definition": churn_cfg.definition,
            "horizon_days": horizon,
            "source": "model",
            "fallback": fallbacks[0],
        }
        return None, None, diag, fallbacks
    fallbacks.extend(choice.notes)
    # champion, sentence, every candidate's holdout metrics, horizon; choice.risk is choice.scorer's risk
    return choice.scorer, choice.risk, choice.as_dict(), fallbacks


def segments_stage(
    feats_cal: pd.DataFrame | None,
    feats: pd.DataFrame,
    clv: dict[str, Any],
    cfg: RunConfig,
    fitted: Any = None,
) -> dict[str, Any]:
    """Score every customer at ``as_of`` (:func:`~socialvalue.models.scoring.score_frame`).

    Parameters
    ----------
    feats_cal, feats
        The feature tables at the calibration end (with the holdout; unused with ``fitted``) and at ``as_of``.
    clv
        The CLV stage's result.
    cfg
        The run configuration.
    fitted
        Stored :class:`~socialvalue.pipeline.fitted.FittedModels`: their churn champion and clusters are
        applied, nothing is fitted. None: fit them.

    Returns
    -------
    dict
        ``frame`` (the scores), ``churn`` (the run record's churn entry), ``attrs``, ``fallbacks``,
        ``churn_champion`` (its source name, None after a fallback) and ``models`` (role -> model fitted here).
    """
    from socialvalue.models.churn import load_churn_config
    from socialvalue.models.clusters import BehaviouralClusters
    from socialvalue.models.scoring import load_scoring_config, score_frame

    merged = feats.merge(clv["frame"], on="customer_id", how="left")
    # the label is "no purchase in the holdout", so the churn horizon is the holdout's length
    horizon = round(UNIT_DAYS[cfg.run.unit] * cfg.run.holdout_periods)
    churn_cfg = load_churn_config().model_copy(
        update={"horizon_days": horizon, "alert_budget": cfg.run.churn_alert_share}
    )
    scoring = load_scoring_config().model_copy(update={"churn": churn_cfg})
    p_now = merged["p_alive"].fillna(0.0).to_numpy()
    e_now = merged["expected_transactions"].fillna(0.0).to_numpy()  # over the next holdout_periods
    if fitted is None:
        scorer, risk, diag_churn, fallbacks = _fit_churn(feats_cal, merged, clv, p_now, e_now, churn_cfg, cfg)
        clusters = BehaviouralClusters(config=scoring.clusters).fit(merged)
        models = {"churn": scorer, "clusters": clusters}
    else:
        scorer, clusters = fitted.churn, fitted.clusters
        diag_churn, fallbacks, models = dict(fitted.diagnostics.get("churn") or {}), [], {}
        risk = None if scorer is None else scorer.risk(merged, p_alive=p_now, expected_transactions=e_now)
    source = explainer = None
    if scorer is not None:  # without a champion score_frame uses the purchase model's risk
        source = scorer.champion
        explainer = scorer.classifier_ if source == "classifier" else None
    scores = score_frame(
        merged,
        p_alive=p_now,
        expected_transactions=e_now,
        clv=merged["clv"].fillna(0.0).to_numpy(),
        clv_lower=merged["clv_lower"].fillna(0.0).to_numpy(),
        clv_upper=merged["clv_upper"].fillna(0.0).to_numpy(),
        churn_risk=risk,
        churn_risk_source=source,
        churn_model=explainer,
        clusters=clusters,
        config=scoring,
    )
    return {
        "frame": scores,
        "churn": diag_churn,
        "attrs": dict(scores.attrs),
        "fallbacks": fallbacks,
        "churn_champion": None if scorer is None else scorer.champion,
        "models": models,
    }
