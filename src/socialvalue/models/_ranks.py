"""Rank-based scores shared by RFM, tiers and the value coefficient (numpy only, no loops over customers).

Two conventions live here, in one place:

* :func:`quantile_scores` — the 1..``bins`` score of a value among its peers. With distinct values it equals
  ``pd.qcut(s.rank(method="first"), bins, labels=False) + 1``; ties are resolved deterministically (see there).
* :func:`midrank_percentile` — the mid-rank percentile in (0, 1) used to put heterogeneous components on
  one scale.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.stats import rankdata

__all__ = ["midrank_percentile", "quantile_scores", "threshold_scores"]

Ties = Literal["average", "first"]


def quantile_scores(
    values: np.ndarray,
    bins: int,
    *,
    ties: Ties = "average",
    tiebreak: np.ndarray | None = None,
    higher_is_better: bool = True,
) -> np.ndarray:
    r"""Score each value 1..``bins`` by its rank among all values (equal-frequency bins).

    With :math:`r_i` the rank of value :math:`i` among :math:`n` (1 = smallest) the score is

    .. math:: s_i = \max\left(1, \left\lceil \frac{\text{bins}\,(r_i - 1)}{n - 1} \right\rceil\right),

    computed in exact integer arithmetic. For distinct values this is exactly the bin
    ``pd.qcut(rank, bins, labels=False) + 1`` gives, because the quantiles of the ranks ``1..n`` are
    :math:`1 + (n-1)k/\text{bins}` and ``qcut`` closes bins on the right.

    Parameters
    ----------
    values
        Finite values (no NaN; callers handle missing values before).
    bins
        Number of scores.
    ties
        ``"average"`` (default): tied values get the score of their average rank, so equal inputs always
        get equal scores and a column of equal values gets the middle score :math:`\lceil \text{bins}/2
        \rceil`. ``"first"``: ties are broken by ``tiebreak`` (e.g. the customer id) then by position, giving
        bins of equal size like ``rank(method="first")`` on a frame sorted by ``tiebreak``.
    tiebreak
        Secondary sort key for ``ties="first"``.
    higher_is_better
        When False (recency in days), small values get high scores.

    Returns
    -------
    numpy.ndarray
        ``int8`` scores in 1..``bins``.
    """
    x = np.asarray(values, dtype=float)
    n = x.size
    if n == 0:
        return np.zeros(0, dtype=np.int8)
    if not higher_is_better:
        x = -x
    if n == 1:
        return np.full(1, -(-bins // 2), dtype=np.int8)
    if ties == "average":
        # Average ranks are multiples of 1/2: work with twice the rank so the arithmetic stays integral.
        twice_pos = np.rint(2.0 * rankdata(x, method="average")).astype(np.int64) - 2
    else:
        keys = (x,) if tiebreak is None else (np.unique(np.asarray(tiebreak), return_inverse=True)[1], x)
        order = np.lexsort(keys)  # last key is primary
        rank0 = np.empty(n, dtype=np.int64)
        rank0[order] = np.arange(n, dtype=np.int64)
        twice_pos = 2 * rank0
    num = twice_pos * bins
    den = 2 * (n - 1)
    score = -(-num // den)  # ceil division
    return np.maximum(score, 1).astype(np.int8)


def threshold_scores(
    values: np.ndarray, edges: tuple[float, ...], *, higher_is_better: bool = True
) -> np.ndarray:
    """Score by fixed ascending edges; a value equal to an edge belongs to the bin above it.

    With ``k`` edges there are ``k + 1`` scores. For ``higher_is_better=False`` (recency in days) the lowest bin
    gets the highest score.
    """
    idx = np.searchsorted(np.asarray(edges, dtype=float), np.asarray(values, dtype=float), side="right")
    score = idx + 1 if higher_is_better else len(edges) + 1 - idx
    return score.astype(np.int8)


def midrank_percentile(values: np.ndarray) -> np.ndarray:
    r"""Mid-rank percentile :math:`p_i = (\bar r_i - 1/2)/n \in (0, 1)` of the finite values; NaN stays NaN.

    Tied values share their average rank :math:`\bar r_i`, so a component that is 0 for most customers
    puts them all at the same, middling percentile, and a constant component gives 0.5 to everyone.
    """
    x = np.asarray(values, dtype=float)
    out = np.full(x.shape, np.nan)
    ok = np.isfinite(x)
    n = int(ok.sum())
    if n:
        out[ok] = (rankdata(x[ok], method="average") - 0.5) / n
    return out
