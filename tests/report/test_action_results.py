"""The report's "Did the actions pay?" section (issue 19, part 6): sentences, tables and charts follow the numbers.

The measurement is real: the demo simulates the 90 days after four actions (one that works, one that harms,
one that does nothing, one with too few customers) and :mod:`socialvalue.decisions.measurement` measures them
(``action_results_data``).
"""

from __future__ import annotations

import html as htmllib
import re

import numpy as np
import pandas as pd
import pytest

from socialvalue.demo.responses import EFFECTIVE, HARMFUL, USELESS
from socialvalue.report import render_report, write_report
from socialvalue.report.action_results import forest, overall, qini
from socialvalue.report.format import money

from .action_results_data import COSTS, LABELS, UNMEASURED, experiments_diagnostics, unavailable
from .conftest import synthetic_report_data


def _section(page: str) -> str:
    """The text of the section, tags and scripts removed, entities decoded, spaces collapsed."""
    start = page.index('<section id="action-results">')
    end = page.index("</section>", start)
    part = re.sub(r"<script.*?</script>", " ", page[start:end], flags=re.S)
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", part))).strip()


def _means(page: str) -> list[str]:
    start = page.index('<section id="action-results">')
    end = page.index("</section>", start)
    found = re.findall(r'<p class="means"><b>What this means:</b> (.*?)</p>', page[start:end], flags=re.S)
    return [htmllib.unescape(s) for s in found]


@pytest.fixture
def experiments() -> dict:
    """A fresh copy each test (a test may change it)."""
    return experiments_diagnostics()


@pytest.fixture
def data(experiments):
    d = synthetic_report_data(n=400)
    d.diagnostics["experiments"] = experiments
    return d


def _row(experiments: dict, action: str) -> dict:
    rows = overall(experiments).set_index("action")
    return rows.loc[action].to_dict()


def test_the_measurement_has_a_paid_a_harmful_a_useless_and_an_unmeasured_action(experiments):
    verdicts = overall(experiments).set_index("action")["verdict"].to_dict()
    assert verdicts == {
        EFFECTIVE: "paid",
        HARMFUL: "harmful",
        USELESS: "did not pay",
        UNMEASURED: "not yet measured",
    }


def test_the_forest_sentence_states_each_verdict_with_its_numbers(data, experiments):
    page = render_report(data)
    assert ">Did the actions pay?</h2>" in page
    means = _means(page)
    assert len(means) == 2  # the forest plot and the Qini curves
    sentence = means[0]

    def m(v):
        return money(v, "EUR")

    paid = _row(experiments, EFFECTIVE)
    assert (
        f"'Second purchase nudge' paid ({m(paid['uplift'])}, interval {m(paid['lower'])} to "
        f"{m(paid['upper'])}, against a cost of {m(COSTS[EFFECTIVE])})" in sentence
    )
    assert paid["lower"] > paid["cost"]  # what "paid" means
    harm = _row(experiments, HARMFUL)
    assert harm["upper"] < 0
    assert (
        f"'Win-back offer' was harmful ({m(harm['uplift'])}, interval {m(harm['lower'])} to "
        f"{m(harm['upper'])}: those who got it bought less than those held out)" in sentence
    )
    useless = _row(experiments, USELESS)
    assert useless["lower"] < useless["cost"] < useless["upper"] or useless["upper"] < useless["cost"]
    assert "'Loyalty upgrade' did not pay (" in sentence
    waiting = _row(experiments, UNMEASURED)
    assert (waiting["n_treated"], waiting["n_control"]) == (20, 20)
    assert (
        "'Review request' is not yet measured (20 treated and 20 held-out customers with a fully elapsed "
        "window, 30 needed in each arm)" in sentence
    )
    # currency, window and level are stated
    assert sentence.startswith(
        "Value gained per customer contacted over the 90 days after each action, in EUR with 95% intervals: "
    )


def test_the_tables_give_every_action_and_segment_its_verdict(data, experiments):
    text = _section(render_report(data))
    paid = _row(experiments, EFFECTIVE)
    line = (
        f"Second purchase nudge paid {paid['n_treated']:,} {paid['n_control']:,} {money(paid['uplift'], 'EUR')} "
        f"{money(paid['lower'], 'EUR')} to {money(paid['upper'], 'EUR')} {money(paid['cost'], 'EUR')} "
        f"{money(paid['net'], 'EUR')}"
    )
    assert line in text
    assert "Review request not yet measured 20 20 not yet measured not yet measured 0.20 EUR n/a" in text
    segments = pd.DataFrame(experiments["verdicts"])
    segments = segments[segments["segment"] != "(all)"]
    assert len(segments) == 8
    for r in segments.itertuples():
        assert f"{LABELS[r.action]} {r.segment} {r.verdict} {r.n_treated:,} {r.n_control:,}" in text
    assert "outcomes in the 90 days after each action, value = 0.40 × revenue, in EUR" in text
    assert (
        "The measured values replaced the playbook's assumed uplift of 'Loyalty upgrade', 'Second purchase "
        "nudge' and 'Win-back offer' in this run's allocation." in text
    )


def test_the_sentences_follow_changed_numbers(data, experiments):
    """The same section with the effective action now short of outcomes and the harmful one now paying."""
    for r in experiments["verdicts"]:
        if r["action"] == EFFECTIVE and r["segment"] == "(all)":
            r.update(
                n_treated=7, n_control=12, verdict="not yet measured", uplift=None, lower=None, upper=None
            )
        if r["action"] == HARMFUL and r["segment"] == "(all)":
            r.update(uplift=9.0, lower=3.5, upper=14.5, net=8.0, verdict="paid")
    experiments["min_outcomes"] = 25
    experiments["window_days"] = 60
    sentence = _means(render_report(data))[0]
    assert sentence.startswith("Value gained per customer contacted over the 60 days after each action")
    assert (
        "'Second purchase nudge' is not yet measured (7 treated and 12 held-out customers with a fully elapsed "
        "window, 25 needed in each arm)" in sentence
    )
    assert (
        "'Win-back offer' paid (9.00 EUR, interval 3.50 EUR to 14.50 EUR, against a cost of 1.00 EUR)"
        in sentence
    )
    assert "harmful" not in sentence


@pytest.mark.parametrize(
    ("experiments_value", "said"),
    [
        (
            unavailable("no control groups recorded yet: export the actions to hold them out"),
            "Whether the actions paid is not known yet: no control groups recorded yet: export the actions "
            "to hold them out.",
        ),
        (
            unavailable("the control groups' 30-day windows end on 2026-07-15, after this run."),
            "Whether the actions paid is not known yet: the control groups' 30-day windows end on 2026-07-15, "
            "after this run.",
        ),
        (
            None,
            "Whether the actions paid is not known: this run recorded no measurement of them (it was made "
            "before actions measured themselves).",
        ),
    ],
)
def test_when_not_measured_the_section_says_why_in_one_sentence(experiments_value, said):
    d = synthetic_report_data(n=400)
    if experiments_value is not None:
        d.diagnostics["experiments"] = experiments_value
    page = render_report(d)
    assert _section(page) == f"Did the actions pay? {said}"
    start = page.index('<section id="action-results">')
    assert "Plotly.newPlot" not in page[start : page.index("</section>", start)]


def test_the_forest_plot_draws_each_interval_and_cost(experiments):
    rows = overall(experiments)
    fig, _ = forest(rows, currency="EUR", labels=LABELS, window_days=90, min_outcomes=30)
    traces = {t.name: t for t in fig.data}
    assert set(traces) == {
        "paid",
        "did not pay",
        "harmful",
        "cost per customer contacted",
        "not yet measured",
    }
    by_action = rows.set_index("action")
    for verdict, action in (("paid", EFFECTIVE), ("harmful", HARMFUL), ("did not pay", USELESS)):
        t = traces[verdict]
        r = by_action.loc[action]
        assert list(t.y) == [LABELS[action]]
        assert t.x[0] == pytest.approx(r["uplift"])
        assert t.x[0] + t.error_x.array[0] == pytest.approx(r["upper"])
        assert t.x[0] - t.error_x.arrayminus[0] == pytest.approx(r["lower"])
    cost = traces["cost per customer contacted"]
    assert dict(zip(cost.y, cost.x, strict=True)) == {LABELS[a]: c for a, c in COSTS.items()}
    waiting = traces["not yet measured"]
    assert list(waiting.y) == [LABELS[UNMEASURED]]
    assert list(waiting.text) == ["  not yet measured (20 treated, 20 held out)"]
    assert "EUR" in fig.layout.xaxis.title.text


def test_the_qini_sentence_follows_the_coefficients():
    x = [0.0, 10.0, 20.0]
    curves = {
        "a": {"x": x, "y": [0.0, 6.0, 8.0], "random": [0.0, 4.0, 8.0], "coefficient": 0.21},
        "b": {"x": x, "y": [0.0, 1.0, 8.0], "random": [0.0, 4.0, 8.0], "coefficient": -0.05},
    }
    fig, sentence = qini(curves, {"a": "Nudge"})
    assert len(fig.data) == 4
    assert sentence == (
        "The plan's ranking found the customers who respond better than a random order for 'Nudge' (Qini "
        "coefficient 0.21); for 'b' it did no better than a random order."
    )
    curves["a"]["coefficient"] = -0.01
    _, sentence = qini(curves)
    assert sentence == (
        "For no action did the plan's ranking find the customers who respond better than a random order (best "
        "Qini coefficient -0.01, for 'a')."
    )


def test_the_section_renders_its_charts_in_chromium(browser, tmp_path, data):
    path = write_report(data, tmp_path / "report.html")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_function("document.querySelectorAll('#action-results .js-plotly-plot').length == 2")
    drawn = page.evaluate(
        "[...document.querySelectorAll('#action-results div[id^=chart-]')]"
        ".filter(d => d.querySelector('svg.main-svg')).length"
    )
    assert drawn == 2
    # the forest plot shows one row per action, and its points with their error bars
    ticks = page.evaluate(
        "[...document.querySelectorAll('#action-results .js-plotly-plot')][0]"
        ".querySelectorAll('.ytick text').length"
    )
    assert ticks == 4
    bars = page.evaluate(
        "[...document.querySelectorAll('#action-results .js-plotly-plot')][0]"
        ".querySelectorAll('g.errorbar').length"
    )
    assert bars == 3
    assert errors == []
    page.locator("#action-results").screenshot(path=str(tmp_path / "action-results.png"))
    assert (tmp_path / "action-results.png").stat().st_size > 10_000
    page.close()


def test_values_are_finite_in_the_recorded_diagnostics(experiments):
    """What the report reads is plain JSON: a number or null, never NaN."""
    for r in experiments["verdicts"]:
        for k in ("uplift", "lower", "upper", "net"):
            assert r[k] is None or np.isfinite(r[k])


@pytest.fixture(scope="module")
def cycle(tmp_path_factory):
    """A real cycle on the demo: run, export with control groups, the next 30 days simulated, run again."""
    from socialvalue import Store
    from socialvalue.demo import generate
    from socialvalue.exports import export_results
    from socialvalue.pipeline import run_pipeline

    from ..pipeline.test_measured import CFG, DAY0, _respond

    root = tmp_path_factory.mktemp("cycle")
    path = root / "shop.duckdb"
    data = generate(6000, seed=5)
    with Store(path) as store:
        data.load_into(store)
    first = run_pipeline(path, DAY0.date(), CFG)
    with Store(path) as store:
        export_results(store, root / "export", formats=("csv",))
        _respond(store, first, data.truth, DAY0, seed=11)
    second = run_pipeline(path, (DAY0 + pd.Timedelta(days=31)).date(), CFG)
    return path, first, second


def test_a_real_run_reports_what_its_control_groups_measured(cycle):
    from socialvalue import Store
    from socialvalue.report import ReportData

    path, first, second = cycle
    with Store(path, read_only=True) as store:
        before = render_report(ReportData.from_store(store, str(first.as_of)[:10]))
        after = render_report(ReportData.from_store(store))
    reason = first.diagnostics["experiments"]["reason"]
    assert _section(before) == f"Did the actions pay? Whether the actions paid is not known yet: {reason}."

    exp = second.diagnostics["experiments"]
    assert exp["available"] is True
    sentence = _means(after)[0]
    currency = exp["currency"]
    assert sentence.startswith(
        f"Value gained per customer contacted over the 30 days after each action, in {currency} with 95% "
        "intervals: "
    )
    rows = overall(exp)
    assert len(rows) >= 3
    for r in rows.to_dict("records"):
        label = exp["labels"][r["action"]]
        if r["verdict"] == "not yet measured":
            assert (
                f"'{label}' is not yet measured ({r['n_treated']:,} treated and {r['n_control']:,}"
                in sentence
            )
        else:
            said = f"'{label}' {'was harmful' if r['verdict'] == 'harmful' else r['verdict']} ("
            assert (
                said + money(r["uplift"], currency) + ", interval " + money(r["lower"], currency) in sentence
            )
    assert "paid" in set(rows["verdict"])  # the demo's nudge pays


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", page)))


def test_the_action_plan_names_the_effects_its_control_groups_measured(data, experiments):
    measured = sorted(experiments["replaced"])
    assert measured  # the fixture replaced at least one assumption
    data.diagnostics["uplift_estimated"] = False
    page = _text(render_report(data))
    names = ", ".join(a.replace("_", " ") for a in measured)
    assert (
        f"Effects of {names} were measured on this store's own control groups (see 'Did the actions pay?'); "
        "the other actions' effects are assumptions from the playbook." in page
    )
    assert "Effects are assumptions from the playbook (no campaign data" not in page

    data.diagnostics["experiments"] = unavailable("no control group has been held out yet")
    page = _text(render_report(data))
    assert "Effects are assumptions from the playbook (no campaign data with treatment and control" in page
    assert "were measured on this store's own control groups" not in page
