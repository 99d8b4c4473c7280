"""The Spark engine (issue 18): the canonical tables read into Spark and the shared definitions run there.

* :func:`spark_session` starts (or reuses) a SparkSession set up to compute what DuckDB computes (UTC,
  ANSI SQL, Arrow).
* :func:`read_tables` reads the five canonical tables from a folder of Parquet (or Delta, or Iceberg, where
  the connector is on the classpath) and checks them by the rules of :mod:`socialvalue.ingest`.
* :class:`SparkEngine` offers the methods of :class:`~socialvalue.engine.DuckDBEngine` the feature path uses,
  so :func:`socialvalue.engine.feature_table` runs the same SQL on Spark.
* :mod:`socialvalue.spark.models`: the BTYD models' sufficient statistics aggregated in Spark
  (:func:`purchase_statistics`, :func:`spend_statistics`), the ladders fitted on them on the driver
  (:func:`fit_purchase`, :func:`fit_spend`), and every buyer's value computed on the executors with
  ``mapInPandas`` (:func:`value_frame`, :func:`map_frames`).
* :mod:`socialvalue.spark.graph`: the influence graph's edges built in Spark (:func:`influence_edges`) and the
  graph measures on them: weighted :func:`pagerank` by iterated joins, :func:`followers`, :func:`reach_2hop`,
  and the influence :func:`spread` from reverse-reachable sets drawn on the executors.

The whole run on Spark is :func:`socialvalue.pipeline.run_pipeline` with ``engine="spark"`` (and
``socialvalue run --engine spark``; see docs/spark.md).

pyspark is imported only when one of these is called (the ``[spark]`` extra).

>>> from socialvalue.engine import feature_table
>>> from socialvalue.spark import SparkEngine, read_tables, spark_session
>>> spark = spark_session("local[2]")                                          # doctest: +SKIP
>>> engine = SparkEngine(spark, read_tables(spark, "input/"))                  # doctest: +SKIP
>>> feature_table(engine, "2026-01-01", holdout_end="2026-06-30")              # doctest: +SKIP
"""

from __future__ import annotations

from socialvalue.spark.engine import SparkEngine
from socialvalue.spark.graph import followers, influence_edges, pagerank, reach_2hop, spread
from socialvalue.spark.input import read_tables
from socialvalue.spark.models import (
    fit_purchase,
    fit_spend,
    map_frames,
    purchase_statistics,
    spend_statistics,
    value_frame,
)
from socialvalue.spark.session import spark_session

__all__ = [
    "SparkEngine",
    "fit_purchase",
    "fit_spend",
    "followers",
    "influence_edges",
    "map_frames",
    "pagerank",
    "purchase_statistics",
    "reach_2hop",
    "read_tables",
    "spark_session",
    "spend_statistics",
    "spread",
    "value_frame",
]
