"""Realistic ``diagnostics["experiments"]`` for the report and service tests, built with the real functions.

The demo shop's customers are split between four actions, half of each held out: the one that works
(:data:`~socialvalue.demo.responses.EFFECTIVE`), the one that harms (:data:`~socialvalue.demo.responses.HARMFUL`),
the one that does nothing (:data:`~socialvalue.demo.responses.USELESS`) and ``review_request`` with only 20
customers an arm (fewer than ``min_outcomes``: not yet measured). The demo simulates the 90 days after the
actions (:func:`~socialvalue.demo.simulate_responses`), and :mod:`socialvalue.decisions.measurement` measures
them into :class:`~socialvalue.experiments.ActionResults`, whose ``to_dict()`` the run records.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import numpy as np
import pandas as pd

from socialvalue.decisions.measurement import measure_uplift, measured_values, paid_verdicts, qini_curves
from socialvalue.demo import generate, simulate_responses
from socialvalue.demo.responses import EFFECTIVE, HARMFUL, USELESS
from socialvalue.experiments import ActionResults

#: The action with too few outcomes.
UNMEASURED = "review_request"
#: Cost per customer contacted, by action.
COSTS = {EFFECTIVE: 0.5, HARMFUL: 1.0, USELESS: 0.5, UNMEASURED: 0.2}
LABELS = {
    EFFECTIVE: "Second purchase nudge",
    HARMFUL: "Win-back offer",
    USELESS: "Loyalty upgrade",
    UNMEASURED: "Review request",
}
MARGIN = 0.4
WINDOW_DAYS = 90
MIN_OUTCOMES = 30
ASSIGNED = pd.Timestamp("2026-03-01")
MEASURED_AT = "2026-07-01"


@functools.lru_cache(maxsize=2)
def _built(customers: int, seed: int) -> str:
    shop = generate(n_customers=customers, seed=seed)
    ids = shop.customers.column("customer_id").to_pylist()
    rng = np.random.default_rng(seed)
    action = rng.choice([EFFECTIVE, HARMFUL, USELESS], len(ids))
    action[:40] = UNMEASURED
    arm = rng.choice(["treated", "control"], len(ids))
    arm[:40] = ["treated", "control"] * 20
    assignments = pd.DataFrame(
        {
            "customer_id": ids,
            "action": action,
            "arm": arm,
            "segment": rng.choice(["New", "Loyal"], len(ids)),
            "assigned_at": ASSIGNED,
            "window_days": WINDOW_DAYS,
        }
    )
    sim = simulate_responses(assignments, shop.truth, seed=seed)
    outcomes = sim.customer_truth.assign(
        measured=True, churned=lambda f: f["purchases"] == 0, score=rng.random(len(ids))
    )
    uplift = measure_uplift(outcomes, margin=MARGIN, min_outcomes=MIN_OUTCOMES)
    verdicts = paid_verdicts(uplift, COSTS)
    results = ActionResults(
        outcomes,
        uplift,
        verdicts,
        measured_values(uplift, ["New", "Loyal"]),
        qini_curves(outcomes, margin=MARGIN),
    )
    measured = sorted(set(verdicts.loc[verdicts["verdict"] != "not yet measured", "action"]))
    diag = {
        "available": True,
        "reason": None,
        "measured_at": MEASURED_AT,
        "currency": "EUR",
        "confidence": 0.95,
        "window_days": WINDOW_DAYS,
        "min_outcomes": MIN_OUTCOMES,
        "margin": MARGIN,
        "referral_value": 0.0,
        "replaced": measured,
        "labels": LABELS,
        **results.to_dict(),
    }
    return json.dumps(diag, default=lambda v: v.item() if hasattr(v, "item") else str(v))


def experiments_diagnostics(customers: int = 4000, seed: int = 5) -> dict[str, Any]:
    """A fresh copy of the run's ``diagnostics["experiments"]`` (JSON round-tripped, as the run record holds it)."""
    return json.loads(_built(customers, seed))


def unavailable(reason: str) -> dict[str, Any]:
    """``diagnostics["experiments"]`` of a run that could not measure the actions."""
    return {"available": False, "reason": reason, "measured_at": MEASURED_AT, "currency": "EUR"}
