r"""Seed selection for influencer offers: IMM (with its guarantee), CELF greedy, and a comparison table.

IMM (Tang, Shi & Xiao 2015) picks ``k`` seeds by greedy maximum coverage over :math:`\theta` RR sets, with
:math:`\theta` set by martingale bounds so that, with probability at least :math:`1 - n^{-\ell}`,

.. math::

    \sigma(S_k) \ge \left(1 - \frac{1}{e} - \varepsilon\right) \mathrm{OPT}_k .

Sampling phase (their Algorithm 2): with :math:`\varepsilon' = \sqrt 2\,\varepsilon`,

.. math::

    \lambda' = \frac{(2 + \tfrac23 \varepsilon')\,\bigl(\ln\binom nk + \ell \ln n + \ln\log_2 n\bigr)\, n}
                    {\varepsilon'^2},

for :math:`i = 1, 2, \dots`: :math:`x = n / 2^i`, draw up to :math:`\lambda'/x` RR sets, select greedily,
and stop with :math:`LB = n F_R(S_i) / (1 + \varepsilon')` once :math:`n F_R(S_i) \ge (1 + \varepsilon')x`.
Then

.. math::

    \theta = \frac{\lambda^*}{LB}, \qquad
    \lambda^* = 2n \left((1 - \tfrac1e)\alpha + \beta\right)^2 \varepsilon^{-2}, \quad
    \alpha = \sqrt{\ell \ln n + \ln 2}, \quad
    \beta = \sqrt{(1 - \tfrac1e)\bigl(\ln\binom nk + \ell \ln n + \ln 2\bigr)},

with :math:`\ell` first raised to :math:`\ell (1 + \ln 2 / \ln n)`. Following Chen (2018), the final
:math:`\theta` sets are drawn afresh, independent of the sampling phase, which the martingale argument needs.

References
----------
.. [1] Tang, Y., Shi, Y. and Xiao, X. (2015). Influence maximization in near-linear time: a martingale
   approach. SIGMOD '15, 1539-1554 (Algorithms 1-3, Theorem 1).
.. [2] Chen, W. (2018). An issue in the martingale analysis of the influence maximization algorithm IMM.
   CSoNet 2018, LNCS 11280, 286-297.
.. [3] Leskovec, J., Krause, A., Guestrin, C., Faloutsos, C., VanBriesen, J. and Glance, N. (2007).
   Cost-effective outbreak detection in networks. KDD '07, 420-429 (CELF).
"""

from __future__ import annotations

import heapq
import logging
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.special import gammaln

from socialvalue.errors import ConfigError, NotFittedError
from socialvalue.social.cascade import (
    _check_prob,
    _rng,
    learn_edge_probabilities,
    simulate_spread,
    simulate_spread_each,
)
from socialvalue.social.graph import Graph
from socialvalue.social.pagerank import influence_pagerank
from socialvalue.social.rrsets import RRSets, _reverse, estimate_spread, sample_rr_sets

__all__ = ["IMMResult", "InfluenceModel", "celf_greedy", "compare_seed_strategies", "imm_select_seeds"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IMMResult:
    """Seeds chosen by IMM and the quantities behind the guarantee."""

    seeds: list[Any]
    spread: float  # n F_R(S) on the final RR sets (optimistic: the sets chose S)
    theta: int
    lower_bound: float  # LB of OPT from the sampling phase
    epsilon: float
    ell: float
    marginal_gains: list[float]


def _max_coverage(rr: RRSets, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Greedy maximum coverage: ``k`` node positions and the number of sets each newly covers."""
    theta, n = rr.theta, rr.n
    set_of = np.repeat(np.arange(theta), np.diff(rr.indptr))
    order = np.argsort(rr.nodes, kind="stable")
    node_sets = set_of[order]
    node_ptr = np.zeros(n + 1, dtype=np.int64)
    deg = np.bincount(rr.nodes, minlength=n).astype(np.int64)
    np.cumsum(deg, out=node_ptr[1:])
    covered = np.zeros(theta, dtype=bool)
    seeds = np.empty(k, dtype=np.int64)
    gains = np.empty(k, dtype=np.int64)
    for i in range(k):
        v = int(np.argmax(deg))
        seeds[i], gains[i] = v, max(deg[v], 0)
        sets = node_sets[node_ptr[v] : node_ptr[v + 1]]
        sets = sets[~covered[sets]]
        covered[sets] = True
        cnt = np.diff(rr.indptr)[sets]
        if cnt.size:
            c = np.cumsum(cnt)
            members = rr.nodes[np.repeat(rr.indptr[sets] - (c - cnt), cnt) + np.arange(int(c[-1]))]
            np.subtract.at(deg, members, 1)
        deg[v] = -1  # never again, even when every gain left is 0
    return seeds, gains


def _log_binom(n: int, k: int) -> float:
    return float(gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1))


def imm_select_seeds(
    graph: Graph,
    prob: Any,
    k: int,
    *,
    epsilon: float = 0.1,
    ell: float = 1.0,
    random_state: int | np.random.Generator | None = None,
    n_jobs: int = 1,
) -> IMMResult:
    r"""Pick ``k`` seeds with IMM: :math:`\sigma(S) \ge (1 - 1/e - \varepsilon)\,\mathrm{OPT}` w.p. :math:`\ge 1 - n^{-\ell}`.

    Parameters
    ----------
    graph
        The influence graph.
    prob
        Edge probabilities aligned with the graph's edges.
    k
        Number of seeds.
    epsilon
        Approximation slack :math:`\varepsilon`.
    ell
        Confidence exponent :math:`\ell` (failure probability :math:`n^{-\ell}`).
    random_state
        Seed or generator.
    n_jobs
        Threads drawing RR sets.

    Returns
    -------
    IMMResult
        Seeds (node ids, in greedy order), the coverage spread estimate, :math:`\theta` and the lower bound.
    """
    n = graph.n
    if not 1 <= k <= n:
        raise ConfigError(f"k must be in [1, n={n}], got {k}")
    if not 0 < epsilon < 1 or ell <= 0:
        raise ConfigError("epsilon must be in (0, 1) and ell > 0")
    rng = _rng(random_state)
    rev = _reverse(graph, prob)
    ln_n = math.log(max(n, 2))
    ell_adj = ell * (1 + math.log(2) / ln_n)
    lcnk = _log_binom(n, k)
    eps_p = math.sqrt(2) * epsilon
    log2n = math.log2(max(n, 2))
    lam_p = (2 + 2 * eps_p / 3) * (lcnk + ell_adj * ln_n + math.log(max(log2n, 1.0))) * n / eps_p**2
    lb = 1.0
    parts: list[RRSets] = []
    have = 0
    for i in range(1, max(2, math.ceil(log2n))):
        x = n / 2**i
        theta_i = math.ceil(lam_p / x)
        if theta_i > have:
            parts.append(
                sample_rr_sets(graph, prob, theta_i - have, random_state=rng, n_jobs=n_jobs, _rev=rev)
            )
            have = theta_i
        rr = RRSets.concat(parts)
        _, gains = _max_coverage(rr, k)
        est = n * gains.sum() / rr.theta
        if est >= (1 + eps_p) * x:
            lb = est / (1 + eps_p)
            break
    e1 = 1 - 1 / math.e
    alpha = math.sqrt(ell_adj * ln_n + math.log(2))
    beta = math.sqrt(e1 * (lcnk + ell_adj * ln_n + math.log(2)))
    lam_star = 2 * n * (e1 * alpha + beta) ** 2 / epsilon**2
    theta = math.ceil(lam_star / lb)
    logger.info("IMM: n=%d k=%d LB=%.1f theta=%d", n, k, lb, theta)
    rr = sample_rr_sets(graph, prob, theta, random_state=rng, n_jobs=n_jobs, _rev=rev)
    seeds, gains = _max_coverage(rr, k)
    return IMMResult(
        seeds=graph.ids[seeds].tolist(),
        spread=float(n * gains.sum() / theta),
        theta=theta,
        lower_bound=lb,
        epsilon=epsilon,
        ell=ell,
        marginal_gains=(n * gains / theta).tolist(),
    )


def celf_greedy(
    graph: Graph,
    prob: Any,
    k: int,
    *,
    n_sims: int = 2000,
    random_state: int | np.random.Generator | None = None,
) -> tuple[list[Any], float]:
    r"""Greedy seed selection with Monte-Carlo spread and lazy (CELF) re-evaluation; a baseline for small graphs.

    Marginal gains :math:`\sigma(S \cup \{v\}) - \sigma(S)` are submodular, so a stale gain is an upper bound
    and a node is re-simulated only when it tops the queue (Leskovec et al. 2007).

    Returns
    -------
    tuple
        Seed ids in greedy order and the Monte-Carlo spread of the final set.
    """
    p = _check_prob(graph, prob)
    rng = _rng(random_state)
    first = simulate_spread_each(graph, p, n_sims=n_sims, random_state=rng)["spread"].to_numpy()
    heap = [(-g, v, 0) for v, g in enumerate(first)]
    heapq.heapify(heap)
    chosen: list[int] = []
    current = 0.0
    while len(chosen) < k and heap:
        neg, v, rnd = heapq.heappop(heap)
        if rnd == len(chosen):
            chosen.append(v)
            current += -neg
            continue
        ids = graph.ids[[*chosen, v]]
        gain = simulate_spread(graph, p, ids, n_sims=n_sims, random_state=rng).mean - current
        heapq.heappush(heap, (-gain, v, len(chosen)))
    final = simulate_spread(graph, p, graph.ids[chosen], n_sims=n_sims, random_state=rng).mean
    return graph.ids[chosen].tolist(), final


def compare_seed_strategies(
    graph: Graph,
    prob: Any,
    k: int,
    *,
    epsilon: float = 0.1,
    ell: float = 1.0,
    evaluate: Literal["mc", "rr"] = "mc",
    n_eval: int = 10_000,
    include_celf: bool | None = None,
    imm: IMMResult | None = None,
    random_state: int | np.random.Generator | None = None,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """Spread of ``k`` seeds chosen by IMM, by follower count, by weighted degree, by influence PageRank (and CELF).

    Every seed set is evaluated on the same footing, independently of how it was chosen: by ``n_eval``
    Monte-Carlo cascades (``"mc"``) or ``n_eval`` fresh RR sets (``"rr"``, for large graphs). CELF is
    included by default on graphs of at most 500 nodes; pass ``imm`` to reuse an IMM result.

    Returns
    -------
    pandas.DataFrame
        One row per strategy: ``spread``, ``lower``, ``upper`` (95% interval), ``vs_imm`` (spread ratio to
        IMM's) and ``seeds`` (list of ids).
    """
    p = _check_prob(graph, prob)
    rng = _rng(random_state)
    if imm is None:
        imm = imm_select_seeds(graph, p, k, epsilon=epsilon, ell=ell, random_state=rng, n_jobs=n_jobs)
    deg = graph.out_degree()
    wdeg = graph.out_degree(weighted=True)
    pr = influence_pagerank(graph).to_numpy()
    # stable top-k: ties broken by position
    strategies: dict[str, list[Any]] = {
        "imm": imm.seeds,
        "top_followers": graph.ids[np.argsort(-deg, kind="stable")[:k]].tolist(),
        "top_weighted_degree": graph.ids[np.argsort(-wdeg, kind="stable")[:k]].tolist(),
        "top_pagerank": graph.ids[np.argsort(-pr, kind="stable")[:k]].tolist(),
    }
    if include_celf if include_celf is not None else graph.n <= 500:
        strategies["celf_mc"] = celf_greedy(graph, p, k, n_sims=2000, random_state=rng)[0]
    rows = []
    if evaluate not in ("mc", "rr"):
        raise ConfigError(f"evaluate must be 'mc' or 'rr', got {evaluate!r}")
    rr = sample_rr_sets(graph, p, n_eval, random_state=rng, n_jobs=n_jobs) if evaluate == "rr" else None
    for name, seeds in strategies.items():
        if rr is None:
            est = simulate_spread(graph, p, seeds, n_sims=n_eval, random_state=rng)
            mean, lo, hi = est.mean, est.lower, est.upper
        else:
            share = rr.coverage(graph.positions(seeds)) / rr.theta
            se = math.sqrt(share * (1 - share) / rr.theta)
            mean, lo, hi = graph.n * share, graph.n * (share - 1.96 * se), graph.n * (share + 1.96 * se)
        rows.append({"strategy": name, "spread": mean, "lower": lo, "upper": hi, "seeds": list(seeds)})
    out = pd.DataFrame(rows).set_index("strategy")
    out.insert(3, "vs_imm", out["spread"] / out.loc["imm", "spread"])
    return out


class InfluenceModel:
    r"""Independent-cascade influence of every customer: learn edge probabilities, estimate spread, pick seeds.

    Parameters
    ----------
    tau
        Propagation window for learning (same unit as the action times, or a Timedelta).
    method
        Goyal et al. estimator, ``"bernoulli"`` or ``"jaccard"``.
    n_sets
        RR sets for :meth:`spread` (``max(n, 10_000)`` if None).
    epsilon, ell
        IMM accuracy and confidence parameters for :meth:`select_seeds`.
    confidence
        Coverage of the spread intervals.
    random_state
        Seed for every random draw.
    n_jobs
        Threads drawing RR sets.

    Attributes
    ----------
    graph_
        The graph the model was fitted on.
    edge_prob_
        Learned edge table (see :func:`~socialvalue.social.cascade.learn_edge_probabilities`), ``p`` aligned
        with the graph's edges.

    Notes
    -----
    This model is not saved with a run (it has no ``to_json``), and scoring a later date with a run's models
    (:func:`socialvalue.pipeline.score_with_models`) fits it again on the graph and actions of that date, on
    purpose. Its edge probabilities are Goyal et al.'s frequency estimates over the propagation seen in the
    interaction window before the date (:math:`\hat p_{vu} = A_{v2u} / A_v`): a description of who has been
    passing actions on to whom lately, like the followers, 2-hop reach and PageRank of the graph at that
    date, not parameters that generalise across customers. They are keyed by pairs of customers, so saving
    them would store customer ids in the model table (which an erasure then has to rewrite), and they would
    say nothing about the edges formed since. What a run learns from the graph, and what scoring reuses
    unchanged, is the weight the customer social value gives to spread
    (:class:`~socialvalue.social.customer_value.CustomerSocialValue`, saved with the run).
    """

    def __init__(
        self,
        *,
        tau: Any = 1.0,
        method: Literal["bernoulli", "jaccard"] = "bernoulli",
        n_sets: int | None = None,
        epsilon: float = 0.1,
        ell: float = 1.0,
        confidence: float = 0.95,
        random_state: int | None = None,
        n_jobs: int = 1,
    ) -> None:
        self.tau = tau
        self.method = method
        self.n_sets = n_sets
        self.epsilon = epsilon
        self.ell = ell
        self.confidence = confidence
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, graph: Graph, actions: pd.DataFrame, **columns: str) -> InfluenceModel:
        """Learn edge probabilities from an actions log (``user_id, action_id, time`` or ``columns=``)."""
        self.graph_ = graph
        self.edge_prob_ = learn_edge_probabilities(
            graph, actions, tau=self.tau, method=self.method, **columns
        )
        return self

    def _check(self) -> np.ndarray:
        if not hasattr(self, "edge_prob_"):
            raise NotFittedError("InfluenceModel is not fitted; call fit(graph, actions) first")
        return self.edge_prob_["p"].to_numpy()

    def spread(self) -> pd.DataFrame:
        """Expected spread of every customer with intervals (see :func:`~socialvalue.social.rrsets.estimate_spread`)."""
        prob = self._check()
        return estimate_spread(
            self.graph_,
            prob,
            n_sets=self.n_sets,
            confidence=self.confidence,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        )

    def select_seeds(self, k: int) -> IMMResult:
        """The ``k`` customers of largest joint spread, by IMM."""
        prob = self._check()
        return imm_select_seeds(
            self.graph_,
            prob,
            k,
            epsilon=self.epsilon,
            ell=self.ell,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        )

    def compare(self, k: int, **kwargs: Any) -> pd.DataFrame:
        """IMM against top-k by degree and by PageRank (see :func:`compare_seed_strategies`)."""
        prob = self._check()
        return compare_seed_strategies(
            self.graph_,
            prob,
            k,
            epsilon=self.epsilon,
            ell=self.ell,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            **kwargs,
        )
