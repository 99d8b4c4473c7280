"""The data the insight tests share: the demo shop and the CDNOW sample in stores, and their raw tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from socialvalue import Store
from socialvalue.datasets import cdnow, ingest_tables
from socialvalue.demo import generate

#: The demo's history ends 2026-06-30; the analyses are as of the next day.
DEMO_AS_OF = pd.Timestamp("2026-07-01")


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """The demo shop (3,000 customers, seed 7) loaded into a store: (store, tables as pandas, truth)."""
    data = generate(n_customers=3_000, seed=7)
    store = Store(tmp_path_factory.mktemp("insight_demo") / "store.duckdb")
    data.load_into(store)
    tables = {kind: t.to_pandas() for kind, t in data.tables.items()}
    yield store, tables, data.truth.to_pandas()
    store.close()


@pytest.fixture(scope="session")
def demo_scores(demo):
    """A scores frame from the demo's truth: ``clv`` its revenue, ``csv`` revenue plus network value."""
    truth = demo[2]
    return pd.DataFrame(
        {
            "customer_id": truth["customer_id"].astype(str),
            "clv": truth["revenue"].astype(float),
            "csv": (truth["revenue"] + truth["network_value"]).astype(float),
        }
    )


@pytest.fixture(scope="session")
def demo_segments(demo):
    """Two segments of the demo's customers: content creators and the others."""
    truth = demo[2]
    return pd.DataFrame(
        {
            "customer_id": truth["customer_id"].astype(str),
            "segment": np.where(truth["is_creator"].to_numpy(bool), "creator", "other"),
        }
    )


@pytest.fixture(scope="session")
def cdnow_sample(tmp_path_factory):
    """The CDNOW 1/10 sample (2,357 customers) loaded into a store: (store, its orders as pandas)."""
    tables = cdnow.load_transactions()
    store = Store(tmp_path_factory.mktemp("insight_cdnow") / "store.duckdb")
    ingest_tables(store, tables)
    yield store, tables["orders"].to_pandas()
    store.close()
