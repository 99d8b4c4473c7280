r"""The learned customer social value (CSV): CLV plus social components, with weights learned from a holdout.

Following Kumar et al.'s (2010) *customer engagement value*, a customer is worth their own lifetime value plus
what they bring through referrals (CRV), influence (CIV) and engagement (interaction, content, loyalty). The
weights are **learned**, not hand-set: on a calibration/holdout split, what each customer generated in the
holdout (own revenue plus revenue of the customers they referred or influenced) is regressed on the
calibration-period components with non-negative least squares,

.. math::

    \hat w = \arg\min_{w \ge 0,\, b} \sum_c \big(y_c - b - \sum_j w_j x_{cj}\big)^2,

k-fold cross-validation compares the out-of-fold error with a CLV-only model, and a (vectorized) bootstrap
gives an interval for each weight. A component whose interval includes 0 or is too wide relative to its
estimate is **withheld** (its weight is not published and a message says so); the published model is refitted
on the supported components only. With ``scale_to_clv`` the published weights are divided by the CLV weight,
so that

.. math::

    \mathrm{CSV}_c = \mathrm{CLV}_c + \sum_{j \ne \mathrm{CLV}} \frac{\hat w_j}{\hat w_{\mathrm{CLV}}} x_{cj}

is in the currency of the CLV and each term is that component's contribution.

References
----------
.. [1] Kumar, V., Aksoy, L., Donkers, B., Venkatesan, R., Wiesel, T., & Tillmanns, S. (2010). Undervalued or
   overvalued customers: capturing total customer engagement value. *Journal of Service Research*, 13(3),
   297-310.
.. [2] Lawson, C. L., & Hanson, R. J. (1974). *Solving Least Squares Problems*, ch. 23 (NNLS).
.. [3] Efron, B., & Tibshirani, R. J. (1993). *An Introduction to the Bootstrap*, ch. 13 (percentile intervals).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from socialvalue.errors import ConfigError, NotFittedError, SchemaError
from socialvalue.models import persist
from socialvalue.models._threads import single_thread_blas
from socialvalue.social.ranking import RankingMetrics, ranking_metrics

__all__ = [
    "AUDIENCE_COMPONENTS",
    "DEFAULT_COMPONENTS",
    "OWN_ACTIVITY_COMPONENTS",
    "CustomerSocialValue",
    "RankingMetrics",
    "SocialValueReport",
    "holdout_target",
    "ranking_metrics",
]

logger = logging.getLogger(__name__)

_FORMAT = "socialvalue.CustomerSocialValue/1"

DEFAULT_COMPONENTS: tuple[str, ...] = (
    "clv",
    "crv",
    "civ",
    "interaction_score",
    "content_score",
    "loyalty_score",
)

#: The customer's own recent activity (feature-table columns): strong simple signals of their own future value.
#: A contribution of one of these is the customer's own value, never social value (``own_activity_value``).
OWN_ACTIVITY_COMPONENTS: tuple[str, ...] = ("n_orders_365d", "spend_365d", "orders_growth_90d")

#: Their audience's recent activity: the followers' own purchases in the year before (value through others).
AUDIENCE_COMPONENTS: tuple[str, ...] = ("audience_orders_365d", "audience_spend_365d")


@dataclass(frozen=True)
class SocialValueReport:
    """What :meth:`CustomerSocialValue.fit` learned, how well, and what it refused to publish.

    Attributes
    ----------
    n_customers
        Rows used in the fit.
    weights
        Non-negative weights of every component on the target scale (full model).
    intervals
        Bootstrap percentile interval ``(lower, upper)`` of each weight.
    published_weights
        Weights used in the CSV (refitted on supported components; divided by the CLV weight when
        ``scale_to_clv``).
    withheld
        Components whose weight the data cannot support.
    cv_rmse
        Out-of-fold RMSE of the published model on the target.
    cv_rmse_clv_only
        Out-of-fold RMSE of a CLV-only model (same intercept rule).
    cv_improvement
        ``1 - cv_rmse / cv_rmse_clv_only``.
    ranking_csv, ranking_clv
        Ranking metrics of the out-of-fold CSV and of raw CLV against the target.
    messages
        Human-readable notes (withheld weights, warnings).
    """

    n_customers: int
    weights: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    published_weights: dict[str, float]
    withheld: tuple[str, ...]
    cv_rmse: float
    cv_rmse_clv_only: float
    cv_improvement: float
    ranking_csv: RankingMetrics
    ranking_clv: RankingMetrics
    messages: tuple[str, ...] = field(default=())

    def to_diagnostics(self) -> dict[str, Any]:
        """Plain-JSON summary in the shape the HTML report reads.

        ``weights`` (estimate, interval and published weight per component; ``None`` when withheld),
        ``messages`` and ``metrics`` (ranking and CV error of the CSV and of CLV alone).
        """
        weights = {
            c: {
                "weight": w,
                "lower": self.intervals[c][0],
                "upper": self.intervals[c][1],
                "published": self.published_weights.get(c),
            }
            for c, w in self.weights.items()
        }
        metrics = {
            name: {**asdict(r), "cv_rmse": rmse}
            for name, r, rmse in (
                ("csv", self.ranking_csv, self.cv_rmse),
                ("clv", self.ranking_clv, self.cv_rmse_clv_only),
            )
        }
        return {"weights": weights, "messages": list(self.messages), "metrics": metrics}

    def summary(self) -> str:
        """A short multi-line text summary."""
        lines = [f"customer social value fitted on {self.n_customers} customers"]
        for c, w in self.weights.items():
            lo, hi = self.intervals[c]
            shown = f"{self.published_weights[c]:.4g}" if c in self.published_weights else "withheld"
            lines.append(f"  {c:<20} weight {w:.4g}  interval [{lo:.4g}, {hi:.4g}]  published {shown}")
        lines.append(
            f"  CV RMSE {self.cv_rmse:.4g} vs CLV-only {self.cv_rmse_clv_only:.4g} "
            f"({self.cv_improvement:+.1%})"
        )
        for name, r in (("CSV", self.ranking_csv), ("CLV", self.ranking_clv)):
            lines.append(
                f"  {name}: Spearman {r.spearman:.3f}, top-decile capture {r.top_decile_capture:.1%}, "
                f"Gini {r.gini:.3f} (normalized {r.gini_normalized:.3f})"
            )
        lines.extend(f"  ! {m}" for m in self.messages)
        return "\n".join(lines)


def holdout_target(features: pd.DataFrame) -> pd.Series:
    """The value a customer generated in the holdout: own revenue plus their network's revenue.

    Parameters
    ----------
    features
        A feature table built with a holdout (columns ``holdout_revenue`` and ``holdout_network_revenue``).

    Returns
    -------
    pandas.Series
        ``holdout_revenue + holdout_network_revenue`` (missing values count 0), same index as ``features``.
    """
    cols = ["holdout_revenue", "holdout_network_revenue"]
    missing = [c for c in cols if c not in features.columns]
    if missing:
        raise SchemaError(
            f"feature table lacks {', '.join(missing)}; build it with calibration_end and holdout_end"
        )
    return features[cols].astype(float).fillna(0.0).sum(axis=1).rename("holdout_value")


def _nnls_gram(gram: np.ndarray, xty: np.ndarray) -> np.ndarray:
    r"""Solve :math:`\min_{w \ge 0} w^T G w - 2 w^T X^T y` from the Gram matrix (via a Cholesky factor)."""
    k = len(xty)
    jitter = 1e-10 * max(float(np.trace(gram)) / k, 1e-300)
    chol = np.linalg.cholesky(gram + jitter * np.eye(k))
    w, _ = nnls(chol.T, np.linalg.solve(chol, xty))
    return w


#: Resample counts held at once by :func:`_fit_weighted` (resamples x customers): bounds its memory.
_RESAMPLE_CELLS = 4_000_000


def bootstrap_counts(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    r"""How often each of ``n`` rows is drawn in each of ``m`` bootstrap resamples, shape ``(m, n)``.

    Each resample draws ``n`` rows uniformly with replacement (Efron & Tibshirani 1993, ch. 6), so a row of
    counts is Multinomial(:math:`n`, :math:`1/n, \dots, 1/n`): the same law as ``rng.multinomial(n, p,
    size=m)``, drawn as ``n`` uniform integers per resample and counted with one ``bincount`` (10x faster;
    numpy's multinomial draws its ``n`` cells one binomial at a time).
    """
    rows = rng.integers(0, n, size=(m, n))
    rows += np.arange(m, dtype=rows.dtype)[:, None] * n
    return np.bincount(rows.ravel(), minlength=m * n).reshape(m, n)


def _fit_weighted(
    x: np.ndarray,
    y: np.ndarray,
    draw: Callable[[int], np.ndarray],
    n_draws: int,
    intercept: bool,
) -> np.ndarray:
    """Non-negative weights for many weight vectors at once (the rows ``draw`` returns), via Gram matrices.

    ``draw(m)`` returns the next ``m`` weight vectors (e.g. bootstrap counts, :func:`bootstrap_counts`): they are drawn block by block, so only a block of them is ever held. Returns an array
    ``(n_draws, k)``. With an intercept, columns and target are centred with each row's weights, which gives
    the free intercept exactly. Every weighted sum a block needs (the Gram matrix's upper triangle,
    :math:`X^T y`, the column sums and the target's) comes from one matrix product with the customers' terms.
    """
    n, k = x.shape
    iu = np.triu_indices(k)
    n_tri = len(iu[0])
    terms = np.empty((n_tri + 2 * k + 1, n))  # one row per term, so that the product runs on contiguous rows
    xt = terms[n_tri : n_tri + k]
    xt[:] = x.T
    for t, (i, j) in enumerate(zip(*iu, strict=True)):
        np.multiply(xt[i], xt[j], out=terms[t])
    np.multiply(xt, y, out=terms[n_tri + k : n_tri + 2 * k])
    terms[-1] = y
    out = np.empty((n_draws, k))
    step = max(1, _RESAMPLE_CELLS // max(n, 1))
    for lo in range(0, n_draws, step):  # blocks of resamples, not customers: bounded memory
        c = draw(min(step, n_draws - lo)).astype(np.float64)
        sums = (terms @ c.T).T
        g_flat, sx, xty, sy = (
            sums[:, :n_tri],
            sums[:, n_tri : n_tri + k],
            sums[:, n_tri + k : n_tri + 2 * k],
            sums[:, -1],
        )
        if intercept:
            tot = c.sum(axis=1)
            g_flat = g_flat - (sx[:, iu[0]] * sx[:, iu[1]]) / tot[:, None]
            xty = xty - sx * (sy / tot)[:, None]
        grams = np.zeros((len(c), k, k))
        grams[:, iu[0], iu[1]] = g_flat
        grams += np.triu(grams, 1).transpose(0, 2, 1)
        for b in range(len(c)):  # k x k problems: microseconds each
            out[lo + b] = _nnls_gram(grams[b], xty[b])
    return out


def _duplicates(x: np.ndarray, tol: float = 1e-9) -> dict[int, int]:
    """Columns that are an increasing affine function of an earlier column: ``{later: earlier}``."""
    n, k = x.shape
    varies = [j for j in range(k) if np.ptp(x[:, j]) > 0]
    if n < 2 or len(varies) < 2:
        return {}
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(x[:, varies], rowvar=False)
    out: dict[int, int] = {}
    for b in range(1, len(varies)):
        for a in range(b):
            if varies[a] not in out and corr[a, b] >= 1.0 - tol:
                out[varies[b]] = varies[a]
                break
    return out


def _nnls_tall(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    r""":math:`\min_{w \ge 0} \lVert a w - b\rVert` for a tall ``a``, solved on its QR factor.

    With :math:`a = QR` (``n x k``, ``k x k``), :math:`\lVert a w - b\rVert^2 = \lVert R w - Q^T b\rVert^2 +`
    a constant, so the active-set iterations run on ``k x k`` instead of ``n x k``: the same solution, to
    rounding.
    """
    if a.shape[0] <= a.shape[1]:
        w, _ = nnls(a, b)
        return w
    q, r = np.linalg.qr(a)
    w, _ = nnls(r, q.T @ b)
    return w


def _fit_one(x: np.ndarray, y: np.ndarray, intercept: bool) -> tuple[np.ndarray, float]:
    if intercept:
        xm, ym = x.mean(axis=0), y.mean()
        w = _nnls_tall(x - xm, y - ym)
        return w, float(ym - xm @ w)
    return _nnls_tall(x, y), 0.0


class CustomerSocialValue:
    """Learned customer social value: CLV plus social components, weights learned on a holdout.

    Parameters
    ----------
    components
        Columns of the calibration frame used as components (currency or scores). Must include
        ``clv_column``. Graph metrics (e.g. ``spread``, ``pagerank``) may be added.
    clv_column
        The customer's own CLV column (the baseline the CSV is compared with).
    fit_intercept
        Fit a free intercept beside the non-negative weights (not part of the CSV).
    n_folds
        Folds of the cross-validation.
    n_bootstrap
        Bootstrap resamples for the weight intervals.
    confidence
        Coverage of the percentile intervals.
    max_relative_width
        A weight whose interval is wider than this multiple of its estimate is withheld.
    scale_to_clv
        Divide published weights by the CLV weight so that the CSV is CLV plus social terms in CLV currency.
    own_columns
        Components that measure the customer's own activity (see :data:`OWN_ACTIVITY_COMPONENTS`): their
        contributions are summed in ``own_activity_value`` by :meth:`transform`, apart from the social terms.
    influencer_share
        Share of customers flagged as influencers (top by the mean percentile of ``influencer_columns``).
    influencer_columns
        Columns (those present are used) that define influence, e.g. CIV and IC spread.
    random_state
        Seed of folds and bootstrap.

    Attributes
    ----------
    weights_ : pandas.Series
        Full-model non-negative weights on the target scale.
    weight_intervals_ : pandas.DataFrame
        ``lower``/``upper`` bootstrap interval of each weight.
    published_weights_ : pandas.Series
        Weights of the supported components used by :meth:`predict`.
    intercept_ : float
        Intercept of the published model on the target scale.
    oof_predictions_ : numpy.ndarray
        Out-of-fold predictions of the published model for the rows of ``X`` (each from a fit that did not
        see the row): what a comparison with baselines on the same target must use.
    report_ : SocialValueReport
        CV error, ranking metrics and messages.
    fingerprint_ : dict
        :func:`~socialvalue.models.persist.data_fingerprint` of the components and the target fitted on.

    ``to_json`` saves the model as a ``socialvalue.model`` document (:mod:`socialvalue.models.persist`);
    ``from_json`` also reads the earlier ``socialvalue.CustomerSocialValue/1`` documents.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"clv": rng.gamma(2, 50, 500), "civ": rng.gamma(1, 20, 500)})
    >>> y = 0.5 * X["clv"] + 1.0 * X["civ"] + rng.normal(0, 5, 500)
    >>> m = CustomerSocialValue(components=("clv", "civ"), n_bootstrap=50).fit(X, y)
    >>> sorted(m.published_weights_.index)
    ['civ', 'clv']
    """

    def __init__(
        self,
        *,
        components: Sequence[str] = DEFAULT_COMPONENTS,
        clv_column: str = "clv",
        fit_intercept: bool = True,
        n_folds: int = 5,
        n_bootstrap: int = 200,
        confidence: float = 0.95,
        max_relative_width: float = 3.0,
        scale_to_clv: bool = True,
        own_columns: Sequence[str] = OWN_ACTIVITY_COMPONENTS,
        influencer_share: float = 0.05,
        influencer_columns: Sequence[str] = ("civ", "spread"),
        random_state: int | None = 0,
    ) -> None:
        self.components = components
        self.clv_column = clv_column
        self.fit_intercept = fit_intercept
        self.n_folds = n_folds
        self.n_bootstrap = n_bootstrap
        self.confidence = confidence
        self.max_relative_width = max_relative_width
        self.scale_to_clv = scale_to_clv
        self.own_columns = own_columns
        self.influencer_share = influencer_share
        self.influencer_columns = influencer_columns
        self.random_state = random_state

    # -- helpers ----------------------------------------------------------------------------------
    def _components(self) -> list[str]:
        comps = list(dict.fromkeys(self.components))
        if self.clv_column not in comps:
            comps.insert(0, self.clv_column)
        return comps

    def _matrix(self, frame: pd.DataFrame, comps: Sequence[str]) -> np.ndarray:
        missing = [c for c in comps if c not in frame.columns]
        if missing:
            raise SchemaError(f"frame lacks component column(s) {', '.join(missing)}")
        x = frame[list(comps)].apply(pd.to_numeric, errors="coerce").to_numpy(float)
        bad = [c for c, ok in zip(comps, np.isfinite(x).all(axis=0), strict=True) if not ok]
        if bad:
            raise SchemaError(f"component column(s) {', '.join(bad)} hold missing or non-finite values")
        return x

    def _check_fitted(self) -> None:
        if not hasattr(self, "report_"):
            raise NotFittedError("CustomerSocialValue is not fitted yet; call fit(frame, target) first")

    # -- fit --------------------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y: np.ndarray | pd.Series) -> CustomerSocialValue:
        """Learn the component weights from calibration components ``X`` and holdout value ``y``.

        Parameters
        ----------
        X
            Calibration-period components, one row per customer (see ``components``).
        y
            What each customer generated in the holdout (e.g. :func:`holdout_target`).

        Returns
        -------
        CustomerSocialValue
            ``self``, fitted.
        """
        # BLAS on one thread: its calls here (n x k products and QR factors) are too small for threads to pay,
        # and waiting threads cost many times the work on a busy machine
        with single_thread_blas():
            return self._fit(X, y)

    def _fit(self, X: pd.DataFrame, y: np.ndarray | pd.Series) -> CustomerSocialValue:
        comps = self._components()
        x = self._matrix(X, comps)
        target = np.asarray(y, dtype=float)
        n, k = x.shape
        if target.shape != (n,) or not np.isfinite(target).all():
            raise SchemaError(f"target must be {n} finite values; got shape {target.shape}")
        if n < max(2 * k, self.n_folds, 10):
            raise SchemaError(f"need at least {max(2 * k, self.n_folds, 10)} customers to fit; got {n}")
        rng = np.random.default_rng(self.random_state)
        scale = x.std(axis=0)
        scale[scale == 0] = 1.0
        xs = x / scale  # positive rescaling keeps w >= 0 and conditions the solve
        icpt = self.fit_intercept

        # a component that carries exactly the signal of an earlier one (e.g. spend = purchase count when
        # every order is worth 1) is counted once: two copies would split one weight at random
        dup = _duplicates(x)
        act = [j for j in range(k) if j not in dup]
        w_s = np.zeros(k)
        w_s[act], _ = _fit_one(xs[:, act], target, icpt)
        weights = w_s / scale
        boot = np.zeros((self.n_bootstrap, k))
        # bootstrap counts drawn block by block (only a block of resamples is ever held)
        boot[:, act] = _fit_weighted(
            xs[:, act], target, lambda m: bootstrap_counts(rng, n, m), self.n_bootstrap, icpt
        )
        boot = boot / scale
        alpha = 1.0 - self.confidence
        lower, upper = np.quantile(boot, [alpha / 2, 1 - alpha / 2], axis=0)

        messages: list[str] = []
        withheld: list[str] = []
        for j, c in enumerate(comps):
            if np.ptp(x[:, j]) == 0:
                withheld.append(c)
                messages.append(f"weight of {c!r} withheld: the component does not vary in the data")
            elif j in dup:
                withheld.append(c)
                messages.append(
                    f"weight of {c!r} withheld: it carries the same signal as {comps[dup[j]]!r} on this data "
                    "(counted once)"
                )
            elif lower[j] <= 1e-12 * abs(upper[j]) or weights[j] <= 0:
                withheld.append(c)
                messages.append(
                    f"weight of {c!r} withheld: its {self.confidence:.0%} bootstrap interval "
                    f"[{lower[j]:.4g}, {upper[j]:.4g}] includes 0"
                )
            elif upper[j] - lower[j] > self.max_relative_width * weights[j]:
                withheld.append(c)
                messages.append(
                    f"weight of {c!r} withheld: its {self.confidence:.0%} bootstrap interval "
                    f"[{lower[j]:.4g}, {upper[j]:.4g}] is wider than {self.max_relative_width:g}x "
                    f"the estimate {weights[j]:.4g}"
                )
        keep = [j for j, c in enumerate(comps) if c not in withheld]
        if not keep:
            messages.append("no component weight is supported by the data: the CSV is not published")
        elif self.clv_column in withheld:
            messages.append(
                f"the CLV weight is not supported by the data; the CSV is reported on the target scale "
                f"without {self.clv_column!r}"
            )

        pub_w = np.zeros(0)
        pub_b = float(target.mean()) if icpt else 0.0
        if keep:
            pub_ws, pub_b = _fit_one(xs[:, keep], target, icpt)
            pub_w = pub_ws / scale[keep]
        published = pd.Series(pub_w, index=[comps[j] for j in keep], dtype=float)
        self._clv_scale = 1.0
        if self.scale_to_clv and self.clv_column in published.index and published[self.clv_column] > 0:
            self._clv_scale = float(published[self.clv_column])

        # k-fold CV of the published model and of a CLV-only model, out-of-fold.
        folds = rng.permutation(n) % self.n_folds
        oof, oof_clv = np.full(n, pub_b), np.zeros(n)
        j_clv = comps.index(self.clv_column)
        for f in range(self.n_folds):
            tr, te = folds != f, folds == f
            if keep:
                wf, bf = _fit_one(xs[tr][:, keep], target[tr], icpt)
                oof[te] = xs[te][:, keep] @ wf + bf
            else:
                oof[te] = target[tr].mean() if icpt else 0.0
            wc, bc = _fit_one(xs[tr][:, [j_clv]], target[tr], icpt)
            oof_clv[te] = xs[te][:, [j_clv]] @ wc + bc
        rmse = float(np.sqrt(np.mean((oof - target) ** 2)))
        rmse_clv = float(np.sqrt(np.mean((oof_clv - target) ** 2)))

        self.components_ = comps
        self.fingerprint_ = persist.data_fingerprint(
            {**{c: x[:, j] for j, c in enumerate(comps)}, "target": target}
        )
        self.oof_predictions_ = oof  # out-of-fold CSV on the target scale: for fair holdout comparisons
        self.weights_ = pd.Series(weights, index=comps, dtype=float)
        self.weight_intervals_ = pd.DataFrame({"lower": lower, "upper": upper}, index=comps)
        self.published_weights_ = published / self._clv_scale
        self.intercept_ = float(pub_b)
        self.bootstrap_weights_ = pd.DataFrame(boot, columns=comps)
        self.report_ = SocialValueReport(
            n_customers=n,
            weights=self.weights_.to_dict(),
            intervals={c: (float(lower[j]), float(upper[j])) for j, c in enumerate(comps)},
            published_weights=self.published_weights_.to_dict(),
            withheld=tuple(withheld),
            cv_rmse=rmse,
            cv_rmse_clv_only=rmse_clv,
            cv_improvement=float(1.0 - rmse / rmse_clv) if rmse_clv > 0 else 0.0,
            ranking_csv=ranking_metrics(target, oof),
            ranking_clv=ranking_metrics(target, x[:, j_clv]),
            messages=tuple(messages),
        )
        for m in messages:
            logger.info(m)  # recorded in report_ and shown in the report; not a warning of the run
        return self

    # -- use --------------------------------------------------------------------------------------
    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Customer social value of each row of ``X`` (in CLV currency when ``scale_to_clv``)."""
        self._check_fitted()
        w = self.published_weights_
        if w.empty:
            return np.zeros(len(X))
        return self._matrix(X, list(w.index)) @ w.to_numpy()

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """CSV with its decomposition, percentile and influencer flag for each row of ``X``.

        Returns
        -------
        pandas.DataFrame
            Same index as ``X``: ``customer_id`` (when present), ``contrib_<component>`` (currency) for each
            published component, ``csv``, ``own_activity_value`` (the contributions of ``own_columns``: the
            customer's own recent activity, not social value), ``csv_percentile`` (0-100), ``influencer_score`` (mean percentile
            of the influence columns present) and ``influencer`` (top ``influencer_share``). ``attrs`` hold
            ``withheld`` (components whose weight was not published) and ``messages``.
        """
        self._check_fitted()
        out = pd.DataFrame(index=X.index)
        if "customer_id" in X.columns:
            out["customer_id"] = X["customer_id"].to_numpy()
        w = self.published_weights_
        xm = self._matrix(X, list(w.index)) if not w.empty else np.zeros((len(X), 0))
        for j, c in enumerate(w.index):
            out[f"contrib_{c}"] = xm[:, j] * w.iloc[j]
        out["csv"] = xm @ w.to_numpy() if not w.empty else 0.0
        own = [f"contrib_{c}" for c in w.index if c in set(self.own_columns)]
        out["own_activity_value"] = out[own].sum(axis=1) if own else 0.0
        out["csv_percentile"] = 100.0 * out["csv"].rank(pct=True, method="average") if len(X) else 0.0
        cols = [c for c in self.influencer_columns if c in X.columns]
        if cols:
            vals = X[cols].apply(pd.to_numeric, errors="coerce").fillna(0.0)
            score = vals.rank(pct=True, method="average").mean(axis=1)
            out["influencer_score"] = score.to_numpy()
            cut = score.quantile(1.0 - self.influencer_share)
            out["influencer"] = ((score >= cut) & (vals.sum(axis=1) > 0)).to_numpy()
        else:
            out["influencer_score"] = 0.0
            out["influencer"] = False
        # Carry the refusals with the numbers, so a table written out still says what was withheld.
        out.attrs["withheld"] = list(self.report_.withheld)
        out.attrs["messages"] = list(self.report_.messages)
        return out

    def fit_transform(self, X: pd.DataFrame, y: np.ndarray | pd.Series) -> pd.DataFrame:
        """Fit on ``(X, y)`` and return :meth:`transform` of ``X``."""
        return self.fit(X, y).transform(X)

    def evaluate(self, X: pd.DataFrame, y: np.ndarray | pd.Series) -> dict[str, RankingMetrics]:
        """Ranking metrics of the CSV and of CLV alone against realized value ``y`` (e.g. a later holdout)."""
        self._check_fitted()
        y = np.asarray(y, dtype=float)
        clv = self._matrix(X, [self.clv_column])[:, 0]
        return {"csv": ranking_metrics(y, self.predict(X)), "clv": ranking_metrics(y, clv)}

    # -- persistence ------------------------------------------------------------------------------
    _PARAMS = (
        "components",
        "clv_column",
        "fit_intercept",
        "n_folds",
        "n_bootstrap",
        "confidence",
        "max_relative_width",
        "scale_to_clv",
        "own_columns",
        "influencer_share",
        "influencer_columns",
        "random_state",
    )

    def get_params(self) -> dict[str, Any]:
        """The constructor settings (scikit-learn style)."""
        return {k: getattr(self, k) for k in self._PARAMS}

    def to_json(self) -> str:
        """Settings, learned weights, intervals, report and data fingerprint as a ``socialvalue.model`` document.

        No pickle and no customer data: the bootstrap draws and the out-of-fold predictions (one per row of the
        fit frame) are not kept.
        """
        self._check_fitted()
        params = {k: list(v) if isinstance(v, tuple | list) else v for k, v in self.get_params().items()}
        state = {
            "components": list(self.components_),
            "weights": _floats(self.weights_.to_dict()),
            "intervals": {c: _floats(v) for c, v in self.weight_intervals_.to_dict(orient="index").items()},
            "published_weights": _floats(self.published_weights_.to_dict()),
            "intercept": self.intercept_,
            "clv_scale": self._clv_scale,
            "report": asdict(self.report_),
        }
        return persist.dump_document(type(self).__name__, params, state, getattr(self, "fingerprint_", None))

    @classmethod
    def from_json(cls, text: str) -> CustomerSocialValue:
        """Rebuild a fitted model saved by :meth:`to_json` (or the earlier ``socialvalue.CustomerSocialValue/1`` documents).

        Raises
        ------
        ConfigError
            Not a saved ``CustomerSocialValue``, or a malformed one.
        """
        try:
            raw = json.loads(text)
        except (json.JSONDecodeError, TypeError) as exc:
            raise ConfigError(f"not a saved CustomerSocialValue (not valid JSON: {exc})") from exc
        if isinstance(raw, dict) and raw.get("format") == _FORMAT:  # written before the shared envelope
            params, state, fingerprint = raw.get("params"), raw, None
        elif isinstance(raw, dict) and raw.get("format") == persist.FORMAT:
            doc = persist.load_document(text, cls.__name__)
            params, state, fingerprint = doc["settings"], doc["state"], doc.get("fingerprint")
        else:
            raise ConfigError(
                f"not a saved CustomerSocialValue (format {raw.get('format') if isinstance(raw, dict) else None!r}, "
                f"expected {persist.FORMAT!r})"
            )
        try:
            p = dict(params)
            p["components"] = tuple(p["components"])
            p["influencer_columns"] = tuple(p["influencer_columns"])
            p["own_columns"] = tuple(p.get("own_columns", OWN_ACTIVITY_COMPONENTS))
            model = cls(**p)
            model.components_ = list(state["components"])
            model.weights_ = pd.Series(state["weights"], dtype=float).reindex(model.components_)
            model.weight_intervals_ = pd.DataFrame.from_dict(state["intervals"], orient="index").reindex(
                model.components_
            )
            model.published_weights_ = pd.Series(state["published_weights"], dtype=float)
            model.intercept_ = float(state["intercept"])
            model._clv_scale = float(state["clv_scale"])
            rep = dict(state["report"])
            rep["ranking_csv"] = RankingMetrics(**rep["ranking_csv"])
            rep["ranking_clv"] = RankingMetrics(**rep["ranking_clv"])
            rep["intervals"] = {k: tuple(v) for k, v in rep["intervals"].items()}
            rep["withheld"] = tuple(rep["withheld"])
            rep["messages"] = tuple(rep["messages"])
            model.report_ = SocialValueReport(**rep)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"the saved CustomerSocialValue is malformed: {exc}") from exc
        model.fingerprint_ = fingerprint
        return model


def _floats(d: dict[Any, Any]) -> dict[str, float]:
    return {str(k): float(v) for k, v in d.items()}


persist.register(CustomerSocialValue.__name__, CustomerSocialValue.from_json)
