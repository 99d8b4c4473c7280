"""The configured SparkSession (socialvalue.spark.session): the settings that make Spark compute what DuckDB does."""

from __future__ import annotations

import datetime as dt
import os
import sys

import pytest

from socialvalue.spark.session import DEFAULT_CONF, _local_cores, spark_session


def test_the_session_is_utc_ansi_and_arrow(spark):
    for key in (
        "spark.sql.session.timeZone",
        "spark.sql.ansi.enabled",
        "spark.sql.execution.arrow.pyspark.enabled",
    ):
        assert spark.conf.get(key) == DEFAULT_CONF[key]
    assert os.environ["PYSPARK_PYTHON"] == sys.executable  # local workers run this interpreter
    # a timestamp is a UTC wall-clock time: its day is the UTC day, as in DuckDB
    row = spark.sql(
        "SELECT CAST(TIMESTAMP_NTZ '2024-03-31 23:30:00' AS DATE) AS d, "
        "CAST(TIMESTAMP '2024-03-31 23:30:00+02:00' AS TIMESTAMP_NTZ) AS t"
    ).first()
    assert row["d"] == dt.date(2024, 3, 31) and row["t"] == dt.datetime(2024, 3, 31, 21, 30)


def test_ansi_fails_where_duckdb_fails(spark):
    from pyspark.errors import PySparkException

    with pytest.raises(PySparkException, match="CAST_INVALID_INPUT"):
        spark.sql("SELECT CAST('x' AS INT)").collect()
    with pytest.raises(PySparkException, match="ARITHMETIC_OVERFLOW"):
        spark.sql("SELECT CAST(9223372036854775807 AS BIGINT) + 1").collect()


def test_an_active_session_is_reused_and_takes_sql_settings(spark):
    again = spark_session("local[1]", **{"spark.sql.shuffle.partitions": "3"})
    try:
        assert again is spark
        assert spark.conf.get("spark.sql.shuffle.partitions") == "3"
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", "4")


@pytest.mark.parametrize(
    ("master", "cores"),
    [
        ("local", 1),
        ("local[2]", 2),
        ("local[3,2]", 3),
        ("local[*]", os.cpu_count()),
        ("yarn", None),
        ("spark://host:7077", None),
        ("k8s://https://api:6443", None),
    ],
)
def test_local_masters_and_their_cores(master, cores):
    assert _local_cores(master) == cores
