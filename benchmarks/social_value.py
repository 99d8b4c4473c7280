"""Customer social value on the demo data: does the learned CSV rank true total value better than CLV?

Pipeline (all as of the calibration end, 180 days before the demo's end):

1. generate the demo shop (``socialvalue.demo.generate``) and load it into an in-memory store;
2. feature table with a 180-day holdout (``engine.build``); BG/NBD + Gamma-Gamma revenue CLV;
3. social components as of the calibration end (``pipeline.social_inputs.social_components``);
4. fit ``CustomerSocialValue`` on half of the customers (target: ``holdout_revenue +
   holdout_network_revenue`` from the feature table) and evaluate on the other half against the **true**
   holdout value from the generator's ground truth: own holdout revenue + holdout revenue of the customers
   they referred + value of the holdout purchases they caused (``influence_events``);
5. compare the top influencers by CIV with the true top influencers (value caused in the CIV lookback year).

The "peer" is CLV alone (ratios CSV / CLV), and for influencer detection the follower count.

Run: ``.venv/bin/python benchmarks/social_value.py [--small] [--customers N] [--seed S]``
"""

from __future__ import annotations

import argparse
import logging
import resource
import time

import numpy as np
import pandas as pd

HOLDOUT_DAYS = 180


def run(n_customers: int, seed: int, graph: bool = False) -> dict:
    from socialvalue import Store, engine
    from socialvalue.demo import DEFAULT_END, generate
    from socialvalue.models.btyd import BetaGeo, GammaGamma, continuous_rate, customer_lifetime_value
    from socialvalue.pipeline.social_inputs import holdout_value, social_components
    from socialvalue.social.customer_value import (
        DEFAULT_COMPONENTS,
        CustomerSocialValue,
        holdout_target,
        ranking_metrics,
    )

    timings = {}
    t0 = time.perf_counter()
    data = generate(n_customers=n_customers, seed=seed)
    store = Store(":memory:")
    data.load_into(store)
    end = pd.Timestamp(DEFAULT_END)
    cal = end - pd.Timedelta(days=HOLDOUT_DAYS)
    feats = engine.build(store, as_of=cal, unit="D", calibration_end=cal, holdout_end=end, materialize=False)
    timings["generate+load+features"] = time.perf_counter() - t0

    t = time.perf_counter()
    buyers = feats.loc[feats["frequency"].notna()]
    bg = BetaGeo().fit(buyers)
    gg = GammaGamma().fit(buyers.loc[buyers["frequency"] > 0])
    clv = customer_lifetime_value(
        bg, gg, buyers, margin=1.0, discount_rate=continuous_rate(0.10, 365.25), method="continuous"
    )
    clv = pd.Series(clv.to_numpy(), index=buyers["customer_id"].to_numpy())
    timings["clv"] = time.perf_counter() - t

    t = time.perf_counter()
    comps = social_components(store, cal, clv=clv)
    timings["social_components"] = time.perf_counter() - t

    frame = feats[["customer_id", "holdout_revenue", "holdout_network_revenue", "followers"]].merge(
        comps, on="customer_id", how="left"
    )
    frame["clv"] = frame["customer_id"].map(clv).fillna(0.0).to_numpy()
    frame = frame.fillna(0.0)
    if graph:
        from socialvalue.social import Graph, influence_edges, influence_pagerank

        t = time.perf_counter()
        edges = influence_edges(
            data.relationships.to_pandas(), data.interactions.to_pandas(), as_of=cal.to_pydatetime()
        )
        pr = influence_pagerank(Graph.from_frame(edges))
        frame["pagerank"] = frame["customer_id"].map(pr).fillna(0.0).to_numpy() * len(pr)
        timings["pagerank"] = time.perf_counter() - t
    hv = holdout_value(store, cal, end).set_index("customer_id")["holdout_value"]
    frame["attributed_target"] = frame["customer_id"].map(hv).fillna(0.0).to_numpy()

    # True holdout value from the generator's ground truth.
    truth = data.truth.to_pandas()
    events = data.influence_events.to_pandas()
    orders = data.orders.to_pandas().astype({"amount": float})
    net = orders["status"].isin(["completed", "returned"]) & (orders["ordered_at"] >= cal)
    own_hold = orders.loc[net].groupby("customer_id")["amount"].sum().astype(float)
    ref_of = truth.set_index("customer_id")["referrer_id"].dropna()
    ref_hold = own_hold.reindex(ref_of.index).fillna(0.0).groupby(ref_of.to_numpy()).sum()
    caused_hold = events.loc[events["ordered_at"] >= cal].groupby("influencer_id")["value"].sum()
    frame["true_value"] = (
        frame["customer_id"].map(own_hold).fillna(0.0)
        + frame["customer_id"].map(ref_hold).fillna(0.0)
        + frame["customer_id"].map(caused_hold).fillna(0.0)
    ).to_numpy()

    rng = np.random.default_rng(seed)
    fit_half = rng.random(len(frame)) < 0.5
    train, test = frame.loc[fit_half], frame.loc[~fit_half]
    t = time.perf_counter()
    comps = (*DEFAULT_COMPONENTS, "pagerank") if graph else DEFAULT_COMPONENTS
    infl = ("civ", "pagerank") if graph else ("civ",)

    def csv_model() -> CustomerSocialValue:
        return CustomerSocialValue(
            components=comps, influencer_columns=infl, n_bootstrap=200, random_state=seed
        )

    model = csv_model().fit(train, holdout_target(train))
    timings["csv_fit"] = time.perf_counter() - t
    ev = model.evaluate(test, test["true_value"])
    # The same, with the weights learned on the attributed holdout value (own + referred + excess of exposed).
    model_attr = csv_model().fit(train, train["attributed_target"])
    ev_attr = model_attr.evaluate(test, test["true_value"])
    # And on the true holdout value of the training half (demo only: an upper reference).
    model_true = csv_model().fit(train, train["true_value"])
    ev_true = model_true.evaluate(test, test["true_value"])

    # Influencers: CIV (365-day lookback before cal) against the value truly caused in the same year.
    year = events.loc[(events["ordered_at"] < cal) & (events["ordered_at"] >= cal - pd.Timedelta(days=365))]
    true_inf = frame["customer_id"].map(year.groupby("influencer_id")["value"].sum()).fillna(0.0)
    # Top 5% of the scored customers, but no more than the customers who truly influenced anyone.
    k = max(1, min(int(0.05 * len(frame)), int((true_inf > 0).sum())))

    def top(s: pd.Series) -> set:
        return set(frame.loc[s.sort_values(ascending=False, kind="stable").index[:k], "customer_id"])

    true_top = top(true_inf)
    overlap_civ = len(top(frame["civ"]) & true_top) / k
    overlap_followers = len(top(frame["followers"].astype(float)) & true_top) / k
    influencers = model.transform(frame)
    flagged = set(frame.loc[influencers["influencer"].to_numpy(), "customer_id"])
    rank_civ = ranking_metrics(true_inf, frame["civ"])
    return {
        "n_customers": n_customers,
        "n_scored": len(frame),
        "n_train": int(fit_half.sum()),
        "report": model.report_,
        "eval": ev,
        "report_attr": model_attr.report_,
        "eval_attr": ev_attr,
        "report_true": model_true.report_,
        "eval_true": ev_true,
        "n_true_influencers": int((true_inf > 0).sum()),
        "k": k,
        "overlap_civ": overlap_civ,
        "overlap_followers": overlap_followers,
        "flag_recall": len(flagged & set(frame.loc[true_inf > 0, "customer_id"]))
        / max(int((true_inf > 0).sum()), 1),
        "n_flagged": len(flagged),
        "civ_spearman_true_influence": rank_civ.spearman,
        "civ_top_decile_capture": rank_civ.top_decile_capture,
        "timings": timings,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="3,000 customers instead of 20,000")
    parser.add_argument("--customers", type=int, default=None)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--graph", action="store_true", help="add influence PageRank as a component")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    n = args.customers or (3_000 if args.small else 20_000)
    out = run(n, args.seed, graph=args.graph)
    print(f"demo: {n} customers (seed {args.seed}), {out['n_scored']} scored, fit on {out['n_train']}")
    for key, label in (
        ("attr", "attributed holdout value (pipeline.social_inputs.holdout_value)"),
        ("report", "feature-table target holdout_revenue + holdout_network_revenue"),
        ("true", "TRUE holdout value (demo truth; reference only)"),
    ):
        rep = out["report"] if key == "report" else out[f"report_{key}"]
        print(f"-- weights learned on the {label}:")
        print("   " + rep.summary().replace("\n", "\n   "))
    b = out["eval"]["clv"]
    print(
        "held-out customers, ranking the TRUE holdout value (own + referred customers' + caused purchases):"
    )
    print(f"  {'score':<34}{'Spearman':>9}{'top-10%':>9}{'Gini':>7}   ratio to CLV (S / top / Gini)")
    rows = [("CLV alone", b)] + [
        (f"CSV, {name}", out[key]["csv"])
        for name, key in (
            ("attributed target", "eval_attr"),
            ("feature-table target", "eval"),
            ("true target", "eval_true"),
        )
    ]
    for name, m in rows:
        print(
            f"  {name:<34}{m.spearman:>9.3f}{m.top_decile_capture:>9.1%}{m.gini:>7.3f}   "
            f"{m.spearman / b.spearman:.2f}x / {m.top_decile_capture / b.top_decile_capture:.2f}x / "
            f"{m.gini / b.gini:.2f}x"
        )
    print(f"customers who truly caused purchases in the CIV lookback year: {out['n_true_influencers']}")
    print(
        f"top-{out['k']} influencers (true caused value, lookback year): overlap CIV {out['overlap_civ']:.1%} vs "
        f"followers {out['overlap_followers']:.1%} (ratio {out['overlap_civ'] / max(out['overlap_followers'], 1e-9):.2f}x); "
        f"{out['n_flagged']} flagged (top 5%) hold {out['flag_recall']:.1%} of the true influencers; CIV Spearman {out['civ_spearman_true_influence']:.3f}"
    )
    print("timings (s): " + ", ".join(f"{k} {v:.2f}" for k, v in out["timings"].items()))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: {peak:.0f} MB")


if __name__ == "__main__":
    main()
