"""Engagement components of customer value: interaction, content creation and loyalty/advocacy scores.

Kumar et al. (2010) add to a customer's own lifetime value what they contribute through referrals, influence
and *knowledge* (feedback, reviews). Beside the money-valued CRV and CIV, three documented, unit-free scores
summarise the engagement that the learned :class:`~socialvalue.social.customer_value.CustomerSocialValue`
turns into currency:

* **interaction score** — how often, how diversely and how reciprocally a customer interacts with the brand
  and with other customers;
* **content score** — user-generated content weighted by its quality (helpful votes, informativeness of a
  rating, views earned, interactions drawn);
* **loyalty/advocacy score** — repeat purchasing, tenure, positive reviews and referrals.

Each function is pure pandas/numpy and vectorized; the frames come from
:mod:`socialvalue.pipeline.social_inputs`.

References
----------
.. [1] Kumar, V., Aksoy, L., Donkers, B., Venkatesan, R., Wiesel, T., & Tillmanns, S. (2010). Undervalued or
   overvalued customers: capturing total customer engagement value. *Journal of Service Research*, 13(3),
   297-310.
.. [2] Mudambi, S. M., & Schuff, D. (2010). What makes a helpful online review? *MIS Quarterly*, 34(1),
   185-200 (rating extremity and helpfulness).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field

from socialvalue.config import ConfigModel
from socialvalue.errors import SchemaError

__all__ = [
    "ContentScoreConfig",
    "EngagementConfig",
    "InteractionScoreConfig",
    "LoyaltyScoreConfig",
    "content_score",
    "interaction_score",
    "loyalty_score",
]

_DAY = pd.Timedelta(days=1)


class InteractionScoreConfig(ConfigModel):
    """Parameters of :func:`interaction_score`.

    Attributes
    ----------
    window_days
        Interactions in ``(as_of - window_days, as_of]`` count.
    """

    window_days: float = Field(default=365.0, gt=0)


class ContentScoreConfig(ConfigModel):
    r"""Weights of the content quality terms of :func:`content_score`.

    Attributes
    ----------
    helpful_weight, informativeness_weight, views_weight, drawn_weight
        Weights of :math:`\log(1 + \text{helpful votes})`, informativeness, :math:`\log(1 + \text{views})`
        and :math:`\log(1 + \text{interactions drawn})`.
    rating_midpoint
        Neutral rating used as reference when the product has no other rated review.
    """

    helpful_weight: float = Field(default=1.0, ge=0)
    informativeness_weight: float = Field(default=1.0, ge=0)
    views_weight: float = Field(default=0.25, ge=0)
    drawn_weight: float = Field(default=0.5, ge=0)
    rating_midpoint: float = 3.0


class LoyaltyScoreConfig(ConfigModel):
    """Weights of the terms of :func:`loyalty_score`."""

    repeat_weight: float = Field(default=1.0, ge=0)
    tenure_weight: float = Field(default=1.0, ge=0)
    reviews_weight: float = Field(default=1.0, ge=0)
    referrals_weight: float = Field(default=1.0, ge=0)


class EngagementConfig(ConfigModel):
    """The three engagement score configurations (one TOML section each)."""

    interaction: InteractionScoreConfig = InteractionScoreConfig()
    content: ContentScoreConfig = ContentScoreConfig()
    loyalty: LoyaltyScoreConfig = LoyaltyScoreConfig()


def _require(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"{name} frame lacks column(s) {', '.join(missing)}; has {', '.join(frame.columns)}"
        )


def interaction_score(
    interactions: pd.DataFrame,
    as_of: pd.Timestamp | str,
    *,
    config: InteractionScoreConfig | None = None,
) -> pd.DataFrame:
    r"""Interaction score: frequency × diversity × reciprocity of a customer's interactions.

    For customer ``c`` over the window of :math:`D` days, with :math:`n_c` interactions given (to the brand or
    to customers), :math:`p_{ck}` the share of kind :math:`k` among them, :math:`K` the number of kinds seen
    in the data and :math:`P_c` the customers ``c`` interacted with,

    .. math::

        f_c = 30\, n_c / D, \quad
        H_c = -\frac{\sum_k p_{ck} \log p_{ck}}{\log K}, \quad
        \rho_c = \frac{|\{q \in P_c : q \text{ interacted with } c\}|}{|P_c|},

        S_c = \log(1 + f_c)\,(0.5 + 0.5 H_c)\,(1 + \rho_c).

    Parameters
    ----------
    interactions
        ``actor_id``, ``target_customer_id`` (null for the brand), ``kind``, ``occurred_at``.
    as_of
        End of the window.
    config
        Window length; defaults to :class:`InteractionScoreConfig`.

    Returns
    -------
    pandas.DataFrame
        Per actor (``customer_id``): ``n_interactions``, ``rate_30d`` (:math:`f`), ``kind_entropy``
        (:math:`H`, in [0, 1]), ``reciprocity`` (:math:`\rho`, 0 without customer partners),
        ``brand_share`` (share of interactions aimed at the brand) and ``interaction_score``.

    References
    ----------
    .. [1] Kumar, V., et al. (2010). Undervalued or overvalued customers: capturing total customer engagement
       value. *Journal of Service Research*, 13(3), 297-310.
    """
    cfg = config or InteractionScoreConfig()
    _require(interactions, ("actor_id", "target_customer_id", "kind", "occurred_at"), "interactions")
    as_of = pd.Timestamp(as_of)
    lo = as_of - pd.Timedelta(days=cfg.window_days)
    it = interactions.loc[
        (interactions["occurred_at"] > lo) & (interactions["occurred_at"] <= as_of),
        ["actor_id", "target_customer_id", "kind"],
    ]
    cols = ["n_interactions", "rate_30d", "kind_entropy", "reciprocity", "brand_share", "interaction_score"]
    if it.empty:
        return pd.DataFrame(
            {"customer_id": pd.Series(dtype=object), **{c: pd.Series(dtype=float) for c in cols}}
        )
    by_kind = it.groupby(["actor_id", "kind"]).size()
    n = by_kind.groupby(level=0).sum()
    p = by_kind / n.reindex(by_kind.index.get_level_values(0)).to_numpy()
    n_kinds = it["kind"].nunique()
    ent = (-(p * np.log(p))).groupby(level=0).sum()
    ent = ent / np.log(n_kinds) if n_kinds > 1 else ent * 0.0

    pairs = it.loc[it["target_customer_id"].notna() & (it["actor_id"] != it["target_customer_id"])]
    pairs = pairs[["actor_id", "target_customer_id"]].drop_duplicates()
    back = pairs.rename(columns={"actor_id": "target_customer_id", "target_customer_id": "actor_id"})
    back = back.assign(recip=1.0)
    recip = pairs.merge(back, on=["actor_id", "target_customer_id"], how="left").fillna({"recip": 0.0})
    rho = recip.groupby("actor_id")["recip"].mean()

    out = pd.DataFrame({"n_interactions": n.astype("int64")})
    out["rate_30d"] = 30.0 * out["n_interactions"] / cfg.window_days
    out["kind_entropy"] = ent.reindex(out.index).fillna(0.0).clip(0.0, 1.0)
    out["reciprocity"] = rho.reindex(out.index).fillna(0.0)
    out["brand_share"] = it["target_customer_id"].isna().groupby(it["actor_id"]).mean().reindex(out.index)
    out["interaction_score"] = (
        np.log1p(out["rate_30d"]) * (0.5 + 0.5 * out["kind_entropy"]) * (1.0 + out["reciprocity"])
    )
    return out.rename_axis("customer_id").reset_index()


def interaction_score_from_counts(
    counts: pd.DataFrame, *, config: InteractionScoreConfig | None = None
) -> pd.DataFrame:
    r""":func:`interaction_score` from counts aggregated where the data are (in the engine).

    The same formula and the same arithmetic: the kind entropy is computed from the counts :math:`c_{ck}` of
    each (customer, kind) exactly as :func:`interaction_score` computes it from the interactions, and the
    reciprocity and brand share are ratios of counts (:math:`\rho_c` = partners who interacted back over
    distinct partners), so the results are equal bit for bit.

    Parameters
    ----------
    counts
        One row per (actor, kind), ordered by actor then kind: ``customer_id``, ``kind``, ``c`` (its
        interactions of that kind), and the actor's ``n_all`` (all its interactions), ``n_brand`` (those
        without a target customer), ``n_pairs`` (distinct other customers it interacted with), ``n_back``
        (those of them who interacted with it) and ``n_kinds`` (kinds seen in the window, on every row).
    config
        Window length; defaults to :class:`InteractionScoreConfig`.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`interaction_score`, one row per actor.
    """
    cfg = config or InteractionScoreConfig()
    _require(
        counts,
        ("customer_id", "kind", "c", "n_all", "n_brand", "n_pairs", "n_back", "n_kinds"),
        "counts",
    )
    cols = ["n_interactions", "rate_30d", "kind_entropy", "reciprocity", "brand_share", "interaction_score"]
    if counts.empty:
        return pd.DataFrame(
            {"customer_id": pd.Series(dtype=object), **{c: pd.Series(dtype=float) for c in cols}}
        )
    actor = counts["customer_id"].to_numpy()
    by_kind = pd.Series(
        counts["c"].to_numpy(dtype=np.int64),
        index=pd.MultiIndex.from_arrays([actor, counts["kind"].to_numpy()], names=["actor_id", "kind"]),
    )
    n = by_kind.groupby(level=0).sum()
    p = by_kind / n.reindex(by_kind.index.get_level_values(0)).to_numpy()
    n_kinds = int(counts["n_kinds"].iloc[0])
    ent = (-(p * np.log(p))).groupby(level=0).sum()
    ent = ent / np.log(n_kinds) if n_kinds > 1 else ent * 0.0
    first = np.ones(len(actor), dtype=bool)
    first[1:] = actor[1:] != actor[:-1]
    per = counts.loc[first].set_index("customer_id")
    pairs = per["n_pairs"].to_numpy(dtype=np.float64)
    back = per["n_back"].to_numpy(dtype=np.float64)
    rho = pd.Series(np.divide(back, pairs, out=np.zeros_like(back), where=pairs > 0), index=per.index)

    out = pd.DataFrame({"n_interactions": n.astype("int64")})
    out["rate_30d"] = 30.0 * out["n_interactions"] / cfg.window_days
    out["kind_entropy"] = ent.reindex(out.index).fillna(0.0).clip(0.0, 1.0)
    out["reciprocity"] = rho.reindex(out.index).fillna(0.0)
    share = per["n_brand"].to_numpy(dtype=np.float64) / per["n_all"].to_numpy(dtype=np.float64)
    out["brand_share"] = pd.Series(share, index=per.index).reindex(out.index)
    out["interaction_score"] = (
        np.log1p(out["rate_30d"]) * (0.5 + 0.5 * out["kind_entropy"]) * (1.0 + out["reciprocity"])
    )
    return out.rename_axis("customer_id").reset_index()


def content_score(
    content: pd.DataFrame,
    as_of: pd.Timestamp | str,
    *,
    config: ContentScoreConfig | None = None,
) -> pd.DataFrame:
    r"""Content score: user-generated content weighted by quality.

    Each item :math:`j` published on or before ``as_of`` has quality

    .. math::

        q_j = 1 + w_h \log(1 + h_j) + w_i\, \iota_j + w_v \log(1 + v_j) + w_d \log(1 + d_j),
        \qquad \iota_j = |r_j - \bar r_{-j}| / 2,

    with :math:`h` helpful votes, :math:`v` views, :math:`d` interactions drawn and :math:`\iota` the
    informativeness of a rating: its distance (in half-stars of a 1–5 scale) from the mean rating of the
    *other* reviews of the same product, or from ``rating_midpoint`` when there is none (0 without a rating).
    A customer's score is :math:`\sum_j q_j` over their items.

    Parameters
    ----------
    content
        ``content_id``, ``author_id``, ``created_at``; optional ``rating``, ``helpful_votes``, ``views``,
        ``product_id`` and ``interactions_drawn`` (missing values count 0).
    as_of
        Items created after it are ignored.
    config
        Weights; defaults to :class:`ContentScoreConfig`.

    Returns
    -------
    pandas.DataFrame
        Per author (``customer_id``): ``n_content``, ``helpful_votes``, ``views``, ``interactions_drawn``,
        ``mean_informativeness`` and ``content_score``.

    References
    ----------
    .. [1] Mudambi, S. M., & Schuff, D. (2010). What makes a helpful online review? *MIS Quarterly*, 34(1),
       185-200.
    """
    cfg = config or ContentScoreConfig()
    _require(content, ("content_id", "author_id", "created_at"), "content")
    c = content.loc[content["created_at"] <= pd.Timestamp(as_of)]

    def col(name: str) -> pd.Series:
        if name in c.columns:
            return pd.to_numeric(c[name], errors="coerce").astype(float).fillna(0.0)
        return pd.Series(0.0, index=c.index)

    helpful, views, drawn = col("helpful_votes"), col("views"), col("interactions_drawn")
    rating = (
        pd.to_numeric(c["rating"], errors="coerce").astype(float)
        if "rating" in c.columns
        else pd.Series(np.nan, index=c.index)
    )
    product = c["product_id"] if "product_id" in c.columns else pd.Series(None, index=c.index, dtype=object)
    rated = rating.notna() & product.notna()
    grp = pd.DataFrame({"p": product[rated], "r": rating[rated]}).groupby("p")["r"]
    total = product.map(grp.sum()).astype(float)
    count = product.map(grp.count()).astype(float)
    loo = (total - rating) / (count - 1)  # mean of the other reviews of the product (NaN when none)
    ref = loo.where(count > 1, cfg.rating_midpoint)
    info = ((rating - ref).abs() / 2.0).fillna(0.0)
    q = (
        1.0
        + cfg.helpful_weight * np.log1p(helpful.clip(lower=0))
        + cfg.informativeness_weight * info
        + cfg.views_weight * np.log1p(views.clip(lower=0))
        + cfg.drawn_weight * np.log1p(drawn.clip(lower=0))
    )
    frame = pd.DataFrame(
        {
            "customer_id": c["author_id"].to_numpy(),
            "helpful_votes": helpful.to_numpy(),
            "views": views.to_numpy(),
            "interactions_drawn": drawn.to_numpy(),
            "informativeness": info.to_numpy(),
            "q": q.to_numpy(),
        }
    )
    out = frame.groupby("customer_id").agg(
        n_content=("q", "size"),
        helpful_votes=("helpful_votes", "sum"),
        views=("views", "sum"),
        interactions_drawn=("interactions_drawn", "sum"),
        mean_informativeness=("informativeness", "mean"),
        content_score=("q", "sum"),
    )
    return out.reset_index()


def loyalty_score(frame: pd.DataFrame, *, config: LoyaltyScoreConfig | None = None) -> pd.DataFrame:
    r"""Loyalty/advocacy score: repeat purchasing, tenure, positive reviews and referrals.

    .. math::

        L_c = w_r \frac{\max(n_c - 1, 0)}{\max(n_c, 1)} + w_t \log(1 + \text{tenure}_c / 365.25)
              + w_p \log(1 + \text{positive reviews}_c) + w_f \log(1 + \text{referrals}_c),

    where the first term is the repeat rate (share of the customer's orders that are repeat orders) and tenure
    is in years since the first purchase.

    Parameters
    ----------
    frame
        One row per customer: ``customer_id``, ``n_orders``, ``tenure_days``, ``positive_reviews``,
        ``referrals_made`` (missing values count 0).
    config
        Weights; defaults to :class:`LoyaltyScoreConfig`.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``repeat_rate``, ``tenure_years`` and ``loyalty_score``.

    References
    ----------
    .. [1] Kumar, V., et al. (2010). Undervalued or overvalued customers: capturing total customer engagement
       value. *Journal of Service Research*, 13(3), 297-310.
    """
    cfg = config or LoyaltyScoreConfig()
    cols = ("customer_id", "n_orders", "tenure_days", "positive_reviews", "referrals_made")
    _require(frame, cols, "loyalty")
    f = frame[list(cols)].fillna({c: 0 for c in cols[1:]})
    n = f["n_orders"].astype(float).clip(lower=0)
    repeat = (n - 1).clip(lower=0) / n.clip(lower=1)
    tenure = f["tenure_days"].astype(float).clip(lower=0) / 365.25
    score = (
        cfg.repeat_weight * repeat
        + cfg.tenure_weight * np.log1p(tenure)
        + cfg.reviews_weight * np.log1p(f["positive_reviews"].astype(float).clip(lower=0))
        + cfg.referrals_weight * np.log1p(f["referrals_made"].astype(float).clip(lower=0))
    )
    return pd.DataFrame(
        {
            "customer_id": f["customer_id"].to_numpy(),
            "repeat_rate": repeat.to_numpy(),
            "tenure_years": tenure.to_numpy(),
            "loyalty_score": score.to_numpy(),
        }
    )
