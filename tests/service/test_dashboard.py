"""The dashboard (issue 17) in headless Chromium against a real server on 127.0.0.1.

Each test opens the dashboard of the ``served`` demo store (two runs) with a read key, in a fresh browser
context that fails every request not addressed to 127.0.0.1 and collects console errors and page errors.
The numbers on the page are compared with ``GET /overview`` and, independently, with the store's ``scores``
and ``actions`` tables read by DuckDB; lookup and filter with the store; the audience download byte for byte
with ``GET /actions?format=csv``. Keyboard reach, the skip link and the WCAG contrast of every visible text
are measured in the page.

Screenshots of each view are test artefacts: they are written under pytest's base temporary folder
(``<basetemp>/dashboard/``) and, when ``SOCIALVALUE_ARTIFACTS`` is set, into ``$SOCIALVALUE_ARTIFACTS/dashboard/``
too (``tests/artifacts`` is not ignored by git, so nothing is written into the tree).
"""

from __future__ import annotations

import math
import os
import re
import shutil
from pathlib import Path
from urllib.parse import quote, urlsplit

import duckdb
import httpx
import pytest

STATIC = Path(__file__).resolve().parents[2] / "src" / "socialvalue" / "service" / "static"
VIEWS = ("overview", "changes", "influencers", "lookup", "audience")
LOOPBACK = {"127.0.0.1"}
FETCH_404 = re.compile(r"Failed to load resource: the server responded with a status of 404")


# -- fixtures ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> list[Path]:
    """Where the screenshots go: pytest's base temporary folder, and $SOCIALVALUE_ARTIFACTS when set."""
    folders = [tmp_path_factory.getbasetemp() / "dashboard"]
    extra = os.environ.get("SOCIALVALUE_ARTIFACTS")
    if extra:
        folders.append(Path(extra) / "dashboard")
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    return folders


class Dashboard:
    """One browser context on the dashboard: its page, and what went wrong in it."""

    def __init__(self, browser, served, artifacts: list[Path]) -> None:
        self.served = served
        self.artifacts = artifacts
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.context.route("**/*", self._guard)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("dialog", lambda d: (self.errors.append(f"dialog: {d.message}"), d.dismiss()))
        self.page.on("request", lambda r: self.requests.append(r.url))

    def _guard(self, route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in LOOPBACK:
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def open(self, key: str | None = None) -> None:
        """Load the dashboard and, with a key, give it through the form and wait until every view loaded."""
        self.page.goto(self.served.url + "/dashboard/")
        self.page.wait_for_selector("body[data-state]")
        if key is not None:
            self.page.fill("#api-key", key)
            self.page.click("#key-submit")
            self.page.wait_for_selector("body[data-state=ready]")

    def shot(self, name: str, selector: str | None = None) -> None:
        """A screenshot of one view (or the whole page), written to every artefact folder."""
        first = self.artifacts[0] / f"{name}.png"
        if selector is None:
            self.page.screenshot(path=str(first), full_page=True)
        else:
            self.page.locator(selector).screenshot(path=str(first))
        for folder in self.artifacts[1:]:
            shutil.copyfile(first, folder / first.name)

    def check(self, allowed=None) -> None:
        """No request left loopback, and the console holds no error (but those ``allowed`` matches)."""
        assert self.outside == []
        errors = [e for e in self.errors if allowed is None or not allowed.search(e)]
        assert errors == []

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def dash(browser, served, artifacts):
    """A fresh browser context on the dashboard (not yet opened)."""
    d = Dashboard(browser, served, artifacts)
    yield d
    d.close()


@pytest.fixture
def loaded(dash, served):
    """The dashboard opened with a read key, every view loaded."""
    dash.open(served.keys["read"])
    return dash


def api(served, path: str, **params):
    """A GET on the server with the read key (the reference the page is compared with)."""
    r = httpx.get(
        served.url + path,
        params=params,
        headers={"Authorization": f"Bearer {served.keys['read']}"},
        timeout=30,
    )
    return r


@pytest.fixture
def db(served):
    """The store, read-only: the independent reference for what the page shows."""
    con = duckdb.connect(str(served.store), read_only=True)
    yield con
    con.close()


def latest_as_of(db) -> str:
    return str(db.execute("SELECT max(as_of) FROM scores").fetchone()[0])[:10]


# -- the views ---------------------------------------------------------------------------------------------
def test_kpis_equal_the_api_and_the_store(loaded, served, db):
    page = loaded.page
    shown = page.eval_on_selector_all(
        "[data-kpi]", "els => Object.fromEntries(els.map(e => [e.dataset.kpi, e.dataset.value]))"
    )
    overview = api(served, "/overview").json()
    kpis = overview["kpis"]
    assert set(shown) == set(kpis)
    for key, value in kpis.items():
        assert float(shown[key]) == value, key  # the raw value, unrounded

    as_of = latest_as_of(db)
    assert overview["run"]["as_of"] == as_of
    assert page.get_attribute("#run-info", "data-as-of") == as_of
    (customers, total_value, total_clv, total_social, mean_value, alerts, influencers) = db.execute(
        "SELECT count(*), sum(clv + social_value), sum(clv), sum(social_value), avg(clv + social_value), "
        "count(*) FILTER (WHERE churn_alert), count(*) FILTER (WHERE influencer) "
        "FROM scores WHERE as_of = CAST(? AS DATE)",
        [as_of],
    ).fetchone()
    (with_action,) = db.execute(
        "SELECT count(*) FROM actions WHERE as_of = CAST(? AS DATE) AND action <> 'do_nothing'", [as_of]
    ).fetchone()
    store = {
        "customers": customers,
        "total_value": total_value,
        "total_clv": total_clv,
        "total_social_value": total_social,
        "mean_value": mean_value,
        "churn_alerts": alerts,
        "influencers": influencers,
        "customers_with_action": with_action,
    }
    for key, value in store.items():
        assert math.isclose(float(shown[key]), value, rel_tol=1e-9), key
    # money is stated with its currency, and the CLV with its horizon
    text = page.inner_text("#overview")
    assert overview["run"]["currency"] in text
    assert overview["run"]["clv_horizon"] in text
    loaded.check()


def test_every_chart_renders_with_its_data_table(loaded, served):
    page = loaded.page
    overview = api(served, "/overview").json()
    top = api(served, "/influencers", k=20).json()

    def bars(chart: str) -> int:
        return page.locator(f'svg[data-chart="{chart}"] [data-bar]').count()

    assert bars("value_distribution") == len(overview["value_distribution"]["counts"]) > 0
    assert bars("segments") == len(overview["segments"]) > 0
    assert bars("stages") == len(overview["stages"]) > 0
    heights = page.eval_on_selector_all(
        'svg[data-chart="value_distribution"] rect[data-bar]',
        "els => els.map(e => +e.getAttribute('height'))",
    )
    counts = overview["value_distribution"]["counts"]
    assert [h > 0 for h in heights] == [c > 0 for c in counts]
    assert heights.index(max(heights)) == counts.index(max(counts))

    network = 'svg[data-chart="influencer_network"]'
    assert page.locator(f"{network} [data-node]").count() == len(top["items"]) > 0
    assert page.locator(f"{network} [data-edge]").count() == len(top["edges"])
    table_ids = page.eval_on_selector_all(
        'table[data-table="influencers"] tbody tr', "rows => rows.map(r => r.dataset.customerId)"
    )
    assert table_ids == [i["customer_id"] for i in top["items"]]

    # every chart is an image with a name and a description, and its data is in a table too
    charts = page.eval_on_selector_all(
        "svg[data-chart]",
        """els => els.map(e => ({chart: e.dataset.chart, role: e.getAttribute('role'),
              label: e.getAttribute('aria-label') || '', title: (e.querySelector('title') || {}).textContent || '',
              table: !!e.closest('.chart-block').querySelector('table')}))""",
    )
    assert {c["chart"] for c in charts} >= {"value_distribution", "segments", "stages", "influencer_network"}
    for c in charts:
        assert c["role"] == "img" and c["label"] and c["title"] and c["table"], c
    for name, rows in (("segments", overview["segments"]), ("stages", overview["stages"])):
        assert page.locator(f'table[data-table="{name}"] tbody tr').count() == len(rows)

    # the network's labels do not overlap
    overlaps = page.evaluate(
        """sel => {
          const boxes = [...document.querySelectorAll(sel + ' text')].map(t => t.getBoundingClientRect());
          let n = 0;
          for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
            const a = boxes[i], b = boxes[j];
            if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1) n++;
          }
          return n;
        }""",
        network,
    )
    assert overlaps == 0
    loaded.check()


def test_changes_since_the_previous_run(loaded, served):
    page = loaded.page
    changes = api(served, "/changes").json()
    assert changes["previous_as_of"] is not None  # the served store has two runs
    cells = page.eval_on_selector_all(
        'table[data-table="transitions"] td[data-from]',
        "els => els.map(e => [e.dataset.from, e.dataset.to, +e.dataset.value])",
    )
    shown = {(f, t): v for f, t, v in cells if v}
    name = {None: "(none)", "": "(none)"}
    expected = {
        (name.get(t["from"], t["from"]), name.get(t["to"], t["to"])): t["customers"]
        for t in changes["transitions"]
    }
    assert shown == expected
    moved = page.eval_on_selector_all(
        "[data-moved]", "els => Object.fromEntries(els.map(e => [e.dataset.moved, +e.dataset.value]))"
    )
    assert moved == changes["value_moved"]
    slipping = page.eval_on_selector_all(
        'table[data-table="slipping"] tbody tr', "rows => rows.map(r => r.dataset.customerId)"
    )
    assert slipping == [s["customer_id"] for s in changes["slipping"]]
    loaded.check()


def test_lookup_shows_the_customers_action_and_reason(loaded, served, db):
    page = loaded.page
    as_of = latest_as_of(db)
    customer_id, action, reason = db.execute(
        "SELECT a.customer_id, a.action, a.reason FROM actions a JOIN scores s USING (customer_id, as_of) "
        "WHERE a.as_of = CAST(? AS DATE) AND a.action <> 'do_nothing' AND a.reason <> '' "
        "ORDER BY s.clv + s.social_value DESC, a.customer_id LIMIT 1",
        [as_of],
    ).fetchone()
    (risk,) = db.execute(
        "SELECT churn_risk FROM scores WHERE as_of = CAST(? AS DATE) AND customer_id = ?",
        [as_of, customer_id],
    ).fetchone()
    page.locator("#lookup-id").focus()
    page.keyboard.type(customer_id)
    page.keyboard.press("Enter")
    page.wait_for_selector("#lookup-result[data-state=done]")
    result = page.locator("#lookup-result")
    assert result.locator('[data-field="customer_id"]').inner_text() == customer_id
    assert result.locator('[data-field="action"]').get_attribute("data-value") == action
    assert result.locator('[data-field="action_reason"]').inner_text() == reason
    assert math.isclose(float(result.locator('[data-field="churn_risk"]').get_attribute("data-value")), risk)
    detail = api(served, f"/customers/{quote(customer_id, safe='')}").json()
    components = [c for c in detail["value"]["components"]]
    assert result.locator('svg[data-chart="value_components"] [data-bar]').count() == len(components) > 0
    assert result.locator('table[data-table="history"] tbody tr').count() == len(detail["history"]) > 0
    named = result.locator('[data-field="top_contributors"] li').count()
    assert named == len(detail["value"]["top_contributors"])
    loaded.check()


def test_lookup_of_an_unknown_hostile_id_shows_the_problem_detail(loaded, served):
    page = loaded.page
    hostile = '<img src=x onerror="window.pwned=1">&amp;\'"<script>window.pwned=2</script>'
    expected = api(served, f"/customers/{quote(hostile, safe='')}")
    assert expected.status_code == 404
    page.fill("#lookup-id", hostile)
    page.click("#lookup-form button[type=submit]")
    page.wait_for_selector("#lookup-result[data-state=error]")
    alert = page.locator('#lookup-result [role="alert"]')
    assert alert.is_visible()
    assert expected.json()["detail"] in alert.inner_text()
    # the id was shown as text: no element came out of it, no script ran
    assert page.locator("#lookup-result img, #lookup-result script").count() == 0
    assert page.evaluate("window.pwned") is None
    loaded.shot("lookup-404", "#lookup")
    loaded.check(allowed=FETCH_404)  # Chromium logs every 404 answer to a fetch


def test_segment_filter_lists_only_that_segment_page_after_page(loaded, served, db):
    page = loaded.page
    as_of = latest_as_of(db)
    segment, size = db.execute(
        "SELECT segment, count(*) AS n FROM scores WHERE as_of = CAST(? AS DATE) AND segment IS NOT NULL "
        "GROUP BY 1 HAVING n > 50 ORDER BY (segment LIKE '%''%') DESC, n, segment LIMIT 1",
        [as_of],
    ).fetchone()
    members = {
        r[0]
        for r in db.execute(
            "SELECT customer_id FROM scores WHERE as_of = CAST(? AS DATE) AND segment = ?", [as_of, segment]
        ).fetchall()
    }
    page.select_option("#filter-segment", segment)
    page.click("#filter-submit")
    page.wait_for_selector("#filter-result[data-state=done]")
    rows = 'table[data-table="customers"] tbody tr'
    first = page.eval_on_selector_all(
        rows, "rows => rows.map(r => [r.dataset.customerId, r.dataset.segment])"
    )
    assert len(first) == 50
    assert {s for _, s in first} == {segment}
    assert {c for c, _ in first} <= members

    page.click("#page-next")
    page.wait_for_selector('#filter-result h3[data-page="2"]')
    page.wait_for_selector("#filter-result[data-state=done]")
    second = page.eval_on_selector_all(
        rows, "rows => rows.map(r => [r.dataset.customerId, r.dataset.segment])"
    )
    assert len(second) == min(50, size - 50)
    assert {s for _, s in second} == {segment}
    assert {c for c, _ in second} <= members
    assert not {c for c, _ in first} & {c for c, _ in second}
    listing = api(served, "/customers", segment=segment, limit=100).json()
    assert [c for c, _ in first + second] == [i["customer_id"] for i in listing["items"]][
        : len(first + second)
    ]
    loaded.check()


def test_audience_download_equals_the_api_byte_for_byte(loaded, served, tmp_path):
    page = loaded.page
    actions = api(served, "/actions").json()["actions"]
    name = max((a for a in actions if a["action"] != "do_nothing"), key=lambda a: a["customers"])["action"]
    page.select_option("#filter-action", name)
    with page.expect_download() as info:
        page.click("#audience-download")
    download = info.value
    saved = tmp_path / "audience.csv"
    download.save_as(saved)
    expected = api(served, "/actions", format="csv", action=name)
    assert expected.status_code == 200
    assert saved.read_bytes() == expected.content
    assert download.suggested_filename == f"audience-{name}.csv"
    assert expected.content.count(b"\n") > 1
    loaded.check()


def test_a_refused_key_is_shown_in_the_alert_region(dash, served):
    dash.open("not-a-key-at-all")
    alerts = dash.page.locator('#alerts[role="alert"]')
    assert alerts.is_visible()
    refused = httpx.get(served.url + "/overview", headers={"Authorization": "Bearer not-a-key-at-all"})
    assert refused.status_code == 401
    assert alerts.inner_text().count(refused.json()["detail"]) == 1  # said once for every view it stopped
    assert dash.page.evaluate("sessionStorage.getItem('socialvalue.apiKey')") is None
    assert dash.page.locator("[data-kpi]").count() == 0
    dash.shot("refused-key")
    dash.check(allowed=re.compile(r"status of 401"))


def test_a_store_with_one_scoring_date_says_there_is_no_previous_run(
    browser, artifacts, store_factory, start_server
):
    single = start_server(store_factory(customers=400, dates=("2026-07-01",)))
    assert (
        httpx.get(single.url + "/changes", headers={"Authorization": f"Bearer {single.keys['read']}"}).json()[
            "previous_as_of"
        ]
        is None
    )
    d = Dashboard(browser, single, artifacts)
    try:
        d.open(single.keys["read"])
        said = d.page.locator('#changes-body [data-state="no-previous"]')
        assert said.is_visible()
        assert "no previous run" in said.inner_text()
        assert d.page.locator('table[data-table="transitions"], [data-moved]').count() == 0
        assert d.page.locator("[data-kpi]").count() > 0  # the other views still load
        d.shot("changes-no-previous-run", "#changes")
        d.check()
    finally:
        d.close()


def test_the_key_stays_in_session_storage_and_goes_in_the_header(dash, served):
    key = served.keys["read"]
    dash.open(key)
    assert dash.page.evaluate("sessionStorage.getItem('socialvalue.apiKey')") == key
    assert dash.page.input_value("#api-key") == ""  # not left in the form
    with dash.page.expect_request(lambda r: r.url.endswith("/overview")) as info:
        dash.page.reload()
    assert info.value.headers.get("authorization") == f"Bearer {key}"
    dash.page.wait_for_selector("body[data-state=ready]")
    assert dash.page.locator("[data-kpi]").count() > 0
    dash.page.click("#key-forget")
    assert dash.page.evaluate("sessionStorage.getItem('socialvalue.apiKey')") is None
    assert dash.page.locator("[data-kpi]").count() == 0
    dash.check()


# -- access ------------------------------------------------------------------------------------------------
def test_keyboard_reaches_the_key_form_the_lookup_box_and_the_download(loaded):
    page = loaded.page
    page.reload()  # the key is in session storage: the views load again, and Tab starts from the top
    page.wait_for_selector("body[data-state=ready]")
    page.keyboard.press("Tab")
    first = page.evaluate(
        "({cls: document.activeElement.className, href: document.activeElement.getAttribute('href')})"
    )
    assert first == {"cls": "skip-link", "href": "#main"}
    assert page.locator(".skip-link").is_visible()  # shown when focused
    reached, outlines = [], {}
    for _ in range(400):
        page.keyboard.press("Tab")
        ident = page.evaluate("document.activeElement.id")
        if ident in ("api-key", "lookup-id", "audience-download"):
            reached.append(ident)
            outlines[ident] = page.evaluate(
                "(() => { const s = getComputedStyle(document.activeElement);"
                " return [s.outlineStyle, parseFloat(s.outlineWidth)]; })()"
            )
        if ident == "audience-download":
            break
    assert reached == ["api-key", "lookup-id", "audience-download"]
    for ident, (style, width) in outlines.items():
        assert style != "none" and width >= 2, ident  # a visible focus ring
    # the skip link moves focus to the main content
    page.reload()
    page.wait_for_selector("body[data-state=ready]")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    loaded.check()


#: The WCAG contrast check run in the page (shared with the other browser tests of the service).
CONTRAST = (Path(__file__).with_name("wcag_contrast.js")).read_text(encoding="utf-8")


def test_every_visible_text_has_contrast_of_at_least_4_5(loaded, db):
    page = loaded.page
    customer_id = db.execute("SELECT min(customer_id) FROM scores").fetchone()[0]
    page.fill("#lookup-id", customer_id)
    page.click("#lookup-form button[type=submit]")
    page.wait_for_selector("#lookup-result[data-state=done]")
    page.click("#filter-submit")
    page.wait_for_selector("#filter-result[data-state=done]")
    result = page.evaluate(CONTRAST)
    assert result["failures"] == []
    assert result["checked"] > 300  # every view's text was measured
    assert result["lowest"] >= 4.5
    loaded.check()


def test_nothing_is_fetched_from_outside_loopback(loaded):
    hosts = {urlsplit(u).hostname for u in loaded.requests if not u.startswith(("blob:", "data:"))}
    assert hosts == LOOPBACK
    assert loaded.outside == []
    # and the files name no outside resource: the only URL in them is the SVG namespace
    for path in sorted(STATIC.iterdir()):
        text = path.read_text(encoding="utf-8")
        urls = set(re.findall(r"https?://[^\s\"')]+", text))
        assert urls <= {"http://www.w3.org/2000/svg"}, path.name
        assert "@import" not in text and "url(http" not in text
    loaded.check()


def test_every_view_is_screenshotted(loaded, artifacts):
    page = loaded.page
    page.fill(
        "#lookup-id",
        page.locator('table[data-table="influencers"] tbody tr').first.get_attribute("data-customer-id"),
    )
    page.click("#lookup-form button[type=submit]")
    page.wait_for_selector("#lookup-result[data-state=done]")
    page.click("#filter-submit")
    page.wait_for_selector("#filter-result[data-state=done]")
    for view in VIEWS:
        loaded.shot(f"view-{view}", f"#{view}")
    loaded.shot("dashboard")
    for folder in artifacts:
        for view in VIEWS:
            assert (folder / f"view-{view}.png").stat().st_size > 1000
    loaded.check()
