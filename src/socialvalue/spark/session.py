"""A SparkSession configured so Spark computes what DuckDB computes: UTC, Arrow, ANSI SQL.

The settings that matter for equal results:

* ``spark.sql.session.timeZone=UTC``: canonical timestamps are naive UTC wall-clock time, read as
  ``TIMESTAMP_NTZ`` (``spark.sql.parquet.inferTimestampNTZ.enabled``); an instant (a ``TIMESTAMP`` with a
  zone, or a Python ``datetime`` bound as a parameter) is compared and cast to a day in UTC, as DuckDB's
  ``CAST(ts AS DATE)`` does. The JVM's own options are left alone: a cluster sets those.
* ``spark.sql.ansi.enabled=true``: an overflowing integer, an invalid cast or a division by zero is an error,
  not a silent NULL. DuckDB also fails on overflow and invalid casts; its ``x / 0`` on doubles gives
  ``inf``, where ANSI Spark fails, which is why no shared definition divides by a value that can be zero
  (a ``NULLIF(..., 0)`` or a ``CASE`` guards each divisor that could be).
* ``spark.sql.execution.arrow.pyspark.enabled=true``: results come to the driver as Arrow, and
  ``mapInPandas`` exchanges Arrow batches with the Python workers.
* ``spark.sql.shuffle.partitions``: 200 by default, which for local data is mostly empty tasks; a local
  master gets 4 per core.

With a ``local`` master the Python workers run ``sys.executable`` (``PYSPARK_PYTHON``, when not set
already), so they import the same pyarrow and numpy as the driver. On a cluster the workers' interpreter is
the cluster's business: it is left alone.
"""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING, Any

from socialvalue.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

__all__ = ["DEFAULT_CONF", "spark_session"]

#: Settings every session gets (a keyword of :func:`spark_session` overrides any of them).
DEFAULT_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
}

_LOCAL = re.compile(r"^local(\[(\d+|\*)(,\d+)?\])?$")


def _local_cores(master: str) -> int | None:
    """Cores of a ``local``/``local[n]``/``local[*]`` master (None for a cluster master)."""
    m = _LOCAL.match(master)
    if m is None:
        return None
    n = m.group(2)
    if n is None:
        return 1
    return (os.cpu_count() or 1) if n == "*" else int(n)


def spark_session(master: str = "local[2]", *, app_name: str = "socialvalue", **conf: Any) -> SparkSession:
    """The active SparkSession, or a new one on ``master`` configured as the module docstring says.

    Parameters
    ----------
    master
        Spark master URL: ``local[2]`` (two cores of this machine), ``yarn``, ``k8s://...``,
        ``spark://host:7077``. Ignored when a session is already active (Spark keeps one per process).
    app_name
        Name shown in the Spark UI.
    **conf
        Spark settings, with dots written as given (``**{"spark.executor.memory": "8g"}``); they override
        :data:`DEFAULT_CONF`. On an active session the SQL settings among them are applied to it; the others
        (memory, cores) need a new process.

    Returns
    -------
    pyspark.sql.SparkSession
        The session (reused when one is active).

    Raises
    ------
    ConfigError
        If pyspark is not installed (install the ``[spark]`` extra).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError(
            "the Spark engine needs pyspark: pip install 'socialvalue[spark]' (and Java 17 or later)"
        ) from None
    settings = {**DEFAULT_CONF, **{k: str(v) for k, v in conf.items()}}
    active = SparkSession.getActiveSession()
    if active is not None:
        for key, value in settings.items():
            if key.startswith("spark.sql.") and active.conf.get(key, None) != value:
                active.conf.set(key, value)
        return active
    cores = _local_cores(master)
    if cores is not None:
        # Local workers must run this interpreter (it has pyarrow); a cluster's own setting is left alone.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        settings.setdefault("spark.sql.shuffle.partitions", str(4 * cores))
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
