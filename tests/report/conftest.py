"""Synthetic pipeline outputs for the report tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from socialvalue.report import ReportData


def synthetic_report_data(n: int = 5000, seed: int = 0) -> ReportData:
    rng = np.random.default_rng(seed)
    stages = np.array(["introduction", "growth", "maturity", "decline", "churned"])
    clv = rng.gamma(0.8, 80, n)
    social = rng.gamma(0.3, 60, n)
    scores = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "as_of": "2026-06-30",
            "clv": clv,
            "referral_value": social * 0.4,
            "influence_value": social * 0.3,
            "interaction_value": social * 0.1,
            "content_value": social * 0.1,
            "advocacy_value": social * 0.1,
            "csv": clv + social,
            "total_spend": rng.gamma(1.0, 120, n),
            "r_score": rng.integers(1, 6, n),
            "f_score": rng.integers(1, 6, n),
            "segment": rng.choice(["Champions", "Loyal", "At risk", "Lost"], n),
            "lifecycle_stage": rng.choice(stages, n),
            "tier": rng.choice(["platinum", "gold", "silver", "bronze"], n),
            "value_coefficient": rng.uniform(0, 100, n),
            "influencer": rng.random(n) < 0.02,
        }
    )
    actions = pd.DataFrame(
        {
            "customer_id": scores["customer_id"],
            "label": rng.choice(["Win-back offer", "Review request", "Do nothing"], n),
            "cost": 1.0,
            "expected_value": 3.0,
            "net_value": 2.0,
            "reason": "purchases slowing (P(alive) 0.40) → Win-back offer",
        }
    )
    weeks = np.arange(1, 79)
    actual = np.cumsum(rng.poisson(50, weeks.size))
    nodes = pd.DataFrame(
        {
            "label": [f"c{i}" for i in range(40)],
            "size": rng.random(40),
            "color": rng.random(40),
            "top": np.arange(40) < 5,
        }
    )
    edges = [[i % 5, i] for i in range(5, 40)]
    diag = {
        "btyd": {
            "chosen": "BetaGeo",
            "why": "lowest holdout MAE",
            "comparison": [{"model": "BetaGeo", "mae": 1.1}, {"model": "ParetoNBD", "mae": 1.2}],
            "params": {"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4},
            "tracking": {
                "period": weeks.tolist(),
                "actual": actual.tolist(),
                "model": (actual * 1.02).tolist(),
            },
            "split_period": 39,
            "conditional": {
                "frequency": ["0", "1", "2", "3+"],
                "actual": [0.2, 0.6, 1.1, 2.5],
                "model": [0.2, 0.7, 1.2, 2.4],
            },
        },
        "churn": {
            "auc": 0.81,
            "baseline_auc": 0.72,
            "top_decile_lift": 2.3,
            "precision_at_budget": 0.7,
            "definition": "no purchase in the next 26 weeks",
            "calibration": {"pred": [0.1, 0.3, 0.5, 0.7, 0.9], "obs": [0.12, 0.28, 0.52, 0.69, 0.88]},
        },
        "transitions": {
            "stages": stages.tolist(),
            "matrix": rng.integers(0, 100, (5, 5)).tolist(),
            "from": "2026-03-31",
            "to": "2026-06-30",
        },
        "csv": {
            "weights": {"clv": 1.0, "referral_value": 0.8},
            "messages": ["content_value weight withheld: interval includes 0"],
        },
        "clusters": {"k": 4, "score": 0.41, "profile": [{"cluster": 0, "name": "high spend", "size": 100}]},
        "network": {"nodes": nodes.to_dict("records"), "edges": edges},
    }
    quality = pd.DataFrame(
        {
            "table": ["customers", "orders"],
            "rows": [n, 3 * n],
            "first": ["2024-07-01"] * 2,
            "last": ["2026-06-30"] * 2,
            "most missing column": ["", ""],
        }
    )
    return ReportData(
        as_of="2026-06-30",
        scores=scores,
        actions=actions,
        diagnostics=diag,
        data_quality=quality,
        run={"run_id": "test"},
    )


@pytest.fixture
def report_data() -> ReportData:
    """Synthetic, internally consistent pipeline outputs."""
    return synthetic_report_data()
