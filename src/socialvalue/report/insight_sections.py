"""The report's insight sections: acquisition channels, sign-up cohorts and shares (issue 19).

Each section reads the run record's ``diagnostics["insight"]`` (:mod:`socialvalue.pipeline.stage_insight`)
and draws its charts from those aggregates; no section reads a customer-level table. Every chart carries a
one-line "what this means" computed from the numbers it draws, with the currency and, beside value, the CLV
horizon. A part the run could not compute shows the run's reason instead (no channel recorded, no
``duration_s``, no category-spend file); a run recorded before these analyses existed says so.

The builders take the report's document and data (:class:`~socialvalue.report.builder.ReportData`) as the
other sections do; :mod:`socialvalue.report.builder` calls them in order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from socialvalue import plot
from socialvalue.report import charts
from socialvalue.report.format import count, money, number, share

if TYPE_CHECKING:  # pragma: no cover
    from socialvalue.report.builder import ReportData

__all__ = ["SECTIONS", "channels_section", "cohorts_section", "shares_section"]

#: Said when the run's record has no insight entry (a run older than the analyses).
NOT_RECORDED = "This run recorded no {what} analysis (it was made before the analysis existed): run again."

_PERIOD = {"month": "month", "week": "week", "M": "month", "W": "week"}
#: The share measures, their titles and the noun of their unit.
_SHARES = {
    "content": ("Content published", "items"),
    "helpfulness": ("Helpfulness votes received", "votes"),
    "time": ("Time spent in interactions", "seconds"),
    "wallet": ("Share of wallet", ""),
}


def _fig(**layout: Any) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(**{**plot.LAYOUT, **layout})
    return fig


def _insight(d: ReportData) -> Mapping[str, Any] | None:
    entry = d.diagnostics.get("insight")
    return entry if isinstance(entry, Mapping) else None


def _part(doc: Any, d: ReportData, key: str, what: str) -> Mapping[str, Any] | None:
    """The insight part ``key``, or None after writing why it is absent."""
    ins = _insight(d)
    if ins is None:
        doc.p(NOT_RECORDED.format(what=what))
        return None
    if ins.get("available") is False and key not in ins:
        doc.p(_sentence(str(ins.get("reason", f"the {what} analysis is unavailable"))))
        return None
    part = ins.get(key)
    if not isinstance(part, Mapping):
        doc.p(NOT_RECORDED.format(what=what))
        return None
    if not part.get("available", False):
        doc.p(_sentence(str(part.get("reason", f"the {what} analysis is unavailable"))))
        return None
    return part


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def _notes(doc: Any, part: Mapping[str, Any]) -> None:
    notes = [str(n) for n in part.get("notes") or []]
    if notes:
        doc.p("Notes: " + "; ".join(notes) + ".", "note")


def _frame(rows: Any) -> pd.DataFrame:
    return pd.DataFrame(list(rows or []))


def _num(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)


# -- channels ------------------------------------------------------------------------------------------------
def _value_sentence(table: pd.DataFrame, currency: str, horizon: str) -> str:
    """Which channel brings the most and the least value per customer acquired (and per unit cost)."""
    real = table[(table["customers"] > 0) & np.isfinite(_num(table, "value_per_customer"))]
    if real.empty:
        return "No channel has a customer with a value to compare."
    ranked = real.sort_values("value_per_customer", ascending=False)
    top, low = ranked.iloc[0], ranked.iloc[-1]
    text = (
        f"A customer acquired through {top['channel']} brings {money(top['value_per_customer'], currency)} "
        f"of social value on average ({horizon})"
    )
    if len(ranked) > 1:
        text += f", through {low['channel']} {money(low['value_per_customer'], currency)}"
    per_cost = _num(real, "value_per_cost")
    if np.isfinite(per_cost).any():
        best = real.iloc[int(np.nanargmax(per_cost))]
        text += (
            f"; {best['channel']} returns the most per unit cost ({number(best['value_per_cost'], 1)} {currency} "
            f"per {currency} spent, {money(best['cost_per_acquisition'], currency)} per customer acquired)"
        )
    return text + "."


def channels_section(doc: Any, d: ReportData) -> None:
    """Acquisition channels: repeat rate with intervals, value per customer acquired, the channel table."""
    doc.section("Acquisition channels", "channels")
    part = _part(doc, d, "channels", "channel")
    if part is None:
        return
    table = _frame(part.get("table"))
    currency = str(part.get("currency") or d.currency)
    horizon = str(part.get("horizon") or "over the scores' CLV horizon")
    window = int(part.get("repeat_window_days") or 90)
    level = float(part.get("level") or 0.95)
    rate = _num(table, "repeat_rate")
    lo, hi = _num(table, "repeat_rate_lower"), _num(table, "repeat_rate_upper")
    fig = _fig(
        title=f"Repeat purchase within {window} days of the first, by acquisition channel ({level:.0%} intervals)",
        yaxis_title="share of buyers who repeat",
        yaxis_tickformat=".0%",
    )
    fig.add_trace(
        go.Bar(
            x=list(table["channel"]),
            y=rate,
            error_y=dict(type="data", symmetric=False, array=hi - rate, arrayminus=rate - lo),
            name="repeat rate",
            text=[f"n={count(n)}" for n in table["repeat_eligible"]],
            textposition="none",
        )
    )
    doc.chart(fig, str(part.get("meaning", "")))
    if "value_per_customer" in table.columns:
        fig = _fig(
            title=f"Social value per customer acquired, by channel ({currency}, {horizon})",
            yaxis_title=currency,
        )
        fig.add_trace(go.Bar(x=list(table["channel"]), y=_num(table, "value_per_customer"), name="value"))
        doc.chart(fig, _value_sentence(table, currency, horizon))
    shown = pd.DataFrame(
        {"channel": table["channel"], "customers acquired": [count(v) for v in table["customers"]]}
    )
    for col, label in (
        ("conversion", "conversion to a first purchase"),
        ("repeat_rate", f"repeat within {window} days"),
        ("referrer_share", "share who referred someone"),
    ):
        if col in table.columns:
            shown[label] = [
                f"{share(v)} ({share(a)}–{share(b)})"
                for v, a, b in zip(table[col], table[f"{col}_lower"], table[f"{col}_upper"], strict=True)
            ]
    if "median_days_to_second" in table.columns:
        shown["median days to the second purchase"] = [number(v, 0) for v in table["median_days_to_second"]]
    for col, label in (("mean_clv", "mean CLV"), ("mean_csv", "mean social value")):
        if col in table.columns:
            shown[label] = [
                f"{money(v, currency)} ({money(a, currency)}–{money(b, currency)})"
                for v, a, b in zip(table[col], table[f"{col}_lower"], table[f"{col}_upper"], strict=True)
            ]
    if "value_per_customer" in table.columns:
        shown["value per customer acquired"] = [money(v, currency) for v in table["value_per_customer"]]
    if "cost_per_acquisition" in table.columns:
        shown["cost per acquisition"] = [money(v, currency) for v in table["cost_per_acquisition"]]
        shown["value per unit cost"] = [number(v, 1) for v in table.get("value_per_cost", [])]
    doc.table(shown)
    doc.p(
        f"Intervals are {level:.0%} (Wilson for shares, Student t for means); channels are compared with the "
        "two-proportion z-test and Welch's t-test, Holm-adjusted. Values are in "
        f"{currency}, {horizon}.",
        "note",
    )
    _notes(doc, part)


# -- cohorts -------------------------------------------------------------------------------------------------
def _pooled(table: pd.DataFrame) -> pd.DataFrame:
    """Per period since the cohort's start, pooled over the cohorts that completed it."""
    done = table[table["complete"].astype(bool)]
    if done.empty:
        return pd.DataFrame()
    cols = {"members": "sum", "active": "sum", "repeat_days": "sum", "revenue": "sum"}
    has_model = "expected_repeat_per_member" in done.columns
    if has_model:
        done = done.assign(expected=_num(done, "expected_repeat_per_member") * _num(done, "members"))
        cols["expected"] = "sum"
    pooled = done.groupby("period").agg(cols)
    pooled["cohorts"] = done.groupby("period").size()
    pooled["share_active"] = pooled["active"] / pooled["members"]
    pooled["revenue_per_member"] = pooled["revenue"] / pooled["members"]
    pooled["repeat_per_member"] = pooled["repeat_days"] / pooled["members"]
    if has_model:
        pooled["expected_repeat_per_member"] = pooled["expected"] / pooled["members"]
    return pooled


def _expected_sentence(pooled: pd.DataFrame, model: str, word: str) -> str:
    actual = pooled["repeat_per_member"].cumsum()
    expected = pooled["expected_repeat_per_member"].cumsum()
    k = int(pooled.index.max())
    a, e = float(actual.iloc[-1]), float(expected.iloc[-1])
    if a <= 0:
        return f"No repeat purchase yet in the cohorts' complete {word}s; the {model} expects {e:.2f} per member."
    gap = e / a - 1
    verdict = (
        f"within {share(abs(gap))} of the actual"
        if abs(gap) <= 0.10
        else f"{'above' if gap > 0 else 'below'} the actual by {share(abs(gap))}"
    )
    return (
        f"Through {word} {k} after sign-up, the {model} expects {e:.2f} repeat purchases per member against "
        f"{a:.2f} made ({verdict}; each {word} pooled over the cohorts that completed it)."
    )


def _revenue_sentence(pooled: pd.DataFrame, currency: str, word: str) -> str:
    rev = pooled["revenue_per_member"]
    k = int(pooled.index.max())
    total = float(rev.sum())
    first = float(rev.iloc[0])
    return (
        f"A member spends {money(first, currency)} in the {word} of sign-up and {money(total, currency)} in all "
        f"through {word} {k} (revenue in {currency}, pooled over the cohorts that completed each {word})."
    )


def cohorts_section(doc: Any, d: ReportData) -> None:
    """Sign-up cohorts: share active by period (heat map), revenue per member, expected vs actual, stage mix."""
    doc.section("Signup cohorts", "cohorts")
    part = _part(doc, d, "cohorts", "cohort")
    if part is not None:
        table = _frame(part.get("table"))
        word = _PERIOD.get(str(part.get("period")), "period")
        currency = str(part.get("currency") or d.currency)
        grid = table.pivot_table(index="cohort", columns="period", values="share_active", aggfunc="first")
        grid = grid.sort_index(ascending=False) * 100
        fig = charts.heatmap(
            grid,
            f"Share of each cohort buying in each {word} since sign-up (%)",
            f"{word}s since sign-up",
            "cohort",
            fmt=".0f",
            colorscale="Blues",
        )
        doc.chart(fig, str(part.get("meaning", "")))
        pooled = _pooled(table)
        if len(pooled):
            fig = _fig(
                title=f"Revenue per cohort member in each {word} since sign-up ({currency})",
                xaxis_title=f"{word}s since sign-up",
                yaxis_title=currency,
            )
            fig.add_trace(
                go.Bar(x=list(pooled.index), y=pooled["revenue_per_member"].to_numpy(), name="revenue")
            )
            doc.chart(fig, _revenue_sentence(pooled, currency, word))
            if "expected_repeat_per_member" in pooled.columns:
                model = str(part.get("model") or "purchase model")
                fig = _fig(
                    title=f"Repeat purchases per member: actual and expected from the {model}",
                    xaxis_title=f"{word}s since sign-up",
                    yaxis_title="cumulative repeat purchases per member",
                )
                x = list(pooled.index)
                fig.add_trace(
                    go.Scatter(
                        x=x,
                        y=pooled["repeat_per_member"].cumsum().to_numpy(),
                        mode="lines+markers",
                        name="actual",
                    )
                )
                fig.add_trace(
                    go.Scatter(
                        x=x,
                        y=pooled["expected_repeat_per_member"].cumsum().to_numpy(),
                        mode="lines",
                        name=f"expected ({model})",
                        line=dict(dash="dash"),
                    )
                )
                doc.chart(fig, _expected_sentence(pooled, model, word))
        level = float(part.get("level") or 0.95)
        doc.p(
            f"Cohorts are customers who {'signed up' if part.get('basis') == 'signup' else 'first bought'} in "
            f"the same {word}; a member is active in a {word} with a purchase in it ({level:.0%} Wilson "
            f"intervals in the run record). The last {word} of each cohort is incomplete and left out of the "
            "pooled figures.",
            "note",
        )
        _notes(doc, part)
    mix = _part(doc, d, "lifecycle_mix", "lifecycle-mix")
    if mix is not None:
        _mix_chart(doc, mix)


def _mix_chart(doc: Any, mix: Mapping[str, Any]) -> None:
    from socialvalue.models.lifecycle import load_lifecycle_config

    stages = list(load_lifecycle_config().stages)
    table = _frame(mix.get("table"))
    last = table["as_of"].max()
    now = table[table["as_of"] == last]
    grid = now.pivot_table(index="cohort", columns="stage", values="share", aggfunc="sum").fillna(0.0)
    order = [s for s in stages if s in grid.columns] + sorted(s for s in grid.columns if s not in stages)
    fig = _fig(
        title=f"Lifecycle stages of each cohort at {last}",
        barmode="stack",
        yaxis_title="share of the cohort's scored members",
        yaxis_tickformat=".0%",
        xaxis_title="cohort",
    )
    for stage in order:
        fig.add_trace(go.Bar(x=list(grid.index), y=grid[stage].to_numpy(), name=stage))
    doc.chart(fig, str(mix.get("meaning", "")))
    _notes(doc, mix)


# -- shares --------------------------------------------------------------------------------------------------
def _share_chart(doc: Any, key: str, part: Mapping[str, Any], segment_column: str) -> None:
    title, unit = _SHARES[key]
    seg = _frame(part.get("by_segment"))
    if key == "wallet":
        if len(seg) and "share" in seg.columns:
            fig = _fig(
                title=f"{title} by {segment_column.replace('_', ' ')} (our spend over their estimated spend)",
                yaxis_title="share of wallet",
                yaxis_tickformat=".0%",
            )
            fig.add_trace(go.Bar(x=list(seg["segment"]), y=_num(seg, "share"), name="share of wallet"))
            doc.chart(fig, str(part.get("meaning", "")))
        else:
            doc.kpis([("share of the estimated category spend we hold", share(part.get("total")))])
            doc.p(str(part.get("meaning", "")), "means")
        return
    if len(seg) and "member_share" in seg.columns:
        fig = _fig(
            title=f"{title}: share held by each {segment_column.replace('_', ' ')} against its share of customers",
            barmode="group",
            yaxis_title="share",
            yaxis_tickformat=".0%",
        )
        fig.add_trace(go.Bar(x=list(seg["segment"]), y=_num(seg, "share"), name=f"share of {unit}"))
        fig.add_trace(go.Bar(x=list(seg["segment"]), y=_num(seg, "member_share"), name="share of customers"))
        doc.chart(fig, str(part.get("meaning", "")))
    else:
        doc.p(str(part.get("meaning", "")), "means")
    total = part.get("total")
    who = part.get("customers")
    doc.p(
        f"{count(total)} {unit} in all ({part.get('window', '')}); {count(who)} profiled customers hold some.",
        "note",
    )


def shares_section(doc: Any, d: ReportData) -> None:
    """Shares of content, helpfulness, time and wallet: per segment, with the reason when one is absent."""
    doc.section("Shares", "shares")
    ins = _insight(d)
    if ins is None:
        doc.p(NOT_RECORDED.format(what="share"))
        return
    shares = ins.get("shares")
    if not isinstance(shares, Mapping):
        doc.p(_sentence(str(ins.get("reason", NOT_RECORDED.format(what="share")))))
        return
    column = str(shares.get("segment_column") or "segment")
    for key, (title, _) in _SHARES.items():
        part = shares.get(key)
        doc.raw(f"<h3>{title}</h3>")
        if not isinstance(part, Mapping):
            doc.p(NOT_RECORDED.format(what=title.lower()))
            continue
        if not part.get("available", False):
            doc.p(_sentence(str(part.get("reason", "unavailable"))))
            _notes(doc, part)
            continue
        _share_chart(doc, key, part, column)
        _notes(doc, part)


#: The builders in report order (after the lifecycle section's stages, before the model diagnostics).
SECTIONS = (channels_section, cohorts_section, shares_section)
