r"""The classic buy-till-you-die and customer-value charts as Plotly figures, for notebooks and the report.

Every chart comes in two layers, so the notebook and the HTML report draw the very same figure:

* a *figure builder* (``*_figure``) that takes already aggregated numbers and only draws them (the report
  calls these on the aggregates stored with a run);
* a *model-level function* (``plot_*``) that computes the aggregates from a fitted model and data with a
  public aggregate function (``period_transactions``, ``probability_alive_matrix``, ...) and calls the builder.

The model-level functions carry lifetimes' names and argument order (``lifetimes.plotting``, version 0.11.3),
so a lifetimes user switches by changing the import::

    import socialvalue.plot as svplot  # or: import socialvalue as sv; sv.plot.plot_...

    svplot.plot_period_transactions(model, summary)
    svplot.plot_probability_alive_matrix(model, data=summary)

Differences from lifetimes, all in the direction of exact, testable numbers: models do not keep their
training data, so functions that need it take it (``data``); the expected number of customers per repeat
frequency is computed analytically, :math:`\sum_i P(X(T_i) = x)`, not by simulating a new cohort; the last
frequency bin pools the tail (``"7+"``), as in Fader, Hardie & Lee (2005, figs. 1 and 4); impossible
histories in the frequency/recency matrices (no repeat purchase but a recency above zero) are left empty.

Data conventions are socialvalue's: one row per customer with ``frequency`` (repeat purchases), ``recency``
(time of the last repeat purchase since the first) and ``T`` (time since the first purchase), as produced by
``rfm_summary`` or :func:`socialvalue.engine.build` (``n_periods`` too for the BG/BB; ``T`` stands in for it
when absent). Figures return :class:`plotly.graph_objects.Figure`; the numbers drawn are in the traces
(``fig.data[i].x``/``.y``/``.z``), named ``"actual"``/``"model"`` where both are drawn.

References
----------
.. [1] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy way: an
   alternative to the Pareto/NBD model. *Marketing Science* 24(2), 275-284 (figs. 1-4; eqs. 8, 10).
.. [2] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). A note on implementing the Pareto/NBD model in
   MATLAB. http://brucehardie.com/notes/008/ (the cumulative tracking of a cohort).
.. [3] Lorenz, M. O. (1905). Methods of measuring the concentration of wealth. *Publications of the American
   Statistical Association* 9(70), 209-219.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from numpy.typing import ArrayLike

from socialvalue.errors import ConfigError, SchemaError
from socialvalue.models.btyd.diagnostics import conditional_expectations, holdout_predictions, tracking

__all__ = [
    "LAYOUT",
    "MATRIX_HEIGHT",
    "MATRIX_TEXT_MAX_CELLS",
    "SOCIAL_COMPONENTS",
    "calibration_vs_holdout",
    "concentration_curve",
    "concentration_figure",
    "decomposition_figure",
    "frequency_recency_matrix",
    "histogram_figure",
    "holdout_figure",
    "matrix_figure",
    "period_transactions",
    "period_transactions_figure",
    "plot_calibration_purchases_vs_holdout_purchases",
    "plot_clv_distribution",
    "plot_cumulative_transactions",
    "plot_frequency_recency_matrix",
    "plot_incremental_transactions",
    "plot_period_transactions",
    "plot_probability_alive_matrix",
    "plot_value_concentration",
    "plot_value_decomposition",
    "probability_alive_matrix",
    "top_share",
    "tracking_figure",
    "transaction_tracking",
    "value_components",
]

#: The layout every socialvalue figure starts from (the report's too).
LAYOUT: dict[str, Any] = dict(template="plotly_white", height=380, margin=dict(l=60, r=20, t=40, b=50))

#: A heat map writes its values in the cells up to this many cells (beyond, they only show on hover).
MATRIX_TEXT_MAX_CELLS = 400
#: Height in pixels of the frequency/recency heat maps (a grid needs more room than a line chart).
MATRIX_HEIGHT = 520

_PURCHASE = "a fitted purchase model (BetaGeo, ModifiedBetaGeo, ParetoNBD or BetaGeoBetaBinom)"
_UNITS = {"W": "weeks", "D": "days", "M": "months", "H": "hours", "Y": "years", "Q": "quarters"}
_LIFETIMES_CALIBRATION = {
    "frequency_cal": "frequency",
    "recency_cal": "recency",
    "T_cal": "T",
    "frequency_holdout": "holdout_transactions",
    "duration_holdout": "holdout_duration",
}
#: Social components of the ``scores`` table, in the order a decomposition shows them.
SOCIAL_COMPONENTS = (
    "referral_value",
    "influence_value",
    "interaction_value",
    "content_value",
    "advocacy_value",
)
_COMPONENT_LABELS = {
    "clv": "CLV",
    "referral_value": "Referral value",
    "influence_value": "Influence value",
    "interaction_value": "Interaction value",
    "content_value": "Content value",
    "advocacy_value": "Advocacy value",
    "own_activity_value": "Own recent activity",
    "other": "Other",
}


# ---------------------------------------------------------------------------------------------- checks
def _fig(**layout: Any) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(**{**LAYOUT, **layout})
    return fig


def _require(model: Any, methods: Sequence[str], func: str, what: str = _PURCHASE) -> None:
    """Refuse a model without the methods a chart needs, naming the expected type."""
    if isinstance(model, type):
        raise ConfigError(
            f"{func} expects {what}, an instance fitted on data; got the class {model.__name__}"
        )
    missing = [m for m in methods if not callable(getattr(model, m, None))]
    if missing:
        hint = (
            " (GammaGamma models spend per transaction: pass the purchase model it is paired with)"
            if callable(getattr(model, "predict_spend", None))
            else ""
        )
        needs = ", ".join(f"{m}()" for m in missing)
        raise ConfigError(f"{func} expects {what} with {needs}; got {type(model).__name__}{hint}")


def _frame(data: Any, func: str, name: str = "data") -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise ConfigError(
            f"{func} expects {name} as a pandas.DataFrame (one row per customer, e.g. from rfm_summary or "
            f"build_features); got {type(data).__name__}"
        )
    return data


def _has_columns(frame: pd.DataFrame, columns: Sequence[str], func: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SchemaError(f"{func}: missing column(s) {missing}", [{"column": c} for c in missing])


def _whole(value: Any, name: str, func: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ConfigError(f"{func}: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _positive(value: Any, name: str, func: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number) or not value > 0:
        raise ConfigError(f"{func}: {name} must be a number > 0, got {value!r}")
    if not np.isfinite(value):
        raise ConfigError(f"{func}: {name} must be finite, got {value!r}")
    return float(value)


def _discrete(model: Any) -> bool:
    """Whether the model counts opportunities (the BG/BB: ``n_periods`` instead of ``T``)."""
    return "n_periods" in getattr(model, "_columns", ())


def _for_model(model: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``n_periods`` (= ``T``) added when a discrete-time model needs it."""
    if _discrete(model) and "n_periods" not in frame.columns and "T" in frame.columns:
        return frame.assign(n_periods=frame["T"])
    return frame


def _buyers(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` without the customers who have not bought yet (empty ``frequency``, as in a feature table).

    The models describe customers from their first purchase on and leave these rows out of ``fit`` too.
    """
    if "frequency" in frame.columns and frame["frequency"].isna().any():
        return frame[frame["frequency"].notna().to_numpy()]
    return frame


def _unit_words(unit: str | None, data: Any = None) -> str:
    """``"weeks"`` for ``"W"``, the words themselves for words, ``"time units"`` when unknown."""
    if unit is None and isinstance(data, pd.DataFrame):
        unit = data.attrs.get("unit")
    if unit is None or str(unit) == "":
        return "time units"
    return _UNITS.get(str(unit).upper(), str(unit))


def _values(values: Any, func: str, name: str) -> np.ndarray:
    """A 1-D float array of the finite entries of ``values`` (Series, array, list)."""
    if isinstance(values, pd.DataFrame | Mapping) or isinstance(values, str | bytes):
        raise ConfigError(
            f"{func} expects {name} as a 1-D array or Series of numbers; got {type(values).__name__}"
        )
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{func} expects {name} as numbers; got {type(values).__name__} ({exc})") from exc
    if arr.ndim != 1:
        raise ConfigError(f"{func} expects {name} as a 1-D array; got shape {arr.shape}")
    return arr[np.isfinite(arr)]


def _currency_of(frame: Any, currency: str | None) -> str:
    if currency:
        return str(currency)
    if isinstance(frame, pd.DataFrame) and "currency" in frame.columns and len(frame):
        vals = frame["currency"].dropna().unique()
        if len(vals) == 1:
            return str(vals[0])
    return ""


def _money_label(what: str, currency: str) -> str:
    return f"{what} ({currency})" if currency else what


# ------------------------------------------------------------------------------ period transactions
def period_transactions(
    model: Any, data: pd.DataFrame, max_frequency: int = 7, *, weights: str | None = None
) -> pd.DataFrame:
    r"""Customers by number of repeat transactions in their own observation period, actual vs model.

    The model's count of customers with :math:`x` repeat transactions is exact, not simulated:

    .. math:: E[N_x] = \sum_i P(X(T_i) = x), \quad x < m, \qquad
              E[N_{m+}] = \sum_i \Big[1 - \sum_{x<m} P(X(T_i) = x)\Big]

    with :math:`P(X(t) = x)` the model's ``probability_of_purchases`` (BG/NBD: FHL 2005, eq. 8; Pareto/NBD:
    Fader & Hardie note 012; BG/BB: Fader, Hardie & Shang 2010, eq. 7 with :math:`T_i` = ``n_periods``), so
    the model's counts add up to the number of customers. Customers sharing a :math:`T_i` are evaluated once.

    Parameters
    ----------
    model
        A fitted purchase model with ``probability_of_purchases(n, t)``.
    data
        One row per customer: ``frequency`` and ``T`` (``n_periods`` for the BG/BB; ``T`` stands in).
        Customers who have not bought yet (empty ``frequency``, as in a feature table) are left out, as
        ``fit`` leaves them out.
    max_frequency
        The last bin, ``f"{max_frequency}+"``, pools ``frequency >= max_frequency``.
    weights
        Column of customer counts when ``data`` is compressed to one row per pattern (as for ``fit``).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``frequency`` (``"0"``, ..., ``f"{max_frequency}+"``): ``actual`` and ``model`` customers.
    """
    func = "period_transactions"
    _require(model, ("probability_of_purchases",), func)
    frame = _for_model(model, _frame(data, func))
    m = _whole(max_frequency, "max_frequency", func, minimum=1)
    _has_columns(frame, ["frequency"], func)
    frame = _buyers(frame)
    length = "n_periods" if _discrete(model) else "T"
    _has_columns(frame, ["frequency", length, *([weights] if weights is not None else [])], func)
    x = frame["frequency"].to_numpy(dtype=np.float64)
    horizon = frame[length].to_numpy(dtype=np.float64)
    w = np.ones(x.size) if weights is None else frame[weights].to_numpy(dtype=np.float64)
    cols = np.stack([x, horizon, w])
    if not np.all(np.isfinite(cols)) or np.any(cols < 0):
        raise SchemaError(f"{func}: frequency, {length} and the weights must be finite and >= 0")
    if np.any(x != np.rint(x)):
        raise SchemaError(f"{func}: frequency must be whole numbers")
    actual = np.bincount(np.minimum(x, m).astype(np.int64), weights=w, minlength=m + 1)
    t_unique, where = np.unique(horizon, return_inverse=True)
    counts = np.bincount(where.reshape(-1), weights=w, minlength=t_unique.size)
    n_grid, t_grid = np.meshgrid(np.arange(m, dtype=np.float64), t_unique)
    # a BG/BB customer with n opportunities cannot make more than n transactions
    possible = n_grid <= t_grid if _discrete(model) else np.ones(n_grid.shape, dtype=bool)
    probs = np.zeros(n_grid.shape)
    if possible.any():
        probs[possible] = np.asarray(
            model.probability_of_purchases(n_grid[possible], t_grid[possible]), dtype=np.float64
        ).reshape(-1)
    expected = np.append(counts @ probs, counts @ np.clip(1.0 - probs.sum(axis=1), 0.0, None))
    labels = [str(k) for k in range(m)] + [f"{m}+"]
    return pd.DataFrame({"actual": actual, "model": expected}, index=pd.Index(labels, name="frequency"))


def period_transactions_figure(
    labels: Sequence[object],
    actual: Sequence[float],
    model: Sequence[float],
    *,
    title: str = "Frequency of repeat transactions: actual vs model",
    x_title: str = "repeat transactions in each customer's observation period",
    y_title: str = "customers",
) -> go.Figure:
    """Grouped bars of actual and expected customers per repeat-transaction count (FHL 2005, fig. 1)."""
    fig = _fig(title=title, xaxis_title=x_title, yaxis_title=y_title, barmode="group")
    x = [str(v) for v in labels]
    fig.add_trace(go.Bar(x=x, y=np.asarray(actual, dtype=float), name="actual"))
    fig.add_trace(go.Bar(x=x, y=np.asarray(model, dtype=float), name="model"))
    fig.update_xaxes(type="category")
    return fig


def plot_period_transactions(
    model: Any,
    data: pd.DataFrame,
    max_frequency: int = 7,
    title: str = "Frequency of repeat transactions: actual vs model",
    xlabel: str = "repeat transactions in each customer's observation period",
    ylabel: str = "customers",
    *,
    weights: str | None = None,
) -> go.Figure:
    r"""Customers by repeat-transaction count, actual vs the model's exact expectation (lifetimes' name).

    Bars of :func:`period_transactions`: :math:`E[N_x] = \sum_i P(X(T_i) = x)` against the observed count,
    :math:`x = 0, \dots,` ``max_frequency`` (the last bin pooled, ``"7+"``). lifetimes draws the model's bars
    from one simulated cohort; these are the analytic expectation, so they are exact and repeatable.

    Parameters
    ----------
    model
        A fitted purchase model (``BetaGeo``, ``ModifiedBetaGeo``, ``ParetoNBD``, ``BetaGeoBetaBinom``).
    data
        The customers the model was fitted on (``frequency``, ``T``; ``n_periods`` for the BG/BB).
    max_frequency
        Last (pooled) bin.
    title, xlabel, ylabel
        Figure texts.
    weights
        Column of customer counts when ``data`` has one row per pattern.

    Returns
    -------
    plotly.graph_objects.Figure
        Traces ``actual`` and ``model`` (bars; ``y`` = customers).
    """
    table = period_transactions(model, data, max_frequency, weights=weights)
    return period_transactions_figure(
        table.index, table["actual"], table["model"], title=title, x_title=xlabel, y_title=ylabel
    )


# ------------------------------------------------------------------------------ frequency/recency grids
def _grid_size(
    model: Any, data: pd.DataFrame | None, max_frequency: int | None, max_recency: int | None, func: str
) -> tuple[int, int]:
    if max_frequency is None or max_recency is None:
        if data is None:
            raise ConfigError(
                f"{func}: pass max_frequency and max_recency, or data= (the customers the model was fitted "
                "on; the defaults are their largest frequency and T, as in lifetimes)"
            )
        frame = _for_model(model, _frame(data, func))
        length = "n_periods" if _discrete(model) and "n_periods" in frame.columns else "T"
        _has_columns(frame, ["frequency", length], func)
        if max_frequency is None:
            max_frequency = int(frame["frequency"].max())
        if max_recency is None:
            max_recency = int(frame[length].max())
    return (
        _whole(max_frequency, "max_frequency", func),
        _whole(max_recency, "max_recency", func),
    )


def _grid(model: Any, max_frequency: int, max_recency: int) -> tuple[pd.DataFrame, np.ndarray]:
    """All (recency, frequency) pairs at age ``T = max_recency``, row-major by recency, and the possible ones."""
    rec, freq = np.meshgrid(
        np.arange(max_recency + 1, dtype=np.float64),
        np.arange(max_frequency + 1, dtype=np.float64),
        indexing="ij",
    )
    x, tx = freq.ravel(), rec.ravel()
    possible = ~((x == 0) & (tx > 0))  # no repeat purchase means recency 0
    if _discrete(model):  # at most one transaction per opportunity, and the last one at t_x
        possible &= (x <= tx) & ~((x > 0) & (tx == 0))
    age = np.full(x.size, float(max_recency))
    grid = pd.DataFrame({"frequency": x, "recency": tx, "T": age, "n_periods": age})
    return grid, possible


def _matrix(values: np.ndarray, possible: np.ndarray, max_frequency: int, max_recency: int) -> pd.DataFrame:
    z = np.full(possible.size, np.nan)
    z[possible] = values
    return pd.DataFrame(
        z.reshape(max_recency + 1, max_frequency + 1),
        index=pd.Index(np.arange(max_recency + 1), name="recency"),
        columns=pd.Index(np.arange(max_frequency + 1), name="frequency"),
    )


def frequency_recency_matrix(
    model: Any,
    T: float = 1,
    max_frequency: int | None = None,
    max_recency: int | None = None,
    *,
    data: pd.DataFrame | None = None,
) -> pd.DataFrame:
    r"""Expected purchases in the next ``T`` time units for every (frequency, recency) at age ``max_recency``.

    Cell :math:`(t_x, x)` holds :math:`E[Y(T) \mid x, t_x, T_{age} = t_{max}]`, the model's
    ``predict_purchases`` (BG/NBD: FHL 2005, eq. 10), at the age of the oldest customer, as lifetimes'
    ``plot_frequency_recency_matrix`` does. Impossible histories (:math:`x = 0` with :math:`t_x > 0`; for the
    BG/BB also :math:`x > t_x` or :math:`t_x = 0 < x`) are NaN.

    Parameters
    ----------
    model
        A fitted purchase model with ``predict_purchases(data, t)``.
    T
        Forecast horizon, in the model's time unit (opportunities for the BG/BB).
    max_frequency, max_recency
        Grid size; default the largest ``frequency`` and ``T`` (``n_periods``) of ``data``.
    data
        The customers the model was fitted on (only for the defaults).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``recency`` 0..``max_recency``, one column per ``frequency`` 0..``max_frequency``.
    """
    func = "frequency_recency_matrix"
    _require(model, ("predict_purchases",), func)
    horizon = _positive(T, "T", func)
    f_max, r_max = _grid_size(model, data, max_frequency, max_recency, func)
    grid, possible = _grid(model, f_max, r_max)
    values = np.asarray(model.predict_purchases(grid[possible], horizon), dtype=np.float64).reshape(-1)
    return _matrix(values, possible, f_max, r_max)


def probability_alive_matrix(
    model: Any,
    max_frequency: int | None = None,
    max_recency: int | None = None,
    *,
    data: pd.DataFrame | None = None,
) -> pd.DataFrame:
    r"""P(alive) for every (frequency, recency) at age ``max_recency`` (lifetimes' ``conditional_probability_alive_matrix``).

    Cell :math:`(t_x, x)` holds :math:`P(\text{alive} \mid x, t_x, T = t_{max})`, the model's
    ``probability_alive``; for the BG/NBD :math:`[1 + \delta_{x>0}\frac{a}{b+x-1}
    (\frac{\alpha+T}{\alpha+t_x})^{r+x}]^{-1}` (FHL 2005; Fader, Hardie & Lee 2008, note 021). For the BG/BB
    it is alive at the next opportunity (``m_periods=1``, as lifetimes'). Impossible histories are NaN.

    Parameters
    ----------
    model
        A fitted purchase model with ``probability_alive(data)``.
    max_frequency, max_recency, data
        As for :func:`frequency_recency_matrix`.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``recency`` 0..``max_recency``, one column per ``frequency`` 0..``max_frequency``.
    """
    func = "probability_alive_matrix"
    _require(model, ("probability_alive",), func)
    f_max, r_max = _grid_size(model, data, max_frequency, max_recency, func)
    grid, possible = _grid(model, f_max, r_max)
    values = np.asarray(model.probability_alive(grid[possible]), dtype=np.float64).reshape(-1)
    return _matrix(values, possible, f_max, r_max)


def matrix_figure(
    matrix: pd.DataFrame,
    *,
    title: str,
    x_title: str,
    y_title: str,
    colorbar_title: str = "",
    fmt: str = ".0f",
    colorscale: str = "Blues",
    zmin: float | None = None,
    zmax: float | None = None,
) -> go.Figure:
    """A heat map of ``matrix`` (index → y, columns → x), values written in the cells when the grid is small.

    NaN cells (impossible histories) are left blank; ``fig.data[0].z`` holds the matrix as given.
    """
    fig = _fig(title=title, xaxis_title=x_title, yaxis_title=y_title)
    z = matrix.to_numpy(dtype=float)
    trace: dict[str, Any] = dict(
        z=z,
        x=[str(c) for c in matrix.columns],
        y=[str(i) for i in matrix.index],
        colorscale=colorscale,
        zmin=zmin,
        zmax=zmax,
        colorbar=dict(title=colorbar_title) if colorbar_title else None,
    )
    if 0 < z.size <= MATRIX_TEXT_MAX_CELLS:
        trace["text"] = np.where(np.isnan(z), "", np.vectorize(lambda v: format(v, fmt))(z))
        trace["texttemplate"] = "%{text}"
    fig.add_trace(go.Heatmap(**trace))
    return fig


def plot_frequency_recency_matrix(
    model: Any,
    T: float = 1,
    max_frequency: int | None = None,
    max_recency: int | None = None,
    title: str | None = None,
    xlabel: str = "customer's historical frequency (repeat purchases)",
    ylabel: str | None = None,
    *,
    data: pd.DataFrame | None = None,
    time_unit: str | None = None,
) -> go.Figure:
    r"""Heat map of expected purchases in the next ``T`` time units by frequency and recency (lifetimes' name).

    The cells are :func:`frequency_recency_matrix`: :math:`E[Y(T) \mid x, t_x, t_{max}]` (FHL 2005, eq. 10)
    for a customer aged ``max_recency``; recency 0 at the top, as lifetimes draws it.

    Parameters
    ----------
    model
        A fitted purchase model.
    T
        Forecast horizon (model time unit).
    max_frequency, max_recency
        Grid size (default from ``data``: the largest frequency and ``T``).
    title, xlabel, ylabel
        Figure texts (``None``: a title and recency label naming the time unit).
    data
        The customers the model was fitted on (for the defaults and the time unit in ``data.attrs["unit"]``).
    time_unit
        ``"W"``, ``"D"`` or words, for the labels.

    Returns
    -------
    plotly.graph_objects.Figure
        One heat map; ``fig.data[0].z[recency][frequency]`` (NaN where impossible).
    """
    matrix = frequency_recency_matrix(model, T, max_frequency, max_recency, data=data)
    unit = _unit_words(time_unit, data)
    r_max = int(matrix.index.max())
    fig = matrix_figure(
        matrix,
        title=title or f"Expected purchases in the next {T:g} {unit}, by frequency and recency",
        x_title=xlabel,
        y_title=ylabel or f"recency ({unit}), age {r_max}",
        colorbar_title="expected purchases",
        fmt=".2f",
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=MATRIX_HEIGHT)
    return fig


def plot_probability_alive_matrix(
    model: Any,
    max_frequency: int | None = None,
    max_recency: int | None = None,
    title: str = "Probability a customer is alive, by frequency and recency",
    xlabel: str = "customer's historical frequency (repeat purchases)",
    ylabel: str | None = None,
    *,
    data: pd.DataFrame | None = None,
    time_unit: str | None = None,
) -> go.Figure:
    r"""Heat map of :math:`P(\text{alive} \mid x, t_x, T = t_{max})` by frequency and recency (lifetimes' name).

    The cells are :func:`probability_alive_matrix` (colour scale fixed to [0, 1]); recency 0 at the top.

    Parameters
    ----------
    model
        A fitted purchase model.
    max_frequency, max_recency
        Grid size (default from ``data``: the largest frequency and ``T``).
    title, xlabel, ylabel
        Figure texts (``ylabel=None``: a recency label naming the time unit).
    data, time_unit
        As for :func:`plot_frequency_recency_matrix`.

    Returns
    -------
    plotly.graph_objects.Figure
        One heat map; ``fig.data[0].z[recency][frequency]`` (NaN where impossible).
    """
    matrix = probability_alive_matrix(model, max_frequency, max_recency, data=data)
    unit = _unit_words(time_unit, data)
    r_max = int(matrix.index.max())
    fig = matrix_figure(
        matrix,
        title=title,
        x_title=xlabel,
        y_title=ylabel or f"recency ({unit}), age {r_max}",
        colorbar_title="P(alive)",
        fmt=".2f",
        colorscale="RdYlGn",
        zmin=0.0,
        zmax=1.0,
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=MATRIX_HEIGHT)
    return fig


# ------------------------------------------------------------------------------ calibration vs holdout
def _calibration_frame(model: Any, matrix: Any, func: str) -> pd.DataFrame:
    frame = _frame(matrix, func, "calibration_holdout_matrix")
    renames = {
        k: v for k, v in _LIFETIMES_CALIBRATION.items() if k in frame.columns and v not in frame.columns
    }
    frame = _for_model(model, frame.rename(columns=renames))
    if "frequency" in frame.columns:
        frame = _buyers(frame)
    length = "n_periods" if _discrete(model) else "T"
    _has_columns(frame, ["frequency", "recency", length, "holdout_transactions", "holdout_duration"], func)
    return frame


def calibration_vs_holdout(
    model: Any, calibration_holdout_matrix: pd.DataFrame, kind: str = "frequency_cal", n: int = 7
) -> pd.DataFrame:
    r"""Mean holdout transactions by a calibration statistic, actual vs model (FHL 2005, fig. 4).

    For group :math:`g`, actual :math:`\bar y_g = \frac{1}{|g|}\sum_{i\in g} y_i` and model
    :math:`\frac{1}{|g|}\sum_{i\in g} E[Y_i(\tau_i) \mid x_i, t_{x,i}, T_i]` with :math:`\tau_i` the
    customer's holdout duration (``holdout_predictions``). By calibration frequency (the default) the groups are
    :math:`0, \dots, n-1` and the pooled :math:`n+` (:func:`~socialvalue.models.btyd.diagnostics.conditional_expectations`);
    by another ``kind`` they are the first ``n`` distinct values, as lifetimes groups them.

    Parameters
    ----------
    model
        A fitted purchase model with ``predict_purchases``.
    calibration_holdout_matrix
        One row per customer, in lifetimes' names (``frequency_cal``, ``recency_cal``, ``T_cal``,
        ``frequency_holdout``, ``duration_holdout``) or socialvalue's (``frequency``, ``recency``, ``T``,
        ``holdout_transactions``, ``holdout_duration``). Customers who had not bought by the end of the
        calibration (empty ``frequency``) are left out.
    kind
        ``"frequency_cal"``, ``"recency_cal"``, ``"T_cal"`` or ``"time_since_last_purchase"`` (``T - recency``);
        socialvalue's column names are accepted too.
    n
        Number of groups.

    Returns
    -------
    pandas.DataFrame
        Indexed by the group label: ``n_customers``, ``actual`` and ``model`` means.
    """
    func = "calibration_vs_holdout"
    _require(model, ("predict_purchases",), func)
    frame = _calibration_frame(model, calibration_holdout_matrix, func)
    groups = _whole(n, "n", func, minimum=1)
    key = {"frequency_cal": "frequency", "recency_cal": "recency", "T_cal": "T"}.get(kind, kind)
    if key == "frequency":
        return conditional_expectations(model, frame, max_frequency=groups)
    if key in ("recency", "T"):
        _has_columns(frame, [key], func)
        value = frame[key].to_numpy(dtype=np.float64)
    elif key == "time_since_last_purchase":
        value = (frame["T"] - frame["recency"]).to_numpy(dtype=np.float64)
    else:
        raise ConfigError(
            f"{func}: kind must be 'frequency_cal', 'recency_cal', 'T_cal' or 'time_since_last_purchase', "
            f"got {kind!r}"
        )
    # values equal to 1e-9 are one group (T - recency of equal days differs in the last bits)
    uniq, group = np.unique(np.round(value, 9), return_inverse=True)
    keep = group < groups
    counts = np.bincount(group[keep], minlength=min(groups, uniq.size))
    actual = frame["holdout_transactions"].to_numpy(dtype=np.float64)[keep]
    pred = holdout_predictions(model, frame).to_numpy()[keep]
    return pd.DataFrame(
        {
            "n_customers": counts,
            "actual": np.bincount(group[keep], weights=actual, minlength=counts.size) / counts,
            "model": np.bincount(group[keep], weights=pred, minlength=counts.size) / counts,
        },
        index=pd.Index([f"{v:g}" for v in uniq[: counts.size]], name=key),
    )


def holdout_figure(
    labels: Sequence[object],
    actual: Sequence[float],
    model: Sequence[float],
    *,
    title: str = "Actual vs predicted purchases in the holdout period",
    x_title: str = "repeat purchases in the calibration period",
    y_title: str = "mean purchases in the holdout period",
) -> go.Figure:
    """Lines of the mean holdout purchases per group, actual vs model (FHL 2005, fig. 4)."""
    fig = _fig(title=title, xaxis_title=x_title, yaxis_title=y_title)
    x = [str(v) for v in labels]
    fig.add_trace(go.Scatter(x=x, y=np.asarray(actual, dtype=float), mode="lines+markers", name="actual"))
    fig.add_trace(
        go.Scatter(
            x=x, y=np.asarray(model, dtype=float), mode="lines+markers", name="model", line=dict(dash="dash")
        )
    )
    fig.update_xaxes(type="category")
    return fig


def plot_calibration_purchases_vs_holdout_purchases(
    model: Any,
    calibration_holdout_matrix: pd.DataFrame,
    kind: str = "frequency_cal",
    n: int = 7,
    *,
    time_unit: str | None = None,
) -> go.Figure:
    r"""Mean holdout purchases by calibration frequency (or ``kind``), actual vs model (lifetimes' name).

    The points are :func:`calibration_vs_holdout`: per group, the mean of the observed holdout transactions
    and the mean of :math:`E[Y_i(\tau_i) \mid x_i, t_{x,i}, T_i]` (FHL 2005, eq. 10 and fig. 4). By frequency
    the last group pools ``n`` and more (lifetimes drops it).

    Parameters
    ----------
    model
        A fitted purchase model.
    calibration_holdout_matrix
        lifetimes' ``calibration_and_holdout_data`` frame, or socialvalue's split feature table.
    kind
        The calibration statistic on the x axis (see :func:`calibration_vs_holdout`).
    n
        Number of groups.
    time_unit
        ``"W"``, ``"D"`` or words, for the labels (default ``attrs["unit"]`` of the frame).

    Returns
    -------
    plotly.graph_objects.Figure
        Traces ``actual`` and ``model`` (``x`` = group labels, ``y`` = means).
    """
    table = calibration_vs_holdout(model, calibration_holdout_matrix, kind, n)
    unit = _unit_words(time_unit, calibration_holdout_matrix)
    key = table.index.name
    x_title = {
        "frequency": "repeat purchases in the calibration period",
        "recency": f"age at the last purchase ({unit})",
        "T": f"age at the end of calibration ({unit})",
        "time_since_last_purchase": f"time since the last purchase ({unit})",
    }[key]
    durations = pd.to_numeric(
        _calibration_frame(model, calibration_holdout_matrix, "plot")["holdout_duration"]
    ).unique()
    holdout = f"{durations[0]:g} {unit}" if durations.size == 1 else unit
    return holdout_figure(
        table.index,
        table["actual"],
        table["model"],
        x_title=x_title,
        y_title=f"mean purchases in the holdout ({holdout})",
    )


# ------------------------------------------------------------------------------ tracking
def _periods(values: pd.Series, freq: str, datetime_format: str | None) -> pd.PeriodIndex:
    stamps = pd.to_datetime(values, format=datetime_format)
    return pd.PeriodIndex(stamps, freq=freq)


def transaction_tracking(
    model: Any,
    transactions: pd.DataFrame,
    datetime_col: str,
    customer_id_col: str,
    t: int,
    datetime_format: str | None = None,
    freq: str = "D",
    set_index_date: bool = False,
    *,
    freq_multiplier: int = 1,
) -> pd.DataFrame:
    r"""Cumulative and per-period repeat transactions of a cohort, actual vs model (FHL 2005, fig. 2).

    Transactions are counted once per customer and period of ``freq`` (as lifetimes'
    ``expected_cumulative_transactions``); a customer's first period :math:`p_i` is their birth. After
    :math:`k` model time units (:math:`k` ``freq_multiplier`` periods from the first period of the data):

    .. math:: \text{actual}(k) = \#\{\text{repeat transactions in periods} < k m\}, \qquad
              \text{model}(k) = \sum_i E\big[X\big(\max(k - p_i/m, 0)\big)\big]

    with :math:`m` = ``freq_multiplier`` and :math:`E[X(t)]` the model's ``expected_purchases`` (through
    :func:`~socialvalue.models.btyd.diagnostics.tracking`). These are lifetimes' numbers, row for row.

    Parameters
    ----------
    model
        A fitted purchase model with ``expected_purchases(t)``, in time units of ``freq_multiplier`` periods.
    transactions
        One row per transaction.
    datetime_col, customer_id_col
        Columns of the transaction time and the customer.
    t
        Periods (of ``freq``) from the first one of the data to track.
    datetime_format
        Format for :func:`pandas.to_datetime`, if the column is text pandas cannot parse.
    freq
        Counting period: ``"D"``, ``"W"``, ...
    set_index_date
        Also return ``date``, the moment each count is taken (the start of the next period).
    freq_multiplier
        Periods per model time unit, e.g. ``freq="D", freq_multiplier=7`` for a model in weeks fitted on
        purchases counted once a day (the CDNOW papers').

    Returns
    -------
    pandas.DataFrame
        Indexed by ``t`` = 1, ..., ``t // freq_multiplier`` (model time units since the first period):
        ``actual``, ``model``, ``actual_incremental``, ``model_incremental`` (and ``date``).
    """
    func = "transaction_tracking"
    _require(model, ("expected_purchases",), func)
    frame = _frame(transactions, func, "transactions")
    _has_columns(frame, [datetime_col, customer_id_col], func)
    periods = _whole(t, "t", func, minimum=1)
    mult = _whole(freq_multiplier, "freq_multiplier", func, minimum=1)
    if periods < mult:
        raise ConfigError(f"{func}: t ({periods}) must cover at least one model time unit ({mult} periods)")
    if not len(frame):
        raise SchemaError(f"{func}: no transactions")
    try:
        index = _periods(frame[datetime_col], freq, datetime_format)
    except (ValueError, TypeError) as exc:
        raise SchemaError(
            f"{func}: {datetime_col!r} is not a date/time column with periods {freq!r} ({exc})"
        ) from exc
    start = index.min()
    offset = index.asi8 - start.ordinal
    codes = pd.factorize(frame[customer_id_col])[0].astype(np.int64)
    keep = offset <= periods
    # one key per (customer, period), sorted: each customer's first key is their birth
    key = np.sort(codes[keep] * (periods + 1) + offset[keep])
    key = key[np.r_[True, key[1:] != key[:-1]]]
    customer, q = np.divmod(key, periods + 1)
    first = np.r_[True, customer[1:] != customer[:-1]]
    births, repeats = q[first], q[~first]
    times = np.arange(1, periods // mult + 1, dtype=np.float64)
    # a repeat in period q is counted by the end of that period, i.e. at time (q + 1) / m
    out = tracking(model, births / mult, (repeats + 1.0) / mult, times)
    if set_index_date:  # the count after k units is taken when period k * m begins
        ends = pd.PeriodIndex.from_ordinals(start.ordinal + mult * times.astype(np.int64), freq=freq)
        out["date"] = ends.to_timestamp().to_numpy()
    out.attrs["start"] = start
    return out


def tracking_figure(
    t: Sequence[Any],
    actual: Sequence[float],
    model: Sequence[float],
    *,
    t_cal: Any = None,
    cumulative: bool = True,
    time_unit: str | None = None,
    title: str | None = None,
    x_title: str | None = None,
    y_title: str | None = None,
) -> go.Figure:
    """Actual (solid) and model (dashed) repeat transactions over time, the calibration end marked.

    ``t_cal`` is drawn as a dotted vertical line (a layout shape, so date axes work too) labelled
    "calibration end".
    """
    unit = _unit_words(time_unit)
    what = "cumulative repeat transactions" if cumulative else "repeat transactions per period"
    fig = _fig(
        title=title or f"Tracking {what}: actual vs model",
        xaxis_title=x_title or f"{unit} since the first period",
        yaxis_title=y_title or what,
    )
    x = list(t)
    fig.add_trace(go.Scatter(x=x, y=np.asarray(actual, dtype=float), mode="lines", name="actual"))
    fig.add_trace(
        go.Scatter(x=x, y=np.asarray(model, dtype=float), mode="lines", name="model", line=dict(dash="dash"))
    )
    if t_cal is not None:
        fig.add_shape(
            type="line", x0=t_cal, x1=t_cal, xref="x", y0=0, y1=1, yref="paper",
            line=dict(color="grey", dash="dot"),
        )  # fmt: skip
        fig.add_annotation(
            x=t_cal, y=1, xref="x", yref="paper", text="calibration end", showarrow=False, yanchor="bottom"
        )
    return fig


def _plot_tracking(
    cumulative: bool,
    model: Any,
    transactions: pd.DataFrame,
    datetime_col: str,
    customer_id_col: str,
    t: int,
    t_cal: float | None,
    datetime_format: str | None,
    freq: str,
    set_index_date: bool,
    title: str | None,
    xlabel: str | None,
    ylabel: str | None,
    freq_multiplier: int,
    time_unit: str | None,
) -> go.Figure:
    table = transaction_tracking(
        model, transactions, datetime_col, customer_id_col, t, datetime_format, freq, set_index_date,
        freq_multiplier=freq_multiplier,
    )  # fmt: skip
    mult = int(freq_multiplier)
    if time_unit is None:
        base = _unit_words(freq)
        time_unit = (
            base
            if mult == 1
            else "weeks"
            if (freq.upper(), mult) == ("D", 7)
            else f"{mult}-{base[:-1]} units"
        )
    cols = ("actual", "model") if cumulative else ("actual_incremental", "model_incremental")
    if set_index_date:
        x: Sequence[Any] = list(pd.DatetimeIndex(table["date"]))
        cal = None if t_cal is None else (table.attrs["start"] + int(np.floor(float(t_cal)))).to_timestamp()
        xlabel = xlabel or "date"
    else:
        x = table.index.to_numpy()
        cal = None if t_cal is None else float(t_cal) / mult
    return tracking_figure(
        x, table[cols[0]], table[cols[1]], t_cal=cal, cumulative=cumulative, time_unit=time_unit,
        title=title, x_title=xlabel, y_title=ylabel,
    )  # fmt: skip


def plot_cumulative_transactions(
    model: Any,
    transactions: pd.DataFrame,
    datetime_col: str,
    customer_id_col: str,
    t: int,
    t_cal: float | None,
    datetime_format: str | None = None,
    freq: str = "D",
    set_index_date: bool = False,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    *,
    freq_multiplier: int = 1,
    time_unit: str | None = None,
) -> go.Figure:
    r"""Cumulative repeat transactions of the cohort, actual vs model, the calibration end marked (lifetimes' name).

    The lines are :func:`transaction_tracking`'s ``actual`` and ``model``:
    :math:`\sum_i E[X(\max(k - p_i, 0))]` against the observed count after :math:`k` time units (FHL 2005,
    fig. 2; Fader, Hardie & Lee, note 008).

    Parameters
    ----------
    model
        A fitted purchase model in time units of ``freq_multiplier`` periods of ``freq``.
    transactions, datetime_col, customer_id_col, datetime_format, freq, set_index_date, freq_multiplier
        As for :func:`transaction_tracking` (``set_index_date`` puts dates on the x axis).
    t
        Periods of ``freq`` to track, from the first one of the data.
    t_cal
        End of the calibration period in periods of ``freq`` from the first one (``None``: no line).
    title, xlabel, ylabel
        Figure texts (``None``: texts naming the time unit).
    time_unit
        Words for the time unit (default from ``freq`` and ``freq_multiplier``).

    Returns
    -------
    plotly.graph_objects.Figure
        Traces ``actual`` and ``model``; the calibration end is ``fig.layout.shapes[0].x0``.
    """
    return _plot_tracking(
        True, model, transactions, datetime_col, customer_id_col, t, t_cal, datetime_format, freq,
        set_index_date, title, xlabel, ylabel, freq_multiplier, time_unit,
    )  # fmt: skip


def plot_incremental_transactions(
    model: Any,
    transactions: pd.DataFrame,
    datetime_col: str,
    customer_id_col: str,
    t: int,
    t_cal: float | None,
    datetime_format: str | None = None,
    freq: str = "D",
    set_index_date: bool = False,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    *,
    freq_multiplier: int = 1,
    time_unit: str | None = None,
) -> go.Figure:
    r"""Repeat transactions per time unit, actual vs model, the calibration end marked (lifetimes' name).

    The per-unit differences of :func:`plot_cumulative_transactions`' lines:
    :math:`\text{model}(k) - \text{model}(k-1)` with :math:`\text{model}(0) = 0` (FHL 2005, fig. 3).
    Arguments as for :func:`plot_cumulative_transactions`.

    Returns
    -------
    plotly.graph_objects.Figure
        Traces ``actual`` and ``model`` (transactions per time unit).
    """
    return _plot_tracking(
        False, model, transactions, datetime_col, customer_id_col, t, t_cal, datetime_format, freq,
        set_index_date, title, xlabel, ylabel, freq_multiplier, time_unit,
    )  # fmt: skip


# ------------------------------------------------------------------------------ value distribution
def histogram_figure(
    counts: Sequence[float],
    edges: Sequence[float],
    *,
    title: str,
    x_title: str,
    y_title: str = "customers",
) -> go.Figure:
    """Bars of ``counts`` over the bins ``[edges[k], edges[k+1])`` (``x`` = bin centres, ``width`` = bin widths)."""
    e = np.asarray(edges, dtype=float)
    fig = _fig(title=title, xaxis_title=x_title, yaxis_title=y_title, bargap=0.02, showlegend=False)
    fig.add_trace(
        go.Bar(
            x=(e[:-1] + e[1:]) / 2,
            y=np.asarray(counts, dtype=float),
            width=np.diff(e),
            customdata=np.column_stack([e[:-1], e[1:]]),
            hovertemplate="[%{customdata[0]:,.2f}, %{customdata[1]:,.2f}): %{y:,.0f}<extra></extra>",
            name="customers",
        )
    )
    return fig


def plot_clv_distribution(
    clv: Any,
    bins: int | Sequence[float] = 50,
    *,
    currency: str | None = None,
    title: str = "Distribution of customer lifetime value",
) -> go.Figure:
    r"""Histogram of CLV: customers per value bin (``numpy.histogram`` of the finite values).

    Bin :math:`k` counts :math:`\#\{i : e_k \le v_i < e_{k+1}\}` (the last bin closed); CLV is usually
    :math:`m \cdot \mathrm{DERT}_i \cdot E[Z_i]` (Fader, Hardie & Lee 2005, *JMR* 42(4), eq. 2).

    Parameters
    ----------
    clv
        Values (Series, array, list), or a frame with a ``clv`` column (e.g. the ``scores`` table, whose
        ``currency`` column names the currency).
    bins
        Number of equal-width bins, or the bin edges.
    currency
        Currency code for the axis label.
    title
        Figure title.

    Returns
    -------
    plotly.graph_objects.Figure
        One bar trace: ``x`` bin centres, ``y`` customers.
    """
    func = "plot_clv_distribution"
    cur = _currency_of(clv, currency)
    if isinstance(clv, pd.DataFrame):
        _has_columns(clv, ["clv"], func)
        clv = clv["clv"]
    values = _values(clv, func, "clv")
    if values.size == 0:
        raise SchemaError(f"{func}: no finite CLV values")
    if not isinstance(bins, int | np.integer) or isinstance(bins, bool):
        edges = np.asarray(bins, dtype=np.float64)
        if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
            raise ConfigError(f"{func}: bins must be an int >= 1 or increasing edges, got {bins!r}")
    else:
        _whole(bins, "bins", func, minimum=1)
    counts, edges = np.histogram(values, bins=bins)
    return histogram_figure(counts, edges, title=title, x_title=_money_label("CLV", cur))


def _clipped_sorted(values: ArrayLike) -> np.ndarray:
    return np.sort(np.clip(np.asarray(values, dtype=np.float64), 0.0, None))[::-1]


def concentration_curve(values: ArrayLike, points: int = 201) -> tuple[np.ndarray, np.ndarray]:
    r"""The Pareto (Lorenz) curve: share of total value held by the most valuable share of customers.

    With values sorted from the largest, :math:`v_{(1)} \ge \dots \ge v_{(n)}` (negatives counted as 0),

    .. math:: L(k/n) = \sum_{j \le k} v_{(j)} \Big/ \sum_j v_{(j)}

    linearly interpolated between the :math:`n + 1` points, evaluated on ``points`` equally spaced shares
    (Lorenz 1905, drawn from the top).

    Returns
    -------
    tuple of numpy.ndarray
        ``(share_of_customers, share_of_value)``; empty arrays when there is no positive value.
    """
    v = _clipped_sorted(values)
    total = v.sum()
    if v.size == 0 or not total > 0:
        return np.empty(0), np.empty(0)
    grid = np.linspace(0.0, 1.0, points)
    cum = np.r_[0.0, np.cumsum(v)] / total
    return grid, np.interp(grid, np.linspace(0.0, 1.0, v.size + 1), cum)


def top_share(values: ArrayLike, fraction: float) -> float:
    """Share of the total value held by the top ``fraction`` of customers (the curve of :func:`concentration_curve`).

    NaN when there is no positive value.
    """
    v = _clipped_sorted(values)
    total = v.sum()
    if v.size == 0 or not total > 0:
        return float("nan")
    cum = np.r_[0.0, np.cumsum(v)] / total
    return float(np.interp(fraction, np.linspace(0.0, 1.0, v.size + 1), cum))


def concentration_figure(
    curves: Mapping[str, tuple[ArrayLike, ArrayLike]],
    *,
    title: str = "Value concentration (Pareto curve)",
    x_title: str = "share of customers (most valuable first)",
    y_title: str = "share of value",
) -> go.Figure:
    """One line per curve ``name -> (share_of_customers, share_of_value)`` and the equal-value diagonal."""
    fig = _fig(title=title, xaxis_title=x_title, yaxis_title=y_title)
    for name, (x, y) in curves.items():
        fig.add_trace(go.Scatter(x=np.asarray(x), y=np.asarray(y), mode="lines", name=str(name)))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="equal value", line=dict(dash="dot")))
    fig.update_xaxes(tickformat=".0%")
    fig.update_yaxes(tickformat=".0%")
    return fig


def plot_value_concentration(clv: Any, points: int = 201, *, name: str = "CLV") -> go.Figure:
    r"""Pareto (Lorenz) curve of value: the share held by the top share of customers.

    The curve is :func:`concentration_curve`, :math:`L(k/n) = \sum_{j\le k} v_{(j)} / \sum_j v_{(j)}` with
    values sorted from the largest; the report's "Value concentration" chart is this figure.

    Parameters
    ----------
    clv
        Values (Series, array, list), or a mapping ``name -> values`` for several curves on one chart, or a
        frame with a ``clv`` column.
    points
        Points per curve (shares of customers 0..1).
    name
        Curve name when ``clv`` is one series of values.

    Returns
    -------
    plotly.graph_objects.Figure
        One trace per curve (``x`` share of customers, ``y`` share of value), then the diagonal.
    """
    func = "plot_value_concentration"
    _whole(points, "points", func, minimum=2)
    if isinstance(clv, pd.DataFrame):
        _has_columns(clv, ["clv"], func)
        clv = clv["clv"]
    series = dict(clv) if isinstance(clv, Mapping) else {name: clv}
    curves = {}
    for key, values in series.items():
        x, y = concentration_curve(_values(values, func, f"values of {key!r}"), points)
        if x.size:
            curves[key] = (x, y)
    if not curves:
        raise SchemaError(f"{func}: no positive value to draw")
    return concentration_figure(curves)


# ------------------------------------------------------------------------------ value decomposition
def value_components(scores: pd.DataFrame) -> pd.DataFrame:
    r"""Each customer's social value (CSV) split into the parts that add up to it.

    .. math:: \mathrm{CSV}_i = w_{clv}\mathrm{CLV}_i + \sum_{c \in \text{social}} \text{value}_{c,i}
              + \text{own activity}_i + \text{other}_i

    Columns: ``clv`` (the weighted CLV ``contrib_clv`` when the social-value model published one; else the
    plain ``clv`` unless the other parts already add up to ``csv``, i.e. the CLV weight was withheld), the
    social components present (``referral_value``, ``influence_value``, ``interaction_value``,
    ``content_value``, ``advocacy_value`` and any other ``contrib_*`` column, e.g. the audience's activity),
    ``own_activity_value`` (the customer's own recent activity), and ``other`` for any remainder (only when the
    parts do not add up to ``csv`` within 1e-9 relative).

    Parameters
    ----------
    scores
        The ``scores`` table of a run (``customer_id``, ``csv`` and the component columns).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id``; the row sums equal ``csv``.
    """
    from socialvalue.social.customer_value import OWN_ACTIVITY_COMPONENTS

    func = "value_components"
    frame = _frame(scores, func, "scores")
    _has_columns(frame, ["customer_id", "csv"], func)

    def col(name: str) -> np.ndarray:
        return frame[name].to_numpy(dtype=np.float64, na_value=0.0)

    own = {f"contrib_{c}" for c in OWN_ACTIVITY_COMPONENTS}
    has_own = "own_activity_value" in frame.columns
    parts = pd.DataFrame(index=pd.Index(frame["customer_id"].to_numpy(), name="customer_id"))
    for c in SOCIAL_COMPONENTS:
        if c in frame.columns:
            parts[c] = col(c)
    for c in frame.columns:
        if c.startswith("contrib_") and c != "contrib_clv" and not (has_own and c in own):
            parts[c.removeprefix("contrib_")] = col(c)
    if has_own:
        parts["own_activity_value"] = col("own_activity_value")
    csv = col("csv")
    rest = csv - parts.sum(axis=1).to_numpy()
    tol = 1e-9 * np.maximum(np.abs(csv), 1.0)
    # the CLV inside the CSV: its published contribution; without one, the plain CLV unless the other parts
    # already make up the CSV (the CLV weight was withheld, so the CLV is no part of it)
    clv = col("contrib_clv") if "contrib_clv" in frame.columns else None
    if clv is None and "clv" in frame.columns and np.any(np.abs(rest) > tol):
        clv = col("clv")
    if clv is not None:
        parts.insert(0, "clv", clv)
        rest = rest - clv
    if np.any(np.abs(rest) > tol):
        parts["other"] = rest
    return parts


def decomposition_figure(frame: pd.DataFrame, title: str, currency: str = "") -> go.Figure:
    """Stacked horizontal bars: one bar per row of ``frame`` (index = label, top row first), one segment per column.

    Negative segments stack to the left of zero (``barmode="relative"``), so each bar ends at the row sum.
    """
    fig = _fig(title=title, barmode="relative", height=max(380, 22 * len(frame) + 120))
    for col in frame.columns:
        fig.add_trace(
            go.Bar(y=[str(i) for i in frame.index], x=frame[col].to_numpy(), name=str(col), orientation="h")
        )
    fig.update_layout(yaxis=dict(autorange="reversed"), xaxis_title=f"value ({currency or 'currency'})")
    return fig


def plot_value_decomposition(
    scores: pd.DataFrame, customer_id: Any, *, currency: str | None = None
) -> go.Figure:
    """One customer's social value (CSV) as a stacked bar of its parts (:func:`value_components`).

    The segments are the weighted CLV, each social component, the customer's own recent activity and any
    remainder (those worth exactly 0 for this customer are not drawn); they add up to the customer's ``csv``.

    Parameters
    ----------
    scores
        The ``scores`` table of a run.
    customer_id
        The customer to show (compared as text).
    currency
        Currency code (default: the table's ``currency`` column).

    Returns
    -------
    plotly.graph_objects.Figure
        One bar trace per component (``x`` = value, in the component order of :func:`value_components`).
    """
    func = "plot_value_decomposition"
    frame = _frame(scores, func, "scores")
    _has_columns(frame, ["customer_id", "csv"], func)
    rows = frame[frame["customer_id"].astype(str).to_numpy() == str(customer_id)]
    if rows.empty:
        raise ConfigError(f"{func}: customer {customer_id!r} is not in the scores table")
    if len(rows) > 1:
        raise SchemaError(f"{func}: customer {customer_id!r} has {len(rows)} rows (pass one as_of)")
    parts = value_components(rows)
    parts = parts.loc[:, (parts != 0).any(axis=0)]  # a component worth nothing to this customer is not drawn
    parts = parts.rename(columns=lambda c: _COMPONENT_LABELS.get(c, c.replace("_", " ").capitalize()))
    cur = _currency_of(rows, currency)
    total = float(rows["csv"].iloc[0])
    money = f"{total:,.2f} {cur}".strip()
    return decomposition_figure(parts, f"Customer {customer_id}: social value {money} by component", cur)
