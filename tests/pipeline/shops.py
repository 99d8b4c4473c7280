"""Small, ordinary shops generated in the tests: the shapes a new user's own data takes.

Each shop is a folder of CSV files (customers, orders, and optionally relationships and interactions) written
as a shop's export would be, so tests drive them through ``socialvalue ingest`` and ``socialvalue run`` like a
user. Nothing here is tuned to make the engine pass: prices, dates and sizes are the parameters of a shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Shop:
    """Parameters of a generated shop."""

    customers: int = 200
    start: str = "2024-07-01"
    end: str = "2026-07-01"  # exclusive: no order on or after this day
    currency: str | tuple[str, ...] = "EUR"
    fixed_price: float | None = None
    one_order_each: bool = False
    return_share: float = 0.05
    social: bool = True
    seed: int = 0


def generate_shop(shop: Shop, folder: Path) -> dict[str, Path]:
    """Write ``customers.csv``, ``orders.csv`` (and ``relationships.csv``, ``interactions.csv``) to ``folder``."""
    rng = np.random.default_rng(shop.seed)
    folder.mkdir(parents=True, exist_ok=True)
    start, end = pd.Timestamp(shop.start), pd.Timestamp(shop.end)
    span = (end - start).days
    n = shop.customers
    ids = np.array([f"K{i:05d}" for i in range(n)])
    signup_day = rng.integers(0, max(span - 1, 1), n)
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "signup_at": (start + pd.to_timedelta(signup_day, "D")).strftime("%Y-%m-%d %H:%M:%S"),
            "consent_marketing": rng.random(n) < 0.7,
            "consent_profiling": rng.random(n) < 0.95,
        }
    )
    # purchases: a Poisson process per customer (rate ~ gamma), stopped by a geometric dropout
    rate = rng.gamma(0.8, 1 / 20.0, n)  # orders per day
    rows = []
    for i in range(n):  # test data generation, not library code
        day = float(signup_day[i])
        k = 0
        while day < span:
            rows.append((ids[i], day))
            k += 1
            if shop.one_order_each or rng.random() < 0.15:
                break
            day = float(np.floor(day + rng.exponential(1 / max(rate[i], 1e-3))))
    orders = pd.DataFrame(rows, columns=["customer_id", "day"])
    orders = orders[orders["day"] < span].reset_index(drop=True)
    m = len(orders)
    ts = start + pd.to_timedelta(orders["day"], "D") + pd.to_timedelta(rng.integers(8, 20, m), "h")
    if shop.fixed_price is not None:
        amount = np.full(m, shop.fixed_price)
    else:
        amount = np.round(rng.lognormal(3.6, 0.6, m), 2)
    status = np.where(rng.random(m) < shop.return_share, "returned", "completed")
    amount = np.where(status == "returned", -amount, amount)
    cur = shop.currency
    currency = np.full(m, cur) if isinstance(cur, str) else rng.choice(np.array(cur), m)
    out = pd.DataFrame(
        {
            "order_id": [f"O{j:06d}" for j in range(m)],
            "customer_id": orders["customer_id"],
            "ordered_at": ts.dt.strftime("%Y-%m-%d %H:%M:%S"),
            "amount": amount,
            "currency": currency,
            "status": status,
        }
    )
    paths = {"customers": folder / "customers.csv", "orders": folder / "orders.csv"}
    customers.to_csv(paths["customers"], index=False)
    out.to_csv(paths["orders"], index=False)
    if shop.social and n >= 10:
        k = n * 2
        src, dst = rng.integers(0, n, k), rng.integers(0, n, k)
        keep = src != dst
        rel = pd.DataFrame(
            {
                "src_id": ids[src[keep]],
                "dst_id": ids[dst[keep]],
                "kind": "friend",
                "created_at": (start + pd.to_timedelta(rng.integers(0, span, keep.sum()), "D")).strftime(
                    "%Y-%m-%d"
                ),
            }
        ).drop_duplicates(["src_id", "dst_id", "kind"])
        paths["relationships"] = folder / "relationships.csv"
        rel.to_csv(paths["relationships"], index=False)
        e = n * 5
        a, t = rng.integers(0, n, e), rng.integers(0, n, e)
        inter = pd.DataFrame(
            {
                "event_id": [f"E{j:06d}" for j in range(e)],
                "actor_id": ids[a],
                "target_customer_id": ids[t],
                "kind": rng.choice(np.array(["like", "comment", "share"]), e),
                "occurred_at": (start + pd.to_timedelta(rng.integers(0, span, e), "D")).strftime("%Y-%m-%d"),
            }
        )
        paths["interactions"] = folder / "interactions.csv"
        inter.to_csv(paths["interactions"], index=False)
    return paths
