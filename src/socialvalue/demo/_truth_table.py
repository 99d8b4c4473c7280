"""Assemble the ground-truth tables of the demo generator (columns documented in :mod:`~socialvalue.demo.truth`)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import numpy as np

from socialvalue.demo._arrow import take, timestamps

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

    from socialvalue.demo._population import Population
    from socialvalue.demo._social import Influence

__all__ = ["influence_table", "truth_table"]


def truth_table(pop: Population, orders: Any, infl: Influence, ids: pa.Array, start: dt.datetime) -> pa.Table:
    """One row per customer: latent parameters, churn, revenue, referrals, influence and network value."""
    import pyarrow as pa

    n = pop.n
    completed = orders.status == 0
    net = completed | (orders.status == 2)
    amount = np.round(orders.amount, 2)
    revenue = np.bincount(orders.customer[net], weights=amount[net], minlength=n)
    referred = np.flatnonzero(pop.referrer >= 0)
    referred_revenue = np.bincount(pop.referrer[referred], weights=revenue[referred], minlength=n)
    influenced_revenue = np.bincount(infl.influencer, weights=np.round(infl.amount, 2), minlength=n)
    churned = pop.death < pop.horizon
    return pa.table(
        {
            "customer_id": ids,
            "is_buyer": pa.array(pop.is_buyer),
            "lambda": pa.array(pop.lam),
            "dropout_p": pa.array(pop.p_drop),
            "nu": pa.array(pop.nu),
            "first_purchase_at": timestamps(start, pop.first),
            "death_at": timestamps(start, pop.death),
            "churned": pa.array(churned, mask=~pop.is_buyer),
            "n_repeat_base": pa.array(pop.n_repeat, pa.int64()),
            "n_orders": pa.array(np.bincount(orders.customer[completed], minlength=n), pa.int64()),
            "revenue": pa.array(np.round(revenue, 2)),
            "influence_strength": pa.array(pop.influence),
            "popularity": pa.array(pop.popularity),
            "community": pa.array(pop.community, pa.int64()),
            "is_creator": pa.array(pop.is_creator),
            "referrer_id": take(ids, pop.referrer),
            "n_referred": pa.array(np.bincount(pop.referrer[referred], minlength=n), pa.int64()),
            "referred_revenue": pa.array(np.round(referred_revenue, 2)),
            "n_influenced": pa.array(np.bincount(infl.influencer, minlength=n), pa.int64()),
            "influenced_revenue": pa.array(np.round(influenced_revenue, 2)),
            "n_orders_influenced": pa.array(np.bincount(infl.influenced, minlength=n), pa.int64()),
            "network_value": pa.array(np.round(referred_revenue + influenced_revenue, 2)),
        }
    )


def influence_table(
    infl: Influence,
    ids: pa.Array,
    content_ids: pa.Array,
    order_ids: pa.Array,
    event_order: np.ndarray,
    start: dt.datetime,
) -> pa.Table:
    """One row per purchase caused by an influencer, with the order it became."""
    import pyarrow as pa

    return pa.table(
        {
            "influencer_id": take(ids, infl.influencer),
            "influenced_id": take(ids, infl.influenced),
            "order_id": take(order_ids, event_order),
            "value": pa.array(np.round(infl.amount, 2)),
            "exposure_at": timestamps(start, infl.exposure_time),
            "ordered_at": timestamps(start, infl.purchase_time),
            "content_id": take(content_ids, infl.content),
        }
    )
