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
:meth:`BTYDModel.from_json`.

What the base provides
----------------------
``fit(data, weights=None) -> self`` sets ``params_`` (dict), ``log_likelihood_`` (unpenalised, at the
optimum, summed over the weighted customers), ``se_`` (dict), ``cov_`` (natural-scale covariance, ndarray),
``n_obs_`` (sum of weights), ``n_unique_`` (rows after compression), ``n_iter_`` and ``optimizer_result_``.
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
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from socialvalue.errors import ConfigError, ConvergenceError, NotFittedError, SchemaError
from socialvalue.models.btyd._data import columns_of, unique_rows
from socialvalue.models.btyd._optim import _LOG_BOUND, _dot, _Optimiser, _single_thread_blas

__all__ = ["BTYDModel", "IntervalMethod", "Link"]

logger = logging.getLogger(__name__)

JSON_FORMAT = "socialvalue.btyd"
JSON_FORMAT_VERSION = 1

IntervalMethod = Literal["delta", "bootstrap"]
Link = Literal["log", "logit", "identity"]

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
    """

    _param_names: ClassVar[tuple[str, ...]] = ()
    _columns: ClassVar[tuple[str, ...]] = ()
    _compress_columns: ClassVar[tuple[str, ...] | None] = None

    def __init__(
        self,
        *,
        penalizer_coef: float = 0.0,
        tol: float = 1e-12,
        max_iter: int = 2000,
        resolution: float | None = None,
    ) -> None:
        self.penalizer_coef = penalizer_coef
        self.tol = tol
        self.max_iter = max_iter
        self.resolution = resolution

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls

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
    # Data helpers (see _data.py), kept as methods for subclasses.
    _columns_of = staticmethod(columns_of)
    _unique_rows = staticmethod(unique_rows)

    def _prepare(
        self, data: pd.DataFrame | Mapping[str, Any], weights: str | None
    ) -> tuple[dict[str, np.ndarray], np.ndarray, int]:
        cols, _ = self._columns_of(data, self._columns)
        n = len(next(iter(cols.values())))
        if n == 0:
            raise SchemaError("cannot fit on zero rows")
        w = None
        if weights is not None:
            w = self._columns_of(data, [weights])[0][weights]
            if not (w.sum() > 0):
                raise SchemaError(f"weights column {weights!r} sums to zero")
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
        one (BG/NBD, MBG/NBD, Gamma-Gamma; 6-10 iterations), else L-BFGS-B with the analytic gradient followed
        by Newton steps on a finite-difference Hessian. Standard errors come from the Hessian at the optimum.

        Parameters
        ----------
        data
            One row per customer (or per pattern, with ``weights``) holding the model's columns.
        weights
            Optional name of a column of non-negative counts (customers sharing the row's pattern).

        Returns
        -------
        self

        Raises
        ------
        SchemaError
            Missing, non-numeric, negative or inconsistent columns.
        ConvergenceError
            The optimiser failed; ``.result`` holds scipy's ``OptimizeResult``.
        """
        self._validate_settings()
        # BLAS on one thread for the whole fit: its vector operations are tiny or memory-bound, and on a busy
        # machine each threaded BLAS call can stall for milliseconds.
        with _single_thread_blas():
            self._fit(data, weights)
        return self

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
        res: optimize.OptimizeResult,
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
        self.cov_ = self._cov_log_ * np.outer(self._theta_, self._theta_)
        self.se_ = {n: float(np.sqrt(v)) for n, v in zip(self._param_names, np.diag(self.cov_), strict=True)}
        self.log_likelihood_ = float(log_likelihood)
        self.n_obs_ = float(n_obs)
        self.n_unique_ = int(n_unique)
        self.n_iter_ = int(n_iter)

    # ------------------------------------------------------------------ fitted helpers
    def _check_fitted(self) -> None:
        if not hasattr(self, "_theta_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(data) first")

    @property
    def _theta(self) -> np.ndarray:
        self._check_fitted()
        return self._theta_

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        r"""Estimates, standard errors and Wald intervals.

        The interval is Wald on the log scale, :math:`\hat\theta \exp(\pm z\, \mathrm{se}(\log\hat\theta))`,
        which stays positive; ``se`` is on the natural scale (delta method from the log-scale Hessian).

        Returns
        -------
        pandas.DataFrame
            Index: parameter names; columns ``estimate``, ``se``, ``lower``, ``upper`` (``level`` interval,
            95% by default).
        """
        self._check_fitted()
        z = stats.norm.ppf(0.5 + level / 2)
        se_log = np.sqrt(np.diag(self._cov_log_))
        return pd.DataFrame(
            {
                "estimate": self._theta_,
                "se": np.sqrt(np.diag(self.cov_)),
                "lower": self._theta_ * np.exp(-z * se_log),
                "upper": self._theta_ * np.exp(z * se_log),
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
        from socialvalue import __version__

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
        return model


def _check_level(level: float) -> None:
    if not (0 < level < 1):
        raise ConfigError(f"interval level must be in (0, 1), e.g. 0.9; got {level!r}")


def _bounds_from_var(
    est: np.ndarray, var: np.ndarray, level: float, link: Link
) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric normal bounds on the link scale, mapped back; degenerate points (0 on log) keep the estimate."""
    z = stats.norm.ppf(0.5 + level / 2)
    center = BTYDModel._link(est, link)
    sd = np.sqrt(np.maximum(var, 0.0))
    with np.errstate(all="ignore"):
        lo = BTYDModel._unlink(center - z * sd, link)
        hi = BTYDModel._unlink(center + z * sd, link)
    ok = np.isfinite(lo) & np.isfinite(hi)
    return np.where(ok, lo, est), np.where(ok, hi, est)
