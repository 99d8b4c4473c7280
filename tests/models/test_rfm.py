"""RFM scores, cells, segments and the segment summary (socialvalue.models.rfm)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from socialvalue.config import load_toml
from socialvalue.errors import ConfigError, SchemaError
from socialvalue.models._ranks import midrank_percentile, quantile_scores
from socialvalue.models.rfm import (
    RFMConfig,
    ScoreBins,
    SegmentMap,
    assign_segments,
    load_segment_map,
    rfm_scores,
    rfm_segments,
    segment_summary,
)


@pytest.fixture
def small() -> pd.DataFrame:
    # Hand-checked below: five purchasers, one customer who never bought.
    return pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e", "f"],
            "days_since_last_purchase": [10.0, 200.0, 50.0, 400.0, 100.0, np.nan],
            "n_orders": [5, 1, 3, 2, 1, 0],
            "total_spend": [500.0, 20.0, 300.0, 100.0, 20.0, 0.0],
        }
    )


def test_scores_match_hand_checked_table(small):
    """Five purchasers, 5 bins: score = max(1, ceil(5 (rank - 1) / 4)); b and e tie on F and M.

    Tied average rank 1.5 gives ceil(5 * 0.5 / 4) = 1 to both; R is reversed (fewer days = higher score);
    FM = ceil((F + M) / 2); f never bought: 0, "000", "No purchase".
    """
    before = small.copy()
    out = rfm_segments(small)
    pd.testing.assert_frame_equal(small, before)  # the caller's frame is untouched
    assert out["r_score"].tolist() == [5, 2, 4, 1, 3, 0]
    assert out["f_score"].tolist() == [5, 1, 4, 3, 1, 0]
    assert out["m_score"].tolist() == [5, 1, 4, 3, 1, 0]
    assert out["fm_score"].tolist() == [5, 1, 4, 3, 1, 0]
    assert out["rfm_cell"].tolist() == ["555", "211", "444", "133", "311", "000"]
    assert out["rfm_segment"].tolist() == [
        "Champions",
        "About to sleep",
        "Champions",
        "At risk",
        "About to sleep",
        "No purchase",
    ]
    assert out["has_purchase"].tolist() == [True] * 5 + [False]


def test_ties_first_breaks_by_customer_id(small):
    out = rfm_scores(small.iloc[::-1], config=RFMConfig(ties="first"))  # row order must not matter
    by_id = out.set_index("customer_id")
    assert by_id.loc[["b", "e", "d", "c", "a"], "f_score"].tolist() == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("n", [1, 2, 5, 7, 10, 23, 101, 1000])
@pytest.mark.parametrize("bins", [3, 5, 7])
def test_distinct_values_equal_qcut_of_rank_first(n, bins):
    """The documented convention: pd.qcut(s.rank(method='first'), bins, labels=False) + 1."""
    x = np.random.default_rng(n * bins).permutation(n).astype(float) * 1.5
    if n < bins:  # qcut cannot make more bins than values; our score still spreads them
        assert quantile_scores(x, bins).min() >= 1
        return
    expected = pd.qcut(pd.Series(x).rank(method="first"), bins, labels=False) + 1
    assert quantile_scores(x, bins).tolist() == expected.tolist()
    assert quantile_scores(x, bins, ties="first").tolist() == expected.tolist()


def test_ties_first_equals_qcut_on_frame_sorted_by_id():
    rng = np.random.default_rng(3)
    ids = np.array([f"id{i:04d}" for i in rng.permutation(500)], dtype=object)
    x = rng.integers(0, 6, 500).astype(float)  # heavy ties
    frame = pd.DataFrame({"id": ids, "x": x}).sort_values("id")
    expected = pd.qcut(frame["x"].rank(method="first"), 5, labels=False) + 1
    got = pd.Series(quantile_scores(x, 5, ties="first", tiebreak=ids), index=range(500))
    assert got.loc[frame.index].tolist() == expected.tolist()


def test_ties_average_gives_equal_inputs_equal_scores():
    x = np.array([1, 1, 1, 1, 2, 3, 4, 5, 6, 7], dtype=float)
    s = quantile_scores(x, 5)
    assert len(set(s[:4])) == 1
    assert s.tolist() == [1, 1, 1, 1, 3, 3, 4, 4, 5, 5]


def test_constant_column_gets_middle_score():
    assert set(quantile_scores(np.full(50, 3.0), 5)) == {3}
    assert set(quantile_scores(np.full(50, 3.0), 4)) == {2}
    assert quantile_scores(np.array([7.0]), 5).tolist() == [3]


def test_fixed_thresholds():
    """Edges are lower-inclusive: 30 days is in the [30, 90) bin, which for recency scores 4."""
    cfg = RFMConfig(
        recency=ScoreBins(thresholds=(30, 90, 180, 365)),
        frequency=ScoreBins(thresholds=(2, 5)),
        monetary=ScoreBins(thresholds=(100,)),
    )
    frame = pd.DataFrame(
        {
            "customer_id": list("abcde"),
            "days_since_last_purchase": [10, 30, 100, 364, 365],
            "n_orders": [1, 2, 4, 5, 9],
            "total_spend": [99.0, 100.0, 5.0, 1000.0, 0.0],
        }
    )
    out = rfm_scores(frame, config=cfg)
    assert out["r_score"].tolist() == [5, 4, 3, 2, 1]
    assert out["f_score"].tolist() == [1, 2, 2, 3, 3]
    assert out["m_score"].tolist() == [1, 2, 1, 2, 1]


def test_threshold_validation():
    with pytest.raises(ValueError, match="strictly increasing"):
        ScoreBins(thresholds=(10, 5))


def test_custom_column_names(small):
    renamed = small.rename(
        columns={"days_since_last_purchase": "rec", "total_spend": "m", "customer_id": "id"}
    )
    out = rfm_scores(renamed, recency="rec", monetary="m", customer_id="id")
    assert out["rfm_cell"].tolist() == ["555", "211", "444", "133", "311", "000"]
    with pytest.raises(
        SchemaError, match=r"rfm_scores needs column\(s\) 'days_since_last_purchase', 'total_spend'"
    ):
        rfm_scores(renamed.rename(columns={"id": "customer_id"}))


def test_default_map_covers_grid_and_names():
    m = load_segment_map()
    assert m.uncovered_cells() == []
    assert m.names == [
        "Champions",
        "Need attention",
        "Loyal",
        "Potential loyalist",
        "New",
        "Promising",
        "About to sleep",
        "Can't lose them",
        "At risk",
        "Hibernating",
        "Lost",
        "No purchase",
    ]


def test_segment_map_unknown_key_message(tmp_path):
    path = tmp_path / "map.toml"
    path.write_text('[[segments]]\nname = "All"\nr = [1, 5]\ncolour = "red"\n')
    expected = (
        f"invalid configuration in {path}: segments.0.colour: Extra inputs are not permitted (got 'red')"
    )
    with pytest.raises(ConfigError, match=f"^{re.escape(expected)}$"):
        load_toml(path, SegmentMap)


def test_segment_map_bad_range_message():
    with pytest.raises(ValueError, match=re.escape("range [4, 2] must be [low, high] with 1 <= low <= high")):
        SegmentMap(segments=[{"name": "X", "r": [4, 2]}])


def test_segment_map_uncovered_cells_message(small):
    # r = 1 is covered only where FM = ceil((f + m) / 2) >= 4, i.e. f + m >= 7.
    m = SegmentMap(segments=[{"name": "Recent", "r": [2, 5]}, {"name": "Old big", "r": [1, 1], "fm": [4, 5]}])
    expected = (
        "segment map does not cover 15 of 125 RFM cells (r f m): "
        "111, 112, 113, 114, 115, 121, 122, 123, 124, 131, 132, 133, 141, 142, 151"
    )
    with pytest.raises(ConfigError, match=f"^{re.escape(expected)}$"):
        m.check_coverage()
    with pytest.raises(ConfigError, match="does not cover 15 of 125"):
        assign_segments(rfm_scores(small), m)


def test_segment_map_uncovered_list_is_capped():
    m = SegmentMap(segments=[{"name": "Recent", "r": [2, 5]}])
    assert len(m.uncovered_cells()) == 25
    with pytest.raises(
        ConfigError, match=re.escape("cover 25 of 125 RFM cells (r f m): 111, ") + r".*, 145, \.\.\.$"
    ):
        m.check_coverage()
    assert m.uncovered_cells(n_r=2, n_f=2, n_m=1) == ["111", "121"]


def test_segment_map_needs_a_rule():
    with pytest.raises(ValueError, match="a segment map needs at least one rule"):
        SegmentMap(segments=[])


def test_user_map_first_match_wins(small):
    m = SegmentMap(
        no_purchase="Prospect",
        segments=[
            {"name": "Best", "r": [4, 5], "f": [4, 5]},
            {"name": "Recent", "r": [4, 5]},
            {"name": "Rest"},
        ],
    )
    out = rfm_segments(small, segment_map=m)
    assert out["rfm_segment"].tolist() == ["Best", "Rest", "Best", "Rest", "Rest", "Prospect"]


def test_segment_summary(small):
    seg = rfm_segments(small).join(small[["total_spend"]])
    clv = np.array([100.0, 10.0, 50.0, 5.0, 1.0, 0.0])
    out = segment_summary(seg, clv=clv)
    assert out.index[0] == "Champions" and out.index[-1] == "No purchase"
    assert out.loc["Champions", "customers"] == 2
    assert out.loc["Champions", "revenue_share"] == pytest.approx(800 / 940)
    assert out.loc["About to sleep", "mean_clv"] == pytest.approx(5.5)
    assert out["revenue_share"].sum() == pytest.approx(1.0)
    assert out["customer_share"].sum() == pytest.approx(1.0)
    assert out.loc["Lost", "customers"] == 0


def test_midrank_percentile():
    assert midrank_percentile(np.array([3.0, 1.0, 2.0, np.nan])).tolist()[:3] == pytest.approx(
        [5 / 6, 1 / 6, 0.5]
    )
    assert np.isnan(midrank_percentile(np.array([np.nan]))[0])


@pytest.mark.shared_data
def test_cdnow_calibration_ties(shared_data):
    """CDNOW calibration summary (Fader, Hardie & Lee 2005): most customers never bought again (x = 0).

    With ties="average" all one-time buyers share one F score, that of their average rank; with ties="first"
    the scores equal pandas' qcut of rank(method="first") on the frame sorted by customer id.
    """
    cd = pd.read_csv(shared_data / "cdnow" / "cdnow_summary_calibration.csv")
    frame = pd.DataFrame(
        {
            "customer_id": cd["ID"].astype(str).str.zfill(5),
            "days_since_last_purchase": ((cd["T"] - cd["t_x"]) * 7).round(),
            "n_orders": cd["x"] + 1,
            "total_spend": (cd["x"] * cd["zbar"]).round(2),
        }
    )
    n, n0 = len(frame), int((cd["x"] == 0).sum())
    out = rfm_segments(frame)
    one_timers = out.loc[cd["x"] == 0, "f_score"]
    assert one_timers.nunique() == 1
    assert one_timers.iloc[0] == max(1, int(np.ceil(5 * ((n0 + 1) / 2 - 1) / (n - 1))))
    first = rfm_scores(frame, config=RFMConfig(ties="first"))
    for col, score in (("n_orders", "f_score"), ("total_spend", "m_score")):
        expected = pd.qcut(frame[col].rank(method="first"), 5, labels=False) + 1
        assert first[score].tolist() == expected.tolist()  # frame is already sorted by customer id
    summary = segment_summary(out.join(frame[["total_spend"]]))
    assert summary["customers"].sum() == n and summary.loc["No purchase", "customers"] == 0
    assert summary["revenue_share"].sum() == pytest.approx(1.0)
