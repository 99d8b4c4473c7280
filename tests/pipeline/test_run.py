import json

import numpy as np
import pandas as pd
import pytest

from socialvalue.decisions import default_playbook
from socialvalue.errors import ConfigError
from socialvalue.pipeline import RunConfig, load_run_config, run_pipeline

pytestmark = pytest.mark.slow


def test_scores_cover_consented_customers_only(demo_run):
    store, res = demo_run["store"], demo_run["result"]
    n_consent = store.scalar("SELECT count(*) FROM customers WHERE consent_profiling")
    scores = store.query_df("SELECT * FROM scores WHERE as_of = ?", [res.as_of])
    assert len(scores) == n_consent == len(res.scores)
    assert scores["customer_id"].is_unique
    denied = set(
        store.query_df("SELECT customer_id FROM customers WHERE NOT consent_profiling")["customer_id"]
    )
    assert denied and not denied & set(scores["customer_id"])


def test_scores_are_coherent(demo_run):
    s = demo_run["result"].scores
    for col in (
        "clv",
        "clv_lower",
        "clv_upper",
        "p_alive",
        "expected_transactions",
        "rfm_segment",
        "lifecycle_stage",
        "churn_risk",
        "cluster",
        "tier",
        "value_coefficient",
        "csv",
        "csv_percentile",
        "influencer",
        "referral_value",
        "influence_value",
        "spread",
        "pagerank",
        "reach_2hop",
    ):
        assert col in s.columns, col
    buyers = s["frequency"] >= 0
    assert (s.loc[buyers, "clv_lower"] <= s.loc[buyers, "clv"] + 1e-9).all()
    assert (s.loc[buyers, "clv"] <= s.loc[buyers, "clv_upper"] + 1e-9).all()
    assert s["p_alive"].between(0, 1).all() and s["churn_risk"].between(0, 1).all()
    assert s["lifecycle_stage"].isin(["introduction", "growth", "maturity", "decline", "churned"]).all()
    assert (s["csv"] >= s["clv"] - 1e-6).all()  # social components are non-negative additions
    assert s["pagerank"].sum() == pytest.approx(s["pagerank"].sum())  # finite
    assert np.isfinite(s[["clv", "csv", "spread"]].to_numpy()).all()
    share = s["influencer"].mean()
    assert 0.005 < share < 0.1


def test_learned_social_value_ranks_holdout_value_better_than_clv(demo_run):
    """On the demo's calibration/holdout split, CSV ranks what customers generated better than CLV alone."""
    metrics = demo_run["result"].diagnostics["csv"]["metrics"]
    assert metrics["csv"]["spearman"] > metrics["clv"]["spearman"]
    assert metrics["csv"]["top_decile_capture"] > metrics["clv"]["top_decile_capture"]


def test_churn_model_beats_recency_on_holdout(demo_run):
    churn = demo_run["result"].diagnostics["churn"]
    assert churn["auc"] > churn["baseline_auc"] + 0.02
    assert churn["definition"] == "no purchase in the next 182 days"


def test_model_comparison_and_tracking_recorded(demo_run):
    btyd = demo_run["result"].diagnostics["btyd"]
    assert btyd["chosen"] in {"BG/NBD", "MBG/NBD", "Pareto/NBD"}
    assert len(btyd["comparison"]) == 3
    actual, model = btyd["tracking"]["actual"][-1], btyd["tracking"]["model"][-1]
    assert abs(model - actual) / actual < 0.15


def test_actions_respect_consent_budget_and_have_reasons(demo_run):
    store, res = demo_run["store"], demo_run["result"]
    plan = res.actions.merge(res.scores[["customer_id", "consent_marketing"]], on="customer_id")
    marketing = plan["action"] != "do_nothing"
    assert marketing.any()
    assert plan.loc[marketing, "consent_marketing"].all()
    assert plan["cost"].sum() <= default_playbook().budget + 1e-6
    assert plan["reason"].str.contains("→").all()
    assert store.scalar("SELECT count(*) FROM actions WHERE as_of = ?", [res.as_of]) == len(plan)


def test_run_is_recorded_and_rerun_replaces_rows(demo_run):
    store, res = demo_run["store"], demo_run["result"]
    run = store.query_df("SELECT * FROM _runs WHERE run_id = ?", [res.run_id]).iloc[0]
    assert run["config_hash"] == RunConfig().digest()
    params = json.loads(run["params_json"])
    assert {"r", "alpha"} <= set(params["transaction"])
    snap = json.loads(run["snapshot_json"])
    assert snap["orders"]["rows"] == store.scalar("SELECT count(*) FROM orders")
    assert set(json.loads(run["timings_json"])) >= {
        "features",
        "clv",
        "social",
        "segments",
        "actions",
        "write",
    }


def test_report_of_the_demo_is_small_enough_to_email(demo_run):
    path = demo_run["result"].report_path
    assert path is not None and path.exists()
    assert path.stat().st_size < 8_000_000


def test_report_renders_in_chromium(demo_run, browser):
    from pathlib import Path

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(demo_run["result"].report_path.as_uri())
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length > 0")
    n = page.evaluate("document.querySelectorAll('div[id^=chart-]').length")
    ok = page.evaluate(
        "[...document.querySelectorAll('div[id^=chart-]')].filter(d => d.querySelector('svg.main-svg')).length"
    )
    assert n >= 12 and ok == n
    assert errors == []
    shots = Path(__file__).resolve().parents[2] / ".pytest_cache" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "demo_report.png"), full_page=True)
    page.close()


def test_config_unknown_key_fails_loudly(tmp_path):
    p = tmp_path / "socialvalue.toml"
    p.write_text("[run]\nunit = 'W'\nhorizon = 3\n")
    with pytest.raises(ConfigError, match=r"run.horizon: Extra inputs are not permitted"):
        load_run_config(p)


def test_pipeline_rerun_same_as_of_is_idempotent(tmp_path):
    from socialvalue import Store
    from socialvalue.demo import generate

    with Store(tmp_path / "s.duckdb") as store:
        generate(1500, seed=3).load_into(store)
        first = run_pipeline(store, "2026-07-01")
        second = run_pipeline(store, "2026-07-01")
        assert store.scalar("SELECT count(*) FROM scores") == len(first.scores) == len(second.scores)
        assert store.scalar("SELECT count(*) FROM _runs") == 2
        a = first.scores.sort_values("customer_id")["clv"].to_numpy()
        b = second.scores.sort_values("customer_id")["clv"].to_numpy()
        np.testing.assert_allclose(a, b, rtol=1e-9)
        assert isinstance(first.actions, pd.DataFrame)


def test_result_rows_beyond_one_row_group_are_readable_in_the_same_session(tmp_path):
    # Regression: on a fresh store the 200k-customer benchmark wrote 190,143 score rows and the report, read
    # through the same connection, saw none (DuckDB 2.0.0 drops the rows of an insert into a table created
    # empty in the same transaction once they pass one 122,880-row group).
    from socialvalue import Store
    from socialvalue.pipeline.record import replace_rows as _replace_rows

    n = 130_000
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "as_of": pd.Timestamp("2026-07-01").date(),
            "clv": np.arange(n, dtype=float),
        }
    )
    with Store(tmp_path / "s.duckdb") as store:
        for _ in range(2):  # create, then replace
            store.con.execute("BEGIN TRANSACTION")
            _replace_rows(store, "scores", frame, "2026-07-01")
            store.con.execute("COMMIT")
            got = store.query_df("SELECT as_of, count(*) AS n, sum(clv) AS s FROM scores GROUP BY ALL")
            assert got["n"].tolist() == [n]
            assert got["s"].iloc[0] == pytest.approx(n * (n - 1) / 2)


def test_influence_value_names_its_largest_contributors(demo_run):
    """Issue 14: each top customer's influence value is traceable to the customers whose purchases it credits."""
    result = demo_run["result"]
    contributors = result.diagnostics["influence_contributors"]
    assert contributors
    scored = set(result.scores["customer_id"].astype(str))
    civ = result.scores.set_index("customer_id")["influence_value"]
    for influencer, rows in contributors.items():
        assert influencer in scored and 1 <= len(rows) <= 3
        assert all(r["customer_id"] in scored and 0 < r["share"] <= 1 + 1e-9 for r in rows)
        assert [r["civ"] for r in rows] == sorted((r["civ"] for r in rows), reverse=True)
        assert civ[influencer] >= 0
    html = (demo_run["root"] / "report.html").read_text()
    assert "largest contributors" in html.lower()
