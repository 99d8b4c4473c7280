"""The influencer network is readable at the default size: no two text labels overlap (checked in Chromium)."""

from pathlib import Path

from socialvalue.report import write_report

SCREENSHOTS = Path(__file__).resolve().parents[2] / ".pytest_cache" / "screenshots"

_OVERLAPS = """
(id) => {
  const svg = document.getElementById(id);
  const boxes = [...svg.querySelectorAll('text')]
    .filter(t => t.textContent.trim() && t.getBoundingClientRect().width > 0)
    .map(t => ({text: t.textContent, r: t.getBoundingClientRect()}));
  const hits = [];
  for (let i = 0; i < boxes.length; i++)
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i].r, b = boxes[j].r;
      if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1)
        hits.push([boxes[i].text, boxes[j].text]);
    }
  return {labels: boxes.length, overlaps: hits};
}
"""


def test_network_labels_do_not_overlap(browser, tmp_path, report_data):
    path = write_report(report_data, tmp_path / "report.html")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(path.as_uri())
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length > 0")
    chart_id = page.evaluate(
        "[...document.querySelectorAll('div[id^=chart-]')]"
        ".find(d => d.textContent.includes('Influencer network')).id"
    )
    page.locator(f"#{chart_id}").scroll_into_view_if_needed()
    result = page.evaluate(_OVERLAPS, chart_id)
    assert result["labels"] > 0  # the title and colour bar are measured too
    assert result["overlaps"] == []
    # no customer is written on the plot: names are in the ranked table below it
    assert not any(
        f"c{i}" == t for t in page.locator(f"#{chart_id} text").all_inner_texts() for i in range(40)
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(f"#{chart_id}").screenshot(path=str(SCREENSHOTS / "network.png"))
    table = page.locator("text=Top 10 influencers by customer social value")
    assert table.count() == 1
    page.close()
