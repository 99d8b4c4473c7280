"""Champion and challengers: every score the run publishes is compared, on the holdout, with simple baselines.

A value score is worth publishing only if it ranks customers better than the rule an analyst would use
anyway. :func:`contest` scores each candidate on the calibration/holdout split the run already builds and
names the champion; the run publishes the champion, model or baseline, and records every candidate's
holdout metrics in ``_runs`` and the report. When a baseline wins, the sentence says so plainly.

Metrics (``socialvalue.social.ranking.ranking_metrics``): Spearman rank correlation with the realized holdout
outcome, top-decile capture (the share of the holdout total held by the 10% ranked highest, ties by
expectation), and, for forecasts in the outcome's own units, the predicted and actual totals (calibration).
The champion has the highest Spearman; a model keeps the title against a baseline within ``tolerance`` of it
(a model's extra information is worth a tie), so only a clearly better baseline replaces it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = ["Candidate", "Contest", "contest"]

Kind = Literal["model", "baseline"]


@dataclass(frozen=True)
class Candidate:
    """A score competing on the holdout: its calibration-period values and whether it is a model."""

    kind: Kind
    scores: np.ndarray
    forecast: bool = False  # in the outcome's units: its total is compared with the actual total


@dataclass(frozen=True)
class Contest:
    """The holdout comparison of one published score."""

    score: str
    champion: str
    baseline_won: bool
    sentence: str
    metrics: pd.DataFrame  # one row per candidate: kind, spearman, top_decile, predicted_total, actual_total

    def as_dict(self) -> dict[str, Any]:
        """JSON-able record for the run log and the report."""
        rows = []
        for name, r in self.metrics.iterrows():
            rows.append(
                {
                    "name": str(name),
                    "kind": r["kind"],
                    "spearman": float(r["spearman"]),
                    "top_decile": float(r["top_decile"]),
                    "auc": None,
                    "predicted_total": None if pd.isna(r["predicted_total"]) else float(r["predicted_total"]),
                    "actual_total": float(r["actual_total"]),
                }
            )
        return {
            "champion": self.champion,
            "baseline_won": self.baseline_won,
            "sentence": self.sentence,
            "metrics": rows,
        }


def contest(
    score: str,
    candidates: Mapping[str, Candidate],
    actual: np.ndarray,
    *,
    outcome: str,
    tolerance: float = 0.01,
) -> Contest:
    """Rank every candidate against the realized ``actual`` outcome and name the champion.

    Parameters
    ----------
    score
        What is being published (e.g. ``"next-period purchases"``).
    candidates
        Name → :class:`Candidate`, each with one value per calibration customer (aligned with ``actual``).
    actual
        The realized holdout outcome per customer.
    outcome
        Words for the outcome, used in the sentence (e.g. ``"purchases in the 26-week holdout"``).
    tolerance
        Spearman margin a baseline needs over the best model to take the title.

    Returns
    -------
    Contest
    """
    from socialvalue.social.ranking import ranking_metrics

    y = np.asarray(actual, dtype=float)
    rows = {}
    for name, cand in candidates.items():
        s = np.nan_to_num(np.asarray(cand.scores, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
        if len(y) >= 2:
            m = ranking_metrics(y, s)
            rho, cap = m.spearman, m.top_decile_capture
        else:
            rho, cap = 0.0, 0.0
        rows[name] = {
            "kind": cand.kind,
            "spearman": rho,
            "top_decile": cap,
            "predicted_total": float(s.sum()) if cand.forecast else np.nan,
            "actual_total": float(y.sum()),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table = table.sort_values(["spearman", "top_decile"], ascending=False, kind="stable")
    models = table[table["kind"] == "model"]
    best = str(table.index[0])
    if len(models) and table.loc[best, "kind"] == "baseline":
        best_model = str(models.index[0])
        if table.loc[best, "spearman"] - table.loc[best_model, "spearman"] <= tolerance:
            best = best_model
    baseline_won = table.loc[best, "kind"] == "baseline"
    rho = table.loc[best, "spearman"]
    if baseline_won and len(models):
        m = str(models.index[0])
        sentence = (
            f"{best} ranks {outcome} better than the models on this data (Spearman {rho:.2f} against "
            f"{models.loc[m, 'spearman']:.2f} for {m}); it is used for {score}."
        )
    elif len(table) > 1:
        others = table.drop(index=best)
        runner = str(others.index[0])
        sentence = (
            f"{best} ranks {outcome} best (Spearman {rho:.2f}, top-decile capture "
            f"{table.loc[best, 'top_decile']:.0%}); the best alternative, {runner}, reaches "
            f"{others.loc[runner, 'spearman']:.2f}."
        )
    else:
        sentence = f"{best} is the only candidate for {score} (Spearman {rho:.2f} on {outcome})."
    return Contest(
        score=score, champion=best, baseline_won=bool(baseline_won), sentence=sentence, metrics=table
    )
