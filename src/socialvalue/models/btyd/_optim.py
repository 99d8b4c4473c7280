"""The optimisers behind :meth:`BTYDModel.fit <socialvalue.models.btyd._base.BTYDModel.fit>`.

A mixin working on the log-parameters: the penalised mean objective with its gradient (and Hessian when the
model has an analytic one), damped Newton, L-BFGS-B polishing, finite-difference Hessians, and the scoped
single-thread BLAS limit the fits run under.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from socialvalue.models._threads import single_thread_blas

__all__: list[str] = []

_LOG_BOUND = 30.0  # |log parameter| bound during optimisation: exp(30) ~ 1e13 keeps every term finite


def _single_thread_blas() -> contextlib.AbstractContextManager[Any]:
    """Limit BLAS to one thread while optimising (scoped to the ``with`` block).

    L-BFGS-B's tiny vector operations gain nothing from threads, and on a busy machine each threaded BLAS call
    can stall for milliseconds (measured: 350 ms -> 25 ms for the CDNOW BG/NBD fit on 2 loaded cores). Numpy's
    own OpenBLAS is set directly (microseconds); any other BLAS through threadpoolctl, whose scan of the
    loaded libraries (8-16 ms) is done once, on the first fit (see :func:`socialvalue.models._threads.single_thread_blas`).
    """
    return single_thread_blas()


class OptimizeResult(dict):
    """The result of an optimisation: a dict with attribute access, as :class:`scipy.optimize.OptimizeResult`.

    Newton's method reports through this class so that a fit which needs no L-BFGS-B never imports
    ``scipy.optimize`` (half a second in a fresh process without bytecode cache); L-BFGS-B returns scipy's own.
    Keys: ``x``, ``fun``, ``jac``, ``nit``, ``success``, ``message``.
    """

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc

    __setattr__ = dict.__setitem__  # type: ignore[assignment]
    __delattr__ = dict.__delitem__  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "\n".join(f"{k:>8}: {v!r}" for k, v in self.items())

    def __dir__(self) -> list[str]:
        return list(self.keys())


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Inner product for the likelihoods; ``fit`` runs them with BLAS on one thread (see ``_single_thread_blas``)."""
    return float(np.dot(a, b))


class _Optimiser:
    """Optimisation methods of :class:`~socialvalue.models.btyd._base.BTYDModel` (a mixin; see there)."""

    penalizer_coef: float
    max_iter: int
    _pen_scale: np.ndarray

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
    ) -> tuple[np.ndarray, np.ndarray, float, OptimizeResult] | None:
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
        res = OptimizeResult(x=theta, fun=value, jac=g, nit=it, success=True, message=message)
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
