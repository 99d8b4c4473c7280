r"""The user value coefficient: one 0-100 index per customer combining purchase and social value.

Each component :math:`k` (CLV, repurchase rate, conversion, engagement, referral, word of mouth — see
``defaults/value_coefficient.toml``) is turned into its mid-rank percentile over all customers,

.. math:: p_{ik} = \frac{\bar r_{ik} - 1/2}{n} \in (0, 1),

with tied values sharing their average rank :math:`\bar r_{ik}` and a missing value set to ``missing`` (0.5).
The index is the weighted arithmetic mean :math:`V_i = 100 \sum_k w_k p_{ik} / \sum_k w_k` or, with
``combine = "geometric"``, :math:`V_i = 100 \exp(\sum_k w_k \log p_{ik} / \sum_k w_k)`, which punishes
being weak on any one component. Percentiles make components of different units and skew commensurable, and
make :math:`V` comparable across segments: a 90 is in the top decile of the blend wherever the customer sits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from socialvalue.config import ConfigModel
from socialvalue.errors import SchemaError
from socialvalue.models._ranks import midrank_percentile
from socialvalue.models._rules import as_array, numeric
from socialvalue.models.defaults import load_config

__all__ = [
    "Component",
    "ValueCoefficientConfig",
    "ValueDistribution",
    "load_value_coefficient_config",
    "value_coefficient",
    "value_coefficient_distribution",
]

logger = logging.getLogger(__name__)


class Component(ConfigModel):
    """One component: ``(sum(columns) + offset) / sum(per)``; ``"clv"`` names the CLV array."""

    weight: float = Field(gt=0)
    columns: tuple[str, ...] = Field(min_length=1)
    offset: float = 0.0
    per: tuple[str, ...] = ()
    min_per: float = 0.0


class ValueCoefficientConfig(ConfigModel):
    """Components, weights and the combination rule (defaults in ``defaults/value_coefficient.toml``)."""

    combine: Literal["arithmetic", "geometric"] = "arithmetic"
    scale: float = Field(100.0, gt=0)
    missing: float = Field(0.5, gt=0, lt=1)
    components: dict[str, Component] = Field(min_length=1)


def load_value_coefficient_config(path: str | Path | None = None) -> ValueCoefficientConfig:
    """Read a :class:`ValueCoefficientConfig` from TOML; the packaged default when ``path`` is None."""
    return load_config(path, "value_coefficient.toml", ValueCoefficientConfig)


def _component(frame: pd.DataFrame, clv: np.ndarray | None, spec: Component) -> np.ndarray:
    """``(sum(columns) + offset)`` clipped at 0, over ``max(sum(per), min_per)``; NaN when unknown."""

    def col(name: str) -> np.ndarray:
        return clv if name == "clv" else numeric(frame, name)

    cols = [col(c) for c in spec.columns]
    all_missing = np.logical_and.reduce([np.isnan(c) for c in cols])
    num = np.maximum(sum(np.nan_to_num(c) for c in cols) + spec.offset, 0.0)
    num = np.where(all_missing, np.nan, num)
    if not spec.per:
        return num
    den = sum(np.nan_to_num(col(c)) for c in spec.per)
    ok = den > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ok, num / np.maximum(np.where(ok, den, 1.0), spec.min_per), np.nan)


def value_coefficient(
    features: pd.DataFrame,
    clv: np.ndarray | pd.Series | None = None,
    *,
    config: ValueCoefficientConfig | None = None,
    return_components: bool = False,
) -> pd.Series | pd.DataFrame:
    """The user value coefficient (0-100) of every row of ``features``.

    Parameters
    ----------
    features
        The feature table (not modified).
    clv
        CLV per row (positional), for components naming ``"clv"``; those are dropped when it is None.
    config
        Components and weights; :func:`load_value_coefficient_config` when None.
    return_components
        Also return each component's percentile (columns ``vc_<name>``).

    Returns
    -------
    pandas.Series or pandas.DataFrame
        ``value_coefficient`` (index of ``features``); ``attrs["components"]`` lists the components used
        and their normalized weights.

    Raises
    ------
    SchemaError
        If no component can be computed from the frame.
    """
    config = config or load_value_coefficient_config()
    n = len(features)
    clv_arr = None if clv is None else as_array(clv, n, "clv")
    have = set(features.columns) | ({"clv"} if clv_arr is not None else set())
    used: dict[str, float] = {}
    parts: dict[str, np.ndarray] = {}
    for name, spec in config.components.items():
        lacking = [c for c in (*spec.columns, *spec.per) if c not in have]
        if lacking:
            logger.info("value coefficient: component %r dropped (no column %s)", name, ", ".join(lacking))
            continue
        pct = midrank_percentile(_component(features, clv_arr, spec))
        parts[name] = np.where(np.isnan(pct), config.missing, pct)
        used[name] = spec.weight
    if not parts:
        raise SchemaError(
            "value_coefficient: none of the configured components can be computed from the frame"
        )
    total = sum(used.values())
    weights = {k: w / total for k, w in used.items()}
    if config.combine == "geometric":
        vc = np.exp(sum(w * np.log(parts[k]) for k, w in weights.items()))
    else:
        vc = sum(w * parts[k] for k, w in weights.items())
    result = pd.Series(config.scale * vc, index=features.index, name="value_coefficient")
    result.attrs["components"] = weights
    if not return_components:
        return result
    out = pd.DataFrame({f"vc_{k}": v for k, v in parts.items()}, index=features.index)
    out["value_coefficient"] = result
    out.attrs["components"] = weights
    return out


@dataclass(frozen=True)
class ValueDistribution:
    """Distribution of the value coefficient.

    Attributes
    ----------
    quantiles
        One row per group (``"all"`` without grouping): ``n``, ``mean`` and the requested quantiles.
    histogram
        ``bin_left``, ``bin_right``, ``count``, ``share`` over equal-width bins of [0, scale].
    """

    quantiles: pd.DataFrame
    histogram: pd.DataFrame


def value_coefficient_distribution(
    values: pd.Series | np.ndarray,
    *,
    by: pd.Series | np.ndarray | None = None,
    quantiles: tuple[float, ...] = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99),
    bins: int = 20,
    scale: float = 100.0,
) -> ValueDistribution:
    """Quantiles (overall, or per group such as RFM segment or tier) and a histogram of the coefficient."""
    v = pd.Series(np.asarray(values, dtype=float))
    groups = pd.Series("all", index=v.index) if by is None else pd.Series(np.asarray(by), index=v.index)
    g = v.groupby(groups, sort=True)
    q = g.quantile(list(quantiles)).unstack()
    q.columns = [f"q{round(100 * c, 3):g}" for c in q.columns]
    table = pd.concat([g.size().rename("n"), g.mean().rename("mean"), q], axis=1)
    table.index.name = "group"
    edges = np.linspace(0.0, scale, bins + 1)
    counts, _ = np.histogram(v.dropna().to_numpy(), bins=edges)
    hist = pd.DataFrame(
        {
            "bin_left": edges[:-1],
            "bin_right": edges[1:],
            "count": counts,
            "share": counts / max(1, counts.sum()),
        }
    )
    return ValueDistribution(quantiles=table, histogram=hist)
