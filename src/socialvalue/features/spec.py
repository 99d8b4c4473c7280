"""The shapes of the feature definitions: :class:`Feature`, :class:`Source` and :class:`FeatureConfig`.

A :class:`Feature` is one column of the feature table. Its ``expr`` is an aggregate SQL expression (DuckDB
dialect, written so that SQLGlot transpiles it to Spark SQL) evaluated over one :class:`Source`, a relation
grouped by customer. Features whose ``source`` is ``"final"`` are computed from other feature columns after
the join. The definitions (:mod:`socialvalue.features.definitions`, :mod:`socialvalue.features.sources`) and
the registry (:mod:`socialvalue.features.registry`) both build on these, so neither imports the other back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import Field, field_validator

from socialvalue.config import ConfigModel
from socialvalue.schema import CONTENT_KINDS, INTERACTION_KINDS, REFUND_STATUSES

__all__ = ["GROUPS", "Feature", "FeatureConfig", "Source"]

_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")

#: Display groups, in table order.
GROUPS: tuple[str, ...] = ("customer", "btyd", "rfm", "trend", "social", "holdout")


class FeatureConfig(ConfigModel):
    """What the feature engine computes: vocabularies, windows and order-status rules.

    Loadable from the ``[features]`` section of a TOML file with
    ``socialvalue.config.load_toml(path, FeatureConfig, section="features")``.
    """

    interaction_kinds: tuple[str, ...] = Field(default=INTERACTION_KINDS, min_length=1)
    content_kinds: tuple[str, ...] = Field(default=CONTENT_KINDS, min_length=1)
    interaction_windows_days: tuple[int, ...] = Field(default=(30, 90, 365), min_length=1)
    spend_windows_days: tuple[int, ...] = Field(default=(90, 365), min_length=1)
    trend_window_days: int = Field(default=90, gt=0)
    partner_window_days: int = Field(default=365, gt=0)
    cancelled_statuses: tuple[str, ...] = ("cancelled",)
    refund_statuses: tuple[str, ...] = REFUND_STATUSES

    @field_validator("interaction_kinds", "content_kinds", "cancelled_statuses", "refund_statuses")
    @classmethod
    def _identifiers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # Kinds become column names and SQL literals: only plain lower-case identifiers are accepted.
        bad = [v for v in value if not _IDENT.match(v)]
        if bad:
            raise ValueError(f"must be lower-case identifiers (a-z, 0-9, _), got {bad}")
        if len(set(value)) != len(value):
            raise ValueError("must not repeat a value")
        return value

    @field_validator("interaction_windows_days", "spend_windows_days")
    @classmethod
    def _windows(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(w <= 0 for w in value):
            raise ValueError("windows must be positive numbers of days")
        return tuple(sorted(set(value)))

    def all_windows(self) -> tuple[int, ...]:
        """Every window length (days) any feature uses, sorted."""
        trend = (self.trend_window_days, 2 * self.trend_window_days)
        return tuple(
            sorted(
                set(self.interaction_windows_days)
                | set(self.spend_windows_days)
                | set(trend)
                | {self.partner_window_days}
            )
        )


@dataclass(frozen=True)
class Source:
    """A relation aggregated by customer that features are computed over.

    ``sql`` is the ``FROM ... [WHERE ...]`` part (with ``{as_of}``-style placeholders); ``key`` is the
    customer-id expression grouped by; ``ctes`` names shared relations (``sources.base_ctes``) it reads.
    ``holdout`` sources run only when a holdout end is given.
    """

    name: str
    sql: str
    key: str
    description: str = ""
    holdout: bool = False
    ctes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Feature:
    """One column of the feature table.

    Attributes
    ----------
    name
        Column name (see the feature contract).
    group
        Display group: one of :data:`GROUPS`.
    description
        One line for ``socialvalue features --list``.
    unit
        Unit of the value: ``"periods"`` (the build's unit, days or weeks), ``"days"``, ``"count"``,
        ``"money"``, ``"ratio"``, ``"timestamp"``, ``"flag"``, ``"text"``, ``"stars"``.
    window_days
        Length of the trailing window ``[as_of - w days, as_of)`` it uses, ``None`` for all history.
    source
        Name of the :class:`Source` it aggregates, ``"customers"`` for customer attributes, or ``"final"``
        for an expression over other feature columns.
    expr
        SQL expression (DuckDB dialect, Spark-transpilable).
    fill
        SQL literal for customers absent from the source (``None``: stays NULL).
    sql_type
        Type the column is cast to.
    needs
        Feature columns a ``"final"`` expression reads.
    """

    name: str
    group: str
    description: str
    unit: str
    source: str
    expr: str
    window_days: int | None = None
    fill: str | None = None
    sql_type: str = "DOUBLE"
    needs: tuple[str, ...] = ()
