r"""RFM scores, cells, named segments (validated TOML segment maps) and the segment summary table.

Conventions (see ``docs/segments.md``):

* R, F and M are scored 1..``bins`` (5 by default) among customers **with at least one purchase**, by
  equal-frequency bins (:func:`socialvalue.models._ranks.quantile_scores`) or fixed thresholds. R is reversed:
  the most recent customers get the highest score.
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
    "load_rfm_config",
    "load_segment_map",
    "rfm_scores",
    "rfm_segments",
    "segment_summary",
]

logger = logging.getLogger(__name__)
_CELLS = np.array([f"{i:03d}" for i in range(1000)], dtype=object)


class ScoreBins(ConfigModel):
    """How one of R, F, M is scored: ``bins`` quantile bins, or fixed ascending ``thresholds``."""

    bins: int = Field(5, ge=2, le=9)
    thresholds: tuple[float, ...] | None = None

    @model_validator(mode="after")
    def _check(self) -> ScoreBins:
        if self.thresholds is not None:
            t = np.asarray(self.thresholds, dtype=float)
            if t.size == 0 or t.size > 8 or np.any(np.diff(t) <= 0):
                raise ValueError("thresholds must be 1 to 8 strictly increasing numbers")
        return self

    @property
    def n_scores(self) -> int:
        """The highest score (number of bins)."""
        return self.bins if self.thresholds is None else len(self.thresholds) + 1


class RFMConfig(ConfigModel):
    """Scoring of recency, frequency and monetary value (defaults in ``defaults/rfm.toml``)."""

    ties: Literal["average", "first"] = "average"
    recency: ScoreBins = ScoreBins()
    frequency: ScoreBins = ScoreBins()
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
        Bins/thresholds and tie convention; :func:`load_rfm_config` when None.
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
        if spec.thresholds is not None:
            score[has] = threshold_scores(x[has], spec.thresholds, higher_is_better=up)
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
