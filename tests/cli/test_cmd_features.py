"""``socialvalue features``: build and list the features, export Parquet, read a config file."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import socialvalue
from socialvalue.cli import main
from socialvalue.engine import read_manifest

from ..features.conftest import two_customers


@pytest.fixture
def small(store):
    return two_customers(store)


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
    with socialvalue.Store(path, read_only=True) as st:  # recorded, so that an erasure rewrites it
        assert st.con.execute("SELECT path, format FROM _exports").fetchall() == [
            (str(out.resolve()), "parquet")
        ]
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
