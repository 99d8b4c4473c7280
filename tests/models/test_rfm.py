"""RFM scores, cells, segments and the segment summary (socialvalue.models.rfm)."""

from __future__ import annotations

import itertools
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
    dense_scores,
    load_rfm_config,
    load_segment_map,
    rfm_scores,
    rfm_segments,
    segment_summary,
)
from socialvalue.models.scoring import load_scoring_config


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
    """Five purchasers, 5 bins: R, M score = max(1, ceil(5 (rank - 1) / 4)); b and e tie on F and M.

    M: tied average rank 1.5 gives ceil(5 * 0.5 / 4) = 1 to both; R is reversed (fewer days = higher score).
    F is dense: 1 order (b, e) is level 1, then re-anchored over levels 2..5 for the 3 customers above:
    2 orders -> 2, 3 -> 3, level 4 empty (4 distinct counts for 5 levels), 5 orders -> 5.
    FM = ceil((F + M) / 2); f never bought: 0, "000", "No purchase".
    """
    before = small.copy()
    out = rfm_segments(small)
    pd.testing.assert_frame_equal(small, before)  # the caller's frame is untouched
    assert out["r_score"].tolist() == [5, 2, 4, 1, 3, 0]
    assert out["f_score"].tolist() == [5, 1, 3, 2, 1, 0]
    assert out["m_score"].tolist() == [5, 1, 4, 3, 1, 0]
    assert out["fm_score"].tolist() == [5, 1, 4, 3, 1, 0]
    assert out["rfm_cell"].tolist() == ["555", "211", "434", "123", "311", "000"]
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
    cfg = RFMConfig(ties="first", frequency=ScoreBins(method="quantile"))
    out = rfm_scores(small.iloc[::-1], config=cfg)  # row order must not matter
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
    assert out["rfm_cell"].tolist() == ["555", "211", "434", "123", "311", "000"]
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
    assert out["rfm_segment"].tolist() == ["Best", "Rest", "Recent", "Rest", "Rest", "Prospect"]


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

    With the default dense F every one-time buyer scores F = 1 and every level 1..5 is used (quantiles with
    averaged ties gave them all F = 2 and nobody F = 1); with the quantile method and ties="first" the scores
    equal pandas' qcut of rank(method="first") on the frame sorted by customer id.
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
    assert one_timers.nunique() == 1 and one_timers.iloc[0] == 1
    assert max(1, int(np.ceil(5 * ((n0 + 1) / 2 - 1) / (n - 1)))) == 2  # what averaged ties gave them
    assert sorted(out["f_score"].unique()) == [1, 2, 3, 4, 5]
    assert (out.loc[cd["x"] == 1, "f_score"] == 2).all()
    first = rfm_scores(frame, config=RFMConfig(ties="first", frequency=ScoreBins(method="quantile")))
    for col, score in (("n_orders", "f_score"), ("total_spend", "m_score")):
        expected = pd.qcut(frame[col].rank(method="first"), 5, labels=False) + 1
        assert first[score].tolist() == expected.tolist()  # frame is already sorted by customer id
    summary = segment_summary(out.join(frame[["total_spend"]]))
    assert summary["customers"].sum() == n and summary.loc["No purchase", "customers"] == 0
    assert summary["revenue_share"].sum() == pytest.approx(1.0)


# --- dense scoring of low-cardinality counts (F): every level reachable ---------------------------------


@pytest.mark.parametrize("n", [2, 5, 7, 10, 23, 101, 1000])
@pytest.mark.parametrize("bins", [3, 5, 7])
def test_dense_equals_quantile_on_distinct_values(n, bins):
    """Without ties "dense" is exactly the quantile convention (pd.qcut of rank(method='first') + 1)."""
    x = np.random.default_rng(n + bins).permutation(n).astype(float)
    assert dense_scores(x, bins).tolist() == quantile_scores(x, bins).tolist()
    assert dense_scores(x, bins, higher_is_better=False).tolist() == (
        quantile_scores(x, bins, higher_is_better=False).tolist()
    )


def test_dense_order_counts_hand_checked():
    """60% one-order customers: all F = 1 (averaged ties gave them 2, nobody 1 or 3), then 2 -> 2, 3 -> 3 ...

    n = 20, 12 ones: level 1 should end at position floor(19 / 5) + 1 = 4, inside the ones, so the ones are
    level 1 and the 8 customers above are spread over levels 2..5 by their own quantiles, 2 each.
    """
    x = np.array([1] * 12 + [2, 2, 3, 3, 4, 5, 8, 13], dtype=float)
    assert dense_scores(x, 5).tolist() == [1] * 12 + [2, 2, 3, 3, 4, 4, 5, 5]
    assert quantile_scores(x, 5).tolist() == [2] * 12 + [4, 4, 4, 4, 5, 5, 5, 5]  # no 1, no 3
    assert dense_scores(x[::-1], 5).tolist() == dense_scores(x, 5).tolist()[::-1]  # order-free


def test_dense_fewer_distinct_values_than_levels():
    """Four distinct counts on five levels: one level stays empty, the largest count still scores 5."""
    assert dense_scores(np.array([1, 1, 2, 3, 5.0]), 5).tolist() == [1, 1, 2, 3, 5]
    assert dense_scores(np.full(40, 2.0), 5).tolist() == [1] * 40  # one value: the lowest level
    assert dense_scores(np.array([4.0]), 5).tolist() == [1]
    assert dense_scores(np.array([]), 5).tolist() == []


def test_dense_reversed_for_recency():
    days = np.array([3, 3, 3, 3, 3, 3, 10, 20, 30, 40.0])
    assert dense_scores(days, 5, higher_is_better=False).tolist() == [5] * 6 + [4, 3, 2, 1]


@pytest.mark.parametrize("seed", range(40))
def test_dense_uses_every_level_when_enough_distinct_values(seed):
    """Heavy-tailed tied values: monotone, equal in -> equal out, and all of 1..bins when >= bins values."""
    rng = np.random.default_rng(seed)
    bins = int(rng.integers(2, 10))
    x = np.floor(rng.pareto(rng.uniform(0.3, 3.0), int(rng.integers(bins, 400))) * rng.uniform(0.5, 5.0))
    s = dense_scores(x, bins)
    order = np.argsort(x, kind="stable")
    assert np.all(np.diff(s[order].astype(int)) >= 0)
    assert all(len(set(s[x == v])) == 1 for v in np.unique(x))
    if np.unique(x).size >= bins:
        assert sorted(set(s.tolist())) == list(range(1, bins + 1))
    else:
        assert s.min() == 1 and s.max() <= bins


def test_score_bins_method_validation():
    assert ScoreBins(thresholds=(2, 3, 4, 6)).method == "thresholds"  # thresholds alone imply the method
    assert ScoreBins().method == "quantile" and RFMConfig().frequency.method == "dense"
    with pytest.raises(ValueError, match=re.escape('method = "thresholds" needs thresholds')):
        ScoreBins(method="thresholds")
    with pytest.raises(
        ValueError, match=re.escape('thresholds are used only with method = "thresholds", not')
    ):
        ScoreBins(method="dense", thresholds=(2, 3))
    with pytest.raises(ValueError, match="method"):
        ScoreBins(method="ntile")


def test_default_config_file_equals_model_defaults(tmp_path):
    assert load_rfm_config() == RFMConfig()
    path = tmp_path / "rfm.toml"
    path.write_text('[frequency]\nmethod = "quantile"\n')
    assert load_rfm_config(path).frequency.method == "quantile"
    path.write_text('[frequency]\nmethod = "dens"\n')
    with pytest.raises(ConfigError, match=r"frequency\.method"):
        load_rfm_config(path)


def test_user_scoring_section_with_frequency_thresholds(tmp_path):
    """A [rfm.frequency] table replaces the default's: thresholds alone switch F to order-count bins."""
    path = tmp_path / "scoring.toml"
    path.write_text("[rfm.frequency]\nthresholds = [2, 3, 4, 6]\n")
    cfg = load_scoring_config(path).rfm
    assert cfg.frequency.method == "thresholds" and cfg.recency.method == "quantile"
    frame = pd.DataFrame(
        {
            "customer_id": list("abcdefg"),
            "days_since_last_purchase": [1.0, 2, 3, 4, 5, 6, 7],
            "n_orders": [1, 2, 3, 4, 5, 6, 40],
            "total_spend": [1.0, 2, 3, 4, 5, 6, 7],
        }
    )
    assert rfm_scores(frame, config=cfg)["f_score"].tolist() == [1, 2, 3, 4, 4, 5, 5]  # 1, 2, 3, 4-5, 6+


def _grid_frame() -> pd.DataFrame:
    """One customer per (r, f, m) cell of the 5 x 5 x 5 grid, raw values chosen so each scores its cell.

    Recency and spend are distinct (25 customers per quantile level); order counts are the F target itself,
    heavily tied (25 customers per count), which dense scoring keeps one level per count. Plus a non-buyer.
    """
    cells = np.array(list(itertools.product(range(1, 6), repeat=3)))
    jitter = np.arange(len(cells)) / 1000.0
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{a}{b}{c}" for a, b, c in cells],
            "days_since_last_purchase": (6 - cells[:, 0]) * 100.0 + jitter,
            "n_orders": cells[:, 1],
            "total_spend": cells[:, 2] * 100.0 + jitter,
        }
    )
    none = {"customer_id": "none", "days_since_last_purchase": np.nan, "n_orders": 0, "total_spend": 0.0}
    return pd.concat([frame, pd.DataFrame([none])], ignore_index=True)


def test_every_default_segment_is_reachable():
    """Each cell of the grid occurs once, so every segment of the default map (and No purchase) is non-empty."""
    frame = _grid_frame()
    out = rfm_segments(frame)
    assert (out["rfm_cell"].iloc[:-1] == frame["customer_id"].iloc[:-1].str[1:]).all()
    counts = out["rfm_segment"].value_counts()
    names = load_segment_map().names
    assert set(counts.index) == set(names)
    assert all(counts[name] > 0 for name in names)
    assert counts["Lost"] == 1 and counts["New"] == 1  # FM = ceil((F + M) / 2) = 1 only for F = M = 1


def test_typical_retail_population_reaches_every_segment():
    """Geometric order counts (about 55% one-order customers), log-normal spend, uniform recency."""
    rng = np.random.default_rng(11)
    n = 5000
    orders = rng.geometric(0.45, n)
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i:05d}" for i in range(n)],
            "days_since_last_purchase": rng.integers(0, 730, n).astype(float),
            "n_orders": orders,
            "total_spend": np.round(orders * rng.lognormal(3.5, 0.6, n), 2),
        }
    )
    out = rfm_segments(frame)
    for col in ("r_score", "f_score", "m_score"):
        assert sorted(out[col].unique()) == [1, 2, 3, 4, 5], col
    assert (out.loc[frame["n_orders"] == 1, "f_score"] == 1).all()
    counts = out["rfm_segment"].value_counts()
    for name in load_segment_map().names[:-1]:
        assert counts.get(name, 0) > 0, name


def test_demo_has_lost_customers_and_every_level(tmp_path):
    """The 5,000-customer demo's feature table at the pipeline's as-of date, scored with the defaults the
    pipeline uses: every score level occurs and "Lost" is not empty.

    With averaged ties F = 1 never occurred, so New, Promising, About to sleep and Lost were always empty.
    """
    from socialvalue import Store, build_features
    from socialvalue.demo import generate

    store = Store(tmp_path / "demo.duckdb")
    try:
        generate(5_000, seed=7).load_into(store)
        features = build_features(store, as_of="2026-07-01")
    finally:
        store.close()
    scores = rfm_segments(features)
    buyers = scores[scores["has_purchase"]]
    for col in ("r_score", "f_score", "m_score"):
        assert sorted(buyers[col].unique()) == [1, 2, 3, 4, 5], col
    assert (buyers.loc[features.loc[buyers.index, "n_orders"] == 1, "f_score"] == 1).all()
    counts = scores["rfm_segment"].value_counts()
    for name in load_segment_map().names:
        assert counts.get(name, 0) > 0, name


def test_report_heatmap_shows_every_level_even_when_empty():
    """The report's R x F heat map: a grid without F = 1 and with the no-purchase 0 row still shows 1..5."""
    from socialvalue.report.charts import rfm_heatmap

    grid = pd.DataFrame(
        [[np.nan, 5.0, 3.0, 2.0, 9.0], [np.nan, 1.0, 2.0, 3.0, 4.0], [7.0, np.nan, np.nan, np.nan, np.nan]],
        index=[5, 1, 0],
        columns=[0, 2, 3, 4, 5],
    )
    fig, sentence = rfm_heatmap(grid)
    trace = fig.data[0]
    assert list(trace.x) == ["1", "2", "3", "4", "5"] and list(trace.y) == ["1", "2", "3", "4", "5"]
    z = np.asarray(trace.z)
    assert z.shape == (5, 5) and z[:, 0].tolist() == [0.0] * 5 and z[1:4].sum() == 0
    assert z[4].tolist() == [0.0, 5.0, 3.0, 2.0, 9.0] and z[0].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert list(fig.layout.xaxis.categoryarray) == ["1", "2", "3", "4", "5"]
    assert sentence.startswith("9 customers bought recently and often")
