r"""Audience size: followers and exact multi-hop reach along the influence direction.

With :math:`A` the boolean adjacency of the influence graph (``u → v``: u influences v), the accounts a
customer reaches within :math:`h` hops are the non-zero columns of row :math:`u` of

.. math::

    R_h = A \lor A^2 \lor \dots \lor A^h \quad (\text{boolean products}),

without the customer itself. Rows are processed in blocks so that the intermediate products stay within a
memory budget; the count is exact (no sketches).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import scipy.sparse as sp

from socialvalue.errors import ConfigError
from socialvalue.social.graph import Graph

__all__ = ["followers", "reach"]


def followers(graph: Graph) -> pd.Series:
    """Number of distinct accounts each customer directly influences (its followers and friends).

    Returns
    -------
    pandas.Series
        Out-degree in the influence graph, self-loops excluded, indexed by node id, named ``followers``.
    """
    loops = np.bincount(graph.src[graph.src == graph.indices], minlength=graph.n)
    return pd.Series(graph.out_degree() - loops, index=graph.ids, name="followers")


def reach(graph: Graph, hops: int = 2, *, block_nnz: int = 20_000_000) -> pd.Series:
    """Number of distinct accounts within ``hops`` hops of each customer along influence edges (exact).

    Parameters
    ----------
    graph
        The influence graph.
    hops
        Maximum path length (1 = followers, 2 = followers and their followers ...).
    block_nnz
        Rough cap on the non-zeros of one block of intermediate products (memory budget, ~12 bytes each).

    Returns
    -------
    pandas.Series
        Reach (the customer itself excluded) indexed by node id, named ``reach_<hops>``.
    """
    if hops < 1:
        raise ConfigError(f"hops must be >= 1, got {hops}")
    n = graph.n
    # float32 ones: products count paths and never cancel, so the sparsity pattern is exactly reachability.
    a = sp.csr_array((np.ones(graph.m, dtype=np.float32), graph.indices, graph.indptr), shape=(n, n))
    out = np.zeros(n, dtype=np.int64)
    if graph.m == 0:
        return pd.Series(out, index=graph.ids, name=f"reach_{hops}")
    # Estimate block size from the 2-hop path count per row (an upper bound of the product's row nnz).
    outdeg = np.diff(graph.indptr)
    paths2 = np.bincount(graph.src, weights=outdeg[graph.indices], minlength=n) + outdeg
    cum = np.cumsum(paths2 * max(1, hops - 1))
    starts = [0]
    while starts[-1] < n:
        base = cum[starts[-1] - 1] if starts[-1] > 0 else 0.0
        end = int(np.searchsorted(cum, base + block_nnz, side="right"))
        starts.append(min(n, max(end, starts[-1] + 1)))
    for lo, hi in itertools.pairwise(starts):
        block = a[lo:hi]
        acc = block
        frontier = block
        for _ in range(hops - 1):
            frontier = frontier @ a
            frontier.data[:] = 1.0  # keep the pattern only, so counts cannot overflow
            acc = acc + frontier
        acc = sp.csr_array(acc)
        acc.sum_duplicates()
        cnt = np.diff(acc.indptr)
        # subtract the customer itself when reachable through a cycle
        rows = np.repeat(np.arange(lo, hi), cnt)
        self_hit = np.bincount(rows[acc.indices == rows] - lo, minlength=hi - lo)
        out[lo:hi] = cnt - self_hit
    return pd.Series(out, index=graph.ids, name=f"reach_{hops}")
