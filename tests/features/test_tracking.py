"""The repeat-purchase tracking series aggregated in SQL (issue 16, part 3): the same times as row by row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from socialvalue import Store
from socialvalue.demo import generate
from socialvalue.engine import DuckDBEngine
from socialvalue.features.tracking import repeat_days_query
from socialvalue.models.btyd import BetaGeo
from socialvalue.models.btyd.diagnostics import tracking
from socialvalue.pipeline.stage_clv import _repeat_times

CAL_END, END = pd.Timestamp("2026-01-01"), pd.Timestamp("2026-07-01")


@pytest.fixture(scope="module")
def demo_store():
    with Store(":memory:") as store:
        generate(5000, seed=7).load_into(store)
        yield store


def _row_by_row(store, calibration_end, end, unit_days):
    """The series as it was computed before issue 16: one Python tuple per customer and purchase day."""
    rows = store.con.execute(
        """
        WITH days AS (
            SELECT DISTINCT o.customer_id, date_trunc('day', o.ordered_at) AS d
            FROM orders o JOIN customers c USING (customer_id)
            WHERE o.status = 'completed' AND o.amount > 0 AND o.ordered_at < ? AND c.consent_profiling
        ), firsts AS (SELECT customer_id, min(d) AS first_d FROM days GROUP BY customer_id HAVING min(d) < ?)
        SELECT f.customer_id, epoch(f.first_d) AS first_s, epoch(d.d) AS day_s
        FROM days d JOIN firsts f USING (customer_id)
        """,
        [end.to_pydatetime(), calibration_end.to_pydatetime()],
    ).fetchall()
    arr = np.array([(r[1], r[2]) for r in rows], dtype=float)
    origin = arr[:, 0].min()
    scale = unit_days * 86400.0
    firsts = np.unique(np.array([r[0] for r in rows]), return_index=True)[1]
    first_t = (arr[firsts, 0] - origin) / scale
    repeat = arr[arr[:, 1] > arr[:, 0], 1]
    return first_t, (repeat - origin) / scale, (calibration_end.timestamp() - origin) / scale


@pytest.mark.parametrize("unit_days", [7.0, 1.0])
def test_repeat_times_equal_the_row_by_row_series(demo_store, unit_days):
    first_ref, repeat_ref, split_ref = _row_by_row(demo_store, CAL_END, END, unit_days)
    first_t, repeat_t, split = _repeat_times(demo_store, CAL_END, END, unit_days)
    assert split == split_ref
    np.testing.assert_array_equal(np.sort(first_t), np.sort(first_ref))
    np.testing.assert_array_equal(repeat_t, np.sort(repeat_ref))  # the engine's series is in day order
    model = BetaGeo().fit(
        pd.DataFrame(
            {"frequency": [1.0, 2, 0, 5, 3], "recency": [3.0, 10, 0, 20, 8], "T": [30.0, 40, 25, 50, 30]}
        )
    )
    times = np.arange(1, int(split + 26) + 1, dtype=float)
    pd.testing.assert_frame_equal(
        tracking(model, first_t, repeat_t, times),
        tracking(model, first_ref, repeat_ref, times),
        check_exact=True,
    )


def test_one_row_per_day_in_day_order(demo_store):
    days = DuckDBEngine(demo_store).table(repeat_days_query(CAL_END, END))
    assert days.column_names == ["day_s", "n_first", "n_repeat"]
    day_s = days.column("day_s").to_numpy()
    assert np.all(np.diff(day_s) > 0) and np.all(day_s % 86400 == 0)
    counts = days.select(["n_first", "n_repeat"]).to_pandas()
    assert ((counts["n_first"] > 0) | (counts["n_repeat"] > 0)).all()
    assert not (counts["n_first"].to_numpy() * (day_s >= CAL_END.timestamp())).any()  # firsts before cal end


def test_no_cohort_gives_empty_times(demo_store):
    first_t, repeat_t, split = _repeat_times(demo_store, pd.Timestamp("2000-01-01"), END, 7.0)
    assert first_t.size == 0 and repeat_t.size == 0 and split == 0.0
