"""PageRank against networkx (``nx.pagerank`` with the same alpha, personalization, weight and tol=1e-12)."""

import importlib
import logging

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from socialvalue.errors import ConfigError, ConvergenceError
from socialvalue.social import Graph, influence_pagerank, pagerank, pagerank_exact

pagerank_module = importlib.import_module("socialvalue.social.pagerank")


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


def _communities(n_comm=40, size=60, seed=0):
    """Dense communities joined by a few edges: power iteration mixes slowly (rate near alpha)."""
    rng = np.random.default_rng(seed)
    n = n_comm * size
    comm = np.repeat(np.arange(n_comm), size)
    src = rng.integers(0, n, 12 * n)
    dst = comm[src] * size + rng.integers(0, size, src.size)  # inside the source's community
    bridges = rng.integers(0, n, n_comm)
    src = np.r_[src, bridges]
    dst = np.r_[dst, rng.integers(0, n, n_comm)]
    keep = src % 97 != 0  # some dangling nodes
    ids = np.array([f"c{i}" for i in range(n)], dtype=object)
    g = Graph.from_edges(ids[src[keep]], ids[dst[keep]], rng.exponential(1.0, keep.sum()), nodes=ids)
    nxg = nx.DiGraph()
    nxg.add_nodes_from(g.ids.tolist())
    nxg.add_weighted_edges_from(g.edges_frame().itertuples(index=False, name=None))
    return g, nxg


@pytest.mark.parametrize("personalized", [False, True])
def test_slowly_mixing_graph_switches_to_gmres_and_equals_networkx(personalized, caplog):
    g, nxg = _communities()
    pers = {f"c{i}": 1.0 + i % 3 for i in range(0, g.n, 7)} if personalized else None
    dang = {f"c{i}": 1.0 for i in range(0, g.n, 11)} if personalized else None  # u != p: own update
    with caplog.at_level(logging.DEBUG, logger="socialvalue.social.pagerank"):
        ours = pagerank(g, alpha=0.85, personalization=pers, dangling=dang)
    assert any("GMRES" in r.getMessage() for r in caplog.records)
    ref = nx.pagerank(
        nxg, 0.85, personalization=pers, dangling=dang, weight="weight", tol=1e-12, max_iter=1000
    )
    np.testing.assert_allclose(ours.to_numpy(), _as_array(ref, g), rtol=0, atol=1e-8)
    exact = pagerank_exact(g, alpha=0.85, personalization=pers, dangling=dang)
    np.testing.assert_allclose(ours.to_numpy(), exact.to_numpy(), rtol=0, atol=1e-9)
    assert ours.sum() == pytest.approx(1.0, abs=1e-12)


def test_stalled_gmres_hands_over_to_power_iteration(monkeypatch, caplog):
    g, _ = _communities(seed=1)
    exact = pagerank_exact(g, alpha=0.85).to_numpy()
    monkeypatch.setattr(
        pagerank_module, "_RESTART", 1
    )  # GMRES(1) barely progresses: the power method goes on
    with caplog.at_level(logging.DEBUG, logger="socialvalue.social.pagerank"):
        ours = pagerank(g, alpha=0.85)
    assert any("iterations (L1 change" in r.getMessage() for r in caplog.records)
    np.testing.assert_allclose(ours.to_numpy(), exact, rtol=0, atol=1e-9)
    with pytest.raises(ConvergenceError) as exc:  # the budget counts GMRES mat-vecs too
        pagerank(g, alpha=0.85, max_iter=12)
    assert exc.value.result["n_iter"] == 12


def test_method_power_is_networkx_iterate_and_auto_is_closer_to_exact():
    g, nxg = _communities(seed=2)
    assert g.m >= pagerank_module._KRYLOV_MIN_EDGES
    ref = _as_array(nx.pagerank(nxg, 0.85, weight="weight", tol=1e-12, max_iter=1000), g)
    power = pagerank(g, alpha=0.85, method="power").to_numpy()
    np.testing.assert_allclose(power, ref, rtol=0, atol=1e-13)  # the same iteration, to rounding
    auto = pagerank(g, alpha=0.85).to_numpy()
    exact = pagerank_exact(g, alpha=0.85).to_numpy()
    assert np.abs(auto - exact).sum() < np.abs(power - exact).sum()
    with pytest.raises(ConfigError, match="method"):
        pagerank(g, method="gmres")


@pytest.mark.shared_data
def test_ciao_trust_graph_equals_networkx_and_exact(shared_data, caplog):
    """The real Ciao trust network (Tang et al. 2012; 57,544 edges among 2,342 members): the case GMRES is for."""
    trust = pd.read_parquet(shared_data / "ciao" / "ciao_trust.parquet")
    g = Graph.from_edges(trust["truster_id"].to_numpy(), trust["trustee_id"].to_numpy())
    with caplog.at_level(logging.DEBUG, logger="socialvalue.social.pagerank"):
        ours = pagerank(g, alpha=0.85)
    assert any("GMRES" in r.getMessage() for r in caplog.records)
    nxg = nx.DiGraph()
    nxg.add_edges_from(zip(trust["truster_id"].tolist(), trust["trustee_id"].tolist(), strict=True))
    ref = nx.pagerank(nxg, 0.85, tol=1e-12, max_iter=1000)
    np.testing.assert_allclose(ours.to_numpy(), _as_array(ref, g), rtol=0, atol=1e-8)
    exact = pagerank_exact(g, alpha=0.85).to_numpy()
    assert np.abs(ours.to_numpy() - exact).sum() < g.n * 1e-12 * 0.85 / 0.15 * 2
