"""Influence attribution (issue 16): the sorted interval join against the all-pairs merge it replaced.

Synthetic inputs at the scale the issue measured on 1M customers (5.1M purchases, 5.4M exposures, 71.5M
purchase x exposure pairs of the same customer): 1M customers, 5M purchases and 5M exposures over a 365-day
period, a 30-day window. Purchases and exposures concentrate on the same active customers (lognormal activity,
sigma 1), which gives ~70M same-customer pairs as in the issue; influencers are heavy-tailed (lognormal,
sigma 2). Ids are the float codes ``social_inputs`` passes; times have microseconds (DuckDB's TIMESTAMP);
order ids are strings; sign-ups (``observed_from``) for all customers and 2% referred customers are passed, as
``social_components`` does. ``--small``: 10x less.

Each run is a fresh process (peak memory is its own): it builds the inputs (same seed), then times
``influence_value`` with a thread sampling the RSS every 10 ms. ``old`` is the reference copy of the all-pairs
algorithm kept in tests/social/test_influence_value.py; ``new`` is ``socialvalue.social.influence_value``. Inputs
come in the store's order (exposures by customer and time, purchases by customer, time, amount: what
``social_inputs`` now asks DuckDB for) and, for the new code, also shuffled (it then sorts them itself). The
results of old and new are compared (ids and counts exactly, floats to 1e-12 of their scale).

``--store PATH`` repeats the comparison on a store's real frames (a copy of the store is read; ``as_of`` is
the last interaction, the lookback 365 days, as ``social_components`` does): the SQL that builds the frames,
then old and new on the same frames. It also times the influence graph of the store built the two ways:
the pipeline's way before issue 16 (relationships and interactions with string ids to pandas,
``influence_edges``, ``Graph.from_edges`` factorizing the ids) and ``social_inputs.influence_graph`` (codes by
``row_number()`` in DuckDB, ``Graph.from_codes``), and checks that edges, weights and PageRank agree.

Usage::

    .venv/bin/python benchmarks/attribution.py            # 1M customers, 5M purchases, 5M exposures
    .venv/bin/python benchmarks/attribution.py --small    # 100k customers, 500k, 500k
    .venv/bin/python benchmarks/attribution.py --small --store /tmp/b200/bench.duckdb
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

HERE = Path(__file__).resolve().parent
REFERENCE = HERE.parent / "tests" / "social" / "test_influence_value.py"
AS_OF = pd.Timestamp("2026-01-01")
START = AS_OF - pd.Timedelta(days=365)
WINDOW = 30.0


def inputs(n_customers: int, n_purchases: int, n_exposures: int, seed: int = 16) -> dict:
    """The arguments of ``influence_value`` (store order), deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    activity = rng.lognormal(0.0, 1.0, n_customers)
    activity /= activity.sum()
    reach = rng.lognormal(0.0, 2.0, n_customers)
    reach /= reach.sum()
    us_day = 86_400_000_000
    as_of_us = AS_OF.value // 1000

    def times(n: int, days: float) -> np.ndarray:
        return (as_of_us - rng.integers(1, int(days * us_day), n)).astype("datetime64[us]")

    buyer = rng.choice(n_customers, n_purchases, p=activity).astype(np.float64)
    amount = np.round(rng.gamma(2.0, 40.0, n_purchases), 2)
    amount[rng.random(n_purchases) < 0.05] *= -0.5  # returns
    purchases = pd.DataFrame(
        {
            "customer_id": buyer,
            "ordered_at": times(n_purchases, 365.0),
            "amount": amount,
            "order_id": pd.array(np.char.add("o", np.arange(n_purchases).astype("U9")), dtype="str"),
        }
    )
    exposures = pd.DataFrame(
        {
            "influencer_id": rng.choice(n_customers, n_exposures, p=reach).astype(np.float64),
            "exposed_id": rng.choice(n_customers, n_exposures, p=activity).astype(np.float64),
            "exposed_at": times(n_exposures, 365.0 + WINDOW),
        }
    )
    exposures = exposures.loc[exposures["influencer_id"] != exposures["exposed_id"]]
    exposures = exposures.drop_duplicates(["influencer_id", "exposed_id", "exposed_at"])
    referred = rng.choice(n_customers, n_customers // 50, replace=False).astype(np.float64)
    referrals = pd.DataFrame(
        {
            "referrer_id": rng.choice(n_customers, referred.shape[0]).astype(np.float64),
            "referred_id": referred,
            "referred_at": times(referred.shape[0], 700.0),
        }
    ).sort_values("referred_at", ignore_index=True)
    signup = pd.Series(times(n_customers, 1500.0), index=np.arange(n_customers, dtype=np.float64))
    return {
        "exposures": exposures.sort_values(["exposed_id", "exposed_at", "influencer_id"], ignore_index=True),
        "purchases": purchases.sort_values(
            ["customer_id", "ordered_at", "amount", "order_id"], ignore_index=True
        ),
        "referrals": referrals,
        "observed_from": signup,
    }


def _reference():
    spec = importlib.util.spec_from_file_location("_attribution_reference", REFERENCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reference_influence_value


def run_one(impl: str, order: str, sizes: tuple[int, int, int], out: str) -> dict:
    """One timed call in this process; the result frame is pickled to ``out``."""
    from socialvalue.social.influence_value import InfluenceConfig, influence_value

    fn = _reference() if impl == "old" else influence_value
    args = inputs(*sizes)
    if order == "shuffled":
        for name in ("exposures", "purchases"):
            frame = args[name]
            args[name] = frame.iloc[np.random.default_rng(1).permutation(len(frame))].reset_index(drop=True)
    cfg = InfluenceConfig(window_days=WINDOW)
    proc = psutil.Process()
    base = proc.memory_info().rss
    peak = [base]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            stop.wait(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    result = fn(**args, as_of=AS_OF, start=START, config=cfg)
    seconds = time.perf_counter() - t0
    stop.set()
    sampler.join()
    peak[0] = max(peak[0], proc.memory_info().rss)
    result.to_pickle(out)
    pairs = int(
        (args["purchases"]["customer_id"].value_counts() * args["exposures"]["exposed_id"].value_counts())
        .dropna()
        .sum()
    )
    return {
        "impl": impl,
        "order": order,
        "seconds": seconds,
        "inputs_mb": base / 2**20,
        "peak_mb": peak[0] / 2**20,
        "extra_mb": (peak[0] - base) / 2**20,
        "exposures": len(args["exposures"]),
        "purchases": len(args["purchases"]),
        "same_customer_pairs": pairs,
        "influencers": len(result),
        "credited_purchases": int(result["n_purchases"].sum()),
    }


class _PeakRss:
    """Wall seconds and peak RSS (MB, sampled every 10 ms) of the block; ``extra_mb`` above the start."""

    def __enter__(self) -> _PeakRss:
        self.proc = psutil.Process()
        self.base = self.proc.memory_info().rss
        self.peak = self.base
        self.stop = threading.Event()
        self.sampler = threading.Thread(target=self._sample, daemon=True)
        self.sampler.start()
        self.t0 = time.perf_counter()
        return self

    def _sample(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            self.stop.wait(0.01)

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0
        self.stop.set()
        self.sampler.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)
        self.peak_mb, self.extra_mb = self.peak / 2**20, (self.peak - self.base) / 2**20


def graph_one(impl: str, path: str, out: str) -> dict:
    """Build the influence graph of the store at ``path`` one way; edges and PageRank pickled to ``out``."""
    from socialvalue import Store
    from socialvalue.pipeline.social_inputs import influence_graph
    from socialvalue.social import Graph, influence_edges, pagerank

    kw = {"half_life_days": 90.0, "window_days": 365.0}  # the pipeline's defaults
    with Store(path) as store:
        as_of = pd.Timestamp(store.query_df("SELECT max(occurred_at) AS t FROM interactions")["t"].iloc[0])
        start = as_of - pd.Timedelta(days=kw["window_days"])
        with _PeakRss() as m:
            if impl == "new":
                graph = influence_graph(store, as_of, **kw)
            else:  # pipeline/stage_social.py's _graph_metrics before issue 16
                rel = store.query_df(
                    "SELECT src_id, dst_id, kind, created_at, ended_at FROM relationships "
                    "WHERE created_at IS NULL OR created_at < ? ORDER BY src_id, dst_id, kind, created_at",
                    [as_of.to_pydatetime()],
                )
                inter = store.query_df(
                    "SELECT actor_id, target_customer_id, kind, occurred_at FROM interactions "
                    "WHERE target_customer_id IS NOT NULL AND occurred_at >= ? AND occurred_at < ? "
                    "ORDER BY actor_id, target_customer_id, occurred_at, kind, event_id",
                    [start.to_pydatetime(), as_of.to_pydatetime()],
                )
                edges = influence_edges(rel, inter, as_of=as_of, **kw)
                del rel, inter
                nodes = store.query_df("SELECT customer_id FROM customers ORDER BY customer_id")
                graph = Graph.from_edges(
                    edges["src"].to_numpy(),
                    edges["dst"].to_numpy(),
                    edges["weight"].to_numpy(),
                    nodes=nodes["customer_id"].to_numpy(),
                )
        n_interactions = int(store.query_df("SELECT count(*) AS n FROM interactions")["n"].iloc[0])
    pd.to_pickle({"graph": graph, "pagerank": pagerank(graph).to_numpy()}, out)
    return {
        "impl": impl,
        "seconds": m.seconds,
        "peak_mb": m.peak_mb,
        "extra_mb": m.extra_mb,
        "nodes": graph.n,
        "edges": graph.m,
        "interactions": n_interactions,
    }


def store_one(impl: str, path: str, out: str) -> dict:
    """The influence value of the store at ``path`` from its own frames, one implementation."""
    from socialvalue import Store
    from socialvalue.engine import DuckDBEngine
    from socialvalue.pipeline.social_inputs import SocialInputsConfig, _civ_inputs, referral_frames
    from socialvalue.social.influence_value import influence_value

    cfg = SocialInputsConfig()
    fn = _reference() if impl == "old" else influence_value
    with Store(path) as store:
        as_of = pd.Timestamp(store.query_df("SELECT max(occurred_at) AS t FROM interactions")["t"].iloc[0])
        t0 = time.perf_counter()
        engine = DuckDBEngine(store)
        refs = referral_frames(engine, as_of, ids=True)["referrals"]
        args = _civ_inputs(engine, as_of, cfg, refs)
        sql_s = time.perf_counter() - t0
    with _PeakRss() as m:
        result = fn(**args, config=cfg.influence)
    result.to_pickle(out)
    pairs = int(
        (args["purchases"]["customer_id"].value_counts() * args["exposures"]["exposed_id"].value_counts())
        .dropna()
        .sum()
    )
    return {
        "impl": impl,
        "order": "store",
        "seconds": m.seconds,
        "sql_s": sql_s,
        "inputs_mb": m.base / 2**20,
        "peak_mb": m.peak_mb,
        "extra_mb": m.extra_mb,
        "exposures": len(args["exposures"]),
        "purchases": len(args["purchases"]),
        "same_customer_pairs": pairs,
        "influencers": len(result),
        "credited_purchases": int(result["n_purchases"].sum()),
    }


def stores(copy: str, tmp: str, skip_old: bool) -> int:
    """Old and new on the store's frames, in fresh processes."""
    frames = {}
    for impl in ("new", *(() if skip_old else ("old",))):
        out = str(Path(tmp) / f"store-{impl}.pkl")
        proc = subprocess.run(
            [sys.executable, __file__, "--store-child", impl, copy, out],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode:
            print(proc.stdout, proc.stderr)
            return 1
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        frames[impl] = pd.read_pickle(out)
        print(
            f"store {impl:>3}: frames (SQL) {r['sql_s']:5.1f} s; influence_value {r['seconds']:6.2f} s, peak RSS "
            f"{r['peak_mb']:7,.0f} MB (+{r['extra_mb']:6,.0f} MB in the call); {r['exposures']:,} exposures, "
            f"{r['purchases']:,} purchases, {r['same_customer_pairs']:,} same-customer pairs, "
            f"{r['credited_purchases']:,} credited"
        )
    if "old" in frames:
        diff = compare(frames["new"], frames["old"])
        print(f"store: new vs old largest difference {diff:.1e} of scale (ids and counts equal)")
        if diff > 1e-12:
            return 1
    return 0


def graphs(copy: str, tmp: str) -> int:
    """Time both graph builds in fresh processes and compare them."""
    results, built = {}, {}
    for impl in ("new", "old"):
        out = str(Path(tmp) / f"graph-{impl}.pkl")
        proc = subprocess.run(
            [sys.executable, __file__, "--graph-child", impl, copy, out],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode:
            print(proc.stdout, proc.stderr)
            return 1
        results[impl] = json.loads(proc.stdout.strip().splitlines()[-1])
        built[impl] = pd.read_pickle(out)
        r = results[impl]
        print(
            f"graph {impl:>3}: {r['seconds']:6.2f} s, peak RSS {r['peak_mb']:7,.0f} MB (+{r['extra_mb']:6,.0f} MB); "
            f"{r['nodes']:,} nodes, {r['edges']:,} edges from {r['interactions']:,} interactions"
        )
    g_new, g_old = built["new"]["graph"], built["old"]["graph"]
    same = (
        g_new.ids.tolist() == g_old.ids.tolist()
        and np.array_equal(g_new.indptr, g_old.indptr)
        and np.array_equal(g_new.indices, g_old.indices)
    )
    w_diff = float(
        np.abs(g_new.weight - g_old.weight).max(initial=0.0) / max(1.0, g_old.weight.max(initial=0.0))
    )
    pr = built["old"]["pagerank"]
    pr_diff = float(np.abs(built["new"]["pagerank"] - pr).max() / pr.max())
    print(
        f"graph: same nodes and edges {same}; weights differ by {w_diff:.1e}, PageRank by {pr_diff:.1e} of scale; "
        f"speed-up {results['old']['seconds'] / results['new']['seconds']:.1f}x"
    )
    return 0 if same and w_diff <= 1e-12 and pr_diff <= 1e-12 else 1


def compare(new: pd.DataFrame, old: pd.DataFrame) -> float:
    """Largest difference in units of each float column's scale; ids and counts must be equal."""
    assert new["customer_id"].tolist() == old["customer_id"].tolist(), "influencers differ"
    worst = 0.0
    for col in old.columns[1:]:
        a, b = new[col].to_numpy(), old[col].to_numpy()
        if b.dtype.kind != "f":
            assert (a == b).all(), col
            continue
        scale = max(1.0, float(np.abs(b).max()))
        worst = max(worst, float(np.abs(a - b).max(initial=0.0)) / scale)
    return worst


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--skip-old", action="store_true", help="time only the new code")
    ap.add_argument(
        "--store", help="also compare on this store's frames and time its graph (read from a copy)"
    )
    ap.add_argument("--child", nargs=3, metavar=("IMPL", "ORDER", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--graph-child", nargs=3, metavar=("IMPL", "STORE", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--store-child", nargs=3, metavar=("IMPL", "STORE", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.store_child:
        print(json.dumps(store_one(*args.store_child)))
        return 0
    if args.graph_child:
        print(json.dumps(graph_one(*args.graph_child)))
        return 0
    sizes = (100_000, 500_000, 500_000) if args.small else (1_000_000, 5_000_000, 5_000_000)
    if args.child:
        print(json.dumps(run_one(*args.child[:2], sizes, args.child[2])))
        return 0
    print(f"machine: {psutil.cpu_count()} cores; load average {psutil.getloadavg()}")
    print(f"customers {sizes[0]:,}, purchases {sizes[1]:,}, exposures {sizes[2]:,}; window {WINDOW:.0f} days")
    runs = [("new", "store"), ("new", "shuffled"), *([] if args.skip_old else [("old", "store")])]
    results, frames = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for impl, order in runs:
            out = str(Path(tmp) / f"{impl}-{order}.pkl")
            proc = subprocess.run(
                [sys.executable, __file__, *(["--small"] if args.small else []), "--child", impl, order, out],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode:
                print(proc.stdout, proc.stderr)
                return 1
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            results[impl, order] = r
            frames[impl, order] = pd.read_pickle(out)
            print(
                f"{impl:>3} ({order:>8} input): {r['seconds']:6.2f} s, peak RSS {r['peak_mb']:7,.0f} MB "
                f"(inputs {r['inputs_mb']:5,.0f} MB, +{r['extra_mb']:6,.0f} MB in the call); "
                f"{r['influencers']:,} influencers, {r['credited_purchases']:,} credited (purchase, influencer)"
            )
    first = results["new", "store"]
    print(
        f"exposures {first['exposures']:,}, purchases {first['purchases']:,}, "
        f"same-customer purchase x exposure pairs (what the all-pairs merge built) {first['same_customer_pairs']:,}"
    )
    diff = compare(frames["new", "shuffled"], frames["new", "store"])
    print(f"new, shuffled vs store order: largest difference {diff:.1e} of scale")
    if ("old", "store") in results:
        old, new = results["old", "store"], results["new", "store"]
        diff = compare(frames["new", "store"], frames["old", "store"])
        print(f"new vs old: largest difference {diff:.1e} of scale (ids and counts equal)")
        print(
            f"speed-up {old['seconds'] / new['seconds']:.1f}x; memory in the call "
            f"{old['extra_mb']:,.0f} MB -> {new['extra_mb']:,.0f} MB"
        )
        if diff > 1e-12:
            print("FAILED: results differ by more than 1e-12")
            return 1
    if args.store:
        import shutil

        with tempfile.TemporaryDirectory() as tmp:
            copy = str(Path(tmp) / "store.duckdb")
            shutil.copyfile(args.store, copy)
            code = stores(copy, tmp, args.skip_old)
            return graphs(copy, tmp) or code
    return 0


if __name__ == "__main__":
    sys.exit(main())
