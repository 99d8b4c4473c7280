r"""Uplift from past campaigns with treatment and control groups: per-segment effects and Qini curves.

For segment :math:`g` with treated and control response rates :math:`\bar y_{T,g}` and :math:`\bar y_{C,g}`,
the uplift is the difference in means (the two-sample estimator of the conditional average treatment effect)

.. math:: \hat\tau_g = \bar y_{T,g} - \bar y_{C,g}, \qquad
   \widehat{se}_g = \sqrt{s_{T,g}^2 / n_{T,g} + s_{C,g}^2 / n_{C,g}}.

The Qini curve (Radcliffe 2007, "Using control groups to target on predicted lift") orders customers by a
score and plots, for the top :math:`k`, :math:`Q(k) = Y_T(k) - Y_C(k)\,N_T(k)/N_C(k)` — the incremental
responses gained by treating them; the Qini coefficient is the area between it and the random-targeting line.
Without campaign data the playbook's uplifts are assumptions, and outputs say so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from socialvalue.errors import SchemaError

__all__ = ["QiniCurve", "campaign_uplift", "estimate_uplift", "qini_curve"]


def _check(frame: pd.DataFrame, cols: list[str]) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise SchemaError(f"campaign data lacks column(s) {', '.join(missing)}")


def estimate_uplift(
    campaign: pd.DataFrame,
    *,
    segment: str = "segment",
    treatment: str = "treatment",
    outcome: str = "outcome",
    z: float = 1.96,
) -> pd.DataFrame:
    """Per-segment uplift (difference in means) with a normal-approximation interval.

    Parameters
    ----------
    campaign
        One row per customer contacted or held out: ``segment``, ``treatment`` (1 treated / 0 control) and
        ``outcome`` (response, 0/1 or revenue).
    z
        Normal quantile of the interval (1.96 for 95 %).

    Returns
    -------
    DataFrame
        Indexed by segment: ``n_treated, n_control, mean_treated, mean_control, uplift, se, lower, upper``.
    """
    _check(campaign, [segment, treatment, outcome])
    t = campaign[treatment].astype(int)
    if not set(t.unique()) <= {0, 1}:
        raise SchemaError(f"column {treatment!r} must hold 0 (control) or 1 (treated)")
    g = campaign.assign(_t=t).groupby([segment, "_t"], observed=True)[outcome].agg(["count", "mean", "var"])
    g = g.unstack("_t")
    out = pd.DataFrame(
        {
            "n_treated": g[("count", 1)],
            "n_control": g[("count", 0)],
            "mean_treated": g[("mean", 1)],
            "mean_control": g[("mean", 0)],
        }
    )
    out["uplift"] = out["mean_treated"] - out["mean_control"]
    out["se"] = np.sqrt(
        g[("var", 1)].fillna(0) / out["n_treated"] + g[("var", 0)].fillna(0) / out["n_control"]
    )
    out["lower"] = out["uplift"] - z * out["se"]
    out["upper"] = out["uplift"] + z * out["se"]
    return out


@dataclass(frozen=True)
class QiniCurve:
    """A Qini curve: ``x`` customers targeted, ``y`` incremental responses; ``auc`` area over random."""

    x: np.ndarray
    y: np.ndarray
    random_y: np.ndarray
    auc: float
    coefficient: float  # auc relative to the perfect ordering's (scikit-uplift's ``qini_auc_score``)


def _curve(y: np.ndarray, t: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-s, kind="mergesort")
    y, t, s = y[order], t[order], s[order]
    # evaluate at the last index of every run of tied scores
    ends = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
    n_t = np.cumsum(t)[ends].astype(float)
    n_c = np.cumsum(1 - t)[ends].astype(float)
    y_t = np.cumsum(y * t)[ends]
    y_c = np.cumsum(y * (1 - t))[ends]
    ratio = np.divide(n_t, n_c, out=np.zeros_like(n_t), where=n_c > 0)
    return np.r_[0.0, ends + 1.0], np.r_[0.0, y_t - y_c * ratio]


def qini_curve(outcome: np.ndarray, treatment: np.ndarray, score: np.ndarray) -> QiniCurve:
    """Qini curve of ``score`` on campaign data (Radcliffe 2007), at every distinct score threshold.

    ``auc`` is the trapezoidal area between the curve and the straight line to the overall gain;
    ``coefficient`` divides it by the same area for the perfect ordering (treated responders first, control
    responders last), the definition of scikit-uplift's ``qini_auc_score``.
    """
    y = np.asarray(outcome, dtype=float)
    t = np.asarray(treatment, dtype=int)
    s = np.asarray(score, dtype=float)
    if not (y.shape == t.shape == s.shape):
        raise SchemaError("outcome, treatment and score must have the same length")
    x, q = _curve(y, t, s)
    random_y = x * q[-1] / x[-1]
    auc = float(np.trapezoid(q, x) - np.trapezoid(random_y, x))
    xp, qp = _curve(y, t, y * t - y * (1 - t))
    perfect = float(np.trapezoid(qp, xp) - np.trapezoid(xp * qp[-1] / xp[-1], xp))
    return QiniCurve(
        x=x, y=q, random_y=random_y, auc=auc, coefficient=auc / perfect if perfect else float("nan")
    )


def campaign_uplift(
    campaign: pd.DataFrame,
    segments: pd.Series,
    *,
    margin: float = 1.0,
    z: float = 1.96,
) -> tuple[pd.DataFrame, dict[str, QiniCurve], dict[str, pd.Series]]:
    """Per-action, per-segment uplift from past campaigns, their Qini curves, and per-segment values.

    Parameters
    ----------
    campaign
        One row per customer of a past campaign: ``customer_id``, ``action`` (a playbook action name),
        ``treatment`` (1 treated / 0 control) and ``outcome`` (revenue in the campaign's response window);
        optionally ``segment`` (default: the customer's current segment from ``segments``).
    segments
        Current segment of each customer, indexed by ``customer_id``.
    margin
        Contribution margin turning incremental revenue into incremental value.
    z
        Normal quantile of the intervals.

    Returns
    -------
    estimates
        One row per (action, segment): :func:`estimate_uplift`'s columns.
    curves
        Per action, the Qini curve of the segment-level uplift used as a targeting score (in-sample, so an
        optimistic view of how well the segments separate responders).
    values
        Per action, the incremental value per customer by segment (``margin × uplift``, 0 where the interval
        includes 0: effects the data cannot support are not acted upon).
    """
    _check(campaign, ["customer_id", "action", "treatment", "outcome"])
    frame = campaign.copy()
    if "segment" not in frame.columns:
        frame["segment"] = frame["customer_id"].map(segments).fillna("(unknown)").to_numpy()
    rows, curves, values = [], {}, {}
    for action, group in frame.groupby("action", sort=True):
        est = estimate_uplift(group, z=z)
        rows.append(est.assign(action=action).reset_index())
        score = group["segment"].map(est["uplift"]).fillna(0.0).to_numpy()
        curves[str(action)] = qini_curve(group["outcome"].to_numpy(), group["treatment"].to_numpy(), score)
        supported = est["lower"] > 0
        values[str(action)] = (margin * est["uplift"]).where(supported, 0.0)
    estimates = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    return estimates, curves, values
