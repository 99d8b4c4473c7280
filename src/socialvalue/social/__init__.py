"""Social value of customers: the influence graph and its algorithms, referral and influence value.

Graph algorithms (pure numpy/scipy): :class:`Graph`, :func:`influence_edges`, :func:`pagerank`,
:func:`influence_pagerank`, :func:`reach`, :func:`followers`, independent-cascade edge probabilities
(:func:`learn_edge_probabilities`), Monte-Carlo spread (:func:`simulate_spread`), reverse-reachable-set
spread estimates for every customer (:func:`estimate_spread`) and seed selection (:func:`imm_select_seeds`,
:func:`celf_greedy`, :func:`compare_seed_strategies`, :class:`InfluenceModel`).
"""

from __future__ import annotations

from socialvalue.social.cascade import (
    SpreadEstimate,
    learn_edge_probabilities,
    simulate_action_log,
    simulate_spread,
    simulate_spread_each,
)
from socialvalue.social.graph import Graph, influence_edges
from socialvalue.social.imm import (
    IMMResult,
    InfluenceModel,
    celf_greedy,
    compare_seed_strategies,
    imm_select_seeds,
)
from socialvalue.social.pagerank import influence_pagerank, pagerank, pagerank_exact
from socialvalue.social.reach import followers, reach
from socialvalue.social.rrsets import RRSets, estimate_spread, sample_rr_sets

__all__ = [
    "Graph",
    "IMMResult",
    "InfluenceModel",
    "RRSets",
    "SpreadEstimate",
    "celf_greedy",
    "compare_seed_strategies",
    "estimate_spread",
    "followers",
    "imm_select_seeds",
    "influence_edges",
    "influence_pagerank",
    "learn_edge_probabilities",
    "pagerank",
    "pagerank_exact",
    "reach",
    "sample_rr_sets",
    "simulate_action_log",
    "simulate_spread",
    "simulate_spread_each",
]
