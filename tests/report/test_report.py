from pathlib import Path

from socialvalue.report import render_report, write_report

SCREENSHOTS = Path(__file__).resolve().parents[2] / ".pytest_cache" / "screenshots"


def test_report_is_self_contained_and_small(tmp_path, report_data):
    data = report_data
    path = write_report(data, tmp_path / "report.html")
    text = path.read_text()
    assert '<script src="http' not in text and "<link" not in text  # nothing loaded from the network
    assert text.count("Plotly.newPlot") >= 12
    assert path.stat().st_size < 8_000_000
    for title in (
        "Goals and definitions",
        "Data quality",
        "Value distribution",
        "RFM segments",
        "Lifecycle",
        "CLV model diagnostics",
        "Churn early warning",
        "Social value",
        "Clusters and tiers",
        "Action plan",
    ):
        assert f">{title}</h2>" in text
    # "what this means" sentences are computed from the data
    assert "What this means:" in text
    assert "content_value weight withheld" in text


def test_sentences_follow_the_data(report_data):
    data = report_data
    s = data.scores
    s.loc[:, "clv"] = 0.0
    s.loc[s.index[:50], "clv"] = 100.0  # top 1% hold all CLV
    html = render_report(data)
    assert "The top 10% of customers hold 100% of predicted CLV and the top 1% hold 100%" in html


def test_report_renders_every_chart_in_chromium(browser, tmp_path, report_data):
    data = report_data
    path = write_report(data, tmp_path / "report.html")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length > 0")
    n_divs = page.evaluate("document.querySelectorAll('div[id^=chart-]').length")
    rendered = page.evaluate(
        "[...document.querySelectorAll('div[id^=chart-]')].filter(d => d.querySelector('svg.main-svg')).length"
    )
    assert n_divs >= 12
    assert rendered == n_divs
    assert errors == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "report.png"), full_page=False)
    assert (SCREENSHOTS / "report.png").stat().st_size > 10_000
    page.close()
