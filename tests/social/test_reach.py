"""Followers and multi-hop reach against networkx's breadth-first search."""

import networkx as nx
import numpy as np
import pytest

from socialvalue.errors import ConfigError
from socialvalue.social import Graph, followers, reach


def _graphs(n, m, seed):
    rng = np.random.default_rng(seed)
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)  # self-loops and parallel edges included
    g = Graph.from_edges(src, dst, nodes=np.arange(n + 5))  # plus isolated nodes
    nxg = nx.DiGraph()
    nxg.add_nodes_from(range(n + 5))
    nxg.add_edges_from(zip(src.tolist(), dst.tolist(), strict=True))
    return g, nxg


@pytest.mark.parametrize(("n", "m"), [(40, 90), (3000, 15000)])
@pytest.mark.parametrize("hops", [1, 2, 3])
def test_reach_equals_networkx_bfs(n, m, hops):
    g, nxg = _graphs(n, m, seed=n + hops)
    ours = reach(g, hops)
    ref = [len(nx.single_source_shortest_path_length(nxg, v, cutoff=hops)) - 1 for v in g.ids.tolist()]
    np.testing.assert_array_equal(ours.to_numpy(), ref)
    assert ours.name == f"reach_{hops}"


def test_reach_in_small_blocks_matches_one_block():
    g, _ = _graphs(2000, 20000, seed=1)
    np.testing.assert_array_equal(reach(g, 2, block_nnz=5000).to_numpy(), reach(g, 2).to_numpy())


def test_followers_are_out_neighbours_without_self():
    g, nxg = _graphs(100, 400, seed=2)
    ref = [len(set(nxg.successors(v)) - {v}) for v in g.ids.tolist()]
    np.testing.assert_array_equal(followers(g).to_numpy(), ref)
    with pytest.raises(ConfigError):
        reach(g, 0)
