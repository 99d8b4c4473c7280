"""Benchmark: scoring customers end to end from a synthetic feature table (socialvalue.models).

Stages timed separately (seconds) and together through ``score_frame``: RFM scores + segments, segment summary,
lifecycle stages, model-based churn risk + reasons, churn classifier fit / predict / reasons for the alerts,
behavioural clusters, value coefficient + distribution, tiers + summary. Peak memory from getrusage.

Peers measured in the same run:
* RFM: the usual pandas recipe — ``pd.qcut(x.rank(method="first"), 5, labels=False)`` three times and a
  regex segment map on the "RF" string (``Series.replace(regex=True)``);
* clusters: scikit-learn ``KMeans`` fitted on all rows with the chosen k (we fit on a sample and assign all),
  with the agreement of the two labelings (adjusted Rand).

Usage: ``.venv/bin/python benchmarks/scoring.py [--small] [--n N]``
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pandas as pd

from socialvalue.models._synthetic import synthetic_features
from socialvalue.models._threads import limited_threads
from socialvalue.models.churn import ChurnClassifier, model_churn_risk
from socialvalue.models.churn_reasons import model_reasons
from socialvalue.models.clusters import BehaviouralClusters
from socialvalue.models.lifecycle import lifecycle_stage
from socialvalue.models.rfm import assign_segments, rfm_scores, segment_summary
from socialvalue.models.scoring import load_scoring_config, score_frame
from socialvalue.models.tiers import assign_tiers, tier_summary
from socialvalue.models.value_coefficient import value_coefficient, value_coefficient_distribution

_TUTORIAL_MAP = {  # the widely copied R x F regex map
    r"[1-2][1-2]": "hibernating",
    r"[1-2][3-4]": "at_risk",
    r"[1-2]5": "cant_loose",
    r"3[1-2]": "about_to_sleep",
    r"33": "need_attention",
    r"[3-4][4-5]": "loyal_customers",
    r"41": "promising",
    r"51": "new_customers",
    r"[4-5][2-3]": "potential_loyalists",
    r"5[4-5]": "champions",
}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, results: dict, fn, *args, **kwargs):
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    results[label] = time.perf_counter() - start
    print(f"  {label:<42s} {results[label]:8.2f} s   (peak RSS {peak_mb():7.0f} MB)", flush=True)
    return value


def tutorial_rfm(frame: pd.DataFrame) -> pd.Series:
    bought = frame[frame["n_orders"] > 0]
    r = pd.qcut(bought["days_since_last_purchase"].rank(method="first"), 5, labels=[5, 4, 3, 2, 1])
    f = pd.qcut(bought["n_orders"].rank(method="first"), 5, labels=[1, 2, 3, 4, 5])
    m = pd.qcut(bought["total_spend"].rank(method="first"), 5, labels=[1, 2, 3, 4, 5])
    rf = r.astype(str) + f.astype(str)
    _cell = rf + m.astype(str)
    return rf.replace(_TUTORIAL_MAP, regex=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="50,000 customers instead of 1,000,000")
    parser.add_argument("--n", type=int, default=None, help="number of customers")
    args = parser.parse_args()
    n = args.n or (50_000 if args.small else 1_000_000)
    cfg = load_scoring_config()
    t: dict[str, float] = {}
    print(f"socialvalue scoring benchmark: {n:,} customers")
    calib, _ = timed("synthetic feature table (calibration)", t, synthetic_features, n, seed=1)
    features, out = timed("synthetic feature table (as_of)", t, synthetic_features, n, seed=2)
    p_alive, clv = out["p_alive"].to_numpy(), out["clv"].to_numpy()
    print(
        f"  feature table: {features.shape[1]} columns, {features.memory_usage(deep=True).sum() / 2**20:.0f} MB"
    )

    print("stages")
    scores = timed("rfm scores", t, rfm_scores, features, config=cfg.rfm)
    segments = timed("rfm segments (validated map)", t, assign_segments, scores, cfg.segments, config=cfg.rfm)
    timed(
        "segment summary",
        t,
        segment_summary,
        scores.assign(rfm_segment=segments).join(features[["total_spend"]]),
        clv=clv,
    )
    timed("lifecycle stages", t, lifecycle_stage, features, p_alive, config=cfg.lifecycle)
    risk = timed(
        "churn risk, model-based", t, model_churn_risk, p_alive, out["expected_transactions"].to_numpy()
    )
    k = int(np.ceil(cfg.churn.alert_budget * n))
    alerts = np.argsort(-risk, kind="stable")[:k]
    timed(
        f"churn reasons, model-based ({k:,} alerts)", t, model_reasons, features.iloc[alerts], p_alive[alerts]
    )
    model = timed("churn classifier fit (calibration frame)", t, ChurnClassifier(config=cfg.churn).fit, calib)
    risk_c = timed("churn classifier predict (as_of)", t, model.predict_risk, features)
    alerts_c = np.argsort(-risk_c, kind="stable")[:k]
    timed(f"churn reasons, classifier ({k:,} alerts)", t, model.explain, features.iloc[alerts_c])
    clusters = timed(
        "clusters fit (k chosen) + assign", t, BehaviouralClusters(config=cfg.clusters).fit, features
    )
    vc = timed("value coefficient", t, value_coefficient, features, clv, config=cfg.value_coefficient)
    timed("value coefficient distribution by segment", t, value_coefficient_distribution, vc, by=segments)
    tiers = timed("tiers", t, assign_tiers, clv, cfg.tiers)
    timed("tier summary", t, tier_summary, tiers, features["total_spend"].to_numpy(), basis=clv)
    end = timed(
        "score_frame end to end (classifier given)",
        t,
        score_frame,
        features,
        p_alive=p_alive,
        clv=clv,
        expected_transactions=out["expected_transactions"],
        clv_lower=out["clv_lower"],
        clv_upper=out["clv_upper"],
        config=cfg,
        churn_model=model,
    )
    print("  score_frame stages: " + ", ".join(f"{s} {v:.2f} s" for s, v in end.attrs["timings"].items()))

    print("peers")
    timed("pandas qcut + regex map recipe (RFM)", t, tutorial_rfm, features)
    ours = t["rfm scores"] + t["rfm segments (validated map)"]
    print(
        f"  ratio ours / pandas recipe (RFM + segments): {ours / t['pandas qcut + regex map recipe (RFM)']:.2f}"
    )
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    z = clusters._transform(clusters._raw(features, clusters.features_))
    with limited_threads(cfg.clusters.threads):
        full = timed(
            f"sklearn KMeans on all rows (k={clusters.k_})",
            t,
            KMeans(n_clusters=clusters.k_, n_init=cfg.clusters.n_init, random_state=0).fit,
            z,
        )
    ari = adjusted_rand_score(full.labels_, clusters.labels_)
    ratio = t["clusters fit (k chosen) + assign"] / t[f"sklearn KMeans on all rows (k={clusters.k_})"]
    print(f"  ratio ours (incl. choosing k) / KMeans on all rows: {ratio:.2f}; agreement ARI {ari:.3f}")

    print("summary")
    print(
        f"  churn classifier holdout: AUC {model.report_.auc:.3f} vs recency alone {model.report_.auc_recency:.3f}, "
        f"top-decile lift {model.report_.top_decile_lift:.2f}, precision@{cfg.churn.alert_budget:.0%} "
        f"{model.report_.precision_at_budget:.3f}"
    )
    print(
        f"  clusters: k={clusters.k_} chosen by {cfg.clusters.selection}; names: {list(clusters.profile_['name'])}"
    )
    print(
        f"  score_frame: {t['score_frame end to end (classifier given)']:.1f} s for {n:,} customers "
        f"({n / t['score_frame end to end (classifier given)']:,.0f} customers/s)"
    )
    print(f"  peak RSS {peak_mb():.0f} MB")


if __name__ == "__main__":
    main()
