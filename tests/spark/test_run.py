"""The whole run on Spark (issue 18, parts 3 and 5): ``run_pipeline(engine="spark")`` equals the DuckDB run.

Each data set is written as Parquet, loaded into a DuckDB store (``Store.ingest``) and run there with
``run_pipeline``, and run on Spark from the same folder (``engine="spark"``, the session of conftest). The two
runs are compared:

* the feature tables the runs compute (at the calibration end with the holdout, and at the date): every column
  equal (``ipt_cv`` to 1e-12, as in test_engine);
* every fitted parameter (purchase and spend models at both dates, the social-value weights) to 1e-9 relative;
* every column of ``scores``: numbers to 1e-9 relative, everything else (segments, lifecycle stages, tiers,
  clusters, churn sources) equal; PageRank to 1e-9 absolute per customer and, in L1, within the
  single-machine iteration's own stopping bound;
* the sampled quantities: Spark draws the spread's reverse-reachable sets on its executors with other
  generators than the single-machine estimate, so the two spreads are independent estimates of one expected
  spread. Each difference is tested against the two standard errors (read back from the 95% intervals) at a
  99% family-wise level over the customers; the influencer score and flag are checked to follow from each
  run's own spread by the same definition; the plan (``actions``) is equal for every customer whose
  influencer flag did not change, with the spread's figure in the reasons masked.

The data: the demo shop (800 customers, seed 7, every table) and the CDNOW sample shipped with socialvalue
(2,357 customers, purchases only). The command line is run end to end in a subprocess: it writes the Parquet
files and the run record, and a bad input file stops it with the message ``socialvalue ingest`` gives for that
file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from socialvalue import Store
from socialvalue.datasets import cdnow
from socialvalue.demo import generate
from socialvalue.engine import DuckDBEngine
from socialvalue.errors import ConfigError
from socialvalue.features import Query
from socialvalue.pipeline import RunConfig, run_pipeline
from socialvalue.pipeline.preflight import Money, converted_orders
from socialvalue.pipeline.run import SPECS, feature_frame
from socialvalue.pipeline.runner import Runner
from socialvalue.pipeline.sinks import FolderSink
from socialvalue.pipeline.spark_run import JAVA_MISSING, PAGERANK_TOL, SparkNative
from socialvalue.schema import KINDS
from socialvalue.spark import SparkEngine, read_tables

from .conftest import write_tables
from .test_engine import ROUNDING

pytestmark = pytest.mark.slow

DEMO_AS_OF = "2026-07-01"
CDNOW_AS_OF = "1998-07-01"  # the end of the log: 26 weeks of holdout from 1997-12-31
_NOW = re.compile(r"and \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC")


def _store(path: Path, folder: Path) -> Store:
    store = Store(path)
    for kind in KINDS:
        if (folder / f"{kind}.parquet").exists():
            store.ingest(kind, folder / f"{kind}.parquet")
    return store


def _both(spark, root: Path, tables: dict[str, pa.Table], as_of: str, **spark_kwargs):
    """The data in a folder and a store, run on both engines: (folder, store, duckdb result, spark result)."""
    folder = write_tables(root / "input", tables)
    store = _store(root / "store.duckdb", folder)
    duck = run_pipeline(store, as_of, RunConfig(), run_id="duckdb")
    ours = run_pipeline(
        as_of=as_of,
        engine="spark",
        input=folder,
        output=root / "output",
        spark=spark,
        run_id="spark",
        **spark_kwargs,
    )
    return folder, store, duck, ours


@pytest.fixture(scope="module")
def demo(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("demo_run")
    folder, store, duck, ours = _both(
        spark, root, generate(n_customers=800, seed=7).tables, DEMO_AS_OF, report=root / "report.html"
    )
    yield {"root": root, "folder": folder, "store": store, "duckdb": duck, "spark": ours}
    store.close()


@pytest.fixture(scope="module")
def cdnow_sample(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("cdnow_run")
    folder, store, duck, ours = _both(spark, root, cdnow.load_transactions(sample=True), CDNOW_AS_OF)
    yield {"root": root, "folder": folder, "store": store, "duckdb": duck, "spark": ours}
    store.close()


RUNS = ["demo", "cdnow_sample"]


def assert_same_frame(
    ours: pd.DataFrame, theirs: pd.DataFrame, what: str, *, skip: tuple[str, ...] = ()
) -> None:
    """Same columns and rows; numbers to 1e-9 relative, every other value equal (``skip``: not compared)."""
    assert list(ours.columns) == list(theirs.columns), what
    assert len(ours) == len(theirs) > 0, what
    ours = ours.sort_values("customer_id").reset_index(drop=True)
    theirs = theirs.sort_values("customer_id").reset_index(drop=True)
    for col in theirs.columns:
        if col in skip:
            continue
        a, b = ours[col], theirs[col]
        if pd.api.types.is_float_dtype(b):
            np.testing.assert_allclose(
                a.to_numpy(float), b.to_numpy(float), rtol=1e-9, atol=1e-12, err_msg=f"{what}.{col}"
            )
        else:
            assert a.astype(str).tolist() == b.astype(str).tolist(), f"{what}.{col}"


def assert_close(ours, theirs, where: str = "", *, atol: float = 1e-12) -> None:
    """Nested parameters (dicts, lists, numbers) equal, numbers to 1e-9 relative (``atol`` near zero)."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict) and set(ours) == set(theirs), where
        for key in theirs:
            assert_close(ours[key], theirs[key], f"{where}.{key}", atol=atol)
    elif isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            assert_close(a, b, f"{where}[{i}]", atol=atol)
    elif isinstance(theirs, float) and not isinstance(theirs, bool):
        assert ours == pytest.approx(theirs, rel=1e-9, abs=atol, nan_ok=True), where
    else:
        assert ours == theirs, where


@pytest.mark.parametrize("name", RUNS)
def test_the_runs_compute_the_same_feature_tables(request, spark, name):
    """The feature tables of the Spark run (kept in Spark, copied to the driver) equal the DuckDB run's."""
    run = request.getfixturevalue(name)
    duck, ours = run["duckdb"], run["spark"]
    engine = SparkEngine(spark, read_tables(spark, run["folder"]))
    native = SparkNative(engine)
    runner = Runner(SPECS)
    as_of = pd.Timestamp(duck.as_of)
    cal_end = pd.Timestamp(duck.diagnostics["data_range"]["calibration_end"])
    unit = RunConfig().run.unit
    try:
        for date, table, holdout_end in ((cal_end, "features_cal", as_of), (as_of, "features", None)):
            columns = runner.columns(table)
            spark_frame = native.feature_frame(engine, date, unit, columns, holdout_end=holdout_end)
            duck_frame = feature_frame(
                DuckDBEngine(run["store"]), date, unit, columns, holdout_end=holdout_end
            )
            assert len(duck_frame) > 500 and list(duck_frame.columns) == columns
            rounded = [c for c in ROUNDING if c in columns]
            pd.testing.assert_frame_equal(
                spark_frame.drop(columns=rounded), duck_frame.drop(columns=rounded), check_exact=True
            )
            for c in rounded:
                np.testing.assert_allclose(spark_frame[c], duck_frame[c], rtol=1e-12, atol=0, equal_nan=True)
    finally:
        native.release()
        engine.release()
    assert ours.engine == "spark" and duck.engine == "duckdb"


@pytest.mark.parametrize("name", RUNS)
def test_the_fitted_parameters_are_equal(request, name):
    """Purchase and spend models at both dates, their ladders, the social-value weights: to 1e-9."""
    run = request.getfixturevalue(name)
    duck, ours = run["duckdb"].diagnostics, run["spark"].diagnostics
    for key in ("chosen", "spend_model", "ladders", "comparison"):
        assert_close(ours["btyd"][key], duck["btyd"][key], key)
    assert_close(ours["btyd"]["params"], duck["btyd"]["params"], "params")
    assert_close(ours["btyd"]["spend_params"], duck["btyd"]["spend_params"], "spend_params")
    # the weights are of order 1; a component that explains nothing has a weight and bounds at zero up to the
    # optimiser's rounding (1e-10 on CDNOW, whose social components are all zero): 1e-9 absolute there
    assert_close(ours["csv"]["weights"], duck["csv"]["weights"], "csv weights", atol=1e-9)
    assert ours["champions"] == duck["champions"] and ours["fallbacks"] == duck["fallbacks"]
    # every stored model: the same documents (parameters to 1e-9)
    models = json.loads((run["spark"].output / "models.json").read_text(encoding="utf-8"))
    stored = dict(
        run["store"].con.execute("SELECT role, json FROM _models WHERE run_id = 'duckdb'").fetchall()
    )
    assert set(models) == set(stored)
    for role in ("purchase", "purchase_calibration", "spend", "spend_calibration"):
        assert_close(models[role]["params"], json.loads(stored[role])["params"], role)


@pytest.mark.parametrize("name", RUNS)
def test_the_scores_and_actions_are_equal(request, name):
    """Every column but those of the sampled spread (next test) and PageRank (to 1e-9 absolute)."""
    run = request.getfixturevalue(name)
    duck, ours = run["duckdb"], run["spark"]
    assert_same_frame(ours.scores, duck.scores, "scores", skip=(*SAMPLED, "pagerank"))
    a, b = (r.scores.set_index("customer_id").sort_index()["pagerank"].to_numpy() for r in (ours, duck))
    # the Spark iteration stops within 1e-13 (L1) of the exact vector, the single-machine one at an L1 change
    # of n * 1e-12, within alpha / (1 - alpha) * n * 1e-12 of it: they agree to that, and per customer to 1e-9
    nodes = duck.diagnostics["csv"]["graph"]["nodes"]
    assert np.abs(a - b).sum() <= 0.85 / 0.15 * nodes * 1e-12 + PAGERANK_TOL
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)
    # the plan: equal for every customer whose influencer flag the spread's sampling did not change
    flipped = set(_flipped(ours, duck))
    ours_plan, duck_plan = (_plan(r.actions) for r in (ours, duck))
    assert list(ours_plan.index) == list(duck_plan.index)
    kept = [c for c in duck_plan.index if c not in flipped]
    assert_same_frame(ours_plan.loc[kept].reset_index(), duck_plan.loc[kept].reset_index(), "actions")
    moved = ours_plan.index[(ours_plan["action"] != duck_plan["action"]).to_numpy()]
    assert set(moved) <= flipped
    # what was written equals what was returned, and what the store holds
    folder = ours.output
    assert folder == run["root"] / "output" / duck.as_of
    written = pq.read_table(folder / "scores.parquet").to_pandas()
    assert_same_frame(written, ours.scores, "written scores")
    stored = run["store"].query_df("SELECT * FROM scores WHERE as_of = ?", [duck.as_of])
    assert_same_frame(written, stored, "written scores", skip=(*SAMPLED, "pagerank"))
    actions = pq.read_table(folder / "actions.parquet").to_pandas()
    assert_same_frame(actions, ours.actions, "written actions")


@pytest.mark.parametrize("name", RUNS)
def test_the_insight_records_are_equal(request, name):
    """Channels, cohorts, the lifecycle mix and shares: the same definitions give the same record (to 1e-9).

    Only what each engine can read differs: the lifecycle mix's note (a Spark run reads no earlier scores).
    """
    run = request.getfixturevalue(name)
    ours, duck = dict(run["spark"].diagnostics["insight"]), dict(run["duckdb"].diagnostics["insight"])
    ours_mix, duck_mix = ours.pop("lifecycle_mix"), duck.pop("lifecycle_mix")
    assert ours_mix["notes"] == ["this run's date only: a run on Spark reads no earlier scores"]
    assert_close({**ours_mix, "notes": []}, {**duck_mix, "notes": []}, "lifecycle_mix")
    assert_close(ours, duck, "insight")
    assert "insight" in run["spark"].timings
    if name == "demo":
        assert ours["channels"]["available"] and ours["cohorts"]["model"]
    else:  # CDNOW has no acquisition channel: the same reason on both engines
        assert ours["channels"]["reason"] == "unavailable: no customer has an acquisition_channel value"


def test_the_wallet_share_is_checked_and_computed_on_spark_as_on_a_store(spark, demo, tmp_path):
    """A category-spend file on a Spark run: checked against the run's customers (a scratch in-memory store),
    then the same wallet share as on the store; a file naming an unknown customer is refused with the same line.
    """
    from socialvalue.pipeline.stage_insight import insight_stage

    scores = demo["duckdb"].scores
    ids = scores["customer_id"].iloc[:40].tolist()
    good = tmp_path / "category_spend.csv"
    pd.DataFrame(
        {"customer_id": ids, "category": "books", "estimated_spend": 300.0, "currency": "USD"}
    ).to_csv(good, index=False)
    bad = tmp_path / "bad_spend.csv"
    bad.write_text("customer_id,category,estimated_spend,currency\nnobody,books,10,USD\n")
    engines = {
        "spark": SparkEngine(spark, read_tables(spark, demo["folder"])),
        "duckdb": DuckDBEngine(demo["store"]),
    }
    wallets = {}
    for path in (good, bad):
        cfg = RunConfig.model_validate({"insight": {"category_spend": str(path)}})
        for name, engine in engines.items():
            shares = insight_stage(engine, scores, cfg, pd.Timestamp(DEMO_AS_OF), "USD")["shares"]
            wallets[path.name, name] = shares["wallet"]
    ours, duck = wallets["category_spend.csv", "spark"], wallets["category_spend.csv", "duckdb"]
    assert duck["available"] and duck["customers"] == 40 and duck["unit"] == "USD"
    assert_close(ours, duck, "wallet")
    refused = wallets["bad_spend.csv", "spark"]
    assert not refused["available"]
    assert refused["reason"].startswith("unavailable: the category-spend file 'bad_spend.csv' was refused: ")
    assert refused["reason"].endswith(
        "nothing was loaded: row 1, column 'customer_id': got 'nobody'; expected an existing customer_id "
        "(load customers first, or create stub customers for unknown ids)"
    )
    assert refused == wallets["bad_spend.csv", "duckdb"]


#: The columns that depend on the influence spread, whose reverse-reachable sets Spark draws on its executors
#: with other generators than the single-machine estimate (socialvalue.spark.graph.spread).
SAMPLED = ("spread", "spread_lower", "spread_upper", "influencer_score", "influencer")
_SPREAD_WORDS = re.compile(r"spread \d+ people")


def _flipped(ours, theirs) -> list[str]:
    a, b = (r.scores.set_index("customer_id").sort_index()["influencer"] for r in (ours, theirs))
    return list(a.index[(a != b).to_numpy()])


def _plan(actions: pd.DataFrame) -> pd.DataFrame:
    """The plan by customer, the spread's figure in the reasons replaced (it is sampled)."""
    return (
        actions.assign(reason=actions["reason"].str.replace(_SPREAD_WORDS, "spread # people", regex=True))
        .set_index("customer_id")
        .sort_index()
    )


def _from_intervals(scores: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Spread estimates and standard errors read back from the 95% intervals (width / 2 / 1.96)."""
    s = scores.set_index("customer_id").sort_index()
    return s["spread"].to_numpy(), (s["spread_upper"] - s["spread_lower"]).to_numpy() / (2 * 1.959964)


@pytest.mark.parametrize("name", RUNS)
def test_the_sampled_spread_agrees_within_its_intervals(request, name):
    """The two runs' spreads are two estimates of the same expected spread from independent samples.

    Tested simultaneously over the customers: each difference within z * sqrt(se_1^2 + se_2^2), z the
    Bonferroni quantile of a 99% family-wise level over the customers, the standard errors read back from the
    published 95% intervals (Clopper-Pearson, wider than normal ones: the test is conservative). The columns
    derived from the spread follow from each run's own estimate by the same definition: the influencer score
    is the mean percentile of influence value and spread among the scored customers, the flag its top share.
    """
    from scipy import stats

    run = request.getfixturevalue(name)
    ours, duck = run["spark"].scores, run["duckdb"].scores
    (a, se_a), (b, se_b) = _from_intervals(ours), _from_intervals(duck)
    z = stats.norm.ppf(1 - 0.01 / (2 * len(a)))
    assert np.all(np.abs(a - b) <= z * np.sqrt(se_a**2 + se_b**2) + 1e-12)
    spread = ours.set_index("customer_id").sort_index()
    assert np.all(spread["spread_lower"] <= spread["spread"]) and np.all(
        spread["spread"] <= spread["spread_upper"]
    )
    share = RunConfig().social.influencer_top_share
    for scores in (ours, duck):
        x = scores[["civ", "spread"]].fillna(0.0)
        score = x.rank(pct=True, method="average").mean(axis=1)
        np.testing.assert_allclose(scores["influencer_score"], score, rtol=0, atol=1e-12)
        expected = (score >= score.quantile(1 - share)) & (x.sum(axis=1) > 0)
        assert (scores["influencer"] == expected).all()
    # a handful of customers at the influencer cut may change sides; most influencers are the same
    flipped = _flipped(run["spark"], run["duckdb"])
    assert len(flipped) <= max(2, 0.2 * duck["influencer"].sum())


def test_the_run_record_is_written_beside_the_results(demo):
    ours, duck = demo["spark"], demo["duckdb"]
    record = json.loads((ours.output / "run.json").read_text(encoding="utf-8"))
    assert record["run_id"] == "spark" and record["as_of"] == DEMO_AS_OF
    assert record["engine"] == "spark" and record["master"].startswith("local")
    assert record["config_hash"] == RunConfig().digest() and record["config"]["run"]["unit"] == "W"
    assert set(record["timings"]) == {
        "features",
        "clv",
        "social",
        "segments",
        "actions",
        "insight",
        "write",
        "report",
    }
    assert record["fallbacks"] == duck.diagnostics["fallbacks"]
    assert_close(
        record["params"], json.loads(demo["store"].scalar("SELECT params_json FROM _runs")), "params"
    )
    # the input snapshot: rows and latest time of each table, as the store's snapshot says, and the files
    snap = json.loads(demo["store"].scalar("SELECT snapshot_json FROM _runs"))
    for kind in KINDS:
        entry = record["input"]["tables"][kind]
        assert entry["rows"] == snap[kind]["rows"] and entry["entry"] == f"{kind}.parquet", kind
        assert entry["max_time"] == snap[kind]["max_time"] and entry["bytes"] > 0, kind
    # nothing but the date's folder is left in the output (no temporary folder)
    assert sorted(p.name for p in (demo["root"] / "output").iterdir()) == [DEMO_AS_OF]
    assert sorted(p.name for p in ours.output.iterdir()) == [
        "actions.parquet",
        "models.json",
        "run.json",
        "scores.parquet",
    ]
    html = ours.report_path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "RFM segments" in html and "Data quality" in html


def test_a_refused_run_writes_nothing(spark, demo, tmp_path):
    with pytest.raises(ConfigError, match="is before the data"):
        run_pipeline(
            as_of="2001-01-01", engine="spark", input=demo["folder"], output=tmp_path / "o", spark=spark
        )
    assert not (tmp_path / "o").exists()
    with pytest.raises(ConfigError, match="not from a store"):
        run_pipeline(demo["store"], DEMO_AS_OF, engine="spark", input=demo["folder"], output=tmp_path)
    with pytest.raises(ConfigError, match="for engine='spark'"):
        run_pipeline(demo["store"], DEMO_AS_OF, output=tmp_path)
    with pytest.raises(ConfigError, match="engine must be one of"):
        run_pipeline(demo["store"], DEMO_AS_OF, engine="polars")


def test_currency_conversion_is_the_same_engine_view(spark, tmp_path):
    """Orders in two currencies, converted at the configured rates: the Spark view equals DuckDB's."""
    t = pa.timestamp("us")
    tables = {
        "customers": pa.table({"customer_id": ["a", "b"], "signup_at": pa.array([None, None], t)}),
        "orders": pa.table(
            {
                "order_id": ["1", "2", "3"],
                "customer_id": ["a", "b", "a"],
                "ordered_at": pa.array([pd.Timestamp(2025, 1, d) for d in (1, 2, 3)], t),
                "amount": pa.array(
                    [Decimal("10.0001"), Decimal("3.3333"), Decimal("7")], pa.decimal128(18, 4)
                ),
                "currency": ["EUR", "USD", "GBP"],
            }
        ),
    }
    folder = write_tables(tmp_path / "input", tables)
    money = Money(
        currency="USD", rates={"EUR": 1.1, "USD": 1.0, "GBP": 1.27}, counts={"EUR": 1, "USD": 1, "GBP": 1}
    )
    everything = Query("SELECT * FROM orders", order="order_id")
    with Store(tmp_path / "s.duckdb") as store:
        store.ingest("customers", folder / "customers.parquet")
        store.ingest("orders", folder / "orders.parquet")
        engine = SparkEngine(spark, read_tables(spark, folder))
        try:
            before = engine.table(everything)
            with converted_orders(engine, money), converted_orders(store, money):
                ours, theirs = engine.table(everything), DuckDBEngine(store).table(everything)
            # Spark's canonical tables leave out the store's ``extra`` column; every other column is equal
            assert theirs.select(ours.column_names).equals(ours)
            assert ours.column("currency").to_pylist() == ["USD"] * 3
            assert ours.column("amount").to_pylist() == [
                Decimal("11.0001"),
                Decimal("3.3333"),
                Decimal("8.8900"),
            ]
            assert engine.table(everything).equals(before)  # given back on exit
        finally:
            engine.release()


# -- the command line, end to end ---------------------------------------------------------------------------
def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "socialvalue.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def _error_lines(stderr: str) -> list[str]:
    """The ``error:`` paragraph of the CLI's standard error (Spark's own start-up lines left out)."""
    text = stderr[stderr.index("error:") :]
    return [_NOW.sub("and <now + 1 day> UTC", line) for line in text.strip().splitlines()]


def test_the_command_line_writes_the_parquet_files_and_the_run_record(cdnow_sample, tmp_path):
    """``socialvalue run --engine spark`` in its own process, on the CDNOW sample (a purchases-only shop)."""
    out = tmp_path / "results"
    done = _cli(
        "run",
        "--engine",
        "spark",
        "--input",
        str(cdnow_sample["folder"]),
        "--output",
        str(out),
        "--as-of",
        CDNOW_AS_OF,
        "--master",
        "local[2]",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert f"written to {out / CDNOW_AS_OF}" in done.stdout and "customers scored" in done.stdout
    scores = pq.read_table(out / CDNOW_AS_OF / "scores.parquet").to_pandas()
    assert_same_frame(scores, cdnow_sample["spark"].scores, "scores from the command line")
    record = json.loads((out / CDNOW_AS_OF / "run.json").read_text(encoding="utf-8"))
    assert record["engine"] == "spark" and record["master"] == "local[2]" and record["as_of"] == CDNOW_AS_OF


def test_a_bad_input_file_gives_the_ingest_error(tmp_path):
    """Orders with an unknown currency, a negative quantity and an unknown customer: ``socialvalue ingest``'s lines."""
    folder = write_tables(
        tmp_path / "input",
        {
            "customers": pa.table(
                {"customer_id": ["C1", "C2"], "signup_at": pa.array([None, None], pa.timestamp("us"))}
            ),
            "orders": pa.table(
                {
                    "order_id": ["o1", "o2", "o3"],
                    "customer_id": ["C1", "C2", "C9"],
                    "ordered_at": pa.array([pd.Timestamp("2025-01-01")] * 3, pa.timestamp("us")),
                    "amount": pa.array([Decimal(1), Decimal(2), Decimal(3)], pa.decimal128(18, 4)),
                    "currency": ["USD", "euro", "USD"],
                    "status": ["completed"] * 3,
                    "quantity": pa.array([1, -2, 1], pa.int32()),
                }
            ),
        },
    )
    store = tmp_path / "s.duckdb"
    assert _cli("init", str(store)).returncode == 0
    assert _cli("ingest", str(store), "customers", str(folder / "customers.parquet")).returncode == 0
    ingest = _cli("ingest", str(store), "orders", str(folder / "orders.parquet"))
    run = _cli(
        "run",
        "--engine",
        "spark",
        "--input",
        str(folder),
        "--output",
        str(tmp_path / "o"),
        "--as-of",
        "2025-06-01",
    )
    assert ingest.returncode == run.returncode == 3  # a SchemaError's exit code
    assert "Traceback" not in run.stderr and "Traceback" not in ingest.stderr
    # the same message; `ingest` adds a line on its own option (--stub-missing), which a run does not have
    ingest_lines = _error_lines(ingest.stderr)
    assert ingest_lines[-1] == "to create stub customers for unknown ids, add --stub-missing"
    assert _error_lines(run.stderr) == ingest_lines[:-1]
    assert "got 'EURO'" in run.stderr and "got 'C9'" in run.stderr and "got '-2'" in run.stderr
    assert not (tmp_path / "o").exists()


def test_without_java_one_line_says_how_to_install_it(tmp_path):
    folder = write_tables(
        tmp_path / "input",
        {"customers": pa.table({"customer_id": ["x"], "signup_at": pa.array([None], pa.timestamp("us"))})},
    )
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(Path(sys.executable).parent)  # the interpreter's folder: no java on it
    run = _cli(
        "run",
        "--engine",
        "spark",
        "--input",
        str(folder),
        "--output",
        str(tmp_path / "o"),
        "--as-of",
        "2025-06-01",
        env=env,
    )
    assert run.returncode == 4 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines() == [f"error: {JAVA_MISSING}"]


def test_the_folder_sink_replaces_a_date_whole_and_finds_the_earlier_one(tmp_path):
    """What the Spark run writes through: a date's folder appears complete or not at all."""
    sink = FolderSink(tmp_path / "out", {"input": {"path": "in"}, "quality": []}, master="local[2]")

    def record(as_of: str) -> dict:
        return {"run_id": as_of[:4], "as_of": dt.date.fromisoformat(as_of), "diagnostics": {"fallbacks": []}}

    def scores(stage: str) -> pd.DataFrame:
        return pd.DataFrame({"customer_id": ["a", "b"], "lifecycle_stage": [stage, "maturity"]})

    plan = pd.DataFrame({"customer_id": ["a"], "action": ["do_nothing"]})
    sink.write(record("2026-01-01"), scores("growth"), plan, {})
    sink.write(record("2026-02-01"), scores("decline"), plan, {})
    date, before = sink.previous(pd.Timestamp("2026-02-01"))
    assert date == "2026-01-01" and before["lifecycle_stage"].tolist() == ["growth", "maturity"]
    assert sink.previous(pd.Timestamp("2026-01-01")) is None
    # a failed write (a column Arrow cannot store) leaves the date's earlier folder whole, and no temporary one
    bad = scores("churned").assign(lifecycle_stage=[object(), object()])
    with pytest.raises(pa.ArrowInvalid):
        sink.write(record("2026-02-01"), bad, plan, {})
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["2026-01-01", "2026-02-01"]
    kept = pq.read_table(tmp_path / "out" / "2026-02-01" / "scores.parquet").to_pandas()
    assert kept["lifecycle_stage"].tolist() == ["decline", "maturity"]
    # a rerun of a date replaces its folder
    sink.write(record("2026-02-01"), scores("churned"), plan, {})
    rerun = pq.read_table(tmp_path / "out" / "2026-02-01" / "scores.parquet").to_pandas()
    assert rerun["lifecycle_stage"].tolist() == ["churned", "maturity"]
    assert json.loads((tmp_path / "out" / "2026-02-01" / "run.json").read_text())["master"] == "local[2]"
