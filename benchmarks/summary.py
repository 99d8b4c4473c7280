"""Benchmark ``sv.rfm_summary`` against lifetimes 0.11.3's ``summary_data_from_transaction_data``.

A synthetic log in pandas, as a lifetimes user has it: ``--customers`` customers (default 1,000,000) with
``--rows`` purchases in all (default 10,000,000), 1 + gamma-multinomial purchase counts (many one-time
buyers, a long tail), purchase times to the second over three years (same-day repeats happen), values from a
gamma distribution; customer ids as text (``"C0000042"``) or, with ``--int-ids``, integers.

Both functions get the same pandas frame and return the same frame (checked, every row to 1e-9) with and
without ``monetary_value``, at ``freq="D"``; ``calibration_and_holdout`` is timed too. Target: at least 30x
lifetimes on the 10M-row log.

Usage::

    .venv/bin/python benchmarks/summary.py                  # 10M rows, 1M customers
    .venv/bin/python benchmarks/summary.py --rows 1000000 --customers 100000
    .venv/bin/python benchmarks/summary.py --small          # 1M rows, 100k customers

Wall and CPU seconds (CPU: all threads of the process; the machine may be shared, so both are printed,
with the load average); ``socialvalue`` is the median of ``--repeats`` runs (default 3), lifetimes one run (it takes
seconds to minutes).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import numpy as np
import pandas as pd

import socialvalue as sv

TARGET = 30.0
START = np.datetime64("2021-01-01T00:00:00", "s")
SPAN_S = 3 * 365 * 86400


def synthetic_log(n_rows: int, n_customers: int, *, int_ids: bool, seed: int = 7) -> pd.DataFrame:
    """``customer_id, date, revenue`` rows in random order (vectorised, no loop over customers)."""
    rng = np.random.default_rng(seed)
    # 1 + gamma-multinomial repeat counts: many one-time buyers and a long tail, summing to n_rows exactly
    weights = rng.gamma(0.6, 1.0, n_customers)
    counts = 1 + rng.multinomial(max(n_rows - n_customers, 0), weights / weights.sum())
    idx = np.repeat(np.arange(n_customers), counts)
    birth = rng.integers(0, SPAN_S * 3 // 4, n_customers)
    offset = birth[idx] + (rng.random(n_rows) * (SPAN_S - birth[idx])).astype(np.int64)
    first = np.r_[0, np.cumsum(counts)[:-1]]
    offset[first] = birth  # every customer's first purchase is at its birth
    perm = rng.permutation(n_rows)
    ids = np.char.add("C", np.char.zfill(np.arange(n_customers).astype("U7"), 7)) if not int_ids else None
    frame = pd.DataFrame(
        {
            "customer_id": (ids[idx] if ids is not None else idx)[perm],
            "date": (START + offset.astype("timedelta64[s]"))[perm].astype("datetime64[us]"),
            "revenue": np.round(rng.gamma(2.0, 25.0, n_rows), 2)[perm],
        }
    )
    if not int_ids:
        frame["customer_id"] = frame["customer_id"].astype("str")
    return frame


def _timed(fn, repeats: int = 1):
    """Median wall and CPU seconds (all threads of this process) of ``repeats`` calls, and the last result."""
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():  # lifetimes' own pandas deprecations are not what is measured
            warnings.simplefilter("ignore")
            out = fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--int-ids", action="store_true", help="integer customer ids instead of text")
    parser.add_argument("--small", action="store_true", help="1M rows, 100k customers")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows, customers = (1_000_000, 100_000) if args.small else (args.rows, args.customers)

    from lifetimes.utils import calibration_and_holdout_data, summary_data_from_transaction_data

    t0 = time.perf_counter()
    log = synthetic_log(rows, customers, int_ids=args.int_ids)
    kind = "integer" if args.int_ids else "text"
    print(
        f"synthetic log: {len(log):,} rows, {log['customer_id'].nunique():,} customers ({kind} ids), "
        f"{log['date'].min()} .. {log['date'].max()}; built in {time.perf_counter() - t0:.1f} s; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    results = []
    for label, value_col in (("frequency/recency/T", None), ("with monetary_value", "revenue")):
        ours = _timed(lambda v=value_col: sv.rfm_summary(log, monetary_value_col=v), args.repeats)
        theirs = _timed(
            lambda v=value_col: summary_data_from_transaction_data(
                log, "customer_id", "date", monetary_value_col=v
            )
        )
        pd.testing.assert_frame_equal(ours[2], theirs[2], rtol=1e-9, atol=1e-9)
        results.append((f"rfm_summary, {label}", ours, theirs))
    cal_end = "2023-01-01"
    ours = _timed(
        lambda: sv.calibration_and_holdout(log, calibration_period_end=cal_end, monetary_value_col="revenue"),
        args.repeats,
    )
    theirs = _timed(
        lambda: calibration_and_holdout_data(
            log, "customer_id", "date", calibration_period_end=cal_end, monetary_value_col="revenue"
        )
    )
    pd.testing.assert_frame_equal(ours[2], theirs[2], rtol=1e-9, atol=1e-9)
    results.append(("calibration_and_holdout, with monetary_value", ours, theirs))

    width = max(len(r[0]) for r in results)
    print(
        f"{'':<{width}}  {'socialvalue wall / CPU':>22}  {'lifetimes wall / CPU':>21}  "
        f"ratio wall / CPU  (target >= {TARGET:.0f}x wall)"
    )
    for name, (w, c, _), (lw, lc, _) in results:
        verdict = "met" if lw / w >= TARGET else "missed"
        print(
            f"{name:<{width}}  {w:9.3f} s / {c:6.3f} s  {lw:8.2f} s / {lc:7.2f} s  "
            f"{lw / w:6.1f}x / {lc / c:5.1f}x  {verdict}"
        )
    print(f"frames equal to lifetimes', every row to 1e-9; load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
