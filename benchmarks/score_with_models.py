"""Benchmark of scoring a new date with stored models (issue 15) against a full run, and of the churn trees.

Generates a demo store, runs the pipeline as of 2026-04-01 (which stores its models in ``_models``), then as of
2026-07-01 both scores with those models (``score_with_models``: nothing refitted) and runs the whole pipeline
(refitting), each on its own copy of the store. Prints the seconds per stage of the three, the size of the
stored models, and the churn classifier's prediction time with its trees evaluated by numpy
(``TreeEnsemble``) against scikit-learn's ``predict_proba`` on the same rows (largest difference too). Usage::

    .venv/bin/python benchmarks/score_with_models.py                     # 50,000 customers
    .venv/bin/python benchmarks/score_with_models.py --customers 200000
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

FIT_AS_OF, NEW_AS_OF = "2026-04-01", "2026-07-01"


def main() -> None:
    import numpy as np

    from socialvalue import Store
    from socialvalue.demo import generate
    from socialvalue.engine import build
    from socialvalue.models.churn import ChurnClassifier, churn_design
    from socialvalue.pipeline import run_pipeline, score_with_models

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=50_000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="sv_score_bench_"))
    try:
        base = root / "base.duckdb"
        with Store(base) as store:
            generate(args.customers, seed=7).load_into(store)
            t0 = time.perf_counter()
            fitted = run_pipeline(store, FIT_AS_OF)
            t_fit = time.perf_counter() - t0
            sizes = dict(
                store.con.execute(
                    "SELECT role, length(json) FROM _models WHERE run_id = ? ORDER BY role", [fitted.run_id]
                ).fetchall()
            )
        results = {"customers": args.customers, f"run {FIT_AS_OF} (fits)": (t_fit, fitted.timings)}
        for label, call in (
            (
                f"score {NEW_AS_OF} with stored models",
                lambda s: score_with_models(s, NEW_AS_OF, fitted.run_id),
            ),
            (f"run {NEW_AS_OF} (refits)", lambda s: run_pipeline(s, NEW_AS_OF)),
        ):
            path = root / "copy.duckdb"
            shutil.copyfile(base, path)
            with Store(path) as store:
                t0 = time.perf_counter()
                res = call(store)
                results[label] = (time.perf_counter() - t0, res.timings)
            path.unlink()
        for label, value in results.items():
            if label == "customers":
                print(f"customers: {value:,}")
                continue
            total, timings = value
            stages = ", ".join(f"{k} {v:.1f}" for k, v in timings.items())
            print(f"{label}: {total:.1f} s ({stages})")
        print(f"stored models: {sum(sizes.values()) / 1e6:.2f} MB of JSON ({json.dumps(sizes)})")

        # the churn classifier: numpy's walk of its trees against scikit-learn's predictor, on the same rows
        with Store(base, read_only=True) as store:
            cal = build(store, as_of="2025-10-01", unit="W", holdout_end=FIT_AS_OF, materialize=False)
            now = build(store, as_of=FIT_AS_OF, unit="W", materialize=False)
        clf = ChurnClassifier().fit(cal[cal["frequency"].notna()].reset_index(drop=True))
        X = churn_design(now, clf.features_)[clf.features_].to_numpy()
        t0 = time.perf_counter()
        sk = clf.model_.predict_proba(X)[:, 1]
        t_sk = time.perf_counter() - t0
        t0 = time.perf_counter()
        mine = clf.trees_.predict_proba(X)
        t_np = time.perf_counter() - t0
        print(
            f"churn trees ({clf.trees_.n_trees} trees, {len(X):,} rows, {np.isnan(X).mean():.0%} missing): "
            f"numpy {t_np:.2f} s, scikit-learn {t_sk:.2f} s, largest difference {np.max(np.abs(mine - sk)):.1e}"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
