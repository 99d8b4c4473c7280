"""Spark on ``local[2]`` against DuckDB on the same machine, the same data, in the same run (issue 18).

For each size the demo shop is generated once (``benchmarks/pipeline.py``'s generator: about 10 orders and
20 interactions per customer, chunks of at most 1M customers, each its own seed and id prefix) and written as
Parquet, one file per table and chunk: Spark's input, and what DuckDB ingests (its first ingest is kept as
the store). Both stay in ``--workdir`` for the next run. Each engine runs in a child process of its own, so a
peak of memory is that engine's:

====================  ============================================  ==========================================
phase                 DuckDB                                        Spark
====================  ============================================  ==========================================
(a) read_validate     ``Store.ingest`` of the Parquet into a        ``read_tables``: the same checks, as
                      scratch store: its read and validate steps    Spark jobs
                      (the store write is reported apart)
(b) features          ``feature_table`` at as_of, and at the        the same SQL on ``SparkEngine.dataframe``,
                      calibration end with the holdout, written     written as Parquet by Spark
                      as Parquet
(c) btyd              the purchase and spend ladders fitted on      sufficient statistics aggregated in
                      the buyers' rows (the stage_clv path)         Spark, the same ladders fitted on the
                                                                    driver (``socialvalue.spark.models``)
(d) clv               ``value_customers`` on ``batch_rows`` blocks  ``value_frame``: ``mapInPandas`` over
                      (the stage_clv path), written as Parquet      Arrow batches, written as Parquet
(e) cli_run           ``socialvalue run STORE --as-of``             ``socialvalue run --engine spark --input
                                                                    --output --as-of --master local[2]``
====================  ============================================  ==========================================

A phase whose code does not exist yet (``socialvalue.spark.models``, the ``--engine`` option) is recorded
as "not available". Seconds are wall seconds; Spark's session start is reported apart. Peak memory is the
child's peak RSS for DuckDB (it runs in the process); for Spark the driver's peak RSS + the JVM's peak RSS +
the Python workers' peak RSS (their sum, sampled every 0.1 s), each phase on its own (the peaks are reset
between phases through ``/proc/<pid>/clear_refs``). A JVM keeps the heap it has grown: its RSS follows
``--spark-memory`` (default 60 % of the RAM, as DuckDB's default limit is 80 %) more than the data. The two
engines' results are compared (every feature, every CLV column, the fitted parameters) and the comparison is
part of the output.

Across sizes the script fits each engine's scaling exponent (the log-log slope of seconds against orders)
and a line ``T = F + a N`` (fixed seconds, seconds per order), and extrapolates where Spark beats one
DuckDB machine under a stated assumption: Spark's measured work divides evenly over the cluster's cores
while its fixed per-job overhead stays. The arithmetic is printed. Usage::

    .venv/bin/python benchmarks/spark_vs_duckdb.py --orders 1e6,1e7 --workdir /tmp/svd --json svd.json
    .venv/bin/python benchmarks/spark_vs_duckdb.py --orders 1e6,1e7,1e8 --workdir /tmp/svd   # 1e8 if the disk has room
    .venv/bin/python benchmarks/spark_vs_duckdb.py --small                                   # 100k and 200k orders

Prints a Markdown table per size (seconds and peak MB per engine and phase, Spark/DuckDB ratios), the
scaling exponents and the crossover arithmetic; ``--json`` writes every figure.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PHASES = ("read_validate", "features", "btyd", "clv", "cli_run")
#: The phases each engine runs in its child process (the CLI run is a process of its own).
CHILD_PHASES = PHASES[:-1]
ENGINES = ("duckdb", "spark")
AS_OF = "2026-07-01"  # the day after the demo shop's last day
#: Bytes per generated order of the Parquet input and of the store, when no size was prepared yet (measured on
#: the 200k-order shop, 2026-12-05: 12 MB and 14 MB; interactions, relationships and content come with them).
BYTES_PER_ORDER = {"parquet": 60.0, "store": 70.0}
NOT_AVAILABLE = "not available"


# -- memory of a process tree --------------------------------------------------------------------------------
def _status_kb(pid: int, key: str) -> int | None:
    """A ``/proc/<pid>/status`` value in kB (``VmRSS``, ``VmHWM``); None when the process is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _reset_peak(pid: int) -> None:
    """Reset the peak RSS (``VmHWM``) of a process of ours to its current RSS (Linux 4.0+)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        pass


class TreeMemory:
    """Peak RSS (MB) of a process and its descendants, by role, sampled in a thread.

    Roles: ``driver`` (the process itself), ``jvm`` (a ``java`` descendant: Spark's driver JVM, which in
    local mode is also the executor) and ``workers`` (any other descendant: Spark's Python workers). The
    driver's and the JVM's peaks are their kernel-kept ``VmHWM``; the workers' is the largest sum of their
    RSS seen at one sample (they come and go, and share pages with the daemon they fork from).
    """

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        import psutil

        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak = {"driver": 0.0, "jvm": 0.0, "workers": 0.0}
        self.current_total = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def _procs(self) -> list[tuple[str, int]]:
        import psutil

        out = [("driver", self.root.pid)]
        try:
            for p in self.root.children(recursive=True):
                try:
                    name = p.name()
                    if name == "java" or name.startswith("python"):  # not the JVM's short-lived helpers
                        out.append(("jvm" if name == "java" else "workers", p.pid))
                except psutil.Error:
                    continue
        except psutil.Error:
            pass
        return out

    def reset(self) -> None:
        """Start a new peak (the driver's and the JVM's kernel peaks are reset too)."""
        with self._lock:
            for role, pid in self._procs():
                if role != "workers":
                    _reset_peak(pid)
            self.peak = dict.fromkeys(self.peak, 0.0)
        self.sample()

    def sample(self) -> None:
        """Read every process of the tree once."""
        workers = total = 0.0
        with self._lock:
            for role, pid in self._procs():
                rss = (_status_kb(pid, "VmRSS") or 0) / 1024
                total += rss
                if role == "workers":
                    workers += rss
                else:
                    hwm = (_status_kb(pid, "VmHWM") or 0) / 1024
                    self.peak[role] = max(self.peak[role], hwm, rss)
            self.peak["workers"] = max(self.peak["workers"], workers)
            self.current_total = total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def start(self) -> TreeMemory:
        """Sample in a daemon thread until :meth:`stop`."""
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sampling (after one last sample)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()

    def peaks(self) -> dict[str, float]:
        """Peak MB by role, and ``peak_mb``: their sum."""
        with self._lock:
            out = {f"{k}_mb": round(v, 1) for k, v in self.peak.items()}
        out["peak_mb"] = round(sum(self.peak.values()), 1)
        return out


# -- the data --------------------------------------------------------------------------------------------------
def _pipeline_module() -> Any:
    """``benchmarks/pipeline.py`` (its generator settings and chunk id prefixes), imported by path."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("sv_bench_pipeline", HERE / "pipeline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _dir_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def prepare(size_dir: Path, customers: int, chunk: int) -> dict[str, Any]:
    """Generate the shop as Parquet under ``size_dir/input`` (``<kind>/part-<k>.parquet``), or reuse it.

    Chunk ``k`` is :func:`socialvalue.demo.generate` of at most ``chunk`` customers with seed ``7 + k`` and
    the heavy settings of ``benchmarks/pipeline.py``; chunks after the first get the id prefix ``<k>``.
    """
    meta_path = size_dir / "input.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("customers") == customers and meta.get("chunk") == chunk:
            meta["reused"] = True
            return meta
    import pyarrow.parquet as pq

    from socialvalue.demo import DemoConfig, generate
    from socialvalue.schema import KINDS

    bench = _pipeline_module()
    shutil.rmtree(size_dir / "input", ignore_errors=True)
    (size_dir / "store.duckdb").unlink(missing_ok=True)
    rows: dict[str, int] = dict.fromkeys(KINDS, 0)
    t0 = time.perf_counter()
    for k, lo in enumerate(range(0, customers, chunk)):
        data = generate(min(chunk, customers - lo), seed=7 + k, config=DemoConfig(**bench.HEAVY))
        if k:
            data = bench._prefixed(data, f"{k:02d}")
        for kind, table in data.tables.items():
            folder = size_dir / "input" / kind
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, folder / f"part-{k:03d}.parquet")
            rows[kind] += table.num_rows
        del data
        print(f"  generated {min(lo + chunk, customers):,} customers ({time.perf_counter() - t0:.0f} s)")
    meta = {
        "customers": customers,
        "chunk": chunk,
        "rows": rows,
        "generate_s": round(time.perf_counter() - t0, 1),
        "parquet_mb": round(_dir_mb(size_dir / "input"), 1),
    }
    meta_path.write_text(json.dumps(meta, indent=2))
    meta["reused"] = False
    return meta


def disk_reason(workdir: Path, sizes_done: list[dict[str, Any]], orders: int, cached: bool) -> str | None:
    """Why a size would not fit the disk (None: it fits), from the bytes per order of the sizes prepared.

    A size needs its Parquet input and its store (unless cached), a scratch store for DuckDB's ingest, and
    room for Spark's shuffle files, DuckDB's spill and both engines' outputs (taken as twice the input's
    size), with 20 % to spare.
    """
    per = dict(BYTES_PER_ORDER)
    done = [s for s in sizes_done if s.get("data") and s["data"].get("store_mb")]
    if done:
        last = done[-1]["data"]
        n = last["rows"]["orders"]
        per = {"parquet": last["parquet_mb"] * 2**20 / n, "store": last["store_mb"] * 2**20 / n}
    need = orders * (per["parquet"] * (2 if cached else 3) + per["store"] * (1 if cached else 2))
    need *= 1.2
    free = shutil.disk_usage(workdir).free
    if need <= free:
        return None
    return (
        f"needs about {need / 2**30:,.1f} GB of disk ({per['parquet']:.0f} B/order of Parquet, "
        f"{per['store']:.0f} B/order of store, a scratch store, shuffle and outputs, +20 %); "
        f"{free / 2**30:,.1f} GB free in {workdir}"
    )


# -- the engines' phases (in a child process) ------------------------------------------------------------------
class Unavailable(Exception):
    """A phase whose code does not exist yet in this checkout."""


def _frames(as_of: str, unit: str, holdout_periods: int) -> tuple[Any, Any, str]:
    """The TimeFrames at as_of and at the calibration end (with the holdout), and the calibration end."""
    import pandas as pd

    from socialvalue.features.split import TimeFrame
    from socialvalue.pipeline.stage_clv import UNIT_DAYS

    as_of_ts = pd.Timestamp(as_of)
    cal_end = as_of_ts - pd.Timedelta(days=UNIT_DAYS[unit] * holdout_periods)
    return (
        TimeFrame.resolve(as_of_ts, unit),
        TimeFrame.resolve(cal_end, unit, None, as_of_ts),
        str(cal_end.date()),
    )


#: Feature columns the BTYD phases read (stage_clv's), and the calibration table's holdout targets.
BTYD_COLUMNS = (
    "customer_id",
    "T",
    "frequency",
    "recency",
    "monetary_value",
    "n_periods",
    "mean_spend",
    "n_orders",
    "n_orders_365d",
)
HOLDOUT_COLUMNS = ("holdout_duration", "holdout_transactions")


def _candidates(cfg: Any) -> dict[str, Callable[[], Any]]:
    """The purchase ladder's candidates as ``stage_clv`` builds them."""
    from socialvalue.models.btyd import BetaGeo, ModifiedBetaGeo, ParetoNBD

    classes = {"BG/NBD": BetaGeo, "MBG/NBD": ModifiedBetaGeo, "Pareto/NBD": ParetoNBD}
    pen = cfg.models.purchase_penalizer
    return {name: (lambda cls=classes[name]: cls(penalizer_coef=pen)) for name in cfg.models.purchase_models}


def _spend_options(cfg: Any) -> dict[str, float]:
    m = cfg.models
    return {
        "penalizer": m.spend_penalizer,
        "fallback_penalizer": m.spend_fallback_penalizer,
        "degenerate_shape": m.degenerate_shape,
        "shrinkage_orders": m.shrinkage_orders,
    }


def _value_options(cfg: Any) -> dict[str, Any]:
    from socialvalue.pipeline.stage_clv import UNIT_DAYS

    r = cfg.run
    return {
        "margin": r.margin,
        "annual_rate": r.annual_discount_rate,
        "unit_days": UNIT_DAYS[r.unit],
        "horizon_periods": r.horizon_periods,
        "forecast_periods": float(r.holdout_periods),
        "interval": 0.9,
    }


def _params(cal_fit: Any, now_fit: Any, spend_fit: Any) -> dict[str, Any]:
    """The ladders' choices and fitted parameters (what both engines must agree on)."""
    return {
        role: {"model": fit.name, "params": {k: float(v) for k, v in fit.model.params_.items()}}
        for role, fit in (("purchase_calibration", cal_fit), ("purchase", now_fit), ("spend", spend_fit))
    }


def duckdb_phases(
    size_dir: Path, as_of: str, cfg: Any, out: Path
) -> Iterator[tuple[str, Callable[[], dict]]]:
    """DuckDB's phases, in order: each a name and a function returning the phase's details."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from socialvalue import Store
    from socialvalue.engine import DuckDBEngine, feature_table
    from socialvalue.pipeline.stage_clv import buyers
    from socialvalue.schema import KINDS
    from socialvalue.store import arrow_to_pandas

    now_frame, cal_frame, _ = _frames(as_of, cfg.run.unit, cfg.run.holdout_periods)
    state: dict[str, Any] = {}

    def read_validate() -> dict:
        scratch = size_dir / "ingest.duckdb"
        scratch.unlink(missing_ok=True)
        spent = dict.fromkeys(("read", "validate", "write"), 0.0)
        started: dict[str, float] = {}

        def on_stage(name: str, event: str) -> None:
            if event == "start":
                started[name] = time.perf_counter()
            elif name in started:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - started.pop(name)

        t0 = time.perf_counter()
        with Store(scratch) as store:
            for kind in KINDS:
                for part in sorted((size_dir / "input" / kind).glob("*.parquet")):
                    store.ingest(kind, part, on_stage=on_stage)
        total = time.perf_counter() - t0
        store_path = size_dir / "store.duckdb"
        if store_path.exists():
            scratch.unlink()
        else:  # the first run keeps its load as the store the other phases (and the CLI run) read
            os.replace(scratch, store_path)
        return {
            "seconds": spent["read"] + spent["validate"],
            "ingest_s": round(total, 3),
            "write_s": round(spent["write"], 3),
            "store_mb": round(_dir_mb(store_path), 1),
        }

    def features() -> dict:
        store = state["store"] = Store(size_dir / "store.duckdb", read_only=True)
        engine = DuckDBEngine(store)
        now = feature_table(engine, now_frame.as_of, cfg.run.unit)
        cal = feature_table(engine, cal_frame.as_of, cfg.run.unit, holdout_end=cal_frame.holdout_end)
        pq.write_table(now, out / "features.parquet")
        pq.write_table(cal, out / "features_cal.parquet")
        state["now"], state["cal"] = now, cal
        return {"rows": now.num_rows, "columns": now.num_columns}

    def btyd() -> dict:
        from socialvalue.models.btyd.ladder import fit_purchase_ladder, fit_spend_ladder, spend_frame

        now = buyers(arrow_to_pandas(state.pop("now").select(list(BTYD_COLUMNS))))
        cal = buyers(arrow_to_pandas(state.pop("cal").select([*BTYD_COLUMNS, *HOLDOUT_COLUMNS])))
        cal_fit, now_fit, _ = fit_purchase_ladder(
            cal, now, _candidates(cfg), metric=cfg.run.model_metric, horizon=float(cfg.run.holdout_periods)
        )
        spend_fit = fit_spend_ladder(spend_frame(now), **_spend_options(cfg))
        state.update(buyers=now, purchase=now_fit, spend=spend_fit)
        return {"buyers": len(now), "fits": _params(cal_fit, now_fit, spend_fit)}

    def clv() -> dict:
        from socialvalue.models.btyd.valuation import value_customers
        from socialvalue.pipeline.batches import map_batches

        opts = _value_options(cfg)

        def value(batch: Any) -> Any:
            return value_customers(state["purchase"], state["spend"], batch, **opts).frame

        values = map_batches(state["buyers"], value, rows=cfg.run.batch_rows)
        pq.write_table(pa.Table.from_pandas(values, preserve_index=False), out / "clv.parquet")
        state["store"].close()
        return {"rows": len(values)}

    yield from (
        ("read_validate", read_validate),
        ("features", features),
        ("btyd", btyd),
        ("clv", clv),
    )


def _spark_models(*names: str) -> Any:
    """``socialvalue.spark.models``, if it has ``names`` yet (being written for issue 18, part 3)."""
    try:
        from socialvalue.spark import models
    except ImportError:
        raise Unavailable("socialvalue.spark.models does not exist yet") from None
    missing = [n for n in names if not hasattr(models, n)]
    if missing:
        raise Unavailable(f"socialvalue.spark.models has no {', '.join(missing)} yet")
    return models


def spark_phases(
    size_dir: Path, as_of: str, cfg: Any, out: Path, master: str, conf: dict[str, str]
) -> Iterator[tuple[str, Callable[[], dict]]]:
    """Spark's phases, in order (the session's start first, not one of the compared phases)."""
    from socialvalue.features.query import feature_query
    from socialvalue.features.registry import FeatureConfig
    from socialvalue.spark import SparkEngine, read_tables, spark_session

    now_frame, cal_frame, _ = _frames(as_of, cfg.run.unit, cfg.run.holdout_periods)
    state: dict[str, Any] = {}

    def startup() -> dict:
        spark = state["spark"] = spark_session(master, **conf)
        spark.sparkContext.setLogLevel("ERROR")
        spark.range(1).count()
        return {"master": master, "driver_memory": spark.conf.get("spark.driver.memory", None)}

    def read_validate() -> dict:
        state["tables"] = read_tables(state["spark"], size_dir / "input")
        return {}

    def features() -> dict:
        engine = state["engine"] = SparkEngine(state["spark"], state["tables"])
        for name, frame in (("features", now_frame), ("features_cal", cal_frame)):
            df = engine.dataframe(feature_query(frame, FeatureConfig()))
            df.write.mode("overwrite").parquet(str(out / f"{name}.parquet"))
        now = state["now"] = state["spark"].read.parquet(str(out / "features.parquet"))
        state["cal"] = state["spark"].read.parquet(str(out / "features_cal.parquet"))
        return {"rows": now.count(), "columns": len(now.columns)}

    def btyd() -> dict:
        models = _spark_models("fit_purchase", "fit_spend")
        now = state["now"].select(*BTYD_COLUMNS)
        cal = state["cal"].select(*BTYD_COLUMNS, *HOLDOUT_COLUMNS)
        cal_fit, now_fit, _ = models.fit_purchase(
            cal, now, _candidates(cfg), metric=cfg.run.model_metric, horizon=float(cfg.run.holdout_periods)
        )
        spend_fit = models.fit_spend(now, **_spend_options(cfg))
        state.update(buyers=now.where("frequency IS NOT NULL"), purchase=now_fit, spend=spend_fit)
        return {"fits": _params(cal_fit, now_fit, spend_fit)}

    def clv() -> dict:
        models = _spark_models("value_frame")
        values = models.value_frame(state["buyers"], state["purchase"], state["spend"], **_value_options(cfg))
        values.write.mode("overwrite").parquet(str(out / "clv.parquet"))
        return {"rows": state["spark"].read.parquet(str(out / "clv.parquet")).count()}

    yield from (
        ("startup", startup),
        ("read_validate", read_validate),
        ("features", features),
        ("btyd", btyd),
        ("clv", clv),
    )
    if "engine" in state:
        state["engine"].release()
    state["spark"].stop()


def child(engine: str, size_dir: Path, as_of: str, master: str, conf: dict[str, str], record: Path) -> None:
    """Run one engine's phases, appending one JSON line per phase to ``record`` as each ends."""
    from socialvalue.pipeline import RunConfig

    cfg = RunConfig()
    out = size_dir / "out" / engine
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    memory = TreeMemory(os.getpid()).start()
    phases = (
        duckdb_phases(size_dir, as_of, cfg, out)
        if engine == "duckdb"
        else spark_phases(size_dir, as_of, cfg, out, master, conf)
    )
    blocked: str | None = None
    with record.open("w") as rec:
        for name, fn in phases:
            result: dict[str, Any] = {"phase": name}
            if blocked is not None:
                result.update(status=NOT_AVAILABLE if blocked == NOT_AVAILABLE else "not run", reason=blocked)
            else:
                memory.reset()
                t0 = time.perf_counter()
                try:
                    detail = fn()
                    result["seconds"] = round(detail.pop("seconds", time.perf_counter() - t0), 3)
                    result.update(status="ok", detail=detail)
                except Unavailable as exc:
                    result.update(status=NOT_AVAILABLE, reason=str(exc))
                    blocked = NOT_AVAILABLE
                except Exception as exc:  # recorded, and the phases that need this one are not run
                    traceback.print_exc()
                    result.update(status="failed", reason=f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
                    blocked = f"{name} failed"
                memory.sample()
                result.update(memory.peaks(), load=round(os.getloadavg()[0], 2))
            rec.write(json.dumps(result) + "\n")
            rec.flush()
    memory.stop()


# -- the parent: children, CLI runs, comparison ----------------------------------------------------------------
def _watch(
    cmd: list[str], log: Path, *, env: dict[str, str] | None, max_gb: float, timeout: float
) -> dict[str, Any]:
    """Run ``cmd`` in a session of its own, sampling its tree; stop it past ``max_gb`` or ``timeout``."""
    with log.open("w") as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        memory = TreeMemory(proc.pid)
        t0 = time.perf_counter()
        stopped = None
        while proc.poll() is None:
            memory.sample()
            if memory.current_total > max_gb * 1024:
                stopped = f"stopped: its processes' RSS passed {max_gb:g} GB"
            elif time.perf_counter() - t0 > timeout:
                stopped = f"stopped: still running after {timeout:.0f} s"
            if stopped:
                os.killpg(proc.pid, signal.SIGKILL)  # the session this call started: the child and its JVM
                proc.wait()
                break
            time.sleep(0.1)
        seconds = time.perf_counter() - t0
    return {"code": proc.returncode, "seconds": seconds, "stopped": stopped, **memory.peaks()}


def _env(args: argparse.Namespace, workdir: Path) -> dict[str, str]:
    """The children's environment: Spark's driver memory and scratch folder (the same for every Spark run)."""
    env = dict(os.environ)
    env["PYSPARK_SUBMIT_ARGS"] = f"--driver-memory {args.spark_memory} pyspark-shell"
    local = workdir / "spark-local"
    local.mkdir(exist_ok=True)
    env["SPARK_LOCAL_DIRS"] = str(local)
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    return env


def run_child(engine: str, size_dir: Path, args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    """One engine's phases (a)-(d) in a child process: each phase's record (what ran, what did not)."""
    record = size_dir / f"{engine}.phases.jsonl"
    record.unlink(missing_ok=True)
    cmd = [sys.executable, __file__, "--child", engine, "--size-dir", str(size_dir), "--as-of", args.as_of]
    cmd += ["--master", args.master]
    for item in args.spark_conf:
        cmd += ["--spark-conf", item]
    run = _watch(cmd, size_dir / f"{engine}.log", env=env, max_gb=args.max_gb, timeout=args.timeout)
    phases: dict[str, Any] = {}
    if record.exists():
        for line in record.read_text().splitlines():
            item = json.loads(line)
            phases[item.pop("phase")] = item
    why = run["stopped"] or (f"the child process exited with code {run['code']}" if run["code"] else None)
    for name in CHILD_PHASES:
        if name not in phases:
            phases[name] = {"status": "failed", "reason": why or "no record"}
    startup = phases.pop("startup", None)
    return {"phases": phases, "startup": startup, "child": run}


def spark_cli_available() -> bool:
    """Whether ``socialvalue run`` has the ``--engine`` option yet."""
    done = subprocess.run(
        [sys.executable, "-m", "socialvalue.cli", "run", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
        check=False,
    )
    return "--engine" in done.stdout


def run_cli(engine: str, size_dir: Path, args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    """Phase (e): the whole run through the command line, in a process of its own."""
    base = [sys.executable, "-m", "socialvalue.cli", "run"]
    if engine == "duckdb":
        cmd = [*base, str(size_dir / "store.duckdb"), "--as-of", args.as_of]
    else:
        output = size_dir / "out" / "spark_run"
        shutil.rmtree(output, ignore_errors=True)
        cmd = [*base, "--engine", "spark", "--input", str(size_dir / "input"), "--output", str(output)]
        cmd += ["--as-of", args.as_of, "--master", args.master]
    log = size_dir / f"{engine}.cli.log"
    run = _watch(cmd, log, env=env, max_gb=args.max_gb, timeout=args.timeout)
    peaks = {k: v for k, v in run.items() if k.endswith("_mb")}
    if run["stopped"] or run["code"]:
        lines = [x for x in log.read_text(errors="replace").splitlines() if x.strip()]
        why = run["stopped"] or f"exit {run['code']}: {lines[-1] if lines else ''}"
        return {"status": "failed", "reason": why, "seconds": round(run["seconds"], 3), **peaks}
    return {"status": "ok", "seconds": round(run["seconds"], 3), "command": " ".join(cmd[1:]), **peaks}


_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "U")


def compare_parquet(left: str, right: str, *, key: str = "customer_id", rtol: float = 1e-9) -> dict[str, Any]:
    """Compare two Parquet outputs row by row on ``key`` with DuckDB (memory bounded at any size).

    Numbers agree within ``rtol`` relative (absolute below 1: ``|a - b| <= rtol * max(1, |b|)``), NULL and
    NaN only with themselves; other values exactly. Returns the row counts, the keys on one side only, the
    columns on one side only and, over the keys on both sides, the count of differing values of each column
    that has any.
    """
    import duckdb

    from socialvalue.sqlsafe import ident, literal

    con = duckdb.connect()
    try:
        con.execute("SET threads = 2")
        lrel, rrel = f"read_parquet({literal(left)})", f"read_parquet({literal(right)})"
        ltypes = {r[0]: r[1] for r in con.sql(f"DESCRIBE SELECT * FROM {lrel}").fetchall()}
        rtypes = {r[0]: r[1] for r in con.sql(f"DESCRIBE SELECT * FROM {rrel}").fetchall()}
        common = [c for c in ltypes if c in rtypes and c != key]
        items = [
            f"count(*) FILTER (WHERE a.{ident(key)} IS NULL OR b.{ident(key)} IS NULL)",
            f"count(a.{ident(key)})",
            f"count(b.{ident(key)})",
        ]
        both = f"a.{ident(key)} IS NOT NULL AND b.{ident(key)} IS NOT NULL"  # values of matched keys only
        for c in common:
            a, b = f"a.{ident(c)}", f"b.{ident(c)}"
            if ltypes[c].startswith(_NUMERIC) and rtypes[c].startswith(_NUMERIC):
                a, b = f"CAST({a} AS DOUBLE)", f"CAST({b} AS DOUBLE)"
                close = f"coalesce(abs({a} - {b}) <= {rtol!r} * greatest(1, abs({b})), false)"
                items.append(f"count(*) FILTER (WHERE {both} AND {a} IS DISTINCT FROM {b} AND NOT {close})")
            else:
                if ltypes[c] != rtypes[c]:
                    a, b = f"CAST({a} AS VARCHAR)", f"CAST({b} AS VARCHAR)"
                items.append(f"count(*) FILTER (WHERE {both} AND {a} IS DISTINCT FROM {b})")
        row = con.sql(
            f"SELECT {', '.join(items)} FROM {lrel} a FULL OUTER JOIN {rrel} b ON a.{ident(key)} = b.{ident(key)}"
        ).fetchall()[0]
    finally:
        con.close()
    differing = {c: int(n) for c, n in zip(common, row[3:], strict=True) if n}
    only = sorted(set(ltypes) ^ set(rtypes))
    return {
        "rows": [int(row[1]), int(row[2])],
        "unmatched_keys": int(row[0]),
        "columns": len(common) + 1,
        "columns_on_one_side": only,
        "differing": differing,
        "equal": not (row[0] or differing or only),
    }


def compare_params(duck: dict[str, Any], spark: dict[str, Any]) -> dict[str, Any]:
    """The largest relative difference of the fitted parameters, and whether the ladders chose alike."""
    worst = 0.0
    same = True
    for role, fit in duck.items():
        other = spark.get(role, {})
        same &= fit["model"] == other.get("model") and set(fit["params"]) == set(other.get("params", {}))
        for k, v in fit["params"].items():
            w = other.get("params", {}).get(k, math.nan)
            worst = max(worst, abs(v - w) / max(abs(v), 1e-300)) if math.isfinite(w) else math.inf
    return {"same_models": bool(same), "max_rel_diff": worst, "equal": bool(same and worst <= 1e-9)}


def agreement(size_dir: Path, engines: dict[str, Any]) -> dict[str, Any]:
    """Compare what both engines produced at this size (the phases both ran)."""
    duck, spark = engines["duckdb"]["phases"], engines["spark"]["phases"]
    out: dict[str, Any] = {}
    base = size_dir / "out"
    if duck["features"]["status"] == spark["features"]["status"] == "ok":
        for name in ("features", "features_cal"):
            out[name] = compare_parquet(
                str(base / "duckdb" / f"{name}.parquet"),
                str(base / "spark" / f"{name}.parquet" / "*.parquet"),
            )
    if duck["btyd"]["status"] == spark["btyd"]["status"] == "ok":
        out["params"] = compare_params(duck["btyd"]["detail"]["fits"], spark["btyd"]["detail"]["fits"])
    if duck["clv"]["status"] == spark["clv"]["status"] == "ok":
        out["clv"] = compare_parquet(
            str(base / "duckdb" / "clv.parquet"), str(base / "spark" / "clv.parquet" / "*.parquet")
        )
    return out


# -- scaling and the crossover ---------------------------------------------------------------------------------
def _ok_seconds(entry: dict[str, Any], engine: str, phases: tuple[str, ...]) -> float | None:
    """The sum of ``phases``' seconds of ``engine`` at a size (None unless every one ran)."""
    ph = entry.get("engines", {}).get(engine, {}).get("phases", {})
    if not all(ph.get(p, {}).get("status") == "ok" for p in phases):
        return None
    return sum(ph[p]["seconds"] for p in phases)


def _points(sizes: list[dict[str, Any]], engine: str, phases: tuple[str, ...]) -> list[tuple[float, float]]:
    pts = []
    for entry in sizes:
        s = _ok_seconds(entry, engine, phases)
        if s is not None and s > 0:
            pts.append((float(entry["data"]["rows"]["orders"]), s))
    return pts


def scaling(sizes: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Per engine and phase: the log-log slope of seconds against orders (None with fewer than two sizes)."""
    import numpy as np

    out: dict[str, dict[str, float | None]] = {}
    for engine in ENGINES:
        out[engine] = {}
        for phase in (*PHASES, "core"):
            pts = _points(sizes, engine, CHILD_PHASES if phase == "core" else (phase,))
            if len({n for n, _ in pts}) < 2:
                out[engine][phase] = None
                continue
            n, s = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
            out[engine][phase] = round(float(np.polyfit(n, s, 1)[0]), 3)
    return out


def _line(pts: list[tuple[float, float]]) -> tuple[float, float]:
    """``T = F + a N`` by least squares (two sizes: through both); F kept at or above 0."""
    import numpy as np

    n, s = np.array([p[0] for p in pts]), np.array([p[1] for p in pts])
    a, f = np.polyfit(n, s, 1)
    if f < 0:  # a negative fixed cost is noise: refit through the origin
        a, f = float(np.sum(n * s) / np.sum(n * n)), 0.0
    return float(f), float(a)


def crossover(
    sizes: list[dict[str, Any]],
    *,
    measured_cores: int,
    duckdb_cores: list[int],
    shapes: list[tuple[int, int]],
) -> dict[str, Any]:
    """Where Spark on a cluster beats one DuckDB machine, extrapolated from the measured lines.

    Model: on ``local[measured_cores]`` Spark took ``T_s(N) = F_s + a_s N`` seconds for N orders, so its work
    is ``c_s = a_s * measured_cores`` core-seconds per order; on E executors x C cores (P = E C) it takes
    ``F_s + c_s N / P`` (the work divides evenly, the per-job overhead ``F_s`` stays). DuckDB measured
    ``F_d + a_d N`` on the same cores; on a machine of K cores, ``F_d + c_d N / K`` with ``c_d = a_d *
    measured_cores``. Spark is faster from ``N* = (F_s - F_d) / (c_d / K - c_s / P)`` orders, when
    ``c_d / K > c_s / P``, i.e. ``P > K c_s / c_d``.
    """
    out: dict[str, Any] = {}
    for label, phases in (("core", CHILD_PHASES), ("cli_run", ("cli_run",)), ("features", ("features",))):
        pts = {e: _points(sizes, e, phases) for e in ENGINES}
        if any(len({n for n, _ in p}) < 2 for p in pts.values()):
            continue
        (fd, ad), (fs, as_) = _line(pts["duckdb"]), _line(pts["spark"])
        cd, cs = ad * measured_cores, as_ * measured_cores
        entry: dict[str, Any] = {
            "phases": list(phases),
            "orders_measured": [min(n for n, _ in pts["duckdb"]), max(n for n, _ in pts["duckdb"])],
            "duckdb": {"fixed_s": fd, "s_per_order": ad, "core_s_per_order": cd},
            "spark": {"fixed_s": fs, "s_per_order": as_, "core_s_per_order": cs},
        }
        out[label] = entry
        if ad <= 0 or as_ <= 0:
            entry["reason"] = (
                "the seconds do not grow with the orders over the sizes measured (fixed costs and noise "
                "dominate): no per-order cost to extrapolate; measure larger sizes"
            )
            continue
        memory = _memory_line(sizes, phases)
        entry["by_duckdb_cores"] = {}
        for k in duckdb_cores:
            rows = []
            for e, c in shapes:
                p = e * c
                gain = cd / k - cs / p
                n_star = max(0.0, (fs - fd) / gain) if gain > 0 else None
                row = {"executors": e, "cores": c, "total_cores": p, "orders": n_star}
                if n_star is not None:
                    row["seconds"] = fd + cd * n_star / k
                    if memory is not None:
                        row["duckdb_peak_gb"] = (memory[0] + memory[1] * n_star) / 1024
                rows.append(row)
            entry["by_duckdb_cores"][str(k)] = {"min_cores": k * cs / cd, "shapes": rows}
    return out


def _memory_line(sizes: list[dict[str, Any]], phases: tuple[str, ...]) -> tuple[float, float] | None:
    """DuckDB's peak MB over ``phases`` as ``m0 + m1 N`` (None without two sizes)."""
    pts = []
    for entry in sizes:
        ph = entry.get("engines", {}).get("duckdb", {}).get("phases", {})
        if all(ph.get(p, {}).get("status") == "ok" for p in phases):
            pts.append((float(entry["data"]["rows"]["orders"]), max(ph[p]["peak_mb"] for p in phases)))
    return _line(pts) if len({n for n, _ in pts}) >= 2 else None


# -- output ----------------------------------------------------------------------------------------------------
def _fmt_s(p: dict[str, Any] | None) -> str:
    if not p:
        return "—"
    if p.get("status") != "ok":
        return p.get("status", "—")
    return f"{p['seconds']:,.2f}"


def _fmt_mb(p: dict[str, Any] | None) -> str:
    return f"{p['peak_mb']:,.0f}" if p and p.get("status") == "ok" and p.get("peak_mb") else "—"


def _ratio(a: dict[str, Any] | None, b: dict[str, Any] | None, key: str) -> float | None:
    if not (a and b and a.get("status") == b.get("status") == "ok" and b.get(key)):
        return None
    return round(a[key] / b[key], 3)


def _short(n: float) -> str:
    for unit, div in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= div:
            return f"{n / div:.3g}{unit}"
    return f"{n:.3g}"


def markdown(result: dict[str, Any]) -> str:
    """The figures as Markdown: a table per size, the scaling exponents and the crossover arithmetic."""
    lines = []
    m = result["machine"]
    lines.append(
        f"Machine: {m['cores']} cores, {m['memory_gb']:.0f} GB; DuckDB {m['duckdb']}, PySpark {m['pyspark']} "
        f"({m['java']}), master {result['settings']['master']}, Spark driver memory "
        f"{result['settings']['spark_memory']}; as_of {result['settings']['as_of']}"
    )
    for entry in result["sizes"]:
        lines.append("")
        head = f"### {_short(entry['orders_target'])} orders ({entry['customers']:,} customers)"
        if entry.get("skipped"):
            lines += [head, "", f"Skipped: {entry['skipped']}"]
            continue
        rows = entry["data"]["rows"]
        lines += [
            head,
            "",
            "Rows: "
            + ", ".join(f"{k} {v:,}" for k, v in rows.items())
            + f"; Parquet {entry['data']['parquet_mb']:,.0f} MB"
            + (f", store {entry['data']['store_mb']:,.0f} MB" if entry["data"].get("store_mb") else ""),
            "",
            "| phase | DuckDB s | DuckDB peak MB | Spark s | Spark peak MB (driver + JVM + workers) | Spark/DuckDB s | Spark/DuckDB MB |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for phase in PHASES:
            d = entry["engines"].get("duckdb", {}).get("phases", {}).get(phase)
            s = entry["engines"].get("spark", {}).get("phases", {}).get(phase)
            split = ""
            if s and s.get("status") == "ok" and s.get("peak_mb"):
                split = f" ({s['driver_mb']:,.0f} + {s['jvm_mb']:,.0f} + {s['workers_mb']:,.0f})"
            r = entry["ratios"].get(phase, {})
            rs = "—" if r.get("seconds") is None else f"{r['seconds']:.2f}×"
            rm = "—" if r.get("memory") is None else f"{r['memory']:.2f}×"
            lines.append(
                f"| {phase} | {_fmt_s(d)} | {_fmt_mb(d)} | {_fmt_s(s)} | {_fmt_mb(s)}{split} | {rs} | {rm} |"
            )
        start = entry["engines"].get("spark", {}).get("startup")
        if start and start.get("status") == "ok":
            lines.append(f"\nSpark session start (not in the phases): {start['seconds']:.1f} s.")
        d_rv = entry["engines"].get("duckdb", {}).get("phases", {}).get("read_validate", {})
        if d_rv.get("status") == "ok":
            lines.append(
                f"DuckDB's read_validate is the ingest's read and validate steps; its store write adds "
                f"{d_rv['detail']['write_s']:.1f} s (whole ingest {d_rv['detail']['ingest_s']:.1f} s)."
            )
        for phase in PHASES:
            for engine in ENGINES:
                p = entry["engines"].get(engine, {}).get("phases", {}).get(phase, {})
                if p.get("status") not in (None, "ok"):
                    lines.append(f"{engine} {phase}: {p['status']} ({p.get('reason', '')})")
        agree = entry.get("agreement") or {}
        if agree:
            parts = []
            for name, a in agree.items():
                if name == "params":
                    parts.append(
                        f"params {'equal' if a['equal'] else 'DIFFER'} (max rel diff {a['max_rel_diff']:.1e})"
                    )
                else:
                    parts.append(
                        f"{name} {'equal' if a['equal'] else 'DIFFER'} ({a['rows'][0]:,} rows, {a['columns']} columns"
                        + (f"; differing {a['differing']}" if a["differing"] else "")
                        + ")"
                    )
            lines.append("Agreement: " + "; ".join(parts) + ".")
    lines += ["", "### Scaling exponents (log-log slope of seconds against orders)", ""]
    lines += [
        "| engine | " + " | ".join((*PHASES, "core (a-d)")) + " |",
        "|---|" + "---:|" * (len(PHASES) + 1),
    ]
    for engine, by in result["scaling"].items():
        lines.append(
            f"| {engine} | " + " | ".join("—" if v is None else f"{v:.2f}" for v in by.values()) + " |"
        )
    lines += ["", "### Where Spark beats one DuckDB machine (extrapolated)", ""]
    lines.append(
        "Assumption: Spark's measured work (core-seconds per order on "
        f"{result['settings']['master']}) divides evenly over a cluster's executors x cores, and its fixed "
        "per-job overhead F stays; DuckDB's work divides the same way over one machine's cores (generous "
        "to DuckDB past a few cores). Not modelled: the network, stragglers, the driver-side fits."
    )
    cores = result["machine"]["cores_used"]
    if not result["crossover"]:
        lines.append("(needs two sizes where both engines ran the phases)")
    for label, c in result["crossover"].items():
        lines += ["", *_crossover_lines(label, c, cores)]
    return "\n".join(lines)


def _crossover_lines(label: str, c: dict[str, Any], cores: int) -> list[str]:
    """The arithmetic of one crossover, as indented Markdown code lines."""
    d, s = c["duckdb"], c["spark"]
    us = 1e6
    lo, hi = (_short(n) for n in c["orders_measured"])
    lines = [
        f"**{label}** ({' + '.join(c['phases'])}; lines fitted on {lo} to {hi} orders):",
        "",
        f"    DuckDB, {cores} cores:  T_d(N) = {d['fixed_s']:.2f} s + {d['s_per_order'] * us:.4f} us x N"
        f"  ->  c_d = {cores} x {d['s_per_order'] * us:.4f} = {d['core_s_per_order'] * us:.4f} core-us per order",
        f"    Spark, {cores} cores:   T_s(N) = {s['fixed_s']:.2f} s + {s['s_per_order'] * us:.4f} us x N"
        f"  ->  c_s = {cores} x {s['s_per_order'] * us:.4f} = {s['core_s_per_order'] * us:.4f} core-us per order",
    ]
    if "reason" in c:
        return [*lines, f"    no extrapolation: {c['reason']}"]
    lines += [
        "    Spark on P = E x C cores: T_s(N, P) = F_s + c_s N / P;  DuckDB on K cores: T_d(N, K) = F_d + c_d N / K",
        "    Spark is faster when N > N* = (F_s - F_d) / (c_d / K - c_s / P), which needs P > K c_s / c_d",
    ]
    for k, per in c["by_duckdb_cores"].items():
        lines.append(
            f"    DuckDB machine of K = {k} cores: Spark needs P > {k} x {s['core_s_per_order'] * us:.4f} / "
            f"{d['core_s_per_order'] * us:.4f} = {per['min_cores']:.1f} cores"
        )
        for row in per["shapes"]:
            shape = f"      {row['executors']} x {row['cores']} = {row['total_cores']} cores:"
            gain = d["core_s_per_order"] / int(k) - s["core_s_per_order"] / row["total_cores"]
            if row["orders"] is None:
                lines.append(f"{shape} never (c_d / K - c_s / P = {gain * us:.4f} us <= 0)")
                continue
            text = (
                f"{shape} N* = ({s['fixed_s']:.2f} - {d['fixed_s']:.2f}) / {gain * us:.4f} us = "
                f"{_short(row['orders'])} orders, {row['seconds']:,.0f} s each"
            )
            if "duckdb_peak_gb" in row:
                text += f" (DuckDB's peak there: {row['duckdb_peak_gb']:,.1f} GB by its memory line)"
            lines.append(text)
    return lines


def _versions() -> dict[str, Any]:
    import duckdb
    import psutil

    try:
        import pyspark

        spark_version = pyspark.__version__
    except ImportError:
        spark_version = "not installed"
    java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    return {
        "cores": os.cpu_count(),
        "memory_gb": psutil.virtual_memory().total / 2**30,
        "python": sys.version.split()[0],
        "duckdb": duckdb.__version__,
        "pyspark": spark_version,
        "java": (java.stderr.splitlines() or ["java not found"])[0],
    }


def _sizes(text: str) -> list[int]:
    return [int(float(x)) for x in text.split(",") if x.strip()]


def _shapes(text: str) -> list[tuple[int, int]]:
    out = []
    for item in text.split(","):
        e, c = item.lower().split("x")
        out.append((int(e), int(c)))
    return out


def _local_cores(master: str) -> int:
    inner = master[len("local[") : -1] if master.startswith("local[") else "1"
    return os.cpu_count() or 1 if inner == "*" else int(inner.split(",")[0])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", default="1e6,1e7", help="sizes in orders, comma separated (default 1e6,1e7)")
    ap.add_argument("--small", action="store_true", help="100,000 and 200,000 orders")
    ap.add_argument("--orders-per-customer", type=float, default=10.0, help="customers = orders / this (10)")
    ap.add_argument("--chunk", type=int, default=1_000_000, help="customers generated at a time (1M)")
    ap.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "sv_spark_vs_duckdb",
        help="where the data, stores and outputs are kept between runs",
    )
    ap.add_argument("--engines", default="duckdb,spark", help="engines to run (default both)")
    ap.add_argument("--no-cli", action="store_true", help="skip phase (e), the whole run through the CLI")
    ap.add_argument("--as-of", default=AS_OF)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--spark-memory", default=None, help="Spark driver memory (default: 60%% of the RAM)")
    ap.add_argument(
        "--spark-conf",
        action="append",
        default=[],
        help="a Spark setting key=value for phases (a)-(d) (the CLI run keeps its own)",
    )
    ap.add_argument("--max-gb", type=float, default=20.0, help="stop a process tree past this RSS (GB)")
    ap.add_argument("--timeout", type=float, default=4 * 3600.0, help="stop a child after this (s)")
    ap.add_argument("--duckdb-cores", default="2,32", help="DuckDB machines of the crossover, in cores")
    ap.add_argument("--clusters", default="2x4,4x4,8x8,16x8,32x16", help="cluster shapes E x C")
    ap.add_argument("--json", type=Path, default=None, help="write every figure here")
    ap.add_argument("--child", choices=ENGINES, help=argparse.SUPPRESS)
    ap.add_argument("--size-dir", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.small:
        args.orders = "1e5,2e5"
    unknown = set(args.engines.split(",")) - set(ENGINES)
    if unknown:
        ap.error(f"--engines: {', '.join(sorted(unknown))} unknown (duckdb, spark)")
    if args.spark_memory is None:
        import psutil

        args.spark_memory = f"{max(1, int(psutil.virtual_memory().total * 0.6 / 2**30))}g"
    return args


def _ratios(entry: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """Spark / DuckDB seconds and peak memory of each phase both ran."""
    out = {}
    for phase in PHASES:
        spark, duck = (entry["engines"].get(e, {}).get("phases", {}).get(phase) for e in ("spark", "duckdb"))
        out[phase] = {"seconds": _ratio(spark, duck, "seconds"), "memory": _ratio(spark, duck, "peak_mb")}
    return out


def run_size(
    orders: int,
    done: list[dict[str, Any]],
    args: argparse.Namespace,
    env: dict[str, str],
    cli: dict[str, bool],
) -> dict[str, Any]:
    """One size: its data, both engines' phases, the CLI runs, the ratios and the agreement (or why skipped)."""
    customers = max(1, round(orders / args.orders_per_customer))
    size_dir = args.workdir / f"orders_{orders}"
    entry: dict[str, Any] = {"orders_target": orders, "customers": customers}
    cached = (size_dir / "input.json").exists() and (size_dir / "store.duckdb").exists()
    reason = disk_reason(args.workdir, done, orders, cached)
    if reason:
        print(f"{_short(orders)} orders skipped: {reason}")
        return {**entry, "skipped": reason}
    size_dir.mkdir(parents=True, exist_ok=True)
    print(f"== {_short(orders)} orders, {customers:,} customers: {size_dir}", flush=True)
    entry["data"] = prepare(size_dir, customers, args.chunk)
    engines = entry["engines"] = {}
    for engine in args.engines.split(","):
        t0 = time.perf_counter()
        engines[engine] = run_child(engine, size_dir, args, env)
        print(f"  {engine}: phases (a)-(d) in {time.perf_counter() - t0:.0f} s", flush=True)
    if (size_dir / "store.duckdb").exists():
        entry["data"]["store_mb"] = round(_dir_mb(size_dir / "store.duckdb"), 1)
    for engine in engines if cli else ():
        if cli[engine]:
            engines[engine]["phases"]["cli_run"] = run_cli(engine, size_dir, args, env)
        else:
            why = "`socialvalue run` has no --engine option yet"
            engines[engine]["phases"]["cli_run"] = {"status": NOT_AVAILABLE, "reason": why}
        print(f"  {engine}: cli_run {engines[engine]['phases']['cli_run']['status']}", flush=True)
    entry["ratios"] = _ratios(entry)
    if all(e in engines for e in ENGINES):
        entry["agreement"] = agreement(size_dir, engines)
    return entry


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    args = parse_args(argv)
    conf = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        **dict(item.split("=", 1) for item in args.spark_conf),
    }
    if args.child:
        child(
            args.child,
            args.size_dir,
            args.as_of,
            args.master,
            conf,
            args.size_dir / f"{args.child}.phases.jsonl",
        )
        return None
    workdir = args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    env = _env(args, workdir)
    cli = {"duckdb": True, "spark": spark_cli_available()} if not args.no_cli else {}
    from socialvalue.pipeline import RunConfig

    cfg = RunConfig().run
    result: dict[str, Any] = {
        "machine": {**_versions(), "cores_used": _local_cores(args.master)},
        "settings": {
            "master": args.master,
            "spark_memory": args.spark_memory,
            "spark_conf": conf,
            "as_of": args.as_of,
            "calibration_end": _frames(args.as_of, cfg.unit, cfg.holdout_periods)[2],
            "orders_per_customer": args.orders_per_customer,
            "workdir": str(workdir),
        },
        "sizes": [],
    }
    for orders in _sizes(args.orders):
        result["sizes"].append(run_size(orders, result["sizes"], args, env, cli))
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))
    result["scaling"] = scaling(result["sizes"])
    result["crossover"] = crossover(
        result["sizes"],
        measured_cores=result["machine"]["cores_used"],
        duckdb_cores=[int(k) for k in args.duckdb_cores.split(",")],
        shapes=_shapes(args.clusters),
    )
    print(markdown(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
