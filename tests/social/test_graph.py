import numpy as np
import pandas as pd
import pytest

from socialvalue.errors import ConfigError, SchemaError
from socialvalue.social import Graph, influence_edges


def test_from_frame_merges_parallel_edges_and_keeps_isolated_nodes():
    edges = pd.DataFrame(
        {"src": ["a", "b", "a", "c"], "dst": ["b", "c", "b", "a"], "weight": [1.0, 2.0, 3.0, 4.0]}
    )
    before = edges.copy()
    g = Graph.from_frame(edges, nodes=["z", "a"])
    pd.testing.assert_frame_equal(edges, before)  # caller's frame untouched
    assert g.ids.tolist() == ["z", "a", "b", "c"]
    assert (g.n, g.m) == (4, 3)
    got = g.edges_frame().set_index(["src", "dst"])["weight"].to_dict()
    assert got == {("a", "b"): 4.0, ("b", "c"): 2.0, ("c", "a"): 4.0}
    assert g.out_degree().tolist() == [0, 1, 1, 1]
    assert g.in_degree(weighted=True).tolist() == [0.0, 4.0, 4.0, 2.0]


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
