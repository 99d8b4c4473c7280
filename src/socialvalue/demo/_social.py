"""Demo content, interactions and influence-caused purchases.

* Content: a minority of creators (more likely the more popular) post ``post``/``photo``/``video`` items at a
  log-normal rate; buyers review a share of their purchases (rating, helpful votes, product). Views scale with
  the author's followers.
* Interactions: likes, comments and shares on content come mostly from the author's followers, in numbers
  proportional to views, more often from frequent buyers; every content item is a ``post``/``review`` event, some posts ``mention`` a
  followee, every follow tie is a ``follow`` event, and customers ``click`` marketing links at a rate rising
  with their purchase rate. After churn a customer's activity fades as ``exp(-(t - churn) / decay)``.
* Influence: each content item and share of a customer exposes the customer's current followers. With
  latent strength ``s_i`` an exposure makes each follower buy with probability ``c s_i`` within a window;
  conversions of dead, not-yet-buying or no-longer-following customers do not happen. These purchases are
  additional to each follower's BG/NBD stream and are recorded as ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from socialvalue.demo._graph import Graph
from socialvalue.demo._population import Population
from socialvalue.demo._sampling import Csr, alive_weight, truncated_exponential
from socialvalue.demo.config import DemoConfig

__all__ = [
    "CONTENT_KINDS",
    "INTERACTION_CHANNELS",
    "INTERACTION_KINDS",
    "Content",
    "Influence",
    "Interactions",
    "simulate_content",
    "simulate_influence",
    "simulate_interactions",
]

CONTENT_KINDS: tuple[str, ...] = ("post", "photo", "video", "review")
INTERACTION_KINDS: tuple[str, ...] = (
    "like",
    "comment",
    "share",
    "follow",
    "review",
    "post",
    "mention",
    "click",
)
INTERACTION_CHANNELS: tuple[str, ...] = ("app", "web", "email")
_RATING_P = np.array([0.05, 0.06, 0.12, 0.30, 0.47])
_REVIEW = CONTENT_KINDS.index("review")


@dataclass
class Content:
    """Content items sorted by creation time; ``-1`` / nan mark missing values."""

    author: np.ndarray
    kind: np.ndarray
    created: np.ndarray
    rating: np.ndarray
    helpful_votes: np.ndarray
    views: np.ndarray
    product: np.ndarray


@dataclass
class Interactions:
    """Interaction events sorted by time; ``target`` / ``content`` are ``-1`` when absent."""

    actor: np.ndarray
    target: np.ndarray
    content: np.ndarray
    kind: np.ndarray
    channel: np.ndarray
    time: np.ndarray


@dataclass
class Influence:
    """Purchases caused by exposure to an influencer (one row per caused purchase)."""

    influencer: np.ndarray
    influenced: np.ndarray
    content: np.ndarray
    exposure_time: np.ndarray
    purchase_time: np.ndarray
    amount: np.ndarray


def simulate_content(rng: np.random.Generator, pop: Population, graph: Graph, cfg: DemoConfig) -> Content:
    """Creator posts and purchase reviews, with views and helpful votes."""
    horizon = pop.horizon
    creators = np.flatnonzero(pop.is_creator)
    rate = cfg.posts_per_day * rng.lognormal(-0.5, 1.0, len(creators))
    span = horizon - pop.signup[creators]
    author = np.repeat(creators, rng.poisson(rate * span))
    created = pop.signup[author] + rng.random(len(author)) * (horizon - pop.signup[author])
    keep = rng.random(len(author)) < alive_weight(created, pop.social_end[author], cfg.churn_decay_days)
    author, created = author[keep], created[keep]
    kind_p = np.array([cfg.content_kind_shares.get(k, 0.0) for k in CONTENT_KINDS[:3]])
    kind = rng.choice(3, size=len(author), p=kind_p / kind_p.sum())

    reviewed = rng.random(len(pop.order_time)) < cfg.review_share
    r_author = pop.order_customer[reviewed]
    r_created = pop.order_time[reviewed] + rng.exponential(7.0, int(reviewed.sum()))
    keep = r_created < horizon
    r_author, r_created = r_author[keep], r_created[keep]

    author = np.concatenate([author, r_author])
    created = np.concatenate([created, r_created])
    kind = np.concatenate([kind, np.full(len(r_author), _REVIEW)])
    sort = np.argsort(created)
    author, created, kind = author[sort], created[sort], kind[sort]
    is_review = kind == _REVIEW
    m = len(author)

    rating = np.full(m, np.nan)
    rating[is_review] = rng.choice(5, size=int(is_review.sum()), p=_RATING_P) + 1.0
    product_p = 1.0 / np.arange(1, cfg.n_products + 1) ** 1.1
    product = np.full(m, -1)
    product[is_review] = rng.choice(cfg.n_products, size=int(is_review.sum()), p=product_p / product_p.sum())
    followers = np.bincount(graph.follow_dst, minlength=pop.n)
    reach = np.array([cfg.reach[k] for k in CONTENT_KINDS])[kind]
    expected = reach * (2.0 * followers[author] + 10.0) * rng.lognormal(-0.245, 0.7, m)
    views = rng.poisson(expected) + np.where(is_review, rng.poisson(10.0, m), 0)
    helpful = np.where(is_review, rng.poisson(0.05 * views * rng.lognormal(-0.125, 0.5, m)), -1)
    return Content(author, kind, created, rating, helpful, views, product)


def _engagement(
    rng: np.random.Generator, pop: Population, graph: Graph, content: Content, cfg: DemoConfig, by_dst: Csr
) -> tuple[np.ndarray, ...]:
    # Frequent buyers engage more: candidate engagements are thinned by the actor's propensity, and drawn
    # 1 / mean(propensity) times more often so the rates stay per view.
    propensity = np.minimum(1.0, np.sqrt(pop.lam / pop.lam.mean()) / 2.0)
    boost = 1.0 / propensity.mean()
    rates = {"like": cfg.like_rate, "comment": cfg.comment_rate, "share": cfg.share_rate}
    counts = [rng.poisson(content.views * rate * boost) for rate in rates.values()]
    item = np.concatenate([np.repeat(np.arange(len(content.author)), c) for c in counts])
    kind = np.concatenate(
        [np.full(int(c.sum()), INTERACTION_KINDS.index(k)) for k, c in zip(rates, counts, strict=True)]
    )
    author = content.author[item]
    time = content.created[item] + rng.exponential(1.5, len(item))
    from_followers = (by_dst.degree[author] > 0) & (rng.random(len(item)) < 0.8)
    actor = np.empty_like(author)
    actor[from_followers] = graph.follow_src[by_dst.sample(rng, author[from_followers])]
    others = ~from_followers
    actor[others] = pop.groups.pick(rng, pop.community[author[others]])
    keep = (
        (time < pop.horizon)
        & (pop.signup[actor] <= time)
        & (actor != author)
        & (
            rng.random(len(item))
            < propensity[actor] * alive_weight(time, pop.social_end[actor], cfg.churn_decay_days)
        )
    )
    return actor[keep], author[keep], item[keep], kind[keep], time[keep]


def simulate_interactions(
    rng: np.random.Generator, pop: Population, graph: Graph, content: Content, cfg: DemoConfig
) -> Interactions:
    """Likes, comments, shares, posts, reviews, mentions, follows and clicks."""
    n, horizon = pop.n, pop.horizon
    parts = [_engagement(rng, pop, graph, content, cfg, graph.followers)]

    items = np.arange(len(content.author))
    own_kind = np.where(
        content.kind == _REVIEW, INTERACTION_KINDS.index("review"), INTERACTION_KINDS.index("post")
    )
    parts.append((content.author, np.full(len(items), -1), items, own_kind, content.created))

    # Mentions of a followee (or a community member) in posts.
    mentions = items[(content.kind != _REVIEW) & (rng.random(len(items)) < cfg.mention_share)]
    author = content.author[mentions]
    by_src = graph.following
    has = by_src.degree[author] > 0
    target = np.empty_like(author)
    target[has] = graph.follow_dst[by_src.sample(rng, author[has])]
    target[~has] = pop.groups.pick(rng, pop.community[author[~has]])
    ok = (target != author) & (pop.signup[target] <= content.created[mentions])
    parts.append(
        (
            author[ok],
            target[ok],
            mentions[ok],
            np.full(int(ok.sum()), INTERACTION_KINDS.index("mention")),
            content.created[mentions][ok],
        )
    )

    follows = len(graph.follow_src)
    parts.append(
        (
            graph.follow_src,
            graph.follow_dst,
            np.full(follows, -1),
            np.full(follows, INTERACTION_KINDS.index("follow")),
            graph.follow_created,
        )
    )

    # Clicks on marketing links, more frequent for frequent buyers.
    activity = np.clip(np.sqrt(pop.lam / pop.lam.mean()), 0.2, 5.0)
    clicker = np.repeat(np.arange(n), rng.poisson(cfg.clicks_per_day * activity * (horizon - pop.signup)))
    time = pop.signup[clicker] + rng.random(len(clicker)) * (horizon - pop.signup[clicker])
    keep = rng.random(len(clicker)) < alive_weight(time, pop.social_end[clicker], cfg.churn_decay_days)
    clicker, time = clicker[keep], time[keep]
    parts.append(
        (
            clicker,
            np.full(len(clicker), -1),
            np.full(len(clicker), -1),
            np.full(len(clicker), INTERACTION_KINDS.index("click")),
            time,
        )
    )

    actor, target, item, kind, time = (np.concatenate(cols) for cols in zip(*parts, strict=True))
    is_click = kind == INTERACTION_KINDS.index("click")
    channel = np.where(rng.random(len(actor)) < 0.6, 0, 1)  # app or web
    email = is_click & pop.consent_marketing[actor] & (rng.random(len(actor)) < 0.6)
    channel[email] = INTERACTION_CHANNELS.index("email")
    sort = np.argsort(time)
    return Interactions(actor[sort], target[sort], item[sort], kind[sort], channel[sort], time[sort])


def simulate_influence(
    rng: np.random.Generator,
    pop: Population,
    graph: Graph,
    content: Content,
    interactions: Interactions,
    cfg: DemoConfig,
) -> Influence:
    r"""Purchases of followers caused by an influencer's content and shares.

    Exposure ``e`` by influencer ``i`` at time ``t_e`` reaches each of the ``F_i`` followers; the number of
    resulting purchases is

    .. math:: K_e \sim \mathrm{Poisson}\!\left(\frac{c \, s_i \, F_i}{1 + \rho_i \tau}\right),

    with ``rho_i`` the source's exposures per day and ``tau`` the fatigue time (frequent posters convert less
    per post), each by a uniformly drawn follower ``j`` at ``t_e + \delta``, ``\delta`` exponential truncated to the
    window. The purchase happens only when ``j`` follows ``i`` at ``t_e``, has made a first purchase and has
    not churned (``first_j <= t_e + \delta < death_j``); its value is ``Gamma(p, \nu_j)`` like ``j``'s other
    purchases.
    """
    by_dst = graph.followers
    shares = interactions.kind == INTERACTION_KINDS.index("share")
    source = np.concatenate([content.author, interactions.actor[shares]])
    t_exp = np.concatenate([content.created, interactions.time[shares]])
    item = np.concatenate([np.arange(len(content.author)), interactions.content[shares]])
    # Audience fatigue: the more often a source posts or shares, the less each exposure converts.
    exposure_rate = np.bincount(source, minlength=pop.n) / np.maximum(pop.horizon - pop.signup, 1.0)
    fatigue = 1.0 / (1.0 + exposure_rate[source] * cfg.influence_fatigue_days)
    mu = cfg.influence_conversion * pop.influence[source] * fatigue * by_dst.degree[source]
    e = np.repeat(np.arange(len(source)), rng.poisson(mu))
    infl = source[e]
    edge = by_dst.sample(rng, infl)
    follower = graph.follow_src[edge]
    when = t_exp[e]
    bought = when + truncated_exponential(rng, cfg.influence_delay_days, cfg.influence_window_days, len(e))
    ended = graph.follow_ended[edge]
    ok = (
        (graph.follow_created[edge] <= when)
        & ~(ended <= when)
        & pop.is_buyer[follower]
        & (pop.first[follower] <= bought)
        & (bought < pop.death[follower])
        & (bought < pop.horizon)
    )
    follower, bought = follower[ok], bought[ok]
    amount = rng.gamma(cfg.gg_p, 1.0 / pop.nu[follower])
    return Influence(infl[ok], follower, item[e][ok], when[ok], bought, amount)
