"""Social value of customers: the influence graph and its algorithms, referral and influence value.

Graph algorithms (pure numpy/scipy): :class:`Graph`, :func:`influence_edges`, :func:`pagerank`,
:func:`influence_pagerank`, :func:`reach`, :func:`followers`, independent-cascade edge probabilities
(:func:`learn_edge_probabilities`), Monte-Carlo spread (:func:`simulate_spread`), reverse-reachable-set
spread estimates for every customer (:func:`estimate_spread`) and seed selection (:func:`imm_select_seeds`,
:func:`celf_greedy`, :func:`compare_seed_strategies`, :class:`InfluenceModel`).

Value through others: referral value (:func:`referral_value`), influence value (:func:`influence_value`),
interaction, content and loyalty scores, and the learned :class:`CustomerSocialValue`; evidence on real data
(:func:`neighbour_activity_benchmark`).
"""

from __future__ import annotations

from socialvalue.social.cascade import (
    SpreadEstimate,
    learn_edge_probabilities,
    simulate_action_log,
    simulate_spread,
    simulate_spread_each,
)
from socialvalue.social.customer_value import CustomerSocialValue, SocialValueReport, holdout_target
from socialvalue.social.engagement import EngagementConfig, content_score, interaction_score, loyalty_score
from socialvalue.social.graph import Graph, influence_edges
from socialvalue.social.imm import (
    IMMResult,
    InfluenceModel,
    celf_greedy,
    compare_seed_strategies,
    imm_select_seeds,
)
from socialvalue.social.influence_value import InfluenceConfig, influence_value
from socialvalue.social.pagerank import influence_pagerank, pagerank, pagerank_exact
from socialvalue.social.reach import followers, reach
from socialvalue.social.referral import ReferralConfig, estimate_type_one_share, referral_value
from socialvalue.social.rrsets import RRSets, estimate_spread, sample_rr_sets
from socialvalue.social.validation import (
    NeighbourBenchmarkConfig,
    ValidationResult,
    neighbour_activity_benchmark,
)

__all__ = [
    "CustomerSocialValue",
    "EngagementConfig",
    "Graph",
    "IMMResult",
    "InfluenceConfig",
    "InfluenceModel",
    "NeighbourBenchmarkConfig",
    "RRSets",
    "ReferralConfig",
    "SocialValueReport",
    "SpreadEstimate",
    "ValidationResult",
    "celf_greedy",
    "compare_seed_strategies",
    "content_score",
    "estimate_spread",
    "estimate_type_one_share",
    "followers",
    "holdout_target",
    "imm_select_seeds",
    "influence_edges",
    "influence_pagerank",
    "influence_value",
    "interaction_score",
    "learn_edge_probabilities",
    "loyalty_score",
    "neighbour_activity_benchmark",
    "pagerank",
    "pagerank_exact",
    "reach",
    "referral_value",
    "sample_rr_sets",
    "simulate_action_log",
    "simulate_spread",
    "simulate_spread_each",
]
