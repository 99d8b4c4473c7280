"""Small canonical batches shared by the ingest tests."""

from __future__ import annotations

import pandas as pd
import pytest


@pytest.fixture
def customers_df() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3"],
            "signup_at": ["2023-01-05 10:00:00", "2023-02-01 00:00:00", "2023-03-09 23:30:00"],
            "country": ["DE", "FR", "US"],
            "consent_marketing": ["yes", "no", "yes"],
        }
    )


@pytest.fixture
def orders_df() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": ["o1", "o2", "o3", "o4"],
            "customer_id": ["c1", "c1", "c2", "c3"],
            "ordered_at": [
                "2024-01-01 09:00:00",
                "2024-02-01 12:30:00",
                "2024-02-03 08:00:00",
                "2024-03-01 00:00:00",
            ],
            "amount": ["10.50", "20", "-5.25", "7"],
            "status": ["completed", "completed", "returned", "pending"],
        }
    )


@pytest.fixture
def with_customers(store, customers_df):
    store.ingest("customers", customers_df)
    return store
