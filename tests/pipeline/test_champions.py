"""Champion and challengers (issue 14): the score a run publishes is the one that ranks the holdout best."""

from __future__ import annotations

import numpy as np
import pytest

from socialvalue.pipeline.champions import Candidate, contest


def _data(n: int = 2_000, seed: int = 0):
    rng = np.random.default_rng(seed)
    truth = rng.gamma(1.0, 1.0, n)
    actual = rng.poisson(truth * 3)
    return truth, actual, rng


def test_a_baseline_that_ranks_better_wins_and_the_sentence_says_so():
    truth, actual, rng = _data()
    c = contest(
        "next-period purchases",
        {
            "BG/NBD": Candidate("model", truth + rng.normal(0, 2.0, truth.size), True),
            "recent purchases": Candidate("baseline", truth + rng.normal(0, 0.1, truth.size), True),
        },
        actual,
        outcome="purchases in the holdout",
    )
    assert c.champion == "recent purchases" and c.baseline_won
    assert c.sentence.startswith("recent purchases ranks purchases in the holdout better than the models")
    assert "it is used for next-period purchases" in c.sentence
    rec = c.as_dict()
    assert next(m["name"] for m in rec["metrics"]) == "recent purchases"
    assert rec["metrics"][0]["actual_total"] == pytest.approx(actual.sum())


def test_a_model_keeps_the_title_against_a_baseline_within_the_tolerance():
    truth, actual, rng = _data(seed=1)
    noisy = truth + rng.normal(0, 0.5, truth.size)
    c = contest(
        "customer value",
        {
            "CSV": Candidate("model", noisy),
            "copy": Candidate("baseline", noisy + 1e-9 * rng.random(truth.size)),
        },
        actual,
        outcome="holdout value",
    )
    assert c.champion == "CSV" and not c.baseline_won


def test_metrics_are_the_published_ranking_measures():
    _truth, actual, _ = _data(seed=2)
    c = contest("v", {"perfect": Candidate("model", actual.astype(float))}, actual, outcome="o")
    row = c.metrics.loc["perfect"]
    assert row["spearman"] == pytest.approx(1.0)
    top = np.sort(actual)[::-1][: int(np.ceil(0.1 * actual.size))].sum() / actual.sum()
    assert row["top_decile"] == pytest.approx(top)
