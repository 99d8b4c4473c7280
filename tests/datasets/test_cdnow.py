"""CDNOW loaders against the counts and the calibration summary published by Fader, Hardie & Lee (2005).

Data: CDNOW transaction log and calibration summary (tests/data/cdnow/SOURCE.md; Fader, Hardie & Lee 2005,
Marketing Science 24(2), "Counting your customers the easy way").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from socialvalue.datasets import DatasetNotFoundError, cdnow, ingest_tables
from socialvalue.errors import ConfigError
from socialvalue.schema import TABLES

TEST_DATA = Path(__file__).resolve().parents[1] / "data" / "cdnow"


@pytest.fixture(scope="module")
def sample():
    return cdnow.load_transactions(TEST_DATA / "CDNOW_sample.txt", sample=True)


def test_sample_counts(sample):
    """The papers' 1/10 sample: 2,357 customers and 6,919 purchase rows (SOURCE.md)."""
    assert sample["customers"].num_rows == 2357
    assert sample["orders"].num_rows == 6919
    orders = sample["orders"].to_pandas()
    assert orders["order_id"].is_unique
    assert set(orders["customer_id"]) == set(sample["customers"]["customer_id"].to_pylist())
    assert round(float(orders["amount"].astype(float).sum()), 2) == round(
        float(cdnow.read_log(TEST_DATA / "CDNOW_sample.txt")["dollar_value"].sum()), 2
    )


def test_packaged_sample_is_the_same_file(sample):
    packaged = cdnow.load_transactions()
    assert packaged["orders"].equals(sample["orders"])
    assert packaged["customers"].equals(sample["customers"])


def test_canonical_types_and_conventions(sample):
    orders, customers = sample["orders"], sample["customers"]
    assert orders.schema.field("ordered_at").type == pa.timestamp("us")
    assert orders.schema.field("amount").type == pa.decimal128(18, 4)
    assert set(orders.column_names) == set(TABLES["orders"].column_names)
    ts = orders["ordered_at"].to_pandas()
    assert (ts == ts.dt.normalize()).all()  # midnight UTC
    assert set(orders["currency"].to_pylist()) == {"USD"}
    assert set(orders["status"].to_pylist()) == {"completed"}
    first = orders.to_pandas().groupby("customer_id")["ordered_at"].min()
    signup = customers.to_pandas().set_index("customer_id")["signup_at"]
    assert (first.reindex(signup.index) == signup).all()
    assert orders["order_id"][0].as_py() == "00004-001"


def test_same_day_purchases_are_separate_orders(sample):
    orders = sample["orders"].to_pandas()
    per_day = orders.groupby(["customer_id", "ordered_at"]).size()
    assert (per_day > 1).sum() > 0
    assert per_day.sum() == 6919


def test_order_ids_are_deterministic():
    a = cdnow.load_transactions(TEST_DATA / "CDNOW_sample.txt")
    b = cdnow.load_transactions(TEST_DATA / "CDNOW_sample.txt")
    assert a["orders"].equals(b["orders"])


def test_summary_matches_transactions(sample):
    """The calibration summary (x, t_x, T, zbar) is recomputed from the log: purchase days up to 1997-09-30."""
    summary = cdnow.load_summary(TEST_DATA / "cdnow_summary_calibration.csv")
    assert list(summary.columns) == ["ID", "frequency", "recency", "T", "monetary_value"]
    assert len(summary) == 2357 and int(summary["frequency"].sum()) == 2457
    assert summary.attrs["unit"] == "W"

    log = cdnow.read_log(TEST_DATA / "CDNOW_sample.txt")
    cal = log[log["date"] <= pd.Timestamp("1997-09-30")]
    days = cal.groupby(["sample_id", "date"], as_index=False)["dollar_value"].sum()
    days["n"] = days.groupby("sample_id").cumcount()
    g = days.groupby("sample_id")
    s = summary.set_index("ID")
    frequency = (g.size() - 1).reindex(s.index)
    recency = ((g["date"].max() - g["date"].min()).dt.days / 7).reindex(s.index)
    monetary = days[days["n"] > 0].groupby("sample_id")["dollar_value"].mean().reindex(s.index).fillna(0.0)
    assert (frequency == s["frequency"]).all()
    np.testing.assert_allclose(recency, s["recency"], atol=0.005)
    np.testing.assert_allclose(monetary, s["monetary_value"], atol=0.006)


def test_packaged_summary():
    assert cdnow.load_summary().equals(cdnow.load_summary(TEST_DATA / "cdnow_summary_calibration.csv"))


@pytest.mark.shared_data
def test_master_counts(shared_data):
    """The full cohort: 23,570 customers and 69,659 rows (SOURCE.md)."""
    tables = cdnow.load_transactions(shared_data / "cdnow" / "CDNOW_master.txt", sample=False)
    assert tables["customers"].num_rows == 23570
    assert tables["orders"].num_rows == 69659
    assert pa.compute.count_distinct(tables["orders"]["order_id"]).as_py() == 69659


@pytest.mark.shared_data
def test_master_found_through_environment(shared_data, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOCIALVALUE_SHARED_DATA", str(shared_data))
    assert cdnow.load_transactions(sample=False)["customers"].num_rows == 23570


def test_missing_file_error(tmp_path, monkeypatch):
    with pytest.raises(DatasetNotFoundError, match="does not exist") as info:
        cdnow.load_transactions(tmp_path / "nope.txt")
    assert isinstance(info.value, ConfigError) and isinstance(info.value, FileNotFoundError)
    monkeypatch.setenv("SOCIALVALUE_SHARED_DATA", str(tmp_path))
    with pytest.raises(DatasetNotFoundError, match="SOCIALVALUE_SHARED_DATA"):
        cdnow.load_transactions(sample=False)


def test_ingest_into_store(store, sample):
    ingest_tables(store, sample)
    counts = store.table_counts()
    assert counts["customers"] == 2357 and counts["orders"] == 6919
    assert store.scalar("SELECT count(*) FROM customers WHERE extra->>'sample_id' IS NOT NULL") == 2357
    total = store.scalar("SELECT sum(amount) FROM orders")
    assert float(total) == pytest.approx(float(pa.compute.sum(sample["orders"]["amount"]).as_py()))


def test_ingest_tables_rejects_unknown_kind(store):
    with pytest.raises(ConfigError, match="not canonical table kinds: purchases"):
        ingest_tables(store, {"purchases": pa.table({"a": [1]})})
