import subprocess
import sys

import pandas as pd
import pytest

from socialvalue import Store
from socialvalue.demo import generate
from socialvalue.errors import ConfigError, StoreError
from socialvalue.exports import export_results
from socialvalue.pipeline import run_pipeline

KEY = "a test key that is long enough"


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    path = tmp_path_factory.mktemp("exports") / "s.duckdb"
    with Store(path) as store:
        generate(1500, seed=11).load_into(store)
        run_pipeline(store, "2026-07-01")
    return path


def test_export_writes_scores_actions_and_audiences(scored, tmp_path):
    with Store(scored) as store:
        written = export_results(store, tmp_path / "out")
        n_scores = store.scalar("SELECT count(*) FROM scores")
        planned = store.query_df(
            "SELECT action, count(*) AS n FROM actions WHERE action <> 'do_nothing' GROUP BY 1"
        )
    scores = pd.read_parquet(written["scores"][0])
    assert len(scores) == n_scores
    assert len(pd.read_csv(written["scores"][1])) == n_scores
    names = {p.stem.rsplit("_", 1)[0] for p in written["audiences"]}
    assert names == set(planned["action"])
    for p in written["audiences"]:
        aud = pd.read_csv(p)
        assert list(aud.columns[:3]) == ["customer_id", "action", "label"]
        assert aud["net_value"].is_monotonic_decreasing


def test_pseudonymized_export_is_stable_and_hides_ids(scored, tmp_path):
    with Store(scored) as store:
        a = export_results(store, tmp_path / "a", formats=("parquet",), pseudonymize=True, key=KEY)
        b = export_results(store, tmp_path / "b", formats=("parquet",), pseudonymize=True, key=KEY)
        c = export_results(store, tmp_path / "c", formats=("parquet",), pseudonymize=True, key=KEY + "!")
        raw = set(store.query_df("SELECT customer_id FROM scores")["customer_id"])
    sa, sb, sc = (pd.read_parquet(x["scores"][0]) for x in (a, b, c))
    assert sa["customer_id"].tolist() == sb["customer_id"].tolist()
    assert not set(sa["customer_id"]) & raw
    assert not set(sa["customer_id"]) & set(sc["customer_id"])
    assert sa["customer_id"].str.fullmatch(r"[0-9a-f]{16}").all()


def test_erasure_reaches_scores_actions_and_written_exports(scored, tmp_path):
    with Store(scored) as store:
        written = export_results(store, tmp_path / "p", pseudonymize=False)
        victim = str(store.scalar("SELECT min(customer_id) FROM scores"))
        report = store.erase(victim)
        assert report.export_files_purged >= 2
        assert store.scalar("SELECT count(*) FROM scores WHERE customer_id = ?", [victim]) == 0
        assert store.scalar("SELECT count(*) FROM actions WHERE customer_id = ?", [victim]) == 0
    for p in written["scores"]:
        frame = pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p)
        assert victim not in set(frame["customer_id"])


def test_bad_format_and_unscored_store(tmp_path, scored):
    with (
        Store(scored) as store,
        pytest.raises(ConfigError, match="export formats must be 'csv' and/or 'parquet'"),
    ):
        export_results(store, tmp_path, formats=("xlsx",))
    with Store(tmp_path / "empty.duckdb") as empty, pytest.raises(StoreError, match="has no scores yet"):
        export_results(empty, tmp_path)


def test_cli_run_report_export_end_to_end(scored, tmp_path):
    exe = [sys.executable, "-m", "socialvalue.cli"]
    out = subprocess.run(
        [*exe, "report", str(scored), "--out", str(tmp_path / "r.html")], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "r.html").stat().st_size > 1_000_000
    out = subprocess.run(
        [*exe, "export", str(scored), "--out", str(tmp_path / "x"), "--format", "csv", "--pseudonymize"],
        capture_output=True,
        text=True,
        env={"SOCIALVALUE_PSEUDONYM_KEY": KEY, "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    assert "audience lists" in out.stdout  # results on stdout, diagnostics on stderr
    bad = subprocess.run(
        [*exe, "run", str(tmp_path / "nope.duckdb"), "--as-of", "2026-07-01"], capture_output=True, text=True
    )
    assert bad.returncode == 2
    assert "does not exist" in bad.stderr and "Traceback" not in bad.stderr
