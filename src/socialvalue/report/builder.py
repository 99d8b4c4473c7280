"""The self-contained HTML report: one file, charts' JavaScript inline, readable offline without Python.

It follows the insight flow a marketing team uses: goals and definitions → data quality → value distribution →
RFM segments → lifecycle → CLV model diagnostics → churn early warning → social value and the influencer
network → clusters and tiers → the action plan → whether the actions paid (:mod:`socialvalue.report.action_results`).
Every chart carries a one-line "what this means" sentence computed from the data. Plotly's JavaScript is embedded once (about 4.6 MB); all plotted data is aggregated
first, so the file stays small enough to e-mail.
"""

from __future__ import annotations

import html
import itertools
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from socialvalue import plot
from socialvalue.report import action_results, charts, sentences
from socialvalue.report.format import count as fmt_count
from socialvalue.report.format import human_columns, human_label
from socialvalue.report.format import money as fmt_money
from socialvalue.report.format import number as fmt_number
from socialvalue.report.format import share as fmt_share
from socialvalue.report.insight_sections import channels_section, cohorts_section, shares_section

if TYPE_CHECKING:  # pragma: no cover
    from socialvalue.store import Store

__all__ = ["ReportData", "render_report", "write_report"]

logger = logging.getLogger(__name__)


@dataclass
class ReportData:
    """Everything the report shows, already computed by the pipeline.

    Attributes
    ----------
    as_of
        The scoring date.
    scores
        One row per customer (the ``scores`` table for ``as_of``).
    actions
        One row per customer with the chosen action (the ``actions`` table), or ``None``.
    diagnostics
        The run's diagnostics (model comparison, tracking, churn metrics, social value weights, transitions,
        clusters, network), as recorded in ``_runs``.
    data_quality
        Per-table summary (rows, date range, problems), or ``None``.
    run
        Run metadata: run id, config hash, timings per stage, model parameters.
    """

    as_of: str
    scores: pd.DataFrame
    actions: pd.DataFrame | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)
    data_quality: pd.DataFrame | None = None
    run: dict[str, Any] = field(default_factory=dict)
    currency: str = "USD"

    @classmethod
    def from_store(cls, store: Store, as_of: str | None = None) -> ReportData:
        """Read the latest recorded run (or the run for ``as_of``) and its tables from ``store``."""
        from socialvalue.errors import StoreError

        if not store.has_table("_runs") or not store.has_table("scores"):
            raise StoreError(f"store {store.path!r} has no scored run yet: run `socialvalue run` first")
        params = [as_of] if as_of else []
        query = (
            "SELECT * FROM _runs WHERE as_of = ? ORDER BY started_at DESC LIMIT 1"
            if as_of
            else ("SELECT * FROM _runs ORDER BY started_at DESC LIMIT 1")
        )
        runs = store.query_df(query, params)
        if runs.empty:
            raise StoreError(f"no run recorded for as_of {as_of}")
        run = runs.iloc[0].to_dict()
        as_of = str(pd.Timestamp(run["as_of"]).date())
        scores = store.query_df("SELECT * FROM scores WHERE as_of = ?", [as_of])
        if scores.empty:
            raise StoreError(f"the run for as_of {as_of} has no score rows in store {store.path!r}")
        actions = (
            store.query_df("SELECT * FROM actions WHERE as_of = ?", [as_of])
            if store.has_table("actions")
            else None
        )
        quality = _data_quality(store)
        diag = json.loads(run.pop("diagnostics_json") or "{}")
        meta = {
            k: (json.loads(v) if k.endswith("_json") and isinstance(v, str) else v) for k, v in run.items()
        }
        return cls(
            as_of=as_of,
            scores=scores,
            actions=actions,
            diagnostics=diag,
            data_quality=quality,
            run=meta,
            currency=str(diag.get("currency", "USD")),
        )


def _data_quality(store: Store) -> pd.DataFrame:
    from socialvalue.schema import KINDS, TABLES
    from socialvalue.sqlsafe import ident

    rows = []
    for kind in KINDS:
        t = TABLES[kind]
        tc = t.time_column
        q = f"SELECT count(*) AS n, min({ident(tc)}) AS first, max({ident(tc)}) AS last FROM {ident(kind)}"
        n, first, last = store.con.execute(q).fetchall()[0]
        nulls = {
            c.name: store.scalar(f"SELECT count(*) FROM {ident(kind)} WHERE {ident(c.name)} IS NULL")
            for c in t.columns
            if c.nullable
        }
        worst = max(nulls.items(), key=lambda kv: kv[1]) if nulls else (None, 0)
        rows.append(
            {
                "table": kind,
                "rows": int(n),
                "first": "" if first is None else str(first)[:10],
                "last": "" if last is None else str(last)[:10],
                "most missing column": ""
                if not worst[1]
                else f"{worst[0]} ({worst[1] / max(n, 1):.0%} empty)",
            }
        )
    return pd.DataFrame(rows)


# -- HTML helpers ------------------------------------------------------------------------------------------
_CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#143d59;color:#fff;padding:24px 40px}header h1{margin:0 0 6px 0}
main{max-width:1150px;margin:0 auto;padding:10px 40px 60px}
section{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.08);padding:18px 24px;margin:22px 0}
h2{color:#143d59;margin-top:0}.means{background:#eef5fb;border-left:4px solid #2a7ab8;padding:8px 12px;margin:4px 0 18px}
table.sv{border-collapse:collapse;font-size:13px;margin:8px 0}table.sv td,table.sv th{border-bottom:1px solid #e4e4e4;
padding:4px 10px;text-align:right}table.sv th{background:#f3f3f3}table.sv td:first-child,table.sv th:first-child{text-align:left}
.kpis{display:flex;gap:16px;flex-wrap:wrap}.kpi{background:#f3f7fa;border-radius:6px;padding:10px 16px;min-width:150px}
.kpi b{display:block;font-size:22px;color:#143d59}.note{color:#666;font-size:13px}dl dt{font-weight:600}dl dd{margin:0 0 8px 0}
"""


class _Doc:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self._js_done = False
        self.n_charts = 0

    def section(self, title: str, anchor: str) -> None:
        if self.parts and self.parts[-1] != "</section>":
            self.parts.append("</section>")
        self.parts.append(f'<section id="{anchor}"><h2>{html.escape(title)}</h2>')

    def p(self, text: str, cls: str = "") -> None:
        self.parts.append(
            f'<p class="{cls}">{html.escape(text)}</p>' if cls else f"<p>{html.escape(text)}</p>"
        )

    def raw(self, snippet: str) -> None:
        self.parts.append(snippet)

    def chart(self, fig: go.Figure, sentence: str) -> None:
        self.parts.append(
            fig.to_html(
                full_html=False,
                include_plotlyjs=not self._js_done,
                config={"displaylogo": False, "responsive": True},
                div_id=f"chart-{self.n_charts}",
            )
        )
        self._js_done = True
        self.n_charts += 1
        self.parts.append(f'<p class="means"><b>What this means:</b> {html.escape(sentence)}</p>')

    def table(self, frame: pd.DataFrame, floatfmt: str = "{:,.2f}", index: bool = False) -> None:
        """A table with human column labels (never ``snake_case``)."""
        self.parts.append(
            human_columns(frame).to_html(
                classes="sv", index=index, border=0, float_format=floatfmt.format, escape=True
            )
        )

    def kpis(self, items: list[tuple[str, str]]) -> None:
        cells = "".join(f'<div class="kpi"><b>{html.escape(v)}</b>{html.escape(k)}</div>' for k, v in items)
        self.parts.append(f'<div class="kpis">{cells}</div>')

    def close(self) -> str:
        if self.parts and self.parts[-1] != "</section>":
            self.parts.append("</section>")
        return "\n".join(self.parts)


def _formatted(
    frame: pd.DataFrame,
    currency: str,
    *,
    money_cols: tuple[str, ...] = (),
    share_cols: tuple[str, ...] = (),
    count_cols: tuple[str, ...] = (),
) -> pd.DataFrame:
    """``frame`` with its money, share and count columns written by the one helper of each kind."""
    out = frame.copy()
    for cols, fmt in (
        (money_cols, lambda v: fmt_money(v, currency)),
        (share_cols, fmt_share),
        (count_cols, fmt_count),
    ):
        for c in cols:
            if c in out.columns:
                out[c] = [fmt(v) for v in out[c]]
    return out


def _col(frame: pd.DataFrame, name: str) -> pd.Series | None:
    return frame[name] if name in frame.columns else None


def _clv_horizon(d: ReportData) -> str | None:
    h = d.diagnostics.get("clv_horizon")
    return str(h) if h else None


def _clv_note(doc: _Doc, d: ReportData) -> None:
    """State the CLV horizon beside a CLV figure (nothing when the run did not record it)."""
    h = _clv_horizon(d)
    if h:
        doc.p(f"CLV here is over {h}, in {d.currency}.", "note")


def _churn_definition(d: ReportData) -> str | None:
    ch = d.diagnostics.get("churn") or {}
    return str(ch["definition"]) if ch.get("definition") else None


def _holdout_words(d: ReportData) -> str:
    rng = d.diagnostics.get("data_range") or {}
    if rng.get("holdout_periods"):
        unit = {"W": "week", "D": "day", "M": "month"}.get(str(rng.get("unit")), "period")
        return f"the {rng['holdout_periods']}-{unit} holdout"
    return "the next period"


# -- sections ----------------------------------------------------------------------------------------------
def _goals(doc: _Doc, d: ReportData) -> None:
    s = d.scores
    doc.section("Goals and definitions", "goals")
    clv = _col(s, "clv")
    csv = _col(s, "csv")
    kp = [("customers scored", fmt_count(len(s))), ("as of", d.as_of)]
    if clv is not None:
        kp.append(("predicted CLV, total", fmt_money(float(clv.sum()), d.currency)))
    if csv is not None:
        kp.append(("customer social value, total", fmt_money(float(csv.sum()), d.currency)))
    if "influencer" in s.columns:
        if sentences.has_social_value(s):
            kp.append(("influencers", fmt_count(int(s["influencer"].fillna(False).astype(bool).sum()))))
        else:
            kp.append(("social value", "none published"))
    doc.kpis(kp)
    if clv is not None:
        _clv_note(doc, d)
    if "influencer" in s.columns and not sentences.has_social_value(s):
        doc.p(
            f"Influencers: {sentences.influencer_phrase(s)}, so no customer is called an influencer.", "note"
        )
    churn_def = _churn_definition(d)
    doc.raw(
        "<dl>"
        "<dt>CLV</dt><dd>Discounted expected margin from a customer's own future purchases (BTYD model × spend model)"
        + (f", over {html.escape(_clv_horizon(d) or '')}" if _clv_horizon(d) else "")
        + ".</dd>"
        "<dt>P(alive)</dt><dd>Probability the customer is still active, given their purchase history.</dd>"
        "<dt>Customer social value (CSV)</dt><dd>CLV plus the value created through others — referrals, influence "
        "on others' purchases, content and advocacy — with weights learned from what happened in a holdout period.</dd>"
        "<dt>Lifecycle stage</dt><dd>Introduction, growth, maturity, decline or churned, from tenure, purchase trend, "
        "P(alive) and interaction trend.</dd>"
        + (f"<dt>Churn</dt><dd>{html.escape(churn_def)}.</dd>" if churn_def else "")
        + "<dt>Next-best action</dt><dd>The playbook action with the highest expected net value within budget, "
        "capacity and consent; uplifts are assumptions unless estimated from campaign data.</dd></dl>"
    )
    doc.p(
        "Customers who did not consent to profiling are excluded from individual scores; counts elsewhere include them.",
        "note",
    )


def _how(doc: _Doc, d: ReportData) -> None:
    """How the run was made: the dates, the money and every fallback a model ladder took."""
    diag = d.diagnostics
    doc.section("How this run was made", "how")
    rng = diag.get("data_range")
    if rng:
        unit = "weeks" if rng.get("unit") == "W" else "days"
        origin = diag.get("models_from") or {}
        if origin and not origin.get("refitted", True):
            # a scoring with stored models: nothing was compared or trained on this data
            made = (
                f"Nothing was refitted: the scores use the models fitted on {origin['as_of']} "
                f"(run {origin['run_id']}) and that run's holdout checks."
            )
        else:
            made = (
                f"Models were compared and trained on a calibration period ending {rng['calibration_end']}, "
                f"then checked on the {rng['holdout_periods']} {unit} after it."
            )
        doc.p(
            f"Scored as of {d.as_of} from {fmt_count(rng['purchases'])} purchases made between {rng['first']} and "
            f"{rng['last']}. {made}",
            "means",
        )
    money = diag.get("money")
    horizon = diag.get("clv_horizon")
    churn_def = _churn_definition(d)
    if money or horizon or churn_def:
        parts = []
        if money:
            parts.append(f"Money: {money}.")
        if horizon:
            parts.append(f"CLV horizon: {horizon}.")
        if churn_def:
            parts.append(f"Churn horizon: {churn_def}.")
        doc.p(" ".join(parts), "means")
    fallbacks = diag.get("fallbacks") or []
    if fallbacks:
        doc.p(
            f"{len(fallbacks)} model{'s' if len(fallbacks) != 1 else ''} fell back to a simpler rung of "
            "its ladder; the numbers below come from the rung named:",
            "means",
        )
        doc.raw("<ul>" + "".join(f"<li>{html.escape(str(f))}</li>" for f in fallbacks) + "</ul>")
    elif diag.get("btyd"):
        btyd = diag["btyd"]
        doc.p(
            f"Every model was fitted as first choice: purchases by {btyd.get('chosen', '?')}, spend by "
            f"{btyd.get('spend_model', 'Gamma-Gamma')}.",
            "means",
        )


#: The published scores of the ``champions`` diagnostics, in the order and words the report uses.
CHAMPION_SCORES = {
    "purchases": "next-period purchases",
    "value": "customer value",
    "churn": "churn risk",
}


def _champions(doc: _Doc, d: ReportData) -> None:
    """Each published score's holdout champion against its challengers (nothing for runs without them)."""
    champions = d.diagnostics.get("champions")
    if not champions:
        return
    doc.section("Champions and baselines", "champions")
    doc.p(
        "Every score the run publishes was compared on the holdout with simple baselines an analyst would "
        "use anyway; the champion is what the run publishes.",
        "note",
    )
    for key, entry in champions.items():
        if not isinstance(entry, dict):
            continue
        label = CHAMPION_SCORES.get(key, human_label(key).lower())
        doc.raw(f"<h3>{html.escape(label[:1].upper() + label[1:])}</h3>")
        doc.p(sentences.champion_sentence(label, entry), "means")
        rows = pd.DataFrame(list(entry.get("metrics") or []))
        if rows.empty:
            continue
        rows = rows.dropna(axis=1, how="all")
        if "kind" in rows.columns:
            rows["kind"] = (
                rows["kind"].map({"model": "model", "baseline": "simple baseline"}).fillna(rows["kind"])
            )
        if "name" in rows.columns:
            rows["name"] = [f"{n} (champion)" if n == entry.get("champion") else n for n in rows["name"]]
        for c in ("spearman", "auc"):
            if c in rows.columns:
                rows[c] = [fmt_number(v) for v in rows[c]]
        totals = ("predicted_total", "actual_total")
        rows = _formatted(
            rows,
            d.currency,
            money_cols=totals if key == "value" else (),
            share_cols=("top_decile",),
            count_cols=() if key == "value" else totals,
        )
        doc.table(rows.rename(columns={"name": "candidate"}))
        if key == "value":
            _clv_note(doc, d)
        if key == "churn" and _churn_definition(d):
            doc.p(f"Churn means {_churn_definition(d)}.", "note")


def _quality(doc: _Doc, d: ReportData) -> None:
    doc.section("Data quality", "quality")
    if d.data_quality is None or d.data_quality.empty:
        doc.p("No data-quality summary was recorded.")
        return
    dq = d.data_quality
    doc.table(_formatted(dq, d.currency, count_cols=("rows",)))
    empty = dq.loc[dq["rows"] == 0, "table"].tolist()
    doc.p(
        f"All {fmt_count(len(dq))} tables hold data."
        if not empty
        else f"No rows in: {', '.join(empty)} — the related analyses are limited.",
        "means",
    )


def _value(doc: _Doc, d: ReportData) -> None:
    doc.section("Value distribution", "value")
    vals = {}
    for name, col in (
        ("predicted CLV", "clv"),
        ("customer social value", "csv"),
        ("past revenue", "total_spend"),
    ):
        if col in d.scores.columns:
            vals[name] = d.scores[col].to_numpy(dtype=float, na_value=0.0)
    if not vals:
        doc.p("No value columns scored.")
        return
    fig, sentence = charts.lorenz(vals)
    doc.chart(fig, sentence)
    if "clv" in d.scores.columns:
        _clv_note(doc, d)


def _rfm(doc: _Doc, d: ReportData) -> None:
    s = d.scores
    doc.section("RFM segments", "rfm")
    if not {"r_score", "f_score"} <= set(s.columns):
        doc.p("RFM scores are not available.")
        return
    val = "clv" if "clv" in s.columns else "f_score"
    grid = s.pivot_table(
        index="r_score", columns="f_score", values="customer_id", aggfunc="count", observed=True
    ).sort_index(ascending=False)
    fig, sentence = charts.rfm_heatmap(grid)
    doc.chart(fig, sentence)
    if "segment" in s.columns:
        rev = s["total_spend"] if "total_spend" in s.columns else pd.Series(0.0, index=s.index)
        seg = (
            s.assign(_rev=rev.astype(float))
            .groupby("segment", observed=True)
            .agg(customers=("customer_id", "size"), revenue=("_rev", "sum"), mean_clv=(val, "mean"))
        )
        seg["revenue share"] = seg["revenue"] / max(seg["revenue"].sum(), 1e-12)
        seg = seg.sort_values("revenue", ascending=False)
        shown = seg.reset_index().rename(
            columns={"revenue": "past revenue", "mean_clv": "mean_clv" if val == "clv" else "mean F score"}
        )
        doc.table(
            _formatted(
                shown,
                d.currency,
                money_cols=("past revenue", "mean_clv"),
                share_cols=("revenue share",),
                count_cols=("customers",),
            )
        )
        if val == "clv":
            _clv_note(doc, d)
        top = seg.index[0]
        doc.p(
            f"'{top}' brings {fmt_share(seg['revenue share'].iloc[0])} of past revenue with "
            f"{fmt_share(seg['customers'].iloc[0] / len(s))} of customers.",
            "means",
        )


def _stage_order() -> list[str]:
    from socialvalue.models.lifecycle import load_lifecycle_config

    return list(load_lifecycle_config().stages)


def _lifecycle(doc: _Doc, d: ReportData) -> None:
    s = d.scores
    doc.section("Lifecycle", "lifecycle")
    if "lifecycle_stage" not in s.columns:
        doc.p("Lifecycle stages are not available.")
        return
    order = _stage_order()
    seen = [str(x) for x in s["lifecycle_stage"].dropna().unique() if str(x) not in order]
    counts = (
        s["lifecycle_stage"].astype(str).value_counts().reindex(order + sorted(seen)).fillna(0).astype(int)
    )
    fig, sentence = charts.lifecycle_bars(counts)
    doc.chart(fig, sentence)
    tr = d.diagnostics.get("transitions")
    if tr:
        m = pd.DataFrame(tr["matrix"], index=tr["stages"], columns=tr["stages"])
        share = m.div(m.sum(axis=1).replace(0, np.nan), axis=0)
        fig = charts.heatmap(
            share * 100,
            f"Stage movement {tr.get('from', '')} → {tr.get('to', '')} (% of row)",
            "to stage",
            "from stage",
            fmt=".0f",
            colorscale="Oranges",
        )
        slip = (
            share.loc["maturity", "decline"] if {"maturity", "decline"} <= set(share.index) else float("nan")
        )
        doc.chart(
            fig,
            f"{fmt_share(slip)} of mature customers slipped into decline since the previous scoring."
            if slip == slip
            else "Movement between stages since the previous scoring.",
        )


def _clv_model(doc: _Doc, d: ReportData) -> None:
    doc.section("CLV model diagnostics", "clv")
    btyd = d.diagnostics.get("btyd", {})
    if not btyd:
        doc.p("No model diagnostics recorded.")
        return
    doc.p(f"Chosen model: {btyd.get('chosen', '?')}. {btyd.get('why', '')}", "means")
    if btyd.get("spend_model"):
        doc.p(f"Spend model: {btyd['spend_model']}.", "means")
    _clv_note(doc, d)
    if btyd.get("comparison"):
        doc.table(pd.DataFrame(btyd["comparison"]))
    if btyd.get("params"):
        doc.table(pd.DataFrame([btyd["params"]]), floatfmt="{:.4g}")
    if btyd.get("tracking"):
        unit = (d.diagnostics.get("data_range") or {}).get("unit")
        fig, sentence = charts.tracking_plot(btyd["tracking"], btyd.get("split_period"), unit)
        doc.chart(fig, sentence)
    if btyd.get("conditional"):
        fig, sentence = charts.conditional_expectations(btyd["conditional"])
        doc.chart(fig, sentence)


#: Churn metrics shown as key figures, with their labels.
CHURN_KPIS = {
    "auc": "AUC of the classifier (held out)",
    "baseline_auc": "AUC of recency alone",
    "top_decile_lift": "churn lift in the riskiest 10%",
    "precision_at_budget": "precision of the alerts",
}


def _churn(doc: _Doc, d: ReportData) -> None:
    doc.section("Churn early warning", "churn")
    ch = d.diagnostics.get("churn", {})
    if not ch:
        doc.p("No churn evaluation recorded.")
        return
    if ch.get("definition"):
        doc.p(f"Churn horizon: {ch['definition']}.", "means")
    if ch.get("fallback"):
        doc.p(f"Fallback — {ch['fallback']}.", "means")
        return
    champion = (d.diagnostics.get("champions") or {}).get("churn")
    kp = [
        (label, fmt_share(ch[k]) if k == "precision_at_budget" else fmt_number(ch[k]))
        for k, label in CHURN_KPIS.items()
        if ch.get(k) is not None
    ]
    doc.kpis(kp)
    said = sentences.churn_sentences(ch, champion)
    if ch.get("calibration"):
        fig = charts.calibration_plot(ch["calibration"]["pred"], ch["calibration"]["obs"])
        doc.chart(fig, " ".join(said[1:]) or "Predicted churn probability against the observed rate.")
    else:
        doc.p(" ".join(said[1:]), "means")


#: Social-value components of the scores, in the order the report shows them.
SOCIAL_COMPONENTS = (
    "clv",
    "referral_value",
    "influence_value",
    "interaction_value",
    "content_value",
    "advocacy_value",
)
#: How many influencers the ranked table names.
TOP_INFLUENCERS = 10


def _social(doc: _Doc, d: ReportData) -> None:
    s = d.scores
    doc.section("Social value", "social")
    comps = [c for c in SOCIAL_COMPONENTS if c in s.columns]
    if "csv" not in s.columns or not comps:
        doc.p("Social value is not available.")
        return
    has_social = sentences.has_social_value(s)
    totals = s[comps].clip(lower=0).sum()
    fig = charts.bar(
        [human_label(c) for c in totals.index],
        totals.to_numpy(),
        "Where customer social value comes from",
        d.currency,
    )
    doc.chart(fig, sentences.social_share_sentence(totals, s))
    _clv_note(doc, d)
    if has_social:
        # the same parts as the notebook's plot_value_decomposition: they add up to each customer's CSV
        top = plot.value_components(s.nlargest(15, "csv"))
        top = top.loc[:, (top != 0).any()]
        first = top.iloc[0]
        own = float(first.get("clv", 0.0)) + float(first.get("own_activity_value", 0.0))
        through = 1 - own / first.sum() if first.sum() > 0 else 0.0
        doc.chart(
            charts.stacked_decomposition(
                human_columns(top), "Top 15 customers by social value: decomposition", d.currency
            ),
            f"The most valuable customer is worth {fmt_money(s['csv'].max(), d.currency)}, of which "
            f"{fmt_share(through)} through others.",
        )
    w = d.diagnostics.get("csv", {})
    if w.get("weights"):
        wt = (
            pd.DataFrame(w["weights"]).T
            if isinstance(next(iter(w["weights"].values())), dict)
            else pd.DataFrame({"weight": w["weights"]})
        )
        if "published" in wt.columns:
            wt["published"] = [
                "withheld" if v is None or pd.isna(v) else f"{float(v):.3g}" for v in wt["published"]
            ]
        wt.index = [human_label(c) for c in wt.index]
        doc.table(wt.reset_index().rename(columns={"index": "component"}), floatfmt="{:.3g}")
        said = sentences.weight_sentences(w, d.currency, _holdout_words(d))
        if said:
            doc.raw("<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in said) + "</ul>")
    for msg in w.get("messages", []):
        doc.p(msg, "note")
    if w.get("metrics"):
        doc.table(
            pd.DataFrame(w["metrics"]).reset_index().rename(columns={"index": "metric"}), floatfmt="{:.3f}"
        )
    _influencers(doc, d, has_social)


def _influencers(doc: _Doc, d: ReportData, has_social: bool) -> None:
    """The network without labels, and the top influencers named in a ranked table (scored customers only)."""
    s = d.scores
    if not has_social:
        doc.p(f"Influencers: {sentences.influencer_phrase(s)}.", "means")
        return
    net = d.diagnostics.get("network")
    scored = set(s["customer_id"].astype(str))
    reach = pd.Series(dtype=float)
    if net and net.get("nodes"):
        nodes = pd.DataFrame(net["nodes"])
        nodes["label"] = [lab if str(lab) in scored else "" for lab in nodes["label"].astype(str)]
        edges = np.asarray(net.get("edges", []), dtype=np.int64).reshape(-1, 2)
        fig = charts.network(nodes, edges, d.currency)
        n_top = int(nodes["top"].sum())
        doc.chart(
            fig,
            f"The {fmt_count(n_top)} customers outlined in red are linked directly to "
            f"{fmt_count(len(nodes) - n_top)} others shown; larger dots have more social value. "
            "Names show on hover; the table below ranks them.",
        )
        if len(edges):
            reach = pd.Series(
                np.bincount(edges[:, 0], minlength=len(nodes)), index=nodes["label"].astype(str)
            )
    ranked = s.assign(customer_id=s["customer_id"].astype(str))
    if "influencer" in ranked.columns and ranked["influencer"].fillna(False).astype(bool).any():
        ranked = ranked[ranked["influencer"].fillna(False).astype(bool)]
    ranked = ranked.nlargest(TOP_INFLUENCERS, "csv")
    cols = {"customer_id": "customer_id", "csv": "csv"}
    if "social_value" in ranked.columns:
        cols["social_value"] = "value through others"
    if "followers_graph" in ranked.columns:
        cols["followers_graph"] = "direct reach (followers)"
    elif len(reach):
        ranked = ranked.assign(_reach=ranked["customer_id"].map(reach.groupby(level=0).max()).fillna(0))
        cols["_reach"] = "direct reach (links shown)"
    if "reach_2hop" in ranked.columns:
        cols["reach_2hop"] = "reach within two steps"
    if "spread" in ranked.columns:
        cols["spread"] = "expected spread (people)"
    table = ranked[list(cols)].rename(columns=cols)
    contributors = d.diagnostics.get("influence_contributors") or {}
    if contributors:
        # whose purchases the influence value credits: the few largest, with their share of it
        table["largest contributors"] = [
            ", ".join(
                f"{c['customer_id']} ({c['share']:.0%})"
                for c in contributors.get(str(cid), [])
                if c["customer_id"] in scored
            )
            or "-"
            for cid in ranked["customer_id"].astype(str)
        ]
    table.insert(0, "rank", range(1, len(table) + 1))
    doc.p(f"Top {fmt_count(len(table))} influencers by customer social value:", "note")
    doc.table(
        _formatted(
            table,
            d.currency,
            money_cols=("csv", "value through others"),
            count_cols=(
                "direct reach (followers)",
                "direct reach (links shown)",
                "reach within two steps",
                "expected spread (people)",
            ),
        )
    )


def _tier_order(d: ReportData) -> list[str]:
    """Tier names best first: the run's ``tier_order`` when recorded, else the tier configuration's."""
    recorded = d.diagnostics.get("tier_order")
    if recorded:
        return [str(t) for t in recorded]
    from socialvalue.models.tiers import load_tier_config

    return load_tier_config().names


def _clusters_tiers(doc: _Doc, d: ReportData) -> None:
    s = d.scores
    doc.section("Clusters and tiers", "clusters")
    cl = d.diagnostics.get("clusters", {})
    if cl.get("profile"):
        doc.p(
            f"{cl.get('k', '?')} behavioural clusters ({cl.get('criterion', 'silhouette')} "
            f"{fmt_number(cl.get('score', float('nan')))}).",
            "note",
        )
        doc.table(pd.DataFrame(cl["profile"]))
    if "tier" in s.columns:
        basis = "past revenue" if "total_spend" in s.columns else "predicted CLV"
        rev = s["total_spend"] if "total_spend" in s.columns else s.get("clv", pd.Series(0.0, index=s.index))
        t = (
            s.assign(_rev=rev.astype(float), tier=s["tier"].astype(str))
            .groupby("tier", observed=True)
            .agg(customers=("customer_id", "size"), revenue=("_rev", "sum"))
        )
        t["share"] = t["revenue"] / max(t["revenue"].sum(), 1e-12)
        order = _tier_order(d)
        t = t.reindex([x for x in order if x in t.index] + sorted(x for x in t.index if x not in order))
        fig = charts.bar(list(t.index), (t["share"] * 100).to_numpy(), f"Share of {basis} by value tier", "%")
        fig.update_xaxes(categoryorder="array", categoryarray=list(t.index))
        best = t.index[0]
        doc.chart(
            fig,
            f"The best tier, '{best}' ({fmt_share(t.loc[best, 'customers'] / len(s))} of customers), brings "
            f"{fmt_share(t.loc[best, 'share'])} of {basis}.",
        )
        if basis == "predicted CLV":
            _clv_note(doc, d)
    if "value_coefficient" in s.columns:
        hist, edges = np.histogram(s["value_coefficient"].dropna(), bins=20)
        fig = charts.bar(
            [f"{a:.0f}–{b:.0f}" for a, b in itertools.pairwise(edges)],
            hist,
            "User value coefficient distribution",
            "customers",
        )
        med = float(s["value_coefficient"].median())
        doc.chart(fig, f"Half the customers score below {med:.0f} on the 0–100 value coefficient.")


def _actions(doc: _Doc, d: ReportData) -> None:
    doc.section("Action plan", "actions")
    a = d.actions
    if a is None or a.empty:
        doc.p("No actions were planned.")
        return
    plan = a.groupby("label").agg(
        customers=("customer_id", "size"),
        cost=("cost", "sum"),
        expected_value=("expected_value", "sum"),
        net_value=("net_value", "sum"),
    )
    plan = plan.sort_values("net_value", ascending=False)
    fig, sentence = charts.action_plan(plan, d.currency)
    doc.chart(fig, sentence)
    money_cols = ("cost", "expected_value", "net_value")
    doc.table(_formatted(plan.reset_index(), d.currency, money_cols=money_cols, count_cols=("customers",)))
    notes = []
    if _clv_horizon(d):
        notes.append(f"expected values build on CLV over {_clv_horizon(d)}")
    if _churn_definition(d):
        notes.append(f"churn risk is the probability of {_churn_definition(d)}")
    if notes:
        doc.p("; ".join(notes)[:1].upper() + "; ".join(notes)[1:] + ".", "note")
    ex = a[a["cost"] > 0].nlargest(5, "net_value")[["customer_id", "label", "net_value", "reason"]]
    if len(ex):
        doc.p("Examples of decisions with their reasons:", "note")
        doc.table(_formatted(ex, d.currency, money_cols=("net_value",)))
    up = d.diagnostics.get("uplift")
    if up:
        doc.p(
            f"Uplift estimated from past campaigns ({up.get('source', 'campaign data')}): treated minus control "
            "outcome per segment, with 95% intervals; effects whose interval includes 0 are not acted upon.",
            "note",
        )
        cols = ["action", "segment", "n_treated", "n_control", "uplift", "lower", "upper"]
        doc.table(
            _formatted(
                pd.DataFrame(up["estimates"]).reindex(columns=cols),
                d.currency,
                count_cols=("n_treated", "n_control"),
            )
        )
        if up.get("qini"):
            fig, sentence = charts.qini(up["qini"])
            doc.chart(fig, sentence)
    doc.p(_effects_source(d.diagnostics), "note")


def _effects_source(diagnostics: dict) -> str:
    """Where the action plan's effects came from: campaign data, this store's control groups, or the playbook."""
    measured = sorted((diagnostics.get("experiments") or {}).get("replaced") or [])
    campaign = bool(diagnostics.get("uplift_estimated"))
    if measured:
        names = ", ".join(a.replace("_", " ") for a in measured)
        rest = "campaign data" if campaign else "assumptions from the playbook"
        return (
            f"Effects of {names} were measured on this store's own control groups (see 'Did the actions pay?'); "
            f"the other actions' effects are {rest}."
        )
    if campaign:
        return "Effects are estimated from the campaign data with treatment and control supplied."
    return "Effects are assumptions from the playbook (no campaign data with treatment and control was supplied)."


SECTIONS = (
    _goals,
    _how,
    _champions,
    _quality,
    _value,
    _rfm,
    _lifecycle,
    channels_section,
    cohorts_section,
    _clv_model,
    _churn,
    _social,
    shares_section,
    _clusters_tiers,
    _actions,
    action_results.section,
)


def render_report(data: ReportData, title: str = "Customer value report") -> str:
    """Render the whole report as one HTML string."""
    doc = _Doc()
    for build in SECTIONS:
        build(doc, data)
    body = doc.close()
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<style>{_CSS}</style></head><body><header><h1>{html.escape(title)}</h1>"
        f"<div>As of {html.escape(data.as_of)} · {len(data.scores):,} customers · generated {generated}"
        f"{' · run ' + html.escape(str(data.run.get('run_id'))) if data.run.get('run_id') else ''}</div></header>"
        f"<main>{body}</main></body></html>"
    )


def write_report(data: ReportData, out: str | Path, title: str = "Customer value report") -> Path:
    """Write the report to ``out`` atomically (a temporary file renamed when complete) and return its path.

    A crash or a failed render leaves the previous report, if any, as it was: never a truncated file.
    """
    from socialvalue.atomic import atomic_write_text

    out = Path(out)
    atomic_write_text(out, render_report(data, title))
    logger.info("report written to %s (%.1f MB)", out, out.stat().st_size / 1e6)
    return out
