"""Customer referral value on tiny hand-computable data (Kumar, Petersen & Leone 2010, eq. 1)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from socialvalue.config import validate_config
from socialvalue.errors import ConfigError, SchemaError
from socialvalue.social.referral import ReferralConfig, estimate_type_one_share, referral_value

AS_OF = pd.Timestamp("2024-01-01")
T0 = pd.Timestamp("2023-01-01")


def _referrals(rows):
    return pd.DataFrame(rows, columns=["referrer_id", "referred_id", "referred_at"])


def _orders(rows):
    return pd.DataFrame(rows, columns=["customer_id", "ordered_at", "amount"])


@pytest.fixture
def one_referral():
    refs = _referrals([("A", "B", T0)])
    orders = _orders(
        [
            ("B", pd.Timestamp("2022-12-01"), 50.0),  # before the referral: not counted
            ("B", pd.Timestamp("2023-02-01"), 100.0),
            ("B", pd.Timestamp("2024-02-01"), 70.0),  # after as_of: not seen
            ("A", pd.Timestamp("2023-03-01"), 999.0),  # the referrer's own order: never in CRV
        ]
    )
    clv = pd.Series({"B": 200.0, "A": 5000.0})
    return refs, orders, clv


def _cfg(**kw):
    base = dict(margin=0.5, discount_rate=0.0, incentive=10.0, acquisition_cost=30.0, retention_cost=5.0)
    base.update(kw)
    return ReferralConfig(**base)


def test_type_one_referral_counts_margin_clv_and_saved_cost(one_referral):
    refs, orders, clv = one_referral
    out = referral_value(refs, orders, AS_OF, clv=clv, config=_cfg(type_one_share=1.0))
    row = out.set_index("customer_id").loc["A"]
    # V = 0.5*100 + 0.5*200 = 150; CRV = 150 - 10 - 5 + 30 = 165
    assert row["referred_revenue"] == pytest.approx(100.0)
    assert row["referred_margin_pv"] == pytest.approx(50.0)
    assert row["referred_clv_pv"] == pytest.approx(100.0)
    assert row["crv"] == pytest.approx(165.0)
    assert list(out["customer_id"]) == ["A"]


def test_type_two_referral_counts_only_saved_acquisition_cost(one_referral):
    refs, orders, clv = one_referral
    out = referral_value(refs, orders, AS_OF, clv=clv, config=_cfg(type_one_share=0.0))
    assert out["crv"].iloc[0] == pytest.approx(30.0)
    charged = referral_value(
        refs, orders, AS_OF, clv=clv, config=_cfg(type_one_share=0.0, charge_incentive_on_type_two=True)
    )
    assert charged["crv"].iloc[0] == pytest.approx(20.0)


def test_mixed_share_is_the_expected_value(one_referral):
    refs, orders, clv = one_referral
    out = referral_value(refs, orders, AS_OF, clv=clv, config=_cfg(type_one_share=0.25))
    # 0.25 * 165 + 0.75 * 30
    assert out["crv"].iloc[0] == pytest.approx(63.75)
    assert out["type_one_share"].iloc[0] == 0.25


def test_discounting_to_the_referral_date():
    year = pd.Timedelta(days=365.25)
    refs = _referrals([("A", "B", T0)])
    orders = _orders([("B", T0 + year, 110.0)])
    as_of = T0 + 2 * year
    cfg = ReferralConfig(margin=1.0, discount_rate=0.1, type_one_share=1.0)
    out = referral_value(refs, orders, as_of, clv=pd.Series({"B": 121.0}), config=cfg)
    assert out["referred_margin_pv"].iloc[0] == pytest.approx(100.0)
    assert out["referred_clv_pv"].iloc[0] == pytest.approx(100.0)
    assert out["crv"].iloc[0] == pytest.approx(200.0)


def test_each_referred_customer_counts_once_for_the_earliest_referrer():
    refs = _referrals(
        [
            ("A", "B", T0),
            ("C", "B", T0 + pd.Timedelta(days=3)),  # later claim on B: ignored
            ("A", "D", T0),
            ("C", "E", AS_OF + pd.Timedelta(days=1)),  # after as_of: ignored
        ]
    )
    orders = _orders([("B", T0 + pd.Timedelta(days=10), 10.0), ("D", T0 + pd.Timedelta(days=10), 20.0)])
    cfg = ReferralConfig(margin=1.0, discount_rate=0.0, acquisition_cost=1.0)
    out = referral_value(refs, orders, AS_OF, config=cfg).set_index("customer_id")
    assert list(out.index) == ["A"]
    assert out.loc["A", "n_referrals"] == 2
    assert out.loc["A", "crv"] == pytest.approx(10.0 + 20.0 + 2 * 1.0)


def test_type_one_share_estimated_from_displacement_of_organic_signups():
    rng = np.random.default_rng(3)
    weeks = pd.date_range("2022-01-03", periods=60, freq="7D")
    referred = rng.integers(0, 20, len(weeks))
    organic = 50 - 0.4 * referred + 0.2 * np.arange(len(weeks))  # 40% of referrals displaced organic joins
    organic, referred = np.round(organic * 5).astype(int), referred * 5  # integer counts, same slope
    rows = [(w, True) for w, k in zip(weeks, referred, strict=True) for _ in range(k)]
    rows += [
        (w + pd.Timedelta(hours=1), False) for w, k in zip(weeks, organic, strict=True) for _ in range(k)
    ]
    signups = pd.DataFrame(rows, columns=["signup_at", "referred"])
    est = estimate_type_one_share(signups)
    assert est.n_periods == 60
    assert est.slope == pytest.approx(-0.4, abs=0.01)
    assert est.share == pytest.approx(0.6, abs=0.01)

    refs = _referrals([("A", "B", T0)])
    out = referral_value(
        refs,
        _orders([]),
        AS_OF,
        signups=signups,
        config=ReferralConfig(acquisition_cost=10.0, type_one_share="estimate"),
    )
    assert out["type_one_share"].iloc[0] == pytest.approx(est.share)
    assert out["crv"].iloc[0] == pytest.approx(10.0)


def test_config_and_input_errors(one_referral):
    refs, orders, _ = one_referral
    with pytest.raises(ConfigError, match="type_one_share"):
        validate_config(ReferralConfig, {"type_one_share": 1.5})
    with pytest.raises(ConfigError, match="margn"):
        validate_config(ReferralConfig, {"margn": 0.2})
    with pytest.raises(ConfigError, match="needs a signups frame"):
        referral_value(refs, orders, AS_OF, config=ReferralConfig(type_one_share="estimate"))
    with pytest.raises(SchemaError, match="referrals frame lacks column"):
        referral_value(refs.drop(columns="referred_at"), orders, AS_OF)


def test_inputs_are_not_mutated(one_referral):
    refs, orders, clv = one_referral
    before = (refs.copy(), orders.copy())
    referral_value(refs, orders, AS_OF, clv=clv)
    pd.testing.assert_frame_equal(refs, before[0])
    pd.testing.assert_frame_equal(orders, before[1])
