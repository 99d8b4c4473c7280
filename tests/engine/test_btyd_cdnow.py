"""BTYD summary on CDNOW: row-for-row equality with lifetimes and the published calibration summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from socialvalue.engine import build

pytestmark = pytest.mark.shared_data


def _lifetimes_summary(transactions: pd.DataFrame, last_day: str, multiplier: int) -> pd.DataFrame:
    from lifetimes.utils import summary_data_from_transaction_data

    out = summary_data_from_transaction_data(
        transactions,
        "customer_id",
        "ordered_at",
        monetary_value_col="amount",
        observation_period_end=last_day,
        freq="D",
        freq_multiplier=multiplier,
    )
    out.index = out.index.astype(str)
    return out.sort_index()


@pytest.mark.parametrize("unit, multiplier", [("D", 1), ("W", 7)])
@pytest.mark.parametrize("as_of, last_day", [("1997-10-01", "1997-09-30"), ("1997-02-15", "1997-02-14")])
def test_equals_lifetimes_row_for_row(cdnow_store, cdnow_transactions, unit, multiplier, as_of, last_day):
    """Every customer's frequency/recency/T/monetary_value equals lifetimes 0.11.3 within 1e-9.

    lifetimes is called with ``freq="D", freq_multiplier=7`` for weeks (days / 7) and with
    ``observation_period_end`` = the last day before our exclusive ``as_of``.
    """
    ours = build(cdnow_store, as_of=as_of, unit=unit, materialize=False).set_index("customer_id").sort_index()
    ref = _lifetimes_summary(cdnow_transactions, last_day, multiplier)
    assert list(ours.index) == list(ref.index)  # same customers: those with a purchase before as_of
    for col in ("frequency", "recency", "T", "monetary_value"):
        np.testing.assert_allclose(ours[col].to_numpy(float), ref[col].to_numpy(float), rtol=0, atol=1e-9)
    assert (ours["n_periods"] == np.floor(ref["T"] + 1e-12)).all()


def test_published_cdnow_calibration_summary(cdnow_store, cdnow_dir):
    """Fader, Hardie & Lee (2005), CDNOW 1/10 sample, 39-week calibration 1997-01-01..1997-09-30 (weeks).

    All 2,357 rows of the published ``x, t_x, T, zbar`` match to the published 2-decimal rounding (e.g. ID 1:
    x=2, t_x=30.43, T=38.86, zbar=22.35). The calibration period includes 1997-09-30, so as_of = 1997-10-01
    (exclusive, start of day).
    """
    pub = pd.read_csv(cdnow_dir / "cdnow_summary_calibration.csv")
    pub["ID"] = pub["ID"].astype(str)
    pub = pub.set_index("ID")
    ours = build(cdnow_store, as_of="1997-10-01", unit="weeks", materialize=False).set_index("customer_id")
    assert len(ours) == len(pub) == 2357
    ours = ours.loc[pub.index]
    for col, ref in (("frequency", "x"), ("recency", "t_x"), ("T", "T"), ("monetary_value", "zbar")):
        diff = (ours[col].astype(float) - pub[ref]).abs()
        assert diff.max() <= 0.005 + 1e-9, (col, diff.idxmax())
    first = ours.loc["1"]
    assert first["frequency"] == 2
    assert round(first["recency"], 2) == 30.43
    assert round(first["T"], 2) == 38.86


def test_holdout_matches_lifetimes_calibration_and_holdout(cdnow_store, cdnow_transactions):
    """Holdout transactions (purchase days) and duration equal lifetimes' calibration_and_holdout_data.

    CDNOW: calibration to 1997-09-30, holdout 1997-10-01..1998-06-30 (39 weeks), as in Fader et al. (2005).
    """
    from lifetimes.utils import calibration_and_holdout_data

    ref = calibration_and_holdout_data(
        cdnow_transactions,
        "customer_id",
        "ordered_at",
        calibration_period_end="1997-09-30",
        observation_period_end="1998-06-30",
        freq="D",
        freq_multiplier=7,
        monetary_value_col="amount",
    )
    ref.index = ref.index.astype(str)
    ours = build(
        cdnow_store, calibration_end="1997-10-01", holdout_end="1998-07-01", unit="W", materialize=False
    ).set_index("customer_id")
    ours = ours.loc[ref.index]
    np.testing.assert_array_equal(ours["holdout_transactions"], ref["frequency_holdout"])
    np.testing.assert_allclose(ours["holdout_duration"], ref["duration_holdout"], atol=1e-12)
    assert ours["holdout_duration"].iloc[0] == pytest.approx(39.0)
    np.testing.assert_array_equal(ours["holdout_active"], ref["frequency_holdout"] > 0)
    np.testing.assert_allclose(ours["frequency"], ref["frequency_cal"], atol=0)
    # holdout revenue is the sum of holdout orders
    tx = cdnow_transactions
    hold = (
        tx[(tx.ordered_at >= "1997-10-01") & (tx.ordered_at < "1998-07-01")]
        .groupby("customer_id")["amount"]
        .sum()
    )
    np.testing.assert_allclose(ours["holdout_revenue"], hold.reindex(ours.index, fill_value=0.0), atol=1e-9)
