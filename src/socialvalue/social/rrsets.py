r"""Reverse-reachable (RR) sets: influence spread of every customer at once, with confidence bounds.

An RR set is drawn by picking a root :math:`r` uniformly at random and keeping every node that reaches
:math:`r` in a random live-edge graph (each edge ``v → u`` kept with probability :math:`p_{vu}`), i.e. a
cascade run backwards on the reverse CSR. Borgs et al. (2014, Observation 3.2) show that for any seed set
:math:`S`

.. math::

    \sigma(S) = n \cdot \Pr[S \cap R \neq \emptyset],

so with :math:`\theta` independent RR sets the count :math:`C_v` of sets containing ``v`` is exactly
:math:`\mathrm{Binomial}(\theta, \sigma(v)/n)` and

.. math::

    \hat\sigma(v) = n\, \frac{C_v}{\theta}

is unbiased. But part of :math:`C_v` is not information about influence at all: every set whose root is
``v`` contains ``v`` (a customer always "reaches" themselves), and the number of such sets is
:math:`\mathrm{Binomial}(\theta, 1/n)` noise around the known contribution :math:`1` to :math:`\sigma(v)`.
With :math:`\theta \approx n` a customer who reaches nobody gets :math:`\hat\sigma(v) \in \{0, 1, 2, \dots\}`
(Poisson(1)), i.e. estimates below 1 about a third of the time.

Here the known part is counted exactly and only the rest is estimated (a Rao–Blackwell / control-variate
step: the root is uniform and independent of the live-edge graph, so the event "root is v" can be
integrated out). With :math:`\sigma^-(v) = \sigma(v) - 1 = \sum_{u \ne v} \Pr[v \leadsto u]` the expected
number of *other* customers reached, and :math:`C^-_v` the number of sets whose root is not ``v`` that
contain ``v``,

.. math::

    \Pr[\text{root} \ne v,\ v \in R] = \frac{1}{n} \sum_{u \ne v} \Pr[v \leadsto u]
    = \frac{\sigma^-(v)}{n},
    \qquad C^-_v \sim \mathrm{Binomial}\!\left(\theta, \frac{\sigma^-(v)}{n}\right),

    \hat\sigma(v) = 1 + n \frac{C^-_v}{\theta} \;\ge\; 1,

still unbiased (Borgs et al. 2014, Obs. 3.2 applied to the roots :math:`u \ne v`; Tang et al. 2015,
Sec. 2.2, Lemma 1 and Corollary 1, for the same identity :math:`\mathbb{E}[F_R(S)] = \sigma(S)/n`), with a smaller variance
:math:`n^2 q(1-q)/\theta`, :math:`q = \sigma^-(v)/n`. Its interval is :math:`1 + n\,[\,\cdot\,]` of the exact
Clopper–Pearson interval of :math:`q` (per customer, or simultaneous over all customers with a Bonferroni
correction), so the lower bound is at least 1 by construction. The standard error is about
:math:`\sqrt{n\,\sigma^-(v)/\theta}`: 0 for a customer no sampled set reaches from elsewhere.

References
----------
.. [1] Borgs, C., Brautbar, M., Chayes, J. and Lucier, B. (2014). Maximizing social influence in nearly
   optimal time. SODA '14, 946-957.
.. [2] Tang, Y., Shi, Y. and Xiao, X. (2015). Influence maximization in near-linear time: a martingale
   approach. SIGMOD '15, 1539-1554.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from socialvalue.errors import ConfigError
from socialvalue.social.cascade import _batched, _check_prob, _rng
from socialvalue.social.graph import Graph

__all__ = ["RRSets", "estimate_spread", "sample_rr_sets"]


@dataclass(frozen=True)
class RRSets:
    """A collection of RR sets in CSR form: set ``j`` holds ``nodes[indptr[j]:indptr[j+1]]``."""

    n: int
    indptr: np.ndarray
    nodes: np.ndarray

    @property
    def theta(self) -> int:
        """Number of sets."""
        return int(self.indptr.shape[0] - 1)

    def node_counts(self) -> np.ndarray:
        """Number of sets containing each node."""
        return np.bincount(self.nodes, minlength=self.n)

    def coverage(self, seeds: np.ndarray) -> int:
        """Number of sets that contain at least one of the seed positions."""
        hit = np.isin(self.nodes, seeds)
        return int(np.unique(np.repeat(np.arange(self.theta), np.diff(self.indptr))[hit]).size)

    @staticmethod
    def concat(parts: list[RRSets]) -> RRSets:
        """Join collections drawn on the same graph."""
        sizes = np.concatenate([np.diff(p.indptr) for p in parts])
        indptr = np.zeros(sizes.size + 1, dtype=np.int64)
        np.cumsum(sizes, out=indptr[1:])
        return RRSets(parts[0].n, indptr, np.concatenate([p.nodes for p in parts]))


def _sample(
    rev: tuple[np.ndarray, np.ndarray, np.ndarray],
    n: int,
    theta: int,
    rng: np.random.Generator,
    n_jobs: int,
    *,
    members: bool = False,
    node_counts: bool = False,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Draw ``theta`` RR sets, split over ``n_jobs`` threads (numpy releases the GIL in the heavy kernels).

    Each thread gets its own generator spawned from ``rng``, so results depend on ``n_jobs``. With
    ``node_counts`` the third result has two rows: per node, the number of sets containing it and the number
    of sets *rooted* at it (a root is always in its own set).
    """
    indptr, indices, p = rev

    def run(args: tuple[int, np.random.Generator]) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        t, r = args
        roots = r.integers(0, n, t)
        sizes, keys, counts = _batched(
            indptr,
            indices,
            p,
            np.arange(t, dtype=np.int64),
            roots,
            t,
            n,
            r,
            members=members,
            node_counts=node_counts,
        )
        if counts is not None:
            counts = np.stack([counts, np.bincount(roots, minlength=n)])
        return sizes, keys, counts

    jobs = max(1, min(int(n_jobs), theta))
    if jobs == 1:
        return run((theta, rng))
    chunks = [theta // jobs + (i < theta % jobs) for i in range(jobs)]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        parts = list(pool.map(run, zip(chunks, rng.spawn(jobs), strict=True)))
    sizes = np.concatenate([q[0] for q in parts])
    keys = counts = None
    if members:
        # re-number each part's sets after the previous parts: key = set * n + node
        offs = np.cumsum([0, *chunks[:-1]])
        keys = np.concatenate([q[1] + o * n for q, o in zip(parts, offs, strict=True)])
    if node_counts:
        counts = np.sum([q[2] for q in parts], axis=0)
    return sizes, keys, counts


def _reverse(graph: Graph, prob: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return graph.rev_indptr, graph.rev_indices, _check_prob(graph, prob)[graph.rev_edge].astype(np.float32)


def sample_rr_sets(
    graph: Graph,
    prob: Any,
    theta: int,
    *,
    random_state: int | np.random.Generator | None = None,
    n_jobs: int = 1,
    _rev: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> RRSets:
    """Draw ``theta`` independent RR sets under the independent cascade with edge probabilities ``prob``.

    Parameters
    ----------
    graph
        The influence graph.
    prob
        Edge probabilities aligned with the graph's edges.
    theta
        Number of RR sets.
    random_state
        Seed or generator.
    n_jobs
        Threads drawing sets in parallel.

    Returns
    -------
    RRSets
        The sets (node positions), root first not guaranteed.
    """
    rng = _rng(random_state)
    rev = _rev if _rev is not None else _reverse(graph, prob)
    n = graph.n
    sizes, keys, _ = _sample(rev, n, theta, rng, n_jobs, members=True)
    ptr = np.zeros(theta + 1, dtype=np.int64)
    np.cumsum(sizes, out=ptr[1:])
    idx_t = np.int32 if n < 2**31 - 1 else np.int64
    return RRSets(n, ptr, (keys % n).astype(idx_t))


def estimate_spread(
    graph: Graph,
    prob: Any,
    *,
    n_sets: int | None = None,
    confidence: float = 0.95,
    simultaneous: bool = False,
    random_state: int | np.random.Generator | None = None,
    n_jobs: int = 1,
) -> pd.DataFrame:
    r"""Expected influence spread :math:`\sigma(v)` of every customer from RR-set sampling.

    The customer counts exactly once (:math:`\sigma(v) \ge 1` always); only the expected number of *other*
    customers reached is estimated (module docstring):

    .. math::

        \hat\sigma(v) = 1 + n \frac{C^-_v}{\theta}, \qquad
        C^-_v \sim \mathrm{Binomial}\!\left(\theta, \frac{\sigma(v) - 1}{n}\right).

    Parameters
    ----------
    graph
        The influence graph.
    prob
        Edge probabilities aligned with the graph's edges (e.g. from
        :func:`~socialvalue.social.cascade.learn_edge_probabilities`).
    n_sets
        Number :math:`\theta` of RR sets; ``max(n, 10_000)`` if None (standard error about
        :math:`\sqrt{\sigma(v) - 1}`).
    confidence
        Coverage of the Clopper–Pearson interval.
    simultaneous
        If True, the intervals hold for all customers at once (Bonferroni: level :math:`1 - \delta/n` each).
    random_state
        Seed or generator.
    n_jobs
        Threads drawing sets in parallel (each holds a visited bitmap of up to 256 MiB).

    Returns
    -------
    pandas.DataFrame
        Indexed by node id: ``spread`` (:math:`1 + n C^-_v / \theta`, at least 1), ``others``
        (:math:`n C^-_v / \theta`, the estimated part), ``lower``, ``upper`` (interval of the spread:
        1 plus the Clopper–Pearson interval of the others, so ``lower >= 1``; ``upper <= n``),
        ``std_error`` (of the estimated part, hence of the spread), ``rr_count`` (:math:`C_v`, sets
        containing v) and ``rr_count_others`` (:math:`C^-_v`, those not rooted at v).
        ``attrs["n_sets"]`` holds :math:`\theta`.

    References
    ----------
    .. [1] Borgs, C., Brautbar, M., Chayes, J. and Lucier, B. (2014). Maximizing social influence in nearly
       optimal time. SODA '14, Observation 3.2.
    .. [2] Tang, Y., Shi, Y. and Xiao, X. (2015). Influence maximization in near-linear time: a martingale
       approach. SIGMOD '15, Sec. 2.2.
    """
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence}")
    n = graph.n
    theta = int(n_sets) if n_sets is not None else max(n, 10_000)
    if theta < 1:
        raise ConfigError("n_sets must be >= 1")
    rng = _rng(random_state)
    _, _, both = _sample(_reverse(graph, prob), n, theta, rng, n_jobs, node_counts=True)
    counts, rooted = both[0], both[1]
    others = counts - rooted  # sets that reached v from another root: the only random part of sigma(v)
    delta = 1.0 - confidence
    if simultaneous:
        delta /= n
    c = others.astype(np.float64)
    lo, hi = np.zeros(n), np.ones(n)
    pos, full = c > 0, c < theta
    lo[pos] = stats.beta.ppf(delta / 2, c[pos], theta - c[pos] + 1)
    hi[full] = stats.beta.ppf(1 - delta / 2, c[full] + 1, theta - c[full])
    share = c / theta
    reach = n * share
    cap = float(max(n - 1, 0))  # at most every other customer
    out = pd.DataFrame(
        {
            "spread": 1.0 + reach,
            "others": reach,
            "lower": 1.0 + np.minimum(n * lo, cap),
            "upper": 1.0 + np.minimum(n * hi, cap),
            "std_error": n * np.sqrt(share * (1 - share) / theta),
            "rr_count": counts,
            "rr_count_others": others,
        },
        index=pd.Index(graph.ids, name="node"),
    )
    out.attrs["n_sets"] = theta
    return out
