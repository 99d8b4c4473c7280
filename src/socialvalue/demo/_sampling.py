"""Vectorised sampling helpers of the demo generator (numpy only, no loop over customers)."""

from __future__ import annotations

import numpy as np

__all__ = [
    "Csr",
    "Groups",
    "alive_weight",
    "grouped_cumsum",
    "truncated_exponential",
]


class Csr:
    """Edges grouped by a key node (compressed sparse rows): ``order[indptr[v]:indptr[v + 1]]`` are v's edges.

    Parameters
    ----------
    keys
        The grouping node of each edge (e.g. ``dst`` to list a customer's followers).
    n
        Number of nodes.
    """

    def __init__(self, keys: np.ndarray, n: int) -> None:
        self.order = np.argsort(keys)
        counts = np.bincount(keys, minlength=n)
        self.indptr = np.zeros(n + 1, np.int64)
        np.cumsum(counts, out=self.indptr[1:])
        self.degree = counts

    def sample(self, rng: np.random.Generator, nodes: np.ndarray) -> np.ndarray:
        """One edge index per entry of ``nodes``, uniform among the node's edges (nodes need degree > 0)."""
        offset = np.floor(rng.random(len(nodes)) * self.degree[nodes]).astype(np.int64)
        return self.order[self.indptr[nodes] + offset]


def grouped_cumsum(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Cumulative sums restarting at each group of ``counts`` consecutive values."""
    padded = np.concatenate(([0.0], np.cumsum(values)))
    starts = np.cumsum(counts) - counts  # elements before each group
    return padded[1:] - np.repeat(padded[starts], counts)


class Groups:
    """Items partitioned into groups (e.g. customers into communities), for fast draws inside a group.

    Parameters
    ----------
    group_of
        Group of every item (items are ``0..n-1``, groups ``0..g-1``).
    """

    def __init__(self, group_of: np.ndarray) -> None:
        self.order = np.argsort(group_of)
        self.counts = np.bincount(group_of)
        self.ends = np.cumsum(self.counts)
        self.starts = self.ends - self.counts

    def pick(self, rng: np.random.Generator, draw_groups: np.ndarray) -> np.ndarray:
        """One member of each group in ``draw_groups``, drawn uniformly."""
        offset = np.floor(rng.random(len(draw_groups)) * self.counts[draw_groups]).astype(np.int64)
        return self.order[self.starts[draw_groups] + offset]

    def weighted_pick(
        self, rng: np.random.Generator, weights: np.ndarray, draw_groups: np.ndarray
    ) -> np.ndarray:
        """One member of each group in ``draw_groups``, drawn with probability ∝ ``weights`` (positive)."""
        cum = np.concatenate(([0.0], np.cumsum(weights[self.order])))
        lo, hi = cum[self.starts[draw_groups]], cum[self.ends[draw_groups]]
        pos = np.searchsorted(cum, lo + rng.random(len(draw_groups)) * (hi - lo), side="right") - 1
        # guard float round-off at a group's edges
        pos = np.clip(pos, self.starts[draw_groups], self.ends[draw_groups] - 1)
        return self.order[pos]


def truncated_exponential(rng: np.random.Generator, mean: float, upper: float, size: int) -> np.ndarray:
    """Exponential delays with the given ``mean``, conditioned to fall below ``upper`` (inverse CDF)."""
    mass = -np.expm1(-upper / mean)
    return -mean * np.log1p(-rng.random(size) * mass)


def alive_weight(t: np.ndarray, end_at: np.ndarray, decay_days: float) -> np.ndarray:
    """Activity intensity multiplier: 1 before ``end_at`` (churn), ``exp(-(t - end_at) / decay)`` after."""
    return np.exp(-np.clip(t - end_at, 0.0, None) / decay_days)
