"""Lifecycle stages (introduction, growth, maturity, decline, churned) from TOML rules, and stage transitions.

The stage of each customer is decided by an ordered list of rules (``defaults/lifecycle.toml``), each a
conjunction of ``column op number`` conditions evaluated with numpy over the whole frame; the first matching
rule wins. The inputs are the feature table's tenure and 90-day windows, the fitted BTYD model's P(alive) and
two derived trends (:func:`lifecycle_inputs`). :func:`stage_transitions` compares two as-of dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from socialvalue.config import ConfigModel
from socialvalue.models._rules import (
    Condition,
    as_array,
    first_match,
    numeric,
    parse_condition,
    require_columns,
    require_names,
    rule_mask,
)
from socialvalue.models.defaults import load_config

__all__ = [
    "LifecycleConfig",
    "LifecycleRule",
    "StageTransitions",
    "lifecycle_inputs",
    "lifecycle_stage",
    "load_lifecycle_config",
    "stage_transitions",
    "trend",
]

_WINDOW_COLUMNS = ("orders_last_90d", "orders_prev_90d", "interactions_last_90d", "interactions_prev_90d")


class LifecycleRule(ConfigModel):
    """``stage`` applies when every condition in ``when`` holds (e.g. ``"p_alive < 0.2"``)."""

    stage: str
    when: tuple[str, ...] = Field(min_length=1)
    reason: str = ""

    @field_validator("when")
    @classmethod
    def _parse(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for text in v:
            parse_condition(text)
        return v

    @property
    def conditions(self) -> list[Condition]:
        """The parsed conditions."""
        return [parse_condition(t) for t in self.when]


class LifecycleConfig(ConfigModel):
    """Stages, their health order, the ordered rules and the stage of customers no rule matches."""

    stages: tuple[str, ...] = Field(min_length=1)
    default_stage: str
    health: dict[str, int]
    rules: tuple[LifecycleRule, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> LifecycleConfig:
        known = set(self.stages)
        unknown = sorted({r.stage for r in self.rules} - known | ({self.default_stage} - known))
        if unknown:
            raise ValueError(f"stage(s) {unknown} not among stages {list(self.stages)}")
        if set(self.health) != known:
            raise ValueError(f"health must give a number for exactly the stages {list(self.stages)}")
        return self

    @property
    def columns(self) -> list[str]:
        """Every column the rules read."""
        return list(dict.fromkeys(c.column for r in self.rules for c in r.conditions))


def load_lifecycle_config(path: str | Path | None = None) -> LifecycleConfig:
    """Read a :class:`LifecycleConfig` from TOML; the packaged default when ``path`` is None."""
    return load_config(path, "lifecycle.toml", LifecycleConfig)


def trend(last: np.ndarray, prev: np.ndarray) -> np.ndarray:
    r"""Symmetric change between two windows, :math:`(x_1 - x_0)/(x_1 + x_0) \in [-1, 1]`, 0 when both are 0.

    Bounded, so one light buyer going from 1 to 0 orders is -1, not "-100% of a tiny base" blown up; -1/3
    means the count halved, +1/3 that it doubled.
    """
    last = np.asarray(last, dtype=float)
    prev = np.asarray(prev, dtype=float)
    total = last + prev
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(
            total > 0, (last - prev) / np.where(total > 0, total, 1.0), np.where(np.isnan(total), np.nan, 0.0)
        )


def lifecycle_inputs(features: pd.DataFrame, p_alive: np.ndarray | pd.Series | None = None) -> pd.DataFrame:
    """The frame the rules see: numeric feature columns, ``p_alive`` and the two trends.

    ``purchase_trend`` = :func:`trend` of ``orders_last_90d`` vs ``orders_prev_90d`` and ``interaction_trend``
    of ``interactions_last_90d`` vs ``interactions_prev_90d`` (when those columns exist).
    """
    n = len(features)
    cols: dict[str, np.ndarray] = {}
    if p_alive is not None:
        cols["p_alive"] = as_array(p_alive, n, "p_alive")
    if {"orders_last_90d", "orders_prev_90d"} <= set(features.columns):
        cols["purchase_trend"] = trend(
            numeric(features, "orders_last_90d"), numeric(features, "orders_prev_90d")
        )
    if {"interactions_last_90d", "interactions_prev_90d"} <= set(features.columns):
        cols["interaction_trend"] = trend(
            numeric(features, "interactions_last_90d"), numeric(features, "interactions_prev_90d")
        )
    return pd.DataFrame(cols, index=features.index)


def lifecycle_stage(
    features: pd.DataFrame,
    p_alive: np.ndarray | pd.Series | None = None,
    *,
    config: LifecycleConfig | None = None,
    return_reason: bool = False,
) -> pd.Series | pd.DataFrame:
    """Assign a lifecycle stage to every row of ``features`` by the first matching rule.

    Parameters
    ----------
    features
        The feature table (or any frame with the columns the rules name). Not modified.
    p_alive
        P(alive) from the fitted BTYD model, one per row (positional). Needed by rules naming ``p_alive``.
    config
        Rules; :func:`load_lifecycle_config` when None.
    return_reason
        Also return the matching rule's ``reason`` (column ``lifecycle_reason``).

    Returns
    -------
    pandas.Series or pandas.DataFrame
        ``lifecycle_stage`` (index of ``features``), with ``lifecycle_reason`` when asked.

    Raises
    ------
    SchemaError
        If a rule names a column that is neither in ``features`` nor derived (e.g. ``p_alive`` not given).
    """
    config = config or load_lifecycle_config()
    derived = lifecycle_inputs(features, p_alive)
    needed = config.columns
    require_names(set(features.columns) | set(derived.columns), needed, "the lifecycle rules")
    n = len(features)
    columns = {c: derived[c].to_numpy() if c in derived.columns else numeric(features, c) for c in needed}
    masks = [rule_mask(columns, r.conditions, n) for r in config.rules]
    stages = first_match(masks, [r.stage for r in config.rules], config.default_stage, n)
    stage = pd.Series(stages, index=features.index, name="lifecycle_stage")
    if not return_reason:
        return stage
    reasons = first_match(masks, [r.reason for r in config.rules], "no decline or growth signal", n)
    return pd.DataFrame({"lifecycle_stage": stages, "lifecycle_reason": reasons}, index=features.index)


@dataclass(frozen=True)
class StageTransitions:
    """Movement between lifecycle stages from one as-of date to the next.

    Attributes
    ----------
    counts
        Customers by stage before (rows, plus ``"(new)"`` for customers absent before) and after (columns,
        plus ``"(gone)"`` for customers absent after).
    shares
        ``counts`` divided by row totals (0 for empty rows): where each stage's customers went.
    slipping
        ``customer_id``, ``stage_before``, ``stage_after`` of customers whose stage health went down.
    """

    counts: pd.DataFrame
    shares: pd.DataFrame
    slipping: pd.DataFrame


def stage_transitions(
    before: pd.DataFrame,
    after: pd.DataFrame,
    *,
    config: LifecycleConfig | None = None,
    customer_id: str = "customer_id",
    stage: str = "lifecycle_stage",
) -> StageTransitions:
    """Transition matrix (counts and row shares) between the stages at two as-of dates, and who slipped.

    Parameters
    ----------
    before, after
        Frames with ``customer_id`` and ``stage`` columns, one row per customer (e.g. two ``scores`` as-ofs).
    config
        Gives the stage order and the health order that defines slipping.
    """
    config = config or load_lifecycle_config()
    require_columns(before, [customer_id, stage], "stage_transitions (before)")
    require_columns(after, [customer_id, stage], "stage_transitions (after)")
    merged = pd.merge(
        before[[customer_id, stage]].rename(columns={stage: "stage_before"}),
        after[[customer_id, stage]].rename(columns={stage: "stage_after"}),
        on=customer_id,
        how="outer",
        validate="one_to_one",
    )
    sb = merged["stage_before"].astype(object).where(merged["stage_before"].notna(), "(new)")
    sa = merged["stage_after"].astype(object).where(merged["stage_after"].notna(), "(gone)")
    rows = [*config.stages, "(new)"]
    cols = [*config.stages, "(gone)"]
    counts = pd.crosstab(
        pd.Categorical(sb, categories=rows), pd.Categorical(sa, categories=cols), dropna=False
    )
    counts.index = pd.Index(rows, name="stage_before")
    counts.columns = pd.Index(cols, name="stage_after")
    totals = counts.sum(axis=1).to_numpy()[:, None]
    shares = pd.DataFrame(
        np.divide(counts.to_numpy(), totals, out=np.zeros(counts.shape), where=totals > 0),
        index=counts.index,
        columns=counts.columns,
    )
    health = pd.Series(config.health, dtype=float)
    hb = sb.map(health).to_numpy(dtype=float, na_value=np.nan)
    ha = sa.map(health).to_numpy(dtype=float, na_value=np.nan)
    down = ha < hb  # NaN (new/gone) compares false
    slipping = pd.DataFrame(
        {
            customer_id: merged[customer_id].to_numpy()[down],
            "stage_before": sb[down].to_numpy(),
            "stage_after": sa[down].to_numpy(),
        }
    ).reset_index(drop=True)
    return StageTransitions(counts=counts.astype(np.int64), shares=shares, slipping=slipping)
