"""SQL that pulls from the store, as of a date, the frames the social value functions need.

The social value maths in :mod:`socialvalue.social` (referral value, influence value, engagement scores) is
pure pandas; this module is its only bridge to the DuckDB store. Every query takes an explicit ``as_of`` and
sees nothing after it, so the same code builds calibration-period inputs for a holdout evaluation.

Exposures (who saw whose content, shares and reviews) are assembled in SQL from three sources:

* interactions with a ``content_id``: the actor saw the content's author;
* interactions between two customers: for *viewing* kinds (like, comment, reply, view, ...) the actor saw the
  target, for *pushing* kinds (mention, message) the target saw the actor;
* broadcasts: when a customer publishes content or performs a broadcast interaction (post, share, review),
  every customer following them at that moment (``relationships`` of kind ``follow``) is exposed.

:func:`social_components` runs everything and returns one row per customer (consent to profiling only) with
``crv``, ``civ``, ``interaction_score``, ``content_score`` and ``loyalty_score``. :func:`holdout_value` is a
learning target for :class:`~socialvalue.social.customer_value.CustomerSocialValue` that, unlike the feature
table's ``holdout_network_revenue`` (all revenue of followers and referred customers), counts only the
network revenue attributable to the customer. :func:`influence_graph` builds the influence graph on integer
node codes assigned in DuckDB (no string id reaches pandas).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from socialvalue.config import ConfigModel
from socialvalue.social.engagement import EngagementConfig, content_score, interaction_score, loyalty_score
from socialvalue.social.influence_value import (
    InfluenceConfig,
    credit_totals,
    influence_contributors,
    influence_credits,
    influence_value,
)
from socialvalue.social.referral import ReferralConfig, referral_value
from socialvalue.store import arrow_to_pandas

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

#: Row orders of the exposure and purchase frames: the sorted interval join of the influence value works on
#: exposures by (customer, time) and purchases by (customer, time, amount); frames in that order skip its sort.
_EXPOSURE_ORDER = '"exposed_id", "exposed_at", "influencer_id"'
_PURCHASE_ORDER = '"customer_id", "ordered_at", "amount", "order_id"'

#: Orders that count as revenue: completed sales, and refunds/returns recorded as negative amounts.
_REVENUE = "(o.status = 'completed' OR (o.status IN ('returned', 'refunded') AND o.amount < 0))"


class ExposureConfig(ConfigModel):
    """Which interactions and ties expose one customer to another.

    Attributes
    ----------
    actor_sees_target_kinds
        Interaction kinds where the actor saw the target customer (or their content). ``follow`` is left
        out: a new tie is not an exposure (what the followed customer later publishes is), and counting it
        credits the followed customer with the first purchases new customers make right after joining.
    target_sees_actor_kinds
        Interaction kinds that push the actor's message to the target customer. A ``share`` is not one: its
        target is usually the shared content's author; the sharer's followers are exposed as a broadcast.
    broadcast_kinds
        Interaction kinds broadcast to the actor's followers.
    broadcast_content
        Whether publishing a content item exposes the author's followers.
    follower_kinds
        Relationship kinds ``src -> dst`` meaning ``src`` sees what ``dst`` publishes.
    """

    actor_sees_target_kinds: tuple[str, ...] = (
        "like",
        "comment",
        "reply",
        "view",
        "click",
        "helpful_vote",
        "rating",
    )
    target_sees_actor_kinds: tuple[str, ...] = ("mention", "message")
    broadcast_kinds: tuple[str, ...] = ("post", "share", "review")
    broadcast_content: bool = True
    follower_kinds: tuple[str, ...] = ("follow",)


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


def _ts(value: pd.Timestamp | str) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts


class _Ids:
    """Dense numeric codes of the store's customer ids, shared by the frames of one computation.

    The social value functions are generic over the id type. At a million customers their joins and group-bys
    on string ids (Arrow-backed in pandas 3) dominate the pipeline; on codes looked up once in DuckDB they run
    several times faster. Codes are ``float64`` so that a missing id (the brand as interaction target) stays
    ``NaN``, as a missing string id was.
    """

    def __init__(self, store: Store) -> None:
        ids = store.query_arrow("SELECT customer_id FROM customers ORDER BY customer_id").column(0)
        self.values = np.asarray(ids.to_pandas(), dtype=object)
        self.table = pa.table({"customer_id": ids, "code": np.arange(len(ids), dtype=np.float64)})
        self._index = pd.Index(self.values)

    def code(self, values: pd.Index | pd.Series | np.ndarray) -> np.ndarray:
        """Codes of string ids (``NaN`` where unknown)."""
        pos = self._index.get_indexer(pd.Index(values)).astype(np.float64)
        pos[pos < 0] = np.nan
        return pos

    def decode(self, codes: pd.Series | np.ndarray) -> np.ndarray:
        """String ids of codes."""
        return self.values[np.asarray(codes, dtype=np.float64).astype(np.int64)]

    def recode_index(self, series: pd.Series) -> pd.Series:
        """The same series indexed by codes (unknown ids dropped)."""
        codes = self.code(series.index)
        keep = ~np.isnan(codes)
        return pd.Series(series.to_numpy()[keep], index=codes[keep], name=series.name)


def _frame(
    store: Store,
    query: str,
    params: Sequence[Any] | dict[str, Any],
    ids: _Ids | None = None,
    id_columns: Sequence[str] = (),
    order: str | None = None,
) -> pd.DataFrame:
    """Run ``query``; with ``ids``, replace the ``id_columns`` by their codes (one hash join each, in DuckDB).

    ``order`` (constant SQL, column names of the result) sorts the rows, after the codes replaced the ids.
    """
    if ids is None or not id_columns:
        if order:
            query = f"SELECT * FROM ({query}) _q ORDER BY {order}"
        return arrow_to_pandas(store.con.sql(query, params=params).to_arrow_table())
    name = "_sv_id_codes"
    replaced = ", ".join(f'_j{k}.code AS "{c}"' for k, c in enumerate(id_columns))
    joins = " ".join(
        f'LEFT JOIN {name} _j{k} ON _j{k}.customer_id = _q."{c}"' for k, c in enumerate(id_columns)
    )
    wrapped = f"SELECT _q.* REPLACE ({replaced}) FROM ({query}) _q {joins}"
    if order:
        wrapped += f" ORDER BY {order}"
    store.con.register(name, ids.table)
    try:
        return arrow_to_pandas(store.con.sql(wrapped, params=params).to_arrow_table())
    finally:
        store.con.unregister(name)


def referral_frames(
    store: Store, as_of: pd.Timestamp | str, *, ids: _Ids | None = None
) -> dict[str, pd.DataFrame]:
    """Referral edges, the referred customers' orders and all sign-ups, as of ``as_of``.

    Returns
    -------
    dict of pandas.DataFrame
        ``referrals`` (``referrer_id``, ``referred_id``, ``referred_at``: the tie's date, else the referred
        customer's sign-up), ``orders`` (``customer_id``, ``ordered_at``, ``amount`` of referred customers,
        revenue orders up to ``as_of``) and ``signups`` (``signup_at``, ``referred``) for
        :func:`~socialvalue.social.referral.estimate_type_one_share`.
    """
    t = _ts(as_of).to_pydatetime()
    referrals = _frame(
        store,
        """
        SELECT r.src_id AS referrer_id, r.dst_id AS referred_id,
               coalesce(r.created_at, c.signup_at) AS referred_at
        FROM relationships r LEFT JOIN customers c ON c.customer_id = r.dst_id
        WHERE r.kind = 'referred' AND r.src_id <> r.dst_id
          AND coalesce(r.created_at, c.signup_at) <= ?
        QUALIFY row_number() OVER (PARTITION BY r.dst_id ORDER BY coalesce(r.created_at, c.signup_at)) = 1
        ORDER BY referred_at
        """,
        [t],
        ids,
        ("referrer_id", "referred_id"),
        order="referred_at",
    )
    orders = _frame(
        store,
        f"""
        SELECT o.customer_id, o.ordered_at, CAST(o.amount AS DOUBLE) AS amount
        FROM orders o
        WHERE o.ordered_at <= ? AND {_REVENUE}
          AND o.customer_id IN (SELECT dst_id FROM relationships WHERE kind = 'referred')
        """,
        [t],
        ids,
        ("customer_id",),
    )
    signups = store.query_df(
        """
        SELECT c.signup_at,
               (c.acquisition_channel = 'referral'
                OR c.customer_id IN (SELECT dst_id FROM relationships WHERE kind = 'referred')) AS referred
        FROM customers c
        WHERE c.signup_at IS NOT NULL AND c.signup_at <= ? AND NOT c.is_stub
        """,
        [t],
    )
    signups["referred"] = signups["referred"].fillna(False).astype(bool)
    return {"referrals": referrals, "orders": orders, "signups": signups}


def exposure_frame(
    store: Store,
    as_of: pd.Timestamp | str,
    *,
    start: pd.Timestamp | str,
    config: ExposureConfig | None = None,
    ids: _Ids | None = None,
) -> pd.DataFrame:
    """Exposures ``(influencer_id, exposed_id, exposed_at, source)`` in ``[start, as_of)``, self-exposures out.

    ``source`` is ``content`` (interaction with the influencer's content), ``direct`` (interaction between
    the two customers) or ``broadcast`` (the influencer published; the exposed customer followed them).
    Sorted by exposed customer (code, with ``ids``), time and influencer: DuckDB sorts in parallel where the
    data are, and :func:`~socialvalue.social.influence_value.influence_value` then needs no sort of its own.
    """
    cfg = config or ExposureConfig()
    params = {
        "as_of": _ts(as_of).to_pydatetime(),
        "start": _ts(start).to_pydatetime(),
        "sees": list(cfg.actor_sees_target_kinds) or [""],
        "pushes": list(cfg.target_sees_actor_kinds) or [""],
        "bcast": list(cfg.broadcast_kinds) or [""],
        "follow": list(cfg.follower_kinds) or [""],
    }
    content_broadcast = (
        "SELECT author_id AS influencer_id, created_at AS at FROM content "
        "WHERE created_at >= $start AND created_at < $as_of UNION ALL"
        if cfg.broadcast_content
        else ""
    )
    query = f"""
        WITH ix AS (
            SELECT actor_id, target_customer_id, content_id, kind, occurred_at FROM interactions
            WHERE occurred_at >= $start AND occurred_at < $as_of),
        follows AS (
            SELECT src_id AS follower_id, dst_id AS followed_id, created_at, ended_at FROM relationships
            WHERE list_contains($follow, kind)),
        broadcasts AS (
            {content_broadcast}
            SELECT actor_id AS influencer_id, occurred_at AS at FROM ix WHERE list_contains($bcast, kind)),
        exposures AS (
            SELECT c.author_id AS influencer_id, ix.actor_id AS exposed_id, ix.occurred_at AS exposed_at,
                   'content' AS source
            FROM ix JOIN content c ON c.content_id = ix.content_id
            UNION ALL
            SELECT target_customer_id, actor_id, occurred_at, 'direct' FROM ix
            WHERE content_id IS NULL AND target_customer_id IS NOT NULL AND list_contains($sees, kind)
            UNION ALL
            SELECT actor_id, target_customer_id, occurred_at, 'direct' FROM ix
            WHERE target_customer_id IS NOT NULL AND list_contains($pushes, kind)
            UNION ALL
            SELECT b.influencer_id, f.follower_id, b.at, 'broadcast'
            FROM broadcasts b JOIN follows f ON f.followed_id = b.influencer_id
             AND (f.created_at IS NULL OR f.created_at <= b.at) AND (f.ended_at IS NULL OR f.ended_at > b.at))
        SELECT influencer_id, exposed_id, exposed_at, min(source) AS source FROM exposures
        WHERE influencer_id <> exposed_id
        GROUP BY ALL
    """
    return _frame(store, query, params, ids, ("influencer_id", "exposed_id"), order=_EXPOSURE_ORDER)


def purchase_frame(
    store: Store, as_of: pd.Timestamp | str, *, start: pd.Timestamp | str, ids: _Ids | None = None
) -> pd.DataFrame:
    """Revenue orders ``(customer_id, ordered_at, amount, order_id)`` in ``(start, as_of]``.

    Sorted by customer (code, with ``ids``), time, amount and order id: the order the influence value works in.
    """
    return _frame(
        store,
        f"""
        SELECT o.customer_id, o.ordered_at, CAST(o.amount AS DOUBLE) AS amount, o.order_id FROM orders o
        WHERE o.ordered_at > ? AND o.ordered_at <= ? AND {_REVENUE}
        """,
        [_ts(start).to_pydatetime(), _ts(as_of).to_pydatetime()],
        ids,
        ("customer_id",),
        order=_PURCHASE_ORDER,
    )


def interaction_frame(
    store: Store, as_of: pd.Timestamp | str, *, window_days: float = 365.0, ids: _Ids | None = None
) -> pd.DataFrame:
    """Interactions ``(actor_id, target_customer_id, kind, occurred_at)`` in ``(as_of - window, as_of]``."""
    t = _ts(as_of)
    return _frame(
        store,
        "SELECT actor_id, target_customer_id, kind, occurred_at FROM interactions "
        "WHERE occurred_at > ? AND occurred_at <= ?",
        [(t - pd.Timedelta(days=window_days)).to_pydatetime(), t.to_pydatetime()],
        ids,
        ("actor_id", "target_customer_id"),
    )


def content_frame(store: Store, as_of: pd.Timestamp | str, *, ids: _Ids | None = None) -> pd.DataFrame:
    """Content published up to ``as_of`` with ``interactions_drawn`` (others' interactions up to ``as_of``).

    ``helpful_votes`` and ``views`` are the table's current values: the canonical model does not date them,
    so for a past ``as_of`` they may include votes and views that came later.
    """
    return _frame(
        store,
        """
        WITH drawn AS (
            SELECT i.content_id, count(*) AS n FROM interactions i JOIN content c USING (content_id)
            WHERE i.occurred_at <= $1 AND i.actor_id <> c.author_id GROUP BY 1)
        SELECT c.content_id, c.author_id, c.kind, c.created_at, c.rating, c.helpful_votes, c.views,
               c.product_id, coalesce(d.n, 0) AS interactions_drawn
        FROM content c LEFT JOIN drawn d USING (content_id)
        WHERE c.created_at <= $1
        """,
        [_ts(as_of).to_pydatetime()],
        ids,
        ("author_id",),
    )


def loyalty_frame(store: Store, as_of: pd.Timestamp | str, *, positive_rating: float = 4.0) -> pd.DataFrame:
    """Per customer with consent to profiling: ``n_orders``, ``tenure_days``, ``positive_reviews``, ``referrals_made``."""
    return store.query_df(
        """
        WITH o AS (
            SELECT customer_id, count(*) AS n_orders, min(ordered_at) AS first_at FROM orders
            WHERE status = 'completed' AND amount > 0 AND ordered_at <= $1 GROUP BY 1),
        r AS (
            SELECT author_id AS customer_id, count(*) AS positive_reviews FROM content
            WHERE kind = 'review' AND rating >= $2 AND created_at <= $1 GROUP BY 1),
        f AS (
            SELECT src_id AS customer_id, count(DISTINCT dst_id) AS referrals_made FROM relationships
            WHERE kind = 'referred' AND (created_at IS NULL OR created_at <= $1) GROUP BY 1)
        SELECT c.customer_id, coalesce(o.n_orders, 0) AS n_orders,
               coalesce(date_diff('second', o.first_at, $1::TIMESTAMP) / 86400.0, 0.0) AS tenure_days,
               coalesce(r.positive_reviews, 0) AS positive_reviews,
               coalesce(f.referrals_made, 0) AS referrals_made
        FROM customers c LEFT JOIN o USING (customer_id) LEFT JOIN r USING (customer_id)
             LEFT JOIN f USING (customer_id)
        WHERE c.consent_profiling
        ORDER BY c.customer_id
        """,
        [_ts(as_of).to_pydatetime(), positive_rating],
    )


def _civ_inputs(
    store: Store, as_of: pd.Timestamp, cfg: SocialInputsConfig, ids: _Ids, referrals: pd.DataFrame
) -> dict[str, Any]:
    """The arguments of the CIV functions as of ``as_of`` (one definition for the value and its credits)."""
    start = as_of - pd.Timedelta(days=cfg.lookback_days)
    observed = _frame(
        store,
        "SELECT customer_id, signup_at FROM customers WHERE signup_at IS NOT NULL",
        [],
        ids,
        ("customer_id",),
    )
    return {
        "exposures": exposure_frame(store, as_of, start=start, config=cfg.exposure, ids=ids),
        "purchases": purchase_frame(store, as_of, start=start, ids=ids),
        "as_of": as_of,
        "start": start,
        "referrals": referrals,
        "observed_from": observed.set_index("customer_id")["signup_at"],
    }


def influence_credit_frame(
    store: Store,
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
    ids = _Ids(store)
    referrals = referral_frames(store, as_of, ids=ids)["referrals"]
    inputs = _civ_inputs(store, as_of, cfg, ids, referrals)
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


def _decoded(frame: pd.DataFrame, ids: _Ids) -> pd.DataFrame:
    """``frame`` with its ``customer_id`` codes turned back into the store's ids."""
    return frame.assign(customer_id=ids.decode(frame["customer_id"]) if len(frame) else frame["customer_id"])


def social_components(
    store: Store,
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
    out = loyalty_frame(store, as_of, positive_rating=cfg.positive_rating)
    base = out[["customer_id"]]

    # the component functions run on numeric id codes (see _Ids); their results are decoded below
    ids = _Ids(store)
    ref = referral_frames(store, as_of, ids=ids)
    crv = referral_value(
        ref["referrals"],
        ref["orders"],
        as_of,
        clv=None if clv is None else ids.recode_index(clv),
        signups=ref["signups"],
        config=cfg.referral,
    )
    civ = influence_value(**_civ_inputs(store, as_of, cfg, ids, ref["referrals"]), config=cfg.influence)
    inter = interaction_score(
        interaction_frame(store, as_of, window_days=cfg.engagement.interaction.window_days, ids=ids),
        as_of,
        config=cfg.engagement.interaction,
    )
    content = content_score(content_frame(store, as_of, ids=ids), as_of, config=cfg.engagement.content)
    loyal = loyalty_score(out, config=cfg.engagement.loyalty)
    crv, civ, inter, content = (_decoded(f, ids) for f in (crv, civ, inter, content))

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
    store: Store,
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
    return _frame(
        store,
        f"""
        WITH fol AS (
            SELECT DISTINCT src_id AS follower_id, dst_id AS customer_id FROM relationships
            WHERE list_contains($kinds, kind) AND src_id <> dst_id
              AND (created_at IS NULL OR created_at <= $as_of) AND (ended_at IS NULL OR ended_at > $as_of)),
        act AS (
            SELECT o.customer_id AS follower_id,
                   count(*) FILTER (WHERE o.status = 'completed' AND o.amount > 0) AS n,
                   sum(CAST(o.amount AS DOUBLE)) AS spend
            FROM orders o
            WHERE o.ordered_at >= $start AND o.ordered_at < $as_of AND {_REVENUE}
            GROUP BY 1),
        per AS (
            SELECT fol.customer_id, sum(act.n) AS n, sum(act.spend) AS spend
            FROM fol JOIN act USING (follower_id) GROUP BY 1)
        SELECT c.customer_id, CAST(coalesce(per.n, 0) AS DOUBLE) AS audience_orders_365d,
               coalesce(per.spend, 0.0) AS audience_spend_365d
        FROM customers c LEFT JOIN per USING (customer_id)
        WHERE c.consent_profiling
        ORDER BY c.customer_id
        """,
        {
            "kinds": list(cfg.follower_kinds) or [""],
            "as_of": t.to_pydatetime(),
            "start": (t - pd.Timedelta(days=window_days)).to_pydatetime(),
        },
    )


def holdout_value(
    store: Store,
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
    base = store.query_df("SELECT customer_id FROM customers WHERE consent_profiling ORDER BY customer_id")
    ids = _Ids(store)
    pur = purchase_frame(store, end, start=cal, ids=ids)
    own = pur.groupby("customer_id")["amount"].sum()
    refs = referral_frames(store, end, ids=ids)["referrals"]
    ref_rev = (
        refs.assign(rev=refs["referred_id"].map(own).fillna(0.0).to_numpy())
        .groupby("referrer_id")["rev"]
        .sum()
    )
    civ = influence_value(
        exposure_frame(store, end, start=cal, config=cfg.exposure, ids=ids),
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


_GRAPH_EDGES = """
    WITH nodes AS (
        SELECT customer_id AS id, CAST(row_number() OVER (ORDER BY customer_id) - 1 AS INTEGER) AS code
        FROM customers),
    rel AS (
        SELECT src_id, dst_id, CASE WHEN kind = 'follows' THEN 'follow' ELSE kind END AS kind
        FROM relationships
        WHERE src_id <> dst_id AND (created_at IS NULL OR created_at < $as_of)
          AND (ended_at IS NULL OR ended_at > $as_of)),
    ties AS (
        SELECT src_id AS src, dst_id AS dst FROM rel
        WHERE list_contains($kinds, kind) AND kind IN ('friend', 'referred')
        UNION
        SELECT dst_id, src_id FROM rel WHERE list_contains($kinds, kind) AND kind IN ('friend', 'follow')),
    acts AS (
        SELECT target_customer_id AS src, actor_id AS dst,
               epoch_us(CAST($as_of AS TIMESTAMP)) - epoch_us(occurred_at) AS age_us
        FROM interactions
        WHERE target_customer_id IS NOT NULL AND actor_id <> target_customer_id
          AND occurred_at >= $start AND occurred_at < $as_of
          AND ($all_kinds OR list_contains($interaction_kinds, kind))),
    edges AS (
        SELECT src, dst, CAST(NULL AS BIGINT) AS age_us FROM ties UNION ALL SELECT src, dst, age_us FROM acts)
    SELECT s.code AS s, d.code AS d, e.age_us,
           CASE WHEN s.code IS NULL THEN e.src END AS src_unknown,
           CASE WHEN d.code IS NULL THEN e.dst END AS dst_unknown
    FROM edges e LEFT JOIN nodes s ON s.id = e.src LEFT JOIN nodes d ON d.id = e.dst
    ORDER BY s, d, age_us DESC NULLS FIRST
"""


def influence_graph(
    store: Store,
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
    params = {
        "as_of": t.to_pydatetime(),
        "start": (t - pd.Timedelta(days=window_days)).to_pydatetime(),
        "kinds": ["follow" if k == "follows" else k for k in relationship_kinds] or [""],
        "all_kinds": interaction_kinds is None,
        "interaction_kinds": list(interaction_kinds or []) or [""],
    }
    ids = store.query_arrow("SELECT customer_id FROM customers ORDER BY customer_id").column(0)
    ids = np.asarray(ids.to_pandas(), dtype=object)
    rows = store.con.sql(_GRAPH_EDGES, params=params).to_arrow_table()
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
        "influence graph as of %s: %d nodes, %d edges (codes from DuckDB)", t, len(ids), starts.shape[0]
    )
    return Graph.from_codes(ids, s[starts], d[starts], weight, duplicates="sum")
