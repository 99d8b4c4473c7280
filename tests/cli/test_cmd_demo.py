"""``socialvalue demo`` writes Parquet files, the ground truth and a loaded store."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from socialvalue.cli import main
from socialvalue.store import Store


def test_demo_writes_store_and_files(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--customers", "2000", "--seed", "1", "--out", str(out)]) == 0
    for kind in ("customers", "orders", "interactions", "relationships", "content"):
        assert (out / f"{kind}.parquet").is_file()
    assert pq.read_table(out / "customers.parquet").num_rows == 2000
    truth = pq.read_table(out / "truth" / "customers.parquet")
    assert truth.num_rows == 2000
    assert (out / "truth" / "influence_events.parquet").is_file()
    params = json.loads((out / "truth" / "params.json").read_text())
    assert params["seed"] == 1 and params["n_customers"] == 2000
    with Store(out / "socialvalue.duckdb", read_only=True) as store:
        counts = store.table_counts()
    assert counts["customers"] == 2000
    assert counts["orders"] == pq.read_table(out / "orders.parquet").num_rows
    assert counts["relationships"] == pq.read_table(out / "relationships.parquet").num_rows
    res = capsys.readouterr()
    assert "store: " in res.out and "socialvalue.duckdb" in res.out and "truth and parameters" in res.out
    assert res.err == ""

    # Running again replaces the store instead of stacking a second load on it.
    assert main(["demo", "--customers", "2000", "--seed", "1", "--out", str(out)]) == 0
    with Store(out / "socialvalue.duckdb", read_only=True) as store:
        assert store.table_counts() == counts


def test_demo_no_load_and_config(tmp_path):
    cfg = tmp_path / "demo.toml"
    cfg.write_text("r = 0.3\nalpha = 20.0\n")
    out = tmp_path / "d"
    assert main(["demo", "-n", "300", "--out", str(out), "--config", str(cfg), "--no-load"]) == 0
    assert not (out / "socialvalue.duckdb").exists()
    assert json.loads((out / "truth" / "params.json").read_text())["bgnbd"]["r"] == 0.3


def test_demo_bad_config_is_a_config_error(tmp_path):
    cfg = tmp_path / "demo.toml"
    cfg.write_text("nonsense = 1\n")
    assert main(["demo", "-n", "300", "--out", str(tmp_path / "x"), "--config", str(cfg)]) == 4
