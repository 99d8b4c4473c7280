r"""BG/NBD: the beta-geometric/negative-binomial model of repeat purchasing (Fader, Hardie & Lee 2005).

While alive, a customer buys as a Poisson process with rate :math:`\lambda \sim \mathrm{Gamma}(r, \alpha)`;
after each repeat purchase they drop out with probability :math:`p \sim \mathrm{Beta}(a, b)`. Data per
customer: ``frequency`` :math:`x` (repeat purchases), ``recency`` :math:`t_x` (time of the last one since the
first purchase) and ``T`` (time since the first purchase), all in one time unit of the caller's choice.

The modified BG/NBD (:class:`~socialvalue.models.btyd.mbgnbd.ModifiedBetaGeo`) also lets a customer drop out
at time zero; both share this module's code through the class attribute ``_shift`` (0 here, 1 there), which
shifts the beta-function arguments by one.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special

from socialvalue.errors import ConfigError, SchemaError
from socialvalue.models.btyd._base import BTYDModel, IntervalMethod
from socialvalue.models.btyd._optim import _dot

__all__ = ["BetaGeo"]

logger = logging.getLogger(__name__)

# Trapezoid nodes in v = log(delta * t) for the DERT integral (see BetaGeo.predict_dert): the integrand is
# analytic in a strip around the real axis and decays double-exponentially above and exponentially below, so the
# trapezoid rule converges geometrically in 1/step; [-18, 4] with step 0.3 (74 nodes) stays below ~1e-10
# relative against adaptive quadrature (tests/models/btyd/test_bgnbd.py).
_DERT_STEP = 0.3
_UPPER = np.triu_indices(4, 1)
_LOWER = (_UPPER[1], _UPPER[0])
_DERT_V = np.arange(-18.0, 4.0 + 1e-9, _DERT_STEP)


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


class BetaGeo(BTYDModel):
    r"""BG/NBD model (Fader, Hardie & Lee 2005).

    Log-likelihood of one customer (paper eq. 6, in the log-sum form used for stability):

    .. math::

        \ell = \ln\frac{\Gamma(r+x)\alpha^r}{\Gamma(r)} + \ln\frac{B(a, b+x)}{B(a, b)}
        + \ln\Big[(\alpha+T)^{-(r+x)}
        + \delta_{x>0}\frac{a}{b+x-1}(\alpha+t_x)^{-(r+x)}\Big]

    Customers without a purchase yet (``frequency``, ``recency`` and ``T`` all empty, as
    :func:`socialvalue.build_features` leaves them) are left out of ``fit`` (counted in ``n_no_purchase_``) and
    predicted as a customer whose history starts now (:math:`x = t_x = T = 0`): P(alive) 1, expected purchases
    the population's unconditional :math:`E[X(t)]`. A partly empty, negative or infinite row is a
    :class:`~socialvalue.errors.SchemaError` naming its column and first row. A degenerate solution (see
    ``degenerate_``) raises a :class:`~socialvalue.errors.DegenerateFitWarning` naming the parameter and the
    remedy.

    Parameters
    ----------
    penalizer_coef, tol, max_iter, resolution, on_degenerate
        See :class:`~socialvalue.models.btyd._base.BTYDModel`. ``resolution`` rounds ``recency`` and ``T``
        (e.g. ``1.0`` for days when the time unit is days, ``1/7`` for days when it is weeks).

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha``, ``a``, ``b``.
    log_likelihood_, se_, cov_, n_obs_, n_unique_ : see the base class.
    n_no_purchase_ : int
        Rows of customers without a purchase yet, left out of the fit.
    degenerate_ : list of str
        Why the solution is degenerate (empty when it is not).
    fingerprint_ : dict
        :func:`~socialvalue.models.persist.data_fingerprint` of the fitted columns (saved by ``to_json``).

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy way: an
       alternative to the Pareto/NBD model. *Marketing Science* 24(2), 275-284 (eqs. 6, 7, 8, 10).
    .. [2] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2008). Computing P(alive) using the BG/NBD model.
       http://brucehardie.com/notes/021/
    """

    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    _columns: ClassVar[tuple[str, ...]] = ("frequency", "recency", "T")
    _shift: ClassVar[int] = 0  # 1 for the MBG/NBD (dropout possible at time zero)

    # ------------------------------------------------------------------ likelihood
    def _check_data(self, data: dict[str, np.ndarray]) -> list[str]:
        problems = []
        x, tx, T = data["frequency"], data["recency"], data["T"]
        if np.any(tx > T):
            problems.append(f"recency > T in {int(np.sum(tx > T))} row(s)")
        if np.any((x == 0) & (tx != 0)):
            problems.append(f"recency != 0 with frequency 0 in {int(np.sum((x == 0) & (tx != 0)))} row(s)")
        if np.any(x != np.rint(x)):
            problems.append("frequency must be whole numbers")
        return problems

    def _penalty_scale(self, data: dict[str, np.ndarray]) -> np.ndarray:
        # lifetimes fits on time rescaled so that max(T) = 1, so its penalty sees alpha / max(T).
        return np.array([1.0, 1.0 / max(float(data["T"].max()), 1e-300), 1.0, 1.0])

    def _initial_params(self, data: dict[str, np.ndarray], weights: np.ndarray) -> np.ndarray:
        # A scale-aware start: alpha ~ T/(1+x) puts the purchase rate near the data's; r = 0.5 (purchase rates
        # are usually dispersed: r < 1 in the published fits), a, b = 1. From r = 1 the first MBG/NBD Newton
        # step on CDNOW overshoots to r = e^2 and costs 3 extra iterations (10 instead of 7).
        alpha = _dot(weights, data["T"]) / max(_dot(weights, data["frequency"]), 1.0)
        return np.array([0.5, max(alpha, 1e-3), 1.0, 1.0])

    def _terms(
        self, params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        """(A12, A3, A4, mask): ll = A12 + logaddexp(A3, A4) where mask, else A12 + A3."""
        r, alpha, a, b = params
        s = self._shift
        a12 = (
            special.gammaln(r + x)
            - special.gammaln(r)
            + r * np.log(alpha)
            + special.betaln(a, b + x + s)
            - special.betaln(a, b)
        )
        a3 = -(r + x) * np.log(alpha + T)
        mask = (x + s) > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            a4 = np.log(a) - np.log(b + x + s - 1) - (r + x) * np.log(alpha + tx)
        return a12, a3, np.where(mask, a4, -np.inf), mask

    def _loglik(self, params: np.ndarray, data: dict[str, np.ndarray]) -> np.ndarray:
        a12, a3, a4, _ = self._terms(params, data["frequency"], data["recency"], data["T"])
        return a12 + np.logaddexp(a3, a4)

    def _loglik_grad(self, params: np.ndarray, data: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        r, alpha, a, b = params
        s = self._shift
        x, tx, T = data["frequency"], data["recency"], data["T"]
        a12, a3, a4, _ = self._terms(params, x, tx, T)
        lse = np.logaddexp(a3, a4)
        w4 = np.exp(a4 - lse)  # posterior weight of "dropped out after the last purchase"
        w3 = 1.0 - w4
        la_T, la_tx = np.log(alpha + T), np.log(alpha + tx)
        dg_ab = special.digamma(a + b)
        dg_abx = special.digamma(a + b + x + s)
        with np.errstate(divide="ignore", invalid="ignore"):
            inv_bx = np.where(w4 > 0, 1.0 / (b + x + s - 1), 0.0)
        grad = np.empty((x.shape[0], 4))
        grad[:, 0] = special.digamma(r + x) - special.digamma(r) + np.log(alpha) - w3 * la_T - w4 * la_tx
        grad[:, 1] = r / alpha - (r + x) * (w3 / (alpha + T) + w4 / (alpha + tx))
        grad[:, 2] = dg_ab - dg_abx + w4 / a
        grad[:, 3] = dg_ab + special.digamma(b + x + s) - special.digamma(b) - dg_abx - w4 * inv_bx
        return a12 + lse, grad

    def _preprocess(
        self, data: dict[str, np.ndarray], weights: np.ndarray
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        # Index every row into the distinct x, T and t_x values: the special functions then run once per
        # distinct x and the logarithms once per distinct time, and rows only gather and combine.
        out = dict(data)
        for key, col in (("x", "frequency"), ("T", "T"), ("tx", "recency")):
            uniq, inv = np.unique(data[col], return_inverse=True)
            out[key + "_u"], out[key + "_inv"] = uniq, inv
        out["x_w"] = np.bincount(out["x_inv"], weights=weights)
        out["x_valid"] = (
            out["x_u"] + self._shift > 0
        )  # rows that may have dropped out after the last purchase
        out["w_sum"] = float(weights.sum())
        return out, weights

    def _total_loglik_grad(
        self, params: np.ndarray, data: dict[str, np.ndarray], weights: np.ndarray
    ) -> tuple[float, np.ndarray]:
        """Weighted log-likelihood and gradient (same terms as :meth:`_loglik_grad`, summed per distinct x)."""
        if "x_u" not in data:  # called on raw columns, not on the preprocessed dict
            return super()._total_loglik_grad(params, data, weights)
        ll, grad, _ = self._sums(params, data, weights, hessian=False)
        return ll, grad

    def _total_loglik_grad_hess(
        self, params: np.ndarray, data: dict[str, np.ndarray], weights: np.ndarray
    ) -> tuple[float, np.ndarray, np.ndarray]:
        r"""Weighted log-likelihood, gradient and analytic Hessian on the natural scale (for Newton's method).

        With :math:`\ell = A_{12} + A_3 + \mathrm{softplus}(d)` and :math:`\sigma = \mathrm{expit}(d)`:
        :math:`\nabla^2\ell = \nabla^2 A_{12} + \nabla^2 A_3 + \sigma\nabla^2 d + \sigma(1-\sigma)\nabla d
        \nabla d^\top`.
        """
        ll, grad, h = self._sums(params, data, weights, hessian=True)
        return ll, grad, h  # type: ignore[return-value]

    def _sums(
        self, params: np.ndarray, data: dict[str, np.ndarray], w: np.ndarray, *, hessian: bool
    ) -> tuple[float, np.ndarray, np.ndarray | None]:
        r, alpha, a, b = params
        s = self._shift
        xu, xw, xinv = data["x_u"], data["x_w"], data["x_inv"]
        # per distinct x; special functions batched into one call each (CDNOW-sized fits are call-bound)
        nx = xu.size
        bx = b + xu + s
        args = np.concatenate((r + xu, bx, a + bx, [r, b, a + b]))
        dg = special.digamma(args)
        dg_rx, dg_bx, dg_abx = dg[:nx], dg[nx : 2 * nx], dg[2 * nx : 3 * nx]
        dg_r, dg_b, dg_ab = dg[3 * nx :]
        gl = special.gammaln(np.concatenate((r + xu, [r])))
        bl = special.betaln(a, np.concatenate((bx, [b])))
        log_alpha = math.log(alpha)
        a12 = gl[:nx] - gl[nx] + r * log_alpha + bl[:nx] - bl[nx]
        valid = data["x_valid"]
        with np.errstate(divide="ignore", invalid="ignore"):
            c4 = np.where(valid, math.log(a) - np.log(bx - 1), -np.inf)
            inv_bx = np.where(valid, 1.0 / (bx - 1), 0.0)
        # per distinct time, gathered to rows
        lT = np.log(alpha + data["T_u"])[data["T_inv"]]
        ltx = np.log(alpha + data["tx_u"])[data["tx_inv"]]
        iT = (1.0 / (alpha + data["T_u"]))[data["T_inv"]]
        itx = (1.0 / (alpha + data["tx_u"]))[data["tx_inv"]]
        rx = r + data["frequency"]
        # ll = A12 + logaddexp(A3, A4) = A12 + A3 + softplus(d) with d = A4 - A3 the log-odds of "dropped out
        # after the last purchase"; its posterior weight is expit(d).
        dl = lT - ltx
        d = c4[xinv] + rx * dl
        sig = special.expit(d)
        wrx = w * rx
        ww4 = w * sig
        ib = inv_bx[xinv]
        wsum = data["w_sum"]
        d_alpha = rx * (iT - itx)  # d(d)/d(alpha); d(d)/dr = dl, d(d)/da = 1/a, d(d)/db = -ib
        ll = _dot(xw, a12) - _dot(wrx, lT) + _dot(w, np.logaddexp(0.0, d))
        grad = np.array(
            [
                _dot(xw, dg_rx - dg_r + log_alpha) - _dot(w, lT) + _dot(ww4, dl),
                r * wsum / alpha - _dot(wrx, iT) + _dot(ww4, d_alpha),
                _dot(xw, dg_ab - dg_abx) + float(ww4.sum()) / a,
                _dot(xw, dg_ab + dg_bx - dg_b - dg_abx) - _dot(ww4, ib),
            ]
        )
        if not hessian:
            return ll, grad, None
        tg = special.zeta(2.0, args)  # trigamma
        tg_rx, tg_bx, tg_abx = tg[:nx], tg[nx : 2 * nx], tg[2 * nx : 3 * nx]
        tg_r, tg_b, tg_ab = tg[3 * nx :]
        q = ww4 * (1.0 - sig)
        qdl, qda, qib = q * dl, q * d_alpha, q * ib
        h = np.empty((4, 4))
        h[0, 0] = _dot(xw, tg_rx - tg_r) + _dot(qdl, dl)
        h[0, 1] = wsum / alpha - _dot(w, iT) + _dot(ww4, iT - itx) + _dot(qdl, d_alpha)
        h[1, 1] = (
            -r * wsum / alpha**2
            + _dot(wrx, iT * iT)
            - _dot(ww4 * rx, iT * iT - itx * itx)
            + _dot(qda, d_alpha)
        )
        h[0, 2] = float(qdl.sum()) / a
        h[0, 3] = -_dot(qdl, ib)
        h[1, 2] = float(qda.sum()) / a
        h[1, 3] = -_dot(qda, ib)
        tg_ab_x = _dot(xw, tg_ab - tg_abx)
        h[2, 2] = tg_ab_x + (float(q.sum()) - float(ww4.sum())) / a**2
        h[2, 3] = tg_ab_x - float(qib.sum()) / a
        h[3, 3] = _dot(xw, tg_bx - tg_abx - tg_b + tg_ab) + _dot(ww4, ib * ib) + _dot(qib, ib)
        h[_LOWER] = h[_UPPER]
        return ll, grad, h

    # ------------------------------------------------------------------ prediction kernels (any params)
    def _log_odds_dead(self, params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
        r, alpha, a, b = params
        s = self._shift
        with np.errstate(divide="ignore", invalid="ignore"):
            lo = np.log(a) - np.log(b + x + s - 1) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
        return np.where(x + s > 0, lo, -np.inf)

    def _p_alive(self, params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
        """P(alive | x, t_x, T) (Fader, Hardie & Lee 2008 note 021, eq. 2)."""
        return special.expit(-self._log_odds_dead(params, x, tx, T))

    def _alive_purchases(self, params: np.ndarray, x: np.ndarray, T: np.ndarray, t: np.ndarray) -> np.ndarray:
        r"""E[purchases in (T, T+t] | alive at T] (paper eq. 10 without the P(alive) denominator).

        .. math:: \frac{a+b+x-1}{a-1}\Big[1 - \big(\tfrac{\alpha+T}{\alpha+T+t}\big)^{r+x}
                  {}_2F_1\big(r+x, b+x; a+b+x-1; \tfrac{t}{\alpha+T+t}\big)\Big]

        scipy's ``hyp2f1``, direct or (where that overflows) in Euler's form. Both return NaN near
        :math:`z = 1` once :math:`b` is in the hundreds (e.g. :math:`b = 500`, :math:`x \le 10`, :math:`z >
        0.997`: a long horizon, as in the DERT at a small discount rate); those entries only, and any other
        non-finite one (e.g. :math:`a = 1`), are computed as the beta mixture the formula comes from
        (:func:`~socialvalue.models.btyd._hyp2f1.alive_purchases_integral`, 1e-12 relative against mpmath).
        """
        r, alpha, a, b = params
        s = self._shift
        big_a, big_b, c = r + x, b + x + s, a + b + x + s - 1
        ratio = (alpha + T) / (alpha + T + t)
        z = t / (alpha + T + t)
        with np.errstate(all="ignore"):
            term = special.hyp2f1(big_a, big_b, c, z) * ratio**big_a
            bad = ~np.isfinite(term)
            if np.any(bad):  # Euler's transformation: 2F1(A,B;c;z) = (1-z)^(c-A-B) 2F1(c-A, c-B; c; z)
                # only where the direct form overflowed: 2F1 near z = 1 costs microseconds a value
                on = [np.broadcast_to(v, term.shape)[bad] for v in (big_a, big_b, c, z, ratio)]
                term = np.array(term, dtype=np.float64)  # writable (term may be a 0-d result)
                term[bad] = on[4] ** (a - 1) * special.hyp2f1(on[2] - on[0], on[2] - on[1], on[2], on[3])
            out = (a + b + x + s - 1) / (a - 1) * (1.0 - term)
        bad = ~np.isfinite(out)
        if np.any(bad):  # scipy's NaN near z = 1 with a large b: the beta mixture (quadrature) instead
            # imported here: _hyp2f1 loads scipy.integrate (and scipy.optimize), which a BG/NBD fit never needs
            from socialvalue.models.btyd._hyp2f1 import alive_purchases_integral

            big_a, big_b, tau = (np.broadcast_to(v, out.shape)[bad] for v in (big_a, big_b, t / (alpha + T)))
            out = np.array(out, dtype=np.float64)  # writable (out may be a 0-d result)
            out[bad] = alive_purchases_integral(big_a, big_b, a, tau)
        return out

    def _dert_alive(self, params: np.ndarray, x: np.ndarray, T: np.ndarray, delta: float) -> np.ndarray:
        r"""DERT given alive: :math:`\int_0^\infty \delta e^{-\delta t} E[Y(t)\mid \text{alive}]\,dt`."""
        u = np.exp(_DERT_V)  # u = delta * t
        h = self._alive_purchases(params, x[:, None], T[:, None], (u / delta)[None, :])
        return (h * (np.exp(-u) * u)[None, :]).sum(axis=1) * _DERT_STEP

    # ------------------------------------------------------------------ transaction-model protocol
    def _patterns(
        self, data: pd.DataFrame | Mapping[str, Any]
    ) -> tuple[list[np.ndarray], np.ndarray, pd.Index]:
        cols, index = self._columns_of(data, self._columns)
        uniq, inverse, _ = self._unique_rows([cols["frequency"], cols["recency"], cols["T"]])
        problems = self._check_data(dict(zip(self._columns, uniq, strict=True)))  # row-wise: distinct rows do
        if problems:
            raise SchemaError("invalid data for prediction: " + "; ".join(problems))
        return uniq, inverse, index

    def _expected_purchases_fn(
        self, data: pd.DataFrame | Mapping[str, Any], times: np.ndarray
    ) -> tuple[Callable[[np.ndarray], np.ndarray], np.ndarray]:
        (x, tx, T), inverse, _ = self._patterns(data)
        # E[Y(t) | x, t_x, T] = P(alive) * E[Y(t) | alive] and the second factor depends on (x, T) only.
        (xu, Tu), inv2, _ = self._unique_rows([x, T])
        times = np.asarray(times, dtype=np.float64).ravel()

        def fn(params: np.ndarray) -> np.ndarray:
            alive = self._alive_purchases(params, xu[:, None], Tu[:, None], times[None, :])
            return self._p_alive(params, x, tx, T)[:, None] * alive[inv2]

        return fn, inverse

    def _dert_fn(
        self, data: pd.DataFrame | Mapping[str, Any], discount_rate: float
    ) -> tuple[Callable[[np.ndarray], np.ndarray], np.ndarray]:
        _check_rate(discount_rate)
        (x, tx, T), inverse, _ = self._patterns(data)
        (xu, Tu), inv2, _ = self._unique_rows([x, T])

        def fn(params: np.ndarray) -> np.ndarray:
            return self._p_alive(params, x, tx, T) * self._dert_alive(params, xu, Tu, discount_rate)[inv2]

        return fn, inverse

    # ------------------------------------------------------------------ public predictions
    def _predict(
        self,
        fn: Callable[[np.ndarray], np.ndarray],
        inverse: np.ndarray | None,
        index: pd.Index,
        name: str,
        interval: float | None,
        link: str,
        interval_method: IntervalMethod,
        n_draws: int,
        seed: int | None,
    ) -> pd.Series | pd.DataFrame:
        take = (lambda v: v) if inverse is None else (lambda v: v[inverse])
        if interval is None:
            return self._output(take(fn(self._theta)), index, name)
        est, lo, hi = self._interval(
            fn, interval, link=link, method=interval_method, n_draws=n_draws, seed=seed
        )
        attrs = {"level": interval, "method": interval_method}
        return self._output(take(est), index, name, take(lo), take(hi), attrs)

    def probability_alive(
        self,
        data: pd.DataFrame | Mapping[str, Any],
        *,
        interval: float | None = None,
        interval_method: IntervalMethod = "delta",
        n_draws: int = 500,
        seed: int | None = 0,
    ) -> pd.Series | pd.DataFrame:
        r"""Probability that each customer is still alive at ``T``.

        .. math:: P(\text{alive}\mid x, t_x, T) = \Big[1 + \delta_{x>0}\frac{a}{b+x-1}
                  \Big(\frac{\alpha+T}{\alpha+t_x}\Big)^{r+x}\Big]^{-1}

        Parameters
        ----------
        data
            Columns ``frequency``, ``recency``, ``T``.
        interval
            If given (e.g. ``0.9``), return ``estimate``/``lower``/``upper`` columns; the delta method works on
            the logit scale, the bootstrap draws ``n_draws`` parameter vectors (``seed``).

        Returns
        -------
        pandas.Series or pandas.DataFrame
            Indexed like ``data``.
        """
        self._check_fitted()
        (x, tx, T), inverse, index = self._patterns(data)
        fn = lambda p: self._p_alive(p, x, tx, T)  # noqa: E731
        return self._predict(fn, inverse, index, "p_alive", interval, "logit", interval_method, n_draws, seed)

    def predict_purchases(
        self,
        data: pd.DataFrame | Mapping[str, Any],
        t: float,
        *,
        interval: float | None = None,
        interval_method: IntervalMethod = "delta",
        n_draws: int = 500,
        seed: int | None = 0,
    ) -> pd.Series | pd.DataFrame:
        r"""Expected purchases in the next ``t`` time units given each customer's history (paper eq. 10).

        .. math:: E[Y(t)\mid x, t_x, T] = P(\text{alive}) \frac{a+b+x-1}{a-1}
                  \Big[1 - \Big(\frac{\alpha+T}{\alpha+T+t}\Big)^{r+x}
                  {}_2F_1\Big(r+x, b+x; a+b+x-1; \frac{t}{\alpha+T+t}\Big)\Big]

        Same as lifetimes' ``conditional_expected_number_of_purchases_up_to_time``. Intervals as in
        :meth:`probability_alive` (log scale).
        """
        self._check_fitted()
        _check_time(t)
        fn, inverse = self._expected_purchases_fn(data, np.array([float(t)]))
        index = self._columns_of(data, self._columns)[1]
        return self._predict(
            lambda p: fn(p)[:, 0],
            inverse,
            index,
            "expected_purchases",
            interval,
            "log",
            interval_method,
            n_draws,
            seed,
        )

    def expected_purchases(
        self,
        t: ArrayLike,
        *,
        interval: float | None = None,
        interval_method: IntervalMethod = "delta",
        n_draws: int = 500,
        seed: int | None = 0,
    ) -> pd.Series | pd.DataFrame:
        r"""Expected repeat purchases in ``(0, t]`` of a new customer, :math:`E[X(t)]` (paper eq. 7).

        .. math:: E[X(t)] = \frac{a+b-1}{a-1}\Big[1 - \Big(\frac{\alpha}{\alpha+t}\Big)^r
                  {}_2F_1\Big(r, b; a+b-1; \frac{t}{\alpha+t}\Big)\Big]

        Returns a Series (or interval DataFrame) indexed by ``t``.
        """
        self._check_fitted()
        tt = np.atleast_1d(np.asarray(t, dtype=np.float64))
        _check_time(tt)
        zero = np.zeros_like(tt)
        # The unconditional expectation is the conditional one of a customer with x = t_x = T = 0.
        fn = lambda p: self._p_alive(p, zero, zero, zero) * self._alive_purchases(p, zero, zero, tt)  # noqa: E731
        index = pd.Index(tt, name="t")
        return self._predict(
            fn, None, index, "expected_purchases", interval, "log", interval_method, n_draws, seed
        )

    def probability_of_purchases(
        self,
        n: ArrayLike,
        t: ArrayLike,
        *,
        interval: float | None = None,
        interval_method: IntervalMethod = "delta",
        n_draws: int = 500,
        seed: int | None = 0,
    ) -> pd.Series | pd.DataFrame:
        r"""P(X(t) = n): probability that a new customer makes ``n`` repeat purchases in ``(0, t]`` (paper eq. 8).

        .. math:: P(X(t)=n) = \frac{B(a,b+n)}{B(a,b)}\frac{\Gamma(r+n)}{\Gamma(r)\,n!}
                  \Big(\frac{\alpha}{\alpha+t}\Big)^r\Big(\frac{t}{\alpha+t}\Big)^n
                  + \delta_{n>0}\frac{B(a+1,b+n-1)}{B(a,b)}\Big[1 - \sum_{j=0}^{n-1}
                  \frac{\Gamma(r+j)}{\Gamma(r)\,j!}\Big(\frac{\alpha}{\alpha+t}\Big)^r
                  \Big(\frac{t}{\alpha+t}\Big)^j\Big]

        The bracket is the negative-binomial upper tail, computed as :math:`I_{t/(\alpha+t)}(n, r)`.
        ``n`` and ``t`` broadcast; the result is indexed by the pairs ``(n, t)``.
        """
        self._check_fitted()
        nn, tt = np.broadcast_arrays(
            np.atleast_1d(np.asarray(n)), np.atleast_1d(np.asarray(t, dtype=np.float64))
        )
        if np.any(nn < 0) or np.any(nn != np.rint(nn)):
            raise ConfigError("n must be non-negative whole numbers")
        _check_time(tt)
        nn = nn.astype(np.float64)
        fn = lambda p: self._prob_n(p, nn, tt)  # noqa: E731
        index = pd.MultiIndex.from_arrays([nn.astype(np.int64), tt], names=["n", "t"])
        return self._predict(
            fn, None, index, "probability", interval, "logit", interval_method, n_draws, seed
        )

    def _prob_n(self, params: np.ndarray, n: np.ndarray, t: np.ndarray) -> np.ndarray:
        r, alpha, a, b = params
        s = self._shift
        q = t / (alpha + t)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_nbd = (
                special.gammaln(r + n)
                - special.gammaln(r)
                - special.gammaln(n + 1)
                + r * np.log(alpha / (alpha + t))
                + special.xlogy(n, q)
            )
            first = np.exp(special.betaln(a, b + n + s) - special.betaln(a, b) + log_nbd)
            tail = np.where(n > 0, special.betainc(np.maximum(n, 1), r, q), 1.0)
            second = np.exp(special.betaln(a + 1, b + n + s - 1) - special.betaln(a, b)) * tail
        return first + np.where(n + s > 0, second, 0.0)

    def predict_dert(
        self,
        data: pd.DataFrame | Mapping[str, Any],
        discount_rate: float,
        *,
        interval: float | None = None,
        interval_method: IntervalMethod = "delta",
        n_draws: int = 500,
        seed: int | None = 0,
    ) -> pd.Series | pd.DataFrame:
        r"""Discounted expected residual transactions with continuous discounting (infinite horizon).

        .. math:: \mathrm{DERT}(\delta\mid x, t_x, T) = \int_0^\infty e^{-\delta t}\,
                  dE[Y(t)\mid x, t_x, T] = P(\text{alive})\int_0^\infty e^{-u}\,
                  E\big[Y(u/\delta)\mid\text{alive}\big]\,du

        (integration by parts). The BG/NBD has no closed form; the integral is computed numerically by the
        trapezoid rule in :math:`v = \ln u` on a fixed grid (74 nodes), where the integrand is analytic and
        decays (double-)exponentially at both ends, so the error is below ~1e-10 relative. The alive factor
        depends on ``(x, T)`` only, so the integral runs once per distinct ``(x, T)``.

        Parameters
        ----------
        discount_rate
            Continuously compounded rate :math:`\delta` per time unit of the data, e.g. for 15% a year and
            weeks ``log(1.15) / 52`` (see :func:`socialvalue.models.btyd.clv.continuous_rate`).

        References
        ----------
        .. [1] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: using iso-value curves for
           customer base analysis. *Journal of Marketing Research* 42(4), 415-430 (eq. 5, the definition).
        """
        self._check_fitted()
        fn, inverse = self._dert_fn(data, discount_rate)
        index = self._columns_of(data, self._columns)[1]
        return self._predict(fn, inverse, index, "dert", interval, "log", interval_method, n_draws, seed)

    # ------------------------------------------------------------------ simulation
    @classmethod
    def simulate(
        cls,
        params: Mapping[str, float],
        T: ArrayLike,
        rng: int | np.random.Generator | None = None,
        size: int | None = None,
    ) -> pd.DataFrame:
        """Simulate customers' summaries from the model (vectorised).

        Parameters
        ----------
        params
            ``r``, ``alpha``, ``a``, ``b``.
        T
            Observation length per customer (array), or a scalar together with ``size``.
        rng
            Seed or generator.

        Returns
        -------
        pandas.DataFrame
            ``frequency``, ``recency``, ``T``, plus the latent ``alive`` (bool), ``lambda_`` and ``p``.
        """
        gen = _rng(rng)
        T_arr = np.asarray(T, dtype=np.float64)
        if T_arr.ndim == 0:
            T_arr = np.full(size if size is not None else 1, float(T_arr))
        n = T_arr.shape[0]
        r, alpha, a, b = (float(params[k]) for k in cls._param_names)
        lam = gen.gamma(r, 1.0 / alpha, size=n)
        p = gen.beta(a, b, size=n)
        # Purchases until dropout: geometric on {1, 2, ...} (BG/NBD) or {0, 1, ...} (MBG/NBD: dropout at 0).
        n_life = gen.geometric(p) - cls._shift
        m = gen.poisson(lam * T_arr)  # purchases the customer would make by T if never dropping out
        x = np.minimum(m, n_life)
        alive = m < n_life
        # The x-th of m uniform event times on (0, T) is T * Beta(x, m - x + 1).
        pos = x > 0
        rec = np.zeros(n)
        rec[pos] = T_arr[pos] * gen.beta(x[pos], m[pos] - x[pos] + 1)
        return pd.DataFrame(
            {
                "frequency": x.astype(np.int64),
                "recency": rec,
                "T": T_arr,
                "alive": alive,
                "lambda_": lam,
                "p": p,
            }
        )


def _check_time(t: Any) -> None:
    arr = np.asarray(t, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ConfigError(f"prediction horizon t must be finite and >= 0, got {t!r}")


def _check_rate(rate: float) -> None:
    if not (np.isfinite(rate) and rate > 0):
        raise ConfigError(f"discount_rate must be a finite number > 0, got {rate!r}")
