r"""The statistics of the insight analyses: intervals, tests of a difference, Holm's correction, KM median.

Every function takes arrays or counts and never fails on a small or empty group: it returns a wide (or
infinite) interval, or NaN.

* **Proportions** get the Wilson score interval (Wilson 1927), which keeps its coverage near the nominal level
  for small groups and rates near 0 or 1, where the normal (Wald) interval does not (Brown, Cai & DasGupta
  2001):

  .. math:: \frac{\hat p + \frac{z^2}{2n} \pm z\sqrt{\frac{\hat p(1-\hat p)}{n} + \frac{z^2}{4n^2}}}
            {1 + \frac{z^2}{n}}

* **Means** get the Student-t interval :math:`\bar x \pm t_{n-1}\, s/\sqrt n`.
* **Two proportions** are compared with the pooled two-proportion z-test, **two means** with Welch's t-test
  (unequal variances, Welch–Satterthwaite degrees of freedom): both weigh each group by its size.
* **Holm's step-down correction** (Holm 1979) adjusts a family of p-values so the chance of any false
  rejection stays below the level, without Bonferroni's loss of power.

References
----------
.. [1] Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference. *JASA* 22,
   209-212.
.. [2] Brown, L. D., Cai, T. T. & DasGupta, A. (2001). Interval estimation for a binomial proportion.
   *Statistical Science* 16(2), 101-133.
.. [3] Holm, S. (1979). A simple sequentially rejective multiple test procedure. *Scandinavian Journal of
   Statistics* 6(2), 65-70.
.. [4] Welch, B. L. (1947). The generalization of "Student's" problem when several different population
   variances are involved. *Biometrika* 34, 28-35.
.. [5] Kaplan, E. L. & Meier, P. (1958). Nonparametric estimation from incomplete observations. *JASA* 53,
   457-481.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

__all__ = [
    "holm",
    "km_median",
    "mean_interval",
    "two_proportion_test",
    "welch_test",
    "wilson_interval",
]


def _z(level: float) -> float:
    if not 0 < level < 1:
        from socialvalue.errors import ConfigError

        raise ConfigError(f"the interval level must be between 0 and 1, got {level}")
    return float(stats.norm.ppf(0.5 + level / 2))


def wilson_interval(k: ArrayLike, n: ArrayLike, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of ``k`` successes in ``n`` trials (arrays broadcast).

    Returns
    -------
    lower, upper : numpy.ndarray
        ``(0, 1)`` where ``n`` is 0 (nothing is known).
    """
    z = _z(level)
    k_arr, n_arr = np.broadcast_arrays(np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64))
    safe = np.where(n_arr > 0, n_arr, 1.0)
    p = k_arr / safe
    denom = 1 + z * z / safe
    centre = (p + z * z / (2 * safe)) / denom
    half = z * np.sqrt(np.maximum(p * (1 - p) / safe + z * z / (4 * safe * safe), 0.0)) / denom
    # at k = 0 (k = n) the lower (upper) bound is exactly 0 (1); computed, it misses by a rounding error
    lower = np.where((n_arr > 0) & (k_arr > 0), np.clip(centre - half, 0.0, 1.0), 0.0)
    upper = np.where((n_arr > 0) & (k_arr < n_arr), np.clip(centre + half, 0.0, 1.0), 1.0)
    return lower, upper


def mean_interval(values: ArrayLike, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of the finite ``values`` with its Student-t interval.

    Returns
    -------
    mean, lower, upper : float
        NaN for no value; an infinite interval for one value (no spread is known).
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = x.size
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if n == 1:
        return mean, -math.inf, math.inf
    _z(level)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * float(x.std(ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half


def two_proportion_test(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float]:
    """Pooled two-proportion z-test of ``k1/n1`` against ``k2/n2`` (two-sided).

    Returns
    -------
    z, p_value : float
        NaN when a group is empty; ``(0, 1)`` when both groups are all successes or all failures.
    """
    if n1 <= 0 or n2 <= 0:
        return math.nan, math.nan
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = (k1 / n1 - k2 / n2) / se
    return z, float(2 * stats.norm.sf(abs(z)))


def welch_test(a: ArrayLike, b: ArrayLike) -> tuple[float, float]:
    """Welch's unequal-variance t-test of the means of the finite values of ``a`` and ``b`` (two-sided).

    Returns
    -------
    t, p_value : float
        NaN when a group has fewer than two values; when neither group varies, ``(0, 1)`` for equal means
        and ``(±inf, 0)`` for different ones.
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if x.size < 2 or y.size < 2:
        return math.nan, math.nan
    vx, vy = float(x.var(ddof=1)) / x.size, float(y.var(ddof=1)) / y.size
    diff = float(x.mean() - y.mean())
    if vx + vy == 0:
        return (0.0, 1.0) if diff == 0 else (math.copysign(math.inf, diff), 0.0)
    t = diff / math.sqrt(vx + vy)
    df = (vx + vy) ** 2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1))
    return t, float(2 * stats.t.sf(abs(t), df))


def holm(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values of one family (NaN entries stay NaN and do not count in the family)."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = finite.size
    if m == 0:
        return out
    order = finite[np.argsort(p[finite], kind="stable")]
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(adjusted, 1.0)
    return out


def km_median(durations: ArrayLike, observed: ArrayLike) -> float:
    """Kaplan–Meier median of ``durations``, with ``observed`` False for a censored one.

    The median is the first time the survival estimate falls to 0.5 or below; events at a time come before
    the censorings at it (the usual convention). NaN when the estimate never reaches 0.5 (fewer than half
    of the group have had the event, as far as is known) or there is no duration.
    """
    t = np.asarray(durations, dtype=np.float64)
    e = np.asarray(observed, dtype=bool)
    keep = np.isfinite(t)
    t, e = t[keep], e[keep]
    if t.size == 0 or not e.any():
        return math.nan
    times, inverse = np.unique(t, return_inverse=True)
    events = np.bincount(inverse, weights=e.astype(np.float64), minlength=times.size)
    leaving = np.bincount(inverse, minlength=times.size).astype(np.float64)
    at_risk = t.size - np.concatenate(([0.0], np.cumsum(leaving)[:-1]))
    survival = np.cumprod(1.0 - events / at_risk)
    below = np.flatnonzero(survival <= 0.5)
    return float(times[below[0]]) if below.size else math.nan
