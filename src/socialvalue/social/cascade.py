r"""Independent cascade: edge probabilities learned from observed propagation, and Monte-Carlo spread.

Model (Kempe, Kleinberg & Tardos 2003): when ``v`` becomes active it gets one chance to activate each
out-neighbour ``u`` (``v → u``: v influences u), succeeding with probability :math:`p_{vu}`; the spread
:math:`\sigma(S)` of a seed set is the expected number of active nodes at the end, seeds included.

Edge probabilities are learned from an actions log (who liked / shared / bought which item, when) with the
estimators of Goyal, Bonchi & Lakshmanan (2010): with :math:`A_v` the number of actions of ``v``,
:math:`A_{v2u}` the number of actions ``u`` performed within :math:`\tau` *after* ``v`` did, and
:math:`A_{v|u}` the number of actions either performed,

.. math::

    \hat p_{vu}^{\text{Bernoulli}} = \frac{A_{v2u}}{A_v}, \qquad
    \hat p_{vu}^{\text{Jaccard}} = \frac{A_{v2u}}{A_{v|u}}.

The counting is one vectorized sorted join (edges × actions of one end, looked up in the sorted
``(user, action)`` keys of the other end, driven by the cheaper end), in chunks that bound memory.

Simulation runs many cascades at once: one breadth-first level of all of them is a handful of array
operations on the CSR arrays (gather the frontier's out-edges, draw coins, keep the successes not yet
visited). Visited ``(cascade, node)`` pairs live in a bitmap, cleared only where it was set.

References
----------
.. [1] Kempe, D., Kleinberg, J. and Tardos, É. (2003). Maximizing the spread of influence through a social
   network. KDD '03, 137-146.
.. [2] Goyal, A., Bonchi, F. and Lakshmanan, L. V. S. (2010). Learning influence probabilities in social
   networks. WSDM '10, 241-250 (Bernoulli and Jaccard estimators, section 4).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from socialvalue.errors import ConfigError, SchemaError
from socialvalue.social.graph import Graph

__all__ = [
    "SpreadEstimate",
    "learn_edge_probabilities",
    "simulate_action_log",
    "simulate_spread",
    "simulate_spread_each",
]

logger = logging.getLogger(__name__)

#: Bits of the visited bitmap one batch of cascades may use (256 MiB, touched only where cascades go): wide
#: batches amortise the per-level Python overhead over thousands of cascades.
_BITMAP_BITS = 2**31


# ----------------------------------------------------------------------------------------------- kernel
class _Bitmap:
    """A flat bitmap over ``(cascade, node)`` keys, cleared where it was set (not memset) between batches."""

    def __init__(self, nbits: int) -> None:
        self.bits = np.zeros((nbits + 7) // 8, dtype=np.uint8)
        self.touched: list[np.ndarray] = []

    def test(self, keys: np.ndarray) -> np.ndarray:
        return ((self.bits[keys >> 3] >> (keys & 7).astype(np.uint8)) & 1).astype(bool)

    def set_sorted(self, keys: np.ndarray) -> None:
        """Set sorted unique ``keys`` (several may share a byte, so OR them per byte first)."""
        if keys.size == 0:
            return
        byte = keys >> 3
        first = np.flatnonzero(np.r_[True, byte[1:] != byte[:-1]])
        vals = np.bitwise_or.reduceat(np.left_shift(1, keys & 7).astype(np.uint8), first)
        self.bits[byte[first]] |= vals
        self.touched.append(byte[first])

    def clear(self) -> None:
        for b in self.touched:
            self.bits[b] = 0
        self.touched.clear()


def _unique(keys: np.ndarray) -> np.ndarray:
    """Sorted unique values of an integer array by a sort and a comparison of neighbours.

    ``np.unique`` does the same, but numpy >= 2.3 first collects the values in a hash table: 12-15x slower on
    the millions of ``(cascade, node)`` keys of one level (670 vs 50 ns a key at 1M keys).
    """
    keys = np.sort(keys)
    if keys.size > 1:
        keep = np.empty(keys.size, dtype=bool)
        keep[0] = True
        np.not_equal(keys[1:], keys[:-1], out=keep[1:])
        keys = keys[keep]
    return keys


def _edge_ranges(start: np.ndarray, cnt: np.ndarray, cum: np.ndarray, total: int) -> np.ndarray:
    """The concatenated ranges ``start[i] .. start[i] + cnt[i] - 1`` (every ``cnt`` > 0), as one int64 array.

    A running sum of ones with the jump between ranges placed at each range's first slot: two passes over the
    output where ``np.repeat(start - offsets, cnt) + np.arange(total)`` makes four (8 -> 2.3 ns an edge).
    """
    out = np.ones(total, dtype=np.int64)
    out[0] = start[0]
    if start.size > 1:
        out[cum[:-1]] = start[1:] - (start[:-1] + cnt[:-1]) + 1
    return np.cumsum(out, out=out)


def _segment_of(cum: np.ndarray, total: int, pos: np.ndarray) -> np.ndarray:
    """Segment of each position ``pos`` (sorted) of a concatenation whose segment ends are ``cum`` (increasing).

    A running count of segment starts read at ``pos``: one pass over the concatenation, 0.8 ns an element,
    where ``np.searchsorted(cum, pos, side="right")`` costs 2.3 (random probes of ``cum`` for every hit).
    """
    if cum.size < 2**31:
        mark = np.zeros(total, dtype=np.int32)
        mark[cum[:-1]] = 1
        return np.cumsum(mark, out=mark)[pos]
    return np.searchsorted(cum, pos, side="right")  # pragma: no cover - over 2**31 frontier entries


def _levels(
    indptr: np.ndarray,
    indices: np.ndarray,
    prob: np.ndarray,
    inst: np.ndarray,
    node: np.ndarray,
    n: int,
    rng: np.random.Generator,
    bitmap: _Bitmap,
    parents: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    """Run independent cascades ``inst`` from seeds ``node`` level by level.

    Yields, per level, the newly active ``(instance, node)`` pairs (sorted by instance, then node) and the
    index, in the previous level's arrays, of the parent that activated each (None for the seeds, and
    unless ``parents``: a stable sort to find them costs more than the default one).
    Instances must be numbered so that ``inst * n + node`` fits the bitmap (below 2**31): the keys are
    int32, which halves the memory traffic of the sort and the bitmap look-ups.
    """
    keys = _unique((inst.astype(np.int64) * n + node).astype(np.int32))
    bitmap.set_sorted(keys)
    f_inst, f_node = np.divmod(keys, np.int32(n))
    yield f_inst, f_node, None
    while f_node.size:
        start = indptr[f_node]
        cnt = indptr[f_node + 1] - start
        out = np.flatnonzero(cnt)  # frontier nodes with out-edges
        if out.size == 0:
            break
        if out.size < cnt.size:
            start, cnt = start[out], cnt[out]
        cum = np.cumsum(cnt)
        total = int(cum[-1])
        edge = _edge_ranges(start, cnt, cum, total)
        hit = np.flatnonzero(rng.random(total, dtype=np.float32) < prob[edge])
        if hit.size == 0:
            break
        parent = _segment_of(cum, total, hit)
        if out.size < f_node.size:
            parent = out[parent]
        cand = f_inst[parent] * np.int32(n) + indices[edge[hit]].astype(np.int32, copy=False)
        fresh = ~bitmap.test(cand)
        cand, parent = cand[fresh], parent[fresh]
        if parents:
            keys, first = np.unique(cand, return_index=True)
            origin = parent[first]
        else:
            keys, origin = _unique(cand), None
        bitmap.set_sorted(keys)
        f_inst, f_node = np.divmod(keys, np.int32(n))
        yield f_inst, f_node, origin
    bitmap.clear()


def _batched(
    indptr: np.ndarray,
    indices: np.ndarray,
    prob: np.ndarray,
    inst: np.ndarray,
    node: np.ndarray,
    n_inst: int,
    n: int,
    rng: np.random.Generator,
    *,
    members: bool = False,
    node_counts: bool = False,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Run ``n_inst`` cascades in batches that fit the bitmap.

    ``inst`` must be sorted. Returns the size of every cascade, optionally its members as sorted global keys
    ``instance * n + node``, and optionally, per node, the number of cascades it belongs to.
    """
    per_batch = max(1, _BITMAP_BITS // max(n, 1))
    bitmap = _Bitmap(min(per_batch, n_inst) * n)
    # float32 coins and thresholds: half the memory traffic; p is moved by at most 2**-24 relative.
    prob = prob.astype(np.float32, copy=False)
    sizes = np.zeros(n_inst, dtype=np.int64)
    counts = np.zeros(n, dtype=np.int64) if node_counts else None
    out: list[np.ndarray] = []
    # Arrays waiting for one bincount: a bincount per level would cost O(n) or O(width) each time.
    pending: list[np.ndarray] = []
    n_pending = 0
    bounds = np.searchsorted(inst, np.arange(0, n_inst + per_batch, per_batch))
    for b, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        if lo == hi:
            continue
        base = b * per_batch
        width = min(per_batch, n_inst - base)
        level_inst: list[np.ndarray] = []
        n_level = 0
        for f_inst, f_node, _ in _levels(
            indptr, indices, prob, inst[lo:hi] - base, node[lo:hi], n, rng, bitmap
        ):
            level_inst.append(f_inst)
            n_level += f_inst.size
            if n_level > max(width, 1 << 22):
                sizes[base : base + width] += np.bincount(np.concatenate(level_inst), minlength=width)
                level_inst, n_level = [], 0
            if counts is not None:
                pending.append(f_node)
                n_pending += f_node.size
                if n_pending > max(n, 1 << 22):
                    counts += np.bincount(np.concatenate(pending), minlength=n)
                    pending, n_pending = [], 0
            if members:
                out.append((f_inst.astype(np.int64) + base) * n + f_node)
        if level_inst:
            sizes[base : base + width] += np.bincount(np.concatenate(level_inst), minlength=width)
    if counts is not None and pending:
        counts += np.bincount(np.concatenate(pending), minlength=n)
    keys = None
    if members:
        keys = np.sort(np.concatenate(out)) if out else np.zeros(0, dtype=np.int64)
    return sizes, keys, counts


def _check_prob(graph: Graph, prob: Any) -> np.ndarray:
    p = np.asarray(prob, dtype=np.float64)
    if p.shape != (graph.m,):
        raise SchemaError(f"edge probabilities must have one value per graph edge ({graph.m}), got {p.shape}")
    if not np.all((p >= 0) & (p <= 1)):
        raise SchemaError("edge probabilities must lie in [0, 1]")
    return p


def _rng(random_state: int | np.random.Generator | None) -> np.random.Generator:
    return (
        random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)
    )


# ----------------------------------------------------------------------------------------------- Monte Carlo
@dataclass(frozen=True)
class SpreadEstimate:
    """Monte-Carlo estimate of a spread with its normal-approximation confidence interval."""

    mean: float
    std_error: float
    lower: float
    upper: float
    n_sims: int


def simulate_spread(
    graph: Graph,
    prob: Any,
    seeds: Any,
    *,
    n_sims: int = 10_000,
    confidence: float = 0.95,
    random_state: int | np.random.Generator | None = None,
) -> SpreadEstimate:
    r"""Expected spread :math:`\sigma(S)` of a seed set by plain Monte-Carlo simulation of the cascade.

    Parameters
    ----------
    graph
        The influence graph.
    prob
        Edge probabilities aligned with the graph's edges (CSR order).
    seeds
        Seed node ids.
    n_sims
        Number of independent cascades.
    confidence
        Level of the interval :math:`\bar X \pm z\, s / \sqrt{R}`.
    random_state
        Seed or generator.

    Returns
    -------
    SpreadEstimate
        Mean number of active nodes (seeds included), its standard error and interval.
    """
    p = _check_prob(graph, prob)
    seed_pos = np.unique(graph.positions(seeds))
    rng = _rng(random_state)
    inst = np.repeat(np.arange(n_sims, dtype=np.int64), seed_pos.size)
    node = np.tile(seed_pos, n_sims)
    sizes, _, _ = _batched(graph.indptr, graph.indices, p, inst, node, n_sims, graph.n, rng)
    mean = float(sizes.mean())
    se = float(sizes.std(ddof=1) / np.sqrt(n_sims)) if n_sims > 1 else float("nan")
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    return SpreadEstimate(mean, se, mean - z * se, mean + z * se, n_sims)


def simulate_spread_each(
    graph: Graph,
    prob: Any,
    nodes: Any = None,
    *,
    n_sims: int = 1000,
    random_state: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Monte-Carlo spread of each single node (all nodes when ``nodes`` is None), all run at once.

    Returns
    -------
    pandas.DataFrame
        Indexed by node id: ``spread`` (mean active nodes) and ``std_error``.
    """
    p = _check_prob(graph, prob)
    pos = np.arange(graph.n) if nodes is None else graph.positions(nodes)
    rng = _rng(random_state)
    k = pos.size
    inst = np.arange(k * n_sims, dtype=np.int64)
    node = np.repeat(pos, n_sims)
    sizes, _, _ = _batched(graph.indptr, graph.indices, p, inst, node, k * n_sims, graph.n, rng)
    sizes = sizes.reshape(k, n_sims)
    return pd.DataFrame(
        {"spread": sizes.mean(axis=1), "std_error": sizes.std(axis=1, ddof=1) / np.sqrt(n_sims)},
        index=pd.Index(graph.ids[pos], name="node"),
    )


def simulate_action_log(
    graph: Graph,
    prob: Any,
    n_actions: int,
    *,
    seeds_per_action: int = 1,
    delay: float = 1.0,
    random_state: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Simulate an actions log by independent cascades with known edge probabilities (for validation).

    Each action starts at ``seeds_per_action`` random nodes at a random time in ``[0, 1)``; a node activated
    by ``v`` performs the action at ``t_v + U(0, delay]``.

    Returns
    -------
    pandas.DataFrame
        ``user_id`` (node id), ``action_id`` (int) and ``time`` (float), one row per activation.
    """
    p = _check_prob(graph, prob)
    rng = _rng(random_state)
    n = graph.n
    per_batch = max(1, _BITMAP_BITS // max(n, 1))
    frames = []
    for base in range(0, n_actions, per_batch):
        k = min(per_batch, n_actions - base)
        inst = np.repeat(np.arange(k, dtype=np.int64), seeds_per_action)
        node = rng.integers(0, n, inst.size)
        bitmap = _Bitmap(k * n)
        times = np.zeros(0)
        for f_inst, f_node, parent in _levels(
            graph.indptr, graph.indices, p, inst, node, n, rng, bitmap, parents=True
        ):
            if parent is None:
                times = rng.random(f_inst.size)
            else:
                times = times[parent] + delay * (1.0 - rng.random(f_inst.size))
            frames.append(
                pd.DataFrame(
                    {"user_id": graph.ids[f_node], "action_id": f_inst.astype(np.int64) + base, "time": times}
                )
            )
    return pd.concat(frames, ignore_index=True).sort_values(["action_id", "time"], ignore_index=True)


# ----------------------------------------------------------------------------------------------- learning
def learn_edge_probabilities(
    graph: Graph,
    actions: pd.DataFrame,
    *,
    tau: Any,
    method: Literal["bernoulli", "jaccard"] = "bernoulli",
    user: str = "user_id",
    action: str = "action_id",
    time: str = "time",
    max_rows: int = 20_000_000,
) -> pd.DataFrame:
    r"""Learn independent-cascade edge probabilities from observed propagation (Goyal et al. 2010).

    For each edge ``v → u``, :math:`A_{v2u}` counts the actions ``u`` performed strictly after ``v`` and
    at most ``tau`` later; each user's first time per action counts.

    .. math::

        \hat p_{vu} = \frac{A_{v2u}}{A_v} \;(\text{bernoulli}) \quad\text{or}\quad
        \frac{A_{v2u}}{A_v + A_u - A_{v\&u}} \;(\text{jaccard})

    Parameters
    ----------
    graph
        The influence graph (``v → u``: v may influence u).
    actions
        The log, one row per (user, action, time); users not in the graph are ignored.
    tau
        Propagation window, in the unit of ``time`` (a :class:`pandas.Timedelta` for datetime columns).
    method
        ``"bernoulli"`` or ``"jaccard"``.
    user, action, time
        Column names.
    max_rows
        Rows of the edge × action join materialised at once (memory bound).

    Returns
    -------
    pandas.DataFrame
        One row per graph edge, in the graph's edge order (so ``["p"]`` aligns with the edge arrays):
        ``src``, ``dst``, ``a_src`` (:math:`A_v`), ``a_dst`` (:math:`A_u`), ``a_both``, ``a_propagated``
        (:math:`A_{v2u}`) and ``p``.
    """
    if method not in ("bernoulli", "jaccard"):
        raise ConfigError(f"method must be 'bernoulli' or 'jaccard', got {method!r}")
    missing = [c for c in (user, action, time) if c not in actions.columns]
    if missing:
        raise SchemaError(f"actions: missing column(s) {missing}")
    pos = pd.Index(graph.ids).get_indexer(actions[user].to_numpy())
    keep = pos >= 0
    t = actions[time]
    if pd.api.types.is_datetime64_any_dtype(t):
        tv = t.to_numpy().astype("datetime64[ns]").astype(np.int64)[keep]
        window = pd.Timedelta(tau).value
    else:
        tv = t.to_numpy(dtype=np.float64)[keep]
        window = float(tau)
    if window <= 0:
        raise ConfigError("tau must be positive")
    a_codes, _ = pd.factorize(actions[action].to_numpy()[keep])
    u = pos[keep].astype(np.int64)
    n_act = int(a_codes.max()) + 1 if a_codes.size else 1
    key = u * n_act + a_codes
    # First time of each (user, action): sort by key then time, keep the first of each key.
    order = np.lexsort((tv, key))
    key, tv, u, a_codes = key[order], tv[order], u[order], a_codes[order]
    first = np.ones(key.size, dtype=bool)  # also right for an empty log
    first[1:] = key[1:] != key[:-1]
    key, tv, u, a_codes = key[first], tv[first], u[first], a_codes[first]
    n = graph.n
    a_user = np.bincount(u, minlength=n)
    act_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(a_user, out=act_ptr[1:])
    src, dst = graph.src.astype(np.int64), graph.indices.astype(np.int64)
    propagated = np.zeros(graph.m, dtype=np.int64)
    both = np.zeros(graph.m, dtype=np.int64)
    # Expand each edge by the actions of one end and look the other end up: drive by the end whose actions
    # summed over edges are fewer (hubs with many followers would blow up the source side).
    by_dst = int(a_user[dst].sum()) < int(a_user[src].sum())
    drv, oth = (dst, src) if by_dst else (src, dst)
    rows_per_edge = a_user[drv]
    cum_rows = np.cumsum(rows_per_edge)
    lo = 0
    while lo < graph.m:
        base = cum_rows[lo - 1] if lo else 0
        hi = max(lo + 1, int(np.searchsorted(cum_rows, base + max_rows, side="right")))
        hi = min(hi, graph.m)
        cnt = rows_per_edge[lo:hi]
        total = int(cnt.sum())
        if total:
            c = np.cumsum(cnt)
            row = np.repeat(act_ptr[drv[lo:hi]] - (c - cnt), cnt) + np.arange(total)
            e = np.repeat(np.arange(lo, hi), cnt)
            look = oth[e] * n_act + a_codes[row]
            j = np.searchsorted(key, look)
            j[j == key.size] = 0
            found = key[j] == look
            dt = tv[row] - tv[j] if by_dst else tv[j] - tv[row]
            ok = found & (dt > 0) & (dt <= window)
            both[lo:hi] += np.bincount(e[found] - lo, minlength=hi - lo)
            propagated[lo:hi] += np.bincount(e[ok] - lo, minlength=hi - lo)
        lo = hi
    a_src, a_dst = a_user[src], a_user[dst]
    denom = a_src if method == "bernoulli" else a_src + a_dst - both
    p = np.divide(propagated, denom, out=np.zeros(graph.m), where=denom > 0)
    return pd.DataFrame(
        {
            "src": graph.ids[src],
            "dst": graph.ids[dst],
            "a_src": a_src,
            "a_dst": a_dst,
            "a_both": both,
            "a_propagated": propagated,
            "p": p,
        }
    )
