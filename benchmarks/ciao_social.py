"""Ciao (Tang, Gao & Liu 2012): do social components predict followers' future activity better than follower count?

Freezes the Ciao trust graph and reviews at a split date, computes every member's social components with
``socialvalue.social`` (followers, two-hop reach, influence PageRank, RR-set spread with Goyal et al. edge
probabilities, content and interaction scores) and scores how well they rank the reviews the member's
followers (trusters) write after the split, alone and in out-of-fold log-linear models, against follower count
alone. See docs/validation/ciao.md.

Peer check in the same run: networkx computes follower counts (in-degree of the trust graph) and PageRank of the
trust graph; ours must agree (followers exactly, PageRank to 1e-9 in L1).

With ``--value`` it checks instead the value a whole pipeline run publishes (issue 14): Ciao before
2009-01-01 (reviews standing in for purchases) is ingested into a store, ``run_pipeline`` runs as of
2009-01-01, and its published value and learned social value are compared with single baselines on the
members' own reviews and their followers' reviews in 2009 (Spearman and top-decile capture, bootstrap 95%).

Usage::

    .venv/bin/python benchmarks/ciao_social.py           # main split 2008-01-01 and a 2007 robustness split
    .venv/bin/python benchmarks/ciao_social.py --small   # fewer RR sets, CV repeats and bootstrap draws
    .venv/bin/python benchmarks/ciao_social.py --value   # the published value of a run as of 2009-01-01
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import psutil

from socialvalue import Store
from socialvalue.datasets import ciao
from socialvalue.social import Graph, followers, influence_edges, influence_pagerank
from socialvalue.social.validation import NeighbourBenchmarkConfig, neighbour_activity_benchmark

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ciao"
SPLITS = [("2008-01-01", "2010-01-01"), ("2007-01-01", "2008-01-01")]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def networkx_check(tables: dict[str, pd.DataFrame]) -> None:
    rel = tables["relationships"]
    t0 = time.perf_counter()
    g = Graph.from_frame(influence_edges(rel, as_of="2008-01-01"))
    ours_f, ours_pr = followers(g), influence_pagerank(g)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    trust = nx.DiGraph()
    trust.add_edges_from(zip(rel["src_id"], rel["dst_id"], strict=True))  # truster -> trustee
    nx_f = pd.Series(dict(trust.in_degree()))
    nx_pr = pd.Series(nx.pagerank(trust, alpha=0.85, tol=1e-12, max_iter=1000))
    t_nx = time.perf_counter() - t0
    same_f = bool((nx_f.reindex(ours_f.index) == ours_f).all())
    l1 = float((nx_pr.reindex(ours_pr.index) - ours_pr).abs().sum())
    print(
        f"peer check (networkx): followers identical: {same_f}; PageRank L1 difference {l1:.1e}; "
        f"time ours {t_ours:.2f} s vs networkx {t_nx:.2f} s (ratio {t_nx / t_ours:.1f}x)"
    )


VALUE_SPLIT, VALUE_END = "2009-01-01", "2010-01-01"


def run_before(store: Store, loaded: dict, split: str) -> dict:
    """Ingest Ciao before ``split`` (reviews as purchases) and run the pipeline as of ``split``."""
    import pyarrow.compute as pc

    from socialvalue.pipeline.run import run_pipeline

    cut = pd.Timestamp(split).to_pydatetime()
    times = {"content": "created_at", "interactions": "occurred_at", "orders": "ordered_at"}
    for kind, table in loaded.items():
        if kind in times:
            table = table.filter(pc.less(table[times[kind]], cut))
        store.ingest(kind, table)
    return run_pipeline(store, split)


def value_check(data: Path, n_bootstrap: int) -> None:
    """Print the published value of a run as of 2009-01-01 against single baselines on 2009 activity."""
    from socialvalue.social.validation import published_value_benchmark

    t0 = time.perf_counter()
    loaded = ciao.load(data, ratings_as_orders=True)
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "ciao.duckdb") as store:
        res = run_before(store, loaded, VALUE_SPLIT)
    print(f"pipeline as of {VALUE_SPLIT}: {time.perf_counter() - t0:.1f} s")
    champ = res.diagnostics["csv"]["champion"]
    print(f"value champion on the run's holdout: {champ['champion']}\n  {champ['sentence']}")
    for r in champ["metrics"]:
        print(f"  {r['name']:<40} Spearman {r['spearman']:.3f}  top-decile {r['top_decile']:.3f}")
    for target, entry in res.diagnostics["csv"]["targets"].items():
        print(
            f"target {target}: "
            + "; ".join(
                f"{r['name']} {r['spearman']:.3f}/{r['top_decile']:.3f}" for r in entry["contest"]["metrics"]
            )
        )
    tables = {k: loaded[k].to_pandas() for k in ("content", "relationships")}
    out = published_value_benchmark(res.scores, tables, VALUE_SPLIT, VALUE_END, n_bootstrap=n_bootstrap)
    pd.set_option("display.width", 220)
    print(out["metrics"].round(3).to_string())
    print(out["versus_best"].round(3).to_string())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="fewer RR sets, CV repeats and bootstrap draws")
    parser.add_argument("--data", type=Path, default=DATA, help="folder holding the Ciao parquet files")
    parser.add_argument("--value", action="store_true", help="the published value of a run as of 2009-01-01")
    args = parser.parse_args()
    if args.value:
        value_check(args.data, 100 if args.small else 500)
        return
    cfg = (
        NeighbourBenchmarkConfig(spread_sets_per_node=50, cv_repeats=2, bootstrap=100)
        if args.small
        else NeighbourBenchmarkConfig()
    )
    pd.set_option("display.width", 200)
    t0 = time.perf_counter()
    loaded = ciao.load(args.data)
    # through the store, as a user would: ingest the canonical tables, read back what the benchmark needs
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "ciao.duckdb") as store:
        for kind in ("customers", "content", "interactions", "relationships"):
            store.ingest(kind, loaded[kind])
        tables = {
            k: store.query_df(f'SELECT * FROM "{k}"') for k in ("content", "interactions", "relationships")
        }
    print(
        f"loaded Ciao into a store and read it back in {time.perf_counter() - t0:.1f} s: "
        + ", ".join(f"{k} {len(v):,}" for k, v in tables.items())
    )
    networkx_check(tables)
    for split, end in SPLITS:
        t0 = time.perf_counter()
        res = neighbour_activity_benchmark(tables, split, end, config=cfg)
        elapsed = time.perf_counter() - t0
        print("\n" + "=" * 100)
        print(res.summary())
        print("\nratios to followers alone (out of fold):")
        for target in ("follower_activity", "follower_adoptions"):
            m = res.models.loc[target]
            base = m.loc["followers"]
            for model in ("social components", "social components + audience_activity"):
                r = m.loc[model]
                print(
                    f"  {target:<18} {model:<38} Spearman {r.spearman:.3f}/{base.spearman:.3f} = "
                    f"{r.spearman / base.spearman:.3f}x, R2(log) {r.r2_log:.3f}/{base.r2_log:.3f} = "
                    f"{r.r2_log / base.r2_log:.3f}x, top-10% capture {r.top_decile_capture:.3f}/"
                    f"{base.top_decile_capture:.3f} = {r.top_decile_capture / base.top_decile_capture:.3f}x"
                )
        print(f"\nsplit {split}: {elapsed:.1f} s")
    rss = psutil.Process().memory_info().rss / 1e6
    print(f"\npeak memory {peak_rss_mb():.0f} MB (current RSS {rss:.0f} MB); numpy {np.__version__}")


if __name__ == "__main__":
    main()
