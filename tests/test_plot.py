"""socialvalue.plot: the figures' numbers against the models, against lifetimes 0.11.3 on CDNOW, and the report.

References: Fader, Hardie & Lee (2005), "Counting your customers" the easy way, Marketing Science 24(2) (the
CDNOW 1/10 sample, 2,357 customers, 39 + 39 weeks; figs. 1-4); Fader, Hardie & Shang (2010), Marketing Science
29(6) (the donations data, 11,104 donors, 6 opportunities); lifetimes 0.11.3 (``lifetimes.plotting``,
``lifetimes.utils.expected_cumulative_transactions``), the reference implementation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import socialvalue
from socialvalue import plot
from socialvalue.datasets import cdnow, donations
from socialvalue.errors import ConfigError, NotFittedError, SchemaError
from socialvalue.models.btyd import BetaGeo, BetaGeoBetaBinom, GammaGamma, ModifiedBetaGeo, ParetoNBD
from socialvalue.models.btyd.diagnostics import cumulative_expected_transactions, holdout_predictions
from socialvalue.report import charts

CAL_END, HOLD_END = pd.Timestamp("1997-09-30"), pd.Timestamp("1998-06-30")


# ---------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def summary() -> pd.DataFrame:
    """FHL (2005)'s calibration summary of the CDNOW sample (weeks)."""
    return cdnow.load_summary()


@pytest.fixture(scope="module")
def bg(summary) -> BetaGeo:
    return BetaGeo().fit(summary)


@pytest.fixture(scope="module")
def models(summary, bg) -> dict[str, object]:
    return {"BG/NBD": bg, "MBG/NBD": ModifiedBetaGeo().fit(summary), "Pareto/NBD": ParetoNBD().fit(summary)}


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    """The raw CDNOW sample log (one row per order)."""
    return cdnow.read_log()


@pytest.fixture(scope="module")
def split(log) -> pd.DataFrame:
    """The 39 + 39 week split in socialvalue's feature names, purchases counted once a day (the papers')."""
    days = log[["customer_id", "date"]].drop_duplicates()
    first = days.groupby("customer_id")["date"].min()
    cal = days[days["date"] <= CAL_END].groupby("customer_id")["date"]
    hold = days[(days["date"] > CAL_END) & (days["date"] <= HOLD_END)]
    frame = pd.DataFrame(
        {
            "frequency": cal.size() - 1,
            "recency": (cal.max() - first).dt.days / 7,
            "T": (CAL_END - first).dt.days / 7,
        }
    )
    frame["holdout_transactions"] = hold.groupby("customer_id").size().reindex(frame.index, fill_value=0)
    frame["holdout_duration"] = (HOLD_END - CAL_END).days / 7
    frame.attrs["unit"] = "W"
    return frame


@pytest.fixture(scope="module")
def lifetimes():
    lifetimes = pytest.importorskip("lifetimes")
    pytest.importorskip("lifetimes.utils")
    pytest.importorskip("lifetimes.plotting")  # imports matplotlib only inside its functions
    return lifetimes


@pytest.fixture(scope="module")
def pyplot():
    """matplotlib (installed with scikit-uplift, a test dependency) without a display, for lifetimes' plots."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    yield plt
    plt.close("all")


def _transplant(lifetimes_fitter, model):
    """A lifetimes fitter carrying ``model``'s parameters, so its numbers can be compared exactly."""
    lifetimes_fitter.params_ = pd.Series(model.params_)
    return lifetimes_fitter


def _with(model, params):
    """``model`` at other parameter values (a JSON round trip with the parameters replaced)."""
    m = type(model).from_json(model.to_json())
    m._set_fitted(
        params=np.array([params[name] for name in model._param_names], dtype=float),
        cov_log=model._cov_log_,
        log_likelihood=model.log_likelihood_,
        n_obs=model.n_obs_,
        n_unique=model.n_unique_,
        n_iter=0,
    )
    return m


def _trace(fig: go.Figure, name: str) -> go.BaseTraceType:
    return next(t for t in fig.data if t.name == name)


# ------------------------------------------------------------------------------ period transactions
@pytest.mark.parametrize(("name", "far"), [("BG/NBD", 400), ("MBG/NBD", 400), ("Pareto/NBD", 150)])
def test_period_transactions_are_the_sum_of_probabilities(models, summary, name, far):
    model = models[name]
    fig = plot.plot_period_transactions(model, summary, max_frequency=7)
    expected = np.asarray(_trace(fig, "model").y, dtype=float)
    T = summary["T"].to_numpy()
    for x in range(7):  # each customer at their own T, no grouping: the definition
        direct = np.asarray(model.probability_of_purchases(np.full(T.size, x), T), dtype=float).sum()
        assert expected[x] == pytest.approx(direct, rel=1e-12)
    # the pooled "7+" bar is the upper tail: summing P(X(T_i) = x) far out (to ``far``: the rest < 1e-9)
    t_unique, counts = np.unique(T, return_counts=True)
    n, t = np.meshgrid(np.arange(7, far), t_unique)
    probs = np.asarray(model.probability_of_purchases(n.ravel(), t.ravel()), dtype=float).reshape(n.shape)
    assert expected[7] == pytest.approx(counts @ probs.sum(axis=1), abs=1e-6)
    assert expected.sum() == pytest.approx(len(summary), abs=1e-6)
    actual = np.asarray(_trace(fig, "actual").y, dtype=float)
    counts = summary["frequency"].clip(upper=7).value_counts().sort_index()
    np.testing.assert_array_equal(actual, counts.to_numpy())
    assert list(_trace(fig, "actual").x) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert actual[0] == 1411  # FHL (2005), fig. 1: 1,411 of 2,357 made no repeat purchase


def test_period_transactions_actual_counts_match_lifetimes(lifetimes, pyplot, summary, bg):
    """lifetimes draws the model's bars from a simulated cohort; its actual bars are exact: compare those."""
    ref = lifetimes.BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    ax = lifetimes.plotting.plot_period_transactions(ref, max_frequency=7)
    heights = np.array([p.get_height() for p in ax.patches])
    ours = plot.period_transactions(bg, summary, 7)
    np.testing.assert_array_equal(heights[:7], ours["actual"].to_numpy()[:7])
    # our expectation at lifetimes' parameters is its own P(X(t) = n), summed over customers
    at_ref = plot.period_transactions(_with(bg, ref.params_), summary, 7)
    for x in range(7):
        theirs = sum(ref.probability_of_n_purchases_up_to_time(t, x) for t in summary["T"])
        assert at_ref["model"].iloc[x] == pytest.approx(theirs, rel=1e-8)
    pyplot.close("all")


def test_bgbb_period_transactions_on_the_donations_data():
    """FHS (2010): 11,104 donors, 6 opportunities, one row per (x, t_x) pattern with its donor count."""
    data = donations.load_summary()
    model = BetaGeoBetaBinom().fit(data, weights="weight")
    table = plot.period_transactions(model, data, max_frequency=7, weights="weight")
    assert table["actual"].sum() == 11_104 and table["actual"].iloc[0] == 3464
    assert table["model"].sum() == pytest.approx(11_104, abs=1e-6)
    for x in range(7):
        direct = 11_104 * float(model.probability_of_purchases(x, 6).iloc[0])
        assert table["model"].iloc[x] == pytest.approx(direct, rel=1e-12)
    assert table["model"].iloc[7] == 0.0  # nobody makes 7 transactions in 6 opportunities
    # the feature table's T stands in for n_periods
    again = plot.period_transactions(model, data.rename(columns={"n_periods": "T"}), 7, weights="weight")
    pd.testing.assert_frame_equal(again, table)


# ------------------------------------------------------------------------------ frequency/recency matrices
def test_probability_alive_matrix_is_the_models(bg, summary):
    fig = plot.plot_probability_alive_matrix(bg, data=summary)
    z = np.asarray(fig.data[0].z, dtype=float)
    f_max, r_max = int(summary["frequency"].max()), int(summary["T"].max())
    assert z.shape == (r_max + 1, f_max + 1) == (39, 30)
    tx, x = np.meshgrid(np.arange(r_max + 1.0), np.arange(f_max + 1.0), indexing="ij")
    grid = pd.DataFrame({"frequency": x.ravel(), "recency": tx.ravel(), "T": float(r_max)})
    possible = ~((grid["frequency"] == 0) & (grid["recency"] > 0)).to_numpy()
    direct = bg.probability_alive(grid[possible]).to_numpy()
    np.testing.assert_allclose(z.ravel()[possible], direct, rtol=1e-14)
    assert np.all(np.isnan(z.ravel()[~possible]))  # no repeat purchase but a recency: impossible
    assert z[0, 0] == 1.0  # BG/NBD: a customer without repeat purchases is alive
    assert fig.layout.yaxis.autorange == "reversed"  # recency 0 on top, as lifetimes draws it
    assert "weeks" in fig.layout.yaxis.title.text  # the unit comes from the summary's attrs


def test_probability_alive_matrix_matches_lifetimes(lifetimes, pyplot, bg, summary):
    """lifetimes' BetaGeoFitter fitted to the same data, its plotted matrix read back from the image."""
    ref = lifetimes.BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    theirs = np.asarray(lifetimes.plotting.plot_probability_alive_matrix(ref).get_images()[0].get_array())
    pyplot.close("all")
    ours = plot.probability_alive_matrix(bg, data=summary).to_numpy()
    ok = ~np.isnan(ours)
    assert theirs.shape == ours.shape
    # separately fitted: lifetimes' optimiser stops at tol=1e-7 (tighter, it reports no convergence), where
    # its parameters differ from ours by up to 4e-7 relative; the cells then differ by up to 4.1e-6 relative
    np.testing.assert_allclose(ours[ok], theirs[ok], rtol=1e-5)
    at_ref = plot.probability_alive_matrix(_with(bg, ref.params_), data=summary).to_numpy()
    np.testing.assert_allclose(at_ref[ok], theirs[ok], rtol=1e-9)


@pytest.mark.parametrize("name", ["BG/NBD", "Pareto/NBD"])
def test_frequency_recency_matrix_is_predict_purchases(models, summary, name):
    model = models[name]
    fig = plot.plot_frequency_recency_matrix(model, T=4, max_frequency=10, max_recency=30)
    z = np.asarray(fig.data[0].z, dtype=float)
    assert z.shape == (31, 11)
    for tx, x in [(0, 0), (5, 1), (30, 10), (29, 3), (0, 4)]:
        row = pd.DataFrame({"frequency": [x], "recency": [tx], "T": [30.0]})
        assert z[tx, x] == pytest.approx(model.predict_purchases(row, 4).iloc[0], rel=1e-14)
    assert np.isnan(z[3, 0])
    assert fig.layout.title.text.startswith("Expected purchases in the next 4 ")


def test_frequency_recency_matrix_matches_lifetimes(lifetimes, pyplot, bg, summary):
    ref = _transplant(lifetimes.BetaGeoFitter(), bg)
    ref.data = summary  # lifetimes reads the grid size from the fitted data
    theirs = np.asarray(
        lifetimes.plotting.plot_frequency_recency_matrix(ref, T=2).get_images()[0].get_array()
    )
    pyplot.close("all")
    ours = plot.frequency_recency_matrix(bg, 2, data=summary).to_numpy()
    ok = ~np.isnan(ours)
    np.testing.assert_allclose(ours[ok], theirs[ok], rtol=1e-8)


def test_bgbb_matrices_leave_impossible_histories_empty():
    data = donations.load_summary()
    model = BetaGeoBetaBinom().fit(data, weights="weight")
    p = plot.probability_alive_matrix(model, data=data)
    assert p.shape == (7, 7)
    assert np.isnan(p.loc[2, 3]) and np.isnan(p.loc[0, 1]) and np.isnan(p.loc[3, 0])  # x > t_x etc.
    row = pd.DataFrame({"frequency": [2], "recency": [4], "n_periods": [6]})
    assert p.loc[4, 2] == pytest.approx(model.probability_alive(row).iloc[0], rel=1e-14)
    e = plot.frequency_recency_matrix(model, 3, data=data)
    assert e.loc[4, 2] == pytest.approx(model.predict_purchases(row, 3).iloc[0], rel=1e-14)


# ------------------------------------------------------------------------------ calibration vs holdout
def test_calibration_vs_holdout_is_the_mean_prediction_per_frequency(bg, split):
    fig = plot.plot_calibration_purchases_vs_holdout_purchases(bg, split, n=7)
    model = np.asarray(_trace(fig, "model").y, dtype=float)
    actual = np.asarray(_trace(fig, "actual").y, dtype=float)
    bucket = split["frequency"].clip(upper=7).to_numpy()
    pred = holdout_predictions(bg, split).to_numpy()
    for k in range(8):
        assert model[k] == pytest.approx(pred[bucket == k].mean(), rel=1e-12)
        assert actual[k] == pytest.approx(
            split["holdout_transactions"].to_numpy()[bucket == k].mean(), rel=1e-12
        )
    assert list(_trace(fig, "model").x)[-1] == "7+"
    assert "39 weeks" in fig.layout.yaxis.title.text
    assert split["holdout_transactions"].sum() == 1882  # FHL (2005): 1,882 repeat purchases in weeks 40-78


def test_calibration_vs_holdout_matches_lifetimes(lifetimes, pyplot, bg, split):
    """lifetimes' plot on the split in its own column names (its ``calibration_and_holdout_data`` does not run
    on pandas 3), read back from the plotted lines."""
    frame = split.rename(columns={v: k for k, v in _OURS.items()})
    ax = lifetimes.plotting.plot_calibration_purchases_vs_holdout_purchases(
        _transplant(lifetimes.BetaGeoFitter(), bg), frame, n=7
    )
    theirs_actual, theirs_model = (np.asarray(line.get_ydata(), dtype=float) for line in ax.lines[:2])
    pyplot.close("all")
    ours = plot.calibration_vs_holdout(bg, frame, n=7)
    np.testing.assert_allclose(ours["actual"].to_numpy()[:7], theirs_actual, rtol=1e-12)
    np.testing.assert_allclose(ours["model"].to_numpy()[:7], theirs_model, rtol=1e-8)
    # lifetimes' column names and ours give the same table
    pd.testing.assert_frame_equal(ours, plot.calibration_vs_holdout(bg, split, n=7))


_OURS = {
    "frequency_cal": "frequency",
    "recency_cal": "recency",
    "T_cal": "T",
    "frequency_holdout": "holdout_transactions",
    "duration_holdout": "holdout_duration",
}


def test_customers_without_a_purchase_are_left_out(bg, summary, split):
    """A feature table also lists customers who have not bought yet (all BTYD columns empty): as in ``fit``."""
    empty = pd.DataFrame({c: [np.nan] * 3 for c in ("frequency", "recency", "T")})
    pd.testing.assert_frame_equal(
        plot.period_transactions(bg, pd.concat([summary, empty], ignore_index=True)),
        plot.period_transactions(bg, summary),
    )
    more = pd.concat([split, empty.assign(holdout_transactions=2, holdout_duration=39.0)])
    pd.testing.assert_frame_equal(
        plot.calibration_vs_holdout(bg, more), plot.calibration_vs_holdout(bg, split)
    )


def test_feature_table_from_the_store(tmp_path, summary, split):
    """``build_features`` on the CDNOW log in a store (39 + 39 weeks): the charts read it as they read the
    papers' summary, and the counts are the papers' (FHL 2005: 1,411 without a repeat purchase)."""
    from socialvalue import Store
    from socialvalue.datasets import ingest_tables
    from socialvalue.engine import build

    store = Store(tmp_path / "cdnow.duckdb")
    try:
        ingest_tables(store, cdnow.load_transactions())
        cols = ["btyd", "holdout_transactions", "holdout_duration"]
        feats = build(store, as_of="1997-10-01", unit="W", holdout_end="1998-07-01", select=cols)
    finally:
        store.close()
    model = BetaGeo().fit(feats)
    table = plot.period_transactions(model, feats)
    pd.testing.assert_series_equal(table["actual"], plot.period_transactions(model, summary)["actual"])
    held = plot.calibration_vs_holdout(model, feats)
    np.testing.assert_allclose(
        held["actual"], plot.calibration_vs_holdout(model, split)["actual"], rtol=1e-12
    )
    fig = plot.plot_probability_alive_matrix(model, data=feats, time_unit="W")
    assert np.asarray(fig.data[0].z).shape == (39, 30) and "weeks" in fig.layout.yaxis.title.text


def test_calibration_vs_holdout_by_recency(bg, split):
    """Other ``kind``: the first ``n`` distinct values, as lifetimes groups them."""
    table = plot.calibration_vs_holdout(bg, split, kind="time_since_last_purchase", n=5)
    gap = np.round((split["T"] - split["recency"]).to_numpy(), 9)  # equal day counts, equal gaps
    values = np.unique(gap)[:5]
    pred = holdout_predictions(bg, split).to_numpy()
    for label, v in zip(table.index, values, strict=True):
        assert label == f"{v:g}"
        assert table.loc[label, "model"] == pytest.approx(pred[gap == v].mean(), rel=1e-12)
        assert table.loc[label, "n_customers"] == np.sum(gap == v)


# ------------------------------------------------------------------------------ tracking
def test_cumulative_tracking_matches_lifetimes_and_the_diagnostics(lifetimes, bg, log):
    """FHL (2005), fig. 2: 78 weeks of cumulative repeat purchases (counted once a day, weeks as the unit)."""
    fig = plot.plot_cumulative_transactions(
        bg, log, "date", "customer_id", 546, 273, freq="D", freq_multiplier=7
    )
    actual = np.asarray(_trace(fig, "actual").y, dtype=float)
    model = np.asarray(_trace(fig, "model").y, dtype=float)
    weeks = np.asarray(_trace(fig, "model").x, dtype=float)
    np.testing.assert_array_equal(weeks, np.arange(1, 79))
    assert actual[38] == 2457 and actual[-1] == 2457 + 1882  # FHL (2005): calibration and holdout totals
    assert fig.layout.shapes[0].x0 == 39.0  # the calibration end, in weeks
    assert fig.layout.xaxis.title.text == "weeks since the first period"
    # model = sum_i E[X(t - t0_i)], through the diagnostics
    days = log[["customer_id", "date"]].drop_duplicates()
    t0 = ((days.groupby("customer_id")["date"].min() - pd.Timestamp("1997-01-01")).dt.days / 7).to_numpy()
    np.testing.assert_allclose(model, cumulative_expected_transactions(bg, t0, weeks).to_numpy(), rtol=1e-12)
    ref = _transplant(lifetimes.BetaGeoFitter(), bg)
    theirs = lifetimes.utils.expected_cumulative_transactions(
        ref, log, "date", "customer_id", 546, freq="D", freq_multiplier=7
    )
    np.testing.assert_array_equal(actual, theirs["actual"].to_numpy())
    np.testing.assert_allclose(model, theirs["predicted"].to_numpy(), rtol=1e-9)


def test_incremental_tracking_is_the_difference(bg, log):
    cum = plot.transaction_tracking(bg, log, "date", "customer_id", 546, freq="D", freq_multiplier=7)
    fig = plot.plot_incremental_transactions(
        bg, log, "date", "customer_id", 546, 273, freq="D", set_index_date=True, freq_multiplier=7
    )
    np.testing.assert_allclose(np.asarray(_trace(fig, "model").y), np.diff(cum["model"], prepend=0.0))
    np.testing.assert_array_equal(np.asarray(_trace(fig, "actual").y), np.diff(cum["actual"], prepend=0.0))
    dates = pd.DatetimeIndex(_trace(fig, "actual").x)
    assert dates[0] == pd.Timestamp("1997-01-08") and dates[-1] == pd.Timestamp("1998-07-01")
    assert pd.Timestamp(fig.layout.shapes[0].x0) == pd.Timestamp("1997-10-01")  # after 273 days
    assert fig.layout.yaxis.title.text == "repeat transactions per period"


def test_weekly_counting_matches_lifetimes(lifetimes, bg, log):
    """freq="W": one purchase per customer and week, the model's unit a week (lifetimes' own setting)."""
    table = plot.transaction_tracking(bg, log, "date", "customer_id", 78, freq="W")
    theirs = lifetimes.utils.expected_cumulative_transactions(
        _transplant(lifetimes.BetaGeoFitter(), bg), log, "date", "customer_id", 78, freq="W"
    )
    np.testing.assert_array_equal(table["actual"].to_numpy(), theirs["actual"].to_numpy())
    np.testing.assert_allclose(table["model"].to_numpy(), theirs["predicted"].to_numpy(), rtol=1e-9)


# ------------------------------------------------------------------------------ value charts
def test_value_concentration_share_at_ten_percent():
    rng = np.random.default_rng(3)
    clv = rng.lognormal(3.0, 1.5, 1000)
    fig = plot.plot_value_concentration(pd.Series(clv))
    x, y = np.asarray(fig.data[0].x), np.asarray(fig.data[0].y)
    direct = np.sort(clv)[::-1][:100].sum() / clv.sum()  # the 100 most valuable of 1,000
    assert x[20] == pytest.approx(0.10) and y[20] == pytest.approx(direct, rel=1e-12)
    assert plot.top_share(clv, 0.10) == pytest.approx(direct, rel=1e-12)
    assert y[0] == 0.0 and y[-1] == pytest.approx(1.0)
    # the report draws the same curve
    report_fig, sentence = charts.lorenz({"CLV": clv})
    np.testing.assert_array_equal(np.asarray(report_fig.data[0].y), y)
    assert f"{round(100 * direct)}%" in sentence


def test_clv_histogram_counts(summary):
    clv = np.r_[np.linspace(0, 99, 100), np.nan]
    fig = plot.plot_clv_distribution(clv, bins=10, currency="USD")
    np.testing.assert_array_equal(np.asarray(fig.data[0].y), np.full(10, 10.0))
    np.testing.assert_allclose(np.asarray(fig.data[0].width), np.full(10, 9.9))
    assert fig.layout.xaxis.title.text == "CLV (USD)"
    scores = pd.DataFrame({"clv": [1.0, 2.0, 3.0], "currency": "EUR"})
    assert plot.plot_clv_distribution(scores, bins=[0, 2, 4]).layout.xaxis.title.text == "CLV (EUR)"


@pytest.fixture(scope="module")
def scores(tmp_path_factory) -> pd.DataFrame:
    """The scores table of a real pipeline run on the demo data (2,000 customers)."""
    from socialvalue import Store
    from socialvalue.demo import generate
    from socialvalue.pipeline import RunConfig, run_pipeline

    store = Store(tmp_path_factory.mktemp("plot_run") / "store.duckdb")
    try:
        generate(2000, seed=7).load_into(store)
        return run_pipeline(store, "2026-07-01", RunConfig()).scores
    finally:
        store.close()


def test_value_decomposition_adds_up_to_the_customer_social_value(scores):
    parts = plot.value_components(scores)
    np.testing.assert_allclose(parts.sum(axis=1).to_numpy(), scores["csv"].to_numpy(), rtol=1e-9, atol=1e-9)
    assert "other" not in parts.columns  # the published parts explain the CSV entirely
    who = scores.loc[scores["social_value"].abs().idxmax(), "customer_id"]
    fig = plot.plot_value_decomposition(scores, who)
    row = scores.set_index("customer_id").loc[who]
    total = sum(float(t.x[0]) for t in fig.data)
    assert total == pytest.approx(float(row["csv"]), rel=1e-12)
    names = [t.name for t in fig.data]
    drawn = parts.loc[who]
    assert len(names) == int((drawn != 0).sum())  # the parts worth something to this customer
    assert ("Own recent activity" in names) == (row["own_activity_value"] != 0)
    if "contrib_clv" in scores.columns:  # the CLV inside the CSV is its weighted contribution
        assert names[0] == "CLV" and float(fig.data[0].x[0]) == pytest.approx(float(row["contrib_clv"]))
    else:  # the CLV weight was withheld: no CLV part
        assert "CLV" not in names
    assert fig.layout.xaxis.title.text == f"value ({row['currency']})"


def test_value_decomposition_of_a_table_without_the_model_columns():
    scores = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "clv": [10.0, 5.0],
            "referral_value": [2.0, 0.0],
            "influence_value": [1.0, 0.5],
            "csv": [13.0, 7.0],
        }
    )
    parts = plot.value_components(scores)
    assert list(parts.columns) == ["clv", "referral_value", "influence_value", "other"]
    assert parts.loc["b", "other"] == pytest.approx(1.5)
    fig = plot.plot_value_decomposition(scores, "b", currency="EUR")
    assert sum(float(t.x[0]) for t in fig.data) == pytest.approx(7.0)
    assert [t.name for t in fig.data] == ["CLV", "Influence value", "Other"]  # no referral value for "b"
    with pytest.raises(ConfigError, match="not in the scores"):
        plot.plot_value_decomposition(scores, "zz")


def test_report_and_notebook_draw_the_same_figures():
    track = {"period": [1.0, 2.0, 3.0], "actual": [1.0, 3.0, 6.0], "model": [1.5, 3.0, 5.5]}
    fig, _ = charts.tracking_plot(track, 2.0, "W")
    same = plot.tracking_figure(
        track["period"], track["actual"], track["model"], t_cal=2.0, time_unit="weeks"
    )
    for a, b in zip(fig.data, same.data, strict=True):
        np.testing.assert_array_equal(np.asarray(a.y), np.asarray(b.y))
    assert fig.layout.shapes[0].x0 == same.layout.shapes[0].x0 == 2.0
    assert fig.layout.xaxis.title.text == "weeks since the cohort's first purchase"
    cond = {"frequency": ["0", "1", "2+"], "actual": [0.2, 0.6, 1.5], "model": [0.25, 0.6, 1.4]}
    fig, _ = charts.conditional_expectations(cond)
    assert [t.name for t in fig.data] == ["actual", "model"]
    np.testing.assert_array_equal(np.asarray(fig.data[1].y), [0.25, 0.6, 1.4])
    frame = pd.DataFrame({"CLV": [3.0, 1.0], "Referral value": [1.0, 2.0]}, index=["a", "b"])
    ours = plot.decomposition_figure(frame, "t", "USD")
    theirs = charts.stacked_decomposition(frame, "t", "USD")
    assert ours.to_plotly_json() == theirs.to_plotly_json()


# ------------------------------------------------------------------------------ rendering, checks, surface
def test_every_figure_renders_to_html(models, summary, split, log, scores):
    bg = models["BG/NBD"]
    figures = [
        plot.plot_period_transactions(bg, summary),
        plot.plot_frequency_recency_matrix(bg, data=summary),
        plot.plot_probability_alive_matrix(bg, data=summary),
        plot.plot_calibration_purchases_vs_holdout_purchases(bg, split),
        plot.plot_cumulative_transactions(bg, log, "date", "customer_id", 546, 273, freq_multiplier=7),
        plot.plot_incremental_transactions(
            bg, log, "date", "customer_id", 546, 273, set_index_date=True, freq_multiplier=7
        ),
        plot.plot_clv_distribution(scores),
        plot.plot_value_concentration({"CLV": scores["clv"], "CSV": scores["csv"]}),
        plot.plot_value_decomposition(scores, scores["customer_id"].iloc[0]),
    ]
    for fig in figures:
        assert isinstance(fig, go.Figure)
        html = fig.to_html(include_plotlyjs=False, full_html=False)
        assert 'class="plotly-graph-div"' in html and fig.layout.title.text in html


def test_wrong_arguments_name_the_expected_type(bg, summary, split):
    with pytest.raises(ConfigError, match=r"purchase model .*got GammaGamma \(GammaGamma models spend"):
        plot.plot_period_transactions(GammaGamma(), summary)
    with pytest.raises(ConfigError, match="got the class BetaGeo"):
        plot.plot_probability_alive_matrix(BetaGeo, data=summary)
    with pytest.raises(ConfigError, match=r"expects data as a pandas\.DataFrame .*got ndarray"):
        plot.plot_period_transactions(bg, summary.to_numpy())
    with pytest.raises(ConfigError, match="purchase model"):
        plot.plot_calibration_purchases_vs_holdout_purchases(summary, split)
    with pytest.raises(NotFittedError):
        plot.plot_period_transactions(BetaGeo(), summary)
    with pytest.raises(ConfigError, match="max_frequency and max_recency, or data="):
        plot.plot_probability_alive_matrix(bg)
    with pytest.raises(ConfigError, match="max_frequency must be an int >= 1"):
        plot.period_transactions(bg, summary, 0)
    with pytest.raises(ConfigError, match="T must be a number > 0"):
        plot.frequency_recency_matrix(bg, 0, 3, 3)
    with pytest.raises(SchemaError, match="holdout_transactions"):
        plot.calibration_vs_holdout(bg, summary)
    with pytest.raises(ConfigError, match="kind must be"):
        plot.calibration_vs_holdout(bg, split, kind="spend")
    with pytest.raises(ConfigError, match="1-D array"):
        plot.plot_clv_distribution("12")
    with pytest.raises(SchemaError, match="no positive value"):
        plot.plot_value_concentration(np.zeros(3))


def test_plot_is_part_of_the_public_surface():
    assert socialvalue.plot is plot
    assert "plot" in socialvalue.__all__ and "plot" in dir(socialvalue)
    assert set(plot.__all__) >= {
        "plot_period_transactions",
        "plot_frequency_recency_matrix",
        "plot_probability_alive_matrix",
        "plot_calibration_purchases_vs_holdout_purchases",
        "plot_cumulative_transactions",
        "plot_incremental_transactions",
        "plot_clv_distribution",
        "plot_value_concentration",
        "plot_value_decomposition",
    }
