r"""RFM scores, cells, named segments (validated TOML segment maps) and the segment summary table.

Conventions (see ``docs/segments.md``):

* R, F and M are scored 1..``bins`` (5 by default) among customers **with at least one purchase**, each by
  one of three methods (:class:`ScoreBins`): ``"quantile"`` equal-frequency bins
  (:func:`socialvalue.models._ranks.quantile_scores`, R and M by default), ``"dense"`` quantiles whose tied
  values sit in the lowest level they span, the customers above being spread over the remaining levels
  (:func:`dense_scores`, F by default: counts are heavily tied, most customers having one order), or fixed
  ``"thresholds"``. R is reversed: the most recent customers get the highest score.
* Customers with no purchase (recency missing, or ``n_orders == 0`` when that column is present) are kept,
  with scores 0, cell ``"000"`` and the map's ``no_purchase`` segment ("No purchase").
* ``fm_score`` is the round-half-up mean of F and M, :math:`\lceil (F + M) / 2 \rceil`.
* A segment map is a list of rules over score ranges; the first match wins and every (r, f, m) cell must be
  covered — :meth:`SegmentMap.check_coverage` lists the cells that are not.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from socialvalue.config import ConfigModel
from socialvalue.errors import ConfigError
from socialvalue.models._ranks import quantile_scores, threshold_scores
from socialvalue.models._rules import numeric, require_columns
from socialvalue.models.defaults import load_config

__all__ = [
    "RFMConfig",
    "ScoreBins",
    "SegmentMap",
    "SegmentRule",
    "assign_segments",
    "dense_scores",
    "load_rfm_config",
    "load_segment_map",
    "rfm_scores",
    "rfm_segments",
    "segment_summary",
]

logger = logging.getLogger(__name__)
_CELLS = np.array([f"{i:03d}" for i in range(1000)], dtype=object)


class ScoreBins(ConfigModel):
    """How one of R, F, M is scored 1..n.

    Attributes
    ----------
    method
        ``"quantile"``: ``bins`` equal-frequency bins, ties resolved by :attr:`RFMConfig.ties`.
        ``"dense"``: ``bins`` equal-frequency bins where tied values sit in the lowest level they span and
        the values above are spread over the remaining levels (:func:`dense_scores`); every level is used
        when there are at least ``bins`` distinct values. ``"thresholds"``: fixed ascending ``thresholds``.
        Omitted, it is ``"thresholds"`` when ``thresholds`` is given and ``"quantile"`` otherwise.
    bins
        Number of scores of the ``"quantile"`` and ``"dense"`` methods.
    thresholds
        Ascending interior edges of the ``"thresholds"`` method (``len + 1`` scores); a value equal to an edge
        belongs to the bin above it.
    """

    method: Literal["quantile", "dense", "thresholds"] = "quantile"
    bins: int = Field(5, ge=2, le=9)
    thresholds: tuple[float, ...] | None = None

    @model_validator(mode="before")
    @classmethod
    def _infer_method(cls, data: object) -> object:
        if isinstance(data, dict) and "method" not in data and data.get("thresholds") is not None:
            return {**data, "method": "thresholds"}
        return data

    @model_validator(mode="after")
    def _check(self) -> ScoreBins:
        if self.method == "thresholds":
            if self.thresholds is None:
                raise ValueError('method = "thresholds" needs thresholds (ascending interior edges)')
            t = np.asarray(self.thresholds, dtype=float)
            if t.size == 0 or t.size > 8 or np.any(np.diff(t) <= 0):
                raise ValueError("thresholds must be 1 to 8 strictly increasing numbers")
        elif self.thresholds is not None:
            raise ValueError(f'thresholds are used only with method = "thresholds", not "{self.method}"')
        return self

    @property
    def n_scores(self) -> int:
        """The highest score (number of bins)."""
        return self.bins if self.thresholds is None else len(self.thresholds) + 1


class RFMConfig(ConfigModel):
    """Scoring of recency, frequency and monetary value (defaults in ``defaults/rfm.toml``).

    Attributes
    ----------
    ties
        How the ``"quantile"`` method splits tied values: ``"average"`` (equal inputs, equal scores) or
        ``"first"`` (ties broken by customer id, bins of equal size).
    recency, frequency, monetary
        How each is scored; frequency defaults to ``"dense"`` (order counts are heavily tied at 1), recency
        and monetary value to ``"quantile"``.
    """

    ties: Literal["average", "first"] = "average"
    recency: ScoreBins = ScoreBins()
    frequency: ScoreBins = ScoreBins(method="dense")
    monetary: ScoreBins = ScoreBins()


class SegmentRule(ConfigModel):
    """A named segment: inclusive score ranges over any of ``r``, ``f``, ``m`` and ``fm``."""

    name: str = Field(min_length=1)
    description: str = ""
    r: tuple[int, int] | None = None
    f: tuple[int, int] | None = None
    m: tuple[int, int] | None = None
    fm: tuple[int, int] | None = None

    @field_validator("r", "f", "m", "fm")
    @classmethod
    def _range(cls, v: tuple[int, int] | None) -> tuple[int, int] | None:
        if v is not None and not 1 <= v[0] <= v[1]:
            raise ValueError(f"range {list(v)} must be [low, high] with 1 <= low <= high")
        return v

    def matches(self, r: np.ndarray, f: np.ndarray, m: np.ndarray, fm: np.ndarray) -> np.ndarray:
        """Mask of the score tuples inside every range of this rule."""
        mask = np.ones(r.shape, dtype=bool)
        for rng, x in ((self.r, r), (self.f, f), (self.m, m), (self.fm, fm)):
            if rng is not None:
                mask &= (x >= rng[0]) & (x <= rng[1])
        return mask


class SegmentMap(ConfigModel):
    """An ordered list of segment rules (first match wins) and the name given to non-purchasers."""

    no_purchase: str = Field("No purchase", min_length=1)
    segments: tuple[SegmentRule, ...]

    @model_validator(mode="after")
    def _nonempty(self) -> SegmentMap:
        if not self.segments:
            raise ValueError("a segment map needs at least one rule in segments")
        return self

    @property
    def names(self) -> list[str]:
        """Segment names in map order (unique), then the no-purchase segment."""
        return [*dict.fromkeys(s.name for s in self.segments), self.no_purchase]

    def uncovered_cells(self, n_r: int = 5, n_f: int = 5, n_m: int = 5) -> list[str]:
        """Cells ``"rfm"`` (scores 1..n) that no rule matches."""
        cells = np.array(list(itertools.product(range(1, n_r + 1), range(1, n_f + 1), range(1, n_m + 1))))
        r, f, m = cells.T
        covered = np.zeros(len(cells), dtype=bool)
        for rule in self.segments:
            covered |= rule.matches(r, f, m, _fm(f, m))
        return [f"{a}{b}{c}" for a, b, c in cells[~covered]]

    def check_coverage(self, n_r: int = 5, n_f: int = 5, n_m: int = 5) -> None:
        """Raise :class:`ConfigError` listing the uncovered cells, if any."""
        missing = self.uncovered_cells(n_r, n_f, n_m)
        if missing:
            shown = ", ".join(missing[:20]) + (", ..." if len(missing) > 20 else "")
            raise ConfigError(
                f"segment map does not cover {len(missing)} of {n_r * n_f * n_m} RFM cells (r f m): {shown}"
            )


def load_rfm_config(path: str | Path | None = None) -> RFMConfig:
    """Read an :class:`RFMConfig` from TOML; the packaged default when ``path`` is None."""
    return load_config(path, "rfm.toml", RFMConfig)


def load_segment_map(path: str | Path | None = None) -> SegmentMap:
    """Read a :class:`SegmentMap` from TOML; the packaged default (11 named segments) when ``path`` is None."""
    return load_config(path, "segments.toml", SegmentMap)


def _fm(f: np.ndarray, m: np.ndarray) -> np.ndarray:
    return (f.astype(np.int16) + m + 1) // 2


def dense_scores(values: np.ndarray, bins: int, *, higher_is_better: bool = True) -> np.ndarray:
    r"""Score 1..``bins`` by equal-frequency bins in which tied values sit in the lowest level they span.

    With the :math:`n` values sorted ascending, level :math:`l` of a grid anchored at position :math:`s_0`
    and level :math:`l_0` (:math:`m_0 = n - s_0` values over :math:`L_0 = \text{bins} - l_0 + 1` levels)
    ends before position

    .. math:: e_l = s_0 + \left\lfloor \frac{(l - l_0 + 1)(m_0 - 1)}{L_0} \right\rfloor + 1,

    which with :math:`s_0 = 0, l_0 = 1` is the bin of :func:`~socialvalue.models._ranks.quantile_scores`, so
    **distinct values get exactly the quantile scores**. Ties are never split: the whole group of equal values
    that holds position :math:`e_l - 1` stays in level :math:`l`, the lowest level it spans. When a group
    ends past :math:`e_l`, the grid is re-anchored after it, so the values above are spread evenly over the
    remaining levels instead of skipping the levels the group covered. When there are at least ``bins``
    distinct values each level also takes at least one of them and leaves at least one for each level
    above, so **every level 1..bins is used**; with fewer distinct values some levels stay empty (a single
    value scores 1).

    On order counts where 60 % of customers have one order, those customers all score 1, the two-order
    customers 2 and so on, where quantiles with averaged ties give every one-order customer 2 and nobody 1.

    Parameters
    ----------
    values
        Finite values (no NaN; callers handle missing values before).
    bins
        Number of scores.
    higher_is_better
        When False (recency in days), small values get high scores.

    Returns
    -------
    numpy.ndarray
        ``int8`` scores in 1..``bins``.

    Examples
    --------
    >>> dense_scores(np.array([1, 1, 1, 1, 1, 1, 2, 2, 3, 4, 7]), 5).tolist()
    [1, 1, 1, 1, 1, 1, 2, 2, 3, 4, 5]
    """
    x = np.asarray(values, dtype=float)
    n = x.size
    if n == 0:
        return np.zeros(0, dtype=np.int8)
    if not higher_is_better:
        x = -x
    order = np.argsort(x, kind="stable")
    xs = x[order]
    bounds = np.r_[np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]]), n]  # group g spans bounds[g]:bounds[g+1]
    k = bounds.size - 1
    group_level = np.zeros(k, dtype=np.int8)
    g, s0, level0 = 0, 0, 1
    for level in range(1, bins + 1):
        if g >= k:
            break
        if level == bins:
            end_group = k
        else:
            target = s0 + (level - level0 + 1) * (n - s0 - 1) // (bins - level0 + 1) + 1
            end_group = max(int(np.searchsorted(bounds, target - 1, side="right")), g)
            if k >= bins:  # at least one group here, and one left for every level above
                end_group = min(max(end_group, g + 1), k - (bins - level))
            if bounds[end_group] != target:
                s0, level0 = int(bounds[end_group]), level + 1
        group_level[g:end_group] = level
        g = end_group
    out = np.empty(n, dtype=np.int8)
    out[order] = np.repeat(group_level, np.diff(bounds))
    return out


def rfm_scores(
    features: pd.DataFrame,
    *,
    config: RFMConfig | None = None,
    recency: str = "days_since_last_purchase",
    frequency: str = "n_orders",
    monetary: str = "total_spend",
    customer_id: str = "customer_id",
) -> pd.DataFrame:
    r"""R, F, M scores (1..bins, 0 for non-purchasers), the FM score and the RFM cell of each customer.

    Parameters
    ----------
    features
        One row per customer with the named columns (the feature table). Not modified.
    config
        Scoring method of each of R, F, M and the tie convention of quantiles; :func:`load_rfm_config` when
        None (quantiles for R and M, dense quantiles for F).
    recency, frequency, monetary, customer_id
        Column names (defaults: the feature-table contract). Recency is "days since last purchase", so
        fewer days score higher.

    Returns
    -------
    pandas.DataFrame
        Same index as ``features``: ``customer_id``, ``r_score``, ``f_score``, ``m_score``, ``fm_score``
        (:math:`\lceil (F+M)/2 \rceil`), ``rfm_cell`` (e.g. ``"545"``, ``"000"`` without purchase) and
        ``has_purchase``.

    References
    ----------
    .. [1] Hughes, A. M. (1994). *Strategic Database Marketing*. Probus. (RFM quintile scoring.)
    """
    config = config or load_rfm_config()
    require_columns(features, [customer_id, recency, frequency, monetary], "rfm_scores")
    rec, freq, mon = (numeric(features, c) for c in (recency, frequency, monetary))
    has = np.isfinite(rec)
    if "n_orders" in features.columns:
        has &= numeric(features, "n_orders") > 0
    freq = np.nan_to_num(freq)
    mon = np.nan_to_num(mon)
    ids = features[customer_id].to_numpy() if config.ties == "first" else None
    n = len(features)
    out = {}
    for key, x, spec, up in (
        ("r_score", rec, config.recency, False),
        ("f_score", freq, config.frequency, True),
        ("m_score", mon, config.monetary, True),
    ):
        score = np.zeros(n, dtype=np.int8)
        if spec.method == "thresholds":
            score[has] = threshold_scores(x[has], spec.thresholds or (), higher_is_better=up)
        elif spec.method == "dense":
            score[has] = dense_scores(x[has], spec.bins, higher_is_better=up)
        else:
            score[has] = quantile_scores(
                x[has],
                spec.bins,
                ties=config.ties,
                tiebreak=None if ids is None else ids[has],
                higher_is_better=up,
            )
        out[key] = score
    fm = np.where(has, _fm(out["f_score"], out["m_score"]), 0).astype(np.int8)
    code = out["r_score"].astype(np.int16) * 100 + out["f_score"] * 10 + out["m_score"]
    cells = _CELLS[code]  # lookup instead of formatting a million strings
    return pd.DataFrame(
        {
            customer_id: features[customer_id].to_numpy(),
            "r_score": out["r_score"],
            "f_score": out["f_score"],
            "m_score": out["m_score"],
            "fm_score": fm,
            "rfm_cell": cells,
            "has_purchase": has,
        },
        index=features.index,
    )


def assign_segments(
    scores: pd.DataFrame, segment_map: SegmentMap | None = None, *, config: RFMConfig | None = None
) -> pd.Series:
    """Name each scored customer's segment: first matching rule; the ``no_purchase`` name for score 0.

    The map's coverage of the score grid is checked first (``config`` gives the grid size), so a customer
    can never fall through the map.

    Raises
    ------
    ConfigError
        If some (r, f, m) cell is not covered (the message lists them).
    """
    segment_map = segment_map or load_segment_map()
    config = config or load_rfm_config()
    segment_map.check_coverage(config.recency.n_scores, config.frequency.n_scores, config.monetary.n_scores)
    require_columns(scores, ["r_score", "f_score", "m_score"], "assign_segments")
    r, f, m = (scores[c].to_numpy(dtype=np.int16) for c in ("r_score", "f_score", "m_score"))
    fm = _fm(f, m)
    masks = [rule.matches(r, f, m, fm) for rule in segment_map.segments]
    names = np.asarray([rule.name for rule in segment_map.segments] + [segment_map.no_purchase], dtype=object)
    idx = np.select(masks, np.arange(len(masks)), default=len(masks))
    idx[r == 0] = len(masks)
    return pd.Series(names[idx], index=scores.index, name="rfm_segment")


def rfm_segments(
    features: pd.DataFrame,
    *,
    config: RFMConfig | None = None,
    segment_map: SegmentMap | None = None,
    recency: str = "days_since_last_purchase",
    frequency: str = "n_orders",
    monetary: str = "total_spend",
    customer_id: str = "customer_id",
) -> pd.DataFrame:
    """:func:`rfm_scores` plus the ``rfm_segment`` column, in one call."""
    config = config or load_rfm_config()
    scores = rfm_scores(
        features,
        config=config,
        recency=recency,
        frequency=frequency,
        monetary=monetary,
        customer_id=customer_id,
    )
    scores["rfm_segment"] = assign_segments(scores, segment_map, config=config)
    return scores


def segment_summary(
    segmented: pd.DataFrame,
    *,
    revenue: str | np.ndarray | pd.Series = "total_spend",
    clv: np.ndarray | pd.Series | None = None,
    segment: str = "rfm_segment",
    segment_map: SegmentMap | None = None,
) -> pd.DataFrame:
    """Size, revenue share and mean CLV of each segment.

    Parameters
    ----------
    segmented
        A frame with the ``segment`` column (e.g. :func:`rfm_segments` joined to the features).
    revenue
        Column name of ``segmented`` or an array aligned with its rows (historic revenue).
    clv
        Optional per-customer CLV aligned with the rows; ``mean_clv`` is NaN without it.
    segment_map
        Gives the row order (map order, then "No purchase"); segments with no members are listed with 0.

    Returns
    -------
    pandas.DataFrame
        Indexed by segment: ``customers``, ``customer_share``, ``revenue``, ``revenue_share`` (sums to 1 when
        total revenue is positive), ``mean_clv``.
    """
    segment_map = segment_map or load_segment_map()
    require_columns(segmented, [segment, revenue if isinstance(revenue, str) else None], "segment_summary")
    seg = segmented[segment].to_numpy()
    rev = numeric(segmented, revenue) if isinstance(revenue, str) else np.asarray(revenue, dtype=float)
    frame = pd.DataFrame({"segment": seg, "revenue": np.nan_to_num(rev)})
    frame["clv"] = np.nan if clv is None else np.asarray(clv, dtype=float)
    g = frame.groupby("segment", sort=False)
    out = pd.DataFrame({"customers": g.size(), "revenue": g["revenue"].sum(), "mean_clv": g["clv"].mean()})
    order = [*segment_map.names, *[s for s in out.index if s not in segment_map.names]]
    out = out.reindex(order)
    out["customers"] = out["customers"].fillna(0).astype(np.int64)
    out["revenue"] = out["revenue"].fillna(0.0)
    n, total = out["customers"].sum(), out["revenue"].sum()
    out.insert(1, "customer_share", out["customers"] / n if n else 0.0)
    out["revenue_share"] = out["revenue"] / total if total > 0 else 0.0
    out.index.name = "segment"
    return out[["customers", "customer_share", "revenue", "revenue_share", "mean_clv"]]
