"""The run configuration (``socialvalue.toml``): one validated document for the whole pipeline.

Every section has documented defaults, so an empty file (or none) is a valid configuration::

    [run]
    unit = "W"              # time unit of the BTYD models: "W" weeks or "D" days
    holdout_periods = 26    # back-testing split: calibration ends `holdout_periods` units before as_of
    horizon_periods = 52    # CLV horizon, in units
    annual_discount_rate = 0.10
    margin = 0.30           # contribution margin on revenue
    currency = "USD"

    [social]
    influencer_top_share = 0.02
    spread_half_life_days = 90

    [actions]
    playbook = "playbook.toml"   # optional: a playbook file; default: the built-in playbook
    budget = 50000               # optional: overrides the playbook's budget
    campaign = "campaign.csv"    # optional: past outcomes with treatment/control -> estimated uplift

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
from socialvalue.errors import ConfigError

__all__ = ["ActionsSection", "RunConfig", "RunSection", "SocialSection", "load_run_config"]


class RunSection(ConfigModel):
    """Time unit, back-testing split and the money assumptions of CLV."""

    unit: Literal["W", "D"] = "W"
    holdout_periods: int = Field(default=26, gt=0)
    horizon_periods: int = Field(default=52, gt=0)
    annual_discount_rate: float = Field(default=0.10, ge=0, lt=1)
    margin: float = Field(default=0.30, gt=0, le=1)
    currency: str = "USD"
    churn_alert_share: float = Field(
        default=0.10, gt=0, lt=1, description="Share of customers the alert budget covers."
    )
    seed: int = 0
    model_metric: Literal["rmse", "mae", "total_error", "neg_corr"] = "mae"


class SocialSection(ConfigModel):
    """Graph and social-value settings."""

    influencer_top_share: float = Field(default=0.02, gt=0, lt=1)
    spread_half_life_days: float = Field(default=90.0, gt=0)
    interaction_window_days: int = Field(default=365, gt=0)
    propagation_days: float = Field(
        default=14.0, gt=0, description="Window tau for learning edge probabilities."
    )
    rr_sets: int = Field(default=200_000, gt=0)
    network_top: int = Field(
        default=15, gt=0, description="Top customers drawn in the report's network picture."
    )


class ActionsSection(ConfigModel):
    """Where the playbook comes from and the budget."""

    playbook: str | None = None
    budget: float | None = Field(default=None, ge=0)
    campaign: str | None = Field(
        default=None,
        description="Past campaign outcomes (CSV/Parquet: customer_id, action, treatment, outcome[, segment]); "
        "when given, uplift is estimated per action and segment instead of assumed.",
    )


class RunConfig(ConfigModel):
    """The whole pipeline configuration."""

    run: RunSection = RunSection()
    social: SocialSection = SocialSection()
    actions: ActionsSection = ActionsSection()

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
    updates = {
        key: str((path.parent / value).resolve())
        for key in ("playbook", "campaign")
        if (value := getattr(cfg.actions, key)) and not Path(value).is_absolute()
    }
    if updates:
        cfg = cfg.model_copy(update={"actions": cfg.actions.model_copy(update=updates)})
    return cfg
