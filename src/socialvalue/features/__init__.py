"""As-of customer features computed inside the store's engine (DuckDB now, Spark through SQLGlot later).

``build(store, as_of=..., unit="W", calibration_end=None, holdout_end=None)`` computes one row per consented
customer: the BTYD summary (``frequency``, ``recency``, ``T``, ``monetary_value``, ``n_periods``), RFM inputs,
trend/lifecycle inputs, social aggregates and, for back-testing, holdout targets. The table is materialized as
``features_<YYYYMMDD>`` with a row in ``_feature_manifest``. Time conventions are in
:mod:`socialvalue.features.split`; every feature is defined once in :mod:`socialvalue.features.definitions`.
"""

from __future__ import annotations

from socialvalue.features.build import build, export_parquet, feature_sql, table_name_for
from socialvalue.features.manifest import MANIFEST_TABLE, data_snapshot, read_manifest
from socialvalue.features.query import compose, render, source_queries, sql_hash, to_spark
from socialvalue.features.registry import GROUPS, Feature, FeatureConfig, Source, registry
from socialvalue.features.split import TimeFrame, normalize_unit
from socialvalue.features.transactions import calibration_and_holdout, rfm_summary

__all__ = [
    "GROUPS",
    "MANIFEST_TABLE",
    "Feature",
    "FeatureConfig",
    "Source",
    "TimeFrame",
    "build",
    "calibration_and_holdout",
    "compose",
    "data_snapshot",
    "export_parquet",
    "feature_sql",
    "normalize_unit",
    "read_manifest",
    "registry",
    "render",
    "rfm_summary",
    "source_queries",
    "sql_hash",
    "table_name_for",
    "to_spark",
]
