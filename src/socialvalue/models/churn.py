r"""Churn early warning: a stated churn definition, model-based and supervised risk scores, and the report.

Definition
----------
A customer *churns* when they make **no purchase in the next** :math:`H` **days** (``horizon_days``). The label
is "no purchase in the holdout", so :math:`H` is the holdout's length: a run sets it to ``[run]
holdout_periods`` in days (182 for 26 weeks); the packaged 90 applies only to direct use on a 90-day holdout.
Which score is published is decided on the holdout by :mod:`socialvalue.models.churn_choice`. Two model
scores estimate the risk:

* :func:`model_churn_risk` — from the fitted BTYD model: :math:`1 - P(\text{alive})`, or with the expected
  number of transactions :math:`E_H` over the horizon, the probability of no purchase in it (below).
* :class:`ChurnClassifier` — scikit-learn's ``HistGradientBoostingClassifier`` on the feature table, trained on
  a calibration/holdout split: features at ``calibration_end``, label ``holdout_transactions == 0`` (the
  feature engine's holdout target), then applied to the features at ``as_of``. The fitted trees are kept as
  arrays (:class:`TreeEnsemble`) and evaluated with numpy, so a classifier saved as JSON (``to_json``, never
  pickle) predicts exactly what the fitted one did. Social signals are features
  like any other — ``referrer_churned`` and ``partners_quiet_share`` (see :mod:`socialvalue.models.churn_social`)
  — because referred customers lose their lower churn once their referrer churns (Van den Bulte et al. 2018).

:class:`ChurnReport` measures either score on labelled customers: AUC, the AUC of recency alone, top-decile
lift, precision at the alert budget and a calibration curve. Alert reasons come from
:mod:`socialvalue.models.churn_reasons`.

References
----------
.. [1] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy way: an
   alternative to the Pareto/NBD model. *Marketing Science* 24(2), 275-284. (P(alive), eq. 13.)
.. [2] Van den Bulte, C., Bayer, E., Skiera, B. & Schmitt, P. (2018). How customer referral programs turn
   social capital into economic capital. *Journal of Marketing Research* 55(1), 132-146.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field
from scipy.special import expit

from socialvalue.config import ConfigModel, validate_config
from socialvalue.errors import ConfigError, NotFittedError, SchemaError
from socialvalue.models import persist
from socialvalue.models._rules import numeric, require_columns
from socialvalue.models._threads import limited_threads
from socialvalue.models.defaults import load_config
from socialvalue.models.lifecycle import trend

__all__ = [
    "ChurnClassifier",
    "ChurnConfig",
    "ChurnReport",
    "ClassifierSettings",
    "TreeEnsemble",
    "churn_design",
    "churn_report",
    "load_churn_config",
    "model_churn_risk",
]

logger = logging.getLogger(__name__)

#: Fewest churners (and non-churners) each of the training and test parts needs: the boosted trees hold out
#: a stratified validation share for early stopping, and an AUC on fewer cases says nothing.
_MIN_CLASS = 5


class ClassifierSettings(ConfigModel):
    """Settings passed to ``HistGradientBoostingClassifier``."""

    learning_rate: float = Field(0.1, gt=0)
    max_iter: int = Field(200, ge=1)
    max_leaf_nodes: int = Field(31, ge=2)
    min_samples_leaf: int = Field(50, ge=1)
    l2_regularization: float = Field(1.0, ge=0)
    early_stopping: bool = True


class ChurnConfig(ConfigModel):
    """Churn definition, alert budget and classifier settings (defaults in ``defaults/churn.toml``)."""

    horizon_days: int = Field(90, ge=1)
    p_alive_threshold: float = Field(0.2, gt=0, lt=1)
    alert_budget: float = Field(0.1, gt=0, le=1)
    top_drivers: int = Field(2, ge=1, le=5)
    explain_features: int = Field(12, ge=1)
    test_share: float = Field(0.3, gt=0, lt=1)
    max_train_rows: int = Field(200_000, ge=100)
    random_state: int = 0
    threads: int | None = Field(1, ge=1)
    features: tuple[str, ...] = Field(min_length=1)
    classifier: ClassifierSettings = ClassifierSettings()
    recent_count_column: str = "n_orders_365d"
    selection_level: float = Field(0.95, gt=0, lt=1)
    min_auc_gain: float = Field(0.0, ge=0, lt=0.5)
    bootstrap: int = Field(500, ge=50)
    long_gap_days: float = Field(90.0, gt=0)
    overdue_ratio: float = Field(1.5, gt=1)

    @property
    def definition(self) -> str:
        """The churn definition in words."""
        return f"no purchase in the next {self.horizon_days} days"


def load_churn_config(path: str | Path | None = None) -> ChurnConfig:
    """Read a :class:`ChurnConfig` from TOML; the packaged default when ``path`` is None."""
    return load_config(path, "churn.toml", ChurnConfig)


def model_churn_risk(
    p_alive: np.ndarray | pd.Series, expected_transactions: np.ndarray | pd.Series | None = None
) -> np.ndarray:
    r"""Churn risk from a fitted BTYD model.

    Without ``expected_transactions`` the risk is :math:`1 - P(\text{alive})`. With the expected number of
    purchases :math:`E_H` over the churn horizon (e.g. ``BetaGeo.conditional_expected_transactions(H, ...)``)
    it is the probability of no purchase in the horizon,

    .. math:: P(X_H = 0) \approx 1 - P(\text{alive}) + P(\text{alive})\,
              \exp\!\left(-\frac{E_H}{P(\text{alive})}\right),

    treating purchases of an alive customer as Poisson with the conditional mean
    :math:`E_H / P(\text{alive})` (exact for a known rate; it ignores the remaining Gamma heterogeneity and
    the chance of dying within the horizon, so it slightly understates the risk of long horizons).

    References
    ----------
    .. [1] Fader, Hardie & Lee (2005), *Marketing Science* 24(2), eqs. (10) and (13).
    """
    p = np.clip(np.asarray(p_alive, dtype=float), 0.0, 1.0)
    if expected_transactions is None:
        return 1.0 - p
    e = np.maximum(np.asarray(expected_transactions, dtype=float), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        alive_zero = np.where(p > 0, np.exp(-e / np.where(p > 0, p, 1.0)), 1.0)
    return np.clip(1.0 - p + p * alive_zero, 0.0, 1.0)


def churn_design(frame: pd.DataFrame, columns: tuple[str, ...] | list[str]) -> pd.DataFrame:
    """The classifier's design matrix: the listed columns that exist or can be derived, as float64.

    Derived columns: ``purchase_trend`` and ``interaction_trend`` (:func:`socialvalue.models.lifecycle.trend`
    of the 90-day windows) and ``overdue`` = ``days_since_last_purchase / ipt_mean_days`` (how many usual
    inter-purchase gaps have passed; NaN for one-time buyers). Missing values stay NaN (the model handles them).
    """
    have = set(frame.columns)
    derivations = {
        "purchase_trend": (("orders_last_90d", "orders_prev_90d"), trend),
        "interaction_trend": (("interactions_last_90d", "interactions_prev_90d"), trend),
        "overdue": (("days_since_last_purchase", "ipt_mean_days"), _ratio),
    }
    out: dict[str, np.ndarray] = {}
    for col in columns:
        if col in have:
            out[col] = numeric(frame, col)
        elif col in derivations and set(derivations[col][0]) <= have:
            inputs, fn = derivations[col]
            out[col] = fn(*(numeric(frame, c) for c in inputs))
    return pd.DataFrame(out, index=frame.index)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


@dataclass(frozen=True, slots=True)
class _Plan:
    """An ensemble's nodes as Python lists (a walk reads them one node at a time) and each tree's features."""

    feature: list[int]
    threshold: list[float]
    missing_left: list[bool]
    left: list[int]
    right: list[int]
    leaf: list[bool]
    value: list[float]
    roots: list[int]
    features: list[frozenset[int]]  # the features each tree splits on

    @classmethod
    def of(cls, nodes: np.ndarray, roots: np.ndarray) -> _Plan:
        """The plan of ``nodes`` (fields of :data:`TreeEnsemble.FIELDS`) with trees rooted at ``roots``."""
        feature, left, right = nodes["feature_idx"].tolist(), nodes["left"].tolist(), nodes["right"].tolist()
        leaf = nodes["is_leaf"].astype(bool).tolist()
        features = []
        for root in roots.tolist():  # the features of the nodes each tree reaches
            used, stack, seen = set(), [root], 0
            while stack:
                i = stack.pop()
                seen += 1
                if seen > len(leaf):
                    raise ConfigError("a saved tree's nodes form a cycle")
                if not leaf[i]:
                    used.add(feature[i])
                    stack += (left[i], right[i])
            features.append(frozenset(used))
        return cls(
            feature=feature,
            threshold=nodes["num_threshold"].tolist(),
            missing_left=nodes["missing_go_to_left"].astype(bool).tolist(),
            left=left,
            right=right,
            leaf=leaf,
            value=nodes["value"].tolist(),
            roots=roots.tolist(),
            features=features,
        )

    def walk(self, root: int, cols: np.ndarray, out: np.ndarray, rows: np.ndarray | None = None) -> None:
        """Write at ``out[r]`` the value of the leaf that row ``r`` reaches in the tree at ``root``.

        ``cols`` holds the rows feature-major (``cols[j]`` is column ``j``); ``rows`` the positions to walk
        (None: all). At a split, ``x <= threshold`` goes left and a missing ``x`` where ``missing_go_to_left``
        says: ``not x > threshold`` is that test when missing values go left, since NaN compares false.
        """
        feature, threshold, missing_left = self.feature, self.threshold, self.missing_left
        left, right, leaf, value = self.left, self.right, self.leaf, self.value
        stack: list[tuple[int, np.ndarray | None]] = [(root, rows)]
        while stack:
            i, at = stack.pop()
            if leaf[i]:
                if at is None:
                    out.fill(value[i])
                else:
                    out.put(at, value[i])
                continue
            col = cols[feature[i]]
            x = col if at is None else col.take(at)
            go_left = ~(x > threshold[i]) if missing_left[i] else x <= threshold[i]
            go_right = ~go_left
            if at is None:
                to_left, to_right = np.flatnonzero(go_left), np.flatnonzero(go_right)
            else:  # np.compress: several times faster than boolean indexing on mixed masks
                to_left, to_right = np.compress(go_left, at), np.compress(go_right, at)
            if to_right.size:
                stack.append((right[i], to_right))
            if to_left.size:
                stack.append((left[i], to_left))


class TreeEnsemble:
    r"""Binary gradient-boosted regression trees held as arrays, evaluated with numpy.

    The churn probability of a row :math:`x` is

    .. math:: p(x) = \sigma\Big(b + \sum_{t=1}^{T} v_t(x)\Big), \qquad \sigma(z) = \frac{1}{1 + e^{-z}},

    with :math:`b` the baseline (the log-odds of the training churn rate) and :math:`v_t(x)` the value of the
    leaf of tree :math:`t` that :math:`x` reaches: at a split node, :math:`x_j \le` ``num_threshold`` goes
    left, a missing :math:`x_j` goes where ``missing_go_to_left`` says (scikit-learn's
    ``HistGradientBoostingClassifier`` rule for numeric features; Ke et al. 2017, LightGBM, for the
    histogram trees). The trees are summed in order, starting from :math:`b`, as scikit-learn does, so the
    probabilities equal its ``predict_proba`` bit for bit.

    Each tree partitions the rows, node by node: at a split the row positions that reached the node are split
    in two by one comparison on the feature's column (the block's columns held feature-major, so a column is
    contiguous), and a leaf writes its value at its rows. The work is a few passes over the rows per tree
    level, the Python loop is over the trees' nodes (a few thousand), never over rows; rows are taken in
    blocks of :attr:`BLOCK`, which bounds the memory at any number of rows. :meth:`ablate` predicts the rows
    with one column reset at a time and re-walks only the trees that split on that column.

    Parameters
    ----------
    nodes
        Structured array of every tree's nodes, tree after tree, with fields :data:`FIELDS`; ``left`` and
        ``right`` index the whole array.
    roots
        Position of each tree's root in ``nodes``.
    baseline
        :math:`b`.
    n_features
        Columns the trees were fitted on.
    """

    #: The node fields kept (scikit-learn's ``PREDICTOR_RECORD_DTYPE`` names) and their dtypes.
    FIELDS: tuple[tuple[str, str], ...] = (
        ("feature_idx", "<i8"),
        ("num_threshold", "<f8"),
        ("missing_go_to_left", "u1"),
        ("left", "<i8"),
        ("right", "<i8"),
        ("is_leaf", "u1"),
        ("value", "<f8"),
    )
    #: Rows walked at once (for :meth:`ablate`: rows times reset columns): bounds the memory of a prediction.
    BLOCK = 131_072

    def __init__(self, nodes: np.ndarray, roots: np.ndarray, baseline: float, n_features: int) -> None:
        dtype = np.dtype(list(self.FIELDS))
        if nodes.dtype.names is None or not set(dtype.names) <= set(nodes.dtype.names):
            raise ConfigError(f"tree nodes need the fields {list(dtype.names)}")
        self.nodes = np.ascontiguousarray(np.asarray(nodes[list(dtype.names)]).astype(dtype))
        self.roots = np.asarray(roots, dtype=np.int64)
        self.baseline = float(baseline)
        self.n_features = int(n_features)
        n = len(self.nodes)
        inner = self.nodes["is_leaf"] == 0
        for side in ("left", "right"):
            child = self.nodes[side][inner]
            if child.size and (child.min() < 0 or child.max() >= n):
                raise ConfigError(f"a tree node's {side} child is outside the saved trees")
        used = self.nodes["feature_idx"][inner]
        if used.size and (used.min() < 0 or used.max() >= self.n_features):
            raise ConfigError("a tree node splits on a feature the saved trees do not have")
        if self.roots.size and (self.roots.min() < 0 or self.roots.max() >= max(n, 1)):
            raise ConfigError("a tree root is outside the saved trees")
        self._plan = _Plan.of(self.nodes, self.roots)

    @classmethod
    def from_sklearn(cls, model: Any) -> TreeEnsemble:
        """The trees of a fitted binary ``HistGradientBoostingClassifier`` on numeric features.

        Raises
        ------
        ConfigError
            A multi-class model or one with categorical splits (their bitsets are not kept).
        """
        if getattr(model, "n_trees_per_iteration_", 1) != 1:
            raise ConfigError("TreeEnsemble holds binary classifiers only (one tree per iteration)")
        categorical = getattr(model, "is_categorical_", None)
        if categorical is not None and np.any(categorical):
            raise ConfigError("TreeEnsemble does not hold categorical splits")
        trees = [iteration[0].nodes for iteration in model._predictors]
        if any(np.any(t["is_categorical"]) for t in trees):
            raise ConfigError("TreeEnsemble does not hold categorical splits")
        sizes = np.array([len(t) for t in trees], dtype=np.int64)
        roots = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64) if len(trees) else sizes
        dtype = np.dtype(list(cls.FIELDS))
        nodes = np.zeros(int(sizes.sum()), dtype=dtype)
        if len(trees):
            allnodes = np.concatenate(trees)
            shift = np.repeat(roots, sizes)
            for name in dtype.names:
                nodes[name] = allnodes[name]
            leaf = nodes["is_leaf"] == 1
            for side in ("left", "right"):  # tree-local child positions -> positions in the whole array
                nodes[side] = np.where(leaf, 0, allnodes[side].astype(np.int64) + shift)
        return cls(nodes, roots, float(np.ravel(model._baseline_prediction)[0]), int(model.n_features_in_))

    def _matrix(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise SchemaError(f"the trees need {self.n_features} feature columns; got shape {X.shape}")
        return X

    @property
    def n_trees(self) -> int:
        """Number of trees."""
        return len(self.roots)

    def _blocks(self, X: np.ndarray, rows: int) -> Iterator[tuple[int, np.ndarray]]:
        """``(first row, the block's columns feature-major)`` for blocks of ``rows`` rows."""
        for lo in range(0, X.shape[0], max(1, rows)):
            yield lo, np.ascontiguousarray(X[lo : lo + max(1, rows)].T)

    def leaf_values(self, X: np.ndarray) -> np.ndarray:
        """The value of the leaf each row reaches in each tree, shape ``(rows, trees)``."""
        X = self._matrix(X)
        plan = self._plan
        out = np.empty((self.n_trees, X.shape[0]))
        for lo, cols in self._blocks(X, self.BLOCK):
            part = out[:, lo : lo + cols.shape[1]]
            for k, root in enumerate(plan.roots):
                plan.walk(root, cols, part[k])
        return out.T

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        r"""The raw score :math:`b + \sum_t v_t(x)` (log-odds) of each row."""
        X = self._matrix(X)
        plan = self._plan
        out = np.empty(X.shape[0])
        for lo, cols in self._blocks(X, self.BLOCK):
            raw = np.full(cols.shape[1], self.baseline)
            values = np.empty(cols.shape[1])
            for root in plan.roots:  # summed tree by tree, in scikit-learn's order
                plan.walk(root, cols, values)
                raw += values
            out[lo : lo + raw.size] = raw
        return out

    def ablate(self, X: np.ndarray, columns: list[int], values: list[float]) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities of the rows, and of the rows with column ``columns[s]`` set to ``values[s]``, per ``s``.

        Resetting column :math:`j` changes only the trees that split on :math:`j`: those trees are walked
        again for the reset rows (all resets of a block in one walk per tree) and every other tree keeps its
        leaf. The trees are still summed one by one in order, so each probability is exactly
        ``predict_proba`` of the modified rows.

        Returns
        -------
        tuple of numpy.ndarray
            ``(base, reset)``: shapes ``(rows,)`` and ``(rows, len(columns))``.
        """
        X = self._matrix(X)
        plan = self._plan
        n, m = X.shape[0], len(columns)
        if len(values) != m:
            raise SchemaError(f"ablate needs one value per column; got {len(values)} for {m}")
        base, reset = np.empty(n), np.empty((n, m))
        for lo, cols in self._blocks(X, self.BLOCK // max(m, 1)):
            b = cols.shape[1]
            leaves = np.empty((self.n_trees, b))
            for k, root in enumerate(plan.roots):
                plan.walk(root, cols, leaves[k])
            raw = np.full(b, self.baseline)
            for k in range(self.n_trees):
                raw += leaves[k]
            base[lo : lo + b] = raw
            if m == 0:
                continue
            # the m resets side by side: reset s holds positions s * b ... (s + 1) * b - 1 of every column
            tiled = np.tile(cols, (1, m))
            for s, (j, v) in enumerate(zip(columns, values, strict=True)):
                tiled[j, s * b : (s + 1) * b] = v
            walked = np.empty(m * b)
            raws = np.full((m, b), self.baseline)
            positions = np.arange(m * b).reshape(m, b)
            for k, root in enumerate(plan.roots):
                changed = np.array([j in plan.features[k] for j in columns])
                if changed.any():
                    plan.walk(root, tiled, walked, positions[changed].ravel())
                    raws += np.where(changed[:, None], walked.reshape(m, b), leaves[k])
                else:
                    raws += leaves[k]
            reset[lo : lo + b] = raws.T
        return expit(base), expit(reset)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probability of the positive class (churn) of each row."""
        return expit(self.decision_function(X))

    def to_state(self) -> dict[str, Any]:
        """JSON-able arrays (see :func:`socialvalue.models.persist.encode_array`)."""
        return {
            "nodes": persist.encode_array(self.nodes),
            "roots": persist.encode_array(self.roots),
            "baseline": self.baseline,
            "n_features": self.n_features,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TreeEnsemble:
        """Inverse of :meth:`to_state`."""
        try:
            return cls(
                persist.decode_array(state["nodes"]),
                persist.decode_array(state["roots"]),
                float(state["baseline"]),
                int(state["n_features"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"the saved trees are malformed: {exc}") from exc


@dataclass(frozen=True)
class ChurnReport:
    """How well a churn score ranks and calibrates on labelled (holdout) customers.

    Attributes
    ----------
    definition
        The churn definition the labels follow.
    n, base_rate
        Customers evaluated and their churn rate.
    auc
        ROC AUC of the score.
    auc_recency
        ROC AUC of days since last purchase alone (the baseline to beat); None without that column.
    top_decile_lift
        Churn rate among the 10% highest scores divided by the base rate.
    alert_budget, precision_at_budget, recall_at_budget
        Share alerted, and the precision and recall of alerting the highest-scored ``alert_budget`` share.
    calibration
        ``mean_predicted`` vs ``observed`` churn rate per quantile bin (``sklearn.calibration.calibration_curve``
        with ``strategy="quantile"``); meaningful for probability scores.
    """

    definition: str
    n: int
    base_rate: float
    auc: float
    auc_recency: float | None
    top_decile_lift: float
    alert_budget: float
    precision_at_budget: float
    recall_at_budget: float
    calibration: pd.DataFrame = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (the calibration curve as two lists)."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "calibration"}
        out["calibration"] = {c: self.calibration[c].astype(float).tolist() for c in self.calibration.columns}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChurnReport:
        """Inverse of :meth:`to_dict`."""
        try:
            values = dict(data)
            curve = values.pop("calibration")
            return cls(**values, calibration=pd.DataFrame({k: list(v) for k, v in curve.items()}))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"a saved churn report is malformed: {exc}") from exc


def churn_report(
    churned: np.ndarray | pd.Series,
    score: np.ndarray | pd.Series,
    *,
    alert_budget: float = 0.1,
    recency: np.ndarray | pd.Series | None = None,
    definition: str = "no purchase in the holdout period",
    n_bins: int = 10,
) -> ChurnReport:
    """Evaluate a churn score against observed churn (e.g. ``holdout_transactions == 0``).

    Parameters
    ----------
    churned
        Observed churn (bool/0-1), one per customer.
    score
        Risk score, higher = more likely to churn (a probability for the calibration curve to mean much).
    alert_budget
        Share of customers alerted, for precision/recall at the budget.
    recency
        Days since last purchase, for the recency-only baseline AUC.
    """
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import roc_auc_score

    y = np.asarray(churned, dtype=float).astype(bool)
    s = np.asarray(score, dtype=float)
    n = y.size
    if n == 0 or y.all() or not y.any():
        raise SchemaError("churn_report needs labelled customers of both classes (some churned, some not)")
    base = float(y.mean())
    order = np.argsort(-s, kind="stable")
    top10 = order[: max(1, int(np.ceil(0.1 * n)))]
    k = max(1, int(np.ceil(alert_budget * n)))
    hits = y[order[:k]].sum()
    auc_rec = None
    if recency is not None:
        rec = np.nan_to_num(
            np.asarray(recency, dtype=float), nan=np.nanmax(np.asarray(recency, dtype=float)) + 1
        )
        auc_rec = float(roc_auc_score(y, rec))
    prob_true, prob_pred = calibration_curve(y, np.clip(s, 0.0, 1.0), n_bins=n_bins, strategy="quantile")
    return ChurnReport(
        definition=definition,
        n=int(n),
        base_rate=base,
        auc=float(roc_auc_score(y, s)),
        auc_recency=auc_rec,
        top_decile_lift=float(y[top10].mean() / base),
        alert_budget=alert_budget,
        precision_at_budget=float(hits / k),
        recall_at_budget=float(hits / y.sum()),
        calibration=pd.DataFrame({"mean_predicted": prob_pred, "observed": prob_true}),
    )


class ChurnClassifier:
    """Supervised churn risk: gradient-boosted trees on the feature table, with per-alert reasons.

    ``fit`` takes the feature table computed at ``calibration_end`` with the holdout target (label
    ``holdout_transactions == 0``; rows with a missing label are left out); it trains on a random
    ``1 - test_share`` of the customers, stores the :class:`ChurnReport` on the others in ``report_``, then
    refits on everyone. ``predict_risk`` and
    ``explain`` take the feature table at ``as_of``.

    Parameters
    ----------
    config
        :class:`ChurnConfig` (definition, features, budget, tree settings); the packaged default when None.
    features
        Override of ``config.features`` (columns of the feature table or derived names, see
        :func:`churn_design`); columns that are absent at fit time are skipped.
    label
        Holdout count column; churn is ``label == 0``.
    refit
        Refit on all customers after computing the report (default True).

    Attributes
    ----------
    features_
        Feature names actually used.
    model_
        The fitted ``HistGradientBoostingClassifier`` (after ``fit`` only; a reloaded classifier has none).
    trees_
        Its trees as arrays (:class:`TreeEnsemble`): every prediction goes through them, fitted or reloaded.
    fingerprint_
        :func:`~socialvalue.models.persist.data_fingerprint` of the labelled design matrix and the label.
    importance_
        Mean absolute ablation contribution of each feature on 2,000 random customers, largest first.
    reference_
        Per-feature median of the training customers who did not churn: the "healthy customer" each
        feature is reset to when explaining an alert.
    report_
        :class:`ChurnReport` on the customers held out of training.
    holdout_mask_
        Boolean per row of the ``fit`` frame: the customers held out of training (where ``report_`` was
        computed); :func:`socialvalue.models.churn_choice.select_churn_risk` compares every candidate there.
    holdout_risk_
        The training-part model's churn probability for those customers, in row order.

    ``to_json`` saves the settings (the effective :class:`ChurnConfig`), the trees, ``features_``,
    ``reference_``, ``importance_``, ``report_`` and the fingerprint as one ``socialvalue.model`` document
    (never pickle); ``from_json`` (or :func:`socialvalue.models.persist.load_model`) rebuilds a classifier whose
    ``predict_risk``, ``contributions`` and ``explain`` give what the fitted one gave. ``holdout_mask_`` and
    ``holdout_risk_`` describe rows of the fit frame and are not saved.
    """

    def __init__(
        self,
        *,
        config: ChurnConfig | None = None,
        features: tuple[str, ...] | list[str] | None = None,
        label: str = "holdout_transactions",
        refit: bool = True,
    ) -> None:
        self.config = config
        self.features = features
        self.label = label
        self.refit = refit

    def _cfg(self) -> ChurnConfig:
        return self.config or load_churn_config()

    def _new_model(self) -> object:
        from sklearn.ensemble import HistGradientBoostingClassifier

        cfg = self._cfg()
        return HistGradientBoostingClassifier(**cfg.classifier.model_dump(), random_state=cfg.random_state)

    def fit(self, frame: pd.DataFrame) -> ChurnClassifier:
        """Train on features at calibration end with the holdout label; store ``report_``."""
        with limited_threads(self._cfg().threads):
            return self._fit(frame)

    def _fit(self, frame: pd.DataFrame) -> ChurnClassifier:
        cfg = self._cfg()
        require_columns(frame, [self.label], "ChurnClassifier.fit")
        X = churn_design(frame, tuple(self.features or cfg.features))
        if X.shape[1] == 0:
            raise SchemaError("ChurnClassifier.fit: none of the configured feature columns is in the frame")
        label = numeric(frame, self.label)
        labelled = np.isfinite(label)  # customers without a holdout count are left out, not called loyal
        # a feature with no value at all (e.g. no interactions in a purchase-only store) carries no signal
        empty = ~np.isfinite(X.to_numpy(dtype=float)[labelled]).any(axis=0)
        if empty.any():
            logger.info("churn classifier: no values for %s; left out", ", ".join(X.columns[empty]))
            X = X.loc[:, ~empty]
        y = label == 0
        rng = np.random.default_rng(cfg.random_state)
        test = labelled & (rng.random(len(frame)) < cfg.test_share)
        # Trees gain little beyond a few hundred thousand rows; a random subsample bounds the fit time.
        n_lab = max(1.0, float(labelled.sum()))
        train = (
            labelled & ~test & (rng.random(len(frame)) < cfg.max_train_rows / max(1.0, n_lab - test.sum()))
        )
        everyone = labelled & (rng.random(len(frame)) < cfg.max_train_rows / n_lab)
        counts = [int(np.sum(y[part] == cls)) for part in (train, test) for cls in (True, False)]
        if min(counts) < _MIN_CLASS:
            raise SchemaError(
                "ChurnClassifier.fit needs at least "
                f"{_MIN_CLASS} churners and {_MIN_CLASS} non-churners in both the training and the test part "
                f"(got {counts[0]} and {counts[1]} in training, {counts[2]} and {counts[3]} in test)"
            )
        Xv = X.to_numpy()
        model = self._new_model().fit(Xv[train], y[train])
        recency = X["days_since_last_purchase"].to_numpy()[test] if "days_since_last_purchase" in X else None
        self.holdout_mask_ = test
        self.holdout_risk_ = model.predict_proba(Xv[test])[:, 1]
        self.report_ = churn_report(
            y[test],
            self.holdout_risk_,
            alert_budget=cfg.alert_budget,
            recency=recency,
            definition=cfg.definition,
        )
        if self.refit:
            model = self._new_model().fit(Xv[everyone], y[everyone])
        ref_rows = Xv[train & ~y]
        with np.errstate(all="ignore"):
            self.reference_ = pd.Series(np.nanmedian(ref_rows, axis=0), index=X.columns)
        self.features_ = list(X.columns)
        self.model_ = model
        self.trees_ = TreeEnsemble.from_sklearn(model)
        self.fingerprint_ = persist.data_fingerprint(
            {**{c: X[c].to_numpy()[labelled] for c in X.columns}, self.label: label[labelled]}
        )
        # Candidate drivers for the reasons: features by mean |ablation contribution| on a sample, so that
        # explaining many alerts costs `explain_features` predictions per alert batch, not one per feature.
        sample = rng.permutation(len(frame))[:2000]
        importance = self._ablate(X.iloc[sample], self.features_).abs().mean()
        self.importance_ = importance.sort_values(ascending=False, kind="stable")
        logger.info(
            "churn classifier: %d features, holdout AUC %.3f (recency alone %s)",
            len(self.features_),
            self.report_.auc,
            "n/a" if self.report_.auc_recency is None else f"{self.report_.auc_recency:.3f}",
        )
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "trees_"):
            raise NotFittedError("this ChurnClassifier is not fitted yet: call fit(frame) first")

    def _design(self, frame: pd.DataFrame) -> pd.DataFrame:
        X = churn_design(frame, self.features_)
        missing = [c for c in self.features_ if c not in X.columns]
        if missing:
            raise SchemaError(
                f"the churn classifier was trained with column(s) {missing}, absent from the frame"
            )
        return X[self.features_]

    def predict_risk(self, frame: pd.DataFrame) -> np.ndarray:
        """Probability of churn (no purchase in the horizon) for each row of ``frame``."""
        self._check_fitted()
        return self.trees_.predict_proba(self._design(frame).to_numpy())

    def evaluate(self, frame: pd.DataFrame) -> ChurnReport:
        """:class:`ChurnReport` on another labelled frame (e.g. a later calibration/holdout split)."""
        self._check_fitted()
        require_columns(frame, [self.label], "ChurnClassifier.evaluate")
        cfg = self._cfg()
        label = numeric(frame, self.label)
        ok = np.isfinite(label)
        rec = numeric(frame, "days_since_last_purchase")[ok] if "days_since_last_purchase" in frame else None
        return churn_report(
            label[ok] == 0,
            self.predict_risk(frame.loc[ok]),
            alert_budget=cfg.alert_budget,
            recency=rec,
            definition=cfg.definition,
        )

    def contributions(self, frame: pd.DataFrame, features: list[str] | None = None) -> pd.DataFrame:
        r"""Per-customer, per-feature contribution to the churn probability, by ablation.

        .. math:: c_{ij} = \hat p(x_i) - \hat p(x_i \text{ with } x_{ij} := \text{reference}_j),

        the change in risk when feature :math:`j` alone is reset to its median among training non-churners.
        Positive values push the risk up. Batch predictions, not one per customer, and a feature's reset
        re-walks only the trees that split on it (:meth:`TreeEnsemble.ablate`); ``features`` restricts the
        computation to some features (default: all). SHAP values would apportion interactions more fairly;
        ``shap`` is not a dependency, and on trees with few interactions the two agree on the top drivers.
        """
        self._check_fitted()
        return self._ablate(self._design(frame), features or self.features_)

    def _ablate(self, design: pd.DataFrame, features: list[str]) -> pd.DataFrame:
        X = design.to_numpy(dtype=float)
        columns = [self.features_.index(name) for name in features]
        base, reset = self.trees_.ablate(X, columns, [float(self.reference_[name]) for name in features])
        return pd.DataFrame(base[:, None] - reset, index=design.index, columns=features)

    def explain(self, frame: pd.DataFrame, top: int | None = None) -> pd.Series:
        """Reason string per row naming its top risk-raising drivers, e.g. "no purchase for 210 days; ...".

        Drivers are sought among the ``explain_features`` features of highest importance (``importance_``);
        call it on the alerted rows only (it costs one prediction per candidate feature). A driver is named
        only when the customer's value is on the risky side of the healthy reference (``reference_``), so a
        reason never calls "no purchase for 7 days" a warning sign.
        """
        from socialvalue.models.churn_reasons import reasons_from_contributions

        candidates = list(self.importance_.index[: self._cfg().explain_features])
        contrib = self.contributions(frame, candidates)
        design = self._design(frame)
        return reasons_from_contributions(
            frame, design, contrib, top or self._cfg().top_drivers, reference=self.reference_
        )

    # -- persistence ------------------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """The constructor settings, JSON-ready (the effective :class:`ChurnConfig` as a dict)."""
        return {
            "config": self._cfg().model_dump(mode="json"),
            "features": None if self.features is None else list(self.features),
            "label": self.label,
            "refit": bool(self.refit),
        }

    def to_json(self) -> str:
        """Settings, trees, reference, importance, report and data fingerprint as JSON (no pickle).

        Raises
        ------
        NotFittedError
            Before ``fit``.
        """
        self._check_fitted()
        state = {
            "trees": self.trees_.to_state(),
            "features": list(self.features_),
            "reference": [float(v) for v in self.reference_.reindex(self.features_).to_numpy()],
            "importance": {
                "features": [str(k) for k in self.importance_.index],
                "values": [float(v) for v in self.importance_.to_numpy()],
            },
            "report": self.report_.to_dict(),
        }
        return persist.dump_document(
            type(self).__name__, self.get_params(), state, getattr(self, "fingerprint_", None)
        )

    @classmethod
    def from_json(cls, text: str) -> ChurnClassifier:
        """Rebuild a classifier saved by :meth:`to_json`.

        Raises
        ------
        ConfigError
            Not a saved ``ChurnClassifier``, or a malformed one.
        """
        doc = persist.load_document(text, cls.__name__)
        settings, state = doc["settings"], doc["state"]
        try:
            config = validate_config(ChurnConfig, settings["config"], "the saved ChurnClassifier")
            features = settings.get("features")
            model = cls(
                config=config,
                features=None if features is None else tuple(features),
                label=str(settings["label"]),
                refit=bool(settings["refit"]),
            )
            model.features_ = [str(c) for c in state["features"]]
            model.reference_ = pd.Series(
                np.asarray(state["reference"], dtype=float), index=model.features_, dtype=float
            )
            imp = state["importance"]
            model.importance_ = pd.Series(
                np.asarray(imp["values"], dtype=float), index=[str(c) for c in imp["features"]], dtype=float
            )
            model.report_ = ChurnReport.from_dict(state["report"])
            model.trees_ = TreeEnsemble.from_state(state["trees"])
        except ConfigError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"the saved ChurnClassifier is malformed: {exc}") from exc
        if model.trees_.n_features != len(model.features_):
            raise ConfigError(
                f"the saved ChurnClassifier has {len(model.features_)} features but its trees split on "
                f"{model.trees_.n_features}"
            )
        model.fingerprint_ = doc.get("fingerprint")
        return model


persist.register(ChurnClassifier.__name__, ChurnClassifier.from_json)
