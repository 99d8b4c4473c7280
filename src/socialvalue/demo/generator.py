"""Generate the demo data set: a realistic online shop with a social layer and known ground truth.

:func:`generate` simulates, fully vectorised and deterministic in ``seed``:

1. customers signing up over the history (growing intensity), with channel, country and consents;
2. purchases from the BG/NBD process and spend from the Gamma-Gamma model (Fader, Hardie & Lee 2005a, b),
   plus a few cancellations and returns;
3. referral trees (referrers are earlier, alive, more active customers) and a community-structured,
   heavy-tailed follower graph with follow-backs, unfollows and friendships;
4. content by a minority of creators and reviews of purchases, and the interactions around them;
5. purchases by followers caused by exposure to an influencer's content and shares.

The result, :class:`DemoData`, holds the five canonical tables as Arrow tables and the ground truth
(:mod:`socialvalue.demo.truth`). Parameters are in :class:`~socialvalue.demo.DemoConfig` (rates per day).

Conventions of the generated tables
-----------------------------------
* Ids are fixed-width strings: customers ``C0000000`` (numbered in signup order), orders ``O00000000`` (in
  time order), events ``E00000000``, content ``K0000000``, products ``P00000``.
* Timestamps are naive UTC with second resolution; every event lies in ``[start, end)`` and after the
  actor's signup.
* Orders: ``completed`` purchases (the BG/NBD stream plus influenced purchases); ``cancelled`` attempts (~2%,
  extra rows shortly before a purchase, not part of the purchase process); ``returned`` rows (~4%): a full
  return is a separate row with the negated amount, positive quantity and the returned order's id in the
  JSON ``extra`` column (``{"return_of": "O..."}``, null on other rows). One currency (``USD`` by default).
* Relationships: ``follow`` (follower -> followed, some with ``ended_at``), ``friend`` (stored in both
  directions), ``referred`` (referrer -> referred customer, at the referred customer's signup).
* Influenced purchases are about 5% of completed orders at the default settings; their share rises a little
  with the number of customers, since bigger graphs have bigger hubs.

References
----------
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005a). "Counting your customers" the easy way: An alternative to
the Pareto/NBD model. *Marketing Science* 24(2), 275-284.
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005b). RFM and CLV: Using iso-value curves for customer base
analysis. *Journal of Marketing Research* 42(4), 415-430.
Bianconi, G. & Barabási, A.-L. (2001). Competition and multiscaling in evolving networks. *Europhysics
Letters* 54(4), 436-442 (fitness-driven preferential attachment).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from socialvalue.datasets._common import fixed_width_ids, ingest_tables
from socialvalue.demo._arrow import labels as _labels
from socialvalue.demo._arrow import money as _money
from socialvalue.demo._arrow import take as _take
from socialvalue.demo._arrow import timestamps as _timestamps
from socialvalue.demo._arrow import width as _width
from socialvalue.demo._graph import Graph, simulate_graph
from socialvalue.demo._population import CHANNELS, Population, simulate_population
from socialvalue.demo._social import (
    CONTENT_KINDS,
    INTERACTION_CHANNELS,
    INTERACTION_KINDS,
    Content,
    Influence,
    Interactions,
    simulate_content,
    simulate_influence,
    simulate_interactions,
)
from socialvalue.demo._truth_table import influence_table, truth_table
from socialvalue.demo.config import DemoConfig
from socialvalue.demo.truth import TRUTH_COLUMNS
from socialvalue.errors import ConfigError
from socialvalue.schema import KINDS

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

    from socialvalue.ingest.load import LoadReport
    from socialvalue.store import Store

__all__ = ["DEFAULT_END", "DEFAULT_START", "DemoData", "generate"]

logger = logging.getLogger(__name__)

DEFAULT_END = dt.datetime(2026, 6, 30)
DEFAULT_START = dt.datetime(2024, 7, 1)


@dataclass
class DemoData:
    """The generated canonical tables and their ground truth.

    Attributes
    ----------
    customers, orders, interactions, relationships, content
        Canonical tables (Arrow), ready for ``Store.ingest``.
    truth
        One row per customer of latent parameters and true values (:data:`~socialvalue.demo.truth.TRUTH_COLUMNS`).
    influence_events
        One row per purchase caused by an influencer.
    params
        Population parameters, time unit, period, seed and configuration.
    """

    customers: pa.Table
    orders: pa.Table
    interactions: pa.Table
    relationships: pa.Table
    content: pa.Table
    truth: pa.Table
    influence_events: pa.Table
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def tables(self) -> dict[str, pa.Table]:
        """The five canonical tables keyed by kind."""
        return {kind: getattr(self, kind) for kind in KINDS}

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """Write the tables as Parquet (``<kind>.parquet``) and the truth under ``truth/``.

        Returns
        -------
        dict of str to Path
            Every file written, keyed by a short name (``orders``, ``truth``, ``influence_events``, ``params``).
        """
        import pyarrow.parquet as pq

        out = Path(out_dir)
        (out / "truth").mkdir(parents=True, exist_ok=True)
        paths: dict[str, Path] = {}
        for kind, tbl in self.tables.items():
            paths[kind] = out / f"{kind}.parquet"
            pq.write_table(tbl, paths[kind])
        paths["truth"] = out / "truth" / "customers.parquet"
        pq.write_table(self.truth, paths["truth"])
        paths["influence_events"] = out / "truth" / "influence_events.parquet"
        pq.write_table(self.influence_events, paths["influence_events"])
        paths["params"] = out / "truth" / "params.json"
        paths["params"].write_text(json.dumps(self.params, indent=2, default=str) + "\n", encoding="utf-8")
        return paths

    def load_into(self, store: Store, **ingest_options: Any) -> dict[str, LoadReport]:
        """Load the five canonical tables into ``store`` (customers first) with :func:`socialvalue.ingest.load.ingest`.

        ``store`` is any :class:`socialvalue.store.Store` (``socialvalue.Store`` too); ``ingest_options`` go to
        every load (e.g. ``force=True``).
        """
        return ingest_tables(store, self.tables, **ingest_options)


@dataclass
class _Orders:
    customer: np.ndarray
    time: np.ndarray
    amount: np.ndarray
    quantity: np.ndarray
    status: np.ndarray  # index into _STATUSES
    return_of: np.ndarray  # row of the returned order, -1
    influence: np.ndarray  # influence event of a caused purchase, -1


_STATUSES = ("completed", "cancelled", "returned")


def _orders(rng: np.random.Generator, pop: Population, infl: Influence, cfg: DemoConfig) -> _Orders:
    """Completed purchases (BG/NBD + influenced), then cancelled attempts and returns around them."""
    base_amount = rng.gamma(cfg.gg_p, 1.0 / pop.nu[pop.order_customer])
    customer = np.concatenate([pop.order_customer, infl.influenced])
    time = np.concatenate([pop.order_time, infl.purchase_time])
    amount = np.concatenate([base_amount, infl.amount])
    influence = np.concatenate([np.full(len(base_amount), -1), np.arange(len(infl.amount))])
    quantity = 1 + rng.poisson(cfg.mean_extra_items, len(customer))
    n = len(customer)

    # A cancelled attempt shortly before some purchases (not part of the purchase process).
    cancel = np.flatnonzero(rng.random(n) < cfg.cancel_share)
    c_time = np.maximum(time[cancel] - rng.random(len(cancel)), pop.signup[customer[cancel]])
    c_amount = rng.gamma(cfg.gg_p, 1.0 / pop.nu[customer[cancel]])
    # Full returns of some purchases: a separate row with a negative amount, referencing the original.
    ret = np.flatnonzero(rng.random(n) < cfg.return_share)
    r_time = time[ret] + rng.exponential(cfg.return_delay_days, len(ret))
    ret, r_time = ret[r_time < pop.horizon], r_time[r_time < pop.horizon]

    k, r = len(cancel), len(ret)
    return _Orders(
        customer=np.concatenate([customer, customer[cancel], customer[ret]]),
        time=np.concatenate([time, c_time, r_time]),
        amount=np.concatenate([amount, c_amount, -amount[ret]]),
        quantity=np.concatenate([quantity, quantity[cancel], quantity[ret]]),
        status=np.concatenate([np.zeros(n, int), np.ones(k, int), np.full(r, 2)]),
        return_of=np.concatenate([np.full(n + k, -1), ret]),
        influence=np.concatenate([influence, np.full(k + r, -1)]),
    )


def _customer_table(pop: Population, cfg: DemoConfig, ids: pa.Array, start: dt.datetime) -> pa.Table:
    import pyarrow as pa

    return pa.table(
        {
            "customer_id": ids,
            "signup_at": _timestamps(start, pop.signup),
            "acquisition_channel": _labels(CHANNELS, pop.channel),
            "country": _labels(list(cfg.countries), pop.country),
            "consent_marketing": pa.array(pop.consent_marketing),
            "consent_profiling": pa.array(pop.consent_profiling),
        }
    )


def _relationship_table(pop: Population, graph: Graph, ids: pa.Array, start: dt.datetime) -> pa.Table:
    import pyarrow as pa

    referred = np.flatnonzero(pop.referrer >= 0)
    parts = [
        (graph.follow_src, graph.follow_dst, 0, graph.follow_created, graph.follow_ended),
        (graph.friend_src, graph.friend_dst, 1, graph.friend_created, np.full(len(graph.friend_src), np.nan)),
        (pop.referrer[referred], referred, 2, pop.signup[referred], np.full(len(referred), np.nan)),
    ]
    src, dst, created, ended = (np.concatenate([p[i] for p in parts]) for i in (0, 1, 3, 4))
    kind = np.concatenate([np.full(len(p[0]), p[2]) for p in parts])
    return pa.table(
        {
            "src_id": _take(ids, src),
            "dst_id": _take(ids, dst),
            "kind": _labels(("follow", "friend", "referred"), kind),
            "created_at": _timestamps(start, created),
            "ended_at": _timestamps(start, ended),
        }
    )


def _content_table(content: Content, ids: pa.Array, content_ids: pa.Array, start: dt.datetime) -> pa.Table:
    import pyarrow as pa

    is_review = content.product >= 0
    product_ids = fixed_width_ids("P", np.where(is_review, content.product, 0), 5)
    return pa.table(
        {
            "content_id": content_ids,
            "author_id": _take(ids, content.author),
            "kind": _labels(CONTENT_KINDS, content.kind),
            "created_at": _timestamps(start, content.created),
            "rating": pa.array(content.rating, pa.float64(), mask=~is_review),
            "helpful_votes": pa.array(content.helpful_votes, pa.int32(), mask=~is_review),
            "views": pa.array(content.views, pa.int64()),
            "product_id": product_ids.take(
                pa.array(np.arange(len(is_review)), pa.int64(), mask=~is_review if len(is_review) else None)
            ),
        }
    )


def _interaction_table(
    inter: Interactions, ids: pa.Array, content_ids: pa.Array, start: dt.datetime
) -> pa.Table:
    import pyarrow as pa

    # seconds each interaction lasted (the time share): a stream of its own, so the other tables' draws are
    # the same with or without it
    durations = np.round(np.random.default_rng(len(inter.actor)).lognormal(3.5, 1.0, len(inter.actor)), 1)
    return pa.table(
        {
            "event_id": fixed_width_ids("E", np.arange(len(inter.actor)), _width(len(inter.actor), 8)),
            "actor_id": _take(ids, inter.actor),
            "target_customer_id": _take(ids, inter.target),
            "content_id": _take(content_ids, inter.content),
            "kind": _labels(INTERACTION_KINDS, inter.kind),
            "channel": _labels(INTERACTION_CHANNELS, inter.channel),
            "occurred_at": _timestamps(start, inter.time),
            "duration_s": durations,
        }
    )


def generate(
    n_customers: int = 20_000,
    seed: int = 7,
    start: dt.datetime | dt.date = DEFAULT_START,
    end: dt.datetime | dt.date = DEFAULT_END,
    *,
    config: DemoConfig | None = None,
) -> DemoData:
    """Simulate the demo business (see the module docstring) and return its tables and ground truth.

    Parameters
    ----------
    n_customers
        Number of customers (all sign up between ``start`` and ``end``).
    seed
        Seed of every random draw: the same arguments give identical tables.
    start, end
        Observed history, naive UTC; nothing happens at or after ``end`` (use it as ``as_of``).
    config
        Latent parameters (:class:`~socialvalue.demo.DemoConfig`); defaults describe a mid-sized shop.

    Returns
    -------
    DemoData
        Canonical tables, truth table, influence events and parameters.

    Examples
    --------
    >>> from socialvalue.demo import generate
    >>> data = generate(n_customers=500, seed=1)
    >>> data.customers.num_rows
    500
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    cfg = config or DemoConfig()
    start_dt = start if isinstance(start, dt.datetime) else dt.datetime.combine(start, dt.time())
    end_dt = end if isinstance(end, dt.datetime) else dt.datetime.combine(end, dt.time())
    if start_dt.tzinfo is not None or end_dt.tzinfo is not None:
        start_dt = start_dt.astimezone(dt.UTC).replace(tzinfo=None) if start_dt.tzinfo else start_dt
        end_dt = end_dt.astimezone(dt.UTC).replace(tzinfo=None) if end_dt.tzinfo else end_dt
    horizon = (end_dt - start_dt).total_seconds() / 86_400.0
    if horizon <= 0:
        raise ConfigError(f"demo period is empty: start {start_dt} is not before end {end_dt}")
    if n_customers < 2:
        raise ConfigError(f"n_customers must be at least 2 (got {n_customers})")

    # One independent stream per stage, so changing one stage leaves the others' draws unchanged.
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]
    pop = simulate_population(streams[0], n_customers, horizon, cfg)
    graph = simulate_graph(streams[1], pop, cfg)
    content = simulate_content(streams[2], pop, graph, cfg)
    inter = simulate_interactions(streams[3], pop, graph, content, cfg)
    infl = simulate_influence(streams[4], pop, graph, content, inter, cfg)
    orders = _orders(streams[5], pop, infl, cfg)
    logger.info(
        "demo: %d customers, %d orders, %d interactions, %d follows",
        n_customers,
        len(orders.customer),
        len(inter.actor),
        len(graph.follow_src),
    )

    ids = fixed_width_ids("C", np.arange(n_customers), _width(n_customers))
    content_ids = fixed_width_ids("K", np.arange(len(content.author)), _width(len(content.author)))
    sort = np.lexsort((orders.customer, orders.time))
    position = np.empty_like(sort)
    position[sort] = np.arange(len(sort))
    order_ids = fixed_width_ids("O", np.arange(len(sort)), _width(len(sort), 8))
    original = orders.return_of[sort]
    order_table = pa.table(
        {
            "order_id": order_ids,
            "customer_id": _take(ids, orders.customer[sort]),
            "ordered_at": _timestamps(start_dt, orders.time[sort]),
            "amount": _money(orders.amount[sort]),
            "currency": pa.array(np.full(len(sort), cfg.currency, dtype=object), pa.string()),
            "status": _labels(_STATUSES, orders.status[sort]),
            "quantity": pa.array(orders.quantity[sort], pa.int32()),
            "extra": pc.binary_join_element_wise(
                '{"return_of":"',
                _take(order_ids, np.where(original >= 0, position[np.maximum(original, 0)], -1)),
                '"}',
                "",
            ),
        }
    )
    caused = np.flatnonzero(orders.influence >= 0)
    event_order = np.empty(len(infl.amount), np.int64)
    event_order[orders.influence[caused]] = position[caused]

    return DemoData(
        customers=_customer_table(pop, cfg, ids, start_dt),
        orders=order_table,
        interactions=_interaction_table(inter, ids, content_ids, start_dt),
        relationships=_relationship_table(pop, graph, ids, start_dt),
        content=_content_table(content, ids, content_ids, start_dt),
        truth=truth_table(pop, orders, infl, ids, start_dt),
        influence_events=influence_table(infl, ids, content_ids, order_ids, event_order, start_dt),
        params={
            "unit": "days",
            "start": start_dt.isoformat(),
            "end": end_dt.isoformat(),
            "seed": seed,
            "n_customers": n_customers,
            "bgnbd": {"r": cfg.r, "alpha": cfg.alpha, "a": cfg.a, "b": cfg.b},
            "gamma_gamma": {"p": cfg.gg_p, "q": cfg.gg_q, "v": cfg.gg_v},
            "truth_columns": TRUTH_COLUMNS,
            "config": cfg.model_dump(),
        },
    )
