r"""What the control groups measured: uplift per action and segment, whether each action paid, Qini curves.

The outcomes of each customer in the window after an action (:func:`socialvalue.experiments.measure_outcomes`)
are compared between the customers who got the action and those held out
(:mod:`socialvalue.decisions.experiment`).

**Uplift** per action and per segment is the difference of the treated and control means with Welch's
standard error and a Student-t interval on the Welch–Satterthwaite degrees of freedom:

.. math:: \hat\tau = \bar y_T - \bar y_C, \qquad \widehat{se} = \sqrt{s_T^2 / n_T + s_C^2 / n_C}, \qquad
   \nu = \frac{\widehat{se}^4}{\frac{(s_T^2/n_T)^2}{n_T - 1} + \frac{(s_C^2/n_C)^2}{n_C - 1}}.

The assignment holds every customer out with the same probability, so the difference of means is unbiased
in every segment and over all of them.

An action **paid** when its value uplift (margin × revenue uplift + value per referral × referral uplift)
exceeds its cost per customer contacted over the whole interval, is **harmful** when the uplift's interval lies
entirely below zero, **did not pay** otherwise, and is **not yet measured** until each arm has the minimum
number of outcomes whose windows have fully elapsed. The measured values per action and segment
(:func:`measured_values`) replace the playbook's assumed uplifts in the next allocation.

References
----------
.. [1] Welch, B. L. (1947). The generalization of "Student's" problem when several different population
   variances are involved. *Biometrika* 34(1/2), 28–35.
.. [2] Radcliffe, N. J. (2007). Using control groups to target on predicted lift (the Qini curve, through
   :func:`socialvalue.decisions.uplift.qini_curve`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from socialvalue.decisions.experiment import ALL_SEGMENTS, ARMS
from socialvalue.decisions.uplift import QiniCurve, qini_curve
from socialvalue.errors import ConfigError, SchemaError

__all__ = [
    "METRICS",
    "VERDICTS",
    "measure_uplift",
    "measured_values",
    "paid_verdicts",
    "qini_curves",
]

Verdict = Literal["paid", "did not pay", "harmful", "not yet measured"]

#: The verdicts of :func:`paid_verdicts`.
VERDICTS: tuple[str, ...] = ("paid", "did not pay", "harmful", "not yet measured")
#: Outcomes measured in the window after an action, per customer; ``value`` is derived from two of them.
METRICS: tuple[str, ...] = ("purchases", "revenue", "referrals", "churned", "value")


def _pct(share: float) -> str:
    text = f"{100 * share:.1f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _welch(groups: pd.DataFrame, z_level: float) -> pd.DataFrame:
    """Uplift, Welch SE, degrees of freedom and the Student-t interval from per-arm count, mean and variance."""
    from scipy.special import stdtrit

    n_t, n_c = groups["n_treated"], groups["n_control"]
    a = groups["var_treated"].fillna(0.0) / n_t
    b = groups["var_control"].fillna(0.0) / n_c
    se = np.sqrt(a + b)
    denom = a**2 / (n_t - 1).clip(lower=1) + b**2 / (n_c - 1).clip(lower=1)
    df = pd.Series(np.inf, index=groups.index).where(se.notna())  # all outcomes equal: the normal quantile
    pos = denom > 0
    df[pos] = (a + b)[pos] ** 2 / denom[pos]
    q = stdtrit(df.to_numpy(), 0.5 + z_level / 2.0)
    uplift = groups["mean_treated"] - groups["mean_control"]
    return groups.assign(uplift=uplift, se=se, df=df, lower=uplift - q * se, upper=uplift + q * se)


def _with_value(frame: pd.DataFrame, margin: float, referral_value: float) -> pd.DataFrame:
    """``frame`` with the ``value`` outcome: ``margin × revenue + referral_value × referrals``."""
    revenue = frame["revenue"].astype(float)
    referrals = frame["referrals"].astype(float)
    return frame.assign(value=margin * revenue + referral_value * referrals)


def measure_uplift(
    outcomes: pd.DataFrame,
    *,
    margin: float = 1.0,
    referral_value: float = 0.0,
    confidence: float = 0.95,
    min_outcomes: int = 30,
    metrics: Sequence[str] = METRICS,
) -> pd.DataFrame:
    """Uplift (treated minus control) per action, per segment and over all segments, with Welch intervals.

    Parameters
    ----------
    outcomes
        One row per assignment: ``action, segment, arm`` (``treated``/``control``), ``measured`` (the window
        has fully elapsed; optional, default all) and the outcomes ``purchases, revenue, referrals, churned``.
    margin
        Contribution margin: the ``value`` outcome is ``margin × revenue + referral_value × referrals``.
    referral_value
        Value of one referral made (currency).
    confidence
        Level of the intervals.
    min_outcomes
        Measured customers needed in each arm; below it the row's ``status`` is ``"not yet measured"``.
    metrics
        Outcomes to estimate (of :data:`METRICS`).

    Returns
    -------
    DataFrame
        One row per (action, segment, metric), ``segment`` :data:`ALL_SEGMENTS` for the whole action:
        ``n_treated, n_control, mean_treated, mean_control, uplift, se, df, lower, upper, status``
        (``"measured"`` or ``"not yet measured"``; the estimates are NaN then).
    """
    need = ["action", "segment", "arm"]
    missing = [c for c in need if c not in outcomes.columns]
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown:
        raise ConfigError(f"unknown metric(s) {', '.join(unknown)}; known: {', '.join(METRICS)}")
    frame = outcomes.copy()
    if "value" in metrics and "value" not in frame.columns:
        missing += [c for c in ("revenue", "referrals") if c not in frame.columns]
        if not missing:
            frame = _with_value(frame, margin, referral_value)
    missing += [m for m in metrics if m not in frame.columns and m not in missing]
    if missing:
        raise SchemaError(f"outcomes lack column(s) {', '.join(dict.fromkeys(missing))}")
    bad = sorted(set(frame["arm"].astype(str)) - set(ARMS))
    if bad:
        raise SchemaError(f"arm must be 'treated' or 'control', got {', '.join(bad)}")
    if "measured" in frame.columns:
        frame = frame[frame["measured"].astype(bool)]
    frame = frame.assign(action=frame["action"].astype(str), segment=frame["segment"].astype(str))
    all_actions = sorted(set(outcomes["action"].astype(str)))
    rows = []
    for metric in metrics:
        long = frame[["action", "segment", "arm", metric]].rename(columns={metric: "y"})
        long = long.assign(y=long["y"].astype(float))
        both = pd.concat([long, long.assign(segment=ALL_SEGMENTS)], ignore_index=True)
        g = both.groupby(["action", "segment", "arm"])["y"].agg(["count", "mean", "var"]).unstack("arm")
        stats_ = pd.DataFrame(index=g.index)
        for arm in ARMS:
            for stat, col in (("count", "n"), ("mean", "mean"), ("var", "var")):
                stats_[f"{col}_{arm}"] = g[(stat, arm)] if (stat, arm) in g.columns else np.nan
        stats_[["n_treated", "n_control"]] = stats_[["n_treated", "n_control"]].fillna(0).astype(int)
        stats_ = stats_.reindex(
            stats_.index.union(
                pd.MultiIndex.from_product([all_actions, [ALL_SEGMENTS]], names=["action", "segment"])
            ),
            fill_value=0,
        )
        for arm in ARMS:  # an arm without outcomes has no mean (the rows added above were filled with 0)
            stats_.loc[stats_[f"n_{arm}"].eq(0), [f"mean_{arm}", f"var_{arm}"]] = np.nan
        enough = (stats_["n_treated"] >= min_outcomes) & (stats_["n_control"] >= min_outcomes)
        est = _welch(stats_.where(enough), confidence)
        est[["n_treated", "n_control"]] = stats_[["n_treated", "n_control"]]
        est[["mean_treated", "mean_control"]] = stats_[["mean_treated", "mean_control"]]
        est["status"] = np.where(enough, "measured", "not yet measured")
        rows.append(est.drop(columns=["var_treated", "var_control"]).assign(metric=metric).reset_index())
    columns = [
        "action", "segment", "metric", "n_treated", "n_control", "mean_treated", "mean_control", "uplift",
        "se", "df", "lower", "upper", "status",
    ]  # fmt: skip
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns)
    out = out[columns]
    return out.sort_values(["action", "metric", "segment"], ignore_index=True)


def _money(x: float) -> str:
    return f"{x:+,.2f}"


def paid_verdicts(
    uplift: pd.DataFrame, costs: Mapping[str, float], *, metric: str = "value", confidence: float = 0.95
) -> pd.DataFrame:
    """Whether each action paid: its value uplift per customer contacted against its cost, with the interval.

    Parameters
    ----------
    uplift
        :func:`measure_uplift`'s table (the rows of ``metric`` are read, per segment and over all).
    costs
        Cost per customer contacted, by action (an action missing here costs 0).
    metric
        The uplift compared with the cost (``value``: margin × revenue + value of referrals).
    confidence
        Level of the intervals (for the sentence).

    Returns
    -------
    DataFrame
        One row per (action, segment): ``uplift, lower, upper, cost, net, net_lower, net_upper, verdict,
        sentence``; ``verdict`` is one of :data:`VERDICTS`.
    """
    rows = uplift[uplift["metric"] == metric].copy()
    cost = rows["action"].map(lambda a: float(costs.get(a, 0.0))).astype(float)
    rows["cost"] = cost
    rows["net"] = rows["uplift"] - cost
    rows["net_lower"] = rows["lower"] - cost
    rows["net_upper"] = rows["upper"] - cost
    measured = rows["status"] == "measured"
    rows["verdict"] = np.select(
        [~measured, rows["upper"] < 0, rows["net_lower"] > 0],
        ["not yet measured", "harmful", "paid"],
        "did not pay",
    )
    level = _pct(confidence)
    sentences = []
    for r in rows.itertuples(index=False):
        who = r.action if r.segment == ALL_SEGMENTS else f"{r.action} ({r.segment})"
        if r.verdict == "not yet measured":
            sentences.append(
                f"{who}: not yet measured ({r.n_treated:,} treated and {r.n_control:,} held-out customers with "
                "a fully elapsed window so far)"
            )
            continue
        body = (
            f"{who}: {_money(r.uplift)} of {metric} per customer contacted ({level} interval "
            f"{_money(r.lower)} to {_money(r.upper)}) against a cost of {r.cost:,.2f}"
        )
        tail = {
            "paid": "paid",
            "harmful": "harmful: those who got it bought less than those held out",
            "did not pay": (
                "did not pay (the interval still reaches break-even)" if r.net > 0 else "did not pay"
            ),
        }[r.verdict]
        sentences.append(f"{body}: {tail}")
    rows["sentence"] = sentences
    cols = [
        "action", "segment", "n_treated", "n_control", "uplift", "lower", "upper", "cost", "net", "net_lower",
        "net_upper", "verdict", "sentence",
    ]  # fmt: skip
    return rows[cols].reset_index(drop=True)


def measured_values(
    uplift: pd.DataFrame,
    segments: Iterable[str],
    *,
    metric: str = "value",
    shrink: bool = True,
) -> dict[str, dict[str, float]]:
    r"""Per measured action, the incremental value per customer of each segment, for the next allocation.

    The same shape as the campaign uplift a run feeds to :func:`~socialvalue.decisions.allocate.allocate`
    (``{action: {segment: value}}``; ``estimated_values = {a: scores["segment"].map(v).fillna(0)}``): these
    measured values then replace the playbook's assumed ``uplift × base`` for those actions. Actions not yet
    measured are left out (their assumption stands).

    A segment measured on its own gets its estimate, shrunk (``shrink``) towards the action's by precision
    (normal–normal empirical Bayes, the between-segment variance :math:`\hat\tau^2` by moments):

    .. math:: \tilde\tau_s = \frac{\hat\tau^2\,\hat\tau_s + \widehat{se}_s^2\,\hat\tau_{\text{all}}}
       {\hat\tau^2 + \widehat{se}_s^2};

    a segment not measured (too few outcomes, or absent from the experiment) gets the action's estimate.

    Parameters
    ----------
    uplift
        :func:`measure_uplift`'s table.
    segments
        Every segment the next allocation will see (the keys of each action's values).
    metric
        The uplift taken as incremental value (``value``, in currency).
    shrink
        Shrink segment estimates towards the action's.
    """
    rows = uplift[(uplift["metric"] == metric) & (uplift["status"] == "measured")]
    segments = [str(s) for s in segments]
    out: dict[str, dict[str, float]] = {}
    for action, grp in rows.groupby("action", sort=True):
        overall = grp[grp["segment"] == ALL_SEGMENTS]
        if overall.empty:
            continue
        tau_all = float(overall["uplift"].iloc[0])
        own = grp[grp["segment"] != ALL_SEGMENTS].set_index("segment")
        est = own["uplift"].astype(float)
        # a segment's sampling variance, at least what the action's outcome variance gives its arm sizes (a
        # small segment whose outcomes happen to be all equal is not thereby certain)
        inv_all = 1.0 / float(overall["n_treated"].iloc[0]) + 1.0 / float(overall["n_control"].iloc[0])
        inv_own = 1.0 / own["n_treated"].astype(float) + 1.0 / own["n_control"].astype(float)
        var = np.maximum(own["se"].astype(float) ** 2, float(overall["se"].iloc[0]) ** 2 * inv_own / inv_all)
        if shrink and len(own) >= 2:
            between = max(0.0, float(est.var(ddof=1)) - float(var.mean()))
            w = pd.Series(1.0, index=own.index)
            pos = (between + var) > 0
            w[pos] = between / (between + var[pos])
            est = w * est + (1 - w) * tau_all
        elif shrink:
            est = pd.Series(tau_all, index=own.index)
        out[str(action)] = {s: float(est.get(s, tau_all)) for s in segments}
    return out


def qini_curves(
    outcomes: pd.DataFrame,
    *,
    score: str = "score",
    metric: str = "value",
    margin: float = 1.0,
    referral_value: float = 0.0,
) -> dict[str, QiniCurve]:
    """Per action, the Qini curve of the targeting ``score`` on the measured outcomes (Radcliffe 2007).

    ``outcomes`` as for :func:`measure_uplift` (``value`` derived the same way when absent). Only measured
    rows with a score count; an action without both arms gets no curve.
    """
    frame = outcomes
    if metric == "value" and "value" not in frame.columns and {"revenue", "referrals"} <= set(frame.columns):
        frame = _with_value(frame, margin, referral_value)
    if "measured" in frame.columns:
        frame = frame[frame["measured"].astype(bool)]
    if score not in frame.columns or metric not in frame.columns:
        return {}
    frame = frame[frame[score].notna()]
    curves = {}
    for action, grp in frame.groupby("action", sort=True):
        t = (grp["arm"] == "treated").to_numpy(int)
        if t.all() or not t.any():
            continue
        curves[str(action)] = qini_curve(grp[metric].to_numpy(float), t, grp[score].to_numpy(float))
    return curves
