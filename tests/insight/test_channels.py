"""Channel analysis (issue 19, part 1): the figures equal a direct pandas computation, intervals cover.

The demo shop's channel table is recomputed here from its raw tables with pandas alone (who is acquired,
first and second purchase days, the 90-day repeat rule, referrers, score means), the Kaplan–Meier medians
with scipy's ``ecdf``, the intervals with scipy. Interval coverage is checked on a simulated shop of 200
channels whose conversion, repeat and CLV rates are known. Small channels, a missing channel, costs and the
meaning line have their own cases.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from socialvalue.errors import ConfigError, SchemaError
from socialvalue.insight import channel_report, read_channel_costs

from ..features.conftest import insert
from .conftest import DEMO_AS_OF

WINDOW = 90


def _reference(tables: dict[str, pd.DataFrame], scores: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The channel table computed with pandas from the raw demo tables."""
    c = tables["customers"].copy()
    o = tables["orders"].copy()
    r = tables["relationships"]
    o["amount"] = o["amount"].astype(float)
    buys = o[(o["status"] == "completed") & (o["amount"] > 0) & (o["ordered_at"] < as_of)].copy()
    buys["day"] = buys["ordered_at"].dt.floor("D")
    first = buys.groupby("customer_id")["day"].min().rename("first")
    later = buys.merge(first, left_on="customer_id", right_index=True)
    second = later[later["day"] > later["first"]].groupby("customer_id")["day"].min().rename("second")
    c = c[c["consent_profiling"].astype(bool)].set_index("customer_id").join(first).join(second)
    c = c[c["signup_at"].fillna(c["first"]) < as_of]
    ch = c["acquisition_channel"].astype(object).fillna("").str.strip()
    c["channel"] = ch.where(ch != "", "unknown")
    refs = r[(r["kind"] == "referred") & (r["src_id"] != r["dst_id"])]
    refs = refs[refs["created_at"].isna() | (refs["created_at"] < as_of)]
    c["referrer"] = c.index.isin(set(refs["src_id"]))
    c["buyer"] = c["first"].notna()
    c["eligible"] = c["buyer"] & (c["first"] + pd.Timedelta(days=WINDOW) <= as_of)
    c["repeater"] = c["eligible"] & ((c["second"] - c["first"]).dt.days <= WINDOW)
    c = c.join(scores.set_index("customer_id"))
    rows = []
    for channel, g in c.groupby("channel"):
        b = g[g["buyer"]]
        observed = b["second"].notna().to_numpy()
        durations = np.where(
            observed, (b["second"] - b["first"]).dt.days, (as_of - b["first"]) / pd.Timedelta(days=1)
        )
        sf = stats.ecdf(stats.CensoredData.right_censored(durations, ~observed)).sf
        below = np.flatnonzero(sf.probabilities <= 0.5)
        row = {
            "channel": channel,
            "customers": len(g),
            "buyers": int(g["buyer"].sum()),
            "repeat_eligible": int(g["eligible"].sum()),
            "repeaters": int(g["repeater"].sum()),
            "second_purchases": int(g["second"].notna().sum()),
            "referrers": int(g["referrer"].sum()),
            "median_days_to_second": float(sf.quantiles[below[0]]) if below.size else math.nan,
            "mean_clv": g["clv"].mean(),
            "mean_csv": g["csv"].mean(),
            "value_per_customer": g["csv"].fillna(g["clv"]).fillna(0).sum() / len(g),
        }
        for col in ("clv", "csv"):
            lo, hi = stats.t.interval(0.95, len(g) - 1, loc=g[col].mean(), scale=stats.sem(g[col]))
            row[f"mean_{col}_lower"], row[f"mean_{col}_upper"] = lo, hi
        rows.append(row)
    return pd.DataFrame(rows).set_index("channel")


def test_channel_figures_equal_pandas_on_the_demo(demo, demo_scores):
    store, tables, _ = demo
    report = channel_report(store, DEMO_AS_OF, demo_scores, horizon="revenue to date")
    got = report.table.set_index("channel")
    want = _reference(tables, demo_scores, DEMO_AS_OF)
    assert set(got.index) == set(want.index) == {"organic", "paid", "referral", "social"}
    for col in want.columns:
        np.testing.assert_allclose(got.loc[want.index, col], want[col], rtol=1e-12, err_msg=col)
    # rates and their Wilson intervals, from the counts
    for rate, (k, n) in {
        "conversion": ("buyers", "customers"),
        "repeat_rate": ("repeaters", "repeat_eligible"),
    }.items():
        for ch in want.index:
            ci = stats.binomtest(int(want.at[ch, k]), int(want.at[ch, n])).proportion_ci(method="wilson")
            assert got.at[ch, rate] == pytest.approx(want.at[ch, k] / want.at[ch, n])
            assert (got.at[ch, f"{rate}_lower"], got.at[ch, f"{rate}_upper"]) == pytest.approx(
                (ci.low, ci.high)
            )
    assert report.currency == "USD" and report.horizon == "revenue to date"
    assert report.as_of == DEMO_AS_OF and report.notes == ()
    assert list(report.table["customers"]) == sorted(report.table["customers"], reverse=True)


def test_channel_tests_are_pearson_and_welch_with_holm(demo, demo_scores):
    store, _, _ = demo
    report = channel_report(store, DEMO_AS_OF, demo_scores)
    table = report.table.set_index("channel")
    tests = report.tests
    assert len(tests) == 5 * 6  # five metrics, six pairs of four channels
    row = tests[
        (tests["metric"] == "repeat_rate") & (tests["channel"] == "organic") & (tests["other"] == "paid")
    ]
    k = table.loc[["organic", "paid"], "repeaters"].to_numpy()
    n = table.loc[["organic", "paid"], "repeat_eligible"].to_numpy()
    _, p, _, _ = stats.chi2_contingency(np.array([k, n - k]).T, correction=False)
    assert float(row["p_value"].iloc[0]) == pytest.approx(p)
    for _metric, family in tests.groupby("metric"):
        m = len(family)
        smallest = family.sort_values("p_value").iloc[0]
        assert smallest["p_holm"] == pytest.approx(min(1.0, m * smallest["p_value"]))
        assert (family["p_holm"] >= family["p_value"] - 1e-15).all()
    welch = tests[
        (tests["metric"] == "mean_clv") & (tests["channel"] == "organic") & (tests["other"] == "referral")
    ]
    scores = demo_scores.set_index("customer_id")["clv"]
    ids = channel_customer_ids(store)
    ref = stats.ttest_ind(scores.reindex(ids["organic"]), scores.reindex(ids["referral"]), equal_var=False)
    assert float(welch["p_value"].iloc[0]) == pytest.approx(ref.pvalue)
    rest = channel_report(store, DEMO_AS_OF, demo_scores, comparison="vs_rest").tests
    assert set(rest["other"]) == {"rest"} and len(rest) == 5 * 4


def channel_customer_ids(store) -> dict[str, list[str]]:
    """Each channel's acquired customers (read with plain SQL, for the Welch reference)."""
    df = store.query_df(
        "SELECT customer_id, acquisition_channel AS channel FROM customers WHERE consent_profiling "
        "AND signup_at < ?",
        [DEMO_AS_OF.to_pydatetime()],
    )
    return {ch: list(g["customer_id"]) for ch, g in df.groupby("channel")}


def _simulated_shop(store, rng, n_channels=200, per_channel=50, p_buy=0.3, p_repeat=0.4):
    """Channels of known rates: each customer buys with p_buy; a buyer repeats within 30 days with p_repeat."""
    customers, orders = [], []
    start = pd.Timestamp("2024-01-01")
    for ch in range(n_channels):
        for i in range(per_channel):
            cid = f"c{ch:03d}_{i:02d}"
            signup = start + pd.Timedelta(days=int(rng.integers(0, 60)))
            customers.append({"customer_id": cid, "signup_at": signup, "acquisition_channel": f"ch{ch:03d}"})
            if rng.random() < p_buy:
                first = signup + pd.Timedelta(days=int(rng.integers(1, 20)), hours=10)
                orders.append({"order_id": f"{cid}-1", "customer_id": cid, "ordered_at": first, "amount": 20})
                if rng.random() < p_repeat:
                    again = first + pd.Timedelta(days=int(rng.integers(1, 30)))
                    orders.append(
                        {"order_id": f"{cid}-2", "customer_id": cid, "ordered_at": again, "amount": 5}
                    )
    insert(store, "customers", [{**c, "signup_at": c["signup_at"].isoformat()} for c in customers])
    insert(store, "orders", [{**o, "ordered_at": o["ordered_at"].isoformat()} for o in orders])
    return [c["customer_id"] for c in customers]


def test_intervals_cover_known_rates_on_a_simulated_shop(store):
    """200 channels with the same known rates: about 95% of their intervals hold the truth."""
    rng = np.random.default_rng(11)
    ids = _simulated_shop(store, rng)
    clv = pd.DataFrame({"customer_id": ids, "clv": rng.gamma(2.0, 50.0, len(ids))})
    clv["csv"] = clv["clv"] * 1.5
    report = channel_report(store, "2024-12-01", clv)
    t = report.table
    assert len(t) == 200 and (t["repeat_eligible"] == t["buyers"]).all()  # every buyer's 90 days elapsed
    cover = {
        "conversion": ((t["conversion_lower"] <= 0.3) & (0.3 <= t["conversion_upper"])).mean(),
        "repeat_rate": ((t["repeat_rate_lower"] <= 0.4) & (0.4 <= t["repeat_rate_upper"])).mean(),
        "mean_clv": ((t["mean_clv_lower"] <= 100) & (100 <= t["mean_clv_upper"])).mean(),
        "mean_csv": ((t["mean_csv_lower"] <= 150) & (150 <= t["mean_csv_upper"])).mean(),
    }
    for name, share in cover.items():
        assert 0.9 <= share <= 0.99, (name, share)
    # no channel differs in truth: Holm keeps the family's false rejections rare
    assert (report.tests["p_holm"] < 0.05).mean() < 0.01


def test_the_repeat_denominator_holds_only_customers_whose_window_elapsed(store):
    insert(
        store,
        "customers",
        [
            {"customer_id": "old", "signup_at": "2024-01-01", "acquisition_channel": "paid"},
            {"customer_id": "new", "signup_at": "2024-05-01", "acquisition_channel": "paid"},
        ],
    )
    insert(
        store,
        "orders",
        [
            {"order_id": "1", "customer_id": "old", "ordered_at": "2024-01-05", "amount": 10},
            {"order_id": "2", "customer_id": "old", "ordered_at": "2024-05-05", "amount": 10},  # 121 days on
            {"order_id": "3", "customer_id": "new", "ordered_at": "2024-05-10", "amount": 10},  # 52 days old
        ],
    )
    row = channel_report(store, "2024-07-01").table.iloc[0]
    assert (row["buyers"], row["repeat_eligible"], row["repeaters"]) == (2, 1, 0)
    assert row["repeat_rate"] == 0.0
    # Kaplan–Meier: 'new' is censored at 52 days, 'old' bought again at 121: S(121) = 0
    assert row["median_days_to_second"] == 121.0


def test_small_and_missing_channels_get_wide_intervals_not_errors(store):
    insert(
        store,
        "customers",
        [
            {"customer_id": "x", "signup_at": "2024-01-01", "acquisition_channel": "tiny"},
            {"customer_id": "y", "signup_at": "2024-01-01"},
            {"customer_id": "z", "signup_at": "2024-01-01", "acquisition_channel": ""},
        ],
    )
    insert(store, "orders", [{"order_id": "1", "customer_id": "x", "ordered_at": "2024-01-02", "amount": 10}])
    scores = pd.DataFrame(
        {"customer_id": ["x", "y", "z"], "clv": [10.0, 5.0, np.nan], "csv": [12.0, 5.0, np.nan]}
    )
    report = channel_report(store, "2024-07-01", scores)
    t = report.table.set_index("channel")
    assert list(t.index) == ["unknown", "tiny"]
    assert t.at["tiny", "repeat_eligible"] == 1 and t.at["tiny", "repeat_rate_upper"] > 0.75
    assert t.at["tiny", "mean_clv_lower"] == -math.inf and t.at["tiny", "mean_clv_upper"] == math.inf
    assert t.at["unknown", "customers"] == 2 and t.at["unknown", "scored"] == 1
    assert t.at["unknown", "value_per_customer"] == pytest.approx(2.5)  # (5 + 0) / 2
    welch = report.tests[report.tests["test"] == "Welch t"]
    assert welch["p_value"].isna().all()
    assert "Too few customers" in report.meaning


def test_meaning_names_the_best_and_worst_repeat_channel(store):
    customers, orders = [], []
    for channel, repeaters in (("referral", 240), ("paid", 80)):
        for i in range(400):
            cid = f"{channel}{i}"
            customers.append({"customer_id": cid, "signup_at": "2024-01-01", "acquisition_channel": channel})
            orders.append(
                {"order_id": f"{cid}a", "customer_id": cid, "ordered_at": "2024-01-02", "amount": 10}
            )
            if i < repeaters:
                orders.append(
                    {"order_id": f"{cid}b", "customer_id": cid, "ordered_at": "2024-02-01", "amount": 10}
                )
    insert(store, "customers", customers)
    insert(store, "orders", orders)
    scores = pd.DataFrame({"customer_id": [c["customer_id"] for c in customers], "clv": 10.0, "csv": 12.0})
    costs = pd.DataFrame(
        {"channel": ["referral", "paid"], "cost": [400.0, 2000.0], "currency": ["usd", "USD"]}
    )
    report = channel_report(store, "2024-07-01", scores, costs=costs, horizon="CLV over 12 months")
    assert report.meaning.startswith(
        "Referral customers repeat within 90 days 3.0× as often as paid (60% vs 20%, p<0.001);"
    )
    assert "(12.00 USD, CLV over 12 months)" in report.meaning
    assert "referral returns the most per unit cost (12.0 USD per USD)" in report.meaning
    t = report.table.set_index("channel")
    assert t.at["paid", "cost_per_acquisition"] == 5.0 and t.at["referral", "cost_per_acquisition"] == 1.0
    assert t.at["paid", "value_per_cost"] == pytest.approx(400 * 12 / 2000)


def test_costs_in_another_currency_or_for_a_channel_without_customers(store):
    insert(
        store, "customers", [{"customer_id": "a", "signup_at": "2024-01-01", "acquisition_channel": "paid"}]
    )
    insert(store, "orders", [{"order_id": "1", "customer_id": "a", "ordered_at": "2024-01-02", "amount": 10}])
    scores = pd.DataFrame({"customer_id": ["a"], "clv": [10.0], "csv": [10.0]})
    costs = pd.DataFrame({"channel": ["paid", "tv"], "cost": [50.0, 900.0], "currency": ["EUR", "USD"]})
    report = channel_report(store, "2024-07-01", scores, costs=costs)
    t = report.table.set_index("channel")
    assert t.at["tv", "customers"] == 0 and t.at["tv", "cost_per_acquisition"] == math.inf
    assert t.at["tv", "value_per_cost"] == 0.0
    assert math.isnan(t.at["paid", "value_per_cost"]) and t.at["paid", "cost_per_acquisition"] == 50.0
    assert any("costs in EUR are not compared with values in USD" in n for n in report.notes)
    assert any("no customer acquired: tv" in n for n in report.notes)


def test_read_channel_costs_checks_every_row(tmp_path):
    path = tmp_path / "channel_costs.csv"
    path.write_text(
        "Channel,Cost,Currency\npaid,100,eur\nsocial,-5,USD\npaid,7,USD\n,3,US\n", encoding="utf-8"
    )
    with pytest.raises(SchemaError) as err:
        read_channel_costs(path)
    msg = str(err.value)
    assert msg.startswith("channel_costs.csv: 4 problems in the channel costs:")
    assert "row 2, column 'cost': got '-5'; expected a number >= 0" in msg
    assert "row 3, column 'channel': got 'paid'; expected one row per channel (row 1 names it too)" in msg
    assert "row 4, column 'channel': got ''; expected a channel name" in msg
    assert "row 4, column 'currency': got 'US'" in msg
    assert len(err.value.problems) == 4
    path.write_text("channel,cost,currency\n paid ,100.5,eur\n", encoding="utf-8")
    good = read_channel_costs(path)
    assert good.to_dict("list") == {"channel": ["paid"], "cost": [100.5], "currency": ["EUR"]}
    with pytest.raises(SchemaError, match="lacks column"):
        read_channel_costs(pd.DataFrame({"channel": ["a"], "cost": [1]}))


def test_bad_arguments_are_config_or_schema_errors(store):
    with pytest.raises(ConfigError, match="comparison"):
        channel_report(store, "2024-07-01", comparison="all")
    with pytest.raises(ConfigError, match="repeat_window_days"):
        channel_report(store, "2024-07-01", repeat_window_days=0)
    with pytest.raises(ConfigError, match="as_of"):
        channel_report(store, "not a date")
    with pytest.raises(SchemaError, match="scores lacks column"):
        channel_report(store, "2024-07-01", pd.DataFrame({"customer_id": ["a"], "clv": [1.0]}))
    empty = channel_report(store, "2024-07-01")
    assert empty.table.empty and empty.tests.empty
    assert empty.meaning == "No customer was acquired before the analysis date: nothing to compare."
