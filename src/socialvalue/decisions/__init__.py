"""Decisions: the next-best action per customer, under budget, capacity and consent, with its reason."""

from socialvalue.decisions.allocate import allocate, expected_net_values
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
    "Playbook",
    "QiniCurve",
    "allocate",
    "campaign_uplift",
    "default_playbook",
    "estimate_uplift",
    "expected_net_values",
    "load_playbook",
    "qini_curve",
    "validate_playbook",
]
