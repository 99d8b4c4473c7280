"""The report's narrative sentences, each chosen by thresholds on the numbers it cites.

A sentence never judges ("follow observed behaviour", "4 influencers", "beats recency") unless the numbers
it quotes support the judgement; the thresholds are the module constants below, and each function is small
enough to be tested with adversarial inputs (a badly fitting model, a useless classifier, zero social value,
a baseline champion).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from socialvalue.report.format import count, human_label, money, number, share

__all__ = [
    "CALIBRATION_TOLERANCE",
    "CHURN_AUC_MARGIN",
    "CHURN_CHANCE_AUC",
    "CONCENTRATION_TOP10_MIN",
    "FIT_FACTOR_MAX",
    "FIT_MIN_OBSERVED",
    "LIFT_MIN",
    "SOCIAL_ZERO",
    "TRACKING_ERROR_MAX",
    "champion_sentence",
    "churn_sentences",
    "classifier_used",
    "concentration_sentence",
    "has_social_value",
    "influencer_phrase",
    "model_fit_sentence",
    "social_share_sentence",
    "tracking_sentence",
    "weight_sentences",
]

#: Predictions "follow observed behaviour" only if, in every frequency group, predicted and observed differ
#: by less than this factor (the larger over the smaller).
FIT_FACTOR_MAX = 1.25
#: Floor of a group mean in the factor above, so a group with almost no purchases does not divide by ~0.
FIT_MIN_OBSERVED = 0.05
#: The cumulative tracking forecast is "close" if its relative error at the end is below this.
TRACKING_ERROR_MAX = 0.10
#: Value is called concentrated ("protect this small group first") when the top 10% hold at least this share.
CONCENTRATION_TOP10_MIN = 0.30
#: Absolute social value below which a customer's social value counts as zero.
SOCIAL_ZERO = 1e-9
#: A classifier at or below this AUC ranks churners no better than chance.
CHURN_CHANCE_AUC = 0.55
#: The classifier "beats recency alone" only by more than this AUC margin.
CHURN_AUC_MARGIN = 0.01
#: The top decile's churn lift is called useful at or above this factor.
LIFT_MIN = 1.2
#: A forecast total within this relative error of the actual total is "calibrated".
CALIBRATION_TOLERANCE = 0.20

#: What one unit of a social-value component is, for the weights in words (``{cur}``: the currency).
COMPONENT_UNITS: dict[str, str] = {
    "clv": "1 {cur} of predicted CLV",
    "crv": "1 {cur} of referral value",
    "referral_value": "1 {cur} of referral value",
    "civ": "1 {cur} of influence value",
    "influence_value": "1 {cur} of influence value",
    "interaction_score": "point of interaction score",
    "content_score": "point of content score",
    "loyalty_score": "point of loyalty (advocacy) score",
    "referrals_made": "referral made",
    "spread": "person reached by the customer's influence",
}


def _factor(predicted: float, observed: float) -> float:
    p, o = max(predicted, FIT_MIN_OBSERVED), max(observed, FIT_MIN_OBSERVED)
    return max(p / o, o / p)


def model_fit_sentence(groups: Sequence[object], actual: Sequence[float], model: Sequence[float]) -> str:
    """Judge the purchase model's holdout fit by frequency group (the conditional-expectations figure).

    "Follow observed behaviour" only when no group's predicted and observed means differ by a factor of
    :data:`FIT_FACTOR_MAX` or more; otherwise the sentence names the worst group, the direction and the factor.
    """
    a = np.asarray(actual, dtype=float)
    m = np.asarray(model, dtype=float)
    ok = np.isfinite(a) & np.isfinite(m)
    if not ok.any():
        return "No holdout comparison was recorded."
    factors = np.array([_factor(mi, ai) if k else 0.0 for mi, ai, k in zip(m, a, ok, strict=True)])
    worst = int(np.argmax(factors))
    g, f = str(list(groups)[worst]), float(factors[worst])
    cited = f"{m[worst]:.2f} predicted vs {a[worst]:.2f} observed"
    if f < FIT_FACTOR_MAX:
        return (
            f"Predictions follow observed behaviour across frequency groups: the largest gap is at {g} "
            f"({cited}, a factor of {f:.1f})."
        )
    direction = "over-predicts" if m[worst] > a[worst] else "under-predicts"
    n_bad = int((factors >= FIT_FACTOR_MAX).sum())
    more = (
        f"; {n_bad} of {int(ok.sum())} groups are off by a factor of {FIT_FACTOR_MAX} or more"
        if n_bad > 1
        else ""
    )
    return (
        f"The model {direction} holdout purchases for customers with {g} calibration purchases by a factor of "
        f"{f:.1f} ({cited}){more}: treat its forecasts for such customers with caution."
    )


def tracking_sentence(actual_end: float, model_end: float) -> str:
    """Judge the cumulative forecast at the end of the holdout (within :data:`TRACKING_ERROR_MAX` or not)."""
    if not actual_end:
        return "No repeat transactions were observed, so the forecast cannot be checked."
    err = (model_end - actual_end) / actual_end
    cited = f"{model_end:,.0f} cumulative repeat transactions predicted against {actual_end:,.0f} observed"
    if abs(err) < TRACKING_ERROR_MAX:
        return f"The model tracks the total closely: {cited} ({err:+.1%})."
    direction = "over-forecasts" if err > 0 else "under-forecasts"
    return f"The model {direction} the total by {abs(err):.0%}: {cited}."


def concentration_sentence(name: str, top10: float, top1: float) -> str:
    """Describe how concentrated ``name`` is; "protect this group" only at :data:`CONCENTRATION_TOP10_MIN`."""
    held = f"The top 10% of customers hold {share(top10)} of {name} and the top 1% hold {share(top1)}"
    if top10 >= CONCENTRATION_TOP10_MIN:
        return f"{held}: protect and grow this small group first."
    return f"{held}: value is spread widely, with no small group to single out."


def has_social_value(scores: pd.DataFrame) -> bool:
    """Whether any customer has a non-zero social value (``social_value``, else ``csv - clv``)."""
    if "social_value" in scores.columns:
        v = scores["social_value"].to_numpy(dtype=float, na_value=0.0)
    elif {"csv", "clv"} <= set(scores.columns):
        v = scores["csv"].to_numpy(dtype=float, na_value=0.0) - scores["clv"].to_numpy(
            dtype=float, na_value=0.0
        )
    else:
        return False
    return bool(np.any(np.abs(v) > SOCIAL_ZERO))


def influencer_phrase(scores: pd.DataFrame) -> str:
    """``"N influencers"`` when social values are not all zero, else that no social value is published."""
    if not has_social_value(scores):
        return "no social value is published on this data"
    n = int(scores["influencer"].fillna(False).astype(bool).sum()) if "influencer" in scores.columns else 0
    return f"{count(n)} influencer{'s' if n != 1 else ''}"


def social_share_sentence(totals: pd.Series, scores: pd.DataFrame) -> str:
    """Share of the total social value created through others, or that there is none."""
    if not has_social_value(scores):
        return (
            "No social value is published on this data: every customer's social value is 0, so customer "
            "social value equals CLV."
        )
    total = float(totals.sum())
    through = 1 - float(totals.get("clv", 0.0)) / total if total > 0 else 0.0
    return (
        f"{share(through)} of total customer social value is created through other people, beyond "
        "customers' own purchases."
    )


def classifier_used(churn: Mapping[str, Any], champion: Mapping[str, Any] | None) -> bool:
    """Whether churn risk comes from the classifier: the champion's verdict, else AUC against recency."""
    if churn.get("fallback"):
        return False
    if champion:
        return not bool(champion.get("baseline_won"))
    auc, base = churn.get("auc"), churn.get("baseline_auc")
    if auc is None:
        return False
    return base is None or float(auc) > float(base) + CHURN_AUC_MARGIN


def churn_sentences(churn: Mapping[str, Any], champion: Mapping[str, Any] | None = None) -> list[str]:
    """What the churn evaluation says, each clause chosen by thresholds on the AUCs and lift it cites."""
    out: list[str] = []
    if churn.get("definition"):
        out.append(f"Churn means {churn['definition']}.")
    auc, base = churn.get("auc"), churn.get("baseline_auc")
    if auc is not None:
        auc = float(auc)
        vs = f" (AUC {number(auc)} against {number(base)} for recency alone)" if base is not None else ""
        if auc <= CHURN_CHANCE_AUC:
            out.append(f"On held-out data the classifier ranks churners no better than chance{vs}.")
        elif base is not None and auc <= float(base) + CHURN_AUC_MARGIN:
            out.append(f"On held-out data the classifier does not beat recency alone{vs}.")
        else:
            out.append(f"On held-out data the classifier ranks churners better than recency alone{vs}.")
    if champion and champion.get("baseline_won"):
        out.append(
            f"{champion.get('champion', 'A simple baseline')} ranks churn better than the classifier on this "
            "data; it is used for churn risk and the alerts."
        )
    elif not classifier_used(churn, champion) and auc is not None:
        out.append("The classifier's scores should not drive alerts on this data.")
    lift = churn.get("top_decile_lift")
    if classifier_used(churn, champion) and lift is not None and np.isfinite(float(lift)):
        lift = float(lift)
        if lift >= LIFT_MIN:
            out.append(f"The 10% flagged as most at risk churn {lift:.1f}× as often as average.")
        else:
            out.append(f"The 10% flagged as most at risk churn barely more often than average ({lift:.1f}×).")
    return out


def _metric_rows(entry: Mapping[str, Any]) -> pd.DataFrame:
    rows = pd.DataFrame(list(entry.get("metrics") or []))
    if rows.empty or "name" not in rows.columns:
        return pd.DataFrame(columns=["name", "kind", "spearman"])
    return rows.sort_values("spearman", ascending=False, kind="stable")


def champion_sentence(score: str, entry: Mapping[str, Any]) -> str:
    """The holdout verdict for one published score, from its candidates' metrics.

    When a baseline is the champion the sentence says so plainly and that it is used; a model champion is
    compared with the best baseline; a forecast champion's total is compared with the actual total.
    """
    rows = _metric_rows(entry)
    champ = str(entry.get("champion", "?"))
    mine = rows[rows["name"] == champ]
    is_baseline = bool(mine["kind"].iloc[0] == "baseline") if len(mine) else bool(entry.get("baseline_won"))
    rho = float(mine["spearman"].iloc[0]) if len(mine) else float("nan")
    models = rows[(rows["kind"] == "model") & (rows["name"] != champ)]
    baselines = rows[(rows["kind"] == "baseline") & (rows["name"] != champ)]
    if is_baseline:
        if len(models):
            m = models.iloc[0]
            text = (
                f"For {score}, a simple baseline wins: {champ} ranks customers better than the models on "
                f"this data (Spearman {number(rho)} against {number(m['spearman'])} for {m['name']}); "
                "it is used."
            )
        else:
            text = f"For {score}, a simple baseline is used: {champ} (Spearman {number(rho)})."
    elif len(baselines):
        b = baselines.iloc[0]
        margin = rho - float(b["spearman"])
        if margin > 0:
            text = (
                f"For {score}, {champ} ranks customers best (Spearman {number(rho)}, "
                f"{number(margin)} above the best baseline, {b['name']}); it is used."
            )
        else:
            text = (
                f"For {score}, {champ} is used, but it does not rank customers better than the best "
                f"baseline, {b['name']} (Spearman {number(rho)} against {number(b['spearman'])})."
            )
    else:
        text = f"For {score}, {champ} is used (Spearman {number(rho)}); no baseline was compared."
    if len(mine) and "predicted_total" in mine.columns:
        pred, act = mine["predicted_total"].iloc[0], mine.get("actual_total", pd.Series([None])).iloc[0]
        if pred is not None and act and np.isfinite(float(pred)) and float(act) > 0:
            ratio = float(pred) / float(act)
            if abs(ratio - 1) <= CALIBRATION_TOLERANCE:
                text += f" Its total is within {share(CALIBRATION_TOLERANCE)} of the actual ({ratio:.2f}×)."
            else:
                text += (
                    f" Its total is {ratio:.2f}× the actual: the level is off, the ranking is what counts."
                )
    return text


def _unit(component: str, currency: str) -> str:
    unit = COMPONENT_UNITS.get(component)
    return unit.format(cur=currency) if unit else f"unit of {human_label(component).lower()}"


def _weights_table(weights: Mapping[str, Any]) -> dict[str, tuple[float, float | None]]:
    out: dict[str, tuple[float, float | None]] = {}
    for comp, w in weights.items():
        if isinstance(w, Mapping):
            pub = w.get("published")
            out[comp] = (float(w.get("weight", np.nan)), None if pub is None else float(pub))
        else:
            out[comp] = (float(w), float(w))
    return out


def weight_sentences(csv: Mapping[str, Any], currency: str, period: str = "the next period") -> list[str]:
    """The learned weights in words ("each referral made is worth 41 EUR of next-period value").

    ``csv`` is the run's ``csv`` diagnostics. The published weights are said to be divided by the CLV
    weight when ``csv["scale_to_clv"]`` says so or, when absent, when the published CLV weight is 1 while
    the learned one is not.
    """
    weights = _weights_table(csv.get("weights") or {})
    if not weights:
        return []
    clv_w, clv_pub = weights.get("clv", (np.nan, None))
    scaled = csv.get("scale_to_clv")
    if scaled is None:
        scaled = clv_pub is not None and abs(clv_pub - 1.0) < 1e-9 and abs(clv_w - 1.0) > 1e-6
    out = []
    for comp, (w, pub) in weights.items():
        unit = _unit(comp, currency)
        if pub is None:
            out.append(f"{human_label(comp)}: withheld, the data do not support a weight (it counts 0).")
            continue
        text = f"Each {unit} is worth {money(w, currency)} of value in {period}"
        if scaled and comp != "clv":
            text += f"; in the published social value it counts {money(pub, currency)}"
        out.append(text + ".")
    if scaled and np.isfinite(clv_w) and clv_w > 0:
        out.append(
            f"Published weights are the learned weights divided by the CLV weight ({clv_w:.3g}), so that "
            f"customer social value is CLV plus each component's contribution in {currency}."
        )
    return out
