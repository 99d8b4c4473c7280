"""Sources: the relations, aggregated by customer, that the feature expressions are evaluated over.

Each :class:`~socialvalue.features.registry.Source` is a ``FROM ... WHERE ...`` in DuckDB's dialect with
``{as_of}``-style placeholders (filled by :mod:`socialvalue.features.query`, conventions in
:mod:`socialvalue.features.split`). Order rows are classified by status in one place (see
:mod:`socialvalue.features.definitions`).
"""

from __future__ import annotations

from socialvalue.features.registry import FeatureConfig, Source

__all__ = ["base_ctes", "sources"]


def _in_list(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")" if values else "('')"


def _active_at(alias: str, instant: str = "{as_of}") -> str:
    """Relationship ``alias`` exists at the instant just before ``instant``."""
    return (
        f"({alias}.created_at IS NULL OR {alias}.created_at < {instant}) "
        f"AND ({alias}.ended_at IS NULL OR {alias}.ended_at >= {instant})"
    )


def base_ctes(config: FeatureConfig) -> dict[str, str]:
    """Relations several sources share (computed once per query), by name."""
    pw = config.partner_window_days
    return {
        "interaction_pairs": (
            "SELECT DISTINCT LEAST(i.actor_id, i.target_customer_id) AS lo, "
            "GREATEST(i.actor_id, i.target_customer_id) AS hi FROM interactions i "
            "WHERE i.target_customer_id IS NOT NULL AND i.target_customer_id <> i.actor_id "
            f"AND i.occurred_at >= {{start_{pw}d}} AND i.occurred_at < {{as_of}}"
        ),
        "purchase_days": (
            # DECIMAL sums, exact: a parallel DOUBLE sum adds in whatever order the threads finish, so the
            # same data gave a different last digit from run to run. An older note measured DOUBLE ~15% faster;
            # on the 40,000-customer demo (116k orders) both take 12.5 ms.
            "SELECT o.customer_id, CAST(o.ordered_at AS DATE) AS day, SUM(o.amount) AS value, "
            "MIN(o.ordered_at) AS first_at, MAX(o.ordered_at) AS last_at FROM orders o "
            f"WHERE o.ordered_at < {{as_of}} AND o.status NOT IN {_in_list(config.cancelled_statuses)} "
            "AND o.amount >= 0 GROUP BY o.customer_id, CAST(o.ordered_at AS DATE)"
        ),
    }


def sources(config: FeatureConfig) -> dict[str, Source]:
    """The aggregated relations features are computed over, by name."""
    cancelled = _in_list(config.cancelled_statuses)
    refund = _in_list(config.refund_statuses)
    net = f"(CASE WHEN o.amount >= 0 THEN o.amount ELSE 0 END - CASE WHEN o.status IN {refund} THEN abs(o.amount) ELSE 0 END)"
    holdout_orders = (
        f"SELECT o.customer_id, SUM({net}) AS revenue FROM orders o "
        f"WHERE o.ordered_at >= {{as_of}} AND o.ordered_at < {{holdout_end}} AND o.status NOT IN {cancelled} "
        "GROUP BY o.customer_id"
    )
    srcs = [
        Source(
            "purchases",
            description="purchase days (same-day purchases merged into one transaction)",
            key="p.customer_id",
            sql="FROM purchase_days p",
            ctes=("purchase_days",),
        ),
        Source(
            "purchase_gaps",
            description="days between consecutive purchase days",
            key="g.customer_id",
            sql=(
                "FROM (SELECT d.customer_id, "
                "DATE_DIFF('day', LAG(d.day) OVER (PARTITION BY d.customer_id ORDER BY d.day), d.day) AS gap "
                "FROM purchase_days d) g"
            ),
            ctes=("purchase_days",),
        ),
        Source(
            "orders",
            description="order rows before as_of, cancelled ones dropped, with net value",
            key="r.customer_id",
            sql=(
                "FROM (SELECT o.customer_id, o.ordered_at, o.status, "
                "CASE WHEN o.amount >= 0 THEN 1 ELSE 0 END AS is_purchase, "
                f"CASE WHEN o.status IN {refund} THEN 1 ELSE 0 END AS is_return, "
                f"CASE WHEN o.status IN {refund} THEN abs(o.amount) ELSE 0 END AS returned, "
                f"{net} AS net FROM orders o "
                f"WHERE o.ordered_at < {{as_of}} AND o.status NOT IN {cancelled}) r"
            ),
        ),
        Source(
            "given",
            description="interactions the customer made",
            key="i.actor_id",
            sql="FROM interactions i WHERE i.occurred_at < {as_of}",
        ),
        Source(
            "received",
            description="interactions other customers directed at the customer",
            key="i.target_customer_id",
            sql=(
                "FROM interactions i WHERE i.occurred_at < {as_of} AND i.target_customer_id IS NOT NULL "
                "AND i.target_customer_id <> i.actor_id"
            ),
        ),
        Source(
            "partners",
            description="distinct unordered pairs of customers that interacted, once per member",
            key="x.customer_id",
            # Deduplicate unordered pairs (LEAST, GREATEST) once, then credit both ends: half the rows of a
            # DISTINCT over both directions, and much cheaper than COUNT(DISTINCT partner) in DuckDB.
            sql=(
                "FROM (SELECT u.lo AS customer_id FROM interaction_pairs u UNION ALL "
                "SELECT v.hi AS customer_id FROM interaction_pairs v) x"
            ),
            ctes=("interaction_pairs",),
        ),
        Source(
            "followers",
            description="active 'follow' ties pointing at the customer",
            key="f.dst_id",
            sql=f"FROM relationships f WHERE f.kind = 'follow' AND f.src_id <> f.dst_id AND {_active_at('f')}",
        ),
        Source(
            "following",
            description="active 'follow' ties from the customer",
            key="f.src_id",
            sql=f"FROM relationships f WHERE f.kind = 'follow' AND f.src_id <> f.dst_id AND {_active_at('f')}",
        ),
        Source(
            "friends",
            description="active 'friend' ties, either direction",
            key="fr.customer_id",
            sql=(
                "FROM (SELECT f.src_id AS customer_id, f.dst_id AS other FROM relationships f "
                f"WHERE f.kind = 'friend' AND f.src_id <> f.dst_id AND {_active_at('f')} UNION ALL "
                "SELECT f.dst_id AS customer_id, f.src_id AS other FROM relationships f "
                f"WHERE f.kind = 'friend' AND f.src_id <> f.dst_id AND {_active_at('f')}) fr"
            ),
        ),
        Source(
            "referrals",
            description="customers referred before as_of and what they bought since the referral",
            key="rr.src_id",
            sql=(
                "FROM (SELECT r.src_id, r.dst_id, "
                "SUM(CASE WHEN o.amount >= 0 THEN 1 ELSE 0 END) AS n_purchases, "
                f"SUM({net}) AS spend FROM relationships r "
                "LEFT JOIN orders o ON o.customer_id = r.dst_id AND o.ordered_at < {as_of} "
                f"AND (r.created_at IS NULL OR o.ordered_at >= r.created_at) AND o.status NOT IN {cancelled} "
                "WHERE r.kind = 'referred' AND r.src_id <> r.dst_id "
                "AND (r.created_at IS NULL OR r.created_at < {as_of}) "
                "GROUP BY r.src_id, r.dst_id) rr"
            ),
        ),
        Source(
            "content",
            description="content the customer published before as_of",
            key="c.author_id",
            sql="FROM content c WHERE c.created_at < {as_of}",
        ),
        Source(
            "holdout_orders",
            description="orders in the holdout [as_of, holdout_end)",
            key="o.customer_id",
            holdout=True,
            sql=(
                f"FROM (SELECT o.customer_id, o.ordered_at, o.amount, {net} AS net FROM orders o "
                "WHERE o.ordered_at >= {as_of} AND o.ordered_at < {holdout_end} "
                f"AND o.status NOT IN {cancelled}) o"
            ),
        ),
        Source(
            "holdout_referrals",
            description="referrals made in the holdout",
            key="r.src_id",
            holdout=True,
            sql=(
                "FROM relationships r WHERE r.kind = 'referred' AND r.src_id <> r.dst_id "
                "AND r.created_at >= {as_of} AND r.created_at < {holdout_end}"
            ),
        ),
        Source(
            "holdout_network",
            description="holdout revenue of followers (at as_of) and referred customers (before holdout_end)",
            key="n.owner",
            holdout=True,
            sql=(
                "FROM (SELECT DISTINCT m.owner, m.member FROM ("
                "SELECT f.dst_id AS owner, f.src_id AS member FROM relationships f "
                f"WHERE f.kind = 'follow' AND f.src_id <> f.dst_id AND {_active_at('f')} UNION ALL "
                "SELECT r.src_id AS owner, r.dst_id AS member FROM relationships r "
                "WHERE r.kind = 'referred' AND r.src_id <> r.dst_id "
                "AND (r.created_at IS NULL OR r.created_at < {holdout_end})) m) n "
                f"JOIN ({holdout_orders}) h ON h.customer_id = n.member"
            ),
        ),
    ]
    return {s.name: s for s in srcs}
