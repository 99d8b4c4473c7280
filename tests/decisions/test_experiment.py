"""Control groups and measured uplift (issue 19, part 4): power against published values, a reproducible and
balanced assignment, intervals that cover the truth at their stated rate, verdicts, and measured values that
move the allocation's budget.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from scipy import stats

from socialvalue.decisions import Playbook, allocate, qini_curve
from socialvalue.decisions.experiment import (
    ALL_SEGMENTS,
    ExperimentConfig,
    apply_holdout,
    assignment_uniforms,
    detectable_effect,
    hold_out,
    measure_uplift,
    measured_values,
    paid_verdicts,
    power_two_sample,
    qini_curves,
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


# -- measured uplift ----------------------------------------------------------------------------------------------


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
    assert set(v["verdict"]) <= {"paid", "did not pay", "harmful", "not yet measured"}


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
