"""Decisions: the next-best action per customer, under budget, capacity and consent, with its reason."""

from socialvalue.decisions.allocate import allocate, expected_net_values
from socialvalue.decisions.experiment import ExperimentConfig, Holdout, apply_holdout, hold_out
from socialvalue.decisions.measurement import measure_uplift, measured_values, paid_verdicts, qini_curves
from socialvalue.decisions.playbook import (
    Action,
    Condition,
    Driver,
    Playbook,
    default_playbook,
    load_playbook,
    validate_playbook,
)
from socialvalue.decisions.uplift import QiniCurve, campaign_uplift, estimate_uplift, qini_curve

__all__ = [
    "Action",
    "Condition",
    "Driver",
    "ExperimentConfig",
    "Holdout",
    "Playbook",
    "QiniCurve",
    "allocate",
    "apply_holdout",
    "campaign_uplift",
    "default_playbook",
    "estimate_uplift",
    "expected_net_values",
    "hold_out",
    "load_playbook",
    "measure_uplift",
    "measured_values",
    "paid_verdicts",
    "qini_curve",
    "qini_curves",
    "validate_playbook",
]
