"""The demo follower graph: communities, preferential attachment by popularity, follow-backs, friendships.

A social customer follows ``1 + Poisson`` accounts (log-normal mixing). Each tie picks its target inside the
follower's community with probability proportional to the target's Pareto popularity (a fitness model of
preferential attachment, whose in-degree tail inherits the Pareto tail), except a few ties that cross to any
community. Ties begin after both ends have signed up; some are followed back, some end (unfollow).
Friendships are reciprocal ties inside communities, stored as two rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from socialvalue.demo._population import Population
from socialvalue.demo._sampling import Csr
from socialvalue.demo.config import DemoConfig

__all__ = ["Graph", "simulate_graph"]


@dataclass
class Graph:
    """Directed ties (customer numbers, times in days; ``ended`` nan while the tie lasts)."""

    n: int
    follow_src: np.ndarray
    follow_dst: np.ndarray
    follow_created: np.ndarray
    follow_ended: np.ndarray
    friend_src: np.ndarray  # both directions of each friendship
    friend_dst: np.ndarray
    friend_created: np.ndarray

    @cached_property
    def followers(self) -> Csr:
        """Follow ties grouped by the followed customer."""
        return Csr(self.follow_dst, self.n)

    @cached_property
    def following(self) -> Csr:
        """Follow ties grouped by the follower."""
        return Csr(self.follow_src, self.n)


def _dedupe(n: int, src: np.ndarray, dst: np.ndarray, *cols: np.ndarray) -> tuple[np.ndarray, ...]:
    keep = src != dst
    src, dst, cols = src[keep], dst[keep], tuple(c[keep] for c in cols)
    _, first = np.unique(src.astype(np.int64) * n + dst, return_index=True)
    return (src[first], dst[first], *(c[first] for c in cols))


def simulate_graph(rng: np.random.Generator, pop: Population, cfg: DemoConfig) -> Graph:
    """Simulate follow ties (with follow-backs, referral follows, unfollows) and friendships."""
    n, horizon, signup, comm = pop.n, pop.horizon, pop.signup, pop.community
    social = rng.random(n) < cfg.social_share
    mixing = rng.lognormal(-0.32, 0.8, n)  # mean ≈ 1
    out_degree = np.where(social, 1 + rng.poisson(max(cfg.mean_following - 1.0, 0.0) * mixing), 0)
    src = np.repeat(np.arange(n), out_degree)
    cross = rng.random(len(src)) < cfg.cross_community_share
    dst = np.empty_like(src)
    dst[~cross] = pop.groups.weighted_pick(rng, pop.popularity, comm[src[~cross]])
    cum = np.cumsum(pop.popularity)
    dst[cross] = np.minimum(np.searchsorted(cum, rng.random(int(cross.sum())) * cum[-1], side="right"), n - 1)
    created = np.maximum(signup[src], signup[dst]) + rng.exponential(cfg.follow_delay_days, len(src))

    # Follow-backs inside communities.
    back = ~cross & (rng.random(len(src)) < cfg.follow_back_share)
    back_created = created[back] + rng.exponential(5.0, int(back.sum()))
    # A referred customer often follows the referrer at signup.
    referred = np.flatnonzero((pop.referrer >= 0) & (rng.random(n) < cfg.referral_follow_share))
    ref_created = signup[referred] + rng.exponential(1.0, len(referred))

    src, dst = (
        np.concatenate([src, dst[back], referred]),
        np.concatenate([dst, src[back], pop.referrer[referred]]),
    )
    created = np.concatenate([created, back_created, ref_created])
    keep = created < horizon
    src, dst, created = _dedupe(n, src[keep], dst[keep], created[keep])

    # Unfollows: some at random, more after the follower churned.
    ended = np.full(len(src), np.nan)
    quit_random = rng.random(len(src)) < cfg.unfollow_share
    ended[quit_random] = created[quit_random] + rng.exponential(180.0, int(quit_random.sum()))
    gone = (pop.social_end[src] < horizon) & (rng.random(len(src)) < 0.3)
    after_churn = np.maximum(created[gone], pop.social_end[src][gone]) + rng.exponential(
        60.0, int(gone.sum())
    )
    ended[gone] = np.fmin(ended[gone], after_churn)
    ended[ended >= horizon] = np.nan

    # Friendships: uniform partners inside the community, one row per direction.
    n_friends = np.where(social, rng.poisson(cfg.friends_mean, n), 0)
    a = np.repeat(np.arange(n), n_friends)
    b = pop.groups.pick(rng, comm[a])
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    lo, hi = _dedupe(n, lo, hi)
    f_created = np.maximum(signup[lo], signup[hi]) + rng.exponential(60.0, len(lo))
    keep = f_created < horizon
    lo, hi, f_created = lo[keep], hi[keep], f_created[keep]
    return Graph(
        n=n,
        follow_src=src,
        follow_dst=dst,
        follow_created=created,
        follow_ended=ended,
        friend_src=np.concatenate([lo, hi]),
        friend_dst=np.concatenate([hi, lo]),
        friend_created=np.concatenate([f_created, f_created]),
    )
