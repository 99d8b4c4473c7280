"""Graph measures on Spark (issue 18, part 4) equal the single-machine ones (socialvalue.social).

PageRank equals :func:`socialvalue.social.pagerank.pagerank` and
:func:`~socialvalue.social.pagerank.pagerank_exact` to 1e-9 per node (the Spark iteration stops on a bound of
its L1 distance to the exact vector, 1e-10 by default); followers and 2-hop reach equal
:func:`socialvalue.social.reach.followers` and :func:`~socialvalue.social.reach.reach` exactly; the sampled
spread agrees with :func:`socialvalue.social.rrsets.estimate_spread` within the stated standard errors (at
99%: at most 3% of the nodes outside, where 1% is expected) and, on a graph small enough to enumerate every
live-edge graph, covers the exact spread.

The graphs: a hand-made one (string ids, dangling nodes, a node whose only out-edge weighs 0, a self-loop, a
pair listed twice, an isolated node); the demo shop's influence graph (1,500 customers, seed 7) built on Spark
by :func:`socialvalue.spark.graph.influence_edges` and in DuckDB by the pipeline's ``influence_graph``; and a
random graph of 2,000 nodes.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy import stats

from socialvalue import Store
from socialvalue.demo import generate
from socialvalue.errors import ConfigError, ConvergenceError, SchemaError
from socialvalue.pipeline.social_inputs import influence_graph
from socialvalue.schema import KINDS
from socialvalue.social.graph import Graph
from socialvalue.social.pagerank import pagerank as pagerank_1
from socialvalue.social.pagerank import pagerank_exact
from socialvalue.social.reach import followers as followers_1
from socialvalue.social.reach import reach
from socialvalue.social.rrsets import estimate_spread
from socialvalue.spark.engine import SparkEngine
from socialvalue.spark.graph import (
    collect_graph,
    followers,
    influence_edges,
    pagerank,
    reach_2hop,
    spread,
)
from socialvalue.spark.input import read_tables

from .conftest import write_tables

AS_OF = "2026-01-01"

# node ids a..g; e and f have no out-edges (f's only edge weighs 0: dangling too), g is isolated,
# b has a self-loop, a -> c is listed twice (weights 1 and 3: one edge of weight 3)
HAND_IDS = np.array(list("abcdefg"), dtype=object)
HAND = pd.DataFrame(
    [
        ("a", "b", 2.0),
        ("a", "c", 1.0),
        ("a", "c", 3.0),
        ("b", "b", 1.0),
        ("b", "c", 1.0),
        ("b", "d", 0.5),
        ("c", "a", 1.0),
        ("c", "e", 2.0),
        ("d", "a", 1.0),
        ("d", "e", 1.0),
        ("f", "a", 0.0),
    ],
    columns=["src", "dst", "weight"],
)


def edge_frame(spark, src, dst, **columns):
    """A Spark DataFrame of edges from arrays (through Arrow)."""
    return spark.createDataFrame(pa.table({"src": np.asarray(src), "dst": np.asarray(dst), **columns}))


def assert_pagerank_equal(ours: pd.Series, graph: Graph, **kwargs) -> None:
    """Equal to the single-machine power iteration and to the exact solve, to 1e-9 per node."""
    assert ours.name == "pagerank" and list(ours.index) == list(graph.ids)
    for reference in (pagerank_1(graph, **kwargs), pagerank_exact(graph, **kwargs)):
        np.testing.assert_allclose(ours.to_numpy(), reference.to_numpy(), rtol=0, atol=1e-9)
    assert ours.sum() == pytest.approx(1.0, abs=1e-12)


@pytest.fixture(scope="module")
def hand(spark):
    codes = pd.Index(HAND_IDS)
    src, dst = codes.get_indexer(HAND["src"]), codes.get_indexer(HAND["dst"])
    w = HAND["weight"].to_numpy()
    return edge_frame(spark, src, dst, weight=w), Graph.from_codes(HAND_IDS, src, dst, w)


@pytest.fixture(scope="module")
def random_graph(spark):
    """2,000 nodes, 8,000 edge rows (self-loops and repeats among them), a quarter never a source."""
    rng = np.random.default_rng(18)
    n, m = 2_000, 8_000
    src, dst = rng.integers(0, 3 * n // 4, m), rng.integers(0, n, m)
    w, p = rng.exponential(1.0, m), rng.uniform(0, 0.3, m)
    frame = edge_frame(spark, src, dst, weight=w, p=p)
    return frame, Graph.from_codes(np.arange(n), src, dst, w), n


@pytest.fixture(scope="module")
def demo(spark, tmp_path_factory):
    """The demo shop's influence graph at AS_OF: (Spark edges, node ids, the pipeline's DuckDB graph)."""
    root = tmp_path_factory.mktemp("graph_demo")
    folder = write_tables(root / "input", generate(n_customers=1_500, seed=7).tables)
    store = Store(root / "store.duckdb")
    for kind in KINDS:
        if (folder / f"{kind}.parquet").exists():
            store.ingest(kind, folder / f"{kind}.parquet")
    engine = SparkEngine(spark, read_tables(spark, folder))
    edges, ids = influence_edges(engine, AS_OF)
    graph = influence_graph(store, AS_OF)
    yield edges.localCheckpoint(), ids, graph
    engine.release()
    store.close()


# ----------------------------------------------------------------------------------------------- PageRank
def test_hand_made_pagerank_equals_single_machine(hand):
    edges, graph = hand
    ours = pagerank(edges, HAND_IDS)
    assert_pagerank_equal(ours, graph)
    # the isolated node and the dangling ones get teleport and dangling rank only: the same for all three
    assert ours["g"] == pytest.approx(ours["f"], abs=1e-15) and ours["e"] > ours["g"]


def test_hand_made_personalized_unweighted_pagerank(hand):
    edges, graph = hand
    settings = {
        "alpha": 0.6,
        "personalization": {"a": 1.0, "d": 3.0},
        "dangling": ["e", "g"],
        "weighted": False,
    }
    ours = pagerank(edges, HAND_IDS, checkpoint_every=6, **settings)
    assert_pagerank_equal(ours, graph, **settings)


def test_random_graph_pagerank_equals_single_machine(random_graph):
    edges, graph, n = random_graph
    assert_pagerank_equal(pagerank(edges, n), graph)


def test_demo_influence_graph_on_spark(demo):
    edges, ids, graph = demo
    # the same graph as the pipeline's: nodes, edges, weights (to rounding: exp and sums run in Java)
    collected = collect_graph(edges, ids)
    assert (collected.ids == graph.ids).all() and graph.m > 1_000
    assert (collected.indptr == graph.indptr).all() and (collected.indices == graph.indices).all()
    np.testing.assert_allclose(collected.weight, graph.weight, rtol=1e-12, atol=0)
    assert_pagerank_equal(pagerank(edges, ids), graph)
    # the counts on the same edges
    pd.testing.assert_series_equal(followers(edges, ids), followers_1(graph))
    pd.testing.assert_series_equal(reach_2hop(edges, ids), reach(graph, 2))


def test_pagerank_stops_at_max_iter_with_the_iterate(hand):
    edges, _ = hand
    with pytest.raises(ConvergenceError, match="did not converge in 2 steps") as info:
        pagerank(edges, HAND_IDS, max_iter=2, checkpoint_every=2, tol=1e-15)
    assert info.value.result["n_iter"] == 2 and info.value.result["x"].sum() == pytest.approx(1.0)


# ----------------------------------------------------------------------------------------------- counts
def test_hand_made_counts_equal_single_machine(hand):
    edges, graph = hand
    ours_f, ours_r = followers(edges, HAND_IDS), reach_2hop(edges, HAND_IDS)
    pd.testing.assert_series_equal(ours_f, followers_1(graph))
    pd.testing.assert_series_equal(ours_r, reach(graph, 2))
    # by hand: a -> b, c (the repeat once); b -> c, d (its self-loop not counted); c -> a, e; d -> a, e;
    # f -> a (weight 0 is still an edge); two hops: a reaches b, c, d, e; c reaches a, e, b
    assert ours_f.to_dict() == {"a": 2, "b": 2, "c": 2, "d": 2, "e": 0, "f": 1, "g": 0}
    assert ours_r.to_dict() == {"a": 4, "b": 4, "c": 4, "d": 4, "e": 0, "f": 3, "g": 0} | {"c": 3}


def test_random_graph_counts_equal_single_machine(random_graph):
    edges, graph, n = random_graph
    pd.testing.assert_series_equal(followers(edges, n), followers_1(graph))
    pd.testing.assert_series_equal(reach_2hop(edges, n), reach(graph, 2))


def test_bad_edges_are_refused(spark):
    edges = edge_frame(spark, [0, 1, 5], [1, 2, 0], weight=[1.0, 2.0, 1.0])
    with pytest.raises(SchemaError, match=r"1 edge end\(s\) are not node codes 0 \.\. 3"):
        followers(edges, 4)
    negative = edge_frame(spark, [0, 1], [1, 2], weight=[1.0, -2.0])
    with pytest.raises(SchemaError, match="1 edge weight"):
        pagerank(negative, 3)
    with pytest.raises(SchemaError, match="integer node codes"):
        reach_2hop(edge_frame(spark, ["a"], ["b"]), 2)
    with pytest.raises(ConfigError, match="alpha"):
        pagerank(edges, 6, alpha=1.0)


# ----------------------------------------------------------------------------------------------- spread
def exact_spread(n: int, src: np.ndarray, dst: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Expected independent-cascade spread of each node, summed over all 2^m live-edge graphs."""
    sigma = np.zeros(n)
    for live in itertools.product([False, True], repeat=src.size):
        live = np.array(live)
        prob = np.prod(np.where(live, p, 1 - p))
        for v in range(n):
            seen, frontier = {v}, [v]
            while frontier:
                u = frontier.pop()
                for w in dst[live & (src == u)]:
                    if w not in seen:
                        seen.add(int(w))
                        frontier.append(int(w))
            sigma[v] += prob * len(seen)
    return sigma


def test_spread_covers_the_exact_value_on_a_tiny_graph(spark):
    src = np.array([0, 0, 1, 2, 2, 3, 4, 4])
    dst = np.array([1, 2, 3, 3, 4, 0, 1, 4])  # a cycle 0-2-3-0 and a self-loop 4 -> 4
    p = np.array([0.5, 0.3, 0.8, 0.4, 0.6, 0.2, 0.9, 0.7])
    exact = exact_spread(5, src, dst, p)
    ours = spread(edge_frame(spark, src, dst, p=p), "p", 5, n_sets=50_000, seed=1, confidence=0.99)
    assert ours.attrs["n_sets"] == 50_000 and list(ours.index) == list(range(5))
    assert ((ours["lower"] <= exact) & (exact <= ours["upper"])).all()
    assert (np.abs(ours["spread"] - exact) <= 4 * ours["std_error"]).all()


def test_random_graph_spread_agrees_with_single_machine(spark, random_graph):
    edges, _, n = random_graph
    graph = collect_graph(edges, n, weight="p")
    ours = spread(edges, "p", n, n_sets=20_000, seed=5)
    theirs = estimate_spread(graph, graph.weight, n_sets=20_000, random_state=5)
    assert list(ours.columns) == list(theirs.columns) and (ours.index == theirs.index).all()
    assert ours.attrs["n_partitions"] == spark.sparkContext.defaultParallelism
    assert (ours["spread"] >= 1).all() and (ours["rr_count_others"] > 0).mean() > 0.5
    z = stats.norm.ppf(0.995)
    outside = np.abs(ours["spread"] - theirs["spread"]) > z * np.hypot(ours["std_error"], theirs["std_error"])
    assert outside.mean() <= 0.03
    # the same sets for the same seed and chunks, from the edges or from the graph collected once
    again = spread(graph, graph.weight, n_sets=20_000, seed=5, spark=spark)
    pd.testing.assert_frame_equal(again, ours)
    other = spread(edges, "p", n, n_sets=20_000, seed=5, n_partitions=3)
    assert not other["rr_count"].equals(ours["rr_count"])  # other chunks draw other sets
