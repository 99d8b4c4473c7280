r"""The BTYD models on Spark: sufficient statistics aggregated in Spark, fitted on the driver, scored in parallel.

The purchase models' likelihoods depend on a customer only through ``(frequency, recency, T)``
(:math:`x, t_x, T`): the BG/NBD's (Fader, Hardie & Lee 2005, eq. 6), the MBG/NBD's (Batislam, Denizel &
Filiztekin 2007) and the Pareto/NBD's (Schmittlein, Morrison & Colombo 1987; Fader & Hardie 2005, eq. 18)
log-likelihoods are sums over customers of a term of these three numbers, so

.. math:: \ell(\theta) = \sum_i \ell(\theta; x_i, t_{x,i}, T_i) = \sum_g n_g\, \ell(\theta; x_g, t_{x,g}, T_g)

over the unique triples :math:`g` with their counts :math:`n_g`. Likewise the Gamma-Gamma spend model's
(Fader, Hardie & Lee 2005, "RFM and CLV", eq. 3) depends on a repeat buyer only through ``(frequency,
monetary_value)``. Spark aggregates those (a ``groupBy`` with a count), the driver receives one row per
pattern instead of one per customer, and the same ladders
(:func:`~socialvalue.models.btyd.ladder.fit_purchase_ladder`, :func:`~socialvalue.models.btyd.ladder.
fit_spend_ladder`) fit the same estimators on them with ``weights`` (a model's ``fit`` collapses rows to unique
patterns with summed weights in any case). The holdout comparison ranks the candidates by errors over
customers: the calibration statistics also group by ``(holdout_duration, holdout_transactions)``, which is
what a customer's holdout error depends on, and the errors are weighted by the counts.

The patterns come in the order of their first customer (the smallest ``customer_id`` of each), the order in
which a per-customer feature table (ordered by ``customer_id``) first shows them. A model's ``fit`` numbers the
unique patterns by first appearance, so it sees the same patterns in the same order with the same summed
counts, and the purchase models' parameters equal the per-customer fit's bit for bit. The Gamma-Gamma's agree
to about 1e-12 relative (the demo shop, CDNOW): its fit sums :math:`\ln \bar z` over the rows it is given, and
:math:`n_g \ln \bar z_g` rounds differently from :math:`n_g` separate terms, which moves where Newton's method
stops by as much; the delta-method CLV bounds, taken by forward differences, amplify that to about 1e-10.

Scoring needs every customer's own row: :func:`value_frame` applies
:func:`~socialvalue.models.btyd.valuation.value_customers` to the Arrow batches of the partitions with
``DataFrame.mapInPandas`` (:func:`map_frames`), vectorised within each batch; the fitted models travel to the
executors in the function's closure (plain Python objects, pickled).

>>> stats = purchase_statistics(features)                                       # doctest: +SKIP
>>> cal_fit, now_fit, comparison = fit_purchase(features_cal, features, cands)  # doctest: +SKIP
>>> spend_fit = fit_spend(features)                                             # doctest: +SKIP
>>> values = value_frame(features, now_fit, spend_fit, margin=0.3, annual_rate=0.1, unit_days=7.0,
...                      horizon_periods=None, forecast_periods=26.0)           # doctest: +SKIP

References
----------
.. [1] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy way: an
   alternative to the Pareto/NBD model. *Marketing Science* 24(2), 275-284.
.. [2] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: using iso-value curves for customer
   base analysis. *Journal of Marketing Research* 42(4), 415-430.
.. [3] Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987). Counting your customers: who are they and
   what will they do next? *Management Science* 33(1), 1-24.
.. [4] Batislam, E. P., Denizel, M. & Filiztekin, A. (2007). Empirical validation and comparison of models for
   customer base analysis. *International Journal of Research in Marketing* 24(3), 201-209.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from socialvalue.errors import SchemaError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pyspark.sql import Column, DataFrame

    from socialvalue.models.btyd.ladder import LadderFit

__all__ = [
    "HOLDOUT_COLUMNS",
    "PURCHASE_COLUMNS",
    "SPEND_COLUMNS",
    "VALUE_SCHEMA",
    "WEIGHTS",
    "buyers",
    "fit_purchase",
    "fit_spend",
    "map_frames",
    "purchase_statistics",
    "spend_statistics",
    "value_frame",
]

#: The purchase models' sufficient statistics per customer.
PURCHASE_COLUMNS = ("frequency", "recency", "T")
#: What a customer's holdout error depends on besides them (the ladder's comparison).
HOLDOUT_COLUMNS = ("holdout_duration", "holdout_transactions")
#: The Gamma-Gamma's sufficient statistics, as :func:`~socialvalue.models.btyd.ladder.spend_frame` makes them.
SPEND_COLUMNS = ("frequency", "monetary_value")
#: The column of customer counts in the statistics (the ladders' ``weights``).
WEIGHTS = "n"
#: The shrunk-mean fallback's columns (of :func:`~socialvalue.models.btyd.ladder.spend_frame`).
_SHRUNK_COLUMNS = ("n_orders", "mean_order_value")
#: Feature columns :func:`value_frame` sends to the executors (those the frame has).
_VALUE_INPUTS = (
    "customer_id",
    "frequency",
    "recency",
    "T",
    "n_periods",
    "monetary_value",
    "n_orders",
    "mean_spend",
)
#: The columns of :func:`value_frame` (those of ``value_customers(...).frame``), as a Spark DDL schema.
VALUE_SCHEMA = (
    "customer_id string, p_alive double, expected_transactions double, expected_spend double, clv double, "
    "clv_lower double, clv_upper double"
)
_FIRST = "_sv_first_customer"


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _require(features: DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in features.columns]
    if missing:
        raise SchemaError(
            f"the {what} need the feature column(s) {', '.join(missing)}; got {', '.join(features.columns)}",
            [{"column": c, "expected": "present"} for c in missing],
        )


def buyers(features: DataFrame) -> DataFrame:
    """The rows of customers with a purchase (``frequency`` not NULL), as :func:`~socialvalue.pipeline.stage_clv.buyers`."""
    from pyspark.sql import functions as F

    _require(features, ["frequency"], "buyers")
    return features.where(F.col("frequency").isNotNull())


def _statistics(rows: DataFrame, keys: Mapping[str, Column]) -> pd.DataFrame:
    """``rows`` grouped by the ``keys`` expressions with their counts, on the driver, by first customer."""
    from pyspark.sql import functions as F

    from socialvalue.spark.engine import _duckdb_types
    from socialvalue.store import arrow_to_pandas

    grouped = (
        rows.select(F.col("customer_id"), *(expr.alias(name) for name, expr in keys.items()))
        .groupBy(*(_quoted(name) for name in keys))
        .agg(F.count(F.lit(1)).alias(WEIGHTS), F.min("customer_id").alias(_FIRST))
        .orderBy(_FIRST)
        .drop(_FIRST)
    )
    return arrow_to_pandas(_duckdb_types(grouped.toArrow()))


def purchase_statistics(features: DataFrame, *, holdout: bool = False) -> pd.DataFrame:
    r"""The buyers' unique ``(frequency, recency, T)`` patterns with their counts, aggregated in Spark.

    Parameters
    ----------
    features
        A feature table (:meth:`~socialvalue.spark.engine.SparkEngine.dataframe` of the feature query): one row
        per customer with ``customer_id``, ``frequency``, ``recency`` and ``T``. Customers without a purchase
        (``frequency`` NULL) are left out, as the models' ``fit`` leaves them out.
    holdout
        Also group by ``holdout_duration`` and ``holdout_transactions`` (a calibration table's targets), so the
        ladder's holdout comparison can weigh each customer's error.

    Returns
    -------
    pandas.DataFrame
        One row per pattern: the key columns in their feature types and ``n`` (int64, customers), ordered by
        each pattern's first ``customer_id`` (see the module docstring); the dtypes the DuckDB engine's frames
        have. :math:`\sum n` is the number of buyers.

    Raises
    ------
    SchemaError
        If a column is missing.
    """
    from pyspark.sql import functions as F

    keys = (*PURCHASE_COLUMNS, *(HOLDOUT_COLUMNS if holdout else ()))
    _require(features, ["customer_id", *keys], "purchase statistics")
    return _statistics(buyers(features), {k: F.col(_quoted(k)) for k in keys})


def _spend_column(name: str) -> Column:
    """One column of :func:`~socialvalue.models.btyd.ladder.spend_frame` as a Spark expression."""
    from pyspark.sql import functions as F

    if name == "mean_order_value":  # a finite positive mean order value, else NaN (NULL here)
        mean = F.col("mean_spend").cast("double")
        finite = ~F.isnan(mean) & (F.abs(mean) < float("inf"))
        return F.when(finite & (mean > 0), mean)
    source = F.col(_quoted(name)).cast("double")
    return F.coalesce(F.when(~F.isnan(source), source), F.lit(0.0))


def spend_statistics(features: DataFrame, columns: Sequence[str] = SPEND_COLUMNS) -> pd.DataFrame:
    """The buyers' unique spend patterns with their counts, aggregated in Spark.

    Parameters
    ----------
    features
        A feature table with ``customer_id``, ``frequency`` and the columns ``spend_frame`` reads.
    columns
        Columns of :func:`~socialvalue.models.btyd.ladder.spend_frame` to group by, computed as it computes
        them (doubles, a missing value as 0; ``mean_order_value`` is ``mean_spend`` when finite and positive,
        else NaN): ``("frequency", "monetary_value")`` for the Gamma-Gamma (the default), ``("n_orders",
        "mean_order_value")`` for the shrunk-mean fallback.

    Returns
    -------
    pandas.DataFrame
        One row per pattern with ``n`` (int64, buyers), ordered by first ``customer_id``.

    Raises
    ------
    SchemaError
        If a column is missing or ``columns`` names one ``spend_frame`` does not make.
    """
    made = (*SPEND_COLUMNS, *_SHRUNK_COLUMNS)
    unknown = [c for c in columns if c not in made]
    if unknown or not columns:
        raise SchemaError(
            f"spend statistics group by columns of spend_frame ({', '.join(made)}), got {columns}"
        )
    sources = ["mean_spend" if c == "mean_order_value" else c for c in columns]
    _require(features, ["customer_id", "frequency", *sources], "spend statistics")
    return _statistics(buyers(features), {c: _spend_column(c) for c in columns})


def fit_purchase(
    calibration: DataFrame,
    current: DataFrame,
    candidates: Mapping[str, Callable[[], Any]],
    *,
    metric: str = "mae",
    horizon: float = 1.0,
) -> tuple[LadderFit, LadderFit, pd.DataFrame | None]:
    """:func:`~socialvalue.models.btyd.ladder.fit_purchase_ladder` on the statistics Spark aggregates.

    Parameters
    ----------
    calibration
        Feature table at the calibration end, with ``holdout_duration`` and ``holdout_transactions``.
    current
        Feature table at ``as_of``.
    candidates, metric, horizon
        As for :func:`~socialvalue.models.btyd.ladder.fit_purchase_ladder`.

    Returns
    -------
    (LadderFit, LadderFit, pandas.DataFrame or None)
        What the ladder returns on the per-customer buyers of both tables (the same models, parameters,
        rungs, ranks and holdout errors; see the module docstring).
    """
    from socialvalue.models.btyd.ladder import fit_purchase_ladder

    holdout = all(c in calibration.columns for c in HOLDOUT_COLUMNS)
    return fit_purchase_ladder(
        purchase_statistics(calibration, holdout=holdout),
        purchase_statistics(current),
        candidates,
        metric=metric,
        horizon=horizon,
        weights=WEIGHTS,
    )


def fit_spend(features: DataFrame, **ladder: Any) -> LadderFit:
    """:func:`~socialvalue.models.btyd.ladder.fit_spend_ladder` on the statistics Spark aggregates.

    The Gamma-Gamma rungs are fitted on the ``(frequency, monetary_value)`` patterns; the shrunk-mean rung,
    when reached, on the ``(n_orders, mean_order_value)`` patterns, aggregated only then.

    Parameters
    ----------
    features
        Buyers' feature table (customers without a purchase are left out here).
    **ladder
        The ladder's settings (``penalizer``, ``fallback_penalizer``, ``degenerate_shape``,
        ``shrinkage_orders``, ``mean_tolerance``).

    Returns
    -------
    LadderFit
        What the ladder returns on ``spend_frame`` of the per-customer buyers.
    """
    from socialvalue.models.btyd.ladder import fit_spend_ladder

    return fit_spend_ladder(
        spend_statistics(features),
        weights=WEIGHTS,
        fallback=lambda: spend_statistics(features, _SHRUNK_COLUMNS),
        **ladder,
    )


def map_frames(df: DataFrame, fn: Callable[[pd.DataFrame], pd.DataFrame], schema: Any) -> DataFrame:
    """``fn`` applied to the Arrow batches of ``df``'s partitions as pandas frames, on the executors.

    A per-customer function (:data:`socialvalue.pipeline.batches.BatchFunction`: customers' rows in, one row
    per customer out, in order) becomes a distributed one through ``DataFrame.mapInPandas``. A batch holds at
    most ``spark.sql.execution.arrow.maxRecordsPerBatch`` rows (10,000 by default), which bounds a worker's
    memory; empty batches are skipped. ``fn`` and what it refers to are pickled to the executors.

    Parameters
    ----------
    df
        The rows.
    fn
        Batch function; it must return the columns of ``schema`` (by name), in types Arrow casts to them.
    schema
        The result's schema: a ``pyspark.sql.types.StructType`` or a DDL string (``"id string, x double"``).

    Returns
    -------
    pyspark.sql.DataFrame
        Lazy; one row per row of ``df`` for a per-customer ``fn``.
    """

    def mapped(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for frame in frames:
            if len(frame):
                yield fn(frame)

    return df.mapInPandas(mapped, schema)


def value_frame(
    features: DataFrame,
    purchase_fit: LadderFit,
    spend_fit: LadderFit,
    *,
    margin: float,
    annual_rate: float,
    unit_days: float,
    horizon_periods: int | None,
    forecast_periods: float,
    interval: float | None = 0.9,
) -> DataFrame:
    r"""Each buyer's P(alive), expected purchases, expected spend and CLV, computed on the executors.

    :func:`~socialvalue.models.btyd.valuation.value_customers` on every Arrow batch (see :func:`map_frames`):
    :math:`\mathrm{CLV}_i = \text{margin}\times E[Z_i]\times \mathrm{DT}_i` with the spend model's expected
    order value and the purchase model's discounted expected transactions (Fader, Hardie & Lee 2005, "RFM and
    CLV", eq. 5, or over ``horizon_periods``), each row on its own, so the values are those of one call on
    all the rows.

    Parameters
    ----------
    features
        Buyers' feature table at ``as_of`` (``customer_id``, ``frequency``, ``recency``, ``T``,
        ``monetary_value``, ``n_orders``, ``mean_spend``); only these columns (and ``n_periods``) are sent to
        the workers. Pass :func:`buyers` of a whole table: every row is valued.
    purchase_fit, spend_fit
        The ladders' fits (:func:`fit_purchase`, :func:`fit_spend`, or stored models), shipped to the
        executors in the closure.
    margin, annual_rate, unit_days, horizon_periods, forecast_periods, interval
        As for :func:`~socialvalue.models.btyd.valuation.value_customers`.

    Returns
    -------
    pyspark.sql.DataFrame
        Lazy, with the columns of :data:`VALUE_SCHEMA` (those of ``value_customers(...).frame``: customer_id,
        p_alive, expected_transactions, expected_spend, clv, clv_lower, clv_upper), one row per row of
        ``features``.
    """
    from socialvalue.models.btyd.valuation import value_customers

    _require(features, [c for c in _VALUE_INPUTS if c != "n_periods"], "valuation")
    settings = {
        "margin": margin,
        "annual_rate": annual_rate,
        "unit_days": unit_days,
        "horizon_periods": horizon_periods,
        "forecast_periods": forecast_periods,
        "interval": interval,
    }

    def value(batch: pd.DataFrame) -> pd.DataFrame:
        return value_customers(purchase_fit, spend_fit, batch, **settings).frame

    inputs = features.select(*(_quoted(c) for c in _VALUE_INPUTS if c in features.columns))
    return map_frames(inputs, value, VALUE_SCHEMA)
