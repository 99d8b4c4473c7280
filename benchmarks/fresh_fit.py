"""Benchmark: a one-off BG/NBD fit in a fresh process, socialvalue versus lifetimes (paired, same machine).

What a notebook user pays for one fit: start Python, import the library, read the CDNOW summary CSV
(2,357 customers) with pandas and fit BG/NBD once. Each repeat starts one fresh interpreter per library, in
alternating order (the machine is shared; pairs see the same load), and the speed-up is the median of the
per-pair ratios. Two cases, because ``PYTHONDONTWRITEBYTECODE=1`` is set in this environment and
site-packages then holds no bytecode:

``cold``
    No bytecode cache at all: every module is compiled from source in each process
    (``PYTHONDONTWRITEBYTECODE=1`` and ``PYTHONPYCACHEPREFIX`` pointing at an empty directory). This is
    what this environment measures by default.
``warm``
    A bytecode cache for everything imported (``PYTHONPYCACHEPREFIX`` pointing at a directory filled by one
    untimed run of each script): what a normal installation with ``.pyc`` files measures.

Printed per case: the in-process time of ``import`` + ``read_csv`` + ``fit`` (and its parts), the whole
process's wall time (interpreter start and exit included) and the paired ratios lifetimes / socialvalue.

Usage::

    .venv/bin/python benchmarks/fresh_fit.py [--repeats N] [--case cold|warm|both]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CDNOW = REPO / "tests" / "data" / "cdnow" / "cdnow_summary_calibration.csv"
if not CDNOW.exists():
    CDNOW = REPO.parent / "shared" / "data" / "cdnow" / "cdnow_summary_calibration.csv"

# Each script prints {"import": s, "read": s, "fit": s, "second_fit": s, "params": {...}} as one JSON line.
_OURS = """
import time, json, sys
t0 = time.perf_counter()
import pandas as pd
from socialvalue import BetaGeo
t1 = time.perf_counter()
df = pd.read_csv(sys.argv[1])
data = {"frequency": df["x"], "recency": df["t_x"], "T": df["T"]}
t2 = time.perf_counter()
model = BetaGeo().fit(data)
t3 = time.perf_counter()
BetaGeo().fit(data)
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "read": t2 - t1, "fit": t3 - t2, "second_fit": t4 - t3,
                  "params": model.params_, "modules": sorted(m for m in ("sklearn", "scipy.stats",
                  "scipy.optimize", "plotly", "duckdb", "pyarrow") if m in sys.modules)}))
"""

_LIFETIMES = """
import time, json, sys, warnings
t0 = time.perf_counter()
import pandas as pd
from lifetimes import BetaGeoFitter
t1 = time.perf_counter()
df = pd.read_csv(sys.argv[1])
t2 = time.perf_counter()
model = BetaGeoFitter().fit(df["x"], df["t_x"], df["T"])
t3 = time.perf_counter()
BetaGeoFitter().fit(df["x"], df["t_x"], df["T"])
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "read": t2 - t1, "fit": t3 - t2, "second_fit": t4 - t3,
                  "params": {k: float(v) for k, v in model.params_.items()}, "modules": []}))
"""


def _run(script: str, env: dict[str, str]) -> dict:
    """One fresh interpreter: its JSON timings plus ``process`` (whole wall time, start to exit)."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", script, str(CDNOW)], env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process"] = wall
    out["in_process"] = out["import"] + out["read"] + out["fit"]
    return out


def _env(prefix: str, write: bool) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPYCACHEPREFIX"] = prefix
    if write:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def bench(case: str, repeats: int) -> None:
    with tempfile.TemporaryDirectory(prefix=f"fresh_fit_{case}_") as prefix:
        env = _env(prefix, write=False)
        if case == "warm":  # one untimed run of each fills the cache with every module they import
            for script in (_OURS, _LIFETIMES):
                _run(script, _env(prefix, write=True))
        ours: list[dict] = []
        ref: list[dict] = []
        for i in range(repeats):
            order = [(_OURS, ours), (_LIFETIMES, ref)]
            for script, sink in order if i % 2 == 0 else order[::-1]:
                sink.append(_run(script, env))
    load = os.getloadavg()[0]
    label = {
        "cold": "no bytecode cache (compiled from source)",
        "warm": "bytecode cache (PYTHONPYCACHEPREFIX)",
    }
    print(
        f"\n== {case}: {label[case]}; {repeats} pairs, load average {load:.1f} on {os.cpu_count()} cores =="
    )
    print(f"{'median ms':<26} {'socialvalue':>12} {'lifetimes':>12} {'paired ratio':>13}")
    for key in ("import", "read", "fit", "second_fit", "in_process", "process"):
        o = [r[key] for r in ours]
        f = [r[key] for r in ref]
        ratio = statistics.median(b / a for a, b in zip(o, f, strict=True))
        name = {
            "in_process": "import + read + fit",
            "process": "whole process",
            "second_fit": "second fit (same process)",
        }.get(key, key)
        print(
            f"{name:<26} {statistics.median(o) * 1e3:>12.1f} {statistics.median(f) * 1e3:>12.1f} {ratio:>12.2f}x"
        )
    p_o, p_r = ours[-1]["params"], ref[-1]["params"]
    diff = max(abs(p_o[k] / p_r[k] - 1) for k in p_o)
    print(f"params ours {p_o}\n       lifetimes {p_r}\n       max rel diff {diff:.1e}")
    print(f"heavy modules loaded by socialvalue's script: {ours[-1]['modules'] or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="pairs of fresh processes per case")
    parser.add_argument("--case", choices=["cold", "warm", "both"], default="both")
    args = parser.parse_args()
    print(f"CDNOW summary: {CDNOW}; python {sys.executable}")
    for case in ("cold", "warm") if args.case == "both" else (args.case,):
        bench(case, args.repeats)


if __name__ == "__main__":
    main()
