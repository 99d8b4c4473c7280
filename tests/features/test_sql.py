"""Feature SQL: every query transpiles to Spark SQL (SQLGlot) and parses back; the registry is complete."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from socialvalue.config import validate_config
from socialvalue.errors import ConfigError
from socialvalue.features import (
    GROUPS,
    FeatureConfig,
    TimeFrame,
    compose,
    feature_sql,
    registry,
    render,
    source_queries,
    sql_hash,
    to_spark,
)

FRAME = TimeFrame.resolve("2024-07-01", "W", holdout_end="2024-10-01")


def _queries() -> dict[str, str]:
    cfg = FeatureConfig()
    out = {f"source:{n}": render(q, FRAME, cfg) for n, q in source_queries(cfg).items()}
    out["full"] = render(compose(cfg, holdout=False), FRAME, cfg)
    out["full+holdout"] = render(compose(cfg, holdout=True), FRAME, cfg)
    return out


QUERIES = _queries()


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_every_query_transpiles_to_spark_and_parses_back(name):
    duck = QUERIES[name]
    spark = to_spark(duck)  # raises on anything SQLGlot cannot translate
    tree = sqlglot.parse_one(spark, read="spark")
    assert isinstance(tree, exp.Select)
    # round trip is stable and keeps every output column
    assert sqlglot.transpile(spark, read="spark", write="spark")[0] == spark
    duck_cols = [c.alias_or_name for c in sqlglot.parse_one(duck, read="duckdb").expressions]
    assert [c.alias_or_name for c in tree.expressions] == duck_cols
    assert "TIMESTAMP_NTZ" in spark  # literal times stay naive UTC in Spark


def test_sources_cover_every_feature_and_run_on_duckdb(store):
    names = {f.source for f in registry()} - {"customers", "final"}
    assert names == set(source_queries())
    for q in source_queries().values():
        assert store.con.sql(render(q, FRAME)).fetchall() == []


def test_feature_sql_dialects():
    assert feature_sql("2024-07-01") == QUERIES["full"]
    assert feature_sql("2024-07-01", holdout_end="2024-10-01", dialect="spark") == to_spark(
        QUERIES["full+holdout"]
    )
    with pytest.raises(ConfigError, match="unknown SQL dialect"):
        feature_sql("2024-07-01", dialect="oracle")


def test_registry_entries_are_documented_and_unique():
    feats = registry()
    assert len({f.name for f in feats}) == len(feats)
    assert all(f.description and f.unit and f.group in GROUPS for f in feats)
    by_name = {f.name: f for f in feats}
    assert by_name["int_given_like_30d"].window_days == 30
    assert by_name["T"].unit == "periods" and by_name["tenure_days"].unit == "days"
    assert not [f for f in registry(holdout=False) if f.group == "holdout"]
    kinds = FeatureConfig().interaction_kinds
    assert sum(f.name.startswith("int_given_") for f in feats) == (len(kinds) + 1) * 3


def test_config_changes_columns_and_hash():
    cfg = FeatureConfig(
        interaction_kinds=("like", "share"), interaction_windows_days=(7, 28), content_kinds=("post",)
    )
    names = [f.name for f in registry(cfg)]
    assert "int_given_share_7d" in names and "int_given_comment_30d" not in names and "content_post" in names
    assert sql_hash(compose(cfg)) != sql_hash(compose()) and len(sql_hash(compose())) == 16


@pytest.mark.parametrize(
    "data, match",
    [
        ({"interaction_kinds": ["Like; DROP"]}, "lower-case identifiers"),
        ({"spend_windows_days": [0]}, "positive"),
        ({"unknown_key": 1}, "unknown_key"),
    ],
)
def test_config_validation(data, match):
    with pytest.raises(ConfigError, match=match):
        validate_config(FeatureConfig, data, "features")


def test_select_prunes_sources():
    only = compose(select=["frequency"])
    assert "src_purchases" in only and "src_given" not in only and "purchase_gaps" not in only
    assert "present" not in only  # the rows of the selected table itself: no presence reading
    wide = compose(select=["frequency"], population=GROUPS)
    assert "src_given" not in wide and "SELECT i.actor_id AS customer_id FROM interactions i" in wide
    assert compose(select=["frequency"], population=["btyd"]) == only  # nothing left out
