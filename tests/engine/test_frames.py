"""rfm_summary / calibration_and_holdout (issue 15, part 1): lifetimes' frames from any frame, in DuckDB.

Reference: lifetimes 0.11.3 (``lifetimes.utils.summary_data_from_transaction_data`` and
``calibration_and_holdout_data``), installed as a test-only dependency; and the published 39-week calibration
summary of the CDNOW 1/10 sample (Fader, Hardie & Lee 2005, "Counting your customers" the easy way,
*Marketing Science* 24(2)). Equality is every row, every column, to 1e-9 with identical index, columns and
dtypes (``pandas.testing.assert_frame_equal``).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lifetimes.utils import calibration_and_holdout_data, summary_data_from_transaction_data

import socialvalue as sv
from socialvalue.datasets import cdnow
from socialvalue.engine import calibration_and_holdout, rfm_summary
from socialvalue.errors import ConfigError, SchemaError

TOL = {"rtol": 1e-9, "atol": 1e-9}
CAL_END = "1997-09-30"
MONEY = "dollar_value"
MONEY_COL = "monetary_value"


@pytest.fixture(scope="module")
def master(shared_data) -> pd.DataFrame:
    """The full CDNOW log: 69,659 rows of 23,570 customers (text ids such as '00004'), dates as datetime64."""
    return cdnow.read_log(shared_data / "cdnow" / "CDNOW_master.txt", sample=False)


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    """The packaged CDNOW 1/10 sample: 6,919 rows of 2,357 customers."""
    return cdnow.read_log(sample=True)


def _lifetimes(log, **kw):
    return summary_data_from_transaction_data(log, "customer_id", "date", **kw)


def _lifetimes_cal(log, value_col=MONEY, **kw):
    """lifetimes' calibration frame; without a value column it fails under pandas 3 (an ``agg`` over no
    column), so it is computed with one and the value columns are dropped (they do not affect the others)."""
    out = calibration_and_holdout_data(log, "customer_id", "date", monetary_value_col=MONEY, **kw)
    if value_col is None:
        out = out.drop(columns=["monetary_value_cal", "monetary_value_holdout"])
    return out


# -- equality with lifetimes on CDNOW ----------------------------------------------------------------------


@pytest.mark.shared_data
@pytest.mark.parametrize("freq", ["D", "W"])
@pytest.mark.parametrize("value_col", [None, MONEY])
@pytest.mark.parametrize("first", [False, True])
@pytest.mark.parametrize("multiplier", [1, 7])
def test_summary_equals_lifetimes_on_the_full_cdnow_log(master, freq, value_col, first, multiplier):
    kw = {"freq": freq, "freq_multiplier": multiplier, "include_first_transaction": first}
    ours = rfm_summary(master, monetary_value_col=value_col, **kw)
    ref = _lifetimes(master, monetary_value_col=value_col, **kw)
    pd.testing.assert_frame_equal(ours, ref, **TOL)
    assert len(ours) == 23570
    assert list(ours.columns) == ["frequency", "recency", "T", *(["monetary_value"] if value_col else [])]
    # values a reader can check by hand: customer 00004 bought on 1997-01-01, 01-18, 08-02, 12-12
    row = ours.loc["00004"]
    days = {"D": (345, 545), "W": (49, 78)}[freq]
    assert row["recency"] == pytest.approx(days[0] / multiplier)
    assert row["T"] == pytest.approx(days[1] / multiplier)
    assert row["frequency"] == 3 + first


@pytest.mark.shared_data
@pytest.mark.parametrize("freq", ["D", "W"])
@pytest.mark.parametrize("value_col", [None, MONEY])
@pytest.mark.parametrize("first", [False, True])
@pytest.mark.parametrize("multiplier", [1, 7])
def test_calibration_and_holdout_equals_lifetimes_at_1997_09_30(master, freq, value_col, first, multiplier):
    kw = {"freq": freq, "freq_multiplier": multiplier, "include_first_transaction": first}
    ours = calibration_and_holdout(master, calibration_period_end=CAL_END, monetary_value_col=value_col, **kw)
    ref = _lifetimes_cal(master, value_col, calibration_period_end=CAL_END, **kw)
    pd.testing.assert_frame_equal(ours, ref, **TOL)
    assert len(ours) == 23570  # every CDNOW customer's first purchase is in the first quarter of 1997
    holdout = {"D": 273, "W": 39}[freq]  # 1997-10-01 .. 1998-06-30; W-SUN weeks 1997-09-29 .. 1998-06-29
    assert (ours["duration_holdout"] == holdout / multiplier).all()


@pytest.mark.parametrize("value_col", [None, MONEY])
def test_hours_equal_lifetimes_h(sample, value_col):
    """pandas >= 2.2 spells hours 'h' (lifetimes' docstring example: freq='h', freq_multiplier=24)."""
    ours = rfm_summary(sample, monetary_value_col=value_col, freq="H", freq_multiplier=24)
    ref = _lifetimes(sample, monetary_value_col=value_col, freq="h", freq_multiplier=24)
    pd.testing.assert_frame_equal(ours, ref, **TOL)
    pd.testing.assert_frame_equal(
        rfm_summary(sample, monetary_value_col=value_col, freq="h"),
        ours * [1, 24, 24, *([1] if value_col else [])],
        **TOL,
    )


def test_published_cdnow_calibration_summary(sample):
    """The papers' x, t_x, T, zbar of all 2,357 sample customers (39 weeks to 1997-09-30; weeks = days / 7).

    E.g. ID 1 (master 00004): x = 2, t_x = 30.43, T = 38.86, zbar = 22.35; published to 2 decimals.
    """
    ours = calibration_and_holdout(
        sample, calibration_period_end=CAL_END, freq="D", freq_multiplier=7, monetary_value_col=MONEY
    )
    pub = cdnow.load_summary()
    ids = sample.drop_duplicates("customer_id").set_index("customer_id")["sample_id"]
    ours.index = ids.loc[ours.index].to_numpy()
    ours = ours.loc[pub["ID"].to_numpy()]
    for col, ref in (
        ("frequency_cal", "frequency"),
        ("recency_cal", "recency"),
        ("T_cal", "T"),
        ("monetary_value_cal", "monetary_value"),
    ):
        np.testing.assert_allclose(ours[col].to_numpy(), pub[ref].to_numpy(), rtol=0, atol=0.005 + 1e-9)
    assert ours.loc[1, ["frequency_cal", "recency_cal", "T_cal"]].round(2).tolist() == [2.0, 30.43, 38.86]
    assert (ours["duration_holdout"] == 39.0).all()


# -- inputs --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("int_ids", [False, True])
def test_pandas_polars_arrow_inputs_give_identical_frames(sample, int_ids):
    log = sample[["customer_id", "date", MONEY]].copy()
    if int_ids:
        log["customer_id"] = log["customer_id"].astype("int64")
    frames = {
        "pandas": log,
        "polars": pl.from_pandas(log),
        "lazy": pl.from_pandas(log).lazy(),
        "arrow": pa.Table.from_pandas(log, preserve_index=False),
    }
    for kw in ({}, {"monetary_value_col": MONEY, "freq": "W"}):
        out = {name: rfm_summary(f, **kw) for name, f in frames.items()}
        for name in ("polars", "lazy", "arrow"):
            pd.testing.assert_frame_equal(out[name], out["pandas"], check_exact=True)
        pd.testing.assert_frame_equal(out["pandas"], _lifetimes(log, **kw), **TOL)
        assert out["pandas"].index.dtype == ("int64" if int_ids else log["customer_id"].dtype)
    cal = {
        n: calibration_and_holdout(f, calibration_period_end=CAL_END, monetary_value_col=MONEY)
        for n, f in frames.items()
    }
    for name in ("polars", "lazy", "arrow"):
        pd.testing.assert_frame_equal(cal[name], cal["pandas"], check_exact=True)


def test_only_the_named_columns_are_read(sample):
    """Other columns, even of types Arrow cannot hold, are not converted."""
    log = sample.assign(junk=[{"a": 1}] * (len(sample) - 1) + [[1, 2]], order_id=None)
    pd.testing.assert_frame_equal(
        rfm_summary(log, monetary_value_col=MONEY), _lifetimes(sample, monetary_value_col=MONEY)
    )


@pytest.mark.parametrize(
    "fmt, writer, sorts",
    [("%Y%m%d", "%Y%m%d", True), (None, "%Y-%m-%d", True), ("%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M", False)],
)
def test_text_dates_with_and_without_a_format(sample, fmt, writer, sorts):
    text = sample.assign(date=sample["date"].dt.strftime(writer))
    end = pd.Timestamp("1998-06-30").strftime(writer)  # explicit: lifetimes' default takes the largest text
    ours = rfm_summary(text, monetary_value_col=MONEY, datetime_format=fmt, observation_period_end=end)
    parsed = _lifetimes(sample, monetary_value_col=MONEY)
    pd.testing.assert_frame_equal(ours, parsed, **TOL)
    ref = _lifetimes(text, monetary_value_col=MONEY, datetime_format=fmt, observation_period_end=end)
    if sorts:
        pd.testing.assert_frame_equal(ours, ref, **TOL)
    else:
        # lifetimes sorts the rows by the text before reading it, so for a day-first format its "first"
        # purchase (left out of monetary_value) is the smallest text, not the earliest: a lifetimes bug.
        pd.testing.assert_frame_equal(ours.drop(columns=MONEY_COL), ref.drop(columns=MONEY_COL), **TOL)
        assert (ours[MONEY_COL] - ref[MONEY_COL]).abs().max() > 1
    # our default end is the latest date, not the largest text ('31.12.1997' > '30.06.1998')
    pd.testing.assert_frame_equal(rfm_summary(text, monetary_value_col=MONEY, datetime_format=fmt), ours)


def test_integer_dates_with_a_format(sample):
    ints = sample.assign(date=sample["date"].dt.strftime("%Y%m%d").astype("int64"))
    pd.testing.assert_frame_equal(rfm_summary(ints, datetime_format="%Y%m%d"), _lifetimes(sample), **TOL)


def test_python_dates_and_time_zones(sample):
    dates = sample.assign(date=[d.date() for d in sample["date"]])  # object column of datetime.date
    pd.testing.assert_frame_equal(rfm_summary(dates), _lifetimes(sample), **TOL)
    # a time zone is dropped keeping the wall-clock time (as pandas' to_period does)
    shifted = sample.assign(date=sample["date"] + pd.Timedelta(hours=23))
    aware = shifted.assign(date=shifted["date"].dt.tz_localize("America/New_York"))
    pd.testing.assert_frame_equal(rfm_summary(aware, freq="H"), rfm_summary(shifted, freq="H"))
    assert rfm_summary(pl.from_pandas(aware)).equals(rfm_summary(shifted))


@pytest.mark.parametrize("freq", ["D", "W", "H"])
@pytest.mark.parametrize("end", ["1997-06-18", "1997-06-18 13:30", "1998-03-01"])
def test_observation_end_before_the_end_of_the_data(sample, freq, end):
    """Purchases after the end's period are dropped; those later in the same period are kept (lifetimes)."""
    ours = rfm_summary(sample, monetary_value_col=MONEY, observation_period_end=end, freq=freq)
    ref = _lifetimes(
        sample, monetary_value_col=MONEY, observation_period_end=end, freq="h" if freq == "H" else freq
    )
    pd.testing.assert_frame_equal(ours, ref, **TOL)
    assert len(ours) == 2357  # every sample customer bought first in 1997-Q1


def test_observation_end_before_every_purchase_gives_an_empty_frame(sample):
    out = rfm_summary(sample, monetary_value_col=MONEY, observation_period_end="1996-12-31")
    assert out.empty and list(out.columns) == ["frequency", "recency", "T", "monetary_value"]
    assert out.index.name == "customer_id" and (out.dtypes == "float64").all()


def test_same_period_keeps_later_purchases_and_sums_values():
    """Hand-checked: W-SUN week of 2024-01-01 (Mon) .. 01-07 (Sun); the end 01-03 keeps the 01-05 purchase."""
    log = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "b", "c"],
            "date": pd.to_datetime(
                ["2023-12-31", "2024-01-01", "2024-01-05", "2024-01-08", "2024-01-02", "2023-12-25"]
            ),
            "revenue": [10.0, 4.0, 6.0, 100.0, 3.0, -2.0],
        }
    )
    out = rfm_summary(log, monetary_value_col="revenue", freq="W", observation_period_end="2024-01-03")
    # a: weeks of 12-25 (10) and 01-01 (4 + 6); 01-08 is after the end's week. c: a refund, kept.
    assert out.to_dict("index") == {
        "a": {"frequency": 1.0, "recency": 1.0, "T": 1.0, "monetary_value": 10.0},
        "b": {"frequency": 0.0, "recency": 0.0, "T": 0.0, "monetary_value": 0.0},
        "c": {"frequency": 0.0, "recency": 0.0, "T": 1.0, "monetary_value": 0.0},
    }
    pd.testing.assert_frame_equal(
        out, _lifetimes(log, monetary_value_col="revenue", freq="W", observation_period_end="2024-01-03")
    )


def test_months_are_calendar_months():
    """freq='M' counts whole calendar months (pandas Period ordinals); lifetimes 0.11.3 cannot (it divides by
    a month of no fixed length, which pandas >= 2 refuses)."""
    log = pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 1, 2],
            "date": pd.to_datetime(
                ["2024-01-31", "2024-01-01", "2024-03-01 23:00", "2024-05-02", "2024-04-30"], format="ISO8601"
            ),
            "revenue": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    out = rfm_summary(log, monetary_value_col="revenue", freq="M", observation_period_end="2024-06-15")
    assert out.to_dict("index") == {
        1: {"frequency": 2.0, "recency": 4.0, "T": 5.0, "monetary_value": 3.5},
        2: {"frequency": 0.0, "recency": 0.0, "T": 2.0, "monetary_value": 0.0},
    }
    with pytest.raises(ValueError, match="Unit M is not supported"):
        _lifetimes(log, monetary_value_col="revenue", freq="M")


def test_months_agree_with_pandas_periods(sample):
    out = rfm_summary(sample, freq="M", observation_period_end="1998-06-30")
    months = sample["date"].dt.to_period("M").array.asi8
    by = pd.DataFrame({"c": sample["customer_id"], "m": months}).groupby("c")["m"]
    ref = pd.DataFrame(
        {
            "frequency": by.nunique() - 1.0,
            "recency": (by.max() - by.min()).astype(float),
            "T": (pd.Period("1998-06", "M").ordinal - by.min()).astype(float),
        }
    )
    np.testing.assert_array_equal(out.to_numpy(), ref.to_numpy())


def test_top_level_names():
    assert sv.rfm_summary is rfm_summary and sv.calibration_and_holdout is calibration_and_holdout
    assert {"rfm_summary", "calibration_and_holdout"} <= set(sv.__all__)


# -- random logs against lifetimes -----------------------------------------------------------------------


def _random_log(draw_seed: int, n_customers: int, n_rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(draw_seed)
    cust = rng.integers(0, n_customers, n_rows)
    cust[:n_customers] = np.arange(n_customers)  # everyone buys at least once
    # few distinct days so same-day and same-week repeats are common; times within the day
    day = rng.integers(0, 60, n_rows)
    secs = rng.integers(0, 86400, n_rows) * (rng.random(n_rows) < 0.5)
    times = np.datetime64("2024-02-26", "s") + (day * 86400 + secs).astype("timedelta64[s]")
    value = np.round(rng.gamma(2.0, 10.0, n_rows), 2) * np.where(rng.random(n_rows) < 0.05, -1, 1)
    dup = rng.random(n_rows) < 0.1  # exact duplicate purchases
    log = pd.DataFrame({"customer_id": np.char.add("c", cust.astype(str)), "date": times, "v": value})
    log = pd.concat([log, log[dup]], ignore_index=True)
    return log.sample(frac=1.0, random_state=draw_seed).reset_index(drop=True).astype({"customer_id": "str"})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n_customers=st.integers(1, 12),
    n_rows=st.integers(12, 80),
    freq=st.sampled_from(["D", "W", "H"]),
    first=st.booleans(),
    multiplier=st.sampled_from([1, 7, 2.5]),
    end_day=st.one_of(st.none(), st.integers(0, 70)),
)
def test_random_logs_equal_lifetimes(seed, n_customers, n_rows, freq, first, multiplier, end_day):
    log = _random_log(seed, n_customers, n_rows)
    end = None if end_day is None else pd.Timestamp("2024-02-26 12:00") + pd.Timedelta(days=end_day)
    kw = {
        "freq": freq,
        "freq_multiplier": multiplier,
        "include_first_transaction": first,
        "observation_period_end": end,
    }
    lt = {**kw, "freq": "h" if freq == "H" else freq}
    ours = rfm_summary(log, monetary_value_col="v", **kw)
    ref = _lifetimes(log, monetary_value_col="v", **lt)
    pd.testing.assert_frame_equal(ours, ref, **TOL)
    pd.testing.assert_frame_equal(rfm_summary(log, **kw), ref.drop(columns="monetary_value"), **TOL)
    cal = pd.Timestamp("2024-02-26") + pd.Timedelta(days=seed % 50, hours=seed % 24)
    obs = None if end is None or end <= cal else end
    holdout = log["date"].gt(cal) & (log["date"].le(obs) if obs is not None else True)
    ckw = {k: v for k, v in kw.items() if k != "observation_period_end"}
    if not holdout.any():
        with pytest.raises(ConfigError, match="no purchase after calibration_period_end"):
            calibration_and_holdout(
                log, calibration_period_end=cal, observation_period_end=obs, monetary_value_col="v", **ckw
            )
        return
    ours = calibration_and_holdout(
        log, calibration_period_end=cal, observation_period_end=obs, monetary_value_col="v", **ckw
    )
    ref = calibration_and_holdout_data(
        log,
        "customer_id",
        "date",
        calibration_period_end=cal,
        observation_period_end=obs,
        monetary_value_col="v",
        **{**ckw, "freq": lt["freq"]},
    )
    # lifetimes' frequency_holdout is int64 when every calibration customer bought in the holdout
    pd.testing.assert_frame_equal(ours, ref.astype(float), **TOL)


# -- errors --------------------------------------------------------------------------------------------------


def _log() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["a", "b", "a", "c"],
            "date": ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"],
            "revenue": [1.0, 2.0, 3.0, 4.0],
        }
    )


def test_missing_column_lists_the_frames_columns():
    with pytest.raises(SchemaError) as err:
        rfm_summary(_log(), datetime_col="ordered_at")
    msg = str(err.value)
    assert msg.count("\n") == 0
    assert "'ordered_at' not in the transactions" in msg
    assert "'customer_id', 'date', 'revenue'" in msg
    assert err.value.problems[0]["column"] == "ordered_at"
    with pytest.raises(SchemaError, match="columns 'id', 'amount' not in"):
        rfm_summary(pl.from_pandas(_log()).lazy(), customer_id_col="id", monetary_value_col="amount")


@pytest.mark.parametrize(
    "column, value, match",
    [
        (
            "customer_id",
            None,
            r"column 'customer_id', row 3 \(position 2\): got an empty value; expected a customer id; fix",
        ),
        (
            "date",
            None,
            r"column 'date', row 3 \(position 2\): got an empty value; expected a date or time; fix",
        ),
        (
            "date",
            "2024-02-30",
            r"column 'date', row 3 \(position 2\): got '2024-02-30'; expected a date or time pandas.to_datetime can read; fix: correct or drop the row, or pass datetime_format",
        ),
        ("date", "", r"row 3 \(position 2\): got ''; expected a date or time"),
        (
            "revenue",
            np.nan,
            r"column 'revenue', row 3 \(position 2\): got (an empty value|nan); expected a value \(lifetimes would count it as 0\); fix",
        ),
        ("revenue", np.inf, r"column 'revenue', row 3 \(position 2\): got inf; expected a finite number"),
    ],
)
def test_bad_rows_are_named_in_one_line(column, value, match):
    log = _log().astype({"revenue": "float64"})
    log[column] = log[column].astype(object)
    log.loc[2, column] = value
    for frame in (log, pl.from_pandas(log, nan_to_null=False)):
        with pytest.raises(SchemaError, match=match) as err:
            rfm_summary(frame, monetary_value_col="revenue")
        assert "\n" not in str(err.value)
        assert err.value.problems[0]["row"] == 3 and err.value.problems[0]["column"] == column


def test_bad_dates_count_the_other_rows_and_name_the_format():
    log = _log().assign(date=["2024-01-01", "01/02/2024", "2024-01-03", "01/04/2024"])
    with pytest.raises(
        SchemaError,
        match=r"row 2 \(position 1\): got '01/02/2024'; expected a time in the format '%Y-%m-%d' \(1 more rows like it\)",
    ):
        rfm_summary(log, datetime_format="%Y-%m-%d")


@pytest.mark.parametrize(
    "change, match",
    [
        (
            {"revenue": ["1", "2", "3", "4"]},
            r"column 'revenue', row 1 \(position 0\): got '1'; expected numbers, not (large_)?string values \(3 more rows like it\); fix: convert the column to numbers",
        ),
        (
            {"date": [20240101, 20240102, 20240103, 20240104]},
            r"expected dates or times \(numbers are read only with a datetime_format",
        ),
        ({"date": [True, False, True, True]}, "expected dates or times, not bool values"),
    ],
)
def test_wrong_column_types(change, match):
    with pytest.raises(SchemaError, match=match):
        rfm_summary(_log().assign(**change), monetary_value_col="revenue")


def test_arguments_are_checked():
    with pytest.raises(ConfigError, match=r"freq must be one of 'D' \(days\), 'W' .*'M' .*'H' .*; got 'Q'"):
        rfm_summary(_log(), freq="Q")
    for bad in (0, -7, float("nan"), True, "7"):
        with pytest.raises(ConfigError, match="freq_multiplier must be a positive number"):
            rfm_summary(_log(), freq_multiplier=bad)
    with pytest.raises(ConfigError, match="observation_period_end 'soon' is not a date"):
        rfm_summary(_log(), observation_period_end="soon")
    with pytest.raises(ConfigError, match="calibration_period_end is required"):
        calibration_and_holdout(_log())
    with pytest.raises(ConfigError, match="must differ"):
        rfm_summary(_log(), monetary_value_col="date")
    with pytest.raises(
        SchemaError,
        match="must be a pandas DataFrame, a Polars DataFrame or LazyFrame, or a pyarrow Table; got list",
    ):
        rfm_summary([1, 2])
    twice = pd.concat([_log(), _log()["date"]], axis=1)
    with pytest.raises(SchemaError, match="2 columns named 'date'"):
        rfm_summary(twice)


def test_no_holdout_purchase_is_refused_like_lifetimes():
    with pytest.raises(
        ConfigError,
        match=r"no purchase after calibration_period_end 2024-01-04 00:00:00 and up to observation_period_end 2024-01-04 00:00:00 \(the purchases run from 2024-01-01",
    ):
        calibration_and_holdout(_log(), calibration_period_end="2024-01-04")
    with pytest.raises(ValueError, match="There is no data available"):
        calibration_and_holdout_data(
            _log(), "customer_id", "date", calibration_period_end="2024-01-04", monetary_value_col="revenue"
        )


def test_calibration_end_is_an_instant_like_lifetimes():
    """A bare calibration date is its midnight: a purchase later that day is in the holdout (lifetimes)."""
    log = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b"],
            "date": pd.to_datetime(
                ["2024-01-01", "2024-01-10 09:00", "2024-01-20", "2024-01-10"], format="ISO8601"
            ),
            "revenue": [1.0, 2.0, 4.0, 8.0],
        }
    )
    out = calibration_and_holdout(log, calibration_period_end="2024-01-10", monetary_value_col="revenue")
    assert out.to_dict("index") == {
        "a": {
            "frequency_cal": 0.0,
            "recency_cal": 0.0,
            "T_cal": 9.0,
            "monetary_value_cal": 0.0,
            "frequency_holdout": 2.0,
            "monetary_value_holdout": 3.0,
            "duration_holdout": 10.0,
        },
        "b": {
            "frequency_cal": 0.0,
            "recency_cal": 0.0,
            "T_cal": 0.0,
            "monetary_value_cal": 0.0,
            "frequency_holdout": 0.0,
            "monetary_value_holdout": 0.0,
            "duration_holdout": 10.0,
        },
    }
    ref = calibration_and_holdout_data(log, "customer_id", "date", "2024-01-10", monetary_value_col="revenue")
    pd.testing.assert_frame_equal(out, ref, **TOL)


def test_date_objects_compare_with_timestamps():
    log = pd.DataFrame(
        {"customer_id": [1, 1, 2], "date": [dt.date(2024, 1, 1), dt.date(2024, 1, 5), dt.date(2024, 1, 9)]}
    )
    out = calibration_and_holdout(pa.Table.from_pandas(log), calibration_period_end=dt.date(2024, 1, 3))
    assert out.to_dict("index") == {
        1: {
            "frequency_cal": 0.0,
            "recency_cal": 0.0,
            "T_cal": 2.0,
            "frequency_holdout": 1.0,
            "duration_holdout": 6.0,
        }
    }
