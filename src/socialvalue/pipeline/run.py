"""The one-command pipeline: features → CLV models → social value → segments → actions → report.

:func:`run_pipeline` runs every stage on a store as of a date, writes the ``scores`` and ``actions`` tables
(versioned by ``as_of``) and records the run in ``_runs`` (as_of, config hash, model parameters, data snapshot,
timings and memory per stage, diagnostics), so every result can be traced and reproduced.

Back-testing is built in: the calibration period ends ``holdout_periods`` units before ``as_of``; models are
compared, the churn classifier trained and the social-value weights learned on that split, then applied at
``as_of``.
"""

from __future__ import annotations

import json
import logging
import resource
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from socialvalue.pipeline.config import RunConfig
from socialvalue.store import Store

__all__ = ["STAGES", "RunResult", "run_pipeline"]

logger = logging.getLogger(__name__)

STAGES = ("features", "clv", "social", "segments", "actions", "write", "report")
_UNIT_DAYS = {"W": 7.0, "D": 1.0}

#: Feature columns carried into ``scores`` (the playbook's conditions and reasons read them).
_CARRIED = (
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
_CONTRIB = {
    "contrib_crv": "referral_value",
    "contrib_civ": "influence_value",
    "contrib_interaction_score": "interaction_value",
    "contrib_content_score": "content_value",
    "contrib_loyalty_score": "advocacy_value",
}


@dataclass
class RunResult:
    """What a pipeline run produced."""

    run_id: str
    as_of: str
    scores: pd.DataFrame
    actions: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)
    memory_mb: dict[str, float] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)
    report_path: Path | None = None


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class _Stages:
    def __init__(self, on_stage: Callable[[str, str], None] | None) -> None:
        self.timings: dict[str, float] = {}
        self.memory: dict[str, float] = {}
        self.on_stage = on_stage

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        if self.on_stage:
            self.on_stage(name, "start")
        t0 = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - t0, 3)
        self.memory[name] = round(_peak_mb(), 1)
        logger.info("stage %s: %.2f s (peak RSS %.0f MB)", name, self.timings[name], self.memory[name])
        if self.on_stage:
            self.on_stage(name, "end")


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, (pd.Timestamp, datetime)):
        return obj.isoformat()
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    return obj


# -- stage: CLV ---------------------------------------------------------------------------------------------
def _repeat_times(
    store: Store, calibration_end: pd.Timestamp, end: pd.Timestamp, unit_days: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """First-purchase and repeat-purchase times (unit, from the cohort's first day) of the calibration cohort."""
    rows = store.con.execute(
        """
        WITH days AS (
            SELECT DISTINCT o.customer_id, date_trunc('day', o.ordered_at) AS d
            FROM orders o JOIN customers c USING (customer_id)
            WHERE o.status = 'completed' AND o.amount > 0 AND o.ordered_at < ? AND c.consent_profiling
        ), firsts AS (SELECT customer_id, min(d) AS first_d FROM days GROUP BY customer_id HAVING min(d) < ?)
        SELECT f.customer_id, epoch(f.first_d) AS first_s, epoch(d.d) AS day_s
        FROM days d JOIN firsts f USING (customer_id)
        """,
        [end.to_pydatetime(), calibration_end.to_pydatetime()],
    ).fetchall()
    if not rows:
        return np.zeros(0), np.zeros(0), 0.0
    arr = np.array([(r[1], r[2]) for r in rows], dtype=float)
    origin = arr[:, 0].min()
    scale = unit_days * 86400.0
    firsts = np.unique(np.array([r[0] for r in rows]), return_index=True)[1]
    first_t = (arr[firsts, 0] - origin) / scale
    repeat = arr[arr[:, 1] > arr[:, 0], 1]
    return first_t, (repeat - origin) / scale, (calibration_end.timestamp() - origin) / scale


def _clv_stage(
    store: Store,
    feats_cal: pd.DataFrame,
    feats: pd.DataFrame,
    cfg: RunConfig,
    cal_end: pd.Timestamp,
    as_of: pd.Timestamp,
) -> dict[str, Any]:
    from socialvalue.models.btyd import BetaGeo, ModifiedBetaGeo, ParetoNBD
    from socialvalue.models.btyd.diagnostics import conditional_expectations, tracking
    from socialvalue.models.btyd.ladder import fit_purchase_ladder, fit_spend_ladder, spend_frame
    from socialvalue.models.btyd.valuation import value_customers

    unit = cfg.run.unit
    unit_days = _UNIT_DAYS[unit]
    m = cfg.models
    classes = {"BG/NBD": BetaGeo, "MBG/NBD": ModifiedBetaGeo, "Pareto/NBD": ParetoNBD}
    candidates = {
        name: (lambda cls=classes[name]: cls(penalizer_coef=m.purchase_penalizer))
        for name in m.purchase_models
    }
    buyers_cal = feats_cal[feats_cal["frequency"].notna()].reset_index(drop=True)
    now = feats.loc[feats["frequency"].notna().to_numpy()].reset_index(drop=True)
    cal_fit, now_fit, comparison = fit_purchase_ladder(
        buyers_cal,
        now,
        candidates,
        metric=cfg.run.model_metric,
        horizon=float(cfg.run.holdout_periods),
    )

    def spend_ladder(frame: pd.DataFrame) -> Any:
        return fit_spend_ladder(
            spend_frame(frame),
            penalizer=m.spend_penalizer,
            fallback_penalizer=m.spend_fallback_penalizer,
            degenerate_shape=m.degenerate_shape,
            shrinkage_orders=m.shrinkage_orders,
        )

    def value(purchase: Any, frame: pd.DataFrame, interval: float | None) -> tuple[Any, Any]:
        spend = spend_ladder(frame)
        return spend, value_customers(
            purchase,
            spend,
            frame,
            margin=cfg.run.margin,
            annual_rate=cfg.run.annual_discount_rate,
            unit_days=unit_days,
            horizon_periods=cfg.run.horizon_periods,
            forecast_periods=float(cfg.run.holdout_periods),
            interval=interval,
        )

    spend_fit, valuation = value(now_fit, now, 0.9)
    out = valuation.frame.drop(columns=["expected_spend"])
    # CLV at the calibration end, for the referred customers' value inside the learned social value
    clv_cal = pd.Series(dtype=float, name="clv")
    cond = None
    if len(buyers_cal):
        _, cal_val = value(cal_fit, buyers_cal, None)  # a learning input: no interval needed
        clv_cal = pd.Series(
            cal_val.frame["clv"].to_numpy(), index=buyers_cal["customer_id"].to_numpy(), name="clv"
        )
        cond = conditional_expectations(cal_fit.model, buyers_cal)
    first_t, repeat_t, split = _repeat_times(store, cal_end, as_of, unit_days)
    n_periods = int(np.floor(split + cfg.run.holdout_periods))
    track = tracking(cal_fit.model, first_t, repeat_t, np.arange(1, max(n_periods, 1) + 1, dtype=float))
    metric = cfg.run.model_metric
    words = "weeks" if unit == "W" else "days"
    if comparison is not None:
        table = comparison[
            ["rank", "log_likelihood", "aic", "bic", "mae", "rmse", "corr", "predicted_total", "actual_total"]
        ]
        records = table.reset_index().rename(columns={"index": "model"}).round(4).to_dict("records")
    else:
        records = []
    if now_fit.fallback:
        why = now_fit.summary()
    else:
        why = (
            f"lowest holdout {metric} of {len(records)} models fitted on the calibration period "
            f"(ending {cal_end.date()}, {cfg.run.holdout_periods} {words} of holdout)"
        )
    diag = {
        "chosen": now_fit.name,
        "why": why,
        "comparison": records,
        "params": {k: float(v) for k, v in now_fit.model.params_.items()},
        "spend_model": spend_fit.name,
        "spend_params": {k: float(v) for k, v in spend_fit.model.params_.items()},
        "ladders": {"purchase": now_fit.as_dict(), "spend": spend_fit.as_dict()},
        "clv_horizon": valuation.horizon,
        "tracking": {
            "period": track.index.tolist(),
            "actual": track["actual"].tolist(),
            "model": track["model"].tolist(),
        },
        "split_period": split,
        "conditional": None
        if cond is None
        else {
            "frequency": [str(i) for i in cond.index],
            "actual": cond["actual"].tolist(),
            "model": cond["model"].tolist(),
        },
    }
    contest_ = _purchase_contest(cal_fit, buyers_cal, now_fit.name, unit_days, cfg)
    if contest_ is not None:
        diag["champion"] = contest_.as_dict()
        if contest_.baseline_won:  # the baseline's forecast is what the run publishes
            out["expected_transactions"] = _PURCHASE_BASELINES[contest_.champion](
                now, float(cfg.run.holdout_periods), unit_days
            )
    return {
        "frame": out,
        "clv_cal": clv_cal,
        "diag": diag,
        "model": now_fit.model,
        "cal_model": cal_fit.model,
        "spend": spend_fit.model,
    }


def _recent_rate(frame: pd.DataFrame, periods: float, unit_days: float) -> np.ndarray:
    """Purchases of the last 365 days, extrapolated over ``periods`` units."""
    n = pd.to_numeric(frame.get("n_orders_365d", 0), errors="coerce")
    return np.nan_to_num(np.asarray(n, dtype=float)) * periods * unit_days / 365.0


def _lifetime_rate(frame: pd.DataFrame, periods: float, unit_days: float) -> np.ndarray:
    """Repeat purchases per unit since the first purchase (frequency / T), over ``periods`` units."""
    x = np.asarray(pd.to_numeric(frame["frequency"], errors="coerce"), dtype=float)
    t = np.asarray(pd.to_numeric(frame["T"], errors="coerce"), dtype=float)
    rate = np.divide(x, t, out=np.zeros_like(x), where=t > 0)
    return np.nan_to_num(rate) * periods


#: Baselines of next-period purchases an analyst would use, by the name the run log and report show.
_PURCHASE_BASELINES = {
    "purchases in the last 365 days, extrapolated": _recent_rate,
    "repeat purchases per period to date (frequency / T)": _lifetime_rate,
}


def _purchase_contest(
    cal_fit: Any, buyers_cal: pd.DataFrame, name: str, unit_days: float, cfg: RunConfig
) -> Any:
    """The purchase model against the baselines on the holdout (None without calibration buyers)."""
    from socialvalue.models.btyd.diagnostics import holdout_predictions
    from socialvalue.pipeline.champions import Candidate, contest

    if len(buyers_cal) < 2 or "holdout_transactions" not in buyers_cal:
        return None
    duration = np.asarray(buyers_cal["holdout_duration"], dtype=float)
    cands = {
        cal_fit.name: Candidate(
            "model", holdout_predictions(cal_fit.model, buyers_cal, "holdout_duration").to_numpy(), True
        )
    }
    for label, fn in _PURCHASE_BASELINES.items():
        cands[label] = Candidate("baseline", fn(buyers_cal, 1.0, unit_days) * duration, True)
    words = "weeks" if cfg.run.unit == "W" else "days"
    return contest(
        "next-period purchases",
        cands,
        np.nan_to_num(np.asarray(buyers_cal["holdout_transactions"], dtype=float)),
        outcome=f"purchases in the {cfg.run.holdout_periods}-{words[:-1]} holdout",
    )


# -- stage: social ------------------------------------------------------------------------------------------
def _graph_metrics(
    store: Store, customer_ids: np.ndarray, cfg: RunConfig, as_of: pd.Timestamp
) -> tuple[pd.DataFrame, Any, dict[str, Any]]:
    """Followers, 2-hop reach, weighted PageRank and independent-cascade spread of every customer."""
    from socialvalue.social import Graph, InfluenceModel, followers, influence_edges, pagerank, reach

    start = as_of - pd.Timedelta(days=cfg.social.interaction_window_days)
    rel = store.query_df(
        "SELECT src_id, dst_id, kind, created_at, ended_at FROM relationships WHERE created_at IS NULL OR created_at < ? "
        "ORDER BY src_id, dst_id, kind, created_at",
        [as_of.to_pydatetime()],
    )
    inter = store.query_df(
        "SELECT actor_id, target_customer_id, kind, occurred_at FROM interactions "
        "WHERE target_customer_id IS NOT NULL AND occurred_at >= ? AND occurred_at < ? "
        "ORDER BY actor_id, target_customer_id, occurred_at, kind, event_id",
        [start.to_pydatetime(), as_of.to_pydatetime()],
    )
    edges = influence_edges(
        rel,
        inter,
        as_of=as_of,
        half_life_days=cfg.social.spread_half_life_days,
        window_days=cfg.social.interaction_window_days,
    )
    all_ids = store.query_df("SELECT customer_id FROM customers ORDER BY customer_id")[
        "customer_id"
    ].to_numpy()
    graph = Graph.from_edges(
        edges["src"].to_numpy(), edges["dst"].to_numpy(), edges["weight"].to_numpy(), nodes=all_ids
    )
    actions = store.query_df(
        "SELECT actor_id AS user_id, content_id AS action_id, occurred_at AS time FROM interactions "
        "WHERE content_id IS NOT NULL AND occurred_at >= ? AND occurred_at < ? "
        "ORDER BY action_id, user_id, time",
        [start.to_pydatetime(), as_of.to_pydatetime()],
    )
    im = InfluenceModel(
        tau=pd.Timedelta(days=cfg.social.propagation_days),
        n_sets=cfg.social.rr_sets,
        random_state=cfg.run.seed,
    ).fit(graph, actions)
    spread = im.spread()
    metrics = pd.DataFrame(
        {
            "followers_graph": followers(graph),
            "reach_2hop": reach(graph, 2),
            "pagerank": pagerank(graph),
            "spread": spread["spread"],
            "spread_lower": spread["lower"],
            "spread_upper": spread["upper"],
        }
    )
    metrics.index.name = "customer_id"
    metrics = metrics.reindex(customer_ids).reset_index()
    info = {
        "nodes": int(graph.n),
        "edges": int(graph.m),
        "rr_sets": int(spread.attrs.get("n_sets", cfg.social.rr_sets)),
    }
    return metrics, (graph, edges), info


def _network_picture(edges: pd.DataFrame, scores: pd.DataFrame, top: int) -> dict[str, Any]:
    """The top customers by social value and the accounts they influence directly (for the report)."""
    top_ids = scores.nlargest(top, "csv")["customer_id"].tolist()
    # only scored customers (who consented to profiling) may be named: the neighbours are filtered too
    scored = set(scores["customer_id"])
    e = edges[edges["src"].isin(top_ids) & edges["dst"].isin(scored)].nlargest(top * 12, "weight")
    ids = list(dict.fromkeys(top_ids + e["dst"].tolist()))
    pos = {c: i for i, c in enumerate(ids)}
    val = scores.set_index("customer_id")["csv"].reindex(ids).fillna(0.0)
    return {
        "nodes": [
            {"label": str(c), "size": float(v), "color": float(v), "top": c in set(top_ids)}
            for c, v in zip(ids, val.to_numpy(), strict=True)
        ],
        "edges": [[pos[s], pos[d]] for s, d in zip(e["src"], e["dst"], strict=True)],
    }


def _social_stage(
    store: Store,
    feats_cal: pd.DataFrame,
    feats: pd.DataFrame,
    clv: pd.DataFrame,
    clv_cal: pd.Series,
    cfg: RunConfig,
    cal_end: pd.Timestamp,
    as_of: pd.Timestamp,
) -> dict[str, Any]:
    from socialvalue.errors import SocialValueError
    from socialvalue.features.social_inputs import (
        audience_activity,
        holdout_value,
        influence_credit_frame,
        social_components,
    )
    from socialvalue.social.customer_value import (
        AUDIENCE_COMPONENTS,
        DEFAULT_COMPONENTS,
        OWN_ACTIVITY_COMPONENTS,
        CustomerSocialValue,
    )
    from socialvalue.social.influence_value import cap_influence_value

    ids = feats["customer_id"].to_numpy()
    graph_now, (_, edges), graph_info = _graph_metrics(store, ids, cfg, as_of)
    graph_cal, _, _ = _graph_metrics(store, ids, cfg, cal_end)

    # learn only on customers who existed at the calibration end: later sign-ups have holdout revenue but
    # no calibration history, and would teach the model that history does not matter
    x_cal = social_components(store, cal_end, clv=clv_cal)
    x_cal = x_cal[x_cal["customer_id"].isin(set(feats_cal["customer_id"]))].reset_index(drop=True)
    x_cal = x_cal.merge(graph_cal[["customer_id", "spread"]], on="customer_id", how="left")
    x_cal["clv"] = x_cal["customer_id"].map(clv_cal).fillna(0.0).to_numpy()
    # strong simple signals compete as components: the customer's recent activity and trend (their own
    # value) and their audience's recent activity (value through others)
    x_cal = _with_activity(x_cal, feats_cal, audience_activity(store, cal_end))
    holdout = holdout_value(store, cal_end, as_of).set_index("customer_id")
    y = x_cal["customer_id"].map(holdout["holdout_value"]).fillna(0.0).to_numpy()
    components = (*DEFAULT_COMPONENTS, *OWN_ACTIVITY_COMPONENTS, *AUDIENCE_COMPONENTS)

    def learner() -> CustomerSocialValue:
        return CustomerSocialValue(
            components=components,
            own_columns=OWN_ACTIVITY_COMPONENTS,
            influencer_share=cfg.social.influencer_top_share,
            random_state=cfg.run.seed,
        )

    fallbacks: list[str] = []
    model: CustomerSocialValue | None = learner()
    try:
        model.fit(x_cal.fillna(0.0), y)
    except (SocialValueError, ValueError, np.linalg.LinAlgError) as exc:
        model = None
        fallbacks.append(
            f"social value: the weights could not be learned ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); "
            "customer social value is CLV alone"
        )

    clv_now = clv.set_index("customer_id")["clv"]
    x_now = social_components(store, as_of, clv=clv_now)
    x_now = x_now.merge(graph_now, on="customer_id", how="left")
    x_now["clv"] = x_now["customer_id"].map(clv_now).fillna(0.0).to_numpy()
    x_now = _with_activity(x_now, feats, audience_activity(store, as_of))
    x_now = x_now.fillna({"spread": 1.0})  # a customer always reaches themselves
    if model is not None:
        out = model.transform(x_now)
    else:
        csv = x_now["clv"].to_numpy(float)
        out = pd.DataFrame(
            {
                "csv": csv,
                "csv_percentile": 100.0 * pd.Series(csv).rank(pct=True, method="average").to_numpy(),
                "influencer_score": 0.0,
                "influencer": False,
            },
            index=x_now.index,
        )
    inputs = x_now.drop(columns=["clv", *OWN_ACTIVITY_COMPONENTS, *AUDIENCE_COMPONENTS], errors="ignore")
    out = pd.concat([inputs, out.drop(columns=["customer_id"], errors="ignore")], axis=1)
    out = out.rename(columns=_CONTRIB)
    for col in _CONTRIB.values():
        if col not in out:
            out[col] = 0.0  # a withheld component contributes nothing
    # no customer's influence value may exceed the purchases it is credited with (the CSV shrinks with it)
    credits = influence_credit_frame(store, as_of)
    out = cap_influence_value(out, credits["credited_value"].set_index("customer_id")["credited_value"])
    out = out.drop(columns=["influence_value_capped"], errors="ignore")
    out["csv_percentile"] = 100.0 * out["csv"].rank(pct=True, method="average").to_numpy()
    # value through others only: the CLV and the customer's own recent activity are their own value
    if "own_activity_value" not in out:
        out["own_activity_value"] = 0.0
    own_clv = out["contrib_clv"].to_numpy(float) if "contrib_clv" in out else np.zeros(len(out))
    out["social_value"] = (
        out["csv"] - own_clv - out["own_activity_value"] if model is not None else 0.0 * out["csv"]
    )
    out["csv_percentile"] = out["csv_percentile"].astype(float)
    if model is not None:
        diag = model.report_.to_diagnostics()
        diag["scale_to_clv"] = bool(model.scale_to_clv)
    else:
        diag = {"weights": {}, "messages": list(fallbacks), "fallback": fallbacks[0]}
    diag["graph"] = graph_info
    diag["targets"], fitted_targets = _two_targets(learner, x_cal, holdout, feats_cal, cfg)
    # value through others: its holdout champion is published beside the customer value
    network = diag["targets"].get("through_others", {}).get("contest")
    if network is not None:
        out["network_source"] = network["champion"]
        out["network_score"] = _network_score(
            network["champion"], fitted_targets.get("through_others"), x_now, feats
        )
    else:  # nobody brought value through others in the holdout: nothing to rank
        out["network_source"] = "none (no value through others in the holdout)"
        out["network_score"] = 0.0
    out["network_percentile"] = 100.0 * out["network_score"].rank(pct=True, method="average").fillna(0.0)
    diag["network_champion"] = network
    champion = _value_contest(model, x_cal, y, feats_cal, cfg)
    diag["champion"] = champion.as_dict()
    out["value_source"] = champion.champion
    out["value_score"] = np.asarray(_VALUE_SCORES[champion.champion](out, x_now, feats), dtype=float)
    out["value_percentile"] = 100.0 * out["value_score"].rank(pct=True, method="average").fillna(0.0)
    return {
        "frame": out,
        "diag": diag,
        "edges": edges,
        "model": model,
        "fallbacks": fallbacks,
        "contributors": credits["contributors"],
    }


def _with_activity(x: pd.DataFrame, feats: pd.DataFrame, audience: pd.DataFrame) -> pd.DataFrame:
    """``x`` with the customer's recent activity and trend, and their audience's recent activity."""
    ids = x["customer_id"]
    n_last, n_prev = _by_id(feats, ids, "orders_last_90d"), _by_id(feats, ids, "orders_prev_90d")
    return x.assign(
        n_orders_365d=_by_id(feats, ids, "n_orders_365d"),
        spend_365d=_by_id(feats, ids, "spend_365d"),
        # the trend as growth only (last 90 days over the 90 before, floored at 0): a component never
        # subtracts, so the value stays at least the CLV; a decline shows as a smaller recent count
        orders_growth_90d=np.maximum(n_last - n_prev, 0.0),
        audience_orders_365d=_by_id(audience, ids, "audience_orders_365d"),
        audience_spend_365d=_by_id(audience, ids, "audience_spend_365d"),
    )


#: The two targets learned beside the published value: name -> (holdout columns summed, words).
_TARGETS = {
    "own": (("holdout_own_revenue",), "the customer's own value in the holdout"),
    "through_others": (
        ("holdout_referred_revenue", "holdout_influenced_revenue"),
        "the value customers brought through others in the holdout",
    ),
}


def _two_targets(
    learner: Callable[[], Any],
    x_cal: pd.DataFrame,
    holdout: pd.DataFrame,
    feats_cal: pd.DataFrame,
    cfg: RunConfig,
) -> dict[str, Any]:
    """Fit the value on each target apart (own, through others) and rank it against the baselines.

    Each entry holds the learned weights and the holdout contest of that target's out-of-fold value, CLV
    alone, the analyst's baselines and the audience's recent purchases (the naive baseline of value
    through others). The published value is not changed by these fits.
    """
    from socialvalue.errors import SocialValueError
    from socialvalue.pipeline.champions import Candidate, contest

    ids = x_cal["customer_id"]
    out: dict[str, Any] = {}
    fitted: dict[str, Any] = {}
    for name, (cols, words) in _TARGETS.items():
        y = np.zeros(len(x_cal))
        for c in cols:
            y = y + _by_id(holdout.reset_index(), ids, c)
        cands = {}
        entry: dict[str, Any] = {"outcome": words, "total": float(y.sum())}
        try:
            model = learner().fit(x_cal.fillna(0.0), y)
        except (SocialValueError, ValueError, np.linalg.LinAlgError) as exc:
            entry["fallback"] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        else:
            fitted[name] = model
            entry["weights"] = model.report_.to_diagnostics()["weights"]
            entry["messages"] = list(model.report_.messages)
            if not model.published_weights_.empty:
                cands["customer value (learned on this target)"] = Candidate("model", model.oof_predictions_)
        cands["CLV alone"] = Candidate("model", x_cal["clv"].to_numpy(dtype=float))
        for label, col in _VALUE_BASELINES.items():
            cands[label] = Candidate("baseline", _by_id(feats_cal, ids, col))
        cands["followers' purchases in the last 365 days"] = Candidate(
            "baseline", x_cal["audience_orders_365d"].to_numpy(dtype=float)
        )
        if y.any():
            entry["contest"] = contest(name.replace("_", " ") + " value", cands, y, outcome=words).as_dict()
        out[name] = entry
    return out, fitted


def _network_score(name: str, fitted: Any, x_now: pd.DataFrame, feats: pd.DataFrame) -> np.ndarray:
    """The score of the value-through-others champion ``name`` for every customer at as_of."""
    ids = x_now["customer_id"]
    if name == "customer value (learned on this target)":
        return np.asarray(fitted.predict(x_now.fillna(0.0)), dtype=float)
    if name == "CLV alone":
        return x_now["clv"].to_numpy(dtype=float)
    if name == "followers' purchases in the last 365 days":
        return x_now["audience_orders_365d"].to_numpy(dtype=float)
    return _by_id(feats, ids, _VALUE_BASELINES[name])


def _by_id(frame: pd.DataFrame, ids: pd.Series, column: str) -> np.ndarray:
    if column not in frame:
        return np.zeros(len(ids))
    values = frame.set_index("customer_id")[column]
    return np.nan_to_num(pd.to_numeric(ids.map(values), errors="coerce").to_numpy(dtype=float))


#: The customer-value candidates: name -> score of each customer at as_of, from the social frame ``out``, the
#: social inputs ``x`` and the features ``f``.
_VALUE_SCORES: dict[str, Callable[[pd.DataFrame, pd.DataFrame, pd.DataFrame], Any]] = {
    "customer social value (learned)": lambda out, x, f: out["csv"].to_numpy(dtype=float),
    "CLV alone": lambda out, x, f: x["clv"].to_numpy(dtype=float),
    "net spend in the last 365 days": lambda out, x, f: _by_id(f, x["customer_id"], "spend_365d"),
    "purchases in the last 365 days": lambda out, x, f: _by_id(f, x["customer_id"], "n_orders_365d"),
    "net spend to date": lambda out, x, f: _by_id(f, x["customer_id"], "total_spend"),
}
_VALUE_BASELINES = {
    "net spend in the last 365 days": "spend_365d",
    "purchases in the last 365 days": "n_orders_365d",
    "net spend to date": "total_spend",
}


def _value_contest(
    model: Any, x_cal: pd.DataFrame, y: np.ndarray, feats_cal: pd.DataFrame, cfg: RunConfig
) -> Any:
    """The learned value (out of fold), CLV alone and the analyst's baselines, ranked on the holdout value."""
    from socialvalue.pipeline.champions import Candidate, contest

    ids = x_cal["customer_id"]
    cands = {}
    if model is not None and not model.published_weights_.empty:
        cands["customer social value (learned)"] = Candidate("model", np.asarray(model.oof_predictions_))
    cands["CLV alone"] = Candidate("model", x_cal["clv"].to_numpy(dtype=float))
    for name, col in _VALUE_BASELINES.items():
        cands[name] = Candidate("baseline", _by_id(feats_cal, ids, col))
    words = "weeks" if cfg.run.unit == "W" else "days"
    return contest(
        "customer value",
        cands,
        np.asarray(y, dtype=float),
        outcome=f"the value customers created in the {cfg.run.holdout_periods}-{words[:-1]} holdout",
    )


# -- stage: segments ----------------------------------------------------------------------------------------
def _segments_stage(
    feats_cal: pd.DataFrame, feats: pd.DataFrame, clv: dict[str, Any], cfg: RunConfig
) -> dict[str, Any]:
    from socialvalue.errors import SocialValueError
    from socialvalue.models.churn import load_churn_config
    from socialvalue.models.churn_choice import select_churn_risk
    from socialvalue.models.scoring import load_scoring_config, score_frame

    merged = feats.merge(clv["frame"], on="customer_id", how="left")
    labelled = feats_cal[feats_cal["holdout_transactions"].notna() & feats_cal["frequency"].notna()]
    labelled = labelled.reset_index(drop=True)
    # the label is "no purchase in the holdout", so the churn horizon is the holdout's length
    horizon = round(_UNIT_DAYS[cfg.run.unit] * cfg.run.holdout_periods)
    churn_cfg = load_churn_config().model_copy(
        update={"horizon_days": horizon, "alert_budget": cfg.run.churn_alert_share}
    )
    p_now = merged["p_alive"].fillna(0.0).to_numpy()
    e_now = merged["expected_transactions"].fillna(0.0).to_numpy()  # over the next holdout_periods
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
        choice = None
        fallbacks.append(
            f"churn: no churn score could be evaluated on the holdout ({str(exc).splitlines()[0]}); churn "
            f"risk is the purchase model's probability of no purchase in the next {horizon} days"
        )
    else:
        fallbacks.extend(choice.notes)
    scoring = load_scoring_config().model_copy(update={"churn": churn_cfg})
    scores = score_frame(
        merged,
        p_alive=p_now,
        expected_transactions=e_now,
        clv=merged["clv"].fillna(0.0).to_numpy(),
        clv_lower=merged["clv_lower"].fillna(0.0).to_numpy(),
        clv_upper=merged["clv_upper"].fillna(0.0).to_numpy(),
        churn_choice=choice,
        config=scoring,
    )
    if choice is None:
        diag_churn = {
            "definition": churn_cfg.definition,
            "horizon_days": horizon,
            "source": "model",
            "fallback": fallbacks[0],
        }
    else:
        diag_churn = choice.as_dict()  # champion, sentence, every candidate's holdout metrics, horizon
    return {"frame": scores, "churn": diag_churn, "attrs": dict(scores.attrs), "fallbacks": fallbacks}


def _transitions(store: Store, scores: pd.DataFrame, as_of: pd.Timestamp) -> dict[str, Any] | None:
    """Stage movement since the latest earlier scoring of this store, if any."""
    from socialvalue.models.lifecycle import stage_transitions

    if not store.has_table("scores"):
        return None
    prev = store.scalar("SELECT max(as_of) FROM scores WHERE as_of < ?", [as_of.date()])
    if prev is None:
        return None
    before = store.query_df("SELECT customer_id, lifecycle_stage FROM scores WHERE as_of = ?", [prev])
    tr = stage_transitions(before, scores[["customer_id", "lifecycle_stage"]])
    stages = [s for s in tr.counts.index if s in tr.counts.columns]
    m = tr.counts.loc[stages, stages]
    return {
        "stages": stages,
        "matrix": m.to_numpy().tolist(),
        "from": str(prev),
        "to": str(as_of.date()),
        "slipping": len(tr.slipping),
    }


def _top_contributors(contributors: pd.DataFrame, scores: pd.DataFrame, top: int = 25) -> dict[str, Any]:
    """The few largest contributors to the influence value of the top customers (scored customers only)."""
    if contributors is None or contributors.empty or "civ" not in contributors:
        return {}
    scored = set(scores["customer_id"].astype(str))
    lead = scores.nlargest(top, "csv")["customer_id"].astype(str).tolist()
    c = contributors.assign(
        influencer_id=contributors["influencer_id"].astype(str),
        customer_id=contributors["customer_id"].astype(str),
    )
    c = c[c["influencer_id"].isin(set(lead)) & c["customer_id"].isin(scored) & (c["civ"] > 0)]
    return {
        str(k): [
            {"customer_id": r.customer_id, "civ": float(r.civ), "share": float(r.civ_share)}
            for r in g.sort_values("rank").head(3).itertuples()
        ]
        for k, g in c.groupby("influencer_id", sort=True)
    }


# -- stage: actions -----------------------------------------------------------------------------------------
def _campaign_values(
    store: Store, scores: pd.DataFrame, playbook: Any, cfg: RunConfig
) -> tuple[dict[str, np.ndarray] | None, dict[str, Any] | None]:
    """Per-customer incremental values of the actions past campaigns measured (None without campaign data)."""
    from socialvalue.decisions import campaign_uplift
    from socialvalue.errors import ConfigError

    if not cfg.actions.campaign:
        return None, None
    path = Path(cfg.actions.campaign)
    if not path.exists():
        raise ConfigError(f"campaign file {str(path)!r} does not exist")
    from socialvalue.sqlsafe import reader_path

    query = (
        "SELECT * FROM read_parquet(?)" if path.suffix.lower() == ".parquet" else "SELECT * FROM read_csv(?)"
    )
    camp = store.con.sql(query, params=[reader_path(path)]).df()
    names = {a.name for a in playbook.actions}
    unknown = sorted(set(camp.get("action", pd.Series(dtype=str)).astype(str)) - names)
    if unknown:
        raise ConfigError(f"campaign file {path.name}: actions not in the playbook: {', '.join(unknown)}")
    segments = scores.set_index("customer_id")["segment"]
    est, curves, values = campaign_uplift(camp, segments, margin=cfg.run.margin)
    estimated = {a: scores["segment"].map(v).fillna(0.0).to_numpy(float) for a, v in values.items()}
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
    return estimated, diag


# -- stage: write -------------------------------------------------------------------------------------------
def _replace_rows(store: Store, table: str, frame: pd.DataFrame, as_of: str) -> None:
    """Replace the rows of ``as_of`` in ``table`` by ``frame`` (creating or widening the table as needed).

    One ``CREATE TABLE ... AS`` with all the rows, old and new (``UNION ALL BY NAME`` widens the table to new
    columns). DuckDB 2.0.0 loses the rows of an INSERT into a table made empty (CTAS ... LIMIT 0) in the same
    transaction once they pass one row group (122,880 rows): the same connection then scans 0 rows although
    count(*) is right; a table created with its rows is not affected.
    """
    from socialvalue.sqlsafe import ident

    con = store.con
    con.register("_sv_frame", frame)
    try:
        if not store.has_table(table):
            con.execute(f"CREATE TABLE {ident(table)} AS SELECT * FROM _sv_frame")
            return
        con.execute(
            f"CREATE OR REPLACE TABLE {ident(table)} AS SELECT * FROM {ident(table)} WHERE as_of <> ? "
            "UNION ALL BY NAME SELECT * FROM _sv_frame",
            [as_of],
        )
    finally:
        con.unregister("_sv_frame")


def _record_run(store: Store, row: dict[str, Any]) -> None:
    store.con.execute(
        """CREATE TABLE IF NOT EXISTS _runs (
            run_id VARCHAR PRIMARY KEY, as_of DATE NOT NULL, started_at TIMESTAMP, finished_at TIMESTAMP,
            socialvalue_version VARCHAR, config_hash VARCHAR, config_json VARCHAR, params_json VARCHAR,
            snapshot_json VARCHAR, timings_json VARCHAR, memory_json VARCHAR, diagnostics_json VARCHAR)"""
    )
    cols = list(row)
    store.con.execute(
        f"INSERT INTO _runs ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
        [row[c] for c in cols],
    )


def _snapshot(store: Store) -> dict[str, Any]:
    from socialvalue.schema import KINDS, TABLES
    from socialvalue.sqlsafe import ident

    snap = {}
    for kind in KINDS:
        tc = TABLES[kind].time_column
        n, last = store.con.execute(f"SELECT count(*), max({ident(tc)}) FROM {ident(kind)}").fetchall()[0]
        snap[kind] = {"rows": int(n), "max_time": None if last is None else str(last)}
    return snap


# -- the pipeline -------------------------------------------------------------------------------------------
def run_pipeline(
    store: Store,
    as_of: Any,
    config: RunConfig | None = None,
    *,
    report: str | Path | None = None,
    on_stage: Callable[[str, str], None] | None = None,
) -> RunResult:
    """Run features → models → social value → segments → actions (→ report) as of ``as_of``.

    Parameters
    ----------
    store
        The store holding the canonical tables; ``scores``, ``actions`` and ``_runs`` are written to it.
    as_of
        Scoring date (exclusive: events before 00:00 UTC of that day count).
    config
        The run configuration (defaults when None).
    report
        Path of the HTML report to write, or None for no report.
    on_stage
        Callback ``(stage, "start"|"end")`` for progress displays.

    Returns
    -------
    RunResult
    """
    from socialvalue.decisions import default_playbook, load_playbook
    from socialvalue.errors import ConfigError
    from socialvalue.pipeline.preflight import check_dates, converted_orders, resolve_as_of, resolve_money

    cfg = config or RunConfig()
    # every check that can refuse the run happens here, before any work and any write
    as_of_ts = resolve_as_of(store, as_of)
    data_range = check_dates(store, as_of_ts, cfg)
    money = resolve_money(store, as_of_ts, cfg)
    playbook = load_playbook(cfg.actions.playbook) if cfg.actions.playbook else default_playbook()
    if playbook.currency is not None and playbook.currency != money.currency:
        raise ConfigError(
            f"the playbook's costs are in {playbook.currency} but this run's amounts are in {money.currency}: "
            f'set currency = "{money.currency}" in the playbook with costs in {money.currency}, or remove the key'
        )
    unit_days = _UNIT_DAYS[cfg.run.unit]
    cal_end = as_of_ts - pd.Timedelta(days=unit_days * cfg.run.holdout_periods)
    run_id = uuid.uuid4().hex[:12]
    started = datetime.now(UTC).replace(tzinfo=None)
    stage = _Stages(on_stage)
    with converted_orders(store, money):
        return _run_stages(
            store, cfg, playbook, as_of_ts, cal_end, run_id, started, stage, data_range, money, report
        )


def _run_stages(
    store: Store,
    cfg: RunConfig,
    playbook: Any,
    as_of_ts: pd.Timestamp,
    cal_end: pd.Timestamp,
    run_id: str,
    started: datetime,
    stage: _Stages,
    data_range: Any,
    money: Any,
    report: str | Path | None,
) -> RunResult:
    from socialvalue import __version__
    from socialvalue.decisions import allocate
    from socialvalue.features import build

    as_of_str = str(as_of_ts.date())
    with stage("features"):
        # computed, not stored: a run writes nothing until its results are complete
        feats_cal = build(store, as_of=cal_end, unit=cfg.run.unit, holdout_end=as_of_ts, materialize=False)
        feats = build(store, as_of=as_of_ts, unit=cfg.run.unit, materialize=False)
        logger.info("features: %d customers at %s, %d in calibration", len(feats), as_of_str, len(feats_cal))
    with stage("clv"):
        clv = _clv_stage(store, feats_cal, feats, cfg, cal_end, as_of_ts)
    with stage("social"):
        social = _social_stage(store, feats_cal, feats, clv["frame"], clv["clv_cal"], cfg, cal_end, as_of_ts)
    with stage("segments"):
        seg = _segments_stage(feats_cal, feats, clv, cfg)
    with stage("actions"):
        carried = feats[["customer_id", *[c for c in _CARRIED if c in feats.columns]]]
        scores = seg["frame"].merge(carried, on="customer_id", how="left")
        scores = scores.merge(social["frame"], on="customer_id", how="left", suffixes=("", "_social"))
        scores["segment"] = scores["rfm_segment"]
        scores["influencer"] = scores["influencer"].fillna(False).astype(bool)
        num = scores.select_dtypes("number").columns
        scores[num] = scores[num].fillna(0.0)
        scores.insert(1, "as_of", as_of_ts.date())
        estimated, uplift_diag = _campaign_values(store, scores, playbook, cfg)
        plan = allocate(scores, playbook, budget=cfg.actions.budget, estimated_values=estimated)
        plan.insert(1, "as_of", as_of_ts.date())
        # every money column of both tables (and of their exports) is in the run's reporting currency
        scores["currency"] = money.currency
        plan["currency"] = money.currency
    transitions = _transitions(store, scores, as_of_ts)
    fallbacks = (
        [lad["summary"] for lad in clv["diag"]["ladders"].values() if lad["fallback"]]
        + seg.get("fallbacks", [])
        + social.get("fallbacks", [])
    )
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
        "transitions": transitions,
        "network": _network_picture(social["edges"], scores, cfg.social.network_top),
        "influence_contributors": _top_contributors(social["contributors"], scores),
        "uplift_estimated": uplift_diag is not None,
        "uplift": uplift_diag,
        "budget": cfg.actions.budget if cfg.actions.budget is not None else playbook.budget,
    }
    for note in fallbacks:
        logger.warning("fallback: %s", note)
    with stage("write"):
        store.con.execute("BEGIN TRANSACTION")
        try:
            _replace_rows(store, "scores", scores, as_of_str)
            _replace_rows(store, "actions", plan, as_of_str)
            _record_run(
                store,
                {
                    "run_id": run_id,
                    "as_of": as_of_ts.date(),
                    "started_at": started,
                    "finished_at": datetime.now(UTC).replace(tzinfo=None),
                    "socialvalue_version": __version__,
                    "config_hash": cfg.digest(),
                    "config_json": json.dumps(cfg.model_dump(mode="json")),
                    "params_json": json.dumps(
                        _jsonable(
                            {
                                "transaction_model": clv["diag"]["chosen"],
                                "transaction": clv["diag"]["params"],
                                "spend": clv["diag"]["spend_params"],
                                "csv_weights": social["diag"]["weights"],
                            }
                        )
                    ),
                    "snapshot_json": json.dumps(_snapshot(store)),
                    "timings_json": json.dumps(stage.timings),
                    "memory_json": json.dumps(stage.memory),
                    "diagnostics_json": json.dumps(_jsonable(diagnostics)),
                },
            )
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
        [json.dumps(stage.timings), json.dumps(stage.memory), datetime.now(UTC).replace(tzinfo=None), run_id],
    )
    return RunResult(
        run_id=run_id,
        as_of=as_of_str,
        scores=scores,
        actions=plan,
        timings=stage.timings,
        memory_mb=stage.memory,
        diagnostics=diagnostics,
        report_path=report_path,
    )
