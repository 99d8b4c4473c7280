"""``benchmarks/spark_vs_duckdb.py`` at a tiny size: every figure in its JSON, and both engines agreeing.

One run of the benchmark (a 3,000-order demo shop, 300 customers; one more size too large for any disk, which
must be skipped with its reason) starts a real Spark in local mode in a child process, as the benchmark does at
any size. Its phases that need code other helpers are still writing (``socialvalue.spark.models``, ``socialvalue
run --engine spark``) must say "not available" until that code exists, and "ok" from then on. The comparison
of the two engines' outputs is checked to catch a difference; the memory sampler to see a child's memory and
stop a child past its limit; the scaling and crossover arithmetic on figures with known answers.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    path = ROOT / "benchmarks" / "spark_vs_duckdb.py"
    spec = importlib.util.spec_from_file_location("spark_vs_duckdb_bench", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bench = _bench()
TINY = 3_000


def _spark_models_exist() -> bool:
    try:
        from socialvalue.spark import models
    except ImportError:
        return False
    return all(hasattr(models, n) for n in ("fit_purchase", "fit_spend", "value_frame"))


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    root = tmp_path_factory.mktemp("spark_vs_duckdb")
    out = root / "result.json"
    bench.main(
        [
            "--orders",
            f"{TINY},1e15",
            "--workdir",
            str(root / "work"),
            "--json",
            str(out),
            "--spark-memory",
            "1g",
            "--spark-conf",
            "spark.sql.shuffle.partitions=2",
            "--max-gb",
            "8",
            "--timeout",
            "900",
        ]
    )
    return json.loads(out.read_text())


@pytest.mark.slow
def test_json_has_every_phase_of_both_engines(result):
    assert result["machine"]["cores_used"] == 2 and result["machine"]["java"].startswith(("openjdk", "java"))
    assert result["settings"]["spark_memory"] == "1g"
    tiny, huge = result["sizes"]
    assert tiny["orders_target"] == TINY and tiny["customers"] == TINY // 10
    assert 0.5 * TINY < tiny["data"]["rows"]["orders"] < 2 * TINY
    assert tiny["data"]["parquet_mb"] > 0 and tiny["data"]["store_mb"] > 0
    cli = "ok" if bench.spark_cli_available() else "not available"
    models = "ok" if _spark_models_exist() else "not available"
    expected = {
        "duckdb": dict.fromkeys(bench.PHASES, "ok"),
        "spark": {"read_validate": "ok", "features": "ok", "btyd": models, "clv": models, "cli_run": cli},
    }
    for engine, phases in expected.items():
        got = tiny["engines"][engine]["phases"]
        assert {p: got[p]["status"] for p in bench.PHASES} == phases, engine
        for name, phase in got.items():
            if phase["status"] == "ok":
                assert phase["seconds"] > 0 and phase["peak_mb"] > 50, (engine, name)
            else:
                assert phase["reason"], (engine, name)
    spark = tiny["engines"]["spark"]
    assert spark["startup"]["status"] == "ok" and spark["startup"]["detail"]["driver_memory"] == "1g"
    feats = spark["phases"]["features"]
    assert feats["jvm_mb"] > 100 and feats["driver_mb"] > 50  # the JVM is found and measured
    assert feats["peak_mb"] == pytest.approx(
        feats["driver_mb"] + feats["jvm_mb"] + feats["workers_mb"], abs=0.2
    )
    duck = tiny["engines"]["duckdb"]["phases"]
    assert duck["features"]["jvm_mb"] == 0 and duck["features"]["detail"]["rows"] == feats["detail"]["rows"]
    assert duck["read_validate"]["detail"]["ingest_s"] >= duck["read_validate"]["seconds"]
    ratio = tiny["ratios"]["features"]
    assert ratio["seconds"] == pytest.approx(feats["seconds"] / duck["features"]["seconds"], rel=1e-2)
    assert set(tiny["ratios"]) == set(bench.PHASES)
    # the second size cannot fit any disk: skipped, with the reason, before anything is generated
    assert "GB of disk" in huge["skipped"] and "engines" not in huge
    assert not (Path(result["settings"]["workdir"]) / "orders_1000000000000000").exists()
    # one size: no slope, no line, no crossover
    assert set(result["scaling"]) == set(bench.ENGINES)
    assert all(v is None for by in result["scaling"].values() for v in by.values())
    assert result["crossover"] == {}


@pytest.mark.slow
def test_both_engines_give_the_same_results(result):
    agree = result["sizes"][0]["agreement"]
    expected = {"features", "features_cal"} | ({"params", "clv"} if _spark_models_exist() else set())
    assert set(agree) == expected
    for name in ("features", "features_cal", "clv"):
        if name in agree:
            assert agree[name]["equal"], (name, agree[name])
            assert agree[name]["rows"][0] == agree[name]["rows"][1] > 0
    assert agree["features"]["columns"] > 100
    if "params" in agree:
        assert agree["params"]["equal"] and agree["params"]["same_models"]


@pytest.mark.slow
def test_markdown_shows_each_phase_and_the_skip(result):
    text = bench.markdown(result)
    assert "| phase | DuckDB s | DuckDB peak MB | Spark s |" in text
    for phase in bench.PHASES:
        assert f"| {phase} |" in text
    assert "Skipped: needs about" in text
    assert "Agreement: features equal" in text


def test_compare_parquet_finds_every_kind_of_difference(tmp_path):
    left = pa.table(
        {
            "customer_id": ["a", "b", "c", "d"],
            "x": [1.0, float("nan"), None, 1e6],
            "n": pa.array([1, 2, 3, 4], pa.int64()),
            "s": ["u", "v", None, "w"],
        }
    )
    pq.write_table(left, tmp_path / "left.parquet")
    close = left.set_column(1, "x", pa.array([1.0 + 1e-12, float("nan"), None, 1e6 * (1 + 1e-12)]))
    pq.write_table(close, tmp_path / "close.parquet")
    same = bench.compare_parquet(str(tmp_path / "left.parquet"), str(tmp_path / "close.parquet"))
    assert same == {
        "rows": [4, 4],
        "unmatched_keys": 0,
        "columns": 4,
        "columns_on_one_side": [],
        "differing": {},
        "equal": True,
    }
    other = pa.table(
        {
            "customer_id": ["a", "b", "c", "e"],
            "x": [1.0 + 1e-6, 0.0, 2.0, 1e6],  # off by 1e-6; NaN vs 0; NULL vs 2
            "n": pa.array([1, 2, 3, 4], pa.int32()),  # another integer type: compared as numbers
            "s": ["u", "v", "z", "w"],  # NULL vs 'z'
            "extra": [1, 2, 3, 4],
        }
    )
    pq.write_table(other, tmp_path / "other.parquet")
    diff = bench.compare_parquet(str(tmp_path / "left.parquet"), str(tmp_path / "other.parquet"))
    assert diff["unmatched_keys"] == 2 and diff["rows"] == [4, 4]  # d only left, e only right
    assert diff["differing"] == {"x": 3, "s": 1}
    assert diff["columns_on_one_side"] == ["extra"] and not diff["equal"]


def test_compare_params():
    duck = {"purchase": {"model": "BG/NBD", "params": {"r": 0.5, "alpha": 2.0}}}
    near = {"purchase": {"model": "BG/NBD", "params": {"r": 0.5 * (1 + 1e-12), "alpha": 2.0}}}
    assert bench.compare_params(duck, near)["equal"]
    far = {"purchase": {"model": "BG/NBD", "params": {"r": 0.5 * (1 + 1e-6), "alpha": 2.0}}}
    assert bench.compare_params(duck, far)["max_rel_diff"] == pytest.approx(1e-6)
    assert not bench.compare_params(duck, far)["equal"]
    other = {"purchase": {"model": "Pareto/NBD", "params": {"r": 0.5, "alpha": 2.0}}}
    assert not bench.compare_params(duck, other)["same_models"]


def test_watch_measures_a_child_and_stops_it_past_its_limit(tmp_path):
    grow = "import time; a = bytearray(300 * 2**20); a[::4096] = b'x' * len(a[::4096]); time.sleep({})"
    run = bench._watch(
        [sys.executable, "-c", grow.format(1.0)], tmp_path / "ok.log", env=None, max_gb=4, timeout=60
    )
    assert run["code"] == 0 and run["stopped"] is None
    assert 300 < run["driver_mb"] < 600 and run["jvm_mb"] == 0 and run["peak_mb"] >= run["driver_mb"]
    run = bench._watch(
        [sys.executable, "-c", grow.format(60)], tmp_path / "big.log", env=None, max_gb=0.1, timeout=60
    )
    assert run["stopped"] == "stopped: its processes' RSS passed 0.1 GB" and run["seconds"] < 30
    assert run["code"] == -9


def _sizes(lines: dict[str, tuple[float, float]], orders: list[int]) -> list[dict]:
    """Results of made-up runs: each engine's core phases taking ``F + a N`` seconds, split over the phases."""
    out = []
    for n in orders:
        engines = {}
        for engine, (f, a) in lines.items():
            total = f + a * n
            phases = {p: {"status": "ok", "seconds": total / 4, "peak_mb": 100.0} for p in bench.CHILD_PHASES}
            phases["cli_run"] = {"status": "not available", "reason": "-"}
            engines[engine] = {"phases": phases}
        out.append({"data": {"rows": {"orders": n}}, "engines": engines})
    return out


def test_scaling_and_crossover_arithmetic():
    sizes = _sizes({"duckdb": (1.0, 2e-6), "spark": (20.0, 4e-6)}, [1_000_000, 10_000_000])
    slopes = bench.scaling(sizes)
    expected = math.log((1 + 20) / (1 + 2)) / math.log(10)
    assert slopes["duckdb"]["core"] == pytest.approx(expected, abs=1e-3)
    assert slopes["duckdb"]["features"] == slopes["duckdb"]["core"]
    assert slopes["spark"]["cli_run"] is None
    cross = bench.crossover(sizes, measured_cores=2, duckdb_cores=[2, 8], shapes=[(2, 2), (4, 4), (8, 8)])
    assert set(cross) == {"core", "features"}  # no CLI figures
    core = cross["core"]
    assert core["duckdb"]["fixed_s"] == pytest.approx(1.0) and core["spark"]["s_per_order"] == pytest.approx(
        4e-6
    )
    assert core["spark"]["core_s_per_order"] == pytest.approx(8e-6)
    two = core["by_duckdb_cores"]["2"]
    assert two["min_cores"] == pytest.approx(4.0)  # P > K c_s / c_d = 2 x 8 / 4
    n_star = {r["total_cores"]: r["orders"] for r in two["shapes"]}
    assert n_star[4] is None  # 4 cores only match DuckDB's rate: never faster
    assert n_star[16] == pytest.approx((20 - 1) / (4e-6 / 2 - 8e-6 / 16))  # 12.7M orders
    assert n_star[64] == pytest.approx((20 - 1) / (4e-6 / 2 - 8e-6 / 64))
    eight = core["by_duckdb_cores"]["8"]
    assert eight["min_cores"] == pytest.approx(16.0)
    assert [r["orders"] is None for r in eight["shapes"]] == [True, True, False]
    text = bench.markdown(
        {
            "machine": {
                "cores": 2,
                "memory_gb": 24,
                "duckdb": "x",
                "pyspark": "y",
                "java": "z",
                "cores_used": 2,
            },
            "settings": {"master": "local[2]", "spark_memory": "1g", "as_of": "2026-07-01"},
            "sizes": [],
            "scaling": slopes,
            "crossover": cross,
        }
    )
    assert "Spark needs P > 2 x 8.0000 / 4.0000 = 4.0 cores" in text
    assert "4 x 4 = 16 cores: N* = (20.00 - 1.00) / 1.5000 us = 12.7M orders, 26 s each" in text
    assert "2 x 2 = 4 cores: never" in text


def test_no_crossover_when_the_seconds_do_not_grow():
    # tiny sizes measure only the fixed costs: Spark's line falls, and nothing may be extrapolated from it
    sizes = _sizes({"duckdb": (1.0, 2e-6), "spark": (60.0, -1e-6)}, [20_000, 50_000])
    cross = bench.crossover(sizes, measured_cores=2, duckdb_cores=[2], shapes=[(4, 4)])
    assert "measure larger sizes" in cross["core"]["reason"] and "by_duckdb_cores" not in cross["core"]
    lines = bench._crossover_lines("core", cross["core"], 2)
    assert lines[-1].startswith("    no extrapolation: the seconds do not grow")


def test_the_script_runs_from_the_command_line():
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "spark_vs_duckdb.py"), "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--orders" in done.stdout and "--workdir" in done.stdout and "crossover" in done.stdout
