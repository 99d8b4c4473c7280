"""The run configuration (``socialvalue.toml``): one validated document for the whole pipeline.

Every section has documented defaults, so an empty file (or none) is a valid configuration::

    [run]
    unit = "W"              # time unit of the BTYD models: "W" weeks or "D" days
    holdout_periods = 26    # back-testing split: calibration ends `holdout_periods` units before as_of
    # horizon_periods = 52 # CLV horizon, in units (unset: the whole expected lifetime)
    annual_discount_rate = 0.10
    margin = 0.30           # contribution margin on revenue
    # currency = "EUR"      # reporting currency (unset: the orders' own currency)
    # exchange_rates = "rates.csv"   # currency,rate: needed when orders come in several currencies

    [models]
    spend_penalizer = 0.0          # the spend ladder: Gamma-Gamma, penalized Gamma-Gamma, shrunk mean spend
    spend_fallback_penalizer = 0.01

    [social]
    influencer_top_share = 0.02
    spread_half_life_days = 90

    [actions]
    playbook = "playbook.toml"   # optional: a playbook file; default: the built-in playbook
    budget = 50000               # optional: overrides the playbook's budget
    campaign = "campaign.csv"    # optional: past outcomes with treatment/control -> estimated uplift

    [experiment]                 # control groups held out on export, measured on later runs
    control_share = 0.10         # at least this share of each action's customers is held out
    # min_detectable_effect = 0.03   # raise the share until a 3-point lift is detectable
    window_days = 30             # outcomes count in the 30 days after the action

    [channels]                   # the acquisition-channel analysis
    costs = "channel_costs.csv"  # optional: channel,cost,currency -> cost per acquisition, value per cost

    [insight]                    # channel, cohort and share analyses (report, dashboard, GET /insight)
    cohort_period = "month"      # signup cohorts by "month" or "week"
    category_spend = "category_spend.csv"   # optional: estimated category spend -> wallet share

Unknown keys are errors (a typo fails loudly).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import Field

from socialvalue.config import ConfigModel, validate_config
from socialvalue.decisions.experiment import ExperimentConfig
from socialvalue.errors import ConfigError

__all__ = [
    "ActionsSection",
    "ChannelsSection",
    "InsightSection",
    "ModelsSection",
    "RunConfig",
    "RunSection",
    "SocialSection",
    "load_run_config",
]


class RunSection(ConfigModel):
    """Time unit, back-testing split and the money assumptions of CLV."""

    unit: Literal["W", "D"] = Field(
        default="W", description="Time unit of the purchase models: W weeks, D days."
    )
    holdout_periods: int = Field(
        default=26,
        gt=0,
        description="Back-testing: the calibration period ends this many units before as_of.",
    )
    horizon_periods: int | None = Field(
        default=None,
        gt=0,
        description="CLV horizon in units; unset: the whole expected lifetime (continuous discounting). The "
        "plain-rate fallback has no dropout and uses one year when unset.",
    )
    annual_discount_rate: float = Field(default=0.10, ge=0, lt=1, description="Annual discount rate of CLV.")
    margin: float = Field(default=0.30, gt=0, le=1, description="Contribution margin on revenue.")
    currency: str | None = Field(
        default=None,
        pattern=r"^[A-Z]{3}$",
        description="Reporting currency (ISO 4217); unset: the orders' own currency. Orders in several "
        "currencies need exchange_rates.",
    )
    exchange_rates: str | None = Field(
        default=None,
        description="CSV with columns currency,rate: units of the reporting currency per unit of each "
        "currency; amounts are converted for the run.",
    )
    churn_alert_share: float = Field(
        default=0.10, gt=0, lt=1, description="Share of customers the alert budget covers."
    )
    seed: int = Field(default=0, description="Random seed of every sampled step.")
    engine_memory_gb: float | None = Field(
        default=None,
        gt=0,
        description="Memory DuckDB may use before it spills to disk, in GB; unset: DuckDB's default (80% of "
        "the machine). Set it for very large runs so the models keep the rest.",
    )
    batch_rows: int = Field(
        default=250_000,
        ge=1,
        description="Customers scored per batch (Arrow record batch size): bounds the memory of per-customer "
        "scoring; results do not depend on it.",
    )
    model_metric: Literal["rmse", "mae", "total_error", "neg_corr"] = Field(
        default="mae", description="Holdout error the purchase models are ranked by."
    )


class ModelsSection(ConfigModel):
    """The fallback ladders of the purchase and spend models (see ``socialvalue.models.btyd.ladder``)."""

    purchase_models: tuple[Literal["BG/NBD", "MBG/NBD", "Pareto/NBD"], ...] = Field(
        default=("BG/NBD", "MBG/NBD", "Pareto/NBD"),
        min_length=1,
        description="Candidate purchase models, ranked on the holdout; the plain rate model is the last rung.",
    )
    purchase_penalizer: float = Field(
        default=0.0, ge=0, description="penalizer_coef of the purchase models (L2 on the parameters)."
    )
    spend_penalizer: float = Field(
        default=0.0, ge=0, description="penalizer_coef of the first Gamma-Gamma rung."
    )
    spend_fallback_penalizer: float = Field(
        default=0.01, ge=0, description="penalizer_coef of the second Gamma-Gamma rung."
    )
    degenerate_shape: float = Field(
        default=1e4,
        gt=1,
        description="A Gamma-Gamma fit with p or q above this is degenerate and passed over.",
    )
    shrinkage_orders: float = Field(
        default=1.0,
        gt=0,
        description="Last spend rung: pseudo-orders at the population mean when the shrinkage cannot be estimated.",
    )


class SocialSection(ConfigModel):
    """Graph and social-value settings."""

    influencer_top_share: float = Field(
        default=0.02, gt=0, lt=1, description="Share of customers flagged as influencers (by social value)."
    )
    spread_half_life_days: float = Field(
        default=90.0, gt=0, description="Half-life of an interaction's weight on an influence edge."
    )
    interaction_window_days: int = Field(
        default=365, gt=0, description="Interactions of the last N days build the influence graph."
    )
    propagation_days: float = Field(
        default=14.0, gt=0, description="Window tau for learning edge probabilities."
    )
    rr_sets: int = Field(
        default=200_000, gt=0, description="Reverse-reachable sets sampled to estimate influence spread."
    )
    network_top: int = Field(
        default=15, gt=0, description="Top customers drawn in the report's network picture."
    )


class ActionsSection(ConfigModel):
    """Where the playbook comes from and the budget."""

    playbook: str | None = Field(
        default=None,
        description="Playbook TOML (see `socialvalue playbook show`); unset: the built-in playbook.",
    )
    budget: float | None = Field(default=None, ge=0, description="Campaign budget; unset: the playbook's.")
    campaign: str | None = Field(
        default=None,
        description="Past campaign outcomes (CSV/Parquet: customer_id, action, treatment, outcome[, segment]); "
        "when given, uplift is estimated per action and segment instead of assumed.",
    )


class ChannelsSection(ConfigModel):
    """The acquisition-channel analysis: what each channel cost, and how channels are compared."""

    costs: str | None = Field(
        default=None,
        description="CSV with columns channel,cost,currency: what each acquisition channel cost over the "
        "period whose customers the run counts; gives cost per acquisition and value per unit cost (costs "
        "in another currency than the values are not compared). Unset: no cost columns.",
    )
    repeat_window_days: int = Field(
        default=90,
        gt=0,
        description="A buyer repeats when another purchase day follows within this many days.",
    )
    comparison: Literal["pairwise", "vs_rest"] = Field(
        default="pairwise",
        description="Channels are tested pairwise, or each against all the others pooled (Holm-adjusted).",
    )
    min_group: int = Field(
        default=20,
        ge=1,
        description="Fewest repeat-eligible customers a channel needs to be named in the meaning line.",
    )


class InsightSection(ConfigModel):
    """The channel, cohort and share analyses a run adds to its record, report and dashboard."""

    enabled: bool = Field(
        default=True, description="Compute the insight analyses (false: the run records why they are absent)."
    )
    cohort_period: Literal["month", "week"] = Field(
        default="month", description="Cohorts by calendar month or by week (from Monday)."
    )
    cohort_basis: Literal["signup", "first_purchase"] = Field(
        default="signup",
        description="Place customers in cohorts by sign-up (first purchase without one) or by first purchase.",
    )
    level: float = Field(default=0.95, gt=0.5, lt=1, description="Level of every interval of the analyses.")
    segment_column: Literal["segment", "tier", "lifecycle_stage"] = Field(
        default="segment",
        description="The scores' column whose groups the shares are given per (segment is the RFM segment).",
    )
    share_window_days: float | None = Field(
        default=None,
        gt=0,
        description="Content, helpfulness and time shares over this many days before as_of; unset: all history.",
    )
    category_spend: str | None = Field(
        default=None,
        description="Estimated category spend per customer or segment (CSV/Parquet/JSON: customer_id or "
        "segment, category, estimated_spend, currency, as_of): our spend over it is the wallet share. Unset: "
        "the wallet share is omitted and the report says why.",
    )
    wallet_window_days: float = Field(
        default=365,
        gt=0,
        description="Our revenue over this many days before as_of is set against the estimated spend (the "
        "estimates must cover the same period).",
    )


class RunConfig(ConfigModel):
    """The whole pipeline configuration."""

    run: RunSection = RunSection()
    models: ModelsSection = ModelsSection()
    social: SocialSection = SocialSection()
    actions: ActionsSection = ActionsSection()
    channels: ChannelsSection = ChannelsSection()
    insight: InsightSection = InsightSection()
    experiment: ExperimentConfig = ExperimentConfig()

    def digest(self) -> str:
        """A stable hash of the configuration (recorded with every run)."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def load_run_config(path: str | Path | None) -> RunConfig:
    """Read ``socialvalue.toml`` (``None`` → all defaults); errors name the file and the key."""
    if path is None:
        return RunConfig()
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"configuration file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    cfg = validate_config(RunConfig, data, str(path))
    # relative paths in the file are relative to the file, not to the working directory
    for section, keys in (
        ("actions", ("playbook", "campaign")),
        ("run", ("exchange_rates",)),
        ("channels", ("costs",)),
        ("insight", ("category_spend",)),
    ):
        part = getattr(cfg, section)
        updates = {
            key: str((path.parent / value).resolve())
            for key in keys
            if (value := getattr(part, key)) and not Path(value).is_absolute()
        }
        if updates:
            cfg = cfg.model_copy(update={section: part.model_copy(update=updates)})
    return cfg
