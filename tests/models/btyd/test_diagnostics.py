"""Back-testing on the CDNOW calibration/holdout split built from the raw transaction log (plain pandas)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from socialvalue.errors import ConfigError, NotFittedError, SchemaError
from socialvalue.models.btyd import BetaGeo, BetaGeoBetaBinom, GammaGamma, ParetoNBD, RateModel
from socialvalue.models.btyd.diagnostics import (
    compare_models,
    conditional_expectations,
    cumulative_expected_transactions,
    holdout_errors,
    holdout_predictions,
    information_criteria,
    tracking,
)

TESTS = Path(__file__).resolve().parents[2]
SHARED = TESTS.parents[1] / "shared" / "data"
ORIGIN, CAL_END, HOLD_END = pd.Timestamp("1997-01-01"), pd.Timestamp("1997-09-30"), pd.Timestamp("1998-06-30")


def _data_file(*parts: str) -> Path:
    local = TESTS / "data" / Path(*parts)
    return local if local.exists() else SHARED / Path(*parts)


@pytest.fixture(scope="module")
def days() -> pd.DataFrame:
    """Distinct (customer, purchase day) pairs of the CDNOW 1/10 sample (the summary's counting unit)."""
    raw = pd.read_csv(
        _data_file("cdnow", "CDNOW_sample.txt"),
        sep=r"\s+",
        header=None,
        names=["mid", "id", "date", "cds", "usd"],
    )
    raw["date"] = pd.to_datetime(raw["date"].astype(str), format="%Y%m%d")
    return raw[["id", "date"]].drop_duplicates()


@pytest.fixture(scope="module")
def split(days) -> pd.DataFrame:
    """The feature-table shape of a 39 + 39 week split, in weeks (what the feature engine produces)."""
    first = days.groupby("id")["date"].min()
    cal = days[days["date"] <= CAL_END].groupby("id")["date"]
    hold = days[(days["date"] > CAL_END) & (days["date"] <= HOLD_END)]
    frame = pd.DataFrame(
        {
            "frequency": cal.size() - 1,
            "recency": (cal.max() - first).dt.days / 7,
            "T": (CAL_END - first).dt.days / 7,
        }
    )
    frame["holdout_transactions"] = hold.groupby("id").size().reindex(frame.index, fill_value=0)
    frame["holdout_duration"] = (HOLD_END - CAL_END).days / 7
    return frame


@pytest.fixture(scope="module")
def pnbd(split) -> ParetoNBD:
    return ParetoNBD().fit(split)


def test_split_reproduces_published_summary(split):
    """The split rebuilt from the raw log equals the papers' calibration summary (to its 2 decimals)."""
    summary = pd.read_csv(_data_file("cdnow", "cdnow_summary_calibration.csv"))
    assert (split["frequency"].to_numpy() == summary["x"].to_numpy()).all()
    np.testing.assert_allclose(split["recency"], summary["t_x"], atol=0.005)
    np.testing.assert_allclose(split["T"], summary["T"], atol=0.005)
    assert split["frequency"].sum() == 2457 and split["holdout_transactions"].sum() == 1882
    assert split["holdout_duration"].iloc[0] == 39.0


def test_holdout_errors_match_hand_computation(split, pnbd):
    pred = pnbd.predict_purchases(split, 39.0).to_numpy()
    actual = split["holdout_transactions"].to_numpy()
    got = holdout_errors(pnbd, split)
    assert got["mae"] == pytest.approx(np.mean(np.abs(pred - actual)), rel=1e-12)
    assert got["rmse"] == pytest.approx(np.sqrt(np.mean((pred - actual) ** 2)), rel=1e-12)
    assert got["corr"] == pytest.approx(np.corrcoef(pred, actual)[0, 1], rel=1e-12)
    assert got["actual_total"] == 1882
    assert got["predicted_total"] == pytest.approx(pred.sum(), rel=1e-12)
    assert got["total_error"] == pytest.approx(pred.sum() / 1882 - 1, rel=1e-12)
    np.testing.assert_allclose(holdout_predictions(pnbd, split, 39.0).to_numpy(), pred)


def test_conditional_expectations_by_frequency(split, pnbd):
    """FHL (2005), fig. 4: mean holdout purchases by calibration frequency 0..7+, actual vs model."""
    table = conditional_expectations(pnbd, split)
    assert list(table.index) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert table["n_customers"].sum() == 2357 and table.loc["0", "n_customers"] == 1411
    bucket = split["frequency"].clip(upper=7)
    np.testing.assert_allclose(
        table["actual"], split.groupby(bucket)["holdout_transactions"].mean(), rtol=1e-12
    )
    pred = pnbd.predict_purchases(split, 39.0)
    np.testing.assert_allclose(table["model"], pred.groupby(bucket.to_numpy()).mean(), rtol=1e-12)
    assert np.all(np.diff(table["model"].to_numpy()) > 0)  # more past purchases, more expected
    assert np.max(np.abs(table["model"] - table["actual"])) < 0.25  # the paper's close fit by group


def test_tracking_cumulative_repeat_transactions(days, split, pnbd):
    """FHL (2005), fig. 2: weekly cumulative repeat transactions, model vs actual, 78 weeks."""
    first = days.groupby("id")["date"].min()
    t0 = ((first - ORIGIN).dt.days / 7).to_numpy()
    repeats = days.merge(first.rename("first"), left_on="id", right_index=True)
    repeats = repeats[(repeats["date"] > repeats["first"]) & (repeats["date"] <= HOLD_END)]
    weeks = np.arange(1, 79, dtype=float)
    out = tracking(pnbd, t0, ((repeats["date"] - ORIGIN).dt.days / 7).to_numpy(), weeks)
    assert list(out.columns) == ["actual", "model", "actual_incremental", "model_incremental"]
    assert out["actual"].iloc[-1] == 2457 + 1882
    assert out["actual_incremental"].sum() == out["actual"].iloc[-1]
    assert abs(out.loc[39.0, "model"] / out.loc[39.0, "actual"] - 1) < 0.05
    assert abs(out.loc[78.0, "model"] / out.loc[78.0, "actual"] - 1) < 0.05
    # The model curve is sum_i E[X(t - t0_i)]: check a few weeks against a plain per-customer sum.
    for week in (5.0, 39.0, 78.0):
        direct = pnbd.expected_purchases(np.maximum(week - t0, 0)).sum()
        assert out.loc[week, "model"] == pytest.approx(direct, rel=1e-10)
    assert cumulative_expected_transactions(pnbd, [], weeks).sum() == 0


def test_information_criteria(pnbd):
    ic = information_criteria(pnbd)
    assert ic["n_params"] == 4 and ic["n_obs"] == 2357
    assert ic["aic"] == pytest.approx(8 - 2 * pnbd.log_likelihood_)
    assert ic["bic"] == pytest.approx(4 * np.log(2357) - 2 * pnbd.log_likelihood_)


def test_compare_models_on_cdnow(split):
    """BG/NBD and Pareto/NBD at their published LLs (-9582.4, -9594.98); no BG/BB on continuous times."""
    before = split.copy()
    table = compare_models(split)
    pd.testing.assert_frame_equal(split, before)
    assert set(table.index) == {"BG/NBD", "MBG/NBD", "Pareto/NBD"}
    assert table["error"].isna().all()
    assert table.loc["BG/NBD", "log_likelihood"] == pytest.approx(-9582.4, abs=0.05)
    assert table.loc["Pareto/NBD", "log_likelihood"] == pytest.approx(-9594.98, abs=0.01)
    assert (table["actual_total"] == 1882).all()
    assert list(table["rank"]) == [1, 2, 3] and table["rmse"].is_monotonic_increasing
    by_total = compare_models(split, models={"pnbd": ParetoNBD(), "bgnbd": BetaGeo()}, metric="total_error")
    assert by_total["total_error"].abs().is_monotonic_increasing


def test_compare_models_adds_bgbb_on_whole_periods():
    """Simulated BG/BB donors: 6 calibration opportunities, 5 holdout; the BG/BB wins on its own data and
    forecasts the holdout total within 3%."""
    rng = np.random.default_rng(3)
    k = 20_000
    p, theta = rng.beta(1.2, 0.75, k), rng.beta(0.66, 2.8, k)
    alive_for = rng.geometric(theta) - 1
    opp = np.arange(1, 12)[None, :]
    buys = (rng.random((k, 11)) < p[:, None]) & (opp <= alive_for[:, None])
    cal, hold = buys[:, :6], buys[:, 6:]
    x = cal.sum(axis=1)
    frame = pd.DataFrame(
        {
            "frequency": x,
            "recency": np.where(x > 0, 6 - np.argmax(cal[:, ::-1], axis=1), 0),
            "T": 6,
            "holdout_transactions": hold.sum(axis=1),
            "holdout_duration": 5,
        }
    )
    table = compare_models(frame)
    assert set(table.index) == {"BG/BB", "BG/NBD", "MBG/NBD", "Pareto/NBD"}
    assert table.index[0] == "BG/BB" and pd.isna(table.loc["BG/BB", "error"])
    # Continuous-time models on 6 whole periods may sit on a boundary: reported, ranked behind, never NaN-ranked.
    failed = table["error"].notna()
    assert (table.loc[failed, "rank"] > table.loc[~failed, "rank"].max()).all()
    # a boundary solution that did fit is reported in the "degenerate" column (no warning from the defaults)
    assert pd.isna(table.loc["BG/BB", "degenerate"])
    flagged = table["degenerate"].dropna()
    assert len(flagged) >= 1 and all("not separately identified" in text for text in flagged)
    assert abs(table.loc["BG/BB", "total_error"]) < 0.03
    only = compare_models(frame, models=[BetaGeoBetaBinom()], discrete=True)
    assert list(only.index) == ["BetaGeoBetaBinom"]


def test_compare_models_reports_failures_last(split):
    table = compare_models(split, models={"broken": ParetoNBD(max_iter=1), "ok": BetaGeo()})
    assert list(table.index) == ["ok", "broken"]
    assert "did not converge" in table.loc["broken", "error"]
    assert np.isnan(table.loc["broken", "rmse"])


def test_argument_errors(split, pnbd):
    with pytest.raises(ConfigError, match="metric"):
        compare_models(split, metric="r2")
    with pytest.raises(SchemaError, match="holdout"):
        compare_models(split.drop(columns="holdout_transactions"))
    with pytest.raises(SchemaError, match="missing column"):
        holdout_errors(pnbd, split, duration="nope")
    with pytest.raises(ConfigError, match="increasing"):
        tracking(pnbd, [0.0], [1.0], [2.0, 1.0])


def test_lifetimes_fitter_scored_by_the_same_code(days, split, pnbd):
    """A lifetimes ParetoNBDFitter carrying our parameters gets the same diagnostics (reference check)."""
    lifetimes = pytest.importorskip("lifetimes")
    ref = lifetimes.ParetoNBDFitter()
    ref.params_ = pd.Series(pnbd.params_)
    pd.testing.assert_frame_equal(conditional_expectations(ref, split), conditional_expectations(pnbd, split))
    ours, theirs = holdout_errors(pnbd, split), holdout_errors(ref, split)
    for key, value in ours.items():
        assert theirs[key] == pytest.approx(value, rel=1e-9)
    t0 = ((days.groupby("id")["date"].min() - ORIGIN).dt.days / 7).to_numpy()
    weeks = np.arange(1, 79, dtype=float)
    np.testing.assert_allclose(
        cumulative_expected_transactions(ref, t0, weeks), cumulative_expected_transactions(pnbd, t0, weeks)
    )


def test_models_and_frames_in_the_wrong_place_are_named(split, pnbd):
    """Each helper checks what it was given before computing: the frame where the model belongs, a spend
    model where a purchase model belongs, an unfitted model."""
    with pytest.raises(ConfigError, match=r"got a DataFrame — the order is holdout_errors\(model, frame"):
        holdout_errors(split, pnbd)
    with pytest.raises(
        ConfigError, match=r"frame must be a pandas DataFrame or a mapping.*got a ParetoNBD model"
    ):
        holdout_predictions(pnbd, pnbd)
    with pytest.raises(ConfigError, match="got a GammaGamma: a spend model, it predicts no purchases"):
        conditional_expectations(GammaGamma(), split)
    with pytest.raises(ConfigError, match="got a GammaGamma: a spend model"):
        cumulative_expected_transactions(GammaGamma(), [0.0], [1.0])
    with pytest.raises(ConfigError, match=r"got a DataFrame — the order is tracking\(model"):
        tracking(split, [0.0], [1.0], [2.0])
    with pytest.raises(NotFittedError):
        holdout_errors(BetaGeo(), split)
    with pytest.raises(ConfigError, match="information_criteria needs a fitted socialvalue BTYD model"):
        information_criteria(RateModel().fit(split))
    with pytest.raises(ConfigError, match=r"models\['GG'\] is a GammaGamma: a spend model"):
        compare_models(split, models={"GG": GammaGamma(), "BG": BetaGeo()})
    with pytest.raises(ConfigError, match="calibration_frame must be a pandas DataFrame"):
        compare_models({"frequency": [1]})
    with pytest.raises(ConfigError, match="models must be a mapping of name to model or a sequence"):
        compare_models(split, models=BetaGeo())
    # the plain rate model (the ladder's last rung) is a purchase model for the holdout helpers
    rate = RateModel().fit(split)
    assert holdout_errors(rate, split)["actual_total"] == split["holdout_transactions"].sum()
