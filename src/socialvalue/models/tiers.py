r"""Value tiers (platinum/gold/silver/bronze) by percentiles or thresholds of CLV or social value.

The basis value :math:`v_i` of each customer (CLV by default) is compared with each tier's ``min`` in order,
best tier first. With ``method = "percentile"`` the comparison is on

.. math:: q_i = \frac{\#\{j : v_j < v_i\}}{n},

the share of customers with a strictly lower value, so tied customers share a tier and the top 1% is
:math:`q_i \ge 0.99`; with ``method = "threshold"`` it is on :math:`v_i` itself. Customers with a missing
basis value get the lowest tier.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from socialvalue.config import ConfigModel
from socialvalue.models.defaults import load_config

__all__ = ["Tier", "TierConfig", "assign_tiers", "load_tier_config", "tier_summary"]


class Tier(ConfigModel):
    """A tier and its lower bound (a percentile in [0, 1] or a basis value)."""

    name: str = Field(min_length=1)
    min: float


class TierConfig(ConfigModel):
    """Tiers best first, the basis they are computed on and how (defaults in ``defaults/tiers.toml``)."""

    basis: str = "clv"
    method: Literal["percentile", "threshold"] = "percentile"
    tiers: tuple[Tier, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> TierConfig:
        mins = [t.min for t in self.tiers]
        if any(b >= a for a, b in itertools.pairwise(mins)):
            raise ValueError("tiers must be listed best first with strictly decreasing min")
        if self.method == "percentile":
            if not all(0 <= m <= 1 for m in mins):
                raise ValueError("percentile tiers need min in [0, 1]")
            if mins[-1] != 0:
                raise ValueError("the last percentile tier must have min = 0 so every customer gets a tier")
        if len({t.name for t in self.tiers}) != len(self.tiers):
            raise ValueError("tier names must be unique")
        return self

    @property
    def names(self) -> list[str]:
        """Tier names, best first."""
        return [t.name for t in self.tiers]


def load_tier_config(path: str | Path | None = None) -> TierConfig:
    """Read a :class:`TierConfig` from TOML; the packaged default when ``path`` is None."""
    return load_config(path, "tiers.toml", TierConfig)


def _lower_share(v: np.ndarray) -> np.ndarray:
    """Share of finite values strictly below each value (NaN for NaN)."""
    ok = np.isfinite(v)
    out = np.full(v.shape, np.nan)
    finite = np.sort(v[ok])
    out[ok] = np.searchsorted(finite, v[ok], side="left") / max(1, finite.size)
    return out


def assign_tiers(values: np.ndarray | pd.Series, config: TierConfig | None = None) -> np.ndarray:
    """Tier name of each customer from the basis ``values`` (object array, best tier first in config order)."""
    config = config or load_tier_config()
    v = np.asarray(values, dtype=float)
    x = _lower_share(v) if config.method == "percentile" else v
    masks = [x >= t.min for t in config.tiers]  # NaN compares false
    names = np.asarray(config.names, dtype=object)
    idx = np.select(masks, np.arange(len(masks)), default=len(masks) - 1)
    return names[idx]


def tier_summary(
    tiers: np.ndarray | pd.Series,
    revenue: np.ndarray | pd.Series,
    *,
    basis: np.ndarray | pd.Series | None = None,
    config: TierConfig | None = None,
) -> pd.DataFrame:
    """Members, customer share, revenue and revenue share per tier (best first; shares sum to 1).

    Parameters
    ----------
    tiers
        Tier of each customer (:func:`assign_tiers`).
    revenue
        Revenue of each customer (historic spend, or CLV for the expected share); NaN counts as 0.
    basis
        Optional basis values, for ``mean_basis``/``min_basis`` per tier.
    """
    config = config or load_tier_config()
    frame = pd.DataFrame(
        {"tier": np.asarray(tiers), "revenue": np.nan_to_num(np.asarray(revenue, dtype=float))}
    )
    frame["basis"] = np.nan if basis is None else np.asarray(basis, dtype=float)
    g = frame.groupby("tier", sort=False)
    out = pd.DataFrame(
        {
            "customers": g.size(),
            "revenue": g["revenue"].sum(),
            "mean_basis": g["basis"].mean(),
            "min_basis": g["basis"].min(),
        }
    ).reindex(config.names)
    out["customers"] = out["customers"].fillna(0).astype(np.int64)
    out["revenue"] = out["revenue"].fillna(0.0)
    n, total = out["customers"].sum(), out["revenue"].sum()
    out.insert(1, "customer_share", out["customers"] / n if n else 0.0)
    out.insert(3, "revenue_share", out["revenue"] / total if total > 0 else 0.0)
    out.index.name = "tier"
    return out
