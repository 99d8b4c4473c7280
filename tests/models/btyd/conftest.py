"""Shared fixtures of the BTYD tests: the published CDNOW calibration summary and parameter transplants."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from socialvalue.models.btyd import BTYDModel

_SUMMARY = Path(__file__).resolve().parents[2] / "data" / "cdnow" / "cdnow_summary_calibration.csv"


@pytest.fixture(scope="session")
def cdnow() -> pd.DataFrame:
    """The papers' CDNOW calibration summary (Fader, Hardie & Lee 2005): 2,357 customers, 39 weeks."""
    return pd.read_csv(_SUMMARY).rename(
        columns={"x": "frequency", "t_x": "recency", "zbar": "monetary_value"}
    )


def _with_params(model: BTYDModel, params: Mapping[str, float]) -> BTYDModel:
    """A copy of a fitted ``model`` carrying other parameter values (e.g. lifetimes'), for prediction parity."""
    m = type(model).from_json(model.to_json())
    m._set_fitted(
        params=np.array([params[name] for name in model._param_names], dtype=float),
        cov_log=model._cov_log_,
        log_likelihood=model.log_likelihood_,
        n_obs=model.n_obs_,
        n_unique=model.n_unique_,
        n_iter=0,
    )
    return m


@pytest.fixture(scope="session")
def with_params() -> Callable[[BTYDModel, Mapping[str, float]], BTYDModel]:
    """``with_params(fitted_model, {"r": ..., ...})``: the model at other parameter values."""
    return _with_params
