"""log 2F1 for the Pareto/NBD and BG/BB: checked against mpmath (40 digits) where scipy's hyp2f1 fails."""

from __future__ import annotations

import numpy as np
import pytest

from socialvalue.models.btyd._hyp2f1 import alive_purchases_integral, log_beta, log_hyp2f1, log_hyp2f1_a1

mpmath = pytest.importorskip("mpmath")


def _pnbd_like_grid(n: int, seed: int, max_log_gap: float = 25.0):
    """Parameters of the kind the Pareto/NBD likelihood produces, z from 0 to within 1e-11 of 1."""
    rng = np.random.default_rng(seed)
    r, s = np.exp(rng.uniform(-4, 3, n)), np.exp(rng.uniform(-4, 3, n))
    x = rng.integers(0, 300, n)
    a = r + s + x
    b = np.where(rng.random(n) < 0.5, s + 1, r + x)
    b = np.where(b > 0, b, s + 1)
    zc = np.exp(-rng.uniform(0, max_log_gap, n))
    return a, b, zc


def _ref(a, b, c, zc) -> np.ndarray:
    with mpmath.workdps(40):
        return np.array(
            [
                float(mpmath.log(mpmath.hyp2f1(ai, bi, ci, 1 - mpmath.mpf(zci))))
                for ai, bi, ci, zci in zip(a, b, c, zc, strict=True)
            ]
        )


def test_log_hyp2f1_matches_mpmath_up_to_z_near_one():
    """Euler-transformed series and the quadrature fallback agree with mpmath to ~1e-12 relative."""
    a, b, zc = _pnbd_like_grid(300, seed=1)
    rng = np.random.default_rng(5)
    c = np.where(rng.random(a.size) < 0.7, a + 1, a + rng.integers(1, 20, a.size))
    got = log_hyp2f1(a, b, c, 1 - zc, zc)
    ref = _ref(a, b, c, zc)
    assert np.max(np.abs(got - ref) / np.maximum(1, np.abs(ref))) < 1e-12


def test_log_hyp2f1_known_scipy_failure_point():
    """2F1(175.48, 1.0336; 176.48; 0.99928): scipy.special.hyp2f1 returned inf here; the log is 5.7377."""
    a, b, zc = 175.48082621044898, 1.0335999487202157, 1 - 0.9992819543087906
    got = log_hyp2f1(a, b, a + 1, 1 - zc, zc)
    assert float(got) == pytest.approx(float(_ref([a], [b], [a + 1], [zc])[0]), rel=1e-12)


def test_log_hyp2f1_a1_value_and_gradient_match_mpmath():
    a, b, zc = _pnbd_like_grid(60, seed=2, max_log_gap=12.0)
    zc[::10] = 1.0  # z = 0 exactly (alpha == beta)
    value, da, db, dz = log_hyp2f1_a1(a, b, 1 - zc, zc)
    ref = _ref(a, b, a + 1, zc)
    assert np.max(np.abs(value - ref) / np.maximum(1, np.abs(ref))) < 1e-12

    def f(ai, bi, zi):
        return mpmath.log(mpmath.hyp2f1(ai, bi, ai + 1, zi))

    with mpmath.workdps(30):
        for i in range(0, a.size, 3):
            z = 1 - mpmath.mpf(zc[i])
            ra = float(mpmath.diff(lambda t, i=i, z=z: f(t, b[i], z), a[i]))
            rb = float(mpmath.diff(lambda t, i=i, z=z: f(a[i], t, z), b[i]))
            rz = float(mpmath.diff(lambda t, i=i: f(a[i], b[i], t), z))
            assert da[i] == pytest.approx(ra, rel=1e-8, abs=1e-8)
            assert db[i] == pytest.approx(rb, rel=1e-8, abs=1e-8)
            assert dz[i] == pytest.approx(rz, rel=1e-7, abs=1e-8)


def test_log_hyp2f1_a1_hessian_matches_mpmath():
    """Second derivatives (the Pareto/NBD Newton fit's Hessian) against mpmath's numerical ones (30 digits)."""
    a, b, zc = _pnbd_like_grid(40, seed=5, max_log_gap=3.0)
    zc[::8] = 1.0  # z = 0 exactly (alpha == beta): the series' limits
    out = log_hyp2f1_a1(a, b, 1 - zc, zc, fallback=False, hessian=True)
    assert len(out) == 10
    for got, ref in zip(out[:4], log_hyp2f1_a1(a, b, 1 - zc, zc, fallback=False), strict=True):
        np.testing.assert_array_equal(got, ref)
    names = ("aa", "ab", "bb", "az", "bz", "zz")
    orders = ((2, 0, 0), (1, 1, 0), (0, 2, 0), (1, 0, 1), (0, 1, 1), (0, 0, 2))

    def f(ai, bi, zi):
        return mpmath.log(mpmath.hyp2f1(ai, bi, ai + 1, zi))

    with mpmath.workdps(30):
        for i in range(0, a.size, 2):
            point = (mpmath.mpf(a[i]), mpmath.mpf(b[i]), 1 - mpmath.mpf(zc[i]))
            for name, order, got in zip(names, orders, out[4:], strict=True):
                ref = float(mpmath.diff(f, point, order))
                assert got[i] == pytest.approx(ref, rel=1e-7, abs=1e-9), (name, a[i], b[i], zc[i])
    with pytest.raises(ValueError, match="fallback=False"):
        log_hyp2f1_a1(a, b, 1 - zc, zc, hessian=True)


def test_log_hyp2f1_rejects_outside_domain():
    with pytest.raises(ValueError, match="c > max"):
        log_hyp2f1(2.0, 1.0, 1.5, 0.5)


def test_alive_purchases_integral_matches_mpmath():
    """The beta-mixture quadrature equals the 2F1 closed form (mpmath, 40 digits) to 1e-11 relative.

    Random parameters over a wide box: A in [0.01, 300], B in [0.05, 5000], a in [0.05, 80] (both sides of 1),
    tau in [1e-6, 1e7], where scipy's hyp2f1 is NaN, inaccurate (1 - term cancels) or fine.
    """
    rng = np.random.default_rng(11)
    n = 160
    big_a = np.exp(rng.uniform(np.log(0.01), np.log(300), n))
    big_b = np.exp(rng.uniform(np.log(0.05), np.log(5000), n))
    a = np.exp(rng.uniform(np.log(0.05), np.log(80), n))
    a = np.where(np.abs(a - 1) < 1e-3, 1.5, a)
    tau = np.exp(rng.uniform(np.log(1e-6), np.log(1e7), n))
    got = alive_purchases_integral(big_a, big_b, a, tau)
    with mpmath.workdps(40):
        ref = []
        for ai, bi, ci, ti in zip(big_a, big_b, a, tau, strict=True):
            ai, bi, ci, ti = (mpmath.mpf(float(v)) for v in (ai, bi, ci, ti))
            c = ci + bi - 1
            ref.append(float(c / (ci - 1) * (1 - (1 + ti) ** -ai * mpmath.hyp2f1(ai, bi, c, ti / (1 + ti)))))
    np.testing.assert_allclose(got, ref, rtol=1e-11)
    assert np.all(alive_purchases_integral(1.0, 2.0, 3.0, [0.0, 0.0]) == 0.0)


def test_log_beta_matches_mpmath_where_betaln_drifts():
    """log B(a, b) to 1e-14 absolute; scipy's betaln is 8e-12 off at (8.77, 4650)."""
    rng = np.random.default_rng(2)
    a, b = np.exp(rng.uniform(-3, 9, 400)), np.exp(rng.uniform(-3, 9, 400))
    a[:3], b[:3] = [8.77, 0.5, 2.0], [4650.0, 15.0, 500.0]
    with mpmath.workdps(40):
        ref = np.array(
            [float(mpmath.log(mpmath.beta(mpmath.mpf(x), mpmath.mpf(y)))) for x, y in zip(a, b, strict=True)]
        )
    np.testing.assert_allclose(log_beta(a, b), ref, rtol=0, atol=1e-14 * np.maximum(1.0, np.abs(ref)).max())
    np.testing.assert_allclose(log_beta(b, a), log_beta(a, b), rtol=0, atol=0)
