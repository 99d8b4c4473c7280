r"""The influence graph: a directed, weighted, time-aware graph on customers, stored as CSR arrays.

Direction convention
--------------------
An edge ``u → v`` means **influence flows from u to v**: v sees, follows or reacts to u. Hence

* a ``follow`` relationship ``src follows dst`` gives the edge ``dst → src`` (the followed influences the
  follower), so a customer's *followers* are its out-neighbours;
* a ``friend`` relationship gives the two edges ``src → dst`` and ``dst → src``;
* a ``referred`` relationship ``src referred dst`` gives ``src → dst`` (only when asked for);
* an interaction ``actor → target_customer`` (a like, comment, share … of the target's content) gives the
  edge ``target → actor``: the actor paid attention to the target.

Every algorithm of :mod:`socialvalue.social` (PageRank, reach, independent cascade, RR sets) follows edges in
this direction.

Edge weight
-----------
For an edge ``u → v`` at time ``as_of``,

.. math::

    w_{uv} = c\,[\text{tie } u \to v] + \sum_{i \in I_{uv}} \exp\!\left(-\ln 2\, \frac{a_i}{h}\right),

where :math:`I_{uv}` are the interactions of the last ``window_days`` that give the edge, :math:`a_i` their
age in days at ``as_of``, :math:`h` the half-life in days and :math:`c` the weight of a follow/friend tie.
:math:`[\text{tie } u \to v]` is an indicator: a relationship listed twice, a ``friend`` row listed in both
directions, or a ``follow`` and a ``friend`` row that both give ``u → v`` make one tie, weight :math:`c`.

Duplicates and self-loops
-------------------------
* :func:`influence_edges` de-duplicates ties on the directed pair they give, before weighting, and drops
  self-ties and self-interactions (a customer does not influence themselves; a self-loop would make PageRank
  keep rank at the node and would add nothing to a cascade).
* :meth:`Graph.from_edges` is a plain graph container with networkx's ``DiGraph`` semantics: a repeated
  ``(src, dst)`` row is one edge (``duplicates="once"``, its weight the largest of the repeated rows, which
  is networkx's weight whenever the rows are true duplicates; networkx keeps the *last* row's weight, which
  depends on row order), and a self-loop ``u → u`` is an edge, as in ``networkx.pagerank`` (it keeps part of
  ``u``'s rank at ``u``). ``duplicates="sum"`` merges parallel edges by summing their weights instead (a
  multigraph collapsed, e.g. one row per interaction).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from socialvalue.errors import ConfigError, SchemaError

__all__ = ["Graph", "influence_edges"]


def _require(frame: pd.DataFrame, columns: Sequence[str], source: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"{source}: missing column(s) {missing}; has {list(frame.columns)}",
            [{"source": source, "column": c, "expected": "present"} for c in missing],
        )


@dataclass(frozen=True, eq=False)
class Graph:
    """A directed weighted graph on nodes ``0 .. n-1`` with forward and reverse CSR and an id index.

    Build it with :meth:`from_edges` or :meth:`from_frame`; a repeated ``(src, dst)`` pair is one edge
    (see "Duplicates and self-loops" in the module docstring) and the edges are kept in CSR order (sorted by source, then target). Edge arrays (``weight``, and edge
    probabilities used by :mod:`socialvalue.social.cascade`) are aligned with that order; ``rev_edge`` maps
    the reverse CSR positions back to it.

    Attributes
    ----------
    ids
        Node identifiers (strings or integers), position ``i`` is node ``i``.
    indptr, indices, weight
        Forward CSR: the out-edges of ``i`` go to ``indices[indptr[i]:indptr[i+1]]``.
    rev_indptr, rev_indices, rev_edge
        Reverse CSR: the in-edges of ``j`` come from ``rev_indices[rev_indptr[j]:rev_indptr[j+1]]`` and are
        the forward edges ``rev_edge[rev_indptr[j]:rev_indptr[j+1]]``.
    """

    ids: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    weight: np.ndarray
    rev_indptr: np.ndarray
    rev_indices: np.ndarray
    rev_edge: np.ndarray

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_edges(
        cls,
        src: Any,
        dst: Any,
        weight: Any = None,
        *,
        nodes: Iterable[Any] | None = None,
        duplicates: Literal["once", "sum"] = "once",
    ) -> Graph:
        """Build a graph from parallel arrays of source ids, target ids and (optional) weights.

        Parameters
        ----------
        src, dst
            Node ids of the edge ends, any hashable dtype (strings, integers).
        weight
            Non-negative edge weights; 1 for every edge when omitted.
        nodes
            All node ids, in the order wanted; nodes without edges (isolated customers) are kept. Edge ends
            not listed are appended. Without it, nodes are numbered in order of first appearance.
        duplicates
            ``"once"``: rows repeating a ``(src, dst)`` pair are one edge, with the largest of their weights
            (networkx ``DiGraph`` semantics for duplicate rows, independent of row order); ``"sum"``: parallel
            edges are merged by summing their weights. Self-loops are kept as edges either way, as networkx
            does.
        """
        if duplicates not in ("once", "sum"):
            raise ConfigError(f"duplicates must be 'once' or 'sum', got {duplicates!r}")
        src = np.asarray(src)
        dst = np.asarray(dst)
        if src.shape != dst.shape or src.ndim != 1:
            raise SchemaError("src and dst must be 1-d arrays of the same length")
        m_raw = src.shape[0]
        w = np.ones(m_raw) if weight is None else np.asarray(weight, dtype=np.float64)
        if w.shape != src.shape:
            raise SchemaError("weight must have the same length as src and dst")
        if not np.all(np.isfinite(w)) or (w.size and w.min() < 0):
            raise SchemaError("edge weights must be finite and non-negative")
        head = (
            None
            if nodes is None
            else np.asarray(nodes if isinstance(nodes, (np.ndarray, pd.Index, pd.Series)) else list(nodes))
        )
        allv = np.concatenate([src, dst] if head is None else [head, src, dst])
        if allv.dtype.kind in "US":
            allv = allv.astype(object)
        if pd.isna(allv).any():
            raise SchemaError("node ids must not be null")
        codes, uniques = pd.factorize(allv, sort=False)
        offset = 0 if head is None else head.shape[0]
        s = codes[offset : offset + m_raw].astype(np.int64)
        d = codes[offset + m_raw :].astype(np.int64)
        ids = np.asarray(uniques)
        return cls._from_codes(ids, s, d, w, once=duplicates == "once")

    @classmethod
    def from_codes(
        cls,
        ids: Any,
        src: Any,
        dst: Any,
        weight: Any = None,
        *,
        duplicates: Literal["once", "sum"] = "once",
    ) -> Graph:
        """Build a graph from edges given as node positions: ``src[k]``, ``dst[k]`` index ``ids``.

        For integer codes assigned where the data are (e.g. ``row_number()`` over the customers in DuckDB, see
        :func:`socialvalue.pipeline.social_inputs.influence_graph`): no id is hashed or compared here. Node
        ``i`` is ``ids[i]``; repeated pairs and self-loops as in :meth:`from_edges`.
        """
        if duplicates not in ("once", "sum"):
            raise ConfigError(f"duplicates must be 'once' or 'sum', got {duplicates!r}")
        ids = np.asarray(ids if isinstance(ids, (np.ndarray, pd.Index, pd.Series)) else list(ids))
        s = np.asarray(src)
        d = np.asarray(dst)
        if s.shape != d.shape or s.ndim != 1 or ids.ndim != 1:
            raise SchemaError("src and dst must be 1-d arrays of the same length, ids a 1-d array")
        if s.size and (s.dtype.kind not in "iu" or d.dtype.kind not in "iu"):
            raise SchemaError("src and dst must be integer positions into ids")
        n = ids.shape[0]
        if s.size and (min(s.min(), d.min()) < 0 or max(s.max(), d.max()) >= n):
            raise SchemaError(f"edge ends must be positions 0 .. {n - 1} of ids")
        w = np.ones(s.shape[0]) if weight is None else np.asarray(weight, dtype=np.float64)
        if w.shape != s.shape:
            raise SchemaError("weight must have the same length as src and dst")
        if not np.all(np.isfinite(w)) or (w.size and w.min() < 0):
            raise SchemaError("edge weights must be finite and non-negative")
        if pd.isna(ids).any():
            raise SchemaError("node ids must not be null")
        return cls._from_codes(ids, s.astype(np.int64), d.astype(np.int64), w, once=duplicates == "once")

    @classmethod
    def from_frame(
        cls,
        edges: pd.DataFrame,
        *,
        src: str = "src",
        dst: str = "dst",
        weight: str | None = "weight",
        nodes: Iterable[Any] | None = None,
        duplicates: Literal["once", "sum"] = "once",
    ) -> Graph:
        """Build a graph from a DataFrame of edges (columns ``src``, ``dst`` and optionally ``weight``).

        Repeated pairs and self-loops are handled as in :meth:`from_edges`.
        """
        cols = [src, dst] + ([weight] if weight is not None and weight in edges.columns else [])
        _require(edges, [src, dst], "edges")
        w = edges[weight].to_numpy(dtype=np.float64) if len(cols) == 3 else None
        return cls.from_edges(
            edges[src].to_numpy(), edges[dst].to_numpy(), w, nodes=nodes, duplicates=duplicates
        )

    @classmethod
    def _from_codes(
        cls, ids: np.ndarray, s: np.ndarray, d: np.ndarray, w: np.ndarray, *, once: bool = False
    ) -> Graph:
        n = ids.shape[0]
        idx_t = np.int32 if n < 2**31 - 1 else np.int64
        # scipy's COO→CSR is a counting sort in C++: it merges parallel edges (summing weights) and sorts
        # targets within each row, much faster than an argsort of the edge keys.
        fwd = sp.coo_array((w, (s.astype(idx_t), d.astype(idx_t))), shape=(n, n)).tocsr()
        fwd.sum_duplicates()
        if once and fwd.nnz < s.shape[0]:
            # repeated pairs: keep one row per pair, the largest weight (only paid when there are repeats)
            key = s.astype(np.int64) * n + d.astype(np.int64)
            order = np.lexsort((w, key))
            last = np.r_[key[order][1:] != key[order][:-1], True]
            keep = order[last]
            fwd = sp.coo_array(
                (w[keep], (s[keep].astype(idx_t), d[keep].astype(idx_t))), shape=(n, n)
            ).tocsr()
            fwd.sum_duplicates()
        m = fwd.nnz
        # Transposing a matrix whose values are edge ids yields the reverse CSR and the edge permutation.
        ids_t = np.int32 if m < 2**31 - 1 else np.int64
        rev = sp.csr_array((np.arange(m, dtype=ids_t), fwd.indices, fwd.indptr), shape=(n, n)).tocsc()
        return cls(
            ids,
            fwd.indptr.astype(np.int64),
            fwd.indices.astype(idx_t, copy=False),
            fwd.data.astype(np.float64, copy=False),
            rev.indptr.astype(np.int64),
            rev.indices.astype(idx_t, copy=False),
            rev.data.astype(np.int64),
        )

    def reversed(self) -> Graph:
        """Return the graph with every edge turned around (same node ids and positions), without re-sorting."""
        rev_edge = np.empty_like(self.rev_edge)
        rev_edge[self.rev_edge] = np.arange(self.m)
        return Graph(
            self.ids,
            self.rev_indptr,
            self.rev_indices,
            self.weight[self.rev_edge],
            self.indptr,
            self.indices,
            rev_edge,
        )

    # ------------------------------------------------------------------ views
    @property
    def n(self) -> int:
        """Number of nodes."""
        return int(self.ids.shape[0])

    @property
    def m(self) -> int:
        """Number of distinct edges."""
        return int(self.indices.shape[0])

    @property
    def src(self) -> np.ndarray:
        """Source position of every edge, in CSR order."""
        return np.repeat(np.arange(self.n, dtype=self.indices.dtype), np.diff(self.indptr))

    def adjacency(self, weighted: bool = True) -> sp.csr_array:
        """Return the n×n adjacency matrix, ``A[u, v]`` = weight (or 1) of ``u → v``."""
        data = self.weight if weighted else np.ones(self.m)
        return sp.csr_array((data, self.indices, self.indptr), shape=(self.n, self.n))

    def reverse_adjacency(self, weighted: bool = True) -> sp.csr_array:
        """Return the transposed adjacency ``Aᵀ`` in CSR form (row ``v`` lists the in-edges of ``v``)."""
        data = self.weight[self.rev_edge] if weighted else np.ones(self.m)
        return sp.csr_array((data, self.rev_indices, self.rev_indptr), shape=(self.n, self.n))

    def out_degree(self, weighted: bool = False) -> np.ndarray:
        """Out-degree (number of distinct out-neighbours) or total out-weight of every node."""
        if weighted:
            return np.bincount(self.src, weights=self.weight, minlength=self.n)
        return np.diff(self.indptr)

    def in_degree(self, weighted: bool = False) -> np.ndarray:
        """In-degree (number of distinct in-neighbours) or total in-weight of every node."""
        if weighted:
            return np.bincount(self.indices, weights=self.weight, minlength=self.n)
        return np.diff(self.rev_indptr)

    def positions(self, node_ids: Any) -> np.ndarray:
        """Positions ``0 .. n-1`` of the given node ids; raises :class:`SchemaError` on an unknown id."""
        node_ids = np.atleast_1d(np.asarray(node_ids))
        pos = pd.Index(self.ids).get_indexer(node_ids)
        if (pos < 0).any():
            bad = node_ids[pos < 0][:5].tolist()
            raise SchemaError(f"{int((pos < 0).sum())} node id(s) not in the graph, e.g. {bad}")
        return pos.astype(np.int64)

    def edges_frame(self) -> pd.DataFrame:
        """Return the distinct edges as a DataFrame ``src, dst, weight`` with the original node ids."""
        return pd.DataFrame({"src": self.ids[self.src], "dst": self.ids[self.indices], "weight": self.weight})

    def node_vector(
        self, values: Mapping[Any, float] | pd.Series | np.ndarray | Sequence[Any], name: str
    ) -> np.ndarray:
        """Return a length-``n`` float vector from per-node values.

        ``values`` may be a length-``n`` float array aligned with :attr:`ids`, a mapping / Series from node id
        to value (missing nodes get 0), or a list of node ids (each gets 1).
        """
        if isinstance(values, Mapping) and not isinstance(values, pd.Series):
            values = pd.Series(values, dtype=np.float64)
        if isinstance(values, pd.Series):
            out = np.zeros(self.n)
            np.add.at(out, self.positions(values.index.to_numpy()), values.to_numpy(dtype=np.float64))
            return out
        arr = np.asarray(values)
        if arr.dtype.kind == "f" and arr.shape == (self.n,):
            return arr.astype(np.float64, copy=True)
        out = np.zeros(self.n)
        out[self.positions(arr)] = 1.0
        if out.sum() == 0:
            raise ConfigError(f"{name}: no node selected")
        return out


def influence_edges(
    relationships: pd.DataFrame | None = None,
    interactions: pd.DataFrame | None = None,
    *,
    as_of: Any,
    half_life_days: float = 30.0,
    window_days: float = 365.0,
    tie_weight: float = 1.0,
    relationship_kinds: Sequence[str] = ("follow", "friend"),
    interaction_kinds: Sequence[str] | None = None,
) -> pd.DataFrame:
    r"""Build the influence edges ``src → dst`` (influence flows from src to dst) with decayed weights, as of a date.

    .. math::

        w_{uv} = c\,[\text{tie}] + \sum_i 2^{-a_i / h}

    Parameters
    ----------
    relationships
        Canonical ``relationships`` rows (``src_id, dst_id, kind`` and optionally ``created_at``,
        ``ended_at``). Ties created after ``as_of`` or ended at/before it are ignored. Each tie counts once:
        rows are de-duplicated on ``(src_id, dst_id, kind)`` and the resulting directed ties on
        ``(src, dst)`` before weighting (the tie term is an indicator); self-ties are dropped.
    interactions
        Canonical ``interactions`` rows (``actor_id, target_customer_id, kind, occurred_at``); rows without a
        target customer (acting on the brand) and self-interactions are ignored.
    as_of
        The date the graph describes (UTC); later events are ignored.
    half_life_days
        Age, in days, at which an interaction counts half.
    window_days
        Only interactions of the last ``window_days`` days count.
    tie_weight
        Weight :math:`c` of one follow/friend/referral tie.
    relationship_kinds
        Which relationship kinds make ties (``follow``, ``friend``, ``referred``; ``follows`` is read as
        ``follow``).
    interaction_kinds
        Which interaction kinds count; all when ``None``.

    Returns
    -------
    pandas.DataFrame
        Columns ``src, dst, weight``, one row per directed pair, no self-loops, ready for
        :meth:`Graph.from_frame`.
    """
    if half_life_days <= 0 or window_days <= 0 or tie_weight < 0:
        raise ConfigError("half_life_days and window_days must be > 0 and tie_weight >= 0")
    as_of = pd.Timestamp(as_of)
    parts: list[pd.DataFrame] = []
    if relationships is not None and len(relationships):
        _require(relationships, ["src_id", "dst_id", "kind"], "relationships")
        # ``follows`` is the pre-v3 spelling of ``follow``: frames built by hand may still use it.
        r = relationships.assign(kind=relationships["kind"].replace("follows", "follow"))
        wanted = ["follow" if k == "follows" else k for k in relationship_kinds]
        keep = r["kind"].isin(wanted).to_numpy()
        if "created_at" in r.columns:
            keep = keep & ~(pd.to_datetime(r["created_at"]) > as_of).to_numpy()
        if "ended_at" in r.columns:
            keep = keep & ~(pd.to_datetime(r["ended_at"]) <= as_of).to_numpy()
        keep = keep & (r["src_id"] != r["dst_id"]).to_numpy()  # a customer does not influence themselves
        r = r.loc[keep, ["src_id", "dst_id", "kind"]].drop_duplicates()
        fwd = r["kind"].isin(["friend", "referred"]).to_numpy()
        back = r["kind"].isin(["friend", "follow"]).to_numpy()
        ties = pd.concat(
            [
                pd.DataFrame({"src": r["src_id"].to_numpy()[fwd], "dst": r["dst_id"].to_numpy()[fwd]}),
                pd.DataFrame({"src": r["dst_id"].to_numpy()[back], "dst": r["src_id"].to_numpy()[back]}),
            ],
            ignore_index=True,
        )
        # [tie u -> v] is an indicator: a pair given by several rows (a repeated row, a friendship listed in
        # both directions, a follow beside a friendship) is one tie
        parts.append(ties.drop_duplicates().assign(weight=tie_weight))
    if interactions is not None and len(interactions):
        _require(interactions, ["actor_id", "target_customer_id", "occurred_at"], "interactions")
        it = interactions
        age = (as_of - pd.to_datetime(it["occurred_at"])).dt.total_seconds().to_numpy() / 86400.0
        keep = (age >= 0) & (age <= window_days) & it["target_customer_id"].notna().to_numpy()
        keep = keep & (it["actor_id"] != it["target_customer_id"]).to_numpy()
        if interaction_kinds is not None:
            _require(it, ["kind"], "interactions")
            keep = keep & it["kind"].isin(list(interaction_kinds)).to_numpy()
        parts.append(
            pd.DataFrame(
                {
                    "src": it["target_customer_id"].to_numpy()[keep],
                    "dst": it["actor_id"].to_numpy()[keep],
                    "weight": np.exp(-np.log(2.0) * age[keep] / half_life_days),
                }
            )
        )
    if not parts:
        return pd.DataFrame(
            {"src": pd.Series(dtype=object), "dst": pd.Series(dtype=object), "weight": pd.Series(dtype=float)}
        )
    edges = pd.concat(parts, ignore_index=True)
    return edges.groupby(["src", "dst"], as_index=False, sort=True)["weight"].sum()
