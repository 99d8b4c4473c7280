"""How well a score ranks realized customer value: Spearman, top-decile capture and the Gini of value captured.

Used to compare the customer social value with CLV alone on a holdout (pure numpy/scipy).

References
----------
.. [1] Frees, E. W., Meyers, G., & Cummings, A. D. (2011). Summarizing insurance scores using a Gini index.
   *Journal of the American Statistical Association*, 106(495), 1085-1098 (ordered Lorenz / gains curves).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from socialvalue.errors import SchemaError

__all__ = ["RankingMetrics", "ranking_metrics"]


@dataclass(frozen=True)
class RankingMetrics:
    r"""How well a score ranks realized value.

    Attributes
    ----------
    spearman
        Spearman rank correlation between score and value.
    top_decile_capture
        Share of total value held by the top 10% of customers by score.
    gini
        Gini coefficient of the gains curve (value captured against customers, ordered by score):
        :math:`2 \cdot \text{AUC} - 1`.
    gini_normalized
        ``gini`` divided by the Gini of the perfect ordering (1 = ranks value perfectly).
    """

    spearman: float
    top_decile_capture: float
    gini: float
    gini_normalized: float


def _tie_averaged_gains(y: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Values ordered by descending score, each tie group replaced by its mean (expected order in ties)."""
    order = np.argsort(-score, kind="stable")
    s, v = score[order], y[order]
    _, start, counts = np.unique(-s, return_index=True, return_counts=True)
    group = np.repeat(np.arange(len(start)), counts)
    means = np.bincount(group, weights=v) / counts
    return means[group]


def _gini(gains: np.ndarray) -> float:
    total = gains.sum()
    if total == 0:
        return 0.0
    n = len(gains)
    cum = np.cumsum(gains) / total
    auc = (cum.sum() - 0.5 * cum[-1]) / n  # trapezoid under the gains curve from (0, 0)
    return float(2.0 * auc - 1.0)


def ranking_metrics(value: np.ndarray | pd.Series, score: np.ndarray | pd.Series) -> RankingMetrics:
    """Spearman correlation, top-decile capture and Gini of value captured when ranking by ``score``.

    Ties in ``score`` are resolved by expectation (random order within ties), so a constant score captures
    exactly its share of customers.

    Parameters
    ----------
    value
        Realized value per customer (e.g. holdout revenue plus network revenue).
    score
        Score used to rank customers (e.g. CSV or CLV).

    Returns
    -------
    RankingMetrics
        The four ranking measures.
    """
    y = np.asarray(value, dtype=float)
    s = np.asarray(score, dtype=float)
    if y.shape != s.shape or y.ndim != 1 or len(y) < 2:
        raise SchemaError(f"value and score must be 1-D of the same length >= 2; got {y.shape} and {s.shape}")
    gains = _tie_averaged_gains(y, s)
    k = max(1, int(np.ceil(0.1 * len(y))))
    total = y.sum()
    capture = float(gains[:k].sum() / total) if total != 0 else 0.0
    g = _gini(gains)
    g_best = _gini(np.sort(y)[::-1])
    rho = float(spearmanr(s, y).statistic) if np.ptp(s) > 0 and np.ptp(y) > 0 else 0.0
    return RankingMetrics(
        spearman=rho,
        top_decile_capture=capture,
        gini=g,
        gini_normalized=float(g / g_best) if g_best > 0 else 0.0,
    )
