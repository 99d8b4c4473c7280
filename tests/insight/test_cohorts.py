"""Cohort analysis (issue 19, part 2): figures equal pandas on the demo and on CDNOW, intervals cover.

The demo's monthly sign-up cohorts and CDNOW's weekly cohorts (every CDNOW customer first bought in the first
quarter of 1997, so weeks are the only useful grain) are recomputed from the raw orders with pandas: members,
active members, purchases, repeat purchase days and revenue per cohort and period. The expected curve is
checked three ways: it telescopes to lifetimes' ``expected_number_of_purchases_up_to_time`` summed over the
members' first purchase days (the reference implementation); on CDNOW the BG/NBD fitted to the papers'
calibration summary tracks the 4,339 repeat purchases of the 78 weeks (2,457 in calibration, Fader, Hardie &
Lee 2005, table 1 data) within 5%; and on purchases simulated from known BG/NBD parameters, the expected curve
drawn with those parameters matches the actual one.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter
from scipy import stats

from socialvalue.datasets import cdnow
from socialvalue.errors import ConfigError, SchemaError
from socialvalue.insight import cohort_retention, lifecycle_mix
from socialvalue.models import BetaGeo

from ..features.conftest import insert
from .conftest import DEMO_AS_OF

CDNOW_END = pd.Timestamp("1998-07-01")  # the log ends 1998-06-30


def _reference(customers: pd.DataFrame, orders: pd.DataFrame, as_of, freq: str, basis: str) -> pd.DataFrame:
    """Members and activity per (cohort, period start) computed with pandas from the raw tables."""
    o = orders.assign(amount=orders["amount"].astype(float))
    o = o[o["ordered_at"] < as_of]
    buy = o[(o["status"] == "completed") & (o["amount"] > 0)]
    first = buy.groupby("customer_id")["ordered_at"].min()
    c = customers
    if "consent_profiling" in c:
        c = c[c["consent_profiling"].fillna(True).astype(bool)]
    c = c.set_index("customer_id")
    anchor = c["signup_at"].fillna(first.reindex(c.index)) if basis == "signup" else first.reindex(c.index)
    anchor = anchor[anchor < as_of]
    period = "M" if freq == "M" else "W-SUN"  # weeks Monday to Sunday
    cohort = anchor.dt.to_period(period).dt.start_time.rename("cohort")
    first_day = first.dt.floor("D").rename("first_day")
    sizes = cohort.value_counts().rename("members")
    rev = o["status"].eq("completed") | (o["status"].isin(["returned", "refunded"]) & (o["amount"] < 0))
    x = o.join(cohort, on="customer_id", how="inner").join(first_day, on="customer_id")
    x = x[x["ordered_at"] >= x["cohort"]]
    x["period_start"] = x["ordered_at"].dt.to_period(period).dt.start_time
    x["purchase"] = (x["status"] == "completed") & (x["amount"] > 0)
    x["day"] = x["ordered_at"].dt.floor("D")
    x["revenue"] = np.where(rev.loc[x.index], x["amount"], 0.0)
    p = x[x["purchase"]]
    keys = ["cohort", "period_start"]
    out = pd.DataFrame(
        {
            "active": p.groupby(keys)["customer_id"].nunique(),
            "purchases": p.groupby(keys).size(),
            "repeat_days": p[p["day"] > p["first_day"]]
            .groupby(keys)[["customer_id", "day"]]
            .apply(lambda g: len(g.drop_duplicates())),
            "revenue": x.groupby(keys)["revenue"].sum(),
        }
    ).fillna(0)
    out = out.join(sizes, on="cohort")
    return out[(out["active"] > 0) | (out["revenue"] != 0)]


def _compare(result, want: pd.DataFrame) -> None:
    got = result.table.set_index(["cohort", "period_start"])
    busy = got[(got["active"] > 0) | (got["revenue"] != 0)]
    assert sorted(busy.index) == sorted(want.index)
    w = want.loc[busy.index]
    for col in ("members", "active", "purchases", "repeat_days"):
        np.testing.assert_array_equal(busy[col].to_numpy(), w[col].to_numpy(), err_msg=col)
    np.testing.assert_allclose(busy["revenue"], w["revenue"], rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(busy["revenue_per_member"], w["revenue"] / w["members"], rtol=1e-9, atol=1e-8)
    np.testing.assert_allclose(busy["share_active"], w["active"] / w["members"], rtol=1e-12)


def test_monthly_cohorts_equal_pandas_on_the_demo(demo):
    store, tables, _ = demo
    result = cohort_retention(store, DEMO_AS_OF, "M")
    want = _reference(tables["customers"], tables["orders"], DEMO_AS_OF, "M", "signup")
    _compare(result, want)
    table = result.table
    # every period from the cohort's month to as_of is a row, quiet ones included
    first = table.groupby("cohort")["period"].agg(["min", "max", "size"])
    assert (first["min"] == 0).all() and (first["size"] == first["max"] + 1).all()
    assert table.groupby("cohort")["period"].size().iloc[0] == 24  # 2024-07 .. 2026-06
    assert table["complete"].all()  # as_of is the first of a month
    assert result.sizes["members"].sum() == tables["customers"]["consent_profiling"].sum()
    for _, row in table.sample(20, random_state=1).iterrows():
        ci = stats.binomtest(int(row["active"]), int(row["members"])).proportion_ci(method="wilson")
        assert (row["share_active_lower"], row["share_active_upper"]) == pytest.approx((ci.low, ci.high))
    assert result.meaning.startswith("Of customers who signed up in a month, ")
    assert "buy in the month after and" in result.meaning and "USD" in result.meaning


def test_weekly_first_purchase_cohorts_equal_pandas_on_the_demo(demo):
    store, tables, _ = demo
    as_of = pd.Timestamp("2025-03-05 12:00")  # a Wednesday: the last week is partial
    result = cohort_retention(store, as_of, "W", basis="first_purchase")
    want = _reference(tables["customers"], tables["orders"], as_of, "W", "first_purchase")
    _compare(result, want)
    last = result.table.groupby("cohort").tail(1)
    assert (~last["complete"]).all() and (last["period_end"] == as_of).all()
    assert result.meaning.startswith("Of customers who first bought in a week, ")


def test_weekly_cohorts_equal_pandas_on_cdnow(cdnow_sample):
    """CDNOW: all first purchases in 1997-Q1, so 13 weekly cohorts followed 78 weeks."""
    store, orders = cdnow_sample
    customers = cdnow.load_transactions()["customers"].to_pandas()
    orders = orders.assign(status=orders["status"].astype(str))
    result = cohort_retention(store, CDNOW_END, "W")
    _compare(result, _reference(customers, orders, CDNOW_END, "W", "signup"))
    assert len(result.sizes) == 13 and result.sizes["members"].sum() == 2357
    assert result.table["repeat_days"].sum() == 4339  # repeat purchase days by 1998-06-30
    calibration = cohort_retention(store, "1997-10-01", "W")
    assert calibration.table["repeat_days"].sum() == int(cdnow.load_summary()["frequency"].sum()) == 2457
    by_first = cohort_retention(store, CDNOW_END, "W", basis="first_purchase")
    _compare(by_first, _reference(customers, orders, CDNOW_END, "W", "first_purchase"))
    # customers whose only orders are $0 have a sign-up (their first order) but no purchase
    assert by_first.sizes["members"].sum() == result.sizes["buyers"].sum() < 2357


@pytest.fixture(scope="module")
def cdnow_bgnbd():
    """The BG/NBD fitted to the papers' 39-week calibration summary of the CDNOW sample (weeks)."""
    return BetaGeo().fit(cdnow.load_summary())


def test_expected_curve_telescopes_to_lifetimes_expectation(cdnow_sample, cdnow_bgnbd):
    """Summed over periods, a cohort's expected repeats are sum_f n_f E[X(as_of - f)] (lifetimes' E[X(t)])."""
    store, orders = cdnow_sample
    result = cohort_retention(store, CDNOW_END, "W", model=cdnow_bgnbd, unit="W")
    assert result.model == "BetaGeo"
    ref = BetaGeoFitter()
    ref.params_ = pd.Series(cdnow_bgnbd.params_)
    o = orders.assign(amount=orders["amount"].astype(float))
    first = o[o["amount"] > 0].groupby("customer_id")["ordered_at"].min().dt.floor("D")
    cohort = first.dt.to_period("W-SUN").dt.start_time
    t_end = (CDNOW_END - first) / pd.Timedelta(weeks=1)
    want = pd.Series(ref.expected_number_of_purchases_up_to_time(t_end.to_numpy()), index=first.index)
    want = want.groupby(cohort).sum()
    got = (
        (result.table["expected_repeat_per_member"] * result.table["members"])
        .groupby(result.table["cohort"])
        .sum()
    )
    np.testing.assert_allclose(got.loc[want.index], want, rtol=1e-9)


def test_bgnbd_expected_curve_tracks_cdnow(cdnow_sample, cdnow_bgnbd):
    store, _ = cdnow_sample
    result = cohort_retention(store, CDNOW_END, "W", model=cdnow_bgnbd, unit="W")
    expected = (result.table["expected_repeat_per_member"] * result.table["members"]).sum()
    assert expected == pytest.approx(4339, rel=0.05)
    assert "the purchase model expects" in result.meaning and "tracks the actual within" in result.meaning
    # the model's time unit matters: read in days, 78 weeks are 546 units and the same parameters expect more
    in_days = cohort_retention(store, CDNOW_END, "W", model=cdnow_bgnbd, unit="D")
    assert (in_days.table["expected_repeat_per_member"] * in_days.table["members"]).sum() > 2 * expected


def _model_with(params: dict[str, float], template: BetaGeo) -> BetaGeo:
    """A fitted BetaGeo holding ``params`` (the saved-model format with the parameters replaced)."""
    doc = json.loads(template.to_json())
    doc["params"] = params
    return BetaGeo.from_json(json.dumps(doc))


def test_expected_curve_matches_purchases_simulated_from_known_parameters(store, cdnow_bgnbd):
    """Buyers simulated from a BG/NBD (weeks); the curve drawn with the true parameters fits the actual."""
    params = {"r": 0.4, "alpha": 4.0, "a": 0.8, "b": 2.5}
    rng = np.random.default_rng(5)
    n, start, weeks = 8_000, pd.Timestamp("2024-01-01"), 60
    as_of = start + pd.Timedelta(weeks=weeks)
    first = start + pd.to_timedelta(rng.integers(0, 8 * 7, n), unit="D") + pd.Timedelta(hours=12)
    lam = rng.gamma(params["r"], 1 / params["alpha"], n)
    life = rng.geometric(rng.beta(params["a"], params["b"], n))  # repeat purchases before dropping out
    gaps = rng.exponential(1.0, (n, 300)) / lam[:, None]
    times = np.cumsum(gaps, axis=1)  # weeks after the first purchase
    horizon = ((as_of - first) / pd.Timedelta(weeks=1)).to_numpy()
    keep = (np.arange(300)[None, :] < life[:, None]) & (times < horizon[:, None])
    ids = [f"s{i:05d}" for i in range(n)]
    insert(
        store,
        "customers",
        [{"customer_id": c, "signup_at": f.isoformat()} for c, f in zip(ids, first, strict=True)],
    )
    rows = [
        {"order_id": f"{c}-0", "customer_id": c, "ordered_at": f.isoformat(), "amount": 10}
        for c, f in zip(ids, first, strict=True)
    ]
    who, which = np.nonzero(keep)
    when = first[who] + pd.to_timedelta(times[who, which] * 7, unit="D")
    rows += [
        {"order_id": f"{ids[i]}-{j + 1}", "customer_id": ids[i], "ordered_at": w.isoformat(), "amount": 10}
        for i, j, w in zip(who, which, when, strict=True)
    ]
    insert(store, "orders", rows)
    result = cohort_retention(
        store, as_of, "W", basis="first_purchase", model=_model_with(params, cdnow_bgnbd)
    )
    t = result.table
    by_period = (
        t.assign(e=t["expected_repeat_per_member"] * t["members"])
        .groupby("period")[["repeat_days", "e"]]
        .sum()
    )
    cumulative = by_period.cumsum()
    for k in (4, 13, 26, 52):  # the tracking curve at a month, a quarter, half a year, a year
        assert cumulative.at[k, "e"] == pytest.approx(cumulative.at[k, "repeat_days"], rel=0.06), k


def test_share_active_intervals_cover_a_known_rate(store):
    """120 weekly cohorts of 60 members, each active the week after with probability 0.25."""
    rng = np.random.default_rng(2)
    start = pd.Timestamp("2022-01-03")  # a Monday
    customers, orders = [], []
    for w in range(120):
        for i in range(60):
            cid = f"w{w:03d}_{i:02d}"
            signup = start + pd.Timedelta(weeks=w, days=int(rng.integers(0, 7)))
            customers.append({"customer_id": cid, "signup_at": signup.isoformat()})
            if rng.random() < 0.25:
                when = start + pd.Timedelta(weeks=w + 1, days=int(rng.integers(0, 7)), hours=9)
                orders.append(
                    {"order_id": cid, "customer_id": cid, "ordered_at": when.isoformat(), "amount": 3}
                )
    insert(store, "customers", customers)
    insert(store, "orders", orders)
    t = cohort_retention(store, start + pd.Timedelta(weeks=130), "W").table
    week1 = t[t["period"] == 1]
    assert len(week1) == 120 and (week1["members"] == 60).all()
    covered = ((week1["share_active_lower"] <= 0.25) & (0.25 <= week1["share_active_upper"])).mean()
    assert 0.9 <= covered <= 0.99
    assert (t.loc[t["period"] != 1, "active"] == 0).all()


def test_lifecycle_mix_equals_pandas(demo):
    store, tables, _ = demo
    rng = np.random.default_rng(4)
    c = tables["customers"]
    c = c[c["consent_profiling"].astype(bool)]
    stages = np.array(["introduction", "growth", "maturity", "decline", "churned"])
    history = []
    for date in pd.to_datetime(["2025-01-01", "2025-07-01", "2026-07-01"]):
        seen = c[c["signup_at"] < date]
        history.append(
            pd.DataFrame(
                {
                    "customer_id": seen["customer_id"],
                    "as_of": date,
                    "lifecycle_stage": rng.choice(stages, len(seen)),
                }
            )
        )
    history = pd.concat(history, ignore_index=True)
    mix = lifecycle_mix(store, history, DEMO_AS_OF, "M")
    ref = history.merge(c[["customer_id", "signup_at"]], on="customer_id")
    ref["cohort"] = ref["signup_at"].dt.to_period("M").dt.start_time
    want = ref.groupby(["cohort", "as_of", "lifecycle_stage"]).size()
    got = mix.table.set_index(["cohort", "as_of", "stage"])["customers"]
    pd.testing.assert_series_equal(got.sort_index(), want.sort_index(), check_names=False, check_dtype=False)
    sums = mix.table.groupby(["cohort", "as_of"])["share"].sum()
    np.testing.assert_allclose(sums, 1.0)
    jan = mix.table[
        (mix.table["cohort"] == pd.Timestamp("2024-07-01"))
        & (mix.table["as_of"] == pd.Timestamp("2025-01-01"))
    ]
    assert (jan["period"] == 6).all()
    assert mix.meaning.startswith("At 2026-07-01, ") and "are churned against" in mix.meaning


def test_cohort_arguments_are_checked(store, demo):
    with pytest.raises(ConfigError, match="cohort frequency"):
        cohort_retention(store, "2024-01-01", "Q")
    with pytest.raises(ConfigError, match="basis"):
        cohort_retention(store, "2024-01-01", basis="order")
    with pytest.raises(ConfigError, match="time unit"):
        cohort_retention(store, "2024-01-01", unit="M")
    with pytest.raises(ConfigError, match="expected_purchases"):
        cohort_retention(store, "2024-01-01", model=object())
    with pytest.raises(SchemaError, match="history lacks column"):
        lifecycle_mix(store, pd.DataFrame({"customer_id": ["a"], "as_of": ["2024-01-01"]}), "2024-01-01")
    empty = cohort_retention(store, "2024-01-01", "M")
    assert empty.table.empty and empty.meaning.startswith("No cohort has a complete month")
