"""The report's insight sections (issue 19): channels, cohorts and shares, each chart with its meaning line.

A 2,000-customer demo shop (seed 7) is run with a report; the sections show the meaning lines the run
recorded, the charts render in headless Chromium without a console error, and parts the run could not
compute (or a run recorded before the analyses existed) show the reason instead.
"""

from __future__ import annotations

import copy
import html
import re

import pytest

from socialvalue import Store
from socialvalue.demo import generate
from socialvalue.pipeline import RunConfig, run_pipeline
from socialvalue.report import ReportData, render_report
from socialvalue.report.insight_sections import NOT_RECORDED

AS_OF = "2026-07-01"
TITLES = ("Acquisition channels", "Signup cohorts", "Shares")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A demo run with its report, and the report's data read back from the store."""
    root = tmp_path_factory.mktemp("insight_report")
    with Store(root / "shop.duckdb") as store:
        generate(2_000, seed=7).load_into(store)
        result = run_pipeline(store, AS_OF, RunConfig(), report=root / "report.html")
        data = ReportData.from_store(store, AS_OF)
    return {"result": result, "data": data, "report": root / "report.html"}


def _section(text: str, title: str) -> str:
    start = text.index(f">{title}</h2>")
    return text[start : text.index("</section>", start)]


def _means(chunk: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r"<b>What this means:</b> (.*?)</p>", chunk)]


def test_the_sections_carry_the_runs_meaning_lines(run):
    text = run["report"].read_text(encoding="utf-8")
    ins = run["result"].diagnostics["insight"]
    for title in TITLES:
        assert f">{title}</h2>" in text
    channels = _means(_section(text, "Acquisition channels"))
    assert channels[0] == ins["channels"]["meaning"]
    # the second chart's line is computed from the value per customer acquired, currency and horizon stated
    table = {r["channel"]: r for r in ins["channels"]["table"]}
    best = max(table.values(), key=lambda r: r["value_per_customer"])
    assert channels[1].startswith(f"A customer acquired through {best['channel']} brings ")
    assert "USD" in channels[1] and run["result"].diagnostics["clv_horizon"] in channels[1]
    cohorts = _means(_section(text, "Signup cohorts"))
    assert cohorts[0] == ins["cohorts"]["meaning"]
    assert cohorts[1].startswith("A member spends ") and "USD" in cohorts[1]
    assert re.match(
        r"Through month \d+ after sign-up, the \S+ expects \d+\.\d\d repeat purchases", cohorts[2]
    )
    assert cohorts[3] == ins["lifecycle_mix"]["meaning"]
    shares = _section(text, "Shares")
    lines = _means(shares)
    for key in ("content", "helpfulness", "time"):
        assert ins["shares"][key]["meaning"] in lines
    # no category-spend file: the report says why the wallet share is missing
    assert "Omitted: no category-spend table was supplied" in html.unescape(shares)
    headers = re.findall(r"<th[^>]*>([^<]*)</th>", _section(text, "Acquisition channels"))
    assert headers and not [h for h in headers if "_" in h]


def test_the_charts_render_in_chromium(browser, run):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(run["report"].as_uri())
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length > 0")
    counts = page.evaluate(
        """(ids) => ids.map(id => {
            const s = document.getElementById(id);
            const charts = [...s.querySelectorAll('div[id^=chart-]')];
            return [charts.length, charts.filter(d => d.querySelector('svg.main-svg')).length];
        })""",
        ["channels", "cohorts", "shares"],
    )
    assert counts[0] == [2, 2] and counts[1] == [4, 4] and counts[2][0] >= 3
    assert counts[2][0] == counts[2][1]
    assert errors == []
    page.close()


def test_unavailable_parts_show_their_reason(run):
    data = copy.deepcopy(run["data"])
    ins = data.diagnostics["insight"]
    ins["channels"] = {
        "available": False,
        "reason": "unavailable: no customer has an acquisition_channel value",
    }
    ins["shares"]["time"] = {
        "available": False,
        "reason": "unavailable: interactions have no duration_s column",
    }
    text = html.unescape(render_report(data))
    assert "Unavailable: no customer has an acquisition_channel value." in _section(
        text, "Acquisition channels"
    )
    assert "Unavailable: interactions have no duration_s column." in _section(text, "Shares")
    assert _means(_section(text, "Acquisition channels")) == []


def test_a_run_without_insight_says_so(run):
    data = copy.deepcopy(run["data"])
    del data.diagnostics["insight"]
    text = render_report(data)
    for title, what in zip(TITLES, ("channel", "cohort", "share"), strict=True):
        assert NOT_RECORDED.format(what=what) in html.unescape(_section(text, title))
    data.diagnostics["insight"] = {"available": False, "reason": "omitted: [insight] enabled = false"}
    text = html.unescape(render_report(data))
    for title in TITLES:
        assert "Omitted: [insight] enabled = false." in _section(text, title)
