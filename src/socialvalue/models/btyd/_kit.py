"""Small helpers shared by the Pareto/NBD and BG/BB models: prediction output, argument checks, RNG."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from socialvalue.errors import ConfigError
from socialvalue.models.btyd._base import BTYDModel, IntervalMethod, Link


def rng_of(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A generator from a seed (or the generator itself)."""
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def check_time(t: Any, name: str = "t") -> np.ndarray:
    """``t`` as a float array, refusing negative or non-finite horizons."""
    arr = np.asarray(t, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ConfigError(f"prediction horizon {name} must be finite and >= 0, got {t!r}")
    return arr


def check_rate(rate: float) -> float:
    """A finite positive discount rate."""
    if not (np.isfinite(rate) and rate > 0):
        raise ConfigError(f"discount_rate must be a finite number > 0, got {rate!r}")
    return float(rate)


def check_counts(n: Any, name: str = "n") -> np.ndarray:
    """Non-negative whole numbers as a float array."""
    arr = np.atleast_1d(np.asarray(n, dtype=np.float64))
    if np.any(~np.isfinite(arr)) or np.any(arr < 0) or np.any(arr != np.rint(arr)):
        raise ConfigError(f"{name} must be non-negative whole numbers, got {n!r}")
    return arr


def predict(
    model: BTYDModel,
    fn: Callable[[np.ndarray], np.ndarray],
    inverse: np.ndarray | None,
    index: pd.Index,
    name: str,
    interval: float | None,
    link: Link,
    interval_method: IntervalMethod,
    n_draws: int,
    seed: int | None,
) -> pd.Series | pd.DataFrame:
    """Evaluate ``fn`` at the fitted parameters (with an optional interval) and map patterns back to rows."""

    def take(v: np.ndarray) -> np.ndarray:
        return v if inverse is None else v[inverse]

    if interval is None:
        return model._output(take(np.asarray(fn(model._theta))), index, name)
    est, lo, hi = model._interval(fn, interval, link=link, method=interval_method, n_draws=n_draws, seed=seed)
    attrs = {"level": interval, "method": interval_method}
    return model._output(take(est), index, name, take(lo), take(hi), attrs)


def expm1_ratio(c: np.ndarray, u: np.ndarray) -> np.ndarray:
    """:math:`(1 - e^{-c u}) / c`, with its limit ``u`` at ``c = 0`` (no cancellation for small ``c``)."""
    c = np.asarray(c, dtype=np.float64)
    safe = np.where(c == 0, 1.0, c)
    return np.where(c == 0, u, -np.expm1(-c * u) / safe)
