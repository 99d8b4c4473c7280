r"""BG/BB: the beta-geometric/beta-Bernoulli model of discrete-time repeat behaviour (Fader, Hardie & Shang 2010).

At each of ``n`` transaction opportunities after the first transaction, a customer first "dies" with
probability :math:`\theta \sim \mathrm{Beta}(\gamma, \delta)` (for good) and, while alive, transacts with
probability :math:`p \sim \mathrm{Beta}(\alpha, \beta)`. Data per customer: ``frequency`` :math:`x` (number of
opportunities with a transaction), ``recency`` :math:`t_x` (the last such opportunity, 0 if none) and
``n_periods`` :math:`n`, with optional weights (the usual compressed recency/frequency table).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special
from scipy.special import betaln, digamma

from socialvalue.errors import SchemaError
from socialvalue.models.btyd import _kit
from socialvalue.models.btyd._base import BTYDModel, IntervalMethod
from socialvalue.models.btyd._hyp2f1 import log_hyp2f1
from socialvalue.models.btyd._optim import _dot

__all__ = ["BetaGeoBetaBinom", "bgbb_loglik"]

logger = logging.getLogger(__name__)


def _ragged(count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A ``(rows, max count)`` grid ``i = 0, 1, ...`` and the mask ``i < count`` (vectorised ragged sums)."""
    width = int(count.max()) if count.size and count.max() > 0 else 1
    i = np.arange(width, dtype=np.float64)[None, :]
    return i, i < count[:, None]


def _grid(x: np.ndarray, t_x: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, ...]:
    """The scenario grid of the likelihood: ``(y, dead, log_ok)``, shape ``(rows, 1 + max(n - t_x))``.

    Column 0 is "alive at n" (``y = n``), column ``1 + i`` "died right after opportunity ``t_x + i``"
    (``y = t_x + i``); padding cells get ``y = n`` and ``log_ok = -inf`` so every special function stays finite.
    """
    i, mask = _ragged(n - t_x)
    ok = np.concatenate([np.ones((x.size, 1), dtype=bool), mask], axis=1)
    y = np.concatenate([n[:, None], t_x[:, None] + i], axis=1)
    y = np.where(ok, y, n[:, None])
    dead = np.zeros_like(y)
    dead[:, 1:] = 1.0
    return y, dead, np.where(ok, 0.0, -np.inf)


def bgbb_loglik(
    params: ArrayLike, x: ArrayLike, t_x: ArrayLike, n: ArrayLike, grad: bool = False, _grid_=None
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    r"""Per-customer BG/BB log-likelihood (Fader, Hardie & Shang 2010, eq. 5), optionally with its gradient.

    .. math::

        L = \frac{B(\alpha+x, \beta+n-x)}{B(\alpha,\beta)}\frac{B(\gamma, \delta+n)}{B(\gamma,\delta)}
          + \sum_{i=0}^{n-t_x-1}\frac{B(\alpha+x, \beta+t_x-x+i)}{B(\alpha,\beta)}
            \frac{B(\gamma+1, \delta+t_x+i)}{B(\gamma,\delta)}

    summed in log space (log-sum-exp over the ragged grid of ``i``). The gradient, shape ``(n, 4)`` on the
    natural scale, is the posterior-weighted average of the terms' digamma derivatives.

    Parameters
    ----------
    params
        ``(alpha, beta, gamma, delta)``.
    x, t_x, n
        Frequency, recency and number of opportunities (broadcast, flattened).
    grad
        Also return the gradient.
    """
    al, be, ga, de = (float(v) for v in params)
    x, t_x, n = (np.ravel(v) for v in np.broadcast_arrays(*(np.asarray(v, np.float64) for v in (x, t_x, n))))
    y, dead, log_ok = _grid(x, t_x, n) if _grid_ is None else _grid_
    xa = x[:, None]
    # B(al+x, be+y-x) B(ga+dead, de+y) without the per-row factors Gamma(al+x) and Gamma(ga), taken out below.
    terms = (
        special.gammaln(be + y - xa)
        - special.gammaln(al + be + y)
        + dead * np.log(ga)
        + special.gammaln(de + y)
        - special.gammaln(ga + de + y + dead)
        + log_ok
    )
    top = terms.max(axis=1)
    w = np.exp(terms - top[:, None])
    total = w.sum(axis=1)
    const = special.gammaln(ga) - betaln(al, be) - betaln(ga, de)
    ll = special.gammaln(al + x) + top + np.log(total) + const
    if not grad:
        return ll
    w /= total[:, None]  # posterior weights of the scenarios (0 on padding)
    psi_aby = digamma(al + be + y)
    psi_gdy = digamma(ga + de + y + dead)
    d_ab, d_gd = digamma(al + be), digamma(ga + de)
    g = np.empty((x.size, 4))
    g[:, 0] = digamma(al + x) - np.einsum("ij,ij->i", w, psi_aby) - digamma(al) + d_ab
    g[:, 1] = np.einsum("ij,ij->i", w, digamma(be + y - xa) - psi_aby) - digamma(be) + d_ab
    g[:, 2] = (w * dead).sum(axis=1) / ga - np.einsum("ij,ij->i", w, psi_gdy) + d_gd
    g[:, 3] = np.einsum("ij,ij->i", w, digamma(de + y) - psi_gdy) - digamma(de) + d_gd
    return ll, g


def _bgbb_totals(
    params: np.ndarray,
    x: np.ndarray,
    n: np.ndarray,
    weights: np.ndarray,
    grid: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> tuple[float, np.ndarray, np.ndarray]:
    r"""Weighted total BG/BB log-likelihood, gradient and analytic Hessian on the natural scale.

    Per row :math:`\ell = \ln\Gamma(\alpha+x) + c(\theta) + \log\sum_j e^{t_j}` (the terms of
    :func:`bgbb_loglik`), so with the posterior weights :math:`w_j` of the scenarios

    .. math::

        \nabla^2\ell = \nabla^2[\ln\Gamma(\alpha+x) + c] + \sum_j w_j\,(\nabla^2 t_j
            + \nabla t_j \nabla t_j^\top) - \bar t\,\bar t^\top, \qquad \bar t = \sum_j w_j \nabla t_j ,

    where every derivative of :math:`t_j` is a digamma (first) or trigamma (second) of the scenario's
    arguments. Digamma and trigamma are evaluated in one call each (small tables make fits call-bound).
    """
    al, be, ga, de = (float(v) for v in params)
    y, dead, log_ok = grid
    xa = x[:, None]
    a_ab, a_by, a_gd, a_dy = al + be + y, be + y - xa, ga + de + y + dead, de + y
    terms = (
        special.gammaln(a_by)
        - special.gammaln(a_ab)
        + dead * np.log(ga)
        + special.gammaln(a_dy)
        - special.gammaln(a_gd)
        + log_ok
    )
    top = terms.max(axis=1)
    w = np.exp(terms - top[:, None])
    total = w.sum(axis=1)
    const = special.gammaln(ga) - betaln(al, be) - betaln(ga, de)
    ll = _dot(weights, special.gammaln(al + x) + top + np.log(total)) + const * float(weights.sum())
    w /= total[:, None]
    # digamma and trigamma of every argument at once: the grid's four, then al + x, then the five constants
    k = y.size
    args = np.concatenate(
        [a_ab.ravel(), a_by.ravel(), a_gd.ravel(), a_dy.ravel(), al + x, [al, be, al + be, de, ga + de]]
    )
    psi, tri = special.digamma(args), _kit.trigamma(args)
    shape = y.shape
    p_ab, p_by, p_gd, p_dy = (psi[i * k : (i + 1) * k].reshape(shape) for i in range(4))
    t_ab, t_by, t_gd, t_dy = (tri[i * k : (i + 1) * k].reshape(shape) for i in range(4))
    nx = x.size
    p_ax, t_ax = psi[4 * k : 4 * k + nx], tri[4 * k : 4 * k + nx]
    ps_a, ps_b, ps_ab, ps_d, ps_gd = psi[4 * k + nx :]
    tr_a, tr_b, tr_ab, tr_d, tr_gd = tri[4 * k + nx :]
    # first derivatives of the scenario terms, (4, rows, scenarios)
    d = np.stack([-p_ab, p_by - p_ab, dead / ga - p_gd, p_dy - p_gd])
    ww = w * weights[:, None]  # row weight x posterior weight of the scenario
    mean = np.einsum("kij,ij->ik", d, w)  # (rows, 4): posterior means of the term gradients
    wsum = float(weights.sum())
    grad = np.einsum("i,ik->k", weights, mean) + np.array(
        [
            _dot(weights, p_ax) + wsum * (ps_ab - ps_a),
            wsum * (ps_ab - ps_b),
            wsum * ps_gd,
            wsum * (ps_gd - ps_d),
        ]
    )
    h = np.einsum("kij,lij->kl", d * ww[None], d) - np.einsum("ik,il,i->kl", mean, mean, weights)
    # second derivatives of the terms (no alpha/beta x gamma/delta cross terms), weighted
    s_ab, s_by, s_gd, s_dy = (float(np.einsum("ij,ij->", ww, t)) for t in (t_ab, t_by, t_gd, t_dy))
    s_dead = float(np.einsum("ij,ij->", ww, dead))
    h[0, 0] += -s_ab + _dot(weights, t_ax) + wsum * (tr_ab - tr_a)
    h[0, 1] += -s_ab + wsum * tr_ab
    h[1, 1] += s_by - s_ab + wsum * (tr_ab - tr_b)
    h[2, 2] += -s_dead / ga**2 - s_gd + wsum * tr_gd
    h[2, 3] += -s_gd + wsum * tr_gd
    h[3, 3] += s_dy - s_gd + wsum * (tr_gd - tr_d)
    h[1, 0], h[3, 2] = h[0, 1], h[2, 3]
    return ll, grad, (h + h.T) / 2  # the cross products' einsum sums in different orders


class BetaGeoBetaBinom(BTYDModel):
    r"""BG/BB model (Fader, Hardie & Shang 2010) fitted on the compressed ``(x, t_x, n)`` table with weights.

    Customers without a purchase yet (``frequency``, ``recency`` and ``n_periods`` all empty, as
    :func:`socialvalue.build_features` leaves them) are left out of ``fit`` (counted in ``n_no_purchase_``) and
    predicted as a customer whose history starts now (:math:`x = t_x = n = 0`): the population's unconditional
    expectations. A partly empty row is a :class:`~socialvalue.errors.SchemaError` naming its column and row; a
    degenerate solution raises a :class:`~socialvalue.errors.DegenerateFitWarning` (see ``degenerate_``).

    Parameters
    ----------
    penalizer_coef, tol, max_iter, on_degenerate
        See :class:`~socialvalue.models.btyd._base.BTYDModel` (``resolution`` is not meaningful here: the data
        are whole periods).

    Attributes
    ----------
    params_ : dict
        ``alpha``, ``beta`` (transaction probability :math:`p`), ``gamma``, ``delta`` (dropout
        probability :math:`\theta`).
    log_likelihood_, se_, cov_, n_obs_, n_unique_, n_no_purchase_, degenerate_, fingerprint_ : see the base
        class.

    Examples
    --------
    The donations table of the paper has columns ``frequency``, ``recency``, ``periods``, ``weights``:

    >>> table = table.rename(columns={"periods": "n_periods"})  # doctest: +SKIP
    >>> BetaGeoBetaBinom().fit(table, weights="weights").params_  # doctest: +SKIP
    {'alpha': 1.204, 'beta': 0.750, 'gamma': 0.657, 'delta': 2.783}

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. & Shang, J. (2010). Customer-base analysis in a discrete-time
       noncontractual setting. *Marketing Science* 29(6), 1086-1108 (eqs. 5, 7, 8, 11, 13, 14).
    """

    _param_names: ClassVar[tuple[str, ...]] = ("alpha", "beta", "gamma", "delta")
    _columns: ClassVar[tuple[str, ...]] = ("frequency", "recency", "n_periods")

    # ------------------------------------------------------------------ likelihood
    def _check_data(self, data: dict[str, np.ndarray]) -> list[str]:
        problems = []
        x, tx, n = data["frequency"], data["recency"], data["n_periods"]
        for name, arr in (("frequency", x), ("recency", tx), ("n_periods", n)):
            if np.any(arr != np.rint(arr)):
                problems.append(f"{name} must be whole numbers of periods")
        if np.any(tx > n):
            problems.append(f"recency > n_periods in {int(np.sum(tx > n))} row(s)")
        if np.any(x > tx):
            problems.append(f"frequency > recency in {int(np.sum(x > tx))} row(s)")
        if np.any((x == 0) & (tx != 0)):
            problems.append(f"recency != 0 with frequency 0 in {int(np.sum((x == 0) & (tx != 0)))} row(s)")
        if np.any((x > 0) & (tx == 0)):
            problems.append(f"recency 0 with frequency > 0 in {int(np.sum((x > 0) & (tx == 0)))} row(s)")
        return problems

    def _preprocess(
        self, data: dict[str, np.ndarray], weights: np.ndarray
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        y, dead, log_ok = _grid(data["frequency"], data["recency"], data["n_periods"])
        return {**data, "_y": y, "_dead": dead, "_log_ok": log_ok}, weights

    @staticmethod
    def _grid_of(data: dict[str, np.ndarray]) -> tuple[np.ndarray, ...] | None:
        return (data["_y"], data["_dead"], data["_log_ok"]) if "_y" in data else None

    def _loglik(self, params: np.ndarray, data: dict[str, np.ndarray]) -> np.ndarray:
        x, tx, n = data["frequency"], data["recency"], data["n_periods"]
        return bgbb_loglik(params, x, tx, n, _grid_=self._grid_of(data))

    def _total_loglik_grad_hess(
        self, params: np.ndarray, data: dict[str, np.ndarray], weights: np.ndarray
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """Weighted log-likelihood, gradient and analytic Hessian (see :func:`_bgbb_totals`).

        With it ``fit`` runs Newton's method (8 iterations on the donations table) instead of L-BFGS-B.
        """
        x, tx, n = data["frequency"], data["recency"], data["n_periods"]
        grid = self._grid_of(data)
        if grid is None:
            grid = _grid(x, tx, n)
        return _bgbb_totals(params, x, n, weights, grid)

    def _loglik_grad(self, params: np.ndarray, data: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        x, tx, n = data["frequency"], data["recency"], data["n_periods"]
        return bgbb_loglik(params, x, tx, n, grad=True, _grid_=self._grid_of(data))

    # ------------------------------------------------------------------ prediction kernels (any params)
    @staticmethod
    def _p_alive(params: np.ndarray, x: np.ndarray, tx: np.ndarray, n: np.ndarray, m: float) -> np.ndarray:
        """P(alive at opportunity n + m | x, t_x, n) (eq. 11 for m = 1)."""
        al, be, ga, de = params
        log_num = betaln(al + x, be + n - x) - betaln(al, be) + betaln(ga, de + n + m) - betaln(ga, de)
        return np.exp(log_num - bgbb_loglik(params, x, tx, n))

    @staticmethod
    def _ratio_diff(ga: float, de: float, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        r"""Return the expected number of opportunities alive in ``(lo, hi]`` per unit of P(alive at lo).

        .. math:: \frac{\delta}{\gamma-1}\frac{\Gamma(\gamma+\delta)}{\Gamma(1+\delta)}
                  \Big[\frac{\Gamma(1+\delta+lo)}{\Gamma(\gamma+\delta+lo)}
                  - \frac{\Gamma(1+\delta+hi)}{\Gamma(\gamma+\delta+hi)}\Big]

        The limit at :math:`\gamma = 1` is taken
        through ``expm1`` so no cancellation occurs near it.
        """
        g_lo = special.gammaln(1.0 + de + lo) - special.gammaln(ga + de + lo)
        g_hi = special.gammaln(1.0 + de + hi) - special.gammaln(ga + de + hi)
        pref = np.log(de) + special.gammaln(ga + de) - special.gammaln(1.0 + de)
        if abs(ga - 1.0) < 1e-9:  # limit: (psi(1+de+hi) - psi(1+de+lo)) times the ratio at lo
            return np.exp(pref + g_lo) * (digamma(1.0 + de + hi) - digamma(1.0 + de + lo))
        return np.exp(pref + g_lo) * (-np.expm1(g_hi - g_lo)) / (ga - 1.0)

    @classmethod
    def _cond_purchases(
        cls, params: np.ndarray, x: np.ndarray, tx: np.ndarray, n: np.ndarray, t: np.ndarray
    ) -> np.ndarray:
        """E[X(n, n + t) | x, t_x, n] (eq. 13); broadcasts ``t`` against the rows."""
        al, be, ga, de = params
        ll = bgbb_loglik(params, x, tx, n).reshape(np.shape(x))
        head = np.exp(betaln(al + x + 1.0, be + n - x) - betaln(al, be) - ll)
        return head * cls._ratio_diff(ga, de, n, n + t)

    @staticmethod
    def _dert_kernel(
        params: np.ndarray, x: np.ndarray, tx: np.ndarray, n: np.ndarray, delta: float
    ) -> np.ndarray:
        """DERT (eq. 14) with per-period discount factor ``exp(-delta)``, i.e. ``d = exp(delta) - 1``."""
        al, be, ga, de = params
        d = np.expm1(delta)
        z, zc = 1.0 / (1.0 + d), d / (1.0 + d)
        log_f = log_hyp2f1(1.0, de + n + 1.0, ga + de + n + 1.0, z, zc)
        log_dert = (
            betaln(al + x + 1.0, be + n - x)
            - betaln(al, be)
            + betaln(ga, de + n + 1.0)
            - betaln(ga, de)
            - np.log1p(d)
            + log_f
            - bgbb_loglik(params, x, tx, n)
        )
        return np.exp(log_dert)

    @staticmethod
    def _prob_x(params: np.ndarray, x: np.ndarray, n: np.ndarray) -> np.ndarray:
        """P(X(n) = x) for a new customer (eq. 7)."""
        al, be, ga, de = params
        log_binom = special.gammaln(n + 1.0) - special.gammaln(x + 1.0) - special.gammaln(n - x + 1.0)
        first = log_binom + betaln(al + x, be + n - x) - betaln(al, be) + betaln(ga, de + n) - betaln(ga, de)
        # sum_{i=x}^{n-1} C(i, x) B(al+x, be+i-x)/B(al,be) B(ga+1, de+i)/B(ga,de)
        i, mask = _ragged(n - x)
        ii = x[:, None] + i
        xx = x[:, None]
        with np.errstate(invalid="ignore"):
            terms = (
                special.gammaln(ii + 1.0)
                - special.gammaln(xx + 1.0)
                - special.gammaln(ii - xx + 1.0)
                + betaln(al + xx, be + ii - xx)
                + betaln(ga + 1.0, de + ii)
            )
        terms = np.where(mask, terms, -np.inf) - betaln(al, be) - betaln(ga, de)
        return np.exp(np.logaddexp(first, special.logsumexp(terms, axis=1)))

    # ------------------------------------------------------------------ transaction-model protocol
    def _patterns(
        self, data: pd.DataFrame | Mapping[str, Any]
    ) -> tuple[list[np.ndarray], np.ndarray, pd.Index]:
        cols, index = self._columns_of(data, self._columns)
        problems = self._check_data(cols)
        if problems:
            raise SchemaError("invalid data for prediction: " + "; ".join(problems))
        uniq, inverse, _ = self._unique_rows([cols["frequency"], cols["recency"], cols["n_periods"]])
        return uniq, inverse, index

    def _expected_purchases_fn(
        self, data: pd.DataFrame | Mapping[str, Any], times: np.ndarray
    ) -> tuple[Callable[[np.ndarray], np.ndarray], np.ndarray]:
        (x, tx, n), inverse, _ = self._patterns(data)
        times = np.asarray(times, dtype=np.float64).ravel()

        def fn(params: np.ndarray) -> np.ndarray:
            return self._cond_purchases(params, x[:, None], tx[:, None], n[:, None], times[None, :])

        return fn, inverse

    def _dert_fn(
        self, data: pd.DataFrame | Mapping[str, Any], discount_rate: float
    ) -> tuple[Callable[[np.ndarray], np.ndarray], np.ndarray]:
        delta = _kit.check_rate(discount_rate)
        (x, tx, n), inverse, _ = self._patterns(data)
        return (lambda params: self._dert_kernel(params, x, tx, n, delta)), inverse

    # ------------------------------------------------------------------ public predictions
    def probability_alive(
        self,
        data: pd.DataFrame | Mapping[str, Any],
        m_periods: int = 1,
        *,
        interval: float | None = None,
        interval_method: IntervalMethod = "delta",
        n_draws: int = 500,
        seed: int | None = 0,
    ) -> pd.Series | pd.DataFrame:
        r"""Probability that each customer is alive at opportunity ``n + m_periods`` (eq. 11 for ``m = 1``).

        .. math:: P(\text{alive at } n+m\mid x, t_x, n) = \frac{B(\alpha+x, \beta+n-x)}{B(\alpha,\beta)}
                  \frac{B(\gamma, \delta+n+m)}{B(\gamma,\delta)} \Big/ L(\alpha,\beta,\gamma,\delta\mid x,t_x,n)

        Same as lifetimes' ``conditional_probability_alive(m_periods, ...)``. ``interval`` as for the other
        models (logit scale).
        """
        self._check_fitted()
        m = float(_kit.check_time(m_periods, "m_periods"))
        (x, tx, n), inverse, index = self._patterns(data)
        fn = lambda p: self._p_alive(p, x, tx, n, m)  # noqa: E731
        return _kit.predict(
            self, fn, inverse, index, "p_alive", interval, "logit", interval_method, n_draws, seed
        )

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
        r"""Expected transactions in the next ``t`` opportunities given each history (eq. 13).

        .. math::

            E[X(n, n+t)\mid x, t_x, n] = \frac{1}{L}\frac{B(\alpha+x+1, \beta+n-x)}{B(\alpha,\beta)}
            \frac{\delta}{\gamma-1}\frac{\Gamma(\gamma+\delta)}{\Gamma(1+\delta)}
            \Big[\frac{\Gamma(1+\delta+n)}{\Gamma(\gamma+\delta+n)}
                 - \frac{\Gamma(1+\delta+n+t)}{\Gamma(\gamma+\delta+n+t)}\Big]

        Same as lifetimes' ``conditional_expected_number_of_purchases_up_to_time(t, ...)``.
        """
        self._check_fitted()
        _kit.check_time(t)
        fn, inverse = self._expected_purchases_fn(data, np.array([float(t)]))
        index = self._columns_of(data, self._columns)[1]
        return _kit.predict(
            self, lambda p: fn(p)[:, 0], inverse, index, "expected_purchases", interval, "log",
            interval_method, n_draws, seed,
        )  # fmt: skip

    def expected_purchases(
        self,
        t: ArrayLike,
        *,
        interval: float | None = None,
        interval_method: IntervalMethod = "delta",
        n_draws: int = 500,
        seed: int | None = 0,
    ) -> pd.Series | pd.DataFrame:
        r"""Expected transactions in the first ``t`` opportunities of a new customer (eq. 8).

        .. math:: E[X(n)] = \frac{\alpha}{\alpha+\beta}\frac{\delta}{\gamma-1}\Big[1 -
                  \frac{\Gamma(\gamma+\delta)}{\Gamma(\gamma+\delta+n)}\frac{\Gamma(1+\delta+n)}{\Gamma(1+\delta)}\Big]

        Returns a Series (or interval DataFrame) indexed by ``t``.
        """
        self._check_fitted()
        tt = np.atleast_1d(_kit.check_time(t))
        zero = np.zeros_like(tt)

        def fn(p: np.ndarray) -> np.ndarray:
            return p[0] / (p[0] + p[1]) * self._ratio_diff(p[2], p[3], zero, tt)

        index = pd.Index(tt, name="t")
        return _kit.predict(
            self, fn, None, index, "expected_purchases", interval, "log", interval_method, n_draws, seed
        )

    def probability_of_purchases(
        self,
        x: ArrayLike,
        n: ArrayLike,
        *,
        interval: float | None = None,
        interval_method: IntervalMethod = "delta",
        n_draws: int = 500,
        seed: int | None = 0,
    ) -> pd.Series | pd.DataFrame:
        r"""P(X(n) = x): probability of ``x`` transactions in the first ``n`` opportunities (eq. 7).

        .. math:: P(X(n)=x) = \binom{n}{x}\frac{B(\alpha+x,\beta+n-x)}{B(\alpha,\beta)}
                  \frac{B(\gamma,\delta+n)}{B(\gamma,\delta)} + \sum_{i=x}^{n-1}\binom{i}{x}
                  \frac{B(\alpha+x,\beta+i-x)}{B(\alpha,\beta)}\frac{B(\gamma+1,\delta+i)}{B(\gamma,\delta)}

        ``x`` and ``n`` broadcast; the result is indexed by the pairs ``(x, n)``.
        """
        self._check_fitted()
        xx, nn = np.broadcast_arrays(_kit.check_counts(x, "x"), _kit.check_counts(n, "n"))
        if np.any(xx > nn):
            raise SchemaError("x must not exceed n")
        fn = lambda p: self._prob_x(p, xx, nn)  # noqa: E731
        index = pd.MultiIndex.from_arrays([xx.astype(np.int64), nn.astype(np.int64)], names=["x", "n"])
        return _kit.predict(
            self, fn, None, index, "probability", interval, "logit", interval_method, n_draws, seed
        )

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
        r"""Discounted expected residual transactions (eq. 14).

        .. math::

            \mathrm{DERT}(d\mid x, t_x, n) = \frac{B(\alpha+x+1,\beta+n-x)}{B(\alpha,\beta)}
            \frac{B(\gamma,\delta+n+1)}{B(\gamma,\delta)(1+d)}
            \frac{{}_2F_1\big(1, \delta+n+1; \gamma+\delta+n+1; \frac{1}{1+d}\big)}{L(\alpha,\beta,\gamma,\delta\mid
            x,t_x,n)}

        Parameters
        ----------
        discount_rate
            Continuously compounded rate :math:`\delta_c` per period, as for the continuous-time models: the
            transaction at opportunity :math:`n+k` is discounted by :math:`e^{-\delta_c k} = (1+d)^{-k}`, so the
            paper's :math:`d` is ``exp(discount_rate) - 1`` (pass ``log1p(d)`` to use a per-period ``d``).
        """
        self._check_fitted()
        fn, inverse = self._dert_fn(data, discount_rate)
        index = self._columns_of(data, self._columns)[1]
        return _kit.predict(self, fn, inverse, index, "dert", interval, "log", interval_method, n_draws, seed)

    # ------------------------------------------------------------------ simulation
    @classmethod
    def simulate(
        cls,
        params: Mapping[str, float],
        n_periods: ArrayLike,
        rng: int | np.random.Generator | None = None,
        size: int | None = None,
    ) -> pd.DataFrame:
        """Simulate customers' ``(frequency, recency, n_periods)`` from the model (vectorised).

        Parameters
        ----------
        params
            ``alpha``, ``beta``, ``gamma``, ``delta``.
        n_periods
            Opportunities per customer (array), or a scalar together with ``size``.
        rng
            Seed or generator.

        Returns
        -------
        pandas.DataFrame
            ``frequency``, ``recency``, ``n_periods``, plus the latent ``alive`` (at opportunity ``n``), ``p``
            and ``theta``.
        """
        gen = _kit.rng_of(rng)
        n_arr = np.asarray(n_periods, dtype=np.int64)
        if n_arr.ndim == 0:
            n_arr = np.full(size if size is not None else 1, int(n_arr))
        k = n_arr.shape[0]
        al, be, ga, de = (float(params[name]) for name in cls._param_names)
        p = gen.beta(al, be, size=k)
        theta = gen.beta(ga, de, size=k)
        alive_for = gen.geometric(theta) - 1  # opportunities survived before dying at the next one
        width = max(int(n_arr.max()) if k else 0, 1)
        opp = np.arange(1, width + 1)[None, :]
        buys = (gen.random((k, width)) < p[:, None]) & (opp <= np.minimum(alive_for, n_arr)[:, None])
        x = buys.sum(axis=1)
        rec = np.where(x > 0, width - np.argmax(buys[:, ::-1], axis=1), 0)
        return pd.DataFrame(
            {
                "frequency": x,
                "recency": rec,
                "n_periods": n_arr,
                "alive": alive_for >= n_arr,
                "p": p,
                "theta": theta,
            }
        )
