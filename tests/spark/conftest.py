"""One real SparkSession (local mode) for every Spark test, and the canonical tables of a folder.

A session takes 8-11 s to start, so there is one per test run. Spark's JVM logs only errors, and its console
progress bar is off, so a failing test's output is the test's own.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from socialvalue.schema import KINDS


@pytest.fixture(scope="session")
def spark():
    """A local[2] session configured by socialvalue.spark.session (UTC, ANSI, Arrow)."""
    from socialvalue.spark.session import spark_session

    session = spark_session(
        "local[2]",
        **{
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.shuffle.partitions": "4",
        },
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def write_tables(folder: Path, tables: dict[str, pa.Table]) -> Path:
    """Write ``tables`` as ``<kind>.parquet`` files in ``folder`` (created) and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for kind, table in tables.items():
        if kind in KINDS:
            pq.write_table(table, folder / f"{kind}.parquet")
    return folder
