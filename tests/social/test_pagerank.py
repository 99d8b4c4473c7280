"""PageRank against networkx (``nx.pagerank`` with the same alpha, personalization, weight and tol=1e-12)."""

import networkx as nx
import numpy as np
import pytest

from socialvalue.errors import ConfigError, ConvergenceError
from socialvalue.social import Graph, influence_pagerank, pagerank, pagerank_exact


def _random_graph(n, m, seed, dangling_share=0.1):
    rng = np.random.default_rng(seed)
    src = rng.integers(0, n, m)
    dst = rng.integers(0, n, m)
    # make some nodes dangling (no out-edges) and keep some isolated ones
    dead = rng.choice(n, int(dangling_share * n), replace=False)
    keep = ~np.isin(src, dead)
    ids = np.array([f"c{i}" for i in range(n)], dtype=object)
    g = Graph.from_edges(ids[src[keep]], ids[dst[keep]], rng.exponential(1.0, keep.sum()), nodes=ids)
    nxg = nx.DiGraph()
    nxg.add_nodes_from(g.ids.tolist())
    nxg.add_weighted_edges_from(g.edges_frame().itertuples(index=False, name=None))
    return g, nxg


def _as_array(d, g):
    return np.array([d[i] for i in g.ids.tolist()])


@pytest.mark.parametrize(("n", "m"), [(30, 80), (2000, 12000)])
@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("personalized", [False, True])
def test_pagerank_equals_networkx(n, m, weighted, personalized):
    g, nxg = _random_graph(n, m, seed=n + m)
    assert (g.out_degree() == 0).sum() > 0  # dangling nodes present
    pers = {f"c{i}": float(i % 7 + 1) for i in range(0, n, 5)} if personalized else None
    ours = pagerank(g, alpha=0.85, personalization=pers, weighted=weighted, tol=1e-12)
    ref = nx.pagerank(
        nxg, 0.85, personalization=pers, weight="weight" if weighted else None, tol=1e-12, max_iter=1000
    )
    np.testing.assert_allclose(ours.to_numpy(), _as_array(ref, g), rtol=0, atol=1e-8)
    assert ours.sum() == pytest.approx(1.0, abs=1e-12)
    exact = pagerank_exact(g, alpha=0.85, personalization=pers, weighted=weighted)
    np.testing.assert_allclose(ours.to_numpy(), exact.to_numpy(), rtol=0, atol=1e-9)


def test_personalization_by_id_list_and_custom_dangling():
    g, nxg = _random_graph(300, 1500, seed=3)
    best = ["c1", "c2", "c3"]
    dang = {f"c{i}": 1.0 for i in range(10, 20)}
    ours = pagerank(g, alpha=0.9, personalization=best, dangling=dang)
    ref = nx.pagerank(
        nxg,
        0.9,
        personalization=dict.fromkeys(best, 1.0),
        dangling=dang,
        weight="weight",
        tol=1e-12,
        max_iter=1000,
    )
    np.testing.assert_allclose(ours.to_numpy(), _as_array(ref, g), rtol=0, atol=1e-8)
    exact = pagerank_exact(g, alpha=0.9, personalization=best, dangling=dang)
    np.testing.assert_allclose(ours.to_numpy(), exact.to_numpy(), rtol=0, atol=1e-9)


def test_exact_solve_by_gmres_equals_lu():
    g, _ = _random_graph(3000, 15_000, seed=5)
    dang = {f"c{i}": 1.0 for i in range(5)}
    lu = pagerank_exact(g, method="lu", dangling=dang)
    gm = pagerank_exact(g, method="gmres", dangling=dang)  # linear operator with the dangling rank-one term
    assert np.abs(lu.to_numpy() - gm.to_numpy()).sum() < 1e-10
    it = pagerank(g, tol=1e-14, dangling=dang)
    assert np.abs(it.to_numpy() - lu.to_numpy()).sum() < 1e-9
    with pytest.raises(ConfigError):
        pagerank_exact(g, method="qr")


def test_influence_pagerank_runs_on_reversed_graph():
    g, nxg = _random_graph(200, 900, seed=11)
    ours = influence_pagerank(g, personalization=["c4", "c8"])
    ref = nx.pagerank(nxg.reverse(copy=True), personalization={"c4": 1, "c8": 1}, weight="weight", tol=1e-12)
    np.testing.assert_allclose(ours.to_numpy(), _as_array(ref, g), rtol=0, atol=1e-8)
    assert ours.name == "influence_pagerank"


def test_errors():
    g, _ = _random_graph(50, 200, seed=1)
    with pytest.raises(ConvergenceError, match="did not converge") as exc:
        pagerank(g, max_iter=2)
    assert exc.value.result["n_iter"] == 2
    with pytest.raises(ConfigError):
        pagerank(g, alpha=1.0)
    with pytest.raises(ConfigError):
        pagerank(g, personalization={"c1": -1.0})
