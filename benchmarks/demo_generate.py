"""Benchmark: generate the demo data set (target: 1,000,000 customers in under a minute on 2 cores).

Prints wall time per stage, rows per table, peak memory, and ratios against peer libraries measured in the
same run on the same machine:

* purchases: our vectorised BG/NBD simulation vs lifetimes' ``beta_geometric_nbd_model`` (a Python loop per
  customer; run on a subset and compared per customer);
* graph: our community follower graph vs igraph's ``Graph.Barabasi`` (C) with the same number of nodes and a
  similar number of edges.

Usage::

    .venv/bin/python benchmarks/demo_generate.py            # 1,000,000 customers
    .venv/bin/python benchmarks/demo_generate.py --small    # 50,000 customers
    .venv/bin/python benchmarks/demo_generate.py --customers 200000 --write /tmp/demo --load
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _timed(label: str, fn, *args, **kwargs):
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    out = fn(*args, **kwargs)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    print(f"  {label:<38} {wall:8.2f} s wall {cpu:8.2f} s cpu")
    return out, wall


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--small", action="store_true", help="50,000 customers")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--write", type=Path, default=None, help="also write Parquet here (default: a temp dir)"
    )
    parser.add_argument("--load", action="store_true", help="also load into a DuckDB store (Store.ingest)")
    parser.add_argument("--peer-customers", type=int, default=20_000, help="lifetimes subset size")
    args = parser.parse_args()
    n = 50_000 if args.small else args.customers

    from socialvalue.demo import DemoConfig, generate
    from socialvalue.demo._graph import simulate_graph
    from socialvalue.demo._population import simulate_population

    print(f"demo generator benchmark: {n:,} customers, seed {args.seed}")
    data, gen_wall = _timed("generate (all stages)", generate, n_customers=n, seed=args.seed)
    for kind, tbl in {**data.tables, "truth": data.truth, "influence_events": data.influence_events}.items():
        print(f"    {kind:<18} {tbl.num_rows:>12,} rows")
    total_rows = sum(t.num_rows for t in data.tables.values())
    print(f"  canonical rows/s: {total_rows / gen_wall:,.0f}; peak RSS so far {_peak_mb():,.0f} MB")
    print(
        f"  target < 60 s for 1,000,000 customers: {'met' if n < 1_000_000 or gen_wall < 60 else 'NOT met'}"
    )

    with tempfile.TemporaryDirectory() as tmp:
        out = args.write or Path(tmp)
        _, write_wall = _timed("write Parquet + truth", data.write, out)
        if args.load:
            from socialvalue.store import Store

            store_path = out / "bench.duckdb"
            store_path.unlink(missing_ok=True)
            with Store(store_path) as store:
                _timed("load into store (Store.ingest)", data.load_into, store)

    # Stage timings against peers, on the same machine in the same run.
    cfg = DemoConfig()
    horizon = 729.0
    print("stages vs peers")
    rng = np.random.default_rng(args.seed)
    pop, pop_wall = _timed("ours: customers + BG/NBD purchases", simulate_population, rng, n, horizon, cfg)
    _, graph_wall = _timed("ours: follower graph", simulate_graph, rng, pop, cfg)
    graph = simulate_graph(np.random.default_rng(1), pop, cfg)
    m = max(1, round(len(graph.follow_src) / n))

    import igraph

    _, ig_wall = _timed(f"igraph Barabasi(n, m={m})", igraph.Graph.Barabasi, n, m)
    print(
        f"  graph: ours / igraph = {graph_wall / ig_wall:.2f}x the time (ours adds communities, times, unfollows)"
    )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifetimes' own deprecation warnings
        from lifetimes.generate_data import beta_geometric_nbd_model

        k = min(args.peer_customers, n)
        _, lt_wall = _timed(
            f"lifetimes beta_geometric_nbd_model({k:,})",
            beta_geometric_nbd_model,
            horizon,
            cfg.r,
            cfg.alpha,
            cfg.a,
            cfg.b,
            k,
        )
    per_ours, per_lt = pop_wall / n, lt_wall / k
    print(f"  BG/NBD simulation per customer: ours {per_ours * 1e6:.2f} us, lifetimes {per_lt * 1e6:.2f} us")
    print(
        f"  speed-up vs lifetimes: {per_lt / per_ours:,.0f}x (whole generator: {per_lt / (gen_wall / n):,.0f}x)"
    )
    print(f"peak RSS {_peak_mb():,.0f} MB; write {write_wall:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
