"""Benchmark: Pareto/NBD and BG/BB fitting versus lifetimes, and compare_models (same run, same machine).

1. CDNOW 1/10 sample (2,357 customers, weeks): Pareto/NBD fit time, ours vs lifetimes' ``ParetoNBDFitter``
   (its default Nelder-Mead at tol 1e-4, and at tol 1e-8 so that both reach the same optimum), with the
   parameters, their largest relative difference and both log-likelihoods. Fits are timed in interleaved
   pairs (the machine is shared) and the speed-up is the median of the per-pair ratios.
2. Donations (11,104 donors in 22 patterns): BG/BB fit time, ours vs lifetimes' ``BetaGeoBetaBinomFitter``.
3. ``compare_models`` on the CDNOW calibration/holdout split built from the raw transaction log.
4. Scale: simulate N customers from a Pareto/NBD in days (default 1,000,000; ``--small``: 100,000) and time
   our fit on the raw per-customer frame with times rounded to 0.1 day (compression included); lifetimes on a
   5,000-customer subset for a per-customer ratio.

Usage::

    .venv/bin/python benchmarks/btyd_compare.py [--small] [--n N] [--parts 1,2] [--repeats R]

``--parts`` selects the sections (e.g. ``1,2`` for the two fits against lifetimes, the issue-16 ratios);
``--repeats`` sets the interleaved pairs of [1] (BG/BB gets three times as many: its fits are short).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from socialvalue.models.btyd import BetaGeoBetaBinom, ParetoNBD, compare_models
from socialvalue.models.btyd.paretonbd import paretonbd_loglik

REPO = Path(__file__).resolve().parents[1]


def _data(*parts: str) -> Path:
    local = REPO / "tests" / "data" / Path(*parts)
    return local if local.exists() else REPO.parent / "shared" / "data" / Path(*parts)


def _median_time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _paired(ours, ref, repeats: int) -> tuple[float, float, float, object, object]:
    """Interleaved timings (ours, then the peer, ``repeats`` times after one warm-up of each).

    The machine is shared, so load drifts during a run: pairing gives both the same conditions and the
    median of the per-pair ratios is the robust speed-up. Returns (ours median, peer median, median ratio,
    our result, peer result).
    """
    ours_out, ref_out = ours(), ref()
    t_ours, t_ref = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ours_out = ours()
        t_ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ref_out = ref()
        t_ref.append(time.perf_counter() - t0)
    ratio = statistics.median(r / o for o, r in zip(t_ours, t_ref, strict=True))
    return statistics.median(t_ours), statistics.median(t_ref), ratio, ours_out, ref_out


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _max_rel(a: dict, b: dict) -> float:
    return max(abs(a[k] - b[k]) / abs(b[k]) for k in a)


def _cdnow_split() -> pd.DataFrame:
    raw = pd.read_csv(
        _data("cdnow", "CDNOW_sample.txt"), sep=r"\s+", header=None, names=["mid", "id", "date", "cds", "usd"]
    )
    raw["date"] = pd.to_datetime(raw["date"].astype(str), format="%Y%m%d")
    days = raw[["id", "date"]].drop_duplicates()
    cal_end, hold_end = pd.Timestamp("1997-09-30"), pd.Timestamp("1998-06-30")
    first = days.groupby("id")["date"].min()
    cal = days[days["date"] <= cal_end].groupby("id")["date"]
    hold = days[(days["date"] > cal_end) & (days["date"] <= hold_end)]
    frame = pd.DataFrame(
        {
            "frequency": cal.size() - 1,
            "recency": (cal.max() - first).dt.days / 7,
            "T": (cal_end - first).dt.days / 7,
        }
    )
    frame["holdout_transactions"] = hold.groupby("id").size().reindex(frame.index, fill_value=0)
    frame["holdout_duration"] = (hold_end - cal_end).days / 7
    return frame


def bench_pareto(lifetimes, repeats: int) -> None:
    cdnow = pd.read_csv(_data("cdnow", "cdnow_summary_calibration.csv")).rename(
        columns={"x": "frequency", "t_x": "recency"}
    )
    args = (cdnow["frequency"], cdnow["recency"], cdnow["T"])
    print(f"\n[1] Pareto/NBD on CDNOW ({len(cdnow)} customers)")
    for label, tol in (("default tol=1e-4", 1e-4), ("tol=1e-8", 1e-8)):
        ours_t, ref_t, ratio, ours, ref = _paired(
            lambda: ParetoNBD().fit(cdnow),
            lambda tol=tol: lifetimes.ParetoNBDFitter().fit(*args, tol=tol),
            repeats,
        )
        ref_params = ref.params_.to_dict()
        ll_ref = paretonbd_loglik(np.array(list(ref_params.values())), *args).sum()
        print(
            f"  ours {ours_t * 1e3:7.1f} ms (LL {ours.log_likelihood_:.4f}, {ours.n_unique_} unique rows) | "
            f"lifetimes {label:<16} {ref_t * 1e3:7.1f} ms (LL {ll_ref:.4f}) | speed-up x{ratio:5.1f} | "
            f"max rel param diff {_max_rel(ours.params_, ref_params):.1e}"
        )
    print("  ours     :", {k: round(v, 6) for k, v in ours.params_.items()})
    print("  lifetimes:", {k: round(v, 6) for k, v in ref_params.items()}, "(tol=1e-8)")


def bench_bgbb(lifetimes, repeats: int) -> None:
    don = pd.read_csv(_data("donations", "donations_summary.csv")).rename(columns={"periods": "n_periods"})
    ours_t, ref_t, ratio, ours, ref = _paired(
        lambda: BetaGeoBetaBinom().fit(don, weights="weights"),
        lambda: lifetimes.BetaGeoBetaBinomFitter().fit(
            don["frequency"], don["recency"], don["n_periods"], weights=don["weights"]
        ),
        repeats,
    )
    ref_params = ref.params_.to_dict()
    print(f"\n[2] BG/BB on donations ({int(don['weights'].sum())} donors, {len(don)} patterns)")
    print(
        f"  ours {ours_t * 1e3:7.1f} ms (LL {ours.log_likelihood_:.2f}) | lifetimes {ref_t * 1e3:7.1f} ms | "
        f"speed-up x{ratio:5.1f} | max rel param diff {_max_rel(ours.params_, ref_params):.1e}"
    )
    print("  ours     :", {k: round(v, 6) for k, v in ours.params_.items()})


def bench_compare(repeats: int) -> None:
    split = _cdnow_split()
    t, table = _median_time(lambda: compare_models(split), repeats)
    print(
        f"\n[3] compare_models on the CDNOW 39+39-week split: {t:.3f} s (fit + holdout scoring of 3 models)"
    )
    with pd.option_context("display.width", 140, "display.max_columns", 20):
        print(table.drop(columns=["error"]).round(4).to_string())


def bench_scale(lifetimes, n: int) -> None:
    truth = {"r": 0.55, "alpha": 10.58 * 7, "s": 0.61, "beta": 11.67 * 7}  # CDNOW's estimates, in days
    rng = np.random.default_rng(0)
    T = rng.integers(1, 365, n).astype(float)
    sim = ParetoNBD.simulate(truth, T, rng=rng)
    t0 = time.perf_counter()
    model = ParetoNBD(resolution=0.1).fit(sim[["frequency", "recency", "T"]])  # times rounded to 0.1 day
    ours_t = time.perf_counter() - t0
    print(
        f"\n[4] Pareto/NBD on {n:,} simulated customers (days, resolution 0.1 day): fit {ours_t:.2f} s "
        f"(compression included), {model.n_unique_:,} unique rows"
    )
    print("  estimates:", {k: round(v, 4) for k, v in model.params_.items()}, " truth:", truth)
    sub = sim.iloc[:5000]
    t0 = time.perf_counter()
    ParetoNBD().fit(sub)
    ours_sub = time.perf_counter() - t0
    t0 = time.perf_counter()
    lifetimes.ParetoNBDFitter().fit(sub["frequency"], sub["recency"], sub["T"])
    ref_sub = time.perf_counter() - t0
    print(
        f"  5,000-customer subset: ours {ours_sub * 1e3:.0f} ms, lifetimes {ref_sub * 1e3:.0f} ms "
        f"(x{ref_sub / ours_sub:.1f}); lifetimes on {n:,} would take ~{ref_sub * n / 5000:.0f} s by its per-row cost"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", action="store_true", help="fewer repeats and 100,000 simulated customers")
    parser.add_argument("--n", type=int, default=None, help="simulated customers for the scale test")
    parser.add_argument("--parts", default="1,2,3,4", help="sections to run, e.g. 1,2")
    parser.add_argument("--repeats", type=int, default=None, help="interleaved pairs in [1] (x3 in [2])")
    args = parser.parse_args()
    n = args.n or (100_000 if args.small else 1_000_000)
    repeats = args.repeats or (3 if args.small else 7)
    parts = {int(p) for p in args.parts.split(",")}
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()}")
    with warnings.catch_warnings():  # lifetimes' own deprecation noise, in this script only
        warnings.simplefilter("ignore")
        import lifetimes

        if 1 in parts:
            bench_pareto(lifetimes, repeats)
        if 2 in parts:
            bench_bgbb(lifetimes, 3 * repeats)
        if 3 in parts:
            bench_compare(max(1, repeats // 2))
        if 4 in parts:
            bench_scale(lifetimes, n)
    print(f"\nload average after: {os.getloadavg()}; peak RSS {_peak_mb():.0f} MB")


if __name__ == "__main__":
    main()
