"""Per-customer scoring in batches: the same results as one call, memory bounded by a batch (issue 16)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from socialvalue.errors import ConfigError
from socialvalue.pipeline.batches import for_map_in_pandas, map_batches, map_record_batches


def _score(batch: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": batch["customer_id"].to_numpy(), "y": batch["x"].to_numpy() ** 2})


def _frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"customer_id": [f"c{i:05d}" for i in range(n)], "x": rng.normal(size=n)})


@pytest.mark.parametrize("rows", [1, 7, 100, 1000, 5000])
def test_batches_equal_one_call_in_order(rows):
    frame = _frame(1000)
    calls: list[int] = []

    def counted(batch: pd.DataFrame) -> pd.DataFrame:
        calls.append(len(batch))
        return _score(batch)

    got = map_batches(frame, counted, rows=rows)
    pd.testing.assert_frame_equal(got, _score(frame))
    assert max(calls) <= rows and sum(calls) == 1000
    assert len(calls) == -(-1000 // rows)


def test_zero_rows_per_batch_is_refused():
    with pytest.raises(ConfigError, match="at least one row"):
        map_batches(_frame(3), _score, rows=0)


def test_engine_record_batches_and_spark_form(tmp_path):
    from socialvalue import Store
    from socialvalue.engine import DuckDBEngine
    from socialvalue.features.definition import Query
    from socialvalue.store import arrow_to_pandas

    frame = _frame(2500)
    with Store(tmp_path / "s.duckdb") as store:
        store.con.register("src", frame)
        engine = DuckDBEngine(store)
        q = Query("SELECT customer_id, x FROM src ORDER BY customer_id")
        sizes = [b.num_rows for b in engine.batches(q, batch_size=1000)]
        got = map_record_batches(engine.batches(q, batch_size=1000), _score, to_pandas=arrow_to_pandas)
    assert sizes == [1000, 1000, 500]
    pd.testing.assert_frame_equal(got, _score(frame))
    spark_form = for_map_in_pandas(_score)
    parts = list(spark_form(iter([frame.iloc[:10], frame.iloc[10:]])))
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), _score(frame))


@pytest.mark.slow
def test_a_run_in_small_batches_gives_the_same_scores(tmp_path):
    from socialvalue import Store
    from socialvalue.demo import generate
    from socialvalue.pipeline import RunConfig, run_pipeline

    with Store(tmp_path / "d.duckdb") as store:
        generate(3000, seed=3).load_into(store)
        whole = run_pipeline(store, "2026-07-01").scores
        small = run_pipeline(
            store, "2026-07-01", RunConfig.model_validate({"run": {"batch_rows": 333}})
        ).scores
    assert len(whole) > 1000
    pd.testing.assert_frame_equal(small, whole, check_exact=False, rtol=1e-12)
