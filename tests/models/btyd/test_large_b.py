"""BG/NBD and MBG/NBD predictions with a large dropout parameter ``b`` (hundreds): no NaN, mpmath's values.

With ``b`` ~ 500 scipy's ``hyp2f1`` returns NaN for :math:`E[Y(t)\\mid\\text{alive}]` near :math:`z = 1`, in the
direct form and in Euler's, so the DERT of ``socialvalue run`` (continuous discounting, infinite horizon) was
NaN for recent customers with few purchases: 960 of the 6,000 daily customers of ``_population`` (and 2,880
NaN cells in the delta interval), 30,095 of 190,000 alike with ``b = 501``. Those entries are now the beta
mixture the formula comes from; every entry scipy evaluates finitely is unchanged."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import mpmath
import numpy as np
import pandas as pd
import pytest
from scipy import special

from socialvalue.models.btyd import BetaGeo, BTYDModel, ModifiedBetaGeo
from socialvalue.models.btyd.bgnbd import _DERT_V
from socialvalue.models.btyd.clv import continuous_rate, customer_lifetime_value, discounted_purchases

PARAMS = {"r": 0.5, "alpha": 5.0, "a": 2.0, "b": 500.0}
DAILY = continuous_rate(
    0.15, 365
)  # 15% a year on daily data: the DERT grid reaches t = e^4 / DAILY ~ 143k days
WithParams = Callable[[BTYDModel, Mapping[str, float]], BTYDModel]


def _scipy_term(params: np.ndarray, x, T, t, shift: int = 0) -> np.ndarray:
    """The BG/NBD kernel's scipy evaluation before the fix (direct form, Euler's where that overflows)."""
    r, alpha, a, b = params
    big_a, big_b, c = r + x, b + x + shift, a + b + x + shift - 1
    ratio, z = (alpha + T) / (alpha + T + t), t / (alpha + T + t)
    with np.errstate(all="ignore"):
        term = special.hyp2f1(big_a, big_b, c, z) * ratio**big_a
        euler = ratio ** (a - 1) * special.hyp2f1(c - big_a, c - big_b, c, z)
        term = np.where(np.isfinite(term), term, euler)
        return (a + b + x + shift - 1) / (a - 1) * (1.0 - term)


def _population(model_cls: type[BetaGeo], n: int = 6000) -> pd.DataFrame:
    """Daily customers simulated from PARAMS, observed 1 to 1,095 days, recency in whole days."""
    rng = np.random.default_rng(0)
    T = rng.integers(1, 1096, size=n).astype(float)
    sim = model_cls.simulate(PARAMS, T=T, rng=1)
    rec = np.where(sim["frequency"] > 0, np.minimum(np.round(sim["recency"]), sim["T"]), 0.0)
    return pd.DataFrame({"frequency": sim["frequency"], "recency": rec, "T": sim["T"]})


@pytest.fixture(scope="module", params=[BetaGeo, ModifiedBetaGeo], ids=["bgnbd", "mbgnbd"])
def large_b(request, cdnow: pd.DataFrame, with_params: WithParams) -> tuple[BetaGeo, pd.DataFrame]:
    """A model carrying PARAMS (fitted on CDNOW for its covariance) and customers simulated from PARAMS."""
    model = with_params(request.param().fit(cdnow), PARAMS)
    return model, _population(request.param)


def _theta() -> np.ndarray:
    return np.array([PARAMS[k] for k in ("r", "alpha", "a", "b")])


def test_scipy_hyp2f1_is_nan_on_the_dert_grid(large_b):
    """The reproduction: scipy's evaluation (both forms) is NaN for many customers' DERT grids."""
    model, data = large_b
    pairs = data.drop_duplicates(["frequency", "T"])
    x, T = pairs["frequency"].to_numpy(float), pairs["T"].to_numpy(float)
    t = np.exp(_DERT_V) / DAILY
    old = _scipy_term(_theta(), x[:, None], T[:, None], t[None, :], model._shift)
    bad_rows = ~np.isfinite(old).all(axis=1)
    assert bad_rows.sum() > 100  # customers whose DERT was NaN
    assert np.all(pairs["frequency"].to_numpy()[bad_rows] <= 15)  # few purchases, so z close to 1 matters
    new = model._alive_purchases(_theta(), x[:, None], T[:, None], t[None, :])
    assert np.all(np.isfinite(new)) and np.all(new > 0)


def test_finite_scipy_values_are_bit_identical(large_b):
    """Entries scipy evaluates finitely are untouched (published numbers and lifetimes' parity cannot move)."""
    model, _ = large_b
    x = np.arange(0, 40, dtype=float)[:, None, None]
    T = np.array([0.0, 1.0, 39.0, 365.0, 1095.0])[None, :, None]
    t = np.exp(np.linspace(-5, 13, 90))[None, None, :]
    for params in (_theta(), np.array([0.243, 4.414, 0.793, 2.426]), np.array([2.0, 100.0, 1.2, 2000.0])):
        old = _scipy_term(params, x, T, t, model._shift)
        new = model._alive_purchases(params, x, T, t)
        ok = np.isfinite(old)
        np.testing.assert_array_equal(new[ok], old[ok])
        assert np.all(np.isfinite(new))


def test_new_values_match_mpmath(large_b):
    """Entries that were NaN equal mpmath's 2F1 (50 digits) to 1e-11 relative."""
    model, _ = large_b
    s = model._shift
    r, alpha, a, b = _theta()
    x = np.arange(0, 12, dtype=float)[:, None]
    T = np.array([0.0, 30.0, 1000.0])[None, :, None]
    t = np.exp(np.linspace(7, 14, 15))[None, None, :]
    X, TT, tt = np.broadcast_arrays(x[:, :, None], T, t)
    old = _scipy_term(_theta(), X, TT, tt, s)
    pick = np.flatnonzero(~np.isfinite(old.ravel()))
    assert pick.size > 50
    pick = pick[:: max(1, pick.size // 40)]
    got = model._alive_purchases(_theta(), X.ravel()[pick], TT.ravel()[pick], tt.ravel()[pick])
    with mpmath.workdps(50):
        ref = []
        for xi, Ti, ti in zip(X.ravel()[pick], TT.ravel()[pick], tt.ravel()[pick], strict=True):
            big_a, big_b = mpmath.mpf(r) + xi, mpmath.mpf(b) + xi + s
            c = big_b + a - 1
            ratio = (alpha + mpmath.mpf(Ti)) / (alpha + mpmath.mpf(Ti) + ti)
            f = mpmath.hyp2f1(big_a, big_b, c, 1 - ratio)
            ref.append(float(c / (a - 1) * (1 - ratio**big_a * f)))
    np.testing.assert_allclose(got, ref, rtol=1e-11)


def test_dert_matches_numerical_integration_and_monte_carlo(large_b):
    """The DERT of three customers once NaN: mpmath's integral of the closed form (1e-9), and Monte Carlo."""
    model, _ = large_b
    s = model._shift
    r, alpha, a, b = _theta()
    rows = pd.DataFrame({"frequency": [0, 3, 9], "recency": [0.0, 80.0, 40.0], "T": [30.0, 100.0, 52.0]})
    x, T = rows["frequency"].to_numpy(float), rows["T"].to_numpy(float)
    old = _scipy_term(_theta(), x[:, None], T[:, None], (np.exp(_DERT_V) / DAILY)[None, :], s)
    assert not np.isfinite(old).all(axis=1).any()  # all three were NaN (recent customers, few purchases)
    got = model._dert_alive(_theta(), x, T, DAILY)
    d = mpmath.mpf(DAILY)
    with mpmath.workdps(30):
        ref = []
        for xi, Ti in zip(x, T, strict=True):
            big_a, big_b = mpmath.mpf(r) + xi, mpmath.mpf(b) + xi + s
            c, beta = big_b + a - 1, alpha + mpmath.mpf(Ti)

            def alive(t, big_a=big_a, big_b=big_b, c=c, beta=beta):
                return (
                    c
                    / (a - 1)
                    * (1 - (beta / (beta + t)) ** big_a * mpmath.hyp2f1(big_a, big_b, c, t / (beta + t)))
                )

            ref.append(
                float(
                    mpmath.quad(lambda t: d * mpmath.exp(-d * t) * alive(t), [0, 1 / d, 10 / d, mpmath.inf])
                )
            )
    np.testing.assert_allclose(got, ref, rtol=1e-9)
    # Given alive, lambda ~ Gamma(r + x, alpha + T) and p ~ Beta(a, b + x + shift), and a customer with
    # (lambda, p) has DERT lambda / (delta + lambda p): Monte Carlo within 5 standard errors.
    rng = np.random.default_rng(3)
    for xi, Ti, gi in zip(x, T, got, strict=True):
        lam = rng.gamma(r + xi, 1.0 / (alpha + Ti), size=400_000)
        p = rng.beta(a, b + xi + s, size=lam.size)
        draws = lam / (DAILY + lam * p)
        assert abs(draws.mean() - gi) < 5 * draws.std() / np.sqrt(draws.size)


def test_clv_and_delta_interval_are_finite(large_b):
    """CLV (continuous DERT) and its delta-method interval: no NaN, estimate inside its interval."""
    model, data = large_b
    dert = discounted_purchases(model, data, discount_rate=DAILY, method="continuous")
    assert dert.notna().all() and (dert > 0).all()
    clv = customer_lifetime_value(
        model, None, data, margin=0.3, discount_rate=DAILY, method="continuous", interval=0.9
    )
    assert clv.notna().all().all()
    assert (clv["lower"] <= clv["estimate"]).all() and (clv["estimate"] <= clv["upper"]).all()
    np.testing.assert_allclose(clv["estimate"], 0.3 * dert, rtol=1e-12)


def test_p_alive_and_expected_purchases_are_finite(large_b):
    """P(alive), conditional and unconditional expected purchases over long horizons: finite and ordered."""
    model, data = large_b
    p_alive = model.probability_alive(data, interval=0.9)
    assert p_alive.notna().all().all() and ((p_alive["estimate"] > 0) & (p_alive["estimate"] <= 1)).all()
    for t in (365.0, 10_000.0, 100_000.0):
        pred = model.predict_purchases(data, t, interval=0.9)
        assert pred.notna().all().all() and (pred["estimate"] >= 0).all()
    horizons = [1.0, 1e3, 1e4, 1e5, 1e6]
    unconditional = model.expected_purchases(horizons, interval=0.9)
    assert unconditional.notna().all().all()
    assert np.all(np.diff(unconditional["estimate"].to_numpy()) > 0)
    # at most the purchases until dropout: E[1/p] - shift = (a + b - 1)/(a - 1) - shift
    a, b = PARAMS["a"], PARAMS["b"]
    assert unconditional["estimate"].iloc[-1] < (a + b - 1) / (a - 1) - model._shift


def test_a_equal_one_is_the_limit(large_b):
    """a = 1 (the closed form's 0/0) is the continuous limit of its neighbours, not NaN."""
    model, _ = large_b
    x, T, t = np.array([0.0, 2.0]), np.array([10.0, 100.0]), np.array([50.0, 5000.0])
    at_one = model._alive_purchases(np.array([0.5, 5.0, 1.0, 500.0]), x, T, t)
    near = [model._alive_purchases(np.array([0.5, 5.0, 1.0 + e, 500.0]), x, T, t) for e in (-1e-6, 1e-6)]
    assert np.all(np.isfinite(at_one))
    np.testing.assert_allclose(at_one, (near[0] + near[1]) / 2, rtol=1e-6)
