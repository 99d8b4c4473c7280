"""Influence spread of every customer by RR sets, checked against Monte-Carlo cascades (cynetdiff and ours).

Graph: heavy-tailed 1M nodes / 10M edges (as benchmarks/pagerank.py) under the weighted cascade model
p_uv = w_uv / (total in-weight of v) (Kempe et al. 2003; the model of Tang et al.'s IMM experiments).

1. ``estimate_spread``: theta RR sets -> spread and 95% Clopper-Pearson interval for all n customers.
2. Monte Carlo for a sample of customers (the largest estimates and 10 random ones) with cynetdiff
   (Cython IC simulator) and with our vectorized simulator; agreement reported as z-scores and coverage.
3. IMM seeds (k=50) and the comparison with top-k by followers and by PageRank (evaluated on fresh RR sets).

Usage::

    .venv/bin/python benchmarks/influence.py            # 1M nodes / 10M edges, theta = 1M RR sets
    .venv/bin/python benchmarks/influence.py --small    # 100k nodes / 1M edges, theta = 100k
    .venv/bin/python benchmarks/influence.py --mc-repeats 5 --skip-imm   # issue 16: [2] timed 5 times, paired

With ``--mc-repeats R`` the Monte-Carlo comparison of [2] is timed R times, cynetdiff and ours alternating
which goes first (the machine is shared), and the speed-up is the median of the per-repeat ratios.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import psutil
from pagerank import peak_rss_gb, power_law_graph, timed

from socialvalue.social import (
    Graph,
    compare_seed_strategies,
    estimate_spread,
    imm_select_seeds,
    simulate_spread_each,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--sets", type=int, default=None, help="RR sets (default n)")
    ap.add_argument("--mc", type=int, default=None, help="Monte-Carlo cascades per top customer")
    ap.add_argument("--mc-random", type=int, default=5000, help="Monte-Carlo cascades per random customer")
    ap.add_argument("--top", type=int, default=None, help="largest-spread customers checked by Monte Carlo")
    ap.add_argument("--jobs", type=int, default=2, help="threads drawing RR sets")
    ap.add_argument("--k", type=int, default=50)
    ap.add_argument("--epsilon", type=float, default=0.2)
    ap.add_argument("--mc-repeats", type=int, default=1, help="paired timings of the Monte-Carlo comparison")
    ap.add_argument("--skip-imm", action="store_true", help="stop after the Monte-Carlo comparison")
    args = ap.parse_args()
    n, m = (100_000, 1_000_000) if args.small else (1_000_000, 10_000_000)
    theta = args.sets or n
    n_mc = args.mc or (1000 if args.small else 200)
    n_top = args.top or (10 if args.small else 5)
    print(f"machine: {psutil.cpu_count()} cores; load average {psutil.getloadavg()}")
    src, dst, w = power_law_graph(n, m)
    g, t_build, _ = timed(Graph.from_edges, src, dst, w, nodes=np.arange(n))
    del src, dst, w
    prob = g.weight / g.in_degree(weighted=True)[g.indices]
    print(f"graph: n={g.n:,} m={g.m:,}; build {t_build:.1f}s; weighted cascade p (mean {prob.mean():.3f})")

    est, wall, cpu = timed(estimate_spread, g, prob, n_sets=theta, random_state=1, n_jobs=args.jobs)
    print(
        f"\n[1] spread of all {g.n:,} customers from {theta:,} RR sets ({args.jobs} threads): wall {wall:.1f}s, "
        f"cpu {cpu:.1f}s; "
        f"peak RSS so far {peak_rss_gb():.2f} GB"
    )
    s = est["spread"].to_numpy()
    print(
        f"    mean spread {s.mean():.1f} (= mean RR set size), max {s.max():.0f}; "
        f"median 95% CI half-width among the top 1%: "
        f"{np.median((est['upper'] - est['lower']).to_numpy()[s >= np.quantile(s, 0.99)]) / 2:.1f}"
    )

    rng = np.random.default_rng(2)
    top = np.argsort(-s)[:n_top]
    rand = np.setdiff1d(rng.choice(n, 10, replace=False), top)
    sample = np.r_[top, rand]
    sims = np.r_[np.full(top.size, n_mc), np.full(rand.size, args.mc_random)]
    from cynetdiff.models import IndependentCascadeModel

    model = IndependentCascadeModel(
        g.indptr[:-1].astype(np.uint32),
        g.indices.astype(np.uint32),
        activation_probs=prob.astype(np.float32),
        rng=3,
    )

    def run_cynetdiff() -> np.ndarray:
        return np.array(
            [model.compute_marginal_gains([int(v)], [], int(r))[0] for v, r in zip(sample, sims, strict=True)]
        )

    def run_ours() -> pd.DataFrame:
        return pd.concat(
            [
                simulate_spread_each(g, prob, g.ids[top], n_sims=n_mc, random_state=6),
                simulate_spread_each(g, prob, g.ids[rand], n_sims=args.mc_random, random_state=7),
            ]
        )

    t_cyns, t_ourss = [], []
    for rep in range(args.mc_repeats):
        order = [("cyn", run_cynetdiff), ("ours", run_ours)]
        for name, fn in order if rep % 2 == 0 else order[::-1]:
            t0 = time.perf_counter()
            out = fn()
            dt = time.perf_counter() - t0
            if name == "cyn":
                cyn, t_cyn = out, dt
                t_cyns.append(dt)
            else:
                ours, t_ours = out, dt
                t_ourss.append(dt)
    ratios = [c / o for c, o in zip(t_cyns, t_ourss, strict=True)]
    t_cyn, t_ours = float(np.median(t_cyns)), float(np.median(t_ourss))
    mc_mean = ours["spread"].to_numpy()
    mc_se = ours["std_error"].to_numpy()
    rr_se = est["std_error"].to_numpy()[sample]
    z_cyn = (s[sample] - cyn) / np.sqrt(rr_se**2 + mc_se**2 + 1e-12)
    z_ours = (s[sample] - mc_mean) / np.sqrt(rr_se**2 + mc_se**2 + 1e-12)
    z_mc = (cyn - mc_mean) / np.sqrt(2 * mc_se**2 + 1e-12)
    print(
        f"\n[2] Monte Carlo: {n_mc} cascades for each of the {top.size} largest, {args.mc_random} for each of "
        f"{rand.size} random customers (the s.e. of a small customer's MC mean is itself noisy: its cascade "
        f"size is heavy-tailed, rarely reaching a hub)"
    )
    print(
        f"    cynetdiff {t_cyn:.1f}s, ours {t_ours:.1f}s (medians of {len(ratios)}); ratio cynetdiff/ours: median "
        f"{np.median(ratios):.2f} (each: {', '.join(f'{r:.2f}' for r in ratios)}); load average {psutil.getloadavg()}"
    )
    print(f"    {'node':>8}{'RR est':>10}{'RR 95% CI':>22}{'cynetdiff':>11}{'ours MC':>10}{'z(RR-cyn)':>11}")
    for i, v in enumerate(sample):
        ci = f"[{est['lower'].iat[v]:.1f}, {est['upper'].iat[v]:.1f}]"
        print(f"    {v:>8}{s[v]:>10.1f}{ci:>22}{cyn[i]:>11.1f}{mc_mean[i]:>10.1f}{z_cyn[i]:>11.2f}")
    print(
        f"    |z| <= 1.96: RR vs cynetdiff {np.mean(np.abs(z_cyn) <= 1.96):.0%}, RR vs our MC "
        f"{np.mean(np.abs(z_ours) <= 1.96):.0%}, cynetdiff vs our MC {np.mean(np.abs(z_mc) <= 1.96):.0%}; "
        f"max |z| {np.abs(z_cyn).max():.2f}"
    )

    if args.skip_imm:
        print(f"\npeak RSS {peak_rss_gb():.2f} GB")
        return
    imm, wall, cpu = timed(
        imm_select_seeds, g, prob, args.k, epsilon=args.epsilon, ell=1.0, random_state=4, n_jobs=args.jobs
    )
    print(
        f"\n[3] IMM k={args.k} eps={args.epsilon} ell=1: theta={imm.theta:,}, LB={imm.lower_bound:.0f}, "
        f"wall {wall:.1f}s, cpu {cpu:.1f}s; coverage estimate {imm.spread:.0f}"
    )
    table, wall, _ = timed(
        compare_seed_strategies,
        g,
        prob,
        args.k,
        imm=imm,
        evaluate="rr",
        n_eval=200_000,
        random_state=5,
        n_jobs=args.jobs,
    )
    print(f"    comparison (each seed set evaluated on the same 200,000 fresh RR sets), {wall:.1f}s:")
    print(table.drop(columns="seeds").round(3).to_string())
    print(f"\npeak RSS {peak_rss_gb():.2f} GB")


if __name__ == "__main__":
    main()
