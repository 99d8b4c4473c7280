"""Benchmark: BTYD fitting and CLV prediction, socialvalue versus lifetimes (same run, same machine).

1. CDNOW 1/10 sample (2,357 customers, weeks): fit time of BG/NBD, MBG/NBD and Gamma-Gamma, ours and
   lifetimes', median of repeated fits, with both parameter sets and their largest relative difference.
2. Scale: simulate N customers (default 10 million; ``--small``: 1 million) from a BG/NBD + Gamma-Gamma in
   days, with times in whole days and spend in cents as real data are; time the fit of both models on the raw
   per-customer frame (compression included) and the CLV prediction for every customer, with and without a
   90% interval.

Usage::

    .venv/bin/python benchmarks/btyd_fit.py [--small] [--n N]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from socialvalue.models.btyd import BetaGeo, GammaGamma, ModifiedBetaGeo, continuous_rate, customer_lifetime_value

REPO = Path(__file__).resolve().parents[1]
CDNOW = REPO / "tests" / "data" / "cdnow" / "cdnow_summary_calibration.csv"
if not CDNOW.exists():
    CDNOW = REPO.parent / "shared" / "data" / "cdnow" / "cdnow_summary_calibration.csv"


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_cdnow(repeats: int) -> None:
    import lifetimes

    df = pd.read_csv(CDNOW).rename(columns={"x": "frequency", "t_x": "recency", "zbar": "monetary_value"})
    rep = df[df["frequency"] > 0]
    f, r, T, m = df["frequency"], df["recency"], df["T"], rep["monetary_value"]
    cases = [
        ("BG/NBD", lambda: BetaGeo().fit(df), lambda: lifetimes.BetaGeoFitter().fit(f, r, T), ("r", "alpha", "a", "b")),
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
    print(f"== CDNOW 1/10 sample: {len(df)} customers; median of {repeats} fits ==")
    print(f"{'model':<12} {'ours (ms)':>10} {'lifetimes (ms)':>15} {'speed-up':>9} {'max rel diff':>13}  params (ours | lifetimes)")
    for name, ours_fn, ref_fn, names in cases:
        ours, ref = ours_fn(), ref_fn()
        t_ours = _median_time(ours_fn, repeats)
        t_ref = _median_time(ref_fn, max(3, repeats // 5))
        diff = max(abs(ours.params_[k] / ref.params_[k] - 1) for k in names)
        p_ours = ", ".join(f"{k}={ours.params_[k]:.6g}" for k in names)
        p_ref = ", ".join(f"{k}={ref.params_[k]:.6g}" for k in names)
        print(
            f"{name:<12} {t_ours * 1e3:>10.2f} {t_ref * 1e3:>15.2f} {t_ref / t_ours:>8.1f}x {diff:>13.2e}  {p_ours} | {p_ref}"
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
    t0 = time.perf_counter()
    data = simulate(n)
    print(f"simulate: {time.perf_counter() - t0:.2f} s")
    rss0 = psutil.Process().memory_info().rss / 2**20

    t0 = time.perf_counter()
    bg = BetaGeo().fit(data)
    t_bg = time.perf_counter() - t0
    t0 = time.perf_counter()
    gg = GammaGamma().fit(data)
    t_gg = time.perf_counter() - t0
    print(
        f"fit BG/NBD: {t_bg:.2f} s ({bg.n_unique_:,} unique patterns); Gamma-Gamma: {t_gg:.2f} s; "
        f"total {t_bg + t_gg:.2f} s (target < 5 s)"
    )
    print(f"  BG/NBD params {bg.params_}\n  Gamma-Gamma params {gg.params_}")

    delta = continuous_rate(0.15, 365)
    t0 = time.perf_counter()
    clv = customer_lifetime_value(bg, gg, data, margin=0.3, discount_rate=delta)
    t_clv = time.perf_counter() - t0
    print(f"predict CLV (continuous DERT): {t_clv:.2f} s (target < 5 s); mean CLV {clv.mean():.2f}")
    t0 = time.perf_counter()
    clv_d = customer_lifetime_value(
        bg, gg, data, margin=0.3, discount_rate=0.01, method="discrete", period_length=30.0, n_periods=12
    )
    print(f"predict CLV (discrete, 12 x 30 days): {time.perf_counter() - t0:.2f} s; mean {clv_d.mean():.2f}")
    t0 = time.perf_counter()
    clv_i = customer_lifetime_value(bg, gg, data, margin=0.3, discount_rate=delta, interval=0.9)
    print(
        f"predict CLV with 90% interval (delta method): {time.perf_counter() - t0:.2f} s; "
        f"mean width {(clv_i['upper'] - clv_i['lower']).mean():.2f}"
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="1 million customers, fewer repeats")
    parser.add_argument("--n", type=int, default=None, help="number of simulated customers")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # lifetimes' own deprecation noise; this is a script, not the library
    bench_cdnow(repeats=10 if args.small else 30)
    bench_scale(args.n or (1_000_000 if args.small else 10_000_000))
    print(f"\npeak memory (ru_maxrss): {_peak_mb():,.0f} MB")


if __name__ == "__main__":
    main()
