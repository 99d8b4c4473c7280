"""The embedded demo data set: a simulated online shop with a social layer and known ground truth.

>>> from socialvalue.demo import generate
>>> data = generate(n_customers=1_000, seed=7)   # doctest: +SKIP
>>> data.write("demo_output")                    # doctest: +SKIP

After actions are exported with control groups, :func:`simulate_responses` appends the customers' simulated
reactions (a known true uplift per action and segment) to the shop, so the next run can measure them.
"""

from __future__ import annotations

from socialvalue.demo.config import DemoConfig
from socialvalue.demo.generator import DEFAULT_END, DEFAULT_START, DemoData, generate
from socialvalue.demo.responses import DEFAULT_EFFECTS, ActionEffect, DemoResponses, simulate_responses
from socialvalue.demo.truth import TRUTH_COLUMNS, read_truth

__all__ = [
    "DEFAULT_EFFECTS",
    "DEFAULT_END",
    "DEFAULT_START",
    "TRUTH_COLUMNS",
    "ActionEffect",
    "DemoConfig",
    "DemoData",
    "DemoResponses",
    "generate",
    "read_truth",
    "simulate_responses",
]
