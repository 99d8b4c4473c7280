"""``GET /insight`` and the dashboard's channels, cohorts and shares panels (issue 19) on the served demo store.

The served store (``conftest.served``) is scored at two dates; the endpoint returns the published run's
``insight`` record as the store holds it, needs a read key, and the dashboard shows every part's meaning line
(or its reason) with one bar per channel and per pooled cohort period.
"""

from __future__ import annotations

import json

import duckdb
import pytest

from socialvalue.service import schemas

from .test_dashboard import Dashboard

AS_OF = "2026-07-01"


@pytest.fixture(scope="module")
def stored(served):
    """The published run's id and its insight record, read from the store directly."""
    con = duckdb.connect(str(served.store), read_only=True)
    try:
        run_id, diag = con.execute(
            "SELECT run_id, diagnostics_json FROM _runs WHERE as_of = ? ORDER BY started_at DESC LIMIT 1",
            [AS_OF],
        ).fetchone()
    finally:
        con.close()
    return run_id, json.loads(diag)["insight"]


@pytest.fixture(scope="module")
def body(served):
    with served.client("read") as c:
        r = c.get("/insight")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    return r.json()


def test_insight_is_the_published_runs_record(body, stored):
    run_id, insight = stored
    schemas.InsightOut.model_validate(body)
    assert body["run"]["run_id"] == run_id and body["run"]["as_of"] == AS_OF
    assert body["available"] is True and body["as_of"] == AS_OF
    defaults = {"meaning": None, "reason": None, "notes": []}  # the response model's, for absent keys
    for key in ("channels", "cohorts", "lifecycle_mix"):
        assert body[key] == {**defaults, **insight[key]}, key
    for key in ("content", "helpfulness", "time", "wallet"):
        assert body["shares"][key] == {**defaults, **insight["shares"][key]}, key
    assert body["channels"]["available"] and body["channels"]["meaning"]
    assert body["cohorts"]["model"] and body["cohorts"]["meaning"].startswith("Of customers who signed up")
    # the store holds two scoring dates: the lifecycle mix covers both
    assert body["lifecycle_mix"]["dates"] == 2
    assert {r["as_of"][:10] for r in body["lifecycle_mix"]["table"]} == {"2026-04-01", AS_OF}
    assert body["shares"]["wallet"]["available"] is False
    assert body["shares"]["wallet"]["reason"].startswith("omitted: no category-spend table was supplied")


def test_insight_needs_a_read_key(served):
    with served.client(None) as c:
        r = c.get("/insight")
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"


@pytest.fixture
def dash(browser, served, tmp_path):
    d = Dashboard(browser, served, [tmp_path])
    yield d
    d.close()


def test_the_dashboard_shows_each_part_with_its_meaning(dash, served, body):
    dash.open(served.keys["read"])
    page = dash.page

    def text(selector: str) -> str:
        return page.locator(selector).inner_text()

    assert body["channels"]["meaning"] in text('#insight [data-meaning="channels"]')
    assert body["cohorts"]["meaning"] in text('#insight [data-meaning="cohorts"]')
    assert body["lifecycle_mix"]["meaning"] in text('#insight [data-meaning="lifecycle_mix"]')
    for key in ("content", "helpfulness", "time"):
        assert body["shares"][key]["meaning"] in text(f'#insight [data-meaning="share_{key}"]')
    assert text('#insight [data-reason="share_wallet"]') == body["shares"]["wallet"]["reason"]
    channels = body["channels"]["table"]
    assert page.locator('svg[data-chart="channel_repeat"] [data-bar]').count() == len(channels) > 1
    assert page.locator('svg[data-chart="channel_value"] [data-bar]').count() == len(channels)
    periods = {r["period"] for r in body["cohorts"]["table"] if r["complete"]}
    assert page.locator('svg[data-chart="cohort_retention"] [data-bar]').count() == len(periods) > 1
    assert page.locator('table[data-table="channels"] tbody tr').count() == len(channels)
    # the first pooled period's share active: every cohort's period 0, members and active summed
    first = [r for r in body["cohorts"]["table"] if r["complete"] and r["period"] == 0]
    share = sum(r["active"] for r in first) / sum(r["members"] for r in first)
    bar = page.locator('svg[data-chart="cohort_retention"] [data-bar="0"]').get_attribute("data-value")
    assert float(bar) == pytest.approx(share, rel=1e-12)
    dash.check()
