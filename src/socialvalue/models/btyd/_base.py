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
``_output(values, index, name, lower, upper)``.

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

import contextlib
import inspect
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from socialvalue.errors import ConfigError, ConvergenceError, NotFittedError, SchemaError

__all__ = ["BTYDModel", "IntervalMethod", "Link"]

logger = logging.getLogger(__name__)

JSON_FORMAT = "socialvalue.btyd"
JSON_FORMAT_VERSION = 1

IntervalMethod = Literal["delta", "bootstrap"]
Link = Literal["log", "logit", "identity"]

_REGISTRY: dict[str, type[BTYDModel]] = {}
_LOG_BOUND = 30.0  # |log parameter| bound during optimisation: exp(30) ~ 1e13 keeps every term finite


class BTYDModel:
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
    @staticmethod
    def _columns_of(
        data: pd.DataFrame | Mapping[str, Any], cols: Sequence[str]
    ) -> tuple[dict[str, np.ndarray], pd.Index]:
        """Required columns of ``data`` as float64 arrays (copies never needed: we never write), plus the index."""
        missing = [c for c in cols if c not in data]
        if missing:
            have = list(data.columns) if isinstance(data, pd.DataFrame) else list(data)
            raise SchemaError(
                f"missing column(s) {missing}; expected {list(cols)}, got {have[:20]}",
                [{"column": c, "expected": "present"} for c in missing],
            )
        out: dict[str, np.ndarray] = {}
        problems: list[dict[str, Any]] = []
        for c in cols:
            try:
                arr = np.asarray(data[c], dtype=np.float64).ravel()
            except (TypeError, ValueError) as exc:
                raise SchemaError(f"column {c!r} is not numeric: {exc}", [{"column": c}]) from exc
            # Fast path without temporaries: a finite sum and a non-negative minimum mean all rows are fine.
            if arr.size and not (np.isfinite(arr.sum()) and arr.min() >= 0):
                bad = ~np.isfinite(arr) | (arr < 0)
                problems.append({"column": c, "row": int(np.flatnonzero(bad)[0]), "expected": "finite >= 0"})
            out[c] = arr
        if problems:
            desc = "; ".join(f"{p['column']} (first at row {p['row']})" for p in problems)
            raise SchemaError(f"non-finite or negative values in {desc}", problems)
        n = {len(v) for v in out.values()}
        if len(n) > 1:
            raise SchemaError(f"columns have different lengths {sorted(n)}")
        index = data.index if isinstance(data, pd.DataFrame) else pd.RangeIndex(next(iter(n), 0))
        return out, index

    @staticmethod
    def _unique_rows(
        arrays: Sequence[np.ndarray], weights: np.ndarray | None = None
    ) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        """Collapse rows of ``arrays`` to their unique combinations.

        Returns ``(uniques, inverse, summed_weights)`` with ``arrays[j] == uniques[j][inverse]``. Integral
        columns (the usual case after rounding to days) use one mixed-radix int64 key, counted directly with
        ``bincount`` when the key space is small (O(n), no hashing or sorting) or hashed otherwise; other
        columns fall back on a pandas group-by.
        """
        n = len(arrays[0]) if arrays else 0
        if n == 0:
            return [a[:0] for a in arrays], np.zeros(0, dtype=np.intp), np.zeros(0)
        found = _integer_codes(arrays)
        if found is not None:
            codes, ukeys, spans = found
            uniques = []
            for lo, span in reversed(spans):
                uniques.append((ukeys % span).astype(np.float64) + lo)
                ukeys = ukeys // span
            uniques.reverse()
        else:
            # Non-integral columns: hash each column to the codes of its distinct values, then combine the
            # (integral) codes as above and map the combined rows back to the values.
            per_col = [pd.factorize(a) for a in arrays]
            found = _integer_codes([c.astype(np.float64) for c, _ in per_col])
            if found is None:  # pragma: no cover - codes are small whole numbers
                raise RuntimeError("cannot combine column codes")
            codes, ukeys, spans = found
            uniques = []
            for (_, values), (_, span) in zip(reversed(per_col), reversed(spans), strict=True):
                uniques.append(np.asarray(values, dtype=np.float64)[ukeys % span])
                ukeys = ukeys // span
            uniques.reverse()
        if weights is None:
            summed = np.bincount(codes, minlength=len(uniques[0])).astype(np.float64)
        else:
            summed = np.bincount(codes, weights=weights, minlength=len(uniques[0]))
        return uniques, codes, summed

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
    def _objective(
        self, log_params: np.ndarray, data: dict[str, np.ndarray], w: np.ndarray, wsum: float
    ) -> tuple[float, np.ndarray]:
        params = np.exp(log_params)
        scaled = params * self._pen_scale
        with np.errstate(all="ignore"):
            ll, grad = self._total_loglik_grad(params, data, w)
            value = -ll / wsum + self.penalizer_coef * _dot(scaled, scaled)
            g = -grad * params / wsum + 2.0 * self.penalizer_coef * scaled**2
        if not np.isfinite(value) or not np.all(np.isfinite(g)):
            return np.inf, np.zeros_like(log_params)
        return value, g

    def fit(self, data: pd.DataFrame | Mapping[str, Any], weights: str | None = None) -> BTYDModel:
        """Fit by maximum likelihood on the unique rows of the sufficient statistics.

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

    def _objective_hess(
        self, log_params: np.ndarray, data: dict[str, np.ndarray], w: np.ndarray, wsum: float
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """Objective, gradient and Hessian in the log-parameters (chain rule from the natural scale)."""
        params = np.exp(log_params)
        s2 = self._pen_scale**2
        with np.errstate(all="ignore"):
            ll, grad, hess = self._total_loglik_grad_hess(params, data, w)  # type: ignore[attr-defined]
        c = self.penalizer_coef
        value = -ll / wsum + c * _dot(s2, params**2)
        g = -grad * params / wsum + 2.0 * c * s2 * params**2
        h = -(hess * np.outer(params, params) + np.diag(grad * params)) / wsum + np.diag(
            4.0 * c * s2 * params**2
        )
        return value, g, h

    def _newton(
        self, x0: np.ndarray, d: dict[str, np.ndarray], w: np.ndarray, wsum: float
    ) -> tuple[np.ndarray, np.ndarray, float, optimize.OptimizeResult] | None:
        """Damped Newton in the log-parameters with backtracking; ``None`` if it does not converge.

        Where the Hessian is not positive definite (far from the optimum) its spectrum is shifted; each step is
        capped at 2 in log units. Converges quadratically near the optimum: 6-10 iterations on CDNOW.
        """
        theta = x0.copy()
        value, g, h = self._objective_hess(theta, d, w, wsum)
        if not (np.isfinite(value) and np.all(np.isfinite(h))):
            return None
        it, max_it = 0, min(100, int(self.max_iter))
        message = "Newton: gradient below tolerance"
        while np.max(np.abs(g)) >= 1e-11:
            it += 1
            if it > max_it:
                return None
            evals, evecs = np.linalg.eigh(h)
            floor = 1e-8 * max(float(np.max(np.abs(evals))), 1e-12)
            step = -evecs @ ((evecs.T @ g) / np.maximum(np.abs(evals), floor))
            size = float(np.max(np.abs(step)))
            if size > 2.0:
                step *= 2.0 / size
            slope = float(g @ step)
            if -slope < 1e-15 * max(1.0, abs(value)):  # the predicted decrease is below rounding: done
                message = "Newton: decrement below rounding"
                break
            t = 1.0
            while t >= 1e-10:
                new = np.clip(theta + t * step, -_LOG_BOUND, _LOG_BOUND)
                new_value, new_g, new_h = self._objective_hess(new, d, w, wsum)
                if np.isfinite(new_value) and new_value <= value + 1e-4 * t * slope + 1e-15 * abs(value):
                    break
                t *= 0.5
            if t < 1e-10:  # no decrease left: converged if the gradient is at rounding level, else give up
                if np.max(np.abs(g)) < 1e-7:
                    message = "Newton: no further decrease (rounding level)"
                    break
                return None
            theta, value, g, h = new, new_value, new_g, new_h
        if np.max(np.abs(g)) > 1e-7 or not np.all(np.isfinite(h)):
            return None
        res = optimize.OptimizeResult(x=theta, fun=value, jac=g, nit=it, success=True, message=message)
        return theta, h, value, res

    def _polish(
        self, theta: np.ndarray, d: dict[str, np.ndarray], w: np.ndarray, wsum: float
    ) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
        """Newton steps from the L-BFGS-B solution with its Hessian: the last digits, for k + 1 gradients.

        Returns the polished log-parameters, the Hessian of the mean objective (reused for the standard
        errors: the steps move the parameters by ~1e-8, far below the Hessian's own finite-difference error),
        and the objective's value and gradient there.
        """
        hess = self._hessian(theta, d, w, wsum)
        value, g = self._objective(theta, d, w, wsum)
        for _ in range(3):
            if np.max(np.abs(g)) < 1e-12:
                break
            try:
                step = np.linalg.solve(hess, g)
            except np.linalg.LinAlgError:
                break
            new = np.clip(theta - step, -_LOG_BOUND, _LOG_BOUND)
            new_value, new_g = self._objective(new, d, w, wsum)
            if not (new_value <= value + 1e-15 * abs(value)):
                break
            theta, value, g = new, new_value, new_g
        return theta, hess, value, g

    def _hessian(self, theta: np.ndarray, d: dict[str, np.ndarray], w: np.ndarray, wsum: float) -> np.ndarray:
        """Hessian of the mean objective in the log-parameters: differences of the analytic gradient."""
        k = len(theta)
        h = np.empty((k, k))
        eps = 1e-6  # forward differences: ~1e-6 relative error, far below the sampling error it measures
        g0 = self._objective(theta, d, w, wsum)[1]
        for j in range(k):
            e = np.zeros(k)
            e[j] = eps
            h[:, j] = (self._objective(theta + e, d, w, wsum)[1] - g0) / eps
        return (h + h.T) / 2

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


def _integer_codes(
    arrays: Sequence[np.ndarray],
) -> tuple[np.ndarray, np.ndarray, list[tuple[float, int]]] | None:
    """Codes of the distinct rows of integral columns, or ``None`` if a column is not integral.

    One mixed-radix int64 key per row, built in place (10-million-row columns make every temporary costly);
    a dense key space is counted with ``bincount`` and mapped through a lookup table, a sparse one is hashed.
    Returns ``(codes, unique_keys, [(low, span), ...])``.
    """
    n = arrays[0].shape[0]
    key = np.empty(n, dtype=np.int64)
    tmp = np.empty(n, dtype=np.int64)
    spans: list[tuple[float, int]] = []
    radix = 1
    for j, a in enumerate(arrays):
        lo, hi = float(a.min()), float(a.max())
        if hi - lo >= 2**40:
            return None
        target = key if j == 0 else tmp
        np.copyto(target, a, casting="unsafe")
        if not np.array_equal(target, a):  # not whole numbers
            return None
        span = int(hi - lo) + 1
        radix *= span
        if radix >= 2**62:
            return None
        target -= int(lo)
        if j > 0:
            key *= span
            key += tmp
        spans.append((lo, span))
    if radix <= 4 * n + 1024:  # dense key space: count into it
        counts = np.bincount(key, minlength=radix)
        ukeys = np.flatnonzero(counts)
        lut = np.zeros(radix, dtype=np.int64)
        lut[ukeys] = np.arange(ukeys.size)
        np.take(lut, key, out=tmp)
        return tmp, ukeys.astype(np.int64), spans
    codes, ukeys = pd.factorize(key)
    return np.asarray(codes, dtype=np.int64), np.asarray(ukeys, dtype=np.int64), spans


_BLAS: list[Any] = []  # the threadpoolctl controller, created on first fit (it scans loaded libraries once)


def _single_thread_blas() -> contextlib.AbstractContextManager[Any]:
    """Limit BLAS to one thread while optimising (scoped to the ``with`` block).

    L-BFGS-B's tiny vector operations gain nothing from threads, and on a busy machine each threaded BLAS call
    can stall for milliseconds (measured: 350 ms -> 25 ms for the CDNOW BG/NBD fit on 2 loaded cores).
    """
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        return contextlib.nullcontext()
    if not _BLAS:
        _BLAS.append(ThreadpoolController())
    return _BLAS[0].limit(limits=1, user_api="blas")


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Inner product for the likelihoods; ``fit`` runs them with BLAS on one thread (see ``_single_thread_blas``)."""
    return float(np.dot(a, b))


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
