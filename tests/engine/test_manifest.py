"""Materialization, the manifest row and Parquet export (the command: tests/cli/test_cmd_features.py)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import socialvalue
from socialvalue.engine import MANIFEST_TABLE, build, read_manifest
from socialvalue.errors import StoreError
from socialvalue.exports import export_feature_table
from socialvalue.features import compose, registry, sql_hash

from ..features.conftest import two_customers


@pytest.fixture
def small(store):
    return two_customers(store)


def test_materialized_table_and_manifest(small):
    df = build(small, as_of="2024-07-01", unit="W", holdout_end="2024-10-01")
    assert small.has_table("features_20240701")
    stored = small.query_arrow("SELECT * FROM features_20240701")
    kwargs = {"as_of": "2024-07-01", "unit": "W", "holdout_end": "2024-10-01", "materialize": False}
    assert stored.equals(build(small, as_arrow=True, **kwargs))
    pd.testing.assert_frame_equal(df, build(small, **kwargs))
    (man,) = read_manifest(small, "features_20240701")
    assert man["as_of"] == pd.Timestamp("2024-07-01") and man["unit"] == "W"
    assert man["calibration_end"] == pd.Timestamp("2024-07-01")
    assert man["holdout_end"] == pd.Timestamp("2024-10-01")
    assert man["n_rows"] == 2 and man["n_features"] == len(registry()) == len(df.columns) - 1
    assert man["code_version"] == socialvalue.__version__
    assert man["sql_hash"] == sql_hash(compose(holdout=True))
    snap = man["snapshot"]
    assert snap["orders"] == {"rows": 3, "max_ordered_at": "2024-08-01 00:00:00"}
    assert snap["relationships"]["max_ended_at"] == "2024-09-01 00:00:00"
    assert snap["interactions"] == {"rows": 0, "max_occurred_at": None}
    assert man["config"]["interaction_windows_days"] == [30, 90, 365]
    # rebuilding replaces the row, another as_of adds one
    build(small, as_of="2024-07-01", unit="D")
    build(small, as_of=pd.Timestamp("2024-03-01 12:30"), unit="D")
    assert [m["table_name"] for m in read_manifest(small)] == [
        "features_20240301_123000",
        "features_20240701",
    ]
    assert read_manifest(small, "features_20240701")[0]["holdout_end"] is None
    assert small.scalar(f"SELECT count(*) FROM {MANIFEST_TABLE}") == 2


def test_arrow_output_and_parquet_export(small, tmp_path):
    tbl = build(small, as_of="2024-07-01", as_arrow=True, table="feat_custom")
    assert isinstance(tbl, pa.Table) and tbl.column("customer_id").to_pylist() == ["a", "b"]
    path = export_feature_table(small, "feat_custom", tmp_path / "out" / "f.parquet")
    pd.testing.assert_frame_equal(pq.read_table(path).to_pandas(), tbl.to_pandas())
    # registered, so that an erasure rewrites the file too
    assert small.scalar("SELECT format FROM _exports WHERE path = ?", [str(path.resolve())]) == "parquet"
    with pytest.raises(StoreError, match="no feature table"):
        export_feature_table(small, "features_19990101", tmp_path / "x.parquet")


def test_not_materialized_leaves_store_untouched(small):
    build(small, as_of="2024-07-01", materialize=False)
    assert not small.has_table("features_20240701") and not small.has_table(MANIFEST_TABLE)


def test_manifest_records_selection(small):
    df = build(small, as_of="2024-07-01", select=["btyd"], table="f_btyd")
    (man,) = read_manifest(small, "f_btyd")
    assert man["n_features"] == len(df.columns) - 1 == 7
    assert man["config"]["select"] == ["btyd"] and man["sql_hash"] == sql_hash(compose(select=["btyd"]))
