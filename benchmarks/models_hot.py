"""Benchmark: the models' hot spots of a pipeline run (issue 16), before and after, on 200,000 customers.

Each hot spot is timed on the same synthetic inputs, in this checkout and (``--before``) in another source tree,
e.g. a git worktree of the commit before the change (``git worktree add /tmp/wt_before <commit>``), run in a
fresh process with that tree's ``src`` first on ``sys.path``, in paired rounds of alternating order (the
machine is shared: both trees of a round meet the same load), and the best time of each is kept. The outputs of
both are saved and compared: the table prints the largest relative difference of each hot spot's output (0 =
bit for bit).

Hot spots (inputs):

``churn_fit``
    ``ChurnClassifier().fit`` on :func:`socialvalue.models._synthetic.synthetic_features` (two scikit-learn
    fits, the holdout report, the ablation importance), thread limit entered first in this process.
``churn_importance``
    The fit's ablation part alone: ``_ablate`` of 2,000 customers on every feature.
``churn_risk``
    ``predict_risk`` of every customer (what ``ChurnChampion.risk`` calls).
``churn_explain``
    ``explain`` of the 10% highest risks (what ``score_frame`` calls on the alerts).
``churn_gain_interval``
    The contest's paired bootstrap of the AUC gain (500 draws) of the classifier over recency, on the
    classifier's held-out customers.
``thread_scan``
    A fresh process's first ``limited_threads`` (the threadpoolctl scan and what it imports), alone and with
    the import of ``sklearn.ensemble`` the churn fit makes anyway.
``clv_point`` / ``clv_delta``
    ``GammaGamma.predict_clv`` of a BG/NBD (continuous discounting at 10% a year, weekly data) without and with
    the 90% delta-method interval; customers simulated from the 200k demo shop's fitted parameters.
``social_value_fit``
    ``CustomerSocialValue.fit`` with the pipeline's eleven components (200 bootstrap resamples).

Usage::

    .venv/bin/python benchmarks/models_hot.py [--n 200000] [--before /tmp/wt_before] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

#: The 200k demo shop's fitted purchase and spend models (weeks), from which the CLV customers are simulated.
_BGNBD = {"r": 0.5223, "alpha": 0.9816, "a": 0.7627, "b": 7.9318}
_GAMMA_GAMMA = {"p": 5.241, "q": 3.966, "v": 35.88}

#: The social-value components the pipeline learns weights for (stage_social).
_COMPONENTS = (
    "clv",
    "crv",
    "civ",
    "interaction_score",
    "content_score",
    "loyalty_score",
    "n_orders_365d",
    "spend_365d",
    "orders_growth_90d",
    "audience_orders_365d",
    "audience_spend_365d",
)

_SCAN = """
import json, time
t0 = time.perf_counter()
from socialvalue.models import _threads
t1 = time.perf_counter()
_threads._controller("sklearn")
t2 = time.perf_counter()
import sklearn.ensemble
t3 = time.perf_counter()
print(json.dumps({"scan": t2 - t1, "scan_and_ensemble": t3 - t1}))
"""


def _best(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _clv_data(n: int) -> Any:
    import numpy as np
    import pandas as pd

    from socialvalue.models.btyd import BetaGeo, GammaGamma

    rng = np.random.default_rng(7)
    T = rng.integers(7, 3 * 365, n) / 7.0  # whole days, in weeks
    sim = BetaGeo.simulate(_BGNBD, T, rng=rng)
    x = sim["frequency"].to_numpy().astype(float)
    spend = GammaGamma.simulate(_GAMMA_GAMMA, sim["frequency"].to_numpy(), rng=rng)
    return pd.DataFrame(
        {
            "frequency": x,
            "recency": np.floor(sim["recency"].to_numpy() * 7) / 7,
            "T": T,
            "monetary_value": spend["monetary_value"].to_numpy(),
        }
    )


def _social_inputs(n: int) -> tuple[Any, Any]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    X = pd.DataFrame(
        {
            "clv": rng.gamma(0.8, 120.0, n),
            "crv": rng.gamma(0.3, 20.0, n) * (rng.random(n) < 0.2),
            "civ": rng.gamma(0.3, 15.0, n) * (rng.random(n) < 0.3),
            "interaction_score": rng.gamma(1.0, 1.0, n),
            "content_score": rng.gamma(0.5, 1.0, n) * (rng.random(n) < 0.4),
            "loyalty_score": rng.uniform(0, 1, n),
            "n_orders_365d": rng.poisson(3.0, n).astype(float),
            "spend_365d": rng.gamma(1.0, 150.0, n),
            "orders_growth_90d": rng.poisson(0.5, n).astype(float),
            "audience_orders_365d": rng.poisson(2.0, n).astype(float),
            "audience_spend_365d": rng.gamma(0.5, 100.0, n),
        }
    )
    y = (
        0.4 * X["clv"]
        + 0.8 * X["crv"]
        + 0.5 * X["civ"]
        + 0.2 * X["spend_365d"]
        + 5 * X["n_orders_365d"]
        + rng.gamma(0.5, 60.0, n)
    ).to_numpy()
    return X, y


def measure(n: int, repeats: int, out: Path) -> dict[str, float]:
    """Time every hot spot with the ``socialvalue`` on ``sys.path``; save each output to ``out`` (npz)."""
    import numpy as np

    from socialvalue.models._synthetic import synthetic_features
    from socialvalue.models.churn import ChurnClassifier
    from socialvalue.models.churn_choice import _baseline_score, _gain_interval
    from socialvalue.social.customer_value import CustomerSocialValue

    seconds: dict[str, float] = {}
    results: dict[str, np.ndarray] = {}
    scan = json.loads(
        subprocess.run([sys.executable, "-c", _SCAN], capture_output=True, text=True, check=True).stdout
    )
    seconds["thread_scan"] = scan["scan"]
    seconds["thread_scan_and_ensemble_import"] = scan["scan_and_ensemble"]

    features, _ = synthetic_features(n, seed=7)
    seconds["churn_fit"], clf = _best(lambda: ChurnClassifier().fit(features), repeats)
    sample = features.iloc[np.random.default_rng(0).permutation(n)[:2000]]
    design = clf._design(sample)
    seconds["churn_importance"], imp = _best(lambda: clf._ablate(design, clf.features_), repeats)
    results["churn_importance"] = imp.to_numpy()
    seconds["churn_risk"], risk = _best(lambda: clf.predict_risk(features), repeats)
    results["churn_risk"] = risk
    alerts = features.iloc[np.argsort(-risk, kind="stable")[: n // 10]]
    seconds["churn_explain"], reasons = _best(lambda: clf.explain(alerts), repeats)
    results["churn_explain"] = np.array(reasons.tolist(), dtype=str)

    held = clf.holdout_mask_
    y = features["holdout_transactions"].to_numpy()[held] == 0
    recency = _baseline_score("recency", features.loc[held], clf._cfg())
    seconds["churn_gain_interval"], interval = _best(
        lambda: _gain_interval(y, clf.holdout_risk_, recency, draws=500, level=0.95, seed=1), repeats
    )
    results["churn_gain_interval"] = np.array(interval)

    from socialvalue.models.btyd import BetaGeo, GammaGamma

    data = _clv_data(n)
    bg = BetaGeo().fit(data)
    gg = GammaGamma().fit(data[data["frequency"] > 0])
    rate = float(np.log(1.1) / (365.25 / 7))
    kwargs = {"margin": 0.3, "discount_rate": rate, "method": "continuous"}
    seconds["clv_point"], point = _best(lambda: gg.predict_clv(bg, data, **kwargs), repeats)
    results["clv_point"] = point.to_numpy()
    seconds["clv_delta"], delta = _best(lambda: gg.predict_clv(bg, data, interval=0.9, **kwargs), repeats)
    results["clv_delta"] = delta.to_numpy()

    X, target = _social_inputs(n)
    seconds["social_value_fit"], csv = _best(
        lambda: CustomerSocialValue(components=_COMPONENTS).fit(X, target), repeats
    )
    results["social_value_fit"] = np.concatenate(
        [
            csv.weights_.to_numpy(),
            csv.weight_intervals_.to_numpy().ravel(),
            csv.published_weights_.to_numpy(),
            [csv.intercept_, csv.report_.cv_rmse],
        ]
    )
    np.savez(out, **results)
    return seconds


def _max_rel(a: Any, b: Any) -> float:
    import numpy as np

    if a.shape != b.shape:
        return float("inf")
    if a.dtype.kind not in "fiu":  # text: equal or not
        return 0.0 if np.array_equal(a, b) else float("inf")
    both_nan = np.isnan(a) & np.isnan(b) if a.dtype.kind == "f" else np.zeros(a.shape, bool)
    diff = np.abs(a - b) / np.maximum(np.abs(a), np.finfo(float).tiny)
    diff = np.where(both_nan | (a == b), 0.0, diff)
    return float(np.max(diff)) if diff.size else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="customers (at most 200,000 on a shared host)")
    parser.add_argument("--before", type=Path, default=None, help="a source tree (worktree) to compare with")
    parser.add_argument("--repeats", type=int, default=3, help="paired rounds; the best of each is kept")
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:  # one round for one tree: its src is first on sys.path
        print(json.dumps(measure(args.n, 1, args.child)))
        return

    trees = {"after": REPO} if args.before is None else {"before": args.before, "after": REPO}
    best: dict[str, dict[str, float]] = {label: {} for label in trees}
    loads = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            # rounds alternate the order, so that both trees meet the same load on a shared machine
            for label in list(trees) if r % 2 == 0 else list(reversed(trees)):
                env = {**os.environ, "PYTHONPATH": str(Path(trees[label]) / "src")}
                cmd = [
                    sys.executable,
                    __file__,
                    "--n",
                    str(args.n),
                    "--child",
                    str(Path(tmp) / f"{label}.npz"),
                ]
                proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
                seconds = json.loads(proc.stdout.strip().splitlines()[-1])
                for name, s in seconds.items():
                    best[label][name] = min(s, best[label].get(name, float("inf")))
                loads.append(os.getloadavg()[0])
        import numpy as np

        print(
            f"models hot spots: {args.n:,} customers, best of {args.repeats} round(s), "
            f"load average {min(loads):.1f}-{max(loads):.1f}"
        )
        if "before" not in best:
            for name, s in best["after"].items():
                print(f"  {name:<34s} {s:8.3f} s")
            return
        old, new = (np.load(Path(tmp) / f"{label}.npz") for label in ("before", "after"))
        print(f"  {'hot spot':<34s} {'before':>9s} {'after':>9s} {'speed-up':>9s}  max rel. difference")
        for name, before in best["before"].items():
            after = best["after"][name]
            same = f"{_max_rel(old[name], new[name]):.1e}" if name in old.files else ""
            print(f"  {name:<34s} {before:8.3f}s {after:8.3f}s {before / after:8.1f}x  {same}")


if __name__ == "__main__":
    main()
