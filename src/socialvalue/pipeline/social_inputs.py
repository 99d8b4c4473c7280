"""Social inputs as of a date: the engine's frames handed to the social value maths.

The social value maths in :mod:`socialvalue.social` (referral value, influence value, engagement scores, the
influence graph) is pure numpy/pandas; the SQL that reads the store is defined in
:mod:`socialvalue.features.social_inputs` and executed by :mod:`socialvalue.engine`. This module joins the
two. Every function takes a :class:`~socialvalue.store.Store` or an engine (a
:class:`~socialvalue.engine.DuckDBEngine`, or the Spark engine :class:`socialvalue.spark.SparkEngine`: an engine
shares its id codes and its frame cache across calls, so a run reads each date's exposures and purchases
once).

:func:`social_components` returns one row per customer (consent to profiling only) with ``crv``, ``civ``,
``interaction_score``, ``content_score`` and ``loyalty_score``. :func:`holdout_value` is a learning target
for :class:`~socialvalue.social.customer_value.CustomerSocialValue` that, unlike the feature table's
``holdout_network_revenue`` (all revenue of followers and referred customers), counts only the network
revenue attributable to the customer. :func:`influence_graph` builds the influence graph on integer node codes
assigned in the engine (no string id reaches pandas).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc
from pydantic import Field

from socialvalue.config import ConfigModel
from socialvalue.engine import DuckDBEngine, IdCodes
from socialvalue.features import social_inputs as defs
from socialvalue.features.social_inputs import ExposureConfig, utc_naive
from socialvalue.social.engagement import (
    EngagementConfig,
    content_score,
    interaction_score_from_counts,
    loyalty_score,
)
from socialvalue.social.influence_value import (
    InfluenceConfig,
    credit_totals,
    influence_contributors,
    influence_credits,
    influence_value,
)
from socialvalue.social.referral import ReferralConfig, referral_value

if TYPE_CHECKING:  # pragma: no cover
    from socialvalue.social.graph import Graph
    from socialvalue.store import Store

__all__ = [
    "ExposureConfig",
    "SocialInputsConfig",
    "audience_activity",
    "content_frame",
    "exposure_frame",
    "holdout_value",
    "influence_credit_frame",
    "influence_graph",
    "interaction_frame",
    "loyalty_frame",
    "purchase_frame",
    "referral_frames",
    "social_components",
]

logger = logging.getLogger(__name__)


class SocialInputsConfig(ConfigModel):
    """Everything :func:`social_components` needs (one TOML section each).

    Attributes
    ----------
    lookback_days
        Influence is measured over ``(as_of - lookback_days, as_of]``.
    positive_rating
        A review rated at least this counts as positive for the loyalty score.
    """

    lookback_days: float = Field(default=365.0, gt=0)
    positive_rating: float = 4.0
    exposure: ExposureConfig = ExposureConfig()
    referral: ReferralConfig = ReferralConfig()
    influence: InfluenceConfig = InfluenceConfig()
    engagement: EngagementConfig = EngagementConfig()


_ts = utc_naive


def _is_engine(source: Any) -> bool:
    """Whether ``source`` is an engine (it keeps frames across calls), not a store."""
    return isinstance(getattr(source, "cache", None), dict)


def _engine(source: Store | DuckDBEngine) -> DuckDBEngine:
    """The engine to run on: ``source`` itself, or a new DuckDB engine on the store ``source``."""
    return source if _is_engine(source) else DuckDBEngine.of(source)


def _cached(engine: DuckDBEngine, key: tuple[Any, ...], make: Any) -> Any:
    """``make()`` once per engine and key (the engine's frame cache: one state of the store, one run)."""
    cache = engine.cache
    if key not in cache:
        cache[key] = make()
    return cache[key]


def _window(
    engine: DuckDBEngine, kind: str, as_of: pd.Timestamp, start: pd.Timestamp, column: str, make: Any
) -> pd.DataFrame:
    """A windowed frame (``kind`` of ``[start, as_of)`` by ``column``), filtered from a wider cached one.

    Every row's ``column`` is its event's time, so the rows of a narrower window with the same end are
    exactly a filter of a wider one; the filter keeps the rows' order.
    """
    for key, frame in engine.cache.items():
        if key[0] != "window":
            continue
        _, k, end, wide_start = key
        if k == kind and end == as_of and wide_start <= start:
            if wide_start == start:
                return frame
            times = frame[column].to_numpy()
            keep = times >= start.to_datetime64() if kind == "exposures" else times > start.to_datetime64()
            return frame.loc[keep].reset_index(drop=True)
    frame = make()
    engine.cache[("window", kind, as_of, start)] = frame
    return frame


def clear_cache(source: Store | DuckDBEngine) -> None:
    """Drop the frames an engine keeps for later calls (after the last social computation of a run)."""
    if _is_engine(source):
        source.cache.clear()


def _coded(ids: IdCodes | bool | None) -> bool:
    """Whether to code ids (``ids`` given, or True)."""
    return ids is not None and ids is not False


def referral_frames(
    store: Store | DuckDBEngine, as_of: pd.Timestamp | str, *, ids: IdCodes | bool | None = None
) -> dict[str, pd.DataFrame]:
    """Referral edges, the referred customers' orders and all sign-ups, as of ``as_of``.

    Returns
    -------
    dict of pandas.DataFrame
        ``referrals`` (``referrer_id``, ``referred_id``, ``referred_at``: the tie's date, else the referred
        customer's sign-up), ``orders`` (``customer_id``, ``ordered_at``, ``amount`` of referred customers,
        revenue orders up to ``as_of``) and ``signups`` (``signup_at``, ``referred``) for
        :func:`~socialvalue.social.referral.estimate_type_one_share`. With ``ids``, customer ids are the
        engine's integer codes (:class:`~socialvalue.engine.IdCodes`).
    """
    engine, codes, t = _engine(store), _coded(ids), _ts(as_of)

    def make() -> dict[str, pd.DataFrame]:
        return {
            "referrals": engine.frame(defs.referrals_query(t), codes=codes),
            "orders": engine.frame(defs.referred_orders_query(t), codes=codes),
            "signups": engine.frame(defs.signups_query(t)).astype({"referred": bool}),
        }

    return _cached(engine, ("referrals", t, codes), make) if _is_engine(store) else make()


def exposure_frame(
    store: Store | DuckDBEngine,
    as_of: pd.Timestamp | str,
    *,
    start: pd.Timestamp | str,
    config: ExposureConfig | None = None,
    ids: IdCodes | bool | None = None,
) -> pd.DataFrame:
    """Exposures ``(influencer_id, exposed_id, exposed_at, source)`` in ``[start, as_of)``, self-exposures out.

    See :func:`socialvalue.features.social_inputs.exposures_query`. Sorted by exposed customer (code, with
    ``ids``), time and influencer: the engine sorts in parallel where the data are, and
    :func:`~socialvalue.social.influence_value.influence_value` then needs no sort of its own. An engine keeps
    the frame: a later call with the same end, configuration and a later start filters it.
    """
    engine, codes, t, s = _engine(store), _coded(ids), _ts(as_of), _ts(start)
    query = defs.exposures_query(t, start=s, config=config)
    if not (_is_engine(store) and codes):
        return engine.frame(query, codes=codes)
    kind = f"exposures:{(config or ExposureConfig()).model_dump_json()}"
    return _window(engine, kind, t, s, "exposed_at", lambda: engine.frame(query, codes=True))


def purchase_frame(
    store: Store | DuckDBEngine,
    as_of: pd.Timestamp | str,
    *,
    start: pd.Timestamp | str,
    ids: IdCodes | bool | None = None,
) -> pd.DataFrame:
    """Revenue orders ``(customer_id, ordered_at, amount, order_id)`` in ``(start, as_of]``.

    Sorted by customer (code, with ``ids``), time, amount and order id: the order the influence value works
    in. An engine keeps the frame, as :func:`exposure_frame` does.
    """
    engine, codes, t, s = _engine(store), _coded(ids), _ts(as_of), _ts(start)
    query = defs.purchases_query(t, start=s)
    if not (_is_engine(store) and codes):
        return engine.frame(query, codes=codes)
    return _window(engine, "purchases", t, s, "ordered_at", lambda: engine.frame(query, codes=True))


def interaction_frame(
    store: Store | DuckDBEngine,
    as_of: pd.Timestamp | str,
    *,
    window_days: float = 365.0,
    ids: IdCodes | bool | None = None,
) -> pd.DataFrame:
    """Interactions ``(actor_id, target_customer_id, kind, occurred_at)`` in ``(as_of - window, as_of]``."""
    query = defs.interactions_query(_ts(as_of), window_days=window_days)
    return _engine(store).frame(query, codes=_coded(ids))


def content_frame(
    store: Store | DuckDBEngine, as_of: pd.Timestamp | str, *, ids: IdCodes | bool | None = None
) -> pd.DataFrame:
    """Content published up to ``as_of`` with others' ``interactions_drawn`` (see ``content_query``)."""
    return _engine(store).frame(defs.content_query(_ts(as_of)), codes=_coded(ids))


def loyalty_frame(
    store: Store | DuckDBEngine, as_of: pd.Timestamp | str, *, positive_rating: float = 4.0
) -> pd.DataFrame:
    """Per customer with consent to profiling: ``n_orders``, ``tenure_days``, ``positive_reviews``, ``referrals_made``."""
    return _engine(store).frame(defs.loyalty_query(_ts(as_of), positive_rating=positive_rating))


def _civ_inputs(
    engine: DuckDBEngine, as_of: pd.Timestamp, cfg: SocialInputsConfig, referrals: pd.DataFrame
) -> dict[str, Any]:
    """The arguments of the CIV functions as of ``as_of`` (one definition for the value and its credits)."""
    start = as_of - pd.Timedelta(days=cfg.lookback_days)
    observed = _cached(engine, ("observed",), lambda: engine.frame(defs.signup_dates_query(), codes=True))
    return {
        "exposures": exposure_frame(engine, as_of, start=start, config=cfg.exposure, ids=True),
        "purchases": purchase_frame(engine, as_of, start=start, ids=True),
        "as_of": as_of,
        "start": start,
        "referrals": referrals,
        "observed_from": observed.set_index("customer_id")["signup_at"],
    }


def influence_credit_frame(
    store: Store | DuckDBEngine,
    as_of: pd.Timestamp | str,
    *,
    config: SocialInputsConfig | None = None,
    top: int = 3,
) -> dict[str, pd.DataFrame]:
    """What each customer's influence value (``civ`` of :func:`social_components`) is made of, as of ``as_of``.

    The same inputs and rules as the ``civ`` column (so the rows add up to it), with the store's ids.

    Parameters
    ----------
    store
        The store to read.
    as_of
        Valuation date; nothing after it is read.
    config
        The same configuration as given to :func:`social_components`.
    top
        Contributors kept per influencer in ``contributors``.

    Returns
    -------
    dict of pandas.DataFrame
        ``credits``: one row per (influencer, credited order), see
        :func:`~socialvalue.social.influence_value.influence_credits`; ``contributors``: the ``top``
        customers contributing most to each influencer
        (:func:`~socialvalue.social.influence_value.influence_contributors`); ``credited_value``: per
        influencer (``customer_id``), ``civ`` and ``credited_value`` (the value of the purchases credited,
        the cap of any published influence value, see
        :func:`~socialvalue.social.influence_value.cap_influence_value`).
    """
    cfg = config or SocialInputsConfig()
    as_of = _ts(as_of)
    engine = _engine(store)
    ids = engine.codes
    referrals = referral_frames(engine, as_of, ids=True)["referrals"]
    inputs = _civ_inputs(engine, as_of, cfg, referrals)
    credits = influence_credits(**inputs, config=cfg.influence)
    # the totals from the same rows: one attribution pass, not two
    totals = credit_totals(credits, margin=cfg.influence.margin)
    # contributors grouped on the codes (in id order, so ties break by id as on the ids), decoded after
    contributors = influence_contributors(credits, top=top)
    if len(credits):
        credits = credits.assign(
            influencer_id=ids.decode(credits["influencer_id"]), customer_id=ids.decode(credits["customer_id"])
        )
    if len(contributors):
        contributors = contributors.assign(
            influencer_id=ids.decode(contributors["influencer_id"]),
            customer_id=ids.decode(contributors["customer_id"]),
        )
    return {"credits": credits, "contributors": contributors, "credited_value": _decoded(totals, ids)}


def _decoded(frame: pd.DataFrame, ids: IdCodes) -> pd.DataFrame:
    """``frame`` with its ``customer_id`` codes turned back into the store's ids."""
    return frame.assign(customer_id=ids.decode(frame["customer_id"]) if len(frame) else frame["customer_id"])


def social_components(
    store: Store | DuckDBEngine,
    as_of: pd.Timestamp | str,
    *,
    clv: pd.Series | None = None,
    config: SocialInputsConfig | None = None,
) -> pd.DataFrame:
    """Referral value, influence value and engagement scores of every customer, as of ``as_of``.

    Parameters
    ----------
    store
        The store to read.
    as_of
        Valuation date; nothing after it is read.
    clv
        Predicted revenue CLV per customer id at ``as_of`` (for the referred customers' future value in CRV).
    config
        Windows, exposure rules and the component configurations.

    Returns
    -------
    pandas.DataFrame
        One row per customer with consent to profiling: ``customer_id``, ``crv``, ``n_referrals``, ``civ``,
        ``n_exposed``, ``n_influenced``, ``interaction_score``, ``content_score``, ``loyalty_score``
        (0 where a customer has none).
    """
    cfg = config or SocialInputsConfig()
    as_of = _ts(as_of)
    engine = _engine(store)
    out = loyalty_frame(engine, as_of, positive_rating=cfg.positive_rating)
    base = out[["customer_id"]]

    # the component functions run on numeric id codes (IdCodes); their results are decoded below
    ids = engine.codes
    ref = referral_frames(engine, as_of, ids=True)
    crv = referral_value(
        ref["referrals"],
        ref["orders"],
        as_of,
        clv=None if clv is None else ids.recode_index(clv),
        signups=ref["signups"],
        config=cfg.referral,
    )
    civ = influence_value(**_civ_inputs(engine, as_of, cfg, ref["referrals"]), config=cfg.influence)
    # the interaction score from counts aggregated in the engine (the same values as interaction_score on
    # the interactions; 6x faster at 1M customers, where the pandas group-bys ran over 15M rows)
    inter = interaction_score_from_counts(
        engine.frame(
            defs.interaction_counts_query(as_of, window_days=cfg.engagement.interaction.window_days)
        ),
        config=cfg.engagement.interaction,
    )
    content = content_score(content_frame(engine, as_of, ids=True), as_of, config=cfg.engagement.content)
    loyal = loyalty_score(out, config=cfg.engagement.loyalty)
    crv, civ, content = (_decoded(f, ids) for f in (crv, civ, content))

    frames = [
        crv[["customer_id", "crv", "n_referrals"]],
        civ[["customer_id", "civ", "n_exposed", "n_influenced"]],
        inter[["customer_id", "interaction_score"]],
        content[["customer_id", "content_score"]],
        loyal[["customer_id", "loyalty_score"]],
    ]
    result = base
    for f in frames:
        result = result.merge(f, on="customer_id", how="left")
    counts = ["n_referrals", "n_exposed", "n_influenced"]
    result = result.fillna(0.0)
    result[counts] = result[counts].astype("int64")
    logger.info("social components for %d customers as of %s", len(result), as_of)
    return result


def audience_activity(
    store: Store | DuckDBEngine,
    as_of: pd.Timestamp | str,
    *,
    window_days: float = 365.0,
    config: ExposureConfig | None = None,
) -> pd.DataFrame:
    """Their audience's recent activity: the followers' own purchases in the ``window_days`` before ``as_of``.

    A follower is a customer with a tie of ``config.follower_kinds`` to the customer (``src`` follows ``dst``)
    in force at ``as_of`` (created on or before it, or undated; not ended); a tie listed twice counts once and
    a customer is never their own follower. Purchases are completed orders with a positive amount in
    ``[as_of - window_days, as_of)``; spend is net (returns and refunds count negative).

    Parameters
    ----------
    store
        The store to read.
    as_of
        Valuation date; nothing on or after it is read.
    window_days
        Length of the window.
    config
        Which relationship kinds are follows.

    Returns
    -------
    pandas.DataFrame
        Per customer with consent to profiling: ``customer_id``, ``audience_orders_365d`` (purchases of the
        followers in the window) and ``audience_spend_365d`` (their net spend), 0 without followers. The
        column names keep the ``365d`` suffix whatever ``window_days`` is, so a model reads one name.
    """
    cfg = config or ExposureConfig()
    t = _ts(as_of)
    return _engine(store).frame(defs.audience_activity_query(t, window_days=window_days, config=cfg))


def holdout_value(
    store: Store | DuckDBEngine,
    calibration_end: pd.Timestamp | str,
    holdout_end: pd.Timestamp | str,
    *,
    config: SocialInputsConfig | None = None,
) -> pd.DataFrame:
    r"""What each customer generated in the holdout ``(calibration_end, holdout_end]``, network attributed.

    .. math::

        V_c = R^{own}_c + \sum_{y \in \mathrm{ref}(c)} R_y + X_c

    with :math:`R` net revenue in the holdout, :math:`\mathrm{ref}(c)` the customers ``c`` referred (on or
    before ``holdout_end``) and :math:`X_c` the excess revenue above baseline of the customers exposed to ``c``
    in the holdout (:func:`~socialvalue.social.influence_value.influence_value`'s ``excess_revenue``, no
    margin). The feature table's ``holdout_network_revenue`` counts *all* holdout revenue of followers, most
    of which they would have spent anyway; on the demo data that target teaches the model to reward
    well-followed customers rather than influential ones (docs/validation/social-value.md).

    Returns
    -------
    pandas.DataFrame
        Per customer with consent to profiling: ``holdout_own_revenue``, ``holdout_referred_revenue``,
        ``holdout_influenced_revenue`` and their sum ``holdout_value``.
    """
    cfg = config or SocialInputsConfig()
    cal, end = _ts(calibration_end), _ts(holdout_end)
    engine = _engine(store)
    base = engine.frame(defs.consented_customers_query())
    ids = engine.codes
    pur = purchase_frame(engine, end, start=cal, ids=True)
    own = pur.groupby("customer_id")["amount"].sum()
    refs = referral_frames(engine, end, ids=True)["referrals"]
    ref_rev = (
        refs.assign(rev=refs["referred_id"].map(own).fillna(0.0).to_numpy())
        .groupby("referrer_id")["rev"]
        .sum()
    )
    civ = influence_value(
        exposure_frame(engine, end, start=cal, config=cfg.exposure, ids=True),
        pur,
        end,
        start=cal,
        referrals=refs,
        config=cfg.influence,
    ).set_index("customer_id")["excess_revenue"]
    codes = ids.code(base["customer_id"])
    own, ref_rev, civ = (pd.Series(s.to_numpy(), index=s.index.to_numpy(float)) for s in (own, ref_rev, civ))
    out = base.assign(
        holdout_own_revenue=pd.Series(codes).map(own).fillna(0.0).to_numpy(float),
        holdout_referred_revenue=pd.Series(codes).map(ref_rev).fillna(0.0).to_numpy(float),
        holdout_influenced_revenue=pd.Series(codes).map(civ).fillna(0.0).to_numpy(float),
    )
    out["holdout_value"] = out[
        ["holdout_own_revenue", "holdout_referred_revenue", "holdout_influenced_revenue"]
    ].sum(axis=1)
    return out


def influence_graph(
    store: Store | DuckDBEngine,
    as_of: pd.Timestamp | str,
    *,
    half_life_days: float = 30.0,
    window_days: float = 365.0,
    tie_weight: float = 1.0,
    relationship_kinds: Sequence[str] = ("follow", "friend"),
    interaction_kinds: Sequence[str] | None = None,
) -> Graph:
    r"""The influence graph at ``as_of``, built on integer node codes assigned in DuckDB.

    The same graph as :func:`~socialvalue.social.graph.influence_edges` on the ``relationships`` created before
    ``as_of`` (or undated) and the ``interactions`` with a target customer in ``[as_of - window_days, as_of)``,
    passed to :meth:`Graph.from_edges <socialvalue.social.graph.Graph.from_edges>` with every customer as a
    node: edge ``u -> v`` of weight :math:`w_{uv} = c\,[\text{tie } u \to v] + \sum_i 2^{-a_i/h}`, nodes in
    ``customer_id`` order. Customers are numbered by ``row_number()`` over the ``customers`` table, ties are
    de-duplicated and both edge sources are mapped to codes in the engine; pandas sees integer codes and ages,
    never a string id. An edge end that is not a customer (the schema's foreign keys rule it out) becomes a node
    after the customers, in id order.

    Parameters
    ----------
    store
        The store to read.
    as_of
        The date the graph describes; nothing at or after it is read.
    half_life_days, window_days, tie_weight, relationship_kinds, interaction_kinds
        As in :func:`~socialvalue.social.graph.influence_edges`.

    Returns
    -------
    Graph
        Nodes: every customer (``ids`` in ``customer_id`` order); edges: one per directed pair, no self-loops.

    Notes
    -----
    Interactions of one pair are summed in a fixed order (the engine sorts them by pair and age), so the same
    data gives bit-identical weights in every run.
    """
    from socialvalue.errors import ConfigError
    from socialvalue.social.graph import Graph

    if half_life_days <= 0 or window_days <= 0 or tie_weight < 0:
        raise ConfigError("half_life_days and window_days must be > 0 and tie_weight >= 0")
    t = _ts(as_of)
    engine = _engine(store)
    ids = engine.codes.values
    query = defs.graph_edges_query(
        t, window_days=window_days, relationship_kinds=relationship_kinds, interaction_kinds=interaction_kinds
    )
    rows = engine.table(query)
    # -1: a tie (no age) / an end outside the customers table (ages are >= 1 microsecond)
    s, d, age_us = (pc.fill_null(rows.column(c), -1).to_numpy() for c in ("s", "d", "age_us"))
    if (s < 0).any() or (d < 0).any():
        # edge ends outside the customers table: numbered after the customers, in id order
        src_x = rows.column("src_unknown").to_numpy(zero_copy_only=False)
        dst_x = rows.column("dst_unknown").to_numpy(zero_copy_only=False)
        extra = pd.Index(sorted(set(src_x[s < 0]) | set(dst_x[d < 0])))
        s = np.where(s < 0, len(ids) + extra.get_indexer(src_x), s)
        d = np.where(d < 0, len(ids) + extra.get_indexer(dst_x), d)
        ids = np.concatenate([ids, np.asarray(extra, dtype=object)])
        order = np.lexsort((-age_us, d, s))  # ties (-1) first, then the oldest interaction, as in the engine
        s, d, age_us = s[order], d[order], age_us[order]
    tie = age_us < 0
    age = np.zeros(age_us.shape[0])
    # age in days exactly as influence_edges computes it: (as_of - occurred_at).total_seconds() / 86400
    age[~tie] = pd.to_timedelta(age_us[~tie], unit="us").total_seconds() / 86400.0
    keep = tie | ((age >= 0) & (age <= window_days))
    if not keep.all():
        s, d, tie, age = s[keep], d[keep], tie[keep], age[keep]
    w = np.where(tie, tie_weight, np.exp(-np.log(2.0) * age / half_life_days))
    # one edge per pair: the rows of a pair are adjacent (sorted by pair in the engine)
    first = np.ones(s.shape[0], dtype=bool)
    first[1:] = (s[1:] != s[:-1]) | (d[1:] != d[:-1])
    starts = np.flatnonzero(first)
    weight = np.add.reduceat(w, starts) if starts.shape[0] else w
    logger.info(
        "influence graph as of %s: %d nodes, %d edges (codes from the %s engine)",
        t,
        len(ids),
        starts.shape[0],
        getattr(engine, "name", "duckdb"),
    )
    return Graph.from_codes(ids, s[starts], d[starts], weight, duplicates="sum")
