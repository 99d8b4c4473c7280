"""The stage progress bar: drawn with elapsed time on a terminal, nothing at all when captured."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from socialvalue.cli._progress import stage_progress


def test_progress_on_a_terminal_shows_stage_and_elapsed_time_then_vanishes():
    buf = io.StringIO()
    term = Console(file=buf, force_terminal=True, width=100, color_system=None)
    with stage_progress(["simulate", "load"], console=term, title="demo") as on_stage:
        with on_stage.stage("simulate"):
            on_stage._progress.refresh()  # draw once while the stage runs
        with on_stage.stage("load"):
            pass
    drawn = buf.getvalue()
    assert "demo: simulate" in drawn and "0:00:00" in drawn and "0/2" in drawn
    assert list(on_stage.timings) == ["simulate", "load"]
    assert all(t >= 0 for t in on_stage.timings.values())


def test_steps_of_a_long_stage_are_shown_without_counting_as_stages():
    """Issue 16: a long stage reports its steps through the runner ("social: influence graph")."""
    from socialvalue.pipeline.runner import Runner, StageSpec

    buf = io.StringIO()
    term = Console(file=buf, force_terminal=True, width=100, color_system=None)
    with stage_progress(["social"], console=term, title="run") as on_stage:
        runner = Runner([StageSpec("social")], on_stage)
        with runner.stage("social"):
            runner.step("influence graph")
            on_stage._progress.refresh()
    assert "run: social: influence graph" in buf.getvalue()
    assert list(on_stage.timings) == ["social"]  # a step is not a stage


def test_progress_draws_nothing_when_not_a_terminal():
    buf = io.StringIO()
    with stage_progress(3, console=Console(file=buf)) as on_stage:
        on_stage("a", "start")
        on_stage("a", "end")
    assert buf.getvalue() == "" and list(on_stage.timings) == ["a"]
    with pytest.raises(ValueError, match="unknown stage event 'done'"):
        on_stage("a", "done")


def test_a_failed_stage_is_not_counted_as_done():
    with pytest.raises(RuntimeError), stage_progress(1, console=Console(file=io.StringIO())) as on_stage:
        with on_stage.stage("x"):
            raise RuntimeError("boom")
    assert on_stage.timings == {}


def test_features_result_on_stdout(tmp_path, capsys):
    import pandas as pd

    from socialvalue import Store
    from socialvalue.cli import main

    db = tmp_path / "shop.duckdb"
    with Store(db) as s:
        s.ingest("customers", pd.DataFrame({"customer_id": ["a", "b"]}))
        s.ingest(
            "orders",
            pd.DataFrame(
                {
                    "order_id": ["1", "2"],
                    "customer_id": ["a", "b"],
                    "ordered_at": ["2024-01-05"] * 2,
                    "amount": [5, 7],
                }
            ),
        )
    parquet = tmp_path / "f.parquet"
    assert main(["features", str(db), "--as-of", "2024-07-01", "--out", str(parquet)]) == 0
    res = capsys.readouterr()
    assert res.err == ""
    assert res.out.startswith("built features_20240701: 2 customers x ")
    assert res.out.rstrip().endswith(f"written to {parquet}")
    assert parquet.is_file()
