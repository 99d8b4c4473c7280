"""Lifecycle stages from TOML rules and stage transitions (socialvalue.models.lifecycle)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from socialvalue.config import load_toml
from socialvalue.errors import ConfigError, SchemaError
from socialvalue.models.lifecycle import (
    LifecycleConfig,
    lifecycle_stage,
    load_lifecycle_config,
    stage_transitions,
    trend,
)


def _histories() -> tuple[pd.DataFrame, np.ndarray]:
    """One crafted customer per default rule (comment = the rule it must hit)."""
    rows = [
        # id, n_orders, tenure, o_last, o_prev, i_last, i_prev, p_alive
        ("signed_up", 0, 30, 0, 0, 3, 0, np.nan),  # introduction: no purchase, < 1 year
        ("never", 0, 500, 0, 0, 0, 0, np.nan),  # churned: no purchase, > 1 year
        ("dead", 9, 800, 0, 1, 5, 5, 0.05),  # churned: p_alive < 0.2
        ("newbie", 1, 40, 1, 0, 2, 0, 0.95),  # introduction: tenure < 90
        ("doubtful", 5, 400, 1, 1, 4, 4, 0.4),  # decline: p_alive < 0.5
        ("halving", 12, 700, 1, 4, 8, 8, 0.9),  # decline: orders at least halved
        ("fading", 10, 700, 2, 2, 1, 20, 0.9),  # decline: interactions collapse, purchases flat
        ("doubling", 10, 700, 6, 2, 5, 5, 0.9),  # growth: orders doubled
        ("habit", 3, 200, 1, 1, 0, 0, 0.8),  # growth: first year and bought last quarter
        ("steady", 20, 900, 2, 2, 6, 5, 0.9),  # maturity: default
        ("light", 2, 900, 0, 1, 0, 0, 0.7),  # maturity: 1 -> 0 orders is not a decline for a light buyer
    ]
    cols = ["customer_id", "n_orders", "tenure_days", "orders_last_90d", "orders_prev_90d"]
    cols += ["interactions_last_90d", "interactions_prev_90d", "p_alive"]
    frame = pd.DataFrame(rows, columns=cols)
    return frame.drop(columns="p_alive"), frame["p_alive"].to_numpy()


def test_default_rules_on_crafted_histories():
    frame, p_alive = _histories()
    before = frame.copy()
    out = lifecycle_stage(frame, p_alive, return_reason=True)
    pd.testing.assert_frame_equal(frame, before)
    expected = {
        "signed_up": "introduction",
        "never": "churned",
        "dead": "churned",
        "newbie": "introduction",
        "doubtful": "decline",
        "halving": "decline",
        "fading": "decline",
        "doubling": "growth",
        "habit": "growth",
        "steady": "maturity",
        "light": "maturity",
    }
    assert dict(zip(frame["customer_id"], out["lifecycle_stage"], strict=True)) == expected
    assert out.loc[2, "lifecycle_reason"] == "P(alive) below 0.2"
    assert out.loc[9, "lifecycle_reason"] == "no decline or growth signal"


def test_trend_definition():
    t = trend(np.array([0, 1, 2, 4, 0, np.nan]), np.array([0, 2, 1, 4, 3, 1]))
    assert t[:5].tolist() == pytest.approx([0.0, -1 / 3, 1 / 3, 0.0, -1.0])
    assert np.isnan(t[5])


def test_missing_p_alive_column_is_reported():
    frame, _ = _histories()
    with pytest.raises(
        SchemaError, match=r"^the lifecycle rules needs column\(s\) 'p_alive', absent from the frame$"
    ):
        lifecycle_stage(frame)


def test_custom_rules_first_match_and_nan_is_false():
    cfg = LifecycleConfig(
        stages=("new", "old", "unknown"),
        default_stage="unknown",
        health={"new": 1, "old": 1, "unknown": 0},
        rules=[
            {"stage": "new", "when": ["tenure_days < 100"]},
            {"stage": "old", "when": ["tenure_days >= 50"]},
        ],
    )
    frame = pd.DataFrame({"tenure_days": [10, 60, 500, np.nan]})
    assert lifecycle_stage(frame, config=cfg).tolist() == ["new", "new", "old", "unknown"]
    cfg2 = cfg.model_copy(
        update={"rules": (cfg.rules[0].model_copy(update={"when": ("tenure_days != 10",)}),)}
    )
    assert lifecycle_stage(frame, config=cfg2).tolist() == ["unknown", "new", "new", "unknown"]


def test_rule_validation_messages(tmp_path):
    def config(cond: str) -> LifecycleConfig:
        return LifecycleConfig(
            stages=("a",), default_stage="a", health={"a": 0}, rules=[{"stage": "a", "when": [cond]}]
        )

    with pytest.raises(
        ValueError, match=re.escape("condition 'p_alive ~ 3' is not of the form 'column op number'")
    ):
        config("p_alive ~ 3")
    with pytest.raises(ValueError, match=re.escape("condition 'p_alive < high': 'high' is not a number")):
        config("p_alive < high")
    assert config("referrer_churned == true").rules[0].conditions[0].value == 1.0
    with pytest.raises(ValueError, match=re.escape("stage(s) ['b'] not among stages ['a']")):
        LifecycleConfig(
            stages=("a",), default_stage="a", health={"a": 0}, rules=[{"stage": "b", "when": ["x < 1"]}]
        )
    path = tmp_path / "life.toml"
    path.write_text(
        'stages = ["a"]\ndefault_stage = "a"\nhealth = { a = 0 }\n[[rules]]\nstage = "a"\nwhen = ["x < 1"]\nif = 3\n'
    )
    with pytest.raises(ConfigError, match=r"rules\.0\.if: Extra inputs are not permitted"):
        load_toml(path, LifecycleConfig)


def test_default_config_loads():
    cfg = load_lifecycle_config()
    assert cfg.stages == ("introduction", "growth", "maturity", "decline", "churned")
    assert "p_alive" in cfg.columns


def test_transition_matrix_on_crafted_pair():
    before = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e", "f", "g"],
            "lifecycle_stage": [
                "growth",
                "growth",
                "maturity",
                "maturity",
                "decline",
                "introduction",
                "maturity",
            ],
        }
    )
    after = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e", "f", "h"],
            "lifecycle_stage": [
                "maturity",
                "decline",
                "maturity",
                "churned",
                "growth",
                "growth",
                "introduction",
            ],
        }
    )
    t = stage_transitions(before, after)
    c = t.counts
    assert c.loc["growth", "maturity"] == 1 and c.loc["growth", "decline"] == 1
    assert c.loc["maturity", "maturity"] == 1 and c.loc["maturity", "churned"] == 1
    assert c.loc["maturity", "(gone)"] == 1
    assert c.loc["(new)", "introduction"] == 1
    assert c.to_numpy().sum() == 8
    assert t.shares.loc["maturity"].tolist() == pytest.approx([0, 0, 1 / 3, 0, 1 / 3, 1 / 3])
    assert t.shares.loc["churned"].sum() == 0.0
    # Slipping = health falls: growth(3) -> maturity(2), growth -> decline(1), maturity -> churned(0).
    slipped = t.slipping.sort_values("customer_id")
    assert slipped["customer_id"].tolist() == ["a", "b", "d"]
    assert slipped["stage_after"].tolist() == ["maturity", "decline", "churned"]


def test_transitions_reject_duplicate_customers():
    before = pd.DataFrame({"customer_id": ["a", "a"], "lifecycle_stage": ["growth", "decline"]})
    after = pd.DataFrame({"customer_id": ["a"], "lifecycle_stage": ["growth"]})
    with pytest.raises(pd.errors.MergeError):
        stage_transitions(before, after)
