"""Customers of the demo business: signups, latent BG/NBD + Gamma-Gamma parameters, purchases, referrals.

All times are float days since ``start``; ``horizon`` is the length of the observed history in days.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.special import ndtri

from socialvalue.demo._sampling import Groups, grouped_cumsum
from socialvalue.demo.config import DemoConfig

__all__ = ["CHANNELS", "DEATH_CAP_DAYS", "Population", "simulate_population"]

CHANNELS: tuple[str, ...] = ("organic", "paid", "referral", "social")
#: Churn times beyond ``end`` are simulated, not observed; they are capped this many days after ``end``.
DEATH_CAP_DAYS = 36_500.0


@dataclass
class Population:
    """Per-customer arrays (index = customer number, in signup order) and the base purchase stream."""

    horizon: float
    signup: np.ndarray  # days
    channel: np.ndarray  # index into CHANNELS
    country: np.ndarray  # index into config.countries
    consent_marketing: np.ndarray
    consent_profiling: np.ndarray
    lam: np.ndarray  # purchase rate per day while alive
    p_drop: np.ndarray  # dropout probability after each repeat purchase
    nu: np.ndarray  # Gamma-Gamma rate of the customer's spend
    is_buyer: np.ndarray
    first: np.ndarray  # first purchase (nan for non-buyers)
    death: np.ndarray  # churn time (nan for non-buyers; > horizon when alive at the end)
    n_repeat: np.ndarray  # repeat purchases observed before the horizon
    social_end: np.ndarray  # when social activity starts to fade (churn, or dormancy of non-buyers)
    influence: np.ndarray  # latent influence strength (mean 1)
    popularity: np.ndarray  # Pareto attractiveness in the follower graph
    community: np.ndarray
    is_creator: np.ndarray
    referrer: np.ndarray  # customer number of the referrer, -1 if none
    order_customer: np.ndarray  # base purchases (first + repeat), sorted by customer then time
    order_time: np.ndarray

    @cached_property
    def groups(self) -> Groups:
        """Customers grouped by community."""
        return Groups(self.community)

    @property
    def n(self) -> int:
        """Number of customers."""
        return len(self.signup)


def _signups(rng: np.random.Generator, n: int, horizon: float, growth: float) -> np.ndarray:
    # Intensity ∝ 1 + g x on x = t / horizon in [0, 1]; invert F(x) = (x + g x²/2) / (1 + g/2).
    u = rng.random(n)
    x = u if growth == 0 else (np.sqrt(1.0 + 2.0 * growth * u * (1.0 + growth / 2.0)) - 1.0) / growth
    return np.sort(x * horizon)


def _purchases(rng: np.random.Generator, pop: dict, cfg: DemoConfig, horizon: float) -> None:
    """BG/NBD: Poisson(lambda) purchases after the first; after each repeat purchase dropout w.p. p.

    Given ``N`` Poisson events in the window ``D`` after the first purchase, their times are uniform order
    statistics; with ``K ~ Geometric(p)`` the repeat purchase that ends the customer's life, only the first
    ``m = min(N, K)`` are needed. They are drawn as ``U_(k) = S_k / S_{N+1}`` (``S`` cumulative sums of unit
    exponentials) with ``S_{N+1} = S_m + Gamma(N + 1 - m)``, so no event past the churn is ever generated.
    """
    n = len(pop["signup"])
    lam = np.maximum(rng.gamma(cfg.r, 1.0 / cfg.alpha, n), 1e-12)
    p_drop = np.clip(rng.beta(cfg.a, cfg.b, n), 1e-9, 1.0)
    nu = rng.gamma(cfg.gg_q, 1.0 / cfg.gg_v, n)
    first = pop["signup"] + rng.exponential(cfg.first_purchase_delay_days, n)
    is_buyer = (rng.random(n) < cfg.buyer_share) & (first < horizon)
    window = np.where(is_buyer, horizon - first, 0.0)
    n_window = rng.poisson(lam * window)
    k_death = rng.geometric(p_drop)
    m = np.where(is_buyer, np.minimum(n_window, k_death), 0)

    owner = np.repeat(np.arange(n), m)
    steps = grouped_cumsum(rng.exponential(size=int(m.sum())), m)
    has = m > 0
    ends = np.cumsum(m)[has] - 1
    total = np.zeros(n)
    total[has] = steps[ends] + rng.gamma((n_window - m + 1)[has].astype(float))
    times = first[owner] + window[owner] * steps / total[owner]

    dead_inside = is_buyer & (k_death <= n_window) & has
    death = np.full(n, np.nan)
    last = np.full(n, np.nan)
    last[has] = times[ends]
    death[dead_inside] = last[dead_inside]
    later = is_buyer & ~dead_inside
    # Memoryless: the K-th event comes after K - N more exponential gaps past the horizon.
    extra = rng.gamma((k_death - n_window)[later].astype(float), 1.0 / lam[later])
    death[later] = np.minimum(horizon + extra, horizon + DEATH_CAP_DAYS)

    buyers = np.flatnonzero(is_buyer)
    order_customer = np.concatenate([buyers, owner])
    order_time = np.concatenate([first[buyers], times])
    sort = np.lexsort((order_time, order_customer))
    pop.update(
        lam=lam,
        p_drop=p_drop,
        nu=nu,
        is_buyer=is_buyer,
        first=np.where(is_buyer, first, np.nan),
        death=death,
        n_repeat=m,
        order_customer=order_customer[sort],
        order_time=order_time[sort],
    )


def _referrers(rng: np.random.Generator, pop: dict, rounds: int = 10) -> np.ndarray:
    """Referrer of each referral-channel customer: an earlier, alive buyer, chosen ∝ lambda * (1 + influence).

    Customers are in signup order, so "earlier" is "lower index" and a prefix sum of weights samples among
    them. A draw whose referrer was not yet a buyer or already churned is redrawn; after ``rounds`` failures
    the customer is re-labelled organic by the caller.
    """
    signup, first, death = pop["signup"], pop["first"], pop["death"]
    weight = np.where(pop["is_buyer"], pop["lam"] * (1.0 + pop["influence"]), 0.0)
    cum = np.cumsum(weight)
    referrer = np.full(len(signup), -1)
    todo = np.flatnonzero(pop["channel"] == CHANNELS.index("referral"))
    todo = todo[todo > 0]
    todo = todo[cum[todo - 1] > 0]
    for _ in range(rounds):
        if not len(todo):
            break
        pick = np.searchsorted(cum, rng.random(len(todo)) * cum[todo - 1], side="right")
        pick = np.minimum(pick, todo - 1)
        t = signup[todo]
        ok = (first[pick] <= t) & (death[pick] > t)
        referrer[todo[ok]] = pick[ok]
        todo = todo[~ok]
    return referrer


def _communities(rng: np.random.Generator, pop: dict, cfg: DemoConfig) -> np.ndarray:
    n = len(pop["signup"])
    k = max(1, n // cfg.community_size)
    sizes = rng.lognormal(0.0, 0.7, k)
    base = rng.choice(k, size=n, p=sizes / sizes.sum())
    referrer = pop["referrer"]
    inherit = (referrer >= 0) & (rng.random(n) < cfg.referral_inherit_community)
    root = np.arange(n)
    root[inherit] = referrer[inherit]
    while True:  # pointer jumping: O(log depth) passes over the referral trees
        nxt = root[root]
        if np.array_equal(nxt, root):
            break
        root = nxt
    return base[root]


def simulate_population(rng: np.random.Generator, n: int, horizon: float, cfg: DemoConfig) -> Population:
    """Simulate customers, their latent parameters, base purchases, referrals and communities."""
    pop: dict = {"signup": _signups(rng, n, horizon, cfg.signup_growth)}
    shares = np.array([cfg.channel_shares.get(c, 0.0) for c in CHANNELS])
    pop["channel"] = rng.choice(len(CHANNELS), size=n, p=shares / shares.sum())
    country_p = np.array(list(cfg.countries.values()))
    pop["country"] = rng.choice(len(country_p), size=n, p=country_p / country_p.sum())
    pop["consent_marketing"] = rng.random(n) < cfg.consent_marketing
    pop["consent_profiling"] = rng.random(n) < cfg.consent_profiling
    _purchases(rng, pop, cfg, horizon)

    # Popularity is Pareto (heavy-tailed in-degree); influence strength is log-normal, mildly correlated.
    # A Gaussian copula (correlation 0.4) links them without letting the Pareto tail leak into strength.
    u = rng.random(n)
    pop["popularity"] = (1.0 - u) ** (-1.0 / cfg.popularity_tail)
    z = 0.4 * ndtri(u) + np.sqrt(1.0 - 0.16) * rng.standard_normal(n)
    pop["influence"] = np.exp(cfg.influence_sigma * z - cfg.influence_sigma**2 / 2.0)

    pop["referrer"] = _referrers(rng, pop)
    unreferred = (pop["channel"] == CHANNELS.index("referral")) & (pop["referrer"] < 0)
    pop["channel"][unreferred] = CHANNELS.index("organic")
    pop["community"] = _communities(rng, pop, cfg)

    creator_score = pop["popularity"] ** 0.6
    creator_p = np.minimum(1.0, cfg.creator_share * creator_score / creator_score.mean())
    pop["is_creator"] = rng.random(n) < creator_p
    dormant = pop["signup"] + rng.exponential(cfg.nonbuyer_active_days, n)
    pop["social_end"] = np.where(pop["is_buyer"], pop["death"], dormant)
    return Population(horizon=horizon, **pop)
