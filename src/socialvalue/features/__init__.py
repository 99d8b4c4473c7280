"""As-of customer features defined as SQL: the definitions only; :mod:`socialvalue.engine` runs them.

Every feature is defined once in :mod:`socialvalue.features.definitions` (the registry,
:func:`registry`); :func:`compose` and :func:`render` turn a :class:`FeatureConfig` and a :class:`TimeFrame`
into the SQL of the feature table: one row per consented customer with the BTYD summary (``frequency``,
``recency``, ``T``, ``monetary_value``, ``n_periods``), RFM inputs, trend/lifecycle inputs, social aggregates
and, for back-testing, holdout targets. Time conventions are in :mod:`socialvalue.features.split`. Nothing
here executes: :func:`socialvalue.engine.build` computes and materializes the table (``features_<YYYYMMDD>``
with a row in the feature manifest) and :func:`socialvalue.engine.feature_table` computes it, or some of its
columns, as Arrow.
"""

from __future__ import annotations

from socialvalue.features.definition import Query
from socialvalue.features.query import (
    compose,
    feature_query,
    feature_sql,
    render,
    source_queries,
    sql_hash,
    table_name_for,
    to_spark,
)
from socialvalue.features.registry import GROUPS, Feature, FeatureConfig, Source, registry
from socialvalue.features.split import TimeFrame, normalize_unit

__all__ = [
    "GROUPS",
    "Feature",
    "FeatureConfig",
    "Query",
    "Source",
    "TimeFrame",
    "compose",
    "feature_query",
    "feature_sql",
    "normalize_unit",
    "registry",
    "render",
    "source_queries",
    "sql_hash",
    "table_name_for",
    "to_spark",
]
