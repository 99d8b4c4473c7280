"""The statistics under the insight analyses, against scipy's reference implementations and known coverage.

Wilson intervals equal scipy's ``binomtest(...).proportion_ci(method="wilson")``; their exact coverage (a sum
over the binomial distribution, no simulation noise) stays near 95% across group sizes and rates, the
property that makes them the right interval for small channels and cohorts (Brown, Cai & DasGupta 2001,
fig. 5). The t-interval's coverage is checked by simulation with a known mean. The two-proportion z-test is
the square root of Pearson's chi-square (``chi2_contingency`` without continuity correction), Welch's test
equals ``ttest_ind(equal_var=False)``, Holm's adjustment a worked example, and the Kaplan–Meier median the
median of scipy's ``ecdf`` on right-censored data.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from socialvalue.errors import ConfigError
from socialvalue.insight import _stats


@pytest.mark.parametrize(("k", "n"), [(0, 10), (1, 10), (5, 10), (10, 10), (3, 250), (120, 250), (1, 1)])
def test_wilson_equals_scipy(k, n):
    lo, hi = _stats.wilson_interval(k, n)
    ref = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert float(lo) == pytest.approx(ref.low, abs=1e-12)
    assert float(hi) == pytest.approx(ref.high, abs=1e-12)


def test_wilson_of_an_empty_group_is_everything_and_arrays_broadcast():
    lo, hi = _stats.wilson_interval([0, 2, 5], [0, 4, 5], level=0.9)
    assert lo[0] == 0.0 and hi[0] == 1.0
    assert hi[2] == 1.0 and 0 < lo[2] < 1
    ref = stats.binomtest(2, 4).proportion_ci(confidence_level=0.9, method="wilson")
    assert (lo[1], hi[1]) == pytest.approx((ref.low, ref.high))


@pytest.mark.parametrize(("n", "p"), [(20, 0.3), (50, 0.1), (50, 0.5), (200, 0.05), (200, 0.4), (1000, 0.02)])
def test_wilson_exact_coverage_is_near_nominal(n, p):
    """Exact coverage: the binomial probability of the k whose interval holds the true rate."""
    k = np.arange(n + 1)
    lo, hi = _stats.wilson_interval(k, n)
    coverage = stats.binom.pmf(k, n, p)[(lo <= p) & (p <= hi)].sum()
    assert 0.93 <= coverage <= 0.98


def test_mean_interval_covers_a_known_mean_at_its_rate():
    rng = np.random.default_rng(3)
    shape, scale, n, reps = 2.0, 50.0, 60, 4000
    draws = rng.gamma(shape, scale, size=(reps, n))
    hits = 0
    for row in draws:
        _, lo, hi = _stats.mean_interval(row)
        hits += lo <= shape * scale <= hi
    assert 0.93 <= hits / reps <= 0.96


def test_mean_interval_equals_scipy_and_never_fails_on_small_groups():
    x = np.array([3.0, 5.0, 10.0, np.nan, 2.0])
    mean, lo, hi = _stats.mean_interval(x, level=0.9)
    finite = x[np.isfinite(x)]
    ref = stats.t.interval(0.9, len(finite) - 1, loc=finite.mean(), scale=stats.sem(finite))
    assert mean == pytest.approx(finite.mean())
    assert (lo, hi) == pytest.approx(ref)
    assert _stats.mean_interval([7.0]) == (7.0, -math.inf, math.inf)
    assert all(math.isnan(v) for v in _stats.mean_interval([]))


def test_two_proportion_z_is_the_root_of_pearsons_chi_square():
    z, p = _stats.two_proportion_test(41, 100, 25, 100)
    chi2, p_ref, _, _ = stats.chi2_contingency([[41, 59], [25, 75]], correction=False)
    assert z**2 == pytest.approx(chi2)
    assert z > 0
    assert p == pytest.approx(p_ref)
    assert _stats.two_proportion_test(0, 10, 0, 20) == (0.0, 1.0)
    assert all(math.isnan(v) for v in _stats.two_proportion_test(1, 0, 3, 4))


def test_welch_equals_scipy_and_handles_degenerate_groups():
    rng = np.random.default_rng(1)
    a, b = rng.normal(10, 2, 30), rng.normal(11, 5, 12)
    t, p = _stats.welch_test(a, b)
    ref = stats.ttest_ind(a, b, equal_var=False)
    assert (t, p) == pytest.approx((ref.statistic, ref.pvalue))
    assert all(math.isnan(v) for v in _stats.welch_test([1.0], [1.0, 2.0]))
    assert _stats.welch_test([2.0, 2.0], [2.0, 2.0]) == (0.0, 1.0)
    assert _stats.welch_test([3.0, 3.0], [2.0, 2.0]) == (math.inf, 0.0)


def test_holm_adjusts_a_worked_example():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 -> 0.02, 0.03, 0.06, 0.04; running max -> ..., 0.06
    got = _stats.holm([0.01, 0.04, 0.03, 0.005, np.nan])
    np.testing.assert_allclose(got[:4], [0.03, 0.06, 0.06, 0.02])
    assert np.isnan(got[4])
    assert _stats.holm([0.6, 0.9]).tolist() == [1.0, 1.0]
    assert _stats.holm([]).size == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_km_median_equals_scipys_kaplan_meier(seed):
    rng = np.random.default_rng(seed)
    t = np.round(rng.exponential(100, 300))
    censor = np.round(rng.uniform(0, 300, 300))
    observed = t <= censor
    durations = np.where(observed, t, censor)
    sf = stats.ecdf(stats.CensoredData.right_censored(durations, ~observed)).sf
    ref = float(sf.quantiles[np.flatnonzero(sf.probabilities <= 0.5)[0]])
    assert _stats.km_median(durations, observed) == ref


def test_km_median_small_cases():
    assert _stats.km_median([1, 2, 3, 4], [True] * 4) == 2.0
    # two of four censored early: S = 0.5 only at t=5
    assert _stats.km_median([1, 1, 5, 9], [False, False, True, True]) == 5.0
    assert math.isnan(_stats.km_median([1, 2, 3], [True, False, False]))  # never falls to 0.5
    assert math.isnan(_stats.km_median([], []))


def test_a_level_outside_zero_one_is_a_config_error():
    with pytest.raises(ConfigError, match="between 0 and 1"):
        _stats.wilson_interval(1, 2, level=95)
