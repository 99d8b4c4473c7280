r"""Common machinery of the buy-till-you-die (BTYD) models.

Fitting on sufficient statistics, standard errors, intervals on predictions and JSON persistence.

Subclass contract
-----------------
A model derives from :class:`BTYDModel` and defines:

``_param_names : tuple[str, ...]`` (class attribute, required)
    Parameter names in the paper's notation, in the order of the parameter vector, e.g.
    ``("r", "alpha", "a", "b")``. All parameters are positive: the base optimises their logarithms.
``_columns : tuple[str, ...]`` (class attribute, required)
    The data columns the likelihood reads, e.g. ``("frequency", "recency", "T")``. :meth:`BTYDModel.fit`
    checks that they exist, casts them to float64, rejects non-finite or negative values and passes them on as
    a ``dict[str, np.ndarray]`` of 1-D arrays (the *data dict*).
``_compress_columns : tuple[str, ...]`` (class attribute, optional; default: ``_columns``)
    Columns whose distinct combinations are sufficient statistics of the likelihood: ``fit`` collapses the
    rows to the unique combinations and sums their weights (``()`` disables compression, e.g. for continuous
    spend). With the ``resolution`` setting, these columns except ``frequency`` are first rounded to
    multiples of ``resolution`` (e.g. 1 day), which bounds the number of unique rows.
``_loglik(self, params, data) -> np.ndarray`` (required)
    Per-row log-likelihood, shape (n,), at natural-scale ``params`` (1-D array in ``_param_names`` order).
``_loglik_grad(self, params, data) -> tuple[np.ndarray, np.ndarray]`` (optional, strongly advised)
    ``(ll, grad)``: ``ll`` as above and ``grad`` of shape (n, k) with ``d ll_i / d params_j`` on the natural
    scale. The default falls back on central finite differences of ``_loglik``.
``_total_loglik_grad(self, params, data, weights) -> tuple[float, np.ndarray]`` (optional)
    Weighted total log-likelihood and its gradient (k,) on the natural scale. The default sums
    ``_loglik_grad``; override it when the sums can be taken on coarser statistics (Gamma-Gamma does).
``_total_loglik_grad_hess(self, params, data, weights) -> tuple[float, np.ndarray, np.ndarray]`` (optional)
    As ``_total_loglik_grad`` plus the (k, k) Hessian on the natural scale. When present, ``fit`` runs a damped
    Newton method (a few iterations, exact Hessian for the standard errors) and falls back on L-BFGS-B only if
    Newton does not converge.
``_preprocess(self, data, weights) -> tuple[dict, np.ndarray]`` (optional)
    Called once after compression, before optimising: drop rows, precompute constants or aggregates. The
    returned dict is only ever passed back to the model's own hooks (its arrays need not share a length).
``_penalty_scale(self, data) -> np.ndarray`` (optional)
    Multipliers :math:`s_j` of the parameters inside the L2 penalty :math:`c\sum_j (s_j\theta_j)^2` (default
    ones). Time-scale parameters use ``1 / max(T)`` as lifetimes does, which makes the penalty independent of
    the time unit.
``_initial_params(self, data, weights) -> np.ndarray`` (optional)
    Starting point on the natural scale (default: all ones).
``_check_data(self, data) -> list[str]`` (optional)
    Model-specific problems (e.g. ``recency > T``); a non-empty list becomes one :class:`SchemaError`.

A subclass that needs more settings adds keyword-only arguments to its own ``__init__`` (storing each under
the same name, scikit-learn style) and calls ``super().__init__(...)``; :meth:`get_params`, ``to_json`` and
``from_json`` pick them up from the signature. Subclasses are registered by class name for
:meth:`BTYDModel.from_json` and :func:`socialvalue.models.persist.load_model`.

What the base provides
----------------------
``fit(data, weights=None) -> self`` sets ``params_`` (dict), ``log_likelihood_`` (unpenalised, at the
optimum, summed over the weighted customers), ``se_`` (dict), ``cov_`` (natural-scale covariance, ndarray),
``n_obs_`` (sum of weights), ``n_unique_`` (rows after compression), ``n_iter_``, ``optimizer_result_``,
``n_no_purchase_`` (rows of customers without a purchase, left out), ``fingerprint_`` (the fitted data's
:func:`~socialvalue.models.persist.data_fingerprint`) and ``degenerate_`` (see below).
``summary()``, ``to_json()``/``from_json()``, ``get_params()``, and for predictions the helpers
``_check_fitted()``, ``_theta`` (natural parameter vector), ``_columns_of(data, cols)``, ``_unique_rows()``,
``_interval(fn, level, method, link, n_draws, seed)``, ``_delta_var(fn, link)``, ``_draw_params(n, rng)`` and
``_output(values, index, name, lower, upper)``. Column validation and row compression live in ``_data.py``,
the optimisers (Newton, L-BFGS-B, Hessians, the single-thread BLAS scope) in ``_optim.py``.

Transaction-model protocol (what :mod:`socialvalue.models.btyd.clv` needs from a purchase model)
-----------------------------------------------------------------------------------------------
``_expected_purchases_fn(data, times) -> (fn, inverse)``
    ``fn(params)`` returns the conditional expected number of purchases in ``(T, T + t]`` for each ``t`` in the
    1-D array ``times``, shape ``(n_unique, len(times))``, at the unique customer patterns; ``inverse`` maps
    the rows of ``data`` to those patterns (``values[inverse]``), or is ``None`` for the identity.
``_dert_fn(data, discount_rate) -> (fn, inverse)``
    Same shape rules, ``fn(params)`` of shape ``(n_unique,)``: discounted expected residual transactions with
    continuous discounting at ``discount_rate`` per time unit.
Both must accept any positive parameter vector (they are re-evaluated at perturbed or drawn parameters for
intervals).

Customers without a purchase
----------------------------
A feature table from :func:`socialvalue.build_features` also holds customers who have not bought yet: their
``frequency``, ``recency``, ``T`` (``n_periods``, ``monetary_value``) are all empty. ``fit`` leaves them out
(the models describe customers from their first purchase on; the count is ``n_no_purchase_``) and every
prediction gives them the population's value, that of a customer whose history starts now
(``frequency = recency = T = 0``): P(alive) at the first purchase, the unconditional :math:`E[X(t)]`, the
population mean spend. A partly empty row (``frequency`` NaN with a finite ``T``) stays an error naming the row.

Degenerate fits
---------------
After a fit, :meth:`BTYDModel._degenerate_findings` looks for a solution the data do not support: a parameter
at the optimiser's bound :math:`e^{\pm 30}`, a relative standard error above 10, or a near-singular Hessian
(smallest eigenvalue of the log-parameters' correlation matrix below 1e-6); the Gamma-Gamma adds its own rules
(:func:`~socialvalue.models.btyd.gammagamma.gamma_gamma_degeneracy`). The findings are kept in ``degenerate_``
(a list of sentences, empty for a sound fit) and, by the ``on_degenerate`` setting, raised as a
:class:`~socialvalue.errors.DegenerateFitWarning` (default), raised as a :class:`ConvergenceError`, or only
recorded. :meth:`BTYDModel.summary` never overflows: its bounds are computed in log space, clipped to the float
range, and its ``note`` column flags the degenerate rows.

Intervals (``interval=0.9`` on any prediction) come from the asymptotic normal distribution of the
log-parameters, with covariance the inverse Hessian of the negative log-likelihood. Two methods:

* ``"delta"`` (default): the delta method on a link scale (log for positive quantities, logit for
  probabilities), gradients by forward differences in the log-parameters; cheap (k + 1 evaluations).
* ``"bootstrap"``: a parametric bootstrap drawing ``n_draws`` parameter vectors from that normal and taking
  percentiles of the prediction; slower, better when the prediction is strongly non-linear in the parameters.
"""

from __future__ import annotations

import inspect
import json
import logging
import warnings
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from scipy import special

from socialvalue.errors import (
    ConfigError,
    ConvergenceError,
    DegenerateFitWarning,
    NotFittedError,
    SchemaError,
)
from socialvalue.models.btyd._data import (
    check_table,
    columns_of,
    customer_columns,
    prediction_columns,
    unique_rows,
)
from socialvalue.models.btyd._optim import _LOG_BOUND, OptimizeResult, _dot, _Optimiser, _single_thread_blas
from socialvalue.models.persist import data_fingerprint, register

__all__ = ["BTYDModel", "IntervalMethod", "Link"]

logger = logging.getLogger(__name__)

JSON_FORMAT = "socialvalue.btyd"
JSON_FORMAT_VERSION = 1

IntervalMethod = Literal["delta", "bootstrap"]
Link = Literal["log", "logit", "identity"]
OnDegenerate = Literal["warn", "raise", "ignore"]

#: A fit is degenerate when a relative standard error, se(log theta), exceeds this: the 95% interval then spans
#: a factor above e^39 each way, i.e. the data do not pin the parameter down at all.
MAX_RELATIVE_SE = 10.0
#: ... or when the smallest eigenvalue of the log-parameters' correlation matrix is below this (a near-singular
#: Hessian: some combination of parameters is not identified; sound CDNOW fits have 0.003-0.06).
MIN_CORR_EIGENVALUE = 1e-6
#: ... or when a log-parameter is within this of the optimiser's bound +-_LOG_BOUND.
_BOUND_MARGIN = 1.0
#: exp() arguments in summary() are clipped to these, so every printed bound is a finite float.
_LOG_FLOAT_MAX = float(np.log(np.finfo(np.float64).max)) - 1e-9
_LOG_FLOAT_MIN = float(np.log(np.finfo(np.float64).tiny))

#: (parameters concerned, short note for summary(), sentence for degenerate_ and the warning)
Finding = tuple[tuple[str, ...], str, str]

_REGISTRY: dict[str, type[BTYDModel]] = {}


class BTYDModel(_Optimiser):
    r"""Base of the BTYD models (see the module docstring for the subclass contract).

    Parameters
    ----------
    penalizer_coef
        L2 penalty on the parameters added to the mean negative log-likelihood, as lifetimes'
        ``penalizer_coef``: :math:`-\ell(\theta)/W + c \sum_j (s_j\theta_j)^2` with :math:`W` the total weight
        and :math:`s_j` 1, or ``1 / max(T)`` for time-scale parameters (lifetimes' rescaling of time).
    tol
        Relative tolerance on the objective for the optimiser (L-BFGS-B ``ftol``).
    max_iter
        Maximum optimiser iterations.
    resolution
        If given, round the time columns (all compressed columns except ``frequency``) to multiples of this
        value, in the model's time unit, before collapsing rows to unique combinations. ``None`` keeps them.
    on_degenerate
        What ``fit`` does when the solution is degenerate (see "Degenerate fits" in the module docstring):
        ``"warn"`` (a :class:`~socialvalue.errors.DegenerateFitWarning`, the default), ``"raise"`` (a
        :class:`~socialvalue.errors.ConvergenceError`) or ``"ignore"`` (only ``degenerate_`` records it).
    """

    _param_names: ClassVar[tuple[str, ...]] = ()
    _columns: ClassVar[tuple[str, ...]] = ()
    _compress_columns: ClassVar[tuple[str, ...] | None] = None
    #: What to do about a degenerate fit, named in the warning (``{name}`` is the class name): the L2 penalty
    #: pulls parameters towards 0, so it is proposed only when a parameter concerned runs off to a large value.
    _remedy_penalty: ClassVar[str] = "set penalizer_coef, e.g. {name}(penalizer_coef=0.001)"
    _remedy_other: ClassVar[str] = (
        "compare other purchase models (socialvalue.models.btyd.compare_models) or use the plain rate model "
        "socialvalue.models.btyd.rate.RateModel"
    )

    def __init__(
        self,
        *,
        penalizer_coef: float = 0.0,
        tol: float = 1e-12,
        max_iter: int = 2000,
        resolution: float | None = None,
        on_degenerate: OnDegenerate = "warn",
    ) -> None:
        self.penalizer_coef = penalizer_coef
        self.tol = tol
        self.max_iter = max_iter
        self.resolution = resolution
        self.on_degenerate = on_degenerate

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls
        register(cls.__name__, cls.from_json)  # persist.load_model finds it without importing this package

    # ------------------------------------------------------------------ settings
    @classmethod
    def _setting_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.name != "self" and p.kind is not p.VAR_KEYWORD]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor settings (scikit-learn's ``get_params``)."""
        return {name: getattr(self, name) for name in self._setting_names()}

    def set_params(self, **params: Any) -> BTYDModel:
        """Set constructor settings (scikit-learn's ``set_params``); returns ``self``."""
        valid = set(self._setting_names())
        for key, value in params.items():
            if key not in valid:
                raise ConfigError(f"{type(self).__name__} has no setting {key!r}; valid: {sorted(valid)}")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _validate_settings(self) -> None:
        if not (np.isfinite(self.penalizer_coef) and self.penalizer_coef >= 0):
            raise ConfigError(f"penalizer_coef must be a finite number >= 0, got {self.penalizer_coef!r}")
        if not (self.tol > 0):
            raise ConfigError(f"tol must be > 0, got {self.tol!r}")
        if int(self.max_iter) < 1:
            raise ConfigError(f"max_iter must be >= 1, got {self.max_iter!r}")
        if self.resolution is not None and not (self.resolution > 0):
            raise ConfigError(f"resolution must be > 0 or None, got {self.resolution!r}")
        if self.on_degenerate not in ("warn", "raise", "ignore"):
            raise ConfigError(
                f"on_degenerate must be 'warn', 'raise' or 'ignore', got {self.on_degenerate!r}"
            )

    # ------------------------------------------------------------------ subclass hooks
    def _loglik(self, params: np.ndarray, data: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def _loglik_grad(self, params: np.ndarray, data: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        ll = self._loglik(params, data)
        grad = np.empty((ll.shape[0], params.shape[0]))
        for j in range(params.shape[0]):
            h = 1e-6 * params[j]
            up, dn = params.copy(), params.copy()
            up[j] += h
            dn[j] -= h
            grad[:, j] = (self._loglik(up, data) - self._loglik(dn, data)) / (2 * h)
        return ll, grad

    def _total_loglik_grad(
        self, params: np.ndarray, data: dict[str, np.ndarray], weights: np.ndarray
    ) -> tuple[float, np.ndarray]:
        ll, grad = self._loglik_grad(params, data)
        return _dot(weights, ll), np.einsum("i,ij->j", weights, grad)

    def _preprocess(
        self, data: dict[str, np.ndarray], weights: np.ndarray
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        return data, weights

    def _initial_params(self, data: dict[str, np.ndarray], weights: np.ndarray) -> np.ndarray:
        return np.ones(len(self._param_names))

    def _penalty_scale(self, data: dict[str, np.ndarray]) -> np.ndarray:
        return np.ones(len(self._param_names))

    def _check_data(self, data: dict[str, np.ndarray]) -> list[str]:
        return []

    # ------------------------------------------------------------------ data handling
    # Data helpers (see _data.py), kept as methods for subclasses. Predictions read customers without a
    # purchase as a history that starts now (frequency = recency = T = 0); fit leaves them out.
    _columns_of = staticmethod(prediction_columns)
    _unique_rows = staticmethod(unique_rows)

    def _prepare(
        self, data: pd.DataFrame | Mapping[str, Any], weights: str | None
    ) -> tuple[dict[str, np.ndarray], np.ndarray, int]:
        cols, _, none = customer_columns(data, self._columns)
        n = len(next(iter(cols.values())))
        if n == 0:
            raise SchemaError("cannot fit on zero rows")
        w = None
        if weights is not None:
            w = columns_of(data, [weights])[0][weights]
            if not (w.sum() > 0):
                raise SchemaError(f"weights column {weights!r} sums to zero")
        self._n_no_purchase = 0
        if none is not None:
            # Customers without a purchase carry no information for a model that starts at the first purchase.
            self._n_no_purchase = int(none.sum())
            if self._n_no_purchase == n:
                raise SchemaError(
                    f"{type(self).__name__}: all {n} row(s) are customers without a purchase yet "
                    f"({', '.join(c for c in self._columns)} empty): nothing to fit"
                )
            logger.info(
                "%s: leaving out %d row(s) of customers without a purchase yet",
                type(self).__name__,
                self._n_no_purchase,
            )
            keep = ~none
            cols = {c: a[keep] for c, a in cols.items()}
            w = None if w is None else w[keep]
            n -= self._n_no_purchase
        comp = self._columns if self._compress_columns is None else self._compress_columns
        if not comp or any(c not in comp for c in self._columns):  # nothing (safe) to compress on
            self._raise_problems(cols)
            return cols, (np.ones(n) if w is None else w), n
        arrays = []
        for c in comp:
            a = cols[c]
            if self.resolution is not None and c != "frequency":
                a = np.rint(a / self.resolution) * self.resolution
            arrays.append(a)
        uniques, _, summed = self._unique_rows(arrays, w)
        keep = summed > 0
        data_u = {c: u[keep] for c, u in zip(comp, uniques, strict=True)}
        self._raise_problems(data_u)  # the checks are row-wise: checking distinct rows is enough
        return data_u, summed[keep], n

    def _raise_problems(self, cols: dict[str, np.ndarray]) -> None:
        problems = self._check_data(cols)
        if problems:
            raise SchemaError("invalid data for " + type(self).__name__ + ": " + "; ".join(problems))

    # ------------------------------------------------------------------ fitting
    def fit(self, data: pd.DataFrame | Mapping[str, Any], weights: str | None = None) -> BTYDModel:
        """Fit by maximum likelihood on the unique rows of the sufficient statistics.

        The optimiser works on the log-parameters: damped Newton with the model's analytic Hessian when it has
        one (BG/NBD, MBG/NBD, Pareto/NBD, BG/BB, Gamma-Gamma; 6-10 iterations), else or when Newton does not
        converge L-BFGS-B with the analytic gradient followed by Newton steps on a finite-difference Hessian. Standard errors come from the Hessian at the optimum.

        Rows of customers without a purchase yet (all the model's columns empty, as in a feature table) are
        left out and counted in ``n_no_purchase_``; ``fingerprint_`` records the fitted data
        (:func:`~socialvalue.models.persist.data_fingerprint` of the model's columns and ``weights``) and
        ``degenerate_`` what makes the solution degenerate (empty when nothing does).

        Parameters
        ----------
        data
            One row per customer (or per pattern, with ``weights``) holding the model's columns: a DataFrame or
            a mapping of column name to values.
        weights
            Optional name of a column of non-negative counts (customers sharing the row's pattern).

        Returns
        -------
        self

        Raises
        ------
        ConfigError
            ``data`` is not a DataFrame or a mapping (e.g. a model passed in its place), or a bad setting.
        SchemaError
            Missing, non-numeric, negative, partly empty or inconsistent columns (the first bad row named).
        ConvergenceError
            The optimiser failed (``.result`` holds its ``OptimizeResult``), or the fit is degenerate and
            ``on_degenerate="raise"``.

        Warns
        -----
        DegenerateFitWarning
            The fit is degenerate (``on_degenerate="warn"``, the default): the parameter, its value and the
            remedy are named.
        """
        self._validate_settings()
        check_table(data)
        # BLAS on one thread for the whole fit: its vector operations are tiny or memory-bound, and on a busy
        # machine each threaded BLAS call can stall for milliseconds.
        with _single_thread_blas():
            self._fit(data, weights)
        # SHA-256 of the fitted columns: ~0.45 s for BG/NBD + Gamma-Gamma on 10 million customers
        self.fingerprint_ = data_fingerprint(data, [*self._columns, *([weights] if weights else [])])
        self.n_no_purchase_ = self._n_no_purchase
        self._act_on_degeneracy()
        return self

    def _act_on_degeneracy(self) -> None:
        if not self.degenerate_ or self.on_degenerate == "ignore":
            return
        message = (
            f"{type(self).__name__}: degenerate fit: {'; '.join(self.degenerate_)}. Remedy: {self._remedy()}"
        )
        if self.on_degenerate == "raise":
            raise ConvergenceError(message, getattr(self, "optimizer_result_", None))
        warnings.warn(message, DegenerateFitWarning, stacklevel=3)

    def _fit(self, data: pd.DataFrame | Mapping[str, Any], weights: str | None) -> None:
        d, w, n = self._prepare(data, weights)
        d, w = self._preprocess(d, w)
        wsum = float(w.sum())
        if not wsum > 0:
            raise SchemaError(f"{type(self).__name__}: no usable rows to fit")
        self._pen_scale = np.asarray(self._penalty_scale(d), dtype=np.float64)
        x0 = np.log(np.clip(self._initial_params(d, w), 1e-6, 1e6))
        if getattr(self, "_total_loglik_grad_hess", None) is not None:
            newton = self._newton(x0, d, w, wsum)
            if newton is not None:
                theta, hess, value, res = newton
                self._finish_fit(theta, hess, value, res, w, wsum, n)
                return
            logger.info("%s: Newton's method did not converge; falling back on L-BFGS-B", type(self).__name__)
        from scipy import optimize  # only here: a Newton fit never pays for importing it

        bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(x0)
        res = optimize.minimize(
            self._objective,
            x0,
            args=(d, w, wsum),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": int(self.max_iter), "ftol": self.tol, "gtol": 1e-10, "maxcor": 20},
        )
        if not np.isfinite(res.fun):
            raise ConvergenceError(f"{type(self).__name__}: non-finite log-likelihood ({res.message})", res)
        theta, hess, value, g = self._polish(res.x, d, w, wsum)
        if not (res.success or np.max(np.abs(g)) < 1e-5):
            raise ConvergenceError(
                f"{type(self).__name__} did not converge: {res.message} (max |gradient| {np.max(np.abs(g)):.3g}); "
                "try a larger penalizer_coef",
                res,
            )
        self._finish_fit(theta, hess, value, res, w, wsum, n)

    def _finish_fit(
        self,
        theta: np.ndarray,
        hess: np.ndarray,
        value: float,
        res: OptimizeResult,
        w: np.ndarray,
        wsum: float,
        n: int,
    ) -> None:
        try:
            cov_log = np.linalg.inv(hess * wsum)
        except np.linalg.LinAlgError as exc:
            raise ConvergenceError(f"{type(self).__name__}: singular Hessian at the optimum", res) from exc
        if not np.all(np.isfinite(cov_log)) or np.any(np.diag(cov_log) <= 0):
            raise ConvergenceError(
                f"{type(self).__name__}: Hessian at the optimum is not positive definite "
                "(a boundary solution?); try a penalizer_coef > 0",
                res,
            )
        params = np.exp(theta)
        scaled = params * self._pen_scale
        ll = -(value - self.penalizer_coef * _dot(scaled, scaled)) * wsum  # unpenalised, summed
        self._set_fitted(
            params=params,
            cov_log=cov_log,
            log_likelihood=ll,
            n_obs=wsum,
            n_unique=len(w),
            n_iter=int(res.nit),
        )
        self.optimizer_result_ = res
        logger.info(
            "%s fitted on %d rows (%d unique) in %d iterations: %s",
            type(self).__name__,
            n,
            len(w),
            res.nit,
            self.params_,
        )

    def _set_fitted(
        self,
        *,
        params: np.ndarray,
        cov_log: np.ndarray,
        log_likelihood: float,
        n_obs: float,
        n_unique: int,
        n_iter: int,
    ) -> None:
        self._theta_ = np.asarray(params, dtype=np.float64)
        self._cov_log_ = np.asarray(cov_log, dtype=np.float64)
        self.params_ = {n: float(v) for n, v in zip(self._param_names, self._theta_, strict=True)}
        with np.errstate(
            over="ignore", invalid="ignore"
        ):  # a degenerate fit may overflow: inf, flagged below
            self.cov_ = self._cov_log_ * np.outer(self._theta_, self._theta_)
            se = np.sqrt(np.diag(self.cov_))
        self.se_ = {n: float(v) for n, v in zip(self._param_names, se, strict=True)}
        self.log_likelihood_ = float(log_likelihood)
        self.n_obs_ = float(n_obs)
        self.n_unique_ = int(n_unique)
        self.n_iter_ = int(n_iter)
        self._findings = self._degenerate_findings()
        self.degenerate_ = [sentence for _, _, sentence in self._findings]

    # ------------------------------------------------------------------ degenerate fits
    def _remedy(self) -> str:
        """What to do about the findings: a penalty when a parameter concerned runs off upwards, else others."""
        concerned = {p for params, _, _ in self._findings for p in params}
        large = any(self.params_[p] > 1 for p in concerned)
        other = self._remedy_other
        if not large:
            other = (
                "fit on more customers (penalizer_coef pulls parameters towards 0 and does not help here); or "
                + other
            )
        return (self._remedy_penalty.format(name=type(self).__name__) + "; or " if large else "") + other

    def _degenerate_findings(self) -> list[Finding]:
        """Signs of a degenerate or boundary solution (see the module docstring), one per finding.

        Subclasses add their own rules (e.g. Gamma-Gamma's vanished heterogeneity) and call this.
        """
        theta, cov = self._theta_, self._cov_log_
        names = self._param_names
        out: list[Finding] = []
        with np.errstate(all="ignore"):
            log_theta = np.log(theta)
            se_log = np.sqrt(np.diag(cov))
        for j in np.flatnonzero(np.abs(log_theta) >= _LOG_BOUND - _BOUND_MARGIN):
            side = "upper" if log_theta[j] > 0 else "lower"
            out.append(
                (
                    (names[j],),
                    f"at the optimiser's {side} bound",
                    f"{names[j]} = {theta[j]:.3g} is at the optimiser's {side} bound exp({'' if side == 'upper' else '-'}"
                    f"{_LOG_BOUND:g}): the likelihood keeps improving as it runs off",
                )
            )
        for j in np.flatnonzero(se_log > MAX_RELATIVE_SE):
            out.append(
                (
                    (names[j],),
                    f"relative SE {se_log[j]:.3g}",
                    f"{names[j]} = {theta[j]:.3g} has a relative standard error of {se_log[j]:.3g} "
                    f"(above {MAX_RELATIVE_SE:g}): the data do not identify it",
                )
            )
        if len(names) > 1 and np.all(np.isfinite(cov)) and np.all(se_log > 0):
            corr = cov / np.outer(se_log, se_log)
            evals, evecs = np.linalg.eigh((corr + corr.T) / 2)
            if evals[0] < MIN_CORR_EIGENVALUE:
                weight = np.abs(evecs[:, 0])
                involved = tuple(names[j] for j in np.flatnonzero(weight >= 0.3 * weight.max()))
                values = " and ".join(f"{n} = {self.params_[n]:.3g}" for n in involved)
                out.append(
                    (
                        involved,
                        f"near-singular Hessian ({', '.join(involved)})",
                        f"{values} are not separately identified: the Hessian is near singular (smallest "
                        f"eigenvalue of the parameters' correlation matrix {evals[0]:.2g}, below "
                        f"{MIN_CORR_EIGENVALUE:g})",
                    )
                )
        return out

    # ------------------------------------------------------------------ fitted helpers
    def _check_fitted(self) -> None:
        if not hasattr(self, "_theta_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(data) first")

    @property
    def _theta(self) -> np.ndarray:
        self._check_fitted()
        return self._theta_

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        r"""Estimates, standard errors and Wald intervals, with a note on degenerate rows.

        The interval is Wald on the log scale, :math:`\hat\theta \exp(\pm z\, \mathrm{se}(\log\hat\theta))`,
        which stays positive; ``se`` is on the natural scale (delta method from the log-scale Hessian,
        :math:`\hat\theta\,\mathrm{se}(\log\hat\theta)`). Everything is computed in log space and clipped
        to the float range, so a degenerate fit prints finite numbers without a warning and says so in ``note``.

        Returns
        -------
        pandas.DataFrame
            Index: parameter names; columns ``estimate``, ``se``, ``lower``, ``upper`` (``level`` interval,
            95% by default) and ``note`` (empty for a sound parameter; else the findings of ``degenerate_``
            about it, and "clipped to the float range" where a bound or the SE would overflow).
        """
        self._check_fitted()
        _check_level(level)
        z = special.ndtri(0.5 + level / 2)  # the normal quantile, as scipy.stats.norm.ppf
        with np.errstate(all="ignore"):
            log_theta = np.log(self._theta_)
            se_log = np.sqrt(np.maximum(np.diag(self._cov_log_), 0.0))
            log_se = log_theta + np.log(se_log)
            log_lo, log_hi = log_theta - z * se_log, log_theta + z * se_log
            clipped = (log_se > _LOG_FLOAT_MAX) | (log_hi > _LOG_FLOAT_MAX) | (log_lo < _LOG_FLOAT_MIN)
            cols = {
                "se": np.exp(np.minimum(log_se, _LOG_FLOAT_MAX)),  # se(log) = 0 gives exp(-inf) = 0
                "lower": np.exp(np.clip(log_lo, _LOG_FLOAT_MIN, _LOG_FLOAT_MAX)),
                "upper": np.exp(np.clip(log_hi, _LOG_FLOAT_MIN, _LOG_FLOAT_MAX)),
            }
        notes: list[list[str]] = [[] for _ in self._param_names]
        for params, note, _ in getattr(self, "_findings", []):
            for p in params:
                notes[self._param_names.index(p)].append(note)
        for j in np.flatnonzero(clipped):
            notes[j].append("clipped to the float range")
        return pd.DataFrame(
            {
                "estimate": self._theta_,
                "se": cols["se"],
                "lower": cols["lower"],
                "upper": cols["upper"],
                "note": ["; ".join(n) for n in notes],
            },
            index=pd.Index(self._param_names, name="parameter"),
        )

    # ------------------------------------------------------------------ intervals
    def _draw_params(self, n_draws: int, rng: np.random.Generator) -> np.ndarray:
        """``(n_draws, k)`` natural-scale parameters from the asymptotic normal of the log-parameters."""
        self._check_fitted()
        return np.exp(rng.multivariate_normal(np.log(self._theta_), self._cov_log_, size=n_draws))

    @staticmethod
    def _link(values: np.ndarray, link: Link) -> np.ndarray:
        with np.errstate(all="ignore"):
            if link == "log":
                return np.log(values)
            if link == "logit":
                return special.logit(values)
        return values

    @staticmethod
    def _unlink(values: np.ndarray, link: Link) -> np.ndarray:
        if link == "log":
            return np.exp(values)
        if link == "logit":
            return special.expit(values)
        return values

    def _delta_var(self, fn: Callable[[np.ndarray], np.ndarray], link: Link) -> tuple[np.ndarray, np.ndarray]:
        """Point estimate ``fn(theta)`` and the delta-method variance of ``link(fn)``."""
        theta = self._theta
        est = np.asarray(fn(theta), dtype=np.float64)
        k = len(theta)
        eps = 1e-6  # forward differences (k + 1 evaluations): ~1e-6 relative error on an interval's width
        center = self._link(est, link)
        grads = []
        for j in range(k):
            step = np.zeros(k)
            step[j] = eps
            up = self._link(np.asarray(fn(theta * np.exp(step)), dtype=np.float64), link)
            with np.errstate(invalid="ignore"):
                grads.append((up - center) / eps)
        # Points at a link's boundary (P(alive) = 1 exactly, zero purchases on the log scale) carry no spread.
        g = np.nan_to_num(np.stack(grads, axis=-1), nan=0.0, posinf=0.0, neginf=0.0)
        var = np.einsum("...j,...j->...", np.einsum("...i,ij->...j", g, self._cov_log_), g)
        return est, var

    def _interval(
        self,
        fn: Callable[[np.ndarray], np.ndarray],
        level: float,
        *,
        link: Link = "log",
        method: IntervalMethod = "delta",
        n_draws: int = 500,
        seed: int | None = 0,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(estimate, lower, upper)`` of ``fn(theta)`` at ``level`` (see module docstring for the methods)."""
        _check_level(level)
        if method == "delta":
            est, var = self._delta_var(fn, link)
            return (est, *_bounds_from_var(est, var, level, link))
        if method == "bootstrap":
            draws = self._draw_params(int(n_draws), np.random.default_rng(seed))
            est = np.asarray(fn(self._theta), dtype=np.float64)
            sims = np.stack([np.asarray(fn(p), dtype=np.float64) for p in draws])
            lo, hi = np.nanquantile(sims, [0.5 - level / 2, 0.5 + level / 2], axis=0)
            return est, lo, hi
        raise ConfigError(f"interval method must be 'delta' or 'bootstrap', got {method!r}")

    @staticmethod
    def _output(
        values: np.ndarray,
        index: pd.Index,
        name: str,
        lower: np.ndarray | None = None,
        upper: np.ndarray | None = None,
        attrs: dict[str, Any] | None = None,
    ) -> pd.Series | pd.DataFrame:
        """A Series named ``name``, or with bounds a DataFrame with columns ``estimate``, ``lower``, ``upper``."""
        if lower is None:
            return pd.Series(values, index=index, name=name)
        out = pd.DataFrame({"estimate": values, "lower": lower, "upper": upper}, index=index)
        out.attrs.update({"quantity": name, **(attrs or {})})
        return out

    # ------------------------------------------------------------------ persistence
    def to_json(self) -> str:
        """Settings and fitted parameters (with their covariance) as JSON; no data, no pickle."""
        self._check_fitted()
        from socialvalue._version import __version__

        doc = {
            "format": JSON_FORMAT,
            "format_version": JSON_FORMAT_VERSION,
            "model": type(self).__name__,
            "socialvalue_version": __version__,
            "settings": self.get_params(),
            "params": self.params_,
            "cov_log": self._cov_log_.tolist(),
            "log_likelihood": self.log_likelihood_,
            "n_obs": self.n_obs_,
            "n_unique": self.n_unique_,
            "n_iter": self.n_iter_,
            "n_no_purchase": getattr(self, "n_no_purchase_", 0),
            "fingerprint": getattr(self, "fingerprint_", None),
        }
        return json.dumps(doc, indent=2)

    @classmethod
    def from_json(cls, text: str) -> BTYDModel:
        """Rebuild a fitted model saved by :meth:`to_json` (called on the base, dispatches on the saved name).

        Raises
        ------
        ConfigError
            Not a socialvalue BTYD document, a newer format version, or a different model class.
        """
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"not valid JSON: {exc}") from exc
        if not isinstance(doc, dict) or doc.get("format") != JSON_FORMAT:
            raise ConfigError(f"not a {JSON_FORMAT} document")
        version = doc.get("format_version")
        if not isinstance(version, int) or version > JSON_FORMAT_VERSION or version < 1:
            raise ConfigError(
                f"unsupported {JSON_FORMAT} format_version {version!r}; this socialvalue reads up to "
                f"{JSON_FORMAT_VERSION}"
            )
        name = doc.get("model")
        target = _REGISTRY.get(name)
        if target is None or (cls is not BTYDModel and not issubclass(target, cls)):
            raise ConfigError(f"document holds a {name!r} model, not a {cls.__name__}")
        try:
            model = target(**doc["settings"])
        except TypeError as exc:
            raise ConfigError(f"settings in the document do not fit {name}: {exc}") from exc
        missing = [p for p in target._param_names if p not in doc["params"]]
        if missing:
            raise ConfigError(f"document lacks parameter(s) {missing}")
        model._set_fitted(
            params=np.array([doc["params"][p] for p in target._param_names], dtype=np.float64),
            cov_log=np.array(doc["cov_log"], dtype=np.float64),
            log_likelihood=doc["log_likelihood"],
            n_obs=doc["n_obs"],
            n_unique=doc["n_unique"],
            n_iter=doc["n_iter"],
        )
        # Documents written before these were recorded still load: no fingerprint, nobody left out.
        fingerprint = doc.get("fingerprint")
        model.fingerprint_ = dict(fingerprint) if isinstance(fingerprint, dict) else None
        model.n_no_purchase_ = int(doc.get("n_no_purchase", 0) or 0)
        return model


def _check_level(level: float) -> None:
    if not (0 < level < 1):
        raise ConfigError(f"interval level must be in (0, 1), e.g. 0.9; got {level!r}")


def _bounds_from_var(
    est: np.ndarray, var: np.ndarray, level: float, link: Link
) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric normal bounds on the link scale, mapped back; degenerate points (0 on log) keep the estimate."""
    z = special.ndtri(0.5 + level / 2)  # the normal quantile, as scipy.stats.norm.ppf
    center = BTYDModel._link(est, link)
    sd = np.sqrt(np.maximum(var, 0.0))
    with np.errstate(all="ignore"):
        lo = BTYDModel._unlink(center - z * sd, link)
        hi = BTYDModel._unlink(center + z * sd, link)
    ok = np.isfinite(lo) & np.isfinite(hi)
    return np.where(ok, lo, est), np.where(ok, hi, est)
