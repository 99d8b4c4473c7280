"""The pictures of a run for its record and report: stage transitions, the network, the top contributors.

Each is computed from the scores at the run's date (and the earlier scoring its sink finds), the same way for
a run and for a scoring with stored models, on every engine; none is a model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from socialvalue.social.graph import Graph

__all__ = ["network_picture", "top_contributors", "transitions"]


def network_picture(graph: Graph, scores: pd.DataFrame, top: int) -> dict[str, Any]:
    """The top customers by social value and the accounts they influence directly (for the report).

    Reads only the out-edges of the top customers from the graph's CSR rows (never the whole edge list).
    """
    top_ids = scores.nlargest(top, "csv")["customer_id"].tolist()
    pos = graph.positions(top_ids) if top_ids else np.zeros(0, dtype=np.int64)
    lo, hi = graph.indptr[pos], graph.indptr[pos + 1]
    rows = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True)] or [np.zeros(0, np.int64)])
    edges = pd.DataFrame(
        {
            "src": graph.ids[np.repeat(pos, hi - lo)],
            "dst": graph.ids[graph.indices[rows]],
            "weight": graph.weight[rows],
        }
    ).sort_values(["src", "dst"], kind="stable")
    # only scored customers (who consented to profiling) may be named: the neighbours are filtered too
    scored = set(scores["customer_id"])
    e = edges[edges["dst"].isin(scored)].nlargest(top * 12, "weight")
    ids = list(dict.fromkeys(top_ids + e["dst"].tolist()))
    pos_of = {c: i for i, c in enumerate(ids)}
    val = scores.set_index("customer_id")["csv"].reindex(ids).fillna(0.0)
    return {
        "nodes": [
            {"label": str(c), "size": float(v), "color": float(v), "top": c in set(top_ids)}
            for c, v in zip(ids, val.to_numpy(), strict=True)
        ],
        "edges": [[pos_of[s], pos_of[d]] for s, d in zip(e["src"], e["dst"], strict=True)],
    }


def transitions(
    previous: tuple[str, pd.DataFrame] | None, scores: pd.DataFrame, as_of: pd.Timestamp
) -> dict[str, Any] | None:
    """Stage movement since the latest earlier scoring, if any.

    ``previous`` is that scoring's date and its ``customer_id``, ``lifecycle_stage`` (a sink's ``previous``,
    :mod:`socialvalue.pipeline.sinks`), or None.
    """
    from socialvalue.models.lifecycle import stage_transitions

    if previous is None:
        return None
    prev, before = previous
    tr = stage_transitions(before, scores[["customer_id", "lifecycle_stage"]])
    stages = [s for s in tr.counts.index if s in tr.counts.columns]
    m = tr.counts.loc[stages, stages]
    return {
        "stages": stages,
        "matrix": m.to_numpy().tolist(),
        "from": str(prev),
        "to": str(as_of.date()),
        "slipping": len(tr.slipping),
    }


def top_contributors(contributors: pd.DataFrame, scores: pd.DataFrame, top: int = 25) -> dict[str, Any]:
    """The few largest contributors to the influence value of the top customers (scored customers only)."""
    if contributors is None or contributors.empty or "civ" not in contributors:
        return {}
    scored = set(scores["customer_id"].astype(str))
    lead = scores.nlargest(top, "csv")["customer_id"].astype(str).tolist()
    c = contributors.assign(
        influencer_id=contributors["influencer_id"].astype(str),
        customer_id=contributors["customer_id"].astype(str),
    )
    c = c[c["influencer_id"].isin(set(lead)) & c["customer_id"].isin(scored) & (c["civ"] > 0)]
    return {
        str(k): [
            {"customer_id": r.customer_id, "civ": float(r.civ), "share": float(r.civ_share)}
            for r in g.sort_values("rank").head(3).itertuples()
        ]
        for k, g in c.groupby("influencer_id", sort=True)
    }
