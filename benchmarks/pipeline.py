"""End-to-end benchmark of `socialvalue run`: seconds and peak memory per stage.

Generates a demo data set with activity scaled up to about 10 orders and 20 interactions per customer
(BG/NBD alpha=5 days, b=8; more clicks, likes and comments), loads it, then runs the whole pipeline in a fresh
process per size. Usage::

    .venv/bin/python benchmarks/pipeline.py --customers 1000000      # the issue's 1M / 10M / 20M scale
    .venv/bin/python benchmarks/pipeline.py --small                  # 50,000 customers
    .venv/bin/python benchmarks/pipeline.py --customers 10000000 --keep /tmp/b10m   # 10 chunks of 1M

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


#: Id columns of the demo tables: a chunk's ids get the chunk's prefix so chunks never collide.
_ID_COLUMNS = {
    "customers": ("customer_id",),
    "orders": ("order_id", "customer_id"),
    "interactions": ("event_id", "actor_id", "target_customer_id", "content_id"),
    "relationships": ("src_id", "dst_id"),
    "content": ("content_id", "author_id"),
}


def _prefixed(data, prefix: str):
    """The chunk's tables with every id prefixed (nulls stay null)."""
    import dataclasses

    import pyarrow.compute as pc

    changes = {}
    for kind, cols in _ID_COLUMNS.items():
        tbl = getattr(data, kind)
        for c in cols:
            i = tbl.schema.get_field_index(c)
            tbl = tbl.set_column(i, c, pc.binary_join_element_wise(prefix, tbl.column(c), ""))
        changes[kind] = tbl
    return dataclasses.replace(data, **changes)


def _generate(n: int, root: Path, chunk: int, engine_gb: float | None = None) -> dict:
    """Generate and load ``n`` customers, ``chunk`` at a time (each chunk its own seed and id prefix).

    One chunk is one independent demo shop (its own social network): the memory of the generator is bounded
    by a chunk, so 10M customers load on a 24 GB machine.
    """
    from socialvalue import Store
    from socialvalue.demo import DemoConfig, generate
    from socialvalue.sqlsafe import literal

    t_gen = t_load = 0.0
    counts: dict[str, int] = {}
    with Store(root / "bench.duckdb") as store:
        if engine_gb is not None:  # DuckDB spills past this while loading (the default is 80% of the machine)
            size = f"{int(engine_gb * 1024)}MB"
            store.con.execute(f"SET memory_limit = {literal(size)}")
        # a store a killed generation left behind resumes at its last chunk: the same seed gives the same
        # tables, and a load of content loaded before is skipped, so only what that chunk lacks is loaded
        done = int(store.scalar("SELECT count(*) FROM customers"))
        for k, lo in enumerate(range(0, n, chunk)):
            if lo + chunk < done:
                continue
            t0 = time.perf_counter()
            data = generate(min(chunk, n - lo), seed=7 + k, config=DemoConfig(**HEAVY))
            if k:
                data = _prefixed(data, f"{k:02d}")
            t_gen += time.perf_counter() - t0
            t0 = time.perf_counter()
            data.load_into(store)
            t_load += time.perf_counter() - t0
            for kind, tbl in data.tables.items():
                counts[kind] = counts.get(kind, 0) + tbl.num_rows
            del data
            print(
                f"  chunk {k}: {min(lo + chunk, n):,} customers loaded ({t_gen + t_load:.0f} s)", flush=True
            )
    return {"generate_s": round(t_gen, 1), "load_s": round(t_load, 1), "rows": counts}


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def _run(root: Path, max_gb: float, engine_gb: float | None) -> dict:
    """Run the pipeline in a fresh process; kill it if its RSS passes ``max_gb`` (the machine must survive)."""
    code = f"""
import json, logging, resource, time
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
from socialvalue import Store
from socialvalue.pipeline import RunConfig, run_pipeline
cfg = RunConfig.model_validate({{"run": {{"engine_memory_gb": {engine_gb!r}}}}})
t = time.perf_counter()
with Store({str(root / "bench.duckdb")!r}) as s:
    r = run_pipeline(s, "2026-07-01", cfg, report={str(root / "report.html")!r})
print(json.dumps({{"total_s": time.perf_counter() - t, "timings": r.timings, "peak_mb": r.memory_mb,
                   "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
    log = root / "run.log"
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=err, text=True)
        peak, killed = 0.0, False
        while proc.poll() is None:
            peak = max(peak, _rss_mb(proc.pid))
            if peak > max_gb * 1024:
                proc.kill()
                killed = True
                break
            time.sleep(0.5)
        out = proc.communicate()[0]
    text = log.read_text()
    stages = [line for line in text.splitlines() if "stage " in line]
    print("\n".join(stages), flush=True)
    if killed:
        raise SystemExit(f"pipeline run stopped: its RSS passed {max_gb} GB (last lines above; log in {log})")
    if proc.returncode:
        print(text[-5000:])
        raise SystemExit(f"pipeline run failed (exit {proc.returncode})")
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--small", action="store_true", help="50,000 customers")
    ap.add_argument(
        "--chunk",
        type=int,
        default=1_000_000,
        help="generate and load at most this many customers at a time (independent shops; default 1M)",
    )
    ap.add_argument("--max-gb", type=float, default=20.0, help="stop the run if its RSS passes this (GB)")
    ap.add_argument(
        "--resume", action="store_true", help="complete a --keep store whose generation was stopped, then run"
    )
    ap.add_argument(
        "--engine-gb", type=float, default=None, help="[run] engine_memory_gb: DuckDB spills past this (GB)"
    )
    ap.add_argument(
        "--keep", type=Path, help="keep the generated store in this folder (and reuse it if there)"
    )
    args = ap.parse_args()
    n = 50_000 if args.small else args.customers
    root = args.keep or Path(tempfile.mkdtemp(prefix="sv_bench_pipeline_"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        if not (root / "bench.duckdb").exists() or args.resume:
            gen = _generate(n, root, args.chunk, args.engine_gb)
            print(f"customers {n:,}; rows: " + ", ".join(f"{k} {v:,}" for k, v in gen["rows"].items()))
            print(f"generate {gen['generate_s']} s, load into the store {gen['load_s']} s")
        else:
            print(f"reusing the store in {root}")
        run = _run(root, args.max_gb, args.engine_gb)
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
