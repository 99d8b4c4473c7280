"""The social stage: graph measures at the date, the learned customer social value, and its holdout contests.

Fitting (a run): the value's weights are learned on the calibration/holdout split
(:class:`~socialvalue.social.customer_value.CustomerSocialValue`), once on the published target and once on each
of its two parts (own value, value through others); the learned value competes with CLV alone and the analyst's
baselines on the holdout, for the customer value and for the value through others.

Applying (a run, and a scoring with stored models): the social components and graph measures at ``as_of``,
the learned value's decomposition, the cap of each influence value at the purchases it is credited with, and
the published champions' scores. Graph measures (followers, 2-hop reach, PageRank, independent-cascade spread)
describe the graph at the date and are always computed afresh; the spread's edge probabilities too (see
:class:`~socialvalue.social.imm.InfluenceModel`). Scoring passes the stored value models and champions and runs
only this part.

On Spark (``native``, :class:`~socialvalue.pipeline.spark_run.SparkNative`) the graph measures are computed on
the edges where they are; the social components and the learning run here on the frames the engine returns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from socialvalue.pipeline.config import RunConfig
from socialvalue.pipeline.runner import StageSpec

__all__ = ["CONTRIB", "SPEC", "social_stage"]

#: The feature columns the stage reads (the runner asks the engine for no others) and what it writes.
SPEC = StageSpec(
    "social",
    features=(
        "n_orders",
        "n_orders_365d",
        "orders_last_90d",
        "orders_prev_90d",
        "referrals_made",
        "referred_revenue",
        "signup_at",
        "spend_365d",
        "tenure_days",
        "total_spend",
    ),
    reads=("clv",),
    writes=("social",),
)


#: Social-value contribution columns -> the names ``scores`` gives them.
CONTRIB = {
    "contrib_crv": "referral_value",
    "contrib_civ": "influence_value",
    "contrib_interaction_score": "interaction_value",
    "contrib_content_score": "content_value",
    "contrib_loyalty_score": "advocacy_value",
}


def _graph_metrics(
    engine: Any,
    customer_ids: np.ndarray,
    cfg: RunConfig,
    as_of: pd.Timestamp,
    *,
    spread_only: bool = False,
    native: Any = None,
) -> tuple[pd.DataFrame, Any, dict[str, Any]]:
    """Followers, 2-hop reach, weighted PageRank and independent-cascade spread of every customer.

    The graph is built on integer codes assigned in the engine
    (:func:`~socialvalue.pipeline.social_inputs.influence_graph`). ``spread_only``: only the spread (all
    the learning at the calibration end reads). ``native``: computed by the Spark run's
    :meth:`~socialvalue.pipeline.spark_run.SparkNative.graph_metrics` (the same columns).
    """
    if native is not None:
        return native.graph_metrics(engine, customer_ids, cfg, as_of, spread_only=spread_only)
    from socialvalue.features.social_inputs import content_actions_query
    from socialvalue.pipeline.social_inputs import influence_graph
    from socialvalue.social import InfluenceModel, followers, pagerank, reach

    graph = influence_graph(
        engine,
        as_of,
        half_life_days=cfg.social.spread_half_life_days,
        window_days=cfg.social.interaction_window_days,
    )
    actions = engine.frame(content_actions_query(as_of, window_days=cfg.social.interaction_window_days))
    im = InfluenceModel(
        tau=pd.Timedelta(days=cfg.social.propagation_days),
        n_sets=cfg.social.rr_sets,
        random_state=cfg.run.seed,
    ).fit(graph, actions)
    spread = im.spread()
    measures = (
        {}
        if spread_only
        else {
            "followers_graph": followers(graph),
            "reach_2hop": reach(graph, 2),
            "pagerank": pagerank(graph),
        }
    )
    metrics = pd.DataFrame(
        {
            **measures,
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
    return metrics, graph, info


def _learner(cfg: RunConfig) -> Callable[[], Any]:
    from socialvalue.social.customer_value import (
        AUDIENCE_COMPONENTS,
        DEFAULT_COMPONENTS,
        OWN_ACTIVITY_COMPONENTS,
        CustomerSocialValue,
    )

    components = (*DEFAULT_COMPONENTS, *OWN_ACTIVITY_COMPONENTS, *AUDIENCE_COMPONENTS)

    def learner() -> CustomerSocialValue:
        return CustomerSocialValue(
            components=components,
            own_columns=OWN_ACTIVITY_COMPONENTS,
            influencer_share=cfg.social.influencer_top_share,
            random_state=cfg.run.seed,
        )

    return learner


def _fit(
    engine: Any,
    feats_cal: pd.DataFrame,
    ids: np.ndarray,
    clv_cal: pd.Series,
    cfg: RunConfig,
    cal_end: pd.Timestamp,
    as_of: pd.Timestamp,
    native: Any = None,
) -> dict[str, Any]:
    """Learn the value on the calibration/holdout split and hold its two contests."""
    from socialvalue.errors import SocialValueError
    from socialvalue.pipeline.social_inputs import audience_activity, holdout_value, social_components

    graph_cal, _, _ = _graph_metrics(engine, ids, cfg, cal_end, spread_only=True, native=native)
    # learn only on customers who existed at the calibration end: later sign-ups have holdout revenue but
    # no calibration history, and would teach the model that history does not matter
    x_cal = social_components(engine, cal_end, clv=clv_cal)
    x_cal = x_cal[x_cal["customer_id"].isin(set(feats_cal["customer_id"]))].reset_index(drop=True)
    x_cal = x_cal.merge(graph_cal[["customer_id", "spread"]], on="customer_id", how="left")
    x_cal["clv"] = x_cal["customer_id"].map(clv_cal).fillna(0.0).to_numpy()
    # strong simple signals compete as components: the customer's recent activity and trend (their own
    # value) and their audience's recent activity (value through others)
    x_cal = _with_activity(x_cal, feats_cal, audience_activity(engine, cal_end))
    holdout = holdout_value(engine, cal_end, as_of).set_index("customer_id")
    y = x_cal["customer_id"].map(holdout["holdout_value"]).fillna(0.0).to_numpy()
    learner = _learner(cfg)

    fallbacks: list[str] = []
    model: Any = learner()
    try:
        model.fit(x_cal.fillna(0.0), y)
    except (SocialValueError, ValueError, np.linalg.LinAlgError) as exc:
        model = None
        fallbacks.append(
            f"social value: the weights could not be learned ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); "
            "customer social value is CLV alone"
        )
    if model is not None:
        diag = model.report_.to_diagnostics()
        diag["scale_to_clv"] = bool(model.scale_to_clv)
    else:
        diag = {"weights": {}, "messages": list(fallbacks), "fallback": fallbacks[0]}
    diag["targets"], fitted_targets = _two_targets(learner, x_cal, holdout, feats_cal, cfg)
    # value through others: its holdout champion is published beside the customer value
    network = diag["targets"].get("through_others", {}).get("contest")
    diag["network_champion"] = network
    champion = _value_contest(model, x_cal, y, feats_cal, cfg)
    diag["champion"] = champion.as_dict()
    return {
        "model": model,
        "through_others": fitted_targets.get("through_others"),
        "network_champion": None if network is None else network["champion"],
        "value_champion": champion.champion,
        "diag": diag,
        "fallbacks": fallbacks,
        "models": {
            "social_value": model,
            "social_value_own": fitted_targets.get("own"),
            "social_value_through_others": fitted_targets.get("through_others"),
        },
    }


def _stored(fitted: Any) -> dict[str, Any]:
    """The stored run's value models and champions, and its social-value diagnostics (carried)."""
    ch = fitted.choices
    return {
        "model": fitted.social_value,
        "through_others": fitted.social_value_through_others,
        "network_champion": ch.network_champion,
        "value_champion": ch.value_champion,
        "diag": dict(fitted.diagnostics.get("csv") or {}),
        "fallbacks": [],
        "models": {},
    }


def social_stage(
    engine: Any,
    feats_cal: pd.DataFrame | None,
    feats: pd.DataFrame,
    clv: pd.DataFrame,
    clv_cal: pd.Series,
    cfg: RunConfig,
    cal_end: pd.Timestamp,
    as_of: pd.Timestamp,
    fitted: Any = None,
    *,
    step: Callable[[str], None] | None = None,
    native: Any = None,
) -> dict[str, Any]:
    """Social components, graph measures, the customer social value and the published value scores.

    Parameters
    ----------
    engine, feats_cal, feats, clv, clv_cal, cfg, cal_end, as_of
        The engine (DuckDB's on the store, or Spark's), the feature tables at the calibration end and at ``as_of``, the CLV frame
        at ``as_of`` and
        the CLV at the calibration end (by customer id), the configuration and the two dates; ``feats_cal`` and
        ``clv_cal`` are unused with ``fitted``.
    fitted
        Stored :class:`~socialvalue.pipeline.fitted.FittedModels`: their value models and champions are
        applied, nothing is learned. None: learn them.
    step
        Progress callback: called with the name of each step as it starts.
    native
        The Spark run's :class:`~socialvalue.pipeline.spark_run.SparkNative` (graph measures on Spark), or None.

    Returns
    -------
    dict
        ``frame`` (one row per customer), ``diag`` (the run record's ``csv`` entry), ``graph``, ``model``,
        ``fallbacks``, ``contributors``, ``value_champion``, ``network_champion`` and ``models`` (role ->
        model learned here; empty with ``fitted``).
    """
    from socialvalue.pipeline.social_inputs import (
        audience_activity,
        clear_cache,
        influence_credit_frame,
        social_components,
    )
    from socialvalue.social.customer_value import AUDIENCE_COMPONENTS, OWN_ACTIVITY_COMPONENTS
    from socialvalue.social.influence_value import cap_influence_value

    step = step or (lambda _text: None)
    ids = feats["customer_id"].to_numpy()
    step("influence graph")
    graph_now, graph, graph_info = _graph_metrics(engine, ids, cfg, as_of, native=native)
    # the date's inputs first: the holdout target's exposures and purchases are a filter of them
    step("social components")
    clv_now = clv.set_index("customer_id")["clv"]
    x_now = social_components(engine, as_of, clv=clv_now)
    # no customer's influence value may exceed the purchases it is credited with (the CSV shrinks with it)
    credits = influence_credit_frame(engine, as_of)
    if fitted is None:
        step("learning the weights")
        learned = _fit(engine, feats_cal, ids, clv_cal, cfg, cal_end, as_of, native)
    else:
        learned = _stored(fitted)
    clear_cache(engine)
    model = learned["model"]

    x_now = x_now.merge(graph_now, on="customer_id", how="left")
    x_now["clv"] = x_now["customer_id"].map(clv_now).fillna(0.0).to_numpy()
    x_now = _with_activity(x_now, feats, audience_activity(engine, as_of))
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
    out = out.rename(columns=CONTRIB)
    for col in CONTRIB.values():
        if col not in out:
            out[col] = 0.0  # a withheld component contributes nothing
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
    diag = learned["diag"]
    diag["graph"] = graph_info
    network = learned["network_champion"]
    if network is not None:
        out["network_source"] = network
        out["network_score"] = _network_score(network, learned["through_others"], x_now, feats)
    else:  # nobody brought value through others in the holdout: nothing to rank
        out["network_source"] = "none (no value through others in the holdout)"
        out["network_score"] = 0.0
    out["network_percentile"] = 100.0 * out["network_score"].rank(pct=True, method="average").fillna(0.0)
    champion = learned["value_champion"]
    out["value_source"] = champion
    out["value_score"] = np.asarray(_VALUE_SCORES[champion](out, x_now, feats), dtype=float)
    out["value_percentile"] = 100.0 * out["value_score"].rank(pct=True, method="average").fillna(0.0)
    return {
        "frame": out,
        "diag": diag,
        "graph": graph,
        "model": model,
        "fallbacks": learned["fallbacks"],
        "contributors": credits["contributors"],
        "value_champion": champion,
        "network_champion": network,
        "models": learned["models"],
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
    """``frame[column]`` of each customer in ``ids`` (0 where missing or not a number)."""
    if column not in frame:
        return np.zeros(len(ids))
    own = frame["customer_id"]
    if len(own) == len(ids) and (own.to_numpy() == ids.to_numpy()).all():  # the same customers in order
        values = frame[column]
    else:
        values = ids.map(frame.set_index("customer_id")[column])
    return np.nan_to_num(pd.to_numeric(values, errors="coerce").to_numpy(dtype=float))


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
