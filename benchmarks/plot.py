"""Benchmark: the numbers behind ``socialvalue.plot``'s charts at scale, versus lifetimes 0.11.3 where it has them.

The CDNOW 1/10 sample (Fader, Hardie & Lee 2005) is replicated ``--copies`` times with distinct customer ids
(default 100: 235,700 customers, 691,900 orders over 78 weeks), so every copy is the real purchase pattern.
One BG/NBD is fitted on the papers' 39-week summary (weeks); then, on the replicated data:

1. ``period_transactions`` (exact expected customers per repeat count, all customers) and its figure;
2. ``probability_alive_matrix`` and ``frequency_recency_matrix`` (30 x 39 grid, the CDNOW maxima);
3. ``calibration_vs_holdout`` on the replicated 39 + 39 week split;
4. ``transaction_tracking`` (546 days counted once a day, weeks as the unit) against lifetimes'
   ``expected_cumulative_transactions`` with our parameters, numbers compared;
5. ``plot_value_concentration`` and ``plot_clv_distribution`` on 1 million values; rendering to HTML.

Usage::

    .venv/bin/python benchmarks/plot.py [--copies K] [--small]

``--small`` uses 10 copies. Wall seconds, median of ``--repeats`` runs (default 3).
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
import pandas as pd

from socialvalue import plot
from socialvalue.datasets import cdnow
from socialvalue.models.btyd import BetaGeo

CAL_END, HOLD_END = pd.Timestamp("1997-09-30"), pd.Timestamp("1998-06-30")


def _median(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _replicate(log: pd.DataFrame, copies: int) -> pd.DataFrame:
    reps = np.repeat(np.arange(copies), len(log))
    out = pd.concat([log] * copies, ignore_index=True)
    out["customer_id"] = out["customer_id"].to_numpy(dtype=object) + "-" + reps.astype(str)
    return out


def _split(log: pd.DataFrame) -> pd.DataFrame:
    days = log[["customer_id", "date"]].drop_duplicates()
    first = days.groupby("customer_id")["date"].min()
    cal = days[days["date"] <= CAL_END].groupby("customer_id")["date"]
    hold = days[(days["date"] > CAL_END) & (days["date"] <= HOLD_END)]
    frame = pd.DataFrame(
        {
            "frequency": cal.size() - 1,
            "recency": (cal.max() - first).dt.days / 7,
            "T": (CAL_END - first).dt.days / 7,
        }
    )
    frame["holdout_transactions"] = hold.groupby("customer_id").size().reindex(frame.index, fill_value=0)
    frame["holdout_duration"] = (HOLD_END - CAL_END).days / 7
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=100)
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    copies = 10 if args.small else args.copies

    model = BetaGeo().fit(cdnow.load_summary())
    log = _replicate(cdnow.read_log(), copies)
    split = _split(log)
    print(f"CDNOW x {copies}: {split.shape[0]:,} customers, {len(log):,} orders; BG/NBD {model.params_}")

    rows = []
    sec, table = _median(lambda: plot.period_transactions(model, split), args.repeats)
    rows.append(("period_transactions (exact)", sec, f"model total {table['model'].sum():,.6f}"))
    sec, _ = _median(lambda: plot.probability_alive_matrix(model, 29, 38), args.repeats)
    rows.append(("probability_alive_matrix 30 x 39", sec, ""))
    sec, _ = _median(lambda: plot.frequency_recency_matrix(model, 1, 29, 38), args.repeats)
    rows.append(("frequency_recency_matrix 30 x 39", sec, ""))
    sec, _ = _median(lambda: plot.calibration_vs_holdout(model, split), args.repeats)
    rows.append(("calibration_vs_holdout", sec, ""))
    sec, ours = _median(
        lambda: plot.transaction_tracking(
            model, log, "date", "customer_id", 546, freq="D", freq_multiplier=7
        ),
        args.repeats,
    )
    rows.append(("transaction_tracking 546 days", sec, ""))

    import lifetimes
    from lifetimes.utils import expected_cumulative_transactions

    ref = lifetimes.BetaGeoFitter()
    ref.params_ = pd.Series(model.params_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifetimes' own deprecation warnings
        t0 = time.perf_counter()
        theirs = expected_cumulative_transactions(
            ref, log, "date", "customer_id", 546, freq="D", freq_multiplier=7
        )
        lt = time.perf_counter() - t0
    same_actual = np.array_equal(ours["actual"].to_numpy(), theirs["actual"].to_numpy())
    rel = float(np.max(np.abs(ours["model"].to_numpy() / theirs["predicted"].to_numpy() - 1)))
    rows.append(
        (
            "lifetimes expected_cumulative_transactions",
            lt,
            f"actual equal: {same_actual}, model rel {rel:.1e}",
        )
    )

    values = np.random.default_rng(0).lognormal(3.0, 1.5, 1_000_000)
    sec, fig = _median(lambda: plot.plot_value_concentration(values), args.repeats)
    rows.append(("plot_value_concentration 1M values", sec, ""))
    sec, _ = _median(lambda: plot.plot_clv_distribution(values), args.repeats)
    rows.append(("plot_clv_distribution 1M values", sec, ""))
    sec, html = _median(lambda: fig.to_html(include_plotlyjs=False), args.repeats)
    rows.append(("to_html (concentration figure)", sec, f"{len(html) / 1024:.0f} KiB"))

    width = max(len(r[0]) for r in rows)
    for name, seconds, note in rows:
        print(f"{name:<{width}}  {seconds:8.3f} s  {note}")
    print(f"tracking speed-up over lifetimes: {lt / rows[4][1]:.0f}x")


if __name__ == "__main__":
    main()
