"""Weighted PageRank: socialvalue (threaded sparse power iteration) vs python-igraph (PRPACK) vs networkx.

Every method is checked against an exact solve of (I - alpha P^T - alpha u d^T) x = (1 - alpha) p (GMRES on the
same operator, rtol 1e-14) and must agree with it to 1e-9 in L1 (total variation x 2) to count.

``networkx.pagerank`` runs on the same graph as the others (building the networkx graph of 10M edges takes
about a minute and 6 GB; it is not timed). networkx's pure-Python reference implementation is far too slow for
that: it runs on a smaller graph (``--py-edges``) against our run on that same smaller graph.

``--sizes`` runs the issue-16 table instead: socialvalue against igraph on the real Ciao trust graph
(``../shared/data/ciao/ciao_trust.parquet``, 57,544 edges) and on power-law graphs of 100k, 300k, 1M, 3M and
10M edges, timed in interleaved pairs (``--repeats`` of them; the machine is shared) with the median of the
per-pair ratios. igraph's PRPACK runs OpenMP threads, which stall on a loaded machine (the same call took 5 to
600 ms on the Ciao graph): it is timed both with its default threads and with OpenMP limited to one thread
(threadpoolctl), and the faster of the two is the peer's figure.

Usage::

    .venv/bin/python benchmarks/pagerank.py            # 1M nodes / 10M edges; pure-Python nx on 500k edges
    .venv/bin/python benchmarks/pagerank.py --small    # 100k nodes / 1M edges; pure-Python nx on 100k edges
    .venv/bin/python benchmarks/pagerank.py --sizes [--repeats 9] [--max-edges 10000000]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from pathlib import Path

import numpy as np
import psutil

from socialvalue.social import Graph, pagerank, pagerank_exact

ALPHA = 0.85
TARGET_L1 = 1e-9


def power_law_graph(n: int, m: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges with heavy-tailed out-degree (influencers) and in-degree, exponential weights, ~5% dangling."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    src = perm[(n * rng.random(m) ** 2.5).astype(np.int64)]
    dst = perm[(n * rng.random(m) ** 1.5).astype(np.int64)]
    return src, dst, rng.exponential(1.0, m)


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def timed(fn, *args, **kwargs):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0, time.process_time() - c0


def run_ours(g: Graph, exact: np.ndarray) -> tuple[float, float, float]:
    # networkx's criterion: stop when the L1 change < n * tol; the error left is ~ change * alpha / (1 - alpha).
    tol = TARGET_L1 * (1 - ALPHA) / ALPHA / g.n / 2
    x, wall, cpu = timed(pagerank, g, alpha=ALPHA, tol=tol, max_iter=10_000)
    return wall, cpu, float(np.abs(x.to_numpy() - exact).sum())


CIAO = Path(__file__).resolve().parents[2] / "shared" / "data" / "ciao" / "ciao_trust.parquet"


def _paired_vs_igraph(g: Graph, exact: np.ndarray, repeats: int) -> dict[str, float]:
    """Interleaved timings of ours, igraph (default threads) and igraph (one OpenMP thread); medians."""
    import igraph as ig
    from threadpoolctl import threadpool_limits

    ig_g = ig.Graph(n=g.n, edges=np.column_stack([g.src, g.indices]).astype(np.int64), directed=True)
    ig_g.es["weight"] = g.weight
    tol = TARGET_L1 * (1 - ALPHA) / ALPHA / g.n / 2

    def ours() -> np.ndarray:
        return pagerank(g, alpha=ALPHA, tol=tol, max_iter=10_000).to_numpy()

    def peer() -> np.ndarray:
        return np.asarray(
            ig_g.pagerank(damping=ALPHA, weights="weight", directed=True, implementation="prpack")
        )

    def peer_one_thread() -> np.ndarray:
        with threadpool_limits(limits=1, user_api="openmp"):
            return peer()

    runs: dict[str, list[float]] = {"ours": [], "igraph": [], "igraph_1t": []}
    errs: dict[str, float] = {}
    for name, fn in (("ours", ours), ("igraph", peer), ("igraph_1t", peer_one_thread)):  # warm-up + accuracy
        errs[name] = float(np.abs(fn() - exact).sum())
    for _ in range(repeats):
        for name, fn in (("ours", ours), ("igraph", peer), ("igraph_1t", peer_one_thread)):
            t0 = time.perf_counter()
            fn()
            runs[name].append(time.perf_counter() - t0)
    best = [min(a, b) for a, b in zip(runs["igraph"], runs["igraph_1t"], strict=True)]
    return {
        "ours": statistics.median(runs["ours"]),
        "igraph": statistics.median(runs["igraph"]),
        "igraph_1t": statistics.median(runs["igraph_1t"]),
        "ratio": statistics.median(b / o for o, b in zip(runs["ours"], best, strict=True)),
        "err_ours": errs["ours"],
        "err_igraph": min(errs["igraph"], errs["igraph_1t"]),
    }


def bench_sizes(repeats: int, max_edges: int) -> None:
    import pandas as pd

    print(f"machine: {psutil.cpu_count()} cores; load average {psutil.getloadavg()}")
    cases: list[tuple[str, Graph]] = []
    if CIAO.exists():
        trust = pd.read_parquet(CIAO)
        cases.append(
            (
                "Ciao trust (real)",
                Graph.from_edges(trust["truster_id"].to_numpy(), trust["trustee_id"].to_numpy()),
            )
        )
    else:
        print(f"(no {CIAO}: the real graph is skipped)")
    for m in (100_000, 300_000, 1_000_000, 3_000_000, 10_000_000):
        if m <= max_edges:
            src, dst, w = power_law_graph(m // 10, m)
            cases.append((f"power law {m:,}", Graph.from_edges(src, dst, w, nodes=np.arange(m // 10))))
    print(
        f"\nweighted PageRank alpha={ALPHA}, L1 error <= {TARGET_L1:g} against the exact solve; {repeats} interleaved "
        "pairs, medians (ms)"
    )
    print(
        f"{'graph':<22}{'nodes':>10}{'edges':>12}{'ours':>10}{'igraph':>10}{'igraph 1t':>11}{'speed-up':>10}"
        f"{'L1 ours':>10}{'L1 igraph':>11}"
    )
    for name, g in cases:
        exact = pagerank_exact(g, alpha=ALPHA).to_numpy()
        r = _paired_vs_igraph(g, exact, repeats)
        print(
            f"{name:<22}{g.n:>10,}{g.m:>12,}{r['ours'] * 1e3:>10.1f}{r['igraph'] * 1e3:>10.1f}"
            f"{r['igraph_1t'] * 1e3:>11.1f}{r['ratio']:>9.2f}x{r['err_ours']:>10.1e}{r['err_igraph']:>11.1e}"
        )
    print("speed-up: median over pairs of (faster igraph configuration) / ours; target: > 1 at every size")
    print(f"load average after: {psutil.getloadavg()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true", help="100k nodes / 1M edges (networkx on 100k edges)")
    ap.add_argument("--nodes", type=int, default=None)
    ap.add_argument("--edges", type=int, default=None)
    ap.add_argument("--py-edges", type=int, default=None, help="edges of the pure-Python networkx run")
    ap.add_argument("--sizes", action="store_true", help="Ciao + 100k..10M edges against igraph, paired")
    ap.add_argument("--repeats", type=int, default=9, help="interleaved pairs per graph with --sizes")
    ap.add_argument("--max-edges", type=int, default=10_000_000, help="largest graph with --sizes")
    args = ap.parse_args()
    if args.sizes:
        bench_sizes(args.repeats, args.max_edges)
        return
    n = args.nodes or (100_000 if args.small else 1_000_000)
    m = args.edges or (1_000_000 if args.small else 10_000_000)
    m_py = args.py_edges or (100_000 if args.small else 500_000)
    print(f"machine: {psutil.cpu_count()} cores; load average {psutil.getloadavg()}")

    src, dst, w = power_law_graph(n, m)
    g, t_build, _ = timed(Graph.from_edges, src, dst, w, nodes=np.arange(n))
    print(
        f"graph: n={g.n:,} m={g.m:,} (merged), dangling={int((g.out_degree() == 0).sum()):,}; build {t_build:.1f}s"
    )
    exact_s, t_exact, _ = timed(pagerank_exact, g, alpha=ALPHA)
    exact = exact_s.to_numpy()
    print(f"exact solve (GMRES, rtol 1e-14): {t_exact:.1f}s")

    rows = []
    wall, cpu, err = run_ours(g, exact)
    rows.append(("socialvalue", g.m, wall, cpu, err))

    import igraph as ig

    ig_g, _, _ = timed(
        ig.Graph, n=g.n, edges=np.column_stack([g.src, g.indices]).astype(np.int64), directed=True
    )
    ig_g.es["weight"] = g.weight
    x_ig, wall, cpu = timed(
        ig_g.pagerank, damping=ALPHA, weights="weight", directed=True, implementation="prpack"
    )
    rows.append(("igraph (prpack)", g.m, wall, cpu, float(np.abs(np.asarray(x_ig) - exact).sum())))
    del ig_g

    import networkx as nx

    tol = TARGET_L1 * (1 - ALPHA) / ALPHA / g.n / 2
    nxg = nx.DiGraph()
    nxg.add_nodes_from(range(g.n))
    nxg.add_weighted_edges_from(zip(g.src.tolist(), g.indices.tolist(), g.weight.tolist(), strict=True))
    x_nx, wall, cpu = timed(nx.pagerank, nxg, ALPHA, weight="weight", tol=tol, max_iter=10_000)
    err = float(np.abs(np.array([x_nx[i] for i in range(g.n)]) - exact).sum())
    rows.append(("networkx.pagerank", g.m, wall, cpu, err))
    del nxg, x_nx
    # networkx >= 3 runs pagerank on scipy (to_scipy_sparse_array + the same power iteration); its pure-Python
    # reference implementation is timed on a smaller graph, against our run on that graph.
    from networkx.algorithms.link_analysis.pagerank_alg import _pagerank_python

    n2 = max(1000, m_py // 10)
    src2, dst2, w2 = power_law_graph(n2, m_py, seed=1)
    g2 = Graph.from_edges(src2, dst2, w2, nodes=np.arange(n2))
    exact2 = pagerank_exact(g2, alpha=ALPHA).to_numpy()
    wall, cpu, err = run_ours(g2, exact2)
    rows.append(("socialvalue (small)", g2.m, wall, cpu, err))
    nxg = nx.DiGraph()
    nxg.add_nodes_from(range(g2.n))
    nxg.add_weighted_edges_from(zip(g2.src.tolist(), g2.indices.tolist(), g2.weight.tolist(), strict=True))
    tol = TARGET_L1 * (1 - ALPHA) / ALPHA / g2.n / 2
    x_py, wall, cpu = timed(_pagerank_python, nxg, ALPHA, weight="weight", tol=tol, max_iter=10_000)
    err = float(np.abs(np.array([x_py[i] for i in range(g2.n)]) - exact2).sum())
    rows.append(("networkx (pure Python)", g2.m, wall, cpu, err))
    del nxg

    print(
        f"\nweighted PageRank, alpha={ALPHA}, all checked against the exact solve (target L1 error <= {TARGET_L1:g})"
    )
    print(f"{'method':<24}{'edges':>12}{'wall s':>9}{'cpu s':>9}{'ns/edge':>9}{'L1 err':>11}  ok")
    for name, edges, wall, cpu, err in rows:
        print(
            f"{name:<24}{edges:>12,}{wall:>9.2f}{cpu:>9.2f}{1e9 * wall / edges:>9.1f}{err:>11.2e}  {err <= TARGET_L1}"
        )
    ours, igr, nxr, ours_small, nxpy = rows
    print("\nspeed-ups (wall; cpu in brackets, the fairer figure on a shared machine):")
    print(
        f"  vs igraph, same {g.m:,}-edge graph: {igr[2] / ours[2]:.1f}x [{igr[3] / ours[3]:.1f}x]   (target: faster)"
    )
    print(
        f"  vs networkx.pagerank, same {g.m:,}-edge graph: {nxr[2] / ours[2]:.1f}x [{nxr[3] / ours[3]:.1f}x]"
        "   (target >= 50x)"
    )
    print(
        f"  vs networkx pure Python, same {g2.m:,}-edge graph: {nxpy[2] / ours_small[2]:.1f}x "
        f"[{nxpy[3] / ours_small[3]:.1f}x]"
    )
    print(f"peak RSS {peak_rss_gb():.2f} GB")


if __name__ == "__main__":
    main()
