"""End-to-end benchmark of `socialvalue run`: seconds and peak memory per stage.

Generates a demo data set with activity scaled up to about 10 orders and 20 interactions per customer
(BG/NBD alpha=5 days, b=8; more clicks, likes and comments), loads it, then runs the whole pipeline in a fresh
process per size. Usage::

    .venv/bin/python benchmarks/pipeline.py --customers 1000000      # the issue's 1M / 10M / 20M scale
    .venv/bin/python benchmarks/pipeline.py --small                  # 50,000 customers

Prints the row counts, the load time, and for each stage the seconds and the process's peak RSS so far.
There is no peer library doing this whole job; the per-stage benchmarks (features, btyd_fit, pagerank,
influence, scoring) compare each stage with its peers.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = {
    "alpha": 5.0,
    "b": 8.0,
    "clicks_per_day": 0.1,
    "like_rate": 0.3,
    "comment_rate": 0.05,
}


def _generate(n: int, root: Path) -> dict:
    from socialvalue import Store
    from socialvalue.demo import DemoConfig, generate

    t0 = time.perf_counter()
    data = generate(n, seed=7, config=DemoConfig(**HEAVY))
    t_gen = time.perf_counter() - t0
    counts = {k: v.num_rows for k, v in data.tables.items()}
    t0 = time.perf_counter()
    with Store(root / "bench.duckdb") as store:
        data.load_into(store)
    t_load = time.perf_counter() - t0
    return {"generate_s": round(t_gen, 1), "load_s": round(t_load, 1), "rows": counts}


def _run(root: Path) -> dict:
    code = f"""
import json, logging, resource, time
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
from socialvalue import Store
from socialvalue.pipeline import run_pipeline
t = time.perf_counter()
with Store({str(root / "bench.duckdb")!r}) as s:
    r = run_pipeline(s, "2026-07-01", report={str(root / "report.html")!r})
print(json.dumps({{"total_s": time.perf_counter() - t, "timings": r.timings, "peak_mb": r.memory_mb,
                   "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    (root / "run.log").write_text(out.stderr)
    stages = [line for line in out.stderr.splitlines() if "stage " in line]
    print("\n".join(stages), flush=True)
    if out.returncode:
        print(out.stderr[-5000:])
        raise SystemExit(f"pipeline run failed (exit {out.returncode})")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--small", action="store_true", help="50,000 customers")
    ap.add_argument(
        "--keep", type=Path, help="keep the generated store in this folder (and reuse it if there)"
    )
    args = ap.parse_args()
    n = 50_000 if args.small else args.customers
    root = args.keep or Path(tempfile.mkdtemp(prefix="sv_bench_pipeline_"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        if not (root / "bench.duckdb").exists():
            gen = _generate(n, root)
            print(f"customers {n:,}; rows: " + ", ".join(f"{k} {v:,}" for k, v in gen["rows"].items()))
            print(f"generate {gen['generate_s']} s, load into the store {gen['load_s']} s")
        else:
            print(f"reusing the store in {root}")
        run = _run(root)
        print(f"socialvalue run: {run['total_s']:.1f} s total, peak RSS {run['max_rss_mb']:.0f} MB")
        print(f"{'stage':<10} {'seconds':>9} {'peak RSS MB':>12}")
        for stage, secs in run["timings"].items():
            print(f"{stage:<10} {secs:>9.1f} {run['peak_mb'][stage]:>12.0f}")
        print(f"report size {(root / 'report.html').stat().st_size / 1e6:.1f} MB")
        print(
            f"(benchmark process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)"
        )
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
