import networkx as nx
import numpy as np
import pandas as pd
import pytest

from socialvalue.errors import ConfigError, SchemaError
from socialvalue.social import Graph, influence_edges, pagerank


def test_from_frame_counts_repeated_pairs_once_and_keeps_isolated_nodes():
    edges = pd.DataFrame(
        {"src": ["a", "b", "a", "c"], "dst": ["b", "c", "b", "a"], "weight": [1.0, 2.0, 3.0, 4.0]}
    )
    before = edges.copy()
    g = Graph.from_frame(edges, nodes=["z", "a"])
    pd.testing.assert_frame_equal(edges, before)  # caller's frame untouched
    assert g.ids.tolist() == ["z", "a", "b", "c"]
    assert (g.n, g.m) == (4, 3)
    got = g.edges_frame().set_index(["src", "dst"])["weight"].to_dict()
    # changed on purpose (issue 14): a repeated pair is one edge, the largest of its weights (was summed: 4.0)
    assert got == {("a", "b"): 3.0, ("b", "c"): 2.0, ("c", "a"): 4.0}
    assert g.out_degree().tolist() == [0, 1, 1, 1]
    assert g.in_degree(weighted=True).tolist() == [0.0, 4.0, 3.0, 2.0]
    summed = Graph.from_frame(edges, nodes=["z", "a"], duplicates="sum")
    assert summed.edges_frame().set_index(["src", "dst"])["weight"][("a", "b")] == 4.0
    with pytest.raises(ConfigError, match="duplicates"):
        Graph.from_frame(edges, duplicates="max")


def test_reverse_csr_is_consistent_with_forward():
    rng = np.random.default_rng(0)
    g = Graph.from_edges(rng.integers(0, 50, 400), rng.integers(0, 50, 400), rng.random(400))
    a = g.adjacency().toarray()
    np.testing.assert_array_equal(g.reverse_adjacency().toarray(), a.T)
    # rev_edge maps reverse positions to forward edges
    np.testing.assert_array_equal(g.src[g.rev_edge], g.rev_indices)
    r = g.reversed()
    np.testing.assert_array_equal(r.adjacency().toarray(), a.T)
    np.testing.assert_array_equal(r.reverse_adjacency().toarray(), a)
    np.testing.assert_array_equal(r.src[r.rev_edge], r.rev_indices)


def test_positions_and_errors():
    g = Graph.from_edges(np.array([10, 20]), np.array([20, 30]))
    assert g.positions([30, 10]).tolist() == [2, 0]
    with pytest.raises(SchemaError, match="not in the graph"):
        g.positions([99])
    with pytest.raises(SchemaError, match="non-negative"):
        Graph.from_edges(np.array([1]), np.array([2]), [-1.0])
    with pytest.raises(SchemaError, match="missing column"):
        Graph.from_frame(pd.DataFrame({"a": [1]}))


def test_influence_edges_direction_decay_and_window():
    as_of = pd.Timestamp("2024-03-01")
    rel = pd.DataFrame(
        {
            "src_id": ["f", "x", "old", "later"],
            "dst_id": ["star", "y", "star", "star"],
            "kind": ["follow", "friend", "follow", "follow"],
            "created_at": pd.to_datetime(["2023-01-01", "2023-01-01", "2022-01-01", "2024-06-01"]),
            "ended_at": pd.to_datetime([None, None, "2023-01-01", None]),
        }
    )
    inter = pd.DataFrame(
        {
            "actor_id": ["f", "f", "f", "g", "g"],
            "target_customer_id": ["star", "star", "star", None, "g"],
            "kind": ["like", "share", "like", "like", "like"],
            "occurred_at": as_of - pd.to_timedelta([0, 30, 400, 1, 1], unit="D"),
        }
    )
    e = influence_edges(rel, inter, as_of=as_of, half_life_days=30.0, window_days=365.0, tie_weight=1.0)
    w = e.set_index(["src", "dst"])["weight"].to_dict()
    # follower f follows star: influence flows star -> f; the tie (1) plus a like today (1) and a share 30 days
    # ago (half-life: 0.5); the 400-day-old like is outside the window.
    assert w[("star", "f")] == pytest.approx(2.5)
    assert w[("x", "y")] == 1.0 and w[("y", "x")] == 1.0  # a friendship is two directed edges
    assert ("star", "old") not in w and ("star", "later") not in w  # ended / not yet created
    assert ("f", "star") not in w
    assert len(w) == 3  # null targets and self-interactions dropped
    e2 = influence_edges(rel, inter, as_of=as_of, interaction_kinds=["share"], tie_weight=0.0)
    assert e2.set_index(["src", "dst"])["weight"][("star", "f")] == pytest.approx(0.5)
    with pytest.raises(ConfigError):
        influence_edges(rel, inter, as_of=as_of, half_life_days=0)


def test_duplicate_relationship_rows_count_once_and_self_ties_are_dropped():
    """The tie term of w_uv is an indicator (docs/validation/graph.md, section 0): repeats add nothing."""
    as_of = pd.Timestamp("2024-03-01")
    rel = pd.DataFrame(
        {
            "src_id": ["f", "f", "f", "x", "y", "x", "s", "b"],
            "dst_id": ["star", "star", "star", "y", "x", "y", "s", "a"],
            "kind": ["follow", "follow", "follows", "friend", "friend", "follow", "follow", "referred"],
        }
    )
    w = influence_edges(rel, as_of=as_of, relationship_kinds=("follow", "friend", "referred"))
    got = w.set_index(["src", "dst"])["weight"].to_dict()
    # f follows star three times -> one tie; x-y friends listed both ways plus x follows y -> one tie each way
    assert got == {("star", "f"): 1.0, ("x", "y"): 1.0, ("y", "x"): 1.0, ("b", "a"): 1.0}
    kinds = ("follow", "friend", "referred")
    # the same as one row per relationship
    pd.testing.assert_frame_equal(
        influence_edges(rel.iloc[[0, 3, 7]], as_of=as_of, relationship_kinds=kinds), w
    )


def _nx_pagerank_array(nxg, ids, **kw):
    ref = nx.pagerank(nxg, 0.85, tol=1e-13, max_iter=10_000, **kw)
    return np.array([ref[i] for i in ids])


def test_pagerank_with_duplicate_rows_and_self_loops_equals_networkx():
    """Issue 14: duplicate rows and self-loops, compared with networkx to 1e-12.

    networkx is given the documented semantics, not our output: for ``Graph.from_edges`` the raw rows go
    into ``nx.DiGraph`` (a repeated pair is one edge, a self-loop an edge); for ``influence_edges`` the raw
    relationship rows are mapped to directed ties by the documented direction rules, self-ties removed
    (``nx.selfloop_edges``), and added to a ``DiGraph`` (which keeps one edge per pair).
    """
    rng = np.random.default_rng(14)
    n, m = 300, 1500
    ids = np.array([f"c{i:03d}" for i in range(n)], dtype=object)
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    dup = rng.integers(0, m, 400)  # 400 repeated rows
    src, dst = np.r_[src, src[dup]], np.r_[dst, dst[dup]]
    loops = rng.integers(0, n, 30)
    src, dst = np.r_[src, loops], np.r_[dst, loops]
    assert (src == dst).sum() >= 30

    # 1. the plain container: nx.DiGraph over the same raw rows
    g = Graph.from_edges(ids[src], ids[dst], nodes=ids)
    nxg = nx.DiGraph()
    nxg.add_nodes_from(ids.tolist())
    nxg.add_edges_from(zip(ids[src].tolist(), ids[dst].tolist(), strict=True))
    assert g.m == nxg.number_of_edges()
    ours = pagerank(g, alpha=0.85, weighted=False, tol=1e-13).to_numpy()
    np.testing.assert_allclose(ours, _nx_pagerank_array(nxg, g.ids.tolist(), weight=None), rtol=0, atol=1e-12)
    weighted = pagerank(g, alpha=0.85, tol=1e-13).to_numpy()  # every weight 1: same as unweighted
    np.testing.assert_allclose(weighted, ours, rtol=0, atol=1e-12)

    # 2. relationships -> influence_edges: duplicate rows and self-ties in a trust graph (follow rows)
    rel = pd.DataFrame({"src_id": ids[src], "dst_id": ids[dst], "kind": "follow"})
    edges = influence_edges(rel, as_of="2024-01-01")
    g2 = Graph.from_frame(edges, nodes=ids)
    nx2 = nx.DiGraph()
    nx2.add_nodes_from(ids.tolist())
    nx2.add_edges_from(zip(rel["dst_id"], rel["src_id"], strict=True), weight=1.0)  # follower sees followed
    nx2.remove_edges_from(list(nx.selfloop_edges(nx2)))
    assert g2.m == nx2.number_of_edges() and set(edges["weight"]) == {1.0}
    for weight in ("weight", None):
        ours2 = pagerank(g2, alpha=0.85, weighted=weight is not None, tol=1e-13).to_numpy()
        np.testing.assert_allclose(
            ours2, _nx_pagerank_array(nx2, g2.ids.tolist(), weight=weight), rtol=0, atol=1e-12
        )
    # before the fix the repeated rows had weight 2 and the weighted ranks differed from networkx
    summed = Graph.from_frame(
        rel.assign(src=rel["dst_id"], dst=rel["src_id"], weight=1.0), nodes=ids, duplicates="sum"
    )
    old = pagerank(summed, alpha=0.85, tol=1e-13).to_numpy()
    assert np.abs(old - _nx_pagerank_array(nx2, ids.tolist(), weight="weight")).max() > 1e-6


def test_from_codes_equals_from_edges_on_the_same_numbering():
    """Issue 16: edges given as positions into ``ids`` (codes assigned in the engine) build the graph that
    from_edges builds from the ids themselves, isolated nodes and repeated pairs included."""
    rng = np.random.default_rng(3)
    names = np.array([f"c{k:03d}" for k in range(60)], dtype=object)  # c059 has no edge
    s, d = rng.integers(0, 59, 500), rng.integers(0, 59, 500)
    w = rng.random(500)
    for duplicates in ("once", "sum"):
        want = Graph.from_edges(names[s], names[d], w, nodes=names, duplicates=duplicates)
        got = Graph.from_codes(names, s, d, w, duplicates=duplicates)
        assert got.ids.tolist() == want.ids.tolist()
        for attr in ("indptr", "indices", "weight", "rev_indptr", "rev_indices", "rev_edge"):
            np.testing.assert_array_equal(getattr(got, attr), getattr(want, attr), err_msg=attr)
    assert got.out_degree()[-1] == 0 and got.in_degree()[-1] == 0
    with pytest.raises(SchemaError, match="positions"):
        Graph.from_codes(names, np.array([0, 60]), np.array([1, 2]))
    with pytest.raises(SchemaError, match="integer positions"):
        Graph.from_codes(names, np.array([0.0]), np.array([1.0]))
    with pytest.raises(SchemaError, match="non-negative"):
        Graph.from_codes(names, np.array([0]), np.array([1]), [-1.0])
    with pytest.raises(ConfigError, match="duplicates"):
        Graph.from_codes(names, s, d, duplicates="max")
