r"""Do social components predict what a member's followers do next? A time-split benchmark on real data.

Given dated content (reviews, posts) and a follow/trust graph, :func:`neighbour_activity_benchmark` freezes
everything at a split date :math:`s`, computes each member's social components from data before :math:`s`
only, and measures how well each ranks the activity of the member's **followers** (the neighbours its
influence reaches) in :math:`[s, e)`:

.. math::

    y_v = \sum_{u \in F(v)} n_u[s, e), \qquad
    a_v = \bigl|\{(u, j) : u \in F(v),\ u \text{ reviews item } j \text{ in } [s, e)
          \text{ after } v \text{ reviewed } j\}\bigr|,

where :math:`F(v)` are the followers of :math:`v` and :math:`n_u[s, e)` the number of items ``u`` created in
the window. :math:`y` is the followers' total activity (the issue's target); :math:`a` the follower
*adoptions* (items a follower took up after the member), the narrower target that influence models aim at.

Components (per member, all as of :math:`s`): ``followers`` (:func:`~socialvalue.social.reach.followers`),
``reach_2`` (two-hop audience), ``influence_pagerank``, ``spread`` (expected independent-cascade spread from
reverse-reachable sets, :func:`~socialvalue.social.rrsets.estimate_spread`, with edge probabilities learned
from who reviewed the same item after whom, :func:`~socialvalue.social.cascade.learn_edge_probabilities`),
``direct_influence`` (:math:`\sum_u \hat p_{vu}`, the first-order term of the spread, exact), ``content_score``
(all content before :math:`s`) and ``recent_content_score`` (last ``activity_window_days``) from
:func:`~socialvalue.social.engagement.content_score`, ``interaction_score``
(:func:`~socialvalue.social.engagement.interaction_score`) and ``audience_activity`` (the followers' own
activity in the last ``activity_window_days`` before :math:`s`: not a library score, the obvious naive
neighbour baseline, reported so that the social components are judged against it too).

Each component is scored by :func:`~socialvalue.social.ranking.ranking_metrics` (Spearman, top-decile capture,
normalised Gini). Then ordinary least squares on :math:`\log(1 + x)` features predicts :math:`\log(1 + y)` out
of fold (``cv_folds``-fold cross-validation repeated ``cv_repeats`` times), for followers alone and for sets
of components, and a paired bootstrap over members gives an interval for the gain in out-of-fold Spearman.

Relationships without dates are treated as static (present before :math:`s`), as the Ciao trust graph must
be; ties with ``created_at`` after :math:`s` are dropped by :func:`~socialvalue.social.graph.influence_edges`.

References
----------
.. [1] Tang, J., Gao, H. & Liu, H. (2012). mTrust: Discerning multi-faceted trust in a connected world. WSDM
   2012, 93-102 (the Ciao data).
.. [2] Goyal, A., Bonchi, F. and Lakshmanan, L. V. S. (2010). Learning influence probabilities in social
   networks. WSDM '10, 241-250.
.. [3] Borgs, C., Brautbar, M., Chayes, J. and Lucier, B. (2014). Maximizing social influence in nearly
   optimal time. SODA '14, 946-957.
.. [4] Kempe, D., Kleinberg, J. and Tardos, É. (2003). Maximizing the spread of influence through a social
   network. KDD '03, 137-146.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field
from scipy import stats

from socialvalue.config import ConfigModel
from socialvalue.errors import ConfigError, SchemaError
from socialvalue.social.cascade import learn_edge_probabilities
from socialvalue.social.engagement import InteractionScoreConfig, content_score, interaction_score
from socialvalue.social.graph import Graph, influence_edges
from socialvalue.social.pagerank import influence_pagerank
from socialvalue.social.ranking import ranking_metrics
from socialvalue.social.reach import followers, reach
from socialvalue.social.rrsets import estimate_spread

__all__ = [
    "COMPONENTS",
    "SOCIAL_COMPONENTS",
    "NeighbourBenchmarkConfig",
    "ValidationResult",
    "follower_targets",
    "neighbour_activity_benchmark",
    "published_value_benchmark",
    "social_components_at",
]

logger = logging.getLogger(__name__)

#: Per-member components computed as of the split, in report order.
COMPONENTS: tuple[str, ...] = (
    "followers",
    "reach_2",
    "influence_pagerank",
    "spread",
    "direct_influence",
    "content_score",
    "recent_content_score",
    "interaction_score",
    "audience_activity",
)

#: The library's social components (everything but the naive ``audience_activity`` baseline).
SOCIAL_COMPONENTS: tuple[str, ...] = COMPONENTS[:-1]

TARGETS: tuple[str, ...] = ("follower_activity", "follower_adoptions")

_TIME_COLUMNS = ("created_at", "occurred_at", "ended_at")


class NeighbourBenchmarkConfig(ConfigModel):
    r"""Settings of :func:`neighbour_activity_benchmark`.

    Attributes
    ----------
    tau_days
        Propagation window of Goyal et al.'s estimator: a follower's review of an item counts as propagated
        when it comes at most this many days after the member's.
    prob_method
        ``"bernoulli"`` or ``"jaccard"`` edge-probability estimator.
    spread_sets_per_node
        Reverse-reachable sets drawn per graph node. Learned probabilities on review data are small (spread
        close to 1), so the estimate needs many sets to separate members: the standard error of
        :math:`\hat\sigma(v)` is about :math:`\sqrt{\sigma(v) / \text{sets per node}}`.
    activity_window_days
        Window before the split for ``recent_content_score``, ``interaction_score`` and ``audience_activity``.
    pagerank_alpha
        Damping factor of the influence PageRank.
    min_followers
        Members with fewer followers at the split are left out of the evaluation (their follower activity is
        0 by construction, which would flatter follower count).
    cv_folds, cv_repeats
        Cross-validation of the log-linear models.
    bootstrap
        Paired bootstrap resamples of the out-of-fold Spearman gain.
    random_state
        Seed of the RR sets, the folds and the bootstrap.
    """

    tau_days: float = Field(default=365.0, gt=0)
    prob_method: Literal["bernoulli", "jaccard"] = "bernoulli"
    spread_sets_per_node: int = Field(default=200, ge=1)
    activity_window_days: float = Field(default=365.0, gt=0)
    pagerank_alpha: float = Field(default=0.85, gt=0, lt=1)
    min_followers: int = Field(default=1, ge=1)
    cv_folds: int = Field(default=5, ge=2)
    cv_repeats: int = Field(default=5, ge=1)
    bootstrap: int = Field(default=500, ge=0)
    random_state: int = 0


def _model_sets() -> dict[str, tuple[str, ...]]:
    """Models compared out of fold: name -> features (each enters as a log, see :func:`_design`)."""
    sets: dict[str, tuple[str, ...]] = {"followers": ("followers",)}
    for c in COMPONENTS[1:]:
        sets[f"followers + {c}"] = ("followers", c)
    sets["graph (followers, reach_2, pagerank)"] = ("followers", "reach_2", "influence_pagerank")
    sets["social components"] = SOCIAL_COMPONENTS
    sets["social components + audience_activity"] = COMPONENTS
    return sets


@dataclass(frozen=True)
class ValidationResult:
    r"""What :func:`neighbour_activity_benchmark` measured.

    Attributes
    ----------
    split, end
        The split date and the end of the evaluation window.
    members
        One row per evaluated member (index ``customer_id``): every component of :data:`COMPONENTS` and the
        targets ``follower_activity`` and ``follower_adoptions``.
    components
        Per (``target``, ``component``): ``spearman``, ``top_decile_capture``, ``gini_normalized`` of ranking
        the target by the raw component.
    models
        Per (``target``, ``model``): out-of-fold ``r2_log`` (on :math:`\log(1 + y)`), ``spearman``,
        ``top_decile_capture``, ``gini_normalized`` (means over repeats) and ``spearman_min`` /
        ``spearman_max`` over repeats.
    gain
        Per target: out-of-fold Spearman of ``social components`` minus that of ``followers`` (first repeat)
        with its paired-bootstrap 95% interval (``gain``, ``lower``, ``upper``), and the same for
        ``social components + audience_activity``.
    info
        Data sizes and settings: members, graph nodes and edges, content before and after, mean edge
        probability, share of edges with a positive probability, RR sets drawn, mean
        :math:`\hat\sigma(v) - 1` and median standard error of the spread (signal against noise).
    """

    split: pd.Timestamp
    end: pd.Timestamp
    members: pd.DataFrame
    components: pd.DataFrame
    models: pd.DataFrame
    gain: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        """Plain-text tables of the component and model figures."""
        fmt = {"float_format": lambda v: f"{v:.3f}"}
        return "\n\n".join(
            [
                f"split {self.split.date()}, evaluation [{self.split.date()}, {self.end.date()}), "
                + ", ".join(
                    f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in self.info.items()
                ),
                "components (raw ranking):\n" + self.components.to_string(**fmt),
                "out-of-fold log-linear models:\n" + self.models.to_string(**fmt),
                "Spearman gain over followers alone (paired bootstrap 95%):\n" + self.gain.to_string(**fmt),
            ]
        )


# ----------------------------------------------------------------------------------------------- inputs
def _frame(tables: Mapping[str, Any], name: str, columns: tuple[str, ...]) -> pd.DataFrame:
    if name not in tables:
        raise SchemaError(f"tables lack {name!r}; have {sorted(tables)}")
    t = tables[name]
    df = t if isinstance(t, pd.DataFrame) else t.to_pandas()
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise SchemaError(f"{name}: missing column(s) {missing}; has {list(df.columns)}")
    # canonical times are naive UTC; a tz-aware column (e.g. read back from a TIMESTAMPTZ) is made so too
    aware = [c for c in _TIME_COLUMNS if c in df.columns and getattr(df[c].dtype, "tz", None) is not None]
    if aware:
        df = df.assign(**{c: df[c].dt.tz_convert("UTC").dt.tz_localize(None) for c in aware})
    return df


def _per_source(graph: Graph, per_target: np.ndarray) -> np.ndarray:
    """Sum over each node's out-neighbours (its followers) of a per-node value."""
    return np.bincount(graph.src, weights=per_target[graph.indices], minlength=graph.n)


def _counts(graph: Graph, authors: pd.Series) -> np.ndarray:
    pos = pd.Index(graph.ids).get_indexer(authors.to_numpy())
    return np.bincount(pos[pos >= 0], minlength=graph.n).astype(np.float64)


def social_components_at(
    graph: Graph,
    content: pd.DataFrame,
    split: Any,
    *,
    interactions: pd.DataFrame | None = None,
    config: NeighbourBenchmarkConfig | None = None,
) -> pd.DataFrame:
    """Every member's social components from the graph and the content created before ``split``.

    Parameters
    ----------
    graph
        Influence graph (``u → v``: v follows u) as of ``split``.
    content
        Canonical ``content`` rows (``content_id, author_id, created_at, product_id`` and optionally
        ``rating, helpful_votes``); only rows before ``split`` are used.
    split
        The as-of date.
    interactions
        Canonical ``interactions`` for the interaction score; content creation events are used when None.
    config
        Settings; :class:`NeighbourBenchmarkConfig` defaults when None.

    Returns
    -------
    pandas.DataFrame
        Indexed by node id, the columns of :data:`COMPONENTS`; ``attrs`` holds the edge-probability summary.
    """
    cfg = config or NeighbourBenchmarkConfig()
    split = pd.Timestamp(split)
    window = pd.Timedelta(days=cfg.activity_window_days)
    before = content.loc[content["created_at"] < split]
    recent = before.loc[before["created_at"] >= split - window]
    ids = pd.Index(graph.ids)

    out = pd.DataFrame(index=ids.rename("customer_id"))
    out["followers"] = followers(graph).to_numpy(dtype=np.float64)
    out["reach_2"] = reach(graph, 2).to_numpy(dtype=np.float64)
    out["influence_pagerank"] = influence_pagerank(graph, alpha=cfg.pagerank_alpha).to_numpy()

    actions = pd.DataFrame(
        {
            "user_id": before["author_id"].to_numpy(),
            "action_id": before["product_id"].to_numpy(),
            "time": before["created_at"].to_numpy(),
        }
    )
    learned = learn_edge_probabilities(
        graph, actions, tau=pd.Timedelta(days=cfg.tau_days), method=cfg.prob_method
    )
    prob = learned["p"].to_numpy()
    sets = cfg.spread_sets_per_node * graph.n
    spread = estimate_spread(graph, prob, n_sets=sets, random_state=cfg.random_state)
    out["spread"] = spread["spread"].to_numpy()
    out["direct_influence"] = np.bincount(graph.src, weights=prob, minlength=graph.n)

    score = content_score(before, split).set_index("customer_id")["content_score"]
    out["content_score"] = score.reindex(ids).fillna(0.0).to_numpy()
    score = content_score(recent, split).set_index("customer_id")["content_score"]
    out["recent_content_score"] = score.reindex(ids).fillna(0.0).to_numpy()
    if interactions is None:
        interactions = pd.DataFrame(
            {
                "actor_id": before["author_id"].to_numpy(),
                "target_customer_id": pd.Series(None, index=range(len(before)), dtype=object),
                "kind": "review",
                "occurred_at": before["created_at"].to_numpy(),
            }
        )
    inter = interactions.loc[interactions["occurred_at"] < split]
    # interaction_score counts (as_of - window, as_of]; end it just before the split so the split is excluded.
    iscore = interaction_score(
        inter,
        split - pd.Timedelta(microseconds=1),
        config=InteractionScoreConfig(window_days=cfg.activity_window_days),
    ).set_index("customer_id")["interaction_score"]
    out["interaction_score"] = iscore.reindex(ids).fillna(0.0).to_numpy()
    out["audience_activity"] = _per_source(graph, _counts(graph, recent["author_id"]))
    out.attrs.update(
        mean_edge_probability=float(prob.mean()) if prob.size else 0.0,
        positive_edge_share=float((prob > 0).mean()) if prob.size else 0.0,
        rr_sets=int(sets),
        # signal vs noise of the RR estimate: mean sigma(v) - 1 against the median standard error
        spread_mean_minus_1=float(spread["spread"].mean() - 1.0),
        spread_median_std_error=float(spread["std_error"].median()),
    )
    return out


def follower_targets(graph: Graph, content: pd.DataFrame, split: Any, end: Any) -> pd.DataFrame:
    """The followers' activity and adoptions in ``[split, end)`` for every node (see the module formula).

    Returns
    -------
    pandas.DataFrame
        Indexed by node id: ``follower_activity`` (items created by followers in the window) and
        ``follower_adoptions`` (distinct (follower, item) pairs where the follower created content on an item
        in the window after the member had, at any earlier time).
    """
    split, end = pd.Timestamp(split), pd.Timestamp(end)
    after = content.loc[(content["created_at"] >= split) & (content["created_at"] < end)]
    activity = _per_source(graph, _counts(graph, after["author_id"]))

    edges = pd.DataFrame({"v": graph.src, "u": graph.indices.astype(np.int64)})
    pos = pd.Index(graph.ids).get_indexer(after["author_id"].to_numpy())
    took = pd.DataFrame(
        {"u": pos, "item": after["product_id"].to_numpy(), "t_u": after["created_at"].to_numpy()}
    ).loc[pos >= 0]
    vpos = pd.Index(graph.ids).get_indexer(content["author_id"].to_numpy())
    keep = (vpos >= 0) & (content["created_at"] < end).to_numpy()
    # earliest time each member created content on each item
    first = (
        pd.DataFrame(
            {
                "v": vpos[keep],
                "item": content["product_id"].to_numpy()[keep],
                "t_v": content["created_at"].to_numpy()[keep],
            }
        )
        .groupby(["v", "item"], as_index=False)["t_v"]
        .min()
    )
    joined = took.merge(edges, on="u").merge(first, on=["v", "item"])
    joined = joined.loc[joined["t_v"] < joined["t_u"], ["v", "u", "item"]].drop_duplicates()
    adoptions = np.bincount(joined["v"].to_numpy(), minlength=graph.n).astype(np.float64)
    return pd.DataFrame(
        {"follower_activity": activity, "follower_adoptions": adoptions},
        index=pd.Index(graph.ids, name="customer_id"),
    )


# ----------------------------------------------------------------------------------------------- evaluation
def _design(members: pd.DataFrame, features: tuple[str, ...], n_nodes: int) -> np.ndarray:
    """Intercept and log features: log(n · PageRank) (mean 0 on the graph), log(1 + x) for counts/scores."""
    cols = [np.ones(len(members))]
    for f in features:
        x = members[f].to_numpy(dtype=np.float64)
        cols.append(np.log(x * n_nodes) if f == "influence_pagerank" else np.log1p(np.clip(x, 0.0, None)))
    return np.column_stack(cols)


def _oof_predictions(x: np.ndarray, z: np.ndarray, folds: np.ndarray, k: int) -> np.ndarray:
    """Out-of-fold least-squares predictions of ``z`` from ``x`` (normal equations, pseudo-inverse)."""
    pred = np.empty_like(z)
    gram_all, xtz_all = x.T @ x, x.T @ z
    for f in range(k):
        test = folds == f
        xt = x[test]
        # training Gram = full Gram minus the test fold's: one small solve per fold
        beta = np.linalg.pinv(gram_all - xt.T @ xt) @ (xtz_all - xt.T @ z[test])
        pred[test] = xt @ beta
    return pred


def _spearman_rows(score: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Spearman correlation of each row pair (tie-averaged ranks, Pearson of the ranks)."""
    ra = stats.rankdata(score, axis=-1)
    rb = stats.rankdata(value, axis=-1)
    ra -= ra.mean(axis=-1, keepdims=True)
    rb -= rb.mean(axis=-1, keepdims=True)
    return (ra * rb).sum(axis=-1) / np.sqrt((ra * ra).sum(axis=-1) * (rb * rb).sum(axis=-1))


def _evaluate_models(
    members: pd.DataFrame, target: str, n_nodes: int, cfg: NeighbourBenchmarkConfig
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    y = members[target].to_numpy(dtype=np.float64)
    z = np.log1p(y)
    sst = float(((z - z.mean()) ** 2).sum())
    rng = np.random.default_rng(cfg.random_state)
    n = len(members)
    fold_sets = [rng.permutation(n) % cfg.cv_folds for _ in range(cfg.cv_repeats)]
    rows, first_preds = [], {}
    for name, feats in _model_sets().items():
        x = _design(members, feats, n_nodes)
        per_repeat = []
        for r, folds in enumerate(fold_sets):
            pred = _oof_predictions(x, z, folds, cfg.cv_folds)
            if r == 0:
                first_preds[name] = pred
            m = ranking_metrics(y, pred)
            r2 = 1.0 - float(((z - pred) ** 2).sum()) / sst if sst > 0 else 0.0
            per_repeat.append((r2, m.spearman, m.top_decile_capture, m.gini_normalized))
        a = np.asarray(per_repeat)
        rows.append(
            {
                "target": target,
                "model": name,
                "r2_log": a[:, 0].mean(),
                "spearman": a[:, 1].mean(),
                "top_decile_capture": a[:, 2].mean(),
                "gini_normalized": a[:, 3].mean(),
                "spearman_min": a[:, 1].min(),
                "spearman_max": a[:, 1].max(),
            }
        )
    return pd.DataFrame(rows), first_preds


def _bootstrap_gain(
    y: np.ndarray, better: np.ndarray, base: np.ndarray, n_boot: int, rng: np.random.Generator
) -> tuple[float, float, float]:
    """Spearman(better) - Spearman(base) and its paired percentile-bootstrap 95% interval."""
    gain = float(_spearman_rows(better, y) - _spearman_rows(base, y))
    if n_boot == 0:
        return gain, float("nan"), float("nan")
    lo_hi = []
    for start in range(0, n_boot, 100):  # blocks of resamples bound the memory of the rank matrices
        idx = rng.integers(0, y.size, (min(100, n_boot - start), y.size))
        lo_hi.append(_spearman_rows(better[idx], y[idx]) - _spearman_rows(base[idx], y[idx]))
    lo, hi = np.quantile(np.concatenate(lo_hi), [0.025, 0.975])
    return gain, float(lo), float(hi)


def neighbour_activity_benchmark(
    tables: Mapping[str, Any],
    split: Any,
    end: Any = None,
    *,
    config: NeighbourBenchmarkConfig | None = None,
) -> ValidationResult:
    """Rank members by social components as of ``split`` and score the ranking on their followers' future.

    Parameters
    ----------
    tables
        Canonical tables as pandas DataFrames or pyarrow Tables (e.g. from
        :func:`socialvalue.datasets.ciao.load`, or ``store.query_df("SELECT * FROM content")``): ``content``
        (``author_id, created_at, product_id``, optionally ``rating, helpful_votes``), ``relationships``
        (``src_id, dst_id, kind``; ``follow``/``friend`` ties make the graph) and optionally
        ``interactions`` (for the interaction score; content creation is used without it).
    split
        The as-of date: components use data strictly before it, targets data in ``[split, end)``.
    end
        End of the evaluation window (exclusive); one day after the last content when None.
    config
        Settings; :class:`NeighbourBenchmarkConfig` defaults when None.

    Returns
    -------
    ValidationResult
        Per-member frame, component rankings, out-of-fold model comparison and the Spearman gain interval.

    Examples
    --------
    >>> from socialvalue.datasets import ciao  # doctest: +SKIP
    >>> res = neighbour_activity_benchmark(ciao.load(), "2008-01-01", "2010-01-01")  # doctest: +SKIP
    >>> print(res.summary())  # doctest: +SKIP
    """
    cfg = config or NeighbourBenchmarkConfig()
    content = _frame(tables, "content", ("author_id", "created_at", "product_id"))
    rel = _frame(tables, "relationships", ("src_id", "dst_id", "kind"))
    interactions = None
    if "interactions" in tables:
        interactions = _frame(
            tables, "interactions", ("actor_id", "target_customer_id", "kind", "occurred_at")
        )
    split = pd.Timestamp(split)
    end = content["created_at"].max() + pd.Timedelta(days=1) if end is None else pd.Timestamp(end)
    if not split < end:
        raise ConfigError(f"split {split} must come before end {end}")
    if not (content["created_at"] < split).any():
        raise ConfigError(f"no content before the split {split}")

    edges = influence_edges(rel, as_of=split, relationship_kinds=("follow", "friend"))
    if edges.empty:
        raise ConfigError(f"no follow/friend ties as of {split}")
    nodes = np.unique(np.concatenate([edges["src"].to_numpy(), edges["dst"].to_numpy()]))
    graph = Graph.from_frame(edges, nodes=nodes)
    comps = social_components_at(graph, content, split, interactions=interactions, config=cfg)
    targets = follower_targets(graph, content, split, end)
    members = comps.join(targets)
    members = members.loc[members["followers"] >= cfg.min_followers].copy()
    if len(members) < 2 * cfg.cv_folds:
        raise ConfigError(f"only {len(members)} members with >= {cfg.min_followers} followers to evaluate")
    logger.info("benchmark: %d members, %d edges, split %s", len(members), graph.m, split.date())

    comp_rows, model_frames, gain_rows = [], [], []
    rng = np.random.default_rng(cfg.random_state + 1)
    for target in TARGETS:
        y = members[target].to_numpy(dtype=np.float64)
        for c in (*COMPONENTS, "(perfect ranking)"):
            score = y if c == "(perfect ranking)" else members[c].to_numpy(dtype=np.float64)
            m = ranking_metrics(y, score)
            comp_rows.append(
                {
                    "target": target,
                    "component": c,
                    "spearman": m.spearman,
                    "top_decile_capture": m.top_decile_capture,
                    "gini_normalized": m.gini_normalized,
                }
            )
        frame, preds = _evaluate_models(members, target, graph.n, cfg)
        model_frames.append(frame)
        for better in ("social components", "social components + audience_activity"):
            g, lo, hi = _bootstrap_gain(y, preds[better], preds["followers"], cfg.bootstrap, rng)
            gain_rows.append({"target": target, "model": better, "gain": g, "lower": lo, "upper": hi})
    info = {
        "members": len(members),
        "nodes": graph.n,
        "edges": graph.m,
        "content_before": int((content["created_at"] < split).sum()),
        "content_after": int(((content["created_at"] >= split) & (content["created_at"] < end)).sum()),
        **comps.attrs,
    }
    return ValidationResult(
        split=split,
        end=end,
        members=members,
        components=pd.DataFrame(comp_rows).set_index(["target", "component"]),
        models=pd.concat(model_frames, ignore_index=True).set_index(["target", "model"]),
        gain=pd.DataFrame(gain_rows).set_index(["target", "model"]),
        info=info,
    )


def _ts_naive(value: Any) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts


def published_value_benchmark(
    scores: pd.DataFrame,
    tables: Mapping[str, Any],
    split: Any,
    end: Any,
    *,
    score_columns: Mapping[str, str] | None = None,
    n_bootstrap: int = 500,
    random_state: int = 0,
) -> dict[str, pd.DataFrame]:
    r"""Rank members' activity after ``split`` by a run's published value and by single baselines.

    The run must have been made as of ``split`` (its scores see nothing later). Two outcomes in
    :math:`[s, e)`: ``own_activity`` (items the member created; members with at least one item before
    :math:`s`) and ``follower_activity`` (items created by the member's followers, the :math:`y_v` of the
    module docstring; members with at least one follower). Baselines, all from data before :math:`s`:
    items in the last 365 days, minus the days since the last item (recency), items to date, follower count
    and the followers' items in the last 365 days (their audience's recent activity).

    Parameters
    ----------
    scores
        The run's ``scores`` (``customer_id`` and the columns of ``score_columns``).
    tables
        ``content`` (``author_id``, ``created_at``) and ``relationships`` (``src_id`` follows ``dst_id``).
    split, end
        The run's as-of date and the end of the outcome window.
    score_columns
        Name -> column of ``scores`` for the run's scores to judge; default the published value
        (``value_score``) and the learned customer social value (``csv``).
    n_bootstrap
        Resamples of members for the percentile 95% intervals and the paired differences.
    random_state
        Seed of the bootstrap.

    Returns
    -------
    dict of pandas.DataFrame
        ``metrics``: index (outcome, candidate), columns ``kind`` (``run`` or ``baseline``), ``spearman``,
        ``spearman_lower``, ``spearman_upper``, ``capture``, ``capture_lower``, ``capture_upper`` (top-decile
        capture), ``n``. ``versus_best``: per outcome and run score, the best baseline (highest Spearman),
        the differences in Spearman and capture and their paired bootstrap 95% intervals.
    """
    cols = dict(score_columns or {"published value": "value_score", "learned value (csv)": "csv"})
    s, e = _ts_naive(split), _ts_naive(end)
    content = _frame(tables, "content", ("author_id", "created_at"))
    rel = _frame(tables, "relationships", ("src_id", "dst_id"))
    ids = scores["customer_id"].astype(str).to_numpy()
    idx = pd.Index(ids)
    authors = content["author_id"].astype(str)
    at = pd.to_datetime(content["created_at"])
    if at.dt.tz is not None:
        at = at.dt.tz_convert("UTC").dt.tz_localize(None)
    before, after = at < s, (at >= s) & (at < e)
    last_year = before & (at >= s - pd.Timedelta(days=365))

    def per_member(mask: pd.Series) -> np.ndarray:
        return authors[mask].value_counts().reindex(idx).fillna(0.0).to_numpy(float)

    n_after, n_before, n_year = per_member(after), per_member(before), per_member(last_year)
    last = at[before].groupby(authors[before]).max().reindex(idx)
    recency = -((s - last).dt.days.to_numpy(float))
    recency = np.where(np.isnan(recency), -1e9, recency)
    ties = rel[rel["src_id"].astype(str) != rel["dst_id"].astype(str)][["src_id", "dst_id"]].astype(str)
    ties = ties.drop_duplicates()

    def over_followers(per: np.ndarray) -> np.ndarray:
        val = pd.Series(per, index=idx)
        got = ties.assign(v=ties["src_id"].map(val).fillna(0.0).to_numpy()).groupby("dst_id")["v"].sum()
        return got.reindex(idx).fillna(0.0).to_numpy(float)

    n_followers = ties["dst_id"].value_counts().reindex(idx).fillna(0.0).to_numpy(float)
    candidates = {
        **{name: ("run", scores[col].to_numpy(float)) for name, col in cols.items()},
        "items in the last 365 days": ("baseline", n_year),
        "recency (minus days since the last item)": ("baseline", recency),
        "items to date": ("baseline", n_before),
        "follower count": ("baseline", n_followers),
        "followers' items in the last 365 days": ("baseline", over_followers(n_year)),
    }
    outcomes = {
        "own_activity": (n_after, n_before > 0),
        "follower_activity": (over_followers(n_after), n_followers > 0),
    }
    rng = np.random.default_rng(random_state)
    rows, versus = [], []
    for outcome, (y_all, keep) in outcomes.items():
        y = y_all[keep]
        draws = rng.integers(0, len(y), size=(n_bootstrap, len(y)))
        point, boot = {}, {}
        for name, (_, score) in candidates.items():
            x = np.nan_to_num(score[keep])
            m = ranking_metrics(y, x)
            point[name] = (m.spearman, m.top_decile_capture)
            boot[name] = np.array(
                [(r.spearman, r.top_decile_capture) for r in (ranking_metrics(y[d], x[d]) for d in draws)]
            )
        for name, (kind, _) in candidates.items():
            lo, hi = np.quantile(boot[name], [0.025, 0.975], axis=0)
            rows.append(
                {
                    "outcome": outcome,
                    "candidate": name,
                    "kind": kind,
                    "spearman": point[name][0],
                    "spearman_lower": lo[0],
                    "spearman_upper": hi[0],
                    "capture": point[name][1],
                    "capture_lower": lo[1],
                    "capture_upper": hi[1],
                    "n": int(keep.sum()),
                }
            )
        base = [n for n, (k, _) in candidates.items() if k == "baseline"]
        best = max(base, key=lambda n: point[n])
        for name in cols:
            diff = boot[name] - boot[best]
            lo, hi = np.quantile(diff, [0.025, 0.975], axis=0)
            versus.append(
                {
                    "outcome": outcome,
                    "candidate": name,
                    "best_baseline": best,
                    "spearman_diff": point[name][0] - point[best][0],
                    "spearman_diff_lower": lo[0],
                    "spearman_diff_upper": hi[0],
                    "capture_diff": point[name][1] - point[best][1],
                    "capture_diff_lower": lo[1],
                    "capture_diff_upper": hi[1],
                }
            )
    return {
        "metrics": pd.DataFrame(rows).set_index(["outcome", "candidate"]),
        "versus_best": pd.DataFrame(versus).set_index(["outcome", "candidate"]),
    }
