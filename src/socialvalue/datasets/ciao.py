"""The Ciao review community (Tang, Gao & Liu 2012) in canonical form: dated reviews and a trust graph.

Ciao members rated and reviewed products, rated how helpful others' reviews were and declared whom they
trust. The data carry no prices and no signup dates, so the mapping makes these choices:

* ``customers``: every member who rated or appears in the trust graph (7,334 members); ``customer_id`` is the
  member id as a string. ``signup_at``, ``acquisition_channel`` and ``country`` are unknown (null); consent
  columns take the schema defaults (no marketing consent, profiling allowed).
* ``content``: one ``review`` per rating row (252,277), ``content_id`` ``"r<row>"`` (row of the file),
  ``rating`` the 1-5 stars (the 33 ratings of 0, outside the scale, become null), ``helpful_votes`` the
  review's ``helpfulness`` score (Ciao's helpfulness rating, the closest thing to helpful votes),
  ``product_id`` the product, ``views`` null; ``category_id`` is kept as a non-canonical column.
* ``interactions``: one ``review`` event per rating (``event_id`` ``"i<row>"``), actor the reviewer, no
  target customer (it is about a product), ``content_id`` the review, ``channel`` ``web``.
* ``relationships``: one ``follow`` tie per trust edge, ``truster -> trustee`` (the truster follows the
  trustee's reviews); there are no dates, so ``created_at`` and ``ended_at`` are null.
* ``orders`` (only with ``ratings_as_orders=True``): a rating implies the member used the product, so each
  rating may stand in for a purchase, counted, not priced: ``order_id`` ``"o<row>"``, ``amount`` 1,
  ``currency`` ``XXX`` (ISO 4217's "no currency"), ``quantity`` 1, ``status`` ``completed``, with
  ``product_id`` and ``category_id`` as non-canonical columns. Purchase models then read counts, and any
  "revenue" is a number of products.

Times are the file's UTC timestamps (day resolution, 07:00).

References
----------
Tang, J., Gao, H. & Liu, H. (2012). mTrust: Discerning multi-faceted trust in a connected world. *WSDM 2012*,
93-102. Tang, J., Gao, H., Liu, H. & Das Sarma, A. (2012). eTrust: Understanding trust evolution in an online
world. *KDD 2012*, 253-261.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from socialvalue.datasets._common import DatasetNotFoundError, fixed_width_ids, shared_file

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

__all__ = ["RATINGS_FILE", "TRUST_FILE", "load"]

RATINGS_FILE = "ciao_ratings_2000_2009.parquet"
TRUST_FILE = "ciao_trust.parquet"


def _files(path: str | os.PathLike[str] | None) -> tuple[Path, Path]:
    if path is None:
        return shared_file("ciao", RATINGS_FILE), shared_file("ciao", TRUST_FILE)
    folder = Path(path)
    ratings, trust = folder / RATINGS_FILE, folder / TRUST_FILE
    missing = [str(p) for p in (ratings, trust) if not p.is_file()]
    if missing:
        raise DatasetNotFoundError(f"Ciao files missing: {', '.join(missing)}")
    return ratings, trust


def load(
    path: str | os.PathLike[str] | None = None, *, ratings_as_orders: bool = False
) -> dict[str, pa.Table]:
    """Load Ciao as canonical tables (see the module docstring for every mapping choice).

    Parameters
    ----------
    path
        Folder holding ``ciao_ratings_2000_2009.parquet`` and ``ciao_trust.parquet``; ``None`` uses
        ``ciao/`` in the shared data folder.
    ratings_as_orders
        Also return an ``orders`` table with one count-valued order (amount 1, currency ``XXX``) per rating.

    Returns
    -------
    dict of str to pyarrow.Table
        ``customers``, ``content``, ``interactions``, ``relationships`` (and ``orders``).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    ratings_file, trust_file = _files(path)
    ratings = pq.read_table(ratings_file)
    trust = pq.read_table(trust_file)
    n = ratings.num_rows
    width = max(len(str(n)), 1)
    rows = np.arange(n)

    user = ratings["user_id"].cast(pa.string())
    product = ratings["product_id"].cast(pa.string())
    created = ratings["created_at"].cast(pa.timestamp("us"))
    rating = ratings["rating"].cast(pa.float64())
    rating = pc.if_else(pc.equal(rating, 0.0), pa.scalar(None, pa.float64()), rating)
    content_id = fixed_width_ids("r", rows, width)

    members = np.union1d(
        ratings["user_id"].to_numpy(),
        np.union1d(trust["truster_id"].to_numpy(), trust["trustee_id"].to_numpy()),
    )
    customers = pa.table(
        {
            "customer_id": pa.array(members).cast(pa.string()),
            "signup_at": pa.nulls(len(members), pa.timestamp("us")),
        }
    )
    content = pa.table(
        {
            "content_id": content_id,
            "author_id": user,
            "kind": pa.array(np.full(n, "review", dtype=object), pa.string()),
            "created_at": created,
            "rating": rating,
            "helpful_votes": ratings["helpfulness"].cast(pa.int32()),
            "views": pa.nulls(n, pa.int64()),
            "product_id": product,
            "category_id": ratings["category_id"],
        }
    )
    interactions = pa.table(
        {
            "event_id": fixed_width_ids("i", rows, width),
            "actor_id": user,
            "target_customer_id": pa.nulls(n, pa.string()),
            "content_id": content_id,
            "kind": pa.array(np.full(n, "review", dtype=object), pa.string()),
            "channel": pa.array(np.full(n, "web", dtype=object), pa.string()),
            "occurred_at": created,
        }
    )
    m = trust.num_rows
    relationships = pa.table(
        {
            "src_id": trust["truster_id"].cast(pa.string()),
            "dst_id": trust["trustee_id"].cast(pa.string()),
            "kind": pa.array(np.full(m, "follow", dtype=object), pa.string()),
            "created_at": pa.nulls(m, pa.timestamp("us")),
            "ended_at": pa.nulls(m, pa.timestamp("us")),
        }
    )
    tables = {
        "customers": customers,
        "content": content,
        "interactions": interactions,
        "relationships": relationships,
    }
    if ratings_as_orders:
        tables["orders"] = pa.table(
            {
                "order_id": fixed_width_ids("o", rows, width),
                "customer_id": user,
                "ordered_at": created,
                "amount": pa.array(np.ones(n)).cast(pa.decimal128(18, 4)),
                "currency": pa.array(np.full(n, "XXX", dtype=object), pa.string()),
                "status": pa.array(np.full(n, "completed", dtype=object), pa.string()),
                "quantity": pa.array(np.ones(n, np.int32)),
                "product_id": product,
                "category_id": ratings["category_id"],
            }
        )
    return tables
