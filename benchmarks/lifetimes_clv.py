"""Benchmark: lifetimes' 12-month CLV call, ``sv.lifetimes_clv`` versus lifetimes 0.11.3 (same run, same machine).

1. CDNOW 1/10 sample, daily summary computed by lifetimes from the raw log (39 calibration weeks): fit
   lifetimes' BetaGeoFitter + GammaGammaFitter, copy their parameters into ours, and time
   ``GammaGammaFitter.customer_lifetime_value(bgf, ..., time=12, discount_rate=0.01, freq="D")`` against
   ``sv.lifetimes_clv(bg, gg, data, time=12, discount_rate=0.01, freq="D")``; print the largest relative
   difference over all customers.
2. Scale: N simulated customers (default 1 million, days): ours on all of them, lifetimes on the first
   ``--lifetimes-rows`` (default 100,000) with its time per customer extrapolated.

Usage::

    .venv/bin/python benchmarks/lifetimes_clv.py [--n N] [--lifetimes-rows M]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
import pandas as pd

import socialvalue as sv
from socialvalue.datasets import cdnow
from socialvalue.models.btyd import BetaGeo, GammaGamma


def _median(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _transplant(model, params) -> object:
    """Our fitted ``model`` carrying lifetimes' parameter values (the covariance is kept for intervals)."""
    twin = type(model).from_json(model.to_json())
    twin._set_fitted(
        params=np.array([float(params[k]) for k in model._param_names]),
        cov_log=model._cov_log_,
        log_likelihood=model.log_likelihood_,
        n_obs=model.n_obs_,
        n_unique=model.n_unique_,
        n_iter=0,
    )
    return twin


def _lifetimes_pair(data: pd.DataFrame):
    import lifetimes

    lbg = lifetimes.BetaGeoFitter().fit(data["frequency"], data["recency"], data["T"])
    rep = data[data["frequency"] > 0]
    lgg = lifetimes.GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"])
    return lbg, lgg


def _theirs(lbg, lgg, data: pd.DataFrame) -> pd.Series:
    return lgg.customer_lifetime_value(
        lbg,
        data["frequency"],
        data["recency"],
        data["T"],
        data["monetary_value"],
        time=12,
        discount_rate=0.01,
        freq="D",
    )


def bench_cdnow() -> None:
    from lifetimes.utils import summary_data_from_transaction_data

    daily = summary_data_from_transaction_data(
        cdnow.read_log(),
        "customer_id",
        "date",
        monetary_value_col="dollar_value",
        observation_period_end="1997-09-30",
        freq="D",
    )
    lbg, lgg = _lifetimes_pair(daily)
    bg = _transplant(BetaGeo().fit(daily), lbg.params_)
    gg = _transplant(GammaGamma().fit(daily), lgg.params_)
    ref = _theirs(lbg, lgg, daily)
    ours = sv.lifetimes_clv(bg, gg, daily, time=12, discount_rate=0.01, freq="D")
    diff = float(np.max(np.abs(ours.to_numpy() / ref.to_numpy() - 1)))
    t_ref = _median(lambda: _theirs(lbg, lgg, daily), 5)
    t_ours = _median(lambda: sv.lifetimes_clv(bg, gg, daily), 20)
    t_band = _median(lambda: sv.lifetimes_clv(bg, gg, daily, interval=0.9), 5)
    print(
        f"== CDNOW 1/10 sample, lifetimes' daily summary: {len(daily):,} customers, time=12, 0.01, freq='D' =="
    )
    print(f"lifetimes customer_lifetime_value: {t_ref * 1e3:.1f} ms (median of 5)")
    print(f"sv.lifetimes_clv:                  {t_ours * 1e3:.1f} ms (median of 20): {t_ref / t_ours:.1f}x")
    print(f"sv.lifetimes_clv with 90% interval: {t_band * 1e3:.1f} ms")
    print(f"max relative difference over all customers: {diff:.2e}; total CLV {ours.sum():,.2f}")


def bench_scale(n: int, lifetimes_rows: int) -> None:
    rng = np.random.default_rng(0)
    T = 365.0 - rng.integers(0, 84, size=n)
    sim = BetaGeo.simulate({"r": 0.25, "alpha": 30.0, "a": 0.8, "b": 2.5}, T, rng)
    spend = GammaGamma.simulate({"p": 6.0, "q": 3.8, "v": 15.0}, sim["frequency"].to_numpy(), rng)
    data = pd.DataFrame(
        {
            "frequency": sim["frequency"].to_numpy().astype(float),
            "recency": np.floor(sim["recency"].to_numpy()),
            "T": T,
            "monetary_value": np.round(spend["monetary_value"].to_numpy(), 2),
        }
    )
    bg, gg = BetaGeo().fit(data), GammaGamma(resolution=0.01).fit(data)
    t0 = time.perf_counter()
    ours = sv.lifetimes_clv(bg, gg, data)
    t_ours = time.perf_counter() - t0
    print(f"\n== {n:,} simulated customers (days), time=12, freq='D' ==")
    print(f"sv.lifetimes_clv on all: {t_ours:.2f} s")
    if lifetimes_rows:
        import lifetimes

        part = data.iloc[:lifetimes_rows]
        lbg, lgg = lifetimes.BetaGeoFitter(), lifetimes.GammaGammaFitter()
        lbg.params_ = pd.Series(bg.params_)
        lbg.predict = lbg.conditional_expected_number_of_purchases_up_to_time  # what lifetimes' fit sets
        lgg.params_ = pd.Series(gg.params_)
        t0 = time.perf_counter()
        ref = _theirs(lbg, lgg, part)
        t_ref = time.perf_counter() - t0
        diff = float(np.max(np.abs(ours.iloc[:lifetimes_rows].to_numpy() / ref.to_numpy() - 1)))
        scaled = t_ref * n / lifetimes_rows
        print(
            f"lifetimes on {lifetimes_rows:,}: {t_ref:.2f} s (-> {scaled:.1f} s for {n:,} at the same rate: "
            f"{scaled / t_ours:.0f}x); max relative difference {diff:.2e}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--lifetimes-rows", type=int, default=100_000)
    args = parser.parse_args()
    with warnings.catch_warnings():  # lifetimes' own deprecation noise, not ours
        warnings.simplefilter("ignore", DeprecationWarning)
        bench_cdnow()
        bench_scale(args.n, args.lifetimes_rows)


if __name__ == "__main__":
    main()
