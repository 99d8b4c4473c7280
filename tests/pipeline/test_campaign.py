import numpy as np
import pandas as pd
import pytest

from socialvalue import Store
from socialvalue.demo import generate
from socialvalue.errors import ConfigError
from socialvalue.pipeline import RunConfig, run_pipeline
from socialvalue.pipeline.config import ActionsSection
from socialvalue.report import ReportData, render_report

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store_with_segments(tmp_path_factory):
    root = tmp_path_factory.mktemp("campaign")
    store = Store(root / "s.duckdb")
    generate(2500, seed=5).load_into(store)
    first = run_pipeline(store, "2026-07-01")
    yield store, first.scores, root
    store.close()


def _campaign(scores: pd.DataFrame, effect: dict[str, float], seed: int = 0) -> pd.DataFrame:
    """A past win-back test: random treatment; treated customers of some segments spend `effect` more."""
    rng = np.random.default_rng(seed)
    c = scores[["customer_id", "segment"]].copy()
    c["action"] = "win_back"
    c["treatment"] = rng.integers(0, 2, len(c))
    lift = c["segment"].map(effect).fillna(0.0).to_numpy()
    c["outcome"] = rng.gamma(1.0, 20.0, len(c)) + c["treatment"] * lift
    return c.drop(columns="segment")


def test_campaign_data_replaces_assumed_uplift(store_with_segments):
    store, scores, root = store_with_segments
    big = scores["segment"].value_counts().index[:2].tolist()
    path = root / "campaign.csv"
    _campaign(scores, {big[0]: 40.0}).to_csv(path, index=False)
    cfg = RunConfig(actions=ActionsSection(campaign=str(path)))
    res = run_pipeline(store, "2026-07-01", cfg)
    up = res.diagnostics["uplift"]
    est = pd.DataFrame(up["estimates"]).set_index("segment")
    assert est.loc[big[0], "lower"] < 40.0 < est.loc[big[0], "upper"]
    assert est.loc[big[1], "lower"] < 0.0 < est.loc[big[1], "upper"]
    assert res.diagnostics["uplift_estimated"] is True
    assert up["qini"]["win_back"]["coefficient"] > 0
    # win-back is valued at margin x estimated uplift for the segment with a real effect, 0 elsewhere
    plan = res.actions.merge(res.scores[["customer_id", "segment"]], on="customer_id")
    wb = plan[plan["action"] == "win_back"]
    assert len(wb) > 0 and set(wb["segment"]) == {big[0]}
    expected = cfg.run.margin * est.loc[big[0], "uplift"]
    assert wb["expected_value"].to_numpy() == pytest.approx(expected)
    html = render_report(ReportData.from_store(store, "2026-07-01"))
    assert "Qini curves of past campaigns" in html
    assert "Effects are assumptions" not in html


def test_campaign_with_unknown_action_is_refused(store_with_segments):
    store, scores, root = store_with_segments
    bad = _campaign(scores, {}).assign(action="skywriting")
    path = root / "bad.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(ConfigError, match="actions not in the playbook: skywriting"):
        run_pipeline(store, "2026-07-01", RunConfig(actions=ActionsSection(campaign=str(path))))
