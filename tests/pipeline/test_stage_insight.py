"""The insight stage of the run (issue 19): channels, cohorts and shares on the demo shop, end to end.

A 3,000-customer demo shop (seed 7) is run once; the channel and cohort figures of its run record equal a
direct pandas computation on the demo's raw tables (the references of ``tests/insight``), the expected cohort
curve is the one the run's fitted purchase model draws, and each part that cannot be computed says why. The
configuration sections validate and resolve their paths against the configuration file.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from socialvalue import Store
from socialvalue.demo import generate
from socialvalue.engine import DuckDBEngine
from socialvalue.errors import ConfigError
from socialvalue.insight import cohort_retention
from socialvalue.pipeline import STAGES, RunConfig, load_run_config, run_pipeline
from socialvalue.pipeline.record import load_fitted_models
from socialvalue.pipeline.runner import Runner
from socialvalue.pipeline.stage_insight import insight_stage, run_insight

from ..insight.test_channels import _reference as channel_reference
from ..insight.test_cohorts import _reference as cohort_reference

AS_OF = "2026-07-01"
AS_OF_TS = pd.Timestamp(AS_OF)


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """The demo shop (3,000 customers, seed 7) run once: the store, raw tables, run result and its model."""
    root = tmp_path_factory.mktemp("insight_run")
    data = generate(3_000, seed=7)
    store = Store(root / "shop.duckdb")
    data.load_into(store)
    result = run_pipeline(store, AS_OF, RunConfig())
    tables = {kind: t.to_pandas() for kind, t in data.tables.items()}
    model = load_fitted_models(store, result.run_id).purchase
    yield SimpleNamespace(root=root, data=data, store=store, tables=tables, result=result, model=model)
    store.close()


def _stage(store, scores, cfg=None, model=None):
    return insight_stage(
        DuckDBEngine(store),
        scores,
        cfg or RunConfig(),
        AS_OF_TS,
        "USD",
        purchase_model=model,
        clv_horizon="52 weeks, discounted at 10% a year",
    )


# -- the run ---------------------------------------------------------------------------------------------------
def test_the_stage_is_timed_and_its_record_is_stored(shop):
    res = shop.result
    assert STAGES.index("insight") == STAGES.index("actions") + 1
    assert list(res.timings)[:6] == ["features", "clv", "social", "segments", "actions", "insight"]
    assert 0 < res.timings["insight"] < 10
    ins = res.diagnostics["insight"]
    assert set(ins) >= {"channels", "cohorts", "lifecycle_mix", "shares"}
    assert set(ins["shares"]) >= {"content", "helpfulness", "time", "wallet"}
    stored = json.loads(
        shop.store.scalar("SELECT diagnostics_json FROM _runs WHERE run_id = ?", [res.run_id])
    )
    assert stored["insight"] == json.loads(json.dumps(ins))  # JSON-ready as returned
    assert json.loads(
        shop.store.scalar("SELECT timings_json FROM _runs WHERE run_id = ?", [res.run_id])
    ).keys() >= {"insight"}


def test_channel_figures_equal_pandas_on_the_demo(shop):
    part = shop.result.diagnostics["insight"]["channels"]
    assert part["available"] and part["currency"] == "USD" and part["repeat_window_days"] == 90
    got = pd.DataFrame(part["table"]).set_index("channel").sort_index()
    scores = shop.result.scores[["customer_id", "clv", "csv"]]
    want = channel_reference(shop.tables, scores, AS_OF_TS).sort_index()
    assert list(got.index) == list(want.index) and len(got) >= 3
    for col in ("customers", "buyers", "repeat_eligible", "repeaters", "second_purchases", "referrers"):
        np.testing.assert_array_equal(got[col].to_numpy(), want[col].to_numpy(), err_msg=col)
    for col in ("median_days_to_second", "mean_clv", "mean_csv", "value_per_customer"):
        np.testing.assert_allclose(got[col], want[col], rtol=1e-8, err_msg=col)
    for col in ("mean_clv_lower", "mean_clv_upper", "mean_csv_lower", "mean_csv_upper"):
        np.testing.assert_allclose(got[col], want[col], rtol=1e-7, err_msg=col)
    np.testing.assert_allclose(got["repeat_rate"], want["repeaters"] / want["repeat_eligible"], rtol=1e-12)
    # the meaning line names the channels and states the currency and the CLV horizon
    top = got["value_per_customer"].idxmax()
    assert f"{top} brings the most value per customer acquired" in part["meaning"]
    assert "USD" in part["meaning"] and shop.result.diagnostics["clv_horizon"] in part["meaning"]
    assert {t["test"] for t in part["tests"]} == {"two-proportion z", "Welch t"}


def test_cohort_figures_equal_pandas_and_the_models_curve(shop):
    part = shop.result.diagnostics["insight"]["cohorts"]
    assert part["available"] and part["period"] == "month" and part["basis"] == "signup"
    got = pd.DataFrame(part["table"])
    got["cohort"] = pd.to_datetime(got["cohort"])
    got["period_start"] = pd.to_datetime(got["period_start"])
    got = got.set_index(["cohort", "period_start"])
    busy = got[(got["active"] > 0) | (got["revenue"] != 0)]
    want = cohort_reference(shop.tables["customers"], shop.tables["orders"], AS_OF_TS, "M", "signup")
    assert sorted(busy.index) == sorted(want.index)
    w = want.loc[busy.index]
    for col in ("members", "active", "purchases", "repeat_days"):
        np.testing.assert_array_equal(busy[col].to_numpy(), w[col].to_numpy(), err_msg=col)
    np.testing.assert_allclose(busy["revenue"], w["revenue"], rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(busy["share_active"], w["active"] / w["members"], rtol=1e-9)
    # the expected curve is the run's own fitted purchase model's
    assert part["model"] == type(shop.model).__name__ and part["unit"] == "W"
    direct = cohort_retention(shop.store, AS_OF, "M", model=shop.model, unit="W", currency="USD")
    np.testing.assert_allclose(
        got["expected_repeat_per_member"].to_numpy(),
        direct.table["expected_repeat_per_member"].to_numpy(),
        rtol=1e-8,
    )
    assert part["meaning"] == direct.meaning and "purchase model expects" in part["meaning"]
    mix = shop.result.diagnostics["insight"]["lifecycle_mix"]
    assert mix["available"] and mix["dates"] == 1 and mix["meaning"].startswith("At 2026-07-01, ")
    mixed = pd.DataFrame(mix["table"])
    np.testing.assert_allclose(mixed.groupby(["cohort", "as_of"])["share"].sum(), 1.0, rtol=1e-12)


def test_shares_are_recorded_with_top_contributors_only(shop):
    shares = shop.result.diagnostics["insight"]["shares"]
    content = shares["content"]
    assert content["available"] and content["unit"] == "items" and len(content["top_customers"]) == 10
    x = shop.tables["content"]
    consented = set(shop.tables["customers"].query("consent_profiling")["customer_id"])
    by_author = x[x["created_at"] < AS_OF_TS].groupby("author_id").size()
    assert content["total"] == by_author.sum()
    assert content["customers"] == int(by_author[by_author.index.isin(consented)].gt(0).sum())
    top = content["top_customers"][0]
    assert top["amount"] == by_author[by_author.index.isin(consented)].max()
    segs = pd.DataFrame(content["by_segment"])
    assert segs["share"].sum() == pytest.approx(1.0) and "Champions" in set(segs["segment"])
    assert shares["time"]["available"] and shares["time"]["unit"] == "seconds"
    assert shares["wallet"] == {
        "available": False,
        "reason": "omitted: no category-spend table was supplied (customer_id or segment, category, "
        "estimated_spend, currency, as_of)",
        "window": "the 365 days before 2026-07-01",
        "notes": [],
    }


# -- parts that cannot be computed -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bare(shop):
    """The same shop without acquisition channels and without interaction durations."""
    store = Store(shop.root / "bare.duckdb")
    shop.data.load_into(store)
    store.con.execute("UPDATE customers SET acquisition_channel = NULL")
    store.con.execute("UPDATE interactions SET duration_s = NULL")
    yield store
    store.close()


def test_unavailable_parts_say_why(shop, bare):
    ins = _stage(bare, shop.result.scores, model=shop.model)
    assert ins["channels"] == {
        "available": False,
        "reason": "unavailable: no customer has an acquisition_channel value",
    }
    assert ins["shares"]["time"]["available"] is False
    assert ins["shares"]["time"]["reason"] == (
        "unavailable: no interaction in all history before 2026-07-01 has a duration_s value"
    )
    assert ins["cohorts"]["available"] and ins["shares"]["content"]["available"]


def test_costs_and_category_spend_files_are_used(shop, tmp_path):
    table = pd.DataFrame(shop.result.diagnostics["insight"]["channels"]["table"]).set_index("channel")
    channels = list(table.index)
    costs = pd.DataFrame({"channel": channels, "cost": [1000.0 * (i + 1) for i in range(len(channels))]})
    costs.assign(currency="USD").to_csv(tmp_path / "channel_costs.csv", index=False)
    ids = shop.result.scores["customer_id"].iloc[:50]
    spend = pd.DataFrame(
        {"customer_id": ids, "category": "books", "estimated_spend": 500.0, "currency": "USD"}
    )
    spend.to_csv(tmp_path / "category_spend.csv", index=False)
    (tmp_path / "socialvalue.toml").write_text(
        '[channels]\ncosts = "channel_costs.csv"\n[insight]\ncategory_spend = "category_spend.csv"\n'
    )
    cfg = load_run_config(tmp_path / "socialvalue.toml")
    ins = _stage(shop.store, shop.result.scores, cfg, shop.model)
    ch = pd.DataFrame(ins["channels"]["table"]).set_index("channel")
    assert ins["channels"]["costs"] == "channel_costs.csv"
    cost = costs.set_index("channel")["cost"]
    np.testing.assert_allclose(ch["cost_per_acquisition"], cost[ch.index] / ch["customers"], rtol=1e-12)
    np.testing.assert_allclose(ch["value_per_cost"], ch["value"] / cost[ch.index], rtol=1e-12)
    assert "returns the most per unit cost" in ins["channels"]["meaning"]
    wallet = ins["shares"]["wallet"]
    assert wallet["available"] and wallet["unit"] == "USD" and wallet["meaning"].startswith("We hold ")
    o = shop.tables["orders"]
    window = o[(o["ordered_at"] >= AS_OF_TS - pd.Timedelta(days=365)) & (o["ordered_at"] < AS_OF_TS)]
    revenue = window["status"].eq("completed") | (
        window["status"].isin(["returned", "refunded"]) & (window["amount"].astype(float) < 0)
    )
    ours = window[revenue & window["customer_id"].isin(set(ids))]["amount"].astype(float).sum()
    assert wallet["total"] == pytest.approx(ours / (500.0 * len(ids)), rel=1e-9)


def test_files_that_cannot_be_used_fall_back_and_say_so(shop, tmp_path):
    (tmp_path / "costs.csv").write_text("channel,price\npaid,10\n")
    cfg = RunConfig.model_validate(
        {
            "channels": {"costs": str(tmp_path / "costs.csv")},
            "insight": {"category_spend": str(tmp_path / "missing.csv")},
        }
    )
    ins = _stage(shop.store, shop.result.scores, cfg, shop.model)
    assert ins["channels"]["available"] and "cost_per_acquisition" not in ins["channels"]["table"][0]
    assert ins["channels"]["notes"] == [
        "channel costs not used: channel costs costs.csv lacks column(s) cost, currency; it has: channel, price"
    ]
    assert ins["shares"]["wallet"] == {
        "available": False,
        "reason": "unavailable: the category-spend file 'missing.csv' does not exist",
    }
    (tmp_path / "spend.csv").write_text("customer_id,category,estimated_spend\nnobody,books,10\n")
    cfg = RunConfig.model_validate({"insight": {"category_spend": str(tmp_path / "spend.csv")}})
    wallet = _stage(shop.store, shop.result.scores, cfg)["shares"]["wallet"]
    assert not wallet["available"]
    assert wallet["reason"].startswith("unavailable: the category-spend file 'spend.csv' was refused: ")
    assert "row 1, column 'customer_id': got 'nobody'; expected an existing customer_id" in wallet["reason"]


def test_a_disabled_stage_records_why(shop):
    runner = Runner(())
    art = {"clv": {"models": {}, "diag": {}}, "actions": {"scores": shop.result.scores}}
    cfg = RunConfig.model_validate({"insight": {"enabled": False}})
    out = run_insight(runner, DuckDBEngine(shop.store), art, cfg, AS_OF_TS, "USD")
    assert out == {
        "available": False,
        "reason": "omitted: [insight] enabled = false in the run configuration",
    }
    assert runner.timings == {}  # not timed: nothing ran


# -- configuration ---------------------------------------------------------------------------------------------
def test_the_sections_validate_and_resolve_paths(tmp_path):
    path = tmp_path / "conf" / "socialvalue.toml"
    path.parent.mkdir()
    path.write_text(
        '[channels]\ncosts = "data/costs.csv"\ncomparison = "vs_rest"\n'
        '[insight]\ncohort_period = "week"\ncategory_spend = "/abs/spend.csv"\nsegment_column = "tier"\n'
    )
    cfg = load_run_config(path)
    assert cfg.channels.costs == str((tmp_path / "conf" / "data" / "costs.csv").resolve())
    assert cfg.insight.category_spend == "/abs/spend.csv" and cfg.insight.cohort_period == "week"
    assert cfg.channels.comparison == "vs_rest" and cfg.insight.segment_column == "tier"
    assert RunConfig().insight.enabled and RunConfig().insight.cohort_period == "month"
    for text, word in (
        ('[insight]\ncohort_period = "day"\n', "cohort_period"),
        ("[insight]\nlevel = 1.5\n", "level"),
        ('[insight]\ncohorts = "month"\n', "cohorts"),
        ("[channels]\nrepeat_window_days = 0\n", "repeat_window_days"),
        ('[channels]\ncost = "x.csv"\n', "cost"),
    ):
        path.write_text(text)
        with pytest.raises(ConfigError, match=word):
            load_run_config(path)
