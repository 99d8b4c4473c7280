"""Fixtures for the engine tests: plain-SQL row insertion and the CDNOW sample in a store."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ..features.conftest import insert

__all__ = ["insert"]

CDNOW_LOCAL = Path(__file__).resolve().parents[1] / "data" / "cdnow"


@pytest.fixture(scope="session")
def cdnow_dir(request) -> Path:
    """Directory with CDNOW_sample.txt and cdnow_summary_calibration.csv (tests/data, else shared data)."""
    if (CDNOW_LOCAL / "CDNOW_sample.txt").exists():
        return CDNOW_LOCAL
    return request.getfixturevalue("shared_data") / "cdnow"


@pytest.fixture(scope="session")
def cdnow_transactions(cdnow_dir) -> pd.DataFrame:
    """The 1/10 CDNOW sample: customer_id (sample id as text), ordered_at, amount."""
    df = pd.read_csv(
        cdnow_dir / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "sample_id", "date", "n_cds", "amount"],
        dtype={"date": str},
    )
    return pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(len(df))],
            "customer_id": df["sample_id"].astype(str),
            "ordered_at": pd.to_datetime(df["date"], format="%Y%m%d"),
            "amount": df["amount"].astype(float),
        }
    )


@pytest.fixture
def cdnow_store(store, cdnow_transactions):
    """A store holding the CDNOW sample's customers (no signup time) and orders."""
    ids = sorted(cdnow_transactions["customer_id"].unique(), key=int)
    insert(store, "customers", [{"customer_id": c} for c in ids])
    insert(store, "orders", cdnow_transactions.to_dict("records"))
    return store
