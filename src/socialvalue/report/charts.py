"""Plotly figures of the report, each built from already-aggregated data (small, so the file stays small).

Every builder returns ``(figure, sentence)``: the chart and a one-line "what this means" computed from the
same numbers. The charts a notebook user also draws (tracking, holdout by frequency, value concentration,
value decomposition, heat maps) are drawn by the figure builders of :mod:`socialvalue.plot`, so the report and
the notebook show the same figure; this module adds the report's sentences.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from socialvalue import plot
from socialvalue.report.format import count, money, share
from socialvalue.report.sentences import concentration_sentence, model_fit_sentence, tracking_sentence

__all__ = [
    "action_plan",
    "bar",
    "calibration_plot",
    "conditional_expectations",
    "force_layout",
    "heatmap",
    "lifecycle_bars",
    "lorenz",
    "network",
    "qini",
    "rfm_heatmap",
    "stacked_decomposition",
    "tracking_plot",
]


def _fig(**layout: object) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(**{**plot.LAYOUT, **layout})
    return fig


def _unit(time_unit: str | None) -> str:
    return {"W": "weeks", "D": "days", "M": "months"}.get(str(time_unit), "periods")


def lorenz(values: dict[str, np.ndarray], points: int = 201) -> tuple[go.Figure, str]:
    """Cumulative share of value against share of customers, sorted from most to least valuable.

    The curves are :func:`socialvalue.plot.concentration_curve` drawn by
    :func:`socialvalue.plot.concentration_figure` (the notebook's ``plot_value_concentration``); the sentence
    cites the top 10% and 1% shares of the first series with positive value.
    """
    curves = {}
    sentence = ""
    for name, v in values.items():
        x, y = plot.concentration_curve(v, points)
        if not x.size:
            continue
        curves[name] = (x, y)
        if not sentence:
            sentence = concentration_sentence(name, plot.top_share(v, 0.10), plot.top_share(v, 0.01))
    return plot.concentration_figure(curves), sentence or "No positive value to show."


def heatmap(
    matrix: pd.DataFrame, title: str, x_title: str, y_title: str, fmt: str = ".0f", colorscale: str = "Blues"
) -> go.Figure:
    """A heat map of ``matrix`` (index → y, columns → x) with values written in the cells (:func:`socialvalue.plot.matrix_figure`)."""
    return plot.matrix_figure(
        matrix, title=title, x_title=x_title, y_title=y_title, fmt=fmt, colorscale=colorscale
    )


def rfm_heatmap(grid: pd.DataFrame, levels: int = 5) -> tuple[go.Figure, str]:
    """Customers per (R, F) score pair, with every level 1..``levels`` on both axes, empty ones included.

    Parameters
    ----------
    grid
        Customer counts indexed by R score with F scores as columns (e.g. a ``pivot_table`` of the scores);
        missing pairs, and score 0 (no purchase), may be absent or present.
    levels
        The highest score; every level 1..``levels`` gets a row and a column (0 customers where empty), so
        no axis value is ever skipped.

    Returns
    -------
    tuple of (plotly.graph_objects.Figure, str)
        The heat map (R 1 at the bottom, 5 at the top; F 1 to 5 left to right) and its sentence.
    """
    scores = list(range(1, levels + 1))
    full = grid.reindex(index=scores, columns=scores).fillna(0)
    fig = heatmap(full, "Customers by recency (R) and frequency (F) score", "F score", "R score")
    labels = [str(s) for s in scores]
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=labels)
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=labels)
    top = full.loc[levels, levels]
    sentence = f"{count(top)} customers bought recently and often (R and F at the top score): the core to keep close."
    return fig, sentence


def bar(
    labels: Sequence[str], values: Sequence[float], title: str, y_title: str, orientation: str = "v"
) -> go.Figure:
    """A plain bar chart."""
    fig = _fig(title=title)
    if orientation == "h":
        fig.add_trace(go.Bar(y=list(labels), x=list(values), orientation="h"))
        fig.update_layout(xaxis_title=y_title)
    else:
        fig.add_trace(go.Bar(x=list(labels), y=list(values)))
        fig.update_layout(yaxis_title=y_title)
    return fig


def lifecycle_bars(counts: pd.Series) -> tuple[go.Figure, str]:
    """Customers per lifecycle stage as bars in stage order (stages are states, not a funnel's steps).

    Parameters
    ----------
    counts
        Customers per stage, indexed by stage in the order to draw.

    Returns
    -------
    tuple of (plotly.graph_objects.Figure, str)
        The chart and its sentence.
    """
    total = int(counts.sum())
    labels = [str(s) for s in counts.index]
    pct = [share(v / total) if total else "0%" for v in counts.to_numpy()]
    fig = _fig(title="Customers by lifecycle stage", yaxis_title="customers")
    fig.add_trace(
        go.Bar(
            x=labels,
            y=counts.to_numpy(),
            text=[f"{count(v)} ({p})" for v, p in zip(counts.to_numpy(), pct, strict=True)],
            textposition="outside",
        )
    )
    fig.update_xaxes(categoryorder="array", categoryarray=labels)
    at_risk = counts.get("decline", 0) + counts.get("churned", 0)
    sentence = (
        f"{share(at_risk / total)} of customers are declining or churned; "
        f"{share(counts.get('growth', 0) / total)} are growing."
        if total
        else "No customers scored."
    )
    return fig, sentence


def tracking_plot(
    tracking: dict[str, Sequence[float]], split: float | None, time_unit: str | None = None
) -> tuple[go.Figure, str]:
    """Cumulative repeat transactions, actual vs model, by period (calibration then holdout).

    Drawn by :func:`socialvalue.plot.tracking_figure` (the notebook's ``plot_cumulative_transactions``);
    ``time_unit`` is the run's unit (``"W"``, ``"D"``) for the axis label.
    """
    fig = plot.tracking_figure(
        list(tracking["period"]),
        tracking["actual"],
        tracking["model"],
        t_cal=split,
        time_unit=_unit(time_unit),
        x_title=f"{_unit(time_unit)} since the cohort's first purchase",
    )
    a, m = float(tracking["actual"][-1]), float(tracking["model"][-1])
    return fig, tracking_sentence(a, m)


def conditional_expectations(cond: dict[str, Sequence[float]]) -> tuple[go.Figure, str]:
    """Mean holdout transactions by calibration frequency, actual vs predicted (the papers' figure).

    Drawn by :func:`socialvalue.plot.holdout_figure` (the notebook's
    ``plot_calibration_purchases_vs_holdout_purchases``).
    """
    x = [str(v) for v in cond["frequency"]]
    fig = plot.holdout_figure(
        x,
        cond["actual"],
        cond["model"],
        title="Holdout transactions by calibration frequency",
        x_title="repeat transactions in calibration",
        y_title="mean holdout transactions",
    )
    return fig, model_fit_sentence(x, cond["actual"], cond["model"])


def calibration_plot(pred: Sequence[float], obs: Sequence[float]) -> go.Figure:
    """Reliability diagram of a probability score."""
    fig = _fig(
        title="Churn score calibration",
        xaxis_title="predicted churn probability",
        yaxis_title="observed churn rate",
    )
    fig.add_trace(go.Scatter(x=list(pred), y=list(obs), mode="lines+markers", name="model"))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line=dict(dash="dot")))
    return fig


def stacked_decomposition(frame: pd.DataFrame, title: str, currency: str = "") -> go.Figure:
    """Stacked horizontal bars: one bar per row of ``frame`` (index = label), one segment per column.

    Drawn by :func:`socialvalue.plot.decomposition_figure` (the notebook's ``plot_value_decomposition``).
    """
    return plot.decomposition_figure(frame, title, currency)


def force_layout(n: int, edges: np.ndarray, *, iterations: int = 200, seed: int = 0) -> np.ndarray:
    """Fruchterman–Reingold layout (1991) of a small graph, vectorized over nodes; returns (n, 2) positions."""
    rng = np.random.default_rng(seed)
    pos = rng.random((n, 2))
    if n < 2:
        return pos
    k = 1.0 / np.sqrt(n)
    t = 0.1
    for _ in range(iterations):
        delta = pos[:, None, :] - pos[None, :, :]
        dist = np.maximum(np.linalg.norm(delta, axis=-1), 1e-3)
        disp = (delta * (k * k / dist**2)[..., None]).sum(axis=1)  # repulsion
        if len(edges):
            d = pos[edges[:, 0]] - pos[edges[:, 1]]
            dl = np.maximum(np.linalg.norm(d, axis=1), 1e-3)
            f = d * (dl / k)[:, None]
            np.add.at(disp, edges[:, 0], -f)
            np.add.at(disp, edges[:, 1], f)
        length = np.maximum(np.linalg.norm(disp, axis=1), 1e-9)
        pos += disp / length[:, None] * np.minimum(length, t)[:, None]
        t *= 0.98
    return pos


def network(nodes: pd.DataFrame, edges: np.ndarray, currency: str = "") -> go.Figure:
    """The influencer network, drawn without text labels so none can overlap (names show on hover).

    The report names the top influencers in a ranked table beside it instead.

    Parameters
    ----------
    nodes
        One row per node with ``label``, ``size``, ``color`` and ``top`` columns.
    edges
        Index pairs ``(source, target)`` into ``nodes``.
    currency
        Currency of the colour scale (social value).

    Returns
    -------
    plotly.graph_objects.Figure
    """
    pos = force_layout(len(nodes), np.asarray(edges, dtype=np.int64).reshape(-1, 2))
    fig = _fig(title="Influencer network around the top customers", height=560, showlegend=False)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    if len(edges):
        e = np.asarray(edges)
        xs = np.column_stack([pos[e[:, 0], 0], pos[e[:, 1], 0], np.full(len(e), np.nan)]).ravel()
        ys = np.column_stack([pos[e[:, 0], 1], pos[e[:, 1], 1], np.full(len(e), np.nan)]).ravel()
        fig.add_trace(
            go.Scatter(x=xs, y=ys, mode="lines", line=dict(width=0.6, color="#bbb"), hoverinfo="skip")
        )
    size = nodes["size"].to_numpy(dtype=float)
    size = 6 + 24 * (size - size.min()) / (np.ptp(size) or 1.0)
    fig.add_trace(
        go.Scatter(
            x=pos[:, 0],
            y=pos[:, 1],
            mode="markers",
            marker=dict(
                size=size,
                color=nodes["color"].to_numpy(dtype=float),
                colorscale="Viridis",
                showscale=True,
                colorbar=dict(title=f"social value ({currency})" if currency else "social value"),
                line=dict(width=np.where(nodes["top"], 2, 0), color="red"),
            ),
            hovertext=nodes["label"].astype(str).to_numpy(),
            hoverinfo="text",
        )
    )
    return fig


def action_plan(plan: pd.DataFrame, currency: str = "") -> tuple[go.Figure, str]:
    """Customers, cost and expected net value per action (``plan`` indexed by action label)."""
    fig = _fig(
        title="Action plan: expected net value and cost per action",
        barmode="group",
        yaxis_title=currency or "currency",
    )
    fig.add_trace(go.Bar(x=list(plan.index), y=plan["net_value"].to_numpy(), name="expected net value"))
    fig.add_trace(go.Bar(x=list(plan.index), y=plan["cost"].to_numpy(), name="cost"))
    active = plan.drop(
        index=[i for i in plan.index if plan.loc[i, "cost"] == 0 and plan.loc[i, "net_value"] == 0]
    )
    if len(active):
        best = active["net_value"].idxmax()
        roi = plan["net_value"].sum() / plan["cost"].sum() if plan["cost"].sum() else float("nan")
        sentence = (
            f"The plan spends {money(plan['cost'].sum(), currency)} for an expected net gain of "
            f"{money(plan['net_value'].sum(), currency)} ({roi:.1f}× its cost); '{best}' contributes most."
        )
    else:
        sentence = "No action pays for itself at the current assumptions."
    return fig, sentence


def qini(curves: dict[str, dict[str, list[float]]]) -> tuple[go.Figure, str]:
    """Qini curves of past campaigns: incremental responses gained by targeting on estimated uplift."""
    fig = _fig(
        title="Qini curves of past campaigns",
        xaxis_title="customers targeted",
        yaxis_title="incremental outcome",
    )
    best, best_c = "", -np.inf
    for name, c in curves.items():
        fig.add_trace(
            go.Scatter(x=c["x"], y=c["y"], mode="lines", name=f"{name} (Qini {c['coefficient']:.2f})")
        )
        fig.add_trace(
            go.Scatter(x=c["x"], y=c["random"], mode="lines", name=f"{name}: random", line=dict(dash="dot"))
        )
        if c["coefficient"] > best_c:
            best, best_c = name, c["coefficient"]
    return (
        fig,
        f"Targeting by segment uplift beats random targeting most for '{best}' (Qini coefficient {best_c:.2f}).",
    )
