"""The stage runner: declared columns, release of what no later stage reads, progress steps (issue 16)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from socialvalue.features.registry import FeatureConfig, registry
from socialvalue.pipeline import run as run_module
from socialvalue.pipeline.runner import Runner, StageSpec


def _specs() -> tuple[StageSpec, ...]:
    return (
        StageSpec("a", features=("x", "y"), holdout=("h",), writes=("A",)),
        StageSpec("b", features=("y",), reads=("A",), writes=("B",)),
        StageSpec("c", features=("z",), reads=("B",), writes=("C",), uses_calibration=False),
    )


def test_columns_are_the_union_of_what_later_stages_read():
    runner = Runner(_specs())
    assert runner.columns("features") == ["customer_id", "x", "y", "z"]
    # the calibration table adds the holdout targets, and stage c never reads it
    assert runner.columns("features_cal") == ["customer_id", "x", "y", "h"]
    assert runner.columns("features", after=0) == ["customer_id", "y", "z"]
    assert runner.columns("features_cal", after=1) == ["customer_id"]


def test_release_drops_columns_and_artifacts_no_later_stage_reads():
    runner = Runner(_specs(), keep=("C",))
    frame = pd.DataFrame({"customer_id": ["a"], "x": [1.0], "y": [2.0], "z": [3.0]})
    cal = frame.assign(h=1.0)
    art = {"features": frame, "features_cal": cal, "A": object()}
    runner.release(art, "a")
    assert list(art["features"].columns) == ["customer_id", "y", "z"]
    assert list(art["features_cal"].columns) == ["customer_id", "y"]
    assert "A" in art  # b reads it
    art["B"] = object()
    runner.release(art, "b")
    assert "A" not in art and "features_cal" not in art  # nobody reads them after b
    art["C"] = object()
    runner.release(art, "c")
    assert set(art) == {"C"}  # kept: the run's result


def test_stage_times_and_reports_steps():
    events: list[tuple[str, str]] = []
    runner = Runner(_specs(), lambda name, event: events.append((name, event)))
    with runner.stage("a"):
        runner.step("reading")
    assert events == [("a", "start"), ("a: reading", "step"), ("a", "end")]
    assert runner.timings["a"] >= 0.0 and runner.memory["a"] > 0.0


def test_every_declared_column_is_a_feature_the_engine_defines():
    """A stage may only declare columns the feature registry computes (else the engine would refuse)."""
    plain = {f.name for f in registry(FeatureConfig(), holdout=False)}
    with_holdout = {f.name for f in registry(FeatureConfig(), holdout=True)}
    for spec in run_module.SPECS:
        assert set(spec.features) <= plain, (spec.name, set(spec.features) - plain)
        assert set(spec.holdout) <= with_holdout - plain, spec.name


@pytest.mark.slow
def test_declared_columns_give_the_scores_of_full_width_tables(tmp_path, monkeypatch):
    """The stages read only what they declare: a run on the declared columns equals a run on every column."""
    from socialvalue import Store
    from socialvalue.demo import generate
    from socialvalue.pipeline import run_pipeline

    plain = tuple(f.name for f in registry(FeatureConfig(), holdout=False))
    holdout = tuple(f.name for f in registry(FeatureConfig(), holdout=True) if f.name not in plain)
    with Store(tmp_path / "d.duckdb") as store:
        generate(3000, seed=11).load_into(store)
        pruned = run_pipeline(store, "2026-07-01").scores
        wide = tuple(dataclasses.replace(s, features=plain, holdout=holdout) for s in run_module.SPECS)
        monkeypatch.setattr(run_module, "SPECS", wide)
        full = run_pipeline(store, "2026-07-01").scores
    assert len(pruned) == len(full) > 1000
    pd.testing.assert_index_equal(pruned.columns, full.columns)
    for col in full.columns:
        a, b = pruned[col], full[col]
        if pd.api.types.is_float_dtype(a):
            np.testing.assert_allclose(
                a.to_numpy(float), b.to_numpy(float), rtol=1e-9, atol=1e-12, err_msg=col
            )
        else:
            assert (a.astype(str) == b.astype(str)).all(), col
