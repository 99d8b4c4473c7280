"""The report's "Did the actions pay?" section: what the control groups measured, per action and segment.

The run records its measurement of the actions in ``diagnostics["experiments"]``: whether it could measure
them (``available``, and the ``reason`` when not), the date, currency, window, interval level and minimum
outcomes, and :meth:`socialvalue.experiments.ActionResults.to_dict` — the verdict rows of
:func:`socialvalue.decisions.measurement.paid_verdicts` (``segment`` ``"(all)"`` for the whole action), the
uplift table, the measured values and the Qini curves. This module draws them:

* :func:`forest` — each action's value uplift per customer contacted with its interval, against its cost;
* :func:`qini` — the Qini curves of the measured actions;
* :func:`section` — the section itself: the forest plot, the verdict per action, a table per action and
  segment and the Qini curves, each chart with its one-line meaning computed from the numbers; when nothing
  could be measured, the reason in one sentence.

Like :mod:`socialvalue.report.charts`, every chart builder returns ``(figure, sentence)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from socialvalue import plot
from socialvalue.report.format import count, money, number

if TYPE_CHECKING:  # pragma: no cover
    from socialvalue.report.builder import ReportData, _Doc

__all__ = [
    "ALL_SEGMENTS",
    "NOT_MEASURED",
    "VERDICT_COLORS",
    "forest",
    "overall",
    "qini",
    "section",
    "unavailable_sentence",
]

#: The ``segment`` of an action's own row in the verdicts.
ALL_SEGMENTS = "(all)"
#: The verdict of an action without enough outcomes.
NOT_MEASURED = "not yet measured"
#: Marker colour per verdict (the verdict is also written beside each row: no meaning rests on colour).
VERDICT_COLORS = {"paid": "#1b7837", "did not pay": "#5f6670", "harmful": "#b2182b"}
#: Colour of the cost markers.
COST_COLOR = "#0b3d91"
#: Line colours of the Qini curves (an action's curve and its random line share one).
QINI_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def _fig(**layout: object) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(**{**plot.LAYOUT, **layout})
    return fig


def _level(confidence: object) -> str:
    try:
        text = f"{100 * float(confidence):.1f}".rstrip("0").rstrip(".")  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "95%"
    return f"{text}%"


def _float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def _label(action: str, labels: Mapping[str, str]) -> str:
    return str(labels.get(action) or action)


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _quoted(names: Sequence[str]) -> str:
    return _and([f"'{n}'" for n in names])


def overall(experiments: Mapping[str, Any]) -> pd.DataFrame:
    """One row per action (its ``"(all)"`` verdict row), in the order of the recorded verdicts."""
    rows = pd.DataFrame(list(experiments.get("verdicts") or []))
    if rows.empty or "segment" not in rows.columns:
        return pd.DataFrame(columns=["action", "segment", "verdict"])
    return rows[rows["segment"].astype(str) == ALL_SEGMENTS].reset_index(drop=True)


def unavailable_sentence(experiments: Mapping[str, Any] | None) -> str:
    """The one sentence the section says when the run could not measure the actions."""
    if experiments is None:
        return (
            "Whether the actions paid is not known: this run recorded no measurement of them (it was made "
            "before actions measured themselves)."
        )
    reason = str(experiments.get("reason") or "the run recorded no reason").strip().rstrip(".")
    return f"Whether the actions paid is not known yet: {reason}."


def _not_measured_phrase(r: Mapping[str, Any], min_outcomes: object) -> str:
    need = f", {count(min_outcomes)} needed in each arm" if min_outcomes is not None else ""
    return (
        f"{count(r.get('n_treated'))} treated and {count(r.get('n_control'))} held-out customers with a "
        f"fully elapsed window{need}"
    )


def _verdict_phrase(r: Mapping[str, Any], label: str, currency: str, min_outcomes: object) -> str:
    verdict = str(r.get("verdict"))
    if verdict == NOT_MEASURED:
        return f"'{label}' is not yet measured ({_not_measured_phrase(r, min_outcomes)})"
    est = (
        f"{money(r.get('uplift'), currency)}, interval {money(r.get('lower'), currency)} to "
        f"{money(r.get('upper'), currency)}"
    )
    cost = money(r.get("cost"), currency)
    if verdict == "paid":
        return f"'{label}' paid ({est}, against a cost of {cost})"
    if verdict == "harmful":
        return f"'{label}' was harmful ({est}: those who got it bought less than those held out)"
    if _float(r.get("net")) > 0:
        return f"'{label}' did not pay ({est}: the interval reaches below the cost of {cost})"
    return f"'{label}' did not pay ({est}, against a cost of {cost})"


def forest(
    rows: pd.DataFrame,
    *,
    currency: str,
    labels: Mapping[str, str] | None = None,
    confidence: float = 0.95,
    window_days: object = None,
    min_outcomes: object = None,
) -> tuple[go.Figure, str]:
    """Each action's value uplift per customer contacted, its interval and its cost (a forest plot).

    Parameters
    ----------
    rows
        One row per action: ``action, n_treated, n_control, uplift, lower, upper, cost, net, verdict`` (the
        ``"(all)"`` rows of :func:`socialvalue.decisions.measurement.paid_verdicts`).
    currency
        Currency of the values.
    labels
        Human label per action name (the name when absent).
    confidence
        Level of the intervals.
    window_days
        Days after the action in which outcomes count (for the sentence).
    min_outcomes
        Outcomes each arm needs before an action is measured (for the sentence).

    Returns
    -------
    tuple of (plotly.graph_objects.Figure, str)
        The chart (a point and its interval per measured action, coloured and named by verdict; the cost as
        a vertical mark; "not yet measured" written on the row of an action without enough outcomes) and its
        sentence.
    """
    labels = labels or {}
    level = _level(confidence)
    frame = rows.reset_index(drop=True).copy()
    frame["shown"] = [_label(str(a), labels) for a in frame["action"]]
    order = frame["shown"].tolist()
    fig = _fig(
        title=f"Did the actions pay? Value uplift per customer contacted ({level} interval) against cost",
        xaxis_title=f"value per customer contacted ({currency})",
        height=200 + 46 * max(1, len(frame)),
        margin=dict(l=60, r=20, t=80, b=50),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0),
    )
    measured = frame[frame["verdict"] != NOT_MEASURED]
    for verdict, color in VERDICT_COLORS.items():
        part = measured[measured["verdict"] == verdict]
        if part.empty:
            continue
        up = part["uplift"].map(_float).to_numpy()
        lo = part["lower"].map(_float).to_numpy()
        hi = part["upper"].map(_float).to_numpy()
        fig.add_trace(
            go.Scatter(
                x=up,
                y=part["shown"].tolist(),
                mode="markers",
                name=verdict,
                marker=dict(size=11, color=color),
                error_x=dict(type="data", symmetric=False, array=hi - up, arrayminus=up - lo, color=color),
                hovertemplate="%{y}: %{x:.2f} " + currency + f" ({verdict})<extra></extra>",
            )
        )
    costs = frame["cost"].map(_float)
    fig.add_trace(
        go.Scatter(
            x=costs.to_numpy(),
            y=frame["shown"].tolist(),
            mode="markers",
            name="cost per customer contacted",
            marker=dict(
                symbol="line-ns-open", size=22, color=COST_COLOR, line=dict(width=3, color=COST_COLOR)
            ),
            hovertemplate="%{y}: cost %{x:.2f} " + currency + "<extra></extra>",
        )
    )
    waiting = frame[frame["verdict"] == NOT_MEASURED]
    if len(waiting):
        fig.add_trace(
            go.Scatter(
                x=np.zeros(len(waiting)),
                y=waiting["shown"].tolist(),
                mode="text",
                text=[
                    f"  not yet measured ({count(n)} treated, {count(c)} held out)"
                    for n, c in zip(waiting["n_treated"], waiting["n_control"], strict=True)
                ],
                textposition="middle right",
                name=NOT_MEASURED,
                showlegend=False,
                hoverinfo="skip",
            )
        )
    fig.add_vline(x=0, line=dict(color="#8a8f98", dash="dot"))
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=order[::-1])
    if frame.empty:
        return fig, "No action had a control group to measure."
    said = [
        _verdict_phrase(r, _label(str(r["action"]), labels), currency, min_outcomes)
        for r in frame.to_dict("records")
    ]
    window = f"the {count(window_days)} days after each action" if window_days is not None else "the window"
    head = f"Value gained per customer contacted over {window}, in {currency} with {level} intervals: "
    return fig, head + "; ".join(said) + "."


def qini(
    curves: Mapping[str, Mapping[str, Any]], labels: Mapping[str, str] | None = None
) -> tuple[go.Figure, str]:
    """The Qini curves of the measured actions: value gained by contacting customers in the plan's order.

    Parameters
    ----------
    curves
        Per action, ``x`` (customers targeted), ``y`` (incremental value), ``random`` (the straight line of
        random targeting) and ``coefficient`` (``ActionResults.to_dict()["qini"]``).
    labels
        Human label per action name.

    Returns
    -------
    tuple of (plotly.graph_objects.Figure, str)
        The chart and its sentence.
    """
    labels = labels or {}
    fig = _fig(
        title="Qini curves: value gained by contacting customers in the order the plan ranked them",
        xaxis_title="customers in the experiment, highest expected value first",
        yaxis_title="incremental value",
    )
    coef: dict[str, float] = {}
    for i, (action, c) in enumerate(curves.items()):
        name = _label(action, labels)
        color = QINI_COLORS[i % len(QINI_COLORS)]
        coefficient = _float(c.get("coefficient"))
        coef[name] = coefficient
        fig.add_trace(
            go.Scatter(
                x=list(c.get("x") or []),
                y=list(c.get("y") or []),
                mode="lines",
                name=f"{name} (Qini {number(coefficient)})",
                line=dict(color=color),
            )
        )
        fig.add_trace(
            go.Scatter(
                x=list(c.get("x") or []),
                y=list(c.get("random") or []),
                mode="lines",
                name=f"{name}: random order",
                line=dict(dash="dot", color=color),
            )
        )
    finite = {k: v for k, v in coef.items() if np.isfinite(v)}
    if not finite:
        return fig, "No action has a Qini curve with a coefficient."
    better = sorted((k for k, v in finite.items() if v > 0), key=lambda k: -finite[k])
    if not better:
        best = max(finite, key=lambda k: finite[k])
        return fig, (
            "For no action did the plan's ranking find the customers who respond better than a random order "
            f"(best Qini coefficient {number(finite[best])}, for '{best}')."
        )
    worse = sorted(k for k in finite if k not in better)
    tail = f"; for {_quoted(worse)} it did no better than a random order" if worse else ""
    return fig, (
        f"The plan's ranking found the customers who respond better than a random order for {_quoted(better)} "
        f"(Qini coefficient{'s' if len(better) > 1 else ''} {_and([number(finite[k]) for k in better])}){tail}."
    )


def _table(frame: pd.DataFrame, currency: str, labels: Mapping[str, str], level: str) -> pd.DataFrame:
    def interval(r: Mapping[str, Any]) -> str:
        if r.get("verdict") == NOT_MEASURED:
            return NOT_MEASURED
        return f"{money(r.get('lower'), currency)} to {money(r.get('upper'), currency)}"

    records = frame.to_dict("records")
    measured = [r.get("verdict") != NOT_MEASURED for r in records]
    out = pd.DataFrame(
        {
            "Action": [_label(str(r["action"]), labels) for r in records],
            "Segment": [str(r.get("segment")) for r in records],
            "Verdict": [str(r.get("verdict")) for r in records],
            "Treated": [count(r.get("n_treated")) for r in records],
            "Held out": [count(r.get("n_control")) for r in records],
            "Value uplift": [
                money(r.get("uplift"), currency) if m else NOT_MEASURED
                for r, m in zip(records, measured, strict=True)
            ],
            f"{level} interval": [interval(r) for r in records],
            "Cost": [money(r.get("cost"), currency) for r in records],
            "Net of cost": [
                money(r.get("net"), currency) if m else "n/a" for r, m in zip(records, measured, strict=True)
            ],
        }
    )
    return out


def section(doc: _Doc, d: ReportData) -> None:
    """The section "Did the actions pay?" of the report (see the module docstring)."""
    doc.section("Did the actions pay?", "action-results")
    exp = d.diagnostics.get("experiments")
    if not isinstance(exp, Mapping) or not exp.get("available"):
        doc.p(unavailable_sentence(exp if isinstance(exp, Mapping) else None), "means")
        return
    currency = str(exp.get("currency") or d.currency)
    labels = {str(k): str(v) for k, v in (exp.get("labels") or {}).items()}
    level = _level(exp.get("confidence", 0.95))
    window = exp.get("window_days")
    min_outcomes = exp.get("min_outcomes")
    rows = overall(exp)
    value = f"{number(exp.get('margin', 1.0))} × revenue"
    if _float(exp.get("referral_value")) > 0:
        value += f" + {money(exp.get('referral_value'), currency)} per referral"
    doc.p(
        f"Measured on {exp.get('measured_at') or d.as_of} against control groups held out at random when the "
        f"actions were exported: outcomes in the {count(window)} days after each action, value = {value}, in "
        f"{currency}. An action paid when its whole {level} interval lies above its cost per customer "
        f"contacted, is harmful when the interval lies below zero, and is not yet measured until each arm has "
        f"{count(min_outcomes)} customers whose window has elapsed.",
        "note",
    )
    if rows.empty:
        doc.p("No action had a control group to measure.", "means")
        return
    fig, sentence = forest(
        rows,
        currency=currency,
        labels=labels,
        confidence=_float(exp.get("confidence", 0.95)),
        window_days=window,
        min_outcomes=min_outcomes,
    )
    doc.chart(fig, sentence)
    doc.raw("<h3>Verdict per action</h3>")
    doc.table(_table(rows, currency, labels, level).drop(columns=["Segment"]))
    replaced = [_label(str(a), labels) for a in exp.get("replaced") or []]
    if replaced:
        doc.p(
            f"The measured values replaced the playbook's assumed uplift of {_quoted(replaced)} in this run's "
            "allocation.",
            "note",
        )
    verdicts = pd.DataFrame(list(exp.get("verdicts") or []))
    per_segment = verdicts[verdicts["segment"].astype(str) != ALL_SEGMENTS]
    if len(per_segment):
        doc.raw("<h3>Per action and segment</h3>")
        doc.table(_table(per_segment, currency, labels, level))
    measured = set(rows.loc[rows["verdict"] != NOT_MEASURED, "action"].astype(str))
    curves = {a: c for a, c in (exp.get("qini") or {}).items() if a in measured and isinstance(c, Mapping)}
    if curves:
        fig, sentence = qini(curves, labels)
        doc.chart(fig, sentence)
    else:
        doc.p("No measured action has a Qini curve (it needs customers in both arms with a score).", "note")
