"""Run every benchmark in this folder, one process each, and print their figures.

``make bench`` runs them at their ``--small`` sizes (minutes); ``BENCH_FULL=1 make bench`` at the sizes the
issues name (1M customers, 10M orders/edges: tens of minutes and several GB of memory). Each script prints its
own figures and its ratios against the peer libraries measured in the same run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = (
    "ingest",
    "demo_generate",
    "features",
    "summary",
    "btyd_fit",
    "btyd_compare",
    "plot",
    "scoring",
    "pagerank",
    "influence",
    "attribution",
    "social_value",
    "ciao_social",
    "pipeline",
)


def main() -> int:
    full = os.environ.get("BENCH_FULL") == "1"
    only = sys.argv[1:]
    failed = []
    for name in ORDER:
        if only and name not in only:
            continue
        cmd = [sys.executable, str(HERE / f"{name}.py"), *([] if full else ["--small"])]
        print(f"\n=== {name} ({'full' if full else 'small'}): {' '.join(cmd[1:])}", flush=True)
        t0 = time.perf_counter()
        code = subprocess.call(cmd)
        print(f"=== {name}: exit {code} in {time.perf_counter() - t0:.0f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
