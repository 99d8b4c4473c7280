"""Measured uplift (issue 19, part 4): Welch intervals per action and segment that cover the truth at their
stated rate (vectorised simulation of thousands of experiments), the verdicts (the harmful action flagged),
the Qini curves, and measured values that move the allocation's budget to the action that works.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from socialvalue.decisions import Playbook, allocate, qini_curve
from socialvalue.decisions.experiment import ALL_SEGMENTS
from socialvalue.decisions.measurement import (
    VERDICTS,
    measure_uplift,
    measured_values,
    paid_verdicts,
    qini_curves,
)
from socialvalue.errors import SchemaError


def _experiments(reps, n_t, n_c, effect, seed, skew=False):
    """``reps`` independent experiments as one long frame, one ``action`` per replicate (vectorised)."""
    rng = np.random.default_rng(seed)
    n = n_t + n_c
    arm = np.tile(np.r_[np.ones(n_t, bool), np.zeros(n_c, bool)], reps)
    if skew:  # revenue: a Poisson number of purchases, each Gamma spend (mean 50); the effect on the rate
        rate = np.where(arm, 0.4 * (1 + effect), 0.4)
        k = rng.poisson(rate)
        spend = rng.gamma(4.0 * np.maximum(k, 1), 12.5)  # sum of k Gamma(4, 12.5) is Gamma(4k, 12.5)
        y = np.where(k > 0, spend, 0.0)
        truth = 0.4 * effect * 50.0
    else:  # unequal variances, the case Welch's interval is for
        y = np.where(arm, rng.normal(1.0 + effect, 3.0, arm.size), rng.normal(1.0, 1.0, arm.size))
        truth = effect
    frame = pd.DataFrame(
        {
            "action": np.repeat(np.arange(reps), n).astype(str),
            "segment": "s",
            "arm": np.where(arm, "treated", "control"),
            "purchases": 0,
            "revenue": y,
            "referrals": 0,
            "churned": False,
        }
    )
    return frame, truth


@pytest.mark.parametrize("skew", [False, True])
@pytest.mark.parametrize("confidence", [0.90, 0.95])
def test_intervals_cover_the_truth_at_their_stated_rate(confidence, skew):
    reps = 2_000
    frame, truth = _experiments(reps, n_t=240, n_c=60, effect=0.5, seed=int(100 * confidence) + skew)
    est = measure_uplift(frame, confidence=confidence, metrics=("revenue",))
    est = est[est["segment"] == ALL_SEGMENTS]
    assert len(est) == reps and (est["status"] == "measured").all()
    covered = ((est["lower"] <= truth) & (truth <= est["upper"])).mean()
    assert abs(covered - confidence) < 3 * math.sqrt(confidence * (1 - confidence) / reps)


def test_uplift_per_segment_and_over_all():
    rng = np.random.default_rng(1)
    n = 30_000
    seg = rng.choice(["A", "B"], n)
    treated = rng.random(n) < 0.8
    lift = np.where(seg == "A", 0.3, 0.0)
    purchases = rng.poisson(0.5 * (1 + lift * treated))
    frame = pd.DataFrame(
        {
            "action": "x",
            "segment": seg,
            "arm": np.where(treated, "treated", "control"),
            "measured": True,
            "purchases": purchases,
            "revenue": purchases * 20.0,
            "referrals": rng.poisson(0.01, n),
            "churned": purchases == 0,
        }
    )
    frame.loc[:99, "measured"] = False  # windows not yet elapsed: left out
    est = measure_uplift(frame, margin=0.5, referral_value=10.0).set_index(["segment", "metric"])
    assert est.loc[("A", "purchases"), "lower"] < 0.15 < est.loc[("A", "purchases"), "upper"]
    assert est.loc[("B", "purchases"), "lower"] < 0.0 < est.loc[("B", "purchases"), "upper"]
    assert est.loc[(ALL_SEGMENTS, "purchases"), "n_treated"] + est.loc[
        (ALL_SEGMENTS, "purchases"), "n_control"
    ] == (n - 100)
    # churned is a share; value = margin x revenue + value per referral x referrals
    assert est.loc[("A", "churned"), "uplift"] < 0
    m = frame[frame["measured"]].assign(v=lambda f: 0.5 * f["revenue"] + 10.0 * f["referrals"])
    by_arm = m.groupby("arm")["v"].mean()
    assert est.loc[(ALL_SEGMENTS, "value"), "uplift"] == pytest.approx(by_arm["treated"] - by_arm["control"])
    # Welch's SE and degrees of freedom, as scipy's Welch t-test computes them
    t = m.loc[m["arm"] == "treated", "v"]
    c = m.loc[m["arm"] == "control", "v"]
    res = stats.ttest_ind(t, c, equal_var=False)
    ci = res.confidence_interval(0.95)
    assert est.loc[(ALL_SEGMENTS, "value"), "lower"] == pytest.approx(ci.low, rel=1e-9)
    assert est.loc[(ALL_SEGMENTS, "value"), "upper"] == pytest.approx(ci.high, rel=1e-9)
    assert est.loc[(ALL_SEGMENTS, "value"), "df"] == pytest.approx(res.df, rel=1e-9)


def test_too_few_outcomes_are_not_yet_measured():
    frame, _ = _experiments(1, n_t=40, n_c=10, effect=0.5, seed=0)
    est = measure_uplift(frame, min_outcomes=30, metrics=("revenue",))
    row = est.iloc[0]
    assert row["status"] == "not yet measured" and math.isnan(row["uplift"])
    assert (row["n_treated"], row["n_control"]) == (40, 10)
    v = paid_verdicts(measure_uplift(frame, min_outcomes=30), {"0": 1.0})
    assert v.loc[0, "verdict"] == "not yet measured"
    assert v.loc[0, "sentence"] == (
        "0: not yet measured (40 treated and 10 held-out customers with a fully elapsed window so far)"
    )


def test_measure_uplift_names_what_is_missing():
    with pytest.raises(SchemaError, match="outcomes lack column\\(s\\) revenue"):
        measure_uplift(pd.DataFrame({"action": [], "segment": [], "arm": [], "referrals": []}))
    bad = pd.DataFrame(
        {"action": ["a"], "segment": ["s"], "arm": ["both"], "revenue": [1.0], "referrals": [0]}
    )
    with pytest.raises(SchemaError, match="arm must be 'treated' or 'control'"):
        measure_uplift(bad, metrics=("revenue",))


def _three_actions(n=24_000, seed=2):
    """An experiment of three actions with known value uplift: one pays, one does nothing, one harms."""
    rng = np.random.default_rng(seed)
    action = rng.choice(["good", "useless", "harmful"], n)
    seg = rng.choice(["A", "B"], n)
    treated = rng.random(n) < 0.7
    lift = pd.Series(action).map({"good": 0.6, "useless": 0.0, "harmful": -0.5}).to_numpy()
    purchases = rng.poisson(0.4 * (1 + lift * treated))
    revenue = rng.gamma(4.0 * np.maximum(purchases, 1), 12.5) * (purchases > 0)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:07d}" for i in range(n)],
            "action": action,
            "segment": seg,
            "arm": np.where(treated, "treated", "control"),
            "measured": True,
            "purchases": purchases,
            "revenue": revenue,
            "referrals": 0,
            "churned": purchases == 0,
            "score": rng.random(n) + lift * 0.5,
        }
    )


def test_verdicts_flag_the_harmful_action_and_the_one_that_paid():
    outcomes = _three_actions()
    est = measure_uplift(outcomes, margin=0.5)
    v = paid_verdicts(est, {"good": 1.0, "useless": 1.0, "harmful": 1.0}).set_index(["action", "segment"])
    overall = v.xs(ALL_SEGMENTS, level="segment")
    # true value uplift: 0.5 x 0.4 x lift x 50 = 10 x lift
    assert overall.loc["good", "verdict"] == "paid"
    assert overall.loc["harmful", "verdict"] == "harmful"
    assert overall.loc["useless", "verdict"] == "did not pay"
    assert overall.loc["harmful", "upper"] < 0
    assert overall.loc["good", "net_lower"] > 0
    assert re.fullmatch(
        r"harmful: -\d+\.\d\d of value per customer contacted \(95% interval -\d+\.\d\d to -\d+\.\d\d\) against "
        r"a cost of 1\.00: harmful: those who got it bought less than those held out",
        overall.loc["harmful", "sentence"],
    )
    assert overall.loc["good", "sentence"].endswith(": paid")
    assert set(v["verdict"]) <= set(VERDICTS)


def test_measured_values_move_the_allocation_budget_to_the_effective_action():
    """The playbook assumes the useless and the harmful actions pay best; after measurement the budget goes to
    the one that works."""
    playbook = Playbook.model_validate(
        {
            "budget": 3_000.0,
            "actions": [
                {"name": "good", "label": "Good", "cost": 1.0, "uplift": 0.05, "base": ["clv"]},
                {"name": "useless", "label": "Useless", "cost": 1.0, "uplift": 0.30, "base": ["clv"]},
                {"name": "harmful", "label": "Harmful", "cost": 1.0, "uplift": 0.20, "base": ["clv"]},
                {"name": "do_nothing", "label": "Do nothing", "cost": 0.0, "uplift": 0.0, "marketing": False},
            ],
        }
    )
    rng = np.random.default_rng(4)
    n = 10_000
    scores = pd.DataFrame(
        {
            "customer_id": [f"K{i:06d}" for i in range(n)],
            "consent_marketing": True,
            "clv": rng.gamma(2.0, 40.0, n),
            "segment": rng.choice(["A", "B", "C"], n),  # C was never in the experiment
        }
    )

    def spend(plan):
        return plan.groupby("action")["cost"].sum().reindex(["good", "useless", "harmful"], fill_value=0.0)

    assumed = spend(allocate(scores, playbook))
    assert assumed["useless"] + assumed["harmful"] > 0.9 * assumed.sum()

    values = measured_values(measure_uplift(_three_actions(), margin=0.5), scores["segment"].unique())
    assert set(values) == {"good", "useless", "harmful"}
    assert set(values["good"]) == {"A", "B", "C"}
    estimated = {a: scores["segment"].map(v).fillna(0.0).to_numpy(float) for a, v in values.items()}
    measured = spend(allocate(scores, playbook, estimated_values=estimated))
    assert measured["good"] == pytest.approx(3_000.0)
    assert measured["useless"] == 0 and measured["harmful"] == 0


def test_measured_values_shrink_segments_and_skip_unmeasured_actions():
    outcomes = _three_actions()
    outcomes.loc[outcomes["action"] == "useless", "measured"] = False
    est = measure_uplift(outcomes)
    values = measured_values(est, ["A", "B", "Z"], metric="revenue")
    assert "useless" not in values
    rows = est[(est["metric"] == "revenue") & (est["action"] == "good")].set_index("segment")["uplift"]
    assert values["good"]["Z"] == pytest.approx(rows[ALL_SEGMENTS])  # not in the experiment: the action's
    lo, hi = sorted([rows["A"], rows["B"]])
    for s in ("A", "B"):  # shrunk towards the action's estimate, never past it
        assert (
            min(rows[s], rows[ALL_SEGMENTS]) - 1e-9
            <= values["good"][s]
            <= max(rows[s], rows[ALL_SEGMENTS]) + 1e-9
        )
    raw = measured_values(est, ["A", "B"], metric="revenue", shrink=False)
    assert raw["good"] == {"A": pytest.approx(rows["A"]), "B": pytest.approx(rows["B"])}
    assert lo <= hi


def test_qini_curves_per_action_use_the_uplift_module():
    outcomes = _three_actions()
    curves = qini_curves(outcomes, margin=0.5)
    assert set(curves) == {"good", "useless", "harmful"}
    g = outcomes[outcomes["action"] == "good"]
    ref = qini_curve(
        0.5 * g["revenue"].to_numpy(), (g["arm"] == "treated").to_numpy(int), g["score"].to_numpy()
    )
    np.testing.assert_allclose(curves["good"].y, ref.y)
    assert curves["good"].coefficient == pytest.approx(ref.coefficient)
    assert qini_curves(outcomes.drop(columns="score")) == {}
