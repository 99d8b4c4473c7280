"""``socialvalue run`` / ``score`` / ``report`` on a small demo store, and their errors."""

from __future__ import annotations

import pytest

from socialvalue.cli import main
from socialvalue.store import Store

AS_OF = "2026-07-01"


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli_run") / "demo"
    assert main(["demo", "--customers", "3000", "--seed", "3", "--out", str(out)]) == 0
    return out / "socialvalue.duckdb"


def test_run_writes_scores_actions_run_log_and_report(demo_store, tmp_path, capsys):
    report = tmp_path / "r.html"
    assert main(["run", str(demo_store), "--as-of", AS_OF, "--report", str(report)]) == 0
    cap = capsys.readouterr()
    out = cap.out + cap.err  # Rich writes progress and results to stderr
    assert "customers scored" in out and "report:" in out
    for stage in ("features", "clv", "social", "segments", "actions", "write", "report"):
        assert stage in out  # the per-stage timing table
    html = report.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "RFM segments" in html
    with Store(demo_store, read_only=True) as s:
        n_scores = s.scalar("SELECT count(*) FROM scores WHERE as_of = ?", [AS_OF])
        n_consented = s.scalar("SELECT count(*) FROM customers WHERE consent_profiling")
        n_runs = s.scalar("SELECT count(*) FROM _runs")
        n_actions = s.scalar("SELECT count(*) FROM actions WHERE as_of = ?", [AS_OF])
    assert 0 < n_scores <= n_consented and n_actions == n_scores and n_runs >= 1

    # `score` re-scores the same date without a report: rows are replaced, not stacked
    assert main(["score", str(demo_store), "--as-of", AS_OF]) == 0
    with Store(demo_store, read_only=True) as s:
        assert s.scalar("SELECT count(*) FROM scores WHERE as_of = ?", [AS_OF]) == n_scores
        assert s.scalar("SELECT count(*) FROM _runs") == n_runs + 1

    # `report` from the stored run, read-only
    again = tmp_path / "again.html"
    assert main(["report", str(demo_store), "--out", str(again)]) == 0
    assert again.stat().st_size > 100_000


def test_run_errors_are_one_paragraph_without_traceback(tmp_path, capsys):
    missing = tmp_path / "nope.duckdb"
    code = main(["run", str(missing), "--as-of", AS_OF])
    err = capsys.readouterr().err
    assert code != 0
    assert "does not exist" in err and "Traceback" not in err

    empty = tmp_path / "empty.duckdb"
    assert main(["init", str(empty)]) == 0
    capsys.readouterr()
    code = main(["report", str(empty), "--out", str(tmp_path / "x.html")])
    err = capsys.readouterr().err
    assert code != 0 and "no scored run" in err and "Traceback" not in err
    assert not (tmp_path / "x.html").exists()


def test_an_unforeseen_error_is_one_line_without_a_traceback(tmp_path, capsys):
    """A store file that is not a DuckDB database: whatever DuckDB raises, the user sees one line."""
    from socialvalue.cli import main

    bogus = tmp_path / "not_a_store.duckdb"
    bogus.write_bytes(b"this is not a database" * 100)
    code = main(["run", str(bogus), "--as-of", "2026-07-01"])
    cap = capsys.readouterr()
    assert code != 0
    assert "Traceback" not in cap.out + cap.err
    assert len(cap.err.strip().splitlines()) == 1 and cap.err.startswith("error:")


def test_report_and_export_refuse_unreadable_dates_in_one_line(tmp_path, capsys):
    from socialvalue import Store
    from socialvalue.cli import main

    Store(tmp_path / "s.duckdb").close()
    for cmd in (["report", "--out", str(tmp_path / "r.html")], ["export", "--out", str(tmp_path / "x")]):
        code = main([cmd[0], str(tmp_path / "s.duckdb"), "--as-of", "2026-13-01", *cmd[1:]])
        cap = capsys.readouterr()
        assert code == 4 and "Traceback" not in cap.err
        assert cap.err.strip() == "error: --as-of '2026-13-01' is not a real date: expected YYYY-MM-DD"


def test_export_holds_out_control_groups_and_says_why(demo_store, tmp_path, capsys):
    """Issue 19: the export holds out a control group per action, records it and prints how many and why;
    --config sets the share, --no-controls holds out nobody."""
    import json

    assert main(["run", str(demo_store), "--as-of", AS_OF]) == 0
    capsys.readouterr()
    conf = tmp_path / "sv.toml"
    conf.write_text("[experiment]\ncontrol_share = 0.25\nseed = 9\n", encoding="utf-8")
    assert (
        main(["export", str(demo_store), "--out", str(tmp_path / "e"), "-f", "csv", "--config", str(conf)])
        == 0
    )
    cap = capsys.readouterr()
    text = cap.out + cap.err
    doc = json.loads((tmp_path / "e" / f"experiment_{AS_OF.replace('-', '')}.json").read_text())
    assert doc["control_share"] == 0.25 and doc["seed"] == 9 and doc["window_days"] == 30
    for plan in doc["actions"]:
        assert f"control group of {plan['action']}: 25% held out" in " ".join(text.split())
    with Store(demo_store, read_only=True) as s:
        arms = s.query_df("SELECT arm, count(*) AS n FROM _assignments GROUP BY arm").set_index("arm")["n"]
    total = arms.sum()
    assert total == sum(p["n"] for p in doc["actions"])
    assert arms["control"] == sum(p["n_control"] for p in doc["actions"])
    assert abs(arms["control"] / total - 0.25) < 0.05

    assert main(["export", str(demo_store), "--out", str(tmp_path / "n"), "-f", "csv", "--no-controls"]) == 0
    assert not list((tmp_path / "n").glob("experiment_*.json"))
    assert "control group of" not in capsys.readouterr().err

    bad = tmp_path / "bad.toml"
    bad.write_text("[experiment]\ncontrol_share = 2\n", encoding="utf-8")
    assert main(["export", str(demo_store), "--out", str(tmp_path / "b"), "--config", str(bad)]) != 0
    err = capsys.readouterr().err
    assert "control_share" in err and "Traceback" not in err
