"""SQL definitions of the frames the social value functions need, as of a date (nothing here executes).

Every definition takes an explicit ``as_of`` and sees nothing after it, so the same definitions build
calibration-period inputs for a holdout evaluation. :mod:`socialvalue.engine` runs them;
:mod:`socialvalue.pipeline.social_inputs` hands the frames to the social value maths. The SQL is written
for DuckDB in the subset SQLGlot transpiles to Spark (``?`` or ``$name`` parameters, not ``$1``;
``date_diff``, not ``epoch_us``), so the Spark engine runs the same definitions.

Exposures (who saw whose content, shares and reviews) are assembled from three sources:

* interactions with a ``content_id``: the actor saw the content's author;
* interactions between two customers: for *viewing* kinds (like, comment, reply, view, ...) the actor saw the
  target, for *pushing* kinds (mention, message) the target saw the actor;
* broadcasts: when a customer publishes content or performs a broadcast interaction (post, share, review),
  every customer following them at that moment (``relationships`` of kind ``follow``) is exposed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pandas as pd

from socialvalue.config import ConfigModel
from socialvalue.features.definition import Query

__all__ = [
    "ExposureConfig",
    "audience_activity_query",
    "consented_customers_query",
    "content_actions_query",
    "content_query",
    "customer_ids_query",
    "exposures_query",
    "graph_edges_query",
    "interaction_counts_query",
    "interactions_query",
    "loyalty_query",
    "purchases_query",
    "referrals_query",
    "referred_orders_query",
    "signup_dates_query",
    "signups_query",
]

#: Row orders of the exposure and purchase frames: the sorted interval join of the influence value works on
#: exposures by (customer, time) and purchases by (customer, time, amount); frames in that order skip its sort.
EXPOSURE_ORDER = '"exposed_id", "exposed_at", "influencer_id"'
PURCHASE_ORDER = '"customer_id", "ordered_at", "amount", "order_id"'

#: Orders that count as revenue: completed sales, and refunds/returns recorded as negative amounts.
REVENUE = "(o.status = 'completed' OR (o.status IN ('returned', 'refunded') AND o.amount < 0))"


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


def utc_naive(value: Any) -> pd.Timestamp:
    """``value`` as a naive UTC timestamp (aware values converted to UTC)."""
    ts = pd.Timestamp(value)
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts


def _t(value: Any) -> dt.datetime:
    return utc_naive(value).to_pydatetime()


def customer_ids_query() -> Query:
    """Every customer id, in ``customer_id`` order."""
    return Query("SELECT customer_id FROM customers ORDER BY customer_id")


def consented_customers_query() -> Query:
    """The customers with consent to profiling, in ``customer_id`` order."""
    return Query("SELECT customer_id FROM customers WHERE consent_profiling ORDER BY customer_id")


def signup_dates_query() -> Query:
    """``(customer_id, signup_at)`` of the customers with a sign-up date (the start of their observation)."""
    return Query(
        "SELECT customer_id, signup_at FROM customers WHERE signup_at IS NOT NULL", (), ("customer_id",)
    )


def referrals_query(as_of: Any) -> Query:
    """Referral edges ``(referrer_id, referred_id, referred_at)`` up to ``as_of``: one referrer per customer.

    ``referred_at`` is the tie's date, else the referred customer's sign-up; the first tie of a referred
    customer wins.
    """
    return Query(
        """
        SELECT r.src_id AS referrer_id, r.dst_id AS referred_id,
               coalesce(r.created_at, c.signup_at) AS referred_at
        FROM relationships r LEFT JOIN customers c ON c.customer_id = r.dst_id
        WHERE r.kind = 'referred' AND r.src_id <> r.dst_id
          AND coalesce(r.created_at, c.signup_at) <= ?
        QUALIFY row_number() OVER (PARTITION BY r.dst_id ORDER BY coalesce(r.created_at, c.signup_at)) = 1
        ORDER BY referred_at
        """,
        (_t(as_of),),
        ("referrer_id", "referred_id"),
        order="referred_at",
    )


def referred_orders_query(as_of: Any) -> Query:
    """Revenue orders ``(customer_id, ordered_at, amount)`` of referred customers, up to ``as_of``."""
    return Query(
        f"""
        SELECT o.customer_id, o.ordered_at, CAST(o.amount AS DOUBLE) AS amount
        FROM orders o
        WHERE o.ordered_at <= ? AND {REVENUE}
          AND o.customer_id IN (SELECT dst_id FROM relationships WHERE kind = 'referred')
        """,
        (_t(as_of),),
        ("customer_id",),
    )


def signups_query(as_of: Any) -> Query:
    """Sign-ups ``(signup_at, referred)`` up to ``as_of``, stubs left out."""
    return Query(
        """
        SELECT c.signup_at,
               coalesce(c.acquisition_channel = 'referral'
                OR c.customer_id IN (SELECT dst_id FROM relationships WHERE kind = 'referred'), FALSE)
               AS referred
        FROM customers c
        WHERE c.signup_at IS NOT NULL AND c.signup_at <= ? AND NOT c.is_stub
        """,
        (_t(as_of),),
    )


def exposures_query(as_of: Any, *, start: Any, config: ExposureConfig | None = None) -> Query:
    """Exposures ``(influencer_id, exposed_id, exposed_at, source)`` in ``[start, as_of)``, self-exposures out.

    ``source`` is ``content`` (interaction with the influencer's content), ``direct`` (interaction between
    the two customers) or ``broadcast`` (the influencer published; the exposed customer followed them).
    Ordered by exposed customer, time and influencer (the order the influence value works in). Every row's
    ``exposed_at`` is its event's time, so the rows of a narrower window are a filter of these.
    """
    cfg = config or ExposureConfig()
    params = {
        "as_of": _t(as_of),
        "start": _t(start),
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
    sql = f"""
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
    return Query(sql, params, ("influencer_id", "exposed_id"), order=EXPOSURE_ORDER)


def purchases_query(as_of: Any, *, start: Any) -> Query:
    """Revenue orders ``(customer_id, ordered_at, amount, order_id)`` in ``(start, as_of]``.

    Ordered by customer, time, amount and order id: the order the influence value works in.
    """
    return Query(
        f"""
        SELECT o.customer_id, o.ordered_at, CAST(o.amount AS DOUBLE) AS amount, o.order_id FROM orders o
        WHERE o.ordered_at > ? AND o.ordered_at <= ? AND {REVENUE}
        """,
        (_t(start), _t(as_of)),
        ("customer_id",),
        order=PURCHASE_ORDER,
    )


def interactions_query(as_of: Any, *, window_days: float = 365.0) -> Query:
    """Interactions ``(actor_id, target_customer_id, kind, occurred_at)`` in ``(as_of - window, as_of]``."""
    t = utc_naive(as_of)
    return Query(
        "SELECT actor_id, target_customer_id, kind, occurred_at FROM interactions "
        "WHERE occurred_at > ? AND occurred_at <= ?",
        ((t - pd.Timedelta(days=window_days)).to_pydatetime(), t.to_pydatetime()),
        ("actor_id", "target_customer_id"),
    )


def interaction_counts_query(as_of: Any, *, window_days: float = 365.0) -> Query:
    """The counts the interaction score needs over ``(as_of - window_days, as_of]``, per (actor, kind).

    One row per actor and kind (``customer_id``, ``kind``, ``c``), ordered by actor then kind, with the
    actor's ``n_all``, ``n_brand`` (interactions without a target customer), ``n_pairs`` (distinct other
    customers it interacted with), ``n_back`` (those who interacted with it in the window) and ``n_kinds``
    (kinds seen in the window). See :func:`socialvalue.social.engagement.interaction_score_from_counts`.
    """
    t = utc_naive(as_of)
    return Query(
        """
        WITH it AS (
            SELECT actor_id, target_customer_id AS target, kind FROM interactions
            WHERE occurred_at > ? AND occurred_at <= ?),
        kinds AS (SELECT actor_id, kind, count(*) AS c FROM it WHERE kind IS NOT NULL GROUP BY ALL),
        tot AS (
            SELECT actor_id, count(*) AS n_all, count(*) FILTER (WHERE target IS NULL) AS n_brand
            FROM it GROUP BY actor_id),
        pairs AS (SELECT DISTINCT actor_id, target FROM it WHERE target IS NOT NULL AND actor_id <> target),
        rec AS (
            SELECT p.actor_id, count(*) AS n_pairs, count(b.actor_id) AS n_back
            FROM pairs p LEFT JOIN pairs b ON b.actor_id = p.target AND b.target = p.actor_id
            GROUP BY p.actor_id)
        SELECT k.actor_id AS customer_id, k.kind, k.c, tot.n_all, tot.n_brand,
               coalesce(rec.n_pairs, 0) AS n_pairs, coalesce(rec.n_back, 0) AS n_back,
               (SELECT count(DISTINCT kind) FROM it) AS n_kinds
        FROM kinds k JOIN tot USING (actor_id) LEFT JOIN rec USING (actor_id)
        ORDER BY customer_id, k.kind
        """,
        ((t - pd.Timedelta(days=window_days)).to_pydatetime(), t.to_pydatetime()),
    )


def content_query(as_of: Any) -> Query:
    """Content published up to ``as_of`` with ``interactions_drawn`` (others' interactions up to ``as_of``).

    ``helpful_votes`` and ``views`` are the table's current values: the canonical model does not date them,
    so for a past ``as_of`` they may include votes and views that came later.
    """
    return Query(
        """
        WITH drawn AS (
            SELECT i.content_id, count(*) AS n FROM interactions i JOIN content c USING (content_id)
            WHERE i.occurred_at <= $as_of AND i.actor_id <> c.author_id GROUP BY 1)
        SELECT c.content_id, c.author_id, c.kind, c.created_at, c.rating, c.helpful_votes, c.views,
               c.product_id, coalesce(d.n, 0) AS interactions_drawn
        FROM content c LEFT JOIN drawn d USING (content_id)
        WHERE c.created_at <= $as_of
        """,
        {"as_of": _t(as_of)},
        ("author_id",),
    )


def content_actions_query(as_of: Any, *, window_days: float = 365.0) -> Query:
    """Actions on content ``(user_id, action_id, time)`` in ``[as_of - window_days, as_of)``.

    The cascades the spread's edge probabilities are learned from (:class:`~socialvalue.social.imm.InfluenceModel`).
    """
    t = utc_naive(as_of)
    return Query(
        "SELECT actor_id AS user_id, content_id AS action_id, occurred_at AS time FROM interactions "
        "WHERE content_id IS NOT NULL AND occurred_at >= ? AND occurred_at < ? "
        "ORDER BY action_id, user_id, time",
        ((t - pd.Timedelta(days=window_days)).to_pydatetime(), t.to_pydatetime()),
    )


def loyalty_query(as_of: Any, *, positive_rating: float = 4.0) -> Query:
    """Per consented customer: ``n_orders``, ``tenure_days``, ``positive_reviews``, ``referrals_made``."""
    return Query(
        """
        WITH o AS (
            SELECT customer_id, count(*) AS n_orders, min(ordered_at) AS first_at FROM orders
            WHERE status = 'completed' AND amount > 0 AND ordered_at <= $as_of GROUP BY 1),
        r AS (
            SELECT author_id AS customer_id, count(*) AS positive_reviews FROM content
            WHERE kind = 'review' AND rating >= $rating AND created_at <= $as_of GROUP BY 1),
        f AS (
            SELECT src_id AS customer_id, count(DISTINCT dst_id) AS referrals_made FROM relationships
            WHERE kind = 'referred' AND (created_at IS NULL OR created_at <= $as_of) GROUP BY 1)
        SELECT c.customer_id, coalesce(o.n_orders, 0) AS n_orders,
               coalesce(
                   CAST(date_diff('second', o.first_at, CAST($as_of AS TIMESTAMP)) AS DOUBLE) / 86400.0, 0.0
               ) AS tenure_days,
               coalesce(r.positive_reviews, 0) AS positive_reviews,
               coalesce(f.referrals_made, 0) AS referrals_made
        FROM customers c LEFT JOIN o USING (customer_id) LEFT JOIN r USING (customer_id)
             LEFT JOIN f USING (customer_id)
        WHERE c.consent_profiling
        ORDER BY c.customer_id
        """,
        {"as_of": _t(as_of), "rating": positive_rating},
    )


def audience_activity_query(
    as_of: Any, *, window_days: float = 365.0, config: ExposureConfig | None = None
) -> Query:
    """Per consented customer, their followers' purchases and net spend in ``[as_of - window_days, as_of)``.

    See :func:`socialvalue.pipeline.social_inputs.audience_activity` for the definition.
    """
    cfg = config or ExposureConfig()
    t = utc_naive(as_of)
    return Query(
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
            WHERE o.ordered_at >= $start AND o.ordered_at < $as_of AND {REVENUE}
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
               date_diff('microsecond', occurred_at, CAST($as_of AS TIMESTAMP)) AS age_us
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


def graph_edges_query(
    as_of: Any,
    *,
    window_days: float = 365.0,
    relationship_kinds: Sequence[str] = ("follow", "friend"),
    interaction_kinds: Sequence[str] | None = None,
) -> Query:
    """The influence graph's edge rows at ``as_of`` on integer node codes (``row_number()`` in id order).

    One row per tie (``age_us`` NULL) or interaction (its age in microseconds at ``as_of``): ``s``, ``d``
    (codes, NULL for an end outside the customers table, then named in ``src_unknown``/``dst_unknown``),
    ordered by pair and age (oldest first, ties first). Ties are ``relationship_kinds`` created before
    ``as_of`` (or undated) and not ended; interactions are those with a target customer in
    ``[as_of - window_days, as_of)`` (of ``interaction_kinds``; all when None).
    """
    t = utc_naive(as_of)
    params = {
        "as_of": t.to_pydatetime(),
        "start": (t - pd.Timedelta(days=window_days)).to_pydatetime(),
        "kinds": ["follow" if k == "follows" else k for k in relationship_kinds] or [""],
        "all_kinds": interaction_kinds is None,
        "interaction_kinds": list(interaction_kinds or []) or [""],
    }
    return Query(_GRAPH_EDGES, params)
