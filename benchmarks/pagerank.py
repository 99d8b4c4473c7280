"""Weighted PageRank: socialvalue (threaded sparse power iteration) vs python-igraph (PRPACK) vs networkx.

Every method is checked against an exact solve of (I - alpha P^T - alpha u d^T) x = (1 - alpha) p (GMRES on the
same operator, rtol 1e-14) and must agree with it to 1e-9 in L1 (total variation x 2) to count.

``networkx.pagerank`` runs on the same graph as the others (building the networkx graph of 10M edges takes
about a minute and 6 GB; it is not timed). networkx's pure-Python reference implementation is far too slow for
that: it runs on a smaller graph (``--py-edges``) against our run on that same smaller graph.

Usage::

    .venv/bin/python benchmarks/pagerank.py            # 1M nodes / 10M edges; pure-Python nx on 500k edges
    .venv/bin/python benchmarks/pagerank.py --small    # 100k nodes / 1M edges; pure-Python nx on 100k edges
"""

from __future__ import annotations

import argparse
import resource
import time

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true", help="100k nodes / 1M edges (networkx on 100k edges)")
    ap.add_argument("--nodes", type=int, default=None)
    ap.add_argument("--edges", type=int, default=None)
    ap.add_argument("--py-edges", type=int, default=None, help="edges of the pure-Python networkx run")
    args = ap.parse_args()
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
