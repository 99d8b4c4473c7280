r"""Which churn risk to publish: the classifier, the purchase model or a simple baseline, chosen on the holdout.

A churn score is worth acting on only if it ranks customers better than the rule an analyst would use anyway.
:func:`select_churn_risk` scores four candidates on the calibration/holdout split the run already builds
(features at the calibration end, label "no purchase in the holdout", so the churn horizon **is** the holdout's
length):

``classifier``
    :class:`~socialvalue.models.churn.ChurnClassifier`'s probability (trained on the calibration frame; compared
    on the customers it held out of training).
``model``
    The purchase model's probability of no purchase in the horizon,
    :func:`~socialvalue.models.churn.model_churn_risk` of P(alive) and the expected purchases over the horizon.
``recency``
    Days since the last purchase alone (more days = riskier): the baseline to beat.
``recent_count``
    Purchases in the recent window (``recent_count_column``, 365 days by default; fewer = riskier).

Every candidate is measured on the same held-out customers: holdout AUC, top-decile lift and capture, and
precision/recall at the alert budget. A challenger replaces recency only when the lower end of the
``selection_level`` (95%) paired-bootstrap interval of its AUC gain over recency is above ``min_auc_gain``
(0): on 60 held-out customers an AUC 0.03 higher is noise, and acting on noise costs real offers. Among the
challengers that clear the bar, the highest AUC wins. A baseline that wins is published as a probability: a
one-variable logistic fit of the label on ``log(1 + days)`` (or ``-log(1 + count)``) over the labelled
customers, a strictly increasing map, so the ranking is the baseline's and the scale is a churn probability
that offers can be valued with.

The champion's way of scoring is a :class:`ChurnChampion` (``ChurnChoice.scorer``): the classifier, the purchase
model's risk, or the baseline with its fitted logistic map. It saves as JSON and scores new features without
refitting anything, so a later month can be scored with the models a run fitted.

Ties in any risk are broken by :func:`churn_order`: days since the last purchase (longer first), then
expected purchases (fewer first), then ``customer_id``; alerts are the first ``alert_budget`` share of that
order, never a random draw among ties.

References
----------
.. [1] DeLong, E. R., DeLong, D. M. & Clarke-Pearson, D. L. (1988). Comparing the areas under two or more
   correlated ROC curves. *Biometrics* 44(3), 837-845. (Paired comparison of AUCs on the same cases; the
   bootstrap used here is its resampling counterpart.)
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import rankdata, spearmanr

from socialvalue.config import validate_config
from socialvalue.errors import ConfigError, NotFittedError, SchemaError, SocialValueError
from socialvalue.models import persist
from socialvalue.models._rules import numeric, require_columns
from socialvalue.models.churn import (
    ChurnClassifier,
    ChurnConfig,
    ChurnReport,
    churn_report,
    load_churn_config,
    model_churn_risk,
)

__all__ = [
    "CANDIDATES",
    "DISPLAY_NAMES",
    "ChurnChampion",
    "ChurnChoice",
    "alert_mask",
    "churn_order",
    "select_churn_risk",
]

logger = logging.getLogger(__name__)

Source = Literal["classifier", "model", "recency", "recent_count"]

#: Candidate name -> (kind, words used in sentences).
CANDIDATES: dict[str, tuple[str, str]] = {
    "classifier": ("model", "the classifier"),
    "model": ("model", "the purchase model's P(no purchase in the horizon)"),
    "recency": ("baseline", "recency alone"),
    "recent_count": ("baseline", "the recent purchase count"),
}

#: Candidate name -> the name the run record's champion table and the report show.
DISPLAY_NAMES: dict[str, str] = {
    "classifier": "churn classifier",
    "model": "purchase model (P(no purchase in the horizon))",
    "recency": "recency alone (days since last purchase)",
    "recent_count": "recent purchase count",
}


def churn_order(
    risk: np.ndarray | pd.Series,
    *,
    days_since_last_purchase: np.ndarray | pd.Series | None = None,
    expected_transactions: np.ndarray | pd.Series | None = None,
    customer_id: np.ndarray | pd.Series | None = None,
) -> np.ndarray:
    """Row positions from the riskiest to the safest, ties broken by secondary scores, deterministically.

    Keys, in order: ``risk`` (higher first; NaN last), days since the last purchase (longer first; NaN after
    known values), expected purchases (fewer first; NaN last), then ``customer_id`` (ascending as text), then
    position. The result does not depend on the row order when ``customer_id`` is given.

    Parameters
    ----------
    risk
        Churn risk per customer.
    days_since_last_purchase, expected_transactions, customer_id
        Tie-breakers, one per customer (positional); any may be None.

    Returns
    -------
    numpy.ndarray
        A permutation of ``range(len(risk))``.
    """
    r = np.asarray(risk, dtype=float)
    n = r.size
    keys: list[np.ndarray] = [np.arange(n)]
    if customer_id is not None:
        ids = np.asarray(customer_id).astype(str)
        keys.append(np.unique(ids, return_inverse=True)[1])
    if expected_transactions is not None:
        e = np.asarray(expected_transactions, dtype=float)
        keys.append(np.where(np.isfinite(e), e, np.inf))
    if days_since_last_purchase is not None:
        d = np.asarray(days_since_last_purchase, dtype=float)
        keys.append(np.where(np.isfinite(d), -d, np.inf))
    keys.append(np.where(np.isfinite(r), -r, np.inf))
    return np.lexsort(keys)  # the last key is the primary one


def alert_mask(order: np.ndarray, budget: float) -> np.ndarray:
    """Boolean mask of the first ``ceil(budget * n)`` positions of ``order`` (the alerted customers)."""
    n = len(order)
    k = min(n, int(np.ceil(budget * n)))
    mask = np.zeros(n, dtype=bool)
    mask[np.asarray(order)[:k]] = True
    return mask


@dataclass(frozen=True)
class ChurnChoice:
    """The churn risk a run publishes, and how every candidate did on the holdout.

    Attributes
    ----------
    champion
        ``"classifier"``, ``"model"``, ``"recency"`` or ``"recent_count"``: the published risk's source.
    risk
        The champion's churn probability for each row of the current feature table.
    baseline_won
        True when a baseline (recency or the recent count) is published.
    sentence
        What happened, in words, e.g. "recency alone ranks churn better than the classifier on this data
        (AUC 0.81 vs 0.50); it is used."
    metrics
        One row per candidate (index = name): ``kind``, ``auc``, ``spearman`` (rank correlation of the risk
        with the churn indicator), ``auc_gain`` and its interval
        ``gain_lower``/``gain_upper`` over recency, ``top_decile_lift``, ``top_decile_capture``,
        ``precision_at_budget``, ``recall_at_budget``; best AUC first.
    report
        :class:`~socialvalue.models.churn.ChurnReport` of the champion on the held-out customers.
    definition, horizon_days
        The churn definition the labels follow, and its horizon.
    classifier
        The fitted classifier (for its reasons) when it trained, else None.
    notes
        Anything the run should log (e.g. why the classifier could not be trained).
    scorer
        The champion as a :class:`ChurnChampion`: ``risk`` is ``scorer.risk`` of the current features; saved
        with a run, it scores later features the same way.
    """

    champion: Source
    risk: np.ndarray = field(repr=False)
    baseline_won: bool
    sentence: str
    metrics: pd.DataFrame = field(repr=False)
    report: ChurnReport = field(repr=False)
    definition: str
    horizon_days: int
    level: float
    classifier: ChurnClassifier | None = field(default=None, repr=False)
    notes: tuple[str, ...] = ()
    scorer: ChurnChampion | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able record for the run log and the report.

        Top-level keys are the churn diagnostics the report reads (``auc`` is the classifier's holdout AUC when
        it trained, ``baseline_auc`` recency's; ``top_decile_lift``, ``precision_at_budget`` and
        ``calibration`` are the published champion's). ``champion`` is the champion-and-challengers entry of
        the run record (the shape of :class:`socialvalue.pipeline.champions.Contest`: ``champion``,
        ``baseline_won``, ``sentence`` and one ``metrics`` row per candidate with ``name``, ``kind``, ``auc``,
        ``spearman`` and ``top_decile`` = the share of churners in the riskiest 10%).
        """
        rep = self.report
        rows = []
        for name, r in self.metrics.iterrows():
            rows.append(
                {"name": DISPLAY_NAMES[str(name)], "key": str(name)}
                | {
                    "top_decile" if k == "top_decile_capture" else k: (
                        v if isinstance(v, str) else None if pd.isna(v) else float(v)
                    )
                    for k, v in r.items()
                }
            )
        clf_auc = _get(self.metrics, "classifier", "auc")
        out: dict[str, Any] = {
            "definition": self.definition,
            "horizon_days": self.horizon_days,
            "source": self.champion,
            "champion": {
                "champion": DISPLAY_NAMES[self.champion],
                "key": self.champion,
                "baseline_won": self.baseline_won,
                "sentence": self.sentence,
                "metrics": rows,
            },
            "baseline_won": self.baseline_won,
            "sentence": self.sentence,
            "n": rep.n,
            "base_rate": rep.base_rate,
            "auc": clf_auc if clf_auc is not None else rep.auc,
            "champion_auc": rep.auc,
            "baseline_auc": _get(self.metrics, "recency", "auc"),
            "top_decile_lift": rep.top_decile_lift,
            "precision_at_budget": rep.precision_at_budget,
            "recall_at_budget": rep.recall_at_budget,
            "alert_budget": rep.alert_budget,
            "calibration": {
                "pred": rep.calibration["mean_predicted"].tolist(),
                "obs": rep.calibration["observed"].tolist(),
            },
            "selection_level": self.level,
            "notes": list(self.notes),
        }
        if self.classifier is not None and hasattr(self.classifier, "importance_"):
            out["top_features"] = list(self.classifier.importance_.index[:8])
        return out


def _get(table: pd.DataFrame, row: str, col: str) -> float | None:
    return float(table.loc[row, col]) if row in table.index and pd.notna(table.loc[row, col]) else None


def _recency(frame: pd.DataFrame) -> np.ndarray | None:
    if "days_since_last_purchase" not in frame.columns:
        return None
    return numeric(frame, "days_since_last_purchase")


def _baseline_score(name: str, frame: pd.DataFrame, cfg: ChurnConfig) -> np.ndarray | None:
    """The baseline's risk-oriented score (higher = riskier), on a log scale; None when its column is absent."""
    if name == "recency":
        d = _recency(frame)
        if d is None:
            return None
        # never purchased: at least as risky as the longest known gap
        fill = np.nanmax(d) if np.isfinite(d).any() else 0.0
        return np.log1p(np.maximum(np.where(np.isfinite(d), d, fill), 0.0))
    if cfg.recent_count_column not in frame.columns:
        return None
    c = numeric(frame, cfg.recent_count_column)
    return -np.log1p(np.maximum(np.nan_to_num(c, nan=0.0), 0.0))


def _fast_auc(y: np.ndarray, s: np.ndarray) -> float:
    """ROC AUC by ranks (ties count one half); NaN when one class is missing."""
    n1 = int(y.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(s)
    return float((r[y].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def _tie_groups(s: np.ndarray) -> tuple[np.ndarray, int]:
    """Each score's tie group in ascending score order (computed once; resamples only reweight)."""
    _, inverse = np.unique(s, return_inverse=True)
    return inverse.ravel(), int(inverse.max()) + 1 if inverse.size else 0


def _weighted_auc(groups: np.ndarray, n_groups: int, y: np.ndarray, w: np.ndarray) -> float:
    r"""ROC AUC of customers weighted by ``w`` (bootstrap counts), from the precomputed tie groups.

    .. math:: \mathrm{AUC} = \frac{1}{W_1 W_0}\sum_g P_g\,\big(N_{<g} + \tfrac12 N_g\big)

    with :math:`P_g`, :math:`N_g` the weighted positives and negatives of tie group :math:`g` and
    :math:`N_{<g}` the negatives of lower scores: the rank formula of :func:`_fast_auc`, in linear time.
    """
    pos = np.bincount(groups, weights=w * y, minlength=n_groups)
    neg = np.bincount(groups, weights=w * (1.0 - y), minlength=n_groups)
    w1, w0 = pos.sum(), neg.sum()
    if w1 == 0 or w0 == 0:
        return float("nan")
    below = np.cumsum(neg) - neg
    return float(np.dot(pos, below + 0.5 * neg) / (w1 * w0))


#: Resampled customers handled at once by :func:`_gain_interval` (draws x customers): a block's arrays stay in
#: the processor's cache, and its memory is bounded.
_BOOTSTRAP_CELLS = 65_536


def _resampled_aucs(
    groups: np.ndarray, n_groups: int, drawn: np.ndarray, drawn_positive: np.ndarray
) -> np.ndarray:
    r"""The AUC of each resample (a row of ``drawn``: the customers drawn), from the precomputed tie groups.

    :func:`_weighted_auc` for many resamples at once: one ``bincount`` of (resample, tie group, class) keys
    counts the drawn positives and negatives of every tie group. Every count, sum and product is an integer
    (or half of one) below :math:`2^{53}`, so each AUC is exactly what :func:`_weighted_auc` gives for that
    resample's counts.
    """
    m = drawn.shape[0]
    keys = (groups[drawn] + (np.arange(m, dtype=np.int64) * n_groups)[:, None]) * 2 + drawn_positive
    counts = np.bincount(keys.ravel(), minlength=2 * m * n_groups).reshape(m, n_groups, 2)
    neg, pos = counts[:, :, 0], counts[:, :, 1]
    w1, w0 = pos.sum(axis=1), neg.sum(axis=1)
    twice_below = 2 * np.cumsum(neg, axis=1) - neg  # 2 N_{<g} + N_g
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (
            0.5
            * np.einsum("ij,ij->i", pos.astype(np.float64), twice_below.astype(np.float64))
            / (w1.astype(np.float64) * w0.astype(np.float64))
        )
    return np.where((w1 == 0) | (w0 == 0), np.nan, auc)


def _gain_interval(
    y: np.ndarray, s: np.ndarray, ref: np.ndarray, *, draws: int, level: float, seed: int
) -> tuple[float, float]:
    """Paired-bootstrap interval of ``AUC(s) - AUC(ref)`` over the same resampled customers.

    A resample draws ``n`` customers with replacement (``rng.integers(0, n, n)``); its AUCs are computed from
    tie groups sorted once (:func:`_resampled_aucs`), for a block of resamples at a time: the draws of a block
    come from one ``integers`` call, the very numbers one call per resample gives, so the interval is the same.
    """
    rng = np.random.default_rng(seed)
    n = y.size
    positive = np.asarray(y, dtype=np.float64) != 0
    gs, ns = _tie_groups(np.asarray(s, dtype=np.float64))
    gr, nr = _tie_groups(np.asarray(ref, dtype=np.float64))
    gains = np.empty(draws)
    step = max(1, _BOOTSTRAP_CELLS // max(n, 1))
    for lo in range(0, draws, step):  # a loop over blocks of bootstrap draws, each vectorised
        drawn = rng.integers(0, n, size=(min(step, draws - lo), n))
        drawn_positive = positive[drawn]
        auc_s = _resampled_aucs(gs, ns, drawn, drawn_positive)
        gains[lo : lo + len(drawn)] = auc_s - _resampled_aucs(gr, nr, drawn, drawn_positive)
    gains = gains[np.isfinite(gains)]
    if gains.size == 0:
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2.0
    return float(np.quantile(gains, tail)), float(np.quantile(gains, 1.0 - tail))


def _fit_logistic_map(score_cal: np.ndarray, y: np.ndarray) -> dict[str, float]:
    r"""A strictly increasing logistic map of a baseline score to a churn probability, fitted on ``y``.

    :math:`P(\text{churn}) = \sigma(\beta_0 + \beta_1 (s - \mu)/\sigma_s)` with :math:`\beta_1 > 0`; a score
    that does not vary, or points the wrong way on this data (:math:`\hat\beta_1 \le 0`), cannot rank and maps
    to the base rate (``{"constant": rate}``).
    """
    from sklearn.linear_model import LogisticRegression

    mu, sd = float(score_cal.mean()), float(score_cal.std())
    if not np.isfinite(sd) or sd == 0:
        return {"constant": float(y.mean())}
    z = ((score_cal - mu) / sd).reshape(-1, 1)
    fit = LogisticRegression(C=1e4).fit(z, y)
    slope = float(fit.coef_[0, 0])
    if slope <= 0:  # the baseline points the wrong way on this data: it cannot rank, publish the base rate
        return {"constant": float(y.mean())}
    return {"mean": mu, "sd": sd, "slope": slope, "intercept": float(fit.intercept_[0])}


def _apply_logistic_map(mapping: dict[str, float], score: np.ndarray) -> np.ndarray:
    """The churn probability of each ``score`` under a map from :func:`_fit_logistic_map`."""
    score = np.asarray(score, dtype=float)
    if "constant" in mapping:
        return np.full(score.size, float(mapping["constant"]))
    z = (score - mapping["mean"]) / mapping["sd"]
    return expit(z * mapping["slope"] + mapping["intercept"])


class ChurnChampion:
    """The churn risk a run published, as a model that scores new features without refitting anything.

    :func:`select_churn_risk` builds it from the holdout contest; saved with a run (``to_json``), it gives the
    same risk for the same features, so a later month can be scored with last month's choice.

    Parameters
    ----------
    champion
        ``"classifier"``, ``"model"``, ``"recency"`` or ``"recent_count"``.
    config
        The :class:`~socialvalue.models.churn.ChurnConfig` of the contest (``recent_count_column``, horizon).

    Attributes
    ----------
    classifier_
        The fitted :class:`~socialvalue.models.churn.ChurnClassifier` when it trained (needed when it is the
        champion; kept otherwise for its reasons and importance), else None.
    baseline_map_
        For a baseline champion, the logistic map of its score (``mean``, ``sd``, ``slope``, ``intercept``,
        or ``constant``: the base rate); else None.
    """

    def __init__(self, *, champion: Source, config: ChurnConfig | None = None) -> None:
        if champion not in CANDIDATES:
            raise ConfigError(f"churn champion must be one of {sorted(CANDIDATES)}; got {champion!r}")
        self.champion = champion
        self.config = config

    def _cfg(self) -> ChurnConfig:
        return self.config or load_churn_config()

    def _check_fitted(self) -> None:
        if not hasattr(self, "baseline_map_"):
            raise NotFittedError("this ChurnChampion has no fitted state: build it with select_churn_risk")

    @property
    def baseline_won(self) -> bool:
        """True when a baseline (recency or the recent count) is the champion."""
        return CANDIDATES[self.champion][0] == "baseline"

    def risk(
        self,
        features: pd.DataFrame,
        *,
        p_alive: np.ndarray | pd.Series | None = None,
        expected_transactions: np.ndarray | pd.Series | None = None,
    ) -> np.ndarray:
        """The champion's churn probability for each row of ``features`` (the feature table at a date).

        Parameters
        ----------
        features
            The feature table; the classifier's columns, or the baseline's.
        p_alive, expected_transactions
            The purchase model's P(alive) and expected purchases over the horizon, one per row; needed when
            the purchase model is the champion.

        Raises
        ------
        SchemaError
            The champion's inputs are missing.
        """
        self._check_fitted()
        if self.champion == "classifier":
            if self.classifier_ is None:
                raise SchemaError("the churn classifier is the champion but none was saved")
            return np.asarray(self.classifier_.predict_risk(features), dtype=float)
        if self.champion == "model":
            if p_alive is None:
                raise SchemaError("the purchase model is the churn champion: p_alive is needed")
            return model_churn_risk(p_alive, expected_transactions)
        score = _baseline_score(self.champion, features, self._cfg())
        if score is None:
            raise SchemaError(f"the current features lack the column the {self.champion} baseline needs")
        return _apply_logistic_map(self.baseline_map_, score)

    def get_params(self) -> dict[str, Any]:
        """The constructor settings, JSON-ready."""
        return {"champion": self.champion, "config": self._cfg().model_dump(mode="json")}

    def to_json(self) -> str:
        """The champion, its logistic map and the classifier (with its trees) as one JSON document."""
        self._check_fitted()
        state = {
            "baseline_map": self.baseline_map_,
            "classifier": None if self.classifier_ is None else json.loads(self.classifier_.to_json()),
        }
        fingerprint = None if self.classifier_ is None else getattr(self.classifier_, "fingerprint_", None)
        return persist.dump_document(type(self).__name__, self.get_params(), state, fingerprint)

    @classmethod
    def from_json(cls, text: str) -> ChurnChampion:
        """Rebuild a champion saved by :meth:`to_json`.

        Raises
        ------
        ConfigError
            Not a saved ``ChurnChampion``, or a malformed one.
        """
        doc = persist.load_document(text, cls.__name__)
        settings, state = doc["settings"], doc["state"]
        try:
            config = validate_config(ChurnConfig, settings["config"], "the saved ChurnChampion")
            model = cls(champion=settings["champion"], config=config)
            mapping = state["baseline_map"]
            model.baseline_map_ = None if mapping is None else {str(k): float(v) for k, v in mapping.items()}
            saved = state["classifier"]
            model.classifier_ = None if saved is None else ChurnClassifier.from_json(json.dumps(saved))
        except ConfigError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"the saved ChurnChampion is malformed: {exc}") from exc
        if model.baseline_won and model.baseline_map_ is None:
            raise ConfigError(f"the saved ChurnChampion ({model.champion}) has no logistic map")
        model.fingerprint_ = doc.get("fingerprint")
        return model


def _budget_metrics(y: np.ndarray, order: np.ndarray, budget: float) -> dict[str, float]:
    n = y.size
    churners = max(1, int(y.sum()))
    top = order[: max(1, int(np.ceil(0.1 * n)))]
    k = max(1, int(np.ceil(budget * n)))
    hits = float(y[order[:k]].sum())
    return {
        "top_decile_lift": float(y[top].mean() / max(y.mean(), 1e-12)),
        "top_decile_capture": float(y[top].sum() / churners),
        "precision_at_budget": hits / k,
        "recall_at_budget": hits / churners,
    }


def select_churn_risk(
    labelled_calibration: pd.DataFrame,
    current_features: pd.DataFrame,
    *,
    p_alive_cal: np.ndarray | pd.Series | None = None,
    expected_cal: np.ndarray | pd.Series | None = None,
    p_alive_now: np.ndarray | pd.Series | None = None,
    expected_now: np.ndarray | pd.Series | None = None,
    config: ChurnConfig | None = None,
    label: str = "holdout_transactions",
    classifier: bool = True,
) -> ChurnChoice:
    """Score every churn candidate on the holdout and return the champion's risk for the current customers.

    Parameters
    ----------
    labelled_calibration
        The feature table at the calibration end with the holdout count ``label`` (churn = ``label == 0``);
        rows with a missing label are left out.
    current_features
        The feature table at ``as_of``: the customers the published risk is for.
    p_alive_cal, expected_cal
        The calibration-period purchase model's P(alive) and expected purchases over the holdout, one per row
        of ``labelled_calibration`` (positional); without them the ``model`` candidate is left out.
    p_alive_now, expected_now
        The current purchase model's P(alive) and expected purchases over the next horizon, one per row of
        ``current_features``; needed only when the ``model`` candidate takes part.
    config
        :class:`~socialvalue.models.churn.ChurnConfig`; ``horizon_days`` must be the holdout's length in days
        (the label's horizon). The packaged default when None.
    label
        Holdout count column.
    classifier
        Train the :class:`~socialvalue.models.churn.ChurnClassifier` candidate (default True).

    Returns
    -------
    ChurnChoice
        The champion, its risk for ``current_features``, every candidate's holdout metrics and the sentence.

    Raises
    ------
    SchemaError
        If ``label`` is missing, no labelled customer has both outcomes, or no candidate can be scored.
    """
    cfg = config or load_churn_config()
    require_columns(labelled_calibration, [label], "select_churn_risk")
    lab_all = numeric(labelled_calibration, label)
    ok = np.isfinite(lab_all)
    cal = labelled_calibration.loc[ok]
    y = lab_all[ok] == 0
    if y.all() or not y.any():
        raise SchemaError(
            "select_churn_risk needs labelled customers of both classes "
            f"(got {int(y.sum())} churners among {int(y.size)})"
        )
    notes: list[str] = []
    clf: ChurnClassifier | None = None
    eval_rows = np.ones(y.size, dtype=bool)
    if classifier:
        try:
            clf = ChurnClassifier(config=cfg, label=label).fit(cal)
            eval_rows = clf.holdout_mask_
        except (SocialValueError, ValueError) as exc:
            notes.append(f"churn: the classifier could not be trained ({str(exc).splitlines()[0]})")
            clf = None

    # calibration-frame scores (higher = riskier) and the current risk of each candidate, computed lazily
    cal_scores: dict[str, np.ndarray] = {}
    if clf is not None:
        cal_scores["classifier"] = np.full(y.size, np.nan)
        cal_scores["classifier"][eval_rows] = clf.holdout_risk_
    if p_alive_cal is not None:
        p_cal = np.asarray(p_alive_cal, dtype=float)[ok]
        e_cal = None if expected_cal is None else np.asarray(expected_cal, dtype=float)[ok]
        cal_scores["model"] = model_churn_risk(p_cal, e_cal)
    for name in ("recency", "recent_count"):
        s = _baseline_score(name, cal, cfg)
        if s is not None:
            cal_scores[name] = s
    if not cal_scores:
        raise SchemaError("select_churn_risk: no churn candidate can be scored (no recency, count or model)")

    ye = y[eval_rows]
    if ye.all() or not ye.any():  # a tiny held-out part: compare on every labelled customer instead
        eval_rows = np.ones(y.size, dtype=bool)
        ye = y
        cal_scores.pop("classifier", None)
        notes.append("churn: the classifier's held-out customers have one outcome only; it is not compared")
    days_e = _recency(cal)
    exp_e = None if expected_cal is None else np.asarray(expected_cal, dtype=float)[ok]
    reference = "recency" if "recency" in cal_scores else next(iter(reversed(cal_scores)))
    ref_scores = cal_scores[reference][eval_rows]
    rows: dict[str, dict[str, Any]] = {}
    for k, (name, scores) in enumerate(cal_scores.items()):
        s = scores[eval_rows]
        auc = _fast_auc(ye, s)
        lo = hi = gain = float("nan")
        if name != reference:
            gain = auc - _fast_auc(ye, ref_scores)
            lo, hi = _gain_interval(
                ye, s, ref_scores, draws=cfg.bootstrap, level=cfg.selection_level, seed=cfg.random_state + k
            )
        order = churn_order(
            s,
            days_since_last_purchase=None if days_e is None else days_e[eval_rows],
            expected_transactions=None if exp_e is None else exp_e[eval_rows],
        )
        rows[name] = {
            "kind": CANDIDATES[name][0],
            "auc": auc,
            "spearman": float(spearmanr(s, ye).statistic) if np.ptp(s) > 0 else 0.0,
            "auc_gain": gain,
            "gain_lower": lo,
            "gain_upper": hi,
            **_budget_metrics(ye, order, cfg.alert_budget),
        }
    table = pd.DataFrame.from_dict(rows, orient="index").sort_values("auc", ascending=False, kind="stable")
    passing = table[(table.index != reference) & (table["gain_lower"] > cfg.min_auc_gain)]
    champion = str(passing.index[0]) if len(passing) else reference

    # the champion as a model (what a later scoring reuses), its churn probability for the held-out customers
    # (its report) and for today's customers
    scorer = ChurnChampion(champion=champion, config=cfg)  # type: ignore[arg-type]
    scorer.classifier_ = clf
    scorer.baseline_map_ = None
    if champion == "model" and p_alive_now is None:
        raise SchemaError("select_churn_risk: the purchase model won but p_alive_now was not given")
    if CANDIDATES[champion][0] == "baseline":
        if _baseline_score(champion, current_features, cfg) is None:
            raise SchemaError(f"select_churn_risk: the current features lack the column {champion} needs")
        scorer.baseline_map_ = _fit_logistic_map(cal_scores[champion], y)
        risk_eval = _apply_logistic_map(scorer.baseline_map_, cal_scores[champion][eval_rows])
    else:
        risk_eval = cal_scores[champion][eval_rows]
    risk_now = scorer.risk(current_features, p_alive=p_alive_now, expected_transactions=expected_now)
    rep = churn_report(
        ye,
        risk_eval,
        alert_budget=cfg.alert_budget,
        recency=None if days_e is None else days_e[eval_rows],
        definition=cfg.definition,
    )
    budget = table.loc[champion]
    rep = dataclasses.replace(
        rep,
        top_decile_lift=float(budget["top_decile_lift"]),
        precision_at_budget=float(budget["precision_at_budget"]),
        recall_at_budget=float(budget["recall_at_budget"]),
    )
    sentence = _sentence(table, champion, reference, cfg.selection_level)
    baseline_won = CANDIDATES[champion][0] == "baseline"
    log = logger.warning if baseline_won and "classifier" in table.index else logger.info
    log("churn: %s", sentence)
    return ChurnChoice(
        champion=champion,  # type: ignore[arg-type]
        risk=np.asarray(risk_now, dtype=float),
        baseline_won=baseline_won,
        sentence=sentence,
        metrics=table,
        report=rep,
        definition=cfg.definition,
        horizon_days=cfg.horizon_days,
        level=cfg.selection_level,
        classifier=clf,
        notes=tuple(notes),
        scorer=scorer,
    )


def _sentence(table: pd.DataFrame, champion: str, reference: str, level: float) -> str:
    """The plain sentence for the run log and the report, chosen by comparing the numbers it cites."""
    words = {k: v[1] for k, v in CANDIDATES.items()}
    auc = table["auc"]
    champ = f"{words[champion]} ranks churn"
    if champion != reference:
        lo = table.loc[champion, "gain_lower"]
        return (
            f"{champ} best on the holdout (AUC {auc[champion]:.2f} vs {auc[reference]:.2f} for "
            f"{words[reference]}; the {level:.0%} interval of the gain starts at {lo:+.2f}); it is used."
        )
    rivals = [c for c in ("classifier", "model") if c in table.index] or [
        c for c in table.index if c != champion
    ]
    if not rivals:
        return f"{words[champion]} is the only churn score that could be evaluated (AUC {auc[champion]:.2f})."
    rival = rivals[0]
    if auc[champion] >= auc[rival]:
        return (
            f"{champ} better than {words[rival]} on this data (AUC {auc[champion]:.2f} vs "
            f"{auc[rival]:.2f}); it is used."
        )
    lo = table.loc[rival, "gain_lower"]
    return (
        f"{words[rival]} is not clearly better than {words[champion]} on this data (AUC {auc[rival]:.2f} vs "
        f"{auc[champion]:.2f}; the {level:.0%} interval of the gain starts at {lo:+.2f}); "
        f"{words[champion]} is used."
    )


persist.register(ChurnChampion.__name__, ChurnChampion.from_json)
