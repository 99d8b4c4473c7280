"""The pipeline on Apache Spark (issue 18): the session, the input, the sink, and the steps done in Spark.

:func:`socialvalue.pipeline.run_pipeline` with ``engine="spark"`` opens the run here
(:func:`open_spark_run`): a SparkSession (:func:`socialvalue.spark.spark_session`), the canonical tables read and
checked by the rules of ingest (:func:`socialvalue.spark.read_tables`; a bad file stops the run with the same
report as ``socialvalue ingest``), the :class:`~socialvalue.spark.SparkEngine` every definition runs on, and a
:class:`~socialvalue.pipeline.sinks.FolderSink` writing ``<output>/<as_of>/``. The stages are the DuckDB run's;
what they hand to :class:`SparkNative` is computed where the data are:

* the feature tables, computed by Spark and kept there (persisted) for the steps below, and copied to this
  process for the learned models;
* the CLV models: the purchase and spend ladders fitted on this process on the compressed sufficient
  statistics Spark aggregates (:mod:`socialvalue.spark.models`), and every buyer's value computed with
  ``mapInPandas`` on the executors;
* the graph measures (followers, 2-hop reach, weighted PageRank, the sampled spread) on the edges in Spark
  (:mod:`socialvalue.spark.graph`).

The customer-level frames the learned models read (churn classifier, behavioural clusters, social-value
weights, the playbook's allocation) come to this process, as on the DuckDB path: docs/spark.md gives the
memory this takes per customer.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from socialvalue.errors import ConfigError
from socialvalue.features.definition import Query

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from socialvalue.pipeline.config import RunConfig
    from socialvalue.pipeline.sinks import FolderSink
    from socialvalue.spark import SparkEngine

__all__ = ["JAVA_MISSING", "PAGERANK_TOL", "SparkNative", "input_snapshot", "open_spark_run"]

logger = logging.getLogger(__name__)

#: The one line a run without Java stops with.
JAVA_MISSING = (
    "the Spark engine needs Java 17 or later and none was found: install it (Debian/Ubuntu: sudo apt-get "
    "install openjdk-17-jre-headless; macOS: brew install openjdk@17) or set JAVA_HOME to a Java 17+ "
    "installation"
)

#: L1 distance to the exact PageRank at which the Spark iteration stops (the single-machine iteration stops at
#: an L1 change of n * 1e-12, within about 6 n 1e-12 of it: the two agree to the single-machine's own accuracy).
PAGERANK_TOL = 1e-13

#: Settings of a session this run starts (a running session, e.g. under spark-submit, keeps its own): no
#: console progress bar (the command line draws its own) and the JVM's log at ERROR (its warnings about plans
#: and partitions are for a Spark operator, who sets the log level with the submit line's configuration).
_SESSION_CONF = {"spark.ui.showConsoleProgress": "false", "spark.log.level": "ERROR"}


def _java_found() -> bool:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return True
    return shutil.which("java") is not None


def _session(master: str | None) -> SparkSession:
    """The active session, the spark-submit's (``master`` None under spark-submit), or a new one."""
    from socialvalue.spark import spark_session

    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return spark_session(master or "local[2]")  # its one-line error: install the [spark] extra
    if SparkSession.getActiveSession() is None:
        if master is None and os.environ.get("PYSPARK_GATEWAY_PORT"):
            # launched by spark-submit: the JVM is up with the submit line's master and settings
            SparkSession.builder.appName("socialvalue").getOrCreate()
        elif not _java_found():
            raise ConfigError(JAVA_MISSING)
    try:
        return spark_session(master or "local[2]", **_SESSION_CONF)
    except ConfigError:
        raise
    except Exception as exc:  # the JVM did not start: py4j's or pyspark's error, by version
        if "JAVA_GATEWAY_EXITED" in str(exc) or "Java gateway process exited" in str(exc):
            raise ConfigError(JAVA_MISSING) from None
        raise


@contextmanager
def open_spark_run(
    input: str | os.PathLike[str] | None,
    output: str | os.PathLike[str] | None,
    *,
    master: str | None = None,
    spark: SparkSession | None = None,
) -> Iterator[tuple[SparkEngine, FolderSink, SparkNative]]:
    """Open a Spark run: ``(engine, sink, native)``, released on exit.

    Parameters
    ----------
    input
        The folder of canonical tables (see :func:`socialvalue.spark.read_tables`).
    output
        The folder the results are written under (``<output>/<as_of>/``).
    master
        The Spark master of a new session (default ``local[2]``; under spark-submit, the submit line's).
    spark
        A session to use instead.

    Raises
    ------
    ConfigError
        ``input`` or ``output`` missing, ``input`` not a folder, no Java, or pyspark not installed.
    SchemaError
        The input breaks a rule of ingest: every problem of every table, as ``socialvalue ingest`` reports it.
    """
    from socialvalue.pipeline.sinks import FolderSink
    from socialvalue.spark import SparkEngine, read_tables

    if input is None or output is None:
        raise ConfigError(
            "engine='spark' needs input= (the folder of canonical tables) and output= (where the results go)"
        )
    if not Path(input).is_dir():
        raise ConfigError(
            f"--input {str(input)!r} is not a folder: give the folder holding customers.parquet, "
            "orders.parquet... (one entry per canonical table)"
        )
    session = spark if spark is not None else _session(master)
    engine = SparkEngine(session, read_tables(session, input))
    native = SparkNative(engine)
    try:
        snapshot = input_snapshot(engine, input)
        sink = FolderSink(output, snapshot, engine="spark", master=session.sparkContext.master)
        yield engine, sink, native
    finally:
        native.release()
        engine.release()


# -- what the run read ---------------------------------------------------------------------------------------
def _files(root: str | os.PathLike[str], kind: str) -> dict[str, Any]:
    """The input entry of table ``kind``: its name, format, data files, bytes and latest modification."""
    from socialvalue.spark.input import locate

    where = locate(root, kind)
    if where is None:
        return {"entry": None}
    path = Path(where.path)
    files = [path] if path.is_file() else [p for p in sorted(path.rglob("*")) if p.is_file()]
    stats = [f.stat() for f in files]
    modified = max((s.st_mtime for s in stats), default=None)
    return {
        "entry": where.label,
        "format": where.fmt,
        "files": len(files),
        "bytes": sum(s.st_size for s in stats),
        "modified": None if modified is None else datetime.fromtimestamp(modified, UTC).isoformat(),
    }


def input_snapshot(engine: SparkEngine, root: str | os.PathLike[str]) -> dict[str, Any]:
    """What a Spark run reads: per canonical table its rows, time range and files, and the quality summary.

    One aggregation per table (rows, first and last time, NULLs of each nullable column), run on the engine.

    Returns
    -------
    dict
        ``input``: ``{"path", "tables": {kind: {"rows", "first", "max_time", "entry", "format", "files",
        "bytes", "modified"}}}`` (the run record's input snapshot); ``quality``: the rows of the report's
        data-quality table (as :class:`~socialvalue.report.ReportData` reads them from a store).
    """
    from socialvalue.schema import KINDS, TABLES
    from socialvalue.sqlsafe import ident

    tables: dict[str, Any] = {}
    quality = []
    for kind in KINDS:
        t = TABLES[kind]
        tc = ident(t.time_column)
        nullable = [c.name for c in t.columns if c.nullable]
        nulls = "".join(f", count(*) - count({ident(c)}) AS {ident('_null_' + c)}" for c in nullable)
        row = engine.table(
            Query(f"SELECT count(*) AS n, min({tc}) AS first_at, max({tc}) AS last_at{nulls} FROM {kind}")
        ).to_pylist()[0]
        n, first, last = int(row["n"]), row["first_at"], row["last_at"]
        counts = {c: int(row["_null_" + c]) for c in nullable}
        worst = max(counts.items(), key=lambda kv: kv[1]) if counts else (None, 0)
        tables[kind] = {
            "rows": n,
            "first": None if first is None else str(first),
            "max_time": None if last is None else str(last),
            **_files(root, kind),
        }
        quality.append(
            {
                "table": kind,
                "rows": n,
                "first": "" if first is None else str(first)[:10],
                "last": "" if last is None else str(last)[:10],
                "most missing column": ""
                if not worst[1]
                else f"{worst[0]} ({worst[1] / max(n, 1):.0%} empty)",
            }
        )
    return {"input": {"path": str(Path(root).resolve()), "tables": tables}, "quality": quality}


# -- the steps computed in Spark -------------------------------------------------------------------------------
class SparkNative:
    """The stages' steps computed in Spark (see the module docstring), for one run on ``engine``.

    Parameters
    ----------
    engine
        The run's :class:`~socialvalue.spark.SparkEngine`.

    Notes
    -----
    The feature tables are persisted in Spark for the run (its steps read them several times) and released
    by :meth:`release`.
    """

    def __init__(self, engine: SparkEngine) -> None:
        self.engine = engine
        self._frames: dict[pd.Timestamp, DataFrame] = {}
        self._views: list[str] = []

    def release(self) -> None:
        """Unpersist the kept feature tables and drop their views."""
        for frame in self._frames.values():
            frame.unpersist()
        for view in self._views:
            self.engine.spark.catalog.dropTempView(view)
        self._frames.clear()
        self._views.clear()

    # -- features -------------------------------------------------------------------------------------------
    def feature_frame(
        self,
        engine: SparkEngine,
        as_of: pd.Timestamp,
        unit: str,
        columns: Sequence[str],
        *,
        holdout_end: pd.Timestamp | None = None,
    ) -> pd.DataFrame:
        """The feature table at ``as_of`` (``columns``): computed and kept in Spark, copied to this process.

        The same query, rows and types as :func:`socialvalue.engine.feature_table` (the DuckDB run's
        :func:`~socialvalue.pipeline.run.feature_frame`); the Spark copy serves :meth:`value` and the
        sufficient statistics.
        """
        from socialvalue.features.query import feature_query, unsigned_customers_query
        from socialvalue.features.registry import FeatureConfig
        from socialvalue.features.split import TimeFrame

        frame = TimeFrame.resolve(as_of, unit, None, holdout_end)
        cols = ["customer_id", *(c for c in columns if c != "customer_id")]
        unsigned = bool(engine.scalar(unsigned_customers_query()))
        query = feature_query(frame, FeatureConfig(), columns=cols, unsigned=unsigned)
        df = engine.dataframe(query, cols).persist()
        view = f"sv_features_{uuid.uuid4().hex[:12]}"
        df.createOrReplaceTempView(view)
        self._frames[pd.Timestamp(as_of)] = df
        self._views.append(view)
        # the engine's own conversion: DuckDB's Arrow types, then the DuckDB run's pandas dtypes
        return engine.frame(Query(f"SELECT * FROM {view}", order="customer_id"))

    def features_at(self, at: Any) -> DataFrame:
        """The Spark feature table kept for date ``at``."""
        return self._frames[pd.Timestamp(at)]

    # -- CLV ------------------------------------------------------------------------------------------------
    def purchase_ladder(
        self,
        buyers_cal: pd.DataFrame,
        now: pd.DataFrame,
        candidates: Any,
        *,
        at: tuple[pd.Timestamp, pd.Timestamp],
        metric: str,
        horizon: float,
    ) -> tuple[Any, Any, pd.DataFrame | None]:
        """The purchase ladder on the ``(frequency, recency, T)`` patterns Spark aggregates at both dates.

        :func:`socialvalue.spark.models.fit_purchase` on the feature tables kept for ``at`` (calibration end,
        date): the models, parameters, rungs and holdout ranks of
        :func:`~socialvalue.models.btyd.ladder.fit_purchase_ladder` on the buyers' rows (``buyers_cal`` and
        ``now``, the same customers on this process).
        """
        from socialvalue.spark.models import fit_purchase

        cal_end, as_of = at
        return fit_purchase(
            self.features_at(cal_end), self.features_at(as_of), candidates, metric=metric, horizon=horizon
        )

    def spend_ladder(self, frame: pd.DataFrame, *, at: Any, **settings: Any) -> Any:
        """The spend ladder of the buyers at ``at``, on the spend patterns Spark aggregates.

        :func:`socialvalue.spark.models.fit_spend`: what
        :func:`~socialvalue.models.btyd.ladder.fit_spend_ladder` gives on ``frame``'s buyers.
        """
        from socialvalue.spark.models import fit_spend

        return fit_spend(self.features_at(at), **settings)

    def value(self, purchase: Any, spend: Any, frame: pd.DataFrame, *, at: Any, **settings: Any) -> Any:
        """Every buyer's value at ``at``, computed on the executors (:func:`socialvalue.spark.models.value_frame`).

        Returned in the rows and order of ``frame`` (the buyers on this process), with the horizon's words of
        :func:`~socialvalue.models.btyd.valuation.value_customers`.
        """
        from socialvalue.models.btyd.valuation import Valuation, value_customers
        from socialvalue.spark.models import buyers, value_frame
        from socialvalue.store import arrow_to_pandas

        head = value_customers(purchase, spend, frame.head(1), **settings)  # the horizon's words
        if not len(frame):
            return head
        values = value_frame(buyers(self.features_at(at)), purchase, spend, **settings)
        values = arrow_to_pandas(values.toArrow())
        values = values.set_index("customer_id").reindex(frame["customer_id"].to_numpy()).reset_index()
        return Valuation(frame=values, horizon=head.horizon, horizon_periods=head.horizon_periods)

    # -- graph measures -------------------------------------------------------------------------------------
    def graph_metrics(
        self,
        engine: SparkEngine,
        customer_ids: Any,
        cfg: RunConfig,
        as_of: pd.Timestamp,
        *,
        spread_only: bool = False,
    ) -> tuple[pd.DataFrame, Any, dict[str, Any]]:
        """Followers, 2-hop reach, PageRank and spread of every customer at ``as_of``, on the edges in Spark.

        The columns of the DuckDB run's graph measures (:mod:`socialvalue.pipeline.stage_social`), from
        :mod:`socialvalue.spark.graph`: the weighted edges built in Spark (:func:`~socialvalue.spark.graph.
        influence_edges`), followers and 2-hop reach counted exactly, PageRank by iterated joins to
        :data:`PAGERANK_TOL` of the exact vector, and the spread from reverse-reachable sets drawn on the
        executors (other draws than the single-machine estimate's: equal within its interval). The edge
        probabilities of the spread are learned on this process (:class:`~socialvalue.social.imm.
        InfluenceModel`), which holds the graph (about 24 bytes an edge); the graph is also what the run
        record's network picture reads.
        """
        from socialvalue.features.social_inputs import content_actions_query
        from socialvalue.social import InfluenceModel
        from socialvalue.spark.graph import (
            collect_graph,
            followers,
            influence_edges,
            pagerank,
            reach_2hop,
            spread,
        )

        social = cfg.social
        edges, ids = influence_edges(
            engine,
            as_of,
            half_life_days=social.spread_half_life_days,
            window_days=social.interaction_window_days,
        )
        edges = edges.persist()
        try:
            graph = collect_graph(edges, ids)
            actions = engine.frame(content_actions_query(as_of, window_days=social.interaction_window_days))
            im = InfluenceModel(
                tau=pd.Timedelta(days=social.propagation_days),
                n_sets=social.rr_sets,
                random_state=cfg.run.seed,
            ).fit(graph, actions)
            estimate = spread(
                graph,
                im.edge_prob_["p"].to_numpy(),
                n_sets=social.rr_sets,
                confidence=im.confidence,
                seed=cfg.run.seed,
                spark=engine.spark,
            )
            measures = (
                {}
                if spread_only
                else {
                    "followers_graph": followers(edges, ids),
                    "reach_2hop": reach_2hop(edges, ids),
                    "pagerank": pagerank(edges, ids, tol=PAGERANK_TOL),
                }
            )
        finally:
            edges.unpersist()
        metrics = pd.DataFrame(
            {
                **measures,
                "spread": estimate["spread"],
                "spread_lower": estimate["lower"],
                "spread_upper": estimate["upper"],
            }
        )
        metrics.index.name = "customer_id"
        metrics = metrics.reindex(customer_ids).reset_index()
        info = {
            "nodes": int(graph.n),
            "edges": int(graph.m),
            "rr_sets": int(estimate.attrs.get("n_sets", social.rr_sets)),
        }
        return metrics, graph, info
