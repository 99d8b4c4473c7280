"""Typed request and response models of the API (they are its OpenAPI description)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "ActionsOut",
    "ChangesOut",
    "CustomerOut",
    "CustomerPage",
    "ErasureOut",
    "ExperimentsOut",
    "HealthOut",
    "InfluencersOut",
    "IngestOut",
    "InsightOut",
    "OverviewOut",
    "ProblemOut",
    "RunIn",
    "RunJobOut",
    "RunsOut",
    "SegmentsOut",
]


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class ProblemOut(_Out):
    """An RFC 9457 problem document (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


class Published(_Out):
    run_id: str
    as_of: str


class HealthOut(_Out):
    """``GET /health``."""

    status: Literal["ok"]
    published: Published | None


class RunInfo(_Out):
    run_id: str | None
    as_of: str | None
    previous_as_of: str | None
    published_at: str | None
    currency: str | None
    clv_horizon: str | None


class Kpis(_Out):
    customers: int
    total_value: float
    total_clv: float
    total_social_value: float
    mean_value: float | None
    churn_alerts: int
    influencers: int
    customers_with_action: int


class Distribution(_Out):
    measure: str
    edges: list[float]
    counts: list[int]
    note: str


class Champion(_Out):
    role: str
    champion: str | None
    baseline: str | None
    metric: str
    margin: float | None
    baseline_won: bool
    sentence: str | None


class SegmentCount(_Out):
    segment: str | None
    customers: int
    value: float


class StageCount(_Out):
    stage: str | None
    customers: int


class OverviewOut(_Out):
    """``GET /overview``."""

    run: RunInfo
    kpis: Kpis
    value_distribution: Distribution
    segments: list[SegmentCount]
    stages: list[StageCount]
    champions: list[Champion]


class Transition(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: str | None = Field(alias="from")
    to: str | None
    customers: int


class Slipping(_Out):
    customer_id: str
    stage_before: str | None
    stage_now: str | None
    value_before: float | None
    value_now: float | None
    value_change: float | None


class Moved(_Out):
    customers_compared: int
    value_before: float
    value_now: float
    gained: float
    lost: float


class ChangesOut(_Out):
    """``GET /changes``."""

    as_of: str | None
    previous_as_of: str | None
    currency: str | None
    transitions: list[Transition]
    slipping: list[Slipping]
    value_moved: Moved


class Component(_Out):
    name: str
    value: float | None


class Value(_Out):
    total: float | None
    source: str | None
    clv: float | None
    social_value: float | None
    components: list[Component]
    top_contributors: list[Component]


class Churn(_Out):
    risk: float | None
    alert: bool | None
    source: str | None
    reasons: list[str]


class Action(_Out):
    action: str | None
    label: str | None
    channel: str | None
    cost: float | None
    expected_value: float | None
    net_value: float | None
    reason: str | None


class HistoryPoint(_Out):
    as_of: str
    value: float | None
    clv: float | None
    social_value: float | None
    segment: str | None
    lifecycle_stage: str | None
    churn_risk: float | None
    action: str | None


class CustomerOut(_Out):
    """``GET /customers/{id}``."""

    customer_id: str
    as_of: str
    currency: str | None
    value: Value
    segment: str | None
    lifecycle_stage: str | None
    tier: str | None
    cluster_name: str | None
    rfm_segment: str | None
    churn: Churn
    action: Action
    scores: dict[str, Any]
    history: list[HistoryPoint]


class CustomerRow(_Out):
    customer_id: str
    value: float | None
    clv: float | None
    social_value: float | None
    segment: str | None
    lifecycle_stage: str | None
    tier: str | None
    churn_risk: float | None
    action: str | None


class CustomerPage(_Out):
    """``GET /customers``: one page."""

    run_id: str | None
    as_of: str | None
    items: list[CustomerRow]
    next_cursor: str | None


class SegmentRow(_Out):
    segment: str | None
    customers: int
    value: float
    clv: float
    social_value: float
    churn_alerts: int


class TierCount(_Out):
    tier: str | None
    customers: int


class SegmentsOut(_Out):
    """``GET /segments``."""

    as_of: str | None
    currency: str | None
    segments: list[SegmentRow]
    stages: list[StageCount]
    tiers: list[TierCount]


class Influencer(_Out):
    customer_id: str
    influencer_score: float | None
    social_value: float | None
    spread: float | None
    followers: int | None
    reach_2hop: int | None
    pagerank: float | None


class Edge(_Out):
    source: str
    target: str


class InfluencersOut(_Out):
    """``GET /influencers``."""

    as_of: str | None
    items: list[Influencer]
    edges: list[Edge]


class ActionRow(_Out):
    action: str | None
    label: str | None
    customers: int
    cost: float
    expected_value: float
    net_value: float


class ActionsOut(_Out):
    """``GET /actions``."""

    as_of: str | None
    currency: str | None
    actions: list[ActionRow]


class InsightPart(_Out):
    """One analysis of ``GET /insight``: its tables (records) and one-line meaning, or why it is absent."""

    available: bool
    meaning: str | None = None
    reason: str | None = None
    notes: list[str] = Field(default_factory=list)


class InsightShares(_Out):
    """The share measures of ``GET /insight``, per customer (top contributors) and per segment."""

    content: InsightPart
    helpfulness: InsightPart
    time: InsightPart
    wallet: InsightPart
    segment_column: str | None = None


class InsightOut(_Out):
    """``GET /insight``: acquisition channels, sign-up cohorts, their lifecycle mix and shares of the run.

    ``available`` is false (with ``reason``) when the published run recorded no insight: a run on the Spark
    engine, with ``[insight] enabled = false``, or made before the analyses existed.
    """

    run: RunInfo
    available: bool
    reason: str | None = None
    as_of: str | None = None
    currency: str | None = None
    clv_horizon: str | None = None
    channels: InsightPart | None = None
    cohorts: InsightPart | None = None
    lifecycle_mix: InsightPart | None = None
    shares: InsightShares | None = None


class VerdictRow(_Out):
    action: str
    segment: str
    n_treated: int
    n_control: int
    uplift: float | None
    lower: float | None
    upper: float | None
    cost: float | None
    net: float | None
    net_lower: float | None
    net_upper: float | None
    verdict: Literal["paid", "did not pay", "harmful", "not yet measured"]
    sentence: str | None


class UpliftRow(_Out):
    action: str
    segment: str
    metric: str
    n_treated: int
    n_control: int
    uplift: float | None
    lower: float | None
    upper: float | None
    status: str


class QiniOut(_Out):
    x: list[float]
    y: list[float]
    random: list[float]
    coefficient: float | None


class ExperimentsOut(_Out):
    """``GET /experiments``: whether each action paid, measured against its control group."""

    run_id: str | None = None
    as_of: str | None = None
    available: bool
    reason: str | None = None
    measured_at: str | None = None
    currency: str | None = None
    confidence: float | None = None
    window_days: int | None = None
    min_outcomes: int | None = None
    margin: float | None = None
    referral_value: float | None = None
    replaced: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    verdicts: list[VerdictRow] = Field(default_factory=list)
    uplift: list[UpliftRow] = Field(default_factory=list)
    values: dict[str, dict[str, float | None]] = Field(default_factory=dict)
    qini: dict[str, QiniOut] = Field(default_factory=dict)


class RunJobOut(_Out):
    """A run: a job of this server (status, stage) and, once published, its record."""

    run_id: str
    status: Literal["queued", "running", "finished", "failed"]
    as_of: str | None = None
    href: str | None = None


class RunsOut(_Out):
    """``GET /runs``."""

    items: list[RunJobOut]


class RunIn(BaseModel):
    """``POST /runs``: the scoring date."""

    model_config = ConfigDict(extra="forbid")
    as_of: str = Field(
        pattern=r"^(\d{4}-\d{2}-\d{2}|latest|today)$",
        description="YYYY-MM-DD, 'today' (UTC) or 'latest' (the day after the last order)",
    )

    @field_validator("as_of")
    @classmethod
    def _real_date(cls, value: str) -> str:
        if value not in ("latest", "today"):
            date.fromisoformat(value)  # ValueError -> 422: 2026-13-45 is no date
        return value


class IngestOut(_Out):
    """``POST /ingest/{kind}``."""

    kind: str
    rows_in: int
    rows_inserted: int
    rows_updated: int
    rows_unchanged: int
    skipped: bool


class ErasureOut(_Out):
    """``DELETE /customers/{id}``."""

    erased: bool
    erasure_id: str
    rows_removed: int
