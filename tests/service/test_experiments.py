"""``GET /experiments`` and the dashboard's "Did the actions pay?" panel (issue 19, part 6) on a real server.

The store is a scored demo shop whose published run record carries ``diagnostics["experiments"]`` measured
with the real functions (``tests/report/action_results_data``: one action paid, one harmful, one did not pay,
one not yet measured); the run record is written in the store and published again, as a run publishes it.
The panel is checked in headless Chromium against the API's numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from socialvalue import Store
from socialvalue.published import republish
from socialvalue.service import schemas
from socialvalue.service.queries import NO_MEASUREMENT, experiments_view

from ..report.action_results_data import LABELS, UNMEASURED, experiments_diagnostics
from .test_dashboard import Dashboard


@pytest.fixture(scope="module")
def measured(store_factory, start_server):
    """A server whose published run recorded the measurement of four actions; and that measurement."""
    path = store_factory(customers=400, dates=("2026-07-01",))
    exp = experiments_diagnostics()
    with Store(path) as store:
        run_id, raw = store.con.execute(
            "SELECT run_id, diagnostics_json FROM _runs ORDER BY started_at DESC LIMIT 1"
        ).fetchone()
        diag = json.loads(raw or "{}")
        diag["experiments"] = exp
        store.con.execute(
            "UPDATE _runs SET diagnostics_json = ? WHERE run_id = ?", [json.dumps(diag), run_id]
        )
        assert republish(store) is not None
    return start_server(path), exp, run_id


def _get(served, path: str) -> httpx.Response:
    return httpx.get(
        served.url + path, headers={"Authorization": f"Bearer {served.keys['read']}"}, timeout=30
    )


def test_the_endpoint_returns_the_runs_verdicts(measured):
    served, exp, run_id = measured
    r = _get(served, "/experiments")
    assert r.status_code == 200
    body = r.json()
    schemas.ExperimentsOut.model_validate(body)
    assert body["run_id"] == run_id and body["as_of"] == "2026-07-01"
    assert body["available"] is True and body["reason"] is None
    assert body["verdicts"] == exp["verdicts"]
    verdicts = {(v["action"], v["segment"]): v["verdict"] for v in body["verdicts"]}
    assert set(verdicts.values()) == {"paid", "harmful", "did not pay", "not yet measured"}
    assert verdicts[UNMEASURED, "(all)"] == "not yet measured"
    waiting = next(v for v in body["verdicts"] if v["action"] == UNMEASURED and v["segment"] == "(all)")
    assert waiting["uplift"] is None and waiting["lower"] is None  # null, never NaN
    for key in ("currency", "window_days", "min_outcomes", "confidence", "labels", "replaced", "values"):
        assert body[key] == exp[key], key
    assert set(body["qini"]) == set(exp["qini"])
    assert len(body["uplift"]) == len(exp["uplift"])


def test_the_endpoint_needs_a_read_key(measured):
    served, _, _ = measured
    assert httpx.get(served.url + "/experiments", timeout=30).status_code == 401


def test_a_run_without_a_measurement_says_why():
    assert experiments_view({"champions": {}}) == {"available": False, "reason": NO_MEASUREMENT}
    assert experiments_view(None) == {"available": False, "reason": NO_MEASUREMENT}
    reason = "no control groups recorded yet: export the actions to hold them out"
    said = experiments_view({"experiments": {"available": False, "reason": reason, "currency": "EUR"}})
    assert said == {"available": False, "reason": reason, "currency": "EUR"}
    assert experiments_view({"experiments": {"available": False}})["reason"] == "the run recorded no reason"
    schemas.ExperimentsOut.model_validate(said)


def test_the_served_demo_run_answers_available_or_says_why(served):
    body = _get(served, "/experiments").json()
    schemas.ExperimentsOut.model_validate(body)
    if not body["available"]:
        assert body["reason"]


@pytest.fixture
def artifacts(tmp_path) -> list[Path]:
    return [tmp_path]


def test_the_panel_shows_each_verdict_interval_and_cost(browser, measured, artifacts):
    served, exp, _ = measured
    body = _get(served, "/experiments").json()
    d = Dashboard(browser, served, artifacts)
    try:
        d.open(served.keys["read"])
        page = d.page
        page.wait_for_selector('#experiments-body[data-state="available"]')
        rows = page.eval_on_selector_all(
            'table[data-table="action_results"] tbody tr',
            "rows => rows.map(r => [r.dataset.action, r.dataset.verdict, r.innerText])",
        )
        overall = [v for v in body["verdicts"] if v["segment"] == "(all)"]
        assert [(a, v) for a, v, _ in rows] == [(v["action"], v["verdict"]) for v in overall]
        for (_, verdict, text), v in zip(rows, overall, strict=True):
            assert LABELS[v["action"]] in text and verdict in text
            if verdict == "not yet measured":
                assert text.count("not yet measured") >= 3  # verdict, uplift and interval say so
            else:
                lo, hi = f"{abs(v['lower']):,.2f}", f"{abs(v['upper']):,.2f}"
                assert lo in text and hi in text
        chart = 'svg[data-chart="action_results"]'
        assert page.locator(f"{chart} [data-row]").count() == 4
        assert page.locator(f"{chart} [data-interval]").count() == 3  # the unmeasured action has none
        points = page.eval_on_selector_all(f"{chart} [data-point]", "els => els.map(e => +e.dataset.point)")
        assert sorted(points) == sorted(v["uplift"] for v in overall if v["uplift"] is not None)
        costs = page.eval_on_selector_all(f"{chart} [data-cost]", "els => els.map(e => +e.dataset.cost)")
        assert sorted(costs) == sorted(v["cost"] for v in overall)
        waiting = page.locator(f'{chart} [data-action="{UNMEASURED}"]')
        assert waiting.get_attribute("data-verdict") == "not yet measured"
        assert "not yet measured" in waiting.evaluate("g => g.textContent")
        assert page.locator('table[data-table="action_segments"] tbody tr').count() == 8
        text = page.inner_text("#experiments")
        assert "EUR" in text and "90 days" in text
        d.shot("view-experiments", "#experiments")
        assert (artifacts[0] / "view-experiments.png").stat().st_size > 5000
        d.check()
    finally:
        d.close()
    assert exp["labels"] == LABELS


def test_the_panel_says_why_when_nothing_was_measured(browser, served, artifacts):
    body = _get(served, "/experiments").json()
    if body["available"]:
        pytest.fail("the served demo store has no exported actions: nothing can be measured")
    d = Dashboard(browser, served, artifacts)
    try:
        d.open(served.keys["read"])
        said = d.page.locator('#experiments-body p[data-state="unavailable"]')
        assert (
            said.inner_text() == f"Whether the actions paid is not known yet: {body['reason'].rstrip('.')}."
        )
        assert d.page.locator('svg[data-chart="action_results"]').count() == 0
        d.check()
    finally:
        d.close()
