"""Benchmark: BTYD fitting and CLV prediction, socialvalue versus lifetimes (same run, same machine).

1. CDNOW 1/10 sample (2,357 customers, weeks): fit time of BG/NBD, MBG/NBD and Gamma-Gamma, ours and
   lifetimes', median of repeated fits, with both parameter sets and their largest relative difference.
2. Scale: simulate N customers (default 10 million; ``--small``: 1 million) from a BG/NBD + Gamma-Gamma in
   days, with times in whole days and spend in cents as real data are; time the fit of both models on the raw
   per-customer frame (compression included) and the CLV prediction for every customer, with and without a
   90% interval.

Usage::

    .venv/bin/python benchmarks/btyd_fit.py [--small] [--n N] [--pymc-python PATH]

Wall and CPU seconds are both printed: on a shared, oversubscribed machine wall time inflates with the load
average while CPU time stays close to the work done. ``--pymc-python`` points at a Python with pymc-marketing
installed (kept out of the project's environment: it pulls pymc, pytensor and numba); its MAP fits on CDNOW run
in a subprocess and are timed the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from socialvalue.models.btyd import (
    BetaGeo,
    GammaGamma,
    ModifiedBetaGeo,
    continuous_rate,
    customer_lifetime_value,
)

REPO = Path(__file__).resolve().parents[1]
CDNOW = REPO / "tests" / "data" / "cdnow" / "cdnow_summary_calibration.csv"
if not CDNOW.exists():
    CDNOW = REPO.parent / "shared" / "data" / "cdnow" / "cdnow_summary_calibration.csv"


def _median_time(fn, repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``repeats`` calls."""
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


class _Timer:
    def __enter__(self) -> _Timer:
        self.t0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.t0
        self.cpu = time.process_time() - self.c0

    def __str__(self) -> str:
        return f"{self.wall:.2f} s wall / {self.cpu:.2f} s CPU"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_cdnow(repeats: int) -> None:
    import lifetimes

    df = pd.read_csv(CDNOW).rename(columns={"x": "frequency", "t_x": "recency", "zbar": "monetary_value"})
    rep = df[df["frequency"] > 0]
    f, r, T, m = df["frequency"], df["recency"], df["T"], rep["monetary_value"]
    cases = [
        (
            "BG/NBD",
            lambda: BetaGeo().fit(df),
            lambda: lifetimes.BetaGeoFitter().fit(f, r, T),
            ("r", "alpha", "a", "b"),
        ),
        (
            "MBG/NBD",
            lambda: ModifiedBetaGeo().fit(df),
            lambda: lifetimes.ModifiedBetaGeoFitter().fit(f, r, T),
            ("r", "alpha", "a", "b"),
        ),
        (
            "Gamma-Gamma",
            lambda: GammaGamma().fit(df),
            lambda: lifetimes.GammaGammaFitter().fit(rep["frequency"], m),
            ("p", "q", "v"),
        ),
    ]
    print(
        f"== CDNOW 1/10 sample: {len(df)} customers; median of {repeats} fits (lifetimes: {max(3, repeats // 3)}) =="
    )
    print(
        f"{'model':<12} {'ours ms wall/CPU':>17} {'lifetimes ms wall/CPU':>22} {'speed-up wall/CPU':>18} "
        f"{'max rel diff':>13}  params (ours | lifetimes)"
    )
    for name, ours_fn, ref_fn, names in cases:
        ours, ref = ours_fn(), ref_fn()
        w_ours, c_ours = _median_time(ours_fn, repeats)
        w_ref, c_ref = _median_time(ref_fn, max(3, repeats // 3))
        diff = max(abs(ours.params_[k] / ref.params_[k] - 1) for k in names)
        p_ours = ", ".join(f"{k}={ours.params_[k]:.6g}" for k in names)
        p_ref = ", ".join(f"{k}={ref.params_[k]:.6g}" for k in names)
        print(
            f"{name:<12} {w_ours * 1e3:>8.1f}/{c_ours * 1e3:<8.1f} {w_ref * 1e3:>10.1f}/{c_ref * 1e3:<11.1f} "
            f"{f'{w_ref / w_ours:.1f}x':>8}/{f'{c_ref / c_ours:.1f}x':<9} {diff:>13.2e}  {p_ours} | {p_ref}"
        )


def simulate(n: int, seed: int = 0) -> pd.DataFrame:
    """N customers in days: acquired over 84 days, observed until day 365; whole days, spend in cents."""
    rng = np.random.default_rng(seed)
    T = 365.0 - rng.integers(0, 84, size=n)
    sim = BetaGeo.simulate({"r": 0.25, "alpha": 30.0, "a": 0.8, "b": 2.5}, T, rng)
    spend = GammaGamma.simulate({"p": 6.0, "q": 3.8, "v": 15.0}, sim["frequency"].to_numpy(), rng)
    return pd.DataFrame(
        {
            "frequency": sim["frequency"].to_numpy(),
            "recency": np.floor(sim["recency"].to_numpy()),
            "T": T,
            "monetary_value": np.round(spend["monetary_value"].to_numpy(), 2),
        }
    )


def bench_scale(n: int) -> None:
    print(f"\n== {n:,} simulated customers (days; recency/T whole days, spend in cents) ==")
    with _Timer() as t:
        data = simulate(n)
    print(f"simulate: {t}")
    rss0 = psutil.Process().memory_info().rss / 2**20
    print(f"load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    with _Timer() as t_bg:
        bg = BetaGeo().fit(data)
    with _Timer() as t_gg:  # spend is in cents: merging equal totals at 0.01 is exact
        gg = GammaGamma(resolution=0.01).fit(data)
    print(
        f"fit BG/NBD: {t_bg} ({bg.n_unique_:,} unique patterns); Gamma-Gamma: {t_gg} ({gg.n_obs_:,.0f} repeat buyers)"
    )
    print(f"fit total: {t_bg.wall + t_gg.wall:.2f} s wall / {t_bg.cpu + t_gg.cpu:.2f} s CPU (target < 5 s)")
    print(f"  BG/NBD params {bg.params_}\n  Gamma-Gamma params {gg.params_}")

    delta = continuous_rate(0.15, 365)
    with _Timer() as t:
        clv = customer_lifetime_value(bg, gg, data, margin=0.3, discount_rate=delta, method="continuous")
    print(f"predict CLV (continuous DERT): {t} (target < 5 s); mean CLV {clv.mean():.2f}")
    with _Timer() as t:
        clv_d = customer_lifetime_value(
            bg, gg, data, margin=0.3, discount_rate=0.01, method="discrete", period_length=30.0, n_periods=12
        )
    print(f"predict CLV (discrete, 12 x 30 days): {t}; mean {clv_d.mean():.2f}")
    with _Timer() as t:
        clv_i = customer_lifetime_value(
            bg, gg, data, margin=0.3, discount_rate=delta, method="continuous", interval=0.9
        )
    print(
        f"predict CLV with 90% interval (delta method): {t}; mean width {(clv_i['upper'] - clv_i['lower']).mean():.2f}"
    )
    rss1 = psutil.Process().memory_info().rss / 2**20
    print(f"RSS after data {rss0:,.0f} MB, after predictions {rss1:,.0f} MB; peak RSS {_peak_mb():,.0f} MB")

    # lifetimes on a 100k subsample, for a per-customer scale reference (it has no compression)
    import lifetimes

    sub = data.iloc[:100_000]
    t0 = time.perf_counter()
    lifetimes.BetaGeoFitter().fit(sub["frequency"], sub["recency"], sub["T"])
    t_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    BetaGeo().fit(sub)
    t_sub = time.perf_counter() - t0
    print(f"BG/NBD on 100,000 customers: ours {t_sub:.3f} s, lifetimes {t_ref:.2f} s ({t_ref / t_sub:.0f}x)")


_PYMC_SCRIPT = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
import pandas as pd
from pymc_marketing.clv import BetaGeoModel, ModifiedBetaGeoModel
df = pd.read_csv(sys.argv[1])
d = pd.DataFrame({"customer_id": df["ID"], "frequency": df["x"], "recency": df["t_x"], "T": df["T"]})
out = {}
for name, cls in (("BG/NBD", BetaGeoModel), ("MBG/NBD", ModifiedBetaGeoModel)):
    times = []
    for _ in range(2):  # the first fit includes pytensor's compilation
        t0 = time.perf_counter()
        m = cls(data=d)
        m.fit(method="map", progressbar=False)
        times.append(time.perf_counter() - t0)
    s = m.fit_summary()
    out[name] = {"first": times[0], "warm": times[1], "params": {k: float(s[k]) for k in ("r", "alpha", "a", "b")}}
print(json.dumps(out))
"""


def bench_pymc(python: str) -> None:
    """pymc-marketing MAP fits on CDNOW in another interpreter (default priors, so MAP is not the MLE)."""
    print("\n== pymc-marketing (MAP, default priors) on CDNOW, in", python, "==")
    try:
        proc = subprocess.run(
            [python, "-c", _PYMC_SCRIPT, str(CDNOW)], capture_output=True, text=True, timeout=900, check=True
        )
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"pymc-marketing run failed: {exc}")
        return
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    ours = {"BG/NBD": BetaGeo, "MBG/NBD": ModifiedBetaGeo}
    df = pd.read_csv(CDNOW).rename(columns={"x": "frequency", "t_x": "recency", "zbar": "monetary_value"})
    for name, r in res.items():
        w, _ = _median_time(lambda name=name: ours[name]().fit(df), 10)
        print(
            f"{name:<8} first fit {r['first']:.1f} s (with compilation), warm {r['warm']:.2f} s; ours {w * 1e3:.1f} ms "
            f"({r['warm'] / w:.0f}x warm); params {r['params']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="1 million customers, fewer repeats")
    parser.add_argument("--n", type=int, default=None, help="number of simulated customers")
    parser.add_argument(
        "--pymc-python", default=None, help="a Python interpreter with pymc-marketing installed"
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # lifetimes' own deprecation noise; this is a script, not the library
    bench_cdnow(repeats=10 if args.small else 30)
    if args.pymc_python:
        bench_pymc(args.pymc_python)
    bench_scale(args.n or (1_000_000 if args.small else 10_000_000))
    print(f"\npeak memory (ru_maxrss): {_peak_mb():,.0f} MB")


if __name__ == "__main__":
    main()
