"""``socialvalue score STORE --models RUN_ID --as-of DATE`` (issue 15): exit codes and one-line messages."""

from __future__ import annotations

import json

import pytest

from socialvalue.cli import main
from socialvalue.store import Store

pytestmark = pytest.mark.slow

FIT_AS_OF = "2026-04-01"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A 3,000-customer demo store with one run as of FIT_AS_OF (its models stored)."""
    out = tmp_path_factory.mktemp("cli_score") / "demo"
    assert main(["demo", "--customers", "3000", "--seed", "3", "--out", str(out)]) == 0
    path = out / "socialvalue.duckdb"
    assert main(["run", str(path), "--as-of", FIT_AS_OF]) == 0
    with Store(path, read_only=True) as s:
        run_id = s.scalar("SELECT run_id FROM _runs ORDER BY started_at DESC LIMIT 1")
    return path, run_id


def _error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


def test_score_with_stored_models_writes_the_new_date_and_names_the_origin(demo, capsys):
    path, run_id = demo
    capsys.readouterr()
    assert main(["score", str(path), "--models", run_id, "--as-of", "2026-06-01"]) == 0
    out = capsys.readouterr().out
    assert f"scored with models fitted on {FIT_AS_OF} (run {run_id}); nothing refitted" in out
    assert "customers scored as of 2026-06-01" in out and f"models_from {run_id}" in out
    with Store(path, read_only=True) as s:
        row = s.query_df("SELECT * FROM _runs ORDER BY started_at DESC LIMIT 1").iloc[0]
        n_scores = s.scalar("SELECT count(*) FROM scores WHERE as_of = DATE '2026-06-01'")
        n_actions = s.scalar("SELECT count(*) FROM actions WHERE as_of = DATE '2026-06-01'")
        new_models = s.scalar("SELECT count(*) FROM _models WHERE run_id = ?", [row["run_id"]])
    assert row["models_from"] == run_id and row["run_id"] != run_id
    assert json.loads(row["diagnostics_json"])["models_from"]["as_of"] == FIT_AS_OF
    assert n_scores > 2000 and n_actions == n_scores and new_models == 0


def test_score_errors_are_one_line_with_exit_codes(demo, tmp_path, capsys):
    path, run_id = demo
    capsys.readouterr()
    assert main(["score", str(path), "--models", "nope", "--as-of", "2026-06-01"]) == 4
    line = _error_line(capsys.readouterr().err)
    assert "no such run" in line and f"{run_id} ({FIT_AS_OF})" in line
    assert main(["score", str(path), "--models", run_id, "--as-of", "2026-03-01"]) == 4
    assert f"before the models' date {FIT_AS_OF}" in _error_line(capsys.readouterr().err)
    config = tmp_path / "days.toml"
    config.write_text('[run]\nunit = "D"\n', encoding="utf-8")
    code = main(["score", str(path), "--models", run_id, "--as-of", "2026-06-01", "--config", str(config)])
    assert code == 4
    assert "unit = 'W' (weeks) but the configuration has unit = 'D' (days)" in _error_line(
        capsys.readouterr().err
    )
    assert main(["score", str(tmp_path / "missing.duckdb"), "--models", run_id, "--as-of", "2026-06-01"]) == 2
    assert "does not exist" in _error_line(capsys.readouterr().err)


def test_a_run_from_before_saved_models_is_refused_with_the_fix(demo, tmp_path, capsys):
    import shutil

    path, _ = demo
    copy = tmp_path / "old.duckdb"
    shutil.copyfile(path, copy)
    with Store(copy) as s:  # a store whose runs predate saved models: no _models table
        s.con.execute("DROP TABLE _models")
        run_id = s.scalar("SELECT run_id FROM _runs ORDER BY started_at LIMIT 1")
    capsys.readouterr()
    assert main(["score", str(copy), "--models", run_id, "--as-of", "2026-06-01"]) == 2
    line = _error_line(capsys.readouterr().err)
    assert "recorded before runs stored their models" in line and "re-run `socialvalue run" in line
    assert main(["score", str(copy), "--models", "latest", "--as-of", "2026-06-01"]) == 2
    assert "no run of store" in _error_line(capsys.readouterr().err)
