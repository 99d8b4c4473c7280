"""Seed selection: greedy coverage, IMM against CELF greedy with Monte Carlo, and the comparison table."""

import math

import numpy as np
import pandas as pd
import pytest

from socialvalue.errors import ConfigError, NotFittedError
from socialvalue.social import (
    Graph,
    InfluenceModel,
    RRSets,
    celf_greedy,
    compare_seed_strategies,
    imm_select_seeds,
    simulate_action_log,
    simulate_spread,
)
from socialvalue.social.imm import _max_coverage


def _community_graph(seed=0):
    """Two dense communities with a few hubs, so that good seeds are spread out."""
    rng = np.random.default_rng(seed)
    n = 120
    src, dst = [], []
    for lo, hi in [(0, 60), (60, 120)]:
        s = rng.integers(lo, hi, 300)
        d = rng.integers(lo, hi, 300)
        src += s.tolist()
        dst += d.tolist()
    hubs = [3, 70]
    for h in hubs:
        lo = 0 if h < 60 else 60
        src += [h] * 25
        dst += rng.integers(lo, lo + 60, 25).tolist()
    g = Graph.from_edges(np.array(src), np.array(dst), nodes=np.arange(n))
    p = 1.0 / np.maximum(g.in_degree()[g.indices], 1)  # weighted cascade (Kempe et al. 2003)
    return g, p


def test_max_coverage_greedy():
    # sets: {0,1}, {1}, {1,2}, {3}, {3}
    rr = RRSets(4, np.array([0, 2, 3, 5, 6, 7]), np.array([0, 1, 1, 1, 2, 3, 3], dtype=np.int32))
    seeds, gains = _max_coverage(rr, 3)
    assert seeds.tolist()[:2] == [1, 3] and gains.tolist()[:2] == [3, 2]
    assert gains[2] == 0  # nothing left to cover
    assert rr.coverage(np.array([1, 3])) == 5


@pytest.mark.slow
def test_imm_reaches_guarantee_against_celf_greedy():
    """Tang et al. (2015), Theorem 1: sigma(S_imm) >= (1 - 1/e - eps) OPT >= (1 - 1/e - eps) sigma(S_celf)."""
    g, p = _community_graph()
    k, eps = 4, 0.2
    imm = imm_select_seeds(g, p, k, epsilon=eps, ell=1.0, random_state=1)
    celf_seeds, _ = celf_greedy(g, p, k, n_sims=2000, random_state=2)
    s_imm = simulate_spread(g, p, imm.seeds, n_sims=20_000, random_state=3)
    s_celf = simulate_spread(g, p, celf_seeds, n_sims=20_000, random_state=4)
    assert s_imm.mean >= (1 - 1 / math.e - eps) * s_celf.upper
    assert s_imm.mean >= 0.95 * s_celf.mean  # in practice IMM is as good as greedy
    assert len(set(imm.seeds)) == k
    # theta follows the martingale bound lambda*/LB with LB <= OPT
    assert imm.theta >= 1000 and 1 <= imm.lower_bound <= s_celf.upper / (1 - 1 / math.e - eps)
    assert imm.spread == pytest.approx(s_imm.mean, rel=0.1)


def test_compare_table_has_every_strategy():
    g, p = _community_graph(seed=3)
    table = compare_seed_strategies(g, p, 3, epsilon=0.3, n_eval=4000, include_celf=False, random_state=5)
    assert table.index.tolist() == ["imm", "top_followers", "top_weighted_degree", "top_pagerank"]
    assert table.loc["imm", "vs_imm"] == 1.0
    assert (table["lower"] <= table["spread"]).all() and (table["spread"] <= table["upper"]).all()
    assert all(len(s) == 3 for s in table["seeds"])
    rr = compare_seed_strategies(g, p, 3, epsilon=0.3, evaluate="rr", n_eval=50_000, random_state=5)
    # the two evaluations agree within their intervals
    assert abs(rr.loc["top_followers", "spread"] - table.loc["top_followers", "spread"]) < 1.5


def test_influence_model_end_to_end():
    rng = np.random.default_rng(0)
    n = 80
    parent = np.array([rng.integers(0, i) for i in range(1, n)])
    ids = np.array([f"c{i:02d}" for i in range(n)], dtype=object)
    g = Graph.from_edges(ids[parent], ids[1:], nodes=ids)
    p = rng.uniform(0.2, 0.8, g.m)
    log = simulate_action_log(g, p, 5000, random_state=1)
    model = InfluenceModel(tau=1.0, n_sets=20_000, epsilon=0.3, random_state=2)
    with pytest.raises(NotFittedError):
        model.spread()
    assert model.fit(g, log) is model
    assert np.abs(model.edge_prob_["p"].to_numpy() - p).mean() < 0.05
    spread = model.spread()
    assert spread.index[0] == "c00" and spread.loc["c00", "spread"] == spread["spread"].max()
    res = model.select_seeds(2)
    assert res.seeds[0] == "c00"  # the root reaches everything downstream
    assert isinstance(model.compare(2, n_eval=2000), pd.DataFrame)
    with pytest.raises(ConfigError):
        imm_select_seeds(g, p, 0)
