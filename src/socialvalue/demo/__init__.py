"""The embedded demo data set: a simulated online shop with a social layer and known ground truth.

>>> from socialvalue.demo import generate
>>> data = generate(n_customers=1_000, seed=7)   # doctest: +SKIP
>>> data.write("demo_output")                    # doctest: +SKIP
"""

from __future__ import annotations

from socialvalue.demo.config import DemoConfig
from socialvalue.demo.generator import DEFAULT_END, DEFAULT_START, DemoData, generate
from socialvalue.demo.truth import TRUTH_COLUMNS, read_truth

__all__ = [
    "DEFAULT_END",
    "DEFAULT_START",
    "TRUTH_COLUMNS",
    "DemoConfig",
    "DemoData",
    "generate",
    "read_truth",
]
