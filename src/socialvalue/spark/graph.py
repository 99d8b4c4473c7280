r"""Graph measures on Spark: weighted PageRank, followers, 2-hop reach and RR-set influence spread.

The same measures as :mod:`socialvalue.social` (PageRank: :func:`socialvalue.social.pagerank.pagerank`;
counts: :func:`socialvalue.social.reach.followers` and :func:`~socialvalue.social.reach.reach`; spread:
:func:`socialvalue.social.rrsets.estimate_spread`), computed where the edges are: a Spark DataFrame of
``src``, ``dst`` (``BIGINT`` node codes ``0 .. n-1``) and ``weight`` (``DOUBLE``), as
:func:`influence_edges` builds it from the shared graph-edge query. Every function returns what its
single-machine twin returns, keyed by the node ids (``nodes``: the ids, code ``i`` being ``nodes[i]``, or a
node count, the ids then being the codes), so a pipeline can use either.

Edges follow :class:`~socialvalue.social.graph.Graph`'s conventions: a repeated ``(src, dst)`` row is one
edge with the largest of its weights, and a self-loop is an edge (it keeps rank at its node in PageRank and
counts for nothing in followers, reach and spread).

* :func:`pagerank`: the power iteration, as iterative DataFrame joins, ``checkpoint_every`` steps per Spark
  job, the dangling mass redistributed exactly (see the function). Equal to the single-machine PageRank to
  the tolerance asked (``tol`` bounds the L1 distance to the exact vector).
* :func:`followers`, :func:`reach_2hop`: exact counts by joins and ``DISTINCT``.
* :func:`spread`: reverse-reachable sets sampled on the executors, each task its share of the sets with its
  own seed, on a broadcast copy of the reverse graph; the counts are summed by node in Spark.

Cost model
----------
With :math:`E` edges, :math:`n` nodes and :math:`P` shuffle partitions:

* PageRank: one shuffle per iteration of at most :math:`\min(E, P n)` partial sums (rank :math:`\bowtie`
  out-edges, then a sum by target, partially aggregated before the shuffle); the edges are partitioned by
  source once, so the join moves no edge. :math:`k` iterations cost :math:`k` such shuffles, in
  :math:`\lceil k / c \rceil` jobs of :math:`c` = ``checkpoint_every`` stages, plus :math:`c` once for the
  dangling correction; the iteration count is that of the single-machine power method (about
  :math:`\log(\mathrm{tol}) / \log(\alpha |\lambda_2|)`, 30 to 60 on customer graphs).
* Reach: one join of the edges with themselves, :math:`\sum_v d^-(v) d^+(v)` two-hop paths shuffled for
  the ``DISTINCT``: heavy hubs cost their in-degree times their out-degree, as on one machine.
* Spread: the reverse graph (12 bytes an edge) is collected and broadcast to every executor; each set costs
  the edges it explores, :math:`\theta` sets split over the tasks.

References
----------
.. [1] Page, L., Brin, S., Motwani, R. and Winograd, T. (1999). The PageRank citation ranking: bringing order
   to the web. Stanford InfoLab technical report 1999-66.
.. [2] Borgs, C., Brautbar, M., Chayes, J. and Lucier, B. (2014). Maximizing social influence in nearly
   optimal time. SODA '14, 946-957 (Observation 3.2).
.. [3] Tang, Y., Shi, Y. and Xiao, X. (2015). Influence maximization in near-linear time: a martingale
   approach. SIGMOD '15, 1539-1554 (Sec. 2.2).
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from socialvalue.errors import ConfigError, ConvergenceError, SchemaError
from socialvalue.social.graph import Graph

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import Column, DataFrame, SparkSession

    from socialvalue.spark.engine import SparkEngine

__all__ = ["collect_graph", "followers", "influence_edges", "pagerank", "reach_2hop", "spread"]

logger = logging.getLogger(__name__)

_INTEGER = ("ByteType", "ShortType", "IntegerType", "LongType")
#: How a rank vector meets the edges: a hash join on shuffled sides. Spark would broadcast a small vector
#: instead, one more job per step (collected to the driver and sent out), which costs more than a shuffle.
_JOIN = "shuffle_hash"


# ----------------------------------------------------------------------------------------------- inputs
def influence_edges(
    engine: SparkEngine,
    as_of: Any,
    *,
    half_life_days: float = 30.0,
    window_days: float = 365.0,
    tie_weight: float = 1.0,
    relationship_kinds: Sequence[str] = ("follow", "friend"),
    interaction_kinds: Sequence[str] | None = None,
) -> tuple[DataFrame, np.ndarray]:
    r"""The influence graph at ``as_of`` as a Spark DataFrame of weighted edges, and its node ids.

    The Spark form of :func:`socialvalue.pipeline.social_inputs.influence_graph`: the shared graph-edge query
    (:func:`~socialvalue.features.social_inputs.graph_edges_query`) run by the engine, each row weighted
    (a tie :math:`c`, an interaction of age :math:`a` days :math:`2^{-a/h}`; interactions older than
    ``window_days`` dropped) and the rows of a pair summed: :math:`w_{uv} = c\,[\text{tie}] + \sum_i
    2^{-a_i/h}`. Nodes are the customers in ``customer_id`` order (the engine's codes), then any edge end
    that is not a customer, in id order.

    Parameters
    ----------
    engine
        The Spark engine on the canonical tables.
    as_of
        The date the graph describes; nothing at or after it is read.
    half_life_days, window_days, tie_weight, relationship_kinds, interaction_kinds
        As in :func:`~socialvalue.social.graph.influence_edges`.

    Returns
    -------
    tuple of (pyspark.sql.DataFrame, numpy.ndarray)
        The edges ``src``, ``dst`` (``BIGINT`` codes), ``weight`` (``DOUBLE``), one row per directed pair,
        no self-loops (lazy, not collected); and the node ids, code ``i`` being ``ids[i]``.
    """
    import pyarrow as pa
    from pyspark.sql import functions as F

    from socialvalue.features.social_inputs import graph_edges_query

    if half_life_days <= 0 or window_days <= 0 or tie_weight < 0:
        raise ConfigError("half_life_days and window_days must be > 0 and tie_weight >= 0")
    ids = engine.codes.values
    rows = engine.dataframe(
        graph_edges_query(
            as_of,
            window_days=window_days,
            relationship_kinds=relationship_kinds,
            interaction_kinds=interaction_kinds,
        )
    )
    unknown = (
        rows.where(F.col("s").isNull())
        .select(F.col("src_unknown").alias("id"))
        .union(rows.where(F.col("d").isNull()).select(F.col("dst_unknown").alias("id")))
        .distinct()
        .toArrow()
    )
    s, d = F.col("s").cast("long"), F.col("d").cast("long")
    if unknown.num_rows:
        # edge ends outside the customers table (the schema's foreign keys rule them out): after the customers
        extra = np.asarray(sorted(unknown.column("id").to_pylist()), dtype=object)
        spark = rows.sparkSession
        codes = spark.createDataFrame(
            pa.table({"id": pa.array(extra.tolist()), "code": np.arange(len(ids), len(ids) + len(extra))})
        )
        rows = rows.join(
            codes.select(F.col("id").alias("src_unknown"), F.col("code").alias("s_x")), "src_unknown", "left"
        ).join(
            codes.select(F.col("id").alias("dst_unknown"), F.col("code").alias("d_x")), "dst_unknown", "left"
        )
        s, d = F.coalesce(s, F.col("s_x")), F.coalesce(d, F.col("d_x"))
        ids = np.concatenate([ids, extra])
    # age in days as influence_graph computes it: microseconds / 1e6 / 86400
    age = F.col("age_us").cast("double") / 1e6 / 86400.0
    tie = F.col("age_us").isNull()
    weight = F.when(tie, F.lit(float(tie_weight))).otherwise(
        F.exp(F.lit(-math.log(2.0)) * age / F.lit(float(half_life_days)))
    )
    edges = (
        rows.where(tie | ((age >= 0) & (age <= F.lit(float(window_days)))))
        .select(s.alias("src"), d.alias("dst"), weight.alias("weight"))
        .groupBy("src", "dst")
        .agg(F.sum("weight").alias("weight"))
    )
    return edges, ids


def _ids(nodes: int | Iterable[Any]) -> np.ndarray:
    """Node ids from a node count (the codes) or the ids themselves."""
    if isinstance(nodes, (int, np.integer)):
        if nodes < 0:
            raise ConfigError(f"the node count must be >= 0, got {nodes}")
        return np.arange(int(nodes), dtype=np.int64)
    ids = np.asarray(nodes if isinstance(nodes, (np.ndarray, pd.Index, pd.Series)) else list(nodes))
    if ids.ndim != 1:
        raise ConfigError("nodes must be a node count or a 1-d sequence of node ids")
    return ids


def _edges(edges: DataFrame, n: int, weight: str | None) -> DataFrame:
    """The distinct edges of ``edges``: ``src``, ``dst`` (long), ``weight`` (double, 1 without a weight).

    A repeated pair is one edge with the largest of its weights (:meth:`Graph.from_codes`'s ``"once"``).
    The result is checkpointed (locally) by the one job that also checks the rows: :class:`SchemaError` on
    a missing or non-integer end column, an end outside ``0 .. n-1`` or NULL, and a weight that is NULL,
    negative or not finite (the rules of :meth:`Graph.from_codes`).
    """
    from pyspark.sql import functions as F

    types = {f.name: type(f.dataType).__name__ for f in edges.schema.fields}
    missing = [c for c in ("src", "dst", *([weight] if weight else [])) if c not in types]
    if missing:
        raise SchemaError(
            f"edges: missing column(s) {missing}; has {list(types)}",
            [{"source": "edges", "column": c, "expected": "present"} for c in missing],
        )
    wrong = [c for c in ("src", "dst") if types[c] not in _INTEGER]
    if wrong:
        raise SchemaError(
            f"edges: {wrong} must hold integer node codes, got {[types[c] for c in wrong]}",
            [{"source": "edges", "column": c, "expected": "integer node codes"} for c in wrong],
        )
    w = F.col(weight).cast("double") if weight else F.lit(1.0)
    v = F.col("w")
    bad_w = v.isNull() | F.isnan(v) | (v < 0) | (v == float("inf"))
    distinct = (
        edges.select(
            F.col("src").cast("long").alias("src"), F.col("dst").cast("long").alias("dst"), w.alias("w")
        )
        .groupBy("src", "dst")
        .agg(F.max("w").alias("weight"), F.count_if(bad_w).alias("bad"))
        .localCheckpoint(eager=False)
    )

    def outside(c: Column) -> Column:
        return c.isNull() | (c < 0) | (c >= n)

    row = distinct.agg(
        F.count_if(outside(F.col("src")) | outside(F.col("dst"))).alias("ends"),
        F.coalesce(F.sum("bad"), F.lit(0)).alias("weights"),
    ).first()
    if row["ends"]:
        raise SchemaError(f"edges: {row['ends']} edge end(s) are not node codes 0 .. {n - 1} (or are NULL)")
    if row["weights"]:
        raise SchemaError(f"edges: {row['weights']} edge weight(s) are NULL, negative or not finite")
    return distinct.select("src", "dst", "weight")


def _dense(frame: DataFrame, column: str, n: int, dtype: Any) -> np.ndarray:
    """The ``node``-keyed ``column`` of ``frame`` collected into a length-``n`` array (0 where absent)."""
    table = frame.select("node", column).toArrow()
    out = np.zeros(n, dtype=dtype)
    if table.num_rows:
        out[table.column("node").to_numpy()] = table.column(column).to_numpy()
    return out


def _node_values(ids: np.ndarray, values: Any, name: str) -> np.ndarray:
    """A node vector (the forms :meth:`Graph.node_vector` takes) normalised to sum 1, as PageRank's."""
    empty = np.zeros(0, dtype=np.int64)
    v = Graph.from_codes(ids, empty, empty).node_vector(values, name)
    if (v < 0).any() or v.sum() <= 0:
        raise ConfigError(f"{name}: values must be non-negative with a positive sum")
    return v / v.sum()


# ----------------------------------------------------------------------------------------------- PageRank
def pagerank(
    edges: DataFrame,
    nodes: int | Iterable[Any],
    *,
    alpha: float = 0.85,
    personalization: Any = None,
    dangling: Any = None,
    weighted: bool = True,
    tol: float = 1e-10,
    max_iter: int = 1000,
    checkpoint_every: int = 10,
) -> pd.Series:
    r"""Weighted (personalized) PageRank of every node, by power iteration as DataFrame joins.

    The iteration of :func:`socialvalue.social.pagerank.pagerank` (networkx's; Page et al. 1999):

    .. math::

        x^{(k+1)} = \alpha P^\top x^{(k)} + \alpha\,(d^\top x^{(k)})\, u + (1 - \alpha)\, p,

    :math:`P` the out-weight-normalised adjacency, :math:`d` the dangling nodes (no out-weight), :math:`u`
    the dangling distribution (default :math:`p`), :math:`p` the teleport vector (default uniform), from
    :math:`x^{(0)} = u` (networkx's uniform start by default; any start has the same limit). One step is
    rank :math:`\bowtie` out-edges on the source, summed by target.

    The dangling mass :math:`s_k = \alpha d^\top x^{(k)}` is a sum over all nodes, which would need a job
    per step. Instead ``c = checkpoint_every`` steps run in one job, on :math:`A = \alpha P^\top` alone:

    .. math::

        x^{(k+c)} = A^c x^{(k)} + \sum_{i<c} s_{k+i} A^{c-1-i} u + \sum_{l<c} A^l (1 - \alpha) p,
        \qquad
        s_{k+i} = \alpha \Bigl(d^\top\! A^i x^{(k)} + \sum_{l<i} s_{k+l}\, d^\top\! A^{i-1-l} u
        + \sum_{l<i} d^\top\! A^l (1 - \alpha) p\Bigr).

    The vectors :math:`A^l u` and :math:`A^l (1-\alpha) p` (:math:`l < c`) do not depend on :math:`x`: they
    are computed once, in one job of :math:`c` steps in which every node's self-edge carries the levels
    already computed (as :math:`x^{(0)} = u` they are also the first block's :math:`A^i x^{(0)}`). The sums
    :math:`d^\top A^i x^{(k)}` come out of each block's job: every dangling node has an edge of weight 1 to
    a chain of :math:`c` extra nodes :math:`-1 \to -2 \to \dots \to -c`, along which the dangling mass of
    step :math:`i` arrives at node :math:`-(c - i)` after :math:`c` steps. The driver solves the
    :math:`s_{k+i}` in order and one more job assembles :math:`x^{(k+c)}`, which is the power iterate
    itself, and checkpoints it (``localCheckpoint``: the lineage and the plan stay :math:`c` steps long).
    Joins are hash joins of shuffled sides (a broadcast of the rank vector would add a job per step).

    Stopping: the iteration map contracts the L1 distance by :math:`\alpha` per step (:math:`P^\top` with
    the dangling columns replaced by :math:`u` is column-stochastic), so

    .. math::

        \lVert x^{(k+c)} - x^\ast \rVert_1 \le \frac{\alpha^c}{1 - \alpha^c}\,
        \lVert x^{(k+c)} - x^{(k)} \rVert_1,

    and the iteration stops when this bound is below ``tol``: every node is then within ``tol`` (plus
    rounding) of the exact PageRank (:func:`~socialvalue.social.pagerank.pagerank_exact`).

    Parameters
    ----------
    edges
        Spark DataFrame of ``src``, ``dst`` (integer node codes ``0 .. n-1``) and ``weight`` (unless not
        ``weighted``). A repeated pair is one edge (its largest weight); self-loops are edges.
    nodes
        The node ids (code ``i`` is ``nodes[i]``) or the node count.
    alpha
        Damping factor: probability of following an edge rather than teleporting.
    personalization, dangling
        Teleport and dangling distributions, in the forms :func:`socialvalue.social.pagerank.pagerank`
        takes (keyed by node id); uniform and the teleport vector when None.
    weighted
        Use the weights (True) or count every edge once.
    tol
        Bound on the L1 distance of the result to the exact PageRank.
    max_iter
        Iteration cap (counted in steps); :class:`~socialvalue.errors.ConvergenceError` beyond it, with the
        last iterate on the exception.
    checkpoint_every
        Steps per job, between checkpoints.

    Returns
    -------
    pandas.Series
        PageRank (sums to 1) indexed by node id, named ``pagerank``.

    Notes
    -----
    The checkpoints are local (kept by the executors, not written to a file system): losing an executor
    fails the computation instead of recomputing it, the usual trade of ``localCheckpoint``.
    """
    import pyarrow as pa
    from pyspark.sql import functions as F

    if not 0 <= alpha < 1:
        raise ConfigError(f"alpha must be in [0, 1), got {alpha}")
    if checkpoint_every < 1 or max_iter < 1 or not tol > 0:
        raise ConfigError("checkpoint_every and max_iter must be >= 1 and tol > 0")
    ids = _ids(nodes)
    n = ids.shape[0]
    if n == 0:
        raise ConfigError("PageRank of an empty graph")
    c = checkpoint_every
    spark = edges.sparkSession
    e = _edges(edges, n, "weight" if weighted else None)
    out_w = e.groupBy("src").agg(F.sum("weight").alias("out_w")).where(F.col("out_w") > 0)

    # the nodes: dangling or not, the dangling vector u and the teleport vector b = (1 - alpha) p
    same = dangling is None  # u is p
    flags = spark.range(n).select(F.col("id").alias("node"))
    if personalization is None and same:
        flags = flags.select("node", F.lit(1.0 / n).alias("u"), F.lit((1 - alpha) / n).alias("b"))
    else:
        p = (
            np.full(n, 1.0 / n)
            if personalization is None
            else _node_values(ids, personalization, "personalization")
        )
        u = p if same else _node_values(ids, dangling, "dangling")
        flags = spark.createDataFrame(
            pa.table({"node": np.arange(n, dtype=np.int64), "u": u, "b": (1 - alpha) * p})
        )
    vectors = (
        flags.join(out_w.select(F.col("src").alias("node"), F.lit(False).alias("has_out")), "node", "left")
        .select("node", F.col("has_out").isNull().alias("dang"), "u", "b")
        .localCheckpoint()
    )
    # the transition alpha P^T (edges of positive weight), and the dangling nodes' mass sent down the chain
    # -1 -> -2 -> ... -> -c (weight 1, undamped) where it is read off after c steps
    step = (
        e.where(F.col("weight") > 0)
        .join(out_w, "src")
        .select("src", "dst", (F.lit(alpha) * (F.col("weight") / F.col("out_w"))).alias("w"))
    )
    chain = spark.createDataFrame(
        [(-j, -(j + 1), 1.0, False) for j in range(1, c)], "src long, dst long, w double, keep boolean"
    )
    sinks = vectors.where("dang").select(
        F.col("node").alias("src"), F.lit(-1).cast("long").alias("dst"), F.lit(1.0).alias("w"), F.lit(False)
    )
    # and a "keep" self-edge on every node, for the levels below
    keep = vectors.select(
        F.col("node").alias("src"), F.col("node").alias("dst"), F.lit(0.0).alias("w"), F.lit(True)
    )
    moves = (
        step.select("*", F.lit(False).alias("keep"))
        .union(sinks)
        .union(chain)
        .union(keep)
        .repartition("src")
        .localCheckpoint()
    )
    aug = moves.where(~F.col("keep")).select("src", "dst", "w")

    # A^l u and A^l b for l <= c (b's only when they are not (1 - alpha) A^l u) in one job: each node's keep
    # edge carries the levels already computed while the last one takes a step. The iteration starts from
    # u, so these are also its first c steps' A^l x.
    names = ["u"] if same else ["u", "b"]
    moving = moves.where(F.col("dst") >= 0)
    state = vectors.select("node", *(F.col(v).alias(f"{v}0") for v in names))
    for level in range(1, c + 1):
        kept = [
            F.sum(F.when(F.col("keep"), F.col(f"{v}{j}")).otherwise(0.0)).alias(f"{v}{j}")
            for v in names
            for j in range(level)
        ]
        moved = [
            F.sum(F.when(~F.col("keep"), F.col(f"{v}{level - 1}") * F.col("w")).otherwise(0.0)).alias(
                f"{v}{level}"
            )
            for v in names
        ]
        state = (
            state.hint(_JOIN)
            .join(moving, state["node"] == moving["src"])
            .groupBy(F.col("dst").alias("node"))
            .agg(*kept, *moved)
        )
    full = vectors.select("node", "dang").join(state, "node").localCheckpoint(eager=False)
    sums = (
        full.where("dang").agg(*(F.sum(f"{v}{j}").alias(f"{v}{j}") for v in names for j in range(c))).first()
    )
    du = [float(sums[f"u{j}"] or 0.0) for j in range(c)]  # d . A^l u
    db = [(1 - alpha) * v for v in du] if same else [float(sums[f"b{j}"] or 0.0) for j in range(c)]
    dr = np.concatenate([[0.0], np.cumsum(db)])  # d . R_i, R_i = sum_{l<i} A^l b
    bs = [F.lit(1 - alpha) * F.col(f"u{j}") if same else F.col(f"b{j}") for j in range(c)]
    wide = full.select(
        "node", *(F.col(f"u{j}") for j in range(c)), functools.reduce(lambda p, q: p + q, bs).alias("r")
    )

    x = full.select("node", F.col("u0").alias("x"))  # x^(0) = u
    steps, change = 0, math.inf
    contraction = alpha**c / (1 - alpha**c)
    while steps < max_iter:
        if steps == 0:  # A^i x^(0) = A^i u: computed above
            a = full.select("node", F.col(f"u{c}").alias("a"))
            da = du
        else:
            a = x.select("node", F.col("x").alias("a"))
            for _ in range(c):
                a = (
                    a.hint(_JOIN)
                    .join(aug, a["node"] == aug["src"])
                    .groupBy(F.col("dst").alias("node"))
                    .agg(F.sum(F.col("a") * F.col("w")).alias("a"))
                )
            a = a.localCheckpoint(eager=False)
            sink = {int(r["node"]): float(r["a"]) for r in a.where(F.col("node") < 0).collect()}
            da = [sink.get(-(c - i), 0.0) for i in range(c)]  # d . A^i x: step i's dangling mass, at -(c - i)
        s: list[float] = []
        for i in range(c):
            s.append(alpha * (da[i] + dr[i] + sum(s[j] * du[i - 1 - j] for j in range(i))))
        terms = [F.lit(s[c - 1 - j]) * F.col(f"u{j}") for j in range(c)]
        x_new = F.coalesce(F.col("a"), F.lit(0.0)) + functools.reduce(lambda p, q: p + q, terms) + F.col("r")
        new = (
            wide.join(a.where(F.col("node") >= 0), "node", "left")
            .join(x.select("node", F.col("x").alias("x_old")), "node")
            .select("node", x_new.alias("x"), F.col("x_old"))
            .localCheckpoint(eager=False)
        )
        change = float(new.agg(F.sum(F.abs(F.col("x") - F.col("x_old")))).first()[0])
        steps += c
        x = new.select("node", "x")
        logger.debug("pagerank: %d steps, L1 change over the last %d: %.3g", steps, c, change)
        if contraction * change < tol:
            logger.debug("pagerank converged in %d steps (L1 error <= %.3g)", steps, contraction * change)
            return pd.Series(_dense(x, "x", n, np.float64), index=ids, name="pagerank")
    result = pd.Series(_dense(x, "x", n, np.float64), index=ids, name="pagerank")
    raise ConvergenceError(
        f"PageRank did not converge in {steps} steps "
        f"(L1 error bound {contraction * change:.3g} >= {tol:.3g})",
        result={"x": result, "n_iter": steps, "err": contraction * change},
    )


# ----------------------------------------------------------------------------------------------- counts
def followers(edges: DataFrame, nodes: int | Iterable[Any]) -> pd.Series:
    """Number of distinct accounts each node directly influences (its out-neighbours, itself excluded).

    :func:`socialvalue.social.reach.followers` on Spark: the distinct ``(src, dst)`` pairs without
    self-loops, counted by source. Weights play no part.

    Parameters
    ----------
    edges
        Spark DataFrame with ``src`` and ``dst`` (integer node codes).
    nodes
        The node ids (code ``i`` is ``nodes[i]``) or the node count.

    Returns
    -------
    pandas.Series
        Counts (int64) indexed by node id, named ``followers``.
    """
    from pyspark.sql import functions as F

    ids = _ids(nodes)
    e = _edges(edges, ids.shape[0], None)
    counts = e.where(F.col("src") != F.col("dst")).groupBy(F.col("src").alias("node")).count()
    return pd.Series(_dense(counts, "count", ids.shape[0], np.int64), index=ids, name="followers")


def reach_2hop(edges: DataFrame, nodes: int | Iterable[Any]) -> pd.Series:
    r"""Number of distinct nodes within two hops of each node along the edges, itself excluded (exact).

    :func:`socialvalue.social.reach.reach` with ``hops=2`` on Spark: the non-zero columns of row :math:`v`
    of :math:`A \lor A^2` other than :math:`v`, i.e. the out-neighbours and their out-neighbours. The edges
    are joined with themselves on ``dst = src`` (the two-hop paths), united with the one-hop edges, and the
    distinct targets other than the source counted.

    Parameters
    ----------
    edges
        Spark DataFrame with ``src`` and ``dst`` (integer node codes).
    nodes
        The node ids (code ``i`` is ``nodes[i]``) or the node count.

    Returns
    -------
    pandas.Series
        Counts (int64) indexed by node id, named ``reach_2``.

    Notes
    -----
    The join shuffles one row per two-hop path, :math:`\sum_v d^-(v)\, d^+(v)`, before the ``DISTINCT``.
    """
    from pyspark.sql import functions as F

    ids = _ids(nodes)
    e = _edges(edges, ids.shape[0], None).select("src", "dst")
    first, second = e.alias("first"), e.alias("second")
    paths = first.join(second, F.col("first.dst") == F.col("second.src")).select(
        F.col("first.src").alias("src"), F.col("second.dst").alias("dst")
    )
    counts = (
        e.unionByName(paths)
        .where(F.col("src") != F.col("dst"))
        .distinct()
        .groupBy(F.col("src").alias("node"))
        .count()
    )
    return pd.Series(_dense(counts, "count", ids.shape[0], np.int64), index=ids, name="reach_2")


# ----------------------------------------------------------------------------------------------- spread
def collect_graph(edges: DataFrame, nodes: int | Iterable[Any], *, weight: str | None = "weight") -> Graph:
    """The edges collected to the driver as a :class:`~socialvalue.social.graph.Graph` (repeats once).

    For what needs the whole graph in one place: learning the edge probabilities
    (:class:`~socialvalue.social.imm.InfluenceModel`) and the reverse graph :func:`spread` broadcasts. Its
    edge order (CSR: by source, then target) is the order :func:`spread` aligns an array of probabilities
    with.

    Parameters
    ----------
    edges
        Spark DataFrame with ``src``, ``dst`` (integer node codes) and ``weight`` (when not None).
    nodes
        The node ids (code ``i`` is ``nodes[i]``) or the node count.
    weight
        The column read as the edge weights (None: 1 for every edge).

    Returns
    -------
    Graph
        The graph on the node ids.
    """
    ids = _ids(nodes)
    table = _edges(edges, ids.shape[0], weight).toArrow()
    return Graph.from_codes(
        ids,
        table.column("src").to_numpy(),
        table.column("dst").to_numpy(),
        table.column("weight").to_numpy(),
        duplicates="once",
    )


def _sample_chunks(
    reverse: Any, n: int, entropy: int, chunks: Iterator[tuple[int, int]]
) -> Iterator[tuple[int, int, int]]:
    """On an executor: draw each chunk's RR sets, yield ``(node, sets containing it, sets rooted at it)``.

    A chunk ``(index, sets)`` draws with the generator seeded by ``(entropy, index)``, so the sets depend on
    the seed and the chunk, not on which task runs it.
    """
    from socialvalue.social.rrsets import _sample

    for index, theta in chunks:
        rng = np.random.default_rng([entropy, index])
        _, _, both = _sample(reverse.value, n, theta, rng, 1, node_counts=True)
        hit = np.flatnonzero(both[0])
        yield from zip(hit.tolist(), both[0][hit].tolist(), both[1][hit].tolist(), strict=True)


def spread(
    edges: DataFrame | Graph,
    probabilities: str | Any,
    nodes: int | Iterable[Any] | None = None,
    *,
    n_sets: int | None = None,
    confidence: float = 0.95,
    simultaneous: bool = False,
    seed: int | None = None,
    n_partitions: int | None = None,
    spark: SparkSession | None = None,
) -> pd.DataFrame:
    r"""Expected influence spread :math:`\sigma(v)` of every node from RR sets sampled on the executors.

    :func:`socialvalue.social.rrsets.estimate_spread` with the sampling spread over Spark tasks. An RR set
    is the set of nodes that reach a uniform random root in a random live-edge graph (each edge kept with
    its probability); for any node :math:`v`, :math:`\sigma(v) = n \Pr[v \in R]` (Borgs et al. 2014,
    Obs. 3.2; Tang et al. 2015, Sec. 2.2). The root's own membership is known exactly and counted once;
    with :math:`C^-_v` the sets not rooted at :math:`v` that contain it, out of :math:`\theta`,

    .. math::

        \hat\sigma(v) = 1 + n \frac{C^-_v}{\theta}, \qquad
        C^-_v \sim \mathrm{Binomial}\!\left(\theta, \frac{\sigma(v) - 1}{n}\right),

    standard error :math:`n \sqrt{q (1 - q) / \theta}` (:math:`q = C^-_v / \theta`) and interval
    :math:`1 + n\,[\,\cdot\,]` of the Clopper-Pearson interval of :math:`q` (Bonferroni over the nodes with
    ``simultaneous``), capped at :math:`n`.

    The reverse graph is collected once and broadcast; the :math:`\theta` sets are split into
    ``n_partitions`` chunks, one task each, chunk :math:`j` drawn with the generator seeded by
    ``(seed, j)`` with the numpy sampler of :mod:`socialvalue.social.rrsets`; the per-node counts are summed
    by node in Spark. Same ``seed`` and ``n_partitions``: the same sets. The draws differ from the
    single-machine estimate's (other generators), which it matches within the intervals.

    Parameters
    ----------
    edges
        Spark DataFrame with ``src``, ``dst`` (integer node codes) and the probabilities, or a graph already
        collected (:func:`collect_graph`).
    probabilities
        The column of ``edges`` holding each edge's probability, or an array aligned with the edges of
        ``collect_graph(edges, nodes)`` (of ``edges`` when it is a graph), as
        :attr:`InfluenceModel.edge_prob_["p"] <socialvalue.social.imm.InfluenceModel>` is.
    nodes
        The node ids (code ``i`` is ``nodes[i]``) or the node count; unused with a graph.
    n_sets
        Number :math:`\theta` of RR sets; ``max(n, 10_000)`` if None.
    confidence
        Coverage of the intervals.
    simultaneous
        If True, the intervals hold for all nodes at once.
    seed
        Seed of every draw; fresh entropy if None.
    n_partitions
        Tasks (chunks of sets); the context's default parallelism if None.
    spark
        The session, when ``edges`` is a graph (the active one if None).

    Returns
    -------
    pandas.DataFrame
        Indexed by node id (``node``), the columns of :func:`~socialvalue.social.rrsets.estimate_spread`:
        ``spread``, ``others``, ``lower``, ``upper``, ``std_error``, ``rr_count`` and ``rr_count_others``;
        ``attrs["n_sets"]`` holds :math:`\theta`, ``attrs["n_partitions"]`` the chunks.
    """
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F
    from scipy import stats

    from socialvalue.social.rrsets import _reverse

    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence}")
    if isinstance(edges, Graph):
        graph = edges
        session = spark or SparkSession.getActiveSession()
        if session is None:
            raise ConfigError("spread on a collected graph needs a SparkSession (spark=, or an active one)")
        prob = probabilities
    else:
        if nodes is None:
            raise ConfigError("spread on an edge DataFrame needs nodes (the node ids or count)")
        session = edges.sparkSession
        column = probabilities if isinstance(probabilities, str) else None
        graph = collect_graph(edges, nodes, weight=column)
        prob = graph.weight if column is not None else probabilities
    n = graph.n
    theta = int(n_sets) if n_sets is not None else max(n, 10_000)
    if theta < 1:
        raise ConfigError("n_sets must be >= 1")
    reverse = _reverse(graph, prob)  # checks the probabilities: one per edge, in [0, 1]
    sc = session.sparkContext
    k = max(1, min(int(n_partitions or sc.defaultParallelism), theta))
    entropy = int(np.random.SeedSequence(seed).entropy)  # type: ignore[arg-type]
    chunks = [(j, theta // k + (j < theta % k)) for j in range(k)]
    shared = sc.broadcast(reverse)
    try:
        rows = sc.parallelize(chunks, k).mapPartitions(functools.partial(_sample_chunks, shared, n, entropy))
        counted = (
            session.createDataFrame(rows, "node long, rr_count long, rooted long")
            .groupBy("node")
            .agg(F.sum("rr_count").alias("rr_count"), F.sum("rooted").alias("rooted"))
        )
        table = counted.toArrow()
    finally:
        shared.destroy()
    counts = np.zeros(n, dtype=np.int64)
    rooted = np.zeros(n, dtype=np.int64)
    where = table.column("node").to_numpy()
    counts[where] = table.column("rr_count").to_numpy()
    rooted[where] = table.column("rooted").to_numpy()
    # the estimate of socialvalue.social.rrsets.estimate_spread, on the summed counts
    others = counts - rooted
    delta = 1.0 - confidence
    if simultaneous:
        delta /= n
    cnt = others.astype(np.float64)
    lo, hi = np.zeros(n), np.ones(n)
    pos, full = cnt > 0, cnt < theta
    lo[pos] = stats.beta.ppf(delta / 2, cnt[pos], theta - cnt[pos] + 1)
    hi[full] = stats.beta.ppf(1 - delta / 2, cnt[full] + 1, theta - cnt[full])
    share = cnt / theta
    reach = n * share
    cap = float(max(n - 1, 0))
    out = pd.DataFrame(
        {
            "spread": 1.0 + reach,
            "others": reach,
            "lower": 1.0 + np.minimum(n * lo, cap),
            "upper": 1.0 + np.minimum(n * hi, cap),
            "std_error": n * np.sqrt(share * (1 - share) / theta),
            "rr_count": counts,
            "rr_count_others": others,
        },
        index=pd.Index(graph.ids, name="node"),
    )
    out.attrs["n_sets"] = theta
    out.attrs["n_partitions"] = k
    return out
