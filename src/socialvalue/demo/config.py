"""Parameters of the demo data generator (validated; loadable from TOML).

Every rate is per **day** and every duration in **days**, so ``alpha`` of the BG/NBD model is in days (the
default ``alpha = 40`` days with ``r = 0.45`` gives a mean purchase rate of 0.011 a day, about 4 a year).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from socialvalue.config import ConfigModel

__all__ = ["DemoConfig"]

Share = Annotated[float, Field(ge=0.0, le=1.0)]
Positive = Annotated[float, Field(gt=0.0)]


class DemoConfig(ConfigModel):
    """Latent parameters of the simulated business (defaults describe a mid-sized online shop).

    Attributes
    ----------
    signup_growth
        Signup intensity grows linearly from 1 at ``start`` to ``1 + signup_growth`` at ``end``.
    channel_shares
        Acquisition channel shares (``referral`` customers get a referrer; see ``referral``).
    r, alpha, a, b
        BG/NBD heterogeneity: purchase rate ``lambda ~ Gamma(r, rate=alpha)`` (alpha in days) and dropout
        probability after each repeat purchase ``p ~ Beta(a, b)``.
    gg_p, gg_q, gg_v
        Gamma-Gamma spend: a transaction is ``Gamma(p, rate=nu)`` with ``nu ~ Gamma(q, rate=v)``; mean spend
        ``p v / (q - 1)``.
    influence_conversion
        Probability that one exposure of a follower to the content of an influencer of strength 1 leads to a
        purchase within ``influence_window_days``.
    """

    # Customers
    signup_growth: float = Field(default=1.0, ge=0.0)
    channel_shares: dict[str, Share] = Field(
        default_factory=lambda: {"organic": 0.45, "paid": 0.25, "referral": 0.15, "social": 0.15}
    )
    countries: dict[str, Share] = Field(
        default_factory=lambda: {
            "US": 0.40,
            "GB": 0.12,
            "DE": 0.11,
            "FR": 0.09,
            "CA": 0.07,
            "ES": 0.05,
            "IT": 0.05,
            "NL": 0.04,
            "AU": 0.04,
            "SE": 0.03,
        }
    )
    consent_marketing: Share = 0.80
    consent_profiling: Share = 0.95
    currency: str = Field(default="USD", pattern="^[A-Z]{3}$")

    # Purchases (BG/NBD + Gamma-Gamma)
    buyer_share: Share = 0.88
    first_purchase_delay_days: Positive = 4.0
    r: Positive = 0.45
    alpha: Positive = 40.0
    a: Positive = 0.75
    b: Positive = 3.0
    gg_p: Positive = 6.0
    gg_q: float = Field(default=4.0, gt=1.0)
    gg_v: Positive = 30.0
    mean_extra_items: float = Field(default=0.5, ge=0.0)
    cancel_share: Share = 0.02
    return_share: Share = 0.04
    return_delay_days: Positive = 12.0

    # Referrals
    referral_inherit_community: Share = 0.85
    referral_follow_share: Share = 0.5

    # Follower graph
    community_size: int = Field(default=400, ge=2)
    social_share: Share = 0.6
    mean_following: Positive = 6.0
    popularity_tail: float = Field(default=1.2, gt=0.5)
    cross_community_share: Share = 0.05
    follow_back_share: Share = 0.2
    unfollow_share: Share = 0.08
    follow_delay_days: Positive = 45.0
    friends_mean: float = Field(default=1.5, ge=0.0)

    # Content
    creator_share: Share = 0.06
    posts_per_day: Positive = 0.05
    content_kind_shares: dict[str, Share] = Field(
        default_factory=lambda: {"post": 0.55, "photo": 0.30, "video": 0.15}
    )
    review_share: Share = 0.08
    n_products: int = Field(default=5000, ge=1)
    reach: dict[str, Positive] = Field(
        default_factory=lambda: {"post": 0.4, "photo": 0.5, "video": 0.8, "review": 0.2}
    )

    # Interactions
    like_rate: Share = 0.1
    comment_rate: Share = 0.02
    share_rate: Share = 0.01
    mention_share: Share = 0.25
    clicks_per_day: float = Field(default=0.015, ge=0.0)
    churn_decay_days: Positive = 30.0
    nonbuyer_active_days: Positive = 120.0

    # Influence
    influence_sigma: float = Field(default=0.8, ge=0.0)
    influence_conversion: Share = 0.06
    influence_fatigue_days: float = Field(default=30.0, ge=0.0)
    influence_window_days: Positive = 14.0
    influence_delay_days: Positive = 3.0

    @model_validator(mode="after")
    def _check_shares(self) -> DemoConfig:
        for name in ("channel_shares", "countries", "content_kind_shares"):
            shares = getattr(self, name)
            if not shares or abs(sum(shares.values()) - 1.0) > 1e-6:
                raise ValueError(f"{name} must sum to 1 (got {sum(shares.values()):.4f})")
        unknown = set(self.channel_shares) - {"organic", "paid", "referral", "social"}
        if unknown:
            raise ValueError(f"unknown acquisition channels: {sorted(unknown)}")
        unknown = set(self.content_kind_shares) - {"post", "photo", "video"}
        if unknown:
            raise ValueError(
                f"content_kind_shares: creators post only post/photo/video, got {sorted(unknown)}"
            )
        missing = {"post", "photo", "video", "review"} - set(self.reach)
        if missing:
            raise ValueError(f"reach needs a value for {sorted(missing)}")
        return self
