r"""Ground truth of the demo data: the latent parameters and causal links the generator used.

Three objects let tests and benchmarks check that models recover what was simulated:

* ``params`` (``truth/params.json``) — the population parameters: BG/NBD ``r``, ``alpha`` (days), ``a``,
  ``b``; Gamma-Gamma ``p``, ``q``, ``v``; the time unit, ``start``, ``end``, ``seed`` and the full config.
* ``truth`` (``truth/customers.parquet``) — one row per customer, columns in :data:`TRUTH_COLUMNS`.
* ``influence_events`` (``truth/influence_events.parquet``) — one row per purchase caused by an influencer:
  ``influencer_id``, ``influenced_id``, ``order_id``, ``value``, ``exposure_at``, ``ordered_at``,
  ``content_id`` (the content item seen or shared).

A customer's **network value** is the net revenue (completed orders minus returns, over the whole history) of
the customers they referred plus the value of the purchases they caused through influence:

.. math:: NV_i = \sum_{j : \mathrm{ref}(j) = i} R_j + \sum_{e : \mathrm{influencer}(e) = i} v_e .

A referred customer's revenue includes its own influenced purchases, so the two sums can overlap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

__all__ = ["TRUTH_COLUMNS", "read_truth"]

#: Columns of the per-customer truth table, with their meaning.
TRUTH_COLUMNS: dict[str, str] = {
    "customer_id": "Customer identifier.",
    "is_buyer": "Made a first purchase before the end (BG/NBD applies only to buyers).",
    "lambda": "BG/NBD purchase rate while alive, per day.",
    "dropout_p": "BG/NBD probability of dropping out after each repeat purchase.",
    "nu": "Gamma-Gamma rate: the customer's mean spend per transaction is gg_p / nu.",
    "first_purchase_at": "Time of the first purchase (BG/NBD time zero); null for non-buyers.",
    "death_at": "Churn time (the repeat purchase after which the customer dropped out); may lie after "
    "the end (capped 100 years after it); null for non-buyers.",
    "churned": "death_at before the end; null for non-buyers.",
    "n_repeat_base": "Repeat purchases of the BG/NBD stream before the end (influenced ones excluded).",
    "n_orders": "Completed orders before the end (BG/NBD stream + influenced).",
    "revenue": "Net revenue before the end: completed orders minus returns.",
    "influence_strength": "Latent influence strength s (mean 1): conversion per exposure is c * s.",
    "popularity": "Pareto attractiveness in the follower graph.",
    "community": "Community number.",
    "is_creator": "Posts content (posts, photos, videos).",
    "referrer_id": "Who referred this customer (null if not referred).",
    "n_referred": "Customers this customer referred.",
    "referred_revenue": "Net revenue of the customers this customer referred.",
    "n_influenced": "Purchases of others this customer caused.",
    "influenced_revenue": "Value of the purchases of others this customer caused.",
    "n_orders_influenced": "Own purchases caused by someone else's influence.",
    "network_value": "referred_revenue + influenced_revenue.",
}


def read_truth(out_dir: str | Path) -> tuple[pa.Table, pa.Table, dict]:
    """Read ``truth/customers.parquet``, ``truth/influence_events.parquet`` and ``truth/params.json``.

    Parameters
    ----------
    out_dir
        The folder a :class:`~socialvalue.demo.DemoData` was written to.

    Returns
    -------
    tuple
        ``(truth, influence_events, params)``.
    """
    import json

    import pyarrow.parquet as pq

    folder = Path(out_dir) / "truth"
    truth = pq.read_table(folder / "customers.parquet")
    events = pq.read_table(folder / "influence_events.parquet")
    params = json.loads((folder / "params.json").read_text(encoding="utf-8"))
    return truth, events, params
