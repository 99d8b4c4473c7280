"""Channel analysis: which acquisition channel brings customers who buy, stay, bring others and pay back.

For each acquisition channel (``customers.acquisition_channel``; ``"unknown"`` when missing or blank),
:func:`channel_report` gives, as of an explicit date:

* **customers** acquired before ``as_of`` (profiled, non-stub customers; acquired at sign-up, or at the first
  purchase without a sign-up time);
* **conversion**: the share with a first purchase (a completed order with a positive amount) before
  ``as_of``, with a Wilson interval;
* **repeat rate within 90 days**: among buyers whose first purchase day is at least 90 days before ``as_of``
  (only they have had the whole window, so only they are in the denominator), the share with another purchase
  day within 90 days of the first, with a Wilson interval;
* **median days to the second purchase**: the Kaplan–Meier median over buyers, a buyer without a second
  purchase day censored at ``as_of`` (so recent buyers count for as long as they were seen); NaN when fewer
  than half are known to have bought again;
* **mean CLV and mean social value** (``clv``, ``csv`` of a scores frame passed in) with Student-t intervals;
* **share who referred someone** (a ``referred`` relationship they are the source of), with a Wilson interval;
* **value per customer acquired**: the channel's summed social value (``csv``, which includes the CLV; a
  customer without one counts its ``clv``, a customer without either 0) over its customers acquired;
* with a channel-costs table (:func:`read_channel_costs`): **cost per acquisition** and **value per unit
  cost** (when the costs are in the orders' currency; amounts are never converted).

Channels are compared by tests that account for group sizes: the pooled two-proportion z-test for the rates,
Welch's t-test for the means, each metric's family of tests adjusted with Holm's step-down correction (see
:mod:`socialvalue.insight._stats`). ``comparison="pairwise"`` tests every pair of channels,
``"vs_rest"`` each channel against all the others pooled. A channel with few customers gets wide intervals and
NaN tests, never an error.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from socialvalue.errors import ConfigError, SchemaError
from socialvalue.features import insight as q
from socialvalue.insight import _stats
from socialvalue.insight._common import (
    as_of_timestamp,
    engine_of,
    fmt_money,
    fmt_p,
    fmt_pct,
    frame_of,
    orders_currency,
    require_columns,
)

__all__ = ["ChannelReport", "channel_report", "read_channel_costs"]

Comparison = Literal["pairwise", "vs_rest"]

#: The rates compared with the two-proportion z-test: metric -> (successes, trials) columns of the table.
RATES: dict[str, tuple[str, str]] = {
    "conversion": ("buyers", "customers"),
    "repeat_rate": ("repeaters", "repeat_eligible"),
    "referrer_share": ("referrers", "customers"),
}
#: The means compared with Welch's t-test: metric -> score column.
MEANS: dict[str, str] = {"mean_clv": "clv", "mean_csv": "csv"}


@dataclass(frozen=True)
class ChannelReport:
    """The channel analysis at one date.

    Attributes
    ----------
    table
        One row per channel (sorted by customers, most first): ``channel``, ``customers``, ``buyers``,
        ``conversion`` (+ ``conversion_lower``/``_upper``), ``repeat_eligible``, ``repeaters``,
        ``repeat_rate`` (+ bounds), ``median_days_to_second``, ``second_purchases``, ``referrers``,
        ``referrer_share`` (+ bounds), ``scored``, ``mean_clv`` (+ bounds), ``mean_csv`` (+ bounds),
        ``value``, ``value_per_customer``; with costs also ``cost``, ``cost_currency``,
        ``cost_per_acquisition`` and ``value_per_cost``.
    tests
        One row per test: ``metric``, ``channel``, ``other`` (a channel, or ``"rest"``), ``estimate``,
        ``other_estimate``, ``test`` (``"two-proportion z"`` or ``"Welch t"``), ``statistic``, ``p_value``
        and ``p_holm`` (Holm-adjusted within the metric).
    as_of
        The date of the analysis (naive UTC).
    currency
        Currency of CLV, social value and value (the orders').
    horizon
        The CLV horizon of the scores, as given.
    repeat_window_days
        The repeat-purchase window.
    level
        Level of every interval.
    comparison
        ``"pairwise"`` or ``"vs_rest"``.
    meaning
        One line saying what the numbers mean, computed from them.
    notes
        Caveats about the data (mixed currencies, costs in another currency, channels without costs).
    """

    table: pd.DataFrame
    tests: pd.DataFrame
    as_of: pd.Timestamp
    currency: str
    horizon: str
    repeat_window_days: int
    level: float
    comparison: str
    meaning: str
    notes: tuple[str, ...] = ()


# -- costs -------------------------------------------------------------------------------------------------
def read_channel_costs(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Read and check a channel-costs table (CSV file or frame) with columns ``channel, cost, currency``.

    ``cost`` is what the channel cost over the period whose customers the report counts, a number >= 0;
    ``currency`` an ISO-4217 code (case ignored). Every problem is reported at once.

    Returns
    -------
    pandas.DataFrame
        ``channel`` (trimmed), ``cost`` (float) and ``currency`` (upper case), one row per channel.

    Raises
    ------
    SchemaError
        If the file cannot be read, a column is missing, or rows break a rule (listed with their row numbers,
        counting the first data row as 1).
    """
    label = "<pandas.DataFrame>" if isinstance(source, pd.DataFrame) else Path(source).name
    if isinstance(source, pd.DataFrame):
        raw = source.copy()
    else:
        try:
            raw = pd.read_csv(source, dtype=str, keep_default_na=False)
        except (OSError, ValueError) as exc:
            raise SchemaError(f"{label}: cannot read the channel costs: {exc}") from None
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    require_columns(raw, ["channel", "cost", "currency"], f"channel costs {label}")
    problems: list[dict[str, Any]] = []

    def problem(row: int, column: str, value: Any, expected: str) -> None:
        problems.append({"source": label, "row": row, "column": column, "value": value, "expected": expected})

    channel = raw["channel"].astype("string").str.strip()
    cost = pd.to_numeric(raw["cost"], errors="coerce").astype(np.float64)
    currency = raw["currency"].astype("string").str.strip().str.upper()
    seen: dict[str, int] = {}
    for i in range(len(raw)):
        row = i + 1
        ch, c, cur = channel.iloc[i], cost.iloc[i], currency.iloc[i]
        if pd.isna(ch) or ch == "":
            problem(row, "channel", raw["channel"].iloc[i], "a channel name")
        elif ch in seen:
            problem(row, "channel", ch, f"one row per channel (row {seen[ch]} names it too)")
        else:
            seen[ch] = row
        if not (math.isfinite(c) and c >= 0):
            problem(row, "cost", raw["cost"].iloc[i], "a number >= 0")
        if pd.isna(cur) or len(cur) != 3 or not cur.isascii() or not cur.isalpha():
            problem(row, "currency", raw["currency"].iloc[i], "a three-letter ISO-4217 code such as EUR")
    if problems:
        lines = [
            f"  row {d['row']}, column {d['column']!r}: got {d['value']!r}; expected {d['expected']}"
            for d in problems[:20]
        ]
        more = [f"  ... and {len(problems) - 20} more"] if len(problems) > 20 else []
        head = f"{label}: {len(problems)} problem{'s' if len(problems) != 1 else ''} in the channel costs:"
        raise SchemaError("\n".join([head, *lines, *more]), problems)
    return pd.DataFrame({"channel": channel.astype(str), "cost": cost, "currency": currency.astype(str)})


# -- the analysis ------------------------------------------------------------------------------------------
def _customers(frame: pd.DataFrame, as_of: pd.Timestamp, window_days: int) -> pd.DataFrame:
    """Per-customer flags and durations from :func:`~socialvalue.features.insight.channel_customers_query`."""
    day = pd.Timedelta(days=1)
    first = frame["first_purchase_at"]
    second = frame["second_purchase_at"]
    buyer = first.notna()
    gap = (second - first) / day
    eligible = buyer & (first + pd.Timedelta(days=window_days) <= as_of)
    out = pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype(str),
            "channel": frame["channel"].astype(str),
            "buyer": buyer,
            "eligible": eligible,
            "repeater": eligible & (gap <= window_days).fillna(False).astype(bool),
            "has_second": second.notna(),
            # days to the second purchase day, or censored at as_of
            "duration": np.where(second.notna(), gap, (as_of - first) / day),
            "referrer": frame["referred_someone"].astype(bool),
        }
    )
    return out


def _scores(scores: pd.DataFrame | None) -> pd.DataFrame | None:
    if scores is None:
        return None
    require_columns(scores, ["customer_id", "clv", "csv"], "scores")
    out = scores[["customer_id", "clv", "csv"]].copy()
    out["customer_id"] = out["customer_id"].astype(str)
    for c in ("clv", "csv"):
        out[c] = pd.to_numeric(out[c], errors="coerce").astype(np.float64)
    if out["customer_id"].duplicated().any():
        raise SchemaError("scores has more than one row for a customer; pass one as_of's scores")
    return out


def _table(cust: pd.DataFrame, level: float, has_scores: bool) -> pd.DataFrame:
    rows = []
    for channel, g in cust.groupby("channel", sort=False):
        row: dict[str, Any] = {
            "channel": channel,
            "customers": len(g),
            "buyers": int(g["buyer"].sum()),
            "repeat_eligible": int(g["eligible"].sum()),
            "repeaters": int(g["repeater"].sum()),
            "second_purchases": int(g["has_second"].sum()),
            "referrers": int(g["referrer"].sum()),
        }
        b = g[g["buyer"]]
        row["median_days_to_second"] = _stats.km_median(b["duration"], b["has_second"])
        if has_scores:
            for metric, col in MEANS.items():
                mean, lo, hi = _stats.mean_interval(g[col], level)
                row[metric], row[f"{metric}_lower"], row[f"{metric}_upper"] = mean, lo, hi
            row["scored"] = int(np.isfinite(g["clv"]).sum())
            row["value"] = float(g["value"].sum())
        rows.append(row)
    base = ["channel", "customers", "buyers", "repeat_eligible", "repeaters", "second_purchases", "referrers"]
    base.append("median_days_to_second")
    if has_scores:
        base += [f"{m}{s}" for m in MEANS for s in ("", "_lower", "_upper")] + ["scored", "value"]
    table = pd.DataFrame(rows, columns=base)
    for metric, (k, n) in RATES.items():
        table[metric] = np.where(table[n] > 0, table[k] / table[n].where(table[n] > 0, 1), np.nan)
        table[f"{metric}_lower"], table[f"{metric}_upper"] = _stats.wilson_interval(table[k], table[n], level)
    if has_scores:
        table["value_per_customer"] = table["value"] / table["customers"]
    table = table.sort_values(["customers", "channel"], ascending=[False, True], ignore_index=True)
    order = [
        "channel",
        "customers",
        "buyers",
        "conversion",
        "conversion_lower",
        "conversion_upper",
        "repeat_eligible",
        "repeaters",
        "repeat_rate",
        "repeat_rate_lower",
        "repeat_rate_upper",
        "median_days_to_second",
        "second_purchases",
        "referrers",
        "referrer_share",
        "referrer_share_lower",
        "referrer_share_upper",
    ]
    if has_scores:
        order += [
            "scored",
            "mean_clv",
            "mean_clv_lower",
            "mean_clv_upper",
            "mean_csv",
            "mean_csv_lower",
            "mean_csv_upper",
            "value",
            "value_per_customer",
        ]
    return table[order]


def _pairs(channels: Sequence[str], comparison: str) -> list[tuple[str, str]]:
    if comparison == "pairwise":
        return list(itertools.combinations(channels, 2))
    return [(c, "rest") for c in channels]


def _tests(cust: pd.DataFrame, table: pd.DataFrame, comparison: str, has_scores: bool) -> pd.DataFrame:
    channels = list(table["channel"])
    pairs = _pairs(channels, comparison)
    by = table.set_index("channel")
    totals = table[list(dict.fromkeys(c for pair in RATES.values() for c in pair))].sum()
    rows = []
    for metric, (k, n) in RATES.items():
        family = []
        for a, b in pairs:
            k1, n1 = int(by.at[a, k]), int(by.at[a, n])
            if b == "rest":
                k2, n2 = int(totals[k]) - k1, int(totals[n]) - n1
            else:
                k2, n2 = int(by.at[b, k]), int(by.at[b, n])
            z, p = _stats.two_proportion_test(k1, n1, k2, n2)
            est1 = k1 / n1 if n1 else math.nan
            est2 = k2 / n2 if n2 else math.nan
            family.append([metric, a, b, est1, est2, "two-proportion z", z, p])
        rows += _holm(family)
    if has_scores:
        groups = {c: g for c, g in cust.groupby("channel", sort=False)}
        for metric, col in MEANS.items():
            family = []
            for a, b in pairs:
                x = groups[a][col].to_numpy() if a in groups else np.array([])
                if b == "rest":
                    y = cust.loc[cust["channel"] != a, col].to_numpy()
                else:
                    y = groups[b][col].to_numpy() if b in groups else np.array([])
                t, p = _stats.welch_test(x, y)
                fx, fy = x[np.isfinite(x)], y[np.isfinite(y)]
                est1 = float(fx.mean()) if fx.size else math.nan
                est2 = float(fy.mean()) if fy.size else math.nan
                family.append([metric, a, b, est1, est2, "Welch t", t, p])
            rows += _holm(family)
    columns = ["metric", "channel", "other", "estimate", "other_estimate", "test", "statistic", "p_value"]
    out = pd.DataFrame(rows, columns=[*columns, "p_holm"])
    return out


def _holm(family: list[list[Any]]) -> list[list[Any]]:
    adjusted = _stats.holm([r[-1] for r in family]) if family else []
    return [[*r, float(p)] for r, p in zip(family, adjusted, strict=True)]


def _with_costs(
    table: pd.DataFrame, costs: pd.DataFrame, currency: str, has_scores: bool
) -> tuple[pd.DataFrame, list[str]]:
    notes = []
    costs = costs.set_index("channel")
    missing = sorted(set(costs.index) - set(table["channel"]))
    if missing:  # paid for, no customer acquired: a row of zeros
        extra = pd.DataFrame({"channel": missing, "customers": 0})
        table = pd.concat([table, extra], ignore_index=True)
        for col in ("buyers", "repeat_eligible", "repeaters", "second_purchases", "referrers"):
            table[col] = table[col].fillna(0).astype(np.int64)
        for metric in RATES:
            lo = table[f"{metric}_lower"].isna()
            table.loc[lo, f"{metric}_lower"], table.loc[lo, f"{metric}_upper"] = 0.0, 1.0
        if has_scores:
            table["scored"] = table["scored"].fillna(0).astype(np.int64)
            table["value"] = table["value"].fillna(0.0)
        notes.append(f"channels with costs but no customer acquired: {', '.join(missing)}")
    uncosted = sorted(set(table["channel"]) - set(costs.index))
    if uncosted:
        notes.append(f"channels without a cost: {', '.join(uncosted)}")
    table["cost"] = table["channel"].map(costs["cost"]).astype(np.float64)
    table["cost_currency"] = table["channel"].map(costs["currency"])
    with np.errstate(divide="ignore", invalid="ignore"):
        table["cost_per_acquisition"] = np.where(
            table["customers"] > 0,
            table["cost"] / table["customers"],
            np.where(table["cost"] > 0, np.inf, np.nan),
        )
    if has_scores:
        same = table["cost_currency"] == currency
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(table["cost"] > 0, table["value"] / table["cost"], np.nan)
        table["value_per_cost"] = np.where(same.fillna(False).to_numpy(dtype=bool), ratio, np.nan)
        other = sorted(set(table.loc[~same.fillna(True).astype(bool), "cost_currency"].dropna()))
        if other:
            notes.append(
                f"costs in {', '.join(other)} are not compared with values in {currency} (no conversion): "
                "their value per unit cost is left empty"
            )
    return table, notes


def _meaning(
    table: pd.DataFrame,
    tests: pd.DataFrame,
    *,
    comparison: str,
    window: int,
    currency: str,
    horizon: str,
    min_group: int,
    has_scores: bool,
) -> str:
    real = table[table["customers"] > 0]
    if real.empty:
        return "No customer was acquired before the analysis date: nothing to compare."
    if len(real) == 1:
        first = f"All {int(real['customers'].iloc[0]):,} customers came through one channel ({real['channel'].iloc[0]})"
        parts = [first + ": no comparison between channels"]
    else:
        ok = real[real["repeat_eligible"] >= min_group]
        if len(ok) < 2:
            parts = [
                f"Too few customers whose first purchase is {window} days old (fewer than {min_group} in all "
                "but one channel) to compare repeat rates"
            ]
        else:
            ranked = ok.sort_values(["repeat_rate", "repeat_eligible"], ascending=[False, False])
            top, low = ranked.iloc[0], ranked.iloc[-1]
            if comparison == "pairwise":
                pick = tests[
                    (tests["metric"] == "repeat_rate")
                    & (
                        ((tests["channel"] == top["channel"]) & (tests["other"] == low["channel"]))
                        | ((tests["channel"] == low["channel"]) & (tests["other"] == top["channel"]))
                    )
                ]
                versus, low_rate = str(low["channel"]), float(low["repeat_rate"])
            else:
                pick = tests[(tests["metric"] == "repeat_rate") & (tests["channel"] == top["channel"])]
                versus = "the other channels"
                low_rate = float(pick["other_estimate"].iloc[0]) if len(pick) else math.nan
            p = float(pick["p_holm"].iloc[0]) if len(pick) else math.nan
            rate = float(top["repeat_rate"])
            if low_rate > 0 and rate / low_rate >= 1.1:
                how = f"{rate / low_rate:.1f}× as often as"
            elif low_rate > 0:
                how = "about as often as"
            else:
                how = "more often than"
            verdict = "" if p < 0.05 else ": not a significant difference"
            parts = [
                f"{str(top['channel']).capitalize()} customers repeat within {window} days {how} {versus} "
                f"({fmt_pct(rate)} vs {fmt_pct(low_rate)}, {fmt_p(p)}{verdict})"
            ]
    if has_scores and real["value_per_customer"].notna().any():
        best = real.sort_values("value_per_customer", ascending=False).iloc[0]
        parts.append(
            f"{best['channel']} brings the most value per customer acquired "
            f"({fmt_money(float(best['value_per_customer']), currency)}, {horizon})"
        )
        if "value_per_cost" in real and real["value_per_cost"].notna().any():
            pay = real.sort_values("value_per_cost", ascending=False).iloc[0]
            parts.append(
                f"{pay['channel']} returns the most per unit cost "
                f"({float(pay['value_per_cost']):.1f} {currency} per {currency})"
            )
    return "; ".join(parts) + "."


def channel_report(
    source: Any,
    as_of: Any,
    scores: pd.DataFrame | None = None,
    *,
    costs: pd.DataFrame | str | Path | None = None,
    repeat_window_days: int = 90,
    level: float = 0.95,
    comparison: Comparison = "pairwise",
    horizon: str | None = None,
    currency: str | None = None,
    min_group: int = 20,
) -> ChannelReport:
    """Compare acquisition channels as of ``as_of`` (see the module docstring for every definition).

    Parameters
    ----------
    source
        A store, or an engine (DuckDB or Spark) that runs :mod:`socialvalue.features.insight` definitions.
    as_of
        The analysis date (explicit; everything strictly before it counts).
    scores
        Scores of one date: ``customer_id``, ``clv``, ``csv``. Without it, the value columns are left out.
    costs
        Channel costs (``channel, cost, currency``): a frame or CSV file read by :func:`read_channel_costs`.
    repeat_window_days
        The repeat-purchase window (days).
    level
        Level of the intervals.
    comparison
        ``"pairwise"`` (every pair of channels) or ``"vs_rest"`` (each channel against the others pooled).
    horizon
        The CLV horizon of ``scores``, as words for the meaning line (e.g. ``"CLV over 12 months"``).
    currency
        The currency of the scores' values; by default the orders'.
    min_group
        Fewest repeat-eligible customers a channel needs to be named in the meaning line.

    Returns
    -------
    ChannelReport

    Raises
    ------
    ConfigError
        For a bad ``as_of``, ``comparison``, ``level`` or window.
    SchemaError
        If ``scores`` or ``costs`` lack columns or break their rules.
    """
    if comparison not in ("pairwise", "vs_rest"):
        raise ConfigError(f"comparison must be 'pairwise' or 'vs_rest', not {comparison!r}")
    if not (isinstance(repeat_window_days, int) and repeat_window_days > 0):
        raise ConfigError(f"repeat_window_days must be a positive whole number, got {repeat_window_days!r}")
    _stats.wilson_interval(0, 1, level)  # checks the level
    engine = engine_of(source)
    ts = as_of_timestamp(as_of)
    notes: list[str] = []
    if currency is None:
        currency, mixed = orders_currency(engine, ts)
        notes += mixed
    cust = _customers(frame_of(engine, q.channel_customers_query(ts)), ts, repeat_window_days)
    sc = _scores(scores)
    has_scores = sc is not None
    if sc is not None:
        cust = cust.merge(sc, on="customer_id", how="left")
        cust["value"] = cust["csv"].fillna(cust["clv"]).fillna(0.0)
    table = _table(cust, level, has_scores)
    tests = _tests(cust, table, comparison, has_scores)
    if costs is not None:
        cost_frame = read_channel_costs(costs)
        table, cost_notes = _with_costs(table, cost_frame, currency, has_scores)
        notes += cost_notes
    text = horizon or "over the scores' CLV horizon"
    meaning = _meaning(
        table,
        tests,
        comparison=comparison,
        window=repeat_window_days,
        currency=currency,
        horizon=text,
        min_group=min_group,
        has_scores=has_scores,
    )
    return ChannelReport(
        table=table,
        tests=tests,
        as_of=ts,
        currency=currency,
        horizon=text,
        repeat_window_days=repeat_window_days,
        level=level,
        comparison=comparison,
        meaning=meaning,
        notes=tuple(notes),
    )
