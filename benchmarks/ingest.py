"""Ingest throughput: orders from Parquet and from CSV into a socialvalue store, against pandas + to_sql.

Usage::

    .venv/bin/python benchmarks/ingest.py            # 10 million orders, 1 million customers
    .venv/bin/python benchmarks/ingest.py --small    # 500,000 orders (development)

The files are generated first (DuckDB COPY). The store load covers reading, converting, validating every rule
(types, keys, references to customers, ranges, vocabularies) and the transactional write. The baseline is the
usual `pandas.read_csv` + `DataFrame.to_sql` into an in-memory SQLite database, measured on a slice (it takes
minutes for millions of rows) and extrapolated linearly; the output says so.
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import tempfile
import time
from pathlib import Path

import duckdb
import pandas as pd
import psutil

from socialvalue import Store


def generate(folder: Path, n_orders: int, n_customers: int) -> dict[str, Path]:
    con = duckdb.connect()
    paths = {
        "customers": folder / "customers.parquet",
        "orders_parquet": folder / "orders.parquet",
        "orders_csv": folder / "orders.csv",
    }
    con.execute(
        f"""COPY (SELECT 'c' || i AS customer_id, TIMESTAMP '2019-01-01' + to_seconds(i * 37) AS signup_at,
                  ['organic', 'paid', 'referral'][1 + i % 3] AS acquisition_channel, 'DE' AS country
                  FROM range({n_customers}) r(i)) TO '{paths["customers"]}' (FORMAT parquet)"""
    )
    orders = f"""SELECT 'o' || i AS order_id, 'c' || (hash(i) % {n_customers}) AS customer_id,
                 TIMESTAMP '2020-01-01' + to_seconds(i % 150000000) AS ordered_at,
                 round(5 + (hash(i * 7) % 20000) / 100.0, 2)::DECIMAL(18,4) AS amount, 'EUR' AS currency,
                 CASE WHEN i % 50 = 0 THEN 'returned' ELSE 'completed' END AS status,
                 (1 + i % 4)::INTEGER AS quantity
                 FROM range({n_orders}) r(i)"""
    con.execute(f"COPY ({orders}) TO '{paths['orders_parquet']}' (FORMAT parquet)")
    con.execute(f"COPY ({orders}) TO '{paths['orders_csv']}' (FORMAT csv, HEADER)")
    con.close()
    return paths


def timed_load(folder: Path, name: str, customers: Path, orders: Path) -> tuple[float, float, int]:
    """Wall and process CPU seconds (all threads) of loading the orders file into a store with customers."""
    with Store(folder / f"{name}.duckdb") as store:
        store.ingest("customers", customers)
        t0, c0 = time.perf_counter(), time.process_time()
        report = store.ingest("orders", orders)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        assert report.inserted == report.rows_in, report
    return seconds, cpu, report.rows_in


def baseline(csv: Path, rows: int) -> tuple[float, float]:
    """pandas.read_csv + to_sql into in-memory SQLite: wall and CPU seconds for ``rows`` rows."""
    t0, c0 = time.perf_counter(), time.process_time()
    df = pd.read_csv(csv, nrows=rows, parse_dates=["ordered_at"])
    con = sqlite3.connect(":memory:")
    df.to_sql("orders", con, index=False, chunksize=50_000)
    con.close()
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="500,000 orders instead of 10 million")
    ap.add_argument("--rows", type=int, default=None, help="number of orders (overrides --small)")
    ap.add_argument("--baseline-rows", type=int, default=500_000, help="slice measured for the baseline")
    args = ap.parse_args()
    n = args.rows or (500_000 if args.small else 10_000_000)
    n_customers = max(n // 10, 1)
    proc = psutil.Process()
    print(f"cores: {os.cpu_count()}  duckdb {duckdb.__version__}  pandas {pd.__version__}")
    print(
        f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} (a shared machine inflates wall times)"
    )
    with tempfile.TemporaryDirectory(prefix="sv-ingest-bench-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        paths = generate(folder, n, n_customers)
        sizes = {k: p.stat().st_size / 1e6 for k, p in paths.items()}
        print(
            f"generated {n:,} orders + {n_customers:,} customers in {time.perf_counter() - t0:.1f} s "
            f"(parquet {sizes['orders_parquet']:.0f} MB, csv {sizes['orders_csv']:.0f} MB)"
        )
        results: dict[str, float] = {}
        cpu_rates: dict[str, float] = {}
        cores = os.cpu_count() or 1
        for name, key in (("parquet", "orders_parquet"), ("csv", "orders_csv")):
            seconds, cpu, rows = timed_load(folder, name, paths["customers"], paths[key])
            results[name] = rows / seconds
            cpu_rates[name] = rows / (cpu / cores)
            print(
                f"socialvalue ingest from {name:8s}: {rows:,} rows in {seconds:6.2f} s = {rows / seconds:>12,.0f} rows/s"
                f"  (CPU {cpu:.1f} s; on {cores} idle cores: {rows / (cpu / cores):>12,.0f} rows/s)"
            )
        slice_rows = min(args.baseline_rows, n)
        seconds, cpu = baseline(paths["orders_csv"], slice_rows)
        base, base_cpu = slice_rows / seconds, slice_rows / cpu
        note = (
            ""
            if slice_rows == n
            else f" (measured on {slice_rows:,} rows, extrapolated to {n:,}: {n / base:.0f} s)"
        )
        print(
            f"pandas.read_csv + to_sql(sqlite): {base:>12,.0f} rows/s  (single-threaded; CPU {cpu:.1f} s){note}"
        )
        print(
            f"speed-up vs baseline (wall): parquet {results['parquet'] / base:.1f}x, csv {results['csv'] / base:.1f}x"
        )
        print(
            "speed-up vs baseline (2 idle cores, from CPU time): "
            f"parquet {cpu_rates['parquet'] / base_cpu:.1f}x, csv {cpu_rates['csv'] / base_cpu:.1f}x"
        )
        target = "met" if results["parquet"] >= 1e6 else "NOT met"
        estimate = "met" if cpu_rates["parquet"] >= 1e6 else "NOT met"
        print(
            f"target >= 1,000,000 rows/s from Parquet: {target} in wall time; {estimate} on 2 idle cores (CPU time)"
        )
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:,.0f} MB (psutil current RSS {proc.memory_info().rss / 1e6:,.0f} MB)")


if __name__ == "__main__":
    main()
