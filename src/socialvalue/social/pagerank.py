r"""Weighted and personalized PageRank by sparse power iteration, with networkx's conventions.

Rank flows *along* edges and accumulates at nodes with many in-links. In the influence graph (``u → v``: u
influences v, see :mod:`socialvalue.social.graph`) attention flows the other way, from the influenced to the
influencer, so :func:`influence_pagerank` runs :func:`pagerank` on the reversed graph: a customer ranks high
when customers who themselves rank high follow or react to them, and a follower's vote is split in proportion
to the (decayed interaction) weight of their ties. :func:`pagerank` itself is the plain algorithm on the
graph as given, the one compared with networkx.

The iteration is the one networkx's ``pagerank`` runs, so results agree with it to rounding:

.. math::

    x^{(k+1)} = \alpha \left( P^\top x^{(k)} + (d^\top x^{(k)})\, u \right) + (1 - \alpha)\, p,

where :math:`P` is the out-weight-normalised adjacency, :math:`d` indicates dangling nodes (no out-weight),
:math:`u` the dangling distribution (default :math:`p`) and :math:`p` the teleport (personalization)
vector. It stops when :math:`\lVert x^{(k+1)} - x^{(k)} \rVert_1 < n \cdot \mathrm{tol}`.

That change is the residual of the linear system :math:`M x = (1 - \alpha) p`, :math:`M = I - \alpha P^\top
- \alpha u d^\top`, since :math:`x^{(k+1)} - x^{(k)} = (1 - \alpha) p - M x^{(k)}`. On a graph that mixes
slowly (communities: the power method contracts by about :math:`\alpha` per step) and has 20,000 to 2M edges,
:func:`pagerank` therefore hands over to restarted GMRES after a few steps and stops on the same residual,
returning the same final step :math:`x + ((1 - \alpha) p - M x)`: 9 power steps and 27 GMRES mat-vecs
instead of 106 power steps on the Ciao trust graph, for the same guarantee.

References
----------
.. [1] Page, L., Brin, S., Motwani, R. and Winograd, T. (1999). The PageRank citation ranking: bringing order
   to the web. Stanford InfoLab technical report 1999-66.
.. [2] Haveliwala, T. H. (2002). Topic-sensitive PageRank. WWW '02, 517-526 (personalized teleport).
.. [3] Hagberg, A., Schult, D. and Swart, P. (2008). NetworkX, ``networkx.pagerank`` (dangling handling).
"""

from __future__ import annotations

import itertools
import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from socialvalue.errors import ConfigError, ConvergenceError
from socialvalue.models._threads import single_thread_blas
from socialvalue.social.graph import Graph

__all__ = ["influence_pagerank", "pagerank", "pagerank_exact"]

logger = logging.getLogger(__name__)

NodeValues = Mapping[Any, float] | pd.Series | np.ndarray | Sequence[Any]

# Below this many stored entries one thread is faster than handing blocks to a pool.
_PARALLEL_NNZ = 1_000_000
# Up to this many edges PageRank solves its linear system by restarted GMRES (see _krylov): 2-3x fewer
# mat-vecs than power iteration, whose per-iteration overhead dominates small graphs. Above it the Krylov
# basis (restart x n doubles, read twice per step) costs more memory traffic than the mat-vecs it saves.
_KRYLOV_EDGES = 2_000_000
# ... and from this many: below it the power method's 100-odd steps take a millisecond, and it returns
# networkx's own iterate (equal to rounding, which tests against networkx at 1e-12 rely on).
_KRYLOV_MIN_EDGES = 20_000
_RESTART = 30
#: Power iterations before the convergence rate is judged, and the rate above which GMRES takes over.
_KRYLOV_AFTER = 6
_SLOW_RATE = 0.7


def _slow(errs: list[float], target: float) -> bool:
    r"""Whether the power iteration converges slowly enough for GMRES to take over.

    Slow: the L1 changes fall by less than ``_SLOW_RATE`` per step (geometric mean of the last three) with
    more than 30 steps still to go at that rate. Power iteration contracts by :math:`\alpha|\lambda_2|` per
    step: fast-mixing graphs (random power-law ones: 28 steps) need no more mat-vecs than GMRES, graphs with
    communities (the Ciao trust graph: 106 steps at :math:`\alpha = 0.85`) need 2-3 times more.
    """
    rate = (errs[-1] / errs[-4]) ** (1.0 / 3.0)
    if rate >= 1.0:
        return True
    return rate > _SLOW_RATE and math.log(target / errs[-1]) / math.log(rate) > 30


try:  # scipy's compiled CSR mat-vec, y += A x in place (what ``A @ x`` calls after its Python dispatch)
    from scipy.sparse._sparsetools import csr_matvec as _csr_matvec
except ImportError:  # pragma: no cover - a scipy without it: fall back on ``A @ x``
    _csr_matvec = None


def _row_block_matvec(
    indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, n: int, n_jobs: int
) -> tuple[Callable[[np.ndarray, np.ndarray], None], ThreadPoolExecutor | None]:
    """``out[:] = A @ x`` for the CSR arrays of ``A``, split into row blocks of equal non-zeros, one thread each.

    The kernel is scipy's compiled ``csr_matvec`` writing into ``out`` (no allocation, none of ``A @ x``'s
    Python dispatch: ~10 us an iteration, a fifth of a 57,000-edge graph's mat-vec). It releases the GIL, so
    the blocks run in parallel; on a 10M-edge power-law graph the mat-vec is bound by random reads of ``x`` and
    two blocks on two cores take ~55% of one block's time. A block passes its slice of ``indptr`` (absolute
    positions into ``indices``/``data``) and its slice of ``out``.
    """
    nnz = int(indptr[-1])
    if _csr_matvec is None:  # pragma: no cover
        a = sp.csr_array((data, indices, indptr), shape=(n, n))

        def plain(x: np.ndarray, out: np.ndarray) -> None:
            out[:] = a @ x

        return plain, None
    jobs = max(1, min(n_jobs, nnz // (_PARALLEL_NNZ // 2) or 1))
    if jobs == 1:

        def one(x: np.ndarray, out: np.ndarray) -> None:
            out.fill(0.0)
            _csr_matvec(n, n, indptr, indices, data, x, out)

        return one, None
    cuts = np.searchsorted(indptr, np.linspace(0, nnz, jobs + 1)[1:-1])
    bounds = [int(b) for b in np.concatenate([[0], cuts, [n]])]
    blocks = [(lo, hi, indptr[lo : hi + 1]) for lo, hi in itertools.pairwise(bounds)]
    pool = ThreadPoolExecutor(max_workers=jobs)

    def part(x: np.ndarray, out: np.ndarray, lo: int, hi: int, ptr: np.ndarray) -> None:
        view = out[lo:hi]
        view.fill(0.0)
        _csr_matvec(hi - lo, n, ptr, indices, data, x, view)

    def many(x: np.ndarray, out: np.ndarray) -> None:
        for f in [pool.submit(part, x, out, *block) for block in blocks]:
            f.result()

    return many, pool


def _transition(graph: Graph, weighted: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""CSR arrays of :math:`P^\top` over in-edges, and the out-weights :math:`s`.

    :math:`(P^\top x)_v = \sum_u w_{uv} x_u / s_u`: the rows of the reverse CSR are scaled once, so an
    iteration is one sparse mat-vec. Indices are int32 when the edges fit (half the index traffic of the
    memory-bound mat-vec); the out-weights are summed over the forward CSR's contiguous rows
    (``np.add.reduceat``, in the same order as a ``bincount``).
    """
    n = graph.n
    indptr = graph.indptr
    if weighted:
        out_w = np.zeros(n)
        full = np.flatnonzero(indptr[1:] > indptr[:-1])
        if full.size:
            out_w[full] = np.add.reduceat(graph.weight, indptr[full])
    else:
        out_w = np.diff(indptr).astype(np.float64)
    inv = np.zeros(n)
    np.divide(1.0, out_w, out=inv, where=out_w > 0)
    data = (graph.weight[graph.rev_edge] if weighted else np.ones(graph.m)) * inv[graph.rev_indices]
    itype = np.int32 if graph.m < 2**31 else np.int64
    return (
        graph.rev_indptr.astype(itype, copy=False),
        graph.rev_indices.astype(itype, copy=False),
        data,
        out_w,
    )


def _vectors(
    graph: Graph, personalization: NodeValues | None, dangling: NodeValues | None
) -> tuple[np.ndarray, np.ndarray]:
    n = graph.n
    p = (
        np.full(n, 1.0 / n)
        if personalization is None
        else _normalise(graph, personalization, "personalization")
    )
    u = p if dangling is None else _normalise(graph, dangling, "dangling")
    return p, u


def _setup(
    graph: Graph, personalization: NodeValues | None, dangling: NodeValues | None, weighted: bool
) -> tuple[sp.csr_array, np.ndarray, np.ndarray, np.ndarray]:
    if graph.n == 0:
        raise ConfigError("PageRank of an empty graph")
    indptr, indices, data, out_w = _transition(graph, weighted)
    pt = sp.csr_array((data, indices, indptr), shape=(graph.n, graph.n))
    p, u = _vectors(graph, personalization, dangling)
    return pt, p, u, out_w == 0


def _normalise(graph: Graph, values: NodeValues, name: str) -> np.ndarray:
    v = graph.node_vector(values, name)
    if (v < 0).any() or v.sum() <= 0:
        raise ConfigError(f"{name}: values must be non-negative with a positive sum")
    return v / v.sum()


def _krylov(
    apply_m: Callable[[np.ndarray, np.ndarray], None],
    b: np.ndarray,
    x: np.ndarray,
    target: float,
    max_mv: int,
) -> tuple[np.ndarray, np.ndarray | None, int]:
    r"""Restarted GMRES for :math:`M x = b`, stopped on the power iteration's own criterion.

    The power iteration's step is :math:`G(x) = x + (b - Mx)`, so its L1 change is the residual's L1 norm:
    GMRES(30) (classical Gram-Schmidt applied twice, Givens rotations) runs until the L1 residual is below
    ``target`` (checked exactly at each restart; within a cycle the 2-norm estimate times :math:`\sqrt n`
    bounds it). Returns ``(x, r, mat-vecs)`` with ``r = b - Mx`` when converged, so ``x + r`` is the same
    final step as the power iteration's; ``r`` is None when the budget ran out or a cycle stalled (the
    caller continues by power iteration from ``x``).
    """
    n = b.size
    m = min(_RESTART, n)
    basis = np.empty((m + 1, n))
    w = np.empty(n)
    root_n = float(np.sqrt(n))
    used, last = 0, np.inf
    while used < max_mv:
        r = np.empty(n)
        apply_m(x, r)
        np.subtract(b, r, out=r)
        used += 1
        l1 = float(np.abs(r).sum())
        if l1 < target:
            return x, r, used
        if (
            l1 > 0.5 * last
        ):  # restarted GMRES stalls on some non-normal systems: hand over to the power method
            return x, None, used
        last = l1
        beta = float(np.sqrt(r @ r))
        np.divide(r, beta, out=basis[0])
        # The small (m + 1) x m least-squares problem is kept in Python floats: numpy's per-call overhead on
        # scalars would cost more than the mat-vecs of a small graph.
        cols: list[list[float]] = []
        cs: list[float] = []
        sn: list[float] = []
        g = [beta]
        for j in range(m):
            if used >= max_mv:
                break
            apply_m(basis[j], w)
            used += 1
            v = basis[: j + 1]
            c1 = v @ w
            w -= c1 @ v
            col = c1.tolist()
            norm = float(np.sqrt(w @ w))
            for i in range(j):  # earlier rotations on the new column
                a, b_ = col[i], col[i + 1]
                col[i], col[i + 1] = cs[i] * a + sn[i] * b_, cs[i] * b_ - sn[i] * a
            rho = math.hypot(col[j], norm)
            c, s_ = (1.0, 0.0) if rho == 0 else (col[j] / rho, norm / rho)
            cs.append(c)
            sn.append(s_)
            col[j] = rho
            g.append(-s_ * g[j])
            g[j] *= c
            cols.append(col)
            if norm == 0 or abs(g[j + 1]) * root_n < target:
                break
            np.divide(w, norm, out=basis[j + 1])
        k = len(cols)
        if k == 0:
            break
        y = [0.0] * k
        for i in range(k - 1, -1, -1):  # back substitution on the rotated Hessenberg matrix
            y[i] = (g[i] - sum(cols[c][i] * y[c] for c in range(i + 1, k))) / cols[i][i]
        x = x + np.asarray(y) @ basis[:k]
    return x, None, used


def pagerank(
    graph: Graph,
    *,
    alpha: float = 0.85,
    personalization: NodeValues | None = None,
    dangling: NodeValues | None = None,
    weighted: bool = True,
    tol: float = 1e-12,
    max_iter: int = 1000,
    nstart: np.ndarray | None = None,
    n_jobs: int | None = None,
    method: Literal["auto", "power"] = "auto",
) -> pd.Series:
    """Weighted (personalized) PageRank of every node by power iteration (GMRES on slowly mixing graphs).

    Parameters
    ----------
    graph
        The graph; edge weights are used when ``weighted``.
    alpha
        Damping factor: probability of following an edge rather than teleporting.
    personalization
        Teleport distribution: a mapping/Series node id → weight (missing nodes get 0), a length-``n`` float
        array, or a list of node ids (uniform over them, e.g. the brand's best customers). Uniform if None.
    dangling
        Where the rank of nodes without out-edges goes (same forms); the teleport vector if None, as networkx.
    weighted
        Use edge weights (True) or count every edge once.
    tol
        Convergence threshold, networkx's: stop when the L1 change is below ``n * tol``.
    max_iter
        Iteration cap; :class:`~socialvalue.errors.ConvergenceError` beyond it.
    nstart
        Starting vector aligned with ``graph.ids`` (normalised); uniform if None.
    n_jobs
        Threads for the sparse mat-vec (row blocks); all cores if None. Small graphs use one.
    method
        ``"auto"``: power iteration, handing over to GMRES on a slowly mixing graph of 20,000 to 2,000,000
        edges (see the module docstring; same stopping criterion, a result closer to the exact solution than
        the power iterate, in 2-3 times fewer mat-vecs). ``"power"``: power iteration only, networkx's
        iterate to rounding.

    Returns
    -------
    pandas.Series
        PageRank (sums to 1) indexed by node id, named ``pagerank``.
    """
    if not 0 <= alpha < 1:
        raise ConfigError(f"alpha must be in [0, 1), got {alpha}")
    n = graph.n
    if n == 0:
        raise ConfigError("PageRank of an empty graph")
    indptr, indices, data, out_w = _transition(graph, weighted)
    data *= alpha  # alpha P^T: one pass fewer per iteration
    p, u = _vectors(graph, personalization, dangling)
    x = np.full(n, 1.0 / n) if nstart is None else np.asarray(nstart, dtype=np.float64) / np.sum(nstart)
    dang_idx = np.flatnonzero(out_w == 0)
    same = u is p  # dangling rank goes to the teleport vector (the default): one update of x_new
    teleport = (1.0 - alpha) * p
    matvec, pool = _row_block_matvec(indptr, indices, data, n, n_jobs or os.cpu_count() or 1)
    x_new, diff = np.empty(n), np.empty(n)
    err, errs = np.inf, []
    if method not in ("auto", "power"):
        raise ConfigError(f"method must be 'auto' or 'power', got {method!r}")
    krylov = method == "auto" and _KRYLOV_MIN_EDGES <= graph.m <= _KRYLOV_EDGES

    def apply_m(v: np.ndarray, out: np.ndarray) -> None:  # out = M v = v - alpha (P^T v + (d.v) u)
        matvec(v, out)
        d = alpha * float(v[dang_idx].sum())
        if d:
            out += d * u
        np.subtract(v, out, out=out)

    try:
        it = 0
        while it < max_iter:
            it += 1
            matvec(x, x_new)  # alpha P^T x
            d = alpha * float(x[dang_idx].sum())
            if same:
                np.multiply(p, d + (1.0 - alpha), out=diff)
            else:
                np.multiply(u, d, out=diff)
                diff += teleport
            x_new += diff
            np.subtract(x_new, x, out=diff)
            err = float(np.abs(diff, out=diff).sum())
            x, x_new = x_new, x
            if err < n * tol:
                logger.debug("pagerank converged in %d iterations (L1 change %.3g)", it, err)
                return pd.Series(x, index=graph.ids, name="pagerank")
            errs.append(err)
            if krylov and it >= _KRYLOV_AFTER and _slow(errs, n * tol):
                krylov = False  # once: if GMRES stalls the power iteration goes on from its iterate
                with single_thread_blas():
                    x, r, used = _krylov(apply_m, teleport, x, n * tol, max_iter - it)
                it += used
                if r is not None:  # the power iteration's last step from x: G(x) = x + (b - Mx)
                    logger.debug("pagerank converged in %d iterations + %d GMRES mat-vecs", it - used, used)
                    return pd.Series(x + r, index=graph.ids, name="pagerank")
    finally:
        if pool is not None:
            pool.shutdown()
    raise ConvergenceError(
        f"PageRank did not converge in {max_iter} iterations (L1 change {err:.3g} >= {n * tol:.3g})",
        result={"x": pd.Series(x, index=graph.ids, name="pagerank"), "n_iter": max_iter, "err": err},
    )


def pagerank_exact(
    graph: Graph,
    *,
    alpha: float = 0.85,
    personalization: NodeValues | None = None,
    dangling: NodeValues | None = None,
    weighted: bool = True,
    rtol: float = 1e-14,
    method: Literal["auto", "lu", "gmres"] = "auto",
) -> pd.Series:
    r"""PageRank from a direct/Krylov solve of the linear system, for checking the power iteration.

    Solves

    .. math::

        \left(I - \alpha P^\top - \alpha\, u\, d^\top\right) x = (1 - \alpha)\, p

    by sparse LU (``method="lu"``, the default below 20,000 nodes) or restarted GMRES on a linear operator
    (``"gmres"``, relative residual ``rtol``), then normalises :math:`x` to sum 1.

    Returns
    -------
    pandas.Series
        The PageRank vector, indexed by node id.
    """
    pt, p, u, is_dangling = _setup(graph, personalization, dangling, weighted)
    n = graph.n
    d = is_dangling.astype(np.float64)
    b = (1.0 - alpha) * p
    if method not in ("auto", "lu", "gmres"):
        raise ConfigError(f"method must be 'auto', 'lu' or 'gmres', got {method!r}")
    if method == "lu" or (method == "auto" and n <= 20_000):
        # Sherman-Morrison for the dense rank-one dangling term: with M = I - alpha P^T,
        # x = y + alpha z (d.y) / (1 - alpha d.z), where M y = b and M z = u.
        lu = spla.splu(sp.csc_array(sp.identity(n, format="csc") - alpha * pt))
        y, z = lu.solve(b), lu.solve(u)
        x = y + alpha * z * (d @ y) / (1.0 - alpha * (d @ z))
    else:

        def matvec(v: np.ndarray) -> np.ndarray:
            v = np.ravel(v)
            return v - alpha * (pt @ v + (d @ v) * u)

        op = spla.LinearOperator((n, n), matvec=matvec, dtype=np.float64)
        x, info = spla.gmres(op, b, x0=b / (1.0 - alpha), rtol=rtol, atol=0.0, restart=50, maxiter=200)
        if info != 0:
            raise ConvergenceError(f"GMRES did not converge (info={info})", result=info)
    x = np.asarray(x, dtype=np.float64)
    return pd.Series(x / x.sum(), index=graph.ids, name="pagerank")


def influence_pagerank(graph: Graph, **kwargs: Any) -> pd.Series:
    """PageRank of influence: :func:`pagerank` on the reversed influence graph (attention flows to influencers).

    Takes the keyword arguments of :func:`pagerank`; with ``personalization`` set to the brand's best
    customers it scores who those customers listen to, directly or through others.

    Returns
    -------
    pandas.Series
        Influence PageRank indexed by node id, named ``influence_pagerank``.
    """
    return pagerank(graph.reversed(), **kwargs).rename("influence_pagerank")
