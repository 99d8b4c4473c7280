"""Control groups in the store (issue 19, parts 4 and 5): recorded with consent, measured in the window after
each action from the canonical tables, erased with the customer, and, on the demo's simulated responses, the
harmful action flagged, the intervals covering the true uplift and the next allocation moving its budget.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy import stats

from socialvalue import Store
from socialvalue.decisions import Playbook, allocate
from socialvalue.decisions.experiment import ALL_SEGMENTS, ExperimentConfig
from socialvalue.demo import generate, simulate_responses
from socialvalue.demo.responses import EFFECTIVE, HARMFUL, USELESS
from socialvalue.errors import StoreError
from socialvalue.experiments import (
    OUTCOME_COLUMNS,
    action_results,
    baseline_rates,
    hold_out_controls,
    measure_outcomes,
    record_assignments,
)
from socialvalue.privacy import ERASURE_PLACES, erase_customer, marketing_consent

RUN_DAY = pd.Timestamp("2026-06-30")


def _ts(day: str) -> dt.datetime:
    return pd.Timestamp(day).to_pydatetime()


@pytest.fixture
def shop(store):
    """Six customers (c5 without marketing consent, c6 no longer consenting to profiling) and their orders."""
    store.ingest(
        "customers",
        pa.table(
            {
                "customer_id": ["c1", "c2", "c3", "c4", "c5", "c6", "n1", "n2"],
                "consent_marketing": [True, True, True, True, False, True, True, True],
                "consent_profiling": [True, True, True, True, True, False, True, True],
            }
        ),
    )
    orders = [
        # id, customer, when, amount, status
        ("o1", "c1", "2026-06-10", 30.0, "completed"),  # before the action: baseline only
        ("o2", "c1", "2026-07-05", 50.0, "completed"),  # in the window
        ("o3", "c1", "2026-07-20", -50.0, "returned"),  # a return in the window counts against revenue
        ("o4", "c1", "2026-07-21", 40.0, "cancelled"),  # not a purchase
        ("o5", "c2", "2026-07-29", 20.0, "completed"),  # in the window (30 days from 06-30 end 07-30)
        ("o6", "c2", "2026-07-30", 99.0, "completed"),  # at the window's end: outside
        ("o7", "c3", "2026-06-20", 10.0, "completed"),
        ("o8", "c6", "2026-07-02", 10.0, "completed"),
    ]
    store.ingest(
        "orders",
        pa.table(
            {
                "order_id": [o[0] for o in orders],
                "customer_id": [o[1] for o in orders],
                "ordered_at": pa.array([_ts(o[2]) for o in orders], pa.timestamp("us")),
                "amount": [o[3] for o in orders],
                "currency": ["EUR"] * len(orders),
                "status": [o[4] for o in orders],
            }
        ),
    )
    store.ingest(
        "relationships",
        pa.table(
            {
                "src_id": ["c3", "c3"],
                "dst_id": ["n1", "n2"],
                "kind": ["referred", "referred"],
                "created_at": pa.array([_ts("2026-07-03"), _ts("2026-09-01")], pa.timestamp("us")),
            }
        ),
    )
    return store


def _plan(ids, action="win_back"):
    return pd.DataFrame(
        {
            "customer_id": ids,
            "action": action,
            "segment": "At risk",
            "tier": "silver",
            "expected_value": np.linspace(1, 2, len(ids)),
        }
    )


def test_the_store_has_the_assignments_table(store):
    assert store.schema_version >= 4
    cols = store.con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = '_assignments' "
        "ORDER BY ordinal_position"
    ).fetchall()
    assert [c[0] for c in cols] == [
        "run_id", "action", "customer_id", "arm", "stratum", "segment", "score", "assigned_at", "window_days",
        "seed",
    ]  # fmt: skip


def test_consent_is_read_from_the_customers_table(shop):
    got = marketing_consent(shop, ["c5", "c1", "nobody", "c6"])
    assert got.tolist() == [False, True, False, True]
    assert marketing_consent(shop, []).tolist() == []


def test_customers_without_marketing_consent_are_never_assigned(shop):
    plan = pd.concat([_plan(["c1", "c2", "c3", "c4", "c5", "c6"]), _plan(["zz"], "do_nothing")])
    h = hold_out_controls(shop, plan, run_id="r1", as_of=RUN_DAY, config=ExperimentConfig(control_share=0.5))
    assert set(h.assignment["customer_id"]) == {"c1", "c2", "c3", "c4", "c6"}
    stored = shop.query_df("SELECT * FROM _assignments ORDER BY customer_id")
    assert stored["customer_id"].tolist() == ["c1", "c2", "c3", "c4", "c6"]
    assert (stored["run_id"] == "r1").all() and (stored["window_days"] == 30).all()
    assert (stored["assigned_at"] == RUN_DAY).all()
    assert (stored["stratum"] == "At risk|silver").all()
    merged = stored.merge(h.assignment, on=["customer_id", "action"], suffixes=("", "_h"))
    assert (merged["arm"] == merged["arm_h"]).all()
    # recording the same run again replaces its rows
    hold_out_controls(shop, _plan(["c1", "c2"]), run_id="r1", as_of=RUN_DAY)
    assert shop.scalar("SELECT count(*) FROM _assignments") == 2


def test_strata_come_from_the_scores_when_the_plan_lacks_them(shop):
    plan = _plan(["c1", "c2", "c3"]).drop(columns=["segment", "tier"])
    scores = pd.DataFrame({"customer_id": ["c1", "c2", "c3"], "segment": ["A", "B", "A"], "tier": "gold"})
    h = hold_out_controls(shop, plan, run_id="r", as_of=RUN_DAY, scores=scores, record=False)
    assert h.assignment.set_index("customer_id")["stratum"].to_dict() == {
        "c1": "A|gold",
        "c2": "B|gold",
        "c3": "A|gold",
    }
    assert shop.scalar("SELECT count(*) FROM _assignments") == 0


def test_baseline_rates_are_the_recent_purchase_share(shop):
    frame = pd.DataFrame({"customer_id": ["c1", "c2", "c3", "c4"], "action": ["a", "a", "b", "b"]})
    assert baseline_rates(shop, frame, RUN_DAY, 30) == {"a": 0.5, "b": 0.5}
    assert baseline_rates(shop, frame, RUN_DAY, 5) == {"a": 0.0, "b": 0.0}


def _record(store, run_id, arms, at=RUN_DAY, window=30, action="win_back"):
    from socialvalue.decisions.experiment import Holdout

    a = pd.DataFrame(
        {
            "customer_id": list(arms),
            "action": action,
            "arm": list(arms.values()),
            "stratum": "s",
            "segment": "At risk",
            "score": 1.0,
        }
    )
    h = Holdout(a, pd.DataFrame(), ExperimentConfig(window_days=window))
    return record_assignments(store, h, run_id=run_id, assigned_at=at)


def test_outcomes_in_the_window_after_the_action(shop):
    _record(shop, "r1", {"c1": "treated", "c2": "treated", "c3": "control", "c4": "control", "c6": "treated"})
    out = measure_outcomes(shop, "2026-08-01").set_index("customer_id")
    assert list(out.columns) == [c for c in OUTCOME_COLUMNS if c != "customer_id"]
    assert out["measured"].all()
    assert out.loc["c1", "purchases"] == 1 and out.loc["c1", "revenue"] == 0.0  # bought 50, returned 50
    assert out.loc["c2", "purchases"] == 1 and out.loc["c2", "revenue"] == 20.0  # the order at the end: out
    assert out.loc["c3", "referrals"] == 1 and out.loc["c3", "purchases"] == 0  # the later referral: out
    assert bool(out.loc["c3", "churned"]) and not bool(out.loc["c1", "churned"])
    assert out.loc["c4", "revenue"] == 0.0
    assert "c6" not in out.index  # no longer consents to profiling
    assert out.loc["c1", "window_end"] == pd.Timestamp("2026-07-30")


def test_windows_not_yet_elapsed_are_not_measured(shop):
    _record(shop, "r1", {"c1": "treated", "c2": "control"})
    early = measure_outcomes(shop, "2026-07-15")
    assert not early["measured"].any()
    assert early[["purchases", "revenue", "referrals", "churned"]].isna().all().all()
    # the run's date bounds what is seen, even inside an elapsed window
    assert measure_outcomes(shop, "2026-07-30")["measured"].all()


def test_each_action_is_measured_on_its_latest_elapsed_run(shop):
    _record(shop, "r1", {"c1": "treated", "c2": "control"}, at=pd.Timestamp("2026-06-01"))
    _record(shop, "r2", {"c1": "control", "c2": "treated", "c3": "treated"}, at=RUN_DAY)
    _record(shop, "r3", {"c4": "treated"}, at=pd.Timestamp("2026-07-25"))
    out = measure_outcomes(shop, "2026-08-01")
    assert set(out["run_id"]) == {"r2"}
    assert set(measure_outcomes(shop, "2026-08-01", run_id="r1")["run_id"]) == {"r1"}
    # before any window has elapsed: the latest run, not yet measured
    early = measure_outcomes(shop, "2026-06-10")
    assert set(early["run_id"]) == {"r3"} and not early["measured"].any()


def test_erasure_removes_the_assignment_rows(shop):
    _record(shop, "r1", {"c1": "treated", "c2": "control", "c3": "control"})
    assert any("_assignments" in place for place in ERASURE_PLACES)
    report = erase_customer(shop, "c2")
    assert report.tables.get("_assignments") == 1
    assert shop.query_df("SELECT customer_id FROM _assignments ORDER BY 1")["customer_id"].tolist() == [
        "c1",
        "c3",
    ]
    assert "c2" not in set(measure_outcomes(shop, "2026-08-01")["customer_id"])


def test_recording_needs_a_writable_migrated_store(shop, tmp_path):
    path = shop.path
    shop.close()
    with Store(path, read_only=True) as ro:
        with pytest.raises(StoreError, match="read-only"):
            _record(ro, "r1", {"c1": "treated"})


def test_no_assignments_table_means_no_outcomes(tmp_path):
    import duckdb

    path = tmp_path / "bare.duckdb"
    duckdb.connect(str(path)).close()
    with Store(path, read_only=True) as ro:
        assert measure_outcomes(ro, RUN_DAY).empty


# -- the loop on the demo shop: export with controls, simulated responses, measurement -------------------------


@pytest.fixture(scope="module")
def demo_loop(tmp_path_factory):
    """A demo shop; three actions for its living customers (one works, one does nothing, one harms), half held
    out; responses simulated over 30 days, then measured."""
    data = generate(n_customers=8_000, seed=21)
    store = Store(tmp_path_factory.mktemp("loop") / "shop.duckdb")
    data.load_into(store)
    truth = data.truth.to_pandas()
    customers = data.customers.to_pandas()
    alive = truth[truth["is_buyer"] & (truth["death_at"] > RUN_DAY)].merge(customers, on="customer_id")
    alive = alive[alive["consent_marketing"]]
    rng = np.random.default_rng(3)
    segment = pd.cut(alive["n_orders"], [0, 1, 3, np.inf], labels=["New", "Promising", "Loyal"]).astype(str)
    plan = pd.DataFrame(
        {
            "customer_id": alive["customer_id"].to_numpy(),
            "action": rng.choice([EFFECTIVE, USELESS, HARMFUL], len(alive)),
            "segment": segment.to_numpy(),
            "tier": np.where(alive["revenue"] > alive["revenue"].median(), "gold", "silver"),
            "expected_value": alive["lambda"].to_numpy(),
        }
    )
    # a customer without consent planned by mistake is still never held out nor recorded
    refused = customers.loc[~customers["consent_marketing"], "customer_id"].iloc[0]
    plan = pd.concat([plan, plan.head(1).assign(customer_id=refused)], ignore_index=True)
    cfg = ExperimentConfig(control_share=0.5, seed=8)
    holdout = hold_out_controls(store, plan, run_id="run-1", as_of=RUN_DAY, config=cfg)
    recorded = store.query_df("SELECT * FROM _assignments")
    responses = simulate_responses(recorded, data.truth, seed=4)
    responses.load_into(store)
    costs = {EFFECTIVE: 2.0, USELESS: 5.0, HARMFUL: 4.0}
    results = action_results(
        store,
        RUN_DAY + pd.Timedelta(days=31),
        costs=costs,
        margin=0.3,
        config=cfg,
        segments=["New", "Promising", "Loyal", "Lost"],
    )
    yield {"store": store, "holdout": holdout, "responses": responses, "results": results, "refused": refused}
    store.close()


def test_loop_records_consenting_customers_only(demo_loop):
    store = demo_loop["store"]
    assert (
        store.scalar("SELECT count(*) FROM _assignments WHERE customer_id = ?", [demo_loop["refused"]]) == 0
    )
    share = store.scalar("SELECT avg(CASE WHEN arm = 'control' THEN 1.0 ELSE 0.0 END) FROM _assignments")
    assert share == pytest.approx(0.5, abs=0.03)


def test_loop_flags_the_harmful_action_and_measures_everything(demo_loop):
    results = demo_loop["results"]
    summary = results.summary().set_index("action")
    assert summary.loc[HARMFUL, "verdict"] == "harmful"
    assert summary.loc[EFFECTIVE, "verdict"] == "paid"
    assert summary.loc[USELESS, "verdict"] == "did not pay"
    assert (results.outcomes["measured"]).all()
    assert set(results.qini) == {EFFECTIVE, USELESS, HARMFUL}
    assert results.to_dict()["verdicts"][0]["action"] in {EFFECTIVE, USELESS, HARMFUL}


def test_loop_intervals_cover_the_true_uplift(demo_loop):
    """Per action and segment, the 95% intervals of purchases and revenue cover the simulated truth at their
    rate: the number covered is at least the 0.1% quantile of Binomial(18, 0.95), 13 (0.9 misses expected).
    The rate itself is tested over thousands of experiments in tests/decisions/test_experiment.py."""
    truth = demo_loop["responses"].truth.set_index(["action", "segment"])
    est = demo_loop["results"].uplift
    est = est[(est["segment"] != ALL_SEGMENTS) & est["metric"].isin(["purchases", "revenue"])]
    covered = [
        r.lower <= truth.loc[(r.action, r.segment), r.metric] <= r.upper for r in est.itertuples(index=False)
    ]
    assert len(covered) == 18  # 3 actions x 3 segments x 2 outcomes
    assert sum(covered) >= stats.binom.ppf(0.001, len(covered), 0.95)


def test_loop_moves_the_budget_to_the_effective_action(demo_loop):
    """Assumptions put the budget on the useless and harmful actions; the measured values move it."""
    values = demo_loop["results"].values
    assert set(values) == {EFFECTIVE, USELESS, HARMFUL}
    assert set(values[EFFECTIVE]) == {"New", "Promising", "Loyal", "Lost"}
    playbook = Playbook.model_validate(
        {
            "budget": 2_000.0,
            "actions": [
                {"name": EFFECTIVE, "label": "Nudge", "cost": 2.0, "uplift": 0.02, "base": ["clv"]},
                {"name": USELESS, "label": "Loyalty", "cost": 5.0, "uplift": 0.30, "base": ["clv"]},
                {"name": HARMFUL, "label": "Win back", "cost": 4.0, "uplift": 0.25, "base": ["clv"]},
                {"name": "do_nothing", "label": "Do nothing", "cost": 0.0, "uplift": 0.0, "marketing": False},
            ],
        }
    )
    rng = np.random.default_rng(0)
    scores = pd.DataFrame(
        {
            "customer_id": [f"S{i:05d}" for i in range(5_000)],
            "consent_marketing": True,
            "clv": rng.gamma(2.0, 60.0, 5_000),
            "segment": rng.choice(["New", "Promising", "Loyal", "Lost"], 5_000),
        }
    )

    def spend(plan):
        return plan.groupby("action")["cost"].sum().reindex([EFFECTIVE, USELESS, HARMFUL], fill_value=0.0)

    before = spend(allocate(scores, playbook))
    assert before[USELESS] + before[HARMFUL] > 0.9 * before.sum()
    estimated = {a: scores["segment"].map(v).fillna(0.0).to_numpy(float) for a, v in values.items()}
    after = spend(allocate(scores, playbook, estimated_values=estimated))
    assert after[HARMFUL] == 0 and after[USELESS] == 0
    assert after[EFFECTIVE] > 0.9 * before.sum()
