"""Materialization, the manifest row, Parquet export and the ``socialvalue features`` command."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import socialvalue
from socialvalue.cli import main
from socialvalue.errors import StoreError
from socialvalue.features import (
    MANIFEST_TABLE,
    build,
    compose,
    export_parquet,
    read_manifest,
    registry,
    sql_hash,
)

from .conftest import insert


@pytest.fixture
def small(store):
    insert(store, "customers", [{"customer_id": "a", "signup_at": "2024-01-01"}, {"customer_id": "b"}])
    insert(
        store,
        "orders",
        [
            {"order_id": "1", "customer_id": "a", "ordered_at": "2024-02-01", "amount": 10},
            {"order_id": "2", "customer_id": "a", "ordered_at": "2024-08-01", "amount": 20},
            {"order_id": "3", "customer_id": "b", "ordered_at": "2024-03-01", "amount": 5},
        ],
    )
    insert(
        store, "relationships", [{"src_id": "b", "dst_id": "a", "kind": "follow", "ended_at": "2024-09-01"}]
    )
    return store


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
    path = export_parquet(small, "feat_custom", tmp_path / "out" / "f.parquet")
    pd.testing.assert_frame_equal(pq.read_table(path).to_pandas(), tbl.to_pandas())
    with pytest.raises(StoreError, match="no feature table"):
        export_parquet(small, "features_19990101", tmp_path / "x.parquet")


def test_not_materialized_leaves_store_untouched(small):
    build(small, as_of="2024-07-01", materialize=False)
    assert not small.has_table("features_20240701") and not small.has_table(MANIFEST_TABLE)


def test_cli_builds_and_lists(small, tmp_path, capsys):
    path = small.path
    small.close()
    out = tmp_path / "f.parquet"
    code = main(
        [
            "features",
            path,
            "--as-of",
            "2024-07-01",
            "--holdout-end",
            "2024-10-01",
            "--unit",
            "days",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    df = pd.read_parquet(out)
    assert list(df["customer_id"]) == ["a", "b"] and df["holdout_revenue"].tolist() == [20.0, 0.0]
    assert df.loc[0, "T"] == 150  # 2024-02-01 .. 2024-06-30 in days (leap year)
    assert main(["features", "--list"]) == 0
    listed = capsys.readouterr().out
    assert "int_received_like_365d" in listed and "monetary_value" in listed
    assert main(["features", path]) == 4  # ConfigError: --as-of missing
    assert main(["features", str(tmp_path / "nope.duckdb"), "--as-of", "2024-07-01"]) == 2


def test_cli_config_file(small, tmp_path):
    path = small.path
    small.close()
    cfg = tmp_path / "sv.toml"
    cfg.write_text('[features]\ninteraction_kinds = ["like"]\ninteraction_windows_days = [7]\n')
    assert main(["features", path, "--as-of", "2024-07-01", "--config", str(cfg), "--table", "f_small"]) == 0
    with socialvalue.Store(path, read_only=True) as st:
        cols = [r[0] for r in st.con.execute("DESCRIBE f_small").fetchall()]
        man = read_manifest(st, "f_small")[0]
    assert "int_given_like_7d" in cols and "int_given_like_30d" not in cols
    assert json.dumps(man["config"]["interaction_kinds"]) == '["like"]'
    cfg.write_text('[features]\ninteraction_kind = ["like"]\n')
    assert main(["features", path, "--as-of", "2024-07-01", "--config", str(cfg)]) == 4


def test_manifest_records_selection(small):
    df = build(small, as_of="2024-07-01", select=["btyd"], table="f_btyd")
    (man,) = read_manifest(small, "f_btyd")
    assert man["n_features"] == len(df.columns) - 1 == 7
    assert man["config"]["select"] == ["btyd"] and man["sql_hash"] == sql_hash(compose(select=["btyd"]))
