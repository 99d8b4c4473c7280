"""The report tells the truth: adversarial runs, and the sentences they must produce (issue 14, item 6)."""

import html as htmllib
import re

import numpy as np
import pandas as pd
import pytest

from socialvalue.models.tiers import load_tier_config
from socialvalue.report import render_report
from socialvalue.report import sentences as S
from socialvalue.report.format import count, human_label, money, share


def _text(data) -> str:
    """The rendered report with tags removed and entities decoded, for searching sentences."""
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", render_report(data)))


def _champions(baseline_won: bool) -> dict:
    purchases_metrics = [
        {
            "name": "BG/NBD",
            "kind": "model",
            "spearman": 0.39,
            "top_decile": 0.5,
            "auc": None,
            "predicted_total": 620.0,
            "actual_total": 1000.0,
        },
        {
            "name": "recent 365-day count",
            "kind": "baseline",
            "spearman": 0.65,
            "top_decile": 0.6,
            "auc": None,
            "predicted_total": 980.0,
            "actual_total": 1000.0,
        },
    ]
    champ = "recent 365-day count" if baseline_won else "BG/NBD"
    return {
        "purchases": {
            "champion": champ,
            "baseline_won": baseline_won,
            "sentence": "engineer's words",
            "metrics": purchases_metrics,
        },
        "churn": {
            "champion": "recency" if baseline_won else "classifier",
            "baseline_won": baseline_won,
            "sentence": "",
            "metrics": [
                {
                    "name": "classifier",
                    "kind": "model",
                    "spearman": 0.1,
                    "top_decile": 0.1,
                    "auc": 0.5,
                    "predicted_total": None,
                    "actual_total": None,
                },
                {
                    "name": "recency",
                    "kind": "baseline",
                    "spearman": 0.4,
                    "top_decile": 0.3,
                    "auc": 0.81,
                    "predicted_total": None,
                    "actual_total": None,
                },
            ],
        },
    }


# -- model fit ---------------------------------------------------------------------------------------------
def test_badly_fitting_model_is_not_said_to_follow_behaviour(report_data):
    """The reported defect: 'follow observed behaviour ... 2.33 predicted vs 0.50 observed'."""
    report_data.diagnostics["btyd"]["conditional"] = {
        "frequency": ["0", "1", "2", "3+"],
        "actual": [0.2, 0.5, 1.1, 2.5],
        "model": [0.2, 2.33, 1.2, 2.4],
    }
    text = _text(report_data)
    assert "follow observed behaviour" not in text
    assert (
        "over-predicts holdout purchases for customers with 1 calibration purchases by a factor of 4.7"
        in text
    )
    assert "2.33 predicted vs 0.50 observed" in text


def test_model_fit_threshold_is_the_named_constant():
    ok = S.model_fit_sentence(["1"], [1.0], [S.FIT_FACTOR_MAX - 0.01])
    bad = S.model_fit_sentence(["1"], [1.0], [1 / S.FIT_FACTOR_MAX - 0.01])
    assert ok.startswith("Predictions follow observed behaviour")
    assert "under-predicts" in bad


def test_good_fit_says_so(report_data):
    assert "Predictions follow observed behaviour across frequency groups" in _text(report_data)


def test_tracking_judged_by_its_error():
    assert "tracks the total closely" in S.tracking_sentence(1000, 1020)
    assert "under-forecasts the total by 38%" in S.tracking_sentence(1000, 620)


# -- social value ------------------------------------------------------------------------------------------
def test_zero_social_value_names_no_influencers(report_data):
    """The reported defect: '4 influencers' while every social value is 0."""
    s = report_data.scores
    for c in ("referral_value", "influence_value", "interaction_value", "content_value", "advocacy_value"):
        s[c] = 0.0
    s["csv"] = s["clv"]
    s["influencer"] = False
    s.loc[s.index[:4], "influencer"] = True
    text = _text(report_data)
    assert "no social value is published on this data" in text
    assert not re.search(r"\b4 influencers\b", text)
    assert "created through other people" not in text
    assert "Top 10 influencers" not in text


def test_social_value_names_influencers(report_data):
    n = int(report_data.scores["influencer"].sum())
    assert S.influencer_phrase(report_data.scores) == f"{count(n)} influencers"
    assert "Top 10 influencers by customer social value" in _text(report_data)


def test_influencer_table_names_only_scored_customers(report_data):
    report_data.diagnostics["network"]["nodes"][0]["label"] = "ghost-not-scored"
    html = render_report(report_data)
    assert "ghost-not-scored" not in html


# -- churn -------------------------------------------------------------------------------------------------
def test_useless_classifier_is_called_useless(report_data):
    """The reported defect: AUC 0.500 against 0.811 for recency, used without a warning."""
    report_data.diagnostics["churn"].update(auc=0.50, baseline_auc=0.811, top_decile_lift=1.0)
    text = _text(report_data)
    assert "ranks churners no better than chance (AUC 0.50 against 0.81 for recency alone)" in text
    assert "should not drive alerts" in text
    assert "as often as average" not in text


def test_classifier_no_better_than_recency():
    said = " ".join(S.churn_sentences({"auc": 0.74, "baseline_auc": 0.74}))
    assert "does not beat recency alone" in said


def test_good_classifier_is_credited(report_data):
    text = _text(report_data)
    assert "ranks churners better than recency alone (AUC 0.81 against 0.72 for recency alone)" in text
    assert "churn 2.3× as often as average" in text


def test_baseline_champion_for_churn_is_said_and_used(report_data):
    report_data.diagnostics["champions"] = _champions(baseline_won=True)
    report_data.diagnostics["churn"].update(auc=0.50, baseline_auc=0.811)
    text = _text(report_data)
    assert "recency ranks churn better than the classifier on this data; it is used" in text


def test_churn_horizon_is_stated_wherever_churn_appears(report_data):
    report_data.diagnostics["churn"]["definition"] = "no purchase in the next 90 days"
    text = _text(report_data)
    assert "Churn horizon: no purchase in the next 90 days" in text
    assert text.count("no purchase in the next 90 days") >= 3  # definitions, how, churn section, actions
    assert "182 days" not in text


# -- champions and baselines -------------------------------------------------------------------------------
def test_baseline_champion_is_stated_plainly(report_data):
    report_data.diagnostics["champions"] = _champions(baseline_won=True)
    html = render_report(report_data)
    text = _text(report_data)
    assert ">Champions and baselines</h2>" in html
    assert (
        "For next-period purchases, a simple baseline wins: recent 365-day count ranks customers better than "
        "the models on this data (Spearman 0.65 against 0.39 for BG/NBD); it is used." in text
    )
    assert "Top-decile capture" in text and "Predicted total" in text and "top_decile" not in text


def test_model_champion_states_its_margin(report_data):
    report_data.diagnostics["champions"] = {
        "purchases": {
            "champion": "BG/NBD",
            "baseline_won": False,
            "sentence": "",
            "metrics": [
                {
                    "name": "BG/NBD",
                    "kind": "model",
                    "spearman": 0.70,
                    "top_decile": 0.6,
                    "auc": None,
                    "predicted_total": 980.0,
                    "actual_total": 1000.0,
                },
                {
                    "name": "recency",
                    "kind": "baseline",
                    "spearman": 0.60,
                    "top_decile": 0.5,
                    "auc": None,
                    "predicted_total": None,
                    "actual_total": 1000.0,
                },
            ],
        }
    }
    text = _text(report_data)
    assert (
        "BG/NBD ranks customers best (Spearman 0.70, 0.10 above the best baseline, recency); it is used"
        in text
    )
    assert "Its total is within 20% of the actual (0.98×)" in text


def test_runs_without_champions_say_nothing(report_data):
    report_data.diagnostics.pop("champions", None)
    assert "Champions and baselines" not in render_report(report_data)


# -- horizons, money, numbers, headers ---------------------------------------------------------------------
def test_clv_horizon_and_currency_beside_clv_figures(report_data):
    report_data.currency = "EUR"
    report_data.diagnostics["clv_horizon"] = "52 weeks, discounted at 10% a year"
    text = _text(report_data)
    assert text.count("CLV here is over 52 weeks, discounted at 10% a year, in EUR") >= 4
    assert money(report_data.scores["clv"].sum(), "EUR") in text
    assert " USD" not in text


def test_one_formatter_per_kind():
    assert money(1234.5, "EUR") == "1,234 EUR" or money(1234.5, "EUR") == "1,235 EUR"
    assert money(41.234, "EUR") == "41.23 EUR"
    assert share(0.5) == "50%" and share(0.001) == "<1%"
    assert count(1234567) == "1,234,567"


def test_no_snake_case_header(report_data):
    report_data.diagnostics["champions"] = _champions(baseline_won=False)
    report_data.diagnostics["uplift"] = {
        "estimates": [
            {
                "action": "win_back",
                "segment": "all",
                "n_treated": 10,
                "n_control": 10,
                "uplift": 0.1,
                "lower": 0.0,
                "upper": 0.2,
            }
        ]
    }
    html = render_report(report_data)
    headers = re.findall(r"<th[^>]*>([^<]*)</th>", html)
    assert headers
    assert not [h for h in headers if "_" in h], headers
    assert human_label("days_since_last_purchase") == "Days since last purchase"


# -- order -------------------------------------------------------------------------------------------------
def test_tiers_in_tier_order_and_stages_as_bars(report_data):
    html = render_report(report_data)
    assert '"type":"funnel"' not in html.replace(" ", "")
    tiers = load_tier_config().names
    end = html.index("by value tier")
    chart = html[html.rindex("Plotly.newPlot", 0, end) : end]
    found = re.search(r'"x":\[([^\]]*)\]', chart)
    assert found
    shown = [t.strip('"') for t in found.group(1).split(",")]
    assert shown == [t for t in tiers if t in shown]
    assert "The best tier, 'platinum'" in _text(report_data)


def test_lifecycle_stage_order_follows_config(report_data):
    from socialvalue.models.lifecycle import load_lifecycle_config

    fig, _ = __import__("socialvalue.report.charts", fromlist=["x"]).lifecycle_bars(
        pd.Series([1, 2, 3, 4, 5], index=list(load_lifecycle_config().stages))
    )
    assert fig.data[0].type == "bar"
    assert list(fig.data[0].x) == list(load_lifecycle_config().stages)


# -- weights in words --------------------------------------------------------------------------------------
def test_weights_in_words_and_scaling_stated(report_data):
    report_data.currency = "EUR"
    report_data.diagnostics["data_range"] = {
        "first": "2024-01-01",
        "last": "2026-06-29",
        "purchases": 9000,
        "calibration_end": "2025-12-30",
        "holdout_periods": 26,
        "unit": "W",
    }
    report_data.diagnostics["csv"]["weights"] = {
        "clv": {"weight": 0.5, "lower": 0.4, "upper": 0.6, "published": 1.0},
        "referrals_made": {"weight": 20.5, "lower": 10.0, "upper": 30.0, "published": 41.0},
        "content_score": {"weight": 0.3, "lower": -0.1, "upper": 0.7, "published": None},
    }
    text = _text(report_data)
    assert "Each referral made is worth 20.50 EUR of value in the 26-week holdout" in text
    assert "in the published social value it counts 41.00 EUR" in text
    assert "Published weights are the learned weights divided by the CLV weight (0.5)" in text
    assert "Content score: withheld" in text


@pytest.mark.parametrize("top10,expected", [(0.8, "protect and grow"), (0.12, "spread widely")])
def test_concentration_sentence(top10, expected):
    assert expected in S.concentration_sentence("predicted CLV", top10, top10 / 5)


def test_even_value_is_not_called_concentrated(report_data):
    report_data.scores["clv"] = 100.0 + np.zeros(len(report_data.scores))
    assert "value is spread widely" in _text(report_data)
