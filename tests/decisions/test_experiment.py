"""Control groups (issue 19, part 4): power against published values, a reproducible assignment balanced on
the strata, the sentence that says how many are held out and why, and the plan without the control customers.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from scipy import stats

from socialvalue.decisions.experiment import (
    ExperimentConfig,
    apply_holdout,
    assignment_uniforms,
    detectable_effect,
    hold_out,
    power_two_sample,
    required_control_share,
)
from socialvalue.errors import SchemaError


def _customers(n=20_000, seed=0, actions=("a", "b")):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:07d}" for i in range(n)],
            "action": rng.choice(list(actions), n),
            "segment": rng.choice(["Champions", "Loyal", "At risk", "New"], n, p=[0.1, 0.3, 0.4, 0.2]),
            "tier": rng.choice(["gold", "silver", "bronze"], n, p=[0.2, 0.3, 0.5]),
            "expected_value": rng.gamma(2.0, 5.0, n),
        }
    )


# -- configuration ----------------------------------------------------------------------------------------------


def test_config_validates_shares_and_keys():
    assert ExperimentConfig().control_share == 0.10
    with pytest.raises(ValidationError, match="above max_control_share"):
        ExperimentConfig(control_share=0.6, max_control_share=0.5)
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        ExperimentConfig(holdout=0.1)
    with pytest.raises(ValidationError):
        ExperimentConfig(min_detectable_effect=0)


# -- power ------------------------------------------------------------------------------------------------------


def test_power_equals_r_pwr_published_values():
    """R ``pwr.2p.test(h=0.3, n=80)`` = 0.475100870572638 and ``pwr.2p.test(h=0.01, n=80)`` =
    0.05045832927039234 (two-sided, alpha 0.05), the reference values statsmodels' ``NormalIndPower`` is tested
    against (statsmodels/stats/tests/test_power.py, ``test_normal_power_explicit``). Our effect is in outcome
    units, so ``h`` is ``effect / sd``.
    """
    assert power_two_sample(0.3, 80, 80, sd=1.0) == pytest.approx(0.475100870572638, rel=1e-12)
    assert power_two_sample(0.01, 80, 80, sd=1.0) == pytest.approx(0.05045832927039234, rel=1e-12)
    # the same test in other units: effect and sd scaled together
    assert power_two_sample(1.5, 80, 80, sd=5.0) == pytest.approx(0.475100870572638, rel=1e-12)


def test_detectable_effect_is_the_textbook_sample_size_inverted():
    """Lehr (1992), "Sixteen S-squared over D-squared", Statistics in Medicine 11(8) 1099-1102: a two-sided
    test at 5% with 80% power needs n = 2 (z_.975 + z_.80)^2 s^2 / d^2 = 15.70 s^2 / d^2 per group (his "16").
    With that n per group the detectable effect is d (the far tail adds under 1e-6 of power)."""
    k = 2 * (stats.norm.ppf(0.975) + stats.norm.ppf(0.80)) ** 2
    assert k == pytest.approx(15.70, abs=0.005)
    for d in (0.2, 0.5, 1.0):
        n = k / d**2
        assert detectable_effect(n, n, sd=1.0) == pytest.approx(d, rel=1e-5)
    # exact inverse of the power (both tails)
    e = detectable_effect(900, 100, sd=0.3, alpha=0.10, power=0.9)
    assert power_two_sample(e, 900, 100, sd=0.3, alpha=0.10) == pytest.approx(0.9, abs=1e-12)
    assert detectable_effect(100, 0, sd=1.0) == math.inf


def test_required_control_share_is_the_smallest_that_reaches_the_power():
    n, sd = 10_000, math.sqrt(0.2 * 0.8)
    q = required_control_share(n, mde=0.03, sd=sd, floor=0.10, cap=0.5)
    assert 0.10 < q < 0.5
    assert power_two_sample(0.03, n * (1 - q), n * q, sd=sd) == pytest.approx(0.80, abs=1e-9)
    # enough at the floor: the floor; impossible even at the cap: the cap
    assert required_control_share(n, mde=0.10, sd=sd) == 0.10
    assert required_control_share(500, mde=0.01, sd=sd, cap=0.4) == 0.4


def test_sentence_says_how_many_are_held_out_and_why():
    n, p = 10_000, 0.2
    frame = _customers(n, actions=("win_back",))
    cfg = ExperimentConfig(min_detectable_effect=0.03)
    h = hold_out(frame, cfg, baseline_rate=p)
    row = h.plans.iloc[0]
    sd = math.sqrt(p * (1 - p))
    q = required_control_share(n, mde=0.03, sd=sd)
    at_ten = detectable_effect(0.9 * n, 0.1 * n, sd=sd)
    assert row["target_share"] == pytest.approx(q)
    assert row["n_control"] == (h.assignment["arm"] == "control").sum()
    expected = (
        f"{100 * q:.1f}% held out ({row['n_control']:,} customers): 10% would detect only a "
        f"{100 * at_ten:.1f}-point lift at 80% power; the configuration asks for 3.0"
    )
    assert h.reasons["win_back"] == expected
    # the realised share is the target within sampling error
    assert abs(row["n_control"] - q * n) < 4 * math.sqrt(n * q * (1 - q))
    # no minimum effect: the configured share, and what it detects
    plain = hold_out(frame, ExperimentConfig(), baseline_rate=p).reasons["win_back"]
    assert re.fullmatch(
        r"10% held out \([\d,]+ customers\): the configured share; it detects a \d+\.\d-point lift in the "
        r"30-day purchase rate at 80% power \(no minimum detectable effect is set\)",
        plain,
    )
    small = hold_out(frame.head(300), cfg, baseline_rate=p).reasons["win_back"]
    assert small.startswith("50% held out") and "not the 3.0 asked" in small


# -- assignment ---------------------------------------------------------------------------------------------------


def test_assignment_is_stable_under_a_rerun_and_changed_by_another_seed():
    frame = _customers()
    cfg = ExperimentConfig(control_share=0.2, seed=11)
    first = hold_out(frame, cfg).assignment
    again = hold_out(frame.sample(frac=1.0, random_state=3), cfg).assignment  # another row order
    key = ["action", "customer_id"]
    pd.testing.assert_frame_equal(
        first.sort_values(key, ignore_index=True), again.sort_values(key, ignore_index=True)
    )
    other = hold_out(frame, cfg.model_copy(update={"seed": 12})).assignment
    changed = (first.sort_values(key)["arm"].to_numpy() != other.sort_values(key)["arm"].to_numpy()).mean()
    # independent draws disagree with probability 2 q (1 - q) = 0.32
    assert changed == pytest.approx(0.32, abs=0.02)


def test_a_new_customer_does_not_reshuffle_the_others():
    frame = _customers(5_000)
    cfg = ExperimentConfig(control_share=0.15, seed=5)
    before = hold_out(frame, cfg).assignment.set_index(["action", "customer_id"])["arm"]
    grown = pd.concat([frame, _customers(200, seed=9).assign(customer_id=lambda f: "N" + f["customer_id"])])
    after = hold_out(grown, cfg).assignment.set_index(["action", "customer_id"])["arm"]
    assert (after.loc[before.index] == before).all()


def test_uniforms_are_the_documented_hash():
    import hashlib

    digest = hashlib.blake2b(b"7\x1fwin_back\x1fC0000042", digest_size=8).digest()
    assert assignment_uniforms(7, "win_back", ["C0000042"])[0] == int.from_bytes(digest, "big") / 2**64
    u = assignment_uniforms(0, "a", [f"C{i}" for i in range(50_000)])
    assert stats.kstest(u, "uniform").pvalue > 0.01


@pytest.mark.parametrize("method", ["hash", "stratified"])
def test_assignment_is_balanced_on_the_strata(method):
    """Share in control per stratum within sampling error, and a chi-square test of arm × stratum that does not
    reject independence."""
    frame = _customers(40_000, actions=("a",))
    q = 0.25
    a = hold_out(frame, ExperimentConfig(control_share=q, method=method, seed=3)).assignment
    table = pd.crosstab(a["stratum"], a["arm"])
    assert len(table) == 12  # 4 segments x 3 tiers
    n_s = table.sum(axis=1)
    share = table["control"] / n_s
    z = (share - q) / np.sqrt(q * (1 - q) / n_s)
    assert (z.abs() < 4).all()
    assert stats.chi2_contingency(table.to_numpy()).pvalue > 0.01
    if method == "stratified":  # exact: floor(q n_s + v_s) per stratum
        assert ((table["control"] - q * n_s).abs() < 1).all()
    assert a["stratum"].str.fullmatch(r"(Champions|Loyal|At risk|New)\|(gold|silver|bronze)").all()


def test_hold_out_refuses_duplicates_and_missing_columns():
    frame = _customers(100)
    with pytest.raises(SchemaError, match="appears twice"):
        hold_out(pd.concat([frame, frame.head(1)]))
    with pytest.raises(SchemaError, match="needs column"):
        hold_out(frame.drop(columns="action"))


def test_apply_holdout_moves_controls_to_the_free_action():
    frame = _customers(2_000, actions=("win_back",))
    plan = frame[["customer_id", "action"]].assign(
        label="Win-back offer", channel="email", cost=4.0, expected_value=10.0, net_value=6.0, reason="why"
    )
    h = hold_out(frame, ExperimentConfig(control_share=0.3))
    out = apply_holdout(plan, h)
    control = set(h.assignment.loc[h.assignment["arm"] == "control", "customer_id"])
    held = out["customer_id"].isin(control)
    assert held.sum() == len(control) > 0
    assert (out.loc[held, "action"] == "do_nothing").all()
    assert (out.loc[held, ["cost", "expected_value", "net_value"]] == 0).all().all()
    assert (out.loc[held, "channel"] == "none").all()
    assert (
        out.loc[held, "reason"]
        .eq("held out as a control group for Win-back offer (measures its effect)")
        .all()
    )
    pd.testing.assert_frame_equal(out[~held], plan[~held])
    assert list(out.columns) == list(plan.columns)
