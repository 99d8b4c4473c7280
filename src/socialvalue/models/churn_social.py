"""Social churn signals: did the referrer churn, and did the people a customer interacts with go quiet.

Referred customers churn less than others — until their referrer churns, after which the difference fades
(Van den Bulte et al. 2018). These two columns carry that signal into the churn classifier when the feature
engine does not provide them; both are computed with pandas merges over edge lists (no loop over customers).

References
----------
.. [1] Van den Bulte, C., Bayer, E., Skiera, B. & Schmitt, P. (2018). How customer referral programs turn
   social capital into economic capital. *Journal of Marketing Research* 55(1), 132-146.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from socialvalue.models._rules import as_array, numeric, require_columns

__all__ = ["social_churn_features"]


def social_churn_features(
    features: pd.DataFrame,
    *,
    relationships: pd.DataFrame | None = None,
    interactions: pd.DataFrame | None = None,
    churned: np.ndarray | pd.Series | None = None,
    quiet: np.ndarray | pd.Series | None = None,
    as_of: pd.Timestamp | str | None = None,
    horizon_days: float = 90,
    quiet_days: float = 90,
    window_days: float = 365,
    referral_kind: str = "referred",
    partner_kinds: Sequence[str] = ("friend", "follow", "follows"),
    customer_id: str = "customer_id",
) -> pd.DataFrame:
    """Compute ``referrer_churned`` and ``partners_quiet_share`` for every row of ``features``.

    Parameters
    ----------
    features
        The feature table at ``as_of`` (``customer_id``; ``days_since_last_purchase`` and
        ``days_since_last_interaction`` when ``churned``/``quiet`` are not given). Not modified.
    relationships
        Canonical ``relationships`` rows (``src_id``, ``dst_id``, ``kind``, optional ``created_at``,
        ``ended_at``): ``referral_kind`` edges go referrer -> referred; ``partner_kinds`` edges count as
        partners in both directions.
    interactions
        Canonical ``interactions`` rows (``actor_id``, ``target_customer_id``, optional ``occurred_at``):
        actor and target are partners in both directions (brand-directed rows, with no target, are ignored).
    churned
        Per-row churn flag of each customer (e.g. ``p_alive < 0.2``). Default: no purchase for more than
        ``horizon_days`` days (or none ever).
    quiet
        Per-row "went quiet" flag. Default: no interaction for more than ``quiet_days`` days (or none ever).
    as_of
        When given, only ties that exist at ``as_of`` (created at or before it, not ended) and interactions in
        the ``window_days`` before it count.

    Returns
    -------
    pandas.DataFrame
        Index of ``features``: ``customer_id``, ``referrer_churned`` (1 if any referrer churned, 0 if all are
        active, NaN if not referred) and ``partners_quiet_share`` (share of distinct partners who went quiet,
        NaN without partners).
    """
    require_columns(features, [customer_id], "social_churn_features")
    n = len(features)
    ids = features[customer_id].to_numpy()
    if churned is None:
        require_columns(features, ["days_since_last_purchase"], "social_churn_features (default churn flag)")
        d = numeric(features, "days_since_last_purchase")
        churned = ~(d <= horizon_days)
    if quiet is None:
        require_columns(
            features, ["days_since_last_interaction"], "social_churn_features (default quiet flag)"
        )
        d = numeric(features, "days_since_last_interaction")
        quiet = ~(d <= quiet_days)
    flags = pd.DataFrame(
        {"other": ids, "churned": as_array(churned, n, "churned"), "quiet": as_array(quiet, n, "quiet")}
    )
    ts = None if as_of is None else pd.Timestamp(as_of)

    referrer_churned = pd.Series(np.nan, index=pd.Index(ids, name=customer_id))
    partner_share = referrer_churned.copy()
    edges: list[pd.DataFrame] = []
    if relationships is not None:
        require_columns(relationships, ["src_id", "dst_id", "kind"], "social_churn_features (relationships)")
        rel = relationships
        if ts is not None:
            live = np.ones(len(rel), dtype=bool)
            if "created_at" in rel.columns:
                live &= ~(pd.to_datetime(rel["created_at"]) > ts).to_numpy(dtype=bool)
            if "ended_at" in rel.columns:
                live &= ~(pd.to_datetime(rel["ended_at"]) <= ts).to_numpy(dtype=bool)
            rel = rel.loc[live]
        ref = rel.loc[rel["kind"] == referral_kind, ["src_id", "dst_id"]]
        ref = ref.rename(columns={"src_id": "other", "dst_id": "me"}).merge(flags, on="other", how="inner")
        referrer_churned = ref.groupby("me")["churned"].max().reindex(ids)
        ties = rel.loc[rel["kind"].isin(list(partner_kinds)), ["src_id", "dst_id"]]
        edges.append(ties.set_axis(["me", "other"], axis=1))
    if interactions is not None:
        require_columns(
            interactions, ["actor_id", "target_customer_id"], "social_churn_features (interactions)"
        )
        it = interactions
        if ts is not None and "occurred_at" in it.columns:
            when = pd.to_datetime(it["occurred_at"])
            it = it.loc[((when <= ts) & (when > ts - pd.Timedelta(days=window_days))).to_numpy(dtype=bool)]
        it = it.loc[it["target_customer_id"].notna(), ["actor_id", "target_customer_id"]]
        edges.append(it.set_axis(["me", "other"], axis=1))
    if edges:
        e = pd.concat(edges, ignore_index=True)
        e = pd.concat([e, e.set_axis(["other", "me"], axis=1)[["me", "other"]]], ignore_index=True)
        e = e.loc[e["me"] != e["other"]].drop_duplicates()
        e = e.merge(flags[["other", "quiet"]], on="other", how="inner")
        partner_share = e.groupby("me")["quiet"].mean().reindex(ids)
    return pd.DataFrame(
        {
            customer_id: ids,
            "referrer_churned": referrer_churned.to_numpy(dtype=float),
            "partners_quiet_share": partner_share.to_numpy(dtype=float),
        },
        index=features.index,
    )
