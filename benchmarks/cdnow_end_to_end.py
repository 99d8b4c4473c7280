"""Benchmark: CDNOW end to end, raw transaction log → store → features → BTYD, Gamma-Gamma and churn figures.

The packaged CDNOW 1/10 sample (2,357 customers, 6,919 log rows; Fader, Hardie & Lee 2005) goes through
``cdnow.load_transactions`` → ``Store.ingest`` (a DuckDB file in a temporary folder) →
``engine.build(as_of="1997-10-01", unit="W", holdout_end="1998-07-01")``, then:

1. Data path: ingest and feature-build times, against lifetimes' ``calibration_and_holdout_data`` on the
   same log (timed in the same run).
2. BG/NBD, Pareto/NBD and Gamma-Gamma estimates on the feature table next to the published ones, with fit
   times against lifetimes' fitters on the same table and the largest relative parameter difference.
3. Holdout (weeks 40-78): predicted vs actual total repeat transactions, and the conditional expectations by
   calibration frequency 0..7+ (FHL 2005, fig. 4).
4. Churn (= no purchase in the 39-week holdout): AUC, top-decile lift and precision at a 10% alert budget of
   the ``ChurnClassifier`` (its own ``report_`` on 30% of its training customers, and on a fixed 30% of
   customers it never saw), of the BTYD risks and of recency alone, on those unseen customers.

Usage::

    .venv/bin/python benchmarks/cdnow_end_to_end.py [--small]

``--small`` times each step once and skips lifetimes' Pareto/NBD fit (the slowest peer step).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from socialvalue import Store
from socialvalue.datasets import cdnow, ingest_tables
from socialvalue.engine import build
from socialvalue.models import (
    BetaGeo,
    ChurnClassifier,
    ChurnConfig,
    GammaGamma,
    ParetoNBD,
    churn_report,
    model_churn_risk,
)
from socialvalue.models.btyd.diagnostics import conditional_expectations, holdout_errors
from socialvalue.models.churn import churn_design, load_churn_config

CAL_END, HOLDOUT_END, WEEKS = "1997-10-01", "1998-07-01", 39.0
PUBLISHED = {
    "BG/NBD": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "LL": -9582.4},
    "Pareto/NBD": {"r": 0.553, "alpha": 10.58, "s": 0.606, "beta": 11.67, "LL": -9594.98},
    "Gamma-Gamma": {"p": 6.25, "q": 3.74, "v": 15.44},
}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def data_path(folder: Path, repeats: int, lifetimes: Any) -> pd.DataFrame:
    """Ingest + build (ours) vs lifetimes' calibration/holdout summary of the same log."""
    print("1. Data path (raw log -> calibration/holdout feature table)")
    t_load, tables = _timed(cdnow.load_transactions, repeats)

    def ingest_and_build(run: int) -> tuple[float, float, pd.DataFrame]:
        """Ingest into a fresh DuckDB file and build the features: (ingest seconds, build seconds, table)."""
        with Store(folder / f"cdnow_{run}.duckdb") as store:
            t0 = time.perf_counter()
            ingest_tables(store, tables)
            t1 = time.perf_counter()
            feats = build(store, as_of=CAL_END, unit="W", holdout_end=HOLDOUT_END)
            return t1 - t0, time.perf_counter() - t1, feats

    runs = [ingest_and_build(run) for run in range(repeats)]
    t_ingest = statistics.median(r[0] for r in runs)
    t_build = statistics.median(r[1] for r in runs)
    features = runs[-1][2]

    log = cdnow.read_log()
    tx = pd.DataFrame({"id": log["customer_id"], "date": log["date"], "amount": log["dollar_value"]})
    t_ref, ref = _timed(
        lambda: lifetimes.utils.calibration_and_holdout_data(
            tx,
            "id",
            "date",
            calibration_period_end="1997-09-30",
            observation_period_end="1998-06-30",
            freq="D",
            freq_multiplier=7,
            monetary_value_col="amount",
        ),
        repeats,
    )
    ours = features.set_index("customer_id").loc[ref.index]
    same = bool((ours["holdout_transactions"].to_numpy() == ref["frequency_holdout"].to_numpy()).all())
    max_diff = max(
        float(np.max(np.abs(ours[c].to_numpy(float) - ref[f"{c}_cal"].to_numpy(float))))
        for c in ("frequency", "recency", "T", "monetary_value")
    )
    print(f"  load_transactions {t_load * 1e3:.0f} ms; Store.ingest {t_ingest * 1e3:.0f} ms; ", end="")
    print(f"engine.build ({features.shape[1]} columns) {t_build * 1e3:.0f} ms")
    print(
        f"  lifetimes calibration_and_holdout_data {t_ref * 1e3:.0f} ms (4 BTYD columns + holdout): "
        f"ours ingest+build x{t_ref / (t_ingest + t_build):.2f} of its speed; "
        f"max |diff| of the BTYD columns {max_diff:.1e}, holdout counts identical: {same}"
    )
    print(
        f"  customers {len(features):,}; calibration repeat transactions {int(features['frequency'].sum()):,}; "
        f"holdout repeat transactions {int(features['holdout_transactions'].sum()):,}"
    )
    return features


def _row(name: str, params: dict[str, float], ll: float | None, seconds: float) -> None:
    pub = PUBLISHED[name]
    cells = "  ".join(f"{k}={params[k]:.4f} ({pub[k]})" for k in params)
    tail = f"  LL={ll:.2f} ({pub['LL']})" if ll is not None and "LL" in pub else ""
    print(f"  {name:<11} {cells}{tail}  fit {seconds * 1e3:.0f} ms")


def models(features: pd.DataFrame, repeats: int, lifetimes: Any, small: bool) -> tuple[BetaGeo, ParetoNBD]:
    """Fits vs the published estimates and vs lifetimes on the same feature table."""
    print("\n2. Estimates on the feature table (published in parentheses) and lifetimes on the same data")
    x, tx, T = features["frequency"], features["recency"], features["T"]
    repeat = features[(features["frequency"] > 0) & (features["monetary_value"] > 0)]
    t_bg, bg = _timed(lambda: BetaGeo().fit(features), repeats)
    t_pn, pn = _timed(lambda: ParetoNBD().fit(features), repeats)
    t_gg, gg = _timed(lambda: GammaGamma().fit(repeat), repeats)
    _row("BG/NBD", bg.params_, bg.log_likelihood_, t_bg)
    _row("Pareto/NBD", pn.params_, pn.log_likelihood_, t_pn)
    _row("Gamma-Gamma", gg.params_, None, t_gg)
    print(f"  Gamma-Gamma on {int(gg.n_obs_)} repeat customers; E[spend] = ${gg.expected_spend():.2f}")

    peers = [
        ("BG/NBD", bg, t_bg, lambda: lifetimes.BetaGeoFitter().fit(x, tx, T)),
        (
            "Gamma-Gamma",
            gg,
            t_gg,
            lambda: lifetimes.GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"]),
        ),
    ]
    if not small:
        peers.insert(1, ("Pareto/NBD", pn, t_pn, lambda: lifetimes.ParetoNBDFitter().fit(x, tx, T)))
    for name, ours, t_ours, fit_ref in peers:
        t_ref, ref = _timed(fit_ref, max(1, repeats // 2))
        diff = max(abs(ours.params_[k] - ref.params_[k]) / abs(ref.params_[k]) for k in ours.params_)
        print(
            f"  lifetimes {name:<11} fit {t_ref * 1e3:.0f} ms (ours x{t_ref / t_ours:.1f} faster); "
            f"max relative parameter difference {diff:.1e}"
        )
    return bg, pn


def holdout(features: pd.DataFrame, bg: BetaGeo, pn: ParetoNBD) -> None:
    """Aggregate holdout forecast and FHL (2005) fig. 4."""
    print("\n3. Holdout, weeks 40-78")
    for name, model in (("BG/NBD", bg), ("Pareto/NBD", pn)):
        e = holdout_errors(model, features)
        print(
            f"  {name:<11} predicted {e['predicted_total']:.1f} vs actual {e['actual_total']:.0f} "
            f"({e['total_error']:+.1%}); per-customer MAE {e['mae']:.3f}, RMSE {e['rmse']:.3f}, corr {e['corr']:.3f}"
        )
    table = conditional_expectations(bg, features).join(
        conditional_expectations(pn, features)["model"].rename("pareto_nbd")
    )
    table = table.rename(columns={"model": "bg_nbd"})
    print("  mean holdout transactions by calibration frequency (FHL 2005, fig. 4):")
    print(table.round(3).to_string().replace("\n", "\n    ").join(["    ", ""]))


def churn(features: pd.DataFrame, bg: BetaGeo, pn: ParetoNBD) -> None:
    """Classifier vs BTYD risks vs recency on customers the classifier never saw."""
    print("\n4. Churn = no purchase in the 39-week holdout (alert budget 10%)")
    cfg = ChurnConfig(**{**load_churn_config().model_dump(), "horizon_days": 273})
    design = churn_design(features, cfg.features)
    usable = [c for c in design.columns if design[c].nunique() > 1]  # all-NULL/constant on CDNOW: dropped
    held = np.random.default_rng(1997).random(len(features)) < 0.3
    train, test = features.loc[~held], features.loc[held]
    t0 = time.perf_counter()
    clf = ChurnClassifier(config=cfg, features=usable).fit(train)
    t_clf = time.perf_counter() - t0

    def report(score: np.ndarray):
        return churn_report(
            test["holdout_transactions"].to_numpy() == 0,
            score,
            recency=test["days_since_last_purchase"].to_numpy(float),
        )

    p_bg, p_pn = bg.probability_alive(test).to_numpy(), pn.probability_alive(test).to_numpy()
    e_bg, e_pn = bg.predict_purchases(test, WEEKS).to_numpy(), pn.predict_purchases(test, WEEKS).to_numpy()
    rows = {
        "classifier, its report_ (30% of its training customers)": clf.report_,
        "classifier on unseen customers": clf.evaluate(test),
        "BG/NBD P(no purchase in 39 weeks)": report(model_churn_risk(p_bg, e_bg)),
        "BG/NBD 1 - P(alive)": report(model_churn_risk(p_bg)),
        "Pareto/NBD 1 - P(alive)": report(model_churn_risk(p_pn)),
        "Pareto/NBD P(no purchase in 39 weeks)": report(model_churn_risk(p_pn, e_pn)),
        "recency (days since last purchase) alone": report(test["days_since_last_purchase"].to_numpy(float)),
    }
    print(
        f"  classifier: {len(usable)} usable features, fitted on {len(train):,} customers in {t_clf:.2f} s; "
        f"scores below on {len(test):,} unseen customers (churn rate {rows['recency (days since last purchase) alone'].base_rate:.3f}) "
        "unless stated"
    )
    print(f"  {'score':<58}{'n':>6}{'AUC':>8}{'lift@10%':>10}{'prec@10%':>10}{'AUC recency':>13}")
    for name, r in rows.items():
        print(
            f"  {name:<58}{r.n:>6}{r.auc:>8.3f}{r.top_decile_lift:>10.3f}{r.precision_at_budget:>10.3f}"
            f"{r.auc_recency:>13.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--small", action="store_true", help="one timing per step, no lifetimes Pareto/NBD fit"
    )
    args = parser.parse_args()
    repeats = 1 if args.small else 5
    with warnings.catch_warnings():  # lifetimes' own deprecation noise, in this script only
        warnings.simplefilter("ignore")
        import lifetimes
        import lifetimes.utils

        with tempfile.TemporaryDirectory() as folder:
            features = data_path(Path(folder), repeats, lifetimes)
        bg, pn = models(features, repeats, lifetimes, args.small)
    holdout(features, bg, pn)
    churn(features, bg, pn)
    print(f"\npeak RSS {_peak_mb():.0f} MB")


if __name__ == "__main__":
    main()
